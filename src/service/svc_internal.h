/*
 * The service's server side, internal: the protocol adapters (parties.c),
 * the SQLite store (store.c), the sessions and the router (router.c) and
 * the libmicrohttpd daemon (server.c). Never installed.
 */
#ifndef HENN_SVC_INTERNAL_H
#define HENN_SVC_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "henn/nn.h"
#include "henn/service.h"

/* ---------------------------------------------------------------- parties */

/* The default of henn_svc_server_opts.party_threads (also what 0 means):
 * the online CPUs, at most HENN__SVC_PARTY_THREADS_CAP (opts.c). */
#define HENN__SVC_PARTY_THREADS_CAP 8u
unsigned henn__svc_party_threads_default(void);

/* What a party is built with: threads for its homomorphic work and the
 * test-only acceptance of small keys and insecure parameters. */
typedef struct henn__svc_party_opts {
    unsigned threads;
    int allow_insecure;
    /* Protocols with an authority (henn__svc_protocol.authority): the
     * session's server-driven channel to it (kept by the party; owned by
     * the session, outlives the party); NULL for the others. */
    henn_transport *to_authority;
} henn__svc_party_opts;

/*
 * A protocol's service side behind one interface. create() checks the
 * session's JSON config and builds a fresh party; handle() is the party's
 * handler (0, or HENN_ENOMEM: error responses are responses);
 * changes_state() says by message type whether a request may change the
 * party's state (such requests are logged and replayed after a restart;
 * the others are not); result() gives what the protocol lets the client
 * download (NULL: nothing).
 */
typedef struct henn__svc_protocol {
    const char *name;
    int (*create)(void **party, const json_t *config, const henn__svc_party_opts *o);
    int (*handle)(void *party, const uint8_t *req, size_t req_len, uint8_t **resp,
                  size_t *resp_len);
    int (*changes_state)(const uint8_t *req, size_t req_len);
    int (*result)(void *party, uint8_t **out, size_t *out_len);
    void (*free)(void *party);
    /* Server-driven training (NULL: the protocol has no jobs): one epoch
     * with requests to the owner through to_owner (jobs.c). */
    int (*train_epoch)(void *party, henn_transport *to_owner, uint64_t seed,
                       henn_progress_fn progress, void *user, double *loss);
    /* The party's state after a job, as the config's "model" (a
     * henn_nn_model_serialize blob), so that a restart rebuilds the
     * trained party (NULL: jobs leave nothing to keep). */
    int (*snapshot)(void *party, uint8_t **out, size_t *out_len);
    /* Nonzero: the protocol has a third party, the authority (CryptoNN):
     * creating a session also returns an "authority_token", with which
     * only the server-driven channel (poll, answer) may be used; the
     * party's handler asks the authority through it (to_authority) and
     * the owner's token may not use the channel. */
    int authority;
} henn__svc_protocol;

/*
 * Resumable jobs (jobs.c; kdd-published only, henn__svc_protocol_resume):
 * set_key: seeded masks from the job's 32-byte secret (NULL: the OS
 * CSPRNG again), request counter 0; epoch_from: batches first.. of the
 * epoch with seed, *total and *done carried over (the summed loss and the
 * rows so far), after() called after each batch with the next batch's
 * index (nonzero stops the epoch), *loss the epoch's mean at its end;
 * state_get/state_set: what the snapshot (the model) does not hold (the
 * optimiser, the mask counter), as bytes.
 */
typedef int (*henn__svc_batch_fn)(void *user, size_t next, double total, size_t done);
typedef struct henn__svc_resume {
    void (*set_key)(void *party, const uint8_t *key);
    int (*epoch_from)(void *party, henn_transport *to_owner, uint64_t seed, size_t first,
                      double *total, size_t *done, henn__svc_batch_fn after, void *after_user,
                      henn_progress_fn progress, void *user, double *loss);
    int (*state_get)(void *party, uint8_t **buf, size_t *len);
    int (*state_set)(void *party, const uint8_t *buf, size_t len);
} henn__svc_resume;
const henn__svc_resume *henn__svc_protocol_resume(const henn__svc_protocol *p);

/* The CryptoNN adapters (party_cryptonn.c). */
extern const henn__svc_protocol henn__svc_cryptonn_mlp;
extern const henn__svc_protocol henn__svc_cryptonn_lenet5;

/* Config readers shared by the adapters (parties.c): "model" (base64 of
 * henn_nn_model_serialize; *m initialised in any case) and "nn". */
int henn__svc_config_model(henn_nn_model *m, const json_t *config);
int henn__svc_config_nn(henn_nn_opts *nn, const json_t *config);

/* henn__svc_protocol_find: the adapter of protocol name, or NULL. */
const henn__svc_protocol *henn__svc_protocol_find(const char *name);

/* ---------------------------------------------------------------- jobs */

/* A session's server-driven channel and training job (jobs.c). */
typedef struct henn__svc_jobs henn__svc_jobs;

int henn__svc_jobs_new(henn__svc_jobs **j);
/* Cancel a running job, wait for its thread, release j (NULL allowed). */
void henn__svc_jobs_free(henn__svc_jobs *j);
void henn__svc_jobs_cancel(henn__svc_jobs *j);
/* Whether a job runs (it owns the party meanwhile). */
int henn__svc_jobs_busy(henn__svc_jobs *j);
/* Start epochs epochs of proto->train_epoch on party with seeds seed,
 * seed + 1, ...: 0 and *jid, HENN_EINVAL (no training in this protocol, bad
 * epochs), HENN_EPROTO (a job runs), HENN_ENOMEM. */
/* Called when a job starts (finished 0: by henn__svc_jobs_start, before
 * the thread) and when it ends (finished 1, rc its result: on the job's
 * thread, before its state changes; not when it was cancelled). */
typedef void (*henn__svc_job_event_fn)(void *user, henn__svc_jobs *j, int finished, int rc);
int henn__svc_jobs_start(henn__svc_jobs *j, const henn__svc_protocol *proto, void *party,
                         size_t epochs, uint64_t seed, henn__svc_job_event_fn event, void *user,
                         uint64_t *jid);
/* A job restored from a record with a checkpoint (a resumable job that a
 * restart interrupted), not resumed yet. */
int henn__svc_jobs_resumable(henn__svc_jobs *j);
/* Run such a job on from its checkpoint on party (rebuilt from the
 * snapshot and the log): 0, HENN_EINVAL (nothing to resume), HENN_EFORMAT
 * (a checkpoint that does not fit the party: the job stays reported
 * interrupted), HENN_ENOMEM. event: as for henn__svc_jobs_start (also
 * called with finished 0 after every batch: the checkpoint). */
int henn__svc_jobs_resume(henn__svc_jobs *j, const henn__svc_protocol *proto, void *party,
                          henn__svc_job_event_fn event, void *user);
/* The job's record as JSON text (malloc'd) with the given state (a
 * running resumable job's record also holds its checkpoint, which the
 * status never shows). */
char *henn__svc_jobs_record(henn__svc_jobs *j, const char *state, int rc);
/* Restore a stored record (after a restart): a job that was running is
 * reported failed ("interrupted"). */
int henn__svc_jobs_restore(henn__svc_jobs *j, const char *record);
/* The job's progress as JSON (*out owned by the caller); HENN_EINVAL for
 * an unknown job id. */
int henn__svc_jobs_status(henn__svc_jobs *j, uint64_t jid, json_t **out);
/* t: a transport whose calls are requests on j's channel without a job
 * (a party's handler calls it while handling a message): the channel
 * stays open for polls, and each call waits timeout_s (0: 600 s) for its
 * answer, then HENN_ETIMEDOUT (HENN_EIO when cancelled). */
void henn__svc_jobs_transport(henn_transport *t, henn__svc_jobs *j, unsigned timeout_s);
/* The unanswered request (*req malloc'd, NULL when none after wait_s
 * seconds or when no job runs) and its seq. */
int henn__svc_jobs_poll(henn__svc_jobs *j, unsigned wait_s, uint8_t **req, size_t *len,
                        uint64_t *seq);
/* The owner's answer to request seq: 0 (taken, or a repeat of an earlier
 * answer), 1 (no such request yet: *expected is the current one),
 * HENN_ENOMEM. */
int henn__svc_jobs_answer(henn__svc_jobs *j, uint64_t seq, const uint8_t *b, size_t len,
                          uint64_t *expected);

/* ---------------------------------------------------------------- store */

typedef struct henn__svc_store henn__svc_store;

/* One session's row (without its log and last response). */
typedef struct henn__svc_row {
    char id[33];
    uint8_t token_hash[32];
    char protocol[32];
    char *config; /* JSON text, malloc'd */
    char *job;    /* the last job's record (JSON text, malloc'd) or NULL */
    uint64_t seq, bytes, last_len;
    int64_t created, touched;
} henn__svc_row;

/* Open (creating) DIR/henn.db; durable: synchronous=FULL (an fsync of the
 * WAL at every commit) instead of NORMAL. HENN_EIO when the directory or
 * the database cannot be opened or another server holds it. */
int henn__svc_store_open(henn__svc_store **st, const char *dir, int durable, FILE *log);
void henn__svc_store_close(henn__svc_store *st);
/* The connection's PRAGMA synchronous: 1 (NORMAL), 2 (FULL); -1 on error. */
int henn__svc_store_synchronous(henn__svc_store *st);
int henn__svc_store_create(henn__svc_store *st, const henn__svc_row *r);
/* Every session: fn(user, row) (the row and its config are the callee's
 * to keep: it frees config). */
int henn__svc_store_load(henn__svc_store *st, int (*fn)(void *user, henn__svc_row *r),
                         void *user);
/* The logged requests of a session in order: fn(user, req, len) until it
 * returns nonzero. */
int henn__svc_store_replay(henn__svc_store *st, const char *id,
                           int (*fn)(void *user, const uint8_t *req, size_t len), void *user);
/* The last response (*buf malloc'd; *len 0 and *buf NULL when none). */
int henn__svc_store_last(henn__svc_store *st, const char *id, uint8_t **buf, size_t *len);
/* One message in one transaction: the request logged when req != NULL, the
 * response stored as the last, seq and bytes updated. */
int henn__svc_store_commit(henn__svc_store *st, const char *id, uint64_t seq, const uint8_t *req,
                           size_t req_len, const uint8_t *resp, size_t resp_len, uint64_t bytes,
                           int64_t now);
int henn__svc_store_delete(henn__svc_store *st, const char *id);
/* A job's record (JSON text); with_state: also the party's snapshot
 * (state NULL: none). */
int henn__svc_store_set_job(henn__svc_store *st, const char *id, const char *job,
                            const uint8_t *state, size_t state_len, int with_state);
/* The party's snapshot (*buf malloc'd; NULL when none). */
int henn__svc_store_state(henn__svc_store *st, const char *id, uint8_t **buf, size_t *len);

/* ---------------------------------------------------------------- server */

typedef struct henn__svc_session henn__svc_session;

struct henn_svc_server {
    henn_svc_server_opts o;
    char *data_dir, *listen, *url;
    henn__svc_store *store;
    pthread_mutex_t lock; /* the session list and reference counts */
    henn__svc_session *sessions;
    uint8_t (*server_tokens)[32]; /* hashes of the tokens file's lines */
    size_t n_server_tokens;
    henn__svc_party_opts party;
    /* The daemon (server.c). */
    void *daemon;
    uint16_t port;
    pthread_mutex_t flight_lock;
    pthread_cond_t flight_cond;
    unsigned in_flight; /* requests from their headers to their completion */
    unsigned handling;  /* requests handed to a handler thread, not yet back */
    int stopping;       /* henn_svc_server_stop began: no new handler threads */
    unsigned busy;      /* of those, the ones counted against opts.threads */
    unsigned polls;     /* of those, the long polls (not counted) */
    /* Admission from the headers (router.c, under lock): bytes of request
     * bodies reserved (at most max_body_memory) and long polls held (at
     * most max_polls), all sessions together. */
    size_t body_reserved;
    unsigned polls_held;
    /* The tickets of the long polls held (polls_held of them), each with
     * its client's address, counted against max_polls_per_ip. */
    struct henn__svc_ticket *poll_tickets;
    /* Test hook (henn__svc_server_crash_after): SIGKILL the process right
     * after this message's commit, before its response leaves (0: off). */
    uint64_t crash_after_seq;
    /* Test hook (henn__svc_server_advance_clock): seconds added to the
     * clock of session expiry. */
    int64_t clock_offset;
    /* Test hook (henn__svc_server_authority_timeout): seconds a party's
     * request to the authority waits in sessions created from now on (0:
     * 120 s). */
    unsigned authority_timeout_s;
};

/* Open the store, read the tokens file and load the sessions (no
 * network); henn__svc_core_close undoes it. */
int henn__svc_core_open(henn_svc_server *s, const henn_svc_server_opts *o);
void henn__svc_core_close(henn_svc_server *s);

/* From a request's headers alone: 401 when its route needs a bearer token
 * that no session (or, for creating one, the tokens file) has; else 0. */
unsigned henn__svc_preauth(henn_svc_server *s, const char *path, const char *authz);

/* Whether the router's answer to method and path cannot depend on the
 * body (health, unknown or malformed paths, a method the route does not
 * take): the daemon then answers from the headers, without reading it. */
int henn__svc_bodyless(const char *method, const char *path);

/*
 * The daemon's admission of a request from its headers, after
 * henn__svc_preauth: the limits a peer could otherwise exhaust
 * (henn_svc_server_opts). body_len: the declared Content-Length (0 when
 * none), chunked: a body of unknown length follows; peer: the client's
 * address (IPv4 or IPv6; NULL or another family: not counted per
 * address). Returns 0 with *t set
 * (release it with henn__svc_admit_release when the request ends, however
 * it ends), 429 (the token's session holds max_uploads_per_session
 * uploads or max_polls_per_session long polls, or the peer's address
 * max_polls_per_ip long polls), 503 (the body does not
 * fit max_body_memory, or max_polls long polls are held), or 500 (out of
 * memory). The session is that of the bearer token (owner's or
 * authority's), whatever the path names; requests without a body outside
 * the long poll are admitted without counting.
 */
typedef struct henn__svc_ticket henn__svc_ticket;
struct sockaddr;
unsigned henn__svc_admit(henn_svc_server *s, const char *method, const char *path,
                         const char *authz, uint64_t body_len, int chunked,
                         const struct sockaddr *peer, henn__svc_ticket **t);
/* A chunked body grew to total bytes: reserve them (0), or 503 when they do
 * not fit max_body_memory (the reservation stays as it was). */
unsigned henn__svc_admit_grow(henn_svc_server *s, henn__svc_ticket *t, size_t total);
/* Give back what t holds (NULL allowed). */
void henn__svc_admit_release(henn_svc_server *s, henn__svc_ticket *t);

/* Test hook: the daemon's TCP connections now held (after an eviction, the
 * closed ones until libmicrohttpd lets them go) and the body bytes
 * reserved; either pointer may be NULL. */
void henn__svc_server_usage(henn_svc_server *s, unsigned *conns, size_t *body_reserved);

/* Cancel every session's running job (server stop: long polls return). */
void henn__svc_core_cancel_jobs(henn_svc_server *s);

/* The route template of a request for logs ("/v1/sessions/{id}", ...). */
const char *henn__svc_route_name(const char *path);

/* Test hook: parties accept keys under 2048 bits and insecure CKKS
 * parameters (never from the network or the CLI). */
void henn__svc_server_allow_insecure(henn_svc_server *s);
/* Test hook: the process kills itself (SIGKILL) right after committing
 * message seq of any session, before answering it (durability tests). */
void henn__svc_server_crash_after(henn_svc_server *s, uint64_t seq);
/* Test hook: the authority's answer timeout of sessions created or
 * loaded from now on (0: the default, 120 s). */
void henn__svc_server_authority_timeout(henn_svc_server *s, unsigned seconds);
/* Test hook: move the server's clock (session expiry) by seconds. */
void henn__svc_server_advance_clock(henn_svc_server *s, int64_t seconds);

#endif
