/*
 * henn/ckks.h: full-RNS CKKS approximate homomorphic encryption.
 * Cheon, Kim, Kim, Song, "Homomorphic Encryption for Arithmetic of
 * Approximate Numbers" (ASIACRYPT 2017), in the RNS variant of Cheon, Han,
 * Kim, Kim, Song, "A Full RNS Variant of Approximate Homomorphic Encryption"
 * (SAC 2018), with hybrid key switching through one special prime P
 * (as Microsoft SEAL does) and balanced (centred) key-switching digits.
 *
 * Workflow
 *  1. henn_ckks_params_init(): ring degree N (4096..65536) and a chain of
 *     prime bit sizes, as SEAL's CoeffModulus::Create(N, {60, 40, 40, 60}):
 *     the first count - 1 primes are the data primes q_0..q_{L-1}, the last
 *     one is the special prime P used only by key switching. Parameters
 *     beyond the HomomorphicEncryption.org 128-bit table are refused with
 *     HENN_EPARAM unless HENN_CKKS_INSECURE is passed (tests only).
 *  2. The key holder calls henn_ckks_keygen() (secret key sk, public key pk),
 *     henn_ckks_relin_keygen() and henn_ckks_galois_keygen().
 *  3. Vectors of up to N/2 real (or complex) numbers are encoded into a
 *     plaintext at a scale Delta (henn_ckks_encode()) and encrypted with the
 *     public key or, by the key holder, symmetrically with a seed-compressed
 *     uniform polynomial a.
 *  4. Anyone with the evaluation keys adds, multiplies, relinearises,
 *     rescales and rotates ciphertexts; levels and scales are tracked exactly
 *     and mismatches are errors (HENN_EINVAL), never silently wrong results
 *     (henn_ckks_align_levels and henn_ckks_match_scale line inputs up).
 *  5. The key holder decrypts and decodes.
 *
 * Levels: a ciphertext at level l lives modulo Q_l = q_0 * ... * q_l; fresh
 * ciphertexts are at level L - 1, and every rescale divides by q_l and
 * drops one level. Polynomials are kept in the NTT domain.
 *
 * Objects are caller-allocated structs, zero-initialise them or call the
 * _init functions; _clear is safe on a zeroed struct and wipes secrets.
 * Every object keeps a pointer to the henn_ckks_params it was made with: the
 * params object must outlive it and must not move. The serialised formats,
 * not these struct layouts, are the stable interface.
 *
 * Thread safety: params and keys are read-only after they are built and may
 * be shared by threads; an object written by a call must not be used by
 * another thread during that call. Key switching and rescale can split
 * their per-limb work over threads of their own (henn_ckks_params_set_threads,
 * default 1); the calling thread then waits for them, and the results are
 * bitwise the same as on one thread.
 */
#ifndef HENN_CKKS_H
#define HENN_CKKS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Smallest and largest log2 of the ring degree N. */
#define HENN_CKKS_MIN_LOGN 12
#define HENN_CKKS_MAX_LOGN 16
/* Most primes in a chain (data primes plus the special prime). */
#define HENN_CKKS_MAX_PRIMES 64
/* Bit sizes accepted for one prime (each prime is below 2^61). */
#define HENN_CKKS_MIN_PRIME_BITS 17
#define HENN_CKKS_MAX_PRIME_BITS 60
/* Bytes of the seed that stands for the uniform polynomial a of a
 * symmetric ciphertext. */
#define HENN_CKKS_SEEDBYTES 32

/* Flags for henn_ckks_params_init. */
/* Accept parameters beyond the 128-bit security table (tests only). */
#define HENN_CKKS_INSECURE 1u

struct henn__ckks_tables; /* NTT and encoder tables, opaque */

/*
 * Parameters. N: ring degree; L: number of data primes; q[0..L-1]: the data
 * primes, q[L]: the special prime P; bits[i]: the requested bit size of
 * q[i]; log2_pq: log2 of the product of all L + 1 primes. Filled by
 * henn_ckks_params_init(); read-only afterwards.
 */
typedef struct henn_ckks_params {
    size_t N;
    size_t logN;
    size_t L;
    uint64_t q[HENN_CKKS_MAX_PRIMES];
    int bits[HENN_CKKS_MAX_PRIMES];
    double log2_pq;
    unsigned flags;
    struct henn__ckks_tables *tables;
    /* Threads the evaluation may use (henn_ckks_params_set_threads): 1 after
     * henn_ckks_params_init, 0 = the online CPUs. */
    unsigned threads;
} henn_ckks_params;

/*
 * henn_ckks_params_init: choose primes and build the NTT and encoder tables.
 *  N:         ring degree, a power of two in [2^12, 2^16].
 *  bit_sizes: count sizes in bits, each in [17, 60]; the last is the special
 *             prime P, which should be at least as large as every data prime
 *             (key-switching noise is divided by P).
 *  count:     2 .. HENN_CKKS_MAX_PRIMES.
 *  flags:     0 or HENN_CKKS_INSECURE.
 * Primes are chosen as SEAL 4.4 does (deterministic): for each distinct bit
 * size b, candidates start at floor((2^b - 1) / 2N) * 2N + 1 and step down
 * by 2N; with c occurrences of b, the first c primes found are handed out
 * in increasing order (the first occurrence gets the smallest, as SEAL's
 * known answers show). log2(P*Q) is the real sum of log2 q_i, which is at
 * most the sum of the bit sizes that SEAL compares with the table.
 * Returns 0; HENN_EINVAL for a bad N, count or bit size, or too few primes
 * of a size; HENN_EPARAM when log2(P*Q) exceeds the HomomorphicEncryption.org
 * 128-bit bound for N (4096: 109, 8192: 218, 16384: 438, 32768: 881,
 * 65536: 1772) without HENN_CKKS_INSECURE; HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_ckks_params_init(henn_ckks_params *params, size_t N,
                                                  const int *bit_sizes, size_t count,
                                                  unsigned flags);

/*
 * henn_ckks_params_set_threads: how many threads key switching
 * (relinearise, rotate, conjugate, rotate_sum) and rescale may use for
 * every object made with params: 1 (the default after
 * henn_ckks_params_init and deserialisation) runs on the calling thread,
 * 0 means the number of online CPUs, k > 1 at most k threads (the caller
 * is one of them; helper threads are started per call and joined before it
 * returns). The work is split over RNS limbs and only when it is large
 * enough: key switching when N x (level + 1) >= 16384 (N = 4096 at two
 * limbs stays on one thread), rescale when N x size x level >= 131072
 * (N = 16384 from level 4 for size 2). On a machine whose cores are busy
 * with other work, more threads can be slower than one: each pass waits
 * for its slowest item. Results are bitwise identical for every thread count (exact
 * modular arithmetic; tests compare them).
 * Thread safety: this writes params; call it before params are shared, or
 * while no other thread uses them. The library keeps no global state: two
 * params objects may use different counts at the same time.
 * Returns 0, or HENN_EINVAL for a NULL or unbuilt params.
 */
HENN_API HENN_NODISCARD int henn_ckks_params_set_threads(henn_ckks_params *params,
                                                         unsigned threads);

/* henn_ckks_params_clear: free the tables; safe on a zeroed struct. */
HENN_API void henn_ckks_params_clear(henn_ckks_params *params);

/*
 * henn_ckks_max_log2_pq: the HomomorphicEncryption.org 128-bit bound on
 * log2(P*Q) for ring degree N (ternary secret, classical attacks), or 0 for
 * an unsupported N.
 */
HENN_API int henn_ckks_max_log2_pq(size_t N);

/*
 * Plaintext: an encoded vector. level: the plaintext lives modulo
 * q_0..q_level; scale: Delta, the factor the values were multiplied by;
 * data: (level + 1) x N residues in the NTT domain, limb-major.
 */
typedef struct henn_ckks_pt {
    const henn_ckks_params *params;
    size_t level;
    double scale;
    uint64_t *data;
    size_t alloc; /* uint64_t words allocated */
} henn_ckks_pt;

/*
 * Ciphertext: size polynomials (2, or 3 after a multiplication without
 * relinearisation), each (level + 1) x N residues in the NTT domain; the
 * residues of polynomial c, prime i start at data + (c * (level + 1) + i) * N.
 * Decrypts to sum_c data_c * s^c.
 */
typedef struct henn_ckks_ct {
    const henn_ckks_params *params;
    size_t size;
    size_t level;
    double scale;
    uint64_t *data;
    size_t alloc; /* uint64_t words allocated */
} henn_ckks_ct;

/* Secret key: a uniform ternary s, stored in the NTT domain modulo every
 * prime including P ((L + 1) x N words). Wiped on clear. */
typedef struct henn_ckks_sk {
    const henn_ckks_params *params;
    uint64_t *s;
} henn_ckks_sk;

/* Public key (b, a) = (-a s + e, a) modulo all L + 1 primes (data primes
 * and P, so that encryption can work modulo Q P and divide the noise by P,
 * as SEAL does), NTT domain: data holds 2 x (L + 1) x N words (b first). */
typedef struct henn_ckks_pk {
    const henn_ckks_params *params;
    uint64_t *data;
} henn_ckks_pk;

/*
 * Key-switching key from s' to s, one digit per data prime j (hybrid key
 * switching): (-a_j s + e_j + P s' [i == j] mod q_i, a_j) over the primes
 * q_0..q_{L-1}, P. data holds L x 2 x (L + 1) x N words, NTT domain:
 * digit j, component c, prime i at data + ((j * 2 + c) * (L + 1) + i) * N.
 */
typedef struct henn_ckks_ksk {
    const henn_ckks_params *params;
    uint64_t *data;
} henn_ckks_ksk;

/* Relinearisation key: key switching from s^2 to s. */
typedef struct henn_ckks_relin_key {
    henn_ckks_ksk ksk;
} henn_ckks_relin_key;

/*
 * Galois keys: count key-switching keys from s(X^g) to s, for the Galois
 * elements elts[0..count-1] (odd, below 2N; rotation by k slots to the left
 * is g = 3^k mod 2N, conjugation is 2N - 1).
 */
typedef struct henn_ckks_galois_keys {
    const henn_ckks_params *params;
    size_t count;
    uint32_t *elts;
    henn_ckks_ksk *keys;
} henn_ckks_galois_keys;

/* ---- plaintexts and ciphertexts ---------------------------------------- */

/* henn_ckks_pt_clear / henn_ckks_ct_clear: free (and wipe) the data; safe on
 * a zeroed struct. The struct is left zeroed and may be reused. */
HENN_API void henn_ckks_pt_clear(henn_ckks_pt *pt);
HENN_API void henn_ckks_ct_clear(henn_ckks_ct *ct);

/* henn_ckks_ct_copy: dst = src (dst may be a zeroed struct or hold another
 * ciphertext). Returns 0 or HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_ckks_ct_copy(henn_ckks_ct *dst, const henn_ckks_ct *src);

/* ---- encoding ------------------------------------------------------------ */

/*
 * henn_ckks_encode: encode count real values (count <= N/2; the rest of the
 * slots are 0) at scale Delta = scale and level `level` (<= L - 1) through
 * the canonical embedding: slot i is the value at the root zeta^(3^i mod 2N)
 * of X^N + 1, zeta = exp(i pi / N) (docs/CKKS.md). pt may be zeroed or hold a plaintext.
 * Returns 0; HENN_EINVAL (count, level, scale not positive or not finite);
 * HENN_ERANGE when a scaled coefficient does not fit below Q_level / 2 or in
 * the encoder's exact range (|coefficient| < 2^126); HENN_ENOMEM.
 * Timing: depends on the values (floating point), not on any key.
 */
HENN_API HENN_NODISCARD int henn_ckks_encode(henn_ckks_pt *pt, const henn_ckks_params *params,
                                             const double *values, size_t count, double scale,
                                             size_t level);

/* henn_ckks_encode_complex: as henn_ckks_encode, with count complex values
 * given as re_im[2 * i] + i * re_im[2 * i + 1]. */
HENN_API HENN_NODISCARD int henn_ckks_encode_complex(henn_ckks_pt *pt,
                                                     const henn_ckks_params *params,
                                                     const double *re_im, size_t count,
                                                     double scale, size_t level);

/*
 * henn_ckks_decode: the first count (<= N/2) slots of pt as real numbers
 * (imaginary parts dropped). Returns 0, HENN_EINVAL or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_ckks_decode(double *values, size_t count,
                                             const henn_ckks_pt *pt);

/* henn_ckks_decode_complex: count complex slots into re_im[2 * count]. */
HENN_API HENN_NODISCARD int henn_ckks_decode_complex(double *re_im, size_t count,
                                                     const henn_ckks_pt *pt);

/* ---- keys -------------------------------------------------------------- */

/*
 * henn_ckks_keygen: s uniform ternary, pk = (-a s + e, a), e from the
 * centred binomial distribution with sigma about 3.24 (k = 21), all from
 * the OS CSPRNG. Returns 0, HENN_EINVAL, HENN_ERNG or HENN_ENOMEM.
 * Timing: independent of s and e.
 */
HENN_API HENN_NODISCARD int henn_ckks_keygen(henn_ckks_sk *sk, henn_ckks_pk *pk,
                                             const henn_ckks_params *params);

/* henn_ckks_relin_keygen: the relinearisation key for sk. */
HENN_API HENN_NODISCARD int henn_ckks_relin_keygen(henn_ckks_relin_key *rk,
                                                   const henn_ckks_sk *sk);

/*
 * henn_ckks_galois_keygen: Galois keys for rotations by steps[0..count-1]
 * slots (negative: to the right) and, if conjugate is nonzero, for complex
 * conjugation. With steps == NULL and count == 0: the default set, +-2^i for
 * 2^i < N/2, and conjugation. Returns 0, HENN_EINVAL, HENN_ERNG, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_ckks_galois_keygen(henn_ckks_galois_keys *gk,
                                                    const henn_ckks_sk *sk, const int *steps,
                                                    size_t count, int conjugate);

HENN_API void henn_ckks_sk_clear(henn_ckks_sk *sk);
HENN_API void henn_ckks_pk_clear(henn_ckks_pk *pk);
HENN_API void henn_ckks_relin_key_clear(henn_ckks_relin_key *rk);
HENN_API void henn_ckks_galois_keys_clear(henn_ckks_galois_keys *gk);

/* ---- encryption ---------------------------------------------------------- */

/*
 * henn_ckks_encrypt: public-key encryption of pt: (v b + e0, v a + e1)
 * computed modulo Q_level * P with v ternary and e0, e1 centred binomial,
 * divided by P with rounding, plus m; at pt's level and scale.
 * Returns 0, HENN_EINVAL (pt from other params), HENN_ERNG or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_ckks_encrypt(henn_ckks_ct *ct, const henn_ckks_pk *pk,
                                              const henn_ckks_pt *pt);

/*
 * henn_ckks_encrypt_symmetric: (-a s + e + m, a) with a expanded from a
 * fresh random seed; seed (may be NULL) receives the HENN_CKKS_SEEDBYTES
 * seed so that a serialiser can store it instead of a.
 */
HENN_API HENN_NODISCARD int henn_ckks_encrypt_symmetric(henn_ckks_ct *ct,
                                                        uint8_t seed[HENN_CKKS_SEEDBYTES],
                                                        const henn_ckks_sk *sk,
                                                        const henn_ckks_pt *pt);

/*
 * henn_ckks_decrypt: pt = sum_c ct_c s^c at ct's level and scale (size 2 or
 * 3). Returns 0, HENN_EINVAL or HENN_ENOMEM. Timing: independent of s.
 */
HENN_API HENN_NODISCARD int henn_ckks_decrypt(henn_ckks_pt *pt, const henn_ckks_sk *sk,
                                              const henn_ckks_ct *ct);

/* ---- evaluation ----------------------------------------------------------
 * Unless stated otherwise: out may alias an input; inputs must share params,
 * level and scale (relative difference below 2^-20), else HENN_EINVAL; the
 * functions return 0, HENN_EINVAL or HENN_ENOMEM. */

HENN_API HENN_NODISCARD int henn_ckks_add(henn_ckks_ct *out, const henn_ckks_ct *a,
                                          const henn_ckks_ct *b);
HENN_API HENN_NODISCARD int henn_ckks_sub(henn_ckks_ct *out, const henn_ckks_ct *a,
                                          const henn_ckks_ct *b);
HENN_API HENN_NODISCARD int henn_ckks_negate(henn_ckks_ct *out, const henn_ckks_ct *a);
HENN_API HENN_NODISCARD int henn_ckks_add_plain(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                const henn_ckks_pt *b);
HENN_API HENN_NODISCARD int henn_ckks_sub_plain(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                const henn_ckks_pt *b);
/* Adds the constant c to every slot (encoded at a's scale and level);
 * HENN_ERANGE if c * scale does not fit. */
HENN_API HENN_NODISCARD int henn_ckks_add_const(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                double c);

/* Subtracts the constant c from every slot (as henn_ckks_add_const with
 * -c); HENN_ERANGE if c * scale does not fit. */
HENN_API HENN_NODISCARD int henn_ckks_sub_const(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                double c);

/*
 * Mismatched levels and scales. Binary operations refuse inputs at other
 * levels or scales (HENN_EINVAL); these helpers line them up explicitly.
 *
 * henn_ckks_align_levels: mod-switch (in place) whichever of a and b is at
 * the higher level down to the other's level; scales are unchanged, the
 * value is unchanged (no noise added). a and b may be the same object.
 * Returns 0, or HENN_EINVAL (NULL or unbuilt ciphertexts, other params).
 */
HENN_API HENN_NODISCARD int henn_ckks_align_levels(henn_ckks_ct *a, henn_ckks_ct *b);

/*
 * henn_ckks_match_scale: out = a, with its scale moved to (almost exactly)
 * `scale`, at the cost of one level: a is multiplied by the integer
 * k = round(scale * q_l / a.scale) (l = a.level) and rescaled, so out is at
 * level l - 1 with scale a.scale * k / q_l, which differs from `scale` by a
 * relative 1 / (2k) at most (exact scale tracking: the value itself gets
 * only the rescale rounding). Use it on the ciphertext with the smaller
 * scale ratio, then henn_ckks_align_levels, then add. Requires level >= 1
 * and 2^20 <= k < q_0 / 2 (so that the scales then agree within the 2^-20
 * the binary operations allow). Returns 0; HENN_EINVAL (a at level 0,
 * scale not finite or not positive); HENN_ERANGE (k out of range: the
 * scales are too far apart for one step); HENN_ENOMEM. out may alias a.
 */
HENN_API HENN_NODISCARD int henn_ckks_match_scale(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                  double scale);

/* Tensor product, size 3 (inputs of size 2); scale = a.scale * b.scale. */
HENN_API HENN_NODISCARD int henn_ckks_multiply(henn_ckks_ct *out, const henn_ckks_ct *a,
                                               const henn_ckks_ct *b);
/* out = a * pt; scale = a.scale * pt.scale (levels must match). */
HENN_API HENN_NODISCARD int henn_ckks_multiply_plain(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                     const henn_ckks_pt *pt);
/* Multiply every slot by c encoded at scale `scale` (out.scale = a.scale *
 * scale); HENN_ERANGE if c * scale does not fit below q_0 / 2. */
HENN_API HENN_NODISCARD int henn_ckks_multiply_const(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                     double c, double scale);
/* Multiply by an integer without using a level (scale unchanged). */
HENN_API HENN_NODISCARD int henn_ckks_multiply_int(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                   int64_t k);
/* out = a * a (size 3). */
HENN_API HENN_NODISCARD int henn_ckks_square(henn_ckks_ct *out, const henn_ckks_ct *a);

/* Size 3 -> 2 with the relinearisation key (HENN_EINVAL for a size-2
 * input or a key made with other params). */
HENN_API HENN_NODISCARD int henn_ckks_relinearize(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                  const henn_ckks_relin_key *rk);
/* Divide by q_level with rounding: level - 1, scale / q_level. HENN_EINVAL
 * at level 0. */
HENN_API HENN_NODISCARD int henn_ckks_rescale(henn_ckks_ct *out, const henn_ckks_ct *a);
/* Drop primes down to `level` without scaling (level <= a.level). */
HENN_API HENN_NODISCARD int henn_ckks_mod_switch(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                 size_t level);
/* Same for a plaintext. */
HENN_API HENN_NODISCARD int henn_ckks_pt_mod_switch(henn_ckks_pt *out, const henn_ckks_pt *a,
                                                    size_t level);

/*
 * henn_ckks_rotate: rotate the slots by steps to the left (negative: right),
 * |steps| < N/2. Uses the Galois key for the element if present, otherwise
 * composes rotations by keys that exist: the fewest key switches that add
 * up to steps modulo N/2 (breadth-first search over the rotation keys; with
 * the default +-2^i keys, the non-adjacent form of steps, e.g. 5 = 4 + 1).
 * Each key switch adds its noise and costs a full key switch, so a chain
 * longer than HENN_CKKS_MAX_ROTATION_SWITCHES(logN) = 2 log2(N) switches is
 * refused (with only a +2 key, a rotation by -4 at N = 4096 would take
 * 1,022): generate a key for the step, or the default keys (at most
 * about log2(N) / 2 + 1 switches). HENN_EKEY when no combination of keys
 * gives the rotation within that bound; HENN_EINVAL for a size-3 input.
 */
#define HENN_CKKS_MAX_ROTATION_SWITCHES(logN) (2 * (logN))
HENN_API HENN_NODISCARD int henn_ckks_rotate(henn_ckks_ct *out, const henn_ckks_ct *a, int steps,
                                             const henn_ckks_galois_keys *gk);
/* Complex conjugation of every slot; HENN_EKEY without its key. */
HENN_API HENN_NODISCARD int henn_ckks_conjugate(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                const henn_ckks_galois_keys *gk);
/*
 * henn_ckks_rotate_sum: out = sum_{k=0}^{width-1} rotate(a, k): slot 0 holds
 * the sum of slots 0..width-1 (width a power of two, <= N/2), by log2(width)
 * rotations and additions (each as henn_ckks_rotate, so under its bound on
 * composed key switches: have keys for the powers of two, as the default
 * set does).
 */
HENN_API HENN_NODISCARD int henn_ckks_rotate_sum(henn_ckks_ct *out, const henn_ckks_ct *a,
                                                 size_t width,
                                                 const henn_ckks_galois_keys *gk);

/* ---- serialisation --------------------------------------------------------
 * Versioned binary formats (docs/CKKS.md, "Formats"); these bytes, not the
 * structs, are the stable interface. All integers little-endian:
 *   "HENNCKKS" | version u8 (1) | type u8 (HENN_CKKS_OBJ_*) | reserved u16 (0)
 *   then, for every object but params, the params fingerprint (16 bytes),
 *   then the object's fields. Residues are stored in the NTT domain, each in
 *   ceil(bits(q_i) / 8) bytes, and must be below their prime q_i.
 * Serialisers allocate *buf (release with henn_free(buf, buf_len), which
 * wipes it) and return 0, HENN_EINVAL (a NULL or unbuilt object) or
 * HENN_ENOMEM; on error *buf is NULL and *buf_len 0.
 * Deserialisers take the params the object was made with (they must outlive
 * it), read exactly buf_len bytes and return 0 or: HENN_EFORMAT (bad magic,
 * version or type, truncated or trailing bytes, a size, level, count, scale,
 * Galois element or residue out of range), HENN_EKEY (the object was made
 * with other params: fingerprint mismatch), HENN_EINVAL (NULL arguments),
 * HENN_ENOMEM. Nothing is allocated before the length has been checked
 * against the header. The output may be a zeroed struct or hold an object of
 * its type (it is cleared first); on error it is left zeroed.
 * Thread safety: as the rest of the module (inputs read-only).
 * Timing: the secret-key functions do not branch on the key; the others
 * depend only on public data. */

/* Object types (the type byte). */
#define HENN_CKKS_OBJ_PARAMS 1
#define HENN_CKKS_OBJ_SK 2
#define HENN_CKKS_OBJ_PK 3
#define HENN_CKKS_OBJ_RELIN_KEY 4
#define HENN_CKKS_OBJ_GALOIS_KEYS 5
#define HENN_CKKS_OBJ_CT 6
#define HENN_CKKS_OBJ_CT_SEEDED 7 /* symmetric ciphertext: seed instead of a */
#define HENN_CKKS_OBJ_PT 8
/* Format version written and read. */
#define HENN_CKKS_FORMAT_VERSION 1
/* Bytes of the params fingerprint: BLAKE2b-128 (libsodium's
 * crypto_generichash) of the serialised params. */
#define HENN_CKKS_FINGERPRINTBYTES 16

/*
 * henn_ckks_params_fingerprint: BLAKE2b-128 of the serialised params (N,
 * bit sizes, primes; the HENN_CKKS_INSECURE flag is not part of it).
 * Returns 0 or HENN_EINVAL.
 */
HENN_API HENN_NODISCARD int henn_ckks_params_fingerprint(
    uint8_t fp[HENN_CKKS_FINGERPRINTBYTES], const henn_ckks_params *params);

/*
 * Params: header | N u32 | count u32 | bits u8 x count | primes u64 x count
 * (count = L + 1, the special prime last). Reading re-runs
 * henn_ckks_params_init(N, bits, count, flags) and refuses a file whose
 * primes differ from the ones it picks (HENN_EFORMAT). flags: 0 or
 * HENN_CKKS_INSECURE; beyond the security table without it: HENN_EPARAM.
 * params may be zeroed or hold parameters (cleared first; objects made with
 * them must be gone).
 */
HENN_API HENN_NODISCARD int henn_ckks_params_serialize(uint8_t **buf, size_t *buf_len,
                                                       const henn_ckks_params *params);
HENN_API HENN_NODISCARD int henn_ckks_params_deserialize(henn_ckks_params *params,
                                                         const uint8_t *buf, size_t buf_len,
                                                         unsigned flags);

/*
 * Secret key: header | fingerprint | N/4 bytes, 2 bits per coefficient of
 * the ternary s (0: 0, 1: +1, 2: -1; 3 is refused), coefficient k in bits
 * 2(k mod 4) .. of byte k / 4. The serialiser returns HENN_EKEY if sk is
 * not ternary. Write the buffer only to 0600 files.
 */
HENN_API HENN_NODISCARD int henn_ckks_sk_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_ckks_sk *sk);
HENN_API HENN_NODISCARD int henn_ckks_sk_deserialize(henn_ckks_sk *sk,
                                                     const henn_ckks_params *params,
                                                     const uint8_t *buf, size_t buf_len);

/* Public key: header | fingerprint | b, a: 2 x (L + 1) x N residues. */
HENN_API HENN_NODISCARD int henn_ckks_pk_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_ckks_pk *pk);
HENN_API HENN_NODISCARD int henn_ckks_pk_deserialize(henn_ckks_pk *pk,
                                                     const henn_ckks_params *params,
                                                     const uint8_t *buf, size_t buf_len);

/* Relinearisation key: header | fingerprint | L x 2 x (L + 1) x N residues
 * (the henn_ckks_ksk layout). */
HENN_API HENN_NODISCARD int henn_ckks_relin_key_serialize(uint8_t **buf, size_t *buf_len,
                                                          const henn_ckks_relin_key *rk);
HENN_API HENN_NODISCARD int henn_ckks_relin_key_deserialize(henn_ckks_relin_key *rk,
                                                            const henn_ckks_params *params,
                                                            const uint8_t *buf,
                                                            size_t buf_len);

/* Galois keys: header | fingerprint | count u32 | elements u32 x count (odd,
 * below 2N, distinct) | count key-switching keys as in the relinearisation
 * key. count <= N (there are N odd residues below 2N). */
HENN_API HENN_NODISCARD int henn_ckks_galois_keys_serialize(uint8_t **buf, size_t *buf_len,
                                                            const henn_ckks_galois_keys *gk);
HENN_API HENN_NODISCARD int henn_ckks_galois_keys_deserialize(henn_ckks_galois_keys *gk,
                                                              const henn_ckks_params *params,
                                                              const uint8_t *buf,
                                                              size_t buf_len);

/*
 * Ciphertext: header | fingerprint | size u32 (2 or 3) | level u32 (< L) |
 * scale f64 (finite, > 0) | size x (level + 1) x N residues (type
 * HENN_CKKS_OBJ_CT). With seed != NULL (the seed henn_ckks_encrypt_symmetric
 * returned for this ciphertext, which must be unchanged since): type
 * HENN_CKKS_OBJ_CT_SEEDED, the same fields with c_1 = a replaced by the 32
 * seed bytes, about half the size; the serialiser regenerates a from the
 * seed and returns HENN_EINVAL if it is not ct's c_1. The deserialiser reads
 * both types (ct may be zeroed or hold a ciphertext).
 */
HENN_API HENN_NODISCARD int henn_ckks_ct_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_ckks_ct *ct,
                                                   const uint8_t *seed);
HENN_API HENN_NODISCARD int henn_ckks_ct_deserialize(henn_ckks_ct *ct,
                                                     const henn_ckks_params *params,
                                                     const uint8_t *buf, size_t buf_len);

/* Plaintext: header | fingerprint | reserved u32 (0) | level u32 | scale f64 |
 * (level + 1) x N residues. */
HENN_API HENN_NODISCARD int henn_ckks_pt_serialize(uint8_t **buf, size_t *buf_len,
                                                   const henn_ckks_pt *pt);
HENN_API HENN_NODISCARD int henn_ckks_pt_deserialize(henn_ckks_pt *pt,
                                                     const henn_ckks_params *params,
                                                     const uint8_t *buf, size_t buf_len);

/*
 * henn_ckks_serialized_info: the type and total length of the object that
 * starts at buf (which may be followed by more objects, e.g. a file of
 * concatenated ciphertexts), from its header alone; the residues are not
 * checked (the deserialiser does). params may be NULL only for a params
 * object. Returns 0, HENN_EFORMAT (bad or truncated header, a length beyond
 * buf_len), HENN_EKEY (fingerprint of other params), HENN_EINVAL.
 */
HENN_API HENN_NODISCARD int henn_ckks_serialized_info(int *type, size_t *len,
                                                      const henn_ckks_params *params,
                                                      const uint8_t *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif
