/*
 * CryptoNN server: trains on encrypted batches. Per BATCH it
 *  1. parses and checks every ciphertext (canonical points, lengths),
 *  2. asks the authority for FEIP keys of the rows of W1_q and decrypts
 *     Z1_q = W1_q x_q for every sample (forward),
 *  3. asks for FEBO "sub" keys for its predictions yhat_q and decrypts
 *     2^fl y - yhat_q (the paper's loss gradient; it gives the label),
 *  4. runs the plaintext layers and backpropagation to delta1,
 *  5. asks for FEIP keys of the columns of delta1_q and decrypts
 *     dW1_q = delta1_q^T X_q from the column ciphertexts (backward),
 *  6. updates the model. The arithmetic after decryption is that of
 *     henn_cryptonn_twin_step (cryptonn_fixed.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonn_internal.h"

struct henn_cryptonn_server {
    henn_cryptonn_params p;
    henn_feip_mpk mpk[3]; /* [2]: BATCH layout only */
    henn_febo_mpk bo;
    henn_fe_dlog dl;
    henn_nn_model m;
    henn_nn_trainer *t;
    henn_transport *to_auth;
    unsigned threads;
    size_t h; /* first-layer width */
    henn_cryptonn_stats st;
    /* per-batch state */
    size_t rows;
    int fd;
    henn_feip_ct *cs, *cc; /* [batch] samples, [in_dim] columns */
    henn_febo_ct *cb;      /* [batch x classes] */
    henn_feip_fk *fk;      /* [nfk] FEIP keys of the current request */
    size_t nfk;            /* h, or h max(batch, in_dim) for the BATCH layout */
    henn_feip_ct lct;      /* BATCH layout: the batch's one long ciphertext */
    henn_feip_ct0_tab tab; /* and the fixed-base table of its c_0 */
    henn_febo_fk *bk;      /* [batch x classes] */
    int64_t *wq, *z1q, *dq, *dT, *g, *febo, *yq;
    float *Z1, *dW1;
    uint8_t *labels, *live; /* live[j]: delta column j nonzero */
};

static void free_buffers(henn_cryptonn_server *s)
{
    if (s->cs != NULL)
        for (size_t i = 0; i < s->p.batch; i++)
            henn_feip_ct_clear(&s->cs[i]);
    if (s->cc != NULL)
        for (size_t i = 0; i < s->p.in_dim; i++)
            henn_feip_ct_clear(&s->cc[i]);
    if (s->fk != NULL)
        henn_memzero(s->fk, s->nfk * sizeof(*s->fk));
    henn_feip_ct_clear(&s->lct);
    henn_feip_ct0_tab_clear(&s->tab);
    free(s->cs);
    free(s->cc);
    free(s->cb);
    free(s->fk);
    free(s->bk);
    free(s->wq);
    free(s->z1q);
    free(s->dq);
    free(s->dT);
    free(s->g);
    free(s->febo);
    free(s->yq);
    free(s->Z1);
    free(s->dW1);
    free(s->labels);
    free(s->live);
}

void henn_cryptonn_server_free(henn_cryptonn_server *s)
{
    if (s == NULL)
        return;
    free_buffers(s);
    henn_nn_trainer_free(s->t);
    henn_nn_model_clear(&s->m);
    henn_fe_dlog_clear(&s->dl);
    henn_feip_mpk_clear(&s->mpk[0]);
    henn_feip_mpk_clear(&s->mpk[1]);
    henn_feip_mpk_clear(&s->mpk[2]);
    free(s);
}

int henn_cryptonn_server_new(henn_cryptonn_server **out, const henn_nn_model *model,
                             const henn_nn_opts *nn, henn_transport *to_authority,
                             uint64_t dlog_table, unsigned threads)
{
    henn_cryptonn_server *s;
    henn_nn_opts o;
    size_t B, d, h, C;
    uint64_t bound;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (model == NULL || nn == NULL || to_authority == NULL || model->layers < 2 ||
        model->output != HENN_NN_SOFTMAX_CE)
        return HENN_EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HENN_ENOMEM;
    henn_nn_model_init_empty(&s->m);
    s->to_auth = to_authority;
    s->threads = threads == 0 ? 2 : threads;
    rc = henn__cn_fetch_mpk(to_authority, &s->p, s->mpk, &s->bo);
    if (rc != 0)
        goto fail;
    B = s->p.batch;
    d = s->p.in_dim;
    C = s->p.classes;
    h = model->dims[1];
    if (model->dims[0] != d || model->dims[model->layers] != C) {
        rc = HENN_EINVAL;
        goto fail;
    }
    s->h = h;
    bound = henn_cryptonn_dlog_bound(&s->p);
    if (dlog_table == 0)
        dlog_table = bound < ((uint64_t)1 << 22) ? bound : (uint64_t)1 << 22;
    rc = henn_fe_dlog_init(&s->dl, bound, dlog_table);
    if (rc != 0)
        goto fail;
    rc = henn_nn_model_copy(&s->m, model);
    if (rc != 0)
        goto fail;
    o = *nn;
    o.max_rows = B;
    rc = henn_nn_trainer_new(&s->t, &s->m, &o);
    if (rc != 0)
        goto fail;
    s->cs = calloc(B, sizeof(*s->cs));
    s->cc = calloc(d, sizeof(*s->cc));
    s->cb = calloc(B * C, sizeof(*s->cb));
    s->nfk = s->p.layout == HENN_CRYPTONN_LAYOUT_BATCH ? h * (B > d ? B : d) : h;
    s->fk = calloc(s->nfk, sizeof(*s->fk));
    s->bk = calloc(B * C, sizeof(*s->bk));
    s->wq = calloc(h * d, sizeof(*s->wq));
    s->z1q = calloc(B * h, sizeof(*s->z1q));
    s->dq = calloc(B * h, sizeof(*s->dq));
    s->dT = calloc(h * B, sizeof(*s->dT));
    s->g = calloc(h * d, sizeof(*s->g));
    s->febo = calloc(B * C, sizeof(*s->febo));
    s->yq = calloc(B * C, sizeof(*s->yq));
    s->Z1 = calloc(B * h, sizeof(*s->Z1));
    s->dW1 = calloc(h * d, sizeof(*s->dW1));
    s->labels = calloc(B, 1);
    s->live = calloc(h, 1);
    if (s->cs == NULL || s->cc == NULL || s->cb == NULL || s->fk == NULL || s->bk == NULL ||
        s->wq == NULL || s->z1q == NULL || s->dq == NULL || s->dT == NULL || s->g == NULL ||
        s->febo == NULL || s->yq == NULL || s->Z1 == NULL || s->dW1 == NULL ||
        s->labels == NULL || s->live == NULL) {
        rc = HENN_ENOMEM;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    henn_cryptonn_server_free(s);
    return rc;
}

const henn_nn_model *henn_cryptonn_server_model(const henn_cryptonn_server *s)
{
    return &s->m;
}

void henn_cryptonn_server_stats(henn_cryptonn_stats *st, const henn_cryptonn_server *s)
{
    *st = s->st;
}

void henn_cryptonn_server_view(henn_cryptonn_view *v, const henn_cryptonn_server *s)
{
    v->rows = s->rows;
    v->batch = s->p.batch;
    v->hidden = s->h;
    v->in_dim = s->p.in_dim;
    v->classes = s->p.classes;
    v->fd = s->fd;
    v->z1 = s->z1q;
    v->wq = s->wq;
    v->dq = s->dq;
    v->g = s->g;
    v->febo = s->febo;
    v->yq = s->yq;
}

/* ---- parsing (parallel) ---- */

typedef struct {
    henn_cryptonn_server *s;
    const uint8_t *src;
    size_t rows;
} parse_job;

static int parse_item(void *arg, size_t i)
{
    parse_job *j = arg;
    henn_cryptonn_server *s = j->s;
    size_t d = s->p.in_dim, B = s->p.batch, sb = henn__cn_ct_bytes(d),
           cbytes = henn__cn_ct_bytes(B);
    henn_feip_ct *ct;
    const uint8_t *b;
    size_t len, n;
    int rc;
    if (i >= j->rows + d) {
        size_t e = i - j->rows - d;
        return henn_febo_ct_deserialize(&s->cb[e], j->src + j->rows * sb + d * cbytes +
                                                       e * HENN_FEBO_CT_BYTES,
                                        HENN_FEBO_CT_BYTES);
    }
    if (i < j->rows) {
        ct = &s->cs[i];
        b = j->src + i * sb;
        len = sb;
        n = d;
    } else {
        ct = &s->cc[i - j->rows];
        b = j->src + j->rows * sb + (i - j->rows) * cbytes;
        len = cbytes;
        n = B;
    }
    henn_feip_ct_clear(ct);
    rc = henn_feip_ct_deserialize(ct, b, len);
    if (rc == 0 && ct->n != n)
        rc = HENN_EFORMAT;
    return rc;
}

/* BATCH layout: item 0 the long ciphertext (decoded on all threads first),
 * items 1.. the FEBO ciphertexts */
static int parse_bo_item(void *arg, size_t i)
{
    parse_job *j = arg;
    return henn_febo_ct_deserialize(&j->s->cb[i], j->src + i * HENN_FEBO_CT_BYTES,
                                    HENN_FEBO_CT_BYTES);
}

/* ---- keys ---- */

/* FEIP keys for the `m` vectors Y [m x n] of scheme into s->fk[0..m). */
static int get_ip_keys(henn_cryptonn_server *s, int scheme, const int64_t *Y, size_t m, size_t n)
{
    henn__cn_w w;
    henn__cn_r r;
    uint8_t *req, *resp = NULL, *dst;
    size_t req_len, resp_len = 0, i, k;
    double t0 = henn__cn_now(), t1;
    int rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_IP);
    henn__cn_w_u8(&w, (uint8_t)scheme);
    henn__cn_w_u32(&w, (uint32_t)m);
    henn__cn_w_u32(&w, (uint32_t)n);
    dst = henn__cn_w_grow(&w, m * n * 8);
    if (dst != NULL)
        for (i = 0; i < m * n; i++)
            for (k = 0; k < 8; k++)
                dst[i * 8 + k] = (uint8_t)((uint64_t)Y[i] >> (8 * k));
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = henn__cn_roundtrip(s->to_auth, req, req_len, HENN__CN_KEYS_IP_RESP, &resp, &resp_len,
                            &r);
    t1 = henn__cn_now();
    s->st.t_keys += t1 - t0;
    if (rc != 0)
        return rc;
    if (henn__cn_r_u32(&r) != m)
        rc = HENN_EFORMAT;
    for (i = 0; i < m && rc == 0; i++) {
        const uint8_t *b = henn__cn_r_bytes(&r, HENN__CN_FK_BYTES);
        rc = b == NULL ? HENN_EFORMAT : henn_feip_fk_deserialize(&s->fk[i], b, HENN__CN_FK_BYTES);
        if (rc == 0 && s->fk[i].n != n)
            rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = henn__cn_r_done(&r);
    free(resp);
    s->st.keys_ip += m;
    s->st.t_parse += henn__cn_now() - t1;
    return rc;
}

/* BATCH layout: keys for every (vector, support) pair, vector-major, into
 * s->fk: kind 0 vectors Y [m x in_dim] on samples 0..rows-1, kind 1
 * vectors Y [m x batch] on features 0..in_dim-1. */
static int get_sup_keys(henn_cryptonn_server *s, int kind, const int64_t *Y, size_t m)
{
    henn__cn_w w;
    henn__cn_r r;
    uint8_t *req, *resp = NULL, *dst;
    size_t req_len, resp_len = 0, i, k, n = kind == 0 ? s->p.in_dim : s->p.batch,
                    ns = kind == 0 ? s->rows : s->p.in_dim, total = m * ns;
    double t0 = henn__cn_now(), t1;
    int rc;
    if (total > s->nfk)
        return HENN_EINVAL;
    henn__cn_w_start(&w, HENN__CN_KEYS_SUP);
    henn__cn_w_u8(&w, (uint8_t)kind);
    henn__cn_w_u32(&w, (uint32_t)m);
    henn__cn_w_u32(&w, (uint32_t)n);
    dst = henn__cn_w_grow(&w, m * n * 8);
    if (dst != NULL)
        for (i = 0; i < m * n; i++)
            for (k = 0; k < 8; k++)
                dst[i * 8 + k] = (uint8_t)((uint64_t)Y[i] >> (8 * k));
    henn__cn_w_u32(&w, (uint32_t)ns);
    for (i = 0; i < ns; i++)
        henn__cn_w_u32(&w, (uint32_t)i);
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = henn__cn_roundtrip(s->to_auth, req, req_len, HENN__CN_KEYS_SUP_RESP, &resp, &resp_len,
                            &r);
    t1 = henn__cn_now();
    s->st.t_keys += t1 - t0;
    if (rc != 0)
        return rc;
    if (henn__cn_r_u32(&r) != total)
        rc = HENN_EFORMAT;
    if (rc == 0) {
        const uint8_t *b = henn__cn_r_bytes(&r, total * HENN__CN_FK_BYTES);
        rc = henn__cn_r_done(&r);
        if (rc == 0)
            rc = henn__cn_read_fks(s->fk, b, total, s->mpk[2].n, s->threads);
    }
    free(resp);
    s->st.keys_ip += total;
    s->st.t_parse += henn__cn_now() - t1;
    return rc;
}

/* ---- decryption (parallel) ---- */

static int dec_fwd(void *arg, size_t i)
{
    henn_cryptonn_server *s = arg;
    size_t r = i / s->h, j = i % s->h, d = s->p.in_dim;
    return henn_feip_decrypt(&s->z1q[i], &s->mpk[0], &s->dl, &s->cs[r], &s->fk[j],
                             s->wq + j * d, d);
}

/* backward: item (live row index a, feature k); s->fk[a] is the key of
 * the a-th live delta column, s->dT row a its vector */
typedef struct {
    henn_cryptonn_server *s;
    const size_t *live_idx;
    size_t nlive;
} bwd_job;

static int dec_bwd(void *arg, size_t i)
{
    bwd_job *b = arg;
    henn_cryptonn_server *s = b->s;
    size_t d = s->p.in_dim, a = i / d, k = i % d, B = s->p.batch;
    return henn_feip_decrypt(&s->g[b->live_idx[a] * d + k], &s->mpk[1], &s->dl, &s->cc[k],
                             &s->fk[a], s->dT + a * B, B);
}

/* BATCH layout, forward: item r (a sample): the h keys of the rows of W1
 * on the support (r, .) decrypted together (henn_feip_decrypt_shared: the
 * 784 points gathered once, the discrete logarithms in one batch, each
 * result within X sum |w_j|); key j rows + r, vector W1_q row j. */
static int dec_fwd_sup(void *arg, size_t r)
{
    henn_cryptonn_server *s = arg;
    size_t d = s->p.in_dim, h = s->h, j, t;
    size_t *idx = malloc(d * sizeof(*idx));
    henn_feip_fk *fk = calloc(h, sizeof(*fk));
    int64_t *v = calloc(h, sizeof(*v));
    int rc = HENN_ENOMEM;
    if (idx != NULL && fk != NULL && v != NULL) {
        for (t = 0; t < d; t++)
            idx[t] = r * d + t;
        for (j = 0; j < h; j++)
            fk[j] = s->fk[j * s->rows + r];
        rc = henn_feip_decrypt_shared(v, &s->mpk[2], &s->dl, &s->lct, &s->tab, fk, s->wq, idx, d,
                                      h);
        for (j = 0; j < h && rc == 0; j++)
            s->z1q[r * h + j] = v[j];
    }
    if (fk != NULL)
        henn_memzero(fk, h * sizeof(*fk));
    free(fk);
    free(idx);
    free(v);
    return rc;
}

/* BATCH layout, backward: item k (a feature): the nlive keys for the live
 * delta columns on the support (., k), decrypted together
 * (henn_feip_decrypt_shared: the 64 points gathered once, the discrete
 * logarithms in one batch, each result within X sum |delta_j|); key
 * a d + k, vector dT row a. */
static int dec_bwd_sup(void *arg, size_t k)
{
    bwd_job *b = arg;
    henn_cryptonn_server *s = b->s;
    size_t d = s->p.in_dim, B = s->p.batch, n = b->nlive, a, i;
    size_t *idx = malloc(B * sizeof(*idx));
    henn_feip_fk *fk = calloc(n, sizeof(*fk));
    int64_t *v = calloc(n, sizeof(*v));
    int rc = HENN_ENOMEM;
    if (idx != NULL && fk != NULL && v != NULL) {
        for (i = 0; i < B; i++)
            idx[i] = i * d + k;
        for (a = 0; a < n; a++)
            fk[a] = s->fk[a * d + k];
        rc = henn_feip_decrypt_shared(v, &s->mpk[2], &s->dl, &s->lct, &s->tab, fk, s->dT, idx,
                                      B, n);
        for (a = 0; a < n && rc == 0; a++)
            s->g[b->live_idx[a] * d + k] = v[a];
    }
    if (fk != NULL)
        henn_memzero(fk, n * sizeof(*fk));
    free(fk);
    free(idx);
    free(v);
    return rc;
}

static int dec_bo(void *arg, size_t i)
{
    henn_cryptonn_server *s = arg;
    return henn_febo_decrypt(&s->febo[i], &s->bo, &s->dl, &s->cb[i], &s->bk[i]);
}

static void track(uint64_t *mx, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t a = v[i] < 0 ? (uint64_t)0 - (uint64_t)v[i] : (uint64_t)v[i];
        if (a > *mx)
            *mx = a;
    }
}

/* yhat [rows x classes] from Z1 through the plaintext layers (softmax) */
static int predict_from_z1(const henn_cryptonn_server *s, double *yhat, size_t rows)
{
    const henn_nn_model *m = &s->m;
    size_t L = m->layers, maxd = 0, l, r, j, k;
    float *a, *b;
    for (l = 1; l <= L; l++)
        if (m->dims[l] > maxd)
            maxd = m->dims[l];
    a = malloc(maxd * sizeof(*a));
    b = malloc(maxd * sizeof(*b));
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return HENN_ENOMEM;
    }
    for (r = 0; r < rows; r++) {
        memcpy(a, s->Z1 + r * s->h, s->h * sizeof(*a));
        henn_nn_activate(a, s->h, m->act[0]);
        for (l = 1; l < L; l++) {
            size_t in = m->dims[l], out = m->dims[l + 1];
            for (j = 0; j < out; j++) {
                double z = m->b[l][j];
                for (k = 0; k < in; k++)
                    z += (double)m->W[l][j * in + k] * a[k];
                b[j] = (float)z;
            }
            if (l < L - 1)
                henn_nn_activate(b, out, m->act[l]);
            memcpy(a, b, out * sizeof(*a));
        }
        {
            size_t C = m->dims[L];
            double mx = a[0], sum = 0;
            for (j = 1; j < C; j++)
                if (a[j] > mx)
                    mx = a[j];
            for (j = 0; j < C; j++)
                sum += exp((double)a[j] - mx);
            for (j = 0; j < C; j++)
                yhat[r * C + j] = exp((double)a[j] - mx) / sum;
        }
    }
    free(a);
    free(b);
    return 0;
}

static int train_batch(henn_cryptonn_server *s, henn__cn_r *r, double *loss)
{
    const henn_cryptonn_params *p = &s->p;
    size_t d = p->in_dim, B = p->batch, C = p->classes, h = s->h, rows, i, j, nlive;
    size_t *lidx = NULL;
    const uint8_t *src, *bo_src;
    double t0, *yhat = NULL;
    parse_job pj;
    bwd_job bj;
    int rc;
    const int lng = p->layout == HENN_CRYPTONN_LAYOUT_BATCH;
    const size_t lbytes = henn__cn_ct_bytes(B * d);
    rows = henn__cn_r_u32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    if (rows == 0 || rows > B)
        return HENN_EINVAL;
    if (lng)
        src = henn__cn_r_bytes(r, lbytes + rows * C * HENN_FEBO_CT_BYTES);
    else
        src = henn__cn_r_bytes(r, rows * henn__cn_ct_bytes(d) + d * henn__cn_ct_bytes(B) +
                                      rows * C * HENN_FEBO_CT_BYTES);
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    s->rows = rows;
    /* 1. every ciphertext */
    t0 = henn__cn_now();
    if (lng) {
        bo_src = src + lbytes;
        henn_feip_ct_clear(&s->lct);
        henn_feip_ct0_tab_clear(&s->tab);
        rc = henn_feip_ct_deserialize_mt(&s->lct, src, lbytes, s->threads);
        if (rc == 0 && s->lct.n != B * d)
            rc = HENN_EFORMAT;
        if (rc == 0)
            rc = henn_feip_ct0_tab_init(&s->tab, &s->lct);
        pj = (parse_job){s, bo_src, rows};
        if (rc == 0)
            rc = henn__cn_parallel(parse_bo_item, &pj, rows * C, s->threads);
    } else {
        bo_src = src + rows * henn__cn_ct_bytes(d) + d * henn__cn_ct_bytes(B);
        pj = (parse_job){s, src, rows};
        rc = henn__cn_parallel(parse_item, &pj, rows + d + rows * C, s->threads);
    }
    s->st.t_parse += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    /* 2. forward */
    t0 = henn__cn_now();
    rc = henn__cn_quant_w(s->wq, s->m.W[0], h * d, p);
    s->st.t_plain += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    rc = lng ? get_sup_keys(s, 0, s->wq, h) : get_ip_keys(s, HENN_CRYPTONN_SAMPLE, s->wq, h, d);
    if (rc != 0)
        return rc;
    t0 = henn__cn_now();
    rc = lng ? henn__cn_parallel(dec_fwd_sup, s, rows, s->threads)
             : henn__cn_parallel(dec_fwd, s, rows * h, s->threads);
    s->st.t_decrypt += henn__cn_now() - t0;
    s->st.decryptions_ip += rows * h;
    if (rc != 0)
        return rc;
    track(&s->st.max_abs_ip, s->z1q, rows * h);
    /* 3. FEBO: the loss gradient yhat - y, as in the paper */
    t0 = henn__cn_now();
    henn__cn_z1(s->Z1, s->z1q, s->m.b[0], rows, h, p);
    yhat = malloc(rows * C * sizeof(*yhat));
    if (yhat == NULL)
        return HENN_ENOMEM;
    rc = predict_from_z1(s, yhat, rows);
    for (i = 0; i < rows * C && rc == 0; i++)
        s->yq[i] = (int64_t)nearbyint(ldexp(yhat[i], (int)p->fl));
    free(yhat);
    s->st.t_plain += henn__cn_now() - t0;
    if (rc == 0)
        rc = henn__cn_get_bo_keys(s->to_auth, s->yq, bo_src, rows * C, s->bk, &s->st);
    if (rc != 0)
        return rc;
    t0 = henn__cn_now();
    rc = henn__cn_parallel(dec_bo, s, rows * C, s->threads);
    s->st.t_decrypt += henn__cn_now() - t0;
    s->st.decryptions_bo += rows * C;
    if (rc != 0)
        return rc;
    track(&s->st.max_abs_ip, s->febo, rows * C);
    /* the result is 2^fl y_c - yhat_q: with yhat_q known, y_c follows */
    for (i = 0; i < rows; i++) {
        size_t ones = 0;
        for (j = 0; j < C; j++) {
            int64_t v = s->febo[i * C + j] + s->yq[i * C + j];
            if (v == (int64_t)1 << p->fl) {
                ones++;
                s->labels[i] = (uint8_t)j;
            } else if (v != 0)
                return HENN_EPROTO;
        }
        if (ones != 1)
            return HENN_EPROTO;
    }
    /* 4. plaintext layers */
    t0 = henn__cn_now();
    rc = henn_nn_backprop(s->t, NULL, s->Z1, s->labels, rows, loss);
    if (rc == 0)
        rc = henn__cn_quant_delta(s->dq, &s->fd, henn_nn_dz1(s->t), rows, h, p);
    s->st.t_plain += henn__cn_now() - t0;
    if (rc != 0)
        return rc;
    /* 5. backward: keys for the nonzero columns of delta1 only */
    lidx = malloc(h * sizeof(*lidx));
    if (lidx == NULL)
        return HENN_ENOMEM;
    nlive = 0;
    for (j = 0; j < h; j++) {
        int nz = 0;
        for (i = 0; i < B; i++) {
            s->dT[nlive * B + i] = s->dq[i * h + j];
            nz |= s->dq[i * h + j] != 0;
        }
        s->live[j] = (uint8_t)nz;
        if (nz)
            lidx[nlive++] = j;
    }
    memset(s->g, 0, h * d * sizeof(*s->g));
    if (nlive > 0) {
        rc = lng ? get_sup_keys(s, 1, s->dT, nlive)
                 : get_ip_keys(s, HENN_CRYPTONN_COLUMN, s->dT, nlive, B);
        if (rc == 0) {
            t0 = henn__cn_now();
            bj = (bwd_job){s, lidx, nlive};
            rc = lng ? henn__cn_parallel(dec_bwd_sup, &bj, d, s->threads)
                     : henn__cn_parallel(dec_bwd, &bj, nlive * d, s->threads);
            s->st.t_decrypt += henn__cn_now() - t0;
            s->st.decryptions_ip += nlive * d;
        }
    }
    free(lidx);
    if (rc != 0)
        return rc;
    track(&s->st.max_abs_ip, s->g, h * d);
    /* 6. update */
    t0 = henn__cn_now();
    henn__cn_dw1(s->dW1, s->g, h * d, s->fd, p);
    henn_nn_set_grad_w1(s->t, s->dW1);
    henn_nn_update(s->t);
    s->st.t_plain += henn__cn_now() - t0;
    s->st.samples += rows;
    s->st.batches++;
    return 0;
}

int henn_cryptonn_server_handle(henn_cryptonn_server *s, const uint8_t *req, size_t req_len,
                                uint8_t **resp, size_t *resp_len)
{
    henn__cn_r r;
    henn__cn_w w;
    double loss = 0;
    uint64_t lb;
    int type, rc;
    *resp = NULL;
    *resp_len = 0;
    rc = henn__cn_r_open(&r, &type, req, req_len);
    if (rc == 0 && type != HENN__CN_BATCH)
        rc = HENN_EFORMAT;
    if (rc == 0)
        rc = train_batch(s, &r, &loss);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return henn__cn_error(resp, resp_len, rc);
    memcpy(&lb, &loss, sizeof(lb));
    henn__cn_w_start(&w, HENN__CN_BATCH_RESP);
    henn__cn_w_u64(&w, lb);
    return henn__cn_w_finish(&w, resp, resp_len);
}

static int server_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    return henn_cryptonn_server_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_cryptonn_server(henn_transport *t, henn_cryptonn_server *s)
{
    memset(t, 0, sizeof(*t));
    t->call = server_call;
    t->ctx = s;
}
