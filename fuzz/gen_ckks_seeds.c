/* Writes the seed corpora of the CKKS fuzz targets:
 *   gen_ckks_seeds <ckks_params-dir> <ckks_ct-dir> <ckks_keys-dir>
 * Ciphertexts and keys are made under the targets' fixed params
 * (fuzz_ckks_setup.h) with fresh keys; the seeds are checked in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ckks_setup.h"

static void put(const char *dir, const char *name, uint8_t *buf, size_t len, int rc)
{
    char path[4096];
    FILE *f;
    if (rc != 0) {
        fprintf(stderr, "gen_ckks_seeds: %s: %s\n", name, henn_strerror(rc));
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        exit(1);
    henn_free(buf, len);
}

static void params_seed(const char *dir, const char *name, size_t N, const int *bits,
                        size_t count, unsigned flags)
{
    henn_ckks_params p = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = henn_ckks_params_init(&p, N, bits, count, flags);
    if (rc == 0)
        rc = henn_ckks_params_serialize(&buf, &len, &p);
    put(dir, name, buf, len, rc);
    henn_ckks_params_clear(&p);
}

int main(int argc, char **argv)
{
    static const int a[] = {60, 40, 40, 60}, c[] = {40, 21, 21, 21, 21, 21, 21, 40};
    static const int big[] = {60, 60};
    henn_ckks_params pc = {0}, pk_params = {0};
    henn_ckks_sk sk = {0}, sk2 = {0};
    henn_ckks_pk pk = {0}, pk2 = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0}, none = {0};
    henn_ckks_pt pt = {0};
    henn_ckks_ct ct = {0}, sq = {0};
    uint8_t seed[HENN_CKKS_SEEDBYTES], *buf = NULL;
    size_t len = 0;
    double v[8] = {0.5, -0.25, 1, -1, 0.125, 0, 0.75, -0.875};
    static const int step[] = {1};
    int rc;
    if (argc != 4) {
        fprintf(stderr, "usage: gen_ckks_seeds <params-dir> <ct-dir> <keys-dir>\n");
        return 2;
    }
    if (henn_init() != 0)
        return 1;

    params_seed(argv[1], "n4096_20x3", FUZZ_CKKS_N, fuzz_ckks_ct_chain, 3, 0);
    params_seed(argv[1], "n4096_20x2", FUZZ_CKKS_N, fuzz_ckks_key_chain, 2, 0);
    params_seed(argv[1], "n8192_60_40_40_60", 8192, a, 4, 0);
    params_seed(argv[1], "n8192_40_21x6_40", 8192, c, 8, 0);
    params_seed(argv[1], "n4096_60_60_insecure", 4096, big, 2, HENN_CKKS_INSECURE);

    /* ciphertexts: level 1 (fresh), size 3, level 0, seeded; a plaintext */
    rc = henn_ckks_params_init(&pc, FUZZ_CKKS_N, fuzz_ckks_ct_chain, 3, 0);
    if (rc == 0)
        rc = henn_ckks_keygen(&sk, &pk, &pc);
    if (rc == 0)
        rc = henn_ckks_encode(&pt, &pc, v, 8, 1 << 10, 1);
    if (rc == 0)
        rc = henn_ckks_pt_serialize(&buf, &len, &pt);
    put(argv[2], "pt_level1", buf, len, rc);
    rc = henn_ckks_encrypt(&ct, &pk, &pt);
    if (rc == 0)
        rc = henn_ckks_ct_serialize(&buf, &len, &ct, NULL);
    put(argv[2], "ct_level1", buf, len, rc);
    rc = henn_ckks_multiply(&sq, &ct, &ct);
    if (rc == 0)
        rc = henn_ckks_ct_serialize(&buf, &len, &sq, NULL);
    put(argv[2], "ct_size3", buf, len, rc);
    rc = henn_ckks_mod_switch(&sq, &ct, 0);
    if (rc == 0)
        rc = henn_ckks_ct_serialize(&buf, &len, &sq, NULL);
    put(argv[2], "ct_level0", buf, len, rc);
    rc = henn_ckks_encrypt_symmetric(&ct, seed, &sk, &pt);
    if (rc == 0)
        rc = henn_ckks_ct_serialize(&buf, &len, &ct, seed);
    put(argv[2], "ct_seeded", buf, len, rc);

    /* keys under the key params */
    rc = henn_ckks_params_init(&pk_params, FUZZ_CKKS_N, fuzz_ckks_key_chain, 2, 0);
    if (rc == 0)
        rc = henn_ckks_keygen(&sk2, &pk2, &pk_params);
    if (rc == 0)
        rc = henn_ckks_sk_serialize(&buf, &len, &sk2);
    put(argv[3], "sk", buf, len, rc);
    rc = henn_ckks_pk_serialize(&buf, &len, &pk2);
    put(argv[3], "pk", buf, len, rc);
    rc = henn_ckks_relin_keygen(&rk, &sk2);
    if (rc == 0)
        rc = henn_ckks_relin_key_serialize(&buf, &len, &rk);
    put(argv[3], "relin", buf, len, rc);
    rc = henn_ckks_galois_keygen(&gk, &sk2, step, 1, 0);
    if (rc == 0)
        rc = henn_ckks_galois_keys_serialize(&buf, &len, &gk);
    put(argv[3], "galois_1", buf, len, rc);
    none.params = &pk_params;
    rc = henn_ckks_galois_keys_serialize(&buf, &len, &none);
    put(argv[3], "galois_0", buf, len, rc);

    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_relin_key_clear(&rk);
    henn_ckks_pk_clear(&pk2);
    henn_ckks_sk_clear(&sk2);
    henn_ckks_ct_clear(&sq);
    henn_ckks_ct_clear(&ct);
    henn_ckks_pt_clear(&pt);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(&sk);
    henn_ckks_params_clear(&pk_params);
    henn_ckks_params_clear(&pc);
    return 0;
}
