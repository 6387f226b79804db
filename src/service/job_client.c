/*
 * The owner's side of a training job (henn_svc_job_start,
 * henn_svc_job_serve; henn/service.h): start the job, then long-poll the
 * session's server-driven requests, answer them through the owner's
 * record (henn_svc_answers) and follow the job's progress until it ends.
 * Connection errors and 5xx answers (a server restarting) are retried
 * until the client's retry_s has passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "henn/service.h"

#define POLL_WAIT_S 2 /* one long poll's wait: how often the job's status is read */
#define MAX_BODY ((size_t)1 << 30)
#define STATUS_EVERY 2 /* answers between two status reads (a KDD batch: 2 requests) */

typedef struct jbuf {
    uint8_t *data;
    size_t len, cap;
    uint64_t seq; /* Henn-Seq */
} jbuf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    jbuf *b = user;
    size_t n = size * nmemb;
    if (n > MAX_BODY - b->len)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *g;
        while (cap < b->len + n + 1)
            cap *= 2;
        g = realloc(b->data, cap);
        if (g == NULL)
            return 0;
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *user)
{
    jbuf *b = user;
    size_t n = size * nmemb;
    if (n > 9 && strncasecmp(ptr, "Henn-Seq:", 9) == 0) {
        char tmp[32];
        size_t k = n - 9 < sizeof(tmp) - 1 ? n - 9 : sizeof(tmp) - 1;
        memcpy(tmp, ptr + 9, k);
        tmp[k] = '\0';
        b->seq = strtoull(tmp, NULL, 10);
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

typedef struct job_conn {
    CURL *curl;
    const henn_svc_client_opts *o;
    char base[700], auth[128];
} job_conn;

/* One exchange, retried (50 ms doubling to 2 s) on connection errors and
 * 5xx until retry_s has passed: 0 with *status and the body, HENN_EIO. */
static int call(job_conn *c, const char *method, const char *path, const char *ctype,
                const void *body, size_t body_len, long timeout_s, long *status, jbuf *b)
{
    double until = now_s() + (c->o->retry_s > 0 ? c->o->retry_s : 120.0), pause = 0.05;
    char url[900], ct[96];
    for (;;) {
        struct curl_slist *h = curl_slist_append(NULL, "Expect:"), *h2;
        CURLcode e;
        memset(b, 0, sizeof(*b));
        *status = 0;
        snprintf(url, sizeof(url), "%s%s", c->base, path);
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        if (h != NULL && (h2 = curl_slist_append(h, c->auth)) != NULL)
            h = h2;
        if (h != NULL && (h2 = curl_slist_append(h, ct)) != NULL)
            h = h2;
        curl_easy_reset(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->o->ca_file != NULL) { /* the only trust anchor, as in client.c */
            curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->o->ca_file);
            curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
        }
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout_s);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, b);
        if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        } else {
            curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        }
        e = curl_easy_perform(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        if (e == CURLE_OK)
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
        if (e == CURLE_OK && *status < 500)
            return 0;
        free(b->data);
        memset(b, 0, sizeof(*b));
        if (now_s() + pause > until)
            return HENN_EIO;
        sleep_s(pause);
        pause = pause * 2 > 2.0 ? 2.0 : pause * 2;
    }
}

static int conn_open(job_conn *c, const henn_svc_client_opts *o, const char *session,
                     const char *token)
{
    memset(c, 0, sizeof(*c));
    if (o == NULL || o->url == NULL || session == NULL || token == NULL ||
        strlen(session) != 32 || strlen(token) != 64 || strlen(o->url) > 512)
        return HENN_EINVAL;
    if (strncmp(o->url, "https://", 8) != 0 &&
        !(strncmp(o->url, "http://", 7) == 0 &&
          (o->allow_insecure_http || strncmp(o->url + 7, "127.", 4) == 0 ||
           strncmp(o->url + 7, "localhost", 9) == 0 || strncmp(o->url + 7, "[::1]", 5) == 0)))
        return HENN_EINVAL;
    c->o = o;
    snprintf(c->base, sizeof(c->base), "%s/v1/sessions/%s", o->url, session);
    snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", token);
    c->curl = curl_easy_init();
    return c->curl != NULL ? 0 : HENN_ENOMEM;
}

static void conn_close(job_conn *c)
{
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    henn_memzero(c->auth, sizeof(c->auth));
}

int henn_svc_job_start(const henn_svc_client_opts *o, const char *session, const char *token,
                       size_t epochs, uint64_t seed, uint64_t *jid)
{
    job_conn c;
    jbuf b;
    long st = 0;
    char body[128];
    int rc;
    json_t *j;
    *jid = 0;
    if (epochs == 0 || epochs > 100000 || seed > (uint64_t)INT64_MAX)
        return HENN_EINVAL;
    rc = conn_open(&c, o, session, token);
    if (rc != 0) {
        conn_close(&c);
        return rc;
    }
    snprintf(body, sizeof(body), "{\"kind\":\"train\",\"epochs\":%zu,\"seed\":%llu}", epochs,
             (unsigned long long)seed);
    rc = call(&c, "POST", "/jobs", "application/json", body, strlen(body), 30, &st, &b);
    if (rc == 0) {
        j = st == 201 ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
        *jid = (uint64_t)json_integer_value(json_object_get(j, "job"));
        rc = *jid > 0 ? 0 : HENN_EIO;
        json_decref(j);
    }
    free(b.data);
    conn_close(&c);
    return rc;
}

/* The job's status: 0 and *state ("running", "done", "failed"), or HENN_EIO. */
static int job_status(job_conn *c, uint64_t jid, json_t **out)
{
    char path[64];
    jbuf b;
    long st = 0;
    int rc;
    *out = NULL;
    snprintf(path, sizeof(path), "/jobs/%llu", (unsigned long long)jid);
    rc = call(c, "GET", path, "application/json", NULL, 0, 30, &st, &b);
    if (rc == 0 && st == 200)
        *out = json_loadb((const char *)b.data, b.len, 0, NULL);
    free(b.data);
    if (rc == 0 && *out == NULL)
        rc = HENN_EIO;
    return rc;
}

int henn_svc_job_serve(const henn_svc_client_opts *o, const char *session, const char *token,
                       uint64_t jid, henn_owner *owner, henn_svc_answers *answers,
                       henn_svc_job_fn progress, void *user, double *loss, size_t epochs)
{
    job_conn c;
    size_t e, n_answered = 0;
    int rc, done = 0;
    if (owner == NULL || answers == NULL || jid == 0 || (loss == NULL && epochs > 0))
        return HENN_EINVAL;
    rc = conn_open(&c, o, session, token);
    while (rc == 0 && !done) {
        jbuf b;
        long st = 0;
        json_t *j = NULL;
        char path[64];
        int answered = 0;
        snprintf(path, sizeof(path), "/requests?wait=%d", POLL_WAIT_S);
        rc = call(&c, "GET", path, "application/octet-stream", NULL, 0, POLL_WAIT_S + 30, &st,
                  &b);
        if (rc == 0 && st == 200 && b.seq > 0) {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            jbuf b2;
            long st2 = 0;
            rc = henn_svc_answers_handle(answers, owner, b.seq, b.data, b.len, &resp, &resp_len);
            snprintf(path, sizeof(path), "/requests/%llu", (unsigned long long)b.seq);
            if (rc == 0)
                rc = call(&c, "POST", path, "application/octet-stream", resp, resp_len, 60, &st2,
                          &b2);
            if (rc == 0) {
                /* 409: the job moved on (it was answered before a restart) */
                if (st2 != 200 && st2 != 409)
                    rc = HENN_EIO;
                free(b2.data);
            }
            free(resp);
            answered = 1;
            n_answered++;
        } else if (rc == 0 && st != 200 && st != 204) {
            rc = HENN_EIO;
        }
        free(b.data);
        /* The status after an empty poll (the job may have ended: polls
         * return at once then) and every STATUS_EVERY answers (progress). */
        if (rc != 0 || (answered && n_answered % STATUS_EVERY != 0))
            continue;
        rc = job_status(&c, jid, &j);
        if (rc == 0) {
            const char *state = json_string_value(json_object_get(j, "state"));
            json_t *l = json_object_get(j, "loss");
            if (progress != NULL)
                progress(user, (size_t)json_integer_value(json_object_get(j, "epoch")),
                         (size_t)json_integer_value(json_object_get(j, "rows")),
                         (size_t)json_integer_value(json_object_get(j, "rows_total")));
            if (state == NULL) {
                rc = HENN_EPROTO;
            } else if (strcmp(state, "done") == 0) {
                if (json_array_size(l) != epochs)
                    rc = HENN_EPROTO;
                for (e = 0; rc == 0 && e < epochs; e++)
                    loss[e] = json_real_value(json_array_get(l, e));
                done = 1;
            } else if (strcmp(state, "running") != 0) {
                rc = HENN_EIO; /* failed */
            }
        }
        json_decref(j);
    }
    conn_close(&c);
    return rc;
}
