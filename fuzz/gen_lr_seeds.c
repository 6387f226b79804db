/* Writes the seed corpora of the LR protocol fuzz targets:
 *   gen_lr_seeds <lr_server-dir> <lr_client-dir>
 * An honest client and server run the fuzz targets' session
 * (fuzz_lr_setup.h) with fresh keys: the requests (but the large KEYS)
 * become lr_server seeds, the responses after KEYS the lr_client seed; a
 * small KEYS message (N = 4096, two 30-bit primes, one Galois key) covers
 * the key parsers. The seeds are checked in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lr_setup.h"

static uint8_t *resp_log;
static size_t resp_log_len;
static const char *server_dir;
static unsigned seen[16];

static void put(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_lr_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static int logging(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len)
{
    static const char *names[] = {"error", "ok",      "keys",  "data",  "train",
                                  "step",  "weights", "model", "infer", "scores"};
    int type = henn_lr_msg_type(req, req_len), rc;
    char name[64];
    if (type > HENN_LR_MSG_KEYS && type <= HENN_LR_MSG_SCORES) {
        snprintf(name, sizeof(name), "%s%u", names[type], seen[type]++);
        put(server_dir, name, req, req_len);
    }
    rc = henn_lr_server_handle(ctx, req, req_len, resp, resp_len);
    if (rc == 0 && type != HENN_LR_MSG_KEYS) {
        resp_log = realloc(resp_log, resp_log_len + *resp_len);
        if (resp_log == NULL)
            exit(1);
        memcpy(resp_log + resp_log_len, *resp, *resp_len);
        resp_log_len += *resp_len;
    }
    return rc;
}

static void small_keys(void)
{
    static const int bits[] = {30, 30};
    static const int step[] = {1};
    henn_ckks_params p = {0};
    henn_ckks_sk sk = {0};
    henn_ckks_pk pk = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0};
    uint8_t *pb = NULL, *rb = NULL, *gb = NULL, *msg = NULL;
    size_t pn = 0, rn = 0, gn = 0, n = 0;
    henn__lr_wbuf w;
    if (henn_ckks_params_init(&p, 4096, bits, 2, HENN_CKKS_INSECURE) != 0 ||
        henn_ckks_keygen(&sk, &pk, &p) != 0 || henn_ckks_relin_keygen(&rk, &sk) != 0 ||
        henn_ckks_galois_keygen(&gk, &sk, step, 1, 0) != 0 ||
        henn_ckks_params_serialize(&pb, &pn, &p) != 0 ||
        henn_ckks_relin_key_serialize(&rb, &rn, &rk) != 0 ||
        henn_ckks_galois_keys_serialize(&gb, &gn, &gk) != 0)
        exit(1);
    henn__lr_wstart(&w, HENN_LR_MSG_KEYS);
    henn__lr_wu32(&w, FUZZ_LR_DIM);
    henn__lr_wblob(&w, pb, pn);
    henn__lr_wblob(&w, rb, rn);
    henn__lr_wblob(&w, gb, gn);
    if (henn__lr_wfinish(&w, &msg, &n) != 0)
        exit(1);
    put(server_dir, "keys_small", msg, n);
    free(msg);
    henn_free(pb, pn);
    henn_free(rb, rn);
    henn_free(gb, gn);
    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_relin_key_clear(&rk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(&sk);
    henn_ckks_params_clear(&p);
}

int main(int argc, char **argv)
{
    henn_lr_server_limits lim;
    henn_lr_server *s;
    henn_lr_client *c;
    henn_lr_data d;
    henn_lr_opts o;
    henn_lr_model m;
    double scores[FUZZ_LR_ROWS];
    henn_transport t = {.call = logging};
    if (argc != 3) {
        fprintf(stderr, "usage: gen_lr_seeds <lr_server-dir> <lr_client-dir>\n");
        return 2;
    }
    server_dir = argv[1];
    fuzz_lr_limits(&lim);
    fuzz_lr_data(&d, &o);
    if (henn_init() != 0 || henn_lr_server_new(&s, &lim, NULL) != 0 ||
        henn_lr_client_new(&c, &fuzz_lr_client_opts) != 0 || henn_lr_model_init(&m, 2) != 0)
        return 1;
    t.ctx = s;
    if (henn_lr_client_train(c, &t, &m, &d, &o, NULL, NULL) != 0 ||
        henn_lr_client_infer(c, &t, scores, &m, &d, 0) != 0)
        return 1;
    put(argv[2], "train_infer", resp_log, resp_log_len);
    put(argv[2], "ok3", resp_log, 3 * HENN__LR_HEADER); /* DATA, TRAIN, then a short STEP */
    if (henn_lr_client_infer(c, &t, scores, &m, &d, HENN_LR_INFER_PLAIN_MODEL) != 0)
        return 1;
    small_keys();
    free(resp_log);
    henn_lr_model_clear(&m);
    henn_lr_client_free(c);
    henn_lr_server_free(s);
    return 0;
}
