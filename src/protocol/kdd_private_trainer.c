/*
 * Private training, the model service's side (henn/protocol.h, "Private
 * training"): homomorphic dense layers on the owner's ciphertexts (the
 * INFER/CIPHER pattern of encrypted inference), and the optimiser on the
 * batch-summed gradients the owner sends. The trainer holds a public key
 * only and never receives a label or a per-row value.
 */
#include <math.h>
#include <stdlib.h>

#include "kdd_private.h"

struct henn_private_trainer {
    henn_paillier_pk pk;
    int have_pk, allow_insecure, rerandomize;
    henn_proto_params p;
    henn_trainer_limits lim;
    henn_nn_model model;
    henn_nn_opts nn;
    henn_nn_trainer *nt;
    henn_batch_opts opts;
    henn_proto_stats st;
    uint64_t steps;
    /* Forward-pass state: the next layer expected and the batch's rows;
     * a PGRAD is accepted only when next == layers. */
    size_t next, count;
    henn__noise_reserve noise;
};

/* Test hook (declared in tests): accept keys under 2048 bits. */
void henn__private_trainer_allow_insecure(henn_private_trainer *t);
void henn__private_trainer_allow_insecure(henn_private_trainer *t)
{
    t->allow_insecure = 1;
}

size_t henn_private_min_batch(size_t dim)
{
    return dim + 1;
}

int henn_private_trainer_new(henn_private_trainer **out, const henn_nn_model *model,
                             const henn_nn_opts *nn, const henn_batch_opts *opts)
{
    henn_private_trainer *t;
    int rc;
    *out = NULL;
    if (model == NULL || model->layers == 0 || nn == NULL)
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    henn_paillier_pk_init(&t->pk);
    henn_trainer_limits_default(&t->lim);
    rc = henn_nn_model_copy(&t->model, model);
    if (rc != 0) {
        henn_paillier_pk_clear(&t->pk);
        free(t);
        return rc;
    }
    t->nn = *nn;
    t->nn.max_rows = 1; /* the trainer never runs a batch itself */
    rc = henn_nn_trainer_new(&t->nt, &t->model, &t->nn);
    if (rc != 0) {
        henn_private_trainer_free(t);
        return rc;
    }
    if (opts != NULL)
        t->opts = *opts;
    t->opts.progress = NULL;
    *out = t;
    return 0;
}

void henn_private_trainer_free(henn_private_trainer *t)
{
    if (t == NULL)
        return;
    henn_nn_trainer_free(t->nt);
    henn_nn_model_clear(&t->model);
    henn_paillier_pk_clear(&t->pk);
    henn__noise_reserve_clear(&t->noise);
    free(t);
}

void henn_private_trainer_set_rerandomize(henn_private_trainer *t, int on)
{
    t->rerandomize = on != 0;
}

int henn_private_trainer_set_limits(henn_private_trainer *t, const henn_trainer_limits *l)
{
    if (t == NULL || l == NULL || l->max_key_bits < HENN_PAILLIER_MIN_BITS ||
        l->max_key_bits > HENN_PAILLIER_MAX_BITS)
        return HENN_EINVAL;
    t->lim = *l;
    return 0;
}

const henn_nn_model *henn_private_trainer_model(const henn_private_trainer *t)
{
    return &t->model;
}

void henn_private_trainer_stats(henn_proto_stats *s, uint64_t *steps,
                                const henn_private_trainer *t)
{
    *s = t->st;
    if (steps != NULL)
        *steps = t->steps;
}

static size_t max_layer_dim(const henn_nn_model *m)
{
    size_t l, d = 0;
    for (l = 0; l <= m->layers; l++)
        d = m->dims[l] > d ? m->dims[l] : d;
    return d;
}

static int model_response(henn_private_trainer *t, uint8_t **resp, size_t *resp_len)
{
    henn__wbuf w;
    henn__wbuf_start(&w, HENN_MSG_PMODEL);
    henn__pmodel_write(&w, &t->model, t->steps);
    return henn__wbuf_finish(&w, resp, resp_len);
}

/* PSETUP: u32 nb, n, params, u32 dim, u32 classes. */
static int handle_setup(henn_private_trainer *t, henn__rbuf *r)
{
    size_t nb, n_bits, dim, classes;
    henn_proto_params p;
    mpz_t n;
    int rc = 0;

    nb = henn__rbuf_u32(r);
    if (r->err != 0 || nb == 0 || nb > HENN_PAILLIER_MAX_BITS / 8)
        return HENN_EFORMAT;
    mpz_init(n);
    henn__rbuf_mpz(r, n, nb);
    henn__params_read(r, &p);
    dim = henn__rbuf_u32(r);
    classes = henn__rbuf_u32(r);
    if (henn__rbuf_done(r) != 0) {
        rc = HENN_EFORMAT;
        goto cleanup;
    }
    n_bits = mpz_sizeinbase(n, 2);
    if ((n_bits < HENN_PAILLIER_MIN_BITS && !t->allow_insecure) || n_bits > t->lim.max_key_bits) {
        rc = HENN_EPARAM;
        goto cleanup;
    }
    if (dim != t->model.dims[0] || classes != t->model.dims[t->model.layers]) {
        rc = HENN_EINVAL;
        goto cleanup;
    }
    rc = henn_proto_params_check(&p, max_layer_dim(&t->model), n_bits);
    if (rc != 0)
        goto cleanup;
    if (!t->have_pk || mpz_cmp(n, t->pk.n) != 0) {
        henn_paillier_pk pk;
        henn_paillier_pk_init(&pk);
        rc = henn_paillier_pk_from_n(&pk, n, t->allow_insecure ? HENN_PAILLIER_INSECURE : 0);
        if (rc != 0) {
            henn_paillier_pk_clear(&pk);
            goto cleanup;
        }
        henn__noise_reserve_clear(&t->noise);
        henn_paillier_pk_clear(&t->pk);
        t->pk = pk; /* move */
        t->have_pk = 1;
    }
    t->p = p;
    t->next = 0;
    t->count = 0;
cleanup:
    mpz_clear(n);
    return rc;
}

/*
 * out[h] = E(sum_i q(W[h m + i]) x_i + q(b[h]) 2^fx) in every one of the
 * count slots, q(v) = round(v 2^fw), |v| < 2^wi: offset exponents
 * q + 2^(fw+wi) through the multi-exponentiation, the offset removed with
 * one inverse (as the published protocol's trainer does).
 */
static int dense_layer(henn_private_trainer *t, mpz_t *out, mpz_t *in, size_t m, size_t outs,
                       const float *W, const float *b, size_t count)
{
    const henn_proto_params *p = &t->p;
    uint32_t *e, off = (uint32_t)1 << (p->fw + p->wi);
    int64_t *bq = NULL;
    size_t i, h;
    mpz_t prod, offz, P;
    int rc = 0;

    e = malloc(outs * m * sizeof(uint32_t));
    bq = malloc(count * sizeof(int64_t));
    if (e == NULL || bq == NULL) {
        free(e);
        free(bq);
        return HENN_ENOMEM;
    }
    for (i = 0; i < outs * m && rc == 0; i++) {
        int64_t q;
        rc = henn__quantize(&q, W[i], p->fw, p->wi, 0);
        e[i] = (uint32_t)(q + (int64_t)off);
    }
    if (rc == 0)
        rc = henn__paillier_multi_exp(out, t->pk.n2, (const mpz_t *)in, m, e, outs,
                                      p->fw + p->wi + 1, &t->opts);
    free(e);
    mpz_init_set_ui(prod, 1);
    mpz_init_set_ui(offz, off);
    mpz_init(P);
    for (i = 0; i < m && rc == 0; i++) {
        mpz_mul(prod, prod, in[i]);
        mpz_mod(prod, prod, t->pk.n2);
    }
    if (rc == 0 && mpz_invert(prod, prod, t->pk.n2) == 0)
        rc = HENN_ERANGE;
    if (rc == 0)
        mpz_powm(prod, prod, offz, t->pk.n2);
    for (h = 0; rc == 0 && h < outs; h++) {
        int64_t q;
        rc = henn__quantize(&q, b[h], p->fw, p->wi, 0);
        for (i = 0; rc == 0 && i < count; i++)
            bq[i] = q * ((int64_t)1 << p->fx);
        if (rc != 0)
            break;
        henn__pack(P, bq, count, 1, p->slot_bits, t->pk.n);
        mpz_mul(P, P, t->pk.n);
        mpz_add_ui(P, P, 1);
        mpz_mul(out[h], out[h], prod);
        mpz_mod(out[h], out[h], t->pk.n2);
        mpz_mul(out[h], out[h], P);
        mpz_mod(out[h], out[h], t->pk.n2);
    }
    mpz_clear(prod);
    mpz_clear(offz);
    mpz_clear(P);
    free(bq);
    t->st.homomorphic_outputs += outs;
    return rc;
}

static int rerandomize(henn_private_trainer *t, mpz_t *c, size_t count)
{
    mpz_t *noise = calloc(count, sizeof(mpz_t));
    size_t i;
    int rc;
    if (noise == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        mpz_init(noise[i]);
    rc = henn__noise_take(&t->noise, noise, count, &t->pk, &t->opts);
    if (rc == 0)
        rc = henn__mask_apply(c, NULL, count, &t->pk, noise);
    for (i = 0; i < count; i++)
        henn__mpz_wipe_clear(noise[i]);
    free(noise);
    return rc;
}

/* INFER (the inference format, with chunks): params, u32 layer, u32 count,
 * u32 in_dim, then K = ceil(count / slots) chunks of in_dim ciphertexts
 * (chunk k: rows k slots ..) -> CIPHER with K chunks of outs ciphertexts.
 * Layers must come in order 0, 1, ... with one row count per batch, at
 * least dim + 1 rows, at most HENN_PRIVATE_MAX_BATCH and the limits' max_rows. */
static int handle_infer(henn_private_trainer *t, henn__rbuf *r, uint8_t **resp,
                        size_t *resp_len)
{
    const henn_nn_model *m = &t->model;
    henn_proto_params p;
    size_t l, count, in_dim, outs, i, k, K, width;
    mpz_t *in = NULL, *out = NULL, tmp;
    henn__wbuf w;
    int rc = 0;

    if (!t->have_pk)
        return HENN_EPROTO;
    henn__params_read(r, &p);
    l = henn__rbuf_u32(r);
    count = henn__rbuf_u32(r);
    in_dim = henn__rbuf_u32(r);
    if (r->err != 0 || memcmp(&p, &t->p, sizeof(p)) != 0 || l >= m->layers ||
        in_dim != m->dims[l] || count == 0)
        return HENN_EFORMAT;
    if (count < henn_private_min_batch(m->dims[0]) || count > HENN_PRIVATE_MAX_BATCH ||
        count > t->lim.max_rows)
        return HENN_EINVAL;
    if (l != (t->next == m->layers ? 0 : t->next) || (l > 0 && count != t->count))
        return HENN_EPROTO;
    K = count / p.slots + (count % p.slots != 0);
    width = 2 * henn__nbytes(&t->pk);
    if ((r->len - r->pos) / width != K * in_dim || (r->len - r->pos) % width != 0)
        return HENN_EFORMAT;
    outs = m->dims[l + 1];
    in = calloc(K * in_dim, sizeof(mpz_t));
    out = calloc(K * outs, sizeof(mpz_t));
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return HENN_ENOMEM;
    }
    mpz_init(tmp);
    for (i = 0; i < K * in_dim; i++)
        mpz_init(in[i]);
    for (i = 0; i < K * outs; i++)
        mpz_init(out[i]);
    for (i = 0; i < K * in_dim && rc == 0; i++) {
        henn__rbuf_mpz(r, in[i], width);
        rc = henn__ct_check(&t->pk, in[i], tmp);
    }
    if (rc == 0)
        rc = henn__rbuf_done(r);
    for (k = 0; k < K && rc == 0; k++) {
        size_t ck = count - k * p.slots < p.slots ? count - k * p.slots : p.slots;
        rc = dense_layer(t, out + k * outs, in + k * in_dim, in_dim, outs, m->W[l], m->b[l], ck);
    }
    if (rc == 0 && t->rerandomize)
        rc = rerandomize(t, out, K * outs);
    if (rc == 0) {
        henn__wbuf_start(&w, HENN_MSG_CIPHER);
        henn__wbuf_u32(&w, (uint32_t)l);
        henn__wbuf_u32(&w, l + 1 == m->layers);
        henn__wbuf_u32(&w, (uint32_t)(l + 1 == m->layers ? HENN_NN_IDENTITY : m->act[l]));
        henn__wbuf_u32(&w, (uint32_t)outs);
        for (i = 0; i < K * outs; i++)
            henn__wbuf_mpz(&w, out[i], width);
        rc = henn__wbuf_finish(&w, resp, resp_len);
    }
    if (rc == 0) {
        t->next = l + 1;
        t->count = count;
    } else {
        t->next = 0; /* a failed batch starts over */
    }
    for (i = 0; i < K * in_dim; i++)
        mpz_clear(in[i]);
    for (i = 0; i < K * outs; i++)
        mpz_clear(out[i]);
    mpz_clear(tmp);
    free(in);
    free(out);
    return rc;
}

/* PGRAD: u32 count, u32 layers, per layer gW then gb as f64 (sums over the
 * batch's count rows) -> the optimiser step, PMODEL. */
static int handle_grad(henn_private_trainer *t, henn__rbuf *r)
{
    henn_nn_model *m = &t->model;
    size_t count, layers, l, i, need = 0, maxw = 0;
    float *gW = NULL, *gb = NULL;
    int rc = 0;

    count = henn__rbuf_u32(r);
    layers = henn__rbuf_u32(r);
    if (r->err != 0 || layers != m->layers)
        return HENN_EFORMAT;
    for (l = 0; l < layers; l++) {
        need += (m->dims[l + 1] * m->dims[l] + m->dims[l + 1]) * 8;
        maxw = m->dims[l + 1] * m->dims[l] > maxw ? m->dims[l + 1] * m->dims[l] : maxw;
    }
    if (r->len - r->pos != need)
        return HENN_EFORMAT;
    if (count < henn_private_min_batch(m->dims[0]) || count > HENN_PRIVATE_MAX_BATCH)
        return HENN_EINVAL;
    if (t->next != m->layers || count != t->count)
        return HENN_EPROTO;
    gW = malloc(maxw * sizeof(float));
    gb = malloc(max_layer_dim(m) * sizeof(float));
    if (gW == NULL || gb == NULL) {
        free(gW);
        free(gb);
        return HENN_ENOMEM;
    }
    /* Read and check everything before the first layer is set. */
    for (l = 0; l < layers && rc == 0; l++) {
        size_t nw = m->dims[l + 1] * m->dims[l], nbias = m->dims[l + 1];
        for (i = 0; i < nw + nbias; i++) {
            double v = henn__rbuf_f64(r) / (double)count;
            if (!isfinite(v) || fabs(v) > 1e30)
                rc = HENN_ERANGE;
        }
    }
    if (rc == 0)
        rc = henn__rbuf_done(r);
    r->pos = 8; /* second pass: set the means */
    for (l = 0; l < layers && rc == 0; l++) {
        size_t nw = m->dims[l + 1] * m->dims[l], nbias = m->dims[l + 1];
        for (i = 0; i < nw; i++)
            gW[i] = (float)(henn__rbuf_f64(r) / (double)count);
        for (i = 0; i < nbias; i++)
            gb[i] = (float)(henn__rbuf_f64(r) / (double)count);
        rc = henn_nn_set_grad(t->nt, l, gW, gb);
    }
    if (rc == 0) {
        henn_nn_update(t->nt);
        t->steps++;
    }
    t->next = 0;
    t->count = 0;
    free(gW);
    free(gb);
    return rc;
}

/* PSTEP: u32 g, a PGRAD message of g bytes, a layer-0 INFER message (the
 * rest) -> PSTEPR: u32 m, the PMODEL message of m bytes, the CIPHER
 * message. Both parts are framed and typed before the PGRAD is applied;
 * each is then served as if it came alone. */
static int handle_step(henn_private_trainer *t, henn__rbuf *r, uint8_t **resp, size_t *resp_len)
{
    henn__rbuf rg, ri;
    const uint8_t *g, *in;
    size_t glen, ilen;
    uint8_t *model = NULL, *cipher = NULL;
    size_t model_len = 0, cipher_len = 0;
    henn__wbuf w;
    int tg, ti, rc;

    glen = henn__rbuf_u32(r);
    if (r->err != 0 || glen > r->len - r->pos)
        return HENN_EFORMAT;
    g = henn__rbuf_bytes(r, glen);
    ilen = r->len - r->pos;
    in = henn__rbuf_bytes(r, ilen);
    if (g == NULL || in == NULL || henn__rbuf_open(&rg, &tg, g, glen) != 0 ||
        henn__rbuf_open(&ri, &ti, in, ilen) != 0 || tg != HENN_MSG_PGRAD ||
        ti != HENN_MSG_INFER)
        return HENN_EFORMAT;
    rc = handle_grad(t, &rg);
    if (rc == 0)
        rc = model_response(t, &model, &model_len);
    if (rc == 0)
        rc = handle_infer(t, &ri, &cipher, &cipher_len);
    if (rc == 0) {
        henn__wbuf_start(&w, HENN_MSG_PSTEPR);
        henn__wbuf_u32(&w, (uint32_t)model_len);
        henn__wbuf_bytes(&w, model, model_len);
        henn__wbuf_bytes(&w, cipher, cipher_len);
        rc = henn__wbuf_finish(&w, resp, resp_len);
    }
    free(model);
    free(cipher);
    return rc;
}

int henn_private_trainer_handle(henn_private_trainer *t, const uint8_t *req, size_t req_len,
                                uint8_t **resp, size_t *resp_len)
{
    henn__rbuf r;
    int type, rc;
    *resp = NULL;
    *resp_len = 0;
    rc = henn__rbuf_open(&r, &type, req, req_len);
    t->st.messages++;
    if (rc == 0) {
        switch (type) {
        case HENN_MSG_PSETUP:
            rc = handle_setup(t, &r);
            if (rc == 0)
                rc = model_response(t, resp, resp_len);
            break;
        case HENN_MSG_INFER:
            rc = handle_infer(t, &r, resp, resp_len);
            break;
        case HENN_MSG_PGRAD:
            rc = t->have_pk ? handle_grad(t, &r) : HENN_EPROTO;
            if (rc == 0)
                rc = model_response(t, resp, resp_len);
            break;
        case HENN_MSG_PSTEP:
            rc = t->have_pk ? handle_step(t, &r, resp, resp_len) : HENN_EPROTO;
            break;
        default:
            rc = HENN_EPROTO;
        }
    }
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0) {
        free(*resp);
        *resp = NULL;
        return henn__msg_error(resp, resp_len, rc);
    }
    return 0;
}

static int call_private_trainer(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                                size_t *resp_len)
{
    return henn_private_trainer_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_private_trainer(henn_transport *tr, henn_private_trainer *t)
{
    memset(tr, 0, sizeof(*tr));
    tr->call = call_private_trainer;
    tr->ctx = t;
}
