/*
 * CryptoNN client: encrypts a batch for the server. Per batch it sends one
 * FEIP ciphertext of each sample (forward, Z1 = W1 x), one FEIP ciphertext
 * of each feature column of the batch (backward, dW1 = delta1^T X; rows
 * beyond a short batch are zero) and one FEBO ciphertext of each one-hot
 * label element 2^fl [y == c].
 *
 * BATCH: rows u32 | rows x ct(in_dim) | in_dim x ct(batch) | rows x classes
 *        x FEBO ct (69 bytes). The response: BATCH_RESP loss f64.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonn_internal.h"

struct henn_cryptonn_client {
    henn_cryptonn_params p;
    henn_feip_mpk mpk[3]; /* [2]: BATCH layout only */
    henn_febo_mpk bo;
    unsigned threads;
    henn_cryptonn_stats st;
};

int henn_cryptonn_client_new(henn_cryptonn_client **out, henn_transport *to_authority,
                             unsigned threads)
{
    henn_cryptonn_client *c;
    int rc;
    if (out == NULL)
        return HENN_EINVAL;
    *out = NULL;
    if (to_authority == NULL)
        return HENN_EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HENN_ENOMEM;
    c->threads = threads == 0 ? 2 : threads;
    rc = henn__cn_fetch_mpk(to_authority, &c->p, c->mpk, &c->bo);
    if (rc != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void henn_cryptonn_client_free(henn_cryptonn_client *c)
{
    if (c == NULL)
        return;
    henn_feip_mpk_clear(&c->mpk[0]);
    henn_feip_mpk_clear(&c->mpk[1]);
    henn_feip_mpk_clear(&c->mpk[2]);
    free(c);
}

const henn_cryptonn_params *henn_cryptonn_client_params(const henn_cryptonn_client *c)
{
    return &c->p;
}

void henn_cryptonn_client_stats(henn_cryptonn_stats *s, const henn_cryptonn_client *c)
{
    *s = c->st;
}

typedef struct {
    const henn_cryptonn_client *c;
    const int64_t *xq;
    const uint8_t *y;
    size_t rows;
    uint8_t *out; /* where the ciphertexts go in the message */
} enc_job;

/* item i: sample i (i < rows), then column i - rows, then FEBO elements */
static int enc_item(void *arg, size_t i)
{
    enc_job *j = arg;
    const henn_cryptonn_params *p = &j->c->p;
    size_t d = p->in_dim, B = p->batch, sb = henn__cn_ct_bytes(d), cb = henn__cn_ct_bytes(B);
    henn_feip_ct ct = {0};
    uint8_t *buf = NULL, *dst;
    size_t len = 0, want;
    int64_t v[HENN_CRYPTONN_MAX_BATCH];
    int rc;
    if (i >= j->rows + d) {
        size_t e = i - j->rows - d, r = e / p->classes, cls = e % p->classes;
        henn_febo_ct bc;
        rc = henn_febo_encrypt(&bc, &j->c->bo,
                               j->y[r] == cls ? (int64_t)1 << p->fl : 0);
        if (rc == 0)
            henn_febo_ct_serialize(j->out + j->rows * sb + d * cb + e * HENN_FEBO_CT_BYTES, &bc);
        henn_memzero(&bc, sizeof(bc));
        return rc;
    }
    if (i < j->rows) {
        rc = henn_feip_encrypt(&ct, &j->c->mpk[0], j->xq + i * d, d);
        dst = j->out + i * sb;
        want = sb;
    } else {
        size_t k = i - j->rows;
        for (size_t r = 0; r < B; r++)
            v[r] = r < j->rows ? j->xq[r * d + k] : 0;
        rc = henn_feip_encrypt(&ct, &j->c->mpk[1], v, B);
        henn_memzero(v, sizeof(v));
        dst = j->out + j->rows * sb + k * cb;
        want = cb;
    }
    if (rc == 0)
        rc = henn_feip_ct_serialize(&buf, &len, &ct);
    if (rc == 0 && len != want)
        rc = HENN_EINVAL;
    if (rc == 0)
        memcpy(dst, buf, len);
    if (buf != NULL)
        henn_free(buf, len);
    henn_feip_ct_clear(&ct);
    return rc;
}

/* item i: FEBO element i (BATCH layout) */
static int enc_bo_item(void *arg, size_t i)
{
    enc_job *j = arg;
    const henn_cryptonn_params *p = &j->c->p;
    size_t r = i / p->classes, cls = i % p->classes;
    henn_febo_ct bc;
    int rc = henn_febo_encrypt(&bc, &j->c->bo, j->y[r] == cls ? (int64_t)1 << p->fl : 0);
    if (rc == 0)
        henn_febo_ct_serialize(j->out + i * HENN_FEBO_CT_BYTES, &bc);
    henn_memzero(&bc, sizeof(bc));
    return rc;
}

/* BATCH layout: rows u32 | ct(batch in_dim) of X (rows beyond zero) |
 * rows x classes FEBO ct */
static int encrypt_long(henn_cryptonn_client *c, henn__cn_w *w, const int64_t *xq,
                        const uint8_t *y, size_t rows)
{
    const henn_cryptonn_params *p = &c->p;
    size_t n = (size_t)p->batch * p->in_dim, len = 0;
    henn_feip_ct ct = {0};
    uint8_t *buf = NULL, *out;
    int64_t *full = calloc(n, sizeof(*full));
    enc_job job;
    int rc;
    if (full == NULL)
        return HENN_ENOMEM;
    memcpy(full, xq, rows * p->in_dim * sizeof(*full));
    rc = henn_feip_encrypt_mt(&ct, &c->mpk[2], full, n, c->threads);
    henn_free(full, n * sizeof(*full));
    if (rc == 0)
        rc = henn_feip_ct_serialize_mt(&buf, &len, &ct, c->threads);
    henn_feip_ct_clear(&ct);
    if (rc == 0 && len != henn__cn_ct_bytes(n))
        rc = HENN_EINVAL;
    if (rc == 0)
        henn__cn_w_bytes(w, buf, len);
    if (buf != NULL)
        henn_free(buf, len);
    if (rc != 0)
        return rc;
    out = henn__cn_w_grow(w, rows * p->classes * HENN_FEBO_CT_BYTES);
    if (out == NULL)
        return w->err != 0 ? w->err : HENN_ENOMEM;
    job = (enc_job){c, xq, y, rows, out};
    return henn__cn_parallel(enc_bo_item, &job, rows * p->classes, c->threads);
}

int henn_cryptonn_client_send_batch(henn_cryptonn_client *c, henn_transport *to_server,
                                    const float *X, const uint8_t *y, size_t rows,
                                    double *loss, int *server_rc)
{
    const henn_cryptonn_params *p;
    henn__cn_w w;
    henn__cn_r r;
    enc_job job;
    int64_t *xq = NULL;
    uint8_t *req = NULL, *resp = NULL, *out;
    size_t req_len = 0, resp_len = 0, d, total, items;
    uint64_t lb;
    double t0;
    int rc;
    if (server_rc != NULL)
        *server_rc = 0;
    if (loss != NULL)
        *loss = 0;
    if (c == NULL || to_server == NULL || X == NULL || y == NULL || rows == 0 ||
        rows > c->p.batch)
        return HENN_EINVAL;
    p = &c->p;
    d = p->in_dim;
    for (size_t i = 0; i < rows; i++)
        if (y[i] >= p->classes)
            return HENN_EINVAL;
    xq = malloc(rows * d * sizeof(*xq));
    if (xq == NULL)
        return HENN_ENOMEM;
    rc = henn__cn_quant_x(xq, X, rows * d, p);
    if (rc != 0)
        goto cleanup;
    t0 = henn__cn_now();
    if (p->layout == HENN_CRYPTONN_LAYOUT_BATCH) {
        henn__cn_w_start(&w, HENN__CN_BATCH);
        henn__cn_w_u32(&w, (uint32_t)rows);
        rc = encrypt_long(c, &w, xq, y, rows);
        if (rc != 0) {
            free(w.p);
            goto cleanup;
        }
        items = 1 + rows * p->classes;
        goto send;
    }
    total = rows * henn__cn_ct_bytes(d) + d * henn__cn_ct_bytes(p->batch) +
            rows * p->classes * HENN_FEBO_CT_BYTES;
    henn__cn_w_start(&w, HENN__CN_BATCH);
    henn__cn_w_u32(&w, (uint32_t)rows);
    out = henn__cn_w_grow(&w, total);
    if (out == NULL) {
        rc = w.err;
        free(w.p);
        goto cleanup;
    }
    job = (enc_job){c, xq, y, rows, out};
    items = rows + d + rows * p->classes;
    rc = henn__cn_parallel(enc_item, &job, items, c->threads);
    if (rc != 0) {
        free(w.p);
        goto cleanup;
    }
send:
    rc = henn__cn_w_finish(&w, &req, &req_len);
    if (rc != 0)
        goto cleanup;
    c->st.t_encrypt += henn__cn_now() - t0;
    c->st.encryptions += items;
    c->st.samples += rows;
    c->st.batches++;
    rc = henn__cn_roundtrip(to_server, req, req_len, HENN__CN_BATCH_RESP, &resp, &resp_len, &r);
    req = NULL;
    if (rc < 0 && rc != HENN_EFORMAT && server_rc != NULL)
        *server_rc = rc;
    if (rc != 0 && rc != HENN_EFORMAT && rc != HENN_ENOMEM)
        rc = HENN_EPROTO;
    if (rc == 0) {
        lb = henn__cn_r_u64(&r);
        rc = henn__cn_r_done(&r);
        if (rc == 0 && loss != NULL)
            memcpy(loss, &lb, sizeof(*loss));
    }
cleanup:
    free(resp);
    if (xq != NULL)
        henn_free(xq, rows * d * sizeof(*xq));
    return rc;
}

int henn_cryptonn_client_train_epoch(henn_cryptonn_client *c, henn_transport *to_server,
                                     const float *X, const uint8_t *y, size_t rows,
                                     uint64_t seed, henn_progress_fn progress, void *user,
                                     double *loss, int *server_rc)
{
    size_t B, nb, i, done = 0, *order;
    double sum = 0, l;
    int rc = 0;
    if (loss != NULL)
        *loss = 0;
    if (c == NULL || X == NULL || y == NULL || rows == 0)
        return HENN_EINVAL;
    B = c->p.batch;
    nb = (rows + B - 1) / B;
    order = malloc(nb * sizeof(*order));
    if (order == NULL)
        return HENN_ENOMEM;
    rc = henn_nn_batch_order(order, nb, seed);
    for (i = 0; i < nb && rc == 0; i++) {
        size_t first = order[i] * B, n = rows - first < B ? rows - first : B;
        rc = henn_cryptonn_client_send_batch(c, to_server, X + first * c->p.in_dim, y + first,
                                             n, &l, server_rc);
        if (rc == 0) {
            sum += l * (double)n;
            done += n;
            if (progress != NULL)
                progress(user, done, rows);
        }
    }
    free(order);
    if (rc == 0 && loss != NULL)
        *loss = sum / (double)rows;
    return rc;
}
