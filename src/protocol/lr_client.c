/*
 * The client's side of the CKKS logistic-regression protocol
 * (henn/lrproto.h): key generation, packing and encryption of the records,
 * the refresh loop that drives the server's gradient steps, and encrypted
 * inference. The client is the only party with the secret key.
 *
 * What leaves the client: the params, the relinearisation and Galois keys,
 * record ciphertexts, the public training options (sigmoid kind, alpha,
 * lambda, batch, epochs), fresh encryptions of its own weights (STEP,
 * MODEL) and, only with HENN_LR_INFER_PLAIN_MODEL, its model rounded to
 * 2^-20. Nothing it decrypts is ever sent back in the clear: a refresh is a
 * new symmetric encryption (fresh seed and error) of the decoded weights
 * rounded to 2^-30 (Li and Micciancio, EUROCRYPT 2021).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lr_wire.h"

struct henn_lr_client {
    henn_lr_client_opts opts;
    henn_lr_client_stats st;
    /* keys for (dim, depth); keyed = 0 when none */
    int keyed;
    size_t dim, depth;
    henn_ckks_params params;
    henn_ckks_sk sk;
    henn_ckks_relin_key rk;
    henn_ckks_galois_keys gk;
    henn__lr_layout lo;
    const henn_transport *keys_sent; /* the transport the keys went through last */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void clear_keys(henn_lr_client *c)
{
    henn_ckks_galois_keys_clear(&c->gk);
    henn_ckks_relin_key_clear(&c->rk);
    henn_ckks_sk_clear(&c->sk);
    henn_ckks_params_clear(&c->params);
    c->keyed = 0;
    c->keys_sent = NULL;
}

int henn_lr_client_new(henn_lr_client **out, const henn_lr_client_opts *opts)
{
    henn_lr_client_opts o = {0};
    *out = NULL;
    if (opts != NULL)
        o = *opts;
    if (o.N == 0)
        o.N = 16384;
    if ((o.flags & ~HENN_LR_INSECURE_TEST) != 0 ||
        !(o.N == 8192 || o.N == 16384 || (o.N == 4096 && (o.flags & HENN_LR_INSECURE_TEST))))
        return HENN_EINVAL;
    henn_lr_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HENN_ENOMEM;
    c->opts = o;
    *out = c;
    return 0;
}

void henn_lr_client_free(henn_lr_client *c)
{
    if (c == NULL)
        return;
    clear_keys(c);
    henn_memzero(c, sizeof(*c));
    free(c);
}

void henn_lr_client_get_stats(henn_lr_client_stats *s, const henn_lr_client *c)
{
    *s = c->st;
}

const henn_ckks_sk *henn__lr_client_sk(const henn_lr_client *c)
{
    return c != NULL && c->keyed ? &c->sk : NULL;
}

size_t henn_lr_client_batch_unit(const henn_lr_client *c, size_t dim)
{
    henn__lr_layout lo;
    if (c == NULL || henn__lr_layout_init(&lo, c->opts.N, dim) != 0)
        return 0;
    return lo.s;
}

int henn_lr_proto_recommended(henn_lr_opts *o, int dataset, size_t rows)
{
    if (o == NULL)
        return HENN_EINVAL;
    memset(o, 0, sizeof(*o));
    o->batch = 0;
    o->seed = 1;
    switch (dataset) {
    case HENN_LR_DATASET_WDBC:
        o->epochs = 15;
        o->alpha = 0.3;
        o->lambda = 1.0;
        o->sigmoid = HENN_LR_SIGMOID_LS5_8;
        return 0;
    case HENN_LR_DATASET_FRAMINGHAM:
        o->epochs = 5;
        o->alpha = 1.0;
        o->lambda = 0.05 * (double)rows;
        o->sigmoid = HENN_LR_SIGMOID_POLY3;
        return 0;
    default:
        return HENN_EINVAL;
    }
}

/* ---- keys ---- */

/* Keys for dim and depth (a chain with depth + 1 data primes). */
/* Keys for (dim, depth): the secret key deserialised from sk (sk_len
 * bytes of henn_ckks_sk_serialize) when sk is not NULL, else a new one;
 * the relinearisation and Galois keys made from it. */
static int make_keys(henn_lr_client *c, size_t dim, size_t depth, const uint8_t *sk,
                     size_t sk_len)
{
    int bits[HENN_CKKS_MAX_PRIMES], scale_bits, steps[40];
    size_t count;
    henn_ckks_pk pk = {0};
    double t0 = now_s();
    clear_keys(c);
    int rc = henn__lr_layout_init(&c->lo, c->opts.N, dim);
    if (rc == 0)
        rc = henn__lr_chain(bits, &count, &scale_bits, c->opts.N, depth);
    if (rc == 0)
        rc = henn_ckks_params_init(&c->params, c->opts.N, bits, count,
                                   (c->opts.flags & HENN_LR_INSECURE_TEST) ? HENN_CKKS_INSECURE
                                                                           : 0);
    if (rc == 0)
        rc = sk != NULL ? henn_ckks_sk_deserialize(&c->sk, &c->params, sk, sk_len)
                        : henn_ckks_keygen(&c->sk, &pk, &c->params);
    henn_ckks_pk_clear(&pk); /* the server never encrypts: no public key leaves */
    if (rc == 0)
        rc = henn_ckks_relin_keygen(&c->rk, &c->sk);
    if (rc == 0) {
        size_t ns = henn__lr_rotation_steps(steps, &c->lo);
        rc = henn_ckks_galois_keygen(&c->gk, &c->sk, steps, ns, 0);
    }
    if (rc != 0) {
        clear_keys(c);
        return rc;
    }
    c->keyed = 1;
    c->dim = dim;
    c->depth = depth;
    c->st.keygen_s += now_s() - t0;
    c->st.N = c->params.N;
    c->st.data_primes = c->params.L;
    c->st.scale_bits = (size_t)scale_bits;
    c->st.block = c->lo.B;
    c->st.samples_per_ct = c->lo.s;
    return 0;
}

int henn__lr_client_keys_for(henn_lr_client *c, henn_transport *t, size_t dim, size_t depth)
{
    int rc = make_keys(c, dim, depth, NULL, 0);
    if (rc == 0)
        c->keys_sent = t;
    return rc;
}

int henn__lr_client_train_keys(henn_lr_client *c, size_t dim, henn_lr_sigmoid sig,
                               const uint8_t *sk, size_t sk_len)
{
    double cf[8];
    size_t depth = henn__lr_depth(henn_lr_sigmoid_coeffs(cf, sig));
    if (c == NULL || depth == 0 || dim == 0 || dim > HENN__LR_MAX_DIM ||
        (sk == NULL && sk_len != 0))
        return HENN_EINVAL;
    return make_keys(c, dim, depth, sk, sk_len);
}

/* Send req (freed here) and wait for the response. */
static int call(henn_lr_client *c, henn_transport *t, uint8_t *req, size_t req_len,
                uint8_t **resp, size_t *resp_len)
{
    double t0 = now_s();
    int rc = henn_transport_call(t, req, req_len, resp, resp_len);
    c->st.wait_s += now_s() - t0;
    c->st.messages++;
    c->st.bytes_sent += req_len;
    if (rc == 0)
        c->st.bytes_received += *resp_len;
    free(req);
    return rc;
}

/* Send req and expect an OK. */
static int call_ok(henn_lr_client *c, henn_transport *t, uint8_t *req, size_t req_len)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc = call(c, t, req, req_len, &resp, &resp_len);
    if (rc == 0) {
        rc = henn__lr_error_code(resp, resp_len);
        if (rc == HENN_EFORMAT)
            rc = HENN_EPROTO;
        if (rc == 0 && (henn_lr_msg_type(resp, resp_len) != HENN_LR_MSG_OK ||
                        resp_len != HENN__LR_HEADER))
            rc = HENN_EPROTO;
    }
    free(resp);
    return rc;
}

static void wobj(henn__lr_wbuf *w, int rc, uint8_t *buf, size_t len)
{
    if (rc != 0 && w->err == 0)
        w->err = rc;
    if (rc == 0)
        henn__lr_wblob(w, buf, len);
    henn_free(buf, len);
}

static int send_keys(henn_lr_client *c, henn_transport *t)
{
    henn__lr_wbuf w;
    uint8_t *b = NULL, *req;
    size_t n = 0, req_len;
    henn__lr_wstart(&w, HENN_LR_MSG_KEYS);
    henn__lr_wu32(&w, (uint32_t)c->dim);
    int rc = henn_ckks_params_serialize(&b, &n, &c->params);
    wobj(&w, rc, b, n);
    rc = henn_ckks_relin_key_serialize(&b, &n, &c->rk);
    wobj(&w, rc, b, n);
    rc = henn_ckks_galois_keys_serialize(&b, &n, &c->gk);
    wobj(&w, rc, b, n);
    rc = henn__lr_wfinish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    c->st.key_bytes += req_len;
    rc = call_ok(c, t, req, req_len);
    c->keys_sent = rc == 0 ? t : NULL;
    return rc;
}

/* Keys for (dim, depth) made and known to the server behind t. depth 0:
 * any existing chain will do (inference needs one level). */
static int ensure_keys(henn_lr_client *c, henn_transport *t, size_t dim, size_t depth)
{
    int rc = 0;
    if (!c->keyed || c->dim != dim || (depth != 0 && c->depth != depth))
        rc = make_keys(c, dim, depth != 0 ? depth : 1, NULL, 0);
    if (rc == 0 && c->keys_sent != t)
        rc = send_keys(c, t);
    return rc;
}

/* ---- packing ---- */

static int check_records(const henn_lr_data *d, int labels)
{
    for (size_t i = 0; i < d->rows * d->dim; i++)
        if (!isfinite(d->X[i]) || fabs(d->X[i]) > HENN__LR_MAX_ABS_X)
            return HENN_EINVAL;
    if (labels)
        for (size_t i = 0; i < d->rows; i++)
            if (d->y[i] != 0.0 && d->y[i] != 1.0)
                return HENN_EINVAL;
    return 0;
}

/* Slots of ciphertext c of record group g: block j holds record index
 * f = c B + j of the group's rows (features f < dim, the constant 1 at
 * dim, the label at dim + 1 when labels is set); padding zeros. Returns
 * the group's row count. */
static size_t pack_records(double *v, const henn__lr_layout *lo, const henn_lr_data *d,
                           size_t g, size_t c, int labels)
{
    size_t r0 = g * lo->s, rows = d->rows - r0 < lo->s ? d->rows - r0 : lo->s;
    memset(v, 0, lo->slots * sizeof(double));
    for (size_t j = 0; j < lo->B; j++) {
        size_t f = c * lo->B + j;
        for (size_t i = 0; i < rows; i++) {
            double x = f < d->dim ? d->X[(r0 + i) * d->dim + f]
                       : f == d->dim ? 1.0
                       : f == d->dim + 1 && labels ? d->y[r0 + i]
                                                   : 0.0;
            v[j * lo->s + i] = x;
        }
    }
    return rows;
}

/* Ciphertext c of the weights: w_f (w[dim] = b) over every slot of block
 * f % B of ciphertext f / B. */
static void pack_weights(double *v, const henn__lr_layout *lo, const double *w, size_t c)
{
    memset(v, 0, lo->slots * sizeof(double));
    for (size_t j = 0; j < lo->B; j++) {
        size_t f = c * lo->B + j;
        for (size_t i = 0; i < lo->s && f <= lo->dim; i++)
            v[j * lo->s + i] = w[f];
    }
}

/* Encrypt v (symmetric, fresh seed) at level and scale into a blob. */
static void encrypt_blob(henn_lr_client *c, henn__lr_wbuf *w, const double *v, size_t level,
                         double scale)
{
    henn_ckks_pt pt = {0};
    henn_ckks_ct ct = {0};
    uint8_t seed[HENN_CKKS_SEEDBYTES];
    if (w->err != 0)
        return;
    int rc = henn_ckks_encode(&pt, &c->params, v, c->lo.slots, scale, level);
    if (rc == 0)
        rc = henn_ckks_encrypt_symmetric(&ct, seed, &c->sk, &pt);
    if (rc == 0)
        henn__lr_wct(w, &ct, seed);
    else
        w->err = rc;
    henn_ckks_pt_clear(&pt);
    henn_ckks_ct_clear(&ct);
    henn_memzero(seed, sizeof(seed));
}

/* Decrypt ct and decode all slots into v (wiped by the caller). */
static int decrypt_slots(henn_lr_client *c, double *v, const henn_ckks_ct *ct)
{
    henn_ckks_pt pt = {0};
    int rc = henn_ckks_decrypt(&pt, &c->sk, ct);
    if (rc == 0)
        rc = henn_ckks_decode(v, c->lo.slots, &pt);
    henn_ckks_pt_clear(&pt);
    return rc;
}

/* A decoded value the protocol can carry on with: finite and |v| <= 2^20,
 * else 0 (counted; only the client sees the count). */
static double sane(henn_lr_client *c, double v)
{
    if (isfinite(v) && fabs(v) <= HENN__LR_MAX_ABS_W)
        return v;
    c->st.out_of_range++;
    return 0.0;
}

static double round_to(double v, int bits)
{
    return ldexp(nearbyint(ldexp(v, bits)), -bits);
}

/* ---- scales ----
 * The server applies alpha/m by reading T at scale S_T / f (f = alpha/m,
 * S_T = f S_W), so the gradient G = f T comes out at the weights' scale
 * S_W: its error is T's raw noise (rescales, key switches, the sum over a
 * block) divided by S_W, about 2^23 / S_W here. S_W is therefore as large
 * as q_0 allows at level 0: 2^w with w = min(p + 5, bits(q_0) - 5 - h),
 * h = ceil(log2(2 + max |w_j|)) (the weights times 2^w stay 2^5 below
 * q_0 / 2). The top gradient term, c z^d x at scale S_T, is the product of
 * two ciphertexts' raw sizes (z^2 and c3 z x for degree 3, z^4 and c5 z x
 * for degree 5); the record scale 2^x (chosen once, at upload) balances
 * them for the planned w (docs/LR_PROTOCOL.md, "Scales"), with all primes
 * taken as 2^p:
 *   degree 3: 4x = L + 7p - 3w,   degree 5: 8x = L + 15p - 7w,
 *   L = log2 |c_top| + log2 f. */
static double plan_L(const double *cf, int deg, double f)
{
    return log2(fabs(cf[deg])) + log2(f);
}

/* The weights' scale bits for weights w[0..n) (n = dim + 1). */
static double plan_w(double p, double q0, const double *w, size_t n)
{
    double big = 0;
    for (size_t j = 0; j < n; j++)
        big = fmax(big, fabs(w[j]));
    return fmin(p + 5, q0 - 5 - ceil(log2(2 + big)));
}

static double plan_x(int deg, double L, double p, double w)
{
    double x = deg == 3 ? (L + 7 * p - 3 * w) / 4 : (L + 15 * p - 7 * w) / 8;
    return fmin(fmax(x, p - 12), p + 8);
}

/* ---- training ---- */

static int upload(henn_lr_client *c, henn_transport *t, const henn_lr_data *d, double *v,
                  double xscale)
{
    size_t groups = (d->rows + c->lo.s - 1) / c->lo.s, G = c->lo.G;
    int rc = 0;
    for (size_t k = 0; k < groups * G && rc == 0; k++) {
        henn__lr_wbuf w;
        uint8_t *req;
        size_t req_len;
        double t0 = now_s();
        size_t rows = pack_records(v, &c->lo, d, k / G, k % G, 1);
        henn__lr_wstart(&w, HENN_LR_MSG_DATA);
        henn__lr_wu32(&w, (uint32_t)k);
        henn__lr_wu32(&w, (uint32_t)rows);
        size_t before = w.len;
        encrypt_blob(c, &w, v, c->params.L - 1, xscale);
        size_t ct_len = w.len - before;
        rc = henn__lr_wfinish(&w, &req, &req_len);
        c->st.encrypt_s += now_s() - t0;
        if (rc != 0)
            break;
        c->st.data_bytes += ct_len;
        c->st.ciphertexts++;
        rc = call_ok(c, t, req, req_len);
    }
    henn_memzero(v, c->lo.slots * sizeof(double));
    return rc;
}

int henn_lr_client_train(henn_lr_client *c, henn_transport *t, henn_lr_model *m,
                         const henn_lr_data *d, const henn_lr_opts *opts, henn_lr_epoch_fn cb,
                         void *user)
{
    double cf[8];
    if (c == NULL || t == NULL || m == NULL || d == NULL || opts == NULL || m->w == NULL ||
        d->X == NULL || d->y == NULL || d->rows == 0 || m->dim != d->dim ||
        d->dim > HENN__LR_MAX_DIM || opts->epochs == 0 || opts->epochs > UINT32_MAX ||
        !isfinite(opts->alpha) || !(opts->alpha > 0) || opts->alpha > 1e6 ||
        !isfinite(opts->lambda) || !(opts->lambda >= 0) || opts->lambda > 1e9 ||
        opts->nesterov != 0.0)
        return HENN_EINVAL;
    int deg = henn_lr_sigmoid_coeffs(cf, opts->sigmoid);
    size_t depth = henn__lr_depth(deg);
    if (depth == 0 || check_records(d, 1) != 0)
        return HENN_EINVAL;
    henn__lr_layout lo;
    if (henn__lr_layout_init(&lo, c->opts.N, d->dim) != 0)
        return HENN_EINVAL;
    if (deg == 5 && c->opts.N == 8192)
        return HENN_EPARAM; /* 218 bits hold no chain of depth 4 with room to spare */
    size_t batch = opts->batch == 0 || opts->batch >= d->rows ? d->rows : opts->batch;
    if (batch < d->rows && (batch % lo.s != 0 || opts->shuffle))
        return HENN_EINVAL; /* batches are whole record groups, in row order */
    size_t groups = (d->rows + lo.s - 1) / lo.s, gpb = batch < d->rows ? batch / lo.s : 0;
    size_t per = gpb == 0 ? groups : gpb, nb = (groups + per - 1) / per, G = lo.G;
    uint64_t total = (uint64_t)opts->epochs * nb;

    double *v = malloc(lo.slots * sizeof(double));
    double *w = calloc(d->dim + 1, sizeof(double));
    henn_ckks_ct *W = calloc(G, sizeof(henn_ckks_ct));
    henn__lr_wbuf wb;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len, resp_len = 0;
    int rc = v != NULL && w != NULL && W != NULL ? 0 : HENN_ENOMEM;
    if (rc == 0)
        rc = ensure_keys(c, t, d->dim, depth);
    if (rc == 0) {
        memcpy(w, m->w, d->dim * sizeof(double));
        w[d->dim] = m->b;
    }
    double p = rc == 0 ? (double)c->params.bits[1] : 0, q0 = rc == 0 ? c->params.bits[0] : 0;
    if (rc == 0) {
        double L = plan_L(cf, deg, opts->alpha / (double)batch);
        rc = upload(c, t, d, v, exp2(plan_x(deg, L, p, plan_w(p, q0, w, 0))));
    }
    if (rc == 0) {
        henn__lr_wstart(&wb, HENN_LR_MSG_TRAIN);
        henn__lr_wu32(&wb, (uint32_t)opts->sigmoid);
        henn__lr_wf64(&wb, opts->alpha);
        henn__lr_wf64(&wb, opts->lambda);
        henn__lr_wu32(&wb, (uint32_t)gpb);
        henn__lr_wu32(&wb, (uint32_t)opts->epochs);
        rc = henn__lr_wfinish(&wb, &req, &req_len);
        if (rc == 0)
            rc = call_ok(c, t, req, req_len);
    }
    size_t top = rc == 0 ? c->params.L - 1 : 0;
    c->st.depth_per_step = depth;
    c->st.steps_per_refresh = 1;
    for (uint64_t step = 0; step < total && rc == 0; step++) {
        double wscale = exp2(plan_w(p, q0, w, d->dim + 1)), t0 = now_s();
        henn__lr_wstart(&wb, HENN_LR_MSG_STEP);
        henn__lr_wu32(&wb, (uint32_t)step);
        for (size_t k = 0; k < G; k++) {
            pack_weights(v, &c->lo, w, k);
            encrypt_blob(c, &wb, v, top, wscale);
        }
        rc = henn__lr_wfinish(&wb, &req, &req_len);
        if (step > 0) {
            c->st.refreshes++;
            c->st.refresh_s += now_s() - t0;
        } else {
            c->st.encrypt_s += now_s() - t0;
        }
        if (rc == 0)
            rc = call(c, t, req, req_len, &resp, &resp_len);
        if (rc == 0)
            rc = henn__lr_parse_weights(W, G, &c->params, resp, resp_len, (uint32_t)step,
                                        top - depth, wscale);
        free(resp);
        resp = NULL;
        if (rc != 0)
            break;
        /* w_f is slot (f % B) s of ciphertext f / B; the other slots hold
         * partial sums */
        t0 = now_s();
        for (size_t k = 0; k < G && rc == 0; k++) {
            rc = decrypt_slots(c, v, &W[k]);
            for (size_t j = 0; j < lo.B && k * lo.B + j <= d->dim && rc == 0; j++)
                w[k * lo.B + j] = round_to(sane(c, v[j * lo.s]), HENN__LR_ROUND_BITS);
            henn_ckks_ct_clear(&W[k]);
        }
        c->st.refresh_s += now_s() - t0;
        if (rc != 0)
            break;
        c->st.steps++;
        if (cb != NULL && (step + 1) % nb == 0) {
            henn_lr_model cur = {.dim = d->dim, .w = w, .b = w[d->dim]};
            cb(user, (size_t)((step + 1) / nb), &cur);
        }
    }
    if (rc == 0) {
        memcpy(m->w, w, d->dim * sizeof(double));
        m->b = w[d->dim];
    }
    if (v != NULL)
        henn_memzero(v, lo.slots * sizeof(double));
    free(v);
    if (w != NULL)
        henn_memzero(w, (d->dim + 1) * sizeof(double));
    free(w);
    for (size_t k = 0; W != NULL && k < G; k++)
        henn_ckks_ct_clear(&W[k]);
    free(W);
    return rc;
}

/* ---- inference ---- */

int henn_lr_client_infer(henn_lr_client *c, henn_transport *t, double *scores,
                         const henn_lr_model *m, const henn_lr_data *d, unsigned flags)
{
    if (c == NULL || t == NULL || scores == NULL || m == NULL || d == NULL || m->w == NULL ||
        d->X == NULL || d->rows == 0 || m->dim != d->dim || d->dim > HENN__LR_MAX_DIM ||
        (flags & ~HENN_LR_INFER_PLAIN_MODEL) != 0)
        return HENN_EINVAL;
    if (check_records(d, 0) != 0 || !isfinite(m->b) || fabs(m->b) > HENN__LR_MAX_ABS_W)
        return HENN_EINVAL;
    for (size_t j = 0; j < m->dim; j++)
        if (!isfinite(m->w[j]) || fabs(m->w[j]) > HENN__LR_MAX_ABS_W)
            return HENN_EINVAL;
    int plain = (flags & HENN_LR_INFER_PLAIN_MODEL) != 0;
    int rc = ensure_keys(c, t, d->dim, 0);
    if (rc != 0)
        return rc;
    const henn__lr_layout *lo = &c->lo;
    size_t G = lo->G, slots = lo->slots, groups = (d->rows + lo->s - 1) / lo->s;
    size_t per_msg = 16 / G > 0 ? 16 / G : 1; /* record groups per INFER message */
    double *v = malloc(slots * sizeof(double)), *w = malloc((d->dim + 1) * sizeof(double));
    henn_ckks_ct *cts = calloc(per_msg, sizeof(*cts));
    henn__lr_wbuf wb;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len, resp_len = 0;
    rc = v != NULL && w != NULL && cts != NULL ? 0 : HENN_ENOMEM;
    /* records and weights at the scale of the middle primes */
    double scale = ldexp(1.0, c->params.bits[1]);
    double score_scale = plain ? scale : scale * scale / (double)c->params.q[1];
    if (rc == 0) {
        memcpy(w, m->w, d->dim * sizeof(double));
        w[d->dim] = m->b;
        henn__lr_wstart(&wb, HENN_LR_MSG_MODEL);
        henn__lr_wu32(&wb, plain ? 1 : 0);
        if (plain) {
            /* rounded to 2^-20: the published values carry none of the
             * CKKS error of the decryptions they came from, except on
             * which side of a grid point a weight fell */
            for (size_t j = 0; j <= d->dim; j++)
                henn__lr_wf64(&wb, round_to(w[j], HENN__LR_PLAIN_BITS));
        } else {
            for (size_t k = 0; k < G; k++) {
                pack_weights(v, lo, w, k); /* a fresh encryption at level 1 */
                encrypt_blob(c, &wb, v, 1, scale);
            }
        }
        rc = henn__lr_wfinish(&wb, &req, &req_len);
        if (rc == 0)
            rc = call_ok(c, t, req, req_len);
    }
    for (size_t g0 = 0; g0 < groups && rc == 0; g0 += per_msg) {
        size_t cnt = groups - g0 < per_msg ? groups - g0 : per_msg;
        double t0 = now_s();
        henn__lr_wstart(&wb, HENN_LR_MSG_INFER);
        henn__lr_wu32(&wb, (uint32_t)cnt);
        for (size_t k = g0 * G; k < (g0 + cnt) * G; k++) {
            size_t before = wb.len;
            pack_records(v, lo, d, k / G, k % G, 0);
            encrypt_blob(c, &wb, v, 1, scale);
            c->st.data_bytes += wb.len - before;
        }
        c->st.ciphertexts += cnt * G;
        rc = henn__lr_wfinish(&wb, &req, &req_len);
        c->st.encrypt_s += now_s() - t0;
        if (rc == 0)
            rc = call(c, t, req, req_len, &resp, &resp_len);
        if (rc == 0)
            rc = henn__lr_parse_scores(cts, cnt, &c->params, resp, resp_len, score_scale);
        free(resp);
        resp = NULL;
        t0 = now_s();
        /* z_i sits in slot i of every block: their mean */
        for (size_t g = g0; g < g0 + cnt && rc == 0; g++) {
            rc = decrypt_slots(c, v, &cts[g - g0]);
            size_t r0 = g * lo->s, rows = d->rows - r0 < lo->s ? d->rows - r0 : lo->s;
            for (size_t i = 0; i < rows && rc == 0; i++) {
                double z = 0;
                for (size_t j = 0; j < lo->B; j++)
                    z += v[j * lo->s + i];
                z = sane(c, z / (double)lo->B);
                scores[r0 + i] = 1.0 / (1.0 + exp(-z));
            }
        }
        c->st.decrypt_s += now_s() - t0;
        for (size_t k = 0; k < per_msg; k++)
            henn_ckks_ct_clear(&cts[k]);
    }
    if (v != NULL)
        henn_memzero(v, slots * sizeof(double));
    if (w != NULL)
        henn_memzero(w, (d->dim + 1) * sizeof(double));
    free(v);
    free(w);
    free(cts);
    return rc;
}
