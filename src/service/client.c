/*
 * The data owner's HTTP(S) client (henn/service.h, docs/SERVICE.md).
 *
 * One libcurl easy handle per client, reused for every request so that
 * the connection (and its TLS session) stays open between messages.
 * Messages carry sequence numbers: call() posts seq = last + 1 and, on a
 * connection error, a timeout or a 5xx answer, posts the SAME seq again
 * with exponential backoff until retry_s has passed. The server handles
 * a seq once and answers a repeat of its last seq with the stored
 * response, so a lost response or a server restart neither loses nor
 * duplicates work. A 409 is resolved by asking the server for its last
 * seq: if it already handled ours, the repeat returns the stored
 * response.
 *
 * Answers are checked before they are used: a 2xx answer must carry its
 * route's Content-Type (application/octet-stream for protocol responses
 * and the result, application/json for session creation and
 * description), and a body is refused as it arrives once it passes the
 * cap (max_response for binary bodies, 1 MiB for anything else), by its
 * Content-Length or by its bytes. Either is HENN_EPROTO with a message
 * that names the type or the limit, never retried.
 *
 * Tokens are held in memory only (wiped on free), sent only in the
 * Authorization header, never printed: error messages carry the
 * server's JSON message or libcurl's error text, never a header.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "henn/service.h"
#include "service/client_internal.h"

/* Session ids and tokens: lower-case hex. */
#define HENN_SVC_SESSION_CHARS 32
#define HENN_SVC_TOKEN_CHARS 64
/* The largest JSON body accepted (session creation and description,
 * errors: a few hundred bytes in practice); binary bodies are capped by
 * the client's max_response (henn/service.h). Larger answers are a broken
 * or hostile server. */
#define CLIENT_MAX_JSON ((size_t)1 << 20)
#define CLIENT_DEFAULT_RETRY_S 120.0
#define CLIENT_CONNECT_TIMEOUT_S 10L
/* One request may take this long (the server's homomorphic work runs
 * while the request is open; LR key uploads are hundreds of MB). */
#define CLIENT_REQUEST_TIMEOUT_S 1800L

struct henn_svc_client {
    CURL *curl;
    char *base;         /* "https://host:port", no trailing slash */
    char *server_token; /* NULL when none; wiped on free */
    char *ca_file;
    double retry_s;
    char session[HENN_SVC_SESSION_CHARS + 1];
    char token[HENN_SVC_TOKEN_CHARS + 1]; /* secret */
    uint64_t seq;                         /* last seq the server handled */
    char error[512];
    unsigned drop_every; /* test hook: lose every k-th message response */
    uint64_t dropped;
    uint64_t retries;
    CURLcode last_curl; /* the last exchange's libcurl result */
    size_t max_response; /* binary bodies; JSON: at most CLIENT_MAX_JSON */
    /* The journal (henn_svc_client_journal): -1 when none. While jread >=
     * 0 the transport replays the journal's records from offset jread,
     * jseq being the seq of the next call. */
    int jfd;
    off_t jread;
    uint64_t jseq;
    uint64_t jreplayed;
};

/* The Content-Type a successful answer must carry. */
enum { EXPECT_NONE, EXPECT_BIN, EXPECT_JSON };
static const char BIN_TYPE[] = "application/octet-stream";
static const char JSON_TYPE[] = "application/json";

/* A response being received: its body, and from its headers the
 * Content-Type ("" when none; "?" when several or too long) and the
 * Content-Length (-1 when none). */
typedef struct rbuf {
    uint8_t *data;
    size_t len, cap;
    size_t max_bin;   /* the client's max_response */
    size_t limit;     /* this body's cap, set at its first byte */
    int too_big;
    long long clen;
    char ctype[96];
} rbuf;

/* type (a Content-Type value) names the media type want, whatever its
 * parameters ("application/json; charset=utf-8"), in any case. */
static int media_is(const char *type, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(type, want, n) != 0)
        return 0;
    type += n;
    while (*type == ' ' || *type == '\t')
        type++;
    return *type == '\0' || *type == ';';
}

/* One header line (libcurl hands each, the status line included, with its
 * CRLF): Content-Type and Content-Length of the final response. */
static size_t on_header(char *ptr, size_t size, size_t nitems, void *user)
{
    rbuf *b = user;
    size_t n = size * nitems, k, v;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) { /* a new response (after a 1xx) */
        b->ctype[0] = '\0';
        b->clen = -1;
        return n;
    }
    for (k = 0; k < n && ptr[k] != ':'; k++) {
    }
    if (k == n)
        return n;
    v = k + 1;
    while (v < n && (ptr[v] == ' ' || ptr[v] == '\t'))
        v++;
    while (n > v && (ptr[n - 1] == '\r' || ptr[n - 1] == '\n' || ptr[n - 1] == ' ' ||
                     ptr[n - 1] == '\t'))
        n--;
    if (k == 12 && strncasecmp(ptr, "Content-Type", 12) == 0) {
        if (b->ctype[0] != '\0' || n - v >= sizeof(b->ctype) || n == v)
            snprintf(b->ctype, sizeof(b->ctype), "?");
        else {
            memcpy(b->ctype, ptr + v, n - v);
            b->ctype[n - v] = '\0';
        }
    } else if (k == 14 && strncasecmp(ptr, "Content-Length", 14) == 0) {
        long long len = 0;
        size_t i;
        for (i = v; i < n && ptr[i] >= '0' && ptr[i] <= '9' && len < ((long long)1 << 50); i++)
            len = 10 * len + (ptr[i] - '0');
        b->clen = i > v ? len : -1; /* libcurl itself refuses a malformed one */
    }
    return size * nitems;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    rbuf *b = user;
    size_t n = size * nmemb;
    if (b->limit == 0) {
        /* The first bytes: the headers are complete. Binary bodies may be
         * max_response long, anything else (JSON, errors, a type we do not
         * take) CLIENT_MAX_JSON; a declared length over it stops here. */
        b->limit = media_is(b->ctype, BIN_TYPE) ? b->max_bin
                   : b->max_bin < CLIENT_MAX_JSON ? b->max_bin
                                                  : CLIENT_MAX_JSON;
        if (b->clen >= 0 && (unsigned long long)b->clen > (unsigned long long)b->limit) {
            b->too_big = 1;
            return 0; /* aborts the transfer */
        }
    }
    if (n > b->limit - b->len) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *d;
        if (b->clen >= 0 && (size_t)b->clen >= b->len + n && cap < (size_t)b->clen)
            cap = (size_t)b->clen; /* declared and under the limit: one allocation */
        while (cap < b->len + n)
            cap = cap > b->limit / 2 ? b->limit : 2 * cap;
        d = realloc(b->data, cap);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void set_error(henn_svc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(henn_svc_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
}

/* The server's error message from a JSON error body ({"error":{"code",
 * "message"}}) into c->error, prefixed with the HTTP status. */
static void take_server_error(henn_svc_client *c, long status, const rbuf *b)
{
    json_t *j = b->len ? json_loadb((const char *)b->data, b->len, 0, NULL) : NULL;
    const char *code = NULL, *msg = NULL;
    json_t *e = j ? json_object_get(j, "error") : NULL;
    if (e) {
        code = json_string_value(json_object_get(e, "code"));
        msg = json_string_value(json_object_get(e, "message"));
    }
    snprintf(c->error, sizeof(c->error), "HTTP %ld%s%s%s%s", status, code ? " " : "",
             code ? code : "", msg ? ": " : "", msg ? msg : "");
    json_decref(j);
    /* The text is the server's: a hostile one could echo this client's
     * token into it or send terminal escapes. */
    if ((c->token[0] != '\0' && strstr(c->error, c->token) != NULL) ||
        (c->server_token != NULL && c->server_token[0] != '\0' &&
         strstr(c->error, c->server_token) != NULL))
        snprintf(c->error, sizeof(c->error), "HTTP %ld (the server's message held a token)",
                 status);
    for (size_t i = 0; c->error[i] != '\0'; i++)
        if ((unsigned char)c->error[i] < 0x20 || (unsigned char)c->error[i] == 0x7f)
            c->error[i] = '?';
}

/* Transient libcurl errors: the request may be sent again. */
static int curl_transient(CURLcode e)
{
    switch (e) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* The first printable characters of a server's Content-Type (for an
 * error message: the text is the server's). */
static void printable(char *out, size_t cap, const char *in)
{
    size_t i;
    for (i = 0; i + 1 < cap && in[i] != '\0' && i < 64; i++)
        out[i] = (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

/*
 * One HTTP exchange. auth: 1 the server token, 2 the session token, 0
 * none. expect: the Content-Type a 2xx answer must carry (EXPECT_NONE: not
 * checked). Returns 0 when a response arrived (*status set, body in
 * *out), HENN_EIO for a network error (*transient says whether to
 * retry), HENN_EPROTO for a body over the limit or a 2xx answer of
 * another type (not transient), HENN_ENOMEM.
 */
static int exchange(henn_svc_client *c, const char *method, const char *path, int auth,
                    int expect, const uint8_t *body, size_t body_len, long *status, rbuf *out,
                    int *transient)
{
    char url[1024], hdr[128];
    struct curl_slist *h = NULL, *h2;
    CURLcode e;
    const char *tok = auth == 1 ? c->server_token : auth == 2 ? c->token : NULL;
    int rc = 0;

    *status = 0;
    *transient = 0;
    memset(out, 0, sizeof(*out));
    out->max_bin = c->max_response;
    out->clen = -1;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
        return HENN_EINVAL;
    h = curl_slist_append(NULL, "Expect:");
    if (h && tok) {
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
        h2 = curl_slist_append(h, hdr);
        henn_memzero(hdr, sizeof(hdr));
        h = h2;
    }
    if (h && body) {
        h2 = curl_slist_append(h, strcmp(path, "/v1/sessions") == 0
                                      ? "Content-Type: application/json"
                                      : "Content-Type: application/octet-stream");
        h = h2;
    }
    if (h == NULL) {
        /* curl_slist_append returns NULL and keeps the list on failure;
         * the list built so far leaks only in that out-of-memory case. */
        return HENN_ENOMEM;
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    /* A protocol message may keep the server busy for minutes (its work,
     * or replaying the session's log after a restart); the other requests
     * are answered at once, so a server that accepts and never answers
     * them costs about retry_s (at least 5 s, at most 60 s), not 1800 s. */
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT,
                     strstr(path, "/messages/") != NULL
                         ? CLIENT_REQUEST_TIMEOUT_S
                         : (long)(c->retry_s < 5.0 ? 5.0 : c->retry_s > 60.0 ? 60.0 : c->retry_s));
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "GET") == 0 ? NULL : method);
    }
    e = curl_easy_perform(c->curl);
    c->last_curl = e;
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h); /* the Authorization line: libcurl copies, we free */
    if (e == CURLE_OK) {
        const char *want = expect == EXPECT_BIN ? BIN_TYPE : JSON_TYPE;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
        if (expect != EXPECT_NONE && *status >= 200 && *status < 300 &&
            !(out->len == 0 && out->ctype[0] == '\0') && !media_is(out->ctype, want)) {
            char shown[72];
            printable(shown, sizeof(shown), out->ctype);
            set_error(c, "the server answered HTTP %ld with Content-Type \"%s\", not %s", *status,
                      shown, want);
            rc = HENN_EPROTO;
        }
    } else if (e == CURLE_WRITE_ERROR && !out->too_big) {
        rc = HENN_ENOMEM;
    } else if (out->too_big) {
        set_error(c, "the server's response (%s%s) exceeds the client's limit of %zu bytes",
                  out->ctype[0] != '\0' && media_is(out->ctype, BIN_TYPE) ? "binary" : "JSON",
                  out->clen >= 0 ? ", by its Content-Length" : "", out->limit);
        rc = HENN_EPROTO;
    } else {
        set_error(c, "%s", curl_easy_strerror(e));
        *transient = curl_transient(e);
        rc = HENN_EIO;
    }
    if (rc != 0) {
        if (out->data != NULL)
            henn_memzero(out->data, out->len); /* a creation answer holds a token */
        free(out->data);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/*
 * An exchange retried on transient errors and 5xx until c->retry_s has
 * passed (idempotent requests only). Returns as exchange(); a final 5xx
 * is returned as a response.
 */
static int exchange_retry(henn_svc_client *c, const char *method, const char *path, int auth,
                          int expect, const uint8_t *body, size_t body_len, long *status,
                          rbuf *out)
{
    double deadline = now_s() + c->retry_s, wait = 0.05;
    for (;;) {
        int transient, rc = exchange(c, method, path, auth, expect, body, body_len, status, out,
                                     &transient);
        if (rc == 0 && *status < 500)
            return 0;
        if (rc != 0 && !transient)
            return rc;
        if (now_s() + wait > deadline) {
            if (rc == 0)
                take_server_error(c, *status, out);
            return rc;
        }
        if (rc == 0) {
            free(out->data);
            memset(out, 0, sizeof(*out));
        }
        c->retries++;
        sleep_s(wait);
        wait = wait * 2 > 2.0 ? 2.0 : wait * 2;
    }
}

static int is_hex(const char *s, size_t n)
{
    size_t i;
    if (s == NULL || strlen(s) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* host (as curl_url_get gives it) is loopback: a numeric 127.x.y.z,
 * [::1] or localhost; a name such as 127.0.0.1.example.org is not. */
static int loopback_host(const char *host)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1)
        return (ntohl(a.s_addr) >> 24) == 127;
    return strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}

/* Plain http:// only to a loopback host unless allowed. */
static int check_url(henn_svc_client *c, const henn_svc_client_opts *o)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = HENN_EINVAL;
    if (u == NULL)
        return HENN_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        set_error(c, "not a URL: %s", o->url);
    } else if (strcmp(scheme, "https") == 0) {
        rc = 0;
    } else if (strcmp(scheme, "http") != 0) {
        set_error(c, "the server URL must start with https:// (or http:// on loopback)");
    } else if (o->allow_insecure_http || loopback_host(host)) {
        rc = 0;
    } else {
        set_error(c, "plain http:// to %s is refused (not loopback): use https:// or "
                     "allow insecure HTTP explicitly",
                  host);
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A client without a session. */
static int client_new(henn_svc_client **out, const henn_svc_client_opts *o)
{
    henn_svc_client *c;
    size_t n;
    int rc;

    *out = NULL;
    if (o == NULL || o->url == NULL || !(o->retry_s >= 0.0) || o->retry_s > 1e7)
        return HENN_EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return HENN_ENOMEM;
    c->jfd = -1;
    c->jread = -1;
    c->retry_s = o->retry_s > 0.0 ? o->retry_s : CLIENT_DEFAULT_RETRY_S;
    c->max_response = o->max_response > 0 ? o->max_response : HENN_SVC_CLIENT_MAX_RESPONSE;
    rc = check_url(c, o);
    if (rc != 0) {
        *out = c; /* the caller reads the reason, then frees */
        return rc;
    }
    c->base = dupstr(o->url);
    c->server_token = o->server_token ? dupstr(o->server_token) : NULL;
    c->ca_file = o->ca_file ? dupstr(o->ca_file) : NULL;
    c->curl = curl_easy_init();
    if (c->base == NULL || c->curl == NULL || (o->server_token && !c->server_token) ||
        (o->ca_file && !c->ca_file)) {
        *out = c;
        return HENN_ENOMEM;
    }
    n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    /* A CA file given is the only trust anchor: libcurl-gnutls would also
     * load its default CA directory (/etc/ssl/certs, about 150
     * certificates parsed on every new connection, about 35 ms of CPU). */
    if (c->ca_file) {
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPIDLE, 15L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "henn-client/1");
    *out = c;
    return 0;
}

/* The last handled seq of c's session into c->seq (GET /v1/sessions/{id}). */
static int read_seq(henn_svc_client *c, uint64_t *seq)
{
    char path[128];
    long status;
    rbuf b;
    json_t *j = NULL, *s;
    int rc;

    snprintf(path, sizeof(path), "/v1/sessions/%s", c->session);
    rc = exchange_retry(c, "GET", path, 2, EXPECT_JSON, NULL, 0, &status, &b);
    if (rc != 0)
        return rc;
    if (status != 200) {
        take_server_error(c, status, &b);
        rc = HENN_EIO;
    } else if ((j = json_loadb((const char *)b.data, b.len, 0, NULL)) == NULL ||
               !json_is_integer(s = json_object_get(j, "seq")) || json_integer_value(s) < 0) {
        set_error(c, "the server's session description has no seq");
        rc = HENN_EPROTO;
    } else {
        *seq = (uint64_t)json_integer_value(s);
    }
    json_decref(j);
    free(b.data);
    return rc;
}

int henn_svc_client_create(henn_svc_client **out, const henn_svc_client_opts *o,
                           const char *protocol, const char *config_json)
{
    henn_svc_client *c = NULL;
    json_t *req = NULL, *cfg = NULL, *resp = NULL;
    char *body = NULL;
    long status;
    rbuf b = {0};
    int rc, transient;
    double deadline, wait = 0.05;

    *out = NULL;
    if (protocol == NULL || config_json == NULL)
        return HENN_EINVAL;
    rc = client_new(&c, o);
    if (rc != 0)
        goto done;
    cfg = json_loads(config_json, 0, NULL);
    if (!json_is_object(cfg)) {
        set_error(c, "the session config is not a JSON object");
        rc = HENN_EINVAL;
        goto done;
    }
    req = json_pack("{s:s, s:O}", "protocol", protocol, "config", cfg);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    if (body == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    /* Creating is not idempotent: retry only when the server was not
     * reached at all (connection refused, e.g. while it restarts); a name
     * that does not resolve is a typo more often than a blip. */
    deadline = now_s() + c->retry_s;
    for (;;) {
        rc = exchange(c, "POST", "/v1/sessions", c->server_token ? 1 : 0, EXPECT_JSON,
                      (const uint8_t *)body, strlen(body), &status, &b, &transient);
        if (rc == 0 || !transient || c->last_curl != CURLE_COULDNT_CONNECT ||
            now_s() + wait > deadline)
            break;
        c->retries++;
        sleep_s(wait);
        wait = wait * 2 > 2.0 ? 2.0 : wait * 2;
    }
    if (rc != 0)
        goto done;
    if (status != 201 && status != 200) {
        take_server_error(c, status, &b);
        rc = HENN_EIO;
        goto done;
    }
    resp = json_loadb((const char *)b.data, b.len, 0, NULL);
    {
        const char *sid = json_string_value(json_object_get(resp, "session"));
        const char *tok = json_string_value(json_object_get(resp, "token"));
        json_t *seq = json_object_get(resp, "seq");
        if (!is_hex(sid, HENN_SVC_SESSION_CHARS) || !is_hex(tok, HENN_SVC_TOKEN_CHARS)) {
            set_error(c, "the server's answer to session creation is malformed");
            rc = HENN_EPROTO;
            goto done;
        }
        memcpy(c->session, sid, HENN_SVC_SESSION_CHARS + 1);
        memcpy(c->token, tok, HENN_SVC_TOKEN_CHARS + 1);
        c->seq = json_is_integer(seq) && json_integer_value(seq) > 0
                     ? (uint64_t)json_integer_value(seq)
                     : 0;
    }
done:
    if (resp) {
        /* the token's copy inside the parsed JSON */
        json_t *t = json_object_get(resp, "token");
        if (json_is_string(t))
            henn_memzero((void *)(uintptr_t)json_string_value(t), json_string_length(t));
    }
    if (b.data)
        henn_memzero(b.data, b.len);
    free(b.data);
    if (body) { /* json_dumps allocates with jansson's functions */
        json_malloc_t jm;
        json_free_t jf;
        json_get_alloc_funcs(&jm, &jf);
        jf(body);
    }
    json_decref(resp);
    json_decref(req);
    json_decref(cfg);
    *out = c;
    return rc;
}

int henn_svc_client_resume(henn_svc_client **out, const henn_svc_client_opts *o,
                           const char *session, const char *token)
{
    henn_svc_client *c = NULL;
    int rc;

    *out = NULL;
    if (!is_hex(session, HENN_SVC_SESSION_CHARS) || !is_hex(token, HENN_SVC_TOKEN_CHARS))
        return HENN_EINVAL;
    rc = client_new(&c, o);
    if (rc == 0) {
        memcpy(c->session, session, HENN_SVC_SESSION_CHARS + 1);
        memcpy(c->token, token, HENN_SVC_TOKEN_CHARS + 1);
        rc = read_seq(c, &c->seq);
    }
    *out = c;
    return rc;
}

const char *henn_svc_client_session(const henn_svc_client *c)
{
    return c ? c->session : "";
}

const char *henn_svc_client_token(const henn_svc_client *c)
{
    return c ? c->token : "";
}

const char *henn_svc_client_error(const henn_svc_client *c)
{
    return c ? c->error : "";
}

/* POST one message at seq, retried as the file comment says. */
static int post_message(henn_svc_client *c, uint64_t seq, const uint8_t *req, size_t req_len,
                        uint8_t **resp, size_t *resp_len)
{
    char path[160];
    long status;
    rbuf b;
    int rc, conflicts = 0;

    for (;;) {
        snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", c->session,
                 (unsigned long long)seq);
        rc = exchange_retry(c, "POST", path, 2, EXPECT_BIN, req, req_len, &status, &b);
        if (rc != 0)
            return rc;
        if (status == 200 && c->drop_every > 0 && seq % c->drop_every == 0 &&
            c->dropped < seq) {
            /* test hook: the response is lost on the way; send again */
            c->dropped = seq;
            free(b.data);
            c->retries++;
            continue;
        }
        if (status == 200) {
            if (b.data == NULL && (b.data = malloc(1)) == NULL)
                return HENN_ENOMEM;
            *resp = b.data;
            *resp_len = b.len;
            c->seq = seq;
            return 0;
        }
        if (status == 409 && conflicts++ < 3) {
            uint64_t last = 0;
            free(b.data);
            rc = read_seq(c, &last);
            if (rc != 0)
                return rc;
            if (last == seq || last + 1 == seq)
                continue; /* handled (stored response) or still to handle */
            snprintf(c->error, sizeof(c->error),
                     "the server's session is at message %llu, this client at %llu",
                     (unsigned long long)last, (unsigned long long)seq);
            return HENN_EPROTO;
        }
        take_server_error(c, status, &b);
        free(b.data);
        return HENN_EIO;
    }
}

/* ---- the journal (henn_svc_client_journal) ----
 *
 * A file of records, each: "HJ", a tag ('H' header, 'Q' request, 'R'
 * response), a zero byte, seq (u64 big-endian), length (u64 big-endian),
 * the bytes, and a 16-byte BLAKE2b of everything before it. The header's
 * bytes are the session id and its seq the session's seq when the journal
 * began. Then Q s, R s, Q s + 1, R s + 1, ...: each written and
 * fdatasync'ed before the client goes on (a request before it is sent, a
 * response before the caller sees it), so a kill leaves at most a torn
 * last record, which the replay drops. */
#define JHDR 20
#define JMAC 16
#define JOURNAL_MAX_RECORD ((uint64_t)1 << 32)

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return HENN_EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_full_at(int fd, uint8_t *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return HENN_EFORMAT; /* the end, or a torn record */
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/* Append one record and make it durable. */
static int jwrite(henn_svc_client *c, char tag, uint64_t seq, const uint8_t *data, size_t len)
{
    uint8_t h[JHDR], mac[JMAC];
    crypto_generichash_state st;
    int rc;
    h[0] = 'H';
    h[1] = 'J';
    h[2] = (uint8_t)tag;
    h[3] = 0;
    put_u64(h + 4, seq);
    put_u64(h + 12, (uint64_t)len);
    crypto_generichash_init(&st, NULL, 0, JMAC);
    crypto_generichash_update(&st, h, JHDR);
    if (len > 0)
        crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, mac, JMAC);
    rc = write_full(c->jfd, h, JHDR);
    if (rc == 0 && len > 0)
        rc = write_full(c->jfd, data, len);
    if (rc == 0)
        rc = write_full(c->jfd, mac, JMAC);
    if (rc == 0 && fdatasync(c->jfd) != 0)
        rc = HENN_EIO;
    if (rc != 0)
        set_error(c, "cannot write the journal: %s", strerror(errno));
    return rc;
}

/* Read the record at off: its tag, seq, bytes (malloc'd, *data NULL when
 * skip) and the offset after it. HENN_EFORMAT: no whole, intact record
 * there (the end, or a torn tail); HENN_ENOMEM. */
static int jread_at(henn_svc_client *c, off_t off, char *tag, uint64_t *seq, uint8_t **data,
                    size_t *len, off_t *next)
{
    uint8_t h[JHDR], mac[JMAC], want[JMAC], *d = NULL;
    crypto_generichash_state st;
    struct stat sb;
    uint64_t n;
    int rc;
    *data = NULL;
    *len = 0;
    if ((rc = read_full_at(c->jfd, h, JHDR, off)) != 0)
        return rc;
    n = get_u64(h + 12);
    /* a length past the file's end is a torn (or damaged) record: no
     * allocation of what a damaged header says */
    if (h[0] != 'H' || h[1] != 'J' || h[3] != 0 || n > JOURNAL_MAX_RECORD ||
        fstat(c->jfd, &sb) != 0 || sb.st_size < off ||
        (uint64_t)(sb.st_size - off) < JHDR + JMAC + n)
        return HENN_EFORMAT;
    if ((d = malloc(n > 0 ? (size_t)n : 1)) == NULL)
        return HENN_ENOMEM;
    rc = read_full_at(c->jfd, d, (size_t)n, off + JHDR);
    if (rc == 0)
        rc = read_full_at(c->jfd, mac, JMAC, off + JHDR + (off_t)n);
    if (rc == 0) {
        crypto_generichash_init(&st, NULL, 0, JMAC);
        crypto_generichash_update(&st, h, JHDR);
        crypto_generichash_update(&st, d, (size_t)n);
        crypto_generichash_final(&st, want, JMAC);
        if (sodium_memcmp(mac, want, JMAC) != 0)
            rc = HENN_EFORMAT;
    }
    if (rc != 0) {
        free(d);
        return rc;
    }
    *tag = (char)h[2];
    *seq = get_u64(h + 4);
    *data = d;
    *len = (size_t)n;
    *next = off + JHDR + (off_t)n + JMAC;
    return 0;
}

uint64_t henn__svc_client_journal_start(const char *path)
{
    uint8_t h[JHDR];
    uint64_t v = UINT64_MAX;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return v;
    if (read_full_at(fd, h, JHDR, 0) == 0 && h[0] == 'H' && h[1] == 'J' && h[2] == 'H')
        v = get_u64(h + 4);
    close(fd);
    return v;
}

int henn_svc_client_journal(henn_svc_client *c, const char *path, int replay)
{
    uint8_t *d = NULL;
    size_t len;
    off_t off = 0, next, first;
    uint64_t seq, start, done, pend = 0;
    char tag;
    int fd, rc;

    if (c == NULL || path == NULL || c->session[0] == '\0' || c->jfd >= 0)
        return HENN_EINVAL;
    fd = open(path, replay ? O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC
                           : O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        set_error(c, "cannot open the journal %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return HENN_EIO;
    }
    /* One client per journal (locked until the client is freed or
     * killed): a second --resume would send other bytes under the same
     * seqs and interleave its records. Truncated only once locked. */
    if ((flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) ||
        (!replay && ftruncate(fd, 0) != 0)) {
        set_error(c, "cannot open the journal %s: %s", path,
                  errno == EWOULDBLOCK ? "it is in use by another client" : strerror(errno));
        close(fd);
        return HENN_EIO;
    }
    c->jfd = fd;
    if (!replay) {
        rc = jwrite(c, 'H', c->seq, (const uint8_t *)c->session, HENN_SVC_SESSION_CHARS);
        if (rc != 0) {
            close(fd);
            c->jfd = -1;
        }
        return rc;
    }
    /* Replay: the header, then Q s / R s pairs in order up to the first
     * record that is not whole (dropped). */
    rc = jread_at(c, 0, &tag, &start, &d, &len, &first);
    if (rc == 0 && (tag != 'H' || len != HENN_SVC_SESSION_CHARS ||
                    memcmp(d, c->session, HENN_SVC_SESSION_CHARS) != 0)) {
        set_error(c, "the journal %s belongs to another session", path);
        rc = HENN_EPROTO;
    } else if (rc == HENN_EFORMAT) {
        set_error(c, "the journal %s is not a henn journal", path);
    }
    free(d);
    d = NULL;
    done = start;
    for (off = first; rc == 0;) {
        int r = jread_at(c, off, &tag, &seq, &d, &len, &next);
        free(d);
        d = NULL;
        if (r == HENN_EFORMAT)
            break;
        if (r != 0) {
            rc = r;
            break;
        }
        if (pend == 0 && tag == 'Q' && seq == done + 1) {
            pend = seq;
        } else if (pend != 0 && tag == 'R' && seq == pend) {
            done = pend;
            pend = 0;
        } else {
            break; /* out of order: not written by this client */
        }
        off = next;
    }
    /* The server handled everything the journal answered, and perhaps
     * the request in flight at the kill; nothing else. */
    if (rc == 0 && c->seq != done && !(pend != 0 && c->seq == pend)) {
        set_error(c,
                  "the server's session is at message %llu, the journal at %llu%s: "
                  "it cannot be resumed",
                  (unsigned long long)c->seq, (unsigned long long)done,
                  pend != 0 ? " (one more in flight)" : "");
        rc = HENN_EPROTO;
    }
    /* The torn tail dropped only from a journal that resumes: a refused
     * one is left as it was (its records after damage kept to inspect). */
    if (rc == 0 && ftruncate(fd, off) != 0) {
        set_error(c, "cannot truncate the journal %s: %s", path, strerror(errno));
        rc = HENN_EIO;
    }
    if (rc != 0) {
        close(fd);
        c->jfd = -1;
        return rc;
    }
    c->jread = first;
    c->jseq = start + 1;
    c->jreplayed = 0;
    return 0;
}

/* A call while the journal replays: the journal's response when it has
 * one; the journal's request in flight at the kill sent again under its
 * seq (its exact bytes: the server answers from its stored response or
 * handles it now); after the journal's end, live. The caller's request
 * must be the journal's message at this place: the same length and
 * header (ciphertexts may differ: encryption is randomised). */
static int replay_call(henn_svc_client *c, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    uint8_t *q = NULL, *r = NULL;
    size_t qlen, rlen;
    off_t next, next2;
    uint64_t seq;
    char tag;
    int rc = jread_at(c, c->jread, &tag, &seq, &q, &qlen, &next);

    if (rc == HENN_EFORMAT) { /* the journal's end: live from here */
        c->jread = -1;
        return 1;
    }
    if (rc != 0)
        return rc;
    if (tag != 'Q' || seq != c->jseq || qlen != req_len ||
        memcmp(q, req, req_len < 8 ? req_len : 8) != 0) {
        set_error(c,
                  "message %llu differs from the journal's (another run's data or options?)",
                  (unsigned long long)c->jseq);
        free(q);
        return HENN_EPROTO;
    }
    rc = jread_at(c, next, &tag, &seq, &r, &rlen, &next2);
    if (rc == 0 && (tag != 'R' || seq != c->jseq))
        rc = HENN_EFORMAT; /* checked at open */
    if (rc == 0) {
        *resp = r;
        *resp_len = rlen;
        c->jread = next2;
        c->jseq++;
        c->jreplayed++;
        free(q);
        return 0;
    }
    free(r);
    if (rc != HENN_EFORMAT) {
        free(q);
        return rc;
    }
    /* The request in flight at the kill. */
    c->jread = -1;
    rc = post_message(c, c->jseq, q, qlen, resp, resp_len);
    free(q);
    if (rc == 0 && (rc = jwrite(c, 'R', c->seq, *resp, *resp_len)) != 0) {
        free(*resp);
        *resp = NULL;
        *resp_len = 0;
    }
    return rc;
}

static int transport_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    henn_svc_client *c = ctx;
    uint64_t seq;
    int rc;
    *resp = NULL;
    *resp_len = 0;
    if (c == NULL || c->session[0] == '\0' || (req == NULL && req_len > 0))
        return HENN_EINVAL;
    if (c->jfd < 0)
        return post_message(c, c->seq + 1, req, req_len, resp, resp_len);
    if (c->jread >= 0 && (rc = replay_call(c, req, req_len, resp, resp_len)) <= 0)
        return rc;
    seq = c->seq + 1;
    rc = jwrite(c, 'Q', seq, req, req_len);
    if (rc == 0)
        rc = post_message(c, seq, req, req_len, resp, resp_len);
    if (rc == 0 && (rc = jwrite(c, 'R', seq, *resp, *resp_len)) != 0) {
        free(*resp);
        *resp = NULL;
        *resp_len = 0;
    }
    return rc;
}

void henn_svc_client_transport(henn_transport *t, henn_svc_client *c)
{
    memset(t, 0, sizeof(*t));
    t->call = transport_call;
    t->ctx = c;
}

int henn_svc_client_result(henn_svc_client *c, uint8_t **buf, size_t *buf_len)
{
    char path[128];
    long status;
    rbuf b;
    int rc;

    *buf = NULL;
    *buf_len = 0;
    if (c == NULL || c->session[0] == '\0')
        return HENN_EINVAL;
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", c->session);
    rc = exchange_retry(c, "GET", path, 2, EXPECT_BIN, NULL, 0, &status, &b);
    if (rc != 0)
        return rc;
    if (status != 200) {
        take_server_error(c, status, &b);
        free(b.data);
        return HENN_EIO;
    }
    if (b.data == NULL && (b.data = malloc(1)) == NULL)
        return HENN_ENOMEM;
    *buf = b.data;
    *buf_len = b.len;
    return 0;
}

int henn_svc_client_delete(henn_svc_client *c)
{
    char path[128];
    long status;
    rbuf b;
    int rc;

    if (c == NULL || c->session[0] == '\0')
        return HENN_EINVAL;
    snprintf(path, sizeof(path), "/v1/sessions/%s", c->session);
    rc = exchange_retry(c, "DELETE", path, 2, EXPECT_NONE, NULL, 0, &status, &b);
    if (rc == 0 && status != 204 && status != 200 && status != 404) {
        take_server_error(c, status, &b);
        rc = HENN_EIO;
    }
    free(b.data);
    return rc;
}

void henn_svc_client_free(henn_svc_client *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->jfd >= 0)
        close(c->jfd);
    if (c->server_token) {
        henn_memzero(c->server_token, strlen(c->server_token));
        free(c->server_token);
    }
    free(c->base);
    free(c->ca_file);
    henn_memzero(c, sizeof(*c));
    free(c);
}

/* ---- test hooks (service/client_internal.h) ---- */

void henn__svc_client_drop_responses(henn_svc_client *c, unsigned every)
{
    c->drop_every = every;
}

uint64_t henn__svc_client_seq(const henn_svc_client *c)
{
    return c->seq;
}

uint64_t henn__svc_client_retries(const henn_svc_client *c)
{
    return c->retries;
}

uint64_t henn__svc_client_replayed(const henn_svc_client *c)
{
    return c->jreplayed;
}
