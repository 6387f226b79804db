/*
 * ifma8.h: field and group arithmetic eight lanes wide with AVX-512 IFMA
 * (vpmadd52luq / vpmadd52huq), shared by msm_ifma.c (the bucket method)
 * and fixedbase_ifma.c (fixed-base multiplications). Internal; include
 * only inside an `#if defined(__x86_64__) && (defined(__GNUC__) ||
 * defined(__clang__))` block, and call only where henn__fe_ifma_cpu()
 * returned 1.
 *
 * Field elements of eight independent points sit in five 512-bit vectors,
 * one per 51-bit limb (lane l of vector i: limb i of element l), so one
 * vector product is eight field products: 25 low and 25 high 52-bit
 * multiply-adds into columns, the high halves doubled (radix 2^51 against
 * the instruction's 2^52), columns 5..9 folded with 2^255 = 19, one
 * parallel carry round. Every limb fed to a product is below 2^52 (the
 * instruction reads 52 bits): outputs of products and of the carried
 * additions and subtractions are below 2^51 + 2^17. The multiply-adds,
 * additions, shifts and blends take time independent of their operands.
 */
#ifndef HENN_FE_IFMA8_H
#define HENN_FE_IFMA8_H

#include <immintrin.h>
#include <stdint.h>

#include "fe/edwards.h"
#include "fe/gf25519.h"

#define VT __attribute__((target("avx512f,avx512ifma")))
#define VI static inline __attribute__((always_inline)) VT

typedef struct {
    __m512i v[5];
} fe8;

typedef struct {
    fe8 x, y, z, t;
} ext8;

typedef struct {
    fe8 ypx, ymx, t2d;
} niels8;

VI __m512i v_set1(uint64_t a)
{
    return _mm512_set1_epi64((long long)a);
}

VI __m512i v_times19(__m512i c)
{
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(c, 4), _mm512_slli_epi64(c, 1)), c);
}

/* One parallel carry round: limbs below 2^63 in, below 2^51 + 2^17 out. */
VI void v_carry(fe8 *a)
{
    const __m512i m = v_set1(M51);
    __m512i c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = _mm512_srli_epi64(a->v[i], 51);
        a->v[i] = _mm512_and_si512(a->v[i], m);
    }
    a->v[0] = _mm512_add_epi64(a->v[0], v_times19(c[4]));
    for (int i = 1; i < 5; i++)
        a->v[i] = _mm512_add_epi64(a->v[i], c[i - 1]);
}

/* r = a b, eight products (limbs of a and b below 2^52). */
VI void v_mul(fe8 *r, const fe8 *a, const fe8 *b)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i lo[9], hi[9], col[10];
    for (int k = 0; k < 9; k++) {
        lo[k] = z;
        hi[k] = z;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a->v[i], b->v[j]);
            hi[i + j] = _mm512_madd52hi_epu64(hi[i + j], a->v[i], b->v[j]);
        }
    /* the high half of a 52-bit split is worth 2^52 = 2 * 2^51 */
    col[0] = lo[0];
    for (int k = 1; k < 9; k++)
        col[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k - 1], 1));
    col[9] = _mm512_slli_epi64(hi[8], 1);
    /* columns below 2^56; folded below 2^61 */
    for (int k = 0; k < 5; k++)
        r->v[k] = _mm512_add_epi64(col[k], v_times19(col[k + 5]));
    v_carry(r);
}

/* r = a k for a constant k < 2^32 (limbs of a below 2^52). */
VI void v_mul_small(fe8 *r, const fe8 *a, uint64_t k)
{
    const __m512i z = _mm512_setzero_si512(), kv = v_set1(k);
    __m512i lo[5], hi[5];
    for (int i = 0; i < 5; i++) {
        lo[i] = _mm512_madd52lo_epu64(z, a->v[i], kv);
        hi[i] = _mm512_madd52hi_epu64(z, a->v[i], kv);
    }
    r->v[0] = _mm512_add_epi64(lo[0], v_times19(_mm512_slli_epi64(hi[4], 1)));
    for (int i = 1; i < 5; i++)
        r->v[i] = _mm512_add_epi64(lo[i], _mm512_slli_epi64(hi[i - 1], 1));
    v_carry(r);
}

VI void v_add(fe8 *r, const fe8 *a, const fe8 *b)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = _mm512_add_epi64(a->v[i], b->v[i]);
    v_carry(r);
}

/* r = a - b + 2p (limbs of b below 2^52 - 38) */
VI void v_sub(fe8 *r, const fe8 *a, const fe8 *b)
{
    const __m512i p0 = v_set1(0xfffffffffffdaULL), p1 = v_set1(0xffffffffffffeULL);
    r->v[0] = _mm512_sub_epi64(_mm512_add_epi64(a->v[0], p0), b->v[0]);
    for (int i = 1; i < 5; i++)
        r->v[i] = _mm512_sub_epi64(_mm512_add_epi64(a->v[i], p1), b->v[i]);
    v_carry(r);
}

/* r = 2 a - b + 4p and s = 2 a + b, carried (a, b limbs below 2^51 + 2^17):
 * D - C and D + C with D = 2 a, without carrying D first */
VI void v_dbl_subadd(fe8 *r, fe8 *s, const fe8 *a, const fe8 *b)
{
    const __m512i p0 = v_set1(0x1fffffffffffb4ULL), p1 = v_set1(0x1ffffffffffffcULL);
    for (int i = 0; i < 5; i++) {
        const __m512i d = _mm512_add_epi64(a->v[i], a->v[i]);
        r->v[i] = _mm512_sub_epi64(_mm512_add_epi64(d, i == 0 ? p0 : p1), b->v[i]);
        s->v[i] = _mm512_add_epi64(d, b->v[i]);
    }
    v_carry(r);
    v_carry(s);
}

/* r += q, q in niels form (edwards.h add_niels, eight lanes) */
VI void v_add_niels(ext8 *r, const niels8 *q)
{
    fe8 a, b, c, e, f, g, h;
    v_sub(&e, &r->y, &r->x);
    v_add(&f, &r->y, &r->x);
    v_mul(&a, &e, &q->ymx);
    v_mul(&b, &f, &q->ypx);
    v_mul(&c, &r->t, &q->t2d);
    v_sub(&e, &b, &a);
    v_add(&h, &b, &a);
    v_dbl_subadd(&f, &g, &r->z, &c); /* 2Z - C, 2Z + C */
    v_mul(&r->x, &e, &f);
    v_mul(&r->y, &g, &h);
    v_mul(&r->t, &e, &h);
    v_mul(&r->z, &f, &g);
}

VI void v_identity(ext8 *r)
{
    const __m512i z = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++) {
        r->x.v[i] = z;
        r->y.v[i] = z;
        r->z.v[i] = z;
        r->t.v[i] = z;
    }
    r->y.v[0] = v_set1(1);
    r->z.v[0] = v_set1(1);
}

#endif
