/*
 * CKKS logistic-regression protocol tests (henn/lrproto.h): the encrypted
 * gradient steps against the plaintext twin (henn_lr_train with the same
 * polynomial, steps and start) after every epoch on Framingham and WDBC,
 * mini-batches, refreshes that keep the values, the server's view (only
 * ciphertexts and public keys: no feature, label, weight or secret-key
 * bytes in anything it receives or holds), malformed, truncated and lying
 * messages to both parties, and encrypted inference against plaintext.
 * Figures (time per epoch, samples/s, bytes per sample, records/s) are
 * printed, never asserted.
 *
 * Release builds use the default parameters (N = 16384, 128-bit); builds
 * with a sanitizer use N = 4096 with HENN_LR_INSECURE_TEST (tests only).
 */
#include "../test.h"

#include <math.h>
#include <sys/resource.h>

#include "henn/henn.h"
#include "henn/lrproto.h"
#include "protocol/lr_wire.h"

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned long rng_state = 0x5eed;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* ---- parties ---- */

typedef struct party {
    henn_lr_server *srv;
    henn_lr_client *cli;
    henn_transport t;
} party;

static size_t main_N(void)
{
    return SANITIZED ? 4096 : 16384;
}

static void party_open(party *p, size_t N)
{
    henn_lr_server_limits lim;
    henn_lr_server_limits_default(&lim);
    lim.allow_insecure = N < 8192;
    CHECK_OK(henn_lr_server_new(&p->srv, &lim, NULL));
    henn_transport_to_lr_server(&p->t, p->srv);
    henn_lr_client_opts co = {.N = N, .flags = N < 8192 ? HENN_LR_INSECURE_TEST : 0};
    CHECK_OK(henn_lr_client_new(&p->cli, &co));
}

static void party_close(party *p)
{
    henn_lr_client_free(p->cli);
    henn_lr_server_free(p->srv);
    memset(p, 0, sizeof(*p));
}

/* Models after every epoch. */
typedef struct history {
    size_t epochs, dim;
    double w[64][64];
    double b[64];
} history;

static void record_epoch(void *user, size_t epoch, const henn_lr_model *m)
{
    history *h = user;
    if (epoch == 0 || epoch > 64 || m->dim > 64)
        return;
    memcpy(h->w[epoch - 1], m->w, m->dim * sizeof(double));
    h->b[epoch - 1] = m->b;
    h->epochs = epoch;
    h->dim = m->dim;
}

/* Largest |encrypted - plaintext| over every weight and the bias, per epoch. */
static double history_diff(const history *a, const history *b, size_t *epochs)
{
    double worst = 0;
    *epochs = a->epochs < b->epochs ? a->epochs : b->epochs;
    for (size_t e = 0; e < *epochs; e++) {
        double d = fabs(a->b[e] - b->b[e]);
        for (size_t j = 0; j < a->dim; j++)
            d = fmax(d, fabs(a->w[e][j] - b->w[e][j]));
        worst = fmax(worst, d);
    }
    return worst;
}

static double accuracy_of(const henn_lr_model *m, const henn_lr_data *d)
{
    double *s = malloc(d->rows * sizeof(double));
    henn_lr_metrics met = {0};
    CHECK(s != NULL);
    CHECK_OK(henn_lr_predict(s, m, d));
    CHECK_OK(henn_lr_metrics_compute(&met, s, d->y, d->rows));
    free(s);
    return met.accuracy;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- the twin ---- */

static void twin_run(const char *name, const henn_lr_data *tr, const henn_lr_data *te,
                     const henn_lr_opts *o, size_t N, double min_acc)
{
    party p;
    party_open(&p, N);
    static history he, hp;
    memset(&he, 0, sizeof(he));
    memset(&hp, 0, sizeof(hp));
    henn_lr_model me, mp;
    CHECK_OK(henn_lr_model_init(&me, tr->dim));
    CHECK_OK(henn_lr_model_init(&mp, tr->dim));
    double t0 = now_s();
    CHECK_OK(henn_lr_client_train(p.cli, &p.t, &me, tr, o, record_epoch, &he));
    double t_enc = now_s() - t0;
    t0 = now_s();
    CHECK_OK(henn_lr_train(&mp, tr, o, record_epoch, &hp));
    double t_plain = now_s() - t0;
    size_t epochs;
    double diff = history_diff(&he, &hp, &epochs);
    CHECK_EQ_INT(epochs, o->epochs);
    CHECK(diff <= 1e-3);
    double acc_e = accuracy_of(&me, te), acc_p = accuracy_of(&mp, te);
    CHECK(fabs(acc_e - acc_p) <= 0.01);
    CHECK(acc_e >= min_acc);

    henn_lr_client_stats cs;
    henn_lr_server_stats ss;
    henn_lr_client_get_stats(&cs, p.cli);
    henn_lr_server_get_stats(&ss, p.srv);
    CHECK_EQ_INT(cs.steps, o->epochs);
    CHECK_EQ_INT(cs.refreshes, o->epochs - 1);
    CHECK_EQ_INT(ss.steps, o->epochs);
    printf("%s: N=%zu primes=%zu (scale 2^%zu) B=%zu s=%zu, %zu rows in %llu ct, depth %zu/step\n",
           name, cs.N, cs.data_primes, cs.scale_bits, cs.block, cs.samples_per_ct, tr->rows,
           (unsigned long long)cs.ciphertexts, cs.depth_per_step);
    printf("  max |w_enc - w_plain| over %zu epochs: %.3g; accuracy %.4f (plaintext %.4f)\n",
           epochs, diff, acc_e, acc_p);
    printf("  server %.3f s/epoch (%.0f samples/s), run %.3f s incl. keygen %.3f s, "
           "setup %.3f s; plaintext run %.4f s\n",
           ss.step_s / (double)o->epochs, (double)tr->rows * (double)o->epochs / ss.step_s,
           t_enc, cs.keygen_s, ss.setup_s, t_plain);
    printf("  encrypt %.3f s, refreshes %.3f s (%llu), keys %.1f MB, upload %.0f bytes/sample, "
           "server holds %.1f MB, peak RSS %.0f MB\n",
           cs.encrypt_s, cs.refresh_s, (unsigned long long)cs.refreshes,
           (double)cs.key_bytes / 1e6, (double)cs.data_bytes / (double)tr->rows,
           (double)ss.held_bytes / 1e6, (double)peak_rss_kb() / 1024.0);
    henn_lr_model_clear(&me);
    henn_lr_model_clear(&mp);
    party_close(&p);
}

static void test_twin_framingham(void)
{
    henn_lr_data tr = {0}, te = {0};
    char err[HENN_LR_ERRLEN];
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", err,
                                     sizeof(err)));
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    CHECK_EQ_INT(o.sigmoid, HENN_LR_SIGMOID_POLY3);
    twin_run("framingham (sigma3, alpha 1, lambda/m 0.05, 5 epochs)", &tr, &te, &o, main_N(),
             0.70);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* N = 8192 (218 bits): degree 3 on {49, 40, 40, 40, 49}; degree 5 has no
 * chain there and is refused. */
static void test_n8192(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    o.epochs = SANITIZED ? 2 : 5;
    twin_run("framingham at N = 8192", &tr, &te, &o, 8192, SANITIZED ? 0.6 : 0.70);
    party p;
    party_open(&p, 8192);
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    o.sigmoid = HENN_LR_SIGMOID_LS5_8;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &m, &tr, &o, NULL, NULL), HENN_EPARAM);
    henn_lr_model_clear(&m);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

static void test_twin_wdbc(void)
{
    henn_lr_data tr = {0}, te = {0};
    char err[HENN_LR_ERRLEN];
    CHECK_OK(henn_lr_load_wdbc(&tr, &te, DATA_DIR "/wdbc/wdbc.data", 1, err, sizeof(err)));
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_WDBC, tr.rows));
    CHECK_EQ_INT(o.sigmoid, HENN_LR_SIGMOID_LS5_8);
    if (SANITIZED) { /* a shorter run under the sanitizers: 10 epochs */
        o.epochs = 10;
        twin_run("wdbc (ls5, alpha 0.3, lambda 1, 10 epochs)", &tr, &te, &o, main_N(), 0.90);
    } else {
        twin_run("wdbc (ls5, alpha 0.3, lambda 1, 15 epochs)", &tr, &te, &o, main_N(), 0.95);
    }
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* Mini-batches of two ciphertexts, degree-3 least squares, and options the
 * protocol refuses. */
static void test_minibatch(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    party p;
    party_open(&p, 4096);
    size_t s = henn_lr_client_batch_unit(p.cli, tr.dim);
    CHECK_EQ_INT(s, 128); /* N/2 / 16 */
    henn_lr_opts o = {.epochs = 3, .alpha = 0.5, .lambda = 2.0, .batch = 2 * s,
                      .sigmoid = HENN_LR_SIGMOID_LS3_8};
    static history he, hp;
    memset(&he, 0, sizeof(he));
    memset(&hp, 0, sizeof(hp));
    henn_lr_model me, mp;
    CHECK_OK(henn_lr_model_init(&me, tr.dim));
    CHECK_OK(henn_lr_model_init(&mp, tr.dim));
    for (size_t j = 0; j < tr.dim; j++)
        me.w[j] = mp.w[j] = urand() - 0.5; /* the same start, not zeros */
    me.b = mp.b = 0.25;
    CHECK_OK(henn_lr_client_train(p.cli, &p.t, &me, &tr, &o, record_epoch, &he));
    CHECK_OK(henn_lr_train(&mp, &tr, &o, record_epoch, &hp));
    size_t epochs;
    double diff = history_diff(&he, &hp, &epochs);
    CHECK_EQ_INT(epochs, 3);
    CHECK(diff <= 1e-3);
    henn_lr_client_stats cs;
    henn_lr_client_get_stats(&cs, p.cli);
    CHECK_EQ_INT(cs.steps, 3 * 4); /* 780 rows = 7 ct, batches of 2 ct: 4 steps/epoch */
    printf("mini-batch (2 ct = %zu rows, ls3, 3 epochs, N=4096): max diff %.3g\n", 2 * s, diff);

    /* refused: a batch that is not whole ciphertexts, shuffled batches,
     * Nesterov, the exact sigmoid, records too large, labels not 0/1 */
    henn_lr_opts bad = o;
    bad.batch = s + 1;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &bad, NULL, NULL), HENN_EINVAL);
    bad = o;
    bad.shuffle = 1;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &bad, NULL, NULL), HENN_EINVAL);
    bad = o;
    bad.nesterov = 0.5;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &bad, NULL, NULL), HENN_EINVAL);
    bad = o;
    bad.sigmoid = HENN_LR_SIGMOID_EXACT;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &bad, NULL, NULL), HENN_EINVAL);
    bad = o;
    bad.alpha = NAN;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &bad, NULL, NULL), HENN_EINVAL);
    double keep = tr.X[3];
    tr.X[3] = 65.0;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &o, NULL, NULL), HENN_EINVAL);
    tr.X[3] = keep;
    keep = tr.y[5];
    tr.y[5] = 2.0;
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &me, &tr, &o, NULL, NULL), HENN_EINVAL);
    tr.y[5] = keep;
    henn_lr_model wrong;
    CHECK_OK(henn_lr_model_init(&wrong, tr.dim + 1));
    CHECK_RC(henn_lr_client_train(p.cli, &p.t, &wrong, &tr, &o, NULL, NULL), HENN_EINVAL);
    henn_lr_model_clear(&wrong);
    /* other client options */
    henn_lr_client *c2;
    henn_lr_client_opts co = {.N = 4096};
    CHECK_RC(henn_lr_client_new(&c2, &co), HENN_EINVAL); /* insecure without the flag */
    co.N = 12288;
    co.flags = HENN_LR_INSECURE_TEST;
    CHECK_RC(henn_lr_client_new(&c2, &co), HENN_EINVAL);
    co.N = 8192;
    co.flags = 4;
    CHECK_RC(henn_lr_client_new(&c2, &co), HENN_EINVAL);
    CHECK_EQ_INT(henn_lr_client_batch_unit(p.cli, 0), 0);
    CHECK_EQ_INT(henn_lr_client_batch_unit(p.cli, 255), 0);
    henn_lr_server *s2;
    henn_lr_server_limits lim;
    henn_lr_server_limits_default(&lim);
    lim.max_primes = 1;
    CHECK_RC(henn_lr_server_new(&s2, &lim, NULL), HENN_EINVAL);
    CHECK_RC(henn_lr_proto_recommended(&o, 7, 10), HENN_EINVAL);
    henn_lr_model_clear(&me);
    henn_lr_model_clear(&mp);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* A refresh is decrypt, round to 2^-30, fresh encryption: with small
 * steps (alpha 1e-5, no L2) from weights of size up to 2, twenty refreshes
 * must track the plaintext twin to 1e-6, far inside the 1e-3 of training. */
static void test_refresh_keeps_values(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_wdbc(&tr, &te, DATA_DIR "/wdbc/wdbc.data", 1, NULL, 0));
    party p;
    party_open(&p, 4096);
    henn_lr_opts o = {.epochs = 20, .alpha = 1e-5, .lambda = 0,
                      .sigmoid = HENN_LR_SIGMOID_LS5_8};
    henn_lr_model m, mp;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    CHECK_OK(henn_lr_model_init(&mp, tr.dim));
    for (size_t j = 0; j < tr.dim; j++)
        m.w[j] = mp.w[j] = (4.0 * urand() - 2.0) / 8.0;
    m.b = mp.b = -1.5;
    CHECK_OK(henn_lr_client_train(p.cli, &p.t, &m, &tr, &o, NULL, NULL));
    CHECK_OK(henn_lr_train(&mp, &tr, &o, NULL, NULL));
    double worst = fabs(m.b - mp.b);
    for (size_t j = 0; j < tr.dim; j++)
        worst = fmax(worst, fabs(m.w[j] - mp.w[j]));
    CHECK(worst <= 1e-6);
    henn_lr_client_stats cs;
    henn_lr_client_get_stats(&cs, p.cli);
    CHECK_EQ_INT(cs.refreshes, 19);
    CHECK_EQ_INT(cs.out_of_range, 0);
    printf("refresh: 19 refreshes, largest difference from the twin %.3g\n", worst);
    henn_lr_model_clear(&m);
    henn_lr_model_clear(&mp);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* ---- what the server sees ---- */

typedef struct logger {
    henn_transport inner;
    uint8_t **msgs;
    size_t *lens, count, cap;
    /* optional tampering of the next response */
    int (*tamper)(void *user, uint8_t **resp, size_t *resp_len);
    void *tamper_user;
} logger;

static int log_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    logger *lg = ctx;
    if (lg->msgs != NULL || lg->cap == 0) {
        if (lg->count == lg->cap) {
            lg->cap = lg->cap ? 2 * lg->cap : 64;
            lg->msgs = realloc(lg->msgs, lg->cap * sizeof(*lg->msgs));
            lg->lens = realloc(lg->lens, lg->cap * sizeof(*lg->lens));
        }
        lg->msgs[lg->count] = malloc(req_len);
        memcpy(lg->msgs[lg->count], req, req_len);
        lg->lens[lg->count++] = req_len;
    }
    int rc = henn_transport_call(&lg->inner, req, req_len, resp, resp_len);
    if (rc == 0 && lg->tamper != NULL)
        rc = lg->tamper(lg->tamper_user, resp, resp_len);
    return rc;
}

static void logger_free(logger *lg)
{
    for (size_t i = 0; i < lg->count; i++)
        free(lg->msgs[i]);
    free(lg->msgs);
    free(lg->lens);
    memset(lg, 0, sizeof(*lg));
}

/* Every object of the server's view, concatenated. */
typedef struct blob {
    uint8_t *p;
    size_t len;
    size_t objects[5];
} blob;

static void view_collect(void *user, int kind, const uint8_t *obj, size_t obj_len)
{
    blob *b = user;
    b->p = realloc(b->p, b->len + obj_len);
    memcpy(b->p + b->len, obj, obj_len);
    b->len += obj_len;
    if (kind >= 1 && kind <= 4)
        b->objects[kind]++;
}

/* Occurrences of any needle (each at least 8 bytes) anywhere in hay: one
 * pass with a hash table on the needles' first 8 bytes. */
typedef struct needle {
    const void *p;
    size_t len;
} needle;

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static size_t count_hits(const uint8_t *hay, size_t n, const needle *nd, size_t count)
{
    size_t cap = 16, hits = 0;
    while (cap < 4 * count)
        cap *= 2;
    uint64_t *keys = calloc(cap, sizeof(uint64_t));
    long *idx = malloc(cap * sizeof(long));
    for (size_t i = 0; i < cap; i++)
        idx[i] = -1;
    for (size_t i = 0; i < count; i++) {
        uint64_t k = load64(nd[i].p);
        size_t h = (size_t)(k * 0x9e3779b97f4a7c15ULL >> 40) & (cap - 1);
        while (idx[h] != -1)
            h = (h + 1) & (cap - 1);
        keys[h] = k;
        idx[h] = (long)i;
    }
    for (size_t pos = 0; pos + 8 <= n; pos++) {
        uint64_t k = load64(hay + pos);
        size_t h = (size_t)(k * 0x9e3779b97f4a7c15ULL >> 40) & (cap - 1);
        for (; idx[h] != -1; h = (h + 1) & (cap - 1)) {
            const needle *q = &nd[idx[h]];
            if (keys[h] == k && pos + q->len <= n && memcmp(hay + pos, q->p, q->len) == 0)
                hits++;
        }
    }
    free(keys);
    free(idx);
    return hits;
}

/* The CKKS object type of a blob, or -1. */
static int blob_type(const uint8_t *b, size_t n, const henn_ckks_params *params)
{
    int type;
    size_t len;
    if (henn_ckks_serialized_info(&type, &len, params, b, n) != 0 || len != n)
        return -1;
    return type;
}

/* Walk a request: every blob must be a CKKS object of an allowed type. */
static int request_ok(const uint8_t *msg, size_t len, const henn_ckks_params *params)
{
    henn__lr_rbuf r;
    int type;
    size_t n;
    const uint8_t *b;
    if (henn__lr_ropen(&r, &type, msg, len) != 0)
        return 0;
    switch (type) {
    case HENN_LR_MSG_KEYS:
        (void)henn__lr_ru32(&r);
        b = henn__lr_rblob(&r, &n);
        if (b == NULL || blob_type(b, n, NULL) != HENN_CKKS_OBJ_PARAMS)
            return 0;
        b = henn__lr_rblob(&r, &n);
        if (b == NULL || blob_type(b, n, params) != HENN_CKKS_OBJ_RELIN_KEY)
            return 0;
        b = henn__lr_rblob(&r, &n);
        if (b == NULL || blob_type(b, n, params) != HENN_CKKS_OBJ_GALOIS_KEYS)
            return 0;
        return henn__lr_rdone(&r) == 0;
    case HENN_LR_MSG_DATA:
    case HENN_LR_MSG_STEP:
        (void)henn__lr_ru32(&r);
        if (type == HENN_LR_MSG_DATA)
            (void)henn__lr_ru32(&r);
        b = henn__lr_rblob(&r, &n);
        return b != NULL && blob_type(b, n, params) == HENN_CKKS_OBJ_CT_SEEDED &&
               henn__lr_rdone(&r) == 0;
    case HENN_LR_MSG_TRAIN:
        return len == HENN__LR_HEADER + 4 + 8 + 8 + 4 + 4;
    case HENN_LR_MSG_MODEL:
        if (henn__lr_ru32(&r) != 0)
            return 0; /* only the encrypted model in this test */
        b = henn__lr_rblob(&r, &n);
        return b != NULL && blob_type(b, n, params) == HENN_CKKS_OBJ_CT_SEEDED &&
               henn__lr_rdone(&r) == 0;
    case HENN_LR_MSG_INFER: {
        uint32_t count = henn__lr_ru32(&r);
        for (uint32_t i = 0; i < count; i++) {
            b = henn__lr_rblob(&r, &n);
            if (b == NULL || blob_type(b, n, params) != HENN_CKKS_OBJ_CT_SEEDED)
                return 0;
        }
        return henn__lr_rdone(&r) == 0;
    }
    default:
        return 0;
    }
}

static void test_server_view(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    party p;
    party_open(&p, 4096);
    logger lg = {.inner = p.t};
    henn_transport t = {.call = log_call, .ctx = &lg};
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    o.epochs = 3;
    o.alpha = 0.9; /* the server stores alpha; 1.0 is also the label pattern */
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    CHECK_OK(henn_lr_client_train(p.cli, &t, &m, &tr, &o, NULL, NULL));
    double *scores = malloc(te.rows * sizeof(double));
    CHECK_OK(henn_lr_client_infer(p.cli, &t, scores, &m, &te, 0));

    /* every request parses as ciphertexts and public keys only */
    const henn_ckks_sk *sk = henn__lr_client_sk(p.cli);
    CHECK(sk != NULL);
    const henn_ckks_params *params = sk->params;
    size_t types[16] = {0};
    for (size_t i = 0; i < lg.count; i++) {
        CHECK(request_ok(lg.msgs[i], lg.lens[i], params));
        int ty = henn_lr_msg_type(lg.msgs[i], lg.lens[i]);
        if (ty >= 0 && ty < 16)
            types[ty]++;
    }
    CHECK_EQ_INT(types[HENN_LR_MSG_KEYS], 1);
    CHECK_EQ_INT(types[HENN_LR_MSG_DATA], 7);
    CHECK_EQ_INT(types[HENN_LR_MSG_TRAIN], 1);
    CHECK_EQ_INT(types[HENN_LR_MSG_STEP], 3);
    CHECK_EQ_INT(types[HENN_LR_MSG_MODEL], 1);
    CHECK_EQ_INT(types[HENN_LR_MSG_INFER], 1);

    /* everything the server received or holds, in one buffer */
    blob all = {0};
    for (size_t i = 0; i < lg.count; i++)
        view_collect(&all, 0, lg.msgs[i], lg.lens[i]);
    size_t received = all.len;
    CHECK_OK(henn_lr_server_view(p.srv, view_collect, &all));
    CHECK_EQ_INT(all.objects[HENN_LR_VIEW_PARAMS], 1);
    CHECK_EQ_INT(all.objects[HENN_LR_VIEW_KEY], 2);
    CHECK(all.objects[HENN_LR_VIEW_CT] >= 7 + 7 + 1 + 1); /* X, X', K, W, model */

    /* no feature value, label or weight as a double; no run of the secret key */
    uint8_t *skb = NULL;
    size_t skn = 0;
    CHECK_OK(henn_ckks_sk_serialize(&skb, &skn, sk));
    size_t nn = 0, cap = tr.rows * tr.dim + m.dim + 64;
    needle *nd = calloc(cap, sizeof(*nd));
    static const double one = 1.0;
    for (size_t i = 0; i < tr.rows * tr.dim; i++)
        if (tr.X[i] != 0.0)
            nd[nn++] = (needle){&tr.X[i], sizeof(double)};
    nd[nn++] = (needle){&one, sizeof(double)};
    for (size_t j = 0; j < m.dim; j++)
        nd[nn++] = (needle){&m.w[j], sizeof(double)};
    nd[nn++] = (needle){&m.b, sizeof(double)};
    size_t data_needles = nn;
    for (size_t off = 28; off + 32 <= skn; off += skn / 16)
        nd[nn++] = (needle){skb + off, 32};
    for (size_t off = 0; off + 4 <= params->N; off += params->N / 16) /* s, NTT form */
        nd[nn++] = (needle){sk->s + off, 4 * sizeof(uint64_t)};
    CHECK_EQ_INT(count_hits(all.p, all.len, nd, data_needles), 0);
    CHECK_EQ_INT(count_hits(all.p, all.len, nd + data_needles, nn - data_needles), 0);
    /* the scan finds what it looks for */
    CHECK(count_hits(skb, skn, nd + data_needles, nn - data_needles) >= 1);
    free(nd);
    printf("server view: %zu requests (%zu bytes) and %zu held objects scanned: only params, "
           "relinearisation and Galois keys, ciphertexts and the public options\n",
           lg.count, received, all.objects[1] + all.objects[2] + all.objects[3]);
    henn_free(skb, skn);
    free(all.p);
    free(scores);
    logger_free(&lg);
    henn_lr_model_clear(&m);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* ---- malformed messages ---- */

/* The server's answer to msg: must be a well-formed ERROR. */
static int server_refuses(henn_lr_server *s, const uint8_t *msg, size_t len)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc = henn_lr_server_handle(s, msg, len, &resp, &resp_len);
    int code = rc == 0 ? henn__lr_error_code(resp, resp_len) : rc;
    free(resp);
    return code < 0 ? code : 0;
}

static uint8_t *copy_msg(const uint8_t *m, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, m, n);
    return c;
}

/* Rewrite the payload length after editing a message's size. */
static void fix_len(uint8_t *m, size_t n)
{
    size_t pl = n - HENN__LR_HEADER;
    m[8] = (uint8_t)(pl >> 24);
    m[9] = (uint8_t)(pl >> 16);
    m[10] = (uint8_t)(pl >> 8);
    m[11] = (uint8_t)pl;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_malformed_server(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    party p;
    party_open(&p, 4096);
    logger lg = {.inner = p.t};
    henn_transport t = {.call = log_call, .ctx = &lg};
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    o.epochs = 2;
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    CHECK_OK(henn_lr_client_train(p.cli, &t, &m, &tr, &o, NULL, NULL));
    double *scores = malloc(te.rows * sizeof(double));
    CHECK_OK(henn_lr_client_infer(p.cli, &t, scores, &m, &te, HENN_LR_INFER_PLAIN_MODEL));
    /* lg: KEYS, DATA x 7, TRAIN, STEP x 2, MODEL (plain), INFER */
    CHECK_EQ_INT(lg.count, 13);
    const uint8_t *keys = lg.msgs[0], *data0 = lg.msgs[1], *train = lg.msgs[8],
                  *step1 = lg.msgs[10], *model = lg.msgs[11], *infer = lg.msgs[12];
    size_t keys_n = lg.lens[0], data0_n = lg.lens[1], train_n = lg.lens[8],
           step1_n = lg.lens[10], model_n = lg.lens[11], infer_n = lg.lens[12];
    henn_lr_server *s = p.srv;
    size_t refused = 0;

    /* truncations of every type (the server's session survives them) */
    const uint8_t *all[6] = {keys, data0, train, step1, model, infer};
    size_t all_n[6] = {keys_n, data0_n, train_n, step1_n, model_n, infer_n};
    for (int i = 0; i < 6; i++) {
        size_t cuts[7] = {0, 5, 11, 12, 13, all_n[i] / 2, all_n[i] - 1};
        for (int c = 0; c < 7; c++) {
            uint8_t *x = copy_msg(all[i], cuts[c]);
            if (cuts[c] >= HENN__LR_HEADER)
                fix_len(x, cuts[c]); /* a consistent header over a short payload */
            int code = server_refuses(s, x, cuts[c]);
            CHECK(code < 0);
            refused += code < 0;
            free(x);
        }
    }
    /* headers: magic, reserved bytes, unknown type, response types, length */
    uint8_t *x = copy_msg(train, train_n);
    x[0] = 'X';
    CHECK_RC(server_refuses(s, x, train_n), HENN_EFORMAT);
    memcpy(x, train, train_n);
    x[6] = 1;
    CHECK_RC(server_refuses(s, x, train_n), HENN_EFORMAT);
    memcpy(x, train, train_n);
    x[4] = 77;
    CHECK_RC(server_refuses(s, x, train_n), HENN_EFORMAT);
    for (int ty = HENN_LR_MSG_ERROR; ty <= HENN_LR_MSG_SCORES; ty++)
        if (ty == HENN_LR_MSG_OK || ty == HENN_LR_MSG_WEIGHTS || ty == HENN_LR_MSG_SCORES ||
            ty == HENN_LR_MSG_ERROR) {
            memcpy(x, train, train_n);
            x[4] = (uint8_t)ty;
            CHECK(server_refuses(s, x, train_n) < 0);
        }
    memcpy(x, train, train_n);
    put_be32(x + 8, (uint32_t)train_n); /* length says more than there is */
    CHECK_RC(server_refuses(s, x, train_n), HENN_EFORMAT);
    /* TRAIN lies: NaN alpha, epochs 0, unknown and exact sigmoids, more
     * ciphertexts per batch than stored, steps beyond the limit */
    const size_t P0 = HENN__LR_HEADER;
    memcpy(x, train, train_n);
    put_be32(x + P0, 0); /* exact */
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    put_be32(x + P0, 9);
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    memcpy(x, train, train_n);
    memset(x + P0 + 4, 0xff, 8); /* alpha NaN */
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    memcpy(x, train, train_n);
    put_be32(x + P0 + 20, 99); /* cts per batch */
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    memcpy(x, train, train_n);
    put_be32(x + P0 + 24, 0); /* epochs */
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    put_be32(x + P0 + 24, 0xffffffffu);
    CHECK_RC(server_refuses(s, x, train_n), HENN_EPROTO);
    free(x);
    /* DATA lies: rows beyond s, an index out of order, a blob longer than
     * the message, a ciphertext of other params */
    x = copy_msg(data0, data0_n);
    put_be32(x + P0 + 4, 129);
    CHECK_RC(server_refuses(s, x, data0_n), HENN_EPROTO);
    put_be32(x + P0 + 4, 0);
    CHECK_RC(server_refuses(s, x, data0_n), HENN_EPROTO);
    memcpy(x, data0, data0_n);
    put_be32(x + P0, 99);
    CHECK_RC(server_refuses(s, x, data0_n), HENN_EPROTO);
    memcpy(x, data0, data0_n);
    put_be32(x + P0 + 8, (uint32_t)data0_n);
    CHECK_RC(server_refuses(s, x, data0_n), HENN_EFORMAT);
    memcpy(x, data0, data0_n);
    x[P0 + 12 + 12] ^= 1; /* the ciphertext's params fingerprint */
    CHECK_RC(server_refuses(s, x, data0_n), HENN_EKEY);
    free(x);
    /* STEP lies: a step number that is not next, weights at a level too low */
    x = copy_msg(step1, step1_n);
    put_be32(x + P0, 0);
    CHECK_RC(server_refuses(s, x, step1_n), HENN_EPROTO);
    put_be32(x + P0, 7);
    CHECK_RC(server_refuses(s, x, step1_n), HENN_EPROTO);
    free(x);
    /* MODEL and INFER lies */
    x = copy_msg(model, model_n);
    put_be32(x + P0, 5);
    CHECK_RC(server_refuses(s, x, model_n), HENN_EPROTO);
    memcpy(x, model, model_n);
    memset(x + P0 + 4, 0x7f, 8); /* weight NaN */
    CHECK_RC(server_refuses(s, x, model_n), HENN_EPROTO);
    free(x);
    x = copy_msg(infer, infer_n);
    put_be32(x + P0, 1000000);
    CHECK_RC(server_refuses(s, x, infer_n), HENN_EPROTO);
    put_be32(x + P0, 0);
    CHECK_RC(server_refuses(s, x, infer_n), HENN_EPROTO);
    free(x);
    /* KEYS lies: N above the limit, too many Galois keys (both refused
     * before anything is built), a Galois key set without a needed step */
    x = copy_msg(keys, keys_n);
    x[P0 + 4 + 4 + 12 + 2] = 0x01; /* params N: 4096 -> 69632 */
    CHECK_RC(server_refuses(s, x, keys_n), HENN_EPARAM);
    free(x);
    {
        henn__lr_rbuf r;
        int ty;
        size_t pn, rn, gn;
        CHECK_OK(henn__lr_ropen(&r, &ty, keys, keys_n));
        (void)henn__lr_ru32(&r);
        const uint8_t *pb = henn__lr_rblob(&r, &pn), *rb = henn__lr_rblob(&r, &rn),
                      *gb = henn__lr_rblob(&r, &gn);
        CHECK(gb != NULL);
        size_t goff = (size_t)(gb - keys);
        x = copy_msg(keys, keys_n);
        x[goff + 28] = 0xff;
        x[goff + 29] = 0xff; /* count 65535+ */
        CHECK_RC(server_refuses(s, x, keys_n), HENN_EPARAM);
        free(x);
        /* Galois keys of the same params but missing the step s = 128 */
        henn_ckks_params pp = {0};
        henn_ckks_sk sk2 = {0};
        henn_ckks_pk pk2 = {0};
        henn_ckks_galois_keys g2 = {0};
        CHECK_OK(henn_ckks_params_deserialize(&pp, pb, pn, HENN_CKKS_INSECURE));
        CHECK_OK(henn_ckks_keygen(&sk2, &pk2, &pp));
        int steps[4] = {1, 2, 4, 8};
        CHECK_OK(henn_ckks_galois_keygen(&g2, &sk2, steps, 4, 0));
        uint8_t *gbuf = NULL;
        size_t glen = 0;
        CHECK_OK(henn_ckks_galois_keys_serialize(&gbuf, &glen, &g2));
        henn__lr_wbuf w;
        henn__lr_wstart(&w, HENN_LR_MSG_KEYS);
        henn__lr_wu32(&w, (uint32_t)tr.dim);
        henn__lr_wblob(&w, pb, pn);
        henn__lr_wblob(&w, rb, rn);
        henn__lr_wblob(&w, gbuf, glen);
        uint8_t *km;
        size_t kn;
        CHECK_OK(henn__lr_wfinish(&w, &km, &kn));
        CHECK_RC(server_refuses(s, km, kn), HENN_EKEY);
        /* dim too large for the ring */
        put_be32(km + P0, 4000);
        CHECK_RC(server_refuses(s, km, kn), HENN_EPROTO);
        free(km);
        henn_free(gbuf, glen);
        henn_ckks_galois_keys_clear(&g2);
        henn_ckks_pk_clear(&pk2);
        henn_ckks_sk_clear(&sk2);
        henn_ckks_params_clear(&pp);
    }
    /* random payloads behind valid headers of every type */
    uint8_t buf[600];
    for (int i = 0; i < 600; i++) {
        size_t n = HENN__LR_HEADER + (size_t)(urand() * 500);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)(urand() * 256);
        memcpy(buf, "HNL\x01", 4);
        buf[4] = (uint8_t)(i % 10);
        buf[5] = buf[6] = buf[7] = 0;
        fix_len(buf, n);
        int code = server_refuses(s, buf, n);
        CHECK(code < 0);
        refused += code < 0;
    }
    /* the session survived all of it: the next step still runs, and
     * inference with the plaintext model still scores */
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    CHECK_OK(henn_lr_server_handle(s, infer, infer_n, &resp, &resp_len));
    CHECK_EQ_INT(henn_lr_msg_type(resp, resp_len), HENN_LR_MSG_SCORES);
    free(resp);
    henn_lr_server_stats ss;
    henn_lr_server_get_stats(&ss, s);
    CHECK(ss.errors >= refused);
    printf("malformed: %zu truncated, lying or random messages refused with error responses\n",
           (size_t)ss.errors);
    free(scores);
    logger_free(&lg);
    henn_lr_model_clear(&m);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* Responses the client must refuse. */
typedef struct tamper_plan {
    int kind, calls;
} tamper_plan;

static int tamper_resp(void *user, uint8_t **resp, size_t *resp_len)
{
    tamper_plan *tp = user;
    int ty = henn_lr_msg_type(*resp, *resp_len);
    if (ty != HENN_LR_MSG_WEIGHTS && ty != HENN_LR_MSG_SCORES)
        return 0;
    tp->calls++;
    uint8_t *r = *resp;
    switch (tp->kind) {
    case 0: /* step number */
        if (ty == HENN_LR_MSG_WEIGHTS)
            r[HENN__LR_HEADER + 3] ^= 1;
        break;
    case 1: /* truncated */
        *resp_len -= 1;
        fix_len(r, *resp_len);
        break;
    case 2: /* a trailing byte */
        r = realloc(r, *resp_len + 1);
        r[(*resp_len)++] = 0;
        fix_len(r, *resp_len);
        *resp = r;
        break;
    case 3: /* the ciphertext's scale (the f64 after size and level) */
        r[*resp_len - 1] ^= 0x55; /* also a residue; then the scale: */
        {
            size_t off = HENN__LR_HEADER + (ty == HENN_LR_MSG_WEIGHTS ? 12 : 8) + 12 + 16 + 8;
            r[off + 6] ^= 0x10;
        }
        break;
    case 4: /* the type: OK instead */
        r[4] = HENN_LR_MSG_OK;
        break;
    case 5: /* an error response */
        free(r);
        *resp = NULL;
        return henn__lr_msg_error(resp, resp_len, HENN_ENOMEM);
    }
    return 0;
}

static void test_malformed_client(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    party p;
    party_open(&p, 4096);
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    o.epochs = 1;
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    double *scores = malloc(te.rows * sizeof(double));
    const int want[6] = {HENN_EPROTO, HENN_EPROTO, HENN_EPROTO, HENN_EPROTO, HENN_EPROTO,
                         HENN_ENOMEM};
    for (int k = 0; k < 6; k++) {
        tamper_plan tp = {.kind = k};
        logger lg = {.inner = p.t, .cap = 1, .tamper = tamper_resp, .tamper_user = &tp};
        henn_transport t = {.call = log_call, .ctx = &lg};
        m.w[0] = 0.5;
        CHECK_RC(henn_lr_client_train(p.cli, &t, &m, &tr, &o, NULL, NULL), want[k]);
        CHECK_EQ_DBL(m.w[0], 0.5); /* the starting weights are kept */
        if (k != 0)
            CHECK_RC(henn_lr_client_infer(p.cli, &t, scores, &m, &te, 0), want[k]);
        CHECK(tp.calls >= 1);
    }
    /* parsers directly: a ciphertext from the server of a level other than
     * the one asked for, and of other params */
    henn_lr_model_clear(&m);
    free(scores);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* ---- inference ---- */

static void test_inference(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", NULL, 0));
    party p;
    party_open(&p, main_N());
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_FRAMINGHAM, tr.rows));
    CHECK_OK(henn_lr_train(&m, &tr, &o, NULL, NULL));
    /* many records: the test rows repeated to 16 ciphertexts' worth */
    size_t per_ct = henn_lr_client_batch_unit(p.cli, tr.dim), rows = 16 * per_ct;
    henn_lr_data big = {.rows = rows, .dim = te.dim};
    big.X = malloc(rows * te.dim * sizeof(double));
    for (size_t i = 0; i < rows; i++)
        memcpy(big.X + i * te.dim, te.X + (i % te.rows) * te.dim, te.dim * sizeof(double));
    double *se = malloc(rows * sizeof(double)), *sp = malloc(rows * sizeof(double));
    CHECK_OK(henn_lr_predict(sp, &m, &big));
    for (int plain = 0; plain <= 1; plain++) {
        double t0 = now_s();
        CHECK_OK(henn_lr_client_infer(p.cli, &p.t, se, &m, &big,
                                      plain ? HENN_LR_INFER_PLAIN_MODEL : 0));
        double dt = now_s() - t0;
        double worst = 0;
        size_t flips = 0;
        for (size_t i = 0; i < rows; i++) {
            worst = fmax(worst, fabs(se[i] - sp[i]));
            flips += (se[i] >= 0.5) != (sp[i] >= 0.5);
        }
        CHECK(worst <= 1e-4);
        CHECK(flips == 0);
        printf("inference (%s model): %zu records in %.3f s = %.0f records/s end to end, "
               "max |p_enc - p_plain| %.2g\n",
               plain ? "plaintext" : "encrypted", rows, dt, (double)rows / dt, worst);
    }
    henn_lr_client_stats cs;
    henn_lr_client_get_stats(&cs, p.cli);
    henn_lr_server_stats ss;
    henn_lr_server_get_stats(&ss, p.srv);
    printf("  client encrypt %.3f s, decrypt %.3f s; server %.3f s (%.0f records/s); "
           "%.0f bytes up per record\n",
           cs.encrypt_s, cs.decrypt_s, ss.infer_s, (double)ss.records_scored / ss.infer_s,
           (double)cs.data_bytes / (double)(2 * rows));
    /* inference needs a model with the data's dimension */
    henn_lr_model wrong;
    CHECK_OK(henn_lr_model_init(&wrong, tr.dim + 1));
    CHECK_RC(henn_lr_client_infer(p.cli, &p.t, se, &wrong, &big, 0), HENN_EINVAL);
    CHECK_RC(henn_lr_client_infer(p.cli, &p.t, se, &m, &big, 8), HENN_EINVAL);
    henn_lr_model_clear(&wrong);
    free(big.X);
    free(se);
    free(sp);
    henn_lr_model_clear(&m);
    party_close(&p);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* A server whose limits refuse the client's ring degree. */
static void test_limits(void)
{
    henn_lr_data tr = {0}, te = {0};
    CHECK_OK(henn_lr_load_wdbc(&tr, &te, DATA_DIR "/wdbc/wdbc.data", 1, NULL, 0));
    henn_lr_server_limits lim;
    henn_lr_server_limits_default(&lim);
    henn_lr_server *s;
    CHECK_OK(henn_lr_server_new(&s, &lim, NULL)); /* allow_insecure = 0 */
    henn_transport t;
    henn_transport_to_lr_server(&t, s);
    henn_lr_client *c;
    henn_lr_client_opts co = {.N = 4096, .flags = HENN_LR_INSECURE_TEST};
    CHECK_OK(henn_lr_client_new(&c, &co));
    henn_lr_opts o;
    CHECK_OK(henn_lr_proto_recommended(&o, HENN_LR_DATASET_WDBC, tr.rows));
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, tr.dim));
    CHECK_RC(henn_lr_client_train(c, &t, &m, &tr, &o, NULL, NULL), HENN_EPARAM);
    henn_lr_model_clear(&m);
    henn_lr_client_free(c);
    henn_lr_server_free(s);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (henn_init() != 0)
        return 1;
    printf("test_lr_proto: N = %zu%s\n", main_N(), SANITIZED ? " (sanitizer build)" : "");
    test_minibatch();
    test_refresh_keeps_values();
    test_server_view();
    test_malformed_server();
    test_malformed_client();
    test_limits();
    test_inference();
    test_twin_framingham();
    test_n8192();
    test_twin_wdbc();
    return test_report("test_lr_proto");
}
