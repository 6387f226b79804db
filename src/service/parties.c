/*
 * The protocols a session can run, each the service party of an
 * in-process protocol behind one interface (svc_internal.h):
 *  - "kdd-private": the private KDD training's trainer
 *    (henn_private_trainer_*). Config {"model": base64 of
 *    henn_nn_model_serialize, "nn": {"optimizer": "adam"|"sgd", "lr",
 *    "momentum", "beta1", "beta2", "eps"}, optional "rerandomize": bool,
 *    "max_key_bits": n}. Every message it accepts changes its state
 *    (PSETUP: key and parameters; INFER: the forward pass's position,
 *    which PGRAD checks; PGRAD: the weights and the optimiser; PSTEP:
 *    both), so all are logged. Result: the current model (the owner learns it in this
 *    protocol).
 *  - "kdd-infer": encrypted inference on a model the server holds
 *    (henn_trainer_new with no optimiser). Config {"model": base64,
 *    optional "max_key_bits"}. SETUP and DATA change state; INFER does
 *    not. Result: none (the model is the server's).
 *  - "kdd-published": the published KDD system's encrypted-input
 *    training (henn_trainer_* with the optimiser): config as kdd-private.
 *    SETUP and DATA (the upload) change state and are logged; training
 *    runs as a job (jobs.c) whose DECRYPT requests the client answers
 *    through the server-driven channel; the model is kept as the
 *    session's snapshot after every batch, with the optimiser's state and
 *    the job's position (KB_RESUME: a restart rebuilds the party from the
 *    snapshot and the logged upload and resumes the job; the trainer's
 *    masks come from the job's seeded stream, so requests issued again
 *    after a restart are byte-identical). Result: none (the owner learns
 *    nothing about the model in this protocol; encrypted inference with
 *    INFER messages is allowed), unless the config has "release_model":
 *    true (a deployment whose model is the owner's: the trained model;
 *    henn kdd train --server sets it to print its comparison table).
 *  - "lr": logistic regression on CKKS (henn_lr_server_*). Config {}.
 *    KEYS, DATA, TRAIN, STEP and MODEL change state; INFER does not.
 *    Result: none (the server holds only ciphertexts).
 *  - "cryptonn-mlp", "cryptonn-lenet5": CryptoNN's training servers with
 *    the authority as a third party (party_cryptonn.c, which says how
 *    replay reaches it).
 * The handlers are deterministic functions of the state and the request
 * for everything replay needs (homomorphic products, optimiser steps;
 * the randomness of re-randomised outputs does not enter the state), so
 * replaying the logged requests through a fresh party rebuilds the state
 * bit for bit (test_service_server checks the model).
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "henn/lrproto.h"
#include "henn/protocol.h"
#include "service/svc_internal.h"

/* Test hooks of the trainers (src/protocol/kdd_private_trainer.c,
 * trainer.c): accept keys under 2048 bits. */
void henn__private_trainer_allow_insecure(henn_private_trainer *t);
void henn__trainer_allow_insecure(henn_trainer *t);

/* The trainer's resumable training (src/protocol/trainer.c, training path). */
typedef int (*henn__trainer_batch_fn)(void *user, size_t next, double total, size_t done);
int henn__trainer_train_epoch_from(henn_trainer *t, henn_transport *to_owner, uint64_t seed,
                                   size_t first, double *total, size_t *done,
                                   henn__trainer_batch_fn after, void *after_user,
                                   henn_progress_fn progress, void *user);
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);
int henn__trainer_state_get(uint8_t **buf, size_t *len, const henn_trainer *t);
int henn__trainer_state_set(henn_trainer *t, const uint8_t *buf, size_t len);

/* A henn_nn_model from config's "model": base64 of the serialised model. */
static int config_model(henn_nn_model *m, const json_t *config)
{
    const char *b64 = json_string_value(json_object_get(config, "model"));
    size_t n, len;
    uint8_t *buf;
    int rc;

    henn_nn_model_init_empty(m);
    if (b64 == NULL)
        return HENN_EINVAL;
    n = strlen(b64);
    buf = malloc(n / 4 * 3 + 3);
    if (buf == NULL)
        return HENN_ENOMEM;
    if (sodium_base642bin(buf, n / 4 * 3 + 3, b64, n, " \r\n", &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(buf);
        return HENN_EINVAL;
    }
    rc = henn_nn_model_deserialize(m, buf, len);
    free(buf);
    return rc == 0 ? 0 : HENN_EINVAL;
}

static int config_limits(henn_trainer_limits *l, const json_t *config)
{
    json_t *v = json_object_get(config, "max_key_bits");
    henn_trainer_limits_default(l);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < HENN_PAILLIER_MIN_BITS ||
        json_integer_value(v) > HENN_PAILLIER_MAX_BITS)
        return HENN_EINVAL;
    l->max_key_bits = (size_t)json_integer_value(v);
    return 0;
}

/* A finite float field (absent: keep *f). */
static int config_float(float *f, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    double d;
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return HENN_EINVAL;
    d = json_number_value(v);
    if (!isfinite(d) || fabs(d) > 1e30)
        return HENN_EINVAL;
    *f = (float)d;
    return 0;
}

static int config_nn(henn_nn_opts *nn, const json_t *config)
{
    const json_t *o = json_object_get(config, "nn");
    json_t *opt;
    henn_nn_opts_default(nn);
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return HENN_EINVAL;
    opt = json_object_get(o, "optimizer");
    if (opt != NULL) {
        const char *s = json_string_value(opt);
        if (s != NULL && strcmp(s, "adam") == 0)
            nn->optimizer = HENN_NN_ADAM;
        else if (s != NULL && strcmp(s, "sgd") == 0)
            nn->optimizer = HENN_NN_SGD;
        else if (json_is_integer(opt) && json_integer_value(opt) == HENN_NN_ADAM)
            nn->optimizer = HENN_NN_ADAM;
        else if (json_is_integer(opt) && json_integer_value(opt) == HENN_NN_SGD)
            nn->optimizer = HENN_NN_SGD;
        else
            return HENN_EINVAL;
    }
    if (config_float(&nn->lr, o, "lr") != 0 || config_float(&nn->momentum, o, "momentum") != 0 ||
        config_float(&nn->beta1, o, "beta1") != 0 || config_float(&nn->beta2, o, "beta2") != 0 ||
        config_float(&nn->eps, o, "eps") != 0)
        return HENN_EINVAL;
    if (!(nn->lr > 0.0f) || !(nn->momentum >= 0.0f && nn->momentum < 1.0f) ||
        !(nn->beta1 >= 0.0f && nn->beta1 < 1.0f) || !(nn->beta2 >= 0.0f && nn->beta2 < 1.0f) ||
        !(nn->eps > 0.0f))
        return HENN_EINVAL;
    return 0;
}

/* The config readers for the adapters in other files (party_cryptonn.c). */
int henn__svc_config_model(henn_nn_model *m, const json_t *config)
{
    return config_model(m, config);
}

int henn__svc_config_nn(henn_nn_opts *nn, const json_t *config)
{
    return config_nn(nn, config);
}

/* Type of a "HNP\x01" message, or -1. */
static int kdd_type(const uint8_t *req, size_t len)
{
    return henn_msg_type(req, len);
}

/* ---- kdd-private ---- */

static int kp_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_trainer_limits lim;
    henn_batch_opts bo = {o->threads, NULL, NULL};
    henn_private_trainer *t = NULL;
    json_t *rr = json_object_get(config, "rerandomize");
    int rc;

    *party = NULL;
    if (rr != NULL && !json_is_boolean(rr))
        return HENN_EINVAL;
    rc = config_nn(&nn, config);
    if (rc == 0)
        rc = config_limits(&lim, config);
    if (rc != 0)
        return rc;
    rc = config_model(&m, config);
    if (rc == 0)
        rc = henn_private_trainer_new(&t, &m, &nn, &bo);
    henn_nn_model_clear(&m);
    if (rc == 0)
        rc = henn_private_trainer_set_limits(t, &lim);
    if (rc != 0) {
        henn_private_trainer_free(t);
        return rc;
    }
    if (o->allow_insecure)
        henn__private_trainer_allow_insecure(t);
    henn_private_trainer_set_rerandomize(t, rr != NULL && json_is_true(rr));
    *party = t;
    return 0;
}

static int kp_handle(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    return henn_private_trainer_handle(party, req, req_len, resp, resp_len);
}

static int kp_changes(const uint8_t *req, size_t len)
{
    int t = kdd_type(req, len);
    return t == HENN_MSG_PSETUP || t == HENN_MSG_INFER || t == HENN_MSG_PGRAD ||
           t == HENN_MSG_PSTEP;
}

static int kp_result(void *party, uint8_t **out, size_t *out_len)
{
    return henn_nn_model_serialize(out, out_len, henn_private_trainer_model(party));
}

static void kp_free(void *party)
{
    henn_private_trainer_free(party);
}

/* ---- kdd-infer ---- */

static int ki_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    henn_nn_model m;
    henn_trainer_limits lim;
    henn_batch_opts bo = {o->threads, NULL, NULL};
    henn_trainer *t = NULL;
    int rc;

    *party = NULL;
    rc = config_limits(&lim, config);
    if (rc != 0)
        return rc;
    rc = config_model(&m, config);
    if (rc == 0)
        rc = henn_trainer_new(&t, &m, NULL, &bo);
    henn_nn_model_clear(&m);
    if (rc == 0)
        rc = henn_trainer_set_limits(t, &lim);
    if (rc != 0) {
        henn_trainer_free(t);
        return rc;
    }
    if (o->allow_insecure)
        henn__trainer_allow_insecure(t);
    *party = t;
    return 0;
}

static int ki_handle(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    return henn_trainer_handle(party, req, req_len, resp, resp_len);
}

static int ki_changes(const uint8_t *req, size_t len)
{
    int t = kdd_type(req, len);
    return t == HENN_MSG_SETUP || t == HENN_MSG_DATA;
}

static void ki_free(void *party)
{
    henn_trainer_free(party);
}

/* ---- lr ---- */

static int lr_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    henn_lr_server_limits lim;
    henn_batch_opts bo = {o->threads, NULL, NULL};
    henn_lr_server *s = NULL;
    int rc;

    *party = NULL;
    if (json_object_size(config) != 0)
        return HENN_EINVAL;
    henn_lr_server_limits_default(&lim);
    lim.allow_insecure = o->allow_insecure;
    rc = henn_lr_server_new(&s, &lim, &bo);
    if (rc != 0)
        return rc;
    *party = s;
    return 0;
}

static int lr_handle(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    return henn_lr_server_handle(party, req, req_len, resp, resp_len);
}

static int lr_changes(const uint8_t *req, size_t len)
{
    int t = henn_lr_msg_type(req, len);
    return t == HENN_LR_MSG_KEYS || t == HENN_LR_MSG_DATA || t == HENN_LR_MSG_TRAIN ||
           t == HENN_LR_MSG_STEP || t == HENN_LR_MSG_MODEL;
}

static void lr_free(void *party)
{
    henn_lr_server_free(party);
}

/* ---- kdd-published ---- */

/* The trainer and whether the owner may download its model. */
typedef struct kb_party {
    henn_trainer *t;
    int release;
} kb_party;

static int kb_create(void **party, const json_t *config, const henn__svc_party_opts *o)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_trainer_limits lim;
    henn_batch_opts bo = {o->threads, NULL, NULL};
    henn_trainer *t = NULL;
    json_t *rel = json_object_get(config, "release_model");
    kb_party *kb;
    int rc;

    *party = NULL;
    if (rel != NULL && !json_is_boolean(rel))
        return HENN_EINVAL;
    rc = config_nn(&nn, config);
    if (rc == 0)
        rc = config_limits(&lim, config);
    if (rc != 0)
        return rc;
    kb = calloc(1, sizeof(*kb));
    if (kb == NULL)
        return HENN_ENOMEM;
    rc = config_model(&m, config);
    if (rc == 0)
        rc = henn_trainer_new(&t, &m, &nn, &bo);
    henn_nn_model_clear(&m);
    if (rc == 0)
        rc = henn_trainer_set_limits(t, &lim);
    if (rc != 0) {
        henn_trainer_free(t);
        free(kb);
        return rc;
    }
    if (o->allow_insecure)
        henn__trainer_allow_insecure(t);
    kb->t = t;
    kb->release = rel != NULL && json_is_true(rel);
    *party = kb;
    return 0;
}

static int kb_handle(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    return henn_trainer_handle(((kb_party *)party)->t, req, req_len, resp, resp_len);
}

static void kb_free(void *party)
{
    if (party != NULL)
        henn_trainer_free(((kb_party *)party)->t);
    free(party);
}

/* The trained model, when the session's config has "release_model": true. */
static int kb_result(void *party, uint8_t **out, size_t *out_len)
{
    kb_party *kb = party;
    *out = NULL;
    *out_len = 0;
    if (!kb->release)
        return HENN_EPROTO;
    return henn_nn_model_serialize(out, out_len, henn_trainer_model(kb->t));
}

static int kb_snapshot(void *party, uint8_t **out, size_t *out_len)
{
    return henn_nn_model_serialize(out, out_len, henn_trainer_model(((kb_party *)party)->t));
}

static int kb_train_epoch(void *party, henn_transport *to_owner, uint64_t seed,
                          henn_progress_fn progress, void *user, double *loss)
{
    return henn_trainer_train_epoch(((kb_party *)party)->t, to_owner, seed, progress, user, loss);
}

static void kb_set_key(void *party, const uint8_t *key)
{
    henn__trainer_set_mask_key(((kb_party *)party)->t, key, 0);
}

static int kb_epoch_from(void *party, henn_transport *to_owner, uint64_t seed, size_t first,
                         double *total, size_t *done, henn__svc_batch_fn after, void *after_user,
                         henn_progress_fn progress, void *user, double *loss)
{
    int rc = henn__trainer_train_epoch_from(((kb_party *)party)->t, to_owner, seed, first, total,
                                            done, after, after_user, progress, user);
    *loss = rc == 0 && *done > 0 ? *total / (double)*done : 0.0;
    return rc;
}

static int kb_state_get(void *party, uint8_t **buf, size_t *len)
{
    return henn__trainer_state_get(buf, len, ((kb_party *)party)->t);
}

static int kb_state_set(void *party, const uint8_t *buf, size_t len)
{
    return henn__trainer_state_set(((kb_party *)party)->t, buf, len);
}

static const henn__svc_resume KB_RESUME = {kb_set_key, kb_epoch_from, kb_state_get, kb_state_set};

static const henn__svc_protocol PROTOCOLS[] = {
    {"kdd-private", kp_create, kp_handle, kp_changes, kp_result, kp_free, NULL, NULL, 0},
    {"kdd-infer", ki_create, ki_handle, ki_changes, NULL, ki_free, NULL, NULL, 0},
    {"kdd-published", kb_create, kb_handle, ki_changes, kb_result, kb_free, kb_train_epoch,
     kb_snapshot, 0},
    {"lr", lr_create, lr_handle, lr_changes, NULL, lr_free, NULL, NULL, 0},
};

const henn__svc_resume *henn__svc_protocol_resume(const henn__svc_protocol *p)
{
    return p != NULL && p->train_epoch == kb_train_epoch ? &KB_RESUME : NULL;
}

const henn__svc_protocol *henn__svc_protocol_find(const char *name)
{
    size_t i;
    for (i = 0; name != NULL && i < sizeof(PROTOCOLS) / sizeof(PROTOCOLS[0]); i++)
        if (strcmp(PROTOCOLS[i].name, name) == 0)
            return &PROTOCOLS[i];
    if (name != NULL && strcmp(name, henn__svc_cryptonn_mlp.name) == 0)
        return &henn__svc_cryptonn_mlp;
    if (name != NULL && strcmp(name, henn__svc_cryptonn_lenet5.name) == 0)
        return &henn__svc_cryptonn_lenet5;
    return NULL;
}
