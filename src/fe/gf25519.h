/*
 * gf25519.h: arithmetic in GF(2^255 - 19) on libdecaf's limbs (internal).
 *
 * Five unsigned 51-bit limbs, the representation of libdecaf 1.0's x86-64
 * build (gf_25519_s: limb[5] of 64 bits). Only what src/fe/ needs: carry,
 * multiply, square, invert, freeze, compare, add and subtract. Inputs of
 * fe_mul and fe_sq may have limbs up to 2^54; fe_mul's output limbs are below 2^52; fe_add and
 * fe_sub take fe_mul outputs (their results stay below 2^54). Constant time
 * except fe_eq's memcmp (used on public values only).
 *
 * Reading and writing libdecaf's limbs is only done after
 * henn__fe_layout_ok() (dlog.c) accepted the build: see fe_internal.h.
 */
#ifndef HENN_FE_GF25519_H
#define HENN_FE_GF25519_H

#include <stdint.h>
#include <string.h>

#include "fe/fe_internal.h"

__extension__ typedef unsigned __int128 u128;

#define M51 ((uint64_t)0x7ffffffffffff)

typedef struct {
    uint64_t v[5];
} fe25519;

/* Carry a field element with limbs < 2^63 to limbs < 2^51 (+ small in v[1]). */
static inline void fe_carry(fe25519 *a)
{
    uint64_t c;
    for (int i = 0; i < 4; i++) {
        c = a->v[i] >> 51;
        a->v[i] &= M51;
        a->v[i + 1] += c;
    }
    c = a->v[4] >> 51;
    a->v[4] &= M51;
    a->v[0] += 19 * c;
    c = a->v[0] >> 51;
    a->v[0] &= M51;
    a->v[1] += c;
}

static inline void fe_load(fe25519 *r, const gf_25519_s *g)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = g->limb[i];
    fe_carry(r);
}

static inline void fe_mul(fe25519 *r, const fe25519 *a, const fe25519 *b)
{
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t b0 = b->v[0], b1 = b->v[1], b2 = b->v[2], b3 = b->v[3], b4 = b->v[4];
    const uint64_t b1t = 19 * b1, b2t = 19 * b2, b3t = 19 * b3, b4t = 19 * b4;
    u128 r0 = (u128)a0 * b0 + (u128)a1 * b4t + (u128)a2 * b3t + (u128)a3 * b2t + (u128)a4 * b1t;
    u128 r1 = (u128)a0 * b1 + (u128)a1 * b0 + (u128)a2 * b4t + (u128)a3 * b3t + (u128)a4 * b2t;
    u128 r2 = (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0 + (u128)a3 * b4t + (u128)a4 * b3t;
    u128 r3 = (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0 + (u128)a4 * b4t;
    u128 r4 = (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0;
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    u128 t = (u128)((uint64_t)r0 & M51) + (u128)(uint64_t)(r4 >> 51) * 19;
    r->v[0] = (uint64_t)t & M51;
    r->v[1] = ((uint64_t)r1 & M51) + (uint64_t)(t >> 51);
    r->v[2] = (uint64_t)r2 & M51;
    r->v[3] = (uint64_t)r3 & M51;
    r->v[4] = (uint64_t)r4 & M51;
}

/* r = a^2 (15 products instead of 25; same bounds as fe_mul). */
static inline void fe_sq(fe25519 *r, const fe25519 *a)
{
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t d0 = 2 * a0, d1 = 2 * a1, d2 = 38 * a2, d4 = 38 * a4, a3t = 19 * a3,
                   a4t = 19 * a4;
    u128 r0 = (u128)a0 * a0 + (u128)d4 * a1 + (u128)d2 * a3;
    u128 r1 = (u128)d0 * a1 + (u128)d4 * a2 + (u128)a3 * a3t;
    u128 r2 = (u128)d0 * a2 + (u128)a1 * a1 + (u128)d4 * a3;
    u128 r3 = (u128)d0 * a3 + (u128)d1 * a2 + (u128)a4 * a4t;
    u128 r4 = (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2;
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    u128 t = (u128)((uint64_t)r0 & M51) + (u128)(uint64_t)(r4 >> 51) * 19;
    r->v[0] = (uint64_t)t & M51;
    r->v[1] = ((uint64_t)r1 & M51) + (uint64_t)(t >> 51);
    r->v[2] = (uint64_t)r2 & M51;
    r->v[3] = (uint64_t)r3 & M51;
    r->v[4] = (uint64_t)r4 & M51;
}

static inline void fe_sqn(fe25519 *r, const fe25519 *a, int n)
{
    fe_sq(r, a);
    for (int i = 1; i < n; i++)
        fe_sq(r, r);
}

/* r = a^(p - 2) (the ref10 addition chain). */
static inline void fe_invert(fe25519 *r, const fe25519 *z)
{
    fe25519 z2, z9, z11, z5, z10, z20, z50, z100, t;
    fe_sqn(&z2, z, 1);
    fe_sqn(&t, &z2, 2);
    fe_mul(&z9, &t, z);
    fe_mul(&z11, &z9, &z2);
    fe_sqn(&t, &z11, 1);
    fe_mul(&z5, &t, &z9);
    fe_sqn(&t, &z5, 5);
    fe_mul(&z10, &t, &z5);
    fe_sqn(&t, &z10, 10);
    fe_mul(&z20, &t, &z10);
    fe_sqn(&t, &z20, 20);
    fe_mul(&t, &t, &z20);
    fe_sqn(&t, &t, 10);
    fe_mul(&z50, &t, &z10);
    fe_sqn(&t, &z50, 50);
    fe_mul(&z100, &t, &z50);
    fe_sqn(&t, &z100, 100);
    fe_mul(&t, &t, &z100);
    fe_sqn(&t, &t, 50);
    fe_mul(&t, &t, &z50);
    fe_sqn(&t, &t, 5);
    fe_mul(r, &t, &z11);
}

/* Canonical representative (limbs < 2^51, value < p). */
static inline void fe_freeze(fe25519 *a)
{
    fe_carry(a);
    fe_carry(a);
    uint64_t q = (a->v[0] + 19) >> 51;
    q = (a->v[1] + q) >> 51;
    q = (a->v[2] + q) >> 51;
    q = (a->v[3] + q) >> 51;
    q = (a->v[4] + q) >> 51;
    a->v[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        a->v[i + 1] += a->v[i] >> 51;
        a->v[i] &= M51;
    }
    a->v[4] &= M51;
}

static inline int fe_eq(const fe25519 *a, const fe25519 *b)
{
    fe25519 x = *a, y = *b;
    fe_freeze(&x);
    fe_freeze(&y);
    return memcmp(x.v, y.v, sizeof x.v) == 0;
}

/* r = a + b (no carry). */
static inline void fe_add(fe25519 *r, const fe25519 *a, const fe25519 *b)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = a->v[i] + b->v[i];
}

/* r = a - b + 4p (b limbs below 2^53). */
static inline void fe_sub(fe25519 *r, const fe25519 *a, const fe25519 *b)
{
    r->v[0] = a->v[0] + ((uint64_t)0x1fffffffffffb4) - b->v[0];
    for (int i = 1; i < 5; i++)
        r->v[i] = a->v[i] + ((uint64_t)0x1ffffffffffffc) - b->v[i];
}

/* r = mask ? a : r, limb by limb (mask all ones or zero): no branch or
 * index on mask (fixedbase.c, scalarmul.c select table entries with it). */
static inline void fe_cmov(fe25519 *r, const fe25519 *a, uint64_t mask)
{
    for (int i = 0; i < 5; i++)
        r->v[i] ^= mask & (r->v[i] ^ a->v[i]);
}

/* r = a * k for a small constant k (k < 2^20, a limbs below 2^54). */
static inline void fe_mul_small(fe25519 *r, const fe25519 *a, uint32_t k)
{
    u128 c = 0;
    uint64_t t[5];
    for (int i = 0; i < 5; i++) {
        c += (u128)a->v[i] * k;
        t[i] = (uint64_t)c & M51;
        c >>= 51;
    }
    t[0] += (uint64_t)c * 19;
    t[1] += t[0] >> 51;
    t[0] &= M51;
    memcpy(r->v, t, sizeof t);
}

/* Store into libdecaf's limbs (carried, limbs below 2^51 + small). */
static inline void fe_store(gf_25519_s *g, const fe25519 *a)
{
    fe25519 t = *a;
    fe_carry(&t);
    for (int i = 0; i < 5; i++)
        g->limb[i] = t.v[i];
}

#endif
