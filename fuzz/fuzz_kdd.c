/* Fuzz the KDD Cup 1999 / NSL-KDD text loader (both layouts, skip mode). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    henn_kdd_set s;
    henn_kdd_error e;
    unsigned flags;
    size_t i;
    if (size < 1)
        return 0;
    flags = data[0] & 7u;
    if ((flags & 3u) == 3u)
        flags &= ~1u;
    if (henn_kdd_load_mem(&s, (const char *)data + 1, size - 1, "fuzz", 0, flags, &e) == 0) {
        /* every accepted row has a class and non-negative finite features */
        for (i = 0; i < s.rows; i++)
            if (s.y[i] >= HENN_KDD_CLASSES || !(s.x[i * HENN_KDD_FEATURES] >= 0.0))
                __builtin_trap();
        if (s.rows > 0) {
            henn_kdd_prep prep;
            float *X;
            if (henn_kdd_prep_fit(&prep, &s, (data[0] >> 3) & 1 ? HENN_KDD_INTCODE : HENN_KDD_ONEHOT,
                                  (data[0] >> 4) & 1) == 0) {
                if (henn_kdd_prep_apply(&X, NULL, &prep, &s, NULL, s.rows) == 0) {
                    for (i = 0; i < s.rows * prep.dim; i++)
                        if (!(X[i] >= 0.0f && X[i] <= 1.0f))
                            __builtin_trap();
                    free(X);
                }
                henn_kdd_prep_clear(&prep);
            }
        }
        henn_kdd_set_clear(&s);
    }
    return 0;
}
