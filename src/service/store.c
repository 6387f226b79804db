/*
 * The service's persistent store: one SQLite database (DATA_DIR/henn.db)
 * in write-ahead-logging mode with synchronous=NORMAL. A commit writes
 * its WAL frames with write(2) before it returns (and so before the
 * response leaves), so a committed message survives kill -9 or any other
 * crash of the server process: the frames are in the kernel's page cache
 * and the next open reads them. The WAL is fsynced only when it is
 * checkpointed into the database file, not at each commit: after a power
 * loss or an operating-system crash the database is intact (never
 * corrupt) but may have rolled back the messages committed since the last
 * checkpoint (at most about 4 MB of WAL). synchronous=FULL, which fsyncs
 * at every commit, cost 2-11 ms of disk flush per protocol message on the
 * shared VM, on the critical path of every exchange (measured with
 * strace -T: docs/SERVICE.md "Durability"); it is the opt-in `durable`
 * (henn serve --durable), for deployments that must keep every answered
 * message across a power loss. Tables:
 *  schema_version(version)            one row, HENN_SVC_SCHEMA
 *  sessions(id, token_hash, protocol, config, seq, bytes, created,
 *           touched, last_resp, state, job)  one row per session; state:
 *                                     the party's snapshot after its last
 *                                     job (a model), job: that job's record
 *                                     (JSON); both NULL without jobs;
 *                                     last_resp: NULL since version 3
 *  log(session, seq, req)             the state-changing requests
 *  last(session, resp)                the response to the session's last
 *                                     message (a retry's answer)
 * The last response has a table of its own (version 3): a message's
 * commit then rewrites only that row and the session's fixed-size row in
 * place, not the config and the response together (in the session's row
 * every commit rewrote the whole record, config included, and
 * secure_delete zeroed its old overflow pages): docs/SERVICE.md
 * "Overhead and load", seventh session. Version 1 (no jobs) and 2 (the
 * response in sessions.last_resp) are migrated at open.
 * Tokens are stored only as hashes. secure_delete overwrites deleted rows
 * with zeros. One connection, used under one mutex (transactions are
 * short: the homomorphic work happens outside).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/svc_internal.h"

#define HENN_SVC_SCHEMA 3

enum {
    Q_CREATE,
    Q_LOAD,
    Q_REPLAY,
    Q_LAST,
    Q_LOG,
    Q_UPDATE,
    Q_SET_LAST,
    Q_DEL_LOG,
    Q_DEL_LAST,
    Q_DEL_SESSION,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SET_JOB,
    Q_SET_STATE,
    Q_GET_STATE,
    Q_COUNT
};

static const char *const SQL[Q_COUNT] = {
    "INSERT INTO sessions(id, token_hash, protocol, config, seq, bytes, created, touched) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT id, token_hash, protocol, config, seq, bytes, created, touched, "
    "(SELECT length(resp) FROM last WHERE last.session = sessions.id), job FROM sessions",
    "SELECT seq, req FROM log WHERE session = ?1 AND seq > ?2 ORDER BY seq LIMIT 1",
    "SELECT resp FROM last WHERE session = ?1",
    "INSERT INTO log(session, seq, req) VALUES(?1, ?2, ?3)",
    "UPDATE sessions SET seq = ?2, bytes = ?3, touched = ?4 WHERE id = ?1",
    "INSERT INTO last(session, resp) VALUES(?1, ?2) "
    "ON CONFLICT(session) DO UPDATE SET resp = excluded.resp",
    "DELETE FROM log WHERE session = ?1",
    "DELETE FROM last WHERE session = ?1",
    "DELETE FROM sessions WHERE id = ?1",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "UPDATE sessions SET job = ?2 WHERE id = ?1",
    "UPDATE sessions SET job = ?2, state = ?3 WHERE id = ?1",
    "SELECT state FROM sessions WHERE id = ?1",
};

struct henn__svc_store {
    int lock_fd; /* DATA_DIR/henn.lock, flock()ed: one server per directory */
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    pthread_mutex_t lock;
    FILE *log;
};

static int db_error(henn__svc_store *st, const char *what)
{
    if (st->log != NULL)
        fprintf(st->log, "henn serve: database: %s: %s\n", what,
                st->db != NULL ? sqlite3_errmsg(st->db) : "cannot open");
    return HENN_EIO;
}

static int exec(henn__svc_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        if (st->log != NULL)
            fprintf(st->log, "henn serve: database: %s\n", msg != NULL ? msg : "error");
        sqlite3_free(msg);
        return HENN_EIO;
    }
    return 0;
}

static int schema(henn__svc_store *st)
{
    sqlite3_stmt *q = NULL;
    int rc, version = -1;

    rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, token_hash BLOB NOT "
                  "NULL, protocol TEXT NOT NULL, config TEXT NOT NULL, seq INTEGER NOT NULL, "
                  "bytes INTEGER NOT NULL, created INTEGER NOT NULL, touched INTEGER NOT NULL, "
                  "last_resp BLOB, state BLOB, job TEXT);"
                  "CREATE TABLE IF NOT EXISTS log(session TEXT NOT NULL, seq INTEGER NOT NULL, "
                  "req BLOB NOT NULL, PRIMARY KEY(session, seq));"
                  "CREATE TABLE IF NOT EXISTS last(session TEXT PRIMARY KEY, resp BLOB);");
    if (rc != 0)
        return rc;
    if (sqlite3_prepare_v2(st->db, "SELECT version FROM schema_version", -1, &q, NULL) !=
        SQLITE_OK)
        return db_error(st, "schema");
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, "schema");
    if (version < 0)
        return exec(st, "INSERT INTO schema_version(version) VALUES(3)");
    if (version == 1) { /* version 1 had no jobs */
        rc = exec(st, "BEGIN; ALTER TABLE sessions ADD COLUMN state BLOB; "
                      "ALTER TABLE sessions ADD COLUMN job TEXT; "
                      "UPDATE schema_version SET version = 2; COMMIT;");
        if (rc != 0)
            return rc;
        version = 2;
    }
    if (version == 2) /* version 2 kept the last response in the session's row */
        return exec(st, "BEGIN; INSERT INTO last(session, resp) SELECT id, last_resp FROM "
                        "sessions WHERE last_resp IS NOT NULL; "
                        "UPDATE sessions SET last_resp = NULL; "
                        "UPDATE schema_version SET version = 3; COMMIT;");
    if (version != HENN_SVC_SCHEMA) {
        if (st->log != NULL)
            fprintf(st->log, "henn serve: database schema version %d, this build reads %d\n",
                    version, HENN_SVC_SCHEMA);
        return HENN_EIO;
    }
    return 0;
}

int henn__svc_store_open(henn__svc_store **out, const char *dir, int durable, FILE *log)
{
    henn__svc_store *st;
    char *path;
    size_t i, n;
    int rc = 0;

    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        if (log != NULL)
            fprintf(log, "henn serve: cannot create %s: %s\n", dir, strerror(errno));
        return HENN_EIO;
    }
    st = calloc(1, sizeof(*st));
    n = strlen(dir) + sizeof("/henn.lock");
    path = malloc(n);
    if (st == NULL || path == NULL) {
        free(st);
        free(path);
        return HENN_ENOMEM;
    }
    st->lock_fd = -1;
    st->log = log;
    pthread_mutex_init(&st->lock, NULL);
    /* Two servers on one directory would each hold the sessions in
     * memory and answer differently: the second is refused. */
    snprintf(path, n, "%s/henn.lock", dir);
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (log != NULL)
            fprintf(log, "henn serve: %s is in use by another server (or cannot be locked)\n",
                    dir);
        free(path);
        henn__svc_store_close(st);
        return HENN_EIO;
    }
    snprintf(path, n, "%s/henn.db", dir);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK)
        rc = db_error(st, path);
    if (rc == 0)
        chmod(path, 0600); /* the WAL and shared-memory files inherit it */
    free(path);
    if (rc == 0)
        sqlite3_busy_timeout(st->db, 10000);
    if (rc == 0)
        rc = exec(st, durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;");
    if (rc == 0)
        rc = schema(st);
    for (i = 0; i < Q_COUNT && rc == 0; i++)
        if (sqlite3_prepare_v2(st->db, SQL[i], -1, &st->q[i], NULL) != SQLITE_OK)
            rc = db_error(st, "prepare");
    if (rc != 0) {
        henn__svc_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int henn__svc_store_synchronous(henn__svc_store *st)
{
    sqlite3_stmt *q = NULL;
    int v = -1;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "PRAGMA synchronous", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return v;
}

void henn__svc_store_close(henn__svc_store *st)
{
    size_t i;
    if (st == NULL)
        return;
    for (i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static sqlite3_stmt *stmt(henn__svc_store *st, int k)
{
    sqlite3_reset(st->q[k]);
    sqlite3_clear_bindings(st->q[k]);
    return st->q[k];
}

/* Bind a blob (SQLite copies it; a zero-length blob is stored as such). */
static int bind_blob(sqlite3_stmt *q, int i, const uint8_t *b, size_t len)
{
    if (len > (size_t)0x7fffffff)
        return SQLITE_TOOBIG;
    if (b == NULL)
        return sqlite3_bind_zeroblob(q, i, 0);
    return sqlite3_bind_blob(q, i, b, (int)len, SQLITE_TRANSIENT);
}

int henn__svc_store_create(henn__svc_store *st, const henn__svc_row *r)
{
    sqlite3_stmt *q;
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    q = stmt(st, Q_CREATE);
    if (sqlite3_bind_text(q, 1, r->id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        bind_blob(q, 2, r->token_hash, sizeof(r->token_hash)) != SQLITE_OK ||
        sqlite3_bind_text(q, 3, r->protocol, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(q, 4, r->config, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(q, 5, (sqlite3_int64)r->seq) != SQLITE_OK ||
        sqlite3_bind_int64(q, 6, (sqlite3_int64)r->bytes) != SQLITE_OK ||
        sqlite3_bind_int64(q, 7, r->created) != SQLITE_OK ||
        sqlite3_bind_int64(q, 8, r->touched) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "create session");
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_load(henn__svc_store *st, int (*fn)(void *user, henn__svc_row *r),
                         void *user)
{
    sqlite3_stmt *q;
    int rc = 0, s;
    pthread_mutex_lock(&st->lock);
    q = stmt(st, Q_LOAD);
    while (rc == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
        henn__svc_row r;
        const char *id = (const char *)sqlite3_column_text(q, 0);
        const char *proto = (const char *)sqlite3_column_text(q, 2);
        const char *cfg = (const char *)sqlite3_column_text(q, 3);
        memset(&r, 0, sizeof(r));
        if (id == NULL || proto == NULL || cfg == NULL || strlen(id) != 32 ||
            strlen(proto) >= sizeof(r.protocol) ||
            sqlite3_column_bytes(q, 1) != (int)sizeof(r.token_hash)) {
            rc = db_error(st, "a malformed session row");
            break;
        }
        memcpy(r.id, id, 33);
        memcpy(r.token_hash, sqlite3_column_blob(q, 1), sizeof(r.token_hash));
        memcpy(r.protocol, proto, strlen(proto) + 1);
        r.config = strdup(cfg);
        r.seq = (uint64_t)sqlite3_column_int64(q, 4);
        r.bytes = (uint64_t)sqlite3_column_int64(q, 5);
        r.created = sqlite3_column_int64(q, 6);
        r.touched = sqlite3_column_int64(q, 7);
        r.last_len = (uint64_t)sqlite3_column_int64(q, 8);
        if (sqlite3_column_type(q, 9) == SQLITE_TEXT &&
            (r.job = strdup((const char *)sqlite3_column_text(q, 9))) == NULL) {
            free(r.config);
            rc = HENN_ENOMEM;
            break;
        }
        if (r.config == NULL) {
            /* The job record holds the job's secret seed: wiped. */
            if (r.job != NULL)
                henn_free(r.job, strlen(r.job) + 1);
            rc = HENN_ENOMEM;
            break;
        }
        rc = fn(user, &r); /* owns r.config and r.job (wipes r.job) */
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_error(st, "load sessions");
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_replay(henn__svc_store *st, const char *id,
                           int (*fn)(void *user, const uint8_t *req, size_t len), void *user)
{
    sqlite3_int64 after = -1;
    int rc = 0;
    /* One short query per logged request (no statement stays open while
     * the party handles it, so other sessions commit meanwhile). */
    while (rc == 0) {
        sqlite3_stmt *q;
        uint8_t *copy = NULL;
        size_t len = 0;
        int s;
        pthread_mutex_lock(&st->lock);
        q = stmt(st, Q_REPLAY);
        if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_int64(q, 2, after) != SQLITE_OK)
            rc = db_error(st, "replay");
        s = rc == 0 ? sqlite3_step(q) : SQLITE_ERROR;
        if (s == SQLITE_ROW) {
            const void *b = sqlite3_column_blob(q, 1);
            after = sqlite3_column_int64(q, 0);
            len = (size_t)sqlite3_column_bytes(q, 1);
            copy = malloc(len > 0 ? len : 1);
            if (copy == NULL)
                rc = HENN_ENOMEM;
            else if (len > 0)
                memcpy(copy, b, len);
        } else if (rc == 0 && s != SQLITE_DONE) {
            rc = db_error(st, "replay");
        }
        sqlite3_reset(q);
        pthread_mutex_unlock(&st->lock);
        if (s != SQLITE_ROW || rc != 0) {
            free(copy);
            break;
        }
        rc = fn(user, copy, len);
        free(copy);
    }
    return rc;
}

int henn__svc_store_last(henn__svc_store *st, const char *id, uint8_t **buf, size_t *len)
{
    sqlite3_stmt *q;
    int rc = 0;
    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&st->lock);
    q = stmt(st, Q_LAST);
    if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        rc = db_error(st, "last response");
    if (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        if (n > 0) {
            *buf = malloc(n);
            if (*buf == NULL)
                rc = HENN_ENOMEM;
            else
                memcpy(*buf, sqlite3_column_blob(q, 0), n);
            *len = rc == 0 ? n : 0;
        }
    } else if (rc == 0) {
        rc = db_error(st, "last response");
    }
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_commit(henn__svc_store *st, const char *id, uint64_t seq, const uint8_t *req,
                           size_t req_len, const uint8_t *resp, size_t resp_len, uint64_t bytes,
                           int64_t now)
{
    sqlite3_stmt *q;
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_step(stmt(st, Q_BEGIN)) != SQLITE_DONE)
        rc = db_error(st, "begin");
    if (rc == 0 && req != NULL) {
        q = stmt(st, Q_LOG);
        if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_int64(q, 2, (sqlite3_int64)seq) != SQLITE_OK ||
            bind_blob(q, 3, req, req_len) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE)
            rc = db_error(st, "log");
        sqlite3_reset(q);
    }
    if (rc == 0) {
        q = stmt(st, Q_UPDATE);
        if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_int64(q, 2, (sqlite3_int64)seq) != SQLITE_OK ||
            sqlite3_bind_int64(q, 3, (sqlite3_int64)bytes) != SQLITE_OK ||
            sqlite3_bind_int64(q, 4, now) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE ||
            sqlite3_changes(st->db) != 1)
            rc = db_error(st, "update session");
        sqlite3_reset(q);
    }
    if (rc == 0) {
        q = stmt(st, Q_SET_LAST);
        if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            bind_blob(q, 2, resp, resp_len) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE)
            rc = db_error(st, "last response");
        sqlite3_reset(q);
    }
    if (rc == 0 && sqlite3_step(stmt(st, Q_COMMIT)) != SQLITE_DONE)
        rc = db_error(st, "commit");
    if (rc != 0)
        sqlite3_step(stmt(st, Q_ROLLBACK));
    sqlite3_reset(st->q[Q_BEGIN]);
    sqlite3_reset(st->q[Q_COMMIT]);
    sqlite3_reset(st->q[Q_ROLLBACK]);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_set_job(henn__svc_store *st, const char *id, const char *job,
                            const uint8_t *state, size_t state_len, int with_state)
{
    sqlite3_stmt *q;
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    q = stmt(st, with_state ? Q_SET_STATE : Q_SET_JOB);
    if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(q, 2, job, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        (with_state && bind_blob(q, 3, state, state_len) != SQLITE_OK) ||
        sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "job");
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_state(henn__svc_store *st, const char *id, uint8_t **buf, size_t *len)
{
    sqlite3_stmt *q;
    int rc = 0;
    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&st->lock);
    q = stmt(st, Q_GET_STATE);
    if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        rc = db_error(st, "state");
    } else if (sqlite3_column_type(q, 0) == SQLITE_BLOB) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        *buf = malloc(n > 0 ? n : 1);
        if (*buf == NULL)
            rc = HENN_ENOMEM;
        else if (n > 0)
            memcpy(*buf, sqlite3_column_blob(q, 0), n);
        *len = rc == 0 ? n : 0;
    }
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int henn__svc_store_delete(henn__svc_store *st, const char *id)
{
    sqlite3_stmt *q;
    int rc = 0, k;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_step(stmt(st, Q_BEGIN)) != SQLITE_DONE)
        rc = db_error(st, "begin");
    for (k = Q_DEL_LOG; k <= Q_DEL_SESSION && rc == 0; k++) {
        q = stmt(st, k);
        if (sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_step(q) != SQLITE_DONE)
            rc = db_error(st, "delete session");
        sqlite3_reset(q);
    }
    if (rc == 0 && sqlite3_step(stmt(st, Q_COMMIT)) != SQLITE_DONE)
        rc = db_error(st, "commit");
    if (rc != 0)
        sqlite3_step(stmt(st, Q_ROLLBACK));
    sqlite3_reset(st->q[Q_BEGIN]);
    sqlite3_reset(st->q[Q_COMMIT]);
    sqlite3_reset(st->q[Q_ROLLBACK]);
    pthread_mutex_unlock(&st->lock);
    /* Move the wiped pages into the database file and empty the WAL, which
     * still held the deleted rows' frames. */
    if (rc == 0) {
        pthread_mutex_lock(&st->lock);
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        pthread_mutex_unlock(&st->lock);
    }
    return rc;
}
