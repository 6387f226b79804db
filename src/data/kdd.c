/*
 * KDD Cup 1999 / NSL-KDD loader and preprocessing (henn/kdd.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../core/internal.h"
#include "henn/kdd.h"

#define MAX_LINE 65536
#define MAX_VOCAB 1024

/* Attack name -> class: the KDD Cup 1999 task's mapping, with the 17
 * attack types found only in the test set. */
static const struct {
    const char *name;
    uint8_t cls;
} label_map[] = {
    {"normal", HENN_KDD_NORMAL},
    {"back", HENN_KDD_DOS},           {"land", HENN_KDD_DOS},
    {"neptune", HENN_KDD_DOS},        {"pod", HENN_KDD_DOS},
    {"smurf", HENN_KDD_DOS},          {"teardrop", HENN_KDD_DOS},
    {"apache2", HENN_KDD_DOS},        {"mailbomb", HENN_KDD_DOS},
    {"processtable", HENN_KDD_DOS},   {"udpstorm", HENN_KDD_DOS},
    {"buffer_overflow", HENN_KDD_U2R}, {"loadmodule", HENN_KDD_U2R},
    {"perl", HENN_KDD_U2R},           {"rootkit", HENN_KDD_U2R},
    {"httptunnel", HENN_KDD_U2R},     {"ps", HENN_KDD_U2R},
    {"sqlattack", HENN_KDD_U2R},      {"xterm", HENN_KDD_U2R},
    {"ftp_write", HENN_KDD_R2L},      {"guess_passwd", HENN_KDD_R2L},
    {"imap", HENN_KDD_R2L},           {"multihop", HENN_KDD_R2L},
    {"phf", HENN_KDD_R2L},            {"spy", HENN_KDD_R2L},
    {"warezclient", HENN_KDD_R2L},    {"warezmaster", HENN_KDD_R2L},
    {"named", HENN_KDD_R2L},          {"sendmail", HENN_KDD_R2L},
    {"snmpgetattack", HENN_KDD_R2L},  {"snmpguess", HENN_KDD_R2L},
    {"worm", HENN_KDD_R2L},           {"xlock", HENN_KDD_R2L},
    {"xsnoop", HENN_KDD_R2L},
    {"ipsweep", HENN_KDD_PROBE},      {"nmap", HENN_KDD_PROBE},
    {"portsweep", HENN_KDD_PROBE},    {"satan", HENN_KDD_PROBE},
    {"mscan", HENN_KDD_PROBE},        {"saint", HENN_KDD_PROBE},
};

static const char *const class_names[HENN_KDD_CLASSES] = {"normal", "dos", "u2r", "r2l",
                                                           "probe"};

const char *henn_kdd_class_name(int cls)
{
    return (cls >= 0 && cls < HENN_KDD_CLASSES) ? class_names[cls] : "?";
}

int henn_kdd_class_of_label(const char *label, size_t label_len)
{
    size_t i;
    if (label_len > 0 && label[label_len - 1] == '.')
        label_len--;
    for (i = 0; i < sizeof(label_map) / sizeof(label_map[0]); i++) {
        if (strlen(label_map[i].name) == label_len &&
            memcmp(label_map[i].name, label, label_len) == 0)
            return label_map[i].cls;
    }
    return -1;
}

void henn_kdd_set_init(henn_kdd_set *set)
{
    memset(set, 0, sizeof(*set));
}

static void free_vocab(char **v, size_t count)
{
    size_t i;
    if (v == NULL)
        return;
    for (i = 0; i < count; i++)
        free(v[i]);
    free(v);
}

void henn_kdd_set_clear(henn_kdd_set *set)
{
    int k;
    if (set == NULL)
        return;
    free(set->x);
    free(set->y);
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++)
        free_vocab(set->sym[k], set->sym_count[k]);
    memset(set, 0, sizeof(*set));
}

/* Loader state shared by the file and memory paths. */
typedef struct loader {
    henn_kdd_set *set;
    size_t cap;
    size_t max_rows;
    unsigned flags;
    henn_kdd_error *err;
    const char *name;
    size_t line;
    size_t blank_line; /* first of a run of blank lines not yet followed by data (0 = none) */
} loader;

static int fail(loader *ld, int rc, unsigned field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader *ld, int rc, unsigned field, const char *fmt, ...)
{
    va_list ap;
    if (ld->err != NULL) {
        snprintf(ld->err->file, sizeof(ld->err->file), "%s", ld->name);
        ld->err->line = ld->line;
        ld->err->field = field;
        va_start(ap, fmt);
        vsnprintf(ld->err->msg, sizeof(ld->err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Parse a non-negative decimal number: digits[.digits] fast, anything
 * else through strtod; rejects empty, trailing junk, negative, NaN, inf. */
static int parse_number(double *out, const char *s, size_t len)
{
    char tmp[64], *end;
    double v;
    size_t i = 0;
    uint64_t ip = 0;
    int digits = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 18) {
        ip = ip * 10 + (uint64_t)(s[i] - '0');
        i++;
        digits++;
    }
    if (digits > 0 && i == len) {
        *out = (double)ip;
        return 0;
    }
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    v = strtod(tmp, &end);
    if (end != tmp + len || errno == ERANGE || !isfinite(v) || v < 0.0)
        return -1;
    *out = v;
    return 0;
}

static int intern(loader *ld, int k, const char *s, size_t len, double *code)
{
    henn_kdd_set *set = ld->set;
    size_t i, n = set->sym_count[k];
    char **v, *copy;
    for (i = 0; i < n; i++) {
        if (strlen(set->sym[k][i]) == len && memcmp(set->sym[k][i], s, len) == 0) {
            *code = (double)i;
            return 0;
        }
    }
    if (len == 0)
        return fail(ld, HENN_EFORMAT, (unsigned)k + 2, "empty symbolic value");
    if (n >= MAX_VOCAB)
        return fail(ld, HENN_EFORMAT, (unsigned)k + 2, "more than %d distinct values",
                    MAX_VOCAB);
    v = realloc(set->sym[k], (n + 1) * sizeof(*v));
    if (v == NULL)
        return HENN_ENOMEM;
    set->sym[k] = v;
    copy = malloc(len + 1);
    if (copy == NULL)
        return HENN_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    v[n] = copy;
    set->sym_count[k] = n + 1;
    *code = (double)n;
    return 0;
}

static int grow(loader *ld)
{
    henn_kdd_set *set = ld->set;
    size_t cap = ld->cap ? ld->cap * 2 : 4096;
    double *x;
    uint8_t *y;
    x = realloc(set->x, cap * HENN_KDD_FEATURES * sizeof(double));
    if (x == NULL)
        return HENN_ENOMEM;
    set->x = x;
    y = realloc(set->y, cap);
    if (y == NULL)
        return HENN_ENOMEM;
    set->y = y;
    ld->cap = cap;
    return 0;
}

/* Parse one line (without its newline). Returns 0, 1 for a row skipped
 * under HENN_KDD_SKIP_BAD, or an error. */
static int parse_line(loader *ld, const char *s, size_t len)
{
    const char *f[44];
    size_t fl[44], nf = 0, i, start = 0;
    double row[HENN_KDD_FEATURES];
    unsigned layout;
    int cls, rc;

    if (len > 0 && s[len - 1] == '\r')
        len--;
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            if (nf == 44)
                return fail(ld, HENN_EFORMAT, 0, "more than 43 fields");
            f[nf] = s + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    if (nf == 42)
        layout = HENN_KDD_LAYOUT_KDD99;
    else if (nf == 43)
        layout = HENN_KDD_LAYOUT_NSL;
    else
        return fail(ld, HENN_EFORMAT, 0, "%zu fields (expected 42 for KDD Cup 1999, 43 for NSL-KDD)",
                    nf);
    if (ld->set->layout == 0)
        ld->set->layout = layout;
    if (layout != ld->set->layout)
        return fail(ld, HENN_EFORMAT, 0, "%zu fields but the file's layout is %s", nf,
                    ld->set->layout == HENN_KDD_LAYOUT_NSL ? "NSL-KDD (43)" : "KDD Cup 1999 (42)");
    if (layout == HENN_KDD_LAYOUT_KDD99 && (fl[41] == 0 || f[41][fl[41] - 1] != '.'))
        return fail(ld, HENN_EFORMAT, 42, "KDD Cup 1999 label without its trailing dot");
    if (layout == HENN_KDD_LAYOUT_NSL) {
        double diff;
        if (fl[41] > 0 && f[41][fl[41] - 1] == '.')
            return fail(ld, HENN_EFORMAT, 42, "NSL-KDD label with a trailing dot");
        if (parse_number(&diff, f[42], fl[42]) != 0)
            return fail(ld, HENN_EFORMAT, 43, "difficulty is not a number");
    }
    cls = henn_kdd_class_of_label(f[41], fl[41]);
    if (cls < 0)
        return fail(ld, HENN_EFORMAT, 42, "unknown label '%.*s'", (int)(fl[41] > 40 ? 40 : fl[41]),
                    f[41]);
    for (i = 0; i < HENN_KDD_FEATURES; i++) {
        if (i >= 1 && i <= 3)
            continue;
        if (parse_number(&row[i], f[i], fl[i]) != 0)
            return fail(ld, HENN_EFORMAT, (unsigned)i + 1,
                        "'%.*s' is not a non-negative finite number",
                        (int)(fl[i] > 40 ? 40 : fl[i]), f[i]);
    }
    for (i = 1; i <= 3; i++) {
        rc = intern(ld, (int)i - 1, f[i], fl[i], &row[i]);
        if (rc != 0)
            return rc;
    }
    if (ld->set->rows == ld->cap && (rc = grow(ld)) != 0)
        return rc;
    memcpy(ld->set->x + ld->set->rows * HENN_KDD_FEATURES, row, sizeof(row));
    ld->set->y[ld->set->rows] = (uint8_t)cls;
    ld->set->rows++;
    return 0;
}

/* Is s[0..len) a column name (a letter or quote first, then letters,
 * digits, '_', '-', quotes, spaces)? */
static int is_name(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && (s[0] == '"' || s[0] == '\''))
        i++;
    if (i >= len || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        return 0;
    for (; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '"' || c == '\'' || c == ' '))
            return 0;
    }
    return 1;
}

/* A header line: the numeric columns duration, src_bytes and dst_bytes
 * (fields 1, 5, 6) all hold column names. */
static int is_header(const char *s, size_t len)
{
    size_t i, start = 0, field = 0;
    int names = 0;
    for (i = 0; i <= len && field <= 5; i++) {
        if (i == len || s[i] == ',') {
            if ((field == 0 || field == 4 || field == 5) && is_name(s + start, i - start))
                names++;
            field++;
            start = i + 1;
        }
    }
    return names == 3;
}

/* Handle one line; under SKIP_BAD a format error only counts the row.
 * Blank lines are accepted only at the end of the file (a blank line
 * followed by data is an error, or a skipped row under SKIP_BAD). */
static int take_line(loader *ld, const char *s, size_t len)
{
    int rc;
    size_t n = len;
    ld->line++;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n == 0) {
        if (ld->blank_line == 0)
            ld->blank_line = ld->line;
        return 0;
    }
    if (ld->line == 1 && ((ld->flags & HENN_KDD_HEADER) != 0 || is_header(s, n))) {
        ld->set->header = 1;
        return 0;
    }
    if (ld->blank_line != 0) {
        size_t here = ld->line;
        if ((ld->flags & HENN_KDD_SKIP_BAD) != 0) {
            ld->set->skipped += here - ld->blank_line;
        } else {
            ld->line = ld->blank_line;
            return fail(ld, HENN_EFORMAT, 0, "empty line (followed by data on line %zu)", here);
        }
        ld->blank_line = 0;
    }
    rc = parse_line(ld, s, len);
    if (rc == HENN_EFORMAT && ld->line == 1 && ld->set->rows == 0 && ld->err != NULL &&
        (ld->flags & HENN_KDD_SKIP_BAD) == 0) {
        size_t m = strlen(ld->err->msg);
        snprintf(ld->err->msg + m, sizeof(ld->err->msg) - m,
                 " (first line, and not a header: its first field is not a column name)");
    }
    if (rc == HENN_EFORMAT && (ld->flags & HENN_KDD_SKIP_BAD) != 0) {
        ld->set->skipped++;
        if (ld->err != NULL)
            memset(ld->err, 0, sizeof(*ld->err));
        return 0;
    }
    return rc;
}

static int start(loader *ld, henn_kdd_set *set, const char *name, size_t max_rows,
                 unsigned flags, henn_kdd_error *err)
{
    unsigned layout = flags & 3u;
    henn_kdd_set_init(set);
    memset(ld, 0, sizeof(*ld));
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    ld->set = set;
    ld->max_rows = max_rows;
    ld->flags = flags;
    ld->err = err;
    ld->name = name;
    if (layout == 3u)
        return HENN_EINVAL;
    set->layout = layout;
    return 0;
}

static int finish(loader *ld, int rc)
{
    if (rc == 0 && ld->set->rows == 0)
        rc = fail(ld, HENN_EFORMAT, 0, "no data rows");
    if (rc != 0)
        henn_kdd_set_clear(ld->set);
    return rc;
}

int henn_kdd_load_mem(henn_kdd_set *set, const char *text, size_t text_len, const char *name,
                      size_t max_rows, unsigned flags, henn_kdd_error *err)
{
    loader ld;
    size_t pos = 0;
    int rc = start(&ld, set, name ? name : "(memory)", max_rows, flags, err);
    while (rc == 0 && pos < text_len && (max_rows == 0 || set->rows < max_rows)) {
        const char *nl = memchr(text + pos, '\n', text_len - pos);
        size_t len = nl ? (size_t)(nl - (text + pos)) : text_len - pos;
        if (len > MAX_LINE) {
            ld.line++;
            rc = fail(&ld, HENN_EFORMAT, 0, "line longer than %d bytes", MAX_LINE);
            break;
        }
        rc = take_line(&ld, text + pos, len);
        pos += len + 1;
    }
    return finish(&ld, rc);
}

int henn_kdd_load(henn_kdd_set *set, const char *path, size_t max_rows, unsigned flags,
                  henn_kdd_error *err)
{
    loader ld;
    gzFile gz;
    char *buf = NULL;
    int rc = start(&ld, set, path, max_rows, flags, err), zerr;

    if (rc != 0)
        return finish(&ld, rc);
    gz = gzopen(path, "rb");
    if (gz == NULL)
        return finish(&ld, fail(&ld, HENN_EIO, 0, "cannot open: %s", strerror(errno)));
    buf = malloc(MAX_LINE + 2);
    if (buf == NULL) {
        gzclose(gz);
        return finish(&ld, HENN_ENOMEM);
    }
    while (max_rows == 0 || set->rows < max_rows) {
        size_t len;
        if (gzgets(gz, buf, MAX_LINE + 2) == NULL)
            break;
        len = strlen(buf);
        if (len > 0 && buf[len - 1] == '\n') {
            len--;
        } else if (len <= MAX_LINE) {
            /* No newline: the last line, or a stream cut short. */
            const char *msg = gzerror(gz, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END) {
                ld.line++;
                rc = fail(&ld, HENN_EIO, 0,
                          "truncated or corrupt gzip stream (the data ends inside this line): %s",
                          msg);
                break;
            }
        } else if (len == MAX_LINE + 1) {
            ld.line++;
            rc = fail(&ld, HENN_EFORMAT, 0, "line longer than %d bytes", MAX_LINE);
            break;
        }
        rc = take_line(&ld, buf, len);
        if (rc != 0)
            break;
    }
    if (rc == 0) {
        const char *msg = gzerror(gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            rc = fail(&ld, HENN_EIO, 0, "truncated or corrupt gzip stream: %s", msg);
    }
    gzclose(gz);
    free(buf);
    return finish(&ld, rc);
}

/* ---- preprocessing ---- */

void henn_kdd_prep_init(henn_kdd_prep *prep)
{
    memset(prep, 0, sizeof(*prep));
}

void henn_kdd_prep_clear(henn_kdd_prep *prep)
{
    int k;
    if (prep == NULL)
        return;
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++)
        free_vocab(prep->vocab[k], prep->vocab_count[k]);
    memset(prep, 0, sizeof(*prep));
}

static double transform(const henn_kdd_prep *prep, size_t col, double v)
{
    if (prep->log1p >= HENN_KDD_LOG1P_BYTES && (col == 4 || col == 5))
        return log1p(v);
    if (prep->log1p >= HENN_KDD_LOG1P_HEAVY && col == 0)
        return log1p(v);
    return v;
}

int henn_kdd_prep_fit(henn_kdd_prep *prep, const henn_kdd_set *train, henn_kdd_encoding encoding,
                      int log1p)
{
    size_t r, c, i;
    int k;
    henn_kdd_prep_init(prep);
    if (train == NULL || train->rows == 0 ||
        (encoding != HENN_KDD_ONEHOT && encoding != HENN_KDD_INTCODE))
        return HENN_EINVAL;
    prep->encoding = encoding;
    if (log1p < HENN_KDD_LOG1P_NONE || log1p > HENN_KDD_LOG1P_HEAVY)
        return HENN_EINVAL;
    prep->log1p = log1p;
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++) {
        size_t n = train->sym_count[k];
        prep->vocab[k] = calloc(n ? n : 1, sizeof(char *));
        if (prep->vocab[k] == NULL)
            goto nomem;
        prep->vocab_count[k] = n;
        for (i = 0; i < n; i++) {
            size_t len = strlen(train->sym[k][i]);
            prep->vocab[k][i] = malloc(len + 1);
            if (prep->vocab[k][i] == NULL)
                goto nomem;
            memcpy(prep->vocab[k][i], train->sym[k][i], len + 1);
        }
    }
    for (c = 0; c < HENN_KDD_FEATURES; c++) {
        prep->min[c] = INFINITY;
        prep->max[c] = -INFINITY;
    }
    for (r = 0; r < train->rows; r++) {
        const double *x = train->x + r * HENN_KDD_FEATURES;
        for (c = 0; c < HENN_KDD_FEATURES; c++) {
            double v = transform(prep, c, x[c]);
            if (v < prep->min[c])
                prep->min[c] = v;
            if (v > prep->max[c])
                prep->max[c] = v;
        }
    }
    prep->dim = HENN_KDD_FEATURES;
    if (encoding == HENN_KDD_ONEHOT)
        prep->dim = HENN_KDD_FEATURES - HENN_KDD_SYMBOLIC + prep->vocab_count[0] +
                    prep->vocab_count[1] + prep->vocab_count[2];
    return 0;
nomem:
    henn_kdd_prep_clear(prep);
    return HENN_ENOMEM;
}

static float scale(const henn_kdd_prep *prep, size_t c, double v)
{
    double range = prep->max[c] - prep->min[c], s;
    if (!(range > 0.0))
        return 0.0f;
    s = (v - prep->min[c]) / range;
    if (s < 0.0)
        s = 0.0;
    if (s > 1.0)
        s = 1.0;
    return (float)s;
}

/* Map each of set's symbolic codes to the training vocabulary (or SIZE_MAX). */
static int build_maps(size_t *map[HENN_KDD_SYMBOLIC], const henn_kdd_prep *prep,
                      const henn_kdd_set *set)
{
    int k;
    size_t i, j;
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++) {
        map[k] = malloc((set->sym_count[k] ? set->sym_count[k] : 1) * sizeof(size_t));
        if (map[k] == NULL)
            return HENN_ENOMEM;
        for (i = 0; i < set->sym_count[k]; i++) {
            map[k][i] = SIZE_MAX;
            for (j = 0; j < prep->vocab_count[k]; j++) {
                if (strcmp(set->sym[k][i], prep->vocab[k][j]) == 0) {
                    map[k][i] = j;
                    break;
                }
            }
        }
    }
    return 0;
}

int henn_kdd_prep_apply(float **X, size_t *unseen_out, const henn_kdd_prep *prep,
                        const henn_kdd_set *set, const size_t *idx, size_t count)
{
    size_t *map[HENN_KDD_SYMBOLIC] = {NULL, NULL, NULL};
    size_t r, c, unseen = 0;
    float *out = NULL;
    int rc, k;

    *X = NULL;
    if (unseen_out != NULL)
        *unseen_out = 0;
    if (prep->dim == 0 || count == 0)
        return HENN_EINVAL;
    for (r = 0; r < count; r++)
        if ((idx ? idx[r] : r) >= set->rows)
            return HENN_EINVAL;
    rc = build_maps(map, prep, set);
    if (rc != 0)
        goto cleanup;
    out = calloc(count * prep->dim, sizeof(float));
    if (out == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (r = 0; r < count; r++) {
        const double *x = set->x + (idx ? idx[r] : r) * HENN_KDD_FEATURES;
        float *o = out + r * prep->dim;
        size_t pos = 0;
        for (c = 0; c < HENN_KDD_FEATURES; c++) {
            if (c >= 1 && c <= 3) {
                size_t code;
                if (!(x[c] >= 0.0 && x[c] < (double)set->sym_count[c - 1])) {
                    rc = HENN_EINVAL; /* not an index into the set's vocabulary */
                    goto cleanup;
                }
                code = map[c - 1][(size_t)x[c]];
                if (code == SIZE_MAX)
                    unseen++;
                if (prep->encoding == HENN_KDD_ONEHOT) {
                    if (code != SIZE_MAX)
                        o[pos + code] = 1.0f;
                    pos += prep->vocab_count[c - 1];
                } else {
                    size_t v = prep->vocab_count[c - 1];
                    double denom = v > 1 ? (double)(v - 1) : 1.0;
                    double s = (code == SIZE_MAX ? (double)v : (double)code) / denom;
                    o[pos++] = (float)(s > 1.0 ? 1.0 : s);
                }
            } else {
                o[pos++] = scale(prep, c, transform(prep, c, x[c]));
            }
        }
    }
    if (unseen_out != NULL)
        *unseen_out = unseen;
    *X = out;
    out = NULL;
    rc = 0;
cleanup:
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++)
        free(map[k]);
    free(out);
    return rc;
}

int henn_kdd_subset(size_t *idx, size_t count, size_t rows, uint64_t seed)
{
    henn__prng rng;
    size_t *perm, i;
    if (count > rows || rows == 0)
        return HENN_EINVAL;
    perm = malloc(rows * sizeof(size_t));
    if (perm == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < rows; i++)
        perm[i] = i;
    henn__prng_init(&rng, seed, 0x6b6464);
    for (i = 0; i < count; i++) {
        size_t j = i + (size_t)henn__prng_below(&rng, (uint64_t)(rows - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        idx[i] = perm[i];
    }
    free(perm);
    return 0;
}

/* ---- preprocessing file section ---- */

typedef struct pbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} pbuf;

static void pb_put(pbuf *b, const void *d, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        uint8_t *q;
        while (cap < b->len + n)
            cap *= 2;
        q = realloc(b->p, cap);
        if (q == NULL) {
            b->err = HENN_ENOMEM;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_u32(pbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pb_put(b, x, 4);
}

static void pb_f64(pbuf *b, double d)
{
    uint64_t u;
    uint8_t x[8];
    int i;
    memcpy(&u, &d, 8);
    for (i = 0; i < 8; i++)
        x[i] = (uint8_t)(u >> (8 * i));
    pb_put(b, x, 8);
}

int henn_kdd_prep_serialize(uint8_t **buf, size_t *buf_len, const henn_kdd_prep *prep)
{
    pbuf b = {NULL, 0, 0, 0};
    size_t c, i;
    int k;
    *buf = NULL;
    *buf_len = 0;
    if (prep == NULL || prep->dim == 0)
        return HENN_EINVAL;
    pb_put(&b, "HKDP", 4);
    pb_u32(&b, 1);
    pb_u32(&b, (uint32_t)prep->encoding);
    pb_u32(&b, (uint32_t)prep->log1p);
    pb_u32(&b, (uint32_t)prep->dim);
    for (c = 0; c < HENN_KDD_FEATURES; c++) {
        pb_f64(&b, prep->min[c]);
        pb_f64(&b, prep->max[c]);
    }
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++) {
        pb_u32(&b, (uint32_t)prep->vocab_count[k]);
        for (i = 0; i < prep->vocab_count[k]; i++) {
            size_t len = strlen(prep->vocab[k][i]);
            pb_u32(&b, (uint32_t)len);
            pb_put(&b, prep->vocab[k][i], len);
        }
    }
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *buf = b.p;
    *buf_len = b.len;
    return 0;
}

typedef struct rb {
    const uint8_t *p;
    size_t len, pos;
    int err;
} rb;

static const uint8_t *rb_get(rb *r, size_t n)
{
    const uint8_t *q;
    if (r->err || n > r->len - r->pos) {
        r->err = 1;
        return NULL;
    }
    q = r->p + r->pos;
    r->pos += n;
    return q;
}

static uint32_t rb_u32(rb *r)
{
    const uint8_t *q = rb_get(r, 4);
    return q ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                   (uint32_t)q[3] << 24
             : 0;
}

static double rb_f64(rb *r)
{
    const uint8_t *q = rb_get(r, 8);
    uint64_t u = 0;
    double d;
    int i;
    if (q == NULL)
        return 0.0;
    for (i = 0; i < 8; i++)
        u |= (uint64_t)q[i] << (8 * i);
    memcpy(&d, &u, 8);
    return d;
}

int henn_kdd_prep_deserialize(henn_kdd_prep *prep, size_t *used, const uint8_t *buf,
                              size_t buf_len)
{
    rb r = {buf, buf_len, 0, 0};
    const uint8_t *magic;
    size_t c, i, dim_expect;
    uint32_t enc, lg;
    int k;

    henn_kdd_prep_init(prep);
    *used = 0;
    magic = rb_get(&r, 4);
    if (magic == NULL || memcmp(magic, "HKDP", 4) != 0 || rb_u32(&r) != 1)
        return HENN_EFORMAT;
    enc = rb_u32(&r);
    lg = rb_u32(&r);
    prep->dim = rb_u32(&r);
    if (r.err || enc > HENN_KDD_INTCODE || lg > HENN_KDD_LOG1P_HEAVY)
        return HENN_EFORMAT;
    prep->encoding = (henn_kdd_encoding)enc;
    prep->log1p = (int)lg;
    for (c = 0; c < HENN_KDD_FEATURES; c++) {
        prep->min[c] = rb_f64(&r);
        prep->max[c] = rb_f64(&r);
        if (!isfinite(prep->min[c]) || !isfinite(prep->max[c]) || prep->min[c] > prep->max[c])
            goto bad;
    }
    for (k = 0; k < HENN_KDD_SYMBOLIC; k++) {
        size_t n = rb_u32(&r);
        if (r.err || n > MAX_VOCAB)
            goto bad;
        prep->vocab[k] = calloc(n ? n : 1, sizeof(char *));
        if (prep->vocab[k] == NULL) {
            henn_kdd_prep_clear(prep);
            return HENN_ENOMEM;
        }
        prep->vocab_count[k] = n;
        for (i = 0; i < n; i++) {
            size_t len = rb_u32(&r);
            const uint8_t *s;
            if (r.err || len == 0 || len > 256)
                goto bad;
            s = rb_get(&r, len);
            if (s == NULL || memchr(s, 0, len) != NULL)
                goto bad;
            prep->vocab[k][i] = malloc(len + 1);
            if (prep->vocab[k][i] == NULL) {
                henn_kdd_prep_clear(prep);
                return HENN_ENOMEM;
            }
            memcpy(prep->vocab[k][i], s, len);
            prep->vocab[k][i][len] = '\0';
        }
    }
    dim_expect = HENN_KDD_FEATURES;
    if (prep->encoding == HENN_KDD_ONEHOT)
        dim_expect = HENN_KDD_FEATURES - HENN_KDD_SYMBOLIC + prep->vocab_count[0] +
                     prep->vocab_count[1] + prep->vocab_count[2];
    if (prep->dim != dim_expect)
        goto bad;
    *used = r.pos;
    return 0;
bad:
    henn_kdd_prep_clear(prep);
    return HENN_EFORMAT;
}
