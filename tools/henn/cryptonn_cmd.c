/*
 * henn cryptonn train: the three CryptoNN parties (henn/cryptonn.h) in one
 * process over loopback transports, the plaintext twin (same seed, same
 * fixed point) and a float reference, then the side-by-side table with the
 * paper's figures (Xu, Joshi, Li, ICDCS 2019, LeNet-5 on MNIST).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_util.h"
#include "cryptonn_cmd.h"
#include "cryptonn_svc.h"
#include "henn/cryptonn.h"
#include "henn/mnist.h"

#define EXIT_USAGE 2
#define MAX_EPOCHS 20

static const char *usage_text =
    "usage: henn cryptonn train --net mlp|lenet5 --data mnist|fashion [options]\n"
    "  --epochs E     epochs (default 2)\n"
    "  --limit N      train on the first N training images (default: all)\n"
    "  --threads T    encryption/decryption threads per party (default 2)\n"
    "  --layout L     batch (one long FEIP ciphertext per batch, default) or\n"
    "                 sample (the paper's: one per sample and per feature column)\n"
    "  --seed S       model and batch-order seed (default 1)\n"
    "  --json F       write the figures as JSON to F\n"
    "  --model F      write the encrypted run's final model to F (MLP: HNNM,\n"
    "                 LeNet-5: HCNM, docs/FORMATS.md; with --server: the\n"
    "                 downloaded model)\n"
    "The MLP is 784-128-10 (ReLU, softmax), batch 64, Adam lr 0.001; the first\n"
    "layer runs on FEIP-encrypted images, labels on FEBO (docs/THREAT_MODEL.md).\n"
    "LeNet-5 (valid conv1, max pooling, ReLU), batch 64, SGD lr 0.05 momentum 0.9:\n"
    "conv1 and its weight gradient on FEIP (one ciphertext per batch, patch and\n"
    "shifted-correlation keys from the authority), labels on FEBO; --layout does\n"
    "not apply (always batch).\n"
    "Over a henn server (docs/SERVICE.md, cryptonn-mlp and cryptonn-lenet5), three\n"
    "processes:\n"
    "  henn cryptonn train ... --server URL [--token F] [--ca F] [--insecure-http]\n"
    "      --mpk F --authority-token-out F [--session-file F [--resume]]\n"
    "    the owner: creates the session, writes the authority's token (0600), waits\n"
    "    for the authority's public keys in --mpk, encrypts the batches; the server\n"
    "    trains; prints the loss and the downloaded model's test accuracy per epoch\n"
    "    (the in-process run's encrypted lines; no twin, no table, no JSON).\n"
    "    --session-file F: F (0600) keeps the session, its token, a fingerprint of\n"
    "    the run (data, --net, --limit, --epochs, --seed), the public keys' hash and\n"
    "    the answers so far; F.journal the batch in flight. Killed, the same command\n"
    "    with --resume continues: it sends only the batches the server has not\n"
    "    answered and ends with the same model as an uninterrupted run\n"
    "    (another run's F is refused; the authority must still be running)\n"
    "  henn cryptonn authority --net mlp|lenet5 --server URL --session ID\n"
    "      --token-file F --mpk-out F [--layout L] [--threads T] [--ca F]\n"
    "      [--insecure-http]\n"
    "    the authority: keeps the master keys, answers the server's key requests\n"
    "    until the session is deleted.\n";

static int usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "henn cryptonn: %s\n", msg);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* CPU seconds of the whole process (every thread) */
static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the 1-, 5- and 15-minute load averages, for the figures' context */
static const char *loadavg(void)
{
    static char buf[64];
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f != NULL) {
        if (fgets(buf, sizeof buf, f) == NULL)
            buf[0] = 0;
        fclose(f);
    }
    char *sp = buf;
    for (int k = 0; k < 3 && sp != NULL; k++)
        sp = strchr(sp + (k > 0), ' ');
    if (sp != NULL)
        *sp = 0;
    return buf[0] ? buf : "n/a";
}

static double accuracy(const henn_nn_model *m, const float *X, const uint8_t *y, size_t n)
{
    uint8_t *pred = malloc(n);
    size_t ok = 0;
    if (pred == NULL || henn_nn_predict(pred, m, X, n) != 0) {
        free(pred);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ok += pred[i] == y[i];
    free(pred);
    return (double)ok / (double)n;
}

typedef struct {
    double acc_float[MAX_EPOCHS], acc_twin[MAX_EPOCHS], acc_enc[MAX_EPOCHS];
    double t_float, t_twin, t_enc;
    double cpu_enc; /* process CPU seconds (user + system) of the encrypted epochs */
} results;

static int run(const char *data, size_t epochs, size_t limit, unsigned threads, uint64_t seed,
               const char *json_path, uint32_t layout, const char *model_path)
{
    henn_mnist_set tr, te;
    char err[HENN_MNIST_ERRLEN] = "";
    float *Xtr = NULL, *Xte = NULL;
    size_t ntr, nte, d, e, i, nb, *order = NULL;
    const size_t dims[] = {784, 128, 10}, B = 64;
    henn_nn_model m0, mf, mt;
    henn_nn_trainer *tf = NULL, *tt = NULL;
    henn_nn_opts o;
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_cryptonn_client *c = NULL;
    henn_cryptonn_server *s = NULL;
    henn_transport ta, ta2, ts;
    henn_cryptonn_stats cs, ss, as;
    results R;
    cli_progress prog;
    double t0, c0, loss;
    int rc, src = 0;

    memset(&R, 0, sizeof(R));
    henn_mnist_set_init(&tr);
    henn_mnist_set_init(&te);
    henn_nn_model_init_empty(&m0);
    henn_nn_model_init_empty(&mf);
    henn_nn_model_init_empty(&mt);
    if (strcmp(data, "mnist") == 0)
        rc = henn_mnist_load_mnist8k(&tr, &te, HENN_DATA_DIR "/mnist", seed, err, sizeof(err));
    else
        rc = henn_mnist_load_fashion(&tr, &te, NULL, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "henn cryptonn: %s (%s)\n", err[0] ? err : "loading the data",
                henn_err_name(rc));
        goto done;
    }
    d = tr.rows * tr.cols;
    ntr = limit != 0 && limit < tr.count ? limit : tr.count;
    nte = te.count;
    rc = HENN_ENOMEM;
    Xtr = malloc(ntr * d * sizeof(*Xtr));
    Xte = malloc(nte * d * sizeof(*Xte));
    nb = (ntr + B - 1) / B;
    order = malloc(nb * sizeof(*order));
    if (d != 784 || Xtr == NULL || Xte == NULL || order == NULL)
        goto done;
    if ((rc = henn_mnist_to_float(Xtr, &tr, 0, ntr)) != 0 ||
        (rc = henn_mnist_to_float(Xte, &te, 0, nte)) != 0)
        goto done;
    printf("henn cryptonn: MLP 784-128-10 on %s, %zu training / %zu test images, batch %zu, "
           "%zu epoch(s), %u thread(s) per party\n",
           strcmp(data, "mnist") == 0 ? "MNIST-8k" : "Fashion-MNIST", ntr, nte, B, epochs,
           threads);
    henn_nn_opts_default(&o);
    o.max_rows = B;
    henn_cryptonn_params_default(&p, 784, (uint32_t)B, 10);
    p.layout = layout;
    printf("  layout: %s\n", layout == HENN_CRYPTONN_LAYOUT_BATCH
                                ? "batch (one FEIP ciphertext of the whole batch, support keys)"
                                : "sample (one FEIP ciphertext per sample and per column)");
    printf("  fixed point: x_q = 255 x, w_q = round(w 2^%u) with |w_q| <= 2^%u, delta per "
           "batch <= 2^%u, labels 2^%u; dlog bound %llu (< 2^32)\n",
           p.fw, p.w_bits, p.d_bits, p.fl, (unsigned long long)henn_cryptonn_dlog_bound(&p));
    if ((rc = henn_nn_model_init(&m0, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, seed)) != 0 ||
        (rc = henn_nn_model_copy(&mf, &m0)) != 0 || (rc = henn_nn_model_copy(&mt, &m0)) != 0 ||
        (rc = henn_nn_trainer_new(&tf, &mf, &o)) != 0 ||
        (rc = henn_nn_trainer_new(&tt, &mt, &o)) != 0)
        goto done;
    /* float reference and the fixed-point twin */
    for (e = 0; e < epochs; e++) {
        t0 = cli_now();
        rc = henn_nn_train_epoch(tf, Xtr, tr.labels, ntr, B, seed + e, NULL, NULL, &loss);
        R.t_float += cli_now() - t0;
        if (rc != 0)
            goto done;
        R.acc_float[e] = accuracy(&mf, Xte, te.labels, nte);
        t0 = cli_now();
        if ((rc = henn_nn_batch_order(order, nb, seed + e)) != 0)
            goto done;
        for (i = 0; i < nb && rc == 0; i++) {
            size_t first = order[i] * B, n = ntr - first < B ? ntr - first : B;
            rc = henn_cryptonn_twin_step(tt, &mt, &p, Xtr + first * d, tr.labels + first, n,
                                         NULL, NULL);
        }
        R.t_twin += cli_now() - t0;
        if (rc != 0)
            goto done;
        R.acc_twin[e] = accuracy(&mt, Xte, te.labels, nte);
        printf("  plaintext epoch %zu: float %.4f, fixed-point twin %.4f\n", e + 1,
               R.acc_float[e], R.acc_twin[e]);
    }
    /* the three parties */
    t0 = cli_now();
    if ((rc = henn_cryptonn_authority_new(&a, &p)) != 0)
        goto done;
    henn_cryptonn_authority_set_threads(a, threads);
    henn_transport_to_cryptonn_authority(&ta, a);
    henn_transport_to_cryptonn_authority(&ta2, a);
    if ((rc = henn_cryptonn_client_new(&c, &ta, threads)) != 0 ||
        (rc = henn_cryptonn_server_new(&s, &m0, &o, &ta2, 0, threads)) != 0)
        goto done;
    henn_transport_to_cryptonn_server(&ts, s);
    printf("  set-up (keys, encryption tables, dlog table): %.2f s\n", cli_now() - t0);
    for (e = 0; e < epochs; e++) {
        char label[64];
        snprintf(label, sizeof(label), "  encrypted epoch %zu", e + 1);
        cli_progress_init(&prog, label);
        t0 = cli_now();
        c0 = cpu_now();
        rc = henn_cryptonn_client_train_epoch(c, &ts, Xtr, tr.labels, ntr, seed + e,
                                              cli_progress_cb, &prog, &loss, &src);
        R.t_enc += cli_now() - t0;
        R.cpu_enc += cpu_now() - c0;
        if (rc != 0) {
            if (src != 0)
                fprintf(stderr, "henn cryptonn: the server stopped the run: %s (%s)%s\n",
                        henn_strerror(src), henn_err_name(src),
                        src == HENN_ERANGE ? ": a weight or value left the fixed-point bound"
                                           : "");
            goto done;
        }
        R.acc_enc[e] = accuracy(henn_cryptonn_server_model(s), Xte, te.labels, nte);
        printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1,
               R.acc_enc[e], loss, cli_now() - t0);
    }
    if (model_path != NULL) {
        uint8_t *mb = NULL;
        size_t mlen = 0;
        FILE *f;
        if ((rc = henn_nn_model_serialize(&mb, &mlen, henn_cryptonn_server_model(s))) != 0)
            goto done;
        rc = HENN_EIO;
        if ((f = fopen(model_path, "wb")) != NULL) {
            int ok = fwrite(mb, 1, mlen, f) == mlen;
            if (fclose(f) == 0 && ok)
                rc = 0;
        }
        free(mb);
        if (rc != 0) {
            fprintf(stderr, "henn cryptonn: cannot write %s\n", model_path);
            goto done;
        }
    }
    henn_cryptonn_client_stats(&cs, c);
    henn_cryptonn_server_stats(&ss, s);
    henn_cryptonn_authority_stats(&as, a);
    {
        double n = (double)(ntr * epochs), per = R.t_enc / n;
        printf("\n  %-8s %-22s %-22s %-24s\n", "epoch", "plaintext twin", "encrypted (henn)",
               "paper LeNet-5 (pt / enc)");
        for (e = 0; e < epochs; e++)
            printf("  %-8zu %-22.4f %-22.4f %-24s\n", e + 1, R.acc_twin[e], R.acc_enc[e],
                   e == 0 ? "0.9304 / 0.9312" : e == 1 ? "0.9548 / 0.9549" : "-");
        printf("  %-8s %-22s %-22s %-24s\n", "s/image",
               "", "", "4 h / 57 h per 60k epoch");
        printf("  %-8s %-22.6f %-22.4f %-24s\n", "", R.t_twin / n, per, "~0.24 / ~1.7 (insecure)");
        printf("\n  time split per image (s): encryption %.4f, key requests %.4f (derivation "
               "%.4f), parsing %.4f, decryption %.4f (discrete logs included), plaintext "
               "layers %.4f\n",
               cs.t_encrypt / n, ss.t_keys / n, as.t_derive / n, ss.t_parse / n,
               ss.t_decrypt / n, ss.t_plain / n);
        printf("  keys: %llu FEIP, %llu FEBO; decryptions: %llu FEIP, %llu FEBO; largest "
               "|value| %llu of bound %llu\n",
               (unsigned long long)ss.keys_ip, (unsigned long long)ss.keys_bo,
               (unsigned long long)ss.decryptions_ip, (unsigned long long)ss.decryptions_bo,
               (unsigned long long)ss.max_abs_ip,
               (unsigned long long)henn_cryptonn_dlog_bound(&p));
        printf("  CPU: %.4f s per image (user + system, all threads; load average now %s); "
               "wall %.4f s per image\n",
               R.cpu_enc / n, loadavg(), per);
        printf("  extrapolated 60,000-image epoch: %.2f h at the measured wall time, %.2f "
               "CPU-hours (paper: 57 h with a 256-bit group)\n",
               per * 60000 / 3600, R.cpu_enc / n * 60000 / 3600);
        if (json_path != NULL) {
            json_t *j = json_object(), *ae = json_array(), *at = json_array(),
                   *af = json_array();
            for (e = 0; e < epochs; e++) {
                json_array_append_new(ae, json_real(R.acc_enc[e]));
                json_array_append_new(at, json_real(R.acc_twin[e]));
                json_array_append_new(af, json_real(R.acc_float[e]));
            }
            json_object_set_new(j, "net", json_string("mlp"));
            json_object_set_new(j, "data", json_string(data));
            json_object_set_new(j, "train_images", json_integer((json_int_t)ntr));
            json_object_set_new(j, "test_images", json_integer((json_int_t)nte));
            json_object_set_new(j, "threads", json_integer(threads));
            json_object_set_new(j, "layout", json_string(layout == HENN_CRYPTONN_LAYOUT_BATCH
                                                             ? "batch"
                                                             : "sample"));
            json_object_set_new(j, "acc_encrypted", ae);
            json_object_set_new(j, "acc_twin", at);
            json_object_set_new(j, "acc_float", af);
            json_object_set_new(j, "s_per_image_encrypted", json_real(per));
            json_object_set_new(j, "cpu_s_per_image_encrypted", json_real(R.cpu_enc / n));
            json_object_set_new(j, "epoch_60k_cpu_hours", json_real(R.cpu_enc / n * 60000 / 3600));
            json_object_set_new(j, "loadavg_end", json_string(loadavg()));
            json_object_set_new(j, "s_per_image_twin", json_real(R.t_twin / n));
            json_object_set_new(j, "s_encrypt", json_real(cs.t_encrypt / n));
            json_object_set_new(j, "s_keys", json_real(ss.t_keys / n));
            json_object_set_new(j, "s_derive", json_real(as.t_derive / n));
            json_object_set_new(j, "s_parse", json_real(ss.t_parse / n));
            json_object_set_new(j, "s_decrypt", json_real(ss.t_decrypt / n));
            json_object_set_new(j, "s_plain", json_real(ss.t_plain / n));
            json_object_set_new(j, "epoch_60k_hours", json_real(per * 60000 / 3600));
            json_object_set_new(j, "max_abs_value", json_integer((json_int_t)ss.max_abs_ip));
            json_object_set_new(j, "dlog_bound",
                                json_integer((json_int_t)henn_cryptonn_dlog_bound(&p)));
            if (json_dump_file(j, json_path, JSON_INDENT(2)) != 0) {
                fprintf(stderr, "henn cryptonn: cannot write %s\n", json_path);
                rc = HENN_EIO;
            }
            json_decref(j);
        }
    }
done:
    if (rc != 0 && src == 0)
        cli_error("cryptonn train", rc);
    henn_cryptonn_server_free(s);
    henn_cryptonn_client_free(c);
    henn_cryptonn_authority_free(a);
    henn_nn_trainer_free(tf);
    henn_nn_trainer_free(tt);
    henn_nn_model_clear(&m0);
    henn_nn_model_clear(&mf);
    henn_nn_model_clear(&mt);
    free(Xtr);
    free(Xte);
    free(order);
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
    return rc == 0 ? 0 : 1;
}

/* LeNet-5 with the encrypted first convolution (henn_cryptonn_lenet_*):
 * the float reference (henn_cnn_train_epoch), the fixed-point twin and the
 * encrypted run from the same initial model and batch order. */
static double cnn_acc(const henn_cnn_model *m, const float *X, const uint8_t *y, size_t n)
{
    double a = -1;
    return henn_cnn_accuracy(&a, m, X, y, n) == 0 ? a : -1;
}

/* *loss: the batches' losses weighted by rows over ntr, summed in the
 * order henn_cryptonn_client_train_epoch sums them (so an epoch over
 * henn serve reports the same figure). */
static int lenet_epoch(henn_cryptonn_lenet *L, const float *X, const uint8_t *y, size_t ntr,
                       size_t B, size_t *order, uint64_t seed, cli_progress *prog, double *loss)
{
    size_t nb = (ntr + B - 1) / B;
    double sum = 0, l = 0;
    int rc = henn_nn_batch_order(order, nb, seed);
    for (size_t i = 0; i < nb && rc == 0; i++) {
        size_t first = order[i] * B, n = ntr - first < B ? ntr - first : B;
        rc = henn_cryptonn_lenet_step(L, X + first * 784, y + first, n, &l);
        sum += l * (double)n;
        if (prog != NULL)
            cli_progress_cb(prog, (i + 1) * B < ntr ? (i + 1) * B : ntr, ntr);
    }
    *loss = sum / (double)ntr;
    return rc;
}

static int run_lenet(const char *data, size_t epochs, size_t limit, unsigned threads,
                     uint64_t seed, const char *json_path, const char *model_path)
{
    henn_mnist_set tr, te;
    char err[HENN_MNIST_ERRLEN] = "";
    float *Xtr = NULL, *Xte = NULL;
    size_t ntr, nte, e, nb, *order = NULL;
    const size_t B = 64;
    henn_cnn_model m0, mf;
    henn_cnn_trainer *tf = NULL;
    henn_cryptonn_lenet *tw = NULL, *en = NULL;
    henn_nn_opts o;
    henn_cryptonn_params p;
    henn_cryptonn_stats st;
    results R;
    cli_progress prog;
    double t0, c0, loss;
    int rc;

    memset(&R, 0, sizeof(R));
    memset(&m0, 0, sizeof(m0));
    memset(&mf, 0, sizeof(mf));
    henn_mnist_set_init(&tr);
    henn_mnist_set_init(&te);
    if (strcmp(data, "mnist") == 0)
        rc = henn_mnist_load_mnist8k(&tr, &te, HENN_DATA_DIR "/mnist", seed, err, sizeof(err));
    else
        rc = henn_mnist_load_fashion(&tr, &te, NULL, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "henn cryptonn: %s (%s)\n", err[0] ? err : "loading the data",
                henn_err_name(rc));
        goto done;
    }
    ntr = limit != 0 && limit < tr.count ? limit : tr.count;
    nte = te.count;
    rc = HENN_ENOMEM;
    Xtr = malloc(ntr * 784 * sizeof(*Xtr));
    Xte = malloc(nte * 784 * sizeof(*Xte));
    nb = (ntr + B - 1) / B;
    order = malloc(nb * sizeof(*order));
    if (tr.rows * tr.cols != 784 || Xtr == NULL || Xte == NULL || order == NULL)
        goto done;
    if ((rc = henn_mnist_to_float(Xtr, &tr, 0, ntr)) != 0 ||
        (rc = henn_mnist_to_float(Xte, &te, 0, nte)) != 0)
        goto done;
    printf("henn cryptonn: LeNet-5 (valid conv1, 44,426 parameters) on %s, %zu training / %zu "
           "test images, batch %zu, %zu epoch(s), %u thread(s)\n",
           strcmp(data, "mnist") == 0 ? "MNIST-8k" : "Fashion-MNIST", ntr, nte, B, epochs,
           threads);
    henn_cnn_opts_default(&o);
    o.max_rows = B;
    henn_cryptonn_params_default(&p, 784, (uint32_t)B, 10);
    p.d_bits = 12;
    printf("  conv1 on FEIP: the batch as one vector of %zu pixels (one c_0), keys = each "
           "5x5 filter on each patch (6 x 576 per image), dW1 keys = delta1 maps on shifted "
           "positions (150 per batch); labels on FEBO (sub keys for the predictions); "
           "authority, client and server exchange messages only\n",
           (size_t)B * 784);
    printf("  fixed point: x_q = 255 x, w_q = round(w 2^%u) with |w_q| <= 2^%u, delta per "
           "batch <= 2^%u; dlog bound %llu = max(25 255 2^%u, 64 576 255 2^%u)\n",
           p.fw, p.w_bits, p.d_bits, (unsigned long long)henn_cryptonn_lenet_dlog_bound(&p),
           p.w_bits, p.d_bits);
    if ((rc = henn_cnn_model_init_lenet5(&m0, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, seed)) != 0 ||
        (rc = henn_cnn_model_copy(&mf, &m0)) != 0 ||
        (rc = henn_cnn_trainer_new(&tf, &mf, &o)) != 0 ||
        (rc = henn_cryptonn_lenet_new(&tw, &m0, &o, &p, 0, threads, 0)) != 0)
        goto done;
    for (e = 0; e < epochs; e++) {
        t0 = cli_now();
        rc = henn_cnn_train_epoch(tf, Xtr, tr.labels, ntr, B, seed + e, NULL, NULL, &loss);
        R.t_float += cli_now() - t0;
        if (rc != 0)
            goto done;
        R.acc_float[e] = cnn_acc(&mf, Xte, te.labels, nte);
        t0 = cli_now();
        rc = lenet_epoch(tw, Xtr, tr.labels, ntr, B, order, seed + e, NULL, &loss);
        R.t_twin += cli_now() - t0;
        if (rc != 0)
            goto done;
        R.acc_twin[e] = cnn_acc(henn_cryptonn_lenet_model(tw), Xte, te.labels, nte);
        printf("  plaintext epoch %zu: float %.4f, fixed-point twin %.4f\n", e + 1,
               R.acc_float[e], R.acc_twin[e]);
    }
    t0 = cli_now();
    if ((rc = henn_cryptonn_lenet_new(&en, &m0, &o, &p, 0, threads, 1)) != 0)
        goto done;
    printf("  set-up (authority: FEIP keys for %zu pixels and FEBO; client; server: dlog "
           "table 2^22): %.2f s\n",
           (size_t)B * 784, cli_now() - t0);
    for (e = 0; e < epochs; e++) {
        char label[64];
        snprintf(label, sizeof(label), "  encrypted epoch %zu", e + 1);
        cli_progress_init(&prog, label);
        t0 = cli_now();
        c0 = cpu_now();
        rc = lenet_epoch(en, Xtr, tr.labels, ntr, B, order, seed + e, &prog, &loss);
        R.t_enc += cli_now() - t0;
        R.cpu_enc += cpu_now() - c0;
        if (rc != 0) {
            if (rc == HENN_ERANGE)
                fprintf(stderr, "henn cryptonn: a weight or value left the fixed-point bound\n");
            goto done;
        }
        R.acc_enc[e] = cnn_acc(henn_cryptonn_lenet_model(en), Xte, te.labels, nte);
        printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1,
               R.acc_enc[e], loss, cli_now() - t0);
    }
    if (model_path != NULL &&
        (rc = henn_cnn_model_save(model_path, henn_cryptonn_lenet_model(en))) != 0) {
        fprintf(stderr, "henn cryptonn: cannot write %s\n", model_path);
        goto done;
    }
    henn_cryptonn_lenet_stats(&st, en);
    {
        double n = (double)(ntr * epochs), per = R.t_enc / n;
        printf("\n  %-8s %-14s %-22s %-22s %-24s\n", "epoch", "float", "plaintext twin",
               "encrypted (henn)", "paper LeNet-5 (pt / enc)");
        for (e = 0; e < epochs; e++)
            printf("  %-8zu %-14.4f %-22.4f %-22.4f %-24s\n", e + 1, R.acc_float[e],
                   R.acc_twin[e], R.acc_enc[e],
                   e == 0 ? "0.9304 / 0.9312" : e == 1 ? "0.9548 / 0.9549" : "-");
        printf("  %-8s %-14.6f %-22.6f %-22.4f %-24s\n", "s/image", R.t_float / n,
               R.t_twin / n, per, "~0.24 / ~1.7 (insecure)");
        printf("\n  time split per image (s): encryption %.4f, key requests %.4f (derivation "
               "%.4f), parsing %.4f, decryption incl. dlog %.4f, plaintext layers %.4f\n",
               st.t_encrypt / n, st.t_keys / n, st.t_derive / n, st.t_parse / n,
               st.t_decrypt / n, st.t_plain / n);
        printf("  keys and decryptions: %llu FEIP, %llu FEBO; largest |value| %llu of bound "
               "%llu\n",
               (unsigned long long)st.keys_ip, (unsigned long long)st.keys_bo,
               (unsigned long long)st.max_abs_ip,
               (unsigned long long)henn_cryptonn_lenet_dlog_bound(&p));
        printf("  CPU: %.4f s per image (user + system, all threads; load average now %s); "
               "wall %.4f s per image\n",
               R.cpu_enc / n, loadavg(), per);
        printf("  extrapolated 60,000-image epoch: %.2f h at the measured wall time, %.2f "
               "CPU-hours (paper: 57 h with a 256-bit group)\n",
               per * 60000 / 3600, R.cpu_enc / n * 60000 / 3600);
        if (json_path != NULL) {
            json_t *j = json_object(), *ae = json_array(), *at = json_array(),
                   *af = json_array();
            for (e = 0; e < epochs; e++) {
                json_array_append_new(ae, json_real(R.acc_enc[e]));
                json_array_append_new(at, json_real(R.acc_twin[e]));
                json_array_append_new(af, json_real(R.acc_float[e]));
            }
            json_object_set_new(j, "net", json_string("lenet5"));
            json_object_set_new(j, "data", json_string(data));
            json_object_set_new(j, "train_images", json_integer((json_int_t)ntr));
            json_object_set_new(j, "test_images", json_integer((json_int_t)nte));
            json_object_set_new(j, "threads", json_integer(threads));
            json_object_set_new(j, "acc_encrypted", ae);
            json_object_set_new(j, "acc_twin", at);
            json_object_set_new(j, "acc_float", af);
            json_object_set_new(j, "s_per_image_encrypted", json_real(per));
            json_object_set_new(j, "cpu_s_per_image_encrypted", json_real(R.cpu_enc / n));
            json_object_set_new(j, "epoch_60k_cpu_hours", json_real(R.cpu_enc / n * 60000 / 3600));
            json_object_set_new(j, "loadavg_end", json_string(loadavg()));
            json_object_set_new(j, "s_per_image_twin", json_real(R.t_twin / n));
            json_object_set_new(j, "s_encrypt", json_real(st.t_encrypt / n));
            json_object_set_new(j, "s_keys", json_real(st.t_keys / n));
            json_object_set_new(j, "s_derive", json_real(st.t_derive / n));
            json_object_set_new(j, "s_parse", json_real(st.t_parse / n));
            json_object_set_new(j, "s_decrypt", json_real(st.t_decrypt / n));
            json_object_set_new(j, "s_plain", json_real(st.t_plain / n));
            json_object_set_new(j, "labels", json_string("febo"));
            json_object_set_new(j, "keys_febo", json_integer((json_int_t)st.keys_bo));
            json_object_set_new(j, "epoch_60k_hours", json_real(per * 60000 / 3600));
            json_object_set_new(j, "max_abs_value", json_integer((json_int_t)st.max_abs_ip));
            json_object_set_new(j, "dlog_bound",
                                json_integer((json_int_t)henn_cryptonn_lenet_dlog_bound(&p)));
            if (json_dump_file(j, json_path, JSON_INDENT(2)) != 0) {
                fprintf(stderr, "henn cryptonn: cannot write %s\n", json_path);
                rc = HENN_EIO;
            }
            json_decref(j);
        }
    }
done:
    if (rc != 0 && rc != HENN_ERANGE)
        cli_error("cryptonn train", rc);
    henn_cryptonn_lenet_free(en);
    henn_cryptonn_lenet_free(tw);
    henn_cnn_trainer_free(tf);
    henn_cnn_model_clear(&m0);
    henn_cnn_model_clear(&mf);
    free(Xtr);
    free(Xte);
    free(order);
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
    return rc == 0 ? 0 : 1;
}

int henn_cli_cryptonn(int argc, char **argv)
{
    const char *net = NULL, *data = NULL, *json = NULL, *model = NULL;
    size_t epochs = 2, limit = 0, threads = 2, seed = 1;
    uint32_t layout = HENN_CRYPTONN_LAYOUT_BATCH;
    const char *mpk = NULL, *atok_out = NULL;
    cli_svc_opts svc;
    int i, resume = 0;
    memset(&svc, 0, sizeof(svc));
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        if (argc >= 1) {
            fputs(usage_text, stdout);
            return 0;
        }
        return usage(NULL);
    }
    if (strcmp(argv[0], "authority") == 0)
        return cli_cryptonn_authority(argc, argv);
    if (strcmp(argv[0], "train") != 0)
        return usage("the subcommand is train or authority");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "--resume") == 0) {
            resume = 1;
            continue;
        }
        if (cli_svc_is_option(a)) { /* --server, --token, --ca, --insecure-http, --session-file */
            int k = cli_svc_parse(&svc, a, v);
            if (k < 0)
                return EXIT_USAGE;
            i += k - 1;
            continue;
        }
        if (v == NULL)
            return usage("an option is missing its value");
        i++;
        if (strcmp(a, "--mpk") == 0)
            mpk = v;
        else if (strcmp(a, "--authority-token-out") == 0)
            atok_out = v;
        else if (strcmp(a, "--net") == 0)
            net = v;
        else if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--json") == 0)
            json = v;
        else if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--epochs") == 0) {
            if (cli_parse_size(&epochs, v, 1, MAX_EPOCHS) != 0)
                return usage("--epochs takes 1..20");
        } else if (strcmp(a, "--limit") == 0) {
            if (cli_parse_size(&limit, v, 1, 100000000) != 0)
                return usage("--limit takes a positive count");
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_size(&threads, v, 1, 16) != 0)
                return usage("--threads takes 1..16");
        } else if (strcmp(a, "--layout") == 0) {
            if (v != NULL && strcmp(v, "batch") == 0)
                layout = HENN_CRYPTONN_LAYOUT_BATCH;
            else if (v != NULL && strcmp(v, "sample") == 0)
                layout = HENN_CRYPTONN_LAYOUT_SAMPLE;
            else
                return usage("--layout is batch or sample");
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_size(&seed, v, 0, (size_t)-1) != 0)
                return usage("bad --seed");
        } else {
            fprintf(stderr, "henn cryptonn: unknown option %s\n", a);
            return usage(NULL);
        }
    }
    if (net == NULL || data == NULL)
        return usage("--net and --data are required");
    if (strcmp(data, "mnist") != 0 && strcmp(data, "fashion") != 0)
        return usage("--data is mnist or fashion");
    if (strcmp(net, "mlp") != 0 && strcmp(net, "lenet5") != 0)
        return usage("--net is mlp or lenet5");
    if (svc.server != NULL && json != NULL)
        return usage("--json does not apply with --server");
    if (resume && (svc.server == NULL || svc.session_file == NULL))
        return usage("--resume continues the run of --session-file F: it goes with --server "
                     "URL and --session-file F");
    if (svc.server != NULL)
        return cli_cryptonn_train_server(&svc, strcmp(net, "lenet5") == 0, resume, data, epochs,
                                         limit, (unsigned)threads, (uint64_t)seed, mpk,
                                         atok_out, model);
    if (mpk != NULL || atok_out != NULL || svc.token_file != NULL || svc.ca_file != NULL ||
        svc.session_file != NULL)
        return usage("--mpk, --authority-token-out, --token, --ca and --session-file go with "
                     "--server");
    if (strcmp(net, "lenet5") == 0)
        return run_lenet(data, epochs, limit, (unsigned)threads, (uint64_t)seed, json, model);
    return run(data, epochs, limit, (unsigned)threads, (uint64_t)seed, json, layout, model);
}
