/*
 * Fixed-base exponentiation h_s^a mod n^2 for the DJN encryption path
 * (Damgard-Jurik-Nielsen 2010, section 4.2; Brickell-Gordon-McCurley-Wilson
 * style per-position tables).
 *
 * a is cut into w-bit digits a = sum_j d_j 2^(w j). For every digit
 * position j the table holds T[j][d] = h_s^(d 2^(w j)) * R mod n^2 for
 * d = 1 .. 2^w - 1, in Montgomery form (mont.c: IFMA or mpn backend).
 * Then h_s^a = prod_j T[j][d_j], one Montgomery multiplication per non-zero
 * digit and no squarings.
 *
 * Timing: the table index and the number of multiplications depend on a
 * (see the warning on henn_paillier_encrypt).
 */
#include <stdlib.h>

#include "paillier_internal.h"

struct henn__paillier_fbtab {
    unsigned w;
    size_t positions;
    const henn__mont *mt; /* the public key's Montgomery context of n^2 */
    mp_limb_t *tab;       /* positions * (2^w - 1) * mt->words words */
};

void henn__paillier_fbtab_free(struct henn__paillier_fbtab *t)
{
    if (t == NULL)
        return;
    free(t->tab);
    free(t);
}

int henn__paillier_fbtab_build(struct henn__paillier_fbtab **out, const mpz_t hs,
                               const henn__mont *mt, size_t a_bits, unsigned w)
{
    struct henn__paillier_fbtab *t;
    size_t per, j, d, entries, nl;
    mp_limb_t *scratch = NULL;
    mpz_t x;
    int rc = HENN_ENOMEM;

    *out = NULL;
    if (w < 2 || w > 12 || a_bits == 0 || mt == NULL)
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    mpz_init(x);
    t->w = w;
    t->positions = (a_bits + w - 1) / w;
    t->mt = mt;
    nl = mt->words;
    per = ((size_t)1 << w) - 1;
    entries = t->positions * per;
    t->tab = malloc(entries * nl * sizeof(mp_limb_t));
    scratch = malloc(mt->scratch_words * sizeof(mp_limb_t));
    if (t->tab == NULL || scratch == NULL)
        goto cleanup;
    /* T[0][1] = h_s * R mod n^2. */
    henn__mont_to(mt, t->tab, hs, x);
    for (j = 0; j < t->positions; j++) {
        mp_limb_t *row = t->tab + j * per * nl;
        for (d = 2; d <= per; d++)
            henn__mont_mul(mt, row + (d - 1) * nl, row + (d - 2) * nl, row, scratch);
        if (j + 1 < t->positions) /* T[j+1][1] = T[j][2^w - 1] * T[j][1] */
            henn__mont_mul(mt, row + per * nl, row + (per - 1) * nl, row, scratch);
    }
    *out = t;
    t = NULL;
    rc = 0;
cleanup:
    free(scratch);
    mpz_clear(x);
    henn__paillier_fbtab_free(t);
    return rc;
}

int henn__paillier_fbtab_pow(mpz_t r, const struct henn__paillier_fbtab *t, const mpz_t a)
{
    size_t nl = t->mt->words, per = ((size_t)1 << t->w) - 1, j, len;
    mp_limb_t *acc, *tmp;
    int have = 0;

    if (mpz_sgn(a) < 0 || mpz_sizeinbase(a, 2) > t->positions * t->w)
        return HENN_EINVAL;
    len = (nl + t->mt->scratch_words) * sizeof(mp_limb_t);
    acc = malloc(len);
    if (acc == NULL)
        return HENN_ENOMEM;
    tmp = acc + nl;
    for (j = 0; j < t->positions; j++) {
        size_t d = 0;
        unsigned b;
        for (b = 0; b < t->w; b++)
            d |= (size_t)mpz_tstbit(a, (mp_bitcnt_t)(j * t->w + b)) << b;
        if (d == 0)
            continue;
        const mp_limb_t *e = t->tab + (j * per + d - 1) * nl;
        if (!have) {
            memcpy(acc, e, nl * sizeof(mp_limb_t));
            have = 1;
        } else {
            henn__mont_mul(t->mt, acc, acc, e, tmp);
        }
    }
    if (!have) {
        mpz_set_ui(r, 1);
    } else {
        henn__mont_from(t->mt, r, acc, tmp);
    }
    henn_memzero(acc, len);
    free(acc);
    return 0;
}

/*
 * Eight exponents at once on the 8-lane engine modulo n^2 (mont_mb.c): for
 * every digit position the lanes' table entries are copied into one 8-lane
 * operand and multiplied in, so the products run vertically (the table's
 * single-buffer IFMA residues are < 2 n^2, 52-bit limbs, and fit the
 * engine's L limbs). Every position takes part (a zero digit multiplies by
 * the entry of 1, R_s mod n^2), so the product of the P positions is
 * X R_s^P / R^(P-1) with R_s = 2^(52 words) the table's Montgomery factor
 * and R the engine's; one product with K = R^(P+1) / R_s^P (built as the
 * engine's form of (R / R_s)^P) gives X R, which leaves Montgomery form as
 * usual. Same results as henn__paillier_fbtab_pow; the same timing caveat
 * (table rows chosen by a).
 */
int henn__paillier_fbtab_pow8(mpz_t *r, const struct henn__paillier_fbtab *t, const mpz_t *a,
                              size_t count)
{
    const henn__mb *mb = t->mt->mb;
    size_t nl = t->mt->words, per = ((size_t)1 << t->w) - 1, L, W, j, l, k, words, abits, aw_len;
    uint64_t *mem, *acc, *op, *kv, *one, *aw;
    mpz_t x, tmp, n2;
    int rc = 0;
    if (count > HENN__MB_LANES)
        return HENN_EINVAL;
    abits = t->positions * t->w;
    for (l = 0; l < count; l++)
        if (mpz_sgn(a[l]) < 0 || mpz_sizeinbase(a[l], 2) > abits)
            return HENN_EINVAL;
    if (count == 0)
        return 0;
    if (mb == NULL || mb->limbs == 0 || t->mt->v == 0 || mb->limbs > nl) {
        for (l = 0; l < count && rc == 0; l++) /* no 8-lane engine for this table */
            rc = henn__paillier_fbtab_pow(r[l], t, a[l]);
        return rc;
    }
    L = mb->limbs;
    W = henn__mb_words(mb);
    aw_len = abits / 64 + 2;
    words = (3 * W + nl + HENN__MB_LANES * aw_len + 7) / 8 * 8;
    mem = aligned_alloc(64, words * sizeof(uint64_t));
    if (mem == NULL)
        return HENN_ENOMEM;
    memset(mem, 0, words * sizeof(uint64_t));
    acc = mem;
    op = acc + W;
    kv = op + W;
    one = kv + W;
    aw = one + nl;
    mpz_init(x);
    mpz_init(tmp);
    mpz_roinit_n(n2, t->mt->m, t->mt->nl);
    /* one = R_s mod n^2 (table form of 1); kv = (R / R_s)^P in the engine's form */
    mpz_set_ui(x, 1);
    henn__mont_to(t->mt, one, x, tmp);
    mpz_set_ui(x, 0);
    mpz_setbit(x, (mp_bitcnt_t)(52 * (nl - L) * t->positions));
    if (mpz_invert(x, x, n2) == 0) {
        rc = HENN_EKEY; /* n^2 even: cannot happen for a key */
    } else {
        mpz_t xs[HENN__MB_LANES];
        for (l = 0; l < HENN__MB_LANES; l++) /* read-only views of x in every lane */
            mpz_roinit_n(xs[l], mpz_limbs_read(x), (mp_size_t)mpz_size(x));
        henn__mb_to(mb, kv, (const mpz_t *)xs, HENN__MB_LANES);
    }
    /* the exponents as words (zero past their end, one word of padding) */
    for (l = 0; l < count; l++) {
        size_t got = 0;
        mpz_export(aw + l * aw_len, &got, -1, sizeof(uint64_t), 0, 0, a[l]);
    }
    for (j = 0; rc == 0 && j < t->positions; j++) {
        size_t pos = j * t->w, wk = pos / 64;
        unsigned off = (unsigned)(pos % 64);
        for (l = 0; l < HENN__MB_LANES; l++) {
            size_t d = 0;
            const uint64_t *e;
            if (l < count) {
                const uint64_t *xw = aw + l * aw_len;
                uint64_t v = xw[wk] >> off;
                if (off + t->w > 64)
                    v |= xw[wk + 1] << (64 - off);
                d = (size_t)(v & (((uint64_t)1 << t->w) - 1));
            }
            e = d == 0 ? one : t->tab + (j * per + d - 1) * nl;
            for (k = 0; k < L; k++)
                op[k * HENN__MB_LANES + l] = e[k];
            if (l < count && j + 1 < t->positions) { /* the next position's entry */
                size_t npos = pos + t->w, nwk = npos / 64;
                unsigned noff = (unsigned)(npos % 64);
                const uint64_t *xw = aw + l * aw_len;
                uint64_t v = xw[nwk] >> noff;
                size_t nd;
                if (noff + t->w > 64)
                    v |= xw[nwk + 1] << (64 - noff);
                nd = (size_t)(v & (((uint64_t)1 << t->w) - 1));
                if (nd != 0) {
                    const char *ne = (const char *)(t->tab + ((j + 1) * per + nd - 1) * nl);
                    for (k = 0; k < nl * sizeof(uint64_t); k += 64)
                        __builtin_prefetch(ne + k);
                }
            }
        }
        if (j == 0)
            memcpy(acc, op, W * sizeof(uint64_t));
        else
            henn__mb_mul(mb, acc, acc, op);
    }
    if (rc == 0) {
        henn__mb_mul(mb, acc, acc, kv);
        henn__mb_from(mb, r, count, acc, op);
    }
    henn_memzero(mem, words * sizeof(uint64_t)); /* the noise is secret */
    free(mem);
    mpz_clear(x);
    henn__mpz_wipe_clear(tmp);
    return rc;
}

/*
 * The key holder's DJN noise through the CRT: h_s^a mod n^2 from
 * h_s^a mod p^2 and h_s^a mod q^2, each on fixed-base tables of pairs
 * modulo the prime (henn__sqfb, mont_mb.c), recombined with the
 * constant-time CRT of key-holder encryption (sec.c). Same values as
 * henn__paillier_fbtab_pow8 (the CRT is exact), for the same a.
 */
struct henn__paillier_fbcrt {
    henn__sqfb *t[2]; /* modulo p^2, q^2 */
    size_t a_bits;
};

void henn__paillier_fbcrt_free(struct henn__paillier_fbcrt *t)
{
    if (t == NULL)
        return;
    henn__sqfb_free(t->t[0]);
    henn__sqfb_free(t->t[1]);
    henn_memzero(t, sizeof(*t));
    free(t);
}

int henn__paillier_fbcrt_build(struct henn__paillier_fbcrt **out, const henn_paillier_sk *sk,
                               unsigned w)
{
    struct henn__paillier_fbcrt *t;
    mpz_t h;
    int rc, k;
    *out = NULL;
    if (sk == NULL || mpz_sgn(sk->pk.hs) <= 0 || sk->pk.a_bits == 0 || mpz_sgn(sk->p) <= 0 ||
        mpz_sgn(sk->q) <= 0)
        return HENN_EINVAL;
    if (!henn__mbsq_usable(sk->p) || !henn__mbsq_usable(sk->q))
        return HENN_EPARAM;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    t->a_bits = sk->pk.a_bits;
    mpz_init(h);
    rc = 0;
    for (k = 0; k < 2 && rc == 0; k++) {
        /* h_s mod p^2 (q^2), in constant time: the residue reveals p */
        rc = henn__sec_mod(h, sk->pk.hs, mpz_size(sk->pk.n2), k == 0 ? sk->p2 : sk->q2);
        if (rc == 0)
            rc = henn__sqfb_build(&t->t[k], h, k == 0 ? sk->p : sk->q, t->a_bits, w);
    }
    henn__mpz_wipe_clear(h);
    if (rc == 0 && henn__sqfb_positions(t->t[0]) != henn__sqfb_positions(t->t[1]))
        rc = HENN_EPARAM; /* cannot happen: same a_bits and w */
    if (rc != 0) {
        henn__paillier_fbcrt_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int henn__paillier_fbcrt_pow8(mpz_t *r, const struct henn__paillier_fbcrt *t,
                              const henn_paillier_sk *sk, const mpz_t *a, size_t count)
{
    size_t P = henn__sqfb_positions(t->t[0]), w = henn__sqfb_window(t->t[0]), aw_len, j, l;
    size_t dlen = P * HENN__MB_LANES;
    uint64_t *aw;
    uint16_t *dg;
    mpz_t xp[HENN__MB_LANES], xq[HENN__MB_LANES];
    int rc = 0;
    if (count > HENN__MB_LANES)
        return HENN_EINVAL;
    for (l = 0; l < count; l++)
        if (mpz_sgn(a[l]) < 0 || mpz_sizeinbase(a[l], 2) > P * w)
            return HENN_EINVAL;
    if (count == 0)
        return 0;
    aw_len = P * w / 64 + 2;
    aw = calloc(HENN__MB_LANES * aw_len, sizeof(uint64_t));
    dg = calloc(dlen, sizeof(uint16_t));
    if (aw == NULL || dg == NULL) {
        free(aw);
        free(dg);
        return HENN_ENOMEM;
    }
    /* the digits of every lane's exponent, position-major */
    for (l = 0; l < count; l++) {
        const uint64_t *xw = aw + l * aw_len;
        size_t got = 0;
        mpz_export(aw + l * aw_len, &got, -1, sizeof(uint64_t), 0, 0, a[l]);
        for (j = 0; j < P; j++) {
            size_t pos = j * w, wk = pos / 64;
            unsigned off = (unsigned)(pos % 64);
            uint64_t v = xw[wk] >> off;
            if (off + w > 64)
                v |= xw[wk + 1] << (64 - off);
            dg[j * HENN__MB_LANES + l] = (uint16_t)(v & (((uint64_t)1 << w) - 1));
        }
    }
    for (l = 0; l < HENN__MB_LANES; l++) {
        mpz_init(xp[l]);
        mpz_init(xq[l]);
    }
    rc = henn__sqfb_pow8(xp, t->t[0], dg, count);
    if (rc == 0)
        rc = henn__sqfb_pow8(xq, t->t[1], dg, count);
    for (l = 0; l < count && rc == 0; l++)
        rc = henn__sec_crt_combine(r[l], xp[l], xq[l], sk->p2, sk->q2, sk->p2_inv_q2);
    for (l = 0; l < HENN__MB_LANES; l++) {
        henn__mpz_wipe_clear(xp[l]);
        henn__mpz_wipe_clear(xq[l]);
    }
    henn_memzero(aw, HENN__MB_LANES * aw_len * sizeof(uint64_t)); /* the noise exponents */
    henn_memzero(dg, dlen * sizeof(uint16_t));
    free(aw);
    free(dg);
    return rc;
}
