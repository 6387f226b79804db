/*
 * The service over the network (issue 12): a server started in-process
 * with henn_svc_server_start on 127.0.0.1, port 0, a temporary data dir
 * and a tokens file; the data owner's side runs here through
 * henn_svc_client_* (libcurl). Checks:
 *  - kdd-private training on real KDD rows (intcode, 41-41-5, Adam 0.01,
 *    batch 56, 2048-bit key) over HTTP gives exactly the model bytes of the
 *    in-process run with the same seed: plain, with responses lost on the
 *    way (the client resends the same seq), with one message posted twice
 *    by hand (identical response bytes, the session's seq advanced once),
 *    and with the server stopped and restarted on the same data dir and
 *    port in the middle of training (the client retries until it is back);
 *  - kdd-infer: encrypted inference over HTTP gives the in-process
 *    predictions, also when the client is replaced by one resumed from the
 *    session id and token halfway;
 *  - lr (WDBC, 2 epochs, N = 8192): the in-process run's requests replayed
 *    over HTTP get byte-identical responses, and a whole client run over
 *    HTTP agrees with the in-process weights within CKKS error;
 *  - refusals: wrong and missing server token (401, clear message), another
 *    session's token (404), plain http:// to a non-loopback host, a dead
 *    server (HENN_EIO after retry_s), /result of a protocol without one.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/kdd.h"
#include "henn/lrproto.h"
#include "henn/protocol.h"
#include "henn/service.h"
#include "service/client_internal.h"
#include "../test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Server test hook (src/service/svc_internal.h): small CKKS rings for the
 * sanitizer builds' LR run. */
void henn__svc_server_allow_insecure(henn_svc_server *s);

#define SERVER_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char DATA_D[256], TOKENS[300], LISTEN[64];
static henn_svc_server *SRV;

static void server_start(const char *listen)
{
    henn_svc_server_opts o;
    henn_svc_server_opts_default(&o);
    o.listen = listen;
    o.data_dir = DATA_D;
    o.tokens_file = TOKENS;
    o.threads = 2;
    o.log = stderr;
    SRV = NULL;
    CHECK_OK(henn_svc_server_start(&SRV, &o));
    if (SRV != NULL && SANITIZED)
        henn__svc_server_allow_insecure(SRV);
}

static void client_opts(henn_svc_client_opts *co)
{
    memset(co, 0, sizeof(*co));
    co->url = henn_svc_server_url(SRV);
    co->server_token = SERVER_TOKEN;
    co->retry_s = 60;
}

/* ---- raw HTTP, for what the client never does ---- */

typedef struct buf {
    uint8_t *d;
    size_t n;
} buf;

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    buf *b = u;
    uint8_t *d = realloc(b->d, b->n + s * n + 1);
    if (d == NULL)
        return 0;
    memcpy(d + b->n, p, s * n);
    b->d = d;
    b->n += s * n;
    b->d[b->n] = 0;
    return s * n;
}

/* One request; returns the status (0 on a network error). */
static long http(const char *method, const char *path, const char *token, const uint8_t *body,
                 size_t len, buf *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[512], auth[128];
    long status = 0;
    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "%s%s", henn_svc_server_url(SRV), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* The session's seq as the server reports it (-1 on error). */
static long long session_seq(henn_svc_client *c)
{
    char path[128];
    buf b;
    long long seq = -1;
    const char *p;
    snprintf(path, sizeof(path), "/v1/sessions/%s", henn_svc_client_session(c));
    if (http("GET", path, henn_svc_client_token(c), NULL, 0, &b) == 200 &&
        (p = strstr((const char *)b.d, "\"seq\":")) != NULL)
        seq = strtoll(p + 6, NULL, 10);
    free(b.d);
    return seq;
}

/* ---- a transport in front of another: faults at chosen calls ---- */

typedef struct fault {
    henn_transport *inner;
    henn_svc_client *svc;  /* the session behind inner */
    uint64_t calls;
    uint64_t repost_at;    /* post this call's seq again by hand */
    uint64_t restart_at;   /* stop the server before this call, restart it 0.3 s later */
    int reposted, restarted;
    pthread_t th;
} fault;

static void *restart_later(void *u)
{
    struct timespec ts = {0, 300000000L};
    (void)u;
    nanosleep(&ts, NULL);
    server_start(LISTEN);
    return NULL;
}

static int fault_call(void *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                      size_t *resp_len)
{
    fault *f = ctx;
    int rc;
    f->calls++;
    if (f->calls == f->restart_at) {
        snprintf(LISTEN, sizeof(LISTEN), "127.0.0.1:%u", (unsigned)henn_svc_server_port(SRV));
        henn_svc_server_stop(SRV);
        SRV = NULL;
        CHECK(pthread_create(&f->th, NULL, restart_later, NULL) == 0);
        f->restarted = 1;
    }
    rc = henn_transport_call(f->inner, req, len, resp, resp_len);
    if (rc == 0 && f->calls == f->repost_at) {
        char path[160];
        buf b;
        long st;
        long long before = session_seq(f->svc);
        snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu",
                 henn_svc_client_session(f->svc),
                 (unsigned long long)henn__svc_client_seq(f->svc));
        st = http("POST", path, henn_svc_client_token(f->svc), req, len, &b);
        CHECK_EQ_INT(st, 200);
        CHECK(b.n == *resp_len && memcmp(b.d, *resp, b.n) == 0);
        CHECK_EQ_INT(session_seq(f->svc), before);
        CHECK_EQ_INT(before, (long long)f->calls);
        /* the seq after next is out of order: 409 */
        free(b.d);
        snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu",
                 henn_svc_client_session(f->svc),
                 (unsigned long long)henn__svc_client_seq(f->svc) + 2);
        CHECK_EQ_INT(http("POST", path, henn_svc_client_token(f->svc), req, len, &b), 409);
        free(b.d);
        f->reposted = 1;
    }
    return rc;
}

/* ---- KDD data ---- */

/* 4 batches of 56 and 500 test rows; 2 batches and 200 under the
 * sanitizers (the same checks, a fifth of the time) */
#define KROWS (SANITIZED ? 112 : 224)
#define KTEST (SANITIZED ? 200 : 500)
#define KDIM 41
static float *KX;
static uint8_t KY[KROWS + KTEST];
static henn_paillier_pk PK;
static henn_paillier_sk SK;
static henn_proto_params KP;
static henn_nn_model KINIT;
static henn_nn_opts KNN;

static int kdd_setup(void)
{
    henn_kdd_set tr;
    henn_kdd_prep prep;
    size_t idx[KROWS + KTEST], dims[3] = {KDIM, 41, HENN_KDD_CLASSES}, i;
    int rc;
    henn_kdd_set_init(&tr);
    henn_kdd_prep_init(&prep);
    rc = henn_kdd_load(&tr, DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", 60000, 0, NULL);
    if (rc == 0)
        rc = henn_kdd_subset(idx, KROWS + KTEST, tr.rows, 3);
    if (rc == 0)
        rc = henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, 0);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&KX, NULL, &prep, &tr, idx, KROWS + KTEST);
    for (i = 0; rc == 0 && i < KROWS + KTEST; i++)
        KY[i] = tr.y[idx[i]];
    if (rc == 0 && prep.dim != KDIM)
        rc = HENN_EINVAL;
    if (rc == 0)
        rc = henn_nn_model_init(&KINIT, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1);
    henn_nn_opts_default(&KNN);
    KNN.lr = 0.01f;
    KNN.max_rows = 56;
    if (rc == 0)
        rc = henn_paillier_keygen(&PK, &SK, 2048, 0);
    if (rc == 0)
        rc = henn_proto_params_default(&KP, KDIM, 0, 2048);
    KP.slots = 56;
    henn_kdd_set_clear(&tr);
    henn_kdd_prep_clear(&prep);
    return rc;
}

/* The kdd-private session's config: the model in base64 and the options. */
static char *kdd_private_config(const henn_nn_model *m)
{
    uint8_t *mb = NULL;
    size_t ml = 0, bl;
    char *b64, *cfg = NULL;
    if (henn_nn_model_serialize(&mb, &ml, m) != 0)
        return NULL;
    bl = sodium_base64_encoded_len(ml, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(bl);
    cfg = malloc(bl + 512);
    if (b64 && cfg) {
        sodium_bin2base64(b64, bl, mb, ml, sodium_base64_VARIANT_ORIGINAL);
        snprintf(cfg, bl + 512,
                 "{\"model\":\"%s\",\"nn\":{\"optimizer\":\"adam\",\"lr\":%.9g,\"momentum\":"
                 "%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g}}",
                 b64, (double)KNN.lr, (double)KNN.momentum, (double)KNN.beta1,
                 (double)KNN.beta2, (double)KNN.eps);
    }
    free(b64);
    free(mb);
    return cfg;
}

static int train_private(henn_transport *t, uint64_t *calls)
{
    int rc = henn_owner_train_private(t, &SK, &KP, KX, KY, KROWS, KDIM, HENN_KDD_CLASSES, 56,
                                      1, 5, NULL, NULL, NULL, NULL);
    if (calls)
        *calls = t->calls;
    return rc;
}

/* kdd-private over HTTP with the faults of f (f->inner is set here); the
 * model bytes into *mb. */
static void private_over_http(fault *f, unsigned drop_every, uint8_t **mb, size_t *ml,
                              uint64_t *calls)
{
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    henn_transport st, ft;
    char *cfg = kdd_private_config(&KINIT);
    int rc;

    *mb = NULL;
    *ml = 0;
    *calls = 0;
    client_opts(&co);
    CHECK(cfg != NULL);
    rc = henn_svc_client_create(&c, &co, "kdd-private", cfg);
    CHECK_OK(rc);
    free(cfg);
    if (rc != 0) {
        fprintf(stderr, "create: %s\n", henn_svc_client_error(c));
        henn_svc_client_free(c);
        return;
    }
    henn__svc_client_drop_responses(c, drop_every);
    henn_svc_client_transport(&st, c);
    f->inner = &st;
    f->svc = c;
    memset(&ft, 0, sizeof(ft));
    ft.call = fault_call;
    ft.ctx = f;
    rc = train_private(&ft, calls);
    CHECK_OK(rc);
    if (rc != 0)
        fprintf(stderr, "training over HTTP: %s\n", henn_svc_client_error(c));
    if (f->restarted)
        CHECK(pthread_join(f->th, NULL) == 0);
    /* one message per call, each handled once */
    CHECK_EQ_INT(henn__svc_client_seq(c), st.calls);
    CHECK_EQ_INT(session_seq(c), (long long)st.calls);
    if (drop_every > 0)
        CHECK(henn__svc_client_retries(c) >= st.calls / drop_every);
    if (f->restarted) /* connection refused while the server was down */
        CHECK(henn__svc_client_retries(c) >= 1);
    CHECK_OK(henn_svc_client_result(c, mb, ml));
    CHECK_OK(henn_svc_client_delete(c));
    henn_svc_client_free(c);
}

static void test_kdd_private(henn_nn_model *trained)
{
    henn_private_trainer *t = NULL;
    henn_transport lt;
    uint8_t *ref = NULL, *mb;
    size_t rl = 0, ml, i;
    uint64_t calls_local = 0, calls = 0;
    fault f;

    /* in-process */
    CHECK_OK(henn_private_trainer_new(&t, &KINIT, &KNN, NULL));
    henn_transport_to_private_trainer(&lt, t);
    CHECK_OK(train_private(&lt, &calls_local));
    CHECK_OK(henn_nn_model_serialize(&ref, &rl, henn_private_trainer_model(t)));
    CHECK_OK(henn_nn_model_copy(trained, henn_private_trainer_model(t)));
    henn_private_trainer_free(t);
    CHECK(calls_local >= 5);

    for (i = 0; i < 4; i++) {
        const char *what[] = {"plain", "responses lost", "message posted twice",
                              "server restarted"};
        memset(&f, 0, sizeof(f));
        if (i == 2)
            f.repost_at = 4;
        if (i == 3)
            f.restart_at = calls_local / 2;
        private_over_http(&f, i == 1 ? 3 : 0, &mb, &ml, &calls);
        CHECK_EQ_INT(calls, calls_local);
        CHECK(mb != NULL && ml == rl && memcmp(mb, ref, rl) == 0);
        if (i == 2)
            CHECK(f.reposted);
        if (i == 3)
            CHECK(f.restarted);
        printf("kdd-private over HTTP (%s): %llu messages, model %s the in-process one "
               "(%zu bytes)\n",
               what[i], (unsigned long long)calls,
               mb && ml == rl && memcmp(mb, ref, rl) == 0 ? "identical to" : "DIFFERS from",
               ml);
        free(mb);
    }
    free(ref);
}

/* kdd-infer: config {"model": base64}. */
static char *kdd_infer_config(const henn_nn_model *m)
{
    char *c = kdd_private_config(m), *e;
    /* drop the "nn" object: {"model":"..."} */
    if (c && (e = strstr(c, ",\"nn\"")) != NULL)
        strcpy(e, "}");
    return c;
}

static void test_kdd_infer(const henn_nn_model *m)
{
    henn_owner *owner = NULL;
    henn_trainer *tr = NULL;
    henn_transport lt, st;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL, *c2 = NULL;
    uint8_t pl[KTEST], ph[KTEST], pp[KTEST];
    const float *T = KX + KROWS * KDIM;
    char *cfg = kdd_infer_config(m);
    size_t i, same = 0, half = KTEST / 2;
    int rc;

    memset(ph, 0xff, sizeof(ph));
    CHECK_OK(henn_owner_new(&owner, &SK, NULL));
    CHECK_OK(henn_trainer_new(&tr, m, NULL, NULL));
    henn_transport_to_trainer(&lt, tr);
    CHECK_OK(henn_owner_infer(owner, &lt, &KP, T, KTEST, KDIM, HENN_KDD_CLASSES, pl, NULL));
    CHECK_OK(henn_nn_predict(pp, m, T, KTEST));

    client_opts(&co);
    rc = henn_svc_client_create(&c, &co, "kdd-infer", cfg);
    CHECK_OK(rc);
    if (rc == 0) {
        henn_svc_client_transport(&st, c);
        CHECK_OK(henn_owner_infer(owner, &st, &KP, T, half, KDIM, HENN_KDD_CLASSES, ph, NULL));
        /* the client process "restarts": a new client from id and token */
        CHECK_RC(henn_svc_client_resume(&c2, &co, henn_svc_client_session(c),
                                        "ffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                        "ffffffffffff"),
                 HENN_EIO);
        CHECK(strstr(henn_svc_client_error(c2), "401") != NULL);
        henn_svc_client_free(c2);
        CHECK_OK(henn_svc_client_resume(&c2, &co, henn_svc_client_session(c),
                                        henn_svc_client_token(c)));
        CHECK_EQ_INT(henn__svc_client_seq(c2), henn__svc_client_seq(c));
        henn_svc_client_transport(&st, c2);
        CHECK_OK(henn_owner_infer(owner, &st, &KP, T + half * KDIM, KTEST - half, KDIM,
                                  HENN_KDD_CLASSES, ph + half, NULL));
        {
            uint8_t *r = NULL;
            size_t rl = 0;
            CHECK_RC(henn_svc_client_result(c2, &r, &rl), HENN_EIO);
            CHECK(strstr(henn_svc_client_error(c2), "403") != NULL);
            free(r);
        }
        CHECK_OK(henn_svc_client_delete(c2));
    }
    for (i = 0; i < KTEST; i++)
        same += pp[i] == ph[i];
    CHECK(memcmp(pl, ph, KTEST) == 0);
    printf("kdd-infer over HTTP: %zu records, predictions %s the in-process ones (%.1f%% equal "
           "to plaintext)\n",
           (size_t)KTEST, memcmp(pl, ph, KTEST) == 0 ? "identical to" : "DIFFER from",
           100.0 * (double)same / KTEST);
    henn_svc_client_free(c);
    henn_svc_client_free(c2);
    henn_owner_free(owner);
    henn_trainer_free(tr);
    free(cfg);
}

/* ---- LR ---- */

typedef struct rec {
    henn_transport *inner;
    uint8_t **req, **resp;
    size_t *req_len, *resp_len, n, cap;
} rec;

static int rec_call(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *rl)
{
    rec *r = ctx;
    int rc = henn_transport_call(r->inner, req, len, resp, rl);
    if (rc == 0 && r->n < r->cap) {
        r->req[r->n] = malloc(len ? len : 1);
        r->resp[r->n] = malloc(*rl ? *rl : 1);
        memcpy(r->req[r->n], req, len);
        memcpy(r->resp[r->n], *resp, *rl);
        r->req_len[r->n] = len;
        r->resp_len[r->n] = *rl;
        r->n++;
    }
    return rc;
}

static void test_lr(void)
{
    henn_lr_data tr, te;
    henn_lr_opts o;
    henn_lr_model m1, m2;
    henn_lr_client *cli = NULL, *cli2 = NULL;
    henn_lr_server *srv = NULL;
    /* N = 8192 (degree 3 fits); 4096 under the sanitizers (tests only) */
    henn_lr_client_opts lo = {.N = SANITIZED ? 4096 : 8192,
                              .flags = SANITIZED ? HENN_LR_INSECURE_TEST : 0};
    henn_lr_server_limits lim;
    henn_transport lt, rt, st;
    henn_svc_client_opts co;
    henn_svc_client *c = NULL;
    rec r;
    size_t i, same = 0;
    double d = 0;

    memset(&r, 0, sizeof(r));
    r.cap = 4096;
    r.req = calloc(r.cap, sizeof(*r.req));
    r.resp = calloc(r.cap, sizeof(*r.resp));
    r.req_len = calloc(r.cap, sizeof(size_t));
    r.resp_len = calloc(r.cap, sizeof(size_t));
    CHECK_OK(henn_lr_load_wdbc(&tr, &te, DATA_DIR "/wdbc/wdbc.data", 1, NULL, 0));
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_WDBC, tr.rows));
    o.sigmoid = HENN_LR_SIGMOID_LS3_8; /* degree 3: N = 8192 holds it */
    o.epochs = 2;
    CHECK_OK(henn_lr_model_init(&m1, tr.dim));
    CHECK_OK(henn_lr_model_init(&m2, tr.dim));

    /* in-process, recorded */
    henn_lr_server_limits_default(&lim);
    lim.allow_insecure = SANITIZED;
    CHECK_OK(henn_lr_server_new(&srv, &lim, NULL));
    henn_transport_to_lr_server(&lt, srv);
    r.inner = &lt;
    memset(&rt, 0, sizeof(rt));
    rt.call = rec_call;
    rt.ctx = &r;
    CHECK_OK(henn_lr_client_new(&cli, &lo));
    CHECK_OK(henn_lr_client_train(cli, &rt, &m1, &tr, &o, NULL, NULL));

    /* the same requests over HTTP: the same response bytes */
    client_opts(&co);
    CHECK_OK(henn_svc_client_create(&c, &co, "lr", "{}"));
    henn_svc_client_transport(&st, c);
    for (i = 0; i < r.n; i++) {
        uint8_t *resp = NULL;
        size_t rl = 0;
        CHECK_OK(henn_transport_call(&st, r.req[i], r.req_len[i], &resp, &rl));
        same += rl == r.resp_len[i] && memcmp(resp, r.resp[i], rl) == 0;
        free(resp);
    }
    CHECK_EQ_INT(same, r.n);
    CHECK_OK(henn_svc_client_delete(c));
    henn_svc_client_free(c);
    c = NULL;

    /* a whole client run over HTTP (its own keys and noise) */
    CHECK_OK(henn_svc_client_create(&c, &co, "lr", "{}"));
    henn_svc_client_transport(&st, c);
    CHECK_OK(henn_lr_client_new(&cli2, &lo));
    CHECK_OK(henn_lr_client_train(cli2, &st, &m2, &tr, &o, NULL, NULL));
    d = fabs(m1.b - m2.b);
    for (i = 0; i < tr.dim; i++)
        d = fmax(d, fabs(m1.w[i] - m2.w[i]));
    CHECK(d < 1e-3);
    CHECK_OK(henn_svc_client_delete(c));
    printf("lr over HTTP (WDBC, 2 epochs, N = %zu): %zu messages replayed, %zu responses "
           "byte-identical; a client run over HTTP: weights within %.2g of in-process\n",
           lo.N, r.n, same, d);
    henn_svc_client_free(c);
    henn_lr_client_free(cli);
    henn_lr_client_free(cli2);
    henn_lr_server_free(srv);
    henn_lr_model_clear(&m1);
    henn_lr_model_clear(&m2);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
    for (i = 0; i < r.n; i++) {
        free(r.req[i]);
        free(r.resp[i]);
    }
    free(r.req);
    free(r.resp);
    free(r.req_len);
    free(r.resp_len);
}

/* ---- refusals ---- */

static void test_refusals(void)
{
    henn_svc_client_opts co;
    henn_svc_client *c = NULL, *c2 = NULL;
    buf b;
    char path[160];

    client_opts(&co);
    co.server_token = "00000000000000000000000000000000000000000000000000000000000000ff";
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EIO);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), "401") != NULL);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), co.server_token) == NULL);
    henn_svc_client_free(c);
    co.server_token = NULL;
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EIO);
    henn_svc_client_free(c);
    client_opts(&co);
    CHECK_RC(henn_svc_client_create(&c, &co, "no-such-protocol", "{}"), HENN_EIO);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), "400") != NULL);
    henn_svc_client_free(c);
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "[1]"), HENN_EINVAL);
    henn_svc_client_free(c);

    /* one session's token does not open another session: 404 */
    CHECK_OK(henn_svc_client_create(&c, &co, "lr", "{}"));
    CHECK_OK(henn_svc_client_create(&c2, &co, "lr", "{}"));
    snprintf(path, sizeof(path), "/v1/sessions/%s", henn_svc_client_session(c2));
    CHECK_EQ_INT(http("GET", path, henn_svc_client_token(c), NULL, 0, &b), 404);
    free(b.d);
    CHECK_EQ_INT(http("GET", path, NULL, NULL, 0, &b), 401);
    free(b.d);
    CHECK_OK(henn_svc_client_delete(c2));
    /* a deleted session's token is no token at all */
    CHECK_EQ_INT(http("GET", path, henn_svc_client_token(c2), NULL, 0, &b), 401);
    free(b.d);
    CHECK_OK(henn_svc_client_delete(c));
    henn_svc_client_free(c);
    henn_svc_client_free(c2);

    /* URLs the client refuses before sending anything */
    co.url = "http://192.0.2.1:8443";
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EINVAL);
    CHECK(c != NULL && strstr(henn_svc_client_error(c), "http://") != NULL);
    henn_svc_client_free(c);
    co.url = "ftp://127.0.0.1:1";
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EINVAL);
    henn_svc_client_free(c);
    /* nothing listens: HENN_EIO after retry_s */
    co.url = "http://127.0.0.1:1";
    co.retry_s = 0.3;
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EIO);
    CHECK(c != NULL && henn__svc_client_retries(c) >= 1);
    henn_svc_client_free(c);
    /* a name that does not resolve: no retries at creation */
    co.url = "https://no-such-host.invalid:1";
    co.retry_s = 30;
    CHECK_RC(henn_svc_client_create(&c, &co, "lr", "{}"), HENN_EIO);
    CHECK(c != NULL && henn__svc_client_retries(c) == 0);
    henn_svc_client_free(c);
    CHECK_RC(henn_svc_client_resume(&c, &co, "0123", SERVER_TOKEN), HENN_EINVAL);
    henn_svc_client_free(c);
}

int main(void)
{
    henn_nn_model trained;
    FILE *f;
    char cmd[700];
    if (henn_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    snprintf(DATA_D, sizeof(DATA_D), "/tmp/henn_test_svc_net_XXXXXX");
    if (mkdtemp(DATA_D) == NULL)
        return 1;
    snprintf(TOKENS, sizeof(TOKENS), "%s.tokens", DATA_D);
    f = fopen(TOKENS, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "%s\n", SERVER_TOKEN);
    fclose(f);
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    henn_nn_model_init_empty(&trained);
    server_start("127.0.0.1:0");
    CHECK(SRV != NULL && henn_svc_server_port(SRV) != 0);
    CHECK(SRV != NULL && strncmp(henn_svc_server_url(SRV), "http://127.0.0.1:", 17) == 0);
    if (SRV == NULL || kdd_setup() != 0)
        return test_report("test_service_net");
    test_refusals();
    test_kdd_private(&trained);
    if (SRV != NULL)
        test_kdd_infer(&trained);
    if (SRV != NULL)
        test_lr();
    henn_svc_server_stop(SRV);
    henn_nn_model_clear(&trained);
    henn_nn_model_clear(&KINIT);
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    free(KX);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", DATA_D, TOKENS);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", DATA_D);
    curl_global_cleanup();
    return test_report("test_service_net");
}
