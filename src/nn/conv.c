/*
 * Convolution by im2col + CBLAS sgemm (henn/cnn.h): patch matrices, their
 * adjoint, and one image's forward and backward pass.
 */
#include <cblas.h>
#include <string.h>

#include "cnn_internal.h"

static int conv_shape(size_t *oh, size_t *ow, size_t h, size_t w, size_t k, size_t pad)
{
    if (k == 0 || pad >= k || k > h + 2 * pad || k > w + 2 * pad)
        return HENN_EINVAL;
    *oh = h + 2 * pad - k + 1;
    *ow = w + 2 * pad - k + 1;
    return 0;
}

/* The same loop for float and int64 patches. */
#define IM2COL_BODY(T)                                                                             \
    do {                                                                                           \
        size_t oh, ow, oy, ox, ci, i, j, K = c * k * k;                                            \
        if (cols == NULL || x == NULL || conv_shape(&oh, &ow, h, w, k, pad) != 0)                  \
            return HENN_EINVAL;                                                                    \
        for (oy = 0; oy < oh; oy++)                                                                \
            for (ox = 0; ox < ow; ox++) {                                                          \
                T *row = cols + (oy * ow + ox) * K;                                                \
                for (ci = 0; ci < c; ci++)                                                         \
                    for (i = 0; i < k; i++) {                                                      \
                        size_t y = oy + i; /* row in the padded image */                          \
                        T *dst = row + (ci * k + i) * k;                                           \
                        if (y < pad || y - pad >= h) {                                             \
                            for (j = 0; j < k; j++)                                                \
                                dst[j] = 0;                                                        \
                            continue;                                                              \
                        }                                                                          \
                        for (j = 0; j < k; j++) {                                                  \
                            size_t xx = ox + j;                                                    \
                            dst[j] = (xx < pad || xx - pad >= w)                                   \
                                         ? 0                                                       \
                                         : x[(ci * h + (y - pad)) * w + (xx - pad)];               \
                        }                                                                          \
                    }                                                                              \
            }                                                                                      \
        return 0;                                                                                  \
    } while (0)

static void col2im(float *x, const float *cols, size_t c, size_t h, size_t w, size_t k,
                   size_t pad, size_t oh, size_t ow);

static int im2col_f(float *cols, const float *x, size_t c, size_t h, size_t w, size_t k,
                    size_t pad)
{
    IM2COL_BODY(float);
}

int henn_cnn_im2col(float *cols, const float *x, size_t c, size_t h, size_t w, size_t k,
                    size_t pad)
{
    return im2col_f(cols, x, c, h, w, k, pad);
}

int henn_cnn_im2col_i64(int64_t *cols, const int64_t *x, size_t c, size_t h, size_t w, size_t k,
                        size_t pad)
{
    IM2COL_BODY(int64_t);
}

int henn_cnn_col2im(float *x, const float *cols, size_t c, size_t h, size_t w, size_t k,
                    size_t pad)
{
    size_t oh, ow;
    if (cols == NULL || x == NULL || conv_shape(&oh, &ow, h, w, k, pad) != 0)
        return HENN_EINVAL;
    col2im(x, cols, c, h, w, k, pad, oh, ow);
    return 0;
}

static void col2im(float *x, const float *cols, size_t c, size_t h, size_t w, size_t k,
                   size_t pad, size_t oh, size_t ow)
{
    size_t oy, ox, ci, i, j, K = c * k * k;
    memset(x, 0, c * h * w * sizeof(float));
    for (oy = 0; oy < oh; oy++)
        for (ox = 0; ox < ow; ox++) {
            const float *row = cols + (oy * ow + ox) * K;
            for (ci = 0; ci < c; ci++)
                for (i = 0; i < k; i++) {
                    size_t y = oy + i;
                    const float *src = row + (ci * k + i) * k;
                    if (y < pad || y - pad >= h)
                        continue;
                    for (j = 0; j < k; j++) {
                        size_t xx = ox + j;
                        if (xx >= pad && xx - pad < w)
                            x[(ci * h + (y - pad)) * w + (xx - pad)] += src[j];
                    }
                }
        }
}

void henn__conv_forward(float *Z, float *cols, const float *x, const henn_cnn_layer *L)
{
    size_t P = L->out_h * L->out_w, K = L->in_c * L->k * L->k, o, p;
    if (im2col_f(cols, x, L->in_c, L->in_h, L->in_w, L->k, L->pad) != 0)
        return; /* shapes were checked when the model was built */
    for (o = 0; o < L->out_c; o++)
        for (p = 0; p < P; p++)
            Z[o * P + p] = L->b[o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L->out_c, (int)P, (int)K, 1.0f,
                L->W, (int)K, cols, (int)K, 1.0f, Z, (int)P);
}

void henn__conv_backward(float *gW, float *gb, float *dx, float *dcols, const float *dZ,
                         const float *cols, const henn_cnn_layer *L)
{
    size_t P = L->out_h * L->out_w, K = L->in_c * L->k * L->k, o, p;
    for (o = 0; o < L->out_c; o++) {
        float s = 0.0f;
        for (p = 0; p < P; p++)
            s += dZ[o * P + p];
        gb[o] += s;
    }
    if (gW != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L->out_c, (int)K, (int)P,
                    1.0f, dZ, (int)P, cols, (int)K, 1.0f, gW, (int)K);
    if (dx != NULL) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)K, (int)L->out_c, 1.0f,
                    dZ, (int)P, L->W, (int)K, 0.0f, dcols, (int)K);
        col2im(dx, dcols, L->in_c, L->in_h, L->in_w, L->k, L->pad, L->out_h, L->out_w);
    }
}
