/* Fuzz the CNN model file reader ("HCNM", henn_cnn_model_deserialize):
 * no crash on any input, and accepted input re-serialises to the same
 * bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    henn_cnn_model m;
    uint8_t *again = NULL;
    size_t len = 0;
    if (henn_cnn_model_deserialize(&m, data, size) == 0) {
        if (henn_cnn_model_serialize(&again, &len, &m) != 0 || len != size ||
            memcmp(again, data, size) != 0)
            __builtin_trap();
        free(again);
        henn_cnn_model_clear(&m);
    } else if (m.layers != 0) {
        __builtin_trap(); /* not left zeroed */
    }
    return 0;
}
