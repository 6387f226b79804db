/*
 * CryptoNN (src/protocol/cryptonn_*.c): three parties end to end against
 * the plaintext twin (bit-identical weights), the fixed-point bound, loud
 * failure outside it, the leakage the threat model states (W1 x, batch
 * reconstruction from the gradient, labels from FEBO, the authority's log)
 * and every parser on malformed input. Small shapes keep it short.
 */
#include "../test.h"

#include <math.h>

#include "henn/cryptonn.h"
#include "protocol/cryptonn_internal.h"

#define D 64 /* 8 x 8 "images" */
#define B 16
#define H 32 /* >= B: the batch is recoverable from one gradient */
#define C 4
#define ROWS 80 /* 5 batches */

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* images: a class-dependent pattern plus noise, pixels k/255 */
static void make_data(float *X, uint8_t *y, size_t rows)
{
    for (size_t r = 0; r < rows; r++) {
        y[r] = (uint8_t)(rnd() % C);
        for (size_t k = 0; k < D; k++) {
            unsigned v = (unsigned)(rnd() % 96);
            if ((k % C) == y[r])
                v += 150;
            X[r * D + k] = (float)v / 255.0f;
        }
    }
}

typedef struct {
    size_t n[5];
    int64_t last_sample[H][D];
    int64_t last_col[H][B];
    size_t ns, nc;
    int64_t bo_y[B * C];
    size_t nb;
} keylog;

static void on_key(void *user, int scheme, int op, const int64_t *y, size_t n)
{
    keylog *l = user;
    l->n[scheme]++;
    if (scheme == HENN_CRYPTONN_BATCH_ROW || scheme == HENN_CRYPTONN_BATCH_COL) {
        /* one log line per (vector, support); keep each vector once */
        if (op == 0)
            on_key(user, scheme == HENN_CRYPTONN_BATCH_ROW ? HENN_CRYPTONN_SAMPLE
                                                           : HENN_CRYPTONN_COLUMN,
                   0, y, n);
        if (op == 0)
            l->n[scheme == HENN_CRYPTONN_BATCH_ROW ? HENN_CRYPTONN_SAMPLE
                                                   : HENN_CRYPTONN_COLUMN]--;
        return;
    }
    if (scheme == HENN_CRYPTONN_SAMPLE && n == D) {
        memcpy(l->last_sample[l->ns % H], y, sizeof(l->last_sample[0]));
        l->ns++;
    } else if (scheme == HENN_CRYPTONN_COLUMN && n == B) {
        memcpy(l->last_col[l->nc % H], y, sizeof(l->last_col[0]));
        l->nc++;
    } else if (scheme == HENN_CRYPTONN_LABEL) {
        CHECK_EQ_INT(op, HENN_FEBO_SUB);
        l->bo_y[l->nb % (B * C)] = y[0];
        l->nb++;
    }
}

static void test_params(void)
{
    henn_cryptonn_params p;
    henn_cryptonn_params_default(&p, 784, 64, 10);
    CHECK_OK(henn_cryptonn_params_check(&p));
    /* 784 x 255 x 2^14 > 64 x 255 x 2^15 > 2^11 */
    CHECK_EQ_INT(henn_cryptonn_dlog_bound(&p), (uint64_t)784 * 255 << 14);
    CHECK(henn_cryptonn_dlog_bound(&p) < ((uint64_t)1 << 32));
    p.batch = 0;
    CHECK_RC(henn_cryptonn_params_check(&p), HENN_EPARAM);
    henn_cryptonn_params_default(&p, 784, 64, 1);
    CHECK_RC(henn_cryptonn_params_check(&p), HENN_EPARAM);
    henn_cryptonn_params_default(&p, 784, 64, 10);
    p.w_bits = 25;
    CHECK_RC(henn_cryptonn_params_check(&p), HENN_EPARAM);
}

static void model_and_opts(henn_nn_model *m, henn_nn_opts *o)
{
    const size_t dims[] = {D, H, C};
    CHECK_OK(henn_nn_model_init(m, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(o);
    o->max_rows = B;
}

static int weights_equal(const henn_nn_model *a, const henn_nn_model *b)
{
    for (size_t l = 0; l < a->layers; l++) {
        size_t n = a->dims[l] * a->dims[l + 1];
        if (memcmp(a->W[l], b->W[l], n * sizeof(float)) != 0 ||
            memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* Solve A x = b for k right-hand sides (A n x n, row-major, destroyed). */
static int solve(double *A, double *Bm, size_t n, size_t k)
{
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
                piv = r;
        if (fabs(A[piv * n + c]) < 1e-9)
            return -1;
        for (size_t j = 0; j < n; j++) {
            double t = A[c * n + j];
            A[c * n + j] = A[piv * n + j];
            A[piv * n + j] = t;
        }
        for (size_t j = 0; j < k; j++) {
            double t = Bm[c * k + j];
            Bm[c * k + j] = Bm[piv * k + j];
            Bm[piv * k + j] = t;
        }
        for (size_t r = 0; r < n; r++) {
            double f;
            if (r == c)
                continue;
            f = A[r * n + c] / A[c * n + c];
            for (size_t j = c; j < n; j++)
                A[r * n + j] -= f * A[c * n + j];
            for (size_t j = 0; j < k; j++)
                Bm[r * k + j] -= f * Bm[c * k + j];
        }
    }
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < k; j++)
            Bm[r * k + j] /= A[r * n + r];
    return 0;
}

static void test_end_to_end_and_leakage(uint32_t layout)
{
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_client *c = NULL;
    henn_cryptonn_server *s = NULL;
    henn_transport ta, ta2, ts;
    henn_nn_model m, twin;
    henn_nn_opts o;
    henn_nn_trainer *tt = NULL;
    henn_cryptonn_stats st;
    henn_cryptonn_view v;
    static keylog log;
    static float X[ROWS * D], Xb[B * D];
    static uint8_t y[ROWS], yb[B];
    size_t order[ROWS / B], e, i, j, k;
    uint64_t twin_max = 0;
    double loss = 0;
    int src = 1;

    make_data(X, y, ROWS);
    memset(&log, 0, sizeof(log));
    henn_cryptonn_params_default(&p, D, B, C);
    p.layout = layout;
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    henn_cryptonn_authority_set_threads(a, 2); /* the log stays in key order */
    henn_cryptonn_authority_set_log(a, on_key, &log);
    henn_transport_to_cryptonn_authority(&ta, a);
    henn_transport_to_cryptonn_authority(&ta2, a);
    CHECK_OK(henn_cryptonn_client_new(&c, &ta, 2));
    model_and_opts(&m, &o);
    CHECK_OK(henn_nn_model_copy(&twin, &m));
    CHECK_OK(henn_nn_trainer_new(&tt, &twin, &o));
    CHECK_OK(henn_cryptonn_server_new(&s, &m, &o, &ta2, 1 << 14, 2));
    henn_transport_to_cryptonn_server(&ts, s);

    /* two epochs, encrypted and twin, same batch order */
    for (e = 0; e < 2; e++) {
        CHECK_OK(henn_cryptonn_client_train_epoch(c, &ts, X, y, ROWS, 100 + e, NULL, NULL,
                                                  &loss, &src));
        CHECK_EQ_INT(src, 0);
        CHECK(loss > 0 && isfinite(loss));
        CHECK_OK(henn_nn_batch_order(order, ROWS / B, 100 + e));
        for (i = 0; i < ROWS / B; i++)
            CHECK_OK(henn_cryptonn_twin_step(tt, &twin, &p, X + order[i] * B * D,
                                             y + order[i] * B, B, NULL, &twin_max));
    }
    CHECK(weights_equal(henn_cryptonn_server_model(s), &twin));
    henn_cryptonn_server_stats(&st, s);
    CHECK_EQ_INT(st.samples, 2 * ROWS);
    CHECK_EQ_INT(st.batches, 2 * ROWS / B);
    CHECK_EQ_INT(st.decryptions_bo, 2 * ROWS * C);
    /* the fixed-point bound: no inner product of the run leaves it */
    CHECK(st.max_abs_ip <= henn_cryptonn_dlog_bound(&p));
    CHECK(twin_max <= henn_cryptonn_dlog_bound(&p));
    CHECK(st.max_abs_ip >= twin_max); /* the server also saw FEBO values */
    CHECK(st.max_abs_ip > 0);
    if (layout == HENN_CRYPTONN_LAYOUT_BATCH) {
        /* a key per (row of W1, sample) and per (column of delta1, feature) */
        CHECK_EQ_INT(log.n[HENN_CRYPTONN_BATCH_ROW], 2 * (ROWS / B) * H * B);
        CHECK_EQ_INT(log.n[HENN_CRYPTONN_SAMPLE], 0);
        CHECK(log.n[HENN_CRYPTONN_BATCH_COL] % D == 0);
        CHECK_EQ_INT(st.decryptions_ip, log.n[HENN_CRYPTONN_BATCH_ROW] +
                                            log.n[HENN_CRYPTONN_BATCH_COL]);
    } else {
        CHECK_EQ_INT(log.n[HENN_CRYPTONN_SAMPLE], 2 * (ROWS / B) * H);
    }
    CHECK_EQ_INT(log.n[HENN_CRYPTONN_LABEL], 2 * ROWS * C);

    /* one more batch of known images: what the server can compute */
    make_data(Xb, yb, B);
    memset(&log, 0, sizeof(log));
    CHECK_OK(henn_cryptonn_client_send_batch(c, &ts, Xb, yb, B, &loss, &src));
    henn_cryptonn_server_view(&v, s);
    CHECK_EQ_INT(v.rows, B);
    {
        static int64_t xq[B * D];
        static double A[B * B], G[B * D];
        size_t exact = 0, labels_ok = 0, rank_ok;
        for (i = 0; i < B * D; i++)
            xq[i] = (int64_t)lrint(Xb[i] * 255.0);
        /* 1. W1 x for every sample and key */
        size_t z_ok = 0;
        for (i = 0; i < B; i++)
            for (j = 0; j < H; j++) {
                int64_t z = 0;
                for (k = 0; k < D; k++)
                    z += v.wq[j * D + k] * xq[i * D + k];
                z_ok += z == v.z1[i * H + j];
            }
        CHECK_EQ_INT(z_ok, B * H);
        /* 2. the whole batch from one gradient: X = (dq dq^T)^-1 dq g */
        for (i = 0; i < B; i++)
            for (j = 0; j < B; j++) {
                double t = 0;
                for (k = 0; k < H; k++)
                    t += (double)v.dq[i * H + k] * (double)v.dq[j * H + k];
                A[i * B + j] = t;
            }
        for (i = 0; i < B; i++)
            for (k = 0; k < D; k++) {
                double t = 0;
                for (j = 0; j < H; j++)
                    t += (double)v.dq[i * H + j] * (double)v.g[j * D + k];
                G[i * D + k] = t;
            }
        rank_ok = solve(A, G, B, D) == 0;
        CHECK(rank_ok);
        for (i = 0; rank_ok && i < B * D; i++)
            exact += (int64_t)lrint(G[i]) == xq[i];
        CHECK_EQ_INT(exact, B * D); /* every pixel of every image, exactly */
        /* 3. FEBO sub reveals the one-hot label */
        for (i = 0; i < B; i++) {
            size_t lab = C;
            for (j = 0; j < C; j++)
                if (v.febo[i * C + j] + v.yq[i * C + j] == 1 << p.fl)
                    lab = j;
            labels_ok += lab == yb[i];
        }
        CHECK_EQ_INT(labels_ok, B);
        /* 4. the authority saw W1 (the forward keys) and delta1 (backward) */
        size_t w_ok = 0, d_ok = 0, y_ok = 0;
        CHECK_EQ_INT(log.ns, H);
        for (j = 0; j < H; j++)
            w_ok += memcmp(log.last_sample[j], v.wq + j * D, D * sizeof(int64_t)) == 0;
        CHECK_EQ_INT(w_ok, H);
        for (j = 0, k = 0; j < H; j++) {
            int64_t col[B];
            int nz = 0;
            for (i = 0; i < B; i++) {
                col[i] = v.dq[i * H + j];
                nz |= col[i] != 0;
            }
            if (nz)
                d_ok += k < log.nc && memcmp(log.last_col[k++], col, sizeof(col)) == 0;
        }
        CHECK_EQ_INT(d_ok, log.nc);
        CHECK(log.nc >= B);
        for (i = 0; i < B * C; i++)
            y_ok += log.bo_y[i] == v.yq[i];
        CHECK_EQ_INT(y_ok, B * C);
        /* and from W1 and delta1 the authority has the gradient's factors */
    }
    henn_nn_trainer_free(tt);
    henn_nn_model_clear(&twin);
    henn_nn_model_clear(&m);
    henn_cryptonn_server_free(s);
    henn_cryptonn_client_free(c);
    henn_cryptonn_authority_free(a);
}

/* Weights beyond 2^w_bits / 2^fw stop the run with HENN_ERANGE. */
static void test_fails_loudly(void)
{
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_client *c = NULL;
    henn_cryptonn_server *s = NULL;
    henn_transport ta, ts;
    henn_nn_model m;
    henn_nn_opts o;
    static float X[B * D];
    static uint8_t y[B];
    int src = 0;
    double loss = 1;
    make_data(X, y, B);
    henn_cryptonn_params_default(&p, D, B, C);
    p.w_bits = 4; /* |w| <= 2^-6: the initial weights are larger */
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    henn_transport_to_cryptonn_authority(&ta, a);
    CHECK_OK(henn_cryptonn_client_new(&c, &ta, 1));
    model_and_opts(&m, &o);
    CHECK_OK(henn_cryptonn_server_new(&s, &m, &o, &ta, 1 << 12, 1));
    henn_transport_to_cryptonn_server(&ts, s);
    CHECK_RC(henn_cryptonn_client_send_batch(c, &ts, X, y, B, &loss, &src), HENN_EPROTO);
    CHECK_RC(src, HENN_ERANGE);
    CHECK_EQ_DBL(loss, 0.0);
    {
        henn_nn_trainer *t = NULL;
        henn_nn_model tw;
        CHECK_OK(henn_nn_model_copy(&tw, &m));
        CHECK_OK(henn_nn_trainer_new(&t, &tw, &o));
        CHECK_RC(henn_cryptonn_twin_step(t, &tw, &p, X, y, B, NULL, NULL), HENN_ERANGE);
        henn_nn_trainer_free(t);
        henn_nn_model_clear(&tw);
    }
    /* inputs outside [0, 1] are refused before anything is sent */
    X[3] = 1.5f;
    CHECK_RC(henn_cryptonn_client_send_batch(c, &ts, X, y, B, &loss, &src), HENN_ERANGE);
    /* a model of the wrong shape */
    {
        henn_cryptonn_server *s2 = NULL;
        henn_nn_model m2;
        const size_t dims[] = {D, H, C + 1};
        CHECK_OK(henn_nn_model_init(&m2, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 1));
        CHECK_RC(henn_cryptonn_server_new(&s2, &m2, &o, &ta, 0, 1), HENN_EINVAL);
        CHECK(s2 == NULL);
        henn_nn_model_clear(&m2);
    }
    henn_nn_model_clear(&m);
    henn_cryptonn_server_free(s);
    henn_cryptonn_client_free(c);
    henn_cryptonn_authority_free(a);
}

/* transports for the parser tests: capture a request / replay a response */
/* transports for the parser tests: capture a request / replay a response */
struct capture {
    uint8_t **req;
    size_t *len;
};
struct replay {
    const uint8_t *r;
    size_t n;
};

static int capture_fn(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    struct capture *cs = ctx;
    *cs->req = malloc(req_len);
    memcpy(*cs->req, req, req_len);
    *cs->len = req_len;
    return henn__cn_error(resp, resp_len, HENN_EINVAL);
}

static int replay_fn(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    struct replay *f = ctx;
    (void)req;
    (void)req_len;
    *resp = malloc(f->n);
    memcpy(*resp, f->r, f->n);
    *resp_len = f->n;
    return 0;
}

/* the code in an error response, 0 for a normal one */
static int resp_code(const uint8_t *r, size_t n)
{
    return henn__cn_error_code(r, n);
}

static void test_parsers(void)
{
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_client *c = NULL;
    henn_cryptonn_server *s = NULL;
    henn_transport ta;
    henn_nn_model m;
    henn_nn_opts o;
    uint8_t *resp = NULL, *msg;
    size_t resp_len = 0, len, i;
    henn__cn_w w;
    henn_cryptonn_params_default(&p, D, B, C);
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    henn_transport_to_cryptonn_authority(&ta, a);
    CHECK_OK(henn_cryptonn_client_new(&c, &ta, 1));
    model_and_opts(&m, &o);
    CHECK_OK(henn_cryptonn_server_new(&s, &m, &o, &ta, 1 << 12, 1));

    /* authority: a key vector outside Y is refused */
    {
        int64_t yv[D] = {0};
        henn__cn_w_start(&w, HENN__CN_KEYS_IP);
        henn__cn_w_u8(&w, HENN_CRYPTONN_SAMPLE);
        henn__cn_w_u32(&w, 1);
        henn__cn_w_u32(&w, D);
        yv[5] = ((int64_t)1 << p.w_bits) + 1;
        for (i = 0; i < D; i++)
            henn__cn_w_u64(&w, (uint64_t)yv[i]);
        CHECK_OK(henn__cn_w_finish(&w, &msg, &len));
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_ERANGE);
        free(resp);
        /* within the bound it works; every truncation fails */
        msg[HENN__CN_HEADER + 9 + 5 * 8] = 0;
        msg[HENN__CN_HEADER + 9 + 5 * 8 + 1] = 0;
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        CHECK_EQ_INT(resp_code(resp, resp_len), 0);
        free(resp);
        for (i = 0; i < len; i += 7) {
            CHECK_OK(henn_cryptonn_authority_handle(a, msg, i, &resp, &resp_len));
            CHECK_RC(resp_code(resp, resp_len), HENN_EFORMAT);
            free(resp);
        }
        /* wrong scheme, wrong n */
        msg[HENN__CN_HEADER] = 7;
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_EFORMAT);
        free(resp);
        msg[HENN__CN_HEADER] = HENN_CRYPTONN_COLUMN; /* n = D != batch */
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_EINVAL);
        free(resp);
        free(msg);
    }
    /* authority: a FEBO key request for a non-canonical commitment */
    {
        uint8_t *ctb;
        henn__cn_w_start(&w, HENN__CN_KEYS_BO);
        henn__cn_w_u32(&w, 1);
        henn__cn_w_u8(&w, HENN_FEBO_SUB);
        henn__cn_w_u64(&w, 3);
        ctb = henn__cn_w_grow(&w, HENN_FEBO_CT_BYTES);
        memset(ctb, 0xff, HENN_FEBO_CT_BYTES);
        CHECK_OK(henn__cn_w_finish(&w, &msg, &len));
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_EFORMAT);
        free(resp);
        free(msg);
    }
    /* server: capture a real BATCH, then truncate and corrupt it */
    {
        static float X[B * D];
        static uint8_t y[B];
        uint8_t *req = NULL;
        size_t req_len = 0;
        henn_transport cap;
        struct capture cs = {&req, &req_len};
        make_data(X, y, B);
        memset(&cap, 0, sizeof(cap));
        cap.call = capture_fn;
        cap.ctx = &cs;
        CHECK_RC(henn_cryptonn_client_send_batch(c, &cap, X, y, B, NULL, NULL), HENN_EPROTO);
        CHECK(req != NULL);
        CHECK_OK(henn_cryptonn_server_handle(s, req, req_len, &resp, &resp_len));
        CHECK_EQ_INT(resp_code(resp, resp_len), 0);
        free(resp);
        for (i = 0; i < req_len; i += req_len / 23 + 1) {
            CHECK_OK(henn_cryptonn_server_handle(s, req, i, &resp, &resp_len));
            CHECK_RC(resp_code(resp, resp_len), HENN_EFORMAT);
            free(resp);
        }
        /* a flipped bit in a point of the first sample ciphertext */
        req[HENN__CN_HEADER + 4 + 9 + 40] ^= 0x80;
        CHECK_OK(henn_cryptonn_server_handle(s, req, req_len, &resp, &resp_len));
        CHECK(resp_code(resp, resp_len) < 0);
        free(resp);
        req[HENN__CN_HEADER + 4 + 9 + 40] ^= 0x80;
        /* rows beyond the batch */
        req[HENN__CN_HEADER] = B + 1;
        CHECK_OK(henn_cryptonn_server_handle(s, req, req_len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_EINVAL);
        free(resp);
        /* wrong type */
        req[HENN__CN_HEADER] = B;
        req[4] = HENN__CN_MPK_REQ;
        CHECK_OK(henn_cryptonn_server_handle(s, req, req_len, &resp, &resp_len));
        CHECK_RC(resp_code(resp, resp_len), HENN_EFORMAT);
        free(resp);
        free(req);
    }
    /* client: a corrupted MPK response is refused */
    {
        henn__cn_w_start(&w, HENN__CN_MPK_REQ);
        CHECK_OK(henn__cn_w_finish(&w, &msg, &len));
        CHECK_OK(henn_cryptonn_authority_handle(a, msg, len, &resp, &resp_len));
        free(msg);
        /* header, parameters, the first mpk's length and header, then one
         * point made non-canonical (flipping bits of a point may give another
         * valid point: that is a different key, not a parse error) */
        for (i = 0; i <= HENN__CN_HEADER + 32 + 4 + 9; i++) {
            henn_cryptonn_client *c2 = NULL;
            henn_transport bad;
            struct replay fixed = {resp, resp_len};
            uint8_t save[32];
            size_t at = i < HENN__CN_HEADER + 32 + 4 + 9 ? i : HENN__CN_HEADER + 32 + 4 + 29;
            if (at >= 5 && at < 8)
                at = 4; /* the zero bytes: covered by the type byte */
            memcpy(save, resp + at, at == i ? 1 : 32);
            if (at == i)
                resp[at] ^= 0x55;
            else
                memset(resp + at, 0xff, 32);
            memset(&bad, 0, sizeof(bad));
            bad.call = replay_fn;
            bad.ctx = &fixed;
            CHECK(henn_cryptonn_client_new(&c2, &bad, 1) != 0);
            CHECK(c2 == NULL);
            henn_cryptonn_client_free(c2);
            memcpy(resp + at, save, at == i ? 1 : 32);
        }
        free(resp);
    }
    henn_nn_model_clear(&m);
    henn_cryptonn_server_free(s);
    henn_cryptonn_client_free(c);
    henn_cryptonn_authority_free(a);
}

/* KEYS_SUP (BATCH layout): the authority checks the support and the bound
 * of each kind, and refuses support keys in the SAMPLE layout. */
static int sup_request(henn_cryptonn_authority *a, int kind, size_t n, int64_t yv,
                       uint32_t idx)
{
    henn__cn_w w;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    int rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_SUP);
    henn__cn_w_u8(&w, (uint8_t)kind);
    henn__cn_w_u32(&w, 1);
    henn__cn_w_u32(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        henn__cn_w_u64(&w, (uint64_t)(i == 0 ? yv : 1));
    henn__cn_w_u32(&w, 1);
    henn__cn_w_u32(&w, idx);
    CHECK_OK(henn__cn_w_finish(&w, &req, &req_len));
    CHECK_OK(henn_cryptonn_authority_handle(a, req, req_len, &resp, &resp_len));
    rc = henn__cn_error_code(resp, resp_len);
    free(req);
    free(resp);
    return rc;
}

static void test_batch_layout_keys(void)
{
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_params_default(&p, D, B, C);
    p.layout = 2;
    CHECK_RC(henn_cryptonn_params_check(&p), HENN_EPARAM);
    p.layout = HENN_CRYPTONN_LAYOUT_BATCH;
    CHECK_OK(henn_cryptonn_params_check(&p));
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    CHECK_OK(sup_request(a, 0, D, (int64_t)1 << p.w_bits, B - 1));
    CHECK_OK(sup_request(a, 1, B, -((int64_t)1 << p.d_bits), D - 1));
    CHECK_RC(sup_request(a, 0, D, ((int64_t)1 << p.w_bits) + 1, 0), HENN_ERANGE);
    CHECK_RC(sup_request(a, 1, B, ((int64_t)1 << p.d_bits) + 1, 0), HENN_ERANGE);
    CHECK_RC(sup_request(a, 0, D, 1, B), HENN_EINVAL);     /* no sample B */
    CHECK_RC(sup_request(a, 1, B, 1, D), HENN_EINVAL);     /* no feature D */
    CHECK_RC(sup_request(a, 0, B, 1, 0), HENN_EINVAL);     /* wrong length */
    CHECK_RC(sup_request(a, 2, D, 1, 0), HENN_EFORMAT);    /* no such kind */
    henn_cryptonn_authority_free(a);
    p.layout = HENN_CRYPTONN_LAYOUT_SAMPLE;
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    CHECK_RC(sup_request(a, 0, D, 1, 0), HENN_EINVAL);
    henn_cryptonn_authority_free(a);
}

/*
 * The server's batch primitives on a small long vector (NB samples x ND
 * features): henn_fe_dlog_solve_many against one solve per point (around
 * 0, the table's edge T and beyond it, both signs, the identity) and its
 * refusals; henn_feip_decrypt_shared on a column (m = NB, many keys) and a
 * row (m = ND) against the plaintext and henn_feip_decrypt_idx, zero keys,
 * and its refusals: another key, another c_0 table, |y| > Y, bad supports,
 * and a result beyond its exact bound X sum |y| (a ciphertext made under a
 * larger X) that the plain bound B would still have returned.
 */
#define NB 8
#define ND 40
#define NK 11
static void test_batch_primitives(void)
{
    henn_feip_mpk mpk, big;
    henn_feip_msk msk;
    henn_feip_ct ct = {0}, ct2 = {0};
    henn_feip_ct0_tab tab, tab2;
    henn_fe_dlog dl;
    const uint64_t Y = 1 << 10, T = 1 << 8, Bd = (uint64_t)ND * 255 * Y;
    int64_t x[NB * ND], v[NK], w[NK], ys[NK * ND];
    size_t idx[ND], k, t;
    henn_feip_fk fk[NK];
    CHECK_OK(henn_feip_setup(&mpk, &msk, NB * ND, 255, Y));
    CHECK_OK(henn_fe_dlog_init(&dl, Bd, T));
    for (k = 0; k < NB * ND; k++)
        x[k] = (int64_t)(rnd() % 256);
    CHECK_OK(henn_feip_encrypt(&ct, &mpk, x, NB * ND));
    CHECK_OK(henn_feip_ct0_tab_init(&tab, &ct));

    /* solve_many */
    {
        const int64_t vals[NK] = {0, 1, -1, (int64_t)T, -(int64_t)T, (int64_t)T + 1,
                                  -(int64_t)T - 1, 123456, -654321, (int64_t)Bd,
                                  -(int64_t)Bd};
        uint8_t pts[NK * HENN_FE_POINTBYTES];
        for (k = 0; k < NK; k++)
            henn_fe_point_mul_g(pts + k * HENN_FE_POINTBYTES, vals[k]);
        CHECK_OK(henn_fe_dlog_solve_many(v, &dl, pts, NK));
        for (k = 0; k < NK; k++) {
            CHECK_EQ_INT(v[k], vals[k]);
            CHECK_OK(henn_fe_dlog_solve(&w[k], &dl, pts + k * HENN_FE_POINTBYTES));
            CHECK_EQ_INT(w[k], vals[k]);
        }
        henn_fe_point_mul_g(pts + 3 * HENN_FE_POINTBYTES, (int64_t)Bd + 1); /* beyond B */
        CHECK_RC(henn_fe_dlog_solve_many(v, &dl, pts, NK), HENN_ERANGE);
        for (k = 0; k < NK; k++)
            CHECK_EQ_INT(v[k], 0);
        pts[5 * HENN_FE_POINTBYTES + 31] = 0xff; /* not canonical */
        CHECK_RC(henn_fe_dlog_solve_many(v, &dl, pts, NK), HENN_EFORMAT);
        CHECK_RC(henn_fe_dlog_solve_many(v, &dl, pts, 0), HENN_EINVAL);
        CHECK_RC(henn_fe_dlog_solve_many(v, NULL, pts, 1), HENN_EINVAL);
        CHECK_RC(henn_fe_dlog_solve_many(v, &dl, NULL, 1), HENN_EINVAL);
    }

    /* decrypt_shared: a column (feature 3 of every sample), NK keys */
    for (t = 0; t < NB; t++)
        idx[t] = t * ND + 3;
    for (k = 0; k < NK; k++) {
        for (t = 0; t < NB; t++) {
            int64_t r = (int64_t)(rnd() % (2 * Y + 1)) - (int64_t)Y;
            ys[k * NB + t] = k == 0 ? 0 : k == 1 ? (int64_t)Y : k == 2 ? -(int64_t)Y : r;
        }
        CHECK_OK(henn_feip_derive_key_idx(&fk[k], &msk, ys + k * NB, idx, NB));
    }
    CHECK_OK(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, NB, NK));
    for (k = 0; k < NK; k++) {
        int64_t want = 0;
        for (t = 0; t < NB; t++)
            want += ys[k * NB + t] * x[idx[t]];
        CHECK_EQ_INT(v[k], want);
        CHECK_OK(henn_feip_decrypt_idx(&w[k], &mpk, &dl, &ct, &tab, &fk[k], ys + k * NB, idx,
                                       NB));
        CHECK_EQ_INT(w[k], want);
    }
    /* a row (sample 5, every feature) */
    for (t = 0; t < ND; t++)
        idx[t] = 5 * ND + t;
    for (k = 0; k < 3; k++) {
        for (t = 0; t < ND; t++)
            ys[k * ND + t] = (int64_t)(rnd() % (2 * Y + 1)) - (int64_t)Y;
        CHECK_OK(henn_feip_derive_key_idx(&fk[k], &msk, ys + k * ND, idx, ND));
    }
    CHECK_OK(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 3));
    for (k = 0; k < 3; k++) {
        int64_t want = 0;
        for (t = 0; t < ND; t++)
            want += ys[k * ND + t] * x[idx[t]];
        CHECK_EQ_INT(v[k], want);
    }
    /* refusals: a key for another y, another table, |y| > Y, bad supports */
    {
        henn_feip_fk sw = fk[0];
        fk[0] = fk[1];
        fk[1] = sw;
        CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 3),
                 HENN_ERANGE);
        CHECK_EQ_INT(v[2], 0);
        fk[1] = fk[0];
        fk[0] = sw;
    }
    CHECK_OK(henn_feip_encrypt(&ct2, &mpk, x, NB * ND));
    CHECK_OK(henn_feip_ct0_tab_init(&tab2, &ct2));
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab2, fk, ys, idx, ND, 3),
             HENN_EINVAL);
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, NULL, fk, ys, idx, ND, 3),
             HENN_EINVAL);
    ys[4] = (int64_t)Y + 1;
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 3),
             HENN_ERANGE);
    ys[4] = 0;
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 0),
             HENN_EINVAL);
    idx[7] = idx[6];
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 3),
             HENN_EINVAL);
    idx[7] = idx[6] + 1;
    idx[ND - 1] = NB * ND;
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct, &tab, fk, ys, idx, ND, 3),
             HENN_EINVAL);
    idx[ND - 1] = 5 * ND + ND - 1;
    /* the exact bound: x_i = 1000 > X under the same h (a client that
     * ignored X); <x, y> lies inside B but beyond 255 sum |y| */
    big = mpk;
    big.x_bound = 1000;
    for (k = 0; k < NB * ND; k++)
        x[k] = 1000;
    henn_feip_ct_clear(&ct2);
    henn_feip_ct0_tab_clear(&tab2);
    CHECK_OK(henn_feip_encrypt(&ct2, &big, x, NB * ND));
    CHECK_OK(henn_feip_ct0_tab_init(&tab2, &ct2));
    for (t = 0; t < ND; t++)
        ys[t] = t < 4 ? 1 : 0; /* <x, y> = 4000 > 255 * 4 */
    CHECK_OK(henn_feip_derive_key_idx(&fk[0], &msk, ys, idx, ND));
    CHECK_OK(henn_feip_decrypt_idx(&w[0], &mpk, &dl, &ct2, &tab2, &fk[0], ys, idx, ND));
    CHECK_EQ_INT(w[0], 4000);
    CHECK_RC(henn_feip_decrypt_shared(v, &mpk, &dl, &ct2, &tab2, fk, ys, idx, ND, 1),
             HENN_ERANGE);
    CHECK_OK(henn_feip_decrypt_shared(v, &big, &dl, &ct2, &tab2, fk, ys, idx, ND, 1));
    CHECK_EQ_INT(v[0], 4000);

    for (k = 0; k < NK; k++)
        henn_feip_fk_clear(&fk[k]);
    henn_feip_ct0_tab_clear(&tab);
    henn_feip_ct0_tab_clear(&tab2);
    henn_feip_ct_clear(&ct);
    henn_feip_ct_clear(&ct2);
    henn_fe_dlog_clear(&dl);
    henn_feip_mpk_clear(&mpk);
    henn_feip_msk_clear(&msk);
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    test_params();
    test_batch_primitives();
    test_end_to_end_and_leakage(HENN_CRYPTONN_LAYOUT_SAMPLE);
    test_end_to_end_and_leakage(HENN_CRYPTONN_LAYOUT_BATCH);
    test_batch_layout_keys();
    test_fails_loudly();
    test_parsers();
    return test_report("test_cryptonn");
}
