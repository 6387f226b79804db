/* The private-training tests' shared fixture (include after test.h and
 * henn/henn.h): labelled rows, the fixed point for them, and the big-endian
 * u32 of the message formats (docs/FORMATS.md). */
#ifndef HENN_TEST_PRIVATE_ROWS_H
#define HENN_TEST_PRIVATE_ROWS_H

#include <stdint.h>

/* X [rows x dim]: values in [0, 1) from a 64-bit LCG started at seed; Y
 * [rows]: 3 classes by a fixed linear score (weights -0.5 and 1
 * alternating; thresholds -0.2 and 0.3). */
static inline void private_rows(float *X, uint8_t *Y, size_t rows, size_t dim, unsigned long seed)
{
    size_t i, j;
    unsigned long s = seed;
    for (i = 0; i < rows; i++) {
        double sum = 0.0;
        for (j = 0; j < dim; j++) {
            s = s * 6364136223846793005UL + 1442695040888963407UL;
            X[i * dim + j] = (float)((double)(s >> 11) * 0x1.0p-53);
            sum += X[i * dim + j] * (j % 2 ? 1.0 : -0.5);
        }
        Y[i] = (uint8_t)(sum < -0.2 ? 0 : sum < 0.3 ? 1 : 2);
    }
}

/* The default fixed point for inputs of width dim under pk, slots rows per
 * ciphertext (checked). */
static inline void private_params(henn_proto_params *p, const henn_paillier_pk *pk, size_t dim,
                                  size_t slots)
{
    CHECK_OK(henn_proto_params_default(p, dim, 0, mpz_sizeinbase(pk->n, 2)));
    p->slots = (uint32_t)slots;
    CHECK_OK(henn_proto_params_check(p, dim, mpz_sizeinbase(pk->n, 2)));
}

/* The big-endian u32 at b. */
static inline uint32_t private_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

#endif
