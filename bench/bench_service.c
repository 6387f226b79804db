/*
 * bench_service: the network service's overhead (issue 12 targets:
 * encrypted KDD inference over HTTPS within 10% of in-process, private
 * training within 15%). One process holds the data owner, an in-process
 * service party and a henn server (henn_svc_server_start on 127.0.0.1,
 * port 0, a temporary data dir, HTTPS with a self-signed P-256 certificate
 * made by openssl; plain HTTP when openssl is missing). The published KDD
 * configuration: intcode, 41-41-5, sigmoid, softmax, n = 2048, batch 56,
 * Adam 0.01. Runs alternate (in-process, HTTPS, in-process, ...) and each
 * figure is the median of `reps`; the ratio HTTPS / in-process is taken in
 * the same process, so it survives the load of a shared machine. CPU
 * seconds are the whole process's (both parties, the server's threads and
 * TLS included).
 * What is timed is the same work on both sides: the owner's protocol run
 * and the construction of the service party (in-process: henn_trainer_new
 * or henn_private_trainer_new before the run; over HTTPS the server builds
 * the same party from the session's config at the first message). Session
 * creation (the model upload) and the owner's construction are outside.
 * One JSON line per workload:
 *  {"bench":"service","workload":"kdd_infer","records":...,"messages":...,
 *   "inproc_per_s":...,"https_per_s":...,"ratio":...,"inproc_wall_s":...,
 *   "https_wall_s":...,"inproc_cpu_s":...,"https_cpu_s":...,"cpu_ratio":...,
 *   "overhead_ms_per_message":...,"cpu_overhead_ms_per_message":...,
 *   "msg_ms_p50":...,"msg_ms_p95":...,"msg_ms_max":...,"inproc_msg_ms_p50":...,
 *   "inproc_msg_ms_sum":...,"msg_ms_sum":...,"inproc_party_s":...,
 *   "transport":"https","load1_start":...,"load1_end":...,"loadavg":"..."}
 * ratio: HTTPS throughput / in-process (wall clock); cpu_ratio: HTTPS CPU
 * seconds / in-process (the steadier figure on a loaded machine);
 * overhead_ms_per_message: (HTTPS wall - in-process wall) / messages, the
 * medians; msg_ms_*: the HTTPS round trips of one message (all reps);
 * inproc_msg_ms_p50: the same calls in process (the party's work alone);
 * msg_ms_sum, inproc_msg_ms_sum: a run's round trips added up (mean over
 * the reps), so msg_ms_sum - inproc_msg_ms_sum is the time the transport
 * adds on the critical path of a run and the rest of the wall-clock
 * difference is spent outside the calls (the owner's side, contention);
 * inproc_party_s: the in-process party's construction (median, inside
 * inproc_wall_s); load1_*: the 1-minute load average before and after.
 * The published protocol's training (a kdd-published job whose DECRYPT
 * requests the owner answers by long polling; `published epochs` epochs
 * of the training rows, seed 7) against henn_trainer_train_epoch
 * in-process, the training alone timed (job start to done; the upload
 * separately), the models compared byte for byte:
 *  {"bench":"service","workload":"kdd_published_train","rows":...,
 *   "epochs":...,"requests":...,"ratio":...,"cpu_ratio":...,
 *   "overhead_ms_per_request":...,"inproc_upload_s":...,"https_upload_s":...,
 *   "same_model":true,"inproc_masks":"fresh",...}
 * inproc_masks: "fresh" (the in-process trainer's own r^n, drawn in
 * whole 8-lane groups with the spare values kept for the next request) or,
 * with HENN_BENCH_SEEDED=1 in the environment, "seeded" (the job's masks,
 * henn__trainer_set_mask_key: each request's 41 values drawn from its own
 * key, 5 groups of 8 and one value alone), which tells the cost of the
 * seeded masks apart from the service's.
 * Then the load: `clients` sessions of encrypted inference (112 records
 * each, one owner thread per client) and `trainings` sessions of private
 * training run at once against the same server; every prediction must
 * equal the in-process one and every model the in-process model's bytes;
 * the line gives the wall time and CPU seconds, records/s, per-message
 * latency p50/p95/p99/max of the inference clients, failures, correct
 * sessions and the process's peak RSS:
 *  {"bench":"service","workload":"load","clients":16,"trainings":2,...}
 * HENN_BENCH_LOG=FILE in the environment writes the server's access log
 * there (JSON lines, each request's milliseconds from its headers to its
 * response queued, long polls and job answers included).
 * Usage: bench_service [infer records (1000)] [train rows (560)] [reps (3)]
 *        [threads (2)] [clients (16)] [trainings (2)] [published epochs (1; 0: none)]
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"
#include <sodium.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The 1-minute load average (-1 when /proc/loadavg cannot be read). */
static double load1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double v = -1.0;
    if (f != NULL) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1.0;
        fclose(f);
    }
    return v;
}

static double sum(const double *v, size_t n)
{
    double t = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        t += v[i];
    return t;
}

/* The q-quantile (0 < q <= 1) of v[0..n-1], sorted: the smallest value
 * with at least q * n values at or below it. */
static double quantile(const double *v, size_t n, double q)
{
    size_t k;
    if (n == 0)
        return 0.0;
    k = (size_t)(q * (double)n + 0.999999);
    return v[(k == 0 ? 1 : k > n ? n : k) - 1];
}

static void loadavg(char *out, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)len, f) == NULL)
            out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
}

/* {"model": base64[, "nn": {...}][, "release_model": true]} */
static char *config_release(const henn_nn_model *m, const henn_nn_opts *nn, int release)
{
    uint8_t *mb = NULL;
    size_t ml = 0, bl;
    char *b64, *cfg;
    if (henn_nn_model_serialize(&mb, &ml, m) != 0)
        return NULL;
    bl = sodium_base64_encoded_len(ml, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(bl);
    cfg = malloc(bl + 512);
    if (b64 != NULL && cfg != NULL) {
        sodium_bin2base64(b64, bl, mb, ml, sodium_base64_VARIANT_ORIGINAL);
        if (nn != NULL)
            snprintf(cfg, bl + 512,
                     "{\"model\":\"%s\",\"nn\":{\"optimizer\":\"%s\",\"lr\":%.9g,"
                     "\"momentum\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g}%s}",
                     b64, nn->optimizer == HENN_NN_ADAM ? "adam" : "sgd", (double)nn->lr,
                     (double)nn->momentum, (double)nn->beta1, (double)nn->beta2,
                     (double)nn->eps, release ? ",\"release_model\":true" : "");
        else
            snprintf(cfg, bl + 512, "{\"model\":\"%s\"}", b64);
    } else {
        free(cfg);
        cfg = NULL;
    }
    free(b64);
    free(mb);
    return cfg;
}

static char *config(const henn_nn_model *m, const henn_nn_opts *nn)
{
    return config_release(m, nn, 0);
}

/* ---- the load: concurrent clients ---- */

#define LOAD_RECORDS 112
#define LOAD_MAX_CALLS 64

typedef struct load_job {
    /* in */
    const henn_svc_client_opts *co;
    const char *cfg; /* the session's config */
    int train;       /* 0: inference, 1: private training */
    const henn_paillier_sk *sk;
    const henn_proto_params *p;
    const float *X;
    const uint8_t *y;
    size_t rows;
    const uint8_t *want; /* inference: predictions; training: model bytes */
    size_t want_len;
    /* out */
    henn_transport *inner;
    double lat[LOAD_MAX_CALLS];
    size_t nlat;
    int rc, correct;
} load_job;

static int timed_call(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *rl)
{
    load_job *j = ctx;
    double t0 = now();
    int rc = henn_transport_call(j->inner, req, len, resp, rl);
    if (j->nlat < LOAD_MAX_CALLS)
        j->lat[j->nlat++] = now() - t0;
    return rc;
}

static void *load_run(void *u)
{
    load_job *j = u;
    henn_svc_client *c = NULL;
    henn_owner *owner = NULL;
    henn_transport st, tt;
    henn_batch_opts one = {1, NULL, NULL};
    uint8_t pred[LOAD_RECORDS], *mb = NULL;
    size_t ml = 0;

    j->rc = henn_svc_client_create(&c, j->co, j->train ? "kdd-private" : "kdd-infer", j->cfg);
    if (j->rc == 0) {
        henn_svc_client_transport(&st, c);
        j->inner = &st;
        memset(&tt, 0, sizeof(tt));
        tt.call = timed_call;
        tt.ctx = j;
        if (j->train) {
            j->rc = henn_owner_train_private(&tt, j->sk, j->p, j->X, j->y, j->rows, 41,
                                             HENN_KDD_CLASSES, 56, 1, 7, &one, NULL, NULL, NULL);
            if (j->rc == 0)
                j->rc = henn_svc_client_result(c, &mb, &ml);
            j->correct = j->rc == 0 && ml == j->want_len && memcmp(mb, j->want, ml) == 0;
        } else {
            j->rc = henn_owner_new(&owner, j->sk, &one);
            if (j->rc == 0)
                j->rc = henn_owner_infer(owner, &tt, j->p, j->X, LOAD_RECORDS, 41,
                                         HENN_KDD_CLASSES, pred, NULL);
            j->correct = j->rc == 0 && memcmp(pred, j->want, LOAD_RECORDS) == 0;
        }
        if (henn_svc_client_delete(c) != 0 && j->rc == 0)
            j->rc = HENN_EIO;
    }
    free(mb);
    henn_owner_free(owner);
    henn_svc_client_free(c);
    return NULL;
}

/* The sequential runs' transport: times each message (round trip). */
typedef struct seq_timer {
    henn_transport *inner;
    double *lat; /* cap entries; calls beyond are counted, not timed */
    size_t n, cap, calls;
} seq_timer;

static int seq_call(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *rl)
{
    seq_timer *st = ctx;
    double t0 = now();
    int rc = henn_transport_call(st->inner, req, len, resp, rl);
    if (st->n < st->cap)
        st->lat[st->n++] = now() - t0;
    st->calls++;
    return rc;
}

/* clients inference sessions and trainings training sessions at once. */
static int load(const henn_svc_client_opts *co, const henn_nn_model *init,
                const henn_nn_opts *nn, const henn_paillier_sk *sk, const henn_proto_params *p,
                const float *X, const uint8_t *y, size_t trows, const float *T, size_t clients,
                size_t trainings, const char *transport)
{
    size_t n = clients + trainings, i, nl = 0, ok = 0, fails = 0;
    load_job *jobs = calloc(n ? n : 1, sizeof(load_job));
    pthread_t *th = calloc(n ? n : 1, sizeof(pthread_t));
    double *lat = calloc(n * LOAD_MAX_CALLS + 1, sizeof(double)), t0, c0, wall, cpu, p50, p95,
           p99, mx, l1_start = load1();
    char *icfg = config(init, NULL), *tcfg = config(init, nn), la[128];
    uint8_t want_pred[LOAD_RECORDS], *want_model = NULL;
    size_t want_len = 0;
    henn_owner *owner = NULL;
    henn_trainer *trn = NULL;
    henn_private_trainer *pt = NULL;
    henn_transport t;
    struct rusage ru;
    int rc = jobs && th && lat && icfg && tcfg ? 0 : HENN_ENOMEM;

    /* the in-process answers */
    if (rc == 0)
        rc = henn_owner_new(&owner, sk, NULL);
    if (rc == 0)
        rc = henn_trainer_new(&trn, init, NULL, NULL);
    if (rc == 0) {
        henn_transport_to_trainer(&t, trn);
        rc = henn_owner_infer(owner, &t, p, T, LOAD_RECORDS, 41, HENN_KDD_CLASSES, want_pred,
                              NULL);
    }
    if (rc == 0 && trainings > 0)
        rc = henn_private_trainer_new(&pt, init, nn, NULL);
    if (rc == 0 && trainings > 0) {
        henn_transport_to_private_trainer(&t, pt);
        rc = henn_owner_train_private(&t, sk, p, X, y, trows, 41, HENN_KDD_CLASSES, 56, 1, 7,
                                      NULL, NULL, NULL, NULL);
        if (rc == 0)
            rc = henn_nn_model_serialize(&want_model, &want_len, henn_private_trainer_model(pt));
    }
    henn_owner_free(owner);
    henn_trainer_free(trn);
    henn_private_trainer_free(pt);
    t0 = now();
    c0 = cpu_now();
    for (i = 0; rc == 0 && i < n; i++) {
        load_job *j = &jobs[i];
        j->co = co;
        j->train = i >= clients;
        j->cfg = j->train ? tcfg : icfg;
        j->sk = sk;
        j->p = p;
        j->X = j->train ? X : T;
        j->y = y;
        j->rows = trows;
        j->want = j->train ? want_model : want_pred;
        j->want_len = j->train ? want_len : LOAD_RECORDS;
        if (pthread_create(&th[i], NULL, load_run, j) != 0) {
            rc = HENN_ENOMEM;
            n = i;
        }
    }
    for (i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    wall = now() - t0;
    cpu = cpu_now() - c0;
    for (i = 0; i < n; i++) {
        ok += jobs[i].correct ? 1u : 0u;
        fails += jobs[i].rc != 0 ? 1u : 0u;
        if (jobs[i].rc != 0)
            fprintf(stderr, "bench_service: load client %zu: %s\n", i,
                    henn_strerror(jobs[i].rc));
        if (!jobs[i].train) {
            memcpy(lat + nl, jobs[i].lat, jobs[i].nlat * sizeof(double));
            nl += jobs[i].nlat;
        }
    }
    qsort(lat, nl, sizeof(double), cmp_double);
    p50 = quantile(lat, nl, 0.50);
    p95 = quantile(lat, nl, 0.95);
    p99 = quantile(lat, nl, 0.99);
    mx = nl ? lat[nl - 1] : 0;
    getrusage(RUSAGE_SELF, &ru);
    loadavg(la, sizeof(la));
    if (rc == 0)
        printf("{\"bench\":\"service\",\"workload\":\"load\",\"clients\":%zu,"
               "\"records_per_client\":%d,\"trainings\":%zu,\"train_rows\":%zu,"
               "\"wall_s\":%.2f,\"cpu_s\":%.2f,\"infer_records_per_s\":%.1f,\"messages\":%zu,"
               "\"latency_ms_p50\":%.1f,\"latency_ms_p95\":%.1f,\"latency_ms_p99\":%.1f,"
               "\"latency_ms_max\":%.1f,\"failed\":%zu,\"correct\":%zu,\"of\":%zu,"
               "\"all_correct\":%s,\"peak_rss_mib\":%.0f,\"transport\":\"%s\","
               "\"load1_start\":%.2f,\"load1_end\":%.2f,\"loadavg\":\"%s\"}\n",
               clients, LOAD_RECORDS, trainings, trows, wall, cpu,
               (double)(clients * LOAD_RECORDS) / wall, nl, 1e3 * p50, 1e3 * p95, 1e3 * p99,
               1e3 * mx, fails, ok, n, fails == 0 && ok == n ? "true" : "false",
               (double)ru.ru_maxrss / 1024.0, transport, l1_start, load1(), la);
    free(want_model);
    free(icfg);
    free(tcfg);
    free(lat);
    free(th);
    free(jobs);
    return rc != 0 ? rc : fails > 0 || ok != n ? HENN_EPROTO : 0;
}

/*
 * The published protocol's training (kdd-published): in-process, the
 * owner's upload to a henn_trainer and henn_trainer_train_epoch for each
 * epoch (the owner answering DECRYPT on the in-process transport); over
 * HTTPS, the same upload to a kdd-published session, then the job
 * (henn_svc_job_start) served by the owner's long polls
 * (henn_svc_job_serve) until it is done, as henn kdd train --protocol
 * published --server runs it. Timed: the upload (the party's
 * construction included: the server builds it at the first message) and
 * the training (job start to done), wall and whole-process CPU; session
 * creation and the owner are outside. Every rep's model is compared with
 * the first in-process one (the session's "release_model": true).
 */
/* Seeded masks (src/protocol/trainer.c; the service's jobs set them at
 * the job's start, parties.c): HENN_BENCH_SEEDED=1 gives the in-process
 * run the job's seeded masks under a fixed key, so the remaining
 * difference is the service's. */
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);

static int published(const henn_svc_client_opts *co, const henn_nn_model *init,
                     const henn_nn_opts *nn, const henn_paillier_sk *sk,
                     const henn_proto_params *p, const float *X, const uint8_t *y, size_t rows,
                     size_t epochs, size_t reps, unsigned threads, const char *transport)
{
    henn_batch_opts bo = {threads, NULL, NULL};
    double *t_in = calloc(reps, sizeof(double)), *t_net = calloc(reps, sizeof(double));
    double *c_in = calloc(reps, sizeof(double)), *c_net = calloc(reps, sizeof(double));
    double *u_in = calloc(reps, sizeof(double)), *u_net = calloc(reps, sizeof(double));
    double *loss = calloc(epochs, sizeof(double)), l1_start = load1();
    uint8_t *want = NULL;
    size_t want_len = 0, r, e, same = 0, requests;
    char la[128];
    int rc = t_in && t_net && c_in && c_net && u_in && u_net && loss ? 0 : HENN_ENOMEM;
    const char *sv = getenv("HENN_BENCH_SEEDED");
    int seeded = sv != NULL && sv[0] == '1';
    uint8_t seed_key[32];

    memset(seed_key, 7, sizeof(seed_key));
    for (r = 0; r < 2 * reps && rc == 0; r++) {
        int net = (int)(r % 2);
        henn_svc_client *c = NULL;
        henn_svc_answers *ans = NULL;
        henn_owner *owner = NULL;
        henn_trainer *trn = NULL;
        henn_transport to_t, to_o;
        uint8_t *mb = NULL;
        size_t ml = 0;
        uint64_t jid = 0;
        char *cfg = config_release(init, nn, 1);
        double t0, c0;
        rc = cfg != NULL ? 0 : HENN_ENOMEM;
        /* outside the timing: session creation (the model upload) and the owner */
        if (rc == 0 && net)
            rc = henn_svc_client_create(&c, co, "kdd-published", cfg);
        if (rc == 0 && net)
            henn_svc_client_transport(&to_t, c);
        if (rc == 0 && net)
            rc = henn_svc_answers_new(&ans, 0);
        if (rc == 0)
            rc = henn_owner_new(&owner, sk, &bo);
        t0 = now();
        if (rc == 0 && !net)
            rc = henn_trainer_new(&trn, init, nn, &bo);
        if (rc == 0 && !net)
            henn_transport_to_trainer(&to_t, trn);
        if (rc == 0)
            rc = henn_owner_upload(owner, &to_t, p, X, y, rows, 41);
        (net ? u_net : u_in)[r / 2] = now() - t0;
        t0 = now();
        c0 = cpu_now();
        if (rc == 0 && !net) {
            henn_transport_to_owner(&to_o, owner);
            if (seeded) /* the job's seeded masks, in process */
                henn__trainer_set_mask_key(trn, seed_key, 0);
            for (e = 0; e < epochs && rc == 0; e++)
                rc = henn_trainer_train_epoch(trn, &to_o, 7 + e, NULL, NULL, &loss[e]);
        }
        if (rc == 0 && net)
            rc = henn_svc_job_start(co, henn_svc_client_session(c), henn_svc_client_token(c),
                                    epochs, 7, &jid);
        if (rc == 0 && net)
            rc = henn_svc_job_serve(co, henn_svc_client_session(c), henn_svc_client_token(c),
                                    jid, owner, ans, NULL, NULL, loss, epochs);
        (net ? t_net : t_in)[r / 2] = now() - t0;
        (net ? c_net : c_in)[r / 2] = cpu_now() - c0;
        if (rc == 0)
            rc = net ? henn_svc_client_result(c, &mb, &ml)
                     : henn_nn_model_serialize(&mb, &ml, henn_trainer_model(trn));
        if (rc == 0 && want == NULL) {
            want = mb;
            want_len = ml;
            mb = NULL;
        }
        if (rc == 0)
            same += mb == NULL || (ml == want_len && memcmp(mb, want, ml) == 0);
        if (rc != 0)
            fprintf(stderr, "bench_service: kdd_published_train (%s): %s %s\n",
                    net ? "network" : "in-process", henn_strerror(rc),
                    c ? henn_svc_client_error(c) : "");
        if (c != NULL && henn_svc_client_delete(c) != 0)
            fprintf(stderr, "bench_service: delete: %s\n", henn_svc_client_error(c));
        free(mb);
        free(cfg);
        henn_svc_client_free(c);
        henn_svc_answers_free(ans);
        henn_owner_free(owner);
        henn_trainer_free(trn);
    }
    requests = 2 * epochs * ((rows + p->slots - 1) / p->slots);
    if (rc == 0) {
        double ti = median(t_in, reps), tn = median(t_net, reps);
        double ci = median(c_in, reps), cn = median(c_net, reps);
        loadavg(la, sizeof(la));
        printf("{\"bench\":\"service\",\"workload\":\"kdd_published_train\",\"rows\":%zu,"
               "\"epochs\":%zu,\"reps\":%zu,\"threads\":%u,\"requests\":%zu,"
               "\"inproc_per_s\":%.1f,\"%s_per_s\":%.1f,\"ratio\":%.3f,\"inproc_wall_s\":%.3f,"
               "\"%s_wall_s\":%.3f,\"inproc_cpu_s\":%.3f,\"%s_cpu_s\":%.3f,\"cpu_ratio\":%.3f,"
               "\"overhead_ms_per_request\":%.2f,\"cpu_overhead_ms_per_request\":%.2f,"
               "\"inproc_upload_s\":%.3f,\"%s_upload_s\":%.3f,\"same_model\":%s,"
               "\"inproc_masks\":\"%s\",\"transport\":\"%s\",\"load1_start\":%.2f,\"load1_end\":%.2f,"
               "\"loadavg\":\"%s\"}\n",
               rows, epochs, reps, threads, requests, (double)(rows * epochs) / ti, transport,
               (double)(rows * epochs) / tn, ti / tn, ti, transport, tn, ci, transport, cn,
               cn / ci, 1e3 * (tn - ti) / (double)requests, 1e3 * (cn - ci) / (double)requests,
               median(u_in, reps), transport, median(u_net, reps),
               same == 2 * reps ? "true" : "false", seeded ? "seeded" : "fresh", transport,
               l1_start, load1(), la);
        fflush(stdout);
        if (same != 2 * reps) {
            fprintf(stderr, "bench_service: kdd_published_train: a model differs from the "
                            "in-process one\n");
            rc = HENN_EPROTO;
        }
    }
    free(want);
    free(loss);
    free(t_in);
    free(t_net);
    free(c_in);
    free(c_net);
    free(u_in);
    free(u_net);
    return rc;
}

int main(int argc, char **argv)
{
    size_t irows = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    size_t trows = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 560;
    size_t reps = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 3;
    unsigned threads = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 2;
    size_t clients = argc > 5 ? (size_t)strtoul(argv[5], NULL, 10) : 16;
    size_t trainings = argc > 6 ? (size_t)strtoul(argv[6], NULL, 10) : 2;
    size_t pub_epochs = argc > 7 ? (size_t)strtoul(argv[7], NULL, 10) : 1;
    char dir[] = "/tmp/henn_bench_svc_XXXXXX", cmd[1024], cert[256], key[256], la[128];
    henn_svc_server_opts so;
    henn_svc_server *srv = NULL;
    henn_svc_client_opts co;
    henn_kdd_set tr;
    henn_kdd_prep prep;
    henn_nn_model init;
    henn_nn_opts nn;
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_proto_params p;
    henn_batch_opts bo = {threads, NULL, NULL};
    size_t dims[3] = {41, 41, HENN_KDD_CLASSES}, total = irows + trows, *idx, i, r, w;
    float *X = NULL;
    uint8_t *y, *pred;
    double *t_in, *t_net, *c_in, *c_net, *party_in, *msg_lat, *msg_lat_in;
    const char *log_path = getenv("HENN_BENCH_LOG");
    FILE *log = NULL;
    int tls, rc = 0;

    if (henn_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || mkdtemp(dir) == NULL ||
        reps == 0 || irows < LOAD_RECORDS || trows < 56)
        return 1;
    idx = malloc(total * sizeof(size_t));
    y = malloc(total);
    pred = malloc(irows);
    t_in = calloc(reps, sizeof(double));
    t_net = calloc(reps, sizeof(double));
    c_in = calloc(reps, sizeof(double));
    c_net = calloc(reps, sizeof(double));
    party_in = calloc(reps, sizeof(double));
    msg_lat = calloc(reps * (2 * (total / 56 + 2) * 3 + 8), sizeof(double));
    msg_lat_in = calloc(reps * (2 * (total / 56 + 2) * 3 + 8), sizeof(double));
    if (!idx || !y || !pred || !t_in || !t_net || !c_in || !c_net || !party_in || !msg_lat ||
        !msg_lat_in)
        return 1;
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 "
             "-keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    tls = system(cmd) == 0;

    henn_kdd_set_init(&tr);
    henn_kdd_prep_init(&prep);
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    rc = henn_kdd_load(&tr, HENN_DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", 60000, 0,
                       NULL);
    if (rc == 0)
        rc = henn_kdd_subset(idx, total, tr.rows, 1);
    if (rc == 0)
        rc = henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, HENN_KDD_LOG1P_HEAVY);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, total);
    for (i = 0; rc == 0 && i < total; i++)
        y[i] = tr.y[idx[i]];
    if (rc == 0)
        rc = henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1);
    henn_nn_opts_default(&nn);
    nn.lr = 0.01f;
    nn.max_rows = 56;
    if (rc == 0)
        rc = henn_paillier_keygen(&pk, &sk, 2048, 0);
    if (rc == 0)
        rc = henn_proto_params_default(&p, 41, 0, 2048);
    p.slots = 56;
    henn_svc_server_opts_default(&so);
    so.listen = "127.0.0.1:0";
    so.data_dir = dir;
    so.cert_file = tls ? cert : NULL;
    so.key_file = tls ? key : NULL;
    so.threads = 4; /* henn serve's default */
    so.party_threads = threads;
    if (log_path != NULL && (log = fopen(log_path, "w")) != NULL) {
        so.log = log; /* the server's access log: each request's ms on the server */
        so.log_json = 1;
    }
    if (rc == 0)
        rc = henn_svc_server_start(&srv, &so);
    if (rc != 0) {
        fprintf(stderr, "bench_service: setup failed: %s\n", henn_strerror(rc));
        return 1;
    }
    memset(&co, 0, sizeof(co));
    co.url = henn_svc_server_url(srv);
    co.ca_file = tls ? cert : NULL;

    for (w = 0; w < 2 && rc == 0; w++) {
        const char *name = w == 0 ? "kdd_infer" : "kdd_private_train";
        const char *tn_name = tls ? "https" : "http";
        size_t n = w == 0 ? irows : trows, msgs = 0;
        seq_timer st, st_in;
        double l1_start = load1();
        memset(&st, 0, sizeof(st));
        st.lat = msg_lat;
        st.cap = reps * (2 * (total / 56 + 2) * 3 + 8);
        st_in = st;
        st_in.lat = msg_lat_in;
        for (r = 0; r < 2 * reps && rc == 0; r++) {
            int net = (int)(r % 2);
            henn_transport t, inner, timed, inner_in, timed_in;
            henn_svc_client *c = NULL;
            henn_owner *owner = NULL;
            henn_trainer *trn = NULL;
            henn_private_trainer *pt = NULL;
            char *cfg = config(&init, w == 0 ? NULL : &nn);
            double t0, c0;
            rc = cfg != NULL ? 0 : HENN_ENOMEM;
            /* outside the timing: session creation (the model upload) and the owner */
            if (rc == 0 && net)
                rc = henn_svc_client_create(&c, &co, w == 0 ? "kdd-infer" : "kdd-private",
                                            cfg);
            if (rc == 0 && net)
                henn_svc_client_transport(&inner, c);
            if (rc == 0 && w == 0)
                rc = henn_owner_new(&owner, &sk, &bo);
            memset(&timed, 0, sizeof(timed));
            memset(&timed_in, 0, sizeof(timed_in));
            timed.call = seq_call;
            timed.ctx = &st;
            st.inner = &inner;
            st.calls = 0;
            t0 = now();
            c0 = cpu_now();
            /* the service party: in-process here, on the server at the first message */
            if (rc == 0 && !net && w == 0)
                rc = henn_trainer_new(&trn, &init, NULL, &bo);
            if (rc == 0 && !net && w == 0)
                henn_transport_to_trainer(&t, trn);
            if (rc == 0 && !net && w == 1)
                rc = henn_private_trainer_new(&pt, &init, &nn, &bo);
            if (rc == 0 && !net && w == 1)
                henn_transport_to_private_trainer(&t, pt);
            if (!net)
                party_in[r / 2] = now() - t0;
            if (net) { /* the round trips are timed, HTTPS and in-process */
                t = timed;
            } else {
                inner_in = t;
                timed_in.call = seq_call;
                timed_in.ctx = &st_in;
                st_in.inner = &inner_in;
                t = timed_in;
            }
            if (rc == 0 && w == 0)
                rc = henn_owner_infer(owner, &t, &p, X + trows * 41, irows, 41,
                                      HENN_KDD_CLASSES, pred, NULL);
            if (rc == 0 && w == 1)
                rc = henn_owner_train_private(&t, &sk, &p, X, y, trows, 41, HENN_KDD_CLASSES,
                                              56, 1, 7, &bo, NULL, NULL, NULL);
            (net ? t_net : t_in)[r / 2] = now() - t0;
            (net ? c_net : c_in)[r / 2] = cpu_now() - c0;
            if (net)
                msgs = st.calls;
            if (rc != 0)
                fprintf(stderr, "bench_service: %s (%s): %s %s\n", name,
                        net ? "network" : "in-process", henn_strerror(rc),
                        c ? henn_svc_client_error(c) : "");
            if (c != NULL && henn_svc_client_delete(c) != 0)
                fprintf(stderr, "bench_service: delete: %s\n", henn_svc_client_error(c));
            henn_svc_client_free(c);
            henn_owner_free(owner);
            henn_trainer_free(trn);
            henn_private_trainer_free(pt);
            free(cfg);
        }
        if (rc == 0) {
            double ti = median(t_in, reps), tn = median(t_net, reps);
            double ci = median(c_in, reps), cn = median(c_net, reps);
            qsort(st.lat, st.n, sizeof(double), cmp_double);
            qsort(st_in.lat, st_in.n, sizeof(double), cmp_double);
            loadavg(la, sizeof(la));
            printf("{\"bench\":\"service\",\"workload\":\"%s\",\"%s\":%zu,\"reps\":%zu,"
                   "\"threads\":%u,\"messages\":%zu,\"inproc_per_s\":%.1f,\"%s_per_s\":%.1f,"
                   "\"ratio\":%.3f,\"inproc_wall_s\":%.3f,\"%s_wall_s\":%.3f,"
                   "\"inproc_cpu_s\":%.3f,\"%s_cpu_s\":%.3f,\"cpu_ratio\":%.3f,"
                   "\"overhead_ms_per_message\":%.2f,\"cpu_overhead_ms_per_message\":%.2f,"
                   "\"msg_ms_p50\":%.2f,\"msg_ms_p95\":%.2f,\"msg_ms_max\":%.2f,"
                   "\"inproc_msg_ms_p50\":%.2f,\"inproc_msg_ms_sum\":%.1f,\"msg_ms_sum\":%.1f,"
                   "\"inproc_party_s\":%.4f,\"transport\":\"%s\",\"load1_start\":%.2f,"
                   "\"load1_end\":%.2f,\"loadavg\":\"%s\"}\n",
                   name, w == 0 ? "records" : "rows", n, reps, threads, msgs, (double)n / ti,
                   tn_name, (double)n / tn, ti / tn, ti, tn_name, tn, ci, tn_name, cn, cn / ci,
                   msgs ? 1e3 * (tn - ti) / (double)msgs : 0.0,
                   msgs ? 1e3 * (cn - ci) / (double)msgs : 0.0, 1e3 * quantile(st.lat, st.n, 0.5),
                   1e3 * quantile(st.lat, st.n, 0.95), st.n ? 1e3 * st.lat[st.n - 1] : 0.0,
                   1e3 * quantile(st_in.lat, st_in.n, 0.5),
                   1e3 * sum(st_in.lat, st_in.n) / (double)reps,
                   1e3 * sum(st.lat, st.n) / (double)reps,
                   median(party_in, reps), tn_name, l1_start, load1(), la);
            fflush(stdout);
        }
    }
    if (rc == 0 && pub_epochs > 0) {
        rc = published(&co, &init, &nn, &sk, &p, X, y, trows, pub_epochs, reps, threads,
                       tls ? "https" : "http");
        if (rc != 0)
            fprintf(stderr, "bench_service: kdd_published_train: %s\n", henn_strerror(rc));
    }
    if (rc == 0 && clients + trainings > 0) {
        rc = load(&co, &init, &nn, &sk, &p, X, y, trows, X + trows * 41, clients, trainings,
                  tls ? "https" : "http");
        if (rc != 0)
            fprintf(stderr, "bench_service: load: %s\n", henn_strerror(rc));
    }
    henn_svc_server_stop(srv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_service: could not remove %s\n", dir);
    henn_nn_model_clear(&init);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    henn_kdd_set_clear(&tr);
    henn_kdd_prep_clear(&prep);
    free(X);
    free(idx);
    free(y);
    free(pred);
    free(t_in);
    free(t_net);
    free(c_in);
    free(c_net);
    free(party_in);
    free(msg_lat);
    free(msg_lat_in);
    if (log != NULL)
        fclose(log);
    return rc == 0 ? 0 : 1;
}
