/*
 * henn/nn.h: plaintext neural networks (dense layers, mini-batch training).
 *
 * Workflow:
 *  1. henn_nn_model_init() creates a multilayer perceptron with dims
 *     [d0, d1, ..., dL] (d0 inputs, dL classes), hidden activations and an
 *     output rule, initialised from a seed (Xavier/Glorot for
 *     sigmoid/tanh/identity, He for ReLU; Glorot & Bengio 2010, He et al.
 *     2015). Logistic (softmax) regression is the case L = 1.
 *  2. henn_nn_trainer_init() attaches an optimiser (SGD with momentum, or
 *     Adam, Kingma & Ba 2015) and workspace; henn_nn_train_batch() runs one
 *     mini-batch step. The split form (henn_nn_backprop() from given
 *     first-layer pre-activations, henn_nn_dz1(), henn_nn_set_grad_w1(),
 *     henn_nn_update()) lets a protocol compute the first layer and its
 *     weight gradient elsewhere (src/protocol).
 *  3. henn_nn_predict() / henn_nn_forward() for inference; henn_nn_metrics()
 *     for accuracy, per-class precision/recall/F1, macro-F1 and the
 *     confusion matrix.
 *  4. henn_nn_model_serialize() / _deserialize(): versioned binary format
 *     (docs/FORMATS.md).
 *
 * Shapes: a batch X is [rows x d0] row-major float; W[l] is [d(l+1) x d(l)]
 * row-major; b[l] is [d(l+1)]. Matrix products go through CBLAS (OpenBLAS).
 * Determinism: the same seed, data and options give the same weights on
 * the same machine and BLAS build.
 * Thread safety: a model or trainer must not be used from two threads at
 * once; distinct objects are independent.
 */
#ifndef HENN_NN_H
#define HENN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HENN_NN_MAX_LAYERS 8  /* dense layers */
#define HENN_NN_MAX_DIM 65536 /* units per layer */

typedef enum {
    HENN_NN_IDENTITY = 0,
    HENN_NN_SIGMOID = 1,
    HENN_NN_TANH = 2,
    HENN_NN_RELU = 3
} henn_nn_act;

/* Output rule: softmax with cross-entropy (default), or a sigmoid per
 * class with squared error against the one-hot label (the published
 * KDD system's choice). */
typedef enum { HENN_NN_SOFTMAX_CE = 0, HENN_NN_SIGMOID_MSE = 1 } henn_nn_output;

typedef struct henn_nn_model {
    size_t layers;
    size_t dims[HENN_NN_MAX_LAYERS + 1];
    henn_nn_act act[HENN_NN_MAX_LAYERS]; /* act[l] follows layer l (l < layers-1) */
    henn_nn_output output;
    float *W[HENN_NN_MAX_LAYERS];
    float *b[HENN_NN_MAX_LAYERS];
} henn_nn_model;

/* henn_nn_model_init_empty: a model with no layers (for _deserialize or
 * _copy). henn_nn_model_clear: free the weights (safe on an empty or
 * zeroed model). */
HENN_API void henn_nn_model_init_empty(henn_nn_model *m);
HENN_API void henn_nn_model_clear(henn_nn_model *m);

/*
 * henn_nn_model_init: a model with layers = ndims - 1 dense layers.
 *  dims:   [ndims] units, 2 <= ndims <= HENN_NN_MAX_LAYERS + 1, each in
 *          1..HENN_NN_MAX_DIM.
 *  hidden: activation of every hidden layer.
 *  seed:   weights ~ Xavier-uniform (He-normal for ReLU), biases 0.
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_nn_model_init(henn_nn_model *m, const size_t *dims,
                                               size_t ndims, henn_nn_act hidden,
                                               henn_nn_output output, uint64_t seed);

/* henn_nn_model_copy: dst = deep copy of src (dst uninitialised). */
HENN_API HENN_NODISCARD int henn_nn_model_copy(henn_nn_model *dst, const henn_nn_model *src);

/*
 * henn_nn_model_same_shape: 1 when a and b have the same architecture:
 * layer count, widths dims[0 .. layers], the hidden layers' activations
 * act[0 .. layers - 2] and the output rule; else 0 (also for NULL). The
 * weights are not compared. For a party that receives a model from its
 * peer and must refuse another architecture before it uses its widths
 * (buffers sized by the first model, test data of the run's width).
 * Thread safety: reads a and b only.
 */
HENN_API int henn_nn_model_same_shape(const henn_nn_model *a, const henn_nn_model *b);

/*
 * henn_nn_forward: class scores P [rows x dL] (probabilities for softmax,
 * sigmoid outputs otherwise) of X [rows x d0]. Returns 0, HENN_EINVAL,
 * HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_nn_forward(float *P, const henn_nn_model *m, const float *X,
                                            size_t rows);

/* henn_nn_predict: pred[i] = argmax of the scores of row i. */
HENN_API HENN_NODISCARD int henn_nn_predict(uint8_t *pred, const henn_nn_model *m,
                                            const float *X, size_t rows);

/* henn_nn_activate: in place, v[0..count) = act(v). */
HENN_API void henn_nn_activate(float *v, size_t count, henn_nn_act act);

typedef enum { HENN_NN_SGD = 0, HENN_NN_ADAM = 1 } henn_nn_optimizer;

/* Optimiser options. lr > 0; momentum in [0, 1) for SGD; beta1, beta2 in
 * [0, 1), eps > 0 for Adam; max_rows: largest batch the trainer accepts. */
typedef struct henn_nn_opts {
    henn_nn_optimizer optimizer;
    float lr, momentum, beta1, beta2, eps;
    size_t max_rows;
} henn_nn_opts;

/* henn_nn_opts_default: Adam, lr 0.001, beta 0.9/0.999, eps 1e-8,
 * momentum 0.9 (for SGD), max_rows 256. */
HENN_API void henn_nn_opts_default(henn_nn_opts *o);

typedef struct henn_nn_trainer henn_nn_trainer;

/* henn_nn_trainer_new: trainer for m (m must outlive it and is updated in
 * place). Returns 0, HENN_EINVAL, HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_nn_trainer_new(henn_nn_trainer **t, henn_nn_model *m,
                                                const henn_nn_opts *o);
/* henn_nn_trainer_free: release t (NULL is allowed); the model stays. */
HENN_API void henn_nn_trainer_free(henn_nn_trainer *t);

/*
 * henn_nn_backprop: forward and backward pass of one batch; gradients are
 * the mean over the batch. X [rows x d0] may be NULL when Z1 (first-layer
 * pre-activations including b[0], [rows x d1]) is given; then the weight
 * gradient of layer 0 is left zero for henn_nn_set_grad_w1(). y: [rows]
 * class labels < dL. loss (optional): mean loss. rows <= max_rows.
 * Returns 0, HENN_EINVAL.
 */
HENN_API HENN_NODISCARD int henn_nn_backprop(henn_nn_trainer *t, const float *X, const float *Z1,
                                             const uint8_t *y, size_t rows, double *loss);

/* henn_nn_dz1: the last backprop's d(loss)/d(Z1), [rows x d1] row-major
 * (already divided by rows). Valid until the next backprop. */
HENN_API const float *henn_nn_dz1(const henn_nn_trainer *t);

/* henn_nn_set_grad_w1: replace layer 0's weight gradient [d1 x d0]. */
HENN_API void henn_nn_set_grad_w1(henn_nn_trainer *t, const float *dW1);

/* henn_nn_set_grad: replace layer l's gradients, gW [d(l+1) x d(l)] and
 * gb [d(l+1)] (the batch mean), for protocols in which another party
 * computes them (private training). Returns 0 or HENN_EINVAL (l out of
 * range, a NULL argument). */
HENN_API HENN_NODISCARD int henn_nn_set_grad(henn_nn_trainer *t, size_t l, const float *gW,
                                             const float *gb);

/* henn_nn_update: one optimiser step with the current gradients. */
HENN_API void henn_nn_update(henn_nn_trainer *t);

/* henn_nn_train_batch: backprop on X then update (plaintext training). */
HENN_API HENN_NODISCARD int henn_nn_train_batch(henn_nn_trainer *t, const float *X,
                                                const uint8_t *y, size_t rows, double *loss);

/*
 * henn_nn_batch_order: order[0..batches) = the order in which an epoch
 * visits its batches (a seeded permutation; the encrypted trainer uses the
 * same one, so plaintext and encrypted runs see the same batches).
 * Returns 0, HENN_EINVAL (batches 0), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_nn_batch_order(size_t *order, size_t batches, uint64_t seed);

/*
 * henn_nn_train_epoch: one epoch of plaintext training: batches are the
 * contiguous chunks of `batch` rows of X [rows x d0] (the last may be
 * shorter), visited in henn_nn_batch_order(seed) order. batch <= the
 * trainer's max_rows. progress (optional) counts rows; loss (optional)
 * gets the mean training loss. Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_nn_train_epoch(henn_nn_trainer *t, const float *X,
                                                const uint8_t *y, size_t rows, size_t batch,
                                                uint64_t seed, henn_progress_fn progress,
                                                void *user, double *loss);

/* henn_nn_grad: the current gradient of layer l's weights and biases (for
 * tests: finite-difference checks). */
HENN_API const float *henn_nn_grad_w(const henn_nn_trainer *t, size_t l);
HENN_API const float *henn_nn_grad_b(const henn_nn_trainer *t, size_t l);

/* henn_nn_loss: mean loss of the model on a batch (no training). */
HENN_API HENN_NODISCARD int henn_nn_loss(double *loss, const henn_nn_model *m, const float *X,
                                         const uint8_t *y, size_t rows);

#define HENN_NN_MAX_CLASSES 64

/* Classification metrics. */
typedef struct henn_nn_metrics {
    size_t classes, rows;
    double accuracy, macro_f1;
    double precision[HENN_NN_MAX_CLASSES], recall[HENN_NN_MAX_CLASSES], f1[HENN_NN_MAX_CLASSES];
    size_t support[HENN_NN_MAX_CLASSES];
    size_t *confusion; /* [classes x classes], row = true class, column = predicted */
} henn_nn_metrics;

/*
 * henn_nn_metrics_compute: metrics of pred against y (rows each, values
 * < classes <= HENN_NN_MAX_CLASSES). Classes with no support and no
 * prediction have F1 0 and are left out of macro-F1's mean. Release with
 * henn_nn_metrics_clear(). Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_nn_metrics_compute(henn_nn_metrics *mt, const uint8_t *y,
                                                    const uint8_t *pred, size_t rows,
                                                    size_t classes);
/* henn_nn_metrics_clear: free the confusion matrix. */
HENN_API void henn_nn_metrics_clear(henn_nn_metrics *mt);

/*
 * Model file: "HNNM", version 1, layers, dims, activations, output, then
 * W and b of each layer as little-endian IEEE float32 (docs/FORMATS.md).
 * henn_nn_model_serialize: *buf malloc'd (free with free()).
 * henn_nn_model_deserialize: m uninitialised; HENN_EFORMAT on a bad magic,
 * version, size, truncation, trailing bytes or a non-finite weight.
 */
HENN_API HENN_NODISCARD int henn_nn_model_serialize(uint8_t **buf, size_t *buf_len,
                                                    const henn_nn_model *m);
HENN_API HENN_NODISCARD int henn_nn_model_deserialize(henn_nn_model *m, const uint8_t *buf,
                                                      size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif
