/*
 * Fresh Paillier randomness r^n mod n^2 with r uniform in [1, n): the
 * distribution of the randomness of a textbook encryption (Paillier 1999,
 * section 4), uniform over the group of n-th residues mod n^2. Unlike the
 * DJN noise h_s^a it covers the whole group, so multiplying any ciphertext
 * by it yields a ciphertext distributed exactly as a fresh textbook
 * encryption of the same plaintext, even to whoever knows p and q.
 *
 * Speed: groups of 8 exponentiations run together on the multi-buffer
 * IFMA engine (mont_mb.c), one r per lane, all to the common public
 * exponent n, as pairs of residues modulo n (henn__mbsq_powm: about 1.5x
 * the 8-lane engine modulo n^2 at n = 2048). A short last group (fewer
 * than NOISE_SQ_MIN values, NOISE_MB_MIN on the n^2 engine) is cheaper one
 * at a time on the single-buffer engine, since 8 lanes cost the same
 * whether they are all used or padded. Without the pair engine (no IFMA,
 * n under 512 bits), the 8-lane context of n^2 is the one attached to
 * pk->mont at key set-up (henn__mont_attach_mb), or built for the call
 * when a context has none.
 */
#include "paillier_internal.h"

/* Smallest last group worth padding to 8 lanes: at n = 2048 on Zen 4 one
 * 8-lane r^n costs about 6 single-buffer ones modulo n^2, about 3.3 as
 * pairs modulo n (8.9 ms against 2.7 ms per CPU). */
#define NOISE_MB_MIN 6
#define NOISE_SQ_MIN 4

/* out[i] = r[i]^n mod n^2 for i < count <= 8 on the engine that suits g. */
static int noise_group(mpz_t *out, const mpz_t *r, size_t g, const henn_paillier_pk *pk,
                       const henn__mb *mb, int sq)
{
    size_t l;
    int rc = 0;
    if (sq && g >= NOISE_SQ_MIN)
        return henn__mbsq_powm(out, r, g, pk->n, pk->n);
    if (!sq && mb->limbs != 0 && g >= NOISE_MB_MIN)
        return henn__mb_powm(mb, out, r, g, pk->n);
    for (l = 0; l < g && rc == 0; l++)
        rc = henn__mont_powm(pk->mont, out[l], r[l], pk->n);
    return rc;
}

int henn__paillier_noise(mpz_t *out, size_t count, const henn_paillier_pk *pk)
{
    mpz_t r[HENN__MB_LANES];
    henn__mb tmp;
    const henn__mb *mb;
    size_t i, l, g;
    int rc, sq;
    if (pk->mont == NULL || mpz_sgn(pk->n) == 0)
        return HENN_EKEY;
    rc = henn__mb_get(&mb, &tmp, pk->mont);
    if (rc != 0)
        return rc;
    sq = henn__mbsq_usable(pk->n);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_init(r[l]);
    for (i = 0; i < count && rc == 0; i += g) {
        g = count - i < HENN__MB_LANES ? count - i : HENN__MB_LANES;
        for (l = 0; l < g && rc == 0; l++)
            do {
                rc = henn__mpz_random_below(r[l], pk->n);
            } while (rc == 0 && mpz_sgn(r[l]) == 0);
        if (rc == 0)
            rc = noise_group(out + i, (const mpz_t *)r, g, pk, mb, sq);
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        henn__mpz_wipe_clear(r[l]);
    henn__mb_clear(&tmp);
    return rc;
}

int henn__paillier_noise_pow(mpz_t *out, const mpz_t *r, size_t count,
                             const henn_paillier_pk *pk)
{
    henn__mb tmp;
    const henn__mb *mb;
    size_t i, g;
    int rc, sq;
    if (pk->mont == NULL || mpz_sgn(pk->n) == 0)
        return HENN_EKEY;
    rc = henn__mb_get(&mb, &tmp, pk->mont);
    if (rc != 0)
        return rc;
    sq = henn__mbsq_usable(pk->n);
    for (i = 0; i < count && rc == 0; i += g) {
        g = count - i < HENN__MB_LANES ? count - i : HENN__MB_LANES;
        rc = noise_group(out + i, r + i, g, pk, mb, sq);
    }
    henn__mb_clear(&tmp);
    return rc;
}
