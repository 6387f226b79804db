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
#include "fe/edwards.h"
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
 * at run time by henn__fe_layout_ok; the formulas live in edwards.h). It
 * runs when every term is affine (Z = 1: libdecaf's decoder and
 * henn_feip_encrypt leave them so); other inputs go to henn__fe_msm, since
 * a batched normalisation per call (about 5 multiplications per term)
 * costs more than the mixed additions save. Terms are stored as (y + x, y - x, 2 d x y), so
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

/*
 * One window: bk[b] = the sum of the terms whose digit is +-(b + 1) (term t:
 * digit dig[t stride], niels pair q[2t], q[2t + 1]; the first term of a
 * bucket is copied in from aff[t] when aff is given, else from its niels
 * form), then *sum = sum_b (b + 1) bk[b]. Returns 0 when every digit is 0.
 */
static int window_sum(ext_pt *sum, ext_pt *bk, unsigned char *used, size_t nb, const niels_pt *q,
                      const henn_fe_elem *aff, const int16_t *dig, size_t stride, size_t cnt)
{
    memset(used, 0, nb);
    /* one term waits until a second one for another bucket comes */
    size_t pend = SIZE_MAX, pbi = 0;
    for (size_t t = 0; t < cnt; t++) {
        int d = dig[t * stride];
        if (d == 0)
            continue;
        size_t bi = (size_t)(d > 0 ? d : -d) - 1, qi = 2 * t + (d < 0);
        if (!used[bi]) {
            if (aff != NULL)
                ext_from_affine(&bk[bi], FE_CPT(&aff[t]), d < 0);
            else
                ext_from_niels(&bk[bi], &q[qi]);
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
    /* sum = sum_b (b + 1) B_b as the sum of the running sums; the update of
     * run and the addition of the previous run to sum are independent and
     * go side by side */
    ext_pt run, prev;
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
            add_ext_x2(&run, &run, &bk[bi], sum, sum, &prev);
        } else {
            if (used[bi])
                add_ext(&run, &run, &bk[bi]);
            if (sum_used)
                add_ext(sum, sum, &prev);
            else
                *sum = prev;
        }
        sum_used = 1;
    }
    if (!run_used)
        return 0;
    if (sum_used)
        add_ext(sum, sum, &run);
    else
        *sum = run;
    return 1;
}

/*
 * mode 0: the eight-lane IFMA path (msm_ifma.c) when the processor has it
 * and n is at least IFMA_MIN_N, else the scalar one; 1: scalar only;
 * 2: IFMA only (HENN_EPARAM without it). 0 or that code.
 */
#define IFMA_MIN_N 16 /* measured crossover (8-bit and 15-bit k): 16 to 24 terms */

static int msm_affine(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                      size_t n, int mode)
{
    if (mode == 2 && !henn__fe_ifma_cpu())
        return HENN_EPARAM;
    if (!all_affine(p, n)) {
        /* making them affine costs more than the mixed additions save */
        henn__fe_msm(out, p, k, n);
        return 0;
    }
    decaf_255_point_copy(out, decaf_255_point_identity);
    unsigned c, w;
    if (n == 0 || !window(&c, &w, k, n))
        return 0;
    size_t nb = (size_t)1 << (c - 1);
    int16_t *dig = malloc(n * w * sizeof *dig);
    if (dig == NULL) {
        henn__fe_msm_naive(out, p, k, n); /* out of memory: slow but correct */
        return 0;
    }
    recode(dig, k, n, c, w);
    if (mode == 2 || (mode == 0 && n >= IFMA_MIN_N && henn__fe_ifma_cpu())) {
        /* the niels forms are made in the lanes, from the affine points */
        int rc = henn__fe_msm_ifma(out, NULL, p, dig, n, c, w);
        if (rc == 0 || mode == 2) {
            free(dig);
            if (rc != 0) /* out of memory: slow but correct */
                henn__fe_msm_naive(out, p, k, n);
            return 0;
        }
    }
    ext_pt *bk = malloc(nb * sizeof *bk);
    niels_pt *q = malloc(2 * n * sizeof *q);
    unsigned char *used = calloc(nb, 1);
    if (bk == NULL || q == NULL || used == NULL) {
        free(dig);
        free(bk);
        free(q);
        free(used);
        henn__fe_msm_naive(out, p, k, n); /* out of memory: slow but correct */
        return 0;
    }
    to_niels_affine(q, p, n);
    ext_pt acc, sum;
    int acc_used = 0;
    for (unsigned j = w; j-- > 0;) {
        if (acc_used)
            for (unsigned d = 0; d < c; d++)
                dbl_ext(&acc, &acc);
        if (window_sum(&sum, bk, used, nb, q, p, dig + j, w, n)) {
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
    return 0;
}

void henn__fe_msm_fast(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                       size_t n)
{
    (void)msm_affine(out, p, k, n, 0);
}

void henn__fe_msm_fast_scalar(struct decaf_255_point_s *out, const henn_fe_elem *p,
                              const int64_t *k, size_t n)
{
    (void)msm_affine(out, p, k, n, 1);
}

int henn__fe_msm_fast_ifma(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                           size_t n)
{
    return msm_affine(out, p, k, n, 2);
}

/*
 * Per-ciphertext precomputation (henn_feip_ct_prep): every point P_i also
 * as 2^c P_i, ..., 2^(c (m - 1)) P_i, all made affine together and kept in
 * niels form with their negatives. A scalar |k_i| <= K splits into m signed
 * c-bit digits, one per stored point, so the MSM is ONE window over n m
 * terms: no doublings and one bucket sum instead of m. c minimises
 * 7 n m + 9 2^c (mixed and full additions), so c = 8, m = 2 for n = 784
 * and 15-bit K.
 */
int henn__fe_msm_prep_init(struct henn__fe_msm_prep *pr, const henn_fe_elem *p, size_t n,
                           uint64_t k_bound)
{
    memset(pr, 0, sizeof *pr);
    if (n == 0 || k_bound == 0 || k_bound >= ((uint64_t)1 << 62))
        return HENN_EINVAL;
    unsigned b = bits_of(k_bound), c = 1, m = b + 1;
    double best = 0;
    /* c <= 15: digits are int16_t and the top one may reach 2^(c - 1); c =
     * 16 (chosen from about n = 80,000 up) made it -2^15 */
    for (unsigned cc = 1; cc <= 15; cc++) {
        unsigned mm = (b + 1 + cc - 1) / cc;
        double cost = 7.0 * (double)n * mm + 9.0 * (double)(1u << cc);
        if (cc == 1 || cost < best) {
            best = cost;
            c = cc;
            m = mm;
        }
    }
    if (n > SIZE_MAX / (2 * m * sizeof(niels_pt)))
        return HENN_ENOMEM;
    const size_t cnt = n * m;
    henn_fe_elem *tmp = henn__fe_elems_alloc(cnt);
    niels_pt *q = malloc(2 * cnt * sizeof *q);
    int rc = HENN_ENOMEM;
    if (tmp == NULL || q == NULL)
        goto cleanup;
    ext_pt e;
    for (size_t i = 0; i < n; i++) {
        memcpy(&tmp[i * m], &p[i], sizeof tmp[0]);
        ext_load(&e, FE_CPT(&p[i]));
        for (unsigned j = 1; j < m; j++) {
            for (unsigned d = 1; d < c; d++)
                dbl_ext_not(&e, &e);
            dbl_ext(&e, &e);
            ext_store(FE_PT(&tmp[i * m + j]), &e);
        }
    }
    rc = henn__fe_make_affine(tmp, cnt);
    if (rc != 0)
        goto cleanup;
    to_niels_affine(q, tmp, cnt);
    pr->n = n;
    pr->c = c;
    pr->m = m;
    pr->k_bound = k_bound;
    pr->q = q;
    q = NULL;

cleanup:
    free(tmp);
    free(q);
    return rc;
}

void henn__fe_msm_prep_clear(struct henn__fe_msm_prep *pr)
{
    if (pr == NULL)
        return;
    free(pr->q);
    memset(pr, 0, sizeof *pr);
}

/* ifma: the eight-lane engine when the processor has it (else scalar) */
static int msm_prep(struct decaf_255_point_s *out, const struct henn__fe_msm_prep *pr,
                    const int64_t *k, int ifma)
{
    decaf_255_point_copy(out, decaf_255_point_identity);
    for (size_t i = 0; i < pr->n; i++) {
        uint64_t a = k[i] < 0 ? (uint64_t)0 - (uint64_t)k[i] : (uint64_t)k[i];
        if (a > pr->k_bound)
            return HENN_ERANGE;
    }
    const size_t cnt = pr->n * pr->m, nb = (size_t)1 << (pr->c - 1);
    if (ifma != 0 && henn__fe_ifma_cpu()) {
        /* the same single window, eight buckets at a time */
        int16_t *dg = malloc(cnt * sizeof *dg);
        if (dg == NULL)
            return HENN_ENOMEM;
        recode(dg, k, pr->n, pr->c, pr->m); /* dig[i m + j]: term i m + j */
        int rc = henn__fe_msm_ifma(out, pr->q, NULL, dg, cnt, pr->c, 1);
        free(dg);
        return rc;
    }
    int16_t *dig = malloc(cnt * sizeof *dig);
    ext_pt *bk = malloc(nb * sizeof *bk);
    unsigned char *used = calloc(nb, 1);
    int rc = HENN_ENOMEM;
    if (dig != NULL && bk != NULL && used != NULL) {
        ext_pt sum;
        recode(dig, k, pr->n, pr->c, pr->m); /* dig[i m + j]: term i m + j */
        if (window_sum(&sum, bk, used, nb, pr->q, NULL, dig, 1, cnt))
            ext_store(out, &sum);
        rc = 0;
    }
    free(dig);
    free(bk);
    free(used);
    return rc;
}

int henn__fe_msm_prep(struct decaf_255_point_s *out, const struct henn__fe_msm_prep *pr,
                      const int64_t *k)
{
    return msm_prep(out, pr, k, 1);
}

int henn__fe_msm_prep_scalar(struct decaf_255_point_s *out, const struct henn__fe_msm_prep *pr,
                             const int64_t *k)
{
    return msm_prep(out, pr, k, 0);
}
