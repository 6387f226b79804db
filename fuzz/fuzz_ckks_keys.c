/* Fuzz the CKKS key readers (secret, public, relinearisation, Galois) under
 * fixed params: accepted input re-serialises to the same bytes and
 * serialized_info agrees on type and length. */
#include <stdint.h>
#include <string.h>

#include "fuzz_ckks_setup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The re-serialised bytes must equal the input; frees them. */
static void same(const henn_ckks_params *params, int rc, uint8_t *again, size_t len,
                 const uint8_t *data, size_t size, int type)
{
    int t = 0;
    size_t info_len = 0;
    if (rc != 0 || len != size || memcmp(again, data, size) != 0)
        __builtin_trap();
    if (henn_ckks_serialized_info(&t, &info_len, params, data, size) != 0 || t != type ||
        info_len != size)
        __builtin_trap();
    henn_free(again, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const henn_ckks_params *params = fuzz_ckks_setup(fuzz_ckks_key_chain, 2);
    henn_ckks_sk sk = {0};
    henn_ckks_pk pk = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0};
    uint8_t *again = NULL;
    size_t len = 0;
    int rc;
    if (henn_ckks_sk_deserialize(&sk, params, data, size) == 0) {
        rc = henn_ckks_sk_serialize(&again, &len, &sk);
        same(params, rc, again, len, data, size, HENN_CKKS_OBJ_SK);
    }
    if (henn_ckks_pk_deserialize(&pk, params, data, size) == 0) {
        rc = henn_ckks_pk_serialize(&again, &len, &pk);
        same(params, rc, again, len, data, size, HENN_CKKS_OBJ_PK);
    }
    if (henn_ckks_relin_key_deserialize(&rk, params, data, size) == 0) {
        rc = henn_ckks_relin_key_serialize(&again, &len, &rk);
        same(params, rc, again, len, data, size, HENN_CKKS_OBJ_RELIN_KEY);
    }
    if (henn_ckks_galois_keys_deserialize(&gk, params, data, size) == 0) {
        if (gk.count > params->N)
            __builtin_trap();
        rc = henn_ckks_galois_keys_serialize(&again, &len, &gk);
        same(params, rc, again, len, data, size, HENN_CKKS_OBJ_GALOIS_KEYS);
    } else if (gk.keys != NULL || gk.elts != NULL || gk.count != 0) {
        __builtin_trap(); /* left zeroed on error */
    }
    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_relin_key_clear(&rk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(&sk);
    return 0;
}
