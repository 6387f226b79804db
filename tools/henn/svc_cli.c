/* The client side of `henn ... --server URL` (svc_cli.h, docs/SERVICE.md). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "henn/henn.h"
#include "svc_cli.h"

const char cli_svc_usage[] =
    "  --server URL        run the service's side on a henn server (henn serve):\n"
    "                      https://HOST:PORT, or http:// on loopback\n"
    "  --token F           file holding the server's token for creating sessions\n"
    "  --ca F              PEM CA bundle (or the server's self-signed certificate)\n"
    "  --insecure-http     allow plain http:// to a host that is not loopback\n"
    "  --session-file F    write the server URL, session id and token to F (0600)\n";

int cli_svc_is_option(const char *a)
{
    return strcmp(a, "--insecure-http") == 0 || strcmp(a, "--server") == 0 ||
           strcmp(a, "--token") == 0 || strcmp(a, "--ca") == 0 ||
           strcmp(a, "--session-file") == 0;
}

int cli_svc_parse(cli_svc_opts *so, const char *a, const char *v)
{
    if (strcmp(a, "--insecure-http") == 0) {
        so->insecure_http = 1;
        return 1;
    }
    if (strcmp(a, "--server") != 0 && strcmp(a, "--token") != 0 && strcmp(a, "--ca") != 0 &&
        strcmp(a, "--session-file") != 0)
        return 0;
    if (v == NULL) {
        fprintf(stderr, "henn: %s needs a value\n", a);
        return -1;
    }
    if (strcmp(a, "--server") == 0)
        so->server = v;
    else if (strcmp(a, "--token") == 0)
        so->token_file = v;
    else if (strcmp(a, "--ca") == 0)
        so->ca_file = v;
    else
        so->session_file = v;
    return 2;
}

/* The first line of the token file, trimmed; NULL and a message on error. */
static char *read_token(const char *path)
{
    char *buf = NULL, *tok = NULL;
    size_t len = 0, a = 0, b;
    int rc = cli_read_file(&buf, &len, path);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read the token file %s: %s\n", path, henn_strerror(rc));
        return NULL;
    }
    while (a < len && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r' || buf[a] == '\n'))
        a++;
    for (b = a; b < len && buf[b] != '\n' && buf[b] != '\r' && buf[b] != ' ' && buf[b] != '\t';)
        b++;
    if (b == a)
        fprintf(stderr, "henn: the token file %s is empty\n", path);
    else if ((tok = malloc(b - a + 1)) != NULL) {
        memcpy(tok, buf + a, b - a);
        tok[b - a] = '\0';
    }
    henn_free(buf, len + 1);
    return tok;
}

/* Free what json_dumps returned (the CLI installs its own allocator). */
static void json_text_free(char *text)
{
    json_malloc_t jm;
    json_free_t jf;
    json_get_alloc_funcs(&jm, &jf);
    if (text)
        jf(text);
}

static int write_atomic(const char *path, const char *text, size_t len);
static size_t remove_stale_temps(const char *path);

static int write_session_file(const cli_svc_opts *so, henn_svc_client *c)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "url", so->server, "session",
                          henn_svc_client_session(c), "token", henn_svc_client_token(c));
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    int rc = text ? write_atomic(so->session_file, text, strlen(text)) : HENN_ENOMEM;
    if (text) {
        henn_memzero(text, strlen(text));
        json_text_free(text);
    }
    json_decref(j);
    if (rc != 0)
        fprintf(stderr, "henn: cannot write the session file %s: %s\n", so->session_file,
                henn_strerror(rc));
    return rc;
}

int cli_svc_open(henn_svc_client **c, const cli_svc_opts *so, const char *protocol,
                 const char *config_json)
{
    henn_svc_client_opts co;
    char *token = NULL;
    int rc;

    *c = NULL;
    if (so->session_file != NULL)
        (void)remove_stale_temps(so->session_file);
    memset(&co, 0, sizeof(co));
    if (so->token_file != NULL && (token = read_token(so->token_file)) == NULL)
        return HENN_EINVAL;
    co.url = so->server;
    co.server_token = token;
    co.ca_file = so->ca_file;
    co.retry_s = so->retry_s;
    co.allow_insecure_http = so->insecure_http;
    rc = henn_svc_client_create(c, &co, protocol, config_json);
    if (token) {
        henn_memzero(token, strlen(token));
        free(token);
    }
    if (rc != 0) {
        const char *why = henn_svc_client_error(*c);
        fprintf(stderr, "henn: server %s: cannot create a %s session: %s\n", so->server,
                protocol, why && *why ? why : henn_strerror(rc));
        henn_svc_client_free(*c);
        *c = NULL;
        return rc;
    }
    if (so->session_file != NULL && (rc = write_session_file(so, *c)) != 0) {
        cli_svc_close(*c);
        *c = NULL;
    }
    return rc;
}

/* The model as base64 of henn_nn_model_serialize into j[key]. */
static int put_model(json_t *j, const char *key, const henn_nn_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0, b64len;
    char *b64;
    int rc = henn_nn_model_serialize(&buf, &len, m);
    if (rc != 0)
        return rc;
    b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    if ((b64 = malloc(b64len)) == NULL) {
        free(buf);
        return HENN_ENOMEM;
    }
    sodium_bin2base64(b64, b64len, buf, len, sodium_base64_VARIANT_ORIGINAL);
    free(buf);
    rc = json_object_set_new(j, key, json_string(b64)) == 0 ? 0 : HENN_ENOMEM;
    free(b64);
    return rc;
}

static int open_json(henn_svc_client **c, const cli_svc_opts *so, const char *protocol,
                     json_t *cfg)
{
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    int rc = text ? cli_svc_open(c, so, protocol, text) : HENN_ENOMEM;
    json_text_free(text);
    return rc;
}

int cli_svc_open_kdd_private(henn_svc_client **c, const cli_svc_opts *so,
                             const henn_nn_model *init, const henn_nn_opts *nno, size_t bits)
{
    json_t *cfg = json_object(), *nn = json_object();
    int rc = cfg && nn ? put_model(cfg, "model", init) : HENN_ENOMEM;
    *c = NULL;
    if (rc == 0) {
        json_object_set_new(nn, "optimizer",
                            json_string(nno->optimizer == HENN_NN_ADAM ? "adam" : "sgd"));
        json_object_set_new(nn, "lr", json_real((double)nno->lr));
        json_object_set_new(nn, "momentum", json_real((double)nno->momentum));
        json_object_set_new(nn, "beta1", json_real((double)nno->beta1));
        json_object_set_new(nn, "beta2", json_real((double)nno->beta2));
        json_object_set_new(nn, "eps", json_real((double)nno->eps));
        json_object_set(cfg, "nn", nn);
        if (bits > 4096) /* the server's default largest key */
            json_object_set_new(cfg, "max_key_bits", json_integer((json_int_t)bits));
        rc = open_json(c, so, "kdd-private", cfg);
    }
    json_decref(nn);
    json_decref(cfg);
    return rc;
}

/* The name of a temporary copy of F: F TEMP_SUFFIX and the 6 characters
 * mkstemp replaces (letters and digits). */
#define TEMP_SUFFIX ".henn-tmp-"
#define TEMP_RANDOM 6

/* path's text replaced atomically: a new file beside it (mkstemp of
 * path TEMP_SUFFIX XXXXXX: 0600, O_EXCL), locked (flock) while it
 * exists, written and fsync'ed, renamed over path, the directory
 * fsync'ed. A kill at any point leaves the old file or the new one, and
 * perhaps the temporary (then unlocked), which remove_stale_temps
 * removes at the next start. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    size_t plen = strlen(path), tlen = plen + sizeof(TEMP_SUFFIX) - 1 + TEMP_RANDOM;
    char *tmp = malloc(tlen + 1), *dir, *slash;
    int fd, rc = 0;
    if (tmp == NULL)
        return HENN_ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, TEMP_SUFFIX "XXXXXX", sizeof(TEMP_SUFFIX) - 1 + TEMP_RANDOM + 1);
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return HENN_EIO;
    }
    /* held until close: a concurrent start leaves a live temporary alone */
    if (flock(fd, LOCK_EX) != 0 || fchmod(fd, 0600) != 0)
        rc = HENN_EIO;
    while (rc == 0 && len > 0) {
        ssize_t w = write(fd, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = HENN_EIO;
        else {
            text += w;
            len -= (size_t)w;
        }
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = HENN_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = HENN_EIO;
    if (rc != 0)
        unlink(tmp);
    if (close(fd) != 0 && rc == 0)
        rc = HENN_EIO;
    /* the rename itself made durable */
    memcpy(tmp, path, plen + 1);
    slash = strrchr(tmp, '/');
    dir = slash == NULL ? "." : slash == tmp ? "/" : (*slash = '\0', tmp);
    if (rc == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(fd) != 0)
            rc = HENN_EIO;
        close(fd);
    }
    free(tmp);
    return rc;
}

/* Is name base TEMP_SUFFIX and TEMP_RANDOM letters or digits (a
 * temporary copy of the file named base)? */
static int is_temp_of(const char *name, const char *base)
{
    size_t blen = strlen(base), slen = sizeof(TEMP_SUFFIX) - 1, i;
    if (strlen(name) != blen + slen + TEMP_RANDOM || strncmp(name, base, blen) != 0 ||
        strncmp(name + blen, TEMP_SUFFIX, slen) != 0)
        return 0;
    for (i = blen + slen; name[i] != '\0'; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

/* Remove the temporary copies of path (path TEMP_SUFFIX XXXXXX, see
 * write_atomic) that an earlier run killed between writing and renaming
 * left beside it: each holds the session's token and perhaps the secret
 * key. Only a regular file (not a symlink, checked on the open file
 * too), owned by our effective user and not locked (a live writer holds
 * its lock until the rename) is unlinked; nothing else in the directory
 * is touched, and no file is overwritten (a hard link's other names keep
 * their data). Best effort: a directory that cannot be read is left. The
 * number removed, each named on stderr. */
static size_t remove_stale_temps(const char *path)
{
    char *dir = strdup(path), *slash;
    const char *base;
    DIR *d;
    struct dirent *e;
    size_t removed = 0;
    if (dir == NULL)
        return 0;
    slash = strrchr(dir, '/');
    base = slash == NULL ? path : path + (slash - dir) + 1;
    if (slash != NULL)
        slash[slash == dir ? 1 : 0] = '\0'; /* "/F": the root */
    if (*base == '\0' || (d = opendir(slash == NULL ? "." : dir)) == NULL) {
        free(dir);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat a, b;
        int fd;
        if (!is_temp_of(e->d_name, base))
            continue;
        if (fstatat(dirfd(d), e->d_name, &a, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(a.st_mode) ||
            a.st_uid != geteuid())
            continue;
        fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &b) == 0 && S_ISREG(b.st_mode) && b.st_uid == geteuid() &&
            b.st_dev == a.st_dev && b.st_ino == a.st_ino && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            fstatat(dirfd(d), e->d_name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
            unlinkat(dirfd(d), e->d_name, 0) == 0) {
            removed++;
            fprintf(stderr,
                    "henn: removed %s%s%s, a temporary copy of the session file that a killed "
                    "run left\n",
                    slash == NULL ? "" : dir, slash == NULL || slash == dir ? "" : "/",
                    e->d_name);
        }
        close(fd);
    }
    closedir(d);
    free(dir);
    return removed;
}

/* The session file (0600, atomic) with the owner's secret key: url,
 * session, token, key, and the members of extra (protocol, job, ...). */
static int save_with_key(const cli_svc_opts *so, henn_svc_client *c, const henn_paillier_sk *sk,
                         json_t *extra)
{
    char *key = NULL, *text = NULL;
    size_t key_len = 0;
    json_t *j = NULL, *kj = NULL;
    int rc;
    if (so->session_file == NULL)
        return 0;
    rc = henn_paillier_sk_to_json(&key, &key_len, sk, NULL);
    if (rc == 0 && (kj = json_loadb(key, key_len, 0, NULL)) == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0 && ((j = json_pack("{s:s, s:s, s:s, s:O}", "url", so->server, "session",
                                   henn_svc_client_session(c), "token",
                                   henn_svc_client_token(c), "key", kj)) == NULL ||
                    json_object_update(j, extra) != 0))
        rc = HENN_ENOMEM;
    text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (rc == 0)
        rc = text ? write_atomic(so->session_file, text, strlen(text)) : HENN_ENOMEM;
    if (text) {
        henn_memzero(text, strlen(text));
        json_text_free(text);
    }
    /* the parsed key's strings (the primes) */
    if (kj != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(kj, k, v)
        {
            if (json_is_string(v))
                henn_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
        }
    }
    json_decref(j);
    json_decref(kj);
    henn_free(key, key_len);
    if (rc != 0)
        fprintf(stderr, "henn: cannot write the session file %s: %s\n", so->session_file,
                henn_strerror(rc));
    return rc;
}

int cli_svc_save_job(const cli_svc_opts *so, henn_svc_client *c, uint64_t jid,
                     const henn_paillier_sk *sk, const henn_svc_answers *answers)
{
    json_t *extra = json_pack("{s:s, s:I}", "protocol", "kdd-published", "job", (json_int_t)jid);
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    int rc = extra != NULL ? 0 : HENN_ENOMEM;
    if (so->session_file == NULL) {
        json_decref(extra);
        return 0;
    }
    if (rc == 0 && answers != NULL) {
        /* the owner's record: the used budget and the last answers */
        rc = henn_svc_answers_serialize(&rec, &rec_len, answers);
        if (rc == 0) {
            size_t b64len = sodium_base64_encoded_len(rec_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(b64len);
            if (b64 == NULL)
                rc = HENN_ENOMEM;
            else {
                sodium_bin2base64(b64, b64len, rec, rec_len, sodium_base64_VARIANT_ORIGINAL);
                if (json_object_set_new(extra, "answers", json_string(b64)) != 0 ||
                    json_object_set_new(extra, "decrypted",
                                        json_integer((json_int_t)henn_svc_answers_decrypted(
                                            answers))) != 0)
                    rc = HENN_ENOMEM;
                henn_free(b64, b64len);
            }
        }
    }
    if (rc == 0)
        rc = save_with_key(so, c, sk, extra);
    if (rec != NULL)
        henn_free(rec, rec_len);
    {
        json_t *a = json_object_get(extra, "answers");
        if (json_is_string(a))
            henn_memzero((void *)(uintptr_t)json_string_value(a), json_string_length(a));
    }
    json_decref(extra);
    return rc;
}

int cli_svc_save_private(const cli_svc_opts *so, henn_svc_client *c, const henn_paillier_sk *sk,
                         const char *fingerprint)
{
    json_t *extra = json_pack("{s:s, s:s}", "protocol", "kdd-private", "fingerprint",
                              fingerprint);
    int rc = extra != NULL ? save_with_key(so, c, sk, extra) : HENN_ENOMEM;
    json_decref(extra);
    return rc;
}

/* A session file that others may read or write (through a link too): it
 * holds the session's token, and the owner's secret key where the
 * protocol needs one. Said on stderr (mode only, nothing of the
 * contents); the run goes on, as F is the owner's to fix. */
static void warn_exposed(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0)
        fprintf(stderr,
                "henn: warning: the session file %s has mode %04o: other users may read "
                "its token and keys (chmod 600 it)\n",
                path, (unsigned)(st.st_mode & 07777));
}

/* Read the session file, check its URL, protocol and key member (the
 * Paillier key "key", or key_member of another kind), load its Paillier
 * key when sk is not NULL and reattach to its session; *jp the file's
 * JSON (the caller's). */
static int resume_session(henn_svc_client **c, json_t **jp, const cli_svc_opts *so,
                          henn_paillier_sk *sk, unsigned key_flags, const char *protocol,
                          const char *key_member)
{
    henn_svc_client_opts co;
    char *buf = NULL, *key = NULL;
    size_t len = 0;
    json_t *j = NULL;
    const char *url, *session, *token, *proto;
    int rc;

    *c = NULL;
    *jp = NULL;
    (void)remove_stale_temps(so->session_file);
    warn_exposed(so->session_file);
    rc = cli_read_file(&buf, &len, so->session_file);
    if (rc == 0 && (j = json_loadb(buf, len, 0, NULL)) == NULL)
        rc = HENN_EFORMAT;
    url = json_string_value(json_object_get(j, "url"));
    session = json_string_value(json_object_get(j, "session"));
    token = json_string_value(json_object_get(j, "token"));
    proto = json_string_value(json_object_get(j, "protocol"));
    if (proto == NULL && json_integer_value(json_object_get(j, "job")) >= 1)
        proto = "kdd-published"; /* a file of an older client */
    if (rc == 0 && (url == NULL || session == NULL || token == NULL ||
                    (sk != NULL && !json_is_object(json_object_get(j, "key"))) ||
                    (sk == NULL && json_object_get(j, key_member) == NULL) ||
                    (strcmp(protocol, "kdd-published") == 0 &&
                     json_integer_value(json_object_get(j, "job")) < 1))) {
        fprintf(stderr, "henn: --resume: %s holds no started %s (the run stopped before it "
                        "started: run it again without --resume)\n",
                so->session_file,
                strcmp(protocol, "kdd-published") == 0 ? "job" : "training");
        rc = HENN_EINVAL;
    } else if (rc == 0 && (proto == NULL || strcmp(proto, protocol) != 0)) {
        fprintf(stderr, "henn: --resume: %s is a %s session, not %s (--protocol)\n",
                so->session_file, proto ? proto : "unknown", protocol);
        rc = HENN_EINVAL;
    } else if (rc == 0 && strcmp(url, so->server) != 0) {
        fprintf(stderr, "henn: --resume: %s is a session on %s, not on %s\n", so->session_file,
                url, so->server);
        rc = HENN_EINVAL;
    } else if (rc != 0) {
        fprintf(stderr, "henn: --resume: cannot read the session file %s: %s\n",
                so->session_file, henn_strerror(rc));
    }
    if (rc == 0 && sk != NULL) {
        key = json_dumps(json_object_get(j, "key"), JSON_COMPACT);
        rc = key ? henn_paillier_sk_from_json(sk, key, strlen(key), key_flags) : HENN_ENOMEM;
        if (rc != 0)
            fprintf(stderr, "henn: --resume: the key in %s: %s\n", so->session_file,
                    henn_strerror(rc));
    }
    if (rc == 0) {
        memset(&co, 0, sizeof(co));
        co.url = so->server;
        co.ca_file = so->ca_file;
        co.retry_s = so->retry_s;
        co.allow_insecure_http = so->insecure_http;
        rc = henn_svc_client_resume(c, &co, session, token);
        if (rc != 0) {
            const char *why = henn_svc_client_error(*c);
            fprintf(stderr, "henn: server %s: cannot resume the session: %s\n", so->server,
                    why && *why ? why : henn_strerror(rc));
            henn_svc_client_free(*c);
            *c = NULL;
        }
    }
    if (key) {
        henn_memzero(key, strlen(key));
        json_text_free(key);
    }
    if (buf)
        henn_free(buf, len + 1);
    if (rc == 0)
        *jp = j;
    else
        json_decref(j);
    return rc;
}

static int resume_with_key(henn_svc_client **c, json_t **jp, const cli_svc_opts *so,
                           henn_paillier_sk *sk, unsigned key_flags, const char *protocol)
{
    return resume_session(c, jp, so, sk, key_flags, protocol, "key");
}

int cli_svc_save_extra(const cli_svc_opts *so, henn_svc_client *c, json_t *extra)
{
    json_t *j;
    char *text = NULL;
    int rc;
    if (so->session_file == NULL)
        return 0;
    j = json_pack("{s:s, s:s, s:s}", "url", so->server, "session", henn_svc_client_session(c),
                  "token", henn_svc_client_token(c));
    rc = j != NULL && json_object_update(j, extra) == 0 ? 0 : HENN_ENOMEM;
    if (rc == 0 && (text = json_dumps(j, JSON_INDENT(2))) == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0)
        rc = write_atomic(so->session_file, text, strlen(text));
    if (text) {
        henn_memzero(text, strlen(text));
        json_text_free(text);
    }
    json_decref(j);
    if (rc != 0)
        fprintf(stderr, "henn: cannot write the session file %s: %s\n", so->session_file,
                henn_strerror(rc));
    return rc;
}

int cli_svc_resume_extra(henn_svc_client **c, json_t **j, const cli_svc_opts *so,
                         const char *protocol, const char *key_member)
{
    return resume_session(c, j, so, NULL, 0, protocol, key_member);
}

int cli_svc_resume_job(henn_svc_client **c, const cli_svc_opts *so, uint64_t *jid,
                       henn_paillier_sk *sk, unsigned key_flags, henn_svc_answers **answers)
{
    json_t *j = NULL;
    const char *rec;
    int rc = resume_with_key(c, &j, so, sk, key_flags, "kdd-published");
    *jid = 0;
    *answers = NULL;
    if (rc != 0)
        return rc;
    *jid = (uint64_t)json_integer_value(json_object_get(j, "job"));
    if ((rec = json_string_value(json_object_get(j, "answers"))) != NULL) {
        size_t n = strlen(rec), cap = n / 4 * 3 + 3, bin_len = 0;
        uint8_t *bin = malloc(cap);
        rc = bin == NULL ? HENN_ENOMEM
             : sodium_base642bin(bin, cap, rec, n, NULL, &bin_len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) != 0
                 ? HENN_EFORMAT
                 : henn_svc_answers_deserialize(answers, bin, bin_len);
        if (bin != NULL)
            henn_free(bin, cap);
        henn_memzero((void *)(uintptr_t)rec, n);
        if (rc != 0)
            fprintf(stderr, "henn: --resume: the owner's record in %s: %s\n", so->session_file,
                    henn_strerror(rc));
    }
    json_decref(j);
    if (rc != 0) {
        henn_svc_client_free(*c);
        *c = NULL;
    }
    return rc;
}

int cli_svc_resume_private(henn_svc_client **c, const cli_svc_opts *so, henn_paillier_sk *sk,
                           unsigned key_flags, const char *fingerprint)
{
    json_t *j = NULL;
    const char *fp;
    int rc = resume_with_key(c, &j, so, sk, key_flags, "kdd-private");
    if (rc != 0)
        return rc;
    fp = json_string_value(json_object_get(j, "fingerprint"));
    if (fp == NULL || strcmp(fp, fingerprint) != 0) {
        fprintf(stderr, "henn: --resume: %s was a run on other data or options (rows, "
                        "features, batch, epochs, seed, model): run the same command again\n",
                so->session_file);
        henn_svc_client_free(*c);
        *c = NULL;
        rc = HENN_EINVAL;
    }
    json_decref(j);
    return rc;
}

int cli_svc_open_kdd_published(henn_svc_client **c, const cli_svc_opts *so,
                               const henn_nn_model *init, const henn_nn_opts *nno, size_t bits)
{
    json_t *cfg = json_object(), *nn = json_object();
    int rc = cfg && nn ? put_model(cfg, "model", init) : HENN_ENOMEM;
    *c = NULL;
    if (rc == 0) {
        json_object_set_new(nn, "optimizer",
                            json_string(nno->optimizer == HENN_NN_ADAM ? "adam" : "sgd"));
        json_object_set_new(nn, "lr", json_real((double)nno->lr));
        json_object_set_new(nn, "momentum", json_real((double)nno->momentum));
        json_object_set_new(nn, "beta1", json_real((double)nno->beta1));
        json_object_set_new(nn, "beta2", json_real((double)nno->beta2));
        json_object_set_new(nn, "eps", json_real((double)nno->eps));
        json_object_set(cfg, "nn", nn);
        json_object_set_new(cfg, "release_model", json_true());
        if (bits > 4096)
            json_object_set_new(cfg, "max_key_bits", json_integer((json_int_t)bits));
        rc = open_json(c, so, "kdd-published", cfg);
    }
    json_decref(nn);
    json_decref(cfg);
    return rc;
}

int cli_svc_open_kdd_infer(henn_svc_client **c, const cli_svc_opts *so, const henn_nn_model *m,
                           size_t bits)
{
    json_t *cfg = json_object();
    int rc = cfg ? put_model(cfg, "model", m) : HENN_ENOMEM;
    *c = NULL;
    if (rc == 0 && bits > 4096)
        json_object_set_new(cfg, "max_key_bits", json_integer((json_int_t)bits));
    if (rc == 0)
        rc = open_json(c, so, "kdd-infer", cfg);
    json_decref(cfg);
    return rc;
}

int cli_svc_model(henn_nn_model *m, henn_svc_client *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = henn_svc_client_result(c, &buf, &len);
    if (rc != 0) {
        fprintf(stderr, "henn: server: cannot download the model: %s\n",
                *henn_svc_client_error(c) ? henn_svc_client_error(c) : henn_strerror(rc));
        return rc;
    }
    rc = henn_nn_model_deserialize(m, buf, len);
    free(buf);
    if (rc != 0)
        cli_error("the server's model", rc);
    return rc;
}

void cli_svc_close(henn_svc_client *c)
{
    if (c != NULL && henn_svc_client_delete(c) != 0) {
        /* the session expires on the server (session_ttl_s) */
    }
    henn_svc_client_free(c);
}
