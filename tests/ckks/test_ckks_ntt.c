/* CKKS: modular arithmetic, prime selection (SEAL known answers), the
 * security guard and the negacyclic NTT (against its definition and a
 * schoolbook negacyclic product). */
#include "../test.h"
#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"
#include "henn/henn.h"

/* ---- test RNG (splitmix64, seeded from test_seed) ---- */
static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return (uint64_t)(((henn__u128)rnd64() * n) >> 64);
}

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t ua_ = (a), ub_ = (b);                                                             \
        test_checks++;                                                                             \
        if (ua_ != ub_) {                                                                          \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", __FILE__, __LINE__, #a, #b,  \
                    (unsigned long long)ua_, (unsigned long long)ub_);                             \
        }                                                                                          \
    } while (0)

/* Reference a * b mod q. */
static uint64_t ref_mul(uint64_t a, uint64_t b, uint64_t q)
{
    return (uint64_t)(((henn__u128)a * b) % q);
}

static uint64_t ref_pow(uint64_t a, uint64_t e, uint64_t q)
{
    uint64_t r = 1 % q;
    a %= q;
    for (uint64_t i = 0; i < e; i++)
        r = ref_mul(r, a, q);
    return r;
}

/* Largest prime q < 2^bits with q = 1 mod 2N (or 0). */
static uint64_t prime_below(int bits, size_t N)
{
    uint64_t two_n = 2 * (uint64_t)N;
    uint64_t c = ((((uint64_t)1 << bits) - 1) / two_n) * two_n + 1;
    for (; c > ((uint64_t)1 << (bits - 1)); c -= two_n)
        if (henn__ckks_is_prime(c))
            return c;
    return 0;
}

/* ---- modular arithmetic -------------------------------------------------- */

static void check_mod_ops(uint64_t q, uint64_t a, uint64_t b)
{
    henn__ckks_mod m;
    henn__ckks_mod_init(&m, q);
    CHECK_EQ_U64(henn__ckks_add_mod(a, b, q), (uint64_t)(((henn__u128)a + b) % q));
    CHECK_EQ_U64(henn__ckks_sub_mod(a, b, q), (uint64_t)(((henn__u128)a + q - b) % q));
    CHECK_EQ_U64(henn__ckks_neg_mod(a, q), (q - a) % q);
    CHECK_EQ_U64(henn__ckks_mul_mod(a, b, &m), ref_mul(a, b, q));
    uint64_t ws = henn__ckks_shoup(b, q);
    CHECK_EQ_U64(ws, (uint64_t)(((henn__u128)b << 64) / q));
    CHECK_EQ_U64(henn__ckks_mul_shoup(a, b, ws, q), ref_mul(a, b, q));
    /* Shoup takes any 64-bit x */
    uint64_t x = rnd64();
    uint64_t lz = henn__ckks_mul_shoup_lazy(x, b, ws, q);
    CHECK(lz < 2 * q);
    CHECK_EQ_U64(lz % q, ref_mul(x, b, q));
    CHECK_EQ_U64(henn__ckks_mul_shoup(x, b, ws, q), ref_mul(x, b, q));
    CHECK_EQ_U64(henn__ckks_mul_shoup(UINT64_MAX, b, ws, q), ref_mul(UINT64_MAX, b, q));
    /* Barrett on lazy operands (< 4q) and on any 128-bit value */
    uint64_t a4 = a + 3 * q, b4 = b + 2 * q;
    CHECK_EQ_U64(henn__ckks_mul_mod(a4, b4, &m), ref_mul(a4, b4, q));
    henn__u128 z = ((henn__u128)rnd64() << 64) | rnd64();
    CHECK_EQ_U64(henn__ckks_reduce_128(z, &m), (uint64_t)(z % q));
    CHECK_EQ_U64(henn__ckks_reduce_128(~(henn__u128)0, &m), (uint64_t)(~(henn__u128)0 % q));
    CHECK_EQ_U64(henn__ckks_reduce_128(0, &m), 0);
    CHECK_EQ_U64(henn__ckks_reduce_64(x, &m), x % q);
    /* shifted Barrett: products of values below q and sums of two */
    CHECK_EQ_U64(m.mu, (uint64_t)(((henn__u128)1 << (2 * m.bits)) / q));
    CHECK_EQ_U64(henn__ckks_mul_mod_sq(a, b, &m), ref_mul(a, b, q));
    uint64_t c = rnd64() % q, d = rnd64() % q;
    henn__u128 z2 = (henn__u128)a * b + (henn__u128)c * d;
    CHECK_EQ_U64(henn__ckks_reduce_sq(z2, &m), (uint64_t)(z2 % q));
    henn__u128 zmax = (((henn__u128)1 << (2 * m.bits + 1)) - 1);
    CHECK_EQ_U64(henn__ckks_reduce_sq(zmax, &m), (uint64_t)(zmax % q));
    henn__u128 zq = 2 * (henn__u128)(q - 1) * (q - 1);
    CHECK_EQ_U64(henn__ckks_reduce_sq(zq, &m), (uint64_t)(zq % q));
    CHECK_EQ_U64(henn__ckks_reduce_64(UINT64_MAX, &m), UINT64_MAX % q);
}

static void test_modarith(void)
{
    /* moduli: NTT primes of 17..60 bits and a 61-bit one, plus odd
     * non-primes for the operations that do not need primality */
    for (int bits = 17; bits <= 61; bits++) {
        uint64_t q = prime_below(bits, 4096);
        if (bits == 17)
            q = 65537;
        CHECK(q != 0);
        if (q == 0)
            continue;
        henn__ckks_mod m;
        henn__ckks_mod_init(&m, q);
        CHECK_EQ_INT(m.bits, bits);
        CHECK(m.ratio[1] == (uint64_t)((~(henn__u128)0 / q) >> 64));
        uint64_t edge[] = {0, 1, 2, q / 2, q - 2, q - 1};
        for (size_t i = 0; i < 6; i++)
            for (size_t j = 0; j < 6; j++)
                check_mod_ops(q, edge[i], edge[j]);
        for (int r = 0; r < 300; r++)
            check_mod_ops(q, rnd_below(q), rnd_below(q));
        uint64_t odd = (((uint64_t)1 << bits) - 1) - 2 * rnd_below((uint64_t)1 << (bits - 3));
        check_mod_ops(odd, rnd_below(odd), rnd_below(odd));
        /* pow and inverse */
        for (int r = 0; r < 20; r++) {
            uint64_t a = rnd_below(q - 1) + 1, e = rnd_below(200);
            CHECK_EQ_U64(henn__ckks_pow_mod(a, e, &m), ref_pow(a, e, q));
            uint64_t ai = henn__ckks_inv_mod(a, &m);
            CHECK_EQ_U64(ref_mul(a, ai, q), 1);
        }
        CHECK_EQ_U64(henn__ckks_pow_mod(0, 0, &m), 1);
        CHECK_EQ_U64(henn__ckks_pow_mod(q - 1, q - 1, &m), 1); /* Fermat */
        CHECK_EQ_U64(henn__ckks_inv_mod(q - 1, &m), q - 1);
        CHECK_EQ_U64(henn__ckks_inv_mod(0, &m), 0);
    }
}

/* ---- primality and prime selection --------------------------------------- */

static void test_is_prime(void)
{
    /* against trial division on a small range */
    for (uint64_t n = 0; n < 3000; n++) {
        int p = n >= 2;
        for (uint64_t d = 2; d * d <= n; d++)
            if (n % d == 0)
                p = 0;
        CHECK_EQ_INT(henn__ckks_is_prime(n), p);
    }
    CHECK_EQ_INT(henn__ckks_is_prime(561), 0);                        /* Carmichael */
    CHECK_EQ_INT(henn__ckks_is_prime(3215031751u), 0);                /* spsp(2,3,5,7) */
    CHECK_EQ_INT(henn__ckks_is_prime(3825123056546413051u), 0);       /* spsp(2..23) */
    CHECK_EQ_INT(henn__ckks_is_prime(2305843009213693951u), 1);       /* 2^61 - 1 */
    CHECK_EQ_INT(henn__ckks_is_prime(18446744073709551557u), 1);      /* 2^64 - 59 */
    CHECK_EQ_INT(henn__ckks_is_prime(18446744073709551615u), 0);
    CHECK_EQ_INT(henn__ckks_is_prime(4294967291u * (uint64_t)4294967279u), 0);
    CHECK_EQ_INT(henn__ckks_is_prime(65537), 1);
    CHECK_EQ_INT(henn__ckks_is_prime(1152921504606748673u), 1);
}

static void test_primes_kat(void)
{
    /* SEAL 4.4.3 CoeffModulus::Create (docs CKKS_NOTES.md) */
    static const int a_bits[] = {60, 40, 40, 60};
    static const uint64_t a_q[] = {1152921504606748673u, 1099510890497u, 1099511480321u,
                                   1152921504606830593u};
    static const int c_bits[] = {40, 21, 21, 21, 21, 21, 21, 40};
    static const uint64_t c_q[] = {1099510890497u, 1196033, 1376257, 1589249,
                                   1720321,        1769473, 1785857, 1099511480321u};
    uint64_t q[HENN_CKKS_MAX_PRIMES];
    CHECK_OK(henn__ckks_select_primes(q, 8192, a_bits, 4));
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_U64(q[i], a_q[i]);
    CHECK_OK(henn__ckks_select_primes(q, 8192, c_bits, 8));
    for (size_t i = 0; i < 8; i++)
        CHECK_EQ_U64(q[i], c_q[i]);

    henn_ckks_params p;
    CHECK_OK(henn_ckks_params_init(&p, 8192, a_bits, 4, 0));
    CHECK_EQ_INT(p.N, 8192);
    CHECK_EQ_INT(p.logN, 13);
    CHECK_EQ_INT(p.L, 3);
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_U64(p.q[i], a_q[i]);
        CHECK_EQ_INT(p.bits[i], a_bits[i]);
        CHECK_EQ_U64(p.tables->mod[i].q, a_q[i]);
        CHECK_EQ_U64(p.tables->ntt[i].q, a_q[i]);
    }
    CHECK(p.log2_pq > 199.99 && p.log2_pq < 200.0);
    CHECK(p.tables->enc != NULL);
    CHECK_EQ_INT(p.tables->nprimes, 4);
    henn_ckks_params_clear(&p);
    CHECK(p.tables == NULL && p.N == 0);
    henn_ckks_params_clear(&p); /* twice is fine */

    CHECK_OK(henn_ckks_params_init(&p, 8192, c_bits, 8, 0));
    for (size_t i = 0; i < 8; i++)
        CHECK_EQ_U64(p.q[i], c_q[i]);
    henn_ckks_params_clear(&p);

    /* SEAL's B chain {60, 40 x 7, 60} at N = 16384; distinct, right sizes */
    int b_bits[9] = {60, 40, 40, 40, 40, 40, 40, 40, 60};
    CHECK_OK(henn_ckks_params_init(&p, 16384, b_bits, 9, 0));
    for (size_t i = 0; i < 9; i++) {
        CHECK_EQ_INT(64 - __builtin_clzll(p.q[i]), b_bits[i]);
        CHECK_EQ_U64(p.q[i] % 32768, 1);
        CHECK(henn__ckks_is_prime(p.q[i]));
        for (size_t j = 0; j < i; j++)
            CHECK(p.q[i] != p.q[j]);
    }
    /* increasing within one size: first occurrence gets the smallest */
    for (size_t i = 2; i < 8; i++)
        CHECK(p.q[i] > p.q[i - 1]);
    CHECK(p.q[8] > p.q[0]);
    henn_ckks_params_clear(&p);

    /* D chain {40, 20, 40} at N = 4096 */
    int d_bits[3] = {40, 20, 40};
    CHECK_OK(henn_ckks_params_init(&p, 4096, d_bits, 3, 0));
    henn_ckks_params_clear(&p);
}

static void test_security_and_errors(void)
{
    henn_ckks_params p;
    memset(&p, 0, sizeof(p));
    henn_ckks_params_clear(&p); /* zeroed: safe */
    henn_ckks_params_clear(NULL);

    CHECK_EQ_INT(henn_ckks_max_log2_pq(4096), 109);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(8192), 218);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(16384), 438);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(32768), 881);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(65536), 1772);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(2048), 0);
    CHECK_EQ_INT(henn_ckks_max_log2_pq(5000), 0);

    int b240[4] = {60, 60, 60, 60};
    CHECK_RC(henn_ckks_params_init(&p, 8192, b240, 4, 0), HENN_EPARAM);
    CHECK(p.tables == NULL);
    CHECK_OK(henn_ckks_params_init(&p, 8192, b240, 4, HENN_CKKS_INSECURE));
    CHECK(p.flags == HENN_CKKS_INSECURE);
    henn_ckks_params_clear(&p);
    int b109[2] = {60, 49}, b110[2] = {60, 50};
    CHECK_OK(henn_ckks_params_init(&p, 4096, b109, 2, 0));
    henn_ckks_params_clear(&p);
    CHECK_RC(henn_ckks_params_init(&p, 4096, b110, 2, 0), HENN_EPARAM);
    CHECK_OK(henn_ckks_params_init(&p, 4096, b110, 2, HENN_CKKS_INSECURE));
    henn_ckks_params_clear(&p);
    /* 216 bits at 8192 (50-bit special prime on TenSEAL's chain) passes */
    int b216[8] = {40, 21, 21, 21, 21, 21, 21, 50};
    CHECK_OK(henn_ckks_params_init(&p, 8192, b216, 8, 0));
    henn_ckks_params_clear(&p);
    /* 219 bits at 8192 is refused */
    int b219[5] = {60, 40, 40, 40, 39};
    CHECK_RC(henn_ckks_params_init(&p, 8192, b219, 5, 0), HENN_EPARAM);

    /* bad inputs */
    int ok[2] = {40, 40};
    CHECK_RC(henn_ckks_params_init(NULL, 8192, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 8192, NULL, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 6000, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 8191, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 2048, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 131072, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 0, ok, 2, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 8192, ok, 1, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 8192, ok, 0, 0), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 8192, ok, 2, 2u), HENN_EINVAL);
    int many[HENN_CKKS_MAX_PRIMES + 1];
    for (size_t i = 0; i <= HENN_CKKS_MAX_PRIMES; i++)
        many[i] = 20;
    CHECK_RC(henn_ckks_params_init(&p, 65536, many, HENN_CKKS_MAX_PRIMES + 1, HENN_CKKS_INSECURE),
             HENN_EINVAL);
    int b16[2] = {16, 40}, b61[2] = {40, 61}, bneg[2] = {40, -1};
    CHECK_RC(henn_ckks_params_init(&p, 4096, b16, 2, HENN_CKKS_INSECURE), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 4096, b61, 2, HENN_CKKS_INSECURE), HENN_EINVAL);
    CHECK_RC(henn_ckks_params_init(&p, 4096, bneg, 2, HENN_CKKS_INSECURE), HENN_EINVAL);
    /* no 17-bit prime = 1 mod 2^17 exists */
    int b17[2] = {17, 60};
    CHECK_RC(henn_ckks_params_init(&p, 65536, b17, 2, HENN_CKKS_INSECURE), HENN_EINVAL);
    /* count the 17-bit primes = 1 mod 8192, then ask for one more */
    size_t avail = 0;
    for (uint64_t c = 15 * 8192 + 1; c > 65536; c -= 8192)
        avail += (size_t)henn__ckks_is_prime(c);
    CHECK(avail >= 2 && avail < 16);
    int b17s[16];
    for (size_t i = 0; i < 16; i++)
        b17s[i] = 17;
    CHECK_OK(henn_ckks_params_init(&p, 4096, b17s, avail, HENN_CKKS_INSECURE));
    CHECK_EQ_U64(p.q[avail - 1], prime_below(17, 4096)); /* the largest comes last */
    CHECK_EQ_U64(p.q[0], 65537);                           /* 8 * 8192 + 1 */
    henn_ckks_params_clear(&p);
    CHECK_RC(henn_ckks_params_init(&p, 4096, b17s, avail + 1, HENN_CKKS_INSECURE), HENN_EINVAL);
    CHECK(p.tables == NULL && p.N == 0);
    uint64_t q[4];
    CHECK_RC(henn__ckks_select_primes(q, 4096, b17s, avail + 1), HENN_EINVAL);
    CHECK_RC(henn__ckks_select_primes(NULL, 4096, b17s, 2), HENN_EINVAL);
    CHECK_RC(henn__ckks_select_primes(q, 4095, b17s, 2), HENN_EINVAL);
}

/* ---- NTT ------------------------------------------------------------------ */

static size_t brv(size_t x, size_t bits)
{
    size_t r = 0;
    for (size_t i = 0; i < bits; i++, x >>= 1)
        r = (r << 1) | (x & 1);
    return r;
}

/* a(x) mod q by Horner. */
static uint64_t eval_poly(const uint64_t *a, size_t N, uint64_t x, const henn__ckks_mod *m)
{
    uint64_t r = 0;
    for (size_t i = N; i-- > 0;)
        r = henn__ckks_add_mod(henn__ckks_mul_mod(r, x, m), a[i], m->q);
    return r;
}

/* Coefficient k of the negacyclic product a * b mod (X^N + 1, q). */
static uint64_t negacyclic_coeff(const uint64_t *a, const uint64_t *b, size_t N, size_t k,
                                 const henn__ckks_mod *m)
{
    henn__u128 pos = 0, neg = 0; /* sums of N reduced products < 2^77 */
    for (size_t i = 0; i <= k; i++)
        pos += ref_mul(a[i], b[k - i], m->q);
    for (size_t i = k + 1; i < N; i++)
        neg += ref_mul(a[i], b[N + k - i], m->q);
    return henn__ckks_sub_mod(henn__ckks_reduce_128(pos, m), henn__ckks_reduce_128(neg, m), m->q);
}

/* NTT product of a and b (copies), result in c. */
static void ntt_mul(uint64_t *c, const uint64_t *a, const uint64_t *b, uint64_t *tmp,
                    const henn__ckks_ntt *t, const henn__ckks_mod *m)
{
    size_t N = t->N;
    memcpy(c, a, N * sizeof(uint64_t));
    memcpy(tmp, b, N * sizeof(uint64_t));
    henn__ckks_ntt_forward(c, t);
    henn__ckks_ntt_forward(tmp, t);
    for (size_t i = 0; i < N; i++)
        c[i] = henn__ckks_mul_mod(c[i], tmp[i], m);
    henn__ckks_ntt_inverse(c, t);
}

/* The checks on one table (one code path). */
static void check_ntt_table(const henn__ckks_ntt *tp, int dense_schoolbook)
{
    const henn__ckks_ntt t = *tp;
    const size_t N = t.N;
    const uint64_t q = t.q;
    henn__ckks_mod m;
    henn__ckks_mod_init(&m, q);
    CHECK_EQ_U64((size_t)1 << t.logN, N);
    CHECK_EQ_U64(henn__ckks_pow_mod(t.psi, N, &m), q - 1); /* primitive 2N-th root */
    /* minimal: no smaller primitive 2N-th root (exhaustive for small q) */
    if (q < ((uint64_t)1 << 22)) {
        int smaller = 0;
        for (uint64_t x = 2; x < t.psi; x++)
            smaller |= henn__ckks_pow_mod(x, N, &m) == q - 1;
        CHECK(!smaller);
    }
    uint64_t *a = malloc(N * sizeof(uint64_t)), *b = malloc(N * sizeof(uint64_t));
    uint64_t *c = malloc(N * sizeof(uint64_t)), *d = malloc(N * sizeof(uint64_t));
    uint64_t *e = malloc(N * sizeof(uint64_t));
    if (!a || !b || !c || !d || !e) {
        CHECK(0);
        goto done;
    }
    for (size_t i = 0; i < N; i++) {
        a[i] = rnd_below(q);
        b[i] = rnd_below(q);
    }
    a[0] = q - 1;
    a[N - 1] = q - 1;
    b[1] = 0;

    /* forward matches the definition at a few k */
    memcpy(c, a, N * sizeof(uint64_t));
    henn__ckks_ntt_forward(c, &t);
    int in_range = 1;
    for (size_t i = 0; i < N; i++)
        in_range &= c[i] < q;
    CHECK(in_range);
    size_t ks[5] = {0, 1, N / 2, N - 1, (size_t)rnd_below(N)};
    for (size_t j = 0; j < 5; j++) {
        size_t k = ks[j];
        uint64_t x = henn__ckks_pow_mod(t.psi, 2 * brv(k, t.logN) + 1, &m);
        CHECK_EQ_U64(c[k], eval_poly(a, N, x, &m));
    }
    /* lazy forward: [0, 2q), congruent; accepts inputs in [0, 4q) */
    for (size_t i = 0; i < N; i++)
        d[i] = a[i] + q * (i % 4);
    henn__ckks_ntt_forward_lazy(d, &t);
    int lazy_ok = 1;
    for (size_t i = 0; i < N; i++)
        lazy_ok &= d[i] < 2 * q && d[i] % q == c[i];
    CHECK(lazy_ok);
    /* inverse undoes forward */
    henn__ckks_ntt_inverse(c, &t);
    CHECK(memcmp(c, a, N * sizeof(uint64_t)) == 0);
    /* lazy inverse: [0, 2q) in and out */
    henn__ckks_ntt_inverse_lazy(d, &t);
    lazy_ok = 1;
    for (size_t i = 0; i < N; i++)
        lazy_ok &= d[i] < 2 * q && d[i] % q == a[i];
    CHECK(lazy_ok);
    /* all q - 1 (largest inputs) round trip */
    for (size_t i = 0; i < N; i++)
        d[i] = q - 1;
    henn__ckks_ntt_forward(d, &t);
    henn__ckks_ntt_inverse(d, &t);
    int all = 1;
    for (size_t i = 0; i < N; i++)
        all &= d[i] == q - 1;
    CHECK(all);

    /* negacyclic product */
    ntt_mul(c, a, b, e, &t, &m);
    if (dense_schoolbook) {
        int same = 1;
        for (size_t k = 0; k < N; k++)
            same &= c[k] == negacyclic_coeff(a, b, N, k, &m);
        CHECK(same);
    } else {
        size_t kk[4] = {0, N - 1, (size_t)rnd_below(N), (size_t)rnd_below(N)};
        for (size_t j = 0; j < 4; j++)
            CHECK_EQ_U64(c[kk[j]], negacyclic_coeff(a, b, N, kk[j], &m));
    }
    /* sparse b (8 terms, including X^(N-1)): full product in O(8 N) */
    memset(b, 0, N * sizeof(uint64_t));
    size_t pos[8];
    for (size_t j = 0; j < 8; j++) {
        pos[j] = j == 0 ? N - 1 : (size_t)rnd_below(N);
        b[pos[j]] = rnd_below(q);
    }
    memset(d, 0, N * sizeof(uint64_t));
    for (size_t j = 0; j < 8; j++) {
        size_t s = pos[j];
        if (j > 0 && b[s] == 0)
            continue;
        int dup = 0;
        for (size_t l = 0; l < j; l++)
            dup |= pos[l] == s;
        if (dup)
            continue;
        for (size_t i = 0; i < N; i++) {
            uint64_t v = henn__ckks_mul_mod(a[i], b[s], &m);
            size_t k = i + s;
            if (k < N)
                d[k] = henn__ckks_add_mod(d[k], v, q);
            else
                d[k - N] = henn__ckks_sub_mod(d[k - N], v, q);
        }
    }
    ntt_mul(c, a, b, e, &t, &m);
    CHECK(memcmp(c, d, N * sizeof(uint64_t)) == 0);
    /* X * X^(N-1) = -1 */
    memset(a, 0, N * sizeof(uint64_t));
    memset(b, 0, N * sizeof(uint64_t));
    a[1] = 1;
    b[N - 1] = 1;
    ntt_mul(c, a, b, e, &t, &m);
    CHECK_EQ_U64(c[0], q - 1);
    int rest0 = 1;
    for (size_t i = 1; i < N; i++)
        rest0 &= c[i] == 0;
    CHECK(rest0);
done:
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* Every check on the path init chose and on the scalar path, and the two
 * paths against each other (exact outputs bitwise, lazy ones mod q). */
static void check_ntt_prime(size_t N, uint64_t q, int dense_schoolbook)
{
    henn__ckks_ntt t;
    int rc = henn__ckks_ntt_init(&t, N, q);
    CHECK_OK(rc);
    if (rc != 0)
        return;
    CHECK_EQ_U64(t.N, N);
    check_ntt_table(&t, dense_schoolbook);
    if (t.path != 0) {
        henn__ckks_ntt s = t;
        s.path = 0;
        check_ntt_table(&s, dense_schoolbook);
        uint64_t *x = malloc(N * sizeof(uint64_t)), *y = malloc(N * sizeof(uint64_t));
        CHECK(x != NULL && y != NULL);
        for (int rep = 0; x != NULL && y != NULL && rep < 3; rep++) {
            /* rep 0: random in [0, q); 1: lazy range [0, 4q) / [0, 2q); 2: top */
            for (size_t i = 0; i < N; i++)
                x[i] = rep == 0 ? rnd_below(q) : rep == 1 ? rnd_below(4 * q) : 4 * q - 1;
            memcpy(y, x, N * sizeof(uint64_t));
            henn__ckks_ntt_forward_lazy(x, &t);
            henn__ckks_ntt_forward_lazy(y, &s);
            int same = 1;
            for (size_t i = 0; i < N; i++)
                same &= x[i] < 2 * q && y[i] < 2 * q && x[i] % q == y[i] % q;
            CHECK(same);
            for (size_t i = 0; i < N; i++)
                x[i] = y[i] = rep == 0 ? rnd_below(q) : rep == 1 ? rnd_below(2 * q) : 2 * q - 1;
            henn__ckks_ntt_inverse_lazy(x, &t);
            henn__ckks_ntt_inverse_lazy(y, &s);
            same = 1;
            for (size_t i = 0; i < N; i++)
                same &= x[i] < 2 * q && y[i] < 2 * q && x[i] % q == y[i] % q;
            CHECK(same);
            for (size_t i = 0; i < N; i++)
                x[i] = y[i] = rep == 2 ? q - 1 : rnd_below(q);
            henn__ckks_ntt_forward(x, &t);
            henn__ckks_ntt_forward(y, &s);
            CHECK(memcmp(x, y, N * sizeof(uint64_t)) == 0);
            henn__ckks_ntt_inverse(x, &t);
            henn__ckks_ntt_inverse(y, &s);
            CHECK(memcmp(x, y, N * sizeof(uint64_t)) == 0);
        }
        free(x);
        free(y);
    }
    henn__ckks_ntt_clear(&t);
    CHECK(t.w == NULL);
}

static void test_ntt(void)
{
    static const int sizes[] = {17, 18, 19, 20, 21, 25, 30, 36, 40, 45,
                               49, 50, 51, 52, 55, 59, 60};
    for (size_t logN = HENN_CKKS_MIN_LOGN; logN <= HENN_CKKS_MAX_LOGN; logN++) {
        size_t N = (size_t)1 << logN;
        size_t tested = 0;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            uint64_t q = prime_below(sizes[s], N);
            if (q == 0)
                continue; /* no prime of this size = 1 mod 2N */
            /* full schoolbook only for N = 4096 and a few sizes (O(N^2)) */
            int dense = logN == 12 && (sizes[s] == 17 || sizes[s] == 40 || sizes[s] == 60);
            check_ntt_prime(N, q, dense);
            tested++;
        }
        CHECK(tested >= 12);
    }
    /* a 61-bit prime (the lazy ranges' limit: 4q < 2^63) */
    check_ntt_prime(4096, prime_below(61, 4096), 0);
    check_ntt_prime(8192, prime_below(61, 8192), 0);
    /* small N (not used by CKKS, but the code allows it) */
    check_ntt_prime(4, 17, 1);
    check_ntt_prime(8, 17, 1);
    check_ntt_prime(16, 97, 1);
    check_ntt_prime(64, 7681, 1);

    /* SEAL's primes: the tables built by params_init agree */
    henn_ckks_params p;
    static const int a_bits[] = {60, 40, 40, 60};
    CHECK_OK(henn_ckks_params_init(&p, 8192, a_bits, 4, 0));
    for (size_t i = 0; i < 4; i++) {
        const henn__ckks_ntt *t = &p.tables->ntt[i];
        CHECK_EQ_U64(t->q, p.q[i]);
        CHECK_EQ_U64(t->w[0], 1);
        CHECK_EQ_U64(t->w[1], henn__ckks_pow_mod(t->psi, 4096, &p.tables->mod[i]));
        CHECK_EQ_U64(henn__ckks_mul_mod(t->n_inv, 8192, &p.tables->mod[i]), 1);
    }
    henn_ckks_params_clear(&p);

    /* init refuses bad moduli */
    henn__ckks_ntt t;
    CHECK_RC(henn__ckks_ntt_init(&t, 4096, 65537 + 2), HENN_EINVAL); /* not 1 mod 2N */
    CHECK_RC(henn__ckks_ntt_init(&t, 4096, 8192 * 3 + 1), HENN_EINVAL); /* 7 * 3511 */
    CHECK_RC(henn__ckks_ntt_init(&t, 4096, (uint64_t)1 << 61), HENN_EINVAL);
    CHECK_RC(henn__ckks_ntt_init(&t, 3000, 12289), HENN_EINVAL);
    CHECK(t.w == NULL);
    henn__ckks_ntt_clear(&t);
}

int main(void)
{
    rng_state = test_seed();
    test_modarith();
    test_is_prime();
    test_primes_kat();
    test_security_and_errors();
    test_ntt();
    return test_report("test_ckks_ntt");
}
