/*
 * CKKS binary formats (include/henn/ckks.h, "serialisation"; docs/CKKS.md).
 *
 * Every object starts with the same 12-byte header:
 *   "HENNCKKS" | version u8 | type u8 | reserved u16 (0)
 * followed, for everything but params, by the 16-byte params fingerprint.
 * Readers check the header, then the fixed fields against the params, then
 * that the buffer has exactly the length those fields imply, and only then
 * allocate; every residue is checked against its prime.
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

#define MAGIC "HENNCKKS"
#define MAGIC_LEN 8
#define HDR_LEN 12
#define FP_LEN HENN_CKKS_FINGERPRINTBYTES
#define OBJ_HDR_LEN (HDR_LEN + FP_LEN) /* header + fingerprint */
/* size u32 | level u32 | scale f64 */
#define CT_FIELDS_LEN 16

/* ------------------------------------------------------------ helpers -- */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_f64(uint8_t *p, double x)
{
    uint64_t v;
    memcpy(&v, &x, sizeof(v));
    put_u64(p, v);
}

static double get_f64(const uint8_t *p)
{
    uint64_t v = get_u64(p);
    double x;
    memcpy(&x, &v, sizeof(x));
    return x;
}

/* a * b, or 0 and *ovf set when it does not fit in size_t. */
static size_t mul_sz(size_t a, size_t b, int *ovf)
{
    if (a != 0 && b > SIZE_MAX / a) {
        *ovf = 1;
        return 0;
    }
    return a * b;
}

static size_t add_sz(size_t a, size_t b, int *ovf)
{
    if (b > SIZE_MAX - a) {
        *ovf = 1;
        return 0;
    }
    return a + b;
}

/* Bytes per residue modulo q: ceil(bits(q) / 8). */
static size_t width_of(uint64_t q)
{
    size_t bits = 0;
    while (q >> bits && bits < 64)
        bits++;
    return (bits + 7) / 8;
}

/* Usable params: built, with a sane shape. */
static int params_ok(const henn_ckks_params *params)
{
    return params != NULL && params->tables != NULL && params->L >= 1 &&
           params->L < HENN_CKKS_MAX_PRIMES && params->N >= ((size_t)1 << HENN_CKKS_MIN_LOGN) &&
           params->N <= ((size_t)1 << HENN_CKKS_MAX_LOGN);
}

/* Bytes of one polynomial over primes 0..nprimes-1. */
static size_t poly_bytes(const henn_ckks_params *params, size_t nprimes)
{
    size_t w = 0;
    for (size_t i = 0; i < nprimes; i++)
        w += width_of(params->q[i]);
    return w * params->N;
}

/* Bytes of one key-switching key: L digits x 2 components x L + 1 primes. */
static size_t ksk_bytes(const henn_ckks_params *params)
{
    return params->L * 2 * poly_bytes(params, params->L + 1);
}

/* Words of one key-switching key. */
static size_t ksk_words(const henn_ckks_params *params)
{
    return params->L * 2 * (params->L + 1) * params->N;
}

/*
 * Write count polynomials of nprimes residue rows each (row i of polynomial
 * c at src + (c * nprimes + i) * N, modulo q_i), each residue in
 * width_of(q_i) bytes. Returns the bytes written.
 */
static size_t put_rows(uint8_t *p, const uint64_t *src, const henn_ckks_params *params,
                       size_t count, size_t nprimes)
{
    const size_t N = params->N;
    uint8_t *start = p;
    for (size_t c = 0; c < count; c++)
        for (size_t i = 0; i < nprimes; i++) {
            const uint64_t *row = src + (c * nprimes + i) * N;
            size_t w = width_of(params->q[i]);
            for (size_t k = 0; k < N; k++) {
                uint64_t v = row[k];
                for (size_t b = 0; b < w; b++)
                    p[b] = (uint8_t)(v >> (8 * b));
                p += w;
            }
        }
    return (size_t)(p - start);
}

/* Inverse of put_rows; HENN_EFORMAT if a residue is not below its prime.
 * The caller has checked the length. */
static int get_rows(uint64_t *dst, const uint8_t *p, const henn_ckks_params *params,
                    size_t count, size_t nprimes)
{
    const size_t N = params->N;
    for (size_t c = 0; c < count; c++)
        for (size_t i = 0; i < nprimes; i++) {
            uint64_t *row = dst + (c * nprimes + i) * N;
            const uint64_t q = params->q[i];
            size_t w = width_of(q);
            uint64_t bad = 0;
            for (size_t k = 0; k < N; k++) {
                uint64_t v = 0;
                for (size_t b = w; b-- > 0;)
                    v = v << 8 | p[b];
                p += w;
                row[k] = v;
                bad |= (uint64_t)(v >= q);
            }
            if (bad)
                return HENN_EFORMAT;
        }
    return 0;
}

static void put_header(uint8_t *p, int type)
{
    memcpy(p, MAGIC, MAGIC_LEN);
    p[8] = HENN_CKKS_FORMAT_VERSION;
    p[9] = (uint8_t)type;
    put_u16(p + 10, 0);
}

/* Magic, version, reserved field; the type byte is returned in *type. */
static int get_header(int *type, const uint8_t *buf, size_t buf_len)
{
    if (buf == NULL || buf_len < HDR_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0 ||
        buf[8] != HENN_CKKS_FORMAT_VERSION || get_u16(buf + 10) != 0)
        return HENN_EFORMAT;
    if (buf[9] < HENN_CKKS_OBJ_PARAMS || buf[9] > HENN_CKKS_OBJ_PT)
        return HENN_EFORMAT;
    *type = buf[9];
    return 0;
}

/* Header of an object of type `want` (or `want2`, if nonzero) made with
 * params: type checked, then the fingerprint (HENN_EKEY). */
static int check_obj_header(int *type, const henn_ckks_params *params, const uint8_t *buf,
                            size_t buf_len, int want, int want2)
{
    uint8_t fp[FP_LEN];
    int t = 0, rc = get_header(&t, buf, buf_len);
    if (rc != 0)
        return rc;
    if (t != want && (want2 == 0 || t != want2))
        return HENN_EFORMAT;
    if (buf_len < OBJ_HDR_LEN)
        return HENN_EFORMAT;
    rc = henn_ckks_params_fingerprint(fp, params);
    if (rc != 0)
        return rc;
    if (sodium_memcmp(fp, buf + HDR_LEN, FP_LEN) != 0)
        return HENN_EKEY;
    *type = t;
    return 0;
}

/* Allocate a buffer of len bytes and write the object header. */
static int new_obj(uint8_t **buf, size_t *buf_len, size_t len, int type,
                   const henn_ckks_params *params)
{
    int rc;
    uint8_t *b = malloc(len);
    if (b == NULL)
        return HENN_ENOMEM;
    put_header(b, type);
    if (type != HENN_CKKS_OBJ_PARAMS) {
        rc = henn_ckks_params_fingerprint(b + HDR_LEN, params);
        if (rc != 0) {
            free(b);
            return rc;
        }
    }
    *buf = b;
    *buf_len = len;
    return 0;
}

static int out_ok(uint8_t **buf, size_t *buf_len)
{
    if (buf == NULL || buf_len == NULL)
        return 0;
    *buf = NULL;
    *buf_len = 0;
    return 1;
}

/* ------------------------------------------------------------- params -- */

/* Params bytes: header | N u32 | count u32 | bits u8 x count | q u64 x count. */
static size_t params_len(size_t count)
{
    return HDR_LEN + 8 + count * 9;
}

static void write_params(uint8_t *b, const henn_ckks_params *params)
{
    size_t count = params->L + 1;
    uint8_t *p = b + HDR_LEN;
    put_header(b, HENN_CKKS_OBJ_PARAMS);
    put_u32(p, (uint32_t)params->N);
    put_u32(p + 4, (uint32_t)count);
    p += 8;
    for (size_t i = 0; i < count; i++)
        p[i] = (uint8_t)params->bits[i];
    p += count;
    for (size_t i = 0; i < count; i++)
        put_u64(p + 8 * i, params->q[i]);
}

int henn_ckks_params_fingerprint(uint8_t fp[HENN_CKKS_FINGERPRINTBYTES],
                                 const henn_ckks_params *params)
{
    uint8_t b[HDR_LEN + 8 + HENN_CKKS_MAX_PRIMES * 9];
    if (fp == NULL || !params_ok(params))
        return HENN_EINVAL;
    write_params(b, params);
    if (crypto_generichash(fp, FP_LEN, b, params_len(params->L + 1), NULL, 0) != 0)
        return HENN_EINVAL;
    return 0;
}

int henn_ckks_params_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_params *params)
{
    int rc;
    if (!out_ok(buf, buf_len) || !params_ok(params))
        return HENN_EINVAL;
    rc = new_obj(buf, buf_len, params_len(params->L + 1), HENN_CKKS_OBJ_PARAMS, params);
    if (rc != 0)
        return rc;
    write_params(*buf, params);
    return 0;
}

/* N and count of a params object, checked for shape (not yet for primes). */
static int read_params_fields(size_t *N, size_t *count, const uint8_t *buf, size_t buf_len)
{
    int t = 0, rc = get_header(&t, buf, buf_len);
    uint32_t n, c;
    if (rc != 0)
        return rc;
    if (t != HENN_CKKS_OBJ_PARAMS || buf_len < HDR_LEN + 8)
        return HENN_EFORMAT;
    n = get_u32(buf + HDR_LEN);
    c = get_u32(buf + HDR_LEN + 4);
    if (n < (1u << HENN_CKKS_MIN_LOGN) || n > (1u << HENN_CKKS_MAX_LOGN) || (n & (n - 1)) != 0)
        return HENN_EFORMAT;
    if (c < 2 || c > HENN_CKKS_MAX_PRIMES)
        return HENN_EFORMAT;
    *N = n;
    *count = c;
    return 0;
}

int henn_ckks_params_deserialize(henn_ckks_params *params, const uint8_t *buf, size_t buf_len,
                                 unsigned flags)
{
    int bits[HENN_CKKS_MAX_PRIMES];
    size_t N = 0, count = 0;
    const uint8_t *p;
    int rc;
    if (params == NULL)
        return HENN_EINVAL;
    henn_ckks_params_clear(params);
    if (buf == NULL || (flags & ~HENN_CKKS_INSECURE) != 0)
        return buf == NULL ? HENN_EFORMAT : HENN_EINVAL;
    rc = read_params_fields(&N, &count, buf, buf_len);
    if (rc != 0)
        return rc;
    if (buf_len != params_len(count))
        return HENN_EFORMAT;
    p = buf + HDR_LEN + 8;
    for (size_t i = 0; i < count; i++) {
        if (p[i] < HENN_CKKS_MIN_PRIME_BITS || p[i] > HENN_CKKS_MAX_PRIME_BITS)
            return HENN_EFORMAT;
        bits[i] = p[i];
    }
    p += count;
    /* each stored prime must have its stated size and be 1 mod 2N before
     * anything is built (a cheap filter; the comparison below decides) */
    for (size_t i = 0; i < count; i++) {
        uint64_t q = get_u64(p + 8 * i);
        if (q >> bits[i] != 0 || q >> (bits[i] - 1) != 1 || q % (2 * N) != 1)
            return HENN_EFORMAT;
    }
    rc = henn_ckks_params_init(params, N, bits, count, flags);
    if (rc == HENN_EINVAL)
        rc = HENN_EFORMAT; /* e.g. too few primes of a size */
    if (rc != 0) {
        henn_ckks_params_clear(params);
        return rc;
    }
    for (size_t i = 0; i < count; i++)
        if (params->q[i] != get_u64(p + 8 * i)) {
            henn_ckks_params_clear(params);
            return HENN_EFORMAT;
        }
    return 0;
}

/* ---------------------------------------------------------- secret key -- */

int henn_ckks_sk_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_sk *sk)
{
    const henn_ckks_params *params;
    uint64_t *row = NULL;
    size_t N, len;
    uint64_t q, bad = 0;
    uint8_t *p;
    int rc;
    if (!out_ok(buf, buf_len) || sk == NULL || !params_ok(sk->params) || sk->s == NULL)
        return HENN_EINVAL;
    params = sk->params;
    N = params->N;
    q = params->q[0];
    len = OBJ_HDR_LEN + N / 4;
    row = malloc(N * sizeof(*row));
    if (row == NULL)
        return HENN_ENOMEM;
    /* s in the coefficient domain modulo q_0: each coefficient 0, 1 or q_0 - 1 */
    memcpy(row, sk->s, N * sizeof(*row));
    henn__ckks_ntt_inverse(row, &params->tables->ntt[0]);
    rc = new_obj(buf, buf_len, len, HENN_CKKS_OBJ_SK, params);
    if (rc != 0)
        goto done;
    p = *buf + OBJ_HDR_LEN;
    memset(p, 0, N / 4);
    for (size_t k = 0; k < N; k++) {
        uint64_t v = row[k];
        uint64_t is0 = (uint64_t)(v == 0), is1 = (uint64_t)(v == 1), ism = (uint64_t)(v == q - 1);
        uint8_t code = (uint8_t)(is1 | ism << 1);
        bad |= 1 ^ (is0 | is1 | ism);
        p[k / 4] = (uint8_t)(p[k / 4] | code << (2 * (k % 4)));
    }
    if (bad) {
        henn_free(*buf, *buf_len);
        *buf = NULL;
        *buf_len = 0;
        rc = HENN_EKEY;
    }
done:
    henn_free(row, N * sizeof(*row));
    return rc;
}

int henn_ckks_sk_deserialize(henn_ckks_sk *sk, const henn_ckks_params *params,
                             const uint8_t *buf, size_t buf_len)
{
    int8_t *x = NULL;
    size_t N, words;
    uint8_t bad = 0;
    int t = 0, rc;
    if (sk == NULL)
        return HENN_EINVAL;
    henn_ckks_sk_clear(sk);
    if (!params_ok(params))
        return HENN_EINVAL;
    rc = check_obj_header(&t, params, buf, buf_len, HENN_CKKS_OBJ_SK, 0);
    if (rc != 0)
        return rc;
    N = params->N;
    if (buf_len != OBJ_HDR_LEN + N / 4)
        return HENN_EFORMAT;
    words = (params->L + 1) * N;
    x = malloc(N);
    sk->s = malloc(words * sizeof(uint64_t));
    if (x == NULL || sk->s == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < N; k++) {
        uint8_t code = (uint8_t)(buf[OBJ_HDR_LEN + k / 4] >> (2 * (k % 4)) & 3);
        /* 0 -> 0, 1 -> 1, 2 -> -1, 3 refused; no branch on the code */
        bad |= (uint8_t)(code == 3);
        x[k] = (int8_t)((int)(code & 1) - (int)(code >> 1 & 1));
    }
    if (bad) {
        rc = HENN_EFORMAT;
        goto done;
    }
    henn__ckks_small_to_rns(sk->s, x, params, NULL, params->L + 1);
    for (size_t i = 0; i <= params->L; i++)
        henn__ckks_ntt_forward(sk->s + i * N, &params->tables->ntt[i]);
    sk->params = params;
done:
    henn_free(x, x != NULL ? N : 0);
    if (rc != 0) {
        henn_free(sk->s, sk->s != NULL ? words * sizeof(uint64_t) : 0);
        memset(sk, 0, sizeof(*sk));
    }
    return rc;
}

/* ---------------------------------------------------------- public key -- */

int henn_ckks_pk_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_pk *pk)
{
    const henn_ckks_params *params;
    int rc;
    if (!out_ok(buf, buf_len) || pk == NULL || !params_ok(pk->params) || pk->data == NULL)
        return HENN_EINVAL;
    params = pk->params;
    rc = new_obj(buf, buf_len, OBJ_HDR_LEN + 2 * poly_bytes(params, params->L + 1),
                 HENN_CKKS_OBJ_PK, params);
    if (rc != 0)
        return rc;
    put_rows(*buf + OBJ_HDR_LEN, pk->data, params, 2, params->L + 1);
    return 0;
}

int henn_ckks_pk_deserialize(henn_ckks_pk *pk, const henn_ckks_params *params,
                             const uint8_t *buf, size_t buf_len)
{
    size_t words;
    int t = 0, rc;
    if (pk == NULL)
        return HENN_EINVAL;
    henn_ckks_pk_clear(pk);
    if (!params_ok(params))
        return HENN_EINVAL;
    rc = check_obj_header(&t, params, buf, buf_len, HENN_CKKS_OBJ_PK, 0);
    if (rc != 0)
        return rc;
    if (buf_len != OBJ_HDR_LEN + 2 * poly_bytes(params, params->L + 1))
        return HENN_EFORMAT;
    words = 2 * (params->L + 1) * params->N;
    pk->data = malloc(words * sizeof(uint64_t));
    if (pk->data == NULL)
        return HENN_ENOMEM;
    rc = get_rows(pk->data, buf + OBJ_HDR_LEN, params, 2, params->L + 1);
    if (rc != 0) {
        free(pk->data);
        memset(pk, 0, sizeof(*pk));
        return rc;
    }
    pk->params = params;
    return 0;
}

/* -------------------------------------------------- key-switching keys -- */

int henn_ckks_relin_key_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_relin_key *rk)
{
    const henn_ckks_params *params;
    int rc;
    if (!out_ok(buf, buf_len) || rk == NULL || !params_ok(rk->ksk.params) ||
        rk->ksk.data == NULL)
        return HENN_EINVAL;
    params = rk->ksk.params;
    rc = new_obj(buf, buf_len, OBJ_HDR_LEN + ksk_bytes(params), HENN_CKKS_OBJ_RELIN_KEY, params);
    if (rc != 0)
        return rc;
    put_rows(*buf + OBJ_HDR_LEN, rk->ksk.data, params, 2 * params->L, params->L + 1);
    return 0;
}

int henn_ckks_relin_key_deserialize(henn_ckks_relin_key *rk, const henn_ckks_params *params,
                                    const uint8_t *buf, size_t buf_len)
{
    int t = 0, rc;
    if (rk == NULL)
        return HENN_EINVAL;
    henn_ckks_relin_key_clear(rk);
    if (!params_ok(params))
        return HENN_EINVAL;
    rc = check_obj_header(&t, params, buf, buf_len, HENN_CKKS_OBJ_RELIN_KEY, 0);
    if (rc != 0)
        return rc;
    if (buf_len != OBJ_HDR_LEN + ksk_bytes(params))
        return HENN_EFORMAT;
    rk->ksk.data = malloc(ksk_words(params) * sizeof(uint64_t));
    if (rk->ksk.data == NULL)
        return HENN_ENOMEM;
    rc = get_rows(rk->ksk.data, buf + OBJ_HDR_LEN, params, 2 * params->L, params->L + 1);
    if (rc != 0) {
        free(rk->ksk.data);
        memset(rk, 0, sizeof(*rk));
        return rc;
    }
    rk->ksk.params = params;
    return 0;
}

/* Galois keys: header | fp | count u32 | elts u32 x count | keys. */
static int galois_len(size_t *len, const henn_ckks_params *params, size_t count)
{
    int ovf = 0;
    size_t l = add_sz(OBJ_HDR_LEN + 4, mul_sz(4, count, &ovf), &ovf);
    l = add_sz(l, mul_sz(count, ksk_bytes(params), &ovf), &ovf);
    if (ovf)
        return HENN_EFORMAT;
    *len = l;
    return 0;
}

int henn_ckks_galois_keys_serialize(uint8_t **buf, size_t *buf_len,
                                    const henn_ckks_galois_keys *gk)
{
    const henn_ckks_params *params;
    size_t len = 0;
    uint8_t *p;
    int rc;
    if (!out_ok(buf, buf_len) || gk == NULL || !params_ok(gk->params) ||
        gk->count > gk->params->N || (gk->count > 0 && (gk->elts == NULL || gk->keys == NULL)))
        return HENN_EINVAL;
    params = gk->params;
    for (size_t j = 0; j < gk->count; j++)
        if (gk->keys[j].data == NULL || gk->keys[j].params != params)
            return HENN_EINVAL;
    rc = galois_len(&len, params, gk->count);
    if (rc != 0)
        return HENN_ENOMEM;
    rc = new_obj(buf, buf_len, len, HENN_CKKS_OBJ_GALOIS_KEYS, params);
    if (rc != 0)
        return rc;
    p = *buf + OBJ_HDR_LEN;
    put_u32(p, (uint32_t)gk->count);
    p += 4;
    for (size_t j = 0; j < gk->count; j++, p += 4)
        put_u32(p, gk->elts[j]);
    for (size_t j = 0; j < gk->count; j++)
        p += put_rows(p, gk->keys[j].data, params, 2 * params->L, params->L + 1);
    return 0;
}

/* Count and elements of a Galois key object: odd, below 2N, distinct. */
static int read_galois_elts(size_t *count, const henn_ckks_params *params, const uint8_t *buf,
                            size_t buf_len)
{
    uint32_t c;
    const uint8_t *p;
    uint8_t *seen;
    int rc = 0;
    if (buf_len < OBJ_HDR_LEN + 4)
        return HENN_EFORMAT;
    c = get_u32(buf + OBJ_HDR_LEN);
    if (c > params->N || buf_len < OBJ_HDR_LEN + 4 + 4 * (size_t)c)
        return HENN_EFORMAT;
    seen = calloc(2 * params->N, 1);
    if (seen == NULL)
        return HENN_ENOMEM;
    p = buf + OBJ_HDR_LEN + 4;
    for (size_t j = 0; j < c && rc == 0; j++) {
        uint32_t g = get_u32(p + 4 * j);
        if ((g & 1) == 0 || g >= 2 * params->N || seen[g])
            rc = HENN_EFORMAT;
        else
            seen[g] = 1;
    }
    free(seen);
    if (rc == 0)
        *count = c;
    return rc;
}

int henn_ckks_galois_keys_deserialize(henn_ckks_galois_keys *gk, const henn_ckks_params *params,
                                      const uint8_t *buf, size_t buf_len)
{
    size_t count = 0, len = 0, j;
    const uint8_t *p;
    int t = 0, rc;
    if (gk == NULL)
        return HENN_EINVAL;
    henn_ckks_galois_keys_clear(gk);
    if (!params_ok(params))
        return HENN_EINVAL;
    rc = check_obj_header(&t, params, buf, buf_len, HENN_CKKS_OBJ_GALOIS_KEYS, 0);
    if (rc == 0)
        rc = read_galois_elts(&count, params, buf, buf_len);
    if (rc == 0)
        rc = galois_len(&len, params, count);
    if (rc != 0)
        return rc;
    if (buf_len != len)
        return HENN_EFORMAT;
    gk->params = params;
    if (count == 0)
        return 0;
    gk->elts = malloc(count * sizeof(*gk->elts));
    gk->keys = calloc(count, sizeof(*gk->keys));
    if (gk->elts == NULL || gk->keys == NULL) {
        rc = HENN_ENOMEM;
        goto fail;
    }
    p = buf + OBJ_HDR_LEN + 4;
    for (j = 0; j < count; j++, p += 4)
        gk->elts[j] = get_u32(p);
    gk->count = count;
    for (j = 0; j < count; j++) {
        gk->keys[j].data = malloc(ksk_words(params) * sizeof(uint64_t));
        if (gk->keys[j].data == NULL) {
            rc = HENN_ENOMEM;
            goto fail;
        }
        gk->keys[j].params = params;
        rc = get_rows(gk->keys[j].data, p, params, 2 * params->L, params->L + 1);
        if (rc != 0)
            goto fail;
        p += ksk_bytes(params);
    }
    return 0;
fail:
    /* allocated here with malloc: freed here (key data is public) */
    if (gk->keys != NULL)
        for (j = 0; j < count; j++)
            free(gk->keys[j].data);
    free(gk->keys);
    free(gk->elts);
    memset(gk, 0, sizeof(*gk));
    return rc;
}

/* ---------------------------------------------- ciphertexts, plaintexts -- */

/* Fixed fields of a ciphertext or plaintext: size u32 | level u32 | scale
 * f64. For a plaintext size is 0 (reserved). */
static int read_ct_fields(size_t *size, size_t *level, double *scale,
                          const henn_ckks_params *params, const uint8_t *buf, size_t buf_len,
                          int type)
{
    const uint8_t *p = buf + OBJ_HDR_LEN;
    uint32_t sz, lv;
    double sc;
    if (buf_len < OBJ_HDR_LEN + CT_FIELDS_LEN)
        return HENN_EFORMAT;
    sz = get_u32(p);
    lv = get_u32(p + 4);
    sc = get_f64(p + 8);
    if (type == HENN_CKKS_OBJ_PT ? sz != 0
                                 : (sz < 2 || sz > 3 || (type == HENN_CKKS_OBJ_CT_SEEDED && sz != 2)))
        return HENN_EFORMAT;
    if (lv >= params->L)
        return HENN_EFORMAT;
    if (!isfinite(sc) || !(sc > 0) || !isnormal(sc))
        return HENN_EFORMAT;
    *size = sz;
    *level = lv;
    *scale = sc;
    return 0;
}

/* Total bytes of a ciphertext / plaintext object. */
static size_t ct_len(const henn_ckks_params *params, int type, size_t size, size_t level)
{
    size_t pb = poly_bytes(params, level + 1);
    size_t base = OBJ_HDR_LEN + CT_FIELDS_LEN;
    if (type == HENN_CKKS_OBJ_PT)
        return base + pb;
    if (type == HENN_CKKS_OBJ_CT_SEEDED)
        return base + pb + HENN_CKKS_SEEDBYTES;
    return base + size * pb;
}

static int ct_ok(const henn_ckks_ct *ct)
{
    return ct != NULL && params_ok(ct->params) && ct->data != NULL && ct->size >= 2 &&
           ct->size <= 3 && ct->level < ct->params->L && isfinite(ct->scale) && ct->scale > 0;
}

int henn_ckks_ct_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_ct *ct,
                           const uint8_t *seed)
{
    const henn_ckks_params *params;
    size_t nprimes, words;
    uint8_t *p;
    int type, rc;
    if (!out_ok(buf, buf_len) || !ct_ok(ct) || (seed != NULL && ct->size != 2))
        return HENN_EINVAL;
    params = ct->params;
    nprimes = ct->level + 1;
    words = nprimes * params->N;
    if (seed != NULL) {
        /* the seed must stand for this ciphertext's a */
        uint64_t *a = malloc(words * sizeof(*a));
        int same;
        if (a == NULL)
            return HENN_ENOMEM;
        henn__ckks_expand_uniform(a, seed, HENN__CKKS_DOMAIN_CT, params, NULL, nprimes);
        same = memcmp(a, henn__ckks_ct_poly(ct, 1, 0), words * sizeof(*a)) == 0;
        free(a);
        if (!same)
            return HENN_EINVAL;
    }
    type = seed != NULL ? HENN_CKKS_OBJ_CT_SEEDED : HENN_CKKS_OBJ_CT;
    rc = new_obj(buf, buf_len, ct_len(params, type, ct->size, ct->level), type, params);
    if (rc != 0)
        return rc;
    p = *buf + OBJ_HDR_LEN;
    put_u32(p, (uint32_t)ct->size);
    put_u32(p + 4, (uint32_t)ct->level);
    put_f64(p + 8, ct->scale);
    p += CT_FIELDS_LEN;
    if (seed != NULL) {
        p += put_rows(p, ct->data, params, 1, nprimes);
        memcpy(p, seed, HENN_CKKS_SEEDBYTES);
    } else {
        put_rows(p, ct->data, params, ct->size, nprimes);
    }
    return 0;
}

int henn_ckks_ct_deserialize(henn_ckks_ct *ct, const henn_ckks_params *params,
                             const uint8_t *buf, size_t buf_len)
{
    size_t size = 0, level = 0, nprimes;
    double scale = 0;
    const uint8_t *p;
    int type = 0, rc;
    if (ct == NULL)
        return HENN_EINVAL;
    if (!params_ok(params)) {
        henn_ckks_ct_clear(ct);
        return HENN_EINVAL;
    }
    rc = check_obj_header(&type, params, buf, buf_len, HENN_CKKS_OBJ_CT, HENN_CKKS_OBJ_CT_SEEDED);
    if (rc == 0)
        rc = read_ct_fields(&size, &level, &scale, params, buf, buf_len, type);
    if (rc == 0 && buf_len != ct_len(params, type, size, level))
        rc = HENN_EFORMAT;
    if (rc == 0)
        rc = henn__ckks_ct_reserve(ct, params, size, level, scale);
    if (rc != 0)
        goto fail;
    nprimes = level + 1;
    p = buf + OBJ_HDR_LEN + CT_FIELDS_LEN;
    if (type == HENN_CKKS_OBJ_CT_SEEDED) {
        rc = get_rows(ct->data, p, params, 1, nprimes);
        p += poly_bytes(params, nprimes);
        if (rc == 0)
            henn__ckks_expand_uniform(henn__ckks_ct_poly(ct, 1, 0), p, HENN__CKKS_DOMAIN_CT,
                                      params, NULL, nprimes);
    } else {
        rc = get_rows(ct->data, p, params, size, nprimes);
    }
    if (rc == 0)
        return 0;
fail:
    henn_ckks_ct_clear(ct);
    return rc;
}

int henn_ckks_pt_serialize(uint8_t **buf, size_t *buf_len, const henn_ckks_pt *pt)
{
    const henn_ckks_params *params;
    uint8_t *p;
    int rc;
    if (!out_ok(buf, buf_len) || pt == NULL || !params_ok(pt->params) || pt->data == NULL ||
        pt->level >= pt->params->L || !isfinite(pt->scale) || !(pt->scale > 0))
        return HENN_EINVAL;
    params = pt->params;
    rc = new_obj(buf, buf_len, ct_len(params, HENN_CKKS_OBJ_PT, 0, pt->level), HENN_CKKS_OBJ_PT,
                 params);
    if (rc != 0)
        return rc;
    p = *buf + OBJ_HDR_LEN;
    put_u32(p, 0);
    put_u32(p + 4, (uint32_t)pt->level);
    put_f64(p + 8, pt->scale);
    put_rows(p + CT_FIELDS_LEN, pt->data, params, 1, pt->level + 1);
    return 0;
}

int henn_ckks_pt_deserialize(henn_ckks_pt *pt, const henn_ckks_params *params,
                             const uint8_t *buf, size_t buf_len)
{
    size_t size = 0, level = 0;
    double scale = 0;
    int type = 0, rc;
    if (pt == NULL)
        return HENN_EINVAL;
    if (!params_ok(params)) {
        henn_ckks_pt_clear(pt);
        return HENN_EINVAL;
    }
    rc = check_obj_header(&type, params, buf, buf_len, HENN_CKKS_OBJ_PT, 0);
    if (rc == 0)
        rc = read_ct_fields(&size, &level, &scale, params, buf, buf_len, type);
    if (rc == 0 && buf_len != ct_len(params, type, size, level))
        rc = HENN_EFORMAT;
    if (rc == 0)
        rc = henn__ckks_pt_reserve(pt, params, level, scale);
    if (rc == 0)
        rc = get_rows(pt->data, buf + OBJ_HDR_LEN + CT_FIELDS_LEN, params, 1, level + 1);
    if (rc != 0)
        henn_ckks_pt_clear(pt);
    return rc;
}

/* ---------------------------------------------------------------- info -- */

int henn_ckks_serialized_info(int *type, size_t *len, const henn_ckks_params *params,
                              const uint8_t *buf, size_t buf_len)
{
    size_t l = 0, N = 0, count = 0, size = 0, level = 0;
    double scale = 0;
    int t = 0, rc;
    if (type == NULL || len == NULL)
        return HENN_EINVAL;
    *type = 0;
    *len = 0;
    rc = get_header(&t, buf, buf_len);
    if (rc != 0)
        return rc;
    if (t == HENN_CKKS_OBJ_PARAMS) {
        rc = read_params_fields(&N, &count, buf, buf_len);
        if (rc != 0)
            return rc;
        l = params_len(count);
    } else {
        if (!params_ok(params))
            return HENN_EINVAL;
        rc = check_obj_header(&t, params, buf, buf_len, t, 0);
        if (rc != 0)
            return rc;
        switch (t) {
        case HENN_CKKS_OBJ_SK:
            l = OBJ_HDR_LEN + params->N / 4;
            break;
        case HENN_CKKS_OBJ_PK:
            l = OBJ_HDR_LEN + 2 * poly_bytes(params, params->L + 1);
            break;
        case HENN_CKKS_OBJ_RELIN_KEY:
            l = OBJ_HDR_LEN + ksk_bytes(params);
            break;
        case HENN_CKKS_OBJ_GALOIS_KEYS:
            rc = read_galois_elts(&count, params, buf, buf_len);
            if (rc == 0)
                rc = galois_len(&l, params, count);
            break;
        default: /* ciphertexts and plaintexts */
            rc = read_ct_fields(&size, &level, &scale, params, buf, buf_len, t);
            if (rc == 0)
                l = ct_len(params, t, size, level);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (l > buf_len)
        return HENN_EFORMAT;
    *type = t;
    *len = l;
    return 0;
}
