/*
 * henn/protocol.h: two-party protocols on Paillier-encrypted data.
 *
 * Parties (separate objects, separate state):
 *  - henn_owner: the data owner. Holds the Paillier secret key and the
 *    plaintext records. Encrypts, decrypts what it is asked to, applies
 *    activations in encrypted inference.
 *  - henn_trainer: the model service. Holds only the public key (it is
 *    built from the owner's SETUP message, which carries n and nothing
 *    else of the key), the ciphertexts, plaintext labels and its model.
 * They exchange only serialised messages (docs/FORMATS.md, "Protocol
 * messages") through a henn_transport: an in-process loopback now, a
 * network transport later. Every ciphertext a party sends is freshly
 * re-randomised (multiplied by a new DJN h_s^a).
 *
 * Protocols (docs/THREAT_MODEL.md says what each party learns):
 *  1. Encrypted-input training (the published KDD system's protocol):
 *     henn_owner_upload() encrypts the training rows once, packed two ways
 *     (feature-major: one ciphertext per feature and batch of `slots`
 *     rows; sample-major: the features of one row); the trainer runs
 *     henn_trainer_train_epoch(). Per batch the trainer computes the
 *     first-layer pre-activations W1 x and the batch-summed gradient
 *     sum_s dZ1_s x_s^T homomorphically (multi-exponentiation with offset
 *     fixed-point weights), adds a uniformly random mask mod n to each
 *     ciphertext, and asks the owner to decrypt. The owner sees uniform
 *     values; the trainer removes the masks and so learns W1 x (+ b1) per
 *     row and the first-layer gradient per batch. Everything after the
 *     first layer runs in plaintext at the trainer; labels are plaintext
 *     at the trainer.
 *  2. Encrypted inference: henn_owner_infer() encrypts records packed
 *     feature-major; the trainer evaluates each dense layer on
 *     ciphertexts; the owner decrypts each layer's pre-activations,
 *     applies the activation and returns a fresh encryption; it decrypts
 *     the logits and takes the argmax. The trainer sees only ciphertexts.
 *
 * Fixed point (henn_proto_params): inputs and activations x_q =
 * round(x 2^fx) with |x| <= 2^ai; weights and per-row gradients w_q =
 * round(w 2^fw) with |w| < 2^wi, used as exponents w_q + 2^(fw+wi) >= 0 and
 * the offset removed with one inverse per batch. Values that leave these
 * ranges give HENN_ERANGE, never a wrapped result.
 *
 * Thread safety: one thread per party object; the parties use
 * opts->threads worker threads internally.
 */
#ifndef HENN_PROTOCOL_H
#define HENN_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"
#include "henn/nn.h"
#include "henn/paillier.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A request/response transport. call() delivers req to the peer and
 * returns its response in *resp (malloc'd, freed by the caller with
 * free()). Returns 0 or a HENN_E* code. The counters are updated by
 * henn_transport_call().
 */
typedef int (*henn_transport_call_fn)(void *ctx, const uint8_t *req, size_t req_len,
                                      uint8_t **resp, size_t *resp_len);
typedef struct henn_transport {
    henn_transport_call_fn call;
    void *ctx;
    uint64_t calls, bytes_sent, bytes_received;
} henn_transport;

/* henn_transport_call: t->call with byte and call counting. */
HENN_API HENN_NODISCARD int henn_transport_call(henn_transport *t, const uint8_t *req,
                                                size_t req_len, uint8_t **resp,
                                                size_t *resp_len);

/* Fixed-point and packing parameters, chosen by the owner, sent in
 * SETUP / inference requests and checked by the trainer. */
typedef struct henn_proto_params {
    uint32_t fx;        /* fractional bits of inputs/activations, 1..24 */
    uint32_t ai;        /* |input| <= 2^ai, 0..16 */
    uint32_t fw;        /* fractional bits of weights and gradients, 1..24 */
    uint32_t wi;        /* |weight| < 2^wi and |per-row gradient| < 2^wi, 0..7 */
    uint32_t slot_bits; /* bits per packed slot */
    uint32_t slots;     /* rows per packed ciphertext = training batch size */
} henn_proto_params;

/*
 * henn_proto_params_default: fx 10, fw 12, wi 6, ai as given, and the
 * smallest safe slot_bits for layers of at most max_dim inputs (and
 * batches of at most 64 rows), slots = min(64, (n_bits - 2) / slot_bits).
 * Returns 0 or HENN_EINVAL (max_dim 0 or too large for n_bits).
 */
HENN_API HENN_NODISCARD int henn_proto_params_default(henn_proto_params *p, size_t max_dim,
                                                      unsigned ai, size_t n_bits);

/*
 * henn_proto_params_check: HENN_EPARAM unless every sum of terms rows of
 * products w_q x_q (terms <= max(max_dim, slots)) fits a balanced slot
 * and slots * slot_bits <= n_bits - 2.
 */
HENN_API HENN_NODISCARD int henn_proto_params_check(const henn_proto_params *p, size_t max_dim,
                                                    size_t n_bits);

/* Traffic and work counters of a party. */
typedef struct henn_proto_stats {
    uint64_t encryptions, decryptions, homomorphic_outputs, messages;
} henn_proto_stats;

typedef struct henn_owner henn_owner;
typedef struct henn_trainer henn_trainer;

/*
 * henn_owner_new: the data owner with a copy of sk (wiped on free). It
 * precomputes the DJN fixed-base table for fast encryption.
 *  opts: threads for bulk encryption/decryption (NULL: all cores) and an
 *        optional progress callback for henn_owner_upload().
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_owner_new(henn_owner **o, const henn_paillier_sk *sk,
                                           const henn_batch_opts *opts);
/* henn_owner_free: wipe the key copy and release o (NULL is allowed). */
HENN_API void henn_owner_free(henn_owner *o);

/*
 * henn_owner_set_decrypt_budget: refuse (HENN_EPROTO) decryption requests
 * beyond max ciphertexts in total (0 = no limit). The owner can compute
 * the honest count: 2 H per batch per epoch for intcode-width inputs.
 */
HENN_API void henn_owner_set_decrypt_budget(henn_owner *o, uint64_t max);

/* henn_owner_stats: the owner's counters. */
HENN_API void henn_owner_stats(henn_proto_stats *s, const henn_owner *o);

/*
 * henn_owner_upload: encrypt rows of X [rows x dim] (values in [0, 1]) and
 * send them with the labels y [rows] to the trainer: SETUP, then one DATA
 * message per batch of p->slots rows (rows in the given order). Progress
 * counts rows. Returns 0, HENN_EINVAL, HENN_ERANGE (a value outside
 * [0, 2^ai]), HENN_EPARAM (p unsafe for dim), HENN_EPROTO (the trainer
 * refused), or a transport error.
 */
HENN_API HENN_NODISCARD int henn_owner_upload(henn_owner *o, henn_transport *to_trainer,
                                              const henn_proto_params *p, const float *X,
                                              const uint8_t *y, size_t rows, size_t dim);

/*
 * henn_owner_handle: serve one request from the trainer (DECRYPT of
 * masked ciphertexts). *resp is malloc'd. Returns 0 (an error response
 * is still a response) or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_owner_handle(henn_owner *o, const uint8_t *req, size_t req_len,
                                              uint8_t **resp, size_t *resp_len);

/*
 * henn_owner_infer: encrypted inference of X [rows x dim] on the
 * trainer's model. pred [rows] gets the argmax class; scores (optional)
 * [rows x classes] the decrypted logits. p->slots records per round.
 * Returns 0, HENN_EINVAL, HENN_ERANGE (an activation outside 2^ai),
 * HENN_EPROTO, or a transport error.
 */
HENN_API HENN_NODISCARD int henn_owner_infer(henn_owner *o, henn_transport *to_trainer,
                                             const henn_proto_params *p, const float *X,
                                             size_t rows, size_t dim, uint8_t *pred,
                                             float *scores);

/*
 * henn_trainer_new: the model service with a copy of model. nn: optimiser
 * options for training (NULL for inference only; nn->max_rows is
 * replaced by the batch size from SETUP). opts: threads for the
 * homomorphic work. The trainer has no secret key and no way to get one.
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_trainer_new(henn_trainer **t, const henn_nn_model *model,
                                             const henn_nn_opts *nn,
                                             const henn_batch_opts *opts);
/* henn_trainer_free: release t and its stored ciphertexts (NULL is allowed). */
HENN_API void henn_trainer_free(henn_trainer *t);

/*
 * henn_trainer_handle: serve one request from the owner (SETUP, DATA,
 * INFER). *resp is malloc'd. A SETUP for more than 2^24 rows (or 2^26
 * stored ciphertexts) is refused with HENN_EINVAL; keys under 2048 bits
 * with HENN_EPARAM. Returns 0 (errors travel as error
 * responses) or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_trainer_handle(henn_trainer *t, const uint8_t *req,
                                                size_t req_len, uint8_t **resp,
                                                size_t *resp_len);

/*
 * henn_trainer_train_epoch: one pass over the uploaded encrypted rows,
 * batches (the upload's groups of p->slots rows) in an order shuffled
 * with seed. progress (optional) counts rows. loss (optional): mean
 * training loss. Returns 0, HENN_EINVAL (nothing uploaded, or built
 * without nn options), HENN_ERANGE (a weight or gradient left the fixed-
 * point range, or a decrypted slot overflowed), HENN_EPROTO, or a
 * transport error.
 */
HENN_API HENN_NODISCARD int henn_trainer_train_epoch(henn_trainer *t, henn_transport *to_owner,
                                                     uint64_t seed, henn_progress_fn progress,
                                                     void *user, double *loss);

/* henn_trainer_model: the trainer's current model (owned by t). */
HENN_API const henn_nn_model *henn_trainer_model(const henn_trainer *t);

/* henn_trainer_stats: the trainer's counters. */
HENN_API void henn_trainer_stats(henn_proto_stats *s, const henn_trainer *t);

/*
 * The trainer's view, for the leakage tests and audits: the first-layer
 * pre-activations Z1 [count x d1] (including b1) it obtained for the rows
 * of the last batch it trained on, and their row count. Valid until the
 * next batch. This is exactly what the protocol reveals to the trainer.
 */
HENN_API const float *henn_trainer_last_z1(const henn_trainer *t, size_t *count);

/*
 * Loopback transports (in-process): calls go straight to the peer's
 * handler. The peer object must outlive the transport.
 */
HENN_API void henn_transport_to_owner(henn_transport *t, henn_owner *o);
HENN_API void henn_transport_to_trainer(henn_transport *t, henn_trainer *tr);

/*
 * Message inspection (tests, audits): the type of a serialised message
 * (HENN_MSG_*), or -1 when the header is malformed.
 */
#define HENN_MSG_ERROR 0
#define HENN_MSG_OK 1
#define HENN_MSG_SETUP 2
#define HENN_MSG_DATA 3
#define HENN_MSG_DECRYPT 4
#define HENN_MSG_PLAIN 5
#define HENN_MSG_INFER 6
#define HENN_MSG_CIPHER 7
HENN_API int henn_msg_type(const uint8_t *msg, size_t msg_len);

/*
 * henn_msg_ciphertexts: for message types that carry ciphertexts (DATA,
 * DECRYPT, INFER, CIPHER), parse msg completely and check every
 * ciphertext against pk (0 < c < n^2, gcd(c, n) = 1); *count gets their
 * number. HENN_EFORMAT for any other type or malformed input, HENN_ERANGE
 * for a ciphertext outside the group.
 */
HENN_API HENN_NODISCARD int henn_msg_ciphertexts(size_t *count, const henn_paillier_pk *pk,
                                                 const uint8_t *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
