/* Fuzz every JSON reader: public key, private key, ciphertext, vector.
 * Whatever the input, the readers must return a code and leave no leak;
 * anything accepted must serialise again. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_paillier_ct ct, *vec = NULL;
    char *out = NULL;
    size_t out_len = 0, count = 0, i;
    fuzz_setup();
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    henn_paillier_ct_init(&ct);
    if (henn_paillier_pk_from_json(&pk, text, size, HENN_PAILLIER_INSECURE) == 0) {
        if (henn_paillier_pk_to_json(&out, &out_len, &pk, NULL) != 0)
            __builtin_trap();
        henn_free(out, out_len);
    }
    if (henn_paillier_sk_from_json(&sk, text, size, HENN_PAILLIER_INSECURE) == 0) {
        if (henn_paillier_sk_to_json(&out, &out_len, &sk, NULL) != 0)
            __builtin_trap();
        henn_free(out, out_len);
    }
    if (henn_paillier_ct_from_json(&ct, &fuzz_sk.pk, text, size) == 0) {
        henn_paillier_pt pt;
        henn_paillier_pt_init(&pt);
        if (henn_paillier_decrypt(&pt, &fuzz_sk, &ct) != 0)
            __builtin_trap(); /* validated ciphertexts always decrypt */
        henn_paillier_pt_clear(&pt);
    }
    if (henn_paillier_vector_from_json(&vec, &count, &fuzz_sk.pk, text, size) == 0) {
        for (i = 0; i < count; i++)
            henn_paillier_ct_clear(&vec[i]);
        free(vec);
    }
    henn_paillier_ct_clear(&ct);
    henn_paillier_sk_clear(&sk);
    henn_paillier_pk_clear(&pk);
    return 0;
}
