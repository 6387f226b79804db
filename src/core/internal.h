/* Internal helpers shared by henn modules (never installed). */
#ifndef HENN_CORE_INTERNAL_H
#define HENN_CORE_INTERNAL_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"

/* Wipe the limbs of x (all allocated limbs), then mpz_clear it. */
void henn__mpz_wipe_clear(mpz_t x);
/* Wipe the limbs of x and set it to 0, keeping it initialised. */
void henn__mpz_wipe(mpz_t x);

/* x = uniform integer in [0, 2^bits) from the OS CSPRNG. */
int henn__mpz_random_bits(mpz_t x, size_t bits);
/* x = uniform integer in [0, bound), bound > 0 (rejection sampling). */
int henn__mpz_random_below(mpz_t x, const mpz_t bound);
/* x = uniform unit of Z*_n in [1, n). */
int henn__mpz_random_unit(mpz_t x, const mpz_t n);

/*
 * Parallel loop: calls fn(ctx, begin, end) on disjoint chunks covering
 * [0, count) from `threads` threads (0: online CPUs; the caller is one of
 * them). Returns the first nonzero value fn returned, else 0; after an error
 * the remaining chunks are skipped. progress (may be NULL) is called from
 * the calling thread.
 */
typedef int (*henn__chunk_fn)(void *ctx, size_t begin, size_t end);
int henn__parallel_for(size_t count, const henn_batch_opts *opts, henn__chunk_fn fn, void *ctx);

/*
 * Overwrite the 32 KiB of stack below the caller's frame with zeros: call it
 * after secret-key arithmetic, whose callees (GMP's alloca scratch, spilled
 * vector registers of the IFMA code) leave secret-derived values in stack
 * memory that is no longer in use. Registers are not cleared.
 */
void henn__burn_stack(void);

/* Number of online CPUs (at least 1). */
unsigned henn__cpu_count(void);

/*
 * Seeded deterministic stream for machine learning (weight initialisation,
 * shuffling, subsets): ChaCha20 keyed with SHA-256(seed, stream). Never
 * used for keys, masks or encryption randomness, which come from
 * henn_random_bytes().
 */
typedef struct henn__prng {
    uint8_t key[32];
    uint64_t block;
    uint8_t buf[512];
    size_t pos;
} henn__prng;
void henn__prng_init(henn__prng *r, uint64_t seed, uint64_t stream);
uint64_t henn__prng_u64(henn__prng *r);
/* Uniform in [0, n), n > 0 (rejection, no modulo bias). */
uint64_t henn__prng_below(henn__prng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double henn__prng_uniform(henn__prng *r);
/* Standard normal (Box-Muller). */
double henn__prng_normal(henn__prng *r);

#endif
