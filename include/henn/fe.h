/*
 * henn/fe.h: functional encryption on ristretto255 (libdecaf's decaf_255).
 *
 * Two schemes, one group (prime order l ~ 2^252, about 126-bit security):
 *
 *  FEIP, inner products (Abdalla, Bourse, De Caro, Pointcheval, PKC 2015,
 *  section 3, the DDH scheme). The authority runs henn_feip_setup (mpk, msk),
 *  hands out function keys henn_feip_derive_key(msk, y) = <s, y> mod l; a client
 *  encrypts x under mpk; whoever holds the key for y and the ciphertext of x
 *  learns <x, y> and nothing else about x (s-IND-CPA under DDH):
 *
 *      henn_feip_setup(&mpk, &msk, n, X, Y);
 *      henn_feip_derive_key(&fk, &msk, y, n);
 *      henn_feip_encrypt(&ct, &mpk, x, n);
 *      henn_fe_dlog_init(&dl, B, 0);          // once per bound, kept
 *      henn_feip_decrypt(&v, &mpk, &dl, &ct, &fk, y, n);   // v = <x, y>
 *
 *  FEBO, CryptoNN's element-wise basic operations (Xu, Joshi, Li, ICDCS 2019,
 *  section III-B): a key bound to one ciphertext's commitment reveals x + y,
 *  x - y, x * y or x / y for that ciphertext only.
 *
 * Bounds. Every value is a signed 64-bit integer. The mpk carries X and Y:
 * encryption refuses |x_i| > X, key derivation and decryption refuse
 * |y_i| > Y (HENN_ERANGE); n * X * Y must stay below 2^62 so that the result
 * is a well-defined integer. The discrete-log table (henn_fe_dlog) covers
 * |result| <= B; a result outside it is HENN_ERANGE, never a wrong value.
 *
 * Timing. Operations involving msk, the encryption randomness r or the
 * plaintext x run in time independent of them (libdecaf's constant-time
 * scalar and point arithmetic, constant-time table selection). Decryption
 * is variable time in the public y and in the decrypted result (the
 * baby-step giant-step search), which is the output anyway.
 *
 * Formats. The serialized formats (below each serializer) are the stable
 * interface; the structs are not. Points travel as 32-byte canonical
 * ristretto255 encodings, scalars as 32-byte canonical little-endian values
 * below l; integers little-endian.
 *
 * Thread safety: every function is safe on distinct objects; read-only use
 * of one mpk, dlog table, key or ciphertext from several threads is safe.
 *
 * Residual risk: libdecaf's internals. The discrete log (normalising points
 * in batches), encryption (which leaves the ciphertext points at Z = 1),
 * decryption (a multi-scalar multiplication with mixed additions and the
 * constant-time sk c_0) and henn_feip_ct_prep_init run henn's own
 * GF(2^255 - 19) code on libdecaf's point limbs, which are not its public
 * API. henn_fe_dlog_init, henn_fe_dlog_deserialize, henn_feip_ct_prep_init
 * and the mpk's table build (for encryption) check at run time that the
 * limbs are five
 * 64-bit words holding extended coordinates on libdecaf 1.0's a = -1,
 * d = 121665 curve, and that henn's group law agrees with libdecaf's on
 * test points; any other build gives HENN_EPARAM (encryption then keeps
 * libdecaf's projective points), and the own code runs only after the
 * check passed. A layout that passed the check and
 * still differed somewhere would give a wrong group element; its discrete
 * log is then outside [-B, B] except with negligible probability (it mixes
 * in r s_i terms), so the result would be HENN_ERANGE, not a wrong value.
 * A libdecaf upgrade should rerun tests/fe (the differential MSM tests).
 */
#ifndef HENN_FE_H
#define HENN_FE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HENN_FE_POINTBYTES 32  /* one serialized group element */
#define HENN_FE_SCALARBYTES 32 /* one serialized scalar mod l */
#define HENN_FE_MAX_N 1048576  /* longest FEIP vector */
#define HENN_FE_MAX_DLOG_TABLE ((uint64_t)1 << 30) /* largest baby-step table T */
#define HENN_FE_DEFAULT_DLOG_TABLE ((uint64_t)1 << 20)

HENN_API size_t henn_fe_pointbytes(void);
HENN_API size_t henn_fe_scalarbytes(void);

/* One decoded group element (internal representation, 256 bytes). */
typedef struct henn_fe_elem {
    _Alignas(32) uint8_t opaque_[256];
} henn_fe_elem;

/* Precomputed tables of an mpk (internal). */
struct henn__fe_tabs;

/* ------------------------------------------------------------------ */
/* Discrete logarithm                                                  */

/*
 * A bounded discrete-log solver: baby-step giant-step over a table of
 * j * (4g), j in [0, T], keyed on the low 64 bits of the affine y coordinate
 * (one entry covers +-j; the parity of x gives the sign). Built once, kept,
 * read-only afterwards. Memory: about 12 bytes x 4/3 x T rounded up to a
 * power of two (T = 2^20: 24 MiB; 2^22: 96 MiB). Build time about 0.3 us per
 * entry. A query costs about (|result| / (2T + 1)) giant steps of ~0.3 us.
 */
typedef struct henn_fe_dlog {
    uint64_t bound;      /* B: results in [-B, B] are found */
    uint64_t table_size; /* T */
    size_t cap;          /* hash slots (power of two) */
    uint64_t *keys;      /* cap keys, 0 = empty */
    uint32_t *vals;      /* j | x-parity << 31 */
    henn_fe_elem *giant; /* [0]: (2T + 1) * 4g; then k 16^w g, k < 16, for the
                            4-bit windows w of B (hit checks) */
} henn_fe_dlog;

/*
 * henn_fe_dlog_init: build the table for results |v| <= bound with T =
 * table_size baby steps (0: HENN_FE_DEFAULT_DLOG_TABLE; T is lowered to
 * bound when bound is smaller).
 * Errors: HENN_EINVAL (NULL, bound 0 or >= 2^62, T > HENN_FE_MAX_DLOG_TABLE),
 * HENN_ENOMEM, HENN_EPARAM (libdecaf's internal layout is not the one this
 * code reads; checked on the base point). On error dl is zeroed.
 */
HENN_API HENN_NODISCARD int henn_fe_dlog_init(henn_fe_dlog *dl, uint64_t bound,
                                              uint64_t table_size);
/* henn_fe_dlog_clear: free the table; safe on a zeroed struct. */
HENN_API void henn_fe_dlog_clear(henn_fe_dlog *dl);

/*
 * henn_fe_dlog_solve: v with v * g = P for a serialized point P, |v| <= B.
 * Errors: HENN_EFORMAT (not a canonical encoding), HENN_ERANGE (no such v).
 */
HENN_API HENN_NODISCARD int henn_fe_dlog_solve(int64_t *v, const henn_fe_dlog *dl,
                                               const uint8_t p[HENN_FE_POINTBYTES]);

/*
 * henn_fe_dlog_solve_many: v[k] with v[k] g = P_k for cnt serialized
 * points p [cnt x HENN_FE_POINTBYTES], |v[k]| <= B, 1 <= cnt <=
 * HENN_FE_MAX_N. The same results as cnt calls of henn_fe_dlog_solve,
 * faster for many points: the points 4 P_k are brought to affine form in
 * chunks of 128 with one field inversion per chunk (Montgomery's
 * simultaneous inversion) instead of one per point and each is looked up
 * at giant step 0 (its table key: the low bits of the canonical affine y of
 * 4 P_k, which multiplying by 4 makes independent of the ristretto
 * representative; -P_k shares y, the parity of x gives the sign, so signed
 * results cost the same); a hit is verified against v g; the points that
 * missed walk the giant steps together (one inversion per step for all of
 * them).
 * Errors: HENN_EINVAL (NULL, cnt 0 or too large, dl not built),
 * HENN_EFORMAT (a point not canonical), HENN_ERANGE (some result outside
 * [-B, B]), HENN_ENOMEM; on error every v[k] is 0.
 * Thread safety: dl is only read; any number of threads may share it.
 * Timing: variable in the points and results (public / output).
 */
HENN_API HENN_NODISCARD int henn_fe_dlog_solve_many(int64_t *v, const henn_fe_dlog *dl,
                                                    const uint8_t *p, size_t cnt);

/*
 * Persistence of a table ("in memory or on disk, never rebuilt per call").
 * Format (little-endian), the stable interface:
 *  "HFED" 01 | T u64 | B u64 | (T + 1) keys u64 (key of j (4g), j = 0..T)
 *  | parity bitmap, ceil((T + 1) / 8) bytes (bit j: parity of x; padding 0)
 *  | BLAKE2b-256 of everything before it (32 bytes)
 * Size: 8.125 (T + 1) + 53 bytes (T = 2^20: 8.1 MiB; 2^24: 130 MiB).
 *
 * henn_fe_dlog_deserialize checks the magic, version, 1 <= T <=
 * HENN_FE_MAX_DLOG_TABLE, T <= B < 2^62, the exact length, zero padding and
 * the checksum, then recomputes entries 0, 1, T and 125 random entries (all
 * of them when T < 128) from the group, refuses repeated keys (more than 8)
 * and long probe chains, rebuilds the hash table and recomputes the giant
 * step. A file whose entries were edited and its checksum recomputed is
 * refused unless very few entries changed; even then every table hit is
 * verified against v g (a table of g multiples kept with the giant step), so
 * a bad table can only make
 * henn_fe_dlog_solve return HENN_ERANGE (or take longer), never a wrong v.
 * Cost: the checksum (about 1 ms per MiB) plus the rebuild (about 0.05 s per
 * 2^20 entries), against about 0.5 s per 2^20 entries to build.
 * Errors: HENN_EINVAL (NULL, dl not built by init/deserialize), HENN_ENOMEM,
 * HENN_EFORMAT, HENN_EPARAM (as for init), HENN_ERNG; save and load also
 * HENN_EIO (open, read or write failed). On error dl is zeroed. save writes
 * the file in place (not atomically); it holds no secret.
 */
/* henn_fe_dlog_serialized_len: the length of dl's encoding (0 if not built). */
HENN_API size_t henn_fe_dlog_serialized_len(const henn_fe_dlog *dl);
/* henn_fe_dlog_serialize: *buf allocated here (free with free or henn_free). */
HENN_API HENN_NODISCARD int henn_fe_dlog_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_fe_dlog *dl);
HENN_API HENN_NODISCARD int henn_fe_dlog_deserialize(henn_fe_dlog *dl, const uint8_t *buf,
                                                     size_t buf_len);
HENN_API HENN_NODISCARD int henn_fe_dlog_save(const char *path, const henn_fe_dlog *dl);
HENN_API HENN_NODISCARD int henn_fe_dlog_load(henn_fe_dlog *dl, const char *path);

/*
 * henn_fe_point_mul_g: the serialized encoding of v * g (g the ristretto255
 * generator), for tests and known answers. v = 0 gives the identity (32 zero
 * bytes).
 */
HENN_API void henn_fe_point_mul_g(uint8_t p[HENN_FE_POINTBYTES], int64_t v);

/* ------------------------------------------------------------------ */
/* FEIP                                                                */

typedef struct henn_feip_mpk {
    size_t n;
    uint64_t x_bound, y_bound; /* X, Y */
    henn_fe_elem *h;           /* n elements h_i = s_i g */
    struct henn__fe_tabs *tabs; /* fixed-base tables (built at setup / load) */
} henn_feip_mpk;

typedef struct henn_feip_msk {
    size_t n;
    uint64_t x_bound, y_bound;
    uint8_t *s; /* n x 32-byte scalars; secret, wiped on clear */
} henn_feip_msk;

/* A function key sk_y = <s, y> mod l (it does not carry y). */
typedef struct henn_feip_fk {
    size_t n;
    uint8_t sk[HENN_FE_SCALARBYTES];
} henn_feip_fk;

/* A ciphertext: c[0] = r g, c[i] = r h_i + x_i g (i = 1..n). */
typedef struct henn_feip_ct {
    size_t n;
    henn_fe_elem *c; /* n + 1 elements */
} henn_feip_ct;

/*
 * henn_feip_setup: fresh keys for vectors of length n, 1 <= n <= HENN_FE_MAX_N,
 * with |x_i| <= x_bound and |y_i| <= y_bound (both >= 1, n * X * Y < 2^62).
 * Builds the encryption tables (about 9 KiB per h_i and 100 us per element).
 * Errors: HENN_EINVAL, HENN_ERANGE (bounds), HENN_ENOMEM, HENN_ERNG. On error
 * both outputs are zeroed. Timing: independent of the secret s.
 */
HENN_API HENN_NODISCARD int henn_feip_setup(henn_feip_mpk *mpk, henn_feip_msk *msk, size_t n,
                                            uint64_t x_bound, uint64_t y_bound);
HENN_API void henn_feip_mpk_clear(henn_feip_mpk *mpk);
/* henn_feip_msk_clear: wipe and free. */
HENN_API void henn_feip_msk_clear(henn_feip_msk *msk);

/*
 * henn_feip_derive_key: fk = <s, y> mod l for y: [n], |y_i| <= Y.
 * Errors: HENN_EINVAL (n differs), HENN_ERANGE (|y_i| > Y). Timing:
 * independent of s.
 */
HENN_API HENN_NODISCARD int henn_feip_derive_key(henn_feip_fk *fk, const henn_feip_msk *msk,
                                                 const int64_t *y, size_t n);
/* henn_feip_fk_clear: wipe a function key. */
HENN_API void henn_feip_fk_clear(henn_feip_fk *fk);

/*
 * henn_feip_encrypt: ct of x: [n], |x_i| <= X (fresh r for every call).
 * ct must be zeroed or cleared; it is (re)allocated here.
 * Errors: HENN_EINVAL, HENN_ERANGE, HENN_ENOMEM, HENN_ERNG. Timing:
 * independent of x and r. Cost: one fixed-base multiplication per element.
 */
HENN_API HENN_NODISCARD int henn_feip_encrypt(henn_feip_ct *ct, const henn_feip_mpk *mpk,
                                              const int64_t *x, size_t n);
/* henn_feip_encrypt_notab: the same without fixed-base tables (baseline). */
HENN_API HENN_NODISCARD int henn_feip_encrypt_notab(henn_feip_ct *ct, const henn_feip_mpk *mpk,
                                                    const int64_t *x, size_t n);
HENN_API void henn_feip_ct_clear(henn_feip_ct *ct);

/*
 * henn_feip_decrypt: v = <x, y> = dlog(sum y_i c_i - sk c_0), with a
 * multi-scalar multiplication over the signed y (mixed additions when the
 * points are affine, as henn_feip_encrypt and the deserializer leave them)
 * and the table dl: about 0.12 ms at n = 784, 15-bit y, results near 2^25
 * (medians 121-123 us, CPU 124 us, at load 11 on a 2-vCPU EPYC VM) where
 * the processor has AVX-512 IFMA (the MSM eight buckets at a time, sk c_0
 * with a point's four coordinates in four lanes); about 0.31-0.34 ms on the
 * 64-bit code otherwise. For many keys on one
 * ciphertext see henn_feip_ct_prep_init. Also HENN_EINVAL when dl was not
 * built.
 * Errors: HENN_EINVAL (lengths), HENN_ERANGE (|y_i| > Y, or the result is
 * outside [-B, B], which is also what a key for another y usually gives).
 * Timing: variable in y and v (public / output); constant in sk.
 */
HENN_API HENN_NODISCARD int henn_feip_decrypt(int64_t *v, const henn_feip_mpk *mpk,
                                              const henn_fe_dlog *dl, const henn_feip_ct *ct,
                                              const henn_feip_fk *fk, const int64_t *y,
                                              size_t n);
/* henn_feip_decrypt_naive: the same with one scalar multiplication per term
 * (baseline and differential tests). */
HENN_API HENN_NODISCARD int henn_feip_decrypt_naive(int64_t *v, const henn_feip_mpk *mpk,
                                                    const henn_fe_dlog *dl,
                                                    const henn_feip_ct *ct,
                                                    const henn_feip_fk *fk, const int64_t *y,
                                                    size_t n);

/*
 * Many keys, one ciphertext (CryptoNN: each sample's ciphertext is
 * decrypted with one key per first-layer row). henn_feip_ct_prep_init does
 * once per ciphertext what every decryption of it would repeat: the points
 * c_i and their shifts 2^(8 j) c_i made affine (one window of signed 8-bit
 * digits over n m points replaces m windows; m = 2 for |y_i| < 2^15) and a
 * fixed-base table for c_0 (sk c_0 then costs about 12 us instead of 48,
 * or 16 with AVX-512 IFMA).
 * Memory: about 2 m x 120 bytes per element plus 9 KiB (n = 784, 15-bit Y:
 * 376 KiB). Cost: about 1.9 ms at n = 784 against about 0.08 ms saved per
 * decryption on the 64-bit code (1.29x; CPU time on the loaded 2-vCPU VM),
 * so it pays from about 25 keys per ciphertext (CryptoNN's 784-128 layer
 * uses 128); with AVX-512 IFMA about 0.015-0.02 ms saved (102-107 against
 * 121-123 us), from about 100 keys.
 * Read-only after init: one prep may serve several threads. Not
 * serializable (rebuild it from the ciphertext).
 */
typedef struct henn_feip_ct_prep {
    size_t n;
    uint64_t y_bound; /* the mpk's Y it was built for */
    void *msm_;       /* internal */
    void *tab_;       /* internal: c_0's comb table */
    henn_fe_elem c0;  /* copy of c_0 */
} henn_feip_ct_prep;

/*
 * henn_feip_ct_prep_init: the precomputation of ct (length mpk->n) for keys
 * with |y_i| <= mpk->y_bound. Errors: HENN_EINVAL (NULL, empty ct, lengths
 * differ), HENN_EPARAM (libdecaf's layout is not the one henn reads, as
 * for henn_fe_dlog_init), HENN_ENOMEM. On error prep is zeroed.
 * Timing: variable only in the public ciphertext.
 */
HENN_API HENN_NODISCARD int henn_feip_ct_prep_init(henn_feip_ct_prep *prep,
                                                   const henn_feip_mpk *mpk,
                                                   const henn_feip_ct *ct);
/* henn_feip_ct_prep_clear: free; safe on a zeroed struct. */
HENN_API void henn_feip_ct_prep_clear(henn_feip_ct_prep *prep);

/*
 * henn_feip_decrypt_prep: henn_feip_decrypt on the ciphertext prep was
 * built from; same result. Errors: HENN_EINVAL (NULL, lengths, prep built
 * for another Y or not built, dl not built), HENN_ERANGE (|y_i| > Y, or the
 * result outside [-B, B]), HENN_EKEY, HENN_ENOMEM. Timing: variable in y
 * and v; constant in sk (libdecaf's fixed-base multiplication).
 */
HENN_API HENN_NODISCARD int henn_feip_decrypt_prep(int64_t *v, const henn_feip_mpk *mpk,
                                                   const henn_fe_dlog *dl,
                                                   const henn_feip_ct_prep *prep,
                                                   const henn_feip_fk *fk, const int64_t *y,
                                                   size_t n);

/*
 * Serialization. Each serializer allocates *buf (free it with henn_free).
 *  mpk: "HFEM" 01 | n u32 | X u64 | Y u64 | n points h_i
 *  msk: "HFES" 01 | n u32 | X u64 | Y u64 | n scalars s_i
 *  fk:  "HFEK" 01 | n u32 | scalar
 *  ct:  "HFEC" 01 | n u32 | n + 1 points
 * Deserializers check the magic, version, length, n in [1, HENN_FE_MAX_N],
 * bounds, every point (canonical encoding; h_i may not be the identity) and
 * every scalar (canonical, < l). Errors: HENN_EFORMAT, HENN_ENOMEM; the
 * output is zeroed on error. A deserialized mpk has its tables built. The
 * output is overwritten: clear it first if it holds an object.
 */
HENN_API HENN_NODISCARD int henn_feip_mpk_serialize(uint8_t **buf, size_t *buf_len,
                                                    const henn_feip_mpk *mpk);
HENN_API HENN_NODISCARD int henn_feip_mpk_deserialize(henn_feip_mpk *mpk, const uint8_t *buf,
                                                      size_t buf_len);
HENN_API HENN_NODISCARD int henn_feip_msk_serialize(uint8_t **buf, size_t *buf_len,
                                                    const henn_feip_msk *msk);
HENN_API HENN_NODISCARD int henn_feip_msk_deserialize(henn_feip_msk *msk, const uint8_t *buf,
                                                      size_t buf_len);
HENN_API HENN_NODISCARD int henn_feip_fk_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_feip_fk *fk);
HENN_API HENN_NODISCARD int henn_feip_fk_deserialize(henn_feip_fk *fk, const uint8_t *buf,
                                                     size_t buf_len);
HENN_API HENN_NODISCARD int henn_feip_ct_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_feip_ct *ct);
HENN_API HENN_NODISCARD int henn_feip_ct_deserialize(henn_feip_ct *ct, const uint8_t *buf,
                                                     size_t buf_len);

/* ------------------------------------------------------------------ */
/* FEIP on supports of a long ciphertext (the batch trick)             */

/*
 * A client may encrypt a whole batch matrix X [B x d] as ONE FEIP vector of
 * length n = B d (position b d + k holds X[b][k]) with one c_0. A key for a
 * support S (positions start + t stride, t = 0..m-1) and a vector y [m] is
 * the ordinary FEIP key of the length-n vector that holds y on S and 0
 * elsewhere: sk = <s_S, y>. Decrypting it reveals <x_S, y> and nothing
 * else (it is a key of the unchanged scheme, so s-IND-CPA still covers it):
 * "row w_j on sample b" is S = (b, .) (start b d, stride 1, m = d);
 * "delta_j on feature k" is S = (., k) (start k, stride d, m = B). What
 * changes against one ciphertext per sample: all keys share one c_0 (one
 * randomness r per batch), which lets the decryptor precompute a table
 * for c_0 (henn_feip_ct0_tab) so that sk c_0 costs a fixed-base instead of
 * a variable-base multiplication.
 *
 * Long mpks: for n > HENN_FE_TAB_MAX_N the mpk keeps no per-h_i comb tables
 * (they would take 9 KiB each); encryption then uses a variable-base
 * multiplication per element (about 35 us instead of 13 us) and, with
 * henn_feip_encrypt_mt, several threads.
 */
#define HENN_FE_TAB_MAX_N 8192

/*
 * henn_feip_derive_key_sub: fk = <s_S, y> mod l for the support S =
 * {start + t stride : t < m} of msk's length n, y: [m], |y_i| <= Y.
 * fk->n = n (the key is for the full-length ciphertext). Computed as exact
 * integer sums of 32-bit limbs of the s_i times y (one reduction per key),
 * about 3 ns per term.
 * Errors: HENN_EINVAL (NULL, m = 0, stride = 0, S not inside [0, n)),
 * HENN_ERANGE (|y_i| > Y). On error fk is zeroed.
 * Timing: independent of s (branches on the sign of the public y only).
 */
HENN_API HENN_NODISCARD int henn_feip_derive_key_sub(henn_feip_fk *fk, const henn_feip_msk *msk,
                                                     const int64_t *y, size_t m, size_t start,
                                                     size_t stride);

/* A fixed-base table for one ciphertext's c_0: every k 32^w c_0 (k = 1..16,
 * w < 51) in affine form, about 96 KiB, built in about 0.3 ms (src/fe/
 * fixedbase.c; on a libdecaf build whose limb layout henn does not know,
 * libdecaf's own comb, about 9 KiB). sk c_0 then costs 51 mixed additions
 * and no doubling, constant time in sk; the decryptions of many keys
 * (henn_feip_decrypt_shared, _idx_many) do eight keys at a time with
 * AVX-512 IFMA where the processor has it (about 1.5 us per key against
 * 12-16 us for libdecaf's comb). The table holds only multiples of the
 * public c_0. It keeps a copy of c_0 to check it is used with its own
 * ciphertext. Read-only after init: safe to share between threads. */
typedef struct henn_feip_ct0_tab {
    void *tab_;
    henn_fe_elem c0;
} henn_feip_ct0_tab;

/*
 * henn_feip_ct0_tab_init: the table of ct's c_0. Errors: HENN_EINVAL (NULL,
 * ct empty), HENN_ENOMEM; on error tab is zeroed.
 */
HENN_API HENN_NODISCARD int henn_feip_ct0_tab_init(henn_feip_ct0_tab *tab,
                                                   const henn_feip_ct *ct);
/* henn_feip_ct0_tab_clear: free; safe on a zeroed struct. */
HENN_API void henn_feip_ct0_tab_clear(henn_feip_ct0_tab *tab);

/*
 * henn_feip_decrypt_sub: v = <x_S, y> for a key from henn_feip_derive_key_sub
 * on the same support S = {start + t stride : t < m} of ct (length n =
 * mpk->n = fk->n). tab: the c_0 table of this ct (NULL: a variable-base
 * multiplication; a table of another ciphertext is HENN_EINVAL). y: [m].
 * Cost at m = 784: the multi-scalar multiplication as henn_feip_decrypt
 * plus about 12 us for sk c_0 with the table (one key: the 64-bit comb);
 * at m = 64 with stride > 1
 * the m points are first gathered.
 * Errors: HENN_EINVAL (NULL, lengths, support outside [0, n), wrong tab,
 * dl not built), HENN_ERANGE (|y_i| > Y, or the result outside [-B, B]:
 * what a key for another y or support usually gives), HENN_ENOMEM,
 * HENN_EKEY. Timing: variable in y and v; constant in sk.
 */
HENN_API HENN_NODISCARD int henn_feip_decrypt_sub(int64_t *v, const henn_feip_mpk *mpk,
                                                  const henn_fe_dlog *dl,
                                                  const henn_feip_ct *ct,
                                                  const henn_feip_ct0_tab *tab,
                                                  const henn_feip_fk *fk, const int64_t *y,
                                                  size_t m, size_t start, size_t stride);

/*
 * Supports given as an explicit index list (a 5 x 5 patch of an image, or
 * the shifted positions of a correlation inside a batch of images):
 * S = {idx[t] : t < m}, idx strictly increasing and below n.
 * henn_feip_derive_key_idx: the key of the length-n vector holding y[t] at
 * idx[t] and zeros elsewhere (the scheme's own key; the authority sees y
 * and idx). henn_feip_decrypt_idx: <x_S, y> from a key for the same (y, S)
 * (points gathered, then as henn_feip_decrypt_sub).
 * Errors: HENN_EINVAL (NULL, m 0, idx not strictly increasing or out of
 * range, lengths, wrong tab, dl not built), HENN_ERANGE (|y_t| > Y, or the
 * result outside [-B, B]: what a key for another y or support usually
 * gives), HENN_ENOMEM, HENN_EKEY. Timing: derivation independent of s;
 * decryption variable in y, idx and v, constant in sk.
 */
HENN_API HENN_NODISCARD int henn_feip_derive_key_idx(henn_feip_fk *fk, const henn_feip_msk *msk,
                                                     const int64_t *y, const size_t *idx,
                                                     size_t m);
HENN_API HENN_NODISCARD int henn_feip_decrypt_idx(int64_t *v, const henn_feip_mpk *mpk,
                                                  const henn_fe_dlog *dl,
                                                  const henn_feip_ct *ct,
                                                  const henn_feip_ct0_tab *tab,
                                                  const henn_feip_fk *fk, const int64_t *y,
                                                  const size_t *idx, size_t m);

/*
 * henn_feip_decrypt_idx_many: cnt decryptions on index-list supports of the
 * same ct, v[k] = <x_{S_k}, y_k> with key fk[k], y_k = y + k m and S_k =
 * idx + k m (each strictly increasing, all of length m). tab (required) is
 * ct's c_0 table. Same results and errors as cnt calls of
 * henn_feip_decrypt_idx; faster for many small results: the points are
 * normalised together and a table hit is checked with a windowed table of
 * g multiples; results beyond the first giant step take the ordinary path.
 * On error every v[k] is 0. Timing: variable in y, idx and v, constant in
 * the keys.
 */
HENN_API HENN_NODISCARD int henn_feip_decrypt_idx_many(int64_t *v, const henn_feip_mpk *mpk,
                                                       const henn_fe_dlog *dl,
                                                       const henn_feip_ct *ct,
                                                       const henn_feip_ct0_tab *tab,
                                                       const henn_feip_fk *fk, const int64_t *y,
                                                       const size_t *idx, size_t m, size_t cnt);

/*
 * henn_feip_decrypt_shared: cnt decryptions on ONE index-list support of
 * the same ct: v[k] = <x_S, y_k> with key fk[k] (from
 * henn_feip_derive_key_idx or _sub for S), y_k = y + k m ([cnt x m],
 * row-major) and S = idx[0..m) (strictly increasing, below n = mpk->n).
 * tab (required) is ct's c_0 table. CryptoNN's backward pass (one pixel
 * column of a batch, m = 64, a key per hidden unit) and forward pass (one
 * sample, m = 784, a key per row of W1). The work that depends only on the
 * points is shared: the points are gathered (and made affine) once; then
 * sk_k c_0 with the table and the discrete logarithms of all cnt points
 * together (henn_fe_dlog_solve_many). Each result is
 * confined to its exact bound |v[k]| <= X sum_t |y_k[t]| (X = mpk->x_bound,
 * at most the dlog bound B): a result outside it is HENN_ERANGE, never a
 * wrong value. Same results as cnt calls of henn_feip_decrypt_idx.
 * Errors: HENN_EINVAL (NULL, m or cnt 0, idx not strictly increasing or out
 * of range, fk[k].n != n, tab missing or of another ciphertext, dl not
 * built), HENN_ERANGE (|y| > Y, or a result outside its bound: what a key
 * for another y or support usually gives), HENN_EKEY, HENN_ENOMEM; on
 * error every v[k] is 0. Memory: about 2.3 KiB per point of S and 300
 * bytes per key. Timing: variable in y, idx and v (public / output), constant in the
 * keys. Thread safety: reads ct, tab, dl and mpk only; several threads may
 * decrypt the same ciphertext at once.
 */
HENN_API HENN_NODISCARD int henn_feip_decrypt_shared(int64_t *v, const henn_feip_mpk *mpk,
                                                     const henn_fe_dlog *dl,
                                                     const henn_feip_ct *ct,
                                                     const henn_feip_ct0_tab *tab,
                                                     const henn_feip_fk *fk, const int64_t *y,
                                                     const size_t *idx, size_t m, size_t cnt);

/*
 * henn_feip_encrypt_mt: henn_feip_encrypt on `threads` threads (0 or 1:
 * the calling thread only); one r for the whole vector, as always. The
 * same errors; the same ciphertext distribution.
 */
HENN_API HENN_NODISCARD int henn_feip_encrypt_mt(henn_feip_ct *ct, const henn_feip_mpk *mpk,
                                                 const int64_t *x, size_t n, unsigned threads);
/* henn_feip_ct_serialize_mt: henn_feip_ct_serialize encoding the points on
 * `threads` threads (about 8 us per point). */
HENN_API HENN_NODISCARD int henn_feip_ct_serialize_mt(uint8_t **buf, size_t *buf_len,
                                                      const henn_feip_ct *ct, unsigned threads);
/*
 * henn_feip_ct_deserialize_mt: henn_feip_ct_deserialize decoding the points
 * on `threads` threads (each point costs about 8 us to decode and check).
 */
HENN_API HENN_NODISCARD int henn_feip_ct_deserialize_mt(henn_feip_ct *ct, const uint8_t *buf,
                                                        size_t buf_len, unsigned threads);

/* ------------------------------------------------------------------ */
/* FEBO                                                                */

typedef enum { HENN_FEBO_ADD = 1, HENN_FEBO_SUB, HENN_FEBO_MUL, HENN_FEBO_DIV } henn_febo_op;

typedef struct henn_febo_mpk {
    uint64_t x_bound, y_bound;
    henn_fe_elem h; /* s g */
} henn_febo_mpk;

typedef struct henn_febo_msk {
    uint64_t x_bound, y_bound;
    uint8_t s[HENN_FE_SCALARBYTES]; /* secret */
} henn_febo_msk;

typedef struct henn_febo_ct {
    henn_fe_elem cmt; /* r g */
    henn_fe_elem c;   /* r h + x g */
} henn_febo_ct;

/* A key for (op, y), bound to one ciphertext's commitment. */
typedef struct henn_febo_fk {
    int op;
    int64_t y;
    henn_fe_elem k;
} henn_febo_fk;

/*
 * henn_febo_setup: s random, h = s g; bounds as for FEIP (X * Y < 2^62).
 * Errors: HENN_EINVAL, HENN_ERANGE, HENN_ERNG.
 */
HENN_API HENN_NODISCARD int henn_febo_setup(henn_febo_mpk *mpk, henn_febo_msk *msk,
                                            uint64_t x_bound, uint64_t y_bound);
HENN_API void henn_febo_msk_clear(henn_febo_msk *msk);
/* henn_febo_encrypt: |x| <= X. Errors: HENN_ERANGE, HENN_ERNG. */
HENN_API HENN_NODISCARD int henn_febo_encrypt(henn_febo_ct *ct, const henn_febo_mpk *mpk,
                                              int64_t x);
/*
 * henn_febo_derive_key: the key for op with y, bound to ct's commitment:
 * add s cmt - y g; sub s cmt + y g; mul (s y) cmt; div (s / y) cmt.
 * Errors: HENN_EINVAL (op, y = 0 for div), HENN_ERANGE (|y| > Y).
 */
HENN_API HENN_NODISCARD int henn_febo_derive_key(henn_febo_fk *fk, const henn_febo_msk *msk,
                                                 const henn_febo_ct *ct, int op, int64_t y);
/*
 * henn_febo_decrypt: x + y, x - y, x * y or x / y. Division is defined only
 * when y divides x; otherwise, and for a key bound to another ciphertext,
 * the group element is not a small multiple of g and the result is
 * HENN_ERANGE (with overwhelming probability; never a wrong quotient, since
 * B * Y < l / 2). Errors: HENN_EINVAL, HENN_ERANGE.
 */
HENN_API HENN_NODISCARD int henn_febo_decrypt(int64_t *v, const henn_febo_mpk *mpk,
                                              const henn_fe_dlog *dl, const henn_febo_ct *ct,
                                              const henn_febo_fk *fk);

/*
 * FEBO formats (fixed sizes):
 *  mpk: "HFBM" 01 | X u64 | Y u64 | point h               (53 bytes)
 *  msk: "HFBS" 01 | X u64 | Y u64 | scalar s              (53 bytes)
 *  ct:  "HFBC" 01 | point cmt | point c                   (69 bytes)
 *  fk:  "HFBK" 01 | op u8 | y i64 | point k               (46 bytes)
 * Errors: HENN_EFORMAT (length, magic, op, point or scalar not canonical).
 */
#define HENN_FEBO_MPK_BYTES 53
#define HENN_FEBO_MSK_BYTES 53
#define HENN_FEBO_CT_BYTES 69
#define HENN_FEBO_FK_BYTES 46
HENN_API void henn_febo_mpk_serialize(uint8_t out[HENN_FEBO_MPK_BYTES], const henn_febo_mpk *mpk);
HENN_API HENN_NODISCARD int henn_febo_mpk_deserialize(henn_febo_mpk *mpk, const uint8_t *buf,
                                                      size_t buf_len);
HENN_API void henn_febo_msk_serialize(uint8_t out[HENN_FEBO_MSK_BYTES], const henn_febo_msk *msk);
HENN_API HENN_NODISCARD int henn_febo_msk_deserialize(henn_febo_msk *msk, const uint8_t *buf,
                                                      size_t buf_len);
HENN_API void henn_febo_ct_serialize(uint8_t out[HENN_FEBO_CT_BYTES], const henn_febo_ct *ct);
HENN_API HENN_NODISCARD int henn_febo_ct_deserialize(henn_febo_ct *ct, const uint8_t *buf,
                                                     size_t buf_len);
HENN_API void henn_febo_fk_serialize(uint8_t out[HENN_FEBO_FK_BYTES], const henn_febo_fk *fk);
HENN_API HENN_NODISCARD int henn_febo_fk_deserialize(henn_febo_fk *fk, const uint8_t *buf,
                                                     size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif
