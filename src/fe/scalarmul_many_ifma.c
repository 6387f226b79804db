/*
 * scalarmul_many_ifma.c: k P_l for ONE secret scalar k and eight points
 * P_l, one point per lane of the eight-lane AVX-512 IFMA arithmetic
 * (ifma8.h). FEIP encryption of a long vector draws one r for the whole
 * vector, so c_i = r h_i + x_i g multiplies every h_i by the same r.
 *
 * The digits and the operation sequence are scalarmul.c's (signed 4-bit
 * windows e_w in [-8, 8], a table of P..8P in cached form per lane, four
 * doublings and one cached addition per window); the lanes differ only in
 * their points. e_w is the same for every lane: entry |e_w| is chosen by a
 * scan of all eight entries with masks that are all ones or all zero
 * (computed without a branch), negated by masks, so no branch and no
 * memory address depends on k. Doublings (Hisil, Wong, Carter, Dawson,
 * Asiacrypt 2008, section 3.1, a = -1) square with 15 products instead of
 * 25. Same group elements as henn__fe_scalarmul_ct (tests/fe compares the
 * encodings). The accumulators, selected entries and digits are wiped.
 */
#include <stdint.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include "fe/ifma8.h"

typedef struct {
    fe8 ypx, ymx, z2, t2d;
} cached8;

/* r = a^2: the ten cross products once and doubled, then the five squares
 * (limbs of a below 2^52; columns as in v_mul) */
VI void v_sq(fe8 *r, const fe8 *a)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i lo[9], hi[9], col[10];
    for (int k = 0; k < 9; k++) {
        lo[k] = z;
        hi[k] = z;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a->v[i], a->v[j]);
            hi[i + j] = _mm512_madd52hi_epu64(hi[i + j], a->v[i], a->v[j]);
        }
    for (int k = 0; k < 9; k++) {
        lo[k] = _mm512_slli_epi64(lo[k], 1);
        hi[k] = _mm512_slli_epi64(hi[k], 1);
    }
    for (int i = 0; i < 5; i++) {
        lo[2 * i] = _mm512_madd52lo_epu64(lo[2 * i], a->v[i], a->v[i]);
        hi[2 * i] = _mm512_madd52hi_epu64(hi[2 * i], a->v[i], a->v[i]);
    }
    col[0] = lo[0];
    for (int k = 1; k < 9; k++)
        col[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k - 1], 1));
    col[9] = _mm512_slli_epi64(hi[8], 1);
    for (int k = 0; k < 5; k++)
        r->v[k] = _mm512_add_epi64(col[k], v_times19(col[k + 5]));
    v_carry(r);
}

/* p = 2 p (edwards.h dbl_ext_t, eight lanes; T only when with_t) */
VI void v_dbl(ext8 *p, int with_t)
{
    const __m512i zero = _mm512_setzero_si512();
    const fe8 fzero = {{zero, zero, zero, zero, zero}};
    fe8 a, b, c, e, f, g, h, s, t;
    v_sq(&a, &p->x);
    v_sq(&b, &p->y);
    v_sq(&c, &p->z);
    v_add(&s, &p->x, &p->y);
    v_sq(&e, &s);
    v_add(&t, &a, &b);
    v_sub(&e, &e, &t);   /* E = (X + Y)^2 - A - B */
    v_sub(&g, &b, &a);   /* G = B - A */
    v_add(&c, &c, &c);   /* C = 2 Z^2 */
    v_sub(&f, &g, &c);   /* F = G - C */
    v_sub(&h, &fzero, &t); /* H = -A - B */
    v_mul(&p->x, &e, &f);
    v_mul(&p->y, &g, &h);
    if (with_t)
        v_mul(&p->t, &e, &h);
    v_mul(&p->z, &f, &g);
}

/* r += q, q cached (edwards.h add_cached, eight lanes) */
VI void v_add_cached(ext8 *r, const cached8 *q)
{
    fe8 a, b, c, d, e, f, g, h;
    v_sub(&e, &r->y, &r->x);
    v_add(&f, &r->y, &r->x);
    v_mul(&a, &e, &q->ymx);
    v_mul(&b, &f, &q->ypx);
    v_mul(&c, &r->t, &q->t2d);
    v_mul(&d, &r->z, &q->z2);
    v_sub(&e, &b, &a);
    v_add(&h, &b, &a);
    v_sub(&f, &d, &c);
    v_add(&g, &d, &c);
    v_mul(&r->x, &e, &f);
    v_mul(&r->y, &g, &h);
    v_mul(&r->t, &e, &h);
    v_mul(&r->z, &f, &g);
}

VI void v_to_cached(cached8 *r, const ext8 *p)
{
    v_add(&r->ypx, &p->y, &p->x);
    v_sub(&r->ymx, &p->y, &p->x);
    v_add(&r->z2, &p->z, &p->z);
    v_mul_small(&r->t2d, &p->t, 2 * CURVE_D);
}

VI void v_blend_cached(cached8 *r, const cached8 *a, __mmask8 m)
{
    for (int i = 0; i < 5; i++) {
        r->ypx.v[i] = _mm512_mask_blend_epi64(m, r->ypx.v[i], a->ypx.v[i]);
        r->ymx.v[i] = _mm512_mask_blend_epi64(m, r->ymx.v[i], a->ymx.v[i]);
        r->z2.v[i] = _mm512_mask_blend_epi64(m, r->z2.v[i], a->z2.v[i]);
        r->t2d.v[i] = _mm512_mask_blend_epi64(m, r->t2d.v[i], a->t2d.v[i]);
    }
}

VT static void mul8(uint64_t st[20 * 8], const uint64_t in[20 * 8], const int32_t e[64],
                    cached8 tab[8], ext8 *acc, cached8 *sel, cached8 *neg)
{
    const __m512i zero = _mm512_setzero_si512(), one = v_set1(1), two = v_set1(2);
    const fe8 fzero = {{zero, zero, zero, zero, zero}};
    ext8 p;
    for (int i = 0; i < 5; i++) {
        p.x.v[i] = _mm512_load_si512((const void *)(in + 8 * i));
        p.y.v[i] = _mm512_load_si512((const void *)(in + 8 * (5 + i)));
        p.z.v[i] = _mm512_load_si512((const void *)(in + 8 * (10 + i)));
        p.t.v[i] = _mm512_load_si512((const void *)(in + 8 * (15 + i)));
    }
    v_carry(&p.x); /* libdecaf's limbs, carried below 2^52 */
    v_carry(&p.y);
    v_carry(&p.z);
    v_carry(&p.t);
    /* tab[j] = (j + 1) P, cached */
    *acc = p;
    v_to_cached(&tab[0], &p);
    v_dbl(acc, 1);
    v_to_cached(&tab[1], acc);
    for (int j = 2; j < 8; j++) {
        v_add_cached(acc, &tab[0]);
        v_to_cached(&tab[j], acc);
    }
    v_identity(acc);
    for (int w = 63; w >= 0; w--) {
        if (w != 63) {
            v_dbl(acc, 0);
            v_dbl(acc, 0);
            v_dbl(acc, 0);
            v_dbl(acc, 1);
        }
        const uint32_t ng = (uint32_t)e[w] >> 31;
        const uint32_t a = ((uint32_t)e[w] ^ (0u - ng)) + ng; /* |e| */
        /* the identity (1, 1, 2, 0), then every entry under a mask that is
         * all ones for entry |e| and zero for the others */
        for (int i = 0; i < 5; i++) {
            sel->ypx.v[i] = i == 0 ? one : zero;
            sel->ymx.v[i] = i == 0 ? one : zero;
            sel->z2.v[i] = i == 0 ? two : zero;
            sel->t2d.v[i] = zero;
        }
        for (uint32_t k = 1; k <= 8; k++) {
            const uint32_t eq = ((a ^ k) - 1) >> 31; /* 1 iff a == k */
            v_blend_cached(sel, &tab[k - 1], (__mmask8)(0u - eq));
        }
        /* -Q = (Y - X, Y + X, 2 Z, -2 d T) */
        neg->ypx = sel->ymx;
        neg->ymx = sel->ypx;
        neg->z2 = sel->z2;
        v_sub(&neg->t2d, &fzero, &sel->t2d);
        v_blend_cached(sel, neg, (__mmask8)(0u - ng));
        v_add_cached(acc, sel);
    }
    for (int i = 0; i < 5; i++) {
        _mm512_store_si512((void *)(st + 8 * i), acc->x.v[i]);
        _mm512_store_si512((void *)(st + 8 * (5 + i)), acc->y.v[i]);
        _mm512_store_si512((void *)(st + 8 * (10 + i)), acc->z.v[i]);
        _mm512_store_si512((void *)(st + 8 * (15 + i)), acc->t.v[i]);
    }
}

int henn__fe_scalarmul_ct8_ifma(henn_fe_elem *out, const henn_fe_elem *p, size_t cnt,
                                const int32_t e[64])
{
    if (!henn__fe_ifma_cpu())
        return HENN_EPARAM;
    if (cnt == 0 || cnt > 8)
        return HENN_EINVAL;
    _Alignas(64) uint64_t in[20 * 8], st[20 * 8];
    /* lanes past cnt: the base point (their results are not written) */
    for (size_t l = 0; l < 8; l++) {
        const struct decaf_255_point_s *q =
            l < cnt ? FE_CPT(&p[l]) : (const struct decaf_255_point_s *)decaf_255_point_base;
        for (size_t i = 0; i < 5; i++) {
            in[8 * i + l] = q->x->limb[i];
            in[8 * (5 + i) + l] = q->y->limb[i];
            in[8 * (10 + i) + l] = q->z->limb[i];
            in[8 * (15 + i) + l] = q->t->limb[i];
        }
    }
    cached8 tab[8], sel, neg;
    ext8 acc;
    mul8(st, in, e, tab, &acc, &sel, &neg);
    for (size_t l = 0; l < cnt; l++) {
        ext_pt r;
        for (size_t i = 0; i < 5; i++) {
            r.x.v[i] = st[8 * i + l];
            r.y.v[i] = st[8 * (5 + i) + l];
            r.z.v[i] = st[8 * (10 + i) + l];
            r.t.v[i] = st[8 * (15 + i) + l];
        }
        ext_store(FE_PT(&out[l]), &r);
        henn_memzero(&r, sizeof r);
    }
    henn_memzero(st, sizeof st);
    henn_memzero(&acc, sizeof acc);
    henn_memzero(&sel, sizeof sel);
    henn_memzero(&neg, sizeof neg);
    henn_memzero(tab, sizeof tab);
    return 0;
}

#else

int henn__fe_scalarmul_ct8_ifma(henn_fe_elem *out, const henn_fe_elem *p, size_t cnt,
                                const int32_t e[64])
{
    (void)out;
    (void)p;
    (void)cnt;
    (void)e;
    return HENN_EPARAM;
}

#endif
