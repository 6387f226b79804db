/*
 * The server's side of the CKKS logistic-regression protocol
 * (henn/lrproto.h): it stores the client's keys and encrypted records,
 * runs gradient steps on the encrypted weights the client sends, and
 * scores encrypted records. It has no secret key and never decrypts.
 *
 * One gradient step on a batch (docs/LR_PROTOCOL.md derives each line),
 * W at level l, records X at the top level, D the depth (3 or 4):
 *   P  = X W                                  l - 1   (relinearise, rescale)
 *   z  = sum_k rot(P, s 2^k)                  l - 1   z_i in every block
 *   degree 3:  X' = X c3 (constant, rescale)  l - 1
 *              zx = z X', z2 = z z            l - 2
 *              T  = z2 zx + (c1/c3) zx        l - 3
 *   degree 5:  zx = z X, z2 = z z             l - 2
 *              z4 = z2 z2, zx5 = c5 zx        l - 3
 *              T  = z4 zx5 + c3 z2 zx + c1 zx l - 4
 *   T += (c0 - y) x summed over the batch (precomputed once per TRAIN)
 *   T  = sum_k rot(T, 2^k), 2^k < s           slot j s: the block's sum
 *   W' = W (1 - alpha lambda/m | 1 | 0) - (alpha/m) T          l - D
 * Only slot j s of block j of W' is the new weight w_j (b in block dim);
 * the other slots hold partial sums. The client, which refreshes W after
 * every step anyway, reads those slots and encrypts a clean replicated W:
 * the refresh does the masking and replication a server-side step would
 * need a level and 2 log2(s) rotations for.
 * Every constant is applied by a multiplication whose encoding scale is
 * chosen so that the product, after rescaling, has exactly the scale the
 * next addition needs (the "knobs" below); alpha/m is applied by reading
 * T at scale S_T / f (f = alpha/m), so T is computed at S_T = f S_W and W'
 * keeps W's scale. The top coefficient rides on X' (degree 3) or on zx5
 * (degree 5), the other ones on their own plaintext-constant products.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "lr_wire.h"

#define PT_CACHE 8

typedef struct pt_entry {
    henn_ckks_pt pt;
    int kind;
    size_t level, batch;
    double scale;
} pt_entry;

enum { PT_REG = 2, PT_LABEL = 3, PT_MODEL = 4 };

struct henn_lr_server {
    henn_lr_server_limits lim;
    unsigned threads;
    henn_lr_server_stats st;

    /* session (KEYS) */
    int keyed;
    henn_ckks_params params;
    henn_ckks_relin_key rk;
    henn_ckks_galois_keys gk;
    henn__lr_layout lo;

    /* records (DATA) */
    henn_ckks_ct *X;
    uint32_t *rows;
    size_t nx, capx;
    double xscale;

    /* training (TRAIN, STEP) */
    int training;
    int deg;
    double c[8];
    double alpha, lambda;
    size_t cpb, nbatches, D;
    uint64_t total, next;
    henn_ckks_ct *K;  /* per batch: sum of (c0 - y) x, level L - 3 */
    henn_ckks_ct *Xp; /* per record ciphertext: X c3 at level l - 1 (degree 3) */
    double *xp_scale;
    size_t *xp_level;
    henn_ckks_ct W; /* the latest weights (what the server holds) */

    /* inference (MODEL, INFER) */
    int model; /* 0 none, 1 encrypted, 2 plaintext */
    henn_ckks_ct Wm;
    double *wplain;

    pt_entry cache[PT_CACHE];
    size_t cache_next;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- lifetime ---- */

void henn_lr_server_limits_default(henn_lr_server_limits *l)
{
    memset(l, 0, sizeof(*l));
    l->max_N = 16384;
    l->max_primes = 8;
    l->max_galois_keys = 32;
    l->max_cts = 4096;
    l->max_infer_cts = 64;
    l->max_steps = 1000000;
    l->allow_insecure = 0;
}

static int limits_ok(const henn_lr_server_limits *l)
{
    return l->max_N >= 4096 && l->max_N <= 65536 && (l->max_N & (l->max_N - 1)) == 0 &&
           l->max_primes >= 2 && l->max_primes <= 16 && l->max_galois_keys >= 1 &&
           l->max_galois_keys <= 64 && l->max_cts >= 1 && l->max_cts <= ((size_t)1 << 20) &&
           l->max_infer_cts >= 1 && l->max_infer_cts <= 4096 && l->max_steps >= 1 &&
           l->max_steps <= ((uint64_t)1 << 32);
}

static void clear_training(henn_lr_server *s)
{
    if (s->K != NULL)
        for (size_t b = 0; b < s->nbatches; b++)
            henn_ckks_ct_clear(&s->K[b]);
    free(s->K);
    s->K = NULL;
    if (s->Xp != NULL)
        for (size_t k = 0; k < s->nx; k++)
            henn_ckks_ct_clear(&s->Xp[k]);
    free(s->Xp);
    free(s->xp_scale);
    free(s->xp_level);
    s->Xp = NULL;
    s->xp_scale = NULL;
    s->xp_level = NULL;
    henn_ckks_ct_clear(&s->W);
    s->training = 0;
    s->nbatches = 0;
    s->total = s->next = 0;
    for (size_t i = 0; i < PT_CACHE; i++) {
        henn_ckks_pt_clear(&s->cache[i].pt);
        memset(&s->cache[i], 0, sizeof(s->cache[i]));
    }
}

static void clear_data(henn_lr_server *s)
{
    clear_training(s);
    for (size_t k = 0; k < s->nx; k++)
        henn_ckks_ct_clear(&s->X[k]);
    free(s->X);
    free(s->rows);
    s->X = NULL;
    s->rows = NULL;
    s->nx = s->capx = 0;
    s->xscale = 0;
}

static void clear_model(henn_lr_server *s)
{
    henn_ckks_ct_clear(&s->Wm);
    free(s->wplain);
    s->wplain = NULL;
    s->model = 0;
}

static void clear_session(henn_lr_server *s)
{
    clear_data(s);
    clear_model(s);
    henn_ckks_galois_keys_clear(&s->gk);
    henn_ckks_relin_key_clear(&s->rk);
    henn_ckks_params_clear(&s->params);
    memset(&s->lo, 0, sizeof(s->lo));
    s->keyed = 0;
}

int henn_lr_server_new(henn_lr_server **out, const henn_lr_server_limits *limits,
                       const henn_batch_opts *opts)
{
    henn_lr_server *s;
    *out = NULL;
    henn_lr_server_limits l;
    if (limits != NULL)
        l = *limits;
    else
        henn_lr_server_limits_default(&l);
    if (!limits_ok(&l))
        return HENN_EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HENN_ENOMEM;
    s->lim = l;
    s->threads = opts != NULL ? opts->threads : 0;
    *out = s;
    return 0;
}

void henn_lr_server_free(henn_lr_server *s)
{
    if (s == NULL)
        return;
    clear_session(s);
    free(s);
}

static uint64_t ct_bytes(const henn_ckks_ct *ct)
{
    return ct->data != NULL ? (uint64_t)ct->size * (ct->level + 1) * ct->params->N * 8 : 0;
}

void henn_lr_server_get_stats(henn_lr_server_stats *st, const henn_lr_server *s)
{
    *st = s->st;
    uint64_t held = 0;
    if (s->keyed) {
        size_t L = s->params.L, N = s->params.N;
        uint64_t ksk = (uint64_t)L * 2 * (L + 1) * N * 8;
        held += ksk * (1 + s->gk.count);
    }
    for (size_t k = 0; k < s->nx; k++) {
        held += ct_bytes(&s->X[k]);
        if (s->Xp != NULL)
            held += ct_bytes(&s->Xp[k]);
    }
    for (size_t b = 0; s->K != NULL && b < s->nbatches; b++)
        held += ct_bytes(&s->K[b]);
    held += ct_bytes(&s->W) + ct_bytes(&s->Wm);
    st->held_bytes = held;
}

/* ---- helpers on ciphertexts ---- */

/* Multiply by c at encoding scale sigma (out.scale = a.scale sigma). The
 * integer round(c sigma) must stay below q_0 / 2 for
 * henn_ckks_multiply_const; a larger one is split into round(c sigma /
 * 2^t) times 2^t (exact), and the scale set to a.scale sigma. */
static int mul_const(henn_ckks_ct *out, const henn_ckks_ct *a, double c, double sigma)
{
    double v = fabs(c * sigma), lim = (double)(a->params->q[0] / 8);
    if (!isfinite(v) || !(sigma > 0) || v < 0x1p16)
        return HENN_ERANGE; /* the constant would lose its precision */
    if (v < lim)
        return henn_ckks_multiply_const(out, a, c, sigma);
    int t = 0;
    while (ldexp(v, -t) >= lim)
        t++;
    if (t > 62 || ldexp(v, -t) < 0x1p16)
        return HENN_ERANGE;
    double scale = a->scale * sigma;
    int rc = henn_ckks_multiply_const(out, a, c, ldexp(sigma, -t));
    if (rc == 0)
        rc = henn_ckks_multiply_int(out, out, (int64_t)1 << t);
    if (rc == 0)
        out->scale = scale; /* the raw value is c sigma a: same value, bookkeeping */
    return rc;
}

/* out = rescale(a c) with out.scale == target (to the last bit of the
 * computed double). */
static int mul_const_to(henn_ckks_ct *out, const henn_ckks_ct *a, double c, double target)
{
    double q = (double)a->params->q[a->level];
    int rc = mul_const(out, a, c, target * q / a->scale);
    if (rc == 0)
        rc = henn_ckks_rescale(out, out);
    if (rc == 0)
        out->scale = target; /* equal up to double rounding, now exactly */
    return rc;
}

/* out = rescale(relinearise(a b)); out may alias neither input. */
static int mul_relin_rescale(henn_lr_server *s, henn_ckks_ct *out, const henn_ckks_ct *a,
                             const henn_ckks_ct *b)
{
    int rc = henn_ckks_multiply(out, a, b);
    if (rc == 0)
        rc = henn_ckks_relinearize(out, out, &s->rk);
    if (rc == 0)
        rc = henn_ckks_rescale(out, out);
    return rc;
}

/* acc = sum_{k < count} rot(acc, first 2^k) */
static int rot_sum(henn_lr_server *s, henn_ckks_ct *acc, size_t first, size_t limit)
{
    henn_ckks_ct t = {0};
    int rc = 0;
    for (size_t k = first; k < limit && rc == 0; k *= 2) {
        rc = henn_ckks_rotate(&t, acc, (int)k, &s->gk);
        if (rc == 0)
            rc = henn_ckks_add(acc, acc, &t);
    }
    henn_ckks_ct_clear(&t);
    return rc;
}

/* z in every block: sum over the B blocks (rotations by s 2^k). */
static int block_sum(henn_lr_server *s, henn_ckks_ct *acc)
{
    return rot_sum(s, acc, s->lo.s, s->lo.slots);
}

/* inside each block: slot j s gets the block's sum (rotations by 2^k < s). */
static int inner_sum(henn_lr_server *s, henn_ckks_ct *acc)
{
    return rot_sum(s, acc, 1, s->lo.s);
}

/* A cached plaintext: kind with parameter `batch` (its values depend on
 * the batch's alpha/m), at level and scale. */
static int get_pt(henn_lr_server *s, const henn_ckks_pt **out, int kind, size_t batch,
                  size_t level, double scale)
{
    for (size_t i = 0; i < PT_CACHE; i++) {
        pt_entry *e = &s->cache[i];
        if (e->kind == kind && e->batch == batch && e->level == level && e->scale == scale) {
            *out = &e->pt;
            return 0;
        }
    }
    const henn__lr_layout *lo = &s->lo;
    double *v = calloc(lo->slots, sizeof(double));
    if (v == NULL)
        return HENN_ENOMEM;
    double m = 0;
    if (kind == PT_REG) {
        size_t k0 = batch * s->cpb, k1 = k0 + s->cpb < s->nx ? k0 + s->cpb : s->nx;
        for (size_t k = k0; k < k1; k++)
            m += s->rows[k];
    }
    switch (kind) {
    case PT_REG: /* 1 - alpha lambda/m on features, 1 on the bias, 0 elsewhere */
        for (size_t j = 0; j <= lo->dim; j++)
            for (size_t i = 0; i < lo->s; i++)
                v[j * lo->s + i] = j < lo->dim ? 1.0 - s->alpha * s->lambda / m : 1.0;
        break;
    case PT_LABEL: /* 1 on the label block */
        for (size_t i = 0; i < lo->s; i++)
            v[(lo->dim + 1) * lo->s + i] = 1.0;
        break;
    case PT_MODEL: /* the published model, replicated per block */
        for (size_t j = 0; j <= lo->dim; j++)
            for (size_t i = 0; i < lo->s; i++)
                v[j * lo->s + i] = s->wplain[j];
        break;
    default:
        break;
    }
    pt_entry *e = &s->cache[s->cache_next];
    s->cache_next = (s->cache_next + 1) % PT_CACHE;
    henn_ckks_pt_clear(&e->pt);
    memset(e, 0, sizeof(*e));
    int rc = henn_ckks_encode(&e->pt, &s->params, v, lo->slots, scale, level);
    free(v);
    if (rc != 0) {
        henn_ckks_pt_clear(&e->pt);
        return rc;
    }
    e->kind = kind;
    e->batch = batch;
    e->level = level;
    e->scale = scale;
    *out = &e->pt;
    return 0;
}

/* ---- one gradient step ---- */

/* Gradient terms of record ciphertext k at base level l, added into T. */
static int step_terms(henn_lr_server *s, henn_ckks_ct *T, size_t k, const henn_ckks_ct *W,
                      double ST)
{
    const henn_ckks_params *P = &s->params;
    size_t l = W->level;
    double q[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i < P->L; i++)
        q[i] = (double)P->q[i];
    double SW = W->scale, Dx = s->xscale;
    double S1 = Dx * SW / q[l], S2 = S1 * S1 / q[l - 1];
    henn_ckks_ct Xl = {0}, z = {0}, zx = {0}, z2 = {0}, a = {0}, b = {0};
    int rc = henn_ckks_mod_switch(&Xl, &s->X[k], l);
    if (rc == 0)
        rc = mul_relin_rescale(s, &z, &Xl, W);
    if (rc == 0)
        rc = block_sum(s, &z);
    if (rc != 0)
        goto cleanup;
    /* X' = X c at level l - 1 (c = c3 for degree 3, 1 for degree 5), its
     * scale chosen so that z X' lands where the top term needs it (degree
     * 3) or at about q (degree 5); cached per record ciphertext */
    double SXp = s->deg == 3 ? ST * q[l - 2] / S2 * q[l - 1] / S1 : q[l - 1];
    if (s->xp_level[k] != l - 1 || s->xp_scale[k] != SXp) {
        rc = mul_const_to(&s->Xp[k], &Xl, s->deg == 3 ? s->c[3] : 1.0, SXp);
        s->xp_level[k] = rc == 0 ? l - 1 : 0;
        s->xp_scale[k] = rc == 0 ? SXp : 0;
    }
    if (rc != 0)
        goto cleanup;
    if (s->deg == 3) {
        if (rc == 0)
            rc = mul_relin_rescale(s, &zx, &z, &s->Xp[k]); /* c3 z x, scale SZX */
        if (rc == 0)
            rc = henn_ckks_square(&z2, &z);
        if (rc == 0)
            rc = henn_ckks_relinearize(&z2, &z2, &s->rk);
        if (rc == 0)
            rc = henn_ckks_rescale(&z2, &z2);
        if (rc == 0)
            rc = henn_ckks_multiply(&a, &z2, &zx); /* c3 z^3 x, size 3 */
        if (rc == 0)
            rc = henn_ckks_rescale(&a, &a);
        if (rc == 0)
            a.scale = ST;
        if (rc == 0)
            rc = mul_const_to(&b, &zx, s->c[1] / s->c[3], ST); /* c1 z x */
    } else {
        henn_ckks_ct z4 = {0}, z3x = {0};
        double S4 = S2 * S2 / q[l - 2];
        rc = mul_relin_rescale(s, &zx, &z, &s->Xp[k]); /* z x, l - 2 */
        if (rc == 0)
            rc = henn_ckks_square(&z2, &z);
        if (rc == 0)
            rc = henn_ckks_relinearize(&z2, &z2, &s->rk);
        if (rc == 0)
            rc = henn_ckks_rescale(&z2, &z2);
        if (rc == 0)
            rc = henn_ckks_square(&z4, &z2);
        if (rc == 0)
            rc = henn_ckks_relinearize(&z4, &z4, &s->rk);
        if (rc == 0)
            rc = henn_ckks_rescale(&z4, &z4); /* z^4, S4, l - 3 */
        if (rc == 0)
            rc = mul_const_to(&b, &zx, s->c[5], ST * q[l - 3] / S4); /* c5 z x, l - 3 */
        if (rc == 0)
            rc = henn_ckks_multiply(&a, &z4, &b); /* c5 z^5 x, size 3 */
        if (rc == 0)
            rc = henn_ckks_rescale(&a, &a);
        if (rc == 0)
            a.scale = ST;
        if (rc == 0)
            rc = henn_ckks_multiply(&z3x, &z2, &zx); /* z^3 x, size 3, l - 2 */
        if (rc == 0)
            rc = henn_ckks_rescale(&z3x, &z3x);
        if (rc == 0)
            rc = mul_const_to(&z3x, &z3x, s->c[3], ST); /* c3 z^3 x, l - 4 */
        if (rc == 0)
            rc = henn_ckks_add(&a, &a, &z3x);
        if (rc == 0)
            rc = mul_const_to(&b, &zx, s->c[1], ST); /* c1 z x, l - 3 */
        if (rc == 0)
            rc = henn_ckks_mod_switch(&b, &b, l - 4);
        henn_ckks_ct_clear(&z4);
        henn_ckks_ct_clear(&z3x);
    }
    if (rc == 0)
        rc = henn_ckks_add(&a, &a, &b);
    if (rc == 0)
        rc = T->data == NULL ? henn_ckks_ct_copy(T, &a) : henn_ckks_add(T, T, &a);
cleanup:
    henn_ckks_ct_clear(&Xl);
    henn_ckks_ct_clear(&z);
    henn_ckks_ct_clear(&zx);
    henn_ckks_ct_clear(&z2);
    henn_ckks_ct_clear(&a);
    henn_ckks_ct_clear(&b);
    return rc;
}

typedef struct step_job {
    henn_lr_server *s;
    const henn_ckks_ct *W;
    henn_ckks_ct *T; /* one partial sum per record ciphertext of the batch */
    size_t k0;
    double ST;
} step_job;

static int step_chunk(void *ctx, size_t begin, size_t end)
{
    step_job *j = ctx;
    int rc = 0;
    for (size_t i = begin; i < end && rc == 0; i++)
        rc = step_terms(j->s, &j->T[i], j->k0 + i, j->W, j->ST);
    return rc;
}

/* W <- W after one step on batch next % nbatches; W at level l >= D. */
static int do_step(henn_lr_server *s, henn_ckks_ct *W)
{
    const henn_ckks_params *P = &s->params;
    size_t l = W->level, D = s->D, t = l - D;
    size_t b = (size_t)(s->next % s->nbatches);
    size_t k0 = b * s->cpb, k1 = k0 + s->cpb < s->nx ? k0 + s->cpb : s->nx;
    double m = 0;
    for (size_t k = k0; k < k1; k++)
        m += s->rows[k];
    double f = s->alpha / m, SW = W->scale, ST = f * SW;
    henn_ckks_ct *T = calloc(k1 - k0, sizeof(*T));
    henn_ckks_ct Kt = {0}, Wr = {0};
    const henn_ckks_pt *reg;
    henn_batch_opts po = {.threads = s->threads};
    step_job jb = {.s = s, .W = W, .T = T, .k0 = k0, .ST = ST};
    int rc = T != NULL ? 0 : HENN_ENOMEM;
    /* plaintexts first: the cache is not touched by the workers */
    if (rc == 0)
        rc = get_pt(s, &reg, PT_REG, b, l, (double)P->q[l]); /* W r keeps S_W */
    if (rc == 0)
        rc = henn__parallel_for(k1 - k0, &po, step_chunk, &jb);
    for (size_t i = 1; i < k1 - k0 && rc == 0; i++)
        rc = henn_ckks_add(&T[0], &T[0], &T[i]);
    /* the label term (c0 - y) x of the batch */
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Kt, &s->K[b], l - 2);
    if (rc == 0)
        rc = mul_const_to(&Kt, &Kt, 1.0, ST);
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Kt, &Kt, t);
    if (rc == 0)
        rc = henn_ckks_add(&T[0], &T[0], &Kt);
    if (rc == 0)
        rc = henn_ckks_relinearize(&T[0], &T[0], &s->rk);
    if (rc == 0)
        rc = inner_sum(s, &T[0]); /* slot j s: sum_i e_i x_ij over the batch */
    /* W (1 - alpha lambda / m) on the features, W on the bias */
    if (rc == 0)
        rc = henn_ckks_multiply_plain(&Wr, W, reg);
    if (rc == 0)
        rc = henn_ckks_rescale(&Wr, &Wr);
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Wr, &Wr, t);
    if (rc == 0) {
        /* T at scale S_T = f S_W read at scale S_W is f T = the step */
        Wr.scale = T[0].scale = SW;
        rc = henn_ckks_sub(W, &Wr, &T[0]);
    }
    for (size_t i = 0; T != NULL && i < k1 - k0; i++)
        henn_ckks_ct_clear(&T[i]);
    free(T);
    henn_ckks_ct_clear(&Kt);
    henn_ckks_ct_clear(&Wr);
    return rc;
}

/* ---- message handlers ---- */

/* Little-endian u32 at off of a CKKS object (its header is checked by
 * the deserialiser; this only peeks at sizes before anything is built). */
static uint32_t le32_at(const uint8_t *b, size_t n, size_t off)
{
    if (off + 4 > n)
        return 0;
    return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
           (uint32_t)b[off + 3] << 24;
}

static uint32_t galois_elt(int step, size_t N)
{
    size_t slots = N / 2, k = step >= 0 ? (size_t)step % slots : slots - ((size_t)(-step) % slots);
    uint64_t g = 1, m = 2 * N;
    for (size_t i = 0; i < k; i++)
        g = g * 3 % m;
    return (uint32_t)g;
}

static int scale_sane(double v)
{
    return isfinite(v) && v >= 0x1p10 && v <= 0x1p62;
}

static int read_ct(henn_lr_server *s, henn_ckks_ct *ct, henn__lr_rbuf *r)
{
    size_t n;
    const uint8_t *b = henn__lr_rblob(r, &n);
    if (b == NULL)
        return HENN_EFORMAT;
    int rc = henn_ckks_ct_deserialize(ct, &s->params, b, n);
    if (rc != 0)
        return rc;
    if (ct->size != 2 || !scale_sane(ct->scale)) {
        henn_ckks_ct_clear(ct);
        return HENN_EPROTO;
    }
    return 0;
}

static int handle_keys(henn_lr_server *s, henn__lr_rbuf *r)
{
    henn_ckks_params params = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0};
    henn__lr_layout lo;
    size_t pn, rn, gn;
    uint32_t dim = henn__lr_ru32(r);
    const uint8_t *pb = henn__lr_rblob(r, &pn), *rb = henn__lr_rblob(r, &rn),
                  *gb = henn__lr_rblob(r, &gn);
    int rc = henn__lr_rdone(r);
    if (rc != 0)
        return rc;
    /* sizes first: N and the prime count (params), the key count (Galois) */
    uint32_t N = le32_at(pb, pn, 12), count = le32_at(pb, pn, 16);
    if (N > s->lim.max_N || count > s->lim.max_primes ||
        le32_at(gb, gn, 12 + HENN_CKKS_FINGERPRINTBYTES) > s->lim.max_galois_keys)
        return HENN_EPARAM;
    rc = henn_ckks_params_deserialize(&params, pb, pn,
                                      s->lim.allow_insecure ? HENN_CKKS_INSECURE : 0);
    if (rc == 0 && (params.N > s->lim.max_N || params.L + 1 > s->lim.max_primes ||
                    params.L < 2))
        rc = HENN_EPARAM;
    if (rc == 0 && henn__lr_layout_init(&lo, params.N, dim) != 0)
        rc = HENN_EPROTO;
    if (rc == 0)
        rc = henn_ckks_relin_key_deserialize(&rk, &params, rb, rn);
    if (rc == 0)
        rc = henn_ckks_galois_keys_deserialize(&gk, &params, gb, gn);
    if (rc == 0 && gk.count > s->lim.max_galois_keys)
        rc = HENN_EPARAM;
    if (rc == 0) {
        int steps[40];
        size_t ns = henn__lr_rotation_steps(steps, &lo);
        for (size_t i = 0; i < ns && rc == 0; i++) {
            uint32_t g = galois_elt(steps[i], params.N);
            size_t j = 0;
            while (j < gk.count && gk.elts[j] != g)
                j++;
            if (j == gk.count)
                rc = HENN_EKEY; /* a rotation the packing needs has no key */
        }
    }
    if (rc != 0) {
        henn_ckks_galois_keys_clear(&gk);
        henn_ckks_relin_key_clear(&rk);
        henn_ckks_params_clear(&params);
        return rc;
    }
    clear_session(s);
    /* the objects point at params: move it first, then re-point them */
    s->params = params;
    s->rk = rk;
    s->gk = gk;
    s->rk.ksk.params = &s->params;
    s->gk.params = &s->params;
    for (size_t i = 0; i < s->gk.count; i++)
        s->gk.keys[i].params = &s->params;
    s->lo = lo;
    s->keyed = 1;
    return 0;
}

static int handle_data(henn_lr_server *s, henn__lr_rbuf *r)
{
    if (!s->keyed)
        return HENN_EPROTO;
    uint32_t index = henn__lr_ru32(r), rows = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    /* index 0 starts a new data set; others append in order */
    if ((index != 0 && index != s->nx) || index >= s->lim.max_cts || rows == 0 ||
        rows > s->lo.s)
        return HENN_EPROTO;
    henn_ckks_ct ct = {0};
    int rc = read_ct(s, &ct, r);
    if (rc == 0)
        rc = henn__lr_rdone(r);
    if (rc == 0 && (ct.level != s->params.L - 1 ||
                    (index > 0 && fabs(ct.scale - s->xscale) > 0x1p-20 * s->xscale)))
        rc = HENN_EPROTO;
    if (rc != 0) {
        henn_ckks_ct_clear(&ct);
        return rc;
    }
    if (index == 0)
        clear_data(s);
    clear_training(s);
    if (s->nx == s->capx) {
        size_t cap = s->capx ? 2 * s->capx : 8;
        if (cap > s->lim.max_cts)
            cap = s->lim.max_cts;
        henn_ckks_ct *X = realloc(s->X, cap * sizeof(*X));
        if (X != NULL)
            s->X = X;
        uint32_t *rw = X != NULL ? realloc(s->rows, cap * sizeof(*rw)) : NULL;
        if (rw != NULL)
            s->rows = rw;
        if (X == NULL || rw == NULL) {
            henn_ckks_ct_clear(&ct);
            return HENN_ENOMEM;
        }
        s->capx = cap;
    }
    if (s->nx == 0)
        s->xscale = ct.scale;
    s->X[s->nx] = ct;
    s->rows[s->nx] = rows;
    s->nx++;
    return 0;
}

/* Per batch: K_b = sum (c0 - y) x over its ciphertexts, at level L - 3. */
static int precompute_labels(henn_lr_server *s)
{
    const henn_ckks_params *P = &s->params;
    size_t top = P->L - 1;
    const henn_ckks_pt *lab;
    henn_ckks_ct Y = {0}, Xm = {0}, Kk = {0};
    /* Y = X (label mask) at scale q_{top-1}, so that K = (c0 - Y) X keeps
     * the records' scale after its rescale */
    int rc = get_pt(s, &lab, PT_LABEL, 0, top,
                    (double)P->q[top - 1] * (double)P->q[top] / s->xscale);
    for (size_t k = 0; k < s->nx && rc == 0; k++) {
        size_t b = k / s->cpb;
        rc = henn_ckks_multiply_plain(&Y, &s->X[k], lab);
        if (rc == 0)
            rc = henn_ckks_rescale(&Y, &Y);
        if (rc == 0)
            rc = block_sum(s, &Y); /* y_i in every block */
        if (rc == 0)
            rc = henn_ckks_negate(&Y, &Y);
        if (rc == 0)
            rc = henn_ckks_add_const(&Y, &Y, s->c[0]); /* c0 - y */
        if (rc == 0)
            rc = henn_ckks_mod_switch(&Xm, &s->X[k], top - 1);
        if (rc == 0)
            rc = mul_relin_rescale(s, &Kk, &Y, &Xm);
        if (rc == 0)
            rc = s->K[b].data == NULL ? henn_ckks_ct_copy(&s->K[b], &Kk)
                                      : henn_ckks_add(&s->K[b], &s->K[b], &Kk);
    }
    henn_ckks_ct_clear(&Y);
    henn_ckks_ct_clear(&Xm);
    henn_ckks_ct_clear(&Kk);
    return rc;
}

static int handle_train(henn_lr_server *s, henn__lr_rbuf *r)
{
    uint32_t kind = henn__lr_ru32(r);
    double alpha = henn__lr_rf64(r), lambda = henn__lr_rf64(r);
    uint32_t cpb = henn__lr_ru32(r), epochs = henn__lr_ru32(r);
    int rc = henn__lr_rdone(r);
    if (rc != 0)
        return rc;
    if (!s->keyed || s->nx == 0)
        return HENN_EPROTO;
    double c[8];
    int deg = kind <= 8 ? henn_lr_sigmoid_coeffs(c, (henn_lr_sigmoid)kind) : -1;
    size_t D = henn__lr_depth(deg);
    if (D == 0 || !isfinite(alpha) || !(alpha > 0) || alpha > 1e6 || !isfinite(lambda) ||
        !(lambda >= 0) || lambda > 1e9 || epochs == 0 || cpb > s->nx)
        return HENN_EPROTO;
    if (s->params.L < D + 1)
        return HENN_EPARAM; /* the chain is too short for one step */
    size_t per = cpb == 0 ? s->nx : cpb, nb = (s->nx + per - 1) / per;
    if ((uint64_t)epochs > s->lim.max_steps / nb)
        return HENN_EPROTO;
    clear_training(s);
    s->deg = deg;
    memcpy(s->c, c, sizeof(c));
    s->alpha = alpha;
    s->lambda = lambda;
    s->cpb = per;
    s->nbatches = nb;
    s->D = D;
    s->total = (uint64_t)epochs * nb;
    s->next = 0;
    s->K = calloc(nb, sizeof(*s->K));
    s->Xp = calloc(s->nx, sizeof(*s->Xp));
    s->xp_scale = calloc(s->nx, sizeof(double));
    s->xp_level = calloc(s->nx, sizeof(size_t));
    if (s->K == NULL || s->Xp == NULL || s->xp_scale == NULL || s->xp_level == NULL)
        rc = HENN_ENOMEM;
    if (rc == 0)
        rc = precompute_labels(s);
    if (rc != 0) {
        clear_training(s);
        return rc;
    }
    s->training = 1;
    return 0;
}

static int handle_step(henn_lr_server *s, henn__lr_rbuf *r, uint8_t **resp, size_t *resp_len)
{
    if (!s->training)
        return HENN_EPROTO;
    uint32_t step = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    henn_ckks_ct W = {0};
    int rc = read_ct(s, &W, r);
    if (rc == 0)
        rc = henn__lr_rdone(r);
    if (rc == 0 && (step != s->next || s->next >= s->total || W.level < s->D))
        rc = HENN_EPROTO;
    if (rc == 0)
        rc = do_step(s, &W);
    if (rc == 0) {
        s->next++;
        s->st.steps++;
    }
    if (rc == 0)
        rc = henn_ckks_ct_copy(&s->W, &W);
    if (rc == 0) {
        henn__lr_wbuf w;
        henn__lr_wstart(&w, HENN_LR_MSG_WEIGHTS);
        henn__lr_wu32(&w, step);
        henn__lr_wu32(&w, 1); /* steps done: one per refresh */
        henn__lr_wct(&w, &W, NULL);
        rc = henn__lr_wfinish(&w, resp, resp_len);
    }
    henn_ckks_ct_clear(&W);
    return rc;
}

static int handle_model(henn_lr_server *s, henn__lr_rbuf *r)
{
    if (!s->keyed)
        return HENN_EPROTO;
    uint32_t kind = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    if (kind == 0) {
        henn_ckks_ct W = {0};
        int rc = read_ct(s, &W, r);
        if (rc == 0)
            rc = henn__lr_rdone(r);
        if (rc == 0 && W.level < 1)
            rc = HENN_EPROTO;
        if (rc != 0) {
            henn_ckks_ct_clear(&W);
            return rc;
        }
        clear_model(s);
        s->Wm = W;
        s->model = 1;
        return 0;
    }
    if (kind != 1)
        return HENN_EPROTO;
    size_t n = s->lo.dim + 1;
    double *w = calloc(n, sizeof(double));
    if (w == NULL)
        return HENN_ENOMEM;
    for (size_t j = 0; j < n; j++)
        w[j] = henn__lr_rf64(r);
    int rc = henn__lr_rdone(r);
    for (size_t j = 0; j < n && rc == 0; j++)
        if (!isfinite(w[j]) || fabs(w[j]) > HENN__LR_MAX_ABS_W)
            rc = HENN_EPROTO;
    if (rc != 0) {
        free(w);
        return rc;
    }
    clear_model(s);
    /* plaintexts of the previous model are stale */
    for (size_t i = 0; i < PT_CACHE; i++)
        if (s->cache[i].kind == PT_MODEL) {
            henn_ckks_pt_clear(&s->cache[i].pt);
            memset(&s->cache[i], 0, sizeof(s->cache[i]));
        }
    s->wplain = w;
    s->model = 2;
    return 0;
}

/* z = block_sum(X W) at level 0 for one record ciphertext. */
static int score_one(henn_lr_server *s, henn_ckks_ct *out, const henn_ckks_ct *X)
{
    size_t l = X->level;
    int rc;
    if (s->model == 1) {
        henn_ckks_ct Wl = {0};
        rc = henn_ckks_mod_switch(&Wl, &s->Wm, l);
        if (rc == 0)
            rc = mul_relin_rescale(s, out, X, &Wl);
        henn_ckks_ct_clear(&Wl);
    } else {
        const henn_ckks_pt *pw;
        rc = get_pt(s, &pw, PT_MODEL, 0, l, (double)s->params.q[l]);
        if (rc == 0)
            rc = henn_ckks_multiply_plain(out, X, pw);
        if (rc == 0)
            rc = henn_ckks_rescale(out, out);
    }
    if (rc == 0)
        rc = henn_ckks_mod_switch(out, out, 0);
    if (rc == 0)
        rc = block_sum(s, out);
    return rc;
}

static int handle_infer(henn_lr_server *s, henn__lr_rbuf *r, uint8_t **resp, size_t *resp_len)
{
    if (!s->keyed || s->model == 0)
        return HENN_EPROTO;
    uint32_t count = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    /* each ciphertext is a blob of at least 4 bytes */
    if (count == 0 || count > s->lim.max_infer_cts || count > (r->len - r->pos) / 4)
        return HENN_EPROTO;
    henn_ckks_ct *cts = calloc(count, sizeof(*cts));
    if (cts == NULL)
        return HENN_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        rc = read_ct(s, &cts[i], r);
        if (rc == 0 && (cts[i].level < 1 || (s->model == 1 && s->Wm.level < cts[i].level)))
            rc = HENN_EPROTO;
    }
    if (rc == 0)
        rc = henn__lr_rdone(r);
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = score_one(s, &cts[i], &cts[i]);
    if (rc == 0) {
        henn__lr_wbuf w;
        henn__lr_wstart(&w, HENN_LR_MSG_SCORES);
        henn__lr_wu32(&w, count);
        for (uint32_t i = 0; i < count; i++)
            henn__lr_wct(&w, &cts[i], NULL);
        rc = henn__lr_wfinish(&w, resp, resp_len);
        if (rc == 0)
            s->st.records_scored += (uint64_t)count * s->lo.s;
    }
    for (uint32_t i = 0; i < count; i++)
        henn_ckks_ct_clear(&cts[i]);
    free(cts);
    return rc;
}

int henn_lr_server_handle(henn_lr_server *s, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    henn__lr_rbuf r;
    int type, rc;
    double t0 = now_s();
    *resp = NULL;
    *resp_len = 0;
    s->st.messages++;
    rc = henn__lr_ropen(&r, &type, req, req_len);
    if (rc == 0) {
        switch (type) {
        case HENN_LR_MSG_KEYS:
            rc = handle_keys(s, &r);
            s->st.setup_s += now_s() - t0;
            break;
        case HENN_LR_MSG_DATA:
            rc = handle_data(s, &r);
            break;
        case HENN_LR_MSG_TRAIN:
            rc = handle_train(s, &r);
            s->st.setup_s += now_s() - t0;
            break;
        case HENN_LR_MSG_STEP:
            rc = handle_step(s, &r, resp, resp_len);
            s->st.step_s += now_s() - t0;
            break;
        case HENN_LR_MSG_MODEL:
            rc = handle_model(s, &r);
            break;
        case HENN_LR_MSG_INFER:
            rc = handle_infer(s, &r, resp, resp_len);
            s->st.infer_s += now_s() - t0;
            break;
        default:
            rc = HENN_EPROTO; /* a response type sent as a request */
            break;
        }
    }
    if (rc == 0 && *resp == NULL)
        rc = henn__lr_msg_ok(resp, resp_len);
    if (rc != 0) {
        s->st.errors++;
        if (rc == HENN_EINVAL)
            rc = HENN_EPROTO;
        return henn__lr_msg_error(resp, resp_len, rc);
    }
    return 0;
}

/* ---- the server's view ---- */

static int view_obj(henn_lr_view_fn fn, void *user, int kind, int rc, uint8_t *buf, size_t len)
{
    if (rc == 0)
        fn(user, kind, buf, len);
    henn_free(buf, len);
    return rc;
}

static int view_ct(const henn_ckks_ct *ct, henn_lr_view_fn fn, void *user)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (ct->data == NULL)
        return 0;
    int rc = henn_ckks_ct_serialize(&b, &n, ct, NULL);
    return view_obj(fn, user, HENN_LR_VIEW_CT, rc, b, n);
}

int henn_lr_server_view(const henn_lr_server *s, henn_lr_view_fn fn, void *user)
{
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = 0;
    if (s == NULL || fn == NULL)
        return HENN_EINVAL;
    if (s->keyed) {
        rc = henn_ckks_params_serialize(&b, &n, &s->params);
        rc = view_obj(fn, user, HENN_LR_VIEW_PARAMS, rc, b, n);
        if (rc == 0) {
            rc = henn_ckks_relin_key_serialize(&b, &n, &s->rk);
            rc = view_obj(fn, user, HENN_LR_VIEW_KEY, rc, b, n);
        }
        if (rc == 0) {
            rc = henn_ckks_galois_keys_serialize(&b, &n, &s->gk);
            rc = view_obj(fn, user, HENN_LR_VIEW_KEY, rc, b, n);
        }
    }
    for (size_t k = 0; k < s->nx && rc == 0; k++) {
        rc = view_ct(&s->X[k], fn, user);
        if (rc == 0 && s->Xp != NULL)
            rc = view_ct(&s->Xp[k], fn, user);
    }
    for (size_t i = 0; s->K != NULL && i < s->nbatches && rc == 0; i++)
        rc = view_ct(&s->K[i], fn, user);
    if (rc == 0)
        rc = view_ct(&s->W, fn, user);
    if (rc == 0)
        rc = view_ct(&s->Wm, fn, user);
    if (rc == 0 && s->training) {
        /* the public training options, as the server stores them */
        double opt[4] = {s->alpha, s->lambda, (double)s->cpb, (double)s->total};
        fn(user, HENN_LR_VIEW_OPTIONS, (const uint8_t *)opt, sizeof(opt));
    }
    if (rc == 0 && s->model == 2)
        fn(user, HENN_LR_VIEW_OPTIONS, (const uint8_t *)s->wplain,
           (s->lo.dim + 1) * sizeof(double));
    return rc;
}
