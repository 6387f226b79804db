/* The CryptoNN authority's client against lying servers (issue 12;
 * src/service/authority_client.c): a tiny fake HTTP server on 127.0.0.1
 * (port 0) answers session creation and the server-request long poll with
 * wrong Content-Types and oversized bodies:
 *  - creation: a 201 that is not application/json (text/html, none, two
 *    types) or a JSON body over 1 MiB (by Content-Length, or by its bytes
 *    with none) is HENN_EPROTO, sent once, no client, the token zeroed;
 *  - the poll: a request that is not application/octet-stream, or whose
 *    body passes max_response (by Content-Length or by its bytes), is
 *    HENN_EPROTO, polled once, never handed to the authority;
 *  - well-formed answers (types with parameters, any case) are taken and
 *    the request answered.
 */
#include "../test.h"

#include <signal.h>
#include <unistd.h>

#include "fake_http.h"
#include "henn/henn.h"
#include "henn/service.h"

static const char SID[] = "0123456789abcdef0123456789abcdef";
static const char TOK[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char ATOK[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/* What the fake answers. type NULL: no Content-Type; declared < 0: the
 * real Content-Length, 0: none (the body ends at the close), > 0: that
 * value whatever is sent. pad: bytes of spaces appended to the JSON. */
typedef struct fake_cfg {
    const char *create_type, *req_type;
    int create_dup;
    long long create_declared, req_declared;
    size_t create_pad, req_len;
} fake_cfg;

typedef struct fake {
    fake_http srv;
    fake_cfg cfg;
    unsigned creates, polls, answers;
} fake;

static void fake_answer(void *user, int fd, const char *req, size_t req_len)
{
    fake *f = user;
    const fake_cfg *g = &f->cfg;
    (void)req_len;
    if (strncmp(req, "POST /v1/sessions ", 18) == 0) {
        size_t cap = 300 + g->create_pad, n;
        char *body = malloc(cap);
        __atomic_add_fetch(&f->creates, 1, __ATOMIC_SEQ_CST);
        if (body == NULL)
            return;
        n = (size_t)snprintf(body, cap,
                             "{\"session\":\"%s\",\"token\":\"%s\",\"authority_token\":\"%s\","
                             "\"seq\":0}",
                             SID, TOK, ATOK);
        memset(body + n, ' ', g->create_pad);
        fake_http_answer(fd, "201 Created", g->create_type, g->create_dup, "", body,
                         n + g->create_pad, g->create_declared);
        free(body);
    } else if (strncmp(req, "GET ", 4) == 0 && strstr(req, "/requests?") != NULL) {
        unsigned k = __atomic_add_fetch(&f->polls, 1, __ATOMIC_SEQ_CST);
        uint8_t *m = malloc(g->req_len + 1);
        if (k > 1 || m == NULL) { /* one request, then nothing */
            fake_http_answer(fd, "204 No Content", NULL, 0, "", "", 0, 0);
        } else {
            memset(m, 0x5a, g->req_len + 1);
            fake_http_answer(fd, "200 OK", g->req_type, 0, "Henn-Seq: 1\r\n", m, g->req_len,
                             g->req_declared);
        }
        free(m);
    } else if (strncmp(req, "GET /v1/sessions/", 17) == 0) {
        const char *b = "{\"protocol\":\"cryptonn-mlp\",\"seq\":0,\"bytes\":0,\"created\":0}";
        fake_http_answer(fd, "200 OK", "application/json", 0, "", b, strlen(b), -1);
    } else if (strncmp(req, "POST ", 5) == 0 && strstr(req, "/requests/") != NULL) {
        __atomic_add_fetch(&f->answers, 1, __ATOMIC_SEQ_CST);
        fake_http_answer(fd, "200 OK", NULL, 0, "", "", 0, -1);
    } else if (strncmp(req, "DELETE ", 7) == 0) {
        fake_http_answer(fd, "204 No Content", NULL, 0, "", "", 0, 0);
    } else {
        fake_http_answer(fd, "404 Not Found", "application/json", 0, "", "{}", 2, -1);
    }
}

static void fake_start(fake *f, const fake_cfg *cfg)
{
    memset(f, 0, sizeof(*f));
    f->cfg = *cfg;
    CHECK(fake_http_start(&f->srv, fake_answer, f) == 0);
}

static fake_cfg good(void)
{
    fake_cfg g;
    memset(&g, 0, sizeof(g));
    g.create_type = "application/json";
    g.req_type = "application/octet-stream";
    g.create_declared = -1;
    g.req_declared = -1;
    g.req_len = 16;
    return g;
}

static void opts(henn_svc_client_opts *o, char *url, size_t cap, const fake *f, size_t max)
{
    memset(o, 0, sizeof(*o));
    fake_http_url(url, cap, &f->srv);
    o->url = url;
    o->retry_s = 1.0;
    o->max_response = max;
}

/* Create an authority session; its code, and the creations the fake saw. */
static int create(const fake_cfg *cfg, unsigned *creates)
{
    fake f;
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    char url[64], atok[65];
    int rc, zero = 1;
    size_t i;
    memset(atok, 'x', sizeof(atok));
    fake_start(&f, cfg);
    opts(&o, url, sizeof(url), &f, 0);
    rc = henn_svc_client_create_authority(&c, atok, &o, "cryptonn-mlp", "{}");
    if (rc == 0) {
        CHECK(c != NULL && strcmp(atok, ATOK) == 0);
    } else {
        CHECK(c == NULL);
        for (i = 0; i < sizeof(atok); i++)
            zero &= atok[i] == 0;
        CHECK(zero);
    }
    henn_svc_client_free(c);
    fake_http_stop(&f.srv);
    *creates = f.creates;
    return rc;
}

static void test_create(void)
{
    fake_cfg g = good();
    unsigned n = 0;
    CHECK_OK(create(&g, &n));
    CHECK_EQ_INT(n, 1);
    g.create_type = "Application/JSON; charset=utf-8";
    CHECK_OK(create(&g, &n));
    g.create_type = "text/html";
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    CHECK_EQ_INT(n, 1); /* not retried */
    g.create_type = NULL;
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    g.create_type = "application/jsonx";
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    g = good();
    g.create_dup = 1; /* two types */
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    /* over 1 MiB: declared, then by its bytes without a Content-Length */
    g = good();
    g.create_pad = ((size_t)1 << 20) + 1;
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    CHECK_EQ_INT(n, 1);
    g.create_declared = 0;
    CHECK_RC(create(&g, &n), HENN_EPROTO);
    /* a padded body under the cap is fine */
    g = good();
    g.create_pad = 1000;
    CHECK_OK(create(&g, &n));
}

static unsigned auth_calls;
static int auth_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    (void)ctx;
    auth_calls++;
    *resp = malloc(req_len + 1);
    if (*resp == NULL)
        return HENN_ENOMEM;
    memcpy(*resp, req, req_len);
    *resp_len = req_len;
    return 0;
}

static int stop_after(void *user)
{
    const fake *f = user;
    return __atomic_load_n(&f->polls, __ATOMIC_SEQ_CST) >= 2 || auth_calls >= 1;
}

/* Serve a fake session with max_response max; its code and counts. */
static int serve(const fake_cfg *cfg, size_t max, unsigned *polls, uint64_t *answered)
{
    fake f;
    henn_svc_client_opts o;
    henn_transport t;
    char url[64];
    int rc;
    memset(&t, 0, sizeof(t));
    t.call = auth_call;
    auth_calls = 0;
    fake_start(&f, cfg);
    opts(&o, url, sizeof(url), &f, max);
    rc = henn_svc_authority_serve(&o, SID, ATOK, &t, stop_after, &f, answered);
    fake_http_stop(&f.srv);
    *polls = f.polls;
    return rc;
}

static void test_serve(void)
{
    fake_cfg g = good();
    unsigned polls = 0;
    uint64_t answered = 0;
    CHECK_OK(serve(&g, 0, &polls, &answered));
    CHECK_EQ_INT(answered, 1);
    CHECK_EQ_INT(auth_calls, 1);
    g.req_type = "APPLICATION/octet-stream ;x=1";
    CHECK_OK(serve(&g, 64, &polls, &answered));
    CHECK_EQ_INT(answered, 1);
    /* wrong types: refused, never handed to the authority, not retried */
    g.req_type = "text/html";
    CHECK_RC(serve(&g, 0, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    CHECK_EQ_INT(answered, 0);
    CHECK_EQ_INT(polls, 1);
    g.req_type = "application/json";
    CHECK_RC(serve(&g, 0, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    g.req_type = NULL;
    CHECK_RC(serve(&g, 0, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    /* over max_response: by Content-Length, by its bytes */
    g = good();
    g.req_len = 65;
    CHECK_RC(serve(&g, 64, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    CHECK_EQ_INT(polls, 1);
    g.req_declared = 0;
    CHECK_RC(serve(&g, 64, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    /* a declared length over the cap with a short body */
    g = good();
    g.req_declared = 1000;
    CHECK_RC(serve(&g, 64, &polls, &answered), HENN_EPROTO);
    CHECK_EQ_INT(auth_calls, 0);
    /* exactly the cap is taken */
    g = good();
    g.req_len = 64;
    CHECK_OK(serve(&g, 64, &polls, &answered));
    CHECK_EQ_INT(auth_calls, 1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK_OK(henn_init());
    test_create();
    test_serve();
    return test_report("test_service_authority_client");
}
