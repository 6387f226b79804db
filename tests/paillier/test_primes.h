/* Prime helpers shared by the Paillier and protocol tests. */
#ifndef HENN_TEST_PRIMES_H
#define HENN_TEST_PRIMES_H

#include <gmp.h>
#include <stddef.h>

/* p = a random prime of exactly `bits` bits (bits >= 3), top two bits set,
 * p = 1 mod 4 (so that -1 is a square mod p: the cheating key holder's
 * choice in the character-attack tests), drawn from rs. */
static inline void test_prime_1mod4(mpz_t p, size_t bits, gmp_randstate_t rs)
{
    do {
        mpz_urandomb(p, rs, (mp_bitcnt_t)bits);
        mpz_setbit(p, bits - 1);
        mpz_setbit(p, bits - 2);
        mpz_nextprime(p, p);
    } while (mpz_fdiv_ui(p, 4) != 1 || mpz_sizeinbase(p, 2) != bits);
}

#endif
