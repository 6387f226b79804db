/*
 * CryptoNN authority: holds the three master secret keys, publishes the
 * mpks and answers key requests (FEIP keys for vectors, FEBO keys bound to
 * a ciphertext's commitment). Every key vector passes through the log
 * callback: the authority sees the server's first-layer weights and its
 * gradients in the clear (docs/THREAT_MODEL.md).
 */
#include <stdlib.h>
#include <string.h>

#include "cryptonn_internal.h"

struct henn_cryptonn_authority {
    henn_cryptonn_params p;
    henn_feip_mpk mpk[3]; /* [2]: the BATCH layout's long vector (else zeroed) */
    henn_feip_msk msk[3];
    henn_febo_mpk bo_mpk;
    henn_febo_msk bo_msk;
    henn_cryptonn_log_fn log;
    void *log_user;
    unsigned threads;
    henn_cryptonn_stats st;
};

int henn_cryptonn_authority_new(henn_cryptonn_authority **out, const henn_cryptonn_params *p)
{
    henn_cryptonn_authority *a;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (p == NULL)
        return HENN_EINVAL;
    rc = henn_cryptonn_params_check(p);
    if (rc != 0)
        return rc;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return HENN_ENOMEM;
    a->p = *p;
    a->threads = 1;
    rc = henn_feip_setup(&a->mpk[0], &a->msk[0], p->in_dim, p->x_scale,
                         (uint64_t)1 << p->w_bits);
    if (rc == 0)
        rc = henn_feip_setup(&a->mpk[1], &a->msk[1], p->batch, p->x_scale,
                             (uint64_t)1 << p->d_bits);
    if (rc == 0)
        rc = henn_febo_setup(&a->bo_mpk, &a->bo_msk, (uint64_t)1 << p->fl,
                             (uint64_t)1 << p->fl);
    if (rc == 0 && p->layout == HENN_CRYPTONN_LAYOUT_BATCH)
        rc = henn_feip_setup(&a->mpk[2], &a->msk[2], (size_t)p->batch * p->in_dim, p->x_scale,
                             (uint64_t)1 << (p->w_bits > p->d_bits ? p->w_bits : p->d_bits));
    if (rc != 0) {
        henn_cryptonn_authority_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void henn_cryptonn_authority_free(henn_cryptonn_authority *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < 3; i++) {
        henn_feip_mpk_clear(&a->mpk[i]);
        henn_feip_msk_clear(&a->msk[i]);
    }
    henn_febo_msk_clear(&a->bo_msk);
    henn_memzero(a, sizeof(*a));
    free(a);
}

void henn_cryptonn_authority_set_threads(henn_cryptonn_authority *a, unsigned threads)
{
    if (a != NULL)
        a->threads = threads == 0 ? 1 : threads > 16 ? 16 : threads;
}

void henn_cryptonn_authority_set_log(henn_cryptonn_authority *a, henn_cryptonn_log_fn fn,
                                     void *user)
{
    a->log = fn;
    a->log_user = user;
}

void henn_cryptonn_authority_stats(henn_cryptonn_stats *s, const henn_cryptonn_authority *a)
{
    *s = a->st;
}

static int answer_mpk(henn_cryptonn_authority *a, henn__cn_r *r, uint8_t **resp,
                      size_t *resp_len)
{
    henn__cn_w w;
    uint8_t *b[3] = {NULL, NULL, NULL}, bo[HENN_FEBO_MPK_BYTES];
    size_t bl[3] = {0, 0, 0};
    int nm = a->p.layout == HENN_CRYPTONN_LAYOUT_BATCH ? 3 : 2;
    int rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    for (int i = 0; i < nm && rc == 0; i++)
        rc = henn_feip_mpk_serialize(&b[i], &bl[i], &a->mpk[i]);
    if (rc == 0) {
        henn_febo_mpk_serialize(bo, &a->bo_mpk);
        henn__cn_w_start(&w, HENN__CN_MPK);
        henn__cn_params_write(&w, &a->p);
        for (int i = 0; i < 2; i++) {
            henn__cn_w_u32(&w, (uint32_t)bl[i]);
            henn__cn_w_bytes(&w, b[i], bl[i]);
        }
        henn__cn_w_bytes(&w, bo, sizeof(bo));
        if (nm == 3) {
            henn__cn_w_u32(&w, (uint32_t)bl[2]);
            henn__cn_w_bytes(&w, b[2], bl[2]);
        }
        rc = henn__cn_w_finish(&w, resp, resp_len);
    }
    for (int i = 0; i < 3; i++)
        if (b[i] != NULL)
            henn_free(b[i], bl[i]);
    return rc;
}

/* KEYS_IP: scheme u8 | m u32 | n u32 | m x n i64 -> m u32 | m x fk */
static int answer_keys_ip(henn_cryptonn_authority *a, henn__cn_r *r, uint8_t **resp,
                          size_t *resp_len)
{
    henn__cn_w w;
    henn_feip_fk fk;
    int64_t *y = NULL;
    const uint8_t *src;
    uint8_t *kb = NULL;
    size_t kl = 0, i, k;
    int scheme = henn__cn_r_u8(r), rc;
    uint32_t m = henn__cn_r_u32(r), n = henn__cn_r_u32(r);
    double t0 = henn__cn_now();
    if (r->err != 0)
        return HENN_EFORMAT;
    if (scheme != HENN_CRYPTONN_SAMPLE && scheme != HENN_CRYPTONN_COLUMN)
        return HENN_EFORMAT;
    if (m == 0 || m > HENN_CRYPTONN_MAX_KEYS || n != a->mpk[scheme].n)
        return HENN_EINVAL;
    src = henn__cn_r_bytes(r, (size_t)m * n * 8);
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    y = malloc((size_t)n * sizeof(*y));
    if (y == NULL)
        return HENN_ENOMEM;
    memset(&fk, 0, sizeof(fk));
    henn__cn_w_start(&w, HENN__CN_KEYS_IP_RESP);
    henn__cn_w_u32(&w, m);
    for (i = 0; i < m && rc == 0; i++) {
        for (k = 0; k < n; k++) {
            uint64_t v = 0;
            for (int b = 8; b-- > 0;)
                v = v << 8 | src[(i * n + k) * 8 + (size_t)b];
            y[k] = (int64_t)v;
        }
        rc = henn_feip_derive_key(&fk, &a->msk[scheme], y, n);
        if (rc != 0)
            break;
        if (a->log != NULL)
            a->log(a->log_user, scheme, 0, y, n);
        rc = henn_feip_fk_serialize(&kb, &kl, &fk);
        if (rc == 0 && kl != HENN__CN_FK_BYTES)
            rc = HENN_EINVAL;
        if (rc == 0)
            henn__cn_w_bytes(&w, kb, kl);
        if (kb != NULL)
            henn_free(kb, kl);
        kb = NULL;
        henn_feip_fk_clear(&fk);
    }
    free(y);
    if (rc != 0) {
        free(w.p);
        return rc;
    }
    a->st.keys_ip += m;
    a->st.t_derive += henn__cn_now() - t0;
    return henn__cn_w_finish(&w, resp, resp_len);
}

/*
 * KEYS_CONV (BATCH layout, LeNet-5's first convolution; geometry in
 * cryptonn_internal.h: images of side S = sqrt(in_dim), 5 x 5 kernel,
 * valid, P patches):
 *  kind 0: nf u32 | nf x 25 i64 filters (|y| <= 2^w_bits) | ni u32 | ni x
 *    u32 images (strictly increasing, < batch) -> m = ni nf P u32 | m x fk
 *    in (image, filter, patch) order: filter f on patch p of image b;
 *  kind 1: nf u32 | rows u32 (<= batch) | nf x rows x P i64 delta1 maps
 *    (|y| <= 2^d_bits) -> m = 25 nf u32 | m x fk in (filter, u, v) order:
 *    map f on the positions b in_dim + (i + u) S + j + v.
 * Keys are derived on the authority's threads; the log sees each key in
 * response order.
 */
typedef struct {
    const henn_feip_msk *msk;
    int kind;
    size_t S, in_dim, P, nf, rows;
    const int64_t *y;     /* kind 0: filters [nf x 25]; kind 1: maps [nf x rows P] */
    const uint32_t *img;  /* kind 0: [ni] */
    uint8_t *out;         /* the keys, HENN__CN_FK_BYTES each */
} conv_job;

static int put_fk(uint8_t *dst, henn_feip_fk *fk)
{
    uint8_t *kb = NULL;
    size_t kl = 0;
    int rc = henn_feip_fk_serialize(&kb, &kl, fk);
    if (rc == 0 && kl != HENN__CN_FK_BYTES)
        rc = HENN_EINVAL;
    if (rc == 0)
        memcpy(dst, kb, kl);
    if (kb != NULL)
        henn_free(kb, kl);
    henn_feip_fk_clear(fk);
    return rc;
}

/* kind 0: item (image i, filter f), its P keys; kind 1: item (f, q) */
static int conv_task(void *arg, size_t it)
{
    conv_job *J = arg;
    henn_feip_fk fk;
    int rc = 0;
    if (J->kind == 0) {
        size_t i = it / J->nf, f = it % J->nf, idx[HENN__CN_KK];
        for (size_t p = 0; p < J->P && rc == 0; p++) {
            henn__cn_patch_idx(idx, J->S, J->in_dim, J->img[i], p);
            rc = henn_feip_derive_key_idx(&fk, J->msk, J->y + f * HENN__CN_KK, idx,
                                          HENN__CN_KK);
            if (rc == 0)
                rc = put_fk(J->out + (it * J->P + p) * HENN__CN_FK_BYTES, &fk);
        }
        return rc;
    }
    size_t f = it / HENN__CN_KK, q = it % HENN__CN_KK, m = J->rows * J->P;
    size_t *idx = malloc(m * sizeof(*idx));
    if (idx == NULL)
        return HENN_ENOMEM;
    henn__cn_shift_idx(idx, J->S, J->in_dim, J->rows, q);
    rc = henn_feip_derive_key_idx(&fk, J->msk, J->y + f * m, idx, m);
    if (rc == 0)
        rc = put_fk(J->out + it * HENN__CN_FK_BYTES, &fk);
    free(idx);
    return rc;
}

static int answer_keys_conv(henn_cryptonn_authority *a, henn__cn_r *r, uint8_t **resp,
                            size_t *resp_len)
{
    const henn_cryptonn_params *p = &a->p;
    henn__cn_w w;
    conv_job J;
    int kind = henn__cn_r_u8(r), rc;
    uint32_t nf = henn__cn_r_u32(r), second = 0; /* kind 0: images, kind 1: rows */
    size_t S = henn__cn_conv_side(p->in_dim), P, nvals, nkeys, k;
    const uint8_t *src, *imgs = NULL;
    uint32_t *img = NULL;
    int64_t *y = NULL;
    uint64_t ybound;
    double t0 = henn__cn_now();
    if (r->err != 0 || (kind != 0 && kind != 1))
        return HENN_EFORMAT;
    if (p->layout != HENN_CRYPTONN_LAYOUT_BATCH || S == 0 || nf == 0 || nf > 64)
        return HENN_EINVAL;
    P = (S - HENN__CN_K + 1) * (S - HENN__CN_K + 1);
    if (kind == 1) {
        second = henn__cn_r_u32(r);
        if (r->err != 0)
            return HENN_EFORMAT;
        if (second == 0 || second > p->batch)
            return HENN_EINVAL;
        nvals = (size_t)nf * second * P;
    } else {
        nvals = (size_t)nf * HENN__CN_KK;
    }
    src = henn__cn_r_bytes(r, nvals * 8);
    if (kind == 0) {
        uint32_t ni = henn__cn_r_u32(r);
        if (r->err != 0)
            return HENN_EFORMAT;
        if (ni == 0 || ni > p->batch)
            return HENN_EINVAL;
        imgs = henn__cn_r_bytes(r, (size_t)ni * 4);
        second = ni;
    }
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    ybound = (uint64_t)1 << (kind == 0 ? p->w_bits : p->d_bits);
    nkeys = kind == 0 ? (size_t)second * nf * P : (size_t)nf * HENN__CN_KK;
    y = malloc(nvals * sizeof(*y));
    img = calloc(kind == 0 ? second : 1, sizeof(*img));
    if (y == NULL || img == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (k = 0; k < nvals; k++) {
        uint64_t u = 0;
        for (int b = 8; b-- > 0;)
            u = u << 8 | src[k * 8 + (size_t)b];
        y[k] = (int64_t)u;
        if ((y[k] < 0 ? (uint64_t)0 - u : u) > ybound)
            rc = HENN_ERANGE;
    }
    if (rc != 0)
        goto done;
    for (k = 0; kind == 0 && k < second; k++) {
        img[k] = (uint32_t)imgs[4 * k] | (uint32_t)imgs[4 * k + 1] << 8 |
                 (uint32_t)imgs[4 * k + 2] << 16 | (uint32_t)imgs[4 * k + 3] << 24;
        if (img[k] >= p->batch || (k > 0 && img[k] <= img[k - 1]))
            rc = HENN_EINVAL;
    }
    if (rc != 0)
        goto done;
    henn__cn_w_start(&w, HENN__CN_KEYS_CONV_RESP);
    henn__cn_w_u32(&w, (uint32_t)nkeys);
    J.out = henn__cn_w_grow(&w, nkeys * HENN__CN_FK_BYTES);
    if (J.out == NULL) {
        rc = w.err != 0 ? w.err : HENN_ENOMEM;
        free(w.p);
        goto done;
    }
    J.msk = &a->msk[2];
    J.kind = kind;
    J.S = S;
    J.in_dim = p->in_dim;
    J.P = P;
    J.nf = nf;
    J.rows = kind == 1 ? second : 0;
    J.y = y;
    J.img = img;
    rc = henn__cn_parallel(conv_task, &J, kind == 0 ? (size_t)second * nf : nkeys, a->threads);
    if (rc != 0) {
        free(w.p);
        goto done;
    }
    if (a->log != NULL) {
        if (kind == 0) {
            for (k = 0; k < nkeys; k++) {
                size_t i = k / (nf * P), f = (k / P) % nf;
                a->log(a->log_user, HENN_CRYPTONN_CONV_PATCH, (int)(img[i] * P + k % P),
                       y + f * HENN__CN_KK, HENN__CN_KK);
            }
        } else {
            for (k = 0; k < nkeys; k++)
                a->log(a->log_user, HENN_CRYPTONN_CONV_SHIFT, (int)(k % HENN__CN_KK),
                       y + (k / HENN__CN_KK) * second * P, (size_t)second * P);
        }
    }
    a->st.keys_ip += nkeys;
    a->st.t_derive += henn__cn_now() - t0;
    rc = henn__cn_w_finish(&w, resp, resp_len);
done:
    free(y);
    free(img);
    return rc;
}

/*
 * KEYS_SUP (BATCH layout): kind u8 (0 rows of W1, 1 columns of delta1) |
 * nv u32 | n u32 | nv x n i64 vectors | ns u32 | ns x u32 support indices
 * -> m = nv ns u32 | m x fk, vector-major (key v ns + t for vector v on
 * support t). kind 0: n = in_dim, support b < batch is (b, .), |y| <=
 * 2^w_bits; kind 1: n = batch, support k < in_dim is (., k), |y| <=
 * 2^d_bits. Derived on the authority's threads (item v: the ns keys of
 * vector v); the log sees them in response order.
 */
typedef struct {
    const henn_feip_msk *msk;
    int kind;
    size_t n, ns, d;
    const int64_t *y;     /* [nv x n] */
    const uint32_t *sup;  /* [ns] */
    uint8_t *out;
} sup_job;

static int sup_task(void *arg, size_t v)
{
    sup_job *J = arg;
    henn_feip_fk fk;
    int rc = 0;
    for (size_t t = 0; t < J->ns && rc == 0; t++) {
        size_t idx = J->sup[t];
        rc = J->kind == 0 ? henn_feip_derive_key_sub(&fk, J->msk, J->y + v * J->n, J->n,
                                                     idx * J->d, 1)
                          : henn_feip_derive_key_sub(&fk, J->msk, J->y + v * J->n, J->n, idx,
                                                     J->d);
        if (rc == 0)
            rc = put_fk(J->out + (v * J->ns + t) * HENN__CN_FK_BYTES, &fk);
    }
    return rc;
}

static int answer_keys_sup(henn_cryptonn_authority *a, henn__cn_r *r, uint8_t **resp,
                           size_t *resp_len)
{
    henn__cn_w w;
    const henn_cryptonn_params *p = &a->p;
    int kind = henn__cn_r_u8(r), rc;
    uint32_t nv = henn__cn_r_u32(r), n = henn__cn_r_u32(r), ns;
    const uint8_t *src, *sup;
    int64_t *y = NULL;
    uint32_t *idx = NULL;
    size_t v, t, k, d = p->in_dim, B = p->batch;
    uint64_t ybound;
    sup_job J;
    double t0 = henn__cn_now();
    if (r->err != 0 || (kind != 0 && kind != 1))
        return HENN_EFORMAT;
    if (p->layout != HENN_CRYPTONN_LAYOUT_BATCH)
        return HENN_EINVAL;
    if (nv == 0 || nv > HENN_CRYPTONN_MAX_KEYS || n != (kind == 0 ? d : B))
        return HENN_EINVAL;
    src = henn__cn_r_bytes(r, (size_t)nv * n * 8);
    ns = henn__cn_r_u32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    if (ns == 0 || ns > (kind == 0 ? B : d))
        return HENN_EINVAL;
    sup = henn__cn_r_bytes(r, (size_t)ns * 4);
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    idx = malloc((size_t)ns * sizeof(*idx));
    y = malloc((size_t)nv * n * sizeof(*y));
    if (idx == NULL || y == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (t = 0; t < ns; t++) {
        idx[t] = (uint32_t)sup[4 * t] | (uint32_t)sup[4 * t + 1] << 8 |
                 (uint32_t)sup[4 * t + 2] << 16 | (uint32_t)sup[4 * t + 3] << 24;
        if (idx[t] >= (kind == 0 ? B : d)) {
            rc = HENN_EINVAL;
            goto done;
        }
    }
    ybound = (uint64_t)1 << (kind == 0 ? p->w_bits : p->d_bits);
    for (k = 0; k < (size_t)nv * n; k++) {
        uint64_t u = 0;
        for (int b = 8; b-- > 0;)
            u = u << 8 | src[k * 8 + (size_t)b];
        y[k] = (int64_t)u;
        if ((y[k] < 0 ? (uint64_t)0 - u : u) > ybound)
            rc = HENN_ERANGE;
    }
    if (rc != 0)
        goto done;
    henn__cn_w_start(&w, HENN__CN_KEYS_SUP_RESP);
    henn__cn_w_u32(&w, nv * ns);
    J.out = henn__cn_w_grow(&w, (size_t)nv * ns * HENN__CN_FK_BYTES);
    if (J.out == NULL) {
        rc = w.err != 0 ? w.err : HENN_ENOMEM;
        free(w.p);
        goto done;
    }
    J.msk = &a->msk[2];
    J.kind = kind;
    J.n = n;
    J.ns = ns;
    J.d = d;
    J.y = y;
    J.sup = idx;
    rc = henn__cn_parallel(sup_task, &J, nv, a->threads);
    if (rc != 0) {
        free(w.p);
        goto done;
    }
    if (a->log != NULL)
        for (v = 0; v < nv; v++)
            for (t = 0; t < ns; t++)
                a->log(a->log_user, kind == 0 ? HENN_CRYPTONN_BATCH_ROW : HENN_CRYPTONN_BATCH_COL,
                       (int)idx[t], y + v * n, n);
    a->st.keys_ip += (uint64_t)nv * ns;
    a->st.t_derive += henn__cn_now() - t0;
    rc = henn__cn_w_finish(&w, resp, resp_len);
done:
    free(y);
    free(idx);
    return rc;
}

/* KEYS_BO: m u32 | m x (op u8 | y i64 | ct 69) -> m u32 | m x fk 46 */
static int answer_keys_bo(henn_cryptonn_authority *a, henn__cn_r *r, uint8_t **resp,
                          size_t *resp_len)
{
    henn__cn_w w;
    uint32_t m = henn__cn_r_u32(r), i;
    const uint8_t *src;
    int rc;
    double t0 = henn__cn_now();
    if (r->err != 0)
        return HENN_EFORMAT;
    if (m == 0 || m > HENN_CRYPTONN_MAX_KEYS)
        return HENN_EINVAL;
    src = henn__cn_r_bytes(r, (size_t)m * (9 + HENN_FEBO_CT_BYTES));
    rc = henn__cn_r_done(r);
    if (rc != 0)
        return rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_BO_RESP);
    henn__cn_w_u32(&w, m);
    for (i = 0; i < m && rc == 0; i++) {
        const uint8_t *e = src + (size_t)i * (9 + HENN_FEBO_CT_BYTES);
        henn_febo_ct ct;
        henn_febo_fk fk;
        uint64_t v = 0;
        uint8_t *out;
        int op = e[0];
        for (int b = 8; b-- > 0;)
            v = v << 8 | e[1 + b];
        rc = henn_febo_ct_deserialize(&ct, e + 9, HENN_FEBO_CT_BYTES);
        if (rc == 0)
            rc = henn_febo_derive_key(&fk, &a->bo_msk, &ct, op, (int64_t)v);
        if (rc != 0)
            break;
        if (a->log != NULL) {
            int64_t yv = (int64_t)v;
            a->log(a->log_user, HENN_CRYPTONN_LABEL, op, &yv, 1);
        }
        out = henn__cn_w_grow(&w, HENN_FEBO_FK_BYTES);
        if (out != NULL)
            henn_febo_fk_serialize(out, &fk);
        henn_memzero(&fk, sizeof(fk));
    }
    if (rc != 0) {
        free(w.p);
        return rc;
    }
    a->st.keys_bo += m;
    a->st.t_derive += henn__cn_now() - t0;
    return henn__cn_w_finish(&w, resp, resp_len);
}

int henn_cryptonn_authority_handle(henn_cryptonn_authority *a, const uint8_t *req,
                                   size_t req_len, uint8_t **resp, size_t *resp_len)
{
    henn__cn_r r;
    int type, rc;
    *resp = NULL;
    *resp_len = 0;
    rc = henn__cn_r_open(&r, &type, req, req_len);
    if (rc == 0) {
        if (type == HENN__CN_MPK_REQ)
            rc = answer_mpk(a, &r, resp, resp_len);
        else if (type == HENN__CN_KEYS_IP)
            rc = answer_keys_ip(a, &r, resp, resp_len);
        else if (type == HENN__CN_KEYS_BO)
            rc = answer_keys_bo(a, &r, resp, resp_len);
        else if (type == HENN__CN_KEYS_SUP)
            rc = answer_keys_sup(a, &r, resp, resp_len);
        else if (type == HENN__CN_KEYS_CONV)
            rc = answer_keys_conv(a, &r, resp, resp_len);
        else
            rc = HENN_EFORMAT;
    }
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return henn__cn_error(resp, resp_len, rc);
    return 0;
}

static int authority_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    return henn_cryptonn_authority_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_cryptonn_authority(henn_transport *t, henn_cryptonn_authority *a)
{
    memset(t, 0, sizeof(*t));
    t->call = authority_call;
    t->ctx = a;
}
