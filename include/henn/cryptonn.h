/*
 * henn/cryptonn.h: CryptoNN, training a neural network on data encrypted
 * with functional encryption (Xu, Joshi, Li, ICDCS 2019), on henn's FEIP
 * and FEBO over ristretto255 (henn/fe.h).
 *
 * Three parties, separate objects, exchanging only serialised messages
 * (docs/FORMATS.md, "CryptoNN messages") through henn_transport:
 *  - authority (henn_cryptonn_authority): runs the three setups (FEIP of
 *    length in_dim for samples, FEIP of length batch for feature columns,
 *    FEBO for labels), publishes the mpks, and answers key requests. It
 *    sees, and reports through its log callback, every key vector it is
 *    asked for (the server's first-layer weights and its gradients).
 *  - client (henn_cryptonn_client): holds the plaintext samples and
 *    labels. Per batch it sends one FEIP ciphertext per sample (forward),
 *    one FEIP ciphertext per feature column of the batch (backward; the
 *    paper's X^T) and one FEBO ciphertext per one-hot label element.
 *  - server (henn_cryptonn_server): holds the mpks, the ciphertexts, the
 *    function keys it asked for and the model. Per batch it asks for keys
 *    of the rows of W1 (forward, Z1 = W1 x) and of the columns of delta1
 *    (backward, dW1 = delta1^T X), keys FEBO "sub" for the predicted
 *    probabilities (the loss gradient yhat - y, as in the paper), and runs
 *    everything after the first layer in plaintext.
 *
 * Workflow (loopback transports; a network transport has the same shape):
 *      henn_cryptonn_authority_new(&a, &p);
 *      henn_transport ta;  henn_transport_to_cryptonn_authority(&ta, a);
 *      henn_cryptonn_client_new(&c, &ta);            // fetches the mpks
 *      henn_cryptonn_server_new(&s, &model, &nn, &ta, &opts);
 *      henn_transport ts;  henn_transport_to_cryptonn_server(&ts, s);
 *      henn_cryptonn_client_train_epoch(c, &ts, X, y, rows, seed, ...);
 *
 * Fixed point (henn_cryptonn_params; stated in docs/THREAT_MODEL.md):
 *   x_q = round(x * x_scale), x in [0, 1] (MNIST: x_scale 255, the raw
 *   pixel); w_q = round(w 2^fw) with |w_q| <= 2^w_bits; delta_q =
 *   round(delta 2^fd) with fd chosen per batch (public, by the server) as
 *   the largest value with max |delta_q| <= 2^d_bits; labels 2^fl y and
 *   predictions round(yhat 2^fl). The discrete-log bound that follows,
 *   henn_cryptonn_dlog_bound(), is the worst case of every inner product:
 *   max(in_dim x_scale 2^w_bits, batch x_scale 2^d_bits, 2^(fl+1)), so a
 *   result can never leave it; a weight outside 2^w_bits is refused at key
 *   derivation (HENN_ERANGE) and stops the run instead of being wrapped or
 *   clipped. The plaintext twin (henn_cryptonn_twin_step) does the same
 *   integer arithmetic without encryption, so an encrypted run and its twin
 *   reach the same weights bit for bit.
 *
 * Leakage (demonstrated in tests/protocol/test_cryptonn.c, documented in
 * docs/THREAT_MODEL.md): the server learns W1 x for every sample and key,
 * delta1^T X for every batch (which determines X when the first layer is
 * at least as wide as the batch), and every label (FEBO sub); the
 * authority learns W1 and every delta1.
 *
 * Thread safety: one thread per party object. The client and server use
 * `threads` worker threads internally for encryption and decryption.
 */
#ifndef HENN_CRYPTONN_H
#define HENN_CRYPTONN_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"
#include "henn/cnn.h"
#include "henn/fe.h"
#include "henn/nn.h"
#include "henn/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HENN_CRYPTONN_MAX_BATCH 256   /* rows per batch */
#define HENN_CRYPTONN_MAX_CLASSES 64  /* FEBO ciphertexts per sample */
#define HENN_CRYPTONN_MAX_IN 4096     /* first-layer inputs */
#define HENN_CRYPTONN_MAX_KEYS 65536  /* keys per request */

/* Fixed-point and shape parameters (chosen at the authority, sent with the
 * mpks; see the header comment for their meaning). */
typedef struct henn_cryptonn_params {
    uint32_t in_dim;  /* first-layer inputs, 1..HENN_CRYPTONN_MAX_IN */
    uint32_t batch;   /* rows per batch, 1..HENN_CRYPTONN_MAX_BATCH */
    uint32_t classes; /* 2..HENN_CRYPTONN_MAX_CLASSES */
    uint32_t x_scale; /* 1..65535 */
    uint32_t fw;      /* 0..20 */
    uint32_t w_bits;  /* 1..24 */
    uint32_t d_bits;  /* 1..24 */
    uint32_t fl;      /* 1..20 */
    uint32_t layout;  /* HENN_CRYPTONN_LAYOUT_* (0: the paper's, the default) */
} henn_cryptonn_params;

/*
 * Ciphertext layouts.
 *  SAMPLE (the paper's): per batch one FEIP ciphertext per sample (length
 *    in_dim) and one per feature column (length batch); keys for rows of
 *    W1 and for columns of delta1.
 *  BATCH (the batch trick, henn/fe.h "supports"): per batch ONE FEIP
 *    ciphertext of the whole batch matrix X [batch x in_dim] (length
 *    batch in_dim, one c_0; rows beyond a short batch are zero) under a
 *    fourth mpk; the forward key "w_j on sample b" has support (b, .), the
 *    backward key "delta_j on feature k" support (., k). The server learns
 *    the same values as with SAMPLE (W1 x per sample and key, delta1^T X);
 *    it holds one c_0 per batch instead of one per ciphertext and builds a
 *    fixed-base table for it. Key requests name the support (KEYS_SUP).
 */
#define HENN_CRYPTONN_LAYOUT_SAMPLE 0u
#define HENN_CRYPTONN_LAYOUT_BATCH 1u

/* henn_cryptonn_params_default: x_scale 255, fw 10, w_bits 14 (|w| < 16),
 * d_bits 15, fl 10, layout SAMPLE, with the given shapes. */
HENN_API void henn_cryptonn_params_default(henn_cryptonn_params *p, uint32_t in_dim,
                                           uint32_t batch, uint32_t classes);

/* henn_cryptonn_params_check: 0 if every field is in range (layout 0 or
 * 1; for BATCH batch x in_dim <= HENN_FE_MAX_N) and the dlog bound is
 * below 2^40, else HENN_EPARAM. */
HENN_API HENN_NODISCARD int henn_cryptonn_params_check(const henn_cryptonn_params *p);

/* henn_cryptonn_dlog_bound: the worst-case |inner product| of a run,
 * max(in_dim x_scale 2^w_bits, batch x_scale 2^d_bits, 2^(fl+1)). */
HENN_API uint64_t henn_cryptonn_dlog_bound(const henn_cryptonn_params *p);

/* Work and time counters of a party (seconds are wall-clock). */
typedef struct henn_cryptonn_stats {
    uint64_t samples, batches, encryptions, keys_ip, keys_bo, decryptions_ip, decryptions_bo;
    uint64_t max_abs_ip;  /* largest |value| decrypted (FEIP and FEBO) */
    double t_encrypt;     /* client: encryption and serialisation */
    double t_keys;        /* server: key requests, round trip incl. derivation */
    double t_derive;      /* authority: key derivation */
    double t_parse;       /* server: deserialising ciphertexts and keys */
    double t_decrypt;     /* server: FEIP and FEBO decryption incl. dlog (the discrete
                           * logarithms are solved in batches inside the decryption:
                           * `henn bench fe` times them alone) */
    double t_plain;       /* server: quantisation and plaintext layers */
} henn_cryptonn_stats;

/* ---------------------------------------------------------------- */
/* Authority                                                         */

typedef struct henn_cryptonn_authority henn_cryptonn_authority;

/* Which scheme a key is for. */
enum { HENN_CRYPTONN_SAMPLE = 0, HENN_CRYPTONN_COLUMN = 1, HENN_CRYPTONN_LABEL = 2 };
/* BATCH layout keys: a row of W1 on sample b (support (b, .)), a column of
 * delta1 on feature k (support (., k)); the log's op is then b or k. */
enum { HENN_CRYPTONN_BATCH_ROW = 3, HENN_CRYPTONN_BATCH_COL = 4 };
/* LeNet-5 keys (KEYS_CONV, BATCH layout): a 5 x 5 filter on one patch (op
 * = image x P + patch, y the 25 filter values), a delta1 map on the
 * shifted positions of kernel offset (u, v) (op = 5 u + v, y the rows x P
 * map values). */
enum { HENN_CRYPTONN_CONV_PATCH = 5, HENN_CRYPTONN_CONV_SHIFT = 6 };

/* Called for every key the authority derives: scheme (above), op (FEBO op,
 * the support index b or k for BATCH_ROW / BATCH_COL, else 0), the key
 * vector y [n] (valid during the call). */
typedef void (*henn_cryptonn_log_fn)(void *user, int scheme, int op, const int64_t *y,
                                     size_t n);

/*
 * henn_cryptonn_authority_new: the three setups for p (FEIP n = in_dim,
 * X = x_scale, Y = 2^w_bits; FEIP n = batch, X = x_scale, Y = 2^d_bits;
 * FEBO X = 2^fl, Y = 2^fl), and for the BATCH layout a fourth (FEIP n =
 * batch in_dim, X = x_scale, Y = 2^max(w_bits, d_bits); each support key
 * is still checked against its own bound, 2^w_bits for rows and 2^d_bits
 * for columns). Errors: HENN_EINVAL, HENN_EPARAM, HENN_ENOMEM,
 * HENN_ERNG.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_authority_new(henn_cryptonn_authority **a,
                                                        const henn_cryptonn_params *p);
/* henn_cryptonn_authority_free: wipe the msks and free (NULL allowed). */
HENN_API void henn_cryptonn_authority_free(henn_cryptonn_authority *a);
/* henn_cryptonn_authority_set_threads: key-derivation threads for KEYS_CONV
 * and KEYS_SUP requests (0 or 1: the calling thread; at most 16; default 1).
 * The log callback is always called from the calling thread, in key order. */
HENN_API void henn_cryptonn_authority_set_threads(henn_cryptonn_authority *a, unsigned threads);
/* henn_cryptonn_authority_set_log: install the key log (NULL: none). */
HENN_API void henn_cryptonn_authority_set_log(henn_cryptonn_authority *a,
                                              henn_cryptonn_log_fn fn, void *user);
/*
 * henn_cryptonn_authority_handle: answer one request (MPK, KEYS_IP,
 * KEYS_BO). *resp is malloc'd. A malformed or refused request gets an
 * error response carrying the code (HENN_EFORMAT, HENN_ERANGE for a key
 * vector outside the scheme's Y, HENN_EINVAL). Returns 0 or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_authority_handle(henn_cryptonn_authority *a,
                                                           const uint8_t *req, size_t req_len,
                                                           uint8_t **resp, size_t *resp_len);
HENN_API void henn_cryptonn_authority_stats(henn_cryptonn_stats *s,
                                            const henn_cryptonn_authority *a);
/* henn_transport_to_cryptonn_authority: loopback transport to a. */
HENN_API void henn_transport_to_cryptonn_authority(henn_transport *t,
                                                   henn_cryptonn_authority *a);

/* ---------------------------------------------------------------- */
/* Client                                                            */

typedef struct henn_cryptonn_client henn_cryptonn_client;

/*
 * henn_cryptonn_client_new: fetch and check the public keys and parameters
 * from the authority. threads: encryption threads (0: 2). Errors:
 * HENN_EINVAL, HENN_ENOMEM, HENN_EPROTO (an error response), HENN_EFORMAT
 * (a malformed response), transport errors.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_client_new(henn_cryptonn_client **c,
                                                     henn_transport *to_authority,
                                                     unsigned threads);
HENN_API void henn_cryptonn_client_free(henn_cryptonn_client *c);
/* henn_cryptonn_client_params: the parameters the authority sent. */
HENN_API const henn_cryptonn_params *henn_cryptonn_client_params(const henn_cryptonn_client *c);

/*
 * henn_cryptonn_client_send_batch: encrypt rows (1..batch) samples of X
 * [rows x in_dim] (values in [0, 1]) with labels y [rows] (< classes) and
 * send them; the server trains one step on them. loss (optional): the
 * server's batch loss. Errors: HENN_EINVAL, HENN_ERANGE (a value outside
 * [0, 1], before anything is sent), HENN_EPROTO (the server refused: its
 * code is in *server_rc when given), transport errors.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_client_send_batch(henn_cryptonn_client *c,
                                                            henn_transport *to_server,
                                                            const float *X, const uint8_t *y,
                                                            size_t rows, double *loss,
                                                            int *server_rc);
/*
 * henn_cryptonn_client_train_epoch: one epoch: the contiguous chunks of
 * `batch` rows of X, sent in henn_nn_batch_order(seed) order (the order the
 * plaintext twin uses). progress counts rows. Errors as send_batch.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_client_train_epoch(
    henn_cryptonn_client *c, henn_transport *to_server, const float *X, const uint8_t *y,
    size_t rows, uint64_t seed, henn_progress_fn progress, void *user, double *loss,
    int *server_rc);
HENN_API void henn_cryptonn_client_stats(henn_cryptonn_stats *s, const henn_cryptonn_client *c);

/* ---------------------------------------------------------------- */
/* Server                                                            */

typedef struct henn_cryptonn_server henn_cryptonn_server;

/*
 * henn_cryptonn_server_new: the training server with a copy of model
 * (dims[0] must be in_dim, dims[L] classes, output softmax), optimiser nn
 * (max_rows is set to batch), the transport to the authority (kept; must
 * outlive s), fetching the mpks. dlog_table: the baby-step table size T
 * (0: min(bound, 2^22)). threads: decryption threads (0: 2).
 * Errors: HENN_EINVAL (shapes), HENN_ENOMEM, HENN_EPROTO, HENN_EFORMAT,
 * transport errors.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_server_new(henn_cryptonn_server **s,
                                                     const henn_nn_model *model,
                                                     const henn_nn_opts *nn,
                                                     henn_transport *to_authority,
                                                     uint64_t dlog_table, unsigned threads);
HENN_API void henn_cryptonn_server_free(henn_cryptonn_server *s);
/*
 * henn_cryptonn_server_handle: one client request (BATCH): parse and check
 * every ciphertext, then one training step. Error responses carry
 * HENN_EFORMAT (malformed), HENN_EINVAL (shape), HENN_ERANGE (a weight
 * outside 2^w_bits, or a decrypted value outside the bound: the run must
 * stop), HENN_EPROTO (the authority refused). Returns 0 or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_server_handle(henn_cryptonn_server *s,
                                                        const uint8_t *req, size_t req_len,
                                                        uint8_t **resp, size_t *resp_len);
/* henn_cryptonn_server_model: the model being trained (read-only). */
HENN_API const henn_nn_model *henn_cryptonn_server_model(const henn_cryptonn_server *s);
HENN_API void henn_cryptonn_server_stats(henn_cryptonn_stats *s, const henn_cryptonn_server *srv);
/* henn_transport_to_cryptonn_server: loopback transport to s. */
HENN_API void henn_transport_to_cryptonn_server(henn_transport *t, henn_cryptonn_server *s);

/*
 * What the server saw in its last batch (for leakage audits; pointers into
 * the server, valid until its next batch):
 *  z1:   [rows x hidden] decrypted W1_q x_q (before scaling and bias)
 *  wq:   [hidden x in_dim] the quantised W1 its forward keys were for
 *  dq:   [batch x hidden] the quantised delta1 its backward keys were for
 *        (rows beyond `rows` are zero), fd its exponent
 *  g:    [hidden x in_dim] decrypted dq^T X_q
 *  febo: [rows x classes] decrypted FEBO sub results 2^fl y - yhat_q
 *  yq:   [rows x classes] the yhat_q it asked keys for
 */
typedef struct henn_cryptonn_view {
    size_t rows, batch, hidden, in_dim, classes;
    int fd;
    const int64_t *z1, *wq, *dq, *g, *febo, *yq;
} henn_cryptonn_view;
HENN_API void henn_cryptonn_server_view(henn_cryptonn_view *v, const henn_cryptonn_server *s);

/*
 * henn_cryptonn_twin_step: the plaintext twin of one server step: the same
 * quantisation and integer products as the encrypted run, without
 * encryption, on trainer t of model m (m->dims[0] = in_dim, the model t
 * was created for). X [rows x in_dim], y [rows]. max_abs (optional, updated): the largest
 * |inner product|. Errors: HENN_EINVAL, HENN_ERANGE (a weight outside
 * 2^w_bits or a value outside [0, 1]), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_twin_step(henn_nn_trainer *t,
                                                    const henn_nn_model *m,
                                                    const henn_cryptonn_params *p,
                                                    const float *X, const uint8_t *y,
                                                    size_t rows, double *loss,
                                                    uint64_t *max_abs);

/* ---------------------------------------------------------------- */
/* LeNet-5 with the encrypted first convolution                      */

/*
 * The server of the encrypted first convolution (henn_cryptonn_lenet),
 * with the same three parties and messages as the MLP (docs/FORMATS.md):
 * the client is a henn_cryptonn_client whose parameters have the BATCH
 * layout: per batch it quantises the 28 x 28 images (x_q = round(255 x))
 * and sends ONE FEIP ciphertext of length batch x 784 (one c_0, rows
 * beyond a short batch zero) and the FEBO ciphertexts of the one-hot
 * labels 2^fl [y == c] (BATCH message). The server decodes them, builds a
 * fixed-base table for c_0 and asks the authority for every key through
 * its henn_transport (KEYS_CONV, KEYS_BO); the authority derives each key
 * from msk and logs each key vector (HENN_CRYPTONN_CONV_PATCH,
 * HENN_CRYPTONN_CONV_SHIFT, HENN_CRYPTONN_LABEL). Everything after conv1
 * runs in plaintext at the server (henn/cnn.h).
 *
 * Keys (KEYS_CONV; henn_feip_derive_key_idx at the authority):
 *  forward, per image b, filter f, output position (oy, ox): y = w_q[f]
 *   (25 values) on the pixels b*784 + (oy + i)*28 + ox + j, i, j < 5;
 *   decrypts z_q[b][f][oy][ox] = sum w_q[f][i][j] x_q[b][oy+i][ox+j]
 *   (6 x 576 keys per image);
 *  labels, per image and class: FEBO sub with yhat_q = round(2^fl yhat)
 *   from the plaintext layers; decrypts 2^fl y_c - yhat_q (the paper's loss
 *   gradient, which gives the server the label: leakage item 3); a result
 *   that is not one-hot is refused (HENN_EPROTO);
 *  backward, per filter f and kernel offset (u, v): y = delta_q[., f, ., .]
 *   (rows x 576 values) on the pixels b*784 + (i + u)*28 + j + v; decrypts
 *   g[f][u][v] = sum_{b,i,j} delta_q[b][f][i][j] x_q[b][i+u][j+v], the
 *   shifted correlation that is dW1 (150 keys per batch).
 * Fixed point: x_q = round(x x_scale), w_q = round(w 2^fw) with |w_q| <=
 * 2^w_bits (else HENN_ERANGE, the run stops), delta_q = round(delta1 2^fd)
 * with fd per batch the largest with |delta_q| <= 2^d_bits (public).
 * Z1 = z_q / (x_scale 2^fw) + b1, dW1 = g / (x_scale 2^fd).
 * Discrete-log bound (henn_cryptonn_lenet_dlog_bound), the worst case of
 * every inner product: max(25 x_scale 2^w_bits, batch 576 x_scale
 * 2^d_bits); a value beyond it is HENN_ERANGE from the decryption.
 * Server's view (henn_cryptonn_lenet_view): every conv1 pre-activation
 * z_q of every image (6 x 576 linear equations in 784 unknown pixels per
 * image, which determine the image: tests/protocol/test_cryptonn_lenet.c
 * solves them exactly), every label, and 150 shifted correlations of the
 * batch with delta1 per batch. The authority sees every filter, every
 * prediction and every delta1 map.
 * The twin (henn_cryptonn_lenet_new, encrypted = 0) computes the same
 * integers in the clear with the same code, so both reach the same weights
 * bit for bit.
 * Model: a henn_cnn_model with in_c 1, first layer conv 5 x 5 valid with
 * 24 x 24 outputs (henn_cnn_model_init_lenet5(pad 0)), classes outputs;
 * p: in_dim 784, batch, classes, x_scale, fw, w_bits, d_bits, fl (layout:
 * BATCH is used).
 * Threads: `threads` worker threads (0: 2) for decoding and decryption
 * (and, in the all-in-one object, encryption and key derivation); one
 * thread per object.
 */
typedef struct henn_cryptonn_lenet henn_cryptonn_lenet;

/* max(25 x_scale 2^w_bits, batch 576 x_scale 2^d_bits); 0 for bits > 24. */
HENN_API uint64_t henn_cryptonn_lenet_dlog_bound(const henn_cryptonn_params *p);

/*
 * henn_cryptonn_lenet_new: a copy of model and a trainer with o (max_rows
 * set to p->batch). encrypted = 0: the plaintext twin. encrypted != 0: the
 * three parties in one object for convenience: an authority for p with
 * the BATCH layout (its FEIP setup of n = batch x 784, X = x_scale, Y =
 * 2^max(w_bits, d_bits), FEBO, `threads` derivation threads), a client
 * and the server (henn_cryptonn_lenet_server_new, dlog table of T =
 * dlog_table baby steps, 0: 2^22, at most the bound), which talk only
 * through loopback henn_transports; henn_cryptonn_lenet_step then sends
 * the batch through the client.
 * Errors: HENN_EINVAL (shapes, params, bound >= 2^40), HENN_ENOMEM,
 * HENN_ERNG, HENN_EPARAM.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_lenet_new(henn_cryptonn_lenet **L,
                                                    const henn_cnn_model *model,
                                                    const henn_nn_opts *o,
                                                    const henn_cryptonn_params *p,
                                                    uint64_t dlog_table, unsigned threads,
                                                    int encrypted);
/*
 * henn_cryptonn_lenet_server_new: the server alone: fetches the parameters
 * and public keys from the authority (they must have the BATCH layout, in_dim
 * 784 = the model's image, the model's class count), keeps to_authority
 * (must outlive L) for its key requests, builds the dlog table (T =
 * dlog_table, 0: 2^22). Driven by henn_cryptonn_lenet_handle (BATCH
 * messages of a henn_cryptonn_client). Errors: HENN_EINVAL (shapes, a
 * parameter set it cannot serve), HENN_ENOMEM, HENN_EPROTO, HENN_EFORMAT
 * (malformed MPK response), transport errors.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_lenet_server_new(henn_cryptonn_lenet **L,
                                                           const henn_cnn_model *model,
                                                           const henn_nn_opts *o,
                                                           henn_transport *to_authority,
                                                           uint64_t dlog_table,
                                                           unsigned threads);
HENN_API void henn_cryptonn_lenet_free(henn_cryptonn_lenet *L);
/*
 * henn_cryptonn_lenet_handle: one client request (BATCH): parse and check
 * the ciphertexts, then one training step with the keys from the
 * authority. *resp is malloc'd: BATCH_RESP with the loss, or an error
 * response with HENN_EFORMAT (malformed; a key response of the wrong count
 * or length), HENN_EINVAL (rows 0 or beyond the batch), HENN_ERANGE (a
 * weight beyond 2^w_bits, or a decrypted value outside the bound: what a
 * key for another vector gives), HENN_EPROTO (the authority refused, or a
 * label that is not one-hot). Returns 0, HENN_EINVAL (L not a server) or
 * HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_lenet_handle(henn_cryptonn_lenet *L,
                                                       const uint8_t *req, size_t req_len,
                                                       uint8_t **resp, size_t *resp_len);
/* henn_transport_to_cryptonn_lenet: loopback transport to the server L. */
HENN_API void henn_transport_to_cryptonn_lenet(henn_transport *t, henn_cryptonn_lenet *L);
/* henn_cryptonn_lenet_authority: the authority inside an all-in-one
 * encrypted object (for its log and stats), else NULL. */
HENN_API henn_cryptonn_authority *henn_cryptonn_lenet_authority(henn_cryptonn_lenet *L);
/*
 * henn_cryptonn_lenet_step: one training step on X [rows x 784] (values
 * in [0, 1]), labels y [rows] (< classes), 1 <= rows <= batch. loss
 * (optional). For an all-in-one encrypted object the client encrypts and
 * sends the batch; the server's refusal code is returned as such.
 * Errors: HENN_EINVAL (also: a server made by _server_new), HENN_ERANGE (a
 * pixel outside [0, 1], a weight beyond 2^w_bits, a decrypted value beyond
 * the bound), HENN_EPROTO, HENN_ENOMEM, HENN_ERNG.
 */
HENN_API HENN_NODISCARD int henn_cryptonn_lenet_step(henn_cryptonn_lenet *L, const float *X,
                                                     const uint8_t *y, size_t rows,
                                                     double *loss);
/* henn_cryptonn_lenet_model: the model being trained (read-only). */
HENN_API const henn_cnn_model *henn_cryptonn_lenet_model(const henn_cryptonn_lenet *L);
/* Counters: t_encrypt (client, incl. serialisation; all-in-one only),
 * t_keys (server: key requests, round trip incl. derivation), t_derive
 * (authority; all-in-one only), t_parse (server: decoding ciphertexts and
 * keys, c_0 table), t_decrypt (server decryptions incl. dlog), t_plain
 * (plaintext layers); max_abs_ip the largest |value| decrypted so far. */
HENN_API void henn_cryptonn_lenet_stats(henn_cryptonn_stats *s, const henn_cryptonn_lenet *L);

/* The server's view of the last batch (pointers valid until the next
 * step): zq [rows x filters x patches] conv1 inner products, wq [filters x
 * 25] the filters of its forward keys, dq [batch x filters x patches] the
 * delta1 of its backward keys (exponent fd), g [filters x 25] decrypted,
 * febo [rows x classes] the decrypted FEBO sub results 2^fl y - yq and yq
 * [rows x classes] the predictions its FEBO keys were for. */
typedef struct henn_cryptonn_conv_view {
    size_t rows, filters, patches, classes;
    int fd, fl;
    const int64_t *zq, *wq, *dq, *g, *febo, *yq;
} henn_cryptonn_conv_view;
HENN_API void henn_cryptonn_lenet_view(henn_cryptonn_conv_view *v,
                                       const henn_cryptonn_lenet *L);

#ifdef __cplusplus
}
#endif
#endif
