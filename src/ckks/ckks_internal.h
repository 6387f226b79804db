/*
 * CKKS internals shared by the files in src/ckks (never installed).
 *
 * Files and their concerns (docs/STYLE layout):
 *   modarith.h  64-bit modular arithmetic (Barrett, Shoup), static inline
 *   params.c    prime generation (SEAL's rule), security table, tables
 *   ntt.c       negacyclic NTT (Harvey lazy butterflies, Shoup twiddles)
 *   encoder.c   canonical embedding (special FFT), encode/decode
 *   sample.c    ternary, centred binomial, uniform and seeded uniform
 *   keys.c      sk, pk, relinearisation and Galois keys
 *   encrypt.c   public-key and symmetric encryption, decryption
 *   keyswitch.c hybrid key switching (balanced digits, mod-down by P)
 *   parallel.c  splitting per-limb work over the params' threads
 *   eval.c      add, multiply, relinearise, rescale, mod-switch, rotate
 *   serialize.c versioned binary formats
 */
#ifndef HENN_CKKS_INTERNAL_H
#define HENN_CKKS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "henn/ckks.h"

/*
 * A prime modulus q < 2^61 with its Barrett constant ratio = floor(2^128 / q)
 * (ratio[0] low word, ratio[1] high word) and mu = floor(2^(2 bits) / q).
 */
typedef struct henn__ckks_mod {
    uint64_t q;
    uint64_t ratio[2];
    int bits;
    uint64_t mu; /* floor(2^(2 bits) / q), for the shifted Barrett reduction */
} henn__ckks_mod;

/*
 * NTT tables for one prime. Negacyclic NTT of length N modulo q with psi a
 * primitive 2N-th root of unity (the minimal one, as SEAL picks).
 * Forward output order (bit-reversed): a_hat[k] = a(psi^(2 * brv(k) + 1)),
 * brv = bit reversal over logN bits. The inverse undoes the forward
 * exactly (N^-1 folded in). Both take and return values in [0, q).
 *  w[k], w_shoup[k]:   psi^brv(k) and floor(w * 2^64 / q), k in [0, N)
 *  iw[k], iw_shoup[k]: the inverse twiddles in the order ntt.c uses them
 */
typedef struct henn__ckks_ntt {
    size_t N;
    size_t logN;
    uint64_t q;
    uint64_t psi;
    uint64_t *w, *w_shoup;
    uint64_t *iw, *iw_shoup;
    uint64_t n_inv, n_inv_shoup;
    /* Code path chosen by henn__ckks_ntt_init from the CPU (ntt.c): 0
     * scalar, 1 AVX-512 IFMA (q < 2^50), 2 AVX-512 64-bit; all give the
     * same outputs (tests set 0 to compare). */
    int path;
} henn__ckks_ntt;

struct henn__ckks_encoder; /* encoder.c: FFT roots, slot index map */

/* Everything params_init builds; prime i = 0..L (L = special prime P). */
struct henn__ckks_tables {
    size_t nprimes; /* L + 1 */
    henn__ckks_mod mod[HENN_CKKS_MAX_PRIMES];
    henn__ckks_ntt ntt[HENN_CKKS_MAX_PRIMES];
    struct henn__ckks_encoder *enc;
};

/* ---- ntt.c ---- */
/* Build / free the tables for prime q (q = 1 mod 2N, q < 2^61). */
int henn__ckks_ntt_init(henn__ckks_ntt *t, size_t N, uint64_t q);
void henn__ckks_ntt_clear(henn__ckks_ntt *t);
/* In place, values in [0, q) in and out. Timing: independent of a. */
void henn__ckks_ntt_forward(uint64_t *a, const henn__ckks_ntt *t);
void henn__ckks_ntt_inverse(uint64_t *a, const henn__ckks_ntt *t);
/* Lazy variants (skip the last conditional subtraction): forward takes
 * values in [0, 4q) and returns them in [0, 2q); inverse takes [0, 2q) and
 * returns [0, 2q). Outputs are congruent to the exact transforms'. */
void henn__ckks_ntt_forward_lazy(uint64_t *a, const henn__ckks_ntt *t);
void henn__ckks_ntt_inverse_lazy(uint64_t *a, const henn__ckks_ntt *t);

/* ---- params.c ---- */
/* SEAL's deterministic prime selection (see henn_ckks_params_init). */
int henn__ckks_select_primes(uint64_t *primes, size_t N, const int *bit_sizes, size_t count);
/* Deterministic Miller-Rabin for 64-bit n. */
int henn__ckks_is_prime(uint64_t n);

/* ---- encoder.c ---- */
int henn__ckks_encoder_new(struct henn__ckks_encoder **enc, size_t N);
void henn__ckks_encoder_free(struct henn__ckks_encoder *enc);
/* The canonical embedding in floating point (tests): coeffs[0..N) =
 * factor * m for the real m whose slot i is re_im[2i] + i re_im[2i+1]
 * (i < count, later slots 0); and back, the first count slots of
 * factor * m into re_im (coeffs is overwritten). */
void henn__ckks_slots_to_coeffs(const struct henn__ckks_encoder *enc, double *coeffs,
                                const double *re_im, size_t count, double factor);
void henn__ckks_coeffs_to_slots(const struct henn__ckks_encoder *enc, double *re_im,
                                size_t count, double *coeffs, double factor);

/* ---- sample.c ---- (all from the OS CSPRNG unless seeded) */
/* Uniform ternary {-1, 0, 1} coefficients, as small signed integers. */
int henn__ckks_sample_ternary(int8_t *out, size_t N);
/* Centred binomial, k = 21 (sigma ~ 3.24), |x| <= 21. */
int henn__ckks_sample_cbd(int8_t *out, size_t N);
/* Write small signed coefficients into rows 0..nprimes-1 of dst
 * (coefficient domain: x < 0 -> q_i + x); prime indices given by idx (or
 * 0..nprimes-1 if idx is NULL). */
void henn__ckks_small_to_rns(uint64_t *dst, const int8_t *x, const henn_ckks_params *params,
                             const size_t *idx, size_t nprimes);
/* Uniform residues in [0, q_i) for each listed prime, expanded from seed
 * (deterministic, ChaCha20 stream per (seed, domain)); values are used as
 * NTT-domain coefficients. */
void henn__ckks_expand_uniform(uint64_t *dst, const uint8_t seed[HENN_CKKS_SEEDBYTES],
                               uint64_t domain, const henn_ckks_params *params,
                               const size_t *idx, size_t nprimes);

/* Domain of the seeded expansion for the a of a symmetric ciphertext (rows
 * for primes 0..level, idx NULL); keys use other domains. */
#define HENN__CKKS_DOMAIN_CT 0

/* ---- keyswitch.c ---- */
/* Galois element g (odd, < 2N) in the NTT domain: (a o X^g)_hat[k] =
 * a_hat[perm[k]] (perm: N entries). */
void henn__ckks_galois_perm(uint32_t *perm, size_t N, size_t logN, uint64_t g);
/* out[r N + k] = in[r N + perm[k]] for rows r < rows (out != in). */
void henn__ckks_apply_perm(uint64_t *out, const uint64_t *in, const uint32_t *perm,
                           size_t N, size_t rows);
/* Hybrid key switching: d is (level + 1) x N in the NTT domain; adds to r0
 * and r1 (each (level + 1) x N, NTT, values in [0, q)) a pair with
 * r0 + r1 s ~ d s' for ksk from s' to s. Returns 0 or HENN_ENOMEM. */
int henn__ckks_keyswitch(uint64_t *r0, uint64_t *r1, const uint64_t *d, size_t level,
                         const henn_ckks_ksk *ksk);

/* ---- parallel.c ---- */
/* Most threads (and so scratch slots) one parallel call uses. */
#define HENN__CKKS_MAX_SLOTS 32
/* Smallest N x limbs worth splitting over threads: key switching (one
 * key switch is about 2 (limbs + 1) NTTs and the MACs per limb) and
 * rescale (about one NTT per limb, so it needs 8 times the limbs before
 * the thread start-up, tens of microseconds, pays). */
#define HENN__CKKS_PAR_MIN_KS 16384
#define HENN__CKKS_PAR_MIN_RESCALE 131072
/*
 * Threads for work over `limbs` limbs of params' N and `items` independent
 * items: 1 when params->threads is 1 or N x limbs < min_words, else
 * params->threads (0: online CPUs) capped at items and
 * HENN__CKKS_MAX_SLOTS.
 */
unsigned henn__ckks_threads(const henn_ckks_params *params, size_t limbs, size_t items,
                            size_t min_words);
/*
 * Run items in phases: phase p has counts[p] items (p < nphases <=
 * HENN__CKKS_MAX_PHASES), and an item of phase p starts only after every
 * item of phase p - 1 has finished. fn(ctx, phase, item, slot) runs each
 * item once; slot < max(threads, 1) is the caller's scratch index, held by
 * no other item running at the same time. Items are handed out in order
 * from one counter, so a thread waits only for items that running threads
 * hold (no deadlock, and on one thread the order is plain). threads <= 1:
 * all on the calling thread; else threads - 1 detached helper threads,
 * started once per call, not once per phase (a waiting thread yields). The
 * call returns when every item has finished; a helper that had not started
 * by then finds nothing to do and exits without touching ctx.
 * Returns the first nonzero value fn returned (the other items still run),
 * else 0, or HENN_ENOMEM, HENN_EINVAL (too many phases).
 */
#define HENN__CKKS_MAX_PHASES 4
typedef int (*henn__ckks_item_fn)(void *ctx, size_t phase, size_t item, size_t slot);
int henn__ckks_phases(unsigned threads, const size_t *counts, size_t nphases,
                      henn__ckks_item_fn fn, void *ctx);

/* ---- keys.c ---- */
/* Key-switching key from s' (NTT domain, L x N: data primes only) to sk's
 * s. Returns 0, HENN_ERNG or HENN_ENOMEM (ksk left zeroed on error). */
int henn__ckks_ksk_gen(henn_ckks_ksk *ksk, const henn_ckks_sk *sk, const uint64_t *s_prime);
void henn__ckks_ksk_clear(henn_ckks_ksk *ksk);
/* Galois element of a rotation by steps slots to the left (any sign). */
uint32_t henn__ckks_rotation_elt(const henn_ckks_params *params, long steps);

/* ---- eval helpers ---- */
/* Ensure ct has room for size x (level + 1) x N words and set the header. */
int henn__ckks_ct_reserve(henn_ckks_ct *ct, const henn_ckks_params *params, size_t size,
                          size_t level, double scale);
int henn__ckks_pt_reserve(henn_ckks_pt *pt, const henn_ckks_params *params, size_t level,
                          double scale);

static inline uint64_t *henn__ckks_ct_poly(const henn_ckks_ct *ct, size_t c, size_t i)
{
    return ct->data + (c * (ct->level + 1) + i) * ct->params->N;
}

#endif
