/*
 * msm_ifma.c: the bucket method of msm.c eight buckets at a time with
 * AVX-512 IFMA (vpmadd52luq / vpmadd52huq), for FEIP decryption's public
 * key vector y and public ciphertext points.
 *
 * Field elements of eight independent points sit in five 512-bit vectors,
 * one per 51-bit limb (lane l of vector i: limb i of element l), so one
 * vector product is eight field products: 25 low and 25 high 52-bit
 * multiply-adds into columns, the high halves doubled (radix 2^51 against
 * the instruction's 2^52), columns 5..9 folded with 2^255 = 19, one
 * parallel carry round. Every limb fed to a product is below 2^52 (the
 * instruction reads 52 bits): outputs of products and of the carried
 * additions and subtractions are below 2^51 + 2^17.
 *
 * Per call (terms P_i affine, given in niels form or as points with Z = 1
 * whose niels forms are then made in the lanes; signed c-bit digits of y_i,
 * w windows):
 *  1. the nonzero digits of all windows are sorted by bucket (window j,
 *     |digit|) with a counting sort; the sorted list is cut into eight
 *     equal runs, one per lane; each lane walks its run, restarting its
 *     accumulator at the identity where a new bucket begins and handing
 *     the accumulator to that bucket where one ends (mixed additions, as
 *     msm.c: 7 products). A bucket cut between two lanes gets its second
 *     part with one scalar addition (at most 7 of those).
 *  2. each window's buckets are cut into segments of S; eight segments go
 *     through the running-sum method side by side (run += B_b and
 *     sum += run, full additions, empty buckets are the identity), giving
 *     per segment R = sum B_b and W = sum (b - lo + 1) B_b.
 *  3. scalar: window total sum_seg (W + lo R) (lo = k S: sum_k k R_k by a
 *     running sum, times S by doublings), windows joined by c doublings.
 * The additions (Hisil, Wong, Carter, Dawson, Asiacrypt 2008, section
 * 3.1) are complete on ristretto255's points, so identity and equal
 * operands need no special case. Variable time in y and the points (both
 * public); nothing secret passes through here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fe/edwards.h"
#include "fe/fe_internal.h"
#include "fe/gf25519.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include "fe/ifma8.h"

int henn__fe_ifma_cpu(void)
{
    static int cached = -1;
    int have = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512ifma");
        __atomic_store_n(&cached, have, __ATOMIC_RELAXED);
    }
    return have;
}

/* r = p + q, all extended (edwards.h add_ext, eight lanes) */
VI void v_add_ext(ext8 *r, const ext8 *p, const ext8 *q)
{
    fe8 a, b, c, e, f, g, h, u, w;
    v_sub(&u, &p->y, &p->x);
    v_sub(&w, &q->y, &q->x);
    v_mul(&a, &u, &w);
    v_add(&u, &p->y, &p->x);
    v_add(&w, &q->y, &q->x);
    v_mul(&b, &u, &w);
    v_mul(&u, &p->t, &q->t);
    v_mul_small(&c, &u, 2 * CURVE_D);
    v_mul(&u, &p->z, &q->z);
    v_sub(&e, &b, &a);
    v_dbl_subadd(&f, &g, &u, &c); /* 2 Z1 Z2 - C, 2 Z1 Z2 + C */
    v_add(&h, &b, &a);
    v_mul(&r->x, &e, &f);
    v_mul(&r->y, &g, &h);
    v_mul(&r->t, &e, &h);
    v_mul(&r->z, &f, &g);
}

/* r = the identity in the lanes of mask, unchanged elsewhere */
VI void v_reset(ext8 *r, __mmask8 mask)
{
    const __m512i z = _mm512_setzero_si512(), one = v_set1(1);
    for (int i = 0; i < 5; i++) {
        r->x.v[i] = _mm512_mask_blend_epi64(mask, r->x.v[i], z);
        r->y.v[i] = _mm512_mask_blend_epi64(mask, r->y.v[i], i == 0 ? one : z);
        r->z.v[i] = _mm512_mask_blend_epi64(mask, r->z.v[i], i == 0 ? one : z);
        r->t.v[i] = _mm512_mask_blend_epi64(mask, r->t.v[i], z);
    }
}

/* fe8 from 5 x 8 limbs (lane-major per limb), 64-byte aligned */
VI void v_load(fe8 *r, const uint64_t *s)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = _mm512_load_si512((const void *)(s + 8 * i));
}

/* 20 x 8 limbs of a point, limb i of x at s[8 i + lane], then y, z, t */
VI void v_store_ext(uint64_t *s, const ext8 *r)
{
    for (int i = 0; i < 5; i++) {
        _mm512_store_si512((void *)(s + 8 * i), r->x.v[i]);
        _mm512_store_si512((void *)(s + 8 * (5 + i)), r->y.v[i]);
        _mm512_store_si512((void *)(s + 8 * (10 + i)), r->z.v[i]);
        _mm512_store_si512((void *)(s + 8 * (15 + i)), r->t.v[i]);
    }
}

static void lane_out(ext_pt *e, const uint64_t *s, unsigned lane)
{
    for (unsigned i = 0; i < 5; i++) {
        e->x.v[i] = s[8 * i + lane];
        e->y.v[i] = s[8 * (5 + i) + lane];
        e->z.v[i] = s[8 * (10 + i) + lane];
        e->t.v[i] = s[8 * (15 + i) + lane];
    }
}

static void lane_in(uint64_t *s, const ext_pt *e, unsigned lane)
{
    for (unsigned i = 0; i < 5; i++) {
        s[8 * i + lane] = e->x.v[i];
        s[8 * (5 + i) + lane] = e->y.v[i];
        s[8 * (10 + i) + lane] = e->z.v[i];
        s[8 * (15 + i) + lane] = e->t.v[i];
    }
}

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

#define NIELS_LIMBS 15
#define ACC_CHUNK 16
#define EXT_LIMBS 20

/*
 * Step 1: the buckets (bk[b], used[b]) from the sorted terms: ord[pos] =
 * 2 i + (digit < 0). Terms come from q (niels pairs) or, when q is NULL,
 * from the affine points aff, whose niels forms are made here eight at a
 * time (y + x, y - x, 2 d t; negated by swapping and negating in the lanes
 * of negative digits).
 */
VT static void accumulate(ext_pt *bk, unsigned char *used, uint8_t *start, uint8_t *emit,
                          uint8_t *negm, uint64_t *tmp, const niels_pt *q, const henn_fe_elem *aff,
                          const uint32_t *ord, const uint32_t *bid, size_t m)
{
    /* the lanes' terms go through a small buffer, ACC_CHUNK steps at a
     * time (a buffer for all steps, 188 KB at n = 784, was mapped and
     * faulted in by malloc on every call) */
    _Alignas(64) uint64_t soa[ACC_CHUNK * NIELS_LIMBS * 8];
    const size_t L = (m + 7) / 8;
    memset(start, 0, L);
    memset(emit, 0, L);
    memset(negm, 0, L);
    const __m512i zero = _mm512_setzero_si512();
    const fe8 fzero = {{zero, zero, zero, zero, zero}};
    ext8 acc;
    niels8 nq;
    v_identity(&acc);
    for (size_t s0 = 0; s0 < L; s0 += ACC_CHUNK) {
        const size_t s1 = L - s0 < ACC_CHUNK ? L : s0 + ACC_CHUNK;
        for (unsigned l = 0; l < 8; l++)
            for (size_t s = s0; s < s1; s++) {
                const size_t pos = l * L + s;
                uint64_t *st = soa + (s - s0) * NIELS_LIMBS * 8;
                if (pos < m) {
                    if (q != NULL) {
                        const niels_pt *t = &q[ord[pos]];
                        for (unsigned i = 0; i < 5; i++) {
                            st[8 * i + l] = t->ypx.v[i];
                            st[8 * (5 + i) + l] = t->ymx.v[i];
                            st[8 * (10 + i) + l] = t->t2d.v[i];
                        }
                    } else {
                        const struct decaf_255_point_s *t = FE_CPT(&aff[ord[pos] >> 1]);
                        for (unsigned i = 0; i < 5; i++) {
                            st[8 * i + l] = t->x->limb[i];
                            st[8 * (5 + i) + l] = t->y->limb[i];
                            st[8 * (10 + i) + l] = t->t->limb[i];
                        }
                        negm[s] = (uint8_t)(negm[s] | (ord[pos] & 1u) << l);
                    }
                    if (s == 0 || bid[pos] != bid[pos - 1])
                        start[s] = (uint8_t)(start[s] | 1u << l);
                    if (s + 1 == L || pos + 1 == m || bid[pos + 1] != bid[pos])
                        emit[s] = (uint8_t)(emit[s] | 1u << l);
                } else { /* past the end: the identity, never handed over: niels
                          * (1, 1, 0), affine (0, 1, 0) */
                    for (unsigned i = 0; i < NIELS_LIMBS; i++)
                        st[8 * i + l] = (q != NULL ? (i == 0 || i == 5) : i == 5) ? 1 : 0;
                }
            }
        for (size_t s = s0; s < s1; s++) {
            const uint64_t *st = soa + (s - s0) * NIELS_LIMBS * 8;
            v_reset(&acc, (__mmask8)start[s]);
            if (q != NULL) {
                v_load(&nq.ypx, st);
                v_load(&nq.ymx, st + 40);
                v_load(&nq.t2d, st + 80);
            } else {
                fe8 x, y, t, a, b, c, nc;
                v_load(&x, st);
                v_load(&y, st + 40);
                v_load(&t, st + 80);
                v_carry(&x); /* libdecaf's limbs: carried below 2^51 + 2^17 */
                v_carry(&y);
                v_carry(&t);
                v_add(&a, &y, &x);
                v_sub(&b, &y, &x);
                v_mul_small(&c, &t, 2 * CURVE_D);
                v_sub(&nc, &fzero, &c);
                const __mmask8 ng = (__mmask8)negm[s];
                for (int i = 0; i < 5; i++) {
                    nq.ypx.v[i] = _mm512_mask_blend_epi64(ng, a.v[i], b.v[i]);
                    nq.ymx.v[i] = _mm512_mask_blend_epi64(ng, b.v[i], a.v[i]);
                    nq.t2d.v[i] = _mm512_mask_blend_epi64(ng, c.v[i], nc.v[i]);
                }
            }
            v_add_niels(&acc, &nq);
            if (emit[s] == 0)
                continue;
            v_store_ext(tmp, &acc);
            for (unsigned l = 0; l < 8; l++) {
                if (!(emit[s] >> l & 1))
                    continue;
                const uint32_t b = bid[l * L + s];
                ext_pt e;
                lane_out(&e, tmp, l);
                if (used[b]) {
                    add_ext(&bk[b], &bk[b], &e);
                } else {
                    bk[b] = e;
                    used[b] = 1;
                }
            }
        }
    }
}

/*
 * Step 2: for segments g = 0..cnt-1 (cnt <= 8) starting at bucket lo[g],
 * S buckets each: R[g] = sum B_b, W[g] = sum (b - lo + 1) B_b.
 */
VT static void segment_sums(ext_pt *R, ext_pt *W, const ext_pt *bk, const unsigned char *used,
                            const size_t *lo, unsigned cnt, size_t S)
{
    static const ext_pt id = {{{0}}, {{1}}, {{1}}, {{0}}};
    _Alignas(64) uint64_t st[EXT_LIMBS * 8];
    ext8 run, sum, prev, B;
    v_identity(&run);
    v_identity(&sum);
    for (size_t t = 0; t < S; t++) {
        for (unsigned l = 0; l < 8; l++) {
            /* from the top bucket of the segment down */
            const size_t b = l < cnt ? lo[l] + (S - 1 - t) : 0;
            lane_in(st, l < cnt && used[b] ? &bk[b] : &id, l);
        }
        v_load(&B.x, st);
        v_load(&B.y, st + 40);
        v_load(&B.z, st + 80);
        v_load(&B.t, st + 120);
        prev = run;
        v_add_ext(&run, &run, &B);    /* run = B_top + ... + B_t */
        v_add_ext(&sum, &sum, &prev); /* sum of the earlier runs */
    }
    v_add_ext(&sum, &sum, &run);
    v_store_ext(st, &run);
    for (unsigned l = 0; l < cnt; l++)
        lane_out(&R[l], st, l);
    v_store_ext(st, &sum);
    for (unsigned l = 0; l < cnt; l++)
        lane_out(&W[l], st, l);
}

int henn__fe_msm_ifma(struct decaf_255_point_s *out, const niels_pt *q, const henn_fe_elem *aff,
                      const int16_t *dig, size_t n, unsigned c, unsigned w)
{
    static const ext_pt id = {{{0}}, {{1}}, {{1}}, {{0}}};
    if (!henn__fe_ifma_cpu())
        return HENN_EPARAM;
    if (c < 1 || c > 15 || w < 1 || w > 64 || n > UINT32_MAX / (2 * w) ||
        (q == NULL) == (aff == NULL))
        return HENN_EINVAL;
    const size_t nb = (size_t)1 << (c - 1), nbt = nb * w;
    /* segments per window: a power of two, at most 8 / w, at most nb */
    size_t qs = 1;
    while (qs * 2 * w <= 8 && qs * 2 <= nb)
        qs *= 2;
    const size_t S = nb / qs, G = qs * w;
    uint32_t *cnt = calloc(nbt + 1, sizeof *cnt);
    uint32_t *ord = malloc((n * w + 1) * sizeof *ord), *bid = malloc((n * w + 1) * sizeof *bid);
    ext_pt *bk = malloc(nbt * sizeof *bk), *R = malloc(G * sizeof *R), *W = malloc(G * sizeof *W);
    unsigned char *used = calloc(nbt, 1);
    const size_t L = (n * w + 7) / 8;
    uint64_t *tmp = alloc64(EXT_LIMBS * 8 * sizeof(uint64_t));
    uint8_t *start = malloc(L + 1), *emit = malloc(L + 1), *negm = malloc(L + 1);
    int rc = HENN_ENOMEM;
    if (cnt == NULL || ord == NULL || bid == NULL || bk == NULL || R == NULL || W == NULL ||
        used == NULL || tmp == NULL || start == NULL || emit == NULL || negm == NULL)
        goto cleanup;

    /* counting sort of the nonzero digits by bucket j nb + |d| - 1 */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < w; j++) {
            const int d = dig[i * w + j];
            if (d != 0) {
                cnt[(size_t)j * nb + (size_t)(d > 0 ? d : -d)]++;
                m++;
            }
        }
    for (size_t b = 0; b < nbt; b++)
        cnt[b + 1] += cnt[b];
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < w; j++) {
            const int d = dig[i * w + j];
            if (d == 0)
                continue;
            const size_t b = (size_t)j * nb + (size_t)(d > 0 ? d : -d) - 1;
            const uint32_t p = cnt[b]++;
            ord[p] = (uint32_t)(2 * i + (d < 0));
            bid[p] = (uint32_t)b;
        }
    if (m > 0)
        accumulate(bk, used, start, emit, negm, tmp, q, aff, ord, bid, m);

    size_t lo[8];
    for (size_t g0 = 0; g0 < G; g0 += 8) {
        const unsigned k = (unsigned)(G - g0 < 8 ? G - g0 : 8);
        for (unsigned l = 0; l < k; l++)
            lo[l] = (g0 + l) * S; /* segment g: window g / qs, part g % qs */
        segment_sums(R + g0, W + g0, bk, used, lo, k, S);
    }
    /* window j: sum_k (W_k + k S R_k) */
    ext_pt acc = id, win, run, tk;
    for (unsigned j = w; j-- > 0;) {
        const ext_pt *Rj = R + (size_t)j * qs, *Wj = W + (size_t)j * qs;
        run = id;
        tk = id;
        for (size_t k = qs; k-- > 1;) {
            add_ext(&run, &run, &Rj[k]);
            add_ext(&tk, &tk, &run); /* sum_k k R_k */
        }
        for (size_t s = S; s > 1; s >>= 1)
            dbl_ext(&tk, &tk);
        win = Wj[0];
        for (size_t k = 1; k < qs; k++)
            add_ext(&win, &win, &Wj[k]);
        add_ext(&win, &win, &tk);
        if (j + 1 < w)
            for (unsigned d = 0; d < c; d++)
                dbl_ext(&acc, &acc);
        add_ext(&acc, &acc, &win);
    }
    ext_store(out, &acc);
    rc = 0;

cleanup:
    free(cnt);
    free(ord);
    free(bid);
    free(bk);
    free(R);
    free(W);
    free(used);
    free(tmp);
    free(start);
    free(emit);
    free(negm);
    return rc;
}

#else /* no AVX-512 IFMA code on this target */

int henn__fe_ifma_cpu(void)
{
    return 0;
}

int henn__fe_msm_ifma(struct decaf_255_point_s *out, const niels_pt *q, const henn_fe_elem *aff,
                      const int16_t *dig, size_t n, unsigned c, unsigned w)
{
    (void)out;
    (void)q;
    (void)aff;
    (void)dig;
    (void)n;
    (void)c;
    (void)w;
    return HENN_EPARAM;
}

#endif
