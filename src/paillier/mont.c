/*
 * Montgomery arithmetic (Montgomery 1985) modulo an odd m, with two
 * backends chosen once per context:
 *
 *  - mpn: GMP's public mpn layer, R = 2^(64 nl): product by mpn_mul_n /
 *    mpn_sqr, then word-by-word reduction with mpn_addmul_1. Residues are
 *    nl-limb arrays < m.
 *  - IFMA: AVX-512 IFMA in 52-bit limbs (mont_ifma.c), R = 2^(416 v).
 *    Residues are 8 v words of 52 bits each, < 2m. Used when the CPU has
 *    IFMA, the modulus has 1,024 to 8,318 bits (R > 4m, v <= 20) and it
 *    has not been turned off with henn__ifma_set_enabled(0).
 *
 * Exponentiation: henn__mont_powm_sec() is a fixed-window ladder with a
 * full-table scan per window (constant time for a given exponent length);
 * henn__mont_powm() a sliding window for public exponents. With the mpn
 * backend both hand over to GMP (mpz_powm_sec / mpz_powm).
 */
#include <stdlib.h>

#include "paillier_internal.h"

#define MASK52 ((UINT64_C(1) << 52) - 1)
/* 64-bit words of the largest IFMA residue (8 v 52 bits), plus slack for
 * the word straddled by the top limb */
#define WORDS64_MAX (8 * HENN__IFMA_MAX_V * 52 / 64 + 2)

static int ifma_enabled = 1;

void henn__ifma_set_enabled(int on)
{
    __atomic_store_n(&ifma_enabled, on != 0, __ATOMIC_RELAXED);
}

int henn__ifma_active(void)
{
    return __atomic_load_n(&ifma_enabled, __ATOMIC_RELAXED) && henn__ifma_cpu();
}

/* Vectors of 8 x 52-bit limbs needed for R = 2^(416 v) > 4m. */
static size_t ifma_vectors(size_t bits)
{
    return (bits + 2 + 415) / 416;
}

/* dst[0 .. 8v) = the 52-bit limbs of 0 <= x < 2^(416 v). */
static void to52(uint64_t *dst, size_t v, const mpz_t x)
{
    size_t words = 8 * v * 52 / 64 + 2, count = 0, i;
    uint64_t w[WORDS64_MAX];
    memset(w, 0, words * sizeof(uint64_t));
    mpz_export(w, &count, -1, sizeof(uint64_t), 0, 0, x);
    for (i = 0; i < 8 * v; i++) {
        size_t bit = 52 * i, k = bit / 64;
        unsigned off = (unsigned)(bit % 64);
        uint64_t t = w[k] >> off;
        if (off > 12)
            t |= w[k + 1] << (64 - off);
        dst[i] = t & MASK52;
    }
    henn_memzero(w, sizeof(w));
}

/* w[0 .. 8v 52 / 64 + 2) = the 64-bit words of the integer with 52-bit
 * limbs src[0 .. 8v). */
static void from52(uint64_t *w, const uint64_t *src, size_t v)
{
    size_t i;
    memset(w, 0, (8 * v * 52 / 64 + 2) * sizeof(uint64_t));
    for (i = 0; i < 8 * v; i++) {
        size_t bit = 52 * i, k = bit / 64;
        unsigned off = (unsigned)(bit % 64);
        w[k] |= src[i] << off;
        if (off > 12)
            w[k + 1] |= src[i] >> (64 - off);
    }
}

static int init_common(henn__mont *mt, const mpz_t m)
{
    size_t count = 0;
    memset(mt, 0, sizeof(*mt));
    if (mpz_sgn(m) <= 0 || mpz_even_p(m))
        return HENN_EINVAL;
    mt->nl = (mp_size_t)mpz_size(m);
    mt->m = calloc((size_t)mt->nl, sizeof(mp_limb_t));
    if (mt->m == NULL)
        return HENN_ENOMEM;
    mpz_export(mt->m, &count, -1, sizeof(mp_limb_t), 0, 0, m);
    return 0;
}

/* -m0^-1 mod 2^64 by Newton's iteration (each step doubles the bits). */
static uint64_t neg_inv64(uint64_t m0)
{
    uint64_t inv = 1;
    int k;
    for (k = 0; k < 7; k++)
        inv *= 2 - m0 * inv;
    return (uint64_t)0 - inv;
}

int henn__mont_init_mpn(henn__mont *mt, const mpz_t m)
{
    int rc = init_common(mt, m);
    if (rc != 0)
        return rc;
    mt->minv = neg_inv64(mt->m[0]);
    mt->words = (size_t)mt->nl;
    mt->scratch_words = 2 * (size_t)mt->nl;
    return 0;
}

int henn__mont_init(henn__mont *mt, const mpz_t m)
{
    size_t v, bits;
    mpz_t t;
    int rc;
    if (mpz_sgn(m) <= 0 || mpz_even_p(m) || !henn__ifma_active())
        return henn__mont_init_mpn(mt, m);
    bits = mpz_sizeinbase(m, 2);
    v = ifma_vectors(bits);
    /* below about 1,000 bits GMP's code is as fast or faster */
    if (bits < HENN__IFMA_MIN_BITS || v > HENN__IFMA_MAX_V)
        return henn__mont_init_mpn(mt, m);
    rc = init_common(mt, m);
    if (rc != 0)
        return rc;
    mt->v = v;
    mt->words = 8 * v;
    mt->scratch_words = 8 * v;
    mt->minv = neg_inv64(mt->m[0]) & MASK52;
    mt->m52 = calloc(3 * 8 * v, sizeof(uint64_t));
    if (mt->m52 == NULL) {
        henn__mont_clear(mt);
        return HENN_ENOMEM;
    }
    mt->rr52 = mt->m52 + 8 * v;
    mt->one52 = mt->rr52 + 8 * v;
    to52(mt->m52, v, m);
    mpz_init(t);
    mpz_setbit(t, (mp_bitcnt_t)(2 * 416 * v));
    mpz_mod(t, t, m);
    to52(mt->rr52, v, t);
    henn__mpz_wipe_clear(t);
    mt->one52[0] = 1;
    return 0;
}

void henn__mont_clear(henn__mont *mt)
{
    if (mt->mb != NULL) {
        henn__mb_clear(mt->mb); /* wipes its copy of the modulus */
        free(mt->mb);
    }
    /* the modulus may be secret (p^2 in decryption) */
    if (mt->m != NULL) {
        henn_memzero(mt->m, (size_t)mt->nl * sizeof(mp_limb_t));
        free(mt->m);
    }
    if (mt->m52 != NULL) {
        henn_memzero(mt->m52, 3 * 8 * mt->v * sizeof(uint64_t));
        free(mt->m52);
    }
    henn_memzero(mt, sizeof(*mt));
}

/* r = t / R mod m for t < m R; t[0..2nl) is destroyed. */
static void redc(const henn__mont *mt, mp_limb_t *r, mp_limb_t *t)
{
    mp_size_t i, nl = mt->nl;
    mp_limb_t cy;
    for (i = 0; i < nl; i++) {
        mp_limb_t q = t[i] * mt->minv;
        /* t[i] + q m[0] == 0 mod 2^64; keep the carry in the freed limb. */
        t[i] = mpn_addmul_1(t + i, mt->m, nl, q);
    }
    cy = mpn_add_n(r, t + nl, t, nl);
    if (cy != 0 || mpn_cmp(r, mt->m, nl) >= 0)
        mpn_sub_n(r, r, mt->m, nl);
}

void henn__mont_mul(const henn__mont *mt, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b,
                    mp_limb_t *t)
{
    if (mt->v != 0) {
        henn__ifma_amm(r, a, b, mt->m52, mt->minv, mt->v);
        return;
    }
    if (a == b)
        mpn_sqr(t, a, mt->nl);
    else
        mpn_mul_n(t, a, b, mt->nl);
    redc(mt, r, t);
}

void henn__mont_to(const henn__mont *mt, mp_limb_t *dst, const mpz_t x, mpz_t tmp)
{
    mpz_t mview;
    size_t count = 0;
    mpz_roinit_n(mview, mt->m, mt->nl);
    if (mt->v != 0) {
        uint64_t x52[8 * HENN__IFMA_MAX_V];
        if (mpz_sgn(x) < 0 || mpz_cmp(x, mview) >= 0) {
            mpz_mod(tmp, x, mview);
            to52(x52, mt->v, tmp);
        } else {
            to52(x52, mt->v, x);
        }
        henn__ifma_amm(dst, x52, mt->rr52, mt->m52, mt->minv, mt->v);
        henn_memzero(x52, sizeof(x52));
        return;
    }
    mpz_mul_2exp(tmp, x, (mp_bitcnt_t)(64 * mt->nl));
    mpz_mod(tmp, tmp, mview);
    memset(dst, 0, (size_t)mt->nl * sizeof(mp_limb_t));
    mpz_export(dst, &count, -1, sizeof(mp_limb_t), 0, 0, tmp);
}

void henn__mont_from(const henn__mont *mt, mpz_t r, const mp_limb_t *a, mp_limb_t *t)
{
    if (mt->v != 0) {
        uint64_t w[WORDS64_MAX], d[WORDS64_MAX];
        mp_limb_t borrow;
        /* a / R <= m, and = m only for a = 0 mod m: subtract m when the
         * value is >= m, without a data-dependent branch */
        henn__ifma_amm(t, a, mt->one52, mt->m52, mt->minv, mt->v);
        from52(w, t, mt->v);
        borrow = mpn_sub_n(d, w, mt->m, mt->nl);
        mpn_cnd_sub_n(1 - borrow, w, w, mt->m, mt->nl);
        mpz_import(r, (size_t)mt->nl, -1, sizeof(mp_limb_t), 0, 0, w);
        henn_memzero(w, sizeof(w));
        henn_memzero(d, sizeof(d));
        return;
    }
    /* redc may write its result over the upper half it reads (mpn_add_n
     * allows rp == up). */
    memcpy(t, a, (size_t)mt->nl * sizeof(mp_limb_t));
    memset(t + mt->nl, 0, (size_t)mt->nl * sizeof(mp_limb_t));
    redc(mt, t + mt->nl, t);
    mpz_import(r, (size_t)mt->nl, -1, sizeof(mp_limb_t), 0, 0, t + mt->nl);
}

/* --------------------------------------------------------- exponentiation */

/* Bits pos .. pos + w - 1 of the little-endian words e (zero past the end
 * of the exponent; the caller pads e by one word). */
static unsigned digit(const uint64_t *e, size_t pos, unsigned w)
{
    size_t k = pos / 64;
    unsigned off = (unsigned)(pos % 64);
    uint64_t t = e[k] >> off;
    if (off + w > 64)
        t |= e[k + 1] << (64 - off);
    return (unsigned)(t & ((UINT64_C(1) << w) - 1));
}

/* dst = tab[idx] reading every entry (no index-dependent access). */
static void select_ct(uint64_t *dst, const uint64_t *tab, size_t entries, size_t words,
                      unsigned idx)
{
    size_t k, j;
    memset(dst, 0, words * sizeof(uint64_t));
    for (k = 0; k < entries; k++) {
        uint64_t d = (uint64_t)k ^ idx;
        uint64_t mask = ((d | ((uint64_t)0 - d)) >> 63) - 1; /* all ones iff d == 0 */
        const uint64_t *row = tab + k * words;
        for (j = 0; j < words; j++)
            dst[j] |= row[j] & mask;
    }
}

#define SEC_W 5

int henn__mont_powm_sec(const henn__mont *mt, mpz_t r, const mpz_t b, const mpz_t e,
                        size_t ebits)
{
    size_t words, ewords = ebits / 64 + 2, count = 0, k, nwin, pos, len;
    uint64_t *mem, *tab, *acc, *sel, *ew;
    mpz_t tmp, mview;
    unsigned i;

    if (mt == NULL || mt->m == NULL)
        return HENN_EKEY;
    if (mpz_sgn(e) < 0 || mpz_sizeinbase(e, 2) > ebits || ebits == 0)
        return HENN_EINVAL;
    if (mt->v == 0) {
        if (mpz_sgn(e) == 0) {
            mpz_set_ui(r, mt->nl == 1 && mt->m[0] == 1 ? 0 : 1);
            return 0;
        }
        mpz_powm_sec(r, b, e, mpz_roinit_n(mview, mt->m, mt->nl));
        return 0;
    }
    words = mt->words;
    len = ((2 + ((size_t)1 << SEC_W)) * words + ewords) * sizeof(uint64_t);
    mem = malloc(len);
    if (mem == NULL)
        return HENN_ENOMEM;
    tab = mem;
    acc = tab + ((size_t)1 << SEC_W) * words;
    sel = acc + words;
    ew = sel + words;
    memset(ew, 0, ewords * sizeof(uint64_t));
    mpz_export(ew, &count, -1, sizeof(uint64_t), 0, 0, e);
    mpz_init(tmp);
    /* tab[k] = b^k R mod m */
    henn__ifma_amm(tab, mt->one52, mt->rr52, mt->m52, mt->minv, mt->v);
    henn__mont_to(mt, tab + words, b, tmp);
    for (k = 2; k < ((size_t)1 << SEC_W); k++)
        henn__ifma_amm(tab + k * words, tab + (k - 1) * words, tab + words, mt->m52, mt->minv,
                       mt->v);
    nwin = (ebits + SEC_W - 1) / SEC_W;
    pos = (nwin - 1) * SEC_W;
    select_ct(acc, tab, (size_t)1 << SEC_W, words, digit(ew, pos, SEC_W));
    while (pos > 0) {
        pos -= SEC_W;
        for (i = 0; i < SEC_W; i++)
            henn__ifma_amm(acc, acc, acc, mt->m52, mt->minv, mt->v);
        select_ct(sel, tab, (size_t)1 << SEC_W, words, digit(ew, pos, SEC_W));
        henn__ifma_amm(acc, acc, sel, mt->m52, mt->minv, mt->v);
    }
    henn__mont_from(mt, r, acc, sel);
    henn_memzero(mem, len);
    free(mem);
    henn__mpz_wipe_clear(tmp);
    return 0;
}

unsigned henn__slide_width(size_t ebits)
{
    return ebits <= 8 ? 1 : ebits <= 24 ? 2 : ebits <= 80 ? 3 : ebits <= 240 ? 4
         : ebits <= 672 ? 5 : 6;
}

long henn__slide_window(const mpz_t e, long i, unsigned w, unsigned *val)
{
    long l = i - (long)w + 1 < 0 ? 0 : i - (long)w + 1, j;
    unsigned v = 0;
    while (!mpz_tstbit(e, (mp_bitcnt_t)l))
        l++;
    for (j = i; j >= l; j--)
        v = (v << 1) | (unsigned)mpz_tstbit(e, (mp_bitcnt_t)j);
    *val = v;
    return l;
}

int henn__mont_powm(const henn__mont *mt, mpz_t r, const mpz_t b, const mpz_t e)
{
    size_t words, ebits, k, odd;
    uint64_t *mem, *tab, *acc, *x2;
    mpz_t tmp, mview;
    long i;
    unsigned w;
    int started = 0;

    if (mt == NULL || mt->m == NULL)
        return HENN_EKEY;
    if (mpz_sgn(e) < 0)
        return HENN_EINVAL;
    if (mt->v == 0 || mpz_sgn(e) == 0) {
        mpz_powm(r, b, e, mpz_roinit_n(mview, mt->m, mt->nl));
        return 0;
    }
    words = mt->words;
    ebits = mpz_sizeinbase(e, 2);
    w = henn__slide_width(ebits);
    odd = (size_t)1 << (w - 1);
    mem = malloc((odd + 2) * words * sizeof(uint64_t));
    if (mem == NULL)
        return HENN_ENOMEM;
    tab = mem;
    acc = tab + odd * words;
    x2 = acc + words;
    mpz_init(tmp);
    /* tab[k] = b^(2k + 1) R mod m */
    henn__mont_to(mt, tab, b, tmp);
    if (odd > 1) {
        henn__ifma_amm(x2, tab, tab, mt->m52, mt->minv, mt->v);
        for (k = 1; k < odd; k++)
            henn__ifma_amm(tab + k * words, tab + (k - 1) * words, x2, mt->m52, mt->minv, mt->v);
    }
    for (i = (long)ebits - 1; i >= 0;) {
        long l, j;
        unsigned val = 0;
        if (!mpz_tstbit(e, (mp_bitcnt_t)i)) {
            henn__ifma_amm(acc, acc, acc, mt->m52, mt->minv, mt->v); /* started: top bit is 1 */
            i--;
            continue;
        }
        l = henn__slide_window(e, i, w, &val);
        if (started) {
            for (j = i; j >= l; j--)
                henn__ifma_amm(acc, acc, acc, mt->m52, mt->minv, mt->v);
            henn__ifma_amm(acc, acc, tab + (val >> 1) * words, mt->m52, mt->minv, mt->v);
        } else {
            memcpy(acc, tab + (val >> 1) * words, words * sizeof(uint64_t));
            started = 1;
        }
        i = l - 1;
    }
    henn__mont_from(mt, r, acc, x2);
    free(mem);
    mpz_clear(tmp);
    return 0;
}
