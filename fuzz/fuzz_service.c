/* Fuzz the service's request router (henn_svc_server_route, the code the
 * daemon calls): the input is one HTTP request,
 *   byte 0: method (GET, POST, DELETE, PUT, anything else: "BREW"),
 *   then the path up to '\n', the Authorization header up to '\n' (an
 *   empty line: none), and the rest is the body.
 * In the path "@A" stands for session A's id and "@N" for its next
 * sequence number; in the header "@A" and "@B" for the tokens of
 * sessions A (kdd-private) and B (lr), so that inputs reach the
 * authenticated routes and the party's handler. Every request gets a
 * well-formed response with a known status, never a crash. A request that
 * created, moved or deleted a session is undone afterwards (the fixture
 * is rebuilt) so every input starts from the same state. The server runs
 * on a temporary data directory with max_body 64 KiB. */
#define _DEFAULT_SOURCE
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"

static henn_svc_server *srv;
static char id_a[33], tok_a[65], id_b[33], tok_b[65];

static void create(char *id, char *tok, const char *body)
{
    henn_svc_request rq = {"POST", "/v1/sessions", NULL, (const uint8_t *)body, strlen(body)};
    henn_svc_response rs;
    json_t *j;
    const char *i, *t;
    if (henn_svc_server_route(srv, &rq, &rs) != 0 || rs.status != 201)
        __builtin_trap();
    j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
    i = json_string_value(json_object_get(j, "session"));
    t = json_string_value(json_object_get(j, "token"));
    if (i == NULL || t == NULL || strlen(i) != 32 || strlen(t) != 64)
        __builtin_trap();
    memcpy(id, i, 33);
    memcpy(tok, t, 65);
    json_decref(j);
    henn_svc_response_free(&rs);
}

static void remove_session(const char *id, const char *tok)
{
    char path[64], hdr[80];
    henn_svc_request rq = {"DELETE", path, hdr, NULL, 0};
    henn_svc_response rs;
    snprintf(path, sizeof(path), "/v1/sessions/%s", id);
    snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
    if (henn_svc_server_route(srv, &rq, &rs) != 0)
        __builtin_trap();
    henn_svc_response_free(&rs);
}

static char *kdd_body(void)
{
    static const size_t dims[3] = {4, 3, 2};
    henn_nn_model m;
    uint8_t *buf = NULL;
    size_t len = 0, n;
    char *b64, *out;
    if (henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1) != 0 ||
        henn_nn_model_serialize(&buf, &len, &m) != 0)
        __builtin_trap();
    n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(n);
    out = malloc(n + 200);
    if (b64 == NULL || out == NULL)
        __builtin_trap();
    sodium_bin2base64(b64, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, n + 200,
             "{\"protocol\":\"kdd-private\",\"config\":{\"model\":\"%s\",\"nn\":{\"lr\":0.1}}}",
             b64);
    free(b64);
    free(buf);
    henn_nn_model_clear(&m);
    return out;
}

static char *KDD_BODY;

static void fixture(void)
{
    create(id_a, tok_a, KDD_BODY);
    create(id_b, tok_b, "{\"protocol\":\"lr\",\"config\":{}}");
}

static char dir[] = "/tmp/henn_fuzz_service_XXXXXX";

/* At exit: stop the server and remove its data directory. */
static void cleanup(void)
{
    static const char *const files[] = {"henn.db", "henn.db-wal", "henn.db-shm"};
    char path[sizeof(dir) + 16];
    size_t i;
    henn_svc_server_stop(srv);
    srv = NULL;
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void setup(void)
{
    henn_svc_server_opts o;
    if (henn_init() != 0 || mkdtemp(dir) == NULL)
        __builtin_trap();
    atexit(cleanup);
    henn_svc_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    o.threads = 1;
    o.max_body = 65536;
    if (henn_svc_server_start(&srv, &o) != 0)
        __builtin_trap();
    KDD_BODY = kdd_body();
    fixture();
}

/* Copy src (n bytes) into dst (cap) with the placeholders replaced. */
static void expand(char *dst, size_t cap, const uint8_t *src, size_t n, uint64_t next)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 80 < cap; i++) {
        if (src[i] == '@' && i + 1 < n && (src[i + 1] == 'A' || src[i + 1] == 'B' ||
                                           src[i + 1] == 'N' || src[i + 1] == 'I')) {
            char c = (char)src[++i];
            if (c == 'N')
                k += (size_t)snprintf(dst + k, cap - k, "%llu", (unsigned long long)next);
            else if (c == 'I')
                k += (size_t)snprintf(dst + k, cap - k, "%s", id_b);
            else
                k += (size_t)snprintf(dst + k, cap - k, "%s", c == 'A' ? tok_a : tok_b);
            continue;
        }
        dst[k++] = src[i] == 0 ? '?' : (char)src[i];
    }
    dst[k] = '\0';
}

/* The session's seq (401/404: UINT64_MAX). */
static uint64_t seq_of(const char *id, const char *tok)
{
    char path[64], hdr[80];
    henn_svc_request rq = {"GET", path, hdr, NULL, 0};
    henn_svc_response rs;
    uint64_t seq = UINT64_MAX;
    snprintf(path, sizeof(path), "/v1/sessions/%s", id);
    snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
    if (henn_svc_server_route(srv, &rq, &rs) != 0)
        __builtin_trap();
    if (rs.status == 200) {
        json_t *j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
        seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
    }
    henn_svc_response_free(&rs);
    return seq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", "PUT", "BREW"};
    char path[512], authz[512];
    const uint8_t *p, *nl;
    size_t rest, n;
    henn_svc_request rq;
    henn_svc_response rs;
    json_t *j;

    if (srv == NULL)
        setup();
    if (size < 1)
        return 0;
    rq.method = methods[data[0] % 5];
    p = data + 1;
    rest = size - 1;
    /* path: "@A" in it is session A's id (B's id is "@I"). */
    nl = memchr(p, '\n', rest);
    n = nl != NULL ? (size_t)(nl - p) : rest;
    {
        char raw[512];
        size_t i, k = 0;
        for (i = 0; i < n && k + 40 < sizeof(raw); i++) {
            if (p[i] == '@' && i + 1 < n && p[i + 1] == 'A') {
                k += (size_t)snprintf(raw + k, sizeof(raw) - k, "%s", id_a);
                i++;
                continue;
            }
            raw[k++] = p[i] == 0 ? '?' : (char)p[i];
        }
        expand(path, sizeof(path), (const uint8_t *)raw, k, seq_of(id_a, tok_a) + 1);
    }
    p += n + (nl != NULL);
    rest -= n + (nl != NULL);
    nl = memchr(p, '\n', rest);
    n = nl != NULL ? (size_t)(nl - p) : rest;
    expand(authz, sizeof(authz), p, n, 0);
    p += n + (nl != NULL);
    rest -= n + (nl != NULL);
    rq.path = path;
    rq.authorization = authz[0] != '\0' ? authz : NULL;
    rq.body = rest > 0 ? p : NULL;
    rq.body_len = rest;
    if (henn_svc_server_route(srv, &rq, &rs) != 0)
        __builtin_trap();
    switch (rs.status) {
    case 200: case 201: case 204: case 400: case 401: case 403: case 404: case 405: case 409:
    case 413: case 507:
        break;
    default:
        __builtin_trap();
    }
    if (rs.status != 204 && rs.body == NULL)
        __builtin_trap();
    /* JSON responses parse, errors carry a code. */
    if (rs.body_len > 0 && strcmp(rs.content_type, "application/json") == 0) {
        j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
        if (j == NULL)
            __builtin_trap();
        if (rs.status >= 400 &&
            json_string_value(json_object_get(json_object_get(j, "error"), "code")) == NULL)
            __builtin_trap();
        if (rs.status == 201) { /* undo a created session */
            const char *i = json_string_value(json_object_get(j, "session"));
            const char *t = json_string_value(json_object_get(j, "token"));
            if (i == NULL || t == NULL)
                __builtin_trap();
            remove_session(i, t);
        }
        json_decref(j);
    }
    henn_svc_response_free(&rs);
    /* Rebuild the fixture when the input moved or deleted a session. */
    if (seq_of(id_a, tok_a) != 0 || seq_of(id_b, tok_b) != 0) {
        remove_session(id_a, tok_a);
        remove_session(id_b, tok_b);
        fixture();
    }
    return 0;
}
