/* FE benchmark, run by `henn bench fe`. */
#ifndef HENN_BENCH_FE_H
#define HENN_BENCH_FE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int json;            /* JSON lines instead of a table */
    size_t n;            /* vector length (default 784) */
    uint64_t table_size; /* baby-step table T (default 2^20) */
    int reps;            /* repetitions per op (default 20) */
} henn_bench_fe_config;

/* FEIP at length n, |x_i| <= 255, Y = 2^32 / (255 n), result bound B = 2^32:
 * encrypt (fixed-base tables) against encrypt without them, decrypt (MSM +
 * persistent table) against naive per-term scalar multiplication, the
 * per-ciphertext precomputation and decryption with it (alone and amortised
 * over 128 keys), key derivation, the discrete log at |v| ~ 2^20, 2^26 and 2^32, and the table
 * build; one line per op with the median us, the in-run baseline ratio and
 * the anchors of docs (CiFEr 1.40 s / 150-400 ms at n = 784). Returns 0 or a
 * HENN_E* code. */
int henn_bench_fe(const henn_bench_fe_config *cfg);

#endif
