/* Fuzz the model file readers: the MLP ("HNNM") and the KDD preprocessing
 * section ("HKDP"). Accepted input must re-serialise to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *again = NULL;
    size_t len = 0, used = 0;
    if (size >= 4 && memcmp(data, "HNNM", 4) == 0) {
        henn_nn_model m;
        if (henn_nn_model_deserialize(&m, data, size) == 0) {
            if (henn_nn_model_serialize(&again, &len, &m) != 0 || len != size ||
                memcmp(again, data, size) != 0)
                __builtin_trap();
            free(again);
            henn_nn_model_clear(&m);
        }
    } else {
        henn_kdd_prep prep;
        if (henn_kdd_prep_deserialize(&prep, &used, data, size) == 0) {
            if (used > size || henn_kdd_prep_serialize(&again, &len, &prep) != 0 ||
                len != used || memcmp(again, data, used) != 0)
                __builtin_trap();
            free(again);
            henn_kdd_prep_clear(&prep);
        }
    }
    return 0;
}
