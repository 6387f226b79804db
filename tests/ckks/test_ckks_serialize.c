/*
 * CKKS binary formats: round trips for every object (decryption after the
 * round trip matches), symmetric ciphertexts stored with their seed, params
 * fingerprints, and refusal of truncated, oversized, tampered and foreign
 * input (docs/CKKS.md, "Formats").
 */
#include <math.h>

#include "../test.h"
#include "ckks/ckks_internal.h"
#include "henn/henn.h"

/* Offsets in every object: header 12 bytes, fingerprint 16, then fields. */
#define HDR 12
#define OBJ (HDR + HENN_CKKS_FINGERPRINTBYTES)

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 11;
}

/* Uniform in [-1, 1]. */
static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / (double)(1ULL << 42) * 2.0 - 1.0;
}

typedef struct {
    henn_ckks_params params;
    henn_ckks_sk sk;
    henn_ckks_pk pk;
    henn_ckks_relin_key rk;
    henn_ckks_galois_keys gk;
} keyset;

static const int chain[] = {36, 30, 36};
static const double scale = 1073741824.0; /* 2^30 */

static int keyset_init(keyset *k, const int *bits, size_t count)
{
    static const int steps[] = {1, -1, 4};
    memset(k, 0, sizeof(*k));
    if (henn_ckks_params_init(&k->params, 4096, bits, count, 0) != 0 ||
        henn_ckks_keygen(&k->sk, &k->pk, &k->params) != 0 ||
        henn_ckks_relin_keygen(&k->rk, &k->sk) != 0 ||
        henn_ckks_galois_keygen(&k->gk, &k->sk, steps, 3, 1) != 0)
        return -1;
    return 0;
}

static void keyset_clear(keyset *k)
{
    henn_ckks_galois_keys_clear(&k->gk);
    henn_ckks_relin_key_clear(&k->rk);
    henn_ckks_pk_clear(&k->pk);
    henn_ckks_sk_clear(&k->sk);
    henn_ckks_params_clear(&k->params);
}

/* Max |decode(decrypt(ct)) - want| over count slots, or INFINITY. */
static double max_err(const keyset *k, const henn_ckks_ct *ct, const double *want, size_t count)
{
    henn_ckks_pt pt = {0};
    double *got = malloc(count * sizeof(*got)), e = 0;
    if (got == NULL || henn_ckks_decrypt(&pt, &k->sk, ct) != 0 ||
        henn_ckks_decode(got, count, &pt) != 0) {
        e = INFINITY;
    } else {
        for (size_t i = 0; i < count; i++)
            if (fabs(got[i] - want[i]) > e)
                e = fabs(got[i] - want[i]);
    }
    free(got);
    henn_ckks_pt_clear(&pt);
    return e;
}

/* Same data words in two ciphertexts. */
static int ct_equal(const henn_ckks_ct *a, const henn_ckks_ct *b)
{
    return a->size == b->size && a->level == b->level && a->scale == b->scale &&
           a->params == b->params &&
           memcmp(a->data, b->data, a->size * (a->level + 1) * a->params->N * 8) == 0;
}

static size_t ksk_words(const henn_ckks_params *p)
{
    return p->L * 2 * (p->L + 1) * p->N;
}

/* ------------------------------------------------------------ params -- */

static void test_params(void)
{
    henn_ckks_params p = {0}, q = {0}, ins = {0};
    uint8_t *buf = NULL, *buf2 = NULL, fp1[16], fp2[16];
    size_t len = 0, len2 = 0;
    int type = 0;
    size_t info_len = 0;
    static const int big[] = {60, 60};

    CHECK_OK(henn_ckks_params_init(&p, 4096, chain, 3, 0));
    CHECK_OK(henn_ckks_params_serialize(&buf, &len, &p));
    CHECK_EQ_INT(len, HDR + 8 + 3 * 9);
    CHECK(memcmp(buf, "HENNCKKS", 8) == 0);
    CHECK_EQ_INT(buf[8], HENN_CKKS_FORMAT_VERSION);
    CHECK_EQ_INT(buf[9], HENN_CKKS_OBJ_PARAMS);
    CHECK_OK(henn_ckks_serialized_info(&type, &info_len, NULL, buf, len));
    CHECK_EQ_INT(type, HENN_CKKS_OBJ_PARAMS);
    CHECK_EQ_INT(info_len, len);

    CHECK_OK(henn_ckks_params_deserialize(&q, buf, len, 0));
    CHECK_EQ_INT(q.N, 4096);
    CHECK_EQ_INT(q.L, 2);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(q.q[i], p.q[i]);
        CHECK_EQ_INT(q.bits[i], chain[i]);
    }
    CHECK_OK(henn_ckks_params_fingerprint(fp1, &p));
    CHECK_OK(henn_ckks_params_fingerprint(fp2, &q));
    CHECK(memcmp(fp1, fp2, 16) == 0);
    CHECK_OK(henn_ckks_params_serialize(&buf2, &len2, &q));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    henn_free(buf2, len2);
    /* deserialising into params that hold something clears them first */
    CHECK_OK(henn_ckks_params_deserialize(&q, buf, len, 0));

    /* every truncation, and one trailing byte */
    {
        int bad = 0;
        for (size_t l = 0; l < len; l++)
            if (henn_ckks_params_deserialize(&q, buf, l, 0) != HENN_EFORMAT)
                bad++;
        CHECK_EQ_INT(bad, 0);
        CHECK(q.tables == NULL); /* left zeroed */
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        CHECK_RC(henn_ckks_params_deserialize(&q, longer, len + 1, 0), HENN_EFORMAT);
        free(longer);
        CHECK_RC(henn_ckks_params_deserialize(&q, NULL, 0, 0), HENN_EFORMAT);
    }
    /* every header byte flipped */
    for (size_t i = 0; i < HDR; i++) {
        buf[i] ^= 0x01;
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        buf[i] ^= 0x01;
        buf[i] ^= 0x80;
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        buf[i] ^= 0x80;
    }
    /* fields: N not a power of two / out of range, count out of range, a bit
     * size out of range, a prime that is not the one SEAL's rule picks */
    {
        uint8_t save[8];
        memcpy(save, buf + HDR, 8);
        buf[HDR] = 0x01; /* N = 4097 */
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        memcpy(buf + HDR, save, 8);
        buf[HDR + 3] = 0x80; /* N = 2^31 + 4096 */
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        memcpy(buf + HDR, save, 8);
        buf[HDR + 4] = 0xff; /* count = 255 */
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        buf[HDR + 4] = 0xff, buf[HDR + 5] = 0xff, buf[HDR + 6] = 0xff, buf[HDR + 7] = 0xff;
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        memcpy(buf + HDR, save, 8);
        buf[HDR + 4] = 1; /* count = 1 */
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        memcpy(buf + HDR, save, 8);
        buf[HDR + 8] = 61;
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        buf[HDR + 8] = 16;
        CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
        buf[HDR + 8] = 36;
        /* q_1 replaced by the next prime of its size: also 1 mod 2N, 30 bits */
        {
            uint8_t *qp = buf + HDR + 8 + 3 + 8;
            uint64_t other = 0, q1 = p.q[1];
            for (uint64_t c = q1 - 8192; c > (1ULL << 29); c -= 8192)
                if (henn__ckks_is_prime(c)) {
                    other = c;
                    break;
                }
            CHECK(other != 0);
            for (int b = 0; b < 8; b++)
                qp[b] = (uint8_t)(other >> (8 * b));
            CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EFORMAT);
            for (int b = 0; b < 8; b++)
                qp[b] = (uint8_t)(q1 >> (8 * b));
        }
        CHECK_OK(henn_ckks_params_deserialize(&q, buf, len, 0));
    }
    henn_free(buf, len);

    /* the security guard applies to files too */
    CHECK_RC(henn_ckks_params_init(&ins, 4096, big, 2, 0), HENN_EPARAM);
    CHECK_OK(henn_ckks_params_init(&ins, 4096, big, 2, HENN_CKKS_INSECURE));
    CHECK_OK(henn_ckks_params_serialize(&buf, &len, &ins));
    CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0), HENN_EPARAM);
    CHECK(q.tables == NULL);
    CHECK_OK(henn_ckks_params_deserialize(&q, buf, len, HENN_CKKS_INSECURE));
    CHECK_OK(henn_ckks_params_fingerprint(fp2, &q));
    CHECK(memcmp(fp1, fp2, 16) != 0); /* other params, other fingerprint */
    CHECK_RC(henn_ckks_params_deserialize(&q, buf, len, 0x80), HENN_EINVAL);
    henn_free(buf, len);

    /* bad arguments */
    CHECK_RC(henn_ckks_params_serialize(&buf, &len, NULL), HENN_EINVAL);
    CHECK(buf == NULL && len == 0);
    CHECK_RC(henn_ckks_params_fingerprint(fp1, NULL), HENN_EINVAL);

    henn_ckks_params_clear(&ins);
    henn_ckks_params_clear(&q);
    henn_ckks_params_clear(&p);
}

/* -------------------------------------------------------------- keys -- */

static void test_keys(keyset *k, keyset *other)
{
    const henn_ckks_params *P = &k->params;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0, N = P->N;
    henn_ckks_sk sk = {0};
    henn_ckks_pk pk = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0};
    int type = 0;
    size_t il = 0;

    /* secret key: 2 bits per coefficient, same s in every limb */
    CHECK_OK(henn_ckks_sk_serialize(&buf, &len, &k->sk));
    CHECK_EQ_INT(len, OBJ + N / 4);
    CHECK_EQ_INT(buf[9], HENN_CKKS_OBJ_SK);
    CHECK_OK(henn_ckks_serialized_info(&type, &il, P, buf, len));
    CHECK(type == HENN_CKKS_OBJ_SK && il == len);
    CHECK_OK(henn_ckks_sk_deserialize(&sk, P, buf, len));
    CHECK(sk.params == P);
    CHECK(memcmp(sk.s, k->sk.s, (P->L + 1) * N * 8) == 0);
    CHECK_OK(henn_ckks_sk_serialize(&buf2, &len2, &sk));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    henn_free(buf2, len2);
    CHECK_RC(henn_ckks_sk_deserialize(&sk, &other->params, buf, len), HENN_EKEY);
    CHECK(sk.s == NULL && sk.params == NULL);
    /* code 3 is not a ternary digit */
    buf[OBJ + 7] |= 0xc0;
    CHECK_RC(henn_ckks_sk_deserialize(&sk, P, buf, len), HENN_EFORMAT);
    CHECK(sk.s == NULL);
    {
        int bad = 0;
        for (size_t l = 0; l < len; l++)
            if (henn_ckks_sk_deserialize(&sk, P, buf, l) != HENN_EFORMAT)
                bad++;
        CHECK_EQ_INT(bad, 0);
    }
    henn_free(buf, len);
    /* a key that is not ternary is not written */
    {
        henn_ckks_sk t = {0};
        t.params = P;
        t.s = calloc((P->L + 1) * N, 8);
        t.s[5] = 7; /* NTT domain: not a ternary polynomial */
        CHECK_RC(henn_ckks_sk_serialize(&buf, &len, &t), HENN_EKEY);
        CHECK(buf == NULL && len == 0);
        free(t.s);
    }

    /* public key */
    CHECK_OK(henn_ckks_pk_serialize(&buf, &len, &k->pk));
    CHECK_EQ_INT(len, OBJ + 2 * N * (5 + 4 + 5));
    CHECK_OK(henn_ckks_pk_deserialize(&pk, P, buf, len));
    CHECK(memcmp(pk.data, k->pk.data, 2 * (P->L + 1) * N * 8) == 0);
    CHECK_RC(henn_ckks_pk_deserialize(&pk, &other->params, buf, len), HENN_EKEY);
    CHECK(pk.data == NULL);
    /* a residue equal to its prime: q_0 in the first slot, q_2 = P in the last */
    {
        uint8_t save[5];
        uint64_t q0 = P->q[0], q2 = P->q[2];
        memcpy(save, buf + OBJ, 5);
        for (int b = 0; b < 5; b++)
            buf[OBJ + b] = (uint8_t)(q0 >> (8 * b));
        CHECK_RC(henn_ckks_pk_deserialize(&pk, P, buf, len), HENN_EFORMAT);
        memcpy(buf + OBJ, save, 5);
        memcpy(save, buf + len - 5, 5);
        for (int b = 0; b < 5; b++)
            buf[len - 5 + (size_t)b] = (uint8_t)(q2 >> (8 * b));
        CHECK_RC(henn_ckks_pk_deserialize(&pk, P, buf, len), HENN_EFORMAT);
        memset(buf + len - 5, 0xff, 5);
        CHECK_RC(henn_ckks_pk_deserialize(&pk, P, buf, len), HENN_EFORMAT);
        memcpy(buf + len - 5, save, 5);
        CHECK_OK(henn_ckks_pk_deserialize(&pk, P, buf, len));
    }
    /* truncations: the header region, and a sample of the rest */
    {
        int bad = 0;
        for (size_t l = 0; l < len; l += l < 256 ? 1 : 997)
            if (henn_ckks_pk_deserialize(&pk, P, buf, l) != HENN_EFORMAT)
                bad++;
        if (henn_ckks_pk_deserialize(&pk, P, buf, len - 1) != HENN_EFORMAT)
            bad++;
        CHECK_EQ_INT(bad, 0);
    }
    henn_free(buf, len);
    henn_ckks_pk_clear(&pk);

    /* relinearisation key */
    CHECK_OK(henn_ckks_relin_key_serialize(&buf, &len, &k->rk));
    CHECK_EQ_INT(len, OBJ + 2 * 2 * N * (5 + 4 + 5));
    CHECK_OK(henn_ckks_relin_key_deserialize(&rk, P, buf, len));
    CHECK(memcmp(rk.ksk.data, k->rk.ksk.data, ksk_words(P) * 8) == 0);
    CHECK_RC(henn_ckks_relin_key_deserialize(&rk, &other->params, buf, len), HENN_EKEY);
    CHECK_RC(henn_ckks_relin_key_deserialize(&rk, P, buf, len - 1), HENN_EFORMAT);
    CHECK_RC(henn_ckks_relin_key_deserialize(&rk, P, buf, OBJ), HENN_EFORMAT);
    /* a public key is not a relinearisation key */
    buf[9] = HENN_CKKS_OBJ_PK;
    CHECK_RC(henn_ckks_relin_key_deserialize(&rk, P, buf, len), HENN_EFORMAT);
    CHECK(rk.ksk.data == NULL);
    henn_free(buf, len);
    CHECK_OK(henn_ckks_relin_key_serialize(&buf, &len, &k->rk));
    CHECK_OK(henn_ckks_relin_key_deserialize(&rk, P, buf, len));
    henn_free(buf, len);

    /* Galois keys: element list, then the keys */
    CHECK_OK(henn_ckks_galois_keys_serialize(&buf, &len, &k->gk));
    CHECK_EQ_INT(len, OBJ + 4 + 4 * k->gk.count + k->gk.count * 2 * 2 * N * 14);
    CHECK_OK(henn_ckks_serialized_info(&type, &il, P, buf, len));
    CHECK(type == HENN_CKKS_OBJ_GALOIS_KEYS && il == len);
    CHECK_OK(henn_ckks_galois_keys_deserialize(&gk, P, buf, len));
    CHECK_EQ_INT(gk.count, k->gk.count);
    CHECK(gk.params == P);
    for (size_t j = 0; j < gk.count && j < k->gk.count; j++) {
        CHECK_EQ_INT(gk.elts[j], k->gk.elts[j]);
        CHECK(memcmp(gk.keys[j].data, k->gk.keys[j].data, ksk_words(P) * 8) == 0);
    }
    CHECK_OK(henn_ckks_galois_keys_serialize(&buf2, &len2, &gk));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    henn_free(buf2, len2);
    CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, &other->params, buf, len), HENN_EKEY);
    CHECK(gk.count == 0 && gk.keys == NULL && gk.elts == NULL);
    {
        uint8_t *cnt = buf + OBJ, *e0 = buf + OBJ + 4, *e1 = buf + OBJ + 8, save[8];
        CHECK(k->gk.count >= 2);
        memcpy(save, cnt, 8);
        /* oversized counts: never allocated, refused from the length */
        cnt[0] = cnt[1] = cnt[2] = cnt[3] = 0xff;
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, P, buf, len), HENN_EFORMAT);
        cnt[0] = (uint8_t)(N + 1), cnt[1] = (uint8_t)((N + 1) >> 8), cnt[2] = cnt[3] = 0;
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        memcpy(cnt, save, 4);
        cnt[0] = (uint8_t)(cnt[0] + 1); /* one more key than present */
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        memcpy(cnt, save, 4);
        /* even element, element >= 2N, duplicate element */
        memcpy(save, e0, 8);
        e0[0] = (uint8_t)(e0[0] ^ 1);
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        memcpy(e0, save, 4);
        e0[0] = 1, e0[1] = (uint8_t)((2 * N) >> 8), e0[2] = e0[3] = 0; /* 2N + 1 */
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        memcpy(e0, save, 4);
        memcpy(e1, e0, 4);
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        memcpy(e0, save, 8);
        /* a residue out of range in the last key */
        memset(buf + len - 5, 0xff, 5);
        CHECK_RC(henn_ckks_galois_keys_deserialize(&gk, P, buf, len), HENN_EFORMAT);
        CHECK(gk.count == 0 && gk.keys == NULL);
    }
    henn_free(buf, len);
    /* an empty set round-trips */
    {
        henn_ckks_galois_keys none = {0};
        none.params = P;
        CHECK_OK(henn_ckks_galois_keys_serialize(&buf, &len, &none));
        CHECK_EQ_INT(len, OBJ + 4);
        CHECK_OK(henn_ckks_galois_keys_deserialize(&gk, P, buf, len));
        CHECK_EQ_INT(gk.count, 0);
        henn_free(buf, len);
    }

    /* keys read back work: encrypt with the read pk, decrypt with the read
     * sk, multiply with the read relin key, rotate with the read Galois keys */
    {
        henn_ckks_pt pt = {0};
        henn_ckks_ct ct = {0}, ct2 = {0}, rot = {0};
        double v[64], sq[64], r1[64];
        for (int i = 0; i < 64; i++)
            v[i] = rnd_unit();
        for (int i = 0; i < 64; i++) {
            sq[i] = v[i] * v[i];
            r1[i] = i + 1 < 64 ? v[i + 1] : 0;
        }
        CHECK_OK(henn_ckks_pk_serialize(&buf, &len, &k->pk));
        CHECK_OK(henn_ckks_pk_deserialize(&pk, P, buf, len));
        henn_free(buf, len);
        CHECK_OK(henn_ckks_galois_keys_serialize(&buf, &len, &k->gk));
        CHECK_OK(henn_ckks_galois_keys_deserialize(&gk, P, buf, len));
        henn_free(buf, len);
        CHECK_OK(henn_ckks_sk_serialize(&buf, &len, &k->sk));
        CHECK_OK(henn_ckks_sk_deserialize(&sk, P, buf, len));
        henn_free(buf, len);
        CHECK_OK(henn_ckks_encode(&pt, P, v, 64, scale, P->L - 1));
        CHECK_OK(henn_ckks_encrypt(&ct, &pk, &pt));
        {
            keyset view = *k; /* same params and keys, the sk read back */
            view.sk = sk;
            CHECK(max_err(&view, &ct, v, 64) < 1e-4);
            CHECK_OK(henn_ckks_multiply(&ct2, &ct, &ct));
            CHECK_OK(henn_ckks_relinearize(&ct2, &ct2, &rk));
            CHECK_OK(henn_ckks_rescale(&ct2, &ct2));
            CHECK(max_err(&view, &ct2, sq, 64) < 1e-3);
            CHECK_OK(henn_ckks_rotate(&rot, &ct, 1, &gk));
            CHECK(max_err(&view, &rot, r1, 63) < 1e-3);
        }
        henn_ckks_ct_clear(&rot);
        henn_ckks_ct_clear(&ct2);
        henn_ckks_ct_clear(&ct);
        henn_ckks_pt_clear(&pt);
    }
    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_relin_key_clear(&rk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(&sk);

    /* bad arguments */
    CHECK_RC(henn_ckks_pk_serialize(&buf, &len, &pk), HENN_EINVAL); /* cleared */
    CHECK_RC(henn_ckks_sk_deserialize(NULL, P, buf, len), HENN_EINVAL);
    CHECK_RC(henn_ckks_pk_deserialize(&pk, NULL, (const uint8_t *)"x", 1), HENN_EINVAL);
}

/* ------------------------------------------------------- ciphertexts -- */

/* Every truncation of buf is refused with HENN_EFORMAT, and so is one byte
 * more; returns the number of lengths that were not. */
static int truncations(const henn_ckks_params *P, const uint8_t *buf, size_t len)
{
    henn_ckks_ct ct = {0};
    int bad = 0;
    uint8_t *longer = malloc(len + 1);
    for (size_t l = 0; l < len; l++)
        if (henn_ckks_ct_deserialize(&ct, P, buf, l) != HENN_EFORMAT)
            bad++;
    memcpy(longer, buf, len);
    longer[len] = 0;
    if (henn_ckks_ct_deserialize(&ct, P, longer, len + 1) != HENN_EFORMAT)
        bad++;
    if (ct.data != NULL)
        bad++;
    free(longer);
    henn_ckks_ct_clear(&ct);
    return bad;
}

static void test_ct(keyset *k, keyset *other)
{
    const henn_ckks_params *P = &k->params;
    const size_t N = P->N, n = N / 2, limb_bytes = 5 + 4; /* q_0, q_1 */
    double *v = malloc(n * sizeof(*v));
    henn_ckks_pt pt = {0}, pt2 = {0}, d1 = {0}, d2 = {0};
    henn_ckks_ct ct = {0}, back = {0}, sym = {0}, prod = {0};
    uint8_t seed[HENN_CKKS_SEEDBYTES], *buf = NULL, *sbuf = NULL, *buf2 = NULL;
    size_t len = 0, slen = 0, len2 = 0, il = 0;
    int type = 0;

    for (size_t i = 0; i < n; i++)
        v[i] = rnd_unit();
    CHECK_OK(henn_ckks_encode(&pt, P, v, n, scale, P->L - 1));

    /* plaintext */
    CHECK_OK(henn_ckks_pt_serialize(&buf, &len, &pt));
    CHECK_EQ_INT(len, OBJ + 16 + N * limb_bytes);
    CHECK_OK(henn_ckks_pt_deserialize(&pt2, P, buf, len));
    CHECK(pt2.level == pt.level && pt2.scale == pt.scale &&
          memcmp(pt2.data, pt.data, (pt.level + 1) * N * 8) == 0);
    CHECK_RC(henn_ckks_pt_deserialize(&pt2, P, buf, len - 1), HENN_EFORMAT);
    CHECK(pt2.data == NULL);
    CHECK_RC(henn_ckks_ct_deserialize(&ct, P, buf, len), HENN_EFORMAT); /* not a ct */
    henn_free(buf, len);

    /* public-key ciphertext: same words back, decrypts the same */
    CHECK_OK(henn_ckks_encrypt(&ct, &k->pk, &pt));
    CHECK_OK(henn_ckks_ct_serialize(&buf, &len, &ct, NULL));
    CHECK_EQ_INT(len, OBJ + 16 + 2 * N * limb_bytes);
    CHECK_EQ_INT(buf[9], HENN_CKKS_OBJ_CT);
    CHECK_OK(henn_ckks_ct_deserialize(&back, P, buf, len));
    CHECK(ct_equal(&ct, &back));
    CHECK_OK(henn_ckks_decrypt(&d1, &k->sk, &ct));
    CHECK_OK(henn_ckks_decrypt(&d2, &k->sk, &back));
    CHECK(memcmp(d1.data, d2.data, (d1.level + 1) * N * 8) == 0);
    CHECK(max_err(k, &back, v, n) < 1e-4);
    CHECK_OK(henn_ckks_ct_serialize(&buf2, &len2, &back, NULL));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    henn_free(buf2, len2);
    CHECK_RC(henn_ckks_ct_deserialize(&back, &other->params, buf, len), HENN_EKEY);
    CHECK(back.data == NULL);
    CHECK_EQ_INT(truncations(P, buf, len), 0);

    /* header and fixed fields, each byte flipped two ways: the fingerprint
     * gives HENN_EKEY, everything else HENN_EFORMAT (size 3 or level 0
     * disagree with the length; type 7 too) */
    for (size_t i = 0; i < OBJ + 8; i++)
        for (int m = 0; m < 2; m++) {
            uint8_t x = m ? 0x80 : 0x01;
            int want = i >= HDR && i < OBJ ? HENN_EKEY : HENN_EFORMAT;
            buf[i] ^= x;
            CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), want);
            buf[i] ^= x;
        }
    /* scale: not finite, not positive, subnormal */
    {
        const double bad[] = {NAN, INFINITY, -INFINITY, 0.0, -1.0, 4.9e-324, -1073741824.0};
        uint8_t save[8];
        memcpy(save, buf + OBJ + 8, 8);
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            memcpy(buf + OBJ + 8, &bad[j], 8); /* little-endian host */
            CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        }
        memcpy(buf + OBJ + 8, save, 8);
    }
    /* oversized size and level fields */
    {
        uint8_t save[8];
        memcpy(save, buf + OBJ, 8);
        memset(buf + OBJ, 0xff, 4);
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, P, buf, len), HENN_EFORMAT);
        memcpy(buf + OBJ, save, 8);
        memset(buf + OBJ + 4, 0xff, 4);
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        memcpy(buf + OBJ, save, 8);
        buf[OBJ + 4] = (uint8_t)P->L; /* level L: one past the top */
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        memcpy(buf + OBJ, save, 8);
        buf[OBJ] = 1; /* size 1 */
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        memcpy(buf + OBJ, save, 8);
    }
    /* out-of-range residues: q_0 in c_0's first slot, q_1 in c_1's last */
    {
        uint8_t save[5];
        uint8_t *first = buf + OBJ + 16, *last = buf + len - 4;
        memcpy(save, first, 5);
        for (int b = 0; b < 5; b++)
            first[b] = (uint8_t)(P->q[0] >> (8 * b));
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        for (int b = 0; b < 5; b++)
            first[b] = (uint8_t)((P->q[0] - 1) >> (8 * b)); /* q - 1 is fine */
        CHECK_OK(henn_ckks_ct_deserialize(&back, P, buf, len));
        memcpy(first, save, 5);
        memcpy(save, last, 4);
        for (int b = 0; b < 4; b++)
            last[b] = (uint8_t)(P->q[1] >> (8 * b));
        CHECK_RC(henn_ckks_ct_deserialize(&back, P, buf, len), HENN_EFORMAT);
        CHECK(back.data == NULL);
        memcpy(last, save, 4);
        CHECK_OK(henn_ckks_ct_deserialize(&back, P, buf, len));
        CHECK(ct_equal(&ct, &back));
    }

    /* concatenated objects: serialized_info finds each one's length */
    {
        uint8_t *two = malloc(2 * len);
        memcpy(two, buf, len);
        memcpy(two + len, buf, len);
        CHECK_OK(henn_ckks_serialized_info(&type, &il, P, two, 2 * len));
        CHECK(type == HENN_CKKS_OBJ_CT && il == len);
        CHECK_OK(henn_ckks_serialized_info(&type, &il, P, two + len, len));
        CHECK(il == len);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, P, two + len, len - 1), HENN_EFORMAT);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, &other->params, two, len), HENN_EKEY);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, NULL, two, len), HENN_EINVAL);
        CHECK_RC(henn_ckks_serialized_info(&type, &il, P, two, 11), HENN_EFORMAT);
        free(two);
    }

    /* symmetric ciphertext with its seed: a regenerated, about half the size */
    CHECK_OK(henn_ckks_encrypt_symmetric(&sym, seed, &k->sk, &pt));
    CHECK_OK(henn_ckks_ct_serialize(&sbuf, &slen, &sym, seed));
    CHECK_EQ_INT(sbuf[9], HENN_CKKS_OBJ_CT_SEEDED);
    CHECK_EQ_INT(slen, OBJ + 16 + N * limb_bytes + HENN_CKKS_SEEDBYTES);
    CHECK(slen <= len / 2 + 64);
    CHECK_OK(henn_ckks_ct_deserialize(&back, P, sbuf, slen));
    CHECK(ct_equal(&sym, &back));
    CHECK(max_err(k, &back, v, n) < 1e-4);
    CHECK_OK(henn_ckks_serialized_info(&type, &il, P, sbuf, slen));
    CHECK(type == HENN_CKKS_OBJ_CT_SEEDED && il == slen);
    CHECK_EQ_INT(truncations(P, sbuf, slen), 0);
    /* a seed that is not this ciphertext's is refused */
    seed[0] ^= 1;
    CHECK_RC(henn_ckks_ct_serialize(&buf2, &len2, &sym, seed), HENN_EINVAL);
    CHECK(buf2 == NULL && len2 == 0);
    CHECK_RC(henn_ckks_ct_serialize(&buf2, &len2, &ct, seed), HENN_EINVAL);
    /* another seed in the file gives another a: decryption is garbage */
    sbuf[slen - 1] ^= 1;
    CHECK_OK(henn_ckks_ct_deserialize(&back, P, sbuf, slen));
    CHECK(max_err(k, &back, v, n) > 1.0);
    henn_free(sbuf, slen);

    /* size 3 (after a multiplication) and level 0 (after rescaling) */
    CHECK_OK(henn_ckks_multiply(&prod, &ct, &ct));
    CHECK_OK(henn_ckks_ct_serialize(&buf2, &len2, &prod, NULL));
    CHECK_EQ_INT(len2, OBJ + 16 + 3 * N * limb_bytes);
    CHECK_OK(henn_ckks_ct_deserialize(&back, P, buf2, len2));
    CHECK(ct_equal(&prod, &back));
    CHECK_RC(henn_ckks_ct_serialize(&sbuf, &slen, &prod, seed), HENN_EINVAL);
    henn_free(buf2, len2);
    CHECK_OK(henn_ckks_relinearize(&prod, &prod, &k->rk));
    CHECK_OK(henn_ckks_rescale(&prod, &prod));
    CHECK_EQ_INT(prod.level, 0);
    CHECK_OK(henn_ckks_ct_serialize(&buf2, &len2, &prod, NULL));
    CHECK_EQ_INT(len2, OBJ + 16 + 2 * N * 5);
    CHECK_OK(henn_ckks_ct_deserialize(&back, P, buf2, len2));
    CHECK(ct_equal(&prod, &back));
    CHECK_EQ_DBL(back.scale, prod.scale);
    {
        double *sq = malloc(n * sizeof(*sq));
        for (size_t i = 0; i < n; i++)
            sq[i] = v[i] * v[i];
        CHECK(max_err(k, &back, sq, n) < 1e-3);
        free(sq);
    }
    CHECK_EQ_INT(truncations(P, buf2, len2), 0);
    henn_free(buf2, len2);

    /* a ciphertext object is not a key */
    {
        henn_ckks_pk pk = {0};
        CHECK_RC(henn_ckks_pk_deserialize(&pk, P, buf, len), HENN_EFORMAT);
    }
    /* bad arguments */
    CHECK_RC(henn_ckks_ct_serialize(NULL, &len2, &ct, NULL), HENN_EINVAL);
    CHECK_RC(henn_ckks_ct_serialize(&buf2, &len2, NULL, NULL), HENN_EINVAL);
    CHECK_RC(henn_ckks_ct_deserialize(&back, NULL, buf, len), HENN_EINVAL);
    CHECK_RC(henn_ckks_serialized_info(NULL, &il, P, buf, len), HENN_EINVAL);
    henn_free(buf, len);

    henn_ckks_ct_clear(&prod);
    henn_ckks_ct_clear(&sym);
    henn_ckks_ct_clear(&back);
    henn_ckks_ct_clear(&ct);
    henn_ckks_pt_clear(&d2);
    henn_ckks_pt_clear(&d1);
    henn_ckks_pt_clear(&pt2);
    henn_ckks_pt_clear(&pt);
    free(v);
}

int main(void)
{
    static const int other_chain[] = {36, 25, 36};
    keyset k, other;
    rng_state = test_seed();
    test_params();
    if (keyset_init(&k, chain, 3) != 0 || keyset_init(&other, other_chain, 3) != 0) {
        fprintf(stderr, "key generation failed\n");
        return 1;
    }
    test_keys(&k, &other);
    test_ct(&k, &other);
    keyset_clear(&other);
    keyset_clear(&k);
    return test_report("test_ckks_serialize");
}
