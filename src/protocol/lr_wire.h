/* Private declarations of the CKKS logistic-regression protocol
 * (henn/lrproto.h): message framing, the packing layout, the chain of
 * primes, and the parsers the fuzz targets reach directly. */
#ifndef HENN_LR_WIRE_H
#define HENN_LR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "henn/ckks.h"
#include "henn/lrproto.h"
#include "proto_internal.h"

#define HENN__LR_HEADER HENN__MSG_HEADER
#define HENN__LR_MSG_MAX HENN__MSG_MAX /* refuse messages over 1 GiB */
#define HENN__LR_MAX_DIM 254               /* B = next power of two >= dim + 2 <= 256 */
#define HENN__LR_MAX_ABS_X 64.0            /* records, after standardisation */
#define HENN__LR_MAX_ABS_W 1048576.0       /* decoded weights and scores, 2^20 */
#define HENN__LR_ROUND_BITS 30             /* refreshed weights: grid 2^-30 */
#define HENN__LR_PLAIN_BITS 20             /* published plaintext model: grid 2^-20 */

/* ---- framing: "HNL" 0x01 | type | 0 0 0 | payload length u32 (BE) ----
 * The KDD protocols' buffers (proto_internal.h) with family 'L'. */

typedef henn__wbuf henn__lr_wbuf;

void henn__lr_wstart(henn__lr_wbuf *w, int type);
void henn__lr_wu32(henn__lr_wbuf *w, uint32_t v);
void henn__lr_wu64(henn__lr_wbuf *w, uint64_t v);
void henn__lr_wf64(henn__lr_wbuf *w, double v);
void henn__lr_wbytes(henn__lr_wbuf *w, const void *b, size_t n);
/* length u32 then the bytes (n < 2^32) */
void henn__lr_wblob(henn__lr_wbuf *w, const uint8_t *b, size_t n);
/* serialise ct (with seed when not NULL) as a blob */
void henn__lr_wct(henn__lr_wbuf *w, const henn_ckks_ct *ct, const uint8_t *seed);
/* Fill the length; hand over the buffer (0) or return err (buffer freed). */
int henn__lr_wfinish(henn__lr_wbuf *w, uint8_t **out, size_t *out_len);
void henn__lr_wfree(henn__lr_wbuf *w);

typedef henn__rbuf henn__lr_rbuf;

/* Check the header (magic, zero bytes, known type, exact length); *type. */
int henn__lr_ropen(henn__lr_rbuf *r, int *type, const uint8_t *msg, size_t msg_len);
uint32_t henn__lr_ru32(henn__lr_rbuf *r);
uint64_t henn__lr_ru64(henn__lr_rbuf *r);
double henn__lr_rf64(henn__lr_rbuf *r);
const uint8_t *henn__lr_rbytes(henn__lr_rbuf *r, size_t n);
/* a blob: *n gets its length (NULL and err on truncation) */
const uint8_t *henn__lr_rblob(henn__lr_rbuf *r, size_t *n);
/* 0 when everything was read and nothing failed, else HENN_EFORMAT */
int henn__lr_rdone(const henn__lr_rbuf *r);

/* ERROR (code < 0) and OK responses. */
int henn__lr_msg_error(uint8_t **out, size_t *out_len, int code);
int henn__lr_msg_ok(uint8_t **out, size_t *out_len);
/* The code of an ERROR message (< 0; HENN_EPROTO when the code is not a
 * henn code), 0 for other types, HENN_EFORMAT for a bad header. */
int henn__lr_error_code(const uint8_t *msg, size_t msg_len);

/* ---- packing layout (henn/lrproto.h, "Packing") ---- */

typedef struct henn__lr_layout {
    size_t N, slots; /* ring degree, N / 2 */
    size_t dim;      /* features */
    size_t B, G, s;  /* blocks per ciphertext, ciphertexts per record group,
                        slots (samples) per block */
} henn__lr_layout;

/* Maximum blocks per ciphertext: wider records are split over G
 * ciphertexts (docs/LR_PROTOCOL.md, "Packing"). */
#define HENN__LR_MAX_BLOCKS 16

/* Record index f in [0, dim + 1] (features, then the constant 1 at dim and
 * the label at dim + 1) lives in block f % B of ciphertext f / B of its
 * group. B = next power of two >= dim + 2, at most HENN__LR_MAX_BLOCKS;
 * G = ceil((dim + 2) / B); s = N/2 / B. HENN_EINVAL for dim 0, dim >
 * HENN__LR_MAX_DIM, or N/2 < B. */
int henn__lr_layout_init(henn__lr_layout *lo, size_t N, size_t dim);

/* The rotation steps the server needs: every power of two below N/2
 * (s 2^i for the sum over blocks, 2^i < s inside a block). steps holds at
 * least 32 ints; returns the count. */
size_t henn__lr_rotation_steps(int *steps, const henn__lr_layout *lo);

/* Multiplicative depth of one training step for a sigmoid polynomial of
 * degree 3 or 5 (3 and 4), 0 for other degrees. */
size_t henn__lr_depth(int degree);

/* The chain for ring degree N and depth: bits[0..*count) (data primes
 * then the special prime) and the encoding scale in bits. N = 16384 (or
 * 4096, 32768, insecure or large): {60, 40 x depth, 60}, 40; N = 8192:
 * narrower primes fitted into 218 bits. HENN_EINVAL for other inputs. */
int henn__lr_chain(int *bits, size_t *count, int *scale_bits, size_t N, size_t depth);

/* ---- parsers shared with the fuzz targets ---- */

/* Client: parse a WEIGHTS response: step (must equal want_step), the
 * ciphertext count (must equal count: one per record ciphertext of a
 * group) and the ciphertexts (params, level want_level, size 2, scale
 * within 2^-20 of want_scale) into cts[0..count). */
int henn__lr_parse_weights(henn_ckks_ct *cts, size_t count, const henn_ckks_params *params,
                           const uint8_t *msg, size_t msg_len, uint32_t want_step,
                           size_t want_level, double want_scale);
/* Client: parse a SCORES response of exactly count ciphertexts (level 0,
 * size 2, scale within 2^-20 of want_scale) into cts[0..count). */
int henn__lr_parse_scores(henn_ckks_ct *cts, size_t count, const henn_ckks_params *params,
                          const uint8_t *msg, size_t msg_len, double want_scale);

/* Test hook (leakage tests): the client's secret key, NULL before keygen. */
const henn_ckks_sk *henn__lr_client_sk(const henn_lr_client *c);
/* Fuzz hook: make keys for (dim, depth) without sending them and treat t
 * as a server that has them, so that a fuzzed server's first response
 * goes to DATA. */
int henn__lr_client_keys_for(henn_lr_client *c, henn_transport *t, size_t dim, size_t depth);
/* CLI hook (henn lr train --session-file, --resume): make now the keys
 * that henn_lr_client_train(dim features, sigmoid sig) needs, not sent
 * (its first call sends them): the secret key deserialised from sk
 * (henn_ckks_sk_serialize bytes, sk_len) when sk is not NULL, else a new
 * one; the relinearisation and Galois keys are made anew from it (their
 * bytes differ, their sizes do not). Read the key back with
 * henn__lr_client_sk. Returns 0, HENN_EINVAL (bad dim or sig),
 * HENN_EFORMAT / HENN_EKEY (sk not a key for these parameters), HENN_ENOMEM. */
int henn__lr_client_train_keys(henn_lr_client *c, size_t dim, henn_lr_sigmoid sig,
                               const uint8_t *sk, size_t sk_len);

#endif
