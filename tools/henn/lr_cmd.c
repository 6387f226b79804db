/*
 * henn lr train / eval / export: logistic regression on the Wisconsin
 * breast-cancer data (WDBC), the Framingham heart study (TenSEAL's
 * tutorial) or any numeric CSV, in the clear and on CKKS-encrypted data.
 *
 * train: plaintext gradient descent (henn/lr.h) and, with --encrypted, the
 * same algorithm run by a server on the client's encrypted records; then a
 * side-by-side table with the published system's and TenSEAL's figures.
 * eval: a saved model's metrics on the test split. export: the prepared
 * train/test splits as CSV files (bench/lr_sklearn.py reads them).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "henn/henn.h"
#include "henn/lrproto.h"
#include "lr_cmd.h"
#include "svc_cli.h"

#ifndef HENN_DATA_DIR
#define HENN_DATA_DIR "data"
#endif

static const char *lr_usage =
    "usage: henn lr train --data wdbc|framingham|FILE.csv [options]\n"
    "       henn lr eval --model FILE [--data D] [--seed S] [--encrypted] [--json F]\n"
    "       henn lr export --data D --out DIR [--seed S]\n"
    "\n"
    "Data (--data):\n"
    "  wdbc                bundled UCI breast-cancer data: stratified 80/20 split\n"
    "                      (seeded by --seed), standardised with training statistics\n"
    "  framingham          bundled Framingham data prepared as TenSEAL's tutorial\n"
    "                      (balanced, standardised, its own fixed seed: 780/334 rows)\n"
    "  FILE.csv            header line, numeric columns, label 0/1 last; split and\n"
    "                      standardised as wdbc\n"
    "  --drop-na           FILE.csv: drop rows with NA or empty fields (default:\n"
    "                      such a row is an error naming file:line:column)\n"
    "Training (defaults per data set below):\n"
    "  --epochs E          passes over the training rows (>= 1)\n"
    "  --lr A              learning rate (finite, > 0)\n"
    "  --lambda L          L2 weight of the update rule (>= 0; the rule divides it\n"
    "                      by the batch size m)\n"
    "  --batch B           rows per step (0 = full batch)\n"
    "  --poly P            sigmoid used in training: sigma3, ls3, ls5 or exact\n"
    "  --nesterov MU       Nesterov momentum in [0, 1) (0 = plain gradient descent)\n"
    "  --seed S            split seed (wdbc, CSV) and mini-batch order (default 1)\n"
    "  --encrypted         also train on CKKS-encrypted records (client/server\n"
    "                      over the loopback transport; polynomial sigmoid, no\n"
    "                      Nesterov), then score the test rows encrypted\n"
    "  --server URL ...    with --encrypted: the server's side runs on a henn\n"
    "                      server (henn serve) instead of in-process (below)\n"
    "  --resume            train --encrypted --server URL --session-file F: go on\n"
    "                      with the killed run of F (same data and options; F: the\n"
    "                      session, token and CKKS secret key, F.journal: messages)\n"
    "  --infer-rows N      encrypted inference on N records (the test rows\n"
    "                      repeated) for the records/s figure (default: test rows)\n"
    "Output:\n"
    "  --model F           write the model (the encrypted run's when there is one)\n"
    "  --json F            write the metrics as JSON\n"
    "  --out DIR           export: directory for train.csv and test.csv\n"
    "  --quiet             no table, only errors\n";

typedef enum { DS_WDBC, DS_FRAMINGHAM, DS_CSV } ds_kind;

/*
 * Training defaults per data set: henn_lr_proto_recommended() (henn/
 * lrproto.h) is the one place they live, for plaintext and encrypted runs
 * alike. Framingham: TenSEAL's tutorial (full batch, learning rate 1,
 * lambda/m = 0.05, 5 epochs, sigma3, w = 0). WDBC and CSV files: the
 * least-squares degree-5 sigmoid on [-8, 8], alpha 0.3, lambda 1, 30
 * epochs (sigma3 diverges on WDBC: docs/CLI.md).
 */
static int dataset_id(ds_kind k)
{
    return k == DS_FRAMINGHAM ? HENN_LR_DATASET_FRAMINGHAM : HENN_LR_DATASET_WDBC;
}

typedef struct lopts {
    const char *data, *model, *json, *out;
    ds_kind kind;
    int have_data, encrypted, quiet, drop_na;
    int have_epochs, have_alpha, have_lambda, have_batch, have_sigmoid, have_seed;
    size_t epochs, batch, infer_rows;
    double alpha, lambda, nesterov;
    henn_lr_sigmoid sigmoid;
    uint64_t seed;
    cli_svc_opts svc; /* --server: the LR server's side on a henn server */
    int resume;       /* --resume: continue the training of --session-file */
} lopts;

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "henn lr: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    fputs("run 'henn lr --help' for the options\n", stderr);
    return 2;
}

static const struct {
    const char *name;
    henn_lr_sigmoid kind;
} sigmoid_names[] = {{"exact", HENN_LR_SIGMOID_EXACT},
                     {"sigma3", HENN_LR_SIGMOID_POLY3},
                     {"ls3", HENN_LR_SIGMOID_LS3_8},
                     {"ls5", HENN_LR_SIGMOID_LS5_8}};

static int sigmoid_from_name(henn_lr_sigmoid *k, const char *s)
{
    size_t i;
    for (i = 0; i < sizeof(sigmoid_names) / sizeof(sigmoid_names[0]); i++)
        if (strcmp(s, sigmoid_names[i].name) == 0) {
            *k = sigmoid_names[i].kind;
            return 0;
        }
    return -1;
}

static const char *sigmoid_name(henn_lr_sigmoid k)
{
    size_t i;
    for (i = 0; i < sizeof(sigmoid_names) / sizeof(sigmoid_names[0]); i++)
        if (sigmoid_names[i].kind == k)
            return sigmoid_names[i].name;
    return "?";
}

/* One line of defaults, as henn_lr_proto_recommended gives them (lambda
 * shown per row of a step when it scales with m). */
static void print_defaults(FILE *f, const char *name, int dataset)
{
    henn_lr_opts a, b;
    if (henn_lr_proto_recommended(&a, dataset, 1000) != 0 ||
        henn_lr_proto_recommended(&b, dataset, 2000) != 0)
        return;
    fprintf(f, "  %-18s %s sigmoid, lr %g, ", name, sigmoid_name(a.sigmoid), a.alpha);
    if (a.lambda != b.lambda)
        fprintf(f, "lambda %g x m, ", a.lambda / 1000.0);
    else
        fprintf(f, "lambda %g, ", a.lambda);
    if (a.batch == 0)
        fprintf(f, "full batch, ");
    else
        fprintf(f, "batch %zu, ", a.batch);
    fprintf(f, "%zu epochs, w = 0\n", a.epochs);
}

static void usage(FILE *f)
{
    fputs(lr_usage, f);
    fputs("Server (docs/SERVICE.md):\n", f);
    fputs(cli_svc_usage, f);
    fputs("Defaults (m: rows per step):\n", f);
    print_defaults(f, "framingham", HENN_LR_DATASET_FRAMINGHAM);
    print_defaults(f, "wdbc, FILE.csv", HENN_LR_DATASET_WDBC);
}

/* A finite number in [lo, hi] (lo_open: lo itself refused). */
static int parse_real(double *out, const char *s, double lo, int lo_open, double hi)
{
    double v;
    if (cli_parse_float(&v, s) != 0 || v < lo || (lo_open && v == lo) || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* wdbc, framingham, or a CSV path (anything naming a file, containing a
 * slash or ending in .csv). Returns 0 or -1 (an unknown name). */
static int classify_data(ds_kind *k, const char *s)
{
    size_t n = strlen(s);
    if (strcmp(s, "wdbc") == 0)
        *k = DS_WDBC;
    else if (strcmp(s, "framingham") == 0)
        *k = DS_FRAMINGHAM;
    else if (n > 0 && (strchr(s, '/') != NULL || access(s, F_OK) == 0 ||
                       (n > 4 && strcmp(s + n - 4, ".csv") == 0)))
        *k = DS_CSV;
    else
        return -1;
    return 0;
}

/* Returns 0, 1 (help printed) or 2 (usage error, message printed). */
static int parse_lopts(lopts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t tmp;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--encrypted") == 0) {
            o->encrypted = 1, takes = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1, takes = 0;
        } else if (strcmp(a, "--drop-na") == 0) {
            o->drop_na = 1, takes = 0;
        } else if (strcmp(a, "--resume") == 0) {
            o->resume = 1, takes = 0;
        } else if (cli_svc_is_option(a)) {
            if ((takes = cli_svc_parse(&o->svc, a, v)) < 0)
                return 2;
            takes--;
        } else if (strncmp(a, "--", 2) != 0) {
            return bad("unexpected argument", a);
        } else if (v == NULL) {
            return bad("option needs a value (or is unknown):", a);
        } else if (strcmp(a, "--data") == 0) {
            if (classify_data(&o->kind, v) != 0)
                return bad("unknown data set (wdbc, framingham or a FILE.csv):", v);
            o->data = v;
            o->have_data = 1;
        } else if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--epochs") == 0) {
            if (cli_parse_size(&o->epochs, v, 1, 1000000) != 0)
                return bad("--epochs must be a whole number from 1 to 1000000, not", v);
            o->have_epochs = 1;
        } else if (strcmp(a, "--lr") == 0) {
            if (parse_real(&o->alpha, v, 0.0, 1, 1e6) != 0)
                return bad("--lr must be a finite number above 0, not", v);
            o->have_alpha = 1;
        } else if (strcmp(a, "--lambda") == 0) {
            if (parse_real(&o->lambda, v, 0.0, 0, 1e12) != 0)
                return bad("--lambda must be a finite number >= 0, not", v);
            o->have_lambda = 1;
        } else if (strcmp(a, "--batch") == 0) {
            if (cli_parse_size(&o->batch, v, 0, 100000000) != 0)
                return bad("--batch must be a whole number (0 = full batch), not", v);
            o->have_batch = 1;
        } else if (strcmp(a, "--poly") == 0) {
            if (sigmoid_from_name(&o->sigmoid, v) != 0)
                return bad("--poly must be sigma3, ls3, ls5 or exact, not", v);
            o->have_sigmoid = 1;
        } else if (strcmp(a, "--nesterov") == 0) {
            if (parse_real(&o->nesterov, v, 0.0, 0, 0.999999) != 0)
                return bad("--nesterov must be a number in [0, 1), not", v);
        } else if (strcmp(a, "--infer-rows") == 0) {
            if (cli_parse_size(&o->infer_rows, v, 0, 10000000) != 0)
                return bad("--infer-rows must be a whole number up to 10000000, not", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_size(&tmp, v, 0, SIZE_MAX) != 0)
                return bad("--seed must be a whole number, not", v);
            o->seed = tmp;
            o->have_seed = 1;
        } else {
            return bad("unknown option", a);
        }
        i += takes;
    }
    return 0;
}

/* Bundled data: ./data/<rel> when run from the source tree, else the
 * build's data directory. */
static void bundled_path(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "data/%s", rel);
    if (access(out, R_OK) != 0)
        snprintf(out, len, "%s/%s", HENN_DATA_DIR, rel);
}

static const char *data_label(const lopts *o)
{
    return o->kind == DS_WDBC ? "wdbc" : o->kind == DS_FRAMINGHAM ? "framingham" : o->data;
}

/* Load and prepare the train/test split the options name. Prints its own
 * message (file:line:column for CSV errors). */
static int load_data(henn_lr_data *tr, henn_lr_data *te, const lopts *o)
{
    char path[4096], err[HENN_LR_ERRLEN] = "";
    henn_lr_data all;
    int rc;
    memset(tr, 0, sizeof(*tr));
    memset(te, 0, sizeof(*te));
    memset(&all, 0, sizeof(all));
    if (o->kind == DS_WDBC) {
        bundled_path(path, sizeof(path), "wdbc/wdbc.data");
        rc = henn_lr_load_wdbc(tr, te, path, o->seed, err, sizeof(err));
    } else if (o->kind == DS_FRAMINGHAM) {
        bundled_path(path, sizeof(path), "framingham/framingham.csv");
        rc = henn_lr_load_framingham(tr, te, path, err, sizeof(err));
    } else {
        snprintf(path, sizeof(path), "%s", o->data);
        rc = henn_lr_load_csv(&all, path, o->drop_na, err, sizeof(err));
        if (rc == 0 && all.rows < 4) {
            snprintf(err, sizeof(err), "%.200s: %zu data rows; at least 4 are needed", path,
                     all.rows);
            rc = HENN_EFORMAT;
        }
        if (rc == 0) {
            rc = henn_lr_split(tr, te, &all, 0.2, o->seed);
            if (rc == 0 && (tr->rows < 2 || te->rows < 1)) {
                snprintf(err, sizeof(err),
                         "%.200s: each class needs enough rows for an 80/20 split", path);
                rc = HENN_EFORMAT;
            }
            if (rc == 0) {
                henn_lr_data *sets[2] = {tr, te};
                rc = henn_lr_standardize(sets, 2, tr);
            }
        }
        henn_lr_data_clear(&all);
    }
    if (rc != 0) {
        if (err[0] != '\0')
            fprintf(stderr, "henn lr: %s\n", err);
        else
            fprintf(stderr, "henn lr: %s: %s\n", path, henn_strerror(rc));
        henn_lr_data_clear(tr);
        henn_lr_data_clear(te);
    }
    return rc;
}

/* The options of one training run, defaults filled in for rows rows.
 * Returns 0 or a HENN_E* code (printed). */
static int resolve_opts(henn_lr_opts *t, const lopts *o, size_t rows)
{
    henn_lr_opts d;
    size_t batch = o->have_batch ? o->batch : 0, m;
    int rc;
    memset(t, 0, sizeof(*t));
    m = batch == 0 || batch > rows ? rows : batch;
    rc = henn_lr_proto_recommended(&d, dataset_id(o->kind), m);
    if (rc != 0) {
        cli_error("default training settings", rc);
        return rc;
    }
    if (!o->have_batch)
        batch = d.batch;
    t->epochs = o->have_epochs ? o->epochs : d.epochs;
    t->alpha = o->have_alpha ? o->alpha : d.alpha;
    t->batch = batch;
    t->sigmoid = o->have_sigmoid ? o->sigmoid : d.sigmoid;
    t->nesterov = o->nesterov;
    t->lambda = o->have_lambda ? o->lambda : d.lambda;
    /* the encrypted protocol takes mini-batches in row order */
    t->shuffle = !o->encrypted && t->batch > 0 && t->batch < rows;
    t->seed = o->seed;
    return 0;
}

/* Metrics and timing of one run. */
typedef struct run {
    const char *name;
    int encrypted, have;
    henn_lr_metrics mt;
    double seconds, seconds_per_epoch, samples_per_s;
    size_t test_rows, train_rows;
    /* encrypted runs (NAN or 0 when not measured) */
    double max_weight_diff;   /* max over epochs and weights, vs the plaintext twin */
    double setup_s;           /* keygen + encrypting the training records */
    double infer_per_s;       /* encrypted inference, records/s */
    double infer_agree;       /* share of predictions equal to plaintext scoring */
    double infer_max_diff;    /* max |score - plaintext score| */
    size_t infer_rows;
    double peak_mib;          /* the process's peak resident memory */
    henn_lr_client_stats cs;
} run;

static void run_init(run *r, const char *name, int encrypted)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->encrypted = encrypted;
    r->seconds = r->seconds_per_epoch = r->samples_per_s = NAN;
    r->max_weight_diff = r->setup_s = r->infer_per_s = NAN;
    r->infer_agree = r->infer_max_diff = r->peak_mib = NAN;
}

static double peak_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static int score(run *r, const henn_lr_model *m, const henn_lr_data *te)
{
    double *s = malloc(te->rows * sizeof(double));
    int rc;
    if (s == NULL)
        return HENN_ENOMEM;
    rc = henn_lr_predict(s, m, te);
    if (rc == 0)
        rc = henn_lr_metrics_compute(&r->mt, s, te->y, te->rows);
    r->test_rows = te->rows;
    free(s);
    return rc;
}

/*
 * Per-epoch callback state: the progress line, and the plaintext twin's
 * weights after every epoch (hist: epochs x (dim + 1), b last), recorded
 * by the plaintext run and compared by the encrypted one.
 */
typedef struct epoch_watch {
    cli_progress p;
    int show;
    size_t epochs, dim;
    double *hist;
    int compare;
    double max_diff;
} epoch_watch;

static void on_epoch(void *user, size_t epoch, const henn_lr_model *m)
{
    epoch_watch *ew = user;
    if (ew->show)
        cli_progress_cb(&ew->p, epoch, ew->epochs);
    if (ew->hist == NULL || epoch < 1 || epoch > ew->epochs || m->dim != ew->dim)
        return;
    double *h = ew->hist + (epoch - 1) * (ew->dim + 1);
    size_t j;
    if (!ew->compare) {
        memcpy(h, m->w, ew->dim * sizeof(double));
        h[ew->dim] = m->b;
        return;
    }
    for (j = 0; j <= ew->dim; j++) {
        double d = fabs((j < ew->dim ? m->w[j] : m->b) - h[j]);
        if (!(d <= ew->max_diff)) /* NaN counts as a difference */
            ew->max_diff = isnan(d) ? INFINITY : d;
    }
}

/* A client and a server joined by the loopback transport, or by a
 * session on a henn server (--server; then srv is NULL). With
 * --session-file F the session's messages go through the journal F.journal
 * (session_start); done: the run finished (the session is deleted and the
 * journal removed; otherwise both stay for --resume). */
typedef struct parties {
    henn_lr_client *cli;
    henn_lr_server *srv;
    henn_svc_client *svc;
    henn_transport t;
    char *journal;
    int done;
} parties;

/* Made by session_start when o->resume. */
static int parties_new(parties *p, const lopts *o)
{
    int rc;
    memset(p, 0, sizeof(*p));
    if (o->svc.server != NULL && o->resume) {
        rc = 0;
    } else if (o->svc.server != NULL) {
        rc = cli_svc_open(&p->svc, &o->svc, "lr", "{}");
        if (rc != 0)
            return rc; /* the reason is printed */
        henn_svc_client_transport(&p->t, p->svc);
        if (!o->quiet)
            fprintf(stderr, "henn lr: the server's side runs on %s\n", o->svc.server);
    } else {
        rc = henn_lr_server_new(&p->srv, NULL, NULL);
    }
    if (rc == 0)
        rc = henn_lr_client_new(&p->cli, NULL);
    if (rc == 0 && p->srv != NULL)
        henn_transport_to_lr_server(&p->t, p->srv);
    else if (rc != 0)
        cli_error("setting up the client and server", rc);
    return rc;
}

static void parties_free(parties *p)
{
    henn_lr_client_free(p->cli);
    henn_lr_server_free(p->srv);
    if (p->journal != NULL && !p->done) {
        henn_svc_client_free(p->svc); /* kept on the server for --resume */
    } else {
        cli_svc_close(p->svc);
        if (p->journal != NULL)
            unlink(p->journal); /* the run is over */
    }
    free(p->journal);
    memset(p, 0, sizeof(*p));
}

int henn__lr_client_train_keys(henn_lr_client *c, size_t dim, henn_lr_sigmoid sig,
                               const uint8_t *sk, size_t sk_len);
const henn_ckks_sk *henn__lr_client_sk(const henn_lr_client *c);
uint64_t henn__svc_client_replayed(const henn_svc_client *c);

/* A hex SHA-256 of what the encrypted run's messages depend on: the
 * training and test rows, the options and the seed (--resume replays the
 * same run from its journal). */
static void run_fingerprint(char hex[65], const lopts *o, const henn_lr_opts *t,
                            const henn_lr_data *tr, const henn_lr_data *te)
{
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    char head[512];
    snprintf(head, sizeof(head), "henn lr %s %zu %zu %zu %zu %a %a %zu %d %llu %zu",
             data_label(o), tr->rows, te->rows, tr->dim, t->epochs, t->alpha, t->lambda,
             t->batch, (int)t->sigmoid, (unsigned long long)o->seed, o->infer_rows);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)head, strlen(head));
    crypto_hash_sha256_update(&st, (const uint8_t *)tr->X, tr->rows * tr->dim * sizeof(double));
    crypto_hash_sha256_update(&st, (const uint8_t *)tr->y, tr->rows * sizeof(double));
    crypto_hash_sha256_update(&st, (const uint8_t *)te->X, te->rows * te->dim * sizeof(double));
    crypto_hash_sha256_update(&st, (const uint8_t *)te->y, te->rows * sizeof(double));
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* Wipe and free a string that jansson handed out or holds. */
static void wipe_json_string(json_t *s)
{
    if (json_is_string(s))
        henn_memzero((void *)(uintptr_t)json_string_value(s), json_string_length(s));
}

/*
 * --server URL --session-file F: the CKKS keys made before the first
 * message, F rewritten (atomically, 0600) with the secret key and the
 * run's fingerprint, then every message journaled in F.journal. With
 * --resume: the session of F reattached, its fingerprint checked, the
 * keys made again from its secret key (the server holds the killed run's
 * evaluation keys and sent ciphertexts under it) and the journal
 * replayed (henn_svc_client_journal). Prints its reason on failure.
 */
static int session_start(parties *p, const lopts *o, const henn_lr_opts *t,
                         const henn_lr_data *tr, const henn_lr_data *te)
{
    size_t n = strlen(o->svc.session_file), b64len = 0, bin_len = 0, cap = 0;
    uint8_t *bin = NULL;
    char fp[65], *b64 = NULL;
    json_t *j = NULL;
    int rc = 0;

    run_fingerprint(fp, o, t, tr, te);
    if ((p->journal = malloc(n + 9)) == NULL)
        return HENN_ENOMEM;
    snprintf(p->journal, n + 9, "%s.journal", o->svc.session_file);
    if (o->resume) {
        const char *key, *f;
        rc = cli_svc_resume_extra(&p->svc, &j, &o->svc, "lr", "ckks_sk");
        if (rc != 0)
            goto cleanup;
        f = json_string_value(json_object_get(j, "fingerprint"));
        key = json_string_value(json_object_get(j, "ckks_sk"));
        if (f == NULL || strcmp(f, fp) != 0) {
            fprintf(stderr, "henn lr: --resume: %s was a run on other data or options (rows, "
                            "epochs, lr, lambda, batch, sigmoid, seed): run the same command "
                            "again\n",
                    o->svc.session_file);
            rc = HENN_EINVAL;
            goto cleanup;
        }
        cap = key != NULL ? strlen(key) / 4 * 3 + 3 : 0;
        if (key == NULL || (bin = malloc(cap)) == NULL ||
            sodium_base642bin(bin, cap, key, strlen(key), NULL, &bin_len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
            rc = key == NULL || bin != NULL ? HENN_EFORMAT : HENN_ENOMEM;
        if (rc == 0)
            rc = henn__lr_client_train_keys(p->cli, tr->dim, t->sigmoid, bin, bin_len);
        if (rc != 0) {
            fprintf(stderr, "henn lr: --resume: the key in %s: %s\n", o->svc.session_file,
                    henn_strerror(rc));
            goto cleanup;
        }
        if ((rc = henn_svc_client_journal(p->svc, p->journal, 1)) != 0) {
            fprintf(stderr, "henn lr: --resume: %s\n", henn_svc_client_error(p->svc));
            goto cleanup;
        }
        henn_svc_client_transport(&p->t, p->svc);
        if (!o->quiet)
            fprintf(stderr, "henn lr: resuming encrypted training of session %s from %s\n",
                    henn_svc_client_session(p->svc), p->journal);
    } else {
        json_t *extra = NULL;
        rc = henn__lr_client_train_keys(p->cli, tr->dim, t->sigmoid, NULL, 0);
        if (rc == 0)
            rc = henn_ckks_sk_serialize(&bin, &bin_len, henn__lr_client_sk(p->cli));
        if (rc == 0) {
            b64len = sodium_base64_encoded_len(bin_len, sodium_base64_VARIANT_ORIGINAL);
            if ((b64 = malloc(b64len)) == NULL)
                rc = HENN_ENOMEM;
        }
        if (rc == 0) {
            sodium_bin2base64(b64, b64len, bin, bin_len, sodium_base64_VARIANT_ORIGINAL);
            extra = json_pack("{s:s, s:s, s:s}", "protocol", "lr", "fingerprint", fp,
                              "ckks_sk", b64);
            rc = extra != NULL ? cli_svc_save_extra(&o->svc, p->svc, extra) : HENN_ENOMEM;
            wipe_json_string(json_object_get(extra, "ckks_sk"));
            json_decref(extra);
        }
        if (rc == 0 && (rc = henn_svc_client_journal(p->svc, p->journal, 0)) != 0)
            fprintf(stderr, "henn lr: %s\n", henn_svc_client_error(p->svc));
        if (rc != 0)
            cli_error("the session file's key and journal", rc);
    }
cleanup:
    if (j != NULL) {
        wipe_json_string(json_object_get(j, "ckks_sk"));
        json_decref(j);
    }
    if (bin != NULL) {
        henn_memzero(bin, cap > bin_len ? cap : bin_len);
        free(bin);
    }
    if (b64 != NULL) {
        henn_memzero(b64, b64len);
        free(b64);
    }
    if (rc != 0 && o->resume) { /* the session stays for another try */
        henn_svc_client_free(p->svc);
        p->svc = NULL;
    }
    return rc;
}

/*
 * Encrypted inference of m on te's records (repeated cyclically to rows
 * records when rows > te->rows, for a throughput figure): metrics of the
 * decrypted scores into r, agreement with plaintext scoring.
 */
static int infer_encrypted(run *r, parties *p, const henn_lr_model *m, const henn_lr_data *te,
                           size_t rows)
{
    henn_lr_data big = {0};
    const henn_lr_data *d = te;
    double *se = NULL, *sp = NULL, t0;
    size_t i, same = 0;
    int rc = 0;

    if (rows > te->rows) {
        big.rows = rows;
        big.dim = te->dim;
        big.X = malloc(rows * te->dim * sizeof(double));
        big.y = malloc(rows * sizeof(double));
        if (big.X == NULL || big.y == NULL)
            rc = HENN_ENOMEM;
        for (i = 0; rc == 0 && i < rows; i++) {
            memcpy(big.X + i * te->dim, te->X + (i % te->rows) * te->dim,
                   te->dim * sizeof(double));
            big.y[i] = te->y[i % te->rows];
        }
        d = &big;
    }
    if (rc == 0) {
        se = malloc(d->rows * sizeof(double));
        sp = malloc(d->rows * sizeof(double));
        if (se == NULL || sp == NULL)
            rc = HENN_ENOMEM;
    }
    if (rc == 0)
        rc = henn_lr_predict(sp, m, d);
    if (rc == 0) {
        t0 = cli_now();
        rc = henn_lr_client_infer(p->cli, &p->t, se, m, d, 0);
        r->infer_per_s = (double)d->rows / (cli_now() - t0);
        if (rc != 0)
            cli_error("encrypted inference", rc);
    }
    if (rc == 0) {
        r->infer_max_diff = 0;
        for (i = 0; i < d->rows; i++) {
            double diff = fabs(se[i] - sp[i]);
            same += (se[i] >= 0.5) == (sp[i] >= 0.5);
            if (!(diff <= r->infer_max_diff))
                r->infer_max_diff = isnan(diff) ? INFINITY : diff;
        }
        r->infer_rows = d->rows;
        r->infer_agree = (double)same / (double)d->rows;
        /* the encrypted pipeline's metrics: scores of the test rows */
        rc = henn_lr_metrics_compute(&r->mt, se, te->y, te->rows);
        r->test_rows = te->rows;
        if (rc != 0)
            cli_error("metrics of the encrypted scores", rc);
    }
    free(se);
    free(sp);
    henn_lr_data_clear(&big);
    return rc;
}

/*
 * Encrypted training with the CKKS client/server protocol (same options and
 * starting point as the plaintext twin, whose per-epoch weights are in
 * ew->hist), then encrypted inference of the test rows. out: the decrypted
 * model.
 */
static int run_encrypted(run *r, henn_lr_model *out, parties *p, const lopts *o,
                         const henn_lr_opts *t, const henn_lr_data *tr, const henn_lr_data *te,
                         epoch_watch *ew)
{
    double t0, train_s;
    int rc;

    rc = henn_lr_model_init(out, tr->dim);
    if (rc != 0)
        return rc;
    cli_progress_init(&ew->p, "encrypted epochs");
    ew->compare = 1;
    ew->max_diff = 0;
    if (!o->quiet)
        fprintf(stderr, "henn lr: encrypted training: keys, encrypting %zu records, %zu "
                        "epochs\n",
                tr->rows, t->epochs);
    t0 = cli_now();
    rc = henn_lr_client_train(p->cli, &p->t, out, tr, t, on_epoch, ew);
    train_s = cli_now() - t0;
    if (rc != 0) {
        cli_error("encrypted training", rc);
        return rc;
    }
    henn_lr_client_get_stats(&r->cs, p->cli);
    r->setup_s = r->cs.keygen_s + r->cs.encrypt_s;
    r->seconds = train_s;
    if (train_s > r->setup_s) { /* epochs only: keys and encryption are setup_s */
        r->seconds_per_epoch = (train_s - r->setup_s) / (double)t->epochs;
        r->samples_per_s = (double)(tr->rows * t->epochs) / (train_s - r->setup_s);
    }
    r->max_weight_diff = ew->max_diff;
    rc = infer_encrypted(r, p, out, te, o->infer_rows);
    r->peak_mib = peak_mib();
    return rc;
}

/* Reference figures printed next to henn's. NAN: not published. */
typedef struct reference {
    const char *name;
    double accuracy, auc, f1, s_per_epoch, s_per_run, samples_per_s;
} reference;

/* The published system (UCI WDBC; sigma3; its own split and run length). */
static const reference refs_wdbc[] = {
    {"published, plaintext", 0.947, NAN, NAN, NAN, 0.034, NAN},
    {"published, encrypted", 0.711, NAN, NAN, NAN, 39.0, NAN},
};
/* TenSEAL's tutorial 1 (780 training rows, 5 epochs, N = 8192, one
 * ciphertext per sample) and a SEAL-native replica of its pipeline
 * measured on this machine class. */
static const reference refs_framingham[] = {
    {"TenSEAL tutorial, plaintext", 0.7036, NAN, NAN, NAN, NAN, NAN},
    {"TenSEAL tutorial, encrypted", 0.7036, NAN, NAN, 160.0, 800.0, 780.0 / 160.0},
    {"SEAL replica, encrypted", NAN, NAN, NAN, 50.0, 250.0, 780.0 / 50.0},
};

static const reference *refs_for(ds_kind k, size_t *n)
{
    if (k == DS_WDBC) {
        *n = sizeof(refs_wdbc) / sizeof(refs_wdbc[0]);
        return refs_wdbc;
    }
    if (k == DS_FRAMINGHAM) {
        *n = sizeof(refs_framingham) / sizeof(refs_framingham[0]);
        return refs_framingham;
    }
    *n = 0;
    return NULL;
}

/* x with the given number of decimals, or "-" when x is NaN. */
static const char *cell(char *buf, size_t len, int decimals, double x)
{
    if (isnan(x))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, x);
    return buf;
}

static void table_line(const char *name, double acc, double auc, double f1, double spe,
                       double spr, double sps)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    printf("%-28s %8s %8s %8s %11s %10s %11s\n", name, cell(a, sizeof(a), 4, acc),
           cell(b, sizeof(b), 4, auc), cell(c, sizeof(c), 4, f1),
           cell(d, sizeof(d), spe < 0.01 ? 6 : 3, spe), cell(e, sizeof(e), spr < 0.01 ? 5 : 3, spr),
           cell(f, sizeof(f), sps < 100 ? 1 : 0, sps));
}

static void print_table(const run *runs, size_t nruns, const lopts *o, size_t epochs)
{
    size_t i, nref;
    const reference *refs = refs_for(o->kind, &nref);
    printf("\n%-28s %8s %8s %8s %11s %10s %11s\n", "", "accuracy", "AUC", "F1", "s/epoch",
           "s/run", "samples/s");
    for (i = 0; i < nruns; i++)
        if (runs[i].have)
            table_line(runs[i].name, runs[i].mt.accuracy, runs[i].mt.auc, runs[i].mt.f1,
                       runs[i].seconds_per_epoch, runs[i].seconds, runs[i].samples_per_s);
    for (i = 0; i < nref; i++)
        table_line(refs[i].name, refs[i].accuracy, refs[i].auc, refs[i].f1,
                   refs[i].s_per_epoch, refs[i].s_per_run, refs[i].samples_per_s);
    printf("(henn: %zu test rows, %zu epochs; ", runs[0].test_rows, epochs);
    if (o->kind == DS_WDBC)
        printf("published: sigma3 on its own split, time per training run)\n");
    else if (o->kind == DS_FRAMINGHAM)
        printf("TenSEAL: tutorial 1, N = 8192, one ciphertext per sample)\n");
    else
        printf("no published figures for a CSV file)\n");
    for (i = 0; i < nruns; i++) {
        const run *r = &runs[i];
        if (!r->have || !r->encrypted || r->cs.N == 0)
            continue;
        printf("encrypted run: CKKS N = %zu, %zu data primes, %zu rows per ciphertext; keys "
               "and encryption %.2f s (%.1f KiB uploaded per training row, keys %.1f MiB)\n",
               r->cs.N, r->cs.data_primes, r->cs.samples_per_ct, r->setup_s,
               (double)r->cs.data_bytes / 1024.0 / (double)r->train_rows,
               (double)r->cs.key_bytes / 1048576.0);
        printf("  %llu steps, weights refreshed by the client every %llu step(s) (%llu "
               "refreshes, %.2f s); max |w_enc - w_plain| after an epoch %.2g\n",
               (unsigned long long)r->cs.steps, (unsigned long long)r->cs.steps_per_refresh,
               (unsigned long long)r->cs.refreshes, r->cs.refresh_s, r->max_weight_diff);
        printf("  encrypted inference: %zu records, %.0f records/s, %.2f%% of predictions as "
               "plaintext scoring (max score difference %.2g); peak memory %.0f MiB\n",
               r->infer_rows, r->infer_per_s, 100.0 * r->infer_agree, r->infer_max_diff,
               r->peak_mib);
    }
}

static json_t *num_or_null(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

static json_t *run_json(const run *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(r->name));
    json_object_set_new(j, "encrypted", json_boolean(r->encrypted));
    json_object_set_new(j, "accuracy", json_real(r->mt.accuracy));
    json_object_set_new(j, "precision", json_real(r->mt.precision));
    json_object_set_new(j, "recall", json_real(r->mt.recall));
    json_object_set_new(j, "f1", json_real(r->mt.f1));
    json_object_set_new(j, "auc", json_real(r->mt.auc));
    json_object_set_new(j, "test_rows", json_integer((json_int_t)r->test_rows));
    json_object_set_new(j, "seconds", num_or_null(r->seconds));
    json_object_set_new(j, "seconds_per_epoch", num_or_null(r->seconds_per_epoch));
    json_object_set_new(j, "samples_per_s", num_or_null(r->samples_per_s));
    if (r->encrypted) {
        json_object_set_new(j, "max_weight_diff_vs_plaintext", num_or_null(r->max_weight_diff));
        json_object_set_new(j, "setup_seconds", num_or_null(r->setup_s));
        json_object_set_new(j, "keygen_seconds", json_real(r->cs.keygen_s));
        json_object_set_new(j, "encrypt_seconds", json_real(r->cs.encrypt_s));
        json_object_set_new(j, "refresh_seconds", json_real(r->cs.refresh_s));
        json_object_set_new(j, "ckks_N", json_integer((json_int_t)r->cs.N));
        json_object_set_new(j, "data_primes", json_integer((json_int_t)r->cs.data_primes));
        json_object_set_new(j, "rows_per_ciphertext",
                            json_integer((json_int_t)r->cs.samples_per_ct));
        json_object_set_new(j, "steps", json_integer((json_int_t)r->cs.steps));
        json_object_set_new(j, "refreshes", json_integer((json_int_t)r->cs.refreshes));
        json_object_set_new(j, "steps_per_refresh",
                            json_integer((json_int_t)r->cs.steps_per_refresh));
        json_object_set_new(j, "upload_bytes_per_row",
                            r->train_rows ? json_real((double)r->cs.data_bytes /
                                                      (double)r->train_rows)
                                          : json_null());
        json_object_set_new(j, "key_bytes", json_integer((json_int_t)r->cs.key_bytes));
        json_object_set_new(j, "inference_rows", json_integer((json_int_t)r->infer_rows));
        json_object_set_new(j, "inference_records_per_s", num_or_null(r->infer_per_s));
        json_object_set_new(j, "inference_agreement", num_or_null(r->infer_agree));
        json_object_set_new(j, "inference_max_score_diff", num_or_null(r->infer_max_diff));
        json_object_set_new(j, "peak_memory_mib", num_or_null(r->peak_mib));
    }
    return j;
}

/* Write root (consumed) to path as indented JSON. */
static int write_json(const char *path, json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2));
    int rc;
    json_decref(root);
    if (text == NULL)
        return HENN_ENOMEM;
    rc = cli_write_file(path, text, strlen(text), 0644);
    {
        json_malloc_t jm;
        json_free_t jf;
        json_get_alloc_funcs(&jm, &jf); /* text belongs to jansson's allocator */
        jf(text);
    }
    return rc;
}

static int write_results(const char *path, const lopts *o, const henn_lr_opts *t,
                         const henn_lr_data *tr, const run *runs, size_t nruns)
{
    json_t *root = json_object(), *cfg = json_object(), *arr = json_array(),
           *ref = json_array();
    size_t i, nref;
    const reference *refs = refs_for(o->kind, &nref);
    json_object_set_new(root, "data", json_string(data_label(o)));
    json_object_set_new(root, "train_rows", json_integer((json_int_t)tr->rows));
    json_object_set_new(root, "dim", json_integer((json_int_t)tr->dim));
    if (t != NULL) { /* training; eval has only the split seed and the model */
        json_object_set_new(cfg, "epochs", json_integer((json_int_t)t->epochs));
        json_object_set_new(cfg, "lr", json_real(t->alpha));
        json_object_set_new(cfg, "lambda", json_real(t->lambda));
        json_object_set_new(cfg, "batch", json_integer((json_int_t)t->batch));
        json_object_set_new(cfg, "sigmoid", json_string(sigmoid_name(t->sigmoid)));
        json_object_set_new(cfg, "nesterov", json_real(t->nesterov));
    } else {
        json_object_set_new(cfg, "model", json_string(o->model));
    }
    json_object_set_new(cfg, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(root, "config", cfg);
    for (i = 0; i < nruns; i++)
        if (runs[i].have)
            json_array_append_new(arr, run_json(&runs[i]));
    json_object_set_new(root, "runs", arr);
    for (i = 0; i < nref; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(refs[i].name));
        json_object_set_new(j, "accuracy", num_or_null(refs[i].accuracy));
        json_object_set_new(j, "seconds_per_epoch", num_or_null(refs[i].s_per_epoch));
        json_object_set_new(j, "seconds_per_run", num_or_null(refs[i].s_per_run));
        json_object_set_new(j, "samples_per_s", num_or_null(refs[i].samples_per_s));
        json_array_append_new(ref, j);
    }
    json_object_set_new(root, "references", ref);
    /* Top-level copies of the last run's figures for simple consumers. */
    for (i = nruns; i-- > 0;) {
        if (!runs[i].have)
            continue;
        json_object_set_new(root, "encrypted", json_boolean(runs[i].encrypted));
        json_object_set_new(root, "accuracy", json_real(runs[i].mt.accuracy));
        json_object_set_new(root, "auc", json_real(runs[i].mt.auc));
        json_object_set_new(root, "f1", json_real(runs[i].mt.f1));
        json_object_set_new(root, "seconds_per_epoch", num_or_null(runs[i].seconds_per_epoch));
        json_object_set_new(root, "samples_per_s", num_or_null(runs[i].samples_per_s));
        break;
    }
    return write_json(path, root);
}

/* How eval re-derives the inputs' scaling: written into the model file. */
static const char *standardisation_note(ds_kind k)
{
    if (k == DS_FRAMINGHAM)
        return "TenSEAL tutorial preparation: balanced 557 + 557 rows, every feature "
               "standardised (x - mean) / sd over all 1,114 rows (ddof 1), 70/30 split with "
               "its fixed seed 73; henn lr eval prepares the data the same way";
    return "stratified 80/20 split seeded by 'seed'; every feature standardised (x - mean) / "
           "sd with the training split's mean and sd (ddof 1); henn lr eval re-derives the "
           "split and the statistics from 'data' and 'seed'";
}

/*
 * Model file (JSON): {"format": "henn-lr-model", "version": 1, "data",
 * "seed", "dim", "w": [dim numbers], "b", "sigmoid" (used in training;
 * scores use the exact sigmoid), "drop_na" (CSV rows with NA dropped),
 * "trained" ("plaintext" or "encrypted"),
 * "standardisation" (text)}. Numbers are written with 17 significant
 * digits, so weights read back exactly.
 */
static int save_model(const char *path, const henn_lr_model *m, const lopts *o,
                      henn_lr_sigmoid sig, int encrypted)
{
    json_t *root = json_object(), *w = json_array();
    size_t i;
    json_object_set_new(root, "format", json_string("henn-lr-model"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "data", json_string(data_label(o)));
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(root, "dim", json_integer((json_int_t)m->dim));
    for (i = 0; i < m->dim; i++)
        json_array_append_new(w, json_real(m->w[i]));
    json_object_set_new(root, "w", w);
    json_object_set_new(root, "b", json_real(m->b));
    json_object_set_new(root, "sigmoid", json_string(sigmoid_name(sig)));
    json_object_set_new(root, "drop_na", json_boolean(o->drop_na));
    json_object_set_new(root, "trained", json_string(encrypted ? "encrypted" : "plaintext"));
    json_object_set_new(root, "standardisation", json_string(standardisation_note(o->kind)));
    return write_json(path, root);
}

/* A finite JSON number (integer or real). */
static int json_finite(double *x, const json_t *j)
{
    if (!json_is_number(j))
        return -1;
    *x = json_number_value(j);
    return isfinite(*x) ? 0 : -1;
}

/* Read a model file; why receives the reason on HENN_EFORMAT. data and
 * seed: the data set and split the model was trained on (data malloc'd). */
static int load_model(henn_lr_model *m, char **data, uint64_t *seed, int *drop_na,
                      henn_lr_sigmoid *sig, const char *path, const char **why)
{
    char *buf = NULL;
    size_t len = 0, i, dim;
    json_t *root = NULL, *w;
    json_error_t jerr;
    json_int_t s;
    double x;
    int rc;

    memset(m, 0, sizeof(*m));
    *data = NULL;
    *why = "";
    rc = cli_read_file(&buf, &len, path);
    if (rc != 0)
        return rc;
    rc = HENN_EFORMAT;
    root = json_loadb(buf, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        *why = "not JSON";
        goto cleanup;
    }
    *why = "not a henn LR model (format, version)";
    if (!json_is_string(json_object_get(root, "format")) ||
        strcmp(json_string_value(json_object_get(root, "format")), "henn-lr-model") != 0 ||
        !json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) != 1)
        goto cleanup;
    *why = "bad dim";
    if (!json_is_integer(json_object_get(root, "dim")) ||
        json_integer_value(json_object_get(root, "dim")) < 1 ||
        json_integer_value(json_object_get(root, "dim")) > 1000000)
        goto cleanup;
    dim = (size_t)json_integer_value(json_object_get(root, "dim"));
    *why = "w must be an array of dim finite numbers";
    w = json_object_get(root, "w");
    if (!json_is_array(w) || json_array_size(w) != dim)
        goto cleanup;
    rc = henn_lr_model_init(m, dim);
    if (rc != 0)
        goto cleanup;
    rc = HENN_EFORMAT;
    for (i = 0; i < dim; i++)
        if (json_finite(&m->w[i], json_array_get(w, i)) != 0)
            goto cleanup;
    *why = "b must be a finite number";
    if (json_finite(&x, json_object_get(root, "b")) != 0)
        goto cleanup;
    m->b = x;
    *why = "unknown sigmoid";
    if (!json_is_string(json_object_get(root, "sigmoid")) ||
        sigmoid_from_name(sig, json_string_value(json_object_get(root, "sigmoid"))) != 0)
        goto cleanup;
    *why = "bad data or seed";
    if (!json_is_string(json_object_get(root, "data")) ||
        !json_is_integer(json_object_get(root, "seed")) ||
        (s = json_integer_value(json_object_get(root, "seed"))) < 0)
        goto cleanup;
    *seed = (uint64_t)s;
    *drop_na = json_is_true(json_object_get(root, "drop_na"));
    *data = strdup(json_string_value(json_object_get(root, "data")));
    rc = *data != NULL ? 0 : HENN_ENOMEM;
cleanup:
    if (rc != 0)
        henn_lr_model_clear(m);
    json_decref(root);
    henn_free(buf, len + 1);
    return rc;
}

/* Options the encrypted protocol cannot run (usage errors, exit 2), or 0. */
static int check_encrypted_opts(const henn_lr_opts *t, const parties *p, size_t dim,
                                size_t rows)
{
    size_t unit;
    if (t->sigmoid == HENN_LR_SIGMOID_EXACT)
        return bad("--encrypted trains with a polynomial sigmoid: --poly sigma3, ls3 or ls5",
                   NULL);
    if (t->nesterov > 0)
        return bad("--encrypted runs plain gradient descent: drop --nesterov", NULL);
    unit = henn_lr_client_batch_unit(p->cli, dim);
    if (unit == 0) {
        fprintf(stderr, "henn lr: --encrypted packs at most 254 features; the data has %zu\n",
                dim);
        return 2;
    }
    if (t->batch != 0 && t->batch < rows && t->batch % unit != 0) {
        fprintf(stderr,
                "henn lr: with --encrypted, --batch must be 0 (full batch) or a multiple "
                "of %zu (the rows one ciphertext holds)\n",
                unit);
        return 2;
    }
    return 0;
}

static int cmd_train(const lopts *o)
{
    henn_lr_data tr, te;
    henn_lr_opts t;
    henn_lr_model pm, em;
    epoch_watch ew;
    parties p;
    run runs[2];
    double t0;
    int rc, status = 1;

    memset(&pm, 0, sizeof(pm));
    memset(&em, 0, sizeof(em));
    memset(&ew, 0, sizeof(ew));
    memset(&p, 0, sizeof(p));
    run_init(&runs[0], "plaintext (henn)", 0);
    run_init(&runs[1], "encrypted (henn)", 1);
    if (!o->have_data)
        return bad("train needs --data wdbc|framingham|FILE.csv", NULL);
    if (o->out != NULL)
        return bad("--out is for 'henn lr export'", NULL);
    if (load_data(&tr, &te, o) != 0)
        return 1;
    rc = resolve_opts(&t, o, tr.rows);
    if (rc == 0 && o->encrypted) {
        rc = parties_new(&p, o);
        if (rc == 0 && (status = check_encrypted_opts(&t, &p, tr.dim, tr.rows)) != 0)
            rc = HENN_EINVAL;
        status = status == 2 ? 2 : 1;
        if (rc == 0 && o->svc.server != NULL && o->svc.session_file != NULL)
            rc = session_start(&p, o, &t, &tr, &te);
    }
    if (rc != 0)
        goto cleanup;
    if (!o->quiet)
        fprintf(stderr,
                "henn lr: %s: %zu training / %zu test rows x %zu features; %s sigmoid, "
                "lr %g, lambda %g, %s, %zu epochs%s, seed %llu\n",
                data_label(o), tr.rows, te.rows, tr.dim, sigmoid_name(t.sigmoid), t.alpha,
                t.lambda, t.batch == 0 || t.batch >= tr.rows ? "full batch" : "mini-batch",
                t.epochs, t.nesterov > 0 ? ", Nesterov" : "", (unsigned long long)o->seed);

    /* Plaintext run; with --encrypted it is the twin whose weights after
     * every epoch the encrypted run is compared with. */
    ew.show = !o->quiet;
    ew.epochs = t.epochs;
    ew.dim = tr.dim;
    if (o->encrypted && (ew.hist = calloc(t.epochs, (tr.dim + 1) * sizeof(double))) == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0)
        rc = henn_lr_model_init(&pm, tr.dim);
    if (rc == 0) {
        cli_progress_init(&ew.p, "plaintext epochs");
        t0 = cli_now();
        rc = henn_lr_train(&pm, &tr, &t, on_epoch, &ew);
        runs[0].seconds = cli_now() - t0;
        runs[0].seconds_per_epoch = runs[0].seconds / (double)t.epochs;
        runs[0].samples_per_s = runs[0].seconds > 0
                                    ? (double)(tr.rows * t.epochs) / runs[0].seconds
                                    : NAN;
    }
    runs[0].train_rows = runs[1].train_rows = tr.rows;
    if (rc == 0)
        rc = score(&runs[0], &pm, &te);
    if (rc != 0) {
        cli_error(rc == HENN_EINVAL ? "plaintext training (the model diverged: try a smaller "
                                      "--lr or another --poly)"
                                    : "plaintext training",
                  rc);
        goto cleanup;
    }
    runs[0].have = 1;

    if (o->encrypted) {
        rc = run_encrypted(&runs[1], &em, &p, o, &t, &tr, &te, &ew);
        if (p.svc != NULL && o->resume && !o->quiet)
            fprintf(stderr, "henn lr: the journal answered %llu messages of the killed run\n",
                    (unsigned long long)henn__svc_client_replayed(p.svc));
        if (rc != 0)
            goto cleanup;
        runs[1].have = 1;
    }
    if (!o->quiet) {
        size_t i;
        for (i = 0; i < 2; i++)
            if (runs[i].have)
                printf("%s: accuracy %.4f, AUC %.4f, F1 %.4f, precision %.4f, recall %.4f "
                       "(%zu test rows)\n",
                       runs[i].name, runs[i].mt.accuracy, runs[i].mt.auc, runs[i].mt.f1,
                       runs[i].mt.precision, runs[i].mt.recall, runs[i].test_rows);
        print_table(runs, 2, o, t.epochs);
    }
    p.done = 1; /* the session's messages are over */
    if (o->model != NULL) {
        rc = save_model(o->model, runs[1].have ? &em : &pm, o, t.sigmoid, runs[1].have);
        if (rc != 0) {
            fprintf(stderr, "henn lr: cannot write %s: %s\n", o->model, henn_strerror(rc));
            goto cleanup;
        }
    }
    if (o->json != NULL) {
        rc = write_results(o->json, o, &t, &tr, runs, 2);
        if (rc != 0)
            fprintf(stderr, "henn lr: cannot write %s: %s\n", o->json, henn_strerror(rc));
    }
cleanup:
    parties_free(&p);
    free(ew.hist);
    henn_lr_model_clear(&pm);
    henn_lr_model_clear(&em);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
    return rc == 0 ? 0 : status;
}

static int cmd_eval(lopts *o)
{
    henn_lr_data tr, te;
    henn_lr_model m;
    henn_lr_sigmoid sig = HENN_LR_SIGMOID_EXACT;
    char *data = NULL;
    uint64_t seed = 0;
    int drop_na = 0;
    const char *why;
    run r[2];
    int rc;

    run_init(&r[0], "plaintext (henn)", 0);
    run_init(&r[1], "encrypted inference (henn)", 1);
    memset(&tr, 0, sizeof(tr));
    memset(&te, 0, sizeof(te));
    if (o->model == NULL)
        return bad("eval needs --model FILE", NULL);
    rc = load_model(&m, &data, &seed, &drop_na, &sig, o->model, &why);
    if (rc == HENN_EFORMAT) {
        fprintf(stderr, "henn lr: %s: %s\n", o->model, why);
        return 1;
    } else if (rc != 0) {
        fprintf(stderr, "henn lr: cannot read %s: %s\n", o->model, henn_strerror(rc));
        return 1;
    }
    if (!o->have_data) {
        if (classify_data(&o->kind, data) != 0) {
            fprintf(stderr, "henn lr: %s: unknown data set '%s'\n", o->model, data);
            rc = HENN_EFORMAT;
            goto cleanup;
        }
        o->data = data;
    }
    if (!o->have_seed)
        o->seed = seed;
    o->drop_na |= drop_na;
    rc = load_data(&tr, &te, o);
    if (rc != 0)
        goto cleanup;
    if (te.dim != m.dim) {
        fprintf(stderr, "henn lr: the model has %zu weights but %s has %zu features\n", m.dim,
                data_label(o), te.dim);
        rc = HENN_EINVAL;
        goto cleanup;
    }
    rc = score(&r[0], &m, &te);
    if (rc != 0) {
        cli_error("eval", rc);
        goto cleanup;
    }
    r[0].have = 1;
    if (o->encrypted) {
        parties p;
        rc = parties_new(&p, o);
        if (rc == 0)
            rc = infer_encrypted(&r[1], &p, &m, &te, o->infer_rows);
        parties_free(&p);
        if (rc != 0)
            goto cleanup;
        r[1].have = 1;
        r[1].peak_mib = peak_mib();
    }
    if (!o->quiet) {
        printf("%s (seed %llu): accuracy %.4f, AUC %.4f, F1 %.4f, precision %.4f, "
               "recall %.4f (%zu test rows)\n",
               data_label(o), (unsigned long long)o->seed, r[0].mt.accuracy, r[0].mt.auc,
               r[0].mt.f1, r[0].mt.precision, r[0].mt.recall, r[0].test_rows);
        if (r[1].have)
            printf("encrypted inference: accuracy %.4f, AUC %.4f, F1 %.4f; %zu records, %.0f "
                   "records/s, %.2f%% of predictions as plaintext scoring (max score "
                   "difference %.2g)\n",
                   r[1].mt.accuracy, r[1].mt.auc, r[1].mt.f1, r[1].infer_rows, r[1].infer_per_s,
                   100.0 * r[1].infer_agree, r[1].infer_max_diff);
    }
    if (o->json != NULL) {
        rc = write_results(o->json, o, NULL, &tr, r, 2);
        if (rc != 0)
            fprintf(stderr, "henn lr: cannot write %s: %s\n", o->json, henn_strerror(rc));
    }
cleanup:
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
    free(data);
    henn_lr_model_clear(&m);
    return rc == 0 ? 0 : 1;
}

/* DIR/<name>.csv: header x1..xd,y then one row per line, 17 digits. */
static int export_csv(const char *dir, const char *name, const henn_lr_data *d)
{
    char path[4096];
    FILE *f;
    size_t i, j;
    int ok;
    snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "henn lr: cannot write %s: %s\n", path, strerror(errno));
        return HENN_EIO;
    }
    for (j = 0; j < d->dim; j++)
        fprintf(f, "x%zu,", j + 1);
    fputs("y\n", f);
    for (i = 0; i < d->rows; i++) {
        for (j = 0; j < d->dim; j++)
            fprintf(f, "%.17g,", d->X[i * d->dim + j]);
        fprintf(f, "%d\n", d->y[i] != 0.0);
    }
    ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok) {
        fprintf(stderr, "henn lr: error writing %s\n", path);
        return HENN_EIO;
    }
    return 0;
}

static int cmd_export(const lopts *o)
{
    henn_lr_data tr, te;
    int rc;
    if (!o->have_data || o->out == NULL)
        return bad("export needs --data D and --out DIR", NULL);
    if (mkdir(o->out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "henn lr: cannot create %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    if (load_data(&tr, &te, o) != 0)
        return 1;
    rc = export_csv(o->out, "train", &tr);
    if (rc == 0)
        rc = export_csv(o->out, "test", &te);
    if (rc == 0 && !o->quiet)
        fprintf(stderr, "henn lr: %s: %zu training and %zu test rows x %zu features in %s\n",
                data_label(o), tr.rows, te.rows, tr.dim, o->out);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
    return rc == 0 ? 0 : 1;
}

int henn_cli_lr(int argc, char **argv)
{
    lopts o;
    int rc;
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 1 || (strcmp(argv[0], "train") != 0 && strcmp(argv[0], "eval") != 0 &&
                     strcmp(argv[0], "export") != 0))
        return bad("lr takes a subcommand: train, eval or export", NULL);
    rc = parse_lopts(&o, argc - 1, argv + 1);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return rc;
    if ((o.svc.server != NULL || o.svc.token_file != NULL || o.svc.ca_file != NULL ||
         o.svc.session_file != NULL || o.svc.insecure_http) &&
        (o.svc.server == NULL || !o.encrypted || strcmp(argv[0], "export") == 0))
        return bad("--server (and --token, --ca, --insecure-http, --session-file) go with "
                   "train/eval --encrypted --server URL",
                   NULL);
    if (o.resume && (o.svc.server == NULL || o.svc.session_file == NULL ||
                     strcmp(argv[0], "train") != 0))
        return bad("--resume continues the training of --session-file F: it goes with train "
                   "--encrypted --server URL --session-file F",
                   NULL);
    if (strcmp(argv[0], "train") == 0)
        return cmd_train(&o);
    if (strcmp(argv[0], "eval") == 0)
        return cmd_eval(&o);
    return cmd_export(&o);
}
