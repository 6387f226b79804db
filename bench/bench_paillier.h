/* Paillier benchmark, shared by `henn bench paillier` and bench/bench_paillier_main.c. */
#ifndef HENN_BENCH_PAILLIER_H
#define HENN_BENCH_PAILLIER_H

#include <stddef.h>

typedef struct {
    size_t n_bits;   /* modulus size (2048 default) */
    unsigned threads; /* threads for the batch measurements (0 = all cores) */
    int json;        /* JSON lines instead of a table */
    double seconds;  /* minimum time per measurement */
    int insecure;    /* allow n < 2048 (quick runs in tests) */
} henn_bench_config;

/* Runs every measurement and prints one line per result. Returns 0 or a
 * HENN_E* code. */
int henn_bench_paillier(const henn_bench_config *cfg);

#endif
