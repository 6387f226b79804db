/* Fixed small CKKS parameters for the fuzz targets (N = 4096 and 20-bit
 * primes keep the seeds small; the parsers do not depend on the sizes).
 * gen_ckks_seeds builds the same ones. */
#ifndef HENN_FUZZ_CKKS_SETUP_H
#define HENN_FUZZ_CKKS_SETUP_H

#include "henn/henn.h"

/* Ciphertexts and plaintexts: two data primes (levels 0 and 1). */
static const int fuzz_ckks_ct_chain[] = {20, 20, 20};
/* Keys: one data prime (one key-switching digit). */
static const int fuzz_ckks_key_chain[] = {20, 20};
#define FUZZ_CKKS_N 4096

/* Params for chain (built once; never freed). */
static const henn_ckks_params *fuzz_ckks_setup(const int *chain, size_t count)
{
    static henn_ckks_params params;
    static int ready;
    if (!ready) {
        if (henn_init() != 0 || henn_ckks_params_init(&params, FUZZ_CKKS_N, chain, count, 0) != 0)
            __builtin_trap();
        ready = 1;
    }
    return &params;
}

#endif
