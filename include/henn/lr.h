/*
 * henn/lr.h: logistic regression in the clear, and the two data sets of the
 * CKKS logistic-regression system (the encrypted protocol builds on this).
 *
 * Workflow
 *  1. Load a data set: henn_lr_load_wdbc() (Wisconsin breast cancer, UCI,
 *     569 rows x 30 features, stratified 80/20 split, standardised with the
 *     training statistics), henn_lr_load_framingham() (TenSEAL tutorial 1's
 *     preprocessing reproduced exactly: 780 training / 334 test rows x 9
 *     features) or henn_lr_load_csv() (any numeric CSV, label 0/1 in the
 *     last column).
 *  2. Train: henn_lr_train() runs full-batch or mini-batch gradient descent
 *     with the update rule of the published system,
 *       theta_j <- theta_j - alpha [ (1/m) sum_i (yhat_i - y_i) x_ij
 *                                    + (lambda/m) theta_j ],
 *     (the bias is not regularised), with the exact sigmoid or a polynomial
 *     one (henn_lr_sigmoid), optionally with Nesterov momentum.
 *  3. Evaluate: henn_lr_predict(), henn_lr_metrics() (accuracy, precision,
 *     recall, F1, AUC).
 *
 * Doubles throughout. Thread safety: functions touch only their arguments.
 */
#ifndef HENN_LR_H
#define HENN_LR_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A labelled data set: X is rows x dim, row-major; y[i] is 0 or 1.
 * Zero-initialise, fill with a loader, release with henn_lr_data_clear().
 */
typedef struct henn_lr_data {
    size_t rows;
    size_t dim;
    double *X;
    double *y;
} henn_lr_data;

/* henn_lr_data_clear: free X and y, zero the struct; safe on a zeroed one. */
HENN_API void henn_lr_data_clear(henn_lr_data *d);

/* Size of the err buffers the loaders fill with "file:line:column: why". */
#define HENN_LR_ERRLEN 256

/*
 * henn_lr_load_csv: a numeric CSV file: a header line of column names, then
 * one row per line; every field a finite number; the last column is the
 * label, 0 or 1. Rows with "NA" or empty fields are dropped when drop_na is
 * nonzero, an error otherwise. No split and no scaling: see
 * henn_lr_standardize() and henn_lr_split().
 * Returns 0; HENN_EIO (cannot open or read), HENN_EFORMAT (bad number,
 * wrong column count, missing or non-0/1 label, no rows; err says which
 * file, line and column), HENN_ENOMEM. err (may be NULL) receives a message
 * of at most err_len bytes.
 */
HENN_API HENN_NODISCARD int henn_lr_load_csv(henn_lr_data *d, const char *path, int drop_na,
                                             char *err, size_t err_len);

/*
 * henn_lr_load_wdbc: data/wdbc/wdbc.data (id, M/B, 30 features); label 1 =
 * malignant. Stratified split: per class, a seeded shuffle (henn's ChaCha20
 * stream for `seed`) and round(0.2 * class size) rows to test (71 benign +
 * 42 malignant = 113 test, 456 train); features standardised with the
 * training set's mean and standard deviation (ddof = 1). Errors as
 * henn_lr_load_csv.
 */
HENN_API HENN_NODISCARD int henn_lr_load_wdbc(henn_lr_data *train, henn_lr_data *test,
                                              const char *path, uint64_t seed, char *err,
                                              size_t err_len);

/*
 * henn_lr_load_framingham: data/framingham/framingham.csv, prepared exactly
 * as TenSEAL's logistic-regression tutorial does with pandas, numpy and
 * Python's random module: drop rows with any NA (3,656 left, 557
 * positive); keep male, age, cigsPerDay, prevalentStroke, prevalentHyp,
 * totChol, sysBP, heartRate, glucose; balance with 557 rows per class drawn
 * as numpy's RandomState(73).choice(n, 557, replace=False) per class (class
 * 0 first); standardise over all 1,114 rows (ddof = 1); Python's
 * random.seed(73) + random.shuffle of the row indices, the first 334 to test
 * and the remaining 780 to training. MT19937 and both libraries' bounded
 * integer rules are reimplemented in src/data/pyrandom.c; the test checks
 * the selected rows against values computed with numpy and Python.
 * Errors as henn_lr_load_csv (and HENN_EFORMAT if the file does not have the
 * tutorial's columns).
 */
HENN_API HENN_NODISCARD int henn_lr_load_framingham(henn_lr_data *train, henn_lr_data *test,
                                                    const char *path, char *err,
                                                    size_t err_len);

/*
 * henn_lr_standardize: fit mean and standard deviation (ddof = 1) per
 * column on fit (rows >= 2) and apply x <- (x - mean) / sd to every set in
 * sets[0..count-1] (which may include fit). Columns with sd = 0 are only
 * centred. Returns 0 or HENN_EINVAL (dims differ, fewer than 2 rows).
 */
HENN_API HENN_NODISCARD int henn_lr_standardize(henn_lr_data *const *sets, size_t count,
                                                const henn_lr_data *fit);

/*
 * henn_lr_split: a stratified split of d into train and test with
 * round(test_fraction * class size) rows of each class to test, per class a
 * seeded shuffle. test_fraction in (0, 1). Returns 0, HENN_EINVAL,
 * HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_lr_split(henn_lr_data *train, henn_lr_data *test,
                                          const henn_lr_data *d, double test_fraction,
                                          uint64_t seed);

/* Sigmoids: the exact one and polynomial approximations. */
typedef enum {
    HENN_LR_SIGMOID_EXACT = 0,
    /* 0.5 + 0.197 x - 0.004 x^3 (Chen et al., eprint 2018/462; the
     * published system and TenSEAL's tutorial), fit on [-5, 5]. */
    HENN_LR_SIGMOID_POLY3 = 1,
    /* Least-squares fits on [-8, 8] (Kim et al., BMC Med. Genomics 2018):
     * degree 3 and degree 5. */
    HENN_LR_SIGMOID_LS3_8 = 2,
    HENN_LR_SIGMOID_LS5_8 = 3
} henn_lr_sigmoid;

/*
 * henn_lr_sigmoid_coeffs: the coefficients c[0..degree] of a polynomial
 * sigmoid (c[k] multiplies x^k); returns the degree (0 for the exact
 * sigmoid, -1 for an unknown kind). c must hold 8 doubles.
 */
HENN_API int henn_lr_sigmoid_coeffs(double c[8], henn_lr_sigmoid kind);

/* henn_lr_sigmoid_eval: sigma(x) for the kind. */
HENN_API double henn_lr_sigmoid_eval(henn_lr_sigmoid kind, double x);

/*
 * Training options. epochs >= 1; alpha: learning rate; lambda: the L2
 * weight of the update rule (the rule divides it by m, the batch size);
 * batch: rows per step (0 = full batch); nesterov: momentum in [0, 1)
 * (0 = plain gradient descent); shuffle: reshuffle rows every epoch (seeded
 * by seed) when batch > 0.
 */
typedef struct henn_lr_opts {
    size_t epochs;
    double alpha;
    double lambda;
    size_t batch;
    double nesterov;
    henn_lr_sigmoid sigmoid;
    int shuffle;
    uint64_t seed;
} henn_lr_opts;

/*
 * A model: w[0..dim-1] weights and bias b; scores are sigma(w . x + b).
 */
typedef struct henn_lr_model {
    size_t dim;
    double *w;
    double b;
} henn_lr_model;

/* henn_lr_model_init: dim weights and bias set to 0. Returns 0,
 * HENN_EINVAL or HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_lr_model_init(henn_lr_model *m, size_t dim);
HENN_API void henn_lr_model_clear(henn_lr_model *m);

/*
 * Per-epoch callback (may be NULL): called after every epoch with the
 * 1-based epoch number and the model.
 */
typedef void (*henn_lr_epoch_fn)(void *user, size_t epoch, const henn_lr_model *m);

/*
 * henn_lr_train: train m (already initialised, dim == d->dim; its current
 * weights are the starting point) on d with opts. The step uses the
 * gradient of the cross-entropy with the chosen sigmoid's output in place
 * of the exact one: g_j = (1/m) sum_i (yhat_i - y_i) x_ij + (lambda/m) w_j.
 * Returns 0, HENN_EINVAL (shapes, epochs 0, alpha or lambda not finite,
 * nesterov outside [0, 1)) or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_lr_train(henn_lr_model *m, const henn_lr_data *d,
                                          const henn_lr_opts *opts, henn_lr_epoch_fn cb,
                                          void *user);

/* henn_lr_predict: scores[i] = sigma(w . x_i + b) with the exact sigmoid,
 * for every row of d. Returns 0 or HENN_EINVAL. */
HENN_API HENN_NODISCARD int henn_lr_predict(double *scores, const henn_lr_model *m,
                                            const henn_lr_data *d);

/* Binary classification metrics at threshold 0.5 (and AUC over scores). */
typedef struct henn_lr_metrics {
    double accuracy;
    double precision;
    double recall;
    double f1;
    double auc; /* Mann-Whitney, ties counted 1/2 */
} henn_lr_metrics;

/* henn_lr_metrics_compute: metrics of scores[0..n-1] against labels
 * y[0..n-1]. Precision, recall and F1 are 0 when undefined. AUC is 0.5
 * with only one class. Returns 0, HENN_EINVAL (n = 0, a NaN score) or
 * HENN_ENOMEM. */
HENN_API HENN_NODISCARD int henn_lr_metrics_compute(henn_lr_metrics *out, const double *scores,
                                                    const double *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
