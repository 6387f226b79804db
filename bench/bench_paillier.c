/*
 * Paillier benchmark: ops/s for each primitive on one thread, then the
 * batch API on T threads against one thread, all in one process, so the
 * ratios compare like with like. Prints JSON lines with --json:
 * {"bench":"paillier","op":...,"bits":...,"threads":...,"ops_per_s":...}
 * plus "baseline" and "ratio" where a line is compared with another.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_paillier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "henn/henn.h"
#include "protocol/proto_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads): on a shared machine the
 * work per CPU second survives load that the wall clock does not. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const henn_bench_config *cfg;
    henn_paillier_sk *sk;
    henn_paillier_pk *pk;
    henn_paillier_ct *ct; /* pool of ciphertexts */
    henn_paillier_pt *pt; /* pool of plaintexts */
    size_t pool;
    henn_paillier_ct out;
    henn_paillier_pt pout;
    henn_paillier_packed packed;
    int64_t vals[512];
    unsigned slot_bits;
} state;

typedef int (*op_fn)(state *s, size_t i);

static int op_textbook(state *s, size_t i)
{
    return henn_paillier_encrypt_textbook(&s->out, s->pk, &s->pt[i % s->pool]);
}
/* The machine baseline: GMP's bare r^n mod n^2 (mpz_powm), the cost that
 * python-paillier (gmpy2) and libhcs pay per encryption. */
static int op_gmp_rn(state *s, size_t i)
{
    mpz_powm(s->out.c, s->ct[i % s->pool].c, s->pk->n, s->pk->n2);
    return 0;
}
static int op_djn(state *s, size_t i)
{
    return henn_paillier_encrypt(&s->out, s->pk, &s->pt[i % s->pool]);
}
static int op_sk(state *s, size_t i)
{
    return henn_paillier_encrypt_sk(&s->out, s->sk, &s->pt[i % s->pool]);
}
static int op_decrypt(state *s, size_t i)
{
    return henn_paillier_decrypt(&s->pout, s->sk, &s->ct[i % s->pool]);
}
static int op_add(state *s, size_t i)
{
    return henn_paillier_add(&s->out, s->pk, &s->ct[i % s->pool], &s->ct[(i + 1) % s->pool]);
}
static int op_mul32(state *s, size_t i)
{
    /* a full 32-bit scalar: top bit set */
    int64_t k = (int64_t)(0x80000000u | (uint32_t)(i * 2654435761u));
    return henn_paillier_mul_int64(&s->out, s->pk, &s->ct[i % s->pool], k);
}
static int op_packed(state *s, size_t i)
{
    (void)i;
    return henn_paillier_pack_encrypt(&s->packed, s->pk, s->slot_bits, s->vals,
                                      henn_paillier_pack_capacity(s->pk, s->slot_bits));
}
static int op_rerandomize(state *s, size_t i)
{
    return henn_paillier_rerandomize(&s->out, s->pk, &s->ct[i % s->pool]);
}

/* ops/s of fn, running for at least cfg->seconds and min_iter calls. */
static int measure(double *rate, state *s, op_fn fn, size_t min_iter)
{
    double t0 = now(), el;
    size_t i = 0;
    int rc;
    do {
        rc = fn(s, i++);
        if (rc != 0)
            return rc;
        el = now() - t0;
    } while (el < s->cfg->seconds || i < min_iter);
    *rate = (double)i / el;
    return 0;
}

static void emit(const henn_bench_config *cfg, const char *op, unsigned threads, double rate,
                 const char *extra)
{
    if (cfg->json)
        printf("{\"bench\":\"paillier\",\"op\":\"%s\",\"bits\":%zu,\"threads\":%u,"
               "\"ops_per_s\":%.1f%s%s}\n",
               op, cfg->n_bits, threads, rate, extra[0] ? "," : "", extra);
    else
        printf("%-22s bits=%zu threads=%u  %12.1f ops/s  %s\n", op, cfg->n_bits, threads, rate,
               extra);
    fflush(stdout);
}

/* ------------------------------------------------ multi-buffer engine -- */

#define MB_BATCH 64

/* ops/s of `calls` repeated until cfg->seconds: each call does `per` ops;
 * *cpu_rate (when not NULL): ops per CPU second of the process. */
typedef int (*batch_fn)(void *ctx);
static int measure_batch2(double *rate, double *cpu_rate, const henn_bench_config *cfg,
                          batch_fn fn, void *ctx, size_t per)
{
    double t0 = now(), c0 = cpu_now(), el;
    size_t calls = 0;
    int rc;
    do {
        rc = fn(ctx);
        if (rc != 0)
            return rc;
        calls++;
        el = now() - t0;
    } while (el < cfg->seconds || calls < 2);
    *rate = (double)(calls * per) / el;
    if (cpu_rate != NULL)
        *cpu_rate = (double)(calls * per) / (cpu_now() - c0);
    return 0;
}

static int measure_batch(double *rate, const henn_bench_config *cfg, batch_fn fn, void *ctx,
                         size_t per)
{
    return measure_batch2(rate, NULL, cfg, fn, ctx, per);
}

typedef struct {
    henn_paillier_sk *sk;
    henn_paillier_ct *ct;
    henn_paillier_pt *pt;
    mpz_t *out;
    int mode; /* 0: multi-buffer, 1: single-buffer IFMA, 2: GMP (3: 0 with pairs off) */
} mb_state;

static int run_noise(void *ctx)
{
    mb_state *m = ctx;
    const henn_paillier_pk *pk = &m->sk->pk;
    size_t i;
    int rc = 0;
    if (m->mode == 0 || m->mode == 3)
        return henn__paillier_noise(m->out, MB_BATCH, pk);
    for (i = 0; i < MB_BATCH && rc == 0; i++) {
        /* the same work as the noise path: a fresh r < n, then r^n */
        rc = henn__mpz_random_below(m->out[i], pk->n);
        if (rc != 0)
            break;
        if (m->mode == 1)
            rc = henn__mont_powm(pk->mont, m->out[i], m->out[i], pk->n);
        else
            mpz_powm(m->out[i], m->out[i], pk->n, pk->n2);
    }
    return rc;
}

static int run_decrypt(void *ctx)
{
    mb_state *m = ctx;
    henn_batch_opts o1 = {1, NULL, NULL};
    size_t i;
    int rc = 0;
    if (m->mode == 0 || m->mode == 3)
        return henn_paillier_decrypt_batch(m->pt, m->sk, m->ct, MB_BATCH, &o1);
    for (i = 0; i < MB_BATCH && rc == 0; i++)
        rc = henn_paillier_decrypt(&m->pt[i], m->sk, &m->ct[i]);
    return rc;
}

/* Batch calls the protocols make: re-randomisation in the pool's groups
 * of 8, and decryption of one DECRYPT round (41 ciphertexts: 5 groups and
 * a remainder, split into half-groups between the threads). */
typedef struct {
    henn_paillier_sk *sk;
    henn_paillier_ct *ct;
    henn_paillier_pt *pt;
    size_t count;
    unsigned threads;
} call_state;

static int run_rerandomize_batch(void *ctx)
{
    call_state *c = ctx;
    henn_batch_opts o = {c->threads, NULL, NULL};
    return henn_paillier_rerandomize_batch(c->ct, &c->sk->pk, c->ct, c->count, &o);
}

static int run_decrypt_round(void *ctx)
{
    call_state *c = ctx;
    henn_batch_opts o = {c->threads, NULL, NULL};
    return henn_paillier_decrypt_batch(c->pt, c->sk, c->ct, c->count, &o);
}

/* r^n noise and CRT decryption on the 8-lane engine (pairs modulo n, p,
 * q: henn__mbsq_powm), the same engine modulo n^2, p^2, q^2 (pairs off:
 * the engine before pairs), the single-buffer engine and GMP (a key
 * rebuilt with IFMA off: mpz_powm for r^n, mpz_powm_sec inside
 * decryption), one thread, in one run. */
static int bench_mb(const henn_bench_config *cfg, henn_paillier_sk *sk, unsigned flags)
{
    static const char *names[2][4] = {
        {"noise_rn_mb8", "noise_rn_single", "noise_rn_gmp", "noise_rn_mb8_n2"},
        {"decrypt_mb8", "decrypt_single", "decrypt_gmp", "decrypt_mb8_p2"}};
    static const char *engines[4] = {"ifma_mb8_pairs", "ifma_single", "gmp", "ifma_mb8_mod_m2"};
    henn_paillier_sk skg;
    henn_paillier_ct ct[MB_BATCH];
    henn_paillier_pt pt[MB_BATCH];
    mpz_t out[MB_BATCH];
    mb_state m;
    double rate[2][4] = {{0}}, cpu[2][4] = {{0}};
    char extra[256];
    size_t i;
    int rc = 0, op, mode;
    henn_paillier_sk_init(&skg);
    for (i = 0; i < MB_BATCH; i++) {
        henn_paillier_ct_init(&ct[i]);
        henn_paillier_pt_init(&pt[i]);
        mpz_init(out[i]);
    }
    for (i = 0; i < MB_BATCH && rc == 0; i++) {
        rc = henn_paillier_encode_int64(&pt[i], &sk->pk, (int64_t)i * 1000 - 7, 0);
        if (rc == 0)
            rc = henn_paillier_encrypt_sk(&ct[i], sk, &pt[i]);
    }
    henn__ifma_set_enabled(0);
    if (rc == 0)
        rc = henn_paillier_sk_from_primes(&skg, sk->p, sk->q, flags);
    henn__ifma_set_enabled(1);
    m.ct = ct;
    m.pt = pt;
    m.out = out;
    for (op = 0; op < 2 && rc == 0; op++)
        for (mode = 0; mode < 4 && rc == 0; mode++) {
            m.sk = mode == 2 ? &skg : sk;
            m.mode = mode;
            if (mode == 2) /* the 8-lane contexts fall back too */
                henn__ifma_set_enabled(0);
            if (mode == 3)
                henn__mbsq_set_enabled(0);
            rc = measure_batch2(&rate[op][mode], &cpu[op][mode], cfg,
                                op == 0 ? run_noise : run_decrypt, &m, MB_BATCH);
            henn__ifma_set_enabled(1);
            henn__mbsq_set_enabled(1);
        }
    for (op = 0; op < 2 && rc == 0; op++)
        for (mode = 0; mode < 4; mode++) {
            int k = snprintf(extra, sizeof(extra),
                             "\"engine\":\"%s\",\"batch\":%d,\"baseline\":\"%s\","
                             "\"ratio\":%.2f,\"ops_per_cpu_s\":%.1f",
                             engines[mode], MB_BATCH, names[op][2], rate[op][mode] / rate[op][2],
                             cpu[op][mode]);
            if (mode == 3 && k > 0 && (size_t)k < sizeof(extra)) /* pairs against this */
                snprintf(extra + k, sizeof(extra) - (size_t)k,
                         ",\"pairs_cpu_ratio\":%.2f", cpu[op][0] / cpu[op][3]);
            emit(cfg, names[op][mode], 1, rate[op][mode], extra);
        }
    if (rc == 0) { /* the batch calls, on the 8-lane engine (dr: 1 and 2 threads) */
        call_state c = {sk, ct, pt, MB_BATCH, 1};
        double rr = 0, dr[2] = {0, 0};
        rc = measure_batch(&rr, cfg, run_rerandomize_batch, &c, MB_BATCH);
        c.count = 41;
        if (rc == 0)
            rc = measure_batch(&dr[0], cfg, run_decrypt_round, &c, 41);
        c.threads = 2;
        if (rc == 0)
            rc = measure_batch(&dr[1], cfg, run_decrypt_round, &c, 41);
        if (rc == 0) {
            snprintf(extra, sizeof(extra),
                     "\"batch\":%d,\"baseline\":\"noise_rn_mb8\",\"ratio\":%.2f", MB_BATCH,
                     rr / rate[0][0]);
            emit(cfg, "rerandomize_batch", 1, rr, extra);
            emit(cfg, "decrypt_round_41", 1, dr[0], "\"batch\":41");
            snprintf(extra, sizeof(extra),
                     "\"batch\":41,\"baseline\":\"decrypt_round_41 threads=1\",\"ratio\":%.2f",
                     dr[1] / dr[0]);
            emit(cfg, "decrypt_round_41", 2, dr[1], extra);
        }
    }
    for (i = 0; i < MB_BATCH; i++) {
        henn_paillier_ct_clear(&ct[i]);
        henn_paillier_pt_clear(&pt[i]);
        mpz_clear(out[i]);
    }
    henn_paillier_sk_clear(&skg);
    return rc;
}

/* ------------------------------------ the key holder's DJN noise (8) -- */

typedef struct {
    const henn_paillier_sk *sk;
    const henn_paillier_pk *pk; /* with the public table */
    const struct henn__paillier_fbcrt *crt;
    mpz_t a[HENN__MB_LANES], r[HENN__MB_LANES];
    int mode; /* 0: public table modulo n^2 (fbtab_pow8), 1: CRT tables on pairs */
} djn8_state;

static int run_djn8(void *ctx)
{
    djn8_state *d = ctx;
    size_t g, l;
    int rc = 0;
    for (g = 0; g < MB_BATCH / HENN__MB_LANES && rc == 0; g++) {
        for (l = 0; l < HENN__MB_LANES && rc == 0; l++)
            rc = henn__mpz_random_bits(d->a[l], d->pk->a_bits);
        if (rc == 0)
            rc = d->mode == 0
                     ? henn__paillier_fbtab_pow8(d->r, d->pk->fb, (const mpz_t *)d->a,
                                                 HENN__MB_LANES)
                     : henn__paillier_fbcrt_pow8(d->r, d->crt, d->sk, (const mpz_t *)d->a,
                                                 HENN__MB_LANES);
    }
    return rc;
}

/*
 * The owner's DJN noise h_s^a, 8 at a time, one thread: the public table
 * modulo n^2 (henn__paillier_fbtab_pow8 at the default w = 10, what the
 * owner used) against the key holder's CRT tables on pairs (w = 8, what
 * it uses now), in alternating runs; the values must be equal.
 */
static int bench_djn8(const henn_bench_config *cfg, const henn_paillier_sk *sk)
{
    henn_paillier_pk pk;
    struct henn__paillier_fbcrt *crt = NULL;
    djn8_state d;
    double rate[2] = {0, 0}, cpu[2] = {0, 0}, build[2] = {0, 0}, t0;
    char extra[320];
    size_t l;
    int rc, k, rep, same = 1;
    henn_paillier_pk_init(&pk);
    memset(&d, 0, sizeof(d));
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(d.a[l], d.r[l], NULL);
    rc = henn_paillier_pk_copy(&pk, &sk->pk);
    t0 = now();
    if (rc == 0)
        rc = henn_paillier_pk_precompute(&pk, 0);
    build[0] = now() - t0;
    t0 = now();
    if (rc == 0)
        rc = henn__paillier_fbcrt_build(&crt, sk, 8);
    build[1] = now() - t0;
    if (rc == HENN_EPARAM) { /* no pair engine here: nothing to compare */
        rc = 0;
        goto done;
    }
    d.sk = sk;
    d.pk = &pk;
    d.crt = crt;
    for (rep = 0; rep < 2 && rc == 0; rep++)
        for (k = 0; k < 2 && rc == 0; k++) {
            double r = 0, c = 0;
            d.mode = k;
            rc = measure_batch2(&r, &c, cfg, run_djn8, &d, MB_BATCH);
            rate[k] += r / 2;
            cpu[k] += c / 2;
        }
    if (rc == 0) { /* the same a through both */
        mpz_t want[HENN__MB_LANES];
        for (l = 0; l < HENN__MB_LANES; l++)
            mpz_init(want[l]);
        rc = henn__paillier_fbtab_pow8(want, pk.fb, (const mpz_t *)d.a, HENN__MB_LANES);
        for (l = 0; rc == 0 && l < HENN__MB_LANES; l++)
            same = same && mpz_cmp(want[l], d.r[l]) == 0;
        for (l = 0; l < HENN__MB_LANES; l++)
            mpz_clear(want[l]);
    }
    if (rc == 0) {
        snprintf(extra, sizeof(extra),
                 "\"engine\":\"ifma_mb8_mod_n2\",\"window_bits\":10,\"table_s\":%.3f,"
                 "\"ops_per_cpu_s\":%.1f",
                 build[0], cpu[0]);
        emit(cfg, "djn_noise_fb8", 1, rate[0], extra);
        snprintf(extra, sizeof(extra),
                 "\"engine\":\"ifma_mb8_pairs_crt\",\"window_bits\":8,\"table_s\":%.3f,"
                 "\"ops_per_cpu_s\":%.1f,\"baseline\":\"djn_noise_fb8\",\"ratio\":%.2f,"
                 "\"cpu_ratio\":%.2f,\"same_values\":%s",
                 build[1], cpu[1], rate[1] / rate[0], cpu[1] / cpu[0], same ? "true" : "false");
        emit(cfg, "djn_noise_crt8", 1, rate[1], extra);
        if (!same)
            rc = HENN_EPROTO;
    }
done:
    henn__paillier_fbcrt_free(crt);
    for (l = 0; l < HENN__MB_LANES; l++) {
        mpz_clear(d.a[l]);
        mpz_clear(d.r[l]);
    }
    henn_paillier_pk_clear(&pk);
    return rc;
}

/* ------------------------------------------ encrypted KDD inference -- */

/* Test and benchmark hooks of the trainer (src/protocol/trainer.c). */
void henn__trainer_allow_insecure(henn_trainer *t);
void henn__trainer_set_noise_pool(henn_trainer *t, size_t capacity);
double henn__trainer_pool_cpu_seconds(const henn_trainer *t);

/* The 1-minute load average, or -1 where /proc/loadavg cannot be read. */
static double load1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1.0;
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

/*
 * Encrypted inference in the shape of the published KDD model (41-41-5,
 * sigmoid; the owner's and the trainer's rounds over the in-process
 * transport, as `henn kdd eval --encrypted`): records/s and CPU seconds
 * with the trainer's inference noise pool (r^n drawn by a background
 * thread while the trainer waits for the owner) against the same parties
 * without it, in alternating runs, each pooled run from a new, empty pool
 * (its unused values count in its CPU time). The predictions of both must
 * be equal.
 */
#define INFER_RUN_ROWS 320
static int bench_infer(const henn_bench_config *cfg, const henn_paillier_sk *sk, unsigned flags)
{
    /* quick runs (the CLI test's 0.02 s) do one round of 64 records */
    size_t dims[3] = {41, 41, 5}, rows = cfg->seconds < 0.5 ? 64 : INFER_RUN_ROWS, i,
           runs[2] = {0, 0};
    henn_nn_model m;
    henn_owner *o = NULL;
    henn_trainer *t = NULL;
    henn_transport to_t;
    henn_proto_params p;
    henn_batch_opts bo = {cfg->threads, NULL, NULL};
    henn_trainer_limits lim;
    float *X = malloc(rows * 41 * sizeof(float));
    uint8_t *pred[2] = {malloc(rows), malloc(rows)};
    double wall[2] = {0, 0}, cpu[2] = {0, 0}, bg = 0, l0 = load1(), t_start = now();
    char extra[320];
    int rc, k, same = 1;

    memset(&m, 0, sizeof(m));
    if (X == NULL || pred[0] == NULL || pred[1] == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (i = 0; i < rows * 41; i++)
        X[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;
    rc = henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1);
    if (rc == 0)
        rc = henn_proto_params_default(&p, 41, 0, mpz_sizeinbase(sk->pk.n, 2));
    if (rc == 0)
        rc = henn_owner_new(&o, sk, &bo);
    if (rc == 0)
        rc = henn_trainer_new(&t, &m, NULL, &bo);
    if (rc != 0)
        goto done;
    henn_trainer_limits_default(&lim);
    if (mpz_sizeinbase(sk->pk.n, 2) > lim.max_key_bits)
        lim.max_key_bits = mpz_sizeinbase(sk->pk.n, 2);
    rc = henn_trainer_set_limits(t, &lim);
    if (rc != 0)
        goto done;
    if (flags & HENN_PAILLIER_INSECURE)
        henn__trainer_allow_insecure(t);
    henn_transport_to_trainer(&to_t, t);
    /* a warm-up run without the pool (keys, contexts, caches), then pairs
     * (without, with) until both have had cfg->seconds of wall time */
    henn__trainer_set_noise_pool(t, 0);
    rc = henn_owner_infer(o, &to_t, &p, X, rows, 41, 5, pred[0], NULL);
    while (rc == 0 && (runs[0] < 2 || wall[0] < cfg->seconds || wall[1] < cfg->seconds)) {
        for (k = 0; k < 2 && rc == 0; k++) {
            double t0, c0;
            henn__trainer_set_noise_pool(t, k == 0 ? 0 : HENN__TRAINER_POOL_DEFAULT);
            t0 = now();
            c0 = cpu_now();
            rc = henn_owner_infer(o, &to_t, &p, X, rows, 41, 5, pred[k], NULL);
            if (k == 1) /* the pool thread's share, read before it stops */
                bg += henn__trainer_pool_cpu_seconds(t);
            henn__trainer_set_noise_pool(t, 0); /* stops the thread: its CPU counts here */
            cpu[k] += cpu_now() - c0;
            wall[k] += now() - t0;
            runs[k]++;
        }
        same = same && memcmp(pred[0], pred[1], rows) == 0;
    }
    if (rc != 0)
        goto done;
    for (k = 0; k < 2; k++) {
        double rate = (double)(runs[k] * rows) / wall[k];
        if (k == 0)
            snprintf(extra, sizeof(extra),
                     "\"model\":\"41-41-5 sigmoid\",\"records\":%zu,\"cpu_s\":%.3f,"
                     "\"records_per_cpu_s\":%.1f,\"noise_pool\":0",
                     runs[k] * rows, cpu[k], (double)(runs[k] * rows) / cpu[k]);
        else
            snprintf(extra, sizeof(extra),
                     "\"model\":\"41-41-5 sigmoid\",\"records\":%zu,\"cpu_s\":%.3f,"
                     "\"records_per_cpu_s\":%.1f,\"noise_pool\":%d,"
                     "\"pool_thread_cpu_s\":%.3f,"
                     "\"baseline\":\"kdd_infer noise_pool=0\",\"ratio\":%.3f,"
                     "\"same_predictions\":%s,\"load_start\":%.2f,\"load_end\":%.2f,"
                     "\"seconds\":%.1f",
                     runs[k] * rows, cpu[k], (double)(runs[k] * rows) / cpu[k],
                     HENN__TRAINER_POOL_DEFAULT, bg,
                     ((double)(runs[1] * rows) / wall[1]) / ((double)(runs[0] * rows) / wall[0]),
                     same ? "true" : "false", l0, load1(), now() - t_start);
        emit(cfg, k == 0 ? "kdd_infer" : "kdd_infer_pool", bo.threads ? bo.threads : henn__cpu_count(),
             rate, extra);
    }
    if (!same)
        rc = HENN_EPROTO; /* the pool must not change a single prediction */
done:
    henn_trainer_free(t);
    henn_owner_free(o);
    henn_nn_model_clear(&m);
    free(X);
    free(pred[0]);
    free(pred[1]);
    return rc;
}

int henn_bench_paillier(const henn_bench_config *cfg)
{
    henn_paillier_sk sk;
    henn_paillier_pk pk;
    state s;
    char extra[256];
    double r_keygen = 0, r_text = 0, r_djn = 0, r_djn_notab = 0, r_sk = 0, r_dec = 0, r_add = 0,
           r_mul = 0, r_pack = 0, r_rr = 0, r_base = 0, t0, t_pre;
    unsigned flags = cfg->insecure ? HENN_PAILLIER_INSECURE : 0u;
    unsigned threads = cfg->threads;
    size_t i, nk = 0, cap;
    int rc = 0;
    henn_paillier_ct *bct = NULL;
    henn_paillier_pt *bpt = NULL;
    size_t batch = 0;

    memset(&s, 0, sizeof(s));
    henn_paillier_sk_init(&sk);
    henn_paillier_pk_init(&pk);
    henn_paillier_ct_init(&s.out);
    henn_paillier_pt_init(&s.pout);
    henn_paillier_packed_init(&s.packed);
    s.cfg = cfg;
    s.sk = &sk;
    s.pk = &pk;
    s.pool = 16;
    s.slot_bits = 24; /* 16-bit values + 8 bits of headroom for sums */
    s.ct = calloc(s.pool, sizeof(*s.ct));
    s.pt = calloc(s.pool, sizeof(*s.pt));
    if (s.ct == NULL || s.pt == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (i = 0; i < s.pool; i++) {
        henn_paillier_ct_init(&s.ct[i]);
        henn_paillier_pt_init(&s.pt[i]);
    }

    /* keygen: at least 3 keys */
    t0 = now();
    do {
        henn_paillier_sk_clear(&sk);
        henn_paillier_sk_init(&sk);
        rc = henn_paillier_keygen(NULL, &sk, cfg->n_bits, flags);
        if (rc != 0)
            goto done;
        nk++;
    } while (now() - t0 < cfg->seconds || nk < 3);
    r_keygen = (double)nk / (now() - t0);
    snprintf(extra, sizeof(extra), "\"backend\":\"%s\"",
             sk.mont != NULL && sk.mont[0].v != 0 ? "ifma" : "gmp");
    emit(cfg, "keygen", 1, r_keygen, extra);
    rc = henn_paillier_pk_copy(&pk, &sk.pk);
    if (rc != 0)
        goto done;

    for (i = 0; i < s.pool && rc == 0; i++) {
        /* one fixed exponent: ct + ct then measures the product, not an
         * exponent alignment */
        rc = henn_paillier_encode_double_exp(&s.pt[i], &pk, (double)i * 1.25 - 3.0, -16);
        if (rc == 0)
            rc = henn_paillier_encrypt_sk(&s.ct[i], &sk, &s.pt[i]);
    }
    for (i = 0; i < 512; i++)
        s.vals[i] = (int64_t)(i * 7919 % 65536) - 32768;
    if (rc != 0)
        goto done;

    rc = measure(&r_base, &s, op_gmp_rn, 3);
    if (rc != 0)
        goto done;
    emit(cfg, "gmp_powm_rn", 1, r_base, "\"note\":\"bare r^n mod n^2, machine baseline\"");

    rc = measure(&r_text, &s, op_textbook, 3);
    if (rc != 0)
        goto done;
    emit(cfg, "encrypt_textbook", 1, r_text, "");

    rc = measure(&r_djn_notab, &s, op_djn, 3);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra), "\"table\":false,\"baseline\":\"encrypt_textbook\",\"ratio\":%.2f",
             r_djn_notab / r_text);
    emit(cfg, "encrypt_djn", 1, r_djn_notab, extra);

    t0 = now();
    rc = henn_paillier_pk_precompute(&pk, 0);
    if (rc != 0)
        goto done;
    t_pre = now() - t0;
    snprintf(extra, sizeof(extra), "\"window_bits\":10,\"seconds\":%.3f", t_pre);
    emit(cfg, "precompute_table", 1, 1.0 / t_pre, extra);

    rc = measure(&r_djn, &s, op_djn, 3);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra),
             "\"table\":true,\"baseline\":\"encrypt_textbook\",\"ratio\":%.2f,"
             "\"vs_gmp_powm_rn\":%.2f",
             r_djn / r_text, r_djn / r_base);
    emit(cfg, "encrypt", 1, r_djn, extra);

    rc = measure(&r_sk, &s, op_sk, 3);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra), "\"baseline\":\"encrypt_textbook\",\"ratio\":%.2f",
             r_sk / r_text);
    emit(cfg, "encrypt_keyholder", 1, r_sk, extra);

    rc = measure(&r_dec, &s, op_decrypt, 3);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra), "\"vs_gmp_powm_rn\":%.2f", r_dec / r_base);
    emit(cfg, "decrypt", 1, r_dec, extra);

    rc = measure(&r_add, &s, op_add, 100);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra), "\"vs_gmp_powm_rn\":%.1f", r_add / r_base);
    emit(cfg, "add", 1, r_add, extra);

    rc = measure(&r_mul, &s, op_mul32, 10);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra), "\"vs_gmp_powm_rn\":%.2f", r_mul / r_base);
    emit(cfg, "mul_plain_32bit", 1, r_mul, extra);

    /* The same operations on GMP's code (IFMA turned off for a key rebuilt
     * from the same primes): the in-process baseline of the IFMA backend. */
    if (sk.mont != NULL && sk.mont[0].v != 0) {
        static const struct {
            const char *op, *gmp_op;
            op_fn fn;
            size_t min_iter;
        } cmp[] = {{"encrypt", "encrypt_gmp", op_djn, 3},
                   {"encrypt_keyholder", "encrypt_keyholder_gmp", op_sk, 3},
                   {"decrypt", "decrypt_gmp", op_decrypt, 3},
                   {"mul_plain_32bit", "mul_plain_32bit_gmp", op_mul32, 10}};
        const double fast[] = {r_djn, r_sk, r_dec, r_mul};
        henn_paillier_sk skg;
        henn_paillier_pk pkg;
        size_t j;
        henn_paillier_sk_init(&skg);
        henn_paillier_pk_init(&pkg);
        henn__ifma_set_enabled(0);
        rc = henn_paillier_sk_from_primes(&skg, sk.p, sk.q, flags);
        if (rc == 0)
            rc = henn_paillier_pk_copy(&pkg, &skg.pk);
        if (rc == 0)
            rc = henn_paillier_pk_precompute(&pkg, 0);
        henn__ifma_set_enabled(1);
        s.sk = &skg;
        s.pk = &pkg;
        for (j = 0; rc == 0 && j < sizeof(cmp) / sizeof(cmp[0]); j++) {
            double r_gmp = 0;
            rc = measure(&r_gmp, &s, cmp[j].fn, cmp[j].min_iter);
            if (rc != 0)
                break;
            snprintf(extra, sizeof(extra), "\"backend\":\"gmp\",\"ifma_op\":\"%s\","
                     "\"ifma_ratio\":%.2f", cmp[j].op, fast[j] / r_gmp);
            emit(cfg, cmp[j].gmp_op, 1, r_gmp, extra);
        }
        s.sk = &sk;
        s.pk = &pk;
        henn_paillier_pk_clear(&pkg);
        henn_paillier_sk_clear(&skg);
        if (rc != 0)
            goto done;
    }

    rc = bench_mb(cfg, &sk, flags);
    if (rc != 0)
        goto done;

    rc = bench_djn8(cfg, &sk);
    if (rc != 0)
        goto done;

    rc = bench_infer(cfg, &sk, flags);
    if (rc != 0)
        goto done;

    rc = measure(&r_rr, &s, op_rerandomize, 3);
    if (rc != 0)
        goto done;
    emit(cfg, "rerandomize", 1, r_rr, "");

    cap = henn_paillier_pack_capacity(&pk, s.slot_bits);
    rc = measure(&r_pack, &s, op_packed, 3);
    if (rc != 0)
        goto done;
    snprintf(extra, sizeof(extra),
             "\"value_bits\":16,\"slot_bits\":%u,\"values_per_ct\":%zu,\"values_per_s\":%.1f",
             s.slot_bits, cap, r_pack * (double)cap);
    emit(cfg, "packed_encrypt", 1, r_pack, extra);

    /* Batch API: T threads against one thread on the same arrays. */
    if (threads == 0)
        threads = henn__cpu_count();
    batch = (size_t)(r_djn * cfg->seconds);
    if (batch < 32)
        batch = 32;
    bct = calloc(batch, sizeof(*bct));
    bpt = calloc(batch, sizeof(*bpt));
    if (bct == NULL || bpt == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (i = 0; i < batch; i++) {
        henn_paillier_ct_init(&bct[i]);
        henn_paillier_pt_init(&bpt[i]);
        mpz_set(bpt[i].encoding, s.pt[i % s.pool].encoding);
        bpt[i].exponent = s.pt[i % s.pool].exponent;
    }
    {
        henn_batch_opts o1 = {1, NULL, NULL}, oT = {threads, NULL, NULL};
        double e1, eT, d1, dT;
        t0 = now();
        rc = henn_paillier_encrypt_batch(bct, &pk, bpt, batch, &o1);
        e1 = (double)batch / (now() - t0);
        if (rc == 0) {
            t0 = now();
            rc = henn_paillier_encrypt_batch(bct, &pk, bpt, batch, &oT);
            eT = (double)batch / (now() - t0);
        }
        if (rc != 0)
            goto done;
        emit(cfg, "encrypt_batch", 1, e1, "");
        snprintf(extra, sizeof(extra), "\"baseline\":\"encrypt_batch threads=1\",\"ratio\":%.2f",
                 eT / e1);
        emit(cfg, "encrypt_batch", threads, eT, extra);
        t0 = now();
        rc = henn_paillier_decrypt_batch(bpt, &sk, bct, batch, &o1);
        d1 = (double)batch / (now() - t0);
        if (rc == 0) {
            t0 = now();
            rc = henn_paillier_decrypt_batch(bpt, &sk, bct, batch, &oT);
            dT = (double)batch / (now() - t0);
        }
        if (rc != 0)
            goto done;
        emit(cfg, "decrypt_batch", 1, d1, "");
        snprintf(extra, sizeof(extra), "\"baseline\":\"decrypt_batch threads=1\",\"ratio\":%.2f",
                 dT / d1);
        emit(cfg, "decrypt_batch", threads, dT, extra);
    }
done:
    if (rc != 0)
        fprintf(stderr, "bench paillier: %s (%s)\n", henn_strerror(rc), henn_err_name(rc));
    if (bct != NULL)
        for (i = 0; i < batch; i++)
            henn_paillier_ct_clear(&bct[i]);
    if (bpt != NULL)
        for (i = 0; i < batch; i++)
            henn_paillier_pt_clear(&bpt[i]);
    free(bct);
    free(bpt);
    if (s.ct != NULL)
        for (i = 0; i < s.pool; i++)
            henn_paillier_ct_clear(&s.ct[i]);
    if (s.pt != NULL)
        for (i = 0; i < s.pool; i++)
            henn_paillier_pt_clear(&s.pt[i]);
    free(s.ct);
    free(s.pt);
    henn_paillier_packed_clear(&s.packed);
    henn_paillier_pt_clear(&s.pout);
    henn_paillier_ct_clear(&s.out);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    return rc;
}
