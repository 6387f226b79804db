/* Private training (henn/protocol.h): the float and model payloads both
 * parties use, and the owner's batch gradient in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kdd_private.h"

void henn__wbuf_f32(henn__wbuf *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    henn__wbuf_u32(w, u);
}

void henn__wbuf_f64(henn__wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    henn__wbuf_u32(w, (uint32_t)(u >> 32));
    henn__wbuf_u32(w, (uint32_t)u);
}

float henn__rbuf_f32(henn__rbuf *r)
{
    uint32_t u = henn__rbuf_u32(r);
    float v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

double henn__rbuf_f64(henn__rbuf *r)
{
    uint64_t u = (uint64_t)henn__rbuf_u32(r) << 32;
    double v;
    u |= henn__rbuf_u32(r);
    memcpy(&v, &u, sizeof(v));
    return v;
}

void henn__pmodel_write(henn__wbuf *w, const henn_nn_model *m, uint64_t step)
{
    size_t l, i;
    henn__wbuf_u32(w, (uint32_t)m->layers);
    henn__wbuf_u32(w, (uint32_t)m->output);
    for (l = 0; l <= m->layers; l++)
        henn__wbuf_u32(w, (uint32_t)m->dims[l]);
    for (l = 0; l < m->layers; l++)
        henn__wbuf_u32(w, l + 1 < m->layers ? (uint32_t)m->act[l] : 0);
    henn__wbuf_u32(w, (uint32_t)(step >> 32));
    henn__wbuf_u32(w, (uint32_t)step);
    for (l = 0; l < m->layers; l++) {
        for (i = 0; i < m->dims[l + 1] * m->dims[l]; i++)
            henn__wbuf_f32(w, m->W[l][i]);
        for (i = 0; i < m->dims[l + 1]; i++)
            henn__wbuf_f32(w, m->b[l][i]);
    }
}

int henn__pmodel_read(henn__rbuf *r, henn_nn_model *m, uint64_t *step)
{
    size_t layers, dims[HENN_NN_MAX_LAYERS + 1], l, i, need = 0;
    henn_nn_act act[HENN_NN_MAX_LAYERS];
    uint32_t out, a;
    int rc;

    layers = henn__rbuf_u32(r);
    out = henn__rbuf_u32(r);
    if (r->err != 0 || layers == 0 || layers > HENN_NN_MAX_LAYERS || out > HENN_NN_SIGMOID_MSE)
        return HENN_EFORMAT;
    for (l = 0; l <= layers; l++) {
        dims[l] = henn__rbuf_u32(r);
        if (dims[l] == 0 || dims[l] > HENN_NN_MAX_DIM)
            return HENN_EFORMAT;
    }
    for (l = 0; l < layers; l++) {
        a = henn__rbuf_u32(r);
        if (a > (uint32_t)HENN_NN_RELU || (l + 1 == layers && a != 0))
            return HENN_EFORMAT;
        act[l] = (henn_nn_act)a;
        need += (dims[l + 1] * dims[l] + dims[l + 1]) * 4;
    }
    *step = (uint64_t)henn__rbuf_u32(r) << 32;
    *step |= henn__rbuf_u32(r);
    if (r->err != 0 || r->len - r->pos != need)
        return HENN_EFORMAT;
    henn_nn_model_clear(m);
    rc = henn_nn_model_init(m, dims, layers + 1, layers > 1 ? act[0] : HENN_NN_IDENTITY,
                            (henn_nn_output)out, 0);
    if (rc != 0)
        return rc;
    for (l = 0; l < layers; l++)
        m->act[l] = act[l];
    for (l = 0; l < layers && rc == 0; l++) {
        for (i = 0; i < dims[l + 1] * dims[l]; i++)
            m->W[l][i] = henn__rbuf_f32(r);
        for (i = 0; i < dims[l + 1]; i++)
            m->b[l][i] = henn__rbuf_f32(r);
        for (i = 0; i < dims[l + 1] * dims[l]; i++)
            if (!isfinite(m->W[l][i]))
                rc = HENN_EFORMAT;
        for (i = 0; i < dims[l + 1]; i++)
            if (!isfinite(m->b[l][i]))
                rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = henn__rbuf_done(r);
    if (rc != 0)
        henn_nn_model_clear(m);
    return rc;
}

double henn__private_act(henn_nn_act a, double z)
{
    switch (a) {
    case HENN_NN_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case HENN_NN_TANH:
        return tanh(z);
    case HENN_NN_RELU:
        return z > 0.0 ? z : 0.0;
    default:
        return z;
    }
}

static double act_grad(henn_nn_act a, double z)
{
    double s;
    switch (a) {
    case HENN_NN_SIGMOID:
        s = 1.0 / (1.0 + exp(-z));
        return s * (1.0 - s);
    case HENN_NN_TANH:
        s = tanh(z);
        return 1.0 - s * s;
    case HENN_NN_RELU:
        return z > 0.0 ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

int henn__private_grad(double **gW, double **gb, double *loss, const henn_nn_model *m,
                       const double *const *A, const double *const *Z, const uint8_t *y,
                       size_t c)
{
    size_t L = m->layers, K = m->dims[L], l, s, i, j, maxd = 0;
    double *d = NULL, *dp = NULL, total = 0.0;
    int rc = 0;

    for (l = 0; l <= L; l++)
        maxd = m->dims[l] > maxd ? m->dims[l] : maxd;
    for (s = 0; s < c; s++)
        if (y[s] >= K)
            return HENN_EINVAL;
    d = malloc(c * maxd * sizeof(double));
    dp = malloc(c * maxd * sizeof(double));
    if (d == NULL || dp == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    /* Output error per row (not divided by c: the trainer gets sums). */
    for (s = 0; s < c; s++) {
        const double *z = Z[L - 1] + s * K;
        double mx = z[0], sum = 0.0;
        if (m->output == HENN_NN_SOFTMAX_CE) {
            for (j = 1; j < K; j++)
                mx = z[j] > mx ? z[j] : mx;
            for (j = 0; j < K; j++)
                sum += exp(z[j] - mx);
            for (j = 0; j < K; j++) {
                double p = exp(z[j] - mx) / sum;
                d[s * K + j] = p - (j == y[s] ? 1.0 : 0.0);
            }
            total -= (z[y[s]] - mx) - log(sum);
        } else {
            for (j = 0; j < K; j++) {
                double p = 1.0 / (1.0 + exp(-z[j])), e = p - (j == y[s] ? 1.0 : 0.0);
                d[s * K + j] = e * p * (1.0 - p);
                total += 0.5 * e * e;
            }
        }
    }
    for (l = L; l-- > 0;) {
        size_t in_d = m->dims[l], out_d = m->dims[l + 1];
        memset(gW[l], 0, out_d * in_d * sizeof(double));
        memset(gb[l], 0, out_d * sizeof(double));
        for (s = 0; s < c; s++)
            for (j = 0; j < out_d; j++) {
                double dj = d[s * out_d + j];
                const double *a = A[l] + s * in_d;
                gb[l][j] += dj;
                for (i = 0; i < in_d; i++)
                    gW[l][j * in_d + i] += dj * a[i];
            }
        if (l == 0)
            break;
        for (s = 0; s < c; s++)
            for (i = 0; i < in_d; i++) {
                double v = 0.0;
                for (j = 0; j < out_d; j++)
                    v += d[s * out_d + j] * (double)m->W[l][j * in_d + i];
                dp[s * in_d + i] = v * act_grad(m->act[l - 1], Z[l - 1][s * in_d + i]);
            }
        {
            double *t = d;
            d = dp;
            dp = t;
        }
    }
    if (loss != NULL)
        *loss = total;
cleanup:
    free(d);
    free(dp);
    return rc;
}
