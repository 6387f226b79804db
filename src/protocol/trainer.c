/*
 * The trainer's (model service's) side of the protocols (henn/protocol.h):
 * storage of the encrypted training set, homomorphic first layer and
 * first-layer gradient with masked decryption, encrypted inference.
 * The trainer holds a public key only.
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>

#include "../nn/nn_internal.h"
#include "proto_internal.h"

struct henn_trainer {
    henn_paillier_pk pk;
    int have_pk, allow_insecure;
    henn_proto_params p;
    henn_trainer_limits lim;
    size_t dim, rows, per_ct, chunks, groups, received;
    /* Reserved at SETUP, initialised per group as its DATA arrives
     * (inited[g]), so a SETUP alone commits no ciphertext storage. */
    mpz_t *fm; /* [groups x dim] feature-major ciphertexts */
    mpz_t *sm; /* [rows x chunks] sample-major ciphertexts */
    uint8_t *y, *have, *inited;
    henn_nn_model model;
    int trainable;
    henn_nn_opts nn;
    henn_nn_trainer *nt;
    henn_batch_opts opts;
    henn_proto_stats st;
    /* Encrypted inference: noise drawn ahead of time by a background
     * thread (henn__noise_pool), started at the first INFER; pool_cap 0:
     * none (henn__trainer_set_noise_pool). Training does not use it. */
    henn__noise_pool *pool;
    size_t pool_cap;
    float *z1;
    size_t z1_count;
    henn__noise_reserve noise; /* fresh r^n for the masks (henn__noise_take) */
    /* Resumable training (henn__trainer_set_mask_key): the training masks
     * and their noise come from XChaCha20 under mask_key, one nonce per
     * DECRYPT request (mask_ctr), instead of the OS CSPRNG. */
    int det;
    uint8_t mask_key[32];
    uint64_t mask_ctr;
    /* The key of the request being masked: BLAKE2b keyed by mask_key of
     * the request's ciphertexts before masking, so a request built on
     * other values (a restarted job that a cheating owner answered
     * otherwise, a model that diverged) never gets the masks and noise
     * of one built before; the same ciphertexts get the same bytes. */
    uint8_t req_key[32];
};

/* Rows r0 .. r0 + c - 1 of group g. */
static size_t group_rows(const henn_trainer *t, size_t g, size_t *r0)
{
    size_t S = t->p.slots;
    *r0 = g * S;
    return t->rows - *r0 < S ? t->rows - *r0 : S;
}

static void free_data(henn_trainer *t)
{
    size_t g, i, r0, c;
    for (g = 0; t->inited != NULL && g < t->groups; g++) {
        if (!t->inited[g])
            continue;
        c = group_rows(t, g, &r0);
        for (i = 0; i < t->dim; i++)
            mpz_clear(t->fm[g * t->dim + i]);
        for (i = 0; i < c * t->chunks; i++)
            mpz_clear(t->sm[r0 * t->chunks + i]);
    }
    free(t->fm);
    free(t->sm);
    free(t->y);
    free(t->have);
    free(t->inited);
    t->fm = t->sm = NULL;
    t->y = t->have = t->inited = NULL;
    t->rows = t->groups = t->received = 0;
}

void henn_trainer_limits_default(henn_trainer_limits *l)
{
    l->max_key_bits = 4096;
    l->max_rows = (size_t)1 << 20;
    l->max_stored = (size_t)1 << 22;
}

int henn_trainer_set_limits(henn_trainer *t, const henn_trainer_limits *l)
{
    if (t == NULL || l == NULL || l->max_key_bits < HENN_PAILLIER_MIN_BITS ||
        l->max_key_bits > HENN_PAILLIER_MAX_BITS || l->max_rows == 0 ||
        l->max_rows > ((size_t)1 << 24) || l->max_stored == 0 ||
        l->max_stored > ((size_t)1 << 26))
        return HENN_EINVAL;
    t->lim = *l;
    return 0;
}

/* Test hook (declared in tests): whether the trainer's key has a fixed-base
 * table (it never builds one: its masks use fresh r^n, see henn__mask_range). */
int henn__trainer_has_table(const henn_trainer *t);
int henn__trainer_has_table(const henn_trainer *t)
{
    return t->have_pk && t->pk.fb != NULL;
}

int henn_trainer_new(henn_trainer **out, const henn_nn_model *model, const henn_nn_opts *nn,
                     const henn_batch_opts *opts)
{
    henn_trainer *t;
    int rc;
    *out = NULL;
    if (model == NULL || model->layers == 0)
        return HENN_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HENN_ENOMEM;
    henn_paillier_pk_init(&t->pk);
    henn_trainer_limits_default(&t->lim);
    t->pool_cap = HENN__TRAINER_POOL_DEFAULT;
    rc = henn_nn_model_copy(&t->model, model);
    if (rc != 0) {
        henn_paillier_pk_clear(&t->pk);
        free(t);
        return rc;
    }
    if (nn != NULL) {
        t->nn = *nn;
        t->trainable = 1;
    }
    if (opts != NULL)
        t->opts = *opts;
    t->opts.progress = NULL;
    *out = t;
    return 0;
}

void henn_trainer_free(henn_trainer *t)
{
    if (t == NULL)
        return;
    free_data(t);
    henn_nn_trainer_free(t->nt);
    henn_nn_model_clear(&t->model);
    henn__noise_pool_free(t->pool); /* stops its thread, wipes its values */
    henn_paillier_pk_clear(&t->pk);
    henn__noise_reserve_clear(&t->noise);
    free(t->z1);
    henn_memzero(t->mask_key, sizeof(t->mask_key));
    henn_memzero(t->req_key, sizeof(t->req_key));
    free(t);
}

/* Test hook (declared in tests): accept keys under 2048 bits. */
void henn__trainer_allow_insecure(henn_trainer *t);
void henn__trainer_allow_insecure(henn_trainer *t)
{
    t->allow_insecure = 1;
}

const henn_nn_model *henn_trainer_model(const henn_trainer *t)
{
    return &t->model;
}

void henn_trainer_stats(henn_proto_stats *s, const henn_trainer *t)
{
    *s = t->st;
}

const float *henn_trainer_last_z1(const henn_trainer *t, size_t *count)
{
    *count = t->z1_count;
    return t->z1;
}

static size_t max_layer_dim(const henn_nn_model *m)
{
    size_t l, d = 0;
    for (l = 0; l < m->layers; l++)
        d = m->dims[l] > d ? m->dims[l] : d;
    return d;
}

/* ---- homomorphic dense layer ---- */

/*
 * out[h] = E(sum_i q(v[h m + i]) x_i) for h < outs, where in[i] = E(x_i)
 * (packed: the same holds slot by slot) and q(v) = round(v 2^fw),
 * |v| < 2^wi. Exponents are q(v) + 2^(fw+wi) >= 0; the offset is removed
 * by multiplying with (prod_i in[i])^-(2^(fw+wi)).
 */
static int dense_enc(henn_trainer *t, mpz_t *out, mpz_t *in, size_t m, const double *v,
                     size_t outs)
{
    const henn_proto_params *p = &t->p;
    uint32_t *e = NULL, off = (uint32_t)1 << (p->fw + p->wi);
    size_t i, h;
    mpz_t prod, offz;
    int rc = 0;

    e = malloc(outs * m * sizeof(uint32_t));
    if (e == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < outs * m && rc == 0; i++) {
        int64_t q;
        rc = henn__quantize(&q, v[i], p->fw, p->wi, 0);
        e[i] = (uint32_t)(q + (int64_t)off);
    }
    if (rc == 0)
        rc = henn__paillier_multi_exp(out, t->pk.n2, (const mpz_t *)in, m, e, outs, p->fw + p->wi + 1,
                                      &t->opts);
    free(e);
    if (rc != 0)
        return rc;
    mpz_init_set_ui(prod, 1);
    mpz_init_set_ui(offz, off);
    for (i = 0; i < m; i++) {
        mpz_mul(prod, prod, in[i]);
        mpz_mod(prod, prod, t->pk.n2);
    }
    if (mpz_invert(prod, prod, t->pk.n2) == 0) {
        rc = HENN_ERANGE;
    } else {
        mpz_powm(prod, prod, offz, t->pk.n2);
        for (h = 0; h < outs; h++) {
            mpz_mul(out[h], out[h], prod);
            mpz_mod(out[h], out[h], t->pk.n2);
        }
    }
    mpz_clear(prod);
    mpz_clear(offz);
    t->st.homomorphic_outputs += outs;
    return rc;
}

typedef struct mask_ctx {
    const henn_paillier_pk *pk;
    mpz_t *c, *R, *noise;
    size_t count;
} mask_ctx;

static int mask_chunk(void *vctx, size_t begin, size_t end)
{
    mask_ctx *x = vctx;
    return henn__mask_apply(x->c + begin, x->R ? x->R + begin : NULL, end - begin, x->pk,
                            x->noise + begin);
}

/* Mask (when R) and rerandomise c[0..count) in parallel, with noise from
 * the trainer's reserve (whole 8-lane groups, the same number per
 * thread; see henn__noise_take). */
static int mask_all(henn_trainer *t, mpz_t *c, mpz_t *R, size_t count)
{
    mask_ctx x = {&t->pk, c, R, NULL, count};
    size_t i;
    int rc;
    if (count == 0)
        return 0;
    x.noise = calloc(count, sizeof(mpz_t));
    if (x.noise == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        mpz_init(x.noise[i]);
    rc = henn__noise_take(&t->noise, x.noise, count, &t->pk, &t->opts);
    if (rc == 0)
        rc = henn__parallel_for(count, &t->opts, mask_chunk, &x);
    for (i = 0; i < count; i++)
        henn__mpz_wipe_clear(x.noise[i]);
    free(x.noise);
    return rc;
}

/* Serialise c[0..count) as a message of the given type with a prefix. */
static int write_cts(henn_trainer *t, henn__wbuf *w, mpz_t *c, size_t count)
{
    size_t i, width = 2 * henn__nbytes(&t->pk);
    for (i = 0; i < count; i++)
        henn__wbuf_mpz(w, c[i], width);
    return w->err;
}

/*
 * Seeded masks of resumable training (henn__trainer_set_mask_key): x
 * uniform in [0, n) (kind 0: a mask R) or [1, n) (kind 1: a noise base r)
 * by rejection from XChaCha20(req_key) with the nonce (request counter
 * ctr, element i, kind, attempt), req_key being BLAKE2b keyed by mask_key
 * of the request's unmasked ciphertexts (request_key), so each value is a
 * function of the key, those ciphertexts and its position alone: a
 * request built again after a restart on the same values has the same
 * bytes, whatever the threads, and one built on other values (the owner
 * answered an earlier request otherwise) has fresh masks and noise.
 * Timing: the rejection loop depends
 * on the value drawn and discarded, not on a kept one.
 */
static int det_draw(mpz_t x, const henn_trainer *t, uint64_t ctr, size_t i, uint32_t kind)
{
    uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES], buf[HENN_PAILLIER_MAX_BITS / 8 + 1];
    size_t bits = mpz_sizeinbase(t->pk.n, 2), nb = (bits + 7) / 8, k;
    uint32_t attempt;
    int rc = HENN_ERNG;
    if (nb > sizeof(buf))
        return HENN_EKEY;
    for (attempt = 0; attempt < 256 && rc != 0; attempt++) {
        for (k = 0; k < 8; k++) {
            nonce[k] = (uint8_t)(ctr >> (8 * k));
            nonce[8 + k] = (uint8_t)((uint64_t)i >> (8 * k));
        }
        for (k = 0; k < 4; k++) {
            nonce[16 + k] = (uint8_t)(kind >> (8 * k));
            nonce[20 + k] = (uint8_t)(attempt >> (8 * k));
        }
        crypto_stream_xchacha20(buf, nb, nonce, t->req_key);
        if (bits % 8 != 0)
            buf[0] &= (uint8_t)((1u << (bits % 8)) - 1u);
        mpz_import(x, nb, 1, 1, 1, 0, buf);
        if (mpz_cmp(x, t->pk.n) < 0 && (kind == 0 || mpz_sgn(x) != 0))
            rc = 0;
    }
    henn_memzero(buf, sizeof(buf));
    return rc;
}

typedef struct det_ctx {
    const henn_trainer *t;
    mpz_t *c, *R, *r, *noise;
    uint64_t ctr;
    size_t count;
} det_ctx;

/* Groups gbegin .. gend of 8 elements (the last one shorter): whole
 * 8-lane r^n on the multi-buffer engine, as henn__noise_take draws the
 * unseeded noise. Split element by element (henn__parallel_for's chunks
 * of 1 for a request of 41), every r^n ran alone on the single-buffer
 * engine: about 2.4x the CPU of the job's masks, and its training 1.75x
 * the in-process run's wall time. The values do not depend on the split. */
static int det_chunk(void *vctx, size_t gbegin, size_t gend)
{
    det_ctx *x = vctx;
    const henn_paillier_pk *pk = &x->t->pk;
    size_t i, begin = gbegin * HENN__MB_LANES, end = gend * HENN__MB_LANES;
    int rc = 0;
    mpz_t tmp;
    if (end > x->count)
        end = x->count;
    for (i = begin; i < end && rc == 0; i++) {
        rc = det_draw(x->R[i], x->t, x->ctr, i, 0);
        if (rc == 0)
            rc = det_draw(x->r[i], x->t, x->ctr, i, 1);
    }
    if (rc == 0)
        rc = henn__paillier_noise_pow(x->noise + begin, (const mpz_t *)x->r + begin, end - begin,
                                      pk);
    mpz_init(tmp);
    for (i = begin; i < end && rc == 0; i++) {
        mpz_mul(tmp, x->R[i], pk->n);
        mpz_add_ui(tmp, tmp, 1);
        mpz_mul(x->c[i], x->c[i], tmp);
        mpz_mod(x->c[i], x->c[i], pk->n2);
        mpz_mul(x->c[i], x->c[i], x->noise[i]);
        mpz_mod(x->c[i], x->c[i], pk->n2);
    }
    henn__mpz_wipe_clear(tmp);
    return rc;
}

/* t->req_key for the seeded masks of the request of ciphertexts c[0..count). */
static int request_key(henn_trainer *t, mpz_t *c, size_t count)
{
    uint8_t b[HENN_PAILLIER_MAX_BITS / 4];
    size_t width = 2 * henn__nbytes(&t->pk), i, w;
    crypto_generichash_state hs;
    if (width > sizeof(b))
        return HENN_EKEY;
    crypto_generichash_init(&hs, t->mask_key, sizeof(t->mask_key), sizeof(t->req_key));
    for (i = 0; i < count; i++) {
        if (mpz_sgn(c[i]) < 0 || mpz_sizeinbase(c[i], 256) > width)
            return HENN_ERANGE;
        memset(b, 0, width);
        if (mpz_sgn(c[i]) != 0)
            mpz_export(b + width - mpz_sizeinbase(c[i], 256), &w, 1, 1, 1, 0, c[i]);
        crypto_generichash_update(&hs, b, width);
    }
    crypto_generichash_final(&hs, t->req_key, sizeof(t->req_key));
    henn_memzero(&hs, sizeof(hs));
    return 0;
}

/* mask_all's seeded twin: masks R and noise r^n of request t->mask_ctr. */
static int det_mask_all(henn_trainer *t, mpz_t *c, mpz_t *R, size_t count)
{
    det_ctx x = {t, c, R, NULL, NULL, t->mask_ctr, count};
    size_t i;
    int rc;
    x.r = calloc(count, sizeof(mpz_t));
    x.noise = calloc(count, sizeof(mpz_t));
    if (x.r == NULL || x.noise == NULL) {
        free(x.r);
        free(x.noise);
        return HENN_ENOMEM;
    }
    for (i = 0; i < count; i++) {
        mpz_init(x.r[i]);
        mpz_init(x.noise[i]);
    }
    rc = henn__parallel_for((count + HENN__MB_LANES - 1) / HENN__MB_LANES, &t->opts, det_chunk,
                            &x);
    for (i = 0; i < count; i++) {
        henn__mpz_wipe_clear(x.r[i]);
        henn__mpz_wipe_clear(x.noise[i]);
    }
    free(x.r);
    free(x.noise);
    return rc;
}

/*
 * Masked decryption round trip: send c[0..count) masked by fresh R,
 * receive D(c) + R mod n, return M[i] = D(c[i]) mod n.
 */
static int masked_decrypt(henn_trainer *t, henn_transport *to_owner, mpz_t *c, mpz_t *M,
                          size_t count)
{
    mpz_t *R = calloc(count, sizeof(mpz_t));
    henn__wbuf w;
    henn__rbuf r;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len, resp_len, i, nb = henn__nbytes(&t->pk);
    int rc, type;

    if (R == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        mpz_init(R[i]);
    rc = t->det ? request_key(t, c, count) : 0;
    if (rc == 0)
        rc = t->det ? det_mask_all(t, c, R, count) : mask_all(t, c, R, count);
    t->mask_ctr++;
    if (rc != 0)
        goto cleanup;
    henn__wbuf_start(&w, HENN_MSG_DECRYPT);
    henn__wbuf_u32(&w, (uint32_t)count);
    write_cts(t, &w, c, count);
    rc = henn__wbuf_finish(&w, &req, &req_len);
    if (rc == 0)
        rc = henn_transport_call(to_owner, req, req_len, &resp, &resp_len);
    t->st.messages++;
    if (rc != 0)
        goto cleanup;
    rc = henn__msg_error_code(resp, resp_len);
    if (rc != 0)
        goto cleanup;
    if (henn__rbuf_open(&r, &type, resp, resp_len) != 0 || type != HENN_MSG_PLAIN ||
        henn__rbuf_u32(&r) != count) {
        rc = HENN_EPROTO;
        goto cleanup;
    }
    for (i = 0; i < count; i++) {
        henn__rbuf_mpz(&r, M[i], nb);
        if (mpz_cmp(M[i], t->pk.n) >= 0)
            r.err = HENN_EFORMAT;
        mpz_sub(M[i], M[i], R[i]);
        mpz_mod(M[i], M[i], t->pk.n);
    }
    if (henn__rbuf_done(&r) != 0)
        rc = HENN_EPROTO;
cleanup:
    for (i = 0; i < count; i++)
        henn__mpz_wipe_clear(R[i]);
    free(R);
    free(req);
    free(resp);
    return rc;
}

/* ---- requests ---- */

/*
 * SETUP: the owner's n, parameters, input width and row count. Everything
 * a peer can make the trainer allocate or compute is checked against
 * t->lim first: the key size, the row count and the stored ciphertexts.
 * Storage is reserved, not filled.
 */
static int handle_setup(henn_trainer *t, henn__rbuf *r)
{
    size_t nb, n_bits, chunks;
    henn_proto_params p;
    uint32_t dim, rows, per_ct;
    mpz_t n;
    int rc = 0;

    nb = henn__rbuf_u32(r);
    if (r->err != 0 || nb == 0 || nb > HENN_PAILLIER_MAX_BITS / 8)
        return HENN_EFORMAT;
    mpz_init(n);
    henn__rbuf_mpz(r, n, nb);
    henn__params_read(r, &p);
    dim = henn__rbuf_u32(r);
    rows = henn__rbuf_u32(r);
    per_ct = henn__rbuf_u32(r);
    if (henn__rbuf_done(r) != 0) {
        rc = HENN_EFORMAT;
        goto cleanup;
    }
    n_bits = mpz_sizeinbase(n, 2);
    if ((n_bits < HENN_PAILLIER_MIN_BITS && !t->allow_insecure) || n_bits > t->lim.max_key_bits) {
        rc = HENN_EPARAM;
        goto cleanup;
    }
    if (dim != t->model.dims[0] || (rows > 0 && !t->trainable)) {
        rc = HENN_EINVAL;
        goto cleanup;
    }
    rc = henn_proto_params_check(&p, max_layer_dim(&t->model), n_bits);
    if (rc != 0)
        goto cleanup;
    if (per_ct == 0 || per_ct != (n_bits - 2) / p.slot_bits) {
        rc = HENN_EFORMAT;
        goto cleanup;
    }
    chunks = (dim + per_ct - 1) / per_ct;
    /* Storage limits (checked before anything is built). */
    if (rows > t->lim.max_rows || (size_t)rows * chunks > t->lim.max_stored ||
        ((size_t)rows + p.slots - 1) / p.slots * dim > t->lim.max_stored) {
        rc = HENN_EINVAL;
        goto cleanup;
    }
    if (!t->have_pk || mpz_cmp(n, t->pk.n) != 0) {
        henn_paillier_pk pk;
        /* No fixed-base table: the trainer encrypts nothing and its masks
         * use r^n (a table for an 8192-bit n would take ~0.9 GB). */
        henn_paillier_pk_init(&pk);
        rc = henn_paillier_pk_from_n(&pk, n, t->allow_insecure ? HENN_PAILLIER_INSECURE : 0);
        if (rc != 0) {
            henn_paillier_pk_clear(&pk);
            goto cleanup;
        }
        free_data(t);
        henn__noise_reserve_clear(&t->noise); /* drawn for the old key */
        henn_paillier_pk_clear(&t->pk);
        t->pk = pk; /* move */
        t->have_pk = 1;
    }
    /* Stored rows belong to the parameters they were packed with: other
     * parameters (or a new upload) drop them. */
    if (rows > 0 || memcmp(&p, &t->p, sizeof(p)) != 0 || per_ct != t->per_ct)
        free_data(t);
    t->p = p;
    t->dim = dim;
    t->per_ct = per_ct;
    t->chunks = chunks;
    if (rows == 0)
        goto cleanup;
    t->rows = rows;
    t->groups = (rows + p.slots - 1) / p.slots;
    t->fm = calloc(t->groups * dim, sizeof(mpz_t));
    t->sm = calloc((size_t)rows * chunks, sizeof(mpz_t));
    t->y = calloc(rows, 1);
    t->have = calloc(t->groups, 1);
    t->inited = calloc(t->groups, 1);
    if (t->fm == NULL || t->sm == NULL || t->y == NULL || t->have == NULL ||
        t->inited == NULL) {
        free_data(t);
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    henn_nn_trainer_free(t->nt);
    t->nt = NULL;
    t->nn.max_rows = p.slots;
    rc = henn_nn_trainer_new(&t->nt, &t->model, &t->nn);
cleanup:
    mpz_clear(n);
    return rc;
}

static int handle_data(henn_trainer *t, henn__rbuf *r)
{
    size_t g, c, dim, chunks, i, width, r0, k = t->model.dims[t->model.layers];
    const uint8_t *labels;
    mpz_t tmp;
    int rc = 0;

    if (t->rows == 0)
        return HENN_EPROTO;
    g = henn__rbuf_u32(r);
    c = henn__rbuf_u32(r);
    dim = henn__rbuf_u32(r);
    chunks = henn__rbuf_u32(r);
    if (r->err != 0 || g >= t->groups || t->have[g] || dim != t->dim || chunks != t->chunks)
        return HENN_EFORMAT;
    r0 = g * t->p.slots;
    if (c != (t->rows - r0 < t->p.slots ? t->rows - r0 : t->p.slots))
        return HENN_EFORMAT;
    labels = henn__rbuf_bytes(r, c);
    width = 2 * henn__nbytes(&t->pk);
    if (labels == NULL || (r->len - r->pos) != (dim + c * chunks) * width)
        return HENN_EFORMAT;
    for (i = 0; i < c; i++)
        if (labels[i] >= k)
            return HENN_EFORMAT;
    if (!t->inited[g]) {
        for (i = 0; i < dim; i++)
            mpz_init(t->fm[g * dim + i]);
        for (i = 0; i < c * chunks; i++)
            mpz_init(t->sm[r0 * chunks + i]);
        t->inited[g] = 1;
    }
    mpz_init(tmp);
    for (i = 0; i < dim && rc == 0; i++) {
        henn__rbuf_mpz(r, t->fm[g * dim + i], width);
        rc = henn__ct_check(&t->pk, t->fm[g * dim + i], tmp);
    }
    for (i = 0; i < c * chunks && rc == 0; i++) {
        henn__rbuf_mpz(r, t->sm[r0 * chunks + i], width);
        rc = henn__ct_check(&t->pk, t->sm[r0 * chunks + i], tmp);
    }
    mpz_clear(tmp);
    if (rc == 0)
        rc = henn__rbuf_done(r);
    if (rc != 0)
        return rc;
    memcpy(t->y + r0, labels, c);
    t->have[g] = 1;
    t->received++;
    return 0;
}

/* Test and benchmark hook (declared in tests and bench/): the capacity of
 * the inference noise pool (0: no pool, the noise drawn on the critical
 * path as before; above HENN__NOISE_POOL_MAX the pool fails to start, the
 * tests' way to take that path); an existing pool is stopped and wiped. */
void henn__trainer_set_noise_pool(henn_trainer *t, size_t capacity);
void henn__trainer_set_noise_pool(henn_trainer *t, size_t capacity)
{
    henn__noise_pool_free(t->pool);
    t->pool = NULL;
    t->pool_cap = capacity;
}

/* Test hook (declared in tests): values the inference pool made and
 * handed out so far (0 without a pool). */
void henn__trainer_pool_counts(const henn_trainer *t, uint64_t *made, uint64_t *taken);
void henn__trainer_pool_counts(const henn_trainer *t, uint64_t *made, uint64_t *taken)
{
    size_t have;
    int err;
    *made = *taken = 0;
    if (t->pool != NULL)
        henn__noise_pool_counts(t->pool, made, taken, &have, &err);
}

/* Benchmark hook (declared in bench/): CPU seconds of the inference pool's
 * thread so far (0 without a pool, -1 where the platform cannot say). */
double henn__trainer_pool_cpu_seconds(const henn_trainer *t);
double henn__trainer_pool_cpu_seconds(const henn_trainer *t)
{
    return t->pool != NULL ? henn__noise_pool_cpu_seconds(t->pool) : 0.0;
}

/*
 * Re-randomise the inference results c[0 .. count) (c[i] *= r_i^n mod
 * n^2): the noise comes from the trainer's pool first (drawn by its
 * thread while the owner decrypts and encrypts), the rest from the
 * reserve (henn__noise_take, on the thread pool now). Both hand out
 * independent r^n with r uniform in [1, n), each value once, so the
 * CIPHER response is distributed as without the pool. The pool is
 * started here, for the current key (and restarted when SETUP changed
 * the key); without two threads, or when it cannot start (then not tried
 * again), every value is drawn on the spot.
 */
static int mask_infer(henn_trainer *t, mpz_t *c, size_t count)
{
    unsigned threads = t->opts.threads > 0 ? t->opts.threads : henn__cpu_count();
    mpz_t *noise;
    size_t i, k;
    int rc = 0;
    if (count == 0 || t->pool_cap == 0 || threads < 2 || henn__mask_djn_for_tests_on())
        return mask_all(t, c, NULL, count);
    if (t->pool != NULL && !henn__noise_pool_same_key(t->pool, &t->pk)) {
        henn__noise_pool_free(t->pool); /* drawn for the old key */
        t->pool = NULL;
    }
    if (t->pool == NULL && henn__noise_pool_new(&t->pool, &t->pk, t->pool_cap) != 0) {
        t->pool = NULL;
        t->pool_cap = 0; /* no thread to be had: on the spot from now on, as before */
    }
    noise = calloc(count, sizeof(mpz_t));
    if (noise == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        mpz_init(noise[i]);
    k = henn__noise_pool_take(t->pool, noise, count);
    if (k < count)
        rc = henn__noise_take(&t->noise, noise + k, count - k, &t->pk, &t->opts);
    if (rc == 0)
        rc = henn__mask_apply(c, NULL, count, &t->pk, noise);
    for (i = 0; i < count; i++)
        henn__mpz_wipe_clear(noise[i]);
    free(noise);
    return rc;
}

static int handle_infer(henn_trainer *t, henn__rbuf *r, uint8_t **resp, size_t *resp_len)
{
    henn_proto_params p;
    size_t l, count, in_dim, outs, i, h, width;
    const henn_nn_model *m = &t->model;
    mpz_t *in = NULL, *out = NULL, P;
    double *v = NULL;
    int64_t *bq = NULL;
    henn__wbuf w;
    int rc = 0;

    if (!t->have_pk)
        return HENN_EPROTO;
    henn__params_read(r, &p);
    l = henn__rbuf_u32(r);
    count = henn__rbuf_u32(r);
    in_dim = henn__rbuf_u32(r);
    if (r->err != 0 || memcmp(&p, &t->p, sizeof(p)) != 0 || l >= m->layers || count == 0 ||
        count > p.slots || in_dim != m->dims[l])
        return HENN_EFORMAT;
    width = 2 * henn__nbytes(&t->pk);
    if ((r->len - r->pos) != in_dim * width)
        return HENN_EFORMAT;
    outs = m->dims[l + 1];
    in = calloc(in_dim, sizeof(mpz_t));
    out = calloc(outs, sizeof(mpz_t));
    v = calloc(outs * in_dim, sizeof(double));
    bq = calloc(count, sizeof(int64_t));
    if (in == NULL || out == NULL || v == NULL || bq == NULL) {
        free(in);
        free(out);
        free(v);
        free(bq);
        return HENN_ENOMEM;
    }
    mpz_init(P);
    for (i = 0; i < in_dim; i++)
        mpz_init(in[i]);
    for (h = 0; h < outs; h++)
        mpz_init(out[h]);
    /* 0 < c < n^2 here; that every c is a unit (gcd(c, n) = 1, HENN_ERANGE
     * otherwise) is checked once for all of them by dense_enc, which
     * inverts their product (a gcd per ciphertext was the same check 41
     * times over). */
    for (i = 0; i < in_dim && rc == 0; i++) {
        henn__rbuf_mpz(r, in[i], width);
        if (mpz_sgn(in[i]) <= 0 || mpz_cmp(in[i], t->pk.n2) >= 0)
            rc = HENN_ERANGE;
    }
    if (rc == 0)
        rc = henn__rbuf_done(r);
    for (i = 0; i < outs * in_dim; i++)
        v[i] = m->W[l][i];
    if (rc == 0)
        rc = dense_enc(t, out, in, in_dim, v, outs);
    /* Bias: add b_q 2^fx in every used slot (scale 2^(fx+fw)). */
    for (h = 0; rc == 0 && h < outs; h++) {
        int64_t q;
        rc = henn__quantize(&q, m->b[l][h], p.fw, p.wi, 0);
        for (i = 0; rc == 0 && i < count; i++)
            bq[i] = q * ((int64_t)1 << p.fx);
        if (rc != 0)
            break;
        henn__pack(P, bq, count, 1, p.slot_bits, t->pk.n);
        mpz_mul(P, P, t->pk.n);
        mpz_add_ui(P, P, 1);
        mpz_mul(out[h], out[h], P);
        mpz_mod(out[h], out[h], t->pk.n2);
    }
    if (rc == 0)
        rc = mask_infer(t, out, outs);
    if (rc == 0) {
        henn__wbuf_start(&w, HENN_MSG_CIPHER);
        henn__wbuf_u32(&w, (uint32_t)l);
        henn__wbuf_u32(&w, l + 1 == m->layers);
        henn__wbuf_u32(&w, (uint32_t)(l + 1 == m->layers ? HENN_NN_IDENTITY : m->act[l]));
        henn__wbuf_u32(&w, (uint32_t)outs);
        write_cts(t, &w, out, outs);
        rc = henn__wbuf_finish(&w, resp, resp_len);
    }
    for (i = 0; i < in_dim; i++)
        mpz_clear(in[i]);
    for (h = 0; h < outs; h++)
        mpz_clear(out[h]);
    mpz_clear(P);
    free(in);
    free(out);
    free(v);
    free(bq);
    return rc;
}

static int ok_response(uint8_t **resp, size_t *resp_len)
{
    henn__wbuf w;
    henn__wbuf_start(&w, HENN_MSG_OK);
    return henn__wbuf_finish(&w, resp, resp_len);
}

int henn_trainer_handle(henn_trainer *t, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    henn__rbuf r;
    int type, rc;
    *resp = NULL;
    *resp_len = 0;
    rc = henn__rbuf_open(&r, &type, req, req_len);
    t->st.messages++;
    if (rc == 0) {
        switch (type) {
        case HENN_MSG_SETUP:
            rc = handle_setup(t, &r);
            break;
        case HENN_MSG_DATA:
            rc = handle_data(t, &r);
            break;
        case HENN_MSG_INFER:
            rc = handle_infer(t, &r, resp, resp_len);
            break;
        default:
            rc = HENN_EPROTO;
        }
    }
    if (rc == 0 && *resp == NULL)
        rc = ok_response(resp, resp_len);
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return henn__msg_error(resp, resp_len, rc);
    return 0;
}

/* ---- training ---- */

typedef struct step_buf {
    mpz_t *c, *M, *bases;
    double *v;
    int64_t *slots;
    float *dW;
    size_t nc;
} step_buf;

/* One batch: group g. */
static int train_group(henn_trainer *t, henn_transport *to_owner, step_buf *b, size_t g,
                       double *loss)
{
    const henn_proto_params *p = &t->p;
    henn_nn_model *m = &t->model;
    size_t H = m->dims[1], D = t->dim, S = p->slots, r0 = g * S;
    size_t c = t->rows - r0 < S ? t->rows - r0 : S, i, h, q, f;
    double scale = ldexp(1.0, -(int)(p->fx + p->fw));
    const float *dz;
    mpz_t t1, t2;
    int rc;

    mpz_init(t1);
    mpz_init(t2);
    t->z1_count = 0; /* t->z1 holds this batch's view only once it is complete */
    /* Forward: E(W1 x) per hidden unit, slots = rows of the batch. */
    for (i = 0; i < H * D; i++)
        b->v[i] = m->W[0][i];
    rc = dense_enc(t, b->c, t->fm + g * D, D, b->v, H);
    if (rc == 0)
        rc = masked_decrypt(t, to_owner, b->c, b->M, H);
    for (h = 0; rc == 0 && h < H; h++) {
        rc = henn__unpack(b->slots, c, b->M[h], p->slot_bits, t->pk.n, t1, t2);
        for (i = 0; rc == 0 && i < c; i++)
            t->z1[i * H + h] = (float)((double)b->slots[i] * scale) + m->b[0][h];
    }
    if (rc == 0) {
        t->z1_count = c;
        rc = henn_nn_backprop(t->nt, NULL, t->z1, t->y + r0, c, loss);
    }
    if (rc != 0)
        goto cleanup;
    /* Gradient: E(sum_s g_s[h] x_s) per hidden unit and feature chunk, with
     * g_s = per-row dZ1 (the mean's factor 1/c is applied after decryption). */
    dz = henn_nn_dz1(t->nt);
    for (h = 0; h < H; h++)
        for (i = 0; i < c; i++)
            b->v[h * c + i] = (double)dz[i * H + h] * (double)c;
    for (q = 0; rc == 0 && q < t->chunks; q++) {
        for (i = 0; i < c; i++)
            b->bases[i][0] = t->sm[(r0 + i) * t->chunks + q][0]; /* read-only view */
        rc = dense_enc(t, b->c + q * H, b->bases, c, b->v, H);
    }
    if (rc == 0)
        rc = masked_decrypt(t, to_owner, b->c, b->M, H * t->chunks);
    for (q = 0; rc == 0 && q < t->chunks; q++) {
        size_t f0 = q * t->per_ct, nf = D - f0 < t->per_ct ? D - f0 : t->per_ct;
        for (h = 0; rc == 0 && h < H; h++) {
            rc = henn__unpack(b->slots, nf, b->M[q * H + h], p->slot_bits, t->pk.n, t1, t2);
            for (f = 0; rc == 0 && f < nf; f++)
                b->dW[h * D + f0 + f] = (float)((double)b->slots[f] * scale / (double)c);
        }
    }
    if (rc == 0) {
        henn_nn_set_grad_w1(t->nt, b->dW);
        henn_nn_update(t->nt);
    }
cleanup:
    mpz_clear(t1);
    mpz_clear(t2);
    return rc;
}

/*
 * Resumable epochs (the service's jobs, src/service/jobs.c): batches
 * first .. of the epoch's order (henn_nn_batch_order(seed)), adding each
 * batch's summed loss to *total and its rows to *done; after each batch,
 * after(after_user, next batch, *total, *done) (NULL: none; nonzero stops
 * the epoch with that code). Epoch e of henn_trainer_train_epoch is
 * first = 0 from zeros, loss total / rows.
 */
typedef int (*henn__trainer_batch_fn)(void *user, size_t next, double total, size_t done);
int henn__trainer_train_epoch_from(henn_trainer *t, henn_transport *to_owner, uint64_t seed,
                                   size_t first, double *total, size_t *done,
                                   henn__trainer_batch_fn after, void *after_user,
                                   henn_progress_fn progress, void *user);
int henn__trainer_train_epoch_from(henn_trainer *t, henn_transport *to_owner, uint64_t seed,
                                   size_t first, double *total, size_t *done,
                                   henn__trainer_batch_fn after, void *after_user,
                                   henn_progress_fn progress, void *user)
{
    henn_nn_model *m;
    size_t *order = NULL, g, i, H, S, maxc;
    step_buf b;
    int rc = 0, inited = 0;

    if (t == NULL || to_owner == NULL || total == NULL || done == NULL || !t->trainable ||
        t->nt == NULL || t->rows == 0 || t->received != t->groups || first > t->groups)
        return HENN_EINVAL;
    m = &t->model;
    H = m->dims[1];
    S = t->p.slots;
    maxc = H * (t->chunks > 1 ? t->chunks : 1);
    memset(&b, 0, sizeof(b));
    b.nc = maxc;
    order = malloc(t->groups * sizeof(size_t));
    b.c = calloc(maxc, sizeof(mpz_t));
    b.M = calloc(maxc, sizeof(mpz_t));
    b.bases = calloc(S, sizeof(mpz_t));
    b.v = malloc(H * (t->dim > S ? t->dim : S) * sizeof(double));
    b.slots = malloc((S > t->per_ct ? S : t->per_ct) * sizeof(int64_t));
    b.dW = malloc(H * t->dim * sizeof(float));
    free(t->z1);
    t->z1 = malloc(S * H * sizeof(float));
    t->z1_count = 0;
    if (order == NULL || b.c == NULL || b.M == NULL || b.bases == NULL || b.v == NULL ||
        b.slots == NULL || b.dW == NULL || t->z1 == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < maxc; i++) {
        mpz_init(b.c[i]);
        mpz_init(b.M[i]);
    }
    inited = 1;
    rc = henn_nn_batch_order(order, t->groups, seed);
    for (g = first; g < t->groups && rc == 0; g++) {
        size_t r0 = order[g] * S, c = t->rows - r0 < S ? t->rows - r0 : S;
        double l = 0.0;
        rc = train_group(t, to_owner, &b, order[g], &l);
        if (rc != 0)
            break;
        *total += l * (double)c;
        *done += c;
        if (progress != NULL)
            progress(user, *done, t->rows);
        if (after != NULL)
            rc = after(after_user, g + 1, *total, *done);
    }
cleanup:
    for (i = 0; inited && i < maxc; i++) {
        mpz_clear(b.c[i]);
        henn__mpz_wipe_clear(b.M[i]);
    }
    free(order);
    free(b.c);
    free(b.M);
    free(b.bases);
    free(b.v);
    free(b.slots);
    free(b.dW);
    return rc;
}

int henn_trainer_train_epoch(henn_trainer *t, henn_transport *to_owner, uint64_t seed,
                             henn_progress_fn progress, void *user, double *loss)
{
    double total = 0.0;
    size_t done = 0;
    int rc;
    if (loss != NULL)
        *loss = 0.0;
    rc = henn__trainer_train_epoch_from(t, to_owner, seed, 0, &total, &done, NULL, NULL, progress,
                                        user);
    if (rc == 0 && loss != NULL)
        *loss = total / (double)t->rows;
    return rc;
}

/* ---- resumable training (the service's jobs) ---- */

/* Seeded masks from key (32 bytes, copied; NULL: the OS CSPRNG again),
 * the next request's counter ctr. */
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr)
{
    t->det = key != NULL;
    if (key != NULL)
        memcpy(t->mask_key, key, sizeof(t->mask_key));
    else
        henn_memzero(t->mask_key, sizeof(t->mask_key));
    henn_memzero(t->req_key, sizeof(t->req_key));
    t->mask_ctr = ctr;
}

/*
 * The training state that the model does not hold: "HTS1", the mask
 * counter (u64 LE), then the optimiser's state (henn__nn_trainer_state_get).
 * henn__trainer_state_get: HENN_EINVAL before a SETUP with rows,
 * HENN_ENOMEM; henn__trainer_state_set: HENN_EINVAL (no optimiser yet),
 * HENN_EFORMAT.
 */
int henn__trainer_state_get(uint8_t **buf, size_t *len, const henn_trainer *t);
int henn__trainer_state_get(uint8_t **buf, size_t *len, const henn_trainer *t)
{
    uint8_t *nb = NULL, *b;
    size_t n = 0, k;
    int rc;
    *buf = NULL;
    *len = 0;
    if (t->nt == NULL)
        return HENN_EINVAL;
    rc = henn__nn_trainer_state_get(&nb, &n, t->nt);
    if (rc != 0)
        return rc;
    b = malloc(12 + n);
    if (b == NULL) {
        free(nb);
        return HENN_ENOMEM;
    }
    memcpy(b, "HTS1", 4);
    for (k = 0; k < 8; k++)
        b[4 + k] = (uint8_t)(t->mask_ctr >> (8 * k));
    memcpy(b + 12, nb, n);
    free(nb);
    *buf = b;
    *len = 12 + n;
    return 0;
}

int henn__trainer_state_set(henn_trainer *t, const uint8_t *buf, size_t len);
int henn__trainer_state_set(henn_trainer *t, const uint8_t *buf, size_t len)
{
    uint64_t ctr = 0;
    size_t k;
    int rc;
    if (t->nt == NULL)
        return HENN_EINVAL;
    if (buf == NULL || len < 12 || memcmp(buf, "HTS1", 4) != 0)
        return HENN_EFORMAT;
    for (k = 0; k < 8; k++)
        ctr |= (uint64_t)buf[4 + k] << (8 * k);
    rc = henn__nn_trainer_state_set(t->nt, buf + 12, len - 12);
    if (rc == 0)
        t->mask_ctr = ctr;
    return rc;
}
