/*
 * CryptoNN LeNet-5 with the encrypted first convolution
 * (src/protocol/cryptonn_lenet.c) and FEIP keys on index-list supports:
 * the encrypted run (three parties, keys and labels through messages)
 * equals its fixed-point twin bit for bit, no inner product leaves the
 * stated bound, a weight beyond 2^w_bits stops the run, the server's view
 * (conv1 outputs) determines each image exactly and gives every label
 * (FEBO), the authority logs every key vector, and malformed or lying
 * messages from any party are refused.
 */
#include "../test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "henn/cryptonn.h"
#include "protocol/cryptonn_internal.h"

#define NB 4  /* batch */
#define NI 8  /* images: two batches */
#define PIX 784

static uint64_t rs = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* images: a class bar plus noise, pixels k/255 */
static void make_data(float *X, uint8_t *y, size_t rows)
{
    for (size_t r = 0; r < rows; r++) {
        y[r] = (uint8_t)(rnd() % 10);
        for (size_t k = 0; k < PIX; k++) {
            unsigned v = (unsigned)(rnd() % 80);
            if ((k / 28) / 3 == y[r])
                v += 170;
            X[r * PIX + k] = (float)v / 255.0f;
        }
    }
}

/* the authority's key log */
typedef struct {
    size_t n[8];
    size_t patch_seen;
    int64_t last_w[6][25]; /* the filters of the last patch keys */
    int last_op;
    int64_t last_map[6][NB * 576];
    size_t maps;
    int64_t bo_y[NB * 10];
    size_t nb;
} keylog;

static void on_key(void *user, int scheme, int op, const int64_t *y, size_t n)
{
    keylog *l = user;
    l->n[scheme]++;
    if (scheme == HENN_CRYPTONN_CONV_PATCH && n == 25) {
        /* keys come in (image, filter, patch) order: op = image 576 + patch */
        memcpy(l->last_w[(l->patch_seen / 576) % 6], y, sizeof(l->last_w[0]));
        l->last_op = op;
        l->patch_seen++;
    } else if (scheme == HENN_CRYPTONN_CONV_SHIFT && n <= NB * 576) {
        if (op == 0)
            memcpy(l->last_map[l->maps++ % 6], y, n * sizeof(*y));
    } else if (scheme == HENN_CRYPTONN_LABEL) {
        l->bo_y[l->nb++ % (NB * 10)] = y[0];
    }
}

static void test_idx_support(void)
{
    henn_feip_mpk mpk;
    henn_feip_msk msk;
    henn_fe_dlog dl;
    henn_feip_ct ct;
    henn_feip_ct0_tab tab;
    henn_feip_fk fk, fk2;
    int64_t x[60], y[5] = {3, -7, 0, 12, -1}, v = 0, want = 0;
    size_t idx[5] = {2, 9, 10, 33, 59}, bad[5] = {2, 9, 9, 33, 59}, far[5] = {2, 9, 10, 33, 60};
    memset(&ct, 0, sizeof ct);
    for (size_t i = 0; i < 60; i++)
        x[i] = (int64_t)(rnd() % 256);
    for (size_t t = 0; t < 5; t++)
        want += y[t] * x[idx[t]];
    CHECK_OK(henn_feip_setup(&mpk, &msk, 60, 255, 100));
    CHECK_OK(henn_fe_dlog_init(&dl, 60 * 255 * 100, 1024));
    CHECK_OK(henn_feip_encrypt(&ct, &mpk, x, 60));
    CHECK_OK(henn_feip_ct0_tab_init(&tab, &ct));
    CHECK_OK(henn_feip_derive_key_idx(&fk, &msk, y, idx, 5));
    CHECK_OK(henn_feip_decrypt_idx(&v, &mpk, &dl, &ct, &tab, &fk, y, idx, 5));
    CHECK_EQ_INT(v, want);
    CHECK_OK(henn_feip_decrypt_idx(&v, &mpk, &dl, &ct, NULL, &fk, y, idx, 5));
    CHECK_EQ_INT(v, want);
    /* the same key as the zero-padded full vector's */
    {
        int64_t full[60];
        memset(full, 0, sizeof full);
        for (size_t t = 0; t < 5; t++)
            full[idx[t]] = y[t];
        CHECK_OK(henn_feip_derive_key(&fk2, &msk, full, 60));
        CHECK(memcmp(fk.sk, fk2.sk, sizeof fk.sk) == 0);
    }
    /* refusals */
    CHECK_RC(henn_feip_derive_key_idx(&fk2, &msk, y, bad, 5), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_idx(&fk2, &msk, y, far, 5), HENN_EINVAL);
    CHECK_RC(henn_feip_derive_key_idx(&fk2, &msk, y, idx, 0), HENN_EINVAL);
    {
        int64_t big[5] = {3, -7, 0, 101, -1};
        CHECK_RC(henn_feip_derive_key_idx(&fk2, &msk, big, idx, 5), HENN_ERANGE);
        CHECK_RC(henn_feip_decrypt_idx(&v, &mpk, &dl, &ct, &tab, &fk, big, idx, 5), HENN_ERANGE);
    }
    CHECK_RC(henn_feip_decrypt_idx(&v, &mpk, &dl, &ct, &tab, &fk, y, bad, 5), HENN_EINVAL);
    {
        size_t other[5] = {3, 9, 10, 33, 59}; /* a key for another support */
        CHECK_RC(henn_feip_decrypt_idx(&v, &mpk, &dl, &ct, &tab, &fk, y, other, 5), HENN_ERANGE);
    }
    /* many at once: equal to one by one, incl. results beyond the first
     * giant step (T = 1024 here) that take the ordinary path */
    {
        enum { CNT = 7 };
        size_t ids[CNT * 5];
        int64_t ys[CNT * 5], got[CNT], one = 0;
        henn_feip_fk fks[CNT];
        size_t beyond = 0;
        for (size_t k = 0; k < CNT; k++) {
            for (size_t t = 0; t < 5; t++) {
                ids[k * 5 + t] = k + 8 * t;
                ys[k * 5 + t] = (int64_t)(rnd() % 201) - 100;
            }
            CHECK_OK(henn_feip_derive_key_idx(&fks[k], &msk, ys + k * 5, ids + k * 5, 5));
        }
        CHECK_OK(henn_feip_decrypt_idx_many(got, &mpk, &dl, &ct, &tab, fks, ys, ids, 5, CNT));
        for (size_t k = 0; k < CNT; k++) {
            CHECK_OK(henn_feip_decrypt_idx(&one, &mpk, &dl, &ct, &tab, &fks[k], ys + k * 5,
                                           ids + k * 5, 5));
            CHECK_EQ_INT(got[k], one);
            beyond += (size_t)(llabs(one) > 1024);
        }
        CHECK(beyond > 0);
        /* a key for another support: HENN_ERANGE, every output 0 */
        ids[3 * 5] ^= 1;
        CHECK_RC(henn_feip_decrypt_idx_many(got, &mpk, &dl, &ct, &tab, fks, ys, ids, 5, CNT),
                 HENN_ERANGE);
        CHECK(got[0] == 0 && got[6] == 0);
        ids[3 * 5] ^= 1;
        ids[5] = ids[6]; /* not increasing */
        CHECK_RC(henn_feip_decrypt_idx_many(got, &mpk, &dl, &ct, &tab, fks, ys, ids, 5, CNT),
                 HENN_EINVAL);
        CHECK_RC(henn_feip_decrypt_idx_many(got, &mpk, &dl, &ct, NULL, fks, ys, ids + 10, 5, 2),
                 HENN_EINVAL);
        ys[12] = 101; /* beyond Y */
        CHECK_RC(henn_feip_decrypt_idx_many(got, &mpk, &dl, &ct, &tab, fks + 2, ys + 10,
                                            ids + 10, 5, 2),
                 HENN_ERANGE);
    }
    henn_feip_ct0_tab_clear(&tab);
    henn_feip_ct_clear(&ct);
    henn_fe_dlog_clear(&dl);
    henn_feip_msk_clear(&msk);
    henn_feip_mpk_clear(&mpk);
}

static void params(henn_cryptonn_params *p)
{
    henn_cryptonn_params_default(p, PIX, NB, 10);
    p->d_bits = 12;
}

static int models_equal(const henn_cnn_model *a, const henn_cnn_model *b)
{
    if (a->layers != b->layers)
        return 0;
    for (size_t l = 0; l < a->layers; l++) {
        const henn_cnn_layer *x = &a->layer[l], *z = &b->layer[l];
        if (x->W == NULL)
            continue;
        size_t nw = x->kind == HENN_CNN_CONV ? x->out_c * x->in_c * x->k * x->k
                                             : x->out_c * x->in_c * x->in_h * x->in_w;
        if (memcmp(x->W, z->W, nw * sizeof(float)) != 0 ||
            memcmp(x->b, z->b, x->out_c * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* Gaussian elimination with partial pivoting on A [n x n] x = r; 0 on success */
static int solve(double *A, double *r, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t i = c + 1; i < n; i++)
            if (fabs(A[i * n + c]) > fabs(A[piv * n + c]))
                piv = i;
        if (fabs(A[piv * n + c]) < 1e-9)
            return -1;
        if (piv != c) {
            for (size_t j = 0; j < n; j++) {
                double t = A[c * n + j];
                A[c * n + j] = A[piv * n + j];
                A[piv * n + j] = t;
            }
            double t = r[c];
            r[c] = r[piv];
            r[piv] = t;
        }
        for (size_t i = c + 1; i < n; i++) {
            double f = A[i * n + c] / A[c * n + c];
            if (f == 0)
                continue;
            for (size_t j = c; j < n; j++)
                A[i * n + j] -= f * A[c * n + j];
            r[i] -= f * r[c];
        }
    }
    for (size_t c = n; c-- > 0;) {
        double s = r[c];
        for (size_t j = c + 1; j < n; j++)
            s -= A[c * n + j] * r[j];
        r[c] = s / A[c * n + c];
    }
    return 0;
}

static void test_lenet_twin_and_leakage(void)
{
    float *X = malloc(NI * PIX * sizeof(float));
    uint8_t y[NI];
    henn_cnn_model m;
    henn_nn_opts o;
    henn_cryptonn_params p;
    henn_cryptonn_lenet *enc = NULL, *twin = NULL;
    henn_cryptonn_stats st, st2;
    CHECK(X != NULL);
    make_data(X, y, NI);
    params(&p);
    henn_cnn_opts_default(&o);
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 7));
    static keylog log;
    memset(&log, 0, sizeof log);
    CHECK_OK(henn_cryptonn_lenet_new(&enc, &m, &o, &p, (uint64_t)1 << 18, 2, 1));
    CHECK_OK(henn_cryptonn_lenet_new(&twin, &m, &o, &p, 0, 1, 0));
    CHECK(henn_cryptonn_lenet_authority(twin) == NULL);
    henn_cryptonn_authority_set_log(henn_cryptonn_lenet_authority(enc), on_key, &log);
    for (size_t b = 0; b < NI / NB; b++) {
        double l1 = 0, l2 = 0;
        /* the second batch is short: 3 rows */
        size_t rows = b == 0 ? NB : NB - 1;
        CHECK_OK(henn_cryptonn_lenet_step(enc, X + b * NB * PIX, y + b * NB, rows, &l1));
        CHECK_OK(henn_cryptonn_lenet_step(twin, X + b * NB * PIX, y + b * NB, rows, &l2));
        CHECK(l1 == l2 && l1 > 0 && isfinite(l1));
        henn_cryptonn_conv_view v1, v2;
        henn_cryptonn_lenet_view(&v1, enc);
        henn_cryptonn_lenet_view(&v2, twin);
        CHECK(v1.rows == rows && v1.filters == 6 && v1.patches == 576);
        CHECK(memcmp(v1.zq, v2.zq, rows * 6 * 576 * sizeof(int64_t)) == 0);
        CHECK(memcmp(v1.g, v2.g, 150 * sizeof(int64_t)) == 0);
        CHECK(memcmp(v1.febo, v2.febo, rows * 10 * sizeof(int64_t)) == 0);
        CHECK(memcmp(v1.yq, v2.yq, rows * 10 * sizeof(int64_t)) == 0);
        CHECK(v1.fd == v2.fd);
        /* leakage item 3: FEBO sub gives the server every label */
        size_t labels_ok = 0;
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < 10; c++)
                if (v1.febo[i * 10 + c] + v1.yq[i * 10 + c] == (int64_t)1 << v1.fl)
                    labels_ok += c == y[b * NB + i];
        CHECK_EQ_INT(labels_ok, rows);
        /* the authority logged this batch's filters on every patch, each
         * delta1 map and every prediction */
        CHECK(memcmp(log.last_w, v1.wq, sizeof(log.last_w)) == 0);
        CHECK_EQ_INT(log.last_op, (rows - 1) * 576 + 575);
        CHECK_EQ_INT(log.n[HENN_CRYPTONN_CONV_PATCH], (b == 0 ? 0 : NB * 6 * 576) + rows * 6 * 576);
        CHECK_EQ_INT(log.n[HENN_CRYPTONN_CONV_SHIFT], (b + 1) * 150);
        for (size_t f = 0; f < 6; f++) {
            size_t same = 0;
            for (size_t i = 0; i < rows; i++)
                same += memcmp(log.last_map[f] + i * 576, v1.dq + (i * 6 + f) * 576,
                               576 * sizeof(int64_t)) == 0;
            CHECK_EQ_INT(same, rows);
        }
        size_t y_ok = 0;
        for (size_t i = 0; i < rows * 10; i++)
            y_ok += log.bo_y[(log.nb - rows * 10 + i) % (NB * 10)] == v1.yq[i];
        CHECK_EQ_INT(y_ok, rows * 10);
    }
    CHECK(models_equal(henn_cryptonn_lenet_model(enc), henn_cryptonn_lenet_model(twin)));
    CHECK(!models_equal(henn_cryptonn_lenet_model(enc), &m)); /* it did train */
    henn_cryptonn_lenet_stats(&st, enc);
    henn_cryptonn_lenet_stats(&st2, twin);
    CHECK(st.max_abs_ip == st2.max_abs_ip);
    CHECK(st.max_abs_ip > 0 && st.max_abs_ip <= henn_cryptonn_lenet_dlog_bound(&p));
    CHECK_EQ_INT(henn_cryptonn_lenet_dlog_bound(&p),
                 ((uint64_t)NB * 576 * 255) << 12); /* the backward term dominates here */
    CHECK_EQ_INT(st.keys_ip, (NB + NB - 1) * 6 * 576 + 2 * 150);
    CHECK(st.samples == NI - 1 && st.batches == 2);

    /* the server's view of the last batch: image 0's 6 x 576 conv1 outputs
     * are 3456 linear equations in its 784 pixels; the normal equations
     * give the image exactly (x_q = round(255 x)) */
    {
        henn_cryptonn_conv_view v;
        henn_cryptonn_lenet_view(&v, enc);
        double *A = calloc(PIX * PIX, sizeof(double)), *r = calloc(PIX, sizeof(double));
        CHECK(A != NULL && r != NULL);
        for (size_t f = 0; f < 6; f++)
            for (size_t oy = 0; oy < 24; oy++)
                for (size_t ox = 0; ox < 24; ox++) {
                    size_t id[25];
                    double w[25], z = (double)v.zq[f * 576 + oy * 24 + ox];
                    for (size_t q = 0; q < 25; q++) {
                        id[q] = (oy + q / 5) * 28 + ox + q % 5;
                        w[q] = (double)v.wq[f * 25 + q];
                    }
                    for (size_t a = 0; a < 25; a++) {
                        r[id[a]] += w[a] * z;
                        for (size_t c = 0; c < 25; c++)
                            A[id[a] * PIX + id[c]] += w[a] * w[c];
                    }
                }
        CHECK(solve(A, r, PIX) == 0);
        size_t exact = 0;
        const float *x0 = X + NB * PIX; /* first image of the last batch */
        for (size_t k = 0; k < PIX; k++)
            exact += llround(r[k]) == lrintf(x0[k] * 255.0f);
        CHECK_EQ_INT(exact, PIX);
        free(A);
        free(r);
        /* with the dW1 keys it learns the shifted correlations of the batch
         * with delta1: g[f][u][v] = sum dq[b][f][i][j] x_q[b][i+u][j+v] */
        int ok = 1;
        for (size_t f = 0; f < 6; f++)
            for (size_t u = 0; u < 5; u++)
                for (size_t w = 0; w < 5; w++) {
                    int64_t s = 0;
                    for (size_t b = 0; b < v.rows; b++)
                        for (size_t i = 0; i < 24; i++)
                            for (size_t j = 0; j < 24; j++)
                                s += v.dq[(b * 6 + f) * 576 + i * 24 + j] *
                                     lrintf(X[(NB + b) * PIX + (i + u) * 28 + j + w] * 255.0f);
                    ok &= s == v.g[f * 25 + u * 5 + w];
                }
        CHECK(ok);
    }
    henn_cryptonn_lenet_free(enc);
    henn_cryptonn_lenet_free(twin);

    /* loud failures */
    {
        henn_cryptonn_lenet *L = NULL;
        float Xbad[PIX];
        memcpy(Xbad, X, sizeof Xbad);
        Xbad[5] = 1.5f;
        CHECK_OK(henn_cryptonn_lenet_new(&L, &m, &o, &p, 0, 1, 0));
        CHECK_RC(henn_cryptonn_lenet_step(L, Xbad, y, 1, NULL), HENN_ERANGE);
        CHECK_RC(henn_cryptonn_lenet_step(L, X, y, NB + 1, NULL), HENN_EINVAL);
        CHECK_RC(henn_cryptonn_lenet_step(L, X, y, 0, NULL), HENN_EINVAL);
        henn_cryptonn_lenet_free(L);
        m.layer[0].W[3] = 100.0f; /* 100 x 2^10 > 2^14 */
        CHECK_OK(henn_cryptonn_lenet_new(&L, &m, &o, &p, 0, 1, 0));
        CHECK_RC(henn_cryptonn_lenet_step(L, X, y, NB, NULL), HENN_ERANGE);
        henn_cryptonn_lenet_free(L);
        henn_cryptonn_params q = p;
        q.d_bits = 24; /* bound 4 x 576 x 255 x 2^24 >= 2^40 */
        CHECK_RC(henn_cryptonn_lenet_new(&L, &m, &o, &q, 0, 1, 0), HENN_EINVAL);
        CHECK(L == NULL);
        q = p;
        q.in_dim = 100;
        CHECK_RC(henn_cryptonn_lenet_new(&L, &m, &o, &q, 0, 1, 0), HENN_EINVAL);
    }
    henn_cnn_model_clear(&m);
    free(X);
}

/* ---- messages: the parties apart, malformed and lying messages ---- */

/* a transport that forwards to the authority and then tampers with the
 * response of one request type */
typedef struct {
    henn_cryptonn_authority *a;
    int type;   /* request type to tamper with (0: none) */
    int how;    /* 1 swap the first two keys, 2 drop the last byte, 3 count + 1,
                 * 4 FEBO key for another y */
    size_t hits;
} liar;

static int liar_fn(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len)
{
    liar *l = ctx;
    int rc = henn_cryptonn_authority_handle(l->a, req, req_len, resp, resp_len);
    if (rc != 0 || req_len < HENN__CN_HEADER || req[4] != l->type ||
        henn__cn_error_code(*resp, *resp_len) != 0)
        return rc;
    l->hits++;
    uint8_t *k = *resp + HENN__CN_HEADER + 4; /* the first key */
    if (l->how == 1) {
        uint8_t t[HENN__CN_FK_BYTES];
        memcpy(t, k, sizeof t);
        memcpy(k, k + HENN__CN_FK_BYTES, sizeof t);
        memcpy(k + HENN__CN_FK_BYTES, t, sizeof t);
    } else if (l->how == 2) {
        (*resp_len)--;
        (*resp)[8]--; /* a consistent header, a short payload */
    } else if (l->how == 3) {
        (*resp)[HENN__CN_HEADER]++;
    } else if (l->how == 4) {
        k[6] ^= 1; /* the y of the first FEBO key ("HFBK" 01 | op | y i64 | point) */
    }
    return 0;
}

static int capture_fn(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    uint8_t **out = ctx;
    *out = malloc(req_len + sizeof(size_t));
    memcpy(*out, &req_len, sizeof(size_t));
    memcpy(*out + sizeof(size_t), req, req_len);
    return henn__cn_error(resp, resp_len, HENN_EINVAL);
}

static int conv_request(henn_cryptonn_authority *a, int kind, uint32_t nf, uint32_t second,
                        int64_t v, uint32_t img0, int truncate)
{
    henn__cn_w w;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0, nv = kind == 1 ? (size_t)nf * second * 576 : nf * 25u;
    int rc;
    henn__cn_w_start(&w, HENN__CN_KEYS_CONV);
    henn__cn_w_u8(&w, (uint8_t)kind);
    henn__cn_w_u32(&w, nf);
    if (kind == 1)
        henn__cn_w_u32(&w, second);
    for (size_t i = 0; i < nv; i++)
        henn__cn_w_u64(&w, (uint64_t)(i == 7 ? v : (int64_t)(i % 5) - 2));
    if (kind != 1) {
        henn__cn_w_u32(&w, second);
        for (uint32_t i = 0; i < second; i++)
            henn__cn_w_u32(&w, i == 0 ? img0 : i);
    }
    CHECK_OK(henn__cn_w_finish(&w, &req, &req_len));
    if (truncate) {
        req_len -= 3;
        req[8] = (uint8_t)(req[8] - 3);
    }
    CHECK_OK(henn_cryptonn_authority_handle(a, req, req_len, &resp, &resp_len));
    rc = henn__cn_error_code(resp, resp_len);
    if (rc == 0) {
        henn__cn_r r;
        int type;
        CHECK_OK(henn__cn_r_open(&r, &type, resp, resp_len));
        CHECK_EQ_INT(type, HENN__CN_KEYS_CONV_RESP);
        CHECK_EQ_INT(henn__cn_r_u32(&r), kind == 1 ? nf * 25u : second * nf * 576u);
    }
    free(req);
    free(resp);
    return rc;
}

static void test_lenet_messages(void)
{
    float *X = malloc(NB * PIX * sizeof(float));
    uint8_t y[NB], *msg = NULL;
    henn_cnn_model m;
    henn_nn_opts o;
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_client *c = NULL;
    henn_cryptonn_lenet *srv = NULL, *twin = NULL;
    henn_transport ta, tl, ts, cap;
    liar lie;
    double loss = 0, l2 = 0;
    int src = 0;
    CHECK(X != NULL);
    make_data(X, y, NB);
    params(&p);
    p.layout = HENN_CRYPTONN_LAYOUT_BATCH;
    henn_cnn_opts_default(&o);
    CHECK_OK(henn_cnn_model_init_lenet5(&m, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, 3));
    CHECK_OK(henn_cryptonn_authority_new(&a, &p));
    henn_cryptonn_authority_set_threads(a, 2);
    henn_transport_to_cryptonn_authority(&ta, a);
    memset(&lie, 0, sizeof lie);
    lie.a = a;
    memset(&tl, 0, sizeof tl);
    tl.call = liar_fn;
    tl.ctx = &lie;
    CHECK_OK(henn_cryptonn_client_new(&c, &ta, 2));
    CHECK_OK(henn_cryptonn_lenet_server_new(&srv, &m, &o, &tl, (uint64_t)1 << 16, 2));
    CHECK_OK(henn_cryptonn_lenet_new(&twin, &m, &o, &p, 0, 1, 0));
    henn_transport_to_cryptonn_lenet(&ts, srv);
    /* the parties apart: one honest batch equals the twin */
    CHECK_OK(henn_cryptonn_client_send_batch(c, &ts, X, y, NB, &loss, &src));
    CHECK_OK(henn_cryptonn_lenet_step(twin, X, y, NB, &l2));
    CHECK(loss == l2 && loss > 0);
    CHECK(models_equal(henn_cryptonn_lenet_model(srv), henn_cryptonn_lenet_model(twin)));
    /* a server alone is driven by messages, not by step */
    CHECK_RC(henn_cryptonn_lenet_step(srv, X, y, NB, NULL), HENN_EINVAL);

    /* authority: KEYS_CONV refusals */
    CHECK_OK(conv_request(a, 0, 6, NB, 5, 0, 0));
    CHECK_OK(conv_request(a, 1, 6, NB, -5, 0, 0));
    CHECK_RC(conv_request(a, 0, 6, NB, ((int64_t)1 << p.w_bits) + 1, 0, 0), HENN_ERANGE);
    CHECK_RC(conv_request(a, 1, 6, NB, -((int64_t)1 << p.d_bits) - 1, 0, 0), HENN_ERANGE);
    CHECK_RC(conv_request(a, 0, 6, NB + 1, 5, 0, 0), HENN_EINVAL); /* more images than the batch */
    CHECK_RC(conv_request(a, 0, 6, 2, 5, 1, 0), HENN_EINVAL);      /* images not increasing */
    CHECK_RC(conv_request(a, 0, 6, 1, 5, NB, 0), HENN_EINVAL);     /* no image NB */
    CHECK_RC(conv_request(a, 0, 0, 1, 5, 0, 0), HENN_EINVAL);      /* no filter */
    CHECK_RC(conv_request(a, 1, 6, 0, 5, 0, 0), HENN_EINVAL);      /* no rows */
    CHECK_RC(conv_request(a, 1, 6, NB + 1, 5, 0, 0), HENN_EINVAL); /* rows beyond the batch */
    CHECK_RC(conv_request(a, 2, 6, 1, 5, 0, 0), HENN_EFORMAT);     /* no such kind */
    CHECK_RC(conv_request(a, 0, 6, NB, 5, 0, 1), HENN_EFORMAT);    /* truncated */
    CHECK_RC(conv_request(a, 1, 6, NB, 5, 0, 1), HENN_EFORMAT);
    {
        /* an authority of the paper's layout, or of non-square inputs, has no
         * convolution keys; a LeNet server refuses its parameters */
        henn_cryptonn_authority *a2 = NULL;
        henn_cryptonn_lenet *s2 = NULL;
        henn_transport t2;
        henn_cryptonn_params q = p;
        q.layout = HENN_CRYPTONN_LAYOUT_SAMPLE;
        CHECK_OK(henn_cryptonn_authority_new(&a2, &q));
        CHECK_RC(conv_request(a2, 0, 6, 1, 5, 0, 0), HENN_EINVAL);
        henn_transport_to_cryptonn_authority(&t2, a2);
        CHECK_RC(henn_cryptonn_lenet_server_new(&s2, &m, &o, &t2, 1024, 1), HENN_EINVAL);
        CHECK(s2 == NULL);
        henn_cryptonn_authority_free(a2);
        q = p;
        q.in_dim = 780;
        CHECK_OK(henn_cryptonn_authority_new(&a2, &q));
        CHECK_RC(conv_request(a2, 0, 6, 1, 5, 0, 0), HENN_EINVAL);
        henn_transport_to_cryptonn_authority(&t2, a2);
        CHECK_RC(henn_cryptonn_lenet_server_new(&s2, &m, &o, &t2, 1024, 1), HENN_EINVAL);
        henn_cryptonn_authority_free(a2);
    }

    /* server: a captured honest BATCH, truncated, corrupted, retyped */
    memset(&cap, 0, sizeof cap);
    cap.call = capture_fn;
    cap.ctx = &msg;
    CHECK_RC(henn_cryptonn_client_send_batch(c, &cap, X, y, NB, NULL, NULL), HENN_EPROTO);
    CHECK(msg != NULL);
    {
        size_t len, rl;
        uint8_t *req = msg + sizeof(size_t), *resp = NULL;
        memcpy(&len, msg, sizeof len);
        for (size_t i = 0; i < len; i += len / 11 + 1) {
            CHECK_OK(henn_cryptonn_lenet_handle(srv, req, i, &resp, &rl));
            CHECK_RC(henn__cn_error_code(resp, rl), HENN_EFORMAT);
            free(resp);
        }
        req[HENN__CN_HEADER + 4 + 9 + 32 + 31] |= 0x80; /* never canonical */
        CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
        CHECK_RC(henn__cn_error_code(resp, rl), HENN_EFORMAT);
        free(resp);
        req[HENN__CN_HEADER + 4 + 9 + 32 + 31] &= 0x7f;
        req[HENN__CN_HEADER] = NB + 1; /* rows beyond the batch */
        CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
        CHECK_RC(henn__cn_error_code(resp, rl), HENN_EINVAL);
        free(resp);
        req[HENN__CN_HEADER] = NB;
        req[4] = HENN__CN_KEYS_CONV; /* not a BATCH */
        CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
        CHECK_RC(henn__cn_error_code(resp, rl), HENN_EFORMAT);
        free(resp);
        req[4] = HENN__CN_BATCH;
        /* a lying client: the label of image 0 is not one-hot (its class
         * y[0] + 1 encrypted as 2^fl too) */
        {
            henn_cryptonn_params q;
            henn_feip_mpk mk[3];
            henn_febo_mpk bo;
            henn_febo_ct bc;
            size_t at = HENN__CN_HEADER + 4 + henn__cn_ct_bytes((size_t)NB * PIX) +
                        ((size_t)(y[0] + 1) % 10) * HENN_FEBO_CT_BYTES;
            uint8_t save[HENN_FEBO_CT_BYTES];
            CHECK_OK(henn__cn_fetch_mpk(&ta, &q, mk, &bo));
            CHECK_OK(henn_febo_encrypt(&bc, &bo, (int64_t)1 << p.fl));
            memcpy(save, req + at, sizeof save);
            henn_febo_ct_serialize(req + at, &bc);
            CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
            CHECK_RC(henn__cn_error_code(resp, rl), HENN_EPROTO);
            free(resp);
            memcpy(req + at, save, sizeof save);
            for (int i = 0; i < 3; i++)
                henn_feip_mpk_clear(&mk[i]);
        }
        /* a lying authority: swapped patch keys (another support), a short
         * response, a wrong count, a FEBO key for another prediction */
        int hows[4] = {1, 2, 3, 4}, types[4] = {HENN__CN_KEYS_CONV, HENN__CN_KEYS_CONV,
                                                HENN__CN_KEYS_CONV, HENN__CN_KEYS_BO};
        int want[4] = {HENN_ERANGE, HENN_EFORMAT, HENN_EFORMAT, HENN_EFORMAT};
        for (int t = 0; t < 4; t++) {
            lie.type = types[t];
            lie.how = hows[t];
            lie.hits = 0;
            CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
            CHECK_RC(henn__cn_error_code(resp, rl), want[t]);
            CHECK(lie.hits == 1);
            free(resp);
        }
        lie.type = 0;
        /* and honest again: the model moved only on accepted batches */
        CHECK_OK(henn_cryptonn_lenet_handle(srv, req, len, &resp, &rl));
        CHECK_EQ_INT(henn__cn_error_code(resp, rl), 0);
        free(resp);
        CHECK_OK(henn_cryptonn_lenet_step(twin, X, y, NB, NULL));
        CHECK(models_equal(henn_cryptonn_lenet_model(srv), henn_cryptonn_lenet_model(twin)));
    }
    free(msg);
    henn_cryptonn_lenet_free(srv);
    henn_cryptonn_lenet_free(twin);
    henn_cryptonn_client_free(c);
    henn_cryptonn_authority_free(a);
    henn_cnn_model_clear(&m);
    free(X);
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    test_idx_support();
    test_lenet_twin_and_leakage();
    test_lenet_messages();
    return test_report("test_cryptonn_lenet");
}
