/* Logistic regression in the clear: sigmoids, gradient descent with the
 * published update rule, Nesterov momentum, metrics (henn/lr.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "henn/lr.h"

int henn_lr_sigmoid_coeffs(double c[8], henn_lr_sigmoid kind)
{
    memset(c, 0, 8 * sizeof(double));
    switch (kind) {
    case HENN_LR_SIGMOID_EXACT:
        return 0;
    case HENN_LR_SIGMOID_POLY3:
        c[0] = 0.5;
        c[1] = 0.197;
        c[3] = -0.004;
        return 3;
    case HENN_LR_SIGMOID_LS3_8:
        /* least squares on [-8, 8] (uniform weight); even terms are 0 by
         * symmetry; the test recomputes the fit */
        c[0] = 0.5;
        c[1] = 0.15011987737908764;
        c[3] = -0.0015929978694672528;
        return 3;
    case HENN_LR_SIGMOID_LS5_8:
        c[0] = 0.5;
        c[1] = 0.19130438301135175;
        c[3] = -0.004596004708968668;
        c[5] = 4.2229361393209105e-05;
        return 5;
    }
    return -1;
}

double henn_lr_sigmoid_eval(henn_lr_sigmoid kind, double x)
{
    double c[8];
    int deg = henn_lr_sigmoid_coeffs(c, kind);
    if (deg <= 0)
        return 1.0 / (1.0 + exp(-x));
    double v = 0.0;
    for (int k = deg; k >= 0; k--)
        v = v * x + c[k];
    return v;
}

int henn_lr_model_init(henn_lr_model *m, size_t dim)
{
    if (m == NULL)
        return HENN_EINVAL;
    memset(m, 0, sizeof(*m));
    if (dim == 0 || dim > (SIZE_MAX / sizeof(double)))
        return HENN_EINVAL;
    m->w = calloc(dim, sizeof(double));
    if (m->w == NULL)
        return HENN_ENOMEM;
    m->dim = dim;
    return 0;
}

void henn_lr_model_clear(henn_lr_model *m)
{
    if (m == NULL)
        return;
    free(m->w);
    memset(m, 0, sizeof(*m));
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int henn_lr_train(henn_lr_model *m, const henn_lr_data *d, const henn_lr_opts *opts,
                  henn_lr_epoch_fn cb, void *user)
{
    if (m == NULL || d == NULL || opts == NULL || m->w == NULL || m->dim != d->dim ||
        d->rows == 0 || opts->epochs == 0 || !isfinite(opts->alpha) ||
        !isfinite(opts->lambda) || !(opts->nesterov >= 0.0) || !(opts->nesterov < 1.0))
        return HENN_EINVAL;
    double cs[8];
    if (henn_lr_sigmoid_coeffs(cs, opts->sigmoid) < 0)
        return HENN_EINVAL;
    size_t dim = d->dim, batch = opts->batch == 0 || opts->batch > d->rows ? d->rows : opts->batch;
    double *g = calloc(dim + 1, sizeof(double));
    double *v = calloc(dim + 1, sizeof(double));   /* momentum (w..., b) */
    double *la = calloc(dim + 1, sizeof(double));  /* look-ahead point */
    size_t *order = malloc(d->rows * sizeof(size_t));
    if (g == NULL || v == NULL || la == NULL || order == NULL) {
        free(g);
        free(v);
        free(la);
        free(order);
        return HENN_ENOMEM;
    }
    for (size_t i = 0; i < d->rows; i++)
        order[i] = i;
    henn__prng r;
    henn__prng_init(&r, opts->seed, 0x6c72u);
    double mu = opts->nesterov;
    for (size_t epoch = 1; epoch <= opts->epochs; epoch++) {
        if (opts->shuffle && batch < d->rows)
            for (size_t i = d->rows; i-- > 1;) {
                size_t j = (size_t)henn__prng_below(&r, i + 1);
                size_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        for (size_t start = 0; start < d->rows; start += batch) {
            size_t end = start + batch < d->rows ? start + batch : d->rows;
            double mb = (double)(end - start);
            /* gradient at the look-ahead point w + mu v (plain GD: mu = 0) */
            for (size_t j = 0; j < dim; j++)
                la[j] = m->w[j] + mu * v[j];
            la[dim] = m->b + mu * v[dim];
            memset(g, 0, (dim + 1) * sizeof(double));
            for (size_t k = start; k < end; k++) {
                const double *x = d->X + order[k] * dim;
                double z = dot(la, x, dim) + la[dim];
                double e = henn_lr_sigmoid_eval(opts->sigmoid, z) - d->y[order[k]];
                for (size_t j = 0; j < dim; j++)
                    g[j] += e * x[j];
                g[dim] += e;
            }
            for (size_t j = 0; j <= dim; j++) {
                double gj = g[j] / mb + (j < dim ? opts->lambda / mb * la[j] : 0.0);
                v[j] = mu * v[j] - opts->alpha * gj;
            }
            for (size_t j = 0; j < dim; j++)
                m->w[j] += v[j];
            m->b += v[dim];
        }
        if (cb != NULL)
            cb(user, epoch, m);
    }
    free(g);
    free(v);
    free(la);
    free(order);
    return 0;
}

int henn_lr_predict(double *scores, const henn_lr_model *m, const henn_lr_data *d)
{
    if (scores == NULL || m == NULL || d == NULL || m->dim != d->dim || m->w == NULL)
        return HENN_EINVAL;
    for (size_t i = 0; i < d->rows; i++)
        scores[i] = 1.0 / (1.0 + exp(-(dot(m->w, d->X + i * d->dim, d->dim) + m->b)));
    return 0;
}

typedef struct scored {
    double s;
    double y;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

int henn_lr_metrics_compute(henn_lr_metrics *out, const double *scores, const double *y,
                            size_t n)
{
    if (out == NULL || scores == NULL || y == NULL || n == 0)
        return HENN_EINVAL;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        if (isnan(scores[i]))
            return HENN_EINVAL; /* a diverged model has no ranking */
    size_t tp = 0, fp = 0, tn = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = scores[i] >= 0.5, pos = y[i] != 0.0;
        tp += (size_t)(pred && pos);
        fp += (size_t)(pred && !pos);
        tn += (size_t)(!pred && !pos);
        fn += (size_t)(!pred && pos);
    }
    out->accuracy = (double)(tp + tn) / (double)n;
    out->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    out->f1 = out->precision + out->recall > 0.0
                  ? 2.0 * out->precision * out->recall / (out->precision + out->recall)
                  : 0.0;
    size_t npos = tp + fn, nneg = tn + fp;
    if (npos == 0 || nneg == 0) {
        out->auc = 0.5;
        return 0;
    }
    scored *s = malloc(n * sizeof(scored));
    if (s == NULL)
        return HENN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        s[i].s = scores[i];
        s[i].y = y[i];
    }
    qsort(s, n, sizeof(scored), cmp_scored);
    /* rank-sum (Mann-Whitney U) with average ranks for ties */
    double rank_sum = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s[j].s == s[i].s)
            j++;
        double avg = ((double)i + 1.0 + (double)j) / 2.0;
        for (size_t k = i; k < j; k++)
            if (s[k].y != 0.0)
                rank_sum += avg;
        i = j;
    }
    free(s);
    out->auc = (rank_sum - (double)npos * ((double)npos + 1.0) / 2.0) /
               ((double)npos * (double)nneg);
    return 0;
}
