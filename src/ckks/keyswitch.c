/*
 * Hybrid key switching with one special prime P and one digit per data
 * prime (Han and Ki, "Better Bootstrapping for Approximate Homomorphic
 * Encryption", CT-RSA 2020, section 3; the variant SEAL implements), with
 * balanced digits, and the Galois automorphisms in the NTT domain.
 *
 * Key switching of d (level l, NTT domain) with a key from s' to s:
 *  1. INTT every limb of d; digit j is limb j taken as its balanced
 *     representative in (-q_j / 2, q_j / 2]. Balanced digits have mean 0, so
 *     the key-switching noise sum_j digit_j e_j / P has no systematic part
 *     (uncentred digits [0, q_j) leave a key-dependent offset in slot 0:
 *     docs CKKS_NOTES, pitfall 1).
 *  2. For every output prime (P first, then q_0..q_l): reduce each digit
 *     modulo that prime, NTT it (digit i modulo q_i is limb i of d itself, in
 *     the NTT domain already) and multiply-accumulate with the key's digit
 *     rows in 128-bit sums (q < 2^60, so 63 products of values below 2q and
 *     q fit), one Barrett reduction per coefficient.
 *  3. Mod-down by P with rounding: with t the P-limb (INTT, centred),
 *     r_i = (acc_i - [t]_{q_i}) P^-1 mod q_i = round(acc / P) modulo q_i.
 *
 * Threads: the per-limb passes run over params->threads (parallel.c);
 * the result does not depend on the thread count.
 *
 * Timing: independent of secret data (it sees only ciphertexts and public
 * keys); the reductions are branch-free anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* Bit reversal of x over `bits` (<= 32) bits, branch-free. */
static uint32_t bitrev(uint32_t x, size_t bits)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    x = (x >> 16) | (x << 16);
    return x >> (32 - bits);
}

void henn__ckks_galois_perm(uint32_t *perm, size_t N, size_t logN, uint64_t g)
{
    uint64_t two_n = 2 * (uint64_t)N, mask = two_n - 1;
    for (size_t k = 0; k < N; k++) {
        uint64_t e = 2 * (uint64_t)bitrev((uint32_t)k, logN) + 1;
        uint64_t e2 = (e * g) & mask; /* odd */
        perm[k] = bitrev((uint32_t)(e2 >> 1), logN);
    }
}

void henn__ckks_apply_perm(uint64_t *out, const uint64_t *in, const uint32_t *perm,
                           size_t N, size_t rows)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < N; k++)
            out[r * N + k] = in[r * N + perm[k]];
}

/*
 * Reduce balanced digits into prime m: x in [0, qj) stands for x or x - qj
 * (when x > qj / 2); returns that integer mod m in [0, m). qj_mod = qj mod m.
 */
static void reduce_digit(uint64_t *out, const uint64_t *x, size_t N, uint64_t qj,
                         const henn__ckks_mod *m)
{
    uint64_t half = qj >> 1, q = m->q;
    if (qj < q) {
        /* x < q already: add q - qj to the negative ones */
        uint64_t diff = q - qj;
        for (size_t k = 0; k < N; k++) {
            uint64_t v = x[k];
            out[k] = v + (diff & ((uint64_t)0 - (uint64_t)(v > half)));
        }
        return;
    }
    uint64_t qj_mod = henn__ckks_reduce_64(qj, m);
    if (qj < 2 * q) {
        /* x < 2q: one conditional subtraction reduces it */
        for (size_t k = 0; k < N; k++) {
            uint64_t v = x[k];
            uint64_t neg = (uint64_t)0 - (uint64_t)(v > half);
            out[k] = henn__ckks_sub_mod(henn__ckks_csub(v, q), qj_mod & neg, q);
        }
        return;
    }
    for (size_t k = 0; k < N; k++) {
        uint64_t v = x[k];
        uint64_t neg = (uint64_t)0 - (uint64_t)(v > half);
        uint64_t r = henn__ckks_reduce_64(v, m);
        out[k] = henn__ckks_sub_mod(r, qj_mod & neg, q);
    }
}

/*
 * acc0/acc1 (N words each, [0, q)) = sum_j dig[j] * key rows of digit j,
 * output prime pi, components 0 and 1 (acc1 NULL: component 0 only, with
 * the rows of component c0). The key rows of one prime are far apart
 * (digit-major layout), so the sums run over blocks of MAC_BLOCK
 * coefficients, one row at a time, with 128-bit accumulators in L1.
 */
#define MAC_BLOCK 256

static void mac_digits(uint64_t *acc0, uint64_t *acc1, const uint64_t *const *dig, size_t nd,
                       const henn_ckks_ksk *ksk, size_t pi, size_t c0, const henn__ckks_mod *m)
{
    const henn_ckks_params *params = ksk->params;
    size_t N = params->N, rows = params->L + 1;
    henn__u128 s0[MAC_BLOCK], s1[MAC_BLOCK];
    for (size_t b = 0; b < N; b += MAC_BLOCK) {
        for (size_t j = 0; j < nd; j++) {
            const uint64_t *x = dig[j] + b;
            const uint64_t *k0 = ksk->data + ((j * 2 + c0) * rows + pi) * N + b;
            const uint64_t *k1 = ksk->data + ((j * 2 + 1) * rows + pi) * N + b;
            if (acc1 == NULL) {
                if (j == 0)
                    for (size_t k = 0; k < MAC_BLOCK; k++)
                        s0[k] = (henn__u128)x[k] * k0[k];
                else
                    for (size_t k = 0; k < MAC_BLOCK; k++)
                        s0[k] += (henn__u128)x[k] * k0[k];
            } else if (j == 0) {
                for (size_t k = 0; k < MAC_BLOCK; k++) {
                    s0[k] = (henn__u128)x[k] * k0[k];
                    s1[k] = (henn__u128)x[k] * k1[k];
                }
            } else {
                for (size_t k = 0; k < MAC_BLOCK; k++) {
                    s0[k] += (henn__u128)x[k] * k0[k];
                    s1[k] += (henn__u128)x[k] * k1[k];
                }
            }
        }
        for (size_t k = 0; k < MAC_BLOCK; k++)
            acc0[b + k] = henn__ckks_reduce_128(s0[k], m);
        if (acc1 != NULL)
            for (size_t k = 0; k < MAC_BLOCK; k++)
                acc1[b + k] = henn__ckks_reduce_128(s1[k], m);
    }
}

/*
 * The work in three passes of independent items (each writes its own rows;
 * with threads > 1 they run through henn__parallel_for, else in order):
 *  1. digits j < nd: INTT limb j (dc_j), reduce it mod P and NTT (redP_j);
 *  2. data primes i < nd: reduce every other digit mod q_i, NTT,
 *     multiply-accumulate both components (acc_i); and the P-limb: MAC and
 *     INTT (one item, or one per component when split over threads);
 *  3. (prime i, component c): mod-down, r_c,i += (acc - [tP_c]_{q_i}) / P.
 */
typedef struct ks_job {
    const henn_ckks_params *params;
    const henn_ckks_ksk *ksk;
    const uint64_t *d;
    uint64_t *r[2];
    size_t nd;
    uint64_t *dc, *redP, *acc, *tP, *scratch; /* scratch: slots x nd rows */
    int split_p;
} ks_job;

/* Pass 1, digit j. */
static void ks_digit(ks_job *jb, size_t j)
{
    const henn_ckks_params *params = jb->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, L = params->L;
    uint64_t *dc = jb->dc + j * N, *rp = jb->redP + j * N;
    memcpy(dc, jb->d + j * N, N * sizeof(uint64_t));
    henn__ckks_ntt_inverse(dc, &tb->ntt[j]);
    reduce_digit(rp, dc, N, params->q[j], &tb->mod[L]);
    henn__ckks_ntt_forward_lazy(rp, &tb->ntt[L]);
}

/* Pass 2, item u: data prime u < nd, else the P-limb (component u - nd
 * when split, else both). */
static void ks_mac(ks_job *jb, size_t u, uint64_t *red)
{
    const henn_ckks_params *params = jb->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, L = params->L, nd = jb->nd;
    const uint64_t *dig[HENN_CKKS_MAX_PRIMES] = {0};
    if (u >= nd) {
        for (size_t j = 0; j < nd; j++)
            dig[j] = jb->redP + j * N;
        if (!jb->split_p) {
            mac_digits(jb->tP, jb->tP + N, dig, nd, jb->ksk, L, 0, &tb->mod[L]);
            henn__ckks_ntt_inverse(jb->tP, &tb->ntt[L]);
            henn__ckks_ntt_inverse(jb->tP + N, &tb->ntt[L]);
        } else {
            size_t c = u - nd;
            mac_digits(jb->tP + c * N, NULL, dig, nd, jb->ksk, L, c, &tb->mod[L]);
            henn__ckks_ntt_inverse(jb->tP + c * N, &tb->ntt[L]);
        }
        return;
    }
    size_t i = u;
    for (size_t j = 0; j < nd; j++) {
        if (j == i) {
            dig[j] = jb->d + i * N; /* the balanced digit is limb i mod q_i */
            continue;
        }
        reduce_digit(red + j * N, jb->dc + j * N, N, params->q[j], &tb->mod[i]);
        henn__ckks_ntt_forward_lazy(red + j * N, &tb->ntt[i]);
        dig[j] = red + j * N;
    }
    mac_digits(jb->acc + 2 * i * N, jb->acc + (2 * i + 1) * N, dig, nd, jb->ksk, i, 0,
               &tb->mod[i]);
}

/* Pass 3, item u: prime u / 2, component u % 2. */
static void ks_moddown(ks_job *jb, size_t u, uint64_t *w)
{
    const henn_ckks_params *params = jb->params;
    const struct henn__ckks_tables *tb = params->tables;
    size_t N = params->N, L = params->L, i = u / 2, c = u % 2;
    uint64_t P = params->q[L];
    const henn__ckks_mod *m = &tb->mod[i];
    uint64_t q = m->q;
    uint64_t pinv = henn__ckks_inv_mod(henn__ckks_reduce_64(P, m), m);
    uint64_t pinv_s = henn__ckks_shoup(pinv, q);
    const uint64_t *acc = jb->acc + (2 * i + c) * N;
    uint64_t *r = jb->r[c] + i * N;
    reduce_digit(w, jb->tP + c * N, N, P, m);
    henn__ckks_ntt_forward_lazy(w, &tb->ntt[i]); /* [0, 2q) */
    for (size_t k = 0; k < N; k++) {
        uint64_t v = henn__ckks_mul_shoup(acc[k] + 2 * q - w[k], pinv, pinv_s, q);
        r[k] = henn__ckks_add_mod(r[k], v, q);
    }
}

static int ks_item(void *ctx, size_t phase, size_t item, size_t slot)
{
    ks_job *jb = ctx;
    uint64_t *scratch = jb->scratch + slot * jb->nd * jb->params->N;
    if (phase == 0)
        ks_digit(jb, item);
    else if (phase == 1)
        ks_mac(jb, item, scratch);
    else
        ks_moddown(jb, item, scratch);
    return 0;
}

int henn__ckks_keyswitch(uint64_t *r0, uint64_t *r1, const uint64_t *d, size_t level,
                         const henn_ckks_ksk *ksk)
{
    const henn_ckks_params *params = ksk->params;
    size_t N = params->N, nd = level + 1;
    unsigned threads = henn__ckks_threads(params, nd, nd + 2, HENN__CKKS_PAR_MIN_KS);
    ks_job jb;
    memset(&jb, 0, sizeof(jb));
    jb.params = params;
    jb.ksk = ksk;
    jb.d = d;
    jb.r[0] = r0;
    jb.r[1] = r1;
    jb.nd = nd;
    jb.split_p = threads > 1;
    /* dc, redP (nd rows each), acc (2 nd), tP (2), scratch (threads x nd) */
    size_t words = (4 * nd + 2 + threads * nd) * N;
    uint64_t *buf = malloc(words * sizeof(uint64_t));
    if (buf == NULL)
        return HENN_ENOMEM;
    jb.dc = buf;
    jb.redP = jb.dc + nd * N;
    jb.acc = jb.redP + nd * N;
    jb.tP = jb.acc + 2 * nd * N;
    jb.scratch = jb.tP + 2 * N;
    /* pass 2: the primes first (the larger items), then the P-limb */
    const size_t counts[3] = {nd, nd + (jb.split_p ? 2u : 1u), 2 * nd};
    int rc = henn__ckks_phases(threads, counts, 3, ks_item, &jb);
    free(buf);
    return rc;
}
