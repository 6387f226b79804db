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

/* The run's net as the owner holds it, the one place its architecture is
 * stated: cryptonn-mlp: the initial 784-128-10 model (ReLU, softmax) from
 * seed, sent in the session's config; cryptonn-lenet5: LeNet-5 (valid
 * conv1, max pooling, ReLU) from seed, the model the server builds from
 * that config. Both are the models henn cryptonn train builds in-process.
 * Every model downloaded from the server is checked against its shape. */
typedef struct owner_net {
    int lenet;
    henn_nn_model mlp; /* cryptonn-mlp */
    henn_cnn_model cnn; /* cryptonn-lenet5 */
} owner_net;

/* n (zeroed) set to the run's net (lenet: LeNet-5, else the MLP) from
 * seed; net_clear frees it (safe on a zeroed n and after a failed
 * net_init). Returns 0, HENN_ENOMEM. */
static int net_init(owner_net *n, int lenet, uint64_t seed)
{
    const size_t dims[] = {MLP_IN, 128, MLP_CLASSES};
    n->lenet = lenet;
    if (lenet)
        return henn_cnn_model_init_lenet5(&n->cnn, 0, HENN_NN_RELU, HENN_CNN_MAXPOOL, seed);
    return henn_nn_model_init(&n->mlp, dims, 3, HENN_NN_RELU, HENN_NN_SOFTMAX_CE, seed);
}

static void net_clear(owner_net *n)
{
    henn_nn_model_clear(&n->mlp);
    henn_cnn_model_clear(&n->cnn);
}

/* The session's config: cryptonn-mlp: the net's initial model and Adam;
 * cryptonn-lenet5: the seed of the net's LeNet-5 (its max pooling) and
 * its SGD setting. */
static int session_config(char **cfg, const owner_net *net, uint64_t seed)
{
    uint8_t *sm = NULL;
    size_t slen = 0, blen;
    char *b64 = NULL;
    int rc;

    *cfg = NULL;
    if (net->lenet) {
        *cfg = malloc(160);
        if (*cfg == NULL)
            return HENN_ENOMEM;
        snprintf(*cfg, 160,
                 "{\"lenet5\":{\"seed\":%llu,\"pool\":\"max\"},\"nn\":{\"optimizer\":\"sgd\","
                 "\"lr\":0.05,\"momentum\":0.9}}",
                 (unsigned long long)seed);
        return 0;
    }
    if ((rc = henn_nn_model_serialize(&sm, &slen, &net->mlp)) != 0)
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
    return rc;
}

/* ---------------------------------------------------------------- the owner */

/* Test hooks of the service client (src/service/client_internal.h). */
uint64_t henn__svc_client_seq(const henn_svc_client *c);
uint64_t henn__svc_client_journal_start(const char *path);
uint64_t henn__svc_client_replayed(const henn_svc_client *c);

/*
 * The owner's run over the service. With --session-file F it survives a
 * kill of this process (docs/SERVICE.md, "cryptonn-mlp", "The owner
 * killed and restarted"). Message k (seq k) of the session is the run's
 * k-th batch, epoch after epoch in henn_nn_batch_order(seed + epoch) order
 * (the server takes no other message). F (0600, rewritten atomically by
 * cli_svc_save_extra) holds the URL, session and token, "protocol", the
 * run's fingerprint, the SHA-256 of the authority's public keys (the --mpk
 * file; "" until they arrived), "done" (the messages whose answers F
 * records), "loss_sum" (the current epoch's batch losses times their rows
 * so far), "epochs" (each finished epoch's test accuracy, loss and
 * seconds) and "jstart" (the session's seq when F.journal was opened).
 * F.journal (henn_svc_client_journal) holds the messages after jstart:
 * after each answer is recorded in F the client is made again on the same
 * session with a new journal, so the journal holds at most one batch and
 * a restarted owner encrypts at most one batch again.
 */
typedef struct owner_run {
    const cli_svc_opts *so;
    henn_svc_client_opts co;
    henn_svc_client *c;
    henn_transport ts;
    const char *protocol;
    char *journal;     /* F.journal; NULL without --session-file */
    char fp[65];       /* the run's fingerprint */
    char mpk_hash[65]; /* hex SHA-256 of the authority's public keys, or "" */
    uint64_t done, jstart, replayed;
    double loss_sum;
    size_t nepochs; /* finished epochs */
    double acc[CN_MAX_EPOCHS], loss[CN_MAX_EPOCHS], secs[CN_MAX_EPOCHS];
} owner_run;

static void hex_sha256(char hex[65], const uint8_t *b, size_t len)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, b, len);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* What the run's messages depend on: the net, the data set, the training
 * images and labels (after --limit), the test set's size, the epochs and
 * the seed (model and batch order). */
static void run_fingerprint(char hex[65], int lenet, const char *data, size_t epochs,
                            uint64_t seed, const float *Xtr, const uint8_t *ytr, size_t ntr,
                            size_t nte)
{
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    char head[256];
    snprintf(head, sizeof(head), "henn cryptonn %s %s %zu %zu %zu %llu",
             lenet ? "lenet5" : "mlp", data, ntr, nte, epochs, (unsigned long long)seed);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)head, strlen(head));
    crypto_hash_sha256_update(&st, (const uint8_t *)Xtr, ntr * MLP_IN * sizeof(*Xtr));
    crypto_hash_sha256_update(&st, ytr, ntr);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* F rewritten with the run's state (nothing without --session-file). */
static int save_state(const owner_run *r)
{
    json_t *ep, *extra;
    size_t e;
    int rc;
    if (r->journal == NULL)
        return 0;
    ep = json_array();
    for (e = 0; ep != NULL && e < r->nepochs; e++) {
        if (json_array_append_new(ep, json_pack("{s:f, s:f, s:f}", "accuracy", r->acc[e],
                                                "loss", r->loss[e], "seconds",
                                                r->secs[e])) != 0) {
            json_decref(ep);
            ep = NULL;
        }
    }
    extra = ep == NULL ? NULL
                       : json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:o}", "protocol",
                                   r->protocol, "fingerprint", r->fp, "mpk_sha256", r->mpk_hash,
                                   "done", (json_int_t)r->done, "jstart", (json_int_t)r->jstart,
                                   "loss_sum", r->loss_sum, "epochs", ep);
    rc = extra != NULL ? cli_svc_save_extra(r->so, r->c, extra) : HENN_ENOMEM;
    json_decref(extra);
    return rc;
}

/* The state saved in F (j), checked against the run: nb batches per
 * epoch, epochs epochs. */
static int load_state(owner_run *r, const json_t *j, size_t nb, size_t epochs)
{
    const json_t *ep = json_object_get(j, "epochs"), *d = json_object_get(j, "done"),
                 *js = json_object_get(j, "jstart"), *ls = json_object_get(j, "loss_sum");
    const char *h = json_string_value(json_object_get(j, "mpk_sha256"));
    size_t e;

    if (!json_is_array(ep) || !json_is_integer(d) || !json_is_integer(js) ||
        !json_is_number(ls) || h == NULL || (strlen(h) != 0 && strlen(h) != 64) ||
        json_integer_value(d) < 0 || json_integer_value(js) < 0 ||
        json_array_size(ep) > epochs)
        return HENN_EFORMAT;
    r->done = (uint64_t)json_integer_value(d);
    r->jstart = (uint64_t)json_integer_value(js);
    r->loss_sum = json_number_value(ls);
    r->nepochs = json_array_size(ep);
    memcpy(r->mpk_hash, h, strlen(h) + 1);
    for (e = 0; e < r->nepochs; e++) {
        const json_t *v = json_array_get(ep, e), *a = json_object_get(v, "accuracy"),
                     *l = json_object_get(v, "loss"), *s = json_object_get(v, "seconds");
        if (!json_is_number(a) || !json_is_number(l) || !json_is_number(s))
            return HENN_EFORMAT;
        r->acc[e] = json_number_value(a);
        r->loss[e] = json_number_value(l);
        r->secs[e] = json_number_value(s);
    }
    /* An epoch's messages follow the previous epoch's record; the journal
     * starts at done, or one before it (killed before F said otherwise). */
    if (r->done < r->nepochs * nb || r->done > (r->nepochs + 1) * nb ||
        r->done > epochs * nb || (r->done != r->jstart && r->done != r->jstart + 1) ||
        (r->mpk_hash[0] == '\0' && r->done != 0))
        return HENN_EFORMAT;
    return 0;
}

/* The user's line to start the authority. */
static void print_authority(const owner_run *r, const char *net, const char *atok_out,
                            const char *mpk_path)
{
    printf("  session %s; the authority's token is in %s (0600). Start the authority:\n"
           "    henn cryptonn authority --net %s --server %s --session %s --token-file %s "
           "--mpk-out %s\n",
           henn_svc_client_session(r->c), atok_out, net, r->so->server,
           henn_svc_client_session(r->c), atok_out, mpk_path);
    fflush(stdout);
}

/* Creates the session (protocol, cfg), writes the authority's token to
 * atok_out (0600) and, with --session-file, opens the journal and writes
 * F. *stok: the server token read from so->token_file (the caller wipes
 * and frees it). */
static int create_run(owner_run *r, char **stok, const char *cfg, const char *atok_out)
{
    char atok[65] = "";
    int rc;

    if (r->so->token_file != NULL && (*stok = read_token(r->so->token_file, 0)) == NULL) {
        fprintf(stderr, "henn cryptonn: cannot read the token file %s\n", r->so->token_file);
        return HENN_EIO;
    }
    r->co.server_token = *stok;
    rc = henn_svc_client_create_authority(&r->c, atok, &r->co, r->protocol, cfg);
    r->co.server_token = NULL;
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
    if (r->journal != NULL && (rc = henn_svc_client_journal(r->c, r->journal, 0)) != 0) {
        fprintf(stderr, "henn cryptonn: %s\n", henn_svc_client_error(r->c));
        return rc;
    }
    return save_state(r);
}

/* --resume: reattaches to F's session, checks the fingerprint and
 * restores the state. Prints its reason on failure. */
static int resume_run(owner_run *r, size_t nb, size_t epochs)
{
    json_t *j = NULL;
    const char *f;
    int rc = cli_svc_resume_extra(&r->c, &j, r->so, r->protocol, "fingerprint");

    if (rc != 0)
        return rc;
    f = json_string_value(json_object_get(j, "fingerprint"));
    if (f == NULL || strcmp(f, r->fp) != 0) {
        fprintf(stderr, "henn cryptonn: --resume: %s was a run on other data or options "
                        "(--net, --data, --limit, --epochs, --seed): run the same command "
                        "again\n",
                r->so->session_file);
        rc = HENN_EINVAL;
    } else if ((rc = load_state(r, j, nb, epochs)) != 0) {
        fprintf(stderr, "henn cryptonn: --resume: %s does not hold a consistent run\n",
                r->so->session_file);
    }
    json_decref(j);
    return rc;
}

/* --resume, once F and the public keys passed the checks: the journal,
 * replayed when it may hold the message after done, or a new one when F
 * says the old one's messages are all recorded. */
static int resume_journal(owner_run *r)
{
    uint64_t seq = henn__svc_client_seq(r->c), js = henn__svc_client_journal_start(r->journal);
    int rc;
    /* message k is the run's k-th batch: the server is at done, or one
     * after it (the journal's batch in flight), and the journal began
     * where F says (a journal F does not describe would answer or send
     * another batch under a batch's seq, or send a batch again) */
    if ((seq != r->done && !(r->done == r->jstart && seq == r->done + 1)) ||
        (r->done == r->jstart && js != UINT64_MAX && js != r->jstart)) {
        fprintf(stderr, "henn cryptonn: --resume: the server's session is at message %llu, "
                        "%s at %llu and its journal at %llu: it cannot be resumed\n",
                (unsigned long long)seq, r->so->session_file, (unsigned long long)r->done,
                (unsigned long long)js);
        return HENN_EPROTO;
    }
    if (r->done == r->jstart) {
        /* the journal may hold the next message, sent or answered */
        if ((rc = henn_svc_client_journal(r->c, r->journal, 1)) != 0)
            fprintf(stderr, "henn cryptonn: --resume: %s\n", henn_svc_client_error(r->c));
    } else if (seq != r->done) {
        fprintf(stderr, "henn cryptonn: --resume: the server's session is at message %llu, "
                        "%s at %llu: it cannot be resumed\n",
                (unsigned long long)seq, r->so->session_file, (unsigned long long)r->done);
        rc = HENN_EPROTO;
    } else {
        /* killed before the journal after done was recorded: a new one */
        if ((rc = henn_svc_client_journal(r->c, r->journal, 0)) != 0)
            fprintf(stderr, "henn cryptonn: --resume: %s\n", henn_svc_client_error(r->c));
        r->jstart = r->done;
        if (rc == 0)
            rc = save_state(r);
    }
    return rc;
}

/* After an answer: F records it, then a new client on the session with a
 * new journal (the old one's messages are all in F), recorded in F. */
static int record_answer(owner_run *r)
{
    char session[40], token[72]; /* 32 and 64 hex characters */
    int rc = save_state(r);
    if (rc != 0 || r->journal == NULL)
        return rc;
    snprintf(session, sizeof(session), "%s", henn_svc_client_session(r->c));
    snprintf(token, sizeof(token), "%s", henn_svc_client_token(r->c));
    r->replayed += henn__svc_client_replayed(r->c);
    henn_svc_client_free(r->c); /* unlocks the journal */
    r->c = NULL;
    rc = henn_svc_client_resume(&r->c, &r->co, session, token);
    henn_memzero(token, sizeof(token));
    if (rc != 0) {
        fprintf(stderr, "henn: server %s: cannot reattach to the session: %s\n", r->so->server,
                r->c != NULL && *henn_svc_client_error(r->c) ? henn_svc_client_error(r->c)
                                                             : henn_strerror(rc));
        return rc;
    }
    if (henn__svc_client_seq(r->c) != r->done) {
        fprintf(stderr, "henn cryptonn: the server's session is at message %llu after "
                        "batch %llu\n",
                (unsigned long long)henn__svc_client_seq(r->c), (unsigned long long)r->done);
        return HENN_EPROTO;
    }
    if ((rc = henn_svc_client_journal(r->c, r->journal, 0)) != 0) {
        fprintf(stderr, "henn cryptonn: %s\n", henn_svc_client_error(r->c));
        return rc;
    }
    r->jstart = r->done;
    henn_svc_client_transport(&r->ts, r->c);
    return save_state(r);
}

/* The authority's public keys: read from mpk_path (waited for when the
 * run has none yet; otherwise they must hash to the run's) and the
 * owner's client made from them (checked against 784 inputs, batch 64,
 * 10 classes). */
static int owner_client(henn_cryptonn_client **cc, owner_run *r, const char *net,
                        const char *mpk_path, unsigned threads)
{
    uint8_t *mpk = NULL;
    size_t mlen = 0;
    char h[65];
    mpk_file mf;
    henn_transport tm;
    double t0 = cli_now();
    int rc;

    while ((mpk = read_file(mpk_path, &mlen)) == NULL && r->mpk_hash[0] == '\0' &&
           cli_now() - t0 < MPK_WAIT_S)
        sleep_s(0.2);
    if (mpk == NULL) {
        if (r->mpk_hash[0] == '\0')
            fprintf(stderr, "henn cryptonn: no public keys in %s after %d s\n", mpk_path,
                    MPK_WAIT_S);
        else
            fprintf(stderr, "henn cryptonn: --resume: cannot read the authority's public "
                            "keys %s\n",
                    mpk_path);
        return r->mpk_hash[0] == '\0' ? HENN_ETIMEDOUT : HENN_EIO;
    }
    hex_sha256(h, mpk, mlen);
    if (r->mpk_hash[0] != '\0' && strcmp(h, r->mpk_hash) != 0) {
        fprintf(stderr, "henn cryptonn: --resume: the public keys in %s are not the ones "
                        "this session's run used (%s): the authority of the session wrote "
                        "them\n",
                mpk_path, r->so->session_file);
        free(mpk);
        return HENN_EKEY;
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
    if (r->mpk_hash[0] == '\0') {
        memcpy(r->mpk_hash, h, sizeof(h));
        return save_state(r);
    }
    return 0;
}

/* The session's current model (the result): its test accuracy into *acc;
 * *res its bytes (malloc'd). HENN_EPROTO when it does not have the shape
 * of the run's net (checked before it reads the test images: another
 * shape is another run's model, a wider input would read past them). */
static int model_accuracy(double *acc, uint8_t **res, size_t *slen, henn_svc_client *c,
                          const owner_net *net, const float *Xte, const uint8_t *yte, size_t nte)
{
    henn_nn_model got;
    henn_cnn_model gotc;
    int rc;

    *acc = -1;
    henn_nn_model_init_empty(&got);
    memset(&gotc, 0, sizeof(gotc));
    if ((rc = henn_svc_client_result(c, res, slen)) != 0) {
        fprintf(stderr, "henn: server: cannot download the model: %s\n",
                *henn_svc_client_error(c) ? henn_svc_client_error(c) : henn_strerror(rc));
        return rc;
    }
    if (net->lenet) {
        if ((rc = henn_cnn_model_deserialize(&gotc, *res, *slen)) == 0)
            rc = henn_cnn_model_same_shape(&gotc, &net->cnn)
                     ? henn_cnn_accuracy(acc, &gotc, Xte, yte, nte)
                     : HENN_EPROTO;
    } else if ((rc = henn_nn_model_deserialize(&got, *res, *slen)) == 0) {
        if (henn_nn_model_same_shape(&got, &net->mlp))
            *acc = accuracy(&got, Xte, yte, nte);
        else
            rc = HENN_EPROTO;
    }
    if (rc != 0)
        fprintf(stderr, "henn: server: the downloaded model is not this session's model "
                        "(%s)\n",
                henn_err_name(rc));
    henn_nn_model_clear(&got);
    henn_cnn_model_clear(&gotc);
    return rc;
}

int cli_cryptonn_train_server(const cli_svc_opts *so, int lenet, int resume, const char *data,
                              size_t epochs, size_t limit, unsigned threads, uint64_t seed,
                              const char *mpk_path, const char *atok_out,
                              const char *model_out)
{
    const char *net = lenet ? "lenet5" : "mlp";
    henn_mnist_set tr, te;
    char *cfg = NULL, *stok = NULL;
    float *Xtr = NULL, *Xte = NULL;
    size_t ntr = 0, nte = 0, e, i, nb, slen = 0, *order = NULL;
    henn_cryptonn_client *cc = NULL;
    owner_net arch;
    owner_run r;
    uint8_t *res = NULL;
    cli_progress prog;
    int rc, src = 0, finished = 0, checked = 0;

    henn_mnist_set_init(&tr);
    henn_mnist_set_init(&te);
    memset(&r, 0, sizeof(r));
    memset(&arch, 0, sizeof(arch));
    if (mpk_path == NULL || atok_out == NULL) {
        fprintf(stderr, "henn cryptonn: --server needs --mpk F (the authority's public keys, "
                        "written by henn cryptonn authority --mpk-out) and "
                        "--authority-token-out F\n");
        return 2;
    }
    if (epochs > CN_MAX_EPOCHS) {
        fprintf(stderr, "henn cryptonn: --epochs takes 1..%d\n", CN_MAX_EPOCHS);
        return 2;
    }
    r.so = so;
    r.protocol = lenet ? "cryptonn-lenet5" : "cryptonn-mlp";
    r.co.url = so->server;
    r.co.ca_file = so->ca_file;
    r.co.allow_insecure_http = so->insecure_http;
    r.co.retry_s = so->retry_s;
    if ((rc = load_images(data, limit, seed, &tr, &te, &Xtr, &Xte, &ntr, &nte)) != 0 ||
        (rc = net_init(&arch, lenet, seed)) != 0 ||
        (rc = session_config(&cfg, &arch, seed)) != 0)
        goto done;
    nb = (ntr + MLP_BATCH - 1) / MLP_BATCH;
    rc = HENN_ENOMEM;
    if ((order = malloc(nb * sizeof(*order))) == NULL)
        goto done;
    if (so->session_file != NULL) {
        size_t n = strlen(so->session_file) + 9;
        if ((r.journal = malloc(n)) == NULL)
            goto done;
        snprintf(r.journal, n, "%s.journal", so->session_file);
    }
    run_fingerprint(r.fp, lenet, data, epochs, seed, Xtr, tr.labels, ntr, nte);
    printf("henn cryptonn: %s on %s, %zu training / %zu test images, batch %d, "
           "%zu epoch(s); the server's side runs on %s\n",
           lenet ? "LeNet-5 (valid conv1, encrypted)" : "MLP 784-128-10",
           strcmp(data, "mnist") == 0 ? "MNIST-8k" : "Fashion-MNIST", ntr, nte, MLP_BATCH,
           epochs, so->server);
    if (resume) {
        if ((rc = resume_run(&r, nb, epochs)) != 0)
            goto done;
        fprintf(stderr,
                "henn cryptonn: resuming session %s from %s: %llu of %zu batches answered, "
                "%zu of %zu epochs finished\n",
                henn_svc_client_session(r.c), so->session_file, (unsigned long long)r.done,
                nb * epochs, r.nepochs, epochs);
        if (r.mpk_hash[0] == '\0')
            print_authority(&r, net, atok_out, mpk_path);
        if ((rc = owner_client(&cc, &r, net, mpk_path, threads)) != 0 ||
            (rc = resume_journal(&r)) != 0)
            goto done;
        checked = 1;
    } else {
        if ((rc = create_run(&r, &stok, cfg, atok_out)) != 0)
            goto done;
        checked = 1;
        print_authority(&r, net, atok_out, mpk_path);
        if ((rc = owner_client(&cc, &r, net, mpk_path, threads)) != 0)
            goto done;
    }
    henn_svc_client_transport(&r.ts, r.c);
    for (e = 0; e < epochs; e++) {
        char label[64];
        size_t rows = 0;
        double t0 = cli_now(), loss, acc;
        if (e < r.nepochs) { /* finished before the restart */
            printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1,
                   r.acc[e], r.loss[e], r.secs[e]);
            continue;
        }
        snprintf(label, sizeof(label), "  encrypted epoch %zu", e + 1);
        cli_progress_init(&prog, label);
        if ((rc = henn_nn_batch_order(order, nb, seed + e)) != 0)
            goto done;
        /* the batches of henn_cryptonn_client_train_epoch, one message each */
        for (i = 0; i < nb; i++) {
            size_t first = order[i] * MLP_BATCH, n = ntr - first < MLP_BATCH ? ntr - first
                                                                               : MLP_BATCH;
            double l = 0;
            rows += n;
            if (e * nb + i + 1 <= r.done)
                continue; /* answered before the restart */
            rc = henn_cryptonn_client_send_batch(cc, &r.ts, Xtr + first * MLP_IN,
                                                 tr.labels + first, n, &l, &src);
            if (rc != 0) {
                if (src != 0)
                    fprintf(stderr, "henn cryptonn: the server stopped the run: %s (%s)\n",
                            henn_strerror(src), henn_err_name(src));
                else if (henn_svc_client_error(r.c)[0] != '\0')
                    fprintf(stderr, "henn: server: %s\n", henn_svc_client_error(r.c));
                goto done;
            }
            r.loss_sum += l * (double)n;
            r.done = e * nb + i + 1;
            if ((rc = record_answer(&r)) != 0)
                goto done;
            cli_progress_cb(&prog, rows, ntr);
        }
        /* The epoch's loss is the mean of the batches' losses by rows. */
        loss = r.loss_sum / (double)ntr;
        free(res);
        res = NULL;
        if ((rc = model_accuracy(&acc, &res, &slen, r.c, &arch, Xte, te.labels, nte)) != 0)
            goto done;
        r.acc[e] = acc;
        r.loss[e] = loss;
        r.secs[e] = cli_now() - t0;
        r.nepochs = e + 1;
        r.loss_sum = 0;
        if ((rc = save_state(&r)) != 0)
            goto done;
        printf("  encrypted epoch %zu: test accuracy %.4f (loss %.4f), %.1f s\n", e + 1, acc,
               loss, r.secs[e]);
    }
    if (res == NULL) { /* every epoch finished before the restart */
        double acc;
        if ((rc = model_accuracy(&acc, &res, &slen, r.c, &arch, Xte, te.labels, nte)) != 0)
            goto done;
    }
    if (model_out != NULL && (rc = write_file(model_out, res, slen)) != 0) {
        fprintf(stderr, "henn cryptonn: cannot write %s\n", model_out);
        goto done;
    }
    finished = 1;
    if (resume)
        fprintf(stderr, "henn cryptonn: the journal answered %llu message(s) of the killed run\n",
                (unsigned long long)(r.replayed + henn__svc_client_replayed(r.c)));
done:
    if (rc != 0 && src == 0)
        cli_error("cryptonn train --server", rc);
    if (r.c != NULL && r.journal != NULL && !finished) {
        /* kept on the server for --resume (a refused --resume said why) */
        if (checked)
            fprintf(stderr, "henn cryptonn: the session stays on the server: the same "
                            "command with --resume continues it\n");
        henn_svc_client_free(r.c);
    } else if (r.c != NULL) {
        if (henn_svc_client_delete(r.c) != 0)
            fprintf(stderr, "henn cryptonn: the session could not be deleted\n");
        henn_svc_client_free(r.c);
        if (r.journal != NULL)
            unlink(r.journal); /* the run is over */
    }
    henn_cryptonn_client_free(cc);
    if (stok != NULL) {
        henn_memzero(stok, strlen(stok));
        free(stok);
    }
    free(r.journal);
    free(order);
    free(cfg);
    free(res);
    free(Xtr);
    free(Xte);
    net_clear(&arch);
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
