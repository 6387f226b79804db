/*
 * The client side of `henn ... --server URL` (docs/SERVICE.md): the
 * options every command shares and the sessions of each protocol. The
 * owner's side runs here; the service side on the server.
 */
#ifndef HENN_SVC_CLI_H
#define HENN_SVC_CLI_H

#include <jansson.h>

#include "henn/nn.h"
#include "henn/paillier.h"
#include "henn/service.h"

/* --server URL [--token F] [--ca F] [--insecure-http] [--session-file F] */
typedef struct cli_svc_opts {
    const char *server;       /* NULL: in-process */
    const char *token_file;   /* the server-wide token (first line) */
    const char *ca_file;      /* PEM CA bundle for HTTPS verification */
    const char *session_file; /* url, session id and token are written here (0600) */
    int insecure_http;
    double retry_s; /* 0: the client's default */
} cli_svc_opts;

/* Usage lines for the options above. */
extern const char cli_svc_usage[];

/* cli_svc_is_option: is a one of the options above? */
int cli_svc_is_option(const char *a);

/*
 * cli_svc_parse: consume argv option a (value v, may be NULL). Returns 1
 * (a flag, no value taken), 2 (a value taken), 0 (not a service option),
 * -1 (usage error, message printed).
 */
int cli_svc_parse(cli_svc_opts *so, const char *a, const char *v);

/*
 * cli_svc_open: create a session for protocol with config (a JSON object
 * as text) on so->server; prints "henn: server: <reason>" on failure and
 * returns its code. Writes so->session_file (0600) when set, after
 * removing the stale temporary copies of it (F.henn-tmp-XXXXXX) that a
 * run killed while rewriting F left (regular files of ours, unlocked;
 * named on stderr); the --resume functions below do the same before
 * they read F.
 */
int cli_svc_open(henn_svc_client **c, const cli_svc_opts *so, const char *protocol,
                 const char *config_json);

/* Sessions of the KDD protocols: the private trainer's (initial model,
 * optimiser options) and the inference service's (model); bits: the
 * owner's key size (above the server's default limit of 4096 the session
 * asks for it with "max_key_bits"). Small test keys are a server-side
 * test hook, never offered over the network. */
int cli_svc_open_kdd_private(henn_svc_client **c, const cli_svc_opts *so,
                             const henn_nn_model *init, const henn_nn_opts *nno, size_t bits);
int cli_svc_open_kdd_infer(henn_svc_client **c, const cli_svc_opts *so, const henn_nn_model *m,
                           size_t bits);

/* The published protocol's session (kdd-published, "release_model": the
 * command line downloads the trained model for its comparison table). */
int cli_svc_open_kdd_published(henn_svc_client **c, const cli_svc_opts *so,
                               const henn_nn_model *init, const henn_nn_opts *nno, size_t bits);

/* A started job, for --resume: cli_svc_save_job rewrites the session file
 * (0600, atomically: a temporary file fsync'ed and renamed over it) with
 * the job's id, the owner's secret key (it never leaves this machine: the
 * client needs it to answer the job after a restart) and, when answers is
 * not NULL, the owner's record of its answers (henn_svc_answers_serialize:
 * the used decryption budget and the last answers); nothing without
 * --session-file. cli_svc_resume_job reads it back and reattaches to the
 * session (the file's URL must be so->server); *answers gets the saved
 * record (NULL when the file has none). Both print their reason on
 * failure. */
int cli_svc_save_job(const cli_svc_opts *so, henn_svc_client *c, uint64_t jid,
                     const henn_paillier_sk *sk, const henn_svc_answers *answers);
int cli_svc_resume_job(henn_svc_client **c, const cli_svc_opts *so, uint64_t *jid,
                       henn_paillier_sk *sk, unsigned key_flags, henn_svc_answers **answers);

/* Private training, for --resume: cli_svc_save_private rewrites the
 * session file (0600, atomically) with the owner's secret key and
 * fingerprint (a hex digest of the run's data and options: a resumed run
 * must replay the same messages); cli_svc_resume_private reads it back,
 * refuses another fingerprint, and reattaches to the session. */
int cli_svc_save_private(const cli_svc_opts *so, henn_svc_client *c, const henn_paillier_sk *sk,
                         const char *fingerprint);
int cli_svc_resume_private(henn_svc_client **c, const cli_svc_opts *so, henn_paillier_sk *sk,
                           unsigned key_flags, const char *fingerprint);

/* Another protocol's resumable run (henn lr train --session-file F,
 * --resume): cli_svc_save_extra rewrites F (0600, atomically) with the
 * URL, session, token and the members of extra (the caller's: its key,
 * "protocol", fingerprint); nothing without --session-file.
 * cli_svc_resume_extra reads F back, checks its URL, its "protocol" and
 * that it has key_member, and reattaches to the session; *j: F's JSON
 * (json_decref it; wipe the key's text). Both print their reason on
 * failure; *c is NULL then. */
int cli_svc_save_extra(const cli_svc_opts *so, henn_svc_client *c, json_t *extra);
int cli_svc_resume_extra(henn_svc_client **c, json_t **j, const cli_svc_opts *so,
                         const char *protocol, const char *key_member);

/* cli_svc_model: the session's result as a model (kdd-private). */
int cli_svc_model(henn_nn_model *m, henn_svc_client *c);

/* cli_svc_close: delete the session (best effort) and free c. */
void cli_svc_close(henn_svc_client *c);

#endif
