/*
 * Sessions and the request router of the service (HTTP API v1,
 * docs/SERVICE.md). henn_svc_server_route answers one request without the
 * network; the daemon (server.c), the tests and the fuzz target all call
 * it.
 *
 *  GET    /v1/health                         200 {"ok":true,"version":..}
 *  POST   /v1/sessions                       201 {"session","token","seq":0}
 *  GET    /v1/sessions/{id}                  200 {"protocol","seq","bytes","created"}
 *  DELETE /v1/sessions/{id}                  204
 *  POST   /v1/sessions/{id}/messages/{seq}   200 octet-stream
 *  GET    /v1/sessions/{id}/result           200 octet-stream, or 403
 *  POST   /v1/sessions/{id}/jobs             201 {"job": jid} (jobs.c)
 *  GET    /v1/sessions/{id}/jobs/{jid}       200 {"state", "epoch", "loss", ..}
 *  GET    /v1/sessions/{id}/requests?wait=S  200 octet-stream + Henn-Seq, or 204
 *  POST   /v1/sessions/{id}/requests/{seq}   200 {"ok":true}
 * Errors: {"error":{"code":..,"message":..}} with 400 bad_request, 401
 * unauthorized, 403 not_allowed, 404 not_found/no_route/no_job, 405
 * method, 409 sequence (plus "expected") or busy (a job runs), 413
 * too_large, 500 internal/storage, 507 quota; the daemon adds 429 busy and
 * 503 overloaded from the headers (henn__svc_admit below: a session's
 * uploads and long polls, an address's long polls, the server's buffered
 * bodies and long polls).
 *
 * Locking: s->lock guards the session list and reference counts; each
 * session's lock serialises its messages (sessions run in parallel); the
 * store has its own lock around each transaction.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "henn/version.h"
#include "service/svc_internal.h"

struct henn__svc_session {
    henn__svc_row row;
    const henn__svc_protocol *proto;
    pthread_mutex_t lock;
    void *party; /* NULL until built (lazily, by replaying the log) */
    henn__svc_jobs *jobs; /* the server-driven channel and training job */
    /* Protocols with an authority: its token's hash (from the config) and
     * the channel as the party's transport to it. */
    uint8_t auth_hash[32];
    int has_auth;
    henn_transport to_authority;
    henn_svc_server *server;
    int deleted;
    unsigned refs;
    /* Requests with a body and long polls its tokens hold in the daemon
     * (henn__svc_admit; s->lock). */
    unsigned uploads, polls;
    /* With a tokens file: which server token created the session (the
     * config's "creator_tag", a tag derived from the token's hash; "" when
     * none), counted against max_sessions_per_token. */
    char creator[17];
    henn__svc_session *next;
};

/* How long a party's request to the authority waits for its answer. */
#define AUTHORITY_TIMEOUT_S 120

static const char JSON_TYPE[] = "application/json";
static const char BIN_TYPE[] = "application/octet-stream";

/* ---------------------------------------------------------------- responses */

/* j as text in a malloc'd, NUL-terminated buffer (json_dumps would use
 * jansson's allocator, which the CLI replaces with a wiping one). */
static char *dump(const json_t *j, size_t flags)
{
    size_t n = json_dumpb(j, NULL, 0, flags);
    char *text;
    if (n == 0)
        return NULL;
    text = malloc(n + 1);
    if (text == NULL)
        return NULL;
    if (json_dumpb(j, text, n, flags) != n) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static int respond_json(henn_svc_response *rs, unsigned status, json_t *j)
{
    char *text;
    if (j == NULL)
        return HENN_ENOMEM;
    text = dump(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return HENN_ENOMEM;
    rs->status = status;
    rs->content_type = JSON_TYPE;
    rs->body = (uint8_t *)text;
    rs->body_len = strlen(text);
    return 0;
}

static int respond_error(henn_svc_response *rs, unsigned status, const char *code,
                         const char *message)
{
    return respond_json(rs, status,
                        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

/* Take ownership of buf (malloc'd). */
static void respond_bytes(henn_svc_response *rs, uint8_t *buf, size_t len)
{
    rs->status = 200;
    rs->content_type = BIN_TYPE;
    rs->body = buf;
    rs->body_len = len;
}

static int respond_not_found(henn_svc_response *rs)
{
    return respond_error(rs, 404, "not_found", "no such session");
}

static int respond_unauthorized(henn_svc_response *rs)
{
    return respond_error(rs, 401, "unauthorized", "missing or unknown bearer token");
}

/* ---------------------------------------------------------------- helpers */

static void hex(char *out, const uint8_t *b, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

static int is_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void token_hash(uint8_t h[32], const char *token, size_t len)
{
    crypto_generichash(h, 32, (const uint8_t *)token, len, NULL, 0);
}

/* The token of "Bearer <token>" (case-insensitive scheme), or NULL. */
static const char *bearer(const char *authz, size_t *len)
{
    const char *t;
    size_t n;
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    t = authz + 7;
    while (*t == ' ')
        t++;
    n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 1024)
        return NULL;
    *len = n;
    return t;
}

/* The clock of timestamps and expiry (with the test hook's offset). */
static int64_t now_s(henn_svc_server *s)
{
    int64_t off;
    pthread_mutex_lock(&s->lock);
    off = s->clock_offset;
    pthread_mutex_unlock(&s->lock);
    return (int64_t)time(NULL) + off;
}

static henn__svc_party_opts party_opts(henn_svc_server *s);

/* ---------------------------------------------------------------- sessions */

static void session_free(henn__svc_session *ss)
{
    if (ss == NULL)
        return;
    henn__svc_jobs_free(ss->jobs); /* a running job ends first: it uses the party */
    if (ss->party != NULL)
        ss->proto->free(ss->party);
    free(ss->row.config);
    pthread_mutex_destroy(&ss->lock);
    free(ss);
}

static void session_release(henn_svc_server *s, henn__svc_session *ss)
{
    int gone;
    pthread_mutex_lock(&s->lock);
    gone = --ss->refs == 0 && ss->deleted;
    pthread_mutex_unlock(&s->lock);
    if (gone)
        session_free(ss);
}

/* Unlink ss from the list (s->lock held); freed by the last release. */
static void session_unlink(henn_svc_server *s, henn__svc_session *ss)
{
    henn__svc_session **p;
    for (p = &s->sessions; *p != NULL; p = &(*p)->next)
        if (*p == ss) {
            *p = ss->next;
            break;
        }
    ss->deleted = 1;
}

/* Delete ss from the store and the list (ss->lock held by the caller, or
 * ss not yet shared). */
static int session_delete(henn_svc_server *s, henn__svc_session *ss)
{
    int rc;
    if (ss->jobs != NULL)
        henn__svc_jobs_cancel(ss->jobs);
    rc = henn__svc_store_delete(s->store, ss->row.id);
    if (rc != 0)
        return rc;
    if (ss->party != NULL) {
        ss->proto->free(ss->party);
        ss->party = NULL;
    }
    pthread_mutex_lock(&s->lock);
    session_unlink(s, ss);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/*
 * Find the session id for the bearer token in authz. Returns 0 with *out
 * referenced (release with session_release), 401 (no token, or one no
 * session has), 404 (the token of another session, or an expired
 * session). Every session's hash is compared, in constant time each.
 */
static unsigned session_auth(henn_svc_server *s, const char *id, const char *authz,
                             henn__svc_session **out, int *authority)
{
    henn__svc_session *ss, *found = NULL;
    const char *tok;
    size_t tlen;
    uint8_t h[32];
    int other = 0;

    *out = NULL;
    *authority = 0;
    tok = bearer(authz, &tlen);
    if (tok == NULL)
        return 401;
    token_hash(h, tok, tlen);
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL; ss = ss->next) {
        int match = sodium_memcmp(ss->row.token_hash, h, sizeof(h)) == 0;
        int amatch = sodium_memcmp(ss->auth_hash, h, sizeof(h)) == 0 && ss->has_auth;
        if (strcmp(ss->row.id, id) == 0 && (match || amatch)) {
            found = ss;
            *authority = amatch;
        } else if (match || amatch) {
            other = 1;
        }
    }
    if (found != NULL)
        found->refs++;
    pthread_mutex_unlock(&s->lock);
    if (found == NULL)
        return other ? 404 : 401;
    *out = found;
    return 0;
}

static int replay_one(void *user, const uint8_t *req, size_t len)
{
    henn__svc_session *ss = user;
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc = ss->proto->handle(ss->party, req, len, &resp, &resp_len);
    free(resp);
    return rc;
}

/* Build ss's party if it is not in memory: a fresh party from the config,
 * then every logged request in order. ss->lock held. */
static int session_party(henn_svc_server *s, henn__svc_session *ss)
{
    henn__svc_party_opts po;
    json_t *cfg;
    int rc;
    if (ss->party != NULL)
        return 0;
    cfg = json_loads(ss->row.config, 0, NULL);
    if (cfg == NULL)
        return HENN_EFORMAT;
    json_object_del(cfg, "creator_tag"); /* the server's, not the party's */
    if (ss->proto->snapshot != NULL) {
        /* The model a finished job left replaces the config's. */
        uint8_t *state = NULL;
        size_t len = 0;
        rc = henn__svc_store_state(s->store, ss->row.id, &state, &len);
        if (rc == 0 && state != NULL) {
            size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(n);
            if (b64 == NULL) {
                rc = HENN_ENOMEM;
            } else {
                sodium_bin2base64(b64, n, state, len, sodium_base64_VARIANT_ORIGINAL);
                if (json_object_set_new(cfg, "model", json_string(b64)) != 0)
                    rc = HENN_ENOMEM;
                free(b64);
            }
        }
        free(state);
        if (rc != 0) {
            json_decref(cfg);
            return rc;
        }
    }
    po = party_opts(s);
    if (ss->proto->authority)
        po.to_authority = &ss->to_authority;
    rc = ss->proto->create(&ss->party, cfg, &po);
    json_decref(cfg);
    if (rc == 0)
        rc = henn__svc_store_replay(s->store, ss->row.id, replay_one, ss);
    if (rc != 0 && ss->party != NULL) {
        ss->proto->free(ss->party);
        ss->party = NULL;
    }
    return rc;
}

/* A session of a protocol with an authority: the channel as the party's
 * transport to it, and the authority token's hash from the config. */
static int session_authority(henn__svc_session *ss)
{
    json_t *cfg;
    const char *h;
    size_t n = 0;
    int rc;
    unsigned timeout_s;
    if (!ss->proto->authority)
        return 0;
    pthread_mutex_lock(&ss->server->lock);
    timeout_s = ss->server->authority_timeout_s;
    pthread_mutex_unlock(&ss->server->lock);
    henn__svc_jobs_transport(&ss->to_authority, ss->jobs,
                             timeout_s > 0 ? timeout_s : AUTHORITY_TIMEOUT_S);
    cfg = json_loads(ss->row.config, 0, NULL);
    h = json_string_value(json_object_get(cfg, "authority_token_hash"));
    rc = h != NULL && strlen(h) == 64 &&
                 sodium_hex2bin(ss->auth_hash, 32, h, 64, NULL, &n, NULL) == 0 && n == 32
             ? 0
             : HENN_EFORMAT;
    ss->has_auth = rc == 0;
    json_decref(cfg);
    return rc;
}

/* The config's creator tag into ss->creator ("" when none). */
static void session_creator(henn__svc_session *ss)
{
    json_t *cfg = json_loads(ss->row.config, 0, NULL);
    const char *t = json_string_value(json_object_get(cfg, "creator_tag"));
    ss->creator[0] = '\0';
    if (t != NULL && strlen(t) == 16 && is_hex(t, 16))
        memcpy(ss->creator, t, 17);
    json_decref(cfg);
}

static int load_one(void *user, henn__svc_row *r)
{
    henn_svc_server *s = user;
    henn__svc_session *ss = calloc(1, sizeof(*ss));
    if (ss == NULL) {
        free(r->config);
        return HENN_ENOMEM;
    }
    ss->row = *r;
    ss->proto = henn__svc_protocol_find(r->protocol);
    pthread_mutex_init(&ss->lock, NULL);
    ss->server = s;
    ss->row.job = NULL;
    if (ss->proto == NULL || henn__svc_jobs_new(&ss->jobs) != 0 ||
        (r->job != NULL && henn__svc_jobs_restore(ss->jobs, r->job) != 0) ||
        session_authority(ss) != 0) {
        int rc = ss->proto == NULL || r->job != NULL ? HENN_EFORMAT : HENN_ENOMEM;
        /* The job record holds the job's secret seed: wiped. */
        if (r->job != NULL)
            henn_free(r->job, strlen(r->job) + 1);
        session_free(ss);
        return rc;
    }
    if (r->job != NULL)
        henn_free(r->job, strlen(r->job) + 1);
    session_creator(ss);
    ss->next = s->sessions;
    s->sessions = ss;
    return 0;
}

/* ---------------------------------------------------------------- tokens file */

static int read_tokens(henn_svc_server *s, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1100];
    if (f == NULL) {
        if (s->o.log != NULL)
            fprintf(s->o.log, "henn serve: cannot read the tokens file %s: %s\n", path,
                    strerror(errno));
        return HENN_EIO;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *t = line, *e;
        void *grown;
        while (*t == ' ' || *t == '\t')
            t++;
        e = t + strlen(t);
        while (e > t && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*t == '\0' || *t == '#')
            continue;
        grown = realloc(s->server_tokens, (s->n_server_tokens + 1) * sizeof(*s->server_tokens));
        if (grown == NULL) {
            fclose(f);
            henn_memzero(line, sizeof(line));
            return HENN_ENOMEM;
        }
        s->server_tokens = grown;
        token_hash(s->server_tokens[s->n_server_tokens++], t, (size_t)(e - t));
    }
    henn_memzero(line, sizeof(line));
    fclose(f);
    if (s->n_server_tokens == 0) {
        if (s->o.log != NULL)
            fprintf(s->o.log, "henn serve: the tokens file %s holds no token\n", path);
        return HENN_EINVAL;
    }
    return 0;
}

/* Whether authz carries a token of the tokens file (any, without one);
 * tag (17 bytes, may be NULL) gets the matching token's creator tag: 16
 * hex digits of a keyed hash of its hash (a name for the token in the
 * store that reveals nothing of it), "" without a tokens file. */
static int server_token_match(const henn_svc_server *s, const char *authz, char *tag)
{
    static const uint8_t key[17] = "henn creator tag";
    const char *tok;
    size_t tlen, i;
    uint8_t h[32], t[8];
    int ok = 0;
    if (tag != NULL)
        tag[0] = '\0';
    if (s->n_server_tokens == 0)
        return 1;
    tok = bearer(authz, &tlen);
    if (tok == NULL)
        return 0;
    token_hash(h, tok, tlen);
    for (i = 0; i < s->n_server_tokens; i++)
        ok |= sodium_memcmp(s->server_tokens[i], h, sizeof(h)) == 0;
    if (ok && tag != NULL) {
        crypto_generichash(t, sizeof(t), h, sizeof(h), key, 16);
        hex(tag, t, sizeof(t));
    }
    return ok;
}

static int server_token_ok(const henn_svc_server *s, const char *authz)
{
    return server_token_match(s, authz, NULL);
}


/* ---------------------------------------------------------------- core */

static void job_event(void *user, henn__svc_jobs *j, int finished, int rc);

/* A job that a restart interrupted after a checkpoint runs on from it
 * (jobs.c) at the session's first request after the restart (the
 * owner's poll: the job needs its answers anyway); one that cannot stays
 * reported interrupted. */
static void resume_job(henn_svc_server *s, henn__svc_session *ss)
{
    int rc;
    pthread_mutex_lock(&ss->lock);
    if (!henn__svc_jobs_resumable(ss->jobs)) { /* another request resumed it */
        pthread_mutex_unlock(&ss->lock);
        return;
    }
    rc = session_party(s, ss);
    if (rc == 0)
        rc = henn__svc_jobs_resume(ss->jobs, ss->proto, ss->party, job_event, ss);
    pthread_mutex_unlock(&ss->lock);
    if (rc != 0 && s->o.log != NULL)
        fprintf(s->o.log, "henn serve: a session's interrupted job could not resume: %s\n",
                henn_err_name(rc));
}

int henn__svc_core_open(henn_svc_server *s, const henn_svc_server_opts *o)
{
    henn__svc_session *ss, *next;
    int64_t now;
    int rc;

    s->o = *o;
    s->data_dir = strdup(o->data_dir);
    if (s->data_dir == NULL)
        return HENN_ENOMEM;
    s->o.data_dir = s->data_dir;
    s->party.threads =
        o->party_threads != 0 ? o->party_threads : henn__svc_party_threads_default();
    pthread_mutex_init(&s->lock, NULL);
    if (o->tokens_file != NULL) {
        rc = read_tokens(s, o->tokens_file);
        if (rc != 0)
            return rc;
    }
    s->o.tokens_file = NULL;
    rc = henn__svc_store_open(&s->store, o->data_dir, o->durable != 0, o->log);
    if (rc == 0)
        rc = henn__svc_store_load(s->store, load_one, s);
    if (rc != 0)
        return rc;
    /* Sessions untouched for session_ttl_s are deleted now. */
    now = now_s(s);
    for (ss = s->sessions; ss != NULL; ss = next) {
        next = ss->next;
        if (o->session_ttl_s > 0 && ss->row.touched + (int64_t)o->session_ttl_s < now) {
            rc = session_delete(s, ss);
            if (rc != 0)
                return rc;
            session_free(ss);
        }
    }
    return 0;
}

void henn__svc_core_close(henn_svc_server *s)
{
    henn__svc_session *ss, *next;
    for (ss = s->sessions; ss != NULL; ss = next) {
        next = ss->next;
        session_free(ss);
    }
    s->sessions = NULL;
    henn__svc_store_close(s->store);
    s->store = NULL;
    if (s->server_tokens != NULL)
        henn_memzero(s->server_tokens, s->n_server_tokens * sizeof(*s->server_tokens));
    free(s->server_tokens);
    s->server_tokens = NULL;
    free(s->data_dir);
    s->data_dir = NULL;
    pthread_mutex_destroy(&s->lock);
}

/* The test hooks may be set while the daemon serves: s->lock. */
void henn__svc_core_cancel_jobs(henn_svc_server *s)
{
    henn__svc_session *ss;
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL; ss = ss->next)
        if (ss->jobs != NULL)
            henn__svc_jobs_cancel(ss->jobs);
    pthread_mutex_unlock(&s->lock);
}

void henn__svc_server_allow_insecure(henn_svc_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->party.allow_insecure = 1;
    pthread_mutex_unlock(&s->lock);
}

void henn__svc_server_authority_timeout(henn_svc_server *s, unsigned seconds)
{
    pthread_mutex_lock(&s->lock);
    s->authority_timeout_s = seconds;
    pthread_mutex_unlock(&s->lock);
}

void henn__svc_server_advance_clock(henn_svc_server *s, int64_t seconds)
{
    pthread_mutex_lock(&s->lock);
    s->clock_offset += seconds;
    pthread_mutex_unlock(&s->lock);
}

void henn__svc_server_crash_after(henn_svc_server *s, uint64_t seq)
{
    pthread_mutex_lock(&s->lock);
    s->crash_after_seq = seq;
    pthread_mutex_unlock(&s->lock);
}

static henn__svc_party_opts party_opts(henn_svc_server *s)
{
    henn__svc_party_opts po;
    pthread_mutex_lock(&s->lock);
    po = s->party;
    pthread_mutex_unlock(&s->lock);
    return po;
}

static int crash_now(henn_svc_server *s, uint64_t seq)
{
    int crash;
    pthread_mutex_lock(&s->lock);
    crash = s->crash_after_seq != 0 && seq == s->crash_after_seq;
    pthread_mutex_unlock(&s->lock);
    return crash;
}

/* ---------------------------------------------------------------- handlers */

static int do_health(henn_svc_response *rs)
{
    return respond_json(rs, 200,
                        json_pack("{s:b,s:s}", "ok", 1, "version", HENN_VERSION_STRING));
}

/* The number of sessions in memory (s->lock). */
static size_t session_count(henn_svc_server *s)
{
    henn__svc_session *ss;
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL; ss = ss->next)
        n++;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The number of sessions created with the server token of creator tag
 * (s->lock). */
static size_t creator_count(henn_svc_server *s, const char *tag)
{
    henn__svc_session *ss;
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL; ss = ss->next)
        n += strcmp(ss->creator, tag) == 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Delete the sessions untouched for session_ttl_s (at most 64 per call):
 * expired sessions must not hold places under max_sessions. */
static void sweep_expired(henn_svc_server *s)
{
    henn__svc_session *ss, *found[64];
    size_t n = 0, i;
    int64_t now = now_s(s);
    if (s->o.session_ttl_s == 0)
        return;
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL && n < 64; ss = ss->next)
        if (ss->row.touched + (int64_t)s->o.session_ttl_s < now) {
            ss->refs++;
            found[n++] = ss;
        }
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < n; i++) {
        ss = found[i];
        pthread_mutex_lock(&ss->lock);
        if (!ss->deleted && ss->row.touched + (int64_t)s->o.session_ttl_s < now)
            (void)session_delete(s, ss);
        pthread_mutex_unlock(&ss->lock);
        session_release(s, ss);
    }
}

static int do_create(henn_svc_server *s, const henn_svc_request *rq, henn_svc_response *rs)
{
    henn__svc_party_opts po;
    json_t *body, *cfg;
    const char *proto_name;
    const henn__svc_protocol *proto;
    henn__svc_session *ss;
    uint8_t id[16], tok[32], atok[32], ahash[32];
    char tok_hex[65], atok_hex[65], ahash_hex[65], creator[17];
    int rc;

    if (!server_token_match(s, rq->authorization, creator))
        return respond_unauthorized(rs);
    if ((s->o.max_sessions > 0 && session_count(s) >= s->o.max_sessions) ||
        (creator[0] != '\0' && creator_count(s, creator) >= s->o.max_sessions_per_token))
        sweep_expired(s);
    if (s->o.max_sessions > 0 && session_count(s) >= s->o.max_sessions)
        return respond_error(rs, 507, "sessions",
                             "the server holds its maximum number of sessions");
    /* One server token (one tenant) cannot take every place. */
    if (creator[0] != '\0' && creator_count(s, creator) >= s->o.max_sessions_per_token)
        return respond_error(rs, 507, "sessions",
                             "this token holds its maximum number of sessions");
    body = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL || !json_is_object(body))
        goto bad;
    proto_name = json_string_value(json_object_get(body, "protocol"));
    cfg = json_object_get(body, "config");
    if (proto_name == NULL || !json_is_object(cfg))
        goto bad;
    proto = henn__svc_protocol_find(proto_name);
    if (proto == NULL) {
        json_decref(body);
        return respond_error(rs, 400, "protocol", "unknown protocol");
    }
    ss = calloc(1, sizeof(*ss));
    if (ss == NULL) {
        json_decref(body);
        return HENN_ENOMEM;
    }
    pthread_mutex_init(&ss->lock, NULL);
    ss->proto = proto;
    ss->server = s;
    if (proto->authority) {
        /* The authority's token: only its hash is kept, in the config. */
        randombytes_buf(atok, sizeof(atok));
        hex(atok_hex, atok, sizeof(atok));
        token_hash(ahash, atok_hex, 64);
        hex(ahash_hex, ahash, sizeof(ahash));
        if (json_object_set_new(cfg, "authority_token_hash", json_string(ahash_hex)) != 0) {
            json_decref(body);
            session_free(ss);
            return HENN_ENOMEM;
        }
    }
    /* The creator tag is stored with the config (a restart counts it
     * again) but never handed to the party, here or at a rebuild. */
    json_object_del(cfg, "creator_tag");
    if (creator[0] != '\0' && json_object_set_new(cfg, "creator_tag", json_string(creator)) != 0) {
        json_decref(body);
        session_free(ss);
        return HENN_ENOMEM;
    }
    ss->row.config = dump(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_del(cfg, "creator_tag");
    memcpy(ss->creator, creator, sizeof(creator));
    po = party_opts(s);
    rc = ss->row.config == NULL ? HENN_ENOMEM : henn__svc_jobs_new(&ss->jobs);
    if (rc == 0)
        rc = session_authority(ss);
    if (rc == 0 && proto->authority)
        po.to_authority = &ss->to_authority;
    if (rc == 0)
        rc = proto->create(&ss->party, cfg, &po);
    json_decref(body);
    if (rc != 0) {
        session_free(ss);
        if (rc == HENN_ENOMEM)
            return rc;
        return respond_error(rs, 400, "config", "the protocol refused the config");
    }
    ss->row.bytes = strlen(ss->row.config);
    if (ss->row.bytes > s->o.session_quota) {
        session_free(ss);
        return respond_error(rs, 507, "quota", "the config exceeds the session quota");
    }
    randombytes_buf(id, sizeof(id));
    randombytes_buf(tok, sizeof(tok));
    hex(ss->row.id, id, sizeof(id));
    hex(tok_hex, tok, sizeof(tok));
    token_hash(ss->row.token_hash, tok_hex, 64);
    memcpy(ss->row.protocol, proto->name, strlen(proto->name) + 1);
    ss->row.created = ss->row.touched = now_s(s);
    rc = henn__svc_store_create(s->store, &ss->row);
    if (rc != 0) {
        session_free(ss);
        henn_memzero(tok, sizeof(tok));
        henn_memzero(tok_hex, sizeof(tok_hex));
        henn_memzero(atok, sizeof(atok));
        henn_memzero(atok_hex, sizeof(atok_hex));
        return respond_error(rs, 500, "storage", "the session could not be stored");
    }
    if (proto->authority)
        rc = respond_json(rs, 201,
                          json_pack("{s:s,s:s,s:s,s:i}", "session", ss->row.id, "token", tok_hex,
                                    "authority_token", atok_hex, "seq", 0));
    else
        rc = respond_json(rs, 201,
                          json_pack("{s:s,s:s,s:i}", "session", ss->row.id, "token", tok_hex,
                                    "seq", 0));
    henn_memzero(tok, sizeof(tok));
    henn_memzero(tok_hex, sizeof(tok_hex));
    henn_memzero(atok, sizeof(atok));
    henn_memzero(atok_hex, sizeof(atok_hex));
    pthread_mutex_lock(&s->lock);
    ss->next = s->sessions;
    s->sessions = ss;
    pthread_mutex_unlock(&s->lock);
    return rc;
bad:
    json_decref(body);
    return respond_error(rs, 400, "bad_request",
                         "the body must be {\"protocol\": string, \"config\": object}");
}

static int do_info(henn__svc_session *ss, henn_svc_response *rs)
{
    return respond_json(rs, 200,
                        json_pack("{s:s,s:I,s:I,s:I}", "protocol", ss->row.protocol, "seq",
                                  (json_int_t)ss->row.seq, "bytes", (json_int_t)ss->row.bytes,
                                  "created", (json_int_t)ss->row.created));
}

static int do_delete(henn_svc_server *s, henn__svc_session *ss, henn_svc_response *rs)
{
    if (session_delete(s, ss) != 0)
        return respond_error(rs, 500, "storage", "the session could not be deleted");
    rs->status = 204;
    rs->content_type = JSON_TYPE;
    return 0;
}

static int do_result(henn_svc_server *s, henn__svc_session *ss, henn_svc_response *rs)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    if (ss->proto->result == NULL)
        return respond_error(rs, 403, "not_allowed", "this protocol gives the client no result");
    if (henn__svc_jobs_busy(ss->jobs))
        return respond_error(rs, 409, "busy", "a job is running in this session");
    rc = session_party(s, ss);
    if (rc == 0)
        rc = ss->proto->result(ss->party, &buf, &len);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc == HENN_EPROTO) /* kdd-published without "release_model" */
        return respond_error(rs, 403, "not_allowed", "this session gives the client no result");
    if (rc != 0)
        return respond_error(rs, 500, "internal", "the session could not be rebuilt");
    respond_bytes(rs, buf, len);
    return 0;
}

static int do_message(henn_svc_server *s, henn__svc_session *ss, uint64_t seq,
                      const henn_svc_request *rq, henn_svc_response *rs)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    uint64_t bytes;
    int rc, changes;

    if (seq == ss->row.seq && seq > 0) { /* a retry: the stored response */
        rc = henn__svc_store_last(s->store, ss->row.id, &resp, &resp_len);
        if (rc == HENN_ENOMEM)
            return rc;
        if (rc != 0)
            return respond_error(rs, 500, "storage", "the stored response could not be read");
        respond_bytes(rs, resp, resp_len);
        return 0;
    }
    if (henn__svc_jobs_busy(ss->jobs))
        return respond_error(rs, 409, "busy", "a job is running in this session");
    if (ss->row.seq == UINT64_MAX || seq != ss->row.seq + 1) {
        json_t *j = json_pack("{s:{s:s,s:s},s:I}", "error", "code", "sequence", "message",
                              "out-of-order sequence number", "expected",
                              (json_int_t)(ss->row.seq + 1));
        return respond_json(rs, 409, j);
    }
    changes = ss->proto->changes_state(rq->body, rq->body_len);
    bytes = ss->row.bytes + (changes ? rq->body_len : 0);
    if (bytes > s->o.session_quota)
        return respond_error(rs, 507, "quota", "the session's storage quota is used up");
    rc = session_party(s, ss);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc == HENN_ETIMEDOUT)
        return respond_error(rs, 504, "authority",
                             "the authority did not answer the server's request in time");
    if (rc != 0)
        return respond_error(rs, 500, "internal", "the session could not be rebuilt");
    rc = ss->proto->handle(ss->party, rq->body, rq->body_len, &resp, &resp_len);
    if (rc == 0) {
        bytes = bytes - ss->row.last_len + resp_len;
        if (bytes > s->o.session_quota)
            rc = 507;
        else
            rc = henn__svc_store_commit(s->store, ss->row.id, seq, changes ? rq->body : NULL,
                                        rq->body_len, resp, resp_len, bytes, now_s(s));
    }
    if (rc != 0) {
        /* The party may have moved past the stored state: rebuild it from
         * the log next time. */
        free(resp);
        ss->proto->free(ss->party);
        ss->party = NULL;
        if (rc == HENN_ENOMEM)
            return rc;
        if (rc == 507)
            return respond_error(rs, 507, "quota", "the session's storage quota is used up");
        if (rc == HENN_ETIMEDOUT) /* the party's request to the authority */
            return respond_error(rs, 504, "authority",
                                 "the authority did not answer the server's request in time");
        return respond_error(rs, 500, "storage", "the message could not be committed");
    }
    if (crash_now(s, seq))
        raise(SIGKILL);
    ss->row.seq = seq;
    ss->row.bytes = bytes;
    ss->row.last_len = resp_len;
    ss->row.touched = now_s(s);
    respond_bytes(rs, resp, resp_len);
    return 0;
}

/* A job started, committed a batch (finished 0) or ended (on its
 * thread): its record, and at its end or with a checkpoint the party's
 * snapshot, into the store (one transaction). */
static void job_event(void *user, henn__svc_jobs *j, int finished, int rc)
{
    henn__svc_session *ss = user;
    henn_svc_server *s = ss->server;
    char *rec = henn__svc_jobs_record(j, !finished ? "running" : rc == 0 ? "done" : "failed", rc);
    uint8_t *state = NULL;
    size_t len = 0;
    if (rec == NULL)
        return;
    if ((finished || henn__svc_protocol_resume(ss->proto) != NULL) &&
        ss->proto->snapshot != NULL && ss->proto->snapshot(ss->party, &state, &len) == 0)
        (void)henn__svc_store_set_job(s->store, ss->row.id, rec, state, len, 1);
    else
        (void)henn__svc_store_set_job(s->store, ss->row.id, rec, NULL, 0, 0);
    free(state);
    henn_free(rec, strlen(rec) + 1); /* holds the job's secret seed */
}

/* POST /v1/sessions/{id}/jobs {"kind": "train", "epochs": E, "seed": S}. */
static int do_job_start(henn_svc_server *s, henn__svc_session *ss, const henn_svc_request *rq,
                        henn_svc_response *rs)
{
    json_t *body, *ep, *sd;
    const char *kind;
    uint64_t jid = 0;
    json_int_t epochs = 0, seed = 0;
    int rc;

    if (ss->proto->train_epoch == NULL)
        return respond_error(rs, 403, "not_allowed", "this protocol has no server-side jobs");
    body = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
    kind = json_string_value(json_object_get(body, "kind"));
    ep = json_object_get(body, "epochs");
    sd = json_object_get(body, "seed");
    if (json_is_integer(ep))
        epochs = json_integer_value(ep);
    if (json_is_integer(sd))
        seed = json_integer_value(sd);
    if (body == NULL || kind == NULL || strcmp(kind, "train") != 0 || epochs < 1 ||
        epochs > 100000 || (sd != NULL && (!json_is_integer(sd) || seed < 0))) {
        json_decref(body);
        return respond_error(rs, 400, "bad_request",
                             "the body must be {\"kind\": \"train\", \"epochs\": 1.., "
                             "\"seed\": integer >= 0}");
    }
    json_decref(body);
    rc = session_party(s, ss);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return respond_error(rs, 500, "internal", "the session could not be rebuilt");
    rc = henn__svc_jobs_start(ss->jobs, ss->proto, ss->party, (size_t)epochs, (uint64_t)seed,
                              job_event, ss, &jid);
    if (rc == HENN_EPROTO)
        return respond_error(rs, 409, "busy", "a job is running in this session");
    if (rc != 0)
        return respond_error(rs, 500, "internal", "the job could not be started");
    return respond_json(rs, 201, json_pack("{s:I}", "job", (json_int_t)jid));
}

static int do_job_status(henn__svc_session *ss, uint64_t jid, henn_svc_response *rs)
{
    json_t *j = NULL;
    int rc = henn__svc_jobs_status(ss->jobs, jid, &j);
    if (rc == HENN_EINVAL)
        return respond_error(rs, 404, "no_job", "no such job");
    if (rc != 0)
        return rc;
    return respond_json(rs, 200, j);
}

/* The wait=S of a query string (0..60, default 0). */
static unsigned query_wait(const char *path)
{
    const char *q = strchr(path, '?'), *w;
    unsigned long v;
    if (q == NULL)
        return 0;
    for (w = q + 1; w != NULL && *w != '\0'; w = strchr(w, '&') ? strchr(w, '&') + 1 : NULL)
        if (strncmp(w, "wait=", 5) == 0) {
            v = strtoul(w + 5, NULL, 10);
            return v > 60 ? 60u : (unsigned)v;
        }
    return 0;
}

static int do_poll(henn__svc_session *ss, const henn_svc_request *rq, henn_svc_response *rs)
{
    uint8_t *req = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    int rc = henn__svc_jobs_poll(ss->jobs, query_wait(rq->path), &req, &len, &seq);
    if (rc != 0)
        return rc;
    if (req == NULL) {
        rs->status = 204;
        rs->content_type = BIN_TYPE;
        return 0;
    }
    respond_bytes(rs, req, len);
    rs->seq = seq;
    return 0;
}

static int do_answer(henn__svc_session *ss, uint64_t seq, const henn_svc_request *rq,
                     henn_svc_response *rs)
{
    uint64_t expected = 0;
    int rc = henn__svc_jobs_answer(ss->jobs, seq, rq->body, rq->body_len, &expected);
    if (rc == 1)
        return respond_json(rs, 409,
                            json_pack("{s:{s:s,s:s},s:I}", "error", "code", "sequence",
                                      "message", "no such server request", "expected",
                                      (json_int_t)expected));
    if (rc != 0)
        return rc;
    return respond_json(rs, 200, json_pack("{s:b}", "ok", 1));
}

/* ---------------------------------------------------------------- routing */

enum {
    R_NONE,
    R_HEALTH,
    R_SESSIONS,
    R_SESSION,
    R_MESSAGE,
    R_RESULT,
    R_BAD,
    R_REQUESTS,
    R_ANSWER,
    R_JOBS,
    R_JOB
};

/* A decimal number without sign or leading zeros (at most 19 digits). */
static int parse_u64(uint64_t *out, const char *p, const char *end)
{
    uint64_t v = 0;
    if (p == end || end - p > 19 || (*p == '0' && end - p > 1))
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* Classify path (query removed) into a route; id (33 bytes) and seq for
 * the session routes. */
static int classify(const char *path, size_t n, char *id, uint64_t *seq)
{
    static const char pre[] = "/v1/sessions/";
    const char *p, *end = path + n;
    if (n == 10 && memcmp(path, "/v1/health", 10) == 0)
        return R_HEALTH;
    if (n == 12 && memcmp(path, "/v1/sessions", 12) == 0)
        return R_SESSIONS;
    if (n < sizeof(pre) - 1 || memcmp(path, pre, sizeof(pre) - 1) != 0)
        return R_NONE;
    p = path + sizeof(pre) - 1;
    if ((size_t)(end - p) < 32 || !is_hex(p, 32) || (p + 32 < end && p[32] != '/'))
        return R_BAD;
    memcpy(id, p, 32);
    id[32] = '\0';
    p += 32;
    if (p == end)
        return R_SESSION;
    if ((size_t)(end - p) == 7 && memcmp(p, "/result", 7) == 0)
        return R_RESULT;
    if ((size_t)(end - p) == 9 && memcmp(p, "/requests", 9) == 0)
        return R_REQUESTS;
    if ((size_t)(end - p) == 5 && memcmp(p, "/jobs", 5) == 0)
        return R_JOBS;
    if ((size_t)(end - p) > 10 && memcmp(p, "/messages/", 10) == 0)
        return parse_u64(seq, p + 10, end) == 0 ? R_MESSAGE : R_BAD;
    if ((size_t)(end - p) > 10 && memcmp(p, "/requests/", 10) == 0)
        return parse_u64(seq, p + 10, end) == 0 ? R_ANSWER : R_BAD;
    if ((size_t)(end - p) > 6 && memcmp(p, "/jobs/", 6) == 0)
        return parse_u64(seq, p + 6, end) == 0 ? R_JOB : R_BAD;
    return R_NONE;
}

/* The methods each route takes. */
static int method_ok(int route, const char *m)
{
    switch (route) {
    case R_HEALTH:
    case R_RESULT:
    case R_REQUESTS:
    case R_JOB:
        return strcmp(m, "GET") == 0;
    case R_SESSIONS:
    case R_MESSAGE:
    case R_ANSWER:
    case R_JOBS:
        return strcmp(m, "POST") == 0;
    case R_SESSION:
        return strcmp(m, "GET") == 0 || strcmp(m, "DELETE") == 0;
    default:
        return 0;
    }
}

int henn__svc_bodyless(const char *method, const char *path)
{
    char id[33];
    uint64_t seq;
    int route = classify(path, strcspn(path, "?"), id, &seq);
    return route == R_HEALTH || route == R_NONE || route == R_BAD || !method_ok(route, method);
}

unsigned henn__svc_preauth(henn_svc_server *s, const char *path, const char *authz)
{
    henn__svc_session *ss;
    const char *tok;
    size_t tlen;
    char id[33];
    uint64_t seq;
    uint8_t h[32];
    int route = classify(path, strcspn(path, "?"), id, &seq), known = 0;
    if (route == R_SESSIONS)
        return server_token_ok(s, authz) ? 0 : 401;
    if (route == R_NONE || route == R_HEALTH || route == R_BAD)
        return 0;
    tok = bearer(authz, &tlen);
    if (tok == NULL)
        return 401;
    token_hash(h, tok, tlen);
    pthread_mutex_lock(&s->lock);
    for (ss = s->sessions; ss != NULL; ss = ss->next)
        known |= (int)(sodium_memcmp(ss->row.token_hash, h, sizeof(h)) == 0) |
                 (int)(ss->has_auth && sodium_memcmp(ss->auth_hash, h, sizeof(h)) == 0);
    pthread_mutex_unlock(&s->lock);
    return known ? 0 : 401;
}

struct henn__svc_ticket {
    henn__svc_session *ss; /* the token's session (referenced), or NULL */
    size_t reserved;       /* body bytes counted in s->body_reserved */
    int upload, poll;
    /* A long poll's client address (addr_len 0: none) and its place in
     * s->poll_tickets. */
    uint8_t addr[8];
    size_t addr_len;
    struct henn__svc_ticket *next_poll;
};

/* The key a long poll is counted under in max_polls_per_ip: an IPv4
 * address (also IPv4-mapped IPv6), or the /64 of an IPv6 one (one host
 * commonly holds a whole /64). Returns its length, 0 for none. */
static size_t addr_key(uint8_t key[8], const struct sockaddr *peer)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (peer == NULL)
        return 0;
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)peer;
        memcpy(key, &a->sin_addr, 4);
        return 4;
    }
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)peer;
        if (memcmp(a->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
            memcpy(key, a->sin6_addr.s6_addr + 12, 4);
            return 4;
        }
        memcpy(key, a->sin6_addr.s6_addr, 8);
        return 8;
    }
    return 0;
}

/* Long polls held from the address key (s->lock). */
static unsigned polls_from(const henn_svc_server *s, const uint8_t *key, size_t len)
{
    const henn__svc_ticket *k;
    unsigned n = 0;
    if (len == 0)
        return 0;
    for (k = s->poll_tickets; k != NULL; k = k->next_poll)
        n += (unsigned)(k->addr_len == len && memcmp(k->addr, key, len) == 0);
    return n;
}

unsigned henn__svc_admit(henn_svc_server *s, const char *method, const char *path,
                         const char *authz, uint64_t body_len, int chunked,
                         const struct sockaddr *peer, henn__svc_ticket **t)
{
    henn__svc_ticket *k;
    henn__svc_session *ss, *found = NULL;
    const char *tok = NULL;
    size_t tlen = 0, reserve;
    char id[33];
    uint64_t seq;
    uint8_t h[32];
    unsigned st = 0;
    int route = classify(path, strcspn(path, "?"), id, &seq);
    int poll = route == R_REQUESTS && strcmp(method, "GET") == 0;
    int upload = body_len > 0 || chunked;

    *t = NULL;
    if (!poll && !upload)
        return 0;
    reserve = body_len < s->o.max_body ? (size_t)body_len : s->o.max_body;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return 500;
    if (route != R_SESSIONS && route != R_NONE && route != R_HEALTH && route != R_BAD)
        tok = bearer(authz, &tlen);
    if (tok != NULL)
        token_hash(h, tok, tlen);
    if (poll)
        k->addr_len = addr_key(k->addr, peer);
    pthread_mutex_lock(&s->lock);
    /* Every hash is compared, as in session_auth. */
    for (ss = s->sessions; tok != NULL && ss != NULL; ss = ss->next)
        if ((int)(sodium_memcmp(ss->row.token_hash, h, sizeof(h)) == 0) |
            (int)(ss->has_auth && sodium_memcmp(ss->auth_hash, h, sizeof(h)) == 0))
            found = ss;
    if (poll && found != NULL && found->polls >= s->o.max_polls_per_session)
        st = 429;
    else if (poll && polls_from(s, k->addr, k->addr_len) >= s->o.max_polls_per_ip)
        st = 429;
    else if (upload && found != NULL && found->uploads >= s->o.max_uploads_per_session)
        st = 429;
    else if (poll && s->polls_held >= s->o.max_polls)
        st = 503;
    else if (upload && reserve > s->o.max_body_memory - s->body_reserved)
        st = 503;
    if (st == 0) {
        k->upload = upload;
        k->poll = poll;
        k->reserved = reserve;
        s->body_reserved += reserve;
        s->polls_held += (unsigned)poll;
        if (poll) {
            k->next_poll = s->poll_tickets;
            s->poll_tickets = k;
        }
        if (found != NULL) {
            found->refs++;
            found->uploads += (unsigned)upload;
            found->polls += (unsigned)poll;
            k->ss = found;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (st != 0) {
        free(k);
        return st;
    }
    *t = k;
    return 0;
}

unsigned henn__svc_admit_grow(henn_svc_server *s, henn__svc_ticket *t, size_t total)
{
    unsigned st = 0;
    if (t == NULL || total <= t->reserved)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (total - t->reserved > s->o.max_body_memory - s->body_reserved) {
        st = 503;
    } else {
        s->body_reserved += total - t->reserved;
        t->reserved = total;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

void henn__svc_admit_release(henn_svc_server *s, henn__svc_ticket *t)
{
    henn__svc_session *ss;
    if (t == NULL)
        return;
    ss = t->ss;
    pthread_mutex_lock(&s->lock);
    s->body_reserved -= t->reserved;
    s->polls_held -= (unsigned)t->poll;
    if (t->poll) {
        henn__svc_ticket **p = &s->poll_tickets;
        while (*p != NULL && *p != t)
            p = &(*p)->next_poll;
        if (*p == t)
            *p = t->next_poll;
    }
    if (ss != NULL) {
        ss->uploads -= (unsigned)t->upload;
        ss->polls -= (unsigned)t->poll;
    }
    pthread_mutex_unlock(&s->lock);
    if (ss != NULL)
        session_release(s, ss);
    free(t);
}

const char *henn__svc_route_name(const char *path)
{
    static const char *const names[] = {"(unknown)",
                                        "/v1/health",
                                        "/v1/sessions",
                                        "/v1/sessions/{id}",
                                        "/v1/sessions/{id}/messages/{seq}",
                                        "/v1/sessions/{id}/result",
                                        "(malformed)",
                                        "/v1/sessions/{id}/requests",
                                        "/v1/sessions/{id}/requests/{seq}",
                                        "/v1/sessions/{id}/jobs",
                                        "/v1/sessions/{id}/jobs/{jid}"};
    char id[33];
    uint64_t seq;
    size_t n = strcspn(path, "?");
    return names[classify(path, n, id, &seq)];
}

int henn_svc_server_route(henn_svc_server *s, const henn_svc_request *rq, henn_svc_response *rs)
{
    const char *m;
    char id[33];
    uint64_t seq = 0;
    size_t n;
    int route, rc, authority = 0;
    unsigned st;
    henn__svc_session *ss = NULL;

    memset(rs, 0, sizeof(*rs));
    if (s == NULL || rq == NULL || rq->method == NULL || rq->path == NULL ||
        (rq->body == NULL && rq->body_len > 0))
        return HENN_EINVAL;
    if (rq->body_len > s->o.max_body)
        return respond_error(rs, 413, "too_large", "the request body exceeds the server's limit");
    m = rq->method;
    n = strcspn(rq->path, "?");
    route = classify(rq->path, n, id, &seq);
    switch (route) {
    case R_HEALTH:
        return strcmp(m, "GET") == 0 ? do_health(rs)
                                     : respond_error(rs, 405, "method", "use GET");
    case R_SESSIONS:
        return strcmp(m, "POST") == 0 ? do_create(s, rq, rs)
                                      : respond_error(rs, 405, "method", "use POST");
    case R_BAD:
        return respond_error(rs, 400, "bad_request", "malformed session id or sequence number");
    case R_NONE:
        return respond_error(rs, 404, "no_route", "no such endpoint");
    default:
        break;
    }
    if ((route == R_SESSION && strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0) ||
        ((route == R_MESSAGE || route == R_ANSWER || route == R_JOBS) &&
         strcmp(m, "POST") != 0) ||
        ((route == R_RESULT || route == R_REQUESTS || route == R_JOB) && strcmp(m, "GET") != 0))
        return respond_error(rs, 405, "method", "method not allowed on this endpoint");
    st = session_auth(s, id, rq->authorization, &ss, &authority);
    if (st == 401)
        return respond_unauthorized(rs);
    if (st == 404)
        return respond_not_found(rs);
    if (henn__svc_jobs_resumable(ss->jobs))
        resume_job(s, ss);
    if (ss->proto->authority && (route == R_REQUESTS || route == R_ANSWER) != authority) {
        /* The authority's token opens only the channel, the owner's
         * everything but the channel. */
        rc = respond_error(rs, 403, "not_allowed",
                           authority ? "the authority's token opens only the server's requests"
                                     : "only the authority answers this session's requests");
        session_release(s, ss);
        goto done;
    }
    if (route == R_REQUESTS || route == R_ANSWER || route == R_JOB) {
        /* The channel has its own lock: a long poll must not hold the
         * session's (the reference keeps ss alive). */
        int deleted;
        pthread_mutex_lock(&s->lock);
        deleted = ss->deleted;
        pthread_mutex_unlock(&s->lock);
        if (deleted)
            rc = respond_not_found(rs);
        else if (route == R_REQUESTS)
            rc = do_poll(ss, rq, rs);
        else if (route == R_ANSWER)
            rc = do_answer(ss, seq, rq, rs);
        else
            rc = do_job_status(ss, seq, rs);
        session_release(s, ss);
        goto done;
    }
    pthread_mutex_lock(&ss->lock);
    if (ss->deleted) {
        rc = respond_not_found(rs);
    } else if (s->o.session_ttl_s > 0 &&
               ss->row.touched + (int64_t)s->o.session_ttl_s < now_s(s)) {
        rc = session_delete(s, ss) == 0 ? respond_not_found(rs)
                                        : respond_error(rs, 500, "storage", "expiry failed");
    } else if (route == R_SESSION) {
        rc = strcmp(m, "GET") == 0 ? do_info(ss, rs) : do_delete(s, ss, rs);
    } else if (route == R_RESULT) {
        rc = do_result(s, ss, rs);
    } else if (route == R_JOBS) {
        rc = do_job_start(s, ss, rq, rs);
    } else {
        rc = do_message(s, ss, seq, rq, rs);
    }
    pthread_mutex_unlock(&ss->lock);
    session_release(s, ss);
done:
    if (rc != 0) {
        henn_svc_response_free(rs);
        if (respond_error(rs, 500, "internal", henn_strerror(rc)) != 0)
            return rc;
    }
    return 0;
}
