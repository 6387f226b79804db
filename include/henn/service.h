/*
 * henn/service.h: henn as a network service (docs/SERVICE.md).
 *
 * Two programs on two machines: the model server (henn serve) runs the
 * service side of a protocol (the KDD trainer, the LR server, ...); the
 * data owner's client keeps the secret key, runs its side locally and
 * drives everything over HTTP(S): the owner is usually behind NAT and
 * never runs a server.
 *
 * One generic design carries every protocol. A session is created for
 * one protocol ("kdd-private", "kdd-infer", "lr", ...) with a JSON
 * config (everything the in-process code passes to the service party's
 * constructor, so that the same seed gives the same model). The
 * protocol's own binary messages (the henn_transport request/response
 * pairs of henn/protocol.h, henn/lrproto.h, ...) then travel unchanged as
 * application/octet-stream bodies:
 *  - client -> server requests: POST /v1/sessions/{id}/messages/{seq},
 *    seq = 1, 2, 3, ... A message is handled exactly once: seq = last + 1
 *    is handled and its response stored in the same SQLite transaction
 *    as the session state; seq = last (a retry after a dropped
 *    connection) gets the stored response again; anything else gets 409.
 *  - server -> client requests (protocols whose service side drives, e.g.
 *    the published KDD training's DECRYPT requests): the client fetches
 *    them by long-polling GET /v1/sessions/{id}/requests and answers with
 *    POST /v1/sessions/{id}/requests/{seq}. Such training runs as a job
 *    (POST /v1/sessions/{id}/jobs, progress at GET .../jobs/{jid}); a
 *    job commits a checkpoint after every batch and resumes from it after
 *    a restart, re-issuing its requests with the same seqs and bytes
 *    (henn_svc_answers keeps the owner's side of that honest).
 *
 * Durability: the server persists, per session, the config and every
 * state-changing message (write-ahead logging, committed before the
 * response leaves). An answered message survives a crash of the server
 * process (kill -9 included); a power loss or an OS crash leaves the
 * database consistent but may roll back the last answered messages
 * (synchronous=NORMAL: docs/SERVICE.md, "Durability"), unless the server
 * runs with opts.durable (synchronous=FULL). After a restart a
 * session is rebuilt by replaying its log through the party's handler, so
 * the state after message k is bit-identical to an uninterrupted run's.
 *
 * Security: HTTPS by default (plain HTTP only on loopback, or with an
 * explicit flag); a random 256-bit bearer token per session, stored only
 * as a hash and compared in constant time; an optional server-wide token
 * file for creating sessions; request size limits, per-session storage
 * quotas, timeouts. The server never receives a secret key: the client
 * sends only what the in-process protocols send to their service party.
 *
 * Thread safety: a server object serves requests on its own threads;
 * requests of one session are serialised, sessions run in parallel. A
 * client object is used by one thread at a time.
 */
#ifndef HENN_SERVICE_H
#define HENN_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "henn/common.h"
#include "henn/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- server */

typedef struct henn_svc_server henn_svc_server;

/*
 * Server options (henn_svc_server_opts_default fills the defaults).
 *  listen:        "ADDR:PORT"; port 0 picks a free port (tests). Default
 *                 "127.0.0.1:8443".
 *  data_dir:      directory of the SQLite database (henn.db, WAL mode) and
 *                 blobs; created 0700 if missing. Required.
 *  cert_file, key_file: PEM certificate and key for HTTPS (both or none).
 *                 Without them the server refuses to start unless listen
 *                 is a loopback address or allow_insecure_http is set.
 *  tokens_file:   optional; one hex token per line; when given, creating a
 *                 session needs "Authorization: Bearer <one of them>".
 *  threads:       HTTP worker threads (default 4).
 *  party_threads: threads each session's party may use for its
 *                 homomorphic work (default and 0: the online CPUs, at
 *                 most 8, as the in-process CLI uses every core; at most
 *                 `threads` requests use them at once). The results do
 *                 not depend on it.
 *  max_body:      largest request body in bytes (default 256 MiB); larger:
 *                 413 before the body is read.
 *  session_quota: bytes a session may store (default 4 GiB); beyond: 507.
 *  idle_conn_s:   idle HTTP connection timeout in seconds (default 60).
 *  session_ttl_s: a session untouched this long is deleted (default
 *                 7 days).
 *  log, log_json: access log (NULL: none), JSON lines when log_json. Logs
 *                 carry method, route template, status, sizes and times:
 *                 never tokens, ciphertexts, keys or session ids.
 *  max_sessions:  sessions the server holds at most (default 1024); a new
 *                 one beyond: 507 "sessions". Anyone who reaches the port
 *                 can create sessions unless tokens_file is given.
 * Limits on what a peer can hold (docs/SERVICE.md, "Limits"); 0 in any of
 * them means its default, except max_conns_per_ip (0: no per-address
 * limit) and min_body_rate (0: no minimum):
 *  max_conns:     TCP connections held at once (default 512; lowered to the
 *                 open-files limit less 64). At the limit a new connection
 *                 takes the place of the oldest one that has not completed
 *                 its request headers for a second or more (it is closed);
 *                 when there is none, the new one is closed at once.
 *  max_conns_per_ip: connections from one IP address (default 128); more
 *                 are closed at once.
 *  header_timeout_s: seconds a connection has to send a request's complete
 *                 headers, counted from its accept or from the end of its
 *                 previous request, however slowly the bytes trickle in
 *                 (default 10); then it is closed. idle_conn_s applies
 *                 after the headers (bodies, responses).
 *  min_body_rate: bytes per second a request body must keep on average
 *                 once its headers are complete (default 16384; 0: no
 *                 minimum). After a grace of header_timeout_s from the
 *                 end of the headers, a body that has received fewer than
 *                 min_body_rate x (seconds since the headers - grace)
 *                 bytes is cut: its connection is closed and its
 *                 reservation of max_body_memory released (libmicrohttpd's
 *                 idle timeout restarts at every byte, so without it a
 *                 trickled body would hold its reservation for ever).
 *                 Requests without a body (long polls) are not affected.
 *  max_uploads_per_session: requests with a body that one session's token
 *                 may have in flight at once (default 4); more: 429
 *                 "busy" with Retry-After, from the headers.
 *  max_body_memory: bytes of request bodies the server buffers at once,
 *                 all connections together (default 1 GiB, never below
 *                 max_body); a request whose declared body does not fit
 *                 (or a chunked one that outgrows it): 503 "overloaded"
 *                 with Retry-After, from the headers where declared.
 *  max_polls_per_session: long polls (GET .../requests) one session's
 *                 tokens may hold at once (default 4); more: 429 "busy".
 *  max_sessions_per_token: with tokens_file, the sessions created with one
 *                 of its tokens that the server holds at once (default
 *                 256), so that one token holder cannot take every place
 *                 of max_sessions; more: 507 "sessions". Counted across
 *                 restarts (the store keeps a tag of the creating token);
 *                 concurrent creations may pass it by the number of
 *                 threads.
 *  max_polls:     long polls held at once, all sessions (default 256);
 *                 more: 503 "overloaded" with Retry-After. Long polls
 *                 never take one of the `threads` request slots.
 *  max_polls_per_ip: long polls held at once from one client address
 *                 (an IPv4 address, or an IPv6 /64; default 0, which
 *                 means max_polls / 8, at least 1: 32 of the default
 *                 256, and it scales with max_polls); more: 429 "busy" with
 *                 Retry-After, from the headers. Sessions cost nothing to
 *                 create without tokens_file, so the per-session bound
 *                 alone let two addresses (128 connections each) take all
 *                 256 places; now filling max_polls takes eight.
 *  durable:       nonzero: the store commits with synchronous=FULL (an
 *                 fdatasync of the WAL at every message, which survives a
 *                 power loss; last measured about 7 ms a message on the
 *                 shared VM); 0 (default): synchronous=NORMAL, which
 *                 survives a crash of the process but may lose the
 *                 messages since the last checkpoint on a power loss
 *                 (docs/SERVICE.md, "Durability").
 * Request headers and the URL share libmicrohttpd's 32 KiB per-connection
 * buffer: longer ones are refused (431 or 414) by libmicrohttpd.
 * A request to a session route whose bearer token no session has, or a
 * session creation without a token of tokens_file, is answered 401 from
 * its headers, before its body is read.
 */
typedef struct henn_svc_server_opts {
    const char *listen;
    const char *data_dir;
    const char *cert_file, *key_file;
    const char *tokens_file;
    int allow_insecure_http;
    unsigned threads, party_threads;
    size_t max_body;
    uint64_t session_quota;
    unsigned idle_conn_s, session_ttl_s;
    FILE *log;
    int log_json;
    size_t max_sessions;
    unsigned max_conns, max_conns_per_ip, header_timeout_s;
    unsigned max_uploads_per_session, max_polls_per_session, max_polls;
    size_t max_body_memory;
    size_t max_sessions_per_token;
    size_t min_body_rate;
    unsigned max_polls_per_ip;
    int durable;
} henn_svc_server_opts;

/* henn_svc_server_opts_default: the defaults above (data_dir NULL). */
HENN_API void henn_svc_server_opts_default(henn_svc_server_opts *o);

/*
 * henn_svc_server_start: open (or create) the database, reload the
 * sessions it holds, and start serving. Returns 0, HENN_EINVAL (bad
 * options, plain HTTP on a non-loopback address without
 * allow_insecure_http), HENN_EIO (database, certificate or socket error;
 * the reason is written to opts->log when set), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_svc_server_start(henn_svc_server **s,
                                                  const henn_svc_server_opts *o);
/* henn_svc_server_port: the bound TCP port. */
HENN_API uint16_t henn_svc_server_port(const henn_svc_server *s);
/* henn_svc_server_url: "https://ADDR:PORT" or "http://ADDR:PORT" (owned by s). */
HENN_API const char *henn_svc_server_url(const henn_svc_server *s);
/* henn_svc_server_stop: stop accepting, finish in-flight requests, close
 * the database and free s (NULL allowed). */
HENN_API void henn_svc_server_stop(henn_svc_server *s);

/*
 * The request router without the network (unit tests, the fuzz target):
 * one HTTP request in, one response out, exactly as the daemon would
 * answer it. body may be NULL when body_len is 0. The response body is
 * malloc'd (henn_svc_response_free).
 */
typedef struct henn_svc_request {
    const char *method;        /* "GET", "POST", "DELETE" */
    const char *path;          /* URL path with query, e.g. "/v1/sessions" */
    const char *authorization; /* the Authorization header or NULL */
    const uint8_t *body;
    size_t body_len;
} henn_svc_request;

typedef struct henn_svc_response {
    unsigned status;           /* HTTP status */
    const char *content_type;  /* static string */
    uint8_t *body;
    size_t body_len;
    uint64_t seq;              /* nonzero: the "Henn-Seq" header (a server-driven request's seq) */
} henn_svc_response;

HENN_API HENN_NODISCARD int henn_svc_server_route(henn_svc_server *s, const henn_svc_request *rq,
                                                  henn_svc_response *rs);
HENN_API void henn_svc_response_free(henn_svc_response *rs);

/* ---------------------------------------------------------------- client */

typedef struct henn_svc_client henn_svc_client;

/*
 * Client options.
 *  url:          "https://host:port" (or http:// on loopback / with
 *                allow_insecure_http).
 *  server_token: the server-wide token for creating sessions, or NULL.
 *  ca_file:      PEM CA bundle to verify the server (NULL: system store).
 *  retry_s:      how long a request is retried (same sequence number)
 *                after connection errors, timeouts and 5xx responses
 *                before giving up with HENN_EIO (default 120 s).
 *  max_response: the largest binary response body accepted, in bytes
 *                (protocol responses, the result); 0: the default,
 *                HENN_SVC_CLIENT_MAX_RESPONSE (256 MiB). JSON bodies
 *                (session creation and description, errors) are capped
 *                at the smaller of this and 1 MiB. A larger body, by its
 *                Content-Length or by its bytes, is refused as it
 *                arrives: HENN_EPROTO, not retried.
 * A successful response must carry the Content-Type of its route
 * (application/octet-stream for protocol responses and the result,
 * application/json for session creation and description; parameters such
 * as "; charset=utf-8" are ignored): another type is HENN_EPROTO, not
 * retried. An empty body without a Content-Type is accepted.
 */
#define HENN_SVC_CLIENT_MAX_RESPONSE ((size_t)256 << 20)
typedef struct henn_svc_client_opts {
    const char *url;
    const char *server_token;
    const char *ca_file;
    double retry_s;
    int allow_insecure_http;
    size_t max_response;
} henn_svc_client_opts;

/*
 * henn_svc_client_create: create a session for protocol with config (a
 * JSON object as text). Returns 0, HENN_EINVAL, HENN_EIO (network, TLS,
 * an HTTP error: the server's JSON message is in henn_svc_client_error),
 * HENN_ENOMEM. On failure *c may still hold a client without a session,
 * good only for henn_svc_client_error (the reason: a refused URL, the
 * server's message, libcurl's error text) and henn_svc_client_free; the
 * caller frees it. Plain http:// to a host other than 127.x.y.z, [::1] or
 * localhost is refused (HENN_EINVAL) unless allow_insecure_http. HTTPS
 * verifies the peer and host name (CURLOPT_CAINFO = ca_file when given);
 * no redirects are followed. retry_s 0: the default (120 s).
 */
HENN_API HENN_NODISCARD int henn_svc_client_create(henn_svc_client **c,
                                                   const henn_svc_client_opts *o,
                                                   const char *protocol,
                                                   const char *config_json);
/*
 * henn_svc_client_resume: reattach to a session (after the client itself
 * was restarted) with its id and token; the next message continues at
 * the server's sequence number. Returns as henn_svc_client_create.
 */
HENN_API HENN_NODISCARD int henn_svc_client_resume(henn_svc_client **c,
                                                   const henn_svc_client_opts *o,
                                                   const char *session, const char *token);
/* The session id and token (owned by c; the token is a secret: 0600 files only). */
HENN_API const char *henn_svc_client_session(const henn_svc_client *c);
HENN_API const char *henn_svc_client_token(const henn_svc_client *c);
/* The last HTTP error's message from the server (owned by c, may be ""). */
HENN_API const char *henn_svc_client_error(const henn_svc_client *c);

/* henn_svc_client_transport: a henn_transport whose calls are the
 * session's messages (c must outlive t). A call POSTs seq = last + 1 and
 * returns the response body; connection errors, timeouts and 5xx answers
 * are retried with the SAME seq (backoff 50 ms doubling to 2 s) until
 * retry_s has passed, then HENN_EIO; a 409 is resolved by reading the
 * session's seq (if the server already handled ours, it answers the
 * repeat with the stored response); another HTTP error gives HENN_EIO
 * with the server's message in henn_svc_client_error, a session the
 * server has moved past gives HENN_EPROTO. */
HENN_API void henn_svc_client_transport(henn_transport *t, henn_svc_client *c);

/*
 * henn_svc_client_journal: make the client's messages survive a kill of
 * the client itself (kill -9, a crash), for protocols that the owner
 * drives message by message (kdd-private). Call it right after
 * henn_svc_client_create (replay 0) or henn_svc_client_resume (replay 1),
 * before the first message.
 *  replay 0: path is created (or truncated; mode 0600, no symbolic link
 *    followed) and every message through henn_svc_client_transport is
 *    appended to it: its request before it is sent, its response before
 *    the caller sees it, each fdatasync'ed.
 *  replay 1: the restarted owner runs its side of the protocol again from
 *    its first message (same data, options and seed); each call that the
 *    journal answered gets the journal's response without a request to
 *    the server, after a check that the caller's request has the
 *    journal's length and message header (the bytes may differ: Paillier
 *    encryption is randomised, and the discarded new ciphertexts are
 *    never sent); the request in flight at the kill is sent again with
 *    its seq and its journaled bytes, never new ones (the server answers
 *    it from its stored response, or handles it now); the calls after
 *    that go to the server and the journal as with replay 0. A torn last
 *    record (the kill in the middle of a write) is dropped.
 * The journal holds the requests and responses (ciphertexts, the model's
 * weights, the owner's gradient sums for kdd-private), no key or token;
 * it grows with the run (delete it when the run ends). Returns 0,
 * HENN_EINVAL (no session, a journal already open, NULL path), HENN_EIO
 * (the file; henn_svc_client_error says why), HENN_EFORMAT (replay: not
 * a journal), HENN_EPROTO (replay: a journal of another session, or one
 * that the server's
 * seq contradicts: the server handled messages that the journal does not
 * hold, or lost some it does), HENN_ENOMEM. Afterwards the transport's
 * calls also return HENN_EIO when a record cannot be written (the message
 * then counts as not sent) and HENN_EPROTO when the caller's request is
 * not the journal's. The journal is locked (flock) until the client is
 * freed or killed: a second client on it gets HENN_EIO ("in use") before
 * it reads, truncates or sends anything; a journal that the checks refuse
 * is left as it was. Not thread-safe (as the client).
 */
HENN_API HENN_NODISCARD int henn_svc_client_journal(henn_svc_client *c, const char *path,
                                                    int replay);

/*
 * henn_svc_client_result: GET /v1/sessions/{id}/result, the result the
 * protocol allows the owner to download (kdd-private: the trained model,
 * henn_nn_model_serialize bytes). *buf is malloc'd (free()). Returns 0,
 * HENN_EINVAL (no session), HENN_EIO (network, or an HTTP error such as
 * 403 for protocols without a result: henn_svc_client_error), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_svc_client_result(henn_svc_client *c, uint8_t **buf,
                                                   size_t *buf_len);

/* henn_svc_client_delete: DELETE the session on the server (an unknown
 * session counts as deleted). Returns 0, HENN_EINVAL, HENN_EIO. */
HENN_API HENN_NODISCARD int henn_svc_client_delete(henn_svc_client *c);

/* ------------------------------------------- the owner's answers to a job */

/*
 * The owner's record of the server-driven requests it answered (the
 * DECRYPT requests of a kdd-published job, fetched by long-polling GET
 * /v1/sessions/{id}/requests and answered with POST .../requests/{seq}).
 * A job resumed after a server restart asks again for the requests
 * issued since its last checkpoint, with the same seqs and the same
 * bytes (docs/SERVICE.md); the owner answers those from this record, so
 * its decryption budget counts each request once. A trainer that sends a
 * seq it sent before with other bytes (faking a restart to have two
 * different ciphertexts decrypted under one seq and budget share) is
 * refused. Not thread-safe: one record per owner, one thread.
 *
 * henn_svc_answers_new: window = answers remembered (0: 8; at most 4096;
 * a resumed job repeats at most the 2 requests of one batch). HENN_EINVAL,
 * HENN_ENOMEM.
 * henn_svc_answers_handle: the answer to request seq (> 0) with body req:
 *  - seq above every seq answered so far: henn_owner_handle(o, req) (its
 *    budget applies), the request's SHA-256 and the response remembered;
 *  - a seq answered before, the same bytes: the remembered response
 *    (*resp malloc'd), no decryption, the budget untouched;
 *  - a seq answered before with other bytes, or one older than the
 *    window: HENN_EPROTO, nothing decrypted.
 *  Also HENN_EINVAL, HENN_ENOMEM and henn_owner_handle's codes.
 *  Remembered responses are wiped when dropped.
 * henn_svc_answers_counts: the repeats answered from the record and the
 * requests refused so far (by the record, or by the owner with an ERROR
 * message such as its budget's refusal, which is recorded and sent).
 */
typedef struct henn_svc_answers henn_svc_answers;
HENN_API HENN_NODISCARD int henn_svc_answers_new(henn_svc_answers **a, size_t window);
HENN_API void henn_svc_answers_free(henn_svc_answers *a);
HENN_API HENN_NODISCARD int henn_svc_answers_handle(henn_svc_answers *a, henn_owner *o,
                                                    uint64_t seq, const uint8_t *req,
                                                    size_t req_len, uint8_t **resp,
                                                    size_t *resp_len);
HENN_API void henn_svc_answers_counts(const henn_svc_answers *a, uint64_t *repeats,
                                      uint64_t *refused);

/*
 * A record that outlives its client (a client killed and restarted with
 * its session file continues the same record and the same budget):
 * henn_svc_answers_decrypted: the ciphertexts the owner decrypted for new
 *  requests through this record (henn_owner_stats' decryptions around
 *  each henn_owner_handle), across restarts when restored.
 * henn_svc_answers_set_budget: refuse new requests (HENN_EPROTO, nothing
 *  decrypted) once decrypted reaches budget (0: no limit). A restored
 *  record keeps its count; the caller gives the owner the same budget
 *  and that count (henn_owner_resume_decrypt_budget), which the owner
 *  checks per request: a spent budget is refused by both. Not
 *  serialized: set it again after a restore.
 * henn_svc_answers_set_hook: saved(user, a) after each new answer is
 *  recorded and before henn_svc_answers_handle returns it; a nonzero
 *  return is the handle's (the response is wiped, not sent). Write the
 *  record durably there (e.g. henn_svc_answers_serialize into a file
 *  renamed into place after fsync).
 * henn_svc_answers_serialize: the record as bytes (*buf malloc'd; it
 *  holds the remembered responses: decrypted, masked values, so keep it
 *  as secret as the key: 0600, wiped): the window, the last seq, the
 *  counts and the remembered answers. HENN_EINVAL, HENN_ENOMEM.
 * henn_svc_answers_deserialize: the record back (*a new, free with
 *  henn_svc_answers_free; no hook, no budget). HENN_EFORMAT (malformed,
 *  truncated, trailing bytes, seqs not rising to the last), HENN_ENOMEM.
 */
HENN_API uint64_t henn_svc_answers_decrypted(const henn_svc_answers *a);
HENN_API void henn_svc_answers_set_budget(henn_svc_answers *a, uint64_t budget);
HENN_API void henn_svc_answers_set_hook(henn_svc_answers *a,
                                        int (*saved)(void *user, const henn_svc_answers *a),
                                        void *user);
HENN_API HENN_NODISCARD int henn_svc_answers_serialize(uint8_t **buf, size_t *buf_len,
                                                       const henn_svc_answers *a);
HENN_API HENN_NODISCARD int henn_svc_answers_deserialize(henn_svc_answers **a,
                                                         const uint8_t *buf, size_t buf_len);

/*
 * A training job driven by the owner (kdd-published). o: as for
 * henn_svc_client_create (url, ca_file, allow_insecure_http, retry_s);
 * session and token: the session's id (32 hex) and token (64 hex), e.g.
 * from henn_svc_client_session/_token or a session file.
 * henn_svc_job_start: POST .../jobs {"kind":"train","epochs","seed"};
 *  *jid the job's id. Returns 0, HENN_EINVAL, HENN_EIO (network, or the
 *  server refused: another job runs, no upload yet, ...), HENN_ENOMEM.
 * henn_svc_job_serve: until job jid ends, long-poll its requests (2 s
 *  polls), answer each with henn_svc_answers_handle(answers, owner) and
 *  read the job's status (after an empty poll and every 2 answers);
 *  progress(user, epochs done, rows of the current epoch, rows per epoch)
 *  after every status read (may be NULL). When the
 *  job is done, loss[0 .. epochs) gets its per-epoch losses. Connection
 *  errors and 5xx (a server restarting) are retried until o->retry_s
 *  (default 120 s) has passed. The job resumes after a restart of the
 *  server, and a client restarted with the same session, token and jid
 *  (a new answers record) continues it. Returns 0, HENN_EINVAL, HENN_EIO
 *  (network, or the job failed), HENN_EPROTO (a request the owner's record
 *  refuses, or a malformed status), the owner's codes, HENN_ENOMEM.
 * Thread safety: one call per owner and answers record at a time.
 */
typedef void (*henn_svc_job_fn)(void *user, size_t epoch, size_t rows, size_t rows_total);
HENN_API HENN_NODISCARD int henn_svc_job_start(const henn_svc_client_opts *o,
                                               const char *session, const char *token,
                                               size_t epochs, uint64_t seed, uint64_t *jid);
HENN_API HENN_NODISCARD int henn_svc_job_serve(const henn_svc_client_opts *o,
                                               const char *session, const char *token,
                                               uint64_t jid, henn_owner *owner,
                                               henn_svc_answers *answers, henn_svc_job_fn progress,
                                               void *user, double *loss, size_t epochs);

/* ------------------------------------------------- the authority (CryptoNN) */

/*
 * Protocols with a third party, the authority ("cryptonn-mlp"): the
 * authority holds the master secret keys and answers the server's key
 * requests through the session's server-driven channel (GET
 * .../requests?wait=S, POST .../requests/{seq}) with a token of its own.
 * That token opens nothing else (messages, result, delete: 403), and the
 * owner's token may not use the channel (403).
 *
 * henn_svc_client_create_authority: as henn_svc_client_create, and the
 * authority's token (64 hex characters and a NUL; a secret: hand it to
 * the authority out of band, 0600 files only) into authority_token.
 * Returns 0, HENN_EINVAL (arguments, a refused URL), HENN_EIO (network or
 * an HTTP error such as 400 for a config the protocol refuses),
 * HENN_EPROTO (a protocol without an authority, a malformed answer, an
 * answer whose Content-Type is not application/json, or one over 1 MiB),
 * HENN_ENOMEM. On failure *c is NULL and authority_token zeroed.
 */
HENN_API HENN_NODISCARD int henn_svc_client_create_authority(henn_svc_client **c,
                                                             char authority_token[65],
                                                             const henn_svc_client_opts *o,
                                                             const char *protocol,
                                                             const char *config_json);

/*
 * henn_svc_authority_serve: the authority's loop: long-poll the session's
 * server requests (2 s at a time) and answer each with
 * authority->call (e.g. henn_transport_to_cryptonn_authority), until
 * stop(user) returns nonzero (asked between polls; stop NULL: forever).
 * Connection errors and 5xx answers (a server restarting) are retried for
 * o->retry_s (0: 120 s); a 409 to an answer (the server asks again under
 * a new seq after a restart) is not an error. answered (optional): the
 * requests answered. The key responses are wiped after sending. Returns
 * 0 (stopped), HENN_EINVAL, HENN_EIO (network past retry_s, or 401, 403,
 * 404: the session is gone or the token is not its authority's),
 * HENN_EPROTO (a server request whose Content-Type is not
 * application/octet-stream, or whose body passes o->max_response, by its
 * Content-Length or its bytes: refused as it arrives, never handed to the
 * authority, not retried), HENN_ENOMEM, or the authority transport's
 * error. Blocking; one thread.
 */
HENN_API HENN_NODISCARD int henn_svc_authority_serve(const henn_svc_client_opts *o,
                                                     const char *session, const char *token,
                                                     henn_transport *authority,
                                                     int (*stop)(void *user), void *user,
                                                     uint64_t *answered);

/* henn_svc_client_free: release c (NULL allowed); the session stays on
 * the server until deleted or expired. */
HENN_API void henn_svc_client_free(henn_svc_client *c);

#ifdef __cplusplus
}
#endif

#endif /* HENN_SERVICE_H */
