/*
 * Regression tests for the hardening of the Paillier primitives (issue 7):
 * the key holder's character attack on re-randomised results, the Jacobi
 * symbol distinguisher, decryption of ciphertexts sharing a factor with n,
 * the constant-time CRT glue against GMP, secrets left on the stack by
 * decryption, and the structural checks of public moduli.
 *
 * The key holder here is the curious (or cheating) party: it picks its own
 * primes p = q = 1 mod 4, so that -1 is a square mod p and the DJN noise
 * h_s^a = (-x^2)^(n a) has Legendre symbol +1 mod p whatever a is.
 */
#include "../test.h"
#include "test_primes.h"

#include "henn/henn.h"
#include "paillier/paillier_internal.h"

static gmp_randstate_t RS;

/* Number of trials of each statistical test and the accepted distance
 * from T/2: 5 standard deviations (sqrt(T)/2 = 8), so an honest result
 * fails with probability below 10^-6. */
#define T 256
#define SLACK 40

/* The cheating key holder's key: n = p q with p = q = 1 mod 4. */
static void cheating_key(henn_paillier_sk *sk, size_t n_bits)
{
    mpz_t p, q;
    mpz_inits(p, q, NULL);
    test_prime_1mod4(p, n_bits / 2, RS);
    do
        test_prime_1mod4(q, n_bits / 2, RS);
    while (mpz_cmp(p, q) == 0);
    CHECK_OK(henn_paillier_sk_from_primes(sk, p, q, 0));
    mpz_clears(p, q, NULL);
}

/* Legendre symbol of a ciphertext's randomness mod p: c = (1 + m n) s^n,
 * so c = s^n mod p and (c | p) = (s | p)^n = (s | p). */
static int legendre_p(const henn_paillier_sk *sk, const mpz_t c)
{
    mpz_t t;
    int l;
    mpz_init(t);
    mpz_mod(t, c, sk->p);
    l = mpz_legendre(t, sk->p);
    mpz_clear(t);
    return l;
}

/* c = E(m) with randomness s chosen so that (s | p) = want. */
static void encrypt_with_character(henn_paillier_ct *c, const henn_paillier_sk *sk, long m,
                                   int want)
{
    henn_paillier_pt pt;
    mpz_t s;
    henn_paillier_pt_init(&pt);
    mpz_init(s);
    do
        mpz_urandomm(s, RS, sk->pk.n);
    while (mpz_sgn(s) == 0 || mpz_legendre(s, sk->p) != want);
    CHECK_OK(henn_paillier_encode_int64(&pt, &sk->pk, m, 0));
    CHECK_OK(henn_paillier_encrypt_with_r(c, &sk->pk, &pt, s));
    CHECK_EQ_INT(legendre_p(sk, c->c), want);
    mpz_clear(s);
    henn_paillier_pt_clear(&pt);
}

/*
 * The evaluator's computation: r = a^k * E(mask) with a secret k and a
 * uniform mask, then re-randomised. mode 0: henn_paillier_rerandomize;
 * 1: henn_paillier_rerandomize_batch; 2: the DJN noise of earlier
 * versions (control: shows that the attack below is real).
 */
static void evaluate(henn_paillier_ct *r, const henn_paillier_pk *pk, const henn_paillier_ct *a,
                     uint32_t k, int mode)
{
    henn_paillier_ct t, mask;
    henn_paillier_pt pm;
    mpz_t u, noise;
    henn_batch_opts opts = {0};
    henn_paillier_ct_init(&t);
    henn_paillier_ct_init(&mask);
    henn_paillier_pt_init(&pm);
    mpz_inits(u, noise, NULL);
    CHECK_OK(henn_paillier_mul_int64(&t, pk, a, (int64_t)k));
    mpz_urandomm(u, RS, pk->max_int);
    CHECK_OK(henn_paillier_encode_mpz(&pm, pk, u));
    CHECK_OK(henn_paillier_encrypt(&mask, pk, &pm));
    CHECK_OK(henn_paillier_add(&t, pk, &t, &mask));
    if (mode == 0) {
        CHECK_OK(henn_paillier_rerandomize(r, pk, &t));
    } else if (mode == 1) {
        opts.threads = 1;
        CHECK_OK(henn_paillier_rerandomize_batch(r, pk, &t, 1, &opts));
    } else {
        CHECK_OK(henn__paillier_djn_noise(noise, pk));
        CHECK_OK(henn_paillier_ct_copy(r, &t));
        mpz_mul(r->c, t.c, noise);
        mpz_mod(r->c, r->c, pk->n2);
    }
    mpz_clears(u, noise, NULL);
    henn_paillier_pt_clear(&pm);
    henn_paillier_ct_clear(&mask);
    henn_paillier_ct_clear(&t);
}

/* The key holder sends a with (s | p) = -1 and reads the parity of the
 * evaluator's scalar k from (r | p) = (-1)^k (noise | p). */
static int character_attack(const henn_paillier_sk *sk, int mode)
{
    henn_paillier_ct a, r;
    int trial, correct = 0;
    henn_paillier_ct_init(&a);
    henn_paillier_ct_init(&r);
    encrypt_with_character(&a, sk, 3, -1);
    for (trial = 0; trial < T; trial++) {
        uint32_t k = (uint32_t)gmp_urandomb_ui(RS, 32);
        int guess;
        evaluate(&r, &sk->pk, &a, k, mode);
        guess = legendre_p(sk, r.c) == -1; /* odd k */
        correct += guess == (int)(k & 1);
    }
    henn_paillier_ct_clear(&a);
    henn_paillier_ct_clear(&r);
    return correct;
}

static void test_character_attack(const henn_paillier_sk *sk)
{
    int control = character_attack(sk, 2), single = character_attack(sk, 0),
        batch = character_attack(sk, 1);
    printf("character attack, parity of k right: DJN noise %d/%d, rerandomize %d/%d, "
           "batch %d/%d\n",
           control, T, single, T, batch, T);
    CHECK_EQ_INT(control, T); /* the attack works on the old noise */
    CHECK(single >= T / 2 - SLACK && single <= T / 2 + SLACK);
    CHECK(batch >= T / 2 - SLACK && batch <= T / 2 + SLACK);
}

/* Jacobi symbol of c mod n: an outsider's distinguisher. With (-1 | n) =
 * +1, DJN noise has Jacobi symbol +1, so a re-randomised ciphertext kept
 * the symbol of its input, while a fresh encryption's is uniform. */
static int jacobi_n(const henn_paillier_pk *pk, const mpz_t c)
{
    mpz_t t;
    int j;
    mpz_init(t);
    mpz_mod(t, c, pk->n);
    j = mpz_jacobi(t, pk->n);
    mpz_clear(t);
    return j;
}

static void test_jacobi_distinguisher(const henn_paillier_sk *sk)
{
    henn_paillier_ct a, r;
    mpz_t noise, m1;
    int trial, kept = 0, kept_djn = 0;
    henn_paillier_ct_init(&a);
    henn_paillier_ct_init(&r);
    mpz_inits(noise, m1, NULL);
    mpz_sub_ui(m1, sk->pk.n, 1);
    CHECK_EQ_INT(mpz_jacobi(m1, sk->pk.n), 1); /* (-1 | n) = +1 for this key */
    /* an input whose Jacobi symbol mod n is -1: (s | p) = -1, (s | q) = +1
     * is not forced, so draw until the symbol is -1 */
    do
        encrypt_with_character(&a, sk, 5, -1);
    while (jacobi_n(&sk->pk, a.c) != -1);
    for (trial = 0; trial < T; trial++) {
        CHECK_OK(henn_paillier_rerandomize(&r, &sk->pk, &a));
        kept += jacobi_n(&sk->pk, r.c) == -1;
        CHECK_OK(henn__paillier_djn_noise(noise, &sk->pk));
        mpz_mul(noise, noise, a.c);
        mpz_mod(noise, noise, sk->pk.n2);
        kept_djn += jacobi_n(&sk->pk, noise) == -1;
    }
    printf("Jacobi distinguisher: symbol kept %d/%d (DJN noise %d/%d)\n", kept, T, kept_djn, T);
    CHECK_EQ_INT(kept_djn, T);
    CHECK(kept >= T / 2 - SLACK && kept <= T / 2 + SLACK);
    mpz_clears(noise, m1, NULL);
    henn_paillier_ct_clear(&a);
    henn_paillier_ct_clear(&r);
}

/* Noise is uniform over the n-th residues: decrypting c * noise gives the
 * plaintext back, the noise is an n-th residue (noise^(lambda) = 1 mod n^2
 * since its order divides lambda), and outputs differ. */
static void test_noise(const henn_paillier_sk *sk)
{
    mpz_t out[9], e;
    size_t i;
    for (i = 0; i < 9; i++)
        mpz_init(out[i]);
    mpz_init(e);
    CHECK_OK(henn__paillier_noise(out, 9, &sk->pk));
    for (i = 0; i < 9; i++) {
        mpz_powm(e, out[i], sk->lambda, sk->pk.n2);
        CHECK(mpz_cmp_ui(e, 1) == 0);
        CHECK(mpz_cmp(out[i], out[(i + 1) % 9]) != 0);
        CHECK(mpz_sgn(out[i]) > 0 && mpz_cmp(out[i], sk->pk.n2) < 0);
    }
    for (i = 0; i < 9; i++)
        mpz_clear(out[i]);
    mpz_clear(e);
}

/* Ciphertexts that share a factor with n are refused, not decrypted to
 * garbage (c = p, c = k p for k < n, c = q^2 u). */
static void test_decrypt_non_units(const henn_paillier_sk *sk)
{
    henn_paillier_ct c;
    henn_paillier_pt pt;
    henn_batch_opts opts = {0};
    mpz_t k;
    int i;
    henn_paillier_ct_init(&c);
    henn_paillier_pt_init(&pt);
    mpz_init(k);
    memcpy(c.kid, sk->pk.kid, sizeof(c.kid));
    for (i = 0; i < 6; i++) {
        mpz_urandomm(k, RS, sk->pk.n);
        mpz_add_ui(k, k, 1);
        if (i == 0)
            mpz_set(c.c, sk->p);
        else if (i < 3)
            mpz_mul(c.c, sk->p, k);
        else if (i < 5)
            mpz_mul(c.c, sk->q2, k);
        else
            mpz_mul(c.c, sk->q, k);
        mpz_mod(c.c, c.c, sk->pk.n2);
        if (mpz_sgn(c.c) == 0)
            mpz_set(c.c, sk->q);
        CHECK_RC(henn_paillier_decrypt(&pt, sk, &c), HENN_ERANGE);
        CHECK_RC(henn_paillier_decrypt_lambda(&pt, sk, &c), HENN_ERANGE);
        opts.threads = 1;
        CHECK_RC(henn_paillier_decrypt_batch(&pt, sk, &c, 1, &opts), HENN_ERANGE);
        CHECK_RC(henn_paillier_ct_validate(&sk->pk, &c), HENN_ERANGE);
    }
    mpz_clear(k);
    henn_paillier_pt_clear(&pt);
    henn_paillier_ct_clear(&c);
}

/* The mpn_sec_* glue against plain GMP arithmetic on random and edge
 * inputs. */
static void test_sec_glue(const henn_paillier_sk *sk)
{
    mpz_t a, b, r, want, x;
    int i;
    mpz_inits(a, b, r, want, x, NULL);
    for (i = 0; i < 200; i++) {
        /* sec_mod */
        mpz_urandomm(a, RS, sk->pk.n2);
        if (i == 0)
            mpz_set_ui(a, 0);
        if (i == 1)
            mpz_sub_ui(a, sk->pk.n2, 1);
        CHECK_OK(henn__sec_mod(r, a, mpz_size(sk->pk.n2), sk->p2));
        mpz_mod(want, a, sk->p2);
        CHECK_EQ_MPZ(r, want);
        /* crt_half on x = c^(p-1) mod p^2 */
        mpz_add_ui(a, a, i < 2 ? 2 : 0);
        mpz_powm(x, a, sk->pm1, sk->p2);
        if (mpz_divisible_p(a, sk->p))
            continue;
        CHECK_OK(henn__sec_crt_half(r, x, sk->p, sk->hp));
        mpz_sub_ui(want, x, 1);
        mpz_divexact(want, want, sk->p);
        mpz_mul(want, want, sk->hp);
        mpz_mod(want, want, sk->p);
        CHECK_EQ_MPZ(r, want);
        /* crt_combine with a < p, b < q, edge values included */
        mpz_urandomm(a, RS, sk->p);
        mpz_urandomm(b, RS, sk->q);
        if (i == 2)
            mpz_set_ui(a, 0), mpz_sub_ui(b, sk->q, 1);
        if (i == 3)
            mpz_sub_ui(a, sk->p, 1), mpz_set_ui(b, 0);
        CHECK_OK(henn__sec_crt_combine(r, a, b, sk->p, sk->q, sk->p_inv_q));
        CHECK(mpz_cmp(r, sk->pk.n) < 0);
        mpz_mod(want, r, sk->p);
        CHECK_EQ_MPZ(want, a);
        mpz_mod(want, r, sk->q);
        CHECK_EQ_MPZ(want, b);
    }
    /* sizes outside the bounds are refused */
    mpz_set(a, sk->q);
    CHECK_RC(henn__sec_crt_combine(r, a, b, sk->q2, sk->p, sk->p_inv_q), HENN_EINVAL);
    CHECK_RC(henn__sec_mod(r, sk->pk.n2, 1, sk->p), HENN_EINVAL);
    mpz_clears(a, b, r, want, x, NULL);
}

/* ---- secrets left on the stack ---- */

#define SCAN_WORDS 4096 /* 32 KiB, the depth henn__burn_stack clears */

__attribute__((noinline)) static int decrypt_call(henn_paillier_pt *pt,
                                                  const henn_paillier_sk *sk,
                                                  const henn_paillier_ct *c)
{
    return henn_paillier_decrypt(pt, sk, c);
}

/* Count the stack words below this frame that match one of the needles
 * (the memory is read as it was left by the previous call at this depth):
 * 64-bit needles exactly; 52-bit limbs (tagged by bit 63) also when the
 * word is the limb before its carry-in (the IFMA product's unnormalised
 * accumulator lanes hold limb - carry mod 2^52 with carry < 2^14). */
#define LIMB52 (UINT64_C(1) << 63)
static int matches(uint64_t w, uint64_t needle)
{
    const uint64_t mask = (UINT64_C(1) << 52) - 1;
    if (!(needle & LIMB52))
        return w == needle;
    return ((needle - w) & mask) < (UINT64_C(1) << 14);
}

__attribute__((noinline)) static size_t scan_stack(const uint64_t *needle, size_t count)
{
    uint64_t buf[SCAN_WORDS];
    const volatile uint64_t *view = buf;
    size_t i, j, hits = 0;
    /* the compiler must not assume anything about buf's contents */
    __asm__ __volatile__("" : "+r"(view) : : "memory");
    for (i = 0; i < SCAN_WORDS; i++) {
        uint64_t w = view[i];
        for (j = 0; j < count; j++)
            hits += w != 0 && matches(w, needle[j]);
    }
    return hits;
}

/* limbs of x in 64-bit words and in 52-bit limbs, nonzero ones only */
static size_t add_needles(uint64_t *out, size_t at, size_t cap, const mpz_t x)
{
    uint64_t w[128];
    size_t count = 0, i, bits = mpz_sizeinbase(x, 2);
    memset(w, 0, sizeof(w));
    mpz_export(w, &count, -1, 8, 0, 0, x);
    for (i = 0; i < count && at < cap; i++)
        if (w[i] > 0xFFFFFFFFu)
            out[at++] = w[i];
    for (i = 0; i * 52 + 52 <= bits && at < cap; i++) {
        size_t bit = i * 52, k = bit / 64, off = bit % 64;
        uint64_t v = w[k] >> off;
        if (off > 12)
            v |= w[k + 1] << (64 - off);
        v &= (UINT64_C(1) << 52) - 1;
        if (v > 0xFFFFFFFFu)
            out[at++] = v | LIMB52;
    }
    return at;
}

static void test_stack_residue(const henn_paillier_sk *sk)
{
    henn_paillier_ct c;
    henn_paillier_pt pt;
    uint64_t needle[1024];
    size_t count = 0, hits;
    mpz_t xq, xp;
    henn_paillier_ct_init(&c);
    henn_paillier_pt_init(&pt);
    mpz_inits(xq, xp, NULL);
    CHECK_OK(henn_paillier_encode_int64(&pt, &sk->pk, 123456789, 0));
    CHECK_OK(henn_paillier_encrypt(&c, &sk->pk, &pt));
    /* the values a key-recovering scan looks for: c^(q-1) mod q^2 (gcd of
     * it minus 1 with n gives q), likewise for p, and p and q themselves */
    mpz_powm(xq, c.c, sk->qm1, sk->q2);
    mpz_powm(xp, c.c, sk->pm1, sk->p2);
    count = add_needles(needle, count, 1024, xq);
    count = add_needles(needle, count, 1024, xp);
    count = add_needles(needle, count, 1024, sk->p);
    count = add_needles(needle, count, 1024, sk->q);
    CHECK_OK(decrypt_call(&pt, sk, &c));
    hits = scan_stack(needle, count);
    printf("stack scan after decryption: %zu of %zu secret words found\n", hits, count);
    CHECK_EQ_INT(hits, 0);
    mpz_clears(xq, xp, NULL);
    henn_paillier_pt_clear(&pt);
    henn_paillier_ct_clear(&c);
}

/* The same after a batch decryption on the calling thread (8 lanes,
 * pairs modulo p and q, whose kernel frames reach about 52 KiB): a scan
 * 128 KiB deep for c^(p-1) mod p^2, c^(q-1) mod q^2, their L values
 * (x - 1) / p, (x - 1) / q, and p and q. */
#define DEEP_WORDS 16384

__attribute__((noinline)) static int decrypt_batch_call(henn_paillier_pt *pt,
                                                        const henn_paillier_sk *sk,
                                                        const henn_paillier_ct *c, size_t count)
{
    henn_batch_opts o1 = {1, NULL, NULL};
    return henn_paillier_decrypt_batch(pt, sk, c, count, &o1);
}

/* Clear the stack 160 KiB deep: what the test's own GMP calls (computing
 * the needles) left there is not the library's. */
__attribute__((noinline)) static void clear_stack_deep(void)
{
    volatile uint64_t buf[DEEP_WORDS + 4096];
    size_t i;
    for (i = 0; i < DEEP_WORDS + 4096; i++)
        buf[i] = 0;
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

__attribute__((noinline)) static size_t scan_stack_deep(const uint64_t *needle, size_t count)
{
    uint64_t buf[DEEP_WORDS];
    const volatile uint64_t *view = buf;
    size_t i, j, hits = 0;
    __asm__ __volatile__("" : "+r"(view) : : "memory");
    for (i = 0; i < DEEP_WORDS; i++) {
        uint64_t w = view[i];
        for (j = 0; j < count; j++)
            hits += w != 0 && matches(w, needle[j]);
    }
    return hits;
}

static void test_stack_residue_batch(const henn_paillier_sk *sk)
{
    enum { B = 8 };
    henn_paillier_ct c[B];
    henn_paillier_pt pt[B];
    uint64_t *needle = malloc(8192 * sizeof(uint64_t));
    size_t count = 0, hits, i;
    mpz_t x, l;
    mpz_inits(x, l, NULL);
    for (i = 0; i < B; i++) {
        henn_paillier_ct_init(&c[i]);
        henn_paillier_pt_init(&pt[i]);
        CHECK_OK(henn_paillier_encode_int64(&pt[i], &sk->pk, 1000 + (int64_t)i, 0));
        CHECK_OK(henn_paillier_encrypt(&c[i], &sk->pk, &pt[i]));
        mpz_powm(x, c[i].c, sk->pm1, sk->p2);
        count = add_needles(needle, count, 8192, x);
        mpz_sub_ui(l, x, 1);
        mpz_divexact(l, l, sk->p);
        count = add_needles(needle, count, 8192, l);
        mpz_powm(x, c[i].c, sk->qm1, sk->q2);
        count = add_needles(needle, count, 8192, x);
        mpz_sub_ui(l, x, 1);
        mpz_divexact(l, l, sk->q);
        count = add_needles(needle, count, 8192, l);
    }
    count = add_needles(needle, count, 8192, sk->p);
    count = add_needles(needle, count, 8192, sk->q);
    clear_stack_deep();
    CHECK_OK(decrypt_batch_call(pt, sk, c, B));
    hits = scan_stack_deep(needle, count);
    printf("stack scan after batch decryption: %zu of %zu secret words found\n", hits, count);
    CHECK_EQ_INT(hits, 0);
    for (i = 0; i < B; i++) {
        CHECK(mpz_cmp_ui(pt[i].encoding, 1000 + (unsigned long)i) == 0);
        henn_paillier_pt_clear(&pt[i]);
        henn_paillier_ct_clear(&c[i]);
    }
    mpz_clears(x, l, NULL);
    free(needle);
}

/* The pair ladder itself (henn__mbsq_powm_sec, root of 1,024 bits, 8
 * lanes, root p): after it returns, no stack word 128 KiB deep holds the first
 * half of the pair of the last square, b^(e - d) R mod m (d the last
 * 5-bit digit of e), where the deepest kernel frames (about 52 KiB) put
 * it. */
__attribute__((noinline)) static int mbsq_call(mpz_t *r, const mpz_t *b, const mpz_t e,
                                               const mpz_t m)
{
    return henn__mbsq_powm_sec(r, b, 8, e, 1024, m);
}

static void test_stack_residue_pairs(const henn_paillier_sk *sk)
{
    mpz_t m, m2, e, x, rr, b[8], r[8];
    uint64_t needle[512];
    size_t count = 0, hits, l, L = (1024 + 4 + 51) / 52;
    if (!henn__mbsq_usable(sk->p) || mpz_sizeinbase(sk->p, 2) != 1024) {
        printf("no pair engine here: the pair stack scan is skipped\n");
        return;
    }
    mpz_inits(m, m2, e, x, rr, NULL);
    mpz_set(m, sk->p);
    mpz_mul(m2, m, m);
    mpz_urandomb(e, RS, 1024);
    mpz_setbit(e, 1023);
    mpz_set_ui(rr, 1);
    mpz_mul_2exp(rr, rr, (mp_bitcnt_t)(52 * L));
    for (l = 0; l < 8; l++) {
        mpz_inits(b[l], r[l], NULL);
        mpz_urandomm(b[l], RS, m2);
        mpz_tdiv_q_2exp(x, e, 5); /* e - d = (e >> 5) << 5 */
        mpz_mul_2exp(x, x, 5);
        mpz_powm(x, b[l], x, m2);
        mpz_mul(x, x, rr);
        mpz_mod(x, x, m);
        count = add_needles(needle, count, 512, x);
        mpz_add(x, x, m); /* the half may be left in [m, 2m) */
        count = add_needles(needle, count, 512, x);
    }
    clear_stack_deep();
    CHECK_OK(mbsq_call(r, (const mpz_t *)b, e, m));
    hits = scan_stack_deep(needle, count);
    printf("stack scan after the pair ladder: %zu of %zu words found\n", hits, count);
    CHECK_EQ_INT(hits, 0);
    for (l = 0; l < 8; l++) {
        mpz_powm(x, b[l], e, m2);
        CHECK_EQ_MPZ(r[l], x);
        mpz_clears(b[l], r[l], NULL);
    }
    mpz_clears(m, m2, e, x, rr, NULL);
}

/* The key holder's DJN noise through the CRT (henn__paillier_fbcrt_pow8,
 * 8 lanes): after it returns, no stack word 128 KiB deep holds h_s^a mod
 * p^2 or mod q^2 (with the ciphertext, gcd gives p or q), the halves of
 * their pairs (x R mod m^2 = A + B m, each half possibly left in
 * [m, 2m)), or p and q. */
__attribute__((noinline)) static int fbcrt_call(mpz_t *r, const struct henn__paillier_fbcrt *t,
                                                const henn_paillier_sk *sk, const mpz_t *a)
{
    return henn__paillier_fbcrt_pow8(r, t, sk, a, 8);
}

static void test_stack_residue_fbcrt(const henn_paillier_sk *sk)
{
    struct henn__paillier_fbcrt *t = NULL;
    mpz_t a[8], r[8], x, A, B, rr;
    uint64_t *needle = malloc(8192 * sizeof(uint64_t));
    size_t count = 0, hits, l, k;
    if (!henn__mbsq_usable(sk->p) || !henn__mbsq_usable(sk->q)) {
        printf("no pair engine here: the CRT table stack scan is skipped\n");
        free(needle);
        return;
    }
    mpz_inits(x, A, B, rr, NULL);
    CHECK_OK(henn__paillier_fbcrt_build(&t, sk, 8));
    for (l = 0; l < 8; l++) {
        mpz_inits(a[l], r[l], NULL);
        mpz_urandomb(a[l], RS, (mp_bitcnt_t)sk->pk.a_bits);
        for (k = 0; k < 2; k++) {
            mpz_srcptr m = k == 0 ? sk->p : sk->q, m2 = k == 0 ? sk->p2 : sk->q2;
            size_t L = (mpz_sizeinbase(m, 2) + 4 + 51) / 52;
            mpz_powm(x, sk->pk.hs, a[l], m2);
            count = add_needles(needle, count, 8192, x);
            mpz_set_ui(rr, 1);
            mpz_mul_2exp(rr, rr, (mp_bitcnt_t)(52 * L));
            mpz_mul(rr, rr, x);
            mpz_mod(rr, rr, m2);
            mpz_tdiv_qr(B, A, rr, m);
            count = add_needles(needle, count, 8192, A);
            count = add_needles(needle, count, 8192, B);
            mpz_add(A, A, m);
            mpz_add(B, B, m);
            count = add_needles(needle, count, 8192, A);
            count = add_needles(needle, count, 8192, B);
        }
    }
    count = add_needles(needle, count, 8192, sk->p);
    count = add_needles(needle, count, 8192, sk->q);
    clear_stack_deep();
    CHECK_OK(fbcrt_call(r, t, sk, (const mpz_t *)a));
    hits = scan_stack_deep(needle, count);
    printf("stack scan after the CRT fixed-base noise: %zu of %zu words found\n", hits, count);
    CHECK_EQ_INT(hits, 0);
    for (l = 0; l < 8; l++) {
        mpz_powm(x, sk->pk.hs, a[l], sk->pk.n2);
        CHECK_EQ_MPZ(r[l], x);
        mpz_clears(a[l], r[l], NULL);
    }
    henn__paillier_fbcrt_free(t);
    mpz_clears(x, A, B, rr, NULL);
    free(needle);
}

/* ---- public-key checks ---- */

static void test_modulus_checks(const henn_paillier_sk *sk)
{
    henn_paillier_pk pk;
    mpz_t n, t;
    henn_paillier_pk_init(&pk);
    mpz_inits(n, t, NULL);
    CHECK_OK(henn_paillier_pk_from_n(&pk, sk->pk.n, 0));
    henn_paillier_pk_clear(&pk);
    henn_paillier_pk_init(&pk);
    /* a prime n */
    mpz_urandomb(n, RS, 2048);
    mpz_setbit(n, 2047);
    mpz_nextprime(n, n);
    if (mpz_sizeinbase(n, 2) == 2048)
        CHECK_RC(henn_paillier_pk_from_n(&pk, n, 0), HENN_EKEY);
    /* perfect powers: p^2, and (p q)^2 / 2^k-sized variants */
    mpz_mul(n, sk->p, sk->p);
    mpz_mul(t, sk->q, sk->q);
    CHECK_RC(henn_paillier_pk_from_n(&pk, n, HENN_PAILLIER_INSECURE), HENN_EKEY);
    mpz_mul(n, n, t); /* (p q)^2: 4096 bits */
    CHECK_RC(henn_paillier_pk_from_n(&pk, n, 0), HENN_EKEY);
    mpz_pow_ui(n, sk->p, 3);
    CHECK_RC(henn_paillier_pk_from_n(&pk, n, 0), HENN_EKEY);
    /* small factors: 3 q', 65521 q' of 2048 bits */
    mpz_urandomb(t, RS, 2047);
    mpz_setbit(t, 2046);
    mpz_nextprime(t, t);
    mpz_mul_ui(n, t, 3);
    CHECK_RC(henn_paillier_pk_from_n(&pk, n, 0), HENN_EKEY);
    mpz_urandomb(t, RS, 2032);
    mpz_setbit(t, 2031);
    mpz_nextprime(t, t);
    mpz_mul_ui(n, t, 65521);
    CHECK_RC(henn_paillier_pk_from_n(&pk, n, 0), HENN_EKEY);
    /* the textbook key still loads under HENN_PAILLIER_INSECURE */
    mpz_set_ui(n, 77);
    CHECK_OK(henn_paillier_pk_from_n(&pk, n, HENN_PAILLIER_INSECURE));
    henn_paillier_pk_clear(&pk);
    mpz_clears(n, t, NULL);
}

int main(void)
{
    henn_paillier_sk sk;
    unsigned long seed = test_seed();
    if (henn_init() != 0)
        return 1;
    gmp_randinit_default(RS);
    gmp_randseed_ui(RS, seed);
    henn_paillier_sk_init(&sk);
    cheating_key(&sk, 2048);
    test_decrypt_non_units(&sk);
    test_sec_glue(&sk);
    test_noise(&sk);
    test_stack_residue(&sk);
    test_stack_residue_batch(&sk);
    test_stack_residue_pairs(&sk);
    test_stack_residue_fbcrt(&sk);
    test_modulus_checks(&sk);
    test_jacobi_distinguisher(&sk);
    test_character_attack(&sk);
    henn_paillier_sk_clear(&sk);
    gmp_randclear(RS);
    return test_report("test_hardening");
}
