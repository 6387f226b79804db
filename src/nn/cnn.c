/*
 * Sequential convolutional networks (henn/cnn.h): models (LeNet-5, MLPs),
 * the forward pass shared by inference and training, backpropagation with
 * the split first-layer entry points, and the SGD/Adam steps.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "cnn_internal.h"
#include "nn_internal.h"

/* ---- models ---- */

void henn_cnn_model_clear(henn_cnn_model *m)
{
    size_t l;
    if (m == NULL)
        return;
    for (l = 0; l < HENN_CNN_MAX_LAYERS; l++) {
        free(m->layer[l].W);
        free(m->layer[l].b);
    }
    memset(m, 0, sizeof(*m));
}

int henn_cnn_model_same_shape(const henn_cnn_model *a, const henn_cnn_model *b)
{
    size_t l;
    if (a == NULL || b == NULL || a->layers != b->layers || a->layers > HENN_CNN_MAX_LAYERS ||
        a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w)
        return 0;
    for (l = 0; l < a->layers; l++) {
        const henn_cnn_layer *x = &a->layer[l], *y = &b->layer[l];
        if (x->kind != y->kind || x->act != y->act || x->k != y->k || x->pad != y->pad ||
            x->out_c != y->out_c || x->out_h != y->out_h || x->out_w != y->out_w)
            return 0;
    }
    return 1;
}

static size_t in_n(const henn_cnn_layer *L)
{
    return L->in_c * L->in_h * L->in_w;
}

static size_t out_n(const henn_cnn_layer *L)
{
    return L->out_c * L->out_h * L->out_w;
}

static int has_params(const henn_cnn_layer *L)
{
    return L->kind == HENN_CNN_CONV || L->kind == HENN_CNN_DENSE;
}

/* Weights per output unit (fan-in). */
static size_t fan_in(const henn_cnn_layer *L)
{
    return L->kind == HENN_CNN_CONV ? L->in_c * L->k * L->k : in_n(L);
}

static size_t w_count(const henn_cnn_layer *L)
{
    return has_params(L) ? L->out_c * fan_in(L) : 0;
}

static int valid_act(henn_nn_act a)
{
    return (int)a >= HENN_NN_IDENTITY && (int)a <= HENN_NN_RELU;
}

/* Shapes of every layer from the specs; 0 or HENN_EINVAL. */
static int plan(henn_cnn_model *m, const henn_cnn_spec *spec, size_t n)
{
    size_t l, c = m->in_c, h = m->in_h, w = m->in_w;
    if (c == 0 || h == 0 || w == 0 || c * h * w > HENN_CNN_MAX_UNITS)
        return HENN_EINVAL;
    for (l = 0; l < n; l++) {
        henn_cnn_layer *L = &m->layer[l];
        const henn_cnn_spec *s = &spec[l];
        L->kind = s->kind;
        L->act = l + 1 < n ? s->act : HENN_NN_IDENTITY;
        L->in_c = c;
        L->in_h = h;
        L->in_w = w;
        switch (s->kind) {
        case HENN_CNN_CONV:
            if (s->k == 0 || s->k > HENN_CNN_MAX_KERNEL || s->pad >= s->k || s->out == 0 ||
                s->k > h + 2 * s->pad || s->k > w + 2 * s->pad || !valid_act(s->act))
                return HENN_EINVAL;
            L->k = s->k;
            L->pad = s->pad;
            L->out_c = s->out;
            L->out_h = h + 2 * s->pad - s->k + 1;
            L->out_w = w + 2 * s->pad - s->k + 1;
            break;
        case HENN_CNN_MAXPOOL:
        case HENN_CNN_AVGPOOL:
            if (h < 2 || w < 2)
                return HENN_EINVAL;
            L->act = HENN_NN_IDENTITY;
            L->out_c = c;
            L->out_h = h / 2;
            L->out_w = w / 2;
            break;
        case HENN_CNN_DENSE:
            if (s->out == 0 || !valid_act(s->act))
                return HENN_EINVAL;
            L->out_c = s->out;
            L->out_h = L->out_w = 1;
            break;
        default:
            return HENN_EINVAL;
        }
        if (L->out_c > HENN_CNN_MAX_UNITS || out_n(L) > HENN_CNN_MAX_UNITS ||
            (has_params(L) && fan_in(L) > HENN_CNN_MAX_UNITS / L->out_c))
            return HENN_EINVAL;
        c = L->out_c;
        h = L->out_h;
        w = L->out_w;
    }
    if (spec[n - 1].kind != HENN_CNN_DENSE || spec[n - 1].out < 2 ||
        spec[n - 1].out > HENN_NN_MAX_CLASSES)
        return HENN_EINVAL;
    m->layers = n;
    return 0;
}

static int alloc_params(henn_cnn_model *m)
{
    size_t l;
    for (l = 0; l < m->layers; l++) {
        henn_cnn_layer *L = &m->layer[l];
        if (!has_params(L))
            continue;
        L->W = calloc(w_count(L), sizeof(float));
        L->b = calloc(L->out_c, sizeof(float));
        if (L->W == NULL || L->b == NULL)
            return HENN_ENOMEM;
    }
    return 0;
}

int henn_cnn_model_init(henn_cnn_model *m, size_t in_c, size_t in_h, size_t in_w,
                        const henn_cnn_spec *spec, size_t n, uint64_t seed)
{
    henn__prng rng;
    size_t l, i;
    int rc;
    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if (spec == NULL || n == 0 || n > HENN_CNN_MAX_LAYERS)
        return HENN_EINVAL;
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    rc = plan(m, spec, n);
    if (rc == 0)
        rc = alloc_params(m);
    if (rc != 0) {
        henn_cnn_model_clear(m);
        return rc;
    }
    henn__prng_init(&rng, seed, 0x636e6e); /* "cnn" */
    for (l = 0; l < m->layers; l++) {
        henn_cnn_layer *L = &m->layer[l];
        size_t fi = fan_in(L), fo = L->kind == HENN_CNN_CONV ? L->out_c * L->k * L->k : L->out_c;
        int he = l + 1 < m->layers && L->act == HENN_NN_RELU;
        double lim = sqrt(6.0 / (double)(fi + fo)), sd = sqrt(2.0 / (double)fi);
        if (!has_params(L))
            continue;
        for (i = 0; i < w_count(L); i++)
            L->W[i] = he ? (float)(sd * henn__prng_normal(&rng))
                         : (float)((2.0 * henn__prng_uniform(&rng) - 1.0) * lim);
    }
    return 0;
}

int henn_cnn_model_init_lenet5(henn_cnn_model *m, size_t pad, henn_nn_act act,
                               henn_cnn_kind pool, uint64_t seed)
{
    henn_cnn_spec s[7];
    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if ((pad != 0 && pad != 2) || !valid_act(act) ||
        (pool != HENN_CNN_MAXPOOL && pool != HENN_CNN_AVGPOOL))
        return HENN_EINVAL;
    memset(s, 0, sizeof(s));
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 6, 5, pad, act};
    s[1] = (henn_cnn_spec){pool, 0, 0, 0, HENN_NN_IDENTITY};
    s[2] = (henn_cnn_spec){HENN_CNN_CONV, 16, 5, 0, act};
    s[3] = (henn_cnn_spec){pool, 0, 0, 0, HENN_NN_IDENTITY};
    s[4] = (henn_cnn_spec){HENN_CNN_DENSE, 120, 0, 0, act};
    s[5] = (henn_cnn_spec){HENN_CNN_DENSE, 84, 0, 0, act};
    s[6] = (henn_cnn_spec){HENN_CNN_DENSE, 10, 0, 0, HENN_NN_IDENTITY};
    return henn_cnn_model_init(m, 1, 28, 28, s, 7, seed);
}

int henn_cnn_model_init_mlp(henn_cnn_model *m, size_t in_dim, const size_t *hidden, size_t nh,
                            henn_nn_act act, size_t classes, uint64_t seed)
{
    henn_cnn_spec s[HENN_CNN_MAX_LAYERS];
    size_t l;
    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if ((nh > 0 && hidden == NULL) || nh + 1 > HENN_CNN_MAX_LAYERS)
        return HENN_EINVAL;
    for (l = 0; l < nh; l++)
        s[l] = (henn_cnn_spec){HENN_CNN_DENSE, hidden[l], 0, 0, act};
    s[nh] = (henn_cnn_spec){HENN_CNN_DENSE, classes, 0, 0, HENN_NN_IDENTITY};
    return henn_cnn_model_init(m, 1, 1, in_dim, s, nh + 1, seed);
}

int henn_cnn_model_copy(henn_cnn_model *dst, const henn_cnn_model *src)
{
    size_t l;
    int rc;
    if (dst == NULL || src == NULL || src->layers == 0 || src->layers > HENN_CNN_MAX_LAYERS)
        return HENN_EINVAL;
    *dst = *src;
    for (l = 0; l < HENN_CNN_MAX_LAYERS; l++)
        dst->layer[l].W = dst->layer[l].b = NULL;
    rc = alloc_params(dst);
    if (rc != 0) {
        henn_cnn_model_clear(dst);
        return rc;
    }
    for (l = 0; l < src->layers; l++) {
        const henn_cnn_layer *L = &src->layer[l];
        if (!has_params(L))
            continue;
        memcpy(dst->layer[l].W, L->W, w_count(L) * sizeof(float));
        memcpy(dst->layer[l].b, L->b, L->out_c * sizeof(float));
    }
    return 0;
}

size_t henn_cnn_in_size(const henn_cnn_model *m)
{
    return m->in_c * m->in_h * m->in_w;
}

size_t henn_cnn_out_size(const henn_cnn_model *m, size_t l)
{
    return l < m->layers ? out_n(&m->layer[l]) : 0;
}

size_t henn_cnn_classes(const henn_cnn_model *m)
{
    return m->layers ? m->layer[m->layers - 1].out_c : 0;
}

size_t henn_cnn_param_count(const henn_cnn_model *m)
{
    size_t l, s = 0;
    for (l = 0; l < m->layers; l++)
        s += w_count(&m->layer[l]) + (has_params(&m->layer[l]) ? m->layer[l].out_c : 0);
    return s;
}

/* ---- forward pass over a workspace ---- */

typedef struct workspace {
    size_t max_rows;
    float *pre[HENN_CNN_MAX_LAYERS];   /* conv/dense pre-activations [rows x out_n] */
    float *out[HENN_CNN_MAX_LAYERS];   /* layer outputs [rows x out_n] */
    float *cols[HENN_CNN_MAX_LAYERS];  /* conv patch matrices [rows x P x K] */
    uint32_t *arg[HENN_CNN_MAX_LAYERS]; /* max-pool argmax [rows x out_n] */
} workspace;

static void ws_free(workspace *w)
{
    size_t l;
    for (l = 0; l < HENN_CNN_MAX_LAYERS; l++) {
        free(w->pre[l]);
        free(w->out[l]);
        free(w->cols[l]);
        free(w->arg[l]);
    }
    memset(w, 0, sizeof(*w));
}

/* cols_all: keep every image's patches (training); else one image's. */
static int ws_alloc(workspace *w, const henn_cnn_model *m, size_t rows, int cols_all)
{
    size_t l;
    memset(w, 0, sizeof(*w));
    w->max_rows = rows;
    for (l = 0; l < m->layers; l++) {
        const henn_cnn_layer *L = &m->layer[l];
        size_t on = out_n(L);
        w->out[l] = malloc(rows * on * sizeof(float));
        if (w->out[l] == NULL)
            goto nomem;
        if (has_params(L) && (w->pre[l] = malloc(rows * on * sizeof(float))) == NULL)
            goto nomem;
        if (L->kind == HENN_CNN_CONV) {
            size_t pk = L->out_h * L->out_w * fan_in(L);
            if ((w->cols[l] = malloc((cols_all ? rows : 1) * pk * sizeof(float))) == NULL)
                goto nomem;
        }
        if (L->kind == HENN_CNN_MAXPOOL &&
            (w->arg[l] = malloc(rows * on * sizeof(uint32_t))) == NULL)
            goto nomem;
    }
    return 0;
nomem:
    ws_free(w);
    return HENN_ENOMEM;
}

/*
 * Forward pass of rows images into w: from X, or from Z1 (layer 0's
 * pre-activations) when Z1 is not NULL. cols_all as in ws_alloc. The last
 * layer's out holds the softmax probabilities.
 */
static void forward(workspace *w, const henn_cnn_model *m, const float *X, const float *Z1,
                    size_t rows, int cols_all)
{
    size_t l, r;
    for (l = 0; l < m->layers; l++) {
        const henn_cnn_layer *L = &m->layer[l];
        size_t inn = in_n(L), on = out_n(L);
        const float *in = l == 0 ? X : w->out[l - 1];
        if (l == 0 && Z1 != NULL) {
            memcpy(w->pre[0], Z1, rows * on * sizeof(float));
        } else if (L->kind == HENN_CNN_CONV) {
            size_t pk = L->out_h * L->out_w * fan_in(L);
            for (r = 0; r < rows; r++)
                henn__conv_forward(w->pre[l] + r * on, w->cols[l] + (cols_all ? r * pk : 0),
                                   in + r * inn, L);
        } else if (L->kind == HENN_CNN_DENSE) {
            for (r = 0; r < rows; r++)
                memcpy(w->pre[l] + r * on, L->b, on * sizeof(float));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)on, (int)inn,
                        1.0f, in, (int)inn, L->W, (int)inn, 1.0f, w->pre[l], (int)on);
        } else {
            for (r = 0; r < rows; r++)
                henn__pool_forward(w->out[l] + r * on, w->arg[l] ? w->arg[l] + r * on : NULL,
                                   in + r * inn, L);
            continue;
        }
        memcpy(w->out[l], w->pre[l], rows * on * sizeof(float));
        if (l + 1 < m->layers)
            henn_nn_activate(w->out[l], rows * on, L->act);
        else
            for (r = 0; r < rows; r++)
                henn__nn_softmax_row(w->out[l] + r * on, on);
    }
}

#define CHUNK 256

/* Inference in chunks; calls sink(ctx, P, r0, n) per chunk. */
typedef void (*sink_fn)(void *ctx, const float *P, size_t r0, size_t n);

static int run_inference(const henn_cnn_model *m, const float *X, const float *Z1, size_t rows,
                         sink_fn sink, void *ctx)
{
    workspace w;
    size_t r0, chunk = rows < CHUNK ? rows : CHUNK, d;
    int rc;
    if (m == NULL || m->layers == 0 || rows == 0 || (X == NULL && Z1 == NULL))
        return HENN_EINVAL;
    if (Z1 != NULL && !has_params(&m->layer[0]))
        return HENN_EINVAL;
    rc = ws_alloc(&w, m, chunk, 0);
    if (rc != 0)
        return rc;
    d = Z1 != NULL ? out_n(&m->layer[0]) : henn_cnn_in_size(m);
    for (r0 = 0; r0 < rows; r0 += chunk) {
        size_t n = rows - r0 < chunk ? rows - r0 : chunk;
        forward(&w, m, Z1 ? NULL : X + r0 * d, Z1 ? Z1 + r0 * d : NULL, n, 0);
        sink(ctx, w.out[m->layers - 1], r0, n);
    }
    ws_free(&w);
    return 0;
}

typedef struct {
    float *P;
    size_t k;
} copy_ctx;

static void sink_copy(void *ctx, const float *P, size_t r0, size_t n)
{
    copy_ctx *c = ctx;
    memcpy(c->P + r0 * c->k, P, n * c->k * sizeof(float));
}

int henn_cnn_forward(float *P, const henn_cnn_model *m, const float *X, size_t rows)
{
    copy_ctx c;
    if (P == NULL || X == NULL || m == NULL)
        return HENN_EINVAL;
    c.P = P;
    c.k = henn_cnn_classes(m);
    return run_inference(m, X, NULL, rows, sink_copy, &c);
}

int henn_cnn_forward_z1(float *P, const henn_cnn_model *m, const float *Z1, size_t rows)
{
    copy_ctx c;
    if (P == NULL || Z1 == NULL || m == NULL)
        return HENN_EINVAL;
    c.P = P;
    c.k = henn_cnn_classes(m);
    return run_inference(m, NULL, Z1, rows, sink_copy, &c);
}

typedef struct {
    uint8_t *pred;
    const uint8_t *y;
    size_t k;
    double loss;
} pred_ctx;

static void sink_pred(void *ctx, const float *P, size_t r0, size_t n)
{
    pred_ctx *c = ctx;
    size_t r, j;
    for (r = 0; r < n; r++) {
        const float *p = P + r * c->k;
        size_t best = 0;
        for (j = 1; j < c->k; j++)
            if (p[j] > p[best])
                best = j;
        if (c->pred != NULL)
            c->pred[r0 + r] = (uint8_t)best;
        if (c->y != NULL)
            c->loss += henn__nn_mean_loss(p, c->y + r0 + r, 1, c->k, HENN_NN_SOFTMAX_CE);
    }
}

int henn_cnn_predict(uint8_t *pred, const henn_cnn_model *m, const float *X, size_t rows)
{
    pred_ctx c = {pred, NULL, 0, 0.0};
    if (pred == NULL || m == NULL || X == NULL)
        return HENN_EINVAL;
    c.k = henn_cnn_classes(m);
    return run_inference(m, X, NULL, rows, sink_pred, &c);
}

static int labels_ok(const uint8_t *y, size_t rows, size_t k)
{
    size_t r;
    if (y == NULL)
        return 0;
    for (r = 0; r < rows; r++)
        if (y[r] >= k)
            return 0;
    return 1;
}

int henn_cnn_accuracy(double *acc, const henn_cnn_model *m, const float *X, const uint8_t *y,
                      size_t rows)
{
    uint8_t *pred;
    size_t r, ok = 0;
    int rc;
    if (acc == NULL || m == NULL || rows == 0 || !labels_ok(y, rows, henn_cnn_classes(m)))
        return HENN_EINVAL;
    *acc = 0.0;
    pred = malloc(rows);
    if (pred == NULL)
        return HENN_ENOMEM;
    rc = henn_cnn_predict(pred, m, X, rows);
    for (r = 0; rc == 0 && r < rows; r++)
        ok += pred[r] == y[r];
    if (rc == 0)
        *acc = (double)ok / (double)rows;
    free(pred);
    return rc;
}

int henn_cnn_loss(double *loss, const henn_cnn_model *m, const float *X, const uint8_t *y,
                  size_t rows)
{
    pred_ctx c = {NULL, NULL, 0, 0.0};
    int rc;
    if (loss == NULL || m == NULL || X == NULL || rows == 0 ||
        !labels_ok(y, rows, henn_cnn_classes(m)))
        return HENN_EINVAL;
    c.y = y;
    c.k = henn_cnn_classes(m);
    rc = run_inference(m, X, NULL, rows, sink_pred, &c);
    *loss = rc == 0 ? c.loss / (double)rows : 0.0;
    return rc;
}

/* ---- training ---- */

void henn_cnn_opts_paper(henn_nn_opts *o)
{
    henn_nn_opts_default(o);
    o->optimizer = HENN_NN_SGD;
    o->lr = 5e-4f;
    o->momentum = 0.0f;
    o->max_rows = 64;
}

void henn_cnn_opts_default(henn_nn_opts *o)
{
    henn_nn_opts_default(o);
    o->optimizer = HENN_NN_SGD;
    o->lr = 0.05f;
    o->momentum = 0.9f;
    o->max_rows = 64;
}

struct henn_cnn_trainer {
    henn_cnn_model *m;
    henn_nn_opts o;
    workspace w;
    size_t rows;
    uint64_t step;
    float *gout[HENN_CNN_MAX_LAYERS]; /* d loss / d out[l] */
    float *dpre[HENN_CNN_MAX_LAYERS]; /* d loss / d pre[l] (conv, dense) */
    float *dcols;                     /* one image's patch gradient */
    float *gW[HENN_CNN_MAX_LAYERS], *gb[HENN_CNN_MAX_LAYERS];
    float *mW[HENN_CNN_MAX_LAYERS], *mb[HENN_CNN_MAX_LAYERS];
    float *vW[HENN_CNN_MAX_LAYERS], *vb[HENN_CNN_MAX_LAYERS];
};

void henn_cnn_trainer_free(henn_cnn_trainer *t)
{
    size_t l;
    if (t == NULL)
        return;
    ws_free(&t->w);
    for (l = 0; l < HENN_CNN_MAX_LAYERS; l++) {
        free(t->gout[l]);
        free(t->dpre[l]);
        free(t->gW[l]);
        free(t->gb[l]);
        free(t->mW[l]);
        free(t->mb[l]);
        free(t->vW[l]);
        free(t->vb[l]);
    }
    free(t->dcols);
    free(t);
}

int henn_cnn_trainer_new(henn_cnn_trainer **out, henn_cnn_model *m, const henn_nn_opts *o)
{
    henn_cnn_trainer *t;
    size_t l, maxpk = 0;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (m == NULL || o == NULL || m->layers == 0 || m->layers > HENN_CNN_MAX_LAYERS ||
        o->max_rows == 0 || o->max_rows > 65536 || !(o->lr > 0.0f) || o->momentum < 0.0f ||
        o->momentum >= 1.0f || o->beta1 < 0.0f || o->beta1 >= 1.0f || o->beta2 < 0.0f ||
        o->beta2 >= 1.0f || !(o->eps > 0.0f) ||
        (o->optimizer != HENN_NN_SGD && o->optimizer != HENN_NN_ADAM))
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    t->m = m;
    t->o = *o;
    if (ws_alloc(&t->w, m, o->max_rows, 1) != 0)
        goto nomem;
    for (l = 0; l < m->layers; l++) {
        const henn_cnn_layer *L = &m->layer[l];
        size_t on = out_n(L) * o->max_rows, wn = w_count(L);
        if ((t->gout[l] = malloc(on * sizeof(float))) == NULL)
            goto nomem;
        if (L->kind == HENN_CNN_CONV && L->out_h * L->out_w * fan_in(L) > maxpk)
            maxpk = L->out_h * L->out_w * fan_in(L);
        if (!has_params(L))
            continue;
        t->dpre[l] = malloc(on * sizeof(float));
        t->gW[l] = calloc(wn, sizeof(float));
        t->gb[l] = calloc(L->out_c, sizeof(float));
        t->mW[l] = calloc(wn, sizeof(float));
        t->mb[l] = calloc(L->out_c, sizeof(float));
        t->vW[l] = calloc(wn, sizeof(float));
        t->vb[l] = calloc(L->out_c, sizeof(float));
        if (!t->dpre[l] || !t->gW[l] || !t->gb[l] || !t->mW[l] || !t->mb[l] || !t->vW[l] ||
            !t->vb[l])
            goto nomem;
    }
    if (maxpk > 0 && (t->dcols = malloc(maxpk * sizeof(float))) == NULL)
        goto nomem;
    *out = t;
    return 0;
nomem:
    henn_cnn_trainer_free(t);
    return HENN_ENOMEM;
}

int henn_cnn_backprop(henn_cnn_trainer *t, const float *X, const float *Z1, const uint8_t *y,
                      size_t rows, double *loss)
{
    henn_cnn_model *m;
    workspace *w;
    size_t L, l, r, j, k;
    float inv;

    if (t == NULL)
        return HENN_EINVAL;
    m = t->m;
    w = &t->w;
    L = m->layers;
    k = henn_cnn_classes(m);
    if (rows == 0 || rows > t->o.max_rows || (X == NULL && Z1 == NULL) ||
        !labels_ok(y, rows, k) || (Z1 != NULL && !has_params(&m->layer[0])))
        return HENN_EINVAL;
    if (Z1 != NULL)
        X = NULL;
    t->rows = rows;
    inv = 1.0f / (float)rows;
    forward(w, m, X, Z1, rows, 1);
    if (loss != NULL)
        *loss = henn__nn_mean_loss(w->out[L - 1], y, rows, k, HENN_NN_SOFTMAX_CE);

    for (r = 0; r < rows; r++) /* softmax + cross-entropy */
        for (j = 0; j < k; j++)
            t->dpre[L - 1][r * k + j] =
                (w->out[L - 1][r * k + j] - (j == y[r] ? 1.0f : 0.0f)) * inv;

    for (l = L; l-- > 0;) {
        const henn_cnn_layer *Ly = &m->layer[l];
        size_t inn = in_n(Ly), on = out_n(Ly);
        const float *in = l > 0 ? w->out[l - 1] : X;
        float *gin = l > 0 ? t->gout[l - 1] : NULL;
        if (!has_params(Ly)) {
            for (r = 0; gin != NULL && r < rows; r++)
                henn__pool_backward(gin + r * inn, t->gout[l] + r * on,
                                    w->arg[l] ? w->arg[l] + r * on : NULL, Ly);
            continue;
        }
        if (l + 1 < L)
            for (j = 0; j < rows * on; j++)
                t->dpre[l][j] =
                    t->gout[l][j] * henn__nn_act_grad(Ly->act, w->pre[l][j], w->out[l][j]);
        memset(t->gW[l], 0, w_count(Ly) * sizeof(float));
        memset(t->gb[l], 0, Ly->out_c * sizeof(float));
        if (Ly->kind == HENN_CNN_CONV) {
            size_t pk = Ly->out_h * Ly->out_w * fan_in(Ly);
            for (r = 0; r < rows; r++)
                henn__conv_backward(in != NULL ? t->gW[l] : NULL, t->gb[l],
                                    gin ? gin + r * inn : NULL, t->dcols, t->dpre[l] + r * on,
                                    w->cols[l] + r * pk, Ly);
        } else {
            for (r = 0; r < rows; r++)
                for (j = 0; j < on; j++)
                    t->gb[l][j] += t->dpre[l][r * on + j];
            if (in != NULL)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)on, (int)inn, (int)rows,
                            1.0f, t->dpre[l], (int)on, in, (int)inn, 0.0f, t->gW[l], (int)inn);
            if (gin != NULL)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)inn,
                            (int)on, 1.0f, t->dpre[l], (int)on, Ly->W, (int)inn, 0.0f, gin,
                            (int)inn);
        }
    }
    return 0;
}

const float *henn_cnn_dz1(const henn_cnn_trainer *t)
{
    return t->dpre[0];
}

const float *henn_cnn_a1(const henn_cnn_trainer *t)
{
    return t->w.out[0];
}

void henn_cnn_set_grad_w1(henn_cnn_trainer *t, const float *dW1)
{
    if (t->gW[0] != NULL && dW1 != NULL)
        memcpy(t->gW[0], dW1, w_count(&t->m->layer[0]) * sizeof(float));
}

const float *henn_cnn_grad_w(const henn_cnn_trainer *t, size_t l)
{
    return l < t->m->layers ? t->gW[l] : NULL;
}

const float *henn_cnn_grad_b(const henn_cnn_trainer *t, size_t l)
{
    return l < t->m->layers ? t->gb[l] : NULL;
}

void henn_cnn_update(henn_cnn_trainer *t)
{
    henn_cnn_model *m = t->m;
    size_t l;
    float c1, c2;
    t->step++;
    c1 = 1.0f - powf(t->o.beta1, (float)t->step);
    c2 = 1.0f - powf(t->o.beta2, (float)t->step);
    for (l = 0; l < m->layers; l++) {
        henn_cnn_layer *L = &m->layer[l];
        if (!has_params(L))
            continue;
        henn__nn_step(&t->o, L->W, t->gW[l], t->mW[l], t->vW[l], w_count(L), c1, c2);
        henn__nn_step(&t->o, L->b, t->gb[l], t->mb[l], t->vb[l], L->out_c, c1, c2);
    }
}

int henn_cnn_train_batch(henn_cnn_trainer *t, const float *X, const uint8_t *y, size_t rows,
                         double *loss)
{
    int rc;
    if (X == NULL)
        return HENN_EINVAL;
    rc = henn_cnn_backprop(t, X, NULL, y, rows, loss);
    if (rc == 0)
        henn_cnn_update(t);
    return rc;
}

int henn_cnn_train_epoch(henn_cnn_trainer *t, const float *X, const uint8_t *y, size_t rows,
                         size_t batch, uint64_t seed, henn_progress_fn progress, void *user,
                         double *loss)
{
    size_t batches, *order, g, done = 0, d0;
    double total = 0.0;
    int rc;
    if (loss != NULL)
        *loss = 0.0;
    if (t == NULL || X == NULL || y == NULL || rows == 0 || batch == 0 || batch > t->o.max_rows)
        return HENN_EINVAL;
    d0 = henn_cnn_in_size(t->m);
    batches = (rows + batch - 1) / batch;
    order = malloc(batches * sizeof(size_t));
    if (order == NULL)
        return HENN_ENOMEM;
    rc = henn_nn_batch_order(order, batches, seed);
    for (g = 0; g < batches && rc == 0; g++) {
        size_t r0 = order[g] * batch, c = rows - r0 < batch ? rows - r0 : batch;
        double l = 0.0;
        rc = henn_cnn_train_batch(t, X + r0 * d0, y + r0, c, &l);
        total += l * (double)c;
        done += c;
        if (progress != NULL)
            progress(user, done, rows);
    }
    free(order);
    if (rc == 0 && loss != NULL)
        *loss = total / (double)rows;
    return rc;
}

/* ---- model files (docs/FORMATS.md, "CNN model") ---- */

#define CNN_MAGIC "HCNM"
#define CNN_VERSION 1
#define CNN_HEADER 24      /* magic, version, layers, in_c, in_h, in_w */
#define CNN_LAYER_BYTES 28 /* kind, act, k, pad, out_c, out_h, out_w */
#define CNN_MAX_FILE (1UL << 30)

static void cnn_put_u32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t cnn_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bytes of the parameters of m's layers (W then b of each conv/dense). */
static size_t param_bytes(const henn_cnn_model *m)
{
    return 4 * henn_cnn_param_count(m);
}

/* v[0..n) as little-endian float32 at p; returns the bytes written. */
static size_t put_floats(uint8_t *p, const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        cnn_put_u32(p + 4 * i, u);
    }
    return 4 * n;
}

/* v[0..n) from p; 0, or HENN_EFORMAT on a value that is not finite. */
static int get_floats(float *v, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = cnn_get_u32(p + 4 * i);
        memcpy(&v[i], &u, 4);
        if (!isfinite(v[i]))
            return HENN_EFORMAT;
    }
    return 0;
}

int henn_cnn_model_serialize(uint8_t **buf, size_t *buf_len, const henn_cnn_model *m)
{
    size_t len, l, pos;
    uint8_t *b;

    if (buf != NULL)
        *buf = NULL;
    if (buf_len != NULL)
        *buf_len = 0;
    if (buf == NULL || buf_len == NULL || m == NULL || m->layers == 0 ||
        m->layers > HENN_CNN_MAX_LAYERS)
        return HENN_EINVAL;
    for (l = 0; l < m->layers; l++)
        if (has_params(&m->layer[l]) && (m->layer[l].W == NULL || m->layer[l].b == NULL))
            return HENN_EINVAL;
    len = CNN_HEADER + CNN_LAYER_BYTES * m->layers + param_bytes(m);
    b = malloc(len);
    if (b == NULL)
        return HENN_ENOMEM;
    memcpy(b, CNN_MAGIC, 4);
    cnn_put_u32(b + 4, CNN_VERSION);
    cnn_put_u32(b + 8, m->layers);
    cnn_put_u32(b + 12, m->in_c);
    cnn_put_u32(b + 16, m->in_h);
    cnn_put_u32(b + 20, m->in_w);
    pos = CNN_HEADER;
    for (l = 0; l < m->layers; l++, pos += CNN_LAYER_BYTES) {
        const henn_cnn_layer *L = &m->layer[l];
        cnn_put_u32(b + pos, (size_t)L->kind);
        cnn_put_u32(b + pos + 4, (size_t)L->act);
        cnn_put_u32(b + pos + 8, L->k);
        cnn_put_u32(b + pos + 12, L->pad);
        cnn_put_u32(b + pos + 16, L->out_c);
        cnn_put_u32(b + pos + 20, L->out_h);
        cnn_put_u32(b + pos + 24, L->out_w);
    }
    for (l = 0; l < m->layers; l++) {
        const henn_cnn_layer *L = &m->layer[l];
        if (!has_params(L))
            continue;
        pos += put_floats(b + pos, L->W, w_count(L));
        pos += put_floats(b + pos, L->b, L->out_c);
    }
    *buf = b;
    *buf_len = len;
    return 0;
}

int henn_cnn_model_deserialize(henn_cnn_model *m, const uint8_t *buf, size_t buf_len)
{
    henn_cnn_spec spec[HENN_CNN_MAX_LAYERS];
    size_t layers, l, pos;
    int rc = HENN_EFORMAT;

    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if (buf == NULL)
        return HENN_EINVAL;
    if (buf_len < CNN_HEADER || memcmp(buf, CNN_MAGIC, 4) != 0 ||
        cnn_get_u32(buf + 4) != CNN_VERSION)
        return HENN_EFORMAT;
    layers = cnn_get_u32(buf + 8);
    if (layers == 0 || layers > HENN_CNN_MAX_LAYERS ||
        buf_len < CNN_HEADER + CNN_LAYER_BYTES * layers)
        return HENN_EFORMAT;
    m->in_c = cnn_get_u32(buf + 12);
    m->in_h = cnn_get_u32(buf + 16);
    m->in_w = cnn_get_u32(buf + 20);
    /* Each size within HENN_CNN_MAX_UNITS before plan() multiplies them. */
    if (m->in_c > HENN_CNN_MAX_UNITS || m->in_h > HENN_CNN_MAX_UNITS ||
        m->in_w > HENN_CNN_MAX_UNITS)
        goto bad;
    memset(spec, 0, sizeof(spec));
    for (l = 0, pos = CNN_HEADER; l < layers; l++, pos += CNN_LAYER_BYTES) {
        uint32_t kind = cnn_get_u32(buf + pos), act = cnn_get_u32(buf + pos + 4);
        uint32_t k = cnn_get_u32(buf + pos + 8), pad = cnn_get_u32(buf + pos + 12);
        uint32_t oc = cnn_get_u32(buf + pos + 16);
        int pool = kind == HENN_CNN_MAXPOOL || kind == HENN_CNN_AVGPOOL;
        if (kind > HENN_CNN_DENSE || act > HENN_NN_RELU || oc > HENN_CNN_MAX_UNITS ||
            (kind != HENN_CNN_CONV && (k != 0 || pad != 0)) ||
            ((pool || l + 1 == layers) && act != HENN_NN_IDENTITY))
            goto bad;
        spec[l].kind = (henn_cnn_kind)kind;
        spec[l].act = (henn_nn_act)act;
        spec[l].k = k;
        spec[l].pad = pad;
        spec[l].out = pool ? 0 : oc;
    }
    if (plan(m, spec, layers) != 0)
        goto bad;
    /* The stored shapes must be the ones the layer list gives. */
    for (l = 0, pos = CNN_HEADER; l < layers; l++, pos += CNN_LAYER_BYTES) {
        const henn_cnn_layer *L = &m->layer[l];
        if (cnn_get_u32(buf + pos + 16) != L->out_c || cnn_get_u32(buf + pos + 20) != L->out_h ||
            cnn_get_u32(buf + pos + 24) != L->out_w)
            goto bad;
    }
    if (buf_len != CNN_HEADER + CNN_LAYER_BYTES * layers + param_bytes(m))
        goto bad;
    if ((rc = alloc_params(m)) != 0)
        goto bad;
    rc = HENN_EFORMAT;
    for (l = 0; l < layers; l++) {
        henn_cnn_layer *L = &m->layer[l];
        if (!has_params(L))
            continue;
        if (get_floats(L->W, buf + pos, w_count(L)) != 0)
            goto bad;
        pos += 4 * w_count(L);
        if (get_floats(L->b, buf + pos, L->out_c) != 0)
            goto bad;
        pos += 4 * L->out_c;
    }
    return 0;
bad:
    henn_cnn_model_clear(m);
    return rc;
}

int henn_cnn_model_save(const char *path, const henn_cnn_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    FILE *f;
    int rc, ok;

    if (path == NULL)
        return HENN_EINVAL;
    if ((rc = henn_cnn_model_serialize(&buf, &len, m)) != 0)
        return rc;
    rc = HENN_EIO;
    if ((f = fopen(path, "wb")) != NULL) {
        ok = fwrite(buf, 1, len, f) == len;
        if (fclose(f) == 0 && ok)
            rc = 0;
    }
    free(buf);
    return rc;
}

int henn_cnn_model_load(henn_cnn_model *m, const char *path)
{
    uint8_t *buf = NULL;
    FILE *f;
    long end;
    int rc = HENN_EIO;

    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if (path == NULL)
        return HENN_EINVAL;
    if ((f = fopen(path, "rb")) == NULL)
        return HENN_EIO;
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto cleanup;
    rc = HENN_EFORMAT;
    if ((unsigned long)end < CNN_HEADER || (unsigned long)end > CNN_MAX_FILE)
        goto cleanup;
    rc = HENN_ENOMEM;
    if ((buf = malloc((size_t)end)) == NULL)
        goto cleanup;
    rc = HENN_EIO;
    if (fread(buf, 1, (size_t)end, f) != (size_t)end)
        goto cleanup;
    rc = henn_cnn_model_deserialize(m, buf, (size_t)end);
cleanup:
    free(buf);
    fclose(f);
    return rc;
}
