/*
 * prep.c: per-ciphertext precomputation for many FEIP decryptions of one
 * ciphertext (henn_feip_ct_prep, henn/fe.h). In CryptoNN a server decrypts
 * each sample's ciphertext with one key per first-layer row, so work done
 * once per ciphertext is shared by all its keys: the shifted points of the
 * one-window MSM (msm.c, henn__fe_msm_prep_init) and a libdecaf comb table
 * for c_0, which makes sk c_0 a constant-time fixed-base multiplication.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"

void henn_feip_ct_prep_clear(henn_feip_ct_prep *prep)
{
    if (prep == NULL)
        return;
    if (prep->msm_ != NULL) {
        henn__fe_msm_prep_clear(prep->msm_);
        free(prep->msm_);
    }
    free(prep->tab_);
    memset(prep, 0, sizeof *prep);
}

int henn_feip_ct_prep_init(henn_feip_ct_prep *prep, const henn_feip_mpk *mpk,
                           const henn_feip_ct *ct)
{
    if (prep == NULL)
        return HENN_EINVAL;
    memset(prep, 0, sizeof *prep);
    if (mpk == NULL || ct == NULL || ct->c == NULL || ct->n == 0 || ct->n != mpk->n)
        return HENN_EINVAL;
    if (!henn__fe_layout_ok())
        return HENN_EPARAM;
    int rc = HENN_ENOMEM;
    size_t sz = decaf_255_sizeof_precomputed_s, al = decaf_255_alignof_precomputed_s;
    sz = (sz + al - 1) / al * al;
    struct henn__fe_msm_prep *pr = calloc(1, sizeof *pr);
    decaf_255_precomputed_s *tab = aligned_alloc(al, sz);
    if (pr == NULL || tab == NULL)
        goto cleanup;
    rc = henn__fe_msm_prep_init(pr, ct->c + 1, ct->n, mpk->y_bound);
    if (rc != 0)
        goto cleanup;
    decaf_255_precompute(tab, FE_CPT(&ct->c[0]));
    prep->n = ct->n;
    prep->y_bound = mpk->y_bound;
    prep->msm_ = pr;
    prep->tab_ = tab;
    decaf_255_point_copy(FE_PT(&prep->c0), FE_CPT(&ct->c[0]));
    return 0;

cleanup:
    free(pr);
    free(tab);
    return rc;
}

/* scalar: the scalar MSM engine (henn__fe_msm_prep_scalar) */
static int decrypt_prep(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                        const henn_feip_ct_prep *prep, const henn_feip_fk *fk, const int64_t *y,
                        size_t n, int scalar)
{
    if (v == NULL)
        return HENN_EINVAL;
    *v = 0;
    if (mpk == NULL || dl == NULL || prep == NULL || prep->msm_ == NULL || prep->tab_ == NULL ||
        fk == NULL || y == NULL || n != mpk->n || prep->n != n || fk->n != n ||
        prep->y_bound != mpk->y_bound)
        return HENN_EINVAL;
    if (dl->keys == NULL) /* not built: also means the layout was not checked */
        return HENN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = y[i] < 0 ? (uint64_t)0 - (uint64_t)y[i] : (uint64_t)y[i];
        if (a > mpk->y_bound)
            return HENN_ERANGE;
    }
    decaf_255_scalar_t sk;
    decaf_255_point_t d, t;
    int rc;
    if (decaf_255_scalar_decode(sk, fk->sk) != DECAF_SUCCESS) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    rc = scalar ? henn__fe_msm_prep_scalar(d, prep->msm_, y)
                : henn__fe_msm_prep(d, prep->msm_, y);
    if (rc != 0)
        goto cleanup;
    decaf_255_precomputed_scalarmul(t, (const decaf_255_precomputed_s *)prep->tab_, sk);
    decaf_255_point_sub(d, d, t);
    rc = henn__fe_dlog_point(v, dl, d);

cleanup:
    decaf_255_scalar_destroy(sk);
    decaf_255_point_destroy(t);
    return rc;
}

int henn_feip_decrypt_prep(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                           const henn_feip_ct_prep *prep, const henn_feip_fk *fk,
                           const int64_t *y, size_t n)
{
    return decrypt_prep(v, mpk, dl, prep, fk, y, n, 0);
}

int henn__feip_decrypt_prep_scalar(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                                   const henn_feip_ct_prep *prep, const henn_feip_fk *fk,
                                   const int64_t *y, size_t n)
{
    return decrypt_prep(v, mpk, dl, prep, fk, y, n, 1);
}
