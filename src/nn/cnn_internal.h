/* Internal layer kernels of the convolutional networks (henn/cnn.h). */
#ifndef HENN_NN_CNN_INTERNAL_H
#define HENN_NN_CNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "henn/cnn.h"

/* conv.c: one image of a convolution layer L (kind HENN_CNN_CONV).
 * henn__conv_forward: cols [P x K] = im2col(x), Z [out_c x P] = W cols^T + b
 * (P = out_h * out_w, K = in_c * k * k).
 * henn__conv_backward: gW [out_c x K] += dZ cols, gb [out_c] += row sums of
 * dZ; if dx is not NULL, dx [in_c x in_h x in_w] = col2im(dZ^T W) with
 * dcols [P x K] as scratch. */
void henn__conv_forward(float *Z, float *cols, const float *x, const henn_cnn_layer *L);
void henn__conv_backward(float *gW, float *gb, float *dx, float *dcols, const float *dZ,
                         const float *cols, const henn_cnn_layer *L);

/* pool.c: one image of a 2x2, stride-2 pooling layer L. arg [out_n] gets
 * the index in x of each window's maximum (max pooling; NULL for
 * average). henn__pool_backward overwrites dx [in_n]. */
void henn__pool_forward(float *y, uint32_t *arg, const float *x, const henn_cnn_layer *L);
void henn__pool_backward(float *dx, const float *dy, const uint32_t *arg,
                         const henn_cnn_layer *L);

#endif
