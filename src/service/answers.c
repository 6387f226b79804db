/*
 * The owner's record of the server-driven requests it answered
 * (henn_svc_answers, henn/service.h): a resumed job asks again, with the
 * same seq and the same bytes, for what it asked before its restart; the
 * owner answers such a repeat from this record, without decrypting
 * twice, and refuses a seq it answered for different bytes. The record
 * also counts the ciphertexts decrypted for new requests, refuses new
 * requests once that count reaches its budget, and can be saved after
 * every new answer (the hook) and restored by a restarted client
 * (henn_svc_answers_serialize / _deserialize).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "henn/service.h"

#define DEFAULT_WINDOW 8

typedef struct answer {
    uint64_t seq; /* 0: empty */
    uint8_t hash[crypto_hash_sha256_BYTES];
    uint8_t *resp;
    size_t resp_len;
} answer;

struct henn_svc_answers {
    answer *a;
    size_t window, next; /* ring of the last window answers */
    uint64_t last;       /* the highest seq answered */
    uint64_t repeats, refused;
    uint64_t decrypted, budget; /* ciphertexts decrypted for new requests; 0: no budget */
    int (*hook)(void *user, const henn_svc_answers *a);
    void *hook_user;
};

/* The serialized record: "HSA1", u32 window, u64 last, decrypted,
 * repeats, refused, u32 entries, then per entry (oldest first) u64 seq,
 * the request's SHA-256, u64 length and the response; big-endian. */
static const uint8_t MAGIC[4] = {'H', 'S', 'A', '1'};
#define FIXED_LEN (4 + 4 + 8 * 4 + 4)
#define ENTRY_LEN (8 + crypto_hash_sha256_BYTES + 8)

int henn_svc_answers_new(henn_svc_answers **out, size_t window)
{
    henn_svc_answers *a;
    *out = NULL;
    if (window > 4096)
        return HENN_EINVAL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return HENN_ENOMEM;
    a->window = window > 0 ? window : DEFAULT_WINDOW;
    a->a = calloc(a->window, sizeof(answer));
    if (a->a == NULL) {
        free(a);
        return HENN_ENOMEM;
    }
    *out = a;
    return 0;
}

void henn_svc_answers_free(henn_svc_answers *a)
{
    size_t i;
    if (a == NULL)
        return;
    for (i = 0; i < a->window; i++)
        henn_free(a->a[i].resp, a->a[i].resp_len);
    free(a->a);
    free(a);
}

void henn_svc_answers_counts(const henn_svc_answers *a, uint64_t *repeats, uint64_t *refused)
{
    *repeats = a->repeats;
    *refused = a->refused;
}

int henn_svc_answers_handle(henn_svc_answers *a, henn_owner *o, uint64_t seq, const uint8_t *req,
                            size_t req_len, uint8_t **resp, size_t *resp_len)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    size_t i;
    int rc;
    *resp = NULL;
    *resp_len = 0;
    if (a == NULL || o == NULL || seq == 0 || (req == NULL && req_len > 0))
        return HENN_EINVAL;
    crypto_hash_sha256(h, req, req_len);
    if (seq <= a->last) {
        for (i = 0; i < a->window; i++) {
            answer *x = &a->a[i];
            if (x->seq != seq)
                continue;
            if (sodium_memcmp(x->hash, h, sizeof(h)) != 0)
                break; /* the same seq, other bytes: refused */
            *resp = malloc(x->resp_len > 0 ? x->resp_len : 1);
            if (*resp == NULL)
                return HENN_ENOMEM;
            memcpy(*resp, x->resp, x->resp_len);
            *resp_len = x->resp_len;
            a->repeats++;
            return 0;
        }
        a->refused++;
        return HENN_EPROTO;
    }
    if (a->budget != 0 && a->decrypted >= a->budget) {
        a->refused++;
        return HENN_EPROTO; /* the budget is spent (before a restart, perhaps) */
    }
    {
        henn_proto_stats s0, s1;
        henn_owner_stats(&s0, o);
        rc = henn_owner_handle(o, req, req_len, resp, resp_len);
        henn_owner_stats(&s1, o);
        a->decrypted += s1.decryptions - s0.decryptions;
    }
    if (rc != 0)
        return rc;
    if (henn_msg_type(*resp, *resp_len) == HENN_MSG_ERROR)
        a->refused++; /* the owner's refusal (its budget), for the trainer to read */
    {
        answer *x = &a->a[a->next];
        uint8_t *copy = malloc(*resp_len > 0 ? *resp_len : 1);
        if (copy == NULL) {
            free(*resp);
            *resp = NULL;
            *resp_len = 0;
            return HENN_ENOMEM;
        }
        memcpy(copy, *resp, *resp_len);
        henn_free(x->resp, x->resp_len);
        x->seq = seq;
        memcpy(x->hash, h, sizeof(h));
        x->resp = copy;
        x->resp_len = *resp_len;
        a->next = (a->next + 1) % a->window;
        a->last = seq;
    }
    /* Saved before the answer leaves: a client killed after sending it
     * answers the server's repeat from the saved record. */
    if (a->hook != NULL && (rc = a->hook(a->hook_user, a)) != 0) {
        henn_free(*resp, *resp_len);
        *resp = NULL;
        *resp_len = 0;
        return rc;
    }
    return 0;
}

void henn_svc_answers_set_budget(henn_svc_answers *a, uint64_t budget)
{
    a->budget = budget;
}

uint64_t henn_svc_answers_decrypted(const henn_svc_answers *a)
{
    return a->decrypted;
}

void henn_svc_answers_set_hook(henn_svc_answers *a,
                               int (*saved)(void *user, const henn_svc_answers *a), void *user)
{
    a->hook = saved;
    a->hook_user = user;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int henn_svc_answers_serialize(uint8_t **buf, size_t *buf_len, const henn_svc_answers *a)
{
    size_t len = FIXED_LEN, i, n = 0;
    uint8_t *p, *q;
    *buf = NULL;
    *buf_len = 0;
    if (a == NULL)
        return HENN_EINVAL;
    for (i = 0; i < a->window; i++)
        if (a->a[i].seq != 0) {
            len += ENTRY_LEN + a->a[i].resp_len;
            n++;
        }
    if ((p = malloc(len)) == NULL)
        return HENN_ENOMEM;
    memcpy(p, MAGIC, 4);
    put32(p + 4, (uint32_t)a->window);
    put64(p + 8, a->last);
    put64(p + 16, a->decrypted);
    put64(p + 24, a->repeats);
    put64(p + 32, a->refused);
    put32(p + 40, (uint32_t)n);
    q = p + FIXED_LEN;
    for (i = 0; i < a->window; i++) { /* oldest first: the ring from next */
        const answer *x = &a->a[(a->next + i) % a->window];
        if (x->seq == 0)
            continue;
        put64(q, x->seq);
        memcpy(q + 8, x->hash, crypto_hash_sha256_BYTES);
        put64(q + 8 + crypto_hash_sha256_BYTES, x->resp_len);
        memcpy(q + ENTRY_LEN, x->resp, x->resp_len);
        q += ENTRY_LEN + x->resp_len;
    }
    *buf = p;
    *buf_len = len;
    return 0;
}

int henn_svc_answers_deserialize(henn_svc_answers **out, const uint8_t *buf, size_t buf_len)
{
    henn_svc_answers *a = NULL;
    size_t window, n, i, pos = FIXED_LEN;
    uint64_t prev = 0;
    int rc;
    *out = NULL;
    if (buf == NULL || buf_len < FIXED_LEN || memcmp(buf, MAGIC, 4) != 0)
        return HENN_EFORMAT;
    window = (size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
    n = (size_t)buf[40] << 24 | (size_t)buf[41] << 16 | (size_t)buf[42] << 8 | buf[43];
    if (window == 0 || window > 4096 || n > window)
        return HENN_EFORMAT;
    if ((rc = henn_svc_answers_new(&a, window)) != 0)
        return rc;
    a->last = get64(buf + 8);
    a->decrypted = get64(buf + 16);
    a->repeats = get64(buf + 24);
    a->refused = get64(buf + 32);
    for (i = 0; i < n && rc == 0; i++) {
        answer *x = &a->a[i];
        uint64_t len;
        if (buf_len - pos < ENTRY_LEN) {
            rc = HENN_EFORMAT;
            break;
        }
        x->seq = get64(buf + pos);
        len = get64(buf + pos + 8 + crypto_hash_sha256_BYTES);
        /* seqs rise, the newest is last; lengths fit the buffer */
        if (x->seq <= prev || x->seq > a->last || (i + 1 == n && x->seq != a->last) ||
            len > buf_len - pos - ENTRY_LEN) {
            x->seq = 0;
            rc = HENN_EFORMAT;
            break;
        }
        prev = x->seq;
        memcpy(x->hash, buf + pos + 8, crypto_hash_sha256_BYTES);
        if ((x->resp = malloc(len > 0 ? (size_t)len : 1)) == NULL) {
            x->seq = 0;
            rc = HENN_ENOMEM;
            break;
        }
        memcpy(x->resp, buf + pos + ENTRY_LEN, (size_t)len);
        x->resp_len = (size_t)len;
        pos += ENTRY_LEN + (size_t)len;
    }
    if (rc == 0 && pos != buf_len)
        rc = HENN_EFORMAT;
    if (rc != 0) {
        henn_svc_answers_free(a);
        return rc;
    }
    a->next = n % window;
    *out = a;
    return 0;
}
