/* The service client against lying servers (issue 12): a tiny fake HTTP
 * server on 127.0.0.1 (port 0, raw sockets, one request per connection)
 * answers the client's requests with wrong Content-Types and oversized
 * bodies. Each must give HENN_EPROTO with a clear message (never a crash,
 * never a retry), and the well-formed answers around them must still be
 * taken:
 *  - a protocol response (POST .../messages/{seq}) must be
 *    application/octet-stream: text/html, application/json, no type with
 *    a body, and two Content-Type headers are refused; an empty body
 *    without a type is taken;
 *  - session creation and description must be application/json
 *    (parameters and case do not matter); the result octet-stream;
 *  - bodies over max_response are refused by their Content-Length (a
 *    server that declares 1 GiB and then stalls is left at once, not
 *    waited for) and by their bytes (no Content-Length); a body of
 *    exactly max_response is taken; JSON bodies stop at 1 MiB;
 *  - a Content-Type with terminal escapes is not passed on in the error.
 */
#define _DEFAULT_SOURCE
#include "../test.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_http.h"
#include "henn/henn.h"
#include "henn/service.h"

static const char SID[] = "0123456789abcdef0123456789abcdef";
static const char TOK[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* What the fake server answers. A type NULL sends no Content-Type;
 * *_declared < 0 sends the real length as Content-Length, 0 sends none
 * (the body ends at the close), > 0 declares that length whatever is sent
 * (then the connection is held open until the client leaves). */
typedef struct fake_cfg {
    const char *create_type, *info_type, *msg_type, *result_type;
    size_t msg_len;
    long long msg_declared;
    int msg_dup_type;
    long long create_declared;
} fake_cfg;

typedef struct fake {
    fake_http srv;
    fake_cfg cfg;
    unsigned messages;
} fake;

/* fake_http_answer, then, when more is declared than sent, a stall:
 * wait (5 s at most) for the client to give up. */
static void answer(int fd, const char *status, const char *type, int dup_type, const void *body,
                   size_t len, long long declared)
{
    fake_http_answer(fd, status, type, dup_type, "", body, len, declared);
    if (declared > 0 && (size_t)declared > len) {
        struct pollfd pf = {fd, POLLIN, 0};
        char tmp[256];
        int waited;
        for (waited = 0; waited < 100; waited++) {
            if (poll(&pf, 1, 50) > 0 && recv(fd, tmp, sizeof(tmp), 0) <= 0)
                break;
        }
    }
}

static void fake_answer(void *user, int fd, const char *req, size_t req_len)
{
    fake *f = user;
    const fake_cfg *g = &f->cfg;
    (void)req_len;
    char body[256];
    if (strncmp(req, "POST /v1/sessions ", 18) == 0) {
        size_t n = (size_t)snprintf(body, sizeof(body),
                                    "{\"session\":\"%s\",\"token\":\"%s\",\"seq\":0}", SID, TOK);
        answer(fd, "201 Created", g->create_type, 0, body, n,
               g->create_declared != 0 ? g->create_declared : -1);
    } else if (strncmp(req, "POST ", 5) == 0 && strstr(req, "/messages/") != NULL) {
        uint8_t *m = malloc(g->msg_len + 1);
        __atomic_add_fetch(&f->messages, 1, __ATOMIC_SEQ_CST);
        if (m != NULL) {
            memset(m, 0xa5, g->msg_len + 1);
            answer(fd, "200 OK", g->msg_type, g->msg_dup_type, m, g->msg_len, g->msg_declared);
        }
        free(m);
    } else if (strncmp(req, "GET ", 4) == 0 && strstr(req, "/result ") != NULL) {
        answer(fd, "200 OK", g->result_type, 0, "model", 5, -1);
    } else if (strncmp(req, "GET ", 4) == 0) {
        size_t n = (size_t)snprintf(body, sizeof(body),
                                    "{\"protocol\":\"kdd-infer\",\"seq\":0,\"bytes\":0,"
                                    "\"created\":0}");
        answer(fd, "200 OK", g->info_type, 0, body, n, -1);
    } else if (strncmp(req, "DELETE ", 7) == 0) {
        answer(fd, "204 No Content", NULL, 0, "", 0, 0);
    } else {
        answer(fd, "404 Not Found", "application/json", 0, "{}", 2, -1);
    }
}

static void fake_start(fake *f, const fake_cfg *cfg)
{
    memset(f, 0, sizeof(*f));
    f->cfg = *cfg;
    CHECK(fake_http_start(&f->srv, fake_answer, f) == 0);
}

/* The well-formed answers; each test changes one thing. */
static fake_cfg good(void)
{
    fake_cfg g;
    memset(&g, 0, sizeof(g));
    g.create_type = "application/json";
    g.info_type = "application/json";
    g.msg_type = "application/octet-stream";
    g.result_type = "application/octet-stream";
    g.msg_len = 5;
    g.msg_declared = -1;
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

/* The error text has no control characters. */
static int printable(const char *e)
{
    size_t i;
    for (i = 0; e[i] != '\0'; i++)
        if ((unsigned char)e[i] < 0x20 || (unsigned char)e[i] == 0x7f)
            return 0;
    return 1;
}

/*
 * Create a session on a fake server answering cfg, send one message and
 * return the message call's code (the creation must succeed); the
 * response's length into *len, the client's error into err.
 */
static int one_message(const fake_cfg *cfg, size_t max, size_t *len, unsigned *messages,
                       char *err, size_t err_cap)
{
    fake f;
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    char url[64];
    uint8_t req[3] = {1, 2, 3}, *resp = NULL;
    int rc;

    *len = 0;
    fake_start(&f, cfg);
    opts(&o, url, sizeof(url), &f, max);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-infer", "{}"));
    henn_svc_client_transport(&t, c);
    rc = henn_transport_call(&t, req, sizeof(req), &resp, len);
    if (rc == 0 && *len > 0)
        CHECK(resp != NULL && resp[0] == 0xa5 && resp[*len - 1] == 0xa5);
    snprintf(err, err_cap, "%s", henn_svc_client_error(c));
    CHECK(printable(err));
    free(resp);
    henn_svc_client_free(c);
    fake_http_stop(&f.srv);
    *messages = f.messages;
    return rc;
}

static void test_message_types(void)
{
    fake_cfg g = good();
    size_t len;
    unsigned msgs;
    char err[512];

    /* Well-formed: taken. */
    CHECK_OK(one_message(&g, 0, &len, &msgs, err, sizeof(err)));
    CHECK_EQ_INT(len, 5);
    g.msg_type = "Application/Octet-Stream ; foo=bar";
    CHECK_OK(one_message(&g, 0, &len, &msgs, err, sizeof(err)));
    CHECK_EQ_INT(len, 5);

    /* HTML from a proxy or a login page: refused, not retried. */
    g.msg_type = "text/html";
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "text/html") != NULL && strstr(err, "application/octet-stream") != NULL);
    CHECK_EQ_INT(msgs, 1);
    CHECK_EQ_INT(len, 0);

    /* JSON where a binary message belongs. */
    g.msg_type = "application/json";
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "Content-Type") != NULL);

    /* A prefix of the right type is not the right type. */
    g.msg_type = "application/octet-streamx";
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);

    /* A body without a type. */
    g.msg_type = NULL;
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);

    /* An empty body without a type: nothing to misread, taken. */
    g.msg_len = 0;
    CHECK_OK(one_message(&g, 0, &len, &msgs, err, sizeof(err)));
    CHECK_EQ_INT(len, 0);
    g.msg_len = 5;

    /* Two Content-Type headers (octet-stream, then text/html). */
    g.msg_type = "application/octet-stream";
    g.msg_dup_type = 1;
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    g.msg_dup_type = 0;

    /* Terminal escapes in the type are not passed on. */
    g.msg_type = "text/\x1b]0;owned\x07plain";
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strchr(err, 0x1b) == NULL);
}

static void test_message_sizes(void)
{
    fake_cfg g = good();
    size_t len;
    unsigned msgs;
    char err[512];

    /* Exactly max_response: taken (with and without Content-Length). */
    g.msg_len = 4096;
    CHECK_OK(one_message(&g, 4096, &len, &msgs, err, sizeof(err)));
    CHECK_EQ_INT(len, 4096);
    g.msg_declared = 0;
    CHECK_OK(one_message(&g, 4096, &len, &msgs, err, sizeof(err)));
    CHECK_EQ_INT(len, 4096);

    /* One byte more, by its Content-Length. */
    g.msg_len = 4097;
    g.msg_declared = -1;
    CHECK_RC(one_message(&g, 4096, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "limit of 4096 bytes") != NULL);
    CHECK_EQ_INT(msgs, 1);
    CHECK_EQ_INT(len, 0);

    /* By its bytes: no Content-Length, 20,000 bytes to the close. */
    g.msg_len = 20000;
    g.msg_declared = 0;
    CHECK_RC(one_message(&g, 4096, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "limit of 4096 bytes") != NULL);
    CHECK_EQ_INT(msgs, 1);

    /* The default cap (max_response 0: 256 MiB): a server that declares
     * 1 GiB, sends 100 bytes and stalls is left at its first bytes (were
     * it waited for, the stall would end in a truncated transfer: a
     * retried HENN_EIO, not HENN_EPROTO). */
    g.msg_len = 100;
    g.msg_declared = (long long)1 << 30;
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "Content-Length") != NULL);
    CHECK_EQ_INT(msgs, 1);

    /* A JSON body is capped at 1 MiB even when max_response is larger:
     * the same 2 MiB message labelled JSON is refused for its size. */
    g.msg_type = "application/json";
    g.msg_len = (size_t)2 << 20;
    g.msg_declared = -1;
    CHECK_RC(one_message(&g, 0, &len, &msgs, err, sizeof(err)), HENN_EPROTO);
    CHECK(strstr(err, "limit of 1048576 bytes") != NULL);
}

static void test_json_routes(void)
{
    fake f;
    fake_cfg g = good();
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    char url[64];
    uint8_t *buf = NULL;
    size_t len = 0;

    /* Parameters and case of a JSON type do not matter; resume reads the
     * session's description, the result is binary. */
    g.create_type = "application/json; charset=utf-8";
    g.info_type = "APPLICATION/JSON";
    fake_start(&f, &g);
    opts(&o, url, sizeof(url), &f, 0);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-infer", "{}"));
    CHECK_EQ_STR(henn_svc_client_session(c), SID);
    CHECK_OK(henn_svc_client_result(c, &buf, &len));
    CHECK(len == 5 && buf != NULL && memcmp(buf, "model", 5) == 0);
    free(buf);
    buf = NULL;
    CHECK_OK(henn_svc_client_delete(c));
    henn_svc_client_free(c);
    c = NULL;
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    henn_svc_client_free(c);
    c = NULL;
    fake_http_stop(&f.srv);

    /* A creation answer in octet-stream: refused, no session taken. */
    g = good();
    g.create_type = "application/octet-stream";
    fake_start(&f, &g);
    opts(&o, url, sizeof(url), &f, 0);
    CHECK_RC(henn_svc_client_create(&c, &o, "kdd-infer", "{}"), HENN_EPROTO);
    CHECK(c != NULL && henn_svc_client_session(c)[0] == '\0');
    CHECK(c != NULL && strstr(henn_svc_client_error(c), "application/json") != NULL);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), TOK) == NULL);
    henn_svc_client_free(c);
    c = NULL;
    fake_http_stop(&f.srv);

    /* A creation answer declared 2 MiB (over the JSON cap) that stalls. */
    g = good();
    g.create_declared = (long long)2 << 20;
    fake_start(&f, &g);
    opts(&o, url, sizeof(url), &f, 0);
    CHECK_RC(henn_svc_client_create(&c, &o, "kdd-infer", "{}"), HENN_EPROTO);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), "limit") != NULL);
    henn_svc_client_free(c);
    c = NULL;
    fake_http_stop(&f.srv);

    /* The description as text/plain: resume refuses it. */
    g = good();
    g.info_type = "text/plain";
    fake_start(&f, &g);
    opts(&o, url, sizeof(url), &f, 0);
    CHECK_RC(henn_svc_client_resume(&c, &o, SID, TOK), HENN_EPROTO);
    henn_svc_client_free(c);
    c = NULL;
    fake_http_stop(&f.srv);

    /* The result as JSON: refused, nothing returned. */
    g = good();
    g.result_type = "application/json";
    fake_start(&f, &g);
    opts(&o, url, sizeof(url), &f, 0);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-infer", "{}"));
    CHECK_RC(henn_svc_client_result(c, &buf, &len), HENN_EPROTO);
    CHECK(buf == NULL && len == 0);
    henn_svc_client_free(c);
    c = NULL;
    fake_http_stop(&f.srv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK_OK(henn_init());
    test_message_types();
    test_message_sizes();
    test_json_routes();
    return test_report("test_service_client");
}
