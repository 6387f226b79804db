/*
 * Paillier keys, encryption, decryption and homomorphic operations.
 * Paillier 1999 (EUROCRYPT), section 3; DJN 2010 section 4.2 for the
 * public-key noise h_s^a; CRT decryption as python-paillier.
 */
#include <sodium.h>
#include <stdlib.h>

#include "paillier_internal.h"

/* ---------------------------------------------------------- init/clear -- */

/* count Montgomery contexts (mont.c picks IFMA or mpn), for moduli m[i],
 * each with its 8-lane context attached (mont_mb.c). */
static int mont_new(struct henn__mont **out, const mpz_srcptr *m, size_t count)
{
    struct henn__mont *mt = calloc(count, sizeof(*mt));
    size_t i;
    int rc = 0;
    *out = NULL;
    if (mt == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count && rc == 0; i++) {
        rc = henn__mont_init(&mt[i], m[i]);
        if (rc == 0)
            rc = henn__mont_attach_mb(&mt[i]);
    }
    if (rc != 0) { /* a failed init leaves its context zeroed: clearing it is safe */
        while (i-- > 0)
            henn__mont_clear(&mt[i]);
        free(mt);
        return rc;
    }
    *out = mt;
    return 0;
}

static void mont_free(struct henn__mont *mt, size_t count)
{
    size_t i;
    if (mt == NULL)
        return;
    for (i = 0; i < count; i++)
        henn__mont_clear(&mt[i]);
    free(mt);
}

/* (Re)build pk->mont for pk->n2; the fixed-base table built on the old
 * context is dropped first. */
static int pk_reset_mont(henn_paillier_pk *pk)
{
    mpz_srcptr mod = pk->n2;
    henn__paillier_fbtab_free(pk->fb);
    pk->fb = NULL;
    mont_free(pk->mont, 1);
    return mont_new(&pk->mont, &mod, 1);
}

void henn_paillier_pk_init(henn_paillier_pk *pk)
{
    memset(pk, 0, sizeof(*pk));
    mpz_inits(pk->n, pk->n2, pk->max_int, pk->hs, NULL);
}

void henn_paillier_pk_clear(henn_paillier_pk *pk)
{
    if (pk->n->_mp_d != NULL) {
        mpz_clear(pk->n);
        mpz_clear(pk->n2);
        mpz_clear(pk->max_int);
        mpz_clear(pk->hs);
    }
    henn__paillier_fbtab_free(pk->fb);
    mont_free(pk->mont, 1);
    memset(pk, 0, sizeof(*pk));
}

#define SK_SECRETS(X)                                                                              \
    X(p) X(q) X(p2) X(q2) X(pm1) X(qm1) X(hp) X(hq) X(p_inv_q) X(p2_inv_q2) X(lambda) X(mu)

void henn_paillier_sk_init(henn_paillier_sk *sk)
{
    memset(sk, 0, sizeof(*sk));
    henn_paillier_pk_init(&sk->pk);
#define SK_INIT_(f) mpz_init(sk->f);
    SK_SECRETS(SK_INIT_)
#undef SK_INIT_
}

void henn_paillier_sk_clear(henn_paillier_sk *sk)
{
    henn_paillier_pk_clear(&sk->pk);
    mont_free(sk->mont, 2);
#define SK_CLEAR_(f) henn__mpz_wipe_clear(sk->f);
    SK_SECRETS(SK_CLEAR_)
#undef SK_CLEAR_
    henn_memzero(sk, sizeof(*sk));
}

void henn_paillier_pt_init(henn_paillier_pt *pt)
{
    mpz_init(pt->encoding);
    pt->exponent = 0;
}

void henn_paillier_pt_clear(henn_paillier_pt *pt)
{
    henn__mpz_wipe_clear(pt->encoding);
    pt->exponent = 0;
}

void henn_paillier_ct_init(henn_paillier_ct *ct)
{
    memset(ct, 0, sizeof(*ct));
    mpz_init(ct->c);
}

void henn_paillier_ct_clear(henn_paillier_ct *ct)
{
    henn__mpz_wipe_clear(ct->c);
    memset(ct, 0, sizeof(*ct));
}

int henn_paillier_ct_copy(henn_paillier_ct *r, const henn_paillier_ct *a)
{
    if (r != a) {
        mpz_set(r->c, a->c);
        r->exponent = a->exponent;
        memcpy(r->kid, a->kid, sizeof(r->kid));
    }
    return 0;
}

/* ---------------------------------------------------------------- keys -- */

void henn__paillier_kid(uint8_t kid[HENN_PAILLIER_KIDBYTES], const mpz_t n)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    size_t len = (mpz_sizeinbase(n, 2) + 7) / 8, count = 0;
    uint8_t *buf = calloc(len ? len : 1, 1);
    if (buf == NULL) { /* cannot happen for sane n; fall back to a fixed id */
        memset(kid, 0xff, HENN_PAILLIER_KIDBYTES);
        return;
    }
    mpz_export(buf, &count, 1, 1, 1, 0, n);
    crypto_hash_sha256(h, buf, count);
    memcpy(kid, h, HENN_PAILLIER_KIDBYTES);
    free(buf);
}

static int check_bits(size_t bits, unsigned flags)
{
    if (bits > HENN_PAILLIER_MAX_BITS)
        return HENN_EPARAM;
    if (bits < HENN_PAILLIER_MIN_BITS && !(flags & HENN_PAILLIER_INSECURE))
        return HENN_EPARAM;
    if (bits < 6) /* HENN_PAILLIER_INSECURE: down to textbook examples (n = 77) */
        return HENN_EPARAM;
    return 0;
}

/* Largest trial divisor for a public modulus (primes below it). */
#define SMALL_FACTOR_BOUND 65536UL

/*
 * Structural checks of a public modulus, after the size check: n must not
 * be prime, a perfect power (p^k, or a square such as p^2 q^2), or have a
 * prime factor below min(2^16, 2^(bits/4)) (trial division through one gcd
 * with a primorial; the 2^(bits/4) cap keeps textbook keys such as n = 77
 * usable under HENN_PAILLIER_INSECURE). None of these can be the product
 * of two large distinct primes; each would make encryption insecure or
 * decryption ill-defined. Cost: about one modular exponentiation.
 */
static int check_modulus(const mpz_t n, size_t bits)
{
    unsigned long bound = SMALL_FACTOR_BOUND;
    mpz_t g;
    int ok;
    if (bits / 4 < 16)
        bound = 1UL << (bits / 4);
    if (mpz_perfect_power_p(n) || mpz_probab_prime_p(n, 30) != 0)
        return HENN_EKEY;
    mpz_init(g);
    mpz_primorial_ui(g, bound);
    mpz_gcd(g, g, n);
    ok = mpz_cmp_ui(g, 1) == 0;
    mpz_clear(g);
    return ok ? 0 : HENN_EKEY;
}

int henn__paillier_pk_set_n(henn_paillier_pk *pk, const mpz_t n, unsigned flags)
{
    size_t bits = mpz_sizeinbase(n, 2);
    int rc;
    if (mpz_sgn(n) <= 0 || mpz_even_p(n))
        return HENN_EKEY;
    rc = check_bits(bits, flags);
    if (rc == 0)
        rc = check_modulus(n, bits);
    if (rc != 0)
        return rc;
    mpz_set(pk->n, n);
    mpz_mul(pk->n2, n, n);
    mpz_fdiv_q_ui(pk->max_int, n, 3);
    mpz_sub_ui(pk->max_int, pk->max_int, 1);
    pk->n_bits = bits;
    pk->a_bits = (bits + 1) / 2;
    henn__paillier_kid(pk->kid, n);
    return pk_reset_mont(pk);
}

/* h_s = (-x^2 mod n)^n mod n^2 for a random unit x (DJN 2010, 4.2). */
static int make_hs(henn_paillier_pk *pk)
{
    mpz_t x;
    int rc;
    mpz_init(x);
    rc = henn__mpz_random_unit(x, pk->n);
    if (rc == 0) {
        mpz_mul(x, x, x);
        mpz_mod(x, x, pk->n);
        mpz_sub(x, pk->n, x); /* h = -x^2 mod n, in (0, n) */
        mpz_powm_sec(pk->hs, x, pk->n, pk->n2);
    }
    henn__mpz_wipe_clear(x);
    return rc;
}

int henn_paillier_pk_from_n(henn_paillier_pk *pk, const mpz_t n, unsigned flags)
{
    int rc = henn__paillier_pk_set_n(pk, n, flags);
    if (rc == 0)
        rc = make_hs(pk);
    if (rc != 0) {
        henn_paillier_pk_clear(pk);
        henn_paillier_pk_init(pk);
    }
    return rc;
}

int henn_paillier_pk_copy(henn_paillier_pk *dst, const henn_paillier_pk *src)
{
    if (dst == src)
        return 0;
    mpz_set(dst->n, src->n);
    mpz_set(dst->n2, src->n2);
    mpz_set(dst->max_int, src->max_int);
    mpz_set(dst->hs, src->hs);
    dst->n_bits = src->n_bits;
    dst->a_bits = src->a_bits;
    memcpy(dst->kid, src->kid, sizeof(dst->kid));
    return pk_reset_mont(dst);
}

int henn_paillier_pk_equal(const henn_paillier_pk *a, const henn_paillier_pk *b)
{
    return mpz_cmp(a->n, b->n) == 0;
}

int henn_paillier_pk_precompute(henn_paillier_pk *pk, unsigned window_bits)
{
    struct henn__paillier_fbtab *t = NULL;
    int rc;
    if (window_bits == 0)
        window_bits = 10;
    if (window_bits < 2 || window_bits > 12 || mpz_sgn(pk->hs) == 0)
        return HENN_EINVAL;
    rc = henn__paillier_fbtab_build(&t, pk->hs, pk->mont, pk->a_bits, window_bits);
    if (rc != 0)
        return rc;
    henn__paillier_fbtab_free(pk->fb);
    pk->fb = t;
    return 0;
}

/* Derived secret-key values from p, q (sk->p < sk->q already set). */
static int sk_derive(henn_paillier_sk *sk, unsigned flags)
{
    mpz_srcptr mods[2];
    mpz_t n, t;
    int rc;
    mpz_inits(n, t, NULL);
    mpz_mul(n, sk->p, sk->q);
    rc = henn__paillier_pk_set_n(&sk->pk, n, flags);
    if (rc != 0)
        goto cleanup;
    mpz_mul(sk->p2, sk->p, sk->p);
    mpz_mul(sk->q2, sk->q, sk->q);
    mpz_sub_ui(sk->pm1, sk->p, 1);
    mpz_sub_ui(sk->qm1, sk->q, 1);
    mont_free(sk->mont, 2);
    mods[0] = sk->p2;
    mods[1] = sk->q2;
    rc = mont_new(&sk->mont, mods, 2);
    if (rc != 0)
        goto cleanup;
    /* hp = L_p((n+1)^(p-1) mod p^2)^-1 mod p; (n+1)^(p-1) = 1 + (p-1) n mod p^2 */
    mpz_mul(t, sk->pm1, n);
    mpz_add_ui(t, t, 1);
    mpz_mod(t, t, sk->p2);
    mpz_sub_ui(t, t, 1);
    mpz_divexact(t, t, sk->p);
    if (mpz_invert(sk->hp, t, sk->p) == 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    mpz_mul(t, sk->qm1, n);
    mpz_add_ui(t, t, 1);
    mpz_mod(t, t, sk->q2);
    mpz_sub_ui(t, t, 1);
    mpz_divexact(t, t, sk->q);
    if (mpz_invert(sk->hq, t, sk->q) == 0 || mpz_invert(sk->p_inv_q, sk->p, sk->q) == 0 ||
        mpz_invert(sk->p2_inv_q2, sk->p2, sk->q2) == 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    mpz_lcm(sk->lambda, sk->pm1, sk->qm1);
    /* mu = L((n+1)^lambda mod n^2)^-1 = lambda^-1 mod n */
    if (mpz_invert(sk->mu, sk->lambda, n) == 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    rc = make_hs(&sk->pk);
cleanup:
    henn__mpz_wipe_clear(t);
    mpz_clear(n);
    return rc;
}

int henn_paillier_sk_from_primes(henn_paillier_sk *sk, const mpz_t p, const mpz_t q,
                                 unsigned flags)
{
    mpz_t phi, n, g;
    int rc = 0;
    mpz_inits(phi, n, g, NULL);
    /* sizes first: primality tests on huge inputs would only waste time */
    if (mpz_sizeinbase(p, 2) + mpz_sizeinbase(q, 2) > HENN_PAILLIER_MAX_BITS + 1) {
        rc = HENN_EPARAM;
        goto cleanup;
    }
    if (mpz_cmp_ui(p, 2) <= 0 || mpz_cmp_ui(q, 2) <= 0 || mpz_cmp(p, q) == 0 ||
        mpz_probab_prime_p(p, 40) == 0 || mpz_probab_prime_p(q, 40) == 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    mpz_mul(n, p, q);
    mpz_sub_ui(phi, p, 1);
    mpz_sub_ui(g, q, 1);
    mpz_mul(phi, phi, g);
    mpz_gcd(g, n, phi);
    if (mpz_cmp_ui(g, 1) != 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    if (mpz_cmp(p, q) < 0) {
        mpz_set(sk->p, p);
        mpz_set(sk->q, q);
    } else {
        mpz_set(sk->p, q);
        mpz_set(sk->q, p);
    }
    rc = sk_derive(sk, flags);
cleanup:
    henn__mpz_wipe_clear(phi);
    henn__mpz_wipe_clear(g);
    mpz_clear(n);
    if (rc != 0) {
        henn_paillier_sk_clear(sk);
        henn_paillier_sk_init(sk);
    }
    return rc;
}

/* A random prime of exactly `bits` bits with the two top bits set (so that
 * the product of two has exactly 2*bits bits). */
static int random_prime(mpz_t p, size_t bits)
{
    int rc;
    do {
        rc = henn__mpz_random_bits(p, bits);
        if (rc != 0)
            return rc;
        mpz_setbit(p, (mp_bitcnt_t)(bits - 1));
        mpz_setbit(p, (mp_bitcnt_t)(bits - 2));
        mpz_setbit(p, 0);
        mpz_nextprime(p, p);
    } while (mpz_sizeinbase(p, 2) != bits || mpz_probab_prime_p(p, 40) == 0);
    return 0;
}

int henn_paillier_keygen(henn_paillier_pk *pk, henn_paillier_sk *sk, size_t n_bits,
                         unsigned flags)
{
    mpz_t p, q;
    int rc;
    if (n_bits == 0)
        n_bits = HENN_PAILLIER_DEFAULT_BITS;
    rc = check_bits(n_bits, flags);
    if (rc != 0 || n_bits % 2 != 0)
        return rc != 0 ? rc : HENN_EPARAM;
    rc = henn_init();
    if (rc != 0)
        return rc;
    mpz_inits(p, q, NULL);
    for (;;) {
        rc = random_prime(p, n_bits / 2);
        if (rc == 0)
            rc = random_prime(q, n_bits / 2);
        if (rc != 0)
            break;
        if (mpz_cmp(p, q) == 0)
            continue;
        rc = henn_paillier_sk_from_primes(sk, p, q, flags);
        if (rc != HENN_EKEY) /* EKEY: gcd(n, phi) != 1, draw again */
            break;
    }
    if (rc == 0 && mpz_sizeinbase(sk->pk.n, 2) != n_bits)
        rc = HENN_EPARAM; /* cannot happen with two top bits set */
    if (rc == 0 && pk != NULL) {
        rc = henn_paillier_pk_copy(pk, &sk->pk);
    }
    henn__mpz_wipe_clear(p);
    henn__mpz_wipe_clear(q);
    if (rc != 0) {
        henn_paillier_sk_clear(sk);
        henn_paillier_sk_init(sk);
    }
    return rc;
}

/* ---------------------------------------------------------- encryption -- */

/* gm = g^m = 1 + m n mod n^2 (m < n, so no reduction is needed). */
static int g_pow(mpz_t gm, const henn_paillier_pk *pk, const mpz_t m)
{
    if (mpz_sgn(m) < 0 || mpz_cmp(m, pk->n) >= 0)
        return HENN_ERANGE;
    mpz_mul(gm, m, pk->n);
    mpz_add_ui(gm, gm, 1);
    return 0;
}

int henn__paillier_djn_noise(mpz_t noise, const henn_paillier_pk *pk)
{
    mpz_t a;
    int rc;
    if (mpz_sgn(pk->hs) == 0)
        return HENN_EKEY;
    mpz_init(a);
    rc = henn__mpz_random_bits(a, pk->a_bits);
    if (rc != 0)
        goto cleanup;
    if (mpz_sgn(a) == 0)
        mpz_set_ui(noise, 1);
    else if (pk->fb != NULL)
        rc = henn__paillier_fbtab_pow(noise, pk->fb, a);
    else
        rc = henn__mont_powm_sec(pk->mont, noise, pk->hs, a, pk->a_bits);
cleanup:
    henn__mpz_wipe_clear(a);
    return rc;
}

static int finish(henn_paillier_ct *ct, const henn_paillier_pk *pk, const mpz_t gm,
                  const mpz_t noise, int exponent)
{
    mpz_mul(ct->c, gm, noise);
    mpz_mod(ct->c, ct->c, pk->n2);
    ct->exponent = exponent;
    memcpy(ct->kid, pk->kid, sizeof(ct->kid));
    return 0;
}

int henn__paillier_encrypt_noise(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                 const henn_paillier_pt *pt, const mpz_t noise)
{
    mpz_t gm;
    int rc;
    mpz_init(gm);
    rc = g_pow(gm, pk, pt->encoding);
    if (rc == 0)
        rc = finish(ct, pk, gm, noise, pt->exponent);
    henn__mpz_wipe_clear(gm);
    return rc;
}

int henn_paillier_encrypt(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                          const henn_paillier_pt *pt)
{
    mpz_t gm, noise;
    int rc;
    mpz_inits(gm, noise, NULL);
    rc = g_pow(gm, pk, pt->encoding);
    if (rc == 0)
        rc = henn__paillier_djn_noise(noise, pk);
    if (rc == 0)
        rc = finish(ct, pk, gm, noise, pt->exponent);
    henn__mpz_wipe_clear(gm);
    henn__mpz_wipe_clear(noise);
    return rc;
}

int henn_paillier_encrypt_with_r(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                 const henn_paillier_pt *pt, const mpz_t r)
{
    mpz_t gm, noise;
    int rc;
    mpz_inits(gm, noise, NULL);
    rc = g_pow(gm, pk, pt->encoding);
    if (rc == 0) {
        mpz_gcd(noise, r, pk->n);
        if (mpz_sgn(r) <= 0 || mpz_cmp(r, pk->n) >= 0 || mpz_cmp_ui(noise, 1) != 0)
            rc = HENN_EINVAL;
    }
    if (rc == 0) {
        mpz_powm_sec(noise, r, pk->n, pk->n2);
        rc = finish(ct, pk, gm, noise, pt->exponent);
    }
    henn__mpz_wipe_clear(gm);
    henn__mpz_wipe_clear(noise);
    return rc;
}

int henn_paillier_encrypt_textbook(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                   const henn_paillier_pt *pt)
{
    mpz_t r;
    int rc;
    mpz_init(r);
    rc = henn__mpz_random_unit(r, pk->n);
    if (rc == 0)
        rc = henn_paillier_encrypt_with_r(ct, pk, pt, r);
    henn__mpz_wipe_clear(r);
    return rc;
}

int henn_paillier_encrypt_djn_with_a(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                     const henn_paillier_pt *pt, const mpz_t a)
{
    mpz_t gm, noise;
    int rc;
    if (mpz_sgn(a) <= 0 || mpz_sgn(pk->hs) == 0)
        return HENN_EINVAL;
    mpz_inits(gm, noise, NULL);
    rc = g_pow(gm, pk, pt->encoding);
    if (rc == 0) {
        if (pk->fb != NULL && mpz_sizeinbase(a, 2) <= pk->a_bits)
            rc = henn__paillier_fbtab_pow(noise, pk->fb, a);
        else
            mpz_powm_sec(noise, pk->hs, a, pk->n2);
    }
    if (rc == 0)
        rc = finish(ct, pk, gm, noise, pt->exponent);
    henn__mpz_wipe_clear(gm);
    henn__mpz_wipe_clear(noise);
    return rc;
}

int henn_paillier_encrypt_sk(henn_paillier_ct *ct, const henn_paillier_sk *sk,
                             const henn_paillier_pt *pt)
{
    /* r^n mod p^2 depends only on r mod p (p | n), and r -> r^q is a
     * bijection of Z*_p (gcd(q, p - 1) = 1 because gcd(n, phi) = 1), so
     * r^n mod p^2 = (r^q)^p mod p^2 is distributed as s^p mod p^2 for s
     * uniform in Z*_p: a 1024-bit exponent mod p^2 instead of a 2048-bit one
     * mod n^2. Likewise mod q^2; CRT gives the textbook noise distribution. */
    mpz_t gm, rp, rq, t;
    int rc;
    mpz_inits(gm, rp, rq, t, NULL);
    rc = g_pow(gm, &sk->pk, pt->encoding);
    /* p and q are prime: every nonzero residue is a unit (no gcd on secrets) */
    do {
        rc = rc == 0 ? henn__mpz_random_below(rp, sk->p) : rc;
    } while (rc == 0 && mpz_sgn(rp) == 0);
    do {
        rc = rc == 0 ? henn__mpz_random_below(rq, sk->q) : rc;
    } while (rc == 0 && mpz_sgn(rq) == 0);
    if (rc == 0) {
        /* rp = r^n mod p^2, rq = r^n mod q^2 */
        rc = henn__mont_powm_sec(&sk->mont[0], rp, rp, sk->p, mpz_sizeinbase(sk->p, 2));
        if (rc == 0)
            rc = henn__mont_powm_sec(&sk->mont[1], rq, rq, sk->q, mpz_sizeinbase(sk->q, 2));
    }
    if (rc == 0) {
        /* CRT: x = x_p + p^2 ((x_q - x_p) (p^2)^-1 mod q^2) */
        rc = henn__sec_crt_combine(t, rp, rq, sk->p2, sk->q2, sk->p2_inv_q2);
        if (rc == 0)
            rc = finish(ct, &sk->pk, gm, t, pt->exponent);
    }
    henn__mpz_wipe_clear(gm);
    henn__mpz_wipe_clear(rp);
    henn__mpz_wipe_clear(rq);
    henn__mpz_wipe_clear(t);
    henn__burn_stack();
    return rc;
}

int henn_paillier_ct_validate(const henn_paillier_pk *pk, const henn_paillier_ct *ct)
{
    mpz_t g;
    int ok;
    if (!henn__paillier_same_key(pk, ct->kid))
        return HENN_EKEY;
    if (mpz_sgn(ct->c) <= 0 || mpz_cmp(ct->c, pk->n2) >= 0)
        return HENN_ERANGE;
    mpz_init(g);
    mpz_gcd(g, ct->c, pk->n);
    ok = mpz_cmp_ui(g, 1) == 0;
    mpz_clear(g);
    return ok ? 0 : HENN_ERANGE;
}

int henn__paillier_decrypt_check(const henn_paillier_sk *sk, const henn_paillier_ct *ct)
{
    /* A c sharing a factor with n would make L_p's division inexact and
     * decrypt to garbage: refuse it (c and n are public). */
    return henn_paillier_ct_validate(&sk->pk, ct);
}

int henn__paillier_decrypt_finish(henn_paillier_pt *pt, const henn_paillier_sk *sk, mpz_t xp,
                                  mpz_t xq, int exponent)
{
    /* m_p = L_p(xp) hp mod p, m_q likewise (python-paillier's h_function /
     * l_function); m = m_p + ((m_q - m_p) p^-1 mod q) p, p < q */
    int rc = henn__sec_crt_half(xp, xp, sk->p, sk->hp);
    if (rc == 0)
        rc = henn__sec_crt_half(xq, xq, sk->q, sk->hq);
    if (rc == 0)
        rc = henn__sec_crt_combine(pt->encoding, xp, xq, sk->p, sk->q, sk->p_inv_q);
    if (rc == 0)
        pt->exponent = exponent;
    henn__mpz_wipe(xp);
    henn__mpz_wipe(xq);
    return rc;
}

/* x = c^(p-1) mod p^2: the reduction and the exponentiation are constant
 * time for the sizes of n and p; the exponent length is that of p. */
static int decrypt_pow(mpz_t x, const mpz_t c, const mpz_t p, const mpz_t p2, const mpz_t pm1,
                       const struct henn__mont *mt, size_t c_limbs)
{
    int rc = henn__sec_mod(x, c, c_limbs, p2);
    if (rc == 0)
        rc = henn__mont_powm_sec(mt, x, x, pm1, mpz_sizeinbase(p, 2));
    return rc;
}

int henn_paillier_decrypt(henn_paillier_pt *pt, const henn_paillier_sk *sk,
                          const henn_paillier_ct *ct)
{
    mpz_t xp, xq;
    size_t c_limbs = mpz_size(sk->pk.n2);
    int rc = henn__paillier_decrypt_check(sk, ct);
    if (rc != 0)
        return rc;
    mpz_inits(xp, xq, NULL);
    rc = decrypt_pow(xp, ct->c, sk->p, sk->p2, sk->pm1, &sk->mont[0], c_limbs);
    if (rc == 0)
        rc = decrypt_pow(xq, ct->c, sk->q, sk->q2, sk->qm1, &sk->mont[1], c_limbs);
    if (rc == 0)
        rc = henn__paillier_decrypt_finish(pt, sk, xp, xq, ct->exponent);
    henn__mpz_wipe_clear(xp);
    henn__mpz_wipe_clear(xq);
    henn__burn_stack();
    return rc;
}

int henn_paillier_decrypt_lambda(henn_paillier_pt *pt, const henn_paillier_sk *sk,
                                 const henn_paillier_ct *ct)
{
    mpz_t x;
    int rc = henn__paillier_decrypt_check(sk, ct);
    if (rc != 0)
        return rc;
    mpz_init(x);
    mpz_powm_sec(x, ct->c, sk->lambda, sk->pk.n2);
    mpz_sub_ui(x, x, 1);
    mpz_fdiv_q(x, x, sk->pk.n); /* L(x) = (x - 1) / n */
    mpz_mul(x, x, sk->mu);
    mpz_mod(pt->encoding, x, sk->pk.n);
    pt->exponent = ct->exponent;
    henn__mpz_wipe_clear(x);
    henn__burn_stack();
    return 0;
}

/* ----------------------------------------------- homomorphic operations -- */

/* out = c^(16^d), d = from - to: the mantissa times 16^d. Refused
 * (HENN_ERANGE) when 16^d > max_int, as python-paillier refuses it (see
 * henn__paillier_max_shift): the result could then only be right for a
 * zero mantissa. Below that limit the mantissa, which is not visible here,
 * may still leave the valid range; callers that print results bound it
 * further (the CLI's exponent floor, docs/FORMATS.md). */
static int lower_exponent(mpz_t out, const henn_paillier_pk *pk, const mpz_t c, int from, int to)
{
    mpz_t f;
    int rc;
    long d = (long)from - (long)to;
    if (d < 0)
        return HENN_EINVAL;
    if (d > henn__paillier_max_shift(pk))
        return HENN_ERANGE;
    if (d == 0) {
        mpz_set(out, c);
        return 0;
    }
    mpz_init(f);
    mpz_ui_pow_ui(f, HENN_PAILLIER_BASE, (unsigned long)d);
    rc = henn__mont_powm(pk->mont, out, c, f);
    mpz_clear(f);
    return rc;
}

int henn_paillier_ct_decrease_exponent(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                       const henn_paillier_ct *a, int new_exponent)
{
    int rc;
    if (!henn__paillier_same_key(pk, a->kid))
        return HENN_EKEY;
    rc = lower_exponent(r->c, pk, a->c, a->exponent, new_exponent);
    if (rc != 0)
        return rc;
    r->exponent = new_exponent;
    memcpy(r->kid, pk->kid, sizeof(r->kid));
    return 0;
}

int henn_paillier_add(henn_paillier_ct *r, const henn_paillier_pk *pk, const henn_paillier_ct *a,
                      const henn_paillier_ct *b)
{
    mpz_t t;
    int rc = 0, e;
    if (!henn__paillier_same_key(pk, a->kid) || !henn__paillier_same_key(pk, b->kid))
        return HENN_EKEY;
    if (a->exponent == b->exponent) {
        mpz_mul(r->c, a->c, b->c);
        mpz_mod(r->c, r->c, pk->n2);
        r->exponent = a->exponent;
    } else {
        mpz_init(t);
        if (a->exponent > b->exponent) {
            e = b->exponent;
            rc = lower_exponent(t, pk, a->c, a->exponent, e);
            if (rc == 0)
                mpz_mul(t, t, b->c);
        } else {
            e = a->exponent;
            rc = lower_exponent(t, pk, b->c, b->exponent, e);
            if (rc == 0)
                mpz_mul(t, t, a->c);
        }
        if (rc == 0) {
            mpz_mod(r->c, t, pk->n2);
            r->exponent = e;
        }
        mpz_clear(t);
    }
    if (rc == 0)
        memcpy(r->kid, pk->kid, sizeof(r->kid));
    return rc;
}

int henn_paillier_add_plain(henn_paillier_ct *r, const henn_paillier_pk *pk,
                            const henn_paillier_ct *a, const henn_paillier_pt *b)
{
    henn_paillier_pt bb;
    mpz_t gm, ca;
    int rc, e;
    if (!henn__paillier_same_key(pk, a->kid))
        return HENN_EKEY;
    if (mpz_sgn(b->encoding) < 0 || mpz_cmp(b->encoding, pk->n) >= 0)
        return HENN_ERANGE;
    henn_paillier_pt_init(&bb);
    mpz_inits(gm, ca, NULL);
    mpz_set(bb.encoding, b->encoding);
    bb.exponent = b->exponent;
    e = a->exponent < b->exponent ? a->exponent : b->exponent;
    rc = henn_paillier_pt_decrease_exponent(&bb, pk, e);
    if (rc == 0)
        rc = lower_exponent(ca, pk, a->c, a->exponent, e);
    if (rc == 0)
        rc = g_pow(gm, pk, bb.encoding);
    if (rc == 0) {
        mpz_mul(r->c, ca, gm);
        mpz_mod(r->c, r->c, pk->n2);
        r->exponent = e;
        memcpy(r->kid, pk->kid, sizeof(r->kid));
    }
    henn_paillier_pt_clear(&bb);
    henn__mpz_wipe_clear(gm);
    mpz_clear(ca);
    return rc;
}

int henn_paillier_mul_plain(henn_paillier_ct *r, const henn_paillier_pk *pk,
                            const henn_paillier_ct *a, const henn_paillier_pt *k)
{
    mpz_t t;
    long e = (long)a->exponent + (long)k->exponent;
    int rc = 0;
    if (!henn__paillier_same_key(pk, a->kid))
        return HENN_EKEY;
    if (mpz_sgn(k->encoding) < 0 || mpz_cmp(k->encoding, pk->n) >= 0 || e > INT32_MAX ||
        e < INT32_MIN)
        return HENN_ERANGE;
    mpz_init(t);
    mpz_sub(t, pk->n, pk->max_int);
    if (mpz_cmp(k->encoding, t) >= 0) {
        /* Negative scalar: (c^-1)^(n - k), a short exponent. */
        mpz_sub(t, pk->n, k->encoding);
        if (mpz_invert(r->c, a->c, pk->n2) == 0)
            rc = HENN_ERANGE;
        else
            rc = henn__mont_powm(pk->mont, r->c, r->c, t);
    } else {
        rc = henn__mont_powm(pk->mont, r->c, a->c, k->encoding);
    }
    mpz_clear(t);
    if (rc == 0) {
        r->exponent = (int)e;
        memcpy(r->kid, pk->kid, sizeof(r->kid));
    }
    return rc;
}

int henn_paillier_mul_int64(henn_paillier_ct *r, const henn_paillier_pk *pk,
                            const henn_paillier_ct *a, int64_t k)
{
    henn_paillier_pt pt;
    int rc;
    henn_paillier_pt_init(&pt);
    rc = henn_paillier_encode_int64(&pt, pk, k, HENN_PAILLIER_NO_MAX_EXPONENT);
    if (rc == 0)
        rc = henn_paillier_mul_plain(r, pk, a, &pt);
    henn_paillier_pt_clear(&pt);
    return rc;
}

int henn_paillier_neg(henn_paillier_ct *r, const henn_paillier_pk *pk, const henn_paillier_ct *a)
{
    if (!henn__paillier_same_key(pk, a->kid))
        return HENN_EKEY;
    if (mpz_invert(r->c, a->c, pk->n2) == 0)
        return HENN_ERANGE;
    r->exponent = a->exponent;
    memcpy(r->kid, pk->kid, sizeof(r->kid));
    return 0;
}

int henn_paillier_sub(henn_paillier_ct *r, const henn_paillier_pk *pk, const henn_paillier_ct *a,
                      const henn_paillier_ct *b)
{
    henn_paillier_ct nb;
    int rc;
    henn_paillier_ct_init(&nb);
    rc = henn_paillier_neg(&nb, pk, b);
    if (rc == 0)
        rc = henn_paillier_add(r, pk, a, &nb);
    henn_paillier_ct_clear(&nb);
    return rc;
}

int henn_paillier_rerandomize(henn_paillier_ct *r, const henn_paillier_pk *pk,
                              const henn_paillier_ct *a)
{
    mpz_t noise;
    int rc;
    if (!henn__paillier_same_key(pk, a->kid))
        return HENN_EKEY;
    if (mpz_sgn(a->c) <= 0 || mpz_cmp(a->c, pk->n2) >= 0)
        return HENN_ERANGE;
    mpz_init(noise);
    /* full r^n, not DJN's h_s^a: see henn__paillier_noise */
    rc = henn__paillier_noise(&noise, 1, pk);
    if (rc == 0) {
        mpz_mul(r->c, a->c, noise);
        mpz_mod(r->c, r->c, pk->n2);
        r->exponent = a->exponent;
        memcpy(r->kid, pk->kid, sizeof(r->kid));
    }
    henn__mpz_wipe_clear(noise);
    return rc;
}

/* Miller's reduction: with L a multiple of lambda, a random w gives a
 * nontrivial square root of 1 mod n with probability >= 1/2. */
int henn__paillier_factor_from_lambda(mpz_t p, mpz_t q, const mpz_t n, const mpz_t lambda)
{
    mpz_t t, w, x, y, nm1;
    unsigned long s = 0, i;
    int tries, rc = HENN_EKEY;
    if (mpz_sgn(lambda) <= 0 || mpz_cmp_ui(n, 15) < 0)
        return HENN_EKEY;
    mpz_inits(t, w, x, y, nm1, NULL);
    mpz_set(t, lambda);
    while (mpz_even_p(t)) {
        mpz_fdiv_q_2exp(t, t, 1);
        s++;
    }
    mpz_sub_ui(nm1, n, 1);
    for (tries = 0; tries < 128 && rc != 0; tries++) {
        if (henn__mpz_random_below(w, nm1) != 0) {
            rc = HENN_ERNG;
            break;
        }
        if (mpz_cmp_ui(w, 2) < 0)
            continue;
        mpz_gcd(y, w, n);
        if (mpz_cmp_ui(y, 1) != 0) {
            mpz_set(p, y);
            rc = 0;
            break;
        }
        mpz_powm(x, w, t, n);
        if (mpz_cmp_ui(x, 1) == 0 || mpz_cmp(x, nm1) == 0)
            continue;
        for (i = 0; i < s; i++) {
            mpz_powm_ui(y, x, 2, n);
            if (mpz_cmp_ui(y, 1) == 0) {
                mpz_sub_ui(x, x, 1);
                mpz_gcd(p, x, n);
                rc = 0;
                break;
            }
            if (mpz_cmp(y, nm1) == 0)
                break;
            mpz_set(x, y);
        }
    }
    if (rc == 0) {
        mpz_divexact(q, n, p);
        if (mpz_cmp_ui(p, 1) == 0 || mpz_cmp_ui(q, 1) == 0)
            rc = HENN_EKEY;
    }
    henn__mpz_wipe_clear(t);
    henn__mpz_wipe_clear(w);
    henn__mpz_wipe_clear(x);
    henn__mpz_wipe_clear(y);
    mpz_clear(nm1);
    return rc;
}
