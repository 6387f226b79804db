/*
 * edwards.h: the group law on libdecaf's limbs (internal; msm.c, scalarmul.c).
 *
 * libdecaf keeps ristretto255 elements as extended coordinates (X:Y:Z:T),
 * x = X/Z, y = Y/Z, XY = ZT, on the curve -x^2 + y^2 = 1 + d x^2 y^2 with
 * d = 121665 (its internal model; henn__fe_layout_ok checks it at run time,
 * and nothing here runs before that check passed). Formulas: Hisil, Wong,
 * Carter, Dawson, "Twisted Edwards curves revisited", Asiacrypt 2008,
 * section 3.1 (a = -1): mixed addition with a point in niels form
 * (y + x, y - x, 2 d x y) 7 multiplications, addition of a cached point
 * (Y + X, Y - X, 2 Z, 2 d T) 8, full addition 9 (8 and a small product),
 * doubling 4 squarings and 4 multiplications (3 without T). Constant time:
 * no branch or index on coordinates (callers choose the operations).
 */
#ifndef HENN_FE_EDWARDS_H
#define HENN_FE_EDWARDS_H

#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#define CURVE_D 121665u

typedef struct {
    fe25519 x, y, z, t;
} ext_pt;

typedef struct {
    fe25519 ypx, ymx, t2d;
} niels_pt;

/*
 * r = the point q in niels form (y + x, y - x, 2 d x y): X = 2x, Y = 2y,
 * Z = 2, T = 2xy = (2 d x y) / d, one multiplication by 1 / d.
 */
static inline void ext_from_niels(ext_pt *r, const niels_pt *q)
{
    /* 1 / 121665 mod 2^255 - 19 (tests/fe checks d (1 / d) = 1) */
    static const fe25519 dinv = {{0x70d89323607a9, 0x4f7b0d57a3b43, 0x118c267d288a5,
                                  0xde6a74ef7599, 0x3f6f812deb2a3}};
    fe_sub(&r->x, &q->ypx, &q->ymx);
    fe_carry(&r->x);
    fe_add(&r->y, &q->ypx, &q->ymx);
    fe_carry(&r->y);
    r->z = (fe25519){{2, 0, 0, 0, 0}};
    fe_mul(&r->t, &q->t2d, &dinv);
}

/* r = p + q (q affine, in niels form). */
static inline void add_niels(ext_pt *r, const ext_pt *p, const niels_pt *q)
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
static inline void add_ext(ext_pt *r, const ext_pt *p, const ext_pt *q)
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
static inline void add_niels_x2(ext_pt *r1, const niels_pt *q1, ext_pt *r2, const niels_pt *q2)
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
static inline void add_ext_x2(ext_pt *r1, const ext_pt *p1, const ext_pt *q1, ext_pt *r2,
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

/*
 * r = 2 p (dbl-2008-hwcd, a = -1; 4 squarings, 4 multiplications). The
 * doubling does not read T; dbl_ext_not leaves r->t unset (one
 * multiplication less) for a doubling that another doubling follows.
 */
static inline void dbl_ext_t(ext_pt *r, const ext_pt *p, int with_t)
{
    fe25519 a, b, c, e, f, g, h, u;
    fe_sq(&a, &p->x);
    fe_sq(&b, &p->y);
    fe_sq(&u, &p->z);
    fe_add(&c, &u, &u);
    fe_add(&u, &p->x, &p->y);
    fe_sq(&e, &u);
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
    if (with_t)
        fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

static inline void dbl_ext(ext_pt *r, const ext_pt *p)
{
    dbl_ext_t(r, p, 1);
}

static inline void dbl_ext_not(ext_pt *r, const ext_pt *p)
{
    dbl_ext_t(r, p, 0);
}

/*
 * r = the affine point p (Z = 1, T = xy), negated when neg: the first term
 * of a bucket costs no multiplication (adding it to the identity cost 7).
 */
static inline void ext_from_affine(ext_pt *r, const struct decaf_255_point_s *p, int neg)
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

static inline void ext_store(struct decaf_255_point_s *out, const ext_pt *r)
{
    fe_store(out->x, &r->x);
    fe_store(out->y, &r->y);
    fe_store(out->z, &r->z);
    fe_store(out->t, &r->t);
}

/* A point in cached form (Y + X, Y - X, 2 Z, 2 d T). */
typedef struct {
    fe25519 ypx, ymx, z2, t2d;
} cached_pt;

/* r = the decaf point p (any Z). */
static inline void ext_load(ext_pt *r, const struct decaf_255_point_s *p)
{
    fe_load(&r->x, p->x);
    fe_load(&r->y, p->y);
    fe_load(&r->z, p->z);
    fe_load(&r->t, p->t);
}

static inline void to_cached(cached_pt *r, const ext_pt *p)
{
    fe_add(&r->ypx, &p->y, &p->x);
    fe_sub(&r->ymx, &p->y, &p->x);
    fe_carry(&r->ypx);
    fe_carry(&r->ymx);
    fe_add(&r->z2, &p->z, &p->z);
    fe_carry(&r->z2);
    fe_mul_small(&r->t2d, &p->t, 2 * CURVE_D);
}

/* r = p + q, q cached (add-2008-hwcd-3 with 2 Z2 and 2 d T2 precomputed). */
static inline void add_cached(ext_pt *r, const ext_pt *p, const cached_pt *q)
{
    fe25519 a, b, c, d, e, f, g, h;
    fe_sub(&e, &p->y, &p->x);
    fe_add(&f, &p->y, &p->x);
    fe_mul(&a, &e, &q->ymx);
    fe_mul(&b, &f, &q->ypx);
    fe_mul(&c, &p->t, &q->t2d);
    fe_mul(&d, &p->z, &q->z2);
    fe_sub(&e, &b, &a);
    fe_add(&h, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/*
 * out = sum_i sum_j d[i w + j] 2^(c j) P_i for n points given either as
 * q[2i], q[2i + 1] = P_i, -P_i in niels form (aff NULL) or as libdecaf
 * points with Z = 1 (aff, q NULL), signed digits |d| <= 2^(c - 1), w
 * windows (msm_ifma.c). 0, HENN_EPARAM without AVX-512 IFMA, HENN_EINVAL
 * (c outside 1..15, w outside 1..64, not exactly one of q and aff),
 * HENN_ENOMEM. Variable time (public inputs only).
 */
int henn__fe_msm_ifma(struct decaf_255_point_s *out, const niels_pt *q, const henn_fe_elem *aff,
                      const int16_t *dig, size_t n, unsigned c, unsigned w);

#endif
