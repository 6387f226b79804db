/*
 * fixedbase.c: k P for many secret scalars k and ONE public point P (FEIP
 * decryption's sk_y c_0: every key of a batch ciphertext multiplies the
 * same c_0), from a comb table of P built once.
 *
 * Signed radix-32 digits: k = sum_{w < 51} e_w 32^w, e_w in [-16, 16]
 * (recoded without branches; e_50 <= 8 since k < l < 2^253). The table
 * holds every k 32^w P (k = 1..16, w = 0..50) in affine niels form
 * (y + x, y - x, 2 d x y), so k P = sum_w e_w 32^w P is 51 mixed additions
 * (7 products each, edwards.h add_niels) and no doubling. Entry e_w is
 * read by a masked scan of all 16 entries of window w (here) or by a
 * lane-wise register permutation of all 16 (fixedbase_ifma.c, eight
 * scalars at once); its sign by masks; e_w = 0 selects the identity
 * (1, 1, 0) by mask. The sequence of operations and every memory address
 * read are independent of k. The table depends on P only (public: c_0 is
 * part of the ciphertext); the digits, the selected entries and the
 * accumulators are secret and wiped.
 *
 * Layout: window w, limb i (0..4 of y + x, 5..9 of y - x, 10..14 of
 * 2 d x y), entry j (j = |e| - 1) at tab[(w 15 + i) 16 + j]: the 16
 * entries of one limb are two 512-bit vectors, as the eight-lane code
 * reads them. 51 x 15 x 16 x 8 = 97,920 bytes, 64-byte aligned.
 *
 * Built in about 0.3 ms (816 points, one batch inversion). Only after
 * henn__fe_layout_ok() accepted the build.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

struct henn__fe_fb {
    uint64_t *tab; /* HENN__FE_FB_WINDOWS x 15 x 16 limbs */
};

size_t henn__fe_fb_table_limbs(void)
{
    return (size_t)HENN__FE_FB_WINDOWS * 15 * 16;
}

const uint64_t *henn__fe_fb_table(const struct henn__fe_fb *fb)
{
    return fb->tab;
}

void henn__fe_fb_digits(int32_t e[HENN__FE_FB_WINDOWS], const uint8_t k[HENN_FE_SCALARBYTES])
{
    int32_t carry = 0;
    for (int w = 0; w < HENN__FE_FB_WINDOWS; w++) {
        const unsigned b = 5u * (unsigned)w, at = b >> 3;
        /* bits b .. b + 4 from two bytes (the index depends on w only) */
        uint32_t two = k[at];
        if (at + 1 < HENN_FE_SCALARBYTES)
            two |= (uint32_t)k[at + 1] << 8;
        int32_t d = (int32_t)((two >> (b & 7)) & 31) + carry; /* [0, 32] */
        carry = (d + 16) >> 5;                                /* d >= 16 */
        e[w] = d - carry * 32;                                /* [-16, 15] */
    }
    /* k < 2^253: the last window holds bits 250..252, so no carry is left
     * beyond it (e[50] <= 8) */
    henn_memzero(&carry, sizeof carry);
}

void henn__fe_fb_free(struct henn__fe_fb *fb)
{
    if (fb == NULL)
        return;
    if (fb->tab != NULL) {
        henn_memzero(fb->tab, henn__fe_fb_table_limbs() * sizeof(uint64_t));
        free(fb->tab);
    }
    free(fb);
}

int henn__fe_fb_init(struct henn__fe_fb **out, const struct decaf_255_point_s *p)
{
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (p == NULL)
        return HENN_EINVAL;
    enum { W = HENN__FE_FB_WINDOWS, NP = HENN__FE_FB_WINDOWS * 16 };
    struct henn__fe_fb *fb = calloc(1, sizeof *fb);
    ext_pt *pts = malloc(NP * sizeof *pts);
    fe25519 *acc = malloc(NP * sizeof *acc);
    size_t bytes = henn__fe_fb_table_limbs() * sizeof(uint64_t);
    if (fb != NULL)
        fb->tab = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (fb == NULL || fb->tab == NULL || pts == NULL || acc == NULL) {
        henn__fe_fb_free(fb);
        free(pts);
        free(acc);
        return HENN_ENOMEM;
    }
    /* pts[16 w + j] = (j + 1) 32^w P, projective */
    ext_pt base, run;
    cached_pt bc;
    ext_load(&base, p);
    for (int w = 0; w < W; w++) {
        pts[16 * w] = base;
        to_cached(&bc, &base);
        run = base;
        for (int j = 1; j < 16; j++) {
            add_cached(&run, &run, &bc);
            pts[16 * w + j] = run;
        }
        dbl_ext(&base, &run); /* 32 (32^w P) */
    }
    /* one inversion for all Z (Montgomery's trick) */
    for (int i = 0; i < NP; i++) {
        if (i == 0)
            acc[0] = pts[0].z;
        else
            fe_mul(&acc[i], &acc[i - 1], &pts[i].z);
    }
    fe25519 inv, zi, x, y, t;
    fe_invert(&inv, &acc[NP - 1]);
    for (int i = NP; i-- > 0;) {
        if (i > 0) {
            fe_mul(&zi, &inv, &acc[i - 1]);
            fe_mul(&inv, &inv, &pts[i].z);
        } else {
            zi = inv;
        }
        fe_mul(&x, &pts[i].x, &zi);
        fe_mul(&y, &pts[i].y, &zi);
        fe_mul(&t, &x, &y);
        fe25519 c[3];
        fe_add(&c[0], &y, &x);
        fe_sub(&c[1], &y, &x);
        fe_mul_small(&c[2], &t, 2 * CURVE_D);
        const int w = i / 16, j = i % 16;
        for (int f = 0; f < 3; f++) {
            fe_freeze(&c[f]);
            for (int l = 0; l < 5; l++)
                fb->tab[((size_t)w * 15 + (size_t)(5 * f + l)) * 16 + (size_t)j] = c[f].v[l];
        }
    }
    free(pts);
    free(acc);
    *out = fb;
    return 0;
}

/* 0 - 1 if a == b else 0, without a branch (a, b < 2^31) */
static uint64_t eq_mask(uint32_t a, uint32_t b)
{
    return 0 - (uint64_t)(((a ^ b) - 1) >> 31);
}

/* r = e 32^w P from the table, |e| <= 16, without branch or index on e */
static void select_entry(niels_pt *r, const uint64_t *tw, int32_t e)
{
    static const fe25519 zero = {{0, 0, 0, 0, 0}};
    const uint32_t neg = (uint32_t)e >> 31;
    const uint32_t a = ((uint32_t)e ^ (0u - neg)) + neg; /* |e| */
    /* the identity (1, 1, 0) for e = 0 */
    memset(r, 0, sizeof *r);
    r->ypx.v[0] = 1;
    r->ymx.v[0] = 1;
    for (uint32_t j = 0; j < 16; j++) {
        const uint64_t m = eq_mask(a, j + 1);
        for (int l = 0; l < 5; l++) {
            r->ypx.v[l] ^= m & (r->ypx.v[l] ^ tw[(size_t)l * 16 + j]);
            r->ymx.v[l] ^= m & (r->ymx.v[l] ^ tw[(size_t)(5 + l) * 16 + j]);
            r->t2d.v[l] ^= m & (r->t2d.v[l] ^ tw[(size_t)(10 + l) * 16 + j]);
        }
    }
    /* -Q = (y - x, y + x, -2 d x y) */
    const uint64_t nm = 0 - (uint64_t)neg;
    niels_pt n;
    n.ypx = r->ymx;
    n.ymx = r->ypx;
    fe_sub(&n.t2d, &zero, &r->t2d);
    fe_carry(&n.t2d);
    fe_cmov(&r->ypx, &n.ypx, nm);
    fe_cmov(&r->ymx, &n.ymx, nm);
    fe_cmov(&r->t2d, &n.t2d, nm);
    henn_memzero(&n, sizeof n);
}

void henn__fe_fb_mul_scalar(struct decaf_255_point_s *out, const struct henn__fe_fb *fb,
                            const uint8_t k[HENN_FE_SCALARBYTES])
{
    int32_t e[HENN__FE_FB_WINDOWS];
    henn__fe_fb_digits(e, k);
    ext_pt acc = {{{0}}, {{1}}, {{1}}, {{0}}};
    niels_pt sel;
    for (int w = 0; w < HENN__FE_FB_WINDOWS; w++) {
        select_entry(&sel, fb->tab + (size_t)w * 15 * 16, e[w]);
        add_niels(&acc, &acc, &sel);
    }
    ext_store(out, &acc);
    henn_memzero(e, sizeof e);
    henn_memzero(&sel, sizeof sel);
    henn_memzero(&acc, sizeof acc);
}

int henn__fe_fb_mul_many(henn_fe_elem *out, const struct henn__fe_fb *fb, const uint8_t *k,
                         size_t cnt, int engine)
{
    if (engine != HENN__FE_FB_SCALAR) {
        int rc = 0;
        for (size_t i = 0; i < cnt && rc == 0; i += 8)
            rc = henn__fe_fb_mul8_ifma(out + i, fb, k + i * HENN_FE_SCALARBYTES,
                                       cnt - i < 8 ? cnt - i : 8);
        if (rc == 0 || engine == HENN__FE_FB_IFMA)
            return rc;
    }
    for (size_t i = 0; i < cnt; i++)
        henn__fe_fb_mul_scalar(FE_PT(&out[i]), fb, k + i * HENN_FE_SCALARBYTES);
    return 0;
}
