/*
 * bench_kdd_private: private training (henn/protocol.h, "Private
 * training") on the published KDD configuration (integer-coded features,
 * 41-41-5, sigmoid, softmax, Adam lr 0.01, batch 56, n = 2048) or on the
 * best configuration's network (one-hot, 118-64-5, ReLU, softmax, Adam lr
 * 0.001; batches of 2 ciphertext chunks by default) against the plaintext
 * run on the same batches (henn_private_train_plain). One JSON line per run: samples/s of
 * the protocol (wall clock, both parties in this process), decryptions
 * and encryptions, the process CPU seconds of training (all threads: on
 * the shared, loaded VM the wall clock measures the neighbours too), test accuracy of both models, the largest
 * weight difference.
 * Usage: bench_kdd_private [rows (default 10000)] [epochs (1)] [threads (2)]
 *        [test rows (0 = all of corrected.gz)] [rerandomize (0)]
 *        [intcode (default) | onehot] [batch (0 = 56 / the fewest whole
 *        chunks of at least inputs + 1 rows)]
 *        bench_kdd_private batches [seeds (10)]: no encryption; the published
 *        configuration in plaintext per batch-order seed 1..seeds (same rows,
 *        same initial weights): contiguous batches (henn_nn_train_epoch, the
 *        CLI's plaintext column) against the private protocol's batches
 *        (henn_private_train_plain): accuracy, macro-F1 and per-class F1 on
 *        all of corrected.gz, one JSON line per seed (docs/RESULTS.md: where
 *        the macro-F1 gap of the side-by-side table comes from).
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

static int metrics_json(char *out, size_t len, const henn_nn_model *m, const float *T,
                        const uint8_t *y, size_t rows)
{
    uint8_t *pred = malloc(rows);
    henn_nn_metrics mt;
    int rc = pred == NULL ? HENN_ENOMEM : henn_nn_predict(pred, m, T, rows);
    if (rc == 0)
        rc = henn_nn_metrics_compute(&mt, y, pred, rows, HENN_KDD_CLASSES);
    if (rc == 0) {
        snprintf(out, len,
                 "{\"accuracy\":%.4f,\"macro_f1\":%.4f,\"f1\":{\"normal\":%.3f,\"dos\":%.3f,"
                 "\"u2r\":%.3f,\"r2l\":%.3f,\"probe\":%.3f}}",
                 mt.accuracy, mt.macro_f1, mt.f1[0], mt.f1[1], mt.f1[2], mt.f1[3], mt.f1[4]);
        henn_nn_metrics_clear(&mt);
    }
    free(pred);
    return rc;
}

/* bench_kdd_private batches [seeds]: see the header. */
static int batch_sweep(size_t seeds)
{
    const size_t rows = 10000;
    henn_kdd_set tr, te;
    henn_kdd_prep prep;
    size_t *idx = malloc(rows * sizeof(size_t)), dims[3], i, s;
    uint8_t *y = malloc(rows);
    float *X = NULL, *T = NULL;
    int rc;

    henn_kdd_set_init(&tr);
    henn_kdd_set_init(&te);
    henn_kdd_prep_init(&prep);
    rc = idx == NULL || y == NULL ? HENN_ENOMEM : 0;
    if (rc == 0)
        rc = henn_kdd_load(&tr, HENN_DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", 0, 0, NULL);
    if (rc == 0)
        rc = henn_kdd_load(&te, HENN_DATA_DIR "/kddcup99/corrected.gz", 0, 0, NULL);
    if (rc == 0)
        rc = henn_kdd_subset(idx, rows, tr.rows, 1);
    if (rc == 0) { /* fitted on the training rows used, as the CLI does */
        henn_kdd_set sub = tr;
        double *sx = malloc(rows * HENN_KDD_FEATURES * sizeof(double));
        for (i = 0; sx != NULL && i < rows; i++)
            memcpy(sx + i * HENN_KDD_FEATURES, tr.x + idx[i] * HENN_KDD_FEATURES,
                   HENN_KDD_FEATURES * sizeof(double));
        sub.x = sx;
        sub.rows = rows;
        rc = sx == NULL ? HENN_ENOMEM
                        : henn_kdd_prep_fit(&prep, &sub, HENN_KDD_INTCODE, HENN_KDD_LOG1P_HEAVY);
        free(sx);
    }
    if (rc == 0)
        rc = henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, rows);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&T, NULL, &prep, &te, NULL, te.rows);
    for (i = 0; rc == 0 && i < rows; i++)
        y[i] = tr.y[idx[i]];
    dims[0] = prep.dim;
    dims[1] = 41;
    dims[2] = HENN_KDD_CLASSES;
    for (s = 1; rc == 0 && s <= seeds; s++) {
        henn_nn_model init, mc, mp;
        henn_nn_opts nn;
        henn_nn_trainer *tc = NULL, *tp = NULL;
        char jc[256], jp[256];
        henn_nn_model_init_empty(&mc);
        henn_nn_model_init_empty(&mp);
        rc = henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1);
        henn_nn_opts_default(&nn);
        nn.lr = 0.01f;
        nn.max_rows = 56;
        if (rc == 0)
            rc = henn_nn_model_copy(&mc, &init);
        if (rc == 0)
            rc = henn_nn_model_copy(&mp, &init);
        if (rc == 0)
            rc = henn_nn_trainer_new(&tc, &mc, &nn);
        if (rc == 0)
            rc = henn_nn_trainer_new(&tp, &mp, &nn);
        if (rc == 0)
            rc = henn_nn_train_epoch(tc, X, y, rows, 56, s, NULL, NULL, NULL);
        if (rc == 0)
            rc = henn_private_train_plain(tp, X, y, rows, prep.dim, 56, 1, s, NULL);
        if (rc == 0)
            rc = metrics_json(jc, sizeof(jc), &mc, T, te.y, te.rows);
        if (rc == 0)
            rc = metrics_json(jp, sizeof(jp), &mp, T, te.y, te.rows);
        if (rc == 0)
            printf("{\"bench\":\"kdd_batch_order\",\"config\":\"intcode 41-41-5 sigmoid adam "
                   "0.01 10000 rows 1 epoch batch 56\",\"seed\":%zu,\"contiguous\":%s,"
                   "\"private_batches\":%s}\n",
                   s, jc, jp);
        henn_nn_trainer_free(tc);
        henn_nn_trainer_free(tp);
        henn_nn_model_clear(&init);
        henn_nn_model_clear(&mc);
        henn_nn_model_clear(&mp);
    }
    if (rc != 0)
        fprintf(stderr, "bench_kdd_private batches: %s\n", henn_strerror(rc));
    henn_kdd_set_clear(&tr);
    henn_kdd_set_clear(&te);
    henn_kdd_prep_clear(&prep);
    free(X);
    free(T);
    free(idx);
    free(y);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    size_t epochs = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
    size_t test_rows = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 0;
    int rerand = argc > 5 ? atoi(argv[5]) : 0;
    int onehot = argc > 6 && strcmp(argv[6], "onehot") == 0;
    size_t batch = argc > 7 ? (size_t)strtoul(argv[7], NULL, 10) : 0;
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
    size_t *idx, dims[3], i;
    float *X = NULL, *T = NULL;
    uint8_t *y;
    double t0, c0, secs, cpu, maxd = 0.0;
    int rc;

    if (henn_init() != 0)
        return 1;
    if (argc > 1 && strcmp(argv[1], "batches") == 0)
        return batch_sweep(argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 10);
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
    if (idx == NULL || y == NULL)
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
        rc = sx == NULL ? HENN_ENOMEM
                        : henn_kdd_prep_fit(&prep, &sub, onehot ? HENN_KDD_ONEHOT : HENN_KDD_INTCODE,
                                            HENN_KDD_LOG1P_HEAVY);
        free(sx);
    }
    if (rc == 0)
        rc = henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, rows);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&T, NULL, &prep, &te, NULL, te.rows);
    for (i = 0; i < rows; i++)
        y[i] = tr.y[idx[i]];
    dims[0] = prep.dim;
    dims[1] = onehot ? 64 : 41;
    dims[2] = HENN_KDD_CLASSES;
    if (rc == 0)
        rc = henn_nn_model_init(&init, dims, 3, onehot ? HENN_NN_RELU : HENN_NN_SIGMOID,
                                HENN_NN_SOFTMAX_CE, 1);
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    if (rc == 0)
        rc = henn_paillier_keygen(&pk, &sk, 2048, 0);
    /* The CLI's parameters: slots for the widest layer input (intcode: 56
     * rows), activations up to 2^4 for ReLU. */
    if (rc == 0)
        rc = henn_proto_params_default(&p, prep.dim, onehot ? 4 : 0, 2048);
    if (rc == 0 && batch == 0)
        batch = onehot ? (prep.dim + p.slots) / p.slots * p.slots : p.slots;
    henn_nn_opts_default(&nn);
    nn.lr = onehot ? 0.001f : 0.01f;
    nn.max_rows = batch;
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
    rc = henn_owner_train_private(&tt, &sk, &p, X, y, rows, prep.dim, HENN_KDD_CLASSES, batch,
                                  epochs, 1, &bo, NULL, NULL, &st);
    secs = now() - t0;
    cpu = cpu_now() - c0;
    if (rc != 0) {
        fprintf(stderr, "bench_kdd_private: training: %s\n", henn_strerror(rc));
        return 1;
    }
    /* Plaintext twin on the same batches. */
    if (henn_nn_model_copy(&twin, &init) != 0 || henn_nn_trainer_new(&nt, &twin, &nn) != 0 ||
        henn_private_train_plain(nt, X, y, rows, prep.dim, batch, epochs, 1, NULL) != 0)
        return 1;
    {
        const henn_nn_model *em = henn_private_trainer_model(t);
        size_t l;
        for (l = 0; l < 2; l++)
            for (i = 0; i < twin.dims[l + 1] * twin.dims[l]; i++) {
                double d = (double)em->W[l][i] - twin.W[l][i];
                maxd = d > maxd ? d : -d > maxd ? -d : maxd;
            }
        printf("{\"bench\":\"kdd_private\",\"features\":\"%s\",\"dims\":[%zu,%zu,%zu],"
               "\"rows\":%zu,\"epochs\":%zu,\"threads\":%u,"
               "\"rerandomize\":%d,\"n_bits\":2048,\"slots\":%u,\"batch\":%zu,\"seconds\":%.3f,"
               "\"samples_per_s\":%.1f,\"cpu_seconds\":%.3f,\"samples_per_cpu_s\":%.1f,\"decryptions\":%llu,\"encryptions\":%llu,"
               "\"test_rows\":%zu,\"acc_private\":%.4f,\"acc_plaintext\":%.4f,"
               "\"max_weight_diff\":%.3g}\n",
               onehot ? "onehot" : "intcode", dims[0], dims[1], dims[2], rows, epochs, threads,
               rerand, (unsigned)p.slots, batch, secs, (double)(rows * epochs) / secs,
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
    return 0;
}
