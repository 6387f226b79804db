/*
 * msm.c: multi-scalar multiplication sum k_i P_i for small signed public
 * scalars (FEIP decryption: the k_i are the key vector y).
 *
 * Pippenger's bucket method with signed c-bit digits in [-2^(c-1), 2^(c-1)):
 * per window every term costs one addition into bucket |d| (a subtraction
 * when d < 0), the 2^(c-1) buckets are summed with a running sum (2 additions
 * per bucket), and windows are joined by c doublings. The window c minimises
 * w (n + 2^c) with w = ceil((b + 1) / c) windows for b-bit scalars, so
 * c is about 8 for n = 784 and 16-bit y, and 1-3 for tiny n (Straus-like).
 * Variable time in the k_i (public) only.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"
#include "fe/gf25519.h"

void henn__fe_msm_naive(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                        size_t n)
{
    decaf_255_point_t t;
    decaf_255_scalar_t s;
    decaf_255_point_copy(out, decaf_255_point_identity);
    for (size_t i = 0; i < n; i++) {
        henn__fe_scalar_from_i64(s, k[i]);
        decaf_255_point_scalarmul(t, FE_CPT(&p[i]), s);
        decaf_255_point_add(out, out, t);
    }
}

static unsigned bits_of(uint64_t u)
{
    unsigned b = 0;
    while (u != 0) {
        b++;
        u >>= 1;
    }
    return b;
}

/* The window c and window count w for these scalars; 0 if all are zero. */
static int window(unsigned *c_out, unsigned *w_out, const int64_t *k, size_t n)
{
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = k[i] < 0 ? (uint64_t)0 - (uint64_t)k[i] : (uint64_t)k[i];
        if (a > mx)
            mx = a;
    }
    unsigned b = bits_of(mx);
    if (b == 0)
        return 0;
    unsigned c = 1;
    double best = 0;
    for (unsigned cc = 1; cc <= 12; cc++) {
        unsigned w = (b + 1 + cc - 1) / cc;
        double cost = (double)w * ((double)n + (double)(1u << cc) + cc);
        if (cc == 1 || cost < best) {
            best = cost;
            c = cc;
        }
    }
    *c_out = c;
    *w_out = (b + 1 + c - 1) / c;
    return 1;
}

/* Signed c-bit digits, w per scalar: dig[i w + j]. */
static void recode(int16_t *dig, const int64_t *k, size_t n, unsigned c, unsigned w)
{
    const int64_t half = (int64_t)1 << (c - 1), full = (int64_t)1 << c;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = k[i] < 0 ? (uint64_t)0 - (uint64_t)k[i] : (uint64_t)k[i];
        int64_t carry = 0;
        for (unsigned j = 0; j < w; j++) {
            int64_t d = (int64_t)((u >> (c * j)) & (uint64_t)(full - 1)) + carry;
            carry = 0;
            if (d >= half && j + 1 < w) { /* the top digit may be half */
                d -= full;
                carry = 1;
            }
            dig[i * w + j] = (int16_t)(k[i] < 0 ? -d : d);
        }
    }
}

void henn__fe_msm(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                  size_t n)
{
    decaf_255_point_copy(out, decaf_255_point_identity);
    unsigned c, w;
    if (!window(&c, &w, k, n))
        return;
    size_t nb = (size_t)1 << (c - 1);
    int16_t *dig = malloc(n * w * sizeof *dig);
    henn_fe_elem *bk = henn__fe_elems_alloc(nb);
    unsigned char *used = calloc(nb, 1);
    if (dig == NULL || bk == NULL || used == NULL) {
        /* out of memory: fall back to the slow path, still correct */
        free(dig);
        free(bk);
        free(used);
        henn__fe_msm_naive(out, p, k, n);
        return;
    }
    recode(dig, k, n, c, w);
    decaf_255_point_t run, sum;
    int acc_used = 0;
    for (unsigned j = w; j-- > 0;) {
        if (acc_used)
            for (unsigned d = 0; d < c; d++)
                decaf_255_point_double(out, out);
        memset(used, 0, nb);
        for (size_t i = 0; i < n; i++) {
            int d = dig[i * w + j];
            if (d == 0)
                continue;
            size_t bi = (size_t)(d > 0 ? d : -d) - 1;
            struct decaf_255_point_s *bp = FE_PT(&bk[bi]);
            if (!used[bi]) {
                if (d > 0)
                    decaf_255_point_copy(bp, FE_CPT(&p[i]));
                else
                    decaf_255_point_negate(bp, FE_CPT(&p[i]));
                used[bi] = 1;
            } else if (d > 0) {
                decaf_255_point_add(bp, bp, FE_CPT(&p[i]));
            } else {
                decaf_255_point_sub(bp, bp, FE_CPT(&p[i]));
            }
        }
        int run_used = 0, sum_used = 0;
        for (size_t bi = nb; bi-- > 0;) {
            if (used[bi]) {
                if (run_used)
                    decaf_255_point_add(run, run, FE_CPT(&bk[bi]));
                else
                    decaf_255_point_copy(run, FE_CPT(&bk[bi]));
                run_used = 1;
            }
            if (run_used) {
                if (sum_used)
                    decaf_255_point_add(sum, sum, run);
                else
                    decaf_255_point_copy(sum, run);
                sum_used = 1;
            }
        }
        if (sum_used) {
            if (acc_used)
                decaf_255_point_add(out, out, sum);
            else
                decaf_255_point_copy(out, sum);
            acc_used = 1;
        }
    }
    free(dig);
    free(bk);
    free(used);
}

/*
 * The fast path: the same Pippenger, with the group law written out on
 * libdecaf's limbs (gf25519.h). libdecaf keeps ristretto255 elements as
 * extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, XY = ZT, on the curve
 * -x^2 + y^2 = 1 + d x^2 y^2 with d = 121665 (its internal model; checked
 * at run time by henn__fe_layout_ok). It runs when every term is affine
 * (Z = 1: libdecaf's decoder leaves them so, which is how a server receives
 * ciphertexts); other inputs go to henn__fe_msm, since a batched
 * normalisation (about 5 multiplications per term) costs more than the
 * mixed additions save. Terms are stored as (y + x, y - x, 2 d x y), so
 * adding one to a bucket costs 7
 * multiplications (Hisil, Wong, Carter, Dawson, Asiacrypt 2008, section
 * 3.1, "mixed addition"); each term is stored with its negative (the first
 * two swapped, the third negated) so a signed digit picks one by index.
 * The first term of a bucket is copied in (no multiplication). Buckets are
 * summed with the full addition (9 multiplications). Additions to two
 * different buckets, and the two additions of each step of the bucket
 * sum, are written side by side: independent chains of multiplications
 * that the processor overlaps (about 8% off the MSM at n = 784).
 */
#define CURVE_D 121665u

typedef struct {
    fe25519 x, y, z, t;
} ext_pt;

typedef struct {
    fe25519 ypx, ymx, t2d;
} niels_pt;

/* r = p + q (q affine, in niels form). */
static void add_niels(ext_pt *r, const ext_pt *p, const niels_pt *q)
{
    fe25519 a, b, c, d, e, f, g, h;
    fe_sub(&e, &p->y, &p->x);
    fe_add(&f, &p->y, &p->x);
    fe_mul(&a, &e, &q->ymx);
    fe_mul(&b, &f, &q->ypx);
    fe_mul(&c, &p->t, &q->t2d);
    fe_add(&d, &p->z, &p->z);
    fe_sub(&e, &b, &a);
    fe_add(&h, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/* r = p + q, both extended (add-2008-hwcd-3, k = 2d). */
static void add_ext(ext_pt *r, const ext_pt *p, const ext_pt *q)
{
    fe25519 a, b, c, d, e, f, g, h, u, w;
    fe_sub(&u, &p->y, &p->x);
    fe_sub(&w, &q->y, &q->x);
    fe_mul(&a, &u, &w);
    fe_add(&u, &p->y, &p->x);
    fe_add(&w, &q->y, &q->x);
    fe_mul(&b, &u, &w);
    fe_mul(&u, &p->t, &q->t);
    fe_mul_small(&c, &u, 2 * CURVE_D);
    fe_mul(&u, &p->z, &q->z);
    fe_add(&d, &u, &u);
    fe_sub(&e, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_add(&h, &b, &a);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/*
 * r1 += q1 and r2 += q2 (niels, sign already applied) on two different
 * buckets, written side by side so that the two independent chains of
 * multiplications overlap in the processor.
 */
static void add_niels_x2(ext_pt *r1, const niels_pt *q1, ext_pt *r2, const niels_pt *q2)
{
    fe25519 a1, b1, c1, d1, e1, f1, g1, h1, a2, b2, c2, d2, e2, f2, g2, h2;
    fe_sub(&e1, &r1->y, &r1->x);
    fe_sub(&e2, &r2->y, &r2->x);
    fe_add(&f1, &r1->y, &r1->x);
    fe_add(&f2, &r2->y, &r2->x);
    fe_mul(&a1, &e1, &q1->ymx);
    fe_mul(&a2, &e2, &q2->ymx);
    fe_mul(&b1, &f1, &q1->ypx);
    fe_mul(&b2, &f2, &q2->ypx);
    fe_mul(&c1, &r1->t, &q1->t2d);
    fe_mul(&c2, &r2->t, &q2->t2d);
    fe_add(&d1, &r1->z, &r1->z);
    fe_add(&d2, &r2->z, &r2->z);
    fe_sub(&e1, &b1, &a1);
    fe_sub(&e2, &b2, &a2);
    fe_add(&h1, &b1, &a1);
    fe_add(&h2, &b2, &a2);
    fe_sub(&f1, &d1, &c1);
    fe_sub(&f2, &d2, &c2);
    fe_add(&g1, &d1, &c1);
    fe_add(&g2, &d2, &c2);
    fe_mul(&r1->x, &e1, &f1);
    fe_mul(&r2->x, &e2, &f2);
    fe_mul(&r1->y, &g1, &h1);
    fe_mul(&r2->y, &g2, &h2);
    fe_mul(&r1->t, &e1, &h1);
    fe_mul(&r2->t, &e2, &h2);
    fe_mul(&r1->z, &f1, &g1);
    fe_mul(&r2->z, &f2, &g2);
}

/* r1 = p1 + q1 and r2 = p2 + q2, all extended, side by side (as add_ext). */
static void add_ext_x2(ext_pt *r1, const ext_pt *p1, const ext_pt *q1, ext_pt *r2,
                       const ext_pt *p2, const ext_pt *q2)
{
    fe25519 a1, b1, c1, d1, e1, f1, g1, h1, u1, w1, a2, b2, c2, d2, e2, f2, g2, h2, u2, w2;
    fe_sub(&u1, &p1->y, &p1->x);
    fe_sub(&u2, &p2->y, &p2->x);
    fe_sub(&w1, &q1->y, &q1->x);
    fe_sub(&w2, &q2->y, &q2->x);
    fe_mul(&a1, &u1, &w1);
    fe_mul(&a2, &u2, &w2);
    fe_add(&u1, &p1->y, &p1->x);
    fe_add(&u2, &p2->y, &p2->x);
    fe_add(&w1, &q1->y, &q1->x);
    fe_add(&w2, &q2->y, &q2->x);
    fe_mul(&b1, &u1, &w1);
    fe_mul(&b2, &u2, &w2);
    fe_mul(&u1, &p1->t, &q1->t);
    fe_mul(&u2, &p2->t, &q2->t);
    fe_mul_small(&c1, &u1, 2 * CURVE_D);
    fe_mul_small(&c2, &u2, 2 * CURVE_D);
    fe_mul(&u1, &p1->z, &q1->z);
    fe_mul(&u2, &p2->z, &q2->z);
    fe_add(&d1, &u1, &u1);
    fe_add(&d2, &u2, &u2);
    fe_sub(&e1, &b1, &a1);
    fe_sub(&e2, &b2, &a2);
    fe_sub(&f1, &d1, &c1);
    fe_sub(&f2, &d2, &c2);
    fe_add(&g1, &d1, &c1);
    fe_add(&g2, &d2, &c2);
    fe_add(&h1, &b1, &a1);
    fe_add(&h2, &b2, &a2);
    fe_mul(&r1->x, &e1, &f1);
    fe_mul(&r2->x, &e2, &f2);
    fe_mul(&r1->y, &g1, &h1);
    fe_mul(&r2->y, &g2, &h2);
    fe_mul(&r1->t, &e1, &h1);
    fe_mul(&r2->t, &e2, &h2);
    fe_mul(&r1->z, &f1, &g1);
    fe_mul(&r2->z, &f2, &g2);
}

/* r = 2 p (dbl-2008-hwcd, a = -1). */
static void dbl_ext(ext_pt *r, const ext_pt *p)
{
    fe25519 a, b, c, e, f, g, h, u;
    fe_mul(&a, &p->x, &p->x);
    fe_mul(&b, &p->y, &p->y);
    fe_mul(&u, &p->z, &p->z);
    fe_add(&c, &u, &u);
    fe_add(&u, &p->x, &p->y);
    fe_mul(&e, &u, &u);
    fe_sub(&e, &e, &a);
    fe_carry(&e);
    fe_sub(&e, &e, &b); /* E = (X + Y)^2 - A - B */
    fe_sub(&g, &b, &a); /* G = -A + B (a = -1: D = -A) */
    fe_sub(&f, &g, &c); /* F = G - C */
    fe_add(&h, &a, &b);
    fe_carry(&h);
    fe_sub(&h, &(fe25519){{0, 0, 0, 0, 0}}, &h); /* H = D - B = -A - B */
    fe_carry(&f);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/*
 * r = the affine point p (Z = 1, T = xy), negated when neg: the first term
 * of a bucket costs no multiplication (adding it to the identity cost 7).
 */
static void ext_from_affine(ext_pt *r, const struct decaf_255_point_s *p, int neg)
{
    static const fe25519 zero = {{0, 0, 0, 0, 0}};
    fe_load(&r->x, p->x);
    fe_load(&r->y, p->y);
    fe_load(&r->t, p->t);
    r->z = (fe25519){{1, 0, 0, 0, 0}};
    if (neg) {
        fe_sub(&r->x, &zero, &r->x);
        fe_sub(&r->t, &zero, &r->t);
        fe_carry(&r->x);
        fe_carry(&r->t);
    }
}

/* 1 if every point has Z = 1 exactly (as libdecaf's decoder leaves them). */
static int all_affine(const henn_fe_elem *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const gf_25519_s *z = FE_CPT(&p[i])->z;
        if (z->limb[0] != 1 || z->limb[1] != 0 || z->limb[2] != 0 || z->limb[3] != 0 ||
            z->limb[4] != 0)
            return 0;
    }
    return 1;
}

/*
 * The niels forms of n points with Z = 1 (T = xy) and of their negatives:
 * q[2i] = P_i, q[2i + 1] = -P_i = (y - x, y + x, -2dxy), so a signed digit
 * selects its term by index instead of by branch.
 */
static void to_niels_affine(niels_pt *q, const henn_fe_elem *p, size_t n)
{
    static const fe25519 zero = {{0, 0, 0, 0, 0}};
    fe25519 x, y, t;
    for (size_t i = 0; i < n; i++) {
        niels_pt *a = &q[2 * i], *b = &q[2 * i + 1];
        fe_load(&x, FE_CPT(&p[i])->x);
        fe_load(&y, FE_CPT(&p[i])->y);
        fe_load(&t, FE_CPT(&p[i])->t);
        fe_add(&a->ypx, &y, &x);
        fe_sub(&a->ymx, &y, &x);
        fe_carry(&a->ypx);
        fe_carry(&a->ymx);
        fe_mul_small(&a->t2d, &t, 2 * CURVE_D);
        b->ypx = a->ymx;
        b->ymx = a->ypx;
        fe_sub(&b->t2d, &zero, &a->t2d);
        fe_carry(&b->t2d);
    }
}

static void ext_store(struct decaf_255_point_s *out, const ext_pt *r)
{
    fe_store(out->x, &r->x);
    fe_store(out->y, &r->y);
    fe_store(out->z, &r->z);
    fe_store(out->t, &r->t);
}

void henn__fe_msm_fast(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                       size_t n)
{
    if (!all_affine(p, n)) {
        /* making them affine costs more than the mixed additions save */
        henn__fe_msm(out, p, k, n);
        return;
    }
    decaf_255_point_copy(out, decaf_255_point_identity);
    unsigned c, w;
    if (n == 0 || !window(&c, &w, k, n))
        return;
    size_t nb = (size_t)1 << (c - 1);
    int16_t *dig = malloc(n * w * sizeof *dig);
    ext_pt *bk = malloc(nb * sizeof *bk);
    niels_pt *q = malloc(2 * n * sizeof *q);
    unsigned char *used = calloc(nb, 1);
    if (dig == NULL || bk == NULL || q == NULL || used == NULL) {
        free(dig);
        free(bk);
        free(q);
        free(used);
        henn__fe_msm_naive(out, p, k, n); /* out of memory: slow but correct */
        return;
    }
    to_niels_affine(q, p, n);
    recode(dig, k, n, c, w);
    ext_pt acc, run, sum, prev;
    int acc_used = 0;
    for (unsigned j = w; j-- > 0;) {
        if (acc_used)
            for (unsigned d = 0; d < c; d++)
                dbl_ext(&acc, &acc);
        memset(used, 0, nb);
        /* one term waits until a second one for another bucket comes */
        size_t pend = SIZE_MAX, pbi = 0;
        for (size_t i = 0; i < n; i++) {
            int d = dig[i * w + j];
            if (d == 0)
                continue;
            size_t bi = (size_t)(d > 0 ? d : -d) - 1, qi = 2 * i + (d < 0);
            if (!used[bi]) {
                ext_from_affine(&bk[bi], FE_CPT(&p[i]), d < 0);
                used[bi] = 1;
            } else if (pend == SIZE_MAX) {
                pend = qi;
                pbi = bi;
            } else if (pbi == bi) {
                add_niels(&bk[bi], &bk[bi], &q[pend]);
                pend = qi;
            } else {
                add_niels_x2(&bk[pbi], &q[pend], &bk[bi], &q[qi]);
                pend = SIZE_MAX;
            }
        }
        if (pend != SIZE_MAX)
            add_niels(&bk[pbi], &bk[pbi], &q[pend]);
        /* sum = sum_b (b + 1) B_b as the sum of the running sums; the
         * update of run and the addition of the previous run to sum are
         * independent and go side by side */
        int run_used = 0, sum_used = 0;
        for (size_t bi = nb; bi-- > 0;) {
            if (!run_used) {
                if (used[bi]) {
                    run = bk[bi];
                    run_used = 1;
                }
                continue;
            }
            prev = run;
            if (sum_used && used[bi]) {
                add_ext_x2(&run, &run, &bk[bi], &sum, &sum, &prev);
            } else {
                if (used[bi])
                    add_ext(&run, &run, &bk[bi]);
                if (sum_used)
                    add_ext(&sum, &sum, &prev);
                else
                    sum = prev;
            }
            sum_used = 1;
        }
        if (run_used) {
            if (sum_used)
                add_ext(&sum, &sum, &run);
            else
                sum = run;
        }
        if (run_used) {
            if (acc_used)
                add_ext(&acc, &acc, &sum);
            else
                acc = sum;
            acc_used = 1;
        }
    }
    if (acc_used)
        ext_store(out, &acc);
    free(dig);
    free(bk);
    free(q);
    free(used);
}
