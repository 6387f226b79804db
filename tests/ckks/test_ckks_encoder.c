/*
 * CKKS encoder: the canonical embedding (special FFT against a direct
 * evaluation in long double), encode/decode round trips at every level,
 * the multiplicative and automorphism properties on the coefficient level,
 * wide coefficients and exact CRT centring (against GMP), errors.
 */
#include <math.h>
#include <stdint.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"
#include "henn/henn.h"
#include "../test.h"

/* ---- seeded inputs ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1] */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1p-52 - 1.0;
}

static void fill_unit(double *v, size_t count, double amplitude)
{
    for (size_t i = 0; i < count; i++)
        v[i] = amplitude * rng_unit();
}

static double max_err(const double *a, const double *b, size_t count)
{
    double m = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates */
    }
    return m;
}

static double bits_of(double err)
{
    return err > 0 ? -log2(err) : INFINITY;
}

static const long double PI_L = 3.141592653589793238462643383279502884L;

/* ---- the embedding in floating point, before any params ---- */

/* Direct evaluation in long double: slot i = m(zeta^(3^i)) and
 * m_k = (2/N) Re sum_i z_i zeta^(-3^i k). */
static void naive_check(size_t N)
{
    size_t n = N / 2, two_n = 2 * N;
    struct henn__ckks_encoder *enc = NULL;
    CHECK_OK(henn__ckks_encoder_new(&enc, N));
    if (enc == NULL)
        return;
    long double *cr = malloc(two_n * sizeof(long double));
    long double *sr = malloc(two_n * sizeof(long double));
    size_t *g = malloc(n * sizeof(size_t));
    double *z = malloc(2 * n * sizeof(double));
    double *coeffs = malloc(N * sizeof(double));
    double *back = malloc(2 * n * sizeof(double));
    for (size_t k = 0; k < two_n; k++) {
        cr[k] = cosl(PI_L * (long double)k / (long double)N);
        sr[k] = sinl(PI_L * (long double)k / (long double)N);
    }
    g[0] = 1;
    for (size_t i = 1; i < n; i++)
        g[i] = g[i - 1] * 3 % two_n;
    fill_unit(z, 2 * n, 1.0);

    henn__ckks_slots_to_coeffs(enc, coeffs, z, n, 1.0);
    double err_enc = 0.0;
    for (size_t k = 0; k < N; k++) {
        long double acc = 0.0L;
        for (size_t i = 0; i < n; i++) {
            size_t e = (two_n - g[i] * k % two_n) % two_n; /* zeta^(-g k) */
            acc += (long double)z[2 * i] * cr[e] - (long double)z[2 * i + 1] * sr[e];
        }
        double d = fabs((double)(2.0L * acc / (long double)N) - coeffs[k]);
        if (d > err_enc)
            err_enc = d;
    }
    /* forward on the (exact) double coefficients just computed */
    double err_dec = 0.0;
    for (size_t i = 0; i < n; i++) {
        long double ar = 0.0L, ai = 0.0L;
        for (size_t k = 0; k < N; k++) {
            size_t e = g[i] * k % two_n;
            ar += (long double)coeffs[k] * cr[e];
            ai += (long double)coeffs[k] * sr[e];
        }
        /* the slot of the encoded coefficients is z_i up to err_enc */
        double dr = fabs((double)ar - z[2 * i]), di = fabs((double)ai - z[2 * i + 1]);
        if (dr > err_dec)
            err_dec = dr;
        if (di > err_dec)
            err_dec = di;
    }
    henn__ckks_coeffs_to_slots(enc, back, n, coeffs, 1.0);
    double err_rt = max_err(back, z, 2 * n);
    printf("  N=%zu: encode vs direct %.3g, direct decode %.3g, FFT round trip %.3g (%.1f bits)\n",
           N, err_enc, err_dec, err_rt, bits_of(err_rt));
    CHECK(err_enc < 5e-16); /* within about two ulps of the exact values */
    CHECK(err_dec < 1e-12);
    CHECK(err_rt < 1e-13);
    free(cr);
    free(sr);
    free(g);
    free(z);
    free(coeffs);
    free(back);
    henn__ckks_encoder_free(enc);
}

/* Apply X -> X^gal to real coefficients (negacyclic). */
static void automorph_double(double *out, const double *in, size_t N, size_t gal)
{
    for (size_t k = 0; k < N; k++) {
        size_t e = k * gal % (2 * N);
        if (e < N)
            out[e] = in[k];
        else
            out[e - N] = -in[k];
    }
}

static void test_fft_standalone(void)
{
    printf("special FFT against direct evaluation:\n");
    size_t sizes[] = {4, 8, 16, 64, 1024};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        naive_check(sizes[s]);

    /* round trips at the sizes henn uses, and the automorphisms */
    for (size_t N = 4096; N <= 65536; N *= 2) {
        size_t n = N / 2;
        struct henn__ckks_encoder *enc = NULL;
        CHECK_OK(henn__ckks_encoder_new(&enc, N));
        if (enc == NULL)
            return;
        double *z = malloc(N * sizeof(double)), *c = malloc(N * sizeof(double));
        double *c2 = malloc(N * sizeof(double)), *back = malloc(N * sizeof(double));
        fill_unit(z, N, 1.0);
        henn__ckks_slots_to_coeffs(enc, c, z, n, 0x1p40);
        memcpy(c2, c, N * sizeof(double));
        henn__ckks_coeffs_to_slots(enc, back, n, c2, 0x1p-40);
        double err = max_err(back, z, N);
        printf("  N=%zu FFT round trip: %.3g (%.1f bits)\n", N, err, bits_of(err));
        CHECK(err < 1e-13);
        /* spot checks against the direct formulas in long double (scaled
         * back by 2^40, exact): 4 coefficients, 4 slots */
        double spot = 0.0;
        for (size_t t = 0; t < 4; t++) {
            size_t k = (size_t)(rng_next() % N), i = (size_t)(rng_next() % n), g = 1;
            long double acc = 0.0L, sr = 0.0L, si = 0.0L;
            for (size_t s = 0; s < n; s++) {
                long double a = PI_L * (long double)((2 * N - g * k % (2 * N)) % (2 * N)) /
                                (long double)N;
                acc += (long double)z[2 * s] * cosl(a) - (long double)z[2 * s + 1] * sinl(a);
                g = g * 3 % (2 * N);
            }
            spot = fmax(spot, fabs((double)(2.0L * acc / (long double)N) - c[k] * 0x1p-40));
            g = 1;
            for (size_t s = 0; s < i; s++)
                g = g * 3 % (2 * N);
            for (size_t s = 0; s < N; s++) {
                long double a = PI_L * (long double)(g * s % (2 * N)) / (long double)N;
                sr += (long double)c[s] * 0x1p-40L * cosl(a);
                si += (long double)c[s] * 0x1p-40L * sinl(a);
            }
            spot = fmax(spot, fabs((double)sr - z[2 * i]));
            spot = fmax(spot, fabs((double)si - z[2 * i + 1]));
        }
        CHECK(spot < 1e-13);

        /* rotation by r to the left: X -> X^(3^r mod 2N) */
        size_t steps[] = {1, 2, 7, n - 1};
        for (size_t t = 0; t < 4; t++) {
            size_t gal = 1;
            for (size_t j = 0; j < steps[t]; j++)
                gal = gal * 3 % (2 * N);
            automorph_double(c2, c, N, gal);
            henn__ckks_coeffs_to_slots(enc, back, n, c2, 0x1p-40);
            double e = 0.0;
            for (size_t i = 0; i < n; i++) {
                size_t src = (i + steps[t]) % n;
                e = fmax(e, fabs(back[2 * i] - z[2 * src]));
                e = fmax(e, fabs(back[2 * i + 1] - z[2 * src + 1]));
            }
            CHECK(e < 1e-13);
        }
        /* conjugation: X -> X^(2N-1) */
        automorph_double(c2, c, N, 2 * N - 1);
        henn__ckks_coeffs_to_slots(enc, back, n, c2, 0x1p-40);
        double e = 0.0;
        for (size_t i = 0; i < n; i++) {
            e = fmax(e, fabs(back[2 * i] - z[2 * i]));
            e = fmax(e, fabs(back[2 * i + 1] + z[2 * i + 1]));
        }
        CHECK(e < 1e-13);
        free(z);
        free(c);
        free(c2);
        free(back);
        henn__ckks_encoder_free(enc);
    }

    struct henn__ckks_encoder *enc = (struct henn__ckks_encoder *)&enc;
    CHECK_RC(henn__ckks_encoder_new(&enc, 0), HENN_EINVAL);
    CHECK(enc == NULL);
    CHECK_RC(henn__ckks_encoder_new(&enc, 2), HENN_EINVAL);
    CHECK_RC(henn__ckks_encoder_new(&enc, 24), HENN_EINVAL);
    CHECK_RC(henn__ckks_encoder_new(NULL, 4096), HENN_EINVAL);
    henn__ckks_encoder_free(NULL);
}

/* ---- with parameters ---- */

static int make_params(henn_ckks_params *p, size_t N, const int *bits, size_t count,
                       unsigned flags)
{
    memset(p, 0, sizeof(*p));
    int rc = henn_ckks_params_init(p, N, bits, count, flags);
    CHECK_OK(rc);
    return rc;
}

/* Real and complex round trips at every level; returns the worst error. */
static void round_trips(const henn_ckks_params *p, double scale, double bound, const char *name)
{
    size_t N = p->N, n = N / 2;
    double *v = malloc(2 * n * sizeof(double)), *out = malloc(2 * n * sizeof(double));
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));
    for (size_t level = 0; level < p->L; level++) {
        fill_unit(v, n, 1.0);
        CHECK_OK(henn_ckks_encode(&pt, p, v, n, scale, level));
        CHECK_EQ_INT(pt.level, level);
        CHECK(pt.scale == scale);
        CHECK_OK(henn_ckks_decode(out, n, &pt));
        double err = max_err(out, v, n);
        /* complex */
        fill_unit(v, 2 * n, 1.0);
        CHECK_OK(henn_ckks_encode_complex(&pt, p, v, n, scale, level));
        CHECK_OK(henn_ckks_decode_complex(out, n, &pt));
        double errc = max_err(out, v, 2 * n);
        printf("  %s level %zu: real %.1f bits, complex %.1f bits\n", name, level, bits_of(err),
               bits_of(errc));
        CHECK(err < bound);
        CHECK(errc < bound);
    }
    henn_ckks_pt_clear(&pt);
    free(v);
    free(out);
}

static void test_round_trips(void)
{
    printf("encode/decode round trips (inputs uniform in [-1, 1]):\n");
    henn_ckks_params p;
    const int a_bits[] = {60, 40, 40, 60};
    if (make_params(&p, 8192, a_bits, 4, 0) == 0)
        round_trips(&p, 0x1p40, 0x1p-30, "N=8192 {60,40,40,60} 2^40");
    henn_ckks_params_clear(&p);
    const int d_bits[] = {40, 20, 40};
    if (make_params(&p, 4096, d_bits, 3, 0) == 0)
        round_trips(&p, 0x1p20, 0x1p-12, "N=4096 {40,20,40} 2^20");
    henn_ckks_params_clear(&p);
    /* a non-power-of-two scale */
    if (make_params(&p, 4096, d_bits, 3, 0) == 0)
        round_trips(&p, 1e6, 1e-4, "N=4096 {40,20,40} 1e6");
    henn_ckks_params_clear(&p);
}

/* Partial vectors: count < N/2 leaves the other slots 0; count 0 is the zero
 * plaintext; a plaintext can be re-encoded at another level. */
static void test_partial(void)
{
    henn_ckks_params p;
    const int bits[] = {60, 40, 40, 60};
    if (make_params(&p, 8192, bits, 4, 0) != 0)
        return;
    size_t n = 4096;
    double *v = malloc(2 * n * sizeof(double)), *out = malloc(2 * n * sizeof(double));
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));
    size_t counts[] = {0, 1, 3, 100, n - 1};
    for (size_t t = 0; t < 5; t++) {
        size_t count = counts[t];
        fill_unit(v, 2 * n, 1.0);
        CHECK_OK(henn_ckks_encode_complex(&pt, &p, v, count, 0x1p40, t % 3));
        CHECK_OK(henn_ckks_decode_complex(out, n, &pt));
        for (size_t i = 2 * count; i < 2 * n; i++)
            v[i] = 0.0;
        CHECK(max_err(out, v, 2 * n) < 0x1p-30);
        /* fewer slots read back */
        CHECK_OK(henn_ckks_decode(out, count / 2, &pt));
        for (size_t i = 0; i < count / 2; i++)
            CHECK(fabs(out[i] - v[2 * i]) < 0x1p-30);
    }
    /* count 0: every residue 0 */
    CHECK_OK(henn_ckks_encode(&pt, &p, NULL, 0, 0x1p40, 2));
    int all_zero = 1;
    for (size_t i = 0; i < 3 * 8192; i++)
        all_zero &= pt.data[i] == 0;
    CHECK(all_zero);
    CHECK_OK(henn_ckks_decode(NULL, 0, &pt));
    henn_ckks_pt_clear(&pt);
    free(v);
    free(out);
    henn_ckks_params_clear(&p);
}

/* Pointwise product in the NTT domain (negacyclic product of coefficients)
 * decodes to the slot-wise product at scale Delta_a * Delta_b. */
static void test_multiplicative(void)
{
    henn_ckks_params p;
    const int bits[] = {60, 60};
    if (make_params(&p, 8192, bits, 2, 0) != 0)
        return;
    size_t N = p.N, n = N / 2;
    double *a = malloc(2 * n * sizeof(double)), *b = malloc(2 * n * sizeof(double));
    double *out = malloc(2 * n * sizeof(double));
    henn_ckks_pt pa, pb;
    memset(&pa, 0, sizeof(pa));
    memset(&pb, 0, sizeof(pb));
    fill_unit(a, 2 * n, 1.0);
    fill_unit(b, 2 * n, 1.0);
    CHECK_OK(henn_ckks_encode_complex(&pa, &p, a, n, 0x1p20, 0));
    CHECK_OK(henn_ckks_encode_complex(&pb, &p, b, n, 0x1p21, 0));
    const henn__ckks_mod *m = &p.tables->mod[0];
    for (size_t k = 0; k < N; k++)
        pa.data[k] = henn__ckks_mul_mod(pa.data[k], pb.data[k], m);
    pa.scale = 0x1p41;
    CHECK_OK(henn_ckks_decode_complex(out, n, &pa));
    double err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double re = a[2 * i] * b[2 * i] - a[2 * i + 1] * b[2 * i + 1];
        double im = a[2 * i] * b[2 * i + 1] + a[2 * i + 1] * b[2 * i];
        err = fmax(err, fabs(out[2 * i] - re));
        err = fmax(err, fabs(out[2 * i + 1] - im));
    }
    printf("slot-wise product from the NTT-domain product at 2^20 x 2^21: %.1f bits\n",
           bits_of(err));
    CHECK(err < 0x1p-12);
    henn_ckks_pt_clear(&pa);
    henn_ckks_pt_clear(&pb);
    free(a);
    free(b);
    free(out);
    henn_ckks_params_clear(&p);
}

/* X -> X^gal on every limb of pt, in the coefficient domain. */
static void automorph_pt(henn_ckks_pt *pt, size_t gal)
{
    const henn_ckks_params *p = pt->params;
    size_t N = p->N;
    uint64_t *tmp = malloc(N * sizeof(uint64_t));
    for (size_t i = 0; i <= pt->level; i++) {
        uint64_t *limb = pt->data + i * N, q = p->q[i];
        henn__ckks_ntt_inverse(limb, &p->tables->ntt[i]);
        for (size_t k = 0; k < N; k++) {
            size_t e = k * gal % (2 * N);
            if (e < N)
                tmp[e] = limb[k];
            else
                tmp[e - N] = henn__ckks_neg_mod(limb[k], q);
        }
        memcpy(limb, tmp, N * sizeof(uint64_t));
        henn__ckks_ntt_forward(limb, &p->tables->ntt[i]);
    }
    free(tmp);
}

static void test_automorphisms(void)
{
    henn_ckks_params p;
    const int bits[] = {60, 40, 40, 60};
    if (make_params(&p, 8192, bits, 4, 0) != 0)
        return;
    size_t N = p.N, n = N / 2;
    double *z = malloc(2 * n * sizeof(double)), *out = malloc(2 * n * sizeof(double));
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));
    fill_unit(z, 2 * n, 1.0);
    int steps[] = {1, 2, 3, 5, 1024, 4095};
    double worst = 0.0;
    for (size_t t = 0; t < sizeof(steps) / sizeof(steps[0]); t++) {
        size_t level = t % 3;
        CHECK_OK(henn_ckks_encode_complex(&pt, &p, z, n, 0x1p40, level));
        size_t gal = 1;
        for (int j = 0; j < steps[t]; j++)
            gal = gal * 3 % (2 * N);
        automorph_pt(&pt, gal);
        CHECK_OK(henn_ckks_decode_complex(out, n, &pt));
        double e = 0.0;
        for (size_t i = 0; i < n; i++) {
            size_t src = (i + (size_t)steps[t]) % n;
            e = fmax(e, fabs(out[2 * i] - z[2 * src]));
            e = fmax(e, fabs(out[2 * i + 1] - z[2 * src + 1]));
        }
        CHECK(e < 0x1p-30);
        worst = fmax(worst, e);
    }
    CHECK_OK(henn_ckks_encode_complex(&pt, &p, z, n, 0x1p40, 2));
    automorph_pt(&pt, 2 * N - 1);
    CHECK_OK(henn_ckks_decode_complex(out, n, &pt));
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(out[2 * i] - z[2 * i]));
        e = fmax(e, fabs(out[2 * i + 1] + z[2 * i + 1]));
    }
    CHECK(e < 0x1p-30);
    printf("automorphisms X -> X^(3^k) rotate left by k, X^(2N-1) conjugates: %.1f bits\n",
           bits_of(fmax(worst, e)));
    henn_ckks_pt_clear(&pt);
    free(z);
    free(out);
    henn_ckks_params_clear(&p);
}

/* Coefficients beyond one prime and beyond 64 bits (the Barrett and 128-bit
 * paths), and many primes. */
static void test_wide(void)
{
    henn_ckks_params p;
    const int bits[] = {60, 40, 40, 60};
    if (make_params(&p, 8192, bits, 4, 0) != 0)
        return;
    size_t n = 4096;
    double *v = malloc(2 * n * sizeof(double)), *out = malloc(2 * n * sizeof(double));
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));
    /* |c| up to about 2^55 at level 2: above the 40-bit primes */
    fill_unit(v, n, 0x1p15);
    CHECK_OK(henn_ckks_encode(&pt, &p, v, n, 0x1p40, 2));
    CHECK_OK(henn_ckks_decode(out, n, &pt));
    double err = max_err(out, v, n);
    printf("wide coefficients: 2^15 at scale 2^40, level 2: error %.3g\n", err);
    CHECK(err < 0x1p-25);
    /* constants between q_1 and 2 q_1 (the reduction below one prime is not
     * enough) and their negatives, decoded back exactly */
    for (int sign = 1; sign >= -1; sign -= 2) {
        double c = sign * ((double)p.q[1] + 12345.0);
        for (size_t i = 0; i < n; i++)
            v[i] = c;
        CHECK_OK(henn_ckks_encode(&pt, &p, v, n, 1.0, 2));
        CHECK_OK(henn_ckks_decode(out, n, &pt));
        CHECK(max_err(out, v, n) < 1e-3);
    }
    /* |c| up to about 2^120: the 128-bit path; relative precision of doubles */
    fill_unit(v, 2 * n, 0x1p20);
    CHECK_OK(henn_ckks_encode_complex(&pt, &p, v, n, 0x1p100, 2));
    CHECK_OK(henn_ckks_decode_complex(out, n, &pt));
    err = max_err(out, v, 2 * n);
    printf("wide coefficients: 2^20 at scale 2^100, level 2: error %.3g (%.1f bits below "
           "the values)\n",
           err, bits_of(err) + 20);
    CHECK(err < 0x1p-25);
    /* the 2^126 bound is exclusive of what fits: 2^125 scale, values < 1 */
    fill_unit(v, n, 0.5);
    CHECK_OK(henn_ckks_encode(&pt, &p, v, n, 0x1p125, 2));
    CHECK_OK(henn_ckks_decode(out, n, &pt));
    CHECK(max_err(out, v, n) < 0x1p-40);
    henn_ckks_pt_clear(&pt);
    henn_ckks_params_clear(&p);

    /* 30 primes of 55 bits (insecure at N = 4096): Q about 2^1650 */
    int many[31];
    for (size_t i = 0; i < 31; i++)
        many[i] = 55;
    if (make_params(&p, 4096, many, 31, HENN_CKKS_INSECURE) == 0) {
        size_t m = 2048;
        fill_unit(v, 2 * m, 1.0);
        CHECK_OK(henn_ckks_encode_complex(&pt, &p, v, m, 0x1p40, 29));
        CHECK_OK(henn_ckks_decode_complex(out, m, &pt));
        err = max_err(out, v, 2 * m);
        printf("30 primes of 55 bits, scale 2^40, top level: %.1f bits\n", bits_of(err));
        CHECK(err < 0x1p-30);
        fill_unit(v, 2 * m, 0x1p20);
        CHECK_OK(henn_ckks_encode_complex(&pt, &p, v, m, 0x1p100, 29));
        CHECK_OK(henn_ckks_decode_complex(out, m, &pt));
        CHECK(max_err(out, v, 2 * m) < 0x1p-25);
    }
    henn_ckks_pt_clear(&pt);
    henn_ckks_params_clear(&p);
    free(v);
    free(out);
}

/*
 * CRT centring at the boundary: the constant polynomials (Q-1)/2 and
 * (Q+1)/2 = -(Q-1)/2 mod Q decode to +-(Q-1)/2 / scale in every slot (GMP
 * computes the residues).
 */
static void test_centring(void)
{
    henn_ckks_params p;
    const int bits[] = {60, 40, 40, 50, 60};
    if (make_params(&p, 8192, bits, 5, HENN_CKKS_INSECURE) != 0)
        return;
    size_t N = p.N, n = N / 2;
    double *out = malloc(n * sizeof(double));
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));
    mpz_t Q, h, c, r;
    mpz_inits(Q, h, c, r, NULL);
    for (size_t level = 0; level < p.L; level++) {
        mpz_set_ui(Q, 1);
        for (size_t i = 0; i <= level; i++)
            mpz_mul_ui(Q, Q, p.q[i]);
        mpz_sub_ui(h, Q, 1);
        mpz_fdiv_q_2exp(h, h, 1);
        double scale = ldexp(1.0, (int)mpz_sizeinbase(Q, 2) - 30);
        double expect = mpz_get_d(h) / scale; /* mpz_get_d truncates: ~1 ulp */
        for (int sign = 0; sign < 2; sign++) {
            /* c = h (positive) or h + 1 (= -h mod Q) */
            mpz_add_ui(c, h, (unsigned long)sign);
            CHECK_OK(henn__ckks_pt_reserve(&pt, &p, level, scale));
            for (size_t i = 0; i <= level; i++) {
                uint64_t *limb = pt.data + i * N;
                memset(limb, 0, N * sizeof(uint64_t));
                limb[0] = (uint64_t)mpz_fdiv_r_ui(r, c, p.q[i]);
                henn__ckks_ntt_forward(limb, &p.tables->ntt[i]);
            }
            CHECK_OK(henn_ckks_decode(out, n, &pt));
            double want = sign ? -expect : expect, e = 0.0;
            for (size_t i = 0; i < n; i++)
                e = fmax(e, fabs(out[i] - want));
            CHECK(e <= fabs(want) * 0x1p-50);
            /* one step further in: (Q-1)/2 - 1 and -(Q-1)/2 + 1 stay on their side */
            mpz_set(c, h);
            if (sign)
                mpz_add_ui(c, c, 2);
            else
                mpz_sub_ui(c, c, 1);
            for (size_t i = 0; i <= level; i++) {
                uint64_t *limb = pt.data + i * N;
                memset(limb, 0, N * sizeof(uint64_t));
                limb[0] = (uint64_t)mpz_fdiv_r_ui(r, c, p.q[i]);
                henn__ckks_ntt_forward(limb, &p.tables->ntt[i]);
            }
            CHECK_OK(henn_ckks_decode(out, 1, &pt));
            CHECK(fabs(out[0] - want) <= fabs(want) * 0x1p-50);
        }
        /* the smallest values: +-1 (all residues q_i - 1 for -1) */
        CHECK_OK(henn__ckks_pt_reserve(&pt, &p, level, 1.0));
        for (int sign = 0; sign < 2; sign++) {
            for (size_t i = 0; i <= level; i++) {
                uint64_t *limb = pt.data + i * N;
                memset(limb, 0, N * sizeof(uint64_t));
                limb[0] = sign ? p.q[i] - 1 : 1;
                henn__ckks_ntt_forward(limb, &p.tables->ntt[i]);
            }
            CHECK_OK(henn_ckks_decode(out, n, &pt));
            double e = 0.0;
            for (size_t i = 0; i < n; i++)
                e = fmax(e, fabs(out[i] - (sign ? -1.0 : 1.0)));
            CHECK(e < 1e-13);
        }
    }
    printf("CRT centring at +-(Q-1)/2 and +-1 for 1..4 primes: checked\n");
    mpz_clears(Q, h, c, r, NULL);
    henn_ckks_pt_clear(&pt);
    free(out);
    henn_ckks_params_clear(&p);
}

static void test_errors(void)
{
    henn_ckks_params p;
    const int bits[] = {40, 20, 40};
    if (make_params(&p, 4096, bits, 3, 0) != 0)
        return;
    size_t n = 2048;
    double *v = malloc(2 * (n + 1) * sizeof(double)), *out = malloc(2 * n * sizeof(double));
    fill_unit(v, 2 * (n + 1), 1.0);
    henn_ckks_pt pt;
    memset(&pt, 0, sizeof(pt));

    CHECK_RC(henn_ckks_encode(&pt, &p, v, n + 1, 0x1p20, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode_complex(&pt, &p, v, n + 1, 0x1p20, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, 0x1p20, 2), HENN_EINVAL); /* L = 2 */
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, 0.0, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, -0x1p20, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, NAN, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, INFINITY, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, &p, NULL, 5, 0x1p20, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(&pt, NULL, v, n, 0x1p20, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_encode(NULL, &p, v, n, 0x1p20, 0), HENN_EINVAL);
    henn_ckks_params zp;
    memset(&zp, 0, sizeof(zp));
    CHECK_RC(henn_ckks_encode(&pt, &zp, v, 1, 0x1p20, 0), HENN_EINVAL);
    double save = v[7];
    v[7] = NAN;
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, 0x1p20, 0), HENN_EINVAL);
    v[7] = INFINITY;
    CHECK_RC(henn_ckks_encode(&pt, &p, v, n, 0x1p20, 0), HENN_EINVAL);
    v[7] = -INFINITY;
    CHECK_RC(henn_ckks_encode_complex(&pt, &p, v, n, 0x1p20, 0), HENN_EINVAL);
    v[7] = save;
    v[2 * n - 1] = NAN; /* imaginary part of the last complex slot */
    CHECK_RC(henn_ckks_encode_complex(&pt, &p, v, n, 0x1p20, 0), HENN_EINVAL);
    CHECK_OK(henn_ckks_encode(&pt, &p, v, n, 0x1p20, 0)); /* real: not read */
    v[2 * n - 1] = 0.5;

    /* coefficient range: q_0 has 40 bits; a constant c has coefficient c * scale */
    double h = (double)((p.q[0] - 1) / 2); /* exact below 2^53 */
    double *cst = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        cst[i] = h;
    CHECK_OK(henn_ckks_encode(&pt, &p, cst, n, 1.0, 0));
    CHECK_OK(henn_ckks_decode(out, n, &pt));
    CHECK(max_err(out, cst, n) < 1e-3);
    for (size_t i = 0; i < n; i++)
        cst[i] = -h;
    CHECK_OK(henn_ckks_encode(&pt, &p, cst, n, 1.0, 0));
    for (size_t i = 0; i < n; i++)
        cst[i] = h + 1;
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, n, 1.0, 0), HENN_ERANGE);
    CHECK(pt.data == NULL && pt.params == NULL); /* left zeroed */
    for (size_t i = 0; i < n; i++)
        cst[i] = -h - 1;
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, n, 1.0, 0), HENN_ERANGE);
    CHECK_OK(henn_ckks_encode(&pt, &p, cst, n, 1.0, 1)); /* fits below q_0 q_1 / 2 */
    for (size_t i = 0; i < n; i++)
        cst[i] = 1.0;
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, n, 0x1p40, 0), HENN_ERANGE);
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, n, 0x1p127, 1), HENN_ERANGE); /* >= 2^126 */
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, n, 0x1p1000, 1), HENN_ERANGE);
    cst[0] = 1e300;
    CHECK_RC(henn_ckks_encode(&pt, &p, cst, 1, 1e300, 1), HENN_ERANGE); /* overflows */
    free(cst);

    /* decoding */
    CHECK_OK(henn_ckks_encode(&pt, &p, v, n, 0x1p20, 1));
    CHECK_RC(henn_ckks_decode(out, n + 1, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_decode_complex(out, n + 1, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_decode(NULL, n, &pt), HENN_EINVAL);
    CHECK_RC(henn_ckks_decode(out, n, NULL), HENN_EINVAL);
    henn_ckks_pt bad = pt;
    bad.level = 2;
    out[0] = 1.0;
    CHECK_RC(henn_ckks_decode(out, n, &bad), HENN_EINVAL);
    CHECK(out[0] == 0.0); /* output zeroed on error */
    bad = pt;
    bad.scale = 0.0;
    CHECK_RC(henn_ckks_decode(out, n, &bad), HENN_EINVAL);
    bad.scale = NAN;
    CHECK_RC(henn_ckks_decode(out, n, &bad), HENN_EINVAL);
    bad = pt;
    bad.data = NULL;
    CHECK_RC(henn_ckks_decode(out, n, &bad), HENN_EINVAL);
    henn_ckks_pt zpt;
    memset(&zpt, 0, sizeof(zpt));
    CHECK_RC(henn_ckks_decode(out, 1, &zpt), HENN_EINVAL);
    henn_ckks_pt_clear(&pt);
    free(v);
    free(out);
    henn_ckks_params_clear(&p);
}

int main(void)
{
    rng_state = test_seed();
    test_fft_standalone();
    test_round_trips();
    test_partial();
    test_multiplicative();
    test_automorphisms();
    test_wide();
    test_centring();
    test_errors();
    return test_report("test_ckks_encoder");
}
