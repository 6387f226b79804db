/* Review of private training's PSTEP/PSTEPR (henn/protocol.h, "Private
 * training"), the parties played as adversaries.
 *  - Trainer: every malformed or out-of-rule PSTEP is served by one
 *    trainer while a second gets the same two parts one by one (stopping
 *    at the first refusal, or nothing when the PSTEP's framing is
 *    refused); the responses must be equal byte for byte and so must the
 *    two trainers' states (weights, step count, and the forward pass's
 *    position, probed by a fixed resync sequence after every attack).
 *  - Owner: a lying trainer changes one PSTEPR (or answers a plain PGRAD
 *    with one); the owner must refuse with the documented code having
 *    decrypted no more than the batches it completed.
 *  - Prefetch thread: the transport fails on every call in turn, with
 *    threads 0, 1 and 4, on two- and one-layer models (ASan: no leak;
 *    TSan: no race); tails that sit out or ride on a PSTEP; two owners
 *    at once.
 *  - Service (kdd-private through henn_svc_server_route, no network): every
 *    message retried (the stored answer), the server restarted after
 *    every PSTEP (the replayed model equals a local trainer fed the same
 *    messages), a PSTEP over the session quota before and after the party
 *    serves it (nothing committed, the party rebuilt), and a half-applied
 *    PSTEP (PGRAD applied, INFER refused) committed and replayed.
 * Keys under 2048 bits through the test hooks only. */
#define _DEFAULT_SOURCE /* mkdtemp */
#define _XOPEN_SOURCE 700 /* nftw */
#include "../test.h"

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"
#include "protocol/kdd_private.h"
#include "../private_rows.h"

void henn__private_trainer_allow_insecure(henn_private_trainer *t);
void henn__svc_server_allow_insecure(henn_svc_server *s);

static henn_paillier_pk PK;
static henn_paillier_sk SK;

#define ROWS 64
#define DIM 6
#define HID 5
#define CLS 3
#define BATCH 16
#define NGRAD (HID * DIM + HID + CLS * HID + CLS)

static float X[ROWS * DIM];
static uint8_t Y[ROWS];
static size_t NB; /* bytes of n */

static void make_data(void)
{
    private_rows(X, Y, ROWS, DIM, 777UL);
}

static void params(henn_proto_params *p)
{
    private_params(p, &PK, DIM, BATCH);
}

static void make_model(henn_nn_model *m, henn_nn_opts *nn, size_t layers)
{
    size_t dims2[3] = {DIM, HID, CLS}, dims1[2] = {DIM, CLS};
    CHECK_OK(henn_nn_model_init(m, layers == 2 ? dims2 : dims1, layers + 1, HENN_NN_SIGMOID,
                                HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(nn);
    nn->lr = 0.05f;
    nn->max_rows = BATCH;
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ---- messages ---- */

typedef struct buf {
    uint8_t *p;
    size_t len;
} buf;

static buf setup_msg(const henn_proto_params *p)
{
    henn__wbuf w;
    buf b = {NULL, 0};
    henn__wbuf_start(&w, HENN_MSG_PSETUP);
    henn__wbuf_u32(&w, (uint32_t)NB);
    henn__wbuf_mpz(&w, PK.n, NB);
    henn__params_write(&w, p);
    henn__wbuf_u32(&w, DIM);
    henn__wbuf_u32(&w, CLS);
    CHECK_OK(henn__wbuf_finish(&w, &b.p, &b.len));
    return b;
}

/* PGRAD for `count` rows, every value v (value k = bad: NAN). */
static buf grad_msg(uint32_t count, double v, int nan_at)
{
    henn__wbuf w;
    buf b = {NULL, 0};
    size_t k;
    henn__wbuf_start(&w, HENN_MSG_PGRAD);
    henn__wbuf_u32(&w, count);
    henn__wbuf_u32(&w, 2);
    for (k = 0; k < NGRAD; k++)
        henn__wbuf_f64(&w, (int)k == nan_at ? NAN : v * (double)(k % 7 + 1));
    CHECK_OK(henn__wbuf_finish(&w, &b.p, &b.len));
    return b;
}

/* INFER of layer l for `count` rows, `cts` ciphertexts (ct i = enc(i+1)),
 * with params p. */
static buf infer_msg(const henn_proto_params *p, uint32_t l, uint32_t count, size_t cts)
{
    henn__wbuf w;
    buf b = {NULL, 0};
    size_t k;
    henn_paillier_ct ct;
    henn_paillier_pt pt;
    henn_paillier_ct_init(&ct);
    henn_paillier_pt_init(&pt);
    henn__wbuf_start(&w, HENN_MSG_INFER);
    henn__params_write(&w, p);
    henn__wbuf_u32(&w, l);
    henn__wbuf_u32(&w, count);
    henn__wbuf_u32(&w, l == 0 ? DIM : HID);
    for (k = 0; k < cts; k++) {
        mpz_set_ui(pt.encoding, (unsigned long)(k + 1));
        CHECK_OK(henn_paillier_encrypt(&ct, &PK, &pt));
        henn__wbuf_mpz(&w, ct.c, 2 * NB);
    }
    CHECK_OK(henn__wbuf_finish(&w, &b.p, &b.len));
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&pt);
    return b;
}

/* PSTEP: u32 claim, then g, then i (either may be any bytes). */
static buf step_msg(const buf *g, const buf *i, uint32_t claim)
{
    henn__wbuf w;
    buf b = {NULL, 0};
    henn__wbuf_start(&w, HENN_MSG_PSTEP);
    henn__wbuf_u32(&w, claim);
    if (g != NULL)
        henn__wbuf_bytes(&w, g->p, g->len);
    if (i != NULL)
        henn__wbuf_bytes(&w, i->p, i->len);
    CHECK_OK(henn__wbuf_finish(&w, &b.p, &b.len));
    return b;
}

static buf copy_buf(const buf *a)
{
    buf b = {malloc(a->len + 1), a->len};
    memcpy(b.p, a->p, a->len);
    return b;
}

static buf error_msg(int code)
{
    buf b = {NULL, 0};
    CHECK_OK(henn__msg_error(&b.p, &b.len, code));
    return b;
}

/* ---- trainer: a PSTEP against its parts one by one ---- */

typedef struct duo {
    henn_private_trainer *a, *b; /* a: PSTEPs, b: the parts */
} duo;

static int duo_same(duo *d, const buf *m)
{
    uint8_t *ra = NULL, *rb = NULL;
    size_t la = 0, lb = 0;
    int rc;
    CHECK_OK(henn_private_trainer_handle(d->a, m->p, m->len, &ra, &la));
    CHECK_OK(henn_private_trainer_handle(d->b, m->p, m->len, &rb, &lb));
    CHECK(la == lb && ra != NULL && rb != NULL && memcmp(ra, rb, la) == 0);
    rc = henn__msg_error_code(ra, la);
    free(ra);
    free(rb);
    return rc;
}

/* The two trainers' weights and step counts. */
static void duo_state_equal(duo *d)
{
    const henn_nn_model *a = henn_private_trainer_model(d->a), *b = henn_private_trainer_model(d->b);
    henn_proto_stats s;
    uint64_t sa, sb;
    size_t l;
    for (l = 0; l < a->layers; l++) {
        CHECK(memcmp(a->W[l], b->W[l], a->dims[l + 1] * a->dims[l] * sizeof(float)) == 0);
        CHECK(memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) == 0);
    }
    henn_private_trainer_stats(&s, &sa, d->a);
    henn_private_trainer_stats(&s, &sb, d->b);
    CHECK_EQ_INT(sa, sb);
}

/* Whatever the forward pass's position (next layer 0, 1 or 2, of BATCH
 * or BATCH + 1 rows), i1, i1 of BATCH + 1 rows, i0, i1 leaves both after
 * a full pass of BATCH rows; each response (a CIPHER depends on the
 * weights, a refusal on the position) must match byte for byte. */
static buf I1X; /* layer 1 of BATCH + 1 rows (2 chunks) */

static void duo_resync(duo *d, const buf *i0, const buf *i1)
{
    (void)duo_same(d, i1);
    (void)duo_same(d, &I1X);
    CHECK_OK(duo_same(d, i0));
    CHECK_OK(duo_same(d, i1));
}

/* a gets the PSTEP s; b gets g then i (framed = 1; stopping at the first
 * refusal) or nothing (framed = 0). The PSTEP's answer must be the
 * refusal of the part that failed, or u32 m, b's PMODEL and b's CIPHER.
 * Returns the PSTEP's code. */
static int duo_step(duo *d, const buf *s, const buf *g, const buf *i, int framed)
{
    uint8_t *ra = NULL, *rg = NULL, *ri = NULL;
    size_t la = 0, lg = 0, li = 0;
    int rc, cg = 0, ci = 0;
    CHECK_OK(henn_private_trainer_handle(d->a, s->p, s->len, &ra, &la));
    rc = henn__msg_error_code(ra, la);
    if (!framed) {
        buf e = error_msg(HENN_EFORMAT);
        CHECK(la == e.len && memcmp(ra, e.p, la) == 0);
        free(e.p);
        free(ra);
        return rc;
    }
    CHECK_OK(henn_private_trainer_handle(d->b, g->p, g->len, &rg, &lg));
    cg = henn__msg_error_code(rg, lg);
    if (cg != 0) {
        CHECK(la == lg && memcmp(ra, rg, la) == 0);
    } else {
        CHECK_OK(henn_private_trainer_handle(d->b, i->p, i->len, &ri, &li));
        ci = henn__msg_error_code(ri, li);
        if (ci != 0) {
            CHECK(la == li && memcmp(ra, ri, la) == 0);
        } else {
            CHECK_EQ_INT(henn_msg_type(ra, la), HENN_MSG_PSTEPR);
            CHECK_EQ_INT(la, 16 + lg + li);
            if (la == 16 + lg + li) {
                CHECK_EQ_INT(private_be32(ra + 12), lg);
                CHECK(memcmp(ra + 16, rg, lg) == 0);
                CHECK(memcmp(ra + 16 + lg, ri, li) == 0);
            }
        }
    }
    free(ra);
    free(rg);
    free(ri);
    return rc;
}

/* A PSTEP of g and i with the length claim whose framing the trainer must
 * refuse: duo_step's code, nothing applied to either trainer. */
static int step_unframed(duo *d, const buf *g, const buf *i, uint32_t claim)
{
    buf x = step_msg(g, i, claim);
    int rc = duo_step(d, &x, NULL, NULL, 0);
    free(x.p);
    return rc;
}

static void test_trainer_step_attacks(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p, q;
    henn_trainer_limits lim;
    duo d = {NULL, NULL};
    buf setup, g, gfew, gmore, gnan, i0, i1, s, x, y, e;
    size_t k;
    int rc;

    params(&p);
    make_model(&m, &nn, 2);
    CHECK_OK(henn_private_trainer_new(&d.a, &m, &nn, NULL));
    CHECK_OK(henn_private_trainer_new(&d.b, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(d.a);
    henn__private_trainer_allow_insecure(d.b);
    henn_trainer_limits_default(&lim);
    lim.max_rows = 40;
    CHECK_OK(henn_private_trainer_set_limits(d.a, &lim));
    CHECK_OK(henn_private_trainer_set_limits(d.b, &lim));
    setup = setup_msg(&p);
    g = grad_msg(BATCH, 0.01, -1);
    gfew = grad_msg(DIM, 0.01, -1);      /* fewer than dim + 1 rows */
    gmore = grad_msg(BATCH + 1, 0.01, -1); /* another row count */
    gnan = grad_msg(BATCH, 0.01, 3);
    i0 = infer_msg(&p, 0, BATCH, DIM);
    i1 = infer_msg(&p, 1, BATCH, HID);
    I1X = infer_msg(&p, 1, BATCH + 1, 2 * HID);
    CHECK_OK(duo_same(&d, &setup));
    duo_resync(&d, &i0, &i1);

    /* 1. An honest PSTEP, then the same PSTEP again (a step applied
     * twice: the second PGRAD finds the next batch's layer 0 pending). */
    s = step_msg(&g, &i0, (uint32_t)g.len);
    CHECK_OK(duo_step(&d, &s, &g, &i0, 1));
    duo_state_equal(&d);
    CHECK_RC(duo_step(&d, &s, &g, &i0, 1), HENN_EPROTO);
    duo_state_equal(&d);
    /* and once more after layer 1: served (a new step, as one by one) */
    CHECK_OK(duo_same(&d, &i1));
    CHECK_OK(duo_step(&d, &s, &g, &i0, 1));
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);

    /* 2. A gradient from fewer than dim + 1 rows, and from another row
     * count than the forward pass: the PGRAD's refusals. */
    x = step_msg(&gfew, &i0, (uint32_t)gfew.len);
    CHECK_RC(duo_step(&d, &x, &gfew, &i0, 1), HENN_EINVAL);
    free(x.p);
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);
    x = step_msg(&gmore, &i0, (uint32_t)gmore.len);
    CHECK_RC(duo_step(&d, &x, &gmore, &i0, 1), HENN_EPROTO);
    free(x.p);
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);
    /* a gradient that is not finite (the pass is reset, as one by one) */
    x = step_msg(&gnan, &i0, (uint32_t)gnan.len);
    CHECK_RC(duo_step(&d, &x, &gnan, &i0, 1), HENN_ERANGE);
    free(x.p);
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);

    /* 3. A PGRAD without a complete forward pass: after layer 0 only. */
    CHECK_OK(duo_same(&d, &i0));
    CHECK_RC(duo_step(&d, &s, &g, &i0, 1), HENN_EPROTO);
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);

    /* 4. The INFER part: for too few rows, over the limits' max_rows
     * (40), for another row count (17 rows in 2 chunks: a new batch may
     * have any count), with the chunk count wrong, with other params, for
     * layer 1: refused after the PGRAD is applied, as one by one. */
    {
        struct {
            uint32_t l, count;
            size_t cts;
            int other_params, want;
        } cases[] = {
            {0, DIM, DIM, 0, HENN_EINVAL},
            {0, 41, 3 * DIM, 0, HENN_EINVAL},
            {0, BATCH + 1, 2 * DIM, 0, 0},
            {0, BATCH + 1, DIM, 0, HENN_EFORMAT},
            {0, BATCH, 2 * DIM, 0, HENN_EFORMAT},
            {0, BATCH, DIM, 1, HENN_EFORMAT},
            {1, BATCH, HID, 0, HENN_EPROTO},
        };
        for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            uint64_t before, after;
            henn_proto_stats st;
            q = p;
            if (cases[k].other_params)
                q.fx += 1;
            y = infer_msg(&q, cases[k].l, cases[k].count, cases[k].cts);
            x = step_msg(&g, &y, (uint32_t)g.len);
            henn_private_trainer_stats(&st, &before, d.a);
            CHECK_RC(duo_step(&d, &x, &g, &y, 1), cases[k].want);
            henn_private_trainer_stats(&st, &after, d.a);
            CHECK_EQ_INT(after, before + 1); /* the PGRAD stays applied */
            duo_state_equal(&d);
            duo_resync(&d, &i0, &i1);
            free(x.p);
            free(y.p);
        }
    }
    /* an INFER whose ciphertext is 0 (not a unit mod n^2) */
    y = copy_buf(&i0);
    memset(y.p + y.len - 2 * NB, 0, 2 * NB);
    x = step_msg(&g, &y, (uint32_t)g.len);
    rc = duo_step(&d, &x, &g, &y, 1);
    CHECK(rc != 0);
    duo_state_equal(&d);
    duo_resync(&d, &i0, &i1);
    free(x.p);
    free(y.p);

    /* 5. Framing: refused before anything is applied (b gets nothing). */
    {
        henn_proto_stats st;
        uint64_t before, after;
        const uint32_t claims[] = {0,
                                   1,
                                   4,
                                   8,
                                   11,
                                   12,
                                   (uint32_t)g.len - 1,
                                   (uint32_t)g.len + 1,
                                   (uint32_t)(g.len + i0.len),
                                   (uint32_t)(g.len + i0.len + 1),
                                   0x7fffffffu,
                                   0xfffffff0u,
                                   UINT32_MAX};
        henn_private_trainer_stats(&st, &before, d.a);
        for (k = 0; k < sizeof(claims) / sizeof(claims[0]); k++) {
            CHECK_RC(step_unframed(&d, &g, &i0, claims[k]), HENN_EFORMAT);
        }
        /* zero-length parts: no INFER, no PGRAD, nothing at all */
        CHECK_RC(step_unframed(&d, &g, NULL, (uint32_t)g.len), HENN_EFORMAT);
        CHECK_RC(step_unframed(&d, NULL, &i0, 0), HENN_EFORMAT);
        CHECK_RC(step_unframed(&d, NULL, NULL, 0), HENN_EFORMAT);
        /* the PSTEP's header claims 3 bytes only (u32 g cut) */
        {
            uint8_t h[15] = {'H', 'N', 'P', 1, HENN_MSG_PSTEP, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0};
            buf hb = {h, sizeof(h)};
            CHECK_RC(duo_step(&d, &hb, NULL, NULL, 0), HENN_EFORMAT);
        }
        /* nested: a PSTEP in the INFER's place and in the PGRAD's place */
        CHECK_RC(step_unframed(&d, &g, &s, (uint32_t)g.len), HENN_EFORMAT);
        CHECK_RC(step_unframed(&d, &s, &i0, (uint32_t)s.len), HENN_EFORMAT);
        /* a PSTEPR, an ERROR, a PMODEL-typed copy of the PGRAD, a second
         * PGRAD in the INFER's place */
        y = copy_buf(&s);
        y.p[4] = HENN_MSG_PSTEPR;
        CHECK_RC(step_unframed(&d, &g, &y, (uint32_t)g.len), HENN_EFORMAT);
        free(y.p);
        e = error_msg(HENN_EINVAL);
        CHECK_RC(step_unframed(&d, &g, &e, (uint32_t)g.len), HENN_EFORMAT);
        CHECK_RC(step_unframed(&d, &e, &i0, (uint32_t)e.len), HENN_EFORMAT);
        free(e.p);
        y = copy_buf(&g);
        y.p[4] = HENN_MSG_PMODEL;
        CHECK_RC(step_unframed(&d, &y, &i0, (uint32_t)y.len), HENN_EFORMAT);
        free(y.p);
        CHECK_RC(step_unframed(&d, &g, &g, (uint32_t)g.len), HENN_EFORMAT);
        /* inner messages of another family ('C', 'R'), version 2, a type
         * byte's high bytes set, a length field one off */
        for (k = 0; k < 10; k++) {
            buf gg = copy_buf(&g), ii = copy_buf(&i0);
            buf *t = k % 2 ? &ii : &gg;
            switch (k / 2) {
            case 0:
                t->p[2] = 'C';
                break;
            case 1:
                t->p[2] = 'R';
                break;
            case 2:
                t->p[3] = 2;
                break;
            case 3:
                t->p[5] = 1;
                break;
            default:
                put32(t->p + 8, private_be32(t->p + 8) + 1);
                break;
            }
            CHECK_RC(step_unframed(&d, &gg, &ii, (uint32_t)gg.len), HENN_EFORMAT);
            free(gg.p);
            free(ii.p);
        }
        /* trailing bytes after the INFER (nothing may follow it) */
        y = copy_buf(&i0);
        y.p = realloc(y.p, y.len + 4);
        memset(y.p + y.len, 0, 4);
        y.len += 4;
        CHECK_RC(step_unframed(&d, &g, &y, (uint32_t)g.len), HENN_EFORMAT);
        free(y.p);
        henn_private_trainer_stats(&st, &after, d.a);
        CHECK_EQ_INT(after, before); /* none of them took a step */
        /* and the forward pass is still complete: the honest PSTEP works */
        duo_state_equal(&d);
        CHECK_OK(duo_step(&d, &s, &g, &i0, 1));
        duo_state_equal(&d);
    }

    /* 6. On a fresh trainer: a PSTEP before PSETUP, a PSTEPR (the
     * owner's type) and type 13 (past the last): refused. */
    {
        henn_private_trainer *t = NULL;
        uint8_t *r = NULL;
        size_t rl = 0;
        CHECK_OK(henn_private_trainer_new(&t, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(t);
        CHECK_OK(henn_private_trainer_handle(t, s.p, s.len, &r, &rl));
        CHECK_RC(henn__msg_error_code(r, rl), HENN_EPROTO);
        free(r);
        /* a PSTEPR sent to the trainer */
        y = copy_buf(&s);
        y.p[4] = HENN_MSG_PSTEPR;
        CHECK_OK(henn_private_trainer_handle(t, y.p, y.len, &r, &rl));
        CHECK_RC(henn__msg_error_code(r, rl), HENN_EPROTO);
        free(r);
        y.p[4] = 13; /* past the last type */
        CHECK_OK(henn_private_trainer_handle(t, y.p, y.len, &r, &rl));
        CHECK_RC(henn__msg_error_code(r, rl), HENN_EFORMAT);
        free(r);
        free(y.p);
        henn_private_trainer_free(t);
    }

    free(s.p);
    free(setup.p);
    free(g.p);
    free(gfew.p);
    free(gmore.p);
    free(gnan.p);
    free(i0.p);
    free(i1.p);
    free(I1X.p);
    henn_private_trainer_free(d.a);
    henn_private_trainer_free(d.b);
    henn_nn_model_clear(&m);
}

/* Random single-byte changes to an honest PSTEP's framing and fields (u32
 * g, both inner headers, the PGRAD's count and layers and first value,
 * the INFER's params, layer, count and width), fixed seed: each answered
 * as the parts one by one (or, when the parts no longer frame as a PGRAD
 * and an INFER, refused with nothing applied), states equal after. */
static void test_trainer_step_mutations(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    duo d = {NULL, NULL};
    buf setup, g, i0, i1, s, x, gg, ii;
    unsigned long seed = 20261122;
    size_t iter, served = 0, refused = 0, unframed = 0;

    params(&p);
    make_model(&m, &nn, 2);
    CHECK_OK(henn_private_trainer_new(&d.a, &m, &nn, NULL));
    CHECK_OK(henn_private_trainer_new(&d.b, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(d.a);
    henn__private_trainer_allow_insecure(d.b);
    setup = setup_msg(&p);
    g = grad_msg(BATCH, 0.01, -1);
    i0 = infer_msg(&p, 0, BATCH, DIM);
    i1 = infer_msg(&p, 1, BATCH, HID);
    I1X = infer_msg(&p, 1, BATCH + 1, 2 * HID);
    s = step_msg(&g, &i0, (uint32_t)g.len);
    CHECK_OK(duo_same(&d, &setup));
    for (iter = 0; iter < 150; iter++) {
        size_t pos, glen;
        uint8_t v;
        int framed, rc;
        duo_resync(&d, &i0, &i1);
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        /* positions: 12..15 (g), 16..16+12+8+8 (PGRAD header, count,
         * layers, first value), 16+g .. 16+g+12+36 (INFER header, params,
         * layer, count, width) */
        pos = (size_t)(seed >> 33) % (4 + 28 + 48);
        pos = pos < 4 ? 12 + pos : pos < 32 ? 16 + (pos - 4) : 16 + g.len + (pos - 32);
        v = (uint8_t)(seed >> 20);
        if ((seed >> 60) & 1)
            v = (uint8_t)(s.p[pos] ^ (1u << ((seed >> 16) & 7))); /* one bit */
        x = copy_buf(&s);
        x.p[pos] = v;
        glen = private_be32(x.p + 12);
        framed = glen <= x.len - 16 && henn_msg_type(x.p + 16, glen) == HENN_MSG_PGRAD &&
                 henn_msg_type(x.p + 16 + glen, x.len - 16 - glen) == HENN_MSG_INFER;
        gg.p = x.p + 16;
        gg.len = framed ? glen : 0;
        ii.p = x.p + 16 + gg.len;
        ii.len = framed ? x.len - 16 - glen : 0;
        rc = duo_step(&d, &x, &gg, &ii, framed);
        if (!framed)
            unframed++;
        else if (rc == 0)
            served++;
        else
            refused++;
        duo_state_equal(&d);
        free(x.p);
    }
    /* the mix is not degenerate */
    CHECK(served > 0 && refused > 0 && unframed > 0);
    printf("PSTEP mutations (seed 20261122): %zu served, %zu refused, %zu not framed\n", served,
           refused, unframed);
    free(setup.p);
    free(g.p);
    free(i0.p);
    free(i1.p);
    free(I1X.p);
    free(s.p);
    henn_private_trainer_free(d.a);
    henn_private_trainer_free(d.b);
    henn_nn_model_clear(&m);
}

/* ---- owner: a lying trainer ---- */

enum {
    LIE_CIPHER_EXTRA_CHUNK = 1, /* one more chunk of ciphertexts */
    LIE_CIPHER_NO_CT,           /* the chunk removed */
    LIE_CIPHER_ERROR,           /* an ERROR in the CIPHER's place */
    LIE_MODEL_ERROR,            /* an ERROR in the PMODEL's place */
    LIE_CIPHER_NESTED,          /* the whole PSTEPR in the CIPHER's place */
    LIE_MODEL_NESTED,           /* the whole PSTEPR in the PMODEL's place */
    LIE_M_ZERO,                 /* m = 0 */
    LIE_M_MAX,                  /* m = UINT32_MAX */
    LIE_MODEL_ACT,              /* PMODEL with ReLU hidden units */
    LIE_MODEL_OUTPUT,           /* PMODEL with the other output rule */
    LIE_MODEL_DEEPER,           /* PMODEL with a layer more */
    LIE_CIPHER_TRAIL,           /* 4 bytes after the CIPHER */
    LIE_CIPHER_DOUT,            /* CIPHER claims HID + 1 outputs */
    LIE_CIPHER_ZERO_CT,         /* a ciphertext 0 */
    LIE_ERROR_RESP,             /* an ERROR (EINVAL) for the whole PSTEP */
    LIE_ERROR_BADCODE,          /* an ERROR with code 99 */
    LIE_PSTEPR_FOR_PGRAD,       /* a PSTEPR answering a plain PGRAD */
    LIE_SWAP,                   /* the PSTEPR's parts swapped */
    LIE_REPLAY_CIPHER,          /* the first batch's layer-0 CIPHER again */
    LIE_OWN_INPUT,              /* the owner's own INFER ciphertexts back */
    LIE_MODEL_BIG,              /* a weight of 1e30 (beyond 2^wi) */
    LIE_MODEL_NAN,              /* a weight NaN */
    LIE_ERROR_LAST_LAYER,       /* an ERROR for batch 2's layer 1 (prefetch running) */
    LIE_CIPHER_FINAL,           /* CIPHER: u32 final = 1 for layer 0 */
    LIE_CIPHER_ACT,             /* CIPHER: u32 activation = ReLU */
    LIE_ZERO_LAST_LAYER,        /* batch 2's layer-1 CIPHER with a ciphertext 0 */
    LIE_LAST
};

typedef struct liar {
    henn_private_trainer *t;
    int mode, lied;
    size_t steps;
    buf c0; /* the first layer-0 CIPHER */
} liar;

static buf pstepr(const buf *model, const buf *cipher, uint32_t claim)
{
    henn__wbuf w;
    buf b = {NULL, 0};
    henn__wbuf_start(&w, HENN_MSG_PSTEPR);
    henn__wbuf_u32(&w, claim);
    henn__wbuf_bytes(&w, model->p, model->len);
    henn__wbuf_bytes(&w, cipher->p, cipher->len);
    CHECK_OK(henn__wbuf_finish(&w, &b.p, &b.len));
    return b;
}

static buf other_model(int how)
{
    henn_nn_model w;
    size_t dims2[3] = {DIM, HID, CLS}, dims3[4] = {DIM, HID, HID, CLS};
    henn__wbuf wb;
    buf b = {NULL, 0};
    CHECK_OK(henn_nn_model_init(&w, how == 2 ? dims3 : dims2, how == 2 ? 4 : 3,
                                how == 0 ? HENN_NN_RELU : HENN_NN_SIGMOID,
                                how == 1 ? HENN_NN_SIGMOID_MSE : HENN_NN_SOFTMAX_CE, 3));
    henn__wbuf_start(&wb, HENN_MSG_PMODEL);
    henn__pmodel_write(&wb, &w, 1);
    CHECK_OK(henn__wbuf_finish(&wb, &b.p, &b.len));
    henn_nn_model_clear(&w);
    return b;
}

static int liar_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                     size_t *resp_len)
{
    liar *lr = ctx;
    int rc = henn_private_trainer_handle(lr->t, req, req_len, resp, resp_len), type;
    buf pm, pc, out = {NULL, 0}, tmp;
    uint32_t m;
    if (rc != 0)
        return rc;
    type = henn_msg_type(req, req_len);
    if (type == HENN_MSG_INFER && lr->c0.p == NULL && req[12 + 24 + 3] == 0) {
        buf r = {*resp, *resp_len};
        lr->c0 = copy_buf(&r);
    }
    if (lr->lied)
        return 0;
    if (lr->mode == LIE_PSTEPR_FOR_PGRAD) {
        if (type != HENN_MSG_PGRAD)
            return 0;
        pm.p = *resp;
        pm.len = *resp_len;
        out = pstepr(&pm, &lr->c0, (uint32_t)pm.len);
        lr->lied = 1;
        free(*resp);
        *resp = out.p;
        *resp_len = out.len;
        return 0;
    }
    if (lr->mode == LIE_ERROR_LAST_LAYER || lr->mode == LIE_ZERO_LAST_LAYER) {
        if (type == HENN_MSG_PSTEP)
            lr->steps++;
        if (type != HENN_MSG_INFER || lr->steps == 0)
            return 0;
        lr->lied = 1;
        if (lr->mode == LIE_ZERO_LAST_LAYER) {
            memset(*resp + *resp_len - 2 * NB, 0, 2 * NB);
            return 0;
        }
        free(*resp);
        out = error_msg(HENN_ERANGE);
        *resp = out.p;
        *resp_len = out.len;
        return 0;
    }
    if (type != HENN_MSG_PSTEP || henn_msg_type(*resp, *resp_len) != HENN_MSG_PSTEPR)
        return 0;
    lr->lied = 1;
    m = private_be32(*resp + 12);
    pm.p = *resp + 16;
    pm.len = m;
    pc.p = *resp + 16 + m;
    pc.len = *resp_len - 16 - m;
    switch (lr->mode) {
    case LIE_CIPHER_EXTRA_CHUNK:
    case LIE_CIPHER_TRAIL: {
        size_t extra = lr->mode == LIE_CIPHER_TRAIL ? 4 : HID * 2 * NB;
        tmp.p = malloc(pc.len + extra);
        memcpy(tmp.p, pc.p, pc.len);
        memcpy(tmp.p + pc.len, pc.p + 12 + 16, extra); /* copies of the first */
        tmp.len = pc.len + extra;
        if (lr->mode == LIE_CIPHER_EXTRA_CHUNK)
            put32(tmp.p + 8, (uint32_t)(tmp.len - 12)); /* a well-framed CIPHER */
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    }
    case LIE_CIPHER_NO_CT:
        tmp = copy_buf(&pc);
        tmp.len = 12 + 16;
        put32(tmp.p + 8, 16);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    case LIE_CIPHER_ERROR:
        tmp = error_msg(HENN_EINVAL);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    case LIE_MODEL_ERROR:
        tmp = error_msg(HENN_EINVAL);
        out = pstepr(&tmp, &pc, (uint32_t)tmp.len);
        free(tmp.p);
        break;
    case LIE_CIPHER_NESTED:
        tmp.p = *resp;
        tmp.len = *resp_len;
        out = pstepr(&pm, &tmp, m);
        break;
    case LIE_MODEL_NESTED:
        tmp.p = *resp;
        tmp.len = *resp_len;
        out = pstepr(&tmp, &pc, (uint32_t)tmp.len);
        break;
    case LIE_M_ZERO:
    case LIE_M_MAX:
        out = pstepr(&pm, &pc, lr->mode == LIE_M_ZERO ? 0 : UINT32_MAX);
        break;
    case LIE_MODEL_ACT:
    case LIE_MODEL_OUTPUT:
    case LIE_MODEL_DEEPER:
        tmp = other_model(lr->mode - LIE_MODEL_ACT);
        out = pstepr(&tmp, &pc, (uint32_t)tmp.len);
        free(tmp.p);
        break;
    case LIE_CIPHER_DOUT:
        tmp = copy_buf(&pc);
        put32(tmp.p + 12 + 12, HID + 1);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    case LIE_CIPHER_FINAL:
    case LIE_CIPHER_ACT:
        tmp = copy_buf(&pc);
        put32(tmp.p + 12 + (lr->mode == LIE_CIPHER_FINAL ? 4 : 8),
              lr->mode == LIE_CIPHER_FINAL ? 1u : (uint32_t)HENN_NN_RELU);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    case LIE_CIPHER_ZERO_CT:
        tmp = copy_buf(&pc);
        memset(tmp.p + tmp.len - 2 * NB, 0, 2 * NB);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    case LIE_ERROR_RESP:
        out = error_msg(HENN_EINVAL);
        break;
    case LIE_ERROR_BADCODE:
        out = error_msg(HENN_EINVAL);
        put32(out.p + 12, 99);
        break;
    case LIE_SWAP:
        out = pstepr(&pc, &pm, (uint32_t)pc.len);
        break;
    case LIE_REPLAY_CIPHER:
        out = pstepr(&pm, &lr->c0, m);
        break;
    case LIE_OWN_INPUT: {
        /* the PSTEP's INFER ciphertexts (features 0 .. HID-1) as "Z" */
        size_t g = private_be32(req + 12);
        const uint8_t *in = req + 16 + g + 12 + 24 + 12;
        tmp = copy_buf(&pc);
        memcpy(tmp.p + 12 + 16, in, HID * 2 * NB);
        out = pstepr(&pm, &tmp, m);
        free(tmp.p);
        break;
    }
    case LIE_MODEL_BIG:
    case LIE_MODEL_NAN:
        /* PMODEL: header, u32 L, u32 output, dims[3], act[2], u64 step,
         * then W[0][0] */
        tmp = copy_buf(&pm);
        put32(tmp.p + 12 + 8 + 12 + 8 + 8, lr->mode == LIE_MODEL_BIG ? 0x7149f2cau : 0x7fc00000u);
        out = pstepr(&tmp, &pc, m);
        free(tmp.p);
        break;
    default:
        lr->lied = 0;
        return 0;
    }
    free(*resp);
    *resp = out.p;
    *resp_len = out.len;
    return 0;
}

static void test_owner_lies(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_transport tt;
    henn_proto_stats st;
    size_t dims[3] = {DIM, HID, CLS};
    uint64_t honest;
    int mode;

    params(&p);
    make_model(&m, &nn, 2);
    CHECK_OK(henn_private_training_decryptions(&honest, dims, 2, ROWS, BATCH, BATCH, 1));
    CHECK_EQ_INT(honest, 4 * (HID + CLS));
    for (mode = 1; mode < LIE_LAST; mode++) {
        liar lr = {NULL, mode, 0, 0, {NULL, 0}};
        int want, rc;
        uint64_t dec;
        CHECK_OK(henn_private_trainer_new(&lr.t, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(lr.t);
        memset(&tt, 0, sizeof(tt));
        tt.call = liar_call;
        tt.ctx = &lr;
        rc = henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS, BATCH, 1, 5, NULL, NULL,
                                      NULL, &st);
        /* the refusal, and decryptions: the first batch's only (a
         * refused CIPHER is refused at the next batch's layer 0 before
         * anything is decrypted), all four batches for the lie on the
         * last PGRAD; the replays are not detectable (no binding of a
         * CIPHER to its INFER, as in inference) but stay within the
         * honest count. */
        want = mode == LIE_ERROR_RESP         ? HENN_EINVAL
               : mode == LIE_ERROR_LAST_LAYER ? HENN_ERANGE
                                              : HENN_EPROTO;
        dec = HID + CLS;
        if (mode == LIE_ERROR_LAST_LAYER || mode == LIE_ZERO_LAST_LAYER)
            dec += HID; /* batch 2's layer 0, from the PSTEPR */
        if (mode == LIE_PSTEPR_FOR_PGRAD)
            dec = honest;
        if (mode == LIE_REPLAY_CIPHER || mode == LIE_OWN_INPUT) {
            want = 0;
            dec = honest;
        }
        if (rc != want || st.decryptions != dec)
            fprintf(stderr, "lie mode %d: %s, %llu decryptions\n", mode, henn_err_name(rc),
                    (unsigned long long)st.decryptions);
        CHECK_RC(rc, want);
        CHECK_EQ_INT(st.decryptions, dec);
        CHECK(st.decryptions <= honest);
        CHECK_EQ_INT(lr.lied, 1);
        free(lr.c0.p);
        henn_private_trainer_free(lr.t);
    }
    henn_nn_model_clear(&m);
}

/* ---- the prefetch thread: failures on every call ---- */

typedef struct failing {
    henn_private_trainer *t;
    size_t calls, fail_at, steps;
    int fail_rc;
} failing;

static int failing_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                        size_t *resp_len)
{
    failing *f = ctx;
    if (f->calls++ == f->fail_at)
        return f->fail_rc;
    if (henn_msg_type(req, req_len) == HENN_MSG_PSTEP)
        f->steps++;
    return henn_private_trainer_handle(f->t, req, req_len, resp, resp_len);
}

static void run_owner(size_t layers, size_t rows, unsigned threads, size_t fail_at, int fail_rc,
                      henn_nn_model *out, failing *f, henn_proto_stats *st, int *rc)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_transport tt;
    henn_batch_opts bo = {threads, NULL, NULL};
    params(&p);
    make_model(&m, &nn, layers);
    memset(f, 0, sizeof(*f));
    CHECK_OK(henn_private_trainer_new(&f->t, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(f->t);
    f->fail_at = fail_at;
    f->fail_rc = fail_rc;
    memset(&tt, 0, sizeof(tt));
    tt.call = failing_call;
    tt.ctx = f;
    *rc = henn_owner_train_private(&tt, &SK, &p, X, Y, rows, DIM, CLS, BATCH, 1, 9, &bo, NULL,
                                   NULL, st);
    if (out != NULL)
        CHECK_OK(henn_nn_model_copy(out, henn_private_trainer_model(f->t)));
    henn_private_trainer_free(f->t);
    f->t = NULL;
    henn_nn_model_clear(&m);
}

static int models_equal(const henn_nn_model *a, const henn_nn_model *b)
{
    size_t l;
    if (a->layers != b->layers)
        return 0;
    for (l = 0; l < a->layers; l++)
        if (memcmp(a->W[l], b->W[l], a->dims[l + 1] * a->dims[l] * sizeof(float)) != 0 ||
            memcmp(a->b[l], b->b[l], a->dims[l + 1] * sizeof(float)) != 0)
            return 0;
    return 1;
}

static void test_prefetch_failures(void)
{
    const unsigned threads[3] = {0, 1, 4};
    size_t layers, ti, at;
    for (layers = 1; layers <= 2; layers++) {
        henn_nn_model ref;
        failing f;
        henn_proto_stats st;
        size_t calls;
        uint64_t honest;
        size_t dims[3] = {DIM, layers == 2 ? HID : CLS, CLS};
        int rc;
        CHECK_OK(henn_private_training_decryptions(&honest, dims, layers, ROWS, BATCH, BATCH, 1));
        run_owner(layers, ROWS, 1, (size_t)-1, 0, &ref, &f, &st, &rc);
        CHECK_OK(rc);
        calls = f.calls;
        /* PSETUP, then 4 batches: layers INFERs for the first, layers - 1
         * for the three riding on a PSTEP, 3 PSTEPs and a PGRAD */
        CHECK_EQ_INT(calls, 1 + layers + 3 * (layers - 1) + 3 + 1);
        CHECK_EQ_INT(f.steps, 3);
        CHECK_EQ_INT(st.decryptions, honest);
        for (ti = 0; ti < 3; ti++) {
            henn_nn_model mm;
            /* the same model on 0 (auto), 1 and 4 threads */
            run_owner(layers, ROWS, threads[ti], (size_t)-1, 0, &mm, &f, &st, &rc);
            CHECK_OK(rc);
            CHECK(models_equal(&mm, &ref));
            CHECK_EQ_INT(st.decryptions, honest);
            henn_nn_model_clear(&mm);
            /* the transport failing on every call in turn (EIO, and
             * ENOMEM on the PSTEPs) */
            for (at = 0; at < calls; at++) {
                run_owner(layers, ROWS, threads[ti], at, HENN_EIO, NULL, &f, &st, &rc);
                CHECK_RC(rc, HENN_EIO);
                CHECK(st.decryptions <= honest);
                CHECK_EQ_INT(f.calls, at + 1);
            }
            run_owner(layers, ROWS, threads[ti], layers + 1, HENN_ENOMEM, NULL, &f, &st, &rc);
            CHECK_RC(rc, HENN_ENOMEM);
        }
        henn_nn_model_clear(&ref);
    }
}

/* Two owners at once, each with its own trainer (henn_owner_train_private
 * "uses only its arguments"; each starts its own prefetch threads): the
 * models equal a run alone. No CHECK on the threads (the counters are not
 * atomic); the main thread checks. */
typedef struct solo {
    henn_private_trainer *t;
    henn_proto_params p;
    int rc;
} solo;

static void *solo_run(void *arg)
{
    solo *so = arg;
    henn_transport tt;
    henn_batch_opts bo = {0, NULL, NULL};
    henn_transport_to_private_trainer(&tt, so->t);
    so->rc = henn_owner_train_private(&tt, &SK, &so->p, X, Y, ROWS, DIM, CLS, BATCH, 1, 9, &bo,
                                      NULL, NULL, NULL);
    return NULL;
}

static void test_concurrent_owners(void)
{
    henn_nn_model m, ref;
    henn_nn_opts nn;
    failing f;
    henn_proto_stats st;
    solo so[2];
    pthread_t th[2];
    size_t k;
    int rc, started[2];
    run_owner(2, ROWS, 0, (size_t)-1, 0, &ref, &f, &st, &rc);
    CHECK_OK(rc);
    make_model(&m, &nn, 2);
    for (k = 0; k < 2; k++) {
        memset(&so[k], 0, sizeof(so[k]));
        params(&so[k].p);
        CHECK_OK(henn_private_trainer_new(&so[k].t, &m, &nn, NULL));
        henn__private_trainer_allow_insecure(so[k].t);
    }
    for (k = 0; k < 2; k++) {
        started[k] = pthread_create(&th[k], NULL, solo_run, &so[k]) == 0;
        CHECK(started[k]);
    }
    for (k = 0; k < 2; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        CHECK_OK(so[k].rc);
        CHECK(models_equal(henn_private_trainer_model(so[k].t), &ref));
        henn_private_trainer_free(so[k].t);
    }
    henn_nn_model_clear(&ref);
    henn_nn_model_clear(&m);
}

/* Tails: 38 rows (16, 16, a tail of 6 that sits out: one PSTEP) and 39
 * rows (a tail of 7 rides on the second batch's PSTEP), and 10 rows (one
 * batch, no PSTEP): the honest decryption count exactly. */
static void test_tails(void)
{
    const size_t rows[3] = {38, 39, 10}, steps[3] = {1, 2, 0};
    size_t k;
    for (k = 0; k < 3; k++) {
        failing f;
        henn_proto_stats st;
        uint64_t honest;
        size_t dims[3] = {DIM, HID, CLS};
        int rc;
        CHECK_OK(henn_private_training_decryptions(&honest, dims, 2, rows[k], BATCH, BATCH, 1));
        run_owner(2, rows[k], 0, (size_t)-1, 0, NULL, &f, &st, &rc);
        CHECK_OK(rc);
        CHECK_EQ_INT(f.steps, steps[k]);
        CHECK_EQ_INT(st.decryptions, honest);
    }
}

/* ---- the service: PSTEP logged, retried, replayed, over quota ---- */

typedef struct svc_tr {
    henn_svc_server *s;
    char dir[64], id[33], tok[65];
    uint64_t seq;
    henn_private_trainer *local; /* every message too: equal responses */
    size_t restarts, retries_equal, local_equal, steps, quota_refusals, calls;
    buf refused_i1; /* sent, refused, before the first PSTEP */
} svc_tr;

static void svc_restart(svc_tr *t, uint64_t quota)
{
    henn_svc_server_opts o;
    if (t->s != NULL)
        henn_svc_server_stop(t->s);
    t->s = NULL;
    henn_svc_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.data_dir = t->dir;
    o.threads = 1;
    o.party_threads = 1;
    o.log = NULL;
    if (quota != 0)
        o.session_quota = quota;
    CHECK_OK(henn_svc_server_start(&t->s, &o));
    if (t->s == NULL)
        exit(1);
    henn__svc_server_allow_insecure(t->s);
    t->restarts++;
}

static unsigned svc_route(svc_tr *t, henn_svc_response *rs, const char *method, const char *path,
                          const uint8_t *body, size_t len)
{
    henn_svc_request rq;
    char hdr[100];
    snprintf(hdr, sizeof(hdr), "Bearer %s", t->tok);
    rq.method = method;
    rq.path = path;
    rq.authorization = t->id[0] != 0 ? hdr : NULL;
    rq.body = body;
    rq.body_len = len;
    memset(rs, 0, sizeof(*rs));
    CHECK_OK(henn_svc_server_route(t->s, &rq, rs));
    return rs->status;
}

/* "name":N or "name":"text" from a JSON body (flat, no spaces). */
static const char *json_field(const henn_svc_response *rs, const char *name)
{
    static char b[512];
    char key[40];
    const char *at;
    size_t n = rs->body_len < sizeof(b) - 1 ? rs->body_len : sizeof(b) - 1;
    memcpy(b, rs->body, n);
    b[n] = 0;
    snprintf(key, sizeof(key), "\"%s\":", name);
    at = strstr(b, key);
    return at != NULL ? at + strlen(key) : "";
}

static uint64_t svc_info(svc_tr *t, const char *name)
{
    henn_svc_response rs;
    char path[80];
    uint64_t v;
    snprintf(path, sizeof(path), "/v1/sessions/%s", t->id);
    CHECK_EQ_INT(svc_route(t, &rs, "GET", path, NULL, 0), 200);
    v = strtoull(json_field(&rs, name), NULL, 10);
    henn_svc_response_free(&rs);
    return v;
}

/* POST message seq; 200: *out its body (malloc'd). Returns the status. */
static unsigned svc_post(svc_tr *t, uint64_t seq, const uint8_t *req, size_t len, buf *out)
{
    henn_svc_response rs;
    char path[100];
    unsigned st;
    snprintf(path, sizeof(path), "/v1/sessions/%s/messages/%llu", t->id, (unsigned long long)seq);
    st = svc_route(t, &rs, "POST", path, req, len);
    out->p = NULL;
    out->len = 0;
    if (st == 200) {
        out->p = rs.body;
        out->len = rs.body_len;
        rs.body = NULL;
    }
    henn_svc_response_free(&rs);
    return st;
}

/* The message to the local trainer and the server (its retry too); the
 * two answers must be equal. */
static int svc_send(svc_tr *t, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    buf a, b;
    uint8_t *l = NULL;
    size_t ll = 0;
    unsigned st = svc_post(t, ++t->seq, req, req_len, &a);
    CHECK_EQ_INT(st, 200);
    if (st != 200)
        return HENN_EIO;
    CHECK_EQ_INT(svc_post(t, t->seq, (const uint8_t *)"x", 1, &b), 200); /* a retry */
    if (b.len == a.len && memcmp(a.p, b.p, a.len) == 0)
        t->retries_equal++;
    free(b.p);
    CHECK_OK(henn_private_trainer_handle(t->local, req, req_len, &l, &ll));
    if (ll == a.len && memcmp(l, a.p, ll) == 0)
        t->local_equal++;
    free(l);
    *resp = a.p;
    *resp_len = a.len;
    return 0;
}

/* The owner's transport. Before the first PSTEP: a refused INFER (its
 * answer committed), and the PSTEP over the quota twice (refused before
 * the party sees it, then after: its PSTEPR does not fit) with restarts;
 * after every PSTEP a restart (the log replayed, the last answer kept). */
static int svc_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    svc_tr *t = ctx;
    int step = henn_msg_type(req, req_len) == HENN_MSG_PSTEP, rc;
    t->calls++;
    if (step && t->steps == 0) {
        uint8_t *r = NULL;
        size_t rl = 0;
        buf out;
        uint64_t bytes;
        CHECK_OK(svc_send(t, t->refused_i1.p, t->refused_i1.len, &r, &rl));
        CHECK_RC(henn__msg_error_code(r, rl), HENN_EPROTO); /* layer 1 after a full pass */
        free(r);
        bytes = svc_info(t, "bytes");
        svc_restart(t, bytes + req_len - 1);
        CHECK_EQ_INT(svc_post(t, t->seq + 1, req, req_len, &out), 507);
        CHECK_EQ_INT(svc_info(t, "seq"), t->seq);
        svc_restart(t, bytes + req_len);
        CHECK_EQ_INT(svc_post(t, t->seq + 1, req, req_len, &out), 507);
        CHECK_EQ_INT(svc_info(t, "seq"), t->seq);
        CHECK_EQ_INT(svc_info(t, "bytes"), bytes);
        t->quota_refusals += 2;
        svc_restart(t, 0);
    }
    rc = svc_send(t, req, req_len, resp, resp_len);
    if (step) {
        buf again;
        t->steps++;
        svc_restart(t, 0);
        CHECK_EQ_INT(svc_post(t, t->seq, (const uint8_t *)"x", 1, &again), 200);
        CHECK(rc != 0 || (again.len == *resp_len && memcmp(again.p, *resp, again.len) == 0));
        free(again.p);
    }
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_service(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_transport tt;
    svc_tr t;
    henn_svc_response rs;
    uint8_t *mb = NULL, *want = NULL;
    size_t ml = 0, wl = 0, calls;
    char *b64, *body, path[100];
    buf out, g, i0, i1, bad, x;

    memset(&t, 0, sizeof(t));
    snprintf(t.dir, sizeof(t.dir), "/tmp/henn_prr_XXXXXX");
    CHECK(mkdtemp(t.dir) != NULL);
    params(&p);
    make_model(&m, &nn, 2);
    henn_nn_opts_default(&nn); /* the server's defaults (no "nn") */
    CHECK_OK(henn_private_trainer_new(&t.local, &m, &nn, NULL));
    henn__private_trainer_allow_insecure(t.local);
    CHECK_OK(henn_nn_model_serialize(&mb, &ml, &m));
    b64 = malloc(sodium_base64_ENCODED_LEN(ml, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(ml, sodium_base64_VARIANT_ORIGINAL), mb, ml,
                      sodium_base64_VARIANT_ORIGINAL);
    body = malloc(strlen(b64) + 100);
    sprintf(body, "{\"protocol\":\"kdd-private\",\"config\":{\"model\":\"%s\"}}", b64);
    svc_restart(&t, 0);
    t.restarts = 0;
    CHECK_EQ_INT(svc_route(&t, &rs, "POST", "/v1/sessions", (const uint8_t *)body, strlen(body)),
                 201);
    snprintf(t.id, sizeof(t.id), "%.32s", json_field(&rs, "session") + 1);
    snprintf(t.tok, sizeof(t.tok), "%.64s", json_field(&rs, "token") + 1);
    henn_svc_response_free(&rs);
    t.refused_i1 = infer_msg(&p, 1, BATCH, HID);

    /* 64 rows, batches of 16, 2 epochs: 3 PSTEPs per epoch */
    memset(&tt, 0, sizeof(tt));
    tt.call = svc_call;
    tt.ctx = &t;
    CHECK_OK(henn_owner_train_private(&tt, &SK, &p, X, Y, ROWS, DIM, CLS, BATCH, 2, 5, NULL, NULL,
                                      NULL, NULL));
    calls = t.calls;
    CHECK_EQ_INT(calls, 1 + 2 * (2 + 3 * 2 + 1));
    CHECK_EQ_INT(t.steps, 6);
    CHECK_EQ_INT(t.seq, calls + 1); /* and the refused INFER */
    CHECK_EQ_INT(t.retries_equal, t.seq);
    CHECK_EQ_INT(t.local_equal, t.seq);
    CHECK_EQ_INT(t.quota_refusals, 2);
    CHECK_EQ_INT(t.restarts, 3 + 6);
    /* the server's model (after 6 restarts) is the local trainer's */
    snprintf(path, sizeof(path), "/v1/sessions/%s/result", t.id);
    CHECK_EQ_INT(svc_route(&t, &rs, "GET", path, NULL, 0), 200);
    CHECK_OK(henn_nn_model_serialize(&want, &wl, henn_private_trainer_model(t.local)));
    CHECK(rs.body_len == wl && memcmp(rs.body, want, wl) == 0);
    henn_svc_response_free(&rs);
    free(want);

    /* A PSTEP whose PGRAD is applied and whose INFER is refused (other
     * params): an error answer, committed; after a restart the replayed
     * model has the step, and its retry gives the stored error. */
    g = grad_msg(BATCH, 0.01, -1);
    i0 = infer_msg(&p, 0, BATCH, DIM);
    i1 = infer_msg(&p, 1, BATCH, HID);
    {
        henn_proto_params q = p;
        q.fx += 1;
        bad = infer_msg(&q, 0, BATCH, DIM);
    }
    x = step_msg(&g, &bad, (uint32_t)g.len);
    {
        uint8_t *r = NULL;
        size_t rl = 0;
        CHECK_OK(svc_send(&t, i0.p, i0.len, &r, &rl));
        CHECK_OK(henn__msg_error_code(r, rl));
        free(r);
        CHECK_OK(svc_send(&t, i1.p, i1.len, &r, &rl));
        CHECK_OK(henn__msg_error_code(r, rl));
        free(r);
        CHECK_OK(svc_send(&t, x.p, x.len, &r, &rl));
        CHECK_RC(henn__msg_error_code(r, rl), HENN_EFORMAT);
        svc_restart(&t, 0);
        CHECK_EQ_INT(svc_post(&t, t.seq, (const uint8_t *)"x", 1, &out), 200);
        CHECK(out.len == rl && memcmp(out.p, r, rl) == 0);
        free(out.p);
        free(r);
        CHECK_EQ_INT(svc_route(&t, &rs, "GET", path, NULL, 0), 200);
        CHECK_OK(henn_nn_model_serialize(&want, &wl, henn_private_trainer_model(t.local)));
        CHECK(rs.body_len == wl && memcmp(rs.body, want, wl) == 0);
        henn_svc_response_free(&rs);
        free(want);
        /* and the next forward pass answers as the local trainer's */
        CHECK_OK(svc_send(&t, i0.p, i0.len, &r, &rl));
        CHECK_OK(henn__msg_error_code(r, rl));
        free(r);
        CHECK_EQ_INT(t.local_equal, t.seq);
    }
    henn_svc_server_stop(t.s);
    CHECK_EQ_INT(nftw(t.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(x.p);
    free(g.p);
    free(i0.p);
    free(i1.p);
    free(bad.p);
    free(t.refused_i1.p);
    free(body);
    free(b64);
    free(mb);
    henn_private_trainer_free(t.local);
    henn_nn_model_clear(&m);
}

int main(void)
{
    if (henn_init() != 0)
        return 1;
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    if (henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE) != 0)
        return 1;
    NB = (mpz_sizeinbase(PK.n, 2) + 7) / 8;
    make_data();
    test_trainer_step_attacks();
    test_trainer_step_mutations();
    test_owner_lies();
    test_prefetch_failures();
    test_tails();
    test_concurrent_owners();
    test_service();
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    return test_report("test_private_review");
}
