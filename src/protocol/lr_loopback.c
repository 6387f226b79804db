/*
 * The in-process transport to a logistic-regression server
 * (henn/lrproto.h): calls go straight to henn_lr_server_handle. Kept apart
 * from lr_wire.c so that the helpers below the parties do not depend on
 * them (a network transport replaces this file's role, issue 12).
 */
#include <string.h>

#include "henn/lrproto.h"

static int call_lr_server(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    return henn_lr_server_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_lr_server(henn_transport *t, henn_lr_server *s)
{
    memset(t, 0, sizeof(*t));
    t->call = call_lr_server;
    t->ctx = s;
}
