/* Fuzz the CKKS params reader: accepted input re-serialises to the same
 * bytes and has the header length serialized_info reports. */
#include <stdint.h>
#include <string.h>

#include "henn/henn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    henn_ckks_params params = {0};
    uint8_t *again = NULL;
    size_t len = 0, info_len = 0;
    int type = 0;
    if (henn_init() != 0)
        __builtin_trap();
    /* N above 16384 only makes table building slow; the parsing is the same */
    if (size >= 16 && (data[14] != 0 || data[15] != 0 || data[13] > 0x40))
        return 0;
    if (henn_ckks_params_deserialize(&params, data, size, 0) == 0) {
        if (henn_ckks_params_serialize(&again, &len, &params) != 0 || len != size ||
            memcmp(again, data, size) != 0)
            __builtin_trap();
        if (henn_ckks_serialized_info(&type, &info_len, NULL, data, size) != 0 ||
            type != HENN_CKKS_OBJ_PARAMS || info_len != size)
            __builtin_trap();
        henn_free(again, len);
    }
    henn_ckks_params_clear(&params);
    return 0;
}
