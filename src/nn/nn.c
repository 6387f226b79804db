/*
 * Dense multilayer perceptrons with mini-batch SGD/Adam (henn/nn.h).
 * Matrix products through CBLAS; element-wise work in plain loops.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "henn/nn.h"
#include "nn_internal.h"

void henn_nn_model_init_empty(henn_nn_model *m)
{
    memset(m, 0, sizeof(*m));
}

void henn_nn_model_clear(henn_nn_model *m)
{
    size_t l;
    if (m == NULL)
        return;
    for (l = 0; l < HENN_NN_MAX_LAYERS; l++) {
        free(m->W[l]);
        free(m->b[l]);
    }
    memset(m, 0, sizeof(*m));
}

static int valid_shape(const size_t *dims, size_t ndims)
{
    size_t i;
    if (dims == NULL || ndims < 2 || ndims > HENN_NN_MAX_LAYERS + 1)
        return 0;
    for (i = 0; i < ndims; i++)
        if (dims[i] == 0 || dims[i] > HENN_NN_MAX_DIM)
            return 0;
    return 1;
}

static int valid_act(int a)
{
    return a >= HENN_NN_IDENTITY && a <= HENN_NN_RELU;
}

/* Allocate W and b for the shape already in m. */
static int alloc_params(henn_nn_model *m)
{
    size_t l;
    for (l = 0; l < m->layers; l++) {
        m->W[l] = calloc(m->dims[l + 1] * m->dims[l], sizeof(float));
        m->b[l] = calloc(m->dims[l + 1], sizeof(float));
        if (m->W[l] == NULL || m->b[l] == NULL)
            return HENN_ENOMEM;
    }
    return 0;
}

int henn_nn_model_init(henn_nn_model *m, const size_t *dims, size_t ndims, henn_nn_act hidden,
                       henn_nn_output output, uint64_t seed)
{
    henn__prng rng;
    size_t l, i;
    int rc;

    henn_nn_model_init_empty(m);
    if (!valid_shape(dims, ndims) || !valid_act((int)hidden) ||
        (output != HENN_NN_SOFTMAX_CE && output != HENN_NN_SIGMOID_MSE))
        return HENN_EINVAL;
    m->layers = ndims - 1;
    memcpy(m->dims, dims, ndims * sizeof(size_t));
    for (l = 0; l < m->layers; l++)
        m->act[l] = hidden;
    m->output = output;
    rc = alloc_params(m);
    if (rc != 0) {
        henn_nn_model_clear(m);
        return rc;
    }
    henn__prng_init(&rng, seed, 0x6e6e);
    for (l = 0; l < m->layers; l++) {
        size_t fan_in = dims[l], fan_out = dims[l + 1], count = fan_in * fan_out;
        int relu_in = l + 1 < m->layers && hidden == HENN_NN_RELU;
        double lim = sqrt(6.0 / (double)(fan_in + fan_out));
        double sd = sqrt(2.0 / (double)fan_in);
        for (i = 0; i < count; i++)
            m->W[l][i] = relu_in ? (float)(sd * henn__prng_normal(&rng))
                                 : (float)((2.0 * henn__prng_uniform(&rng) - 1.0) * lim);
    }
    return 0;
}

int henn_nn_model_copy(henn_nn_model *dst, const henn_nn_model *src)
{
    size_t l;
    int rc;
    henn_nn_model_init_empty(dst);
    dst->layers = src->layers;
    memcpy(dst->dims, src->dims, sizeof(src->dims));
    memcpy(dst->act, src->act, sizeof(src->act));
    dst->output = src->output;
    rc = alloc_params(dst);
    if (rc != 0) {
        henn_nn_model_clear(dst);
        return rc;
    }
    for (l = 0; l < src->layers; l++) {
        memcpy(dst->W[l], src->W[l], src->dims[l + 1] * src->dims[l] * sizeof(float));
        memcpy(dst->b[l], src->b[l], src->dims[l + 1] * sizeof(float));
    }
    return 0;
}

int henn_nn_model_same_shape(const henn_nn_model *a, const henn_nn_model *b)
{
    size_t l;
    if (a == NULL || b == NULL || a->layers != b->layers || a->output != b->output ||
        a->layers > HENN_NN_MAX_LAYERS)
        return 0;
    for (l = 0; l <= a->layers; l++)
        if (a->dims[l] != b->dims[l])
            return 0;
    for (l = 0; l + 1 < a->layers; l++)
        if (a->act[l] != b->act[l])
            return 0;
    return 1;
}

void henn_nn_activate(float *v, size_t count, henn_nn_act act)
{
    size_t i;
    switch (act) {
    case HENN_NN_SIGMOID:
        for (i = 0; i < count; i++)
            v[i] = 1.0f / (1.0f + expf(-v[i]));
        break;
    case HENN_NN_TANH:
        for (i = 0; i < count; i++)
            v[i] = tanhf(v[i]);
        break;
    case HENN_NN_RELU:
        for (i = 0; i < count; i++)
            v[i] = v[i] > 0.0f ? v[i] : 0.0f;
        break;
    default:
        break;
    }
}

void henn__nn_softmax_row(float *p, size_t k)
{
    size_t j;
    float mx = p[0], s = 0.0f;
    for (j = 1; j < k; j++)
        mx = p[j] > mx ? p[j] : mx;
    for (j = 0; j < k; j++) {
        p[j] = expf(p[j] - mx);
        s += p[j];
    }
    for (j = 0; j < k; j++)
        p[j] /= s;
}

/* Output activation of one row of logits z[k]. */
static void output_row(float *p, size_t k, henn_nn_output out)
{
    if (out == HENN_NN_SOFTMAX_CE)
        henn__nn_softmax_row(p, k);
    else
        henn_nn_activate(p, k, HENN_NN_SIGMOID);
}

/* Z [rows x out] = A [rows x in] W^T + b. */
static void dense(float *Z, const float *A, const float *W, const float *b, size_t rows,
                  size_t in, size_t out)
{
    size_t r;
    for (r = 0; r < rows; r++)
        memcpy(Z + r * out, b, out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f, A,
                (int)in, W, (int)in, 1.0f, Z, (int)out);
}

struct henn_nn_trainer {
    henn_nn_model *m;
    henn_nn_opts o;
    size_t rows;
    uint64_t step;
    int have_x;
    float *Z[HENN_NN_MAX_LAYERS];  /* pre-activations, [max_rows x d(l+1)] */
    float *A[HENN_NN_MAX_LAYERS];  /* activations after layer l ([max_rows x d(l+1)]) */
    float *dZ[HENN_NN_MAX_LAYERS]; /* d loss / d Z[l] */
    float *gW[HENN_NN_MAX_LAYERS], *gb[HENN_NN_MAX_LAYERS];
    float *mW[HENN_NN_MAX_LAYERS], *mb[HENN_NN_MAX_LAYERS]; /* momentum / Adam m */
    float *vW[HENN_NN_MAX_LAYERS], *vb[HENN_NN_MAX_LAYERS]; /* Adam v */
};

void henn_nn_opts_default(henn_nn_opts *o)
{
    o->optimizer = HENN_NN_ADAM;
    o->lr = 0.001f;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->max_rows = 256;
}

void henn_nn_trainer_free(henn_nn_trainer *t)
{
    size_t l;
    if (t == NULL)
        return;
    for (l = 0; l < HENN_NN_MAX_LAYERS; l++) {
        free(t->Z[l]);
        free(t->A[l]);
        free(t->dZ[l]);
        free(t->gW[l]);
        free(t->gb[l]);
        free(t->mW[l]);
        free(t->mb[l]);
        free(t->vW[l]);
        free(t->vb[l]);
    }
    free(t);
}

int henn_nn_trainer_new(henn_nn_trainer **out, henn_nn_model *m, const henn_nn_opts *o)
{
    henn_nn_trainer *t;
    size_t l;
    *out = NULL;
    if (m == NULL || o == NULL || m->layers == 0 || o->max_rows == 0 || !(o->lr > 0.0f) ||
        o->momentum < 0.0f || o->momentum >= 1.0f || o->beta1 < 0.0f || o->beta1 >= 1.0f ||
        o->beta2 < 0.0f || o->beta2 >= 1.0f || !(o->eps > 0.0f) ||
        (o->optimizer != HENN_NN_SGD && o->optimizer != HENN_NN_ADAM))
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    t->m = m;
    t->o = *o;
    for (l = 0; l < m->layers; l++) {
        size_t out_d = m->dims[l + 1], wn = out_d * m->dims[l];
        t->Z[l] = calloc(o->max_rows * out_d, sizeof(float));
        t->A[l] = calloc(o->max_rows * out_d, sizeof(float));
        t->dZ[l] = calloc(o->max_rows * out_d, sizeof(float));
        t->gW[l] = calloc(wn, sizeof(float));
        t->gb[l] = calloc(out_d, sizeof(float));
        t->mW[l] = calloc(wn, sizeof(float));
        t->mb[l] = calloc(out_d, sizeof(float));
        t->vW[l] = calloc(wn, sizeof(float));
        t->vb[l] = calloc(out_d, sizeof(float));
        if (!t->Z[l] || !t->A[l] || !t->dZ[l] || !t->gW[l] || !t->gb[l] || !t->mW[l] ||
            !t->mb[l] || !t->vW[l] || !t->vb[l]) {
            henn_nn_trainer_free(t);
            return HENN_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

float henn__nn_act_grad(henn_nn_act act, float z, float a)
{
    switch (act) {
    case HENN_NN_SIGMOID:
        return a * (1.0f - a);
    case HENN_NN_TANH:
        return 1.0f - a * a;
    case HENN_NN_RELU:
        return z > 0.0f ? 1.0f : 0.0f;
    default:
        return 1.0f;
    }
}

/* Forward through the trainer's buffers from Z[0] already set. */
static void forward_from_z1(henn_nn_trainer *t, size_t rows)
{
    henn_nn_model *m = t->m;
    size_t l, L = m->layers, r;
    for (l = 0; l < L; l++) {
        size_t out_d = m->dims[l + 1];
        if (l > 0)
            dense(t->Z[l], t->A[l - 1], m->W[l], m->b[l], rows, m->dims[l], out_d);
        memcpy(t->A[l], t->Z[l], rows * out_d * sizeof(float));
        if (l + 1 < L) {
            henn_nn_activate(t->A[l], rows * out_d, m->act[l]);
        } else {
            for (r = 0; r < rows; r++)
                output_row(t->A[l] + r * out_d, out_d, m->output);
        }
    }
}

double henn__nn_mean_loss(const float *P, const uint8_t *y, size_t rows, size_t k,
                          henn_nn_output out)
{
    double s = 0.0;
    size_t r, j;
    for (r = 0; r < rows; r++) {
        const float *p = P + r * k;
        if (out == HENN_NN_SOFTMAX_CE) {
            double py = p[y[r]];
            s -= log(py > 1e-30 ? py : 1e-30);
        } else {
            for (j = 0; j < k; j++) {
                double d = (double)p[j] - (j == y[r] ? 1.0 : 0.0);
                s += 0.5 * d * d;
            }
        }
    }
    return s / (double)rows;
}

int henn_nn_backprop(henn_nn_trainer *t, const float *X, const float *Z1, const uint8_t *y,
                     size_t rows, double *loss)
{
    henn_nn_model *m = t->m;
    size_t L = m->layers, l, r, j, k = m->dims[L];
    float inv = 1.0f / (float)rows;

    if (rows == 0 || rows > t->o.max_rows || y == NULL || (X == NULL && Z1 == NULL))
        return HENN_EINVAL;
    for (r = 0; r < rows; r++)
        if (y[r] >= k)
            return HENN_EINVAL;
    t->rows = rows;
    t->have_x = X != NULL;
    if (Z1 != NULL)
        memcpy(t->Z[0], Z1, rows * m->dims[1] * sizeof(float));
    else
        dense(t->Z[0], X, m->W[0], m->b[0], rows, m->dims[0], m->dims[1]);
    forward_from_z1(t, rows);
    if (loss != NULL)
        *loss = henn__nn_mean_loss(t->A[L - 1], y, rows, k, m->output);

    /* Output delta. */
    for (r = 0; r < rows; r++) {
        const float *p = t->A[L - 1] + r * k;
        float *d = t->dZ[L - 1] + r * k;
        for (j = 0; j < k; j++) {
            float g = p[j] - (j == y[r] ? 1.0f : 0.0f);
            if (m->output == HENN_NN_SIGMOID_MSE)
                g *= p[j] * (1.0f - p[j]);
            d[j] = g * inv;
        }
    }
    for (l = L; l-- > 0;) {
        size_t in_d = m->dims[l], out_d = m->dims[l + 1];
        const float *Ain = l > 0 ? t->A[l - 1] : X;
        memset(t->gb[l], 0, out_d * sizeof(float));
        for (r = 0; r < rows; r++)
            for (j = 0; j < out_d; j++)
                t->gb[l][j] += t->dZ[l][r * out_d + j];
        if (Ain != NULL)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out_d, (int)in_d,
                        (int)rows, 1.0f, t->dZ[l], (int)out_d, Ain, (int)in_d, 0.0f, t->gW[l],
                        (int)in_d);
        else
            memset(t->gW[l], 0, out_d * in_d * sizeof(float));
        if (l > 0) {
            float *dprev = t->dZ[l - 1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)in_d,
                        (int)out_d, 1.0f, t->dZ[l], (int)out_d, m->W[l], (int)in_d, 0.0f, dprev,
                        (int)in_d);
            for (j = 0; j < rows * in_d; j++)
                dprev[j] *= henn__nn_act_grad(m->act[l - 1], t->Z[l - 1][j], t->A[l - 1][j]);
        }
    }
    return 0;
}

const float *henn_nn_dz1(const henn_nn_trainer *t)
{
    return t->dZ[0];
}

void henn_nn_set_grad_w1(henn_nn_trainer *t, const float *dW1)
{
    memcpy(t->gW[0], dW1, t->m->dims[1] * t->m->dims[0] * sizeof(float));
}

int henn_nn_set_grad(henn_nn_trainer *t, size_t l, const float *gW, const float *gb)
{
    if (t == NULL || gW == NULL || gb == NULL || l >= t->m->layers)
        return HENN_EINVAL;
    memcpy(t->gW[l], gW, t->m->dims[l + 1] * t->m->dims[l] * sizeof(float));
    memcpy(t->gb[l], gb, t->m->dims[l + 1] * sizeof(float));
    return 0;
}

const float *henn_nn_grad_w(const henn_nn_trainer *t, size_t l)
{
    return l < t->m->layers ? t->gW[l] : NULL;
}

const float *henn_nn_grad_b(const henn_nn_trainer *t, size_t l)
{
    return l < t->m->layers ? t->gb[l] : NULL;
}

void henn__nn_step(const henn_nn_opts *o, float *w, const float *g, float *mo, float *v, size_t n,
                   float c1, float c2)
{
    size_t i;
    if (o->optimizer == HENN_NN_SGD) {
        for (i = 0; i < n; i++) {
            mo[i] = o->momentum * mo[i] - o->lr * g[i];
            w[i] += mo[i];
        }
        return;
    }
    for (i = 0; i < n; i++) {
        mo[i] = o->beta1 * mo[i] + (1.0f - o->beta1) * g[i];
        v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * g[i] * g[i];
        w[i] -= o->lr * (mo[i] / c1) / (sqrtf(v[i] / c2) + o->eps);
    }
}

void henn_nn_update(henn_nn_trainer *t)
{
    henn_nn_model *m = t->m;
    size_t l;
    float c1, c2;
    t->step++;
    c1 = 1.0f - powf(t->o.beta1, (float)t->step);
    c2 = 1.0f - powf(t->o.beta2, (float)t->step);
    for (l = 0; l < m->layers; l++) {
        henn__nn_step(&t->o, m->W[l], t->gW[l], t->mW[l], t->vW[l], m->dims[l + 1] * m->dims[l],
                      c1, c2);
        henn__nn_step(&t->o, m->b[l], t->gb[l], t->mb[l], t->vb[l], m->dims[l + 1], c1, c2);
    }
}

int henn_nn_train_batch(henn_nn_trainer *t, const float *X, const uint8_t *y, size_t rows,
                        double *loss)
{
    int rc;
    if (X == NULL)
        return HENN_EINVAL;
    rc = henn_nn_backprop(t, X, NULL, y, rows, loss);
    if (rc == 0)
        henn_nn_update(t);
    return rc;
}

int henn_nn_batch_order(size_t *order, size_t batches, uint64_t seed)
{
    henn__prng rng;
    size_t g;
    if (order == NULL || batches == 0)
        return HENN_EINVAL;
    for (g = 0; g < batches; g++)
        order[g] = g;
    henn__prng_init(&rng, seed, 0x65706f6368);
    for (g = batches; g > 1; g--) {
        size_t j = (size_t)henn__prng_below(&rng, g), tmp = order[g - 1];
        order[g - 1] = order[j];
        order[j] = tmp;
    }
    return 0;
}

int henn_nn_train_epoch(henn_nn_trainer *t, const float *X, const uint8_t *y, size_t rows,
                        size_t batch, uint64_t seed, henn_progress_fn progress, void *user,
                        double *loss)
{
    size_t batches, *order, g, done = 0, d0;
    double total = 0.0;
    int rc = 0;
    if (loss != NULL)
        *loss = 0.0;
    if (t == NULL || X == NULL || y == NULL || rows == 0 || batch == 0 || batch > t->o.max_rows)
        return HENN_EINVAL;
    d0 = t->m->dims[0];
    batches = (rows + batch - 1) / batch;
    order = malloc(batches * sizeof(size_t));
    if (order == NULL)
        return HENN_ENOMEM;
    rc = henn_nn_batch_order(order, batches, seed);
    for (g = 0; g < batches && rc == 0; g++) {
        size_t r0 = order[g] * batch, c = rows - r0 < batch ? rows - r0 : batch;
        double l = 0.0;
        rc = henn_nn_train_batch(t, X + r0 * d0, y + r0, c, &l);
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

/* Inference in chunks of CHUNK rows with two ping-pong buffers. */
#define CHUNK 512

int henn_nn_forward(float *P, const henn_nn_model *m, const float *X, size_t rows)
{
    size_t maxd = 0, l, r0, r;
    float *buf[2];
    if (P == NULL || m == NULL || X == NULL || m->layers == 0)
        return HENN_EINVAL;
    for (l = 1; l <= m->layers; l++)
        maxd = m->dims[l] > maxd ? m->dims[l] : maxd;
    buf[0] = malloc(CHUNK * maxd * sizeof(float));
    buf[1] = malloc(CHUNK * maxd * sizeof(float));
    if (buf[0] == NULL || buf[1] == NULL) {
        free(buf[0]);
        free(buf[1]);
        return HENN_ENOMEM;
    }
    for (r0 = 0; r0 < rows; r0 += CHUNK) {
        size_t n = rows - r0 < CHUNK ? rows - r0 : CHUNK, k = m->dims[m->layers];
        const float *in = X + r0 * m->dims[0];
        for (l = 0; l < m->layers; l++) {
            float *z = buf[l & 1];
            dense(z, in, m->W[l], m->b[l], n, m->dims[l], m->dims[l + 1]);
            if (l + 1 < m->layers)
                henn_nn_activate(z, n * m->dims[l + 1], m->act[l]);
            in = z;
        }
        for (r = 0; r < n; r++) {
            memcpy(P + (r0 + r) * k, in + r * k, k * sizeof(float));
            output_row(P + (r0 + r) * k, k, m->output);
        }
    }
    free(buf[0]);
    free(buf[1]);
    return 0;
}

int henn_nn_predict(uint8_t *pred, const henn_nn_model *m, const float *X, size_t rows)
{
    size_t k, r, j;
    float *P;
    int rc;
    if (m == NULL || m->layers == 0 || pred == NULL)
        return HENN_EINVAL;
    k = m->dims[m->layers];
    if (k > 256)
        return HENN_EINVAL;
    P = malloc((rows ? rows : 1) * k * sizeof(float));
    if (P == NULL)
        return HENN_ENOMEM;
    rc = henn_nn_forward(P, m, X, rows);
    for (r = 0; rc == 0 && r < rows; r++) {
        size_t best = 0;
        for (j = 1; j < k; j++)
            if (P[r * k + j] > P[r * k + best])
                best = j;
        pred[r] = (uint8_t)best;
    }
    free(P);
    return rc;
}

int henn_nn_loss(double *loss, const henn_nn_model *m, const float *X, const uint8_t *y,
                 size_t rows)
{
    size_t k;
    float *P;
    int rc;
    if (m == NULL || m->layers == 0 || rows == 0)
        return HENN_EINVAL;
    k = m->dims[m->layers];
    P = malloc(rows * k * sizeof(float));
    if (P == NULL)
        return HENN_ENOMEM;
    rc = henn_nn_forward(P, m, X, rows);
    if (rc == 0)
        *loss = henn__nn_mean_loss(P, y, rows, k, m->output);
    free(P);
    return rc;
}

int henn_nn_metrics_compute(henn_nn_metrics *mt, const uint8_t *y, const uint8_t *pred,
                            size_t rows, size_t classes)
{
    size_t r, c, correct = 0, used = 0;
    double f1sum = 0.0;
    memset(mt, 0, sizeof(*mt));
    if (classes == 0 || classes > HENN_NN_MAX_CLASSES || rows == 0)
        return HENN_EINVAL;
    for (r = 0; r < rows; r++)
        if (y[r] >= classes || pred[r] >= classes)
            return HENN_EINVAL;
    mt->confusion = calloc(classes * classes, sizeof(size_t));
    if (mt->confusion == NULL)
        return HENN_ENOMEM;
    mt->classes = classes;
    mt->rows = rows;
    for (r = 0; r < rows; r++) {
        mt->confusion[y[r] * classes + pred[r]]++;
        correct += y[r] == pred[r];
    }
    mt->accuracy = (double)correct / (double)rows;
    for (c = 0; c < classes; c++) {
        size_t tp = mt->confusion[c * classes + c], pc = 0, sc = 0, j;
        for (j = 0; j < classes; j++) {
            pc += mt->confusion[j * classes + c];
            sc += mt->confusion[c * classes + j];
        }
        mt->support[c] = sc;
        mt->precision[c] = pc ? (double)tp / (double)pc : 0.0;
        mt->recall[c] = sc ? (double)tp / (double)sc : 0.0;
        mt->f1[c] = (mt->precision[c] + mt->recall[c] > 0.0)
                        ? 2.0 * mt->precision[c] * mt->recall[c] /
                              (mt->precision[c] + mt->recall[c])
                        : 0.0;
        if (sc > 0 || pc > 0) {
            f1sum += mt->f1[c];
            used++;
        }
    }
    mt->macro_f1 = used ? f1sum / (double)used : 0.0;
    return 0;
}

void henn_nn_metrics_clear(henn_nn_metrics *mt)
{
    if (mt == NULL)
        return;
    free(mt->confusion);
    memset(mt, 0, sizeof(*mt));
}

/* ---- serialisation ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define HEADER_BYTES 16 /* magic, version, layers, output */

int henn_nn_model_serialize(uint8_t **buf, size_t *buf_len, const henn_nn_model *m)
{
    size_t len = HEADER_BYTES, l, i, pos;
    uint8_t *b;
    *buf = NULL;
    *buf_len = 0;
    if (m == NULL || m->layers == 0 || m->layers > HENN_NN_MAX_LAYERS)
        return HENN_EINVAL;
    len += 4 * (m->layers + 1) + 4 * m->layers;
    for (l = 0; l < m->layers; l++)
        len += 4 * (m->dims[l + 1] * m->dims[l] + m->dims[l + 1]);
    b = malloc(len);
    if (b == NULL)
        return HENN_ENOMEM;
    memcpy(b, "HNNM", 4);
    put_u32(b + 4, 1);
    put_u32(b + 8, (uint32_t)m->layers);
    put_u32(b + 12, (uint32_t)m->output);
    pos = HEADER_BYTES;
    for (l = 0; l <= m->layers; l++, pos += 4)
        put_u32(b + pos, (uint32_t)m->dims[l]);
    for (l = 0; l < m->layers; l++, pos += 4)
        put_u32(b + pos, (uint32_t)m->act[l]);
    for (l = 0; l < m->layers; l++) {
        for (i = 0; i < m->dims[l + 1] * m->dims[l]; i++, pos += 4)
            put_f32(b + pos, m->W[l][i]);
        for (i = 0; i < m->dims[l + 1]; i++, pos += 4)
            put_f32(b + pos, m->b[l][i]);
    }
    *buf = b;
    *buf_len = len;
    return 0;
}

int henn_nn_model_deserialize(henn_nn_model *m, const uint8_t *buf, size_t buf_len)
{
    size_t layers, l, i, pos, need;
    uint32_t output;
    int rc;

    henn_nn_model_init_empty(m);
    if (buf == NULL || buf_len < HEADER_BYTES || memcmp(buf, "HNNM", 4) != 0 ||
        get_u32(buf + 4) != 1)
        return HENN_EFORMAT;
    layers = get_u32(buf + 8);
    output = get_u32(buf + 12);
    if (layers == 0 || layers > HENN_NN_MAX_LAYERS || output > HENN_NN_SIGMOID_MSE)
        return HENN_EFORMAT;
    need = HEADER_BYTES + 4 * (layers + 1) + 4 * layers;
    if (buf_len < need)
        return HENN_EFORMAT;
    pos = HEADER_BYTES;
    m->layers = layers;
    m->output = (henn_nn_output)output;
    for (l = 0; l <= layers; l++, pos += 4) {
        m->dims[l] = get_u32(buf + pos);
        if (m->dims[l] == 0 || m->dims[l] > HENN_NN_MAX_DIM)
            goto bad;
    }
    for (l = 0; l < layers; l++, pos += 4) {
        uint32_t a = get_u32(buf + pos);
        if (a > HENN_NN_RELU)
            goto bad;
        m->act[l] = (henn_nn_act)a;
    }
    for (l = 0; l < layers; l++)
        need += 4 * (m->dims[l + 1] * m->dims[l] + m->dims[l + 1]);
    if (buf_len != need)
        goto bad;
    rc = alloc_params(m);
    if (rc != 0) {
        henn_nn_model_clear(m);
        return rc;
    }
    for (l = 0; l < layers; l++) {
        for (i = 0; i < m->dims[l + 1] * m->dims[l]; i++, pos += 4) {
            m->W[l][i] = get_f32(buf + pos);
            if (!isfinite(m->W[l][i]))
                goto bad;
        }
        for (i = 0; i < m->dims[l + 1]; i++, pos += 4) {
            m->b[l][i] = get_f32(buf + pos);
            if (!isfinite(m->b[l][i]))
                goto bad;
        }
    }
    return 0;
bad:
    henn_nn_model_clear(m);
    return HENN_EFORMAT;
}

/* ---- optimiser state (checkpoints: nn_internal.h) ---- */

static size_t state_floats(const henn_nn_trainer *t)
{
    size_t l, n = 0;
    for (l = 0; l < t->m->layers; l++)
        n += 2 * (t->m->dims[l + 1] * t->m->dims[l] + t->m->dims[l + 1]);
    return n;
}

/* v[0..count) to little-endian bit patterns at out (out != NULL), or
 * from those at in. */
static void state_floats_io(uint8_t *out, const uint8_t *in, float *v, size_t count)
{
    size_t i, k;
    for (i = 0; i < count; i++) {
        uint32_t u = 0;
        if (out != NULL) {
            memcpy(&u, &v[i], 4);
            for (k = 0; k < 4; k++)
                out[4 * i + k] = (uint8_t)(u >> (8 * k));
        } else {
            for (k = 0; k < 4; k++)
                u |= (uint32_t)in[4 * i + k] << (8 * k);
            memcpy(&v[i], &u, 4);
        }
    }
}

/* Every moment array in the format's order, written to out or read from in. */
static void state_walk(const henn_nn_trainer *t, uint8_t *out, const uint8_t *in)
{
    size_t l, pos = 0;
    for (l = 0; l < t->m->layers; l++) {
        size_t out_d = t->m->dims[l + 1], wn = out_d * t->m->dims[l];
        float *arr[4] = {t->mW[l], t->mb[l], t->vW[l], t->vb[l]};
        size_t len[4] = {wn, out_d, wn, out_d}, a;
        for (a = 0; a < 4; a++) {
            state_floats_io(out != NULL ? out + pos : NULL, in != NULL ? in + pos : NULL, arr[a],
                            len[a]);
            pos += 4 * len[a];
        }
    }
}

int henn__nn_trainer_state_get(uint8_t **buf, size_t *buf_len, const henn_nn_trainer *t)
{
    size_t len = 12 + 4 * state_floats(t), k;
    uint8_t *b = malloc(len);
    *buf = NULL;
    *buf_len = 0;
    if (b == NULL)
        return HENN_ENOMEM;
    memcpy(b, "NNO1", 4);
    for (k = 0; k < 8; k++)
        b[4 + k] = (uint8_t)(t->step >> (8 * k));
    state_walk(t, b + 12, NULL);
    *buf = b;
    *buf_len = len;
    return 0;
}

int henn__nn_trainer_state_set(henn_nn_trainer *t, const uint8_t *buf, size_t buf_len)
{
    uint64_t step = 0;
    size_t k;
    if (buf == NULL || buf_len != 12 + 4 * state_floats(t) || memcmp(buf, "NNO1", 4) != 0)
        return HENN_EFORMAT;
    for (k = 0; k < 8; k++)
        step |= (uint64_t)buf[4 + k] << (8 * k);
    t->step = step;
    state_walk(t, NULL, buf + 12);
    return 0;
}
