/*
 * support_shared.c: many FEIP decryptions on ONE support of one ciphertext
 * (henn_feip_decrypt_shared, henn/fe.h). CryptoNN's backward pass decrypts
 * the 64 points of a pixel column with one key per live hidden unit (128),
 * its forward pass the 784 points of a sample with one key per row of W1;
 * the keys share the points, so what depends only on the points is done
 * once per call: gathering them and bringing them to Z = 1 for the MSM of
 * each key (msm.c, henn__fe_msm_fast, which takes its eight-lane engine
 * where the processor has one; measured at m = 784 and 64 with 128 keys,
 * faster than the one-window per-ciphertext precomputation). Then D_k = (the MSM) - sk_k c_0 (the
 * constant-time comb of fixedbase.c with the c_0 table, eight keys at a
 * time in the lanes of AVX-512 IFMA where the processor has it) and the
 * discrete logarithms of all D_k together (henn__fe_dlog_points: one field
 * inversion per 128 points instead of one per point), each result confined
 * to its exact bound [-X sum |y_k|, X sum |y_k|], so a result beyond the
 * first giant step walks only the steps that can hold it.
 * Variable time in y (public) and in the results only.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"

int henn_feip_decrypt_shared(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                             const henn_feip_ct *ct, const henn_feip_ct0_tab *tab,
                             const henn_feip_fk *fk, const int64_t *y, const size_t *idx,
                             size_t m, size_t cnt)
{
    if (v == NULL)
        return HENN_EINVAL;
    if (cnt != 0)
        memset(v, 0, cnt * sizeof(*v));
    if (mpk == NULL || dl == NULL || ct == NULL || ct->c == NULL || tab == NULL ||
        tab->tab_ == NULL || fk == NULL || y == NULL || idx == NULL || m == 0 || cnt == 0 ||
        ct->n != mpk->n || dl->keys == NULL || !henn__fe_idx_ok(mpk->n, idx, m) ||
        !decaf_255_point_eq(FE_CPT(&tab->c0), FE_CPT(&ct->c[0])))
        return HENN_EINVAL;
    uint64_t kmax = 0;
    for (size_t k = 0; k < cnt; k++) {
        if (fk[k].n != mpk->n)
            return HENN_EINVAL;
        for (size_t t = 0; t < m; t++) {
            int64_t a = y[k * m + t];
            uint64_t ua = a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
            if (ua > mpk->y_bound)
                return HENN_ERANGE;
            if (ua > kmax)
                kmax = ua;
        }
    }
    henn_fe_elem *pts = henn__fe_elems_alloc(m), *D = henn__fe_elems_alloc(cnt);
    int64_t *lo = malloc(cnt * sizeof(*lo)), *hi = malloc(cnt * sizeof(*hi));
    int rc = HENN_ENOMEM;
    if (pts == NULL || D == NULL || lo == NULL || hi == NULL)
        goto cleanup;
    for (size_t i = 0; i < m; i++)
        memcpy(&pts[i], &ct->c[1 + idx[i]], sizeof pts[i]);
    /* the exact bound of each result: |<x, y_k>| <= X sum |y_k| (below
     * n X Y < 2^62 by the mpk's bounds) */
    for (size_t k = 0; k < cnt; k++) {
        uint64_t s = 0;
        for (size_t i = 0; i < m; i++) {
            int64_t a = y[k * m + i];
            s += a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
        }
        hi[k] = (int64_t)(s * mpk->x_bound);
        lo[k] = -hi[k];
    }
    rc = 0;
    if (kmax == 0) {
        for (size_t k = 0; k < cnt; k++)
            decaf_255_point_copy(FE_PT(&D[k]), decaf_255_point_identity);
    } else {
        /* affine points: the MSM's mixed additions (and its eight-lane
         * engine where the processor has one) */
        rc = henn__fe_make_affine(pts, m);
        if (rc != 0)
            goto cleanup;
        for (size_t k = 0; k < cnt; k++)
            henn__fe_msm_fast(FE_PT(&D[k]), pts, y + k * m, m);
    }
    /* D_k -= sk_k c_0: all cnt products from the c_0 table, eight at a
     * time on IFMA (fixedbase.c) */
    rc = henn__fe_ct0_sub_many(D, tab, fk, cnt);
    if (rc != 0)
        goto cleanup;
    rc = henn__fe_dlog_points(v, dl, D, lo, hi, cnt);

cleanup:
    if (rc != 0)
        memset(v, 0, cnt * sizeof(*v));
    free(pts);
    free(D);
    free(lo);
    free(hi);
    return rc;
}
