/*
 * Negacyclic NTT over Z_q[X] / (X^N + 1), q = 1 mod 2N, q < 2^61.
 *
 * Forward: Cooley-Tukey, decimation in time, natural-order input,
 * bit-reversed output a_hat[k] = a(psi^(2 brv(k) + 1)), with the twiddle of
 * butterfly group i in the layer with m groups being psi^brv(m + i).
 * Inverse: Gentleman-Sande with the inverse twiddles, N^-1 folded into the
 * last layer. Butterflies are Harvey's lazy ones ("Faster arithmetic for
 * number-theoretic transforms", J. Symb. Comput. 2014) with Shoup
 * precomputed twiddles: the forward keeps values in [0, 4q) between layers,
 * the inverse in [0, 2q); the last layer of each reduces to the output
 * range. psi is the smallest primitive 2N-th root of unity mod q, the one
 * SEAL picks, so transforms agree with SEAL's.
 *
 * Timing: no branches or memory indices depend on the coefficients.
 */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* Bit reversal of x over `bits` bits. */
static size_t bitrev(size_t x, size_t bits)
{
    size_t r = 0;
    for (size_t i = 0; i < bits; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

/*
 * The smallest primitive 2N-th root of unity mod q. g = x^((q-1)/2N) is a
 * 2N-th root for any x; it is primitive iff g^N = -1. The primitive ones are
 * exactly the odd powers of any one of them. Returns 0 if none is found
 * (q not prime or q != 1 mod 2N).
 */
static uint64_t minimal_root(size_t N, const henn__ckks_mod *m)
{
    uint64_t q = m->q, two_n = 2 * (uint64_t)N, g = 0;
    if ((q - 1) % two_n != 0)
        return 0;
    for (uint64_t x = 2; x < 1000 && x < q; x++) {
        uint64_t c = henn__ckks_pow_mod(x, (q - 1) / two_n, m);
        if (henn__ckks_pow_mod(c, N, m) == q - 1) {
            g = c;
            break;
        }
    }
    if (g == 0)
        return 0;
    uint64_t g2 = henn__ckks_mul_mod(g, g, m), cur = g, best = g;
    for (size_t j = 0; j < N; j++) {
        if (cur < best)
            best = cur;
        cur = henn__ckks_mul_mod(cur, g2, m);
    }
    return best;
}

int henn__ckks_ntt_init(henn__ckks_ntt *t, size_t N, uint64_t q)
{
    memset(t, 0, sizeof(*t));
    if (N < 4 || (N & (N - 1)) != 0 || q < 3 || q >= ((uint64_t)1 << 61) || (q & 1) == 0)
        return HENN_EINVAL;
    size_t logN = 0;
    while (((size_t)1 << logN) < N)
        logN++;
    henn__ckks_mod m;
    henn__ckks_mod_init(&m, q);
    uint64_t psi = minimal_root(N, &m);
    if (psi == 0)
        return HENN_EINVAL;
    /* one 64-byte aligned block: w, w_shoup, iw, iw_shoup */
    uint64_t *blk = aligned_alloc(64, 4 * N * sizeof(uint64_t));
    if (blk == NULL)
        return HENN_ENOMEM;
    t->N = N;
    t->logN = logN;
    t->q = q;
    t->psi = psi;
    t->w = blk;
    t->w_shoup = blk + N;
    t->iw = blk + 2 * N;
    t->iw_shoup = blk + 3 * N;

    /* powers psi^j and psi^-j, j < N, in natural order in the iw arrays
     * first (scratch), then scattered */
    uint64_t psi_inv = henn__ckks_inv_mod(psi, &m);
    uint64_t *pw = t->iw, *ipw = t->iw_shoup;
    pw[0] = 1;
    ipw[0] = 1;
    for (size_t j = 1; j < N; j++) {
        pw[j] = henn__ckks_mul_mod(pw[j - 1], psi, &m);
        ipw[j] = henn__ckks_mul_mod(ipw[j - 1], psi_inv, &m);
    }
    for (size_t k = 0; k < N; k++) {
        t->w[k] = pw[bitrev(k, logN)];
        t->w_shoup[k] = henn__ckks_shoup(t->w[k], q);
    }
    /* inverse twiddles in order of use: layers m = N/2 .. 1, group i uses
     * psi^-brv(m + i), stored at iw[1 ..  N-1]; psi^-brv(m + i) =
     * ipw[brv(m + i)]. Build into w_shoup-free scratch: reuse a temporary. */
    uint64_t *tmp = malloc(N * sizeof(uint64_t));
    if (tmp == NULL) {
        henn__ckks_ntt_clear(t);
        return HENN_ENOMEM;
    }
    size_t idx = 1;
    tmp[0] = 1;
    for (size_t mm = N / 2; mm >= 1; mm >>= 1)
        for (size_t i = 0; i < mm; i++)
            tmp[idx++] = ipw[bitrev(mm + i, logN)];
    uint64_t n_inv = henn__ckks_inv_mod((uint64_t)N % q, &m);
    t->n_inv = n_inv;
    t->n_inv_shoup = henn__ckks_shoup(n_inv, q);
    /* the last layer's twiddle carries N^-1 too */
    tmp[N - 1] = henn__ckks_mul_mod(tmp[N - 1], n_inv, &m);
    for (size_t k = 0; k < N; k++) {
        t->iw[k] = tmp[k];
        t->iw_shoup[k] = henn__ckks_shoup(tmp[k], q);
    }
    free(tmp);
    return 0;
}

void henn__ckks_ntt_clear(henn__ckks_ntt *t)
{
    if (t == NULL)
        return;
    free(t->w); /* the block holding all four tables */
    memset(t, 0, sizeof(*t));
}

/* ---- forward ------------------------------------------------------------ */

/*
 * Cooley-Tukey butterfly: X, Y in [0, 4q) -> X + W Y, X - W Y in [0, 4q).
 */
#define CT_BFLY(x, y, W, Ws)                                                                       \
    do {                                                                                           \
        uint64_t X_ = (x), Y_ = (y);                                                               \
        X_ -= two_q & ~henn__ckks_mask_top(X_ - two_q);                                            \
        uint64_t Q_ = henn__ckks_mul_shoup_lazy(Y_, (W), (Ws), q);                                 \
        (x) = X_ + Q_;                                                                             \
        (y) = X_ - Q_ + two_q;                                                                     \
    } while (0)

/* Layers with m groups of stride t >= 2 ... all but the last one. */
static void forward_layers(uint64_t *restrict a, const henn__ckks_ntt *tb)
{
    const size_t N = tb->N;
    const uint64_t q = tb->q, two_q = 2 * q;
    const uint64_t *restrict w = tb->w, *restrict ws = tb->w_shoup;
    size_t t = N;
    for (size_t m = 1; m < N / 2; m <<= 1) {
        t >>= 1;
        if (t >= 4) {
            for (size_t i = 0; i < m; i++) {
                uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
                const uint64_t W = w[m + i], Ws = ws[m + i];
                for (size_t j = 0; j < t; j += 4) {
                    CT_BFLY(x[j], y[j], W, Ws);
                    CT_BFLY(x[j + 1], y[j + 1], W, Ws);
                    CT_BFLY(x[j + 2], y[j + 2], W, Ws);
                    CT_BFLY(x[j + 3], y[j + 3], W, Ws);
                }
            }
        } else { /* t == 2 */
            for (size_t i = 0; i < m; i++) {
                uint64_t *x = a + 4 * i;
                const uint64_t W = w[m + i], Ws = ws[m + i];
                CT_BFLY(x[0], x[2], W, Ws);
                CT_BFLY(x[1], x[3], W, Ws);
            }
        }
    }
}

/* Last layer (t = 1): outputs reduced to [0, 2q) (exact = 0) or [0, q). */
static void forward_last(uint64_t *restrict a, const henn__ckks_ntt *tb, int exact)
{
    const size_t N = tb->N, m = N / 2;
    const uint64_t q = tb->q, two_q = 2 * q;
    const uint64_t *restrict w = tb->w + m, *restrict ws = tb->w_shoup + m;
    const uint64_t q1 = exact ? q : 0; /* second subtraction off in lazy mode */
    for (size_t i = 0; i < m; i++) {
        uint64_t X = a[2 * i], Y = a[2 * i + 1];
        X -= two_q & ~henn__ckks_mask_top(X - two_q);
        uint64_t Q = henn__ckks_mul_shoup_lazy(Y, w[i], ws[i], q);
        uint64_t u = X + Q, v = X - Q + two_q; /* [0, 4q) */
        u -= two_q & ~henn__ckks_mask_top(u - two_q);
        v -= two_q & ~henn__ckks_mask_top(v - two_q);
        if (exact) {
            u -= q1 & ~henn__ckks_mask_top(u - q1);
            v -= q1 & ~henn__ckks_mask_top(v - q1);
        }
        a[2 * i] = u;
        a[2 * i + 1] = v;
    }
}

void henn__ckks_ntt_forward(uint64_t *a, const henn__ckks_ntt *t)
{
    forward_layers(a, t);
    forward_last(a, t, 1);
}

void henn__ckks_ntt_forward_lazy(uint64_t *a, const henn__ckks_ntt *t)
{
    forward_layers(a, t);
    forward_last(a, t, 0);
}

/* ---- inverse ------------------------------------------------------------ */

/*
 * Gentleman-Sande butterfly: X, Y in [0, 2q) -> X + Y, (X - Y) W in [0, 2q).
 */
#define GS_BFLY(x, y, W, Ws)                                                                       \
    do {                                                                                           \
        uint64_t X_ = (x), Y_ = (y);                                                               \
        uint64_t U_ = X_ + Y_;                                                                     \
        U_ -= two_q & ~henn__ckks_mask_top(U_ - two_q);                                            \
        (y) = henn__ckks_mul_shoup_lazy(X_ - Y_ + two_q, (W), (Ws), q);                            \
        (x) = U_;                                                                                  \
    } while (0)

static void inverse_core(uint64_t *restrict a, const henn__ckks_ntt *tb, int exact)
{
    const size_t N = tb->N;
    const uint64_t q = tb->q, two_q = 2 * q;
    const uint64_t *restrict w = tb->iw, *restrict ws = tb->iw_shoup;
    size_t idx = 1;
    /* first layer: t = 1, N/2 groups */
    {
        const size_t m = N / 2;
        for (size_t i = 0; i < m; i++) {
            GS_BFLY(a[2 * i], a[2 * i + 1], w[idx + i], ws[idx + i]);
        }
        idx += m;
    }
    size_t t = 2;
    for (size_t m = N / 4; m > 1; m >>= 1) {
        if (t >= 4) {
            for (size_t i = 0; i < m; i++) {
                uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
                const uint64_t W = w[idx + i], Ws = ws[idx + i];
                for (size_t j = 0; j < t; j += 4) {
                    GS_BFLY(x[j], y[j], W, Ws);
                    GS_BFLY(x[j + 1], y[j + 1], W, Ws);
                    GS_BFLY(x[j + 2], y[j + 2], W, Ws);
                    GS_BFLY(x[j + 3], y[j + 3], W, Ws);
                }
            }
        } else { /* t == 2 */
            for (size_t i = 0; i < m; i++) {
                uint64_t *x = a + 4 * i;
                const uint64_t W = w[idx + i], Ws = ws[idx + i];
                GS_BFLY(x[0], x[2], W, Ws);
                GS_BFLY(x[1], x[3], W, Ws);
            }
        }
        idx += m;
        t <<= 1;
    }
    /* last layer: one group of stride N/2, N^-1 folded in */
    {
        const size_t h = N / 2;
        const uint64_t W = w[N - 1], Ws = ws[N - 1];
        const uint64_t ni = tb->n_inv, nis = tb->n_inv_shoup;
        const uint64_t q1 = exact ? q : 0;
        uint64_t *restrict x = a, *restrict y = a + h;
        for (size_t j = 0; j < h; j++) {
            uint64_t X = x[j], Y = y[j];
            uint64_t u = henn__ckks_mul_shoup_lazy(X + Y, ni, nis, q);
            uint64_t v = henn__ckks_mul_shoup_lazy(X - Y + two_q, W, Ws, q);
            if (exact) {
                u -= q1 & ~henn__ckks_mask_top(u - q1);
                v -= q1 & ~henn__ckks_mask_top(v - q1);
            }
            x[j] = u;
            y[j] = v;
        }
    }
}

void henn__ckks_ntt_inverse(uint64_t *a, const henn__ckks_ntt *t)
{
    inverse_core(a, t, 1);
}

void henn__ckks_ntt_inverse_lazy(uint64_t *a, const henn__ckks_ntt *t)
{
    inverse_core(a, t, 0);
}
