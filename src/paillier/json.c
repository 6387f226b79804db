/*
 * python-paillier's JSON formats (pheutil and the phe documentation),
 * read and written with jansson. jansson was chosen over cJSON because it
 * rejects duplicate keys, reports integers that do not fit in 64 bits as
 * errors instead of silently rounding them through a double (cJSON stores
 * every number as a double), and keeps key order, so our output matches
 * Python's json.dumps field for field.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>

#include "paillier_internal.h"

#define MAX_JSON (16u << 20)
#define MAX_VECTOR 1000000u

/* ------------------------------------------------------------- helpers -- */

/* Unpadded base64url of the minimal big-endian bytes of x > 0. */
char *henn__paillier_b64_of_mpz(const mpz_t x)
{
    size_t len = (mpz_sizeinbase(x, 2) + 7) / 8, count = 0, b64len;
    uint8_t *bin;
    char *out;
    if (mpz_sgn(x) <= 0)
        return NULL;
    bin = malloc(len);
    if (bin == NULL)
        return NULL;
    mpz_export(bin, &count, 1, 1, 1, 0, x);
    b64len = sodium_base64_encoded_len(count, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out = malloc(b64len);
    if (out != NULL)
        sodium_bin2base64(out, b64len, bin, count, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    henn_memzero(bin, len);
    free(bin);
    return out;
}

/* x = the integer in an unpadded base64url string; zero is not allowed. */
int henn__paillier_mpz_of_b64(mpz_t x, const char *s)
{
    size_t slen = strlen(s), cap = slen * 3 / 4 + 3, len = 0;
    uint8_t *bin;
    int rc = 0;
    if (slen == 0 || slen > (2 * HENN_PAILLIER_MAX_BITS + 5) / 6) /* n^2 at most */
        return HENN_EFORMAT;
    bin = malloc(cap);
    if (bin == NULL)
        return HENN_ENOMEM;
    if (sodium_base642bin(bin, cap, s, slen, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len == 0)
        rc = HENN_EFORMAT;
    else
        mpz_import(x, len, 1, 1, 1, 0, bin);
    if (rc == 0 && mpz_sgn(x) == 0)
        rc = HENN_EFORMAT;
    henn_memzero(bin, cap);
    free(bin);
    return rc;
}

/* Decimal string to mpz: digits only, no sign, no leading '+' or spaces. */
static int mpz_of_dec(mpz_t x, const char *s)
{
    size_t i, len = strlen(s);
    if (len == 0 || len > 10000)
        return HENN_EFORMAT;
    for (i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return HENN_EFORMAT;
    return mpz_set_str(x, s, 10) == 0 ? 0 : HENN_EFORMAT;
}

/*
 * Python's json.dumps writes big ints as bare numbers ({"n": 2519...}).
 * jansson refuses integers above 64 bits, so before parsing, integer
 * literals of more than 18 digits outside strings are turned into strings
 * that start with a NUL character ("\u0000" then the digits). Input that
 * has "\u0000" inside a string of its own is refused (NULL), so that
 * marker means "a bare number" and nothing else: readers that take C
 * strings see "" (refused everywhere a string is required, as a
 * public key's "n", which phe's base64_to_int only takes as a string), and
 * big_number() reads the digits where a bare number is allowed.
 * Returns a new NUL-terminated buffer (caller frees) or NULL.
 */
static char *quote_big_ints(const char *in, size_t len, size_t *out_len)
{
    /* each quoted token has >= 19 characters and gains 8 */
    char *out = malloc(len + len / 2 + 9), *o = out;
    size_t i = 0;
    int in_str = 0;
    if (out == NULL)
        return NULL;
    while (i < len) {
        char ch = in[i];
        if (in_str) {
            *o++ = ch;
            if (ch == '\\' && i + 5 < len && memcmp(in + i + 1, "u0000", 5) == 0) {
                free(out);
                return NULL;
            }
            if (ch == '\\' && i + 1 < len) {
                *o++ = in[++i];
            } else if (ch == '"') {
                in_str = 0;
            }
            i++;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
            *o++ = ch;
            i++;
            continue;
        }
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
            /* a whole number token: sign, digits, fraction, exponent */
            size_t j = i, digits = 0;
            int integer = 1;
            while (j < len && ((in[j] >= '0' && in[j] <= '9') || in[j] == '-' || in[j] == '+' ||
                               in[j] == '.' || in[j] == 'e' || in[j] == 'E')) {
                if (in[j] >= '0' && in[j] <= '9')
                    digits++;
                else if (j > i || in[j] != '-')
                    integer = 0;
                j++;
            }
            if (integer && digits > 18) {
                memcpy(o, "\"\\u0000", 7);
                o += 7;
            }
            memcpy(o, in + i, j - i);
            o += j - i;
            if (integer && digits > 18)
                *o++ = '"';
            i = j;
            continue;
        }
        *o++ = ch;
        i++;
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

static json_t *parse(const char *text, size_t len)
{
    json_error_t err;
    size_t qlen = 0;
    char *q;
    json_t *root;
    if (text == NULL || len == 0 || len > MAX_JSON)
        return NULL;
    q = quote_big_ints(text, len, &qlen);
    if (q == NULL)
        return NULL;
    root = json_loadb(q, qlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    henn_memzero(q, qlen);
    free(q);
    if (root != NULL && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

/* A copy of jansson's ensure-ASCII text s with Python's escapes (see
 * dump); *len: in, strlen(s); out, the copy's length. NULL: no memory. */
static char *python_escapes(const char *s, size_t *len)
{
    size_t i, dels = 0, o = 0, n = *len;
    char *copy;
    for (i = 0; i < n; i++)
        dels += s[i] == 0x7f;
    copy = malloc(n + 5 * dels + 1);
    if (copy == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == 0x7f) {
            memcpy(copy + o, "\\u007f", 6);
            o += 6;
        } else if (s[i] == '\\' && i + 1 < n) {
            copy[o++] = s[i++];
            copy[o++] = s[i];
            if (s[i] == 'u' && i + 4 < n) { /* \uXXXX: lower-case hex */
                for (size_t h = 1; h <= 4; h++)
                    copy[o++] = (char)(s[i + h] >= 'A' && s[i + h] <= 'F' ? s[i + h] + 32
                                                                          : s[i + h]);
                i += 4;
            }
        } else {
            copy[o++] = s[i];
        }
    }
    copy[o] = '\0';
    *len = o;
    return copy;
}

/*
 * Serialise with Python's default separators (", " and ": ") and escapes
 * (json.dumps with ensure_ascii): jansson's JSON_ENSURE_ASCII writes
 * \uXXXX (surrogate pairs above U+FFFF) in upper case and leaves DEL
 * (0x7f) raw; Python writes lower-case hex and escapes DEL as \u007f.
 * The text is copied into a malloc'd buffer (released by henn_free) with
 * those two differences fixed, and jansson's own copy is wiped and handed
 * back to jansson's allocator.
 */
static int dump(char **json, size_t *json_len, json_t *root)
{
    json_malloc_t jmalloc;
    json_free_t jfree;
    char *s, *copy;
    size_t len;
    *json = NULL;
    *json_len = 0;
    if (root == NULL)
        return HENN_ENOMEM;
    s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(root);
    if (s == NULL)
        return HENN_ENOMEM;
    len = strlen(s);
    copy = python_escapes(s, &len);
    henn_memzero(s, strlen(s));
    json_get_alloc_funcs(&jmalloc, &jfree);
    jfree(s);
    if (copy == NULL)
        return HENN_ENOMEM;
    *json = copy;
    *json_len = len;
    return 0;
}

static int set_new(json_t *obj, const char *key, json_t *value)
{
    return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

static int set_b64(json_t *obj, const char *key, const mpz_t x)
{
    char *s = henn__paillier_b64_of_mpz(x);
    int rc;
    if (s == NULL)
        return -1;
    rc = set_new(obj, key, json_string(s));
    henn_memzero(s, strlen(s));
    free(s);
    return rc;
}

/* A string member as a C string. A bare big number (see quote_big_ints)
 * reads as "", which every caller refuses. */
static const char *get_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---------------------------------------------------------- public key -- */

static json_t *pk_object(const henn_paillier_pk *pk, const char *kid)
{
    json_t *o = json_object(), *ops = json_array();
    if (o == NULL || ops == NULL || json_array_append_new(ops, json_string("encrypt")) != 0 ||
        set_new(o, "kty", json_string("DAJ")) != 0 ||
        set_new(o, "alg", json_string("PAI-GN1")) != 0 || set_new(o, "key_ops", ops) != 0 ||
        set_b64(o, "n", pk->n) != 0 ||
        set_new(o, "kid", json_string(kid != NULL ? kid : "henn paillier public key")) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* HENN_EINVAL when kid is not valid UTF-8 (jansson's json_string refuses it). */
static int check_kid(const char *kid)
{
    json_t *t;
    if (kid == NULL)
        return 0;
    t = json_string(kid);
    if (t == NULL)
        return HENN_EINVAL;
    json_decref(t);
    return 0;
}

int henn_paillier_pk_to_json(char **json, size_t *json_len, const henn_paillier_pk *pk,
                             const char *kid)
{
    int rc = check_kid(kid);
    if (rc != 0) {
        *json = NULL;
        *json_len = 0;
        return rc;
    }
    return dump(json, json_len, pk_object(pk, kid));
}

static int pk_from_object(henn_paillier_pk *pk, json_t *o, unsigned flags)
{
    const char *kty = get_str(o, "kty"), *alg = get_str(o, "alg"), *n64 = get_str(o, "n");
    mpz_t n;
    int rc;
    if (!json_is_object(o) || kty == NULL || alg == NULL || n64 == NULL ||
        strcmp(kty, "DAJ") != 0 || strcmp(alg, "PAI-GN1") != 0)
        return HENN_EFORMAT;
    mpz_init(n);
    rc = henn__paillier_mpz_of_b64(n, n64);
    if (rc == 0)
        rc = henn_paillier_pk_from_n(pk, n, flags);
    mpz_clear(n);
    return rc;
}

int henn_paillier_pk_from_json(henn_paillier_pk *pk, const char *json, size_t json_len,
                               unsigned flags)
{
    json_t *root = parse(json, json_len);
    int rc;
    if (root == NULL)
        return HENN_EFORMAT;
    rc = pk_from_object(pk, root, flags);
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------- secret key -- */

int henn_paillier_sk_to_json(char **json, size_t *json_len, const henn_paillier_sk *sk,
                             const char *kid)
{
    json_t *o, *ops, *pub;
    int rc = check_kid(kid);
    *json = NULL;
    *json_len = 0;
    if (rc != 0)
        return rc;
    o = json_object();
    ops = json_array();
    pub = pk_object(&sk->pk, kid);
    if (o == NULL || ops == NULL || pub == NULL ||
        json_array_append_new(ops, json_string("decrypt")) != 0 ||
        set_new(o, "kty", json_string("DAJ")) != 0 || set_new(o, "key_ops", ops) != 0 ||
        set_b64(o, "p", sk->p) != 0 || set_b64(o, "q", sk->q) != 0 ||
        set_b64(o, "lambda", sk->lambda) != 0 || set_b64(o, "mu", sk->mu) != 0 ||
        set_new(o, "pub", pub) != 0 ||
        set_new(o, "kid", json_string(kid != NULL ? kid : "henn paillier private key")) != 0) {
        json_decref(o);
        return HENN_ENOMEM;
    }
    rc = dump(json, json_len, o);
    return rc;
}

int henn_paillier_sk_from_json(henn_paillier_sk *sk, const char *json, size_t json_len,
                               unsigned flags)
{
    json_t *root = parse(json, json_len), *ops, *op;
    henn_paillier_pk pub;
    const char *kty, *p64, *q64, *l64, *mu64;
    mpz_t p, q, lambda, mu;
    size_t i;
    int rc, has_decrypt = 0;

    if (root == NULL)
        return HENN_EFORMAT;
    henn_paillier_pk_init(&pub);
    mpz_inits(p, q, lambda, mu, NULL);
    kty = get_str(root, "kty");
    p64 = get_str(root, "p");
    q64 = get_str(root, "q");
    l64 = get_str(root, "lambda");
    mu64 = get_str(root, "mu");
    ops = json_object_get(root, "key_ops");
    rc = HENN_EFORMAT;
    if (kty == NULL || strcmp(kty, "DAJ") != 0 || !json_is_array(ops))
        goto cleanup;
    json_array_foreach(ops, i, op) {
        if (json_is_string(op) && strcmp(json_string_value(op), "decrypt") == 0)
            has_decrypt = 1;
    }
    if (!has_decrypt)
        goto cleanup;
    rc = pk_from_object(&pub, json_object_get(root, "pub"), flags);
    if (rc != 0)
        goto cleanup;
    if (p64 != NULL && q64 != NULL) {
        rc = henn__paillier_mpz_of_b64(p, p64);
        if (rc == 0)
            rc = henn__paillier_mpz_of_b64(q, q64);
    } else if (l64 != NULL && mu64 != NULL) {
        rc = henn__paillier_mpz_of_b64(lambda, l64);
        if (rc == 0)
            rc = henn__paillier_mpz_of_b64(mu, mu64);
        if (rc == 0)
            rc = henn__paillier_factor_from_lambda(p, q, pub.n, lambda);
    } else {
        rc = HENN_EFORMAT;
    }
    if (rc != 0)
        goto cleanup;
    rc = henn_paillier_sk_from_primes(sk, p, q, flags);
    if (rc == 0 && !henn_paillier_pk_equal(&sk->pk, &pub))
        rc = HENN_EKEY; /* p * q is not the public n */
    if (rc == 0 && mu64 != NULL && mpz_sgn(mu) != 0 && mpz_cmp(mu, sk->mu) != 0) {
        /* lambda/mu given: mu must match the lambda of the factored key or
         * the lambda given (any multiple of lcm(p-1, q-1) works with its mu). */
        mpz_t m2;
        mpz_init(m2);
        if (mpz_sgn(lambda) == 0 || mpz_invert(m2, lambda, sk->pk.n) == 0 ||
            mpz_cmp(m2, mu) != 0)
            rc = HENN_EKEY;
        mpz_clear(m2);
    }
    if (rc != 0) {
        henn_paillier_sk_clear(sk);
        henn_paillier_sk_init(sk);
    }
cleanup:
    henn__mpz_wipe_clear(p);
    henn__mpz_wipe_clear(q);
    henn__mpz_wipe_clear(lambda);
    henn__mpz_wipe_clear(mu);
    henn_paillier_pk_clear(&pub);
    json_decref(root); /* jansson does not wipe: the text held p and q */
    return rc;
}

/* ---------------------------------------------------------- ciphertext -- */

static json_t *dec_string(const mpz_t x)
{
    char *s = mpz_get_str(NULL, 10, x);
    json_t *j;
    void (*gmp_free)(void *, size_t);
    if (s == NULL)
        return NULL;
    j = json_string(s);
    mp_get_memory_functions(NULL, NULL, &gmp_free);
    gmp_free(s, strlen(s) + 1);
    return j;
}

int henn_paillier_ct_to_json(char **json, size_t *json_len, const henn_paillier_ct *ct)
{
    json_t *o = json_object();
    if (o == NULL || set_new(o, "v", dec_string(ct->c)) != 0 ||
        set_new(o, "e", json_integer(ct->exponent)) != 0) {
        json_decref(o);
        return HENN_ENOMEM;
    }
    return dump(json, json_len, o);
}

static int ct_set(henn_paillier_ct *ct, const henn_paillier_pk *pk, json_t *v, json_t *e)
{
    json_int_t ei;
    int rc;
    if (!json_is_string(v) || !json_is_integer(e))
        return HENN_EFORMAT;
    ei = json_integer_value(e);
    if (ei > (1 << 24) || ei < -(1 << 24))
        return HENN_ERANGE;
    rc = mpz_of_dec(ct->c, json_string_value(v));
    if (rc != 0)
        return rc;
    ct->exponent = (int)ei;
    memcpy(ct->kid, pk->kid, sizeof(ct->kid));
    return henn_paillier_ct_validate(pk, ct);
}

int henn_paillier_ct_from_json(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                               const char *json, size_t json_len)
{
    json_t *root = parse(json, json_len);
    int rc;
    if (root == NULL)
        return HENN_EFORMAT;
    rc = ct_set(ct, pk, json_object_get(root, "v"), json_object_get(root, "e"));
    json_decref(root);
    if (rc != 0) {
        mpz_set_ui(ct->c, 0);
        ct->exponent = 0;
    }
    return rc;
}

/* -------------------------------------------------------------- vector -- */

int henn_paillier_vector_to_json(char **json, size_t *json_len, const henn_paillier_pk *pk,
                                 const henn_paillier_ct *ct, size_t count)
{
    json_t *o = json_object(), *pub = json_object(), *vals = json_array();
    size_t i;
    if (o == NULL || pub == NULL || vals == NULL || set_new(pub, "n", dec_string(pk->n)) != 0 ||
        set_new(o, "public_key", pub) != 0) {
        json_decref(o);
        json_decref(vals);
        return HENN_ENOMEM;
    }
    pub = NULL;
    for (i = 0; i < count; i++) {
        json_t *pair;
        if (!henn__paillier_same_key(pk, ct[i].kid)) {
            json_decref(o);
            json_decref(vals);
            return HENN_EKEY;
        }
        pair = json_array();
        if (pair == NULL || json_array_append_new(pair, dec_string(ct[i].c)) != 0 ||
            json_array_append_new(pair, json_integer(ct[i].exponent)) != 0 ||
            json_array_append_new(vals, pair) != 0) {
            json_decref(o);
            json_decref(vals);
            return HENN_ENOMEM;
        }
    }
    if (set_new(o, "values", vals) != 0) {
        json_decref(o);
        return HENN_ENOMEM;
    }
    return dump(json, json_len, o);
}

int henn_paillier_vector_from_json(henn_paillier_ct **ct, size_t *count,
                                   const henn_paillier_pk *pk, const char *json, size_t json_len)
{
    json_t *root = parse(json, json_len), *pub, *n, *vals, *pair;
    henn_paillier_ct *out = NULL;
    size_t i, len = 0;
    mpz_t nn;
    int rc = HENN_EFORMAT;

    *ct = NULL;
    *count = 0;
    if (root == NULL)
        return HENN_EFORMAT;
    mpz_init(nn);
    pub = json_object_get(root, "public_key");
    n = json_is_object(pub) ? json_object_get(pub, "n") : NULL;
    vals = json_object_get(root, "values");
    if (n == NULL || !json_is_array(vals))
        goto cleanup;
    if (json_is_string(n) && json_string_length(n) > 1 && json_string_value(n)[0] == '\0')
        rc = mpz_of_dec(nn, json_string_value(n) + 1); /* a bare big number */
    else if (json_is_string(n))
        rc = mpz_of_dec(nn, json_string_value(n));
    else if (json_is_integer(n) && json_integer_value(n) > 0)
        rc = (mpz_set_ui(nn, (unsigned long)json_integer_value(n)), 0);
    if (rc != 0)
        goto cleanup;
    if (mpz_cmp(nn, pk->n) != 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    len = json_array_size(vals);
    if (len > MAX_VECTOR) {
        rc = HENN_EFORMAT;
        goto cleanup;
    }
    out = calloc(len ? len : 1, sizeof(*out));
    if (out == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < len; i++)
        henn_paillier_ct_init(&out[i]);
    json_array_foreach(vals, i, pair) {
        if (!json_is_array(pair) || json_array_size(pair) != 2) {
            rc = HENN_EFORMAT;
            goto cleanup;
        }
        rc = ct_set(&out[i], pk, json_array_get(pair, 0), json_array_get(pair, 1));
        if (rc != 0)
            goto cleanup;
    }
    *ct = out;
    *count = len;
    out = NULL;
    rc = 0;
cleanup:
    if (out != NULL) {
        for (i = 0; i < len; i++)
            henn_paillier_ct_clear(&out[i]);
        free(out);
    }
    mpz_clear(nn);
    json_decref(root);
    return rc;
}
