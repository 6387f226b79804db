/* Fuzz the owner's parsing of what the trainer sends: the input is a
 * sequence of messages (each as long as its header says, the last one
 * whatever is left), which a fake trainer returns, in order, as its
 * responses to the owner's requests in encrypted inference (5 records of
 * width 4, 2 classes) and then in an upload (5 rows); each message is
 * also given to henn_owner_handle as a request. Every input ends in a
 * return code, never a crash, and the outputs stay within their buffers.
 * Seeds: the honest trainer's responses (gen_seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"

static henn_owner *owner;
static henn_proto_params params;

typedef struct feed {
    const uint8_t *data;
    size_t size, pos;
} feed;

/* The next message of the feed: its header's length, clipped to what is
 * left (the whole rest when the header is not one). */
static size_t next_len(const feed *f)
{
    const uint8_t *p = f->data + f->pos;
    size_t left = f->size - f->pos, len;
    if (left < 12 || memcmp(p, "HNP\x01", 4) != 0)
        return left;
    len = 12 + ((size_t)p[8] << 24 | (size_t)p[9] << 16 | (size_t)p[10] << 8 | (size_t)p[11]);
    return len < left ? len : left;
}

static int fake_trainer(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    feed *f = ctx;
    size_t len;
    (void)req;
    (void)req_len;
    if (f->pos >= f->size)
        return HENN_EIO; /* the trainer hung up */
    len = next_len(f);
    *resp = malloc(len ? len : 1);
    if (*resp == NULL)
        return HENN_ENOMEM;
    memcpy(*resp, f->data + f->pos, len);
    *resp_len = len;
    f->pos += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const float X[5 * 4] = {0.1f, 0.2f, 0.3f, 0.4f, 1.0f, 0.0f, 0.5f,
                                   0.5f, 0.25f, 0.75f, 0.0f, 0.0f, 1.0f, 1.0f,
                                   1.0f, 1.0f, 0.9f, 0.8f, 0.7f, 0.6f};
    static const uint8_t y[5] = {0, 1, 1, 0, 1};
    uint8_t pred[5], *resp;
    float scores[5 * 2];
    size_t resp_len;
    henn_transport t;
    feed f = {data, size, 0};

    if (owner == NULL) {
        fuzz_setup();
        if (henn_proto_params_default(&params, 4, 0, mpz_sizeinbase(fuzz_sk.pk.n, 2)) ||
            henn_owner_new(&owner, &fuzz_sk, NULL))
            __builtin_trap();
    }
    memset(&t, 0, sizeof(t));
    t.call = fake_trainer;
    t.ctx = &f;
    (void)henn_owner_infer(owner, &t, &params, X, 5, 4, 2, pred, scores);
    f.pos = 0;
    (void)henn_owner_upload(owner, &t, &params, X, y, 5, 4);
    for (f.pos = 0; f.pos < f.size;) {
        size_t len = next_len(&f);
        if (henn_owner_handle(owner, f.data + f.pos, len, &resp, &resp_len) != 0 ||
            henn_msg_type(resp, resp_len) < 0)
            __builtin_trap();
        free(resp);
        f.pos += len;
    }
    return 0;
}
