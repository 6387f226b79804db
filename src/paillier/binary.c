/* Compact binary ciphertext vectors (docs/FORMATS.md). */
#include "paillier_internal.h"

#define HEADER_BYTES (4 + 1 + 1 + 2 + 4 + HENN_PAILLIER_KIDBYTES + 8)
#define VERSION 1

static size_t n_bytes(const henn_paillier_pk *pk)
{
    return (pk->n_bits + 7) / 8;
}

size_t henn_paillier_ct_binary_size(const henn_paillier_pk *pk, size_t count)
{
    size_t elem = 4 + 2 * n_bytes(pk);
    if (count > (SIZE_MAX - HEADER_BYTES) / elem)
        return 0;
    return HEADER_BYTES + count * elem;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int henn_paillier_ct_serialize(uint8_t *buf, size_t buf_len, const henn_paillier_pk *pk,
                               const henn_paillier_ct *ct, size_t count)
{
    size_t need = henn_paillier_ct_binary_size(pk, count), nb = n_bytes(pk), i;
    uint8_t *p = buf;
    if (need == 0 || buf_len < need)
        return HENN_EINVAL;
    for (i = 0; i < count; i++)
        if (!henn__paillier_same_key(pk, ct[i].kid) || mpz_sgn(ct[i].c) < 0 ||
            mpz_sizeinbase(ct[i].c, 2) > 16 * nb)
            return HENN_EKEY;
    memcpy(p, "HNPC", 4);
    p[4] = VERSION;
    p[5] = 0;
    p[6] = p[7] = 0;
    put_u32(p + 8, (uint32_t)nb);
    memcpy(p + 12, pk->kid, HENN_PAILLIER_KIDBYTES);
    put_u32(p + 12 + HENN_PAILLIER_KIDBYTES, (uint32_t)((uint64_t)count >> 32));
    put_u32(p + 16 + HENN_PAILLIER_KIDBYTES, (uint32_t)count);
    p += HEADER_BYTES;
    for (i = 0; i < count; i++) {
        size_t len = (mpz_sizeinbase(ct[i].c, 2) + 7) / 8, written = 0;
        put_u32(p, (uint32_t)ct[i].exponent);
        p += 4;
        memset(p, 0, 2 * nb);
        if (mpz_sgn(ct[i].c) != 0)
            mpz_export(p + 2 * nb - len, &written, 1, 1, 1, 0, ct[i].c);
        p += 2 * nb;
    }
    return 0;
}

int henn_paillier_ct_binary_count(size_t *count, const henn_paillier_pk *pk, const uint8_t *buf,
                                  size_t buf_len)
{
    uint64_t c;
    *count = 0;
    if (buf_len < HEADER_BYTES || memcmp(buf, "HNPC", 4) != 0 || buf[4] != VERSION ||
        buf[5] != 0 || buf[6] != 0 || buf[7] != 0)
        return HENN_EFORMAT;
    if (get_u32(buf + 8) != n_bytes(pk) ||
        memcmp(buf + 12, pk->kid, HENN_PAILLIER_KIDBYTES) != 0)
        return HENN_EKEY;
    c = (uint64_t)get_u32(buf + 12 + HENN_PAILLIER_KIDBYTES) << 32 |
        get_u32(buf + 16 + HENN_PAILLIER_KIDBYTES);
    if (c > SIZE_MAX || henn_paillier_ct_binary_size(pk, (size_t)c) == 0)
        return HENN_EFORMAT;
    *count = (size_t)c;
    return 0;
}

int henn_paillier_ct_deserialize(henn_paillier_ct *ct, size_t count, const henn_paillier_pk *pk,
                                 const uint8_t *buf, size_t buf_len)
{
    size_t stored, nb = n_bytes(pk), i;
    const uint8_t *p;
    int rc = henn_paillier_ct_binary_count(&stored, pk, buf, buf_len);
    if (rc != 0)
        return rc;
    if (stored != count || henn_paillier_ct_binary_size(pk, count) != buf_len)
        return HENN_EFORMAT;
    p = buf + HEADER_BYTES;
    for (i = 0; i < count; i++) {
        int32_t e = (int32_t)get_u32(p);
        if (e > (1 << 24) || e < -(1 << 24)) {
            rc = HENN_ERANGE;
            break;
        }
        ct[i].exponent = e;
        mpz_import(ct[i].c, 2 * nb, 1, 1, 1, 0, p + 4);
        memcpy(ct[i].kid, pk->kid, HENN_PAILLIER_KIDBYTES);
        rc = henn_paillier_ct_validate(pk, &ct[i]);
        if (rc != 0)
            break;
        p += 4 + 2 * nb;
    }
    if (rc != 0)
        for (i = 0; i < count; i++) {
            mpz_set_ui(ct[i].c, 0);
            ct[i].exponent = 0;
        }
    return rc;
}
