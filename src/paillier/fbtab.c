/*
 * Fixed-base exponentiation h_s^a mod n^2 for the DJN encryption path
 * (Damgard-Jurik-Nielsen 2010, section 4.2; Brickell-Gordon-McCurley-Wilson
 * style per-position tables).
 *
 * a is cut into w-bit digits a = sum_j d_j 2^(w j). For every digit
 * position j the table holds T[j][d] = h_s^(d 2^(w j)) * R mod n^2 for
 * d = 1 .. 2^w - 1, in Montgomery form (mont.c: IFMA or mpn backend).
 * Then h_s^a = prod_j T[j][d_j], one Montgomery multiplication per non-zero
 * digit and no squarings.
 *
 * Timing: the table index and the number of multiplications depend on a
 * (see the warning on henn_paillier_encrypt).
 */
#include <stdlib.h>

#include "paillier_internal.h"

struct henn__paillier_fbtab {
    unsigned w;
    size_t positions;
    const henn__mont *mt; /* the public key's Montgomery context of n^2 */
    mp_limb_t *tab;       /* positions * (2^w - 1) * mt->words words */
};

void henn__paillier_fbtab_free(struct henn__paillier_fbtab *t)
{
    if (t == NULL)
        return;
    free(t->tab);
    free(t);
}

int henn__paillier_fbtab_build(struct henn__paillier_fbtab **out, const mpz_t hs,
                               const henn__mont *mt, size_t a_bits, unsigned w)
{
    struct henn__paillier_fbtab *t;
    size_t per, j, d, entries, nl;
    mp_limb_t *scratch = NULL;
    mpz_t x;
    int rc = HENN_ENOMEM;

    *out = NULL;
    if (w < 2 || w > 12 || a_bits == 0 || mt == NULL)
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    mpz_init(x);
    t->w = w;
    t->positions = (a_bits + w - 1) / w;
    t->mt = mt;
    nl = mt->words;
    per = ((size_t)1 << w) - 1;
    entries = t->positions * per;
    t->tab = malloc(entries * nl * sizeof(mp_limb_t));
    scratch = malloc(mt->scratch_words * sizeof(mp_limb_t));
    if (t->tab == NULL || scratch == NULL)
        goto cleanup;
    /* T[0][1] = h_s * R mod n^2. */
    henn__mont_to(mt, t->tab, hs, x);
    for (j = 0; j < t->positions; j++) {
        mp_limb_t *row = t->tab + j * per * nl;
        for (d = 2; d <= per; d++)
            henn__mont_mul(mt, row + (d - 1) * nl, row + (d - 2) * nl, row, scratch);
        if (j + 1 < t->positions) /* T[j+1][1] = T[j][2^w - 1] * T[j][1] */
            henn__mont_mul(mt, row + per * nl, row + (per - 1) * nl, row, scratch);
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
    size_t nl = t->mt->words, per = ((size_t)1 << t->w) - 1, j, len;
    mp_limb_t *acc, *tmp;
    int have = 0;

    if (mpz_sgn(a) < 0 || mpz_sizeinbase(a, 2) > t->positions * t->w)
        return HENN_EINVAL;
    len = (nl + t->mt->scratch_words) * sizeof(mp_limb_t);
    acc = malloc(len);
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
        const mp_limb_t *e = t->tab + (j * per + d - 1) * nl;
        if (!have) {
            memcpy(acc, e, nl * sizeof(mp_limb_t));
            have = 1;
        } else {
            henn__mont_mul(t->mt, acc, acc, e, tmp);
        }
    }
    if (!have) {
        mpz_set_ui(r, 1);
    } else {
        henn__mont_from(t->mt, r, acc, tmp);
    }
    henn_memzero(acc, len);
    free(acc);
    return 0;
}
