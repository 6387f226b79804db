/*
 * bench_kdd_private: private training (henn/protocol.h, "Private
 * training") on the published KDD configuration (integer-coded features,
 * 41-41-5, sigmoid, softmax, Adam lr 0.01, batch 56, n = 2048) against the
 * plaintext run on the same batches. One JSON line per run: samples/s of
 * the protocol (wall clock, both parties in this process), decryptions
 * and encryptions, the process CPU seconds of training (all threads: on
 * the shared, loaded VM the wall clock measures the neighbours too), test accuracy of both models, the largest
 * weight difference.
 * Usage: bench_kdd_private [rows (default 10000)] [epochs (1)] [threads (2)]
 *        [test rows (0 = all of corrected.gz)] [rerandomize (0)]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "henn/henn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double accuracy(const henn_nn_model *m, const float *T, const uint8_t *y, size_t rows)
{
    uint8_t *pred = malloc(rows);
    size_t i, ok = 0;
    if (pred == NULL || henn_nn_predict(pred, m, T, rows) != 0) {
        free(pred);
        return -1.0;
    }
    for (i = 0; i < rows; i++)
        ok += pred[i] == y[i];
    free(pred);
    return (double)ok / (double)rows;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    size_t epochs = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
    size_t test_rows = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 0;
    int rerand = argc > 5 ? atoi(argv[5]) : 0;
    henn_kdd_set tr, te;
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
    henn_batch_opts bo = {threads, NULL, NULL};
    size_t *idx, dims[3], i, e, b, *order;
    float *X = NULL, *T = NULL, *Xb;
    uint8_t *y, *yb;
    double t0, c0, secs, cpu, maxd = 0.0;
    int rc;

    if (henn_init() != 0)
        return 1;
    henn_kdd_set_init(&tr);
    henn_kdd_set_init(&te);
    henn_kdd_prep_init(&prep);
    rc = henn_kdd_load(&tr, HENN_DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", 0, 0, NULL);
    if (rc == 0)
        rc = henn_kdd_load(&te, HENN_DATA_DIR "/kddcup99/corrected.gz", test_rows, 0, NULL);
    if (rc != 0 || rows == 0 || rows > tr.rows) {
        fprintf(stderr, "bench_kdd_private: data: %s\n", henn_strerror(rc));
        return 1;
    }
    idx = malloc(rows * sizeof(size_t));
    y = malloc(rows);
    order = malloc(rows * sizeof(size_t));
    Xb = malloc(56 * 41 * sizeof(float));
    yb = malloc(56);
    if (idx == NULL || y == NULL || order == NULL || Xb == NULL || yb == NULL)
        return 1;
    rc = henn_kdd_subset(idx, rows, tr.rows, 1);
    if (rc == 0) {
        henn_kdd_set sub = tr;
        double *sx = malloc(rows * HENN_KDD_FEATURES * sizeof(double));
        for (i = 0; sx != NULL && i < rows; i++)
            memcpy(sx + i * HENN_KDD_FEATURES, tr.x + idx[i] * HENN_KDD_FEATURES,
                   HENN_KDD_FEATURES * sizeof(double));
        sub.x = sx;
        sub.rows = rows;
        rc = sx == NULL ? HENN_ENOMEM : henn_kdd_prep_fit(&prep, &sub, HENN_KDD_INTCODE, 0);
        free(sx);
    }
    if (rc == 0)
        rc = henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, rows);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&T, NULL, &prep, &te, NULL, te.rows);
    for (i = 0; i < rows; i++)
        y[i] = tr.y[idx[i]];
    dims[0] = prep.dim;
    dims[1] = 41;
    dims[2] = HENN_KDD_CLASSES;
    if (rc == 0)
        rc = henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1);
    henn_nn_opts_default(&nn);
    nn.lr = 0.01f;
    nn.max_rows = 56;
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    if (rc == 0)
        rc = henn_paillier_keygen(&pk, &sk, 2048, 0);
    if (rc == 0)
        rc = henn_proto_params_default(&p, 41, 0, 2048);
    p.slots = 56;
    if (rc == 0)
        rc = henn_proto_params_check(&p, 41, 2048);
    if (rc == 0)
        rc = henn_private_trainer_new(&t, &init, &nn, &bo);
    if (rc != 0) {
        fprintf(stderr, "bench_kdd_private: setup: %s\n", henn_strerror(rc));
        return 1;
    }
    henn_private_trainer_set_rerandomize(t, rerand);
    henn_transport_to_private_trainer(&tt, t);
    t0 = now();
    c0 = cpu_now();
    rc = henn_owner_train_private(&tt, &sk, &p, X, y, rows, prep.dim, HENN_KDD_CLASSES, epochs,
                                  1, &bo, NULL, NULL, &st);
    secs = now() - t0;
    cpu = cpu_now() - c0;
    if (rc != 0) {
        fprintf(stderr, "bench_kdd_private: training: %s\n", henn_strerror(rc));
        return 1;
    }
    /* Plaintext twin on the same batches. */
    if (henn_nn_model_copy(&twin, &init) != 0 || henn_nn_trainer_new(&nt, &twin, &nn) != 0)
        return 1;
    for (e = 0; e < epochs; e++) {
        if (henn_nn_batch_order(order, rows, 1 + e) != 0)
            return 1;
        for (b = 0; b + prep.dim + 1 <= rows; b += 56) {
            size_t c = rows - b < 56 ? rows - b : 56;
            for (i = 0; i < c; i++) {
                memcpy(Xb + i * prep.dim, X + order[b + i] * prep.dim, prep.dim * sizeof(float));
                yb[i] = y[order[b + i]];
            }
            if (henn_nn_train_batch(nt, Xb, yb, c, NULL) != 0)
                return 1;
        }
    }
    {
        const henn_nn_model *em = henn_private_trainer_model(t);
        size_t l;
        for (l = 0; l < 2; l++)
            for (i = 0; i < twin.dims[l + 1] * twin.dims[l]; i++) {
                double d = (double)em->W[l][i] - twin.W[l][i];
                maxd = d > maxd ? d : -d > maxd ? -d : maxd;
            }
        printf("{\"bench\":\"kdd_private\",\"rows\":%zu,\"epochs\":%zu,\"threads\":%u,"
               "\"rerandomize\":%d,\"n_bits\":2048,\"batch\":56,\"seconds\":%.3f,"
               "\"samples_per_s\":%.1f,\"cpu_seconds\":%.3f,\"samples_per_cpu_s\":%.1f,\"decryptions\":%llu,\"encryptions\":%llu,"
               "\"test_rows\":%zu,\"acc_private\":%.4f,\"acc_plaintext\":%.4f,"
               "\"max_weight_diff\":%.3g}\n",
               rows, epochs, threads, rerand, secs, (double)(rows * epochs) / secs,
               cpu, (double)(rows * epochs) / cpu,
               (unsigned long long)st.decryptions, (unsigned long long)st.encryptions, te.rows,
               accuracy(em, T, te.y, te.rows), accuracy(&twin, T, te.y, te.rows), maxd);
    }
    henn_nn_trainer_free(nt);
    henn_private_trainer_free(t);
    henn_nn_model_clear(&twin);
    henn_nn_model_clear(&init);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    henn_kdd_set_clear(&tr);
    henn_kdd_set_clear(&te);
    henn_kdd_prep_clear(&prep);
    free(X);
    free(T);
    free(idx);
    free(y);
    free(order);
    free(Xb);
    free(yb);
    return 0;
}
