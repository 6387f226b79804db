/*
 * "cryptonn-mlp": CryptoNN's training server (henn_cryptonn_server, the
 * MLP) as a session's party, with the authority as a third principal.
 *
 * Config {"model": base64 of henn_nn_model_serialize (dims[0] = the
 * authority's in_dim, dims[L] its classes, softmax output), "nn": as
 * kdd-private, optional "dlog_table": baby steps 1..2^26 (0 or absent: the
 * library's default, min(bound, 2^22))}. The CryptoNN parameters are the
 * authority's: the server receives them with the mpks (MPK request) and
 * checks the model against them.
 *
 * Parties: the owner's client (henn_cryptonn_client, its mpks fetched
 * from the authority out of band) sends BATCH messages as the session's
 * sequenced messages; the authority (henn_cryptonn_authority, holding the
 * msks) answers the server's MPK and key requests through the session's
 * server-driven channel with its own token (henn_svc_authority_serve).
 * The party is built without the authority (creating a session must not
 * wait for it: the authority gets its token from the creation's answer);
 * the henn_cryptonn_server is made, with its MPK request, at the first
 * message. While a message is handled, each key request waits for the
 * authority up to 120 s (router.c, AUTHORITY_TIMEOUT_S); without an answer the handler
 * fails with HENN_ETIMEDOUT, the message is not committed (504, the
 * client retries the same seq) and the party is rebuilt from the log.
 *
 * Durability: every message is logged (BATCH is the only message the
 * server takes and it changes the model; a malformed one gets the same
 * error response again on replay). After a restart the log is replayed
 * through a fresh party and the server ASKS THE AUTHORITY AGAIN for the
 * mpks and every key: key derivation is deterministic given the msk and
 * the key vector (FEIP sk_y = <s, y>, FEBO likewise), and the key vectors
 * are deterministic functions of the replayed state, so the rebuilt model
 * is bit-identical. Logging the key responses instead would let a replay
 * run without the authority, but it would store every function key in
 * the database (tens of MB per epoch for MNIST shapes) and trust stored
 * keys over the authority's; the price of re-asking is that a rebuild
 * needs the authority online and repeats its derivations (its key log
 * shows the replayed requests again).
 */
#include <stdlib.h>
#include <string.h>

#include "henn/cryptonn.h"
#include "service/svc_internal.h"

/*
 * Both nets share one party: the session's channel with a failure flag,
 * the server made at the first message and one message handler; a net
 * supplies how its server is made from the party's initial model, how it
 * handles a message and how it is freed (cn_net).
 */
typedef struct cn_party cn_party;

typedef struct cn_net {
    /* p->srv = a new server for p's initial model, or 0 with p->srv NULL
     * and an error code. */
    int (*server_new)(cn_party *p);
    int (*handle)(void *srv, const uint8_t *req, size_t req_len, uint8_t **resp,
                  size_t *resp_len);
    void (*server_free)(void *srv);
} cn_net;

struct cn_party {
    const cn_net *net;
    henn_nn_model model;  /* cryptonn-mlp: the initial model (until the server exists) */
    henn_cnn_model cnn;   /* cryptonn-lenet5: the initial model */
    henn_nn_opts nn;
    uint64_t dlog_table;
    unsigned threads;
    henn_transport *chan; /* the session's channel (not owned) */
    henn_transport to_authority; /* chan with a failure flag */
    int channel_failed;
    void *srv; /* the net's server; NULL until the first message */
};

/* The channel, remembering whether a call failed (no answer in time, or
 * cancelled): such a failure is the server's, not the message's. */
static int cn_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len)
{
    cn_party *p = ctx;
    int rc = p->chan->call(p->chan->ctx, req, req_len, resp, resp_len);
    if (rc != 0)
        p->channel_failed = rc;
    return rc;
}

static void cn_free(void *party)
{
    cn_party *p = party;
    if (p == NULL)
        return;
    if (p->srv != NULL)
        p->net->server_free(p->srv);
    henn_nn_model_clear(&p->model);
    henn_cnn_model_clear(&p->cnn);
    free(p);
}

/* The common part of a party (after the config's own checks): NULL when
 * out of memory. */
static cn_party *cn_alloc(const cn_net *net, const json_t *dt, const henn__svc_party_opts *o)
{
    cn_party *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->net = net;
    henn_nn_model_init_empty(&p->model);
    p->dlog_table = dt != NULL ? (uint64_t)json_integer_value(dt) : 0;
    p->threads = o->threads;
    p->chan = o->to_authority;
    p->to_authority.call = cn_call;
    p->to_authority.ctx = p;
    return p;
}

/* "dlog_table": absent, or an integer in 0..2^26. */
static int cn_dlog_ok(const json_t *dt)
{
    return dt == NULL ||
           (json_is_integer(dt) && json_integer_value(dt) >= 0 &&
            json_integer_value(dt) <= (1 << 26));
}

/* A CryptoNN ERROR response (docs/FORMATS.md: "HCN" 01, type 255, three
 * zero bytes, payload length 4, the negated code, little-endian). */
static int cn_error(uint8_t **out, size_t *out_len, int code)
{
    uint32_t v = (uint32_t)-code;
    uint8_t *b = malloc(16);
    if (b == NULL)
        return HENN_ENOMEM;
    memcpy(b, "HCN\x01\xff\0\0\0\x04\0\0\0", 12);
    b[12] = (uint8_t)v;
    b[13] = (uint8_t)(v >> 8);
    b[14] = (uint8_t)(v >> 16);
    b[15] = (uint8_t)(v >> 24);
    *out = b;
    *out_len = 16;
    return 0;
}

/* One message (BATCH) of either net. */
static int cn_handle(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    cn_party *p = party;
    int rc;

    *resp = NULL;
    *resp_len = 0;
    p->channel_failed = 0;
    if (p->srv == NULL) {
        rc = p->net->server_new(p);
        if (rc != 0) {
            p->srv = NULL;
            if (p->channel_failed != 0 || rc == HENN_ENOMEM)
                return p->channel_failed != 0 ? HENN_ETIMEDOUT : rc;
            /* The authority's parameters do not fit the model (or its
             * answer was malformed): an error response, the session stays
             * without a server until the config's model fits. */
            return cn_error(resp, resp_len, rc);
        }
    }
    rc = p->net->handle(p->srv, req, req_len, resp, resp_len);
    if (rc == 0 && p->channel_failed != 0) {
        /* Not the message's fault: nothing is committed, the party is
         * rebuilt from the log (its state may have moved). */
        free(*resp);
        *resp = NULL;
        *resp_len = 0;
        return HENN_ETIMEDOUT;
    }
    return rc;
}

static int cn_changes(const uint8_t *req, size_t len)
{
    (void)req;
    (void)len;
    return 1;
}

/* ---- cryptonn-mlp ---- */

static int mlp_server_new(cn_party *p)
{
    henn_cryptonn_server *s = NULL;
    int rc = henn_cryptonn_server_new(&s, &p->model, &p->nn, &p->to_authority, p->dlog_table,
                                      p->threads);
    p->srv = rc == 0 ? s : NULL;
    return rc;
}

static int mlp_handle(void *srv, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    return henn_cryptonn_server_handle(srv, req, req_len, resp, resp_len);
}

static void mlp_server_free(void *srv)
{
    henn_cryptonn_server_free(srv);
}

static const cn_net mlp_net = {mlp_server_new, mlp_handle, mlp_server_free};

static int mlp_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    cn_party *p;
    json_t *dt = json_object_get(config, "dlog_table");
    const char *key;
    json_t *v;
    int rc;

    *party = NULL;
    if (o->to_authority == NULL || !json_is_object(config))
        return HENN_EINVAL;
    /* Known fields only (the server adds the authority's token hash). */
    json_object_foreach((json_t *)(uintptr_t)config, key, v) {
        if (strcmp(key, "model") != 0 && strcmp(key, "nn") != 0 &&
            strcmp(key, "dlog_table") != 0 && strcmp(key, "authority_token_hash") != 0)
            return HENN_EINVAL;
    }
    if (!cn_dlog_ok(dt))
        return HENN_EINVAL;
    if ((p = cn_alloc(&mlp_net, dt, o)) == NULL)
        return HENN_ENOMEM;
    rc = henn__svc_config_nn(&p->nn, config);
    if (rc == 0)
        rc = henn__svc_config_model(&p->model, config);
    /* The shapes the server will need (the authority's in_dim and
     * classes are checked when its parameters arrive). */
    if (rc == 0 && (p->model.layers < 1 || p->model.dims[0] > HENN_CRYPTONN_MAX_IN ||
                    p->model.dims[p->model.layers] > HENN_CRYPTONN_MAX_CLASSES))
        rc = HENN_EINVAL;
    if (rc != 0) {
        cn_free(p);
        return rc;
    }
    *party = p;
    return 0;
}

static int mlp_result(void *party, uint8_t **out, size_t *out_len)
{
    cn_party *p = party;
    return henn_nn_model_serialize(out, out_len,
                                   p->srv != NULL ? henn_cryptonn_server_model(p->srv)
                                                  : &p->model);
}

const henn__svc_protocol henn__svc_cryptonn_mlp = {
    "cryptonn-mlp", mlp_create, cn_handle, cn_changes, mlp_result, cn_free, NULL, NULL, 1,
};

/*
 * "cryptonn-lenet5": LeNet-5 with the encrypted first convolution
 * (henn_cryptonn_lenet_server_*), the same three parties, messages,
 * channel and replay as the MLP. Config {"lenet5": {"seed": S, "pool":
 * "max"|"avg" (default max)} (henn_cnn_model_init_lenet5 with pad 0 and
 * ReLU, the model the server needs), "nn": as kdd-private (LeNet's
 * setting is {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9}), optional
 * "dlog_table"}. The authority's parameters must have the BATCH layout,
 * in_dim 784 and 10 classes. Result: the model being trained
 * (henn_cnn_model_serialize, "HCNM"; the initial model before the first
 * message), as cryptonn-mlp's.
 */
static int ln_server_new(cn_party *p)
{
    henn_cryptonn_lenet *L = NULL;
    int rc = henn_cryptonn_lenet_server_new(&L, &p->cnn, &p->nn, &p->to_authority,
                                            p->dlog_table, p->threads);
    p->srv = rc == 0 ? L : NULL;
    return rc;
}

static int ln_handle(void *srv, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    return henn_cryptonn_lenet_handle(srv, req, req_len, resp, resp_len);
}

static void ln_server_free(void *srv)
{
    henn_cryptonn_lenet_free(srv);
}

static const cn_net lenet_net = {ln_server_new, ln_handle, ln_server_free};

static int ln_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    cn_party *p;
    json_t *dt = json_object_get(config, "dlog_table"), *ln = json_object_get(config, "lenet5");
    json_t *seed = json_object_get(ln, "seed"), *pool = json_object_get(ln, "pool");
    const char *key, *pl = json_string_value(pool);
    json_t *v;
    int rc;

    *party = NULL;
    if (o->to_authority == NULL || !json_is_object(config) || !json_is_object(ln))
        return HENN_EINVAL;
    json_object_foreach((json_t *)(uintptr_t)config, key, v) {
        if (strcmp(key, "lenet5") != 0 && strcmp(key, "nn") != 0 &&
            strcmp(key, "dlog_table") != 0 && strcmp(key, "authority_token_hash") != 0)
            return HENN_EINVAL;
    }
    json_object_foreach(ln, key, v) {
        if (strcmp(key, "seed") != 0 && strcmp(key, "pool") != 0)
            return HENN_EINVAL;
    }
    if (!json_is_integer(seed) || json_integer_value(seed) < 0 ||
        (pool != NULL && (pl == NULL || (strcmp(pl, "max") != 0 && strcmp(pl, "avg") != 0))))
        return HENN_EINVAL;
    if (!cn_dlog_ok(dt))
        return HENN_EINVAL;
    if ((p = cn_alloc(&lenet_net, dt, o)) == NULL)
        return HENN_ENOMEM;
    rc = henn__svc_config_nn(&p->nn, config);
    if (rc == 0)
        rc = henn_cnn_model_init_lenet5(&p->cnn, 0, HENN_NN_RELU,
                                        pl != NULL && strcmp(pl, "avg") == 0 ? HENN_CNN_AVGPOOL
                                                                             : HENN_CNN_MAXPOOL,
                                        (uint64_t)json_integer_value(seed));
    if (rc != 0) {
        cn_free(p);
        return rc == HENN_ENOMEM ? rc : HENN_EINVAL;
    }
    *party = p;
    return 0;
}

static int ln_result(void *party, uint8_t **out, size_t *out_len)
{
    cn_party *p = party;
    return henn_cnn_model_serialize(out, out_len,
                                    p->srv != NULL ? henn_cryptonn_lenet_model(p->srv)
                                                   : &p->cnn);
}

const henn__svc_protocol henn__svc_cryptonn_lenet5 = {
    "cryptonn-lenet5", ln_create, cn_handle, cn_changes, ln_result, cn_free, NULL, NULL, 1,
};
