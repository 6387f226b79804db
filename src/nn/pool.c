/* 2x2, stride-2 max and average pooling (henn/cnn.h), one image at a time. */
#include <string.h>

#include "cnn_internal.h"

void henn__pool_forward(float *y, uint32_t *arg, const float *x, const henn_cnn_layer *L)
{
    size_t c, oy, ox, H = L->in_h, W = L->in_w;
    for (c = 0; c < L->out_c; c++)
        for (oy = 0; oy < L->out_h; oy++)
            for (ox = 0; ox < L->out_w; ox++) {
                size_t i0 = (c * H + 2 * oy) * W + 2 * ox;
                size_t idx[4] = {i0, i0 + 1, i0 + W, i0 + W + 1}, q, best = idx[0];
                size_t o = (c * L->out_h + oy) * L->out_w + ox;
                if (L->kind == HENN_CNN_AVGPOOL) {
                    y[o] = 0.25f * (x[idx[0]] + x[idx[1]] + x[idx[2]] + x[idx[3]]);
                    continue;
                }
                for (q = 1; q < 4; q++)
                    if (x[idx[q]] > x[best]) /* first maximum wins ties */
                        best = idx[q];
                y[o] = x[best];
                arg[o] = (uint32_t)best;
            }
}

void henn__pool_backward(float *dx, const float *dy, const uint32_t *arg,
                         const henn_cnn_layer *L)
{
    size_t c, oy, ox, H = L->in_h, W = L->in_w;
    memset(dx, 0, L->in_c * H * W * sizeof(float));
    for (c = 0; c < L->out_c; c++)
        for (oy = 0; oy < L->out_h; oy++)
            for (ox = 0; ox < L->out_w; ox++) {
                size_t o = (c * L->out_h + oy) * L->out_w + ox;
                size_t i0 = (c * H + 2 * oy) * W + 2 * ox;
                if (L->kind == HENN_CNN_AVGPOOL) {
                    float g = 0.25f * dy[o];
                    dx[i0] += g;
                    dx[i0 + 1] += g;
                    dx[i0 + W] += g;
                    dx[i0 + W + 1] += g;
                } else {
                    dx[arg[o]] += dy[o];
                }
            }
}
