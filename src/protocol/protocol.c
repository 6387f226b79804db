/*
 * Protocol plumbing: message framing, transports, fixed-point packing.
 *
 * Message layout (big-endian, docs/FORMATS.md): "HNP" 0x01, type (1
 * byte), three zero bytes, payload length (u32), payload.
 */
#include <math.h>
#include <stdlib.h>

#include "proto_internal.h"

/* ---- output buffer ---- */

static void wreserve(henn__wbuf *w, size_t n)
{
    size_t cap;
    uint8_t *p;
    if (w->err != 0)
        return;
    if (n > HENN__MSG_MAX || w->len > HENN__MSG_MAX - n) {
        w->err = HENN_EINVAL;
        return;
    }
    if (w->len + n <= w->cap)
        return;
    cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    p = realloc(w->p, cap);
    if (p == NULL) {
        w->err = HENN_ENOMEM;
        return;
    }
    w->p = p;
    w->cap = cap;
}

void henn__wbuf_start_family(henn__wbuf *w, char family, int type)
{
    const uint8_t head[8] = {'H', 'N', (uint8_t)family, 1, (uint8_t)type, 0, 0, 0};
    memset(w, 0, sizeof(*w));
    henn__wbuf_bytes(w, head, sizeof(head));
    henn__wbuf_u32(w, 0);
}

void henn__wbuf_start(henn__wbuf *w, int type)
{
    henn__wbuf_start_family(w, 'P', type);
}

void henn__wbuf_u32(henn__wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    henn__wbuf_bytes(w, b, 4);
}

void henn__wbuf_bytes(henn__wbuf *w, const void *b, size_t n)
{
    wreserve(w, n);
    if (w->err != 0 || n == 0)
        return;
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

void henn__wbuf_mpz(henn__wbuf *w, const mpz_t x, size_t width)
{
    size_t bytes = (mpz_sizeinbase(x, 2) + 7) / 8, count = 0;
    wreserve(w, width);
    if (w->err != 0)
        return;
    if (mpz_sgn(x) < 0 || bytes > width) {
        w->err = HENN_ERANGE;
        return;
    }
    memset(w->p + w->len, 0, width);
    if (mpz_sgn(x) != 0)
        mpz_export(w->p + w->len + (width - bytes), &count, 1, 1, 1, 0, x);
    w->len += width;
}

int henn__wbuf_finish(henn__wbuf *w, uint8_t **out, size_t *out_len)
{
    size_t plen;
    *out = NULL;
    *out_len = 0;
    if (w->err != 0) {
        int rc = w->err;
        henn__wbuf_free(w);
        return rc;
    }
    plen = w->len - HENN__MSG_HEADER;
    w->p[8] = (uint8_t)(plen >> 24);
    w->p[9] = (uint8_t)(plen >> 16);
    w->p[10] = (uint8_t)(plen >> 8);
    w->p[11] = (uint8_t)plen;
    *out = w->p;
    *out_len = w->len;
    memset(w, 0, sizeof(*w));
    return 0;
}

void henn__wbuf_free(henn__wbuf *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}

/* ---- reader ---- */

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

int henn__rbuf_open_family(henn__rbuf *r, int *type, const uint8_t *msg, size_t msg_len,
                           char family, int max_type)
{
    memset(r, 0, sizeof(*r));
    *type = -1;
    if (msg == NULL || msg_len < HENN__MSG_HEADER || msg[0] != 'H' || msg[1] != 'N' ||
        msg[2] != (uint8_t)family || msg[3] != 1 || msg[5] != 0 || msg[6] != 0 || msg[7] != 0 ||
        msg[4] > max_type ||
        msg_len - HENN__MSG_HEADER > HENN__MSG_MAX || be32(msg + 8) != msg_len - HENN__MSG_HEADER) {
        r->err = HENN_EFORMAT;
        return HENN_EFORMAT;
    }
    *type = msg[4];
    r->p = msg + HENN__MSG_HEADER;
    r->len = msg_len - HENN__MSG_HEADER;
    return 0;
}

int henn__rbuf_open(henn__rbuf *r, int *type, const uint8_t *msg, size_t msg_len)
{
    return henn__rbuf_open_family(r, type, msg, msg_len, 'P', HENN_MSG_PSTEPR);
}

const uint8_t *henn__rbuf_bytes(henn__rbuf *r, size_t n)
{
    const uint8_t *b;
    if (r->err != 0 || n > r->len - r->pos) {
        r->err = HENN_EFORMAT;
        return NULL;
    }
    b = r->p + r->pos;
    r->pos += n;
    return b;
}

uint32_t henn__rbuf_u32(henn__rbuf *r)
{
    const uint8_t *b = henn__rbuf_bytes(r, 4);
    return b ? be32(b) : 0;
}

void henn__rbuf_mpz(henn__rbuf *r, mpz_t x, size_t width)
{
    const uint8_t *b = henn__rbuf_bytes(r, width);
    if (b == NULL) {
        mpz_set_ui(x, 0);
        return;
    }
    mpz_import(x, width, 1, 1, 1, 0, b);
}

int henn__rbuf_done(const henn__rbuf *r)
{
    return (r->err != 0 || r->pos != r->len) ? HENN_EFORMAT : 0;
}

int henn__msg_error(uint8_t **out, size_t *out_len, int code)
{
    henn__wbuf w;
    henn__wbuf_start(&w, HENN_MSG_ERROR);
    henn__wbuf_u32(&w, (uint32_t)(-code));
    return henn__wbuf_finish(&w, out, out_len);
}

int henn__msg_error_code(const uint8_t *msg, size_t msg_len)
{
    henn__rbuf r;
    int type;
    uint32_t code;
    if (henn__rbuf_open(&r, &type, msg, msg_len) != 0)
        return HENN_EFORMAT;
    if (type != HENN_MSG_ERROR)
        return 0;
    code = henn__rbuf_u32(&r);
    if (henn__rbuf_done(&r) != 0 || code == 0 || code > 10)
        return HENN_EPROTO;
    return -(int)code;
}

int henn_msg_type(const uint8_t *msg, size_t msg_len)
{
    henn__rbuf r;
    int type;
    return henn__rbuf_open(&r, &type, msg, msg_len) == 0 ? type : -1;
}

/* ---- parameters ---- */

void henn__params_write(henn__wbuf *w, const henn_proto_params *p)
{
    henn__wbuf_u32(w, p->fx);
    henn__wbuf_u32(w, p->ai);
    henn__wbuf_u32(w, p->fw);
    henn__wbuf_u32(w, p->wi);
    henn__wbuf_u32(w, p->slot_bits);
    henn__wbuf_u32(w, p->slots);
}

void henn__params_read(henn__rbuf *r, henn_proto_params *p)
{
    p->fx = henn__rbuf_u32(r);
    p->ai = henn__rbuf_u32(r);
    p->fw = henn__rbuf_u32(r);
    p->wi = henn__rbuf_u32(r);
    p->slot_bits = henn__rbuf_u32(r);
    p->slots = henn__rbuf_u32(r);
}

static unsigned ceil_log2(size_t v)
{
    unsigned b = 0;
    while (((size_t)1 << b) < v)
        b++;
    return b;
}

/*
 * Bits a balanced slot needs: |x_q| <= 2^(fx+ai), |w_q| < 2^(fw+wi), so
 * terms products and a bias w_q 2^fx stay below
 * (terms + 1) 2^(fx+ai+fw+wi) <= 2^(bits - 1).
 */
static unsigned needed_bits(const henn_proto_params *p, size_t terms)
{
    return ceil_log2(terms) + p->fx + p->ai + p->fw + p->wi + 2;
}

int henn_proto_params_check(const henn_proto_params *p, size_t max_dim, size_t n_bits)
{
    size_t terms;
    if (p == NULL || max_dim == 0 || p->fx < 1 || p->fx > 24 || p->ai > 16 || p->fw < 1 ||
        p->fw > 24 || p->wi > 7 || p->slots == 0 || p->slot_bits < 2 || p->slot_bits > 62 ||
        n_bits < 64)
        return HENN_EPARAM;
    /* Offset exponents w_q + 2^(fw+wi) lie in [1, 2^(fw+wi+1)): uint32 and
     * the multi-exponentiation's width fw + wi + 1 (both <= 32 bits). The
     * ranges above imply it; the check states it for later widening. */
    if (p->fw + p->wi + 1 > 32)
        return HENN_EPARAM;
    terms = max_dim > p->slots ? max_dim : p->slots;
    if (terms > HENN_NN_MAX_DIM || p->slot_bits < needed_bits(p, terms))
        return HENN_EPARAM;
    if ((size_t)p->slots * p->slot_bits > n_bits - 2)
        return HENN_EPARAM;
    return 0;
}

int henn_proto_training_decryptions(uint64_t *count, const henn_proto_params *p, size_t n_bits,
                                    size_t rows, size_t dim, size_t hidden, size_t epochs)
{
    uint64_t per_ct, chunks, batches, per_batch;
    *count = 0;
    if (p == NULL || p->slots == 0 || p->slot_bits == 0 || n_bits < 2 + p->slot_bits ||
        rows == 0 || dim == 0 || hidden == 0 || epochs == 0)
        return HENN_EINVAL;
    per_ct = (n_bits - 2) / p->slot_bits;
    chunks = (dim + per_ct - 1) / per_ct;
    batches = ((uint64_t)rows + p->slots - 1) / p->slots;
    if (hidden > UINT64_MAX / (1 + chunks))
        return HENN_ERANGE;
    per_batch = (uint64_t)hidden * (1 + chunks);
    if (batches > UINT64_MAX / per_batch || batches * per_batch > UINT64_MAX / epochs)
        return HENN_ERANGE;
    *count = batches * per_batch * epochs;
    return 0;
}


int henn_proto_params_default(henn_proto_params *p, size_t max_dim, unsigned ai, size_t n_bits)
{
    size_t terms = max_dim > 64 ? max_dim : 64;
    memset(p, 0, sizeof(*p));
    if (max_dim == 0 || max_dim > HENN_NN_MAX_DIM || ai > 16 || n_bits < 64)
        return HENN_EINVAL;
    p->fx = 10;
    p->ai = ai;
    p->fw = 12;
    p->wi = 6;
    p->slot_bits = needed_bits(p, terms);
    if (p->slot_bits > 62 || p->slot_bits > n_bits - 2)
        return HENN_EINVAL;
    p->slots = (uint32_t)((n_bits - 2) / p->slot_bits);
    if (p->slots > 64)
        p->slots = 64;
    return henn_proto_params_check(p, max_dim, n_bits) == 0 ? 0 : HENN_EINVAL;
}

/* ---- ciphertexts, packing, masking ---- */

size_t henn__nbytes(const henn_paillier_pk *pk)
{
    return (mpz_sizeinbase(pk->n, 2) + 7) / 8;
}

int henn__ct_check(const henn_paillier_pk *pk, const mpz_t c, mpz_t tmp)
{
    if (mpz_sgn(c) <= 0 || mpz_cmp(c, pk->n2) >= 0)
        return HENN_ERANGE;
    mpz_gcd(tmp, c, pk->n);
    return mpz_cmp_ui(tmp, 1) == 0 ? 0 : HENN_ERANGE;
}

int henn__quantize(int64_t *q, double v, unsigned f, unsigned ib, int inclusive)
{
    double lim = ldexp(1.0, (int)ib);
    int64_t r, qlim = (int64_t)1 << (f + ib);
    *q = 0;
    if (!isfinite(v) || fabs(v) > lim || (!inclusive && fabs(v) >= lim))
        return HENN_ERANGE;
    r = (int64_t)llround(ldexp(v, (int)f));
    /* A value just under 2^ib can round up to 2^(f+ib): exclusive bounds
     * hold for the rounded value too (it feeds offset exponents). */
    if (!inclusive && (r >= qlim || r <= -qlim))
        return HENN_ERANGE;
    *q = r;
    return 0;
}

void henn__pack(mpz_t P, const int64_t *v, size_t count, size_t stride, unsigned k,
                const mpz_t n)
{
    size_t s;
    mpz_set_ui(P, 0);
    for (s = count; s-- > 0;) {
        int64_t x = v[s * stride];
        mpz_mul_2exp(P, P, k);
        if (x >= 0)
            mpz_add_ui(P, P, (unsigned long)x);
        else
            mpz_sub_ui(P, P, (unsigned long)(-(x + 1)) + 1ul);
    }
    mpz_mod(P, P, n);
}

int henn__unpack(int64_t *out, size_t count, const mpz_t M, unsigned k, const mpz_t n,
                 mpz_t tmp, mpz_t tmp2)
{
    size_t s;
    mpz_set(tmp, M);
    mpz_tdiv_q_2exp(tmp2, n, 1);
    if (mpz_cmp(tmp, tmp2) > 0)
        mpz_sub(tmp, tmp, n); /* signed representative */
    for (s = 0; s < count; s++) {
        int64_t v;
        mpz_fdiv_r_2exp(tmp2, tmp, k); /* in [0, 2^k) */
        v = (int64_t)mpz_get_ui(tmp2);
        if (v >= ((int64_t)1 << (k - 1)))
            v -= (int64_t)1 << k;
        out[s] = v;
        if (v >= 0)
            mpz_sub_ui(tmp, tmp, (unsigned long)v);
        else
            mpz_add_ui(tmp, tmp, (unsigned long)(-v));
        mpz_fdiv_q_2exp(tmp, tmp, k); /* exact */
    }
    return mpz_sgn(tmp) == 0 ? 0 : HENN_ERANGE;
}

static int mask_with_djn; /* test hook: the pre-fix noise, for the attack's control run */

void henn__mask_use_djn_for_tests(int on)
{
    __atomic_store_n(&mask_with_djn, on != 0, __ATOMIC_RELAXED);
}

int henn__mask_djn_for_tests_on(void)
{
    return __atomic_load_n(&mask_with_djn, __ATOMIC_RELAXED);
}

/* out[i] = DJN noise h_s^a (what the trainer used before the fix). */
static int djn_noise_all(mpz_t *out, size_t count, const henn_paillier_pk *pk)
{
    size_t i;
    int rc = 0;
    for (i = 0; i < count && rc == 0; i++)
        rc = henn__paillier_djn_noise(out[i], pk);
    return rc;
}

int henn__mask_apply(mpz_t *c, mpz_t *R, size_t count, const henn_paillier_pk *pk,
                     mpz_t *noise)
{
    mpz_t tmp;
    size_t i;
    int rc = 0;
    mpz_init(tmp);
    for (i = 0; i < count && rc == 0; i++) {
        if (R != NULL) {
            rc = henn__mpz_random_below(R[i], pk->n);
            if (rc != 0)
                break;
            mpz_mul(tmp, R[i], pk->n);
            mpz_add_ui(tmp, tmp, 1);
            mpz_mul(c[i], c[i], tmp);
            mpz_mod(c[i], c[i], pk->n2);
        }
        mpz_mul(c[i], c[i], noise[i]);
        mpz_mod(c[i], c[i], pk->n2);
    }
    henn__mpz_wipe_clear(tmp);
    return rc;
}

int henn__mask_range(mpz_t *c, mpz_t *R, size_t count, const henn_paillier_pk *pk)
{
    mpz_t *noise;
    size_t i;
    int rc = 0;
    if (count == 0)
        return 0;
    noise = calloc(count, sizeof(mpz_t));
    if (noise == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        mpz_init(noise[i]);
    /* fresh r^n (uniform over the n-th residues), not DJN noise: the owner
     * knows p and q and could read characters of c's randomness through
     * the DJN subgroup (see henn_paillier_rerandomize) */
    if (__atomic_load_n(&mask_with_djn, __ATOMIC_RELAXED))
        rc = djn_noise_all(noise, count, pk);
    else
        rc = henn__paillier_noise(noise, count, pk);
    if (rc == 0)
        rc = henn__mask_apply(c, R, count, pk, noise);
    for (i = 0; i < count; i++)
        henn__mpz_wipe_clear(noise[i]);
    free(noise);
    return rc;
}

/* ---- noise reserve ---- */

void henn__noise_reserve_clear(henn__noise_reserve *nr)
{
    size_t i;
    for (i = 0; i < nr->cap; i++)
        henn__mpz_wipe_clear(nr->v[i]);
    free(nr->v);
    memset(nr, 0, sizeof(*nr));
}

typedef struct noise_gen {
    mpz_t *out;
    const henn_paillier_pk *pk;
} noise_gen;

/* Groups gbegin .. gend of 8 values: one 8-lane r^n each. */
static int noise_gen_chunk(void *vctx, size_t gbegin, size_t gend)
{
    noise_gen *x = vctx;
    return henn__paillier_noise(x->out + gbegin * HENN__MB_LANES,
                                (gend - gbegin) * HENN__MB_LANES, x->pk);
}

int henn__noise_take(henn__noise_reserve *nr, mpz_t *out, size_t count,
                     const henn_paillier_pk *pk, const henn_batch_opts *opts)
{
    henn_batch_opts quiet = {0, NULL, NULL};
    noise_gen x;
    mpz_t *gen = NULL;
    size_t k = 0, need, groups, total = 0, i;
    unsigned threads;
    int rc = 0;
    if (pk == NULL || pk->mont == NULL)
        return HENN_EKEY;
    if (__atomic_load_n(&mask_with_djn, __ATOMIC_RELAXED))
        return djn_noise_all(out, count, pk); /* test hook: no reserve */
    if (nr->have > 0 && !henn__paillier_same_key(pk, nr->kid))
        henn__noise_reserve_clear(nr); /* drawn for another key */
    /* from the reserve: its last values, moved out (out's old values go
     * into the reserve's slots and are wiped when reused or cleared) */
    while (k < count && nr->have > 0) {
        nr->have--;
        mpz_swap(out[k], nr->v[nr->have]);
        k++;
    }
    if (k == count)
        return 0;
    threads = opts != NULL && opts->threads > 0 ? opts->threads : henn__cpu_count();
    if (threads > 256)
        threads = 256;
    quiet.threads = threads;
    need = count - k;
    groups = (need + HENN__MB_LANES - 1) / HENN__MB_LANES;
    groups = (groups + threads - 1) / threads * threads;
    total = groups * HENN__MB_LANES;
    gen = calloc(total, sizeof(mpz_t));
    if (gen == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < total; i++)
        mpz_init(gen[i]);
    x.out = gen;
    x.pk = pk;
    rc = henn__parallel_for(groups, &quiet, noise_gen_chunk, &x);
    if (rc == 0 && total - need > nr->cap - nr->have) { /* room for the surplus */
        size_t cap = nr->have + (total - need);
        mpz_t *v = realloc(nr->v, cap * sizeof(mpz_t));
        if (v == NULL) {
            rc = HENN_ENOMEM;
        } else {
            for (i = nr->cap; i < cap; i++)
                mpz_init(v[i]);
            nr->v = v;
            nr->cap = cap;
        }
    }
    if (rc == 0) {
        for (i = 0; i < need; i++)
            mpz_swap(out[k + i], gen[i]);
        for (; i < total; i++)
            mpz_swap(nr->v[nr->have++], gen[i]);
        memcpy(nr->kid, pk->kid, sizeof(nr->kid));
    }
    for (i = 0; i < total; i++)
        henn__mpz_wipe_clear(gen[i]);
    free(gen);
    return rc;
}

/* ---- transports ---- */

int henn_transport_call(henn_transport *t, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    int rc;
    *resp = NULL;
    *resp_len = 0;
    if (t == NULL || t->call == NULL)
        return HENN_EINVAL;
    rc = t->call(t->ctx, req, req_len, resp, resp_len);
    t->calls++;
    t->bytes_sent += req_len;
    if (rc == 0)
        t->bytes_received += *resp_len;
    return rc;
}

static int call_owner(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    return henn_owner_handle(ctx, req, req_len, resp, resp_len);
}

static int call_trainer(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    return henn_trainer_handle(ctx, req, req_len, resp, resp_len);
}

void henn_transport_to_owner(henn_transport *t, henn_owner *o)
{
    memset(t, 0, sizeof(*t));
    t->call = call_owner;
    t->ctx = o;
}

void henn_transport_to_trainer(henn_transport *t, henn_trainer *tr)
{
    memset(t, 0, sizeof(*t));
    t->call = call_trainer;
    t->ctx = tr;
}

/* ---- inspection ---- */

int henn_msg_ciphertexts(size_t *count, const henn_paillier_pk *pk, const uint8_t *msg,
                         size_t msg_len)
{
    henn__rbuf r;
    int type, rc = 0;
    size_t cts = 0, width, i;
    henn_proto_params p;
    mpz_t c, tmp;

    *count = 0;
    if (henn__rbuf_open(&r, &type, msg, msg_len) != 0)
        return HENN_EFORMAT;
    switch (type) {
    case HENN_MSG_DATA: {
        uint32_t dim, rows, chunks;
        (void)henn__rbuf_u32(&r); /* group */
        rows = henn__rbuf_u32(&r);
        dim = henn__rbuf_u32(&r);
        chunks = henn__rbuf_u32(&r);
        (void)henn__rbuf_bytes(&r, rows);
        cts = (size_t)dim + (size_t)rows * chunks;
        break;
    }
    case HENN_MSG_DECRYPT:
        cts = henn__rbuf_u32(&r);
        break;
    case HENN_MSG_INFER:
        henn__params_read(&r, &p);
        (void)henn__rbuf_u32(&r); /* layer */
        (void)henn__rbuf_u32(&r); /* records */
        cts = henn__rbuf_u32(&r);
        break;
    case HENN_MSG_CIPHER:
        (void)henn__rbuf_u32(&r); /* layer */
        (void)henn__rbuf_u32(&r); /* final */
        (void)henn__rbuf_u32(&r); /* activation */
        cts = henn__rbuf_u32(&r);
        break;
    default:
        return HENN_EFORMAT;
    }
    width = 2 * henn__nbytes(pk);
    if (r.err != 0 || cts > (r.len - r.pos) / width)
        return HENN_EFORMAT;
    mpz_init(c);
    mpz_init(tmp);
    for (i = 0; i < cts && rc == 0; i++) {
        henn__rbuf_mpz(&r, c, width);
        rc = henn__ct_check(pk, c, tmp);
    }
    if (rc == 0)
        rc = henn__rbuf_done(&r);
    mpz_clear(c);
    mpz_clear(tmp);
    if (rc == 0)
        *count = cts;
    return rc;
}
