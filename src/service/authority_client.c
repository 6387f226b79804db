/*
 * The third party of the service's CryptoNN sessions (docs/SERVICE.md,
 * "cryptonn-mlp"): creating a session with an authority token, and the
 * authority's loop that long-polls the server's requests and answers them
 * (henn/service.h). Its own small libcurl exchange: the authority's token
 * opens only the channel, so it has no use for a henn_svc_client.
 *
 * Answers are checked as the owner's client checks them (client.c): a
 * successful answer must carry its route's Content-Type (application/json
 * for session creation, application/octet-stream for a server request),
 * and a body is refused as it arrives once it passes its cap (the
 * options' max_response for a server request, 1 MiB for anything else),
 * by its Content-Length or by its bytes: HENN_EPROTO, never retried.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "henn/service.h"

#define TOKEN_CHARS 64
#define SESSION_CHARS 32
#define POLL_WAIT_S 2        /* the long poll's wait: how often stop() is asked */
/* JSON bodies (session creation, errors: a few hundred bytes) and any body
 * of a type other than the binary one; binary bodies: max_response. */
#define MAX_JSON ((size_t)1 << 20)

/* The Content-Type a successful answer must carry. */
enum { EXPECT_NONE, EXPECT_BIN, EXPECT_JSON };
static const char BIN_TYPE[] = "application/octet-stream";
static const char JSON_TYPE[] = "application/json";

/* A response being received: its body, its Content-Type ("" none, "?"
 * several or too long), Content-Length (-1 none) and Henn-Seq. */
typedef struct abuf {
    uint8_t *data;
    size_t len, cap;
    size_t max_bin; /* the options' max_response */
    size_t limit;   /* this body's cap, set at its first byte */
    int too_big;
    long long clen;
    char ctype[96];
    uint64_t seq; /* the Henn-Seq header */
} abuf;

/* type names the media type want, whatever its parameters, in any case. */
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

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    abuf *b = user;
    size_t n = size * nmemb;
    if (b->limit == 0) { /* the headers are complete */
        b->limit = media_is(b->ctype, BIN_TYPE) ? b->max_bin
                   : b->max_bin < MAX_JSON      ? b->max_bin
                                                : MAX_JSON;
        if (b->clen >= 0 && (unsigned long long)b->clen > (unsigned long long)b->limit) {
            b->too_big = 1;
            return 0;
        }
    }
    if (n > b->limit - b->len) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *grown;
        while (cap < b->len + n)
            cap = cap > b->limit / 2 ? b->limit : 2 * cap;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *user)
{
    abuf *b = user;
    size_t n = size * nmemb, k, v, e;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) { /* a new response (after a 1xx) */
        b->ctype[0] = '\0';
        b->clen = -1;
        return n;
    }
    for (k = 0; k < n && ptr[k] != ':'; k++) {
    }
    if (k < n) {
        v = k + 1;
        e = n;
        while (v < e && (ptr[v] == ' ' || ptr[v] == '\t'))
            v++;
        while (e > v && (ptr[e - 1] == '\r' || ptr[e - 1] == '\n' || ptr[e - 1] == ' ' ||
                         ptr[e - 1] == '\t'))
            e--;
        if (k == 12 && strncasecmp(ptr, "Content-Type", 12) == 0) {
            if (b->ctype[0] != '\0' || e - v >= sizeof(b->ctype) || e == v) {
                b->ctype[0] = '?';
                b->ctype[1] = '\0';
            } else {
                memcpy(b->ctype, ptr + v, e - v);
                b->ctype[e - v] = '\0';
            }
        } else if (k == 14 && strncasecmp(ptr, "Content-Length", 14) == 0) {
            long long len = 0;
            size_t i;
            for (i = v; i < e && ptr[i] >= '0' && ptr[i] <= '9' && len < ((long long)1 << 50);
                 i++)
                len = 10 * len + (ptr[i] - '0');
            b->clen = i > v ? len : -1;
        }
    }
    if (n > 9 && strncasecmp(ptr, "Henn-Seq:", 9) == 0) {
        char tmp[32];
        size_t m = n - 9 < sizeof(tmp) - 1 ? n - 9 : sizeof(tmp) - 1;
        memcpy(tmp, ptr + 9, m);
        tmp[m] = '\0';
        b->seq = strtoull(tmp, NULL, 10);
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
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

/* https://, or http:// to a loopback host (or with allow_insecure_http). */
static int url_ok(const henn_svc_client_opts *o)
{
    const char *h;
    if (o == NULL || o->url == NULL || strlen(o->url) > 512)
        return 0;
    if (strncmp(o->url, "https://", 8) == 0)
        return 1;
    if (strncmp(o->url, "http://", 7) != 0)
        return 0;
    if (o->allow_insecure_http)
        return 1;
    h = o->url + 7;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0;
}

/*
 * One exchange: 0 with *status and the body in *b, HENN_EIO for a
 * network error (*transient: worth retrying), HENN_EPROTO for a body over
 * its cap or a 2xx answer whose Content-Type is not expect's (an empty
 * body without one is taken; never transient), HENN_ENOMEM.
 */
static int exchange(CURL *curl, const henn_svc_client_opts *o, const char *method,
                    const char *path, const char *token, const char *ctype, int expect,
                    const uint8_t *body, size_t body_len, long timeout_s, long *status, abuf *b,
                    int *transient)
{
    char url[1024], hdr[128];
    struct curl_slist *h = NULL, *h2;
    CURLcode e;
    int rc = 0;

    *status = 0;
    *transient = 0;
    memset(b, 0, sizeof(*b));
    b->max_bin = o->max_response > 0 ? o->max_response : HENN_SVC_CLIENT_MAX_RESPONSE;
    b->clen = -1;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", o->url, path) >= sizeof(url))
        return HENN_EINVAL;
    h = curl_slist_append(NULL, "Expect:");
    if (h != NULL && token != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
        h2 = curl_slist_append(h, hdr);
        henn_memzero(hdr, sizeof(hdr));
        h = h2;
    }
    if (h != NULL && ctype != NULL) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
        h2 = curl_slist_append(h, hdr);
        h = h2;
    }
    if (h == NULL)
        return HENN_ENOMEM;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    /* A CA file given is the only trust anchor (as in client.c): libcurl
     * would otherwise also parse its default CA directory on every new
     * connection. */
    if (o->ca_file != NULL) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, b);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? (const char *)body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    e = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (e == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        if (expect != EXPECT_NONE && *status >= 200 && *status < 300 &&
            !(b->len == 0 && b->ctype[0] == '\0') &&
            !media_is(b->ctype, expect == EXPECT_BIN ? BIN_TYPE : JSON_TYPE))
            rc = HENN_EPROTO; /* a proxy's page, a confused or hostile server */
    } else if (b->too_big) {
        rc = HENN_EPROTO; /* over the cap: not retried */
    } else {
        *transient = e == CURLE_COULDNT_CONNECT || e == CURLE_OPERATION_TIMEDOUT ||
                     e == CURLE_RECV_ERROR || e == CURLE_SEND_ERROR ||
                     e == CURLE_GOT_NOTHING || e == CURLE_PARTIAL_FILE;
        rc = e == CURLE_WRITE_ERROR ? HENN_ENOMEM : HENN_EIO;
    }
    if (rc != 0) {
        if (b->data != NULL)
            henn_memzero(b->data, b->len); /* a creation answer holds tokens */
        free(b->data);
        memset(b, 0, sizeof(*b));
    }
    return rc;
}

int henn_svc_client_create_authority(henn_svc_client **c, char authority_token[65],
                                     const henn_svc_client_opts *o, const char *protocol,
                                     const char *config_json)
{
    CURL *curl = NULL;
    json_t *req = NULL, *cfg = NULL, *resp = NULL;
    char *body = NULL, session[SESSION_CHARS + 1], token[TOKEN_CHARS + 1];
    const char *sid, *tok, *atok;
    abuf b;
    long status = 0;
    int rc, transient;
    double deadline, wait = 0.05;

    *c = NULL;
    memset(authority_token, 0, 65);
    memset(&b, 0, sizeof(b));
    if (protocol == NULL || config_json == NULL || !url_ok(o))
        return HENN_EINVAL;
    cfg = json_loads(config_json, 0, NULL);
    req = json_is_object(cfg) ? json_pack("{s:s, s:O}", "protocol", protocol, "config", cfg)
                              : NULL;
    if (req == NULL) {
        json_decref(cfg);
        return HENN_EINVAL;
    }
    body = json_dumps(req, JSON_COMPACT);
    curl = curl_easy_init();
    rc = body == NULL || curl == NULL ? HENN_ENOMEM : 0;
    /* As henn_svc_client_create: retried only while the server cannot be
     * reached at all (creating is not idempotent). */
    deadline = now_s() + (o->retry_s > 0 ? o->retry_s : 120.0);
    while (rc == 0) {
        rc = exchange(curl, o, "POST", "/v1/sessions", o->server_token, "application/json",
                      EXPECT_JSON, (const uint8_t *)body, strlen(body), 60L, &status, &b,
                      &transient);
        if (rc == 0 || !transient || now_s() + wait > deadline)
            break;
        sleep_s(wait);
        wait = wait * 2 > 2.0 ? 2.0 : wait * 2;
        rc = 0;
    }
    if (rc == 0 && status != 201)
        rc = HENN_EIO;
    if (rc == 0) {
        resp = json_loadb((const char *)b.data, b.len, 0, NULL);
        sid = json_string_value(json_object_get(resp, "session"));
        tok = json_string_value(json_object_get(resp, "token"));
        atok = json_string_value(json_object_get(resp, "authority_token"));
        if (!is_hex(sid, SESSION_CHARS) || !is_hex(tok, TOKEN_CHARS) ||
            !is_hex(atok, TOKEN_CHARS)) {
            rc = HENN_EPROTO;
        } else {
            memcpy(session, sid, SESSION_CHARS + 1);
            memcpy(token, tok, TOKEN_CHARS + 1);
            memcpy(authority_token, atok, TOKEN_CHARS + 1);
            rc = henn_svc_client_resume(c, o, session, token);
            henn_memzero(token, sizeof(token));
            if (rc != 0)
                henn_memzero(authority_token, 65);
        }
        if (resp != NULL) {
            const char *keys[] = {"token", "authority_token"};
            size_t i;
            for (i = 0; i < 2; i++) {
                json_t *t = json_object_get(resp, keys[i]);
                if (json_is_string(t))
                    henn_memzero((void *)(uintptr_t)json_string_value(t), json_string_length(t));
            }
        }
    }
    if (b.data != NULL)
        henn_memzero(b.data, b.len);
    free(b.data);
    if (body != NULL) { /* json_dumps allocates with jansson's functions */
        json_malloc_t jm;
        json_free_t jf;
        json_get_alloc_funcs(&jm, &jf);
        jf(body);
    }
    json_decref(resp);
    json_decref(req);
    json_decref(cfg);
    curl_easy_cleanup(curl);
    return rc;
}

int henn_svc_authority_serve(const henn_svc_client_opts *o, const char *session,
                             const char *token, henn_transport *authority,
                             int (*stop)(void *user), void *user, uint64_t *answered)
{
    CURL *curl;
    char poll_path[128], answer_path[160];
    double retry_s, failing_since = 0.0, wait = 0.05;
    int rc = 0;

    if (answered != NULL)
        *answered = 0;
    if (!url_ok(o) || !is_hex(session, SESSION_CHARS) || !is_hex(token, TOKEN_CHARS) ||
        authority == NULL || authority->call == NULL)
        return HENN_EINVAL;
    curl = curl_easy_init();
    if (curl == NULL)
        return HENN_ENOMEM;
    retry_s = o->retry_s > 0 ? o->retry_s : 120.0;
    snprintf(poll_path, sizeof(poll_path), "/v1/sessions/%s/requests?wait=%d", session,
             POLL_WAIT_S);
    while (rc == 0 && (stop == NULL || !stop(user))) {
        abuf b;
        long status;
        int transient;
        uint8_t *resp = NULL;
        size_t resp_len = 0;

        double t0 = now_s();
        rc = exchange(curl, o, "GET", poll_path, token, NULL, EXPECT_BIN, NULL, 0,
                      POLL_WAIT_S + 30L, &status, &b, &transient);
        if ((rc == HENN_EIO && transient) || (rc == 0 && status >= 500)) {
            /* The server restarts or the network blips: retry for retry_s. */
            free(b.data);
            if (failing_since == 0.0)
                failing_since = now_s();
            if (now_s() - failing_since > retry_s) {
                rc = HENN_EIO;
                break;
            }
            sleep_s(wait);
            wait = wait * 2 > 2.0 ? 2.0 : wait * 2;
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        failing_since = 0.0;
        wait = 0.05;
        if (status == 204) {
            /* A poll answered at once (a server stopping) is not repeated
             * at once. */
            free(b.data);
            if (now_s() - t0 < 0.2)
                sleep_s(0.2);
            continue;
        }
        if (status != 200 || b.seq == 0) {
            /* 401, 403, 404: not this authority's session (any more). */
            free(b.data);
            rc = HENN_EIO;
            break;
        }
        rc = henn_transport_call(authority, b.data, b.len, &resp, &resp_len);
        free(b.data);
        if (rc != 0)
            break;
        snprintf(answer_path, sizeof(answer_path), "/v1/sessions/%s/requests/%llu", session,
                 (unsigned long long)b.seq);
        for (;;) {
            abuf a;
            rc = exchange(curl, o, "POST", answer_path, token, "application/octet-stream",
                          EXPECT_NONE, resp, resp_len, 60L, &status, &a, &transient);
            free(a.data);
            if ((rc == HENN_EIO && transient) || (rc == 0 && status >= 500)) {
                if (failing_since == 0.0)
                    failing_since = now_s();
                if (now_s() - failing_since > retry_s) {
                    rc = HENN_EIO;
                    break;
                }
                sleep_s(wait);
                wait = wait * 2 > 2.0 ? 2.0 : wait * 2;
                continue;
            }
            failing_since = 0.0;
            wait = 0.05;
            /* 409: the server has moved on (it restarted and asks again
             * under a new seq, or the request was withdrawn): poll. */
            if (rc == 0 && status != 200 && status != 409)
                rc = HENN_EIO;
            break;
        }
        henn_memzero(resp, resp_len); /* function keys */
        free(resp);
        if (rc == 0 && answered != NULL && status == 200)
            (*answered)++;
    }
    curl_easy_cleanup(curl);
    return rc;
}
