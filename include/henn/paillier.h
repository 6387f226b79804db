/*
 * henn/paillier.h: the Paillier cryptosystem (Paillier 1999, EUROCRYPT,
 * "Public-Key Cryptosystems Based on Composite Degree Residuosity Classes"),
 * compatible with python-paillier (package `phe`).
 *
 * Workflow
 *  1. The data owner calls henn_paillier_keygen() (n of 2048, 3072 or 4096
 *     bits) and keeps the secret key sk; it publishes the public key pk
 *     (henn_paillier_pk_to_json()).
 *  2. Numbers are encoded as python-paillier does (value = mantissa * 16^e,
 *     henn_paillier_encode_double() and friends) into a henn_paillier_pt,
 *     then encrypted with henn_paillier_encrypt() into a henn_paillier_ct.
 *     For bulk work, henn_paillier_pk_precompute() builds the
 *     Damgard-Jurik-Nielsen fixed-base table that makes public-key encryption
 *     ~15x faster, and the _batch functions spread arrays over threads.
 *  3. Anyone with pk combines ciphertexts: add, add_plain, mul_plain, neg,
 *     sub. Results of these operations are NOT fresh encryptions: pass them
 *     through henn_paillier_rerandomize() before they leave the party.
 *  4. The owner decrypts (CRT, constant-time exponentiation) and decodes.
 *  5. Packing (henn_paillier_pack_encrypt) puts many small signed integers
 *     in one plaintext; see the packing section for which operations keep
 *     the slots intact.
 *
 * Objects hold GMP integers: initialise with _init, release with _clear
 * (which wipes secrets). The serialised formats (JSON, binary), not these
 * struct layouts, are the stable interface.
 *
 * Thread safety: functions taking const keys may be called concurrently on
 * the same key once it is fully built (after keygen/deserialise and, where
 * used, henn_paillier_pk_precompute()). Objects written by a call must not
 * be shared with other threads during that call.
 */
#ifndef HENN_PAILLIER_H
#define HENN_PAILLIER_H

#include <gmp.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Smallest modulus accepted without HENN_PAILLIER_INSECURE (112-bit security). */
#define HENN_PAILLIER_MIN_BITS 2048
/* Modulus size used when 0 is passed for n_bits. */
#define HENN_PAILLIER_DEFAULT_BITS 2048
/* Largest modulus accepted. */
#define HENN_PAILLIER_MAX_BITS 8192
/* Key fingerprint size in bytes: SHA-256 of n (big-endian), truncated. */
#define HENN_PAILLIER_KIDBYTES 16
/* python-paillier's encoding base. */
#define HENN_PAILLIER_BASE 16

/* Flags for henn_paillier_keygen. */
/* Allow n below HENN_PAILLIER_MIN_BITS (down to 6 bits, for textbook
 * examples): tests only. */
#define HENN_PAILLIER_INSECURE 1u

struct henn__paillier_fbtab; /* fixed-base table, opaque */

/*
 * Public key. n: the modulus; n2 = n^2; max_int = floor(n/3) - 1 (largest
 * encodable magnitude, as python-paillier); hs: the DJN value
 * h_s = (-x^2 mod n)^n mod n^2 for a random x (DJN 2010, section 4.2),
 * computed by whoever builds the key object (it needs no secret);
 * kid: key fingerprint used to detect ciphertexts under another key.
 */
typedef struct henn_paillier_pk {
    mpz_t n;
    mpz_t n2;
    mpz_t max_int;
    mpz_t hs;
    size_t n_bits;
    size_t a_bits; /* bits of the DJN exponent a: ceil(n_bits / 2) */
    uint8_t kid[HENN_PAILLIER_KIDBYTES];
    struct henn__paillier_fbtab *fb; /* DJN fixed-base table, or NULL */
    struct henn__mont *mont;         /* Montgomery context of n^2 (internal) */
} henn_paillier_pk;

/*
 * Secret key: the public key plus p, q and the values derived from them for
 * CRT decryption (as python-paillier: hp, hq) and for the lambda path.
 * Every member is wiped by henn_paillier_sk_clear().
 */
typedef struct henn_paillier_sk {
    henn_paillier_pk pk;
    mpz_t p, q;     /* p < q */
    mpz_t p2, q2;   /* p^2, q^2 */
    mpz_t pm1, qm1; /* p - 1, q - 1 (CRT decryption exponents) */
    mpz_t hp, hq;   /* L_p((n+1)^(p-1) mod p^2)^-1 mod p, likewise q */
    mpz_t p_inv_q;  /* p^-1 mod q */
    mpz_t p2_inv_q2; /* (p^2)^-1 mod q^2 (key-holder encryption) */
    mpz_t lambda;   /* lcm(p-1, q-1) */
    mpz_t mu;       /* L((n+1)^lambda mod n^2)^-1 mod n */
    struct henn__mont *mont; /* Montgomery contexts of p^2, q^2 (internal) */
} henn_paillier_sk;

/*
 * Encoded plaintext (python-paillier EncodedNumber):
 * value = mantissa * 16^exponent, stored as encoding = mantissa mod n,
 * 0 <= encoding < n; negative mantissas wrap (n - |mantissa|).
 */
typedef struct henn_paillier_pt {
    mpz_t encoding;
    int exponent;
} henn_paillier_pt;

/*
 * Ciphertext (python-paillier EncryptedNumber): c in Z*_{n^2}, the exponent
 * of the encoded plaintext, and the fingerprint of the key it is under.
 */
typedef struct henn_paillier_ct {
    mpz_t c;
    int exponent;
    uint8_t kid[HENN_PAILLIER_KIDBYTES];
} henn_paillier_ct;

/* ---------------------------------------------------------------- keys -- */

/* henn_paillier_pk_init / _sk_init / _pt_init / _ct_init: set to empty
 * (all integers 0). Cannot fail. _clear releases memory (wiping secrets:
 * sk members, pt encodings, ct values) and leaves the object zeroed; safe on
 * a zeroed object. */
HENN_API void henn_paillier_pk_init(henn_paillier_pk *pk);
HENN_API void henn_paillier_pk_clear(henn_paillier_pk *pk);
HENN_API void henn_paillier_sk_init(henn_paillier_sk *sk);
HENN_API void henn_paillier_sk_clear(henn_paillier_sk *sk);
HENN_API void henn_paillier_pt_init(henn_paillier_pt *pt);
HENN_API void henn_paillier_pt_clear(henn_paillier_pt *pt);
HENN_API void henn_paillier_ct_init(henn_paillier_ct *ct);
HENN_API void henn_paillier_ct_clear(henn_paillier_ct *ct);

/*
 * henn_paillier_keygen: generate a key pair.
 *  pk:     output public key (initialised); may be NULL (sk->pk holds it too).
 *  sk:     output secret key (initialised).
 *  n_bits: modulus size in bits (0 = 2048); n has exactly n_bits bits, p and
 *          q are distinct random n_bits/2-bit primes with gcd(n, (p-1)(q-1)) = 1.
 *  flags:  HENN_PAILLIER_INSECURE allows 6 <= n_bits < 2048 (tests only).
 * Primes come from the OS CSPRNG (randombytes_buf), 40 Miller-Rabin rounds
 * after a Baillie-PSW test (mpz_probab_prime_p).
 * Errors: HENN_EPARAM (n_bits < 2048 without the flag, odd, or > 8192),
 *         HENN_ERNG, HENN_ENOMEM. On error sk and pk are left empty.
 * Timing: not constant-time (prime search); it runs once.
 */
HENN_API HENN_NODISCARD int henn_paillier_keygen(henn_paillier_pk *pk, henn_paillier_sk *sk,
                                                 size_t n_bits, unsigned flags);

/*
 * henn_paillier_sk_from_primes: build a key from given primes p and q
 * (known-answer tests, importing keys). Checks p != q, both probable primes,
 * gcd(n, (p-1)(q-1)) = 1, and the size rule of keygen (flags as there).
 * Errors: HENN_EKEY (not a valid Paillier key), HENN_EPARAM, HENN_ERNG.
 */
HENN_API HENN_NODISCARD int henn_paillier_sk_from_primes(henn_paillier_sk *sk, const mpz_t p,
                                                         const mpz_t q, unsigned flags);

/*
 * henn_paillier_pk_from_n: build a public key object from the modulus n
 * (draws a fresh DJN h_s with the CSPRNG). n must be odd, of at least 2048
 * bits unless HENN_PAILLIER_INSECURE (then >= 6), at most 8192, not a
 * (probable) prime, not a perfect power, and without a prime factor below
 * min(2^16, 2^(bits/4)) (trial division). These checks cannot show that n
 * is a product of two large primes; they reject the cheap malformed moduli.
 * Errors: HENN_EKEY (n even, prime, a perfect power or with a small
 * factor), HENN_EPARAM (size), HENN_ERNG. Cost: about one exponentiation
 * mod n (the primality test).
 */
HENN_API HENN_NODISCARD int henn_paillier_pk_from_n(henn_paillier_pk *pk, const mpz_t n,
                                                    unsigned flags);

/*
 * henn_paillier_pk_copy: deep copy of src into dst (initialised). The
 * fixed-base table is not copied; call henn_paillier_pk_precompute on dst.
 */
HENN_API HENN_NODISCARD int henn_paillier_pk_copy(henn_paillier_pk *dst,
                                                  const henn_paillier_pk *src);

/*
 * henn_paillier_pk_precompute: build the fixed-base table for h_s^a
 * (per-window-position tables in Montgomery form, window w bits:
 * ceil(a_bits / w) * (2^w - 1) entries of 2*n_bits bits; for n = 2048:
 * w = 8 -> 16.7 MB, w = 10 -> 53.8 MB). Afterwards encryption costs
 * ceil(a_bits / w) - 1 multiplications mod n^2 instead of ~1.5 * a_bits.
 *  window_bits: 2..12, or 0 for the default (10).
 * Errors: HENN_EINVAL (bad window), HENN_ENOMEM.
 * Thread safety: not safe against concurrent use of pk; build it first.
 */
HENN_API HENN_NODISCARD int henn_paillier_pk_precompute(henn_paillier_pk *pk,
                                                        unsigned window_bits);

/* henn_paillier_pk_equal: 1 if both keys have the same n, else 0. */
HENN_API int henn_paillier_pk_equal(const henn_paillier_pk *a, const henn_paillier_pk *b);

/* ---------------------------------------------------------- encryption -- */

/*
 * henn_paillier_encrypt: ct = E(pt) under pk, public-key path.
 * With g = n + 1, g^m = 1 + m*n mod n^2 (no exponentiation). The noise is
 * DJN's h_s^a mod n^2 with a uniform of a_bits = ceil(n_bits/2) bits
 * (DJN 2010, section 4.2; as Intel's IPCL): with the fixed-base table when
 * henn_paillier_pk_precompute() was called, else a constant-time
 * exponentiation (see henn_paillier_decrypt).
 * Errors: HENN_ERANGE (pt->encoding >= n), HENN_ERNG, HENN_ENOMEM.
 * Timing: without the table, independent of m and a. With the table, the
 * memory addresses read depend on a (a cache-timing channel for an attacker
 * on the same CPU: see docs/THREAT_MODEL.md); use henn_paillier_encrypt_sk or
 * no table where that matters.
 */
HENN_API HENN_NODISCARD int henn_paillier_encrypt(henn_paillier_ct *ct,
                                                  const henn_paillier_pk *pk,
                                                  const henn_paillier_pt *pt);

/*
 * henn_paillier_encrypt_textbook: ct = (1 + m*n) * r^n mod n^2 with r uniform
 * in Z*_n (Paillier 1999, section 3), r^n by mpz_powm_sec. The reference
 * path; ~15x slower than henn_paillier_encrypt with a table.
 * Errors and timing as henn_paillier_encrypt without a table.
 */
HENN_API HENN_NODISCARD int henn_paillier_encrypt_textbook(henn_paillier_ct *ct,
                                                           const henn_paillier_pk *pk,
                                                           const henn_paillier_pt *pt);

/*
 * henn_paillier_encrypt_sk: key-holder encryption, same distribution as the
 * textbook path: the noise r^n mod n^2 is s_p^p mod p^2 and s_q^q mod q^2
 * for uniform s_p in Z*_p, s_q in Z*_q (equal in distribution because
 * r -> r^q permutes Z*_p), by constant-time exponentiations (see
 * henn_paillier_decrypt), recombined with the CRT.
 * ~4-9x faster than the textbook path; for the data owner's bulk encryption.
 * Errors: HENN_ERANGE, HENN_ERNG, HENN_ENOMEM. Timing: independent of m, r, p, q
 * (up to the constant-time exponentiation).
 */
HENN_API HENN_NODISCARD int henn_paillier_encrypt_sk(henn_paillier_ct *ct,
                                                     const henn_paillier_sk *sk,
                                                     const henn_paillier_pt *pt);

/*
 * henn_paillier_encrypt_with_r / _encrypt_djn_with_a: deterministic
 * encryption with caller-given randomness, for known-answer tests only:
 * (1 + m*n) * r^n with 0 < r < n, gcd(r, n) = 1; (1 + m*n) * h_s^a with
 * 0 < a (h_s from pk). Never reuse r or a.
 * Errors: HENN_ERANGE (m >= n), HENN_EINVAL (r or a out of range).
 */
HENN_API HENN_NODISCARD int henn_paillier_encrypt_with_r(henn_paillier_ct *ct,
                                                         const henn_paillier_pk *pk,
                                                         const henn_paillier_pt *pt,
                                                         const mpz_t r);
HENN_API HENN_NODISCARD int henn_paillier_encrypt_djn_with_a(henn_paillier_ct *ct,
                                                             const henn_paillier_pk *pk,
                                                             const henn_paillier_pt *pt,
                                                             const mpz_t a);

/*
 * henn_paillier_decrypt: pt = D(ct) with the CRT (as python-paillier):
 * m_p = L_p(c^(p-1) mod p^2) * hp mod p, likewise m_q, m = CRT(m_p, m_q).
 * The exponentiations are constant-time: on CPUs with AVX-512 IFMA, henn's
 * own fixed-window ladder over 52-bit-limb Montgomery products (every
 * table entry read for every window, no operand-dependent branch; about
 * 2.4x mpz_powm_sec), else GMP's mpz_powm_sec. The reductions, L_p and the
 * CRT recombination use GMP's mpn_sec_* functions (time depends on the
 * sizes of p, q and n only). pt->exponent = ct->exponent. Before
 * returning, the 32 KiB of stack below the call are overwritten (callees
 * leave secret-derived values there); vector registers are not cleared.
 * Errors: HENN_EKEY (ct under another key), HENN_ERANGE (c not in
 * Z*_{n^2}: c = 0, c >= n^2 or gcd(c, n) != 1).
 * Timing: independent of p, q and c apart from the validity checks (on the
 * public c and n).
 * Thread safety: sk is only read; concurrent calls are safe.
 */
HENN_API HENN_NODISCARD int henn_paillier_decrypt(henn_paillier_pt *pt,
                                                  const henn_paillier_sk *sk,
                                                  const henn_paillier_ct *ct);

/*
 * henn_paillier_decrypt_lambda: the textbook decryption
 * m = L(c^lambda mod n^2) * mu mod n (Paillier 1999, section 3); reference
 * for differential tests. Errors as henn_paillier_decrypt. Timing: the
 * exponentiation is mpz_powm_sec; L and the product with mu use GMP's
 * variable-time division (not for production use).
 */
HENN_API HENN_NODISCARD int henn_paillier_decrypt_lambda(henn_paillier_pt *pt,
                                                         const henn_paillier_sk *sk,
                                                         const henn_paillier_ct *ct);

/*
 * henn_paillier_ct_validate: check that ct is under pk (fingerprint) and
 * that 0 < c < n^2 with gcd(c, n) = 1.
 * Errors: HENN_EKEY (another key), HENN_ERANGE (not in Z*_{n^2}).
 */
HENN_API HENN_NODISCARD int henn_paillier_ct_validate(const henn_paillier_pk *pk,
                                                      const henn_paillier_ct *ct);

/* ----------------------------------------------- homomorphic operations -- */
/* All of these: r may alias inputs; errors HENN_EKEY (an input under another
 * key), HENN_ENOMEM. Results are not re-randomised. */

/*
 * henn_paillier_add: r = E(a + b): c_a * c_b mod n^2, after lowering the
 * larger exponent to the smaller (c^(16^d) mod n^2), as python-paillier.
 */
HENN_API HENN_NODISCARD int henn_paillier_add(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                              const henn_paillier_ct *a,
                                              const henn_paillier_ct *b);

/*
 * henn_paillier_add_plain: r = E(a + b) for an encoded plaintext b
 * (exponents aligned as in henn_paillier_add): c_a * (1 + b*n) mod n^2.
 * Errors: also HENN_ERANGE (b->encoding >= n).
 */
HENN_API HENN_NODISCARD int henn_paillier_add_plain(henn_paillier_ct *r,
                                                    const henn_paillier_pk *pk,
                                                    const henn_paillier_ct *a,
                                                    const henn_paillier_pt *b);

/*
 * henn_paillier_mul_plain: r = E(a * k) for an encoded scalar k:
 * c^k mod n^2, or (c^-1)^(n - k) when k encodes a negative number (so a
 * small negative scalar costs as much as a small positive one). The result
 * exponent is a->exponent + k->exponent.
 * Errors: also HENN_ERANGE (k->encoding >= n, or exponent overflow).
 */
HENN_API HENN_NODISCARD int henn_paillier_mul_plain(henn_paillier_ct *r,
                                                    const henn_paillier_pk *pk,
                                                    const henn_paillier_ct *a,
                                                    const henn_paillier_pt *k);

/* henn_paillier_mul_int64: r = E(a * k) for an integer k (exponent 0). */
HENN_API HENN_NODISCARD int henn_paillier_mul_int64(henn_paillier_ct *r,
                                                    const henn_paillier_pk *pk,
                                                    const henn_paillier_ct *a, int64_t k);

/* henn_paillier_neg: r = E(-a): c^-1 mod n^2. */
HENN_API HENN_NODISCARD int henn_paillier_neg(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                              const henn_paillier_ct *a);

/* henn_paillier_sub: r = E(a - b) = add(a, neg(b)). */
HENN_API HENN_NODISCARD int henn_paillier_sub(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                              const henn_paillier_ct *a,
                                              const henn_paillier_ct *b);

/*
 * henn_paillier_rerandomize: r = a * r'^n mod n^2 with r' uniform in
 * [1, n) from the OS CSPRNG (python-paillier's obfuscate()). Whatever the
 * randomness of a, r is distributed exactly as a fresh textbook encryption
 * E(D(a); r'') with r'' uniform in Z*_n, even to the key holder: a = (1 + m
 * n) s^n for some s in Z*_n, and s^n r'^n = (s r')^n with s r' uniform. The
 * statement assumes gcd(n, phi(n)) = 1 (true for every key henn generates
 * or accepts from p and q; a key holder who could publish n with
 * gcd(n, phi(n)) != 1 is outside it) and ignores the probability about
 * 2^-1023 of drawing a non-unit r'. It does not use the DJN noise h_s^a:
 * h_s generates a subgroup of index >= 2 of the n-th residues, so the key
 * holder could read characters of a's randomness (and so of the
 * evaluator's scalars) through it. Call it on every ciphertext computed
 * from others before it leaves the party. Cost: one exponentiation with an
 * n-bit exponent mod n^2 (8 at a time on the multi-buffer IFMA engine in
 * the batch and protocol paths).
 * Errors: HENN_EKEY, HENN_ERANGE (a->c not in [1, n^2)), HENN_ERNG,
 * HENN_ENOMEM. Timing: independent of a and of the randomness.
 */
HENN_API HENN_NODISCARD int henn_paillier_rerandomize(henn_paillier_ct *r,
                                                      const henn_paillier_pk *pk,
                                                      const henn_paillier_ct *a);

/*
 * henn_paillier_ct_decrease_exponent: r = a with exponent lowered to
 * new_exponent <= a->exponent (c^(16^d), d = a->exponent - new_exponent),
 * as python-paillier's EncryptedNumber.decrease_exponent_to, with its
 * limit: 16^d <= max_int (phe 1.5 raises ValueError beyond it). The
 * mantissa is not visible, so below the limit it can still leave
 * [-max_int, max_int] and wrap mod n; henn add and add_plain use the same
 * rule. Errors: HENN_EINVAL (new_exponent > a->exponent), HENN_ERANGE
 * (16^d > max_int).
 */
HENN_API HENN_NODISCARD int henn_paillier_ct_decrease_exponent(henn_paillier_ct *r,
                                                               const henn_paillier_pk *pk,
                                                               const henn_paillier_ct *a,
                                                               int new_exponent);

/* henn_paillier_ct_copy: r = a (deep copy). */
HENN_API HENN_NODISCARD int henn_paillier_ct_copy(henn_paillier_ct *r, const henn_paillier_ct *a);

/* ------------------------------------------------------------ encoding -- */
/*
 * python-paillier's EncodedNumber rules (phe 1.5, encoding.py), exactly:
 * integers get exponent 0; a double x gets
 * exponent = floor((frexp(x).exponent - 53) / 4); with max_exponent the
 * exponent is min(max_exponent, that); mantissa = round(x * 16^-exponent)
 * in exact arithmetic, ties to even; |mantissa| <= max_int = n/3 - 1.
 */

/* Pass as max_exponent to leave the exponent as the rules choose it. */
#define HENN_PAILLIER_NO_MAX_EXPONENT INT32_MAX

/*
 * henn_paillier_encode_double: pt = encode(x).
 *  max_exponent: HENN_PAILLIER_NO_MAX_EXPONENT or an upper bound on the exponent.
 * Errors: HENN_EINVAL (x is NaN or infinite), HENN_ERANGE (|mantissa| > max_int).
 */
HENN_API HENN_NODISCARD int henn_paillier_encode_double(henn_paillier_pt *pt,
                                                        const henn_paillier_pk *pk, double x,
                                                        int max_exponent);

/*
 * henn_paillier_encode_double_exp: pt = encode(x) at exactly the given
 * exponent (python-paillier's precision argument with precision = 16^exponent;
 * the fixed-exponent encoding for bulk vectors). Errors as above.
 */
HENN_API HENN_NODISCARD int henn_paillier_encode_double_exp(henn_paillier_pt *pt,
                                                            const henn_paillier_pk *pk, double x,
                                                            int exponent);

/* henn_paillier_encode_int64: pt = encode(v) with exponent 0 (or lower, down
 * to max_exponent if that is negative). Errors: HENN_ERANGE. */
HENN_API HENN_NODISCARD int henn_paillier_encode_int64(henn_paillier_pt *pt,
                                                       const henn_paillier_pk *pk, int64_t v,
                                                       int max_exponent);

/* henn_paillier_encode_mpz: pt = encode(v) with exponent 0.
 * Errors: HENN_ERANGE (|v| > max_int). */
HENN_API HENN_NODISCARD int henn_paillier_encode_mpz(henn_paillier_pt *pt,
                                                     const henn_paillier_pk *pk, const mpz_t v);

/*
 * henn_paillier_decode_mantissa: the signed mantissa of pt (encoding if
 * <= max_int, encoding - n if >= n - max_int).
 * Errors: HENN_EFORMAT (encoding >= n: corrupted), HENN_ERANGE (overflow:
 * max_int < encoding < n - max_int).
 */
HENN_API HENN_NODISCARD int henn_paillier_decode_mantissa(mpz_t mantissa,
                                                          const henn_paillier_pk *pk,
                                                          const henn_paillier_pt *pt);

/*
 * henn_paillier_decode_double: *x = mantissa * 16^exponent correctly rounded
 * to the nearest double (ties to even), as Python's int / int.
 * Errors: as decode_mantissa; HENN_ERANGE also when |x| overflows a double.
 */
HENN_API HENN_NODISCARD int henn_paillier_decode_double(double *x, const henn_paillier_pk *pk,
                                                        const henn_paillier_pt *pt);

/* henn_paillier_decode_int64: *v = mantissa * 16^exponent when that is an
 * integer that fits in int64_t. Errors: as decode_mantissa; HENN_ERANGE if
 * it is not an integer or does not fit. */
HENN_API HENN_NODISCARD int henn_paillier_decode_int64(int64_t *v, const henn_paillier_pk *pk,
                                                       const henn_paillier_pt *pt);

/* henn_paillier_pt_decrease_exponent: pt = pt with exponent lowered to
 * new_exponent (mantissa * 16^d). Stricter than python-paillier 1.5, which
 * reduces mod n without a check: the new mantissa must stay within
 * [-max_int, max_int]; pt is unchanged on error.
 * Errors: HENN_EINVAL (new_exponent > pt->exponent), HENN_ERANGE (the new
 * mantissa, or pt's own, is outside [-max_int, max_int]), HENN_EFORMAT
 * (encoding >= n). */
HENN_API HENN_NODISCARD int henn_paillier_pt_decrease_exponent(henn_paillier_pt *pt,
                                                               const henn_paillier_pk *pk,
                                                               int new_exponent);

/* ------------------------------------------------------------- packing -- */
/*
 * Packing s signed integers v_0..v_{s-1} into one plaintext with slots of w
 * bits: P = sum_i v_i * 2^(i*w) (a signed integer, stored mod n). Each slot
 * is read back as the balanced residue in [-2^(w-1), 2^(w-1)).
 *
 * Because P is linear in the slots, these operations keep every slot intact
 * as long as every slot's true value stays within the tracked bound:
 *   - packed + packed (slot-wise sum),  henn_paillier_packed_add
 *   - packed * integer k, k of any sign (every slot times k),
 *                                       henn_paillier_packed_mul_int64
 *   - packed + plaintext vector         henn_paillier_packed_add_plain
 *   - rerandomisation                   henn_paillier_packed_rerandomize
 * Anything else (multiplying by a packed plaintext, mixing slot widths)
 * does not. Every packed ciphertext carries `bound`, a proven upper bound on
 * |slot|; each operation updates it (a + b, |k| * a) and refuses with
 * HENN_ERANGE before it could exceed 2^(w-1) - 1, so a slot can never
 * overflow silently into its neighbour. Unpacking checks every slot against
 * the bound and that nothing is left above the last slot (HENN_ERANGE).
 * Capacity: s <= floor((n_bits - 2) / w) slots, so |P| < max_int.
 */
typedef struct henn_paillier_packed {
    henn_paillier_ct ct; /* exponent 0 */
    unsigned slot_bits;  /* w, 2..64 */
    size_t slots;        /* slots in use */
    uint64_t bound;      /* |every slot| <= bound <= 2^(w-1) - 1 */
} henn_paillier_packed;

/* henn_paillier_packed_init / _clear: as for ciphertexts. */
HENN_API void henn_paillier_packed_init(henn_paillier_packed *p);
HENN_API void henn_paillier_packed_clear(henn_paillier_packed *p);

/* henn_paillier_pack_capacity: slots of slot_bits bits that fit under pk
 * (floor((n_bits - 2) / slot_bits)); 0 for slot_bits outside 2..64. */
HENN_API size_t henn_paillier_pack_capacity(const henn_paillier_pk *pk, unsigned slot_bits);

/*
 * henn_paillier_pack: pt = the packed plaintext of v[0..count), and
 * *bound = max |v_i|.
 * Errors: HENN_EINVAL (count 0 or > capacity, slot_bits outside 2..64),
 *         HENN_ERANGE (some |v_i| > 2^(w-1) - 1).
 */
HENN_API HENN_NODISCARD int henn_paillier_pack(henn_paillier_pt *pt, uint64_t *bound,
                                               const henn_paillier_pk *pk, unsigned slot_bits,
                                               const int64_t *v, size_t count);

/*
 * henn_paillier_unpack: v[0..count) = the slots of pt, checking each
 * |v_i| <= bound and that P has no bits above slot count-1.
 * Errors: HENN_EINVAL, HENN_ERANGE (overflow detected).
 */
HENN_API HENN_NODISCARD int henn_paillier_unpack(int64_t *v, size_t count,
                                                 const henn_paillier_pk *pk, unsigned slot_bits,
                                                 uint64_t bound, const henn_paillier_pt *pt);

/* henn_paillier_pack_encrypt: pack then encrypt (public-key path).
 * Errors: as henn_paillier_pack and henn_paillier_encrypt. */
HENN_API HENN_NODISCARD int henn_paillier_pack_encrypt(henn_paillier_packed *out,
                                                       const henn_paillier_pk *pk,
                                                       unsigned slot_bits, const int64_t *v,
                                                       size_t count);

/* henn_paillier_decrypt_unpack: decrypt then unpack into v[0..in->slots).
 * Errors: as henn_paillier_decrypt and henn_paillier_unpack. */
HENN_API HENN_NODISCARD int henn_paillier_decrypt_unpack(int64_t *v, const henn_paillier_sk *sk,
                                                         const henn_paillier_packed *in);

/* henn_paillier_packed_add: r = a + b slot-wise; slots = max of both;
 * bound = a.bound + b.bound. Errors: HENN_EINVAL (slot widths differ),
 * HENN_ERANGE (bound would exceed 2^(w-1) - 1), HENN_EKEY. */
HENN_API HENN_NODISCARD int henn_paillier_packed_add(henn_paillier_packed *r,
                                                     const henn_paillier_pk *pk,
                                                     const henn_paillier_packed *a,
                                                     const henn_paillier_packed *b);

/* henn_paillier_packed_add_plain: r = a + v slot-wise for count plain values.
 * Errors: as henn_paillier_pack and henn_paillier_packed_add. */
HENN_API HENN_NODISCARD int henn_paillier_packed_add_plain(henn_paillier_packed *r,
                                                           const henn_paillier_pk *pk,
                                                           const henn_paillier_packed *a,
                                                           const int64_t *v, size_t count);

/* henn_paillier_packed_mul_int64: r = k * a slot-wise; bound = |k| * a.bound.
 * Errors: HENN_ERANGE (bound would exceed 2^(w-1) - 1), HENN_EKEY. */
HENN_API HENN_NODISCARD int henn_paillier_packed_mul_int64(henn_paillier_packed *r,
                                                           const henn_paillier_pk *pk,
                                                           const henn_paillier_packed *a,
                                                           int64_t k);

/* henn_paillier_packed_rerandomize: fresh noise, same slots and bound. */
HENN_API HENN_NODISCARD int henn_paillier_packed_rerandomize(henn_paillier_packed *r,
                                                             const henn_paillier_pk *pk,
                                                             const henn_paillier_packed *a);

/* --------------------------------------------------------------- batch -- */
/*
 * Batch functions process arrays of count initialised objects on a pool of
 * opts->threads threads (NULL opts: all cores, no progress). They return
 * the first error any element produced (the outputs are then unspecified
 * and should be cleared).
 */

/* ct[i] = E(pt[i]), public-key path (use the fixed-base table). */
HENN_API HENN_NODISCARD int henn_paillier_encrypt_batch(henn_paillier_ct *ct,
                                                        const henn_paillier_pk *pk,
                                                        const henn_paillier_pt *pt, size_t count,
                                                        const henn_batch_opts *opts);

/* ct[i] = E(pt[i]), key-holder path (henn_paillier_encrypt_sk). */
HENN_API HENN_NODISCARD int henn_paillier_encrypt_batch_sk(henn_paillier_ct *ct,
                                                           const henn_paillier_sk *sk,
                                                           const henn_paillier_pt *pt,
                                                           size_t count,
                                                           const henn_batch_opts *opts);

/* pt[i] = D(ct[i]). */
HENN_API HENN_NODISCARD int henn_paillier_decrypt_batch(henn_paillier_pt *pt,
                                                        const henn_paillier_sk *sk,
                                                        const henn_paillier_ct *ct, size_t count,
                                                        const henn_batch_opts *opts);

/* r[i] = rerandomize(a[i]); r may equal a. */
HENN_API HENN_NODISCARD int henn_paillier_rerandomize_batch(henn_paillier_ct *r,
                                                            const henn_paillier_pk *pk,
                                                            const henn_paillier_ct *a,
                                                            size_t count,
                                                            const henn_batch_opts *opts);

/*
 * henn_paillier_pack_encrypt_batch: pack v[0..count) into
 * ceil(count / capacity) ciphertexts of slot_bits-bit slots (the last one
 * partly filled) and encrypt them. out must hold that many initialised
 * objects; *out_count receives the number used.
 * Errors: as henn_paillier_pack_encrypt; HENN_EINVAL if out_len is too small.
 */
HENN_API HENN_NODISCARD int henn_paillier_pack_encrypt_batch(
    henn_paillier_packed *out, size_t out_len, size_t *out_count, const henn_paillier_pk *pk,
    unsigned slot_bits, const int64_t *v, size_t count, const henn_batch_opts *opts);

/* ------------------------------------------------------- serialisation -- */
/*
 * JSON formats of python-paillier (field for field):
 *  public key  {"kty":"DAJ","alg":"PAI-GN1","key_ops":["encrypt"],"n":"<b64url>","kid":"..."}
 *  secret key  {"kty":"DAJ","key_ops":["decrypt"],"p":..,"q":..,"lambda":..,"mu":..,
 *               "pub":{public key},"kid":"..."}  (p and q as phe 1.5's pheutil;
 *               lambda and mu too, so older pheutil versions can decrypt)
 *  ciphertext  {"v":"<decimal c>","e":<exponent>}
 *  vector      {"public_key":{"n":<n>},"values":[["<decimal c>",<exponent>],...]}
 * Integers are unpadded base64url of their minimal big-endian bytes.
 * Output buffers are allocated by the library: release with
 * henn_free(json, json_len). json is NUL-terminated; json_len excludes the NUL.
 * Readers accept at most 16 MiB and return HENN_EFORMAT for malformed or
 * wrongly typed input, HENN_EKEY for a key that is not a valid Paillier key or
 * a ciphertext under another key, HENN_ERANGE for a ciphertext outside
 * Z*_{n^2}, HENN_EPARAM for a key below 2048 bits without
 * HENN_PAILLIER_INSECURE.
 */

/* kid: free text stored in "kid" (NULL: "henn paillier public key"). */
HENN_API HENN_NODISCARD int henn_paillier_pk_to_json(char **json, size_t *json_len,
                                                     const henn_paillier_pk *pk,
                                                     const char *kid);
HENN_API HENN_NODISCARD int henn_paillier_pk_from_json(henn_paillier_pk *pk, const char *json,
                                                       size_t json_len, unsigned flags);
/* The secret key JSON holds p and q: write it only to 0600 files. Accepts
 * p/q, or lambda/mu (older pheutil: n is factored from lambda). */
HENN_API HENN_NODISCARD int henn_paillier_sk_to_json(char **json, size_t *json_len,
                                                     const henn_paillier_sk *sk,
                                                     const char *kid);
HENN_API HENN_NODISCARD int henn_paillier_sk_from_json(henn_paillier_sk *sk, const char *json,
                                                       size_t json_len, unsigned flags);
HENN_API HENN_NODISCARD int henn_paillier_ct_to_json(char **json, size_t *json_len,
                                                     const henn_paillier_ct *ct);
/* ct is bound to pk and validated (henn_paillier_ct_validate). */
HENN_API HENN_NODISCARD int henn_paillier_ct_from_json(henn_paillier_ct *ct,
                                                       const henn_paillier_pk *pk,
                                                       const char *json, size_t json_len);
/* n is written as a decimal string (python's int() reads it); the reader
 * accepts a JSON number or string. */
HENN_API HENN_NODISCARD int henn_paillier_vector_to_json(char **json, size_t *json_len,
                                                         const henn_paillier_pk *pk,
                                                         const henn_paillier_ct *ct,
                                                         size_t count);
/* Reads count ciphertexts into *ct (allocated, initialised: release each
 * with henn_paillier_ct_clear and the array with free()). The file's n must
 * equal pk's (HENN_EKEY otherwise). Limit: 1,000,000 values. */
HENN_API HENN_NODISCARD int henn_paillier_vector_from_json(henn_paillier_ct **ct, size_t *count,
                                                           const henn_paillier_pk *pk,
                                                           const char *json, size_t json_len);

/*
 * Binary ciphertext vector (docs/FORMATS.md), all integers big-endian:
 *   "HNPC" | version u8 (1) | reserved u8 (0) | reserved u16 (0) |
 *   n_bytes u32 | kid[16] | count u64 |
 *   count x ( exponent i32 | c: 2*n_bytes bytes )
 * n_bytes = ceil(n_bits / 8); kid = SHA-256(n)[0..16).
 */
/* Size in bytes of the binary encoding of count ciphertexts under pk. */
HENN_API size_t henn_paillier_ct_binary_size(const henn_paillier_pk *pk, size_t count);
/* Writes into buf (buf_len >= henn_paillier_ct_binary_size). Errors:
 * HENN_EINVAL (buffer too small), HENN_EKEY (a ct under another key). */
HENN_API HENN_NODISCARD int henn_paillier_ct_serialize(uint8_t *buf, size_t buf_len,
                                                       const henn_paillier_pk *pk,
                                                       const henn_paillier_ct *ct, size_t count);
/* Reads the count stored in a binary vector header. Errors: HENN_EFORMAT
 * (bad magic, version, truncated header), HENN_EKEY (other key). */
HENN_API HENN_NODISCARD int henn_paillier_ct_binary_count(size_t *count,
                                                          const henn_paillier_pk *pk,
                                                          const uint8_t *buf, size_t buf_len);
/* Reads exactly count ciphertexts into ct[0..count) (initialised); the
 * buffer must have exactly that length. Errors: HENN_EFORMAT (truncated,
 * trailing bytes, count mismatch), HENN_EKEY, HENN_ERANGE (c outside Z*_{n^2}). */
HENN_API HENN_NODISCARD int henn_paillier_ct_deserialize(henn_paillier_ct *ct, size_t count,
                                                         const henn_paillier_pk *pk,
                                                         const uint8_t *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif
