/*
 * cryptonn_lenet.c: CryptoNN with the encrypted first convolution
 * (henn/cryptonn.h, "LeNet-5"). The server role: a BATCH message from a
 * henn_cryptonn_client (BATCH layout: the batch of images as ONE FEIP
 * vector, one c_0, and FEBO ciphertexts of the one-hot labels), KEYS_CONV
 * requests to the authority through a henn_transport (5 x 5 filters on
 * the patches of each image, delta1 maps on shifted positions), FEBO
 * "sub" keys for the predictions (the labels, as in the paper), and
 * everything after conv1 in plaintext. The twin runs the same arithmetic
 * with the inner products computed in the clear.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonn_internal.h"
#include "henn/cnn.h"

#define K HENN__CN_K
#define KK HENN__CN_KK

struct henn_cryptonn_lenet {
    henn_cryptonn_params p;
    int encrypted;
    unsigned threads;
    henn_cnn_model m;
    henn_cnn_trainer *t;
    size_t ih, iw, oc, oh, ow, P, in, C; /* image, conv1 and class shapes */
    /* server: keys and ciphertexts */
    henn_transport *to_auth;
    henn_feip_mpk mpk[3]; /* [2]: the batch vector's */
    henn_febo_mpk bo;
    henn_fe_dlog dl;
    henn_feip_ct ct;
    henn_feip_ct0_tab tab;
    henn_febo_ct *cb;  /* [batch x classes] */
    henn_febo_fk *bk;  /* [batch x classes] */
    henn_feip_fk *fk;  /* [batch x oc x P] forward keys, then [oc x 25] backward */
    /* all-in-one (henn_cryptonn_lenet_new, encrypted): the other parties,
     * reached only through loopback transports */
    henn_cryptonn_authority *own_a;
    henn_cryptonn_client *own_c;
    henn_transport ta_srv, ta_cli, ts;
    /* the last batch (the server's view) */
    size_t rows;
    int fd;
    int64_t *xq; /* twin only */
    int64_t *wq, *zq, *dq, *g, *febo, *yq;
    uint8_t *labels;
    float *Z1, *dW1, *prob;
    uint64_t max_abs;
    henn_cryptonn_stats st;
};

static uint64_t uabs(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static void track(henn_cryptonn_lenet *L, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (uabs(v[i]) > L->max_abs)
            L->max_abs = uabs(v[i]);
}

uint64_t henn_cryptonn_lenet_dlog_bound(const henn_cryptonn_params *p)
{
    if (p == NULL || p->w_bits > 24 || p->d_bits > 24)
        return 0;
    uint64_t a = (uint64_t)KK * p->x_scale << p->w_bits;
    uint64_t b = ((uint64_t)p->batch * 576u * p->x_scale) << p->d_bits;
    return a > b ? a : b;
}

void henn_cryptonn_lenet_free(henn_cryptonn_lenet *L)
{
    if (L == NULL)
        return;
    henn_cnn_trainer_free(L->t);
    henn_cnn_model_clear(&L->m);
    for (int i = 0; i < 3; i++)
        henn_feip_mpk_clear(&L->mpk[i]);
    henn_fe_dlog_clear(&L->dl);
    henn_feip_ct_clear(&L->ct);
    henn_feip_ct0_tab_clear(&L->tab);
    if (L->fk != NULL)
        henn_memzero(L->fk, (size_t)L->p.batch * L->oc * L->P * sizeof(*L->fk));
    if (L->xq != NULL)
        henn_memzero(L->xq, (size_t)L->p.batch * L->in * sizeof(*L->xq));
    free(L->cb);
    free(L->bk);
    free(L->fk);
    free(L->xq);
    free(L->wq);
    free(L->zq);
    free(L->dq);
    free(L->g);
    free(L->febo);
    free(L->yq);
    free(L->labels);
    free(L->Z1);
    free(L->dW1);
    free(L->prob);
    henn_cryptonn_client_free(L->own_c);
    henn_cryptonn_authority_free(L->own_a);
    free(L);
}

static int shapes_ok(const henn_cnn_model *model, const henn_cryptonn_params *p)
{
    return model != NULL && p != NULL && model->layers >= 2 &&
           model->layer[0].kind == HENN_CNN_CONV && model->layer[0].k == K &&
           model->layer[0].pad == 0 && model->in_c == 1 && p->batch >= 1 &&
           p->batch <= HENN_CRYPTONN_MAX_BATCH && p->in_dim == model->in_h * model->in_w &&
           model->in_h == model->in_w && henn__cn_conv_side(p->in_dim) == model->in_h &&
           p->x_scale >= 1 && p->x_scale <= 65535 && p->fw <= 20 && p->w_bits >= 1 &&
           p->w_bits <= 24 && p->d_bits >= 1 && p->d_bits <= 24 && p->fl >= 1 &&
           p->fl <= 20 && model->layer[0].out_h * model->layer[0].out_w == 576 &&
           henn_cnn_classes(model) == p->classes &&
           henn_cryptonn_lenet_dlog_bound(p) < ((uint64_t)1 << 40);
}

/* the common part: model copy, trainer, buffers */
static int lenet_alloc(henn_cryptonn_lenet **out, const henn_cnn_model *model,
                       const henn_nn_opts *o, const henn_cryptonn_params *p, unsigned threads,
                       int encrypted)
{
    henn_cryptonn_lenet *L = calloc(1, sizeof *L);
    henn_nn_opts oo;
    int rc;
    if (L == NULL)
        return HENN_ENOMEM;
    L->p = *p;
    L->encrypted = encrypted;
    L->threads = threads == 0 ? 2 : threads;
    L->ih = model->in_h;
    L->iw = model->in_w;
    L->in = L->ih * L->iw;
    L->oc = model->layer[0].out_c;
    L->oh = model->layer[0].out_h;
    L->ow = model->layer[0].out_w;
    L->P = L->oh * L->ow;
    L->C = p->classes;
    rc = henn_cnn_model_copy(&L->m, model);
    if (rc != 0)
        goto fail;
    oo = *o;
    oo.max_rows = p->batch;
    rc = henn_cnn_trainer_new(&L->t, &L->m, &oo);
    if (rc != 0)
        goto fail;
    size_t B = p->batch, O = L->oc * L->P, C = L->C;
    L->xq = encrypted ? NULL : calloc(B * L->in, sizeof(*L->xq));
    L->wq = calloc(L->oc * KK, sizeof(*L->wq));
    L->zq = calloc(B * O, sizeof(*L->zq));
    L->dq = calloc(B * O, sizeof(*L->dq));
    L->g = calloc(L->oc * KK, sizeof(*L->g));
    L->febo = calloc(B * C, sizeof(*L->febo));
    L->yq = calloc(B * C, sizeof(*L->yq));
    L->labels = calloc(B, 1);
    L->Z1 = calloc(B * O, sizeof(*L->Z1));
    L->dW1 = calloc(L->oc * KK, sizeof(*L->dW1));
    L->prob = calloc(B * C, sizeof(*L->prob));
    if (encrypted) {
        L->cb = calloc(B * C, sizeof(*L->cb));
        L->bk = calloc(B * C, sizeof(*L->bk));
        L->fk = calloc(B * O, sizeof(*L->fk));
    }
    rc = HENN_ENOMEM;
    if ((!encrypted && L->xq == NULL) || L->wq == NULL || L->zq == NULL || L->dq == NULL ||
        L->g == NULL || L->febo == NULL || L->yq == NULL || L->labels == NULL ||
        L->Z1 == NULL || L->dW1 == NULL || L->prob == NULL ||
        (encrypted && (L->cb == NULL || L->bk == NULL || L->fk == NULL)))
        goto fail;
    *out = L;
    return 0;
fail:
    henn_cryptonn_lenet_free(L);
    return rc;
}

int henn_cryptonn_lenet_server_new(henn_cryptonn_lenet **out, const henn_cnn_model *model,
                                   const henn_nn_opts *o, henn_transport *to_authority,
                                   uint64_t dlog_table, unsigned threads)
{
    henn_cryptonn_params p;
    henn_feip_mpk mpk[3];
    henn_febo_mpk bo;
    henn_cryptonn_lenet *L = NULL;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (model == NULL || o == NULL || to_authority == NULL)
        return HENN_EINVAL;
    rc = henn__cn_fetch_mpk(to_authority, &p, mpk, &bo);
    if (rc != 0)
        return rc;
    if (p.layout != HENN_CRYPTONN_LAYOUT_BATCH || !shapes_ok(model, &p)) {
        rc = HENN_EINVAL;
        goto fail;
    }
    rc = lenet_alloc(&L, model, o, &p, threads, 1);
    if (rc != 0)
        goto fail;
    memcpy(L->mpk, mpk, sizeof mpk);
    memset(mpk, 0, sizeof mpk);
    L->bo = bo;
    L->to_auth = to_authority;
    {
        uint64_t bound = henn_cryptonn_lenet_dlog_bound(&p), T;
        if (bound < ((uint64_t)1 << (p.fl + 1)))
            bound = (uint64_t)1 << (p.fl + 1); /* FEBO results */
        T = dlog_table != 0 ? dlog_table : ((uint64_t)1 << 22);
        rc = henn_fe_dlog_init(&L->dl, bound, T < bound ? T : bound);
        if (rc != 0)
            goto fail;
    }
    *out = L;
    return 0;
fail:
    for (int i = 0; i < 3; i++)
        henn_feip_mpk_clear(&mpk[i]);
    henn_cryptonn_lenet_free(L);
    return rc;
}

int henn_cryptonn_lenet_new(henn_cryptonn_lenet **out, const henn_cnn_model *model,
                            const henn_nn_opts *o, const henn_cryptonn_params *p,
                            uint64_t dlog_table, unsigned threads, int encrypted)
{
    henn_cryptonn_params q;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_lenet *L = NULL;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (o == NULL || !shapes_ok(model, p))
        return HENN_EINVAL;
    if (!encrypted)
        return lenet_alloc(out, model, o, p, threads, 0);
    /* the three parties, connected by loopback transports only */
    q = *p;
    q.layout = HENN_CRYPTONN_LAYOUT_BATCH;
    rc = henn_cryptonn_authority_new(&a, &q);
    if (rc != 0)
        return rc == HENN_EPARAM ? HENN_EINVAL : rc;
    henn_cryptonn_authority_set_threads(a, threads == 0 ? 2 : threads);
    /* L does not exist yet: the server's transport lives in a heap block
     * owned by L once it does, so build L around a temporary first */
    henn_transport ta;
    henn_transport_to_cryptonn_authority(&ta, a);
    rc = henn_cryptonn_lenet_server_new(&L, model, o, &ta, dlog_table, threads);
    if (rc != 0) {
        henn_cryptonn_authority_free(a);
        return rc;
    }
    L->own_a = a;
    L->ta_srv = ta;
    L->to_auth = &L->ta_srv;
    henn_transport_to_cryptonn_authority(&L->ta_cli, a);
    rc = henn_cryptonn_client_new(&L->own_c, &L->ta_cli, threads);
    if (rc != 0) {
        henn_cryptonn_lenet_free(L);
        return rc;
    }
    henn_transport_to_cryptonn_lenet(&L->ts, L);
    *out = L;
    return 0;
}

/* ---- keys through the authority ---- */

/* KEYS_CONV kind 0 (the filters wq on every patch of images 0..rows-1) or
 * kind 1 (the delta1 maps dq of rows images); keys into L->fk */
static int get_conv_keys(henn_cryptonn_lenet *L, int kind)
{
    henn__cn_w w;
    henn__cn_r r;
    uint8_t *req, *resp = NULL, *dst;
    size_t req_len, resp_len = 0, i, k, nv, want, O = L->oc * L->P;
    double t0 = henn__cn_now(), t1;
    int rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_CONV);
    henn__cn_w_u8(&w, (uint8_t)kind);
    henn__cn_w_u32(&w, (uint32_t)L->oc);
    if (kind == 1)
        henn__cn_w_u32(&w, (uint32_t)L->rows);
    nv = kind == 0 ? L->oc * KK : L->oc * L->rows * L->P;
    dst = henn__cn_w_grow(&w, nv * 8);
    if (dst != NULL) {
        for (i = 0; i < nv; i++) {
            /* kind 1: map f is dq[., f, .] over the rows images */
            int64_t v = kind == 0 ? L->wq[i]
                                  : L->dq[(i % (L->rows * L->P)) / L->P * O +
                                          (i / (L->rows * L->P)) * L->P + i % L->P];
            for (k = 0; k < 8; k++)
                dst[i * 8 + k] = (uint8_t)((uint64_t)v >> (8 * k));
        }
    }
    if (kind == 0) {
        henn__cn_w_u32(&w, (uint32_t)L->rows);
        for (i = 0; i < L->rows; i++)
            henn__cn_w_u32(&w, (uint32_t)i);
    }
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = henn__cn_roundtrip(L->to_auth, req, req_len, HENN__CN_KEYS_CONV_RESP, &resp, &resp_len,
                            &r);
    t1 = henn__cn_now();
    L->st.t_keys += t1 - t0;
    if (rc != 0)
        return rc;
    want = kind == 0 ? L->rows * O : L->oc * KK;
    if (henn__cn_r_u32(&r) != want)
        rc = HENN_EFORMAT;
    if (rc == 0) {
        const uint8_t *b = henn__cn_r_bytes(&r, want * HENN__CN_FK_BYTES);
        rc = henn__cn_r_done(&r);
        if (rc == 0)
            rc = henn__cn_read_fks(L->fk, b, want, L->mpk[2].n, L->threads);
    }
    free(resp);
    L->st.keys_ip += want;
    L->st.t_parse += henn__cn_now() - t1;
    return rc;
}

/* ---- forward: one task per (image, filter), 576 decryptions ---- */

static int fwd_task(void *arg, size_t it)
{
    henn_cryptonn_lenet *L = arg;
    size_t b = it / L->oc, f = it % L->oc, P = L->P, S = L->iw;
    const int64_t *w = L->wq + f * KK;
    int64_t *z = L->zq + b * L->oc * P + f * P;
    if (!L->encrypted) {
        size_t idx[KK];
        for (size_t p = 0; p < P; p++) {
            int64_t s = 0;
            henn__cn_patch_idx(idx, S, L->in, b, p);
            for (size_t q = 0; q < KK; q++)
                s += w[q] * L->xq[idx[q]];
            z[p] = s;
        }
        return 0;
    }
    size_t *idx = malloc(P * KK * sizeof(*idx));
    int64_t *y = malloc(P * KK * sizeof(*y));
    int rc = HENN_ENOMEM;
    if (idx != NULL && y != NULL) {
        for (size_t p = 0; p < P; p++) {
            henn__cn_patch_idx(idx + p * KK, S, L->in, b, p);
            memcpy(y + p * KK, w, KK * sizeof(*y));
        }
        /* keys in (image, filter, patch) order */
        rc = henn_feip_decrypt_idx_many(z, &L->mpk[2], &L->dl, &L->ct, &L->tab,
                                        L->fk + it * P, y, idx, KK, P);
    }
    free(idx);
    free(y);
    return rc;
}

/* ---- backward: one task per (filter, u, v), a key over rows x 576 positions ---- */

static int bwd_task(void *arg, size_t it)
{
    henn_cryptonn_lenet *L = arg;
    size_t f = it / KK, q = it % KK, m = L->rows * L->P, O = L->oc * L->P;
    size_t *idx = malloc(m * sizeof(*idx));
    int64_t *y = malloc(m * sizeof(*y));
    int rc = HENN_ENOMEM;
    if (idx == NULL || y == NULL)
        goto done;
    henn__cn_shift_idx(idx, L->iw, L->in, L->rows, q);
    for (size_t b = 0; b < L->rows; b++)
        memcpy(y + b * L->P, L->dq + b * O + f * L->P, L->P * sizeof(*y));
    if (!L->encrypted) {
        int64_t s = 0;
        for (size_t t = 0; t < m; t++)
            s += y[t] * L->xq[idx[t]];
        L->g[it] = s;
        rc = 0;
        goto done;
    }
    rc = henn_feip_decrypt_idx(&L->g[it], &L->mpk[2], &L->dl, &L->ct, &L->tab, &L->fk[it], y,
                               idx, m);
done:
    free(idx);
    free(y);
    return rc;
}

/* FEBO ciphertexts of one batch: item e */
typedef struct {
    henn_cryptonn_lenet *L;
    const uint8_t *src;
} bo_job;

static int parse_bo(void *arg, size_t e)
{
    bo_job *j = arg;
    return henn_febo_ct_deserialize(&j->L->cb[e], j->src + e * HENN_FEBO_CT_BYTES,
                                    HENN_FEBO_CT_BYTES);
}

static int dec_bo(void *arg, size_t e)
{
    henn_cryptonn_lenet *L = arg;
    return henn_febo_decrypt(&L->febo[e], &L->bo, &L->dl, &L->cb[e], &L->bk[e]);
}

/*
 * One training step on L->rows images: the ciphertext (encrypted) or
 * L->xq (twin) is in place; y: the labels (twin only; the server recovers
 * them from FEBO); bo_src: the FEBO ciphertexts' bytes (server only).
 */
static int train_step(henn_cryptonn_lenet *L, const uint8_t *y, const uint8_t *bo_src,
                      double *loss)
{
    const henn_cryptonn_params *p = &L->p;
    size_t rows = L->rows, O = L->oc * L->P, nb = L->oc * KK, C = L->C, i, j;
    double t0;
    int rc;
    /* forward: quantised filters (a weight beyond 2^w_bits stops the run),
     * then conv1 through the keys */
    t0 = henn__cn_now();
    rc = henn__cn_quant_w(L->wq, L->m.layer[0].W, nb, p);
    L->st.t_plain += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    if (L->encrypted) {
        rc = get_conv_keys(L, 0);
        if (rc != 0)
            return rc;
    }
    t0 = henn__cn_now();
    rc = henn__cn_parallel(fwd_task, L, rows * L->oc, L->threads);
    L->st.t_decrypt += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    track(L, L->zq, rows * O);
    L->st.decryptions_ip += L->encrypted ? rows * O : 0;
    /* predictions and the FEBO loss gradient 2^fl y - yhat_q (as in the
     * paper; it gives the server the label) */
    t0 = henn__cn_now();
    {
        double inv = 1.0 / ldexp((double)p->x_scale, (int)p->fw);
        for (size_t b = 0; b < rows; b++)
            for (size_t f = 0; f < L->oc; f++)
                for (size_t q = 0; q < L->P; q++) {
                    i = b * O + f * L->P + q;
                    L->Z1[i] = (float)((double)L->zq[i] * inv) + L->m.layer[0].b[f];
                }
    }
    rc = henn_cnn_forward_z1(L->prob, &L->m, L->Z1, rows);
    for (i = 0; i < rows * C && rc == 0; i++)
        L->yq[i] = (int64_t)nearbyint(ldexp((double)L->prob[i], (int)p->fl));
    L->st.t_plain += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    if (L->encrypted) {
        rc = henn__cn_get_bo_keys(L->to_auth, L->yq, bo_src, rows * C, L->bk, &L->st);
        if (rc != 0)
            return rc;
        t0 = henn__cn_now();
        rc = henn__cn_parallel(dec_bo, L, rows * C, L->threads);
        L->st.t_decrypt += henn__cn_now() - t0;
        L->st.decryptions_bo += rows * C;
        if (rc != 0)
            return rc;
    } else {
        for (i = 0; i < rows; i++)
            for (j = 0; j < C; j++)
                L->febo[i * C + j] =
                    (y[i] == j ? (int64_t)1 << p->fl : 0) - L->yq[i * C + j];
    }
    track(L, L->febo, rows * C);
    for (i = 0; i < rows; i++) {
        size_t ones = 0;
        for (j = 0; j < C; j++) {
            int64_t v = L->febo[i * C + j] + L->yq[i * C + j];
            if (v == (int64_t)1 << p->fl) {
                ones++;
                L->labels[i] = (uint8_t)j;
            } else if (v != 0) {
                return HENN_EPROTO; /* not an encrypted one-hot label */
            }
        }
        if (ones != 1)
            return HENN_EPROTO;
    }
    /* plaintext layers from Z1 with the recovered labels */
    t0 = henn__cn_now();
    rc = henn_cnn_backprop(L->t, NULL, L->Z1, L->labels, rows, loss);
    if (rc == 0)
        rc = henn__cn_quant_delta(L->dq, &L->fd, henn_cnn_dz1(L->t), rows, O, p);
    L->st.t_plain += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    /* backward: dW1 from keys over the shifted delta1 maps */
    if (L->encrypted) {
        rc = get_conv_keys(L, 1);
        if (rc != 0)
            return rc;
    }
    t0 = henn__cn_now();
    rc = henn__cn_parallel(bwd_task, L, nb, L->threads);
    L->st.t_decrypt += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    track(L, L->g, nb);
    L->st.decryptions_ip += L->encrypted ? nb : 0;
    t0 = henn__cn_now();
    henn__cn_dw1(L->dW1, L->g, nb, L->fd, p);
    henn_cnn_set_grad_w1(L->t, L->dW1);
    henn_cnn_update(L->t);
    L->st.t_plain += henn__cn_now() - t0;
    L->st.samples += rows;
    L->st.batches++;
    L->st.max_abs_ip = L->max_abs;
    return 0;
}

/* BATCH: rows u32 | ct(batch x in_dim) | rows x classes FEBO ct */
static int server_batch(henn_cryptonn_lenet *L, henn__cn_r *r, double *loss)
{
    const henn_cryptonn_params *p = &L->p;
    size_t B = p->batch, C = L->C, lbytes = henn__cn_ct_bytes(B * L->in), rows;
    const uint8_t *src;
    bo_job bj;
    double t0;
    int rc;
    rows = henn__cn_r_u32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    if (rows == 0 || rows > B)
        return HENN_EINVAL;
    src = henn__cn_r_bytes(r, lbytes + rows * C * HENN_FEBO_CT_BYTES);
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    L->rows = rows;
    t0 = henn__cn_now();
    henn_feip_ct_clear(&L->ct);
    henn_feip_ct0_tab_clear(&L->tab);
    rc = henn_feip_ct_deserialize_mt(&L->ct, src, lbytes, L->threads);
    if (rc == 0 && L->ct.n != B * L->in)
        rc = HENN_EFORMAT;
    if (rc == 0)
        rc = henn_feip_ct0_tab_init(&L->tab, &L->ct);
    bj = (bo_job){L, src + lbytes};
    if (rc == 0)
        rc = henn__cn_parallel(parse_bo, &bj, rows * C, L->threads);
    L->st.t_parse += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    L->st.encryptions++;
    return train_step(L, NULL, src + lbytes, loss);
}

int henn_cryptonn_lenet_handle(henn_cryptonn_lenet *L, const uint8_t *req, size_t req_len,
                               uint8_t **resp, size_t *resp_len)
{
    henn__cn_r r;
    henn__cn_w w;
    double loss = 0;
    uint64_t lb;
    int type, rc;
    if (resp == NULL || resp_len == NULL)
        return HENN_EINVAL;
    *resp = NULL;
    *resp_len = 0;
    if (L == NULL || !L->encrypted)
        return HENN_EINVAL;
    rc = henn__cn_r_open(&r, &type, req, req_len);
    if (rc == 0 && type != HENN__CN_BATCH)
        rc = HENN_EFORMAT;
    if (rc == 0)
        rc = server_batch(L, &r, &loss);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return henn__cn_error(resp, resp_len, rc);
    memcpy(&lb, &loss, sizeof(lb));
    henn__cn_w_start(&w, HENN__CN_BATCH_RESP);
    henn__cn_w_u64(&w, lb);
    return henn__cn_w_finish(&w, resp, resp_len);
}

static int lenet_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    return henn_cryptonn_lenet_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_cryptonn_lenet(henn_transport *t, henn_cryptonn_lenet *L)
{
    memset(t, 0, sizeof(*t));
    t->call = lenet_call;
    t->ctx = L;
}

int henn_cryptonn_lenet_step(henn_cryptonn_lenet *L, const float *X, const uint8_t *y,
                             size_t rows, double *loss)
{
    if (loss != NULL)
        *loss = 0;
    if (L == NULL || X == NULL || y == NULL || rows == 0 || rows > L->p.batch)
        return HENN_EINVAL;
    for (size_t i = 0; i < rows; i++)
        if (y[i] >= L->C)
            return HENN_EINVAL;
    if (L->encrypted) {
        int src = 0, rc;
        if (L->own_c == NULL)
            return HENN_EINVAL; /* a server alone is driven by messages */
        rc = henn_cryptonn_client_send_batch(L->own_c, &L->ts, X, y, rows, loss, &src);
        return rc == HENN_EPROTO && src != 0 ? src : rc;
    }
    memset(L->xq, 0, (size_t)L->p.batch * L->in * sizeof(*L->xq));
    int rc = henn__cn_quant_x(L->xq, X, rows * L->in, &L->p);
    if (rc != 0)
        return rc;
    L->rows = rows;
    return train_step(L, y, NULL, loss);
}

const henn_cnn_model *henn_cryptonn_lenet_model(const henn_cryptonn_lenet *L)
{
    return L == NULL ? NULL : &L->m;
}

void henn_cryptonn_lenet_stats(henn_cryptonn_stats *s, const henn_cryptonn_lenet *L)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof *s);
    if (L == NULL)
        return;
    *s = L->st;
    if (L->own_c != NULL) {
        henn_cryptonn_stats c;
        henn_cryptonn_client_stats(&c, L->own_c);
        s->t_encrypt = c.t_encrypt;
        s->encryptions = c.encryptions;
    }
    if (L->own_a != NULL) {
        henn_cryptonn_stats a;
        henn_cryptonn_authority_stats(&a, L->own_a);
        s->t_derive = a.t_derive;
    }
}

henn_cryptonn_authority *henn_cryptonn_lenet_authority(henn_cryptonn_lenet *L)
{
    return L == NULL ? NULL : L->own_a;
}

void henn_cryptonn_lenet_view(henn_cryptonn_conv_view *v, const henn_cryptonn_lenet *L)
{
    if (v == NULL)
        return;
    memset(v, 0, sizeof *v);
    if (L == NULL)
        return;
    v->rows = L->rows;
    v->filters = L->oc;
    v->patches = L->P;
    v->classes = L->C;
    v->fd = L->fd;
    v->fl = (int)L->p.fl;
    v->zq = L->zq;
    v->wq = L->wq;
    v->dq = L->dq;
    v->g = L->g;
    v->febo = L->febo;
    v->yq = L->yq;
}
