/*
 * cryptonn_lenet.c: CryptoNN with the encrypted first convolution
 * (henn/cryptonn.h, "LeNet-5"). The batch of images is one FEIP vector
 * (batch layout, one c_0); forward keys are 5 x 5 filters on the 25 pixel
 * positions of one patch of one image, backward keys are delta1 maps on
 * their shifted positions (henn_feip_derive_key_idx). The twin runs the
 * same code with the inner products computed in the clear.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonn_internal.h"
#include "henn/cnn.h"

#define K 5u  /* kernel side */
#define KK 25u

struct henn_cryptonn_lenet {
    henn_cryptonn_params p;
    int encrypted;
    unsigned threads;
    henn_cnn_model m;
    henn_cnn_trainer *t;
    size_t ih, iw, oc, oh, ow, P, in; /* image and conv1 shapes */
    /* authority */
    henn_feip_msk msk;
    /* client and server */
    henn_feip_mpk mpk;
    henn_fe_dlog dl;
    henn_feip_ct ct;
    henn_feip_ct0_tab tab;
    /* the server's view of the last batch */
    size_t rows;
    int fd;
    int64_t *xq, *wq, *zq, *dq, *g;
    float *Z1, *dW1;
    uint64_t max_abs;
    henn_cryptonn_stats st;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t uabs(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
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
    henn_feip_msk_clear(&L->msk);
    henn_feip_mpk_clear(&L->mpk);
    henn_fe_dlog_clear(&L->dl);
    henn_feip_ct_clear(&L->ct);
    henn_feip_ct0_tab_clear(&L->tab);
    if (L->xq != NULL)
        henn_memzero(L->xq, (size_t)L->p.batch * L->in * sizeof(*L->xq));
    free(L->xq);
    free(L->wq);
    free(L->zq);
    free(L->dq);
    free(L->g);
    free(L->Z1);
    free(L->dW1);
    free(L);
}

int henn_cryptonn_lenet_new(henn_cryptonn_lenet **out, const henn_cnn_model *model,
                            const henn_nn_opts *o, const henn_cryptonn_params *p,
                            uint64_t dlog_table, unsigned threads, int encrypted)
{
    henn_cryptonn_lenet *L;
    henn_nn_opts oo;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (model == NULL || o == NULL || p == NULL || model->layers < 2 ||
        model->layer[0].kind != HENN_CNN_CONV || model->layer[0].k != K ||
        model->layer[0].pad != 0 || model->in_c != 1 || p->batch < 1 ||
        p->batch > HENN_CRYPTONN_MAX_BATCH || p->in_dim != model->in_h * model->in_w ||
        p->x_scale < 1 || p->x_scale > 65535 || p->fw > 20 || p->w_bits < 1 ||
        p->w_bits > 24 || p->d_bits < 1 || p->d_bits > 24 ||
        model->layer[0].out_h * model->layer[0].out_w != 576 ||
        henn_cryptonn_lenet_dlog_bound(p) >= ((uint64_t)1 << 40))
        return HENN_EINVAL;
    L = calloc(1, sizeof *L);
    if (L == NULL)
        return HENN_ENOMEM;
    L->p = *p;
    L->encrypted = encrypted != 0;
    L->threads = threads == 0 ? 2 : threads;
    L->ih = model->in_h;
    L->iw = model->in_w;
    L->in = L->ih * L->iw;
    L->oc = model->layer[0].out_c;
    L->oh = model->layer[0].out_h;
    L->ow = model->layer[0].out_w;
    L->P = L->oh * L->ow;
    rc = henn_cnn_model_copy(&L->m, model);
    if (rc != 0)
        goto fail;
    oo = *o;
    oo.max_rows = p->batch;
    rc = henn_cnn_trainer_new(&L->t, &L->m, &oo);
    if (rc != 0)
        goto fail;
    size_t B = p->batch, O = L->oc * L->P;
    L->xq = calloc(B * L->in, sizeof(*L->xq));
    L->wq = calloc(L->oc * KK, sizeof(*L->wq));
    L->zq = calloc(B * O, sizeof(*L->zq));
    L->dq = calloc(B * O, sizeof(*L->dq));
    L->g = calloc(L->oc * KK, sizeof(*L->g));
    L->Z1 = calloc(B * O, sizeof(*L->Z1));
    L->dW1 = calloc(L->oc * KK, sizeof(*L->dW1));
    rc = HENN_ENOMEM;
    if (L->xq == NULL || L->wq == NULL || L->zq == NULL || L->dq == NULL || L->g == NULL ||
        L->Z1 == NULL || L->dW1 == NULL)
        goto fail;
    if (L->encrypted) {
        uint32_t yb = p->w_bits > p->d_bits ? p->w_bits : p->d_bits;
        rc = henn_feip_setup(&L->mpk, &L->msk, B * L->in, p->x_scale, (uint64_t)1 << yb);
        if (rc != 0)
            goto fail;
        uint64_t bound = henn_cryptonn_lenet_dlog_bound(p);
        uint64_t T = dlog_table != 0 ? dlog_table : ((uint64_t)1 << 22);
        rc = henn_fe_dlog_init(&L->dl, bound, T < bound ? T : bound);
        if (rc != 0)
            goto fail;
    }
    *out = L;
    return 0;
fail:
    henn_cryptonn_lenet_free(L);
    return rc;
}

/* ---- forward: one task per (image, filter), 576 keys and decryptions ---- */
typedef struct {
    henn_cryptonn_lenet *L;
    int phase; /* 0: derive + decrypt (timed together), 1: plain */
    henn_feip_fk *fk;
    double *t_derive; /* per task */
} fwd_job;

static void patch_idx(size_t *idx, const henn_cryptonn_lenet *L, size_t b, size_t oy, size_t ox)
{
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++)
            idx[i * K + j] = b * L->in + (oy + i) * L->iw + ox + j;
}

static int fwd_task(void *arg, size_t it)
{
    fwd_job *J = arg;
    henn_cryptonn_lenet *L = J->L;
    size_t b = it / L->oc, f = it % L->oc;
    const int64_t *w = L->wq + f * KK;
    int64_t *z = L->zq + b * L->oc * L->P + f * L->P;
    if (!L->encrypted) {
        size_t idx[KK];
        for (size_t oy = 0; oy < L->oh; oy++)
            for (size_t ox = 0; ox < L->ow; ox++) {
                int64_t s = 0;
                patch_idx(idx, L, b, oy, ox);
                for (size_t q = 0; q < KK; q++)
                    s += w[q] * L->xq[idx[q]];
                z[oy * L->ow + ox] = s;
            }
        J->t_derive[it] = 0;
        return 0;
    }
    /* the 576 keys of this image and filter (authority), then one batched
     * decryption (server) */
    size_t P = L->P;
    size_t *idx = malloc(P * KK * sizeof(*idx));
    int64_t *y = malloc(P * KK * sizeof(*y));
    henn_feip_fk *fk = calloc(P, sizeof(*fk));
    int rc = HENN_ENOMEM;
    if (idx == NULL || y == NULL || fk == NULL)
        goto done;
    double t0 = now();
    for (size_t oy = 0; oy < L->oh; oy++)
        for (size_t ox = 0; ox < L->ow; ox++) {
            size_t p = oy * L->ow + ox;
            patch_idx(idx + p * KK, L, b, oy, ox);
            memcpy(y + p * KK, w, KK * sizeof(*y));
            rc = henn_feip_derive_key_idx(&fk[p], &L->msk, w, idx + p * KK, KK);
            if (rc != 0)
                goto done;
        }
    J->t_derive[it] = now() - t0;
    rc = henn_feip_decrypt_idx_many(z, &L->mpk, &L->dl, &L->ct, &L->tab, fk, y, idx, KK, P);
done:
    if (fk != NULL)
        henn_memzero(fk, P * sizeof(*fk));
    free(fk);
    free(idx);
    free(y);
    return rc;
}

/* ---- backward: one task per (filter, u, v): a key over rows x 576 positions ---- */
typedef struct {
    henn_cryptonn_lenet *L;
    double *t_derive;
} bwd_job;

static int bwd_task(void *arg, size_t it)
{
    bwd_job *J = arg;
    henn_cryptonn_lenet *L = J->L;
    size_t f = it / KK, u = (it % KK) / K, v = it % K, m = L->rows * L->P, n = 0;
    size_t *idx = malloc(m * sizeof(*idx));
    int64_t *y = malloc(m * sizeof(*y));
    int rc = HENN_ENOMEM;
    if (idx == NULL || y == NULL)
        goto done;
    for (size_t b = 0; b < L->rows; b++)
        for (size_t i = 0; i < L->oh; i++)
            for (size_t j = 0; j < L->ow; j++) {
                idx[n] = b * L->in + (i + u) * L->iw + j + v;
                y[n] = L->dq[b * L->oc * L->P + f * L->P + i * L->ow + j];
                n++;
            }
    if (!L->encrypted) {
        int64_t s = 0;
        for (size_t q = 0; q < m; q++)
            s += y[q] * L->xq[idx[q]];
        L->g[it] = s;
        rc = 0;
        goto done;
    }
    henn_feip_fk fk;
    double t0 = now();
    rc = henn_feip_derive_key_idx(&fk, &L->msk, y, idx, m); /* authority */
    J->t_derive[it] = now() - t0;
    if (rc != 0)
        goto done;
    rc = henn_feip_decrypt_idx(&L->g[it], &L->mpk, &L->dl, &L->ct, &L->tab, &fk, y, idx, m);
    henn_feip_fk_clear(&fk);
done:
    free(idx);
    free(y);
    return rc;
}

int henn_cryptonn_lenet_step(henn_cryptonn_lenet *L, const float *X, const uint8_t *y,
                             size_t rows, double *loss)
{
    if (L == NULL || X == NULL || y == NULL || rows == 0 || rows > L->p.batch)
        return HENN_EINVAL;
    const henn_cryptonn_params *p = &L->p;
    size_t B = p->batch, O = L->oc * L->P, nb = L->oc * KK;
    double t0 = now(), tsum;
    double *td = NULL;
    int rc;
    /* client: quantise and encrypt the batch (rows beyond `rows` zero) */
    memset(L->xq, 0, B * L->in * sizeof(*L->xq));
    rc = henn__cn_quant_x(L->xq, X, rows * L->in, p);
    if (rc != 0)
        return rc;
    L->rows = rows;
    if (L->encrypted) {
        uint8_t *buf = NULL;
        size_t len = 0;
        henn_feip_ct cc;
        memset(&cc, 0, sizeof cc);
        rc = henn_feip_encrypt_mt(&cc, &L->mpk, L->xq, B * L->in, L->threads);
        if (rc == 0)
            rc = henn_feip_ct_serialize_mt(&buf, &len, &cc, L->threads);
        henn_feip_ct_clear(&cc);
        double t1 = now();
        L->st.t_encrypt += t1 - t0;
        /* server: decode and table c_0 */
        henn_feip_ct_clear(&L->ct);
        henn_feip_ct0_tab_clear(&L->tab);
        if (rc == 0)
            rc = henn_feip_ct_deserialize_mt(&L->ct, buf, len, L->threads);
        free(buf);
        if (rc == 0)
            rc = henn_feip_ct0_tab_init(&L->tab, &L->ct);
        if (rc != 0)
            return rc;
        L->st.encryptions++;
        L->st.t_parse += now() - t1;
    }
    /* server: quantised filters; a weight beyond 2^w_bits stops the run */
    t0 = now();
    rc = henn__cn_quant_w(L->wq, L->m.layer[0].W, nb, p);
    if (rc != 0)
        return rc;
    td = calloc(rows * L->oc > nb ? rows * L->oc : nb, sizeof(*td));
    if (td == NULL)
        return HENN_ENOMEM;
    fwd_job fj = {L, 0, NULL, td};
    rc = henn__cn_parallel(fwd_task, &fj, rows * L->oc, L->threads);
    if (rc != 0)
        goto done;
    tsum = 0;
    for (size_t i = 0; i < rows * L->oc; i++)
        tsum += td[i];
    {
        double el = now() - t0, share = tsum / (double)L->threads;
        L->st.t_derive += share;
        L->st.t_decrypt += el - share;
    }
    for (size_t i = 0; i < rows * O; i++)
        if (uabs(L->zq[i]) > L->max_abs)
            L->max_abs = uabs(L->zq[i]);
    L->st.keys_ip += L->encrypted ? rows * O : 0;
    L->st.decryptions_ip += L->encrypted ? rows * O : 0;
    /* plaintext layers from Z1 */
    t0 = now();
    {
        double inv = 1.0 / ldexp((double)p->x_scale, (int)p->fw);
        for (size_t b = 0; b < rows; b++)
            for (size_t f = 0; f < L->oc; f++)
                for (size_t q = 0; q < L->P; q++) {
                    size_t i = b * O + f * L->P + q;
                    L->Z1[i] = (float)((double)L->zq[i] * inv) + L->m.layer[0].b[f];
                }
    }
    rc = henn_cnn_backprop(L->t, NULL, L->Z1, y, rows, loss);
    if (rc != 0)
        goto done;
    rc = henn__cn_quant_delta(L->dq, &L->fd, henn_cnn_dz1(L->t), rows, O, p);
    if (rc != 0)
        goto done;
    L->st.t_plain += now() - t0;
    /* backward: dW1 from keys over shifted delta1 maps */
    t0 = now();
    memset(td, 0, nb * sizeof(*td));
    bwd_job bj = {L, td};
    rc = henn__cn_parallel(bwd_task, &bj, nb, L->threads);
    if (rc != 0)
        goto done;
    tsum = 0;
    for (size_t i = 0; i < nb; i++)
        tsum += td[i];
    {
        double el = now() - t0, share = tsum / (double)L->threads;
        L->st.t_derive += share;
        L->st.t_decrypt += el - share;
    }
    for (size_t i = 0; i < nb; i++)
        if (uabs(L->g[i]) > L->max_abs)
            L->max_abs = uabs(L->g[i]);
    L->st.keys_ip += L->encrypted ? nb : 0;
    L->st.decryptions_ip += L->encrypted ? nb : 0;
    t0 = now();
    henn__cn_dw1(L->dW1, L->g, nb, L->fd, p);
    henn_cnn_set_grad_w1(L->t, L->dW1);
    henn_cnn_update(L->t);
    L->st.t_plain += now() - t0;
    L->st.samples += rows;
    L->st.batches++;
    L->st.max_abs_ip = L->max_abs;
done:
    free(td);
    return rc;
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
    if (L != NULL)
        *s = L->st;
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
    v->fd = L->fd;
    v->zq = L->zq;
    v->wq = L->wq;
    v->dq = L->dq;
    v->g = L->g;
}
