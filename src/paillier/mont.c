/*
 * Montgomery multiplication (Montgomery 1985) modulo an odd m on GMP's
 * public mpn layer: schoolbook/Karatsuba product by mpn_mul_n, then
 * word-by-word reduction with mpn_addmul_1.
 */
#include <stdlib.h>

#include "paillier_internal.h"

int henn__mont_init(henn__mont *mt, const mpz_t m)
{
    size_t count = 0;
    mp_limb_t inv = 1;
    int k;
    memset(mt, 0, sizeof(*mt));
    if (mpz_sgn(m) <= 0 || mpz_even_p(m))
        return HENN_EINVAL;
    mt->nl = (mp_size_t)mpz_size(m);
    mt->m = calloc((size_t)mt->nl, sizeof(mp_limb_t));
    if (mt->m == NULL)
        return HENN_ENOMEM;
    mpz_export(mt->m, &count, -1, sizeof(mp_limb_t), 0, 0, m);
    /* Newton iteration for m[0]^-1 mod 2^64 (each step doubles the bits). */
    for (k = 0; k < 7; k++)
        inv *= 2 - mt->m[0] * inv;
    mt->minv = (mp_limb_t)0 - inv;
    return 0;
}

void henn__mont_clear(henn__mont *mt)
{
    free(mt->m);
    memset(mt, 0, sizeof(*mt));
}

/* r = t / R mod m for t < m R; t[0..2nl) is destroyed. */
static void redc(const henn__mont *mt, mp_limb_t *r, mp_limb_t *t)
{
    mp_size_t i, nl = mt->nl;
    mp_limb_t cy;
    for (i = 0; i < nl; i++) {
        mp_limb_t q = t[i] * mt->minv;
        /* t[i] + q m[0] == 0 mod 2^64; keep the carry in the freed limb. */
        t[i] = mpn_addmul_1(t + i, mt->m, nl, q);
    }
    cy = mpn_add_n(r, t + nl, t, nl);
    if (cy != 0 || mpn_cmp(r, mt->m, nl) >= 0)
        mpn_sub_n(r, r, mt->m, nl);
}

void henn__mont_mul(const henn__mont *mt, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
                    mp_limb_t *t)
{
    if (a == b)
        mpn_sqr(t, a, mt->nl);
    else
        mpn_mul_n(t, a, b, mt->nl);
    redc(mt, r, t);
}

void henn__mont_to(const henn__mont *mt, mp_limb_t *dst, const mpz_t x, mpz_t tmp)
{
    mpz_t mview;
    size_t count = 0;
    mpz_mul_2exp(tmp, x, (mp_bitcnt_t)(64 * mt->nl));
    mpz_mod(tmp, tmp, mpz_roinit_n(mview, mt->m, mt->nl));
    memset(dst, 0, (size_t)mt->nl * sizeof(mp_limb_t));
    mpz_export(dst, &count, -1, sizeof(mp_limb_t), 0, 0, tmp);
}

void henn__mont_from(const henn__mont *mt, mpz_t r, const mp_limb_t *a, mp_limb_t *t)
{
    /* redc may write its result over the upper half it reads (mpn_add_n
     * allows rp == up). */
    memcpy(t, a, (size_t)mt->nl * sizeof(mp_limb_t));
    memset(t + mt->nl, 0, (size_t)mt->nl * sizeof(mp_limb_t));
    redc(mt, t + mt->nl, t);
    mpz_import(r, (size_t)mt->nl, -1, sizeof(mp_limb_t), 0, 0, t + mt->nl);
}
