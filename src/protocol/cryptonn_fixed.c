/*
 * CryptoNN fixed point: the parameters, the dlog bound they imply, the
 * quantisation shared by the server and its plaintext twin, and the twin.
 * The twin and the encrypted server call the same functions in the same
 * order on the same integers, so their weights agree bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonn_internal.h"

void henn_cryptonn_params_default(henn_cryptonn_params *p, uint32_t in_dim, uint32_t batch,
                                  uint32_t classes)
{
    p->in_dim = in_dim;
    p->batch = batch;
    p->classes = classes;
    p->x_scale = 255;
    p->fw = 10;
    p->w_bits = 14;
    p->d_bits = 15;
    p->fl = 10;
    p->layout = HENN_CRYPTONN_LAYOUT_SAMPLE;
}

uint64_t henn_cryptonn_dlog_bound(const henn_cryptonn_params *p)
{
    uint64_t a, b, c;
    if (p->w_bits > 24 || p->d_bits > 24 || p->fl > 20)
        return 0;
    a = (uint64_t)p->in_dim * p->x_scale << p->w_bits;
    b = (uint64_t)p->batch * p->x_scale << p->d_bits;
    c = (uint64_t)1 << (p->fl + 1);
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

int henn_cryptonn_params_check(const henn_cryptonn_params *p)
{
    if (p == NULL || p->in_dim < 1 || p->in_dim > HENN_CRYPTONN_MAX_IN || p->batch < 1 ||
        p->batch > HENN_CRYPTONN_MAX_BATCH || p->classes < 2 ||
        p->classes > HENN_CRYPTONN_MAX_CLASSES || p->x_scale < 1 || p->x_scale > 65535 ||
        p->fw > 20 || p->w_bits < 1 || p->w_bits > 24 || p->d_bits < 1 || p->d_bits > 24 ||
        p->fl < 1 || p->fl > 20 || henn_cryptonn_dlog_bound(p) >= ((uint64_t)1 << 40) ||
        p->layout > HENN_CRYPTONN_LAYOUT_BATCH ||
        (p->layout == HENN_CRYPTONN_LAYOUT_BATCH &&
         (uint64_t)p->batch * p->in_dim > HENN_FE_MAX_N))
        return HENN_EPARAM;
    return 0;
}

int henn__cn_quant_x(int64_t *xq, const float *x, size_t count, const henn_cryptonn_params *p)
{
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        if (!(v >= 0.0f && v <= 1.0f))
            return HENN_ERANGE;
        xq[i] = (int64_t)lrint((double)v * p->x_scale);
    }
    return 0;
}

int henn__cn_quant_w(int64_t *wq, const float *w, size_t count, const henn_cryptonn_params *p)
{
    const double lim = ldexp(1.0, (int)p->w_bits);
    for (size_t i = 0; i < count; i++) {
        double v = ldexp((double)w[i], (int)p->fw);
        if (!isfinite(v) || fabs(v) > lim + 0.5)
            return HENN_ERANGE;
        v = nearbyint(v);
        if (fabs(v) > lim)
            return HENN_ERANGE;
        wq[i] = (int64_t)v;
    }
    return 0;
}

int henn__cn_quant_delta(int64_t *dq, int *fd, const float *dz, size_t rows, size_t hidden,
                         const henn_cryptonn_params *p)
{
    double mx = 0, lim = ldexp(1.0, (int)p->d_bits);
    int e, f;
    memset(dq, 0, (size_t)p->batch * hidden * sizeof(*dq));
    for (size_t i = 0; i < rows * hidden; i++) {
        double v = fabs((double)dz[i]);
        if (!isfinite(v))
            return HENN_ERANGE;
        if (v > mx)
            mx = v;
    }
    /* largest f with mx 2^f <= 2^d_bits - 1/2 (so rounding stays inside) */
    f = 0;
    if (mx > 0) {
        (void)frexp(mx, &e); /* mx in [2^(e-1), 2^e) */
        f = (int)p->d_bits - e;
        if (f > 60)
            f = 60;
        while (f > -60 && ldexp(mx, f) > lim - 0.5)
            f--;
    }
    for (size_t i = 0; i < rows * hidden; i++)
        dq[i] = (int64_t)nearbyint(ldexp((double)dz[i], f));
    *fd = f;
    return 0;
}

void henn__cn_z1(float *Z1, const int64_t *z1q, const float *b1, size_t rows, size_t hidden,
                 const henn_cryptonn_params *p)
{
    double inv = 1.0 / ldexp((double)p->x_scale, (int)p->fw);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < hidden; j++)
            Z1[r * hidden + j] = (float)((double)z1q[r * hidden + j] * inv) + b1[j];
}

void henn__cn_dw1(float *dW1, const int64_t *g, size_t count, int fd,
                  const henn_cryptonn_params *p)
{
    double inv = 1.0 / ldexp((double)p->x_scale, fd);
    for (size_t i = 0; i < count; i++)
        dW1[i] = (float)((double)g[i] * inv);
}

static void track(uint64_t *mx, int64_t v)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (a > *mx)
        *mx = a;
}

int henn_cryptonn_twin_step(henn_nn_trainer *t, const henn_nn_model *m,
                            const henn_cryptonn_params *p, const float *X, const uint8_t *y,
                            size_t rows, double *loss, uint64_t *max_abs)
{
    size_t d, h, r, j, k, B;
    int64_t *xq = NULL, *wq = NULL, *z1q = NULL, *dq = NULL, *g = NULL;
    float *Z1 = NULL, *dW1 = NULL;
    uint64_t mx = 0;
    int fd = 0, rc;
    if (t == NULL || m == NULL || p == NULL || X == NULL || y == NULL || rows == 0 ||
        henn_cryptonn_params_check(p) != 0 || m->layers < 2 || m->dims[0] != p->in_dim ||
        rows > p->batch)
        return HENN_EINVAL;
    d = p->in_dim;
    h = m->dims[1];
    B = p->batch;
    xq = malloc(rows * d * sizeof(*xq));
    wq = malloc(h * d * sizeof(*wq));
    z1q = malloc(rows * h * sizeof(*z1q));
    dq = malloc(B * h * sizeof(*dq));
    g = malloc(h * d * sizeof(*g));
    Z1 = malloc(rows * h * sizeof(*Z1));
    dW1 = malloc(h * d * sizeof(*dW1));
    rc = HENN_ENOMEM;
    if (xq == NULL || wq == NULL || z1q == NULL || dq == NULL || g == NULL || Z1 == NULL ||
        dW1 == NULL)
        goto cleanup;
    rc = henn__cn_quant_x(xq, X, rows * d, p);
    if (rc == 0)
        rc = henn__cn_quant_w(wq, m->W[0], h * d, p);
    if (rc != 0)
        goto cleanup;
    for (r = 0; r < rows; r++)
        for (j = 0; j < h; j++) {
            int64_t s = 0;
            for (k = 0; k < d; k++)
                s += wq[j * d + k] * xq[r * d + k];
            z1q[r * h + j] = s;
            track(&mx, s);
        }
    henn__cn_z1(Z1, z1q, m->b[0], rows, h, p);
    rc = henn_nn_backprop(t, NULL, Z1, y, rows, loss);
    if (rc == 0)
        rc = henn__cn_quant_delta(dq, &fd, henn_nn_dz1(t), rows, h, p);
    if (rc != 0)
        goto cleanup;
    for (j = 0; j < h; j++)
        for (k = 0; k < d; k++) {
            int64_t s = 0;
            for (r = 0; r < rows; r++)
                s += dq[r * h + j] * xq[r * d + k];
            g[j * d + k] = s;
            track(&mx, s);
        }
    henn__cn_dw1(dW1, g, h * d, fd, p);
    henn_nn_set_grad_w1(t, dW1);
    henn_nn_update(t);
    if (max_abs != NULL && mx > *max_abs)
        *max_abs = mx;
cleanup:
    free(xq);
    free(wq);
    free(z1q);
    free(dq);
    free(g);
    free(Z1);
    free(dW1);
    return rc;
}
