/* Writes the seed corpus of fuzz_fe: gen_fe_seeds <dir>
 * Small objects (n = 1 and 3) of every FE format, made with fresh keys, and
 * two small discrete-log tables; the seeds are checked in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "henn/fe.h"

static void put(const char *dir, const char *name, const uint8_t *buf, size_t len, int rc)
{
    char path[4096];
    FILE *f;
    if (rc != 0) {
        fprintf(stderr, "gen_fe_seeds: %s: %s\n", name, henn_strerror(rc));
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        exit(1);
}

static void feip_seeds(const char *dir, size_t n, const char *tag)
{
    henn_feip_mpk mpk;
    henn_feip_msk msk;
    henn_feip_fk fk;
    henn_feip_ct ct = {0};
    int64_t x[3] = {7, -3, 100}, y[3] = {-2, 5, 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    char name[64];
    int rc = henn_feip_setup(&mpk, &msk, n, 255, 1000);
    if (rc == 0)
        rc = henn_feip_mpk_serialize(&buf, &len, &mpk);
    snprintf(name, sizeof name, "feip_mpk_%s", tag);
    put(dir, name, buf, len, rc);
    henn_free(buf, len);
    rc = henn_feip_msk_serialize(&buf, &len, &msk);
    snprintf(name, sizeof name, "feip_msk_%s", tag);
    put(dir, name, buf, len, rc);
    henn_free(buf, len);
    rc = henn_feip_derive_key(&fk, &msk, y, n);
    if (rc == 0)
        rc = henn_feip_fk_serialize(&buf, &len, &fk);
    snprintf(name, sizeof name, "feip_fk_%s", tag);
    put(dir, name, buf, len, rc);
    henn_free(buf, len);
    rc = henn_feip_encrypt(&ct, &mpk, x, n);
    if (rc == 0)
        rc = henn_feip_ct_serialize(&buf, &len, &ct);
    snprintf(name, sizeof name, "feip_ct_%s", tag);
    put(dir, name, buf, len, rc);
    henn_free(buf, len);
    henn_feip_ct_clear(&ct);
    henn_feip_fk_clear(&fk);
    henn_feip_msk_clear(&msk);
    henn_feip_mpk_clear(&mpk);
}

int main(int argc, char **argv)
{
    henn_febo_mpk mpk;
    henn_febo_msk msk;
    henn_febo_ct ct;
    henn_febo_fk fk;
    uint8_t b[HENN_FEBO_CT_BYTES];
    if (argc != 2) {
        fprintf(stderr, "usage: gen_fe_seeds <dir>\n");
        return 2;
    }
    if (henn_init() != 0)
        return 1;
    feip_seeds(argv[1], 1, "n1");
    feip_seeds(argv[1], 3, "n3");

    int rc = henn_febo_setup(&mpk, &msk, 255, 1000);
    if (rc == 0)
        rc = henn_febo_encrypt(&ct, &mpk, -42);
    if (rc != 0)
        return 1;
    henn_febo_mpk_serialize(b, &mpk);
    put(argv[1], "febo_mpk", b, HENN_FEBO_MPK_BYTES, 0);
    henn_febo_msk_serialize(b, &msk);
    put(argv[1], "febo_msk", b, HENN_FEBO_MSK_BYTES, 0);
    henn_febo_ct_serialize(b, &ct);
    put(argv[1], "febo_ct", b, HENN_FEBO_CT_BYTES, 0);
    static const int ops[] = {HENN_FEBO_ADD, HENN_FEBO_MUL, HENN_FEBO_DIV};
    static const char *names[] = {"febo_fk_add", "febo_fk_mul", "febo_fk_div"};
    for (int i = 0; i < 3; i++) {
        rc = henn_febo_derive_key(&fk, &msk, &ct, ops[i], i == 2 ? -7 : 9);
        if (rc == 0)
            henn_febo_fk_serialize(b, &fk);
        put(argv[1], names[i], b, HENN_FEBO_FK_BYTES, rc);
    }
    henn_febo_msk_clear(&msk);

    /* discrete-log tables: T = 3 and T = 40 */
    static const uint64_t Ts[2] = {3, 40};
    static const char *tn[2] = {"dlog_t3", "dlog_t40"};
    for (int i = 0; i < 2; i++) {
        henn_fe_dlog dl;
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = henn_fe_dlog_init(&dl, 1000, Ts[i]);
        if (rc == 0)
            rc = henn_fe_dlog_serialize(&buf, &len, &dl);
        put(argv[1], tn[i], buf, len, rc);
        free(buf);
        henn_fe_dlog_clear(&dl);
    }
    return 0;
}
