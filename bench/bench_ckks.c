/*
 * CKKS benchmark: the median time of each operation on one thread for the
 * configurations of docs/CKKS.md, next to SEAL 4.4.3's median for the same
 * operation measured on this machine class (docs/CKKS.md, from
 * CKKS_NOTES), and the precision, -log2(max abs error) over all N/2 slots
 * for inputs uniform in [-1, 1]. Prints JSON lines with --json:
 * {"bench":"ckks","config":"A","op":"encode","N":8192,"log_q":200,
 *  "scale_bits":40,"threads":1,"us_per_op":...,"ops_per_s":...,
 *  "iterations":...,"seal_us":407,"ratio_to_seal":...}
 * ratio_to_seal = henn's time / SEAL's time (below 1: henn is faster).
 * For A and B, relinearize, rotate_1 and multiply_relin_rescale are timed
 * again with the params set to 2 threads (henn_ckks_params_set_threads):
 * lines with "threads":2 and "speedup" = the 1-thread median of the same
 * op in the same run / the 2-thread median, and "load_avg_1min" (the
 * machine's load average then: with 2 vCPUs and a load above 2 the second
 * thread has no free core). SEAL's figures are 1-thread.
 * Precision: the median over PREC_KEYS fresh key sets (new sk, pk, relin
 * and Galois keys, new inputs each) of each figure, with the worst key's
 * figure next to it ("_min").
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_ckks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "henn/henn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum {
    OP_ENCODE,
    OP_ENCRYPT,
    OP_ENCRYPT_SYM,
    OP_DECRYPT,
    OP_DECODE,
    OP_ADD,
    OP_MULTIPLY,
    OP_RELIN,
    OP_RESCALE,
    OP_MUL_RELIN_RESCALE,
    OP_ROTATE,
    NOPS
};

static const char *const op_names[NOPS] = {
    "encode",   "encrypt",     "encrypt_symmetric", "decrypt",
    "decode",   "add",         "multiply",          "relinearize",
    "rescale",  "multiply_relin_rescale", "rotate_1"};

typedef struct {
    const char *name;
    size_t N;
    int bits[16];
    size_t count;
    int scale_bits;
    /* SEAL 4.4.3, one thread, median (us), in op order; precision bits */
    double seal_us[NOPS];
    double seal_bits[3];
} bench_conf;

static const bench_conf confs[] = {
    {"A", 8192, {60, 40, 40, 60}, 4, 40,
     {407, 2420, 1050, 72, 681, 39, 212, 1687, 424, 2365, 1725}, {26.9, 26.5, 21.5}},
    {"B", 16384, {60, 40, 40, 40, 40, 40, 40, 40, 60}, 9, 40,
     {1918, 10433, 5017, 420, 5973, 337, 1266, 17802, 2799, 23149, 18962}, {26.0, 25.4, 18.6}},
    {"C", 8192, {40, 21, 21, 21, 21, 21, 21, 40}, 8, 21,
     {788, 4291, 2173, 171, 1979, 108, 515, 5743, 1041, 7443, 5965}, {8.2, 7.5, 2.1}},
    {"D", 4096, {40, 20, 40}, 3, 20,
     {131, 913, 375, 24, 197, 12, 71, 452, 121, 646, 465}, {8.0, 7.6, 2.6}},
};

typedef struct {
    const henn_ckks_params *params;
    henn_ckks_sk sk;
    henn_ckks_pk pk;
    henn_ckks_relin_key rk;
    henn_ckks_galois_keys gk;
    double scale;
    double *x, *y, *vals; /* N/2 values each */
    henn_ckks_pt pt, pt_dec, pt_out;
    henn_ckks_ct cx, cy, c3, cm, out;
    uint8_t seed[HENN_CKKS_SEEDBYTES];
} state;

static int run_op(state *s, int op)
{
    const size_t n = s->params->N / 2, top = s->params->L - 1;
    int rc;
    switch (op) {
    case OP_ENCODE:
        return henn_ckks_encode(&s->pt_out, s->params, s->x, n, s->scale, top);
    case OP_ENCRYPT:
        return henn_ckks_encrypt(&s->out, &s->pk, &s->pt);
    case OP_ENCRYPT_SYM:
        return henn_ckks_encrypt_symmetric(&s->out, s->seed, &s->sk, &s->pt);
    case OP_DECRYPT:
        return henn_ckks_decrypt(&s->pt_out, &s->sk, &s->cx);
    case OP_DECODE:
        return henn_ckks_decode(s->vals, n, &s->pt_dec);
    case OP_ADD:
        return henn_ckks_add(&s->out, &s->cx, &s->cy);
    case OP_MULTIPLY:
        return henn_ckks_multiply(&s->out, &s->cx, &s->cy);
    case OP_RELIN:
        return henn_ckks_relinearize(&s->out, &s->c3, &s->rk);
    case OP_RESCALE:
        return henn_ckks_rescale(&s->out, &s->cm);
    case OP_MUL_RELIN_RESCALE:
        rc = henn_ckks_multiply(&s->out, &s->cx, &s->cy);
        if (rc == 0)
            rc = henn_ckks_relinearize(&s->out, &s->out, &s->rk);
        if (rc == 0)
            rc = henn_ckks_rescale(&s->out, &s->out);
        return rc;
    case OP_ROTATE:
        return henn_ckks_rotate(&s->out, &s->cx, 1, &s->gk);
    default:
        return HENN_EINVAL;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median time of op in microseconds over at least min_iter runs and
 * `seconds` of running (after one warm-up run). */
static int measure(double *us, size_t *iters, state *s, int op, double seconds,
                   size_t min_iter)
{
    size_t cap = 64, n = 0;
    double *t = malloc(cap * sizeof(*t)), start;
    int rc = run_op(s, op);
    if (t == NULL)
        return HENN_ENOMEM;
    start = now();
    while (rc == 0 && (n < min_iter || now() - start < seconds)) {
        double t0 = now();
        rc = run_op(s, op);
        if (n == cap) {
            double *b = realloc(t, 2 * cap * sizeof(*t));
            if (b == NULL) {
                rc = HENN_ENOMEM;
                break;
            }
            t = b;
            cap *= 2;
        }
        t[n++] = (now() - t0) * 1e6;
    }
    if (rc == 0) {
        qsort(t, n, sizeof(*t), cmp_double);
        *us = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
        *iters = n;
    }
    free(t);
    return rc;
}

/* xorshift64*: the bench's inputs (seeded from the CSPRNG). */
static uint64_t rng;

static double uniform_pm1(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* -log2 of the largest |got[i] - want[i]|. */
static double bits_of(const double *got, const double *want, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > e)
            e = fabs(got[i] - want[i]);
    return e > 0 ? -log2(e) : 64.0;
}

/* decode(decrypt(ct)) into s->out. */
static int dec(state *s, const henn_ckks_ct *ct)
{
    int rc = henn_ckks_decrypt(&s->pt_out, &s->sk, ct);
    return rc != 0 ? rc : henn_ckks_decode(s->vals, s->params->N / 2, &s->pt_out);
}

/* Fresh x, y and their encryptions in cx, cy (public key). */
static int fresh_inputs(state *s)
{
    const size_t n = s->params->N / 2, top = s->params->L - 1;
    int rc;
    for (size_t i = 0; i < n; i++) {
        s->x[i] = uniform_pm1();
        s->y[i] = uniform_pm1();
    }
    rc = henn_ckks_encode(&s->pt, s->params, s->y, n, s->scale, top);
    if (rc == 0)
        rc = henn_ckks_encrypt(&s->cy, &s->pk, &s->pt);
    if (rc == 0)
        rc = henn_ckks_encode(&s->pt, s->params, s->x, n, s->scale, top);
    if (rc == 0)
        rc = henn_ckks_encrypt(&s->cx, &s->pk, &s->pt);
    return rc;
}

/* Key sets the precision figures are the median over. */
#define PREC_KEYS 5

/* New sk, pk, relinearisation and rotation-by-one keys in s. */
static int new_keys(state *s)
{
    static const int one[] = {1};
    int rc;
    henn_ckks_galois_keys_clear(&s->gk);
    henn_ckks_relin_key_clear(&s->rk);
    henn_ckks_pk_clear(&s->pk);
    henn_ckks_sk_clear(&s->sk);
    rc = henn_ckks_keygen(&s->sk, &s->pk, s->params);
    if (rc == 0)
        rc = henn_ckks_relin_keygen(&s->rk, &s->sk);
    if (rc == 0)
        rc = henn_ckks_galois_keygen(&s->gk, &s->sk, one, 1, 0);
    return rc;
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Precision over `trials` key sets (the first is s's current keys, then new
 * keys each time) with fresh inputs each: fresh, after multiply +
 * relinearise + rescale, after a rotation by one slot. bits[0..2]: the
 * medians over the key sets, bits[3..5]: the worst key set's figures. The
 * error depends on the key (|s(zeta_i)| in the slots), so one key set can
 * be a few tenths of a bit off the typical figure.
 */
static int precision(double bits[6], double *scale_after, state *s, int trials)
{
    const size_t n = s->params->N / 2;
    double *want = malloc(n * sizeof(*want)), got[3][PREC_KEYS];
    int rc = want == NULL ? HENN_ENOMEM : 0;
    if (trials < 1 || trials > PREC_KEYS)
        rc = HENN_EINVAL;
    for (int t = 0; t < trials && rc == 0; t++) {
        if (t > 0)
            rc = new_keys(s);
        if (rc == 0)
            rc = fresh_inputs(s);
        if (rc == 0)
            rc = dec(s, &s->cx);
        if (rc != 0)
            break;
        got[0][t] = bits_of(s->vals, s->x, n);
        rc = run_op(s, OP_MUL_RELIN_RESCALE);
        if (rc == 0)
            rc = dec(s, &s->out);
        if (rc != 0)
            break;
        *scale_after = s->out.scale;
        for (size_t i = 0; i < n; i++)
            want[i] = s->x[i] * s->y[i];
        got[1][t] = bits_of(s->vals, want, n);
        rc = run_op(s, OP_ROTATE);
        if (rc == 0)
            rc = dec(s, &s->out);
        if (rc != 0)
            break;
        for (size_t i = 0; i < n; i++)
            want[i] = s->x[(i + 1) % n];
        got[2][t] = bits_of(s->vals, want, n);
    }
    for (int k = 0; k < 3 && rc == 0; k++) {
        bits[k] = median_of(got[k], (size_t)trials); /* sorts */
        bits[3 + k] = got[k][0];
    }
    free(want);
    return rc;
}

static int sum_bits(const bench_conf *c)
{
    int b = 0;
    for (size_t i = 0; i < c->count; i++)
        b += c->bits[i];
    return b;
}

/* The 1-minute load average (/proc/loadavg), or -1 where there is none:
 * on a shared machine it says how many cores the threads could get. */
static double load_avg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* One timing line; threads > 1: with the speedup over us1, the 1-thread
 * median of the same op, and the load average. */
static void emit_op(const henn_bench_ckks_config *cfg, const bench_conf *c, int op, double us,
                    size_t iters, unsigned threads, double us1)
{
    double seal = c->seal_us[op];
    if (cfg->json) {
        printf("{\"bench\":\"ckks\",\"config\":\"%s\",\"op\":\"%s\",\"N\":%zu,\"log_q\":%d,"
               "\"scale_bits\":%d,\"threads\":%u,\"us_per_op\":%.1f,\"ops_per_s\":%.1f,"
               "\"iterations\":%zu,\"seal_us\":%.0f,\"ratio_to_seal\":%.3f",
               c->name, op_names[op], c->N, sum_bits(c), c->scale_bits, threads, us, 1e6 / us,
               iters, seal, us / seal);
        if (threads > 1)
            printf(",\"us_per_op_1_thread\":%.1f,\"speedup\":%.3f,\"load_avg_1min\":%.2f", us1,
                   us1 / us, load_avg());
        printf("}\n");
    } else if (threads > 1) {
        printf("%s  %-24s N=%-5zu log_q=%-3d %10.1f us  %u threads, speedup %.2f over %.1f us\n",
               c->name, op_names[op], c->N, sum_bits(c), us, threads, us1 / us, us1);
    } else {
        printf("%s  %-24s N=%-5zu log_q=%-3d %10.1f us  SEAL %7.0f us  ratio %.2f\n", c->name,
               op_names[op], c->N, sum_bits(c), us, seal, us / seal);
    }
    fflush(stdout);
}

static void emit_precision(const henn_bench_ckks_config *cfg, const bench_conf *c,
                           const double bits[6], double scale_after, int trials)
{
    if (cfg->json)
        printf("{\"bench\":\"ckks\",\"config\":\"%s\",\"op\":\"precision\",\"N\":%zu,"
               "\"log_q\":%d,\"scale_bits\":%d,\"threads\":1,\"keys\":%d,"
               "\"statistic\":\"median over keys\",\"fresh_bits\":%.2f,\"mult_bits\":%.2f,"
               "\"rotate_bits\":%.2f,\"fresh_bits_min\":%.2f,\"mult_bits_min\":%.2f,"
               "\"rotate_bits_min\":%.2f,\"seal_fresh_bits\":%.1f,\"seal_mult_bits\":%.1f,"
               "\"seal_rotate_bits\":%.1f,\"log2_scale_after_rescale\":%.4f}\n",
               c->name, c->N, sum_bits(c), c->scale_bits, trials, bits[0], bits[1], bits[2],
               bits[3], bits[4], bits[5], c->seal_bits[0], c->seal_bits[1], c->seal_bits[2],
               log2(scale_after));
    else
        printf("%s  precision (bits, median over %d keys; worst key)  fresh %.2f (%.2f; SEAL "
               "%.1f)  after multiply %.2f (%.2f; SEAL %.1f)  after rotate %.2f (%.2f; SEAL "
               "%.1f)  log2 scale after rescale %.4f\n",
               c->name, trials, bits[0], bits[3], c->seal_bits[0], bits[1], bits[4],
               c->seal_bits[1], bits[2], bits[5], c->seal_bits[2], log2(scale_after));
    fflush(stdout);
}

static void state_clear(state *s)
{
    henn_ckks_ct_clear(&s->out);
    henn_ckks_ct_clear(&s->cm);
    henn_ckks_ct_clear(&s->c3);
    henn_ckks_ct_clear(&s->cy);
    henn_ckks_ct_clear(&s->cx);
    henn_ckks_pt_clear(&s->pt_out);
    henn_ckks_pt_clear(&s->pt_dec);
    henn_ckks_pt_clear(&s->pt);
    free(s->x);
    free(s->y);
    free(s->vals);
    henn_ckks_galois_keys_clear(&s->gk);
    henn_ckks_relin_key_clear(&s->rk);
    henn_ckks_pk_clear(&s->pk);
    henn_ckks_sk_clear(&s->sk);
}

static int bench_conf_run(const henn_bench_ckks_config *cfg, const bench_conf *c)
{
    static const int one[] = {1};
    henn_ckks_params params = {0};
    state s;
    double us = 0, us1[NOPS] = {0}, bits[6], scale_after = 0;
    double seconds = cfg->quick ? 0 : cfg->seconds;
    size_t iters = 0, min_iter = cfg->quick ? 2 : 5, n;
    int rc, trials = cfg->quick ? 1 : PREC_KEYS;
    memset(&s, 0, sizeof(s));
    rc = henn_ckks_params_init(&params, c->N, c->bits, c->count, 0);
    if (rc != 0)
        return rc;
    n = c->N / 2;
    s.params = &params;
    s.scale = ldexp(1.0, c->scale_bits);
    s.x = malloc(n * sizeof(double));
    s.y = malloc(n * sizeof(double));
    s.vals = malloc(n * sizeof(double));
    if (s.x == NULL || s.y == NULL || s.vals == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0)
        rc = henn_ckks_keygen(&s.sk, &s.pk, &params);
    if (rc == 0)
        rc = henn_ckks_relin_keygen(&s.rk, &s.sk);
    if (rc == 0)
        rc = henn_ckks_galois_keygen(&s.gk, &s.sk, one, 1, 0);
    /* inputs of the timed ops: cx, cy fresh; c3 = cx cy; cm = relin(c3);
     * pt_dec = decrypt(cx) */
    if (rc == 0)
        rc = fresh_inputs(&s);
    if (rc == 0)
        rc = henn_ckks_multiply(&s.c3, &s.cx, &s.cy);
    if (rc == 0)
        rc = henn_ckks_relinearize(&s.cm, &s.c3, &s.rk);
    if (rc == 0)
        rc = henn_ckks_decrypt(&s.pt_dec, &s.sk, &s.cx);
    for (int op = 0; op < NOPS && rc == 0; op++) {
        rc = measure(&us, &iters, &s, op, seconds, min_iter);
        if (rc == 0)
            us1[op] = us;
        if (rc == 0)
            emit_op(cfg, c, op, us, iters, 1, 0);
    }
    /* key switching on 2 threads (A and B), same keys and inputs */
    if (rc == 0 && (strcmp(c->name, "A") == 0 || strcmp(c->name, "B") == 0)) {
        static const int par_ops[] = {OP_RELIN, OP_ROTATE, OP_MUL_RELIN_RESCALE};
        rc = henn_ckks_params_set_threads(&params, 2);
        for (size_t k = 0; k < 3 && rc == 0; k++) {
            rc = measure(&us, &iters, &s, par_ops[k], seconds, min_iter);
            if (rc == 0)
                emit_op(cfg, c, par_ops[k], us, iters, 2, us1[par_ops[k]]);
        }
        if (rc == 0)
            rc = henn_ckks_params_set_threads(&params, 1);
    }
    if (rc == 0)
        rc = precision(bits, &scale_after, &s, trials);
    if (rc == 0)
        emit_precision(cfg, c, bits, scale_after, trials);
    state_clear(&s);
    henn_ckks_params_clear(&params);
    return rc;
}

int henn_bench_ckks(const henn_bench_ckks_config *cfg)
{
    uint8_t seed[8];
    int rc = henn_random_bytes(seed, sizeof(seed));
    if (rc != 0)
        return rc;
    memcpy(&rng, seed, sizeof(rng));
    rng |= 1;
    if (!cfg->json)
        printf("henn CKKS benchmark: median time per op (one thread unless stated); SEAL 4.4.3 on a 2-vCPU "
               "AMD EPYC (Zen4-class) VM for comparison (ratio = henn / SEAL)\n");
    for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
        if (cfg->only != NULL && strcmp(cfg->only, confs[i].name) != 0)
            continue;
        rc = bench_conf_run(cfg, &confs[i]);
        if (rc != 0) {
            fprintf(stderr, "henn: bench ckks %s: %s (%s)\n", confs[i].name, henn_strerror(rc),
                    henn_err_name(rc));
            return rc;
        }
    }
    return 0;
}
