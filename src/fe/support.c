/*
 * support.c: FEIP keys and decryption on a support of a long ciphertext
 * (CryptoNN's batch trick, henn/fe.h), and the fixed-base table of c_0.
 *
 * A key for the support S and y is the scheme's own key for the vector
 * that holds y on S and zeros elsewhere, so nothing about the scheme
 * changes; only its computation is shorter. <s_S, y> mod l is summed
 * exactly in integers: each s_i as eight 32-bit limbs, products with |y_i|
 * (< 2^62) below 2^94, at most 2^20 terms per limb below 2^114, kept in
 * separate positive and negative 128-bit sums, then reduced once.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"

/* 1 if {start + t stride : t < m} lies inside [0, n) */
static int support_ok(size_t n, size_t m, size_t start, size_t stride)
{
    if (m == 0 || stride == 0 || start >= n)
        return 0;
    return (m - 1) <= (n - 1 - start) / stride;
}

static int y_ok(const int64_t *y, size_t m, uint64_t bound)
{
    for (size_t i = 0; i < m; i++) {
        uint64_t a = y[i] < 0 ? (uint64_t)0 - (uint64_t)y[i] : (uint64_t)y[i];
        if (a > bound)
            return 0;
    }
    return 1;
}

__extension__ typedef unsigned __int128 u128;

/*
 * sk = (sum_k pos[k] 2^(32 k) - sum_k neg[k] 2^(32 k)) mod l: each sum
 * (below 2^(32 7 + 114)) carried into 64 little-endian bytes and reduced
 * once, instead of 8 products by 2^(32 k) (about 10x fewer scalar
 * operations per key; the CryptoNN authority derives 1,696 keys per MLP
 * training image).
 */
static void sum_bytes(uint8_t out[64], const u128 acc[8])
{
    u128 c = 0;
    for (int k = 0; k < 16; k++) {
        if (k < 8)
            c += acc[k]; /* c < 2^116 */
        uint32_t w = (uint32_t)c;
        c >>= 32;
        for (int b = 0; b < 4; b++)
            out[4 * k + b] = (uint8_t)(w >> (8 * b));
    }
}

static void reduce_sums(uint8_t sk[HENN_FE_SCALARBYTES], const u128 pos[8], const u128 neg[8])
{
    uint8_t bp[64], bn[64];
    decaf_255_scalar_t p, q;
    sum_bytes(bp, pos);
    sum_bytes(bn, neg);
    decaf_255_scalar_decode_long(p, bp, sizeof bp);
    decaf_255_scalar_decode_long(q, bn, sizeof bn);
    decaf_255_scalar_sub(p, p, q);
    decaf_255_scalar_encode(sk, p);
    decaf_255_scalar_destroy(p);
    decaf_255_scalar_destroy(q);
    henn_memzero(bp, sizeof bp);
    henn_memzero(bn, sizeof bn);
}

/*
 * fk = the key for y on the support {at(t) : t < m}: at(t) = idx[t], or
 * start + t stride when idx is NULL (arguments checked by the caller).
 * Constant time in msk: the branches and the accumulator chosen depend on
 * the public y only.
 */
static void derive_key_on(henn_feip_fk *fk, const henn_feip_msk *msk, const int64_t *y, size_t m,
                          const size_t *idx, size_t start, size_t stride)
{
    u128 pos[8], neg[8];
    memset(pos, 0, sizeof pos);
    memset(neg, 0, sizeof neg);
    for (size_t t = 0; t < m; t++) {
        size_t at = idx != NULL ? idx[t] : start + t * stride;
        const uint8_t *si = msk->s + at * HENN_FE_SCALARBYTES;
        int64_t yt = y[t];
        if (yt == 0)
            continue;
        uint64_t a = yt < 0 ? (uint64_t)0 - (uint64_t)yt : (uint64_t)yt;
        u128 *acc = yt < 0 ? neg : pos; /* the sign of the public y */
        for (int k = 0; k < 8; k++) {
            uint32_t limb = (uint32_t)si[4 * k] | (uint32_t)si[4 * k + 1] << 8 |
                            (uint32_t)si[4 * k + 2] << 16 | (uint32_t)si[4 * k + 3] << 24;
            acc[k] += (u128)limb * a;
        }
    }
    /* sum_k (pos_k - neg_k) 2^(32 k) mod l */
    fk->n = msk->n;
    reduce_sums(fk->sk, pos, neg);
    henn_memzero(pos, sizeof pos);
    henn_memzero(neg, sizeof neg);
}

int henn_feip_derive_key_sub(henn_feip_fk *fk, const henn_feip_msk *msk, const int64_t *y,
                             size_t m, size_t start, size_t stride)
{
    if (fk == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (msk == NULL || msk->s == NULL || y == NULL || !support_ok(msk->n, m, start, stride))
        return HENN_EINVAL;
    if (!y_ok(y, m, msk->y_bound))
        return HENN_ERANGE;
    derive_key_on(fk, msk, y, m, NULL, start, stride);
    return 0;
}

int henn_feip_ct0_tab_init(henn_feip_ct0_tab *tab, const henn_feip_ct *ct)
{
    if (tab == NULL)
        return HENN_EINVAL;
    memset(tab, 0, sizeof *tab);
    if (ct == NULL || ct->c == NULL || ct->n == 0)
        return HENN_EINVAL;
    struct henn__fe_ct0 *c = calloc(1, sizeof *c);
    if (c == NULL)
        return HENN_ENOMEM;
    int rc;
    if (henn__fe_layout_ok()) {
        /* our comb (fixedbase.c): eight keys at a time on IFMA */
        rc = henn__fe_fb_init(&c->fb, FE_CPT(&ct->c[0]));
    } else {
        size_t sz = decaf_255_sizeof_precomputed_s, al = decaf_255_alignof_precomputed_s;
        sz = (sz + al - 1) / al * al;
        c->dec = aligned_alloc(al, sz);
        rc = c->dec == NULL ? HENN_ENOMEM : 0;
        if (rc == 0)
            decaf_255_precompute(c->dec, FE_CPT(&ct->c[0]));
    }
    if (rc != 0) {
        free(c);
        return rc;
    }
    tab->tab_ = c;
    decaf_255_point_copy(FE_PT(&tab->c0), FE_CPT(&ct->c[0]));
    return 0;
}

void henn_feip_ct0_tab_clear(henn_feip_ct0_tab *tab)
{
    if (tab == NULL)
        return;
    struct henn__fe_ct0 *c = tab->tab_;
    if (c != NULL) {
        henn__fe_fb_free(c->fb);
        free(c->dec);
        free(c);
    }
    memset(tab, 0, sizeof *tab);
}

void henn__fe_ct0_mul(struct decaf_255_point_s *out, const henn_feip_ct0_tab *tab,
                      const uint8_t sk[HENN_FE_SCALARBYTES])
{
    const struct henn__fe_ct0 *c = tab->tab_;
    if (c->fb != NULL) {
        henn__fe_fb_mul_scalar(out, c->fb, sk);
        return;
    }
    decaf_255_scalar_t s;
    if (decaf_255_scalar_decode(s, sk) != DECAF_SUCCESS) /* callers decoded it already */
        decaf_255_scalar_copy(s, decaf_255_scalar_zero);
    decaf_255_precomputed_scalarmul(out, c->dec, s);
    decaf_255_scalar_destroy(s);
}

int henn__fe_ct0_mul_many(henn_fe_elem *out, const henn_feip_ct0_tab *tab, const uint8_t *sk,
                          size_t cnt, int engine)
{
    const struct henn__fe_ct0 *c = tab->tab_;
    if (c->fb != NULL)
        return henn__fe_fb_mul_many(out, c->fb, sk, cnt, engine);
    decaf_255_scalar_t s;
    for (size_t i = 0; i < cnt; i++) {
        if (decaf_255_scalar_decode(s, sk + i * HENN_FE_SCALARBYTES) != DECAF_SUCCESS) {
            decaf_255_scalar_destroy(s);
            return HENN_EKEY;
        }
        decaf_255_precomputed_scalarmul(FE_PT(&out[i]), c->dec, s);
    }
    decaf_255_scalar_destroy(s);
    return 0;
}

int henn__fe_ct0_sub_many(henn_fe_elem *d, const henn_feip_ct0_tab *tab,
                          const henn_feip_fk *fk, size_t cnt)
{
    henn_fe_elem *t = henn__fe_elems_alloc(cnt);
    uint8_t *sks = malloc(cnt * HENN_FE_SCALARBYTES);
    decaf_255_scalar_t sk;
    int rc = HENN_ENOMEM;
    if (t == NULL || sks == NULL)
        goto cleanup;
    for (size_t k = 0; k < cnt; k++) {
        if (decaf_255_scalar_decode(sk, fk[k].sk) != DECAF_SUCCESS) {
            rc = HENN_EKEY;
            goto cleanup;
        }
        memcpy(sks + k * HENN_FE_SCALARBYTES, fk[k].sk, HENN_FE_SCALARBYTES);
    }
    /* the sk_k c_0 from the c_0 table, eight at a time on IFMA */
    rc = henn__fe_ct0_mul_many(t, tab, sks, cnt, HENN__FE_FB_AUTO);
    if (rc != 0)
        goto cleanup;
    for (size_t k = 0; k < cnt; k++)
        decaf_255_point_sub(FE_PT(&d[k]), FE_CPT(&d[k]), FE_CPT(&t[k]));

cleanup:
    if (t != NULL) {
        henn_memzero(t, cnt * sizeof *t); /* sk_k c_0 */
        free(t);
    }
    if (sks != NULL) {
        henn_memzero(sks, cnt * HENN_FE_SCALARBYTES);
        free(sks);
    }
    decaf_255_scalar_destroy(sk);
    return rc;
}

/* The checks common to decrypt_sub and decrypt_idx past the support's
 * own (ok): 0, HENN_EINVAL or HENN_ERANGE. */
static int decrypt_args_ok(const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                           const henn_feip_ct *ct, const henn_feip_ct0_tab *tab,
                           const henn_feip_fk *fk, const int64_t *y, size_t m, int ok)
{
    if (mpk == NULL || dl == NULL || ct == NULL || ct->c == NULL || fk == NULL || y == NULL ||
        ct->n != mpk->n || fk->n != mpk->n || !ok)
        return HENN_EINVAL;
    if (dl->keys == NULL) /* not built: also means the layout was not checked */
        return HENN_EINVAL;
    if (tab != NULL && (tab->tab_ == NULL ||
                        !decaf_255_point_eq(FE_CPT(&tab->c0), FE_CPT(&ct->c[0]))))
        return HENN_EINVAL;
    if (!y_ok(y, m, mpk->y_bound))
        return HENN_ERANGE;
    return 0;
}

/*
 * *v = <x, y> on the support {at(t) : t < m} (at as in derive_key_on;
 * checked by the caller): sum y_t c_(1 + at(t)) - sk c_0 (sk c_0 from tab
 * when given, constant time in sk either way), then the discrete log.
 */
static int decrypt_on(int64_t *v, const henn_fe_dlog *dl, const henn_feip_ct *ct,
                      const henn_feip_ct0_tab *tab, const henn_feip_fk *fk, const int64_t *y,
                      size_t m, const size_t *idx, size_t start, size_t stride)
{
    decaf_255_scalar_t sk;
    decaf_255_point_t d, t;
    henn_fe_elem *gath = NULL;
    int rc = 0;
    if (decaf_255_scalar_decode(sk, fk->sk) != DECAF_SUCCESS) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    if (idx == NULL && stride == 1) {
        henn__fe_msm_fast(d, ct->c + 1 + start, y, m);
    } else {
        gath = henn__fe_elems_alloc(m);
        if (gath == NULL) {
            rc = HENN_ENOMEM;
            goto cleanup;
        }
        for (size_t i = 0; i < m; i++)
            memcpy(&gath[i], &ct->c[1 + (idx != NULL ? idx[i] : start + i * stride)],
                   sizeof gath[i]);
        henn__fe_msm_fast(d, gath, y, m);
    }
    if (tab != NULL)
        henn__fe_ct0_mul(t, tab, fk->sk);
    else
        henn__fe_scalarmul_ct(t, FE_CPT(&ct->c[0]), fk->sk);
    decaf_255_point_sub(d, d, t);
    rc = henn__fe_dlog_point(v, dl, d);

cleanup:
    free(gath);
    decaf_255_scalar_destroy(sk);
    return rc;
}

int henn_feip_decrypt_sub(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                          const henn_feip_ct *ct, const henn_feip_ct0_tab *tab,
                          const henn_feip_fk *fk, const int64_t *y, size_t m, size_t start,
                          size_t stride)
{
    if (v == NULL)
        return HENN_EINVAL;
    *v = 0;
    int rc = decrypt_args_ok(mpk, dl, ct, tab, fk, y, m,
                             mpk != NULL && support_ok(mpk->n, m, start, stride));
    if (rc != 0)
        return rc;
    return decrypt_on(v, dl, ct, tab, fk, y, m, NULL, start, stride);
}

/* ---- supports given as an explicit index list (2-D patches, shifted
 * correlations) ---- */

int henn__fe_idx_ok(size_t n, const size_t *idx, size_t m)
{
    if (idx == NULL || m == 0)
        return 0;
    for (size_t t = 0; t < m; t++)
        if (idx[t] >= n || (t > 0 && idx[t] <= idx[t - 1]))
            return 0;
    return 1;
}

int henn_feip_derive_key_idx(henn_feip_fk *fk, const henn_feip_msk *msk, const int64_t *y,
                             const size_t *idx, size_t m)
{
    if (fk == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (msk == NULL || msk->s == NULL || y == NULL || !henn__fe_idx_ok(msk->n, idx, m))
        return HENN_EINVAL;
    if (!y_ok(y, m, msk->y_bound))
        return HENN_ERANGE;
    derive_key_on(fk, msk, y, m, idx, 0, 0);
    return 0;
}

int henn_feip_decrypt_idx(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                          const henn_feip_ct *ct, const henn_feip_ct0_tab *tab,
                          const henn_feip_fk *fk, const int64_t *y, const size_t *idx, size_t m)
{
    if (v == NULL)
        return HENN_EINVAL;
    *v = 0;
    int rc = decrypt_args_ok(mpk, dl, ct, tab, fk, y, m,
                             mpk != NULL && henn__fe_idx_ok(mpk->n, idx, m));
    if (rc != 0)
        return rc;
    return decrypt_on(v, dl, ct, tab, fk, y, m, idx, 0, 0);
}
