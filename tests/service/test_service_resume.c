/* Mid-job durability of the published KDD protocol's training job
 * (kdd-published, src/service/jobs.c) and the owner's side of it
 * (henn_svc_answers):
 *  - test_reissue_attack: a trainer that sends a seq it sent before with
 *    other bytes (a faked restart with fresh masks) is refused, nothing
 *    decrypted; the byte-identical repeat of a seeded trainer is answered
 *    from the owner's record without touching its decryption budget.
 *  - test_kill9_job: kill -9 of a server process in the middle of an
 *    epoch, a restart on the same data directory: the job resumes at the
 *    checkpointed batch (its first request after the restart is the one
 *    the owner answered last, byte-identical, not seq 1), the owner
 *    decrypts no more than an uninterrupted run, and the per-epoch
 *    losses and the final model's bytes (the server's snapshot) equal the
 *    uninterrupted in-process run's.
 *  - test_release_config: kdd-published gives the owner no result unless
 *    the config says "release_model": true (a boolean or nothing).
 * Keys under 2048 bits through the test hooks only. */
#define _DEFAULT_SOURCE
#include "../test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"
#include "../private_rows.h"

void henn__svc_server_allow_insecure(henn_svc_server *s);
void henn__trainer_allow_insecure(henn_trainer *t);
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);

static henn_paillier_pk PK;
static henn_paillier_sk SK;

#define ROWS 100
#define DIM 6
#define HID 5
#define CLS 3
#define BATCH 16
#define EPOCHS 2
#define SEED 99

static float X[ROWS * DIM];
static uint8_t Y[ROWS];
static char TMPROOT[256];

static void make_data(void)
{
    private_rows(X, Y, ROWS, DIM, 4242UL);
}

static void params(henn_proto_params *p)
{
    private_params(p, &PK, DIM, BATCH);
}

static void make_model(henn_nn_model *m, henn_nn_opts *nn)
{
    size_t dims[3] = {DIM, HID, CLS};
    CHECK_OK(henn_nn_model_init(m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(nn);
    nn->lr = 0.05f; /* Adam: moments and step count are part of the checkpoint */
    nn->max_rows = BATCH;
}

/* The session config {"model": base64, "nn": {...}} as JSON text. */
static char *config_text(const henn_nn_model *m, const henn_nn_opts *nn)
{
    uint8_t *buf = NULL;
    size_t len = 0, n;
    char *b64, *out;
    json_t *cfg = json_object();
    CHECK_OK(henn_nn_model_serialize(&buf, &len, m));
    n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(n);
    sodium_bin2base64(b64, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(cfg, "model", json_string(b64));
    json_object_set_new(cfg, "nn",
                        json_pack("{s:s,s:f,s:f,s:f,s:f,s:f}", "optimizer", "adam", "lr",
                                  (double)nn->lr, "momentum", (double)nn->momentum, "beta1",
                                  (double)nn->beta1, "beta2", (double)nn->beta2, "eps",
                                  (double)nn->eps));
    out = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    free(b64);
    free(buf);
    return out;
}

/* ---- the in-process reference: an uninterrupted run ---- */

static double REF_LOSS[EPOCHS];
static uint8_t *REF_MODEL;
static size_t REF_MODEL_LEN;
static uint64_t REF_DECRYPTIONS;

static void reference_run(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_owner *o = NULL;
    henn_trainer *t = NULL;
    henn_transport to_t, to_o;
    henn_proto_stats st;
    size_t e;

    params(&p);
    make_model(&m, &nn);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_trainer_new(&t, &m, &nn, NULL));
    henn__trainer_allow_insecure(t);
    henn_transport_to_trainer(&to_t, t);
    henn_transport_to_owner(&to_o, o);
    CHECK_OK(henn_owner_upload(o, &to_t, &p, X, Y, ROWS, DIM));
    for (e = 0; e < EPOCHS; e++)
        CHECK_OK(henn_trainer_train_epoch(t, &to_o, SEED + e, NULL, NULL, &REF_LOSS[e]));
    CHECK_OK(henn_nn_model_serialize(&REF_MODEL, &REF_MODEL_LEN, henn_trainer_model(t)));
    henn_owner_stats(&st, o);
    REF_DECRYPTIONS = st.decryptions;
    henn_trainer_free(t);
    henn_owner_free(o);
    henn_nn_model_clear(&m);
}

/* ---- the re-issue attack ---- */

/* A transport to the owner that keeps the first request and fails. */
typedef struct grab {
    uint8_t *req;
    size_t len;
} grab;

static int grab_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    grab *g = ctx;
    (void)resp;
    (void)resp_len;
    if (g->req == NULL) {
        g->req = malloc(req_len);
        memcpy(g->req, req, req_len);
        g->len = req_len;
    }
    return HENN_EIO;
}

/* The owner's upload, recorded once: every trainer below stores the same
 * ciphertexts, as a restarted server rebuilds them from its log. */
typedef struct rec {
    henn_trainer *t;
    uint8_t *msg[64];
    size_t len[64], n;
} rec;

static int rec_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    rec *r = ctx;
    if (r->n < 64) {
        r->msg[r->n] = malloc(req_len);
        memcpy(r->msg[r->n], req, req_len);
        r->len[r->n++] = req_len;
    }
    return henn_trainer_handle(r->t, req, req_len, resp, resp_len);
}

static rec UPLOAD;

/* The first DECRYPT request of a trainer with seeded masks under key. */
static void first_request(grab *g, const uint8_t *key)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_trainer *t = NULL;
    henn_transport to_g;
    double loss;
    size_t i;

    params(&p);
    make_model(&m, &nn);
    memset(g, 0, sizeof(*g));
    CHECK_OK(henn_trainer_new(&t, &m, &nn, NULL));
    henn__trainer_allow_insecure(t);
    henn__trainer_set_mask_key(t, key, 0);
    if (UPLOAD.n == 0) {
        henn_owner *o = NULL;
        henn_transport to_t;
        CHECK_OK(henn_owner_new(&o, &SK, NULL));
        UPLOAD.t = t;
        memset(&to_t, 0, sizeof(to_t));
        to_t.call = rec_call;
        to_t.ctx = &UPLOAD;
        CHECK_OK(henn_owner_upload(o, &to_t, &p, X, Y, ROWS, DIM));
        henn_owner_free(o);
    } else {
        for (i = 0; i < UPLOAD.n; i++) {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            CHECK_OK(henn_trainer_handle(t, UPLOAD.msg[i], UPLOAD.len[i], &resp, &resp_len));
            CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_OK);
            free(resp);
        }
    }
    memset(&to_g, 0, sizeof(to_g));
    to_g.call = grab_call;
    to_g.ctx = g;
    CHECK_EQ_INT(henn_trainer_train_epoch(t, &to_g, SEED, NULL, NULL, &loss), HENN_EIO);
    CHECK(g->req != NULL);
    henn_trainer_free(t);
    henn_nn_model_clear(&m);
}

static void test_reissue_attack(void)
{
    uint8_t k1[32], k2[32];
    grab a, a2, b;
    henn_owner *o = NULL;
    henn_svc_answers *ans = NULL;
    uint8_t *r1 = NULL, *r2 = NULL, *r3 = NULL;
    size_t r1_len = 0, r2_len = 0, r3_len = 0;
    uint64_t repeats = 0, refused = 0, count;
    henn_proto_stats st;

    memset(k1, 0x11, sizeof(k1));
    memset(k2, 0x22, sizeof(k2));
    first_request(&a, k1);
    first_request(&a2, k1); /* the same trainer state and key: a restart */
    first_request(&b, k2);  /* other masks: a faked restart */
    if (a.req == NULL || a2.req == NULL || b.req == NULL)
        return;
    /* Seeded masks: a request built again has the same bytes; another
     * key gives other bytes (the same plaintexts, other masks). */
    CHECK(a.len == a2.len && memcmp(a.req, a2.req, a.len) == 0);
    CHECK(a.len == b.len && memcmp(a.req, b.req, a.len) != 0);
    /* DECRYPT: type, u32 count, then the ciphertexts. */
    CHECK_EQ_INT(henn_msg_type(a.req, a.len), HENN_MSG_DECRYPT);
    count = HID; /* the forward request: one ciphertext per hidden unit */

    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    henn_owner_set_decrypt_budget(o, count); /* exactly this request */
    CHECK_OK(henn_svc_answers_new(&ans, 0));
    CHECK_OK(henn_svc_answers_handle(ans, o, 1, a.req, a.len, &r1, &r1_len));
    CHECK_EQ_INT(henn_msg_type(r1, r1_len), HENN_MSG_PLAIN);
    /* The attack: seq 1 again with other ciphertexts. Refused, and the
     * owner decrypted nothing for it. */
    CHECK_EQ_INT(henn_svc_answers_handle(ans, o, 1, b.req, b.len, &r2, &r2_len), HENN_EPROTO);
    CHECK(r2 == NULL);
    henn_owner_stats(&st, o);
    CHECK_EQ_INT(st.decryptions, count);
    /* The honest repeat (the resumed job's): the same response from the
     * record although the budget is spent. */
    CHECK_OK(henn_svc_answers_handle(ans, o, 1, a2.req, a2.len, &r3, &r3_len));
    CHECK(r3 != NULL && r3_len == r1_len && memcmp(r1, r3, r1_len) == 0);
    henn_owner_stats(&st, o);
    CHECK_EQ_INT(st.decryptions, count);
    henn_svc_answers_counts(ans, &repeats, &refused);
    CHECK_EQ_INT(repeats, 1);
    CHECK_EQ_INT(refused, 1);
    /* Past the budget, a new seq is refused by the owner itself. */
    free(r2);
    r2 = NULL;
    CHECK_OK(henn_svc_answers_handle(ans, o, 2, b.req, b.len, &r2, &r2_len));
    CHECK(r2 != NULL && henn_msg_type(r2, r2_len) == HENN_MSG_ERROR);
    free(r2);
    r2 = NULL;
    /* Bad arguments. */
    CHECK_EQ_INT(henn_svc_answers_handle(ans, o, 0, a.req, a.len, &r2, &r2_len), HENN_EINVAL);
    {
        henn_svc_answers *big = NULL;
        CHECK_EQ_INT(henn_svc_answers_new(&big, 5000), HENN_EINVAL);
        CHECK(big == NULL);
    }
    free(r1);
    free(r2);
    free(r3);
    free(a.req);
    free(a2.req);
    free(b.req);
    henn_svc_answers_free(ans);
    henn_svc_answers_free(NULL);
    henn_owner_free(o);
    for (count = 0; count < UPLOAD.n; count++)
        free(UPLOAD.msg[count]);
}

/* ---- kill -9 of the server in the middle of the job ---- */

/* A server in a child process (forked, not exec'd) on 127.0.0.1:port (0:
 * any); *bound gets its port once it listens. SIGTERM: drain, exit 0. */
static pid_t spawn_server(const char *dir, uint16_t port, uint16_t *bound)
{
    int fds[2];
    pid_t pid;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        henn_svc_server_opts o;
        henn_svc_server *s = NULL;
        char listen[32];
        sigset_t set;
        int sig = 0;
        uint16_t p;
        close(fds[0]);
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
        henn_svc_server_opts_default(&o);
        o.listen = listen;
        o.data_dir = dir;
        o.threads = 2;
        o.log = stderr;
        if (henn_svc_server_start(&s, &o) != 0)
            _exit(3);
        henn__svc_server_allow_insecure(s);
        p = henn_svc_server_port(s);
        if (write(fds[1], &p, sizeof(p)) != (ssize_t)sizeof(p))
            _exit(4);
        close(fds[1]);
        sigwait(&set, &sig);
        henn_svc_server_stop(s);
        _exit(0);
    }
    close(fds[1]);
    if (pid < 0 || read(fds[0], bound, sizeof(*bound)) != (ssize_t)sizeof(*bound)) {
        close(fds[0]);
        return -1;
    }
    close(fds[0]);
    return pid;
}

typedef struct http_buf {
    uint8_t *b;
    size_t len;
    uint64_t henn_seq;
} http_buf;

static size_t http_write(char *p, size_t size, size_t n, void *user)
{
    http_buf *h = user;
    uint8_t *g = realloc(h->b, h->len + size * n + 1);
    if (g == NULL)
        return 0;
    h->b = g;
    memcpy(h->b + h->len, p, size * n);
    h->len += size * n;
    h->b[h->len] = 0;
    return size * n;
}

static size_t http_header(char *p, size_t size, size_t n, void *user)
{
    http_buf *h = user;
    if (size * n > 9 && strncasecmp(p, "Henn-Seq:", 9) == 0)
        h->henn_seq = strtoull(p + 9, NULL, 10);
    return size * n;
}

/* One request with libcurl; the status, or 0 on a transport error. */
static long http(http_buf *h, const char *method, const char *url, const char *token,
                 const void *body, size_t len)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hd = NULL;
    char auth[120];
    long status = 0;
    memset(h, 0, sizeof(*h));
    if (c == NULL)
        return 0;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    hd = curl_slist_append(hd, auth);
    hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    return status;
}

/* The job's status as JSON (NULL on failure). */
static json_t *job_status(const char *base, const char *id, const char *tok)
{
    char url[300];
    http_buf h;
    json_t *j = NULL;
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/jobs/1", base, id);
    if (http(&h, "GET", url, tok, NULL, 0) == 200)
        j = json_loadb((const char *)h.b, h.len, 0, NULL);
    free(h.b);
    return j;
}

/* The session's snapshot (the model the job left) from the database. */
static void db_snapshot(uint8_t **buf, size_t *len, const char *dir, const char *id)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    *buf = NULL;
    *len = 0;
    snprintf(path, sizeof(path), "%s/henn.db", dir);
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT state FROM sessions WHERE id = ?", -1, &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_BLOB) {
        *len = (size_t)sqlite3_column_bytes(q, 0);
        *buf = malloc(*len);
        memcpy(*buf, sqlite3_column_blob(q, 0), *len);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Kill after the owner answered this request (the forward pass of the
 * third batch of the first epoch: batches 1 and 2 are checkpointed). */
#define KILL_AFTER_SEQ 5

static void test_kill9_job(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    henn_owner *o = NULL;
    henn_svc_answers *ans = NULL;
    henn_transport t;
    henn_proto_stats st;
    char dir[300], base[64], url[300], jobs[80], id[40], tok[80], *cfg;
    uint8_t *killed_req = NULL, *snap = NULL;
    size_t killed_len = 0, snap_len = 0, rounds = 0, first_after = 0, k;
    uint64_t budget = 0, repeats = 0, refused = 0, last_seq = 0;
    uint16_t port = 0, port2 = 0;
    pid_t child;
    int done = 0, restarted = 0, status = -1;
    json_t *j;

    params(&p);
    make_model(&m, &nn);
    snprintf(dir, sizeof(dir), "%s/kill9_job", TMPROOT);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    child = spawn_server(dir, 0, &port);
    CHECK(child > 0);
    if (child <= 0)
        return;
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)port);
    cfg = config_text(&m, &nn);
    memset(&co, 0, sizeof(co));
    co.url = base;
    co.retry_s = 5.0;
    CHECK_OK(henn_svc_client_create(&c, &co, "kdd-published", cfg));
    if (c == NULL || henn_svc_client_session(c) == NULL)
        return;
    snprintf(id, sizeof(id), "%s", henn_svc_client_session(c));
    snprintf(tok, sizeof(tok), "%s", henn_svc_client_token(c));
    henn_svc_client_transport(&t, c);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    /* The owner's budget: exactly what honest training needs. */
    CHECK_OK(henn_proto_training_decryptions(&budget, &p, mpz_sizeinbase(PK.n, 2), ROWS, DIM, HID,
                                             EPOCHS));
    CHECK_EQ_INT(budget, REF_DECRYPTIONS);
    henn_owner_set_decrypt_budget(o, budget);
    CHECK_OK(henn_svc_answers_new(&ans, 0));
    CHECK_OK(henn_owner_upload(o, &t, &p, X, Y, ROWS, DIM));
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/jobs", base, id);
    snprintf(jobs, sizeof(jobs), "{\"kind\":\"train\",\"epochs\":%d,\"seed\":%d}", EPOCHS,
             SEED);
    {
        http_buf h;
        CHECK_EQ_INT(http(&h, "POST", url, tok, jobs, strlen(jobs)), 201);
        free(h.b);
    }
    while (!done && rounds++ < 100000) {
        http_buf h, h2;
        long code;
        snprintf(url, sizeof(url), "%s/v1/sessions/%s/requests?wait=10", base, id);
        code = http(&h, "GET", url, tok, NULL, 0);
        if (code == 200) {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            if (restarted && first_after == 0) {
                /* The resumed job's first request: the one answered last
                 * before the kill, byte for byte. */
                first_after = (size_t)h.henn_seq;
                CHECK(h.len == killed_len && memcmp(h.b, killed_req, h.len) == 0);
            }
            CHECK(h.henn_seq >= last_seq);
            CHECK_OK(henn_svc_answers_handle(ans, o, h.henn_seq, h.b, h.len, &resp, &resp_len));
            snprintf(url, sizeof(url), "%s/v1/sessions/%s/requests/%llu", base, id,
                     (unsigned long long)h.henn_seq);
            CHECK_EQ_INT(http(&h2, "POST", url, tok, resp, resp_len), 200);
            free(h2.b);
            free(resp);
            last_seq = h.henn_seq;
            if (!restarted && h.henn_seq == KILL_AFTER_SEQ) {
                int ws = 0;
                killed_req = h.b;
                killed_len = h.len;
                h.b = NULL;
                CHECK_EQ_INT(kill(child, SIGKILL), 0);
                CHECK_EQ_INT(waitpid(child, &ws, 0), child);
                CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
                child = spawn_server(dir, port, &port2);
                CHECK(child > 0 && port2 == port);
                if (child <= 0)
                    break;
                restarted = 1;
                /* The job runs again (from the session's first request
                 * after the restart), from the checkpoint of batch 2: its
                 * progress is not 0 rows. */
                j = job_status(base, id, tok);
                CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "running");
                CHECK_EQ_INT(json_integer_value(json_object_get(j, "epoch")), 0);
                CHECK(json_integer_value(json_object_get(j, "rows")) > 0);
                CHECK(json_object_get(j, "resume") == NULL); /* the secret stays inside */
                json_decref(j);
            }
        } else {
            CHECK_EQ_INT(code, 204);
        }
        free(h.b);
        j = job_status(base, id, tok);
        if (j == NULL || strcmp(json_string_value(json_object_get(j, "state")), "running") != 0) {
            CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "done");
            for (k = 0; k < EPOCHS; k++)
                CHECK_EQ_DBL(json_real_value(json_array_get(json_object_get(j, "loss"), k)),
                             REF_LOSS[k]);
            done = 1;
        }
        json_decref(j);
    }
    CHECK(done && restarted);
    CHECK_EQ_INT(first_after, KILL_AFTER_SEQ);
    /* The owner decrypted what an uninterrupted run needs, no more: the
     * repeated request came from its record. */
    henn_owner_stats(&st, o);
    CHECK_EQ_INT(st.decryptions, REF_DECRYPTIONS);
    henn_svc_answers_counts(ans, &repeats, &refused);
    CHECK_EQ_INT(repeats, 1);
    CHECK_EQ_INT(refused, 0);
    CHECK_EQ_INT(kill(child, SIGTERM), 0);
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The final model, bit for bit. */
    db_snapshot(&snap, &snap_len, dir, id);
    CHECK(snap != NULL && snap_len == REF_MODEL_LEN && memcmp(snap, REF_MODEL, snap_len) == 0);
    free(snap);
    free(killed_req);
    free(cfg);
    henn_svc_answers_free(ans);
    henn_svc_client_free(c);
    henn_owner_free(o);
    henn_nn_model_clear(&m);
}

/* "release_model": a boolean or absent; without it the owner gets no
 * result (403 inside henn_svc_client_result: HENN_EIO), with it the
 * session's current model. */
static void test_release_config(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    char dir[300], base[64], *cfg;
    uint8_t *got = NULL, *want = NULL;
    size_t got_len = 0, want_len = 0, n;
    uint16_t port = 0;
    pid_t child;
    int status = -1;
    json_t *j;
    static const char *const bad_values[] = {"\"yes\"", "1", "null"};

    make_model(&m, &nn);
    snprintf(dir, sizeof(dir), "%s/release", TMPROOT);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    child = spawn_server(dir, 0, &port);
    CHECK(child > 0);
    if (child <= 0)
        return;
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)port);
    memset(&co, 0, sizeof(co));
    co.url = base;
    co.retry_s = 5.0;
    cfg = config_text(&m, &nn);
    for (n = 0; n < sizeof(bad_values) / sizeof(bad_values[0]); n++) {
        char *bad = malloc(strlen(cfg) + 64);
        snprintf(bad, strlen(cfg) + 64, "{\"release_model\":%s,%s", bad_values[n], cfg + 1);
        CHECK(henn_svc_client_create(&c, &co, "kdd-published", bad) != 0);
        henn_svc_client_free(c);
        c = NULL;
        free(bad);
    }
    /* absent: no result */
    CHECK_OK(henn_svc_client_create(&c, &co, "kdd-published", cfg));
    CHECK_EQ_INT(henn_svc_client_result(c, &got, &got_len), HENN_EIO);
    CHECK(got == NULL);
    henn_svc_client_free(c);
    c = NULL;
    /* true: the model */
    j = json_loads(cfg, 0, NULL);
    json_object_set_new(j, "release_model", json_true());
    free(cfg);
    cfg = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    CHECK_OK(henn_svc_client_create(&c, &co, "kdd-published", cfg));
    CHECK_OK(henn_svc_client_result(c, &got, &got_len));
    CHECK_OK(henn_nn_model_serialize(&want, &want_len, &m));
    CHECK(got != NULL && got_len == want_len && memcmp(got, want, want_len) == 0);
    henn_svc_client_free(c);
    CHECK_EQ_INT(kill(child, SIGTERM), 0);
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    free(got);
    free(want);
    free(cfg);
    henn_nn_model_clear(&m);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    if (henn_init() != 0)
        return 1;
    snprintf(TMPROOT, sizeof(TMPROOT), "%s/henn_resume_XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(TMPROOT) == NULL)
        return 1;
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    if (henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE) != 0)
        return 1;
    make_data();
    reference_run();
    test_reissue_attack();
    test_kill9_job();
    test_release_config();
    free(REF_MODEL);
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", TMPROOT);
        if (system(cmd) != 0)
            return 1;
    }
    return test_report("test_service_resume");
}
