/*
 * Paillier module tests: known answers (a textbook example worked by hand
 * and 2048-bit vectors from tests/vectors/gen_paillier_kat.py, which uses
 * only Python's integers), homomorphic identities on seeded random inputs,
 * differential tests between paths, python-paillier encoding rules,
 * packing, batch API, serialisation and negative tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "../test.h"
#include "henn/henn.h"
#include "paillier/paillier_internal.h"

#ifndef KAT_FILE
#error "KAT_FILE must name tests/vectors/paillier_kat.txt"
#endif

/* ------------------------------------------------------------ KAT file -- */

#define MAX_KAT 512
static char *kat_key[MAX_KAT], *kat_val[MAX_KAT];
static int kat_n;

static void kat_load(void)
{
    FILE *f = fopen(KAT_FILE, "r");
    char line[4096];
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", KAT_FILE);
        exit(1);
    }
    while (fgets(line, sizeof(line), f) != NULL && kat_n < MAX_KAT) {
        char *eq = strstr(line, " = ");
        size_t l = strlen(line);
        if (eq == NULL)
            continue;
        if (l > 0 && line[l - 1] == '\n')
            line[l - 1] = '\0';
        *eq = '\0';
        kat_key[kat_n] = strdup(line);
        kat_val[kat_n] = strdup(eq + 3);
        kat_n++;
    }
    fclose(f);
}

static const char *kat(const char *fmt, int i)
{
    char name[64];
    snprintf(name, sizeof(name), fmt, i);
    for (int k = 0; k < kat_n; k++)
        if (strcmp(kat_key[k], name) == 0)
            return kat_val[k];
    return NULL;
}

static int kat_mpz(mpz_t x, const char *fmt, int i)
{
    const char *v = kat(fmt, i);
    return v != NULL && mpz_set_str(x, v, 10) == 0;
}

/* ------------------------------------------------------------- fixture -- */

static henn_paillier_sk key;      /* the 2048-bit KAT key */
static henn_paillier_sk other;    /* a second key */
static gmp_randstate_t rs;

static int64_t rand_i64(int bits)
{
    mpz_t x;
    int64_t v;
    mpz_init(x);
    mpz_urandomb(x, rs, (mp_bitcnt_t)bits);
    v = (int64_t)mpz_get_ui(x);
    mpz_clear(x);
    if (gmp_urandomb_ui(rs, 1))
        v = -v;
    return v;
}

static double rand_double(void)
{
    /* random sign, mantissa and a moderate binary exponent */
    double m = (double)gmp_urandomb_ui(rs, 30) / 1073741824.0 + 0.5;
    int e = (int)gmp_urandomm_ui(rs, 80) - 40;
    return (gmp_urandomb_ui(rs, 1) ? -1 : 1) * ldexp(m, e);
}

/* --------------------------------------------------------------- tests -- */

/*
 * Textbook example by hand: p = 7, q = 11, n = 77, n^2 = 5929, g = 78.
 * lambda = lcm(6, 10) = 30; mu = 30^-1 mod 77 = 18 (30 * 18 = 540 = 7*77 + 1).
 * m = 42, r = 23: g^m = 1 + 42*77 = 3235; r^n = 23^77 mod 5929 = 606;
 * c = 3235 * 606 mod 5929 = 3840.
 * Decrypt: L(3840^30 mod 5929) * 18 mod 77 = 42.
 */
static void test_kat_toy(void)
{
    henn_paillier_sk sk;
    henn_paillier_pt pt, out;
    henn_paillier_ct ct;
    mpz_t p, q, r, c;
    mpz_inits(p, q, r, c, NULL);
    henn_paillier_sk_init(&sk);
    henn_paillier_pt_init(&pt);
    henn_paillier_pt_init(&out);
    henn_paillier_ct_init(&ct);
    mpz_set_ui(p, 7);
    mpz_set_ui(q, 11);
    CHECK_RC(henn_paillier_sk_from_primes(&sk, p, q, 0), HENN_EPARAM);
    CHECK_OK(henn_paillier_sk_from_primes(&sk, p, q, HENN_PAILLIER_INSECURE));
    CHECK(mpz_cmp_ui(sk.pk.n, 77) == 0);
    CHECK(mpz_cmp_ui(sk.lambda, 30) == 0);
    CHECK(mpz_cmp_ui(sk.mu, 18) == 0);
    mpz_set_ui(pt.encoding, 42);
    mpz_set_ui(r, 23);
    CHECK_OK(henn_paillier_encrypt_with_r(&ct, &sk.pk, &pt, r));
    CHECK(mpz_cmp_ui(ct.c, 3840) == 0);
    CHECK(kat_mpz(c, "toy.c", 0) && mpz_cmp(c, ct.c) == 0); /* the Python generator agrees */
    CHECK_OK(henn_paillier_decrypt(&out, &sk, &ct));
    CHECK(mpz_cmp_ui(out.encoding, 42) == 0);
    CHECK_OK(henn_paillier_decrypt_lambda(&out, &sk, &ct));
    CHECK(mpz_cmp_ui(out.encoding, 42) == 0);
    mpz_set_ui(r, 22); /* gcd(22, 77) = 11: not a unit */
    CHECK_RC(henn_paillier_encrypt_with_r(&ct, &sk.pk, &pt, r), HENN_EINVAL);
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&out);
    henn_paillier_pt_clear(&pt);
    henn_paillier_sk_clear(&sk);
    mpz_clears(p, q, r, c, NULL);
}

static void test_kat_2048(void)
{
    mpz_t p, q, x, a;
    henn_paillier_pt pt, out;
    henn_paillier_ct ct, ct2;
    int i;
    mpz_inits(p, q, x, a, NULL);
    henn_paillier_pt_init(&pt);
    henn_paillier_pt_init(&out);
    henn_paillier_ct_init(&ct);
    henn_paillier_ct_init(&ct2);
    CHECK(kat_mpz(p, "key.p", 0) && kat_mpz(q, "key.q", 0));
    CHECK_OK(henn_paillier_sk_from_primes(&key, q, p, 0)); /* order does not matter */
    CHECK(kat_mpz(x, "key.n", 0));
    CHECK_EQ_MPZ(key.pk.n, x);
    CHECK_EQ_INT(key.pk.n_bits, 2048);
    CHECK_EQ_MPZ(key.p, p);
    CHECK(kat_mpz(x, "key.lambda", 0));
    CHECK_EQ_MPZ(key.lambda, x);
    CHECK(kat_mpz(x, "key.mu", 0));
    CHECK_EQ_MPZ(key.mu, x);
    CHECK(kat_mpz(x, "key.hp", 0));
    CHECK_EQ_MPZ(key.hp, x);
    CHECK(kat_mpz(x, "key.hq", 0));
    CHECK_EQ_MPZ(key.hq, x);
    CHECK(kat_mpz(key.pk.hs, "key.hs", 0)); /* fixed h_s for the DJN vectors */
    for (i = 0; i < 4; i++) {
        CHECK(kat_mpz(pt.encoding, "enc%d.m", i));
        pt.exponent = 0;
        CHECK(kat_mpz(x, "enc%d.r", i));
        CHECK_OK(henn_paillier_encrypt_with_r(&ct, &key.pk, &pt, x));
        CHECK(kat_mpz(x, "enc%d.c", i));
        CHECK_EQ_MPZ(ct.c, x);
        CHECK_OK(henn_paillier_decrypt(&out, &key, &ct));
        CHECK_EQ_MPZ(out.encoding, pt.encoding);
        CHECK_OK(henn_paillier_decrypt_lambda(&out, &key, &ct));
        CHECK_EQ_MPZ(out.encoding, pt.encoding);
        CHECK(kat_mpz(a, "djn%d.a", i));
        CHECK(kat_mpz(x, "djn%d.c", i));
        CHECK_OK(henn_paillier_encrypt_djn_with_a(&ct, &key.pk, &pt, a));
        CHECK_EQ_MPZ(ct.c, x);
        CHECK_OK(henn_paillier_decrypt(&out, &key, &ct));
        CHECK_EQ_MPZ(out.encoding, pt.encoding);
    }
    /* The fixed-base table gives the same h_s^a for several window sizes. */
    for (unsigned w = 3; w <= 7; w += 4) {
        CHECK_OK(henn_paillier_pk_precompute(&key.pk, w));
        for (i = 0; i < 4; i++) {
            CHECK(kat_mpz(pt.encoding, "enc%d.m", i));
            CHECK(kat_mpz(a, "djn%d.a", i));
            CHECK(kat_mpz(x, "djn%d.c", i));
            CHECK_OK(henn_paillier_encrypt_djn_with_a(&ct2, &key.pk, &pt, a));
            CHECK_EQ_MPZ(ct2.c, x);
        }
    }
    CHECK_RC(henn_paillier_pk_precompute(&key.pk, 1), HENN_EINVAL);
    CHECK_RC(henn_paillier_pk_precompute(&key.pk, 13), HENN_EINVAL);
    henn_paillier_ct_clear(&ct2);
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&out);
    henn_paillier_pt_clear(&pt);
    mpz_clears(p, q, x, a, NULL);
}

static void test_keygen(void)
{
    henn_paillier_sk sk;
    henn_paillier_pk pk;
    mpz_t t;
    henn_paillier_sk_init(&sk);
    henn_paillier_pk_init(&pk);
    mpz_init(t);
    CHECK_RC(henn_paillier_keygen(&pk, &sk, 1024, 0), HENN_EPARAM);
    CHECK_RC(henn_paillier_keygen(&pk, &sk, 1023, HENN_PAILLIER_INSECURE), HENN_EPARAM);
    CHECK_RC(henn_paillier_keygen(&pk, &sk, 9000, 0), HENN_EPARAM);
    CHECK_OK(henn_paillier_keygen(&pk, &other, 2048, 0));
    CHECK_EQ_INT(mpz_sizeinbase(other.pk.n, 2), 2048);
    CHECK_EQ_INT(mpz_sizeinbase(other.p, 2), 1024);
    CHECK_EQ_INT(mpz_sizeinbase(other.q, 2), 1024);
    CHECK(mpz_cmp(other.p, other.q) != 0);
    mpz_mul(t, other.p, other.q);
    CHECK_EQ_MPZ(t, pk.n);
    CHECK(mpz_probab_prime_p(other.p, 30) && mpz_probab_prime_p(other.q, 30));
    CHECK(henn_paillier_pk_equal(&pk, &other.pk));
    CHECK(!henn_paillier_pk_equal(&pk, &key.pk));
    CHECK(mpz_sgn(pk.hs) > 0 && mpz_cmp(pk.hs, pk.n2) < 0);
    CHECK_OK(henn_paillier_keygen(NULL, &sk, 512, HENN_PAILLIER_INSECURE));
    CHECK_EQ_INT(mpz_sizeinbase(sk.pk.n, 2), 512);
    /* pk_from_n: an even n is not a Paillier modulus */
    mpz_set(t, key.pk.n);
    mpz_add_ui(t, t, 1);
    CHECK_RC(henn_paillier_pk_from_n(&pk, t, 0), HENN_EKEY);
    /* sk_from_primes: a composite or repeated "prime" is refused */
    mpz_add_ui(t, key.p, 2);
    while (mpz_probab_prime_p(t, 30))
        mpz_add_ui(t, t, 2);
    CHECK_RC(henn_paillier_sk_from_primes(&sk, t, key.q, 0), HENN_EKEY);
    CHECK_RC(henn_paillier_sk_from_primes(&sk, key.p, key.p, 0), HENN_EKEY);
    henn_paillier_sk_clear(&sk);
    henn_paillier_sk_clear(&sk); /* clear is idempotent */
    henn_paillier_pk_clear(&pk);
    mpz_clear(t);
}

/* Homomorphic identities on seeded random inputs. */
static void test_homomorphic(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_pt pa, pb, out;
    henn_paillier_ct ca, cb, cr;
    int i;
    henn_paillier_pt_init(&pa);
    henn_paillier_pt_init(&pb);
    henn_paillier_pt_init(&out);
    henn_paillier_ct_init(&ca);
    henn_paillier_ct_init(&cb);
    henn_paillier_ct_init(&cr);
    for (i = 0; i < 12; i++) {
        int64_t a = rand_i64(30), b = rand_i64(30), k = rand_i64(31), got = 0;
        CHECK_OK(henn_paillier_encode_int64(&pa, pk, a, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK_OK(henn_paillier_encode_int64(&pb, pk, b, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
        CHECK_OK(henn_paillier_encrypt_sk(&cb, &key, &pb));
        /* D(E(a) + E(b)) = a + b */
        CHECK_OK(henn_paillier_add(&cr, pk, &ca, &cb));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, a + b);
        /* D(E(a) - E(b)) = a - b, D(-E(a)) = -a */
        CHECK_OK(henn_paillier_sub(&cr, pk, &ca, &cb));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, a - b);
        CHECK_OK(henn_paillier_neg(&cr, pk, &ca));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, -a);
        /* D(k E(a)) = k a, k of either sign */
        CHECK_OK(henn_paillier_mul_int64(&cr, pk, &ca, k));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, k * a);
        /* E(a) + b */
        CHECK_OK(henn_paillier_add_plain(&cr, pk, &ca, &pb));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, a + b);
        /* rerandomisation: new ciphertext, same plaintext */
        CHECK_OK(henn_paillier_rerandomize(&cr, pk, &ca));
        CHECK(mpz_cmp(cr.c, ca.c) != 0);
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_int64(&got, pk, &out));
        CHECK_EQ_INT(got, a);
        /* textbook path decrypts to the same plaintext */
        CHECK_OK(henn_paillier_encrypt_textbook(&cr, pk, &pa));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_EQ_MPZ(out.encoding, pa.encoding);
    }
    /* Reals with mixed exponents: the decoded result is exactly the IEEE
     * result, since both are the correctly rounded exact value. */
    for (i = 0; i < 12; i++) {
        double x = rand_double(), y = rand_double(), got = 0;
        CHECK_OK(henn_paillier_encode_double(&pa, pk, x, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK_OK(henn_paillier_encode_double(&pb, pk, y, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
        CHECK_OK(henn_paillier_encrypt(&cb, pk, &pb));
        CHECK_OK(henn_paillier_add(&cr, pk, &ca, &cb));
        CHECK_EQ_INT(cr.exponent, pa.exponent < pb.exponent ? pa.exponent : pb.exponent);
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_double(&got, pk, &out));
        CHECK_EQ_DBL(got, x + y);
        CHECK_OK(henn_paillier_mul_plain(&cr, pk, &ca, &pb));
        CHECK_EQ_INT(cr.exponent, pa.exponent + pb.exponent);
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_double(&got, pk, &out));
        CHECK_EQ_DBL(got, x * y);
        /* E(x) + y: y encoded with max_exponent = the ciphertext's */
        CHECK_OK(henn_paillier_encode_double(&pb, pk, y, ca.exponent));
        CHECK_OK(henn_paillier_add_plain(&cr, pk, &ca, &pb));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decode_double(&got, pk, &out));
        CHECK_EQ_DBL(got, x + y);
    }
    /* python-paillier's example: (1.5, -13) * 0.25 has exponent -27 */
    CHECK_OK(henn_paillier_encode_double(&pa, pk, 1.5, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_encode_double(&pb, pk, 0.25, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_EQ_INT(pa.exponent, -13);
    CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
    CHECK_OK(henn_paillier_mul_plain(&cr, pk, &ca, &pb));
    CHECK_EQ_INT(cr.exponent, -27);
    /* CRT decryption == lambda decryption on arbitrary elements of Z*_{n^2} */
    for (i = 0; i < 6; i++) {
        henn_paillier_pt o2;
        henn_paillier_pt_init(&o2);
        do
            mpz_urandomm(cr.c, rs, pk->n2);
        while (mpz_sgn(cr.c) == 0);
        memcpy(cr.kid, pk->kid, sizeof(cr.kid));
        CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
        CHECK_OK(henn_paillier_decrypt_lambda(&o2, &key, &cr));
        CHECK_EQ_MPZ(out.encoding, o2.encoding);
        henn_paillier_pt_clear(&o2);
    }
    henn_paillier_ct_clear(&cr);
    henn_paillier_ct_clear(&cb);
    henn_paillier_ct_clear(&ca);
    henn_paillier_pt_clear(&out);
    henn_paillier_pt_clear(&pb);
    henn_paillier_pt_clear(&pa);
}

static void test_invalid_ct(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_pt pt;
    henn_paillier_ct a, b;
    henn_paillier_pt_init(&pt);
    henn_paillier_ct_init(&a);
    henn_paillier_ct_init(&b);
    mpz_set_ui(pt.encoding, 5);
    CHECK_OK(henn_paillier_encrypt(&a, pk, &pt));
    CHECK_OK(henn_paillier_encrypt(&b, &other.pk, &pt));
    CHECK_OK(henn_paillier_ct_validate(pk, &a));
    /* under another key */
    CHECK_RC(henn_paillier_ct_validate(pk, &b), HENN_EKEY);
    CHECK_RC(henn_paillier_add(&a, pk, &a, &b), HENN_EKEY);
    CHECK_RC(henn_paillier_decrypt(&pt, &key, &b), HENN_EKEY);
    CHECK_RC(henn_paillier_rerandomize(&b, pk, &b), HENN_EKEY);
    /* outside Z*_{n^2} */
    memcpy(b.kid, pk->kid, sizeof(b.kid));
    mpz_set_ui(b.c, 0);
    CHECK_RC(henn_paillier_ct_validate(pk, &b), HENN_ERANGE);
    CHECK_RC(henn_paillier_decrypt(&pt, &key, &b), HENN_ERANGE);
    mpz_set(b.c, pk->n2);
    CHECK_RC(henn_paillier_ct_validate(pk, &b), HENN_ERANGE);
    CHECK_RC(henn_paillier_decrypt(&pt, &key, &b), HENN_ERANGE);
    mpz_set(b.c, key.p); /* shares a factor with n */
    CHECK_RC(henn_paillier_ct_validate(pk, &b), HENN_ERANGE);
    /* plaintext >= n */
    mpz_set(pt.encoding, pk->n);
    CHECK_RC(henn_paillier_encrypt(&a, pk, &pt), HENN_ERANGE);
    CHECK_RC(henn_paillier_encrypt_sk(&a, &key, &pt), HENN_ERANGE);
    CHECK_RC(henn_paillier_mul_plain(&a, pk, &a, &pt), HENN_ERANGE);
    henn_paillier_ct_clear(&b);
    henn_paillier_ct_clear(&a);
    henn_paillier_pt_clear(&pt);
}

static void test_encoding(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_pt pt;
    mpz_t x, m;
    double d = 0;
    int64_t v = 0;
    int i;
    henn_paillier_pt_init(&pt);
    mpz_inits(x, m, NULL);
    /* vectors generated with exact Python fractions */
    for (i = 0; kat("encd%d.x", i) != NULL; i++) {
        double val = strtod(kat("encd%d.x", i), NULL);
        CHECK_OK(henn_paillier_encode_double(&pt, pk, val, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK(kat_mpz(x, "encd%d.enc", i));
        CHECK_EQ_MPZ(pt.encoding, x);
        CHECK_EQ_INT(pt.exponent, atoi(kat("encd%d.e", i)));
        CHECK_OK(henn_paillier_decode_double(&d, pk, &pt));
        CHECK_EQ_DBL(d, val == 0 ? 0.0 : val); /* -0.0 decodes as 0.0, as in Python */
    }
    CHECK(i >= 20);
    for (i = 0; kat("encx%d.x", i) != NULL; i++) {
        double val = strtod(kat("encx%d.x", i), NULL);
        const char *exp = kat("encx%d.exp", i), *mx = kat("encx%d.max", i);
        if (strcmp(exp, "none") != 0)
            CHECK_OK(henn_paillier_encode_double_exp(&pt, pk, val, atoi(exp)));
        else
            CHECK_OK(henn_paillier_encode_double(&pt, pk, val, atoi(mx)));
        CHECK(kat_mpz(x, "encx%d.enc", i));
        CHECK_EQ_MPZ(pt.encoding, x);
        CHECK_EQ_INT(pt.exponent, atoi(kat("encx%d.e", i)));
    }
    for (i = 0; kat("enci%d.v", i) != NULL; i++) {
        int64_t val = strtoll(kat("enci%d.v", i), NULL, 10);
        CHECK_OK(henn_paillier_encode_int64(&pt, pk, val, HENN_PAILLIER_NO_MAX_EXPONENT));
        CHECK(kat_mpz(x, "enci%d.enc", i));
        CHECK_EQ_MPZ(pt.encoding, x);
        CHECK_EQ_INT(pt.exponent, 0);
        CHECK_OK(henn_paillier_decode_int64(&v, pk, &pt));
        CHECK_EQ_INT(v, val);
    }
    for (i = 0; kat("dec%d.x", i) != NULL; i++) {
        CHECK(kat_mpz(pt.encoding, "dec%d.enc", i));
        pt.exponent = atoi(kat("dec%d.e", i));
        CHECK_OK(henn_paillier_decode_double(&d, pk, &pt));
        CHECK_EQ_DBL(d, strtod(kat("dec%d.x", i), NULL));
    }
    /* the checked examples of python-paillier (PAILLIER_NOTES.md) */
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 1.0, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_cmp_ui(pt.encoding, 4503599627370496UL) == 0 && pt.exponent == -13);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 0.1, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_cmp_ui(pt.encoding, 7205759403792794UL) == 0 && pt.exponent == -14);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, -0.1, HENN_PAILLIER_NO_MAX_EXPONENT));
    mpz_sub_ui(x, pk->n, 7205759403792794UL);
    CHECK(mpz_cmp(pt.encoding, x) == 0 && pt.exponent == -14);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 0.0, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_sgn(pt.encoding) == 0 && pt.exponent == -14);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, -0.0, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_sgn(pt.encoding) == 0 && pt.exponent == -14);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 3.5, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_EQ_INT(pt.exponent, -13);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 1e-20, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_EQ_INT(pt.exponent, -30);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, ldexp(1.0, 60), HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_cmp_ui(pt.encoding, 4503599627370496UL) == 0 && pt.exponent == 2);
    CHECK_OK(henn_paillier_encode_int64(&pt, pk, 7, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK(mpz_cmp_ui(pt.encoding, 7) == 0 && pt.exponent == 0);
    CHECK_OK(henn_paillier_encode_double_exp(&pt, pk, 0.5, 0)); /* ties to even */
    CHECK(mpz_sgn(pt.encoding) == 0);
    CHECK_OK(henn_paillier_encode_double_exp(&pt, pk, 1.5, 0));
    CHECK(mpz_cmp_ui(pt.encoding, 2) == 0);
    /* NaN and infinities are refused */
    CHECK_RC(henn_paillier_encode_double(&pt, pk, NAN, HENN_PAILLIER_NO_MAX_EXPONENT),
             HENN_EINVAL);
    CHECK_RC(henn_paillier_encode_double(&pt, pk, INFINITY, HENN_PAILLIER_NO_MAX_EXPONENT),
             HENN_EINVAL);
    CHECK_RC(henn_paillier_encode_double_exp(&pt, pk, -INFINITY, -10), HENN_EINVAL);
    /* max_int boundaries */
    CHECK_OK(henn_paillier_encode_mpz(&pt, pk, pk->max_int));
    CHECK_OK(henn_paillier_decode_mantissa(m, pk, &pt));
    CHECK_EQ_MPZ(m, pk->max_int);
    mpz_neg(x, pk->max_int);
    CHECK_OK(henn_paillier_encode_mpz(&pt, pk, x));
    CHECK_OK(henn_paillier_decode_mantissa(m, pk, &pt));
    CHECK_EQ_MPZ(m, x);
    mpz_add_ui(x, pk->max_int, 1);
    CHECK_RC(henn_paillier_encode_mpz(&pt, pk, x), HENN_ERANGE);
    mpz_neg(x, x);
    CHECK_RC(henn_paillier_encode_mpz(&pt, pk, x), HENN_ERANGE);
    CHECK_RC(henn_paillier_encode_double(&pt, pk, 1e300, -300), HENN_ERANGE);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 1e300, -10));
    /* decode: overflow band and corrupted encodings */
    mpz_add_ui(pt.encoding, pk->max_int, 1);
    pt.exponent = 0;
    CHECK_RC(henn_paillier_decode_mantissa(m, pk, &pt), HENN_ERANGE);
    CHECK_RC(henn_paillier_decode_double(&d, pk, &pt), HENN_ERANGE);
    mpz_sub(pt.encoding, pk->n, pk->max_int); /* the most negative value */
    CHECK_OK(henn_paillier_decode_mantissa(m, pk, &pt));
    mpz_neg(x, pk->max_int);
    CHECK_EQ_MPZ(m, x);
    mpz_sub_ui(pt.encoding, pt.encoding, 1);
    CHECK_RC(henn_paillier_decode_mantissa(m, pk, &pt), HENN_ERANGE);
    mpz_set(pt.encoding, pk->n);
    CHECK_RC(henn_paillier_decode_mantissa(m, pk, &pt), HENN_EFORMAT);
    /* decode_int64: 2^60 needs exponent handling, 0.5 is not an integer */
    CHECK_OK(henn_paillier_encode_double(&pt, pk, ldexp(1.0, 60), HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_decode_int64(&v, pk, &pt));
    CHECK_EQ_INT(v, (int64_t)1 << 60);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 0.5, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_RC(henn_paillier_decode_int64(&v, pk, &pt), HENN_ERANGE);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, 1e300, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_RC(henn_paillier_decode_int64(&v, pk, &pt), HENN_ERANGE);
    /* decrease_exponent keeps the value */
    CHECK_OK(henn_paillier_encode_double(&pt, pk, -2.75, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_pt_decrease_exponent(&pt, pk, -32));
    CHECK_EQ_INT(pt.exponent, -32);
    CHECK_OK(henn_paillier_decode_double(&d, pk, &pt));
    CHECK_EQ_DBL(d, -2.75);
    CHECK_RC(henn_paillier_pt_decrease_exponent(&pt, pk, -31), HENN_EINVAL);
    henn_paillier_pt_clear(&pt);
    mpz_clears(x, m, NULL);
}

static void test_packing(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_packed a, b, r;
    henn_paillier_pt pt;
    int64_t va[200], vb[200], got[200];
    const unsigned w = 24;
    size_t cap = henn_paillier_pack_capacity(pk, w), i;
    uint64_t bound = 0;
    int64_t k = -37;
    CHECK_EQ_INT(cap, (2048 - 2) / 24);
    CHECK_EQ_INT(henn_paillier_pack_capacity(pk, 1), 0);
    CHECK_EQ_INT(henn_paillier_pack_capacity(pk, 65), 0);
    henn_paillier_packed_init(&a);
    henn_paillier_packed_init(&b);
    henn_paillier_packed_init(&r);
    henn_paillier_pt_init(&pt);
    for (i = 0; i < cap; i++) {
        va[i] = rand_i64(15); /* 16-bit signed */
        vb[i] = rand_i64(15);
    }
    va[0] = -32767;
    va[1] = 32767;
    /* plain pack/unpack round trip, extreme slot values included */
    CHECK_OK(henn_paillier_pack(&pt, &bound, pk, w, va, cap));
    CHECK_EQ_INT(bound, 32767);
    CHECK_OK(henn_paillier_unpack(got, cap, pk, w, bound, &pt));
    CHECK(memcmp(got, va, cap * sizeof(*va)) == 0);
    CHECK_RC(henn_paillier_unpack(got, cap, pk, w, 100, &pt), HENN_ERANGE); /* exceeds bound */
    CHECK_OK(henn_paillier_pack_encrypt(&a, pk, w, va, cap));
    CHECK_OK(henn_paillier_pack_encrypt(&b, pk, w, vb, cap - 3));
    /* (a + b) * k + a: every slot */
    CHECK_OK(henn_paillier_packed_add(&r, pk, &a, &b));
    CHECK_OK(henn_paillier_packed_mul_int64(&r, pk, &r, k));
    CHECK_OK(henn_paillier_packed_add_plain(&r, pk, &r, va, cap));
    CHECK_OK(henn_paillier_packed_rerandomize(&r, pk, &r));
    CHECK_EQ_INT(r.slots, cap);
    CHECK_OK(henn_paillier_decrypt_unpack(got, &key, &r));
    for (i = 0; i < cap; i++)
        CHECK_EQ_INT(got[i], (va[i] + (i < cap - 3 ? vb[i] : 0)) * k + va[i]);
    /* bound tracking refuses what could overflow a slot */
    /* bound 32767, slot max 2^23 - 1 = 8388607: 257 * 32767 is over, 256 * 32767 not */
    CHECK_RC(henn_paillier_packed_mul_int64(&r, pk, &a, 257), HENN_ERANGE);
    CHECK_RC(henn_paillier_packed_mul_int64(&r, pk, &a, -257), HENN_ERANGE);
    CHECK_OK(henn_paillier_packed_mul_int64(&r, pk, &a, 256));
    CHECK_RC(henn_paillier_packed_add(&r, pk, &r, &a), HENN_ERANGE);
    CHECK_RC(henn_paillier_packed_add_plain(&r, pk, &r, va, cap), HENN_ERANGE);
    /* values too wide for the slot, too many values, bad widths */
    va[5] = 1 << 23;
    CHECK_RC(henn_paillier_pack(&pt, &bound, pk, w, va, cap), HENN_ERANGE);
    CHECK_RC(henn_paillier_pack(&pt, &bound, pk, w, vb, cap + 1), HENN_EINVAL);
    CHECK_RC(henn_paillier_pack(&pt, &bound, pk, 1, vb, 1), HENN_EINVAL);
    b.slot_bits = 16;
    CHECK_RC(henn_paillier_packed_add(&r, pk, &a, &b), HENN_EINVAL);
    /* a value spilled above the last slot is detected, not dropped */
    {
        int64_t three[3] = {1, -2, 3};
        henn_paillier_pt big;
        henn_paillier_pt_init(&big);
        CHECK_OK(henn_paillier_pack_encrypt(&a, pk, w, three, 3));
        mpz_set_ui(big.encoding, 1);
        mpz_mul_2exp(big.encoding, big.encoding, 3 * w);
        CHECK_OK(henn_paillier_add_plain(&a.ct, pk, &a.ct, &big));
        CHECK_RC(henn_paillier_decrypt_unpack(got, &key, &a), HENN_ERANGE);
        henn_paillier_pt_clear(&big);
    }
    /* 64-bit slots */
    {
        int64_t wide[4] = {INT64_MAX, -INT64_MAX, 0, 12345};
        CHECK_OK(henn_paillier_pack_encrypt(&a, pk, 64, wide, 4));
        CHECK_OK(henn_paillier_decrypt_unpack(got, &key, &a));
        CHECK(memcmp(got, wide, sizeof(wide)) == 0);
    }
    henn_paillier_pt_clear(&pt);
    henn_paillier_packed_clear(&r);
    henn_paillier_packed_clear(&b);
    henn_paillier_packed_clear(&a);
}

static void test_batch(void)
{
    const henn_paillier_pk *pk = &key.pk;
    enum { N = 37 };
    henn_paillier_pt pt[N], out[N];
    henn_paillier_ct ct[N];
    henn_paillier_packed packed[4];
    int64_t v[200], got[200];
    size_t i, used = 0, cap = henn_paillier_pack_capacity(pk, 32);
    henn_batch_opts o = {3, NULL, NULL};
    for (i = 0; i < N; i++) {
        henn_paillier_pt_init(&pt[i]);
        henn_paillier_pt_init(&out[i]);
        henn_paillier_ct_init(&ct[i]);
        CHECK_OK(henn_paillier_encode_int64(&pt[i], pk, rand_i64(50), 0));
    }
    CHECK_OK(henn_paillier_encrypt_batch(ct, pk, pt, N, &o));
    CHECK_OK(henn_paillier_decrypt_batch(out, &key, ct, N, &o));
    for (i = 0; i < N; i++)
        CHECK_EQ_MPZ(out[i].encoding, pt[i].encoding);
    CHECK_OK(henn_paillier_encrypt_batch_sk(ct, &key, pt, N, NULL));
    CHECK_OK(henn_paillier_rerandomize_batch(ct, pk, ct, N, &o));
    CHECK_OK(henn_paillier_decrypt_batch(out, &key, ct, N, NULL));
    for (i = 0; i < N; i++)
        CHECK_EQ_MPZ(out[i].encoding, pt[i].encoding);
    /* an element under another key makes the batch fail with its code */
    memcpy(ct[N / 2].kid, other.pk.kid, sizeof(ct[0].kid));
    CHECK_RC(henn_paillier_decrypt_batch(out, &key, ct, N, &o), HENN_EKEY);
    /* packed batch over a count that is not a multiple of the capacity */
    for (i = 0; i < 4; i++)
        henn_paillier_packed_init(&packed[i]);
    for (i = 0; i < 2 * cap + 5; i++)
        v[i] = rand_i64(30);
    CHECK_OK(henn_paillier_pack_encrypt_batch(packed, 4, &used, pk, 32, v, 2 * cap + 5, &o));
    CHECK_EQ_INT(used, 3);
    CHECK_EQ_INT(packed[2].slots, 5);
    for (i = 0; i < used; i++) {
        CHECK_OK(henn_paillier_decrypt_unpack(got, &key, &packed[i]));
        CHECK(memcmp(got, v + i * cap, packed[i].slots * sizeof(*v)) == 0);
    }
    CHECK_RC(henn_paillier_pack_encrypt_batch(packed, 2, &used, pk, 32, v, 2 * cap + 5, &o),
             HENN_EINVAL);
    for (i = 0; i < 4; i++)
        henn_paillier_packed_clear(&packed[i]);
    for (i = 0; i < N; i++) {
        henn_paillier_pt_clear(&pt[i]);
        henn_paillier_pt_clear(&out[i]);
        henn_paillier_ct_clear(&ct[i]);
    }
}

/* ------------------------------------------------------- serialisation -- */

static const char example_pk[] =
    "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"key_ops\": [\"encrypt\"], "
    "\"n\": \"3UAdawM_-jGAIQBN4yoXnbud7z3c73hg9rgKPWbFiLc\", \"kid\": \"example\"}";

static void test_b64(void)
{
    static const struct {
        unsigned long v;
        const char *s;
    } ex[] = {{1, "AQ"}, {255, "_w"}, {256, "AQA"}, {65537, "AQAB"}};
    mpz_t x;
    mpz_init(x);
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        char *s;
        mpz_set_ui(x, ex[i].v);
        s = henn__paillier_b64_of_mpz(x);
        CHECK_EQ_STR(s, ex[i].s);
        free(s);
        CHECK_OK(henn__paillier_mpz_of_b64(x, ex[i].s));
        CHECK(mpz_cmp_ui(x, ex[i].v) == 0);
    }
    CHECK_RC(henn__paillier_mpz_of_b64(x, "AA"), HENN_EFORMAT);   /* zero */
    CHECK_RC(henn__paillier_mpz_of_b64(x, "AQ=="), HENN_EFORMAT); /* padded */
    CHECK_RC(henn__paillier_mpz_of_b64(x, "A+8"), HENN_EFORMAT);  /* not url-safe */
    CHECK_RC(henn__paillier_mpz_of_b64(x, ""), HENN_EFORMAT);
    mpz_set_ui(x, 0);
    CHECK(henn__paillier_b64_of_mpz(x) == NULL);
    mpz_clear(x);
}

static void test_json_keys(void)
{
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    char *json = NULL, *json2 = NULL, buf[8192];
    size_t len = 0, len2 = 0;
    mpz_t n;
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    mpz_init_set_str(n,
                     "100074420784748294356080506169722344793159774753098853519525922033804889131191",
                     10);
    /* python-paillier's documented example key (256-bit: insecure) */
    CHECK_RC(henn_paillier_pk_from_json(&pk, example_pk, strlen(example_pk), 0), HENN_EPARAM);
    CHECK_OK(henn_paillier_pk_from_json(&pk, example_pk, strlen(example_pk),
                                        HENN_PAILLIER_INSECURE));
    CHECK_EQ_MPZ(pk.n, n);
    CHECK_OK(henn_paillier_pk_to_json(&json, &len, &pk, "example"));
    CHECK_EQ_STR(json, example_pk); /* byte for byte what Python's json.dumps writes */
    henn_free(json, len);
    /* wrong alg / kty / type of n */
    snprintf(buf, sizeof(buf), "%s", example_pk);
    memcpy(strstr(buf, "PAI-GN1"), "PAI-GN2", 7);
    CHECK_RC(henn_paillier_pk_from_json(&pk, buf, strlen(buf), HENN_PAILLIER_INSECURE),
             HENN_EFORMAT);
    snprintf(buf, sizeof(buf), "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"n\": 12345}");
    CHECK_RC(henn_paillier_pk_from_json(&pk, buf, strlen(buf), HENN_PAILLIER_INSECURE),
             HENN_EFORMAT);
    snprintf(buf, sizeof(buf), "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"n\": \"Fw\"}");
    CHECK_RC(henn_paillier_pk_from_json(&pk, buf, strlen(buf), HENN_PAILLIER_INSECURE),
             HENN_EPARAM); /* n = 23: 5 bits, below even the insecure floor */
    snprintf(buf, sizeof(buf), "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"n\": \"AQA\"}");
    CHECK_RC(henn_paillier_pk_from_json(&pk, buf, strlen(buf), HENN_PAILLIER_INSECURE),
             HENN_EKEY); /* even */
    CHECK_RC(henn_paillier_pk_from_json(&pk, example_pk, strlen(example_pk) - 1,
                                        HENN_PAILLIER_INSECURE),
             HENN_EFORMAT); /* truncated */
    CHECK_RC(henn_paillier_pk_from_json(&pk, "[1, 2]", 6, 0), HENN_EFORMAT);
    CHECK_RC(henn_paillier_pk_from_json(&pk, "", 0, 0), HENN_EFORMAT);

    /* secret key: round trip and field order as pheutil */
    CHECK_OK(henn_paillier_sk_to_json(&json, &len, &key, "k"));
    {
        const char *head = "{\"kty\": \"DAJ\", \"key_ops\": [\"decrypt\"], \"p\": \"";
        CHECK(strncmp(json, head, strlen(head)) == 0);
    }
    CHECK(strstr(json, "\"pub\": {\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\"") != NULL);
    CHECK_OK(henn_paillier_sk_from_json(&sk, json, len, 0));
    CHECK_EQ_MPZ(sk.p, key.p);
    CHECK_EQ_MPZ(sk.q, key.q);
    CHECK_EQ_MPZ(sk.mu, key.mu);
    CHECK_OK(henn_paillier_sk_to_json(&json2, &len2, &sk, "k"));
    CHECK_EQ_STR(json2, json);
    henn_free(json2, len2);
    /* an older pheutil file: lambda and mu but no p and q */
    {
        char *p = strstr(json, "\"p\": \""), *l = strstr(json, "\"lambda\": \"");
        char old[8192];
        snprintf(old, sizeof(old), "{\"kty\": \"DAJ\", \"key_ops\": [\"decrypt\"], %s", l);
        (void)p;
        henn_paillier_sk_clear(&sk);
        henn_paillier_sk_init(&sk);
        CHECK_OK(henn_paillier_sk_from_json(&sk, old, strlen(old), 0));
        CHECK_EQ_MPZ(sk.p, key.p);
        CHECK_EQ_MPZ(sk.q, key.q);
        /* a wrong mu is refused */
        char *mu = strstr(old, "\"mu\": \"") + 7;
        *mu = *mu == 'A' ? 'B' : 'A';
        CHECK_RC(henn_paillier_sk_from_json(&sk, old, strlen(old), 0), HENN_EKEY);
    }
    /* p and q that do not match the public n */
    {
        char *other_json = NULL, mixed[16384];
        size_t olen = 0;
        char *pub_mine = strstr(json, "\"pub\": ");
        CHECK_OK(henn_paillier_sk_to_json(&other_json, &olen, &other, "k"));
        char *pub_other = strstr(other_json, "\"pub\": ");
        snprintf(mixed, sizeof(mixed), "%.*s%s", (int)(pub_mine - json), json, pub_other);
        CHECK_RC(henn_paillier_sk_from_json(&sk, mixed, strlen(mixed), 0), HENN_EKEY);
        henn_free(other_json, olen);
    }
    /* no decrypt op, missing fields */
    snprintf(buf, sizeof(buf), "{\"kty\": \"DAJ\", \"key_ops\": [\"encrypt\"]}");
    CHECK_RC(henn_paillier_sk_from_json(&sk, buf, strlen(buf), 0), HENN_EFORMAT);
    henn_free(json, len);
    mpz_clear(n);
    henn_paillier_sk_clear(&sk);
    henn_paillier_pk_clear(&pk);
}

static void test_json_ct(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_pt pt;
    henn_paillier_ct ct, back, *vec = NULL;
    char *json = NULL, buf[4096];
    size_t len = 0, count = 0, i;
    henn_paillier_pt_init(&pt);
    henn_paillier_ct_init(&ct);
    henn_paillier_ct_init(&back);
    CHECK_OK(henn_paillier_encode_double(&pt, pk, -1.25, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_encrypt(&ct, pk, &pt));
    CHECK_OK(henn_paillier_ct_to_json(&json, &len, &ct));
    CHECK(strncmp(json, "{\"v\": \"", 7) == 0);
    CHECK(strstr(json, "\", \"e\": -13}") != NULL);
    CHECK_OK(henn_paillier_ct_from_json(&back, pk, json, len));
    CHECK_EQ_MPZ(back.c, ct.c);
    CHECK_EQ_INT(back.exponent, ct.exponent);
    henn_free(json, len);
    /* malformed */
    static const char *bad[] = {
        "{\"v\": 12345, \"e\": 0}",            /* v not a string */
        "{\"v\": \"12345\", \"e\": \"0\"}",    /* e not a number */
        "{\"v\": \"12345\"}",                  /* missing e */
        "{\"v\": \"-12345\", \"e\": 0}",       /* sign */
        "{\"v\": \"12a45\", \"e\": 0}",        /* not decimal */
        "{\"v\": \"\", \"e\": 0}",             /* empty */
        "{\"v\": \"12345\", \"e\": 0",         /* truncated */
        "{\"v\": \"1\", \"v\": \"2\", \"e\": 0}", /* duplicate key */
        "[\"12345\", 0]",                      /* not an object */
        "{\"v\": \"12345\", \"e\": 1.5}",      /* e not an integer */
    };
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_RC(henn_paillier_ct_from_json(&back, pk, bad[i], strlen(bad[i])), HENN_EFORMAT);
    {
        const char *zero = "{\"v\": \"0\", \"e\": 0}";
        CHECK_RC(henn_paillier_ct_from_json(&back, pk, zero, strlen(zero)), HENN_ERANGE);
    }
    gmp_snprintf(buf, sizeof(buf), "{\"v\": \"%Zd\", \"e\": 0}", pk->n2);
    CHECK_RC(henn_paillier_ct_from_json(&back, pk, buf, strlen(buf)), HENN_ERANGE);
    gmp_snprintf(buf, sizeof(buf), "{\"v\": \"%Zd\", \"e\": 0}", key.q);
    CHECK_RC(henn_paillier_ct_from_json(&back, pk, buf, strlen(buf)), HENN_ERANGE);
    /* oversized input */
    {
        size_t big = (16u << 20) + 10;
        char *huge = malloc(big);
        memset(huge, ' ', big);
        CHECK_RC(henn_paillier_ct_from_json(&back, pk, huge, big), HENN_EFORMAT);
        free(huge);
    }
    /* vector format, n written by Python as a bare JSON number */
    {
        henn_paillier_ct three[3];
        for (i = 0; i < 3; i++) {
            henn_paillier_ct_init(&three[i]);
            CHECK_OK(henn_paillier_encrypt(&three[i], pk, &pt));
        }
        CHECK_OK(henn_paillier_vector_to_json(&json, &len, pk, three, 3));
        CHECK_OK(henn_paillier_vector_from_json(&vec, &count, pk, json, len));
        CHECK_EQ_INT(count, 3);
        for (i = 0; i < count; i++)
            CHECK_EQ_MPZ(vec[i].c, three[i].c);
        for (i = 0; i < count; i++)
            henn_paillier_ct_clear(&vec[i]);
        free(vec);
        henn_free(json, len);
        char *py = malloc(8192);
        gmp_snprintf(py, 8192, "{\"public_key\": {\"n\": %Zd}, \"values\": [[\"%Zd\", -13]]}",
                     pk->n, three[0].c);
        CHECK_OK(henn_paillier_vector_from_json(&vec, &count, pk, py, strlen(py)));
        CHECK_EQ_INT(count, 1);
        CHECK_EQ_MPZ(vec[0].c, three[0].c);
        henn_paillier_ct_clear(&vec[0]);
        free(vec);
        CHECK_RC(henn_paillier_vector_from_json(&vec, &count, &other.pk, py, strlen(py)),
                 HENN_EKEY);
        gmp_snprintf(py, 8192, "{\"public_key\": {\"n\": %Zd}, \"values\": [[\"%Zd\"]]}", pk->n,
                     three[0].c);
        CHECK_RC(henn_paillier_vector_from_json(&vec, &count, pk, py, strlen(py)), HENN_EFORMAT);
        free(py);
        for (i = 0; i < 3; i++)
            henn_paillier_ct_clear(&three[i]);
    }
    henn_paillier_ct_clear(&back);
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&pt);
}

static void test_binary(void)
{
    const henn_paillier_pk *pk = &key.pk;
    enum { N = 5 };
    henn_paillier_ct ct[N], back[N];
    henn_paillier_pt pt;
    size_t size = henn_paillier_ct_binary_size(pk, N), count = 0, i;
    uint8_t *buf = malloc(size + 1);
    henn_paillier_pt_init(&pt);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_init(&ct[i]);
        henn_paillier_ct_init(&back[i]);
        CHECK_OK(henn_paillier_encode_double(&pt, pk, (double)i - 2.5, 0));
        CHECK_OK(henn_paillier_encrypt(&ct[i], pk, &pt));
    }
    CHECK_EQ_INT(size, 4 + 4 + 4 + 16 + 8 + N * (4 + 512));
    CHECK_RC(henn_paillier_ct_serialize(buf, size - 1, pk, ct, N), HENN_EINVAL);
    CHECK_OK(henn_paillier_ct_serialize(buf, size, pk, ct, N));
    CHECK_OK(henn_paillier_ct_binary_count(&count, pk, buf, size));
    CHECK_EQ_INT(count, N);
    CHECK_OK(henn_paillier_ct_deserialize(back, N, pk, buf, size));
    for (i = 0; i < N; i++) {
        CHECK_EQ_MPZ(back[i].c, ct[i].c);
        CHECK_EQ_INT(back[i].exponent, ct[i].exponent);
    }
    /* truncated, trailing byte, wrong count, other key, bad magic/version */
    CHECK_RC(henn_paillier_ct_deserialize(back, N, pk, buf, size - 1), HENN_EFORMAT);
    buf[size] = 0;
    CHECK_RC(henn_paillier_ct_deserialize(back, N, pk, buf, size + 1), HENN_EFORMAT);
    CHECK_RC(henn_paillier_ct_deserialize(back, N - 1, pk, buf, size), HENN_EFORMAT);
    CHECK_RC(henn_paillier_ct_deserialize(back, N, &other.pk, buf, size), HENN_EKEY);
    CHECK_RC(henn_paillier_ct_binary_count(&count, pk, buf, 10), HENN_EFORMAT);
    buf[4] = 2;
    CHECK_RC(henn_paillier_ct_deserialize(back, N, pk, buf, size), HENN_EFORMAT);
    buf[4] = 1;
    buf[0] = 'X';
    CHECK_RC(henn_paillier_ct_deserialize(back, N, pk, buf, size), HENN_EFORMAT);
    buf[0] = 'H';
    /* a ciphertext >= n^2 in the second slot */
    memset(buf + 36 + (4 + 512) + 4, 0xff, 512); /* header is 36 bytes */
    CHECK_RC(henn_paillier_ct_deserialize(back, N, pk, buf, size), HENN_ERANGE);
    /* huge count in the header */
    memset(buf + 28, 0xff, 8);
    CHECK_RC(henn_paillier_ct_binary_count(&count, pk, buf, size), HENN_EFORMAT);
    for (i = 0; i < N; i++) {
        henn_paillier_ct_clear(&ct[i]);
        henn_paillier_ct_clear(&back[i]);
    }
    henn_paillier_pt_clear(&pt);
    free(buf);
}

/*
 * Issue 7, item 5: exponent alignment refuses what python-paillier refuses
 * (phe 1.5: EncryptedNumber.decrease_exponent_to multiplies by the int
 * 16^d, and encoding an int above max_int raises ValueError), plaintext
 * alignment refuses any mantissa that would leave [-max_int, max_int], a
 * bare-number "n" is not a public key, and key ids are escaped as
 * json.dumps escapes them.
 */
static void test_phe_limits(void)
{
    const henn_paillier_pk *pk = &key.pk;
    henn_paillier_pt pa, pb, out;
    henn_paillier_ct ca, cb, cr;
    long dmax = henn__paillier_max_shift(pk);
    double got = 0;
    henn_paillier_pt_init(&pa);
    henn_paillier_pt_init(&pb);
    henn_paillier_pt_init(&out);
    henn_paillier_ct_init(&ca);
    henn_paillier_ct_init(&cb);
    henn_paillier_ct_init(&cr);
    /* 16^dmax <= max_int < 16^(dmax + 1) */
    {
        mpz_t f;
        mpz_init(f);
        mpz_ui_pow_ui(f, 16, (unsigned long)dmax);
        CHECK(mpz_cmp(f, pk->max_int) <= 0);
        mpz_mul_ui(f, f, 16);
        CHECK(mpz_cmp(f, pk->max_int) > 0);
        mpz_clear(f);
    }
    /* phe's example: DBL_MAX (exponent 242) + 5e-324 (exponent -282), gap 524 */
    CHECK_OK(henn_paillier_encode_double(&pa, pk, 1.7976931348623157e308,
                                         HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_encode_double(&pb, pk, 5e-324, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_EQ_INT(pa.exponent, 242);
    CHECK_EQ_INT(pb.exponent, -282);
    CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
    CHECK_OK(henn_paillier_encrypt(&cb, pk, &pb));
    CHECK_RC(henn_paillier_add(&cr, pk, &ca, &cb), HENN_ERANGE);
    CHECK_RC(henn_paillier_add(&cr, pk, &cb, &ca), HENN_ERANGE);
    CHECK_RC(henn_paillier_ct_decrease_exponent(&cr, pk, &ca, -282), HENN_ERANGE);
    CHECK_RC(henn_paillier_add_plain(&cr, pk, &ca, &pb), HENN_ERANGE);
    /* 3 at exponent 0 + a ciphertext at exponent -600 */
    CHECK_OK(henn_paillier_encode_int64(&pa, pk, 3, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
    cb.exponent = -600;
    CHECK_RC(henn_paillier_add(&cr, pk, &ca, &cb), HENN_ERANGE);
    /* the boundary: a gap of dmax is computed exactly, dmax + 1 is refused */
    CHECK_OK(henn_paillier_ct_decrease_exponent(&cr, pk, &ca, (int)-dmax));
    CHECK_EQ_INT(cr.exponent, (int)-dmax);
    CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
    CHECK_OK(henn_paillier_decode_double(&got, pk, &out));
    CHECK_EQ_DBL(got, 3.0);
    CHECK_RC(henn_paillier_ct_decrease_exponent(&cr, pk, &ca, (int)(-dmax - 1)), HENN_ERANGE);
    CHECK_RC(henn_paillier_ct_decrease_exponent(&cr, pk, &ca, 1), HENN_EINVAL);
    /* plaintext alignment: exact, the mantissa is visible */
    CHECK_OK(henn_paillier_encode_int64(&pa, pk, 1, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_pt_decrease_exponent(&pa, pk, (int)-dmax));
    CHECK_OK(henn_paillier_encode_int64(&pa, pk, -1, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_pt_decrease_exponent(&pa, pk, (int)-dmax));
    CHECK_OK(henn_paillier_decode_double(&got, pk, &pa));
    CHECK_EQ_DBL(got, -1.0);
    CHECK_OK(henn_paillier_encode_int64(&pa, pk, 1, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_RC(henn_paillier_pt_decrease_exponent(&pa, pk, (int)(-dmax - 1)), HENN_ERANGE);
    CHECK_OK(henn_paillier_encode_int64(&pa, pk, 17, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_RC(henn_paillier_pt_decrease_exponent(&pa, pk, (int)-dmax), HENN_ERANGE);
    CHECK_EQ_INT(pa.exponent, 0); /* left as it was */
    CHECK_OK(henn_paillier_encode_mpz(&pa, pk, pk->max_int));
    CHECK_RC(henn_paillier_pt_decrease_exponent(&pa, pk, -1), HENN_ERANGE);
    mpz_add_ui(pa.encoding, pk->max_int, 1); /* overflow band */
    CHECK_RC(henn_paillier_pt_decrease_exponent(&pa, pk, -1), HENN_ERANGE);
    mpz_set_ui(pa.encoding, 0); /* zero lowers any distance */
    CHECK_OK(henn_paillier_pt_decrease_exponent(&pa, pk, -100000));
    CHECK_EQ_INT(pa.exponent, -100000);
    /* E(x) + tiny y: y's exponent is lower, the ciphertext follows within limits */
    CHECK_OK(henn_paillier_encode_double(&pa, pk, 1.0, HENN_PAILLIER_NO_MAX_EXPONENT));
    CHECK_OK(henn_paillier_encrypt(&ca, pk, &pa));
    CHECK_OK(henn_paillier_encode_double(&pb, pk, 5e-324, ca.exponent));
    CHECK_OK(henn_paillier_add_plain(&cr, pk, &ca, &pb));
    CHECK_EQ_INT(cr.exponent, -282);
    CHECK_OK(henn_paillier_decrypt(&out, &key, &cr));
    CHECK_OK(henn_paillier_decode_double(&got, pk, &out));
    CHECK_EQ_DBL(got, 1.0);

    /* a bare JSON number is not a base64url "n" (phe's base64_to_int refuses it) */
    {
        char buf[2048], *json = NULL;
        size_t len = 0;
        char *dec = mpz_get_str(NULL, 10, pk->n);
        snprintf(buf, sizeof(buf),
                 "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"key_ops\": [\"encrypt\"], "
                 "\"n\": %s, \"kid\": \"x\"}",
                 dec);
        henn_paillier_pk pk2;
        henn_paillier_pk_init(&pk2);
        CHECK_RC(henn_paillier_pk_from_json(&pk2, buf, strlen(buf), 0), HENN_EFORMAT);
        /* the same digits as a string are base64url text, read as such (and
         * refused here: not a valid modulus) */
        snprintf(buf, sizeof(buf),
                 "{\"kty\": \"DAJ\", \"alg\": \"PAI-GN1\", \"key_ops\": [\"encrypt\"], "
                 "\"n\": \"%s\", \"kid\": \"x\"}",
                 dec);
        CHECK(henn_paillier_pk_from_json(&pk2, buf, strlen(buf), 0) != 0);
        /* the vector format still takes n as a bare number */
        snprintf(buf, sizeof(buf), "{\"public_key\": {\"n\": %s}, \"values\": []}", dec);
        {
            henn_paillier_ct *v = NULL;
            size_t count = 1;
            CHECK_OK(henn_paillier_vector_from_json(&v, &count, pk, buf, strlen(buf)));
            CHECK_EQ_INT((int)count, 0);
            free(v);
        }
        /* and a number inside a string is not the marker of a bare number */
        snprintf(buf, sizeof(buf), "{\"public_key\": {\"n\": \"\\u0000%s\"}, \"values\": []}",
                 dec);
        {
            henn_paillier_ct *v = NULL;
            size_t count = 0;
            CHECK_RC(henn_paillier_vector_from_json(&v, &count, pk, buf, strlen(buf)),
                     HENN_EFORMAT);
        }
        free(dec);
        /* key ids as json.dumps (ensure_ascii) writes them */
        CHECK_OK(henn_paillier_pk_to_json(&json, &len, pk,
                                          "caf\xc3\xa9 \xf0\x9f\x98\x80 /\x7f\t\"\\"));
        CHECK(strstr(json, "\"kid\": \"caf\\u00e9 \\ud83d\\ude00 /\\u007f\\t\\\"\\\\\"}") != NULL);
        henn_free(json, len);
        CHECK_RC(henn_paillier_pk_to_json(&json, &len, pk, "bad \xff utf-8"), HENN_EINVAL);
        henn_paillier_pk_clear(&pk2);
    }
    henn_paillier_ct_clear(&cr);
    henn_paillier_ct_clear(&cb);
    henn_paillier_ct_clear(&ca);
    henn_paillier_pt_clear(&out);
    henn_paillier_pt_clear(&pb);
    henn_paillier_pt_clear(&pa);
}

/* ---------------------------------------------------------- noise pool -- */

/* Take exactly count values from np, waiting (1 ms sleeps) while its
 * thread fills it; the only bound is a generous one on the wait, so a
 * loaded machine makes the test slower, never wrong. */
static size_t pool_take_all(henn__noise_pool *np, mpz_t *out, size_t count)
{
    struct timespec ms = {0, 1000000};
    size_t got = 0, waits = 0;
    while (got < count && waits < 600000) {
        size_t k = henn__noise_pool_take(np, out + got, count - got);
        got += k;
        if (k == 0) {
            nanosleep(&ms, NULL);
            waits++;
        }
    }
    return got;
}

/*
 * Each pooled value v is a fresh r^n: 0 < v < n^2, and with
 * r = v^(n^-1 mod lambda) mod n (the n-th root, computed with the secret
 * key) r^n mod n^2 (GMP's mpz_powm) gives v back (differential check of
 * the engine); the values are all distinct over calls that drain the pool
 * faster than it fills (none handed out twice, none of the caller's old
 * values coming back); the roots' Legendre symbols mod p and mod q are
 * balanced (noise from a subgroup, as DJN's h_s^a, keeps them fixed);
 * the counters add up; freeing stops the thread whatever it is doing.
 */
static void check_pool_values(const henn_paillier_sk *sk, mpz_t *v, size_t count, int symbols)
{
    mpz_t ninv, r, t;
    size_t i, j, plus_p = 0, plus_q = 0;
    mpz_inits(ninv, r, t, NULL);
    CHECK(mpz_invert(ninv, sk->pk.n, sk->lambda) != 0);
    for (i = 0; i < count; i++) {
        CHECK(mpz_sgn(v[i]) > 0 && mpz_cmp(v[i], sk->pk.n2) < 0);
        mpz_mod(r, v[i], sk->pk.n);
        mpz_powm(r, r, ninv, sk->pk.n);
        mpz_powm(t, r, sk->pk.n, sk->pk.n2);
        CHECK_EQ_MPZ(t, v[i]);
        plus_p += mpz_legendre(r, sk->p) == 1;
        plus_q += mpz_legendre(r, sk->q) == 1;
        for (j = 0; j < i; j++)
            CHECK(mpz_cmp(v[i], v[j]) != 0);
    }
    if (symbols) { /* 5 standard deviations of a fair coin */
        double sd = sqrt((double)count) / 2.0, half = (double)count / 2.0;
        CHECK(fabs((double)plus_p - half) <= 5.0 * sd);
        CHECK(fabs((double)plus_q - half) <= 5.0 * sd);
    }
    mpz_clears(ninv, r, t, NULL);
}

static void test_noise_pool(void)
{
    enum { TOTAL = 120 };
    static const size_t counts[] = {41, 5, 1, 16, 0, 17, 40};
    henn__noise_pool *np = NULL;
    henn_paillier_pk empty;
    henn_paillier_sk gk;
    mpz_t v[TOTAL];
    uint64_t made, taken;
    size_t i, k, used = 0, have;
    int err;

    for (i = 0; i < TOTAL; i++)
        mpz_init_set_ui(v[i], 12345); /* old values: must never come back */
    /* refusals */
    henn_paillier_pk_init(&empty);
    CHECK_RC(henn__noise_pool_new(&np, &empty, 16), HENN_EKEY);
    CHECK(np == NULL);
    CHECK_RC(henn__noise_pool_new(&np, &key.pk, 0), HENN_EINVAL);
    CHECK_RC(henn__noise_pool_new(&np, &key.pk, HENN__NOISE_POOL_MAX + 1), HENN_EINVAL);
    CHECK(np == NULL);
    CHECK_EQ_INT(henn__noise_pool_take(NULL, v, 3), 0);
    henn__noise_pool_free(NULL);

    /* capacity 20 -> 24; 120 values taken in uneven calls, so the thread
     * refills while values are taken */
    CHECK_OK(henn__noise_pool_new(&np, &key.pk, 20));
    CHECK(henn__noise_pool_same_key(np, &key.pk));
    CHECK(!henn__noise_pool_same_key(np, &other.pk));
    for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        CHECK_EQ_INT(pool_take_all(np, v + used, counts[k]), counts[k]);
        used += counts[k];
    }
    CHECK_EQ_INT(used, TOTAL);
    henn__noise_pool_counts(np, &made, &taken, &have, &err);
    CHECK_EQ_INT(err, 0);
    CHECK_EQ_INT(taken, TOTAL);
    CHECK(made >= taken && made - taken == have && have <= 24 && made % 8 == 0);
    check_pool_values(&key, v, TOTAL, 1);
    CHECK(henn__noise_pool_cpu_seconds(np) > 0.0); /* the thread did the exponentiations */
    CHECK(henn__noise_pool_cpu_seconds(NULL) < 0.0);
    henn__noise_pool_free(np); /* thread busy or waiting: both stop */

    /* started and freed at once (the thread mid-group) */
    CHECK_OK(henn__noise_pool_new(&np, &other.pk, 8));
    henn__noise_pool_free(np);

    /* the GMP fallback: a key built with IFMA off, values checked alike */
    henn_paillier_sk_init(&gk);
    henn__ifma_set_enabled(0);
    CHECK_OK(henn_paillier_sk_from_primes(&gk, key.p, key.q, 0));
    CHECK_OK(henn__noise_pool_new(&np, &gk.pk, 8));
    CHECK(gk.pk.mont != NULL && gk.pk.mont->v == 0);
    CHECK_EQ_INT(pool_take_all(np, v, 10), 10); /* IFMA off: no pairs engine either */
    henn__noise_pool_free(np);
    henn__ifma_set_enabled(1);
    check_pool_values(&gk, v, 10, 0);
    henn_paillier_sk_clear(&gk);
    henn_paillier_pk_clear(&empty);
    for (i = 0; i < TOTAL; i++)
        mpz_clear(v[i]);
}

int main(void)
{
    CHECK_OK(henn_init());
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, test_seed());
    kat_load();
    henn_paillier_sk_init(&key);
    henn_paillier_sk_init(&other);
    test_kat_toy();
    test_kat_2048();
    test_keygen();
    test_homomorphic();
    test_invalid_ct();
    test_encoding();
    test_packing();
    test_batch();
    test_b64();
    test_json_keys();
    test_json_ct();
    test_binary();
    test_phe_limits();
    test_noise_pool();
    henn_paillier_sk_clear(&other);
    henn_paillier_sk_clear(&key);
    gmp_randclear(rs);
    for (int k = 0; k < kat_n; k++) {
        free(kat_key[k]);
        free(kat_val[k]);
    }
    return test_report("test_paillier");
}
