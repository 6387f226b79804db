/* Fuzz both parties of private training (henn/protocol.h, "Private
 * training") under the fixed fuzz key with a 4-3-2 model: the input goes
 * to a long-lived private trainer's handler (PSETUP, INFER, PGRAD, and
 * anything else) and to the owner's PMODEL reader (accepted models
 * re-serialise to the same bytes). A CIPHER-typed input also goes to a
 * whole private-training owner as the trainer's answer to its first INFER
 * (batches of 6 rows in two chunks of 3, so a CIPHER must carry two
 * chunks; an honest second trainer answers the PSETUP; slow: the owner builds
 * its DJN table per run, so only for those inputs), and a PSTEPR-typed
 * input to one on 12 rows as the answer to its first PSTEP (the honest
 * trainer answers PSETUP and the first batch's two INFERs). Every input
 * gets a well-formed response or a clean error, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"
#include "protocol/kdd_private.h"

void henn__private_trainer_allow_insecure(henn_private_trainer *t);

static henn_private_trainer *trainer;

static henn_private_trainer *honest;

typedef struct canned {
    const uint8_t *data;
    size_t size;
    int calls, honest_calls;
} canned;

static int canned_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    canned *c = ctx;
    if (c->calls++ < c->honest_calls)
        return henn_private_trainer_handle(honest, req, req_len, resp, resp_len);
    *resp = malloc(c->size + 1);
    if (*resp == NULL)
        return HENN_ENOMEM;
    memcpy(*resp, c->data, c->size);
    *resp_len = c->size;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static float X[12 * 4];
    static const uint8_t y[12] = {0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0};
    uint8_t *resp;
    size_t resp_len;
    henn_proto_params p = {10, 0, 12, 6, 0, 3};
    canned c = {data, size, 0, 1};
    henn_transport t;
    size_t rows = 6;
    int rc, type_in;

    if (trainer == NULL) {
        size_t dims[3] = {4, 3, 2};
        henn_nn_model m;
        henn_nn_opts o;
        fuzz_setup();
        henn_nn_opts_default(&o);
        if (henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1) ||
            henn_private_trainer_new(&trainer, &m, &o, NULL) ||
            henn_private_trainer_new(&honest, &m, &o, NULL))
            __builtin_trap();
        henn__private_trainer_allow_insecure(trainer);
        henn__private_trainer_allow_insecure(honest);
        henn_nn_model_clear(&m);
    }
    if (henn_private_trainer_handle(trainer, data, size, &resp, &resp_len) != 0 ||
        henn_msg_type(resp, resp_len) < 0)
        __builtin_trap();
    free(resp);
    {
        henn__rbuf r;
        henn__wbuf w;
        henn_nn_model pm;
        uint64_t step;
        int type;
        uint8_t *out;
        size_t out_len;
        henn_nn_model_init_empty(&pm);
        if (henn__rbuf_open(&r, &type, data, size) == 0 && type == HENN_MSG_PMODEL &&
            henn__pmodel_read(&r, &pm, &step) == 0) {
            henn__wbuf_start(&w, HENN_MSG_PMODEL);
            henn__pmodel_write(&w, &pm, step);
            if (henn__wbuf_finish(&w, &out, &out_len) != 0 || out_len != size ||
                memcmp(out, data, size) != 0)
                __builtin_trap();
            free(out);
        }
        henn_nn_model_clear(&pm);
    }
    type_in = henn_msg_type(data, size);
    if (type_in != HENN_MSG_CIPHER && type_in != HENN_MSG_PSTEPR)
        return 0;
    if (type_in == HENN_MSG_PSTEPR) {
        c.honest_calls = 3;
        rows = 12;
    }
    if (henn_proto_params_default(&p, 4, 0, mpz_sizeinbase(fuzz_sk.pk.n, 2)) != 0)
        __builtin_trap();
    p.slots = 3;
    memset(&t, 0, sizeof(t));
    t.call = canned_call;
    t.ctx = &c;
    rc = henn_owner_train_private(&t, &fuzz_sk, &p, X, y, rows, 4, 2, 6, 1, 1, NULL, NULL, NULL,
                                  NULL);
    if (rc > 0)
        __builtin_trap();
    return 0;
}
