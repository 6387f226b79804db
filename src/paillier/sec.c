/*
 * Constant-time glue for the secret-key operations: reductions, the L
 * function and the CRT recombination of decryption and key-holder
 * encryption, on fixed-size limb arrays with GMP's mpn_sec_* functions
 * (GMP manual, "Low-level functions for cryptography"), whose running time
 * and memory accesses depend only on the operand sizes. The sizes used are
 * those of p, q and n (public); values are never branched on. Scratch
 * memory is wiped before it is freed.
 *
 * What is not constant time: converting an mpz to and from limbs reads
 * mpz_size(x), which differs from the full size only when the top limb is
 * zero (probability about 2^-64 for residues of secret-dependent values).
 */
#include <stdlib.h>

#include "paillier_internal.h"

/* dst[0 .. len) = x, zero-extended; x must fit in len limbs. */
static void load(mp_limb_t *dst, mp_size_t len, const mpz_t x)
{
    mp_size_t s = (mp_size_t)mpz_size(x);
    mpn_zero(dst, len);
    if (s > 0)
        mpn_copyi(dst, mpz_limbs_read(x), s < len ? s : len);
}

static void store(mpz_t x, const mp_limb_t *src, mp_size_t len)
{
    mp_limb_t *d = mpz_limbs_write(x, len);
    mpn_copyi(d, src, len);
    mpz_limbs_finish(x, len);
}

static mp_size_t max_sz(mp_size_t a, mp_size_t b)
{
    return a > b ? a : b;
}

/* One wiped heap block for a function's limb arrays and scratch. */
typedef struct {
    mp_limb_t *mem;
    size_t limbs;
} block;

static mp_limb_t *block_alloc(block *b, size_t limbs)
{
    b->limbs = limbs;
    b->mem = calloc(limbs, sizeof(mp_limb_t));
    return b->mem;
}

static void block_free(block *b)
{
    if (b->mem != NULL)
        henn_memzero(b->mem, b->limbs * sizeof(mp_limb_t));
    free(b->mem);
    b->mem = NULL;
}

int henn__sec_mod(mpz_t r, const mpz_t a, size_t a_limbs, const mpz_t m)
{
    mp_size_t an = (mp_size_t)a_limbs, mn = (mp_size_t)mpz_size(m);
    mp_limb_t *x, *ml, *tp;
    block b;
    if (mpz_sgn(a) < 0 || mpz_sgn(m) <= 0 || mpz_size(a) > a_limbs || an < mn)
        return HENN_EINVAL;
    if (block_alloc(&b, (size_t)(an + mn + (mp_size_t)mpn_sec_div_r_itch(an, mn))) == NULL)
        return HENN_ENOMEM;
    x = b.mem;
    ml = x + an;
    tp = ml + mn;
    load(x, an, a);
    load(ml, mn, m);
    mpn_sec_div_r(x, an, ml, mn, tp);
    store(r, x, mn);
    block_free(&b);
    return 0;
}

int henn__sec_crt_half(mpz_t mp, const mpz_t x, const mpz_t p, const mpz_t hp)
{
    mp_size_t P = (mp_size_t)mpz_size(p), P2 = 2 * P, itch;
    mp_limb_t *xl, *q, *pl, *hl, *t, *tp;
    block b;
    if (mpz_sgn(x) <= 0 || mpz_size(x) > (size_t)P2 || mpz_size(hp) > (size_t)P)
        return HENN_EINVAL;
    itch = max_sz((mp_size_t)mpn_sec_sub_1_itch(P2), (mp_size_t)mpn_sec_div_qr_itch(P2, P));
    itch = max_sz(itch, (mp_size_t)mpn_sec_mul_itch(P, P));
    itch = max_sz(itch, (mp_size_t)mpn_sec_div_r_itch(P2, P));
    if (block_alloc(&b, (size_t)(P2 + (P + 1) + P + P + P2 + itch)) == NULL)
        return HENN_ENOMEM;
    xl = b.mem;
    q = xl + P2;
    pl = q + P + 1;
    hl = pl + P;
    t = hl + P;
    tp = t + P2;
    load(xl, P2, x);
    load(pl, P, p);
    load(hl, P, hp);
    /* L_p(x) = (x - 1) / p: x = 1 mod p, so the division is exact and the
     * quotient is below p (x < p^2) */
    mpn_sec_sub_1(xl, xl, P2, 1, tp);
    q[P] = mpn_sec_div_qr(q, xl, P2, pl, P, tp);
    /* m_p = L_p(x) hp mod p */
    mpn_sec_mul(t, q, P, hl, P, tp);
    mpn_sec_div_r(t, P2, pl, P, tp);
    store(mp, t, P);
    block_free(&b);
    return 0;
}

int henn__sec_crt_combine(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t m1,
                          const mpz_t m2, const mpz_t inv)
{
    mp_size_t M1 = (mp_size_t)mpz_size(m1), M2 = (mp_size_t)mpz_size(m2), itch;
    mp_limb_t *al, *d, *l2, *il, *l1, *t, *u, *tp;
    block blk;
    if (M1 > M2 || mpz_size(a) > (size_t)M1 || mpz_size(b) > (size_t)M2 ||
        mpz_size(inv) > (size_t)M2 || mpz_sgn(a) < 0 || mpz_sgn(b) < 0)
        return HENN_EINVAL;
    itch = max_sz((mp_size_t)mpn_sec_mul_itch(M2 + 1, M2),
                  (mp_size_t)mpn_sec_div_r_itch(2 * M2 + 1, M2));
    itch = max_sz(itch, (mp_size_t)mpn_sec_mul_itch(M2, M1));
    if (block_alloc(&blk, (size_t)((M1 + M2) + (M2 + 1) + M2 + M2 + M1 + (2 * M2 + 1) +
                                   (M1 + M2) + itch)) == NULL)
        return HENN_ENOMEM;
    al = blk.mem;
    d = al + M1 + M2;
    l2 = d + M2 + 1;
    il = l2 + M2;
    l1 = il + M2;
    t = l1 + M1;
    u = t + 2 * M2 + 1;
    tp = u + M1 + M2;
    load(al, M1 + M2, a);
    load(d, M2, b);
    load(l2, M2, m2);
    load(il, M2, inv);
    load(l1, M1, m1);
    /* d = b + m2 - a in [1, 2 m2): a < m1 <= m2 */
    d[M2] = mpn_add_n(d, d, l2, M2);
    mpn_sub_n(d, d, al, M2 + 1);
    /* t = d inv mod m2 */
    mpn_sec_mul(t, d, M2 + 1, il, M2, tp);
    mpn_sec_div_r(t, 2 * M2 + 1, l2, M2, tp);
    /* r = a + m1 t */
    mpn_sec_mul(u, t, M2, l1, M1, tp);
    mpn_add_n(u, u, al, M1 + M2);
    store(r, u, M1 + M2);
    block_free(&blk);
    return 0;
}

int henn__sec_divqr(mpz_t q, mpz_t r, const mpz_t a, size_t a_limbs, const mpz_t m)
{
    mp_size_t an = (mp_size_t)a_limbs, mn = (mp_size_t)mpz_size(m), qn;
    mp_limb_t *x, *ml, *ql, *tp;
    block b;
    if (mpz_sgn(a) < 0 || mpz_sgn(m) <= 0 || mpz_size(a) > a_limbs || an < mn)
        return HENN_EINVAL;
    qn = an - mn + 1;
    if (block_alloc(&b, (size_t)(an + mn + qn + (mp_size_t)mpn_sec_div_qr_itch(an, mn))) ==
        NULL)
        return HENN_ENOMEM;
    x = b.mem;
    ml = x + an;
    ql = ml + mn;
    tp = ql + qn;
    load(x, an, a);
    load(ml, mn, m);
    ql[qn - 1] = mpn_sec_div_qr(ql, x, an, ml, mn, tp);
    store(q, ql, qn);
    store(r, x, mn);
    block_free(&b);
    return 0;
}

int henn__sec_muladd(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t m)
{
    mp_size_t M = (mp_size_t)mpz_size(m);
    mp_limb_t *al, *bl, *ml, *t, *tp;
    block blk;
    if (M == 0 || mpz_sgn(a) < 0 || mpz_sgn(b) < 0 || mpz_size(a) > (size_t)M ||
        mpz_size(b) > (size_t)M)
        return HENN_EINVAL;
    if (block_alloc(&blk, (size_t)(3 * M + 2 * M + 1 + (mp_size_t)mpn_sec_mul_itch(M, M))) ==
        NULL)
        return HENN_ENOMEM;
    al = blk.mem;
    bl = al + M;
    ml = bl + M;
    t = ml + M;
    tp = t + 2 * M + 1;
    load(al, M, a);
    load(bl, M, b);
    load(ml, M, m);
    /* t = b m + a, 2 M + 1 limbs */
    mpn_sec_mul(t, bl, M, ml, M, tp);
    t[2 * M] = mpn_add(t, t, 2 * M, al, M);
    store(r, t, 2 * M + 1);
    block_free(&blk);
    return 0;
}
