/*
 * Example: encrypt two numbers, add them under encryption, decrypt.
 * Built and run by the tests (it exits non-zero if the sum is wrong).
 */
#include <stdio.h>

#include "henn/henn.h"

int main(void)
{
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_paillier_pt a, b, sum;
    henn_paillier_ct ca, cb, csum;
    double result = 0;
    int rc;

    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    henn_paillier_pt_init(&a);
    henn_paillier_pt_init(&b);
    henn_paillier_pt_init(&sum);
    henn_paillier_ct_init(&ca);
    henn_paillier_ct_init(&cb);
    henn_paillier_ct_init(&csum);

    rc = henn_paillier_keygen(&pk, &sk, 2048, 0);                     /* data owner */
    if (rc == 0)
        rc = henn_paillier_encode_double(&a, &pk, 3.141592653, HENN_PAILLIER_NO_MAX_EXPONENT);
    if (rc == 0)
        rc = henn_paillier_encode_double(&b, &pk, -4.6e-12, HENN_PAILLIER_NO_MAX_EXPONENT);
    if (rc == 0)
        rc = henn_paillier_encrypt(&ca, &pk, &a);
    if (rc == 0)
        rc = henn_paillier_encrypt(&cb, &pk, &b);
    if (rc == 0)
        rc = henn_paillier_add(&csum, &pk, &ca, &cb);                 /* anyone with pk */
    if (rc == 0)
        rc = henn_paillier_rerandomize(&csum, &pk, &csum);            /* before sending it */
    if (rc == 0)
        rc = henn_paillier_decrypt(&sum, &sk, &csum);                 /* data owner */
    if (rc == 0)
        rc = henn_paillier_decode_double(&result, &pk, &sum);
    if (rc == 0)
        printf("3.141592653 + -4.6e-12 = %.17g (encrypted)\n", result);

    henn_paillier_ct_clear(&csum);
    henn_paillier_ct_clear(&cb);
    henn_paillier_ct_clear(&ca);
    henn_paillier_pt_clear(&sum);
    henn_paillier_pt_clear(&b);
    henn_paillier_pt_clear(&a);
    henn_paillier_sk_clear(&sk);
    henn_paillier_pk_clear(&pk);
    if (rc != 0) {
        fprintf(stderr, "example: %s\n", henn_strerror(rc));
        return 1;
    }
    return result == 3.141592653 + -4.6e-12 ? 0 : 1;
}
