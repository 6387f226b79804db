/*
 * CryptoNN over the service (docs/SERVICE.md, "cryptonn-mlp"), three
 * processes: the model server (henn serve), the data owner
 * (henn cryptonn train --server URL: encrypts the batches, downloads the
 * model after each epoch to report its accuracy: HNNM for the MLP, HCNM
 * for LeNet-5) and the authority
 * (henn cryptonn authority: holds the msks, answers the server's key
 * requests). Out of band: the owner hands the authority the session id and
 * its token (a 0600 file), the authority hands the owner its public keys
 * (the MPK answer, a file; public).
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "cryptonn_svc.h"
#include "henn/cryptonn.h"
#include "henn/mnist.h"
#include "henn/service.h"

#define MLP_IN 784
#define MLP_BATCH 64
#define MLP_CLASSES 10
#define MPK_WAIT_S 600

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* The whole file (malloc'd), or NULL. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    *len = 0;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1L << 30) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* A secret or public file written whole under a temporary name, then
 * renamed (a reader never sees half of it); mode 0600. */
static int write_file(const char *path, const void *b, size_t len)
{
    char tmp[1100];
    int fd, ok;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return HENN_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return HENN_EIO;
    ok = write(fd, b, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return HENN_EIO;
    }
    return 0;
}

/* The first line of a token file (64 hex characters), or NULL. */
static char *read_token(const char *path, size_t want)
{
    size_t len, n = 0;
    uint8_t *buf = read_file(path, &len);
    char *t;
    if (buf == NULL)
        return NULL;
    while (n < len && buf[n] != '\n' && buf[n] != '\r')
        n++;
    t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, buf, n);
        t[n] = '\0';
    }
    henn_memzero(buf, len);
    free(buf);
    if (t != NULL && want != 0 && strlen(t) != want) {
        henn_memzero(t, n);
        free(t);
        t = NULL;
    }
    return t;
}

/* A transport that answers the client's MPK request with the authority's
 * MPK answer read from a file. */
typedef struct mpk_file {
    const uint8_t *b;
    size_t len;
} mpk_file;

static int mpk_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    mpk_file *m = ctx;
    (void)req;
    (void)req_len;
    *resp = malloc(m->len);
    if (*resp == NULL)
        return HENN_ENOMEM;
    memcpy(*resp, m->b, m->len);
    *resp_len = m->len;
    return 0;
}

static double accuracy(const henn_nn_model *m, const float *X, const uint8_t *y, size_t n)
{
    uint8_t *pred = malloc(n);
    size_t ok = 0, i;
    if (pred == NULL || henn_nn_predict(pred, m, X, n) != 0) {
        free(pred);
        return -1;
    }
    for (i = 0; i < n; i++)
        ok += pred[i] == y[i];
    free(pred);
    return (double)ok / (double)n;
}

/* The training and test images as floats in [0, 1] (the first `limit`
 * training images; 0: all). */
static int load_images(const char *data, size_t limit, uint64_t seed, henn_mnist_set *tr,
                       henn_mnist_set *te, float **Xtr, float **Xte, size_t *ntr, size_t *nte)
{
    char err[HENN_MNIST_ERRLEN] = "";
    int rc;
    if (strcmp(data, "mnist") == 0)
        rc = henn_mnist_load_mnist8k(tr, te, HENN_DATA_DIR "/mnist", seed, err, sizeof(err));
    else
        rc = henn_mnist_load_fashion(tr, te, NULL, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "henn cryptonn: %s (%s)\n", err[0] ? err : "loading the data",
                henn_err_name(rc));
        return rc;
    }
    *ntr = limit != 0 && limit < tr->count ? limit : tr->count;
    *nte = te->count;
    *Xtr = malloc(*ntr * MLP_IN * sizeof(**Xtr));
    *Xte = malloc(*nte * MLP_IN * sizeof(**Xte));
    if (tr->rows * tr->cols != MLP_IN || *Xtr == NULL || *Xte == NULL)
        return HENN_ENOMEM;
    if ((rc = henn_mnist_to_float(*Xtr, tr, 0, *ntr)) != 0)
        return rc;
    return henn_mnist_to_float(*Xte, te, 0, *nte);
}

/* The session's config: cryptonn-mlp: the initial 784-128-10 model (seed)
 * and Adam; cryptonn-lenet5: LeNet-5 from seed (max pooling) and its SGD
 * setting, the models henn cryptonn train builds in-process. */
static int session_config(char **cfg, int lenet, uint64_t seed)
{
    const size_t dims[] = {MLP_IN, 128, MLP_CLASSES};
    henn_nn_model m0;
    uint8_t *sm = NULL;
    size_t slen = 0, blen;
    char *b64 = NULL;
    int rc;

    *cfg = NULL;
    if (lenet) {
        *cfg = malloc(160);
        if (*cfg == NULL)
            return HENN_ENOMEM;
        snprintf(*cfg, 160,
                 "{\"lenet5\":{\"seed\":%llu,\"pool\":\"max\"},\"nn\":{\"optimizer\":\"sgd\","
                 "\"lr\":0.05,\"momentum\":0.9}}",
                 (unsigned long long)seed);
        return 0;
    }
    henn_nn_model_init_empty(&m0);
    if ((rc = henn_nn_model_init(&m0, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, seed)) != 0 ||
        (rc = henn_nn_model_serialize(&sm, &slen, &m0)) != 0)
        goto done;
    rc = HENN_ENOMEM;
    blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
    if ((b64 = malloc(blen)) == NULL || (*cfg = malloc(blen + 64)) == NULL)
        goto done;
    sodium_bin2base64(b64, blen, sm, slen, sodium_base64_VARIANT_ORIGINAL);
    sprintf(*cfg, "{\"model\":\"%s\",\"nn\":{\"optimizer\":\"adam\"}}", b64);
    rc = 0;
done:
    free(b64);
    free(sm);
    henn_nn_model_clear(&m0);
    return rc;
}

/* Creates the session (protocol, cfg), writes the authority's token to
 * atok_out (0600), tells the user how to start the authority, waits for
 * its public keys in mpk_path and makes the owner's client from them
 * (checked against 784 inputs, batch 64, 10 classes). *stok: the server
 * token read from so->token_file (the caller wipes and frees it). */
static int open_session(henn_svc_client **c, henn_cryptonn_client **cc, char **stok,
                        const cli_svc_opts *so, const char *protocol, const char *net,
                        const char *cfg, unsigned threads, const char *mpk_path,
                        const char *atok_out)
{
    henn_svc_client_opts co;
    char atok[65] = "";
    uint8_t *mpk = NULL;
    size_t mlen = 0;
    mpk_file mf;
    henn_transport tm;
    double t0;
    int rc;

    memset(&co, 0, sizeof(co));
    co.url = so->server;
    co.ca_file = so->ca_file;
    co.allow_insecure_http = so->insecure_http;
    co.retry_s = so->retry_s;
    if (so->token_file != NULL && (*stok = read_token(so->token_file, 0)) == NULL) {
        fprintf(stderr, "henn cryptonn: cannot read the token file %s\n", so->token_file);
        return HENN_EIO;
    }
    co.server_token = *stok;
    rc = henn_svc_client_create_authority(c, atok, &co, protocol, cfg);
    if (rc != 0) {
        fprintf(stderr, "henn: server: could not create the session (%s)\n",
                henn_err_name(rc));
        return rc;
    }
    rc = write_file(atok_out, atok, strlen(atok));
    henn_memzero(atok, sizeof(atok));
    if (rc != 0) {
        fprintf(stderr, "henn cryptonn: cannot write %s\n", atok_out);
        return rc;
    }
    printf("  session %s; the authority's token is in %s (0600). Start the authority:\n"
           "    henn cryptonn authority --net %s --server %s --session %s --token-file %s "
           "--mpk-out %s\n",
           henn_svc_client_session(*c), atok_out, net, so->server, henn_svc_client_session(*c),
           atok_out, mpk_path);
    fflush(stdout);
    /* The authority's public keys, when it has written them. */
    t0 = cli_now();
    while ((mpk = read_file(mpk_path, &mlen)) == NULL && cli_now() - t0 < MPK_WAIT_S)
        sleep_s(0.2);
    if (mpk == NULL) {
        fprintf(stderr, "henn cryptonn: no public keys in %s after %d s\n", mpk_path,
                MPK_WAIT_S);
        return HENN_ETIMEDOUT;
    }
    mf.b = mpk;
    mf.len = mlen;
    memset(&tm, 0, sizeof(tm));
    tm.call = mpk_call;
    tm.ctx = &mf;
    rc = henn_cryptonn_client_new(cc, &tm, threads);
    free(mpk);
    if (rc != 0)
        return rc;
    if (henn_cryptonn_client_params(*cc)->in_dim != MLP_IN ||
        henn_cryptonn_client_params(*cc)->batch != MLP_BATCH ||
        henn_cryptonn_client_params(*cc)->classes != MLP_CLASSES) {
        fprintf(stderr, "henn cryptonn: the authority's parameters are not the %s's "
                        "(784 inputs, batch 64, 10 classes)\n",
                net);
        return HENN_EINVAL;
    }
    return 0;
}

int cli_cryptonn_train_server(const cli_svc_opts *so, int lenet, const char *data,
                              size_t epochs, size_t limit, unsigned threads, uint64_t seed,
                              const char *mpk_path, const char *atok_out,
                              const char *model_out)
{
    henn_mnist_set tr, te;
    char *cfg = NULL, *stok = NULL;
    float *Xtr = NULL, *Xte = NULL;
    size_t ntr = 0, nte = 0, e, slen = 0;
    henn_nn_model got;
    henn_cnn_model gotc;
    henn_svc_client *c = NULL;
    henn_cryptonn_client *cc = NULL;
    henn_transport ts;
    uint8_t *res = NULL;
    cli_progress prog;
    double t0, loss = 0;
    int rc, src = 0;

    henn_mnist_set_init(&tr);
    henn_mnist_set_init(&te);
    henn_nn_model_init_empty(&got);
    memset(&gotc, 0, sizeof(gotc));
    if (mpk_path == NULL || atok_out == NULL) {
        fprintf(stderr, "henn cryptonn: --server needs --mpk F (the authority's public keys, "
                        "written by henn cryptonn authority --mpk-out) and "
                        "--authority-token-out F\n");
        return 2;
    }
    if ((rc = load_images(data, limit, seed, &tr, &te, &Xtr, &Xte, &ntr, &nte)) != 0 ||
        (rc = session_config(&cfg, lenet, seed)) != 0)
        goto done;
    printf("henn cryptonn: %s on %s, %zu training / %zu test images, batch %d, "
           "%zu epoch(s); the server's side runs on %s\n",
           lenet ? "LeNet-5 (valid conv1, encrypted)" : "MLP 784-128-10",
           strcmp(data, "mnist") == 0 ? "MNIST-8k" : "Fashion-MNIST", ntr, nte, MLP_BATCH,
           epochs, so->server);
    rc = open_session(&c, &cc, &stok, so, lenet ? "cryptonn-lenet5" : "cryptonn-mlp",
                      lenet ? "lenet5" : "mlp", cfg, threads, mpk_path, atok_out);
    if (rc != 0)
        goto done;
    henn_svc_client_transport(&ts, c);
    for (e = 0; e < epochs; e++) {
        char label[64];
        snprintf(label, sizeof(label), "  encrypted epoch %zu", e + 1);
        cli_progress_init(&prog, label);
        t0 = cli_now();
        rc = henn_cryptonn_client_train_epoch(cc, &ts, Xtr, tr.labels, ntr, seed + e,
                                              cli_progress_cb, &prog, &loss, &src);
        if (rc != 0) {
            if (src != 0)
                fprintf(stderr, "henn cryptonn: the server stopped the run: %s (%s)\n",
                        henn_strerror(src), henn_err_name(src));
            else if (henn_svc_client_error(c)[0] != '\0')
                fprintf(stderr, "henn: server: %s\n", henn_svc_client_error(c));
            goto done;
        }
        free(res);
        res = NULL;
        henn_nn_model_clear(&got);
        henn_cnn_model_clear(&gotc);
        if ((rc = henn_svc_client_result(c, &res, &slen)) != 0)
            goto done;
        /* The epoch's loss is the mean of the batches' losses by rows. */
        if (lenet) {
            double acc = -1;
            if ((rc = henn_cnn_model_deserialize(&gotc, res, slen)) != 0 ||
                (rc = henn_cnn_accuracy(&acc, &gotc, Xte, te.labels, nte)) != 0)
                goto done;
            printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1,
                   acc, loss, cli_now() - t0);
            continue;
        }
        if ((rc = henn_nn_model_deserialize(&got, res, slen)) != 0)
            goto done;
        printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1,
               accuracy(&got, Xte, te.labels, nte), loss, cli_now() - t0);
    }
    if (model_out != NULL && res != NULL && (rc = write_file(model_out, res, slen)) != 0)
        fprintf(stderr, "henn cryptonn: cannot write %s\n", model_out);
done:
    if (rc != 0 && src == 0)
        cli_error("cryptonn train --server", rc);
    if (c != NULL && henn_svc_client_delete(c) != 0)
        fprintf(stderr, "henn cryptonn: the session could not be deleted\n");
    henn_svc_client_free(c);
    henn_cryptonn_client_free(cc);
    if (stok != NULL) {
        henn_memzero(stok, strlen(stok));
        free(stok);
    }
    free(cfg);
    free(res);
    free(Xtr);
    free(Xte);
    henn_nn_model_clear(&got);
    henn_cnn_model_clear(&gotc);
    henn_mnist_set_clear(&tr);
    henn_mnist_set_clear(&te);
    return rc == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- authority */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int should_stop(void *user)
{
    (void)user;
    return stop_flag != 0;
}

static const char authority_usage[] =
    "usage: henn cryptonn authority --server URL --session ID --token-file F --mpk-out F\n"
    "       [--net mlp|lenet5] [--layout batch|sample] [--threads T] [--ca F]\n"
    "       [--insecure-http]\n"
    "  The CryptoNN authority of a cryptonn-mlp (--net mlp, the default) or\n"
    "  cryptonn-lenet5 (--net lenet5: BATCH layout only, delta bound 2^12)\n"
    "  session (henn cryptonn train --server): makes the master keys (784\n"
    "  inputs, batch 64, 10 classes), writes its public keys to --mpk-out for\n"
    "  the owner, and answers the server's key requests (LeNet-5: KEYS_CONV)\n"
    "  until the session is deleted or SIGINT/SIGTERM. The master keys never\n"
    "  leave this process.\n";

int cli_cryptonn_authority(int argc, char **argv)
{
    const char *server = NULL, *session = NULL, *token_file = NULL, *mpk_out = NULL,
               *ca = NULL;
    uint32_t layout = HENN_CRYPTONN_LAYOUT_BATCH;
    size_t threads = 2;
    int insecure = 0, lenet = 0, i, rc;
    char *token = NULL;
    henn_cryptonn_params p;
    henn_cryptonn_authority *a = NULL;
    henn_transport ta;
    henn_svc_client_opts co;
    uint8_t *mpk = NULL;
    size_t mlen = 0;
    uint64_t answered = 0;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
            fputs(authority_usage, stdout);
            return 0;
        }
        if (strcmp(k, "--insecure-http") == 0) {
            insecure = 1;
            continue;
        }
        if (v == NULL) {
            fputs(authority_usage, stderr);
            return 2;
        }
        i++;
        if (strcmp(k, "--server") == 0)
            server = v;
        else if (strcmp(k, "--session") == 0)
            session = v;
        else if (strcmp(k, "--token-file") == 0)
            token_file = v;
        else if (strcmp(k, "--mpk-out") == 0)
            mpk_out = v;
        else if (strcmp(k, "--ca") == 0)
            ca = v;
        else if (strcmp(k, "--threads") == 0 && cli_parse_size(&threads, v, 1, 16) == 0)
            ;
        else if (strcmp(k, "--net") == 0 && strcmp(v, "mlp") == 0)
            lenet = 0;
        else if (strcmp(k, "--net") == 0 && strcmp(v, "lenet5") == 0)
            lenet = 1;
        else if (strcmp(k, "--layout") == 0 && strcmp(v, "batch") == 0)
            layout = HENN_CRYPTONN_LAYOUT_BATCH;
        else if (strcmp(k, "--layout") == 0 && strcmp(v, "sample") == 0)
            layout = HENN_CRYPTONN_LAYOUT_SAMPLE;
        else {
            fprintf(stderr, "henn cryptonn authority: bad option %s\n", k);
            fputs(authority_usage, stderr);
            return 2;
        }
    }
    if (server == NULL || session == NULL || token_file == NULL || mpk_out == NULL) {
        fputs(authority_usage, stderr);
        return 2;
    }
    if (lenet && layout != HENN_CRYPTONN_LAYOUT_BATCH) {
        fprintf(stderr, "henn cryptonn authority: --net lenet5 takes the batch layout\n");
        return 2;
    }
    if ((token = read_token(token_file, 64)) == NULL) {
        fprintf(stderr, "henn cryptonn authority: %s does not hold a 64-character token\n",
                token_file);
        return 1;
    }
    henn_cryptonn_params_default(&p, MLP_IN, MLP_BATCH, MLP_CLASSES);
    p.layout = layout;
    if (lenet)
        p.d_bits = 12; /* henn cryptonn train --net lenet5's setting */
    rc = henn_cryptonn_authority_new(&a, &p);
    if (rc == 0) {
        static const uint8_t mpk_req[12] = {'H', 'C', 'N', 1, 1, 0, 0, 0, 0, 0, 0, 0};
        henn_cryptonn_authority_set_threads(a, (unsigned)threads);
        rc = henn_cryptonn_authority_handle(a, mpk_req, sizeof(mpk_req), &mpk, &mlen);
    }
    if (rc == 0)
        rc = write_file(mpk_out, mpk, mlen);
    if (rc != 0) {
        cli_error("cryptonn authority", rc);
        goto done;
    }
    printf("henn cryptonn authority: public keys in %s; answering session %s's key requests\n",
           mpk_out, session);
    fflush(stdout);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(&co, 0, sizeof(co));
    co.url = server;
    co.ca_file = ca;
    co.allow_insecure_http = insecure;
    henn_transport_to_cryptonn_authority(&ta, a);
    rc = henn_svc_authority_serve(&co, session, token, &ta, should_stop, NULL, &answered);
    if (rc == HENN_EIO && answered > 0) {
        /* After serving: the session was deleted (or the server is gone). */
        printf("henn cryptonn authority: the session has ended; %llu requests answered\n",
               (unsigned long long)answered);
        rc = 0;
    } else if (rc == 0) {
        printf("henn cryptonn authority: stopped; %llu requests answered\n",
               (unsigned long long)answered);
    } else {
        fprintf(stderr, "henn cryptonn authority: the server refused or could not be reached "
                        "(%s)\n",
                henn_err_name(rc));
    }
done:
    henn_memzero(token, strlen(token));
    free(token);
    free(mpk);
    henn_cryptonn_authority_free(a);
    return rc == 0 ? 0 : 1;
}
