/*
 * The owner's record of the server-driven requests it answered
 * (henn_svc_answers, henn/service.h): a resumed job asks again, with the
 * same seq and the same bytes, for what it asked before its restart; the
 * owner answers such a repeat from this record, without decrypting
 * twice, and refuses a seq it answered for different bytes.
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
};

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
    rc = henn_owner_handle(o, req, req_len, resp, resp_len);
    if (rc != 0)
        return rc;
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
    return 0;
}
