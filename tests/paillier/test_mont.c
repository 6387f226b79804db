/* Montgomery arithmetic: both backends (AVX-512 IFMA, GMP mpn) against
 * GMP's mpz_powm / mpz_mul + mpz_mod on random and edge-case moduli, bases
 * and exponents of every supported size, and Paillier operations with the
 * IFMA backend against the same operations with it turned off. Where the
 * CPU has no IFMA the IFMA cases say so and only the mpn backend runs. */
#include "../test.h"
#include "henn/henn.h"
#include "paillier/paillier_internal.h"

static gmp_randstate_t rs;

/* The modulus shapes: random odd, all ones, sparse 2^(b-1) + 1. */
static void make_modulus(mpz_t m, size_t bits, int shape)
{
    if (shape == 0) {
        mpz_urandomb(m, rs, (mp_bitcnt_t)bits);
        mpz_setbit(m, (mp_bitcnt_t)bits - 1);
        mpz_setbit(m, 0);
    } else if (shape == 1) {
        mpz_set_ui(m, 0);
        mpz_setbit(m, (mp_bitcnt_t)bits);
        mpz_sub_ui(m, m, 1);
    } else {
        mpz_set_ui(m, 1);
        mpz_setbit(m, (mp_bitcnt_t)bits - 1);
    }
}

/* to/from round trips, products and both exponentiations on one context. */
static void check_context(const henn__mont *mt, const mpz_t m)
{
    size_t words = mt->words, bits = mpz_sizeinbase(m, 2), k;
    mp_limb_t *a = calloc(3 * words + mt->scratch_words, sizeof(mp_limb_t));
    mp_limb_t *b = a + words, *c = b + words, *t = c + words;
    mpz_t x, y, r, want, e, tmp;
    mpz_inits(x, y, r, want, e, tmp, NULL);

    for (k = 0; k < 12; k++) {
        /* bases: random, 0, 1, m - 1, and out of range (reduced by _to) */
        if (k == 0)
            mpz_set_ui(x, 0);
        else if (k == 1)
            mpz_set_ui(x, 1);
        else if (k == 2)
            mpz_sub_ui(x, m, 1);
        else if (k == 3)
            mpz_add_ui(x, m, 5);
        else if (k == 4)
            mpz_mul(x, m, m), mpz_sub_ui(x, x, 1);
        else
            mpz_urandomm(x, rs, m);
        mpz_urandomm(y, rs, m);

        henn__mont_to(mt, a, x, tmp);
        henn__mont_from(mt, r, a, t);
        mpz_mod(want, x, m);
        CHECK_EQ_MPZ(r, want);

        henn__mont_to(mt, b, y, tmp);
        henn__mont_mul(mt, c, a, b, t);
        henn__mont_from(mt, r, c, t);
        mpz_mul(want, x, y);
        mpz_mod(want, want, m);
        CHECK_EQ_MPZ(r, want);
        henn__mont_mul(mt, c, a, a, t); /* squaring, then in place */
        henn__mont_mul(mt, c, c, b, t);
        henn__mont_from(mt, r, c, t);
        mpz_mul(want, x, x);
        mpz_mul(want, want, y);
        mpz_mod(want, want, m);
        CHECK_EQ_MPZ(r, want);

        /* exponents: random half-size (decryption), 0, 1, all ones,
         * lengths that are not a multiple of the window */
        {
            size_t half = (bits + 1) / 2 < 1100 ? (bits + 1) / 2 : 1100;
            size_t ebits = k == 5 ? 1 : k == 6 ? 7 : k == 7 ? 64 : half;
            mpz_urandomb(e, rs, (mp_bitcnt_t)ebits);
            if (k == 8)
                mpz_set_ui(e, 0);
            else if (k == 9)
                mpz_set_ui(e, 1);
            else if (k == 10) {
                mpz_set_ui(e, 0);
                mpz_setbit(e, (mp_bitcnt_t)ebits);
                mpz_sub_ui(e, e, 1);
            }
            mpz_mod(tmp, x, m);
            mpz_powm(want, tmp, e, m);
            CHECK_OK(henn__mont_powm_sec(mt, r, tmp, e, ebits));
            CHECK_EQ_MPZ(r, want);
            CHECK_OK(henn__mont_powm(mt, r, x, e));
            CHECK_EQ_MPZ(r, want);
            /* an exponent longer than ebits is refused, not truncated */
            mpz_setbit(e, (mp_bitcnt_t)ebits);
            CHECK_RC(henn__mont_powm_sec(mt, r, tmp, e, ebits), HENN_EINVAL);
        }
        /* public 32-bit exponents (ciphertext times scalar) */
        mpz_urandomb(e, rs, 32);
        mpz_powm(want, x, e, m);
        CHECK_OK(henn__mont_powm(mt, r, x, e));
        CHECK_EQ_MPZ(r, want);
    }
    mpz_set_si(e, -1);
    CHECK_RC(henn__mont_powm(mt, r, x, e), HENN_EINVAL);
    CHECK_RC(henn__mont_powm_sec(mt, r, x, e, 8), HENN_EINVAL);
    mpz_clears(x, y, r, want, e, tmp, NULL);
    free(a);
}

static void test_backends(void)
{
    static const size_t sizes[] = {64, 1023, 1024, 1500, 2047, 2048, 2049, 3072, 4096, 6144, 8192,
                                   8318, 8319};
    size_t i;
    int shape;
    mpz_t m;
    mpz_init(m);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (shape = 0; shape < 3; shape++) {
            henn__mont mt;
            make_modulus(m, sizes[i], shape);
            if (mpz_sizeinbase(m, 2) != sizes[i]) /* all-ones has bits + 0 */
                continue;
            CHECK_OK(henn__mont_init_mpn(&mt, m));
            CHECK(mt.v == 0);
            check_context(&mt, m);
            henn__mont_clear(&mt);
            CHECK_OK(henn__mont_init(&mt, m));
            if (henn__ifma_cpu() && sizes[i] >= HENN__IFMA_MIN_BITS && sizes[i] <= 8318) {
                /* the smallest v with R = 2^(416 v) > 4m */
                CHECK(mt.v == (sizes[i] + 2 + 415) / 416);
                CHECK(416 * mt.v >= sizes[i] + 2 && 416 * (mt.v - 1) < sizes[i] + 2);
            } else {
                CHECK(mt.v == 0);
            }
            check_context(&mt, m);
            henn__mont_clear(&mt);
        }
    /* even and non-positive moduli are refused */
    {
        henn__mont mt;
        mpz_set_ui(m, 1000);
        CHECK_RC(henn__mont_init(&mt, m), HENN_EINVAL);
        mpz_set_si(m, -7);
        CHECK_RC(henn__mont_init(&mt, m), HENN_EINVAL);
        CHECK_RC(henn__mont_powm(NULL, m, m, m), HENN_EKEY);
    }
    mpz_clear(m);
}

/* ---------------------------------------------- multi-buffer (8 lanes) -- */

/* x[l] for test case k: edge values 0, 1, m - 1 and m - 2 in some lanes,
 * random elsewhere. */
static void mb_inputs(mpz_t *x, const mpz_t m, int k)
{
    size_t l;
    for (l = 0; l < HENN__MB_LANES; l++) {
        mpz_urandomm(x[l], rs, m);
        if (k == 1 && l < 4) { /* 0, 1, m - 1, m - 2 */
            if (l < 2)
                mpz_set_ui(x[l], (unsigned long)l);
            else
                mpz_sub_ui(x[l], m, l - 1);
        }
        if (k == 2) /* every lane m - 1 */
            mpz_sub_ui(x[l], m, 1);
    }
}

/* Products, squares and both exponentiations of one 8-lane context
 * against mpz arithmetic; chains feed unreduced (< 2m) results back in. */
static void check_mb_context(const henn__mb *mb, const mpz_t m, size_t ebits_max)
{
    size_t W = henn__mb_words(mb), l, bits = mpz_sizeinbase(m, 2);
    uint64_t *a = aligned_alloc(64, 4 * W * sizeof(uint64_t));
    uint64_t *b = a + W, *c = b + W, *t = c + W;
    mpz_t x[HENN__MB_LANES], y[HENN__MB_LANES], r[HENN__MB_LANES], want, e;
    int k;
    mpz_inits(want, e, NULL);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(x[l], y[l], r[l], NULL);
    for (k = 0; k < 4; k++) {
        mb_inputs(x, m, k);
        mb_inputs(y, m, k == 1 ? 2 : 0);
        henn__mb_to(mb, a, (const mpz_t *)x, HENN__MB_LANES);
        henn__mb_from(mb, r, HENN__MB_LANES, a, t);
        for (l = 0; l < HENN__MB_LANES; l++)
            CHECK_EQ_MPZ(r[l], x[l]);
        henn__mb_to(mb, b, (const mpz_t *)y, HENN__MB_LANES);
        henn__mb_mul(mb, c, a, b);
        henn__mb_from(mb, r, HENN__MB_LANES, c, t);
        for (l = 0; l < HENN__MB_LANES; l++) {
            mpz_mul(want, x[l], y[l]);
            mpz_mod(want, want, m);
            CHECK_EQ_MPZ(r[l], want);
        }
        /* (x^2)^2 y, in place, squaring results of squarings */
        henn__mb_sqr(mb, c, a);
        henn__mb_sqr(mb, c, c);
        henn__mb_mul(mb, c, c, b);
        henn__mb_from(mb, r, HENN__MB_LANES, c, t);
        for (l = 0; l < HENN__MB_LANES; l++) {
            mpz_powm_ui(want, x[l], 4, m);
            mpz_mul(want, want, y[l]);
            mpz_mod(want, want, m);
            CHECK_EQ_MPZ(r[l], want);
        }
        /* exponentiations: random, 0, 1, all ones; 8 lanes and partial */
        {
            size_t ebits = k == 0 ? ebits_max : k == 1 ? 7 : k == 2 ? 64 : (bits + 1) / 2;
            size_t count = k == 3 ? 3 : HENN__MB_LANES;
            if (ebits > ebits_max)
                ebits = ebits_max;
            mpz_urandomb(e, rs, (mp_bitcnt_t)ebits);
            if (k == 1)
                mpz_set_ui(e, 1);
            if (k == 2) {
                mpz_set_ui(e, 0);
                mpz_setbit(e, (mp_bitcnt_t)ebits);
                mpz_sub_ui(e, e, 1);
            }
            CHECK_OK(henn__mb_powm_sec(mb, r, (const mpz_t *)x, count, e, ebits));
            for (l = 0; l < count; l++) {
                mpz_powm(want, x[l], e, m);
                CHECK_EQ_MPZ(r[l], want);
            }
            CHECK_OK(henn__mb_powm(mb, r, (const mpz_t *)x, count, e));
            for (l = 0; l < count; l++) {
                mpz_powm(want, x[l], e, m);
                CHECK_EQ_MPZ(r[l], want);
            }
            mpz_set_ui(e, 0);
            CHECK_OK(henn__mb_powm_sec(mb, r, (const mpz_t *)x, count, e, 5));
            CHECK_OK(henn__mb_powm(mb, y, (const mpz_t *)x, count, e));
            for (l = 0; l < count; l++) {
                CHECK(mpz_cmp_ui(r[l], 1) == 0);
                CHECK(mpz_cmp_ui(y[l], 1) == 0);
            }
        }
    }
    /* bad arguments: e longer than ebits, negative e, more than 8 lanes */
    mpz_set_ui(e, 64);
    CHECK_RC(henn__mb_powm_sec(mb, r, (const mpz_t *)x, 8, e, 6), HENN_EINVAL);
    CHECK_RC(henn__mb_powm_sec(mb, r, (const mpz_t *)x, 9, e, 8), HENN_EINVAL);
    CHECK_RC(henn__mb_powm(mb, r, (const mpz_t *)x, 9, e), HENN_EINVAL);
    mpz_set_si(e, -3);
    CHECK_RC(henn__mb_powm(mb, r, (const mpz_t *)x, 8, e), HENN_EINVAL);
    CHECK_RC(henn__mb_powm_sec(mb, r, (const mpz_t *)x, 8, e, 8), HENN_EINVAL);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clears(x[l], y[l], r[l], NULL);
    mpz_clears(want, e, NULL);
    free(a);
}

/* Exponentiations only (the fallback has no vertical form). */
static void check_mb_powm(const henn__mb *mb, const mpz_t m, size_t ebits)
{
    mpz_t x[HENN__MB_LANES], r[HENN__MB_LANES], want, e;
    size_t l;
    mpz_inits(want, e, NULL);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(x[l], r[l], NULL);
    mb_inputs(x, m, 1);
    mpz_urandomb(e, rs, (mp_bitcnt_t)ebits);
    CHECK_OK(henn__mb_powm_sec(mb, r, (const mpz_t *)x, 5, e, ebits));
    for (l = 0; l < 5; l++) {
        mpz_powm(want, x[l], e, m);
        CHECK_EQ_MPZ(r[l], want);
    }
    CHECK_OK(henn__mb_powm(mb, r, (const mpz_t *)x, 8, e));
    for (l = 0; l < 8; l++) {
        mpz_powm(want, x[l], e, m);
        CHECK_EQ_MPZ(r[l], want);
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clears(x[l], r[l], NULL);
    mpz_clears(want, e, NULL);
}

static void test_mb(void)
{
    /* backend boundaries: 1,023 / 8,319 bits fall back; the sizes with a
     * compiled-in limb count (40, 60, 79, 80, 119, 158) and generic ones */
    static const size_t sizes[] = {1023, 1024, 1025, 1500, 2046, 2047, 2048, 2049, 3072,
                                   4095, 4096, 4097, 6144, 8192, 8318, 8319};
    size_t i;
    int shape;
    mpz_t m;
    mpz_init(m);
    if (!henn__ifma_cpu())
        printf("this CPU has no AVX-512 IFMA: only the multi-buffer fallback is tested\n");
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (shape = 0; shape < 3; shape++) {
            henn__mont mt;
            henn__mb mb;
            size_t bits = sizes[i], L = (bits + 2 + 51) / 52;
            /* big sizes: short exponents keep the run short */
            size_t ebits = bits > 4200 ? 160 : 600;
            if (shape != 0 && bits != 2048 && bits != 4096 && bits != 8318)
                continue;
            make_modulus(m, bits, shape);
            if (mpz_sizeinbase(m, 2) != bits)
                continue;
            CHECK_OK(henn__mont_init(&mt, m));
            CHECK_OK(henn__mb_init(&mb, &mt));
            if (henn__ifma_cpu() && bits >= HENN__MB_MIN_BITS && L <= HENN__MB_MAX_LIMBS) {
                CHECK_EQ_INT(mb.limbs, L);
                CHECK(52 * L >= bits + 2 && 52 * (L - 1) < bits + 2); /* smallest R > 4m */
                check_mb_context(&mb, m, ebits);
            } else {
                CHECK_EQ_INT(mb.limbs, 0);
                check_mb_powm(&mb, m, ebits);
            }
            henn__mb_clear(&mb);
            henn__mont_clear(&mt);
            /* forced fallback on the same modulus gives the same results */
            if (shape == 0 && (bits == 2048 || bits == 4096)) {
                henn__ifma_set_enabled(0);
                CHECK_OK(henn__mont_init(&mt, m));
                CHECK_OK(henn__mb_init(&mb, &mt));
                CHECK_EQ_INT(mb.limbs, 0);
                check_mb_powm(&mb, m, ebits);
                henn__mb_clear(&mb);
                henn__mont_clear(&mt);
                henn__ifma_set_enabled(1);
            }
        }
    {
        henn__mb mb;
        CHECK_RC(henn__mb_init(&mb, NULL), HENN_EKEY);
        henn__mb_clear(&mb); /* safe after a failed init */
    }
    mpz_clear(m);
}

/* ------------------------------------ pairs modulo a square (mbsq) -- */

/* b[l]^e mod m^2 for both mbsq exponentiations against mpz_powm, for
 * `count` lanes of the bases x. */
static void check_sq_pow(const mpz_t root, const mpz_t m2, mpz_t *x, size_t count, const mpz_t e,
                         size_t ebits)
{
    mpz_t r[HENN__MB_LANES], want;
    size_t l;
    mpz_init(want);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_init_set_ui(r[l], 12345);
    CHECK_OK(henn__mbsq_powm_sec(r, (const mpz_t *)x, count, e, ebits, root));
    for (l = 0; l < count; l++) {
        mpz_powm(want, x[l], e, m2);
        CHECK_EQ_MPZ(r[l], want);
    }
    for (; l < HENN__MB_LANES; l++) /* lanes past count untouched */
        CHECK(mpz_cmp_ui(r[l], 12345) == 0);
    CHECK_OK(henn__mbsq_powm(r, (const mpz_t *)x, count, e, root));
    for (l = 0; l < count; l++) {
        mpz_powm(want, x[l], e, m2);
        CHECK_EQ_MPZ(r[l], want);
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clear(r[l]);
    mpz_clear(want);
}

/* Exponentiation modulo m^2 on pairs of residues modulo m, against
 * mpz_powm: roots from the smallest accepted (512 bits, m^2 of 1,024) to
 * 4,096 bits, the compiled-in limb counts (20, 30, 40, 60, 79: p, q and n
 * of Paillier keys) and generic ones, three modulus shapes; bases random
 * in [0, m^2), edge values (0, 1, m - 1, m, multiples of m, m^2 - 1) and
 * out of range; exponents random, 0, 1, all ones and e = m (r^m, the
 * noise); 1 to 8 lanes. Then what is refused or falls back. */
static void test_mb_square(void)
{
    static const size_t sizes[] = {512, 1024, 1025, 1100, 1536, 2048, 2049, 3072, 4096};
    mpz_t m, m2, e, x[HENN__MB_LANES], r[HENN__MB_LANES];
    size_t i, l, k;
    int shape;
    mpz_inits(m, m2, e, NULL);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(x[l], r[l], NULL);
    if (!henn__ifma_cpu()) {
        printf("this CPU has no AVX-512 IFMA: pair exponentiation refuses (HENN_EPARAM)\n");
        mpz_set_ui(m, 1000003);
        mpz_setbit(m, 1024);
        CHECK(!henn__mbsq_usable(m));
        mpz_set_ui(e, 3);
        CHECK_RC(henn__mbsq_powm(r, (const mpz_t *)x, 1, e, m), HENN_EPARAM);
    }
    for (i = 0; henn__ifma_cpu() && i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (shape = 0; shape < 3; shape++) {
            size_t bits = sizes[i], ebits;
            if (shape != 0 && bits != 1024 && bits != 2048)
                continue;
            make_modulus(m, bits, shape);
            mpz_mul(m2, m, m);
            CHECK(henn__mbsq_usable(m));
            for (k = 0; k < 4; k++) {
                size_t count = k == 3 ? 3 : k == 2 ? 1 : HENN__MB_LANES;
                for (l = 0; l < HENN__MB_LANES; l++)
                    mpz_urandomm(x[l], rs, m2);
                if (k == 1) { /* edge values */
                    mpz_set_ui(x[0], 0);
                    mpz_set_ui(x[1], 1);
                    mpz_sub_ui(x[2], m, 1);
                    mpz_set(x[3], m);
                    mpz_mul_ui(x[4], m, 12345);
                    mpz_sub_ui(x[5], m2, 1);
                    mpz_add_ui(x[6], m2, 7); /* out of range: reduced first */
                    mpz_neg(x[7], m);
                }
                /* exponents: random (bits of m), m itself, 1, all ones */
                ebits = bits;
                if (k == 0)
                    mpz_urandomb(e, rs, (mp_bitcnt_t)ebits);
                else if (k == 1)
                    mpz_set(e, m);
                else if (k == 2)
                    mpz_set_ui(e, 1);
                else {
                    mpz_set_ui(e, 0);
                    mpz_setbit(e, (mp_bitcnt_t)ebits);
                    mpz_sub_ui(e, e, 1);
                }
                if (bits > 2100 && k != 1) /* big sizes: a short exponent */
                    mpz_tdiv_r_2exp(e, e, 300);
                check_sq_pow(m, m2, x, count, e, ebits);
            }
            /* e = 0: every lane 1 */
            mpz_set_ui(e, 0);
            check_sq_pow(m, m2, x, 5, e, 5);
        }
    /* refused: an even or too small root, 9 lanes, e < 0, e longer than
     * ebits; IFMA turned off: the callers' fallback (HENN_EPARAM) */
    mpz_set_ui(e, 64);
    mpz_set_ui(m, 0);
    mpz_setbit(m, 1024); /* even */
    CHECK(!henn__mbsq_usable(m));
    CHECK_RC(henn__mbsq_powm(r, (const mpz_t *)x, 1, e, m), HENN_EPARAM);
    make_modulus(m, 511, 0); /* m^2 under 1,024 bits */
    CHECK(!henn__mbsq_usable(m));
    CHECK_RC(henn__mbsq_powm_sec(r, (const mpz_t *)x, 1, e, 8, m), HENN_EPARAM);
    make_modulus(m, 1024, 0);
    mpz_mul(m2, m, m);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_urandomm(x[l], rs, m2);
    if (henn__ifma_cpu()) {
        CHECK_RC(henn__mbsq_powm(r, (const mpz_t *)x, 9, e, m), HENN_EINVAL);
        CHECK_RC(henn__mbsq_powm_sec(r, (const mpz_t *)x, 9, e, 8, m), HENN_EINVAL);
        CHECK_RC(henn__mbsq_powm_sec(r, (const mpz_t *)x, 8, e, 6, m), HENN_EINVAL);
        CHECK_OK(henn__mbsq_powm(r, (const mpz_t *)x, 0, e, m));
        mpz_set_si(e, -3);
        CHECK_RC(henn__mbsq_powm(r, (const mpz_t *)x, 8, e, m), HENN_EINVAL);
        CHECK_RC(henn__mbsq_powm_sec(r, (const mpz_t *)x, 8, e, 8, m), HENN_EINVAL);
        henn__ifma_set_enabled(0);
        CHECK(!henn__mbsq_usable(m));
        mpz_set_ui(e, 3);
        CHECK_RC(henn__mbsq_powm(r, (const mpz_t *)x, 8, e, m), HENN_EPARAM);
        henn__ifma_set_enabled(1);
        CHECK(henn__mbsq_usable(m));
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clears(x[l], r[l], NULL);
    mpz_clears(m, m2, e, NULL);
}

/* Multi-exponentiation: 8 or more outputs on pairs modulo the root of a
 * square modulus (henn__mbsq_multi_exp) against the single-buffer path
 * (pairs turned off) and mpz_powm: 2,048-bit root, 1 / 9 / 41 bases,
 * 4 / 5 (single-buffer) and 8 / 9 / 17 outputs (whole and partial
 * groups on pairs), 19- and 32-bit
 * exponents with zero digits and zero exponents; a non-square modulus
 * stays on the single-buffer path. */
static void test_multi_exp_pairs(void)
{
    static const size_t ms[] = {1, 9, 41}, outs_list[] = {4, 5, 8, 9, 17};
    static const unsigned ebs[] = {19, 32};
    mpz_t n, n2, want, t, ez;
    size_t a, b, c, i, h;
    mpz_inits(n, n2, want, t, ez, NULL);
    make_modulus(n, 2048, 0);
    mpz_mul(n2, n, n);
    for (a = 0; a < 3; a++)
        for (b = 0; b < 5; b++)
            for (c = 0; c < 2; c++) {
                size_t m = ms[a], outs = outs_list[b];
                unsigned eb = ebs[c];
                mpz_t *base = malloc(m * sizeof(mpz_t)), *r = malloc(outs * sizeof(mpz_t)),
                      *r1 = malloc(outs * sizeof(mpz_t));
                uint32_t *e = malloc(m * outs * sizeof(uint32_t));
                for (i = 0; i < m; i++) {
                    mpz_init(base[i]);
                    mpz_urandomm(base[i], rs, n2);
                }
                for (i = 0; i < m * outs; i++) {
                    e[i] = (uint32_t)gmp_urandomb_ui(rs, eb);
                    if (i % 7 == 0)
                        e[i] = 0;
                    if (i % 11 == 0)
                        e[i] &= 0x1Fu; /* only the lowest window nonzero */
                }
                for (i = 0; i < m; i++) /* output 0: all exponents zero */
                    e[i] = 0;
                for (h = 0; h < outs; h++) {
                    mpz_init(r[h]);
                    mpz_init(r1[h]);
                }
                CHECK_OK(henn__paillier_multi_exp(r, n2, (const mpz_t *)base, m, e, outs, eb,
                                                  NULL));
                henn__mbsq_set_enabled(0);
                CHECK_OK(henn__paillier_multi_exp(r1, n2, (const mpz_t *)base, m, e, outs, eb,
                                                  NULL));
                henn__mbsq_set_enabled(1);
                for (h = 0; h < outs; h++) {
                    CHECK_EQ_MPZ(r[h], r1[h]);
                    if (h < 3 || h + 1 == outs) { /* against mpz for a few */
                        mpz_set_ui(want, 1);
                        for (i = 0; i < m; i++) {
                            mpz_set_ui(ez, e[h * m + i]);
                            mpz_powm(t, base[i], ez, n2);
                            mpz_mul(want, want, t);
                            mpz_mod(want, want, n2);
                        }
                        CHECK_EQ_MPZ(r[h], want);
                    }
                    mpz_clear(r[h]);
                    mpz_clear(r1[h]);
                }
                for (i = 0; i < m; i++)
                    mpz_clear(base[i]);
                free(base);
                free(r);
                free(r1);
                free(e);
            }
    if (henn__ifma_cpu())
        CHECK(henn__mbsq_usable(n));
    /* a modulus that is not a square: the single-buffer path, same result */
    {
        mpz_t base1[1], r8[8];
        uint32_t e8[8];
        mpz_add_ui(t, n2, 2); /* odd, not a square */
        mpz_init(base1[0]);
        mpz_urandomm(base1[0], rs, t);
        for (h = 0; h < 8; h++) {
            mpz_init(r8[h]);
            e8[h] = (uint32_t)(h * 977 + 1);
        }
        CHECK_OK(henn__paillier_multi_exp(r8, t, (const mpz_t *)base1, 1, e8, 8, 16, NULL));
        for (h = 0; h < 8; h++) {
            mpz_set_ui(ez, e8[h]);
            mpz_powm(want, base1[0], ez, t);
            CHECK_EQ_MPZ(r8[h], want);
            mpz_clear(r8[h]);
        }
        mpz_clear(base1[0]);
    }
    mpz_clears(n, n2, want, t, ez, NULL);
}

/* Fresh r^n noise: n-th residues (x^lambda = 1 mod n^2, as
 * lambda(n^2) = n lambda), pairwise distinct, and c = (1 + m n) x decrypts
 * to m; counts around the 8-lane groups and the single-buffer remainder. */
static void check_noise(const henn_paillier_sk *sk)
{
    static const size_t counts[] = {0, 1, 2, 3, 5, 6, 8, 13, 14, 17};
    const henn_paillier_pk *pk = &sk->pk;
    mpz_t out[17], t;
    henn_paillier_ct ct;
    henn_paillier_pt pt;
    size_t i, j, k;
    mpz_init(t);
    henn_paillier_ct_init(&ct);
    henn_paillier_pt_init(&pt);
    for (i = 0; i < 17; i++)
        mpz_init(out[i]);
    for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t count = counts[k];
        for (i = 0; i < 17; i++)
            mpz_set_ui(out[i], 0);
        CHECK_OK(henn__paillier_noise(out, count, pk));
        for (i = count; i < 17; i++) /* nothing written past count */
            CHECK(mpz_sgn(out[i]) == 0);
        for (i = 0; i < count; i++) {
            CHECK(mpz_sgn(out[i]) > 0 && mpz_cmp(out[i], pk->n2) < 0);
            mpz_powm(t, out[i], sk->lambda, pk->n2);
            CHECK(mpz_cmp_ui(t, 1) == 0);
            for (j = 0; j < i; j++)
                CHECK(mpz_cmp(out[i], out[j]) != 0);
            /* c = (1 + m n) x with m = i + 1000 */
            mpz_mul_ui(t, pk->n, (unsigned long)(i + 1000));
            mpz_add_ui(t, t, 1);
            mpz_mul(ct.c, t, out[i]);
            mpz_mod(ct.c, ct.c, pk->n2);
            memcpy(ct.kid, pk->kid, sizeof(ct.kid));
            CHECK_OK(henn_paillier_decrypt(&pt, sk, &ct));
            CHECK(mpz_cmp_ui(pt.encoding, (unsigned long)(i + 1000)) == 0);
        }
    }
    {
        henn_paillier_pk empty;
        henn_paillier_pk_init(&empty);
        CHECK_RC(henn__paillier_noise(out, 1, &empty), HENN_EKEY);
        henn_paillier_pk_clear(&empty);
    }
    for (i = 0; i < 17; i++)
        mpz_clear(out[i]);
    henn_paillier_pt_clear(&pt);
    henn_paillier_ct_clear(&ct);
    mpz_clear(t);
}

/* Keys carry 8-lane contexts of n^2, p^2 and q^2, built with the IFMA
 * setting of the key's set-up: the engine's limb count when IFMA was on,
 * the per-element fallback when it was off (as a per-call context). */
static void check_attached(const henn_paillier_sk *sk)
{
    const henn__mont *mts[3];
    size_t k;
    mts[0] = sk->pk.mont;
    mts[1] = &sk->mont[0];
    mts[2] = &sk->mont[1];
    for (k = 0; k < 3; k++) {
        henn__mb tmp;
        const henn__mb *use = NULL;
        CHECK(mts[k]->mb != NULL);
        CHECK(mts[k]->mb->mt == mts[k]);
        CHECK_EQ_INT(mts[k]->mb->limbs, mts[k]->v != 0 ? (k == 0 ? 79 : 40) : 0);
        CHECK_OK(henn__mb_get(&use, &tmp, mts[k]));
        CHECK(use == mts[k]->mb);
        CHECK(tmp.m == NULL);
        henn__mb_clear(&tmp);
    }
    {
        henn__mb tmp;
        const henn__mb *use = NULL;
        CHECK_RC(henn__mb_get(&use, &tmp, NULL), HENN_EKEY);
        CHECK(use == NULL);
        henn__mb_clear(&tmp);
    }
}

/* Batch re-randomisation (the pool's groups of 8, one 8-lane r^n each):
 * for counts 0 .. 20 on 1 and 2 threads, in place and not, every output
 * decrypts to its input, keeps its exponent, differs from the input and
 * from the other outputs; elements past count are untouched. A bad element
 * stops its group with the single call's code; those before it in the
 * batch are re-randomised. */
static void check_rerandomize_batch(const henn_paillier_sk *sk)
{
    enum { N = 20 };
    const henn_paillier_pk *pk = &sk->pk;
    henn_paillier_ct in[N], out[N];
    henn_paillier_pt pt;
    mpz_t want[N];
    henn_batch_opts o1 = {1, NULL, NULL}, o2 = {2, NULL, NULL};
    size_t i, j, count;
    henn_paillier_pt_init(&pt);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_init(&in[i]);
        henn_paillier_ct_init(&out[i]);
        CHECK_OK(henn_paillier_encode_int64(&pt, pk, (int64_t)i * 31 - 100, 0));
        pt.exponent = (int)i - 5;
        CHECK_OK(henn_paillier_encrypt_sk(&in[i], sk, &pt));
        mpz_init_set(want[i], pt.encoding);
    }
    for (count = 0; count <= N; count++) {
        const henn_batch_opts *o = count % 2 ? &o2 : &o1;
        for (i = 0; i < N; i++)
            mpz_set_ui(out[i].c, 7);
        CHECK_OK(henn_paillier_rerandomize_batch(out, pk, in, count, o));
        for (i = 0; i < count; i++) {
            CHECK(mpz_cmp(out[i].c, in[i].c) != 0);
            for (j = 0; j < i; j++)
                CHECK(mpz_cmp(out[i].c, out[j].c) != 0);
            CHECK_EQ_INT(out[i].exponent, in[i].exponent);
            CHECK_OK(henn_paillier_decrypt(&pt, sk, &out[i]));
            CHECK_EQ_MPZ(pt.encoding, want[i]);
            CHECK_EQ_INT(pt.exponent, (int)i - 5);
        }
        for (; i < N; i++)
            CHECK(mpz_cmp_ui(out[i].c, 7) == 0);
    }
    /* in place */
    for (i = 0; i < N; i++) {
        mpz_set(out[i].c, in[i].c);
        out[i].exponent = in[i].exponent;
        memcpy(out[i].kid, in[i].kid, sizeof(in[i].kid));
    }
    CHECK_OK(henn_paillier_rerandomize_batch(out, pk, out, N, &o2));
    for (i = 0; i < N; i++) {
        CHECK(mpz_cmp(out[i].c, in[i].c) != 0);
        CHECK_OK(henn_paillier_decrypt(&pt, sk, &out[i]));
        CHECK_EQ_MPZ(pt.encoding, want[i]);
    }
    /* element 11 out of range (second group), then element 3 under another key */
    mpz_set(pt.encoding, in[11].c);
    mpz_set(in[11].c, pk->n2);
    for (i = 0; i < N; i++)
        mpz_set_ui(out[i].c, 7);
    CHECK_RC(henn_paillier_rerandomize_batch(out, pk, in, N, &o1), HENN_ERANGE);
    for (i = 0; i < 11; i++)
        CHECK(mpz_cmp_ui(out[i].c, 7) != 0 && mpz_cmp(out[i].c, in[i].c) != 0);
    for (; i < 16; i++) /* the rest of its group */
        CHECK(mpz_cmp_ui(out[i].c, 7) == 0);
    mpz_set_ui(in[11].c, 0);
    CHECK_RC(henn_paillier_rerandomize_batch(out, pk, in, N, &o2), HENN_ERANGE);
    mpz_set(in[11].c, pt.encoding);
    in[3].kid[0] ^= 1;
    CHECK_RC(henn_paillier_rerandomize_batch(out, pk, in, N, &o1), HENN_EKEY);
    in[3].kid[0] ^= 1;
    for (i = 0; i < N; i++) {
        henn_paillier_ct_clear(&in[i]);
        henn_paillier_ct_clear(&out[i]);
        mpz_clear(want[i]);
    }
    henn_paillier_pt_clear(&pt);
}

/* Batch decryption (8-lane groups, single-buffer remainders) equals
 * henn_paillier_decrypt for counts 0 .. 20, and a bad element stops the
 * batch with the single call's error after decrypting those before it. */
static void check_decrypt_batch(const henn_paillier_sk *sk)
{
    enum { N = 20 };
    henn_paillier_ct ct[N];
    henn_paillier_pt pt[N], one, in;
    henn_batch_opts o1 = {1, NULL, NULL}, o2 = {2, NULL, NULL};
    size_t i, count;
    henn_paillier_pt_init(&one);
    henn_paillier_pt_init(&in);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_init(&ct[i]);
        henn_paillier_pt_init(&pt[i]);
        CHECK_OK(henn_paillier_encode_int64(&in, &sk->pk, (int64_t)(i * 7919) - 50000, 0));
        in.exponent = (int)i - 3;
        CHECK_OK(henn_paillier_encrypt_sk(&ct[i], sk, &in));
    }
    for (count = 0; count <= N; count++) {
        const henn_batch_opts *o = count % 2 ? &o2 : &o1;
        for (i = 0; i < N; i++)
            mpz_set_ui(pt[i].encoding, 7);
        CHECK_OK(henn_paillier_decrypt_batch(pt, sk, ct, count, o));
        for (i = 0; i < count; i++) {
            CHECK_OK(henn_paillier_decrypt(&one, sk, &ct[i]));
            CHECK_EQ_MPZ(pt[i].encoding, one.encoding);
            CHECK_EQ_INT(pt[i].exponent, one.exponent);
        }
        for (; i < N; i++)
            CHECK(mpz_cmp_ui(pt[i].encoding, 7) == 0);
    }
    /* element 10 out of range, then element 3 under another key */
    mpz_set(in.encoding, ct[10].c);
    mpz_set(ct[10].c, sk->pk.n2);
    CHECK_RC(henn_paillier_decrypt(&one, sk, &ct[10]), HENN_ERANGE);
    for (i = 0; i < N; i++)
        mpz_set_ui(pt[i].encoding, 7);
    CHECK_RC(henn_paillier_decrypt_batch(pt, sk, ct, N, &o1), HENN_ERANGE);
    for (i = 0; i < 10; i++) {
        CHECK_OK(henn_paillier_decrypt(&one, sk, &ct[i]));
        CHECK_EQ_MPZ(pt[i].encoding, one.encoding);
    }
    /* on two threads too (the half-group passes): before it decrypted, after it untouched */
    for (i = 0; i < N; i++)
        mpz_set_ui(pt[i].encoding, 7);
    CHECK_RC(henn_paillier_decrypt_batch(pt, sk, ct, N, &o2), HENN_ERANGE);
    for (i = 0; i < 10; i++) {
        CHECK_OK(henn_paillier_decrypt(&one, sk, &ct[i]));
        CHECK_EQ_MPZ(pt[i].encoding, one.encoding);
    }
    for (; i < N; i++)
        CHECK(mpz_cmp_ui(pt[i].encoding, 7) == 0);
    mpz_set(ct[10].c, in.encoding);
    mpz_set_ui(ct[10].c, 0);
    CHECK_RC(henn_paillier_decrypt_batch(pt, sk, ct, N, &o1), HENN_ERANGE);
    mpz_set(ct[10].c, in.encoding);
    ct[3].kid[0] ^= 1;
    CHECK_RC(henn_paillier_decrypt(&one, sk, &ct[3]), HENN_EKEY);
    CHECK_RC(henn_paillier_decrypt_batch(pt, sk, ct, N, &o1), HENN_EKEY);
    ct[3].kid[0] ^= 1;
    /* c sharing the factor p with n */
    mpz_set(ct[12].c, sk->p);
    CHECK_RC(henn_paillier_decrypt(&one, sk, &ct[12]), HENN_ERANGE);
    CHECK_RC(henn_paillier_decrypt_batch(pt, sk, ct, N, &o1), HENN_ERANGE);
    for (i = 0; i < N; i++) {
        henn_paillier_pt_clear(&pt[i]);
        henn_paillier_ct_clear(&ct[i]);
    }
    henn_paillier_pt_clear(&in);
    henn_paillier_pt_clear(&one);
}

/* DJN encryption 8 at a time: h_s^a from the fixed-base table on the
 * 8-lane engine equals the one-at-a-time product for 1..8 lanes and edge
 * exponents (0, 1, one set bit at the top, all ones); batch encryption of
 * 0..20 elements on 1 and 2 threads decrypts to its inputs with distinct
 * ciphertexts and the key's id; an out-of-range plaintext is refused. */
static void check_encrypt_batch8(const henn_paillier_sk *sk)
{
    enum { N = 20 };
    henn_paillier_pk pk;
    henn_paillier_ct ct[N];
    henn_paillier_pt pt[N], out;
    henn_batch_opts o1 = {1, NULL, NULL}, o2 = {2, NULL, NULL};
    mpz_t a[HENN__MB_LANES], r[HENN__MB_LANES], want;
    size_t i, l, count;
    henn_paillier_pk_init(&pk);
    henn_paillier_pt_init(&out);
    mpz_init(want);
    CHECK_OK(henn_paillier_pk_copy(&pk, &sk->pk));
    CHECK_OK(henn_paillier_pk_precompute(&pk, 6));
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(a[l], r[l], NULL);
    for (count = 1; count <= HENN__MB_LANES; count++) {
        for (l = 0; l < count; l++) {
            mpz_urandomb(a[l], rs, (mp_bitcnt_t)pk.a_bits);
            if (l == 1 && count > 4) {
                mpz_set_ui(a[0], 0);
                mpz_set_ui(a[1], 1);
                mpz_set_ui(a[2], 0);
                mpz_setbit(a[2], (mp_bitcnt_t)pk.a_bits - 1);
                mpz_set_ui(a[3], 0);
                mpz_setbit(a[3], (mp_bitcnt_t)pk.a_bits);
                mpz_sub_ui(a[3], a[3], 1);
            }
        }
        CHECK_OK(henn__paillier_fbtab_pow8(r, pk.fb, (const mpz_t *)a, count));
        for (l = 0; l < count; l++) {
            if (mpz_sgn(a[l]) == 0)
                mpz_set_ui(want, 1);
            else
                CHECK_OK(henn__paillier_fbtab_pow(want, pk.fb, a[l]));
            CHECK_EQ_MPZ(r[l], want);
            mpz_powm(want, pk.hs, a[l], pk.n2);
            CHECK_EQ_MPZ(r[l], want);
        }
    }
    CHECK_RC(henn__paillier_fbtab_pow8(r, pk.fb, (const mpz_t *)a, 9), HENN_EINVAL);
    mpz_set_ui(a[0], 0);
    mpz_setbit(a[0], (mp_bitcnt_t)(pk.a_bits + 6)); /* beyond the table's positions */
    CHECK_RC(henn__paillier_fbtab_pow8(r, pk.fb, (const mpz_t *)a, 1), HENN_EINVAL);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_init(&ct[i]);
        henn_paillier_pt_init(&pt[i]);
        CHECK_OK(henn_paillier_encode_int64(&pt[i], &pk, (int64_t)(i * 104729) - 777, 0));
        pt[i].exponent = (int)i - 2;
    }
    for (count = 0; count <= N; count++) {
        CHECK_OK(henn_paillier_encrypt_batch(ct, &pk, pt, count, count % 2 ? &o2 : &o1));
        for (i = 0; i < count; i++) {
            CHECK_OK(henn_paillier_decrypt(&out, sk, &ct[i]));
            CHECK_EQ_MPZ(out.encoding, pt[i].encoding);
            CHECK_EQ_INT(ct[i].exponent, pt[i].exponent);
            CHECK(memcmp(ct[i].kid, pk.kid, sizeof(ct[i].kid)) == 0);
            if (i > 0)
                CHECK(mpz_cmp(ct[i].c, ct[i - 1].c) != 0);
        }
    }
    mpz_set(pt[11].encoding, pk.n); /* m = n: out of range */
    CHECK_RC(henn_paillier_encrypt_batch(ct, &pk, pt, N, &o1), HENN_ERANGE);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_clear(&ct[i]);
        henn_paillier_pt_clear(&pt[i]);
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clears(a[l], r[l], NULL);
    mpz_clear(want);
    henn_paillier_pt_clear(&out);
    henn_paillier_pk_clear(&pk);
}

/* The key holder's DJN noise through the CRT (fixed-base tables of pairs
 * modulo p and q): h_s^a for 1..8 lanes and edge exponents (0, 1, the top
 * bit, all ones) equals h_s^a mod n^2 and the public table's 8-lane
 * result, for w = 8 and for w = 5 (digits that straddle 64-bit words);
 * 9 lanes, an exponent beyond the positions and a key without h_s are
 * refused; batch encryption of 0..20 elements on 1 and 2 threads decrypts
 * to its inputs with distinct ciphertexts; without the pair engine the
 * build says HENN_EPARAM (the owner then uses the public table). */
static void check_encrypt_crt(const henn_paillier_sk *sk)
{
    enum { N = 20 };
    static const unsigned ws[2] = {8, 5};
    henn_paillier_pk pk;
    henn_paillier_sk bare;
    struct henn__paillier_fbcrt *t = NULL;
    henn_paillier_ct ct[N];
    henn_paillier_pt pt[N], out;
    henn_batch_opts o1 = {1, NULL, NULL}, o2 = {2, NULL, NULL};
    mpz_t a[HENN__MB_LANES], r[HENN__MB_LANES], r8[HENN__MB_LANES], want;
    size_t i, l, count, k;
    if (!henn__mbsq_usable(sk->p)) {
        CHECK_RC(henn__paillier_fbcrt_build(&t, sk, 8), HENN_EPARAM);
        CHECK(t == NULL);
        return;
    }
    henn_paillier_pk_init(&pk);
    henn_paillier_pt_init(&out);
    mpz_init(want);
    CHECK_OK(henn_paillier_pk_copy(&pk, &sk->pk));
    CHECK_OK(henn_paillier_pk_precompute(&pk, 6));
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(a[l], r[l], r8[l], NULL);
    for (k = 0; k < 2; k++) {
        CHECK_OK(henn__paillier_fbcrt_build(&t, sk, ws[k]));
        for (count = 1; count <= HENN__MB_LANES; count++) {
            for (l = 0; l < count; l++)
                mpz_urandomb(a[l], rs, (mp_bitcnt_t)pk.a_bits);
            if (count > 4) {
                mpz_set_ui(a[0], 0);
                mpz_set_ui(a[1], 1);
                mpz_set_ui(a[2], 0);
                mpz_setbit(a[2], (mp_bitcnt_t)pk.a_bits - 1);
                mpz_set_ui(a[3], 0);
                mpz_setbit(a[3], (mp_bitcnt_t)pk.a_bits);
                mpz_sub_ui(a[3], a[3], 1);
            }
            CHECK_OK(henn__paillier_fbcrt_pow8(r, t, sk, (const mpz_t *)a, count));
            CHECK_OK(henn__paillier_fbtab_pow8(r8, pk.fb, (const mpz_t *)a, count));
            for (l = 0; l < count; l++) {
                mpz_powm(want, pk.hs, a[l], pk.n2);
                CHECK_EQ_MPZ(r[l], want);
                CHECK_EQ_MPZ(r[l], r8[l]);
            }
        }
        CHECK_RC(henn__paillier_fbcrt_pow8(r, t, sk, (const mpz_t *)a, 9), HENN_EINVAL);
        mpz_set_ui(a[0], 0);
        mpz_setbit(a[0], (mp_bitcnt_t)(pk.a_bits + 12)); /* beyond the positions */
        CHECK_RC(henn__paillier_fbcrt_pow8(r, t, sk, (const mpz_t *)a, 1), HENN_EINVAL);
        CHECK_OK(henn__paillier_fbcrt_pow8(r, t, sk, (const mpz_t *)a, 0));
        if (k == 0) { /* batch encryption with the w = 8 table */
            for (i = 0; i < N; i++) {
                henn_paillier_ct_init(&ct[i]);
                henn_paillier_pt_init(&pt[i]);
                CHECK_OK(henn_paillier_encode_int64(&pt[i], &pk, (int64_t)(i * 7919) - 4242, 0));
                pt[i].exponent = (int)i - 3;
            }
            for (count = 0; count <= N; count++) {
                CHECK_OK(henn__paillier_encrypt_batch_crt(ct, sk, t, pt, count,
                                                          count % 2 ? &o2 : &o1));
                for (i = 0; i < count; i++) {
                    CHECK_OK(henn_paillier_decrypt(&out, sk, &ct[i]));
                    CHECK_EQ_MPZ(out.encoding, pt[i].encoding);
                    CHECK_EQ_INT(ct[i].exponent, pt[i].exponent);
                    CHECK(memcmp(ct[i].kid, pk.kid, sizeof(ct[i].kid)) == 0);
                    if (i > 0)
                        CHECK(mpz_cmp(ct[i].c, ct[i - 1].c) != 0);
                }
            }
            mpz_set(pt[11].encoding, pk.n); /* m = n: out of range */
            CHECK_RC(henn__paillier_encrypt_batch_crt(ct, sk, t, pt, N, &o1), HENN_ERANGE);
            CHECK_RC(henn__paillier_encrypt_batch_crt(ct, sk, NULL, pt, N, &o1), HENN_EINVAL);
            for (i = 0; i < N; i++) {
                henn_paillier_ct_clear(&ct[i]);
                henn_paillier_pt_clear(&pt[i]);
            }
        }
        henn__paillier_fbcrt_free(t);
        t = NULL;
    }
    /* a key without h_s */
    henn_paillier_sk_init(&bare);
    CHECK_RC(henn__paillier_fbcrt_build(&t, &bare, 8), HENN_EINVAL);
    CHECK(t == NULL);
    henn_paillier_sk_clear(&bare);
    henn__paillier_fbcrt_free(NULL);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_clears(a[l], r[l], r8[l], NULL);
    mpz_clear(want);
    henn_paillier_pt_clear(&out);
    henn_paillier_pk_clear(&pk);
}

/* Noise and batch decryption with the multi-buffer engine (pairs modulo
 * n, p, q), with the pairs turned off (8 lanes modulo n^2, p^2, q^2), then
 * on a key rebuilt with IFMA off (per-element fallback): all must pass the
 * same checks, and the keys decrypt the same batch identically. */
static void test_mb_paillier(void)
{
    henn_paillier_sk on, off;
    henn_paillier_sk_init(&on);
    henn_paillier_sk_init(&off);
    CHECK_OK(henn_paillier_keygen(NULL, &on, 2048, 0));
    check_attached(&on);
    check_noise(&on);
    check_decrypt_batch(&on);
    check_rerandomize_batch(&on);
    check_encrypt_batch8(&on);
    check_encrypt_crt(&on);
    /* the 8-lane engine modulo n^2, p^2, q^2 instead of pairs */
    henn__mbsq_set_enabled(0);
    check_encrypt_crt(&on); /* refused: the owner falls back */
    check_noise(&on);
    check_decrypt_batch(&on);
    henn__mbsq_set_enabled(1);
    henn__ifma_set_enabled(0);
    CHECK_OK(henn_paillier_sk_from_primes(&off, on.p, on.q, 0));
    check_attached(&off);
    check_noise(&off);
    check_decrypt_batch(&off);
    check_rerandomize_batch(&off);
    check_encrypt_batch8(&off); /* no 8-lane engine: one at a time */
    henn__ifma_set_enabled(1);
    henn_paillier_sk_clear(&off);
    henn_paillier_sk_clear(&on);
}

/* Paillier with and without IFMA: same decryptions, same homomorphic
 * results, under one key generated with IFMA on (contexts chosen then) and
 * one rebuilt from the same primes with IFMA off. */
static void test_paillier_backends(void)
{
    henn_paillier_pk pk;
    henn_paillier_sk on, off;
    henn_paillier_ct c, d, e;
    henn_paillier_pt pt, out1, out2;
    int k;

    henn_paillier_sk_init(&on);
    henn_paillier_sk_init(&off);
    henn_paillier_pk_init(&pk);
    henn_paillier_ct_init(&c);
    henn_paillier_ct_init(&d);
    henn_paillier_ct_init(&e);
    henn_paillier_pt_init(&pt);
    henn_paillier_pt_init(&out1);
    henn_paillier_pt_init(&out2);
    CHECK_OK(henn_paillier_keygen(NULL, &on, 2048, 0));
    henn__ifma_set_enabled(0);
    CHECK_OK(henn_paillier_sk_from_primes(&off, on.p, on.q, 0));
    CHECK(off.mont[0].v == 0 && off.pk.mont->v == 0);
    henn__ifma_set_enabled(1);
    if (henn__ifma_cpu())
        CHECK(on.mont[0].v == 5 && on.mont[1].v == 5 && on.pk.mont->v == 10);
    else
        printf("this CPU has no AVX-512 IFMA: only the GMP backend is tested\n");
    CHECK_OK(henn_paillier_pk_copy(&pk, &on.pk));
    CHECK_OK(henn_paillier_pk_precompute(&pk, 6));
    for (k = 0; k < 20; k++) {
        int64_t a = (int64_t)(gmp_urandomb_ui(rs, 30)) - ((int64_t)1 << 29);
        int64_t s = (int64_t)gmp_urandomb_ui(rs, 32) - ((int64_t)1 << 31);
        CHECK_OK(henn_paillier_encode_int64(&pt, &pk, a, 0));
        /* fixed-base table (IFMA), key-holder (IFMA CRT), textbook (GMP) */
        CHECK_OK(k % 3 == 0   ? henn_paillier_encrypt(&c, &pk, &pt)
                 : k % 3 == 1 ? henn_paillier_encrypt_sk(&c, &on, &pt)
                              : henn_paillier_encrypt_textbook(&c, &off.pk, &pt));
        CHECK_OK(henn_paillier_decrypt(&out1, &on, &c));
        CHECK_OK(henn_paillier_decrypt(&out2, &off, &c));
        CHECK_EQ_MPZ(out1.encoding, out2.encoding);
        CHECK_EQ_MPZ(out1.encoding, pt.encoding);
        CHECK_OK(henn_paillier_decrypt_lambda(&out2, &on, &c));
        CHECK_EQ_MPZ(out1.encoding, out2.encoding);
        /* c^s under both public contexts, negative scalars included */
        CHECK_OK(henn_paillier_mul_int64(&d, &on.pk, &c, s));
        CHECK_OK(henn_paillier_mul_int64(&e, &off.pk, &c, s));
        CHECK_EQ_MPZ(d.c, e.c);
        {
            int64_t got;
            CHECK_OK(henn_paillier_decrypt(&out1, &on, &d));
            CHECK_OK(henn_paillier_decode_int64(&got, &on.pk, &out1));
            CHECK(got == a * s);
        }
        /* re-randomised ciphertexts differ but decrypt the same */
        CHECK_OK(henn_paillier_rerandomize(&d, &pk, &c));
        CHECK(mpz_cmp(d.c, c.c) != 0);
        CHECK_OK(henn_paillier_decrypt(&out1, &off, &d));
        CHECK_EQ_MPZ(out1.encoding, pt.encoding);
    }
    henn_paillier_pt_clear(&out2);
    henn_paillier_pt_clear(&out1);
    henn_paillier_pt_clear(&pt);
    henn_paillier_ct_clear(&e);
    henn_paillier_ct_clear(&d);
    henn_paillier_ct_clear(&c);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&off);
    henn_paillier_sk_clear(&on);
}

int main(void)
{
    CHECK_OK(henn_init());
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, test_seed());
    printf("AVX-512 IFMA: %s\n", henn__ifma_cpu() ? "yes" : "no");
    test_backends();
    test_mb();
    test_mb_square();
    test_multi_exp_pairs();
    test_mb_paillier();
    test_paillier_backends();
    gmp_randclear(rs);
    return test_report("test_mont");
}
