/* Private declarations of CryptoNN (src/protocol/cryptonn_*.c): message
 * framing, the parameter block and the fixed-point arithmetic shared by the
 * server and its plaintext twin. */
#ifndef HENN_CRYPTONN_INTERNAL_H
#define HENN_CRYPTONN_INTERNAL_H

#include "henn/cryptonn.h"

/* Message: "HCN" 01 | type u8 | 3 zero bytes | payload length u32 LE |
 * payload; integers little-endian (docs/FORMATS.md). */
#define HENN__CN_HEADER 12
#define HENN__CN_MAX ((size_t)1 << 30)

enum {
    HENN__CN_MPK_REQ = 1,
    HENN__CN_MPK = 2,
    HENN__CN_KEYS_IP = 3,
    HENN__CN_KEYS_IP_RESP = 4,
    HENN__CN_KEYS_BO = 5,
    HENN__CN_KEYS_BO_RESP = 6,
    HENN__CN_BATCH = 7,
    HENN__CN_BATCH_RESP = 8,
    HENN__CN_KEYS_SUP = 9,
    HENN__CN_KEYS_SUP_RESP = 10,
    HENN__CN_KEYS_CONV = 11,
    HENN__CN_KEYS_CONV_RESP = 12,
    HENN__CN_ERROR = 255
};

/* Serialised FEIP sizes (henn/fe.h formats). */
#define HENN__CN_FK_BYTES (9 + HENN_FE_SCALARBYTES)
size_t henn__cn_ct_bytes(size_t n);

typedef struct henn__cn_w {
    uint8_t *p;
    size_t len, cap;
    int err;
} henn__cn_w;

void henn__cn_w_start(henn__cn_w *w, int type);
void henn__cn_w_bytes(henn__cn_w *w, const void *b, size_t n);
/* reserve n bytes and return where they go (NULL after an error) */
uint8_t *henn__cn_w_grow(henn__cn_w *w, size_t n);
void henn__cn_w_u8(henn__cn_w *w, uint8_t v);
void henn__cn_w_u32(henn__cn_w *w, uint32_t v);
void henn__cn_w_u64(henn__cn_w *w, uint64_t v);
int henn__cn_w_finish(henn__cn_w *w, uint8_t **out, size_t *out_len);

typedef struct henn__cn_r {
    const uint8_t *p;
    size_t len, pos;
    int err;
} henn__cn_r;

/* Check the header (magic, zero bytes, exact length); *type = the type. */
int henn__cn_r_open(henn__cn_r *r, int *type, const uint8_t *msg, size_t msg_len);
const uint8_t *henn__cn_r_bytes(henn__cn_r *r, size_t n);
uint8_t henn__cn_r_u8(henn__cn_r *r);
uint32_t henn__cn_r_u32(henn__cn_r *r);
uint64_t henn__cn_r_u64(henn__cn_r *r);
/* 0 if all read without error, else HENN_EFORMAT */
int henn__cn_r_done(const henn__cn_r *r);

int henn__cn_error(uint8_t **out, size_t *out_len, int code);
/* The code of an error response (< 0), HENN_EFORMAT if malformed, 0 if
 * msg is not an error response. */
int henn__cn_error_code(const uint8_t *msg, size_t msg_len);

void henn__cn_params_write(henn__cn_w *w, const henn_cryptonn_params *p);
void henn__cn_params_read(henn__cn_r *r, henn_cryptonn_params *p);

double henn__cn_now(void);

/* Ask the authority for the parameters and public keys (MPK) and check
 * them: mpk[0] has n = in_dim and mpk[1] n = batch with the bounds the
 * parameters imply; for the BATCH layout mpk[2] n = batch in_dim (else it
 * stays zeroed). On error everything is cleared. */
int henn__cn_fetch_mpk(henn_transport *to_authority, henn_cryptonn_params *p,
                       henn_feip_mpk mpk[3], henn_febo_mpk *bo);
/* Send req (consumed) and check the response type; *resp owned by the
 * caller. An error response gives its code (as HENN_EPROTO when the code
 * is outside the known set). */
int henn__cn_roundtrip(henn_transport *t, uint8_t *req, size_t req_len, int want_type,
                       uint8_t **resp, size_t *resp_len, henn__cn_r *r);

/* Run fn(arg, i) for i in [0, count) on `threads` threads (1: inline);
 * returns the first nonzero code in index order. */
typedef int (*henn__cn_task)(void *arg, size_t i);
int henn__cn_parallel(henn__cn_task fn, void *arg, size_t count, unsigned threads);

/* Convolution key geometry (KEYS_CONV): square images of side S =
 * sqrt(in_dim) >= HENN__CN_K, a HENN__CN_K x HENN__CN_K kernel, valid,
 * stride 1: O = S - K + 1 outputs per side, P = O^2 patches. Returns S, or
 * 0 when in_dim is not such a square. */
#define HENN__CN_K 5u
#define HENN__CN_KK 25u
size_t henn__cn_conv_side(size_t in_dim);
/* idx [25] of the patch at output position p of image b */
void henn__cn_patch_idx(size_t *idx, size_t S, size_t in_dim, size_t b, size_t p);
/* idx [rows x P] of the kernel offset q = u K + v over images 0..rows-1 */
void henn__cn_shift_idx(size_t *idx, size_t S, size_t in_dim, size_t rows, size_t q);

/* Read m serialised FEIP keys (HENN__CN_FK_BYTES each, from src) into fk
 * on `threads` threads; each must have length n. HENN_EFORMAT otherwise. */
int henn__cn_read_fks(henn_feip_fk *fk, const uint8_t *src, size_t m, size_t n,
                      unsigned threads);

/* FEBO sub keys from the authority (KEYS_BO) for the m label ciphertexts
 * in src (HENN_FEBO_CT_BYTES each, raw) and the predictions yq [m]:
 * bk [m] gets the keys, each checked to be a sub key for its yq;
 * st's key and parse times and keys_bo are updated. HENN_EFORMAT on a
 * malformed or mismatched response, the authority's code, or a
 * transport error. */
int henn__cn_get_bo_keys(henn_transport *to_auth, const int64_t *yq, const uint8_t *src,
                         size_t m, henn_febo_fk *bk, henn_cryptonn_stats *st);

/* Fixed point (src/protocol/cryptonn_fixed.c). */
/* x_q = round(x x_scale); HENN_ERANGE outside [0, 1] or not finite. */
int henn__cn_quant_x(int64_t *xq, const float *x, size_t count, const henn_cryptonn_params *p);
/* w_q = round(w 2^fw); HENN_ERANGE when |w_q| > 2^w_bits or not finite. */
int henn__cn_quant_w(int64_t *wq, const float *w, size_t count, const henn_cryptonn_params *p);
/* dq [batch x hidden] from dz [rows x hidden] (rows beyond zero) with the
 * per-batch exponent *fd; HENN_ERANGE on a non-finite delta. */
int henn__cn_quant_delta(int64_t *dq, int *fd, const float *dz, size_t rows, size_t hidden,
                         const henn_cryptonn_params *p);
/* Z1 [rows x hidden] = z1q / (x_scale 2^fw) + b1 */
void henn__cn_z1(float *Z1, const int64_t *z1q, const float *b1, size_t rows, size_t hidden,
                 const henn_cryptonn_params *p);
/* dW1 [hidden x in] = g / (x_scale 2^fd) */
void henn__cn_dw1(float *dW1, const int64_t *g, size_t count, int fd,
                  const henn_cryptonn_params *p);

#endif
