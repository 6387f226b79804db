/*
 * fixedbase_ifma.c: fixedbase.c's comb eight scalars at a time, one scalar
 * per lane of the eight-lane AVX-512 IFMA arithmetic (ifma8.h). All lanes
 * share the table (one point P, e.g. a batch ciphertext's c_0), so window
 * w costs one mixed addition of eight points (7 vector products) and the
 * selection of eight entries:
 *  - limb i of the 16 entries of window w is two 512-bit vectors; lane l
 *    takes entry |e_l| - 1 with vpermi2q (_mm512_permutex2var_epi64), a
 *    register permutation that reads all 16 entries whatever the index and
 *    takes the same time for every index (the same property constant-time
 *    code relies on for vpshufb table lookups); no memory address depends
 *    on the digits: every window's 15 x 16 limbs are loaded in full;
 *  - lanes with e_l < 0 swap y + x and y - x and negate 2 d x y, lanes
 *    with e_l = 0 take the identity (1, 1, 0), by mask blends whose masks
 *    come from vector compares (no branch on the digits).
 * Same digits, same table and the same addition formula as
 * henn__fe_fb_mul_scalar: the same group elements (tests/fe compares the
 * encodings). The digits, masks, selected entries and accumulators are
 * wiped.
 */
#include <stdint.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include "fe/ifma8.h"

/* the eight lanes' products, with their secret temporaries in memory the
 * caller wipes */
VT static void mul8(uint64_t st[20 * 8], const uint64_t *tab, const int64_t dig[][8],
                    ext8 *acc, niels8 *sel, fe8 *nt)
{
    const __m512i zero = _mm512_setzero_si512(), one = v_set1(1), m4 = v_set1(15);
    const fe8 fzero = {{zero, zero, zero, zero, zero}};
    v_identity(acc);
    for (int w = 0; w < HENN__FE_FB_WINDOWS; w++) {
        const uint64_t *tw = tab + (size_t)w * 15 * 16;
        const __m512i e = _mm512_loadu_si512((const void *)dig[w]);
        const __mmask8 isneg = _mm512_cmplt_epi64_mask(e, zero);
        const __mmask8 iszero = _mm512_cmpeq_epi64_mask(e, zero);
        /* |e| - 1 in the low four bits (e = 0 gives 15, replaced below) */
        const __m512i idx = _mm512_and_si512(_mm512_sub_epi64(_mm512_abs_epi64(e), one), m4);
        __m512i v[15];
        for (int i = 0; i < 15; i++) {
            const __m512i lo = _mm512_load_si512((const void *)(tw + 16 * i));
            const __m512i hi = _mm512_load_si512((const void *)(tw + 16 * i + 8));
            v[i] = _mm512_permutex2var_epi64(lo, idx, hi);
        }
        for (int i = 0; i < 5; i++) {
            /* -Q = (y - x, y + x, -2 d x y) in the lanes of isneg */
            sel->ypx.v[i] = _mm512_mask_blend_epi64(isneg, v[i], v[5 + i]);
            sel->ymx.v[i] = _mm512_mask_blend_epi64(isneg, v[5 + i], v[i]);
            sel->t2d.v[i] = v[10 + i];
        }
        v_sub(nt, &fzero, &sel->t2d);
        for (int i = 0; i < 5; i++) {
            sel->t2d.v[i] = _mm512_mask_blend_epi64(isneg, sel->t2d.v[i], nt->v[i]);
            /* the identity (1, 1, 0) in the lanes of iszero */
            const __m512i id = i == 0 ? one : zero;
            sel->ypx.v[i] = _mm512_mask_blend_epi64(iszero, sel->ypx.v[i], id);
            sel->ymx.v[i] = _mm512_mask_blend_epi64(iszero, sel->ymx.v[i], id);
            sel->t2d.v[i] = _mm512_mask_blend_epi64(iszero, sel->t2d.v[i], zero);
        }
        v_add_niels(acc, sel);
    }
    for (int i = 0; i < 5; i++) {
        _mm512_store_si512((void *)(st + 8 * i), acc->x.v[i]);
        _mm512_store_si512((void *)(st + 8 * (5 + i)), acc->y.v[i]);
        _mm512_store_si512((void *)(st + 8 * (10 + i)), acc->z.v[i]);
        _mm512_store_si512((void *)(st + 8 * (15 + i)), acc->t.v[i]);
    }
}

int henn__fe_fb_mul8_ifma(henn_fe_elem *out, const struct henn__fe_fb *fb, const uint8_t *k,
                          size_t cnt)
{
    if (!henn__fe_ifma_cpu())
        return HENN_EPARAM;
    if (cnt == 0 || cnt > 8)
        return HENN_EINVAL;
    /* digits lane by lane; lanes past cnt hold 0 (the identity) */
    _Alignas(64) int64_t dig[HENN__FE_FB_WINDOWS][8];
    _Alignas(64) uint64_t st[20 * 8];
    int32_t e[HENN__FE_FB_WINDOWS];
    memset(dig, 0, sizeof dig);
    for (size_t l = 0; l < cnt; l++) {
        henn__fe_fb_digits(e, k + l * HENN_FE_SCALARBYTES);
        for (int w = 0; w < HENN__FE_FB_WINDOWS; w++)
            dig[w][l] = e[w];
    }
    ext8 acc;
    niels8 sel;
    fe8 nt;
    mul8(st, henn__fe_fb_table(fb), (const int64_t(*)[8])dig, &acc, &sel, &nt);
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
    henn_memzero(dig, sizeof dig);
    henn_memzero(st, sizeof st);
    henn_memzero(e, sizeof e);
    henn_memzero(&acc, sizeof acc);
    henn_memzero(&sel, sizeof sel);
    henn_memzero(&nt, sizeof nt);
    return 0;
}

#else

int henn__fe_fb_mul8_ifma(henn_fe_elem *out, const struct henn__fe_fb *fb, const uint8_t *k,
                          size_t cnt)
{
    (void)out;
    (void)fb;
    (void)k;
    (void)cnt;
    return HENN_EPARAM;
}

#endif
