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

void henn__fe_msm(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                  size_t n)
{
    decaf_255_point_copy(out, decaf_255_point_identity);
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = k[i] < 0 ? (uint64_t)0 - (uint64_t)k[i] : (uint64_t)k[i];
        if (a > mx)
            mx = a;
    }
    unsigned b = bits_of(mx);
    if (b == 0)
        return;
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
    unsigned w = (b + 1 + c - 1) / c;
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
