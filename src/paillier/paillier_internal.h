/* Private declarations of the Paillier module. */
#ifndef HENN_PAILLIER_INTERNAL_H
#define HENN_PAILLIER_INTERNAL_H

#include <string.h>

#include "../core/internal.h"
#include "henn/paillier.h"

/* Largest exponent difference accepted when aligning exponents
 * (c^(16^d) costs 4d bits of exponent). */
#define HENN__PAILLIER_MAX_EXP_SHIFT 4096

/*
 * Montgomery arithmetic modulo an odd m (mont.c), on GMP's public mpn
 * layer: R = 2^(64 nl), nl = limbs of m. Residues are nl-limb arrays < m.
 */
typedef struct henn__mont {
    mp_size_t nl;
    mp_limb_t minv; /* -m^-1 mod 2^64 */
    mp_limb_t *m;   /* nl limbs */
} henn__mont;
int henn__mont_init(henn__mont *mt, const mpz_t m);
void henn__mont_clear(henn__mont *mt);
/* r = a b / R mod m (r may alias a or b); t: scratch of 2 nl limbs. */
void henn__mont_mul(const henn__mont *mt, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
                    mp_limb_t *t);
/* dst = x R mod m, for 0 <= x; tmp: an initialised scratch mpz. */
void henn__mont_to(const henn__mont *mt, mp_limb_t *dst, const mpz_t x, mpz_t tmp);
/* r = a / R mod m (leave Montgomery form); t: scratch of 2 nl limbs. */
void henn__mont_from(const henn__mont *mt, mpz_t r, const mp_limb_t *a, mp_limb_t *t);

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

/* Fixed-base table (fbtab.c). */
int henn__paillier_fbtab_build(struct henn__paillier_fbtab **out, const mpz_t hs, const mpz_t n2,
                               size_t a_bits, unsigned w);
void henn__paillier_fbtab_free(struct henn__paillier_fbtab *t);
/* r = h_s^a mod n^2 for 0 <= a < 2^a_bits. */
int henn__paillier_fbtab_pow(mpz_t r, const struct henn__paillier_fbtab *t, const mpz_t a);

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
