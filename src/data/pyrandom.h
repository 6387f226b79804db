/*
 * MT19937 with the seeding and bounded-integer rules of numpy's legacy
 * RandomState and of CPython's random module, so that henn can reproduce
 * data preparation done in Python (the Framingham split of TenSEAL's
 * tutorial) bit for bit. Never used for anything secret.
 */
#ifndef HENN_DATA_PYRANDOM_H
#define HENN_DATA_PYRANDOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct henn__mt19937 {
    uint32_t mt[624];
    size_t mti;
} henn__mt19937;

/* numpy RandomState(seed): Matsumoto-Nishimura init_genrand. */
void henn__mt_seed_numpy(henn__mt19937 *r, uint32_t seed);
/* CPython random.seed(seed) for 0 <= seed < 2^32: init_by_array([seed]). */
void henn__mt_seed_python(henn__mt19937 *r, uint32_t seed);
uint32_t henn__mt_u32(henn__mt19937 *r);

/* numpy RandomState.permutation(n) (legacy shuffle with masked rejection):
 * out[0..n-1]. */
void henn__numpy_permutation(size_t *out, size_t n, henn__mt19937 *r);
/* CPython random.shuffle(x) on x[0..n-1] (getrandbits rejection). */
void henn__python_shuffle(size_t *x, size_t n, henn__mt19937 *r);

#endif
