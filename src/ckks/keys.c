/*
 * CKKS keys: the secret key s (uniform ternary), the public key
 * (-a s + e, a), and key-switching keys from s' to s (relinearisation:
 * s' = s^2; Galois element g: s' = s(X^g)), all in the NTT domain.
 *
 * Uniform polynomials a are expanded from a fresh 32-byte seed drawn from
 * henn_random_bytes() (one ChaCha20 stream per domain and prime, sample.c);
 * secrets and errors come from henn_random_bytes() directly.
 * Timing: no branches or memory indices depend on s or e (the NTT and the
 * modular helpers are branch-free; the Galois permutation of s depends only
 * on the public element g).
 */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* Seeded-expansion domains (each key has its own fresh seed; the domains
 * keep the streams of one key's polynomials apart). */
#define DOMAIN_PK 1
#define DOMAIN_KSK_BASE 0x100 /* + digit j */

static int params_ok(const henn_ckks_params *params)
{
    return params != NULL && params->tables != NULL && params->L >= 1 && params->N > 0;
}

static size_t sk_words(const henn_ckks_params *params)
{
    return (params->L + 1) * params->N;
}

void henn_ckks_sk_clear(henn_ckks_sk *sk)
{
    if (sk == NULL)
        return;
    if (sk->s != NULL && sk->params != NULL)
        henn_free(sk->s, sk_words(sk->params) * sizeof(uint64_t));
    else
        free(sk->s); /* never allocated without params */
    memset(sk, 0, sizeof(*sk));
}

void henn_ckks_pk_clear(henn_ckks_pk *pk)
{
    if (pk == NULL)
        return;
    free(pk->data);
    memset(pk, 0, sizeof(*pk));
}

void henn__ckks_ksk_clear(henn_ckks_ksk *ksk)
{
    if (ksk == NULL)
        return;
    free(ksk->data);
    memset(ksk, 0, sizeof(*ksk));
}

void henn_ckks_relin_key_clear(henn_ckks_relin_key *rk)
{
    if (rk == NULL)
        return;
    henn__ckks_ksk_clear(&rk->ksk);
}

void henn_ckks_galois_keys_clear(henn_ckks_galois_keys *gk)
{
    if (gk == NULL)
        return;
    if (gk->keys != NULL)
        for (size_t t = 0; t < gk->count; t++)
            henn__ckks_ksk_clear(&gk->keys[t]);
    free(gk->keys);
    free(gk->elts);
    memset(gk, 0, sizeof(*gk));
}

/* rows x N small coefficients -> NTT domain over the primes idx (or
 * 0..rows-1). */
static void small_to_ntt(uint64_t *dst, const int8_t *x, const henn_ckks_params *params,
                         const size_t *idx, size_t rows)
{
    henn__ckks_small_to_rns(dst, x, params, idx, rows);
    for (size_t r = 0; r < rows; r++)
        henn__ckks_ntt_forward(dst + r * params->N,
                               &params->tables->ntt[idx != NULL ? idx[r] : r]);
}

/* b = e - a s over all L + 1 primes (NTT domain), e fresh from the CBD;
 * a is rows 0..L of `a`. */
static int rlwe_b(uint64_t *b, const uint64_t *a, const henn_ckks_sk *sk, int8_t *ebuf)
{
    const henn_ckks_params *params = sk->params;
    size_t N = params->N, rows = params->L + 1;
    int rc = henn__ckks_sample_cbd(ebuf, N);
    if (rc != 0)
        return rc;
    small_to_ntt(b, ebuf, params, NULL, rows);
    henn_memzero(ebuf, N);
    for (size_t i = 0; i < rows; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        const uint64_t *ai = a + i * N, *si = sk->s + i * N;
        uint64_t *bi = b + i * N;
        for (size_t k = 0; k < N; k++)
            bi[k] = henn__ckks_sub_mod(bi[k], henn__ckks_mul_mod(ai[k], si[k], m), m->q);
    }
    return 0;
}

int henn_ckks_keygen(henn_ckks_sk *sk, henn_ckks_pk *pk, const henn_ckks_params *params)
{
    if (sk == NULL || pk == NULL || sk == (void *)pk || !params_ok(params))
        return HENN_EINVAL;
    memset(sk, 0, sizeof(*sk));
    memset(pk, 0, sizeof(*pk));
    size_t N = params->N, rows = params->L + 1;
    uint8_t seed[HENN_CKKS_SEEDBYTES];
    int rc;
    int8_t *small = malloc(N);
    sk->s = malloc(rows * N * sizeof(uint64_t));
    pk->data = malloc(2 * rows * N * sizeof(uint64_t));
    if (small == NULL || sk->s == NULL || pk->data == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    sk->params = params;
    pk->params = params;
    rc = henn__ckks_sample_ternary(small, N);
    if (rc != 0)
        goto cleanup;
    small_to_ntt(sk->s, small, params, NULL, rows);
    henn_memzero(small, N);

    rc = henn_random_bytes(seed, sizeof(seed));
    if (rc != 0)
        goto cleanup;
    uint64_t *a = pk->data + rows * N;
    henn__ckks_expand_uniform(a, seed, DOMAIN_PK, params, NULL, rows);
    rc = rlwe_b(pk->data, a, sk, small);

cleanup:
    if (small != NULL)
        henn_free(small, N);
    henn_memzero(seed, sizeof(seed));
    if (rc != 0) {
        henn_ckks_sk_clear(sk);
        henn_ckks_pk_clear(pk);
    }
    return rc;
}

int henn__ckks_ksk_gen(henn_ckks_ksk *ksk, const henn_ckks_sk *sk, const uint64_t *s_prime)
{
    const henn_ckks_params *params = sk->params;
    size_t N = params->N, L = params->L, rows = L + 1;
    uint8_t seed[HENN_CKKS_SEEDBYTES];
    memset(ksk, 0, sizeof(*ksk));
    int8_t *ebuf = malloc(N);
    ksk->data = malloc(L * 2 * rows * N * sizeof(uint64_t));
    int rc = 0;
    if (ebuf == NULL || ksk->data == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    ksk->params = params;
    rc = henn_random_bytes(seed, sizeof(seed));
    if (rc != 0)
        goto cleanup;
    uint64_t P = params->q[L];
    for (size_t j = 0; j < L; j++) {
        uint64_t *b = ksk->data + (j * 2 + 0) * rows * N;
        uint64_t *a = ksk->data + (j * 2 + 1) * rows * N;
        henn__ckks_expand_uniform(a, seed, DOMAIN_KSK_BASE + j, params, NULL, rows);
        rc = rlwe_b(b, a, sk, ebuf);
        if (rc != 0)
            goto cleanup;
        /* + (P mod q_j) s' in row j */
        const henn__ckks_mod *m = &params->tables->mod[j];
        uint64_t pm = henn__ckks_reduce_64(P, m), pm_s = henn__ckks_shoup(pm, m->q);
        const uint64_t *sp = s_prime + j * N;
        uint64_t *bj = b + j * N;
        for (size_t k = 0; k < N; k++)
            bj[k] = henn__ckks_add_mod(bj[k], henn__ckks_mul_shoup(sp[k], pm, pm_s, m->q),
                                       m->q);
    }

cleanup:
    henn_memzero(seed, sizeof(seed));
    if (ebuf != NULL)
        henn_free(ebuf, N);
    if (rc != 0)
        henn__ckks_ksk_clear(ksk);
    return rc;
}

static int sk_ok(const henn_ckks_sk *sk)
{
    return sk != NULL && params_ok(sk->params) && sk->s != NULL;
}

int henn_ckks_relin_keygen(henn_ckks_relin_key *rk, const henn_ckks_sk *sk)
{
    if (rk == NULL || !sk_ok(sk))
        return HENN_EINVAL;
    memset(rk, 0, sizeof(*rk));
    const henn_ckks_params *params = sk->params;
    size_t N = params->N, L = params->L;
    uint64_t *s2 = malloc(L * N * sizeof(uint64_t));
    if (s2 == NULL)
        return HENN_ENOMEM;
    for (size_t i = 0; i < L; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        for (size_t k = 0; k < N; k++)
            s2[i * N + k] = henn__ckks_mul_mod(sk->s[i * N + k], sk->s[i * N + k], m);
    }
    int rc = henn__ckks_ksk_gen(&rk->ksk, sk, s2);
    henn_free(s2, L * N * sizeof(uint64_t));
    return rc;
}

uint32_t henn__ckks_rotation_elt(const henn_ckks_params *params, long steps)
{
    /* 3 has order N/2 modulo 2N: reduce steps modulo N/2 first. */
    uint64_t half = params->N / 2, two_n = 2 * (uint64_t)params->N;
    long h = (long)half;
    uint64_t k = (uint64_t)(((steps % h) + h) % h);
    uint64_t g = 1, b = 3;
    while (k != 0) {
        if (k & 1)
            g = (g * b) % two_n;
        b = (b * b) % two_n;
        k >>= 1;
    }
    return (uint32_t)g;
}

int henn_ckks_galois_keygen(henn_ckks_galois_keys *gk, const henn_ckks_sk *sk, const int *steps,
                            size_t count, int conjugate)
{
    if (gk == NULL || !sk_ok(sk) || (steps == NULL && count != 0))
        return HENN_EINVAL;
    memset(gk, 0, sizeof(*gk));
    const henn_ckks_params *params = sk->params;
    size_t N = params->N, L = params->L;
    long half = (long)(N / 2);
    int defaults = steps == NULL && count == 0;
    for (size_t t = 0; t < count; t++)
        if (steps[t] <= -half || steps[t] >= half)
            return HENN_EINVAL;

    /* The list of elements, without duplicates and without the identity. */
    size_t cap = (defaults ? 2 * params->logN : count) + 1;
    uint32_t *elts = malloc(cap * sizeof(uint32_t));
    uint32_t *perm = malloc(N * sizeof(uint32_t));
    uint64_t *sp = malloc(L * N * sizeof(uint64_t));
    int rc = 0;
    size_t n = 0;
    if (elts == NULL || perm == NULL || sp == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    size_t nsteps = defaults ? 2 * params->logN : count;
    for (size_t t = 0; t < nsteps + 1; t++) {
        uint32_t g;
        if (t == nsteps) {
            if (!(conjugate || defaults))
                break;
            g = (uint32_t)(2 * N - 1);
        } else if (defaults) {
            long p = 1L << (t / 2);
            if (p >= half)
                continue;
            g = henn__ckks_rotation_elt(params, (t & 1) ? -p : p);
        } else {
            g = henn__ckks_rotation_elt(params, steps[t]);
        }
        int dup = g == 1;
        for (size_t u = 0; u < n; u++)
            dup |= elts[u] == g;
        if (!dup)
            elts[n++] = g;
    }

    gk->params = params;
    gk->elts = elts;
    elts = NULL;
    gk->keys = calloc(n > 0 ? n : 1, sizeof(henn_ckks_ksk));
    if (gk->keys == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (size_t t = 0; t < n; t++) {
        henn__ckks_galois_perm(perm, N, params->logN, gk->elts[t]);
        henn__ckks_apply_perm(sp, sk->s, perm, N, L);
        rc = henn__ckks_ksk_gen(&gk->keys[t], sk, sp);
        if (rc != 0)
            goto cleanup;
        gk->count = t + 1;
    }

cleanup:
    free(elts);
    free(perm);
    if (sp != NULL)
        henn_free(sp, L * N * sizeof(uint64_t));
    if (rc != 0)
        henn_ckks_galois_keys_clear(gk);
    return rc;
}
