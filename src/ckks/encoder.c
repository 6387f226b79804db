/*
 * CKKS encoder: the canonical embedding through a special FFT of size N/2.
 *
 * Slots. A plaintext polynomial m(X) = sum_{k<N} m_k X^k with real (integer
 * after scaling) coefficients has N complex values at the primitive 2N-th
 * roots of unity zeta^g, zeta = exp(i pi / N), g odd; those at g and -g are
 * conjugate. Slot i (0 <= i < n = N/2) is m(zeta^(3^i mod 2N)), as in SEAL:
 * the powers of 3 modulo 2N are the odd residues that are 1 or 3 mod 8, a
 * subgroup of order n that does not contain -1, so the n slots determine m
 * and the automorphism X -> X^(3^k) rotates the slots by k to the left,
 * X -> X^(2N-1) conjugates them.
 *
 * The transform (Cheon et al., ASIACRYPT 2017, section 3.2; the half-size
 * FFT idea of HEAAN, derived here for the generator 3). Fold m into n
 * complex numbers v_k = m_k + i m_{k+n}. For Y with Y^n = i,
 * m(Y) = sum_{k<n} (m_k + m_{k+n} Y^n) Y^k = V(Y), V(Y) = sum v_k Y^k.
 * The roots zeta^g with g = 1 mod 4 are exactly the n roots of Y^n = i
 * (zeta^(g n) = i^g); write them as zeta * w^t, w = zeta^4 = exp(2 pi i / n),
 * t = (g - 1) / 4. Then V(zeta w^t) = DFT_n(u)[t] with u_k = v_k zeta^k: a
 * twist and one complex FFT of size n. A slot whose g is 3 mod 4 is the
 * conjugate of the value at -g (which is 1 mod 4) because m is real. So
 * decoding is twist, FFT, and reading slot i from FFT output t_i
 * (conjugated when 3^i = 3 mod 4); encoding runs the same steps backwards.
 * The FFT is a Gentleman-Sande transform (natural order in, bit-reversed
 * out) and its inverse a Cooley-Tukey one (bit-reversed in, natural out),
 * both in radix-4 passes, so the slot map absorbs the bit reversal.
 *
 * Roots are computed once per parameter set from exact angles in long
 * double (cosl/sinl on the first octant, symmetry elsewhere), so each table
 * entry is the double nearest to the true root within about half an ulp.
 *
 * Coefficients. Encoding rounds scale * m_k to the nearest integer (ties
 * away from zero) and reduces it modulo every prime of the level: through
 * int64_t when |c| < 2^63, through an exact unsigned 128-bit integer up to
 * 2^126. Decoding composes the residues exactly with Garner's mixed-radix
 * algorithm, centres the result in (-Q/2, Q/2] by comparing its mixed-radix
 * digits with those of (Q - 1)/2, which are (q_j - 1)/2, and evaluates the
 * digits (or the complement's digits, for negative values) in long double
 * from the top digit down, so the relative error is about 2^-64 per prime
 * whatever the size of Q.
 *
 * Timing: encoding and decoding depend on the values through floating
 * point (no key is involved); the residue arithmetic has no branches on
 * the coefficients.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* Slot map entries: FFT position in the low bits, conjugation flag on top. */
#define SLOT_CONJ 0x80000000u
#define SLOT_POS 0x7fffffffu

struct henn__ckks_encoder {
    size_t N; /* ring degree */
    size_t n; /* slots, N / 2 */
    /* FFT twiddles: w_re[h + j] + i w_im[h + j] = exp(2 pi i j / 2h) for
     * h = 1, 2, 4, ..., n/2 and j < h (index 0 unused). */
    double *w_re, *w_im;
    /* w3_re[h + j] + i w3_im[h + j] = exp(2 pi i 3j / 2h), j < h/2: the
     * third twiddle of a radix-4 butterfly. */
    double *w3_re, *w3_im;
    /* Twist: z_re[k] + i z_im[k] = zeta^k, k < n. */
    double *z_re, *z_im;
    /* slot[i]: bit-reversed FFT position of slot i's root, | SLOT_CONJ
     * when the slot is the conjugate of that position's value. */
    uint32_t *slot;
};

static const long double PI_L = 3.141592653589793238462643383279502884L;

/* (cos, sin)(pi k / N) for any k, from an angle in [0, pi/4]. */
static void root_of_unity(double *c, double *s, size_t k, size_t N)
{
    size_t two_n = 2 * N, q = N / 2, o = N / 4; /* quarter and eighth turns */
    k %= two_n;
    size_t quad = k / q, r = k % q; /* angle = quad * pi/2 + r * pi / N */
    long double cr, sr;
    if (r == 0) {
        cr = 1.0L;
        sr = 0.0L;
    } else if (o > 0 && r <= o) {
        long double a = PI_L * (long double)r / (long double)N;
        cr = cosl(a);
        sr = sinl(a);
    } else {
        /* r in (N/8, N/4): use the complement pi/2 - angle */
        long double a = PI_L * (long double)(q - r) / (long double)N;
        cr = sinl(a);
        sr = cosl(a);
    }
    switch (quad) {
    case 0:
        *c = (double)cr;
        *s = (double)sr;
        break;
    case 1:
        *c = (double)-sr;
        *s = (double)cr;
        break;
    case 2:
        *c = (double)-cr;
        *s = (double)-sr;
        break;
    default:
        *c = (double)sr;
        *s = (double)-cr;
        break;
    }
}

static uint32_t bit_reverse(uint32_t x, unsigned bits)
{
    uint32_t r = 0;
    for (unsigned b = 0; b < bits; b++) {
        r = (r << 1) | (x & 1u);
        x >>= 1;
    }
    return r;
}

void henn__ckks_encoder_free(struct henn__ckks_encoder *enc)
{
    if (enc == NULL)
        return;
    free(enc->w_re);
    free(enc->w_im);
    free(enc->w3_re);
    free(enc->w3_im);
    free(enc->z_re);
    free(enc->z_im);
    free(enc->slot);
    free(enc);
}

int henn__ckks_encoder_new(struct henn__ckks_encoder **enc, size_t N)
{
    if (enc == NULL)
        return HENN_EINVAL;
    *enc = NULL;
    /* N >= 4 so that there are at least two slots; the params restrict N
     * further. */
    if (N < 4 || N > ((size_t)1 << 24) || (N & (N - 1)) != 0)
        return HENN_EINVAL;
    struct henn__ckks_encoder *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return HENN_ENOMEM;
    size_t n = N / 2;
    e->N = N;
    e->n = n;
    e->w_re = malloc(n * sizeof(double));
    e->w_im = malloc(n * sizeof(double));
    e->w3_re = malloc(n * sizeof(double));
    e->w3_im = malloc(n * sizeof(double));
    e->z_re = malloc(n * sizeof(double));
    e->z_im = malloc(n * sizeof(double));
    e->slot = malloc(n * sizeof(uint32_t));
    if (e->w_re == NULL || e->w_im == NULL || e->w3_re == NULL || e->w3_im == NULL ||
        e->z_re == NULL || e->z_im == NULL || e->slot == NULL) {
        henn__ckks_encoder_free(e);
        return HENN_ENOMEM;
    }
    memset(e->w3_re, 0, n * sizeof(double));
    memset(e->w3_im, 0, n * sizeof(double));
    e->w_re[0] = 1.0;
    e->w_im[0] = 0.0;
    /* exp(2 pi i j / 2h) = zeta^(j N / h) */
    for (size_t h = 1; h < n; h <<= 1) {
        for (size_t j = 0; j < h; j++)
            root_of_unity(&e->w_re[h + j], &e->w_im[h + j], j * (N / h), N);
        for (size_t j = 0; j < h / 2; j++)
            root_of_unity(&e->w3_re[h + j], &e->w3_im[h + j], 3 * j * (N / h), N);
    }
    for (size_t k = 0; k < n; k++)
        root_of_unity(&e->z_re[k], &e->z_im[k], k, N);
    unsigned logn = 0;
    while (((size_t)1 << logn) < n)
        logn++;
    size_t two_n = 2 * N, g = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t conj = 0;
        size_t g1 = g;
        if ((g & 3) == 3) {
            g1 = two_n - g; /* = 1 mod 4 */
            conj = SLOT_CONJ;
        }
        uint32_t t = (uint32_t)((g1 - 1) / 4);
        e->slot[i] = bit_reverse(t, logn) | conj;
        g = (g * 3) % two_n;
    }
    *enc = e;
    return 0;
}

/*
 * Forward transform (evaluation): X[brv(t)] = sum_k x_k w^(t k), w =
 * exp(2 pi i / n); natural order in, bit-reversed out. Gentleman-Sande
 * stages h = n/2, n/4, ..., 1 (butterfly (a, b) -> (a + b, (a - b)
 * w_2h^j)), two at a time as radix-4 butterflies: with x0..x3 at offsets
 * j, j + h/2, j + h, j + 3h/2 of a block of 2h, W1 = w_2h^j, W2 = w_h^j =
 * W1^2, W3 = W1^3 and w_2h^(h/2) = i:
 *   a0 = (x0 + x2) + (x1 + x3)         a1 = ((x0 + x2) - (x1 + x3)) W2
 *   a2 = ((x0 - x2) + i (x1 - x3)) W1  a3 = ((x0 - x2) - i (x1 - x3)) W3
 * A last radix-2 stage (h = 1, w = 1) when log2(n) is odd.
 */
static void fft_forward(const struct henn__ckks_encoder *e, double *restrict re,
                        double *restrict im)
{
    size_t n = e->n, h = n / 2;
    for (; h >= 4; h >>= 2) {
        size_t hh = h / 2;
        const double *w1r = e->w_re + h, *w1i = e->w_im + h;
        const double *w2r = e->w_re + hh, *w2i = e->w_im + hh;
        const double *w3r = e->w3_re + h, *w3i = e->w3_im + h;
        for (size_t s = 0; s < n; s += 2 * h) {
            double *r0 = re + s, *r1 = r0 + hh, *r2 = r0 + h, *r3 = r2 + hh;
            double *i0 = im + s, *i1 = i0 + hh, *i2 = i0 + h, *i3 = i2 + hh;
            for (size_t j = 0; j < hh; j++) {
                double sr = r0[j] + r2[j], si = i0[j] + i2[j];
                double dr = r0[j] - r2[j], di = i0[j] - i2[j];
                double tr = r1[j] + r3[j], ti = i1[j] + i3[j];
                double ur = r1[j] - r3[j], ui = i1[j] - i3[j];
                /* i (x1 - x3) = (-ui, ur) */
                double br = sr - tr, bi = si - ti;
                double cr = dr - ui, ci = di + ur;
                double fr = dr + ui, fi = di - ur;
                r0[j] = sr + tr;
                i0[j] = si + ti;
                r1[j] = br * w2r[j] - bi * w2i[j];
                i1[j] = br * w2i[j] + bi * w2r[j];
                r2[j] = cr * w1r[j] - ci * w1i[j];
                i2[j] = cr * w1i[j] + ci * w1r[j];
                r3[j] = fr * w3r[j] - fi * w3i[j];
                i3[j] = fr * w3i[j] + fi * w3r[j];
            }
        }
    }
    if (h == 2) {
        /* stages 2 and 1: all twiddles are 1 (and i) */
        for (size_t s = 0; s < n; s += 4) {
            double *r = re + s, *ii = im + s;
            double sr = r[0] + r[2], si = ii[0] + ii[2];
            double dr = r[0] - r[2], di = ii[0] - ii[2];
            double tr = r[1] + r[3], ti = ii[1] + ii[3];
            double ur = r[1] - r[3], ui = ii[1] - ii[3];
            r[0] = sr + tr;
            ii[0] = si + ti;
            r[1] = sr - tr;
            ii[1] = si - ti;
            r[2] = dr - ui;
            ii[2] = di + ur;
            r[3] = dr + ui;
            ii[3] = di - ur;
        }
    } else if (h == 1) {
        for (size_t s = 0; s < n; s += 2) {
            double xr = re[s], xi = im[s], yr = re[s + 1], yi = im[s + 1];
            re[s] = xr + yr;
            im[s] = xi + yi;
            re[s + 1] = xr - yr;
            im[s + 1] = xi - yi;
        }
    }
}

/*
 * Inverse transform without the 1/n: x_k = sum_t X[brv(t)] w^(-t k);
 * bit-reversed order in, natural out. Undoes fft_forward pass by pass, up
 * to the factor n: with b1 = a1 conj(W2), b2 = a2 conj(W1), b3 = a3
 * conj(W3),
 *   4 x0 = (a0 + b1) + (b2 + b3)       4 x2 = (a0 + b1) - (b2 + b3)
 *   4 x1 = (a0 - b1) - i (b2 - b3)     4 x3 = (a0 - b1) + i (b2 - b3)
 */
static void fft_inverse(const struct henn__ckks_encoder *e, double *restrict re,
                        double *restrict im)
{
    size_t n = e->n, logn = 0;
    while (((size_t)1 << logn) < n)
        logn++;
    size_t h;
    if (logn & 1) {
        for (size_t s = 0; s < n; s += 2) {
            double xr = re[s], xi = im[s], yr = re[s + 1], yi = im[s + 1];
            re[s] = xr + yr;
            im[s] = xi + yi;
            re[s + 1] = xr - yr;
            im[s + 1] = xi - yi;
        }
        h = 4; /* next: stages 4 and 2 */
    } else {
        for (size_t s = 0; n >= 4 && s < n; s += 4) {
            double *r = re + s, *ii = im + s;
            double pr = r[0] + r[1], pi = ii[0] + ii[1];
            double mr = r[0] - r[1], mi = ii[0] - ii[1];
            double qr = r[2] + r[3], qi = ii[2] + ii[3];
            double vr = r[2] - r[3], vi = ii[2] - ii[3];
            /* -i v = (vi, -vr), +i v = (-vi, vr) */
            r[0] = pr + qr;
            ii[0] = pi + qi;
            r[2] = pr - qr;
            ii[2] = pi - qi;
            r[1] = mr + vi;
            ii[1] = mi - vr;
            r[3] = mr - vi;
            ii[3] = mi + vr;
        }
        h = 8; /* next: stages 8 and 4 */
    }
    for (; h <= n / 2; h <<= 2) {
        size_t hh = h / 2;
        const double *w1r = e->w_re + h, *w1i = e->w_im + h;
        const double *w2r = e->w_re + hh, *w2i = e->w_im + hh;
        const double *w3r = e->w3_re + h, *w3i = e->w3_im + h;
        for (size_t s = 0; s < n; s += 2 * h) {
            double *r0 = re + s, *r1 = r0 + hh, *r2 = r0 + h, *r3 = r2 + hh;
            double *i0 = im + s, *i1 = i0 + hh, *i2 = i0 + h, *i3 = i2 + hh;
            for (size_t j = 0; j < hh; j++) {
                double b1r = r1[j] * w2r[j] + i1[j] * w2i[j];
                double b1i = i1[j] * w2r[j] - r1[j] * w2i[j];
                double b2r = r2[j] * w1r[j] + i2[j] * w1i[j];
                double b2i = i2[j] * w1r[j] - r2[j] * w1i[j];
                double b3r = r3[j] * w3r[j] + i3[j] * w3i[j];
                double b3i = i3[j] * w3r[j] - r3[j] * w3i[j];
                double pr = r0[j] + b1r, pi = i0[j] + b1i;
                double mr = r0[j] - b1r, mi = i0[j] - b1i;
                double qr = b2r + b3r, qi = b2i + b3i;
                double vr = b2r - b3r, vi = b2i - b3i;
                r0[j] = pr + qr;
                i0[j] = pi + qi;
                r2[j] = pr - qr;
                i2[j] = pi - qi;
                r1[j] = mr + vi;
                i1[j] = mi - vr;
                r3[j] = mr - vi;
                i3[j] = mi + vr;
            }
        }
    }
}

/*
 * Slots to coefficients: coeffs[0..N) = factor * m, m the real polynomial
 * whose slot i is z_i (z_i = vals[2i] + i vals[2i+1] for complex input,
 * vals[i] for real input, 0 for i >= count).
 */
static void slots_to_coeffs(const struct henn__ckks_encoder *e, double *coeffs,
                            const double *vals, size_t count, int complex_in, double factor)
{
    size_t n = e->n;
    double *re = coeffs, *im = coeffs + n;
    memset(coeffs, 0, 2 * n * sizeof(double));
    for (size_t i = 0; i < count; i++) {
        uint32_t p = e->slot[i] & SLOT_POS;
        double vr = complex_in ? vals[2 * i] : vals[i];
        double vi = complex_in ? vals[2 * i + 1] : 0.0;
        re[p] = vr;
        im[p] = (e->slot[i] & SLOT_CONJ) ? -vi : vi;
    }
    fft_inverse(e, re, im);
    /* v_k = u_k zeta^-k / n, times the factor; m_k = Re v_k, m_{k+n} = Im */
    double f = factor / (double)n;
    const double *zr = e->z_re, *zi = e->z_im;
    for (size_t k = 0; k < n; k++) {
        double ur = re[k], ui = im[k];
        re[k] = (ur * zr[k] + ui * zi[k]) * f;
        im[k] = (ui * zr[k] - ur * zi[k]) * f;
    }
}

/*
 * Coefficients to slots: coeffs[0..N) is replaced by work data; the first
 * count slots of factor * sum coeffs_k X^k go to out (complex: re_im pairs;
 * real: real parts).
 */
static void coeffs_to_slots(const struct henn__ckks_encoder *e, double *out, size_t count,
                            int complex_out, double *coeffs, double factor)
{
    size_t n = e->n;
    double *re = coeffs, *im = coeffs + n;
    const double *zr = e->z_re, *zi = e->z_im;
    for (size_t k = 0; k < n; k++) {
        double vr = re[k] * factor, vi = im[k] * factor;
        re[k] = vr * zr[k] - vi * zi[k];
        im[k] = vr * zi[k] + vi * zr[k];
    }
    fft_forward(e, re, im);
    for (size_t i = 0; i < count; i++) {
        uint32_t p = e->slot[i] & SLOT_POS;
        if (complex_out) {
            out[2 * i] = re[p];
            out[2 * i + 1] = (e->slot[i] & SLOT_CONJ) ? -im[p] : im[p];
        } else {
            out[i] = re[p];
        }
    }
}

void henn__ckks_slots_to_coeffs(const struct henn__ckks_encoder *enc, double *coeffs,
                                const double *re_im, size_t count, double factor)
{
    slots_to_coeffs(enc, coeffs, re_im, count, 1, factor);
}

void henn__ckks_coeffs_to_slots(const struct henn__ckks_encoder *enc, double *re_im,
                                size_t count, double *coeffs, double factor)
{
    coeffs_to_slots(enc, re_im, count, 1, coeffs, factor);
}

/* ---- encoding ----------------------------------------------------------- */

/* x rounded to the nearest integer, ties away from zero, for |x| < 2^63
 * (exact: x - trunc(x) is representable). */
static int64_t round_i64(double x)
{
    int64_t t = (int64_t)x;
    double f = x - (double)t;
    return t + (int64_t)(f >= 0.5) - (int64_t)(f <= -0.5);
}

static int encode(henn_ckks_pt *pt, const henn_ckks_params *params, const double *vals,
                  size_t count, int complex_in, double scale, size_t level)
{
    double *buf = NULL;
    size_t N = 0;
    int rc;

    if (pt == NULL)
        return HENN_EINVAL;
    if (params == NULL || params->tables == NULL || params->tables->enc == NULL ||
        params->tables->enc->N != params->N || level >= params->L || (count > 0 && vals == NULL) ||
        count > params->N / 2 || !(scale > 0.0) || !isfinite(scale)) {
        rc = HENN_EINVAL;
        goto cleanup;
    }
    const struct henn__ckks_tables *tb = params->tables;
    const struct henn__ckks_encoder *e = tb->enc;
    N = params->N;
    for (size_t i = 0; i < (complex_in ? 2 * count : count); i++) {
        if (!isfinite(vals[i])) {
            rc = HENN_EINVAL;
            goto cleanup;
        }
    }
    buf = malloc(N * sizeof(double));
    if (buf == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    slots_to_coeffs(e, buf, vals, count, complex_in, scale);

    /* Round in place (integers in doubles) and find the largest |c|. */
    const double two63 = 9223372036854775808.0, two126 = ldexp(1.0, 126);
    double maxabs = 0.0;
    for (size_t k = 0; k < N; k++) {
        double x = buf[k], a = fabs(x);
        if (!(a < two126)) { /* also NaN and infinity */
            rc = HENN_ERANGE;
            goto cleanup;
        }
        if (a < two63)
            x = (double)round_i64(x); /* larger doubles are integers */
        buf[k] = x;
        a = fabs(x);
        if (a > maxabs)
            maxabs = a;
    }
    /* |c| <= (Q_level - 1) / 2 (Q_level odd); when Q_level >= 2^128 the
     * 2^126 bound above is the stricter one. */
    henn__u128 Q = 1;
    int q_big = 0;
    for (size_t i = 0; i <= level; i++) {
        uint64_t q = params->q[i];
        if (Q > ~(henn__u128)0 / q) {
            q_big = 1;
            break;
        }
        Q *= q;
    }
    if (!q_big && (henn__u128)maxabs > (Q - 1) / 2) {
        rc = HENN_ERANGE;
        goto cleanup;
    }

    rc = henn__ckks_pt_reserve(pt, params, level, scale);
    if (rc != 0)
        goto cleanup;
    int small = maxabs < two63;
    uint64_t maxc = small ? (uint64_t)maxabs : UINT64_MAX;
    for (size_t i = 0; i <= level; i++) {
        const henn__ckks_mod *m = &tb->mod[i];
        uint64_t q = m->q, *dst = pt->data + i * N;
        if (maxc < q) {
            /* |c| < q: add q to negative values */
            for (size_t k = 0; k < N; k++) {
                int64_t c = (int64_t)buf[k];
                uint64_t neg = (uint64_t)0 - (uint64_t)(c < 0);
                dst[k] = (uint64_t)c + (q & neg);
            }
        } else if (small) {
            for (size_t k = 0; k < N; k++) {
                int64_t c = (int64_t)buf[k];
                uint64_t neg = (uint64_t)0 - (uint64_t)(c < 0);
                uint64_t a = ((uint64_t)c ^ neg) - neg; /* |c| */
                uint64_t r = henn__ckks_reduce_64(a, m);
                dst[k] = (henn__ckks_neg_mod(r, q) & neg) | (r & ~neg);
            }
        } else {
            for (size_t k = 0; k < N; k++) {
                double x = buf[k];
                henn__u128 a = (henn__u128)fabs(x); /* exact: an integer below 2^126 */
                uint64_t r = henn__ckks_reduce_128(a, m);
                uint64_t neg = (uint64_t)0 - (uint64_t)(x < 0);
                dst[k] = (henn__ckks_neg_mod(r, q) & neg) | (r & ~neg);
            }
        }
        henn__ckks_ntt_forward(dst, &tb->ntt[i]);
    }
    rc = 0;

cleanup:
    if (buf != NULL)
        henn_free(buf, N * sizeof(double));
    if (rc != 0)
        henn_ckks_pt_clear(pt);
    return rc;
}

int henn_ckks_encode(henn_ckks_pt *pt, const henn_ckks_params *params, const double *values,
                     size_t count, double scale, size_t level)
{
    return encode(pt, params, values, count, 0, scale, level);
}

int henn_ckks_encode_complex(henn_ckks_pt *pt, const henn_ckks_params *params,
                             const double *re_im, size_t count, double scale, size_t level)
{
    return encode(pt, params, re_im, count, 1, scale, level);
}

/* ---- decoding ----------------------------------------------------------- */

/* Garner constants for primes q_0..q_{k-1}: for i < j, q_i^-1 mod q_j (with
 * its Shoup constant) and a multiple of q_j that is >= q_i, indexed
 * i * k + j. */
typedef struct garner {
    size_t k;
    uint64_t *inv, *inv_shoup, *lift;
} garner;

static void garner_clear(garner *g)
{
    free(g->inv);
    free(g->inv_shoup);
    free(g->lift);
}

static int garner_init(garner *g, const henn_ckks_params *params, size_t k)
{
    g->k = k;
    g->inv = calloc(k * k, sizeof(uint64_t));
    g->inv_shoup = calloc(k * k, sizeof(uint64_t));
    g->lift = calloc(k * k, sizeof(uint64_t));
    if (g->inv == NULL || g->inv_shoup == NULL || g->lift == NULL) {
        garner_clear(g);
        return HENN_ENOMEM;
    }
    for (size_t j = 1; j < k; j++) {
        const henn__ckks_mod *m = &params->tables->mod[j];
        uint64_t qj = m->q;
        for (size_t i = 0; i < j; i++) {
            uint64_t qi = params->q[i];
            uint64_t v = henn__ckks_inv_mod(henn__ckks_reduce_64(qi, m), m);
            g->inv[i * k + j] = v;
            g->inv_shoup[i * k + j] = henn__ckks_shoup(v, qj);
            g->lift[i * k + j] = qj * ((qi + qj - 1) / qj); /* < qi + qj < 2^62 */
        }
    }
    return 0;
}

/*
 * The centred value of the coefficient with residues r[j * stride], j < k,
 * as a long double: Garner's digits d_j (X = sum d_j q_0...q_{j-1}, 0 <= X <
 * Q), X > (Q-1)/2 decided on the digits from the top, then Horner on the
 * digits of X or of Q - X (whose digits are q_j - 1 - d_j, plus one). All
 * digits are below 2^61, so they convert as signed integers. d: k words of
 * work space. Inlined with a constant k for the common small levels.
 */
static inline __attribute__((always_inline)) long double
crt_centred(uint64_t *d, const uint64_t *r, size_t stride, const uint64_t *q, const garner *g,
            size_t k)
{
    d[0] = r[0];
    for (size_t j = 1; j < k; j++) {
        uint64_t t = r[j * stride], qj = q[j];
        for (size_t i = 0; i < j; i++) {
            size_t ij = i * k + j;
            t = henn__ckks_mul_shoup(t + g->lift[ij] - d[i], g->inv[ij], g->inv_shoup[ij], qj);
        }
        d[j] = t;
    }
    uint64_t decided = 0, gt = 0;
    for (size_t j = k; j-- > 0;) {
        uint64_t h = q[j] >> 1;
        uint64_t above = (uint64_t)0 - (uint64_t)(d[j] > h);
        uint64_t differ = (uint64_t)0 - (uint64_t)(d[j] != h);
        gt |= ~decided & above;
        decided |= differ;
    }
    long double v = 0.0L;
    for (size_t j = k; j-- > 0;) {
        uint64_t e = (((q[j] - 1 - d[j]) + (j == 0)) & gt) | (d[j] & ~gt);
        v = v * (long double)(int64_t)q[j] + (long double)(int64_t)e;
    }
    return v * (long double)(1 - 2 * (int)(gt & 1)); /* no branch on the sign */
}

/* buf[c] = centred coefficient c / scale for c < N, k limbs. */
static void crt_all(double *buf, const uint64_t *limbs, size_t N, const uint64_t *q,
                    const garner *g, long double inv_scale)
{
    size_t k = g->k;
    uint64_t d[HENN_CKKS_MAX_PRIMES];
    if (k == 2) {
        for (size_t c = 0; c < N; c++)
            buf[c] = (double)(crt_centred(d, limbs + c, N, q, g, 2) * inv_scale);
    } else if (k == 3) {
        for (size_t c = 0; c < N; c++)
            buf[c] = (double)(crt_centred(d, limbs + c, N, q, g, 3) * inv_scale);
    } else if (k == 4) {
        for (size_t c = 0; c < N; c++)
            buf[c] = (double)(crt_centred(d, limbs + c, N, q, g, 4) * inv_scale);
    } else {
        for (size_t c = 0; c < N; c++)
            buf[c] = (double)(crt_centred(d, limbs + c, N, q, g, k) * inv_scale);
    }
    henn_memzero(d, sizeof(d));
}

static int decode(double *out, size_t count, int complex_out, const henn_ckks_pt *pt)
{
    uint64_t *limbs = NULL;
    double *buf = NULL;
    garner g = {0, NULL, NULL, NULL};
    size_t N = 0, k = 0;
    int rc;

    if (out == NULL && count > 0)
        return HENN_EINVAL;
    const henn_ckks_params *params = pt != NULL ? pt->params : NULL;
    if (pt == NULL || params == NULL || params->tables == NULL || params->tables->enc == NULL ||
        params->tables->enc->N != params->N || pt->data == NULL || pt->level >= params->L ||
        pt->alloc < (pt->level + 1) * params->N || count > params->N / 2 ||
        !(pt->scale > 0.0) || !isfinite(pt->scale)) {
        rc = HENN_EINVAL;
        goto cleanup;
    }
    const struct henn__ckks_tables *tb = params->tables;
    N = params->N;
    k = pt->level + 1;
    limbs = malloc(k * N * sizeof(uint64_t));
    buf = malloc(N * sizeof(double));
    if (limbs == NULL || buf == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    memcpy(limbs, pt->data, k * N * sizeof(uint64_t));
    for (size_t j = 0; j < k; j++)
        henn__ckks_ntt_inverse(limbs + j * N, &tb->ntt[j]);

    if (k == 1) {
        uint64_t q = params->q[0], h = q >> 1;
        for (size_t c = 0; c < N; c++) {
            uint64_t r = limbs[c];
            uint64_t neg = (uint64_t)0 - (uint64_t)(r > h);
            buf[c] = (double)(int64_t)(r - (q & neg));
        }
        coeffs_to_slots(tb->enc, out, count, complex_out, buf, 1.0 / pt->scale);
    } else {
        rc = garner_init(&g, params, k);
        if (rc != 0)
            goto cleanup;
        crt_all(buf, limbs, N, params->q, &g, 1.0L / (long double)pt->scale);
        coeffs_to_slots(tb->enc, out, count, complex_out, buf, 1.0);
    }
    rc = 0;

cleanup:
    if (limbs != NULL)
        henn_free(limbs, k * N * sizeof(uint64_t));
    if (buf != NULL)
        henn_free(buf, N * sizeof(double));
    garner_clear(&g);
    if (rc != 0 && out != NULL && params != NULL && count <= params->N / 2)
        memset(out, 0, (complex_out ? 2 : 1) * count * sizeof(double));
    return rc;
}

int henn_ckks_decode(double *values, size_t count, const henn_ckks_pt *pt)
{
    return decode(values, count, 0, pt);
}

int henn_ckks_decode_complex(double *re_im, size_t count, const henn_ckks_pt *pt)
{
    return decode(re_im, count, 1, pt);
}
