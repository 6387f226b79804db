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
 * network transport later. Every ciphertext a party sends is fresh: the
 * owner's are new encryptions (DJN noise h_s^a), the trainer's results
 * are multiplied by a fresh r^n with r uniform in Z*_n (distributed as
 * fresh encryptions even to the key holder).
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
 * round(w 2^fw) with |w_q| < 2^(fw+wi), used as exponents w_q + 2^(fw+wi)
 * in [1, 2^(fw+wi+1)) (at most 32 bits) and the offset removed with one
 * inverse per batch. henn_proto_params_check accepts only parameters
 * whose worst case fits every intermediate. Weights and gradients that
 * leave the range give HENN_ERANGE at the trainer, never a wrapped
 * result. In encrypted inference the owner clamps activations outside
 * [-2^ai, 2^ai] and counts them (henn_proto_stats.out_of_range) instead of
 * stopping, so that the number and sizes of the rounds do not depend on
 * the values.
 *
 * Limits: the trainer refuses keys, row counts and stored ciphertexts
 * above henn_trainer_limits (a peer cannot make it allocate or compute
 * more than those allow); the owner refuses responses whose sizes differ
 * from what it asked for (class count, layer numbers) and can cap the
 * ciphertexts it decrypts for the trainer (henn_owner_set_decrypt_budget).
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
 * henn_proto_params_check: HENN_EPARAM unless the parameters are in the
 * ranges of henn_proto_params, the offset exponents w_q + 2^(fw+wi) fit
 * fw + wi + 1 <= 32 bits, every sum of terms products w_q x_q plus a bias
 * (terms = max(max_dim, slots) <= HENN_NN_MAX_DIM) fits a balanced slot of
 * slot_bits <= 62 bits, and slots * slot_bits <= n_bits - 2. Every
 * accepted combination is representable in its worst case (checked
 * exhaustively by test_protocol).
 */
HENN_API HENN_NODISCARD int henn_proto_params_check(const henn_proto_params *p, size_t max_dim,
                                                    size_t n_bits);

/*
 * henn_proto_training_decryptions: the number of ciphertexts an honest
 * trainer asks the owner to decrypt when training `epochs` epochs on
 * `rows` rows of width dim with a first hidden layer of `hidden` units:
 * epochs * ceil(rows / slots) * hidden * (1 + ceil(dim / per_ct)) with
 * per_ct = (n_bits - 2) / slot_bits. Use it as the owner's decryption
 * budget. Returns 0, HENN_EINVAL (a zero count, n_bits too small) or
 * HENN_ERANGE (the count overflows 64 bits).
 */
HENN_API HENN_NODISCARD int henn_proto_training_decryptions(uint64_t *count,
                                                            const henn_proto_params *p,
                                                            size_t n_bits, size_t rows,
                                                            size_t dim, size_t hidden,
                                                            size_t epochs);

/* Traffic and work counters of a party. out_of_range (owner only, never
 * sent): inference values the owner clamped to [-2^ai, 2^ai], or slots it
 * could not unpack and replaced by 0, instead of stopping the protocol. */
typedef struct henn_proto_stats {
    uint64_t encryptions, decryptions, homomorphic_outputs, messages, out_of_range;
} henn_proto_stats;

typedef struct henn_owner henn_owner;
typedef struct henn_trainer henn_trainer;

/*
 * henn_owner_new: the data owner with a copy of sk (wiped on free). It
 * precomputes DJN fixed-base tables for fast encryption: as the key
 * holder, tables of h_s modulo p^2 and q^2 (8-bit digits, pairs on the
 * AVX-512 IFMA engine; 2 x 10.4 MB at n = 2048, wiped on free: they
 * reveal p and q), or, where that engine does not run, the public table
 * modulo n^2 (66 MB at n = 2048). Both give the same ciphertexts for the
 * same randomness; timing of encryption depends on the DJN exponents
 * (table rows), never on p and q.
 *  opts: threads for bulk encryption/decryption (NULL: all cores) and an
 *        optional progress callback for henn_owner_upload().
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_owner_new(henn_owner **o, const henn_paillier_sk *sk,
                                           const henn_batch_opts *opts);
/* henn_owner_free: wipe the key copy and release o (NULL is allowed). */
HENN_API void henn_owner_free(henn_owner *o);

/*
 * henn_owner_set_decrypt_budget: refuse (HENN_EPROTO) DECRYPT requests
 * that would take the ciphertexts decrypted for the trainer beyond max in
 * total (0 = no limit, the default). The owner decrypts any valid
 * ciphertext it is sent (it cannot tell a masked value from a stored
 * row), so the budget is its only bound on this decryption oracle; set it
 * to henn_proto_training_decryptions(). Decryptions in henn_owner_infer
 * do not count against it.
 */
HENN_API void henn_owner_set_decrypt_budget(henn_owner *o, uint64_t max);

/*
 * henn_owner_resume_decrypt_budget: the budget of an owner restarted in
 * the middle of a job (a client killed and resumed): max in total, as
 * for henn_owner_set_decrypt_budget, of which used ciphertexts were
 * decrypted before the restart (henn_svc_answers_decrypted of the
 * restored record). With max != 0 and used >= max the budget is spent:
 * the owner refuses every DECRYPT request (HENN_EPROTO, sent as an ERROR
 * message) and decrypts nothing. henn_owner_set_decrypt_budget cannot say
 * that (its 0 means no limit). The owner's stats (decryptions) still
 * count this process's decryptions only.
 * henn_owner_decrypt_left: the ciphertexts the owner will still decrypt
 * for DECRYPT requests (0: the budget is spent; UINT64_MAX: no budget).
 * Not thread-safe (one thread per owner).
 */
HENN_API void henn_owner_resume_decrypt_budget(henn_owner *o, uint64_t max, uint64_t used);
HENN_API uint64_t henn_owner_decrypt_left(const henn_owner *o);

/* henn_owner_stats: the owner's counters. */
HENN_API void henn_owner_stats(henn_proto_stats *s, const henn_owner *o);

/*
 * henn_owner_upload: encrypt rows of X [rows x dim] (values in [0, 1]) and
 * send them with the labels y [rows] to the trainer: SETUP, then one DATA
 * message per batch of p->slots rows (rows in the given order). Progress
 * counts rows. Returns 0, HENN_EINVAL, HENN_ERANGE (a value with
 * |x| > 2^ai, found before anything is sent), HENN_EPARAM (p unsafe for dim), HENN_EPROTO (the trainer
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
 * henn_owner_infer: encrypted inference of X [rows x dim] (|x| <= 2^ai)
 * on the trainer's model, which must have `classes` outputs
 * (1..256). pred [rows] gets the argmax class; scores (optional)
 * [rows x classes] the decrypted logits. p->slots records per round.
 * The owner's messages do not depend on the values: a hidden activation
 * outside [-2^ai, 2^ai] is clamped, a slot that does not unpack is read as
 * 0, both counted in henn_owner_stats().out_of_range, and every round
 * runs (a result computed from clamped values is still returned: check
 * the count). Returns 0, HENN_EINVAL (bad arguments, classes 0 or > 256),
 * HENN_ERANGE (an input with |x| > 2^ai, before anything is sent),
 * HENN_EPARAM, HENN_EPROTO (the trainer's response does not match the
 * request: another class count, layer number or ciphertext count, more
 * than HENN_NN_MAX_LAYERS layers or HENN_NN_MAX_DIM units), or a
 * transport error.
 */
HENN_API HENN_NODISCARD int henn_owner_infer(henn_owner *o, henn_transport *to_trainer,
                                             const henn_proto_params *p, const float *X,
                                             size_t rows, size_t dim, size_t classes,
                                             uint8_t *pred, float *scores);

/*
 * henn_trainer_new: the model service with a copy of model. nn: optimiser
 * options for training (NULL for inference only; nn->max_rows is
 * replaced by the batch size from SETUP). opts: threads for the
 * homomorphic work. The trainer has no secret key and no way to get one.
 * Unless opts asks for one thread (or the machine has one CPU), the
 * trainer's first INFER starts one background thread that draws the
 * re-randomisation noise r^n of inference ahead of time, while the
 * trainer waits for the owner (at most 128 values, 64 KB at n = 2048;
 * each used once, wiped on free; training never uses it);
 * henn_trainer_free stops it. Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_trainer_new(henn_trainer **t, const henn_nn_model *model,
                                             const henn_nn_opts *nn,
                                             const henn_batch_opts *opts);
/* henn_trainer_free: release t and its stored ciphertexts (NULL is allowed). */
HENN_API void henn_trainer_free(henn_trainer *t);

/*
 * What a SETUP message may make the trainer allocate and compute. A 1 KB
 * SETUP names the key size and the row count. (The trainer builds no
 * fixed-base table: its masks use fresh r^n; the table an 8192-bit n
 * would have needed is ~0.9 GB.)
 *  max_key_bits: largest n accepted, 2048..HENN_PAILLIER_MAX_BITS (default
 *                4096); a larger n: HENN_EPARAM. The trainer's work per
 *                ciphertext grows faster than n_bits^2.
 *  max_rows:     rows of a training upload, 1..2^24 (default 2^20 =
 *                1,048,576; the bundled KDD 10% set has 494,021); more:
 *                HENN_EINVAL.
 *  max_stored:   stored ciphertexts of each packing, 1..2^26 (default 2^22);
 *                more: HENN_EINVAL. SETUP reserves zeroed slots (16 bytes
 *                each, untouched); each DATA message initialises its own
 *                group's, so memory follows the data actually sent.
 */
typedef struct henn_trainer_limits {
    size_t max_key_bits, max_rows, max_stored;
} henn_trainer_limits;

/* henn_trainer_limits_default: the defaults above. */
HENN_API void henn_trainer_limits_default(henn_trainer_limits *l);

/*
 * henn_trainer_set_limits: replace t's limits (applies to later SETUP
 * messages). Returns 0 or HENN_EINVAL (a field outside its range).
 */
HENN_API HENN_NODISCARD int henn_trainer_set_limits(henn_trainer *t,
                                                    const henn_trainer_limits *l);

/*
 * henn_trainer_handle: serve one request from the owner (SETUP, DATA,
 * INFER). *resp is malloc'd. A SETUP beyond the trainer's limits is
 * refused: keys under 2048 bits or above max_key_bits with HENN_EPARAM,
 * more than max_rows rows or max_stored ciphertexts with HENN_EINVAL.
 * Returns 0 (errors travel as error responses) or HENN_ENOMEM.
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

/*
 * ---- Private training (issue 11, section 1) ----
 *
 * A training protocol in which the model service never sees a value of
 * an individual row. Per batch of c rows (c >= dim + 1, rows drawn afresh
 * every epoch from a seeded permutation of the owner's rows):
 *  1. the owner encrypts the batch feature-major in ceil(c / p->slots)
 *     chunks (chunk k holds rows k slots .. min(c, (k + 1) slots) - 1; one
 *     ciphertext per feature and chunk, one slot per row; fresh DJN noise)
 *     and sends INFER for layer 0, as in encrypted inference except that
 *     the row count may exceed p->slots (then the message carries every
 *     chunk: docs/FORMATS.md);
 *  2. the trainer returns E(W_l a + b_l) per chunk (CIPHER); the owner
 *     decrypts it, applies the activation, re-encrypts and asks for layer
 *     l + 1; the last layer's logits are decrypted and kept by the owner;
 *  3. the owner forms the output error with its own labels and
 *     back-propagates in double precision from the values it holds (x,
 *     the activations it encrypted, the decrypted logits) and the current
 *     weights, which the trainer sent it (PMODEL): it sends ONE message per
 *     batch with the SUMS over all c rows (every chunk) of every layer's
 *     weight and bias gradients (PGRAD);
 *  4. the trainer divides by c and applies its optimiser (henn_nn_update),
 *     and answers with the updated weights (PMODEL).
 * Within an epoch, a batch's PGRAD and the next batch's layer-0 INFER go
 * as one message (PSTEP, below), one round trip less per batch; an
 * epoch's last batch ends with a plain PGRAD.
 * The trainer receives: n and the fixed-point parameters (PSETUP),
 * ciphertexts (INFER), and batch-summed gradients (PGRAD). No labels, no
 * per-row value. The owner learns the model (as in encrypted inference).
 * docs/THREAT_MODEL.md ("Private training") says what batch gradients
 * still reveal. Messages: docs/FORMATS.md conventions (header "HNP\x01",
 * type, length), types HENN_MSG_PSETUP, HENN_MSG_PGRAD, HENN_MSG_PMODEL,
 * HENN_MSG_PSTEP, HENN_MSG_PSTEPR below plus INFER/CIPHER as in inference
 * (with chunks).
 *
 * Rules both sides enforce: a batch (and a gradient) covers at least
 * henn_private_min_batch(dim) = dim + 1 rows (one row alone gives
 * x = dW1[h] / db1[h]; with fewer rows than dim + 1 the first layer's
 * summed gradient is a rank-deficient system the trainer can still
 * attack), however many ciphertext chunks it spans; the trainer accepts a
 * PGRAD only after a complete forward pass of the same row count; the
 * owner decrypts at most the honest count
 * (henn_private_training_decryptions).
 */
#define HENN_MSG_PSETUP 8
#define HENN_MSG_PGRAD 9
#define HENN_MSG_PMODEL 10
/*
 * One round trip less per batch: a batch's PGRAD and the NEXT batch's
 * layer-0 INFER travel as one message. PSTEP (owner -> trainer): u32 g,
 * then a whole PGRAD message of g bytes (header included), then a whole
 * INFER message for layer 0 (the rest; nothing else). The trainer serves
 * them in that order, exactly as if they came one by one (the INFER uses
 * the weights the PGRAD just set), and answers PSTEPR: u32 m, a PMODEL
 * message of m bytes, then the INFER's CIPHER message. A refusal of
 * either part answers the whole PSTEP with that part's error (a PGRAD
 * already applied stays applied, as when the two come one by one). The
 * trainer learns nothing it would not learn from the two messages sent
 * separately. The owner sends PSTEP between two batches of one epoch;
 * an epoch's last batch ends with a plain PGRAD.
 */
#define HENN_MSG_PSTEP 11
#define HENN_MSG_PSTEPR 12

/* henn_private_min_batch: the fewest rows a private-training batch may
 * have for inputs of width dim (dim + 1). */
HENN_API size_t henn_private_min_batch(size_t dim);

/*
 * henn_private_training_decryptions: the ciphertexts an honest trainer
 * makes the owner decrypt in `epochs` epochs of private training on
 * `rows` rows with batches of `batch` rows packed `slots` rows per
 * ciphertext, layer widths dims[0 .. layers]: epochs * (dims[1] + ... +
 * dims[layers]) * the chunks of one epoch, where an epoch has
 * floor(rows / batch) batches of ceil(batch / slots) chunks, plus the
 * tail of rows % batch rows in ceil(tail / slots) chunks when it has at
 * least dims[0] + 1 rows (else those rows sit the epoch out; the next
 * epoch's permutation draws another tail); rows < batch is one batch of
 * all rows. Returns 0, HENN_EINVAL (a zero argument, layers >
 * HENN_NN_MAX_LAYERS, batch < dims[0] + 1 or rows < dims[0] + 1),
 * HENN_ERANGE (overflow).
 */
HENN_API HENN_NODISCARD int henn_private_training_decryptions(uint64_t *count, const size_t *dims,
                                                              size_t layers, size_t rows,
                                                              size_t batch, size_t slots,
                                                              size_t epochs);

/*
 * henn_private_train_plain: the plaintext twin of private training:
 * `epochs` epochs on exactly the batches henn_owner_train_private visits
 * with the same rows, batch and seed (epoch e: the rows in
 * henn_nn_batch_order(rows, seed + e) order, cut into batches of `batch`
 * rows; a tail under dim + 1 rows sits the epoch out), each a
 * henn_nn_train_batch step of nt (whose max_rows must be >= batch).
 * X [rows x dim] (dim = nt's input width), y [rows]. loss (optional): the
 * last epoch's mean training loss. Returns 0, HENN_EINVAL (as
 * henn_owner_train_private, or batch > max_rows), HENN_ENOMEM.
 * Thread safety: uses only its arguments.
 */
HENN_API HENN_NODISCARD int henn_private_train_plain(henn_nn_trainer *nt, const float *X,
                                                     const uint8_t *y, size_t rows, size_t dim,
                                                     size_t batch, size_t epochs, uint64_t seed,
                                                     double *loss);

/* Per-epoch report of private training (owner side). loss: mean
 * training loss over the epoch's rows, from the decrypted logits;
 * model: the weights the trainer sent after the epoch's last step (owned
 * by the library, valid during the call). Return nonzero to stop (the
 * value is returned by henn_owner_train_private). */
typedef int (*henn_private_epoch_fn)(void *user, size_t epoch, double loss,
                                     const henn_nn_model *model);

/*
 * henn_owner_train_private: the owner's whole side of private training.
 * sk: the owner's key (copied, with a DJN table; wiped on return).
 * p: fixed point; p->slots rows per ciphertext chunk.
 * X [rows x dim] (|x| <= 2^p->ai), y [rows] labels < classes: they never
 * leave the function except as the batch gradient sums described above.
 * batch: rows per batch (and per gradient), dim + 1 .. 2^20; a batch
 * spans ceil(batch / p->slots) ciphertexts per feature.
 * epochs >= 1; seed: the row permutation of epoch e is
 * henn_nn_batch_order(rows, seed + e) (henn_private_train_plain replays
 * it). opts: threads (NULL: all cores). cb (optional) after every epoch.
 * stats (optional): the owner's counters.
 * Returns 0, HENN_EINVAL (bad arguments, batch < dim + 1, rows < dim + 1),
 * HENN_ERANGE (an input beyond 2^ai, before anything is sent), HENN_EPARAM,
 * HENN_EPROTO (a response that does not match the request, a model
 * of other input or class width, or later one of another architecture
 * (layers, widths, activations, output rule) than the first, non-finite or
 * out-of-range weights, more decryptions than the honest count), a
 * transport error or cb's value.
 * Thread safety: uses only its arguments.
 */
HENN_API HENN_NODISCARD int henn_owner_train_private(henn_transport *to_trainer,
                                                     const henn_paillier_sk *sk,
                                                     const henn_proto_params *p, const float *X,
                                                     const uint8_t *y, size_t rows, size_t dim,
                                                     size_t classes, size_t batch, size_t epochs,
                                                     uint64_t seed, const henn_batch_opts *opts,
                                                     henn_private_epoch_fn cb, void *user,
                                                     henn_proto_stats *stats);

/* The largest private-training batch (rows) either side accepts. */
#define HENN_PRIVATE_MAX_BATCH ((size_t)1 << 20)

typedef struct henn_private_trainer henn_private_trainer;

/*
 * henn_private_trainer_new: the model service of private training with a
 * copy of model (trained in place) and optimiser options nn (required;
 * max_rows is ignored). opts: threads for the homomorphic layers.
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_private_trainer_new(henn_private_trainer **t,
                                                     const henn_nn_model *model,
                                                     const henn_nn_opts *nn,
                                                     const henn_batch_opts *opts);
/* henn_private_trainer_free: release t (NULL is allowed). */
HENN_API void henn_private_trainer_free(henn_private_trainer *t);

/*
 * henn_private_trainer_set_rerandomize: when on, every CIPHER the trainer
 * returns is multiplied by a fresh r^n (as encrypted inference does).
 * Off by default: in this protocol the owner is sent the weights, and a
 * homomorphic result's randomness reveals only the exponents used (the
 * weights), so the 8-lane r^n per output buys no secrecy here; see
 * docs/THREAT_MODEL.md. henn_private_trainer_set_limits: as
 * henn_trainer_set_limits (max_key_bits applies). Returns 0/HENN_EINVAL.
 */
HENN_API void henn_private_trainer_set_rerandomize(henn_private_trainer *t, int on);
HENN_API HENN_NODISCARD int henn_private_trainer_set_limits(henn_private_trainer *t,
                                                            const henn_trainer_limits *l);

/*
 * henn_private_trainer_handle: serve one request (PSETUP, INFER, PGRAD,
 * PSTEP). *resp is malloc'd. Refusals travel as error responses: a key
 * outside [2048, max_key_bits] bits (HENN_EPARAM), another input or class
 * width or batches under dim + 1 rows or over HENN_PRIVATE_MAX_BATCH
 * (HENN_EINVAL), an INFER or PGRAD out of order or for another row count,
 * a PSTEP before PSETUP or whose INFER is not for layer 0 (HENN_EPROTO), a
 * gradient that is not finite (HENN_ERANGE), malformed input, a PSTEP
 * whose parts are not a whole PGRAD then a whole INFER (HENN_EFORMAT).
 * Returns 0 or HENN_ENOMEM. Thread safety: one call at a time per t.
 */
HENN_API HENN_NODISCARD int henn_private_trainer_handle(henn_private_trainer *t,
                                                        const uint8_t *req, size_t req_len,
                                                        uint8_t **resp, size_t *resp_len);
/* henn_private_trainer_model: the current model (owned by t). */
HENN_API const henn_nn_model *henn_private_trainer_model(const henn_private_trainer *t);
/* henn_private_trainer_stats: the trainer's counters (homomorphic
 * outputs, messages); steps (optional): optimiser steps applied. */
HENN_API void henn_private_trainer_stats(henn_proto_stats *s, uint64_t *steps,
                                         const henn_private_trainer *t);
/* Loopback transport to a private trainer (t must outlive it). */
HENN_API void henn_transport_to_private_trainer(henn_transport *tr, henn_private_trainer *t);

#ifdef __cplusplus
}
#endif

#endif
