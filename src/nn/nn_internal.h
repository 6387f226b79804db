/* Internal helpers shared by the dense networks (nn.c) and the
 * convolutional ones (cnn.c): one definition each, so both train alike. */
#ifndef HENN_NN_NN_INTERNAL_H
#define HENN_NN_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "henn/nn.h"

/* Softmax of one row of logits p[k], in place (max subtracted first). */
void henn__nn_softmax_row(float *p, size_t k);

/* Derivative of activation act from its input z and output a. */
float henn__nn_act_grad(henn_nn_act act, float z, float a);

/* Mean loss of rows rows of outputs P [rows x k] against labels y:
 * cross-entropy for HENN_NN_SOFTMAX_CE (probabilities floored at 1e-30),
 * half the squared error to the one-hot label otherwise. */
double henn__nn_mean_loss(const float *P, const uint8_t *y, size_t rows, size_t k,
                          henn_nn_output out);

/* One optimiser step on n parameters w with gradient g and state mo, v
 * (SGD with momentum: mo only; Adam: mo, v and the bias corrections
 * c1 = 1 - beta1^t, c2 = 1 - beta2^t). */
void henn__nn_step(const henn_nn_opts *o, float *w, const float *g, float *mo, float *v, size_t n,
                   float c1, float c2);

/*
 * The optimiser's state of a trainer (the step count and the moments of
 * every layer: SGD's momentum, Adam's m and v), for checkpoints of
 * server-side training (src/service/jobs.c). The format: "NNO1", the
 * step (u64, little-endian), then mW, mb, vW, vb of each layer as
 * float32 bit patterns (little-endian); it is tied to the model's shape.
 * henn__nn_trainer_state_get: *buf malloc'd (HENN_ENOMEM);
 * henn__nn_trainer_state_set: HENN_EFORMAT on another length or magic.
 */
int henn__nn_trainer_state_get(uint8_t **buf, size_t *buf_len, const henn_nn_trainer *t);
int henn__nn_trainer_state_set(henn_nn_trainer *t, const uint8_t *buf, size_t buf_len);

#endif
