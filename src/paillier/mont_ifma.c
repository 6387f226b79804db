/*
 * Montgomery multiplication with AVX-512 IFMA (vpmadd52luq/vpmadd52huq).
 *
 * Residues are held in 52-bit limbs, 8 limbs per 512-bit vector, v vectors
 * (L = 8 v limbs, R = 2^(52 L)). The product is the word-serial
 * ("almost") Montgomery multiplication of Gueron & Krasnov, "Accelerating
 * Big Integer Arithmetic Using Intel IFMA Extensions" (ARITH 2016), and of
 * Drucker & Gueron, "Fast modular squaring with AVX512IFMA" (ITNG 2019):
 * for every limb b_i of b, add the low halves of a b_i and of y m, where
 * y = acc_0 k0 mod 2^52 makes the lowest limb vanish, shift the
 * accumulator down one limb and add the high halves. Lanes are 64 bits
 * wide and are only normalised to 52 bits at the end: each iteration adds
 * less than 2^54 to a lane, so L <= 160 iterations stay below 2^62.
 *
 * For inputs a, b < 2m and R > 4m the result is < 2m (it is not fully
 * reduced; henn__mont_from() finishes). There are no branches or memory
 * accesses that depend on the operands or on m: the running time depends
 * only on v.
 */
#include "paillier_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define IFMA_TARGET __attribute__((target("avx512f,avx512ifma")))
#define MASK52 ((UINT64_C(1) << 52) - 1)

int henn__ifma_cpu(void)
{
    static int cached = -1;
    int have = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
        __atomic_store_n(&cached, have, __ATOMIC_RELAXED);
    }
    return have;
}

static inline __attribute__((always_inline)) IFMA_TARGET void
amm_body(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m, uint64_t k0,
         const size_t v)
{
    __m512i acc[20], av[20], mv[20];
    const __m512i zero = _mm512_setzero_si512();
    const __m512i k0v = _mm512_set1_epi64((long long)k0);
    uint64_t out[160], carry = 0;
    size_t i, j;

#pragma GCC unroll 20
    for (j = 0; j < v; j++) {
        acc[j] = zero;
        av[j] = _mm512_loadu_si512((const void *)(a + 8 * j));
        mv[j] = _mm512_loadu_si512((const void *)(m + 8 * j));
    }
    for (i = 0; i < 8 * v; i++) {
        const __m512i bi = _mm512_set1_epi64((long long)b[i]);
        __m512i y, c;
#pragma GCC unroll 20
        for (j = 0; j < v; j++)
            acc[j] = _mm512_madd52lo_epu64(acc[j], av[j], bi);
        /* y = acc_0 k0 mod 2^52, in every lane */
        y = _mm512_madd52lo_epu64(zero, acc[0], k0v);
        y = _mm512_permutexvar_epi64(zero, y);
#pragma GCC unroll 20
        for (j = 0; j < v; j++)
            acc[j] = _mm512_madd52lo_epu64(acc[j], mv[j], y);
        /* limb 0 is now 0 mod 2^52: carry its top bits into limb 1 and
         * shift every limb down by one */
        c = _mm512_maskz_srli_epi64(1, acc[0], 52);
#pragma GCC unroll 20
        for (j = 0; j + 1 < v; j++)
            acc[j] = _mm512_alignr_epi64(acc[j + 1], acc[j], 1);
        acc[v - 1] = _mm512_alignr_epi64(zero, acc[v - 1], 1);
        acc[0] = _mm512_add_epi64(acc[0], c);
        /* high halves land one limb up, i.e. at the shifted position */
#pragma GCC unroll 20
        for (j = 0; j < v; j++) {
            acc[j] = _mm512_madd52hi_epu64(acc[j], av[j], bi);
            acc[j] = _mm512_madd52hi_epu64(acc[j], mv[j], y);
        }
    }
#pragma GCC unroll 20
    for (j = 0; j < v; j++)
        _mm512_storeu_si512((void *)(out + 8 * j), acc[j]);
    for (i = 0; i < 8 * v; i++) {
        uint64_t t = out[i] + carry;
        r[i] = t & MASK52;
        carry = t >> 52;
    }
}

#define AMM_V(n)                                                                                   \
    static IFMA_TARGET void amm_##n(uint64_t *r, const uint64_t *a, const uint64_t *b,            \
                                    const uint64_t *m, uint64_t k0)                                \
    {                                                                                              \
        amm_body(r, a, b, m, k0, n);                                                               \
    }
AMM_V(1)
AMM_V(2)
AMM_V(3)
AMM_V(4)
AMM_V(5)
AMM_V(6)
AMM_V(7)
AMM_V(8)
AMM_V(9)
AMM_V(10)
AMM_V(11)
AMM_V(12)
AMM_V(13)
AMM_V(14)
AMM_V(15)
AMM_V(16)
AMM_V(17)
AMM_V(18)
AMM_V(19)
AMM_V(20)

typedef void (*amm_fn)(uint64_t *, const uint64_t *, const uint64_t *, const uint64_t *,
                       uint64_t);
static const amm_fn amm_table[HENN__IFMA_MAX_V + 1] = {
    NULL,   amm_1,  amm_2,  amm_3,  amm_4,  amm_5,  amm_6,  amm_7,  amm_8,  amm_9, amm_10,
    amm_11, amm_12, amm_13, amm_14, amm_15, amm_16, amm_17, amm_18, amm_19, amm_20};

void henn__ifma_amm(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                    uint64_t k0, size_t v)
{
    amm_table[v](r, a, b, m, k0);
}

#else /* no x86-64 IFMA code in this build */

int henn__ifma_cpu(void)
{
    return 0;
}

void henn__ifma_amm(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                    uint64_t k0, size_t v)
{
    (void)r, (void)a, (void)b, (void)m, (void)k0, (void)v;
}

#endif
