/*
 * affine.c: points brought to Z = 1 in batches (Montgomery's trick: one
 * field inversion for the whole batch, then 3 multiplications per point for
 * X/Z, Y/Z and T/Z). Encryption leaves its ciphertext points so, which lets
 * decryption add them with mixed additions (msm.c) exactly as it does for
 * a deserialized ciphertext, whose points libdecaf's decoder leaves at
 * Z = 1. Constant time (no branch or index on the coordinates). Writes
 * libdecaf's limbs: only after henn__fe_layout_ok() accepted the build.
 */
#include <stdlib.h>

#include "fe/fe_internal.h"
#include "fe/gf25519.h"

static void store_frozen(gf_25519_s *g, fe25519 *a)
{
    fe_freeze(a);
    for (int i = 0; i < 5; i++)
        g->limb[i] = a->v[i];
}

int henn__fe_make_affine(henn_fe_elem *p, size_t cnt)
{
    if (cnt == 0)
        return 0;
    if (cnt > SIZE_MAX / sizeof(fe25519))
        return HENN_ENOMEM;
    fe25519 *acc = malloc(cnt * sizeof *acc);
    if (acc == NULL)
        return HENN_ENOMEM;
    fe25519 z, inv, zi, t;
    for (size_t i = 0; i < cnt; i++) {
        fe_load(&z, FE_CPT(&p[i])->z);
        if (i == 0)
            acc[0] = z;
        else
            fe_mul(&acc[i], &acc[i - 1], &z);
    }
    fe_invert(&inv, &acc[cnt - 1]);
    for (size_t i = cnt; i-- > 0;) {
        struct decaf_255_point_s *q = FE_PT(&p[i]);
        if (i > 0) {
            fe_mul(&zi, &inv, &acc[i - 1]);
            fe_load(&z, q->z);
            fe_mul(&inv, &inv, &z);
        } else {
            zi = inv;
        }
        fe_load(&t, q->x);
        fe_mul(&t, &t, &zi);
        store_frozen(q->x, &t);
        fe_load(&t, q->y);
        fe_mul(&t, &t, &zi);
        store_frozen(q->y, &t);
        fe_load(&t, q->t);
        fe_mul(&t, &t, &zi);
        store_frozen(q->t, &t);
        q->z->limb[0] = 1;
        for (int k = 1; k < 5; k++)
            q->z->limb[k] = 0;
    }
    henn_memzero(acc, cnt * sizeof *acc);
    free(acc);
    henn_memzero(&inv, sizeof inv);
    henn_memzero(&zi, sizeof zi);
    henn_memzero(&z, sizeof z);
    henn_memzero(&t, sizeof t);
    return 0;
}
