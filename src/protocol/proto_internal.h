/* Private declarations of the protocol module: message framing and
 * fixed-point packing shared by the owner and the trainer. */
#ifndef HENN_PROTO_INTERNAL_H
#define HENN_PROTO_INTERNAL_H

#include "../paillier/paillier_internal.h"
#include "henn/protocol.h"

#define HENN__MSG_HEADER 12
#define HENN__MSG_MAX ((size_t)1 << 30) /* refuse messages over 1 GiB */

/* Growing output buffer; err sticks at the first failure. */
typedef struct henn__wbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} henn__wbuf;

/* Header "HN" family 0x01 | type | 0 0 0 | length: family 'P' for the KDD
 * protocols (henn__wbuf_start), 'L' for the CKKS LR protocol (lr_wire.c). */
void henn__wbuf_start_family(henn__wbuf *w, char family, int type);
void henn__wbuf_start(henn__wbuf *w, int type);
void henn__wbuf_u32(henn__wbuf *w, uint32_t v);
void henn__wbuf_bytes(henn__wbuf *w, const void *b, size_t n);
/* x as exactly width big-endian bytes (0 <= x < 256^width). */
void henn__wbuf_mpz(henn__wbuf *w, const mpz_t x, size_t width);
/* Finish: fill the length; returns 0 and hands over the buffer, or err. */
int henn__wbuf_finish(henn__wbuf *w, uint8_t **out, size_t *out_len);
void henn__wbuf_free(henn__wbuf *w);

/* Bounds-checked reader over a payload. */
typedef struct henn__rbuf {
    const uint8_t *p;
    size_t len, pos;
    int err;
} henn__rbuf;

/* Check the header; *type gets the type; r reads the payload. */
int henn__rbuf_open(henn__rbuf *r, int *type, const uint8_t *msg, size_t msg_len);
/* The same for any family, accepting types 0..max_type. */
int henn__rbuf_open_family(henn__rbuf *r, int *type, const uint8_t *msg, size_t msg_len,
                           char family, int max_type);
uint32_t henn__rbuf_u32(henn__rbuf *r);
const uint8_t *henn__rbuf_bytes(henn__rbuf *r, size_t n);
/* x = next width bytes, big-endian. */
void henn__rbuf_mpz(henn__rbuf *r, mpz_t x, size_t width);
/* 0 when everything was read and nothing failed, else HENN_EFORMAT. */
int henn__rbuf_done(const henn__rbuf *r);

/* Error response carrying code. */
int henn__msg_error(uint8_t **out, size_t *out_len, int code);
/* If msg is an error response, its code (< 0); HENN_EFORMAT if malformed;
 * 0 otherwise. */
int henn__msg_error_code(const uint8_t *msg, size_t msg_len);

/* Parameter block (6 u32). */
void henn__params_write(henn__wbuf *w, const henn_proto_params *p);
void henn__params_read(henn__rbuf *r, henn_proto_params *p);

/* Bytes of n and of a ciphertext under pk. */
size_t henn__nbytes(const henn_paillier_pk *pk);

/* Ciphertext check: 0 < c < n^2 and gcd(c, n) = 1, else HENN_ERANGE. */
int henn__ct_check(const henn_paillier_pk *pk, const mpz_t c, mpz_t tmp);

/* Fixed-point helpers. round(v 2^f) as int64; HENN_ERANGE when v is not
 * finite, or |v| > 2^ib when inclusive, or else when |v| >= 2^ib or the
 * rounded |q| reaches 2^(f+ib). f + ib <= 62. */
int henn__quantize(int64_t *q, double v, unsigned f, unsigned ib, int inclusive);

/* P = sum_s v[s * stride] 2^(k s) for s < count, reduced into [0, n). */
void henn__pack(mpz_t P, const int64_t *v, size_t count, size_t stride, unsigned k,
                const mpz_t n);
/* Inverse of henn__pack for M in [0, n): out[s] for s < count, balanced
 * slots; HENN_ERANGE if anything is left above count slots. tmp: scratch. */
int henn__unpack(int64_t *out, size_t count, const mpz_t M, unsigned k, const mpz_t n,
                 mpz_t tmp, mpz_t tmp2);

/* Mask-and-rerandomise c[0 .. count): c[i] = c[i] (1 + R[i] n) r_i^n mod
 * n^2 with R[i] uniform in [0, n) returned in R (R NULL: rerandomise only)
 * and r_i uniform in [1, n) (henn__paillier_noise: the result is a fresh
 * encryption of D(c[i]) + R[i] even to the key holder). Single-threaded. */
int henn__mask_range(mpz_t *c, mpz_t *R, size_t count, const henn_paillier_pk *pk);
/* The same with the noise given: c[i] *= (1 + R[i] n) noise[i] mod n^2,
 * noise[i] a fresh r^n used for nothing else (henn__noise_take). */
int henn__mask_apply(mpz_t *c, mpz_t *R, size_t count, const henn_paillier_pk *pk,
                     mpz_t *noise);
/* Test hook: nonzero makes henn__mask_range and henn__noise_take use the
 * DJN noise h_s^a of earlier versions (the control run of the
 * character-attack test). */
void henn__mask_use_djn_for_tests(int on);
/* Whether that hook is on (the trainer's inference pool steps aside). */
int henn__mask_djn_for_tests_on(void);

/* Values in the trainer's inference noise pool (trainer.c, mask_infer):
 * about three rounds of the KDD model's 41 + 5 masks; 64 KB at n = 2048. */
#define HENN__TRAINER_POOL_DEFAULT 128

/*
 * A party's reserve of fresh noise r^n mod n^2 (henn__paillier_noise) for
 * one key. henn__noise_take fills out[0 .. count) (initialised by the
 * caller) with values from the reserve first; the rest are generated on
 * the thread pool in 8-lane groups, the number of groups rounded up to a
 * multiple of the threads so that every thread does the same whole
 * groups, and the surplus (fewer than 8 x threads values) stays for the
 * next call. This removes the padded or single-buffer remainder groups
 * and the idle thread of an odd group count (41 values on 2 threads: 6
 * groups, one thread doing 3 while the other did 2 and a single).
 * Every value is handed out once (moved, not copied), each is an
 * independent r^n with r uniform in [1, n), and a value drawn for one key
 * is never used for another (the reserve is dropped when pk's kid
 * changes). Dropped and cleared values are wiped. Not thread-safe: one
 * reserve per party, used from one thread at a time.
 * HENN_EKEY, HENN_ERNG, HENN_ENOMEM.
 */
typedef struct henn__noise_reserve {
    mpz_t *v;
    size_t have, cap;
    uint8_t kid[HENN_PAILLIER_KIDBYTES];
} henn__noise_reserve;
int henn__noise_take(henn__noise_reserve *nr, mpz_t *out, size_t count,
                     const henn_paillier_pk *pk, const henn_batch_opts *opts);
/* Wipes and frees the values; safe on a zeroed reserve. */
void henn__noise_reserve_clear(henn__noise_reserve *nr);

#endif
