/* Fuzz the binary ciphertext-vector reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0, i;
    henn_paillier_ct *ct;
    fuzz_setup();
    if (henn_paillier_ct_binary_count(&count, &fuzz_sk.pk, data, size) != 0 || count > 64)
        return 0;
    ct = calloc(count ? count : 1, sizeof(*ct));
    for (i = 0; i < count; i++)
        henn_paillier_ct_init(&ct[i]);
    if (henn_paillier_ct_deserialize(ct, count, &fuzz_sk.pk, data, size) == 0) {
        size_t n = henn_paillier_ct_binary_size(&fuzz_sk.pk, count);
        uint8_t *again = malloc(n);
        /* round trip: accepted input re-serialises to the same bytes */
        if (henn_paillier_ct_serialize(again, n, &fuzz_sk.pk, ct, count) != 0 || n != size ||
            memcmp(again, data, n) != 0)
            __builtin_trap();
        free(again);
    }
    for (i = 0; i < count; i++)
        henn_paillier_ct_clear(&ct[i]);
    free(ct);
    return 0;
}
