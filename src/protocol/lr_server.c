/*
 * The server's side of the CKKS logistic-regression protocol
 * (henn/lrproto.h): it stores the client's keys and encrypted records,
 * runs gradient steps on the encrypted weights the client sends, and
 * scores encrypted records. It has no secret key and never decrypts.
 *
 * One gradient step on a batch (docs/LR_PROTOCOL.md derives each line),
 * W at level l, records X at the top level, D the depth (3 or 4). A record
 * group is G ciphertexts X_c (one when dim + 2 <= 16), W has G too:
 *   P  = sum_c X_c W_c                        l - 1   (one relinearisation)
 *   z  = sum_k rot(P, s 2^k)                  l - 1   z_i in every block
 * then per ciphertext c of the group (X = X_c):
 *   degree 3:  u  = z z + c1/c3 (per group)   l - 2
 *              X' = X c3 (constant, rescale)  l - 1
 *              zx = z X'                      l - 2
 *              T  = u zx = c3 z^3 x + c1 z x  l - 3
 *   degree 5:  u  = c5 z^4 + c3 z^2 + c1 (per group)         l - 3
 *              zx = z X, then a constant      l - 3
 *              T  = u zx                      l - 4
 *   T += (c0 - y) x summed over the batch (precomputed once per TRAIN)
 *   T  = sum_k rot(T, 2^k), 2^k < s           slot j s: the block's sum
 *   W' = W (1 - alpha lambda/m | 1 | 0) - (alpha/m) T          l - D
 * (T, T's sum and W' per ciphertext c, over the batch's groups).
 * Only slot j s of block j of W' is the new weight w_j (b in block dim);
 * the other slots hold partial sums. The client, which refreshes W after
 * every step anyway, reads those slots and encrypts a clean replicated W:
 * the refresh does the masking and replication a server-side step would
 * need a level and 2 log2(s) rotations for.
 * Every constant is applied by a multiplication whose encoding scale is
 * chosen so that the product, after rescaling, has exactly the scale the
 * next addition needs (the "knobs" below); alpha/m is applied by reading
 * T at scale S_T / f (f = alpha/m), so T is computed at S_T = f S_W and W'
 * keeps W's scale. The top coefficient rides on X' (degree 3) or is read
 * into z^4's scale (degree 5); the polynomial factor u is computed once
 * per record group, so each record ciphertext costs one relinearised and
 * one plain product.
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

#define PT_CACHE 16

typedef struct pt_entry {
    henn_ckks_pt pt;
    int kind;
    size_t level, tag;
    double scale;
} pt_entry;

enum { PT_REG = 1, PT_LABEL = 2, PT_MODEL = 3 };

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

    /* records (DATA): ciphertext k = g G + c of group g; rows[g] */
    henn_ckks_ct *X;
    uint32_t *rows;
    size_t nx, capx;
    double xscale;

    /* training (TRAIN, STEP) */
    int training;
    int deg;
    double c[8];
    double alpha, lambda;
    size_t gpb, nbatches, D; /* groups per batch, batches, depth */
    uint64_t total, next;
    henn_ckks_ct *K;  /* nbatches x G: sum of (c0 - y) x, level L - 3 */
    henn_ckks_ct *Xp; /* per record ciphertext: X times a constant at l - 1 */
    double *xp_scale;
    size_t *xp_level;
    henn_ckks_ct *W; /* G: the latest weights (what the server holds) */

    /* inference (MODEL, INFER) */
    int model; /* 0 none, 1 encrypted (Wm, G ciphertexts), 2 plaintext */
    henn_ckks_ct *Wm;
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

static void cts_free(henn_ckks_ct *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        henn_ckks_ct_clear(&v[i]);
    free(v);
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

static void clear_cache(henn_lr_server *s, int kind)
{
    for (size_t i = 0; i < PT_CACHE; i++)
        if (kind == 0 || s->cache[i].kind == kind) {
            henn_ckks_pt_clear(&s->cache[i].pt);
            memset(&s->cache[i], 0, sizeof(s->cache[i]));
        }
}

static void clear_training(henn_lr_server *s)
{
    cts_free(s->K, s->nbatches * s->lo.G);
    cts_free(s->Xp, s->nx);
    cts_free(s->W, s->lo.G);
    free(s->xp_scale);
    free(s->xp_level);
    s->K = s->Xp = s->W = NULL;
    s->xp_scale = NULL;
    s->xp_level = NULL;
    s->training = 0;
    s->nbatches = 0;
    s->total = s->next = 0;
    clear_cache(s, PT_REG);
    clear_cache(s, PT_LABEL);
}

static void clear_data(henn_lr_server *s)
{
    clear_training(s);
    cts_free(s->X, s->nx);
    free(s->rows);
    s->X = NULL;
    s->rows = NULL;
    s->nx = s->capx = 0;
    s->xscale = 0;
}

static void clear_model(henn_lr_server *s)
{
    cts_free(s->Wm, s->lo.G);
    free(s->wplain);
    s->Wm = NULL;
    s->wplain = NULL;
    s->model = 0;
    clear_cache(s, PT_MODEL);
}

static void clear_session(henn_lr_server *s)
{
    clear_data(s);
    clear_model(s);
    clear_cache(s, 0);
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
    size_t G = s->lo.G;
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
    for (size_t i = 0; s->K != NULL && i < s->nbatches * G; i++)
        held += ct_bytes(&s->K[i]);
    for (size_t c = 0; c < G; c++) {
        if (s->W != NULL)
            held += ct_bytes(&s->W[c]);
        if (s->Wm != NULL)
            held += ct_bytes(&s->Wm[c]);
    }
    st->held_bytes = held;
}

/* ---- helpers on ciphertexts ---- */

/* Multiply by c at encoding scale sigma (out.scale = a.scale sigma). The
 * integer round(c sigma) must stay below q_0 / 2 for
 * henn_ckks_multiply_const; a larger one is split into round(c sigma /
 * 2^t) times 2^t (exact), and the scale set to a.scale sigma. A constant
 * below 2^16 at its scale would lose its precision: HENN_ERANGE. */
static int mul_const(henn_ckks_ct *out, const henn_ckks_ct *a, double c, double sigma)
{
    double v = fabs(c * sigma), lim = (double)(a->params->q[0] / 8);
    if (!isfinite(v) || !(sigma > 0) || v < 0x1p16)
        return HENN_ERANGE;
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

/* acc = sum over k of rot(acc, first 2^k), first 2^k < limit */
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

/* Rows of the batch's groups [g0, g1). */
static double batch_rows(const henn_lr_server *s, size_t g0, size_t g1)
{
    double m = 0;
    for (size_t g = g0; g < g1; g++)
        m += s->rows[g];
    return m;
}

/* A cached plaintext: kind with tag (REG: batch G + c, LABEL and MODEL:
 * c, the ciphertext of the group it multiplies), at level and scale.
 * Not thread-safe: fetch before parallel work. */
static int get_pt(henn_lr_server *s, const henn_ckks_pt **out, int kind, size_t tag,
                  size_t level, double scale)
{
    for (size_t i = 0; i < PT_CACHE; i++) {
        pt_entry *e = &s->cache[i];
        if (e->kind == kind && e->tag == tag && e->level == level && e->scale == scale) {
            *out = &e->pt;
            return 0;
        }
    }
    const henn__lr_layout *lo = &s->lo;
    size_t B = lo->B, G = lo->G, c = kind == PT_REG ? tag % G : tag;
    double *v = calloc(lo->slots, sizeof(double));
    if (v == NULL)
        return HENN_ENOMEM;
    double m = 0;
    if (kind == PT_REG) {
        size_t b = tag / G, g0 = b * s->gpb;
        size_t g1 = g0 + s->gpb < s->nx / G ? g0 + s->gpb : s->nx / G;
        m = batch_rows(s, g0, g1);
    }
    for (size_t j = 0; j < B; j++) {
        size_t f = c * B + j; /* record index in this block */
        double x = 0;
        if (kind == PT_REG && f <= lo->dim)
            x = f < lo->dim ? 1.0 - s->alpha * s->lambda / m : 1.0;
        else if (kind == PT_LABEL && f == lo->dim + 1)
            x = 1.0;
        else if (kind == PT_MODEL && f <= lo->dim)
            x = s->wplain[f];
        for (size_t i = 0; i < lo->s && x != 0; i++)
            v[j * lo->s + i] = x;
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
    e->tag = tag;
    e->level = level;
    e->scale = scale;
    *out = &e->pt;
    return 0;
}

/* Run fn(ctx, i) for i < count on the server's threads. */
typedef int (*item_fn)(void *ctx, size_t i);
typedef struct par_job {
    item_fn fn;
    void *ctx;
} par_job;

static int par_chunk(void *ctx, size_t begin, size_t end)
{
    par_job *j = ctx;
    int rc = 0;
    for (size_t i = begin; i < end && rc == 0; i++)
        rc = j->fn(j->ctx, i);
    return rc;
}

/* With at least as many items as threads, one item per thread and the
 * CKKS calls on their own thread; with fewer (one record group, one
 * ciphertext per group), the items in turn and the threads inside the key
 * switches and rescales (over RNS limbs, henn_ckks_params_set_threads). */
static int par_for(henn_lr_server *s, size_t count, item_fn fn, void *ctx)
{
    unsigned threads = s->threads > 0 ? s->threads : henn__cpu_count();
    henn_batch_opts po = {.threads = threads};
    par_job j = {fn, ctx};
    int rc;
    if (count >= threads && threads > 1) {
        rc = henn_ckks_params_set_threads(&s->params, 1);
        return rc == 0 ? henn__parallel_for(count, &po, par_chunk, &j) : rc;
    }
    rc = henn_ckks_params_set_threads(&s->params, threads);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = fn(ctx, i);
    return rc;
}

/* ---- one gradient step ---- */

typedef struct step_ctx {
    henn_lr_server *s;
    const henn_ckks_ct *W; /* G weight ciphertexts at level l */
    size_t g0, l;
    double ST;
    henn_ckks_ct *z, *u;       /* per group of the batch: z, the polynomial u */
    henn_ckks_ct *T;           /* per (group, c) */
    const henn_ckks_pt **reg;  /* per c */
} step_ctx;

/* Group g0 + i: z = block_sum(sum_c X_c W_c) at level l - 1 and the
 * Horner factor u of the gradient terms, T = u (c z x) at level l - D:
 *   degree 3: u = z^2 + c1/c3             (X' carries c3)        l - 2
 *   degree 5: u = c5 z^4 + c3 z^2 + c1    (c5 by reading z^4 at
 *             scale S4 / c5, c3 z^2 by a constant at that scale) l - 3 */
static int step_powers(void *ctx, size_t i)
{
    step_ctx *x = ctx;
    henn_lr_server *s = x->s;
    size_t G = s->lo.G, l = x->l, g = x->g0 + i;
    henn_ckks_ct Xl = {0}, p = {0}, z2 = {0}, *z = &x->z[i], *u = &x->u[i];
    int rc = 0;
    for (size_t c = 0; c < G && rc == 0; c++) {
        rc = henn_ckks_mod_switch(&Xl, &s->X[g * G + c], l);
        if (rc == 0)
            rc = henn_ckks_multiply(c == 0 ? z : &p, &Xl, &x->W[c]);
        if (rc == 0 && c > 0)
            rc = henn_ckks_add(z, z, &p);
    }
    if (rc == 0)
        rc = henn_ckks_relinearize(z, z, &s->rk);
    if (rc == 0)
        rc = henn_ckks_rescale(z, z);
    if (rc == 0)
        rc = block_sum(s, z); /* z_i in every block, level l - 1 */
    if (rc == 0)
        rc = henn_ckks_square(&z2, z);
    if (rc == 0)
        rc = henn_ckks_relinearize(&z2, &z2, &s->rk);
    if (rc == 0)
        rc = henn_ckks_rescale(&z2, &z2); /* l - 2 */
    if (rc == 0 && s->deg == 3) {
        rc = henn_ckks_add_const(u, &z2, s->c[1] / s->c[3]);
    } else if (rc == 0) {
        rc = henn_ckks_square(u, &z2);
        if (rc == 0)
            rc = henn_ckks_relinearize(u, u, &s->rk);
        if (rc == 0)
            rc = henn_ckks_rescale(u, u); /* z^4, l - 3 */
        if (rc == 0 && s->c[5] < 0)
            rc = henn_ckks_negate(u, u);
        if (rc == 0) {
            u->scale /= fabs(s->c[5]); /* read as c5 z^4 */
            rc = mul_const_to(&p, &z2, s->c[3], u->scale);
        }
        if (rc == 0)
            rc = henn_ckks_add(u, u, &p);
        if (rc == 0)
            rc = henn_ckks_add_const(u, u, s->c[1]);
    }
    henn_ckks_ct_clear(&Xl);
    henn_ckks_ct_clear(&p);
    henn_ckks_ct_clear(&z2);
    return rc;
}

/* Gradient terms of record ciphertext (g0 + i / G, c = i % G) at scale
 * S_T into T[i]: T = u (c3 z x) or u (z x), from X' = X c at l - 1 (c =
 * c3 for degree 3, 1 for degree 5), whose scale is chosen so that z X'
 * (degree 3) or its knob (degree 5) lands where T needs it. X' is cached
 * per record ciphertext. */
static int step_terms(void *ctx, size_t i)
{
    step_ctx *x = ctx;
    henn_lr_server *s = x->s;
    const henn_ckks_params *P = &s->params;
    size_t G = s->lo.G, gi = i / G, k = (x->g0 + gi) * G + i % G, l = x->l;
    double q[HENN_CKKS_MAX_PRIMES], ST = x->ST;
    for (size_t j = 0; j < P->L; j++)
        q[j] = (double)P->q[j];
    const henn_ckks_ct *z = &x->z[gi], *u = &x->u[gi];
    double S1 = z->scale, Su = u->scale;
    henn_ckks_ct Xl = {0}, zx = {0};
    int rc = 0;
    double SXp = s->deg == 3 ? ST * q[l - 2] / Su * q[l - 1] / S1 : q[l - 1];
    if (s->xp_level[k] != l - 1 || s->xp_scale[k] != SXp) {
        rc = henn_ckks_mod_switch(&Xl, &s->X[k], l);
        if (rc == 0)
            rc = mul_const_to(&s->Xp[k], &Xl, s->deg == 3 ? s->c[3] : 1.0, SXp);
        s->xp_level[k] = rc == 0 ? l - 1 : 0;
        s->xp_scale[k] = rc == 0 ? SXp : 0;
    }
    if (rc == 0)
        rc = mul_relin_rescale(s, &zx, z, &s->Xp[k]); /* (c3) z x, l - 2 */
    if (rc == 0 && s->deg == 5) /* to l - 3, at the scale T needs */
        rc = mul_const_to(&zx, &zx, 1.0, ST * q[l - 3] / Su);
    if (rc == 0)
        rc = henn_ckks_multiply(&x->T[i], u, &zx); /* size 3 */
    if (rc == 0)
        rc = henn_ckks_rescale(&x->T[i], &x->T[i]);
    if (rc == 0)
        x->T[i].scale = ST;
    henn_ckks_ct_clear(&Xl);
    henn_ckks_ct_clear(&zx);
    return rc;
}

/* Ciphertext c: T_c = sum over the batch's groups + the label term, the
 * sum inside each block, and W_c <- W_c r - (alpha/m) T_c. */
static int step_update(void *ctx, size_t c)
{
    step_ctx *x = ctx;
    henn_lr_server *s = x->s;
    size_t G = s->lo.G, l = x->l, t = l - s->D, b = (size_t)(s->next % s->nbatches);
    size_t groups = x->T == NULL ? 0 : s->gpb;
    henn_ckks_ct Kt = {0}, Wr = {0}, *T = &x->T[c];
    int rc = 0;
    for (size_t gi = 1; gi < groups && x->T[gi * G + c].data != NULL && rc == 0; gi++)
        rc = henn_ckks_add(T, T, &x->T[gi * G + c]);
    /* the label term (c0 - y) x of the batch */
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Kt, &s->K[b * G + c], l - 2);
    if (rc == 0)
        rc = mul_const_to(&Kt, &Kt, 1.0, x->ST);
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Kt, &Kt, t);
    if (rc == 0)
        rc = henn_ckks_add(T, T, &Kt);
    if (rc == 0)
        rc = henn_ckks_relinearize(T, T, &s->rk);
    if (rc == 0)
        rc = inner_sum(s, T); /* slot j s: sum_i e_i x_ij over the batch */
    /* W (1 - alpha lambda / m) on the features, W on the bias */
    if (rc == 0)
        rc = henn_ckks_multiply_plain(&Wr, &x->W[c], x->reg[c]);
    if (rc == 0)
        rc = henn_ckks_rescale(&Wr, &Wr);
    if (rc == 0)
        rc = henn_ckks_mod_switch(&Wr, &Wr, t);
    if (rc == 0) {
        /* T at scale S_T = f S_W read at scale S_W is f T: the step */
        double SW = x->W[c].scale;
        Wr.scale = T->scale = SW;
        rc = henn_ckks_sub(T, &Wr, T); /* T now holds W'_c */
    }
    henn_ckks_ct_clear(&Kt);
    henn_ckks_ct_clear(&Wr);
    return rc;
}

/* W (G ciphertexts at level l >= D) <- W after one step on batch
 * next % nbatches. */
static int do_step(henn_lr_server *s, henn_ckks_ct *W)
{
    const henn_ckks_params *P = &s->params;
    size_t G = s->lo.G, l = W[0].level, ngroups = s->nx / G;
    size_t b = (size_t)(s->next % s->nbatches), g0 = b * s->gpb;
    size_t g1 = g0 + s->gpb < ngroups ? g0 + s->gpb : ngroups, ng = g1 - g0;
    double f = s->alpha / batch_rows(s, g0, g1), SW = W[0].scale;
    step_ctx x = {.s = s, .W = W, .g0 = g0, .l = l, .ST = f * SW};
    x.z = calloc(ng, sizeof(henn_ckks_ct));
    x.u = calloc(ng, sizeof(henn_ckks_ct));
    x.T = calloc(s->gpb * G, sizeof(henn_ckks_ct));
    x.reg = calloc(G, sizeof(*x.reg));
    int rc = x.z && x.u && x.T && x.reg ? 0 : HENN_ENOMEM;
    /* plaintexts first: the cache is not touched by the workers */
    for (size_t c = 0; c < G && rc == 0; c++)
        rc = get_pt(s, &x.reg[c], PT_REG, b * G + c, l, (double)P->q[l]); /* keeps S_W */
    if (rc == 0)
        rc = par_for(s, ng, step_powers, &x);
    if (rc == 0)
        rc = par_for(s, ng * G, step_terms, &x);
    if (rc == 0)
        rc = par_for(s, G, step_update, &x);
    for (size_t c = 0; c < G && rc == 0; c++) {
        henn_ckks_ct_clear(&W[c]);
        W[c] = x.T[c]; /* moved */
        memset(&x.T[c], 0, sizeof(x.T[c]));
    }
    cts_free(x.z, ng);
    cts_free(x.u, ng);
    cts_free(x.T, s->gpb * G);
    free(x.reg);
    return rc;
}

/* ---- message handlers ---- */

/* Little-endian u32 at off of a CKKS object (its header is checked by
 * the deserialiser; this only peeks at sizes before anything is built). */
static uint32_t le32_at(const uint8_t *b, size_t n, size_t off)
{
    if (b == NULL || off + 4 > n)
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

/* G ciphertexts of one level (at least min_level) and one scale. */
static int read_group(henn_lr_server *s, henn_ckks_ct **out, henn__lr_rbuf *r, size_t min_level)
{
    size_t G = s->lo.G;
    henn_ckks_ct *v = calloc(G, sizeof(*v));
    int rc = v != NULL ? 0 : HENN_ENOMEM;
    for (size_t c = 0; c < G && rc == 0; c++) {
        rc = read_ct(s, &v[c], r);
        if (rc == 0 && (v[c].level < min_level ||
                        (c > 0 && (v[c].level != v[0].level || v[c].scale != v[0].scale))))
            rc = HENN_EPROTO;
    }
    if (rc != 0) {
        cts_free(v, G);
        v = NULL;
    }
    *out = v;
    return rc;
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
    size_t G = s->lo.G;
    uint32_t index = henn__lr_ru32(r), rows = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    /* index 0 starts a new data set; others append in order, and the
     * ciphertexts of a group state the same row count */
    if ((index != 0 && index != s->nx) || index >= s->lim.max_cts || rows == 0 ||
        rows > s->lo.s || (index % G != 0 && rows != s->rows[index / G]))
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
    s->rows[s->nx / G] = rows;
    s->nx++;
    return 0;
}

/* Group g: K_g,c = (c0 - y) x_c for each c, at level L - 3, into Kg[i G + c]. */
typedef struct label_ctx {
    henn_lr_server *s;
    const henn_ckks_pt *lab;
    henn_ckks_ct *Kg;
} label_ctx;

static int label_terms(void *ctx, size_t g)
{
    label_ctx *x = ctx;
    henn_lr_server *s = x->s;
    size_t G = s->lo.G, top = s->params.L - 1, cl = (s->lo.dim + 1) / s->lo.B;
    henn_ckks_ct Y = {0}, Xm = {0};
    int rc = henn_ckks_multiply_plain(&Y, &s->X[g * G + cl], x->lab);
    if (rc == 0)
        rc = henn_ckks_rescale(&Y, &Y);
    if (rc == 0)
        rc = block_sum(s, &Y); /* y_i in every block */
    if (rc == 0)
        rc = henn_ckks_negate(&Y, &Y);
    if (rc == 0)
        rc = henn_ckks_add_const(&Y, &Y, s->c[0]); /* c0 - y */
    for (size_t c = 0; c < G && rc == 0; c++) {
        rc = henn_ckks_mod_switch(&Xm, &s->X[g * G + c], top - 1);
        if (rc == 0)
            rc = mul_relin_rescale(s, &x->Kg[g * G + c], &Y, &Xm);
    }
    henn_ckks_ct_clear(&Y);
    henn_ckks_ct_clear(&Xm);
    return rc;
}

/* Per batch and ciphertext c: K_b,c = sum over its groups of (c0 - y) x_c. */
static int precompute_labels(henn_lr_server *s)
{
    const henn_ckks_params *P = &s->params;
    size_t G = s->lo.G, ngroups = s->nx / G, top = P->L - 1;
    label_ctx x = {.s = s};
    x.Kg = calloc(s->nx, sizeof(henn_ckks_ct));
    /* Y = X (label mask) at scale q_{top-1}, so that K = (c0 - Y) X keeps
     * the records' scale after its rescale */
    int rc = x.Kg != NULL ? 0 : HENN_ENOMEM;
    if (rc == 0) /* tag: the ciphertext that holds the label */
        rc = get_pt(s, &x.lab, PT_LABEL, (s->lo.dim + 1) / s->lo.B, top,
                    (double)P->q[top - 1] * (double)P->q[top] / s->xscale);
    if (rc == 0)
        rc = par_for(s, ngroups, label_terms, &x);
    for (size_t g = 0; g < ngroups && rc == 0; g++)
        for (size_t c = 0; c < G && rc == 0; c++) {
            henn_ckks_ct *K = &s->K[(g / s->gpb) * G + c];
            rc = K->data == NULL ? henn_ckks_ct_copy(K, &x.Kg[g * G + c])
                                 : henn_ckks_add(K, K, &x.Kg[g * G + c]);
        }
    cts_free(x.Kg, s->nx);
    return rc;
}

static int handle_train(henn_lr_server *s, henn__lr_rbuf *r)
{
    uint32_t kind = henn__lr_ru32(r);
    double alpha = henn__lr_rf64(r), lambda = henn__lr_rf64(r);
    uint32_t gpb = henn__lr_ru32(r), epochs = henn__lr_ru32(r);
    int rc = henn__lr_rdone(r);
    if (rc != 0)
        return rc;
    size_t G = s->lo.G, ngroups = s->keyed ? s->nx / G : 0;
    if (!s->keyed || s->nx == 0 || s->nx % G != 0)
        return HENN_EPROTO;
    double c[8];
    int deg = kind <= 8 ? henn_lr_sigmoid_coeffs(c, (henn_lr_sigmoid)kind) : -1;
    size_t D = henn__lr_depth(deg);
    if (D == 0 || !isfinite(alpha) || !(alpha > 0) || alpha > 1e6 || !isfinite(lambda) ||
        !(lambda >= 0) || lambda > 1e9 || epochs == 0 || gpb > ngroups)
        return HENN_EPROTO;
    if (s->params.L < D + 1 || s->params.L < 3)
        return HENN_EPARAM; /* the chain is too short for one step */
    size_t per = gpb == 0 ? ngroups : gpb, nb = (ngroups + per - 1) / per;
    if ((uint64_t)epochs > s->lim.max_steps / nb)
        return HENN_EPROTO;
    clear_training(s);
    s->deg = deg;
    memcpy(s->c, c, sizeof(c));
    s->alpha = alpha;
    s->lambda = lambda;
    s->gpb = per;
    s->nbatches = nb;
    s->D = D;
    s->total = (uint64_t)epochs * nb;
    s->next = 0;
    s->K = calloc(nb * G, sizeof(*s->K));
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
    size_t G = s->lo.G;
    uint32_t step = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    henn_ckks_ct *W = NULL;
    int rc = read_group(s, &W, r, s->D);
    if (rc == 0)
        rc = henn__lr_rdone(r);
    if (rc == 0 && (step != s->next || s->next >= s->total))
        rc = HENN_EPROTO;
    if (rc == 0)
        rc = do_step(s, W);
    if (rc == 0) {
        s->next++;
        s->st.steps++;
        cts_free(s->W, G);
        s->W = W; /* what the server holds */
        henn__lr_wbuf w;
        henn__lr_wstart(&w, HENN_LR_MSG_WEIGHTS);
        henn__lr_wu32(&w, step);
        henn__lr_wu32(&w, (uint32_t)G);
        for (size_t c = 0; c < G; c++)
            henn__lr_wct(&w, &W[c], NULL);
        return henn__lr_wfinish(&w, resp, resp_len);
    }
    cts_free(W, G);
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
        henn_ckks_ct *W = NULL;
        int rc = read_group(s, &W, r, 1);
        if (rc == 0)
            rc = henn__lr_rdone(r);
        if (rc != 0) {
            cts_free(W, s->lo.G);
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
    s->wplain = w;
    s->model = 2;
    return 0;
}

typedef struct score_ctx {
    henn_lr_server *s;
    henn_ckks_ct *cts; /* count x G in, the scores out in cts[i G] */
    const henn_ckks_pt **pw;
} score_ctx;

/* z = block_sum(sum_c X_c W_c) at level 0 for record group i, into
 * cts[i G]. */
static int score_one(void *ctx, size_t i)
{
    score_ctx *x = ctx;
    henn_lr_server *s = x->s;
    size_t G = s->lo.G;
    henn_ckks_ct *X = &x->cts[i * G], acc = {0}, p = {0}, Wl = {0};
    size_t l = X[0].level;
    int rc = 0;
    for (size_t c = 0; c < G && rc == 0; c++) {
        if (s->model == 1) {
            rc = henn_ckks_mod_switch(&Wl, &s->Wm[c], l);
            if (rc == 0)
                rc = henn_ckks_multiply(&p, &X[c], &Wl);
        } else {
            rc = henn_ckks_multiply_plain(&p, &X[c], x->pw[c]);
        }
        if (rc == 0)
            rc = c == 0 ? henn_ckks_ct_copy(&acc, &p) : henn_ckks_add(&acc, &acc, &p);
    }
    if (rc == 0 && s->model == 1)
        rc = henn_ckks_relinearize(&acc, &acc, &s->rk);
    if (rc == 0)
        rc = henn_ckks_rescale(&acc, &acc);
    if (rc == 0)
        rc = henn_ckks_mod_switch(&acc, &acc, 0);
    if (rc == 0)
        rc = block_sum(s, &acc);
    if (rc == 0) {
        henn_ckks_ct_clear(&X[0]);
        X[0] = acc; /* moved */
    } else {
        henn_ckks_ct_clear(&acc);
    }
    henn_ckks_ct_clear(&p);
    henn_ckks_ct_clear(&Wl);
    return rc;
}

static int handle_infer(henn_lr_server *s, henn__lr_rbuf *r, uint8_t **resp, size_t *resp_len)
{
    if (!s->keyed || s->model == 0)
        return HENN_EPROTO;
    size_t G = s->lo.G;
    uint32_t count = henn__lr_ru32(r);
    if (r->err != 0)
        return HENN_EFORMAT;
    /* count record groups of G ciphertexts, each a blob of at least 4 bytes */
    if (count == 0 || (size_t)count * G > s->lim.max_infer_cts ||
        (size_t)count * G > (r->len - r->pos) / 4)
        return HENN_EPROTO;
    score_ctx x = {.s = s};
    x.cts = calloc((size_t)count * G, sizeof(henn_ckks_ct));
    x.pw = calloc(G, sizeof(*x.pw));
    int rc = x.cts != NULL && x.pw != NULL ? 0 : HENN_ENOMEM;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        henn_ckks_ct *g = NULL;
        rc = read_group(s, &g, r, 1);
        if (rc == 0 && s->model == 1 && s->Wm[0].level < g[0].level)
            rc = HENN_EPROTO;
        if (rc == 0 && i > 0 && g[0].level != x.cts[0].level)
            rc = HENN_EPROTO;
        if (rc == 0)
            memcpy(&x.cts[(size_t)i * G], g, G * sizeof(*g));
        free(g);
    }
    if (rc == 0)
        rc = henn__lr_rdone(r);
    for (size_t c = 0; c < G && rc == 0 && s->model == 2; c++)
        rc = get_pt(s, &x.pw[c], PT_MODEL, c, x.cts[0].level, (double)s->params.q[x.cts[0].level]);
    if (rc == 0)
        rc = par_for(s, count, score_one, &x);
    if (rc == 0) {
        henn__lr_wbuf w;
        henn__lr_wstart(&w, HENN_LR_MSG_SCORES);
        henn__lr_wu32(&w, count);
        for (uint32_t i = 0; i < count; i++)
            henn__lr_wct(&w, &x.cts[(size_t)i * G], NULL);
        rc = henn__lr_wfinish(&w, resp, resp_len);
        if (rc == 0)
            s->st.records_scored += (uint64_t)count * s->lo.s;
    }
    if (x.cts != NULL)
        cts_free(x.cts, (size_t)count * G);
    free(x.pw);
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

static int view_cts(const henn_ckks_ct *v, size_t n, henn_lr_view_fn fn, void *user)
{
    int rc = 0;
    for (size_t i = 0; v != NULL && i < n && rc == 0; i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        if (v[i].data == NULL)
            continue;
        rc = henn_ckks_ct_serialize(&b, &len, &v[i], NULL);
        rc = view_obj(fn, user, HENN_LR_VIEW_CT, rc, b, len);
    }
    return rc;
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
    if (rc == 0)
        rc = view_cts(s->X, s->nx, fn, user);
    if (rc == 0)
        rc = view_cts(s->Xp, s->nx, fn, user);
    if (rc == 0)
        rc = view_cts(s->K, s->nbatches * s->lo.G, fn, user);
    if (rc == 0)
        rc = view_cts(s->W, s->lo.G, fn, user);
    if (rc == 0)
        rc = view_cts(s->Wm, s->lo.G, fn, user);
    if (rc == 0 && s->training) {
        /* the public training options, as the server stores them */
        double opt[4] = {s->alpha, s->lambda, (double)s->gpb, (double)s->total};
        fn(user, HENN_LR_VIEW_OPTIONS, (const uint8_t *)opt, sizeof(opt));
    }
    if (rc == 0 && s->model == 2)
        fn(user, HENN_LR_VIEW_OPTIONS, (const uint8_t *)s->wplain,
           (s->lo.dim + 1) * sizeof(double));
    return rc;
}
