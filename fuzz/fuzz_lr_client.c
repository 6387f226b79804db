/* Fuzz the LR client's parsing of what the server sends: the input is a
 * sequence of messages that a fake server returns, in order, as its
 * responses to the client's requests in a training run (DATA, TRAIN, two
 * STEPs; the keys count as sent) and then in an inference (MODEL, INFER);
 * the whole input is also given to the WEIGHTS and SCORES parsers. Every
 * input ends in a return code, never a crash. Seeds: the honest server's
 * responses (gen_lr_seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lr_setup.h"

static henn_lr_client *client;
static henn_transport fake;

static int fake_server(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    fuzz_lr_feed *f = ctx;
    size_t len;
    (void)req;
    (void)req_len;
    if (f->pos >= f->size)
        return HENN_EIO; /* the server hung up */
    len = fuzz_lr_next_len(f);
    *resp = malloc(len ? len : 1);
    if (*resp == NULL)
        return HENN_ENOMEM;
    memcpy(*resp, f->data + f->pos, len);
    *resp_len = len;
    f->pos += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lr_feed f = {data, size, 0};
    henn_lr_data d;
    henn_lr_opts o;
    henn_lr_model m;
    double scores[FUZZ_LR_ROWS];
    fuzz_lr_data(&d, &o);
    if (client == NULL) {
        fake.call = fake_server;
        if (henn_init() != 0 || henn_lr_client_new(&client, &fuzz_lr_client_opts) != 0 ||
            henn__lr_client_keys_for(client, &fake, FUZZ_LR_DIM, henn__lr_depth(3)) != 0)
            __builtin_trap();
    }
    fake.ctx = &f;
    if (henn_lr_model_init(&m, FUZZ_LR_DIM) != 0)
        __builtin_trap();
    (void)henn_lr_client_train(client, &fake, &m, &d, &o, NULL, NULL);
    if (!(m.w[0] == m.w[0]) || !(m.b == m.b))
        __builtin_trap(); /* weights are finite or the start (0) */
    if (henn_lr_client_infer(client, &fake, scores, &m, &d, 0) == 0)
        for (size_t i = 0; i < FUZZ_LR_ROWS; i++)
            if (!(scores[i] >= 0.0 && scores[i] <= 1.0))
                __builtin_trap();
    henn_lr_model_clear(&m);

    /* the parsers on the whole input */
    const henn_ckks_sk *sk = henn__lr_client_sk(client);
    henn_ckks_ct ct = {0}, cts[2];
    memset(cts, 0, sizeof(cts));
    if (henn__lr_parse_weights(&ct, 1, sk->params, data, size, 0, 0, 0x1p40) == 0 &&
        (ct.level != 0 || ct.size != 2))
        __builtin_trap();
    henn_ckks_ct_clear(&ct);
    if (henn__lr_parse_scores(cts, 2, sk->params, data, size, 0x1p40) == 0 &&
        (cts[0].level != 0 || cts[1].level != 0))
        __builtin_trap();
    henn_ckks_ct_clear(&cts[0]);
    henn_ckks_ct_clear(&cts[1]);
    return 0;
}
