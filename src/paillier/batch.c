/* Array versions of encrypt, decrypt, rerandomise and packed encrypt on the
 * thread pool. Each element is independent. */
#include <stdlib.h>

#include "paillier_internal.h"

typedef struct {
    const henn_paillier_pk *pk;
    const henn_paillier_sk *sk;
    henn_paillier_ct *ct_out;
    const henn_paillier_ct *ct_in;
    henn_paillier_pt *pt_out;
    const henn_paillier_pt *pt_in;
    henn_paillier_packed *packed;
    const int64_t *v;
    size_t v_count, per;
    unsigned slot_bits;
    const struct henn__paillier_fbcrt *crt; /* do_encrypt8: the key holder's tables, or NULL */
} batch;

static int do_encrypt(void *ctx, size_t begin, size_t end)
{
    batch *b = ctx;
    size_t i;
    int rc = 0;
    for (i = begin; i < end && rc == 0; i++)
        rc = henn_paillier_encrypt(&b->ct_out[i], b->pk, &b->pt_in[i]);
    return rc;
}

/* Elements in group g of 8 of total. */
static size_t group_len(size_t total, size_t g)
{
    size_t first = g * HENN__MB_LANES;
    return total - first < HENN__MB_LANES ? total - first : HENN__MB_LANES;
}

/* Groups of 8 elements gbegin .. gend with the fixed-base table: the DJN
 * exponents a drawn in element order as the single call draws them, h_s^a
 * for the group on the 8-lane engine (henn__paillier_fbtab_pow8, the same
 * values as one at a time; for the key holder with b->crt,
 * henn__paillier_fbcrt_pow8, the same values again), then each element
 * finished as henn_paillier_encrypt finishes it. */
static int do_encrypt8(void *ctx, size_t gbegin, size_t gend)
{
    batch *b = ctx;
    mpz_t a[HENN__MB_LANES], noise[HENN__MB_LANES];
    size_t g, l;
    int rc = 0;
    for (l = 0; l < HENN__MB_LANES; l++) {
        mpz_init(a[l]);
        mpz_init(noise[l]);
    }
    for (g = gbegin; g < gend && rc == 0; g++) {
        size_t i0 = g * HENN__MB_LANES, len = group_len(b->v_count, g);
        for (l = 0; l < len && rc == 0; l++)
            rc = henn__mpz_random_bits(a[l], b->pk->a_bits);
        if (rc == 0 && b->crt != NULL)
            rc = henn__paillier_fbcrt_pow8(noise, b->crt, b->sk, (const mpz_t *)a, len);
        else if (rc == 0)
            rc = henn__paillier_fbtab_pow8(noise, b->pk->fb, (const mpz_t *)a, len);
        for (l = 0; l < len && rc == 0; l++)
            rc = henn__paillier_encrypt_noise(&b->ct_out[i0 + l], b->pk, &b->pt_in[i0 + l],
                                              noise[l]);
    }
    for (l = 0; l < HENN__MB_LANES; l++) {
        henn__mpz_wipe_clear(a[l]);
        henn__mpz_wipe_clear(noise[l]);
    }
    return rc;
}

static int do_encrypt_sk(void *ctx, size_t begin, size_t end)
{
    batch *b = ctx;
    size_t i;
    int rc = 0;
    for (i = begin; i < end && rc == 0; i++)
        rc = henn_paillier_encrypt_sk(&b->ct_out[i], b->sk, &b->pt_in[i]);
    return rc;
}

/*
 * Batch CRT decryption, 8 ciphertexts at a time, in three passes on the
 * thread pool:
 *  1. per group of 8: each ciphertext is checked as henn_paillier_decrypt
 *     checks it and reduced mod p^2 and q^2 in constant time;
 *  2. per half-group: the 8 exponentiations c^(p-1) mod p^2 of a group,
 *     or the 8 c^(q-1) mod q^2, together on the multi-buffer IFMA engine
 *     (mont_mb.c, constant time, exponent length that of p), as pairs of
 *     residues modulo p (henn__mbsq_powm_sec, about 1.6x the 8-lane
 *     engine modulo p^2 at 1,024-bit p), or modulo p^2 without it. The halves
 *     are separate units so that two threads share a short batch evenly
 *     (41 ciphertexts: 12 half-groups, 6 per thread, instead of 6 whole
 *     groups of which one thread got 3 full ones);
 *  3. per group: the CRT recombination (constant time, sec.c).
 * A group shorter than DEC_MB_MIN (DEC_SQ_MIN on pairs) is cheaper one at
 * a time on the single-buffer engine. The first failing ciphertext (in index order)
 * stops the batch with the code the single call returns; those before it
 * are decrypted, those after it are not touched.
 */
#define DEC_MB_MIN 5
#define DEC_SQ_MIN 3

typedef struct dec_job {
    const henn_paillier_sk *sk;
    henn_paillier_pt *pt;
    const henn_paillier_ct *ct;
    mpz_t *x[2];         /* count residues each: c mod p^2 (then c^(p-1)), likewise q */
    int *bad;            /* per group: code of its first failing ciphertext, or 0 */
    size_t *bad_at;      /* per group: index of that ciphertext */
    size_t count, valid; /* valid: ciphertexts before the first failing one */
    const henn__mb *mb[2];
} dec_job;

/* Pass 1, groups gbegin..gend: checks and the constant-time reductions. */
static int dec_reduce(void *ctx, size_t gbegin, size_t gend)
{
    dec_job *j = ctx;
    const henn_paillier_sk *sk = j->sk;
    size_t c_limbs = mpz_size(sk->pk.n2), g, l;
    int rc = 0;
    for (g = gbegin; g < gend && rc == 0; g++) {
        size_t i0 = g * HENN__MB_LANES, len = group_len(j->count, g);
        for (l = 0; l < len && rc == 0; l++) {
            int bad = henn__paillier_decrypt_check(sk, &j->ct[i0 + l]);
            if (bad != 0) {
                j->bad[g] = bad;
                j->bad_at[g] = i0 + l;
                break;
            }
            rc = henn__sec_mod(j->x[0][i0 + l], j->ct[i0 + l].c, c_limbs, sk->p2);
            if (rc == 0)
                rc = henn__sec_mod(j->x[1][i0 + l], j->ct[i0 + l].c, c_limbs, sk->q2);
        }
    }
    return rc;
}

/* Pass 2, half-groups: unit 2 g + h raises group g's residues mod p^2
 * (h = 0) or q^2 (h = 1) to p - 1 or q - 1. */
static int dec_pow(void *ctx, size_t ubegin, size_t uend)
{
    dec_job *j = ctx;
    const henn_paillier_sk *sk = j->sk;
    size_t u, l;
    int rc = 0;
    for (u = ubegin; u < uend && rc == 0; u++) {
        size_t g = u / 2, h = u % 2, i0 = g * HENN__MB_LANES, len = group_len(j->valid, g);
        const mpz_srcptr e = h == 0 ? sk->pm1 : sk->qm1;
        size_t ebits = mpz_sizeinbase(h == 0 ? sk->p : sk->q, 2);
        const henn__mb *mb = j->mb[h];
        mpz_t *xs = j->x[h] + i0;
        const mpz_srcptr root = h == 0 ? sk->p : sk->q;
        if (len >= DEC_SQ_MIN && henn__mbsq_usable(root)) {
            rc = henn__mbsq_powm_sec(xs, (const mpz_t *)xs, len, e, ebits, root);
        } else if (mb->limbs != 0 && len >= DEC_MB_MIN) {
            rc = henn__mb_powm_sec(mb, xs, (const mpz_t *)xs, len, e, ebits);
        } else {
            for (l = 0; l < len && rc == 0; l++)
                rc = henn__mont_powm_sec(&sk->mont[h], xs[l], xs[l], e, ebits);
        }
    }
    henn__burn_stack();
    return rc;
}

/* Pass 3, groups: the CRT recombination (wipes both residues). */
static int dec_finish(void *ctx, size_t gbegin, size_t gend)
{
    dec_job *j = ctx;
    size_t g, l;
    int rc = 0;
    for (g = gbegin; g < gend && rc == 0; g++) {
        size_t i0 = g * HENN__MB_LANES, len = group_len(j->valid, g);
        for (l = 0; l < len && rc == 0; l++)
            rc = henn__paillier_decrypt_finish(&j->pt[i0 + l], j->sk, j->x[0][i0 + l],
                                               j->x[1][i0 + l], j->ct[i0 + l].exponent);
    }
    henn__burn_stack();
    return rc;
}

static int do_rerandomize(void *ctx, size_t gbegin, size_t gend)
{
    batch *b = ctx;
    size_t begin = gbegin * HENN__MB_LANES;
    size_t end = gend * HENN__MB_LANES < b->v_count ? gend * HENN__MB_LANES : b->v_count;
    mpz_t noise[HENN__MB_LANES];
    size_t i, l, g;
    int rc = 0, bad = 0;
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_init(noise[l]);
    for (i = begin; i < end && rc == 0 && bad == 0; i += g) {
        size_t want = end - i < HENN__MB_LANES ? end - i : HENN__MB_LANES;
        /* the group stops before the first ciphertext the single call refuses */
        for (g = 0; g < want; g++) {
            const henn_paillier_ct *a = &b->ct_in[i + g];
            if (!henn__paillier_same_key(b->pk, a->kid))
                bad = HENN_EKEY;
            else if (mpz_sgn(a->c) <= 0 || mpz_cmp(a->c, b->pk->n2) >= 0)
                bad = HENN_ERANGE;
            if (bad != 0)
                break;
        }
        /* one 8-lane r^n for the group (see henn_paillier_rerandomize) */
        if (g > 0)
            rc = henn__paillier_noise(noise, g, b->pk);
        for (l = 0; l < g && rc == 0; l++) {
            henn_paillier_ct *r = &b->ct_out[i + l];
            const henn_paillier_ct *a = &b->ct_in[i + l];
            mpz_mul(r->c, a->c, noise[l]);
            mpz_mod(r->c, r->c, b->pk->n2);
            r->exponent = a->exponent;
            memcpy(r->kid, b->pk->kid, sizeof(r->kid));
        }
    }
    for (l = 0; l < HENN__MB_LANES; l++)
        henn__mpz_wipe_clear(noise[l]);
    return rc != 0 ? rc : bad;
}

static int do_pack_encrypt(void *ctx, size_t begin, size_t end)
{
    batch *b = ctx;
    size_t i;
    int rc = 0;
    for (i = begin; i < end && rc == 0; i++) {
        size_t first = i * b->per;
        size_t n = b->v_count - first < b->per ? b->v_count - first : b->per;
        rc = henn_paillier_pack_encrypt(&b->packed[i], b->pk, b->slot_bits, b->v + first, n);
    }
    return rc;
}

int henn_paillier_encrypt_batch(henn_paillier_ct *ct, const henn_paillier_pk *pk,
                                const henn_paillier_pt *pt, size_t count,
                                const henn_batch_opts *opts)
{
    batch b = {0};
    b.pk = pk;
    b.ct_out = ct;
    b.pt_in = pt;
    /* 8 at a time when the key has its table and its 8-lane context of n^2
     * (progress, when asked for, keeps counting elements one by one) */
    if (pk != NULL && pk->fb != NULL && pk->mont != NULL && pk->mont->mb != NULL &&
        pk->mont->mb->limbs != 0 && mpz_sgn(pk->hs) != 0 &&
        (opts == NULL || opts->progress == NULL)) {
        b.v_count = count;
        return henn__parallel_for((count + HENN__MB_LANES - 1) / HENN__MB_LANES, opts, do_encrypt8,
                                  &b);
    }
    return henn__parallel_for(count, opts, do_encrypt, &b);
}

int henn__paillier_encrypt_batch_crt(henn_paillier_ct *ct, const henn_paillier_sk *sk,
                                     const struct henn__paillier_fbcrt *t,
                                     const henn_paillier_pt *pt, size_t count,
                                     const henn_batch_opts *opts)
{
    batch b = {0};
    if (sk == NULL || t == NULL)
        return HENN_EINVAL;
    if (opts != NULL && opts->progress != NULL) /* per element, as the public call */
        return henn_paillier_encrypt_batch(ct, &sk->pk, pt, count, opts);
    b.pk = &sk->pk;
    b.sk = sk;
    b.crt = t;
    b.ct_out = ct;
    b.pt_in = pt;
    b.v_count = count;
    return henn__parallel_for((count + HENN__MB_LANES - 1) / HENN__MB_LANES, opts, do_encrypt8,
                              &b);
}

int henn_paillier_encrypt_batch_sk(henn_paillier_ct *ct, const henn_paillier_sk *sk,
                                   const henn_paillier_pt *pt, size_t count,
                                   const henn_batch_opts *opts)
{
    batch b = {0};
    b.sk = sk;
    b.ct_out = ct;
    b.pt_in = pt;
    return henn__parallel_for(count, opts, do_encrypt_sk, &b);
}

int henn_paillier_decrypt_batch(henn_paillier_pt *pt, const henn_paillier_sk *sk,
                                const henn_paillier_ct *ct, size_t count,
                                const henn_batch_opts *opts)
{
    dec_job j;
    henn__mb tmp[2];
    henn_batch_opts quiet = {0, NULL, NULL};
    size_t groups = (count + HENN__MB_LANES - 1) / HENN__MB_LANES, i, g;
    int rc = 0, first_bad = 0, inited = 0;
    memset(&j, 0, sizeof(j));
    memset(tmp, 0, sizeof(tmp));
    if (count == 0)
        return henn__parallel_for(0, opts, dec_reduce, &j);
    if (sk == NULL || sk->mont == NULL)
        return HENN_EKEY;
    if (opts != NULL)
        quiet.threads = opts->threads; /* progress is reported by the main pass only */
    j.sk = sk;
    j.pt = pt;
    j.ct = ct;
    j.count = count;
    j.x[0] = calloc(count, sizeof(mpz_t));
    j.x[1] = calloc(count, sizeof(mpz_t));
    j.bad = calloc(groups, sizeof(int));
    j.bad_at = calloc(groups, sizeof(size_t));
    if (j.x[0] == NULL || j.x[1] == NULL || j.bad == NULL || j.bad_at == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < count; i++)
        mpz_inits(j.x[0][i], j.x[1][i], NULL);
    inited = 1;
    rc = henn__mb_get(&j.mb[0], &tmp[0], &sk->mont[0]);
    if (rc == 0)
        rc = henn__mb_get(&j.mb[1], &tmp[1], &sk->mont[1]);
    if (rc == 0)
        rc = henn__parallel_for(groups, &quiet, dec_reduce, &j);
    if (rc != 0)
        goto cleanup;
    j.valid = count;
    for (g = 0; g < groups; g++)
        if (j.bad[g] != 0) {
            first_bad = j.bad[g];
            j.valid = j.bad_at[g];
            break;
        }
    groups = (j.valid + HENN__MB_LANES - 1) / HENN__MB_LANES;
    rc = henn__parallel_for(2 * groups, opts, dec_pow, &j);
    if (rc == 0)
        rc = henn__parallel_for(groups, &quiet, dec_finish, &j);
    if (rc == 0)
        rc = first_bad;
cleanup:
    for (i = 0; inited && i < count; i++) {
        henn__mpz_wipe_clear(j.x[0][i]);
        henn__mpz_wipe_clear(j.x[1][i]);
    }
    free(j.x[0]);
    free(j.x[1]);
    free(j.bad);
    free(j.bad_at);
    henn__mb_clear(&tmp[1]);
    henn__mb_clear(&tmp[0]);
    return rc;
}

int henn_paillier_rerandomize_batch(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                    const henn_paillier_ct *a, size_t count,
                                    const henn_batch_opts *opts)
{
    batch b = {0};
    b.pk = pk;
    b.ct_out = r;
    b.ct_in = a;
    b.v_count = count; /* ciphertexts; the pool sees groups of 8 */
    return henn__parallel_for((count + HENN__MB_LANES - 1) / HENN__MB_LANES, opts, do_rerandomize,
                              &b);
}

int henn_paillier_pack_encrypt_batch(henn_paillier_packed *out, size_t out_len,
                                     size_t *out_count, const henn_paillier_pk *pk,
                                     unsigned slot_bits, const int64_t *v, size_t count,
                                     const henn_batch_opts *opts)
{
    batch b = {0};
    size_t per = henn_paillier_pack_capacity(pk, slot_bits), need;
    *out_count = 0;
    if (per == 0 || count == 0)
        return HENN_EINVAL;
    need = (count + per - 1) / per;
    if (out_len < need)
        return HENN_EINVAL;
    b.pk = pk;
    b.packed = out;
    b.v = v;
    b.v_count = count;
    b.per = per;
    b.slot_bits = slot_bits;
    *out_count = need;
    return henn__parallel_for(need, opts, do_pack_encrypt, &b);
}
