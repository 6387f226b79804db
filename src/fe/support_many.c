/*
 * support_many.c: many FEIP decryptions on index-list supports of one
 * ciphertext at once (henn_feip_decrypt_idx_many, henn/fe.h). Each result
 * is first looked up at the table's first giant step with the points
 * normalised together (one field inversion for the whole call instead of
 * one per query) and a hit is checked with the dlog table's windowed table
 * of g multiples (henn__fe_dlog_small_g, at most one addition per 4 bits of
 * the result, instead of a full fixed-base multiplication); a miss
 * takes the ordinary baby-step giant-step path. The table key is the one
 * src/fe/dlog.c builds (low bits of the affine y, parity of x).
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"
#include "fe/gf25519.h"

static uint64_t key_of(const fe25519 *y)
{
    uint64_t k = y->v[0] | (y->v[1] << 51);
    return k == 0 ? 1 : k;
}

int henn_feip_decrypt_idx_many(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
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
        ct->n != mpk->n || dl->keys == NULL ||
        !decaf_255_point_eq(FE_CPT(&tab->c0), FE_CPT(&ct->c[0])))
        return HENN_EINVAL;
    for (size_t k = 0; k < cnt; k++) {
        if (fk[k].n != mpk->n || !henn__fe_idx_ok(mpk->n, idx + k * m, m))
            return HENN_EINVAL;
        for (size_t t = 0; t < m; t++) {
            int64_t a = y[k * m + t];
            uint64_t ua = a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
            if (ua > mpk->y_bound)
                return HENN_ERANGE;
        }
    }
    henn_fe_elem *D = henn__fe_elems_alloc(cnt), *gath = henn__fe_elems_alloc(m);
    fe25519 *acc = malloc(cnt * sizeof(*acc)), *zs = malloc(cnt * sizeof(*zs));
    decaf_255_point_t t, q;
    int rc = 0;
    if (D == NULL || gath == NULL || acc == NULL || zs == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    /* D_k = sum y c_idx - sk_k c_0 */
    for (size_t k = 0; k < cnt; k++) {
        for (size_t i = 0; i < m; i++)
            memcpy(&gath[i], &ct->c[1 + idx[k * m + i]], sizeof gath[i]);
        henn__fe_msm_fast(FE_PT(&D[k]), gath, y + k * m, m);
    }
    rc = henn__fe_ct0_sub_many(D, tab, fk, cnt);
    if (rc != 0)
        goto cleanup;
    /* 4 D_k normalised together (Montgomery's trick), looked up at giant step 0 */
    for (size_t k = 0; k < cnt; k++) {
        decaf_255_point_double(q, FE_CPT(&D[k]));
        decaf_255_point_double(q, q);
        fe_load(&zs[k], q->z);
        if (k == 0)
            acc[0] = zs[0];
        else
            fe_mul(&acc[k], &acc[k - 1], &zs[k]);
    }
    fe25519 inv;
    fe_invert(&inv, &acc[cnt - 1]);
    for (size_t k = cnt; k-- > 0;) {
        fe25519 zi, x, yy, tt;
        if (k > 0) {
            fe_mul(&zi, &inv, &acc[k - 1]);
            fe_mul(&inv, &inv, &zs[k]);
        } else {
            zi = inv;
        }
        decaf_255_point_double(q, FE_CPT(&D[k]));
        decaf_255_point_double(q, q);
        fe_load(&tt, q->y);
        fe_mul(&yy, &tt, &zi);
        fe_load(&tt, q->x);
        fe_mul(&x, &tt, &zi);
        fe_freeze(&yy);
        fe_freeze(&x);
        uint64_t key = key_of(&yy);
        uint32_t par = (uint32_t)(x.v[0] & 1);
        int found = 0;
        size_t msk = dl->cap - 1, s = (size_t)key & msk;
        for (; dl->keys[s] != 0 && !found; s = (s + 1) & msk) {
            if (dl->keys[s] != key)
                continue;
            int64_t j = (int64_t)(dl->vals[s] & 0x7fffffffu);
            int64_t cand = (dl->vals[s] >> 31) == par ? j : -j;
            uint64_t ca = cand < 0 ? (uint64_t)0 - (uint64_t)cand : (uint64_t)cand;
            if (ca > dl->bound)
                continue;
            henn__fe_dlog_small_g(t, dl, cand);
            if (decaf_255_point_eq(t, FE_CPT(&D[k]))) {
                v[k] = cand;
                found = 1;
            }
        }
        if (!found) {
            rc = henn__fe_dlog_point(&v[k], dl, FE_CPT(&D[k]));
            if (rc != 0)
                goto cleanup;
        }
    }

cleanup:
    if (rc != 0)
        memset(v, 0, cnt * sizeof(*v));
    free(D);
    free(gath);
    free(acc);
    free(zs);
    return rc;
}
