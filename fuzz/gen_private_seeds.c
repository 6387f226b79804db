/* Seeds for fuzz_protocol_private: the requests a private trainer
 * receives and the responses it sends in one honest run (the fuzz key,
 * a 4-3-2 model, 6 rows: batches of 5 in one ciphertext per feature
 * (req_00 .. resp_03), then batches of 6 in two chunks of 3 rows
 * (req_04 .. resp_07)), then 12 rows in two batches of 6 (two chunks of
 * 3), whose first gradient travels with the second batch's layer-0 INFER
 * (req_11: PSTEP, resp_11: PSTEPR), one file each.
 * Usage: gen_private_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"

void henn__private_trainer_allow_insecure(henn_private_trainer *t);

typedef struct rec {
    henn_transport inner;
    const char *dir;
    int n;
} rec;

static void save(const char *dir, const char *kind, int n, const uint8_t *b, size_t len)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s_%02d", dir, kind, n);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(b, 1, len, f) != len)
        exit(1);
    fclose(f);
}

static int rec_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    rec *r = ctx;
    int rc = r->inner.call(r->inner.ctx, req, req_len, resp, resp_len);
    save(r->dir, "req", r->n, req, req_len);
    if (rc == 0)
        save(r->dir, "resp", r->n, *resp, *resp_len);
    r->n++;
    return rc;
}

int main(int argc, char **argv)
{
    float X[12 * 4];
    const uint8_t y[12] = {0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0};
    size_t dims[3] = {4, 3, 2}, i;
    henn_nn_model m;
    henn_nn_opts o;
    henn_private_trainer *t;
    henn_proto_params p;
    henn_transport tt;
    rec r;
    if (argc != 2)
        return 2;
    fuzz_setup();
    for (i = 0; i < 48; i++)
        X[i] = (float)(i % 7) / 7.0f;
    henn_nn_opts_default(&o);
    if (henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1) ||
        henn_private_trainer_new(&t, &m, &o, NULL) ||
        henn_proto_params_default(&p, 4, 0, mpz_sizeinbase(fuzz_sk.pk.n, 2)))
        return 1;
    henn__private_trainer_allow_insecure(t);
    p.slots = 5;
    henn_transport_to_private_trainer(&r.inner, t);
    r.dir = argv[1];
    r.n = 0;
    memset(&tt, 0, sizeof(tt));
    tt.call = rec_call;
    tt.ctx = &r;
    if (henn_owner_train_private(&tt, &fuzz_sk, &p, X, y, 6, 4, 2, 5, 1, 1, NULL, NULL, NULL,
                                 NULL))
        return 1;
    p.slots = 3;
    if (henn_owner_train_private(&tt, &fuzz_sk, &p, X, y, 6, 4, 2, 6, 1, 1, NULL, NULL, NULL,
                                 NULL))
        return 1;
    if (henn_owner_train_private(&tt, &fuzz_sk, &p, X, y, 12, 4, 2, 6, 1, 1, NULL, NULL, NULL,
                                 NULL))
        return 1;
    henn_private_trainer_free(t);
    henn_nn_model_clear(&m);
    return 0;
}
