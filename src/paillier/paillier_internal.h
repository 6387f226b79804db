/* Private declarations of the Paillier module. */
#ifndef HENN_PAILLIER_INTERNAL_H
#define HENN_PAILLIER_INTERNAL_H

#include <string.h>

#include "../core/internal.h"
#include "henn/paillier.h"

/* Absolute ceiling on an exponent difference when aligning exponents
 * (c^(16^d) costs 4d bits of exponent); the per-key limit below is lower
 * for every n henn accepts (at most 2,047 for 8,192-bit n). */
#define HENN__PAILLIER_MAX_EXP_SHIFT 4096

/*
 * Largest d with 16^d <= max_int: python-paillier's limit on lowering a
 * ciphertext's exponent by d (phe 1.5 EncryptedNumber.decrease_exponent_to
 * multiplies by the int 16^d, and EncodedNumber.encode raises ValueError
 * when |16^d| > max_int). Any nonzero mantissa lowered further leaves
 * [-max_int, max_int] for certain. 16^d = 2^(4d) <= max_int exactly when
 * 4d <= bits(max_int) - 1.
 */
static inline long henn__paillier_max_shift(const henn_paillier_pk *pk)
{
    size_t b = mpz_sgn(pk->max_int) > 0 ? mpz_sizeinbase(pk->max_int, 2) : 1;
    long d = (long)((b - 1) / 4);
    return d < HENN__PAILLIER_MAX_EXP_SHIFT ? d : HENN__PAILLIER_MAX_EXP_SHIFT;
}

/*
 * Montgomery arithmetic modulo an odd m (mont.c, mont_ifma.c). The backend
 * is chosen by henn__mont_init(): AVX-512 IFMA in 52-bit limbs when the CPU
 * has it and m has 1,024 to 8,318 bits (R = 2^(416 v), residues of 8 v
 * words, < 2m), else GMP's public mpn layer (R = 2^(64 nl), residues of nl
 * words, < m). Callers treat residues as opaque arrays of mt->words words
 * and give henn__mont_mul/_from scratch of mt->scratch_words words.
 * A context is read-only after init and may be shared between threads.
 */
#define HENN__IFMA_MAX_V 20
#define HENN__IFMA_MIN_BITS 1024
struct henn__mb;
typedef struct henn__mont {
    mp_size_t nl;         /* 64-bit limbs of m */
    size_t words;         /* words per residue */
    size_t scratch_words; /* scratch words for mont_mul / mont_from */
    size_t v;             /* IFMA: 512-bit vectors per residue; 0: mpn backend */
    mp_limb_t minv;       /* -m^-1 mod 2^64 (mpn) or mod 2^52 (IFMA) */
    mp_limb_t *m;         /* nl limbs */
    uint64_t *m52;        /* IFMA: m, then R^2 mod m, then 1, in 52-bit limbs */
    uint64_t *rr52;
    uint64_t *one52;
    struct henn__mb *mb;  /* 8-lane context of m for keys (henn__mont_attach_mb), or NULL */
} henn__mont;
int henn__mont_init(henn__mont *mt, const mpz_t m);
/* The mpn backend whatever the CPU (tests and benchmarks). */
int henn__mont_init_mpn(henn__mont *mt, const mpz_t m);
/* Wipes (the modulus may be secret) and frees, with the attached 8-lane
 * context if any. */
void henn__mont_clear(henn__mont *mt);
/* r = a b / R mod m (r may alias a or b); t: scratch. */
void henn__mont_mul(const henn__mont *mt, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
                    mp_limb_t *t);
/* dst = x R mod m, for any integer x; tmp: an initialised scratch mpz. */
void henn__mont_to(const henn__mont *mt, mp_limb_t *dst, const mpz_t x, mpz_t tmp);
/* r = a / R mod m, fully reduced (leave Montgomery form); t: scratch. */
void henn__mont_from(const henn__mont *mt, mpz_t r, const mp_limb_t *a, mp_limb_t *t);
/* r = b^e mod m for 0 <= e < 2^ebits. Constant time in b, e and m for a
 * given ebits and modulus size (IFMA: fixed 5-bit windows, every table
 * entry read; mpn backend: mpz_powm_sec). HENN_EINVAL, HENN_ENOMEM. */
int henn__mont_powm_sec(const henn__mont *mt, mpz_t r, const mpz_t b, const mpz_t e,
                        size_t ebits);
/* r = b^e mod m, e >= 0 public (sliding window; time depends on e).
 * Both: HENN_EKEY for a NULL or empty context. */
int henn__mont_powm(const henn__mont *mt, mpz_t r, const mpz_t b, const mpz_t e);
/* Sliding windows over a public exponent (shared by mont.c and mont_mb.c;
 * the time they take depends on e, never use them on secrets):
 * henn__slide_width: the window width for an exponent of ebits bits;
 * henn__slide_window: for a set bit i of e, the window i .. l of at most
 * w bits that ends in a set bit (l >= 0 the lowest such); *val = bits
 * i .. l of e (odd). Returns l. */
unsigned henn__slide_width(size_t ebits);
long henn__slide_window(const mpz_t e, long i, unsigned w, unsigned *val);

/* AVX-512 IFMA (mont_ifma.c): henn__ifma_cpu() says whether the CPU and
 * this build have it; henn__ifma_active() whether it is also enabled
 * (henn__ifma_set_enabled(0) forces the mpn backend for new contexts:
 * tests and benchmark baselines). henn__ifma_amm: r = a b / 2^(416 v)
 * mod m, not fully reduced, for 52-bit-limb a, b < 2m, 1 <= v <= 20. */
int henn__ifma_cpu(void);
int henn__ifma_active(void);
void henn__ifma_set_enabled(int on);
void henn__ifma_amm(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                    uint64_t k0, size_t v);

/*
 * Constant-time glue for secret-key operations (sec.c), on GMP's mpn_sec_*
 * functions: time and memory accesses depend on the limb counts of the
 * arguments only. Outputs may alias inputs.
 * henn__sec_mod: r = a mod m, a >= 0 of at most a_limbs limbs, m > 0.
 * henn__sec_crt_half: m_p = L_p(x) hp mod p with L_p(x) = (x - 1) / p, for
 *   0 < x < p^2 with x = 1 mod p (x = c^(p-1) mod p^2) and hp < p.
 * henn__sec_crt_combine: r = a + m1 ((b - a) inv mod m2), for
 *   0 <= a < m1 <= m2, 0 <= b < m2, inv < m2 (Garner's CRT step).
 * All: HENN_EINVAL for sizes outside these bounds, HENN_ENOMEM.
 */
int henn__sec_mod(mpz_t r, const mpz_t a, size_t a_limbs, const mpz_t m);
int henn__sec_crt_half(mpz_t mp, const mpz_t x, const mpz_t p, const mpz_t hp);
int henn__sec_crt_combine(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t m1,
                          const mpz_t m2, const mpz_t inv);
/* henn__sec_divqr: q = a div m, r = a mod m for 0 <= a < m^2 of at most
 * a_limbs limbs, m > 0, a_limbs >= limbs of m (q < m); q, r may alias a. */
int henn__sec_divqr(mpz_t q, mpz_t r, const mpz_t a, size_t a_limbs, const mpz_t m);
/* henn__sec_muladd: r = a + b m for 0 <= a, b of at most the limbs of
 * m > 0 (in heap scratch that is wiped, not in GMP's stack temporaries). */
int henn__sec_muladd(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t m);

/*
 * CRT decryption in two steps, so that the exponentiations in between can
 * run one at a time or 8 at a time (batch.c):
 * henn__paillier_decrypt_check: key, 0 < c < n^2 and gcd(c, n) = 1
 *   (HENN_EKEY, HENN_ERANGE); c is public, so the gcd may be variable-time.
 * henn__paillier_decrypt_finish: given xp = c^(p-1) mod p^2 and
 *   xq = c^(q-1) mod q^2 (fully reduced), pt = the plaintext with the
 *   given exponent; constant time (sec.c); wipes xp and xq.
 */
int henn__paillier_decrypt_check(const henn_paillier_sk *sk, const henn_paillier_ct *ct);
int henn__paillier_decrypt_finish(henn_paillier_pt *pt, const henn_paillier_sk *sk, mpz_t xp,
                                  mpz_t xq, int exponent);

/* ---- multi-buffer Montgomery arithmetic (mont_mb.c) ------------------- */
/*
 * Eight residues modulo the same odd m at once, one per 64-bit lane of
 * AVX-512 IFMA vectors ("vertical" layout: word 8 j + l is 52-bit limb j
 * of number l; L = limbs, R = 2^(52 L) > 4m; residues < 2m; arrays of
 * henn__mb_words() words, 64-byte aligned). The engine is used when, at
 * henn__mb_init() time, henn__ifma_active() and m has
 * HENN__MB_MIN_BITS .. 8,318 bits; otherwise limbs = 0 and the
 * exponentiations fall back to henn__mont_powm(_sec) on mt per element
 * (henn__mb_to/_from/_mul/_sqr need limbs != 0). mt is borrowed: it must
 * outlive the context. A context is read-only after init (thread-safe).
 * Timing: independent of the residues and of m (see mont_mb.c).
 */
#define HENN__MB_LANES 8
#define HENN__MB_MAX_LIMBS 160
#define HENN__MB_MIN_BITS 1024
typedef struct henn__mb {
    const henn__mont *mt; /* modulus and fallback context */
    size_t limbs;         /* L; 0: no engine, per-element fallback */
    uint64_t k0;          /* -m^-1 mod 2^52 */
    uint64_t *m;          /* L scalar 52-bit limbs of m (one wiped block) */
    uint64_t *rr;         /* R^2 mod m in every lane */
    uint64_t *one;        /* 1 in every lane */
} henn__mb;
/* HENN_EKEY for an empty mt, HENN_ENOMEM. */
int henn__mb_init(henn__mb *mb, const henn__mont *mt);
void henn__mb_clear(henn__mb *mb); /* wipes; safe on a zeroed struct */
size_t henn__mb_words(const henn__mb *mb);
/* r = x[l] R mod m in lane l < count; lanes >= count hold 1 R. x[l] of any
 * sign (reduced with mpz_mod when outside [0, m): variable time). */
void henn__mb_to(const henn__mb *mb, uint64_t *r, const mpz_t *x, size_t count);
/* x[l] = a_l / R mod m, fully reduced, for l < count; t: scratch words. */
void henn__mb_from(const henn__mb *mb, mpz_t *x, size_t count, const uint64_t *a, uint64_t *t);
/* r = a b / R, r = a^2 / R per lane (almost Montgomery; may alias). */
void henn__mb_mul(const henn__mb *mb, uint64_t *r, const uint64_t *a, const uint64_t *b);
void henn__mb_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *a);
/*
 * Keys carry their 8-lane contexts (n^2; p^2 and q^2): built once with the
 * Montgomery context (henn__mont_attach_mb, from the key set-up) instead of
 * per call (about 5 us each). Built with the IFMA setting in force then,
 * like mt itself; read-only afterwards, so threads may share it.
 * henn__mb_get: *use = mt->mb when attached, else tmp initialised from mt
 * (the caller clears tmp with henn__mb_clear either way; tmp is zeroed
 * first). Both: HENN_EKEY (no context), HENN_ENOMEM.
 */
int henn__mont_attach_mb(henn__mont *mt);
int henn__mb_get(const henn__mb **use, henn__mb *tmp, const henn__mont *mt);
/* r[l] = b[l]^e mod m for l < count <= 8 (r may alias b). _sec: secret e
 * with 0 <= e < 2^ebits, fixed 5-bit windows, every table entry read per
 * window, constant time in b, e and m for given ebits and L; wipes its
 * memory and burns the stack. Public e: sliding window (time depends on
 * e only). HENN_EKEY (no context), HENN_EINVAL (count > 8, e < 0, e too
 * long), HENN_ENOMEM. */
int henn__mb_powm_sec(const henn__mb *mb, mpz_t *r, const mpz_t *b, size_t count, const mpz_t e,
                      size_t ebits);
int henn__mb_powm(const henn__mb *mb, mpz_t *r, const mpz_t *b, size_t count, const mpz_t e);
/*
 * The same exponentiations modulo the square m^2 of an odd root m, on pairs
 * of residues modulo m (mont_mb.c, "Pairs": X R = A + B m mod m^2): a
 * product costs one 8-lane product modulo m and a second reduction, about
 * 60% of a product modulo m^2. Used for r^n mod n^2 (root n, public
 * exponent n) and for the decryption powers c^(p-1) mod p^2 (root p,
 * secret exponent). r[l] = b[l]^e mod m^2, fully reduced, for l < count;
 * b[l] in [0, m^2) (split into b mod m and b div m in constant time;
 * others are reduced with mpz_mod first). Timing as henn__mb_powm(_sec);
 * the per-call context is built with mpz_mod (time depends on m, the same
 * computation for every call with that m). henn__mbsq_usable: whether the
 * engine runs for this root (IFMA active, m odd, 2 bits(m) >= 1,024,
 * limbs of bits(m) + 4 <= 160); otherwise both return HENN_EPARAM and
 * callers use henn__mb_powm(_sec). Also HENN_EINVAL (count > 8, e < 0,
 * e too long for ebits), HENN_ENOMEM. Thread-safe (no shared state).
 * henn__mbsq_set_enabled(0) makes henn__mbsq_usable() false for every
 * root (tests and benchmarks: the modulo-m^2 engine with IFMA on).
 */
int henn__mbsq_usable(const mpz_t root);
void henn__mbsq_set_enabled(int on);
int henn__mbsq_powm(mpz_t *r, const mpz_t *b, size_t count, const mpz_t e, const mpz_t root);
int henn__mbsq_powm_sec(mpz_t *r, const mpz_t *b, size_t count, const mpz_t e, size_t ebits,
                        const mpz_t root);
/*
 * Fixed-base tables on pairs (mont_mb.c): base^a mod m^2 for one fixed
 * base and 8 exponents at a time, one 8-lane pair product per w-bit digit
 * position of a (no squarings), for henn__mbsq_usable(root).
 * henn__sqfb_build: *out = the table of base (in [0, m^2)) for exponents
 *   below 2^e_bits (1 .. 65,536 bits), w-bit digits (2 .. 12): about
 *   ceil(e_bits / w) (2^w - 1) entries of 2 L 52-bit limbs (at 1,024-bit
 *   m, w = 8 and 1,024-bit exponents: 10.4 MB). HENN_EINVAL, HENN_EPARAM
 *   (root not usable), HENN_ENOMEM.
 * henn__sqfb_pow8: r[l] = base^a_l mod m^2, fully reduced, for
 *   l < count <= 8, where a_l = sum_j digits[8 j + l] 2^(w j) (digits:
 *   positions x 8, each < 2^w; lanes >= count are ignored). HENN_EINVAL
 *   (count > 8), HENN_ENOMEM.
 * henn__sqfb_free: wipes (the table reveals m) and frees; NULL allowed.
 * Timing: independent of m and the values; the table rows read depend on
 * the digits (the fbtab.c caveat). Thread safety: a built table is
 * read-only; pow8 may run on it from several threads at once.
 */
typedef struct henn__sqfb henn__sqfb;
int henn__sqfb_build(henn__sqfb **out, const mpz_t base, const mpz_t root, size_t e_bits,
                     unsigned w);
int henn__sqfb_pow8(mpz_t *r, const henn__sqfb *t, const uint16_t *digits, size_t count);
size_t henn__sqfb_positions(const henn__sqfb *t);
unsigned henn__sqfb_window(const henn__sqfb *t);
void henn__sqfb_free(henn__sqfb *t);
/* ---- end of multi-buffer block ---------------------------------------- */

/*
 * Fresh randomness (noise.c): out[i] = r_i^n mod n^2 with r_i uniform in
 * [1, n), independent, for i < count (out[] initialised by the caller).
 * This is the randomness distribution of a textbook encryption: uniform
 * over the n-th residues mod n^2, so c * out[i] is distributed as a fresh
 * encryption of D(c) even to the key holder (unlike DJN noise h_s^a, whose
 * subgroup keeps the characters of c's randomness). Single-threaded;
 * callers split work over threads. Timing: independent of the r_i.
 * HENN_EKEY without a Montgomery context, HENN_ERNG, HENN_ENOMEM.
 */
int henn__paillier_noise(mpz_t *out, size_t count, const henn_paillier_pk *pk);
/* The same exponentiation for given r[i] in [1, n) (the caller draws
 * them: the resumable trainer's seeded stream, trainer.c): out[i] =
 * r[i]^n mod n^2. Timing: independent of the r[i]. HENN_EKEY, HENN_ENOMEM. */
int henn__paillier_noise_pow(mpz_t *out, const mpz_t *r, size_t count,
                             const henn_paillier_pk *pk);

/*
 * Multi-exponentiation (multiexp.c): r[h] = prod_i base[i]^e[h m + i]
 * mod m2 for h < outs, exponents 0 <= e < 2^ebits (ebits <= 32), bases
 * in [0, m2). Straus's method with w-bit windows; the per-base tables are
 * shared by all outputs. Outputs are split over opts->threads.
 * Timing: depends on the exponents (meant for public or trainer-known
 * exponents, never for secret keys).
 */
int henn__paillier_multi_exp(mpz_t *r, const mpz_t m2, const mpz_t *base, size_t m,
                             const uint32_t *e, size_t outs, unsigned ebits,
                             const henn_batch_opts *opts);
/* The same on pairs modulo root (m2 = root^2; mont_mb.c), 8 outputs at a
 * time, for henn__mbsq_usable(root) (else HENN_EPARAM); about 2.4x the
 * single-buffer products of multiexp.c per output at n = 2048. The
 * callers' checks (bases in [0, root^2), exponents < 2^ebits) are
 * henn__paillier_multi_exp's, which calls this for 8 or more outputs. */
int henn__mbsq_multi_exp(mpz_t *r, const mpz_t root, const mpz_t *base, size_t m,
                         const uint32_t *e, size_t outs, unsigned ebits,
                         const henn_batch_opts *opts);

/*
 * Noise pool (noise_pool.c): fresh noise r^n mod n^2 for one key, drawn
 * ahead of time by one background thread, exactly as henn__paillier_noise
 * draws it (r uniform in [1, n) from the OS CSPRNG, independent values),
 * so that a party re-randomises without the exponentiations on its
 * critical path (the trainer of encrypted inference fills the time it
 * waits for the owner).
 * henn__noise_pool_new: *out = a pool for pk's n (the pool keeps its own
 *   copy of the key; pk may go away) holding at most capacity values
 *   (1 .. HENN__NOISE_POOL_MAX, rounded up to a multiple of 8; 4,096-bit
 *   values at n = 2048: 512 bytes each), its thread started and filling it
 *   in groups of 8. HENN_EKEY (pk without n or Montgomery context),
 *   HENN_EINVAL (capacity), HENN_ENOMEM (also when no thread can start).
 * henn__noise_pool_take: moves up to count ready values into out[0 .. k)
 *   (initialised by the caller; their old values are wiped) and returns
 *   k; never waits for the thread (the caller draws the rest itself, e.g.
 *   with henn__paillier_noise). Each value is handed out once.
 * henn__noise_pool_same_key: whether the pool was made for pk's n.
 * henn__noise_pool_counts: values made and taken so far, ready now, and
 *   the thread's error (0, or the code that stopped it: HENN_ERNG,
 *   HENN_ENOMEM; the pool then stays empty once drained).
 * henn__noise_pool_cpu_seconds: CPU seconds the thread has used so far
 *   (benchmarks: the work taken off the caller's critical path), or -1
 *   where the platform cannot say.
 * henn__noise_pool_free: stops the thread (waits for the group it is
 *   computing, at most 8 exponentiations), wipes every value and frees;
 *   NULL is allowed.
 * Thread safety: take, same_key and counts may be called from any thread
 *   concurrently; free once, after every other call has returned.
 * Memory: capacity values plus the thread's 8 and its stack.
 */
#define HENN__NOISE_POOL_MAX 4096
typedef struct henn__noise_pool henn__noise_pool;
int henn__noise_pool_new(henn__noise_pool **out, const henn_paillier_pk *pk, size_t capacity);
size_t henn__noise_pool_take(henn__noise_pool *np, mpz_t *out, size_t count);
int henn__noise_pool_same_key(const henn__noise_pool *np, const henn_paillier_pk *pk);
void henn__noise_pool_counts(henn__noise_pool *np, uint64_t *made, uint64_t *taken,
                             size_t *have, int *err);
double henn__noise_pool_cpu_seconds(henn__noise_pool *np);
void henn__noise_pool_free(henn__noise_pool *np);

/* Fixed-base table (fbtab.c), on mt (the public key's context of n^2,
 * which must outlive the table). */
int henn__paillier_fbtab_build(struct henn__paillier_fbtab **out, const mpz_t hs,
                               const henn__mont *mt, size_t a_bits, unsigned w);
void henn__paillier_fbtab_free(struct henn__paillier_fbtab *t);
/* r = h_s^a mod n^2 for 0 <= a < 2^a_bits. */
int henn__paillier_fbtab_pow(mpz_t r, const struct henn__paillier_fbtab *t, const mpz_t a);
/* r[l] = h_s^a[l] mod n^2 for l < count <= 8 on the 8-lane engine of the
 * table's context (per element without it); same results and timing
 * caveat as henn__paillier_fbtab_pow. HENN_EINVAL (count > 8, an a out of
 * range), HENN_ENOMEM. */
int henn__paillier_fbtab_pow8(mpz_t *r, const struct henn__paillier_fbtab *t, const mpz_t *a,
                              size_t count);
/*
 * The key holder's fixed-base tables through the CRT (fbtab.c): h_s^a
 * mod n^2 computed modulo p^2 and q^2 on pairs (henn__sqfb) and
 * recombined in constant time (henn__sec_crt_combine).
 * henn__paillier_fbcrt_build: tables of h_s mod p^2 and mod q^2 for
 *   exponents of sk->pk.a_bits bits, w-bit digits (w = 8 at n = 2048:
 *   2 x 10.4 MB, against 66 MB for the public table at its default
 *   w = 10). HENN_EINVAL (no h_s), HENN_EPARAM (the pair engine does not
 *   run for p or q: no IFMA, small primes), HENN_ENOMEM.
 * henn__paillier_fbcrt_pow8: r[l] = h_s^a[l] mod n^2 for l < count <= 8,
 *   the values henn__paillier_fbtab_pow8 gives (sk must be the key the
 *   table was built from). HENN_EINVAL (count > 8, an a out of range),
 *   HENN_ENOMEM.
 * henn__paillier_fbcrt_free: wipes (the tables reveal p and q), frees.
 * Timing: constant in p and q; the table rows read depend on a (as
 * henn__paillier_fbtab_pow). Thread safety: read-only once built.
 */
struct henn__paillier_fbcrt;
int henn__paillier_fbcrt_build(struct henn__paillier_fbcrt **out, const henn_paillier_sk *sk,
                               unsigned w);
int henn__paillier_fbcrt_pow8(mpz_t *r, const struct henn__paillier_fbcrt *t,
                              const henn_paillier_sk *sk, const mpz_t *a, size_t count);
void henn__paillier_fbcrt_free(struct henn__paillier_fbcrt *t);
/* henn_paillier_encrypt_batch for the key holder with t (built from sk):
 * the same DJN exponents drawn in the same order, h_s^a through the CRT,
 * so the same ciphertexts for the same random bytes. Errors as
 * henn_paillier_encrypt_batch. */
int henn__paillier_encrypt_batch_crt(henn_paillier_ct *ct, const henn_paillier_sk *sk,
                                     const struct henn__paillier_fbcrt *t,
                                     const henn_paillier_pt *pt, size_t count,
                                     const henn_batch_opts *opts);
/* ct = (1 + m n) noise mod n^2 with pt's exponent and pk's key id:
 * henn_paillier_encrypt with the noise given (HENN_ERANGE for m >= n). */
int henn__paillier_encrypt_noise(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                 const henn_paillier_pt *pt, const mpz_t noise);

/* noise = h_s^a mod n^2 for a fresh random a (table or mpz_powm_sec). */
int henn__paillier_djn_noise(mpz_t noise, const henn_paillier_pk *pk);

/* Fingerprint of n into kid. */
void henn__paillier_kid(uint8_t kid[HENN_PAILLIER_KIDBYTES], const mpz_t n);

static inline int henn__paillier_same_key(const henn_paillier_pk *pk, const uint8_t *kid)
{
    return memcmp(pk->kid, kid, HENN_PAILLIER_KIDBYTES) == 0;
}

/* Validate a modulus and fill pk (without h_s). */
int henn__paillier_pk_set_n(henn_paillier_pk *pk, const mpz_t n, unsigned flags);

/* Factor n given a nonzero multiple of lambda (Miller's method). */
int henn__paillier_factor_from_lambda(mpz_t p, mpz_t q, const mpz_t n, const mpz_t lambda);

/* Unpadded base64url of the minimal big-endian bytes of x > 0 (malloc'd;
 * NULL for x <= 0 or no memory), and its inverse (HENN_EFORMAT for bad
 * text or zero). */
char *henn__paillier_b64_of_mpz(const mpz_t x);
int henn__paillier_mpz_of_b64(mpz_t x, const char *s);

#endif
