/*
 * Multi-buffer ("vertical") Montgomery arithmetic with AVX-512 IFMA: eight
 * independent residues modulo the same odd m, one 64-bit lane per residue.
 *
 * Layout. A residue set is L 512-bit vectors; vector j holds limb j (bits
 * 52 j .. 52 j + 51) of all eight numbers, lane l of every vector belongs to
 * number l (word 8 j + l of the array). L is the smallest count of 52-bit
 * limbs with R = 2^(52 L) > 4m, so that almost-Montgomery products of
 * inputs < 2m stay < 2m without a final subtraction (Gueron & Krasnov,
 * "Accelerating Big Integer Arithmetic Using Intel IFMA Extensions", ARITH
 * 2016, section IV; the vertical layout is their section V and the
 * multi-buffer design of Intel's crypto_mb). The modulus is the same in
 * every lane, so it is kept as L scalar limbs and broadcast.
 *
 * Product (mb_amm): operand scanning, word-serial Montgomery: for every
 * limb vector b_i, T += a b_i + y m with y = T_0 (-m^-1) mod 2^52 per lane,
 * then T /= 2^52, where the shift is a renaming of the vectors (T[j - 1]
 * receives the new limb j), so no lane crosses another.
 * Squaring (mb_sqr): the double-width square with each cross product
 * a_i a_j (i < j) computed once, the column sums doubled by one shift, the
 * diagonal added, then a separate Montgomery reduction (Drucker & Gueron,
 * "Fast modular squaring with AVX512IFMA", ITNG 2019, section 3): 3 L^2
 * multiply instructions instead of 4 L^2.
 *
 * Pairs modulo a square (henn__mbsq_powm, "Pairs" below): an element of
 * Z/m^2 held as two residues A, B modulo m with X R = A + B m. As m^2 = 0,
 * a product needs one product modulo m (A C, whose Montgomery digits y
 * carry into the m-adic half) and one more reduction for A D + B C - y:
 * 3 L'^2 + 2 L'^2 multiply-adds per square and 4 L'^2 + 6 L'^2 per product
 * with L' = L / 2, against 3 L^2 and 4 L^2 modulo m^2, so about 0.6 of
 * the work. Used for r^n mod n^2 (root n) and c^(p-1) mod p^2 (root p).
 *
 * Bounds (why the 64-bit lanes never overflow). Inputs are normalised to
 * 52 bits per limb (vpmadd52 reads only the low 52 bits). Each
 * vpmadd52{lo,hi} adds less than 2^52. In mb_amm a position receives at
 * most 4 such terms per iteration and survives at most L iterations
 * before it is shifted out, plus carries below 2^12: < (4 L + 1) 2^52.
 * In mb_sqr a column receives at most L cross terms (< L 2^52), is
 * doubled, gets 2 diagonal terms, then at most 2 L reduction terms and a
 * carry: < (4 L + 3) 2^52. With L <= 160 both are < 643 * 2^52 < 2^62.
 * Limbs are normalised (carry propagated per lane) once per product.
 *
 * Timing. No branch and no memory address depends on the residues or on
 * m: the instruction stream depends only on L (and, in the exponentiations,
 * on the exponent's length; for the public-exponent ladder also on its
 * bits). The secret-exponent ladder uses fixed 5-bit windows and reads
 * every table entry for every window, selecting one with an all-ones or
 * all-zeros mask computed without branches. Leaving Montgomery form ends
 * with a masked subtraction of m (no comparison branch). Conversions from
 * mpz read mpz_size() of the inputs (see sec.c for the same caveat).
 *
 * Wiping: heap tables and accumulators are wiped before they are freed;
 * the kernels' stack scratch is left for henn__burn_stack(), which the
 * secret-exponent entry point calls before it returns (the pair ladders
 * clear 96 KB instead: their squaring frames reach about 52 KB).
 */
#include <stdlib.h>

#include "paillier_internal.h"

#define MASK52 ((UINT64_C(1) << 52) - 1)
#define LANES HENN__MB_LANES
#define SEC_W 5

/* -m0^-1 mod 2^64 by Newton's iteration. */
static uint64_t neg_inv64(uint64_t m0)
{
    uint64_t inv = 1;
    int k;
    for (k = 0; k < 7; k++)
        inv *= 2 - m0 * inv;
    return (uint64_t)0 - inv;
}

/* dst[0 .. L) = the 52-bit limbs of 0 <= x < 2^(52 L), at stride `stride`
 * (1: scalar, LANES: one lane of a vertical residue). */
static void put52(uint64_t *dst, size_t stride, size_t L, const mpz_t x)
{
    uint64_t w[HENN__MB_MAX_LIMBS * 52 / 64 + 2];
    size_t words = L * 52 / 64 + 2, count = 0, i;
    memset(w, 0, words * sizeof(uint64_t));
    mpz_export(w, &count, -1, sizeof(uint64_t), 0, 0, x);
    for (i = 0; i < L; i++) {
        size_t bit = 52 * i, k = bit / 64;
        unsigned off = (unsigned)(bit % 64);
        uint64_t t = w[k] >> off;
        if (off > 12)
            t |= w[k + 1] << (64 - off);
        dst[i * stride] = t & MASK52;
    }
    henn_memzero(w, sizeof(w));
}

/* x = the integer whose 52-bit limbs are src[0], src[stride], ... */
static void get52(mpz_t x, const uint64_t *src, size_t stride, size_t L)
{
    uint64_t w[HENN__MB_MAX_LIMBS * 52 / 64 + 2];
    size_t words = L * 52 / 64 + 2, i;
    memset(w, 0, words * sizeof(uint64_t));
    for (i = 0; i < L; i++) {
        size_t bit = 52 * i, k = bit / 64;
        unsigned off = (unsigned)(bit % 64);
        uint64_t s = src[i * stride];
        w[k] |= s << off;
        if (off > 12)
            w[k + 1] |= s >> (64 - off);
    }
    mpz_import(x, words, -1, sizeof(uint64_t), 0, 0, w);
    henn_memzero(w, sizeof(w));
}

/* ------------------------------------------------------------ kernels -- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MB_HAVE_IFMA 1
#include <immintrin.h>

#define IFMA_TARGET __attribute__((target("avx512f,avx512ifma")))
#define INLINE static inline __attribute__((always_inline))
#define LO(acc, x, y) _mm512_madd52lo_epu64(acc, x, y)
#define HI(acc, x, y) _mm512_madd52hi_epu64(acc, x, y)
#define BC(p) _mm512_set1_epi64((long long)(p))

/* r[j] = normalised limbs of t[0 .. L) (carries propagated per lane). */
INLINE IFMA_TARGET void normalise(__m512i *r, const __m512i *t, size_t L)
{
    const __m512i mask = BC(MASK52);
    __m512i c = _mm512_setzero_si512();
    size_t j;
    for (j = 0; j < L; j++) {
        __m512i x = _mm512_add_epi64(t[j], c);
        c = _mm512_srli_epi64(x, 52);
        r[j] = _mm512_and_si512(x, mask);
    }
}

/* r = a b / R mod m per lane, r < 2m for a, b < 2m; r may alias a or b.
 * ys != NULL: ys[i] = the i-th Montgomery digit y_i, so that
 * a b + y m = r R exactly (y = sum y_i 2^(52 i)). */
INLINE IFMA_TARGET void amm_body(__m512i *r, const __m512i *a, const __m512i *b,
                                 const uint64_t *m, uint64_t k0, size_t L, __m512i *ys)
{
    __m512i t[HENN__MB_MAX_LIMBS + 1];
    const __m512i zero = _mm512_setzero_si512(), k0v = BC(k0);
    size_t i, j;
    for (j = 0; j < L; j++)
        t[j] = zero;
    for (i = 0; i < L; i++) {
        const __m512i bi = b[i];
        __m512i x, y, c, ap, mp;
        x = LO(t[0], a[0], bi);
        y = LO(zero, x, k0v);
        if (ys != NULL)
            ys[i] = y;
        mp = BC(m[0]);
        x = LO(x, mp, y);
        c = _mm512_srli_epi64(x, 52);
        ap = a[0];
#pragma GCC unroll 4
        for (j = 1; j < L; j++) {
            const __m512i aj = a[j], mj = BC(m[j]);
            x = LO(t[j], aj, bi);
            x = LO(x, mj, y);
            x = HI(x, ap, bi);
            x = HI(x, mp, y);
            t[j - 1] = x;
            ap = aj;
            mp = mj;
        }
        t[L - 1] = HI(HI(zero, ap, bi), mp, y);
        t[0] = _mm512_add_epi64(t[0], c);
    }
    normalise(r, t, L);
}

/* r = a^2 / R mod m per lane (a < 2m, r < 2m); r may alias a.
 * Cross products a_i a_j (i < j) two rows (i, i + 1) per pass, so every
 * accumulator vector t[c] is loaded and stored once per 4 multiply-adds
 * (lo/hi of a_i a_{c-i}, a_i a_{c-i-1}, a_{i+1} a_{c-i-1}, a_{i+1}
 * a_{c-i-2}); a copy of a padded with two zero limbs lets the last columns
 * of a pass run through the same loop. The column sums are doubled by one
 * shift and the squares a_i^2 added; the Montgomery reduction then also
 * takes two limbs (y_i, y_{i+1}) per pass, 4 multiply-adds per load/store
 * of t (one single-limb pass when L is odd). Loads/stores of the 512-bit
 * accumulator, not the multiplies, were the limit of the one-row form.
 * Bound: a column receives < L cross terms (< L 2^52), is doubled, gets 2
 * diagonal terms, then at most 2 L reduction terms and carries < 2^13:
 * < (4 L + 3) 2^52 < 2^62 for L <= 160. */
INLINE IFMA_TARGET void sqr_body(__m512i *r, const __m512i *a, const uint64_t *m, uint64_t k0,
                                 size_t L, __m512i *ys)
{
    __m512i t[2 * HENN__MB_MAX_LIMBS + 2], az[HENN__MB_MAX_LIMBS + 2];
    const __m512i zero = _mm512_setzero_si512(), k0v = BC(k0);
    size_t i, j;
    for (j = 0; j < L; j++)
        az[j] = a[j];
    az[L] = zero;
    az[L + 1] = zero;
    for (j = 0; j < 2 * L + 2; j++)
        t[j] = zero;
    /* cross products, rows i and i + 1 (row L - 1 has none) */
    for (i = 0; i + 1 < L; i += 2) {
        const __m512i ai = az[i], ai1 = az[i + 1];
        __m512i p1 = az[i + 2], p2 = az[i + 1], x; /* p1 = az[j - 1], p2 = az[j - 2] */
        t[2 * i + 1] = LO(t[2 * i + 1], ai, ai1);
        t[2 * i + 2] = LO(HI(t[2 * i + 2], ai, ai1), ai, p1);
        x = LO(HI(t[2 * i + 3], ai, p1), ai, az[i + 3]);
        t[2 * i + 3] = LO(x, ai1, p1);
        p2 = p1;
        p1 = az[i + 3];
#pragma GCC unroll 4
        for (j = i + 4; j < L + 2; j++) {
            const __m512i aj = az[j];
            x = LO(t[i + j], ai, aj);
            x = HI(x, ai, p1);
            x = LO(x, ai1, p1);
            t[i + j] = HI(x, ai1, p2);
            p2 = p1;
            p1 = aj;
        }
    }
    /* double, add the squares a_i^2 */
    for (i = 0; i < L; i++) {
        t[2 * i] = LO(_mm512_slli_epi64(t[2 * i], 1), az[i], az[i]);
        t[2 * i + 1] = HI(_mm512_slli_epi64(t[2 * i + 1], 1), az[i], az[i]);
    }
    /* Montgomery reduction, two limbs per pass */
    for (i = 0; i + 1 < L; i += 2) {
        const __m512i m0 = BC(m[0]), m1 = BC(m[1]);
        __m512i x0 = t[i], x1, y0, y1, mp1, mp2;
        y0 = LO(zero, x0, k0v);
        x0 = LO(x0, m0, y0);
        x1 = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64(x0, 52));
        x1 = HI(LO(x1, m1, y0), m0, y0);
        y1 = LO(zero, x1, k0v);
        if (ys != NULL) {
            ys[i] = y0;
            ys[i + 1] = y1;
        }
        x1 = LO(x1, m0, y1);
        t[i + 2] = _mm512_add_epi64(t[i + 2], _mm512_srli_epi64(x1, 52));
        mp1 = m1;
        mp2 = m0;
#pragma GCC unroll 4
        for (j = 2; j < L; j++) {
            const __m512i mj = BC(m[j]);
            __m512i x = LO(t[i + j], mj, y0);
            x = HI(x, mp1, y0);
            x = LO(x, mp1, y1);
            t[i + j] = HI(x, mp2, y1);
            mp2 = mp1;
            mp1 = mj;
        }
        t[i + L] = HI(LO(HI(t[i + L], mp1, y0), mp1, y1), mp2, y1);
        t[i + L + 1] = HI(t[i + L + 1], mp1, y1);
    }
    if (L % 2 != 0) { /* the last limb, i = L - 1 */
        __m512i x = t[i], y, mp;
        y = LO(zero, x, k0v);
        if (ys != NULL)
            ys[i] = y;
        mp = BC(m[0]);
        x = LO(x, mp, y);
        t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64(x, 52));
        for (j = 1; j < L; j++) {
            const __m512i mj = BC(m[j]);
            __m512i z = LO(t[i + j], mj, y);
            t[i + j] = HI(z, mp, y);
            mp = mj;
        }
        t[i + L] = HI(t[i + L], mp, y);
    }
    normalise(r, t + L, L);
}

static IFMA_TARGET void amm_generic(__m512i *r, const __m512i *a, const __m512i *b,
                                    const uint64_t *m, uint64_t k0, size_t L)
{
    amm_body(r, a, b, m, k0, L, NULL);
}

static IFMA_TARGET void sqr_generic(__m512i *r, const __m512i *a, const uint64_t *m,
                                    uint64_t k0, size_t L)
{
    sqr_body(r, a, m, k0, L, NULL);
}

/* Sizes compiled with a constant L (the Paillier moduli p^2, q^2, n^2 for
 * n of 2048, 3072 and 4096 bits); others use the generic loop. */
#define MB_FIXED(n)                                                                                \
    static IFMA_TARGET void amm_##n(__m512i *r, const __m512i *a, const __m512i *b,               \
                                    const uint64_t *m, uint64_t k0)                                \
    {                                                                                              \
        amm_body(r, a, b, m, k0, n, NULL);                                                         \
    }                                                                                              \
    static IFMA_TARGET void sqr_##n(__m512i *r, const __m512i *a, const uint64_t *m, uint64_t k0) \
    {                                                                                              \
        sqr_body(r, a, m, k0, n, NULL);                                                            \
    }
MB_FIXED(40)
MB_FIXED(60)
MB_FIXED(79)
MB_FIXED(80)
MB_FIXED(119)
MB_FIXED(158)

static IFMA_TARGET void mb_amm(const henn__mb *mb, uint64_t *r, const uint64_t *a,
                               const uint64_t *b)
{
    __m512i *rv = (__m512i *)(void *)r;
    const __m512i *av = (const __m512i *)(const void *)a, *bv = (const __m512i *)(const void *)b;
    switch (mb->limbs) {
    case 40: amm_40(rv, av, bv, mb->m, mb->k0); break;
    case 60: amm_60(rv, av, bv, mb->m, mb->k0); break;
    case 79: amm_79(rv, av, bv, mb->m, mb->k0); break;
    case 80: amm_80(rv, av, bv, mb->m, mb->k0); break;
    case 119: amm_119(rv, av, bv, mb->m, mb->k0); break;
    case 158: amm_158(rv, av, bv, mb->m, mb->k0); break;
    default: amm_generic(rv, av, bv, mb->m, mb->k0, mb->limbs);
    }
}

static IFMA_TARGET void mb_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *a)
{
    __m512i *rv = (__m512i *)(void *)r;
    const __m512i *av = (const __m512i *)(const void *)a;
    switch (mb->limbs) {
    case 40: sqr_40(rv, av, mb->m, mb->k0); break;
    case 60: sqr_60(rv, av, mb->m, mb->k0); break;
    case 79: sqr_79(rv, av, mb->m, mb->k0); break;
    case 80: sqr_80(rv, av, mb->m, mb->k0); break;
    case 119: sqr_119(rv, av, mb->m, mb->k0); break;
    case 158: sqr_158(rv, av, mb->m, mb->k0); break;
    default: sqr_generic(rv, av, mb->m, mb->k0, mb->limbs);
    }
}

/* acc = tab[idx] for a table of `entries` residues of L vectors, reading
 * every entry (the index only selects through an all-ones/zeros mask). */
static IFMA_TARGET void select_ct(uint64_t *acc, const uint64_t *tab, size_t entries, size_t L,
                                  unsigned idx)
{
    __m512i *dst = (__m512i *)(void *)acc;
    const __m512i *src = (const __m512i *)(const void *)tab;
    size_t k, j;
    for (j = 0; j < L; j++)
        dst[j] = _mm512_setzero_si512();
    for (k = 0; k < entries; k++) {
        uint64_t d = (uint64_t)k ^ idx;
        uint64_t mask = ((d | ((uint64_t)0 - d)) >> 63) - 1; /* all ones iff k == idx */
        const __m512i mv = BC(mask);
        const __m512i *row = src + k * L;
        for (j = 0; j < L; j++) /* dst | (row & mv) */
            dst[j] = _mm512_ternarylogic_epi64(dst[j], row[j], mv, 0xF8);
    }
}

/* r = a - m if a >= m else a, per lane, with a masked blend (a < 2m). */
static IFMA_TARGET void final_sub(const henn__mb *mb, uint64_t *r, const uint64_t *a)
{
    __m512i *rv = (__m512i *)(void *)r;
    const __m512i *av = (const __m512i *)(const void *)a;
    const __m512i mask = BC(MASK52);
    __m512i borrow = _mm512_setzero_si512();
    size_t j, L = mb->limbs;
    __mmask8 keep;
    /* first pass: the borrow out of a - m (set: a < m, keep a) */
    for (j = 0; j < L; j++) {
        __m512i d = _mm512_sub_epi64(_mm512_sub_epi64(av[j], BC(mb->m[j])), borrow);
        borrow = _mm512_srli_epi64(d, 63);
    }
    keep = _mm512_test_epi64_mask(borrow, borrow);
    /* second pass (r may alias a): the difference or a, per lane */
    borrow = _mm512_setzero_si512();
    for (j = 0; j < L; j++) {
        __m512i x = av[j];
        __m512i d = _mm512_sub_epi64(_mm512_sub_epi64(x, BC(mb->m[j])), borrow);
        borrow = _mm512_srli_epi64(d, 63);
        rv[j] = _mm512_mask_blend_epi64(keep, _mm512_and_si512(d, mask), x);
    }
}

/* ------------------------------------------- pairs modulo a square m^2 -- */

/*
 * The n-adic half of a product of pairs (see "Pairs" below): r = (a b + c d
 * - y + z m) / R, where y = sum ys[i] 2^(52 i) < R are the Montgomery
 * digits of the product of the pairs' first halves and z the digits that
 * make the sum divisible by R (two = 0: the c d term is left out, c and d
 * are not read). Every column stays >= 0: after the subtraction of y_i a
 * column is > -2^52, and adding z_i m_0 makes it a multiple of 2^52, so it
 * is >= 0 before its carry is taken. r >= 0 (a b + c d + z m >= 0, y < R)
 * and r < (a b + c d) / R + m. Bound per column as in amm_body with 6
 * multiply-adds per row: < (6 L + 1) 2^52 < 2^62 for L <= 160.
 */
INLINE IFMA_TARGET void tail_body(__m512i *r, const __m512i *a, const __m512i *b,
                                  const __m512i *c, const __m512i *d, const __m512i *ys,
                                  const uint64_t *m, uint64_t k0, size_t L, int two)
{
    __m512i t[HENN__MB_MAX_LIMBS + 1];
    const __m512i zero = _mm512_setzero_si512(), k0v = BC(k0);
    size_t i, j;
    for (j = 0; j < L; j++)
        t[j] = zero;
    for (i = 0; i < L; i++) {
        const __m512i bi = b[i], di = two ? d[i] : zero;
        __m512i x, y, cr, ap, cp, mp;
        x = LO(t[0], a[0], bi);
        if (two)
            x = LO(x, c[0], di);
        x = _mm512_sub_epi64(x, ys[i]);
        y = LO(zero, x, k0v);
        mp = BC(m[0]);
        x = LO(x, mp, y);
        cr = _mm512_srli_epi64(x, 52);
        ap = a[0];
        cp = two ? c[0] : zero;
#pragma GCC unroll 4
        for (j = 1; j < L; j++) {
            const __m512i aj = a[j], mj = BC(m[j]);
            x = LO(t[j], aj, bi);
            x = LO(x, mj, y);
            x = HI(x, ap, bi);
            x = HI(x, mp, y);
            if (two) {
                const __m512i cj = c[j];
                x = LO(x, cj, di);
                x = HI(x, cp, di);
                cp = cj;
            }
            t[j - 1] = x;
            ap = aj;
            mp = mj;
        }
        x = HI(HI(zero, ap, bi), mp, y);
        if (two)
            x = HI(x, cp, di);
        t[L - 1] = x;
        t[0] = _mm512_add_epi64(t[0], cr);
    }
    normalise(r, t, L);
}

/* r = 2 a, normalised (a < 2^(52 L - 1)); r may alias a. */
INLINE IFMA_TARGET void dbl_body(__m512i *r, const __m512i *a, size_t L)
{
    const __m512i mask = BC(MASK52);
    __m512i c = _mm512_setzero_si512();
    size_t j;
    for (j = 0; j < L; j++) {
        __m512i x = _mm512_add_epi64(_mm512_slli_epi64(a[j], 1), c);
        c = _mm512_srli_epi64(x, 52);
        r[j] = _mm512_and_si512(x, mask);
    }
}

/*
 * Pairs. An element X of Z/m^2 is held as two residues of L limbs modulo
 * m, (A, B) with X R = A + B m (mod m^2), R = 2^(52 L) (both < 2m; the
 * pair is 2 L vectors, A first). Since m^2 = 0, (A + B m)(C + D m) =
 * A C + (A D + B C) m, and with the Montgomery identity A C + y m = E R
 * (E = the product of A and C, y its digits):
 *   X Z R = (A + B m)(C + D m) / R = E + m (A D + B C - y) / R (mod m^2),
 * so the product is the pair (E, (A D + B C - y) / R mod m): one product
 * modulo m and a second reduction that takes the same digits, instead of
 * one product modulo m^2 (half the limbs, a quarter of the work per
 * multiply-add row). A square is (A^2 / R, (2 A B - y) / R). Needs
 * R >= 16 m (L = limbs of bits(m) + 4): then both halves stay < 2m for
 * inputs < 2m (2 A B < 8 m^2 <= m R / 2).
 */
INLINE IFMA_TARGET void pair_sqr_body(__m512i *r, const __m512i *x, const uint64_t *m, uint64_t k0,
                                      size_t L)
{
    __m512i ys[HENN__MB_MAX_LIMBS], b2[HENN__MB_MAX_LIMBS], e[HENN__MB_MAX_LIMBS];
    size_t j;
    sqr_body(e, x, m, k0, L, ys);
    dbl_body(b2, x + L, L);
    tail_body(r + L, x, b2, NULL, NULL, ys, m, k0, L, 0);
    for (j = 0; j < L; j++)
        r[j] = e[j];
}

/* r = x z for pairs x, z (r may alias either). */
INLINE IFMA_TARGET void pair_mul_body(__m512i *r, const __m512i *x, const __m512i *z,
                                      const uint64_t *m, uint64_t k0, size_t L)
{
    __m512i ys[HENN__MB_MAX_LIMBS], e[HENN__MB_MAX_LIMBS];
    size_t j;
    amm_body(e, x, z, m, k0, L, ys);
    tail_body(r + L, x, z + L, x + L, z, ys, m, k0, L, 1);
    for (j = 0; j < L; j++)
        r[j] = e[j];
}

static IFMA_TARGET void pair_sqr_generic(__m512i *r, const __m512i *x, const uint64_t *m,
                                         uint64_t k0, size_t L)
{
    pair_sqr_body(r, x, m, k0, L);
}

static IFMA_TARGET void pair_mul_generic(__m512i *r, const __m512i *x, const __m512i *z,
                                         const uint64_t *m, uint64_t k0, size_t L)
{
    pair_mul_body(r, x, z, m, k0, L);
}

/* Roots of the Paillier moduli: p, q of 1,024 / 1,536 / 2,048 bits and n
 * of 2,048 / 3,072 / 4,096 bits (L = limbs of bits + 4). */
#define PAIR_FIXED(n)                                                                              \
    static IFMA_TARGET void pair_sqr_##n(__m512i *r, const __m512i *x, const uint64_t *m,         \
                                         uint64_t k0)                                              \
    {                                                                                              \
        pair_sqr_body(r, x, m, k0, n);                                                             \
    }                                                                                              \
    static IFMA_TARGET void pair_mul_##n(__m512i *r, const __m512i *x, const __m512i *z,          \
                                         const uint64_t *m, uint64_t k0)                           \
    {                                                                                              \
        pair_mul_body(r, x, z, m, k0, n);                                                          \
    }
PAIR_FIXED(20)
PAIR_FIXED(30)
PAIR_FIXED(40)
PAIR_FIXED(60)
PAIR_FIXED(79)

static IFMA_TARGET void mb_pair_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *x)
{
    __m512i *rv = (__m512i *)(void *)r;
    const __m512i *xv = (const __m512i *)(const void *)x;
    switch (mb->limbs) {
    case 20: pair_sqr_20(rv, xv, mb->m, mb->k0); break;
    case 30: pair_sqr_30(rv, xv, mb->m, mb->k0); break;
    case 40: pair_sqr_40(rv, xv, mb->m, mb->k0); break;
    case 60: pair_sqr_60(rv, xv, mb->m, mb->k0); break;
    case 79: pair_sqr_79(rv, xv, mb->m, mb->k0); break;
    default: pair_sqr_generic(rv, xv, mb->m, mb->k0, mb->limbs);
    }
}

static IFMA_TARGET void mb_pair_mul(const henn__mb *mb, uint64_t *r, const uint64_t *x,
                                    const uint64_t *z)
{
    __m512i *rv = (__m512i *)(void *)r;
    const __m512i *xv = (const __m512i *)(const void *)x, *zv = (const __m512i *)(const void *)z;
    switch (mb->limbs) {
    case 20: pair_mul_20(rv, xv, zv, mb->m, mb->k0); break;
    case 30: pair_mul_30(rv, xv, zv, mb->m, mb->k0); break;
    case 40: pair_mul_40(rv, xv, zv, mb->m, mb->k0); break;
    case 60: pair_mul_60(rv, xv, zv, mb->m, mb->k0); break;
    case 79: pair_mul_79(rv, xv, zv, mb->m, mb->k0); break;
    default: pair_mul_generic(rv, xv, zv, mb->m, mb->k0, mb->limbs);
    }
}


#else /* no IFMA code in this build: contexts always fall back */
#define MB_HAVE_IFMA 0
static void mb_amm(const henn__mb *mb, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    (void)mb, (void)r, (void)a, (void)b;
}
static void mb_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *a)
{
    (void)mb, (void)r, (void)a;
}
static void select_ct(uint64_t *acc, const uint64_t *tab, size_t entries, size_t L, unsigned idx)
{
    (void)acc, (void)tab, (void)entries, (void)L, (void)idx;
}
static void final_sub(const henn__mb *mb, uint64_t *r, const uint64_t *a)
{
    (void)mb, (void)r, (void)a;
}
static void mb_pair_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *x)
{
    (void)mb, (void)r, (void)x;
}
static void mb_pair_mul(const henn__mb *mb, uint64_t *r, const uint64_t *x, const uint64_t *z)
{
    (void)mb, (void)r, (void)x, (void)z;
}
#endif

/* ------------------------------------------------------------ context -- */

/* A 64-byte-aligned, wiped-on-free block of `words` words. */
static uint64_t *mem_alloc(size_t words)
{
    return aligned_alloc(64, (words * sizeof(uint64_t) + 63) / 64 * 64);
}

static void mem_free(uint64_t *p, size_t words)
{
    if (p != NULL)
        henn_memzero(p, words * sizeof(uint64_t));
    free(p);
}

/* Words of a context's block: m (padded to 8 words), R^2 and 1 in every lane. */
static size_t ctx_words(size_t L)
{
    return (L + 7) / 8 * 8 + 2 * LANES * L;
}

int henn__mb_init(henn__mb *mb, const henn__mont *mt)
{
    mpz_t mview, t;
    size_t bits, L, j;
    memset(mb, 0, sizeof(*mb));
    if (mt == NULL || mt->m == NULL)
        return HENN_EKEY;
    mb->mt = mt;
    mpz_roinit_n(mview, mt->m, mt->nl);
    bits = mpz_sizeinbase(mview, 2);
    L = (bits + 2 + 51) / 52;
    if (!MB_HAVE_IFMA || !henn__ifma_active() || bits < HENN__MB_MIN_BITS ||
        L > HENN__MB_MAX_LIMBS)
        return 0; /* per-element fallback on mt */
    mb->m = mem_alloc(ctx_words(L));
    if (mb->m == NULL)
        return HENN_ENOMEM;
    mb->limbs = L;
    mb->rr = mb->m + (L + 7) / 8 * 8; /* 64-byte aligned */
    mb->one = mb->rr + LANES * L;
    mb->k0 = neg_inv64(mt->m[0]) & MASK52;
    put52(mb->m, 1, L, mview);
    mpz_init(t);
    mpz_setbit(t, (mp_bitcnt_t)(2 * 52 * L));
    mpz_mod(t, t, mview);
    for (j = 0; j < LANES; j++)
        put52(mb->rr + j, LANES, L, t);
    henn__mpz_wipe_clear(t);
    memset(mb->one, 0, LANES * L * sizeof(uint64_t));
    for (j = 0; j < LANES; j++)
        mb->one[j] = 1;
    return 0;
}

void henn__mb_clear(henn__mb *mb)
{
    if (mb->m != NULL) {
        /* the modulus may be secret (p^2) */
        mem_free(mb->m, ctx_words(mb->limbs));
    }
    henn_memzero(mb, sizeof(*mb));
}

int henn__mont_attach_mb(henn__mont *mt)
{
    henn__mb *mb;
    int rc;
    if (mt == NULL || mt->m == NULL)
        return HENN_EKEY;
    if (mt->mb != NULL)
        return 0;
    mb = calloc(1, sizeof(*mb));
    if (mb == NULL)
        return HENN_ENOMEM;
    rc = henn__mb_init(mb, mt);
    if (rc != 0) {
        free(mb);
        return rc;
    }
    mt->mb = mb;
    return 0;
}

int henn__mb_get(const henn__mb **use, henn__mb *tmp, const henn__mont *mt)
{
    int rc;
    memset(tmp, 0, sizeof(*tmp));
    *use = NULL;
    if (mt == NULL || mt->m == NULL)
        return HENN_EKEY;
    if (mt->mb != NULL) {
        *use = mt->mb;
        return 0;
    }
    rc = henn__mb_init(tmp, mt);
    if (rc == 0)
        *use = tmp;
    return rc;
}

size_t henn__mb_words(const henn__mb *mb)
{
    return LANES * mb->limbs;
}

void henn__mb_mul(const henn__mb *mb, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    mb_amm(mb, r, a, b);
}

void henn__mb_sqr(const henn__mb *mb, uint64_t *r, const uint64_t *a)
{
    mb_sqr(mb, r, a);
}

void henn__mb_to(const henn__mb *mb, uint64_t *r, const mpz_t *x, size_t count)
{
    size_t L = mb->limbs, l;
    mpz_t mview, tmp;
    mpz_roinit_n(mview, mb->mt->m, mb->mt->nl);
    mpz_init(tmp);
    memset(r, 0, LANES * L * sizeof(uint64_t));
    for (l = 0; l < LANES; l++) {
        if (l >= count) {
            r[l] = 1; /* padding lane: the value 1 */
        } else if (mpz_sgn(x[l]) < 0 || mpz_cmp(x[l], mview) >= 0) {
            mpz_mod(tmp, x[l], mview);
            put52(r + l, LANES, L, tmp);
        } else {
            put52(r + l, LANES, L, x[l]);
        }
    }
    henn__mpz_wipe_clear(tmp);
    mb_amm(mb, r, r, mb->rr);
}

void henn__mb_from(const henn__mb *mb, mpz_t *x, size_t count, const uint64_t *a, uint64_t *t)
{
    size_t l;
    /* a / R < m + 1: at most one subtraction of m */
    mb_amm(mb, t, a, mb->one);
    final_sub(mb, t, t);
    for (l = 0; l < count && l < LANES; l++)
        get52(x[l], t + l, LANES, mb->limbs);
}

/* ----------------------------------------------------- exponentiation -- */

/* Bits pos .. pos + w - 1 of the little-endian words e (zero past the end;
 * the caller pads e by one word). */
static unsigned digit(const uint64_t *e, size_t pos, unsigned w)
{
    size_t k = pos / 64;
    unsigned off = (unsigned)(pos % 64);
    uint64_t t = e[k] >> off;
    if (off + w > 64)
        t |= e[k + 1] << (64 - off);
    return (unsigned)(t & ((UINT64_C(1) << w) - 1));
}

static int check_args(const henn__mb *mb, size_t count)
{
    if (mb == NULL || mb->mt == NULL || mb->mt->m == NULL)
        return HENN_EKEY;
    if (count > LANES)
        return HENN_EINVAL;
    return 0;
}

int henn__mb_powm_sec(const henn__mb *mb, mpz_t *r, const mpz_t *b, size_t count, const mpz_t e,
                      size_t ebits)
{
    size_t L, W, ewords = ebits / 64 + 2, ecount = 0, words, k, nwin, pos;
    uint64_t *mem, *tab, *acc, *sel, *ew;
    unsigned i;
    int rc = check_args(mb, count);
    if (rc != 0)
        return rc;
    if (mpz_sgn(e) < 0 || ebits == 0 || mpz_sizeinbase(e, 2) > ebits)
        return HENN_EINVAL;
    if (mb->limbs == 0) {
        for (k = 0; k < count && rc == 0; k++)
            rc = henn__mont_powm_sec(mb->mt, r[k], b[k], e, ebits);
        return rc;
    }
    if (count == 0)
        return 0;
    L = mb->limbs;
    W = LANES * L;
    words = (((size_t)1 << SEC_W) + 2) * W + ewords;
    mem = mem_alloc(words);
    if (mem == NULL)
        return HENN_ENOMEM;
    tab = mem;
    acc = tab + ((size_t)1 << SEC_W) * W;
    sel = acc + W;
    ew = sel + W;
    memset(ew, 0, ewords * sizeof(uint64_t));
    mpz_export(ew, &ecount, -1, sizeof(uint64_t), 0, 0, e);
    /* tab[k] = b^k R mod m */
    mb_amm(mb, tab, mb->one, mb->rr);
    henn__mb_to(mb, tab + W, b, count);
    for (k = 2; k < ((size_t)1 << SEC_W); k++) {
        if (k % 2 == 0)
            mb_sqr(mb, tab + k * W, tab + k / 2 * W);
        else
            mb_amm(mb, tab + k * W, tab + (k - 1) * W, tab + W);
    }
    nwin = (ebits + SEC_W - 1) / SEC_W;
    pos = (nwin - 1) * SEC_W;
    select_ct(acc, tab, (size_t)1 << SEC_W, L, digit(ew, pos, SEC_W));
    while (pos > 0) {
        pos -= SEC_W;
        for (i = 0; i < SEC_W; i++)
            mb_sqr(mb, acc, acc);
        select_ct(sel, tab, (size_t)1 << SEC_W, L, digit(ew, pos, SEC_W));
        mb_amm(mb, acc, acc, sel);
    }
    henn__mb_from(mb, r, count, acc, sel);
    mem_free(mem, words);
    henn__burn_stack();
    return 0;
}

int henn__mb_powm(const henn__mb *mb, mpz_t *r, const mpz_t *b, size_t count, const mpz_t e)
{
    size_t L, W, ebits, k, odd, words;
    uint64_t *mem, *tab, *acc, *x2;
    long i;
    unsigned w;
    int started = 0, rc = check_args(mb, count);
    if (rc != 0)
        return rc;
    if (mpz_sgn(e) < 0)
        return HENN_EINVAL;
    if (mb->limbs == 0 || mpz_sgn(e) == 0) {
        for (k = 0; k < count && rc == 0; k++)
            rc = henn__mont_powm(mb->mt, r[k], b[k], e);
        return rc;
    }
    if (count == 0)
        return 0;
    L = mb->limbs;
    W = LANES * L;
    ebits = mpz_sizeinbase(e, 2);
    w = henn__slide_width(ebits);
    odd = (size_t)1 << (w - 1);
    words = (odd + 2) * W;
    mem = mem_alloc(words);
    if (mem == NULL)
        return HENN_ENOMEM;
    tab = mem;
    acc = tab + odd * W;
    x2 = acc + W;
    /* tab[k] = b^(2k + 1) R mod m */
    henn__mb_to(mb, tab, b, count);
    if (odd > 1) {
        mb_sqr(mb, x2, tab);
        for (k = 1; k < odd; k++)
            mb_amm(mb, tab + k * W, tab + (k - 1) * W, x2);
    }
    /* the exponent is public: the window values pick table rows directly */
    for (i = (long)ebits - 1; i >= 0;) {
        long l, j;
        unsigned val = 0;
        if (!mpz_tstbit(e, (mp_bitcnt_t)i)) {
            mb_sqr(mb, acc, acc); /* started: the top bit is 1 */
            i--;
            continue;
        }
        l = henn__slide_window(e, i, w, &val);
        if (started) {
            for (j = i; j >= l; j--)
                mb_sqr(mb, acc, acc);
            mb_amm(mb, acc, acc, tab + (val >> 1) * W);
        } else {
            memcpy(acc, tab + (val >> 1) * W, W * sizeof(uint64_t));
            started = 1;
        }
        i = l - 1;
    }
    henn__mb_from(mb, r, count, acc, x2);
    mem_free(mem, words);
    henn__burn_stack(); /* the bases are secret (noise r) */
    return 0;
}

/* --------------------------------- exponentiation modulo a square m^2 -- */

/* The 8-lane context of the pairs modulo m^2 (see "Pairs"): m's limbs
 * and k0 in mb (mb.mt unused), and in every lane the pair of R (kp:
 * A + B m = R^2 mod m^2; a raw pair (x mod m, x div m), which is the pair
 * of x / R, times kp is the pair of x) and the raw pair (1, 0) (one: the
 * pair of 1 / R; a pair times one gives x = A + B m itself). */
typedef struct sq_ctx {
    henn__mb mb;
    uint64_t *kp, *one;
    size_t words; /* of the block at mb.m */
} sq_ctx;

static size_t sq_limbs(size_t bits)
{
    return (bits + 4 + 51) / 52;
}

static int sq_enabled = 1; /* henn__mbsq_set_enabled (tests, benchmarks) */

void henn__mbsq_set_enabled(int on)
{
    __atomic_store_n(&sq_enabled, on != 0, __ATOMIC_RELAXED);
}

int henn__mbsq_usable(const mpz_t root)
{
    size_t bits;
    if (!__atomic_load_n(&sq_enabled, __ATOMIC_RELAXED) || mpz_sgn(root) <= 0 ||
        !mpz_odd_p(root))
        return 0;
    bits = mpz_sizeinbase(root, 2);
    return MB_HAVE_IFMA && henn__ifma_active() && 2 * bits >= HENN__MB_MIN_BITS &&
           sq_limbs(bits) <= HENN__MB_MAX_LIMBS;
}

static void sq_clear(sq_ctx *c)
{
    if (c->mb.m != NULL)
        mem_free(c->mb.m, c->words); /* the root may be secret (p) */
    henn_memzero(c, sizeof(*c));
}

/* Built per call (a few microseconds, against milliseconds for one 8-lane
 * exponentiation). Like henn__mb_init, R^2 mod m^2 is computed with
 * mpz_mod, whose time depends on m (for p: once per key and call, always
 * the same computation). */
static int sq_init(sq_ctx *c, const mpz_t root)
{
    size_t bits = mpz_sizeinbase(root, 2), L = sq_limbs(bits), W = LANES * L, l;
    mpz_t k, kb;
    memset(c, 0, sizeof(*c));
    c->words = (L + 7) / 8 * 8 + 4 * W;
    c->mb.m = mem_alloc(c->words);
    if (c->mb.m == NULL)
        return HENN_ENOMEM;
    memset(c->mb.m, 0, c->words * sizeof(uint64_t));
    c->mb.limbs = L;
    c->kp = c->mb.m + (L + 7) / 8 * 8; /* 64-byte aligned */
    c->one = c->kp + 2 * W;
    c->mb.k0 = neg_inv64((uint64_t)mpz_getlimbn(root, 0)) & MASK52;
    put52(c->mb.m, 1, L, root);
    mpz_init(k);
    mpz_init(kb);
    mpz_mul(kb, root, root);
    mpz_setbit(k, (mp_bitcnt_t)(2 * 52 * L));
    mpz_mod(k, k, kb);
    mpz_tdiv_qr(kb, k, k, root);
    for (l = 0; l < LANES; l++) {
        put52(c->kp + l, LANES, L, k);
        put52(c->kp + W + l, LANES, L, kb);
        c->one[l] = 1;
    }
    henn__mpz_wipe_clear(k);
    henn__mpz_wipe_clear(kb);
    return 0;
}

/* r = the pairs of b[l] in lanes l < count, of 1 in the others. b[l] in
 * [0, m^2) is split into b mod m and b div m in constant time (sec.c);
 * other values are first reduced with mpz_mod (variable time). */
static int sq_to(const sq_ctx *c, uint64_t *r, const mpz_t *b, size_t count, const mpz_t root)
{
    size_t L = c->mb.limbs, W = LANES * L, l, blimbs = 2 * mpz_size(root);
    mpz_t q, rem, m2;
    int rc = 0;
    mpz_init(q);
    mpz_init(rem);
    mpz_init(m2);
    mpz_mul(m2, root, root);
    memset(r, 0, 2 * W * sizeof(uint64_t));
    for (l = 0; l < LANES && rc == 0; l++) {
        if (l >= count) {
            r[l] = 1; /* padding lane: the raw pair (1, 0), the pair of 1 / R */
            continue;
        }
        if (mpz_sgn(b[l]) < 0 || mpz_cmp(b[l], m2) >= 0) {
            mpz_mod(rem, b[l], m2);
            rc = henn__sec_divqr(q, rem, rem, blimbs, root);
        } else {
            rc = henn__sec_divqr(q, rem, b[l], blimbs, root);
        }
        if (rc == 0) {
            put52(r + l, LANES, L, rem);
            put52(r + W + l, LANES, L, q);
        }
    }
    henn__mpz_wipe_clear(q);
    henn__mpz_wipe_clear(rem);
    henn__mpz_wipe_clear(m2); /* p^2 for decryption */
    if (rc == 0)
        mb_pair_mul(&c->mb, r, r, c->kp);
    return rc;
}

/* x[l] = the element of pair lane l, fully reduced mod m^2, for l < count;
 * t: 2 W words of scratch. x = A + B m is formed with mpn_sec_mul in
 * wiped heap scratch (sec.c): GMP's own product would leave x - A, for
 * decryption c^(p-1) mod p^2 less its low limb, in stack temporaries. */
static int sq_from(const sq_ctx *c, mpz_t *x, size_t count, const uint64_t *a, uint64_t *t,
                   const mpz_t root)
{
    size_t L = c->mb.limbs, W = LANES * L, l;
    mpz_t lo, hi;
    int rc = 0;
    /* both halves < m + 1: one masked subtraction each */
    mb_pair_mul(&c->mb, t, a, c->one);
    final_sub(&c->mb, t, t);
    final_sub(&c->mb, t + W, t + W);
    mpz_init(lo);
    mpz_init(hi);
    for (l = 0; l < count && l < LANES && rc == 0; l++) {
        get52(lo, t + l, LANES, L);
        get52(hi, t + W + l, LANES, L);
        rc = henn__sec_muladd(x[l], lo, hi, root);
    }
    henn__mpz_wipe_clear(lo);
    henn__mpz_wipe_clear(hi);
    return rc;
}

/* The pair kernels' frames reach about 52 KB (the squaring: its scratch
 * arrays are sized for 160 limbs), deeper than the 32 KB that
 * henn__burn_stack() clears: the ladders end with this one instead
 * (tests/paillier/test_hardening.c scans 128 KB after the ladder). */
#define SQ_BURN_BYTES (96 * 1024)

static __attribute__((noinline)) void sq_burn_stack(void)
{
    volatile uint8_t buf[SQ_BURN_BYTES];
    henn_memzero((void *)buf, sizeof(buf));
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

static int sq_check(const mpz_t root, size_t count)
{
    if (count > LANES)
        return HENN_EINVAL;
    return henn__mbsq_usable(root) ? 0 : HENN_EPARAM;
}

int henn__mbsq_powm_sec(mpz_t *r, const mpz_t *b, size_t count, const mpz_t e, size_t ebits,
                        const mpz_t root)
{
    sq_ctx c;
    size_t L, W2, ewords = ebits / 64 + 2, ecount = 0, words, k, nwin, pos;
    uint64_t *mem, *tab, *acc, *sel, *ew;
    unsigned i;
    int rc = sq_check(root, count);
    if (rc != 0)
        return rc;
    if (mpz_sgn(e) < 0 || ebits == 0 || mpz_sizeinbase(e, 2) > ebits)
        return HENN_EINVAL;
    if (count == 0)
        return 0;
    rc = sq_init(&c, root);
    if (rc != 0)
        return rc;
    L = c.mb.limbs;
    W2 = 2 * LANES * L;
    words = (((size_t)1 << SEC_W) + 2) * W2 + ewords;
    mem = mem_alloc(words);
    if (mem == NULL) {
        sq_clear(&c);
        return HENN_ENOMEM;
    }
    tab = mem;
    acc = tab + ((size_t)1 << SEC_W) * W2;
    sel = acc + W2;
    ew = sel + W2;
    memset(ew, 0, ewords * sizeof(uint64_t));
    mpz_export(ew, &ecount, -1, sizeof(uint64_t), 0, 0, e);
    /* tab[k] = the pair of b^k */
    rc = sq_to(&c, tab, NULL, 0, root);
    if (rc == 0)
        rc = sq_to(&c, tab + W2, b, count, root);
    for (k = 2; rc == 0 && k < ((size_t)1 << SEC_W); k++) {
        if (k % 2 == 0)
            mb_pair_sqr(&c.mb, tab + k * W2, tab + k / 2 * W2);
        else
            mb_pair_mul(&c.mb, tab + k * W2, tab + (k - 1) * W2, tab + W2);
    }
    if (rc == 0) {
        nwin = (ebits + SEC_W - 1) / SEC_W;
        pos = (nwin - 1) * SEC_W;
        select_ct(acc, tab, (size_t)1 << SEC_W, 2 * L, digit(ew, pos, SEC_W));
        while (pos > 0) {
            pos -= SEC_W;
            for (i = 0; i < SEC_W; i++)
                mb_pair_sqr(&c.mb, acc, acc);
            select_ct(sel, tab, (size_t)1 << SEC_W, 2 * L, digit(ew, pos, SEC_W));
            mb_pair_mul(&c.mb, acc, acc, sel);
        }
        rc = sq_from(&c, r, count, acc, sel, root);
    }
    mem_free(mem, words);
    sq_clear(&c);
    sq_burn_stack();
    return rc;
}

int henn__mbsq_powm(mpz_t *r, const mpz_t *b, size_t count, const mpz_t e, const mpz_t root)
{
    sq_ctx c;
    size_t L, W2, ebits, k, odd, words;
    uint64_t *mem, *tab, *acc, *x2;
    long i;
    unsigned w;
    int started = 0, rc = sq_check(root, count);
    if (rc != 0)
        return rc;
    if (mpz_sgn(e) < 0)
        return HENN_EINVAL;
    if (count == 0)
        return 0;
    if (mpz_sgn(e) == 0) {
        for (k = 0; k < count; k++)
            mpz_set_ui(r[k], 1); /* m^2 > 1 */
        return 0;
    }
    rc = sq_init(&c, root);
    if (rc != 0)
        return rc;
    L = c.mb.limbs;
    W2 = 2 * LANES * L;
    ebits = mpz_sizeinbase(e, 2);
    w = henn__slide_width(ebits);
    odd = (size_t)1 << (w - 1);
    words = (odd + 2) * W2;
    mem = mem_alloc(words);
    if (mem == NULL) {
        sq_clear(&c);
        return HENN_ENOMEM;
    }
    tab = mem;
    acc = tab + odd * W2;
    x2 = acc + W2;
    /* tab[k] = the pair of b^(2k + 1) */
    rc = sq_to(&c, tab, b, count, root);
    if (rc == 0 && odd > 1) {
        mb_pair_sqr(&c.mb, x2, tab);
        for (k = 1; k < odd; k++)
            mb_pair_mul(&c.mb, tab + k * W2, tab + (k - 1) * W2, x2);
    }
    /* the exponent is public: the window values pick table rows directly */
    for (i = (long)ebits - 1; rc == 0 && i >= 0;) {
        long l, j;
        unsigned val = 0;
        if (!mpz_tstbit(e, (mp_bitcnt_t)i)) {
            mb_pair_sqr(&c.mb, acc, acc); /* started: the top bit is 1 */
            i--;
            continue;
        }
        l = henn__slide_window(e, i, w, &val);
        if (started) {
            for (j = i; j >= l; j--)
                mb_pair_sqr(&c.mb, acc, acc);
            mb_pair_mul(&c.mb, acc, acc, tab + (val >> 1) * W2);
        } else {
            memcpy(acc, tab + (val >> 1) * W2, W2 * sizeof(uint64_t));
            started = 1;
        }
        i = l - 1;
    }
    if (rc == 0)
        rc = sq_from(&c, r, count, acc, x2, root);
    mem_free(mem, words);
    sq_clear(&c);
    sq_burn_stack(); /* the bases are secret (noise r) */
    return rc;
}

/* --------------------------------- multi-exponentiation on pairs (8) -- */

/*
 * prod_i b_i^e[h m + i] mod m^2 for 8 outputs h at a time, one per lane,
 * on pairs modulo the root (Straus with fixed w-bit windows, as
 * multiexp.c). Every base gets a table of the pairs of b^0 .. b^(2^w - 1),
 * built 8 bases at a time and stored per entry as 2 L limbs; for each
 * window and base the lanes' entries are copied into one 8-lane operand,
 * so the outputs share the squarings and every product serves 8 of them.
 * The exponents (the trainer's weights) choose table rows directly:
 * timing depends on them, as in multiexp.c.
 */
#define SQME_W 5

typedef struct sqme_ctx {
    sq_ctx c;
    const mpz_t *base;
    mpz_srcptr root;
    size_t m, outs;
    const uint32_t *e;
    unsigned ebits;
    uint64_t *tab; /* m << SQME_W entries of 2 L words, entry (i, d) at ((i << w) + d) 2 L */
    mpz_t *r;
} sqme_ctx;

/* Table rows of bases 8 g .. 8 g + 7 for groups gbegin .. gend. */
static int sqme_build(void *vctx, size_t gbegin, size_t gend)
{
    sqme_ctx *x = vctx;
    size_t L = x->c.mb.limbs, W2 = 2 * LANES * L, E = 2 * L, per = (size_t)1 << SQME_W;
    size_t g, d, l, k, words = (per + 1) * W2;
    uint64_t *pw = mem_alloc(words);
    int rc = 0;
    if (pw == NULL)
        return HENN_ENOMEM;
    for (g = gbegin; g < gend && rc == 0; g++) {
        size_t i0 = g * LANES, cnt = x->m - i0 < LANES ? x->m - i0 : LANES;
        rc = sq_to(&x->c, pw, NULL, 0, x->root); /* the pair of 1 */
        if (rc == 0)
            rc = sq_to(&x->c, pw + W2, x->base + i0, cnt, x->root);
        for (d = 2; rc == 0 && d < per; d++)
            mb_pair_mul(&x->c.mb, pw + d * W2, pw + (d - 1) * W2, pw + W2);
        for (l = 0; rc == 0 && l < cnt; l++)
            for (d = 0; d < per; d++) {
                uint64_t *dst = x->tab + (((i0 + l) << SQME_W) + d) * E;
                const uint64_t *src = pw + d * W2 + l;
                for (k = 0; k < E; k++)
                    dst[k] = src[k * LANES];
            }
    }
    mem_free(pw, words);
    return rc;
}

/* Outputs 8 g .. 8 g + 7 for groups gbegin .. gend. */
static int sqme_eval(void *vctx, size_t gbegin, size_t gend)
{
    sqme_ctx *x = vctx;
    size_t L = x->c.mb.limbs, W2 = 2 * LANES * L, E = 2 * L, g, i, l, k, words = 3 * W2;
    unsigned digits = (x->ebits + SQME_W - 1) / SQME_W, mask = (1u << SQME_W) - 1, pos, s;
    uint64_t *mem = mem_alloc(words), *acc, *op, *t;
    int rc = 0;
    if (mem == NULL)
        return HENN_ENOMEM;
    acc = mem;
    op = acc + W2;
    t = op + W2;
    for (g = gbegin; g < gend && rc == 0; g++) {
        size_t h0 = g * LANES, cnt = x->outs - h0 < LANES ? x->outs - h0 : LANES;
        int started = 0;
        for (pos = digits; pos-- > 0;) {
            if (started)
                for (s = 0; s < SQME_W; s++)
                    mb_pair_sqr(&x->c.mb, acc, acc);
            for (i = 0; i < x->m; i++) {
                unsigned dl[LANES], any = 0;
                for (l = 0; l < LANES; l++) {
                    dl[l] = l < cnt ? (unsigned)(x->e[(h0 + l) * x->m + i] >> (pos * SQME_W)) & mask
                                    : 0;
                    any |= dl[l];
                }
                if (any == 0)
                    continue;
                for (l = 0; l < LANES; l++) {
                    const uint64_t *src = x->tab + (((i << SQME_W) + dl[l]) * E);
                    for (k = 0; k < E; k++)
                        op[k * LANES + l] = src[k];
                }
                if (!started) {
                    memcpy(acc, op, W2 * sizeof(uint64_t));
                    started = 1;
                } else {
                    mb_pair_mul(&x->c.mb, acc, acc, op);
                }
            }
        }
        if (!started) {
            for (l = 0; l < cnt; l++)
                mpz_set_ui(x->r[h0 + l], 1);
        } else {
            rc = sq_from(&x->c, x->r + h0, cnt, acc, t, x->root);
        }
    }
    mem_free(mem, words);
    return rc;
}

int henn__mbsq_multi_exp(mpz_t *r, const mpz_t root, const mpz_t *base, size_t m,
                         const uint32_t *e, size_t outs, unsigned ebits,
                         const henn_batch_opts *opts)
{
    sqme_ctx x;
    henn_batch_opts quiet = {0, NULL, NULL};
    size_t words;
    int rc = sq_check(root, 0);
    if (rc != 0)
        return rc;
    if (m == 0 || outs == 0 || ebits == 0 || ebits > 32)
        return HENN_EINVAL;
    memset(&x, 0, sizeof(x));
    rc = sq_init(&x.c, root);
    if (rc != 0)
        return rc;
    x.base = base;
    x.root = root;
    x.m = m;
    x.outs = outs;
    x.e = e;
    x.ebits = ebits;
    x.r = r;
    words = (m << SQME_W) * 2 * x.c.mb.limbs;
    x.tab = mem_alloc(words);
    if (x.tab == NULL) {
        sq_clear(&x.c);
        return HENN_ENOMEM;
    }
    if (opts != NULL)
        quiet.threads = opts->threads;
    rc = henn__parallel_for((m + LANES - 1) / LANES, &quiet, sqme_build, &x);
    if (rc == 0)
        rc = henn__parallel_for((outs + LANES - 1) / LANES, &quiet, sqme_eval, &x);
    mem_free(x.tab, words);
    sq_clear(&x.c);
    return rc;
}

/* ------------------------------------ fixed base on pairs (8 lanes) -- */

/*
 * base^a mod m^2 for a fixed base and 8 exponents a at once, on pairs
 * modulo the root m (see "Pairs"), by per-position tables as fbtab.c:
 * a = sum_j d_j 2^(w j), T[j][d] = the pair of base^(d 2^(w j)) for
 * d = 1 .. 2^w - 1, stored per entry as 2 L limbs (A then B), and
 * base^a = prod_j T[j][d_j], one 8-lane pair product per position (a
 * zero digit takes the pair of 1), no squarings. Used by the key holder
 * for the DJN noise h_s^a through the CRT (fbtab.c): modulo p^2 and q^2
 * as pairs of 1,024-bit residues, about a third of the products modulo
 * n^2 that henn__paillier_fbtab_pow8 takes at n = 2048.
 *
 * The table is built on the same kernels: the first entries T[j][1] by w
 * squarings each from the previous one, then the rows of 8 positions at
 * a time, one position per lane. Entries are almost reduced (halves
 * < 2m), as the products take them.
 *
 * Timing: the kernels' as above (independent of m and the values); the
 * table rows read depend on the digits of a (the caveat of fbtab.c and
 * henn_paillier_encrypt). The table holds residues modulo m^2 of the
 * base, which reveal m (a secret prime for the key holder): it is wiped
 * when freed, as is every scratch block; the stack is burnt after each
 * call.
 */
struct henn__sqfb {
    sq_ctx c;
    mpz_t root;
    unsigned w;
    size_t positions, per, tab_words;
    uint64_t *tab; /* positions * per entries of 2 L words, then the pair of 1 */
};

/* dst[k] = lane l of the 8-lane pair v, for k < E = 2 L. */
static void lane_get(uint64_t *dst, const uint64_t *v, size_t l, size_t E)
{
    size_t k;
    for (k = 0; k < E; k++)
        dst[k] = v[k * LANES + l];
}

static void lane_put(uint64_t *v, size_t l, const uint64_t *src, size_t E)
{
    size_t k;
    for (k = 0; k < E; k++)
        v[k * LANES + l] = src[k];
}

void henn__sqfb_free(henn__sqfb *t)
{
    if (t == NULL)
        return;
    mem_free(t->tab, t->tab_words);
    sq_clear(&t->c);
    henn__mpz_wipe_clear(t->root);
    henn_memzero(t, sizeof(*t));
    free(t);
}

int henn__sqfb_build(henn__sqfb **out, const mpz_t base, const mpz_t root, size_t e_bits,
                     unsigned w)
{
    henn__sqfb *t;
    size_t L, E, W2, j, j0, d, l, scratch_words;
    uint64_t *s = NULL, *x, *b, *cur, *one;
    mpz_t v[1];
    int rc;

    *out = NULL;
    if (w < 2 || w > 12 || e_bits == 0 || e_bits > 65536)
        return HENN_EINVAL;
    if (!henn__mbsq_usable(root))
        return HENN_EPARAM;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    mpz_init_set(t->root, root);
    rc = sq_init(&t->c, root);
    if (rc != 0) {
        henn__sqfb_free(t);
        return rc;
    }
    L = t->c.mb.limbs;
    E = 2 * L;
    W2 = LANES * E;
    t->w = w;
    t->positions = (e_bits + w - 1) / w;
    t->per = ((size_t)1 << w) - 1;
    t->tab_words = (t->positions * t->per + 1) * E;
    t->tab = mem_alloc(t->tab_words);
    scratch_words = 3 * W2;
    s = mem_alloc(scratch_words);
    if (t->tab == NULL || s == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    x = s;
    b = x + W2;
    cur = b + W2;
    one = t->tab + t->positions * t->per * E;
    /* the pair of 1, then the pair of the base (lane 0) */
    mpz_init_set_ui(v[0], 1);
    rc = sq_to(&t->c, x, (const mpz_t *)v, 1, root);
    mpz_clear(v[0]);
    if (rc != 0)
        goto cleanup;
    lane_get(one, x, 0, E);
    mpz_init_set(v[0], base);
    rc = sq_to(&t->c, x, (const mpz_t *)v, 1, root);
    henn__mpz_wipe_clear(v[0]);
    if (rc != 0)
        goto cleanup;
    /* T[j][1] = T[j-1][1]^(2^w) */
    for (j = 0; j < t->positions; j++) {
        unsigned i;
        lane_get(t->tab + j * t->per * E, x, 0, E);
        for (i = 0; j + 1 < t->positions && i < w; i++)
            mb_pair_sqr(&t->c.mb, x, x);
    }
    /* T[j][d] = T[j][d-1] T[j][1], positions j0 .. j0 + 7 in the lanes */
    for (j0 = 0; j0 < t->positions; j0 += LANES) {
        for (l = 0; l < LANES; l++)
            lane_put(b, l, j0 + l < t->positions ? t->tab + (j0 + l) * t->per * E : one, E);
        memcpy(cur, b, W2 * sizeof(uint64_t));
        for (d = 2; d <= t->per; d++) {
            mb_pair_mul(&t->c.mb, cur, cur, b);
            for (l = 0; l < LANES && j0 + l < t->positions; l++)
                lane_get(t->tab + ((j0 + l) * t->per + d - 1) * E, cur, l, E);
        }
    }
cleanup:
    mem_free(s, scratch_words);
    sq_burn_stack();
    if (rc != 0) {
        henn__sqfb_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

size_t henn__sqfb_positions(const henn__sqfb *t)
{
    return t->positions;
}

unsigned henn__sqfb_window(const henn__sqfb *t)
{
    return t->w;
}

int henn__sqfb_pow8(mpz_t *r, const henn__sqfb *t, const uint16_t *digits, size_t count)
{
    size_t L, E, W2, j, l, k, words;
    uint64_t *mem, *acc, *op, *tmp;
    const uint64_t *one;
    int rc;
    if (count > LANES)
        return HENN_EINVAL;
    if (count == 0)
        return 0;
    L = t->c.mb.limbs;
    E = 2 * L;
    W2 = LANES * E;
    words = 3 * W2;
    mem = mem_alloc(words);
    if (mem == NULL)
        return HENN_ENOMEM;
    acc = mem;
    op = acc + W2;
    tmp = op + W2;
    one = t->tab + t->positions * t->per * E;
    for (j = 0; j < t->positions; j++) {
        uint64_t *dst = j == 0 ? acc : op;
        for (l = 0; l < LANES; l++) {
            unsigned d = digits[j * LANES + l];
            const uint64_t *e = d == 0 ? one : t->tab + (j * t->per + d - 1) * E;
            lane_put(dst, l, e, E);
            if (j + 1 < t->positions) { /* the next position's entry */
                unsigned nd = digits[(j + 1) * LANES + l];
                if (nd != 0) {
                    const char *ne = (const char *)(t->tab + ((j + 1) * t->per + nd - 1) * E);
                    for (k = 0; k < E * sizeof(uint64_t); k += 64)
                        __builtin_prefetch(ne + k);
                }
            }
        }
        if (j > 0)
            mb_pair_mul(&t->c.mb, acc, acc, op);
    }
    rc = sq_from(&t->c, r, count, acc, tmp, t->root);
    mem_free(mem, words);
    sq_burn_stack();
    return rc;
}
