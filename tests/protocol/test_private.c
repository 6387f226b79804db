/* Private training (henn/protocol.h, "Private training"): the model
 * matches a plaintext twin, the trainer's whole view holds no per-row
 * value and no label, the one-row reconstruction that works on a single
 * row's gradient fails on the batch sums, batches under dim + 1 rows are
 * refused on both sides, the owner decrypts exactly the honest count, and
 * malformed or out-of-order messages are refused. Keys under 2048 bits
 * through the test hooks only. */
#include "../test.h"

#include <math.h>
#include <string.h>

#include "henn/henn.h"
#include "protocol/kdd_private.h"
#include "../private_rows.h"

void henn__private_trainer_allow_insecure(henn_private_trainer *t);

static henn_paillier_pk PK;
static henn_paillier_sk SK;

#define ROWS 100
#define DIM 6
#define HID 5
#define CLS 3
#define BATCH 16

static float X[ROWS * DIM];
static uint8_t Y[ROWS];

/* Recording transport: every request the trainer receives, a PSTEP as
 * its two parts (a PGRAD and a layer-0 INFER, after checking that the
 * PSTEP holds those two whole messages and nothing else). */
typedef struct rec {
    henn_transport inner;
    uint8_t *msg[4096];
    size_t len[4096], n, steps;
} rec;

static void rec_add(rec *r, const uint8_t *m, size_t len)
{
    if (r->n < 4096) {
        r->msg[r->n] = malloc(len);
        memcpy(r->msg[r->n], m, len);
        r->len[r->n++] = len;
    }
}

static int rec_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    rec *r = ctx;
    if (henn_msg_type(req, req_len) == HENN_MSG_PSTEP) {
        size_t g = private_be32(req + 12);
        CHECK(req_len >= 16 && g <= req_len - 16);
        CHECK_EQ_INT(henn_msg_type(req + 16, g), HENN_MSG_PGRAD);
        CHECK_EQ_INT(henn_msg_type(req + 16 + g, req_len - 16 - g), HENN_MSG_INFER);
        CHECK_EQ_INT(req[16 + g + 12 + 24 + 3], 0); /* layer 0 */
        rec_add(r, req + 16, g);
        rec_add(r, req + 16 + g, req_len - 16 - g);
        r->steps++;
    } else {
        rec_add(r, req, req_len);
    }
    return r->inner.call(r->inner.ctx, req, req_len, resp, resp_len);
}

static void rec_free(rec *r)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        free(r->msg[i]);
    r->n = 0;
    r->steps = 0;
}

static void make_data(void)
{
    private_rows(X, Y, ROWS, DIM, 12345UL);
}

static void params_slots(henn_proto_params *p, size_t slots)
{
    CHECK_OK(henn_proto_params_default(p, DIM, 0, mpz_sizeinbase(PK.n, 2)));
    p->slots = (uint32_t)slots;
    CHECK_OK(henn_proto_params_check(p, DIM, mpz_sizeinbase(PK.n, 2)));
}

static void params(henn_proto_params *p)
{
    private_params(p, &PK, DIM, BATCH);
}

static void make_model(henn_nn_model *m, henn_nn_opts *nn)
{
    size_t dims[3] = {DIM, HID, CLS};
    CHECK_OK(henn_nn_model_init(m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(nn);
    nn->lr = 0.05f;
    nn->max_rows = BATCH;
}

static int mem_has(const uint8_t *h, size_t hl, const void *n, size_t nl)
{
    size_t i;
    for (i = 0; i + nl <= hl; i++)
        if (memcmp(h + i, n, nl) == 0)
            return 1;
    return 0;
}

static double nearest_row(const double *x)
{
    double best = 1e300;
    size_t i, j;
    for (i = 0; i < ROWS; i++) {
        double d = 0.0;
        for (j = 0; j < DIM; j++)
            d = fmax(d, fabs(x[j] - X[i * DIM + j]));
        best = d < best ? d : best;
    }
    return best;
}

/* Private training with batches of `batch` rows packed `slots` rows per
 * ciphertext (batch > slots: several chunks per feature, one gradient per
 * batch): the honest decryption count, the twin, the trainer's view. */
static void test_train_view_attack(size_t slots, size_t batch)
{
    henn_nn_model m, twin;
    henn_nn_opts nn;
    henn_nn_trainer *nt = NULL;
    henn_private_trainer *t = NULL;
    henn_proto_params p;
    henn_proto_stats st;
    henn_transport tt;
    static rec r;
    size_t order[ROWS], e, b, i, j, l, grads = 0, infers = 0;
    size_t nbatches = ROWS / batch + (ROWS % batch >= DIM + 1);
    size_t K = (batch + slots - 1) / slots, width = 2 * ((mpz_sizeinbase(PK.n, 2) + 7) / 8);
    uint64_t want, steps;
    double maxdiff = 0.0, worst_attack = 1e300;
    float Xb[BATCH * DIM];
    uint8_t yb[BATCH];
    const size_t epochs = 3;

    CHECK(ROWS % batch < DIM + 1); /* the counts below: whole batches only */
    params_slots(&p, slots);
    make_model(&m, &nn);
    CHECK_OK(henn_private_trainer_new(&t, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(t);
    henn_transport_to_private_trainer(&r.inner, t);
    memset(&tt, 0, sizeof(tt));
    tt.call = rec_call;
    tt.ctx = &r;
    CHECK_OK(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS, batch, epochs, 99, NULL, NULL,
                                      NULL, &st));
    /* The honest decryption count, and exactly that. */
    CHECK_OK(henn_private_training_decryptions(&want, m.dims, 2, ROWS, batch, slots, epochs));
    CHECK_EQ_INT(st.decryptions, want);
    /* 16/16: 6 x 16, the tail of 4 < 7 sits out; 4/14: 7 x 14 in 4 chunks */
    CHECK_EQ_INT(want, (uint64_t)epochs * nbatches * K * (HID + CLS));
    henn_private_trainer_stats(&st, &steps, t);
    CHECK_EQ_INT(steps, (uint64_t)epochs * nbatches);

    /* Plaintext twin on the same batches. */
    CHECK_OK(henn_nn_model_copy(&twin, &m));
    CHECK_OK(henn_nn_trainer_new(&nt, &twin, &nn));
    for (e = 0; e < epochs; e++) {
        CHECK_OK(henn_nn_batch_order(order, ROWS, 99 + e));
        for (b = 0; b + 7 <= ROWS; b += batch) {
            size_t c = ROWS - b < batch ? ROWS - b : batch;
            for (i = 0; i < c; i++) {
                memcpy(Xb + i * DIM, X + order[b + i] * DIM, DIM * sizeof(float));
                yb[i] = Y[order[b + i]];
            }
            CHECK_OK(henn_nn_train_batch(nt, Xb, yb, c, NULL));
        }
    }
    for (l = 0; l < 2; l++) {
        const henn_nn_model *em = henn_private_trainer_model(t);
        for (i = 0; i < twin.dims[l + 1] * twin.dims[l]; i++)
            maxdiff = fmax(maxdiff, fabs((double)em->W[l][i] - twin.W[l][i]));
        for (i = 0; i < twin.dims[l + 1]; i++)
            maxdiff = fmax(maxdiff, fabs((double)em->b[l][i] - twin.b[l][i]));
        for (i = 0; i < twin.dims[l + 1] * twin.dims[l]; i++)
            CHECK(em->W[l][i] != m.W[l][i]); /* it trained */
    }
    printf("private vs plaintext twin (slots %zu, batch %zu): max weight difference %.3g after "
           "%zu epochs\n",
           slots, batch, maxdiff, epochs);
    CHECK(maxdiff < 5e-3);
    /* The library's twin replays the same batches (bit for bit). */
    {
        henn_nn_model tw2;
        henn_nn_trainer *nt2 = NULL;
        CHECK_OK(henn_nn_model_copy(&tw2, &m));
        CHECK_OK(henn_nn_trainer_new(&nt2, &tw2, &nn));
        CHECK_OK(henn_private_train_plain(nt2, X, Y, ROWS, DIM, batch, epochs, 99, NULL));
        for (l = 0; l < 2; l++)
            CHECK(memcmp(tw2.W[l], twin.W[l], twin.dims[l + 1] * twin.dims[l] * sizeof(float)) ==
                  0);
        CHECK_RC(henn_private_train_plain(nt2, X, Y, ROWS, DIM, DIM, 1, 99, NULL), HENN_EINVAL);
        henn_nn_trainer_free(nt2);
        henn_nn_model_clear(&tw2);
    }

    /* The trainer's whole view. */
    for (j = 0; j < r.n; j++) {
        int type = henn_msg_type(r.msg[j], r.len[j]);
        size_t count;
        CHECK(type == HENN_MSG_PSETUP || type == HENN_MSG_INFER || type == HENN_MSG_PGRAD);
        if (type == HENN_MSG_INFER) {
            henn__rbuf rb;
            henn_proto_params q;
            int ty;
            size_t rows_in;
            CHECK_OK(henn__rbuf_open(&rb, &ty, r.msg[j], r.len[j]));
            henn__params_read(&rb, &q);
            (void)henn__rbuf_u32(&rb);
            rows_in = henn__rbuf_u32(&rb);
            count = henn__rbuf_u32(&rb);
            CHECK(count == DIM || count == HID);
            CHECK_EQ_INT(rows_in, batch);
            /* header + params + 3 u32 + K chunks of ciphertexts, nothing else */
            CHECK_EQ_INT(r.len[j], 12 + 24 + 12 + K * count * width);
            if (K == 1) {
                size_t cts;
                CHECK_OK(henn_msg_ciphertexts(&cts, &PK, r.msg[j], r.len[j]));
                CHECK_EQ_INT(cts, count);
            }
            infers++;
        } else if (type == HENN_MSG_PGRAD) {
            henn__rbuf rb;
            int ty;
            size_t c, h;
            double g[HID * DIM + HID];
            CHECK_EQ_INT(r.len[j], 12 + 8 + 8 * (HID * DIM + HID + CLS * HID + CLS));
            CHECK_OK(henn__rbuf_open(&rb, &ty, r.msg[j], r.len[j]));
            c = henn__rbuf_u32(&rb);
            CHECK(c >= DIM + 1);
            CHECK_EQ_INT(c, batch); /* one gradient per batch, whatever its chunks */
            (void)henn__rbuf_u32(&rb);
            for (i = 0; i < HID * DIM + HID; i++)
                g[i] = henn__rbuf_f64(&rb);
            /* The one-row attack x = dW1[h] / db1[h] on the batch sums. */
            for (h = 0; h < HID; h++) {
                double x[DIM];
                for (i = 0; i < DIM; i++)
                    x[i] = g[h * DIM + i] / g[HID * DIM + h];
                worst_attack = fmin(worst_attack, nearest_row(x));
            }
            grads++;
        }
        /* No feature value (as float or double) and no label sequence. */
        for (i = 0; i < ROWS; i++) {
            double dv = X[i * DIM];
            CHECK(!mem_has(r.msg[j], r.len[j], &X[i * DIM], 4 * 2));
            CHECK(!mem_has(r.msg[j], r.len[j], &dv, 8));
        }
        CHECK(!mem_has(r.msg[j], r.len[j], Y, 16));
    }
    CHECK_EQ_INT(grads, epochs * nbatches);
    CHECK_EQ_INT(infers, epochs * nbatches * 2);
    /* Every batch but an epoch's last sends its gradient with the next
     * batch's layer-0 INFER. */
    CHECK_EQ_INT(r.steps, epochs * (nbatches - 1));
    printf("one-row attack on batch sums: nearest training row at >= %.3g (max-abs)\n",
           worst_attack);
    CHECK(worst_attack > 0.02);

    /* Control: the same attack on one row's gradient is exact. */
    {
        double a0[DIM], a1[HID], z0[HID], z1[CLS], gw0[HID * DIM], gb0[HID], gw1[CLS * HID],
            gb1[CLS];
        double *A[2] = {a0, a1}, *Z[2] = {z0, z1}, *GW[2] = {gw0, gw1}, *GB[2] = {gb0, gb1};
        size_t h;
        for (i = 0; i < DIM; i++)
            a0[i] = X[5 * DIM + i];
        for (h = 0; h < HID; h++) {
            z0[h] = m.b[0][h];
            for (i = 0; i < DIM; i++)
                z0[h] += m.W[0][h * DIM + i] * a0[i];
            a1[h] = henn__private_act(HENN_NN_SIGMOID, z0[h]);
        }
        for (h = 0; h < CLS; h++) {
            z1[h] = m.b[1][h];
            for (i = 0; i < HID; i++)
                z1[h] += m.W[1][h * HID + i] * a1[i];
        }
        CHECK_OK(henn__private_grad(GW, GB, NULL, &m, (const double *const *)A,
                                    (const double *const *)Z, &Y[5], 1));
        for (h = 0; h < HID; h++) {
            double x[DIM];
            for (i = 0; i < DIM; i++)
                x[i] = gw0[h * DIM + i] / gb0[h];
            CHECK(nearest_row(x) < 1e-9);
        }
    }
    rec_free(&r);
    henn_nn_trainer_free(nt);
    henn_nn_model_clear(&twin);
    henn_nn_model_clear(&m);
    henn_private_trainer_free(t);
}

static int call_raw(henn_private_trainer *t, const uint8_t *req, size_t len)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc;
    CHECK_OK(henn_private_trainer_handle(t, req, len, &resp, &resp_len));
    rc = henn__msg_error_code(resp, resp_len);
    free(resp);
    return rc;
}

/* A PSETUP of PK with p and the widths dim, classes. */
static void psetup_msg(uint8_t **out, size_t *out_len, const henn_proto_params *p, size_t dim,
                       size_t classes)
{
    size_t nb = (mpz_sizeinbase(PK.n, 2) + 7) / 8;
    henn__wbuf w;
    henn__wbuf_start(&w, HENN_MSG_PSETUP);
    henn__wbuf_u32(&w, (uint32_t)nb);
    henn__wbuf_mpz(&w, PK.n, nb);
    henn__params_write(&w, p);
    henn__wbuf_u32(&w, (uint32_t)dim);
    henn__wbuf_u32(&w, (uint32_t)classes);
    CHECK_OK(henn__wbuf_finish(&w, out, out_len));
}

static void test_refusals(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_private_trainer *t = NULL;
    henn_proto_params p;
    henn_transport tt;
    henn__wbuf w;
    uint8_t *req;
    size_t len, nb = (mpz_sizeinbase(PK.n, 2) + 7) / 8, i;
    uint64_t cnt;
    size_t dims[3] = {DIM, HID, CLS};

    params(&p);
    make_model(&m, &nn);
    CHECK_OK(henn_private_trainer_new(&t, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(t);
    henn_transport_to_private_trainer(&tt, t);
    /* The owner refuses batches under dim + 1 rows (a batch of dim rows,
     * in one chunk or several), and too few rows. */
    CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS, DIM, 1, 1, NULL, NULL,
                                      NULL, NULL),
             HENN_EINVAL);
    CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, DIM, DIM, CLS, BATCH, 1, 1, NULL, NULL, NULL,
                                      NULL),
             HENN_EINVAL);
    CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, 2, BATCH, 1, 1, NULL, NULL, NULL,
                                      NULL),
             HENN_EINVAL); /* a label >= classes */
    CHECK_RC(henn_private_training_decryptions(&cnt, dims, 2, ROWS, DIM, BATCH, 1), HENN_EINVAL);
    CHECK_EQ_INT(henn_private_min_batch(DIM), DIM + 1);
    /* The trainer refuses a PSETUP of another input or class width. */
    for (i = 0; i < 3; i++) {
        psetup_msg(&req, &len, &p, i == 1 ? DIM + 1 : DIM, i == 0 ? CLS + 1 : CLS);
        CHECK_RC(call_raw(t, req, len), i == 2 ? 0 : HENN_EINVAL);
        CHECK_RC(call_raw(t, req, len - 1), i == 2 ? HENN_EFORMAT : HENN_EFORMAT);
        free(req);
    }
    /* A PGRAD before any forward pass, for fewer rows, or not finite. */
    for (i = 0; i < 3; i++) {
        size_t k, n = HID * DIM + HID + CLS * HID + CLS;
        henn__wbuf_start(&w, HENN_MSG_PGRAD);
        henn__wbuf_u32(&w, i == 1 ? 1 : BATCH);
        henn__wbuf_u32(&w, 2);
        for (k = 0; k < n; k++)
            henn__wbuf_f64(&w, i == 2 && k == 3 ? NAN : 0.5);
        CHECK_OK(henn__wbuf_finish(&w, &req, &len));
        CHECK_RC(call_raw(t, req, len), i == 1 ? HENN_EINVAL : HENN_EPROTO);
        CHECK_RC(call_raw(t, req, len - 8), HENN_EFORMAT);
        free(req);
    }
    /* An INFER for layer 1 first, and one for too few rows. */
    {
        henn_paillier_ct ct;
        henn_paillier_pt pt;
        size_t layer, k;
        henn_paillier_ct_init(&ct);
        henn_paillier_pt_init(&pt);
        CHECK_OK(henn_paillier_encrypt(&ct, &PK, &pt));
        for (layer = 0; layer < 2; layer++) {
            size_t in = layer == 0 ? DIM : HID;
            henn__wbuf_start(&w, HENN_MSG_INFER);
            henn__params_write(&w, &p);
            henn__wbuf_u32(&w, (uint32_t)layer);
            henn__wbuf_u32(&w, layer == 0 ? DIM : BATCH);
            henn__wbuf_u32(&w, (uint32_t)in);
            for (k = 0; k < in; k++)
                henn__wbuf_mpz(&w, ct.c, 2 * nb);
            CHECK_OK(henn__wbuf_finish(&w, &req, &len));
            CHECK_RC(call_raw(t, req, len), layer == 0 ? HENN_EINVAL : HENN_EPROTO);
            free(req);
        }
        henn_paillier_ct_clear(&ct);
        henn_paillier_pt_clear(&pt);
    }
    CHECK_RC(call_raw(t, (const uint8_t *)"HNP\x01\x0d\0\0\0\0\0\0\0", 12), HENN_EFORMAT);
    henn_private_trainer_free(t);

    /* Batches that span several ciphertexts (4 rows each): a batch of dim
     * rows is still refused by the owner and, in two chunks (4 + 2), by the
     * trainer; the chunk count must match the row count; a batch of
     * dim + 1 rows (4 + 3) is served, chunk by chunk, and its PGRAD must
     * carry the same count. */
    params_slots(&p, 4);
    CHECK_OK(henn_private_trainer_new(&t, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(t);
    henn_transport_to_private_trainer(&tt, t);
    CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS, DIM, 1, 1, NULL, NULL,
                                      NULL, NULL),
             HENN_EINVAL);
    CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS,
                                      HENN_PRIVATE_MAX_BATCH + 1, 1, 1, NULL, NULL, NULL, NULL),
             HENN_EINVAL);
    CHECK_RC(henn_private_training_decryptions(&cnt, dims, 2, ROWS, DIM, 4, 1), HENN_EINVAL);
    CHECK_RC(henn_private_training_decryptions(&cnt, dims, 2, ROWS, BATCH, 0, 1), HENN_EINVAL);
    /* 100 rows, batch 15 in 4 chunks: 6 batches (24 chunks) + a tail of 10 in 3 chunks */
    CHECK_OK(henn_private_training_decryptions(&cnt, dims, 2, ROWS, 15, 4, 2));
    CHECK_EQ_INT(cnt, 2 * (6 * 4 + 3) * (HID + CLS));
    CHECK_OK(henn_private_training_decryptions(&cnt, dims, 2, 9, 15, 4, 1)); /* one batch of 9 */
    CHECK_EQ_INT(cnt, 3 * (HID + CLS));
    psetup_msg(&req, &len, &p, DIM, CLS);
    CHECK_RC(call_raw(t, req, len), 0);
    free(req);
    {
        henn_paillier_ct ct;
        henn_paillier_pt pt;
        size_t k, v;
        /* rows, chunks sent, expected: dim rows in 2 chunks; 7 rows with
         * 1, 3 and 2 chunks; 2^20 + 1 rows */
        const size_t cases[5][3] = {{DIM, 2, (size_t)-HENN_EINVAL},
                                    {DIM + 1, 1, (size_t)-HENN_EFORMAT},
                                    {DIM + 1, 3, (size_t)-HENN_EFORMAT},
                                    {HENN_PRIVATE_MAX_BATCH + 1, 2, (size_t)-HENN_EINVAL},
                                    {DIM + 1, 2, 0}};
        henn_paillier_ct_init(&ct);
        henn_paillier_pt_init(&pt);
        CHECK_OK(henn_paillier_encrypt(&ct, &PK, &pt));
        for (v = 0; v < 5; v++) {
            henn__wbuf_start(&w, HENN_MSG_INFER);
            henn__params_write(&w, &p);
            henn__wbuf_u32(&w, 0);
            henn__wbuf_u32(&w, (uint32_t)cases[v][0]);
            henn__wbuf_u32(&w, DIM);
            for (k = 0; k < cases[v][1] * DIM; k++)
                henn__wbuf_mpz(&w, ct.c, 2 * nb);
            CHECK_OK(henn__wbuf_finish(&w, &req, &len));
            CHECK_RC(call_raw(t, req, len), -(int)cases[v][2]);
            free(req);
        }
        /* Layer 1 of the same 7 rows (2 chunks), then a PGRAD for dim rows
         * (refused) and one for 7 (the step). */
        henn__wbuf_start(&w, HENN_MSG_INFER);
        henn__params_write(&w, &p);
        henn__wbuf_u32(&w, 1);
        henn__wbuf_u32(&w, DIM + 1);
        henn__wbuf_u32(&w, HID);
        for (k = 0; k < 2 * HID; k++)
            henn__wbuf_mpz(&w, ct.c, 2 * nb);
        CHECK_OK(henn__wbuf_finish(&w, &req, &len));
        {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            CHECK_OK(henn_private_trainer_handle(t, req, len, &resp, &resp_len));
            CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_CIPHER);
            /* header + 4 u32 + 2 chunks of CLS ciphertexts */
            CHECK_EQ_INT(resp_len, 12 + 16 + 2 * CLS * 2 * nb);
            free(resp);
        }
        free(req);
        for (v = 0; v < 2; v++) {
            size_t n = HID * DIM + HID + CLS * HID + CLS;
            uint64_t steps;
            henn_proto_stats st;
            henn__wbuf_start(&w, HENN_MSG_PGRAD);
            henn__wbuf_u32(&w, v == 0 ? DIM : DIM + 1);
            henn__wbuf_u32(&w, 2);
            for (k = 0; k < n; k++)
                henn__wbuf_f64(&w, 0.01);
            CHECK_OK(henn__wbuf_finish(&w, &req, &len));
            CHECK_RC(call_raw(t, req, len), v == 0 ? HENN_EINVAL : 0);
            free(req);
            henn_private_trainer_stats(&st, &steps, t);
            CHECK_EQ_INT(steps, v);
        }
        henn_paillier_ct_clear(&ct);
        henn_paillier_pt_clear(&pt);
    }
    henn_nn_model_clear(&m);
    henn_private_trainer_free(t);
}

/* PSTEP against the two messages one by one: a twin trainer gets every
 * PSTEP as its PGRAD and then its INFER; the PSTEPR the owner got must be
 * u32 m, the twin's PMODEL (m bytes) and the twin's CIPHER, byte for
 * byte, and every other response equal. */
typedef struct twin_tr {
    henn_private_trainer *one, *two;
    size_t steps, calls;
} twin_tr;

static int twin_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    twin_tr *tw = ctx;
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    int rc = henn_private_trainer_handle(tw->one, req, req_len, resp, resp_len);
    tw->calls++;
    if (rc != 0)
        return rc;
    if (henn_msg_type(req, req_len) == HENN_MSG_PSTEP) {
        size_t g = private_be32(req + 12);
        CHECK_OK(henn_private_trainer_handle(tw->two, req + 16, g, &a, &al));
        CHECK_OK(henn_private_trainer_handle(tw->two, req + 16 + g, req_len - 16 - g, &b, &bl));
        CHECK_EQ_INT(henn_msg_type(a, al), HENN_MSG_PMODEL);
        CHECK_EQ_INT(henn_msg_type(b, bl), HENN_MSG_CIPHER);
        CHECK_EQ_INT(henn_msg_type(*resp, *resp_len), HENN_MSG_PSTEPR);
        CHECK_EQ_INT(*resp_len, 16 + al + bl);
        if (*resp_len == 16 + al + bl) {
            CHECK_EQ_INT(private_be32(*resp + 12), al);
            CHECK(memcmp(*resp + 16, a, al) == 0);
            CHECK(memcmp(*resp + 16 + al, b, bl) == 0);
        }
        tw->steps++;
    } else {
        CHECK_OK(henn_private_trainer_handle(tw->two, req, req_len, &a, &al));
        CHECK(al == *resp_len && memcmp(a, *resp, al) == 0);
    }
    free(a);
    free(b);
    return 0;
}

/* A lying trainer on PSTEP: the honest answer, then changed by `mode`:
 * 1 a PMODEL instead of PSTEPR, 2 a PSTEPR whose model length runs past
 * its end, 3 a PSTEPR whose CIPHER claims layer 1, 4 a PSTEPR whose model
 * has one more hidden unit (the owner's buffers are sized by the first
 * model), 5 a PSTEPR with one byte of the CIPHER cut. */
typedef struct liar {
    henn_private_trainer *t;
    int mode;
} liar;

static int liar_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    liar *lr = ctx;
    int rc = henn_private_trainer_handle(lr->t, req, req_len, resp, resp_len);
    size_t m;
    uint8_t *r;
    if (rc != 0 || henn_msg_type(req, req_len) != HENN_MSG_PSTEP ||
        henn_msg_type(*resp, *resp_len) != HENN_MSG_PSTEPR)
        return rc;
    r = *resp;
    m = private_be32(r + 12);
    switch (lr->mode) {
    case 1: /* the PMODEL alone */
        memmove(r, r + 16, m);
        *resp_len = m;
        break;
    case 2: /* a model length past the end */
        r[12] = 0x7f;
        break;
    case 3: /* CIPHER: u32 layer = 1 */
        r[16 + m + 12 + 3] = 1;
        break;
    case 4: { /* a wider hidden layer, weights in range */
        henn_nn_model w;
        size_t dims[3] = {DIM, HID + 1, CLS};
        henn__wbuf wb;
        uint8_t *pm = NULL, *out = NULL;
        size_t pm_len = 0, out_len = 0;
        CHECK_OK(henn_nn_model_init(&w, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 3));
        henn__wbuf_start(&wb, HENN_MSG_PMODEL);
        henn__pmodel_write(&wb, &w, 1);
        CHECK_OK(henn__wbuf_finish(&wb, &pm, &pm_len));
        henn__wbuf_start(&wb, HENN_MSG_PSTEPR);
        henn__wbuf_u32(&wb, (uint32_t)pm_len);
        henn__wbuf_bytes(&wb, pm, pm_len);
        henn__wbuf_bytes(&wb, r + 16 + m, *resp_len - 16 - m);
        CHECK_OK(henn__wbuf_finish(&wb, &out, &out_len));
        free(r);
        free(pm);
        *resp = out;
        *resp_len = out_len;
        henn_nn_model_clear(&w);
        break;
    }
    case 5: { /* one byte short: the outer length says so */
        uint32_t plen = (uint32_t)(*resp_len - 13);
        r[8] = (uint8_t)(plen >> 24);
        r[9] = (uint8_t)(plen >> 16);
        r[10] = (uint8_t)(plen >> 8);
        r[11] = (uint8_t)plen;
        *resp_len -= 1;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* A PSTEP from its two parts (g: a whole PGRAD, i: a whole INFER). */
static void step_msg(uint8_t **out, size_t *out_len, const uint8_t *g, size_t gl,
                     const uint8_t *in, size_t il, uint32_t claim)
{
    henn__wbuf w;
    henn__wbuf_start(&w, HENN_MSG_PSTEP);
    henn__wbuf_u32(&w, claim);
    henn__wbuf_bytes(&w, g, gl);
    henn__wbuf_bytes(&w, in, il);
    CHECK_OK(henn__wbuf_finish(&w, out, out_len));
}

/* t's answer to the PSTEP of g and in with the length claim: its error
 * code (0 when served). */
static int step_call(henn_private_trainer *t, const uint8_t *g, size_t gl, const uint8_t *in,
                     size_t il, uint32_t claim)
{
    uint8_t *req = NULL;
    size_t len = 0;
    int rc;
    step_msg(&req, &len, g, gl, in, il, claim);
    rc = call_raw(t, req, len);
    free(req);
    return rc;
}

static void test_step(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_transport tt;
    twin_tr tw = {NULL, NULL, 0, 0};
    henn_proto_stats st;
    uint64_t steps;
    size_t l, mode, nb = (mpz_sizeinbase(PK.n, 2) + 7) / 8, k;
    const size_t rows = 64, batch = 16;
    uint64_t enc;

    /* 64 rows, batches of 16, 2 epochs: 3 PSTEPs per epoch. */
    params(&p);
    make_model(&m, &nn);
    CHECK_OK(henn_private_trainer_new(&tw.one, &m, &nn, NULL));
    CHECK_OK(henn_private_trainer_new(&tw.two, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(tw.one);
    henn__private_trainer_allow_insecure(tw.two);
    memset(&tt, 0, sizeof(tt));
    tt.call = twin_call;
    tt.ctx = &tw;
    CHECK_OK(henn_owner_train_private(&tt, &SK, &p, X, Y, rows, DIM, CLS, batch, 2, 5, NULL,
                                      NULL, NULL, &st));
    CHECK_EQ_INT(tw.steps, 2 * (rows / batch - 1));
    CHECK_EQ_INT(tw.calls, 1 + 2 * (2 * (rows / batch) + 1)); /* PSETUP, 9 per epoch */
    CHECK_EQ_INT(st.messages, tw.calls);
    /* every layer's input encrypted once per chunk: 8 batches x (6 + 5) */
    CHECK_EQ_INT(st.encryptions, 2 * (rows / batch) * (DIM + HID));
    enc = st.encryptions;
    henn_private_trainer_stats(&st, &steps, tw.one);
    CHECK_EQ_INT(steps, 2 * rows / batch);
    for (l = 0; l < 2; l++) {
        const henn_nn_model *a = henn_private_trainer_model(tw.one),
                            *b = henn_private_trainer_model(tw.two);
        CHECK(memcmp(a->W[l], b->W[l], a->dims[l + 1] * a->dims[l] * sizeof(float)) == 0);
        CHECK(memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) == 0);
    }
    /* One thread (the next batch's INFER built inline, not beside the
     * round trip): the same model. */
    {
        henn_private_trainer *t1 = NULL;
        henn_batch_opts one = {1, NULL, NULL};
        henn_proto_stats s1;
        CHECK_OK(henn_private_trainer_new(&t1, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(t1);
        henn_transport_to_private_trainer(&tt, t1);
        CHECK_OK(henn_owner_train_private(&tt, &SK, &p, X, Y, rows, DIM, CLS, batch, 2, 5, &one,
                                          NULL, NULL, &s1));
        CHECK_EQ_INT(s1.encryptions, enc);
        for (l = 0; l < 2; l++) {
            const henn_nn_model *a = henn_private_trainer_model(tw.one),
                                *b = henn_private_trainer_model(t1);
            CHECK(memcmp(a->W[l], b->W[l], a->dims[l + 1] * a->dims[l] * sizeof(float)) == 0);
            CHECK(memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) == 0);
        }
        henn_private_trainer_free(t1);
    }
    henn_private_trainer_free(tw.one);
    henn_private_trainer_free(tw.two);

    /* The owner refuses every lie in a PSTEPR, before it decrypts more
     * than the honest count. */
    for (mode = 1; mode <= 5; mode++) {
        liar lr = {NULL, (int)mode};
        CHECK_OK(henn_private_trainer_new(&lr.t, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(lr.t);
        tt.call = liar_call;
        tt.ctx = &lr;
        CHECK_RC(henn_owner_train_private(&tt, &SK, &p, X, Y, rows, DIM, CLS, batch, 1, 5, NULL,
                                          NULL, NULL, &st),
                 HENN_EPROTO);
        /* the first batch only (mode 3: refused at the next batch's layer
         * 0 before anything is decrypted) */
        CHECK_EQ_INT(st.decryptions, HID + CLS);
        henn_private_trainer_free(lr.t);
    }

    /* The trainer's refusals of a PSTEP. */
    {
        henn_private_trainer *t = NULL;
        henn_paillier_ct ct;
        henn_paillier_pt pt;
        henn__wbuf w;
        uint8_t *g = NULL, *i0 = NULL, *i1 = NULL, *req = NULL, *setup = NULL;
        size_t gl, i0l, i1l, len, setup_len;
        size_t n = HID * DIM + HID + CLS * HID + CLS;

        CHECK_OK(henn_private_trainer_new(&t, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(t);
        henn_paillier_ct_init(&ct);
        henn_paillier_pt_init(&pt);
        CHECK_OK(henn_paillier_encrypt(&ct, &PK, &pt));
        henn__wbuf_start(&w, HENN_MSG_PGRAD);
        henn__wbuf_u32(&w, BATCH);
        henn__wbuf_u32(&w, 2);
        for (k = 0; k < n; k++)
            henn__wbuf_f64(&w, 0.01);
        CHECK_OK(henn__wbuf_finish(&w, &g, &gl));
        for (l = 0; l < 2; l++) {
            size_t in = l == 0 ? DIM : HID;
            henn__wbuf_start(&w, HENN_MSG_INFER);
            henn__params_write(&w, &p);
            henn__wbuf_u32(&w, (uint32_t)l);
            henn__wbuf_u32(&w, BATCH);
            henn__wbuf_u32(&w, (uint32_t)in);
            for (k = 0; k < in; k++)
                henn__wbuf_mpz(&w, ct.c, 2 * nb);
            CHECK_OK(henn__wbuf_finish(&w, l == 0 ? &i0 : &i1, l == 0 ? &i0l : &i1l));
        }
        psetup_msg(&setup, &setup_len, &p, DIM, CLS);

        /* before PSETUP */
        step_msg(&req, &len, g, gl, i0, i0l, (uint32_t)gl);
        CHECK_RC(call_raw(t, req, len), HENN_EPROTO);
        CHECK_OK(call_raw(t, setup, setup_len));
        /* before a forward pass (the PGRAD's own refusal) */
        CHECK_RC(call_raw(t, req, len), HENN_EPROTO);
        free(req);
        /* framing: a length past the end, 0, the parts swapped, a byte
         * more or less, a PSETUP in place of the INFER */
        CHECK_RC(step_call(t, g, gl, i0, i0l, (uint32_t)(gl + i0l + 1)), HENN_EFORMAT);
        CHECK_RC(step_call(t, g, gl, i0, i0l, 0), HENN_EFORMAT);
        CHECK_RC(step_call(t, i0, i0l, g, gl, (uint32_t)i0l), HENN_EFORMAT);
        CHECK_RC(step_call(t, g, gl, i0, i0l, (uint32_t)gl - 1), HENN_EFORMAT);
        CHECK_RC(step_call(t, g, gl, i0, i0l - 1, (uint32_t)gl), HENN_EFORMAT);
        CHECK_RC(step_call(t, g, gl, setup, setup_len, (uint32_t)gl), HENN_EFORMAT);
        henn_private_trainer_stats(&st, &steps, t);
        CHECK_EQ_INT(steps, 0);
        /* After a full forward pass: a PSTEP whose INFER is for layer 1 is
         * refused after its PGRAD is applied (as one by one). */
        CHECK_OK(call_raw(t, i0, i0l));
        CHECK_OK(call_raw(t, i1, i1l));
        CHECK_RC(step_call(t, g, gl, i1, i1l, (uint32_t)gl), HENN_EPROTO);
        henn_private_trainer_stats(&st, &steps, t);
        CHECK_EQ_INT(steps, 1);
        /* and a well-formed one is served: steps 2, a PSTEPR */
        CHECK_OK(call_raw(t, i0, i0l));
        CHECK_OK(call_raw(t, i1, i1l));
        CHECK_OK(step_call(t, g, gl, i0, i0l, (uint32_t)gl));
        henn_private_trainer_stats(&st, &steps, t);
        CHECK_EQ_INT(steps, 2);
        free(g);
        free(i0);
        free(i1);
        free(setup);
        henn_paillier_ct_clear(&ct);
        henn_paillier_pt_clear(&pt);
        henn_private_trainer_free(t);
    }
    henn_nn_model_clear(&m);
}

/* The published configuration on real KDD rows (integer codes, 41-41-5,
 * sigmoid, softmax, Adam 0.01, batch 56, n = 2048): a short run, the
 * accuracy on held-out rows within 0.5 points of the plaintext twin. */
static void test_kdd_short(void)
{
#ifdef DATA_DIR
    henn_kdd_set tr;
    henn_kdd_prep prep;
    henn_nn_model init, twin;
    henn_nn_opts nn;
    henn_nn_trainer *nt = NULL;
    henn_private_trainer *t = NULL;
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_proto_params p;
    henn_transport tt;
    const size_t rows = 560, held = 4000, pool = 60000;
    size_t *idx = malloc((rows + held) * sizeof(size_t)), order[560], dims[3], i, b;
    float *KX = NULL, *Xb = malloc(56 * 41 * sizeof(float));
    uint8_t *y = malloc(rows + held), yb[56], *pe = malloc(held), *pp = malloc(held);
    size_t ok_e = 0, ok_p = 0;
    henn_kdd_set_init(&tr);
    henn_kdd_prep_init(&prep);
    CHECK_OK(henn_kdd_load(&tr, DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", pool, 0, NULL));
    CHECK_OK(henn_kdd_subset(idx, rows + held, tr.rows, 3));
    CHECK_OK(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, 0));
    CHECK_OK(henn_kdd_prep_apply(&KX, NULL, &prep, &tr, idx, rows + held));
    for (i = 0; i < rows + held; i++)
        y[i] = tr.y[idx[i]];
    dims[0] = prep.dim;
    dims[1] = 41;
    dims[2] = HENN_KDD_CLASSES;
    CHECK_EQ_INT(prep.dim, 41);
    CHECK_OK(henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1));
    henn_nn_opts_default(&nn);
    nn.lr = 0.01f;
    nn.max_rows = 56;
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    CHECK_OK(henn_paillier_keygen(&pk, &sk, 2048, 0));
    CHECK_OK(henn_proto_params_default(&p, 41, 0, 2048));
    p.slots = 56;
    CHECK_OK(henn_proto_params_check(&p, 41, 2048));
    CHECK_OK(henn_private_trainer_new(&t, &init, &nn, NULL));
    henn_transport_to_private_trainer(&tt, t);
    CHECK_OK(henn_owner_train_private(&tt, &sk, &p, KX, y, rows, 41, HENN_KDD_CLASSES, 56, 1, 5, NULL,
                                      NULL, NULL, NULL));
    CHECK_OK(henn_nn_model_copy(&twin, &init));
    CHECK_OK(henn_nn_trainer_new(&nt, &twin, &nn));
    CHECK_OK(henn_nn_batch_order(order, rows, 5));
    for (b = 0; b < rows; b += 56) {
        for (i = 0; i < 56; i++) {
            memcpy(Xb + i * 41, KX + order[b + i] * 41, 41 * sizeof(float));
            yb[i] = y[order[b + i]];
        }
        CHECK_OK(henn_nn_train_batch(nt, Xb, yb, 56, NULL));
    }
    CHECK_OK(henn_nn_predict(pe, henn_private_trainer_model(t), KX + rows * 41, held));
    CHECK_OK(henn_nn_predict(pp, &twin, KX + rows * 41, held));
    for (i = 0; i < held; i++) {
        ok_e += pe[i] == y[rows + i];
        ok_p += pp[i] == y[rows + i];
    }
    printf("KDD 41-41-5, %zu rows, 1 epoch: held-out accuracy private %.4f, plaintext %.4f\n",
           rows, (double)ok_e / (double)held, (double)ok_p / (double)held);
    CHECK(fabs((double)ok_e - (double)ok_p) <= 0.005 * (double)held);
    CHECK((double)ok_p > 0.65 * (double)held); /* it learned something (10 steps: 0.73) */
    henn_nn_trainer_free(nt);
    henn_private_trainer_free(t);
    henn_nn_model_clear(&twin);
    henn_nn_model_clear(&init);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    henn_kdd_set_clear(&tr);
    henn_kdd_prep_clear(&prep);
    free(KX);
    free(Xb);
    free(idx);
    free(y);
    free(pe);
    free(pp);
#endif
}

/* One-hot KDD rows (the symbolic values of a 60,000-row pool: 111 inputs;
 * a batch needs 112 rows, more than one n = 2048 ciphertext packs at the
 * ReLU fixed point, 49), dim-64-5 ReLU as the best configuration, batches
 * of whole ciphertext chunks (3 x 49): the private model matches its
 * plaintext twin on the same batches within the fixed-point tolerance,
 * one gradient per batch, and the trainer's whole view holds no row's
 * values and no batch's labels. */
static void test_kdd_onehot(void)
{
#ifdef DATA_DIR
    henn_kdd_set tr;
    henn_kdd_prep prep;
    henn_nn_model init, twin;
    henn_nn_opts nn;
    henn_nn_trainer *nt = NULL;
    henn_private_trainer *t = NULL;
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_proto_params p;
    henn_proto_stats st;
    henn_transport tt;
    static rec r;
    const size_t rows = 300, held = 2000, pool = 60000; /* 2 batches + a tail of 6 */
    size_t dim;
    size_t *idx = malloc((rows + held) * sizeof(size_t)), dims[3], i, j, l, K, batch;
    size_t grads = 0, infers = 0, same = 0, order[512];
    float *KX = NULL;
    uint8_t *y = malloc(rows + held), *pe = malloc(held), *pp = malloc(held);
    uint64_t want, steps;
    double maxdiff = 0.0, moved = 0.0;
    henn_kdd_set_init(&tr);
    henn_kdd_prep_init(&prep);
    CHECK_OK(henn_kdd_load(&tr, DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", pool, 0, NULL));
    CHECK_OK(henn_kdd_subset(idx, rows + held, tr.rows, 4));
    CHECK_OK(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_ONEHOT, HENN_KDD_LOG1P_HEAVY));
    CHECK_OK(henn_kdd_prep_apply(&KX, NULL, &prep, &tr, idx, rows + held));
    dim = prep.dim;
    for (i = 0; i < rows + held; i++)
        y[i] = tr.y[idx[i]];
    dims[0] = dim;
    dims[1] = 64;
    dims[2] = HENN_KDD_CLASSES;
    CHECK_OK(henn_nn_model_init(&init, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, 1));
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    CHECK_OK(henn_paillier_keygen(&pk, &sk, 2048, 0));
    /* The CLI's parameters for this model (ReLU: activations up to 2^4). */
    CHECK_OK(henn_proto_params_default(&p, dim, 4, 2048));
    CHECK(dim > 100);
    CHECK(p.slots < dim + 1); /* one ciphertext cannot hold a batch */
    K = (dim + p.slots) / p.slots;
    batch = K * p.slots;
    CHECK(K >= 2);
    CHECK(rows % batch < dim + 1); /* the tail sits out */    henn_nn_opts_default(&nn);
    nn.lr = 0.01f;
    nn.max_rows = batch;
    CHECK_OK(henn_private_trainer_new(&t, &init, &nn, NULL));
    henn_transport_to_private_trainer(&r.inner, t);
    memset(&tt, 0, sizeof(tt));
    tt.call = rec_call;
    tt.ctx = &r;
    CHECK_OK(henn_owner_train_private(&tt, &sk, &p, KX, y, rows, dim, HENN_KDD_CLASSES, batch, 1,
                                      8, NULL, NULL, NULL, &st));
    CHECK_OK(henn_private_training_decryptions(&want, dims, 2, rows, batch, p.slots, 1));
    CHECK_EQ_INT(st.decryptions, want);
    CHECK_EQ_INT(want, (rows / batch) * K * (64 + HENN_KDD_CLASSES));
    henn_private_trainer_stats(&st, &steps, t);
    CHECK_EQ_INT(steps, rows / batch);
    /* The twin on the same batches. */
    CHECK_OK(henn_nn_model_copy(&twin, &init));
    CHECK_OK(henn_nn_trainer_new(&nt, &twin, &nn));
    CHECK_OK(henn_private_train_plain(nt, KX, y, rows, dim, batch, 1, 8, NULL));
    for (l = 0; l < 2; l++) {
        const henn_nn_model *em = henn_private_trainer_model(t);
        for (i = 0; i < twin.dims[l + 1] * twin.dims[l]; i++) {
            maxdiff = fmax(maxdiff, fabs((double)em->W[l][i] - twin.W[l][i]));
            moved = fmax(moved, fabs((double)em->W[l][i] - init.W[l][i]));
        }
        for (i = 0; i < twin.dims[l + 1]; i++)
            maxdiff = fmax(maxdiff, fabs((double)em->b[l][i] - twin.b[l][i]));
    }
    CHECK_OK(henn_nn_predict(pe, henn_private_trainer_model(t), KX + rows * dim, held));
    CHECK_OK(henn_nn_predict(pp, &twin, KX + rows * dim, held));
    for (i = 0; i < held; i++)
        same += pe[i] == pp[i];
    printf("KDD one-hot %zu-64-5 ReLU, batches of %zu rows in %zu chunks of %u, %zu rows: max "
           "weight difference to the twin %.3g (weights moved up to %.3g), %zu of %zu held-out "
           "predictions equal\n",
           dim, batch, K, (unsigned)p.slots, rows, maxdiff, moved, same, held);
    CHECK(moved > 0.01); /* two Adam steps of lr 0.01 */
    CHECK(maxdiff < 5e-3);
    CHECK((double)same >= 0.995 * (double)held);

    /* The trainer's whole view: PSETUP, INFER of 2 chunks, one PGRAD of
     * `batch` rows per batch; no row's values (as float or double), no
     * batch's label sequence. */
    CHECK_OK(henn_nn_batch_order(order, rows, 8));
    for (j = 0; j < r.n; j++) {
        int type = henn_msg_type(r.msg[j], r.len[j]);
        CHECK(type == HENN_MSG_PSETUP || type == HENN_MSG_INFER || type == HENN_MSG_PGRAD);
        if (type == HENN_MSG_INFER) {
            henn__rbuf rb;
            henn_proto_params q;
            int ty;
            size_t cnt, in;
            CHECK_OK(henn__rbuf_open(&rb, &ty, r.msg[j], r.len[j]));
            henn__params_read(&rb, &q);
            (void)henn__rbuf_u32(&rb);
            cnt = henn__rbuf_u32(&rb);
            in = henn__rbuf_u32(&rb);
            CHECK_EQ_INT(cnt, batch);
            CHECK(in == dim || in == 64);
            CHECK_EQ_INT(r.len[j], 12 + 24 + 12 + K * in * 512);
            infers++;
        } else if (type == HENN_MSG_PGRAD) {
            henn__rbuf rb;
            int ty;
            CHECK_OK(henn__rbuf_open(&rb, &ty, r.msg[j], r.len[j]));
            CHECK_EQ_INT(henn__rbuf_u32(&rb), batch);
            grads++;
        }
        for (i = 0; i < rows; i += 7) {
            const float *x = KX + i * dim;
            size_t f = 0;
            double dv;
            while (f + 1 < 38 && x[f] == 0.0f)
                f++; /* the first non-zero numeric column */
            dv = x[f];
            CHECK(!mem_has(r.msg[j], r.len[j], x + f, 8));
            CHECK(!mem_has(r.msg[j], r.len[j], &dv, 8));
        }
        for (i = 0; i + batch <= rows; i += batch) {
            uint8_t lab[64];
            for (l = 0; l < 64; l++)
                lab[l] = y[order[i + l]];
            CHECK(!mem_has(r.msg[j], r.len[j], lab, 64));
        }
    }
    CHECK_EQ_INT(grads, rows / batch);
    CHECK_EQ_INT(infers, 2 * (rows / batch));
    CHECK_EQ_INT(r.steps, rows / batch - 1);
    rec_free(&r);
    henn_nn_trainer_free(nt);
    henn_private_trainer_free(t);
    henn_nn_model_clear(&twin);
    henn_nn_model_clear(&init);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    henn_kdd_set_clear(&tr);
    henn_kdd_prep_clear(&prep);
    free(KX);
    free(idx);
    free(y);
    free(pe);
    free(pp);
#endif
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    if (henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE) != 0)
        return 1;
    make_data();
    test_train_view_attack(BATCH, BATCH);
    test_train_view_attack(4, 14);
    test_refusals();
    test_step();
    test_kdd_short();
    test_kdd_onehot();
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    return test_report("test_private");
}
