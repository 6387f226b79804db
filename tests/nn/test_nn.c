/* Neural network tests: finite-difference gradient checks for every
 * activation and loss, the split (Z1) backprop path, optimiser steps by
 * hand, determinism, learning a separable problem, metrics, model files. */
#include "../test.h"

#include <math.h>

#include "henn/henn.h"

static unsigned long rng_state;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* Smallest |pre-activation| of any hidden unit over the rows (double
 * precision forward pass). */
static double hidden_margin(const henn_nn_model *m, const float *X, size_t rows)
{
    double a[2][8], margin = INFINITY;
    size_t r, l, i, j;
    for (r = 0; r < rows; r++) {
        for (j = 0; j < m->dims[0]; j++)
            a[0][j] = X[r * m->dims[0] + j];
        for (l = 0; l + 1 < m->layers; l++) {
            double *in = a[l & 1], *out = a[(l + 1) & 1];
            for (i = 0; i < m->dims[l + 1]; i++) {
                double z = m->b[l][i];
                for (j = 0; j < m->dims[l]; j++)
                    z += (double)m->W[l][i * m->dims[l] + j] * in[j];
                margin = fmin(margin, fabs(z));
                out[i] = z > 0 ? z : 0;
            }
        }
    }
    return margin;
}

/* Analytic gradients vs central differences of the mean loss. For ReLU the
 * inputs and biases are redrawn until every hidden pre-activation is at
 * least 0.02 from the kink, so that no finite-difference step (at most
 * 2e-3 on one parameter) crosses it and every parameter is checked. */
static void grad_check(henn_nn_act act, henn_nn_output out, size_t layers)
{
    size_t dims[4] = {5, 4, 3, 3}, rows = 6, l, i, k, tries = 0;
    henn_nn_model m;
    henn_nn_trainer *t;
    henn_nn_opts o;
    float X[6 * 5];
    uint8_t y[6];
    double loss;
    int bad = 0;

    for (i = 0; i < rows; i++)
        y[i] = (uint8_t)(i % 3);
    dims[layers] = 3;
    CHECK_OK(henn_nn_model_init(&m, dims, layers + 1, act, out, 11));
    do {
        for (i = 0; i < rows * 5; i++)
            X[i] = (float)(urand() * 2.0 - 1.0);
        for (l = 0; l < m.layers; l++)
            for (i = 0; i < m.dims[l + 1]; i++)
                m.b[l][i] = (float)(urand() - 0.5); /* exercise the bias gradient too */
    } while (act == HENN_NN_RELU && hidden_margin(&m, X, rows) < 0.02 && ++tries < 10000);
    CHECK(tries < 10000);
    henn_nn_opts_default(&o);
    o.max_rows = rows;
    CHECK_OK(henn_nn_trainer_new(&t, &m, &o));
    CHECK_OK(henn_nn_backprop(t, X, NULL, y, rows, &loss));
    for (l = 0; l < m.layers; l++) {
        size_t nw = m.dims[l + 1] * m.dims[l];
        for (k = 0; k < nw + m.dims[l + 1]; k++) {
            float *p = k < nw ? &m.W[l][k] : &m.b[l][k - nw];
            float g = k < nw ? henn_nn_grad_w(t, l)[k] : henn_nn_grad_b(t, l)[k - nw];
            float save = *p, h = act == HENN_NN_RELU ? 2e-3f : 1e-2f;
            double lp, lm, fd;
            *p = save + h;
            CHECK_OK(henn_nn_loss(&lp, &m, X, y, rows));
            *p = save - h;
            CHECK_OK(henn_nn_loss(&lm, &m, X, y, rows));
            *p = save;
            fd = (lp - lm) / (2.0 * h);
            if (fabs(fd - g) > 2e-3 + 0.03 * fabs(fd)) {
                bad++;
                fprintf(stderr, "grad act %d out %d layer %zu param %zu: backprop %g, fd %g\n",
                        act, out, l, k, g, fd);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    henn_nn_trainer_free(t);
    henn_nn_model_clear(&m);
}

/* Backprop from given Z1 gives the same dZ1, and dZ1^T X is layer 0's
 * weight gradient (what the encrypted protocol computes). */
static void test_split_path(void)
{
    size_t dims[3] = {6, 5, 3}, rows = 8, i, h, j;
    henn_nn_model m;
    henn_nn_trainer *t;
    henn_nn_opts o;
    float X[8 * 6], Z1[8 * 5], dz[8 * 5], gw[5 * 6];
    uint8_t y[8];
    for (i = 0; i < rows * 6; i++)
        X[i] = (float)urand();
    for (i = 0; i < rows; i++)
        y[i] = (uint8_t)(i % 3);
    CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 5));
    henn_nn_opts_default(&o);
    o.max_rows = rows;
    CHECK_OK(henn_nn_trainer_new(&t, &m, &o));
    CHECK_OK(henn_nn_backprop(t, X, NULL, y, rows, NULL));
    memcpy(dz, henn_nn_dz1(t), sizeof(dz));
    memcpy(gw, henn_nn_grad_w(t, 0), sizeof(gw));
    for (i = 0; i < rows; i++)
        for (h = 0; h < 5; h++) {
            double s = m.b[0][h];
            for (j = 0; j < 6; j++)
                s += (double)m.W[0][h * 6 + j] * X[i * 6 + j];
            Z1[i * 5 + h] = (float)s;
        }
    CHECK_OK(henn_nn_backprop(t, NULL, Z1, y, rows, NULL));
    for (i = 0; i < rows * 5; i++)
        CHECK(fabsf(henn_nn_dz1(t)[i] - dz[i]) < 1e-6f);
    for (i = 0; i < 5 * 6; i++)
        CHECK(henn_nn_grad_w(t, 0)[i] == 0.0f); /* left for the protocol */
    for (h = 0; h < 5; h++)
        for (j = 0; j < 6; j++) {
            double s = 0;
            for (i = 0; i < rows; i++)
                s += (double)dz[i * 5 + h] * X[i * 6 + j];
            CHECK(fabs(s - gw[h * 6 + j]) < 1e-5);
        }
    CHECK_RC(henn_nn_backprop(t, NULL, NULL, y, rows, NULL), HENN_EINVAL);
    CHECK_RC(henn_nn_backprop(t, X, NULL, y, rows + 1, NULL), HENN_EINVAL);
    y[0] = 3;
    CHECK_RC(henn_nn_backprop(t, X, NULL, y, rows, NULL), HENN_EINVAL);
    henn_nn_trainer_free(t);
    henn_nn_model_clear(&m);
}

/* SGD with momentum and Adam, first steps computed by hand. */
static void test_optimisers(void)
{
    size_t dims[2] = {2, 2};
    henn_nn_model m, m0;
    henn_nn_trainer *t;
    henn_nn_opts o;
    float X[2] = {1.0f, 0.5f}, g[4], gb[2];
    uint8_t y[1] = {1};
    size_t i;

    CHECK_OK(henn_nn_model_init(&m, dims, 2, HENN_NN_IDENTITY, HENN_NN_SOFTMAX_CE, 2));
    CHECK_OK(henn_nn_model_copy(&m0, &m));
    henn_nn_opts_default(&o);
    o.optimizer = HENN_NN_SGD;
    o.lr = 0.5f;
    o.momentum = 0.9f;
    o.max_rows = 1;
    CHECK_OK(henn_nn_trainer_new(&t, &m, &o));
    CHECK_OK(henn_nn_backprop(t, X, NULL, y, 1, NULL));
    memcpy(g, henn_nn_grad_w(t, 0), sizeof(g));
    memcpy(gb, henn_nn_grad_b(t, 0), sizeof(gb));
    henn_nn_update(t);
    for (i = 0; i < 4; i++)
        CHECK(fabsf(m.W[0][i] - (m0.W[0][i] - 0.5f * g[i])) < 1e-6f);
    for (i = 0; i < 2; i++)
        CHECK(fabsf(m.b[0][i] - (-0.5f * gb[i])) < 1e-6f);
    henn_nn_trainer_free(t);
    henn_nn_model_clear(&m);

    /* Adam's first step moves every weight by lr * sign(g) (bias-corrected). */
    CHECK_OK(henn_nn_model_copy(&m, &m0));
    o.optimizer = HENN_NN_ADAM;
    o.lr = 0.01f;
    CHECK_OK(henn_nn_trainer_new(&t, &m, &o));
    CHECK_OK(henn_nn_train_batch(t, X, y, 1, NULL));
    for (i = 0; i < 4; i++)
        CHECK(fabsf(m.W[0][i] - (m0.W[0][i] - 0.01f * (g[i] > 0 ? 1.0f : -1.0f))) < 1e-5f);
    henn_nn_trainer_free(t);
    henn_nn_model_clear(&m);
    henn_nn_model_clear(&m0);
    o.lr = 0.0f;
    CHECK_RC(henn_nn_trainer_new(&t, &m0, &o), HENN_EINVAL);
}

/* Same seed, same weights; training learns a separable rule. */
static void test_learning(void)
{
    size_t dims[3] = {2, 8, 2}, rows = 512, i;
    henn_nn_model a, b;
    henn_nn_trainer *t;
    henn_nn_opts o;
    float *X = malloc(rows * 2 * sizeof(float));
    uint8_t *y = malloc(rows), *pred = malloc(rows);
    henn_nn_metrics mt;
    int e;

    CHECK_OK(henn_nn_model_init(&a, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 9));
    CHECK_OK(henn_nn_model_init(&b, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 9));
    CHECK(memcmp(a.W[0], b.W[0], 16 * sizeof(float)) == 0);
    henn_nn_model_clear(&b);
    CHECK_OK(henn_nn_model_init(&b, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 10));
    CHECK(memcmp(a.W[0], b.W[0], 16 * sizeof(float)) != 0);
    henn_nn_model_clear(&b);

    /* XOR-like quadrants: not linearly separable, needs the hidden layer. */
    for (i = 0; i < rows; i++) {
        X[2 * i] = (float)(urand() * 2 - 1);
        X[2 * i + 1] = (float)(urand() * 2 - 1);
        y[i] = (uint8_t)((X[2 * i] > 0) ^ (X[2 * i + 1] > 0));
    }
    henn_nn_opts_default(&o);
    o.lr = 0.02f;
    o.max_rows = 32;
    CHECK_OK(henn_nn_trainer_new(&t, &a, &o));
    for (e = 0; e < 150; e++)
        CHECK_OK(henn_nn_train_epoch(t, X, y, rows, 32, (uint64_t)e, NULL, NULL, NULL));
    CHECK_OK(henn_nn_predict(pred, &a, X, rows));
    CHECK_OK(henn_nn_metrics_compute(&mt, y, pred, rows, 2));
    printf("xor accuracy %.3f\n", mt.accuracy);
    CHECK(mt.accuracy >= 0.9);
    henn_nn_metrics_clear(&mt);
    henn_nn_trainer_free(t);
    henn_nn_model_clear(&a);
    free(X);
    free(y);
    free(pred);
}

static void test_metrics(void)
{
    /* true:  0 0 0 1 1 2 ; pred: 0 0 1 1 2 2 */
    uint8_t y[6] = {0, 0, 0, 1, 1, 2}, p[6] = {0, 0, 1, 1, 2, 2};
    henn_nn_metrics mt;
    CHECK_OK(henn_nn_metrics_compute(&mt, y, p, 6, 4));
    CHECK(fabs(mt.accuracy - 4.0 / 6.0) < 1e-12);
    CHECK(fabs(mt.precision[0] - 1.0) < 1e-12);
    CHECK(fabs(mt.recall[0] - 2.0 / 3.0) < 1e-12);
    CHECK(fabs(mt.precision[1] - 0.5) < 1e-12);
    CHECK(fabs(mt.recall[2] - 1.0) < 1e-12);
    CHECK(fabs(mt.f1[2] - 2.0 / 3.0) < 1e-12);
    /* class 3 has neither support nor predictions: left out of macro-F1 */
    CHECK(fabs(mt.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0) < 1e-12);
    CHECK_EQ_INT(mt.confusion[0 * 4 + 1], 1);
    CHECK_EQ_INT(mt.confusion[1 * 4 + 2], 1);
    CHECK_EQ_INT(mt.support[0], 3);
    henn_nn_metrics_clear(&mt);
    p[0] = 4;
    CHECK_RC(henn_nn_metrics_compute(&mt, y, p, 6, 4), HENN_EINVAL);
}

static void test_model_file(void)
{
    size_t dims[4] = {7, 5, 4, 3}, len, cut, i;
    henn_nn_model m, back;
    uint8_t *buf;
    float X[7] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f}, pa[3], pb[3];
    float nan_v = NAN;

    CHECK_OK(henn_nn_model_init(&m, dims, 4, HENN_NN_TANH, HENN_NN_SIGMOID_MSE, 3));
    CHECK_OK(henn_nn_model_serialize(&buf, &len, &m));
    CHECK_OK(henn_nn_model_deserialize(&back, buf, len));
    CHECK_EQ_INT(back.layers, 3);
    CHECK_EQ_INT(back.act[1], HENN_NN_TANH);
    CHECK_EQ_INT(back.output, HENN_NN_SIGMOID_MSE);
    CHECK_OK(henn_nn_forward(pa, &m, X, 1));
    CHECK_OK(henn_nn_forward(pb, &back, X, 1));
    for (i = 0; i < 3; i++)
        CHECK(pa[i] == pb[i]);
    henn_nn_model_clear(&back);
    for (cut = 0; cut < len; cut++)
        CHECK_RC(henn_nn_model_deserialize(&back, buf, cut), HENN_EFORMAT);
    {
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        CHECK_RC(henn_nn_model_deserialize(&back, longer, len + 1), HENN_EFORMAT);
        free(longer);
    }
    memcpy(buf + len - 4, &nan_v, 4); /* a NaN bias */
    CHECK_RC(henn_nn_model_deserialize(&back, buf, len), HENN_EFORMAT);
    buf[0] = 'X';
    CHECK_RC(henn_nn_model_deserialize(&back, buf, len), HENN_EFORMAT);
    free(buf);
    henn_nn_model_clear(&m);
    CHECK_RC(henn_nn_model_init(&m, dims, 1, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 1), HENN_EINVAL);
    dims[1] = 0;
    CHECK_RC(henn_nn_model_init(&m, dims, 3, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 1), HENN_EINVAL);
}

/* henn_nn_model_same_shape: the same architecture with other weights is
 * the same shape; each single difference (a width, a hidden activation,
 * the output rule, a layer more) is not. */
static void test_same_shape(void)
{
    size_t dims[4] = {7, 5, 4, 3}, other[4], l;
    henn_nn_model a, b;
    CHECK_OK(henn_nn_model_init(&a, dims, 4, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 1));
    CHECK_OK(henn_nn_model_init(&b, dims, 4, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 2));
    CHECK(b.W[0][0] != a.W[0][0]);
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 1);
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &a), 1);
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, NULL), 0);
    CHECK_EQ_INT(henn_nn_model_same_shape(NULL, &a), 0);
    henn_nn_model_clear(&b);
    for (l = 0; l < 4; l++) { /* one width more */
        memcpy(other, dims, sizeof(dims));
        other[l]++;
        CHECK_OK(henn_nn_model_init(&b, other, 4, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 1));
        CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 0);
        CHECK_EQ_INT(henn_nn_model_same_shape(&b, &a), 0);
        henn_nn_model_clear(&b);
    }
    CHECK_OK(henn_nn_model_init(&b, dims, 4, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 1));
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 0);
    b.act[0] = HENN_NN_TANH; /* one hidden layer of two still ReLU */
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 0);
    b.act[1] = HENN_NN_TANH;
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 1);
    henn_nn_model_clear(&b);
    CHECK_OK(henn_nn_model_init(&b, dims, 4, HENN_NN_TANH, HENN_NN_SIGMOID_MSE, 1));
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 0);
    henn_nn_model_clear(&b);
    CHECK_OK(henn_nn_model_init(&b, dims, 3, HENN_NN_TANH, HENN_NN_SOFTMAX_CE, 1));
    CHECK_EQ_INT(henn_nn_model_same_shape(&a, &b), 0); /* 7-5-4 */
    henn_nn_model_clear(&b);
    henn_nn_model_clear(&a);
}

int main(void)
{
    henn_nn_act acts[4] = {HENN_NN_IDENTITY, HENN_NN_SIGMOID, HENN_NN_TANH, HENN_NN_RELU};
    int a;
    size_t layers;
    rng_state = test_seed();
    if (henn_init() != 0)
        return 1;
    for (a = 0; a < 4; a++)
        for (layers = 1; layers <= 3; layers++) {
            grad_check(acts[a], HENN_NN_SOFTMAX_CE, layers);
            grad_check(acts[a], HENN_NN_SIGMOID_MSE, layers);
        }
    test_split_path();
    test_optimisers();
    test_learning();
    test_metrics();
    test_same_shape();
    test_model_file();
    return test_report("test_nn");
}
