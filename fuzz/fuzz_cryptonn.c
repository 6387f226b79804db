/*
 * libFuzzer target: CryptoNN message parsing on every side. The first byte
 * picks the parser: the server's BATCH handler, the authority's request
 * handler, the client's reading of an MPK response (replayed through a
 * transport), an authority with convolution geometry (BATCH layout, 5 x 5
 * inputs: KEYS_CONV) or the LeNet-5 server's BATCH handler (batch 1).
 * Small shapes (in_dim 16, batch 4, 2 classes) keep it fast.
 */
#include <stdlib.h>
#include <string.h>

#include "henn/cryptonn.h"

static henn_cryptonn_authority *auth, *conv_auth, *lenet_auth;
static henn_cryptonn_server *srv;
static henn_cryptonn_lenet *lenet;
static henn_transport to_auth, to_lenet_auth;

typedef struct {
    const uint8_t *p;
    size_t n;
} replay;

static int replay_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    replay *r = ctx;
    (void)req;
    (void)req_len;
    *resp = malloc(r->n ? r->n : 1);
    if (*resp == NULL)
        return HENN_ENOMEM;
    if (r->n)
        memcpy(*resp, r->p, r->n);
    *resp_len = r->n;
    return 0;
}

static void setup(void)
{
    henn_cryptonn_params p;
    henn_nn_model m;
    henn_nn_opts o;
    const size_t dims[] = {16, 8, 2};
    if (srv != NULL)
        return;
    if (henn_init() != 0)
        abort();
    henn_cryptonn_params_default(&p, 16, 4, 2);
    if (henn_cryptonn_authority_new(&auth, &p) != 0)
        abort();
    henn_transport_to_cryptonn_authority(&to_auth, auth);
    henn_nn_opts_default(&o);
    if (henn_nn_model_init(&m, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 1) != 0 ||
        henn_cryptonn_server_new(&srv, &m, &o, &to_auth, 1 << 10, 1) != 0)
        abort();
    henn_nn_model_clear(&m);
    henn_cryptonn_params_default(&p, 25, 2, 2);
    p.layout = HENN_CRYPTONN_LAYOUT_BATCH;
    if (henn_cryptonn_authority_new(&conv_auth, &p) != 0)
        abort();
    {
        henn_cnn_model cm;
        henn_cryptonn_params_default(&p, 784, 1, 10);
        p.layout = HENN_CRYPTONN_LAYOUT_BATCH;
        p.d_bits = 12;
        henn_cnn_opts_default(&o);
        if (henn_cryptonn_authority_new(&lenet_auth, &p) != 0 ||
            henn_cnn_model_init_lenet5(&cm, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1) != 0)
            abort();
        henn_transport_to_cryptonn_authority(&to_lenet_auth, lenet_auth);
        if (henn_cryptonn_lenet_server_new(&lenet, &cm, &o, &to_lenet_auth, 1 << 10, 1) != 0)
            abort();
        henn_cnn_model_clear(&cm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    if (size < 1)
        return 0;
    setup();
    switch (data[0] % 5) {
    case 0:
        if (henn_cryptonn_server_handle(srv, data + 1, size - 1, &resp, &resp_len) == 0)
            free(resp);
        break;
    case 1:
        if (henn_cryptonn_authority_handle(auth, data + 1, size - 1, &resp, &resp_len) == 0)
            free(resp);
        break;
    case 3:
        if (henn_cryptonn_authority_handle(conv_auth, data + 1, size - 1, &resp, &resp_len) == 0)
            free(resp);
        break;
    case 4:
        if (henn_cryptonn_lenet_handle(lenet, data + 1, size - 1, &resp, &resp_len) == 0)
            free(resp);
        break;
    default: {
        replay r = {data + 1, size - 1};
        henn_transport t;
        henn_cryptonn_client *c = NULL;
        memset(&t, 0, sizeof(t));
        t.call = replay_call;
        t.ctx = &r;
        if (henn_cryptonn_client_new(&c, &t, 1) == 0)
            henn_cryptonn_client_free(c);
        break;
    }
    }
    return 0;
}
