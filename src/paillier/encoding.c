/*
 * python-paillier's EncodedNumber rules (phe 1.5, phe/encoding.py) in exact
 * integer arithmetic: value = mantissa * 16^exponent.
 */
#include <math.h>

#include "paillier_internal.h"

/* Exponents are kept within this range so that 4 * exponent and sums of two
 * exponents cannot overflow. */
#define EXP_LIMIT (1 << 24)

static long floor_div4(long a)
{
    return a >= 0 ? a / 4 : -((-a + 3) / 4);
}

/* mantissa bound check and storage: encoding = M mod n. */
static int store(henn_paillier_pt *pt, const henn_paillier_pk *pk, const mpz_t m, int exponent)
{
    if (mpz_cmpabs(m, pk->max_int) > 0)
        return HENN_ERANGE;
    mpz_mod(pt->encoding, m, pk->n);
    pt->exponent = exponent;
    return 0;
}

int henn_paillier_encode_double_exp(henn_paillier_pt *pt, const henn_paillier_pk *pk, double x,
                                    int exponent)
{
    int e2, rc;
    double frac;
    int64_t mant;
    long shift;
    mpz_t m;

    if (!isfinite(x))
        return HENN_EINVAL;
    if (exponent > EXP_LIMIT || exponent < -EXP_LIMIT)
        return HENN_ERANGE;
    frac = frexp(x, &e2);                    /* x = frac * 2^e2, 0.5 <= |frac| < 1 */
    mant = (int64_t)ldexp(frac, 53);         /* exact: |mant| < 2^53 */
    shift = (long)e2 - 53 - 4L * exponent;   /* x * 16^-exponent = mant * 2^shift */
    mpz_init(m);
    if (mant == 0) {
        mpz_set_ui(m, 0);
    } else if (shift >= 0) {
        /* |M| >= 2^(shift + 52): refuse before allocating a huge number. */
        if ((size_t)shift + 52 > pk->n_bits) {
            mpz_clear(m);
            return HENN_ERANGE;
        }
        mpz_set_si(m, (long)mant);
        mpz_mul_2exp(m, m, (mp_bitcnt_t)shift);
    } else if (-shift > 60) {
        mpz_set_ui(m, 0); /* |mant| / 2^61 < 1/2 in magnitude: rounds to 0 */
    } else {
        /* round(mant / 2^s), ties to even (Python's round of a Fraction). */
        unsigned s = (unsigned)(-shift);
        int neg = mant < 0;
        uint64_t a = neg ? (uint64_t)(-mant) : (uint64_t)mant;
        uint64_t q = a >> s, rem = a & ((UINT64_C(1) << s) - 1), half = UINT64_C(1) << (s - 1);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        mpz_set_ui(m, (unsigned long)q);
        if (neg)
            mpz_neg(m, m);
    }
    rc = store(pt, pk, m, exponent);
    mpz_clear(m);
    return rc;
}

int henn_paillier_encode_double(henn_paillier_pt *pt, const henn_paillier_pk *pk, double x,
                                int max_exponent)
{
    int e2;
    long exponent;
    if (!isfinite(x))
        return HENN_EINVAL;
    (void)frexp(x, &e2);
    exponent = floor_div4((long)e2 - 53);
    if (max_exponent < exponent)
        exponent = max_exponent;
    if (exponent < -EXP_LIMIT)
        return HENN_ERANGE;
    return henn_paillier_encode_double_exp(pt, pk, x, (int)exponent);
}

int henn_paillier_encode_int64(henn_paillier_pt *pt, const henn_paillier_pk *pk, int64_t v,
                               int max_exponent)
{
    int exponent = max_exponent < 0 ? max_exponent : 0, rc;
    mpz_t m, f;
    if (exponent < -EXP_LIMIT)
        return HENN_ERANGE;
    mpz_inits(m, f, NULL);
    mpz_set_si(m, (long)v);
    if (exponent < 0) {
        if ((size_t)(-exponent) * 4 > pk->n_bits) {
            rc = v == 0 ? store(pt, pk, m, exponent) : HENN_ERANGE;
            goto cleanup;
        }
        mpz_ui_pow_ui(f, HENN_PAILLIER_BASE, (unsigned long)(-exponent));
        mpz_mul(m, m, f);
    }
    rc = store(pt, pk, m, exponent);
cleanup:
    henn__mpz_wipe_clear(m);
    mpz_clear(f);
    return rc;
}

int henn_paillier_encode_mpz(henn_paillier_pt *pt, const henn_paillier_pk *pk, const mpz_t v)
{
    return store(pt, pk, v, 0);
}

int henn_paillier_decode_mantissa(mpz_t mantissa, const henn_paillier_pk *pk,
                                  const henn_paillier_pt *pt)
{
    mpz_t t;
    int rc = 0;
    if (mpz_sgn(pt->encoding) < 0 || mpz_cmp(pt->encoding, pk->n) >= 0)
        return HENN_EFORMAT; /* python-paillier: "Attempted to decode corrupted number" */
    if (mpz_cmp(pt->encoding, pk->max_int) <= 0) {
        mpz_set(mantissa, pt->encoding);
        return 0;
    }
    mpz_init(t);
    mpz_sub(t, pk->n, pk->max_int);
    if (mpz_cmp(pt->encoding, t) >= 0)
        mpz_sub(mantissa, pt->encoding, pk->n);
    else
        rc = HENN_ERANGE; /* python-paillier: OverflowError */
    mpz_clear(t);
    return rc;
}

/* Nearest double to m * 2^e2 (ties to even), as Python's int / int and
 * float(int). HENN_ERANGE when it overflows. */
static int mpz_to_double_scaled(double *out, const mpz_t m, long e2)
{
    mpz_t a;
    size_t len;
    long top, prec, shift;
    uint64_t q;
    double r;
    int neg = mpz_sgn(m) < 0;

    if (mpz_sgn(m) == 0) {
        *out = 0.0;
        return 0;
    }
    len = mpz_sizeinbase(m, 2);
    top = (long)len - 1 + e2; /* |value| in [2^top, 2^(top+1)) */
    if (top > 1024) 
        return HENN_ERANGE;
    if (top < -1075 - 1) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    prec = top >= -1022 ? 53 : 53 - (-1022 - top); /* subnormals lose bits */
    shift = (long)len - prec;
    mpz_init(a);
    mpz_abs(a, m);
    if (shift <= 0) {
        q = (uint64_t)mpz_get_ui(a); /* len <= prec <= 53 bits: fits */
        r = ldexp((double)q, (int)e2);
    } else {
        int round_bit = mpz_tstbit(a, (mp_bitcnt_t)(shift - 1));
        int sticky = shift >= 2 && mpz_scan1(a, 0) < (mp_bitcnt_t)(shift - 1);
        mpz_fdiv_q_2exp(a, a, (mp_bitcnt_t)shift);
        q = (uint64_t)mpz_get_ui(a);
        if (round_bit && (sticky || (q & 1u)))
            q++;
        r = ldexp((double)q, (int)(e2 + shift));
    }
    mpz_clear(a);
    if (isinf(r))
        return HENN_ERANGE;
    *out = neg ? -r : r;
    return 0;
}

int henn_paillier_decode_double(double *x, const henn_paillier_pk *pk,
                                const henn_paillier_pt *pt)
{
    mpz_t m;
    int rc;
    if (pt->exponent > EXP_LIMIT || pt->exponent < -EXP_LIMIT)
        return HENN_ERANGE;
    mpz_init(m);
    rc = henn_paillier_decode_mantissa(m, pk, pt);
    if (rc == 0)
        rc = mpz_to_double_scaled(x, m, 4L * pt->exponent);
    henn__mpz_wipe_clear(m);
    return rc;
}

int henn_paillier_decode_int64(int64_t *v, const henn_paillier_pk *pk, const henn_paillier_pt *pt)
{
    mpz_t m;
    int rc;
    mpz_init(m);
    rc = henn_paillier_decode_mantissa(m, pk, pt);
    if (rc != 0)
        goto cleanup;
    if (pt->exponent >= 0) {
        if (pt->exponent > 16 && mpz_sgn(m) != 0) {
            rc = HENN_ERANGE;
            goto cleanup;
        }
        mpz_mul_2exp(m, m, (mp_bitcnt_t)(4 * pt->exponent));
    } else {
        long bits = -4L * pt->exponent;
        if (mpz_sgn(m) != 0 && (long)mpz_scan1(m, 0) < bits) {
            rc = HENN_ERANGE; /* not an integer */
            goto cleanup;
        }
        if (mpz_sgn(m) != 0)
            mpz_tdiv_q_2exp(m, m, (mp_bitcnt_t)bits);
    }
    if (!mpz_fits_slong_p(m)) {
        rc = HENN_ERANGE;
        goto cleanup;
    }
    *v = (int64_t)mpz_get_si(m);
cleanup:
    henn__mpz_wipe_clear(m);
    return rc;
}

/* Stricter than python-paillier 1.5, whose EncodedNumber.decrease_exponent_to
 * reduces mantissa * 16^d mod n without a check: here the mantissa is
 * visible, so the new one must stay within [-max_int, max_int]. */
int henn_paillier_pt_decrease_exponent(henn_paillier_pt *pt, const henn_paillier_pk *pk,
                                       int new_exponent)
{
    long d = (long)pt->exponent - (long)new_exponent;
    mpz_t m;
    int rc;
    if (d < 0)
        return HENN_EINVAL;
    if (d == 0)
        return 0;
    mpz_init(m);
    rc = henn_paillier_decode_mantissa(m, pk, pt);
    if (rc == 0 && mpz_sgn(m) != 0) {
        /* |m| 16^d > max_int, tested on sizes first so that d is bounded */
        size_t mbits = mpz_sizeinbase(m, 2), lim = mpz_sizeinbase(pk->max_int, 2);
        if ((size_t)d > lim / 4 + 1 || mbits + 4 * (size_t)d - 1 > lim) {
            rc = HENN_ERANGE;
        } else {
            mpz_mul_2exp(m, m, (mp_bitcnt_t)(4 * d));
            rc = store(pt, pk, m, new_exponent);
        }
    } else if (rc == 0) {
        pt->exponent = new_exponent;
    }
    henn__mpz_wipe_clear(m);
    return rc;
}
