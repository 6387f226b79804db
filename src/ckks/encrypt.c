/*
 * CKKS encryption and decryption.
 *
 * Public key (SEAL's method): at level l, over the primes q_0..q_l and P,
 *   (c0, c1) = (v b + e0, v a + e1),  v ternary, e0, e1 centred binomial,
 * then each component is divided by P with rounding, x -> (x - [x]_P) / P
 * with [x]_P the centred residue, and m is added to c0. The noise
 * (v e + e0 + e1 s) / P all but vanishes; what remains is the rounding,
 * r0 + r1 s with |r_c| <= 1/2, as in SEAL.
 * Symmetric: (-a s + e + m, a), a expanded from a fresh seed (domain
 * HENN__CKKS_DOMAIN_CT, primes 0..level) so that a can be stored as its seed.
 *
 * Timing: no branches or memory indices depend on s, v, e or m.
 */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

static int pt_ok(const henn_ckks_pt *pt)
{
    return pt != NULL && pt->params != NULL && pt->params->tables != NULL && pt->data != NULL &&
           pt->level < pt->params->L;
}

/* x in [0, P) as the centred integer (x > P / 2: x - P), reduced mod m. */
static uint64_t centred_mod(uint64_t x, uint64_t P, uint64_t P_mod, const henn__ckks_mod *m)
{
    uint64_t neg = (uint64_t)0 - (uint64_t)(x > (P >> 1));
    return henn__ckks_sub_mod(henn__ckks_reduce_64(x, m), P_mod & neg, m->q);
}

int henn_ckks_encrypt(henn_ckks_ct *ct, const henn_ckks_pk *pk, const henn_ckks_pt *pt)
{
    if (ct == NULL || pk == NULL || pk->data == NULL || !pt_ok(pt) || pk->params != pt->params)
        return HENN_EINVAL;
    const henn_ckks_params *params = pt->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, L = params->L, l = pt->level, rows = L + 1;
    size_t idx[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i <= l; i++)
        idx[i] = i;
    idx[l + 1] = L;

    /* scratch: v (l + 2 rows), tP and w (one row each), small buffers */
    size_t words = (l + 4) * N;
    uint64_t *scratch = malloc(words * sizeof(uint64_t));
    int8_t *small = malloc(3 * N);
    int rc = 0;
    if (scratch == NULL || small == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    int8_t *vs = small, *e0 = small + N, *e1 = small + 2 * N;
    uint64_t *v = scratch, *tP = v + (l + 2) * N, *w = tP + N;
    if ((rc = henn__ckks_sample_ternary(vs, N)) != 0 || (rc = henn__ckks_sample_cbd(e0, N)) != 0 ||
        (rc = henn__ckks_sample_cbd(e1, N)) != 0)
        goto cleanup;
    rc = henn__ckks_ct_reserve(ct, params, 2, l, pt->scale);
    if (rc != 0)
        goto cleanup;
    henn__ckks_small_to_rns(v, vs, params, idx, l + 2);
    for (size_t r = 0; r < l + 2; r++)
        henn__ckks_ntt_forward(v + r * N, &tb->ntt[idx[r]]);

    uint64_t P = params->q[L];
    const henn__ckks_mod *mP = &tb->mod[L];
    for (size_t c = 0; c < 2; c++) {
        const uint64_t *pkc = pk->data + c * rows * N;
        const int8_t *e = c == 0 ? e0 : e1;
        /* The P-limb: v pk_c + e_c in the coefficient domain. */
        const uint64_t *vP = v + (l + 1) * N, *kP = pkc + L * N;
        for (size_t k = 0; k < N; k++)
            tP[k] = henn__ckks_mul_mod(vP[k], kP[k], mP);
        henn__ckks_ntt_inverse(tP, &tb->ntt[L]);
        for (size_t k = 0; k < N; k++) {
            int64_t x = e[k];
            uint64_t ex = (uint64_t)x + (P & (uint64_t)(x >> 63));
            tP[k] = henn__ckks_add_mod(tP[k], ex, P);
        }
        for (size_t i = 0; i <= l; i++) {
            const henn__ckks_mod *m = &tb->mod[i];
            uint64_t q = m->q, P_mod = henn__ckks_reduce_64(P, m);
            uint64_t pinv = henn__ckks_inv_mod(P_mod, m), pinv_s = henn__ckks_shoup(pinv, q);
            /* w = e_c - [tP]_P mod q_i, coefficient domain, then NTT */
            for (size_t k = 0; k < N; k++) {
                int64_t x = e[k];
                uint64_t ex = (uint64_t)x + (q & (uint64_t)(x >> 63));
                w[k] = henn__ckks_sub_mod(ex, centred_mod(tP[k], P, P_mod, m), q);
            }
            henn__ckks_ntt_forward_lazy(w, &tb->ntt[i]); /* [0, 2q) */
            const uint64_t *vi = v + i * N, *ki = pkc + i * N;
            const uint64_t *mi = pt->data + i * N;
            uint64_t *out = henn__ckks_ct_poly(ct, c, i);
            for (size_t k = 0; k < N; k++) {
                uint64_t x = henn__ckks_mul_mod(vi[k], ki[k], m) + w[k]; /* < 3q */
                uint64_t y = henn__ckks_mul_shoup(x, pinv, pinv_s, q);
                out[k] = c == 0 ? henn__ckks_add_mod(y, mi[k], q) : y;
            }
        }
    }

cleanup:
    if (scratch != NULL)
        henn_free(scratch, words * sizeof(uint64_t));
    if (small != NULL)
        henn_free(small, 3 * N);
    if (rc != 0)
        henn_ckks_ct_clear(ct);
    return rc;
}

int henn_ckks_encrypt_symmetric(henn_ckks_ct *ct, uint8_t seed[HENN_CKKS_SEEDBYTES],
                                const henn_ckks_sk *sk, const henn_ckks_pt *pt)
{
    if (ct == NULL || sk == NULL || sk->s == NULL || !pt_ok(pt) || sk->params != pt->params)
        return HENN_EINVAL;
    const henn_ckks_params *params = pt->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, l = pt->level;
    uint8_t sd[HENN_CKKS_SEEDBYTES];
    int8_t *e = malloc(N);
    int rc = 0;
    if (e == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    if ((rc = henn_random_bytes(sd, sizeof(sd))) != 0 || (rc = henn__ckks_sample_cbd(e, N)) != 0)
        goto cleanup;
    rc = henn__ckks_ct_reserve(ct, params, 2, l, pt->scale);
    if (rc != 0)
        goto cleanup;
    uint64_t *c0 = henn__ckks_ct_poly(ct, 0, 0), *c1 = henn__ckks_ct_poly(ct, 1, 0);
    henn__ckks_expand_uniform(c1, sd, HENN__CKKS_DOMAIN_CT, params, NULL, l + 1);
    henn__ckks_small_to_rns(c0, e, params, NULL, l + 1);
    for (size_t i = 0; i <= l; i++) {
        const henn__ckks_mod *m = &tb->mod[i];
        uint64_t q = m->q;
        uint64_t *r0 = c0 + i * N;
        const uint64_t *r1 = c1 + i * N, *si = sk->s + i * N, *mi = pt->data + i * N;
        henn__ckks_ntt_forward(r0, &tb->ntt[i]);
        for (size_t k = 0; k < N; k++) {
            uint64_t as = henn__ckks_mul_mod(r1[k], si[k], m);
            r0[k] = henn__ckks_add_mod(henn__ckks_sub_mod(r0[k], as, q), mi[k], q);
        }
    }
    if (seed != NULL)
        memcpy(seed, sd, sizeof(sd));

cleanup:
    henn_memzero(sd, sizeof(sd));
    if (e != NULL)
        henn_free(e, N);
    if (rc != 0)
        henn_ckks_ct_clear(ct);
    return rc;
}

int henn_ckks_decrypt(henn_ckks_pt *pt, const henn_ckks_sk *sk, const henn_ckks_ct *ct)
{
    if (pt == NULL || sk == NULL || sk->s == NULL || ct == NULL || ct->params == NULL ||
        ct->data == NULL || sk->params != ct->params || ct->size < 2 || ct->size > 3 ||
        ct->level >= ct->params->L)
        return HENN_EINVAL;
    const henn_ckks_params *params = ct->params;
    size_t N = params->N, l = ct->level;
    int rc = henn__ckks_pt_reserve(pt, params, l, ct->scale);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i <= l; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        const uint64_t *c0 = henn__ckks_ct_poly(ct, 0, i), *c1 = henn__ckks_ct_poly(ct, 1, i);
        const uint64_t *si = sk->s + i * N;
        uint64_t *out = pt->data + i * N;
        if (ct->size == 2) {
            for (size_t k = 0; k < N; k++)
                out[k] = henn__ckks_reduce_sq((henn__u128)c1[k] * si[k] + c0[k], m);
        } else {
            /* c0 + (c1 + c2 s) s; every sum is below q^2 + q < 2^(2 bits + 1) */
            const uint64_t *c2 = henn__ckks_ct_poly(ct, 2, i);
            for (size_t k = 0; k < N; k++) {
                uint64_t t = henn__ckks_reduce_sq((henn__u128)c2[k] * si[k] + c1[k], m);
                out[k] = henn__ckks_reduce_sq((henn__u128)t * si[k] + c0[k], m);
            }
        }
    }
    return 0;
}
