/* Fuzz the CKKS ciphertext and plaintext readers under fixed params:
 * accepted input re-serialises to the same bytes (a seeded ciphertext with
 * the seed it carries) and serialized_info agrees on type and length. */
#include <stdint.h>
#include <string.h>

#include "fuzz_ckks_setup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_info(const henn_ckks_params *params, const uint8_t *data, size_t size,
                       int type)
{
    int t = 0;
    size_t len = 0;
    if (henn_ckks_serialized_info(&t, &len, params, data, size) != 0 || t != type || len != size)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const henn_ckks_params *params = fuzz_ckks_setup(fuzz_ckks_ct_chain, 3);
    henn_ckks_ct ct = {0};
    henn_ckks_pt pt = {0};
    uint8_t *again = NULL;
    size_t len = 0;
    if (henn_ckks_ct_deserialize(&ct, params, data, size) == 0) {
        int seeded = data[9] == HENN_CKKS_OBJ_CT_SEEDED;
        const uint8_t *seed = seeded ? data + size - HENN_CKKS_SEEDBYTES : NULL;
        if (ct.params != params || ct.size < 2 || ct.size > 3 || ct.level >= params->L)
            __builtin_trap();
        if (henn_ckks_ct_serialize(&again, &len, &ct, seed) != 0 || len != size ||
            memcmp(again, data, size) != 0)
            __builtin_trap();
        check_info(params, data, size, data[9]);
        henn_free(again, len);
    } else if (ct.data != NULL) {
        __builtin_trap(); /* left zeroed on error */
    }
    if (henn_ckks_pt_deserialize(&pt, params, data, size) == 0) {
        if (henn_ckks_pt_serialize(&again, &len, &pt) != 0 || len != size ||
            memcmp(again, data, size) != 0)
            __builtin_trap();
        check_info(params, data, size, HENN_CKKS_OBJ_PT);
        henn_free(again, len);
    } else if (pt.data != NULL) {
        __builtin_trap();
    }
    henn_ckks_pt_clear(&pt);
    henn_ckks_ct_clear(&ct);
    return 0;
}
