/*
 * CryptoNN LeNet-5 with the encrypted first convolution
 * (src/protocol/cryptonn_lenet.c) and FEIP keys on index-list supports:
 * the encrypted run equals its fixed-point twin bit for bit, no inner
 * product leaves the stated bound, a weight beyond 2^w_bits stops the run,
 * and the server's view (conv1 outputs) determines each image exactly.
 */
#include "../test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "henn/cryptonn.h"

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
    CHECK_OK(henn_cryptonn_lenet_new(&enc, &m, &o, &p, (uint64_t)1 << 18, 2, 1));
    CHECK_OK(henn_cryptonn_lenet_new(&twin, &m, &o, &p, 0, 1, 0));
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
        CHECK(v1.fd == v2.fd);
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

int main(void)
{
    if (henn_init() != 0)
        return 1;
    test_idx_support();
    test_lenet_twin_and_leakage();
    return test_report("test_cryptonn_lenet");
}
