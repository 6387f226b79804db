/* The service's server side through its router (no network): sessions,
 * authentication (401, 404 with the body of a nonexistent session), 405,
 * 413, 409 and 400; idempotent retries (byte-identical responses);
 * private KDD training driven by henn_owner_train_private through a
 * transport whose calls are routed requests gives the in-process model,
 * also when the server is stopped and restarted on the same data
 * directory in the middle of a batch (log replay); encrypted inference
 * (kdd-infer) gives the in-process predictions; the data directory holds
 * no secret-key material and no plaintext token; the tokens file is
 * enforced; a deleted session leaves no trace in the files; a job's
 * seeded DECRYPT requests have the same bytes on 1, 2 and 3 party threads.
 * Keys under 2048 bits through the test hook only. */
#define _DEFAULT_SOURCE
#include "../test.h"

#include <curl/curl.h>
#include <dirent.h>
#include <math.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sodium.h>
#include <sys/stat.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"
#include "../private_rows.h"

void henn__svc_server_allow_insecure(henn_svc_server *s);
void henn__svc_server_crash_after(henn_svc_server *s, uint64_t seq);
unsigned henn__svc_preauth(henn_svc_server *s, const char *path, const char *authz);
int henn__svc_bodyless(const char *method, const char *path);
void henn__svc_server_advance_clock(henn_svc_server *s, int64_t seconds);
void henn__trainer_allow_insecure(henn_trainer *t);
void henn__private_trainer_allow_insecure(henn_private_trainer *t);
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

/* The owner's whole side of private training. */
#define TRAIN_PRIVATE(tr)                                                                          \
    henn_owner_train_private(tr, &SK, &p, X, Y, ROWS, DIM, CLS, BATCH, EPOCHS, SEED, NULL, NULL,   \
                             NULL, NULL)

static float X[ROWS * DIM];
/* The in-process published training's losses and scores (test_published). */
static double PUB_LOSS[EPOCHS];
static float PUB_SCORES[BATCH * CLS];
/* The in-process private training's model (test_private_training). */
static uint8_t *WANT;
static size_t WANT_LEN;
static uint8_t Y[ROWS];

static void make_data(void)
{
    private_rows(X, Y, ROWS, DIM, 12345UL);
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
    nn->lr = 0.05f;
    nn->max_rows = BATCH;
}

/* {"protocol": proto, "config": {"model": base64, "nn": {...}}} */
static char *create_body(const char *proto, const henn_nn_model *m, const henn_nn_opts *nn)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char *b64, *out;
    json_t *cfg = json_object();
    CHECK_OK(henn_nn_model_serialize(&buf, &len, m));
    b64 = malloc(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL), buf,
                      len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(cfg, "model", json_string(b64));
    if (nn != NULL)
        json_object_set_new(cfg, "nn",
                            json_pack("{s:s,s:f,s:f,s:f,s:f,s:f}", "optimizer",
                                      nn->optimizer == HENN_NN_ADAM ? "adam" : "sgd", "lr",
                                      (double)nn->lr, "momentum", (double)nn->momentum, "beta1",
                                      (double)nn->beta1, "beta2", (double)nn->beta2, "eps",
                                      (double)nn->eps));
    cfg = json_pack("{s:s,s:o}", "protocol", proto, "config", cfg);
    out = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    free(b64);
    free(buf);
    return out;
}

/* One routed request; the response is the caller's. */
static unsigned route(henn_svc_server *s, henn_svc_response *rs, const char *method,
                      const char *path, const char *authz, const void *body, size_t len)
{
    henn_svc_request rq;
    char hdr[200];
    rq.method = method;
    rq.path = path;
    rq.authorization = NULL;
    if (authz != NULL) {
        snprintf(hdr, sizeof(hdr), "Bearer %s", authz);
        rq.authorization = hdr;
    }
    rq.body = body;
    rq.body_len = len;
    CHECK_OK(henn_svc_server_route(s, &rq, rs));
    return rs->status;
}

static json_t *route_json(henn_svc_server *s, unsigned want, const char *method, const char *path,
                          const char *authz, const char *body)
{
    henn_svc_response rs;
    json_t *j;
    unsigned st = route(s, &rs, method, path, authz, body, body != NULL ? strlen(body) : 0);
    CHECK_EQ_INT(st, want);
    if (st != want)
        fprintf(stderr, "  %s %s: %.*s\n", method, path, (int)rs.body_len, (const char *)rs.body);
    j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
    henn_svc_response_free(&rs);
    return j;
}

static const char *err_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c != NULL ? c : "(none)";
}

typedef struct session {
    char id[33], token[65];
} session;

static void create_session(henn_svc_server *s, session *ss, const char *body, const char *authz)
{
    json_t *j = route_json(s, 201, "POST", "/v1/sessions", authz, body);
    const char *id = json_string_value(json_object_get(j, "session"));
    const char *tok = json_string_value(json_object_get(j, "token"));
    CHECK(id != NULL && strlen(id) == 32);
    CHECK(tok != NULL && strlen(tok) == 64);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "seq")), 0);
    memset(ss, 0, sizeof(*ss));
    if (id != NULL && tok != NULL && strlen(id) == 32 && strlen(tok) == 64) {
        memcpy(ss->id, id, 33);
        memcpy(ss->token, tok, 65);
    }
    json_decref(j);
}

static char TMPROOT[256];

static void make_dir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", TMPROOT, name);
    CHECK_EQ_INT(mkdir(out, 0700), 0);
}

/* The session quota and session cap of the next start() (0: defaults). */
static uint64_t QUOTA;
static size_t MAXSESS;

static henn_svc_server *start(const char *dir, const char *tokens, size_t max_body)
{
    henn_svc_server_opts o;
    henn_svc_server *s = NULL;
    henn_svc_server_opts_default(&o);
    if (QUOTA > 0)
        o.session_quota = QUOTA;
    if (MAXSESS > 0)
        o.max_sessions = MAXSESS;
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    o.tokens_file = tokens;
    o.threads = 1;
    o.log = stderr;
    if (max_body > 0)
        o.max_body = max_body;
    CHECK_OK(henn_svc_server_start(&s, &o));
    if (s == NULL)
        exit(1);
    henn__svc_server_allow_insecure(s);
    CHECK(henn_svc_server_port(s) != 0);
    CHECK(strncmp(henn_svc_server_url(s), "http://127.0.0.1:", 17) == 0);
    return s;
}

/*
 * A transport whose calls are POST /v1/sessions/{id}/messages/{seq}. Every
 * message is sent twice (the second a retry that must get the same bytes).
 * After `restart_at` messages (and again after `restart_at2`), the server
 * is stopped and started again on the same data directory.
 */
typedef struct route_tr {
    henn_svc_server *s;
    const char *dir;
    session ss;
    uint64_t seq;
    size_t restart_at, restart_at2, retries_equal, restarts, quota_refusals;
    /* Optional: every message also goes to twin (another server and
     * session); twin_equal counts byte-identical responses. */
    struct route_tr *twin;
    size_t twin_equal;
} route_tr;

static int route_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    route_tr *t = ctx;
    henn_svc_response rs, again;
    char path[128];
    if (t->seq == t->restart_at || t->seq == t->restart_at2) {
        henn_svc_server_stop(t->s);
        t->s = start(t->dir, NULL, 0);
        t->restarts++;
        /* The last response is still there after the restart. */
        if (t->seq > 0) {
            snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", t->ss.id,
                     (unsigned long long)t->seq);
            CHECK_EQ_INT(route(t->s, &rs, "POST", path, t->ss.token, "x", 1), 200);
            henn_svc_response_free(&rs);
        }
    }
    t->seq++;
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", t->ss.id,
             (unsigned long long)t->seq);
    if (route(t->s, &rs, "POST", path, t->ss.token, req, req_len) == 507) {
        /* Over the quota: nothing was committed. Restart with the default
         * quota and send the same message again. */
        henn_svc_response_free(&rs);
        t->quota_refusals++;
        henn_svc_server_stop(t->s);
        QUOTA = 0;
        t->s = start(t->dir, NULL, 0);
        route(t->s, &rs, "POST", path, t->ss.token, req, req_len);
    }
    if (rs.status != 200) {
        henn_svc_response_free(&rs);
        return HENN_EIO;
    }
    CHECK_EQ_STR(rs.content_type, "application/octet-stream");
    /* The retry (any body: the stored response answers). */
    CHECK_EQ_INT(route(t->s, &again, "POST", path, t->ss.token, req, req_len), 200);
    if (again.body_len == rs.body_len && memcmp(again.body, rs.body, rs.body_len) == 0)
        t->retries_equal++;
    henn_svc_response_free(&again);
    if (t->twin != NULL) {
        uint8_t *r2 = NULL;
        size_t r2_len = 0;
        if (route_call(t->twin, req, req_len, &r2, &r2_len) == 0 && r2_len == rs.body_len &&
            memcmp(r2, rs.body, r2_len) == 0)
            t->twin_equal++;
        free(r2);
    }
    *resp = rs.body;
    *resp_len = rs.body_len;
    return 0;
}

static void route_transport(henn_transport *tr, route_tr *t)
{
    memset(tr, 0, sizeof(*tr));
    tr->call = route_call;
    tr->ctx = t;
}

static void model_bytes(uint8_t **buf, size_t *len, henn_svc_server *s, const session *ss)
{
    henn_svc_response rs;
    char path[128];
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", ss->id);
    CHECK_EQ_INT(route(s, &rs, "GET", path, ss->token, NULL, 0), 200);
    *buf = rs.body;
    *len = rs.body_len;
}

/* ---- scanning the data directory ---- */

static int mem_has(const uint8_t *h, size_t hl, const void *n, size_t nl)
{
    size_t i;
    if (nl == 0)
        return 0;
    for (i = 0; i + nl <= hl; i++)
        if (memcmp(h + i, n, nl) == 0)
            return 1;
    return 0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    *len = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    fclose(f);
    return b;
}

/* The needles of one secret value: big- and little-endian bytes, decimal
 * and hex (both cases) text. Returns how many files hold any of them. */
static int files_with_mpz(const char *dir, const mpz_t v)
{
    uint8_t be[1024], le[1024];
    char dec[2048], hx[2048], HX[2048];
    size_t n = 0, i;
    DIR *d;
    struct dirent *e;
    int hits = 0;
    mpz_export(be, &n, 1, 1, 1, 0, v);
    for (i = 0; i < n; i++)
        le[i] = be[n - 1 - i];
    gmp_snprintf(dec, sizeof(dec), "%Zd", v);
    gmp_snprintf(hx, sizeof(hx), "%Zx", v);
    gmp_snprintf(HX, sizeof(HX), "%ZX", v);
    d = opendir(dir);
    CHECK(d != NULL);
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[600];
        size_t len;
        uint8_t *b;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        b = read_all(path, &len);
        if (b != NULL && (mem_has(b, len, be, n) || mem_has(b, len, le, n) ||
                          mem_has(b, len, dec, strlen(dec)) || mem_has(b, len, hx, strlen(hx)) ||
                          mem_has(b, len, HX, strlen(HX))))
            hits++;
        free(b);
    }
    if (d != NULL)
        closedir(d);
    return hits;
}

static int files_with(const char *dir, const void *needle, size_t nl, size_t *files)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hits = 0;
    *files = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[600];
        size_t len;
        uint8_t *b;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        b = read_all(path, &len);
        (*files)++;
        if (b != NULL && mem_has(b, len, needle, nl))
            hits++;
        free(b);
    }
    if (d != NULL)
        closedir(d);
    return hits;
}

/* ---- tests ---- */

/* Private training through the router, with and without restarts, equals
 * the in-process run; the data directory holds no secret. */
static void test_private_training(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_private_trainer *pt = NULL;
    henn_transport tr;
    henn_proto_params p;
    char dir1[300], dir2[300];
    char *body;
    uint8_t *want = NULL, *got1 = NULL, *got2 = NULL;
    size_t want_len = 0, got1_len = 0, got2_len = 0, files = 0;
    route_tr t1, t2;
    json_t *j;
    char path[128];

    params(&p);
    make_model(&m, &nn);
    /* In process. */
    CHECK_OK(henn_private_trainer_new(&pt, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(pt);
    henn_transport_to_private_trainer(&tr, pt);
    CHECK_OK(TRAIN_PRIVATE(&tr));
    CHECK_OK(henn_nn_model_serialize(&want, &want_len, henn_private_trainer_model(pt)));
    henn_private_trainer_free(pt);
    WANT = malloc(want_len);
    if (WANT != NULL && want != NULL) {
        memcpy(WANT, want, want_len);
        WANT_LEN = want_len;
    }

    body = create_body("kdd-private", &m, &nn);
    /* Through the router, uninterrupted. */
    make_dir(dir1, sizeof(dir1), "train1");
    memset(&t1, 0, sizeof(t1));
    t1.dir = dir1;
    t1.restart_at = t1.restart_at2 = (size_t)-1;
    t1.s = start(dir1, NULL, 0);
    create_session(t1.s, &t1.ss, body, NULL);
    route_transport(&tr, &t1);
    CHECK_OK(TRAIN_PRIVATE(&tr));
    CHECK(t1.seq > 20);
    CHECK_EQ_INT(t1.retries_equal, t1.seq);
    model_bytes(&got1, &got1_len, t1.s, &t1.ss);
    CHECK_EQ_INT(got1_len, want_len);
    CHECK(got1 != NULL && want != NULL && got1_len == want_len &&
          memcmp(got1, want, want_len) == 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s", t1.ss.id);
    j = route_json(t1.s, 200, "GET", path, t1.ss.token, NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "protocol")), "kdd-private");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "seq")), (long long)t1.seq);
    CHECK(json_integer_value(json_object_get(j, "bytes")) > 0);
    json_decref(j);

    /* Restarted after message 5 (PSETUP, then two batches' INFER, INFER,
     * PGRAD ... : message 5 is the second batch's first INFER, so the
     * restart falls inside a batch) and after message 19. */
    make_dir(dir2, sizeof(dir2), "train2");
    memset(&t2, 0, sizeof(t2));
    t2.dir = dir2;
    t2.restart_at = 5;
    t2.restart_at2 = 19;
    t2.s = start(dir2, NULL, 0);
    create_session(t2.s, &t2.ss, body, NULL);
    route_transport(&tr, &t2);
    CHECK_OK(TRAIN_PRIVATE(&tr));
    CHECK_EQ_INT(t2.restarts, 2);
    CHECK_EQ_INT(t2.seq, t1.seq);
    /* One more restart: the result is rebuilt from the log alone. */
    henn_svc_server_stop(t2.s);
    t2.s = start(dir2, NULL, 0);
    model_bytes(&got2, &got2_len, t2.s, &t2.ss);
    CHECK(got2 != NULL && got2_len == want_len && memcmp(got2, want, want_len) == 0);

    /* A session quota that runs out in the middle of training: 507, the
     * party rolled back to the stored state; the same message after a
     * restart with a larger quota continues, same model. */
    {
        char dir3[300];
        route_tr t3;
        uint8_t *got3 = NULL;
        size_t got3_len = 0;
        json_t *info;
        make_dir(dir3, sizeof(dir3), "train3");
        memset(&t3, 0, sizeof(t3));
        t3.dir = dir3;
        t3.restart_at = t3.restart_at2 = (size_t)-1;
        QUOTA = strlen(body) + 6000;
        t3.s = start(dir3, NULL, 0);
        create_session(t3.s, &t3.ss, body, NULL);
        route_transport(&tr, &t3);
        CHECK_OK(TRAIN_PRIVATE(&tr));
        CHECK_EQ_INT(t3.quota_refusals, 1);
        model_bytes(&got3, &got3_len, t3.s, &t3.ss);
        CHECK(got3 != NULL && got3_len == want_len && memcmp(got3, want, want_len) == 0);
        snprintf(path, sizeof(path), "/v1/sessions/%s", t3.ss.id);
        info = route_json(t3.s, 200, "GET", path, t3.ss.token, NULL);
        CHECK(json_integer_value(json_object_get(info, "bytes")) > (json_int_t)strlen(body) + 6000);
        json_decref(info);
        henn_svc_server_stop(t3.s);
        free(got3);
    }

    /* No secret-key material and no plaintext token in the files, with the
     * server running and after it stopped. */
    CHECK_EQ_INT(files_with_mpz(dir2, SK.p), 0);
    CHECK_EQ_INT(files_with_mpz(dir2, SK.q), 0);
    CHECK_EQ_INT(files_with_mpz(dir2, SK.lambda), 0);
    CHECK_EQ_INT(files_with(dir2, t2.ss.token, 64, &files), 0);
    CHECK(files >= 1);
    /* ... while the public n is there (the scan would see a key). */
    CHECK(files_with_mpz(dir2, PK.n) >= 1);
    henn_svc_server_stop(t1.s);
    henn_svc_server_stop(t2.s);
    CHECK_EQ_INT(files_with_mpz(dir1, SK.p), 0);
    CHECK_EQ_INT(files_with_mpz(dir1, SK.q), 0);
    CHECK_EQ_INT(files_with_mpz(dir1, SK.lambda), 0);
    CHECK_EQ_INT(files_with(dir1, t1.ss.token, 64, &files), 0);
    CHECK(files >= 1);
    free(body);
    free(want);
    free(got1);
    free(got2);
    henn_nn_model_clear(&m);
}

/* Encrypted inference on the server's model equals the in-process run. */
static void test_infer(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_owner *o = NULL;
    henn_trainer *tr = NULL;
    henn_transport t;
    henn_proto_params p;
    route_tr rt;
    char dir[300], path[128];
    char *body;
    uint8_t pred_local[BATCH], pred_remote[BATCH];
    henn_svc_response rs;

    params(&p);
    make_model(&m, &nn);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_trainer_new(&tr, &m, NULL, NULL));
    henn__trainer_allow_insecure(tr);
    henn_transport_to_trainer(&t, tr);
    CHECK_OK(henn_owner_infer(o, &t, &p, X, BATCH, DIM, CLS, pred_local, NULL));
    henn_trainer_free(tr);

    make_dir(dir, sizeof(dir), "infer");
    memset(&rt, 0, sizeof(rt));
    rt.dir = dir;
    rt.restart_at = rt.restart_at2 = (size_t)-1;
    rt.s = start(dir, NULL, 0);
    body = create_body("kdd-infer", &m, NULL);
    create_session(rt.s, &rt.ss, body, NULL);
    route_transport(&t, &rt);
    CHECK_OK(henn_owner_infer(o, &t, &p, X, BATCH, DIM, CLS, pred_remote, NULL));
    CHECK(memcmp(pred_local, pred_remote, BATCH) == 0);
    CHECK_EQ_INT(rt.retries_equal, rt.seq);
    /* kdd-infer gives no result: the model is the server's. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", rt.ss.id);
    {
        json_t *j = route_json(rt.s, 403, "GET", path, rt.ss.token, NULL);
        CHECK_EQ_STR(err_code(j), "not_allowed");
        json_decref(j);
    }
    /* After a restart the session answers again (SETUP replayed). */
    henn_svc_server_stop(rt.s);
    rt.s = start(dir, NULL, 0);
    CHECK_OK(henn_owner_infer(o, &t, &p, X + BATCH * DIM, BATCH, DIM, CLS, pred_remote, NULL));
    /* A message that is not a protocol request gets the protocol's error
     * response (a response all the same). */
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", rt.ss.id,
             (unsigned long long)rt.seq + 1);
    CHECK_EQ_INT(route(rt.s, &rs, "POST", path, rt.ss.token, "garbage", 7), 200);
    CHECK_EQ_INT(henn_msg_type(rs.body, rs.body_len), HENN_MSG_ERROR);
    henn_svc_response_free(&rs);
    henn_svc_server_stop(rt.s);
    free(body);
    henn_owner_free(o);
    henn_nn_model_clear(&m);
}

/* LR on CKKS (N = 4096, insecure, through the test hook): every message
 * goes to two servers, one of them restarted after the TRAIN message and
 * after the first STEP (its session rebuilt from KEYS, DATA, TRAIN and
 * STEP in its log); both answer every message with the same bytes, and
 * the model is close to the in-process run's. */
static void test_lr(void)
{
    enum { R = 24 };
    static double lx[R * 2], ly[R];
    const henn_lr_client_opts co = {.N = 4096, .flags = HENN_LR_INSECURE_TEST, .threads = 1};
    henn_lr_server_limits lim;
    henn_lr_server *srv = NULL;
    henn_lr_client *c = NULL;
    henn_lr_data d;
    henn_lr_opts o;
    henn_lr_model m1, m2;
    henn_transport t;
    route_tr a, b;
    char dir_a[300], dir_b[300];
    const char *body = "{\"protocol\":\"lr\",\"config\":{}}";
    size_t i;

    for (i = 0; i < R; i++) {
        lx[2 * i] = (double)i / 12.0 - 1.0;
        lx[2 * i + 1] = (double)(i % 5) / 2.5 - 1.0;
        ly[i] = (double)(lx[2 * i] + 0.5 * lx[2 * i + 1] > 0.0);
    }
    d.rows = R;
    d.dim = 2;
    d.X = lx;
    d.y = ly;
    memset(&o, 0, sizeof(o));
    o.epochs = 3;
    o.alpha = 1.0;
    o.lambda = 1.0;
    o.sigmoid = HENN_LR_SIGMOID_POLY3;
    /* In process. */
    henn_lr_server_limits_default(&lim);
    lim.allow_insecure = 1;
    CHECK_OK(henn_lr_server_new(&srv, &lim, NULL));
    CHECK_OK(henn_lr_client_new(&c, &co));
    CHECK_OK(henn_lr_model_init(&m1, 2));
    henn_transport_to_lr_server(&t, srv);
    CHECK_OK(henn_lr_client_train(c, &t, &m1, &d, &o, NULL, NULL));
    henn_lr_client_free(c);
    henn_lr_server_free(srv);
    /* Through two servers. */
    make_dir(dir_a, sizeof(dir_a), "lr_a");
    make_dir(dir_b, sizeof(dir_b), "lr_b");
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.dir = dir_a;
    b.dir = dir_b;
    a.restart_at = a.restart_at2 = (size_t)-1;
    b.restart_at = 3;
    b.restart_at2 = 4;
    a.s = start(dir_a, NULL, 0);
    b.s = start(dir_b, NULL, 0);
    create_session(a.s, &a.ss, body, NULL);
    create_session(b.s, &b.ss, body, NULL);
    a.twin = &b;
    route_transport(&t, &a);
    CHECK_OK(henn_lr_client_new(&c, &co));
    CHECK_OK(henn_lr_model_init(&m2, 2));
    CHECK_OK(henn_lr_client_train(c, &t, &m2, &d, &o, NULL, NULL));
    CHECK(a.seq >= 6);
    CHECK_EQ_INT(b.restarts, 2);
    CHECK_EQ_INT(a.twin_equal, a.seq);
    CHECK_EQ_INT(a.retries_equal, a.seq);
    for (i = 0; i < 2; i++)
        CHECK(fabs(m1.w[i] - m2.w[i]) < 1e-3);
    CHECK(fabs(m1.b - m2.b) < 1e-3);
    {
        char path[128];
        json_t *j;
        snprintf(path, sizeof(path), "/v1/sessions/%s/result", b.ss.id);
        j = route_json(b.s, 403, "GET", path, b.ss.token, NULL);
        CHECK_EQ_STR(err_code(j), "not_allowed");
        json_decref(j);
    }
    henn_lr_client_free(c);
    henn_lr_model_clear(&m1);
    henn_lr_model_clear(&m2);
    henn_svc_server_stop(a.s);
    henn_svc_server_stop(b.s);
}

/* The published KDD protocol's training as a server job: the owner uploads
 * through messages, starts the job, fetches the trainer's DECRYPT
 * requests by long-polling and answers them; the per-epoch losses and the
 * encrypted-inference scores afterwards equal the in-process run's bit
 * for bit. While the job runs, messages get 409 busy. */
static void test_published(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_owner *o1 = NULL, *o2 = NULL;
    henn_trainer *tr = NULL;
    henn_transport to_tr, to_o;
    henn_proto_params p;
    route_tr rt;
    char dir[300], path[160], *body, *body0;
    double loss1[EPOCHS];
    float scores1[BATCH * CLS], scores2[BATCH * CLS];
    uint8_t pred1[BATCH], pred2[BATCH];
    henn_svc_response rs;
    json_t *j;
    size_t e, answered = 0, polls = 0, busy_seen = 0;
    const char *state = NULL;

    params(&p);
    make_model(&m, &nn);
    /* In process. */
    CHECK_OK(henn_owner_new(&o1, &SK, NULL));
    CHECK_OK(henn_trainer_new(&tr, &m, &nn, NULL));
    henn__trainer_allow_insecure(tr);
    henn_transport_to_trainer(&to_tr, tr);
    henn_transport_to_owner(&to_o, o1);
    CHECK_OK(henn_owner_upload(o1, &to_tr, &p, X, Y, ROWS, DIM));
    for (e = 0; e < EPOCHS; e++)
        CHECK_OK(henn_trainer_train_epoch(tr, &to_o, SEED + e, NULL, NULL, &loss1[e]));
    CHECK_OK(henn_owner_infer(o1, &to_tr, &p, X, BATCH, DIM, CLS, pred1, scores1));
    henn_trainer_free(tr);
    henn_owner_free(o1);
    memcpy(PUB_LOSS, loss1, sizeof(loss1));
    memcpy(PUB_SCORES, scores1, sizeof(scores1));

    /* Through the router. */
    make_dir(dir, sizeof(dir), "published");
    memset(&rt, 0, sizeof(rt));
    rt.dir = dir;
    rt.restart_at = rt.restart_at2 = (size_t)-1;
    rt.s = start(dir, NULL, 0);
    body = create_body("kdd-published", &m, &nn);
    body0 = create_body("kdd-published", &m, &nn);
    create_session(rt.s, &rt.ss, body, NULL);
    CHECK_OK(henn_owner_new(&o2, &SK, NULL));
    route_transport(&to_tr, &rt);
    CHECK_OK(henn_owner_upload(o2, &to_tr, &p, X, Y, ROWS, DIM));
    /* No job yet: the long poll answers at once with nothing. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/requests?wait=30", rt.ss.id);
    CHECK_EQ_INT(route(rt.s, &rs, "GET", path, rt.ss.token, NULL, 0), 204);
    henn_svc_response_free(&rs);
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs/1", rt.ss.id);
    json_decref(route_json(rt.s, 404, "GET", path, rt.ss.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs", rt.ss.id);
    json_decref(route_json(rt.s, 400, "POST", path, rt.ss.token, "{\"kind\":\"train\"}"));
    snprintf(body, 64, "{\"kind\":\"train\",\"epochs\":%d,\"seed\":%d}", EPOCHS, SEED);
    j = route_json(rt.s, 201, "POST", path, rt.ss.token, body);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "job")), 1);
    json_decref(j);
    /* A second job while the first runs. */
    json_decref(route_json(rt.s, 409, "POST", path, rt.ss.token, body));
    for (;;) {
        snprintf(path, sizeof(path), "/v1/sessions/%s/requests?wait=5", rt.ss.id);
        route(rt.s, &rs, "GET", path, rt.ss.token, NULL, 0);
        polls++;
        if (rs.status == 200) {
            uint8_t *ans = NULL;
            size_t ans_len = 0;
            uint64_t seq = rs.seq;
            henn_svc_response r2;
            CHECK(seq == answered + 1);
            CHECK_OK(henn_owner_handle(o2, rs.body, rs.body_len, &ans, &ans_len));
            /* An answer for a request not asked yet. */
            snprintf(path, sizeof(path), "/v1/sessions/%s/requests/%llu", rt.ss.id,
                     (unsigned long long)seq + 1);
            j = route_json(rt.s, 409, "POST", path, rt.ss.token, "x");
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "expected")), (long long)seq);
            json_decref(j);
            snprintf(path, sizeof(path), "/v1/sessions/%s/requests/%llu", rt.ss.id,
                     (unsigned long long)seq);
            CHECK_EQ_INT(route(rt.s, &r2, "POST", path, rt.ss.token, ans, ans_len), 200);
            henn_svc_response_free(&r2);
            /* The same answer again (a retry): accepted, ignored. */
            CHECK_EQ_INT(route(rt.s, &r2, "POST", path, rt.ss.token, ans, ans_len), 200);
            henn_svc_response_free(&r2);
            free(ans);
            answered++;
            if (busy_seen == 0) {
                snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", rt.ss.id,
                         (unsigned long long)rt.seq + 1);
                j = route_json(rt.s, 409, "POST", path, rt.ss.token, "x");
                busy_seen += strcmp(err_code(j), "busy") == 0;
                json_decref(j);
            }
        }
        henn_svc_response_free(&rs);
        snprintf(path, sizeof(path), "/v1/sessions/%s/jobs/1", rt.ss.id);
        j = route_json(rt.s, 200, "GET", path, rt.ss.token, NULL);
        state = json_string_value(json_object_get(j, "state"));
        if (state == NULL || strcmp(state, "running") != 0 || polls > 100000) {
            size_t k;
            CHECK_EQ_STR(state, "done");
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "epoch")), EPOCHS);
            CHECK_EQ_INT(json_array_size(json_object_get(j, "loss")), EPOCHS);
            for (k = 0; k < EPOCHS; k++)
                CHECK_EQ_DBL(json_real_value(json_array_get(json_object_get(j, "loss"), k)),
                             loss1[k]);
            json_decref(j);
            break;
        }
        json_decref(j);
    }
    CHECK(answered > 0);
    CHECK_EQ_INT(busy_seen, 1);
    /* Encrypted inference on the trained model: the same scores. */
    CHECK_OK(henn_owner_infer(o2, &to_tr, &p, X, BATCH, DIM, CLS, pred2, scores2));
    CHECK(memcmp(pred1, pred2, BATCH) == 0);
    CHECK(memcmp(scores1, scores2, sizeof(scores1)) == 0);
    /* After a restart: the job's record, and the trained model (the
     * session's snapshot plus the logged upload) answers inference. */
    henn_svc_server_stop(rt.s);
    rt.s = start(dir, NULL, 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs/1", rt.ss.id);
    j = route_json(rt.s, 200, "GET", path, rt.ss.token, NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "done");
    CHECK_EQ_DBL(json_real_value(json_array_get(json_object_get(j, "loss"), EPOCHS - 1)),
                 loss1[EPOCHS - 1]);
    json_decref(j);
    memset(scores2, 0, sizeof(scores2));
    CHECK_OK(henn_owner_infer(o2, &to_tr, &p, X, BATCH, DIM, CLS, pred2, scores2));
    CHECK(memcmp(scores1, scores2, sizeof(scores1)) == 0);
    /* The owner learns nothing about the model here: no result. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", rt.ss.id);
    json_decref(route_json(rt.s, 403, "GET", path, rt.ss.token, NULL));
    /* A job left waiting for an answer: DELETE cancels it. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs", rt.ss.id);
    j = route_json(rt.s, 201, "POST", path, rt.ss.token, body);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "job")), 2);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/sessions/%s/requests?wait=30", rt.ss.id);
    CHECK_EQ_INT(route(rt.s, &rs, "GET", path, rt.ss.token, NULL, 0), 200);
    CHECK(rs.seq > 0);
    henn_svc_response_free(&rs);
    snprintf(path, sizeof(path), "/v1/sessions/%s", rt.ss.id);
    CHECK_EQ_INT(route(rt.s, &rs, "DELETE", path, rt.ss.token, NULL, 0), 204);
    henn_svc_response_free(&rs);
    json_decref(route_json(rt.s, 401, "GET", path, rt.ss.token, NULL));
    /* ... and stopping the server cancels one too. */
    create_session(rt.s, &rt.ss, body0, NULL);
    rt.seq = 0;
    CHECK_OK(henn_owner_upload(o2, &to_tr, &p, X, Y, ROWS, DIM));
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs", rt.ss.id);
    json_decref(route_json(rt.s, 201, "POST", path, rt.ss.token, body));
    henn_svc_server_stop(rt.s);
    /* ... and after the restart that job resumes from its checkpoint (here
     * the one stored at its start: test_service_resume kills a server
     * mid-epoch) at the session's first request: its first request again. */
    rt.s = start(dir, NULL, 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs/1", rt.ss.id);
    j = route_json(rt.s, 200, "GET", path, rt.ss.token, NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "running");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "rows")), 0);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/sessions/%s/requests?wait=30", rt.ss.id);
    CHECK_EQ_INT(route(rt.s, &rs, "GET", path, rt.ss.token, NULL, 0), 200);
    CHECK_EQ_INT(rs.seq, 1);
    henn_svc_response_free(&rs);
    henn_svc_server_stop(rt.s);
    henn_owner_free(o2);
    free(body);
    free(body0);
    henn_nn_model_clear(&m);
}

/* ---- the published protocol over HTTP (libcurl in the test) ---- */

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

/* The published training over HTTP: upload through henn_svc_client's
 * transport, the job and the long poll (Henn-Seq header, ?wait=) with
 * libcurl, inference through the client again: the in-process losses and
 * scores. */
static void test_published_http(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_owner *o = NULL;
    henn_svc_server *s;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    henn_transport t;
    henn_proto_params p;
    char dir[300], url[300], jobs[64], *body, *cfg;
    const char *base, *id, *tok;
    float scores[BATCH * CLS];
    uint8_t pred[BATCH];
    http_buf h;
    json_t *j;
    size_t answered = 0, rounds = 0;
    int done = 0;

    params(&p);
    make_model(&m, &nn);
    make_dir(dir, sizeof(dir), "published_http");
    s = start(dir, NULL, 0);
    base = henn_svc_server_url(s);
    body = create_body("kdd-published", &m, &nn);
    j = json_loads(body, 0, NULL);
    cfg = json_dumps(json_object_get(j, "config"), JSON_COMPACT);
    json_decref(j);
    memset(&co, 0, sizeof(co));
    co.url = base;
    co.retry_s = 5.0;
    CHECK_OK(henn_svc_client_create(&c, &co, "kdd-published", cfg));
    if (c == NULL)
        return;
    id = henn_svc_client_session(c);
    tok = henn_svc_client_token(c);
    henn_svc_client_transport(&t, c);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_owner_upload(o, &t, &p, X, Y, ROWS, DIM));
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/jobs", base, id);
    snprintf(jobs, sizeof(jobs), "{\"kind\":\"train\",\"epochs\":%d,\"seed\":%d}", EPOCHS,
             SEED);
    CHECK_EQ_INT(http(&h, "POST", url, tok, jobs, strlen(jobs)), 201);
    free(h.b);
    while (!done && rounds++ < 100000) {
        snprintf(url, sizeof(url), "%s/v1/sessions/%s/requests?wait=10", base, id);
        long st = http(&h, "GET", url, tok, NULL, 0);
        if (st == 200) {
            uint8_t *ans = NULL;
            size_t ans_len = 0;
            http_buf h2;
            CHECK_EQ_INT(h.henn_seq, answered + 1);
            CHECK_OK(henn_owner_handle(o, h.b, h.len, &ans, &ans_len));
            snprintf(url, sizeof(url), "%s/v1/sessions/%s/requests/%llu", base, id,
                     (unsigned long long)h.henn_seq);
            CHECK_EQ_INT(http(&h2, "POST", url, tok, ans, ans_len), 200);
            free(h2.b);
            free(ans);
            answered++;
        } else {
            CHECK_EQ_INT(st, 204);
        }
        free(h.b);
        snprintf(url, sizeof(url), "%s/v1/sessions/%s/jobs/1", base, id);
        CHECK_EQ_INT(http(&h, "GET", url, tok, NULL, 0), 200);
        j = json_loadb((const char *)h.b, h.len, 0, NULL);
        if (strcmp(json_string_value(json_object_get(j, "state")), "running") != 0) {
            size_t k;
            CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "done");
            for (k = 0; k < EPOCHS; k++)
                CHECK_EQ_DBL(json_real_value(json_array_get(json_object_get(j, "loss"), k)),
                             PUB_LOSS[k]);
            done = 1;
        }
        json_decref(j);
        free(h.b);
    }
    CHECK(done && answered > 0);
    CHECK_OK(henn_owner_infer(o, &t, &p, X, BATCH, DIM, CLS, pred, scores));
    CHECK(memcmp(scores, PUB_SCORES, sizeof(scores)) == 0);
    henn_svc_client_free(c);
    henn_owner_free(o);
    henn_svc_server_stop(s);
    free(cfg);
    free(body);
    henn_nn_model_clear(&m);
}

/* Status codes of the API, and the body of a 404 for another session's
 * id equals that of a nonexistent id. */
static void test_api_errors(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_svc_server *s;
    henn_svc_response rs, rs2;
    session a, b;
    char dir[300], path[200], nowhere[200];
    char *body;
    uint8_t *big;
    json_t *j;

    make_model(&m, &nn);
    make_dir(dir, sizeof(dir), "api");
    s = start(dir, NULL, 4096);
    body = create_body("kdd-private", &m, &nn);
    create_session(s, &a, body, NULL);
    create_session(s, &b, body, NULL);
    CHECK(strcmp(a.id, b.id) != 0 && strcmp(a.token, b.token) != 0);

    j = route_json(s, 200, "GET", "/v1/health", NULL, NULL);
    CHECK(json_is_true(json_object_get(j, "ok")));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "version")), HENN_VERSION_STRING);
    json_decref(j);

    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    /* 401: no token, an unknown token, a malformed header. */
    j = route_json(s, 401, "GET", path, NULL, NULL);
    CHECK_EQ_STR(err_code(j), "unauthorized");
    json_decref(j);
    j = route_json(s, 401, "GET", path,
                   "0000000000000000000000000000000000000000000000000000000000000000", NULL);
    json_decref(j);
    {
        henn_svc_request rq = {"GET", path, a.token, NULL, 0}; /* no "Bearer " */
        CHECK_OK(henn_svc_server_route(s, &rq, &rs));
        CHECK_EQ_INT(rs.status, 401);
        henn_svc_response_free(&rs);
    }
    /* 404: b's token on a's id, and b's token on a nonexistent id: same
     * body. */
    snprintf(nowhere, sizeof(nowhere), "/v1/sessions/%s", "0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(route(s, &rs, "GET", path, b.token, NULL, 0), 404);
    CHECK_EQ_INT(route(s, &rs2, "GET", nowhere, b.token, NULL, 0), 404);
    CHECK(rs.body_len == rs2.body_len && memcmp(rs.body, rs2.body, rs.body_len) == 0);
    henn_svc_response_free(&rs);
    henn_svc_response_free(&rs2);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", a.id);
    snprintf(nowhere, sizeof(nowhere), "/v1/sessions/%s/messages/1",
             "0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(route(s, &rs, "POST", path, b.token, "x", 1), 404);
    CHECK_EQ_INT(route(s, &rs2, "POST", nowhere, b.token, "x", 1), 404);
    CHECK(rs.body_len == rs2.body_len && memcmp(rs.body, rs2.body, rs.body_len) == 0);
    henn_svc_response_free(&rs);
    henn_svc_response_free(&rs2);
    /* b's token could not move a's session. */
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    j = route_json(s, 200, "GET", path, a.token, NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "seq")), 0);
    json_decref(j);

    /* 405 */
    j = route_json(s, 405, "PUT", path, a.token, NULL);
    CHECK_EQ_STR(err_code(j), "method");
    json_decref(j);
    json_decref(route_json(s, 405, "POST", "/v1/health", NULL, NULL));
    json_decref(route_json(s, 405, "GET", "/v1/sessions", NULL, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", a.id);
    json_decref(route_json(s, 405, "GET", path, a.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", a.id);
    json_decref(route_json(s, 405, "POST", path, a.token, NULL));

    /* 400: malformed ids, sequence numbers, bodies, protocols, configs. */
    j = route_json(s, 400, "GET", "/v1/sessions/xyz", a.token, NULL);
    CHECK_EQ_STR(err_code(j), "bad_request");
    json_decref(j);
    json_decref(route_json(s, 400, "GET", "/v1/sessions/0123456789ABCDEF0123456789abcdef",
                           a.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1x", a.id);
    json_decref(route_json(s, 400, "POST", path, a.token, "x"));
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/01", a.id);
    json_decref(route_json(s, 400, "POST", path, a.token, "x"));
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/99999999999999999999", a.id);
    json_decref(route_json(s, 400, "POST", path, a.token, "x"));
    json_decref(route_json(s, 400, "POST", "/v1/sessions", NULL, "{"));
    json_decref(route_json(s, 400, "POST", "/v1/sessions", NULL, "[]"));
    json_decref(route_json(s, 400, "POST", "/v1/sessions", NULL, "{\"protocol\":\"kdd-private\"}"));
    j = route_json(s, 400, "POST", "/v1/sessions", NULL, "{\"protocol\":\"x\",\"config\":{}}");
    CHECK_EQ_STR(err_code(j), "protocol");
    json_decref(j);
    j = route_json(s, 400, "POST", "/v1/sessions", NULL,
                   "{\"protocol\":\"kdd-private\",\"config\":{\"model\":\"AAAA\"}}");
    CHECK_EQ_STR(err_code(j), "config");
    json_decref(j);
    json_decref(route_json(s, 400, "POST", "/v1/sessions", NULL,
                           "{\"protocol\":\"lr\",\"config\":{\"x\":1}}"));
    json_decref(route_json(s, 201, "POST", "/v1/sessions", NULL, "{\"protocol\":\"lr\",\"config\":{}}"));
    json_decref(route_json(s, 404, "GET", "/v2/health", NULL, NULL));
    json_decref(route_json(s, 404, "GET", "/", NULL, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s/other", a.id);
    json_decref(route_json(s, 404, "GET", path, a.token, NULL));

    /* From the headers alone (the daemon answers these before reading a
     * body): a token no session has, or none, is 401; any session's token
     * passes (the router then tells 404 from the rest). */
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", a.id);
    CHECK_EQ_INT(henn__svc_preauth(s, path, NULL), 401);
    CHECK_EQ_INT(henn__svc_preauth(s, path, "Bearer 00"), 401);
    {
        char hdr[100];
        snprintf(hdr, sizeof(hdr), "Bearer %s", b.token);
        CHECK_EQ_INT(henn__svc_preauth(s, path, hdr), 0);
        snprintf(hdr, sizeof(hdr), "Bearer %s", a.token);
        CHECK_EQ_INT(henn__svc_preauth(s, path, hdr), 0);
    }
    CHECK_EQ_INT(henn__svc_preauth(s, "/v1/sessions", NULL), 0); /* no tokens file */
    CHECK_EQ_INT(henn__svc_preauth(s, "/v1/health", NULL), 0);
    /* Answers that cannot depend on a body (given before reading one). */
    CHECK(henn__svc_bodyless("GET", "/v1/health"));
    CHECK(henn__svc_bodyless("POST", "/v1/health"));
    CHECK(henn__svc_bodyless("POST", "/nope"));
    CHECK(henn__svc_bodyless("PUT", "/v1/sessions/xyz"));
    CHECK(henn__svc_bodyless("GET", path)); /* messages take POST */
    CHECK(!henn__svc_bodyless("POST", path));
    CHECK(!henn__svc_bodyless("POST", "/v1/sessions"));

    /* 409: out of order; "expected" says what comes next. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/5", a.id);
    j = route_json(s, 409, "POST", path, a.token, "x");
    CHECK_EQ_STR(err_code(j), "sequence");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "expected")), 1);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/0", a.id);
    json_decref(route_json(s, 409, "POST", path, a.token, "x"));
    /* A message, then its retry, then the next and an old one. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", a.id);
    CHECK_EQ_INT(route(s, &rs, "POST", path, a.token, "junk", 4), 200);
    CHECK_EQ_INT(route(s, &rs2, "POST", path, a.token, "other", 5), 200);
    CHECK(rs.body_len == rs2.body_len && memcmp(rs.body, rs2.body, rs.body_len) == 0);
    henn_svc_response_free(&rs);
    henn_svc_response_free(&rs2);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/3", a.id);
    j = route_json(s, 409, "POST", path, a.token, "x");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "expected")), 2);
    json_decref(j);

    /* 413: a body over max_body (4096 here), before anything else. */
    big = calloc(1, 4097);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/2", a.id);
    CHECK_EQ_INT(route(s, &rs, "POST", path, a.token, big, 4097), 413);
    j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
    CHECK_EQ_STR(err_code(j), "too_large");
    json_decref(j);
    henn_svc_response_free(&rs);
    CHECK_EQ_INT(route(s, &rs, "POST", "/v1/sessions", NULL, big, 4097), 413);
    henn_svc_response_free(&rs);
    CHECK_EQ_INT(route(s, &rs, "POST", path, a.token, big, 4096), 200);
    henn_svc_response_free(&rs);
    free(big);

    /* Result of kdd-private: the initial model before any training. */
    {
        uint8_t *mb = NULL, *init = NULL;
        size_t ml = 0, il = 0;
        model_bytes(&mb, &ml, s, &a);
        CHECK_OK(henn_nn_model_serialize(&init, &il, &m));
        CHECK(ml == il && mb != NULL && memcmp(mb, init, il) == 0);
        free(mb);
        free(init);
    }

    /* DELETE: 204, then the token is unknown; the other session lives. */
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    CHECK_EQ_INT(route(s, &rs, "DELETE", path, a.token, NULL, 0), 204);
    CHECK_EQ_INT(rs.body_len, 0);
    henn_svc_response_free(&rs);
    json_decref(route_json(s, 401, "GET", path, a.token, NULL));
    json_decref(route_json(s, 404, "GET", path, b.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s", b.id);
    json_decref(route_json(s, 200, "GET", path, b.token, NULL));
    /* ... and after a restart too; no file holds a's id any more. */
    henn_svc_server_stop(s);
    s = start(dir, NULL, 4096);
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    json_decref(route_json(s, 401, "GET", path, a.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s", b.id);
    json_decref(route_json(s, 200, "GET", path, b.token, NULL));
    henn_svc_server_stop(s);
    {
        size_t files = 0;
        CHECK_EQ_INT(files_with(dir, a.id, 32, &files), 0);
        CHECK(files_with(dir, b.id, 32, &files) >= 1);
    }
    free(body);
    henn_nn_model_clear(&m);
}

/* The tokens file: creating a session needs one of its tokens. */
static void test_tokens_file(void)
{
    henn_svc_server *s;
    henn_svc_server_opts o;
    char dir[300], tokens[300];
    const char *body = "{\"protocol\":\"lr\",\"config\":{}}";
    FILE *f;
    session ss;

    make_dir(dir, sizeof(dir), "tokens");
    snprintf(tokens, sizeof(tokens), "%s/tokens.txt", TMPROOT);
    f = fopen(tokens, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("# server tokens\n\n  c0ffee0123456789  \nsecond-token\n", f);
    fclose(f);
    s = start(dir, tokens, 0);
    json_decref(route_json(s, 401, "POST", "/v1/sessions", NULL, body));
    json_decref(route_json(s, 401, "POST", "/v1/sessions", "c0ffee012345678", body));
    json_decref(route_json(s, 401, "POST", "/v1/sessions", "# server tokens", body));
    create_session(s, &ss, body, "c0ffee0123456789");
    create_session(s, &ss, body, "second-token");
    /* The health check needs no token. */
    json_decref(route_json(s, 200, "GET", "/v1/health", NULL, NULL));
    /* A server token is not a session token. */
    {
        char path[128];
        snprintf(path, sizeof(path), "/v1/sessions/%s", ss.id);
        json_decref(route_json(s, 401, "GET", path, "second-token", NULL));
        json_decref(route_json(s, 200, "GET", path, ss.token, NULL));
    }
    henn_svc_server_stop(s);
    {
        size_t files = 0;
        CHECK_EQ_INT(files_with(dir, "c0ffee0123456789", 16, &files), 0);
        CHECK_EQ_INT(files_with(dir, ss.token, 64, &files), 0);
    }
    /* Before a body is read: creating needs a server token. */
    s = start(dir, tokens, 0);
    CHECK_EQ_INT(henn__svc_preauth(s, "/v1/sessions", NULL), 401);
    CHECK_EQ_INT(henn__svc_preauth(s, "/v1/sessions", "Bearer second-token"), 0);
    henn_svc_server_stop(s);
    /* A missing or empty tokens file is refused at start. */
    henn_svc_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    o.tokens_file = "/nonexistent/tokens";
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EIO);
    f = fopen(tokens, "w");
    if (f != NULL) {
        fputs("# nothing\n", f);
        fclose(f);
    }
    o.tokens_file = tokens;
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
}

/* The server-wide session cap: 507 "sessions" beyond it, room again after
 * a DELETE, the sessions on disk counted after a restart. */
static void test_max_sessions(void)
{
    const char *body = "{\"protocol\":\"lr\",\"config\":{}}";
    henn_svc_server *s;
    session a, b;
    char dir[300], path[128];
    json_t *j;
    make_dir(dir, sizeof(dir), "maxsess");
    MAXSESS = 2;
    s = start(dir, NULL, 0);
    create_session(s, &a, body, NULL);
    create_session(s, &b, body, NULL);
    j = route_json(s, 507, "POST", "/v1/sessions", NULL, body);
    CHECK_EQ_STR(err_code(j), "sessions");
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    json_decref(route_json(s, 204, "DELETE", path, a.token, NULL));
    create_session(s, &a, body, NULL);
    henn_svc_server_stop(s);
    s = start(dir, NULL, 0);
    json_decref(route_json(s, 507, "POST", "/v1/sessions", NULL, body));
    /* Expired sessions do not hold places. */
    henn__svc_server_advance_clock(s, 8 * 24 * 3600);
    create_session(s, &a, body, NULL);
    create_session(s, &b, body, NULL);
    json_decref(route_json(s, 507, "POST", "/v1/sessions", NULL, body));
    henn_svc_server_stop(s);
    MAXSESS = 0;
}

/* Sessions untouched for session_ttl_s (7 days) expire: a request with
 * the session's token then gets 404 and the session is deleted (401
 * afterwards); a message keeps a session alive. */
static void test_expiry(void)
{
    const char *body = "{\"protocol\":\"lr\",\"config\":{}}";
    henn_svc_server *s;
    session a, b;
    char dir[300], path[128];
    make_dir(dir, sizeof(dir), "expiry");
    s = start(dir, NULL, 0);
    create_session(s, &a, body, NULL);
    create_session(s, &b, body, NULL);
    henn__svc_server_advance_clock(s, 6 * 24 * 3600);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", b.id);
    json_decref(route_json(s, 200, "POST", path, b.token, "x"));
    henn__svc_server_advance_clock(s, 2 * 24 * 3600); /* a: 8 days, b: 2 days */
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    json_decref(route_json(s, 404, "GET", path, a.token, NULL));
    json_decref(route_json(s, 401, "GET", path, a.token, NULL));
    snprintf(path, sizeof(path), "/v1/sessions/%s", b.id);
    json_decref(route_json(s, 200, "GET", path, b.token, NULL));
    henn_svc_server_stop(s);
    s = start(dir, NULL, 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s", a.id);
    json_decref(route_json(s, 401, "GET", path, a.token, NULL));
    henn_svc_server_stop(s);
    {
        size_t files = 0;
        CHECK_EQ_INT(files_with(dir, a.id, 32, &files), 0);
    }
}

/* The migration tests' old database: dir (made here, under name), its
 * henn.db path and the hex of tok's hash as sessions.token_hash holds it
 * (for the caller's SQL); old_db_exec runs that SQL on it. */
static void old_db_paths(char *dir, size_t dn, char *db, size_t dbn, const char *name,
                         const char *tok, char hx[65])
{
    uint8_t h[32];
    make_dir(dir, dn, name);
    snprintf(db, dbn, "%s/henn.db", dir);
    crypto_generichash(h, 32, (const uint8_t *)tok, 64, NULL, 0);
    sodium_bin2hex(hx, 65, h, 32);
}

static void old_db_exec(const char *db, const char *sql)
{
    sqlite3 *d = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &d), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(d, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
}

/* A database of schema version 1 (before jobs) is migrated at start: its
 * session answers, and a job record can be stored. Version 99: refused. */
static void test_schema_migration(void)
{
    static const char tok[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char id[] = "0123456789abcdef0123456789abcdef";
    char dir[300], db[400], sql[1200], hx[65];
    sqlite3 *d = NULL;
    henn_svc_server *s;
    henn_svc_server_opts o;
    old_db_paths(dir, sizeof(dir), db, sizeof(db), "schema1", tok, hx);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE schema_version(version INTEGER NOT NULL);"
             "INSERT INTO schema_version VALUES(1);"
             "CREATE TABLE sessions(id TEXT PRIMARY KEY, token_hash BLOB NOT NULL, protocol TEXT "
             "NOT NULL, config TEXT NOT NULL, seq INTEGER NOT NULL, bytes INTEGER NOT NULL, "
             "created INTEGER NOT NULL, touched INTEGER NOT NULL, last_resp BLOB);"
             "CREATE TABLE log(session TEXT NOT NULL, seq INTEGER NOT NULL, req BLOB NOT NULL, "
             "PRIMARY KEY(session, seq));"
             "INSERT INTO sessions VALUES('%s', x'%s', 'lr', '{}', 0, 2, %lld, %lld, NULL);",
             id, hx, (long long)time(NULL), (long long)time(NULL));
    old_db_exec(db, sql);
    s = start(dir, NULL, 0);
    {
        char path[100];
        json_t *j;
        snprintf(path, sizeof(path), "/v1/sessions/%s", id);
        j = route_json(s, 200, "GET", path, tok, NULL);
        CHECK_EQ_STR(json_string_value(json_object_get(j, "protocol")), "lr");
        json_decref(j);
    }
    henn_svc_server_stop(s);
    d = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &d), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(d, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(d);
    henn_svc_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    s = NULL;
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EIO);
}

/* A database of schema version 2 (the last response in the session's
 * row) is migrated at start to version 3 (a table of its own): a retry of
 * the session's last message is answered with the stored bytes, which are
 * then in `last` and no longer in sessions.last_resp; the next retry
 * answers the same; DELETE removes the row from `last` too. */
static void test_schema_migration_v2(void)
{
    static const char tok[] = "2222222222222222222222222222222222222222222222222222222222222222";
    static const char id[] = "fedcba9876543210fedcba9876543210";
    static const uint8_t stored[5] = {0x48, 0x4e, 0x50, 0x01, 0x07};
    char dir[300], db[400], sql[1400], hx[65], path[100];
    sqlite3 *d = NULL;
    sqlite3_stmt *q = NULL;
    henn_svc_server *s;
    henn_svc_response rs;
    int k;
    old_db_paths(dir, sizeof(dir), db, sizeof(db), "schema2", tok, hx);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE schema_version(version INTEGER NOT NULL);"
             "INSERT INTO schema_version VALUES(2);"
             "CREATE TABLE sessions(id TEXT PRIMARY KEY, token_hash BLOB NOT NULL, protocol TEXT "
             "NOT NULL, config TEXT NOT NULL, seq INTEGER NOT NULL, bytes INTEGER NOT NULL, "
             "created INTEGER NOT NULL, touched INTEGER NOT NULL, last_resp BLOB, state BLOB, "
             "job TEXT);"
             "CREATE TABLE log(session TEXT NOT NULL, seq INTEGER NOT NULL, req BLOB NOT NULL, "
             "PRIMARY KEY(session, seq));"
             "INSERT INTO sessions VALUES('%s', x'%s', 'lr', '{}', 1, 7, %lld, %lld, "
             "x'484e500107', NULL, NULL);",
             id, hx, (long long)time(NULL), (long long)time(NULL));
    old_db_exec(db, sql);
    s = start(dir, NULL, 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", id);
    for (k = 0; k < 2; k++) { /* the retry, twice: the stored bytes each time */
        CHECK_EQ_INT(route(s, &rs, "POST", path, tok, "x", 1), 200);
        CHECK(rs.body_len == sizeof(stored) && memcmp(rs.body, stored, sizeof(stored)) == 0);
        henn_svc_response_free(&rs);
    }
    d = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(d,
                                    "SELECT (SELECT version FROM schema_version), "
                                    "(SELECT count(*) FROM sessions WHERE last_resp IS NOT NULL), "
                                    "(SELECT hex(resp) FROM last WHERE session = ?1)",
                                    -1, &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(q, 0), 3);
    CHECK_EQ_INT(sqlite3_column_int(q, 1), 0);
    CHECK_EQ_STR((const char *)sqlite3_column_text(q, 2), "484E500107");
    sqlite3_finalize(q);
    sqlite3_close(d);
    snprintf(path, sizeof(path), "/v1/sessions/%s", id);
    CHECK_EQ_INT(route(s, &rs, "DELETE", path, tok, NULL, 0), 204);
    henn_svc_response_free(&rs);
    henn_svc_server_stop(s);
    d = NULL;
    q = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(d, "SELECT count(*) FROM last", -1, &q, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    sqlite3_close(d);
}

/* Options the server refuses. */
static void test_start_refusals(void)
{
    henn_svc_server *s = NULL;
    henn_svc_server_opts o;
    char dir[300];
    make_dir(dir, sizeof(dir), "refuse");
    henn_svc_server_opts_default(&o);
    o.data_dir = dir;
    o.listen = "0.0.0.0:0"; /* plain HTTP on a non-loopback address */
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
    CHECK(s == NULL);
    o.listen = "127.0.0.1";
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
    o.listen = "127.0.0.1:70000";
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
    o.listen = "127.0.0.1:0";
    o.cert_file = "/nonexistent.pem"; /* a cert without a key */
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
    o.cert_file = NULL;
    o.data_dir = NULL;
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EINVAL);
    o.data_dir = dir;
    o.listen = "[::1]:0";
    if (henn_svc_server_start(&s, &o) == 0) { /* IPv6 may be off */
        CHECK(strncmp(henn_svc_server_url(s), "http://[::1]:", 13) == 0);
        henn_svc_server_stop(s);
    }
    henn_svc_server_stop(NULL);
    /* One server per data directory. */
    {
        henn_svc_server *s1 = start(dir, NULL, 0), *s2 = NULL;
        o.listen = "127.0.0.1:0";
        CHECK_RC(henn_svc_server_start(&s2, &o), HENN_EIO);
        CHECK(s2 == NULL);
        henn_svc_server_stop(s1);
        CHECK_OK(henn_svc_server_start(&s2, &o));
        henn_svc_server_stop(s2);
    }
}

/* A server in a child process (forked, not exec'd) on 127.0.0.1:port (0:
 * any); *bound gets its port once it listens. With crash_after it kills
 * itself (SIGKILL) right after committing that message, before answering.
 * SIGTERM: drain, stop, exit 0. */
static pid_t spawn_server(const char *dir, uint16_t port, uint64_t crash_after, uint16_t *bound)
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
        if (henn_svc_server_start(&s, &o) != 0)
            _exit(3);
        henn__svc_server_allow_insecure(s);
        henn__svc_server_crash_after(s, crash_after);
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

/* The client's transport; when a call fails because the server process
 * died (SIGKILL), the server is started again on the same port and data
 * directory and the call repeated (same seq: the client's seq moves only
 * on success). */
typedef struct kill_tr {
    henn_transport inner;
    pid_t child;
    const char *dir;
    uint16_t port;
    size_t restarts;
} kill_tr;

static int kill_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    kill_tr *k = ctx;
    int rc = k->inner.call(k->inner.ctx, req, req_len, resp, resp_len);
    while (rc != 0 && k->restarts < 3) {
        int st = 0;
        uint16_t bound = 0;
        if (waitpid(k->child, &st, WNOHANG) != k->child || !WIFSIGNALED(st) ||
            WTERMSIG(st) != SIGKILL)
            break;
        k->restarts++;
        k->child = spawn_server(k->dir, k->port, 0, &bound);
        CHECK(k->child > 0 && bound == k->port);
        if (k->child <= 0)
            break;
        rc = k->inner.call(k->inner.ctx, req, req_len, resp, resp_len);
    }
    return rc;
}

/* kill -9 of a real server process right after it committed message 5 (an
 * INFER inside the second batch) and before it answered: the client's
 * retry of the same seq reaches the restarted server, which rebuilds the
 * session from its log and answers from the stored response; the model is
 * the in-process one bit for bit. Then SIGTERM: drain, exit 0. */
static void test_kill9(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    kill_tr k;
    henn_transport tr;
    char dir[300], url[64];
    char *body, *cfg;
    json_t *j;
    uint8_t *got = NULL;
    size_t got_len = 0;
    int st = -1;

    params(&p);
    make_model(&m, &nn);
    make_dir(dir, sizeof(dir), "kill9");
    memset(&k, 0, sizeof(k));
    k.dir = dir;
    k.child = spawn_server(dir, 0, 5, &k.port);
    CHECK(k.child > 0);
    if (k.child <= 0)
        return;
    body = create_body("kdd-private", &m, &nn);
    j = json_loads(body, 0, NULL);
    cfg = json_dumps(json_object_get(j, "config"), JSON_COMPACT);
    json_decref(j);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)k.port);
    memset(&co, 0, sizeof(co));
    co.url = url;
    co.retry_s = 1.0; /* give up soon while the server is dead */
    CHECK_OK(henn_svc_client_create(&c, &co, "kdd-private", cfg));
    henn_svc_client_transport(&k.inner, c);
    memset(&tr, 0, sizeof(tr));
    tr.call = kill_call;
    tr.ctx = &k;
    CHECK_OK(TRAIN_PRIVATE(&tr));
    CHECK_EQ_INT(k.restarts, 1);
    CHECK_OK(henn_svc_client_result(c, &got, &got_len));
    CHECK(got != NULL && WANT != NULL && got_len == WANT_LEN && memcmp(got, WANT, WANT_LEN) == 0);
    CHECK_EQ_INT(kill(k.child, SIGTERM), 0);
    CHECK_EQ_INT(waitpid(k.child, &st, 0), k.child);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    henn_svc_client_free(c);
    free(got);
    free(cfg);
    free(body);
    henn_nn_model_clear(&m);
}

/* HTTPS: a self-signed certificate (openssl), the client verifying it
 * with ca_file; plain HTTP to the HTTPS port gets nothing. */
static void test_tls(void)
{
    char dir[300], cert[300], key[300], cmd[1200], url[64];
    henn_svc_server_opts o;
    henn_svc_server *s = NULL;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    const char *u;

    snprintf(cert, sizeof(cert), "%s/cert.pem", TMPROOT);
    snprintf(key, sizeof(key), "%s/key.pem", TMPROOT);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
             "-out %s -days 2 -subj /CN=localhost -addext "
             "subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tls: skipped (no openssl to make a certificate)\n");
        return;
    }
    make_dir(dir, sizeof(dir), "tls");
    henn_svc_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    o.cert_file = cert;
    o.key_file = key;
    o.log = stderr;
    CHECK_OK(henn_svc_server_start(&s, &o));
    if (s == NULL)
        return;
    u = henn_svc_server_url(s);
    CHECK(strncmp(u, "https://127.0.0.1:", 18) == 0);
    memset(&co, 0, sizeof(co));
    co.url = u;
    co.ca_file = cert;
    co.retry_s = 1.0;
    CHECK_OK(henn_svc_client_create(&c, &co, "lr", "{}"));
    CHECK(c != NULL && strlen(henn_svc_client_session(c)) == 32);
    henn_svc_client_free(c);
    c = NULL;
    /* Without the CA: the certificate is not trusted. */
    co.ca_file = NULL;
    CHECK(henn_svc_client_create(&c, &co, "lr", "{}") != 0);
    henn_svc_client_free(c);
    c = NULL;
    /* Plain HTTP to the HTTPS port. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)henn_svc_server_port(s));
    co.url = url;
    CHECK(henn_svc_client_create(&c, &co, "lr", "{}") != 0);
    henn_svc_client_free(c);
    henn_svc_server_stop(s);
    /* A key that is not one: refused at start. */
    o.key_file = cert;
    s = NULL;
    CHECK_RC(henn_svc_server_start(&s, &o), HENN_EIO);
    CHECK(s == NULL);
}

/* Sessions in parallel: threads each running encrypted inference through
 * its own kdd-infer session on one server, and two threads racing on one
 * session's sequence numbers; every prediction equals the in-process
 * one, no 5xx, the shared session's seq = the messages handled. The
 * threads call the router only (no CHECK from a thread). */
typedef struct par_job {
    henn_svc_server *s;
    session ss;
    uint64_t seq;
    uint8_t pred[BATCH];
    int rc;
} par_job;

static unsigned raw_route(henn_svc_server *s, henn_svc_response *rs, const char *method,
                          const char *path, const char *token, const void *body, size_t len)
{
    henn_svc_request rq;
    char hdr[100];
    snprintf(hdr, sizeof(hdr), "Bearer %s", token);
    rq.method = method;
    rq.path = path;
    rq.authorization = hdr;
    rq.body = body;
    rq.body_len = len;
    if (henn_svc_server_route(s, &rq, rs) != 0)
        return 0;
    return rs->status;
}

static int raw_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    par_job *j = ctx;
    henn_svc_response rs;
    char path[128];
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", j->ss.id,
             (unsigned long long)++j->seq);
    if (raw_route(j->s, &rs, "POST", path, j->ss.token, req, req_len) != 200) {
        henn_svc_response_free(&rs);
        return HENN_EIO;
    }
    *resp = rs.body;
    *resp_len = rs.body_len;
    return 0;
}

static void *par_infer(void *arg)
{
    par_job *j = arg;
    henn_owner *o = NULL;
    henn_proto_params p;
    henn_transport t;
    memset(&t, 0, sizeof(t));
    t.call = raw_call;
    t.ctx = j;
    j->rc = henn_proto_params_default(&p, DIM, 0, mpz_sizeinbase(PK.n, 2));
    p.slots = BATCH;
    if (j->rc == 0)
        j->rc = henn_owner_new(&o, &SK, NULL);
    if (j->rc == 0)
        j->rc = henn_owner_infer(o, &t, &p, X, BATCH, DIM, CLS, j->pred, NULL);
    henn_owner_free(o);
    return NULL;
}

typedef struct race_job {
    henn_svc_server *s;
    const session *ss;
    unsigned handled, bad;
} race_job;

static void *par_race(void *arg)
{
    race_job *r = arg;
    unsigned i;
    for (i = 0; i < 40; i++) {
        char path[128];
        henn_svc_response rs;
        json_t *j;
        uint64_t seq = 0;
        snprintf(path, sizeof(path), "/v1/sessions/%s", r->ss->id);
        if (raw_route(r->s, &rs, "GET", path, r->ss->token, NULL, 0) != 200) {
            r->bad++;
        } else {
            j = json_loadb((const char *)rs.body, rs.body_len, 0, NULL);
            seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
            json_decref(j);
        }
        henn_svc_response_free(&rs);
        snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", r->ss->id,
                 (unsigned long long)seq + 1);
        switch (raw_route(r->s, &rs, "POST", path, r->ss->token, "ping", 4)) {
        case 200:
            r->handled++; /* handled now, or a repeat of the other thread's */
            break;
        case 409:
            break;
        default:
            r->bad++;
        }
        henn_svc_response_free(&rs);
    }
    return NULL;
}

static void test_parallel(void)
{
    enum { T = 4 };
    henn_nn_model m;
    henn_nn_opts nn;
    henn_svc_server *s;
    henn_owner *o = NULL;
    henn_trainer *tr = NULL;
    henn_transport t;
    henn_proto_params p;
    pthread_t th[T + 2];
    static par_job jobs[T];
    race_job race[2];
    session shared;
    char dir[300], path[128], *body;
    uint8_t want[BATCH];
    json_t *j;
    size_t i;

    make_model(&m, &nn);
    params(&p);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_trainer_new(&tr, &m, NULL, NULL));
    henn__trainer_allow_insecure(tr);
    henn_transport_to_trainer(&t, tr);
    CHECK_OK(henn_owner_infer(o, &t, &p, X, BATCH, DIM, CLS, want, NULL));
    henn_trainer_free(tr);
    henn_owner_free(o);

    make_dir(dir, sizeof(dir), "parallel");
    s = start(dir, NULL, 0);
    body = create_body("kdd-infer", &m, NULL);
    create_session(s, &shared, "{\"protocol\":\"lr\",\"config\":{}}", NULL);
    for (i = 0; i < T; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].s = s;
        create_session(s, &jobs[i].ss, body, NULL);
    }
    for (i = 0; i < T; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, par_infer, &jobs[i]), 0);
    for (i = 0; i < 2; i++) {
        race[i].s = s;
        race[i].ss = &shared;
        race[i].handled = race[i].bad = 0;
        CHECK_EQ_INT(pthread_create(&th[T + i], NULL, par_race, &race[i]), 0);
    }
    for (i = 0; i < T + 2; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < T; i++) {
        CHECK_OK(jobs[i].rc);
        CHECK(memcmp(jobs[i].pred, want, BATCH) == 0);
    }
    CHECK_EQ_INT(race[0].bad + race[1].bad, 0);
    snprintf(path, sizeof(path), "/v1/sessions/%s", shared.id);
    j = route_json(s, 200, "GET", path, shared.token, NULL);
    /* Each message was handled once: the seq is at most the 200s seen and
     * at least the 200s of either thread. */
    CHECK(json_integer_value(json_object_get(j, "seq")) >= (json_int_t)race[0].handled);
    CHECK(json_integer_value(json_object_get(j, "seq")) >= (json_int_t)race[1].handled);
    CHECK(json_integer_value(json_object_get(j, "seq")) <=
          (json_int_t)(race[0].handled + race[1].handled));
    json_decref(j);
    henn_svc_server_stop(s);
    free(body);
    henn_nn_model_clear(&m);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[600];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(path);
        else
            unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

/* ---- a job's seeded masks and the party's threads ---- */

/* The owner's upload, recorded on its way to the first trainer. */
typedef struct up_rec {
    henn_trainer *t;
    uint8_t *msg[64];
    size_t len[64], n;
} up_rec;

static int up_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len)
{
    up_rec *u = ctx;
    if (u->n < 64) {
        u->msg[u->n] = malloc(req_len);
        memcpy(u->msg[u->n], req, req_len);
        u->len[u->n++] = req_len;
    }
    return henn_trainer_handle(u->t, req, req_len, resp, resp_len);
}

/* The first batch's two DECRYPT requests, answered honestly, then the
 * "crash" (HENN_EIO). */
typedef struct req_rec {
    henn_owner *o;
    uint8_t *req[2];
    size_t len[2];
    unsigned calls;
} req_rec;

static int req_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    req_rec *r = ctx;
    if (r->calls >= 2)
        return HENN_EIO;
    r->req[r->calls] = malloc(req_len);
    memcpy(r->req[r->calls], req, req_len);
    r->len[r->calls++] = req_len;
    return henn_owner_handle(r->o, req, req_len, resp, resp_len);
}

/* The seeded masks and noise of a job (henn__trainer_set_mask_key) are
 * computed in whole 8-lane groups: a request's bytes (the same state, key
 * and counter) do not depend on the party's threads, with a last group of
 * 1 (9 hidden units: the single-buffer engine) or 5 (13: padded lanes). */
static void test_seeded_masks_threads(void)
{
    static const size_t hid[2] = {9, 13};
    static const unsigned threads[3] = {1, 2, 3};
    uint8_t key[32];
    size_t k, t, i, q;
    for (i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(7 * i + 1);
    for (k = 0; k < 2; k++) {
        size_t dims[3] = {DIM, hid[k], CLS};
        henn_nn_model m;
        henn_nn_opts nn;
        henn_proto_params p;
        henn_owner *o = NULL;
        up_rec up;
        req_rec want;
        params(&p);
        CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 7));
        henn_nn_opts_default(&nn);
        nn.lr = 0.05f;
        nn.max_rows = BATCH;
        CHECK_OK(henn_owner_new(&o, &SK, NULL));
        memset(&up, 0, sizeof(up));
        memset(&want, 0, sizeof(want));
        for (t = 0; t < 3 && o != NULL; t++) {
            henn_batch_opts bo = {threads[t], NULL, NULL};
            henn_trainer *tr = NULL;
            henn_transport tt;
            req_rec got, *r = t == 0 ? &want : &got;
            CHECK_OK(henn_trainer_new(&tr, &m, &nn, &bo));
            if (tr == NULL)
                break;
            henn__trainer_allow_insecure(tr);
            memset(&tt, 0, sizeof(tt));
            if (t == 0) {
                up.t = tr;
                tt.call = up_call;
                tt.ctx = &up;
                CHECK_OK(henn_owner_upload(o, &tt, &p, X, Y, ROWS, DIM));
            } else {
                for (i = 0; i < up.n; i++) {
                    uint8_t *resp = NULL;
                    size_t resp_len = 0;
                    CHECK_OK(henn_trainer_handle(tr, up.msg[i], up.len[i], &resp, &resp_len));
                    CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_OK);
                    free(resp);
                }
            }
            henn__trainer_set_mask_key(tr, key, 0);
            memset(r, 0, sizeof(*r));
            r->o = o;
            memset(&tt, 0, sizeof(tt));
            tt.call = req_call;
            tt.ctx = r;
            CHECK_EQ_INT(henn_trainer_train_epoch(tr, &tt, SEED, NULL, NULL, NULL), HENN_EIO);
            CHECK_EQ_INT(r->calls, 2);
            for (q = 0; t > 0 && q < 2 && q < r->calls && q < want.calls; q++) {
                CHECK_EQ_INT(henn_msg_type(r->req[q], r->len[q]), HENN_MSG_DECRYPT);
                CHECK(r->len[q] == want.len[q] && memcmp(r->req[q], want.req[q], r->len[q]) == 0);
            }
            for (q = 0; t > 0 && q < r->calls; q++)
                free(r->req[q]);
            henn_trainer_free(tr);
        }
        for (q = 0; q < want.calls; q++)
            free(want.req[q]);
        for (i = 0; i < up.n; i++)
            free(up.msg[i]);
        henn_owner_free(o);
        henn_nn_model_clear(&m);
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    if (henn_init() != 0)
        return 1;
    snprintf(TMPROOT, sizeof(TMPROOT), "%s/henn_svc_XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(TMPROOT) == NULL)
        return 1;
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    if (henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE) != 0)
        return 1;
    make_data();
    test_api_errors();
    test_tokens_file();
    test_start_refusals();
    test_max_sessions();
    test_expiry();
    test_schema_migration();
    test_schema_migration_v2();
    test_infer();
    test_lr();
    test_published();
    test_published_http();
    test_seeded_masks_threads();
    test_private_training();
    test_kill9();
    test_tls();
    test_parallel();
    free(WANT);
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    rm_rf(TMPROOT);
    return test_report("test_service_server");
}
