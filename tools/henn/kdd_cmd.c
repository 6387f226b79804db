/*
 * henn kdd train / henn kdd eval: intrusion detection on KDD Cup 1999,
 * plaintext and encrypted (Paillier owner/trainer protocols).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "henn/henn.h"
#include "kdd_cmd.h"
#include "svc_cli.h"

#ifndef HENN_DATA_DIR
#define HENN_DATA_DIR "data"
#endif

static const char *kdd_usage =
    "usage: henn kdd train [options]\n"
    "       henn kdd eval --model FILE [options]\n"
    "\n"
    "Data:\n"
    "  --train FILE        training data (.gz or text; default: bundled\n"
    "                      kddcup.data_10_percent.gz)\n"
    "  --test FILE         test data (default: bundled corrected.gz)\n"
    "  --layout L          auto (default), kdd99 or nsl, for both files (the bundled\n"
    "                      default files are always detected)\n"
    "  --train-layout L    the training file's layout (default: detected)\n"
    "  --test-layout L     the test file's layout (default: detected)\n"
    "  --header            each file's first line is a column header (a header\n"
    "                      whose first field is a name is detected without this)\n"
    "  --skip-bad          skip and count malformed rows instead of failing\n"
    "  --max-bad PCT       with --skip-bad, refuse a file when more than PCT percent\n"
    "                      of its rows are skipped (default 1; 100 = never refuse)\n"
    "  --rows N            random training rows (default 10000; 0 = all; more\n"
    "                      than the file holds is an error)\n"
    "  --test-rows N       evaluate on the first N test rows only (default all)\n"
    "  --features F        onehot (default) or intcode (symbolic columns)\n"
    "  --log1p             log1p on duration, src_bytes and dst_bytes before\n"
    "                      scaling (the default: min-max scaled raw values\n"
    "                      mostly round to 0 in the encrypted run's fixed point)\n"
    "  --no-log1p          raw values, as the published system (the encrypted run\n"
    "                      then loses small values: the count is reported)\n"
    "Model and training:\n"
    "  --hidden LIST       hidden layer sizes, e.g. 41 or 64,32; 0 = none (default 41)\n"
    "  --activation A      sigmoid (default), tanh, relu or identity\n"
    "  --output O          softmax (default) or sigmoid (squared error)\n"
    "  --optimizer O       adam (default) or sgd (with --momentum, default 0.9)\n"
    "  --lr X              learning rate (default 0.01)\n"
    "  --batch N           batch size (default 56); --encrypted: published uses\n"
    "                      the slot count, private --batch (>= inputs + 1) or the\n"
    "                      fewest whole ciphertexts of >= inputs + 1 rows\n"
    "  --epochs N          epochs (default 1)\n"
    "  --seed N            seed for subset, initialisation and batch order (default 1)\n"
    "Encryption:\n"
    "  --encrypted         also train with encrypted inputs (Paillier) and run\n"
    "                      encrypted inference; prints the side-by-side table\n"
    "  --protocol P        private (default), published or both (both in the table).\n"
    "                      private: the model service sees ciphertexts and batch\n"
    "                      gradient sums only. published: as the paper, the service\n"
    "                      learns W1 x + b1 of every row (docs/THREAT_MODEL.md)\n"
    "  --bits N            Paillier modulus bits (default 2048)\n"
    "  --infer-rows N      test rows for encrypted inference (default 1000)\n"
    "  --threads T         worker threads (default: all cores)\n"
    "  --insecure-test-key allow keys under 2048 bits (tests only)\n"
    "  --server URL        the model service's side (training, inference) runs\n"
    "                      on a henn server (henn serve); also --token F,\n"
    "                      --ca F, --insecure-http, --session-file F\n"
    "                      (docs/SERVICE.md)\n"
    "  --resume            --session-file F, published or private: continue what\n"
    "                      a killed run of the same command started (F: session,\n"
    "                      token, secret key, used budget; F.journal: messages)\n"
    "  --decrypt-budget N  published protocol: most ciphertexts the owner decrypts\n"
    "                      for the trainer (default: exactly what honest training\n"
    "                      needs; 0 = no limit; the private owner always holds to\n"
    "                      the honest count)\n"
    "Output:\n"
    "  --model FILE        write the (encrypted-run, else plaintext) model\n"
    "  --json FILE         write metrics as JSON\n"
    "  --export PREFIX     write the preprocessed data: PREFIX-{train,test}.f32\n"
    "                      (row-major float32) and .labels (uint8) for bench/\n"
    "  --quiet             no table, only errors\n";

/* --protocol: which encrypted training runs (bits). */
#define KDD_PRIVATE 1
#define KDD_PUBLISHED 2

typedef struct kopts {
    const char *train, *test, *model, *json, *export_prefix;
    unsigned train_layout, test_layout;
    double max_bad;
    int header, rows_set, skip_bad, log1p, encrypted, insecure, quiet, eval, batch_set;
    size_t rows, test_rows, infer_rows, epochs, batch, bits, threads;
    int have_budget, protocol_set;
    int resume; /* --resume: continue the job of --session-file (published, --server) */
    unsigned protocol; /* KDD_PRIVATE | KDD_PUBLISHED */
    uint64_t budget;
    size_t hidden[HENN_NN_MAX_LAYERS];
    size_t nhidden;
    henn_kdd_encoding features;
    henn_nn_act act;
    henn_nn_output output;
    henn_nn_optimizer optimizer;
    double lr, momentum;
    uint64_t seed;
    cli_svc_opts svc; /* --server: the service's side on a henn server */
} kopts;

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "henn kdd: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fputs(kdd_usage, stderr);
    return 2;
}

static int parse_real(double *out, const char *s, double lo, double hi)
{
    char *end;
    double v;
    if (s == NULL || *s == '\0')
        return -1;
    v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "0" = no hidden layer; otherwise sizes 1..4096 separated by single
 * commas (an empty item, as in "41,,5", ",", "" or "41,", is an error). */
static int parse_hidden(kopts *o, const char *s)
{
    const char *p = s;
    o->nhidden = 0;
    if (strcmp(s, "0") == 0)
        return 0;
    for (;;) {
        char item[16];
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof(item) || o->nhidden >= HENN_NN_MAX_LAYERS - 1)
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        if (cli_parse_size(&o->hidden[o->nhidden], item, 1, 4096) != 0)
            return -1;
        o->nhidden++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int parse_layout(unsigned *out, const char *v)
{
    if (strcmp(v, "auto") == 0)
        *out = HENN_KDD_LAYOUT_AUTO;
    else if (strcmp(v, "kdd99") == 0)
        *out = HENN_KDD_LAYOUT_KDD99;
    else if (strcmp(v, "nsl") == 0)
        *out = HENN_KDD_LAYOUT_NSL;
    else
        return -1;
    return 0;
}

/* Fail early when path cannot be written: its directory must exist and be
 * writable, and an existing file must be writable. Prints the OS reason. */
static int check_writable(const char *opt, const char *path)
{
    char dir[4096];
    const char *slash;
    if (strcmp(path, "-") == 0)
        return 0;
    if (access(path, F_OK) == 0) {
        if (access(path, W_OK) == 0)
            return 0;
        fprintf(stderr, "henn kdd: %s %s: cannot write: %s\n", opt, path, strerror(errno));
        return -1;
    }
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "henn kdd: %s %s: cannot create the file in %s: %s\n", opt, path, dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void default_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "data/kddcup99/%s", name);
    if (access(out, R_OK) != 0)
        snprintf(out, len, "%s/kddcup99/%s", HENN_DATA_DIR, name);
}

static int parse_kopts(kopts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof(*o));
    o->rows = 10000;
    o->test_rows = 0;
    o->infer_rows = 1000;
    o->epochs = 1;
    o->batch = 56;
    o->bits = 2048;
    o->hidden[0] = 41;
    o->nhidden = 1;
    o->features = HENN_KDD_ONEHOT;
    o->act = HENN_NN_SIGMOID;
    o->output = HENN_NN_SOFTMAX_CE;
    o->optimizer = HENN_NN_ADAM;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->seed = 1;
    o->max_bad = 1.0;
    o->log1p = HENN_KDD_LOG1P_HEAVY;
    o->protocol = KDD_PRIVATE;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t tmp;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(kdd_usage, stdout);
            return 1;
        } else if (strcmp(a, "--skip-bad") == 0) {
            o->skip_bad = 1, takes = 0;
        } else if (strcmp(a, "--header") == 0) {
            o->header = 1, takes = 0;
        } else if (strcmp(a, "--log1p") == 0) {
            o->log1p = HENN_KDD_LOG1P_HEAVY, takes = 0;
        } else if (strcmp(a, "--no-log1p") == 0) {
            o->log1p = HENN_KDD_LOG1P_NONE, takes = 0;
        } else if (strcmp(a, "--encrypted") == 0) {
            o->encrypted = 1, takes = 0;
        } else if (strcmp(a, "--insecure-test-key") == 0) {
            o->insecure = 1, takes = 0;
        } else if (cli_svc_is_option(a)) {
            if ((takes = cli_svc_parse(&o->svc, a, v)) < 0)
                return 2;
            takes--;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1, takes = 0;
        } else if (strcmp(a, "--resume") == 0) {
            o->resume = 1, takes = 0;
        } else if (v == NULL && strncmp(a, "--", 2) == 0) {
            return bad("option needs a value (or is unknown)", a);
        } else if (strcmp(a, "--train") == 0) {
            o->train = v;
        } else if (strcmp(a, "--test") == 0) {
            o->test = v;
        } else if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json = v;
        } else if (strcmp(a, "--export") == 0) {
            o->export_prefix = v;
        } else if (strcmp(a, "--layout") == 0) {
            if (parse_layout(&o->train_layout, v) != 0)
                return bad("bad --layout", v);
            o->test_layout = o->train_layout;
        } else if (strcmp(a, "--train-layout") == 0) {
            if (parse_layout(&o->train_layout, v) != 0)
                return bad("bad --train-layout", v);
        } else if (strcmp(a, "--test-layout") == 0) {
            if (parse_layout(&o->test_layout, v) != 0)
                return bad("bad --test-layout", v);
        } else if (strcmp(a, "--max-bad") == 0) {
            if (parse_real(&o->max_bad, v, 0.0, 100.0) != 0)
                return bad("bad --max-bad (a percentage, 0..100)", v);
        } else if (strcmp(a, "--rows") == 0) {
            if (cli_parse_size(&o->rows, v, 0, 100000000) != 0)
                return bad("bad --rows", v);
            o->rows_set = 1;
        } else if (strcmp(a, "--test-rows") == 0) {
            if (cli_parse_size(&o->test_rows, v, 0, 100000000) != 0)
                return bad("bad --test-rows", v);
        } else if (strcmp(a, "--infer-rows") == 0) {
            if (cli_parse_size(&o->infer_rows, v, 0, 100000000) != 0)
                return bad("bad --infer-rows", v);
        } else if (strcmp(a, "--epochs") == 0) {
            if (cli_parse_size(&o->epochs, v, 1, 10000) != 0)
                return bad("bad --epochs", v);
        } else if (strcmp(a, "--batch") == 0) {
            if (cli_parse_size(&o->batch, v, 1, 65536) != 0)
                return bad("bad --batch", v);
            o->batch_set = 1;
        } else if (strcmp(a, "--bits") == 0) {
            if (cli_parse_size(&o->bits, v, 64, 8192) != 0)
                return bad("bad --bits", v);
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_size(&o->threads, v, 1, 256) != 0)
                return bad("bad --threads", v);
        } else if (strcmp(a, "--decrypt-budget") == 0) {
            if (cli_parse_size(&tmp, v, 0, SIZE_MAX) != 0)
                return bad("bad --decrypt-budget", v);
            o->budget = tmp;
            o->have_budget = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_size(&tmp, v, 0, SIZE_MAX) != 0)
                return bad("bad --seed", v);
            o->seed = tmp;
        } else if (strcmp(a, "--hidden") == 0) {
            if (parse_hidden(o, v) != 0)
                return bad("bad --hidden (0, or sizes 1..4096 separated by single commas, "
                           "at most 7)",
                           v);
        } else if (strcmp(a, "--protocol") == 0) {
            if (strcmp(v, "private") == 0)
                o->protocol = KDD_PRIVATE;
            else if (strcmp(v, "published") == 0)
                o->protocol = KDD_PUBLISHED;
            else if (strcmp(v, "both") == 0)
                o->protocol = KDD_PRIVATE | KDD_PUBLISHED;
            else
                return bad("bad --protocol (private, published or both)", v);
            o->protocol_set = 1;
        } else if (strcmp(a, "--features") == 0) {
            if (strcmp(v, "onehot") == 0)
                o->features = HENN_KDD_ONEHOT;
            else if (strcmp(v, "intcode") == 0)
                o->features = HENN_KDD_INTCODE;
            else
                return bad("bad --features", v);
        } else if (strcmp(a, "--activation") == 0) {
            if (strcmp(v, "sigmoid") == 0)
                o->act = HENN_NN_SIGMOID;
            else if (strcmp(v, "tanh") == 0)
                o->act = HENN_NN_TANH;
            else if (strcmp(v, "relu") == 0)
                o->act = HENN_NN_RELU;
            else if (strcmp(v, "identity") == 0)
                o->act = HENN_NN_IDENTITY;
            else
                return bad("bad --activation", v);
        } else if (strcmp(a, "--output") == 0) {
            if (strcmp(v, "softmax") == 0)
                o->output = HENN_NN_SOFTMAX_CE;
            else if (strcmp(v, "sigmoid") == 0)
                o->output = HENN_NN_SIGMOID_MSE;
            else
                return bad("bad --output", v);
        } else if (strcmp(a, "--optimizer") == 0) {
            if (strcmp(v, "adam") == 0)
                o->optimizer = HENN_NN_ADAM;
            else if (strcmp(v, "sgd") == 0)
                o->optimizer = HENN_NN_SGD;
            else
                return bad("bad --optimizer", v);
        } else if (strcmp(a, "--lr") == 0) {
            if (parse_real(&o->lr, v, 1e-9, 100.0) != 0)
                return bad("bad --lr", v);
        } else if (strcmp(a, "--momentum") == 0) {
            if (parse_real(&o->momentum, v, 0.0, 0.999) != 0)
                return bad("bad --momentum", v);
        } else {
            return bad("unknown option", a);
        }
        i += takes;
    }
    if (o->bits < 2048 && !o->insecure)
        return bad("keys under 2048 bits need --insecure-test-key", NULL);
    if (o->have_budget && !(o->protocol & KDD_PUBLISHED))
        return bad("--decrypt-budget applies to the published protocol (--protocol "
                   "published or both; the private owner decrypts at most the honest count)",
                   NULL);
    if (o->resume && (o->svc.server == NULL || o->svc.session_file == NULL ||
                      (o->protocol != KDD_PUBLISHED && o->protocol != KDD_PRIVATE) ||
                      !o->encrypted))
        return bad("--resume continues the training of --session-file F: it goes with "
                   "--encrypted --protocol published or private --server URL --session-file F",
                   NULL);
    return 0;
}

/* Every output of a run checked before the work starts. */
static int check_outputs(const kopts *o, int is_eval)
{
    if (o->model != NULL && !is_eval && check_writable("--model", o->model) != 0)
        return 1;
    if (o->json != NULL && check_writable("--json", o->json) != 0)
        return 1;
    if (o->export_prefix != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s-train.f32", o->export_prefix);
        if (check_writable("--export", path) != 0)
            return 1;
    }
    return 0;
}

/* Load path with its own layout (HENN_KDD_LAYOUT_*); under --skip-bad,
 * report the skipped count and refuse more than --max-bad percent. */
static int load_set(henn_kdd_set *set, const char *path, const kopts *o, unsigned layout,
                    size_t max_rows)
{
    henn_kdd_error err;
    unsigned flags = layout | (o->skip_bad ? HENN_KDD_SKIP_BAD : 0u) |
                     (o->header ? HENN_KDD_HEADER : 0u);
    int rc = henn_kdd_load(set, path, max_rows, flags, &err);
    if (rc != 0) {
        if (err.line > 0)
            fprintf(stderr, "henn kdd: %s:%zu: field %u: %s\n", err.file, err.line, err.field,
                    err.msg);
        else
            fprintf(stderr, "henn kdd: %s: %s\n", err.file[0] ? err.file : path,
                    err.msg[0] ? err.msg : henn_strerror(rc));
        return rc;
    }
    if (set->skipped > 0) {
        double pct = 100.0 * (double)set->skipped / (double)(set->skipped + set->rows);
        fprintf(stderr, "henn kdd: %s: skipped %zu malformed rows of %zu (%.2f%%)\n", path,
                set->skipped, set->skipped + set->rows, pct);
        if (pct > o->max_bad) {
            fprintf(stderr,
                    "henn kdd: %s: refusing a file with more than %g%% malformed rows (a "
                    "different layout? see --train-layout/--test-layout; --max-bad PCT to "
                    "accept)\n",
                    path, o->max_bad);
            henn_kdd_set_clear(set);
            return HENN_EFORMAT;
        }
    }
    return 0;
}

/* Metrics of one run. */
typedef struct run {
    const char *name;
    int encrypted, have;
    double acc_head, acc_all, macro_f1, seconds, samples_per_s, loss;
    size_t head_rows, all_rows;
    henn_nn_metrics mt;
    /* encrypted inference */
    double infer_per_s, infer_agree;
    size_t infer_rows;
    double upload_seconds;
    size_t inputs_lost, inputs_nonzero; /* non-zero inputs rounded to 0 by the fixed point */
    /* training steps and their rows; encrypted training: what the owner
     * decrypted */
    uint64_t decryptions;
    size_t batches, batch_rows;
    /* private run: vs its plaintext twin on the same batches */
    double twin_weight_diff, twin_agree;
} run;

/* Predict the rows in chunks, with a progress line on a terminal (long
 * evaluations of large models otherwise print nothing for minutes). */
static int evaluate(run *r, const henn_nn_model *m, const float *T, const uint8_t *ty,
                    size_t rows, int quiet)
{
    uint8_t *pred = malloc(rows ? rows : 1);
    henn_nn_metrics head;
    cli_progress prog;
    size_t done = 0, chunk = 8192;
    int rc = 0;
    if (pred == NULL)
        return HENN_ENOMEM;
    cli_progress_init(&prog, "evaluating");
    while (rc == 0 && done < rows) {
        size_t n = rows - done < chunk ? rows - done : chunk;
        rc = henn_nn_predict(pred + done, m, T + done * m->dims[0], n);
        done += n;
        if (!quiet)
            cli_progress_cb(&prog, done, rows);
    }
    r->head_rows = rows < 1000 ? rows : 1000;
    r->all_rows = rows;
    if (rc == 0)
        rc = henn_nn_metrics_compute(&head, ty, pred, r->head_rows, HENN_KDD_CLASSES);
    if (rc == 0) {
        r->acc_head = head.accuracy;
        henn_nn_metrics_clear(&head);
        rc = henn_nn_metrics_compute(&r->mt, ty, pred, rows, HENN_KDD_CLASSES);
    }
    if (rc == 0) {
        r->acc_all = r->mt.accuracy;
        r->macro_f1 = r->mt.macro_f1;
    }
    free(pred);
    return rc;
}

static json_t *run_json(const run *r, const kopts *o)
{
    json_t *j = json_object(), *pc = json_object(), *cm = json_array();
    size_t c, d;
    json_object_set_new(j, "name", json_string(r->name));
    json_object_set_new(j, "encrypted", json_boolean(r->encrypted));
    json_object_set_new(j, "key_bits", r->encrypted ? json_integer((json_int_t)o->bits) : json_null());
    json_object_set_new(j, "accuracy", json_real(r->acc_all));
    json_object_set_new(j, "accuracy_first_1000", json_real(r->acc_head));
    json_object_set_new(j, "macro_f1", json_real(r->macro_f1));
    json_object_set_new(j, "test_rows", json_integer((json_int_t)r->all_rows));
    json_object_set_new(j, "seconds", json_real(r->seconds));
    json_object_set_new(j, "samples_per_s", json_real(r->samples_per_s));
    json_object_set_new(j, "train_loss", json_real(r->loss));
    json_object_set_new(j, "batch_rows", json_integer((json_int_t)r->batch_rows));
    json_object_set_new(j, "steps", json_integer((json_int_t)r->batches));
    if (r->twin_agree > 0.0) { /* the private run: vs its same-batch twin */
        json_object_set_new(j, "same_batches_max_weight_diff", json_real(r->twin_weight_diff));
        json_object_set_new(j, "same_batches_prediction_agreement", json_real(r->twin_agree));
    }
    if (r->encrypted) {
        json_object_set_new(j, "upload_seconds", json_real(r->upload_seconds));
        json_object_set_new(j, "training_decryptions", json_integer((json_int_t)r->decryptions));
        json_object_set_new(j, "training_batches", json_integer((json_int_t)r->batches));
        json_object_set_new(j, "decryptions_per_batch",
                            json_real(r->batches ? (double)r->decryptions / (double)r->batches
                                                 : 0.0));
        json_object_set_new(j, "inputs_lost_to_fixed_point", json_integer((json_int_t)r->inputs_lost));
        json_object_set_new(j, "inputs_nonzero", json_integer((json_int_t)r->inputs_nonzero));
        json_object_set_new(j, "inference_records_per_s", json_real(r->infer_per_s));
        json_object_set_new(j, "inference_rows", json_integer((json_int_t)r->infer_rows));
        json_object_set_new(j, "inference_agreement", json_real(r->infer_agree));
    }
    for (c = 0; c < HENN_KDD_CLASSES; c++) {
        json_t *k = json_object();
        json_object_set_new(k, "precision", json_real(r->mt.precision[c]));
        json_object_set_new(k, "recall", json_real(r->mt.recall[c]));
        json_object_set_new(k, "f1", json_real(r->mt.f1[c]));
        json_object_set_new(k, "support", json_integer((json_int_t)r->mt.support[c]));
        json_object_set_new(pc, henn_kdd_class_name((int)c), k);
    }
    json_object_set_new(j, "per_class", pc);
    for (c = 0; c < HENN_KDD_CLASSES && r->mt.confusion != NULL; c++) {
        json_t *row = json_array();
        for (d = 0; d < HENN_KDD_CLASSES; d++)
            json_array_append_new(row, json_integer((json_int_t)r->mt.confusion[c * 5 + d]));
        json_array_append_new(cm, row);
    }
    json_object_set_new(j, "confusion", cm);
    return j;
}

static const char *act_name(henn_nn_act a)
{
    switch (a) {
    case HENN_NN_SIGMOID:
        return "sigmoid";
    case HENN_NN_TANH:
        return "tanh";
    case HENN_NN_RELU:
        return "relu";
    case HENN_NN_IDENTITY:
        return "identity";
    }
    return "?";
}

/* The configuration block: what the run actually used. Training: the
 * options and the rows taken; eval: the model file's network and
 * preprocessing, and the test data. */
static json_t *config_json(const kopts *o, const henn_kdd_prep *prep, const henn_nn_model *m,
                           size_t train_rows, const char *test_path, size_t test_rows)
{
    json_t *cfg = json_object(), *dims = json_array();
    size_t l;
    json_object_set_new(cfg, "command", json_string(o->eval ? "eval" : "train"));
    for (l = 0; l <= m->layers; l++)
        json_array_append_new(dims, json_integer((json_int_t)m->dims[l]));
    json_object_set_new(cfg, "dims", dims);
    json_object_set_new(cfg, "activation", json_string(act_name(m->act[0])));
    json_object_set_new(cfg, "features",
                        json_string(prep->encoding == HENN_KDD_ONEHOT ? "onehot" : "intcode"));
    json_object_set_new(cfg, "log1p", json_integer(prep->log1p)); /* HENN_KDD_LOG1P_* */
    json_object_set_new(cfg, "test", json_string(test_path));
    json_object_set_new(cfg, "test_rows", json_integer((json_int_t)test_rows));
    json_object_set_new(cfg, "key_bits", o->encrypted ? json_integer((json_int_t)o->bits)
                                                      : json_null());
    if (o->eval) {
        json_object_set_new(cfg, "model", json_string(o->model));
        return cfg;
    }
    json_object_set_new(cfg, "train", o->train ? json_string(o->train) : json_null());
    json_object_set_new(cfg, "rows", json_integer((json_int_t)train_rows));
    json_object_set_new(cfg, "epochs", json_integer((json_int_t)o->epochs));
    json_object_set_new(cfg, "optimizer", json_string(o->optimizer == HENN_NN_ADAM ? "adam" : "sgd"));
    json_object_set_new(cfg, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(cfg, "lr", json_real(o->lr));
    return cfg;
}

/* Write the metrics; cfg (owned, from config_json) becomes the config
 * block. An eval run's encrypted inference (runs[1] with infer_rows > 0)
 * is written as "encrypted_inference". */
static int write_json_file(const char *path, const kopts *o, json_t *cfg, const run *runs,
                           size_t nruns)
{
    json_t *root = json_object(), *arr = json_array();
    char *text;
    size_t i;
    int rc;
    json_object_set_new(root, "config", cfg);
    if (o->eval && nruns > 1 && runs[1].infer_rows > 0) {
        json_t *ei = json_object();
        json_object_set_new(ei, "rows", json_integer((json_int_t)runs[1].infer_rows));
        json_object_set_new(ei, "records_per_s", json_real(runs[1].infer_per_s));
        json_object_set_new(ei, "agreement", json_real(runs[1].infer_agree));
        json_object_set_new(ei, "key_bits", json_integer((json_int_t)o->bits));
        json_object_set_new(root, "encrypted_inference", ei);
        nruns = 1; /* runs[1] holds no accuracy of its own */
    }
    for (i = 0; i < nruns; i++)
        if (runs[i].have)
            json_array_append_new(arr, run_json(&runs[i], o));
    json_object_set_new(root, "runs", arr);
    /* Top-level copies of the main run's figures for simple consumers:
     * runs[1] (the default protocol's encrypted run) when it ran. */
    for (i = nruns > 1 ? 2 : 1; i-- > 0;) {
        if (!runs[i].have)
            continue;
        json_object_set_new(root, "accuracy", json_real(runs[i].acc_all));
        json_object_set_new(root, "macro_f1", json_real(runs[i].macro_f1));
        json_object_set_new(root, "samples_per_s", json_real(runs[i].samples_per_s));
        json_object_set_new(root, "seconds", json_real(runs[i].seconds));
        json_object_set_new(root, "encrypted", json_boolean(runs[i].encrypted));
        json_object_set_new(root, "key_bits",
                            runs[i].encrypted ? json_integer((json_int_t)o->bits) : json_null());
        break;
    }
    text = json_dumps(root, JSON_INDENT(2));
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

/* One table row: label, then the double at byte offset field of each
 * shown run, then the published figure. */
static void table_row(const char *label, int decimals, const run *const *cols, size_t ncols,
                      size_t field, const char *published)
{
    size_t c;
    printf("%-28s", label);
    for (c = 0; c < ncols; c++) {
        char a[32];
        double v;
        memcpy(&v, (const char *)cols[c] + field, sizeof(v));
        snprintf(a, sizeof(a), "%.*f", decimals, v);
        printf(" %12s", a);
    }
    printf(" %22s\n", published);
}

/* Columns: plaintext, the plaintext run on the private run's batches
 * ("same batches", when the private protocol ran), then each encrypted
 * run that ran (private, published). Rows that only an encrypted run has
 * show "-" under the plaintext columns. */
static void print_table(const run *pl, const run *tw, const run *pv, const run *pb,
                        const kopts *o)
{
    const run *cols[4];
    size_t n = 0, c;
    cols[n++] = pl;
    if (tw->have)
        cols[n++] = tw;
    if (pv->have)
        cols[n++] = pv;
    if (pb->have)
        cols[n++] = pb;
    printf("\n%-28s", "");
    for (c = 0; c < n; c++)
        printf(" %12s", cols[c] == pl   ? "plaintext"
                        : cols[c] == tw ? "same batches"
                        : cols[c] == pv ? "private"
                                        : "published");
    printf(" %22s\n", "published (256-bit)");
    table_row("accuracy, first 1,000", 4, cols, n, offsetof(run, acc_head), "0.880 / 0.886 enc");
    table_row("accuracy, all test rows", 4, cols, n, offsetof(run, acc_all), "-");
    table_row("macro-F1, all test rows", 4, cols, n, offsetof(run, macro_f1), "-");
    table_row("training time (s)", 2, cols, n, offsetof(run, seconds), "-");
    table_row("training samples/s", 1, cols, n, offsetof(run, samples_per_s), "~180 / 2.5 enc");
    printf("%-28s", "rows per batch");
    for (c = 0; c < n; c++)
        printf(" %12zu", cols[c]->batch_rows);
    printf(" %22s\n", "56");
    printf("%-28s", "steps (batches)");
    for (c = 0; c < n; c++)
        printf(" %12zu", cols[c]->batches);
    printf(" %22s\n", "-");
    if (pv->have || pb->have) {
        printf("%-28s", "decryptions per batch");
        for (c = 0; c < n; c++)
            if (!cols[c]->encrypted)
                printf(" %12s", "-");
            else
                printf(" %12.1f", cols[c]->batches ? (double)cols[c]->decryptions /
                                                         (double)cols[c]->batches
                                                   : 0.0);
        printf(" %22s\n", "-");
        printf("%-28s", "encrypting the rows (s)");
        for (c = 0; c < n; c++) /* private: batch by batch, inside training */
            if (!cols[c]->encrypted || cols[c] == pv)
                printf(" %12s", "-");
            else
                printf(" %12.2f", cols[c]->upload_seconds);
        printf(" %22s\n", "~42 enc/s");
        printf("%-28s", "encrypted inference rec/s");
        for (c = 0; c < n; c++)
            if (!cols[c]->encrypted)
                printf(" %12s", "-");
            else
                printf(" %12.1f", cols[c]->infer_per_s);
        printf(" %22s\n", "-");
        printf("%-28s", "inference = plaintext");
        for (c = 0; c < n; c++)
            if (!cols[c]->encrypted)
                printf(" %12s", "-");
            else
                printf(" %11.2f%%", 100.0 * cols[c]->infer_agree);
        printf(" %22s\n", "-");
        printf("%-28s", "key bits");
        for (c = 0; c < n; c++)
            if (!cols[c]->encrypted)
                printf(" %12s", "-");
            else
                printf(" %12zu", o->bits);
        printf(" %22s\n", "256");
    }
    printf("(test rows: %zu; the published figures are for 41-41-5, integer-coded features,\n"
           " 10,000 rows, one epoch; private: the service sees ciphertexts and batch\n"
           " gradient sums, published: it learns W1 x + b1 of every row)\n",
           pl->all_rows);
    printf("(plaintext: contiguous batches of the training rows, visited in a shuffled\n"
           " order, the last one shorter; published: the same batches, encrypted)\n");
    if (tw->have)
        printf("(same batches: plaintext trained on exactly the private run's batches: rows\n"
               " reshuffled every epoch, batches of %zu rows, a tail under inputs + 1 rows\n"
               " left out; private vs same batches: largest weight difference %.3g, %.2f%%\n"
               " of test predictions equal)\n",
               pv->batch_rows, pv->twin_weight_diff, 100.0 * pv->twin_agree);
}

/* Model file: "HKDM", u32 version 1, u32 prep length, prep, nn model. */
static int save_model(const char *path, const henn_kdd_prep *prep, const henn_nn_model *m)
{
    uint8_t *pb = NULL, *mb = NULL, *all = NULL;
    size_t pl = 0, ml = 0;
    int rc = henn_kdd_prep_serialize(&pb, &pl, prep);
    if (rc == 0)
        rc = henn_nn_model_serialize(&mb, &ml, m);
    if (rc == 0 && (all = malloc(12 + pl + ml)) == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0) {
        memcpy(all, "HKDM", 4);
        all[4] = 1, all[5] = all[6] = all[7] = 0;
        all[8] = (uint8_t)pl, all[9] = (uint8_t)(pl >> 8), all[10] = (uint8_t)(pl >> 16),
        all[11] = (uint8_t)(pl >> 24);
        memcpy(all + 12, pb, pl);
        memcpy(all + 12 + pl, mb, ml);
        rc = cli_write_file(path, all, 12 + pl + ml, 0644);
    }
    free(pb);
    free(mb);
    free(all);
    return rc;
}

static int load_model(const char *path, henn_kdd_prep *prep, henn_nn_model *m)
{
    char *buf = NULL;
    size_t len = 0, pl, used;
    const uint8_t *b;
    int rc = cli_read_file(&buf, &len, path);
    henn_kdd_prep_init(prep);
    henn_nn_model_init_empty(m);
    if (rc != 0)
        return rc;
    b = (const uint8_t *)buf;
    rc = HENN_EFORMAT;
    if (len >= 12 && memcmp(b, "HKDM", 4) == 0 && b[4] == 1 && b[5] == 0 && b[6] == 0 &&
        b[7] == 0) {
        pl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        if (pl <= len - 12) {
            rc = henn_kdd_prep_deserialize(prep, &used, b + 12, pl);
            if (rc == 0 && used != pl)
                rc = HENN_EFORMAT;
            if (rc == 0)
                rc = henn_nn_model_deserialize(m, b + 12 + pl, len - 12 - pl);
            if (rc == 0 && m->dims[0] != prep->dim)
                rc = HENN_EFORMAT;
        }
    }
    if (rc != 0) {
        henn_kdd_prep_clear(prep);
        henn_nn_model_clear(m);
    }
    henn_free(buf, len + 1);
    return rc;
}

void henn__trainer_allow_insecure(henn_trainer *t);

/* PREFIX-<what>.f32 and .labels. */
static int export_part(const char *prefix, const char *what, const float *X, const uint8_t *y,
                       size_t rows, size_t dim)
{
    char path[4096];
    int rc;
    snprintf(path, sizeof(path), "%s-%s.f32", prefix, what);
    rc = cli_write_file(path, X, rows * dim * sizeof(float), 0644);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s-%s.labels", prefix, what);
        rc = cli_write_file(path, y, rows, 0644);
    }
    return rc;
}

/* Fixed-point parameters for model m: slots sized for its widest layer
 * input; activations bounded by 1 for sigmoid/tanh, else by 2^4. */
static int params_for(henn_proto_params *p, const henn_nn_model *m, size_t bits)
{
    size_t l, maxd = 0;
    unsigned ai = m->act[0] == HENN_NN_SIGMOID || m->act[0] == HENN_NN_TANH ? 0 : 4;
    for (l = 0; l < m->layers; l++)
        maxd = m->dims[l] > maxd ? m->dims[l] : maxd;
    return henn_proto_params_default(p, maxd, ai, bits);
}

/* An owner holding key (NULL: a fresh key) with progress on prog under
 * label, and a trainer holding m (nno NULL: inference only) whose limits
 * admit this run's key and rows (both parties run here; the defaults are
 * for peers). */
static int make_parties(henn_owner **owner, henn_trainer **trainer, const kopts *o,
                        const henn_paillier_sk *key, const henn_nn_model *m,
                        const henn_nn_opts *nno, size_t rows, cli_progress *prog,
                        const char *label)
{
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_batch_opts bo = {(unsigned)o->threads, NULL, NULL};
    int rc;

    *owner = NULL;
    *trainer = NULL;
    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    if (key == NULL && !o->quiet)
        fprintf(stderr, "henn kdd: generating a %zu-bit Paillier key (owner)\n", o->bits);
    rc = key != NULL ? 0
                     : henn_paillier_keygen(&pk, &sk, o->bits,
                                            o->insecure ? HENN_PAILLIER_INSECURE : 0);
    if (rc == 0) {
        cli_progress_init(prog, label);
        bo.progress = o->quiet ? NULL : cli_progress_cb;
        bo.user = prog;
        rc = henn_owner_new(owner, key != NULL ? key : &sk, &bo);
    }
    henn_paillier_sk_clear(&sk); /* the owner keeps its own copy */
    henn_paillier_pk_clear(&pk);
    if (rc == 0) {
        henn_batch_opts to = {(unsigned)o->threads, NULL, NULL};
        henn_trainer_limits lim;
        rc = henn_trainer_new(trainer, m, nno, &to);
        henn_trainer_limits_default(&lim);
        if (o->bits > lim.max_key_bits)
            lim.max_key_bits = o->bits;
        if (rows > lim.max_rows) {
            lim.max_rows = rows < ((size_t)1 << 24) ? rows : (size_t)1 << 24;
            lim.max_stored = (size_t)1 << 26;
        }
        if (rc == 0)
            rc = henn_trainer_set_limits(*trainer, &lim);
        if (rc == 0 && o->insecure)
            henn__trainer_allow_insecure(*trainer);
    }
    if (rc != 0) {
        henn_owner_free(*owner);
        *owner = NULL;
    }
    return rc;
}

/* Encrypted inference of T [rows x dim] on m (held by the trainer behind
 * to_trainer), timed and compared with plaintext inference into r. */
static int infer_compare(run *r, henn_owner *owner, henn_transport *to_trainer,
                         const henn_proto_params *p, const henn_nn_model *m, const float *T,
                         size_t rows, size_t dim)
{
    uint8_t *pe = malloc(rows ? rows : 1), *pp = malloc(rows ? rows : 1);
    size_t i, same = 0;
    double t0;
    int rc = (pe != NULL && pp != NULL) ? 0 : HENN_ENOMEM;

    r->infer_rows = rows;
    if (rc == 0)
        rc = henn_nn_predict(pp, m, T, rows);
    t0 = cli_now();
    if (rc == 0 && rows > 0)
        rc = henn_owner_infer(owner, to_trainer, p, T, rows, dim, m->dims[m->layers], pe, NULL);
    r->infer_per_s = (double)rows / (cli_now() - t0);
    if (rc == 0) {
        henn_proto_stats st;
        henn_owner_stats(&st, owner);
        if (st.out_of_range > 0)
            fprintf(stderr,
                    "henn kdd: encrypted inference clamped %llu values to the fixed-point "
                    "range (results may differ from plaintext inference)\n",
                    (unsigned long long)st.out_of_range);
    }
    for (i = 0; rc == 0 && i < rows; i++)
        same += pe[i] == pp[i];
    r->infer_agree = rows ? (double)same / (double)rows : 1.0;
    free(pe);
    free(pp);
    return rc;
}

/* The progress lines of a job on the server: one "encrypted epoch e/E"
 * line per epoch, as in-process, from the job's status. */
typedef struct job_prog {
    cli_progress p;
    char label[64]; /* p keeps a pointer to it */
    size_t epoch, epochs, total;
    int quiet, started;
} job_prog;

static void job_progress_cb(void *user, size_t epoch, size_t rows, size_t rows_total)
{
    job_prog *jp = user;
    if (jp->quiet)
        return;
    if (rows_total > 0)
        jp->total = rows_total;
    while (!jp->started || epoch > jp->epoch) {
        if (jp->started) /* finish the epoch's line */
            cli_progress_cb(&jp->p, jp->total, jp->total);
        if (jp->started)
            jp->epoch++;
        jp->started = 1;
        if (jp->epoch >= jp->epochs)
            return;
        snprintf(jp->label, sizeof(jp->label), "encrypted epoch %zu/%zu", jp->epoch + 1,
                 jp->epochs);
        cli_progress_init(&jp->p, jp->label);
    }
    if (rows_total > 0 && rows < rows_total)
        cli_progress_cb(&jp->p, rows, rows_total);
}

/* The session file rewritten after each new answer (--session-file): the
 * owner's record, and with it the used budget, survives a kill. */
typedef struct save_ctx {
    const kopts *o;
    henn_svc_client *svc;
    uint64_t jid;
    const henn_paillier_sk *sk;
} save_ctx;

static int save_answers(void *user, const henn_svc_answers *a)
{
    const save_ctx *sc = user;
    return cli_svc_save_job(&sc->o->svc, sc->svc, sc->jid, sc->sk, a);
}

/* The published protocol's training as a job of the kdd-published session
 * on the server: start it, answer its DECRYPT requests (the owner's
 * record refuses a seq re-sent with other bytes), follow its progress. */
static int serve_published_job(run *en, const kopts *o, henn_svc_client *svc, henn_owner *owner,
                               henn_svc_answers *answers, uint64_t jid,
                               const henn_paillier_sk *sk)
{
    henn_svc_client_opts co;
    save_ctx sc;
    job_prog jp;
    double *loss = calloc(o->epochs, sizeof(double));
    int rc = loss != NULL ? 0 : HENN_ENOMEM;

    memset(&co, 0, sizeof(co));
    co.url = o->svc.server;
    co.ca_file = o->svc.ca_file;
    co.retry_s = o->svc.retry_s;
    co.allow_insecure_http = o->svc.insecure_http;
    memset(&jp, 0, sizeof(jp));
    jp.epochs = o->epochs;
    jp.quiet = o->quiet;
    if (rc == 0 && jid == 0) {
        rc = henn_svc_job_start(&co, henn_svc_client_session(svc), henn_svc_client_token(svc),
                                o->epochs, o->seed, &jid);
        if (rc != 0)
            fprintf(stderr, "henn kdd: server: cannot start the training job: %s\n",
                    henn_strerror(rc));
        else /* --session-file: what --resume needs */
            rc = cli_svc_save_job(&o->svc, svc, jid, sk, answers);
    } else if (rc == 0 && !o->quiet) {
        fprintf(stderr, "henn kdd: resuming job %llu of session %s\n", (unsigned long long)jid,
                henn_svc_client_session(svc));
    }
    if (rc != 0) {
        free(loss);
        return rc;
    }
    sc.o = o;
    sc.svc = svc;
    sc.jid = jid;
    sc.sk = sk;
    if (o->svc.session_file != NULL)
        henn_svc_answers_set_hook(answers, save_answers, &sc);
    job_progress_cb(&jp, 0, 0, 0); /* the first epoch's line starts now */
    rc = henn_svc_job_serve(&co, henn_svc_client_session(svc), henn_svc_client_token(svc), jid,
                            owner, answers, job_progress_cb, &jp, loss, o->epochs);
    if (rc == 0) {
        job_progress_cb(&jp, o->epochs, 0, 0);
        en->loss = loss[o->epochs - 1];
    } else if (rc == HENN_EIO) {
        fprintf(stderr, "henn kdd: server: the training job failed or the server is gone\n");
    }
    free(loss);
    return rc;
}

/* Encrypted training, then encrypted inference on the first test rows. */
static int run_encrypted(run *en, const kopts *o, henn_nn_model *init, const henn_nn_opts *nno,
                         const henn_proto_params *p, const float *X, const uint8_t *y,
                         size_t rows, size_t dim, const float *T, const uint8_t *ty,
                         size_t trows, henn_nn_model *out_model)
{
    henn_owner *owner = NULL;
    henn_trainer *trainer = NULL;
    henn_transport to_trainer, to_owner;
    cli_progress prog, eprog;
    double t0;
    size_t e;
    uint64_t budget = 0;
    int rc;

    henn_svc_client *svc = NULL; /* --server: the trainer is a kdd-published session */
    henn_svc_answers *answers = NULL;
    henn_paillier_sk sk; /* --server: the owner's key (saved for --resume) */
    henn_paillier_pk pk;
    uint64_t jid = 0;
    unsigned kflags = o->insecure ? HENN_PAILLIER_INSECURE : 0;

    henn_paillier_sk_init(&sk);
    henn_paillier_pk_init(&pk);
    if (o->svc.server != NULL && o->resume) {
        rc = cli_svc_resume_job(&svc, &o->svc, &jid, &sk, kflags, &answers);
    } else if (o->svc.server != NULL) {
        if (!o->quiet)
            fprintf(stderr, "henn kdd: generating a %zu-bit Paillier key (owner)\n", o->bits);
        rc = henn_paillier_keygen(&pk, &sk, o->bits, kflags);
    } else {
        rc = 0;
    }
    if (rc == 0)
        rc = make_parties(&owner, &trainer, o, o->svc.server != NULL ? &sk : NULL, init, nno,
                          rows, &prog, "encrypting rows");
    if (rc != 0)
        goto cleanup;
    /* The owner decrypts only what honest training asks for (the trainer
     * cannot tell it anything else: see docs/THREAT_MODEL.md). */
    budget = o->budget;
    if (!o->have_budget) {
        rc = henn_proto_training_decryptions(&budget, p, o->bits, rows, dim, init->dims[1],
                                             o->epochs);
        if (rc != 0) {
            cli_error("decryption budget", rc);
            goto cleanup;
        }
    }
    henn_owner_set_decrypt_budget(owner, budget);
    if (answers != NULL && budget != 0) {
        /* --resume: the budget goes on from what the killed client used;
         * once it is spent the owner itself refuses every new request
         * (and the record before it) */
        uint64_t used = henn_svc_answers_decrypted(answers);
        henn_owner_resume_decrypt_budget(owner, budget, used);
        if (henn_owner_decrypt_left(owner) == 0)
            fprintf(stderr,
                    "henn kdd: the owner's decryption budget is spent: %llu of %llu "
                    "ciphertexts decrypted before the restart; it decrypts nothing more "
                    "(--decrypt-budget)\n",
                    (unsigned long long)used, (unsigned long long)budget);
        else if (!o->quiet)
            fprintf(stderr,
                    "henn kdd: the owner's record: %llu of %llu ciphertexts decrypted before "
                    "the restart\n",
                    (unsigned long long)used, (unsigned long long)budget);
    }
    henn_transport_to_trainer(&to_trainer, trainer);
    henn_transport_to_owner(&to_owner, owner);
    if (o->svc.server != NULL) {
        if (svc == NULL)
            rc = cli_svc_open_kdd_published(&svc, &o->svc, init, nno, o->bits);
        if (rc == 0 && answers == NULL)
            rc = henn_svc_answers_new(&answers, 0);
        if (rc != 0)
            goto cleanup;
        henn_svc_answers_set_budget(answers, budget);
        if (!o->quiet)
            fprintf(stderr, "henn kdd: the model service runs on %s\n", o->svc.server);
        henn_svc_client_transport(&to_trainer, svc);
    }
    t0 = cli_now();
    if (jid == 0) /* --resume: the server holds the upload */
        rc = henn_owner_upload(owner, &to_trainer, p, X, y, rows, dim);
    en->upload_seconds = cli_now() - t0;
    if (rc != 0) {
        cli_error("encrypting the training rows", rc);
        goto cleanup;
    }
    t0 = cli_now();
    if (svc != NULL) {
        rc = serve_published_job(en, o, svc, owner, answers, jid, &sk);
    } else {
        for (e = 0; e < o->epochs && rc == 0; e++) {
            char label[64];
            snprintf(label, sizeof(label), "encrypted epoch %zu/%zu", e + 1, o->epochs);
            cli_progress_init(&eprog, label);
            rc = henn_trainer_train_epoch(trainer, &to_owner, o->seed + e,
                                          o->quiet ? NULL : cli_progress_cb, &eprog, &en->loss);
        }
    }
    en->seconds = cli_now() - t0;
    en->samples_per_s = (double)(rows * o->epochs) / en->seconds;
    {
        henn_proto_stats st;
        henn_owner_stats(&st, owner);
        /* over the server: the record's count, across a restart */
        en->decryptions = answers != NULL ? henn_svc_answers_decrypted(answers) : st.decryptions;
        en->batches = o->epochs * ((rows + p->slots - 1) / p->slots);
        en->batch_rows = p->slots;
    }
    if (rc != 0) {
        uint64_t repeats = 0, refused = 0;
        if (answers != NULL)
            henn_svc_answers_counts(answers, &repeats, &refused);
        cli_error("encrypted training", rc);
        if (rc == HENN_EPROTO || refused > 0)
            fprintf(stderr, "henn kdd: the owner refuses decryptions beyond its budget of "
                            "%llu ciphertexts (--decrypt-budget)\n",
                    (unsigned long long)budget);
        goto cleanup;
    }
    rc = svc != NULL ? cli_svc_model(out_model, svc)
                     : henn_nn_model_copy(out_model, henn_trainer_model(trainer));
    if (rc == 0)
        rc = evaluate(en, out_model, T, ty, trows, o->quiet);
    /* Encrypted inference of the first test rows on the trained model. */
    if (rc == 0) {
        cli_progress_init(&prog, "encrypted inference");
        rc = infer_compare(en, owner, &to_trainer, p, out_model, T,
                           o->infer_rows < trows ? o->infer_rows : trows, dim);
        if (rc != 0)
            cli_error("encrypted inference", rc);
    }
    en->have = rc == 0;
cleanup:
    henn_svc_answers_free(answers);
    if (rc != 0 && o->svc.session_file != NULL)
        henn_svc_client_free(svc); /* kept on the server for --resume */
    else
        cli_svc_close(svc);
    henn_paillier_sk_clear(&sk);
    henn_paillier_pk_clear(&pk);
    henn_owner_free(owner);
    henn_trainer_free(trainer);
    return rc;
}

void henn__private_trainer_allow_insecure(henn_private_trainer *t);
uint64_t henn__svc_client_replayed(const henn_svc_client *c);

/* A hex SHA-256 of what the private run's messages depend on: the rows,
 * labels, batch, epochs, seed, key size, fixed point and initial model
 * (--resume replays the same run from its journal). */
static int private_fingerprint(char hex[65], const kopts *o, const henn_nn_model *init,
                               const henn_proto_params *p, size_t batch, const float *X,
                               const uint8_t *y, size_t rows, size_t dim)
{
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES], *m = NULL;
    size_t mlen = 0;
    char head[256];
    int rc = henn_nn_model_serialize(&m, &mlen, init);
    if (rc != 0)
        return rc;
    snprintf(head, sizeof(head), "henn kdd private %zu %zu %zu %zu %llu %zu %u %u %u %u %u",
             rows, dim, batch, o->epochs, (unsigned long long)o->seed, o->bits,
             (unsigned)p->slots, (unsigned)p->fx, (unsigned)p->fw, (unsigned)p->ai,
             (unsigned)p->wi);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)head, strlen(head));
    crypto_hash_sha256_update(&st, (const uint8_t *)X, rows * dim * sizeof(float));
    crypto_hash_sha256_update(&st, y, rows);
    crypto_hash_sha256_update(&st, m, mlen);
    crypto_hash_sha256_final(&st, h);
    free(m);
    sodium_bin2hex(hex, 65, h, sizeof(h));
    return 0;
}

/* Private training (henn_owner_train_private: the trainer sees
 * ciphertexts and batch gradient sums), then encrypted inference of the
 * first test rows on the trained model with the same key. batch rows per
 * batch (>= dim + 1, checked by the caller; ceil(batch / p->slots)
 * ciphertexts per feature). */
static int run_private(run *pv, const kopts *o, const henn_nn_model *init,
                       const henn_nn_opts *nno, const henn_proto_params *p, size_t batch,
                       const float *X, const uint8_t *y, size_t rows, size_t dim,
                       const float *T, const uint8_t *ty, size_t trows,
                       henn_nn_model *out_model)
{
    henn_paillier_pk pk;
    henn_paillier_sk sk;
    henn_private_trainer *pt = NULL;
    henn_owner *owner = NULL;
    henn_trainer *server = NULL;
    henn_transport to_pt, to_server;
    henn_svc_client *svc = NULL, *isvc = NULL; /* --server: training, inference */
    char fp[65], *journal = NULL; /* --session-file: the run's fingerprint, F.journal */
    henn_batch_opts bo = {(unsigned)o->threads, NULL, NULL};
    henn_proto_stats st;
    cli_progress prog;
    double t0;
    int rc;

    henn_paillier_pk_init(&pk);
    henn_paillier_sk_init(&sk);
    memset(&st, 0, sizeof(st));
    rc = 0;
    if (o->svc.server != NULL && o->svc.session_file != NULL) {
        size_t n = strlen(o->svc.session_file);
        rc = private_fingerprint(fp, o, init, p, batch, X, y, rows, dim);
        if (rc == 0 && (journal = malloc(n + 9)) == NULL)
            rc = HENN_ENOMEM;
        if (rc == 0)
            snprintf(journal, n + 9, "%s.journal", o->svc.session_file);
    }
    if (rc == 0 && o->resume) { /* the key of the session file */
        rc = cli_svc_resume_private(&svc, &o->svc, &sk,
                                    o->insecure ? HENN_PAILLIER_INSECURE : 0, fp);
        if (rc == 0 && (rc = henn_svc_client_journal(svc, journal, 1)) != 0)
            fprintf(stderr, "henn kdd: --resume: %s\n", henn_svc_client_error(svc));
        if (rc == 0 && !o->quiet)
            fprintf(stderr, "henn kdd: resuming private training of session %s from %s\n",
                    henn_svc_client_session(svc), journal);
        if (rc != 0) {
            henn_svc_client_free(svc); /* the session stays for another try */
            svc = NULL;
            goto cleanup;
        }
    } else if (rc == 0) {
        if (!o->quiet)
            fprintf(stderr,
                    "henn kdd: generating a %zu-bit Paillier key (owner, private protocol)\n",
                    o->bits);
        rc = henn_paillier_keygen(&pk, &sk, o->bits, o->insecure ? HENN_PAILLIER_INSECURE : 0);
    }
    if (rc == 0)
        rc = henn_private_trainer_new(&pt, init, nno, &bo);
    if (rc == 0) {
        henn_trainer_limits lim;
        henn_trainer_limits_default(&lim);
        if (o->bits > lim.max_key_bits)
            lim.max_key_bits = o->bits;
        rc = henn_private_trainer_set_limits(pt, &lim);
        if (rc == 0 && o->insecure)
            henn__private_trainer_allow_insecure(pt);
    }
    if (rc == 0 && o->svc.server != NULL && svc == NULL) {
        rc = cli_svc_open_kdd_private(&svc, &o->svc, init, nno, o->bits);
        /* --session-file: the key and the journal before the first message */
        if (rc == 0 && journal != NULL) {
            rc = cli_svc_save_private(&o->svc, svc, &sk, fp);
            if (rc == 0 && (rc = henn_svc_client_journal(svc, journal, 0)) != 0)
                fprintf(stderr, "henn kdd: %s\n", henn_svc_client_error(svc));
        }
        if (rc == 0 && !o->quiet)
            fprintf(stderr, "henn kdd: the model service runs on %s\n", o->svc.server);
    }
    if (rc != 0) {
        cli_error("private training setup", rc);
        goto cleanup;
    }
    if (svc != NULL)
        henn_svc_client_transport(&to_pt, svc);
    else
        henn_transport_to_private_trainer(&to_pt, pt);
    if (!o->quiet)
        fprintf(stderr,
                "henn kdd: private training (%zu rows per batch, %zu ciphertext chunk%s of %u "
                "rows per feature)\n",
                batch, (batch + p->slots - 1) / p->slots, batch > p->slots ? "s" : "",
                (unsigned)p->slots);
    t0 = cli_now();
    rc = henn_owner_train_private(&to_pt, &sk, p, X, y, rows, dim, HENN_KDD_CLASSES, batch,
                                  o->epochs, o->seed, &bo, NULL, NULL, &st);
    pv->seconds = cli_now() - t0;
    pv->samples_per_s = (double)(rows * o->epochs) / pv->seconds;
    pv->upload_seconds = 0.0; /* rows are encrypted batch by batch, inside training */
    pv->decryptions = st.decryptions;
    if (svc != NULL && o->resume && !o->quiet)
        fprintf(stderr, "henn kdd: the journal answered %llu messages of the killed run\n",
                (unsigned long long)henn__svc_client_replayed(svc));
    if (rc != 0) {
        cli_error("private training", rc);
        if (svc != NULL && *henn_svc_client_error(svc) != '\0')
            fprintf(stderr, "henn kdd: server: %s\n", henn_svc_client_error(svc));
        goto cleanup;
    }
    {
        uint64_t steps = 0;
        henn_proto_stats ts;
        henn_private_trainer_stats(&ts, &steps, pt);
        pv->batches = (size_t)steps;
        pv->batch_rows = batch;
    }
    rc = svc != NULL ? cli_svc_model(out_model, svc)
                     : henn_nn_model_copy(out_model, henn_private_trainer_model(pt));
    if (svc != NULL) /* the server took the steps: count them as it does */
        pv->batches = o->epochs * (rows <= batch ? 1 : rows / batch + (rows % batch > dim));
    if (rc == 0)
        rc = evaluate(pv, out_model, T, ty, trows, o->quiet);
    /* Encrypted inference on the trained model, same key. */
    if (rc == 0)
        rc = make_parties(&owner, &server, o, &sk, out_model, NULL, 0, &prog,
                          "encrypted inference");
    if (rc == 0) {
        henn_transport_to_trainer(&to_server, server);
        cli_svc_opts iso = o->svc;
        iso.session_file = NULL; /* F stays the training's (--resume) */
        if (o->svc.server != NULL &&
            (rc = cli_svc_open_kdd_infer(&isvc, &iso, out_model, o->bits)) == 0)
            henn_svc_client_transport(&to_server, isvc);
    }
    if (rc == 0)
        rc = infer_compare(pv, owner, &to_server, p, out_model, T,
                           o->infer_rows < trows ? o->infer_rows : trows, dim);
    if (rc != 0)
        cli_error("private run: evaluation", rc);
    pv->have = rc == 0;
cleanup:
    cli_svc_close(isvc);
    if (rc != 0 && journal != NULL) {
        henn_svc_client_free(svc); /* kept on the server for --resume */
    } else {
        cli_svc_close(svc);
        if (journal != NULL)
            unlink(journal); /* the run is over */
    }
    free(journal);
    henn_owner_free(owner);
    henn_trainer_free(server);
    henn_private_trainer_free(pt);
    henn_paillier_sk_clear(&sk);
    henn_paillier_pk_clear(&pk);
    return rc;
}

/* The private model vm against its plaintext twin tm (same batches): the
 * largest weight difference and the share of equal test predictions. */
static int twin_compare(run *pv, const henn_nn_model *vm, const henn_nn_model *tm,
                        const float *T, size_t trows)
{
    uint8_t *a = malloc(trows ? trows : 1), *b = malloc(trows ? trows : 1);
    size_t l, i, same = 0;
    double d = 0.0;
    int rc = a != NULL && b != NULL ? 0 : HENN_ENOMEM;
    for (l = 0; rc == 0 && l < vm->layers; l++) {
        for (i = 0; i < vm->dims[l + 1] * vm->dims[l]; i++)
            d = fmax(d, fabs((double)vm->W[l][i] - (double)tm->W[l][i]));
        for (i = 0; i < vm->dims[l + 1]; i++)
            d = fmax(d, fabs((double)vm->b[l][i] - (double)tm->b[l][i]));
    }
    if (rc == 0)
        rc = henn_nn_predict(a, vm, T, trows);
    if (rc == 0)
        rc = henn_nn_predict(b, tm, T, trows);
    for (i = 0; rc == 0 && i < trows; i++)
        same += a[i] == b[i];
    pv->twin_weight_diff = d;
    pv->twin_agree = trows ? (double)same / (double)trows : 1.0;
    free(a);
    free(b);
    return rc;
}

static int cmd_train(const kopts *o)
{
    char trainp[4096], testp[4096];
    henn_kdd_set tr, te;
    henn_kdd_prep prep;
    henn_nn_model init, pm, em, vm, tm;
    henn_nn_trainer *nt = NULL, *tt = NULL;
    henn_nn_opts nno;
    henn_proto_params p;
    run runs[4]; /* plaintext, then the encrypted runs in JSON order, then same batches */
    run *pv = &runs[1], *pb = &runs[2], *tw = &runs[3];
    unsigned proto = 0;
    int refuse = 0;
    size_t *idx = NULL, rows, unseen = 0, trows, dims[HENN_NN_MAX_LAYERS + 1], i, e, batch;
    size_t pbatch = 0; /* the private run's batch */
    float *X = NULL, *T = NULL;
    uint8_t *y = NULL;
    cli_progress prog;
    double t0;
    int rc;

    memset(runs, 0, sizeof(runs));
    runs[0].name = "plaintext";
    tw->name = "plaintext_same_batches";
    henn_kdd_set_init(&tr);
    henn_kdd_set_init(&te);
    henn_kdd_prep_init(&prep);
    henn_nn_model_init_empty(&init);
    henn_nn_model_init_empty(&pm);
    henn_nn_model_init_empty(&em);
    henn_nn_model_init_empty(&vm);
    henn_nn_model_init_empty(&tm);
    if (o->train == NULL)
        default_path(trainp, sizeof(trainp), "kddcup.data_10_percent.gz");
    else
        snprintf(trainp, sizeof(trainp), "%s", o->train);
    if (o->test == NULL)
        default_path(testp, sizeof(testp), "corrected.gz");
    else
        snprintf(testp, sizeof(testp), "%s", o->test);

    /* Each file has its own layout; the bundled defaults are always detected. */
    rc = load_set(&tr, trainp, o, o->train ? o->train_layout : HENN_KDD_LAYOUT_AUTO, 0);
    if (rc == 0)
        rc = load_set(&te, testp, o, o->test ? o->test_layout : HENN_KDD_LAYOUT_AUTO,
                      o->test_rows);
    if (rc != 0)
        goto cleanup;
    if (o->rows_set && o->rows > tr.rows) {
        fprintf(stderr, "henn kdd: --rows %zu but %s has %zu rows (--rows 0 uses all)\n",
                o->rows, trainp, tr.rows);
        rc = HENN_EINVAL;
        goto cleanup;
    }
    rows = o->rows == 0 || o->rows > tr.rows ? tr.rows : o->rows; /* the default: at most */
    idx = malloc(rows * sizeof(size_t));
    y = malloc(rows);
    if (idx == NULL || y == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    rc = henn_kdd_subset(idx, rows, tr.rows, o->seed);
    /* Fit on the training rows used, apply unchanged to the test set. */
    if (rc == 0) {
        henn_kdd_set sub = tr;
        double *sx = malloc(rows * HENN_KDD_FEATURES * sizeof(double));
        if (sx == NULL) {
            rc = HENN_ENOMEM;
        } else {
            for (i = 0; i < rows; i++)
                memcpy(sx + i * HENN_KDD_FEATURES, tr.x + idx[i] * HENN_KDD_FEATURES,
                       HENN_KDD_FEATURES * sizeof(double));
            sub.x = sx;
            sub.rows = rows;
            rc = henn_kdd_prep_fit(&prep, &sub, o->features, o->log1p);
            free(sx);
        }
    }
    if (rc == 0)
        rc = henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, rows);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&T, &unseen, &prep, &te, NULL, te.rows);
    if (rc != 0) {
        cli_error("preprocessing", rc);
        goto cleanup;
    }
    for (i = 0; i < rows; i++)
        y[i] = tr.y[idx[i]];
    trows = te.rows;
    if (!o->quiet)
        fprintf(stderr,
                "henn kdd: %zu training rows of %zu (%s, %zu features), %zu test rows "
                "(%zu unseen symbolic values)\n",
                rows, tr.rows, o->features == HENN_KDD_ONEHOT ? "one-hot" : "integer codes",
                prep.dim, trows, unseen);

    if (o->export_prefix != NULL) {
        rc = export_part(o->export_prefix, "train", X, y, rows, prep.dim);
        if (rc == 0)
            rc = export_part(o->export_prefix, "test", T, te.y, trows, prep.dim);
        if (rc != 0) {
            cli_error(o->export_prefix, rc);
            goto cleanup;
        }
    }
    dims[0] = prep.dim;
    for (i = 0; i < o->nhidden; i++)
        dims[i + 1] = o->hidden[i];
    dims[o->nhidden + 1] = HENN_KDD_CLASSES;
    rc = henn_nn_model_init(&init, dims, o->nhidden + 2, o->act, o->output, o->seed);
    if (rc != 0) {
        cli_error("model", rc);
        goto cleanup;
    }
    batch = o->batch;
    if (o->encrypted) {
        if (o->nhidden == 0) {
            rc = HENN_EINVAL;
            fprintf(stderr, "henn kdd: --encrypted needs a hidden layer (the protocol "
                            "decrypts the first layer's pre-activations)\n");
            goto cleanup;
        }
        rc = params_for(&p, &init, o->bits);
        if (rc != 0) {
            cli_error("fixed-point parameters", rc);
            goto cleanup;
        }
        /* The published protocol's batches are its upload groups (p.slots
         * rows). The private protocol's: --batch, else p.slots, or when
         * that is under dim + 1 rows the fewest whole chunks that reach it
         * (one-hot, 118 inputs: 2 chunks); a batch may span chunks. */
        proto = o->protocol;
        if (proto & KDD_PRIVATE) {
            size_t need = henn_private_min_batch(prep.dim);
            pbatch = o->batch_set        ? o->batch
                     : p.slots >= need ? p.slots
                                         : (need + p.slots - 1) / p.slots * p.slots;
            if (pbatch < need) {
                fprintf(stderr, "henn kdd: --batch %zu: the private protocol needs batches of "
                                "at least %zu rows (inputs + 1: one gradient from fewer rows "
                                "lets the model service solve for them)\n",
                        pbatch, need);
                rc = HENN_EINVAL;
                refuse = 1;
                goto cleanup;
            }
        }
        batch = (proto & KDD_PRIVATE) && proto != (KDD_PRIVATE | KDD_PUBLISHED) ? pbatch
                                                                                 : p.slots;
        /* Name the runs in JSON order: the default protocol's run first. */
        if (proto == KDD_PUBLISHED)
            pb = &runs[1], pv = &runs[2];
        pv->name = "private";
        pb->name = "published";
        pv->encrypted = pb->encrypted = 1;
        /* What the encrypted run sees: inputs become round(x 2^fx) / 2^fx. */
        {
            size_t nz = 0, lost = 0;
            double scale = ldexp(1.0, (int)p.fx);
            for (i = 0; i < rows * prep.dim; i++) {
                if (X[i] != 0.0f) {
                    nz++;
                    lost += nearbyint((double)X[i] * scale) == 0.0;
                }
            }
            pv->inputs_lost = pb->inputs_lost = lost;
            pv->inputs_nonzero = pb->inputs_nonzero = nz;
            if (lost > 0)
                fprintf(stderr,
                        "henn kdd: the %u-bit fixed point rounds %zu of %zu non-zero training "
                        "inputs to 0 (the encrypted run does not see them; --log1p keeps "
                        "them)\n",
                        (unsigned)p.fx, lost, nz);
        }
    }
    henn_nn_opts_default(&nno);
    nno.optimizer = o->optimizer;
    nno.lr = (float)o->lr;
    nno.momentum = (float)o->momentum;
    nno.max_rows = batch;

    /* Plaintext run. */
    rc = henn_nn_model_copy(&pm, &init);
    if (rc == 0)
        rc = henn_nn_trainer_new(&nt, &pm, &nno);
    t0 = cli_now();
    for (e = 0; e < o->epochs && rc == 0; e++) {
        char label[64];
        snprintf(label, sizeof(label), "plaintext epoch %zu/%zu", e + 1, o->epochs);
        cli_progress_init(&prog, label);
        rc = henn_nn_train_epoch(nt, X, y, rows, batch, o->seed + e,
                                 o->quiet ? NULL : cli_progress_cb, &prog, &runs[0].loss);
    }
    runs[0].seconds = cli_now() - t0;
    runs[0].samples_per_s = (double)(rows * o->epochs) / runs[0].seconds;
    runs[0].batch_rows = batch;
    runs[0].batches = o->epochs * ((rows + batch - 1) / batch);
    if (rc == 0)
        rc = evaluate(&runs[0], &pm, T, te.y, trows, o->quiet);
    if (rc != 0) {
        cli_error("plaintext training", rc);
        goto cleanup;
    }
    runs[0].have = 1;

    if (proto & KDD_PRIVATE) {
        /* The plaintext twin on exactly the private run's batches. */
        henn_nn_opts tno = nno;
        size_t need = henn_private_min_batch(prep.dim), per;
        tno.max_rows = pbatch;
        per = rows < pbatch ? 1 : rows / pbatch + (rows % pbatch >= need ? 1 : 0);
        rc = henn_nn_model_copy(&tm, &init);
        if (rc == 0)
            rc = henn_nn_trainer_new(&tt, &tm, &tno);
        t0 = cli_now();
        if (rc == 0)
            rc = henn_private_train_plain(tt, X, y, rows, prep.dim, pbatch, o->epochs, o->seed,
                                          &tw->loss);
        tw->seconds = cli_now() - t0;
        tw->samples_per_s = (double)(rows * o->epochs) / tw->seconds;
        tw->batch_rows = pbatch;
        tw->batches = o->epochs * per;
        if (rc == 0)
            rc = evaluate(tw, &tm, T, te.y, trows, o->quiet);
        if (rc != 0) {
            cli_error("plaintext training on the private run's batches", rc);
            goto cleanup;
        }
        tw->have = 1;
        rc = run_private(pv, o, &init, &nno, &p, pbatch, X, y, rows, prep.dim, T, te.y, trows,
                         &vm);
        if (rc != 0)
            goto cleanup;
        rc = twin_compare(pv, &vm, &tm, T, trows);
        if (rc != 0) {
            cli_error("private run vs same batches", rc);
            goto cleanup;
        }
    }
    if (proto & KDD_PUBLISHED) {
        rc = run_encrypted(pb, o, &init, &nno, &p, X, y, rows, prep.dim, T, te.y, trows, &em);
        if (rc != 0)
            goto cleanup;
    }
    if (!o->quiet)
        print_table(&runs[0], tw, pv, pb, o);
    if (o->model != NULL) {
        rc = save_model(o->model, &prep,
                        (proto & KDD_PRIVATE) ? &vm : (proto & KDD_PUBLISHED) ? &em : &pm);
        if (rc != 0) {
            cli_error(o->model, rc);
            goto cleanup;
        }
    }
    if (o->json != NULL) {
        json_t *cfg = config_json(o, &prep, o->encrypted ? &init : &pm, rows, testp, trows);
        if (o->encrypted) {
            json_object_set_new(cfg, "protocol",
                                json_string(proto == KDD_PRIVATE     ? "private"
                                            : proto == KDD_PUBLISHED ? "published"
                                                                     : "both"));
            json_object_set_new(cfg, "private_batch",
                                (proto & KDD_PRIVATE) ? json_integer((json_int_t)pbatch)
                                                      : json_null());
            json_object_set_new(cfg, "slots", json_integer((json_int_t)p.slots));
        }
        rc = write_json_file(o->json, o, cfg, runs, 4);
        if (rc != 0)
            cli_error(o->json, rc);
    }
cleanup:
    henn_nn_metrics_clear(&runs[0].mt);
    henn_nn_metrics_clear(&runs[1].mt);
    henn_nn_metrics_clear(&runs[2].mt);
    henn_nn_metrics_clear(&runs[3].mt);
    henn_nn_trainer_free(nt);
    henn_nn_trainer_free(tt);
    henn_nn_model_clear(&tm);
    henn_nn_model_clear(&init);
    henn_nn_model_clear(&pm);
    henn_nn_model_clear(&em);
    henn_nn_model_clear(&vm);
    henn_kdd_prep_clear(&prep);
    henn_kdd_set_clear(&tr);
    henn_kdd_set_clear(&te);
    free(idx);
    free(y);
    free(X);
    free(T);
    return refuse ? 2 : rc == 0 ? 0 : 1;
}

static int cmd_eval(const kopts *o)
{
    char testp[4096];
    henn_kdd_set te;
    henn_kdd_prep prep;
    henn_nn_model m;
    run r[2];
    float *T = NULL;
    size_t unseen = 0;
    int rc;

    memset(r, 0, sizeof(r));
    r[0].name = "plaintext";
    r[1].name = "encrypted";
    r[1].encrypted = 1;
    henn_kdd_set_init(&te);
    if (o->model == NULL)
        return bad("eval needs --model FILE", NULL);
    rc = load_model(o->model, &prep, &m);
    if (rc != 0) {
        fprintf(stderr, "henn kdd: %s: not a henn KDD model file (%s)\n", o->model,
                henn_strerror(rc));
        return 1;
    }
    if (o->test == NULL)
        default_path(testp, sizeof(testp), "corrected.gz");
    else
        snprintf(testp, sizeof(testp), "%s", o->test);
    rc = load_set(&te, testp, o, o->test ? o->test_layout : HENN_KDD_LAYOUT_AUTO, o->test_rows);
    if (rc == 0)
        rc = henn_kdd_prep_apply(&T, &unseen, &prep, &te, NULL, te.rows);
    if (rc == 0)
        rc = evaluate(&r[0], &m, T, te.y, te.rows, o->quiet);
    if (rc == 0 && o->encrypted) {
        henn_owner *owner = NULL;
        henn_trainer *server = NULL;
        henn_transport to_server;
        henn_proto_params p;
        cli_progress prog;
        henn_svc_client *svc = NULL; /* --server */
        rc = params_for(&p, &m, o->bits);
        if (rc == 0)
            rc = make_parties(&owner, &server, o, NULL, &m, NULL, 0, &prog,
                              "encrypted inference");
        if (rc == 0) {
            henn_transport_to_trainer(&to_server, server);
            if (o->svc.server != NULL &&
                (rc = cli_svc_open_kdd_infer(&svc, &o->svc, &m, o->bits)) == 0)
                henn_svc_client_transport(&to_server, svc);
        }
        if (rc == 0)
            rc = infer_compare(&r[1], owner, &to_server, &p, &m, T,
                               o->infer_rows < te.rows ? o->infer_rows : te.rows, prep.dim);
        cli_svc_close(svc);
        if (rc == 0 && !o->quiet)
            printf("encrypted inference: %zu records, %.1f records/s, %.2f%% equal to "
                   "plaintext inference (%zu-bit key)\n",
                   r[1].infer_rows, r[1].infer_per_s, 100.0 * r[1].infer_agree, o->bits);
        henn_owner_free(owner);
        henn_trainer_free(server);
    }
    if (rc != 0)
        cli_error("eval", rc);
    if (rc == 0 && !o->quiet)
        printf("accuracy %.4f (first 1,000: %.4f), macro-F1 %.4f on %zu test rows "
               "(%zu unseen symbolic values)\n",
               r[0].acc_all, r[0].acc_head, r[0].macro_f1, r[0].all_rows, unseen);
    if (rc == 0 && o->json != NULL) {
        r[0].have = 1;
        rc = write_json_file(o->json, o, config_json(o, &prep, &m, 0, testp, te.rows), r, 2);
    }
    henn_nn_metrics_clear(&r[0].mt);
    henn_nn_model_clear(&m);
    henn_kdd_prep_clear(&prep);
    henn_kdd_set_clear(&te);
    free(T);
    return rc == 0 ? 0 : 1;
}

int henn_cli_kdd(int argc, char **argv)
{
    kopts o;
    int rc;
    if (argc < 1 || (strcmp(argv[0], "train") != 0 && strcmp(argv[0], "eval") != 0)) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            fputs(kdd_usage, stdout);
            return 0;
        }
        return bad("kdd takes a subcommand: train or eval", NULL);
    }
    rc = parse_kopts(&o, argc - 1, argv + 1);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return rc;
    o.eval = strcmp(argv[0], "eval") == 0;
    if ((o.svc.server != NULL || o.svc.token_file != NULL || o.svc.ca_file != NULL ||
         o.svc.session_file != NULL || o.svc.insecure_http) &&
        (o.svc.server == NULL || !o.encrypted))
        return bad("--server (and --token, --ca, --insecure-http, --session-file) go with "
                   "--encrypted --server URL",
                   NULL);
    if (check_outputs(&o, o.eval) != 0)
        return 1;
    return o.eval ? cmd_eval(&o) : cmd_train(&o);
}
