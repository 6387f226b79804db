/* Convolutional network and IDX tests: im2col against a direct
 * convolution, col2im as its adjoint, finite-difference gradient checks of
 * conv, max/avg pooling, dense and softmax cross-entropy, the split
 * first-layer path a protocol uses (Z1 in, delta1 out, dW1 from outside),
 * IDX negatives (magic, type, dims, truncation, trailing bytes, count
 * mismatch, bad labels, truncated gzip) with file and offset in the
 * message, the MNIST-8k split, and a short MNIST training run. */
#include "../test.h"

#include <math.h>
#include <unistd.h>
#include <zlib.h>

#include "henn/henn.h"
#include "nn/cnn_internal.h"

static unsigned long rng_state = 12345;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

static void fill(float *v, size_t n, double lo, double hi)
{
    size_t i;
    for (i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * urand());
}

/* ---- im2col ---- */

static void test_im2col(void)
{
    size_t c = 3, h = 7, w = 6, k = 3, pads[2] = {0, 1}, pi;
    for (pi = 0; pi < 2; pi++) {
        size_t pad = pads[pi], oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1, oc = 4;
        size_t K = c * k * k, P = oh * ow, o, oy, ox, ci, i, j;
        float x[3 * 7 * 6], *cols = malloc(P * K * sizeof(float)), Wt[4 * 27], bias[4];
        float *Z = malloc(oc * P * sizeof(float)), *back = malloc(c * h * w * sizeof(float));
        float *C2 = malloc(P * K * sizeof(float));
        int64_t xi[3 * 7 * 6], *ci64 = malloc(P * K * sizeof(int64_t));
        double maxerr = 0.0, lhs = 0.0, rhs = 0.0;
        henn_cnn_layer L;
        fill(x, c * h * w, -1, 1);
        fill(Wt, oc * K, -1, 1);
        fill(bias, oc, -1, 1);
        for (i = 0; i < c * h * w; i++)
            xi[i] = (int64_t)(x[i] * 255.0f);
        CHECK_OK(henn_cnn_im2col(cols, x, c, h, w, k, pad));
        CHECK_OK(henn_cnn_im2col_i64(ci64, xi, c, h, w, k, pad));
        /* direct convolution */
        for (o = 0; o < oc; o++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    double z = bias[o], zc = bias[o];
                    for (ci = 0; ci < c; ci++)
                        for (i = 0; i < k; i++)
                            for (j = 0; j < k; j++) {
                                long yy = (long)(oy + i) - (long)pad,
                                     xx = (long)(ox + j) - (long)pad;
                                float wv = Wt[o * K + (ci * k + i) * k + j];
                                if (yy >= 0 && yy < (long)h && xx >= 0 && xx < (long)w)
                                    z += (double)wv * x[(ci * h + (size_t)yy) * w + (size_t)xx];
                            }
                    for (i = 0; i < K; i++)
                        zc += (double)Wt[o * K + i] * cols[(oy * ow + ox) * K + i];
                    maxerr = fmax(maxerr, fabs(z - zc));
                }
        CHECK(maxerr < 1e-5);
        /* the integer patches are the same patches */
        for (i = 0; i < P * K; i++)
            if (ci64[i] != (int64_t)(cols[i] * 255.0f)) {
                CHECK(ci64[i] == (int64_t)(cols[i] * 255.0f));
                break;
            }
        /* henn__conv_forward (im2col + sgemm) = direct */
        memset(&L, 0, sizeof(L));
        L.kind = HENN_CNN_CONV;
        L.k = k;
        L.pad = pad;
        L.in_c = c;
        L.in_h = h;
        L.in_w = w;
        L.out_c = oc;
        L.out_h = oh;
        L.out_w = ow;
        L.W = Wt;
        L.b = bias;
        henn__conv_forward(Z, cols, x, &L);
        maxerr = 0.0;
        for (o = 0; o < oc; o++)
            for (i = 0; i < P; i++) {
                double zc = bias[o];
                size_t q;
                for (q = 0; q < K; q++)
                    zc += (double)Wt[o * K + q] * cols[i * K + q];
                maxerr = fmax(maxerr, fabs(zc - Z[o * P + i]));
            }
        CHECK(maxerr < 1e-5);
        /* adjoint: <im2col(x), C> = <x, col2im(C)> */
        fill(C2, P * K, -1, 1);
        CHECK_OK(henn_cnn_col2im(back, C2, c, h, w, k, pad));
        for (i = 0; i < P * K; i++)
            lhs += (double)cols[i] * C2[i];
        for (i = 0; i < c * h * w; i++)
            rhs += (double)x[i] * back[i];
        CHECK(fabs(lhs - rhs) < 1e-4 * (1.0 + fabs(lhs)));
        free(cols);
        free(Z);
        free(back);
        free(C2);
        free(ci64);
    }
    {
        float x[16], cols[16];
        CHECK_RC(henn_cnn_im2col(cols, x, 1, 4, 4, 0, 0), HENN_EINVAL);
        CHECK_RC(henn_cnn_im2col(cols, x, 1, 4, 4, 3, 3), HENN_EINVAL);
        CHECK_RC(henn_cnn_im2col(cols, x, 1, 4, 4, 5, 0), HENN_EINVAL);
        CHECK_RC(henn_cnn_im2col(NULL, x, 1, 4, 4, 3, 0), HENN_EINVAL);
        CHECK_RC(henn_cnn_col2im(x, cols, 1, 2, 2, 3, 0), HENN_EINVAL);
    }
}

/* ---- gradient checks ---- */

static double worst_rel; /* largest relative error seen, for the log */

/* |analytic - numeric| within a float-appropriate bound. */
/* Float forward passes: rounding in the loss (about 1e-7 relative) over a
 * step h gives about 1e-7 / h of noise, so the bound loosens for small
 * steps: relative 2e-3 + 2e-7 / h, absolute 2e-7 / h. */
static int grad_close_h(double a, double n, double h)
{
    double err = fabs(a - n), scale = fmax(fabs(a), fabs(n));
    if (scale > 1e-2)
        worst_rel = fmax(worst_rel, err / scale);
    return err <= (2e-3 + 2e-7 / h) * scale + 2e-7 / h;
}

static int grad_close(double a, double n)
{
    return grad_close_h(a, n, 1e-2);
}

/* Central differences of the mean loss on every weight and bias of every
 * layer, against the trainer's gradient. step: the finite-difference step. */
static void grad_check_model(henn_cnn_model *m, const float *X, const uint8_t *y, size_t rows,
                             float step, const char *what)
{
    henn_cnn_trainer *t;
    henn_nn_opts o;
    size_t l, i, checked = 0, bad = 0;
    henn_nn_opts_default(&o);
    o.max_rows = rows;
    CHECK_OK(henn_cnn_trainer_new(&t, m, &o));
    CHECK_OK(henn_cnn_backprop(t, X, NULL, y, rows, NULL));
    for (l = 0; l < m->layers; l++) {
        henn_cnn_layer *L = &m->layer[l];
        size_t nw, part;
        if (L->W == NULL) {
            CHECK(henn_cnn_grad_w(t, l) == NULL);
            continue;
        }
        nw = L->kind == HENN_CNN_CONV ? L->out_c * L->in_c * L->k * L->k
                                      : L->out_c * L->in_c * L->in_h * L->in_w;
        for (part = 0; part < 2; part++) {
            float *p = part ? L->b : L->W;
            const float *g = part ? henn_cnn_grad_b(t, l) : henn_cnn_grad_w(t, l);
            size_t n = part ? L->out_c : nw;
            for (i = 0; i < n; i++) {
                float keep = p[i];
                double lp, lm, num;
                p[i] = keep + step;
                CHECK_OK(henn_cnn_loss(&lp, m, X, y, rows));
                p[i] = keep - step;
                CHECK_OK(henn_cnn_loss(&lm, m, X, y, rows));
                p[i] = keep;
                num = (lp - lm) / (2.0 * (double)step);
                checked++;
                if (!grad_close_h(g[i], num, (double)step)) {
                    if (bad++ < 5)
                        fprintf(stderr, "%s: layer %zu %s[%zu]: analytic %.6g numeric %.6g\n",
                                what, l, part ? "b" : "W", i, (double)g[i], num);
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(checked > 0);
    printf("%-12s %4zu parameters, worst relative error so far %.2e\n", what, checked, worst_rel);
    henn_cnn_trainer_free(t);
}

static void test_grad(void)
{
    enum { ROWS = 3 };
    float X[ROWS * 2 * 8 * 8];
    uint8_t y[ROWS] = {0, 2, 1};
    henn_cnn_model m;
    henn_cnn_spec s[5];
    size_t i;

    fill(X, sizeof(X) / sizeof(X[0]), 0, 1);
    /* conv (tanh, pad 1) -> dense softmax */
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 3, 3, 1, HENN_NN_TANH};
    s[1] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    CHECK_OK(henn_cnn_model_init(&m, 2, 8, 8, s, 2, 1));
    grad_check_model(&m, X, y, ROWS, 1e-2f, "conv-tanh");
    henn_cnn_model_clear(&m);
    /* conv (sigmoid) -> avg pool -> conv (tanh) -> dense (tanh) -> dense */
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 3, 3, 0, HENN_NN_SIGMOID};
    s[1] = (henn_cnn_spec){HENN_CNN_AVGPOOL, 0, 0, 0, HENN_NN_IDENTITY};
    s[2] = (henn_cnn_spec){HENN_CNN_CONV, 2, 2, 0, HENN_NN_TANH};
    s[3] = (henn_cnn_spec){HENN_CNN_DENSE, 5, 0, 0, HENN_NN_TANH};
    s[4] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    CHECK_OK(henn_cnn_model_init(&m, 2, 8, 8, s, 5, 2));
    grad_check_model(&m, X, y, ROWS, 1e-2f, "avgpool");
    henn_cnn_model_clear(&m);
    /* conv (tanh) -> max pool -> dense: the seed is chosen so that every
     * window's top two values are at least 5e-3 apart, so no
     * finite-difference step changes an argmax. */
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 2, 3, 0, HENN_NN_TANH};
    s[1] = (henn_cnn_spec){HENN_CNN_MAXPOOL, 0, 0, 0, HENN_NN_IDENTITY};
    s[2] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    for (i = 0; i < 50; i++) {
        float P[ROWS * 3];
        henn_cnn_trainer *t;
        henn_nn_opts o;
        double gap = INFINITY;
        size_t r, q;
        CHECK_OK(henn_cnn_model_init(&m, 2, 8, 8, s, 3, 10 + i));
        henn_nn_opts_default(&o);
        o.max_rows = ROWS;
        CHECK_OK(henn_cnn_trainer_new(&t, &m, &o));
        CHECK_OK(henn_cnn_backprop(t, X, NULL, y, ROWS, NULL));
        /* smallest gap between a window's top two values */
        for (r = 0; r < ROWS; r++)
            for (q = 0; q < 2 * 3 * 3; q++) {
                const float *a = henn_cnn_a1(t) + r * 2 * 6 * 6;
                size_t ch = q / 9, oy = (q % 9) / 3, ox = q % 3, i0 = (ch * 6 + 2 * oy) * 6 + 2 * ox;
                float v[4] = {a[i0], a[i0 + 1], a[i0 + 6], a[i0 + 7]}, b1 = -2, b2 = -2;
                size_t z;
                for (z = 0; z < 4; z++) {
                    if (v[z] > b1) {
                        b2 = b1;
                        b1 = v[z];
                    } else if (v[z] > b2) {
                        b2 = v[z];
                    }
                }
                gap = fmin(gap, (double)(b1 - b2));
            }
        henn_cnn_trainer_free(t);
        CHECK_OK(henn_cnn_forward(P, &m, X, ROWS));
        if (gap > 5e-3)
            break;
        henn_cnn_model_clear(&m);
    }
    CHECK(m.layers == 3);
    if (m.layers == 3) {
        /* a step of 1e-3 on one weight or bias moves each tanh output by
         * at most 1e-3 (inputs in [0, 1], tanh' <= 1), a gap by at most
         * 2e-3 < 5e-3: no argmax changes */
        grad_check_model(&m, X, y, ROWS, 1e-3f, "maxpool");
        henn_cnn_model_clear(&m);
    }
    /* MLP (dense sigmoid / tanh) */
    {
        size_t hid[2] = {6, 5};
        CHECK_OK(henn_cnn_model_init_mlp(&m, 2 * 8 * 8, hid, 2, HENN_NN_SIGMOID, 3, 3));
        grad_check_model(&m, X, y, ROWS, 1e-2f, "mlp-sigmoid");
        henn_cnn_model_clear(&m);
        CHECK_OK(henn_cnn_model_init_mlp(&m, 2 * 8 * 8, hid, 1, HENN_NN_TANH, 3, 4));
        grad_check_model(&m, X, y, ROWS, 1e-2f, "mlp-tanh");
        henn_cnn_model_clear(&m);
    }
    printf("gradient checks: worst relative error %.2e (float, central differences)\n",
           worst_rel);
}

/* d(loss)/d(Z1) by central differences on the Z1 entry point. */
static void test_dz1(void)
{
    enum { ROWS = 2 };
    henn_cnn_model m;
    henn_cnn_spec s[3];
    henn_cnn_trainer *t;
    henn_nn_opts o;
    float X[ROWS * 36], *Z1, *dz;
    uint8_t y[ROWS] = {1, 0};
    size_t n1, i, bad = 0;
    double l0;

    fill(X, sizeof(X) / sizeof(X[0]), 0, 1);
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 2, 3, 0, HENN_NN_TANH};
    s[1] = (henn_cnn_spec){HENN_CNN_AVGPOOL, 0, 0, 0, HENN_NN_IDENTITY};
    s[2] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    CHECK_OK(henn_cnn_model_init(&m, 1, 6, 6, s, 3, 7));
    henn_nn_opts_default(&o);
    o.max_rows = ROWS;
    CHECK_OK(henn_cnn_trainer_new(&t, &m, &o));
    n1 = henn_cnn_out_size(&m, 0);
    CHECK_EQ_INT(n1, 2 * 4 * 4);
    Z1 = malloc(ROWS * n1 * sizeof(float));
    dz = malloc(ROWS * n1 * sizeof(float));
    fill(Z1, ROWS * n1, -1, 1);
    CHECK_OK(henn_cnn_backprop(t, NULL, Z1, y, ROWS, &l0));
    memcpy(dz, henn_cnn_dz1(t), ROWS * n1 * sizeof(float));
    CHECK(henn_cnn_grad_w(t, 0)[0] == 0.0f); /* left for set_grad_w1 */
    for (i = 0; i < ROWS * n1; i++) {
        float keep = Z1[i];
        double lp, lm;
        Z1[i] = keep + 1e-2f;
        CHECK_OK(henn_cnn_backprop(t, NULL, Z1, y, ROWS, &lp));
        Z1[i] = keep - 1e-2f;
        CHECK_OK(henn_cnn_backprop(t, NULL, Z1, y, ROWS, &lm));
        Z1[i] = keep;
        if (!grad_close(dz[i], (lp - lm) / 2e-2))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* forward_z1 = forward through backprop's probabilities */
    {
        float P1[ROWS * 3], P2[ROWS * 3];
        CHECK_OK(henn_cnn_forward_z1(P1, &m, Z1, ROWS));
        CHECK_OK(henn_cnn_backprop(t, NULL, Z1, y, ROWS, NULL));
        CHECK_OK(henn_cnn_forward_z1(P2, &m, Z1, ROWS));
        CHECK(memcmp(P1, P2, sizeof(P1)) == 0);
    }
    henn_cnn_trainer_free(t);
    henn_cnn_model_clear(&m);
    free(Z1);
    free(dz);
}

/*
 * The protocol's path: Z1 from im2col patches and W1 computed outside,
 * delta1 out, dW1 = sum_r delta1_r cols_r computed outside and set, then
 * update; must equal plaintext training step for step.
 */
static void test_split_path(void)
{
    enum { ROWS = 4, STEPS = 3 };
    henn_cnn_model a, b;
    henn_cnn_trainer *ta, *tb;
    henn_nn_opts o;
    float X[ROWS * 64];
    uint8_t y[ROWS] = {0, 1, 2, 1};
    size_t step, r, oc, p, q, l, P, K, n1;
    float *cols, *Z1, *dW;
    double la, lb, maxd = 0.0;

    fill(X, sizeof(X) / sizeof(X[0]), 0, 1);
    {
        henn_cnn_spec s[4];
        s[0] = (henn_cnn_spec){HENN_CNN_CONV, 3, 3, 1, HENN_NN_RELU};
        s[1] = (henn_cnn_spec){HENN_CNN_MAXPOOL, 0, 0, 0, HENN_NN_IDENTITY};
        s[2] = (henn_cnn_spec){HENN_CNN_DENSE, 6, 0, 0, HENN_NN_RELU};
        s[3] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
        CHECK_OK(henn_cnn_model_init(&a, 1, 8, 8, s, 4, 5));
    }
    CHECK_OK(henn_cnn_model_copy(&b, &a));
    henn_nn_opts_default(&o);
    o.optimizer = HENN_NN_SGD;
    o.lr = 0.05f;
    o.max_rows = ROWS;
    CHECK_OK(henn_cnn_trainer_new(&ta, &a, &o));
    CHECK_OK(henn_cnn_trainer_new(&tb, &b, &o));
    P = 8 * 8;
    K = 9;
    n1 = henn_cnn_out_size(&b, 0);
    CHECK_EQ_INT(n1, 3 * P);
    cols = malloc(ROWS * P * K * sizeof(float));
    Z1 = malloc(ROWS * n1 * sizeof(float));
    dW = malloc(3 * K * sizeof(float));
    for (step = 0; step < STEPS; step++) {
        const float *d;
        CHECK_OK(henn_cnn_train_batch(ta, X, y, ROWS, &la));
        for (r = 0; r < ROWS; r++) {
            CHECK_OK(henn_cnn_im2col(cols + r * P * K, X + r * 64, 1, 8, 8, 3, 1));
            for (oc = 0; oc < 3; oc++)
                for (p = 0; p < P; p++) {
                    double z = b.layer[0].b[oc];
                    for (q = 0; q < K; q++)
                        z += (double)b.layer[0].W[oc * K + q] * cols[(r * P + p) * K + q];
                    Z1[r * n1 + oc * P + p] = (float)z;
                }
        }
        CHECK_OK(henn_cnn_backprop(tb, NULL, Z1, y, ROWS, &lb));
        d = henn_cnn_dz1(tb);
        for (oc = 0; oc < 3; oc++)
            for (q = 0; q < K; q++) {
                double g = 0.0;
                for (r = 0; r < ROWS; r++)
                    for (p = 0; p < P; p++)
                        g += (double)d[r * n1 + oc * P + p] * cols[(r * P + p) * K + q];
                dW[oc * K + q] = (float)g;
            }
        for (q = 0; q < 3 * K; q++)
            maxd = fmax(maxd, fabs((double)dW[q] - henn_cnn_grad_w(ta, 0)[q]));
        henn_cnn_set_grad_w1(tb, dW);
        henn_cnn_update(tb);
        CHECK(fabs(la - lb) < 1e-5);
    }
    CHECK(maxd < 1e-5);
    for (l = 0; l < a.layers; l++)
        if (a.layer[l].W != NULL) {
            size_t nw = l == 0 ? 27 : a.layer[l].out_c * a.layer[l].in_c * a.layer[l].in_h *
                                          a.layer[l].in_w;
            for (q = 0; q < nw; q++)
                maxd = fmax(maxd, fabs((double)a.layer[l].W[q] - b.layer[l].W[q]));
        }
    CHECK(maxd < 1e-5);
    /* Z1 on a pooling first layer, rows over max_rows, bad labels */
    CHECK_RC(henn_cnn_backprop(tb, NULL, Z1, y, ROWS + 1, NULL), HENN_EINVAL);
    y[0] = 3;
    CHECK_RC(henn_cnn_backprop(tb, X, NULL, y, ROWS, NULL), HENN_EINVAL);
    CHECK_RC(henn_cnn_backprop(tb, NULL, NULL, y, ROWS, NULL), HENN_EINVAL);
    henn_cnn_trainer_free(ta);
    henn_cnn_trainer_free(tb);
    henn_cnn_model_clear(&a);
    henn_cnn_model_clear(&b);
    free(cols);
    free(Z1);
    free(dW);
}

static void test_models(void)
{
    henn_cnn_model m;
    henn_cnn_spec s[2];
    size_t hid = 128;
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1));
    CHECK_EQ_INT(henn_cnn_param_count(&m), 44426);
    CHECK_EQ_INT(henn_cnn_out_size(&m, 0), 6 * 24 * 24);
    CHECK_EQ_INT(henn_cnn_out_size(&m, 3), 16 * 4 * 4);
    CHECK_EQ_INT(henn_cnn_in_size(&m), 784);
    CHECK_EQ_INT(henn_cnn_classes(&m), 10);
    henn_cnn_model_clear(&m);
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 2, HENN_NN_TANH, HENN_CNN_AVGPOOL, 1));
    CHECK_EQ_INT(henn_cnn_param_count(&m), 61706);
    CHECK_EQ_INT(henn_cnn_out_size(&m, 0), 6 * 28 * 28);
    henn_cnn_model_clear(&m);
    CHECK_OK(henn_cnn_model_init_mlp(&m, 784, &hid, 1, HENN_NN_RELU, 10, 1));
    CHECK_EQ_INT(henn_cnn_param_count(&m), 784 * 128 + 128 + 128 * 10 + 10);
    henn_cnn_model_clear(&m);
    {
        henn_nn_opts o;
        henn_cnn_opts_paper(&o);
        CHECK(o.optimizer == HENN_NN_SGD && o.lr == 5e-4f && o.momentum == 0.0f);
        CHECK_EQ_INT(o.max_rows, 64);
        henn_cnn_opts_default(&o);
        CHECK(o.optimizer == HENN_NN_SGD && o.lr == 0.05f && o.momentum == 0.9f);
    }
    CHECK_RC(henn_cnn_model_init_lenet5(&m, 1, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1), HENN_EINVAL);
    CHECK(m.layers == 0);
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 2, 5, 0, HENN_NN_RELU};
    s[1] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    CHECK_RC(henn_cnn_model_init(&m, 1, 4, 4, s, 2, 1), HENN_EINVAL); /* kernel > image */
    s[0].pad = 5;
    CHECK_RC(henn_cnn_model_init(&m, 1, 8, 8, s, 2, 1), HENN_EINVAL); /* pad >= k */
    s[0] = (henn_cnn_spec){HENN_CNN_MAXPOOL, 0, 0, 0, HENN_NN_IDENTITY};
    CHECK_RC(henn_cnn_model_init(&m, 1, 1, 1, s, 2, 1), HENN_EINVAL); /* pool on 1x1 */
    CHECK_RC(henn_cnn_model_init(&m, 1, 4, 4, s, 1, 1), HENN_EINVAL); /* last not dense */
    s[1].out = 1;
    CHECK_RC(henn_cnn_model_init(&m, 1, 4, 4, s, 2, 1), HENN_EINVAL); /* one class */
    henn_cnn_model_clear(&m); /* safe on zeroed */
}

/* ---- model files ("HCNM", docs/FORMATS.md) ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* deserialising a copy of b with field (byte offset off) set to v gives rc */
static int patched(const uint8_t *b, size_t len, size_t off, uint32_t v)
{
    henn_cnn_model m;
    uint8_t *c = malloc(len);
    int rc;
    memcpy(c, b, len);
    put32(c + off, v);
    rc = henn_cnn_model_deserialize(&m, c, len);
    if (rc != 0 && m.layers != 0)
        rc = 1; /* not left zeroed */
    henn_cnn_model_clear(&m);
    free(c);
    return rc;
}

/* offset of field f (0 kind, 1 act, 2 k, 3 pad, 4 out_c, 5 out_h, 6 out_w)
 * of layer l */
#define LF(l, f) (24 + 28 * (l) + 4 * (f))

static void same_model(const henn_cnn_model *a, const henn_cnn_model *b)
{
    size_t l;
    CHECK_EQ_INT(a->layers, b->layers);
    CHECK(a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w);
    for (l = 0; l < a->layers && l < b->layers; l++) {
        const henn_cnn_layer *x = &a->layer[l], *y = &b->layer[l];
        CHECK(x->kind == y->kind && x->act == y->act && x->k == y->k && x->pad == y->pad);
        CHECK(x->in_c == y->in_c && x->in_h == y->in_h && x->in_w == y->in_w);
        CHECK(x->out_c == y->out_c && x->out_h == y->out_h && x->out_w == y->out_w);
        if (x->W != NULL || y->W != NULL) {
            size_t nw = x->kind == HENN_CNN_CONV ? x->out_c * x->in_c * x->k * x->k
                                                 : x->out_c * x->in_c * x->in_h * x->in_w;
            CHECK(x->W != NULL && y->W != NULL && memcmp(x->W, y->W, nw * 4) == 0);
            CHECK(x->b != NULL && y->b != NULL && memcmp(x->b, y->b, x->out_c * 4) == 0);
        }
    }
}

static void round_trip(const henn_cnn_model *m, size_t want_len)
{
    henn_cnn_model back;
    uint8_t *b = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    CHECK_OK(henn_cnn_model_serialize(&b, &len, m));
    CHECK_EQ_INT(len, want_len);
    CHECK_OK(henn_cnn_model_deserialize(&back, b, len));
    same_model(m, &back);
    CHECK_OK(henn_cnn_model_serialize(&again, &len2, &back));
    CHECK(len2 == len && memcmp(again, b, len) == 0);
    free(again);
    henn_cnn_model_clear(&back);
    free(b);
}

static void test_format(void)
{
    henn_cnn_model m, back;
    henn_cnn_spec s[3];
    uint8_t *b = NULL, *c;
    size_t len = 0, i, hid = 16, n = 0;
    char path[] = "/tmp/henn_cnn_model_XXXXXX";
    float X[3 * 784], P1[3 * 10], P2[3 * 10];
    uint8_t y[3] = {1, 2, 3};
    int fd;

    /* LeNet-5 (both paddings, both poolings) and an MLP: exact round trips;
     * 24 + 28 L + 4 P bytes */
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 7));
    round_trip(&m, 177924);
    henn_cnn_model_clear(&m);
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 2, HENN_NN_TANH, HENN_CNN_AVGPOOL, 8));
    round_trip(&m, 24 + 28 * 7 + 4 * 61706);
    henn_cnn_model_clear(&m);
    CHECK_OK(henn_cnn_model_init_mlp(&m, 20, &hid, 1, HENN_NN_SIGMOID, 4, 9));
    round_trip(&m, 24 + 28 * 2 + 4 * (20 * 16 + 16 + 16 * 4 + 4));
    henn_cnn_model_clear(&m);

    /* a trained LeNet-5 (biases nonzero) through a file: same predictions */
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 3));
    fill(X, 3 * 784, 0, 1);
    {
        henn_cnn_trainer *t = NULL;
        henn_nn_opts o;
        henn_cnn_opts_default(&o);
        CHECK_OK(henn_cnn_trainer_new(&t, &m, &o));
        CHECK_OK(henn_cnn_train_batch(t, X, y, 3, NULL));
        henn_cnn_trainer_free(t);
    }
    CHECK(m.layer[6].b[0] != 0.0f);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(henn_cnn_model_save(path, &m));
    CHECK_OK(henn_cnn_model_load(&back, path));
    same_model(&m, &back);
    CHECK_OK(henn_cnn_forward(P1, &m, X, 3));
    CHECK_OK(henn_cnn_forward(P2, &back, X, 3));
    CHECK(memcmp(P1, P2, sizeof(P1)) == 0);
    henn_cnn_model_clear(&back);
    /* a truncated file; a missing file */
    CHECK_OK(henn_cnn_model_serialize(&b, &len, &m));
    {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL && fwrite(b, 1, len - 1, f) == len - 1);
        fclose(f);
    }
    CHECK_RC(henn_cnn_model_load(&back, path), HENN_EFORMAT);
    CHECK(back.layers == 0);
    unlink(path);
    CHECK_RC(henn_cnn_model_load(&back, path), HENN_EIO);
    CHECK_RC(henn_cnn_model_save("/nonexistent-dir/x", &m), HENN_EIO);
    /* LeNet-5 truncated anywhere in the header and at a few weights */
    for (i = 0; i < 24 + 28 * 7 + 8; i++)
        CHECK_RC(henn_cnn_model_deserialize(&back, b, i), HENN_EFORMAT);
    CHECK_RC(henn_cnn_model_deserialize(&back, b, len / 2), HENN_EFORMAT);
    CHECK_RC(henn_cnn_model_deserialize(&back, b, len - 4), HENN_EFORMAT);
    c = malloc(len + 4);
    memcpy(c, b, len);
    memset(c + len, 0, 4);
    CHECK_RC(henn_cnn_model_deserialize(&back, c, len + 1), HENN_EFORMAT); /* trailing */
    CHECK_RC(henn_cnn_model_deserialize(&back, c, len + 4), HENN_EFORMAT);
    free(c);
    CHECK(back.layers == 0);
    /* header fields */
    CHECK_EQ_INT(patched(b, len, 0, 0x48434e4d), HENN_EFORMAT);  /* "MNCH" */
    CHECK_EQ_INT(patched(b, len, 4, 2), HENN_EFORMAT);           /* version */
    CHECK_EQ_INT(patched(b, len, 8, 0), HENN_EFORMAT);           /* no layers */
    CHECK_EQ_INT(patched(b, len, 8, 6), HENN_EFORMAT);           /* layers, not the length */
    CHECK_EQ_INT(patched(b, len, 8, 13), HENN_EFORMAT);          /* too many layers */
    CHECK_EQ_INT(patched(b, len, 8, 0xffffffffu), HENN_EFORMAT);
    CHECK_EQ_INT(patched(b, len, 12, 2), HENN_EFORMAT);          /* 2 channels: more W */
    CHECK_EQ_INT(patched(b, len, 12, 0), HENN_EFORMAT);          /* empty input */
    CHECK_EQ_INT(patched(b, len, 12, 0xffffffffu), HENN_EFORMAT); /* huge input */
    CHECK_EQ_INT(patched(b, len, 16, 0x10000), HENN_EFORMAT);    /* 2^20 units < c h w */
    CHECK_EQ_INT(patched(b, len, 20, 29), HENN_EFORMAT);         /* shapes then differ */
    /* layer fields */
    CHECK_EQ_INT(patched(b, len, LF(0, 0), 4), HENN_EFORMAT);    /* unknown kind */
    CHECK_EQ_INT(patched(b, len, LF(0, 0), HENN_CNN_DENSE), HENN_EFORMAT);
    CHECK_EQ_INT(patched(b, len, LF(1, 0), HENN_CNN_AVGPOOL), 0); /* same shapes: valid */
    CHECK_EQ_INT(patched(b, len, LF(0, 1), 4), HENN_EFORMAT);    /* unknown activation */
    CHECK_EQ_INT(patched(b, len, LF(0, 1), HENN_NN_TANH), 0);
    CHECK_EQ_INT(patched(b, len, LF(1, 1), HENN_NN_RELU), HENN_EFORMAT); /* pool act */
    CHECK_EQ_INT(patched(b, len, LF(6, 1), HENN_NN_RELU), HENN_EFORMAT); /* last act */
    CHECK_EQ_INT(patched(b, len, LF(0, 2), 0), HENN_EFORMAT);    /* kernel 0 */
    CHECK_EQ_INT(patched(b, len, LF(0, 2), 16), HENN_EFORMAT);   /* kernel > 15 */
    CHECK_EQ_INT(patched(b, len, LF(0, 2), 3), HENN_EFORMAT);    /* shapes then differ */
    CHECK_EQ_INT(patched(b, len, LF(0, 3), 5), HENN_EFORMAT);    /* pad >= k */
    CHECK_EQ_INT(patched(b, len, LF(0, 3), 0xffffffffu), HENN_EFORMAT);
    CHECK_EQ_INT(patched(b, len, LF(1, 2), 2), HENN_EFORMAT);    /* pool with a kernel */
    CHECK_EQ_INT(patched(b, len, LF(4, 3), 1), HENN_EFORMAT);    /* dense with padding */
    CHECK_EQ_INT(patched(b, len, LF(0, 4), 7), HENN_EFORMAT);    /* channels: length */
    CHECK_EQ_INT(patched(b, len, LF(0, 4), 0), HENN_EFORMAT);
    CHECK_EQ_INT(patched(b, len, LF(0, 4), 0xffffffffu), HENN_EFORMAT);
    CHECK_EQ_INT(patched(b, len, LF(0, 5), 23), HENN_EFORMAT);   /* stored out_h */
    CHECK_EQ_INT(patched(b, len, LF(0, 6), 25), HENN_EFORMAT);   /* stored out_w */
    CHECK_EQ_INT(patched(b, len, LF(1, 4), 5), HENN_EFORMAT);    /* pool channels */
    CHECK_EQ_INT(patched(b, len, LF(4, 5), 2), HENN_EFORMAT);    /* dense height */
    CHECK_EQ_INT(patched(b, len, LF(6, 4), 1), HENN_EFORMAT);    /* one class */
    CHECK_EQ_INT(patched(b, len, LF(6, 0), HENN_CNN_MAXPOOL), HENN_EFORMAT); /* last */
    /* weights and biases must be finite */
    CHECK_EQ_INT(patched(b, len, 24 + 28 * 7, 0x7fc00000u), HENN_EFORMAT);     /* NaN W */
    CHECK_EQ_INT(patched(b, len, 24 + 28 * 7 + 4 * 150, 0x7f800000u), HENN_EFORMAT); /* inf b */
    CHECK_EQ_INT(patched(b, len, len - 4, 0xff800000u), HENN_EFORMAT); /* -inf, last b */
    CHECK_EQ_INT(patched(b, len, len - 4, 0x3f800000u), 0);            /* 1.0 */
    /* arguments */
    CHECK_RC(henn_cnn_model_deserialize(&back, NULL, len), HENN_EINVAL);
    CHECK_RC(henn_cnn_model_deserialize(NULL, b, len), HENN_EINVAL);
    free(b);
    b = (uint8_t *)1;
    CHECK_RC(henn_cnn_model_serialize(&b, &n, NULL), HENN_EINVAL);
    CHECK(b == NULL && n == 0);
    memset(&back, 0, sizeof(back));
    CHECK_RC(henn_cnn_model_serialize(&b, &n, &back), HENN_EINVAL); /* no layers */
    henn_cnn_model_clear(&m);

    /* a small conv net: every truncation, and every single-byte change is
     * either refused or re-serialises to the changed bytes */
    s[0] = (henn_cnn_spec){HENN_CNN_CONV, 2, 3, 1, HENN_NN_RELU};
    s[1] = (henn_cnn_spec){HENN_CNN_MAXPOOL, 0, 0, 0, HENN_NN_IDENTITY};
    s[2] = (henn_cnn_spec){HENN_CNN_DENSE, 3, 0, 0, HENN_NN_IDENTITY};
    CHECK_OK(henn_cnn_model_init(&m, 1, 5, 5, s, 3, 4));
    CHECK_OK(henn_cnn_model_serialize(&b, &len, &m));
    CHECK_EQ_INT(len, 24 + 28 * 3 + 4 * (2 * 9 + 2 + 3 * 8 + 3));
    for (i = 0; i < len; i++)
        CHECK_RC(henn_cnn_model_deserialize(&back, b, i), HENN_EFORMAT);
    for (i = 0; i < 24 + 28 * 3; i++) {
        uint8_t *d = malloc(len), *again = NULL;
        size_t len2 = 0;
        int rc;
        memcpy(d, b, len);
        d[i] ^= 0x01;
        rc = henn_cnn_model_deserialize(&back, d, len);
        CHECK(rc == 0 || rc == HENN_EFORMAT);
        if (rc == 0) {
            CHECK_OK(henn_cnn_model_serialize(&again, &len2, &back));
            CHECK(len2 == len && memcmp(again, d, len) == 0);
            free(again);
        } else {
            CHECK(back.layers == 0);
        }
        henn_cnn_model_clear(&back);
        free(d);
    }
    free(b);
    henn_cnn_model_clear(&m);
}

/* ---- IDX ---- */

static size_t put_hdr(uint8_t *b, size_t nd, const uint32_t *dims)
{
    size_t i;
    b[0] = b[1] = 0;
    b[2] = 8;
    b[3] = (uint8_t)nd;
    for (i = 0; i < nd; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    return 4 + 4 * nd;
}

static void write_file(const char *path, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        CHECK(f != NULL);
        if (f != NULL) {
            CHECK(gzwrite(f, b, (unsigned)n) == (int)n);
            gzclose(f);
        }
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f != NULL) {
            CHECK(fwrite(b, 1, n, f) == n);
            fclose(f);
        }
    }
}

static int has(const char *hay, const char *needle)
{
    int ok = strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", hay, needle);
    return ok;
}

static void test_idx(void)
{
    uint8_t b[64 + 3 * 4 * 4];
    uint32_t d3[3] = {3, 4, 4}, d1[1] = {3};
    char err[HENN_MNIST_ERRLEN], dir[] = "/tmp/henn_idx_XXXXXX", ip[128], lp[128];
    henn_idx x;
    henn_mnist_set s;
    size_t h, i;

    h = put_hdr(b, 3, d3);
    for (i = 0; i < 48; i++)
        b[h + i] = (uint8_t)(i * 5);
    CHECK_OK(henn_idx_parse(&x, b, h + 48, 3, "img", err, sizeof(err)));
    CHECK_EQ_INT(x.ndims, 3);
    CHECK_EQ_INT(x.dims[0], 3);
    CHECK_EQ_INT(x.len, 48);
    CHECK(x.data != NULL && x.data[47] == 235);
    henn_idx_clear(&x);

    CHECK_RC(henn_idx_parse(&x, b, h + 47, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "img: offset 63: truncated data"));
    CHECK(x.data == NULL && x.len == 0);
    CHECK_RC(henn_idx_parse(&x, b, h + 49 - 1 + 1, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 64: 1 trailing bytes"));
    CHECK_RC(henn_idx_parse(&x, b, 10, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 10: truncated header"));
    CHECK_RC(henn_idx_parse(&x, b, 3, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "truncated magic"));
    CHECK_RC(henn_idx_parse(&x, b, h + 48, 1, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 3: 3 dimensions, expected 1"));
    b[0] = 0x1f;
    CHECK_RC(henn_idx_parse(&x, b, h + 48, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 0: bad magic"));
    b[0] = 0;
    b[2] = 0x0d; /* float data */
    CHECK_RC(henn_idx_parse(&x, b, h + 48, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 2: data type 0x0d"));
    b[2] = 8;
    b[11] = 0; /* dims[1] = 0 */
    CHECK_RC(henn_idx_parse(&x, b, h + 48, 3, NULL, err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "(memory): offset 8: dimension 1 is 0"));
    b[11] = 4;
    b[4] = 0x7f; /* 2^31 images */
    CHECK_RC(henn_idx_parse(&x, b, h + 48, 3, "img", err, sizeof(err)), HENN_EFORMAT);
    CHECK(has(err, "offset 4: dimension 0"));
    b[4] = 0;
    CHECK_RC(henn_idx_parse(NULL, b, h + 48, 3, "img", err, sizeof(err)), HENN_EINVAL);

    /* files: counts, labels, gzip truncation */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(ip, sizeof(ip), "%s/img.gz", dir);
    snprintf(lp, sizeof(lp), "%s/lab", dir);
    write_file(ip, b, h + 48, 1);
    {
        uint8_t lb[8 + 4];
        size_t hl = put_hdr(lb, 1, d1);
        lb[hl] = 7;
        lb[hl + 1] = 2;
        lb[hl + 2] = 9;
        write_file(lp, lb, hl + 3, 0);
        CHECK_OK(henn_mnist_load(&s, ip, lp, err, sizeof(err)));
        CHECK_EQ_INT(s.count, 3);
        CHECK_EQ_INT(s.rows, 4);
        CHECK_EQ_INT(s.labels[2], 9);
        CHECK_EQ_INT(s.pixels[16], 80);
        {
            float f[16];
            CHECK_OK(henn_mnist_to_float(f, &s, 1, 1));
            CHECK(f[0] == 80.0f / 255.0f);
            CHECK_RC(henn_mnist_to_float(f, &s, 3, 1), HENN_EINVAL);
        }
        henn_mnist_set_clear(&s);
        lb[hl + 1] = 10;
        write_file(lp, lb, hl + 3, 0);
        CHECK_RC(henn_mnist_load(&s, ip, lp, err, sizeof(err)), HENN_EFORMAT);
        CHECK(has(err, "lab: offset 9: label 10"));
        CHECK(s.pixels == NULL && s.count == 0);
        lb[7] = 2; /* 2 labels for 3 images */
        write_file(lp, lb, hl + 2, 0);
        CHECK_RC(henn_mnist_load(&s, ip, lp, err, sizeof(err)), HENN_EFORMAT);
        CHECK(has(err, "lab: offset 4: 2 labels, but img.gz holds 3 images"));
        CHECK_RC(henn_mnist_load(&s, lp, lp, err, sizeof(err)), HENN_EFORMAT); /* IDX1 as images */
        CHECK(has(err, "lab: offset 3: 1 dimensions, expected 3"));
    }
    {
        /* truncated gzip: keep the first half of the compressed file */
        FILE *f = fopen(ip, "rb");
        uint8_t gzb[512];
        size_t n = f ? fread(gzb, 1, sizeof(gzb), f) : 0;
        if (f)
            fclose(f);
        CHECK(n > 20);
        write_file(ip, gzb, n / 2, 0);
        CHECK_RC(henn_idx_read(&x, ip, 3, err, sizeof(err)), HENN_EIO);
        CHECK(has(err, "img.gz: offset"));
    }
    snprintf(ip, sizeof(ip), "%s/missing.gz", dir);
    CHECK_RC(henn_idx_read(&x, ip, 3, err, sizeof(err)), HENN_EIO);
    CHECK(has(err, "missing.gz: cannot open"));
    snprintf(ip, sizeof(ip), "%s/img.gz", dir);
    unlink(ip);
    unlink(lp);
    rmdir(dir);
}

/* ---- MNIST ---- */

static void test_mnist(void)
{
    henn_mnist_set tr, te, tr2, te2, all;
    char err[HENN_MNIST_ERRLEN] = "";
    size_t i, hist[10] = {0};
    int rc;

    rc = henn_mnist_load(&all, DATA_DIR "/mnist/t10k-images-idx3-ubyte.gz",
                         DATA_DIR "/mnist/t10k-labels-idx1-ubyte.gz", err, sizeof(err));
    CHECK_OK(rc);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(all.count, 10000);
    CHECK_EQ_INT(all.rows, 28);
    CHECK_EQ_INT(all.cols, 28);
    /* the first test digits are 7 2 1 0 4 1 4 9 5 9 */
    CHECK_EQ_INT(all.labels[0], 7);
    CHECK_EQ_INT(all.labels[1], 2);
    CHECK_EQ_INT(all.labels[3], 0);
    CHECK_EQ_INT(all.labels[9], 9);
    for (i = 0; i < all.count; i++)
        hist[all.labels[i]]++;
    CHECK_EQ_INT(hist[0], 980); /* the MNIST test set's class counts */
    CHECK_EQ_INT(hist[1], 1135);
    CHECK_EQ_INT(hist[5], 892);

    CHECK_OK(henn_mnist_load_mnist8k(&tr, &te, DATA_DIR "/mnist", 42, err, sizeof(err)));
    CHECK_OK(henn_mnist_load_mnist8k(&tr2, &te2, DATA_DIR "/mnist", 42, err, sizeof(err)));
    CHECK_EQ_INT(tr.count, 8000);
    CHECK_EQ_INT(te.count, 2000);
    CHECK(memcmp(tr.pixels, tr2.pixels, 8000 * 784) == 0);
    CHECK(memcmp(te.labels, te2.labels, 2000) == 0);
    {
        /* a partition: every class count adds up */
        size_t h2[10] = {0};
        for (i = 0; i < 8000; i++)
            h2[tr.labels[i]]++;
        for (i = 0; i < 2000; i++)
            h2[te.labels[i]]++;
        CHECK(memcmp(h2, hist, sizeof(hist)) == 0);
    }
    henn_mnist_set_clear(&tr2);
    henn_mnist_set_clear(&te2);
    CHECK_OK(henn_mnist_split(&tr2, &te2, &all, 8000, 43));
    CHECK(memcmp(tr.pixels, tr2.pixels, 8000 * 784) != 0);
    henn_mnist_set_clear(&tr2);
    henn_mnist_set_clear(&te2);
    CHECK_RC(henn_mnist_split(&tr2, &te2, &all, 10000, 1), HENN_EINVAL);
    CHECK_RC(henn_mnist_subset(&tr2, &all, 9999, 2), HENN_EINVAL);
    CHECK_OK(henn_mnist_subset(&tr2, &all, 9998, 2));
    CHECK(memcmp(tr2.pixels, all.pixels + 9998 * 784, 2 * 784) == 0);
    henn_mnist_set_clear(&tr2);
    henn_mnist_set_clear(&all);

    /* A short training run: 1,000 MNIST-8k training images, a small CNN
     * (conv 4@5x5 ReLU, max pool, dense 10), Adam 0.002, 5 epochs,
     * batch 64; accuracy on 1,000 MNIST-8k test images > 0.85. */
    {
        henn_cnn_model m;
        henn_cnn_trainer *t;
        henn_nn_opts o;
        henn_cnn_spec s[3];
        float *X = malloc(1000 * 784 * sizeof(float)), *Xt = malloc(1000 * 784 * sizeof(float));
        double acc = 0.0, loss = 0.0;
        size_t e;
        enum { EPOCHS = 5 };
        CHECK_OK(henn_mnist_to_float(X, &tr, 0, 1000));
        CHECK_OK(henn_mnist_to_float(Xt, &te, 0, 1000));
        s[0] = (henn_cnn_spec){HENN_CNN_CONV, 4, 5, 0, HENN_NN_RELU};
        s[1] = (henn_cnn_spec){HENN_CNN_MAXPOOL, 0, 0, 0, HENN_NN_IDENTITY};
        s[2] = (henn_cnn_spec){HENN_CNN_DENSE, 10, 0, 0, HENN_NN_IDENTITY};
        CHECK_OK(henn_cnn_model_init(&m, 1, 28, 28, s, 3, 1));
        henn_nn_opts_default(&o);
        o.lr = 0.002f;
        o.max_rows = 64;
        CHECK_OK(henn_cnn_trainer_new(&t, &m, &o));
        for (e = 0; e < EPOCHS; e++)
            CHECK_OK(henn_cnn_train_epoch(t, X, tr.labels, 1000, 64, e, NULL, NULL, &loss));
        CHECK_OK(henn_cnn_accuracy(&acc, &m, Xt, te.labels, 1000));
        printf("MNIST-8k, 1,000 training images, %d epochs: loss %.4f, test accuracy %.4f\n",
               (int)EPOCHS, loss, acc);
        CHECK(acc > 0.85);
        henn_cnn_trainer_free(t);
        henn_cnn_model_clear(&m);
        free(X);
        free(Xt);
    }
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
}

static void test_fashion(void)
{
    henn_mnist_set tr, te;
    char err[HENN_MNIST_ERRLEN] = "";
    int rc;
    if (access(HENN_MNIST_FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("Fashion-MNIST not installed (dataset-fashion-mnist): skipped\n");
        rc = henn_mnist_load_fashion(&tr, &te, NULL, err, sizeof(err));
        CHECK_RC(rc, HENN_EIO);
        return;
    }
    rc = henn_mnist_load_fashion(&tr, &te, NULL, err, sizeof(err));
    CHECK_OK(rc);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(tr.count, 60000);
    CHECK_EQ_INT(te.count, 10000);
    CHECK_EQ_INT(tr.rows * tr.cols, 784);
    if (rc == 0) {
        /* Fashion-MNIST's first training label is 9 (ankle boot) */
        CHECK_EQ_INT(tr.labels[0], 9);
    }
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
}

/* henn_cnn_model_same_shape: LeNet-5 from another seed is the same shape;
 * LeNet-5 with padding 2, tanh, average pooling, an MLP of the same input
 * and classes, or one layer's field changed by hand is not. */
static void test_same_shape(void)
{
    henn_cnn_model a, b;
    size_t hid = 128, l;
    CHECK_OK(henn_cnn_model_init_lenet5(&a, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1));
    CHECK_OK(henn_cnn_model_init_lenet5(&b, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 2));
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 1);
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, NULL), 0);
    henn_cnn_model_clear(&b);
    CHECK_OK(henn_cnn_model_init_lenet5(&b, 2, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1));
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    henn_cnn_model_clear(&b);
    CHECK_OK(henn_cnn_model_init_lenet5(&b, 0, HENN_NN_TANH, HENN_CNN_MAXPOOL, 1));
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    henn_cnn_model_clear(&b);
    CHECK_OK(henn_cnn_model_init_lenet5(&b, 0, HENN_NN_RELU, HENN_CNN_AVGPOOL, 1));
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    henn_cnn_model_clear(&b);
    CHECK_OK(henn_cnn_model_init_mlp(&b, 784, &hid, 1, HENN_NN_RELU, 10, 1));
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    henn_cnn_model_clear(&b);
    /* every compared field of every layer, one at a time */
    for (l = 0; l < a.layers; l++) {
        size_t f;
        for (f = 0; f < 7; f++) {
            henn_cnn_layer keep;
            CHECK_OK(henn_cnn_model_init_lenet5(&b, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1));
            keep = b.layer[l];
            {
                size_t *num[5] = {&b.layer[l].k, &b.layer[l].pad, &b.layer[l].out_c,
                                  &b.layer[l].out_h, &b.layer[l].out_w};
                if (f == 0)
                    b.layer[l].kind =
                        b.layer[l].kind == HENN_CNN_DENSE ? HENN_CNN_CONV : HENN_CNN_DENSE;
                else if (f == 1)
                    b.layer[l].act =
                        b.layer[l].act == HENN_NN_RELU ? HENN_NN_TANH : HENN_NN_RELU;
                else
                    (*num[f - 2])++;
            }
            CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
            b.layer[l] = keep;
            CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 1);
            henn_cnn_model_clear(&b);
        }
    }
    CHECK_OK(henn_cnn_model_init_lenet5(&b, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 1));
    b.in_h++;
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    b.in_h--;
    b.layers--;
    CHECK_EQ_INT(henn_cnn_model_same_shape(&a, &b), 0);
    b.layers++;
    henn_cnn_model_clear(&b);
    henn_cnn_model_clear(&a);
}

int main(void)
{
    test_im2col();
    test_grad();
    test_dz1();
    test_split_path();
    test_models();
    test_same_shape();
    test_format();
    test_idx();
    test_mnist();
    test_fashion();
    return test_report("cnn");
}
