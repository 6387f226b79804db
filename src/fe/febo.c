/*
 * febo.c: CryptoNN's scheme for element-wise basic operations (Xu, Joshi,
 * Li, ICDCS 2019, section III-B) on ristretto255. Each key is bound to one
 * ciphertext through its commitment cmt = r g:
 *   add: k = s cmt - y g    dec: c - k         = (x + y) g
 *   sub: k = s cmt + y g    dec: c - k         = (x - y) g
 *   mul: k = (s y) cmt      dec: y c - k       = (x y) g
 *   div: k = (s / y) cmt    dec: (1 / y) c - k = (x / y) g
 * Division gives a small multiple of g only when y divides x; otherwise the
 * discrete log is out of range (HENN_ERANGE), since B * Y < l / 2.
 */
#include <string.h>

#include "fe/fe_internal.h"

static uint64_t mag(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void henn_febo_msk_clear(henn_febo_msk *msk)
{
    if (msk != NULL)
        henn_memzero(msk, sizeof *msk);
}

int henn_febo_setup(henn_febo_mpk *mpk, henn_febo_msk *msk, uint64_t x_bound, uint64_t y_bound)
{
    if (mpk == NULL || msk == NULL)
        return HENN_EINVAL;
    memset(mpk, 0, sizeof *mpk);
    memset(msk, 0, sizeof *msk);
    if (!henn__fe_bounds_ok(1, x_bound, y_bound))
        return HENN_ERANGE;
    int rc = henn_init();
    if (rc != 0)
        return rc;
    decaf_255_scalar_t s;
    rc = henn__fe_scalar_random(s);
    if (rc == 0) {
        decaf_255_precomputed_scalarmul(FE_PT(&mpk->h), decaf_255_precomputed_base, s);
        decaf_255_scalar_encode(msk->s, s);
        mpk->x_bound = msk->x_bound = x_bound;
        mpk->y_bound = msk->y_bound = y_bound;
    }
    decaf_255_scalar_destroy(s);
    return rc;
}

int henn_febo_encrypt(henn_febo_ct *ct, const henn_febo_mpk *mpk, int64_t x)
{
    if (ct == NULL || mpk == NULL)
        return HENN_EINVAL;
    memset(ct, 0, sizeof *ct);
    if (mag(x) > mpk->x_bound)
        return HENN_ERANGE;
    decaf_255_scalar_t r, xs;
    decaf_255_point_t t;
    int rc = henn__fe_scalar_random(r);
    if (rc == 0) {
        decaf_255_precomputed_scalarmul(FE_PT(&ct->cmt), decaf_255_precomputed_base, r);
        decaf_255_point_scalarmul(FE_PT(&ct->c), FE_CPT(&mpk->h), r);
        /* x g with libdecaf's constant-time fixed-base multiplication */
        henn__fe_scalar_from_i64(xs, x);
        decaf_255_precomputed_scalarmul(t, decaf_255_precomputed_base, xs);
        decaf_255_point_add(FE_PT(&ct->c), FE_CPT(&ct->c), t);
    }
    decaf_255_scalar_destroy(r);
    decaf_255_scalar_destroy(xs);
    decaf_255_point_destroy(t);
    return rc;
}

int henn_febo_derive_key(henn_febo_fk *fk, const henn_febo_msk *msk, const henn_febo_ct *ct,
                         int op, int64_t y)
{
    if (fk == NULL || msk == NULL || ct == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (op < HENN_FEBO_ADD || op > HENN_FEBO_DIV || (op == HENN_FEBO_DIV && y == 0))
        return HENN_EINVAL;
    if (mag(y) > msk->y_bound)
        return HENN_ERANGE;
    decaf_255_scalar_t s, ys, e;
    decaf_255_point_t t;
    int rc = 0;
    if (decaf_255_scalar_decode(s, msk->s) != DECAF_SUCCESS) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    henn__fe_scalar_from_i64(ys, y);
    struct decaf_255_point_s *k = FE_PT(&fk->k);
    switch (op) {
    case HENN_FEBO_ADD:
    case HENN_FEBO_SUB:
        decaf_255_point_scalarmul(k, FE_CPT(&ct->cmt), s);
        decaf_255_precomputed_scalarmul(t, decaf_255_precomputed_base, ys);
        if (op == HENN_FEBO_ADD)
            decaf_255_point_sub(k, k, t);
        else
            decaf_255_point_add(k, k, t);
        break;
    case HENN_FEBO_MUL:
        decaf_255_scalar_mul(e, s, ys);
        decaf_255_point_scalarmul(k, FE_CPT(&ct->cmt), e);
        break;
    default:
        if (decaf_255_scalar_invert(e, ys) != DECAF_SUCCESS) {
            rc = HENN_EINVAL;
            goto cleanup;
        }
        decaf_255_scalar_mul(e, s, e);
        decaf_255_point_scalarmul(k, FE_CPT(&ct->cmt), e);
        break;
    }
    fk->op = op;
    fk->y = y;

cleanup:
    decaf_255_scalar_destroy(s);
    decaf_255_scalar_destroy(e);
    decaf_255_point_destroy(t);
    if (rc != 0)
        memset(fk, 0, sizeof *fk);
    return rc;
}

int henn_febo_decrypt(int64_t *v, const henn_febo_mpk *mpk, const henn_fe_dlog *dl,
                      const henn_febo_ct *ct, const henn_febo_fk *fk)
{
    if (v == NULL)
        return HENN_EINVAL;
    *v = 0;
    if (mpk == NULL || dl == NULL || ct == NULL || fk == NULL || fk->op < HENN_FEBO_ADD ||
        fk->op > HENN_FEBO_DIV || (fk->op == HENN_FEBO_DIV && fk->y == 0))
        return HENN_EINVAL;
    if (mag(fk->y) > mpk->y_bound)
        return HENN_ERANGE;
    decaf_255_point_t d;
    decaf_255_scalar_t ys;
    henn__fe_scalar_from_i64(ys, fk->y);
    if (fk->op == HENN_FEBO_MUL) {
        decaf_255_point_scalarmul(d, FE_CPT(&ct->c), ys);
    } else if (fk->op == HENN_FEBO_DIV) {
        if (decaf_255_scalar_invert(ys, ys) != DECAF_SUCCESS)
            return HENN_EINVAL;
        decaf_255_point_scalarmul(d, FE_CPT(&ct->c), ys);
    } else {
        decaf_255_point_copy(d, FE_CPT(&ct->c));
    }
    decaf_255_point_sub(d, d, FE_CPT(&fk->k));
    return henn__fe_dlog_point(v, dl, d);
}
