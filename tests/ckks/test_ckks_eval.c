/*
 * CKKS keys, encryption and evaluation: every homomorphic operation against
 * the same computation on plaintext doubles, decode(decrypt(op(enc(x))))
 * vs op(x), with error bounds derived from the parameters and the key;
 * samplers; seeded symmetric encryption; rotations (positive, negative,
 * zero, composed, missing keys), conjugation; exact scales; aliasing;
 * errors.
 *
 * Error model. Decoding evaluates the error polynomial at the slot roots
 * zeta_i, so an error r0 + r1 s (r_c with independent coefficients of
 * variance v) has, in slot i, a real part of variance
 * (N v / 2) (1 + |s(zeta_i)|^2) / 2: it depends on the secret key through
 * |s(zeta_i)|^2 (2N/3 on average, up to ~10 times that in some slots). The
 * test computes s(zeta_i) and the key errors e_j(zeta_i) from the keys and
 * checks every slot against its own standard deviation:
 *  - fresh public-key encryption: the rounding of the division by P
 *    (r0 + r1 s, r_c uniform in [-1/2, 1/2], v = 1/12) plus the encoder's
 *    rounding (v = 1/12): f_i = (N / 24) (2 + |s(zeta_i)|^2);
 *  - symmetric encryption: e (centred binomial, v = 10.5) plus rounding;
 *  - key switching adds sum_j d_j e_j / P with balanced digits d_j
 *    (v = q_j^2 / 12) and the key errors e_j, real variance
 *    sum_j (N q_j^2 / 24) |e_j(zeta_i)|^2 / P^2, plus the mod-down rounding
 *    r_i = (N / 24) (1 + |s(zeta_i)|^2); rescaling adds r_i as well;
 *  - a product x y (|x|, |y| <= 1) has error x e_y + y e_x, variance at
 *    most f_x + f_y.
 * A check passes when every slot's error is within 6.5 standard deviations
 * (a Gaussian exceeds that with probability 8e-11 per slot); the maximum
 * z-score is printed with the precision -log2(max |error|).
 */
#include <math.h>
#include <stdint.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"
#include "core/internal.h"
#include "henn/henn.h"
#include "../test.h"

#define ZMAX 6.5

static henn__prng rng;

static void fill_unit(double *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        v[i] = 2.0 * henn__prng_uniform(&rng) - 1.0;
}

static double bits_of(double err)
{
    return err > 0 ? -log2(err) : INFINITY;
}

static int ct_equal(const henn_ckks_ct *a, const henn_ckks_ct *b)
{
    if (a->params != b->params || a->size != b->size || a->level != b->level ||
        memcmp(&a->scale, &b->scale, sizeof(double)) != 0)
        return 0;
    size_t words = a->size * (a->level + 1) * a->params->N;
    return memcmp(a->data, b->data, words * sizeof(uint64_t)) == 0;
}

/* ---- a parameter set with its keys and its per-slot noise model ---- */

typedef struct ctx {
    henn_ckks_params params;
    henn_ckks_sk sk;
    henn_ckks_pk pk;
    henn_ckks_relin_key rk;
    henn_ckks_galois_keys gk;
    double scale;
    size_t N, slots, top;
    double *fv; /* fresh public-key error, real variance per slot (scale 1) */
    double *rv; /* rounding r0 + r1 s (mod-down, rescale), per slot */
    double *v;  /* scratch: the variance a check uses, per slot */
} ctx;

/* Centred value of x mod q. */
static int64_t centred(uint64_t x, uint64_t q)
{
    return x > q / 2 ? -(int64_t)(q - x) : (int64_t)x;
}

/* |p(zeta_i)|^2 for every slot i of the small polynomial p (N signed
 * coefficients): decode it as a level-0 plaintext at scale 1. */
static int slots_abs2(double *out, ctx *c, const int64_t *p)
{
    size_t N = c->N, n = c->slots;
    henn_ckks_pt pt = {0};
    double *z = malloc(2 * n * sizeof(double));
    int rc = z == NULL ? HENN_ENOMEM : henn__ckks_pt_reserve(&pt, &c->params, 0, 1.0);
    if (rc == 0) {
        uint64_t q = c->params.q[0];
        for (size_t k = 0; k < N; k++)
            pt.data[k] = p[k] < 0 ? q - (uint64_t)(-p[k]) : (uint64_t)p[k];
        henn__ckks_ntt_forward(pt.data, &c->params.tables->ntt[0]);
        rc = henn_ckks_decode_complex(z, n, &pt);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        out[i] = z[2 * i] * z[2 * i] + z[2 * i + 1] * z[2 * i + 1];
    henn_ckks_pt_clear(&pt);
    free(z);
    return rc;
}

/*
 * Real variance per slot of the key-switching error with ksk at `level`
 * (scale 1): the key errors e_j are row P of b_j + a_j s (P s' vanishes
 * modulo P), plus the mod-down rounding. Returns a malloc'd array.
 */
static double *ks_var(ctx *c, const henn_ckks_ksk *k, size_t level)
{
    const henn_ckks_params *p = &c->params;
    size_t N = c->N, n = c->slots, L = p->L, rows = L + 1;
    uint64_t P = p->q[L];
    double *v = malloc(n * sizeof(double)), *a2 = malloc(n * sizeof(double));
    uint64_t *t = malloc(N * sizeof(uint64_t));
    int64_t *e = malloc(N * sizeof(int64_t));
    int ok = v != NULL && a2 != NULL && t != NULL && e != NULL;
    for (size_t i = 0; ok && i < n; i++)
        v[i] = c->rv[i];
    for (size_t j = 0; ok && j <= level; j++) {
        const uint64_t *b = k->data + ((j * 2 + 0) * rows + L) * N;
        const uint64_t *a = k->data + ((j * 2 + 1) * rows + L) * N;
        const henn__ckks_mod *m = &p->tables->mod[L];
        for (size_t x = 0; x < N; x++)
            t[x] = henn__ckks_add_mod(b[x], henn__ckks_mul_mod(a[x], c->sk.s[L * N + x], m), P);
        henn__ckks_ntt_inverse(t, &p->tables->ntt[L]);
        for (size_t x = 0; x < N; x++)
            e[x] = centred(t[x], P);
        ok = slots_abs2(a2, c, e) == 0;
        double r = (double)p->q[j] / (double)P;
        for (size_t i = 0; ok && i < n; i++)
            v[i] += (double)N / 24.0 * r * r * a2[i];
    }
    free(a2);
    free(t);
    free(e);
    if (!ok) {
        free(v);
        v = NULL;
    }
    CHECK(v != NULL);
    return v;
}

static double vmax(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, v[i]);
    return m;
}

static int ctx_init(ctx *c, size_t N, const int *bits, size_t count, double scale,
                    const int *steps, size_t nsteps, int conj)
{
    memset(c, 0, sizeof(*c));
    c->scale = scale;
    c->N = N;
    c->slots = N / 2;
    int rc = henn_ckks_params_init(&c->params, N, bits, count, 0);
    if (rc == 0)
        rc = henn_ckks_keygen(&c->sk, &c->pk, &c->params);
    if (rc == 0)
        rc = henn_ckks_relin_keygen(&c->rk, &c->sk);
    if (rc == 0)
        rc = henn_ckks_galois_keygen(&c->gk, &c->sk, steps, nsteps, conj);
    CHECK_OK(rc);
    if (rc != 0)
        return rc;
    c->top = c->params.L - 1;
    size_t n = c->slots;
    c->fv = malloc(n * sizeof(double));
    c->rv = malloc(n * sizeof(double));
    c->v = malloc(n * sizeof(double));
    int64_t *s = malloc(N * sizeof(int64_t));
    uint64_t *t = malloc(N * sizeof(uint64_t));
    rc = c->fv == NULL || c->rv == NULL || c->v == NULL || s == NULL || t == NULL ? HENN_ENOMEM
                                                                                  : 0;
    if (rc == 0) {
        memcpy(t, c->sk.s, N * sizeof(uint64_t));
        henn__ckks_ntt_inverse(t, &c->params.tables->ntt[0]);
        for (size_t k = 0; k < N; k++)
            s[k] = centred(t[k], c->params.q[0]);
        rc = slots_abs2(c->fv, c, s);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double s2 = c->fv[i];
        c->rv[i] = (double)N / 24.0 * (1.0 + s2);
        c->fv[i] = (double)N / 24.0 * (2.0 + s2);
    }
    free(s);
    free(t);
    CHECK_OK(rc);
    return rc;
}

static void ctx_clear(ctx *c)
{
    henn_ckks_galois_keys_clear(&c->gk);
    henn_ckks_relin_key_clear(&c->rk);
    henn_ckks_pk_clear(&c->pk);
    henn_ckks_sk_clear(&c->sk);
    henn_ckks_params_clear(&c->params);
    free(c->fv);
    free(c->rv);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

/*
 * c->v[i] = cf f_{i+shift} / sf^2 + ck ks[i] / sk^2 + cr r_i / sr^2 + cc:
 * the variance a check allows in slot i (value units).
 */
static double *var_of(ctx *c, double cf, double sf, size_t shift, const double *ks, double ck,
                      double sk, double cr, double sr, double cc)
{
    size_t n = c->slots;
    for (size_t i = 0; i < n; i++) {
        double v = cf * c->fv[(i + shift) % n] / (sf * sf) + cc;
        if (ks != NULL)
            v += ck * ks[i] / (sk * sk);
        v += cr * c->rv[i] / (sr * sr);
        c->v[i] = v;
    }
    return c->v;
}

static double *var_fresh(ctx *c, double cf)
{
    return var_of(c, cf, c->scale, 0, NULL, 0, 1, 0, 1, 0);
}

static void enc_at(ctx *c, henn_ckks_ct *ct, const double *x, double scale, size_t level)
{
    henn_ckks_pt pt = {0};
    CHECK_OK(henn_ckks_encode(&pt, &c->params, x, c->slots, scale, level));
    CHECK_OK(henn_ckks_encrypt(ct, &c->pk, &pt));
    henn_ckks_pt_clear(&pt);
}

static void enc(ctx *c, henn_ckks_ct *ct, const double *x)
{
    enc_at(c, ct, x, c->scale, c->top);
}

static void enc_complex(ctx *c, henn_ckks_ct *ct, const double *re_im)
{
    henn_ckks_pt pt = {0};
    CHECK_OK(henn_ckks_encode_complex(&pt, &c->params, re_im, c->slots, c->scale, c->top));
    CHECK_OK(henn_ckks_encrypt(ct, &c->pk, &pt));
    henn_ckks_pt_clear(&pt);
}

/* Decrypt and decode all slots (complex: 2 doubles per slot) into got. */
static int dec(ctx *c, double *got, const henn_ckks_ct *ct, int complex_slots)
{
    henn_ckks_pt pt = {0};
    int rc = henn_ckks_decrypt(&pt, &c->sk, ct);
    if (rc == 0)
        rc = complex_slots ? henn_ckks_decode_complex(got, c->slots, &pt)
                           : henn_ckks_decode(got, c->slots, &pt);
    CHECK_OK(rc);
    henn_ckks_pt_clear(&pt);
    return rc;
}

/*
 * Check decode(decrypt(ct)) against expect slot by slot with the variances
 * var (value units); print the precision and the largest z-score. Returns
 * the largest absolute error.
 */
static double check_ct(ctx *c, const char *what, const henn_ckks_ct *ct, const double *expect,
                       const double *var, int complex_slots)
{
    size_t n = c->slots, per = complex_slots ? 2 : 1;
    double *got = malloc(per * n * sizeof(double));
    double emax = INFINITY, zmax = INFINITY;
    if (got != NULL && dec(c, got, ct, complex_slots) == 0) {
        emax = 0;
        zmax = 0;
        for (size_t i = 0; i < per * n; i++) {
            double e = fabs(got[i] - expect[i]), z = e / sqrt(var[i / per]);
            if (!(e <= emax))
                emax = e;
            if (!(z <= zmax))
                zmax = z;
        }
    }
    free(got);
    printf("  %-36s %6.2f bits  (z %.2f, slot std <= %.2e)\n", what, bits_of(emax), zmax,
           sqrt(vmax(var, n)));
    test_checks++;
    if (!(zmax <= ZMAX)) {
        test_failures++;
        fprintf(stderr, "  %s: error %.3g, %.2f standard deviations\n", what, emax, zmax);
    }
    return emax;
}

/* ---- samplers ---- */

static void test_samplers(void)
{
    const size_t n = 3 * 65536;
    int8_t *t = malloc(n);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK_OK(henn__ckks_sample_ternary(t, n));
    size_t cnt[3] = {0, 0, 0}, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < -1 || t[i] > 1)
            bad++;
        else
            cnt[t[i] + 1]++;
    }
    CHECK_EQ_INT(bad, 0);
    double sd = sqrt((double)n * 2.0 / 9.0); /* binomial(n, 1/3) */
    for (int v = 0; v < 3; v++)
        CHECK(fabs((double)cnt[v] - (double)n / 3.0) < 6 * sd);
    printf("ternary: %zu / %zu / %zu of %zu\n", cnt[0], cnt[1], cnt[2], n);

    CHECK_OK(henn__ckks_sample_cbd(t, n));
    double sum = 0, sum2 = 0;
    int lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        sum += t[i];
        sum2 += (double)t[i] * t[i];
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
    printf("cbd: mean %.4f var %.3f (10.5) range [%d, %d]\n", mean, var, lo, hi);
    /* std of the mean sqrt(10.5 / n) = 0.0073; of the variance about
     * sqrt(2 * 10.5^2 / n) = 0.034 */
    CHECK(fabs(mean) < 0.05);
    CHECK(fabs(var - 10.5) < 0.25);
    CHECK(lo >= -21 && hi <= 21 && lo <= -10 && hi >= 10);
    free(t);
}

static void test_rns_and_expand(void)
{
    henn_ckks_params p = {0};
    const int bits[] = {60, 40, 40, 60};
    CHECK_OK(henn_ckks_params_init(&p, 4096, bits, 4, HENN_CKKS_INSECURE));
    if (p.tables == NULL)
        return;
    size_t N = p.N;
    int8_t *x = calloc(N, 1);
    uint64_t *r = malloc(4 * N * sizeof(uint64_t)), *r2 = malloc(4 * N * sizeof(uint64_t));
    CHECK(x != NULL && r != NULL && r2 != NULL);
    if (x == NULL || r == NULL || r2 == NULL)
        goto done;
    x[0] = -1;
    x[1] = 1;
    x[2] = -21;
    x[3] = 21;
    size_t idx[2] = {3, 1};
    henn__ckks_small_to_rns(r, x, &p, idx, 2);
    CHECK(r[0] == p.q[3] - 1 && r[1] == 1 && r[2] == p.q[3] - 21 && r[3] == 21 && r[4] == 0);
    CHECK(r[N] == p.q[1] - 1 && r[N + 2] == p.q[1] - 21);

    uint8_t seed[HENN_CKKS_SEEDBYTES];
    for (size_t i = 0; i < sizeof(seed); i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    henn__ckks_expand_uniform(r, seed, 5, &p, NULL, 4);
    henn__ckks_expand_uniform(r2, seed, 5, &p, NULL, 4);
    CHECK(memcmp(r, r2, 4 * N * sizeof(uint64_t)) == 0); /* deterministic */
    /* a row depends only on (seed, domain, prime), not on the other rows */
    size_t one = 2;
    henn__ckks_expand_uniform(r2, seed, 5, &p, &one, 1);
    CHECK(memcmp(r + 2 * N, r2, N * sizeof(uint64_t)) == 0);
    henn__ckks_expand_uniform(r2, seed, 6, &p, NULL, 4);
    CHECK(memcmp(r, r2, N * sizeof(uint64_t)) != 0); /* another domain */
    seed[0] ^= 1;
    henn__ckks_expand_uniform(r2, seed, 5, &p, NULL, 4);
    CHECK(memcmp(r, r2, N * sizeof(uint64_t)) != 0); /* another seed */
    for (size_t i = 0; i < 4; i++) {
        size_t above = 0;
        double mean = 0;
        for (size_t k = 0; k < N; k++) {
            above += r[i * N + k] >= p.q[i];
            mean += (double)r[i * N + k] / (double)p.q[i];
        }
        mean /= (double)N;
        CHECK_EQ_INT(above, 0);
        /* uniform on [0, 1): std of the mean 1 / sqrt(12 N) = 0.0045 */
        CHECK(fabs(mean - 0.5) < 0.03);
    }
done:
    free(x);
    free(r);
    free(r2);
    henn_ckks_params_clear(&p);
}

/* ---- keys ---- */

static void test_keys(void)
{
    henn_ckks_params p = {0};
    const int bits[] = {36, 30, 40};
    CHECK_OK(henn_ckks_params_init(&p, 4096, bits, 3, 0));
    henn_ckks_sk sk = {0};
    henn_ckks_pk pk = {0};
    CHECK_RC(henn_ckks_keygen(NULL, &pk, &p), HENN_EINVAL);
    CHECK_RC(henn_ckks_keygen(&sk, &pk, NULL), HENN_EINVAL);
    henn_ckks_params zero = {0};
    CHECK_RC(henn_ckks_keygen(&sk, &pk, &zero), HENN_EINVAL);
    CHECK_OK(henn_ckks_keygen(&sk, &pk, &p));
    if (sk.s == NULL)
        goto done;
    /* s is ternary: INTT of row 0 and row L give the same small values */
    size_t N = p.N;
    uint64_t *s0 = malloc(N * sizeof(uint64_t)), *sP = malloc(N * sizeof(uint64_t));
    if (s0 != NULL && sP != NULL) {
        memcpy(s0, sk.s, N * sizeof(uint64_t));
        memcpy(sP, sk.s + p.L * N, N * sizeof(uint64_t));
        henn__ckks_ntt_inverse(s0, &p.tables->ntt[0]);
        henn__ckks_ntt_inverse(sP, &p.tables->ntt[p.L]);
        size_t bad = 0, cnt[3] = {0, 0, 0};
        for (size_t k = 0; k < N; k++) {
            int v0 = s0[k] == 0 ? 0 : s0[k] == 1 ? 1 : s0[k] == p.q[0] - 1 ? -1 : 9;
            int vP = sP[k] == 0 ? 0 : sP[k] == 1 ? 1 : sP[k] == p.q[p.L] - 1 ? -1 : 9;
            bad += v0 == 9 || v0 != vP;
            if (v0 != 9)
                cnt[v0 + 1]++;
        }
        CHECK_EQ_INT(bad, 0);
        CHECK(cnt[0] > N / 4 && cnt[1] > N / 4 && cnt[2] > N / 4);
    }
    free(s0);
    free(sP);
    /* pk: b + a s is the small error e in every limb, P included */
    uint64_t *e = malloc(N * sizeof(uint64_t));
    if (e != NULL) {
        size_t rows = p.L + 1, big = 0;
        for (size_t i = 0; i < rows; i++) {
            const henn__ckks_mod *m = &p.tables->mod[i];
            for (size_t k = 0; k < N; k++)
                e[k] = henn__ckks_add_mod(pk.data[i * N + k],
                                          henn__ckks_mul_mod(pk.data[(rows + i) * N + k],
                                                             sk.s[i * N + k], m),
                                          m->q);
            henn__ckks_ntt_inverse(e, &p.tables->ntt[i]);
            for (size_t k = 0; k < N; k++)
                big += e[k] > 21 && e[k] < p.q[i] - 21;
        }
        CHECK_EQ_INT(big, 0);
    }
    free(e);

    /* galois keygen: bad steps; elements deduplicated (+-N/4 coincide) */
    henn_ckks_galois_keys gk = {0};
    int bad_steps[] = {(int)N / 2};
    CHECK_RC(henn_ckks_galois_keygen(&gk, &sk, bad_steps, 1, 0), HENN_EINVAL);
    int neg_steps[] = {-(int)N / 2};
    CHECK_RC(henn_ckks_galois_keygen(&gk, &sk, neg_steps, 1, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_galois_keygen(&gk, &sk, NULL, 2, 0), HENN_EINVAL);
    int dup[] = {(int)N / 4, -(int)N / 4, 0, 1, 1 - (int)N / 2};
    CHECK_OK(henn_ckks_galois_keygen(&gk, &sk, dup, 5, 1));
    CHECK_EQ_INT(gk.count, 3); /* N/4, 1 (= 1 - N/2), conjugation */
    henn_ckks_galois_keys_clear(&gk);
    CHECK_OK(henn_ckks_galois_keygen(&gk, &sk, NULL, 0, 0));
    CHECK_EQ_INT(gk.count, 2 * (p.logN - 1) - 1 + 1); /* +-2^i, 2^i < N/2, and conj */
    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_galois_keys_clear(&gk); /* twice is safe */

    /* clears: struct zeroed (the data was wiped before free), repeatable */
    henn_ckks_sk_clear(&sk);
    henn_ckks_pk_clear(&pk);
    CHECK(sk.s == NULL && sk.params == NULL && pk.data == NULL && pk.params == NULL);
    henn_ckks_sk_clear(&sk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(NULL);
    henn_ckks_relin_key rk = {0};
    CHECK_RC(henn_ckks_relin_keygen(&rk, &sk), HENN_EINVAL); /* cleared sk */
    henn_ckks_relin_key_clear(&rk);
done:
    henn_ckks_sk_clear(&sk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_params_clear(&p);
}

/* ---- parameter set A: N = 8192, {60, 40, 40, 60}, scale 2^40 ---- */

static void test_set_a(void)
{
    ctx c;
    const int bits[] = {60, 40, 40, 60};
    if (ctx_init(&c, 8192, bits, 4, 0x1p40, NULL, 0, 1) != 0) {
        ctx_clear(&c);
        return;
    }
    printf("set A: N = 8192, {60, 40, 40, 60}, scale 2^40 (SEAL 4.4.3: fresh 26.9, "
           "multiply 26.5, rotate 21.5 bits)\n");
    size_t N = c.N, n = c.slots, top = c.top;
    double D = c.scale, enc_v = (double)N / 24.0 / (D * D);
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *z = malloc(2 * n * sizeof(double)), *w = malloc(2 * n * sizeof(double));
    double **ksg = calloc(c.gk.count + 1, sizeof(double *)), *ksr = NULL;
    henn_ckks_ct cx = {0}, cy = {0}, r = {0}, r2 = {0}, t = {0};
    henn_ckks_pt pt = {0};
    if (x == NULL || y == NULL || z == NULL || w == NULL || ksg == NULL)
        goto done;
    /* per-slot key-switching variances of every key (scale 1) */
    double ksmax = 0;
    for (size_t k = 0; k < c.gk.count; k++) {
        ksg[k] = ks_var(&c, &c.gk.keys[k], top);
        if (ksg[k] == NULL)
            goto done;
        ksmax = fmax(ksmax, vmax(ksg[k], n));
    }
    ksr = ks_var(&c, &c.rk.ksk, top);
    if (ksr == NULL)
        goto done;

    fill_unit(x, n);
    fill_unit(y, n);
    enc(&c, &cx, x);
    enc(&c, &cy, y);
    CHECK(cx.size == 2 && cx.level == top && cx.scale == D);
    double e_fresh = check_ct(&c, "fresh (public key)", &cx, x, var_fresh(&c, 1), 0);

    /* symmetric (error e, variance 10.5), and a reproducible from the seed */
    uint8_t seed[HENN_CKKS_SEEDBYTES];
    CHECK_OK(henn_ckks_encode(&pt, &c.params, x, n, D, top));
    CHECK_OK(henn_ckks_encrypt_symmetric(&r, seed, &c.sk, &pt));
    check_ct(&c, "fresh (symmetric)", &r, x,
             var_of(&c, 0, 1, 0, NULL, 0, 1, 0, 1, (double)N * 10.5 / 2 / (D * D) + enc_v), 0);
    uint64_t *a = malloc((top + 1) * N * sizeof(uint64_t));
    if (a != NULL) {
        henn__ckks_expand_uniform(a, seed, HENN__CKKS_DOMAIN_CT, &c.params, NULL, top + 1);
        CHECK(memcmp(a, henn__ckks_ct_poly(&r, 1, 0), (top + 1) * N * sizeof(uint64_t)) == 0);
        free(a);
    }
    CHECK_OK(henn_ckks_encrypt_symmetric(&r2, NULL, &c.sk, &pt));
    CHECK(memcmp(henn__ckks_ct_poly(&r, 1, 0), henn__ckks_ct_poly(&r2, 1, 0),
                 N * sizeof(uint64_t)) != 0); /* a fresh seed each time */

    /* add, sub, negate */
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] + y[i];
    CHECK_OK(henn_ckks_add(&r, &cx, &cy));
    check_ct(&c, "add", &r, z, var_fresh(&c, 2), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] - y[i];
    CHECK_OK(henn_ckks_sub(&r, &cx, &cy));
    check_ct(&c, "sub", &r, z, var_fresh(&c, 2), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = -x[i];
    CHECK_OK(henn_ckks_negate(&r, &cx));
    check_ct(&c, "negate", &r, z, var_fresh(&c, 1), 0);

    /* plaintext and constant operations */
    double *v_pt = var_of(&c, 1, D, 0, NULL, 0, 1, 0, 1, enc_v);
    CHECK_OK(henn_ckks_encode(&pt, &c.params, y, n, D, top));
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] + y[i];
    CHECK_OK(henn_ckks_add_plain(&r, &cx, &pt));
    check_ct(&c, "add_plain", &r, z, v_pt, 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] - y[i];
    CHECK_OK(henn_ckks_sub_plain(&r, &cx, &pt));
    check_ct(&c, "sub_plain", &r, z, v_pt, 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * y[i];
    CHECK_OK(henn_ckks_multiply_plain(&r, &cx, &pt));
    CHECK(r.scale == D * D && r.level == top && r.size == 2);
    check_ct(&c, "multiply_plain", &r, z, v_pt, 0);
    CHECK_OK(henn_ckks_rescale(&r, &r));
    check_ct(&c, "multiply_plain + rescale", &r, z,
             var_of(&c, 1, D, 0, NULL, 0, 1, 1, r.scale, enc_v), 0);
    double half_ulp = 0.5 / D;
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] + 0.3125;
    CHECK_OK(henn_ckks_add_const(&r, &cx, 0.3125));
    check_ct(&c, "add_const 0.3125", &r, z, var_fresh(&c, 1), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] - 1e6;
    CHECK_OK(henn_ckks_add_const(&r, &cx, -1e6)); /* round(-1e6 * 2^40) > 2^62 */
    check_ct(&c, "add_const -1e6", &r, z,
             var_of(&c, 1, D, 0, NULL, 0, 1, 0, 1, half_ulp * half_ulp + 0x1p-60), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] - 0.3125;
    CHECK_OK(henn_ckks_sub_const(&r, &cx, 0.3125));
    check_ct(&c, "sub_const 0.3125", &r, z, var_fresh(&c, 1), 0);
    CHECK_RC(henn_ckks_sub_const(&r, &cx, NAN), HENN_EINVAL);
    CHECK_RC(henn_ckks_sub_const(&r, &cx, 1e300), HENN_ERANGE);

    /* mismatched scales and levels: refused, then lined up explicitly.
     * r2 = y at scale 2^50 (multiplied by the constant 1 at 2^10, exact) */
    {
        henn_ckks_ct m = {0}, ry = {0};
        CHECK_OK(henn_ckks_multiply_const(&ry, &cy, 1.0, 0x1p10));
        CHECK_RC(henn_ckks_add(&r, &cx, &ry), HENN_EINVAL); /* scales 2^40, 2^50 */
        CHECK_OK(henn_ckks_match_scale(&m, &cx, ry.scale));
        CHECK(m.level == top - 1 && fabs(m.scale / ry.scale - 1) < 0x1p-40);
        CHECK_RC(henn_ckks_add(&r, &m, &ry), HENN_EINVAL); /* levels top - 1, top */
        CHECK_OK(henn_ckks_align_levels(&m, &ry));
        CHECK(ry.level == top - 1 && m.level == top - 1 && ry.scale == 0x1p50);
        CHECK_OK(henn_ckks_align_levels(&m, &ry)); /* already aligned: no-op */
        CHECK(ry.level == top - 1 && m.level == top - 1);
        for (size_t i = 0; i < n; i++)
            z[i] = x[i] + y[i];
        CHECK_OK(henn_ckks_add(&r, &m, &ry));
        check_ct(&c, "match_scale + align_levels + add", &r, z,
                 var_of(&c, 2, D, 0, NULL, 0, 1, 1, m.scale, 0), 0);
        CHECK_OK(henn_ckks_match_scale(&m, &m, ry.scale / 0x1p5)); /* in place */
        CHECK(m.level == top - 2 && fabs(m.scale / (ry.scale / 0x1p5) - 1) < 0x1p-30); /* k ~ 2^35 */
        /* the other one lower: b is switched */
        CHECK_OK(henn_ckks_ct_copy(&ry, &cy));
        CHECK_OK(henn_ckks_align_levels(&ry, &m));
        CHECK(ry.level == 0 && m.level == 0);
        CHECK_RC(henn_ckks_match_scale(&r, &m, D), HENN_EINVAL);        /* level 0 */
        CHECK_RC(henn_ckks_match_scale(&r, &cx, D * 0x1p-30), HENN_ERANGE); /* k ~ 2^10 */
        CHECK_RC(henn_ckks_match_scale(&r, &cx, D * 0x1p30), HENN_ERANGE);  /* k ~ 2^70 */
        CHECK_RC(henn_ckks_match_scale(&r, &cx, NAN), HENN_EINVAL);
        CHECK_RC(henn_ckks_match_scale(&r, &cx, -D), HENN_EINVAL);
        CHECK_RC(henn_ckks_align_levels(NULL, &m), HENN_EINVAL);
        henn_ckks_ct_clear(&ry);
        CHECK_RC(henn_ckks_align_levels(&m, &ry), HENN_EINVAL); /* unbuilt */
        henn_ckks_ct_clear(&m);
    }
    double k07 = round(-0.7 * 0x1p30) * 0x1p-30; /* the constant as encoded */
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * k07;
    CHECK_OK(henn_ckks_multiply_const(&r, &cx, -0.7, 0x1p30));
    CHECK(r.scale == 0x1p70);
    check_ct(&c, "multiply_const -0.7 at 2^30", &r, z, var_fresh(&c, 0.49), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * -3;
    CHECK_OK(henn_ckks_multiply_int(&r, &cx, -3));
    CHECK(r.scale == D && r.level == top);
    check_ct(&c, "multiply_int -3", &r, z, var_fresh(&c, 9), 0);
    CHECK_OK(henn_ckks_multiply_int(&r, &cx, 0));
    for (size_t i = 0; i < n; i++)
        z[i] = 0;
    check_ct(&c, "multiply_int 0", &r, z, var_of(&c, 0, 1, 0, NULL, 0, 1, 0, 1, 1e-30), 0);

    /* multiply: size 3 decrypts without relinearisation */
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * y[i];
    CHECK_OK(henn_ckks_multiply(&r, &cx, &cy));
    CHECK(r.size == 3 && r.scale == D * D && r.level == top);
    check_ct(&c, "multiply (size 3)", &r, z, var_fresh(&c, 2), 0);
    CHECK_OK(henn_ckks_relinearize(&r2, &r, &c.rk));
    CHECK(r2.size == 2 && r2.scale == D * D);
    check_ct(&c, "multiply + relinearize", &r2, z, var_of(&c, 2, D, 0, ksr, 1, D * D, 0, 1, 0),
             0);
    CHECK_OK(henn_ckks_rescale(&r2, &r2));
    CHECK(r2.level == top - 1);
    CHECK_EQ_DBL(r2.scale, 0x1p80 / (double)c.params.q[top]); /* exact */
    double e_mul = check_ct(&c, "multiply + relin + rescale", &r2, z,
                            var_of(&c, 2, D, 0, ksr, 1, D * D, 1, r2.scale, 0), 0);
    printf("  rescaled scale 2^%.6f\n", log2(r2.scale));
    /* square agrees with multiply(x, x) */
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * x[i];
    CHECK_OK(henn_ckks_square(&r, &cx));
    CHECK_OK(henn_ckks_multiply(&r2, &cx, &cx));
    CHECK(ct_equal(&r, &r2));
    check_ct(&c, "square", &r, z, var_fresh(&c, 4), 0);

    /* mod switch keeps the values and the scale */
    CHECK_OK(henn_ckks_mod_switch(&r, &cx, 0));
    CHECK(r.level == 0 && r.scale == D);
    check_ct(&c, "mod_switch to level 0", &r, x, var_fresh(&c, 1), 0);
    CHECK_OK(henn_ckks_ct_copy(&r2, &cx));
    CHECK_OK(henn_ckks_mod_switch(&r2, &r2, 0)); /* in place */
    CHECK(ct_equal(&r, &r2));
    CHECK_OK(henn_ckks_encode(&pt, &c.params, y, n, D, top));
    henn_ckks_pt pt2 = {0};
    CHECK_OK(henn_ckks_pt_mod_switch(&pt2, &pt, 0));
    CHECK_OK(henn_ckks_add_plain(&r2, &r, &pt2));
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] + y[i];
    check_ct(&c, "add_plain at level 0", &r2, z, var_of(&c, 1, D, 0, NULL, 0, 1, 0, 1, enc_v), 0);
    CHECK_OK(henn_ckks_pt_mod_switch(&pt, &pt, 0));
    CHECK(pt.level == 0 && memcmp(pt.data, pt2.data, N * sizeof(uint64_t)) == 0);
    henn_ckks_pt_clear(&pt2);

    /* rotations with the default keys (+-2^i, conjugation); steps with a
     * key of their own are checked slot by slot against that key's noise,
     * composed ones against the largest key noise per key switch */
    double e_rot1 = 0;
    const int steps[] = {1, -1, 5, -6, 0, 1000, (int)n - 1, 1 - (int)n, (int)n / 2, -(int)n / 2};
    for (size_t u = 0; u < sizeof(steps) / sizeof(steps[0]); u++) {
        int s = steps[u];
        size_t shift = (size_t)(((long)s % (long)n + (long)n) % (long)n);
        for (size_t i = 0; i < n; i++)
            z[i] = x[(i + shift) % n];
        CHECK_OK(henn_ckks_rotate(&r, &cx, s, &c.gk));
        uint32_t g = henn__ckks_rotation_elt(&c.params, s);
        const double *ks = NULL;
        for (size_t k = 0; k < c.gk.count; k++)
            if (c.gk.elts[k] == g)
                ks = ksg[k];
        /* NAF over +-2^i: 5 = 4 + 1, -6 = -8 + 2, 1000 = 1024 - 16 - 8 */
        int hops = s == 5 || s == -6 ? 2 : s == 1000 ? 3 : 0;
        char what[64];
        snprintf(what, sizeof(what), "rotate %d (%d key switch%s)", s, ks != NULL ? 1 : hops,
                 ks != NULL && hops <= 1 ? "" : "es");
        double *v = shift == 0 ? var_fresh(&c, 1)
                    : ks != NULL
                        ? var_of(&c, 1, D, shift, ks, 1, D, 0, 1, 0)
                        : var_of(&c, 1, D, shift, NULL, 0, 1, 0, 1, hops * ksmax / (D * D));
        double e = check_ct(&c, what, &r, z, v, 0);
        if (s == 1)
            e_rot1 = e;
    }
    CHECK_OK(henn_ckks_rotate(&r, &cx, 0, &c.gk));
    CHECK(ct_equal(&r, &cx)); /* rotation by 0 is a copy */
    /* conjugation and rotation of complex slots */
    fill_unit(w, 2 * n);
    enc_complex(&c, &r2, w);
    for (size_t i = 0; i < n; i++) {
        z[2 * i] = w[2 * i];
        z[2 * i + 1] = -w[2 * i + 1];
    }
    CHECK_OK(henn_ckks_conjugate(&r, &r2, &c.gk));
    const double *ksc = NULL;
    for (size_t k = 0; k < c.gk.count; k++)
        if (c.gk.elts[k] == 2 * N - 1)
            ksc = ksg[k];
    CHECK(ksc != NULL);
    if (ksc != NULL)
        check_ct(&c, "conjugate (complex slots)", &r, z, var_of(&c, 1, D, 0, ksc, 1, D, 0, 1, 0),
                 1);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i + n - 3) % n;
        z[2 * i] = w[2 * j];
        z[2 * i + 1] = w[2 * j + 1];
    }
    CHECK_OK(henn_ckks_rotate(&r, &r2, -3, &c.gk));
    check_ct(&c, "rotate -3 (complex slots)", &r, z,
             var_of(&c, 1, D, n - 3, NULL, 0, 1, 0, 1, 2 * ksmax / (D * D)), 1);
    /* rotate_sum over 8 slots: 3 key switches, the k-th one summed 2^(2-k)
     * times */
    for (size_t i = 0; i < n; i++) {
        z[i] = 0;
        c.v[i] = 7 * ksmax / (D * D);
        for (size_t k = 0; k < 8; k++) {
            z[i] += x[(i + k) % n];
            c.v[i] += c.fv[(i + k) % n] / (D * D);
        }
    }
    CHECK_OK(henn_ckks_rotate_sum(&r, &cx, 8, &c.gk));
    check_ct(&c, "rotate_sum 8", &r, z, c.v, 0);
    CHECK_OK(henn_ckks_rotate_sum(&r, &cx, 1, &c.gk));
    CHECK(ct_equal(&r, &cx));
    printf("  set A precision: fresh %.2f, multiply+relin+rescale %.2f, rotate 1 %.2f bits\n",
           bits_of(e_fresh), bits_of(e_mul), bits_of(e_rot1));

    /* aliasing: results equal the non-aliased ones bit for bit */
    CHECK_OK(henn_ckks_add(&r, &cx, &cy));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_add(&t, &t, &cy));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_ct_copy(&t, &cy));
    CHECK_OK(henn_ckks_add(&t, &cx, &t));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_add(&r, &cx, &cx));
    CHECK_OK(henn_ckks_multiply_int(&r2, &cx, 2));
    CHECK(ct_equal(&r, &r2));
    CHECK_OK(henn_ckks_multiply(&r, &cx, &cy));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_multiply(&t, &t, &cy));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_relinearize(&r2, &r, &c.rk));
    CHECK_OK(henn_ckks_relinearize(&t, &t, &c.rk));
    CHECK(ct_equal(&r2, &t));
    CHECK_OK(henn_ckks_rescale(&r, &r2));
    CHECK_OK(henn_ckks_rescale(&t, &t));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_square(&t, &t));
    CHECK_OK(henn_ckks_square(&r, &cx));
    CHECK(ct_equal(&r, &t));
    /* size 2 + size 3 -> size 3 (a size-3 product at scale D: x times an
     * encryption of ones at scale 1) */
    for (size_t i = 0; i < n; i++)
        z[i] = 1.0;
    enc_at(&c, &t, z, 1.0, top);
    CHECK_OK(henn_ckks_multiply(&r2, &cx, &t));
    CHECK(r2.size == 3 && r2.scale == D);
    CHECK_OK(henn_ckks_add(&r, &cx, &r2));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_add(&t, &t, &r2));
    CHECK(r.size == 3 && ct_equal(&r, &t));
    CHECK_OK(henn_ckks_sub(&t, &t, &r2));
    CHECK_OK(henn_ckks_sub(&r, &r, &r2));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_rotate(&r, &cx, 5, &c.gk));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_rotate(&t, &t, 5, &c.gk));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_conjugate(&r, &cx, &c.gk));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_conjugate(&t, &t, &c.gk));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_negate(&t, &t));
    CHECK_OK(henn_ckks_negate(&t, &t));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_rotate_sum(&r, &cx, 4, &c.gk));
    CHECK_OK(henn_ckks_ct_copy(&t, &cx));
    CHECK_OK(henn_ckks_rotate_sum(&t, &t, 4, &c.gk));
    CHECK(ct_equal(&r, &t));
    CHECK_OK(henn_ckks_multiply_const(&t, &t, 0.5, 0x1p20));
    CHECK_OK(henn_ckks_multiply_const(&r, &r, 0.5, 0x1p20));
    CHECK(ct_equal(&r, &t));

done:
    henn_ckks_pt_clear(&pt);
    henn_ckks_ct_clear(&cx);
    henn_ckks_ct_clear(&cy);
    henn_ckks_ct_clear(&r);
    henn_ckks_ct_clear(&r2);
    henn_ckks_ct_clear(&t);
    if (ksg != NULL)
        for (size_t k = 0; k < c.gk.count; k++)
            free(ksg[k]);
    free(ksg);
    free(ksr);
    free(x);
    free(y);
    free(z);
    free(w);
    ctx_clear(&c);
}

/* ---- errors: level, scale, params, sizes, keys ---- */

static void test_errors(void)
{
    ctx c, c2;
    const int bits[] = {36, 30, 40};
    const int steps2[] = {2};
    memset(&c2, 0, sizeof(c2));
    if (ctx_init(&c, 4096, bits, 3, 0x1p30, steps2, 1, 0) != 0 ||
        ctx_init(&c2, 4096, bits, 3, 0x1p30, NULL, 0, 1) != 0) {
        ctx_clear(&c);
        ctx_clear(&c2);
        return;
    }
    size_t n = c.slots;
    double *x = malloc(n * sizeof(double)), *z = malloc(n * sizeof(double)), *ks2 = NULL;
    henn_ckks_ct a = {0}, b = {0}, r = {0}, other = {0}, big = {0};
    henn_ckks_pt pt = {0}, dpt = {0};
    if (x == NULL || z == NULL)
        goto done;
    fill_unit(x, n);
    enc(&c, &a, x);
    enc(&c, &b, x);
    enc(&c2, &other, x);

    /* params pointer mismatch (identical chains, other objects) */
    CHECK_RC(henn_ckks_add(&r, &a, &other), HENN_EINVAL);
    CHECK_RC(henn_ckks_sub(&r, &other, &a), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply(&r, &a, &other), HENN_EINVAL);
    CHECK_OK(henn_ckks_multiply(&big, &a, &b));
    CHECK_RC(henn_ckks_relinearize(&r, &big, &c2.rk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate(&r, &a, 2, &c2.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_conjugate(&r, &a, &c2.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate_sum(&r, &a, 2, &c2.gk), HENN_EINVAL);
    CHECK_OK(henn_ckks_encode(&pt, &c2.params, x, n, c.scale, c.top));
    CHECK_RC(henn_ckks_add_plain(&r, &a, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_sub_plain(&r, &a, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply_plain(&r, &a, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_encrypt(&r, &c.pk, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_encrypt_symmetric(&r, NULL, &c.sk, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_decrypt(&dpt, &c.sk, &other), HENN_EINVAL);

    /* level mismatch */
    CHECK_OK(henn_ckks_mod_switch(&r, &a, 0));
    CHECK_RC(henn_ckks_add(&r, &a, &r), HENN_EINVAL);
    CHECK_OK(henn_ckks_mod_switch(&r, &a, 0));
    CHECK_RC(henn_ckks_multiply(&r, &r, &a), HENN_EINVAL);
    CHECK_RC(henn_ckks_rescale(&r, &r), HENN_EINVAL); /* level 0 */
    CHECK_RC(henn_ckks_mod_switch(&r, &r, 1), HENN_EINVAL);
    CHECK_OK(henn_ckks_encode(&pt, &c.params, x, n, c.scale, 0));
    CHECK_RC(henn_ckks_add_plain(&r, &a, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply_plain(&r, &a, &pt), HENN_EINVAL);

    /* scale mismatch: a relative 2^-20 is the limit */
    CHECK_OK(henn_ckks_encode(&pt, &c.params, x, n, c.scale * (1 + 0x1p-19), c.top));
    CHECK_RC(henn_ckks_add_plain(&r, &a, &pt), HENN_EINVAL);
    CHECK_OK(henn_ckks_encrypt(&r, &c.pk, &pt));
    CHECK_RC(henn_ckks_add(&r, &a, &r), HENN_EINVAL);
    CHECK_RC(henn_ckks_sub(&r, &r, &a), HENN_EINVAL);
    CHECK_OK(henn_ckks_encode(&pt, &c.params, x, n, c.scale * (1 + 0x1p-22), c.top));
    CHECK_OK(henn_ckks_encrypt(&r, &c.pk, &pt));
    CHECK_OK(henn_ckks_add(&r, &a, &r)); /* within tolerance */
    CHECK(r.scale == a.scale);

    /* sizes: size 3 where size 2 is required, size 2 for relinearize */
    CHECK_RC(henn_ckks_multiply(&r, &big, &a), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply(&r, &a, &big), HENN_EINVAL);
    CHECK_RC(henn_ckks_square(&r, &big), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate(&r, &big, 2, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_conjugate(&r, &big, &c2.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate_sum(&r, &big, 2, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_relinearize(&r, &a, &c.rk), HENN_EINVAL);
    big.size = 4; /* not a ciphertext size */
    CHECK_RC(henn_ckks_add(&r, &a, &big), HENN_EINVAL);
    CHECK_RC(henn_ckks_decrypt(&dpt, &c.sk, &big), HENN_EINVAL);
    big.size = 3;

    /* bad arguments */
    henn_ckks_ct zero = {0};
    CHECK_RC(henn_ckks_add(NULL, &a, &b), HENN_EINVAL);
    CHECK_RC(henn_ckks_add(&r, NULL, &b), HENN_EINVAL);
    CHECK_RC(henn_ckks_negate(&r, &zero), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate(&r, &a, (int)n, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate(&r, &a, -(int)n, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate(&r, &a, 2, NULL), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate_sum(&r, &a, 3, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate_sum(&r, &a, 0, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_rotate_sum(&r, &a, 2 * n, &c.gk), HENN_EINVAL);
    CHECK_RC(henn_ckks_relinearize(&r, &big, NULL), HENN_EINVAL);
    CHECK_RC(henn_ckks_add_const(&r, &a, NAN), HENN_EINVAL);
    CHECK_RC(henn_ckks_add_const(&r, &a, 1e300), HENN_ERANGE);
    CHECK_RC(henn_ckks_add_const(&r, &a, 0x1p36), HENN_ERANGE); /* Q ~ 2^66, scale 2^30 */
    CHECK_OK(henn_ckks_add_const(&r, &a, 0x1p33));
    CHECK_RC(henn_ckks_multiply_const(&r, &a, 1.0, 0x1p35), HENN_ERANGE); /* q_0 / 2 < 2^35 */
    CHECK_OK(henn_ckks_multiply_const(&r, &a, 1.0, 0x1p34));
    CHECK_RC(henn_ckks_multiply_const(&r, &a, INFINITY, 1.0), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply_const(&r, &a, 1.0, 0.0), HENN_EINVAL);
    CHECK_RC(henn_ckks_multiply_const(&r, &a, 1.0, -1.0), HENN_EINVAL);
    CHECK_RC(henn_ckks_mod_switch(&r, &a, c.top + 1), HENN_EINVAL);
    CHECK_RC(henn_ckks_pt_mod_switch(&dpt, &pt, c.top + 1), HENN_EINVAL);
    CHECK_RC(henn_ckks_encrypt(&r, NULL, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_decrypt(&dpt, &c.sk, &zero), HENN_EINVAL);
    CHECK_RC(henn_ckks_decrypt(NULL, &c.sk, &a), HENN_EINVAL);

    /* missing keys: only rotations by 2 (even steps compose, odd ones do
     * not), no conjugation */
    CHECK_RC(henn_ckks_rotate(&r, &a, 1, &c.gk), HENN_EKEY);
    CHECK_RC(henn_ckks_rotate(&r, &a, -3, &c.gk), HENN_EKEY);
    CHECK_RC(henn_ckks_conjugate(&r, &a, &c.gk), HENN_EKEY);
    CHECK_RC(henn_ckks_rotate_sum(&r, &a, 4, &c.gk), HENN_EKEY);
    for (size_t i = 0; i < n; i++)
        z[i] = x[(i + 6) % n];
    CHECK_OK(henn_ckks_rotate(&r, &a, 6, &c.gk)); /* 2 + 2 + 2 */
    ks2 = ks_var(&c, &c.gk.keys[0], c.top);
    if (ks2 != NULL)
        check_ct(&c, "rotate 6 as three rotations by 2", &r, z,
                 var_of(&c, 1, c.scale, 6, NULL, 0, 1, 0, 1,
                        3 * vmax(ks2, n) / (c.scale * c.scale)),
                 0);
    /* chains longer than 2 log2(N) = 24 switches are refused: -4 would be
     * 1,022 rotations by 2; 48 = 24 x 2 is the longest accepted */
    CHECK_EQ_INT(HENN_CKKS_MAX_ROTATION_SWITCHES(c.params.logN), 24);
    CHECK_RC(henn_ckks_rotate(&r, &a, -4, &c.gk), HENN_EKEY);
    CHECK_RC(henn_ckks_rotate(&r, &a, 50, &c.gk), HENN_EKEY);
    CHECK_RC(henn_ckks_rotate(&r, &a, -2, &c.gk), HENN_EKEY);
    for (size_t i = 0; i < n; i++)
        z[i] = x[(i + 48) % n];
    CHECK_OK(henn_ckks_rotate(&r, &a, 48, &c.gk));
    if (ks2 != NULL)
        check_ct(&c, "rotate 48 as 24 rotations by 2", &r, z,
                 var_of(&c, 1, c.scale, 48, NULL, 0, 1, 0, 1,
                        24 * vmax(ks2, n) / (c.scale * c.scale)),
                 0);
    henn_ckks_galois_keys none = {0};
    none.params = &c.params;
    CHECK_RC(henn_ckks_rotate(&r, &a, 2, &none), HENN_EKEY);
    CHECK_OK(henn_ckks_rotate(&r, &a, 0, &none));
    CHECK(ct_equal(&r, &a));

done:
    henn_ckks_pt_clear(&pt);
    henn_ckks_pt_clear(&dpt);
    henn_ckks_ct_clear(&a);
    henn_ckks_ct_clear(&b);
    henn_ckks_ct_clear(&r);
    henn_ckks_ct_clear(&other);
    henn_ckks_ct_clear(&big);
    free(ks2);
    free(x);
    free(z);
    ctx_clear(&c2);
    ctx_clear(&c);
}
/* ---- chain C: N = 8192, {40, 21 x 6, 40}, scale 2^21 (TenSEAL's LR) ---- */

static void test_chain_c(void)
{
    ctx c;
    const int bits[] = {40, 21, 21, 21, 21, 21, 21, 40};
    const int steps[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    if (ctx_init(&c, 8192, bits, 8, 0x1p21, steps, 9, 0) != 0) {
        ctx_clear(&c);
        return;
    }
    printf("chain C: N = 8192, {40, 21 x 6, 40}, scale 2^21 (SEAL 4.4.3: fresh 8.2, "
           "multiply 7.5, rotate 2.1 bits)\n");
    size_t n = c.slots, top = c.top;
    double D = c.scale;
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *z = malloc(n * sizeof(double)), *got = malloc(n * sizeof(double));
    double *ks[9] = {NULL}, *ksr = NULL;
    henn_ckks_ct cx = {0}, cy = {0}, r = {0};
    henn_ckks_pt pt = {0};
    if (x == NULL || y == NULL || z == NULL || got == NULL)
        goto done;
    for (size_t t = 0; t < 9; t++) {
        CHECK(c.gk.elts[t] == henn__ckks_rotation_elt(&c.params, steps[t]));
        if ((ks[t] = ks_var(&c, &c.gk.keys[t], top)) == NULL)
            goto done;
    }
    if ((ksr = ks_var(&c, &c.rk.ksk, top)) == NULL)
        goto done;
    fill_unit(x, n);
    fill_unit(y, n);
    enc(&c, &cx, x);
    enc(&c, &cy, y);
    double e_fresh = check_ct(&c, "fresh (public key)", &cx, x, var_fresh(&c, 1), 0);

    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * y[i];
    CHECK_OK(henn_ckks_multiply(&r, &cx, &cy));
    CHECK_OK(henn_ckks_relinearize(&r, &r, &c.rk));
    CHECK_OK(henn_ckks_rescale(&r, &r));
    CHECK_EQ_DBL(r.scale, 0x1p42 / (double)c.params.q[top]); /* 2^21.2318, not 2^21 */
    printf("  rescaled scale 2^%.4f\n", log2(r.scale));
    double e_mul = check_ct(&c, "multiply + relin + rescale", &r, z,
                            var_of(&c, 2, D, 0, ksr, 1, D * D, 1, r.scale, 0), 0);

    /*
     * Rotation: with P ~ q_0 ~ 2^40 the balanced q_0 digit alone gives a
     * key-switching variance of (q_0 / P)^2 10.5 N / 12 = 0.875 N per
     * coefficient against the fresh N / 18: on average 2.1 bits lost, with
     * no systematic part (the slot-by-slot check would see one: uncentred
     * digits put 0.06 to 0.3, dozens of standard deviations, in slot 0).
     */
    for (size_t i = 0; i < n; i++)
        z[i] = x[(i + 1) % n];
    CHECK_OK(henn_ckks_rotate(&r, &cx, 1, &c.gk));
    double e_rot = check_ct(&c, "rotate 1", &r, z, var_of(&c, 1, D, 1, ks[0], 1, D, 0, 1, 0), 0);
    double fmean = 0, kmean = 0;
    for (size_t i = 0; i < n; i++) {
        fmean += c.fv[i] / (double)n;
        kmean += ks[0][i] / (double)n;
    }
    printf("  rotation loses %.2f bits (model, averaged over slots: %.2f)\n",
           bits_of(e_fresh) - bits_of(e_rot), 0.5 * log2((fmean + kmean) / fmean));
    /* slot 0 alone: the mean signed error over 8 rotations of fresh
     * encryptions stays within 6.5 standard deviations of that mean */
    double mean0 = 0;
    for (int t = 0; t < 8; t++) {
        fill_unit(y, n);
        enc(&c, &cy, y);
        CHECK_OK(henn_ckks_rotate(&r, &cy, 1, &c.gk));
        CHECK_OK(henn_ckks_decrypt(&pt, &c.sk, &r));
        CHECK_OK(henn_ckks_decode(got, 1, &pt));
        mean0 += (got[0] - y[1]) / 8;
    }
    double sd0 = sqrt((c.fv[1] + ks[0][0]) / (D * D) / 8);
    printf("  slot 0 mean error over 8 rotations %.2e (std %.2e)\n", mean0, sd0);
    CHECK(fabs(mean0) <= ZMAX * sd0);

    /* rotate_sum of 512 slots: slot i holds x_i + ... + x_{i+511}; the fresh
     * errors of those slots add up, and the key switch of step 2^t is summed
     * 2^(8-t) times */
    for (size_t i = 0; i < n; i++) {
        z[i] = 0;
        c.v[i] = 0;
        for (size_t k = 0; k < 512; k++) {
            z[i] += x[(i + k) % n];
            c.v[i] += c.fv[(i + k) % n] / (D * D);
        }
        for (size_t t = 0; t < 9; t++)
            c.v[i] += (double)(256 >> t) * vmax(ks[t], n) / (D * D);
    }
    CHECK_OK(henn_ckks_rotate_sum(&r, &cx, 512, &c.gk));
    check_ct(&c, "rotate_sum 512", &r, z, c.v, 0);
    CHECK_OK(henn_ckks_decrypt(&pt, &c.sk, &r));
    CHECK_OK(henn_ckks_decode(got, 1, &pt));
    printf("  rotate_sum 512: slot 0 %.6f, plaintext sum %.6f (error %.2e, std %.2e)\n", got[0],
           z[0], fabs(got[0] - z[0]), sqrt(c.v[0]));
    CHECK(fabs(got[0] - z[0]) <= ZMAX * sqrt(c.v[0]));
    printf("  chain C precision: fresh %.2f, multiply+relin+rescale %.2f, rotate 1 %.2f bits\n",
           bits_of(e_fresh), bits_of(e_mul), bits_of(e_rot));

done:
    henn_ckks_pt_clear(&pt);
    henn_ckks_ct_clear(&cx);
    henn_ckks_ct_clear(&cy);
    henn_ckks_ct_clear(&r);
    for (size_t t = 0; t < 9; t++)
        free(ks[t]);
    free(ksr);
    free(x);
    free(y);
    free(z);
    free(got);
    ctx_clear(&c);
}

/* ---- set B: N = 16384, {60, 40 x 7, 60}, scale 2^40: precision ---- */

static void test_set_b(void)
{
    ctx c;
    const int bits[] = {60, 40, 40, 40, 40, 40, 40, 40, 60};
    const int steps[] = {1};
    if (ctx_init(&c, 16384, bits, 9, 0x1p40, steps, 1, 0) != 0) {
        ctx_clear(&c);
        return;
    }
    printf("set B: N = 16384, {60, 40 x 7, 60}, scale 2^40 (SEAL 4.4.3: fresh 26.0, "
           "multiply 25.4, rotate 18.6 bits)\n");
    size_t n = c.slots, top = c.top;
    double D = c.scale;
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *z = malloc(n * sizeof(double)), *ks = NULL, *ksr = NULL;
    henn_ckks_ct cx = {0}, cy = {0}, r = {0};
    if (x == NULL || y == NULL || z == NULL)
        goto done;
    if ((ks = ks_var(&c, &c.gk.keys[0], top)) == NULL ||
        (ksr = ks_var(&c, &c.rk.ksk, top)) == NULL)
        goto done;
    fill_unit(x, n);
    fill_unit(y, n);
    enc(&c, &cx, x);
    enc(&c, &cy, y);
    double e_fresh = check_ct(&c, "fresh (public key)", &cx, x, var_fresh(&c, 1), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] * y[i];
    CHECK_OK(henn_ckks_multiply(&r, &cx, &cy));
    CHECK_OK(henn_ckks_relinearize(&r, &r, &c.rk));
    CHECK_OK(henn_ckks_rescale(&r, &r));
    double e_mul = check_ct(&c, "multiply + relin + rescale", &r, z,
                            var_of(&c, 2, D, 0, ksr, 1, D * D, 1, r.scale, 0), 0);
    for (size_t i = 0; i < n; i++)
        z[i] = x[(i + 1) % n];
    CHECK_OK(henn_ckks_rotate(&r, &cx, 1, &c.gk));
    double e_rot = check_ct(&c, "rotate 1", &r, z, var_of(&c, 1, D, 1, ks, 1, D, 0, 1, 0), 0);
    printf("  set B precision: fresh %.2f, multiply+relin+rescale %.2f, rotate 1 %.2f bits\n",
           bits_of(e_fresh), bits_of(e_mul), bits_of(e_rot));
    /* 2 threads at N = 16384: rescale is split here too (N x size x level
     * >= 131072), key switching over 8 limbs; bitwise the same results */
    {
        henn_ckks_ct t3 = {0}, o1[4], o2[4];
        memset(o1, 0, sizeof(o1));
        memset(o2, 0, sizeof(o2));
        CHECK_OK(henn_ckks_multiply(&t3, &cx, &cy));
        for (unsigned th = 1; th <= 2; th++) {
            henn_ckks_ct *o = th == 1 ? o1 : o2;
            CHECK_OK(henn_ckks_params_set_threads(&c.params, th));
            CHECK_OK(henn_ckks_rescale(&o[0], &t3));
            CHECK_OK(henn_ckks_rescale(&o[1], &cx));
            CHECK_OK(henn_ckks_relinearize(&o[2], &t3, &c.rk));
            CHECK_OK(henn_ckks_rotate(&o[3], &cx, 1, &c.gk));
        }
        for (size_t k = 0; k < 4; k++) {
            CHECK(ct_equal(&o1[k], &o2[k]));
            henn_ckks_ct_clear(&o1[k]);
            henn_ckks_ct_clear(&o2[k]);
        }
        CHECK_OK(henn_ckks_params_set_threads(&c.params, 1));
        henn_ckks_ct_clear(&t3);
    }
done:
    henn_ckks_ct_clear(&cx);
    henn_ckks_ct_clear(&cy);
    henn_ckks_ct_clear(&r);
    free(ks);
    free(ksr);
    free(x);
    free(y);
    free(z);
    ctx_clear(&c);
}

/*
 * Threads: key switching (relinearise, rotations, conjugation) and rescale
 * give bitwise the same ciphertexts on 1, 2, 3 and "all online CPUs"
 * threads, at every level (N x limbs at and above the key-switching split
 * threshold), in place and not. (Rescale is split only from N x size x
 * level >= 131072: set B checks that path.)
 */
static void threads_run(henn_ckks_ct out[8], ctx *c, const henn_ckks_ct *cx,
                        const henn_ckks_ct *cy)
{
    henn_ckks_ct t = {0};
    CHECK_OK(henn_ckks_multiply(&t, cx, cy));
    CHECK_OK(henn_ckks_relinearize(&out[0], &t, &c->rk));
    CHECK_OK(henn_ckks_rescale(&out[1], &t)); /* size 3 */
    CHECK_OK(henn_ckks_relinearize(&t, &t, &c->rk)); /* in place */
    CHECK_OK(henn_ckks_rescale(&t, &t));
    CHECK_OK(henn_ckks_ct_copy(&out[2], &t));
    CHECK_OK(henn_ckks_rotate(&out[3], cx, 1, &c->gk));
    CHECK_OK(henn_ckks_rotate(&out[4], cx, 3, &c->gk)); /* composed: 1 + 2 */
    CHECK_OK(henn_ckks_conjugate(&out[5], cx, &c->gk));
    CHECK_OK(henn_ckks_rotate_sum(&out[6], cx, 4, &c->gk));
    CHECK_OK(henn_ckks_ct_copy(&out[7], cx));
    CHECK_OK(henn_ckks_rotate(&out[7], &out[7], -2, &c->gk)); /* in place */
    henn_ckks_ct_clear(&t);
}

static void test_threads(void)
{
    ctx c;
    const int bits[] = {60, 40, 40, 60};
    const int steps[] = {1, 2, -2};
    henn_ckks_params z;
    memset(&z, 0, sizeof(z));
    CHECK_RC(henn_ckks_params_set_threads(NULL, 2), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_set_threads(&z, 2), HENN_EINVAL); /* not built */
    if (ctx_init(&c, 8192, bits, 4, 0x1p40, steps, 3, 1) != 0) {
        ctx_clear(&c);
        return;
    }
    printf("threads: N = 8192, {60, 40, 40, 60}: 1, 2, 3 and all CPUs give the same bits\n");
    CHECK_EQ_INT(c.params.threads, 1);
    size_t n = c.slots;
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    henn_ckks_ct cx = {0}, cy = {0}, ref[8], got[8];
    memset(ref, 0, sizeof(ref));
    memset(got, 0, sizeof(got));
    if (x == NULL || y == NULL)
        goto done;
    fill_unit(x, n);
    fill_unit(y, n);
    for (size_t level = c.top + 1; level-- > 1;) {
        enc_at(&c, &cx, x, c.scale, level);
        enc_at(&c, &cy, y, c.scale, level);
        CHECK_OK(henn_ckks_params_set_threads(&c.params, 1));
        threads_run(ref, &c, &cx, &cy);
        const unsigned counts[] = {2, 3, 0};
        for (size_t t = 0; t < 3; t++) {
            CHECK_OK(henn_ckks_params_set_threads(&c.params, counts[t]));
            CHECK_EQ_INT(c.params.threads, counts[t]);
            threads_run(got, &c, &cx, &cy);
            for (size_t k = 0; k < 8; k++) {
                int same = ct_equal(&ref[k], &got[k]);
                CHECK(same);
                if (!same)
                    fprintf(stderr, "  level %zu, threads %u, result %zu differs\n", level,
                            counts[t], k);
            }
        }
    }
    /* and the threaded results decrypt correctly (1 thread is checked by
     * the noise-model tests above) */
    double *z2 = malloc(n * sizeof(double)), *ks = ks_var(&c, &c.gk.keys[0], 1);
    if (z2 != NULL && ks != NULL) {
        for (size_t i = 0; i < n; i++)
            z2[i] = x[(i + 1) % n];
        check_ct(&c, "rotate 1 on all CPUs (level 1)", &got[3], z2,
                 var_of(&c, 1, c.scale, 1, ks, 1, c.scale, 0, 1, 0), 0);
    }
    free(z2);
    free(ks);
    CHECK_OK(henn_ckks_params_set_threads(&c.params, 1));
done:
    for (size_t k = 0; k < 8; k++) {
        henn_ckks_ct_clear(&ref[k]);
        henn_ckks_ct_clear(&got[k]);
    }
    henn_ckks_ct_clear(&cx);
    henn_ckks_ct_clear(&cy);
    free(x);
    free(y);
    ctx_clear(&c);
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    henn__prng_init(&rng, test_seed(), 0);
    test_samplers();
    test_rns_and_expand();
    test_keys();
    test_errors();
    test_set_a();
    test_chain_c();
    test_set_b();
    test_threads();
    return test_report("test_ckks_eval");
}
