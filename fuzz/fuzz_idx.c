/* Fuzz the IDX parser (MNIST files): any accepted buffer has a magic of
 * unsigned bytes, dims within the limits and exactly dims' product of data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    henn_idx x;
    char err[HENN_MNIST_ERRLEN];
    size_t want, i, prod = 1;
    if (size < 1)
        return 0;
    want = data[0] % 5; /* 0 = any of 1..4 */
    if (henn_idx_parse(&x, data + 1, size - 1, want, "fuzz", err, sizeof(err)) == 0) {
        if (x.ndims < 1 || x.ndims > 4 || (want != 0 && x.ndims != want) || data[3] != 8)
            __builtin_trap();
        for (i = 0; i < x.ndims; i++)
            prod *= x.dims[i];
        if (prod != x.len || 4 + 4 * x.ndims + x.len != size - 1 ||
            (x.len > 0 && memcmp(x.data, data + 1 + 4 + 4 * x.ndims, x.len) != 0))
            __builtin_trap();
        henn_idx_clear(&x);
    } else if (x.data != NULL || x.len != 0 || err[0] == '\0') {
        __builtin_trap();
    }
    return 0;
}
