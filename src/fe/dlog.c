/*
 * dlog.c: bounded discrete logarithms in ristretto255 by baby-step
 * giant-step with a table built once and kept.
 *
 * A ristretto255 element is a class P + E[4] of points of 2E on edwards25519
 * (libdecaf keeps one representative). Multiplying by 4 kills the E[4] part,
 * so for Q = v g the curve point 4Q equals v A with A = 4 g exactly, whatever
 * representatives libdecaf holds. The table holds j A for j in [0, T],
 * keyed on the low 64 bits of the canonical affine y; -jA has the same y and
 * the opposite x, so the parity of x (stored in bit 31) gives the sign and
 * one table covers [-T, T]. A query walks giant steps 4Q -+ i M A with
 * M = 2T + 1, i = 0, 1, 2, ... (small |v| first), normalising the points of
 * a batch (i <= 15 in both directions first, then 2 x 32) with one field
 * inversion (Montgomery's trick), and checks every table hit by comparing
 * P with v g built from a table of k 16^w g (at most 15 additions, against
 * about 12 us for a fixed-base multiplication), so a 64-bit key collision
 * costs time, never a wrong value.
 *
 * The field code below (GF(2^255 - 19), five 51-bit limbs, only what
 * normalisation needs: multiply, invert, freeze) reads libdecaf's limbs;
 * henn__fe_layout_ok() checks on the base point that they are what we expect.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fseeko, ftello */
#endif
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#define BATCH 32
#define FIRST 15 /* giant steps i = 1..FIRST in the first batch (with i = 0) */
#define GROWS 16 /* the hit-check table: k 16^w g, k = 0..15, per window w */

/* Windows of 4 bits covering |v| <= bound. */
static unsigned check_windows(uint64_t bound)
{
    unsigned w = 1;
    while (w < 16 && (bound >> (4 * w)) != 0)
        w++;
    return w;
}

/* giant[1 + 16 w + k] = k 16^w g for the windows covering dl->bound. */
static void build_check_table(henn_fe_elem *tab, unsigned windows)
{
    decaf_255_point_t b;
    decaf_255_point_copy(b, decaf_255_point_base);
    for (unsigned w = 0; w < windows; w++) {
        henn_fe_elem *row = &tab[w * GROWS];
        decaf_255_point_copy(FE_PT(&row[0]), decaf_255_point_identity);
        for (unsigned k = 1; k < GROWS; k++)
            decaf_255_point_add(FE_PT(&row[k]), FE_CPT(&row[k - 1]), b);
        for (int d = 0; d < 4; d++)
            decaf_255_point_double(b, b);
    }
}

/* Elements dl->giant holds: the giant step and the hit-check table. */
static size_t giant_elems(uint64_t bound)
{
    return 1 + (size_t)check_windows(bound) * GROWS;
}

void henn__fe_dlog_small_g(struct decaf_255_point_s *out, const henn_fe_dlog *dl, int64_t v)
{
    const henn_fe_elem *tab = dl->giant + 1;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    decaf_255_point_copy(out, decaf_255_point_identity);
    for (unsigned w = 0; u != 0; w++, u >>= 4)
        if ((u & 15) != 0)
            decaf_255_point_add(out, out, FE_CPT(&tab[w * GROWS + (u & 15)]));
    if (v < 0)
        decaf_255_point_negate(out, out);
}

/* The table key of an affine y (canonical) and the parity of x. */
static uint64_t key_of(const fe25519 *y)
{
    uint64_t k = y->v[0] | (y->v[1] << 51);
    return k == 0 ? 1 : k;
}

/*
 * Normalise cnt points: key[i] and parity[i] of their affine (x, y).
 * Montgomery's trick: one inversion for the batch.
 */
static void normalise(uint64_t *key, uint32_t *par, const struct decaf_255_point_s *const *p,
                      size_t cnt)
{
    fe25519 acc[2 * BATCH], z[2 * BATCH], inv, t, x, y;
    if (cnt == 0 || cnt > 2 * BATCH) /* callers pass 1 .. 2 BATCH */
        return;
    for (size_t i = 0; i < cnt; i++) {
        fe_load(&z[i], p[i]->z);
        if (i == 0)
            acc[0] = z[0];
        else
            fe_mul(&acc[i], &acc[i - 1], &z[i]);
    }
    fe_invert(&inv, &acc[cnt - 1]);
    for (size_t i = cnt; i-- > 0;) {
        fe25519 zi;
        if (i > 0) {
            fe_mul(&zi, &inv, &acc[i - 1]);
            fe_mul(&inv, &inv, &z[i]);
        } else {
            zi = inv;
        }
        fe_load(&t, p[i]->y);
        fe_mul(&y, &t, &zi);
        fe_load(&t, p[i]->x);
        fe_mul(&x, &t, &zi);
        fe_freeze(&y);
        fe_freeze(&x);
        key[i] = key_of(&y);
        par[i] = (uint32_t)(x.v[0] & 1);
    }
}

/*
 * Check libdecaf's limb layout and curve model on multiples of its base
 * point: five 64-bit limbs; XY = ZT (the extended-coordinates invariant);
 * (Y^2 - X^2) Z^2 = Z^4 + d X^2 Y^2 with d = 121665 (the a = -1 curve
 * libdecaf keeps ristretto255 on); P and -P share y with opposite x parity;
 * and the fast MSM (own group law on decoded points, several window sizes)
 * agrees with libdecaf's arithmetic. Any other build is
 * refused (HENN_EPARAM) before a table is built or loaded, and the fast MSM
 * only runs next to such a table.
 */
static int limbs_ok(void)
{
    decaf_255_point_t p, q;
    decaf_255_point_copy(p, decaf_255_point_base);
    for (int i = 0; i < 4; i++) {
        fe25519 X, Y, Z, T, l, r, t, u;
        fe_load(&X, p->x);
        fe_load(&Y, p->y);
        fe_load(&Z, p->z);
        fe_load(&T, p->t);
        fe_mul(&l, &X, &Y);
        fe_mul(&r, &Z, &T);
        if (!fe_eq(&l, &r))
            return 0;
        fe_mul(&t, &Y, &Y);
        fe_mul(&u, &X, &X);
        fe_sub(&t, &t, &u);
        fe_mul(&u, &Z, &Z);
        fe_mul(&l, &t, &u); /* (Y^2 - X^2) Z^2 */
        fe_mul(&r, &u, &u);
        fe_mul(&t, &X, &Y);
        fe_mul(&t, &t, &t);
        fe_mul_small(&t, &t, 121665);
        fe_add(&r, &r, &t); /* Z^4 + d X^2 Y^2 */
        fe_carry(&r);
        if (!fe_eq(&l, &r))
            return 0;
        const struct decaf_255_point_s *pp[2] = {p, q};
        uint64_t key[2];
        uint32_t par[2];
        decaf_255_point_negate(q, p);
        normalise(key, par, pp, 2);
        if (key[0] != key[1] || par[0] == par[1])
            return 0;
        decaf_255_point_add(p, p, p);
        decaf_255_point_add(p, p, decaf_255_point_base);
    }
    return 1;
}

int henn__fe_layout_ok(void)
{
    if (sizeof(((gf_25519_s *)0)->limb) != 5 * sizeof(uint64_t) ||
        sizeof(((gf_25519_s *)0)->limb[0]) != sizeof(uint64_t) || !limbs_ok())
        return 0;
    enum { N = 24 };
    henn_fe_elem *pts = henn__fe_elems_alloc(N);
    if (pts == NULL)
        return 0;
    int64_t k[N];
    uint8_t enc[HENN_FE_POINTBYTES];
    decaf_255_point_t acc, a, b;
    decaf_255_point_copy(acc, decaf_255_point_base);
    int ok = 1;
    for (int i = 0; i < N && ok; i++) {
        decaf_255_point_double(acc, acc);
        decaf_255_point_add(acc, acc, decaf_255_point_base);
        /* decoded points (Z = 1), as the fast path requires */
        decaf_255_point_encode(enc, acc);
        ok = decaf_255_point_decode(FE_PT(&pts[i]), enc, DECAF_FALSE) == DECAF_SUCCESS;
        k[i] = (i % 2 ? -1 : 1) * (int64_t)((i * 7919 + 13) % 30011);
    }
    static const size_t lens[3] = {1, 5, N};
    for (int t = 0; t < 3 && ok; t++) {
        henn__fe_msm(a, pts, k, lens[t]);
        henn__fe_msm_fast(b, pts, k, lens[t]);
        ok = decaf_255_point_eq(a, b) != 0;
        k[0] = -k[0] * 97;
    }
    free(pts);
    return ok;
}

static void insert(henn_fe_dlog *dl, uint64_t key, uint32_t val)
{
    size_t m = dl->cap - 1, s = (size_t)key & m;
    while (dl->keys[s] != 0)
        s = (s + 1) & m;
    dl->keys[s] = key;
    dl->vals[s] = val;
}

void henn_fe_dlog_clear(henn_fe_dlog *dl)
{
    if (dl == NULL)
        return;
    free(dl->keys);
    free(dl->vals);
    free(dl->giant);
    memset(dl, 0, sizeof *dl);
}

int henn_fe_dlog_init(henn_fe_dlog *dl, uint64_t bound, uint64_t table_size)
{
    if (dl == NULL)
        return HENN_EINVAL;
    memset(dl, 0, sizeof *dl);
    if (bound == 0 || bound >= ((uint64_t)1 << 62) || table_size > HENN_FE_MAX_DLOG_TABLE)
        return HENN_EINVAL;
    if (!henn__fe_layout_ok())
        return HENN_EPARAM;
    uint64_t T = table_size == 0 ? HENN_FE_DEFAULT_DLOG_TABLE : table_size;
    if (T > bound)
        T = bound;
    size_t cap = 16;
    while ((uint64_t)cap < (T + 1) + (T + 1) / 3 + 1)
        cap <<= 1;
    dl->bound = bound;
    dl->table_size = T;
    dl->cap = cap;
    dl->keys = calloc(cap, sizeof *dl->keys);
    dl->vals = calloc(cap, sizeof *dl->vals);
    dl->giant = henn__fe_elems_alloc(giant_elems(bound));
    henn_fe_elem *buf = henn__fe_elems_alloc(2 * BATCH);
    int rc = HENN_ENOMEM;
    if (dl->keys == NULL || dl->vals == NULL || dl->giant == NULL || buf == NULL)
        goto cleanup;

    decaf_255_point_t a, cur, last;
    decaf_255_point_double(a, decaf_255_point_base);
    decaf_255_point_double(a, a);
    decaf_255_point_copy(cur, decaf_255_point_identity);
    decaf_255_point_copy(last, decaf_255_point_identity);
    const struct decaf_255_point_s *ptr[2 * BATCH];
    uint64_t key[2 * BATCH];
    uint32_t par[2 * BATCH];
    for (uint64_t j0 = 0; j0 <= T; j0 += 2 * BATCH) {
        size_t cnt = 0;
        for (uint64_t j = j0; j <= T && cnt < 2 * BATCH; j++, cnt++) {
            decaf_255_point_copy(FE_PT(&buf[cnt]), cur);
            ptr[cnt] = FE_CPT(&buf[cnt]);
            decaf_255_point_copy(last, cur);
            decaf_255_point_add(cur, cur, a);
        }
        normalise(key, par, ptr, cnt);
        for (size_t i = 0; i < cnt; i++)
            insert(dl, key[i], (uint32_t)(j0 + i) | (par[i] << 31));
    }
    /* cur = (T + 1) A, last = T A: the giant step is (2T + 1) A */
    decaf_255_point_add(FE_PT(dl->giant), cur, last);
    build_check_table(dl->giant + 1, check_windows(bound));
    rc = 0;

cleanup:
    free(buf);
    if (rc != 0)
        henn_fe_dlog_clear(dl);
    return rc;
}

/* 1 if v g = p (|v| <= dl->bound; v is the public result). */
static int verify(const henn_fe_dlog *dl, const struct decaf_255_point_s *p, int64_t v)
{
    decaf_255_point_t q;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (a > dl->bound)
        return 0;
    henn__fe_dlog_small_g(q, dl, v);
    return decaf_255_point_eq(q, p) != 0;
}

/*
 * Look up one normalised point; on a verified hit set *v = i M + k and
 * return 1. A 64-bit collision is skipped (the probe goes on).
 */
static int lookup(int64_t *v, const henn_fe_dlog *dl, const struct decaf_255_point_s *p,
                  uint64_t key, uint32_t par, int64_t base)
{
    size_t m = dl->cap - 1, s = (size_t)key & m;
    for (; dl->keys[s] != 0; s = (s + 1) & m) {
        if (dl->keys[s] != key)
            continue;
        int64_t j = (int64_t)(dl->vals[s] & 0x7fffffffu);
        uint32_t sp = dl->vals[s] >> 31;
        int64_t cand = base + (sp == par ? j : -j);
        if (verify(dl, p, cand)) {
            *v = cand;
            return 1;
        }
    }
    return 0;
}

/*
 * The walk for one point, restricted to results in [lo, hi] (public, inside
 * [-B, B]): giant step i covers i M + [-T, T]; steps whose interval misses
 * [lo, hi] are still taken (one addition each) but neither normalised nor
 * looked up. A verified hit outside [lo, hi] is HENN_ERANGE.
 */
static int dlog_range(int64_t *v, const henn_fe_dlog *dl, const struct decaf_255_point_s *p,
                      int64_t lo, int64_t hi)
{
    *v = 0;
    const int64_t M = (int64_t)(2 * dl->table_size + 1);
    const int64_t T = (int64_t)dl->table_size;
    const int64_t I = dl->bound <= dl->table_size
                          ? 0
                          : (int64_t)((dl->bound - dl->table_size + (uint64_t)M - 1) / (uint64_t)M);
    if (lo > hi)
        return HENN_ERANGE;
    henn_fe_elem *buf = henn__fe_elems_alloc(2 * BATCH);
    if (buf == NULL)
        return HENN_ENOMEM;
    decaf_255_point_t up, down, gneg;
    decaf_255_point_double(up, p);
    decaf_255_point_double(up, up);
    decaf_255_point_copy(down, up);
    decaf_255_point_negate(gneg, FE_CPT(dl->giant));
    const struct decaf_255_point_s *ptr[2 * BATCH];
    uint64_t key[2 * BATCH];
    uint32_t par[2 * BATCH];
    int64_t base[2 * BATCH];
    int rc = HENN_ERANGE, found = 0;
    int64_t val = 0;
    size_t cnt = 0;
    /* i = 0 and i = 1..FIRST in both directions first (most results are
     * small), then batches of BATCH giant steps in both directions */
    if (lo <= T && hi >= -T) {
        decaf_255_point_copy(FE_PT(&buf[0]), up);
        base[cnt++] = 0;
    }
    for (int64_t i0 = 1, len = FIRST; !found; i0 += len, len = BATCH) {
        for (int64_t i = i0; i <= I && i < i0 + len; i++) {
            decaf_255_point_add(up, up, gneg);
            decaf_255_point_add(down, down, FE_CPT(dl->giant));
            if (i * M - T <= hi && i * M + T >= lo) {
                decaf_255_point_copy(FE_PT(&buf[cnt]), up);
                base[cnt++] = i * M;
            }
            if (-i * M - T <= hi && -i * M + T >= lo) {
                decaf_255_point_copy(FE_PT(&buf[cnt]), down);
                base[cnt++] = -i * M;
            }
        }
        if (cnt > 0) {
            for (size_t k = 0; k < cnt; k++)
                ptr[k] = FE_CPT(&buf[k]);
            normalise(key, par, ptr, cnt);
            for (size_t k = 0; k < cnt; k++) /* the probes miss the cache: start them all */
                __builtin_prefetch(&dl->keys[(size_t)key[k] & (dl->cap - 1)]);
            for (size_t k = 0; k < cnt && !found; k++)
                found = lookup(&val, dl, p, key[k], par[k], base[k]);
            cnt = 0;
        }
        const int64_t next = i0 + len; /* the first step not taken yet */
        if (next > I || (next * M - T > hi && -next * M + T < lo))
            break;
    }
    if (found && (uint64_t)(val < 0 ? -val : val) <= dl->bound && val >= lo && val <= hi) {
        *v = val;
        rc = 0;
    }
    free(buf);
    return rc;
}

int henn__fe_dlog_point(int64_t *v, const henn_fe_dlog *dl, const struct decaf_255_point_s *p)
{
    if (v == NULL || dl == NULL || dl->keys == NULL || p == NULL)
        return HENN_EINVAL;
    return dlog_range(v, dl, p, -(int64_t)dl->bound, (int64_t)dl->bound);
}

/*
 * Many points at once. A chunk of up to MANY_CHUNK points: 4 P_k
 * normalised with one field inversion (Montgomery's trick) and each looked
 * up at giant step 0, a hit verified against v g (henn__fe_dlog_small_g).
 * The points whose result may lie beyond the table (their [lo, hi] reaches
 * past T) and missed walk the giant steps together: step i moves every
 * such point by -+ M A (own extended-coordinate additions), the positions
 * whose interval i M + [-T, T] meets the point's [lo, hi] are normalised
 * with one inversion for all of them and looked up, until each point is
 * found or its range is exhausted (then HENN_ERANGE).
 */
#define MANY_CHUNK 128

/* key and x parity of the affine form of cnt extended points (Z != 0) */
static void normalise_ext(uint64_t *key, uint32_t *par, const ext_pt *const *p, size_t cnt,
                          fe25519 *acc)
{
    fe25519 inv, zi, x, y;
    for (size_t k = 0; k < cnt; k++) {
        if (k == 0)
            acc[0] = p[0]->z;
        else
            fe_mul(&acc[k], &acc[k - 1], &p[k]->z);
    }
    fe_invert(&inv, &acc[cnt - 1]);
    for (size_t k = cnt; k-- > 0;) {
        if (k > 0) {
            fe_mul(&zi, &inv, &acc[k - 1]);
            fe_mul(&inv, &inv, &p[k]->z);
        } else {
            zi = inv;
        }
        fe_mul(&y, &p[k]->y, &zi);
        fe_mul(&x, &p[k]->x, &zi);
        fe_freeze(&y);
        fe_freeze(&x);
        key[k] = key_of(&y);
        par[k] = (uint32_t)(x.v[0] & 1);
    }
}

/* the walk of the points idx[0..cnt) of p that missed at step 0 */
static int walk_many(int64_t *v, const henn_fe_dlog *dl, const henn_fe_elem *p,
                     const int64_t *lo, const int64_t *hi, const size_t *idx, size_t cnt)
{
    const int64_t M = (int64_t)(2 * dl->table_size + 1), T = (int64_t)dl->table_size;
    const int64_t I = dl->bound <= dl->table_size
                          ? 0
                          : (int64_t)((dl->bound - dl->table_size + (uint64_t)M - 1) / (uint64_t)M);
    ext_pt *up = malloc(cnt * sizeof(*up)), *down = malloc(cnt * sizeof(*down));
    const ext_pt **cand = malloc(2 * cnt * sizeof(*cand));
    size_t *who = malloc(2 * cnt * sizeof(*who));
    int64_t *base = malloc(2 * cnt * sizeof(*base));
    uint64_t *key = malloc(2 * cnt * sizeof(*key));
    uint32_t *par = malloc(2 * cnt * sizeof(*par));
    fe25519 *acc = malloc(2 * cnt * sizeof(*acc));
    uint8_t *done = calloc(cnt, 1);
    int rc = HENN_ENOMEM;
    if (up == NULL || down == NULL || cand == NULL || who == NULL || base == NULL ||
        key == NULL || par == NULL || acc == NULL || done == NULL)
        goto cleanup;
    ext_pt g;
    cached_pt gp, gm;
    static const fe25519 zero = {{0, 0, 0, 0, 0}};
    ext_load(&g, FE_CPT(dl->giant));
    to_cached(&gp, &g);
    gm.ypx = gp.ymx; /* -G = (Y - X, Y + X, 2 Z, -2 d T) */
    gm.ymx = gp.ypx;
    gm.z2 = gp.z2;
    fe_sub(&gm.t2d, &zero, &gp.t2d);
    fe_carry(&gm.t2d);
    for (size_t k = 0; k < cnt; k++) {
        ext_load(&up[k], FE_CPT(&p[idx[k]]));
        dbl_ext(&up[k], &up[k]);
        dbl_ext(&up[k], &up[k]);
        down[k] = up[k];
    }
    size_t left = cnt;
    for (int64_t i = 1; i <= I && left > 0; i++) {
        size_t nc = 0, alive = 0;
        for (size_t k = 0; k < cnt; k++) {
            if (done[k])
                continue;
            const int64_t l = lo[idx[k]], h = hi[idx[k]];
            const int up_ok = i * M - T <= h, down_ok = -i * M + T >= l;
            if (!up_ok && !down_ok) { /* beyond its range both ways */
                done[k] = 2;
                left--;
                continue;
            }
            alive = 1;
            if (up_ok) {
                add_cached(&up[k], &up[k], &gm);
                if (i * M + T >= l) {
                    cand[nc] = &up[k];
                    who[nc] = k;
                    base[nc++] = i * M;
                }
            }
            if (down_ok) {
                add_cached(&down[k], &down[k], &gp);
                if (-i * M - T <= h) {
                    cand[nc] = &down[k];
                    who[nc] = k;
                    base[nc++] = -i * M;
                }
            }
        }
        if (!alive)
            break;
        if (nc == 0)
            continue;
        normalise_ext(key, par, cand, nc, acc);
        for (size_t c = 0; c < nc; c++)
            __builtin_prefetch(&dl->keys[(size_t)key[c] & (dl->cap - 1)]);
        for (size_t c = 0; c < nc; c++) {
            const size_t k = who[c];
            int64_t val;
            if (done[k] || !lookup(&val, dl, FE_CPT(&p[idx[k]]), key[c], par[c], base[c]))
                continue;
            done[k] = val >= lo[idx[k]] && val <= hi[idx[k]] ? 1 : 2;
            v[idx[k]] = val;
            left--;
        }
    }
    rc = 0;
    for (size_t k = 0; k < cnt; k++)
        if (done[k] != 1)
            rc = HENN_ERANGE;

cleanup:
    free(up);
    free(down);
    free(cand);
    free(who);
    free(base);
    free(key);
    free(par);
    free(acc);
    free(done);
    return rc;
}

int henn__fe_dlog_points(int64_t *v, const henn_fe_dlog *dl, const henn_fe_elem *p,
                         const int64_t *lo, const int64_t *hi, size_t cnt)
{
    if (v == NULL)
        return HENN_EINVAL;
    if (cnt != 0)
        memset(v, 0, cnt * sizeof(*v));
    if (dl == NULL || dl->keys == NULL || p == NULL || cnt == 0)
        return HENN_EINVAL;
    const int64_t B = (int64_t)dl->bound, T = (int64_t)dl->table_size;
    int64_t *l = malloc(cnt * sizeof(*l)), *h = malloc(cnt * sizeof(*h));
    fe25519 *acc = malloc(MANY_CHUNK * sizeof(*acc)), *zs = malloc(MANY_CHUNK * sizeof(*zs));
    fe25519 *xs = malloc(MANY_CHUNK * sizeof(*xs)), *ys = malloc(MANY_CHUNK * sizeof(*ys));
    size_t miss[MANY_CHUNK];
    int rc = 0;
    if (l == NULL || h == NULL || acc == NULL || zs == NULL || xs == NULL || ys == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        l[i] = lo != NULL && lo[i] > -B ? lo[i] : -B;
        h[i] = hi != NULL && hi[i] < B ? hi[i] : B;
        if (l[i] > h[i])
            rc = HENN_ERANGE;
    }
    for (size_t c0 = 0; c0 < cnt && rc == 0; c0 += MANY_CHUNK) {
        size_t n = cnt - c0 < MANY_CHUNK ? cnt - c0 : MANY_CHUNK, nmiss = 0;
        uint64_t key[MANY_CHUNK];
        uint32_t par[MANY_CHUNK];
        decaf_255_point_t q;
        for (size_t k = 0; k < n; k++) {
            decaf_255_point_double(q, FE_CPT(&p[c0 + k]));
            decaf_255_point_double(q, q);
            fe_load(&zs[k], q->z);
            fe_load(&xs[k], q->x);
            fe_load(&ys[k], q->y);
            if (k == 0)
                acc[0] = zs[0];
            else
                fe_mul(&acc[k], &acc[k - 1], &zs[k]);
        }
        fe25519 inv;
        fe_invert(&inv, &acc[n - 1]);
        for (size_t k = n; k-- > 0;) {
            fe25519 zi, x, y;
            if (k > 0) {
                fe_mul(&zi, &inv, &acc[k - 1]);
                fe_mul(&inv, &inv, &zs[k]);
            } else {
                zi = inv;
            }
            fe_mul(&y, &ys[k], &zi);
            fe_mul(&x, &xs[k], &zi);
            fe_freeze(&y);
            fe_freeze(&x);
            key[k] = key_of(&y);
            par[k] = (uint32_t)(x.v[0] & 1);
            __builtin_prefetch(&dl->keys[(size_t)key[k] & (dl->cap - 1)]);
        }
        for (size_t k = 0; k < n && rc == 0; k++) {
            const size_t i = c0 + k;
            int64_t val = 0;
            if (l[i] <= T && h[i] >= -T &&
                lookup(&val, dl, FE_CPT(&p[i]), key[k], par[k], 0)) {
                rc = val >= l[i] && val <= h[i] ? 0 : HENN_ERANGE;
                v[i] = val;
            } else if (l[i] < -T || h[i] > T) {
                miss[nmiss++] = i; /* beyond the first giant step */
            } else {
                rc = HENN_ERANGE;
            }
        }
        if (rc == 0 && nmiss > 0)
            rc = walk_many(v, dl, p, l, h, miss, nmiss);
    }

cleanup:
    if (rc != 0)
        memset(v, 0, cnt * sizeof(*v));
    free(l);
    free(h);
    free(acc);
    free(zs);
    free(xs);
    free(ys);
    return rc;
}

int henn_fe_dlog_solve_many(int64_t *v, const henn_fe_dlog *dl, const uint8_t *p, size_t cnt)
{
    if (v == NULL)
        return HENN_EINVAL;
    if (cnt != 0)
        memset(v, 0, cnt * sizeof(*v));
    if (dl == NULL || dl->keys == NULL || p == NULL || cnt == 0 || cnt > HENN_FE_MAX_N)
        return HENN_EINVAL;
    henn_fe_elem *pts = henn__fe_elems_alloc(cnt);
    if (pts == NULL)
        return HENN_ENOMEM;
    int rc = 0;
    for (size_t k = 0; k < cnt && rc == 0; k++)
        if (decaf_255_point_decode(FE_PT(&pts[k]), p + k * HENN_FE_POINTBYTES, DECAF_TRUE) !=
            DECAF_SUCCESS)
            rc = HENN_EFORMAT;
    if (rc == 0)
        rc = henn__fe_dlog_points(v, dl, pts, NULL, NULL, cnt);
    free(pts);
    return rc;
}

int henn_fe_dlog_solve(int64_t *v, const henn_fe_dlog *dl, const uint8_t p[HENN_FE_POINTBYTES])
{
    if (v == NULL || dl == NULL || p == NULL)
        return HENN_EINVAL;
    *v = 0;
    decaf_255_point_t q;
    if (decaf_255_point_decode(q, p, DECAF_TRUE) != DECAF_SUCCESS)
        return HENN_EFORMAT;
    return henn__fe_dlog_point(v, dl, q);
}

/*
 * Persistence. The file holds, for j = 0..T, the key of j A (u64) and the
 * parity of its x (a bitmap), under a BLAKE2b-256 checksum; the hash table
 * is rebuilt on load (placement is ours, not the file's) and the giant step
 * recomputed. A loaded table is checked against the group: j = 0, 1, T and
 * DLOG_SPOT random j (every j for small tables) are recomputed, before the
 * table is built, so a file whose entries were changed and its checksum
 * recomputed is refused unless very few entries changed; and since every
 * hit is verified, such a table can only cost misses (HENN_ERANGE), never a
 * wrong value. Insertion refuses long probe chains and repeated keys so a
 * forged file cannot make loading or lookups quadratic.
 */
#define DLOG_MAGIC "HFED"
#define DLOG_VERSION 1
#define DLOG_HDR 21 /* magic 4, version 1, T u64, B u64 */
#define DLOG_SUM 32
#define DLOG_SPOT 125
#define DLOG_MAX_PROBE 4096
#define DLOG_MAX_DUP 8

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static size_t dlog_file_len(uint64_t T)
{
    return DLOG_HDR + (size_t)(T + 1) * 8 + (size_t)(T + 1 + 7) / 8 + DLOG_SUM;
}

size_t henn_fe_dlog_serialized_len(const henn_fe_dlog *dl)
{
    if (dl == NULL || dl->keys == NULL)
        return 0;
    return dlog_file_len(dl->table_size);
}

int henn_fe_dlog_serialize(uint8_t **buf, size_t *buf_len, const henn_fe_dlog *dl)
{
    if (buf == NULL || buf_len == NULL)
        return HENN_EINVAL;
    *buf = NULL;
    *buf_len = 0;
    if (dl == NULL || dl->keys == NULL || dl->vals == NULL)
        return HENN_EINVAL;
    const uint64_t T = dl->table_size;
    const size_t len = dlog_file_len(T);
    uint8_t *p = calloc(len, 1);
    if (p == NULL)
        return HENN_ENOMEM;
    memcpy(p, DLOG_MAGIC, 4);
    p[4] = DLOG_VERSION;
    put64(p + 5, T);
    put64(p + 13, dl->bound);
    uint8_t *keys = p + DLOG_HDR, *bits = keys + (size_t)(T + 1) * 8;
    uint64_t seen = 0;
    for (size_t s = 0; s < dl->cap; s++) {
        if (dl->keys[s] == 0)
            continue;
        uint64_t j = dl->vals[s] & 0x7fffffffu;
        if (j > T || get64(keys + j * 8) != 0) { /* not a table init made */
            free(p);
            return HENN_EINVAL;
        }
        put64(keys + j * 8, dl->keys[s]);
        bits[j / 8] = (uint8_t)(bits[j / 8] | (dl->vals[s] >> 31) << (j % 8));
        seen++;
    }
    if (seen != T + 1) {
        free(p);
        return HENN_EINVAL;
    }
    crypto_generichash(p + len - DLOG_SUM, DLOG_SUM, p, len - DLOG_SUM, NULL, 0);
    *buf = p;
    *buf_len = len;
    return 0;
}

/* Insert with a bounded probe; counts keys seen twice. 0 or HENN_EFORMAT. */
static int insert_checked(henn_fe_dlog *dl, uint64_t key, uint32_t val, unsigned *dups)
{
    size_t m = dl->cap - 1, s = (size_t)key & m;
    for (unsigned probe = 0; dl->keys[s] != 0; probe++, s = (s + 1) & m) {
        if (probe >= DLOG_MAX_PROBE)
            return HENN_EFORMAT;
        if (dl->keys[s] == key && ++*dups > DLOG_MAX_DUP)
            return HENN_EFORMAT;
    }
    dl->keys[s] = key;
    dl->vals[s] = val;
    return 0;
}

/* Recompute the entries idx[0..cnt) (cnt <= 2 BATCH) and compare. */
static int spot_check(const uint8_t *keys, const uint8_t *bits, const uint64_t *idx, size_t cnt)
{
    henn_fe_elem *buf = henn__fe_elems_alloc(2 * BATCH);
    if (buf == NULL)
        return HENN_ENOMEM;
    const struct decaf_255_point_s *ptr[2 * BATCH];
    uint64_t key[2 * BATCH];
    uint32_t par[2 * BATCH];
    decaf_255_scalar_t s;
    for (size_t i = 0; i < cnt; i++) {
        /* 4 (j g): the curve point j A (doubling twice drops the E[4] part
         * of whichever representative the multiplication returns) */
        decaf_255_scalar_set_unsigned(s, idx[i]);
        decaf_255_precomputed_scalarmul(FE_PT(&buf[i]), decaf_255_precomputed_base, s);
        decaf_255_point_double(FE_PT(&buf[i]), FE_CPT(&buf[i]));
        decaf_255_point_double(FE_PT(&buf[i]), FE_CPT(&buf[i]));
        ptr[i] = FE_CPT(&buf[i]);
    }
    normalise(key, par, ptr, cnt);
    int rc = 0;
    for (size_t i = 0; i < cnt; i++)
        if (key[i] != get64(keys + idx[i] * 8) ||
            par[i] != (uint32_t)((bits[idx[i] / 8] >> (idx[i] % 8)) & 1))
            rc = HENN_EFORMAT;
    free(buf);
    return rc;
}

int henn_fe_dlog_deserialize(henn_fe_dlog *dl, const uint8_t *buf, size_t buf_len)
{
    if (dl == NULL)
        return HENN_EINVAL;
    memset(dl, 0, sizeof *dl);
    if (buf == NULL || buf_len < DLOG_HDR || memcmp(buf, DLOG_MAGIC, 4) != 0 ||
        buf[4] != DLOG_VERSION)
        return HENN_EFORMAT;
    const uint64_t T = get64(buf + 5), B = get64(buf + 13);
    if (T == 0 || T > HENN_FE_MAX_DLOG_TABLE || B < T || B >= ((uint64_t)1 << 62) ||
        buf_len != dlog_file_len(T))
        return HENN_EFORMAT;
    uint8_t sum[DLOG_SUM];
    crypto_generichash(sum, DLOG_SUM, buf, buf_len - DLOG_SUM, NULL, 0);
    if (sodium_memcmp(sum, buf + buf_len - DLOG_SUM, DLOG_SUM) != 0)
        return HENN_EFORMAT;
    const uint8_t *keys = buf + DLOG_HDR, *bits = keys + (size_t)(T + 1) * 8;
    if ((T + 1) % 8 != 0 && (bits[T / 8] >> ((T + 1) % 8)) != 0)
        return HENN_EFORMAT; /* padding bits must be zero */
    if (!henn__fe_layout_ok())
        return HENN_EPARAM;

    /* entries against the group: all of them for small tables */
    uint64_t idx[2 * BATCH];
    size_t cnt = 0;
    const uint64_t total = T + 1 <= 4 * BATCH ? T + 1 : DLOG_SPOT + 3;
    int rc = 0;
    for (uint64_t i = 0; i < total && rc == 0; i++) {
        uint64_t j = i;
        if (T + 1 > 4 * BATCH) {
            if (i == 0 || i == 1)
                j = i;
            else if (i == 2)
                j = T;
            else if ((rc = henn_random_bytes((uint8_t *)&j, sizeof j)) == 0)
                j %= T + 1;
        }
        idx[cnt++] = j;
        if (rc == 0 && (cnt == 2 * BATCH || i + 1 == total)) {
            rc = spot_check(keys, bits, idx, cnt);
            cnt = 0;
        }
    }
    if (rc != 0)
        return rc;

    size_t cap = 16;
    while ((uint64_t)cap < (T + 1) + (T + 1) / 3 + 1)
        cap <<= 1;
    dl->bound = B;
    dl->table_size = T;
    dl->cap = cap;
    dl->keys = calloc(cap, sizeof *dl->keys);
    dl->vals = calloc(cap, sizeof *dl->vals);
    dl->giant = henn__fe_elems_alloc(giant_elems(B));
    rc = HENN_ENOMEM;
    if (dl->keys == NULL || dl->vals == NULL || dl->giant == NULL)
        goto cleanup;
    rc = 0;
    unsigned dups = 0;
    for (uint64_t j = 0; j <= T && rc == 0; j++) {
        uint64_t k = get64(keys + j * 8);
        uint32_t par = (uint32_t)((bits[j / 8] >> (j % 8)) & 1);
        rc = k == 0 ? HENN_EFORMAT : insert_checked(dl, k, (uint32_t)j | (par << 31), &dups);
    }
    if (rc != 0)
        goto cleanup;
    decaf_255_scalar_t s;
    decaf_255_scalar_set_unsigned(s, 2 * T + 1); /* the curve point (2T + 1) A */
    decaf_255_precomputed_scalarmul(FE_PT(dl->giant), decaf_255_precomputed_base, s);
    decaf_255_point_double(FE_PT(dl->giant), FE_CPT(dl->giant));
    decaf_255_point_double(FE_PT(dl->giant), FE_CPT(dl->giant));
    build_check_table(dl->giant + 1, check_windows(B));

cleanup:
    if (rc != 0)
        henn_fe_dlog_clear(dl);
    return rc;
}

int henn_fe_dlog_save(const char *path, const henn_fe_dlog *dl)
{
    if (path == NULL)
        return HENN_EINVAL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = henn_fe_dlog_serialize(&buf, &len, dl);
    if (rc != 0)
        return rc;
    FILE *f = fopen(path, "wb");
    rc = HENN_EIO;
    if (f != NULL) {
        int ok = fwrite(buf, 1, len, f) == len;
        if (fclose(f) == 0 && ok)
            rc = 0;
    }
    free(buf);
    return rc;
}

int henn_fe_dlog_load(henn_fe_dlog *dl, const char *path)
{
    if (dl == NULL)
        return HENN_EINVAL;
    memset(dl, 0, sizeof *dl);
    if (path == NULL)
        return HENN_EINVAL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return HENN_EIO;
    uint8_t *buf = NULL;
    int rc = HENN_EIO;
    off_t end;
    if (fseeko(f, 0, SEEK_END) != 0 || (end = ftello(f)) < 0 || fseeko(f, 0, SEEK_SET) != 0)
        goto cleanup;
    rc = HENN_EFORMAT;
    if ((uint64_t)end < DLOG_HDR || (uint64_t)end > dlog_file_len(HENN_FE_MAX_DLOG_TABLE))
        goto cleanup;
    rc = HENN_ENOMEM;
    if ((buf = malloc((size_t)end)) == NULL)
        goto cleanup;
    rc = HENN_EIO;
    if (fread(buf, 1, (size_t)end, f) != (size_t)end)
        goto cleanup;
    rc = henn_fe_dlog_deserialize(dl, buf, (size_t)end);

cleanup:
    free(buf);
    fclose(f);
    return rc;
}
