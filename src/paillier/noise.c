/*
 * Fresh Paillier randomness r^n mod n^2 with r uniform in [1, n): the
 * distribution of the randomness of a textbook encryption (Paillier 1999,
 * section 4), uniform over the group of n-th residues mod n^2. Unlike the
 * DJN noise h_s^a it covers the whole group, so multiplying any ciphertext
 * by it yields a ciphertext distributed exactly as a fresh textbook
 * encryption of the same plaintext, even to whoever knows p and q.
 */
#include "paillier_internal.h"

int henn__paillier_noise(mpz_t *out, size_t count, const henn_paillier_pk *pk)
{
    mpz_t r;
    size_t i;
    int rc = 0;
    if (pk->mont == NULL || mpz_sgn(pk->n) == 0)
        return HENN_EKEY;
    mpz_init(r);
    for (i = 0; i < count && rc == 0; i++) {
        do {
            rc = henn__mpz_random_below(r, pk->n);
        } while (rc == 0 && mpz_sgn(r) == 0);
        if (rc == 0)
            rc = henn__mont_powm(pk->mont, out[i], r, pk->n);
    }
    henn__mpz_wipe_clear(r);
    return rc;
}
