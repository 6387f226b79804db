/* Data sets for logistic regression: a numeric CSV reader with precise
 * error messages, WDBC and Framingham preparation, standardisation and
 * stratified splits (henn/lr.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/pyrandom.h"
#include "henn/lr.h"

#define MAX_COLS 4096

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

void henn_lr_data_clear(henn_lr_data *d)
{
    if (d == NULL)
        return;
    free(d->X);
    free(d->y);
    memset(d, 0, sizeof(*d));
}

static int data_alloc(henn_lr_data *d, size_t rows, size_t dim)
{
    memset(d, 0, sizeof(*d));
    if (dim == 0 || rows > SIZE_MAX / sizeof(double) / dim)
        return HENN_EINVAL;
    d->X = malloc((rows ? rows : 1) * dim * sizeof(double));
    d->y = malloc((rows ? rows : 1) * sizeof(double));
    if (d->X == NULL || d->y == NULL) {
        henn_lr_data_clear(d);
        return HENN_ENOMEM;
    }
    d->rows = rows;
    d->dim = dim;
    return 0;
}

/* ---- a small CSV table reader ---------------------------------------- */

typedef struct table {
    size_t rows, cols;
    char **names;  /* cols header names */
    double *v;     /* rows x cols; NAN for NA fields when allowed */
    size_t *lines; /* source line of each row */
} table;

static void table_clear(table *t)
{
    if (t->names != NULL)
        for (size_t c = 0; c < t->cols; c++)
            free(t->names[c]);
    free(t->names);
    free(t->v);
    free(t->lines);
    memset(t, 0, sizeof(*t));
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '"')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n' || s[n - 1] == '"'))
        s[--n] = '\0';
    return s;
}

/* Split line in place at commas; returns the field count (at most max). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (n < max)
            fields[n] = trim(p);
        n++;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* Reads a CSV with a header. na_ok: NA/empty fields become NAN. */
static int table_read(table *t, const char *path, int header, int na_ok, char *err,
                      size_t err_len)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return HENN_EIO;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, rows_cap = 0;
    char **fields = malloc(MAX_COLS * sizeof(char *));
    int rc = fields == NULL ? HENN_ENOMEM : 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        lineno++;
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
            (unsigned char)s[2] == 0xbf)
            s += 3; /* UTF-8 byte-order mark */
        if (trim(s)[0] == '\0')
            continue; /* blank line */
        size_t n = split_fields(s, fields, MAX_COLS);
        if (n > MAX_COLS) {
            set_err(err, err_len, "%s:%zu: more than %d columns", path, lineno, MAX_COLS);
            rc = HENN_EFORMAT;
            break;
        }
        if (t->cols == 0) {
            t->cols = n;
            t->names = calloc(n, sizeof(char *));
            if (t->names == NULL) {
                rc = HENN_ENOMEM;
                break;
            }
            if (header) {
                for (size_t c = 0; c < n && rc == 0; c++)
                    if ((t->names[c] = strdup(fields[c])) == NULL)
                        rc = HENN_ENOMEM;
                continue;
            }
        }
        if (n != t->cols) {
            set_err(err, err_len, "%s:%zu: %zu columns, expected %zu", path, lineno, n, t->cols);
            rc = HENN_EFORMAT;
            break;
        }
        if (t->rows == rows_cap) {
            size_t nc = rows_cap ? 2 * rows_cap : 256;
            double *v = realloc(t->v, nc * t->cols * sizeof(double));
            if (v == NULL) {
                rc = HENN_ENOMEM;
                break;
            }
            t->v = v;
            size_t *l = realloc(t->lines, nc * sizeof(size_t));
            if (l == NULL) {
                rc = HENN_ENOMEM;
                break;
            }
            t->lines = l;
            rows_cap = nc;
        }
        double *row = t->v + t->rows * t->cols;
        for (size_t c = 0; c < n; c++) {
            const char *fs = fields[c];
            if (fs[0] == '\0' || strcmp(fs, "NA") == 0 || strcmp(fs, "nan") == 0) {
                if (!na_ok) {
                    set_err(err, err_len, "%s:%zu:%zu: missing value", path, lineno, c + 1);
                    rc = HENN_EFORMAT;
                    break;
                }
                row[c] = NAN;
                continue;
            }
            char *end;
            errno = 0;
            double x = strtod(fs, &end);
            if (end == fs || *end != '\0' || !isfinite(x)) {
                set_err(err, err_len, "%s:%zu:%zu: not a number: \"%.40s\"", path, lineno, c + 1,
                        fs);
                rc = HENN_EFORMAT;
                break;
            }
            row[c] = x;
        }
        t->lines[t->rows] = lineno;
        t->rows++;
    }
    if (rc == 0 && ferror(f)) {
        set_err(err, err_len, "%s: read error", path);
        rc = HENN_EIO;
    }
    if (rc == 0 && t->rows == 0) {
        set_err(err, err_len, "%s: no data rows", path);
        rc = HENN_EFORMAT;
    }
    free(line);
    free(fields);
    fclose(f);
    if (rc != 0)
        table_clear(t);
    return rc;
}

static int row_has_na(const table *t, size_t r)
{
    for (size_t c = 0; c < t->cols; c++)
        if (isnan(t->v[r * t->cols + c]))
            return 1;
    return 0;
}

static int check_label(double y, const char *path, size_t line, size_t col, char *err,
                       size_t err_len)
{
    if (y != 0.0 && y != 1.0) {
        set_err(err, err_len, "%s:%zu:%zu: label must be 0 or 1, got %g", path, line, col, y);
        return HENN_EFORMAT;
    }
    return 0;
}

int henn_lr_load_csv(henn_lr_data *d, const char *path, int drop_na, char *err, size_t err_len)
{
    if (d == NULL || path == NULL)
        return HENN_EINVAL;
    memset(d, 0, sizeof(*d));
    table t;
    int rc = table_read(&t, path, 1, 1, err, err_len);
    if (rc != 0)
        return rc;
    if (t.cols < 2) {
        set_err(err, err_len, "%s:1: need at least one feature and a label column", path);
        table_clear(&t);
        return HENN_EFORMAT;
    }
    size_t keep = 0;
    for (size_t r = 0; r < t.rows && rc == 0; r++) {
        if (row_has_na(&t, r)) {
            if (drop_na)
                continue;
            size_t c = 0;
            while (!isnan(t.v[r * t.cols + c]))
                c++;
            set_err(err, err_len, "%s:%zu:%zu: missing %s", path, t.lines[r], c + 1,
                    c + 1 == t.cols ? "label" : "value");
            rc = HENN_EFORMAT;
            break;
        }
        rc = check_label(t.v[r * t.cols + t.cols - 1], path, t.lines[r], t.cols, err, err_len);
        keep++;
    }
    if (rc == 0 && keep == 0) {
        set_err(err, err_len, "%s: no complete rows", path);
        rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = data_alloc(d, keep, t.cols - 1);
    if (rc == 0) {
        size_t k = 0;
        for (size_t r = 0; r < t.rows; r++) {
            if (row_has_na(&t, r))
                continue;
            memcpy(d->X + k * d->dim, t.v + r * t.cols, d->dim * sizeof(double));
            d->y[k] = t.v[r * t.cols + t.cols - 1];
            k++;
        }
    }
    table_clear(&t);
    return rc;
}

/* ---- standardisation and splits --------------------------------------- */

int henn_lr_standardize(henn_lr_data *const *sets, size_t count, const henn_lr_data *fit)
{
    if (fit == NULL || fit->rows < 2 || (count > 0 && sets == NULL))
        return HENN_EINVAL;
    size_t dim = fit->dim;
    for (size_t s = 0; s < count; s++)
        if (sets[s] == NULL || sets[s]->dim != dim)
            return HENN_EINVAL;
    double *mean = calloc(dim, sizeof(double)), *sd = calloc(dim, sizeof(double));
    if (mean == NULL || sd == NULL) {
        free(mean);
        free(sd);
        return HENN_ENOMEM;
    }
    for (size_t j = 0; j < dim; j++) {
        double m = 0.0, v = 0.0;
        for (size_t i = 0; i < fit->rows; i++)
            m += fit->X[i * dim + j];
        m /= (double)fit->rows;
        for (size_t i = 0; i < fit->rows; i++) {
            double e = fit->X[i * dim + j] - m;
            v += e * e;
        }
        mean[j] = m;
        sd[j] = sqrt(v / (double)(fit->rows - 1));
    }
    /* fit may be one of sets: statistics are computed before any write */
    for (size_t s = 0; s < count; s++)
        for (size_t i = 0; i < sets[s]->rows; i++)
            for (size_t j = 0; j < dim; j++) {
                double *x = &sets[s]->X[i * dim + j];
                *x -= mean[j];
                if (sd[j] > 0.0)
                    *x /= sd[j];
            }
    free(mean);
    free(sd);
    return 0;
}

static void copy_row(henn_lr_data *dst, size_t di, const henn_lr_data *src, size_t si)
{
    memcpy(dst->X + di * dst->dim, src->X + si * src->dim, src->dim * sizeof(double));
    dst->y[di] = src->y[si];
}

int henn_lr_split(henn_lr_data *train, henn_lr_data *test, const henn_lr_data *d,
                  double test_fraction, uint64_t seed)
{
    if (train == NULL || test == NULL || d == NULL || d->rows == 0 || !(test_fraction > 0.0) ||
        !(test_fraction < 1.0))
        return HENN_EINVAL;
    memset(train, 0, sizeof(*train));
    memset(test, 0, sizeof(*test));
    size_t *idx = malloc(d->rows * sizeof(size_t));
    if (idx == NULL)
        return HENN_ENOMEM;
    size_t n_test = 0, counts[2] = {0, 0};
    for (size_t i = 0; i < d->rows; i++)
        counts[d->y[i] != 0.0]++;
    size_t take[2];
    for (int c = 0; c < 2; c++) {
        take[c] = (size_t)llround(test_fraction * (double)counts[c]);
        n_test += take[c];
    }
    int rc = data_alloc(test, n_test, d->dim);
    if (rc == 0)
        rc = data_alloc(train, d->rows - n_test, d->dim);
    if (rc != 0) {
        free(idx);
        henn_lr_data_clear(train);
        henn_lr_data_clear(test);
        return rc;
    }
    size_t ti = 0, tri = 0;
    for (int c = 0; c < 2; c++) {
        size_t n = 0;
        for (size_t i = 0; i < d->rows; i++)
            if ((d->y[i] != 0.0) == c)
                idx[n++] = i;
        henn__prng r;
        henn__prng_init(&r, seed, (uint64_t)c);
        for (size_t i = n; i-- > 1;) {
            size_t j = (size_t)henn__prng_below(&r, i + 1);
            size_t tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        /* keep file order inside each part: mark then copy */
        for (size_t i = 0; i < n; i++)
            idx[i] = idx[i] * 2 + (i < take[c]);
        for (size_t i = 0; i < n; i++) {
            /* insertion sort by row index: n is small (a class of a data set) */
            size_t v = idx[i], k = i;
            while (k > 0 && idx[k - 1] > v) {
                idx[k] = idx[k - 1];
                k--;
            }
            idx[k] = v;
        }
        for (size_t i = 0; i < n; i++) {
            if (idx[i] & 1)
                copy_row(test, ti++, d, idx[i] / 2);
            else
                copy_row(train, tri++, d, idx[i] / 2);
        }
    }
    free(idx);
    return 0;
}

/* ---- WDBC ---------------------------------------------------------------- */

int henn_lr_load_wdbc(henn_lr_data *train, henn_lr_data *test, const char *path, uint64_t seed,
                      char *err, size_t err_len)
{
    if (train == NULL || test == NULL || path == NULL)
        return HENN_EINVAL;
    memset(train, 0, sizeof(*train));
    memset(test, 0, sizeof(*test));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return HENN_EIO;
    }
    henn_lr_data all = {0};
    int rc = data_alloc(&all, 569, 30);
    char *line = NULL, *fields[34];
    size_t cap = 0, lineno = 0, rows = 0;
    while (rc == 0 && getline(&line, &cap, f) != -1) {
        lineno++;
        if (trim(line)[0] == '\0')
            continue;
        size_t n = split_fields(line, fields, 34);
        if (n != 32) {
            set_err(err, err_len, "%s:%zu: %zu columns, expected 32 (id, diagnosis, 30 features)",
                    path, lineno, n);
            rc = HENN_EFORMAT;
            break;
        }
        if (rows == all.rows) {
            set_err(err, err_len, "%s:%zu: more than 569 rows", path, lineno);
            rc = HENN_EFORMAT;
            break;
        }
        if (strcmp(fields[1], "M") != 0 && strcmp(fields[1], "B") != 0) {
            set_err(err, err_len, "%s:%zu:2: diagnosis must be M or B", path, lineno);
            rc = HENN_EFORMAT;
            break;
        }
        all.y[rows] = fields[1][0] == 'M' ? 1.0 : 0.0;
        for (size_t c = 0; c < 30; c++) {
            char *end;
            double x = strtod(fields[c + 2], &end);
            if (end == fields[c + 2] || *end != '\0' || !isfinite(x)) {
                set_err(err, err_len, "%s:%zu:%zu: not a number: \"%.40s\"", path, lineno, c + 3,
                        fields[c + 2]);
                rc = HENN_EFORMAT;
                break;
            }
            all.X[rows * 30 + c] = x;
        }
        rows++;
    }
    free(line);
    fclose(f);
    if (rc == 0 && rows != 569) {
        set_err(err, err_len, "%s: %zu rows, expected 569", path, rows);
        rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = henn_lr_split(train, test, &all, 0.2, seed);
    if (rc == 0) {
        henn_lr_data *sets[2] = {train, test};
        rc = henn_lr_standardize(sets, 2, train);
    }
    henn_lr_data_clear(&all);
    if (rc != 0) {
        henn_lr_data_clear(train);
        henn_lr_data_clear(test);
    }
    return rc;
}

/* ---- Framingham (TenSEAL tutorial 1) -------------------------------------- */

static const char *const fram_features[9] = {"male",         "age",      "cigsPerDay",
                                             "prevalentStroke", "prevalentHyp", "totChol",
                                             "sysBP",        "heartRate", "glucose"};

int henn_lr_load_framingham(henn_lr_data *train, henn_lr_data *test, const char *path,
                            char *err, size_t err_len)
{
    if (train == NULL || test == NULL || path == NULL)
        return HENN_EINVAL;
    memset(train, 0, sizeof(*train));
    memset(test, 0, sizeof(*test));
    table t;
    int rc = table_read(&t, path, 1, 1, err, err_len);
    if (rc != 0)
        return rc;
    size_t col[10];
    const char *want[10];
    for (int k = 0; k < 9; k++)
        want[k] = fram_features[k];
    want[9] = "TenYearCHD";
    for (int k = 0; k < 10 && rc == 0; k++) {
        col[k] = t.cols;
        for (size_t c = 0; c < t.cols; c++)
            if (strcmp(t.names[c], want[k]) == 0)
                col[k] = c;
        if (col[k] == t.cols) {
            set_err(err, err_len, "%s:1: no column \"%s\" (not the tutorial's file?)", path,
                    want[k]);
            rc = HENN_EFORMAT;
        }
    }
    /* pandas dropna over every column, then the class groups in file order */
    size_t *grp[2] = {NULL, NULL}, ng[2] = {0, 0};
    size_t *perm = NULL, *order = NULL;
    henn_lr_data bal = {0};
    if (rc == 0) {
        grp[0] = malloc(t.rows * sizeof(size_t));
        grp[1] = malloc(t.rows * sizeof(size_t));
        perm = malloc(t.rows * sizeof(size_t));
        order = malloc(t.rows * sizeof(size_t));
        if (grp[0] == NULL || grp[1] == NULL || perm == NULL || order == NULL)
            rc = HENN_ENOMEM;
    }
    for (size_t r = 0; rc == 0 && r < t.rows; r++) {
        if (row_has_na(&t, r))
            continue;
        double y = t.v[r * t.cols + col[9]];
        rc = check_label(y, path, t.lines[r], col[9] + 1, err, err_len);
        if (rc == 0) {
            int c = y != 0.0;
            grp[c][ng[c]++] = r;
        }
    }
    size_t per = ng[0] < ng[1] ? ng[0] : ng[1];
    if (rc == 0 && per < 2) {
        set_err(err, err_len, "%s: too few complete rows of one class", path);
        rc = HENN_EFORMAT;
    }
    if (rc == 0)
        rc = data_alloc(&bal, 2 * per, 9);
    if (rc == 0) {
        /* groupby('TenYearCHD').apply(x.sample(min size, random_state=73)):
         * each group draws RandomState(73).permutation(len)[:per] */
        size_t k = 0;
        for (int c = 0; c < 2; c++) {
            henn__mt19937 mt;
            henn__mt_seed_numpy(&mt, 73);
            henn__numpy_permutation(perm, ng[c], &mt);
            for (size_t i = 0; i < per; i++, k++) {
                size_t r = grp[c][perm[i]];
                for (int j = 0; j < 9; j++)
                    bal.X[k * 9 + (size_t)j] = t.v[r * t.cols + col[j]];
                bal.y[k] = (double)c;
            }
        }
        henn_lr_data *sets[1] = {&bal};
        rc = henn_lr_standardize(sets, 1, &bal);
    }
    if (rc == 0) {
        /* random.seed(73); random.shuffle(idxs); first int(0.3 n) to test */
        henn__mt19937 mt;
        henn__mt_seed_python(&mt, 73);
        for (size_t i = 0; i < bal.rows; i++)
            order[i] = i;
        henn__python_shuffle(order, bal.rows, &mt);
        size_t n_test = (size_t)((double)bal.rows * 0.3);
        rc = data_alloc(test, n_test, 9);
        if (rc == 0)
            rc = data_alloc(train, bal.rows - n_test, 9);
        for (size_t i = 0; rc == 0 && i < bal.rows; i++) {
            if (i < n_test)
                copy_row(test, i, &bal, order[i]);
            else
                copy_row(train, i - n_test, &bal, order[i]);
        }
    }
    free(grp[0]);
    free(grp[1]);
    free(perm);
    free(order);
    henn_lr_data_clear(&bal);
    table_clear(&t);
    if (rc != 0) {
        henn_lr_data_clear(train);
        henn_lr_data_clear(test);
    }
    return rc;
}
