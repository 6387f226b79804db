/*
 * Fixed-base exponentiation h_s^a mod n^2 for the DJN encryption path
 * (Damgard-Jurik-Nielsen 2010, section 4.2; Brickell-Gordon-McCurley-Wilson
 * style per-position tables).
 *
 * a is cut into w-bit digits a = sum_j d_j 2^(w j). For every digit
 * position j the table holds T[j][d] = h_s^(d 2^(w j)) * R mod n^2 for
 * d = 1 .. 2^w - 1, in Montgomery form (R = 2^(64 L), L limbs of n^2).
 * Then h_s^a = prod_j T[j][d_j], one Montgomery multiplication per non-zero
 * digit and no squarings. Montgomery reduction uses only GMP's public mpn
 * layer (mpn_mul_n, mpn_addmul_1).
 *
 * Timing: the table index and the number of multiplications depend on a
 * (see the warning on henn_paillier_encrypt).
 */
#include <stdlib.h>

#include "paillier_internal.h"

struct henn__paillier_fbtab {
    unsigned w;
    size_t positions;
    mp_size_t nl;     /* limbs of n^2 */
    mp_limb_t minv;   /* -(n^2)^-1 mod 2^64 */
    mp_limb_t *m;     /* n^2, nl limbs */
    mp_limb_t *tab;   /* positions * (2^w - 1) * nl limbs */
};

/* Montgomery reduction of t[0..2nl) into r[0..nl): r = t / R mod m,
 * for t < m * R. t is destroyed. */
static void redc(mp_limb_t *r, mp_limb_t *t, const mp_limb_t *m, mp_size_t nl, mp_limb_t minv)
{
    mp_limb_t cy;
    mp_size_t i;
    for (i = 0; i < nl; i++) {
        mp_limb_t q = t[i] * minv;
        /* t[i] + q*m[0] == 0 mod 2^64; keep the carry in the freed limb. */
        t[i] = mpn_addmul_1(t + i, m, nl, q);
    }
    cy = mpn_add_n(r, t + nl, t, nl);
    if (cy != 0 || mpn_cmp(r, m, nl) >= 0)
        mpn_sub_n(r, r, m, nl);
}

/* r = a * b / R mod m (r may alias a or b); t: scratch of 2nl limbs. */
static void mont_mul(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, mp_limb_t *t,
                     const struct henn__paillier_fbtab *tb)
{
    mpn_mul_n(t, a, b, tb->nl);
    redc(r, t, tb->m, tb->nl, tb->minv);
}

static void to_limbs(mp_limb_t *dst, mp_size_t nl, const mpz_t x)
{
    size_t count = 0;
    memset(dst, 0, (size_t)nl * sizeof(mp_limb_t));
    mpz_export(dst, &count, -1, sizeof(mp_limb_t), 0, 0, x);
}

void henn__paillier_fbtab_free(struct henn__paillier_fbtab *t)
{
    if (t == NULL)
        return;
    free(t->m);
    free(t->tab);
    free(t);
}

int henn__paillier_fbtab_build(struct henn__paillier_fbtab **out, const mpz_t hs, const mpz_t n2,
                               size_t a_bits, unsigned w)
{
    struct henn__paillier_fbtab *t;
    size_t per, j, d, entries;
    mp_limb_t *scratch = NULL, inv;
    mpz_t x;
    int rc = HENN_ENOMEM, k;

    *out = NULL;
    if (w < 2 || w > 12 || a_bits == 0 || mpz_even_p(n2))
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    mpz_init(x);
    t->w = w;
    t->positions = (a_bits + w - 1) / w;
    t->nl = (mp_size_t)mpz_size(n2);
    per = ((size_t)1 << w) - 1;
    entries = t->positions * per;
    t->m = malloc((size_t)t->nl * sizeof(mp_limb_t));
    t->tab = malloc(entries * (size_t)t->nl * sizeof(mp_limb_t));
    scratch = malloc(2 * (size_t)t->nl * sizeof(mp_limb_t));
    if (t->m == NULL || t->tab == NULL || scratch == NULL)
        goto cleanup;
    to_limbs(t->m, t->nl, n2);
    /* Newton iteration for m[0]^-1 mod 2^64 (each step doubles the bits). */
    inv = 1;
    for (k = 0; k < 7; k++)
        inv *= 2 - t->m[0] * inv;
    t->minv = (mp_limb_t)0 - inv;

    /* T[0][1] = h_s * R mod n^2. */
    mpz_mul_2exp(x, hs, (mp_bitcnt_t)(64 * t->nl));
    mpz_mod(x, x, n2);
    to_limbs(t->tab, t->nl, x);
    for (j = 0; j < t->positions; j++) {
        mp_limb_t *row = t->tab + j * per * (size_t)t->nl;
        for (d = 2; d <= per; d++)
            mont_mul(row + (d - 1) * (size_t)t->nl, row + (d - 2) * (size_t)t->nl, row, scratch,
                     t);
        if (j + 1 < t->positions) /* T[j+1][1] = T[j][2^w - 1] * T[j][1] */
            mont_mul(row + per * (size_t)t->nl, row + (per - 1) * (size_t)t->nl, row, scratch, t);
    }
    *out = t;
    t = NULL;
    rc = 0;
cleanup:
    free(scratch);
    mpz_clear(x);
    henn__paillier_fbtab_free(t);
    return rc;
}

int henn__paillier_fbtab_pow(mpz_t r, const struct henn__paillier_fbtab *t, const mpz_t a)
{
    mp_size_t nl = t->nl;
    size_t per = ((size_t)1 << t->w) - 1, j;
    mp_limb_t *acc, *tmp;
    int have = 0;

    if (mpz_sgn(a) < 0 || mpz_sizeinbase(a, 2) > t->positions * t->w)
        return HENN_EINVAL;
    acc = malloc(3 * (size_t)nl * sizeof(mp_limb_t));
    if (acc == NULL)
        return HENN_ENOMEM;
    tmp = acc + nl;
    for (j = 0; j < t->positions; j++) {
        size_t d = 0;
        unsigned b;
        for (b = 0; b < t->w; b++)
            d |= (size_t)mpz_tstbit(a, (mp_bitcnt_t)(j * t->w + b)) << b;
        if (d == 0)
            continue;
        const mp_limb_t *e = t->tab + (j * per + d - 1) * (size_t)nl;
        if (!have) {
            memcpy(acc, e, (size_t)nl * sizeof(mp_limb_t));
            have = 1;
        } else {
            mont_mul(acc, acc, e, tmp, t);
        }
    }
    if (!have) {
        mpz_set_ui(r, 1);
    } else {
        /* Leave Montgomery form: REDC(acc) = acc / R. */
        memcpy(tmp, acc, (size_t)nl * sizeof(mp_limb_t));
        memset(tmp + nl, 0, (size_t)nl * sizeof(mp_limb_t));
        redc(acc, tmp, t->m, nl, t->minv);
        mpz_import(r, (size_t)nl, -1, sizeof(mp_limb_t), 0, 0, acc);
    }
    henn_memzero(acc, 3 * (size_t)nl * sizeof(mp_limb_t));
    free(acc);
    return 0;
}
