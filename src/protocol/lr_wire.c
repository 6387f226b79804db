/*
 * CKKS logistic-regression protocol plumbing (henn/lrproto.h): message
 * framing and checks, the packing layout, the chain of primes, and the
 * client's response parsers (kept here so the fuzz targets reach them).
 *
 * Message layout (docs/FORMATS.md, "LR protocol messages"): "HNL" 0x01,
 * type (1 byte), three zero bytes, payload length (u32), payload; every
 * integer big-endian, doubles as their IEEE 754 bits (u64), CKKS objects
 * as blobs (u32 length + henn_ckks_*_serialize bytes).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lr_wire.h"

/* ---- framing: the shared message buffers with family 'L' ---- */

void henn__lr_wbytes(henn__lr_wbuf *w, const void *b, size_t n)
{
    henn__wbuf_bytes(w, b, n);
}

void henn__lr_wstart(henn__lr_wbuf *w, int type)
{
    henn__wbuf_start_family(w, 'L', type);
}

void henn__lr_wu32(henn__lr_wbuf *w, uint32_t v)
{
    henn__wbuf_u32(w, v);
}

void henn__lr_wu64(henn__lr_wbuf *w, uint64_t v)
{
    henn__lr_wu32(w, (uint32_t)(v >> 32));
    henn__lr_wu32(w, (uint32_t)v);
}

void henn__lr_wf64(henn__lr_wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    henn__lr_wu64(w, u);
}

void henn__lr_wblob(henn__lr_wbuf *w, const uint8_t *b, size_t n)
{
    if (w->err == 0 && n > UINT32_MAX) {
        w->err = HENN_EINVAL;
        return;
    }
    henn__lr_wu32(w, (uint32_t)n);
    henn__lr_wbytes(w, b, n);
}

void henn__lr_wct(henn__lr_wbuf *w, const henn_ckks_ct *ct, const uint8_t *seed)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (w->err != 0)
        return;
    int rc = henn_ckks_ct_serialize(&buf, &len, ct, seed);
    if (rc != 0) {
        w->err = rc;
        return;
    }
    henn__lr_wblob(w, buf, len);
    henn_free(buf, len);
}

int henn__lr_wfinish(henn__lr_wbuf *w, uint8_t **out, size_t *out_len)
{
    return henn__wbuf_finish(w, out, out_len);
}

void henn__lr_wfree(henn__lr_wbuf *w)
{
    henn__wbuf_free(w);
}

int henn__lr_ropen(henn__lr_rbuf *r, int *type, const uint8_t *msg, size_t msg_len)
{
    return henn__rbuf_open_family(r, type, msg, msg_len, 'L', HENN_LR_MSG_SCORES);
}

const uint8_t *henn__lr_rbytes(henn__lr_rbuf *r, size_t n)
{
    return henn__rbuf_bytes(r, n);
}

uint32_t henn__lr_ru32(henn__lr_rbuf *r)
{
    return henn__rbuf_u32(r);
}

uint64_t henn__lr_ru64(henn__lr_rbuf *r)
{
    uint64_t hi = henn__lr_ru32(r);
    return hi << 32 | henn__lr_ru32(r);
}

double henn__lr_rf64(henn__lr_rbuf *r)
{
    uint64_t u = henn__lr_ru64(r);
    double v;
    memcpy(&v, &u, sizeof(v));
    return r->err != 0 ? 0.0 : v;
}

const uint8_t *henn__lr_rblob(henn__lr_rbuf *r, size_t *n)
{
    size_t len = henn__lr_ru32(r);
    const uint8_t *b = henn__lr_rbytes(r, len);
    *n = b != NULL ? len : 0;
    return b;
}

int henn__lr_rdone(const henn__lr_rbuf *r)
{
    return henn__rbuf_done(r);
}

int henn__lr_msg_error(uint8_t **out, size_t *out_len, int code)
{
    henn__lr_wbuf w;
    henn__lr_wstart(&w, HENN_LR_MSG_ERROR);
    henn__lr_wu32(&w, (uint32_t)(code < 0 ? -code : -HENN_EPROTO));
    return henn__lr_wfinish(&w, out, out_len);
}

int henn__lr_msg_ok(uint8_t **out, size_t *out_len)
{
    henn__lr_wbuf w;
    henn__lr_wstart(&w, HENN_LR_MSG_OK);
    return henn__lr_wfinish(&w, out, out_len);
}

int henn__lr_error_code(const uint8_t *msg, size_t msg_len)
{
    henn__lr_rbuf r;
    int type;
    uint32_t code;
    if (henn__lr_ropen(&r, &type, msg, msg_len) != 0)
        return HENN_EFORMAT;
    if (type != HENN_LR_MSG_ERROR)
        return 0;
    code = henn__lr_ru32(&r);
    if (henn__lr_rdone(&r) != 0 || code == 0 || code > 10)
        return HENN_EPROTO;
    return -(int)code;
}

int henn_lr_msg_type(const uint8_t *msg, size_t msg_len)
{
    henn__lr_rbuf r;
    int type;
    return henn__lr_ropen(&r, &type, msg, msg_len) == 0 ? type : -1;
}

/* ---- layout and chain ---- */

int henn__lr_layout_init(henn__lr_layout *lo, size_t N, size_t dim)
{
    memset(lo, 0, sizeof(*lo));
    if (dim == 0 || dim > HENN__LR_MAX_DIM || N < 4 || (N & (N - 1)) != 0)
        return HENN_EINVAL;
    size_t B = 1;
    while (B < dim + 2 && B < HENN__LR_MAX_BLOCKS)
        B *= 2;
    if (B > N / 2)
        return HENN_EINVAL;
    lo->N = N;
    lo->slots = N / 2;
    lo->dim = dim;
    lo->B = B;
    lo->G = (dim + 2 + B - 1) / B;
    lo->s = N / 2 / B;
    return 0;
}

size_t henn__lr_rotation_steps(int *steps, const henn__lr_layout *lo)
{
    size_t n = 0;
    for (size_t k = 1; k < lo->B; k *= 2)
        steps[n++] = (int)(lo->s * k);
    for (size_t k = 1; k < lo->s; k *= 2)
        steps[n++] = (int)k;
    return n;
}

size_t henn__lr_depth(int degree)
{
    return degree == 3 ? 3 : degree == 5 ? 4 : 0;
}

int henn__lr_chain(int *bits, size_t *count, int *scale_bits, size_t N, size_t depth)
{
    *count = 0;
    *scale_bits = 0;
    if (depth < 1 || depth > 8)
        return HENN_EINVAL;
    int p, q0;
    if (N == 8192) {
        /* q0 = P = p + 9 (q0 holds |value| < 2^8 at the scale 2^p; P >=
         * every data prime keeps key-switching noise at the fresh level),
         * the largest p with (depth + 2) p + 18 <= 218. */
        p = (218 - 18) / (int)(depth + 2);
        q0 = p + 9;
    } else if (N == 4096 || N == 16384 || N == 32768 || N == 65536) {
        p = 40;
        q0 = 60;
    } else {
        return HENN_EINVAL;
    }
    bits[0] = q0;
    for (size_t i = 1; i <= depth; i++)
        bits[i] = p;
    bits[depth + 1] = q0;
    *count = depth + 2;
    *scale_bits = p;
    return 0;
}

/* ---- client-side response parsers ---- */

static int scale_close(double a, double b)
{
    return isfinite(a) && isfinite(b) && b > 0 && fabs(a - b) <= 0x1p-20 * b;
}

static int read_ct(henn_ckks_ct *ct, const henn_ckks_params *params, henn__lr_rbuf *r,
                   size_t want_level, double want_scale)
{
    size_t n;
    const uint8_t *b = henn__lr_rblob(r, &n);
    if (b == NULL)
        return HENN_EPROTO; /* a malformed response is a protocol error */
    int rc = henn_ckks_ct_deserialize(ct, params, b, n);
    if (rc == HENN_EKEY || rc == HENN_EFORMAT)
        return HENN_EPROTO; /* not a ciphertext of our params */
    if (rc != 0)
        return rc;
    if (ct->size != 2 || ct->level != want_level || !scale_close(ct->scale, want_scale)) {
        henn_ckks_ct_clear(ct);
        return HENN_EPROTO;
    }
    return 0;
}

int henn__lr_parse_weights(henn_ckks_ct *cts, size_t count, const henn_ckks_params *params,
                           const uint8_t *msg, size_t msg_len, uint32_t want_step,
                           size_t want_level, double want_scale)
{
    henn__lr_rbuf r;
    int type, rc;
    rc = henn__lr_error_code(msg, msg_len);
    if (rc != 0)
        return rc == HENN_EFORMAT ? HENN_EPROTO : rc;
    if (henn__lr_ropen(&r, &type, msg, msg_len) != 0 || type != HENN_LR_MSG_WEIGHTS)
        return HENN_EPROTO;
    uint32_t step = henn__lr_ru32(&r), n = henn__lr_ru32(&r);
    if (r.err != 0 || step != want_step || n != count)
        return HENN_EPROTO;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = read_ct(&cts[i], params, &r, want_level, want_scale);
    if (rc == 0 && henn__lr_rdone(&r) != 0)
        rc = HENN_EPROTO;
    if (rc != 0)
        for (size_t i = 0; i < count; i++)
            henn_ckks_ct_clear(&cts[i]);
    return rc;
}

int henn__lr_parse_scores(henn_ckks_ct *cts, size_t count, const henn_ckks_params *params,
                          const uint8_t *msg, size_t msg_len, double want_scale)
{
    henn__lr_rbuf r;
    int type, rc;
    rc = henn__lr_error_code(msg, msg_len);
    if (rc != 0)
        return rc == HENN_EFORMAT ? HENN_EPROTO : rc;
    if (henn__lr_ropen(&r, &type, msg, msg_len) != 0 || type != HENN_LR_MSG_SCORES)
        return HENN_EPROTO;
    if (henn__lr_ru32(&r) != count || r.err != 0)
        return HENN_EPROTO;
    size_t i;
    for (i = 0; i < count; i++) {
        rc = read_ct(&cts[i], params, &r, 0, want_scale);
        if (rc != 0)
            break;
    }
    if (rc == 0 && henn__lr_rdone(&r) != 0)
        rc = HENN_EPROTO;
    if (rc != 0)
        for (size_t k = 0; k < count; k++)
            henn_ckks_ct_clear(&cts[k]);
    return rc;
}
