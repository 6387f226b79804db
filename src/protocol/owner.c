/*
 * The data owner's side of the protocols (henn/protocol.h): bulk packed
 * encryption and upload, decryption of masked values, and the owner's
 * rounds of encrypted inference.
 */
#include <math.h>
#include <stdlib.h>

#include "proto_internal.h"

/* Digit width of the owner's CRT fixed-base tables (2 x 10.4 MB at
 * n = 2048; w = 10 would take 2 x 34 MB for 20% fewer products). */
#define OWNER_FB_W 8

struct henn_owner {
    henn_paillier_sk sk; /* sk.pk carries the public fixed-base table when crt is NULL */
    struct henn__paillier_fbcrt *crt; /* the key holder's tables (DJN noise via the CRT) */
    henn_batch_opts opts;
    /* ciphertexts the owner may decrypt for DECRYPT requests in total (0:
     * no limit) and has decrypted, across restarts when restored: the
     * budget is spent when served reaches a nonzero budget */
    uint64_t budget, served;
    henn_proto_stats st;
};

int henn_owner_new(henn_owner **out, const henn_paillier_sk *sk, const henn_batch_opts *opts)
{
    henn_owner *o;
    int rc;
    *out = NULL;
    if (sk == NULL)
        return HENN_EINVAL;
    o = calloc(1, sizeof(*o));
    if (o == NULL)
        return HENN_ENOMEM;
    henn_paillier_sk_init(&o->sk);
    rc = henn_paillier_sk_from_primes(&o->sk, sk->p, sk->q, HENN_PAILLIER_INSECURE);
    /* The key holder computes h_s^a modulo p^2 and q^2 (pairs of 1,024-bit
     * residues at n = 2048, about 2.5x fewer multiply-adds than modulo
     * n^2); without the pair engine, the public table as before. */
    if (rc == 0) {
        rc = henn__paillier_fbcrt_build(&o->crt, &o->sk, OWNER_FB_W);
        if (rc == HENN_EPARAM)
            rc = henn_paillier_pk_precompute(&o->sk.pk, 0);
    }
    if (rc != 0) {
        henn_owner_free(o);
        return rc;
    }
    if (opts != NULL)
        o->opts = *opts;
    *out = o;
    return 0;
}

void henn_owner_free(henn_owner *o)
{
    if (o == NULL)
        return;
    henn__paillier_fbcrt_free(o->crt);
    henn_paillier_sk_clear(&o->sk);
    henn_memzero(o, sizeof(*o));
    free(o);
}

void henn_owner_set_decrypt_budget(henn_owner *o, uint64_t max)
{
    o->budget = max;
}

void henn_owner_resume_decrypt_budget(henn_owner *o, uint64_t max, uint64_t used)
{
    o->budget = max;
    o->served = used;
}

uint64_t henn_owner_decrypt_left(const henn_owner *o)
{
    if (o->budget == 0)
        return UINT64_MAX;
    return o->served < o->budget ? o->budget - o->served : 0;
}

void henn_owner_stats(henn_proto_stats *s, const henn_owner *o)
{
    *s = o->st;
}

/* Send req, free it, and check the response is OK (or return its error). */
static int call_expect(henn_transport *t, uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len, int want)
{
    int rc = henn_transport_call(t, req, req_len, resp, resp_len);
    free(req);
    if (rc != 0)
        return rc;
    rc = henn__msg_error_code(*resp, *resp_len);
    if (rc == 0 && henn_msg_type(*resp, *resp_len) != want)
        rc = HENN_EPROTO;
    if (rc == 0 && want == HENN_MSG_OK && *resp_len != HENN__MSG_HEADER)
        rc = HENN_EPROTO; /* OK carries nothing */
    if (rc != 0) {
        free(*resp);
        *resp = NULL;
    }
    return rc;
}

static void write_setup(henn__wbuf *w, const henn_owner *o, const henn_proto_params *p,
                        size_t dim, size_t rows, size_t per_ct)
{
    size_t nb = henn__nbytes(&o->sk.pk);
    henn__wbuf_start(w, HENN_MSG_SETUP);
    henn__wbuf_u32(w, (uint32_t)nb);
    henn__wbuf_mpz(w, o->sk.pk.n, nb);
    henn__params_write(w, p);
    henn__wbuf_u32(w, (uint32_t)dim);
    henn__wbuf_u32(w, (uint32_t)rows);
    henn__wbuf_u32(w, (uint32_t)per_ct);
}

static int send_setup(henn_owner *o, henn_transport *t, const henn_proto_params *p, size_t dim,
                      size_t rows, size_t per_ct)
{
    henn__wbuf w;
    uint8_t *req, *resp;
    size_t req_len, resp_len;
    int rc;
    write_setup(&w, o, p, dim, rows, per_ct);
    rc = henn__wbuf_finish(&w, &req, &req_len);
    if (rc != 0)
        return rc;
    rc = call_expect(t, req, req_len, &resp, &resp_len, HENN_MSG_OK);
    free(resp);
    o->st.messages++;
    return rc;
}

/* Encrypt count packed plaintexts P[] into cts (fresh DJN noise). */
static int encrypt_all(henn_owner *o, henn_paillier_ct *ct, henn_paillier_pt *pt, size_t count)
{
    henn_batch_opts quiet = o->opts;
    quiet.progress = NULL;
    o->st.encryptions += count;
    if (o->crt != NULL)
        return henn__paillier_encrypt_batch_crt(ct, &o->sk, o->crt, pt, count, &quiet);
    return henn_paillier_encrypt_batch(ct, &o->sk.pk, pt, count, &quiet);
}

static size_t per_ct_of(const henn_owner *o, const henn_proto_params *p)
{
    return (mpz_sizeinbase(o->sk.pk.n, 2) - 2) / p->slot_bits;
}

/* Plaintexts to pack and their ciphertexts, allocated and initialised
 * together (all or nothing); cleared with wiping. */
typedef struct enc_buf {
    henn_paillier_pt *pt;
    henn_paillier_ct *ct;
    size_t n;
} enc_buf;

static int enc_buf_init(enc_buf *b, size_t n)
{
    size_t i;
    b->n = n;
    b->pt = calloc(n, sizeof(*b->pt));
    b->ct = calloc(n, sizeof(*b->ct));
    if (b->pt == NULL || b->ct == NULL) {
        free(b->pt);
        free(b->ct);
        memset(b, 0, sizeof(*b));
        return HENN_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        henn_paillier_pt_init(&b->pt[i]);
        henn_paillier_ct_init(&b->ct[i]);
    }
    return 0;
}

static void enc_buf_clear(enc_buf *b)
{
    size_t i;
    for (i = 0; i < b->n; i++) {
        henn_paillier_pt_clear(&b->pt[i]); /* wipes the packed plaintexts */
        henn_paillier_ct_clear(&b->ct[i]);
    }
    free(b->pt);
    free(b->ct);
    memset(b, 0, sizeof(*b));
}

/* HENN_ERANGE unless each of X[0 .. count) quantises with p's input fixed
 * point (|x| <= 2^ai, finite), so that a refusal comes before any message
 * and never part-way through (the trainer would see how far it got). */
static int check_inputs(const henn_proto_params *p, const float *X, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        int64_t v;
        int rc = henn__quantize(&v, X[i], p->fx, p->ai, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int henn_owner_upload(henn_owner *o, henn_transport *t, const henn_proto_params *p,
                      const float *X, const uint8_t *y, size_t rows, size_t dim)
{
    size_t n_bits, per_ct, chunks, S, g, groups, i, j;
    int64_t *q = NULL;
    enc_buf b = {NULL, NULL, 0};
    int rc;

    if (o == NULL || t == NULL || p == NULL || X == NULL || y == NULL || rows == 0 || dim == 0 ||
        rows > UINT32_MAX)
        return HENN_EINVAL;
    n_bits = mpz_sizeinbase(o->sk.pk.n, 2);
    rc = henn_proto_params_check(p, dim, n_bits);
    if (rc != 0)
        return rc;
    if (rows > SIZE_MAX / dim)
        return HENN_EINVAL;
    /* Every value is checked before anything is sent. */
    rc = check_inputs(p, X, rows * dim);
    if (rc != 0)
        return rc;
    S = p->slots;
    per_ct = per_ct_of(o, p);
    chunks = (dim + per_ct - 1) / per_ct;
    groups = (rows + S - 1) / S;
    q = calloc(S * dim, sizeof(int64_t));
    if (q == NULL || enc_buf_init(&b, dim + S * chunks) != 0) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    rc = send_setup(o, t, p, dim, rows, per_ct);
    for (g = 0; rc == 0 && g < groups; g++) {
        size_t r0 = g * S, c = rows - r0 < S ? rows - r0 : S, k = 0;
        henn__wbuf w;
        uint8_t *req, *resp;
        size_t req_len, resp_len, width = 2 * henn__nbytes(&o->sk.pk);
        for (i = 0; i < c && rc == 0; i++)
            for (j = 0; j < dim && rc == 0; j++)
                rc = henn__quantize(&q[i * dim + j], X[(r0 + i) * dim + j], p->fx, p->ai, 1);
        if (rc != 0)
            break;
        /* Feature-major: slot s of ciphertext j holds x[r0 + s][j]. */
        for (j = 0; j < dim; j++)
            henn__pack(b.pt[k++].encoding, q + j, c, dim, p->slot_bits, o->sk.pk.n);
        /* Sample-major: slot f of chunk b of row i holds x[r0 + i][b per_ct + f]. */
        for (i = 0; i < c; i++)
            for (j = 0; j < chunks; j++) {
                size_t f0 = j * per_ct, nf = dim - f0 < per_ct ? dim - f0 : per_ct;
                henn__pack(b.pt[k++].encoding, q + i * dim + f0, nf, 1, p->slot_bits,
                           o->sk.pk.n);
            }
        rc = encrypt_all(o, b.ct, b.pt, k);
        if (rc != 0)
            break;
        henn__wbuf_start(&w, HENN_MSG_DATA);
        henn__wbuf_u32(&w, (uint32_t)g);
        henn__wbuf_u32(&w, (uint32_t)c);
        henn__wbuf_u32(&w, (uint32_t)dim);
        henn__wbuf_u32(&w, (uint32_t)chunks);
        henn__wbuf_bytes(&w, y + r0, c);
        for (i = 0; i < k; i++)
            henn__wbuf_mpz(&w, b.ct[i].c, width);
        rc = henn__wbuf_finish(&w, &req, &req_len);
        if (rc == 0)
            rc = call_expect(t, req, req_len, &resp, &resp_len, HENN_MSG_OK);
        if (rc == 0)
            free(resp);
        o->st.messages++;
        if (o->opts.progress != NULL)
            o->opts.progress(o->opts.user, r0 + c, rows);
    }
cleanup:
    if (q != NULL)
        henn_free(q, S * dim * sizeof(int64_t));
    enc_buf_clear(&b);
    return rc;
}

static void free_pts(henn_paillier_pt *pt, size_t count)
{
    size_t i;
    for (i = 0; pt != NULL && i < count; i++)
        henn_paillier_pt_clear(&pt[i]); /* wipes */
    free(pt);
}

/* Read the count ciphertexts that end r and decrypt them: *pt_out = count
 * plaintexts (release with free_pts). henn_paillier_decrypt_batch checks
 * each as the single call does (0 < c < n^2, gcd(c, n) = 1: HENN_ERANGE),
 * so the ciphertexts are not checked here first (that was the same gcd
 * twice per ciphertext). */
static int decrypt_rest(henn_owner *o, henn__rbuf *r, size_t count, henn_paillier_pt **pt_out)
{
    size_t width = 2 * henn__nbytes(&o->sk.pk), i;
    henn_paillier_ct *ct = calloc(count, sizeof(*ct));
    henn_paillier_pt *pt = calloc(count, sizeof(*pt));
    int rc = 0;

    *pt_out = NULL;
    if (ct == NULL || pt == NULL) {
        free(ct);
        free(pt);
        return HENN_ENOMEM;
    }
    for (i = 0; i < count; i++) {
        henn_paillier_ct_init(&ct[i]);
        henn_paillier_pt_init(&pt[i]);
        memcpy(ct[i].kid, o->sk.pk.kid, HENN_PAILLIER_KIDBYTES);
        henn__rbuf_mpz(r, ct[i].c, width);
    }
    rc = henn__rbuf_done(r);
    if (rc == 0) {
        henn_batch_opts quiet = o->opts;
        quiet.progress = NULL;
        rc = henn_paillier_decrypt_batch(pt, &o->sk, ct, count, &quiet);
    }
    if (rc == 0)
        o->st.decryptions += count;
    for (i = 0; i < count; i++)
        henn_paillier_ct_clear(&ct[i]);
    free(ct);
    if (rc == 0)
        *pt_out = pt;
    else
        free_pts(pt, count);
    return rc;
}

/* DECRYPT request -> PLAIN response. */
static int handle_decrypt(henn_owner *o, henn__rbuf *r, uint8_t **resp, size_t *resp_len)
{
    size_t nb = henn__nbytes(&o->sk.pk), count, i;
    henn_paillier_pt *pt;
    henn__wbuf w;
    int rc;

    count = henn__rbuf_u32(r);
    if (r->err != 0 || count == 0 || count > (r->len - r->pos) / (2 * nb))
        return HENN_EFORMAT;
    if (count > henn_owner_decrypt_left(o))
        return HENN_EPROTO; /* beyond the budget, or the budget spent */
    rc = decrypt_rest(o, r, count, &pt);
    if (rc != 0)
        return rc;
    o->served += count;
    henn__wbuf_start(&w, HENN_MSG_PLAIN);
    henn__wbuf_u32(&w, (uint32_t)count);
    for (i = 0; i < count; i++)
        henn__wbuf_mpz(&w, pt[i].encoding, nb);
    rc = henn__wbuf_finish(&w, resp, resp_len);
    free_pts(pt, count);
    return rc;
}

int henn_owner_handle(henn_owner *o, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    henn__rbuf r;
    int type, rc;
    *resp = NULL;
    *resp_len = 0;
    rc = henn__rbuf_open(&r, &type, req, req_len);
    if (rc == 0)
        rc = type == HENN_MSG_DECRYPT ? handle_decrypt(o, &r, resp, resp_len) : HENN_EPROTO;
    o->st.messages++;
    if (rc == HENN_ENOMEM)
        return rc;
    if (rc != 0)
        return henn__msg_error(resp, resp_len, rc);
    return 0;
}

/*
 * Decrypt the CIPHER response to layer l's INFER into z [count x outs]
 * (unscaled by 2^-(fx+fw)). The response must answer layer l; outs must
 * be 1..HENN_NN_MAX_DIM and match the ciphertexts sent. A ciphertext
 * whose slots do not unpack (the trainer's fault, never the honest
 * protocol's) gives zeros, counted in out_of_range: the owner's messages
 * stay independent of the values.
 */
static int read_round(henn_owner *o, const henn_proto_params *p, const uint8_t *msg,
                      size_t msg_len, size_t l, size_t count, double **zp, size_t *out_dim,
                      int *final, henn_nn_act *act)
{
    henn__rbuf r;
    int type, rc;
    size_t i, s, width = 2 * henn__nbytes(&o->sk.pk), outs;
    uint32_t layer, fin, a;
    henn_paillier_pt *pt = NULL;
    int64_t *v;
    mpz_t t1, t2;
    double scale = ldexp(1.0, -(int)(p->fx + p->fw)), *z;

    *zp = NULL;
    if (henn__rbuf_open(&r, &type, msg, msg_len) != 0 || type != HENN_MSG_CIPHER)
        return HENN_EPROTO;
    layer = henn__rbuf_u32(&r);
    fin = henn__rbuf_u32(&r);
    a = henn__rbuf_u32(&r);
    outs = henn__rbuf_u32(&r);
    if (r.err != 0 || layer != l || fin > 1 || a > (uint32_t)HENN_NN_RELU || outs == 0 ||
        outs > HENN_NN_MAX_DIM || outs != (r.len - r.pos) / width ||
        (r.len - r.pos) % width != 0)
        return HENN_EPROTO;
    *final = (int)fin;
    *act = (henn_nn_act)a;
    *out_dim = outs;
    rc = decrypt_rest(o, &r, outs, &pt);
    if (rc != 0)
        return rc;
    v = calloc(count, sizeof(int64_t));
    z = malloc(count * outs * sizeof(double));
    if (v == NULL || z == NULL) {
        free(v);
        free(z);
        free_pts(pt, outs);
        return HENN_ENOMEM;
    }
    mpz_init(t1);
    mpz_init(t2);
    for (i = 0; i < outs; i++) {
        int bad = henn__unpack(v, count, pt[i].encoding, p->slot_bits, o->sk.pk.n, t1, t2) != 0;
        o->st.out_of_range += bad ? count : 0;
        for (s = 0; s < count; s++)
            z[s * outs + i] = bad ? 0.0 : (double)v[s] * scale;
    }
    free_pts(pt, outs);
    henn__mpz_wipe_clear(t1);
    henn__mpz_wipe_clear(t2);
    henn_free(v, count * sizeof(int64_t));
    *zp = z;
    return 0;
}

/* One INFER request: layer l's input a [count x dim] -> CIPHER response. */
static int send_layer(henn_owner *o, henn_transport *t, const henn_proto_params *p, size_t l,
                      const double *a, size_t count, size_t dim, uint8_t **resp, size_t *resp_len)
{
    enc_buf b = {NULL, NULL, 0};
    int64_t *q = NULL;
    size_t i, j, width = 2 * henn__nbytes(&o->sk.pk);
    henn__wbuf w;
    uint8_t *req;
    size_t req_len;
    int rc = 0;

    q = calloc(count * dim, sizeof(int64_t));
    if (q == NULL || enc_buf_init(&b, dim) != 0) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < count * dim && rc == 0; i++)
        rc = henn__quantize(&q[i], a[i], p->fx, p->ai, 1);
    for (j = 0; rc == 0 && j < dim; j++)
        henn__pack(b.pt[j].encoding, q + j, count, dim, p->slot_bits, o->sk.pk.n);
    if (rc == 0)
        rc = encrypt_all(o, b.ct, b.pt, dim);
    if (rc != 0)
        goto cleanup;
    henn__wbuf_start(&w, HENN_MSG_INFER);
    henn__params_write(&w, p);
    henn__wbuf_u32(&w, (uint32_t)l);
    henn__wbuf_u32(&w, (uint32_t)count);
    henn__wbuf_u32(&w, (uint32_t)dim);
    for (j = 0; j < dim; j++)
        henn__wbuf_mpz(&w, b.ct[j].c, width);
    rc = henn__wbuf_finish(&w, &req, &req_len);
    if (rc == 0)
        rc = call_expect(t, req, req_len, resp, resp_len, HENN_MSG_CIPHER);
    o->st.messages++;
cleanup:
    if (q != NULL)
        henn_free(q, count * dim * sizeof(int64_t));
    enc_buf_clear(&b);
    return rc;
}

/* Activation, then clamp to [-2^ai, 2^ai] (the range the next layer's
 * fixed point holds); returns the number of values clamped. */
static uint64_t apply_act(double *v, size_t n, henn_nn_act act, unsigned ai)
{
    double lim = ldexp(1.0, (int)ai);
    uint64_t clamped = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        switch (act) {
        case HENN_NN_SIGMOID:
            v[i] = 1.0 / (1.0 + exp(-v[i]));
            break;
        case HENN_NN_TANH:
            v[i] = tanh(v[i]);
            break;
        case HENN_NN_RELU:
            v[i] = v[i] > 0.0 ? v[i] : 0.0;
            break;
        default:
            break;
        }
        /* branch-free in effect: both bounds are always compared */
        clamped += (uint64_t)(v[i] > lim) + (uint64_t)(v[i] < -lim);
        v[i] = v[i] > lim ? lim : v[i] < -lim ? -lim : v[i];
    }
    return clamped;
}

int henn_owner_infer(henn_owner *o, henn_transport *t, const henn_proto_params *p,
                     const float *X, size_t rows, size_t dim, size_t classes, uint8_t *pred,
                     float *scores)
{
    size_t S, r0, i, j;
    double *a = NULL, *z = NULL;
    int rc;

    if (o == NULL || t == NULL || p == NULL || X == NULL || pred == NULL || rows == 0 ||
        dim == 0 || dim > HENN_NN_MAX_DIM || classes == 0 || classes > 256 ||
        rows > SIZE_MAX / dim)
        return HENN_EINVAL;
    rc = henn_proto_params_check(p, dim, mpz_sizeinbase(o->sk.pk.n, 2));
    if (rc != 0)
        return rc;
    /* The inputs are checked before anything is sent. */
    rc = check_inputs(p, X, rows * dim);
    if (rc != 0)
        return rc;
    S = p->slots;
    rc = send_setup(o, t, p, dim, 0, per_ct_of(o, p));
    if (rc != 0)
        return rc;
    for (r0 = 0; r0 < rows && rc == 0; r0 += S) {
        size_t c = rows - r0 < S ? rows - r0 : S, in_dim = dim, l;
        int final = 0;
        free(a);
        a = malloc(c * dim * sizeof(double));
        if (a == NULL) {
            rc = HENN_ENOMEM;
            break;
        }
        for (i = 0; i < c * dim; i++)
            a[i] = X[r0 * dim + i];
        for (l = 0; !final && rc == 0; l++) {
            uint8_t *resp = NULL;
            size_t resp_len = 0, out_dim = 0;
            henn_nn_act act = HENN_NN_IDENTITY;
            if (l >= HENN_NN_MAX_LAYERS) {
                rc = HENN_EPROTO;
                break;
            }
            rc = send_layer(o, t, p, l, a, c, in_dim, &resp, &resp_len);
            if (rc != 0)
                break;
            free(z);
            rc = read_round(o, p, resp, resp_len, l, c, &z, &out_dim, &final, &act);
            free(resp);
            if (rc != 0)
                break;
            if (!final) {
                o->st.out_of_range += apply_act(z, c * out_dim, act, p->ai);
                henn_free(a, c * in_dim * sizeof(double));
                a = z;
                z = NULL;
                in_dim = out_dim;
                continue;
            }
            if (out_dim != classes) {
                rc = HENN_EPROTO; /* not the model the owner asked for */
                break;
            }
            for (i = 0; i < c; i++) {
                size_t best = 0;
                for (j = 0; j < classes; j++) {
                    if (z[i * classes + j] > z[i * classes + best])
                        best = j;
                    if (scores != NULL)
                        scores[(r0 + i) * classes + j] = (float)z[i * classes + j];
                }
                pred[r0 + i] = (uint8_t)best;
            }
        }
        if (o->opts.progress != NULL)
            o->opts.progress(o->opts.user, r0 + c, rows);
    }
    free(a);
    free(z);
    return rc;
}
