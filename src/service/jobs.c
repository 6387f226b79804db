/*
 * Server-driven requests and jobs of a session (docs/SERVICE.md).
 *
 * A job (POST /v1/sessions/{id}/jobs {"kind": "train", "epochs": E,
 * "seed": S}) runs the protocol's training on a thread of its own: epoch e
 * is train_epoch(party, to_owner, S + e), as the in-process run calls
 * henn_trainer_train_epoch. Its transport to the owner is the channel:
 * each call publishes one request (seq 1, 2, ...) and waits for the
 * answer. The client fetches the oldest unanswered request by long-polling
 * GET /v1/sessions/{id}/requests?wait=S (200 with Henn-Seq, or 204) and
 * answers with POST /v1/sessions/{id}/requests/{seq}; a repeated answer is
 * accepted and ignored, an answer for another seq gets 409.
 *
 * While a job runs it owns the party: the session's messages and result
 * get 409 "busy". The job's record (state, epochs, losses) is stored when
 * it starts and ends, and at its end (done or failed) the party's snapshot
 * (the model as the job left it): a restart rebuilds the session from the
 * snapshot and its log, so the party after a restart is the one before
 * it (encrypted inference uses the trained model).
 *
 * Resumable jobs (protocols with henn__svc_protocol_resume: kdd-published):
 * the job draws a 32-byte secret from the OS CSPRNG at its start, and the
 * trainer's masks and noise come from a stream keyed by it, one nonce per
 * request. After every batch the checkpoint is committed in one
 * transaction: the record (epoch, batch, the epoch's loss sum and rows,
 * the channel's seq, the secret, the optimiser's state) and the snapshot
 * (the model). A restart rebuilds the party, restores the checkpoint and
 * runs the job on from the next batch: its requests carry the seqs and
 * the bytes they had before the restart (the same model, data, secret and
 * counter), so the owner answers those it answered before from its own
 * record without decrypting twice (henn_svc_answers), and the final model
 * is the uninterrupted run's. A job of another protocol that was running
 * at a restart is reported failed ("interrupted"); run it again (same
 * seed: the same model).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "service/svc_internal.h"

/* How long a job waits for the owner's answer before it fails. */
#define ANSWER_TIMEOUT_S 600

enum { JOB_NONE, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct henn__svc_jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* The channel: the request the job waits on (pending) and its answer. */
    uint64_t req_seq;
    uint8_t *pending, *answer;
    size_t pending_len, answer_len;
    int cancel;
    /* A party's own transport (henn__svc_jobs_transport): the channel is
     * open without a job, and a call waits timeout_s for its answer. */
    int open;
    unsigned timeout_s;
    uint64_t cancels; /* cancellations so far (a call without a job sees them) */
    /* The job. */
    pthread_t thread;
    int thread_live, state, rc, interrupted;
    henn__svc_job_event_fn event;
    void *user;
    uint64_t jid, seed;
    size_t epochs, epoch, rows_done, rows_total;
    double *loss;
    const henn__svc_protocol *proto;
    void *party;
    /* Resumable jobs: the position in the current epoch (next batch, the
     * loss sum and rows so far), the job's secret, and after a restart the
     * checkpoint's optimiser state until the job resumes. */
    const henn__svc_resume *res;
    size_t batch, done;
    double total;
    uint8_t key[32];
    int resumable;
    uint8_t *opt;
    size_t opt_len;
};

int henn__svc_jobs_new(henn__svc_jobs **out)
{
    henn__svc_jobs *j = calloc(1, sizeof(*j));
    *out = NULL;
    if (j == NULL)
        return HENN_ENOMEM;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    *out = j;
    return 0;
}

/* Stop a running job (its transport calls fail) and wait for its thread. */
void henn__svc_jobs_cancel(henn__svc_jobs *j)
{
    int live;
    pthread_mutex_lock(&j->lock);
    j->cancel = 1;
    j->cancels++;
    j->open = 0; /* a stop or delete: polls return at once from now on */
    pthread_cond_broadcast(&j->cond);
    live = j->thread_live;
    j->thread_live = 0;
    pthread_mutex_unlock(&j->lock);
    if (live)
        pthread_join(j->thread, NULL);
    pthread_mutex_lock(&j->lock);
    j->cancel = 0;
    pthread_mutex_unlock(&j->lock);
}

void henn__svc_jobs_free(henn__svc_jobs *j)
{
    if (j == NULL)
        return;
    henn__svc_jobs_cancel(j);
    free(j->pending);
    free(j->answer);
    free(j->loss);
    free(j->opt);
    henn_memzero(j->key, sizeof(j->key));
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

int henn__svc_jobs_busy(henn__svc_jobs *j)
{
    int busy;
    pthread_mutex_lock(&j->lock);
    busy = j->state == JOB_RUNNING;
    pthread_mutex_unlock(&j->lock);
    return busy;
}

/* The job's transport to the owner: publish req, wait for its answer. */
static int channel_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    henn__svc_jobs *j = ctx;
    struct timespec until;
    int rc = 0;
    uint64_t cancels;
    uint8_t *copy = malloc(req_len > 0 ? req_len : 1);
    *resp = NULL;
    *resp_len = 0;
    if (copy == NULL)
        return HENN_ENOMEM;
    if (req_len > 0)
        memcpy(copy, req, req_len);
    clock_gettime(CLOCK_REALTIME, &until);
    pthread_mutex_lock(&j->lock);
    until.tv_sec += j->timeout_s > 0 ? (time_t)j->timeout_s : ANSWER_TIMEOUT_S;
    cancels = j->cancels;
    free(j->pending);
    free(j->answer);
    j->answer = NULL;
    j->pending = copy;
    j->pending_len = req_len;
    j->req_seq++;
    pthread_cond_broadcast(&j->cond);
    while (j->answer == NULL && !j->cancel && j->cancels == cancels && rc == 0)
        if (pthread_cond_timedwait(&j->cond, &j->lock, &until) == ETIMEDOUT)
            rc = HENN_ETIMEDOUT;
    if (j->answer != NULL && rc == 0) {
        *resp = j->answer;
        *resp_len = j->answer_len;
        j->answer = NULL;
    } else if (rc == 0) {
        rc = HENN_EIO; /* cancelled */
    }
    free(j->pending);
    j->pending = NULL;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

void henn__svc_jobs_transport(henn_transport *t, henn__svc_jobs *j, unsigned timeout_s)
{
    pthread_mutex_lock(&j->lock);
    j->open = 1;
    j->timeout_s = timeout_s;
    pthread_mutex_unlock(&j->lock);
    memset(t, 0, sizeof(*t));
    t->call = channel_call;
    t->ctx = j;
}

static void job_progress(void *user, size_t done, size_t total)
{
    henn__svc_jobs *j = user;
    pthread_mutex_lock(&j->lock);
    j->rows_done = done;
    j->rows_total = total;
    pthread_mutex_unlock(&j->lock);
}

/* After each batch of a resumable job: its position, then the checkpoint
 * (the record and the snapshot, one transaction: the event). */
static int job_batch(void *user, size_t next, double total, size_t done)
{
    henn__svc_jobs *j = user;
    pthread_mutex_lock(&j->lock);
    j->batch = next;
    j->total = total;
    j->done = done;
    pthread_mutex_unlock(&j->lock);
    if (j->event != NULL)
        j->event(j->user, j, 0, 0);
    return 0;
}

static void *job_main(void *arg)
{
    henn__svc_jobs *j = arg;
    henn_transport to_owner;
    size_t e;
    int rc = 0, cancelled;
    memset(&to_owner, 0, sizeof(to_owner));
    to_owner.call = channel_call;
    to_owner.ctx = j;
    for (e = j->epoch; e < j->epochs && rc == 0; e++) {
        double loss = 0.0;
        if (j->res != NULL) {
            double total;
            size_t first, done;
            pthread_mutex_lock(&j->lock);
            first = j->batch;
            total = j->total;
            done = j->done;
            pthread_mutex_unlock(&j->lock);
            rc = j->res->epoch_from(j->party, &to_owner, j->seed + e, first, &total, &done,
                                    job_batch, j, job_progress, j, &loss);
        } else {
            rc = j->proto->train_epoch(j->party, &to_owner, j->seed + e, job_progress, j, &loss);
        }
        pthread_mutex_lock(&j->lock);
        if (rc == 0) {
            j->loss[e] = loss;
            j->epoch = e + 1;
            j->batch = j->done = 0;
            j->total = 0.0;
        }
        pthread_mutex_unlock(&j->lock);
    }
    /* A job cancelled by a stop or DELETE leaves its stored record as
     * "running" and the snapshot as its last checkpoint (resumed after a
     * restart) or as before the job (reported interrupted), as a kill -9
     * would. */
    pthread_mutex_lock(&j->lock);
    cancelled = j->cancel;
    pthread_mutex_unlock(&j->lock);
    if (j->res != NULL && !cancelled)
        j->res->set_key(j->party, NULL);
    if (j->event != NULL && !cancelled)
        j->event(j->user, j, 1, rc);
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->state = rc == 0 ? JOB_DONE : JOB_FAILED;
    if (!cancelled)
        henn_memzero(j->key, sizeof(j->key));
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* Start j's thread (j->lock held, state RUNNING set). */
static int job_thread(henn__svc_jobs *j)
{
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        j->state = JOB_FAILED;
        j->rc = HENN_ENOMEM;
        return HENN_ENOMEM;
    }
    j->thread_live = 1;
    return 0;
}

int henn__svc_jobs_start(henn__svc_jobs *j, const henn__svc_protocol *proto, void *party,
                         size_t epochs, uint64_t seed, henn__svc_job_event_fn event, void *user,
                         uint64_t *jid)
{
    double *loss;
    int live, rc;
    if (proto->train_epoch == NULL || epochs == 0 || epochs > 100000)
        return HENN_EINVAL;
    pthread_mutex_lock(&j->lock);
    if (j->state == JOB_RUNNING) {
        pthread_mutex_unlock(&j->lock);
        return HENN_EPROTO;
    }
    live = j->thread_live;
    j->thread_live = 0;
    pthread_mutex_unlock(&j->lock);
    if (live) /* the previous job's thread has ended: collect it */
        pthread_join(j->thread, NULL);
    loss = calloc(epochs, sizeof(double));
    if (loss == NULL)
        return HENN_ENOMEM;
    pthread_mutex_lock(&j->lock);
    free(j->loss);
    j->loss = loss;
    j->proto = proto;
    j->party = party;
    j->epochs = epochs;
    j->seed = seed;
    j->epoch = j->rows_done = j->rows_total = 0;
    j->batch = j->done = 0;
    j->total = 0.0;
    j->rc = 0;
    j->interrupted = 0;
    j->resumable = 0;
    j->event = event;
    j->user = user;
    j->state = JOB_RUNNING;
    j->jid++;
    *jid = j->jid;
    j->res = henn__svc_protocol_resume(proto);
    if (j->res != NULL) {
        rc = henn_random_bytes(j->key, sizeof(j->key));
        if (rc != 0) {
            j->state = JOB_FAILED;
            j->rc = rc;
            pthread_mutex_unlock(&j->lock);
            return rc;
        }
        j->res->set_key(party, j->key);
    }
    /* The "running" record is stored before the thread can end the job. */
    if (event != NULL) {
        pthread_mutex_unlock(&j->lock);
        event(user, j, 0, 0);
        pthread_mutex_lock(&j->lock);
    }
    rc = job_thread(j);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int henn__svc_jobs_resumable(henn__svc_jobs *j)
{
    int r;
    pthread_mutex_lock(&j->lock);
    r = j->resumable;
    pthread_mutex_unlock(&j->lock);
    return r;
}

int henn__svc_jobs_resume(henn__svc_jobs *j, const henn__svc_protocol *proto, void *party,
                          henn__svc_job_event_fn event, void *user)
{
    const henn__svc_resume *res = henn__svc_protocol_resume(proto);
    int rc = 0;
    pthread_mutex_lock(&j->lock);
    if (!j->resumable || j->state == JOB_RUNNING || res == NULL) {
        pthread_mutex_unlock(&j->lock);
        return HENN_EINVAL;
    }
    j->resumable = 0;
    res->set_key(party, j->key);
    if (j->opt != NULL)
        rc = res->state_set(party, j->opt, j->opt_len);
    free(j->opt);
    j->opt = NULL;
    j->opt_len = 0;
    if (rc != 0) {
        res->set_key(party, NULL);
        henn_memzero(j->key, sizeof(j->key));
        pthread_mutex_unlock(&j->lock);
        return rc; /* stays reported as interrupted */
    }
    j->proto = proto;
    j->party = party;
    j->res = res;
    j->event = event;
    j->user = user;
    j->rc = 0;
    j->interrupted = 0;
    j->state = JOB_RUNNING;
    rc = job_thread(j);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

/* The job as JSON with state (j->lock held). */
static json_t *job_json(henn__svc_jobs *j, const char *state, int rc, int interrupted)
{
    json_t *o = NULL, *loss;
    size_t e;
    loss = json_array();
    for (e = 0; loss != NULL && e < j->epoch; e++)
        json_array_append_new(loss, json_real(j->loss[e]));
    if (loss != NULL)
        o = json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "job", (json_int_t)j->jid, "kind",
                      "train", "state", state, "epochs", (json_int_t)j->epochs, "epoch",
                      (json_int_t)j->epoch, "seed", (json_int_t)j->seed, "rows",
                      (json_int_t)j->rows_done, "rows_total", (json_int_t)j->rows_total,
                      "loss", loss);
    if (o != NULL && strcmp(state, "failed") == 0)
        json_object_set_new(o, "error", json_string(interrupted ? "interrupted by a server restart"
                                                                : henn_err_name(rc)));
    return o;
}

int henn__svc_jobs_status(henn__svc_jobs *j, uint64_t jid, json_t **out)
{
    static const char *const states[] = {"none", "running", "done", "failed"};
    json_t *o;
    *out = NULL;
    pthread_mutex_lock(&j->lock);
    if (jid == 0 || jid != j->jid || j->state == JOB_NONE) {
        pthread_mutex_unlock(&j->lock);
        return HENN_EINVAL;
    }
    o = job_json(j, states[j->state], j->rc, j->interrupted);
    pthread_mutex_unlock(&j->lock);
    *out = o;
    return o != NULL ? 0 : HENN_ENOMEM;
}

/* base64 of buf as a JSON string, or NULL. */
static json_t *json_b64(const uint8_t *buf, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(n);
    json_t *s;
    if (b64 == NULL)
        return NULL;
    sodium_bin2base64(b64, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    s = json_string(b64);
    henn_memzero(b64, n);
    free(b64);
    return s;
}

/* A running resumable job's checkpoint fields (never in the status):
 * "resume": {"batch", "total", "done", "req_seq", "key" (base64), "opt"
 * (base64 of the party's state; absent before the party has one)}.
 * Called on the job's thread, or before it starts: the party is the job's. */
static int record_resume(henn__svc_jobs *j, json_t *o)
{
    uint8_t *opt = NULL;
    size_t opt_len = 0;
    json_t *r;
    int rc = 0;
    if (j->res->state_get(j->party, &opt, &opt_len) != 0)
        opt = NULL;
    pthread_mutex_lock(&j->lock);
    r = json_pack("{s:I,s:f,s:I,s:I,s:o}", "batch", (json_int_t)j->batch, "total", j->total,
                  "done", (json_int_t)j->done, "req_seq", (json_int_t)j->req_seq, "key",
                  json_b64(j->key, sizeof(j->key)));
    pthread_mutex_unlock(&j->lock);
    if (r != NULL && opt != NULL && json_object_set_new(r, "opt", json_b64(opt, opt_len)) != 0)
        rc = HENN_ENOMEM;
    if (r == NULL || rc != 0 || json_object_set_new(o, "resume", r) != 0)
        rc = HENN_ENOMEM;
    henn_free(opt, opt_len);
    return rc;
}

char *henn__svc_jobs_record(henn__svc_jobs *j, const char *state, int rc)
{
    json_t *o;
    char *text = NULL;
    size_t n;
    pthread_mutex_lock(&j->lock);
    o = job_json(j, state, rc, 0);
    pthread_mutex_unlock(&j->lock);
    if (o == NULL)
        return NULL;
    if (j->res != NULL && strcmp(state, "running") == 0 && record_resume(j, o) != 0) {
        json_decref(o);
        return NULL;
    }
    n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    if (n > 0 && (text = malloc(n + 1)) != NULL) {
        if (json_dumpb(o, text, n, JSON_COMPACT) == n) {
            text[n] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    json_decref(o); /* the key's copies in jansson's blocks: wiped by its allocator hooks */
    return text;
}

/* bytes of a base64 JSON string into buf (*len its size in, length out). */
static int b64_field(uint8_t **buf, size_t *len, const json_t *v)
{
    const char *b64 = json_string_value(v);
    size_t n, cap;
    *buf = NULL;
    *len = 0;
    if (b64 == NULL)
        return HENN_EFORMAT;
    n = strlen(b64);
    cap = n / 4 * 3 + 3;
    *buf = malloc(cap);
    if (*buf == NULL)
        return HENN_ENOMEM;
    if (sodium_base642bin(*buf, cap, b64, n, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) !=
        0) {
        free(*buf);
        *buf = NULL;
        return HENN_EFORMAT;
    }
    return 0;
}

/* The checkpoint of a record stored while the job ran (j->lock held). */
static int restore_resume(henn__svc_jobs *j, const json_t *r)
{
    json_t *b = json_object_get(r, "batch"), *t = json_object_get(r, "total"),
           *d = json_object_get(r, "done"), *q = json_object_get(r, "req_seq");
    uint8_t *key = NULL;
    size_t key_len = 0;
    int rc;
    if (!json_is_integer(b) || !json_is_real(t) || !json_is_integer(d) || !json_is_integer(q) ||
        json_integer_value(b) < 0 || json_integer_value(d) < 0 || json_integer_value(q) < 0)
        return HENN_EFORMAT;
    rc = b64_field(&key, &key_len, json_object_get(r, "key"));
    if (rc == 0 && key_len != sizeof(j->key))
        rc = HENN_EFORMAT;
    if (rc == 0 && json_object_get(r, "opt") != NULL)
        rc = b64_field(&j->opt, &j->opt_len, json_object_get(r, "opt"));
    if (rc == 0) {
        memcpy(j->key, key, sizeof(j->key));
        j->batch = (size_t)json_integer_value(b);
        j->total = json_real_value(t);
        j->done = (size_t)json_integer_value(d);
        j->req_seq = (uint64_t)json_integer_value(q);
        j->resumable = 1;
    }
    henn_free(key, key_len);
    return rc;
}

int henn__svc_jobs_restore(henn__svc_jobs *j, const char *record)
{
    json_t *o = json_loads(record, 0, NULL), *loss;
    const char *state = json_string_value(json_object_get(o, "state"));
    json_int_t jid = json_integer_value(json_object_get(o, "job"));
    json_int_t epochs = json_integer_value(json_object_get(o, "epochs"));
    json_int_t epoch = json_integer_value(json_object_get(o, "epoch"));
    size_t e;
    int rc = 0;
    loss = json_object_get(o, "loss");
    if (o == NULL || state == NULL || jid < 1 || epochs < 1 || epochs > 100000 || epoch < 0 ||
        epoch > epochs || !json_is_array(loss) || json_array_size(loss) != (size_t)epoch) {
        json_decref(o);
        return HENN_EFORMAT;
    }
    pthread_mutex_lock(&j->lock);
    free(j->loss);
    j->loss = calloc((size_t)epochs, sizeof(double));
    if (j->loss == NULL) {
        rc = HENN_ENOMEM;
    } else {
        j->jid = (uint64_t)jid;
        j->epochs = (size_t)epochs;
        j->epoch = (size_t)epoch;
        j->seed = (uint64_t)json_integer_value(json_object_get(o, "seed"));
        j->rows_done = (size_t)json_integer_value(json_object_get(o, "rows"));
        j->rows_total = (size_t)json_integer_value(json_object_get(o, "rows_total"));
        for (e = 0; e < (size_t)epoch; e++)
            j->loss[e] = json_real_value(json_array_get(loss, e));
        j->state = strcmp(state, "done") == 0 ? JOB_DONE : JOB_FAILED;
        j->interrupted = strcmp(state, "running") == 0;
        j->rc = j->state == JOB_DONE ? 0 : HENN_EIO;
        if (j->interrupted && json_object_get(o, "resume") != NULL)
            rc = restore_resume(j, json_object_get(o, "resume"));
    }
    pthread_mutex_unlock(&j->lock);
    json_decref(o);
    return rc;
}

int henn__svc_jobs_poll(henn__svc_jobs *j, unsigned wait_s, uint8_t **req, size_t *len,
                        uint64_t *seq)
{
    struct timespec until;
    uint64_t cancels;
    int rc = 0;
    *req = NULL;
    *len = 0;
    *seq = 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_s;
    pthread_mutex_lock(&j->lock);
    cancels = j->cancels;
    /* Nothing can come while no job runs (and no party has the channel
     * open): answer at once. */
    while ((j->pending == NULL || j->answer != NULL) && (j->state == JOB_RUNNING || j->open) &&
           !j->cancel && j->cancels == cancels)
        if (wait_s == 0 || pthread_cond_timedwait(&j->cond, &j->lock, &until) == ETIMEDOUT)
            break;
    if (j->pending != NULL && j->answer == NULL) {
        *req = malloc(j->pending_len > 0 ? j->pending_len : 1);
        if (*req == NULL) {
            rc = HENN_ENOMEM;
        } else {
            if (j->pending_len > 0)
                memcpy(*req, j->pending, j->pending_len);
            *len = j->pending_len;
            *seq = j->req_seq;
        }
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int henn__svc_jobs_answer(henn__svc_jobs *j, uint64_t seq, const uint8_t *b, size_t len,
                          uint64_t *expected)
{
    int rc = 0;
    pthread_mutex_lock(&j->lock);
    *expected = j->req_seq;
    if (seq == j->req_seq && j->pending != NULL && j->answer == NULL) {
        j->answer = malloc(len > 0 ? len : 1);
        if (j->answer == NULL) {
            rc = HENN_ENOMEM;
        } else {
            if (len > 0)
                memcpy(j->answer, b, len);
            j->answer_len = len;
            pthread_cond_broadcast(&j->cond);
        }
    } else if (seq == 0 || seq > j->req_seq) {
        rc = 1; /* not asked yet */
    }
    /* else: an answer given before (a retry): accepted, ignored. */
    pthread_mutex_unlock(&j->lock);
    return rc;
}
