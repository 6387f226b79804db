/* Array versions of encrypt, decrypt, rerandomise and packed encrypt on the
 * thread pool. Each element is independent. */
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
 * Batch CRT decryption, 8 ciphertexts at a time: each is checked as
 * henn_paillier_decrypt checks it, reduced mod p^2 and q^2 in constant
 * time, and the 8 exponentiations c^(p-1) mod p^2 (then q) run together on
 * the multi-buffer IFMA engine (mont_mb.c, constant time, exponent length
 * that of p). A group shorter than DEC_MB_MIN is cheaper one at a time on
 * the single-buffer engine. The first failing ciphertext stops the chunk
 * with the code the single call returns; those before it are decrypted.
 */
#define DEC_MB_MIN 5

/* xs[l] = c_l^(p-1) mod p^2 (one CRT half) for l < g. */
static int decrypt_pow_group(mpz_t *xs, const henn__mb *mb, const henn__mont *mt, const mpz_t pm1,
                             size_t ebits, size_t g)
{
    size_t l;
    int rc = 0;
    if (mb->limbs != 0 && g >= DEC_MB_MIN)
        return henn__mb_powm_sec(mb, xs, (const mpz_t *)xs, g, pm1, ebits);
    for (l = 0; l < g && rc == 0; l++)
        rc = henn__mont_powm_sec(mt, xs[l], xs[l], pm1, ebits);
    return rc;
}

/* Chunks of the thread pool are counted in groups of 8 ciphertexts (the
 * pool's chunks may be smaller than a group). */
static int do_decrypt(void *ctx, size_t gbegin, size_t gend)
{
    batch *b = ctx;
    size_t begin = gbegin * HENN__MB_LANES;
    size_t end = gend * HENN__MB_LANES < b->v_count ? gend * HENN__MB_LANES : b->v_count;
    const henn_paillier_sk *sk = b->sk;
    mpz_t xp[HENN__MB_LANES], xq[HENN__MB_LANES];
    henn__mb mbp, mbq;
    size_t c_limbs = mpz_size(sk->pk.n2), i, l, g;
    int rc = 0, bad = 0;
    memset(&mbp, 0, sizeof(mbp));
    memset(&mbq, 0, sizeof(mbq));
    if (sk->mont == NULL)
        return HENN_EKEY;
    rc = henn__mb_init(&mbp, &sk->mont[0]);
    if (rc == 0)
        rc = henn__mb_init(&mbq, &sk->mont[1]);
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_inits(xp[l], xq[l], NULL);
    for (i = begin; i < end && rc == 0; i += g) {
        size_t want = end - i < HENN__MB_LANES ? end - i : HENN__MB_LANES;
        /* the group stops before the first ciphertext that fails its checks */
        for (g = 0; g < want; g++) {
            bad = henn__paillier_decrypt_check(sk, &b->ct_in[i + g]);
            if (bad != 0)
                break;
            rc = henn__sec_mod(xp[g], b->ct_in[i + g].c, c_limbs, sk->p2);
            if (rc == 0)
                rc = henn__sec_mod(xq[g], b->ct_in[i + g].c, c_limbs, sk->q2);
            if (rc != 0)
                break;
        }
        if (rc == 0 && g > 0)
            rc = decrypt_pow_group(xp, &mbp, &sk->mont[0], sk->pm1, mpz_sizeinbase(sk->p, 2), g);
        if (rc == 0 && g > 0)
            rc = decrypt_pow_group(xq, &mbq, &sk->mont[1], sk->qm1, mpz_sizeinbase(sk->q, 2), g);
        for (l = 0; l < g && rc == 0; l++)
            rc = henn__paillier_decrypt_finish(&b->pt_out[i + l], sk, xp[l], xq[l],
                                               b->ct_in[i + l].exponent);
        if (rc == 0)
            rc = bad;
        if (g == 0 && rc == 0)
            break; /* unreachable: g == 0 means bad != 0 */
    }
    for (l = 0; l < HENN__MB_LANES; l++) {
        henn__mpz_wipe_clear(xp[l]);
        henn__mpz_wipe_clear(xq[l]);
    }
    henn__mb_clear(&mbq);
    henn__mb_clear(&mbp);
    henn__burn_stack();
    return rc;
}

static int do_rerandomize(void *ctx, size_t begin, size_t end)
{
    batch *b = ctx;
    size_t i;
    int rc = 0;
    for (i = begin; i < end && rc == 0; i++)
        rc = henn_paillier_rerandomize(&b->ct_out[i], b->pk, &b->ct_in[i]);
    return rc;
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
    return henn__parallel_for(count, opts, do_encrypt, &b);
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
    batch b = {0};
    b.sk = sk;
    b.pt_out = pt;
    b.ct_in = ct;
    b.v_count = count; /* ciphertexts; the pool sees groups of 8 */
    return henn__parallel_for((count + HENN__MB_LANES - 1) / HENN__MB_LANES, opts, do_decrypt, &b);
}

int henn_paillier_rerandomize_batch(henn_paillier_ct *r, const henn_paillier_pk *pk,
                                    const henn_paillier_ct *a, size_t count,
                                    const henn_batch_opts *opts)
{
    batch b = {0};
    b.pk = pk;
    b.ct_out = r;
    b.ct_in = a;
    return henn__parallel_for(count, opts, do_rerandomize, &b);
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
