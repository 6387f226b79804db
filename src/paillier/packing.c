/*
 * Packing signed integers into one Paillier plaintext: P = sum v_i 2^(i w),
 * read back as balanced residues. Bound tracking keeps slots from
 * overflowing into their neighbours (see paillier.h).
 */
#include "paillier_internal.h"

static uint64_t slot_max(unsigned w)
{
    return (UINT64_C(1) << (w - 1)) - 1; /* w <= 64 */
}

size_t henn_paillier_pack_capacity(const henn_paillier_pk *pk, unsigned slot_bits)
{
    if (slot_bits < 2 || slot_bits > 64 || pk->n_bits < 3)
        return 0;
    return (pk->n_bits - 2) / slot_bits;
}

static uint64_t abs64(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* m = sum v_i 2^(i w) (signed), Horner from the top slot. */
static int pack_mpz(mpz_t m, uint64_t *bound, const henn_paillier_pk *pk, unsigned w,
                    const int64_t *v, size_t count)
{
    size_t i;
    uint64_t b = 0;
    if (count == 0 || count > henn_paillier_pack_capacity(pk, w))
        return HENN_EINVAL;
    for (i = 0; i < count; i++) {
        uint64_t a = abs64(v[i]);
        if (a > slot_max(w))
            return HENN_ERANGE;
        if (a > b)
            b = a;
    }
    mpz_set_ui(m, 0);
    for (i = count; i-- > 0;) {
        mpz_mul_2exp(m, m, w);
        if (v[i] >= 0)
            mpz_add_ui(m, m, (unsigned long)v[i]);
        else
            mpz_sub_ui(m, m, (unsigned long)abs64(v[i]));
    }
    *bound = b;
    return 0;
}

int henn_paillier_pack(henn_paillier_pt *pt, uint64_t *bound, const henn_paillier_pk *pk,
                       unsigned slot_bits, const int64_t *v, size_t count)
{
    mpz_t m;
    int rc;
    mpz_init(m);
    rc = pack_mpz(m, bound, pk, slot_bits, v, count);
    if (rc == 0) {
        mpz_mod(pt->encoding, m, pk->n);
        pt->exponent = 0;
    }
    henn__mpz_wipe_clear(m);
    return rc;
}

int henn_paillier_unpack(int64_t *v, size_t count, const henn_paillier_pk *pk,
                         unsigned slot_bits, uint64_t bound, const henn_paillier_pt *pt)
{
    mpz_t m, s, half;
    size_t i;
    int rc = 0;
    if (count == 0 || count > henn_paillier_pack_capacity(pk, slot_bits) || pt->exponent != 0 ||
        bound > slot_max(slot_bits))
        return HENN_EINVAL;
    mpz_inits(m, s, half, NULL);
    /* Signed value of the plaintext: (-n/2, n/2]. */
    mpz_fdiv_q_2exp(half, pk->n, 1);
    if (mpz_cmp(pt->encoding, half) > 0)
        mpz_sub(m, pt->encoding, pk->n);
    else
        mpz_set(m, pt->encoding);
    mpz_set_ui(half, 1);
    mpz_mul_2exp(half, half, slot_bits - 1);
    for (i = 0; i < count; i++) {
        mpz_fdiv_r_2exp(s, m, slot_bits); /* [0, 2^w) */
        if (mpz_cmp(s, half) >= 0) {
            mpz_sub(s, s, half);
            mpz_sub(s, s, half); /* balanced: [-2^(w-1), 2^(w-1)) */
        }
        mpz_sub(m, m, s);
        mpz_fdiv_q_2exp(m, m, slot_bits); /* exact */
        if (mpz_cmpabs_ui(s, (unsigned long)bound) > 0) {
            rc = HENN_ERANGE;
            break;
        }
        v[i] = (int64_t)mpz_get_si(s);
    }
    if (rc == 0 && mpz_sgn(m) != 0)
        rc = HENN_ERANGE; /* something spilled above the last slot */
    if (rc != 0)
        henn_memzero(v, count * sizeof(*v));
    henn__mpz_wipe_clear(m);
    henn__mpz_wipe_clear(s);
    mpz_clear(half);
    return rc;
}

void henn_paillier_packed_init(henn_paillier_packed *p)
{
    henn_paillier_ct_init(&p->ct);
    p->slot_bits = 0;
    p->slots = 0;
    p->bound = 0;
}

void henn_paillier_packed_clear(henn_paillier_packed *p)
{
    henn_paillier_ct_clear(&p->ct);
    p->slot_bits = 0;
    p->slots = 0;
    p->bound = 0;
}

int henn_paillier_pack_encrypt(henn_paillier_packed *out, const henn_paillier_pk *pk,
                               unsigned slot_bits, const int64_t *v, size_t count)
{
    henn_paillier_pt pt;
    uint64_t bound = 0;
    int rc;
    henn_paillier_pt_init(&pt);
    rc = henn_paillier_pack(&pt, &bound, pk, slot_bits, v, count);
    if (rc == 0)
        rc = henn_paillier_encrypt(&out->ct, pk, &pt);
    if (rc == 0) {
        out->slot_bits = slot_bits;
        out->slots = count;
        out->bound = bound;
    }
    henn_paillier_pt_clear(&pt);
    return rc;
}

int henn_paillier_decrypt_unpack(int64_t *v, const henn_paillier_sk *sk,
                                 const henn_paillier_packed *in)
{
    henn_paillier_pt pt;
    int rc;
    henn_paillier_pt_init(&pt);
    rc = henn_paillier_decrypt(&pt, sk, &in->ct);
    if (rc == 0)
        rc = henn_paillier_unpack(v, in->slots, &sk->pk, in->slot_bits, in->bound, &pt);
    henn_paillier_pt_clear(&pt);
    return rc;
}

int henn_paillier_packed_add(henn_paillier_packed *r, const henn_paillier_pk *pk,
                             const henn_paillier_packed *a, const henn_paillier_packed *b)
{
    uint64_t bound;
    size_t slots;
    unsigned w = a->slot_bits;
    int rc;
    if (w != b->slot_bits || w < 2 || w > 64)
        return HENN_EINVAL;
    if (a->bound > slot_max(w) - b->bound)
        return HENN_ERANGE;
    bound = a->bound + b->bound;
    slots = a->slots > b->slots ? a->slots : b->slots;
    rc = henn_paillier_add(&r->ct, pk, &a->ct, &b->ct);
    if (rc == 0) {
        r->slot_bits = w;
        r->slots = slots;
        r->bound = bound;
    }
    return rc;
}

int henn_paillier_packed_add_plain(henn_paillier_packed *r, const henn_paillier_pk *pk,
                                   const henn_paillier_packed *a, const int64_t *v, size_t count)
{
    henn_paillier_pt pt;
    uint64_t b = 0;
    unsigned w = a->slot_bits;
    size_t slots = a->slots > count ? a->slots : count;
    int rc;
    henn_paillier_pt_init(&pt);
    rc = henn_paillier_pack(&pt, &b, pk, w, v, count);
    if (rc == 0 && a->bound > slot_max(w) - b)
        rc = HENN_ERANGE;
    if (rc == 0)
        rc = henn_paillier_add_plain(&r->ct, pk, &a->ct, &pt);
    if (rc == 0) {
        r->slot_bits = w;
        r->slots = slots;
        r->bound = a->bound + b;
    }
    henn_paillier_pt_clear(&pt);
    return rc;
}

int henn_paillier_packed_mul_int64(henn_paillier_packed *r, const henn_paillier_pk *pk,
                                   const henn_paillier_packed *a, int64_t k)
{
    uint64_t ak = abs64(k), bound;
    unsigned w = a->slot_bits;
    int rc;
    if (w < 2 || w > 64)
        return HENN_EINVAL;
    if (ak != 0 && a->bound > slot_max(w) / ak)
        return HENN_ERANGE;
    bound = a->bound * ak;
    rc = henn_paillier_mul_int64(&r->ct, pk, &a->ct, k);
    if (rc == 0) {
        r->slot_bits = w;
        r->slots = a->slots;
        r->bound = bound;
    }
    return rc;
}

int henn_paillier_packed_rerandomize(henn_paillier_packed *r, const henn_paillier_pk *pk,
                                     const henn_paillier_packed *a)
{
    int rc = henn_paillier_rerandomize(&r->ct, pk, &a->ct);
    if (rc == 0) {
        r->slot_bits = a->slot_bits;
        r->slots = a->slots;
        r->bound = a->bound;
    }
    return rc;
}
