/*
 * serialize.c: the FEIP and FEBO wire formats (henn/fe.h) and their
 * validating readers. Points are canonical ristretto255 encodings (libdecaf
 * refuses every other string), scalars canonical values below l.
 */
#include <stdlib.h>
#include <string.h>

#include "fe/fe_internal.h"

#define VERSION 1
#define HDR 5 /* magic (4) + version (1) */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_hdr(uint8_t *p, const char *magic)
{
    memcpy(p, magic, 4);
    p[4] = VERSION;
}

static int check_hdr(const uint8_t *buf, size_t buf_len, const char *magic, size_t min)
{
    if (buf == NULL || buf_len < min || memcmp(buf, magic, 4) != 0 || buf[4] != VERSION)
        return HENN_EFORMAT;
    return 0;
}

/* decode a point; identity allowed only if allow_id */
static int get_point(henn_fe_elem *e, const uint8_t *p, int allow_id)
{
    if (decaf_255_point_decode(FE_PT(e), p, allow_id ? DECAF_TRUE : DECAF_FALSE) != DECAF_SUCCESS)
        return HENN_EFORMAT;
    return 0;
}

static int get_scalar(const uint8_t *p)
{
    decaf_255_scalar_t s;
    int ok = decaf_255_scalar_decode(s, p) == DECAF_SUCCESS;
    decaf_255_scalar_destroy(s);
    return ok ? 0 : HENN_EFORMAT;
}

/* n, X, Y block shared by mpk and msk; returns n or 0 */
static size_t get_nxy(const uint8_t *buf, uint64_t *x, uint64_t *y)
{
    size_t n = get_u32(buf + HDR);
    *x = get_u64(buf + HDR + 4);
    *y = get_u64(buf + HDR + 12);
    if (n == 0 || n > HENN_FE_MAX_N || !henn__fe_bounds_ok(n, *x, *y))
        return 0;
    return n;
}

#define NXY (HDR + 20)

int henn_feip_mpk_serialize(uint8_t **buf, size_t *buf_len, const henn_feip_mpk *mpk)
{
    if (buf == NULL || buf_len == NULL)
        return HENN_EINVAL;
    *buf = NULL;
    *buf_len = 0;
    if (mpk == NULL || mpk->h == NULL)
        return HENN_EINVAL;
    size_t len = NXY + mpk->n * HENN_FE_POINTBYTES;
    uint8_t *p = malloc(len);
    if (p == NULL)
        return HENN_ENOMEM;
    put_hdr(p, "HFEM");
    put_u32(p + HDR, (uint32_t)mpk->n);
    put_u64(p + HDR + 4, mpk->x_bound);
    put_u64(p + HDR + 12, mpk->y_bound);
    for (size_t i = 0; i < mpk->n; i++)
        decaf_255_point_encode(p + NXY + i * HENN_FE_POINTBYTES, FE_CPT(&mpk->h[i]));
    *buf = p;
    *buf_len = len;
    return 0;
}

int henn_feip_mpk_deserialize(henn_feip_mpk *mpk, const uint8_t *buf, size_t buf_len)
{
    if (mpk == NULL)
        return HENN_EINVAL;
    memset(mpk, 0, sizeof *mpk);
    uint64_t x, y;
    size_t n;
    if (check_hdr(buf, buf_len, "HFEM", NXY) != 0 || (n = get_nxy(buf, &x, &y)) == 0 ||
        buf_len != NXY + n * HENN_FE_POINTBYTES)
        return HENN_EFORMAT;
    mpk->h = henn__fe_elems_alloc(n);
    if (mpk->h == NULL)
        return HENN_ENOMEM;
    mpk->n = n;
    mpk->x_bound = x;
    mpk->y_bound = y;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = get_point(&mpk->h[i], buf + NXY + i * HENN_FE_POINTBYTES, 0);
    if (rc == 0)
        rc = henn__fe_tabs_build(&mpk->tabs, mpk->h, n, x);
    if (rc != 0)
        henn_feip_mpk_clear(mpk);
    return rc;
}

int henn_feip_msk_serialize(uint8_t **buf, size_t *buf_len, const henn_feip_msk *msk)
{
    if (buf == NULL || buf_len == NULL)
        return HENN_EINVAL;
    *buf = NULL;
    *buf_len = 0;
    if (msk == NULL || msk->s == NULL)
        return HENN_EINVAL;
    size_t len = NXY + msk->n * HENN_FE_SCALARBYTES;
    uint8_t *p = malloc(len);
    if (p == NULL)
        return HENN_ENOMEM;
    put_hdr(p, "HFES");
    put_u32(p + HDR, (uint32_t)msk->n);
    put_u64(p + HDR + 4, msk->x_bound);
    put_u64(p + HDR + 12, msk->y_bound);
    memcpy(p + NXY, msk->s, msk->n * HENN_FE_SCALARBYTES);
    *buf = p;
    *buf_len = len;
    return 0;
}

int henn_feip_msk_deserialize(henn_feip_msk *msk, const uint8_t *buf, size_t buf_len)
{
    if (msk == NULL)
        return HENN_EINVAL;
    memset(msk, 0, sizeof *msk);
    uint64_t x, y;
    size_t n;
    if (check_hdr(buf, buf_len, "HFES", NXY) != 0 || (n = get_nxy(buf, &x, &y)) == 0 ||
        buf_len != NXY + n * HENN_FE_SCALARBYTES)
        return HENN_EFORMAT;
    for (size_t i = 0; i < n; i++)
        if (get_scalar(buf + NXY + i * HENN_FE_SCALARBYTES) != 0)
            return HENN_EFORMAT;
    msk->s = malloc(n * HENN_FE_SCALARBYTES);
    if (msk->s == NULL)
        return HENN_ENOMEM;
    memcpy(msk->s, buf + NXY, n * HENN_FE_SCALARBYTES);
    msk->n = n;
    msk->x_bound = x;
    msk->y_bound = y;
    return 0;
}

#define FK_LEN (HDR + 4 + HENN_FE_SCALARBYTES)

int henn_feip_fk_serialize(uint8_t **buf, size_t *buf_len, const henn_feip_fk *fk)
{
    if (buf == NULL || buf_len == NULL)
        return HENN_EINVAL;
    *buf = NULL;
    *buf_len = 0;
    if (fk == NULL || fk->n == 0)
        return HENN_EINVAL;
    uint8_t *p = malloc(FK_LEN);
    if (p == NULL)
        return HENN_ENOMEM;
    put_hdr(p, "HFEK");
    put_u32(p + HDR, (uint32_t)fk->n);
    memcpy(p + HDR + 4, fk->sk, HENN_FE_SCALARBYTES);
    *buf = p;
    *buf_len = FK_LEN;
    return 0;
}

int henn_feip_fk_deserialize(henn_feip_fk *fk, const uint8_t *buf, size_t buf_len)
{
    if (fk == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (check_hdr(buf, buf_len, "HFEK", FK_LEN) != 0 || buf_len != FK_LEN)
        return HENN_EFORMAT;
    size_t n = get_u32(buf + HDR);
    if (n == 0 || n > HENN_FE_MAX_N || get_scalar(buf + HDR + 4) != 0)
        return HENN_EFORMAT;
    fk->n = n;
    memcpy(fk->sk, buf + HDR + 4, HENN_FE_SCALARBYTES);
    return 0;
}

typedef struct {
    const henn_feip_ct *ct;
    uint8_t *pts;
} ct_enc_job;

static int ct_enc_range(void *arg, size_t lo, size_t hi)
{
    const ct_enc_job *j = arg;
    for (size_t i = lo; i < hi; i++)
        decaf_255_point_encode(j->pts + i * HENN_FE_POINTBYTES, FE_CPT(&j->ct->c[i]));
    return 0;
}

int henn_feip_ct_serialize_mt(uint8_t **buf, size_t *buf_len, const henn_feip_ct *ct,
                              unsigned threads)
{
    if (buf == NULL || buf_len == NULL)
        return HENN_EINVAL;
    *buf = NULL;
    *buf_len = 0;
    if (ct == NULL || ct->c == NULL)
        return HENN_EINVAL;
    size_t len = HDR + 4 + (ct->n + 1) * HENN_FE_POINTBYTES;
    uint8_t *p = malloc(len);
    if (p == NULL)
        return HENN_ENOMEM;
    put_hdr(p, "HFEC");
    put_u32(p + HDR, (uint32_t)ct->n);
    ct_enc_job job = {ct, p + HDR + 4};
    (void)henn__fe_parallel(ct_enc_range, &job, ct->n + 1, threads);
    *buf = p;
    *buf_len = len;
    return 0;
}

int henn_feip_ct_serialize(uint8_t **buf, size_t *buf_len, const henn_feip_ct *ct)
{
    return henn_feip_ct_serialize_mt(buf, buf_len, ct, 1);
}

typedef struct {
    henn_feip_ct *ct;
    const uint8_t *pts;
} ct_job;

static int ct_range(void *arg, size_t lo, size_t hi)
{
    const ct_job *j = arg;
    for (size_t i = lo; i < hi; i++)
        if (get_point(&j->ct->c[i], j->pts + i * HENN_FE_POINTBYTES, 1) != 0)
            return HENN_EFORMAT;
    return 0;
}

int henn_feip_ct_deserialize_mt(henn_feip_ct *ct, const uint8_t *buf, size_t buf_len,
                                unsigned threads)
{
    if (ct == NULL)
        return HENN_EINVAL;
    memset(ct, 0, sizeof *ct);
    if (check_hdr(buf, buf_len, "HFEC", HDR + 4) != 0)
        return HENN_EFORMAT;
    size_t n = get_u32(buf + HDR);
    if (n == 0 || n > HENN_FE_MAX_N || buf_len != HDR + 4 + (n + 1) * HENN_FE_POINTBYTES)
        return HENN_EFORMAT;
    ct->c = henn__fe_elems_alloc(n + 1);
    if (ct->c == NULL)
        return HENN_ENOMEM;
    ct->n = n;
    ct_job job = {ct, buf + HDR + 4};
    if (henn__fe_parallel(ct_range, &job, n + 1, threads) != 0) {
        henn_feip_ct_clear(ct);
        return HENN_EFORMAT;
    }
    return 0;
}

int henn_feip_ct_deserialize(henn_feip_ct *ct, const uint8_t *buf, size_t buf_len)
{
    return henn_feip_ct_deserialize_mt(ct, buf, buf_len, 1);
}

/* FEBO: fixed sizes */

void henn_febo_mpk_serialize(uint8_t out[HENN_FEBO_MPK_BYTES], const henn_febo_mpk *mpk)
{
    put_hdr(out, "HFBM");
    put_u64(out + HDR, mpk->x_bound);
    put_u64(out + HDR + 8, mpk->y_bound);
    decaf_255_point_encode(out + HDR + 16, FE_CPT(&mpk->h));
}

int henn_febo_mpk_deserialize(henn_febo_mpk *mpk, const uint8_t *buf, size_t buf_len)
{
    if (mpk == NULL)
        return HENN_EINVAL;
    memset(mpk, 0, sizeof *mpk);
    if (check_hdr(buf, buf_len, "HFBM", HENN_FEBO_MPK_BYTES) != 0 ||
        buf_len != HENN_FEBO_MPK_BYTES)
        return HENN_EFORMAT;
    uint64_t x = get_u64(buf + HDR), y = get_u64(buf + HDR + 8);
    if (!henn__fe_bounds_ok(1, x, y) || get_point(&mpk->h, buf + HDR + 16, 0) != 0) {
        memset(mpk, 0, sizeof *mpk);
        return HENN_EFORMAT;
    }
    mpk->x_bound = x;
    mpk->y_bound = y;
    return 0;
}

void henn_febo_msk_serialize(uint8_t out[HENN_FEBO_MSK_BYTES], const henn_febo_msk *msk)
{
    put_hdr(out, "HFBS");
    put_u64(out + HDR, msk->x_bound);
    put_u64(out + HDR + 8, msk->y_bound);
    memcpy(out + HDR + 16, msk->s, HENN_FE_SCALARBYTES);
}

int henn_febo_msk_deserialize(henn_febo_msk *msk, const uint8_t *buf, size_t buf_len)
{
    if (msk == NULL)
        return HENN_EINVAL;
    memset(msk, 0, sizeof *msk);
    if (check_hdr(buf, buf_len, "HFBS", HENN_FEBO_MSK_BYTES) != 0 ||
        buf_len != HENN_FEBO_MSK_BYTES)
        return HENN_EFORMAT;
    uint64_t x = get_u64(buf + HDR), y = get_u64(buf + HDR + 8);
    if (!henn__fe_bounds_ok(1, x, y) || get_scalar(buf + HDR + 16) != 0)
        return HENN_EFORMAT;
    msk->x_bound = x;
    msk->y_bound = y;
    memcpy(msk->s, buf + HDR + 16, HENN_FE_SCALARBYTES);
    return 0;
}

void henn_febo_ct_serialize(uint8_t out[HENN_FEBO_CT_BYTES], const henn_febo_ct *ct)
{
    put_hdr(out, "HFBC");
    decaf_255_point_encode(out + HDR, FE_CPT(&ct->cmt));
    decaf_255_point_encode(out + HDR + 32, FE_CPT(&ct->c));
}

int henn_febo_ct_deserialize(henn_febo_ct *ct, const uint8_t *buf, size_t buf_len)
{
    if (ct == NULL)
        return HENN_EINVAL;
    memset(ct, 0, sizeof *ct);
    if (check_hdr(buf, buf_len, "HFBC", HENN_FEBO_CT_BYTES) != 0 ||
        buf_len != HENN_FEBO_CT_BYTES || get_point(&ct->cmt, buf + HDR, 1) != 0 ||
        get_point(&ct->c, buf + HDR + 32, 1) != 0) {
        memset(ct, 0, sizeof *ct);
        return HENN_EFORMAT;
    }
    return 0;
}

void henn_febo_fk_serialize(uint8_t out[HENN_FEBO_FK_BYTES], const henn_febo_fk *fk)
{
    put_hdr(out, "HFBK");
    out[HDR] = (uint8_t)fk->op;
    put_u64(out + HDR + 1, (uint64_t)fk->y);
    decaf_255_point_encode(out + HDR + 9, FE_CPT(&fk->k));
}

int henn_febo_fk_deserialize(henn_febo_fk *fk, const uint8_t *buf, size_t buf_len)
{
    if (fk == NULL)
        return HENN_EINVAL;
    memset(fk, 0, sizeof *fk);
    if (check_hdr(buf, buf_len, "HFBK", HENN_FEBO_FK_BYTES) != 0 ||
        buf_len != HENN_FEBO_FK_BYTES)
        return HENN_EFORMAT;
    int op = buf[HDR];
    int64_t y = (int64_t)get_u64(buf + HDR + 1);
    if (op < HENN_FEBO_ADD || op > HENN_FEBO_DIV || (op == HENN_FEBO_DIV && y == 0) ||
        y == INT64_MIN || get_point(&fk->k, buf + HDR + 9, 1) != 0) {
        memset(fk, 0, sizeof *fk);
        return HENN_EFORMAT;
    }
    fk->op = op;
    fk->y = y;
    return 0;
}
