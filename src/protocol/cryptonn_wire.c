/*
 * CryptoNN plumbing: message framing (docs/FORMATS.md, "CryptoNN
 * messages"), the parameter block, a small thread fan-out and a clock.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonn_internal.h"

size_t henn__cn_ct_bytes(size_t n)
{
    return 9 + (n + 1) * HENN_FE_POINTBYTES;
}

size_t henn__cn_conv_side(size_t in_dim)
{
    size_t S = 1;
    while (S * S < in_dim)
        S++;
    return S * S == in_dim && S >= HENN__CN_K ? S : 0;
}

void henn__cn_patch_idx(size_t *idx, size_t S, size_t in_dim, size_t b, size_t p)
{
    size_t O = S - HENN__CN_K + 1, oy = p / O, ox = p % O;
    for (size_t i = 0; i < HENN__CN_K; i++)
        for (size_t j = 0; j < HENN__CN_K; j++)
            idx[i * HENN__CN_K + j] = b * in_dim + (oy + i) * S + ox + j;
}

void henn__cn_shift_idx(size_t *idx, size_t S, size_t in_dim, size_t rows, size_t q)
{
    size_t O = S - HENN__CN_K + 1, u = q / HENN__CN_K, v = q % HENN__CN_K, n = 0;
    for (size_t b = 0; b < rows; b++)
        for (size_t i = 0; i < O; i++)
            for (size_t j = 0; j < O; j++)
                idx[n++] = b * in_dim + (i + u) * S + j + v;
}

/* ---- writer ---- */

uint8_t *henn__cn_w_grow(henn__cn_w *w, size_t n)
{
    uint8_t *q;
    size_t cap;
    if (w->err != 0)
        return NULL;
    if (n > HENN__CN_MAX || w->len > HENN__CN_MAX + HENN__CN_HEADER - n) {
        w->err = HENN_EINVAL;
        return NULL;
    }
    if (w->len + n > w->cap) {
        cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        q = realloc(w->p, cap);
        if (q == NULL) {
            w->err = HENN_ENOMEM;
            return NULL;
        }
        w->p = q;
        w->cap = cap;
    }
    q = w->p + w->len;
    w->len += n;
    return q;
}

void henn__cn_w_start(henn__cn_w *w, int type)
{
    static const uint8_t head[HENN__CN_HEADER] = {'H', 'C', 'N', 1};
    memset(w, 0, sizeof(*w));
    henn__cn_w_bytes(w, head, sizeof(head));
    if (w->err == 0)
        w->p[4] = (uint8_t)type;
}

void henn__cn_w_bytes(henn__cn_w *w, const void *b, size_t n)
{
    uint8_t *q = henn__cn_w_grow(w, n);
    if (q != NULL && n > 0)
        memcpy(q, b, n);
}

void henn__cn_w_u8(henn__cn_w *w, uint8_t v)
{
    henn__cn_w_bytes(w, &v, 1);
}

void henn__cn_w_u32(henn__cn_w *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    henn__cn_w_bytes(w, b, 4);
}

void henn__cn_w_u64(henn__cn_w *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    henn__cn_w_bytes(w, b, 8);
}

int henn__cn_w_finish(henn__cn_w *w, uint8_t **out, size_t *out_len)
{
    size_t plen;
    *out = NULL;
    *out_len = 0;
    if (w->err != 0) {
        int rc = w->err;
        free(w->p);
        memset(w, 0, sizeof(*w));
        return rc;
    }
    plen = w->len - HENN__CN_HEADER;
    for (int i = 0; i < 4; i++)
        w->p[8 + i] = (uint8_t)(plen >> (8 * i));
    *out = w->p;
    *out_len = w->len;
    memset(w, 0, sizeof(*w));
    return 0;
}

/* ---- reader ---- */

static uint64_t le(const uint8_t *b, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

int henn__cn_r_open(henn__cn_r *r, int *type, const uint8_t *msg, size_t msg_len)
{
    memset(r, 0, sizeof(*r));
    *type = -1;
    if (msg == NULL || msg_len < HENN__CN_HEADER || memcmp(msg, "HCN\x01", 4) != 0 ||
        msg[5] != 0 || msg[6] != 0 || msg[7] != 0 || msg_len - HENN__CN_HEADER > HENN__CN_MAX ||
        le(msg + 8, 4) != msg_len - HENN__CN_HEADER) {
        r->err = HENN_EFORMAT;
        return HENN_EFORMAT;
    }
    *type = msg[4];
    r->p = msg + HENN__CN_HEADER;
    r->len = msg_len - HENN__CN_HEADER;
    return 0;
}

const uint8_t *henn__cn_r_bytes(henn__cn_r *r, size_t n)
{
    const uint8_t *b;
    if (r->err != 0 || n > r->len - r->pos) {
        r->err = HENN_EFORMAT;
        return NULL;
    }
    b = r->p + r->pos;
    r->pos += n;
    return b;
}

uint8_t henn__cn_r_u8(henn__cn_r *r)
{
    const uint8_t *b = henn__cn_r_bytes(r, 1);
    return b ? b[0] : 0;
}

uint32_t henn__cn_r_u32(henn__cn_r *r)
{
    const uint8_t *b = henn__cn_r_bytes(r, 4);
    return b ? (uint32_t)le(b, 4) : 0;
}

uint64_t henn__cn_r_u64(henn__cn_r *r)
{
    const uint8_t *b = henn__cn_r_bytes(r, 8);
    return b ? le(b, 8) : 0;
}

int henn__cn_r_done(const henn__cn_r *r)
{
    return r->err == 0 && r->pos == r->len ? 0 : HENN_EFORMAT;
}

int henn__cn_error(uint8_t **out, size_t *out_len, int code)
{
    henn__cn_w w;
    henn__cn_w_start(&w, HENN__CN_ERROR);
    henn__cn_w_u32(&w, (uint32_t)(int32_t)code);
    return henn__cn_w_finish(&w, out, out_len);
}

int henn__cn_error_code(const uint8_t *msg, size_t msg_len)
{
    henn__cn_r r;
    int type, code;
    if (henn__cn_r_open(&r, &type, msg, msg_len) != 0)
        return HENN_EFORMAT;
    if (type != HENN__CN_ERROR)
        return 0;
    code = (int)(int32_t)henn__cn_r_u32(&r);
    if (henn__cn_r_done(&r) != 0 || code >= 0 || code < -1000)
        return HENN_EFORMAT;
    return code;
}

/* ---- parameters: 9 u32 ---- */

void henn__cn_params_write(henn__cn_w *w, const henn_cryptonn_params *p)
{
    henn__cn_w_u32(w, p->in_dim);
    henn__cn_w_u32(w, p->batch);
    henn__cn_w_u32(w, p->classes);
    henn__cn_w_u32(w, p->x_scale);
    henn__cn_w_u32(w, p->fw);
    henn__cn_w_u32(w, p->w_bits);
    henn__cn_w_u32(w, p->d_bits);
    henn__cn_w_u32(w, p->fl);
    henn__cn_w_u32(w, p->layout);
}

void henn__cn_params_read(henn__cn_r *r, henn_cryptonn_params *p)
{
    p->in_dim = henn__cn_r_u32(r);
    p->batch = henn__cn_r_u32(r);
    p->classes = henn__cn_r_u32(r);
    p->x_scale = henn__cn_r_u32(r);
    p->fw = henn__cn_r_u32(r);
    p->w_bits = henn__cn_r_u32(r);
    p->d_bits = henn__cn_r_u32(r);
    p->fl = henn__cn_r_u32(r);
    p->layout = henn__cn_r_u32(r);
}

double henn__cn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- fan-out: thread k takes indices k, k + T, ... ---- */

typedef struct {
    henn__cn_task fn;
    void *arg;
    size_t count, start, step;
    size_t first_bad; /* index of the first failure, count if none */
    int rc;
    pthread_t th;
} job;

static void *run_job(void *v)
{
    job *j = v;
    for (size_t i = j->start; i < j->count; i += j->step) {
        int rc = j->fn(j->arg, i);
        if (rc != 0) {
            j->rc = rc;
            j->first_bad = i;
            break;
        }
    }
    return NULL;
}

int henn__cn_parallel(henn__cn_task fn, void *arg, size_t count, unsigned threads)
{
    job jobs[16];
    size_t t, T = threads == 0 ? 1 : threads, started = 0, best;
    int rc = 0;
    if (T > 16)
        T = 16;
    if (T > count)
        T = count;
    for (t = 0; t < T; t++)
    {
        memset(&jobs[t], 0, sizeof(jobs[t]));
        jobs[t].fn = fn;
        jobs[t].arg = arg;
        jobs[t].count = count;
        jobs[t].start = t;
        jobs[t].step = T;
        jobs[t].first_bad = count;
    }
    for (t = 1; t < T; t++) {
        if (pthread_create(&jobs[t].th, NULL, run_job, &jobs[t]) != 0)
            break;
        started++;
    }
    /* indices of threads that could not start run here */
    for (t = started + 1; t < T; t++)
        run_job(&jobs[t]);
    if (T > 0)
        run_job(&jobs[0]);
    for (t = 1; t <= started; t++)
        pthread_join(jobs[t].th, NULL);
    best = count;
    for (t = 0; t < T; t++)
        if (jobs[t].rc != 0 && jobs[t].first_bad < best) {
            best = jobs[t].first_bad;
            rc = jobs[t].rc;
        }
    return rc;
}

typedef struct {
    henn_feip_fk *fk;
    const uint8_t *src;
    size_t m, n;
} fk_job;

#define FK_CHUNK 4096

static int read_fk_chunk(void *arg, size_t c)
{
    fk_job *j = arg;
    size_t end = (c + 1) * FK_CHUNK < j->m ? (c + 1) * FK_CHUNK : j->m;
    for (size_t i = c * FK_CHUNK; i < end; i++) {
        int rc = henn_feip_fk_deserialize(&j->fk[i], j->src + i * HENN__CN_FK_BYTES,
                                          HENN__CN_FK_BYTES);
        if (rc == 0 && j->fk[i].n != j->n)
            rc = HENN_EFORMAT;
        if (rc != 0)
            return rc;
    }
    return 0;
}

int henn__cn_read_fks(henn_feip_fk *fk, const uint8_t *src, size_t m, size_t n,
                      unsigned threads)
{
    fk_job j = {fk, src, m, n};
    if (src == NULL)
        return HENN_EFORMAT;
    return henn__cn_parallel(read_fk_chunk, &j, (m + FK_CHUNK - 1) / FK_CHUNK, threads);
}

int henn__cn_roundtrip(henn_transport *t, uint8_t *req, size_t req_len, int want_type,
                       uint8_t **resp, size_t *resp_len, henn__cn_r *r)
{
    int rc = henn_transport_call(t, req, req_len, resp, resp_len), type;
    free(req);
    if (rc != 0)
        return rc;
    rc = henn__cn_error_code(*resp, *resp_len);
    if (rc == 0)
        rc = henn__cn_r_open(r, &type, *resp, *resp_len);
    if (rc == 0 && type != want_type)
        rc = HENN_EFORMAT;
    if (rc != 0) {
        free(*resp);
        *resp = NULL;
        *resp_len = 0;
    }
    return rc;
}

int henn__cn_fetch_mpk(henn_transport *to_authority, henn_cryptonn_params *p,
                       henn_feip_mpk mpk[3], henn_febo_mpk *bo)
{
    henn__cn_w w;
    henn__cn_r r;
    uint8_t *req, *resp = NULL;
    size_t req_len, resp_len = 0;
    int rc;
    memset(mpk, 0, 3 * sizeof(*mpk));
    memset(bo, 0, sizeof(*bo));
    henn__cn_w_start(&w, HENN__CN_MPK_REQ);
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = henn__cn_roundtrip(to_authority, req, req_len, HENN__CN_MPK, &resp, &resp_len, &r);
    if (rc != 0)
        return rc;
    henn__cn_params_read(&r, p);
    if (r.err == 0 && henn_cryptonn_params_check(p) != 0)
        rc = HENN_EFORMAT;
    for (int i = 0; i < 2 && rc == 0; i++) {
        uint32_t len = henn__cn_r_u32(&r);
        const uint8_t *b = henn__cn_r_bytes(&r, len);
        rc = b == NULL ? HENN_EFORMAT : henn_feip_mpk_deserialize(&mpk[i], b, len);
    }
    if (rc == 0) {
        const uint8_t *b = henn__cn_r_bytes(&r, HENN_FEBO_MPK_BYTES);
        rc = b == NULL ? HENN_EFORMAT : henn_febo_mpk_deserialize(bo, b, HENN_FEBO_MPK_BYTES);
    }
    if (rc == 0 && p->layout == HENN_CRYPTONN_LAYOUT_BATCH) {
        uint32_t len = henn__cn_r_u32(&r);
        const uint8_t *b = henn__cn_r_bytes(&r, len);
        rc = b == NULL ? HENN_EFORMAT : henn_feip_mpk_deserialize(&mpk[2], b, len);
        if (rc == 0) {
            uint32_t yb = p->w_bits > p->d_bits ? p->w_bits : p->d_bits;
            if (mpk[2].n != (size_t)p->batch * p->in_dim || mpk[2].x_bound != p->x_scale ||
                mpk[2].y_bound != (uint64_t)1 << yb)
                rc = HENN_EFORMAT;
        }
    }
    if (rc == 0)
        rc = henn__cn_r_done(&r);
    /* the keys must be the ones the parameters describe */
    if (rc == 0 &&
        (mpk[0].n != p->in_dim || mpk[0].x_bound != p->x_scale ||
         mpk[0].y_bound != (uint64_t)1 << p->w_bits || mpk[1].n != p->batch ||
         mpk[1].x_bound != p->x_scale || mpk[1].y_bound != (uint64_t)1 << p->d_bits ||
         bo->x_bound != (uint64_t)1 << p->fl || bo->y_bound != (uint64_t)1 << p->fl))
        rc = HENN_EFORMAT;
    free(resp);
    if (rc != 0) {
        henn_feip_mpk_clear(&mpk[0]);
        henn_feip_mpk_clear(&mpk[1]);
        henn_feip_mpk_clear(&mpk[2]);
        memset(mpk, 0, 3 * sizeof(*mpk));
        memset(bo, 0, sizeof(*bo));
    }
    return rc;
}

int henn__cn_get_bo_keys(henn_transport *to_auth, const int64_t *yq, const uint8_t *src,
                         size_t m, henn_febo_fk *bk, henn_cryptonn_stats *st)
{
    henn__cn_w w;
    henn__cn_r r;
    uint8_t *req, *resp = NULL, *dst;
    size_t req_len, resp_len = 0, i;
    double t0 = henn__cn_now(), t1;
    int rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_BO);
    henn__cn_w_u32(&w, (uint32_t)m);
    dst = henn__cn_w_grow(&w, m * (9 + HENN_FEBO_CT_BYTES));
    if (dst != NULL)
        for (i = 0; i < m; i++) {
            uint8_t *e = dst + i * (9 + HENN_FEBO_CT_BYTES);
            e[0] = HENN_FEBO_SUB;
            for (int k = 0; k < 8; k++)
                e[1 + k] = (uint8_t)((uint64_t)yq[i] >> (8 * k));
            memcpy(e + 9, src + i * HENN_FEBO_CT_BYTES, HENN_FEBO_CT_BYTES);
        }
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = henn__cn_roundtrip(to_auth, req, req_len, HENN__CN_KEYS_BO_RESP, &resp, &resp_len, &r);
    t1 = henn__cn_now();
    st->t_keys += t1 - t0;
    if (rc != 0)
        return rc;
    if (henn__cn_r_u32(&r) != m)
        rc = HENN_EFORMAT;
    for (i = 0; i < m && rc == 0; i++) {
        const uint8_t *b = henn__cn_r_bytes(&r, HENN_FEBO_FK_BYTES);
        rc = b == NULL ? HENN_EFORMAT : henn_febo_fk_deserialize(&bk[i], b, HENN_FEBO_FK_BYTES);
        if (rc == 0 && (bk[i].op != HENN_FEBO_SUB || bk[i].y != yq[i]))
            rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = henn__cn_r_done(&r);
    free(resp);
    st->keys_bo += m;
    st->t_parse += henn__cn_now() - t1;
    return rc;
}
