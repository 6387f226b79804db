/* A fixed 512-bit test key for the fuzz targets (insecure on purpose:
 * fuzzing needs fast operations; the parsers do not depend on the size). */
#ifndef HENN_FUZZ_KEYS_H
#define HENN_FUZZ_KEYS_H

#include "henn/henn.h"

static henn_paillier_sk fuzz_sk;
static int fuzz_ready;

static void fuzz_setup(void)
{
    mpz_t p, q;
    if (fuzz_ready)
        return;
    mpz_init_set_str(p, "fca682ce8e12caba26efccf7110e526db078b05edecbcd1eb4a208f3ae1617ae"
                        "01f35b91a47e6df63413c5e12ed0899bcd132acd50d99151bdc43ee737592e17",
                     16);
    mpz_init_set_str(q, "962eddcc369cba8ebb260ee6b6a126d9346e38c5db3b38e0b7d8a7d9c3dc5b6a"
                        "b1aa1bc56a96ba8f5d4dc1a7dbaff6b9bce6c55f2ae7d3bc5d9fdbab58c0c6a3",
                     16);
    mpz_nextprime(p, p);
    mpz_nextprime(q, q);
    henn_paillier_sk_init(&fuzz_sk);
    if (henn_init() != 0 || henn_paillier_sk_from_primes(&fuzz_sk, p, q, HENN_PAILLIER_INSECURE))
        __builtin_trap();
    mpz_clears(p, q, NULL);
    fuzz_ready = 1;
}

#endif
