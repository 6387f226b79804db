/* KDD loader and preprocessing tests: hand-written rows in both layouts,
 * every error case, preprocessing fitted on training data only, and the
 * bundled files (row and class counts from data/README.md). */
#include "../test.h"

#include <math.h>
#include <unistd.h>
#include <zlib.h>

#include "henn/henn.h"

#define ROW_PREFIX "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00"
#define ROW_UDP "2,udp,private,SF,105,146,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,255,254,1.00,0.01,0.00,0.00,0.00,0.00,0.00,0.00"

static int load(henn_kdd_set *s, const char *text, unsigned flags, henn_kdd_error *e)
{
    return henn_kdd_load_mem(s, text, strlen(text), "t.txt", 0, flags, e);
}

/* Expect a format error at line/field. */
static void expect_error(const char *text, unsigned flags, size_t line, unsigned field)
{
    henn_kdd_set s;
    henn_kdd_error e;
    CHECK_RC(load(&s, text, flags, &e), HENN_EFORMAT);
    CHECK_EQ_INT(e.line, line);
    CHECK_EQ_INT(e.field, field);
    CHECK_EQ_STR(e.file, "t.txt");
    CHECK(e.msg[0] != '\0');
    CHECK_EQ_INT(s.rows, 0);
    CHECK(s.x == NULL);
}

static void test_layouts(void)
{
    henn_kdd_set s;
    henn_kdd_error e;
    const char *kdd = ROW_PREFIX ",normal.\n" ROW_UDP ",snmpgetattack.\n" ROW_PREFIX
                      ",smurf.\r\n" ROW_PREFIX ",mscan.\n" ROW_PREFIX ",httptunnel.\n";
    const char *nsl = ROW_PREFIX ",normal,20\n" ROW_UDP ",neptune,21\n" ROW_PREFIX ",guess_passwd,7";

    CHECK_OK(load(&s, kdd, 0, &e));
    CHECK_EQ_INT(s.rows, 5);
    CHECK_EQ_INT(s.layout, HENN_KDD_LAYOUT_KDD99);
    CHECK_EQ_INT(s.y[0], HENN_KDD_NORMAL);
    CHECK_EQ_INT(s.y[1], HENN_KDD_R2L);   /* test-only attack */
    CHECK_EQ_INT(s.y[2], HENN_KDD_DOS);
    CHECK_EQ_INT(s.y[3], HENN_KDD_PROBE); /* test-only attack */
    CHECK_EQ_INT(s.y[4], HENN_KDD_U2R);   /* test-only attack */
    CHECK_EQ_DBL(s.x[4], 181.0);
    CHECK_EQ_DBL(s.x[5], 5450.0);
    CHECK_EQ_DBL(s.x[35], 0.11);
    CHECK_EQ_DBL(s.x[HENN_KDD_FEATURES + 0], 2.0);
    CHECK_EQ_INT(s.sym_count[0], 2); /* tcp, udp */
    CHECK_EQ_STR(s.sym[0][(size_t)s.x[HENN_KDD_FEATURES + 1]], "udp");
    CHECK_EQ_STR(s.sym[1][(size_t)s.x[HENN_KDD_FEATURES + 2]], "private");
    henn_kdd_set_clear(&s);

    CHECK_OK(load(&s, nsl, 0, &e));
    CHECK_EQ_INT(s.rows, 3);
    CHECK_EQ_INT(s.layout, HENN_KDD_LAYOUT_NSL);
    CHECK_EQ_INT(s.y[1], HENN_KDD_DOS);
    CHECK_EQ_INT(s.y[2], HENN_KDD_R2L);
    henn_kdd_set_clear(&s);

    /* Forced layouts refuse the other one. */
    expect_error(nsl, HENN_KDD_LAYOUT_KDD99, 1, 0);
    expect_error(kdd, HENN_KDD_LAYOUT_NSL, 1, 0);
    /* max_rows */
    CHECK_OK(henn_kdd_load_mem(&s, kdd, strlen(kdd), "t.txt", 2, 0, &e));
    CHECK_EQ_INT(s.rows, 2);
    henn_kdd_set_clear(&s);

    CHECK_EQ_INT(henn_kdd_class_of_label("apache2.", 8), HENN_KDD_DOS);
    CHECK_EQ_INT(henn_kdd_class_of_label("xsnoop", 6), HENN_KDD_R2L);
    CHECK_EQ_INT(henn_kdd_class_of_label("saint.", 6), HENN_KDD_PROBE);
    CHECK_EQ_INT(henn_kdd_class_of_label("normall.", 8), -1);
    CHECK_EQ_STR(henn_kdd_class_name(HENN_KDD_R2L), "r2l");
}

static void test_errors(void)
{
    henn_kdd_set s;
    henn_kdd_error e;
    char *big;
    expect_error(ROW_PREFIX ",normal.\n" ROW_PREFIX "\n", 0, 2, 0);       /* 41 fields */
    expect_error(ROW_PREFIX ",normal.\n0,tcp,http,SF,abc,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 2, 5);
    expect_error("0,tcp,http,SF,-1,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 1, 5);
    expect_error("nan,tcp,http,SF,1,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 1, 1);
    expect_error("0,tcp,http,SF,1,inf,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 1, 6);
    expect_error("0,tcp,http,SF,1,1e999,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 1, 6);
    expect_error("0,,http,SF,1,2,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n", 0, 1, 2);
    expect_error(ROW_PREFIX ",normal.\n" ROW_PREFIX ",frobnicate.\n", 0, 2, 42); /* unknown label */
    expect_error(ROW_PREFIX ",normal\n", HENN_KDD_LAYOUT_AUTO, 1, 42);        /* 42 fields, no dot */
    expect_error(ROW_PREFIX ",normal.,20\n", 0, 1, 42);                       /* NSL with a dot */
    expect_error(ROW_PREFIX ",normal,x\n", 0, 1, 43);                         /* bad difficulty */
    expect_error(ROW_PREFIX ",normal.\n" ROW_PREFIX ",normal,20\n", 0, 2, 0); /* mixed layouts */
    expect_error(ROW_PREFIX ",normal.\n\n" ROW_PREFIX ",normal.\n", 0, 2, 0); /* empty line */
    expect_error("", 0, 0, 0);                                                /* no rows */
    expect_error(ROW_PREFIX ",normal.,1,2\n", 0, 1, 0);                       /* 44 fields */

    /* An over-long line. */
    big = malloc(70000);
    memset(big, '1', 69999);
    big[69999] = '\0';
    CHECK_RC(henn_kdd_load_mem(&s, big, strlen(big), "t.txt", 0, 0, &e), HENN_EFORMAT);
    CHECK_EQ_INT(e.line, 1);
    free(big);

    /* Skip-and-count mode. */
    {
        const char *mixed = ROW_PREFIX ",normal.\n" ROW_PREFIX ",frobnicate.\nnot,a,row\n" ROW_UDP
                            ",smurf.\n";
        CHECK_OK(load(&s, mixed, HENN_KDD_SKIP_BAD, &e));
        CHECK_EQ_INT(s.rows, 2);
        CHECK_EQ_INT(s.skipped, 2);
        CHECK_EQ_INT(s.y[1], HENN_KDD_DOS);
        henn_kdd_set_clear(&s);
    }
}

static void test_gzip(void)
{
    const char *text = ROW_PREFIX ",normal.\n" ROW_UDP ",neptune.\n";
    char path[] = "/tmp/henn_kdd_XXXXXX";
    henn_kdd_set s, m;
    henn_kdd_error e;
    gzFile gz;
    FILE *f;
    long size;
    char *raw;
    int fd = mkstemp(path);
    size_t i;
    CHECK(fd >= 0);
    close(fd);
    gz = gzopen(path, "wb");
    gzwrite(gz, text, (unsigned)strlen(text));
    gzclose(gz);
    CHECK_OK(henn_kdd_load(&s, path, 0, 0, &e));
    CHECK_OK(load(&m, text, 0, &e));
    CHECK_EQ_INT(s.rows, 2);
    for (i = 0; i < 2 * HENN_KDD_FEATURES; i++)
        CHECK_EQ_DBL(s.x[i], m.x[i]);
    CHECK(memcmp(s.y, m.y, 2) == 0);
    henn_kdd_set_clear(&s);
    henn_kdd_set_clear(&m);

    /* Truncate the gzip stream: an I/O error, not a short read. */
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    raw = malloc((size_t)size);
    CHECK_EQ_INT(fread(raw, 1, (size_t)size, f), size);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(raw, 1, (size_t)size - 12, f);
    fclose(f);
    free(raw);
    CHECK(henn_kdd_load(&s, path, 0, 0, &e) != 0);
    CHECK_EQ_INT(s.rows, 0);
    unlink(path);
    CHECK_RC(henn_kdd_load(&s, "/nonexistent/kdd.gz", 0, 0, &e), HENN_EIO);
    CHECK_EQ_STR(e.file, "/nonexistent/kdd.gz");
}

static void test_prep(void)
{
    henn_kdd_set tr, te;
    henn_kdd_error e;
    henn_kdd_prep prep, back;
    float *X;
    size_t unseen, used, len, cut;
    uint8_t *buf;
    /* Train: tcp/http and udp/private; durations 0 and 2, src_bytes 181 and 105. */
    const char *train = ROW_PREFIX ",normal.\n" ROW_UDP ",neptune.\n";
    /* Test: icmp is unseen; duration 4 exceeds the training max (clipped). */
    const char *test = "4,icmp,http,SF,143,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,smurf.\n";

    CHECK_OK(load(&tr, train, 0, &e));
    CHECK_OK(load(&te, test, 0, &e));
    CHECK_OK(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_ONEHOT, 0));
    CHECK_EQ_INT(prep.dim, 38 + 2 + 2 + 1);
    CHECK_EQ_DBL(prep.min[0], 0.0);
    CHECK_EQ_DBL(prep.max[0], 2.0);
    CHECK_OK(henn_kdd_prep_apply(&X, &unseen, &prep, &te, NULL, 1));
    CHECK_EQ_INT(unseen, 1);
    CHECK(X[0] == 1.0f);                /* duration clipped to 1 */
    CHECK(X[1] == 0.0f && X[2] == 0.0f); /* icmp: no one-hot column set */
    CHECK(X[3] == 1.0f && X[4] == 0.0f); /* http */
    CHECK(X[5] == 1.0f);                 /* SF */
    CHECK(fabsf(X[6] - (float)((143.0 - 105.0) / 76.0)) < 1e-6f);
    free(X);
    /* The fitted rules do not move when applied to the test set. */
    CHECK_EQ_DBL(prep.max[0], 2.0);

    /* Serialisation round trip and every truncation. */
    CHECK_OK(henn_kdd_prep_serialize(&buf, &len, &prep));
    CHECK_OK(henn_kdd_prep_deserialize(&back, &used, buf, len));
    CHECK_EQ_INT(used, len);
    CHECK_EQ_INT(back.dim, prep.dim);
    CHECK_EQ_STR(back.vocab[1][1], prep.vocab[1][1]);
    henn_kdd_prep_clear(&back);
    for (cut = 0; cut < len; cut++)
        CHECK_RC(henn_kdd_prep_deserialize(&back, &used, buf, cut), HENN_EFORMAT);
    buf[12] ^= 0x7f; /* dim no longer matches the vocabularies */
    CHECK_RC(henn_kdd_prep_deserialize(&back, &used, buf, len), HENN_EFORMAT);
    free(buf);
    henn_kdd_prep_clear(&prep);

    /* Integer codes: one column per symbolic feature, index / (count - 1). */
    CHECK_OK(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, 1));
    CHECK_EQ_INT(prep.dim, HENN_KDD_FEATURES);
    CHECK_EQ_DBL(prep.max[4], log1p(181.0));
    CHECK_OK(henn_kdd_prep_apply(&X, &unseen, &prep, &tr, NULL, 2));
    CHECK(X[1] == 0.0f && X[HENN_KDD_FEATURES + 1] == 1.0f);
    CHECK(X[4] == 1.0f && X[HENN_KDD_FEATURES + 4] == 0.0f);
    free(X);
    CHECK_EQ_DBL(prep.max[0], 2.0); /* level 1: duration raw */
    henn_kdd_prep_clear(&prep);

    /* Level 2 (the CLI default): duration too; round trip; level 3 refused. */
    CHECK_OK(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, HENN_KDD_LOG1P_HEAVY));
    CHECK(fabs(prep.max[0] - log1p(2.0)) < 1e-12);
    CHECK(fabs(prep.max[5] - log1p(5450.0)) < 1e-12);
    CHECK_OK(henn_kdd_prep_serialize(&buf, &len, &prep));
    CHECK_OK(henn_kdd_prep_deserialize(&back, &used, buf, len));
    CHECK_EQ_INT(back.log1p, HENN_KDD_LOG1P_HEAVY);
    henn_kdd_prep_clear(&back);
    buf[12] = 3; /* log1p level 3 */
    CHECK_RC(henn_kdd_prep_deserialize(&back, &used, buf, len), HENN_EFORMAT);
    free(buf);
    henn_kdd_prep_clear(&prep);
    CHECK_RC(henn_kdd_prep_fit(&prep, &tr, HENN_KDD_INTCODE, 3), HENN_EINVAL);
    henn_kdd_set_clear(&tr);
    henn_kdd_set_clear(&te);
}

static void test_subset(void)
{
    size_t a[50], b[50], c[50], i, j, same = 0;
    CHECK_OK(henn_kdd_subset(a, 50, 1000, 7));
    CHECK_OK(henn_kdd_subset(b, 50, 1000, 7));
    CHECK_OK(henn_kdd_subset(c, 50, 1000, 8));
    for (i = 0; i < 50; i++) {
        CHECK(a[i] < 1000);
        CHECK_EQ_INT(a[i], b[i]);
        same += a[i] == c[i];
        for (j = 0; j < i; j++)
            CHECK(a[i] != a[j]);
    }
    CHECK(same < 5);
    CHECK_RC(henn_kdd_subset(a, 11, 10, 1), HENN_EINVAL);
}

/* The bundled files: row counts and the first 1,000 test rows' classes. */
static void test_bundled(void)
{
    henn_kdd_set te, tr;
    henn_kdd_error e;
    size_t counts[HENN_KDD_CLASSES] = {0}, i;
    CHECK_OK(henn_kdd_load(&te, DATA_DIR "/kddcup99/corrected.gz", 0, 0, &e));
    CHECK_EQ_INT(te.rows, 311029);
    CHECK_EQ_INT(te.layout, HENN_KDD_LAYOUT_KDD99);
    for (i = 0; i < 1000; i++)
        counts[te.y[i]]++;
    /* 703 normal, 187 smurf, 103 snmpgetattack + 5 xlock + 2 named */
    CHECK_EQ_INT(counts[HENN_KDD_NORMAL], 703);
    CHECK_EQ_INT(counts[HENN_KDD_DOS], 187);
    CHECK_EQ_INT(counts[HENN_KDD_R2L], 110);
    CHECK_OK(henn_kdd_load(&tr, DATA_DIR "/kddcup99/kddcup.data_10_percent.gz", 0, 0, &e));
    CHECK_EQ_INT(tr.rows, 494021);
    memset(counts, 0, sizeof(counts));
    for (i = 0; i < tr.rows; i++)
        counts[tr.y[i]]++;
    CHECK_EQ_INT(counts[HENN_KDD_NORMAL], 97278);
    CHECK_EQ_INT(counts[HENN_KDD_U2R], 52);
    CHECK_EQ_INT(counts[HENN_KDD_PROBE], 4107);

    /* A short plaintext training run on a fixed subset must beat a stated
     * accuracy: 41-41-5 on 2,000 rows, one epoch, >= 0.85 on the first
     * 1,000 test rows (a constant "normal" answer scores 0.703). */
    {
        size_t idx[2000], dims[3] = {HENN_KDD_FEATURES, 41, 5};
        henn_kdd_set sub = tr;
        henn_kdd_prep prep;
        henn_nn_model m;
        henn_nn_trainer *t;
        henn_nn_opts o;
        henn_nn_metrics mt;
        float *X, *T;
        uint8_t y[2000], pred[1000];
        double *sx = malloc(2000 * HENN_KDD_FEATURES * sizeof(double));
        CHECK_OK(henn_kdd_subset(idx, 2000, tr.rows, 3));
        for (i = 0; i < 2000; i++) {
            memcpy(sx + i * HENN_KDD_FEATURES, tr.x + idx[i] * HENN_KDD_FEATURES,
                   HENN_KDD_FEATURES * sizeof(double));
            y[i] = tr.y[idx[i]];
        }
        sub.x = sx;
        sub.rows = 2000;
        CHECK_OK(henn_kdd_prep_fit(&prep, &sub, HENN_KDD_INTCODE, 0));
        free(sx);
        CHECK_OK(henn_kdd_prep_apply(&X, NULL, &prep, &tr, idx, 2000));
        CHECK_OK(henn_kdd_prep_apply(&T, NULL, &prep, &te, NULL, 1000));
        CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1));
        henn_nn_opts_default(&o);
        o.lr = 0.01f;
        o.max_rows = 32;
        CHECK_OK(henn_nn_trainer_new(&t, &m, &o));
        CHECK_OK(henn_nn_train_epoch(t, X, y, 2000, 32, 1, NULL, NULL, NULL));
        CHECK_OK(henn_nn_predict(pred, &m, T, 1000));
        CHECK_OK(henn_nn_metrics_compute(&mt, te.y, pred, 1000, 5));
        printf("short training run: accuracy %.4f on the first 1,000 test rows\n", mt.accuracy);
        CHECK(mt.accuracy >= 0.85);
        henn_nn_metrics_clear(&mt);
        henn_nn_trainer_free(t);
        henn_nn_model_clear(&m);
        henn_kdd_prep_clear(&prep);
        free(X);
        free(T);
    }
    henn_kdd_set_clear(&te);
    henn_kdd_set_clear(&tr);
}

/* What a new user's files hold: a header line (detected or forced),
 * trailing blank lines, a blank line inside the data, a first line that is
 * neither a row nor a header. */
static void test_lines(void)
{
    henn_kdd_set s;
    henn_kdd_error e;
    const char *nsl_header =
        "duration,protocol_type,service,flag,src_bytes,dst_bytes,land,wrong_fragment,urgent,hot,"
        "num_failed_logins,logged_in,num_compromised,root_shell,su_attempted,num_root,"
        "num_file_creations,num_shells,num_access_files,num_outbound_cmds,is_host_login,"
        "is_guest_login,count,srv_count,serror_rate,srv_serror_rate,rerror_rate,"
        "srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,dst_host_count,"
        "dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate,"
        "dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate,"
        "dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate,class,"
        "difficulty\n" ROW_PREFIX ",normal,20\n" ROW_UDP ",neptune,21\n";
    char text[4096];

    /* Header detected: the rows load and the header is not a row. */
    CHECK_OK(load(&s, nsl_header, 0, &e));
    CHECK_EQ_INT(s.rows, 2);
    CHECK_EQ_INT(s.header, 1);
    CHECK_EQ_INT(s.layout, HENN_KDD_LAYOUT_NSL);
    CHECK_EQ_INT(s.y[1], HENN_KDD_DOS);
    henn_kdd_set_clear(&s);
    /* Header forced: any first line is skipped (here a numeric one). */
    snprintf(text, sizeof(text), "1,2,3\n%s,normal.\n", ROW_PREFIX);
    /* (a row whose first value is "nan" is a bad row, not a header: test_errors) */
    CHECK_OK(load(&s, text, HENN_KDD_HEADER, &e));
    CHECK_EQ_INT(s.rows, 1);
    CHECK_EQ_INT(s.header, 1);
    henn_kdd_set_clear(&s);
    /* Without the flag, that first line is named as neither. */
    CHECK_RC(load(&s, text, 0, &e), HENN_EFORMAT);
    CHECK_EQ_INT(e.line, 1);
    CHECK(strstr(e.msg, "not a header") != NULL);
    /* No header: nothing skipped. */
    CHECK_OK(load(&s, ROW_PREFIX ",normal.\n", 0, &e));
    CHECK_EQ_INT(s.header, 0);
    henn_kdd_set_clear(&s);

    /* Trailing blank lines (LF and CRLF) are accepted. */
    CHECK_OK(load(&s, ROW_PREFIX ",normal.\n" ROW_UDP ",smurf.\n\n\r\n\n", 0, &e));
    CHECK_EQ_INT(s.rows, 2);
    CHECK_EQ_INT(s.skipped, 0);
    henn_kdd_set_clear(&s);
    /* A blank line followed by data: an error at the blank line. */
    CHECK_RC(load(&s, ROW_PREFIX ",normal.\n\n\n" ROW_UDP ",smurf.\n", 0, &e), HENN_EFORMAT);
    CHECK_EQ_INT(e.line, 2);
    CHECK(strstr(e.msg, "empty line") != NULL);
    /* ... counted as skipped rows under SKIP_BAD. */
    CHECK_OK(load(&s, ROW_PREFIX ",normal.\n\n\n" ROW_UDP ",smurf.\n\n", HENN_KDD_SKIP_BAD, &e));
    CHECK_EQ_INT(s.rows, 2);
    CHECK_EQ_INT(s.skipped, 2);
    henn_kdd_set_clear(&s);
}

/* A gzip stream cut inside a row is reported as truncation (HENN_EIO), not
 * as a row with too few fields. */
static void test_gzip_cut_in_row(void)
{
    char path[] = "/tmp/henn_kdd_XXXXXX";
    henn_kdd_set s;
    henn_kdd_error e;
    gzFile gz;
    FILE *f;
    char *raw;
    long size;
    int fd = mkstemp(path), i;
    CHECK(fd >= 0);
    close(fd);
    gz = gzopen(path, "wb1");
    for (i = 0; i < 4000; i++) {
        char line[512];
        int n = snprintf(line, sizeof(line), "%d,tcp,http,SF,%d,%d,0,0,0,0,0,1,0,0,0,0,0,0,0,0,"
                                             "0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,"
                                             "1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n",
                         i, i * 7919 % 100003, i * 104729 % 99991);
        gzwrite(gz, line, (unsigned)n);
    }
    gzclose(gz);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    raw = malloc((size_t)size);
    CHECK_EQ_INT(fread(raw, 1, (size_t)size, f), size);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(raw, 1, (size_t)size / 2, f);
    fclose(f);
    free(raw);
    CHECK_RC(henn_kdd_load(&s, path, 0, 0, &e), HENN_EIO);
    CHECK(strstr(e.msg, "truncated") != NULL);
    CHECK(e.line > 1);
    CHECK_EQ_INT(s.rows, 0);
    unlink(path);
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    test_layouts();
    test_errors();
    test_gzip();
    test_lines();
    test_gzip_cut_in_row();
    test_prep();
    test_subset();
    test_bundled();
    return test_report("test_kdd");
}
