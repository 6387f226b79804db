/* Tests for src/fe/: FEIP, FEBO, the discrete log, the MSM, serialization. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, truncate */
#endif
#include "../test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fe/edwards.h" /* henn__fe_msm_ifma */
#include "fe/fe_internal.h"
#include "henn/fe.h"

#define TABLE ((uint64_t)1 << 16)

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* uniform in [-b, b] */
static int64_t rnd_signed(uint64_t b)
{
    return (int64_t)(rnd() % (2 * b + 1)) - (int64_t)b;
}

static int64_t dot(const int64_t *x, const int64_t *y, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static void test_dlog(void)
{
    henn_fe_dlog dl;
    const uint64_t B = 5000000;
    CHECK_OK(henn_fe_dlog_init(&dl, B, 1000));
    uint8_t p[32], zero[32] = {0};
    henn_fe_point_mul_g(p, 0);
    CHECK(memcmp(p, zero, 32) == 0); /* g^0 is the identity, encoded as zeros */
    const int64_t ks[] = {0, 1, -1, 2, -2, 999, 1000, 1001, -1001, 2001, -2002, 123456,
                          -4999999, (int64_t)B, -(int64_t)B};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int64_t v = 77;
        henn_fe_point_mul_g(p, ks[i]);
        CHECK_OK(henn_fe_dlog_solve(&v, &dl, p));
        CHECK_EQ_INT(v, ks[i]);
    }
    for (int i = 0; i < 50; i++) {
        int64_t k = rnd_signed(B), v = 0;
        henn_fe_point_mul_g(p, k);
        CHECK_OK(henn_fe_dlog_solve(&v, &dl, p));
        CHECK_EQ_INT(v, k);
    }
    /* results around the giant-step batches (i = 0, the first batch of
     * 1..15, then batches of 32), both signs, both ends of each step */
    const int64_t M = 2 * 1000 + 1;
    const int64_t steps[] = {0, 1, 14, 15, 16, 17, 46, 47, 48, 49, 79, 80};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        for (int e = -1; e <= 1; e++)
            for (int sg = -1; sg <= 1; sg += 2) {
                int64_t k = sg * (steps[i] * M + e * 1000), v = 77;
                henn_fe_point_mul_g(p, k);
                CHECK_OK(henn_fe_dlog_solve(&v, &dl, p));
                CHECK_EQ_INT(v, k);
            }
    /* the hit-check table against the fixed-base multiplication */
    const int64_t gs[] = {0, 1, -1, 15, -15, 16, -16, 255, 256, -4096, 65535, (int64_t)B,
                          -(int64_t)B, 1234567, -3999999};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        uint8_t q[32];
        decaf_255_point_t a;
        henn__fe_dlog_small_g(a, &dl, gs[i]);
        decaf_255_point_encode(q, a);
        henn_fe_point_mul_g(p, gs[i]);
        CHECK(memcmp(p, q, 32) == 0);
    }
    int64_t v = 5;
    henn_fe_point_mul_g(p, (int64_t)B + 1);
    CHECK_RC(henn_fe_dlog_solve(&v, &dl, p), HENN_ERANGE);
    CHECK_EQ_INT(v, 0);
    henn_fe_point_mul_g(p, -(int64_t)B - 1);
    CHECK_RC(henn_fe_dlog_solve(&v, &dl, p), HENN_ERANGE);
    henn_fe_point_mul_g(p, 1LL << 40);
    CHECK_RC(henn_fe_dlog_solve(&v, &dl, p), HENN_ERANGE);
    uint8_t bad[32];
    memset(bad, 0xff, 32); /* not canonical */
    CHECK_RC(henn_fe_dlog_solve(&v, &dl, bad), HENN_EFORMAT);
    henn_fe_dlog_clear(&dl);
    henn_fe_dlog_clear(&dl);

    /* a tiny table: bound below T */
    CHECK_OK(henn_fe_dlog_init(&dl, 3, 0));
    CHECK_EQ_INT(dl.table_size, 3);
    henn_fe_point_mul_g(p, -3);
    CHECK_OK(henn_fe_dlog_solve(&v, &dl, p));
    CHECK_EQ_INT(v, -3);
    henn_fe_point_mul_g(p, 4);
    CHECK_RC(henn_fe_dlog_solve(&v, &dl, p), HENN_ERANGE);
    henn_fe_dlog_clear(&dl);
    CHECK_RC(henn_fe_dlog_init(&dl, 0, 0), HENN_EINVAL);
    CHECK_RC(henn_fe_dlog_init(&dl, 1ULL << 62, 0), HENN_EINVAL);
    CHECK_RC(henn_fe_dlog_init(&dl, 100, HENN_FE_MAX_DLOG_TABLE + 1), HENN_EINVAL);
}

static void test_msm(void)
{
    for (size_t n = 1; n <= 300; n = n * 3 + 1) {
        for (int rep = 0; rep < 3; rep++) {
            henn_fe_elem *p = henn__fe_elems_alloc(n);
            int64_t *k = malloc(n * sizeof *k);
            uint64_t b = rep == 0 ? 1 : rep == 1 ? 300 : (1ULL << 40);
            for (size_t i = 0; i < n; i++) {
                decaf_255_scalar_t s;
                henn__fe_scalar_from_i64(s, (int64_t)(rnd() >> 2));
                decaf_255_point_scalarmul(FE_PT(&p[i]), decaf_255_point_base, s);
                k[i] = rnd_signed(b);
            }
            if (rep == 2)
                k[0] = (int64_t)b; /* largest magnitude, top digit = half */
            decaf_255_point_t a, c, f;
            henn__fe_msm(a, p, k, n);
            henn__fe_msm_naive(c, p, k, n);
            CHECK(decaf_255_point_eq(a, c) != 0);
            /* points with Z != 1 (the fallback) ... */
            CHECK(henn__fe_layout_ok() == 1);
            henn__fe_msm_fast(f, p, k, n);
            CHECK(decaf_255_point_eq(f, c) != 0);
            /* ... and decoded points (Z = 1: own group law), one the identity */
            for (size_t i = 0; i < n; i++) {
                uint8_t e[32];
                if (i == 2)
                    decaf_255_point_copy(FE_PT(&p[i]), decaf_255_point_identity);
                decaf_255_point_encode(e, FE_CPT(&p[i]));
                CHECK(decaf_255_point_decode(FE_PT(&p[i]), e, DECAF_TRUE) == DECAF_SUCCESS);
            }
            henn__fe_msm_naive(c, p, k, n);
            henn__fe_msm_fast(f, p, k, n);
            CHECK(decaf_255_point_eq(f, c) != 0);
            /* the fast result is a valid libdecaf point: it encodes like the reference */
            uint8_t ef[32], ec[32];
            decaf_255_point_encode(ef, f);
            decaf_255_point_encode(ec, c);
            CHECK(memcmp(ef, ec, 32) == 0);
            for (size_t i = 0; i < n; i++)
                k[i] = 0;
            henn__fe_msm_fast(f, p, k, n);
            CHECK(decaf_255_point_eq(f, decaf_255_point_identity) != 0);
            free(p);
            free(k);
        }
    }
}

/*
 * The eight-lane IFMA MSM against the scalar engine and the naive MSM:
 * lengths around the lane count and the automatic threshold, key bounds
 * from 1 to 2^40 (window sizes 1..12, one to many windows), repeated
 * points, P next to -P, the identity, every term in one bucket, one
 * nonzero term, all zero. Skipped (and must say HENN_EPARAM) without IFMA.
 */
static void test_msm_ifma(void)
{
    CHECK(henn__fe_layout_ok() == 1);
    decaf_255_point_t a, c, f;
    if (!henn__fe_ifma_cpu()) {
        henn_fe_elem *p = henn__fe_elems_alloc(1);
        int64_t k = 1;
        CHECK_RC(henn__fe_msm_fast_ifma(a, p, &k, 1), HENN_EPARAM);
        free(p);
        printf("test_msm_ifma: no AVX-512 IFMA on this processor, skipped\n");
        return;
    }
    { /* refused shapes: 16-bit windows (int16_t digits), no points or two kinds */
        henn_fe_elem *p1 = henn__fe_elems_alloc(1);
        int16_t d1 = 1;
        decaf_255_point_copy(FE_PT(&p1[0]), decaf_255_point_base);
        CHECK_RC(henn__fe_msm_ifma(a, NULL, p1, &d1, 1, 16, 1), HENN_EINVAL);
        CHECK_RC(henn__fe_msm_ifma(a, NULL, p1, &d1, 1, 0, 1), HENN_EINVAL);
        CHECK_RC(henn__fe_msm_ifma(a, NULL, p1, &d1, 1, 8, 0), HENN_EINVAL);
        CHECK_RC(henn__fe_msm_ifma(a, NULL, NULL, &d1, 1, 8, 1), HENN_EINVAL);
        free(p1);
    }
    static const size_t lens[] = {1, 2, 7, 8, 9, 31, 32, 33, 100, 784};
    static const uint64_t bounds[] = {1, 2, 127, 128, 255, 21483, 32768, 1u << 20, 1ULL << 40};
    const size_t nmax = 784;
    henn_fe_elem *p = henn__fe_elems_alloc(nmax);
    int64_t *k = malloc(nmax * sizeof *k);
    for (size_t i = 0; i < nmax; i++) {
        decaf_255_scalar_t s;
        uint8_t e[32];
        henn__fe_scalar_from_i64(s, (int64_t)(rnd() >> 2));
        decaf_255_precomputed_scalarmul(FE_PT(&p[i]), decaf_255_precomputed_base, s);
        if (i % 97 == 5) /* a repeated point */
            decaf_255_point_copy(FE_PT(&p[i]), FE_CPT(&p[i - 1]));
        if (i % 101 == 7) /* -P next to P */
            decaf_255_point_negate(FE_PT(&p[i]), FE_CPT(&p[i - 1]));
        if (i == 3)
            decaf_255_point_copy(FE_PT(&p[i]), decaf_255_point_identity);
        decaf_255_point_encode(e, FE_CPT(&p[i]));
        CHECK(decaf_255_point_decode(FE_PT(&p[i]), e, DECAF_TRUE) == DECAF_SUCCESS);
    }
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const size_t n = lens[li];
        for (size_t bi = 0; bi < sizeof bounds / sizeof bounds[0]; bi++) {
            const uint64_t b = bounds[bi];
            for (int shape = 0; shape < 4; shape++) {
                for (size_t i = 0; i < n; i++)
                    k[i] = shape == 0   ? rnd_signed(b)
                           : shape == 1 ? (int64_t)b /* every term in one bucket */
                           : shape == 2 ? (i == n / 2 ? -(int64_t)b : 0)
                                        : (i % 2 ? -(int64_t)b : (int64_t)b - 1);
                CHECK_OK(henn__fe_msm_fast_ifma(f, p, k, n));
                henn__fe_msm_fast_scalar(c, p, k, n);
                CHECK(decaf_255_point_eq(f, c) != 0);
                CHECK(decaf_255_point_valid(f) != 0);
                uint8_t ef[32], ec[32];
                decaf_255_point_encode(ef, f);
                decaf_255_point_encode(ec, c);
                CHECK(memcmp(ef, ec, 32) == 0);
                if (n <= 33 || (shape == 0 && bi == 5)) {
                    henn__fe_msm_naive(a, p, k, n);
                    CHECK(decaf_255_point_eq(f, a) != 0);
                }
                henn__fe_msm_fast(a, p, k, n); /* the automatic choice */
                CHECK(decaf_255_point_eq(f, a) != 0);
            }
        }
        for (size_t i = 0; i < n; i++)
            k[i] = 0;
        CHECK_OK(henn__fe_msm_fast_ifma(f, p, k, n));
        CHECK(decaf_255_point_eq(f, decaf_255_point_identity) != 0);
    }
    free(p);
    free(k);
}

/* 1 if the point's Z is exactly 1 (libdecaf's limbs) */
static int z_is_one(const henn_fe_elem *e)
{
    const gf_25519_s *z = FE_CPT(e)->z;
    return z->limb[0] == 1 && z->limb[1] == 0 && z->limb[2] == 0 && z->limb[3] == 0 &&
           z->limb[4] == 0;
}

static void test_affine(void)
{
    CHECK(henn__fe_layout_ok() == 1);
    for (size_t n = 1; n <= 70; n += 23) {
        henn_fe_elem *p = henn__fe_elems_alloc(n), *q = henn__fe_elems_alloc(n);
        for (size_t i = 0; i < n; i++) {
            decaf_255_scalar_t s;
            henn__fe_scalar_from_i64(s, (int64_t)(rnd() >> 2));
            decaf_255_point_scalarmul(FE_PT(&p[i]), decaf_255_point_base, s);
            if (i == 1) /* the identity too */
                decaf_255_point_copy(FE_PT(&p[i]), decaf_255_point_identity);
        }
        memcpy(q, p, n * sizeof *p);
        CHECK_OK(henn__fe_make_affine(q, n));
        for (size_t i = 0; i < n; i++) {
            uint8_t a[32], b[32];
            CHECK(z_is_one(&q[i]));
            CHECK(decaf_255_point_valid(FE_CPT(&q[i])) != 0);
            CHECK(decaf_255_point_eq(FE_CPT(&p[i]), FE_CPT(&q[i])) != 0);
            decaf_255_point_encode(a, FE_CPT(&p[i]));
            decaf_255_point_encode(b, FE_CPT(&q[i]));
            CHECK(memcmp(a, b, 32) == 0);
        }
        free(p);
        free(q);
    }
}

/* the constant-time k P against libdecaf's, on edge and random scalars and
 * points (projective, affine, the identity) */
static int elem_all_zero(const henn_fe_elem *e)
{
    static const henn_fe_elem zero;
    return memcmp(e, &zero, sizeof zero) == 0;
}

static void test_scalarmul(void)
{
    CHECK(henn__fe_layout_ok() == 1);
    henn_fe_elem *pts = henn__fe_elems_alloc(4);
    decaf_255_scalar_t s;
    henn__fe_scalar_from_i64(s, 123456789);
    decaf_255_point_scalarmul(FE_PT(&pts[0]), decaf_255_point_base, s); /* Z != 1 */
    uint8_t e[32];
    decaf_255_point_encode(e, FE_CPT(&pts[0]));
    CHECK(decaf_255_point_decode(FE_PT(&pts[1]), e, DECAF_FALSE) == DECAF_SUCCESS); /* Z = 1 */
    decaf_255_point_copy(FE_PT(&pts[2]), decaf_255_point_identity);
    decaf_255_point_copy(FE_PT(&pts[3]), decaf_255_point_base);
    for (int it = 0; it < 40; it++) {
        uint8_t rb[64], kb[32];
        for (int i = 0; i < 64; i++)
            rb[i] = (uint8_t)rnd();
        decaf_255_scalar_decode_long(s, rb, sizeof rb);
        if (it == 0)
            decaf_255_scalar_copy(s, decaf_255_scalar_zero);
        else if (it == 1)
            decaf_255_scalar_copy(s, decaf_255_scalar_one);
        else if (it == 2) /* l - 1: every digit position busy, top carry */
            decaf_255_scalar_sub(s, decaf_255_scalar_zero, decaf_255_scalar_one);
        else if (it == 3 || it == 4) { /* all nibbles 8 (every digit negative), all 7 */
            memset(rb, it == 3 ? 0x88 : 0x77, 31);
            rb[31] = it == 3 ? 0x08 : 0x07;
            decaf_255_scalar_decode_long(s, rb, 32);
        }
        decaf_255_scalar_encode(kb, s);
        for (int j = 0; j < 4; j++) {
            decaf_255_point_t a, b;
            decaf_255_point_scalarmul(a, FE_CPT(&pts[j]), s);
            henn__fe_scalarmul_ct(b, FE_CPT(&pts[j]), kb);
            CHECK(decaf_255_point_eq(a, b) != 0);
            CHECK(decaf_255_point_valid(b) != 0);
            /* the 64-bit code and the four-lane IFMA code (when present) */
            decaf_255_point_t c;
            henn__fe_scalarmul_ct_scalar(c, FE_CPT(&pts[j]), kb);
            CHECK(decaf_255_point_eq(a, c) != 0);
            CHECK(decaf_255_point_valid(c) != 0);
        }
        /* one scalar, many points (long-vector encryption's r h_i): the
         * eight-lane code on 1..19 points (full and partial lane groups,
         * the four kinds of point) against the 64-bit code, same encodings */
        enum { NM = 19 };
        henn_fe_elem *many = henn__fe_elems_alloc(NM), *o1 = henn__fe_elems_alloc(NM + 1),
                     *o2 = henn__fe_elems_alloc(NM + 1);
        for (int i = 0; i < NM; i++)
            memcpy(&many[i], &pts[(i * 5 + it) % 4], sizeof many[i]);
        const size_t cnt = 1 + (size_t)it % NM;
        henn__fe_scalarmul_ct_many(o1, many, cnt, kb, HENN__FE_FB_SCALAR);
        henn__fe_scalarmul_ct_many(o2, many, cnt, kb, HENN__FE_FB_AUTO);
        for (size_t i = 0; i < cnt; i++) {
            uint8_t e1[32], e2[32];
            decaf_255_point_t a;
            decaf_255_point_scalarmul(a, FE_CPT(&many[i]), s);
            decaf_255_point_encode(e1, a);
            decaf_255_point_encode(e2, FE_CPT(&o2[i]));
            CHECK(memcmp(e1, e2, 32) == 0);
            decaf_255_point_encode(e2, FE_CPT(&o1[i]));
            CHECK(memcmp(e1, e2, 32) == 0);
        }
        CHECK(elem_all_zero(&o2[cnt])); /* nothing written past cnt */
        if (henn__fe_ifma_cpu()) {
            int32_t dg[64];
            henn__fe_digits16(dg, kb);
            CHECK_RC(henn__fe_scalarmul_ct8_ifma(o2, many, 0, dg), HENN_EINVAL);
            CHECK_RC(henn__fe_scalarmul_ct8_ifma(o2, many, 9, dg), HENN_EINVAL);
        }
        free(many);
        free(o1);
        free(o2);
    }
    free(pts);
}

/* a scalar for case it: 0, 1, l - 1, 2, all digits 16 / -16 patterns, random */
static void fb_scalar(decaf_255_scalar_t s, int it)
{
    uint8_t rb[64];
    for (int i = 0; i < 64; i++)
        rb[i] = (uint8_t)rnd();
    decaf_255_scalar_decode_long(s, rb, sizeof rb);
    if (it == 0)
        decaf_255_scalar_copy(s, decaf_255_scalar_zero);
    else if (it == 1)
        decaf_255_scalar_copy(s, decaf_255_scalar_one);
    else if (it == 2) /* l - 1 */
        decaf_255_scalar_sub(s, decaf_255_scalar_zero, decaf_255_scalar_one);
    else if (it == 3) { /* l - 2 */
        decaf_255_scalar_sub(s, decaf_255_scalar_zero, decaf_255_scalar_one);
        decaf_255_scalar_sub(s, s, decaf_255_scalar_one);
    } else if (it == 4 || it == 5 || it == 6) {
        /* every 5-bit chunk 16 (each digit -16 with a carry), 31 (-1 and a
         * carry chain), 15 (+15, no carry), below 2^250 */
        const unsigned chunk = it == 4 ? 16u : it == 5 ? 31u : 15u;
        memset(rb, 0, 32);
        for (unsigned w = 0; w < 50; w++)
            for (unsigned b = 0; b < 5; b++)
                if (chunk >> b & 1u)
                    rb[(5 * w + b) / 8] = (uint8_t)(rb[(5 * w + b) / 8] | 1u << ((5 * w + b) % 8));
        decaf_255_scalar_decode_long(s, rb, 32);
    } else if (it == 7) { /* 2^252 (bit 252: the top window) */
        memset(rb, 0, 32);
        rb[31] = 0x10;
        decaf_255_scalar_decode_long(s, rb, 32);
    } else if (it == 8) { /* small */
        memset(rb, 0, 32);
        rb[0] = 17;
        decaf_255_scalar_decode_long(s, rb, 32);
    }
}

/*
 * The comb for sk c_0 (fixedbase.c, fixedbase_ifma.c): the digits sum to
 * k; the 64-bit comb, the eight-lane IFMA comb (every lane count 1..8) and
 * the c_0 table of henn_feip_ct0_tab give the same encodings as libdecaf's
 * variable-base and precomputed multiplications, on points with Z != 1,
 * Z = 1, the identity and the base, for 0, 1, l - 1 and digit patterns.
 */
static void test_fixedbase(void)
{
    CHECK(henn__fe_layout_ok() == 1);
    enum { NP = 5, NK = 40 };
    const int ifma = henn__fe_ifma_cpu();
    henn_fe_elem *pts = henn__fe_elems_alloc(NP), *out = henn__fe_elems_alloc(NK),
                 *out2 = henn__fe_elems_alloc(NK);
    uint8_t *ks = malloc(NK * 32);
    CHECK(pts != NULL && out != NULL && out2 != NULL && ks != NULL);
    decaf_255_scalar_t s, acc, pw, t;
    henn__fe_scalar_from_i64(s, 987654321);
    decaf_255_point_scalarmul(FE_PT(&pts[0]), decaf_255_point_base, s); /* Z != 1 */
    uint8_t enc[32], enc2[32];
    decaf_255_point_encode(enc, FE_CPT(&pts[0]));
    CHECK(decaf_255_point_decode(FE_PT(&pts[1]), enc, DECAF_FALSE) == DECAF_SUCCESS);
    decaf_255_point_copy(FE_PT(&pts[2]), decaf_255_point_identity);
    decaf_255_point_copy(FE_PT(&pts[3]), decaf_255_point_base);
    fb_scalar(s, 100);
    decaf_255_point_scalarmul(FE_PT(&pts[4]), decaf_255_point_base, s); /* random */

    /* the digits: sum e_w 32^w = k, |e_w| <= 16 */
    for (int it = 0; it < NK; it++) {
        fb_scalar(s, it);
        decaf_255_scalar_encode(ks + it * 32, s);
        int32_t e[HENN__FE_FB_WINDOWS];
        henn__fe_fb_digits(e, ks + it * 32);
        decaf_255_scalar_copy(acc, decaf_255_scalar_zero);
        decaf_255_scalar_copy(pw, decaf_255_scalar_one);
        henn__fe_scalar_from_i64(t, 32);
        decaf_255_scalar_t b32;
        decaf_255_scalar_copy(b32, t);
        for (int w = 0; w < HENN__FE_FB_WINDOWS; w++) {
            CHECK(e[w] >= -16 && e[w] <= 16);
            henn__fe_scalar_from_i64(t, e[w]);
            decaf_255_scalar_mul(t, t, pw);
            decaf_255_scalar_add(acc, acc, t);
            decaf_255_scalar_mul(pw, pw, b32);
        }
        CHECK(decaf_255_scalar_eq(acc, s) != 0);
    }
    CHECK(henn__fe_fb_init(NULL, FE_CPT(&pts[0])) == HENN_EINVAL);
    for (int j = 0; j < NP; j++) {
        struct henn__fe_fb *fb = NULL;
        CHECK(henn__fe_fb_init(NULL, FE_CPT(&pts[j])) == HENN_EINVAL);
        CHECK_OK(henn__fe_fb_init(&fb, FE_CPT(&pts[j])));
        decaf_255_precomputed_s *dt =
            aligned_alloc(decaf_255_alignof_precomputed_s,
                          (decaf_255_sizeof_precomputed_s + decaf_255_alignof_precomputed_s - 1) /
                              decaf_255_alignof_precomputed_s * decaf_255_alignof_precomputed_s);
        decaf_255_precompute(dt, FE_CPT(&pts[j]));
        for (int it = 0; it < NK; it++) {
            decaf_255_point_t a, b, c;
            CHECK(decaf_255_scalar_decode(s, ks + it * 32) == DECAF_SUCCESS);
            decaf_255_point_scalarmul(a, FE_CPT(&pts[j]), s);
            decaf_255_precomputed_scalarmul(c, dt, s);
            henn__fe_fb_mul_scalar(b, fb, ks + it * 32);
            CHECK(decaf_255_point_valid(b) != 0);
            decaf_255_point_encode(enc, a);
            decaf_255_point_encode(enc2, b);
            CHECK(memcmp(enc, enc2, 32) == 0);
            decaf_255_point_encode(enc2, c);
            CHECK(memcmp(enc, enc2, 32) == 0);
        }
        /* the engines, NK = 5 x 8 scalars: same encodings */
        CHECK_OK(henn__fe_fb_mul_many(out, fb, ks, NK, HENN__FE_FB_SCALAR));
        CHECK_OK(henn__fe_fb_mul_many(out2, fb, ks, NK, HENN__FE_FB_AUTO));
        for (int it = 0; it < NK; it++) {
            CHECK(decaf_255_point_valid(FE_CPT(&out2[it])) != 0);
            decaf_255_point_encode(enc, FE_CPT(&out[it]));
            decaf_255_point_encode(enc2, FE_CPT(&out2[it]));
            CHECK(memcmp(enc, enc2, 32) == 0);
        }
        if (ifma) {
            /* every lane count, at every offset of the scalars */
            for (size_t cnt = 1; cnt <= 8; cnt++) {
                memset(out2, 0, NK * sizeof *out2);
                CHECK_OK(henn__fe_fb_mul8_ifma(out2, fb, ks + (cnt - 1) * 32 * 3, cnt));
                for (size_t l = 0; l < cnt; l++) {
                    decaf_255_point_encode(enc, FE_CPT(&out[(cnt - 1) * 3 + l]));
                    decaf_255_point_encode(enc2, FE_CPT(&out2[l]));
                    CHECK(memcmp(enc, enc2, 32) == 0);
                }
                /* lanes past cnt are not written */
                CHECK(elem_all_zero(&out2[cnt]));
            }
            CHECK_OK(henn__fe_fb_mul_many(out2, fb, ks + 32, NK - 1, HENN__FE_FB_IFMA));
            for (int it = 1; it < NK; it++) {
                decaf_255_point_encode(enc, FE_CPT(&out[it]));
                decaf_255_point_encode(enc2, FE_CPT(&out2[it - 1]));
                CHECK(memcmp(enc, enc2, 32) == 0);
            }
            CHECK_RC(henn__fe_fb_mul8_ifma(out2, fb, ks, 0), HENN_EINVAL);
            CHECK_RC(henn__fe_fb_mul8_ifma(out2, fb, ks, 9), HENN_EINVAL);
        } else {
            CHECK_RC(henn__fe_fb_mul8_ifma(out2, fb, ks, 1), HENN_EPARAM);
            CHECK_RC(henn__fe_fb_mul_many(out2, fb, ks, 1, HENN__FE_FB_IFMA), HENN_EPARAM);
            printf("test_fixedbase: no AVX-512 IFMA on this processor, lanes skipped\n");
        }
        free(dt);
        henn__fe_fb_free(fb);
    }
    henn__fe_fb_free(NULL);

    /* the c_0 table of a ciphertext (henn_feip_ct0_tab) */
    henn_feip_ct ct;
    memset(&ct, 0, sizeof ct);
    ct.n = 1;
    ct.c = henn__fe_elems_alloc(2);
    decaf_255_point_copy(FE_PT(&ct.c[0]), FE_CPT(&pts[4]));
    henn_feip_ct0_tab tab;
    CHECK_OK(henn_feip_ct0_tab_init(&tab, &ct));
    CHECK_OK(henn__fe_ct0_mul_many(out2, &tab, ks, NK, HENN__FE_FB_AUTO));
    for (int it = 0; it < NK; it++) {
        decaf_255_point_t a, b;
        CHECK(decaf_255_scalar_decode(s, ks + it * 32) == DECAF_SUCCESS);
        decaf_255_point_scalarmul(a, FE_CPT(&pts[4]), s);
        henn__fe_ct0_mul(b, &tab, ks + it * 32);
        CHECK(decaf_255_point_eq(a, b) != 0);
        CHECK(decaf_255_point_eq(a, FE_CPT(&out2[it])) != 0);
    }
    henn_feip_ct0_tab_clear(&tab);
    henn_feip_ct0_tab_clear(&tab); /* twice: safe */
    free(ct.c);
    free(pts);
    free(out);
    free(out2);
    free(ks);
}

/* the one-window MSM over precomputed shifts against the naive MSM */
static void test_msm_prep(void)
{
    const uint64_t bounds[] = {1, 2, 300, 21483, 32768, (1ULL << 40) + 5};
    static const size_t lens[] = {1, 5, 21, 85, 784};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const size_t n = lens[li];
        henn_fe_elem *p = henn__fe_elems_alloc(n);
        int64_t *k = malloc(n * sizeof *k);
        for (size_t i = 0; i < n; i++) {
            decaf_255_scalar_t s;
            henn__fe_scalar_from_i64(s, (int64_t)(rnd() >> 2));
            decaf_255_point_scalarmul(FE_PT(&p[i]), decaf_255_point_base, s); /* Z != 1 */
        }
        if (n > 2)
            decaf_255_point_copy(FE_PT(&p[2]), decaf_255_point_identity);
        for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
            struct henn__fe_msm_prep pr;
            CHECK_OK(henn__fe_msm_prep_init(&pr, p, n, bounds[b]));
            for (int rep = 0; rep < 3; rep++) {
                for (size_t i = 0; i < n; i++)
                    k[i] = rep == 0 ? 0 : rnd_signed(bounds[b]);
                if (rep == 2) { /* the bounds themselves */
                    k[0] = (int64_t)bounds[b];
                    k[n - 1] = -(int64_t)bounds[b];
                }
                decaf_255_point_t a, c, e;
                CHECK_OK(henn__fe_msm_prep(a, &pr, k));
                henn__fe_msm_naive(c, p, k, n);
                CHECK(decaf_255_point_eq(a, c) != 0);
                CHECK(decaf_255_point_valid(a) != 0);
                /* the IFMA engine (when present) against the scalar one */
                CHECK_OK(henn__fe_msm_prep_scalar(e, &pr, k));
                CHECK(decaf_255_point_eq(a, e) != 0);
            }
            k[0] = (int64_t)bounds[b] + 1;
            decaf_255_point_t r;
            CHECK_RC(henn__fe_msm_prep_scalar(r, &pr, k), HENN_ERANGE);
            k[0] = (int64_t)bounds[b] + 1;
            decaf_255_point_t a;
            CHECK_RC(henn__fe_msm_prep(a, &pr, k), HENN_ERANGE);
            henn__fe_msm_prep_clear(&pr);
            henn__fe_msm_prep_clear(&pr);
        }
        free(p);
        free(k);
    }
    /* d (1 / d) = 1 for the constant in edwards.h's ext_from_niels: a point
     * rebuilt from its niels form equals it (covered by the MSMs above) */
    struct henn__fe_msm_prep pr;
    CHECK_RC(henn__fe_msm_prep_init(&pr, NULL, 0, 5), HENN_EINVAL);
}

static void feip_round_trip(size_t n, uint64_t X, uint64_t Y, const henn_fe_dlog *dl, int reps)
{
    henn_feip_mpk mpk;
    henn_feip_msk msk;
    henn_feip_fk fk;
    henn_feip_ct ct = {0};
    CHECK_OK(henn_feip_setup(&mpk, &msk, n, X, Y));
    int64_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++) {
            x[i] = rnd_signed(X);
            y[i] = rnd_signed(Y);
        }
        if (r == 0) {
            x[0] = (int64_t)X; /* the bounds themselves are allowed */
            y[0] = -(int64_t)Y;
        }
        CHECK_OK(henn_feip_derive_key(&fk, &msk, y, n));
        CHECK_OK(henn_feip_encrypt(&ct, &mpk, x, n));
        int64_t v = 0, w = 0;
        CHECK_OK(henn_feip_decrypt(&v, &mpk, dl, &ct, &fk, y, n));
        CHECK_EQ_INT(v, dot(x, y, n));
        CHECK_OK(henn_feip_decrypt_naive(&w, &mpk, dl, &ct, &fk, y, n));
        CHECK_EQ_INT(w, v);
        w = 0; /* the scalar MSM engine (the IFMA one runs above when present) */
        CHECK_OK(henn__feip_decrypt_scalar(&w, &mpk, dl, &ct, &fk, y, n));
        CHECK_EQ_INT(w, v);
        /* many keys on one ciphertext: the precomputed path, same value */
        henn_feip_ct_prep prep;
        CHECK_OK(henn_feip_ct_prep_init(&prep, &mpk, &ct));
        CHECK_OK(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk, y, n));
        CHECK_EQ_INT(w, v);
        w = 0;
        CHECK_OK(henn__feip_decrypt_prep_scalar(&w, &mpk, dl, &prep, &fk, y, n));
        CHECK_EQ_INT(w, v);
        for (size_t i = 0; i < n; i++) /* a second key on the same prep */
            y[i] = i % 3 == 0 ? 0 : (i % 3 == 1 ? (int64_t)Y : -(int64_t)Y);
        henn_feip_fk fk2;
        CHECK_OK(henn_feip_derive_key(&fk2, &msk, y, n));
        CHECK_OK(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk2, y, n));
        CHECK_EQ_INT(w, dot(x, y, n));
        CHECK_OK(henn_feip_decrypt(&v, &mpk, dl, &ct, &fk2, y, n));
        CHECK_EQ_INT(v, w);
        y[0] = (int64_t)Y + 1;
        CHECK_RC(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk2, y, n), HENN_ERANGE);
        CHECK_EQ_INT(w, 0);
        CHECK_RC(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk2, y, n + 1), HENN_EINVAL);
        CHECK_RC(henn_feip_decrypt_prep(&w, &mpk, dl, NULL, &fk2, y, n), HENN_EINVAL);
        y[0] = 0;
        henn_feip_ct_prep other = prep; /* built for another Y */
        other.y_bound = Y + 1;
        CHECK_RC(henn_feip_decrypt_prep(&w, &mpk, dl, &other, &fk2, y, n), HENN_EINVAL);
        CHECK_RC(henn_feip_ct_prep_init(&other, &mpk, NULL), HENN_EINVAL);
        CHECK(other.msm_ == NULL && other.tab_ == NULL);
        henn_feip_ct bad = ct;
        bad.n = n + 1;
        CHECK_RC(henn_feip_ct_prep_init(&other, &mpk, &bad), HENN_EINVAL);
        henn_feip_fk_clear(&fk2);
        henn_feip_ct_prep_clear(&prep);
        henn_feip_ct_prep_clear(&prep);
        CHECK_RC(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk, y, n), HENN_EINVAL);
        for (size_t i = 0; i < n; i++) /* a fresh key for the checks below */
            y[i] = rnd_signed(Y);
        CHECK_OK(henn_feip_derive_key(&fk, &msk, y, n));
        CHECK_OK(henn_feip_decrypt(&v, &mpk, dl, &ct, &fk, y, n));
        CHECK_EQ_INT(v, dot(x, y, n));
        /* encryption leaves the points at Z = 1 (mixed additions) */
        for (size_t i = 1; i <= n; i++)
            CHECK(z_is_one(&ct.c[i]));
        if (r == 0) { /* the projective path on the same x, y */
            henn_feip_ct ct2 = {0};
            CHECK_OK(henn_feip_encrypt_notab(&ct2, &mpk, x, n));
            CHECK(!z_is_one(&ct2.c[1])); /* projective: the general MSM */
            CHECK_OK(henn_feip_decrypt(&w, &mpk, dl, &ct2, &fk, y, n));
            CHECK_EQ_INT(w, v);
            CHECK_OK(henn_feip_ct_prep_init(&prep, &mpk, &ct2)); /* from projective points */
            CHECK_OK(henn_feip_decrypt_prep(&w, &mpk, dl, &prep, &fk, y, n));
            CHECK_EQ_INT(w, v);
            henn_feip_ct_prep_clear(&prep);
            henn_feip_ct_clear(&ct2);
        }
        /* the key of another y does not give <x, y> */
        if (n > 1) {
            int64_t y0 = y[0];
            y[0] = y0 == 0 ? 1 : -y0;
            int rc = henn_feip_decrypt(&w, &mpk, dl, &ct, &fk, y, n);
            CHECK(rc == HENN_ERANGE || (rc == 0 && w != dot(x, y, n)));
            y[0] = y0;
        }
    }
    /* bounds */
    x[0] = (int64_t)X + 1;
    CHECK_RC(henn_feip_encrypt(&ct, &mpk, x, n), HENN_ERANGE);
    CHECK(ct.c == NULL);
    x[0] = -(int64_t)X - 1;
    CHECK_RC(henn_feip_encrypt(&ct, &mpk, x, n), HENN_ERANGE);
    y[0] = (int64_t)Y + 1;
    CHECK_RC(henn_feip_derive_key(&fk, &msk, y, n), HENN_ERANGE);
    CHECK_RC(henn_feip_derive_key(&fk, &msk, y, n + 1), HENN_EINVAL);
    CHECK_RC(henn_feip_encrypt(&ct, &mpk, x, n + 1), HENN_EINVAL);
    henn_feip_fk_clear(&fk);
    henn_feip_ct_clear(&ct);
    henn_feip_mpk_clear(&mpk);
    henn_feip_msk_clear(&msk);
    henn_feip_mpk_clear(&mpk);
    henn_feip_msk_clear(&msk);
    free(x);
    free(y);
}

static void test_feip(void)
{
    henn_fe_dlog dl;
    CHECK_OK(henn_fe_dlog_init(&dl, (uint64_t)1 << 32, TABLE));
    feip_round_trip(1, 1000, 1000, &dl, 10);
    feip_round_trip(25, 255, 1000, &dl, 5);
    feip_round_trip(784, 255, 1000, &dl, 2);

    /* a result outside the table's bound is refused, never wrong */
    henn_fe_dlog small;
    CHECK_OK(henn_fe_dlog_init(&small, 100, 16));
    henn_feip_mpk mpk;
    henn_feip_msk msk;
    henn_feip_fk fk;
    henn_feip_ct ct = {0};
    CHECK_OK(henn_feip_setup(&mpk, &msk, 2, 100, 100));
    int64_t x[2] = {10, 10}, y[2] = {5, 6}, v = 1;
    CHECK_OK(henn_feip_derive_key(&fk, &msk, y, 2));
    CHECK_OK(henn_feip_encrypt(&ct, &mpk, x, 2));
    CHECK_RC(henn_feip_decrypt(&v, &mpk, &small, &ct, &fk, y, 2), HENN_ERANGE);
    CHECK_EQ_INT(v, 0);
    y[1] = 5;
    CHECK_RC(henn_feip_decrypt(&v, &mpk, &small, &ct, &fk, y, 2), HENN_ERANGE);
    CHECK_OK(henn_feip_derive_key(&fk, &msk, y, 2));
    CHECK_OK(henn_feip_decrypt(&v, &mpk, &small, &ct, &fk, y, 2));
    CHECK_EQ_INT(v, 100);
    henn_feip_fk_clear(&fk);
    henn_feip_ct_clear(&ct);
    henn_feip_mpk_clear(&mpk);
    henn_feip_msk_clear(&msk);
    henn_fe_dlog_clear(&small);

    CHECK_RC(henn_feip_setup(&mpk, &msk, 0, 1, 1), HENN_EINVAL);
    CHECK_RC(henn_feip_setup(&mpk, &msk, 4, 1ULL << 31, 1ULL << 31), HENN_ERANGE);
    CHECK_RC(henn_feip_setup(&mpk, &msk, 4, 0, 1), HENN_ERANGE);
    henn_fe_dlog_clear(&dl);
}

static void test_febo(void)
{
    henn_fe_dlog dl;
    CHECK_OK(henn_fe_dlog_init(&dl, 1000000, 4096));
    henn_febo_mpk mpk;
    henn_febo_msk msk;
    henn_febo_ct ct, ct2;
    henn_febo_fk fk;
    CHECK_OK(henn_febo_setup(&mpk, &msk, 1000, 1000));
    for (int rep = 0; rep < 10; rep++) {
        int64_t x = rnd_signed(1000), y = rnd_signed(1000), v = 0;
        if (y == 0)
            y = 7;
        CHECK_OK(henn_febo_encrypt(&ct, &mpk, x));
        CHECK_OK(henn_febo_encrypt(&ct2, &mpk, x));
        const int64_t want[4] = {x + y, x - y, x * y, 0};
        for (int op = HENN_FEBO_ADD; op <= HENN_FEBO_MUL; op++) {
            CHECK_OK(henn_febo_derive_key(&fk, &msk, &ct, op, y));
            CHECK_OK(henn_febo_decrypt(&v, &mpk, &dl, &ct, &fk));
            CHECK_EQ_INT(v, want[op - 1]);
            /* a key bound to another ciphertext's commitment is garbage */
            int rc = henn_febo_decrypt(&v, &mpk, &dl, &ct2, &fk);
            CHECK(rc == HENN_ERANGE || (rc == 0 && v != want[op - 1]));
        }
        /* division: exact, and refused when y does not divide x */
        int64_t xd = (x / y) * y;
        CHECK_OK(henn_febo_encrypt(&ct, &mpk, xd));
        CHECK_OK(henn_febo_derive_key(&fk, &msk, &ct, HENN_FEBO_DIV, y));
        CHECK_OK(henn_febo_decrypt(&v, &mpk, &dl, &ct, &fk));
        CHECK_EQ_INT(v, xd / y);
        if (y != 1 && y != -1) {
            int64_t xn = xd + (xd < 1000 - 1 ? 1 : -1);
            CHECK_OK(henn_febo_encrypt(&ct, &mpk, xn));
            CHECK_OK(henn_febo_derive_key(&fk, &msk, &ct, HENN_FEBO_DIV, y));
            CHECK_RC(henn_febo_decrypt(&v, &mpk, &dl, &ct, &fk), HENN_ERANGE);
        }
    }
    CHECK_RC(henn_febo_encrypt(&ct, &mpk, 1001), HENN_ERANGE);
    CHECK_RC(henn_febo_derive_key(&fk, &msk, &ct2, HENN_FEBO_DIV, 0), HENN_EINVAL);
    CHECK_RC(henn_febo_derive_key(&fk, &msk, &ct2, 9, 1), HENN_EINVAL);
    CHECK_RC(henn_febo_derive_key(&fk, &msk, &ct2, HENN_FEBO_MUL, -1001), HENN_ERANGE);

    /* serialization round trips and refusals */
    uint8_t b1[HENN_FEBO_MPK_BYTES], b2[HENN_FEBO_MSK_BYTES], b3[HENN_FEBO_CT_BYTES],
        b4[HENN_FEBO_FK_BYTES], again[HENN_FEBO_MPK_BYTES];
    henn_febo_mpk mpk2;
    henn_febo_msk msk2;
    henn_febo_ct ct3;
    henn_febo_fk fk2;
    int64_t v = 0;
    CHECK_OK(henn_febo_encrypt(&ct, &mpk, 42));
    CHECK_OK(henn_febo_derive_key(&fk, &msk, &ct, HENN_FEBO_SUB, 2));
    henn_febo_mpk_serialize(b1, &mpk);
    henn_febo_msk_serialize(b2, &msk);
    henn_febo_ct_serialize(b3, &ct);
    henn_febo_fk_serialize(b4, &fk);
    CHECK_OK(henn_febo_mpk_deserialize(&mpk2, b1, sizeof b1));
    CHECK_OK(henn_febo_msk_deserialize(&msk2, b2, sizeof b2));
    CHECK_OK(henn_febo_ct_deserialize(&ct3, b3, sizeof b3));
    CHECK_OK(henn_febo_fk_deserialize(&fk2, b4, sizeof b4));
    henn_febo_mpk_serialize(again, &mpk2);
    CHECK(memcmp(again, b1, sizeof b1) == 0);
    CHECK_OK(henn_febo_decrypt(&v, &mpk2, &dl, &ct3, &fk2));
    CHECK_EQ_INT(v, 40);
    CHECK_RC(henn_febo_mpk_deserialize(&mpk2, b1, sizeof b1 - 1), HENN_EFORMAT);
    CHECK_RC(henn_febo_ct_deserialize(&ct3, b3, sizeof b3 - 1), HENN_EFORMAT);
    memset(b3 + 5, 0xff, 32); /* non-canonical point */
    CHECK_RC(henn_febo_ct_deserialize(&ct3, b3, sizeof b3), HENN_EFORMAT);
    memset(b2 + 21, 0xff, 32); /* scalar >= l */
    CHECK_RC(henn_febo_msk_deserialize(&msk2, b2, sizeof b2), HENN_EFORMAT);
    b4[5] = 7; /* bad op */
    CHECK_RC(henn_febo_fk_deserialize(&fk2, b4, sizeof b4), HENN_EFORMAT);
    henn_febo_msk_clear(&msk);
    henn_febo_msk_clear(&msk2);
    henn_fe_dlog_clear(&dl);
}

static void test_feip_serialize(void)
{
    henn_fe_dlog dl;
    CHECK_OK(henn_fe_dlog_init(&dl, 1000000, 4096));
    henn_feip_mpk mpk, mpk2;
    henn_feip_msk msk, msk2;
    henn_feip_fk fk, fk2;
    henn_feip_ct ct = {0}, ct2 = {0};
    const size_t n = 5;
    int64_t x[5] = {1, -2, 3, 100, -100}, y[5] = {5, 4, -3, 2, 1}, v = 0;
    CHECK_OK(henn_feip_setup(&mpk, &msk, n, 100, 100));
    CHECK_OK(henn_feip_encrypt(&ct, &mpk, x, n));
    uint8_t *bm = NULL, *bs = NULL, *bk = NULL, *bc = NULL, *re = NULL;
    size_t lm = 0, ls = 0, lk = 0, lc = 0, lr = 0;
    CHECK_OK(henn_feip_mpk_serialize(&bm, &lm, &mpk));
    CHECK_OK(henn_feip_msk_serialize(&bs, &ls, &msk));
    CHECK_OK(henn_feip_ct_serialize(&bc, &lc, &ct));
    CHECK_OK(henn_feip_mpk_deserialize(&mpk2, bm, lm));
    CHECK_OK(henn_feip_msk_deserialize(&msk2, bs, ls));
    CHECK_OK(henn_feip_ct_deserialize(&ct2, bc, lc));
    CHECK_OK(henn_feip_derive_key(&fk, &msk2, y, n));
    CHECK_OK(henn_feip_fk_serialize(&bk, &lk, &fk));
    CHECK_OK(henn_feip_fk_deserialize(&fk2, bk, lk));
    CHECK_OK(henn_feip_decrypt(&v, &mpk2, &dl, &ct2, &fk2, y, n));
    CHECK_EQ_INT(v, dot(x, y, n));
    CHECK_OK(henn_feip_ct_serialize(&re, &lr, &ct2));
    CHECK(lr == lc && memcmp(re, bc, lc) == 0);
    /* encryption under the reloaded mpk decrypts with the original keys */
    CHECK_OK(henn_feip_encrypt(&ct2, &mpk2, x, n));
    CHECK_OK(henn_feip_decrypt(&v, &mpk, &dl, &ct2, &fk, y, n));
    CHECK_EQ_INT(v, dot(x, y, n));

    henn_feip_mpk_clear(&mpk2);
    henn_feip_msk_clear(&msk2);
    henn_feip_ct_clear(&ct2);
    /* truncation, extension, corruption */
    CHECK_RC(henn_feip_mpk_deserialize(&mpk2, bm, lm - 1), HENN_EFORMAT);
    CHECK(mpk2.h == NULL);
    CHECK_RC(henn_feip_msk_deserialize(&msk2, bs, ls - 1), HENN_EFORMAT);
    CHECK_RC(henn_feip_ct_deserialize(&ct2, bc, lc - 32), HENN_EFORMAT);
    CHECK_RC(henn_feip_fk_deserialize(&fk2, bk, lk + 1), HENN_EFORMAT);
    CHECK_RC(henn_feip_ct_deserialize(&ct2, bc, 3), HENN_EFORMAT);
    uint8_t *bad = malloc(lc);
    memcpy(bad, bc, lc);
    bad[9 + 32 * 2] ^= 1; /* flipping a bit usually leaves no point */
    int rc = henn_feip_ct_deserialize(&ct2, bad, lc);
    if (rc == 0) /* or a different one: it must not decrypt to <x, y> */
        CHECK(henn_feip_decrypt(&v, &mpk, &dl, &ct2, &fk, y, n) != 0 || v != dot(x, y, n));
    henn_feip_ct_clear(&ct2);
    memcpy(bad, bc, lc);
    memset(bad + 9 + 32, 0xff, 32); /* non-canonical encoding (>= p) */
    CHECK_RC(henn_feip_ct_deserialize(&ct2, bad, lc), HENN_EFORMAT);
    CHECK(ct2.c == NULL);
    memcpy(bad, bc, lc);
    bad[9 + 32] |= 1; /* negative (odd) field element: not canonical */
    CHECK_RC(henn_feip_ct_deserialize(&ct2, bad, lc), HENN_EFORMAT);
    memcpy(bad, bc, lc);
    bad[4] = 2; /* version */
    CHECK_RC(henn_feip_ct_deserialize(&ct2, bad, lc), HENN_EFORMAT);
    free(bad);
    bad = malloc(lm);
    memcpy(bad, bm, lm);
    memset(bad + 25, 0, 32); /* identity h_0 refused */
    CHECK_RC(henn_feip_mpk_deserialize(&mpk2, bad, lm), HENN_EFORMAT);
    memcpy(bad, bm, lm);
    bad[5] = 6; /* n = 6 with 5 points */
    CHECK_RC(henn_feip_mpk_deserialize(&mpk2, bad, lm), HENN_EFORMAT);
    memcpy(bad, bm, lm);
    memset(bad + 9, 0xff, 8); /* X too large */
    CHECK_RC(henn_feip_mpk_deserialize(&mpk2, bad, lm), HENN_EFORMAT);
    free(bad);
    bad = malloc(ls);
    memcpy(bad, bs, ls);
    memset(bad + 25, 0xff, 32); /* scalar >= l */
    CHECK_RC(henn_feip_msk_deserialize(&msk2, bad, ls), HENN_EFORMAT);
    free(bad);
    henn_free(bm, lm);
    henn_free(bs, ls);
    henn_free(bk, lk);
    henn_free(bc, lc);
    henn_free(re, lr);
    henn_feip_ct_clear(&ct);
    henn_feip_ct_clear(&ct2);
    henn_feip_mpk_clear(&mpk);
    henn_feip_mpk_clear(&mpk2);
    henn_feip_msk_clear(&msk);
    henn_feip_msk_clear(&msk2);
    henn_fe_dlog_clear(&dl);
}

/* Rewrite the checksum of a table file after an edit (a "forger"). */
static void dlog_fix_sum(uint8_t *buf, size_t len)
{
    crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0);
}

static void dlog_check_solves(const henn_fe_dlog *dl, uint64_t B)
{
    const int64_t ks[] = {0, 1, -1, 77, -500, 12345, -(int64_t)B, (int64_t)B};
    uint8_t p[32];
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int64_t v = 3;
        henn_fe_point_mul_g(p, ks[i]);
        CHECK_OK(henn_fe_dlog_solve(&v, dl, p));
        CHECK_EQ_INT(v, ks[i]);
    }
    int64_t v = 3;
    henn_fe_point_mul_g(p, (int64_t)B + 1);
    CHECK_RC(henn_fe_dlog_solve(&v, dl, p), HENN_ERANGE);
}

static void test_dlog_persist(void)
{
    const uint64_t B = 2000000;
    henn_fe_dlog dl, back;
    uint8_t *buf = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    /* T = 1000 (spot checks) and T = 100 (every entry checked) */
    const uint64_t Ts[2] = {1000, 100};
    for (int t = 0; t < 2; t++) {
        CHECK_OK(henn_fe_dlog_init(&dl, B, Ts[t]));
        CHECK_OK(henn_fe_dlog_serialize(&buf, &len, &dl));
        CHECK_EQ_INT(len, henn_fe_dlog_serialized_len(&dl));
        CHECK_EQ_INT(len, 21 + 8 * (Ts[t] + 1) + (Ts[t] + 8) / 8 + 32);
        CHECK(memcmp(buf, "HFED\x01", 5) == 0);
        CHECK_OK(henn_fe_dlog_deserialize(&back, buf, len));
        CHECK_EQ_INT(back.bound, B);
        CHECK_EQ_INT(back.table_size, Ts[t]);
        dlog_check_solves(&back, B);
        CHECK_OK(henn_fe_dlog_serialize(&again, &len2, &back));
        CHECK(len2 == len && memcmp(again, buf, len) == 0);
        free(again);
        henn_fe_dlog_clear(&back);

        /* truncation, extension: refused, output zeroed */
        for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 997) {
            back.cap = 99;
            CHECK_RC(henn_fe_dlog_deserialize(&back, buf, cut), HENN_EFORMAT);
            CHECK(back.keys == NULL && back.cap == 0);
        }
        uint8_t *big = calloc(len + 1, 1);
        CHECK(big != NULL);
        memcpy(big, buf, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, big, len + 1), HENN_EFORMAT);
        free(big);

        /* one flipped bit anywhere: the checksum refuses it */
        for (size_t pos = 0; pos < len; pos += 1 + len / 37) {
            buf[pos] ^= 0x10;
            CHECK_RC(henn_fe_dlog_deserialize(&back, buf, len), HENN_EFORMAT);
            buf[pos] ^= 0x10;
        }
        /* forged: header fields with a recomputed checksum */
        uint8_t *f = malloc(len);
        CHECK(f != NULL);
        memcpy(f, buf, len);
        f[4] = 2; /* version */
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        memcpy(f, buf, len);
        f[13] = 1; /* B = 1 < T */
        memset(f + 14, 0, 7);
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        memcpy(f, buf, len);
        f[5] ^= 1; /* T changed: length no longer matches */
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        memcpy(f, buf, len);
        f[len - 33] |= 0x80; /* a padding bit (T + 1 is not a multiple of 8) */
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        /* forged entries with a recomputed checksum: entry 1 (always checked) */
        memcpy(f, buf, len);
        f[21 + 8] ^= 1;
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        /* the parity bit of entry T */
        memcpy(f, buf, len);
        size_t bits = 21 + 8 * (Ts[t] + 1);
        f[bits + Ts[t] / 8] ^= (uint8_t)(1u << (Ts[t] % 8));
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        /* half the keys replaced: caught by the random spot checks */
        memcpy(f, buf, len);
        for (uint64_t j = 2; j < Ts[t]; j += 2)
            f[21 + 8 * j + 3] ^= 0x5a;
        dlog_fix_sum(f, len);
        CHECK_RC(henn_fe_dlog_deserialize(&back, f, len), HENN_EFORMAT);
        /* a single swapped pair may slip past the spot checks of a large table; it
         * can then only make those values miss, never give a wrong one */
        if (Ts[t] == 1000) {
            memcpy(f, buf, len);
            uint8_t tmp[8];
            memcpy(tmp, f + 21 + 8 * 500, 8);
            memcpy(f + 21 + 8 * 500, f + 21 + 8 * 600, 8);
            memcpy(f + 21 + 8 * 600, tmp, 8);
            dlog_fix_sum(f, len);
            int rc = henn_fe_dlog_deserialize(&back, f, len);
            CHECK(rc == 0 || rc == HENN_EFORMAT);
            if (rc == 0) {
                uint8_t p[32];
                int64_t v = 0;
                henn_fe_point_mul_g(p, 500);
                rc = henn_fe_dlog_solve(&v, &back, p);
                CHECK(rc == HENN_ERANGE || (rc == 0 && v == 500));
                henn_fe_point_mul_g(p, 601);
                CHECK_OK(henn_fe_dlog_solve(&v, &back, p));
                CHECK_EQ_INT(v, 601);
                henn_fe_dlog_clear(&back);
            }
        }
        free(f);

        /* file round trip; missing file */
        char path[] = "/tmp/henn_test_dlog_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        close(fd);
        CHECK_OK(henn_fe_dlog_save(path, &dl));
        CHECK_OK(henn_fe_dlog_load(&back, path));
        dlog_check_solves(&back, B);
        henn_fe_dlog_clear(&back);
        FILE *fp = fopen(path, "r+b");
        CHECK(fp != NULL);
        CHECK(fseek(fp, 40, SEEK_SET) == 0 && fputc(0xee, fp) != EOF);
        fclose(fp);
        CHECK_RC(henn_fe_dlog_load(&back, path), HENN_EFORMAT);
        CHECK(truncate(path, 10) == 0);
        CHECK_RC(henn_fe_dlog_load(&back, path), HENN_EFORMAT);
        unlink(path);
        CHECK_RC(henn_fe_dlog_load(&back, path), HENN_EIO);
        CHECK(back.keys == NULL);

        free(buf);
        buf = NULL;
        henn_fe_dlog_clear(&dl);
    }
    henn_fe_dlog empty;
    memset(&empty, 0, sizeof empty);
    CHECK_RC(henn_fe_dlog_serialize(&buf, &len, &empty), HENN_EINVAL);
    CHECK_EQ_INT(henn_fe_dlog_serialized_len(&empty), 0);
    CHECK_RC(henn_fe_dlog_save("/tmp/henn_never_written", &empty), HENN_EINVAL);
}

/* The batch trick: keys and decryption on supports of one long ciphertext. */
static void test_feip_support(void)
{
    enum { B = 4, D = 5, N = B * D };
    const uint64_t X = 255, Y = 1000;
    henn_feip_mpk mpk;
    henn_feip_msk msk;
    henn_fe_dlog dl;
    CHECK_OK(henn_feip_setup(&mpk, &msk, N, X, Y));
    CHECK_OK(henn_fe_dlog_init(&dl, (uint64_t)D * X * Y, TABLE));
    int64_t x[N], y[N], full[N];
    for (size_t i = 0; i < N; i++)
        x[i] = rnd_signed(X);
    henn_feip_ct ct = {0}, ct2 = {0};
    CHECK_OK(henn_feip_encrypt_mt(&ct, &mpk, x, N, 3));
    CHECK_OK(henn_feip_encrypt(&ct2, &mpk, x, N));
    henn_feip_ct0_tab tab, tab2;
    CHECK_OK(henn_feip_ct0_tab_init(&tab, &ct));
    CHECK_OK(henn_feip_ct0_tab_init(&tab2, &ct2));
    /* rows (b, .) and columns (., k), with and without the table */
    for (size_t kind = 0; kind < 2; kind++)
        for (size_t s = 0; s < (kind == 0 ? B : D); s++) {
            size_t m = kind == 0 ? D : B, start = kind == 0 ? s * D : s, stride = kind == 0 ? 1 : D;
            for (size_t t = 0; t < m; t++)
                y[t] = rnd_signed(Y);
            y[0] = -(int64_t)Y;
            henn_feip_fk fk, fkf;
            CHECK_OK(henn_feip_derive_key_sub(&fk, &msk, y, m, start, stride));
            CHECK_EQ_INT(fk.n, N);
            /* the same key as the scheme's own for the zero-padded vector */
            memset(full, 0, sizeof full);
            int64_t want = 0;
            for (size_t t = 0; t < m; t++) {
                full[start + t * stride] = y[t];
                want += y[t] * x[start + t * stride];
            }
            CHECK_OK(henn_feip_derive_key(&fkf, &msk, full, N));
            CHECK(memcmp(fk.sk, fkf.sk, sizeof fk.sk) == 0);
            int64_t v = 1;
            CHECK_OK(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, m, start, stride));
            CHECK_EQ_INT(v, want);
            v = 1;
            CHECK_OK(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, NULL, &fk, y, m, start, stride));
            CHECK_EQ_INT(v, want);
            v = 1;
            CHECK_OK(henn_feip_decrypt(&v, &mpk, &dl, &ct2, &fkf, full, N));
            CHECK_EQ_INT(v, want);
            /* the key on another support, or with another y, gives no value */
            size_t other = kind == 0 ? (start + D) % N : (start + 1) % D;
            CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, m, other, stride),
                     HENN_ERANGE);
            CHECK_EQ_INT(v, 0);
            y[1] += y[1] == (int64_t)Y ? -1 : 1;
            CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, m, start, stride),
                     HENN_ERANGE);
            /* a table of another ciphertext */
            CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab2, &fk, y, m, start, stride),
                     HENN_EINVAL);
        }
    /* bad supports and bounds */
    henn_feip_fk fk;
    for (size_t t = 0; t < N; t++)
        y[t] = 1;
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, 0, 0, 1), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, 2, 0, 0), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, 1, N, 1), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, B + 1, 0, D), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, 2, N - 1, SIZE_MAX), HENN_EINVAL);
    CHECK_OK(henn_feip_derive_key_sub(&fk, &msk, y, N, 0, 1));
    int64_t v;
    CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, B, 1, D + 2), HENN_EINVAL);
    CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, N + 1, 0, 1), HENN_EINVAL);
    y[2] = (int64_t)Y + 1;
    CHECK_RC(henn_feip_derive_key_sub(&fk, &msk, y, 3, 0, 1), HENN_ERANGE);
    CHECK(fk.n == 0);
    CHECK_RC(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, &tab, &fk, y, 3, 0, 1), HENN_EINVAL);
    henn_feip_ct0_tab_clear(&tab2);
    CHECK_RC(henn_feip_ct0_tab_init(&tab2, NULL), HENN_EINVAL);
    henn_feip_ct0_tab_clear(&tab2);
    henn_feip_ct0_tab_clear(&tab2);
    /* multi-threaded decoding: the same points; corruption refused */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(henn_feip_ct_serialize(&buf, &len, &ct));
    {
        uint8_t *b2 = NULL;
        size_t l2 = 0;
        CHECK_OK(henn_feip_ct_serialize_mt(&b2, &l2, &ct, 3));
        CHECK(l2 == len && memcmp(b2, buf, len) == 0);
        henn_free(b2, l2);
    }
    henn_feip_ct back = {0};
    CHECK_OK(henn_feip_ct_deserialize_mt(&back, buf, len, 3));
    CHECK_EQ_INT(back.n, N);
    for (size_t i = 0; i <= N; i++)
        CHECK(decaf_255_point_eq(FE_CPT(&back.c[i]), FE_CPT(&ct.c[i])));
    henn_feip_ct_clear(&back);
    buf[len - 1] |= 0x80; /* top bit of the last point: >= 2^255 > p, never canonical
                            (a flipped byte elsewhere can still decode to a point) */
    CHECK_RC(henn_feip_ct_deserialize_mt(&back, buf, len, 3), HENN_EFORMAT);
    CHECK(back.c == NULL);
    henn_free(buf, len);
    henn_feip_ct0_tab_clear(&tab);
    henn_feip_ct_clear(&ct);
    henn_feip_ct_clear(&ct2);
    henn_feip_msk_clear(&msk);
    henn_feip_mpk_clear(&mpk);

    /* a long mpk keeps no comb tables; encryption still round-trips */
    const size_t LN = HENN_FE_TAB_MAX_N + 3;
    int64_t *lx = calloc(LN, sizeof *lx), ly[3] = {7, -9, 11};
    CHECK(lx != NULL);
    CHECK_OK(henn_feip_setup(&mpk, &msk, LN, X, Y));
    CHECK(mpk.tabs != NULL && mpk.tabs->h == NULL);
    for (size_t i = 0; i < LN; i++)
        lx[i] = rnd_signed(X);
    CHECK_OK(henn_feip_encrypt_mt(&ct, &mpk, lx, LN, 2));
    CHECK_OK(henn_feip_derive_key_sub(&fk, &msk, ly, 3, LN - 3, 1));
    CHECK_OK(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, NULL, &fk, ly, 3, LN - 3, 1));
    CHECK_EQ_INT(v, dot(lx + LN - 3, ly, 3));
    CHECK_OK(henn_feip_derive_key_sub(&fk, &msk, ly, 3, 0, LN / 2 - 1));
    CHECK_OK(henn_feip_decrypt_sub(&v, &mpk, &dl, &ct, NULL, &fk, ly, 3, 0, LN / 2 - 1));
    CHECK_EQ_INT(v, lx[0] * 7 - 9 * lx[LN / 2 - 1] + 11 * lx[2 * (LN / 2 - 1)]);
    free(lx);
    henn_feip_ct_clear(&ct);
    henn_feip_msk_clear(&msk);
    henn_feip_mpk_clear(&mpk);
    henn_fe_dlog_clear(&dl);
}

int main(void)
{
    rng_state = (uint64_t)test_seed() * 2654435761u + 1;
    test_dlog();
    test_msm();
    test_msm_ifma();
    test_affine();
    test_scalarmul();
    test_fixedbase();
    test_msm_prep();
    test_feip();
    test_feip_support();
    test_febo();
    test_feip_serialize();
    test_dlog_persist();
    return test_report("test_fe");
}
