/*
 * scalarmul_ifma.c: the constant-time k P of scalarmul.c (FEIP
 * decryption's sk c_0, k secret) with the four coordinates of a point in
 * the four 64-bit lanes of 256-bit vectors (AVX-512 VL and IFMA), so each
 * step of the group law is one vector product of four field elements.
 *
 * A point is five vectors, vector i holding limb i (51-bit radix) of
 * (X, Y, Z, T) in lanes 0..3. Both the doubling and the addition of a
 * cached point (edwards.h, Hisil, Wong, Carter, Dawson, Asiacrypt 2008,
 * section 3.1, a = -1) are two rounds of four products:
 *   doubling:  (X, Y, Z, X + Y)^2 = (A, B, Z^2, E');
 *   addition:  (Y - X, Y + X, Z, T) * (Y2 - X2, Y2 + X2, 2 Z2, 2 d T2)
 *              = (A, B, D, C);
 * then with E, F, G, H formed from those four lanes (doubling: E = E' - A
 * - B, G = B - A, F = G - 2 Z^2, H = -A - B; addition: E = B - A,
 * F = D - C, G = D + C, H = B + A) the one product (E, G, F, E) *
 * (F, H, G, H) = (X3, Y3, Z3, T3). The digits, the table and the
 * operation sequence are as in scalarmul.c: signed 4-bit windows, a table
 * of P..8P in cached form read by a masked scan of all eight entries and
 * negated by masks, four doublings and one addition per window. No branch
 * and no memory address depends on k; the products are multiply-adds
 * whose timing does not depend on their operands.
 */
#include <stdint.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define VT4 __attribute__((target("avx512f,avx512vl,avx512ifma")))
#define VI4 static inline __attribute__((always_inline)) VT4

typedef struct {
    __m256i v[5];
} fe4;

VI4 __m256i w_set1(uint64_t a)
{
    return _mm256_set1_epi64x((long long)a);
}

VI4 __m256i w_times19(__m256i c)
{
    return _mm256_add_epi64(_mm256_add_epi64(_mm256_slli_epi64(c, 4), _mm256_slli_epi64(c, 1)),
                            c);
}

/* one parallel carry round: limbs below 2^63 in, below 2^51 + 2^17 out */
VI4 void w_carry(fe4 *a)
{
    const __m256i m = w_set1(M51);
    __m256i c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = _mm256_srli_epi64(a->v[i], 51);
        a->v[i] = _mm256_and_si256(a->v[i], m);
    }
    a->v[0] = _mm256_add_epi64(a->v[0], w_times19(c[4]));
    for (int i = 1; i < 5; i++)
        a->v[i] = _mm256_add_epi64(a->v[i], c[i - 1]);
}

/* lane-wise r = a b (limbs below 2^52), as msm_ifma.c's v_mul */
VI4 void w_mul(fe4 *r, const fe4 *a, const fe4 *b)
{
    const __m256i z = _mm256_setzero_si256();
    __m256i lo[9], hi[9], col[10];
    for (int k = 0; k < 9; k++) {
        lo[k] = z;
        hi[k] = z;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            lo[i + j] = _mm256_madd52lo_epu64(lo[i + j], a->v[i], b->v[j]);
            hi[i + j] = _mm256_madd52hi_epu64(hi[i + j], a->v[i], b->v[j]);
        }
    col[0] = lo[0];
    for (int k = 1; k < 9; k++)
        col[k] = _mm256_add_epi64(lo[k], _mm256_slli_epi64(hi[k - 1], 1));
    col[9] = _mm256_slli_epi64(hi[8], 1);
    for (int k = 0; k < 5; k++)
        r->v[k] = _mm256_add_epi64(col[k], w_times19(col[k + 5]));
    w_carry(r);
}

/* lane-wise r = a k for per-lane constants k below 2^32 */
VI4 void w_mul_small(fe4 *r, const fe4 *a, __m256i k)
{
    const __m256i z = _mm256_setzero_si256();
    __m256i lo[5], hi[5];
    for (int i = 0; i < 5; i++) {
        lo[i] = _mm256_madd52lo_epu64(z, a->v[i], k);
        hi[i] = _mm256_madd52hi_epu64(z, a->v[i], k);
    }
    r->v[0] = _mm256_add_epi64(lo[0], w_times19(_mm256_slli_epi64(hi[4], 1)));
    for (int i = 1; i < 5; i++)
        r->v[i] = _mm256_add_epi64(lo[i], _mm256_slli_epi64(hi[i - 1], 1));
    w_carry(r);
}

/* lane j of every limb vector, broadcast (imm: 0x00, 0x55, 0xaa, 0xff) */
#define W_BCAST(r, a, imm)                                                                         \
    do {                                                                                           \
        for (int i_ = 0; i_ < 5; i_++)                                                             \
            (r)->v[i_] = _mm256_permute4x64_epi64((a)->v[i_], (imm));                              \
    } while (0)

/* r = lanes of b where mask is set, of a elsewhere */
VI4 void w_blend(fe4 *r, const fe4 *a, const fe4 *b, __mmask8 mask)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = _mm256_mask_blend_epi64(mask, a->v[i], b->v[i]);
}

/* r = sum_t s_t x_t + bias (a multiple of p), carried; s_t in {+1, -1} */
VI4 void w_lin2(fe4 *r, const fe4 *x, int sx, const fe4 *y, int sy, int bias4)
{
    /* 4p (limbs 2^53 - 76, 2^53 - 4) or 2p: covers the subtracted terms
     * (each below 2^51 + 2^17) */
    const __m256i p0 = w_set1(bias4 ? 0x1fffffffffffb4ULL : 0xfffffffffffdaULL);
    const __m256i p1 = w_set1(bias4 ? 0x1ffffffffffffcULL : 0xffffffffffffeULL);
    for (int i = 0; i < 5; i++) {
        __m256i t = i == 0 ? p0 : p1;
        t = sx > 0 ? _mm256_add_epi64(t, x->v[i]) : _mm256_sub_epi64(t, x->v[i]);
        t = sy > 0 ? _mm256_add_epi64(t, y->v[i]) : _mm256_sub_epi64(t, y->v[i]);
        r->v[i] = t;
    }
    w_carry(r);
}

/* r = 4p - x, carried (x limbs below 2^53 - 76) */
VI4 void w_neg(fe4 *r, const fe4 *x)
{
    const __m256i p0 = w_set1(0x1fffffffffffb4ULL), p1 = w_set1(0x1ffffffffffffcULL);
    for (int i = 0; i < 5; i++)
        r->v[i] = _mm256_sub_epi64(i == 0 ? p0 : p1, x->v[i]);
    w_carry(r);
}

/*
 * From the four lanes (l0, l1, l2, l3) of a first-round product, the
 * operands (E, G, F, E) and (F, H, G, H) of the second round.
 * dbl: (A, B, Z^2, E'): E = E' - A - B, G = B - A, F = G - 2 Z^2, H = -A - B.
 * add: (A, B, D, C): E = B - A, F = D - C, G = D + C, H = B + A.
 */
VI4 void w_second(fe4 *L, fe4 *R, const fe4 *m, int dbl)
{
    fe4 a, b, c, d, E, F, G, H, t;
    W_BCAST(&a, m, 0x00);
    W_BCAST(&b, m, 0x55);
    W_BCAST(&c, m, 0xaa);
    W_BCAST(&d, m, 0xff);
    if (dbl) {
        /* a = A, b = B, c = Z^2, d = E' */
        w_lin2(&t, &a, 1, &b, 1, 0);  /* A + B */
        w_lin2(&E, &d, 1, &t, -1, 1); /* E' - (A + B) */
        w_neg(&H, &t);                /* -(A + B) */
        w_lin2(&G, &b, 1, &a, -1, 0); /* B - A */
        w_lin2(&t, &c, 1, &c, 1, 0);  /* 2 Z^2 */
        w_lin2(&F, &G, 1, &t, -1, 1); /* G - 2 Z^2 */
    } else {
        /* a = A, b = B, c = D, d = C */
        w_lin2(&E, &b, 1, &a, -1, 0);
        w_lin2(&H, &b, 1, &a, 1, 0);
        w_lin2(&F, &c, 1, &d, -1, 0);
        w_lin2(&G, &c, 1, &d, 1, 0);
    }
    /* L = (E, G, F, E), R = (F, H, G, H) */
    w_blend(L, &E, &G, 0x2);
    w_blend(L, L, &F, 0x4);
    w_blend(R, &F, &H, 0xa);
    w_blend(R, R, &G, 0x4);
}

/* p = 2 p, lanes (X, Y, Z, T) */
VI4 void w_dbl(fe4 *p)
{
    fe4 x, y, s, m, L, R;
    W_BCAST(&x, p, 0x00);
    W_BCAST(&y, p, 0x55);
    w_lin2(&s, &x, 1, &y, 1, 0);  /* X + Y in every lane */
    w_blend(&s, p, &s, 0x8);      /* (X, Y, Z, X + Y) */
    w_mul(&m, &s, &s);
    w_second(&L, &R, &m, 1);
    w_mul(p, &L, &R);
}

/* (Y - X, Y + X, Z, T) of p */
VI4 void w_left(fe4 *r, const fe4 *p)
{
    fe4 x, y, d, s;
    W_BCAST(&x, p, 0x00);
    W_BCAST(&y, p, 0x55);
    w_lin2(&d, &y, 1, &x, -1, 0);
    w_lin2(&s, &y, 1, &x, 1, 0);
    w_blend(r, p, &d, 0x1);
    w_blend(r, r, &s, 0x2);
}

/* p += q, q cached (Y2 - X2, Y2 + X2, 2 Z2, 2 d T2) */
VI4 void w_add_cached(fe4 *p, const fe4 *q)
{
    fe4 l, m, L, R;
    w_left(&l, p);
    w_mul(&m, &l, q);
    w_second(&L, &R, &m, 0);
    w_mul(p, &L, &R);
}

/* the cached form of p */
VI4 void w_to_cached(fe4 *r, const fe4 *p)
{
    fe4 l;
    w_left(&l, p);
    w_mul_small(r, &l, _mm256_set_epi64x(2 * CURVE_D, 2, 1, 1));
}

VT4 static void scalarmul4(struct decaf_255_point_s *out, const struct decaf_255_point_s *pt,
                           const int32_t e[64], fe4 *tab, fe4 *acc, fe4 *sel)
{
    const __m256i zero = _mm256_setzero_si256();
    fe4 p;
    uint64_t lim[4][5];
    for (int i = 0; i < 5; i++) {
        lim[0][i] = pt->x->limb[i];
        lim[1][i] = pt->y->limb[i];
        lim[2][i] = pt->z->limb[i];
        lim[3][i] = pt->t->limb[i];
    }
    for (int i = 0; i < 5; i++)
        p.v[i] = _mm256_set_epi64x((long long)lim[3][i], (long long)lim[2][i],
                                   (long long)lim[1][i], (long long)lim[0][i]);
    w_carry(&p); /* libdecaf's limbs, carried below 2^52 */
    /* tab[k - 1] = k P, cached */
    *acc = p;
    w_to_cached(&tab[0], &p);
    w_dbl(acc);
    w_to_cached(&tab[1], acc);
    for (int j = 2; j < 8; j++) {
        w_add_cached(acc, &tab[0]);
        w_to_cached(&tab[j], acc);
    }
    /* the identity (0, 1, 1, 0); its cached form (1, 1, 2, 0) */
    const __m256i id0 = _mm256_set_epi64x(0, 1, 1, 0), cid0 = _mm256_set_epi64x(0, 2, 1, 1);
    for (int w = 63; w >= 0; w--) {
        if (w != 63)
            for (int d = 0; d < 4; d++)
                w_dbl(acc);
        else
            for (int i = 0; i < 5; i++)
                acc->v[i] = i == 0 ? id0 : zero;
        /* sel = |e| P by a masked scan of all eight entries */
        const uint32_t neg = (uint32_t)e[w] >> 31;
        const uint32_t a = ((uint32_t)e[w] ^ (0u - neg)) + neg;
        for (int i = 0; i < 5; i++)
            sel->v[i] = i == 0 ? cid0 : zero;
        for (uint32_t k = 1; k <= 8; k++) {
            const uint64_t eq = (uint64_t)(((a ^ k) - 1) >> 31); /* 1 iff a == k */
            const __m256i mk = w_set1(0 - eq);
            for (int i = 0; i < 5; i++)
                sel->v[i] = _mm256_or_si256(_mm256_andnot_si256(mk, sel->v[i]),
                                            _mm256_and_si256(mk, tab[k - 1].v[i]));
        }
        /* -Q: lanes 0 and 1 swapped, lane 3 negated (4p - t), by masks */
        fe4 m, nt;
        for (int i = 0; i < 5; i++)
            m.v[i] = _mm256_permute4x64_epi64(sel->v[i], 0xe1); /* (1, 0, 2, 3) */
        w_neg(&nt, sel);
        w_blend(&m, &m, &nt, 0x8);
        const __m256i mn = w_set1(0 - (uint64_t)neg);
        for (int i = 0; i < 5; i++)
            sel->v[i] = _mm256_or_si256(_mm256_andnot_si256(mn, sel->v[i]),
                                        _mm256_and_si256(mn, m.v[i]));
        w_add_cached(acc, sel);
        henn_memzero(&m, sizeof m);
        henn_memzero(&nt, sizeof nt);
    }
    uint64_t o[4][4];
    ext_pt r;
    for (int i = 0; i < 5; i++) {
        _mm256_storeu_si256((__m256i *)(void *)o[0], acc->v[i]);
        r.x.v[i] = o[0][0];
        r.y.v[i] = o[0][1];
        r.z.v[i] = o[0][2];
        r.t.v[i] = o[0][3];
    }
    ext_store(out, &r);
    henn_memzero(o, sizeof o);
    henn_memzero(&r, sizeof r);
    henn_memzero(&p, sizeof p);
}

int henn__fe_scalarmul_ct_ifma(struct decaf_255_point_s *out, const struct decaf_255_point_s *p,
                               const int32_t e[64])
{
    if (!henn__fe_ifma_cpu())
        return HENN_EPARAM;
    /* secrets in memory we wipe: the table, the accumulator, the entry */
    fe4 tab[8], acc, sel;
    scalarmul4(out, p, e, tab, &acc, &sel);
    henn_memzero(tab, sizeof tab);
    henn_memzero(&acc, sizeof acc);
    henn_memzero(&sel, sizeof sel);
    return 0;
}

#else

int henn__fe_scalarmul_ct_ifma(struct decaf_255_point_s *out, const struct decaf_255_point_s *p,
                               const int32_t e[64])
{
    (void)out;
    (void)p;
    (void)e;
    return HENN_EPARAM;
}

#endif
