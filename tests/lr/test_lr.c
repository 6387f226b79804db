/* Logistic regression in the clear and its data sets: MT19937 reproductions
 * of numpy and Python, the Framingham and WDBC preparation, CSV errors,
 * gradient steps, sigmoid fits, metrics. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/pyrandom.h"
#include "henn/lr.h"
#include "../test.h"

#ifndef DATA_DIR
#define DATA_DIR "data"
#endif

static void test_pyrandom(void)
{
    /* numpy: np.random.RandomState(73).permutation(10) */
    static const size_t np_perm[10] = {7, 4, 1, 3, 5, 0, 8, 9, 2, 6};
    /* Python: random.seed(73); x = list(range(10)); random.shuffle(x) */
    static const size_t py_shuf[10] = {5, 0, 6, 2, 3, 8, 9, 7, 1, 4};
    /* Python: random.seed(73); [random.getrandbits(32) for _ in range(3)] */
    static const uint32_t py_bits[3] = {1201798311u, 524890042u, 2156676774u};
    henn__mt19937 mt;
    size_t p[10];
    henn__mt_seed_numpy(&mt, 73);
    henn__numpy_permutation(p, 10, &mt);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(p[i], np_perm[i]);
    henn__mt_seed_python(&mt, 73);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(henn__mt_u32(&mt), py_bits[i]);
    henn__mt_seed_python(&mt, 73);
    for (size_t i = 0; i < 10; i++)
        p[i] = i;
    henn__python_shuffle(p, 10, &mt);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(p[i], py_shuf[i]);
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void test_framingham(void)
{
    henn_lr_data tr, te;
    char err[HENN_LR_ERRLEN] = "";
    int rc = henn_lr_load_framingham(&tr, &te, DATA_DIR "/framingham/framingham.csv", err,
                                     sizeof(err));
    CHECK_OK(rc);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(tr.rows, 780);
    CHECK_EQ_INT(te.rows, 334);
    CHECK_EQ_INT(tr.dim, 9);
    /* Values computed with pandas' rules in numpy and Python 3.11
     * (bench/lr_reference.py): the first training row, the last training
     * row and the first test row after standardisation and the split. */
    static const double tr0[9] = {-0.9573715666712828, 0.6138433214905519, -0.7572338119777396,
                                  -0.09020801002542657, 1.2488067727728642, -0.14662760765364802,
                                  1.9175796223301376, -0.8022716898207849, -1.3796649217747423};
    static const double trl[9] = {-0.9573715666712828, 1.777002804634752, -0.7572338119777396,
                                  -0.09020801002542657, 1.2488067727728642, 1.3964251379376436,
                                  2.7333606098045364, -0.06249647027298873, 9.610278720364759};
    static const double te0[9] = {1.0435888935009667, -0.781948058282488, -0.7572338119777396,
                                  -0.09020801002542657, -0.8000455760768718, -0.1686712183049522,
                                  -0.5909469141536383, -0.14469371688941052, -0.7898091895695148};
    int ok = 1;
    for (int j = 0; j < 9; j++) {
        ok &= close_to(tr.X[j], tr0[j], 1e-12);
        ok &= close_to(tr.X[779 * 9 + (size_t)j], trl[j], 1e-12);
        ok &= close_to(te.X[j], te0[j], 1e-12);
    }
    CHECK(ok);
    CHECK(tr.y[0] == 1.0 && tr.y[779] == 1.0 && te.y[0] == 1.0);
    double pos_tr = 0, pos_te = 0;
    for (size_t i = 0; i < tr.rows; i++)
        pos_tr += tr.y[i];
    for (size_t i = 0; i < te.rows; i++)
        pos_te += te.y[i];
    CHECK_EQ_INT((long long)pos_tr, 391);
    CHECK_EQ_INT((long long)pos_te, 166);

    /* The tutorial's encrypted-training twin: w = 0, full batch, lr 1,
     * lambda/m = 0.05, sigma3, 5 epochs; weights from numpy. */
    static const double w_ref[9] = {0.18873973456165044, 0.32456940797367945,
                                    0.1925748966973917,  0.11612785573623535,
                                    0.236512248234687,   0.1460523827040908,
                                    0.2932383503470267,  0.008390529559652476,
                                    0.16678092461225444};
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, 9));
    henn_lr_opts o = {.epochs = 5, .alpha = 1.0, .lambda = 0.05 * 780, .batch = 0,
                      .sigmoid = HENN_LR_SIGMOID_POLY3};
    CHECK_OK(henn_lr_train(&m, &tr, &o, NULL, NULL));
    ok = 1;
    for (int j = 0; j < 9; j++)
        ok &= close_to(m.w[j], w_ref[j], 1e-12);
    CHECK(ok);
    CHECK(close_to(m.b, 0.0012917518314734138, 1e-12));
    double *s = malloc(te.rows * sizeof(double));
    henn_lr_metrics met;
    CHECK_OK(henn_lr_predict(s, &m, &te));
    CHECK_OK(henn_lr_metrics_compute(&met, s, te.y, te.rows));
    /* numpy: 237 of 334 */
    CHECK(close_to(met.accuracy, 0.7095808383233533, 1e-12));
    printf("framingham sigma3 twin: accuracy %.4f auc %.4f\n", met.accuracy, met.auc);
    free(s);
    henn_lr_model_clear(&m);
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

static void test_wdbc(void)
{
    henn_lr_data tr, te;
    char err[HENN_LR_ERRLEN] = "";
    int rc = henn_lr_load_wdbc(&tr, &te, DATA_DIR "/wdbc/wdbc.data", 1, err, sizeof(err));
    CHECK_OK(rc);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(tr.rows, 456);
    CHECK_EQ_INT(te.rows, 113);
    CHECK_EQ_INT(tr.dim, 30);
    double pos = 0;
    for (size_t i = 0; i < te.rows; i++)
        pos += te.y[i];
    CHECK_EQ_INT((long long)pos, 42); /* round(0.2 * 212) malignant */
    /* standardised with training statistics: training columns have mean 0, sd 1 */
    int ok = 1;
    for (size_t j = 0; j < 30; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < tr.rows; i++)
            mean += tr.X[i * 30 + j];
        mean /= (double)tr.rows;
        for (size_t i = 0; i < tr.rows; i++)
            var += (tr.X[i * 30 + j] - mean) * (tr.X[i * 30 + j] - mean);
        ok &= fabs(mean) < 1e-12 && fabs(var / (double)(tr.rows - 1) - 1.0) < 1e-12;
    }
    CHECK(ok);
    /* another seed gives another split, the same seed the same one */
    henn_lr_data tr2, te2;
    CHECK_OK(henn_lr_load_wdbc(&tr2, &te2, DATA_DIR "/wdbc/wdbc.data", 1, NULL, 0));
    CHECK(memcmp(tr.X, tr2.X, tr.rows * 30 * sizeof(double)) == 0);
    henn_lr_data_clear(&tr2);
    henn_lr_data_clear(&te2);
    CHECK_OK(henn_lr_load_wdbc(&tr2, &te2, DATA_DIR "/wdbc/wdbc.data", 2, NULL, 0));
    CHECK(memcmp(tr.X, tr2.X, tr.rows * 30 * sizeof(double)) != 0);
    henn_lr_data_clear(&tr2);
    henn_lr_data_clear(&te2);

    for (int kind = 0; kind < 2; kind++) {
        henn_lr_model m;
        CHECK_OK(henn_lr_model_init(&m, 30));
        henn_lr_opts o = {.epochs = 30, .alpha = kind ? 0.3 : 1.0, .lambda = 1.0, .batch = 0,
                          .sigmoid = kind ? HENN_LR_SIGMOID_LS5_8 : HENN_LR_SIGMOID_EXACT};
        CHECK_OK(henn_lr_train(&m, &tr, &o, NULL, NULL));
        double *s = malloc(te.rows * sizeof(double));
        henn_lr_metrics met;
        CHECK_OK(henn_lr_predict(s, &m, &te));
        CHECK_OK(henn_lr_metrics_compute(&met, s, te.y, te.rows));
        printf("wdbc %s: accuracy %.4f f1 %.4f auc %.4f\n", kind ? "ls5" : "exact", met.accuracy,
               met.f1, met.auc);
        CHECK(met.accuracy >= 0.95);
        CHECK(met.auc >= 0.98);
        free(s);
        henn_lr_model_clear(&m);
    }
    henn_lr_data_clear(&tr);
    henn_lr_data_clear(&te);
}

/* One step by hand: X = [[1, 2], [3, -1]], y = [1, 0], w = 0, b = 0,
 * alpha 0.5: yhat = 0.5, e = (-0.5, 0.5), g_w = ((-0.5 + 1.5) / 2,
 * (-1 - 0.5) / 2) = (0.5, -0.75), g_b = 0, so w = (-0.25, 0.375). A second
 * step with lambda 0.2 adds (0.2 / 2) w to the gradient. */
static void test_steps(void)
{
    double X[4] = {1, 2, 3, -1}, y[2] = {1, 0};
    henn_lr_data d = {.rows = 2, .dim = 2, .X = X, .y = y};
    henn_lr_model m;
    CHECK_OK(henn_lr_model_init(&m, 2));
    henn_lr_opts o = {.epochs = 1, .alpha = 0.5, .lambda = 0.2};
    CHECK_OK(henn_lr_train(&m, &d, &o, NULL, NULL));
    CHECK(close_to(m.w[0], -0.25, 1e-15) && close_to(m.w[1], 0.375, 1e-15) && m.b == 0.0);
    /* step 2 by the formula */
    double w0 = m.w[0], w1 = m.w[1], b = m.b;
    double z0 = w0 * 1 + w1 * 2 + b, z1 = w0 * 3 - w1 + b;
    double e0 = 1 / (1 + exp(-z0)) - 1, e1 = 1 / (1 + exp(-z1));
    double g0 = (e0 * 1 + e1 * 3) / 2 + 0.1 * w0, g1 = (e0 * 2 - e1) / 2 + 0.1 * w1,
           gb = (e0 + e1) / 2;
    CHECK_OK(henn_lr_train(&m, &d, &o, NULL, NULL));
    CHECK(close_to(m.w[0], w0 - 0.5 * g0, 1e-15) && close_to(m.w[1], w1 - 0.5 * g1, 1e-15) &&
          close_to(m.b, b - 0.5 * gb, 1e-15));
    /* Nesterov: the first step from v = 0 equals plain GD, the second
     * evaluates at w + mu v and moves by mu v - alpha g */
    henn_lr_model n;
    CHECK_OK(henn_lr_model_init(&n, 2));
    henn_lr_opts on = {.epochs = 2, .alpha = 0.5, .lambda = 0.0, .nesterov = 0.9};
    CHECK_OK(henn_lr_train(&n, &d, &on, NULL, NULL));
    {
        double v0 = 0.25 * -1, v1 = 0.375, /* v after step 1 = (-0.25, 0.375) */
            lw0 = -0.25 + 0.9 * v0, lw1 = 0.375 + 0.9 * v1;
        double a0 = lw0 + 2 * lw1, a1 = 3 * lw0 - lw1;
        double f0 = 1 / (1 + exp(-a0)) - 1, f1 = 1 / (1 + exp(-a1));
        double h0 = (f0 + 3 * f1) / 2, h1 = (2 * f0 - f1) / 2;
        double nv0 = 0.9 * v0 - 0.5 * h0, nv1 = 0.9 * v1 - 0.5 * h1;
        CHECK(close_to(n.w[0], -0.25 + nv0, 1e-15) && close_to(n.w[1], 0.375 + nv1, 1e-15));
    }
    henn_lr_model_clear(&n);
    /* bad options */
    o.epochs = 0;
    CHECK_RC(henn_lr_train(&m, &d, &o, NULL, NULL), HENN_EINVAL);
    o.epochs = 1;
    o.nesterov = 1.0;
    CHECK_RC(henn_lr_train(&m, &d, &o, NULL, NULL), HENN_EINVAL);
    o.nesterov = 0;
    o.alpha = NAN;
    CHECK_RC(henn_lr_train(&m, &d, &o, NULL, NULL), HENN_EINVAL);
    henn_lr_model_clear(&m);
}

/* The least-squares sigmoids are the fits they claim: solve the normal
 * equations on a fine grid of [-8, 8] for odd powers and compare. */
static void test_sigmoid_fits(void)
{
    for (int deg = 3; deg <= 5; deg += 2) {
        int nb = (deg + 1) / 2 + 1; /* 1, x, x^3 (, x^5) */
        double A[4][5] = {{0}};
        for (int k = 0; k <= 160000; k++) {
            double x = -8.0 + 16.0 * k / 160000.0, s = 1 / (1 + exp(-x)), phi[4];
            phi[0] = 1;
            for (int i = 1; i < nb; i++)
                phi[i] = pow(x, 2 * i - 1);
            for (int i = 0; i < nb; i++) {
                for (int j = 0; j < nb; j++)
                    A[i][j] += phi[i] * phi[j];
                A[i][nb] += phi[i] * s;
            }
        }
        for (int i = 0; i < nb; i++) /* Gauss-Jordan */
            for (int r = 0; r < nb; r++)
                if (r != i) {
                    double f = A[r][i] / A[i][i];
                    for (int c = i; c <= nb; c++)
                        A[r][c] -= f * A[i][c];
                }
        double c[8];
        CHECK_EQ_INT(henn_lr_sigmoid_coeffs(c, deg == 3 ? HENN_LR_SIGMOID_LS3_8
                                                         : HENN_LR_SIGMOID_LS5_8),
                     deg);
        for (int i = 0; i < nb; i++) {
            double want = A[i][nb] / A[i][i], got = c[i == 0 ? 0 : 2 * i - 1];
            if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-9))
                fprintf(stderr, "deg %d coef %d: %.17g vs fit %.17g\n", deg, i, got, want);
            CHECK(fabs(got - want) <= 1e-5 * fabs(want) + 1e-9);
        }
    }
    CHECK(close_to(henn_lr_sigmoid_eval(HENN_LR_SIGMOID_POLY3, 2.0), 0.5 + 0.394 - 0.032, 1e-15));
    CHECK(close_to(henn_lr_sigmoid_eval(HENN_LR_SIGMOID_EXACT, 0.0), 0.5, 0));
}

static void test_metrics(void)
{
    /* scores 0.9(1) 0.8(0) 0.7(1) 0.3(0) 0.3(1) 0.1(0): predicted positive
     * 0.9 0.8 0.7 -> tp 2 fp 1; tn 2 fn 1; AUC: pairs (pos > neg) over 9
     * with the 0.3/0.3 tie as 1/2: pos 0.9 beats 3, 0.7 beats 2, 0.3 beats
     * 0.1 and ties 0.3 -> 1.5; (3 + 2 + 1.5) / 9 */
    double s[6] = {0.9, 0.8, 0.7, 0.3, 0.3, 0.1}, y[6] = {1, 0, 1, 0, 1, 0};
    henn_lr_metrics m;
    CHECK_OK(henn_lr_metrics_compute(&m, s, y, 6));
    CHECK(close_to(m.accuracy, 4.0 / 6, 1e-15));
    CHECK(close_to(m.precision, 2.0 / 3, 1e-15));
    CHECK(close_to(m.recall, 2.0 / 3, 1e-15));
    CHECK(close_to(m.f1, 2.0 / 3, 1e-15));
    CHECK(close_to(m.auc, 6.5 / 9, 1e-15));
    double y1[6] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(henn_lr_metrics_compute(&m, s, y1, 6));
    CHECK(m.auc == 0.5);
    CHECK_RC(henn_lr_metrics_compute(&m, s, y, 0), HENN_EINVAL);
    s[2] = NAN;
    CHECK_RC(henn_lr_metrics_compute(&m, s, y, 6), HENN_EINVAL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void expect_csv_error(const char *text, int drop_na, int want_rc, const char *want_msg)
{
    char path[] = "/tmp/henn_lr_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, text);
    henn_lr_data d;
    char err[HENN_LR_ERRLEN] = "";
    CHECK_RC(henn_lr_load_csv(&d, path, drop_na, err, sizeof(err)), want_rc);
    char want[300];
    snprintf(want, sizeof(want), "%s%s", path, want_msg);
    if (strncmp(err, want, strlen(want)) != 0) {
        test_failures++;
        fprintf(stderr, "csv error \"%s\", expected prefix \"%s\"\n", err, want);
    }
    test_checks++;
    unlink(path);
}

static void test_csv(void)
{
    char path[] = "/tmp/henn_lr_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "a,b,y\n1,2,1\n3,NA,0\n\n-4.5,6e1,0\n");
    henn_lr_data d;
    CHECK_OK(henn_lr_load_csv(&d, path, 1, NULL, 0));
    CHECK_EQ_INT(d.rows, 2);
    CHECK_EQ_INT(d.dim, 2);
    CHECK(d.X[2] == -4.5 && d.X[3] == 60.0 && d.y[0] == 1.0 && d.y[1] == 0.0);
    henn_lr_data_clear(&d);
    unlink(path);
    expect_csv_error("a,b,y\n1,2,1\n3,x4,0\n", 0, HENN_EFORMAT, ":3:2: not a number");
    expect_csv_error("a,b,y\n1,2,1\n3,4\n", 0, HENN_EFORMAT, ":3: 2 columns, expected 3");
    expect_csv_error("a,b,y\n1,2,1\n3,4,\n", 0, HENN_EFORMAT, ":3:3: missing label");
    expect_csv_error("a,b,y\n1,NA,1\n", 0, HENN_EFORMAT, ":2:2: missing value");
    expect_csv_error("a,b,y\n1,2,2\n", 0, HENN_EFORMAT, ":2:3: label must be 0 or 1");
    expect_csv_error("a,b,y\n1,2,inf\n", 0, HENN_EFORMAT, ":2:3: not a number");
    expect_csv_error("a,b,y\n", 0, HENN_EFORMAT, ": no data rows");
    henn_lr_data tr, te;
    char err[HENN_LR_ERRLEN];
    CHECK_RC(henn_lr_load_csv(&d, "/nonexistent/x.csv", 0, err, sizeof(err)), HENN_EIO);
    CHECK_RC(henn_lr_load_framingham(&tr, &te, DATA_DIR "/wdbc/wdbc.data", err, sizeof(err)),
             HENN_EFORMAT);
    CHECK_RC(henn_lr_load_wdbc(&tr, &te, DATA_DIR "/framingham/framingham.csv", 1, err,
                               sizeof(err)),
             HENN_EFORMAT);
    CHECK(strstr(err, "framingham.csv:1: 16 columns, expected 32") != NULL);
}

int main(void)
{
    test_pyrandom();
    test_framingham();
    test_wdbc();
    test_steps();
    test_sigmoid_fits();
    test_metrics();
    test_csv();
    return test_report("test_lr");
}
