/* Writes the seed corpora for the fuzz targets under the fixed fuzz key:
 * gen_seeds <json-dir> <binary-dir> <kdd-dir> <model-dir> <protocol-dir>
 *           <protocol-owner-dir>.
 * The seeds are checked in. */
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

static const char *row = "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,"
                        "0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00";

/* Recording transport: keeps what the owner sends, forwards to the trainer. */
typedef struct rec {
    henn_transport *inner;
    const char *dir;
    int n;
} rec;

static int rec_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    rec *r = ctx;
    char name[32];
    snprintf(name, sizeof(name), "msg%d", r->n++);
    put(r->dir, name, req, req_len);
    return henn_transport_call(r->inner, req, req_len, resp, resp_len);
}

/* out: a transport that writes every request to dir as msg<first>,
 * msg<first + 1>, ..., then forwards it to inner. */
static void rec_attach(henn_transport *out, rec *r, henn_transport *inner, const char *dir,
                       int first)
{
    r->inner = inner;
    r->dir = dir;
    r->n = first;
    memset(out, 0, sizeof(*out));
    out->call = rec_call;
    out->ctx = r;
}

/* Response recorder: forwards to the trainer and appends each of its
 * responses to buf (what fuzz_protocol_owner feeds the owner, in order). */
typedef struct resp_rec {
    henn_transport *inner;
    uint8_t *buf;
    size_t len;
} resp_rec;

static int resp_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    resp_rec *r = ctx;
    uint8_t *b;
    int rc = henn_transport_call(r->inner, req, req_len, resp, resp_len);
    if (rc != 0)
        return rc;
    b = realloc(r->buf, r->len + *resp_len);
    if (b == NULL)
        exit(1);
    memcpy(b + r->len, *resp, *resp_len);
    r->buf = b;
    r->len += *resp_len;
    return 0;
}

static void resp_attach(henn_transport *out, resp_rec *r, henn_transport *inner)
{
    memset(r, 0, sizeof(*r));
    r->inner = inner;
    memset(out, 0, sizeof(*out));
    out->call = resp_call;
    out->ctx = r;
}

void henn__trainer_allow_insecure(henn_trainer *t);

static int more_seeds(const char *kdd_dir, const char *model_dir, const char *proto_dir,
                      const char *owner_dir)
{
    char text[4096];
    size_t dims[3] = {4, 3, 2}, len;
    henn_nn_model m;
    henn_nn_opts o;
    henn_owner *ow;
    henn_trainer *t;
    henn_transport to_t, rt;
    henn_proto_params p;
    henn_kdd_set set;
    henn_kdd_prep prep;
    henn_kdd_error e;
    rec r;
    uint8_t *buf;
    float X[5 * 4] = {0.1f, 0.2f, 0.3f, 0.4f, 1.0f, 0.0f, 0.5f, 0.5f, 0.25f, 0.75f,
                      0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.9f, 0.8f, 0.7f, 0.6f};
    uint8_t y[5] = {0, 1, 1, 0, 1};

    snprintf(text, sizeof(text), "%c%s,normal.\n%s,smurf.\n", 0, row, row);
    put(kdd_dir, "kdd99", text, strlen(text + 1) + 1);
    snprintf(text, sizeof(text), "%c%s,normal,20\n%s,neptune,3\n", 2 | 8, row, row);
    put(kdd_dir, "nsl", text, strlen(text + 1) + 1);

    if (henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1) ||
        henn_nn_model_serialize(&buf, &len, &m))
        return 1;
    put(model_dir, "mlp", buf, len);
    free(buf);
    snprintf(text, sizeof(text), "%s,normal.\n", row);
    if (henn_kdd_load_mem(&set, text, strlen(text), "seed", 0, 0, &e) ||
        henn_kdd_prep_fit(&prep, &set, HENN_KDD_ONEHOT, 1) ||
        henn_kdd_prep_serialize(&buf, &len, &prep))
        return 1;
    put(model_dir, "prep", buf, len);
    free(buf);
    henn_kdd_prep_clear(&prep);
    henn_kdd_set_clear(&set);

    henn_nn_opts_default(&o);
    if (henn_proto_params_default(&p, 4, 0, mpz_sizeinbase(fuzz_sk.pk.n, 2)) ||
        henn_owner_new(&ow, &fuzz_sk, NULL) || henn_trainer_new(&t, &m, &o, NULL))
        return 1;
    henn__trainer_allow_insecure(t);
    henn_transport_to_trainer(&to_t, t);
    rec_attach(&rt, &r, &to_t, proto_dir, 0);
    {
        uint8_t pred[5];
        if (henn_owner_upload(ow, &rt, &p, X, y, 5, 4) ||
            henn_owner_infer(ow, &rt, &p, X, 5, 4, 2, pred, NULL))
            return 1;
    }
    {
        /* the trainer's responses to the owner, as fuzz_protocol_owner reads
         * them (same records, width and parameters) */
        henn_transport rr;
        resp_rec r3;
        uint8_t pred[5];
        resp_attach(&rr, &r3, &to_t);
        if (henn_owner_infer(ow, &rr, &p, X, 5, 4, 2, pred, NULL))
            return 1;
        put(owner_dir, "infer", r3.buf, r3.len);
        free(r3.buf);
        resp_attach(&rr, &r3, &to_t);
        if (henn_owner_upload(ow, &rr, &p, X, y, 5, 4))
            return 1;
        put(owner_dir, "upload", r3.buf, r3.len);
        free(r3.buf);
    }
    {
        /* the trainer's DECRYPT requests to the owner */
        henn_transport to_o, ro;
        rec r2;
        henn_transport_to_owner(&to_o, ow);
        rec_attach(&ro, &r2, &to_o, proto_dir, 100);
        if (henn_trainer_train_epoch(t, &ro, 1, NULL, NULL, NULL))
            return 1;
    }
    henn_owner_free(ow);
    henn_trainer_free(t);
    henn_nn_model_clear(&m);
    return 0;
}

int main(int argc, char **argv)
{
    henn_paillier_pt pt;
    henn_paillier_ct ct[3];
    char *json;
    size_t len, i, n;
    uint8_t *bin;
    int rc;
    if (argc != 7)
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
    rc = more_seeds(argv[3], argv[4], argv[5], argv[6]);
    for (i = 0; i < 3; i++)
        henn_paillier_ct_clear(&ct[i]);
    henn_paillier_pt_clear(&pt);
    henn_paillier_sk_clear(&fuzz_sk);
    return rc;
}
