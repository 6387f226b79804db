/*
 * The service's HTTP(S) daemon: libmicrohttpd with an internal epoll
 * (or poll) thread pool of opts->threads workers, TLS through GnuTLS
 * when a certificate and key are given. Each request's body is collected
 * (Content-Length over max_body: 413 before anything is read; the bytes
 * are counted while reading too); then the connection is suspended and
 * the request handed to a handler thread that calls
 * henn_svc_server_route (the same router the tests and the fuzz target
 * call) and resumes the connection with the response. So seconds of
 * homomorphic work, or a long poll, never stall the event loop and the
 * other connections it serves; at most opts->threads requests are in
 * the router at once (long polls, which mostly wait, are not counted).
 * Access log lines carry the method, the route template, the status,
 * sizes and the time: never a token, a session id or a body.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "service/svc_internal.h"

/* What the daemon keeps besides the server (file-static: no globals). */
/* Long polls in handler threads beyond this count wait for a slot like
 * other requests (each holds a thread while it waits). */
#define MAX_POLLS 256

typedef struct daemon_state {
    struct MHD_Daemon *d;
    char *cert, *key;
    size_t cert_len, key_len;
    MHD_socket listen_fd;
} daemon_state;

typedef struct conn_ctx {
    uint8_t *body;
    size_t len, cap;
    int too_large, queued, dispatched, done, long_poll, route_rc;
    struct timespec t0;
    char path[512], method[16];
    char *authz;
    struct MHD_Connection *conn;
    henn_svc_server *s;
    henn_svc_request rq;
    henn_svc_response rs;
} conn_ctx;

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static const char *safe_method(const char *m)
{
    static const char *const known[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "OPTIONS"};
    size_t i;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

static void access_log(henn_svc_server *s, const char *method, const char *url, unsigned status,
                       size_t in, size_t out, const struct timespec *t0)
{
    FILE *f = s->o.log;
    const char *route = henn__svc_route_name(url);
    double ms = elapsed_ms(t0);
    if (f == NULL)
        return;
    flockfile(f);
    if (s->o.log_json)
        fprintf(f,
                "{\"ts\":%lld,\"method\":\"%s\",\"route\":\"%s\",\"status\":%u,\"in\":%zu,"
                "\"out\":%zu,\"ms\":%.3f}\n",
                (long long)time(NULL), safe_method(method), route, status, in, out, ms);
    else
        fprintf(f, "henn serve: %s %s %u in=%zu out=%zu %.1f ms\n", safe_method(method), route,
                status, in, out, ms);
    fflush(f);
    funlockfile(f);
}

static enum MHD_Result queue(struct MHD_Connection *c, henn_svc_response *rs)
{
    struct MHD_Response *r;
    enum MHD_Result ok;
    if (rs->body_len > 0) {
        r = MHD_create_response_from_buffer_with_free_callback(rs->body_len, rs->body, free);
        if (r == NULL)
            return MHD_NO;
        rs->body = NULL; /* owned by the response now */
        rs->body_len = 0;
        if (rs->content_type != NULL)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rs->seq != 0) {
        char v[24];
        snprintf(v, sizeof(v), "%llu", (unsigned long long)rs->seq);
        MHD_add_response_header(r, "Henn-Seq", v);
    }
    ok = MHD_queue_response(c, rs->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result queue_error(henn_svc_server *s, struct MHD_Connection *c,
                                   unsigned status, const char *code, const char *message)
{
    static const char fmt[] = "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}";
    henn_svc_response rs;
    size_t n = sizeof(fmt) + strlen(code) + strlen(message);
    (void)s;
    memset(&rs, 0, sizeof(rs));
    rs.body = malloc(n);
    if (rs.body == NULL)
        return MHD_NO;
    snprintf((char *)rs.body, n, fmt, code, message);
    rs.body_len = strlen((char *)rs.body);
    rs.status = status;
    rs.content_type = "application/json";
    return queue(c, &rs);
}

/* Counts Content-Length (n[0]) and Transfer-Encoding (n[1]) headers. */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    unsigned *n = cls;
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n[0]++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        n[1]++;
    return MHD_YES;
}

/* A handler thread: the router, then the connection resumed. Touches
 * only s after the resume (x belongs to the connection again). */
static void *run_request(void *arg)
{
    conn_ctx *x = arg;
    henn_svc_server *s = x->s;
    henn_svc_response rs;
    int rc;
    pthread_mutex_lock(&s->flight_lock);
    if (x->long_poll && s->polls >= MAX_POLLS)
        x->long_poll = 0;
    while (!x->long_poll && s->busy >= s->o.threads)
        pthread_cond_wait(&s->flight_cond, &s->flight_lock);
    if (!x->long_poll)
        s->busy++;
    else
        s->polls++;
    pthread_mutex_unlock(&s->flight_lock);
    rc = henn_svc_server_route(s, &x->rq, &rs);
    pthread_mutex_lock(&s->flight_lock);
    if (!x->long_poll)
        s->busy--;
    else
        s->polls--;
    x->rs = rs;
    x->route_rc = rc;
    x->done = 1;
    pthread_cond_broadcast(&s->flight_cond);
    pthread_mutex_unlock(&s->flight_lock);
    MHD_resume_connection(x->conn);
    pthread_mutex_lock(&s->flight_lock);
    s->handling--;
    pthread_cond_broadcast(&s->flight_cond);
    pthread_mutex_unlock(&s->flight_lock);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    henn_svc_server *s = cls;
    conn_ctx *x = *con_cls;
    henn_svc_request rq;
    henn_svc_response rs;
    enum MHD_Result ok;
    unsigned status;
    size_t out;
    int stopping;
    (void)version;

    if (x == NULL) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        x = calloc(1, sizeof(*x));
        if (x == NULL)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &x->t0);
        *con_cls = x;
        pthread_mutex_lock(&s->flight_lock);
        s->in_flight++;
        stopping = s->stopping;
        pthread_mutex_unlock(&s->flight_lock);
        if (stopping) {
            /* A request that begins (on a kept-alive connection) after the
             * stop began is not taken: the drain waits only for the ones
             * before it, and a stream of new long polls would otherwise
             * keep a connection suspended until libmicrohttpd is stopped
             * with it (an abort). The client retries against the
             * restarted server. */
            x->queued = 1;
            access_log(s, method, url, 503, 0, 0, &x->t0);
            return queue_error(s, c, 503, "unavailable", "the server is stopping");
        }
        {
            /* Two Content-Length headers, or one beside Transfer-Encoding,
             * frame the body ambiguously (request smuggling through a
             * proxy that reads the other one): refused, RFC 9112 6.3. */
            unsigned n[2] = {0, 0};
            MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, n);
            if (n[0] > 1 || (n[0] > 0 && n[1] > 0)) {
                x->queued = 1;
                access_log(s, method, url, 400, 0, 0, &x->t0);
                return queue_error(s, c, 400, "bad_request", "ambiguous message framing");
            }
        }
        /* Answers that cannot depend on the body (health, unknown or
         * malformed paths, a method the route does not take) are given
         * from the headers, without reading a body. */
        if (henn__svc_bodyless(method, url)) {
            henn_svc_request rq0 = {method, url, NULL, NULL, 0};
            henn_svc_response rs0;
            x->queued = 1;
            if (henn_svc_server_route(s, &rq0, &rs0) != 0)
                return queue_error(s, c, 500, "internal", "out of memory");
            status = rs0.status;
            out = rs0.body_len;
            ok = queue(c, &rs0);
            henn_svc_response_free(&rs0);
            access_log(s, method, url, status, 0, out, &x->t0);
            return ok;
        }
        /* No token a session (or the tokens file) has: 401 before the
         * body is read, so an outsider cannot make the server buffer
         * max_body bytes per connection. */
        if (henn__svc_preauth(s, url, MHD_lookup_connection_value(
                                          c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) !=
            0) {
            x->queued = 1;
            access_log(s, method, url, 401, 0, 0, &x->t0);
            return queue_error(s, c, 401, "unauthorized", "missing or unknown bearer token");
        }
        if (cl != NULL) {
            char *end;
            unsigned long long v;
            errno = 0;
            v = strtoull(cl, &end, 10);
            if (errno != 0 || end == cl || v > (unsigned long long)s->o.max_body) {
                x->too_large = x->queued = 1;
                access_log(s, method, url, 413, 0, 0, &x->t0);
                return queue_error(s, c, 413, "too_large",
                                   "the request body exceeds the server's limit");
            }
        }
        return MHD_YES;
    }
    if (x->queued)
        return MHD_YES;
    if (x->dispatched) { /* resumed: the handler thread's response */
        int done;
        pthread_mutex_lock(&s->flight_lock);
        done = x->done;
        pthread_mutex_unlock(&s->flight_lock);
        if (!done)
            return MHD_YES;
        x->queued = 1;
        if (x->route_rc != 0) {
            access_log(s, x->method, x->path, 500, x->len, 0, &x->t0);
            return queue_error(s, c, 500, "internal", "out of memory");
        }
        status = x->rs.status;
        out = x->rs.body_len;
        ok = queue(c, &x->rs);
        henn_svc_response_free(&x->rs);
        access_log(s, x->method, x->path, status, x->len, out, &x->t0);
        return ok;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (x->too_large)
            return MHD_YES;
        if (n > s->o.max_body - x->len) {
            x->too_large = 1;
            free(x->body);
            x->body = NULL;
            x->len = x->cap = 0;
            return MHD_YES;
        }
        if (x->len + n > x->cap) {
            size_t cap = x->cap > 0 ? x->cap : 65536;
            uint8_t *b;
            while (cap < x->len + n)
                cap = cap > s->o.max_body / 2 ? s->o.max_body : cap * 2;
            b = realloc(x->body, cap);
            if (b == NULL)
                return MHD_NO;
            x->body = b;
            x->cap = cap;
        }
        memcpy(x->body + x->len, upload_data, n);
        x->len += n;
        return MHD_YES;
    }
    x->queued = 1;
    if (x->too_large) {
        access_log(s, method, url, 413, 0, 0, &x->t0);
        return queue_error(s, c, 413, "too_large", "the request body exceeds the server's limit");
    }
    if (strlen(url) >= sizeof(x->path) - 32) {
        access_log(s, method, "(long)", 414, x->len, 0, &x->t0);
        return queue_error(s, c, 414, "bad_request", "the path is too long");
    }
    /* libmicrohttpd hands the path without its query: the router reads
     * only wait=S (the long poll). */
    {
        const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
        const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_AUTHORIZATION);
        unsigned long w = wait != NULL ? strtoul(wait, NULL, 10) : 0;
        if (wait != NULL)
            snprintf(x->path, sizeof(x->path), "%s?wait=%lu", url, w > 60 ? 60ul : w);
        else
            snprintf(x->path, sizeof(x->path), "%s", url);
        snprintf(x->method, sizeof(x->method), "%s", safe_method(method));
        if (authz != NULL && (x->authz = strdup(authz)) == NULL)
            return MHD_NO;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = x->method;
    rq.path = x->path;
    rq.authorization = x->authz;
    rq.body = x->body;
    rq.body_len = x->len;
    x->rq = rq;
    x->s = s;
    x->conn = c;
    x->long_poll = strcmp(x->method, "GET") == 0 && strstr(x->path, "/requests") != NULL;
    x->queued = 0;
    pthread_mutex_lock(&s->flight_lock);
    x->dispatched = 1;
    s->handling++;
    pthread_mutex_unlock(&s->flight_lock);
    MHD_suspend_connection(c);
    {
        pthread_t th;
        pthread_attr_t at;
        int started;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &at, run_request, x) == 0;
        pthread_attr_destroy(&at);
        if (!started) {
            pthread_mutex_lock(&s->flight_lock);
            x->route_rc = HENN_ENOMEM;
            x->done = 1;
            s->handling--;
            pthread_cond_broadcast(&s->flight_cond);
            pthread_mutex_unlock(&s->flight_lock);
            MHD_resume_connection(c);
        }
    }
    (void)rs;
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    henn_svc_server *s = cls;
    conn_ctx *x = *con_cls;
    (void)c;
    (void)toe;
    if (x == NULL)
        return;
    henn_svc_response_free(&x->rs);
    if (x->authz != NULL) {
        henn_memzero(x->authz, strlen(x->authz));
        free(x->authz);
    }
    free(x->body);
    free(x);
    *con_cls = NULL;
    pthread_mutex_lock(&s->flight_lock);
    s->in_flight--;
    pthread_cond_broadcast(&s->flight_cond);
    pthread_mutex_unlock(&s->flight_lock);
}

static int read_file(char **buf, size_t *len, const char *path, FILE *log)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, r;
    char *b = malloc(cap + 1);
    *buf = NULL;
    *len = 0;
    if (f == NULL || b == NULL) {
        if (log != NULL && f == NULL)
            fprintf(log, "henn serve: cannot read %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        free(b);
        return f == NULL ? HENN_EIO : HENN_ENOMEM;
    }
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *g;
            if (cap >= ((size_t)1 << 24))
                break;
            g = malloc(2 * cap + 1);
            if (g == NULL)
                break;
            memcpy(g, b, n);
            henn_memzero(b, n);
            free(b);
            b = g;
            cap *= 2;
        }
    }
    fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/*
 * Parse "ADDR:PORT" ("[v6]:PORT", "localhost:PORT") into *ss; *loopback
 * says whether ADDR is a loopback address; host gets the
 * address as printed in the URL (80 bytes).
 */
static int parse_listen(struct sockaddr_storage *ss, socklen_t *sl, int *v6, int *loopback,
                        char *host, const char *listen)
{
    const char *colon, *h, *he;
    char addr[64];
    unsigned long port;
    char *end;

    memset(ss, 0, sizeof(*ss));
    colon = strrchr(listen, ':');
    if (colon == NULL)
        return HENN_EINVAL;
    h = listen;
    he = colon;
    if (*h == '[') {
        if (he - h < 2 || he[-1] != ']')
            return HENN_EINVAL;
        h++;
        he--;
    }
    if ((size_t)(he - h) >= sizeof(addr) || he == h)
        return HENN_EINVAL;
    memcpy(addr, h, (size_t)(he - h));
    addr[he - h] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535)
        return HENN_EINVAL;
    if (strcmp(addr, "localhost") == 0)
        snprintf(addr, sizeof(addr), "127.0.0.1");
    {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)port);
            *sl = sizeof(*a4);
            *v6 = 0;
            *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
            snprintf(host, 80, "%s", addr);
        } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            *sl = sizeof(*a6);
            *v6 = 1;
            *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
            snprintf(host, 80, "[%s]", addr);
        } else {
            return HENN_EINVAL;
        }
    }
    return 0;
}

int henn_svc_server_start(henn_svc_server **out, const henn_svc_server_opts *o)
{
    henn_svc_server *s;
    daemon_state *ds;
    struct sockaddr_storage sa;
    socklen_t sl = 0;
    int v6 = 0, loopback = 0, tls, rc;
    char host[80];
    unsigned flags;
    const union MHD_DaemonInfo *info;
    size_t ulen;

    *out = NULL;
    if (o == NULL || o->data_dir == NULL || o->listen == NULL || o->threads == 0 ||
        o->threads > 1024 || o->max_body == 0 || (o->cert_file == NULL) != (o->key_file == NULL))
        return HENN_EINVAL;
    if (parse_listen(&sa, &sl, &v6, &loopback, host, o->listen) != 0) {
        if (o->log != NULL)
            fprintf(o->log, "henn serve: --listen wants ADDR:PORT (numeric address)\n");
        return HENN_EINVAL;
    }
    tls = o->cert_file != NULL;
    if (!tls && !loopback && !o->allow_insecure_http) {
        if (o->log != NULL)
            fprintf(o->log, "henn serve: plain HTTP on a non-loopback address needs "
                            "--insecure-http (or give --cert and --key)\n");
        return HENN_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    ds = calloc(1, sizeof(*ds));
    if (s == NULL || ds == NULL) {
        free(s);
        free(ds);
        return HENN_ENOMEM;
    }
    s->daemon = ds;
    ds->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&s->flight_lock, NULL);
    pthread_cond_init(&s->flight_cond, NULL);
    rc = henn__svc_core_open(s, o);
    if (rc == 0 && tls) {
        rc = read_file(&ds->cert, &ds->cert_len, o->cert_file, o->log);
        if (rc == 0)
            rc = read_file(&ds->key, &ds->key_len, o->key_file, o->log);
    }
    if (rc != 0) {
        henn_svc_server_stop(s);
        return rc;
    }
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    {
        struct MHD_OptionItem opts[8];
        size_t k = 0;
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                            (intptr_t)o->idle_conn_s, NULL};
        if (o->threads > 1)
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                                (intptr_t)o->threads, NULL};
        if (tls) {
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, ds->cert};
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, ds->key};
        }
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        (void)sl;
        ds->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY,
                                 opts, MHD_OPTION_END);
    }
    if (ds->d == NULL) {
        if (o->log != NULL)
            fprintf(o->log, "henn serve: cannot listen on %s%s\n", o->listen,
                    tls ? " (or the certificate/key was refused)" : "");
        henn_svc_server_stop(s);
        return HENN_EIO;
    }
    info = MHD_get_daemon_info(ds->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : 0;
    ulen = strlen(host) + 32;
    s->url = malloc(ulen);
    if (s->url == NULL) {
        henn_svc_server_stop(s);
        return HENN_ENOMEM;
    }
    snprintf(s->url, ulen, "%s://%s:%u", tls ? "https" : "http", host, (unsigned)s->port);
    *out = s;
    return 0;
}

uint16_t henn_svc_server_port(const henn_svc_server *s)
{
    return s->port;
}

const char *henn_svc_server_url(const henn_svc_server *s)
{
    return s->url;
}

void henn_svc_server_stop(henn_svc_server *s)
{
    daemon_state *ds;
    if (s == NULL)
        return;
    ds = s->daemon;
    if (ds != NULL && ds->d != NULL) {
        struct timespec until;
        /* Stop accepting; cancel the jobs (their long polls return); let
         * every request in a handler thread finish and resume its
         * connection (libmicrohttpd must not stop with one suspended),
         * then give the responses up to a minute to leave, then stop the
         * workers. */
        ds->listen_fd = MHD_quiesce_daemon(ds->d);
        pthread_mutex_lock(&s->flight_lock);
        s->stopping = 1;
        pthread_mutex_unlock(&s->flight_lock);
        henn__svc_core_cancel_jobs(s);
        pthread_mutex_lock(&s->flight_lock);
        while (s->handling > 0)
            pthread_cond_wait(&s->flight_cond, &s->flight_lock);
        pthread_mutex_unlock(&s->flight_lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 60;
        pthread_mutex_lock(&s->flight_lock);
        while (s->in_flight > 0)
            if (pthread_cond_timedwait(&s->flight_cond, &s->flight_lock, &until) != 0)
                break;
        pthread_mutex_unlock(&s->flight_lock);
        MHD_stop_daemon(ds->d);
        if (ds->listen_fd != MHD_INVALID_SOCKET)
            close(ds->listen_fd);
    }
    if (ds != NULL) {
        if (ds->key != NULL)
            henn_memzero(ds->key, ds->key_len);
        free(ds->key);
        free(ds->cert);
        free(ds);
    }
    if (s->store != NULL || s->data_dir != NULL)
        henn__svc_core_close(s);
    pthread_mutex_destroy(&s->flight_lock);
    pthread_cond_destroy(&s->flight_cond);
    free(s->url);
    free(s);
}
