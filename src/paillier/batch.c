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

static int do_decrypt(void *ctx, size_t begin, size_t end)
{
    batch *b = ctx;
    size_t i;
    int rc = 0;
    for (i = begin; i < end && rc == 0; i++)
        rc = henn_paillier_decrypt(&b->pt_out[i], b->sk, &b->ct_in[i]);
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
    return henn__parallel_for(count, opts, do_decrypt, &b);
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
