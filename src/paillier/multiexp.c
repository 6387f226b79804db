/*
 * Simultaneous multi-exponentiation prod_i b_i^e_i mod m for many
 * exponent vectors over the same bases (Straus 1964, "interleaving" with
 * fixed windows; see also Moeller 2001). With w-bit windows each base
 * gets a table b^1 .. b^(2^w - 1) built once; every output then costs
 * ebits squarings plus one multiplication per non-zero window digit.
 * This is how the protocols evaluate W x on encrypted x: the bases are
 * ciphertexts, the exponents the (offset) fixed-point weights. With 8
 * outputs or more and a square modulus (n^2) the work goes to the 8-lane
 * engine on pairs modulo n (henn__mbsq_multi_exp, mont_mb.c).
 */
#include <stdlib.h>

#include "paillier_internal.h"

typedef struct me_ctx {
    henn__mont mt;
    const mpz_t *base;
    size_t m;
    unsigned w;
    mp_limb_t *tab; /* m * (2^w - 1) * words */
    const uint32_t *e;
    unsigned ebits;
    mpz_t *r;
} me_ctx;

static int build_chunk(void *vctx, size_t begin, size_t end)
{
    me_ctx *c = vctx;
    size_t nl = c->mt.words, per = ((size_t)1 << c->w) - 1, i, d;
    mp_limb_t *t = malloc(c->mt.scratch_words * sizeof(mp_limb_t));
    mpz_t tmp;
    if (t == NULL)
        return HENN_ENOMEM;
    mpz_init(tmp);
    for (i = begin; i < end; i++) {
        mp_limb_t *row = c->tab + i * per * nl;
        henn__mont_to(&c->mt, row, c->base[i], tmp);
        for (d = 2; d <= per; d++)
            henn__mont_mul(&c->mt, row + (d - 1) * nl, row + (d - 2) * nl, row, t);
    }
    mpz_clear(tmp);
    free(t);
    return 0;
}

static int eval_chunk(void *vctx, size_t begin, size_t end)
{
    me_ctx *c = vctx;
    size_t nl = c->mt.words, per = ((size_t)1 << c->w) - 1, h, i;
    unsigned digits = (c->ebits + c->w - 1) / c->w, mask = (1u << c->w) - 1, k;
    mp_limb_t *acc = malloc((nl + c->mt.scratch_words) * sizeof(mp_limb_t)), *t;
    if (acc == NULL)
        return HENN_ENOMEM;
    t = acc + nl;
    for (h = begin; h < end; h++) {
        const uint32_t *e = c->e + h * c->m;
        int started = 0;
        unsigned pos;
        for (pos = digits; pos-- > 0;) {
            if (started)
                for (k = 0; k < c->w; k++)
                    henn__mont_mul(&c->mt, acc, acc, acc, t);
            for (i = 0; i < c->m; i++) {
                unsigned d = (unsigned)(e[i] >> (pos * c->w)) & mask;
                const mp_limb_t *x;
                if (d == 0)
                    continue;
                x = c->tab + (i * per + d - 1) * nl;
                if (!started) {
                    memcpy(acc, x, nl * sizeof(mp_limb_t));
                    started = 1;
                } else {
                    henn__mont_mul(&c->mt, acc, acc, x, t);
                }
            }
        }
        if (!started)
            mpz_set_ui(c->r[h], 1);
        else
            henn__mont_from(&c->mt, c->r[h], acc, t);
    }
    free(acc);
    return 0;
}

int henn__paillier_multi_exp(mpz_t *r, const mpz_t m2, const mpz_t *base, size_t m,
                             const uint32_t *e, size_t outs, unsigned ebits,
                             const henn_batch_opts *opts)
{
    me_ctx c;
    henn_batch_opts quiet = {0, NULL, NULL};
    size_t i, h, per;
    int rc;

    if (m == 0 || outs == 0 || ebits == 0 || ebits > 32 || mpz_sgn(m2) <= 0 || mpz_even_p(m2))
        return HENN_EINVAL;
    for (i = 0; i < m; i++)
        if (mpz_sgn(base[i]) < 0 || mpz_cmp(base[i], m2) >= 0)
            return HENN_EINVAL;
    for (h = 0; ebits < 32 && h < outs * m; h++)
        if (e[h] >> ebits)
            return HENN_EINVAL;
    /* 8 outputs or more: 8 at a time on pairs modulo the root of m2 (the
     * protocols' n^2), when the 8-lane engine runs (with fewer the tables
     * cost more than they save: 5 outputs of 41 bases, the published
     * second layer, 3.8 ms on pairs against 2.3-2.5 ms per CPU) */
    if (outs >= HENN__MB_LANES) {
        mpz_t root, sq;
        int use;
        mpz_init(root);
        mpz_init(sq);
        mpz_sqrt(root, m2);
        mpz_mul(sq, root, root);
        use = mpz_cmp(sq, m2) == 0 && henn__mbsq_usable(root);
        rc = use ? henn__mbsq_multi_exp(r, root, base, m, e, outs, ebits, opts) : 0;
        mpz_clear(root);
        mpz_clear(sq);
        if (use)
            return rc;
    }
    memset(&c, 0, sizeof(c));
    rc = henn__mont_init(&c.mt, m2);
    if (rc != 0)
        return rc;
    /* Bigger windows pay off when many outputs share the tables. */
    c.w = outs >= 16 ? 5 : outs >= 4 ? 4 : 3;
    per = ((size_t)1 << c.w) - 1;
    c.base = base;
    c.m = m;
    c.e = e;
    c.ebits = ebits;
    c.r = r;
    c.tab = malloc(m * per * c.mt.words * sizeof(mp_limb_t));
    if (c.tab == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    if (opts != NULL)
        quiet.threads = opts->threads;
    rc = henn__parallel_for(m, &quiet, build_chunk, &c);
    if (rc == 0)
        rc = henn__parallel_for(outs, &quiet, eval_chunk, &c);
cleanup:
    free(c.tab);
    henn__mont_clear(&c.mt);
    return rc;
}
