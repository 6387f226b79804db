/*
 * Private training, the data owner's side (henn/protocol.h, "Private
 * training"): per batch, the encrypted forward pass through the trainer
 * (the inference pattern), the output error with the owner's labels and
 * the batch-summed gradients of every layer, computed here in double
 * precision and sent as sums only.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kdd_private.h"

static uint64_t chunks_of(size_t c, size_t slots)
{
    return (uint64_t)(c / slots + (c % slots != 0));
}

int henn_private_training_decryptions(uint64_t *count, const size_t *dims, size_t layers,
                                      size_t rows, size_t batch, size_t slots, size_t epochs)
{
    uint64_t per = 0, chunks;
    size_t l, tail;
    if (count == NULL || dims == NULL || layers == 0 || layers > HENN_NN_MAX_LAYERS ||
        rows == 0 || batch == 0 || slots == 0 || epochs == 0 || batch < dims[0] + 1 ||
        rows < dims[0] + 1)
        return HENN_EINVAL;
    for (l = 1; l <= layers; l++)
        per += dims[l];
    if (rows < batch) {
        chunks = chunks_of(rows, slots); /* one batch of all rows */
    } else {
        tail = rows % batch;
        chunks = (uint64_t)(rows / batch) * chunks_of(batch, slots);
        if (tail >= dims[0] + 1)
            chunks += chunks_of(tail, slots);
    }
    if (per != 0 && chunks > UINT64_MAX / per / epochs)
        return HENN_ERANGE;
    *count = chunks * per * epochs;
    return 0;
}

int henn_private_train_plain(henn_nn_trainer *nt, const float *X, const uint8_t *y,
                             size_t rows, size_t dim, size_t batch, size_t epochs,
                             uint64_t seed, double *loss)
{
    size_t *order = NULL, e, b, i;
    float *Xb = NULL;
    uint8_t *yb = NULL;
    int rc = 0;

    if (nt == NULL || X == NULL || y == NULL || dim == 0 || dim > HENN_NN_MAX_DIM ||
        epochs == 0 || batch < henn_private_min_batch(dim) || batch > HENN_PRIVATE_MAX_BATCH ||
        rows < henn_private_min_batch(dim) || rows > SIZE_MAX / dim)
        return HENN_EINVAL;
    order = malloc(rows * sizeof(size_t));
    Xb = malloc(batch * dim * sizeof(float));
    yb = malloc(batch);
    if (order == NULL || Xb == NULL || yb == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (e = 0; e < epochs && rc == 0; e++) {
        double total = 0.0;
        size_t seen = 0;
        rc = henn_nn_batch_order(order, rows, seed + e);
        for (b = 0; rc == 0 && b < rows; b += batch) {
            size_t c = rows - b < batch ? rows - b : batch;
            double l = 0.0;
            if (c < henn_private_min_batch(dim))
                break; /* the tail sits this epoch out, as in the protocol */
            for (i = 0; i < c; i++) {
                memcpy(Xb + i * dim, X + order[b + i] * dim, dim * sizeof(float));
                yb[i] = y[order[b + i]];
            }
            rc = henn_nn_train_batch(nt, Xb, yb, c, &l);
            total += l * (double)c;
            seen += c;
        }
        if (rc == 0 && loss != NULL)
            *loss = seen > 0 ? total / (double)seen : 0.0;
    }
cleanup:
    free(order);
    if (Xb != NULL)
        henn_free(Xb, batch * dim * sizeof(float));
    if (yb != NULL)
        henn_free(yb, batch);
    return rc;
}

typedef struct powner {
    henn_paillier_sk sk;
    henn_transport *t;
    const henn_proto_params *p;
    henn_batch_opts opts;
    henn_nn_model m; /* the weights the trainer sent last */
    uint64_t budget, used;
    henn_proto_stats st;
} powner;

static int call_want(powner *o, uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
                     int want)
{
    int rc = henn_transport_call(o->t, req, req_len, resp, resp_len);
    free(req);
    o->st.messages++;
    if (rc != 0)
        return rc;
    rc = henn__msg_error_code(*resp, *resp_len);
    if (rc == 0 && henn_msg_type(*resp, *resp_len) != want)
        rc = HENN_EPROTO;
    if (rc != 0) {
        free(*resp);
        *resp = NULL;
    }
    return rc;
}

/* Read a PMODEL response into o->m; it must have the owner's widths and
 * weights the fixed point holds. */
static int read_model(powner *o, const uint8_t *msg, size_t len, size_t dim, size_t classes)
{
    henn__rbuf r;
    henn_nn_model m;
    uint64_t step;
    int type, rc;
    size_t l, i;
    double lim = ldexp(1.0, (int)o->p->wi);

    henn_nn_model_init_empty(&m);
    if (henn__rbuf_open(&r, &type, msg, len) != 0 || type != HENN_MSG_PMODEL)
        return HENN_EPROTO;
    rc = henn__pmodel_read(&r, &m, &step);
    if (rc != 0)
        return HENN_EPROTO;
    if (m.dims[0] != dim || m.dims[m.layers] != classes)
        rc = HENN_EPROTO;
    /* After PSETUP's model the architecture is fixed: the owner's buffers
     * are sized by it. */
    if (o->m.layers != 0 && !henn_nn_model_same_shape(&m, &o->m))
        rc = HENN_EPROTO;
    for (l = 0; l < m.layers && rc == 0; l++) {
        for (i = 0; i < m.dims[l + 1] * m.dims[l]; i++)
            rc |= fabs(m.W[l][i]) >= lim ? HENN_EPROTO : 0;
        for (i = 0; i < m.dims[l + 1]; i++)
            rc |= fabs(m.b[l][i]) >= lim ? HENN_EPROTO : 0;
    }
    if (rc != 0) {
        henn_nn_model_clear(&m);
        return HENN_EPROTO;
    }
    henn_nn_model_clear(&o->m);
    o->m = m; /* move */
    return 0;
}

/* The INFER for layer l of a [c x din] (quantised by the caller's values
 * in [-2^ai, 2^ai]). The rows go in ceil(c / slots) chunks of slots rows
 * (the last may be shorter), one ciphertext per feature and chunk,
 * chunk-major on the wire. Reads o's key, parameters and options only (the
 * caller counts the encryptions), so it may run beside the owner's thread. */
static int layer_request(const powner *o, size_t l, const double *a, size_t c, size_t din,
                         uint8_t **req, size_t *req_len)
{
    const henn_proto_params *p = o->p;
    size_t S = p->slots, K = c / S + (c % S != 0), i, j, k;
    size_t width = 2 * henn__nbytes(&o->sk.pk), n = K * din;
    henn_paillier_pt *pt = calloc(n, sizeof(*pt));
    henn_paillier_ct *ct = calloc(n, sizeof(*ct));
    int64_t *q = calloc(c * din, sizeof(int64_t));
    henn__wbuf w;
    int rc = 0;

    if (pt == NULL || ct == NULL || q == NULL) {
        free(pt);
        free(ct);
        free(q);
        return HENN_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        henn_paillier_pt_init(&pt[i]);
        henn_paillier_ct_init(&ct[i]);
    }
    for (i = 0; i < c * din && rc == 0; i++)
        rc = henn__quantize(&q[i], a[i], p->fx, p->ai, 1);
    for (k = 0; rc == 0 && k < K; k++) {
        size_t ck = c - k * S < S ? c - k * S : S;
        for (j = 0; j < din; j++)
            henn__pack(pt[k * din + j].encoding, q + k * S * din + j, ck, din, p->slot_bits,
                       o->sk.pk.n);
    }
    if (rc == 0)
        rc = henn_paillier_encrypt_batch(ct, &o->sk.pk, pt, n, &o->opts);
    if (rc == 0) {
        henn__wbuf_start(&w, HENN_MSG_INFER);
        henn__params_write(&w, p);
        henn__wbuf_u32(&w, (uint32_t)l);
        henn__wbuf_u32(&w, (uint32_t)c);
        henn__wbuf_u32(&w, (uint32_t)din);
        for (j = 0; j < n; j++)
            henn__wbuf_mpz(&w, ct[j].c, width);
        rc = henn__wbuf_finish(&w, req, req_len);
    }
    for (i = 0; i < n; i++) {
        henn_paillier_pt_clear(&pt[i]);
        henn_paillier_ct_clear(&ct[i]);
    }
    free(pt);
    free(ct);
    henn_free(q, c * din * sizeof(int64_t));
    return rc;
}

/* The CIPHER answer msg to layer l's INFER of c rows -> Z [c x dout]
 * decrypted, unscaled to reals (within the honest decryption count). */
static int layer_answer(powner *o, size_t l, const uint8_t *msg, size_t msg_len, size_t c,
                        double *Z)
{
    const henn_proto_params *p = o->p;
    size_t S = p->slots, K = c / S + (c % S != 0), i, j, k;
    size_t width = 2 * henn__nbytes(&o->sk.pk), dout = o->m.dims[l + 1], n = K * dout;
    henn_paillier_pt *pt;
    henn_paillier_ct *ct;
    int64_t *v;
    double scale = ldexp(1.0, -(int)(p->fx + p->fw));
    henn__rbuf r;
    int rc = 0, type;
    mpz_t t1, t2;

    if (henn__rbuf_open(&r, &type, msg, msg_len) != 0 || type != HENN_MSG_CIPHER ||
        henn__rbuf_u32(&r) != l || henn__rbuf_u32(&r) != (l + 1 == o->m.layers) ||
        henn__rbuf_u32(&r) != (l + 1 == o->m.layers ? 0u : (uint32_t)o->m.act[l]) ||
        henn__rbuf_u32(&r) != dout || r.err != 0 || (r.len - r.pos) / width != n ||
        (r.len - r.pos) % width != 0)
        return HENN_EPROTO;
    if (o->budget != 0 && (o->used > o->budget || n > o->budget - o->used))
        return HENN_EPROTO; /* beyond the honest count */
    pt = calloc(n, sizeof(*pt));
    ct = calloc(n, sizeof(*ct));
    v = calloc(S, sizeof(int64_t));
    if (pt == NULL || ct == NULL || v == NULL) {
        free(pt);
        free(ct);
        free(v);
        return HENN_ENOMEM;
    }
    mpz_init(t1);
    mpz_init(t2);
    for (i = 0; i < n; i++) {
        henn_paillier_pt_init(&pt[i]);
        henn_paillier_ct_init(&ct[i]);
    }
    for (j = 0; j < n && rc == 0; j++) {
        memcpy(ct[j].kid, o->sk.pk.kid, HENN_PAILLIER_KIDBYTES);
        henn__rbuf_mpz(&r, ct[j].c, width);
        rc = henn__ct_check(&o->sk.pk, ct[j].c, t1) != 0 ? HENN_EPROTO : 0;
    }
    if (rc == 0)
        rc = henn_paillier_decrypt_batch(pt, &o->sk, ct, n, &o->opts);
    if (rc == 0) {
        o->used += n;
        o->st.decryptions += n;
    }
    for (k = 0; k < K && rc == 0; k++) {
        size_t ck = c - k * S < S ? c - k * S : S;
        for (j = 0; j < dout && rc == 0; j++) {
            rc = henn__unpack(v, ck, pt[k * dout + j].encoding, p->slot_bits, o->sk.pk.n, t1,
                              t2) != 0
                     ? HENN_EPROTO
                     : 0;
            for (i = 0; rc == 0 && i < ck; i++)
                Z[(k * S + i) * dout + j] = (double)v[i] * scale;
        }
    }
    for (i = 0; i < n; i++) {
        henn_paillier_pt_clear(&pt[i]);
        henn_paillier_ct_clear(&ct[i]);
    }
    free(pt);
    free(ct);
    henn_free(v, S * sizeof(int64_t));
    henn__mpz_wipe_clear(t1);
    henn__mpz_wipe_clear(t2);
    return rc;
}

/*
 * The next batch's layer-0 INFER, encrypted on a thread of its own while
 * this batch's last layer is out with the trainer (the owner would wait
 * idle; over a network that is a round trip), or inline when opts asks
 * for one thread or no thread starts. The thread reads o's key,
 * parameters and options and its own rows only; the values and the
 * message are the same either way.
 */
typedef struct prefetch {
    const powner *o;
    const double *a;
    size_t c, din, len;
    uint8_t *req;
    int rc, started;
    pthread_t th;
} prefetch;

static void *prefetch_run(void *arg)
{
    prefetch *pf = arg;
    pf->rc = layer_request(pf->o, 0, pf->a, pf->c, pf->din, &pf->req, &pf->len);
    return NULL;
}

static void prefetch_start(prefetch *pf, const powner *o, const double *a, size_t c, size_t din)
{
    pf->o = o;
    pf->a = a;
    pf->c = c;
    pf->din = din;
    pf->req = NULL;
    pf->len = 0;
    pf->rc = 0;
    /* threads == 1 asks for one core: inline */
    pf->started = o->opts.threads != 1 && pthread_create(&pf->th, NULL, prefetch_run, pf) == 0;
    if (!pf->started)
        (void)prefetch_run(pf);
}

/* Wait for the INFER; its rc (the message in pf->req on success). */
static int prefetch_join(prefetch *pf)
{
    if (pf->started)
        pthread_join(pf->th, NULL);
    pf->started = 0;
    return pf->rc;
}

/* One layer's round trip: INFER -> CIPHER -> Z. With pf != NULL the next
 * batch's layer-0 INFER (rows a_next [c_next x din_next]) is started once
 * this layer's request is built. */
static int layer_round(powner *o, size_t l, const double *a, size_t c, size_t din, double *Z,
                       prefetch *pf, const double *a_next, size_t c_next, size_t din_next)
{
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len, resp_len;
    int rc = layer_request(o, l, a, c, din, &req, &req_len);
    if (rc == 0)
        o->st.encryptions += chunks_of(c, o->p->slots) * din;
    if (rc == 0 && pf != NULL)
        prefetch_start(pf, o, a_next, c_next, din_next);
    if (rc == 0)
        rc = call_want(o, req, req_len, &resp, &resp_len, HENN_MSG_CIPHER);
    else
        free(req);
    if (rc == 0)
        rc = layer_answer(o, l, resp, resp_len, c, Z);
    free(resp);
    return rc;
}

/* The batch of rows idx[0 .. c) as layer 0's input: A0 [c x dim], yb [c]. */
static void batch_rows(double *A0, uint8_t *yb, const float *X, const uint8_t *y,
                       const size_t *idx, size_t c, size_t dim)
{
    size_t i, j;
    for (i = 0; i < c; i++) {
        for (j = 0; j < dim; j++)
            A0[i * dim + j] = X[idx[i] * dim + j];
        yb[i] = y[idx[i]];
    }
}

/* Split a PSTEPR: u32 m, a PMODEL message of m bytes, a CIPHER message. */
static int step_split(const uint8_t *msg, size_t len, const uint8_t **model, size_t *model_len,
                      const uint8_t **cipher, size_t *cipher_len)
{
    henn__rbuf r;
    int type;
    size_t m;
    if (henn__rbuf_open(&r, &type, msg, len) != 0 || type != HENN_MSG_PSTEPR)
        return HENN_EPROTO;
    m = henn__rbuf_u32(&r);
    if (r.err != 0 || m > r.len - r.pos)
        return HENN_EPROTO;
    *model = henn__rbuf_bytes(&r, m);
    *model_len = m;
    *cipher_len = r.len - r.pos;
    *cipher = henn__rbuf_bytes(&r, *cipher_len);
    return *model != NULL && *cipher != NULL ? 0 : HENN_EPROTO;
}

/* The batch buffers: A[l] [S x dims[l]] the inputs of layer l as
 * encrypted, Z[l] [S x dims[l+1]] the decrypted outputs, gW/gb the
 * gradient sums, yb the labels; A0n [S x dims[0]] and ybn [S] the next
 * batch's rows (swapped with A[0] and yb when that batch starts). */
typedef struct bufs {
    double *A[HENN_NN_MAX_LAYERS], *Z[HENN_NN_MAX_LAYERS];
    double *gW[HENN_NN_MAX_LAYERS], *gb[HENN_NN_MAX_LAYERS];
    double *A0n;
    uint8_t *yb, *ybn;
} bufs;

/* One batch of c rows whose A[0] and yb are set: the forward pass through
 * the trainer (layer 0's CIPHER already in z0 when z0 != NULL), gradient
 * sums, then PGRAD, or PSTEP with the next batch's (c_next rows idx_next,
 * when c_next != 0) layer-0 INFER, and the new weights. For PSTEP the
 * next batch's CIPHER goes to *z0_next (malloc'd) and its rows to A[0]
 * and yb. *loss gets the summed row loss. */
static int train_batch(powner *o, bufs *B, size_t c, const uint8_t *z0, size_t z0_len,
                       const float *X, const uint8_t *y, const size_t *idx_next, size_t c_next,
                       size_t dim, size_t classes, uint8_t **z0_next, size_t *z0_next_len,
                       double *loss)
{
    const henn_nn_model *m = &o->m;
    size_t L = m->layers, l, i;
    double lim = ldexp(1.0, (int)o->p->ai);
    henn__wbuf w;
    uint8_t *req = NULL, *resp = NULL;
    const uint8_t *pm, *pc;
    size_t req_len, resp_len, pm_len, pc_len;
    prefetch pf;
    int rc = 0, pf_on = 0;

    memset(&pf, 0, sizeof(pf));
    if (c_next != 0)
        batch_rows(B->A0n, B->ybn, X, y, idx_next, c_next, dim);
    for (l = 0; l < L && rc == 0; l++) {
        if (l == 0 && z0 != NULL) {
            rc = layer_answer(o, 0, z0, z0_len, c, B->Z[0]);
        } else {
            int last = l + 1 == L && c_next != 0;
            rc = layer_round(o, l, B->A[l], c, m->dims[l], B->Z[l], last ? &pf : NULL, B->A0n,
                             c_next, dim);
            pf_on |= last;
        }
        if (rc != 0 || l + 1 == L)
            break;
        /* The next layer's input, as it will be encrypted: act(Z), clamped
         * to the fixed point's range, rounded to 2^-fx. */
        for (i = 0; i < c * m->dims[l + 1]; i++) {
            double a = henn__private_act(m->act[l], B->Z[l][i]);
            a = a > lim ? lim : a < -lim ? -lim : a;
            B->A[l + 1][i] = nearbyint(ldexp(a, (int)o->p->fx)) * ldexp(1.0, -(int)o->p->fx);
        }
    }
    if (rc == 0)
        rc = henn__private_grad(B->gW, B->gb, loss, m, (const double *const *)B->A,
                                (const double *const *)B->Z, B->yb, c);
    if (rc != 0)
        goto done;
    henn__wbuf_start(&w, HENN_MSG_PGRAD);
    henn__wbuf_u32(&w, (uint32_t)c);
    henn__wbuf_u32(&w, (uint32_t)L);
    for (l = 0; l < L; l++) {
        for (i = 0; i < m->dims[l + 1] * m->dims[l]; i++)
            henn__wbuf_f64(&w, B->gW[l][i]);
        for (i = 0; i < m->dims[l + 1]; i++)
            henn__wbuf_f64(&w, B->gb[l][i]);
    }
    rc = henn__wbuf_finish(&w, &req, &req_len);
    if (rc != 0)
        goto done;
    if (c_next == 0) {
        rc = call_want(o, req, req_len, &resp, &resp_len, HENN_MSG_PMODEL);
        if (rc == 0)
            rc = read_model(o, resp, resp_len, dim, classes);
        free(resp);
        return rc;
    }
    if (!pf_on) { /* layer 0 was the last and came with the PSTEPR before */
        prefetch_start(&pf, o, B->A0n, c_next, dim);
        pf_on = 1;
    }
    rc = prefetch_join(&pf);
    pf_on = 0;
    if (rc == 0) {
        o->st.encryptions += chunks_of(c_next, o->p->slots) * dim;
        henn__wbuf_start(&w, HENN_MSG_PSTEP);
        henn__wbuf_u32(&w, (uint32_t)req_len);
        henn__wbuf_bytes(&w, req, req_len);
        henn__wbuf_bytes(&w, pf.req, pf.len);
        rc = henn__wbuf_finish(&w, &resp, &resp_len); /* resp: the PSTEP request */
    }
    free(req);
    if (rc != 0)
        goto done;
    req = resp;
    req_len = resp_len;
    resp = NULL;
    rc = call_want(o, req, req_len, &resp, &resp_len, HENN_MSG_PSTEPR);
    if (rc == 0)
        rc = step_split(resp, resp_len, &pm, &pm_len, &pc, &pc_len);
    if (rc == 0)
        rc = read_model(o, pm, pm_len, dim, classes);
    if (rc == 0) {
        *z0_next = malloc(pc_len + 1);
        if (*z0_next == NULL)
            rc = HENN_ENOMEM;
        else
            memcpy(*z0_next, pc, pc_len);
        *z0_next_len = pc_len;
    }
    free(resp);
    if (rc == 0) { /* the next batch's rows become the current ones */
        double *a = B->A[0];
        uint8_t *yy = B->yb;
        B->A[0] = B->A0n;
        B->A0n = a;
        B->yb = B->ybn;
        B->ybn = yy;
    }
done:
    if (pf_on)
        (void)prefetch_join(&pf);
    free(pf.req);
    return rc;
}

int henn_owner_train_private(henn_transport *t, const henn_paillier_sk *sk,
                             const henn_proto_params *p, const float *X, const uint8_t *y,
                             size_t rows, size_t dim, size_t classes, size_t batch,
                             size_t epochs, uint64_t seed, const henn_batch_opts *opts,
                             henn_private_epoch_fn cb, void *user, henn_proto_stats *stats)
{
    powner o;
    size_t *order = NULL, e, b, i, S, L = 0, maxd = 0, nb;
    bufs B;
    uint8_t *req = NULL, *resp = NULL, *z0 = NULL;
    size_t req_len, resp_len, n_bits, z0_len = 0;
    henn__wbuf w;
    int rc;

    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    S = batch; /* rows per batch (the owner's buffers) */
    if (t == NULL || sk == NULL || p == NULL || X == NULL || y == NULL || dim == 0 ||
        dim > HENN_NN_MAX_DIM || classes == 0 || classes > 256 || epochs == 0 ||
        rows > UINT32_MAX || rows < henn_private_min_batch(dim) || p->slots == 0 ||
        batch < henn_private_min_batch(dim) || batch > HENN_PRIVATE_MAX_BATCH ||
        rows > SIZE_MAX / dim)
        return HENN_EINVAL;
    for (i = 0; i < rows; i++)
        if (y[i] >= classes)
            return HENN_EINVAL;
    memset(&o, 0, sizeof(o));
    memset(&B, 0, sizeof(B));
    henn_paillier_sk_init(&o.sk);
    henn_nn_model_init_empty(&o.m);
    o.t = t;
    o.p = p;
    if (opts != NULL)
        o.opts = *opts;
    o.opts.progress = NULL;
    rc = henn_paillier_sk_from_primes(&o.sk, sk->p, sk->q, HENN_PAILLIER_INSECURE);
    if (rc == 0)
        rc = henn_paillier_pk_precompute(&o.sk.pk, 0);
    n_bits = mpz_sizeinbase(o.sk.pk.n, 2);
    if (rc == 0)
        rc = henn_proto_params_check(p, dim, n_bits);
    for (i = 0; rc == 0 && i < rows * dim; i++) {
        int64_t q;
        rc = henn__quantize(&q, X[i], p->fx, p->ai, 1);
    }
    if (rc != 0)
        goto cleanup;
    /* PSETUP -> the initial weights. */
    nb = henn__nbytes(&o.sk.pk);
    henn__wbuf_start(&w, HENN_MSG_PSETUP);
    henn__wbuf_u32(&w, (uint32_t)nb);
    henn__wbuf_mpz(&w, o.sk.pk.n, nb);
    henn__params_write(&w, p);
    henn__wbuf_u32(&w, (uint32_t)dim);
    henn__wbuf_u32(&w, (uint32_t)classes);
    rc = henn__wbuf_finish(&w, &req, &req_len);
    if (rc == 0)
        rc = call_want(&o, req, req_len, &resp, &resp_len, HENN_MSG_PMODEL);
    if (rc == 0)
        rc = read_model(&o, resp, resp_len, dim, classes);
    free(resp);
    if (rc != 0)
        goto cleanup;
    L = o.m.layers;
    for (i = 0; i <= L; i++)
        maxd = o.m.dims[i] > maxd ? o.m.dims[i] : maxd;
    if (henn_proto_params_check(p, maxd, n_bits) != 0) {
        rc = HENN_EPROTO; /* a layer wider than the fixed point was set up for */
        goto cleanup;
    }
    rc = henn_private_training_decryptions(&o.budget, o.m.dims, L, rows, batch, p->slots,
                                           epochs);
    if (rc != 0)
        goto cleanup;
    order = malloc(rows * sizeof(size_t));
    B.yb = malloc(S);
    B.ybn = malloc(S);
    B.A0n = malloc(S * dim * sizeof(double));
    if (order == NULL || B.yb == NULL || B.ybn == NULL || B.A0n == NULL)
        rc = HENN_ENOMEM;
    for (i = 0; i < L && rc == 0; i++) {
        B.A[i] = malloc(S * o.m.dims[i] * sizeof(double));
        B.Z[i] = malloc(S * o.m.dims[i + 1] * sizeof(double));
        B.gW[i] = malloc(o.m.dims[i + 1] * o.m.dims[i] * sizeof(double));
        B.gb[i] = malloc(o.m.dims[i + 1] * sizeof(double));
        if (B.A[i] == NULL || B.Z[i] == NULL || B.gW[i] == NULL || B.gb[i] == NULL)
            rc = HENN_ENOMEM;
    }
    for (e = 0; e < epochs && rc == 0; e++) {
        double total = 0.0;
        size_t seen = 0;
        /* Rows reshuffled every epoch; batches of S = batch rows (each
         * ceil(S / slots) ciphertext chunks), the tail kept only when it
         * has dim + 1 rows (else it sits this epoch out). */
        rc = henn_nn_batch_order(order, rows, seed + e);
        for (b = 0; rc == 0 && b < rows; b += S) {
            size_t c = rows - b < S ? rows - b : S, c_next = 0;
            uint8_t *z0_next = NULL;
            size_t z0_next_len = 0;
            double l = 0.0;
            if (c < henn_private_min_batch(dim))
                break;
            /* The next batch of this epoch, if any, rides on this one's
             * gradient (PSTEP). */
            if (b + S < rows) {
                c_next = rows - b - S < S ? rows - b - S : S;
                if (c_next < henn_private_min_batch(dim))
                    c_next = 0;
            }
            if (z0 == NULL)
                batch_rows(B.A[0], B.yb, X, y, order + b, c, dim);
            rc = train_batch(&o, &B, c, z0, z0_len, X, y, c_next != 0 ? order + b + S : NULL,
                             c_next, dim, classes, &z0_next, &z0_next_len, &l);
            free(z0);
            z0 = z0_next;
            z0_len = z0_next_len;
            total += l;
            seen += c;
        }
        if (rc == 0 && cb != NULL)
            rc = cb(user, e, seen > 0 ? total / (double)seen : 0.0, &o.m);
    }
cleanup:
    free(z0);
    for (i = 0; i < HENN_NN_MAX_LAYERS; i++) {
        if (B.A[i] != NULL)
            henn_free(B.A[i], S * o.m.dims[i] * sizeof(double));
        if (B.Z[i] != NULL)
            henn_free(B.Z[i], S * o.m.dims[i + 1] * sizeof(double));
        free(B.gW[i]);
        free(B.gb[i]);
    }
    if (B.yb != NULL)
        henn_free(B.yb, S);
    if (B.ybn != NULL)
        henn_free(B.ybn, S);
    if (B.A0n != NULL)
        henn_free(B.A0n, S * dim * sizeof(double));
    free(order);
    if (stats != NULL)
        *stats = o.st;
    henn_nn_model_clear(&o.m);
    henn_paillier_sk_clear(&o.sk);
    return rc;
}
