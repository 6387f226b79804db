/*
 * henn/cnn.h: plaintext convolutional networks (convolution, pooling,
 * dense layers) with mini-batch training, and the split entry points a
 * protocol uses when the first layer is computed elsewhere (CryptoNN:
 * the server gets the first layer's outputs and weight gradient through
 * functional-encryption decryptions).
 *
 * Workflow
 *  1. Build a sequential model: henn_cnn_model_init() from a list of layer
 *     specs, or henn_cnn_model_init_lenet5() / henn_cnn_model_init_mlp().
 *  2. henn_cnn_trainer_new() with henn_nn_opts (henn/nn.h: SGD with
 *     momentum or Adam, learning rate, max batch); henn_cnn_train_epoch()
 *     or henn_cnn_train_batch() for plaintext training.
 *  3. Split form, for a first layer computed outside:
 *       henn_cnn_backprop(t, NULL, Z1, y, rows, &loss)  forward from Z1
 *                                                       and backward;
 *       henn_cnn_dz1(t)          delta1 = d(loss)/d(Z1), what the keys
 *                                for the weight gradient are built from;
 *       henn_cnn_set_grad_w1(t, dW1)  the first layer's weight gradient
 *                                (the bias gradient is computed here from
 *                                delta1);
 *       henn_cnn_update(t)       one optimiser step.
 *     henn_cnn_forward_z1() is inference from given Z1.
 *  4. henn_cnn_im2col() builds the patch vectors of a convolution: row p of
 *     the result is the input patch under output position p, so the first
 *     convolution is Z1[o][p] = <W1 row o, patch p> + b1[o]: an inner
 *     product of a filter (the FEIP key vector) with an encrypted patch.
 *  5. henn_cnn_model_serialize() / _deserialize() (or _save / _load with
 *     a file): the model file format "HCNM" (docs/FORMATS.md).
 *
 * Layouts (fixed; protocols rely on them)
 *  - Activations of one image are channel-major: [C x H x W], row-major in
 *    each channel (CHW). A batch is [rows x C*H*W].
 *  - Convolution weights W: [out_c x (in_c*k*k)], the column index being
 *    (c * k + i) * k + j for input channel c, kernel row i, column j: the
 *    same order as the columns of henn_cnn_im2col(). Bias b: [out_c].
 *  - Dense weights W: [out x in] row-major, b: [out]; the input is the
 *    previous layer's CHW output flattened.
 *  - Z1 (first layer's pre-activation, bias included) is [rows x out_n] of
 *    layer 0: for a first convolution out_n = out_c * out_h * out_w in CHW
 *    order, i.e. Z1[r][o * P + p] with P = out_h * out_w patches.
 *  - Convolutions: stride 1, zero padding `pad` on each side (0 = valid),
 *    square kernels. Pooling: 2x2 windows, stride 2 (odd edges dropped).
 *  - The last layer is dense with softmax + cross-entropy; the loss is the
 *    mean over the batch and every gradient (dz1 included) is of that mean.
 *
 * Matrix products through CBLAS (OpenBLAS): im2col + sgemm per image.
 * Determinism: the same seed, data and options give the same weights on the
 * same machine and BLAS build. Thread safety: a model or trainer must not
 * be used from two threads at once; distinct objects are independent.
 * Sources: LeCun et al., Gradient-based learning applied to document
 * recognition (1998) for LeNet-5; Xu, Joshi, Li, CryptoNN (ICDCS 2019).
 */
#ifndef HENN_CNN_H
#define HENN_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"
#include "henn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HENN_CNN_MAX_LAYERS 12    /* layers of a model */
#define HENN_CNN_MAX_KERNEL 15    /* largest kernel side */
#define HENN_CNN_MAX_UNITS 1048576 /* largest C*H*W of any layer's input or output */

typedef enum {
    HENN_CNN_CONV = 0,     /* convolution + activation */
    HENN_CNN_MAXPOOL = 1,  /* 2x2 max pooling, stride 2 */
    HENN_CNN_AVGPOOL = 2,  /* 2x2 average pooling, stride 2 */
    HENN_CNN_DENSE = 3     /* fully connected + activation (the last: softmax) */
} henn_cnn_kind;

/*
 * A layer spec for henn_cnn_model_init().
 *  kind: the layer type.
 *  out:  output channels (conv) or units (dense); ignored for pooling.
 *  k:    kernel side (conv, 1..HENN_CNN_MAX_KERNEL); pad: zero padding
 *        (conv, < k).
 *  act:  activation after a conv or a hidden dense layer (ignored for
 *        pooling and for the last layer, which is softmax).
 */
typedef struct henn_cnn_spec {
    henn_cnn_kind kind;
    size_t out;
    size_t k, pad;
    henn_nn_act act;
} henn_cnn_spec;

/*
 * A layer of a model (shapes computed by the model, parameters owned by
 * it). in_c x in_h x in_w -> out_c x out_h x out_w (dense: h = w = 1,
 * c = units). W, b: NULL for pooling; see "Layouts" above.
 */
typedef struct henn_cnn_layer {
    henn_cnn_kind kind;
    henn_nn_act act;
    size_t k, pad;
    size_t in_c, in_h, in_w;
    size_t out_c, out_h, out_w;
    float *W;
    float *b;
} henn_cnn_layer;

typedef struct henn_cnn_model {
    size_t layers;
    size_t in_c, in_h, in_w;
    henn_cnn_layer layer[HENN_CNN_MAX_LAYERS];
} henn_cnn_model;

/* henn_cnn_model_clear: free the parameters and zero m (safe on a zeroed
 * model and after a failed _init). */
HENN_API void henn_cnn_model_clear(henn_cnn_model *m);

/*
 * henn_cnn_model_same_shape: 1 when a and b have the same architecture:
 * input shape, layer count and, per layer, kind, activation, kernel,
 * padding and output shape; else 0 (also for NULL). The weights are not
 * compared. For a party that receives a model from its peer and must
 * refuse another architecture before it runs the model on its own data.
 * Thread safety: reads a and b only.
 */
HENN_API int henn_cnn_model_same_shape(const henn_cnn_model *a, const henn_cnn_model *b);

/*
 * henn_cnn_model_init: a sequential model on inputs in_c x in_h x in_w
 * with the layers spec[0..n). The last spec must be dense (its output is
 * the class count, 2..HENN_NN_MAX_CLASSES). Weights: He-normal (ReLU) or
 * Xavier-uniform (others) from seed, fan-in in_c*k*k or in; biases 0.
 * Returns 0, HENN_EINVAL (empty or over-long list, a shape that vanishes,
 * pad >= k, a size over HENN_CNN_MAX_UNITS, a bad kind or activation),
 * HENN_ENOMEM. m uninitialised; on error it is left zeroed.
 */
HENN_API HENN_NODISCARD int henn_cnn_model_init(henn_cnn_model *m, size_t in_c, size_t in_h,
                                                size_t in_w, const henn_cnn_spec *spec, size_t n,
                                                uint64_t seed);

/*
 * henn_cnn_model_init_lenet5: LeNet-5 for 1 x 28 x 28 inputs and 10
 * classes: conv 6@5x5 (pad: 0 = valid, 28 -> 24; 2 = "same", 28 -> 28,
 * LeNet's 32 x 32 input), pool, conv 16@5x5 valid, pool, dense 120, dense
 * 84, dense 10 (softmax). With pad 0: 6x24x24 -> 6x12x12 -> 16x8x8 ->
 * 16x4x4 = 256 -> 120 -> 84 -> 10 (44,426 parameters); with pad 2:
 * 16x5x5 = 400 -> 120 (61,706 parameters). act: the activation of every
 * conv and hidden dense layer; pool: HENN_CNN_MAXPOOL or _AVGPOOL.
 * Returns 0, HENN_EINVAL (pad not 0 or 2, bad act or pool), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_model_init_lenet5(henn_cnn_model *m, size_t pad,
                                                       henn_nn_act act, henn_cnn_kind pool,
                                                       uint64_t seed);

/*
 * henn_cnn_model_init_mlp: a dense network on in_dim inputs (1 x 1 x
 * in_dim): hidden layers of hidden[0..nh) units with activation act, then
 * `classes` softmax outputs (784-128-10: in_dim 784, hidden {128}, 10).
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_model_init_mlp(henn_cnn_model *m, size_t in_dim,
                                                    const size_t *hidden, size_t nh,
                                                    henn_nn_act act, size_t classes,
                                                    uint64_t seed);

/* henn_cnn_model_copy: dst = deep copy of src (dst uninitialised).
 * Returns 0, HENN_EINVAL, HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_cnn_model_copy(henn_cnn_model *dst, const henn_cnn_model *src);

/* Sizes: henn_cnn_in_size = in_c*in_h*in_w of the model (inputs per
 * image); henn_cnn_out_size(m, l) = out_c*out_h*out_w of layer l (0 for
 * l out of range); henn_cnn_classes = units of the last layer;
 * henn_cnn_param_count = weights + biases of all layers. */
HENN_API size_t henn_cnn_in_size(const henn_cnn_model *m);
HENN_API size_t henn_cnn_out_size(const henn_cnn_model *m, size_t l);
HENN_API size_t henn_cnn_classes(const henn_cnn_model *m);
HENN_API size_t henn_cnn_param_count(const henn_cnn_model *m);

/*
 * Model files (docs/FORMATS.md, "CNN model"): "HCNM", version 1, the input
 * shape, per layer its kind, activation, kernel, padding and output shape,
 * then every conv/dense layer's W and b as IEEE-754 float32; all
 * little-endian. The format, not henn_cnn_model's layout, is the stable
 * interface. A model with L layers of P parameters takes
 * 24 + 28 L + 4 P bytes (LeNet-5, pad 0: 177,924).
 *
 * henn_cnn_model_serialize: *buf malloc'd here (free with free()), *buf_len
 * its length. Returns 0, HENN_EINVAL (m NULL or without layers),
 * HENN_ENOMEM; on error *buf = NULL, *buf_len = 0.
 *
 * henn_cnn_model_deserialize: m uninitialised; on success a model as
 * henn_cnn_model_init would build for the same layer list (free with
 * henn_cnn_model_clear). Every field is checked before anything is
 * allocated: HENN_EFORMAT on a bad magic or version, a truncated or
 * over-long buffer (buf_len must be exactly the length the header implies),
 * 0 or more than HENN_CNN_MAX_LAYERS layers, an unknown kind or
 * activation, a shape henn_cnn_model_init refuses (kernel, padding, a size
 * over HENN_CNN_MAX_UNITS, a last layer that is not dense with
 * 2..HENN_NN_MAX_CLASSES outputs), a stored output shape other than the
 * one the input shape and layer parameters give, a nonzero field that the
 * layer's kind does not use (pooling and dense: kernel, padding; pooling
 * and the last layer: activation), or a weight or bias that is not finite;
 * HENN_EINVAL (m or buf NULL), HENN_ENOMEM. On error m is left zeroed.
 * Accepted input re-serialises to the same bytes (fuzzed by fuzz_cnn_model).
 *
 * henn_cnn_model_save / _load: the same through a file (save writes it in
 * place, not atomically; the model is not secret). They also return
 * HENN_EIO (open, read or write failed); _load refuses files over 1 GiB
 * (HENN_EFORMAT).
 *
 * Thread safety: none shared; timing depends only on the shapes.
 */
HENN_API HENN_NODISCARD int henn_cnn_model_serialize(uint8_t **buf, size_t *buf_len,
                                                     const henn_cnn_model *m);
HENN_API HENN_NODISCARD int henn_cnn_model_deserialize(henn_cnn_model *m, const uint8_t *buf,
                                                       size_t buf_len);
HENN_API HENN_NODISCARD int henn_cnn_model_save(const char *path, const henn_cnn_model *m);
HENN_API HENN_NODISCARD int henn_cnn_model_load(henn_cnn_model *m, const char *path);

/*
 * henn_cnn_im2col: patch matrix of one image.
 *  cols: [(oh*ow) x (c*k*k)] row-major output, oh = h + 2 pad - k + 1,
 *        ow = w + 2 pad - k + 1; row p = oy * ow + ox holds
 *        x[c][oy + i - pad][ox + j - pad] at column (c * k + i) * k + j
 *        (0 outside the image).
 *  x:    [c x h x w] one image, CHW.
 * Returns 0 or HENN_EINVAL (k = 0, pad >= k, or k > h + 2 pad or
 * w + 2 pad).
 */
HENN_API HENN_NODISCARD int henn_cnn_im2col(float *cols, const float *x, size_t c, size_t h,
                                            size_t w, size_t k, size_t pad);

/* henn_cnn_im2col_i64: the same on integer pixels (fixed-point values for
 * FE encryption): cols [(oh*ow) x (c*k*k)] int64, x [c x h x w] int64. */
HENN_API HENN_NODISCARD int henn_cnn_im2col_i64(int64_t *cols, const int64_t *x, size_t c,
                                                size_t h, size_t w, size_t k, size_t pad);

/*
 * henn_cnn_col2im: the adjoint of henn_cnn_im2col: x [c x h x w] = sum of
 * the patch entries of cols over the pixels they came from (x is
 * overwritten; padding entries are dropped). Returns 0 or HENN_EINVAL.
 */
HENN_API HENN_NODISCARD int henn_cnn_col2im(float *x, const float *cols, size_t c, size_t h,
                                            size_t w, size_t k, size_t pad);

/*
 * henn_cnn_forward: class probabilities P [rows x classes] of X [rows x
 * in_size]. Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_forward(float *P, const henn_cnn_model *m, const float *X,
                                             size_t rows);

/*
 * henn_cnn_forward_z1: as henn_cnn_forward from the first layer's
 * pre-activations Z1 [rows x out_size(m, 0)] (bias included): layer 0's
 * activation, then layers 1.. . Returns 0, HENN_EINVAL (layer 0 is a
 * pooling layer), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_forward_z1(float *P, const henn_cnn_model *m,
                                                const float *Z1, size_t rows);

/* henn_cnn_predict: pred[i] = argmax of the scores of row i of X.
 * Returns 0, HENN_EINVAL, HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_cnn_predict(uint8_t *pred, const henn_cnn_model *m,
                                             const float *X, size_t rows);

/* henn_cnn_accuracy: fraction of rows of X whose prediction equals y.
 * Returns 0, HENN_EINVAL (rows 0, label >= classes), HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_cnn_accuracy(double *acc, const henn_cnn_model *m,
                                              const float *X, const uint8_t *y, size_t rows);

/* henn_cnn_loss: mean cross-entropy of the model on a batch (no training).
 * Returns 0, HENN_EINVAL, HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_cnn_loss(double *loss, const henn_cnn_model *m, const float *X,
                                          const uint8_t *y, size_t rows);

/*
 * Optimiser settings for LeNet-5 / MLP training on MNIST (docs/RESULTS.md,
 * CryptoNN section, has the runs behind them).
 * henn_cnn_opts_paper: CryptoNN's published setting taken literally: SGD,
 * lr 5e-4, no momentum, batch 64 (max_rows 64). henn's gradients are of
 * the batch-mean loss; if the published code summed over the batch (its
 * accuracies suggest so), its step equals lr 0.032 here.
 * henn_cnn_opts_default: henn's recommended SGD setting: lr 0.05, momentum
 * 0.9, max_rows 64. MNIST-8k LeNet-5, mean of 3 seeds: 92.5% / 93.8% after
 * epochs 1 / 2, against 16.5% / 23.0% with the literal paper setting and
 * 91.2% / 94.4% with Adam lr 1e-3 (Adam is ahead from epoch 2 on).
 */
HENN_API void henn_cnn_opts_paper(henn_nn_opts *o);
HENN_API void henn_cnn_opts_default(henn_nn_opts *o);

typedef struct henn_cnn_trainer henn_cnn_trainer;

/*
 * henn_cnn_trainer_new: a trainer for m (updated in place; m must outlive
 * the trainer) with optimiser options o (henn_nn_opts: SGD with momentum
 * or Adam; o->max_rows is the largest batch). Workspace is allocated here
 * for max_rows images. Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_trainer_new(henn_cnn_trainer **t, henn_cnn_model *m,
                                                 const henn_nn_opts *o);
/* henn_cnn_trainer_free: release t (NULL allowed); the model stays. */
HENN_API void henn_cnn_trainer_free(henn_cnn_trainer *t);

/*
 * henn_cnn_backprop: forward and backward pass of one batch (gradients of
 * the mean loss). X [rows x in_size] may be NULL when Z1 [rows x
 * out_size(m, 0)] is given (layer 0 must then be a conv or dense layer);
 * then layer 0's weight gradient is left zero for henn_cnn_set_grad_w1()
 * (its bias gradient is computed from delta1). If both are given, Z1 is
 * used and X is ignored. y: [rows] labels < classes; rows <= max_rows.
 * loss (optional): mean cross-entropy. Returns 0, HENN_EINVAL.
 */
HENN_API HENN_NODISCARD int henn_cnn_backprop(henn_cnn_trainer *t, const float *X,
                                              const float *Z1, const uint8_t *y, size_t rows,
                                              double *loss);

/* henn_cnn_dz1: the last backprop's delta1 = d(mean loss)/d(Z1), [rows x
 * out_size(m, 0)] (already divided by rows). Valid until the next call. */
HENN_API const float *henn_cnn_dz1(const henn_cnn_trainer *t);

/* henn_cnn_a1: the last backprop's first-layer activations act(Z1),
 * [rows x out_size(m, 0)]. Valid until the next call. */
HENN_API const float *henn_cnn_a1(const henn_cnn_trainer *t);

/*
 * henn_cnn_set_grad_w1: replace layer 0's weight gradient with dW1 (the
 * shape of layer 0's W; no effect if layer 0 is a pooling layer). For a first convolution, the plaintext value is
 * dW1[o][q] = sum_r sum_p delta1[r][o * P + p] * cols_r[p][q] with cols_r =
 * henn_cnn_im2col(image r); for a dense first layer dW1 = delta1^T X.
 */
HENN_API void henn_cnn_set_grad_w1(henn_cnn_trainer *t, const float *dW1);

/* henn_cnn_update: one optimiser step with the current gradients. */
HENN_API void henn_cnn_update(henn_cnn_trainer *t);

/* henn_cnn_train_batch: henn_cnn_backprop on X, then update.
 * Returns 0, HENN_EINVAL. */
HENN_API HENN_NODISCARD int henn_cnn_train_batch(henn_cnn_trainer *t, const float *X,
                                                 const uint8_t *y, size_t rows, double *loss);

/*
 * henn_cnn_train_epoch: one epoch of plaintext training on X [rows x
 * in_size]: batches are the contiguous chunks of `batch` rows (the last
 * may be shorter), visited in henn_nn_batch_order(seed) order (the order
 * an encrypted twin uses). batch <= max_rows. progress (optional) counts
 * rows; loss (optional) gets the mean training loss. Returns 0,
 * HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cnn_train_epoch(henn_cnn_trainer *t, const float *X,
                                                 const uint8_t *y, size_t rows, size_t batch,
                                                 uint64_t seed, henn_progress_fn progress,
                                                 void *user, double *loss);

/* henn_cnn_grad_w / _b: the current gradient of layer l's weights / biases
 * (NULL for pooling layers or l out of range); for tests. */
HENN_API const float *henn_cnn_grad_w(const henn_cnn_trainer *t, size_t l);
HENN_API const float *henn_cnn_grad_b(const henn_cnn_trainer *t, size_t l);

#ifdef __cplusplus
}
#endif

#endif
