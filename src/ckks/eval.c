/*
 * CKKS evaluation: add, subtract, negate, plaintext and constant operations,
 * multiply (tensor), relinearise, rescale, mod-switch, rotate, conjugate and
 * rotate-and-sum. Every polynomial stays in the NTT domain; levels and
 * scales are tracked exactly and checked.
 *
 * Aliasing: out may be an input. Element-wise operations whose result has
 * the input's size and level work in place; the others build the result in
 * a temporary and move it into out at the end.
 * Timing: depends only on public data (ciphertexts, keys, constants).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* Relative difference allowed between scales that must match. */
#define SCALE_TOL 0x1p-20

static int ct_ok(const henn_ckks_ct *a)
{
    return a != NULL && a->params != NULL && a->params->tables != NULL && a->data != NULL &&
           a->size >= 2 && a->size <= 3 && a->level < a->params->L;
}

static int pt_ok(const henn_ckks_pt *p)
{
    return p != NULL && p->params != NULL && p->params->tables != NULL && p->data != NULL &&
           p->level < p->params->L;
}

static int scale_eq(double a, double b)
{
    return fabs(a - b) <= SCALE_TOL * fmax(fabs(a), fabs(b));
}

/*
 * Output staging: dst is out itself when every input out aliases has the
 * result's size and level (element-wise work is then safe in place), else a
 * temporary that stage_end moves into out.
 */
typedef struct stage {
    henn_ckks_ct *out;
    henn_ckks_ct *dst;
    henn_ckks_ct tmp;
} stage;

static int stage_begin(stage *st, henn_ckks_ct *out, const henn_ckks_ct *a,
                       const henn_ckks_ct *b, const henn_ckks_params *params, size_t size,
                       size_t level, double scale)
{
    memset(&st->tmp, 0, sizeof(st->tmp));
    st->out = out;
    int in_place = (out != a || (a->size == size && a->level == level)) &&
                   (b == NULL || out != b || (b->size == size && b->level == level));
    st->dst = in_place ? out : &st->tmp;
    return henn__ckks_ct_reserve(st->dst, params, size, level, scale);
}

static int stage_end(stage *st, int rc)
{
    if (st->dst == &st->tmp) {
        if (rc == 0) {
            henn_ckks_ct_clear(st->out);
            *st->out = st->tmp;
        } else {
            henn_ckks_ct_clear(&st->tmp);
        }
    }
    return rc;
}

/* ---- additive operations ---- */

static int add_sub(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_ct *b, int sub)
{
    if (out == NULL || !ct_ok(a) || !ct_ok(b) || a->params != b->params ||
        a->level != b->level || !scale_eq(a->scale, b->scale))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size > b->size ? a->size : b->size;
    size_t asz = a->size, bsz = b->size;
    stage st;
    int rc = stage_begin(&st, out, a, b, params, size, l, a->scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t c = 0; c < size; c++)
        for (size_t i = 0; i <= l; i++) {
            uint64_t q = params->q[i];
            uint64_t *r = henn__ckks_ct_poly(st.dst, c, i);
            const uint64_t *x = c < asz ? henn__ckks_ct_poly(a, c, i) : NULL;
            const uint64_t *y = c < bsz ? henn__ckks_ct_poly(b, c, i) : NULL;
            for (size_t k = 0; k < N; k++) {
                uint64_t u = x != NULL ? x[k] : 0, v = y != NULL ? y[k] : 0;
                r[k] = sub ? henn__ckks_sub_mod(u, v, q) : henn__ckks_add_mod(u, v, q);
            }
        }
    return stage_end(&st, 0);
}

int henn_ckks_add(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_ct *b)
{
    return add_sub(out, a, b, 0);
}

int henn_ckks_sub(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_ct *b)
{
    return add_sub(out, a, b, 1);
}

int henn_ckks_negate(henn_ckks_ct *out, const henn_ckks_ct *a)
{
    if (out == NULL || !ct_ok(a))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, size, l, a->scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t c = 0; c < size; c++)
        for (size_t i = 0; i <= l; i++) {
            uint64_t q = params->q[i];
            uint64_t *r = henn__ckks_ct_poly(st.dst, c, i);
            const uint64_t *x = henn__ckks_ct_poly(a, c, i);
            for (size_t k = 0; k < N; k++)
                r[k] = henn__ckks_neg_mod(x[k], q);
        }
    return stage_end(&st, 0);
}

/* out = a with c0 += sign * (the per-prime constant cst[i] or pt limb). */
static int add_to_c0(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_pt *pt,
                     const uint64_t *cst, int sub)
{
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, size, l, a->scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t c = 0; c < size; c++)
        for (size_t i = 0; i <= l; i++) {
            uint64_t q = params->q[i];
            uint64_t *r = henn__ckks_ct_poly(st.dst, c, i);
            const uint64_t *x = henn__ckks_ct_poly(a, c, i);
            if (c != 0) {
                if (r != x)
                    memcpy(r, x, N * sizeof(uint64_t));
                continue;
            }
            if (pt != NULL) {
                const uint64_t *y = pt->data + i * N;
                for (size_t k = 0; k < N; k++)
                    r[k] = sub ? henn__ckks_sub_mod(x[k], y[k], q)
                               : henn__ckks_add_mod(x[k], y[k], q);
            } else {
                for (size_t k = 0; k < N; k++)
                    r[k] = henn__ckks_add_mod(x[k], cst[i], q);
            }
        }
    return stage_end(&st, 0);
}

static int add_sub_plain(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_pt *b,
                         int sub)
{
    if (out == NULL || !ct_ok(a) || !pt_ok(b) || a->params != b->params ||
        a->level != b->level || !scale_eq(a->scale, b->scale))
        return HENN_EINVAL;
    return add_to_c0(out, a, b, NULL, sub);
}

int henn_ckks_add_plain(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_pt *b)
{
    return add_sub_plain(out, a, b, 0);
}

int henn_ckks_sub_plain(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_pt *b)
{
    return add_sub_plain(out, a, b, 1);
}

/*
 * The integer v (a double holding an integer, |v| < 2^1023) modulo m,
 * exactly: v = f 2^e with f a 53-bit integer, v mod q = f (2^e mod q).
 */
static uint64_t double_int_mod(double v, const henn__ckks_mod *m)
{
    double av = fabs(v);
    uint64_t r;
    if (av < 0x1p62) {
        r = henn__ckks_reduce_64((uint64_t)av, m);
    } else {
        int e;
        double f = frexp(av, &e); /* av = f 2^e, f in [0.5, 1) */
        uint64_t fi = (uint64_t)ldexp(f, 53);
        uint64_t p2 = henn__ckks_pow_mod(2, (uint64_t)(e - 53), m);
        r = henn__ckks_mul_mod(henn__ckks_reduce_64(fi, m), p2, m);
    }
    return v < 0 ? henn__ckks_neg_mod(r, m->q) : r;
}

int henn_ckks_add_const(henn_ckks_ct *out, const henn_ckks_ct *a, double c)
{
    if (out == NULL || !ct_ok(a) || !isfinite(c))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    double v = round(c * a->scale);
    double log2q = 0;
    for (size_t i = 0; i <= a->level; i++)
        log2q += log2((double)params->q[i]);
    if (!isfinite(v) || (v != 0 && log2(fabs(v)) >= log2q - 1.0))
        return HENN_ERANGE;
    uint64_t cst[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i <= a->level; i++)
        cst[i] = double_int_mod(v, &params->tables->mod[i]);
    return add_to_c0(out, a, NULL, cst, 0);
}

int henn_ckks_sub_const(henn_ckks_ct *out, const henn_ckks_ct *a, double c)
{
    if (!isfinite(c))
        return HENN_EINVAL;
    return henn_ckks_add_const(out, a, -c);
}

/* ---- multiplicative operations ---- */

/* out = a * cst[i] (per prime) for every component; scale given. */
static int mul_scalar(henn_ckks_ct *out, const henn_ckks_ct *a, const uint64_t *cst,
                      double scale)
{
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, size, l, scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t c = 0; c < size; c++)
        for (size_t i = 0; i <= l; i++) {
            uint64_t q = params->q[i], w = cst[i], ws = henn__ckks_shoup(w, q);
            uint64_t *r = henn__ckks_ct_poly(st.dst, c, i);
            const uint64_t *x = henn__ckks_ct_poly(a, c, i);
            for (size_t k = 0; k < N; k++)
                r[k] = henn__ckks_mul_shoup(x[k], w, ws, q);
        }
    return stage_end(&st, 0);
}

int henn_ckks_multiply_const(henn_ckks_ct *out, const henn_ckks_ct *a, double c, double scale)
{
    if (out == NULL || !ct_ok(a) || !isfinite(c) || !isfinite(scale) || !(scale > 0))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    double v = round(c * scale);
    if (!isfinite(v) || !(fabs(v) < (double)(params->q[0] / 2)))
        return HENN_ERANGE;
    double out_scale = a->scale * scale;
    if (!isfinite(out_scale))
        return HENN_ERANGE;
    uint64_t cst[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i <= a->level; i++)
        cst[i] = double_int_mod(v, &params->tables->mod[i]);
    return mul_scalar(out, a, cst, out_scale);
}

int henn_ckks_multiply_int(henn_ckks_ct *out, const henn_ckks_ct *a, int64_t k)
{
    if (out == NULL || !ct_ok(a))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    uint64_t mag = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
    uint64_t cst[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i <= a->level; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        uint64_t r = henn__ckks_reduce_64(mag, m);
        cst[i] = k < 0 ? henn__ckks_neg_mod(r, m->q) : r;
    }
    return mul_scalar(out, a, cst, a->scale);
}

int henn_ckks_align_levels(henn_ckks_ct *a, henn_ckks_ct *b)
{
    if (a == NULL || b == NULL || !ct_ok(a) || !ct_ok(b) || a->params != b->params)
        return HENN_EINVAL;
    if (a->level > b->level)
        return henn_ckks_mod_switch(a, a, b->level);
    if (b->level > a->level)
        return henn_ckks_mod_switch(b, b, a->level);
    return 0;
}

int henn_ckks_match_scale(henn_ckks_ct *out, const henn_ckks_ct *a, double scale)
{
    if (out == NULL || !ct_ok(a) || a->level == 0 || !isfinite(scale) || !(scale > 0))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    double ql = (double)params->q[a->level];
    double k = round(scale / a->scale * ql);
    if (!(k >= 0x1p20) || !(k < (double)(params->q[0] / 2)))
        return HENN_ERANGE;
    uint64_t cst[HENN_CKKS_MAX_PRIMES];
    for (size_t i = 0; i <= a->level; i++)
        cst[i] = henn__ckks_reduce_64((uint64_t)k, &params->tables->mod[i]);
    int rc = mul_scalar(out, a, cst, a->scale * k);
    if (rc == 0)
        rc = henn_ckks_rescale(out, out);
    return rc;
}

int henn_ckks_multiply_plain(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_pt *pt)
{
    if (out == NULL || !ct_ok(a) || !pt_ok(pt) || a->params != pt->params ||
        a->level != pt->level)
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size;
    double scale = a->scale * pt->scale;
    if (!isfinite(scale))
        return HENN_ERANGE;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, size, l, scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t c = 0; c < size; c++)
        for (size_t i = 0; i <= l; i++) {
            const henn__ckks_mod *m = &params->tables->mod[i];
            uint64_t *r = henn__ckks_ct_poly(st.dst, c, i);
            const uint64_t *x = henn__ckks_ct_poly(a, c, i), *y = pt->data + i * N;
            for (size_t k = 0; k < N; k++)
                r[k] = henn__ckks_mul_mod_sq(x[k], y[k], m);
        }
    return stage_end(&st, 0);
}

int henn_ckks_multiply(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_ct *b)
{
    if (out == NULL || !ct_ok(a) || !ct_ok(b) || a->params != b->params ||
        a->level != b->level || a->size != 2 || b->size != 2)
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level;
    double scale = a->scale * b->scale;
    if (!isfinite(scale))
        return HENN_ERANGE;
    stage st;
    int rc = stage_begin(&st, out, a, b, params, 3, l, scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t i = 0; i <= l; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        const uint64_t *a0 = henn__ckks_ct_poly(a, 0, i), *a1 = henn__ckks_ct_poly(a, 1, i);
        const uint64_t *b0 = henn__ckks_ct_poly(b, 0, i), *b1 = henn__ckks_ct_poly(b, 1, i);
        uint64_t *r0 = henn__ckks_ct_poly(st.dst, 0, i), *r1 = henn__ckks_ct_poly(st.dst, 1, i);
        uint64_t *r2 = henn__ckks_ct_poly(st.dst, 2, i);
        for (size_t k = 0; k < N; k++) {
            uint64_t x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
            r0[k] = henn__ckks_mul_mod_sq(x0, y0, m);
            r1[k] = henn__ckks_reduce_sq((henn__u128)x0 * y1 + (henn__u128)x1 * y0, m);
            r2[k] = henn__ckks_mul_mod_sq(x1, y1, m);
        }
    }
    return stage_end(&st, 0);
}

int henn_ckks_square(henn_ckks_ct *out, const henn_ckks_ct *a)
{
    if (out == NULL || !ct_ok(a) || a->size != 2)
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level;
    double scale = a->scale * a->scale;
    if (!isfinite(scale))
        return HENN_ERANGE;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, 3, l, scale);
    if (rc != 0)
        return stage_end(&st, rc);
    for (size_t i = 0; i <= l; i++) {
        const henn__ckks_mod *m = &params->tables->mod[i];
        const uint64_t *a0 = henn__ckks_ct_poly(a, 0, i), *a1 = henn__ckks_ct_poly(a, 1, i);
        uint64_t *r0 = henn__ckks_ct_poly(st.dst, 0, i), *r1 = henn__ckks_ct_poly(st.dst, 1, i);
        uint64_t *r2 = henn__ckks_ct_poly(st.dst, 2, i);
        for (size_t k = 0; k < N; k++) {
            uint64_t x0 = a0[k], x1 = a1[k];
            r0[k] = henn__ckks_mul_mod_sq(x0, x0, m);
            r1[k] = henn__ckks_mul_mod_sq(2 * x0, x1, m);
            r2[k] = henn__ckks_mul_mod_sq(x1, x1, m);
        }
    }
    return stage_end(&st, 0);
}

static int ksk_ok(const henn_ckks_ksk *k, const henn_ckks_params *params)
{
    return k->params == params && k->data != NULL;
}

int henn_ckks_relinearize(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_relin_key *rk)
{
    if (out == NULL || !ct_ok(a) || a->size != 3 || rk == NULL || !ksk_ok(&rk->ksk, a->params))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level;
    if (out == a) {
        /* c0 and c1 keep their places when c2 is dropped */
        int rc = henn__ckks_keyswitch(henn__ckks_ct_poly(out, 0, 0),
                                      henn__ckks_ct_poly(out, 1, 0),
                                      henn__ckks_ct_poly(out, 2, 0), l, &rk->ksk);
        if (rc == 0)
            out->size = 2;
        return rc;
    }
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, 2, l, a->scale);
    if (rc != 0)
        return stage_end(&st, rc);
    memcpy(st.dst->data, a->data, 2 * (l + 1) * N * sizeof(uint64_t));
    rc = henn__ckks_keyswitch(henn__ckks_ct_poly(st.dst, 0, 0), henn__ckks_ct_poly(st.dst, 1, 0),
                              henn__ckks_ct_poly(a, 2, 0), l, &rk->ksk);
    return stage_end(&st, rc);
}

/*
 * Rescale in two passes of independent items (threads as key switching):
 * INTT the last limb of every component (x_c), then for every (component,
 * prime i < l): r = (a_i - [x_c]_{q_i}) q_l^-1 mod q_i.
 */
typedef struct rs_job {
    const henn_ckks_ct *a;
    henn_ckks_ct *dst;
    uint64_t *x, *scratch;
} rs_job;

static int rs_item(void *ctx, size_t phase, size_t u, size_t slot)
{
    rs_job *jb = ctx;
    const henn_ckks_params *params = jb->a->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, l = jb->a->level;
    if (phase == 0) {
        memcpy(jb->x + u * N, henn__ckks_ct_poly(jb->a, u, l), N * sizeof(uint64_t));
        henn__ckks_ntt_inverse(jb->x + u * N, &tb->ntt[l]);
        return 0;
    }
    uint64_t ql = params->q[l], *w = jb->scratch + slot * N;
    size_t c = u / l, i = u % l;
    const uint64_t *x = jb->x + c * N;
    const henn__ckks_mod *m = &tb->mod[i];
    uint64_t q = m->q, ql_mod = henn__ckks_reduce_64(ql, m), half = ql >> 1;
    uint64_t inv = henn__ckks_inv_mod(ql_mod, m), inv_s = henn__ckks_shoup(inv, q);
    for (size_t k = 0; k < N; k++) {
        uint64_t neg = (uint64_t)0 - (uint64_t)(x[k] > half);
        w[k] = henn__ckks_sub_mod(henn__ckks_reduce_64(x[k], m), ql_mod & neg, q);
    }
    henn__ckks_ntt_forward_lazy(w, &tb->ntt[i]); /* [0, 2q) */
    const uint64_t *y = henn__ckks_ct_poly(jb->a, c, i);
    uint64_t *r = henn__ckks_ct_poly(jb->dst, c, i);
    for (size_t k = 0; k < N; k++)
        r[k] = henn__ckks_mul_shoup(y[k] + 2 * q - w[k], inv, inv_s, q);
    return 0;
}

int henn_ckks_rescale(henn_ckks_ct *out, const henn_ckks_ct *a)
{
    if (out == NULL || !ct_ok(a) || a->level == 0)
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, size = a->size;
    double scale = a->scale / (double)params->q[l];
    unsigned threads = henn__ckks_threads(params, size * l, size * l, HENN__CKKS_PAR_MIN_RESCALE);
    rs_job jb;
    memset(&jb, 0, sizeof(jb));
    jb.a = a;
    uint64_t *buf = malloc((size + threads) * N * sizeof(uint64_t));
    if (buf == NULL)
        return HENN_ENOMEM;
    jb.x = buf;
    jb.scratch = buf + size * N;
    stage st;
    int rc = stage_begin(&st, out, a, NULL, params, size, l - 1, scale);
    if (rc == 0) {
        const size_t counts[2] = {size, size * l};
        jb.dst = st.dst; /* never a: the level changes (stage_begin) */
        rc = henn__ckks_phases(threads, counts, 2, rs_item, &jb);
    }
    free(buf);
    return stage_end(&st, rc);
}

int henn_ckks_mod_switch(henn_ckks_ct *out, const henn_ckks_ct *a, size_t level)
{
    if (out == NULL || !ct_ok(a) || level > a->level)
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    size_t N = params->N, size = a->size;
    if (out == a) {
        /* compact in place: every limb moves to a lower address */
        for (size_t c = 0; c < size; c++)
            memmove(out->data + c * (level + 1) * N, henn__ckks_ct_poly(a, c, 0),
                    (level + 1) * N * sizeof(uint64_t));
        out->level = level;
        return 0;
    }
    int rc = henn__ckks_ct_reserve(out, params, size, level, a->scale);
    if (rc != 0)
        return rc;
    for (size_t c = 0; c < size; c++)
        memcpy(henn__ckks_ct_poly(out, c, 0), henn__ckks_ct_poly(a, c, 0),
               (level + 1) * N * sizeof(uint64_t));
    return 0;
}

int henn_ckks_pt_mod_switch(henn_ckks_pt *out, const henn_ckks_pt *a, size_t level)
{
    if (out == NULL || !pt_ok(a) || level > a->level)
        return HENN_EINVAL;
    if (out == a) {
        out->level = level; /* limbs 0..level stay where they are */
        return 0;
    }
    int rc = henn__ckks_pt_reserve(out, a->params, level, a->scale);
    if (rc != 0)
        return rc;
    memcpy(out->data, a->data, (level + 1) * a->params->N * sizeof(uint64_t));
    return 0;
}

/* ---- rotations ---- */

/* dst (not aliasing a) = the automorphism g of a, key-switched with ksk. */
static int apply_galois(henn_ckks_ct *dst, const henn_ckks_ct *a, uint32_t g,
                        const henn_ckks_ksk *ksk)
{
    const henn_ckks_params *params = a->params;
    size_t N = params->N, l = a->level, rows = l + 1;
    int rc = henn__ckks_ct_reserve(dst, params, 2, l, a->scale);
    if (rc != 0)
        return rc;
    uint32_t *perm = malloc(N * sizeof(uint32_t));
    uint64_t *d = malloc(rows * N * sizeof(uint64_t));
    if (perm == NULL || d == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    henn__ckks_galois_perm(perm, N, params->logN, g);
    henn__ckks_apply_perm(henn__ckks_ct_poly(dst, 0, 0), henn__ckks_ct_poly(a, 0, 0), perm, N,
                          rows);
    henn__ckks_apply_perm(d, henn__ckks_ct_poly(a, 1, 0), perm, N, rows);
    memset(henn__ckks_ct_poly(dst, 1, 0), 0, rows * N * sizeof(uint64_t));
    rc = henn__ckks_keyswitch(henn__ckks_ct_poly(dst, 0, 0), henn__ckks_ct_poly(dst, 1, 0), d, l,
                              ksk);
cleanup:
    free(perm);
    free(d);
    return rc;
}

static const henn_ckks_ksk *find_key(const henn_ckks_galois_keys *gk, uint32_t g)
{
    for (size_t t = 0; t < gk->count; t++)
        if (gk->elts[t] == g && ksk_ok(&gk->keys[t], gk->params))
            return &gk->keys[t];
    return NULL;
}

static int gk_ok(const henn_ckks_galois_keys *gk, const henn_ckks_params *params)
{
    return gk != NULL && gk->params == params && (gk->count == 0 || (gk->elts != NULL &&
                                                                     gk->keys != NULL));
}

/*
 * Shortest sequence of available rotation keys whose steps add up to k
 * modulo N/2 (breadth-first search over Z_{N/2}); key indices into path
 * (at most N/2 of them), their number into *len. Returns 0, HENN_EKEY when
 * k is not reachable, HENN_ENOMEM.
 */
static int rotation_path(size_t *path, size_t *len, const henn_ckks_galois_keys *gk, size_t k)
{
    size_t N = gk->params->N, half = N / 2, two_n = 2 * N;
    int32_t *dlog = malloc(two_n * sizeof(int32_t));
    int32_t *prev = malloc(half * sizeof(int32_t)); /* key index that reached the node */
    size_t *queue = malloc(half * sizeof(size_t));
    size_t *gstep = malloc((gk->count + 1) * sizeof(size_t));
    int rc = 0;
    if (dlog == NULL || prev == NULL || queue == NULL || gstep == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (size_t e = 0; e < two_n; e++)
        dlog[e] = -1;
    for (size_t t = 0, p = 1; t < half; t++, p = (p * 3) % two_n)
        dlog[p] = (int32_t)t;
    for (size_t n = 0; n < half; n++)
        prev[n] = -1;
    for (size_t t = 0; t < gk->count; t++) {
        uint32_t g = gk->elts[t];
        gstep[t] = (g < two_n && dlog[g] > 0 && ksk_ok(&gk->keys[t], gk->params))
                       ? (size_t)dlog[g]
                       : 0;
    }
    size_t head = 0, tail = 0;
    queue[tail++] = 0;
    prev[0] = (int32_t)gk->count; /* the start, marked as visited */
    while (head < tail && prev[k] < 0) {
        size_t n = queue[head++];
        for (size_t t = 0; t < gk->count; t++) {
            if (gstep[t] == 0)
                continue;
            size_t m = (n + gstep[t]) % half;
            if (prev[m] < 0) {
                prev[m] = (int32_t)t;
                queue[tail++] = m;
            }
        }
    }
    if (prev[k] < 0) {
        rc = HENN_EKEY;
        goto cleanup;
    }
    size_t n = 0;
    for (size_t m = k; m != 0; m = (m + half - gstep[prev[m]]) % half)
        path[n++] = (size_t)prev[m];
    *len = n;
cleanup:
    free(dlog);
    free(prev);
    free(queue);
    free(gstep);
    return rc;
}

int henn_ckks_rotate(henn_ckks_ct *out, const henn_ckks_ct *a, int steps,
                     const henn_ckks_galois_keys *gk)
{
    if (out == NULL || !ct_ok(a) || a->size != 2 || !gk_ok(gk, a->params))
        return HENN_EINVAL;
    const henn_ckks_params *params = a->params;
    long half = (long)(params->N / 2);
    if (steps <= -half || steps >= half)
        return HENN_EINVAL;
    size_t k = (size_t)(((long)steps % half + half) % half);
    if (k == 0)
        return henn_ckks_ct_copy(out, a);
    uint32_t g = henn__ckks_rotation_elt(params, steps);
    const henn_ckks_ksk *ksk = find_key(gk, g);
    henn_ckks_ct t0 = {0}, t1 = {0};
    size_t *path = NULL, len = 0;
    int rc;
    if (ksk != NULL && out != a) {
        rc = apply_galois(out, a, g, ksk); /* straight into out's buffer */
        if (rc != 0)
            henn_ckks_ct_clear(out);
        return rc;
    } else if (ksk != NULL) {
        rc = apply_galois(&t0, a, g, ksk);
    } else {
        path = malloc((size_t)half * sizeof(size_t));
        if (path == NULL)
            return HENN_ENOMEM;
        rc = rotation_path(path, &len, gk, k);
        if (rc == 0 && len > HENN_CKKS_MAX_ROTATION_SWITCHES(params->logN))
            rc = HENN_EKEY; /* a chain that long costs more than a key */
        const henn_ckks_ct *cur = a;
        for (size_t u = 0; u < len && rc == 0; u++) {
            henn_ckks_ct *next = cur == &t0 ? &t1 : &t0;
            rc = apply_galois(next, cur, gk->elts[path[u]], &gk->keys[path[u]]);
            cur = next;
        }
        if (rc == 0 && cur == &t1) {
            henn_ckks_ct swap = t0;
            t0 = t1;
            t1 = swap;
        }
    }
    free(path);
    henn_ckks_ct_clear(&t1);
    if (rc != 0) {
        henn_ckks_ct_clear(&t0);
        return rc;
    }
    henn_ckks_ct_clear(out);
    *out = t0;
    return 0;
}

int henn_ckks_conjugate(henn_ckks_ct *out, const henn_ckks_ct *a, const henn_ckks_galois_keys *gk)
{
    if (out == NULL || !ct_ok(a) || a->size != 2 || !gk_ok(gk, a->params))
        return HENN_EINVAL;
    uint32_t g = (uint32_t)(2 * a->params->N - 1);
    const henn_ckks_ksk *ksk = find_key(gk, g);
    if (ksk == NULL)
        return HENN_EKEY;
    if (out != a) {
        int rc = apply_galois(out, a, g, ksk);
        if (rc != 0)
            henn_ckks_ct_clear(out);
        return rc;
    }
    henn_ckks_ct t = {0};
    int rc = apply_galois(&t, a, g, ksk);
    if (rc != 0) {
        henn_ckks_ct_clear(&t);
        return rc;
    }
    henn_ckks_ct_clear(out);
    *out = t;
    return 0;
}

int henn_ckks_rotate_sum(henn_ckks_ct *out, const henn_ckks_ct *a, size_t width,
                         const henn_ckks_galois_keys *gk)
{
    if (out == NULL || !ct_ok(a) || a->size != 2 || !gk_ok(gk, a->params) || width == 0 ||
        width > a->params->N / 2 || (width & (width - 1)) != 0)
        return HENN_EINVAL;
    henn_ckks_ct acc = {0}, rot = {0};
    int rc = henn_ckks_ct_copy(&acc, a);
    for (size_t s = 1; s < width && rc == 0; s <<= 1) {
        rc = henn_ckks_rotate(&rot, &acc, (int)s, gk);
        if (rc == 0)
            rc = henn_ckks_add(&acc, &acc, &rot);
    }
    henn_ckks_ct_clear(&rot);
    if (rc != 0) {
        henn_ckks_ct_clear(&acc);
        return rc;
    }
    henn_ckks_ct_clear(out);
    *out = acc;
    return 0;
}
