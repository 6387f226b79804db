/* CKKS benchmark, run by `henn bench ckks`. */
#ifndef HENN_BENCH_CKKS_H
#define HENN_BENCH_CKKS_H

typedef struct {
    int json;          /* JSON lines instead of a table */
    int quick;         /* a few iterations per op (tests), precision still measured */
    double seconds;    /* minimum time per op (default 0.3) */
    const char *only;  /* "A", "B", "C" or "D": one configuration (NULL: all) */
} henn_bench_ckks_config;

/* Runs the configurations of docs/CKKS.md (A: N = 8192 {60,40,40,60} 2^40,
 * B: N = 16384 {60,40x7,60} 2^40, C: N = 8192 {40,21x6,40} 2^21,
 * D: N = 4096 {40,20,40} 2^20): one line per op with the median time, SEAL
 * 4.4.3's figure for the same op and the ratio, then a precision line.
 * Returns 0 or a HENN_E* code. */
int henn_bench_ckks(const henn_bench_ckks_config *cfg);

#endif
