/*
 * 64-bit modular arithmetic for CKKS (internal, static inline).
 *
 * Every modulus is an odd prime q < 2^61, so 4q < 2^63 and the lazy ranges
 * [0, 2q) and [0, 4q) used by the NTT fit in a word with the top bit clear.
 * Products go through unsigned __int128 (64 x 64 -> 128-bit multiply).
 *
 * Two reductions:
 *  - Barrett (henn__ckks_mod): ratio = floor(2^128 / q), for products of
 *    two variable operands (henn__ckks_mul_mod) and 128-bit sums.
 *  - Shoup: for a fixed operand w (twiddles, key constants) precompute
 *    w' = floor(w * 2^64 / q) once (henn__ckks_shoup); x * w mod q then
 *    costs one high and two low multiplications.
 *
 * Timing: no branches and no table lookups on the operands (conditional
 * subtractions use masks), except henn__ckks_pow_mod's loop over the bits
 * of the exponent, which is public. Inputs outside the stated ranges give
 * wrong results, not undefined behaviour.
 */
#ifndef HENN_CKKS_MODARITH_H
#define HENN_CKKS_MODARITH_H

#include <stdint.h>

#include "ckks/ckks_internal.h"

__extension__ typedef unsigned __int128 henn__u128;

/* All-ones if x has its top bit set, else 0. */
static inline uint64_t henn__ckks_mask_top(uint64_t x)
{
    return (uint64_t)0 - (x >> 63);
}

/* x - q if x >= q, else x. x < 2q, q < 2^63. Result in [0, q). */
static inline uint64_t henn__ckks_csub(uint64_t x, uint64_t q)
{
    uint64_t d = x - q;
    return d + (q & henn__ckks_mask_top(d));
}

/* (a + b) mod q for a, b in [0, q), q < 2^63. Result in [0, q). */
static inline uint64_t henn__ckks_add_mod(uint64_t a, uint64_t b, uint64_t q)
{
    return henn__ckks_csub(a + b, q);
}

/* (a - b) mod q for a, b in [0, q), q < 2^63. Result in [0, q). */
static inline uint64_t henn__ckks_sub_mod(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t d = a - b;
    return d + (q & henn__ckks_mask_top(d));
}

/* (-a) mod q for a in [0, q). Result in [0, q) (0 maps to 0). */
static inline uint64_t henn__ckks_neg_mod(uint64_t a, uint64_t q)
{
    uint64_t nz = (uint64_t)0 - (uint64_t)(a != 0);
    return (q - a) & nz;
}

/* Fill m for prime q (odd, 2 < q < 2^61): ratio = floor(2^128 / q), bits =
 * bit length of q. */
static inline void henn__ckks_mod_init(henn__ckks_mod *m, uint64_t q)
{
    /* q odd does not divide 2^128, so floor(2^128/q) = floor((2^128-1)/q) */
    henn__u128 r = ~(henn__u128)0 / q;
    m->q = q;
    m->ratio[0] = (uint64_t)r;
    m->ratio[1] = (uint64_t)(r >> 64);
    m->bits = 64 - __builtin_clzll(q);
    m->mu = (uint64_t)(((henn__u128)1 << (2 * m->bits)) / q);
}

/*
 * Barrett reduction of any 128-bit z: z mod q in [0, q). The quotient
 * estimate floor(z * ratio / 2^128) is computed exactly and is at most one
 * below floor(z / q), so one masked subtraction finishes.
 */
static inline uint64_t henn__ckks_reduce_128(henn__u128 z, const henn__ckks_mod *m)
{
    uint64_t z0 = (uint64_t)z, z1 = (uint64_t)(z >> 64);
    uint64_t r0 = m->ratio[0], r1 = m->ratio[1];
    henn__u128 t = ((henn__u128)z0 * r0) >> 64;
    henn__u128 m1 = (henn__u128)z0 * r1;
    henn__u128 m2 = (henn__u128)z1 * r0;
    henn__u128 s = t + (uint64_t)m1 + (uint64_t)m2; /* < 3 * 2^64 */
    uint64_t qhat = z1 * r1 + (uint64_t)(m1 >> 64) + (uint64_t)(m2 >> 64) + (uint64_t)(s >> 64);
    uint64_t r = z0 - qhat * m->q; /* in [0, 2q) */
    return henn__ckks_csub(r, m->q);
}

/*
 * Shifted Barrett reduction (HAC 14.42 with base 2) of z < 2^(2 bits + 1),
 * e.g. a product of two values below q or the sum of two such products:
 * z mod q in [0, q). With b = bits, mu = floor(2^(2b) / q) < 2^(b+1): the
 * quotient estimate ((z >> (b - 1)) mu) >> (b + 1) is at most
 * z / 2^(2b) + 2 < 4 below floor(z / q), so the remainder is below 4q <
 * 2^63 and two masked subtractions (2q, then q) finish. One 128-bit product
 * instead of the three of henn__ckks_reduce_128.
 */
static inline uint64_t henn__ckks_reduce_sq(henn__u128 z, const henn__ckks_mod *m)
{
    uint64_t q1 = (uint64_t)(z >> (m->bits - 1));
    uint64_t q3 = (uint64_t)(((henn__u128)q1 * m->mu) >> (m->bits + 1));
    uint64_t r = (uint64_t)z - q3 * m->q; /* in [0, 4q) */
    return henn__ckks_csub(henn__ckks_csub(r, 2 * m->q), m->q);
}

/* a * b mod q in [0, q) for a, b in [0, q) (henn__ckks_reduce_sq). */
static inline uint64_t henn__ckks_mul_mod_sq(uint64_t a, uint64_t b, const henn__ckks_mod *m)
{
    return henn__ckks_reduce_sq((henn__u128)a * b, m);
}

/*
 * Barrett reduction of any 64-bit x: x mod q in [0, q) (uses only
 * ratio[1] = floor(2^64 / q)).
 */
static inline uint64_t henn__ckks_reduce_64(uint64_t x, const henn__ckks_mod *m)
{
    uint64_t qhat = (uint64_t)(((henn__u128)x * m->ratio[1]) >> 64);
    return henn__ckks_csub(x - qhat * m->q, m->q);
}

/* a * b mod q for any a, b with a * b < 2^128 (e.g. a, b < 4q). Result in
 * [0, q). */
static inline uint64_t henn__ckks_mul_mod(uint64_t a, uint64_t b, const henn__ckks_mod *m)
{
    return henn__ckks_reduce_128((henn__u128)a * b, m);
}

/* Shoup constant floor(w * 2^64 / q) for w in [0, q). */
static inline uint64_t henn__ckks_shoup(uint64_t w, uint64_t q)
{
    return (uint64_t)(((henn__u128)w << 64) / q);
}

/*
 * x * w mod q, lazily: any 64-bit x, w in [0, q), ws = henn__ckks_shoup(w,
 * q). Result in [0, 2q) and congruent to x * w.
 */
static inline uint64_t henn__ckks_mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t ws, uint64_t q)
{
    uint64_t hq = (uint64_t)(((henn__u128)x * ws) >> 64);
    return x * w - hq * q;
}

/* x * w mod q in [0, q): any 64-bit x, w in [0, q), ws its Shoup constant. */
static inline uint64_t henn__ckks_mul_shoup(uint64_t x, uint64_t w, uint64_t ws, uint64_t q)
{
    return henn__ckks_csub(henn__ckks_mul_shoup_lazy(x, w, ws, q), q);
}

/* a^e mod q for a in [0, q) (any 64-bit a is reduced first); e is public.
 * pow(0, 0) = 1. Result in [0, q). */
static inline uint64_t henn__ckks_pow_mod(uint64_t a, uint64_t e, const henn__ckks_mod *m)
{
    uint64_t r = 1 % m->q, b = henn__ckks_reduce_64(a, m);
    while (e != 0) {
        uint64_t p = henn__ckks_mul_mod(r, b, m);
        uint64_t bit = (uint64_t)0 - (e & 1);
        r = (p & bit) | (r & ~bit);
        b = henn__ckks_mul_mod(b, b, m);
        e >>= 1;
    }
    return r;
}

/* a^-1 mod q by Fermat (a^(q-2)); q prime, a in [1, q). Returns 0 for a = 0. */
static inline uint64_t henn__ckks_inv_mod(uint64_t a, const henn__ckks_mod *m)
{
    return henn__ckks_pow_mod(a, m->q - 2, m);
}

#endif
