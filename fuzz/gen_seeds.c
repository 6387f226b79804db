/* Writes the seed corpora for the fuzz targets under the fixed fuzz key:
 * gen_seeds <json-dir> <binary-dir>. The seeds are checked in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"

static void put(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len)
        exit(1);
    fclose(f);
}

int main(int argc, char **argv)
{
    henn_paillier_pt pt;
    henn_paillier_ct ct[3];
    char *json;
    size_t len, i, n;
    uint8_t *bin;
    if (argc != 3)
        return 2;
    fuzz_setup();
    henn_paillier_pt_init(&pt);
    for (i = 0; i < 3; i++) {
        henn_paillier_ct_init(&ct[i]);
        if (henn_paillier_encode_double(&pt, &fuzz_sk.pk, (double)i - 1.5, 
                                        HENN_PAILLIER_NO_MAX_EXPONENT) ||
            henn_paillier_encrypt(&ct[i], &fuzz_sk.pk, &pt))
            return 1;
    }
    if (henn_paillier_pk_to_json(&json, &len, &fuzz_sk.pk, "fuzz")) return 1;
    put(argv[1], "pk.json", json, len);
    henn_free(json, len);
    if (henn_paillier_sk_to_json(&json, &len, &fuzz_sk, "fuzz")) return 1;
    put(argv[1], "sk.json", json, len);
    henn_free(json, len);
    if (henn_paillier_ct_to_json(&json, &len, &ct[0])) return 1;
    put(argv[1], "ct.json", json, len);
    henn_free(json, len);
    if (henn_paillier_vector_to_json(&json, &len, &fuzz_sk.pk, ct, 3)) return 1;
    put(argv[1], "vector.json", json, len);
    henn_free(json, len);
    for (n = 0; n <= 3; n += 3) {
        size_t size = henn_paillier_ct_binary_size(&fuzz_sk.pk, n);
        bin = malloc(size);
        if (henn_paillier_ct_serialize(bin, size, &fuzz_sk.pk, ct, n)) return 1;
        put(argv[2], n ? "three.bin" : "empty.bin", bin, size);
        free(bin);
    }
    return 0;
}
