/* Fuzz the LR server's request parsing (henn_lr_server_handle): the input
 * is a sequence of messages, each given to a server with no session and
 * to one holding a small session (keys, one record ciphertext, training
 * options; fuzz_lr_setup.h). Every message gets a response, never a
 * crash; a message the session server accepts may change its session,
 * which is then rebuilt from the honest messages so that every input
 * starts from the same state. Seeds: the honest requests (gen_lr_seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lr_setup.h"

static henn_lr_server *session;
static uint8_t *base_msg[8];
static size_t base_len[8], base_count;

/* Capture the honest client's requests while it trains. */
static int capture(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len)
{
    int type = henn_lr_msg_type(req, req_len);
    if ((type == HENN_LR_MSG_KEYS || type == HENN_LR_MSG_DATA || type == HENN_LR_MSG_TRAIN) &&
        base_count < 8) {
        base_msg[base_count] = malloc(req_len);
        if (base_msg[base_count] == NULL)
            __builtin_trap();
        memcpy(base_msg[base_count], req, req_len);
        base_len[base_count++] = req_len;
    }
    return henn_lr_server_handle(ctx, req, req_len, resp, resp_len);
}

static void restore(void)
{
    for (size_t i = 0; i < base_count; i++) {
        uint8_t *resp = NULL;
        size_t resp_len = 0;
        if (henn_lr_server_handle(session, base_msg[i], base_len[i], &resp, &resp_len) != 0 ||
            henn_lr_msg_type(resp, resp_len) != HENN_LR_MSG_OK)
            __builtin_trap();
        free(resp);
    }
}

static void setup(void)
{
    henn_lr_server_limits lim;
    henn_lr_client *c;
    henn_lr_data d;
    henn_lr_opts o;
    henn_lr_model m;
    henn_transport t = {.call = capture};
    fuzz_lr_limits(&lim);
    fuzz_lr_data(&d, &o);
    o.epochs = 1;
    if (henn_init() != 0 || henn_lr_server_new(&session, &lim, NULL) != 0 ||
        henn_lr_client_new(&c, &fuzz_lr_client_opts) != 0 || henn_lr_model_init(&m, 2) != 0)
        __builtin_trap();
    t.ctx = session;
    if (henn_lr_client_train(c, &t, &m, &d, &o, NULL, NULL) != 0 || base_count != 3)
        __builtin_trap();
    henn_lr_model_clear(&m);
    henn_lr_client_free(c);
    restore(); /* step counter back to 0 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lr_feed f = {data, size, 0};
    henn_lr_server *fresh = NULL;
    henn_lr_server_limits lim;
    int dirty = 0;
    if (session == NULL)
        setup();
    fuzz_lr_limits(&lim);
    if (henn_lr_server_new(&fresh, &lim, NULL) != 0)
        __builtin_trap();
    while (f.pos < f.size) {
        size_t len = fuzz_lr_next_len(&f);
        const uint8_t *msg = f.data + f.pos;
        uint8_t *resp = NULL;
        size_t resp_len = 0;
        f.pos += len;
        /* a response always comes back and is well-formed */
        if (henn_lr_server_handle(fresh, msg, len, &resp, &resp_len) != 0 ||
            henn_lr_msg_type(resp, resp_len) < 0)
            __builtin_trap();
        free(resp);
        resp = NULL;
        if (henn_lr_server_handle(session, msg, len, &resp, &resp_len) != 0 ||
            henn_lr_msg_type(resp, resp_len) < 0)
            __builtin_trap();
        if (henn_lr_msg_type(resp, resp_len) != HENN_LR_MSG_ERROR)
            dirty = 1;
        free(resp);
        if (len == 0)
            break;
    }
    henn_lr_server_free(fresh);
    if (dirty)
        restore();
    return 0;
}
