/*
 * CryptoNN over the service (issue 12, "cryptonn-mlp"): the owner's
 * client sends BATCH messages over HTTP, the server's party asks the
 * authority, a third principal with its own token, for keys through the
 * session's server-driven channel; the authority loop
 * (henn_svc_authority_serve) runs on a thread with its own
 * henn_cryptonn_authority. Checks: the model after the batches equals the
 * in-process run's bit for bit, and so does the authority's key log; a
 * restart of the server rebuilds the session by replaying the log (the
 * authority is asked again) and training continues bit-identically; the
 * tokens' roles (the owner cannot use the channel, the authority only
 * can); no msk scalar is anywhere in the server's data directory.
 * Small synthetic 8 x 8 "images" (as tests/protocol/test_cryptonn.c)
 * keep it to seconds.
 */
#include "../test.h"

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>

#include "henn/cryptonn.h"
#include "henn/henn.h"
#include "henn/service.h"

#define D 64
#define B 16
#define H 32
#define C 4
#define NB 4 /* batches before the restart, one more after it */
#define ROWS ((NB + 1) * B)

static uint64_t rs = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static void make_data(float *X, uint8_t *y, size_t rows)
{
    for (size_t r = 0; r < rows; r++) {
        y[r] = (uint8_t)(rnd() % C);
        for (size_t k = 0; k < D; k++) {
            unsigned v = (unsigned)(rnd() % 96);
            if ((k % C) == y[r])
                v += 150;
            X[r * D + k] = (float)v / 255.0f;
        }
    }
}

/* The key log as a running hash of (scheme, op, y) and a count. */
typedef struct keylog {
    crypto_generichash_state h;
    uint64_t n;
} keylog;

static void on_key(void *user, int scheme, int op, const int64_t *y, size_t n)
{
    keylog *l = user;
    int32_t hdr[2] = {scheme, op};
    crypto_generichash_update(&l->h, (const uint8_t *)hdr, sizeof(hdr));
    crypto_generichash_update(&l->h, (const uint8_t *)y, n * sizeof(int64_t));
    l->n++;
}

static void keylog_digest(uint8_t out[32], keylog *l)
{
    crypto_generichash_final(&l->h, out, 32);
    crypto_generichash_init(&l->h, NULL, 0, 32);
}

static int weights_equal(const henn_nn_model *a, const henn_nn_model *b)
{
    if (a->layers != b->layers)
        return 0;
    for (size_t l = 0; l < a->layers; l++) {
        size_t n = a->dims[l] * a->dims[l + 1];
        if (a->dims[l] != b->dims[l] || a->dims[l + 1] != b->dims[l + 1] ||
            memcmp(a->W[l], b->W[l], n * sizeof(float)) != 0 ||
            memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* Server test hook (src/service/svc_internal.h). */
void henn__svc_server_authority_timeout(henn_svc_server *s, unsigned seconds);

static char DATA_D[256], LISTEN[64];
static henn_svc_server *SRV;
static double LOSS_FIRST; /* the in-process loss of the first batch */

static void server_start(const char *listen)
{
    henn_svc_server_opts o;
    henn_svc_server_opts_default(&o);
    o.listen = listen;
    o.data_dir = DATA_D;
    o.threads = 2;
    SRV = NULL;
    CHECK_OK(henn_svc_server_start(&SRV, &o));
}

/* The authority's thread. */
typedef struct auth_run {
    henn_svc_client_opts co;
    char session[33], token[65];
    henn_transport t;
    volatile int stop;
    pthread_mutex_t lock;
    uint64_t answered;
    int rc;
} auth_run;

static int auth_stop(void *user)
{
    auth_run *a = user;
    int s;
    pthread_mutex_lock(&a->lock);
    s = a->stop;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static void *auth_main(void *arg)
{
    auth_run *a = arg;
    a->rc = henn_svc_authority_serve(&a->co, a->session, a->token, &a->t, auth_stop, a,
                                     &a->answered);
    return NULL;
}

/* One request through the router (no network): its status. */
static unsigned route(const char *method, const char *path, const char *token,
                      const uint8_t *body, size_t len)
{
    char authz[128];
    henn_svc_request rq;
    henn_svc_response rsp;
    unsigned st = 0;
    snprintf(authz, sizeof(authz), "Bearer %s", token);
    rq.method = method;
    rq.path = path;
    rq.authorization = authz;
    rq.body = body;
    rq.body_len = len;
    if (henn_svc_server_route(SRV, &rq, &rsp) == 0)
        st = rsp.status;
    henn_svc_response_free(&rsp);
    return st;
}

/* The msk scalars: a FEIP key for the unit vector e_i is s_i (KEYS_IP of
 * docs/FORMATS.md; answer: u32 m, m keys of 41 bytes, the scalar last). */
static int msk_scalars(uint8_t *out, henn_cryptonn_authority *a, uint8_t scheme, uint32_t n)
{
    size_t len = 12 + 9 + (size_t)n * n * 8, resp_len = 0;
    uint8_t *req = calloc(1, len), *resp = NULL;
    uint32_t pl = (uint32_t)(len - 12);
    int rc = -1;
    if (req == NULL)
        return -1;
    memcpy(req, "HCN\x01\x03", 5);
    memcpy(req + 8, &pl, 4); /* little-endian hosts (x86-64, arm64) */
    req[12] = scheme;
    memcpy(req + 13, &n, 4);
    memcpy(req + 17, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        int64_t one = 1;
        memcpy(req + 21 + ((size_t)i * n + i) * 8, &one, 8);
    }
    if (henn_cryptonn_authority_handle(a, req, len, &resp, &resp_len) == 0 &&
        resp_len == 16 + (size_t)n * 41 && resp[4] == 4) {
        for (uint32_t i = 0; i < n; i++)
            memcpy(out + (size_t)i * 32, resp + 16 + (size_t)i * 41 + 9, 32);
        rc = 0;
    }
    free(req);
    free(resp);
    return rc;
}

/* Whether any of the m 32-byte needles occurs in a file under dir. */
static int dir_holds(const char *dir, const uint8_t *needles, size_t m, size_t *files)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && !found) {
        char path[600];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            found = dir_holds(path, needles, m, files);
        } else if (S_ISREG(st.st_mode)) {
            FILE *f = fopen(path, "rb");
            uint8_t *buf = malloc((size_t)st.st_size + 1);
            size_t got = 0;
            if (f != NULL && buf != NULL)
                got = fread(buf, 1, (size_t)st.st_size, f);
            for (size_t i = 0; i < m && !found; i++)
                for (size_t k = 0; k + 32 <= got && !found; k++)
                    found = memcmp(buf + k, needles + i * 32, 32) == 0;
            (*files)++;
            free(buf);
            if (f != NULL)
                fclose(f);
        }
    }
    closedir(d);
    return found;
}

static char *model_b64(const henn_nn_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0, n;
    char *b64;
    if (henn_nn_model_serialize(&buf, &len, m) != 0)
        return NULL;
    n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(n);
    if (b64 != NULL)
        sodium_bin2base64(b64, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    free(buf);
    return b64;
}

static void test_cryptonn_mlp(void)
{
    const size_t dims[] = {D, H, C};
    henn_cryptonn_params p;
    henn_nn_model m, got;
    henn_nn_opts o;
    henn_cryptonn_authority *a1 = NULL, *a2 = NULL;
    henn_cryptonn_client *c1 = NULL, *c2 = NULL;
    henn_cryptonn_server *s1 = NULL;
    henn_transport ta1, ts1, ta2, tsvc;
    henn_svc_client *oc = NULL;
    henn_svc_client_opts co;
    keylog log1, log2;
    uint8_t d1[32], d2[32], *res = NULL, *msk = NULL;
    size_t res_len = 0, files = 0;
    char atok[65], path[200], *cfg = NULL, *b64;
    auth_run ar;
    pthread_t th;
    float *X = malloc(ROWS * D * sizeof(float));
    uint8_t *y = malloc(ROWS);
    double l1[NB + 1], l2[NB + 1];
    int thread_live = 0;
    uint64_t log1_n_at_nb = 0;
    uint8_t d1_nb[32];

    CHECK(X != NULL && y != NULL);
    if (X == NULL || y == NULL)
        goto done;
    make_data(X, y, ROWS);
    henn_cryptonn_params_default(&p, D, B, C);
    CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_model_init_empty(&got);
    henn_nn_opts_default(&o);
    o.max_rows = B;
    crypto_generichash_init(&log1.h, NULL, 0, 32);
    crypto_generichash_init(&log2.h, NULL, 0, 32);
    log1.n = log2.n = 0;

    /* In process: NB batches, then one more (the twin of the restart). */
    CHECK_OK(henn_cryptonn_authority_new(&a1, &p));
    henn_cryptonn_authority_set_log(a1, on_key, &log1);
    henn_transport_to_cryptonn_authority(&ta1, a1);
    CHECK_OK(henn_cryptonn_client_new(&c1, &ta1, 1));
    CHECK_OK(henn_cryptonn_server_new(&s1, &m, &o, &ta1, 1 << 14, 1));
    henn_transport_to_cryptonn_server(&ts1, s1);
    for (size_t i = 0; i < NB + 1 && c1 != NULL && s1 != NULL; i++) {
        CHECK_OK(henn_cryptonn_client_send_batch(c1, &ts1, X + i * B * D, y + i * B, B, &l1[i],
                                                 NULL));
        if (i + 1 == NB) {
            henn_nn_model_clear(&got);
            CHECK_OK(henn_nn_model_copy(&got, henn_cryptonn_server_model(s1)));
            keylog tmp = log1; /* the log so far, without resetting it */
            log1_n_at_nb = log1.n;
            keylog_digest(d1_nb, &tmp);
        }
    }
    keylog_digest(d1, &log1);
    LOSS_FIRST = l1[0];

    /* Over the service. */
    snprintf(DATA_D, sizeof(DATA_D), "/tmp/henn_test_svc_cn_XXXXXX");
    CHECK(mkdtemp(DATA_D) != NULL);
    server_start("127.0.0.1:0");
    if (SRV == NULL)
        goto done;
    snprintf(LISTEN, sizeof(LISTEN), "127.0.0.1:%u", (unsigned)henn_svc_server_port(SRV));
    memset(&co, 0, sizeof(co));
    co.url = henn_svc_server_url(SRV);
    co.retry_s = 60;
    b64 = model_b64(&m);
    CHECK(b64 != NULL);
    cfg = malloc(strlen(b64 ? b64 : "") + 200);
    if (b64 == NULL || cfg == NULL) {
        free(b64);
        goto done;
    }
    sprintf(cfg, "{\"model\": \"%s\", \"nn\": {\"optimizer\": \"adam\"}, \"dlog_table\": 16384}",
            b64);
    free(b64);

    /* A config the protocol refuses: an unknown field. */
    {
        char bad[64];
        snprintf(bad, sizeof(bad), "{\"dlog_table\": 1, \"x\": 1}");
        CHECK_RC(henn_svc_client_create_authority(&oc, atok, &co, "cryptonn-mlp", bad),
                 HENN_EIO);
        CHECK(oc == NULL && atok[0] == '\0');
    }
    CHECK_OK(henn_svc_client_create_authority(&oc, atok, &co, "cryptonn-mlp", cfg));
    if (oc == NULL)
        goto done;
    CHECK(strlen(atok) == 64 && strcmp(atok, henn_svc_client_token(oc)) != 0);

    /* Roles, through the router. */
    snprintf(path, sizeof(path), "/v1/sessions/%s/requests", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("GET", path, henn_svc_client_token(oc), NULL, 0), 403);
    snprintf(path, sizeof(path), "/v1/sessions/%s/requests/1", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("POST", path, henn_svc_client_token(oc), (const uint8_t *)"x", 1), 403);
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/1", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("POST", path, atok, (const uint8_t *)"x", 1), 403);
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("GET", path, atok, NULL, 0), 403);
    snprintf(path, sizeof(path), "/v1/sessions/%s", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("DELETE", path, atok, NULL, 0), 403);
    CHECK_EQ_INT(route("GET", path, atok, NULL, 0), 403);
    snprintf(path, sizeof(path), "/v1/sessions/%s/jobs", henn_svc_client_session(oc));
    CHECK_EQ_INT(route("POST", path, atok, (const uint8_t *)"{}", 2), 403);
    /* The authority loop refuses to run with the owner's token. */
    {
        henn_transport dummy;
        henn_transport_to_cryptonn_authority(&dummy, a1);
        CHECK_RC(henn_svc_authority_serve(&co, henn_svc_client_session(oc),
                                          henn_svc_client_token(oc), &dummy, NULL, NULL, NULL),
                 HENN_EIO);
    }

    /* The authority: its own msk; the owner fetches its mpks out of band. */
    CHECK_OK(henn_cryptonn_authority_new(&a2, &p));
    henn_transport_to_cryptonn_authority(&ta2, a2);
    CHECK_OK(henn_cryptonn_client_new(&c2, &ta2, 1));
    henn_cryptonn_authority_set_log(a2, on_key, &log2);
    memset(&ar, 0, sizeof(ar));
    pthread_mutex_init(&ar.lock, NULL);
    ar.co = co;
    ar.co.url = NULL;
    memcpy(ar.session, henn_svc_client_session(oc), 33);
    memcpy(ar.token, atok, 65);
    ar.t = ta2;
    {
        static char url[64];
        snprintf(url, sizeof(url), "%s", henn_svc_server_url(SRV));
        ar.co.url = url;
    }
    CHECK(pthread_create(&th, NULL, auth_main, &ar) == 0);
    thread_live = 1;

    henn_svc_client_transport(&tsvc, oc);
    for (size_t i = 0; i < NB && c2 != NULL; i++)
        CHECK_OK(henn_cryptonn_client_send_batch(c2, &tsvc, X + i * B * D, y + i * B, B,
                                                 &l2[i], NULL));
    CHECK_OK(henn_svc_client_result(oc, &res, &res_len));
    {
        henn_nn_model r;
        henn_nn_model_init_empty(&r);
        CHECK_OK(henn_nn_model_deserialize(&r, res, res_len));
        CHECK(weights_equal(&r, &got));
        CHECK(!weights_equal(&r, &m)); /* it trained */
        henn_nn_model_clear(&r);
    }
    free(res);
    res = NULL;
    for (size_t i = 0; i < NB; i++)
        CHECK(memcmp(&l1[i], &l2[i], sizeof(double)) == 0);
    keylog_digest(d2, &log2);
    CHECK_EQ_INT(log2.n, log1_n_at_nb);
    CHECK(memcmp(d2, d1_nb, 32) == 0);

    /* Restart on the same port: the session is rebuilt from its log, the
     * authority asked again (the same keys: its log repeats), and the
     * next batch gives the in-process model. */
    /* The authority loop stops first: a poll arriving on a kept-alive
     * connection while the server stops is the daemon's affair
     * (server.c), not this test's. */
    pthread_mutex_lock(&ar.lock);
    ar.stop = 1;
    pthread_mutex_unlock(&ar.lock);
    pthread_join(th, NULL);
    thread_live = 0;
    CHECK_OK(ar.rc);
    CHECK(ar.answered >= 2 * NB + 1); /* the mpks, then keys forward and backward per batch */
    henn_svc_server_stop(SRV);
    server_start(LISTEN);
    if (SRV == NULL)
        goto done;
    ar.stop = 0;
    CHECK(pthread_create(&th, NULL, auth_main, &ar) == 0);
    thread_live = 1;
    log2.n = 0;
    CHECK_OK(henn_cryptonn_client_send_batch(c2, &tsvc, X + NB * B * D, y + NB * B, B, &l2[NB],
                                             NULL));
    CHECK(memcmp(&l1[NB], &l2[NB], sizeof(double)) == 0);
    CHECK_OK(henn_svc_client_result(oc, &res, &res_len));
    {
        henn_nn_model r;
        henn_nn_model_init_empty(&r);
        CHECK_OK(henn_nn_model_deserialize(&r, res, res_len));
        CHECK(s1 != NULL && weights_equal(&r, henn_cryptonn_server_model(s1)));
        henn_nn_model_clear(&r);
    }
    keylog_digest(d2, &log2);
    CHECK_EQ_INT(log2.n, log1.n); /* the replay's NB batches and one more */
    CHECK(memcmp(d2, d1, 32) == 0);

    pthread_mutex_lock(&ar.lock);
    ar.stop = 1;
    pthread_mutex_unlock(&ar.lock);
    pthread_join(th, NULL);
    thread_live = 0;
    CHECK_OK(ar.rc);
    CHECK(ar.answered >= 2 * (NB + 1));

    /* A silent authority: the message fails (504 until the client's
     * retry_s), nothing is committed; with the authority back, the same
     * seq is handled as the first batch. */
    {
        henn_svc_client *oc2 = NULL;
        henn_svc_client_opts co2 = co;
        henn_transport t2;
        char atok2[65];
        double loss = 0;
        co2.url = ar.co.url;
        co2.retry_s = 3;
        henn__svc_server_authority_timeout(SRV, 1);
        CHECK_OK(henn_svc_client_create_authority(&oc2, atok2, &co2, "cryptonn-mlp", cfg));
        if (oc2 != NULL && c2 != NULL) {
            henn_svc_client_transport(&t2, oc2);
            CHECK(henn_cryptonn_client_send_batch(c2, &t2, X, y, B, &loss, NULL) != 0);
            CHECK(strstr(henn_svc_client_error(oc2), "authority") != NULL);
            snprintf(path, sizeof(path), "/v1/sessions/%s", henn_svc_client_session(oc2));
            {
                char authz[128];
                henn_svc_request rq = {"GET", path, authz, NULL, 0};
                henn_svc_response rsp;
                snprintf(authz, sizeof(authz), "Bearer %s", henn_svc_client_token(oc2));
                CHECK_OK(henn_svc_server_route(SRV, &rq, &rsp));
                CHECK_EQ_INT(rsp.status, 200);
                CHECK(rsp.body != NULL && strstr((const char *)rsp.body, "\"seq\":0") != NULL);
                henn_svc_response_free(&rsp);
            }
            /* the authority is back (the loop of the first session, moved) */
            memcpy(ar.session, henn_svc_client_session(oc2), 33);
            memcpy(ar.token, atok2, 65);
            ar.stop = 0;
            CHECK(pthread_create(&th, NULL, auth_main, &ar) == 0);
            thread_live = 1;
            CHECK_OK(henn_cryptonn_client_send_batch(c2, &t2, X, y, B, &loss, NULL));
            CHECK(memcmp(&loss, &LOSS_FIRST, sizeof(double)) == 0);
            pthread_mutex_lock(&ar.lock);
            ar.stop = 1;
            pthread_mutex_unlock(&ar.lock);
            pthread_join(th, NULL);
            thread_live = 0;
            CHECK_OK(ar.rc);
        }
        henn_svc_client_free(oc2);
    }

    henn_svc_server_stop(SRV); /* its files as a stopped server leaves them */
    SRV = NULL;

    /* No msk scalar in the server's files. */
    msk = malloc((D + B) * 32);
    CHECK(msk != NULL);
    if (msk != NULL) {
        CHECK_OK(msk_scalars(msk, a2, 0, D));
        CHECK_OK(msk_scalars(msk + D * 32, a2, 1, B));
        CHECK(!dir_holds(DATA_D, msk, D + B, &files));
        CHECK(files >= 1);
        /* the scan finds what is there */
        {
            char f[300];
            FILE *fp;
            size_t files2 = 0;
            snprintf(f, sizeof(f), "%s/probe.bin", DATA_D);
            fp = fopen(f, "wb");
            if (fp != NULL) {
                fwrite(msk + 5 * 32, 1, 32, fp);
                fclose(fp);
            }
            CHECK(dir_holds(DATA_D, msk, D + B, &files2));
            remove(f);
        }
    }

done:
    if (thread_live) {
        pthread_mutex_lock(&ar.lock);
        ar.stop = 1;
        pthread_mutex_unlock(&ar.lock);
        pthread_join(th, NULL);
    }
    henn_svc_client_free(oc);
    henn_svc_server_stop(SRV);
    SRV = NULL;
    free(cfg);
    free(msk);
    free(res);
    henn_cryptonn_client_free(c1);
    henn_cryptonn_client_free(c2);
    henn_cryptonn_server_free(s1);
    henn_cryptonn_authority_free(a1);
    henn_cryptonn_authority_free(a2);
    henn_nn_model_clear(&m);
    henn_nn_model_clear(&got);
    free(X);
    free(y);
}

/* cryptonn-lenet5: two batches of 4 synthetic 28 x 28 images; the
 * losses, the authority's key log and the /result model (HCNM) equal the
 * in-process server's. */
#define LB 4
static void test_cryptonn_lenet5(void)
{
    henn_cryptonn_params p;
    henn_cnn_model m;
    henn_nn_opts o;
    henn_cryptonn_authority *a1 = NULL, *a2 = NULL;
    henn_cryptonn_client *c1 = NULL, *c2 = NULL;
    henn_cryptonn_lenet *L1 = NULL;
    henn_transport ta1, ts1, ta2, tsvc;
    henn_svc_client *oc = NULL;
    henn_svc_client_opts co;
    keylog log1, log2;
    uint8_t d1[32], d2[32], *res = NULL, yv[2 * LB];
    size_t res_len = 0;
    char atok[65];
    static char url[64];
    auth_run ar;
    pthread_t th;
    float *X = malloc(2 * LB * 784 * sizeof(float));
    double l1[2] = {0, 0}, l2[2] = {1, 1};
    int live = 0;

    memset(&m, 0, sizeof(m));
    CHECK(X != NULL);
    if (X == NULL)
        return;
    for (size_t i = 0; i < 2 * LB; i++) {
        yv[i] = (uint8_t)(rnd() % 10);
        for (size_t k = 0; k < 784; k++)
            X[i * 784 + k] = (float)(rnd() % 256) / 255.0f;
    }
    henn_cryptonn_params_default(&p, 784, LB, 10);
    p.d_bits = 12;
    p.layout = HENN_CRYPTONN_LAYOUT_BATCH;
    henn_cnn_opts_default(&o);
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 3));
    crypto_generichash_init(&log1.h, NULL, 0, 32);
    crypto_generichash_init(&log2.h, NULL, 0, 32);
    log1.n = log2.n = 0;

    CHECK_OK(henn_cryptonn_authority_new(&a1, &p));
    henn_cryptonn_authority_set_log(a1, on_key, &log1);
    henn_transport_to_cryptonn_authority(&ta1, a1);
    CHECK_OK(henn_cryptonn_client_new(&c1, &ta1, 1));
    CHECK_OK(henn_cryptonn_lenet_server_new(&L1, &m, &o, &ta1, 1 << 16, 1));
    henn_transport_to_cryptonn_lenet(&ts1, L1);
    for (size_t i = 0; i < 2 && c1 != NULL && L1 != NULL; i++)
        CHECK_OK(henn_cryptonn_client_send_batch(c1, &ts1, X + i * LB * 784, yv + i * LB, LB,
                                                 &l1[i], NULL));
    keylog_digest(d1, &log1);

    server_start("127.0.0.1:0");
    if (SRV == NULL)
        goto done;
    memset(&co, 0, sizeof(co));
    snprintf(url, sizeof(url), "%s", henn_svc_server_url(SRV));
    co.url = url;
    co.retry_s = 60;
    CHECK_RC(henn_svc_client_create_authority(&oc, atok, &co, "cryptonn-lenet5",
                                              "{\"lenet5\": {\"seed\": 3, \"pad\": 2}}"),
             HENN_EIO);
    CHECK_OK(henn_svc_client_create_authority(
        &oc, atok, &co, "cryptonn-lenet5",
        "{\"lenet5\": {\"seed\": 3, \"pool\": \"max\"}, \"nn\": {\"optimizer\": \"sgd\", "
        "\"lr\": 0.05, \"momentum\": 0.9}, \"dlog_table\": 65536}"));
    if (oc == NULL)
        goto done;
    CHECK_OK(henn_cryptonn_authority_new(&a2, &p));
    henn_transport_to_cryptonn_authority(&ta2, a2);
    CHECK_OK(henn_cryptonn_client_new(&c2, &ta2, 1));
    henn_cryptonn_authority_set_log(a2, on_key, &log2);
    memset(&ar, 0, sizeof(ar));
    pthread_mutex_init(&ar.lock, NULL);
    ar.co = co;
    memcpy(ar.session, henn_svc_client_session(oc), 33);
    memcpy(ar.token, atok, 65);
    ar.t = ta2;
    CHECK(pthread_create(&th, NULL, auth_main, &ar) == 0);
    live = 1;
    henn_svc_client_transport(&tsvc, oc);
    for (size_t i = 0; i < 2 && c2 != NULL; i++)
        CHECK_OK(henn_cryptonn_client_send_batch(c2, &tsvc, X + i * LB * 784, yv + i * LB, LB,
                                                 &l2[i], NULL));
    CHECK(memcmp(l1, l2, sizeof(l1)) == 0 && l1[0] > 0);
    /* The result: the model being trained (HCNM), the in-process server's
     * byte for byte, and it trained. */
    CHECK_OK(henn_svc_client_result(oc, &res, &res_len));
    {
        uint8_t *want = NULL, *init = NULL;
        size_t want_len = 0, init_len = 0;
        henn_cnn_model r;
        CHECK_OK(henn_cnn_model_serialize(&want, &want_len, henn_cryptonn_lenet_model(L1)));
        CHECK_OK(henn_cnn_model_serialize(&init, &init_len, &m));
        CHECK(res != NULL && res_len == want_len && memcmp(res, want, want_len) == 0);
        CHECK(res != NULL && res_len == init_len && memcmp(res, init, init_len) != 0);
        CHECK_OK(henn_cnn_model_deserialize(&r, res, res_len));
        CHECK_EQ_INT(henn_cnn_param_count(&r), 44426);
        henn_cnn_model_clear(&r);
        free(want);
        free(init);
    }
    pthread_mutex_lock(&ar.lock);
    ar.stop = 1;
    pthread_mutex_unlock(&ar.lock);
    pthread_join(th, NULL);
    live = 0;
    CHECK_OK(ar.rc);
    keylog_digest(d2, &log2);
    CHECK(log1.n > 0);
    CHECK(memcmp(d1, d2, 32) == 0);
    CHECK_OK(henn_svc_client_delete(oc));
done:
    if (live) {
        pthread_mutex_lock(&ar.lock);
        ar.stop = 1;
        pthread_mutex_unlock(&ar.lock);
        pthread_join(th, NULL);
    }
    henn_svc_client_free(oc);
    henn_svc_server_stop(SRV);
    SRV = NULL;
    free(res);
    free(X);
    henn_cryptonn_client_free(c1);
    henn_cryptonn_client_free(c2);
    henn_cryptonn_lenet_free(L1);
    henn_cryptonn_authority_free(a1);
    henn_cryptonn_authority_free(a2);
    henn_cnn_model_clear(&m);
}

int main(void)
{
    char cmd[400];
    if (henn_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    test_cryptonn_mlp();
    test_cryptonn_lenet5();
    if (DATA_D[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", DATA_D);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", DATA_D);
    }
    curl_global_cleanup();
    return test_report("test_service_cryptonn");
}
