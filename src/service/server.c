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
 * the router at once (long polls, which mostly wait, are not counted:
 * max_polls bounds them).
 *
 * What a peer can hold is bounded (henn_svc_server_opts, docs/SERVICE.md
 * "Limits"): connections per address (libmicrohttpd's per-IP limit) and in
 * all (max_conns, kept below libmicrohttpd's own table, which would
 * otherwise refuse everyone once full); a connection that has not sent
 * complete request headers within header_timeout_s is closed however
 * slowly its bytes trickle in (libmicrohttpd's own timeout restarts at
 * every byte), and at max_conns such a connection a second old or more
 * gives its place to the new one. A request body must then keep an
 * average of min_body_rate bytes a second once header_timeout_s has
 * passed since its headers (the same reaper closes it otherwise, which
 * releases its reservation), so trickled bodies cannot hold the body
 * budget below. Request bodies and long polls are
 * admitted from the headers against per-session and server-wide budgets
 * (henn__svc_admit), so a token holder cannot make the server buffer more
 * than max_body_memory or hold more than max_polls polls, nor one address
 * more than max_polls_per_ip of them.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "service/svc_internal.h"

/* A connection at max_conns may take the place of one that has not
 * completed its headers for this long (an honest client sends them at
 * once). */
#define EVICT_AGE_MS 1000
/* How often the reaper looks for connections past header_timeout_s or
 * below min_body_rate. */
#define REAP_EVERY_MS 200
/* libmicrohttpd's per-connection buffer: request line and headers. */
#define CONN_MEMORY (32u * 1024u)

/* One TCP connection (libmicrohttpd's socket context), from its accept to
 * its close; ds->conn_lock. */
typedef struct conn_slot {
    MHD_socket fd;
    int64_t since_ms;  /* accept, or the end of the previous request */
    int in_request;    /* headers complete, request not yet completed */
    int in_body;       /* its body is being received (min_body_rate) */
    int64_t body_ms;   /* when the headers of that body were complete */
    uint64_t body_bytes; /* the bytes of that body received so far */
    int closing;       /* shut down by us; libmicrohttpd closes it next */
    struct conn_slot *prev, *next;
} conn_slot;

/* What the daemon keeps besides the server (file-static: no globals). */
typedef struct daemon_state {
    struct MHD_Daemon *d;
    char *cert, *key;
    size_t cert_len, key_len;
    MHD_socket listen_fd;
    /* The connections (oldest first) and the reaper of slow headers. */
    pthread_mutex_t conn_lock;
    pthread_cond_t conn_cond;
    conn_slot *first, *last;
    unsigned conns, closing;
    unsigned max_conns;
    int64_t header_ms;
    size_t min_body_rate; /* bytes/s, 0: none; grace header_ms */
    pthread_t reaper;
    int reaper_started, reaper_stop;
} daemon_state;

typedef struct conn_ctx {
    uint8_t *body;
    size_t len, cap;
    int too_large, overloaded, queued, dispatched, done, long_poll, route_rc;
    size_t declared; /* Content-Length, 0 when chunked or none */
    henn__svc_ticket *ticket;
    conn_slot *slot; /* set while its body is received (NULL: untracked) */
    struct timespec t0;
    char path[512], method[16];
    char *authz;
    struct MHD_Connection *conn;
    henn_svc_server *s;
    henn_svc_request rq;
    henn_svc_response rs;
} conn_ctx;

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

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

static enum MHD_Result queue_retry(struct MHD_Connection *c, henn_svc_response *rs,
                                   unsigned retry_after)
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
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    ok = MHD_queue_response(c, rs->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result queue(struct MHD_Connection *c, henn_svc_response *rs)
{
    return queue_retry(c, rs, 0);
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
    /* An overload answer says when to come back (the client retries 5xx). */
    return queue_retry(c, &rs, status == 429 || status == 503 ? 1u : 0u);
}

/* ---------------------------------------------------------------- connections */

static conn_slot *slot_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* Shut slot's socket down (ds->conn_lock held, slot linked: libmicrohttpd
 * closes the socket only after telling on_connection, which waits for the
 * lock). The connection's worker then reads the end and closes it. */
static void slot_close(daemon_state *ds, conn_slot *slot)
{
    if (slot->closing)
        return;
    slot->closing = 1;
    ds->closing++;
    (void)shutdown(slot->fd, SHUT_RDWR);
}

/* Whether p's body is below min_body_rate: after the grace (header_ms
 * from the end of its headers), fewer than min_body_rate bytes for each
 * second since the grace ended. */
static int body_too_slow(const daemon_state *ds, const conn_slot *p, int64_t now)
{
    int64_t late = now - p->body_ms - ds->header_ms;
    if (!p->in_body || ds->min_body_rate == 0 || late <= 0)
        return 0;
    return (double)p->body_bytes * 1000.0 < (double)ds->min_body_rate * (double)late;
}

/* Connections waiting for headers longer than header_timeout_s, and
 * bodies below min_body_rate. */
static void reap_slow(daemon_state *ds, int64_t now)
{
    conn_slot *p;
    for (p = ds->first; p != NULL; p = p->next)
        if (!p->closing && ((!p->in_request && now - p->since_ms >= ds->header_ms) ||
                            body_too_slow(ds, p, now)))
            slot_close(ds, p);
}

static void *reaper_main(void *arg)
{
    daemon_state *ds = arg;
    pthread_mutex_lock(&ds->conn_lock);
    while (!ds->reaper_stop) {
        struct timespec until;
        reap_slow(ds, mono_ms());
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += REAP_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&ds->conn_cond, &ds->conn_lock, &until);
    }
    pthread_mutex_unlock(&ds->conn_lock);
    return NULL;
}

/* libmicrohttpd's accept policy: at max_conns, the oldest connection
 * still without complete headers after EVICT_AGE_MS gives its place; when
 * there is none, the new connection is refused. (The per-address limit is
 * libmicrohttpd's.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    daemon_state *ds = cls;
    enum MHD_Result ok = MHD_YES;
    (void)addr;
    (void)addrlen;
    pthread_mutex_lock(&ds->conn_lock);
    if (ds->conns - ds->closing >= ds->max_conns) {
        int64_t now = mono_ms();
        conn_slot *p;
        reap_slow(ds, now);
        if (ds->conns - ds->closing >= ds->max_conns) {
            for (p = ds->first; p != NULL; p = p->next)
                if (!p->in_request && !p->closing && now - p->since_ms >= EVICT_AGE_MS)
                    break;
            if (p != NULL)
                slot_close(ds, p);
            else
                ok = MHD_NO;
        }
    }
    pthread_mutex_unlock(&ds->conn_lock);
    return ok;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    daemon_state *ds = cls;
    conn_slot *slot = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        slot = calloc(1, sizeof(*slot));
        if (slot == NULL || ci == NULL) {
            /* Not tracked: libmicrohttpd's own timeouts and limits still
             * hold for it. */
            free(slot);
            return;
        }
        slot->fd = ci->connect_fd;
        slot->since_ms = mono_ms();
        pthread_mutex_lock(&ds->conn_lock);
        slot->prev = ds->last;
        if (ds->last != NULL)
            ds->last->next = slot;
        else
            ds->first = slot;
        ds->last = slot;
        ds->conns++;
        pthread_mutex_unlock(&ds->conn_lock);
        *socket_context = slot;
        return;
    }
    if (slot == NULL)
        return;
    pthread_mutex_lock(&ds->conn_lock);
    if (slot->prev != NULL)
        slot->prev->next = slot->next;
    else
        ds->first = slot->next;
    if (slot->next != NULL)
        slot->next->prev = slot->prev;
    else
        ds->last = slot->prev;
    ds->conns--;
    ds->closing -= (unsigned)slot->closing;
    pthread_mutex_unlock(&ds->conn_lock);
    free(slot);
    *socket_context = NULL;
}

/* A request's headers are complete (in_request 1) or the request ended
 * (0: the next one's header deadline starts now). */
static void slot_mark(henn_svc_server *s, struct MHD_Connection *c, int in_request)
{
    daemon_state *ds = s->daemon;
    conn_slot *slot = slot_of(c);
    if (slot == NULL)
        return;
    pthread_mutex_lock(&ds->conn_lock);
    slot->in_request = in_request;
    slot->in_body = 0;
    if (!in_request)
        slot->since_ms = mono_ms();
    pthread_mutex_unlock(&ds->conn_lock);
}

/* x's body begins (its headers are complete): min_body_rate applies to
 * it until body_progress says it ended (or the request completes). */
static void body_begin(henn_svc_server *s, struct MHD_Connection *c, conn_ctx *x)
{
    daemon_state *ds = s->daemon;
    conn_slot *slot = slot_of(c);
    if (slot == NULL)
        return;
    pthread_mutex_lock(&ds->conn_lock);
    slot->in_body = 1;
    slot->body_ms = mono_ms();
    slot->body_bytes = 0;
    pthread_mutex_unlock(&ds->conn_lock);
    x->slot = slot;
}

/* n more bytes of x's body (end: the body is complete). */
static void body_progress(henn_svc_server *s, conn_ctx *x, size_t n, int end)
{
    daemon_state *ds = s->daemon;
    if (x->slot == NULL)
        return;
    pthread_mutex_lock(&ds->conn_lock);
    x->slot->body_bytes += n;
    if (end)
        x->slot->in_body = 0;
    pthread_mutex_unlock(&ds->conn_lock);
    if (end)
        x->slot = NULL;
}

void henn__svc_server_usage(henn_svc_server *s, unsigned *conns, size_t *body_reserved)
{
    daemon_state *ds = s->daemon;
    if (conns != NULL) {
        pthread_mutex_lock(&ds->conn_lock);
        *conns = ds->conns;
        pthread_mutex_unlock(&ds->conn_lock);
    }
    if (body_reserved != NULL) {
        pthread_mutex_lock(&s->lock);
        *body_reserved = s->body_reserved;
        pthread_mutex_unlock(&s->lock);
    }
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
        slot_mark(s, c, 1);
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
            x->declared = (size_t)v;
        }
        {
            /* The body's bytes and the long poll's place are reserved now,
             * or the request is refused before its body is read. */
            const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_TRANSFER_ENCODING);
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            unsigned st = henn__svc_admit(
                s, method, url,
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                x->declared, te != NULL, ci != NULL ? ci->client_addr : NULL, &x->ticket);
            if (st == 0 && (x->declared > 0 || te != NULL))
                body_begin(s, c, x);
            if (st != 0) {
                x->queued = 1;
                access_log(s, method, url, st, 0, 0, &x->t0);
                if (st == 429)
                    return queue_error(s, c, 429, "busy",
                                       "this session or address holds its limit of concurrent "
                                       "uploads or long polls");
                if (st == 503)
                    return queue_error(s, c, 503, "overloaded",
                                       "the server holds its limit of buffered bodies or long "
                                       "polls; retry later");
                return queue_error(s, c, 500, "internal", "out of memory");
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
        body_progress(s, x, n, 0);
        if (x->too_large || x->overloaded)
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
            /* A declared body gets no more than its length; a chunked one
             * grows its reservation first (503 when it does not fit). */
            if (x->declared > 0 && cap > x->declared)
                cap = x->declared > x->len + n ? x->declared : x->len + n;
            if (henn__svc_admit_grow(s, x->ticket, cap) != 0) {
                x->overloaded = 1;
                free(x->body);
                x->body = NULL;
                x->len = x->cap = 0;
                return MHD_YES;
            }
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
    body_progress(s, x, 0, 1);
    x->queued = 1;
    if (x->too_large) {
        access_log(s, method, url, 413, 0, 0, &x->t0);
        return queue_error(s, c, 413, "too_large", "the request body exceeds the server's limit");
    }
    if (x->overloaded) {
        access_log(s, method, url, 503, 0, 0, &x->t0);
        return queue_error(s, c, 503, "overloaded",
                           "the server holds its limit of buffered bodies; retry later");
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
    (void)toe;
    slot_mark(s, c, 0);
    if (x == NULL)
        return;
    henn__svc_admit_release(s, x->ticket);
    x->ticket = NULL;
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

/* The limits of o with 0 replaced by their defaults, max_conns under the
 * open-files limit and max_body_memory at least max_body. */
static void effective_limits(henn_svc_server_opts *o)
{
    henn_svc_server_opts d;
    struct rlimit rl;
    henn_svc_server_opts_default(&d);
    if (o->max_conns == 0)
        o->max_conns = d.max_conns;
    if (o->header_timeout_s == 0)
        o->header_timeout_s = d.header_timeout_s;
    if (o->max_uploads_per_session == 0)
        o->max_uploads_per_session = d.max_uploads_per_session;
    if (o->max_polls_per_session == 0)
        o->max_polls_per_session = d.max_polls_per_session;
    if (o->max_polls == 0)
        o->max_polls = d.max_polls;
    /* One eighth of the places per address: two or three greedy addresses
     * leave most of them to the others (docs/SERVICE.md, "Limits"). */
    if (o->max_polls_per_ip == 0)
        o->max_polls_per_ip = o->max_polls / 8 > 0 ? o->max_polls / 8 : 1;
    if (o->max_body_memory == 0)
        o->max_body_memory = d.max_body_memory;
    if (o->max_sessions_per_token == 0)
        o->max_sessions_per_token = d.max_sessions_per_token;
    if (o->max_body_memory < o->max_body)
        o->max_body_memory = o->max_body;
    /* Each connection is a descriptor; the store, the log and the
     * parties keep a few more. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)o->max_conns + 128) {
        unsigned n = rl.rlim_cur > 128 + 16 ? (unsigned)(rl.rlim_cur - 128) : 16;
        if (o->log != NULL)
            fprintf(o->log, "henn serve: %u connections at most (the open-files limit is %llu)\n",
                    n, (unsigned long long)rl.rlim_cur);
        o->max_conns = n;
    }
}

int henn_svc_server_start(henn_svc_server **out, const henn_svc_server_opts *o_in)
{
    henn_svc_server_opts oo, *o = &oo;
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
    if (o_in == NULL)
        return HENN_EINVAL;
    oo = *o_in;
    effective_limits(o);
    if (o->data_dir == NULL || o->listen == NULL || o->threads == 0 ||
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
    pthread_mutex_init(&ds->conn_lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ds->conn_cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    ds->max_conns = o->max_conns;
    ds->header_ms = (int64_t)o->header_timeout_s * 1000;
    ds->min_body_rate = o->min_body_rate;
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
        struct MHD_OptionItem opts[12];
        size_t k = 0;
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                            (intptr_t)o->idle_conn_s, NULL};
        /* libmicrohttpd's table stays above max_conns (on_accept keeps to
         * it; the margin covers accepts racing on the pool's workers, which
         * each get an equal share of the table). */
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                            (intptr_t)(2 * o->max_conns + 16 * o->threads),
                                            NULL};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            (intptr_t)o->max_conns_per_ip, NULL};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (intptr_t)CONN_MEMORY, NULL};
        if (o->threads > 1)
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                                (intptr_t)o->threads, NULL};
        if (tls) {
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, ds->cert};
            opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, ds->key};
        }
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        (void)sl;
        ds->d = MHD_start_daemon(flags, 0, on_accept, ds, on_request, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, ds, MHD_OPTION_ARRAY,
                                 opts, MHD_OPTION_END);
    }
    if (ds->d == NULL) {
        if (o->log != NULL)
            fprintf(o->log, "henn serve: cannot listen on %s%s\n", o->listen,
                    tls ? " (or the certificate/key was refused)" : "");
        henn_svc_server_stop(s);
        return HENN_EIO;
    }
    if (pthread_create(&ds->reaper, NULL, reaper_main, ds) != 0) {
        henn_svc_server_stop(s);
        return HENN_ENOMEM;
    }
    ds->reaper_started = 1;
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
    if (ds != NULL && ds->reaper_started) {
        pthread_mutex_lock(&ds->conn_lock);
        ds->reaper_stop = 1;
        pthread_cond_broadcast(&ds->conn_cond);
        pthread_mutex_unlock(&ds->conn_lock);
        pthread_join(ds->reaper, NULL);
    }
    if (ds != NULL) {
        pthread_mutex_destroy(&ds->conn_lock);
        pthread_cond_destroy(&ds->conn_cond);
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
