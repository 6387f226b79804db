/*
 * feip.c: the DDH inner-product scheme of Abdalla, Bourse, De Caro and
 * Pointcheval (PKC 2015, section 3) on ristretto255.
 *
 * Encryption uses one libdecaf comb table per h_i (built when the mpk is
 * made or loaded, 9 KiB each) for r h_i, and signed 4-bit windows over a
 * small table of g for x_i g, selected in constant time; the points are then
 * brought to Z = 1 together (affine.c, about 0.1 ms at n = 784) so that
 * decryption can use mixed additions. Long vectors (n > HENN_FE_TAB_MAX_N,
 * no per-h_i tables) share one r: r h_i eight points at a time in the
 * lanes of AVX-512 IFMA (scalarmul_many_ifma.c). Decryption is one
 * multi-scalar multiplication over the public y (msm.c), one constant-time
 * scalar multiplication sk c_0 (scalarmul.c) and one discrete logarithm
 * (dlog.c).
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"

size_t henn_fe_pointbytes(void)
{
    return HENN_FE_POINTBYTES;
}

size_t henn_fe_scalarbytes(void)
{
    return HENN_FE_SCALARBYTES;
}

henn_fe_elem *henn__fe_elems_alloc(size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(henn_fe_elem))
        return NULL;
    henn_fe_elem *e = aligned_alloc(_Alignof(henn_fe_elem), n * sizeof *e);
    if (e != NULL)
        memset(e, 0, n * sizeof *e);
    return e;
}

void henn__fe_scalar_from_i64(decaf_255_scalar_t s, int64_t v)
{
    if (v >= 0) {
        decaf_255_scalar_set_unsigned(s, (uint64_t)v);
    } else {
        decaf_255_scalar_t t;
        decaf_255_scalar_set_unsigned(t, (uint64_t)0 - (uint64_t)v);
        decaf_255_scalar_sub(s, decaf_255_scalar_zero, t);
    }
}

int henn__fe_scalar_random(decaf_255_scalar_t s)
{
    uint8_t buf[64];
    int rc = henn_random_bytes(buf, sizeof buf);
    if (rc == 0)
        decaf_255_scalar_decode_long(s, buf, sizeof buf);
    henn_memzero(buf, sizeof buf);
    return rc;
}

int henn__fe_bounds_ok(size_t n, uint64_t x_bound, uint64_t y_bound)
{
    const uint64_t lim = (uint64_t)1 << 62;
    if (x_bound == 0 || y_bound == 0 || x_bound >= lim || y_bound >= lim || n == 0)
        return 0;
    __extension__ unsigned __int128 p = (unsigned __int128)n * x_bound;
    if (p >= lim)
        return 0;
    p *= y_bound;
    return p < lim;
}

static unsigned bits_of(uint64_t u)
{
    unsigned b = 0;
    while (u != 0) {
        b++;
        u >>= 1;
    }
    return b;
}

void henn__fe_tabs_free(struct henn__fe_tabs *t)
{
    if (t == NULL)
        return;
    if (t->h != NULL)
        for (size_t i = 0; i < t->n; i++)
            free(t->h[i]);
    free(t->h);
    free(t->gsmall);
    free(t);
}

int henn__fe_tabs_build(struct henn__fe_tabs **tabs, const henn_fe_elem *h, size_t n,
                        uint64_t x_bound)
{
    *tabs = NULL;
    struct henn__fe_tabs *t = calloc(1, sizeof *t);
    if (t == NULL)
        return HENN_ENOMEM;
    t->windows = (bits_of(x_bound) + 1 + 3) / 4;
    t->gsmall = henn__fe_elems_alloc((size_t)t->windows * 9);
    if (t->gsmall == NULL) {
        henn__fe_tabs_free(t);
        return HENN_ENOMEM;
    }
    /* long vectors (the batch trick): no per-h_i comb tables (9 KiB each);
     * encryption uses variable-base multiplications instead */
    if (n > HENN_FE_TAB_MAX_N)
        n = 0;
    t->h = n == 0 ? NULL : calloc(n, sizeof *t->h);
    if (n != 0 && t->h == NULL) {
        henn__fe_tabs_free(t);
        return HENN_ENOMEM;
    }
    t->n = n;
    t->affine = henn__fe_layout_ok();
    size_t sz = decaf_255_sizeof_precomputed_s, al = decaf_255_alignof_precomputed_s;
    sz = (sz + al - 1) / al * al;
    for (size_t i = 0; i < n; i++) {
        t->h[i] = aligned_alloc(al, sz);
        if (t->h[i] == NULL) {
            henn__fe_tabs_free(t);
            return HENN_ENOMEM;
        }
        decaf_255_precompute(t->h[i], FE_CPT(&h[i]));
    }
    decaf_255_point_t b;
    decaf_255_point_copy(b, decaf_255_point_base);
    for (unsigned w = 0; w < t->windows; w++) {
        henn_fe_elem *row = &t->gsmall[w * 9];
        decaf_255_point_copy(FE_PT(&row[0]), decaf_255_point_identity);
        for (int k = 1; k <= 8; k++)
            decaf_255_point_add(FE_PT(&row[k]), FE_CPT(&row[k - 1]), b);
        for (int d = 0; d < 4; d++)
            decaf_255_point_double(b, b);
    }
    *tabs = t;
    return 0;
}

void henn__fe_small_mul_g(struct decaf_255_point_s *out, const struct henn__fe_tabs *t, int64_t v)
{
    uint64_t neg = (uint64_t)v >> 63, m = (uint64_t)0 - neg;
    uint64_t u = ((uint64_t)v ^ m) + neg; /* |v|, branch-free */
    uint64_t carry = 0;
    decaf_255_point_t sel, tn;
    decaf_255_point_copy(out, decaf_255_point_identity);
    for (unsigned w = 0; w < t->windows; w++) {
        int64_t d = (int64_t)(((u >> (4 * w)) & 15) + carry);
        if (w + 1 < t->windows) { /* w is public; the top digit may be 8 */
            carry = (uint64_t)(d + 8) >> 4;
            d -= (int64_t)(carry << 4);
        }
        uint64_t dn = (uint64_t)d >> 63, dm = (uint64_t)0 - dn;
        uint64_t a = ((uint64_t)d ^ dm) + dn;
        const henn_fe_elem *row = &t->gsmall[w * 9];
        decaf_255_point_copy(sel, decaf_255_point_identity);
        for (uint64_t k = 1; k <= 8; k++) {
            uint64_t eq = ((a ^ k) - 1) >> 63; /* 1 iff a == k (a, k < 2^63) */
            decaf_255_point_cond_sel(sel, sel, FE_CPT(&row[k]), eq);
        }
        decaf_255_point_negate(tn, sel);
        decaf_255_point_cond_sel(sel, sel, tn, dn);
        decaf_255_point_add(out, out, sel);
    }
    decaf_255_point_negate(tn, out);
    decaf_255_point_cond_sel(out, out, tn, neg);
    decaf_255_point_destroy(sel);
    decaf_255_point_destroy(tn);
}

void henn_feip_mpk_clear(henn_feip_mpk *mpk)
{
    if (mpk == NULL)
        return;
    free(mpk->h);
    henn__fe_tabs_free(mpk->tabs);
    memset(mpk, 0, sizeof *mpk);
}

void henn_feip_msk_clear(henn_feip_msk *msk)
{
    if (msk == NULL)
        return;
    if (msk->s != NULL)
        henn_free(msk->s, msk->n * HENN_FE_SCALARBYTES);
    henn_memzero(msk, sizeof *msk);
}

void henn_feip_fk_clear(henn_feip_fk *fk)
{
    if (fk != NULL)
        henn_memzero(fk, sizeof *fk);
}

void henn_feip_ct_clear(henn_feip_ct *ct)
{
    if (ct == NULL)
        return;
    free(ct->c);
    memset(ct, 0, sizeof *ct);
}

int henn_feip_setup(henn_feip_mpk *mpk, henn_feip_msk *msk, size_t n, uint64_t x_bound,
                    uint64_t y_bound)
{
    if (mpk == NULL || msk == NULL)
        return HENN_EINVAL;
    memset(mpk, 0, sizeof *mpk);
    memset(msk, 0, sizeof *msk);
    if (n == 0 || n > HENN_FE_MAX_N)
        return HENN_EINVAL;
    if (!henn__fe_bounds_ok(n, x_bound, y_bound))
        return HENN_ERANGE;
    int rc = henn_init();
    if (rc != 0)
        return rc;
    mpk->n = msk->n = n;
    mpk->x_bound = msk->x_bound = x_bound;
    mpk->y_bound = msk->y_bound = y_bound;
    mpk->h = henn__fe_elems_alloc(n);
    msk->s = calloc(n, HENN_FE_SCALARBYTES);
    decaf_255_scalar_t s;
    rc = HENN_ENOMEM;
    if (mpk->h == NULL || msk->s == NULL)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        rc = henn__fe_scalar_random(s);
        if (rc != 0)
            goto cleanup;
        decaf_255_precomputed_scalarmul(FE_PT(&mpk->h[i]), decaf_255_precomputed_base, s);
        decaf_255_scalar_encode(msk->s + i * HENN_FE_SCALARBYTES, s);
    }
    rc = henn__fe_tabs_build(&mpk->tabs, mpk->h, n, x_bound);

cleanup:
    decaf_255_scalar_destroy(s);
    if (rc != 0) {
        henn_feip_mpk_clear(mpk);
        henn_feip_msk_clear(msk);
    }
    return rc;
}

static int check_y(const int64_t *y, size_t n, uint64_t y_bound)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t a = y[i] < 0 ? (uint64_t)0 - (uint64_t)y[i] : (uint64_t)y[i];
        if (a > y_bound)
            return HENN_ERANGE;
    }
    return 0;
}

int henn_feip_derive_key(henn_feip_fk *fk, const henn_feip_msk *msk, const int64_t *y, size_t n)
{
    if (fk == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (msk == NULL || msk->s == NULL || y == NULL || n != msk->n)
        return HENN_EINVAL;
    int rc = check_y(y, n, msk->y_bound);
    if (rc != 0)
        return rc;
    decaf_255_scalar_t acc, si, yi;
    decaf_255_scalar_copy(acc, decaf_255_scalar_zero);
    for (size_t i = 0; i < n; i++) {
        /* s_i < l (checked at load), so this always succeeds */
        if (decaf_255_scalar_decode(si, msk->s + i * HENN_FE_SCALARBYTES) != DECAF_SUCCESS)
            rc = HENN_EKEY;
        henn__fe_scalar_from_i64(yi, y[i]);
        decaf_255_scalar_mul(si, si, yi);
        decaf_255_scalar_add(acc, acc, si);
    }
    if (rc == 0) {
        fk->n = n;
        decaf_255_scalar_encode(fk->sk, acc);
    }
    decaf_255_scalar_destroy(acc);
    decaf_255_scalar_destroy(si);
    return rc;
}

static int check_x(const henn_feip_mpk *mpk, const int64_t *x, size_t n)
{
    if (mpk == NULL || mpk->h == NULL || x == NULL || n != mpk->n)
        return HENN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = x[i] < 0 ? (uint64_t)0 - (uint64_t)x[i] : (uint64_t)x[i];
        if (a > mpk->x_bound)
            return HENN_ERANGE;
    }
    return 0;
}

typedef struct {
    henn_feip_ct *ct;
    const henn_feip_mpk *mpk;
    const int64_t *x;
    const struct decaf_255_scalar_s *r;
    int use_tabs;
    const uint8_t *rb; /* r encoded (32 bytes, canonical) */
} enc_job;

/* c_{i+1} = r h_i + x_i g for i in [lo, hi) */
static int enc_range(void *arg, size_t lo, size_t hi)
{
    const enc_job *j = arg;
    const henn_feip_mpk *mpk = j->mpk;
    decaf_255_scalar_t xs;
    decaf_255_point_t t;
    decaf_255_scalar_copy(xs, decaf_255_scalar_zero);
    if (j->use_tabs && mpk->tabs->h == NULL && mpk->tabs->affine) {
        /* long vector: no comb table for h_i; r h_i for eight h_i at a
         * time, one per lane of the IFMA code (scalarmul_many_ifma.c; the
         * constant-time k P of scalarmul.c per point without IFMA: 17
         * against 51 us CPU for libdecaf's multiplication, load 12) */
        henn__fe_scalarmul_ct_many(j->ct->c + 1 + lo, mpk->h + lo, hi - lo, j->rb,
                                   HENN__FE_FB_AUTO);
        for (size_t i = lo; i < hi; i++) {
            struct decaf_255_point_s *ci = FE_PT(&j->ct->c[i + 1]);
            henn__fe_small_mul_g(t, mpk->tabs, j->x[i]);
            decaf_255_point_add(ci, ci, t);
        }
        (void)henn__fe_make_affine(j->ct->c + 1 + lo, hi - lo);
        decaf_255_scalar_destroy(xs);
        decaf_255_point_destroy(t);
        return 0;
    }
    for (size_t i = lo; i < hi; i++) {
        struct decaf_255_point_s *ci = FE_PT(&j->ct->c[i + 1]);
        if (j->use_tabs && mpk->tabs->h != NULL) {
            decaf_255_precomputed_scalarmul(ci, mpk->tabs->h[i], j->r);
            henn__fe_small_mul_g(t, mpk->tabs, j->x[i]);
        } else if (j->use_tabs) { /* long vector: no comb table for h_i */
            decaf_255_point_scalarmul(ci, FE_CPT(&mpk->h[i]), j->r);
            henn__fe_small_mul_g(t, mpk->tabs, j->x[i]);
        } else {
            decaf_255_point_scalarmul(ci, FE_CPT(&mpk->h[i]), j->r);
            henn__fe_scalar_from_i64(xs, j->x[i]);
            decaf_255_point_scalarmul(t, decaf_255_point_base, xs);
        }
        decaf_255_point_add(ci, ci, t);
    }
    /* Z = 1 so that decryption can use mixed additions, as for a
     * deserialized ciphertext (on ENOMEM the points stay projective:
     * decryption then takes the general path, same result) */
    if (j->use_tabs && mpk->tabs->affine)
        (void)henn__fe_make_affine(j->ct->c + 1 + lo, hi - lo);
    decaf_255_scalar_destroy(xs);
    decaf_255_point_destroy(t);
    return 0;
}

static int encrypt(henn_feip_ct *ct, const henn_feip_mpk *mpk, const int64_t *x, size_t n,
                   int use_tabs, unsigned threads)
{
    if (ct == NULL)
        return HENN_EINVAL;
    henn_feip_ct_clear(ct);
    int rc = check_x(mpk, x, n);
    if (rc != 0)
        return rc;
    if (mpk->tabs == NULL)
        return HENN_EINVAL;
    ct->c = henn__fe_elems_alloc(n + 1);
    if (ct->c == NULL)
        return HENN_ENOMEM;
    ct->n = n;
    decaf_255_scalar_t r;
    rc = henn__fe_scalar_random(r);
    if (rc != 0)
        goto cleanup;
    decaf_255_precomputed_scalarmul(FE_PT(&ct->c[0]), decaf_255_precomputed_base, r);
    uint8_t rb[HENN_FE_SCALARBYTES];
    decaf_255_scalar_encode(rb, r);
    enc_job job = {ct, mpk, x, r, use_tabs, rb};
    rc = henn__fe_parallel(enc_range, &job, n, threads);
    henn_memzero(rb, sizeof rb);

cleanup:
    decaf_255_scalar_destroy(r);
    if (rc != 0)
        henn_feip_ct_clear(ct);
    return rc;
}

int henn_feip_encrypt(henn_feip_ct *ct, const henn_feip_mpk *mpk, const int64_t *x, size_t n)
{
    return encrypt(ct, mpk, x, n, 1, 1);
}

int henn_feip_encrypt_mt(henn_feip_ct *ct, const henn_feip_mpk *mpk, const int64_t *x, size_t n,
                         unsigned threads)
{
    return encrypt(ct, mpk, x, n, 1, threads);
}

int henn_feip_encrypt_notab(henn_feip_ct *ct, const henn_feip_mpk *mpk, const int64_t *x,
                            size_t n)
{
    return encrypt(ct, mpk, x, n, 0, 1);
}

static int decrypt(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                   const henn_feip_ct *ct, const henn_feip_fk *fk, const int64_t *y, size_t n,
                   int engine) /* 0 fast, 1 naive, 2 the 64-bit (non-IFMA) code */
{
    if (v == NULL)
        return HENN_EINVAL;
    *v = 0;
    if (mpk == NULL || dl == NULL || ct == NULL || ct->c == NULL || fk == NULL || y == NULL ||
        n != mpk->n || ct->n != n || fk->n != n)
        return HENN_EINVAL;
    int rc = check_y(y, n, mpk->y_bound);
    if (rc != 0)
        return rc;
    decaf_255_scalar_t sk;
    decaf_255_point_t d, t;
    if (decaf_255_scalar_decode(sk, fk->sk) != DECAF_SUCCESS) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    if (dl->keys == NULL) { /* not built: also means the layout was not checked */
        rc = HENN_EINVAL;
        goto cleanup;
    }
    if (engine == 1) {
        henn__fe_msm_naive(d, ct->c + 1, y, n);
        decaf_255_point_scalarmul(t, FE_CPT(&ct->c[0]), sk);
    } else if (engine == 2) {
        henn__fe_msm_fast_scalar(d, ct->c + 1, y, n);
        henn__fe_scalarmul_ct_scalar(t, FE_CPT(&ct->c[0]), fk->sk);
    } else {
        henn__fe_msm_fast(d, ct->c + 1, y, n);
        henn__fe_scalarmul_ct(t, FE_CPT(&ct->c[0]), fk->sk); /* canonical: decoded above */
    }
    decaf_255_point_sub(d, d, t);
    rc = henn__fe_dlog_point(v, dl, d);

cleanup:
    decaf_255_scalar_destroy(sk);
    return rc;
}

int henn_feip_decrypt(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                      const henn_feip_ct *ct, const henn_feip_fk *fk, const int64_t *y, size_t n)
{
    return decrypt(v, mpk, dl, ct, fk, y, n, 0);
}

int henn_feip_decrypt_naive(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                            const henn_feip_ct *ct, const henn_feip_fk *fk, const int64_t *y,
                            size_t n)
{
    return decrypt(v, mpk, dl, ct, fk, y, n, 1);
}

int henn__feip_decrypt_scalar(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                              const henn_feip_ct *ct, const henn_feip_fk *fk, const int64_t *y,
                              size_t n)
{
    return decrypt(v, mpk, dl, ct, fk, y, n, 2);
}

void henn_fe_point_mul_g(uint8_t p[HENN_FE_POINTBYTES], int64_t v)
{
    decaf_255_scalar_t s;
    decaf_255_point_t q;
    henn__fe_scalar_from_i64(s, v);
    decaf_255_precomputed_scalarmul(q, decaf_255_precomputed_base, s);
    decaf_255_point_encode(p, q);
}
