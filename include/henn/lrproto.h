/*
 * henn/lrproto.h: logistic regression trained on CKKS-encrypted data, as two
 * parties (a client that owns the data and the key, a server that computes).
 *
 * Parties (separate objects, separate state):
 *  - henn_lr_client: holds the CKKS secret key and the plaintext records.
 *    It encrypts the records once, drives the protocol, refreshes the
 *    encrypted weights between gradient steps and decrypts the result.
 *  - henn_lr_server: holds the CKKS parameters, the relinearisation key, the
 *    Galois keys of the rotations it needs, the encrypted records (features
 *    and labels) and the encrypted weights. It never sees a record, a label
 *    or the model in the clear (docs/THREAT_MODEL.md, "Logistic regression
 *    on CKKS").
 * They exchange only serialised messages (docs/FORMATS.md, "LR protocol
 * messages") through a henn_transport (henn/protocol.h): in-process
 * loopback now, a network transport later. The client always sends the
 * request and the server answers, so the client can sit behind NAT.
 *
 * Example (error handling shortened):
 *
 *     henn_lr_data train = {0}, test = {0};
 *     henn_lr_load_framingham(&train, &test, "data/framingham/framingham.csv", NULL, 0);
 *     henn_lr_opts o;
 *     henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, train.rows);
 *
 *     henn_lr_server *srv;  henn_lr_server_new(&srv, NULL, NULL);
 *     henn_transport t;     henn_transport_to_lr_server(&t, srv);
 *     henn_lr_client *cli;  henn_lr_client_new(&cli, NULL);
 *
 *     henn_lr_model m;      henn_lr_model_init(&m, train.dim);   // start: zeros
 *     henn_lr_client_train(cli, &t, &m, &train, &o, NULL, NULL);  // m: trained
 *     double *p = malloc(test.rows * sizeof(double));
 *     henn_lr_client_infer(cli, &t, p, &m, &test, 0);            // encrypted scoring
 *     henn_lr_client_stats st; henn_lr_client_get_stats(&st, cli);
 *     ...
 *     henn_lr_client_free(cli); henn_lr_server_free(srv);
 *
 * Packing (docs/LR_PROTOCOL.md has the derivation): feature-major blocks.
 * A record is dim + 2 values (the features, a constant 1 for the bias, the
 * label). A ciphertext has N/2 slots cut into B blocks of s = N/2/B slots,
 * B the next power of two >= dim + 2 but at most 16; a record group is
 * G = ceil((dim + 2) / B) ciphertexts holding s records: value f of record
 * i sits in slot (f % B) s + i of ciphertext f / B. The weights are G
 * ciphertexts the same shape, w_f in every slot of block f (b at dim).
 * Framingham (dim 9): B = 16, G = 1; WDBC (dim 30): B = 16, G = 2.
 * One gradient step on a batch of record groups: the server computes
 * z = sum_c X_c W_c (one relinearisation), sums the blocks by log2(B)
 * rotations (z_i lands in every block), evaluates the sigmoid polynomial's
 * gradient terms in Horner form, u (c z x) with u a polynomial in z^2
 * computed once per group, adds the label term (c0 - y) x precomputed once
 * per batch, sums the samples inside each block by log2(s) rotations and
 * sets W' = W (1 - alpha lambda/m on the features) - (alpha/m) T. Every
 * constant rides on a plaintext-constant product whose scale is chosen so
 * that the next addition matches. Depth: 3 levels per step for a degree-3
 * sigmoid, 4 for degree 5.
 *
 * Refresh: the chain has exactly the levels of one step, so after every
 * step the server returns W' (at level 0) and the client answers with the
 * next STEP: a fresh symmetric encryption (new seed and error, top level)
 * of the weights it decoded, rounded to a 2^-30 grid. The new weight w_f is
 * slot (f % B) s of W'; the others hold partial sums the client drops, so
 * the refresh also does the masking and replication a server-side step
 * would spend a level and 2 log2(s) rotations on. Nothing the client
 * decrypts goes back to the server in the clear (Li and Micciancio,
 * EUROCRYPT 2021); with HENN_LR_INFER_PLAIN_MODEL the client publishes its
 * own model, rounded to 2^-20.
 *
 * Parameters: chosen by the client from the polynomial's degree: N = 16384
 * and primes {60, 40 x depth, 60} by default (200 or 240 of the 438 bits
 * the HomomorphicEncryption.org table allows for 128-bit security); with
 * N = 8192, {49, 40, 40, 40, 49} (218 bits) for degree 3, and degree 5 is
 * refused there. The server checks them again (henn_ckks_params_deserialize
 * refuses insecure chains) and refuses anything above its limits.
 *
 * Thread safety: one thread per party object; the parties use their
 * threads option internally (key switching and rescaling run on the CKKS
 * params' threads).
 */
#ifndef HENN_LRPROTO_H
#define HENN_LRPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"
#include "henn/lr.h"
#include "henn/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct henn_lr_client henn_lr_client;
typedef struct henn_lr_server henn_lr_server;

/* Flags of henn_lr_client_opts. */
/* Accept CKKS parameters beyond the 128-bit table (small N; tests only).
 * The server must allow them too (henn_lr_server_limits.allow_insecure). */
#define HENN_LR_INSECURE_TEST 1u

/*
 * Client options (NULL: all defaults).
 *  N:        ring degree, 0 = default (16384); 8192 and 16384 are accepted
 *            (4096 only with HENN_LR_INSECURE_TEST). N = 8192 has half the
 *            slots and smaller keys, and holds degree-3 sigmoids only;
 *            docs/LR_PROTOCOL.md gives both chains.
 *  flags:    0 or HENN_LR_INSECURE_TEST.
 *  threads:  threads for CKKS work (encryption, key switching, rescale);
 *            0 = the online CPUs.
 */
typedef struct henn_lr_client_opts {
    size_t N;
    unsigned flags;
    unsigned threads;
} henn_lr_client_opts;

/*
 * What the client did and measured (henn_lr_client_get_stats); sums over
 * every call since henn_lr_client_new. Times are wall-clock seconds.
 *  N, data_primes, scale_bits, depth_per_step: the CKKS parameters of the
 *      last training run (data_primes = levels + 1; scale_bits: log2 of
 *      the encoding scale of the records).
 *  block, samples_per_ct: B and s of the packing (last run).
 *  ciphertexts: record ciphertexts uploaded (training and inference);
 *      block = B, samples_per_ct = s (records per group of G = ceil((dim
 *      + 2) / B) ciphertexts).
 *  steps: gradient steps run; refreshes: weight ciphertexts re-encrypted;
 *      steps_per_refresh: steps the chain allows between refreshes.
 *  keygen_s, encrypt_s (records and labels), refresh_s (decrypt + fresh
 *      encryption of the weights), decrypt_s (final model and scores),
 *      wait_s (time inside transport calls: server work plus transfer).
 *  key_bytes: serialised params, relinearisation and Galois keys sent;
 *  data_bytes: serialised record ciphertexts sent (training + inference);
 *  bytes_sent / bytes_received: everything through the transport.
 *  out_of_range: decrypted weights or scores that were not finite or had
 *      |v| > 2^20 and were replaced by 0 (the protocol continues; only the
 *      client sees this count).
 */
typedef struct henn_lr_client_stats {
    size_t N, data_primes, scale_bits, depth_per_step, block, samples_per_ct;
    uint64_t ciphertexts, steps, refreshes, steps_per_refresh, messages, out_of_range;
    double keygen_s, encrypt_s, refresh_s, decrypt_s, wait_s;
    uint64_t key_bytes, data_bytes, bytes_sent, bytes_received;
} henn_lr_client_stats;

/*
 * henn_lr_client_new: a client with no keys yet (keys are made by the
 * first henn_lr_client_train or henn_lr_client_infer call for a given
 * dimension and polynomial, and reused while those stay the same).
 * Returns 0, HENN_EINVAL (opts out of range: N not 8192/16384, or 4096
 * without HENN_LR_INSECURE_TEST; unknown flags), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_lr_client_new(henn_lr_client **c,
                                               const henn_lr_client_opts *opts);

/* henn_lr_client_free: wipe the secret key and release c (NULL allowed). */
HENN_API void henn_lr_client_free(henn_lr_client *c);

/* henn_lr_client_get_stats: c's counters and parameters. */
HENN_API void henn_lr_client_get_stats(henn_lr_client_stats *s, const henn_lr_client *c);

/*
 * henn_lr_client_train: train m on d with the server behind to_server.
 *  m:    initialised with dim == d->dim (henn_lr_model_init); its weights
 *        are the starting point; on success the trained model. On error
 *        m keeps its starting weights.
 *  d:    rows x dim records (|x| <= 64 after standardisation), labels 0/1.
 *  opts: as henn_lr_train, with these restrictions: sigmoid a polynomial
 *        (HENN_LR_SIGMOID_POLY3, LS3_8 or LS5_8; degree 5 needs N >=
 *        16384); nesterov 0; batch 0 (full batch) or a multiple of the
 *        records per group (henn_lr_client_batch_unit) taken in row order;
 *        shuffle ignored for full batches and refused for mini-batches
 *        (the twin's order is fixed).
 *  cb:   optional, called after every epoch with the decrypted model (the
 *        client decrypts it anyway to refresh it).
 * Sends KEYS (params, relinearisation key, the Galois keys of the log2(N/2)
 * power-of-two rotations; only when the keys are new to this transport),
 * DATA (one message per record ciphertext, labels inside), TRAIN (the
 * options), then one STEP per gradient step carrying the freshly encrypted
 * weights; the server answers each STEP with the updated weights.
 * The result equals henn_lr_train() with the same opts and starting point
 * up to CKKS error (about 1e-6 at the default parameters; tested to 1e-3
 * after every epoch).
 * Returns 0, HENN_EINVAL (arguments, options outside the restrictions,
 * d->dim > 254, a record with |x| > 64 or a non-finite value, a label not
 * 0/1), HENN_EPARAM (degree 5 at N = 8192, or the server's limits),
 * HENN_EPROTO (the server refused or answered with something other than
 * what was asked: wrong type, count, size, level, scale or parameters),
 * HENN_ERANGE (the server could not place a constant at the scale the step
 * needs: alpha/m below about 2^-30), HENN_ERNG, HENN_ENOMEM or a transport
 * error; the server's own error code when it answers with one.
 */
HENN_API HENN_NODISCARD int henn_lr_client_train(henn_lr_client *c, henn_transport *to_server,
                                                 henn_lr_model *m, const henn_lr_data *d,
                                                 const henn_lr_opts *opts, henn_lr_epoch_fn cb,
                                                 void *user);

/* Flags of henn_lr_client_infer. */
/* Send the model in the clear (rounded to a 2^-20 grid) instead of
 * encrypted: faster, and the server learns the model (and nothing else). */
#define HENN_LR_INFER_PLAIN_MODEL 1u

/*
 * henn_lr_client_infer: encrypted inference. The client encrypts the
 * records of d (labels unused; only d->X) packed as in training, sends the
 * model m (freshly encrypted, or in the clear with
 * HENN_LR_INFER_PLAIN_MODEL) and the record ciphertexts; the server
 * returns encrypted scores z = w.x + b; the client decrypts them and
 * writes scores[i] = 1 / (1 + exp(-z_i)) (the exact sigmoid, as
 * henn_lr_predict), so thresholds and metrics are those of lr.h.
 *  scores: d->rows doubles. m: dim == d->dim.
 * Returns 0, HENN_EINVAL, HENN_EPARAM, HENN_EPROTO, HENN_ERNG,
 * HENN_ENOMEM or a transport error.
 */
HENN_API HENN_NODISCARD int henn_lr_client_infer(henn_lr_client *c, henn_transport *to_server,
                                                 double *scores, const henn_lr_model *m,
                                                 const henn_lr_data *d, unsigned flags);

/*
 * henn_lr_client_batch_unit: records per record group (s = N/2/B) for
 * data of dimension dim with c's ring degree, i.e. the granularity of
 * mini-batches; 0 for dim 0 or dim > 254.
 */
HENN_API size_t henn_lr_client_batch_unit(const henn_lr_client *c, size_t dim);

/* Data sets with recommended encrypted-training settings. */
#define HENN_LR_DATASET_WDBC 1
#define HENN_LR_DATASET_FRAMINGHAM 2

/*
 * henn_lr_proto_recommended: the settings the docs report for a data set
 * (rows: training rows, for lambda = 0.05 m on Framingham):
 *  WDBC: LS5_8 (degree 5, least squares on [-8, 8]), alpha 0.3, lambda 1,
 *        15 epochs, full batch (0.9735 on the test split; 30 epochs give
 *        0.9646 in twice the time). Degree 3 diverges there: WDBC's outliers
 *        push |w.x| past the fit, where a cubic's negative leading term
 *        pushes them further out (docs/CLI.md); LS5_8's positive leading
 *        term pulls them back (|w.x| stays below 12).
 *  Framingham: TenSEAL tutorial 1: POLY3 (sigma3), alpha 1,
 *        lambda = 0.05 rows, 5 epochs, full batch (|w.x| stays below 3.2).
 * Returns 0 or HENN_EINVAL (unknown data set).
 */
HENN_API HENN_NODISCARD int henn_lr_proto_recommended(henn_lr_opts *o, int dataset,
                                                      size_t rows);

/*
 * What a peer may make the server allocate and compute. A KEYS message
 * names N and the chain, a TRAIN message the number of steps.
 *  max_N:           largest ring degree, 8192..65536 (default 16384).
 *  max_primes:      largest chain (data primes + special), 2..16 (default 8).
 *  max_galois_keys: 1..64 (default 32).
 *  max_cts:         record ciphertexts stored per session (default 4096).
 *  max_steps:       gradient steps per TRAIN (default 1,000,000).
 *  max_infer_cts:   record ciphertexts in one INFER message (default 64).
 *  allow_insecure:  accept chains beyond the 128-bit table (tests only).
 */
typedef struct henn_lr_server_limits {
    size_t max_N, max_primes, max_galois_keys, max_cts, max_infer_cts;
    uint64_t max_steps;
    int allow_insecure;
} henn_lr_server_limits;

/* henn_lr_server_limits_default: the defaults above. */
HENN_API void henn_lr_server_limits_default(henn_lr_server_limits *l);

/*
 * Server counters (henn_lr_server_get_stats). step_s: time inside gradient
 * steps; infer_s: time scoring; held_bytes: the ciphertexts and keys it
 * holds now (its memory, approximately); records_scored: inference rows.
 */
typedef struct henn_lr_server_stats {
    uint64_t messages, steps, records_scored, errors;
    double step_s, infer_s, setup_s;
    uint64_t held_bytes;
} henn_lr_server_stats;

/*
 * henn_lr_server_new: a server with no session. limits NULL: defaults.
 * threads: CKKS threads, 0 = the online CPUs (NULL opts: 0).
 * Returns 0, HENN_EINVAL (a limit out of range), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_lr_server_new(henn_lr_server **s,
                                               const henn_lr_server_limits *limits,
                                               const henn_batch_opts *opts);
/* henn_lr_server_free: release s and everything it holds (NULL allowed). */
HENN_API void henn_lr_server_free(henn_lr_server *s);
HENN_API void henn_lr_server_get_stats(henn_lr_server_stats *st, const henn_lr_server *s);

/*
 * henn_lr_server_handle: serve one request (KEYS, DATA, TRAIN, STEP,
 * MODEL, INFER). *resp is malloc'd (free()). Every size and count is
 * checked against the message length and the limits before anything is
 * allocated; a malformed or lying request gets an ERROR response with
 * HENN_EFORMAT or HENN_EPROTO (or HENN_EPARAM, HENN_EKEY) and leaves the
 * session as it was. Returns 0 (errors travel as responses) or
 * HENN_ENOMEM when not even the error response could be built.
 */
HENN_API HENN_NODISCARD int henn_lr_server_handle(henn_lr_server *s, const uint8_t *req,
                                                  size_t req_len, uint8_t **resp,
                                                  size_t *resp_len);

/*
 * The server's view, for the leakage tests and audits: calls fn for every
 * serialised object it holds (params, keys, ciphertexts, plaintext
 * constants it made from public training options) with its kind
 * (HENN_LR_VIEW_*). This is everything the server knows besides the
 * message sizes, counts and timing.
 */
#define HENN_LR_VIEW_PARAMS 1
#define HENN_LR_VIEW_KEY 2
#define HENN_LR_VIEW_CT 3
#define HENN_LR_VIEW_OPTIONS 4
typedef void (*henn_lr_view_fn)(void *user, int kind, const uint8_t *obj, size_t obj_len);
HENN_API HENN_NODISCARD int henn_lr_server_view(const henn_lr_server *s, henn_lr_view_fn fn,
                                                void *user);

/* henn_transport_to_lr_server: loopback transport (in-process) to s, which
 * must outlive t. */
HENN_API void henn_transport_to_lr_server(henn_transport *t, henn_lr_server *s);

/*
 * Message types (docs/FORMATS.md, "LR protocol messages"): header "HNL"
 * 0x01 | type u8 | three zero bytes | payload length u32, big-endian.
 */
#define HENN_LR_MSG_ERROR 0
#define HENN_LR_MSG_OK 1
#define HENN_LR_MSG_KEYS 2
#define HENN_LR_MSG_DATA 3
#define HENN_LR_MSG_TRAIN 4
#define HENN_LR_MSG_STEP 5
#define HENN_LR_MSG_WEIGHTS 6
#define HENN_LR_MSG_MODEL 7
#define HENN_LR_MSG_INFER 8
#define HENN_LR_MSG_SCORES 9

/* henn_lr_msg_type: the type of a serialised LR message, or -1 when the
 * header is malformed (tests, audits, transports). */
HENN_API int henn_lr_msg_type(const uint8_t *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif
#endif
