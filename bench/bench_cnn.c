/*
 * bench_cnn: plaintext reference runs for CryptoNN (issue 10): LeNet-5 or
 * the 784-128-10 MLP on MNIST-8k/2k or Fashion-MNIST, one JSON line per
 * epoch (training loss, test accuracy, seconds, training time per image).
 *
 *   bench_cnn [--data mnist8k|fashion] [--model lenet|lenet-pad2|mlp]
 *             [--opt sgd|adam] [--lr X] [--momentum X] [--batch N]
 *             [--epochs N] [--train N] [--seed N] [--act relu|tanh|sigmoid]
 *             [--pool max|avg] [--data-dir DIR]
 *
 * Threads: OpenBLAS's (OPENBLAS_NUM_THREADS); the layers' own loops run on
 * one thread.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "henn/cnn.h"
#include "henn/mnist.h"

#ifndef HENN_DATA_DIR
#define HENN_DATA_DIR "data"
#endif

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_cnn [--data mnist8k|fashion] [--model lenet|lenet-pad2|mlp] "
                    "[--opt sgd|adam] [--lr X] [--momentum X] [--batch N] [--epochs N] "
                    "[--train N] [--seed N] [--act relu|tanh|sigmoid] [--pool max|avg] "
                    "[--data-dir DIR]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *data = "mnist8k", *model = "lenet", *dir = HENN_DATA_DIR "/mnist", *act_s = "relu";
    const char *pool_s = "max";
    henn_nn_opts o;
    henn_mnist_set tr, te;
    henn_cnn_model m;
    henn_cnn_trainer *t = NULL;
    henn_nn_act act = HENN_NN_RELU;
    char err[HENN_MNIST_ERRLEN] = "";
    size_t epochs = 2, batch = 64, ntrain = 0, e, hid = 128;
    unsigned long long seed = 1;
    float *X = NULL, *Xt = NULL;
    int i, rc;

    henn_nn_opts_default(&o);
    o.optimizer = HENN_NN_SGD;
    o.lr = 5e-4f;
    o.momentum = 0.0f;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--opt") == 0)
            o.optimizer = strcmp(v, "adam") == 0 ? HENN_NN_ADAM : HENN_NN_SGD;
        else if (strcmp(a, "--lr") == 0)
            o.lr = strtof(v, NULL);
        else if (strcmp(a, "--momentum") == 0)
            o.momentum = strtof(v, NULL);
        else if (strcmp(a, "--batch") == 0)
            batch = strtoul(v, NULL, 10);
        else if (strcmp(a, "--epochs") == 0)
            epochs = strtoul(v, NULL, 10);
        else if (strcmp(a, "--train") == 0)
            ntrain = strtoul(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--act") == 0)
            act_s = v;
        else if (strcmp(a, "--pool") == 0)
            pool_s = v;
        else if (strcmp(a, "--data-dir") == 0)
            dir = v;
        else
            return usage();
    }
    if (strcmp(act_s, "tanh") == 0)
        act = HENN_NN_TANH;
    else if (strcmp(act_s, "sigmoid") == 0)
        act = HENN_NN_SIGMOID;
    o.max_rows = batch;

    if (strcmp(data, "fashion") == 0)
        rc = henn_mnist_load_fashion(&tr, &te, NULL, err, sizeof(err));
    else
        rc = henn_mnist_load_mnist8k(&tr, &te, dir, seed, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "bench_cnn: %s (%s)\n", err[0] ? err : henn_strerror(rc),
                henn_err_name(rc));
        return 1;
    }
    if (ntrain == 0 || ntrain > tr.count)
        ntrain = tr.count;
    if (strcmp(model, "mlp") == 0)
        rc = henn_cnn_model_init_mlp(&m, 784, &hid, 1, act, 10, seed);
    else
        rc = henn_cnn_model_init_lenet5(&m, strcmp(model, "lenet-pad2") == 0 ? 2 : 0, act,
                                        strcmp(pool_s, "avg") == 0 ? HENN_CNN_AVGPOOL
                                                                   : HENN_CNN_MAXPOOL,
                                        seed);
    if (rc == 0)
        rc = henn_cnn_trainer_new(&t, &m, &o);
    X = malloc(ntrain * 784 * sizeof(float));
    Xt = malloc(te.count * 784 * sizeof(float));
    if (rc != 0 || X == NULL || Xt == NULL) {
        fprintf(stderr, "bench_cnn: setup failed (%s)\n", henn_err_name(rc ? rc : HENN_ENOMEM));
        return 1;
    }
    if (henn_mnist_to_float(X, &tr, 0, ntrain) != 0 ||
        henn_mnist_to_float(Xt, &te, 0, te.count) != 0)
        return 1;
    for (e = 1; e <= epochs; e++) {
        double loss = 0.0, acc = 0.0, t0 = now_s(), t1, t2;
        rc = henn_cnn_train_epoch(t, X, tr.labels, ntrain, batch, seed * 1000 + e, NULL, NULL,
                                  &loss);
        t1 = now_s();
        if (rc == 0)
            rc = henn_cnn_accuracy(&acc, &m, Xt, te.labels, te.count);
        t2 = now_s();
        if (rc != 0) {
            fprintf(stderr, "bench_cnn: %s\n", henn_err_name(rc));
            return 1;
        }
        printf("{\"data\":\"%s\",\"model\":\"%s\",\"act\":\"%s\",\"pool\":\"%s\",\"params\":%zu,"
               "\"opt\":\"%s\",\"lr\":%g,\"momentum\":%g,\"batch\":%zu,\"seed\":%llu,"
               "\"train\":%zu,\"test\":%zu,\"epoch\":%zu,\"loss\":%.4f,\"test_acc\":%.4f,"
               "\"train_s\":%.2f,\"ms_per_train_image\":%.3f,\"ms_per_test_image\":%.3f}\n",
               data, model, act_s, pool_s, henn_cnn_param_count(&m),
               o.optimizer == HENN_NN_ADAM ? "adam" : "sgd", (double)o.lr, (double)o.momentum,
               batch, seed, ntrain, te.count, e, loss, acc, t1 - t0,
               1e3 * (t1 - t0) / (double)ntrain, 1e3 * (t2 - t1) / (double)te.count);
        fflush(stdout);
    }
    henn_cnn_trainer_free(t);
    henn_cnn_model_clear(&m);
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
    free(X);
    free(Xt);
    return 0;
}
