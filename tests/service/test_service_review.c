/* An independent review of the session's service work (issue 12), each
 * claim played as an attack by the party it protects against:
 *  - test_resume_cheating_owner: a resumed kdd-published job re-issues a
 *    batch's requests with the same seeded masks. The batch has two
 *    rounds: the gradient request depends on the owner's answer to the
 *    forward request. A curious owner that answers the re-issued forward
 *    request differently (it decrypts what it likes: it has sk) gets a
 *    gradient request of other values under the SAME masks R and noise
 *    as before the restart, and subtracts the two decryptions: a
 *    mask-free difference of the trainer's gradients. The masks of a
 *    request must be fresh whenever its content is not the one asked
 *    before; an honest owner's repeat must still give the same bytes.
 *  - test_answers_window: a cheating server against the owner's record
 *    (henn_svc_answers): a replay older than the record's window, a seq
 *    below the highest answered that was never asked, a skipped seq, a
 *    request changed in one byte: nothing is decrypted beyond the new
 *    seqs, each counted once.
 *  - test_seeded_character: the character attack of test_privacy
 *    (../protocol/char_attack.h: a cheating owner sets the Legendre
 *    symbols of its feature ciphertexts and reads the parity of W1[h][0]
 *    from the symbols of the forward requests)
 *    against the seeded masks and noise of a resumable job: chance, while
 *    the same harness reads every bit through DJN noise (control).
 *  - test_inference_noise_fresh: the trainer's pooled r^n (inference) is
 *    never reused: the same INFER bytes replayed many times (past the
 *    pool's 128 values) to two trainers with the same model and the same
 *    training mask key give pairwise distinct CIPHER ciphertexts, so the
 *    training path's seeded stream does not reach inference.
 *  - test_upload_lockout: what one session holder can take from the
 *    others with the server's default ratio of limits: trickled uploads
 *    holding the whole body budget are cut by min_body_rate, and another
 *    session's message is served.
 * Keys under 2048 bits through the test hooks only. */
#define _DEFAULT_SOURCE
#include "../test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "henn/henn.h"
#include "henn/service.h"
#include "../paillier/test_primes.h"
#include "../protocol/char_attack.h"
#include "protocol/proto_internal.h"
#include "service/svc_internal.h"
#include "../private_rows.h"

void henn__trainer_allow_insecure(henn_trainer *t);
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);

static henn_paillier_pk PK;
static henn_paillier_sk SK;

#define ROWS 48
#define DIM 6
#define HID 5
#define CLS 3
#define BATCH 16
#define SEED 7
#define HDR 12 /* message header: magic, type, payload length */

static float X[ROWS * DIM];
static uint8_t Y[ROWS];

static void make_data(void)
{
    private_rows(X, Y, ROWS, DIM, 777UL);
}

static void params(henn_proto_params *p)
{
    private_params(p, &PK, DIM, BATCH);
}

static void make_model_seeded(henn_nn_model *m, henn_nn_opts *nn, uint64_t seed)
{
    size_t dims[3] = {DIM, HID, CLS};
    CHECK_OK(henn_nn_model_init(m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, seed));
    henn_nn_opts_default(nn);
    nn->lr = 0.05f;
    nn->max_rows = BATCH;
}

static void make_model(henn_nn_model *m, henn_nn_opts *nn)
{
    make_model_seeded(m, nn, 3);
}

static size_t nbytes(void)
{
    return (mpz_sizeinbase(PK.n, 2) + 7) / 8;
}

/* ------------------------------------------------ the owner's upload, once */

typedef struct rec {
    henn_trainer *t;
    uint8_t *msg[64];
    size_t len[64], n;
} rec;

static rec UPLOAD;

static int rec_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    rec *r = ctx;
    if (r->n < 64) {
        r->msg[r->n] = malloc(req_len);
        memcpy(r->msg[r->n], req, req_len);
        r->len[r->n++] = req_len;
    }
    return henn_trainer_handle(r->t, req, req_len, resp, resp_len);
}

/* A trainer holding the owner's (recorded) upload, masks seeded by key
 * from counter 0: the same state before and after a restart. */
static henn_trainer *seeded_trainer(const uint8_t *key, uint64_t model_seed)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_trainer *t = NULL;
    size_t i;
    params(&p);
    make_model_seeded(&m, &nn, model_seed);
    CHECK_OK(henn_trainer_new(&t, &m, &nn, NULL));
    henn_nn_model_clear(&m);
    if (t == NULL)
        return NULL;
    henn__trainer_allow_insecure(t);
    henn__trainer_set_mask_key(t, key, 0);
    if (UPLOAD.n == 0) {
        henn_owner *o = NULL;
        henn_transport to_t;
        CHECK_OK(henn_owner_new(&o, &SK, NULL));
        UPLOAD.t = t;
        memset(&to_t, 0, sizeof(to_t));
        to_t.call = rec_call;
        to_t.ctx = &UPLOAD;
        CHECK_OK(henn_owner_upload(o, &to_t, &p, X, Y, ROWS, DIM));
        henn_owner_free(o);
    } else {
        for (i = 0; i < UPLOAD.n; i++) {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            CHECK_OK(henn_trainer_handle(t, UPLOAD.msg[i], UPLOAD.len[i], &resp, &resp_len));
            CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_OK);
            free(resp);
        }
    }
    return t;
}

/* ------------------------------------------------ the resume, cheating owner */

/* The owner's side of one batch: the forward request is answered (honestly
 * or shifted by delta in every value: a cheating owner), the gradient
 * request is kept and the job stopped (HENN_EIO: the "crash"). */
typedef struct batch_owner {
    henn_owner *o;
    unsigned long delta;
    unsigned calls;
    uint8_t *fwd, *grad;
    size_t fwd_len, grad_len;
} batch_owner;

static uint8_t *dup_bytes(const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);
    if (c != NULL)
        memcpy(c, b, n);
    return c;
}

static int batch_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    batch_owner *b = ctx;
    size_t nb = nbytes(), i, count;
    int rc;
    b->calls++;
    if (b->calls > 1) {
        if (b->grad == NULL) {
            b->grad = dup_bytes(req, req_len);
            b->grad_len = req_len;
        }
        return HENN_EIO;
    }
    b->fwd = dup_bytes(req, req_len);
    b->fwd_len = req_len;
    rc = henn_owner_handle(b->o, req, req_len, resp, resp_len);
    if (rc != 0 || b->delta == 0)
        return rc;
    if (henn_msg_type(*resp, *resp_len) != HENN_MSG_PLAIN || *resp_len < HDR + 4)
        return HENN_EPROTO;
    count = (size_t)(*resp)[HDR] << 24 | (size_t)(*resp)[HDR + 1] << 16 |
            (size_t)(*resp)[HDR + 2] << 8 | (*resp)[HDR + 3];
    if (*resp_len != HDR + 4 + count * nb)
        return HENN_EPROTO;
    {
        mpz_t v;
        mpz_init(v);
        for (i = 0; i < count; i++) {
            uint8_t *p = *resp + HDR + 4 + i * nb;
            size_t w = 0;
            mpz_import(v, nb, 1, 1, 1, 0, p);
            mpz_add_ui(v, v, b->delta);
            mpz_mod(v, v, PK.n);
            memset(p, 0, nb);
            mpz_export(p + nb - (mpz_sizeinbase(v, 256)), &w, 1, 1, 1, 0, v);
        }
        mpz_clear(v);
    }
    return 0;
}

/* One batch of a trainer seeded by key against owner behaviour delta. */
static void run_batch(batch_owner *b, const uint8_t *key, unsigned long delta,
                      uint64_t model_seed)
{
    henn_trainer *t = seeded_trainer(key, model_seed);
    henn_transport to_o;
    double loss = 0.0;
    memset(b, 0, sizeof(*b));
    b->delta = delta;
    CHECK_OK(henn_owner_new(&b->o, &SK, NULL));
    memset(&to_o, 0, sizeof(to_o));
    to_o.call = batch_call;
    to_o.ctx = b;
    if (t != NULL)
        CHECK_RC(henn_trainer_train_epoch(t, &to_o, SEED, NULL, NULL, &loss), HENN_EIO);
    CHECK(b->fwd != NULL && b->grad != NULL);
    henn_trainer_free(t);
    henn_owner_free(b->o);
    b->o = NULL;
}

/* The plaintexts of a DECRYPT request (the owner has sk): count values. */
static size_t decrypt_all(mpz_t *out, size_t cap, const uint8_t *req, size_t req_len)
{
    henn_owner *o = NULL;
    uint8_t *resp = NULL;
    size_t resp_len = 0, count = 0, i, nb = nbytes();
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    if (o != NULL && henn_owner_handle(o, req, req_len, &resp, &resp_len) == 0 &&
        henn_msg_type(resp, resp_len) == HENN_MSG_PLAIN && resp_len >= HDR + 4) {
        count = (size_t)resp[HDR] << 24 | (size_t)resp[HDR + 1] << 16 |
                (size_t)resp[HDR + 2] << 8 | resp[HDR + 3];
        if (count > cap || resp_len != HDR + 4 + count * nb)
            count = 0;
        for (i = 0; i < count; i++)
            mpz_import(out[i], nb, 1, 1, 1, 0, resp + HDR + 4 + i * nb);
    }
    free(resp);
    henn_owner_free(o);
    return count;
}

/* Of the values two DECRYPT requests decrypt to: how many differ, and how
 * many of those differ by less than 2^(slots slot_bits + 2) either way, the
 * most two packed plaintexts can differ by (mask-free: with fresh masks
 * that has probability below 2^-64, checked). */
static size_t small_diffs(const uint8_t *q1, size_t l1, const uint8_t *q2, size_t l2,
                          size_t *differ)
{
    mpz_t a[64], b[64], d;
    size_t na, nb, i, bits = mpz_sizeinbase(PK.n, 2), small = 0, packed;
    henn_proto_params p;
    params(&p);
    packed = (size_t)p.slots * p.slot_bits + 2;
    CHECK(packed + 64 <= bits);
    *differ = 0;
    for (i = 0; i < 64; i++) {
        mpz_init(a[i]);
        mpz_init(b[i]);
    }
    mpz_init(d);
    na = decrypt_all(a, 64, q1, l1);
    nb = decrypt_all(b, 64, q2, l2);
    CHECK(na > 0);
    CHECK_EQ_INT(na, nb);
    for (i = 0; i < na && i < nb; i++) {
        mpz_sub(d, a[i], b[i]);
        mpz_mod(d, d, PK.n);
        if (mpz_sgn(d) == 0)
            continue;
        (*differ)++;
        if (mpz_sizeinbase(d, 2) > bits - 2)
            mpz_sub(d, PK.n, d); /* a negative difference */
        if (mpz_sizeinbase(d, 2) <= packed)
            small++;
    }
    for (i = 0; i < 64; i++) {
        mpz_clear(a[i]);
        mpz_clear(b[i]);
    }
    mpz_clear(d);
    return small;
}

/* Gradient requests kept for test_answers_window. */
static batch_owner HONEST, CHEAT;

static void test_resume_cheating_owner(void)
{
    uint8_t key[32];
    batch_owner again, other;
    size_t small, differ = 0;
    unsigned long one = 1ul << 22; /* 1.0 at scale 2^(fx+fw), fx 10, fw 12 */

    randombytes_buf(key, sizeof(key));
    run_batch(&HONEST, key, 0, 3);
    run_batch(&again, key, 0, 3);   /* an honest restart: same answer */
    run_batch(&CHEAT, key, one, 3); /* a restart, the owner answering otherwise */
    if (HONEST.grad == NULL || again.grad == NULL || CHEAT.grad == NULL)
        return;
    /* The honest repeat: both requests of the batch byte for byte (the
     * owner's record answers them without decrypting twice). */
    CHECK(HONEST.fwd_len == again.fwd_len && memcmp(HONEST.fwd, again.fwd, HONEST.fwd_len) == 0);
    CHECK(HONEST.grad_len == again.grad_len &&
          memcmp(HONEST.grad, again.grad, HONEST.grad_len) == 0);
    /* The forward request does not depend on the owner: the same bytes. */
    CHECK(HONEST.fwd_len == CHEAT.fwd_len && memcmp(HONEST.fwd, CHEAT.fwd, HONEST.fwd_len) == 0);
    /* The attack: decrypt both gradient requests and subtract. */
    small = small_diffs(HONEST.grad, HONEST.grad_len, CHEAT.grad, CHEAT.grad_len, &differ);
    /* The owner's other answer changed the gradients... */
    CHECK(differ > 0);
    /* ...and none of their differences may come out mask-free. */
    CHECK_EQ_INT(small, 0);
    if (small > 0)
        fprintf(stderr, "resume attack: %zu of %zu gradient differences mask-free\n", small,
                differ);
    /* The next batch's first request after such an answer: the model has
     * diverged from the one before the restart, the counter is the same.
     * Played with another model under the same key and counter. */
    run_batch(&other, key, 0, 4);
    if (other.fwd != NULL) {
        small = small_diffs(HONEST.fwd, HONEST.fwd_len, other.fwd, other.fwd_len, &differ);
        CHECK(differ > 0);
        CHECK_EQ_INT(small, 0);
        if (small > 0)
            fprintf(stderr, "resume attack: %zu of %zu forward differences mask-free\n", small,
                    differ);
    }
    free(other.fwd);
    free(other.grad);
    free(again.fwd);
    free(again.grad);
}

/* ------------------------------------------------ the owner's record */

static uint64_t decryptions(const henn_owner *o)
{
    henn_proto_stats st;
    henn_owner_stats(&st, o);
    return st.decryptions;
}

static void test_answers_window(void)
{
    henn_owner *o = NULL;
    henn_svc_answers *a = NULL;
    uint8_t *r = NULL, *tampered;
    size_t rl = 0;
    uint64_t d0, repeats = 0, refused = 0;
    const uint8_t *q1 = HONEST.fwd, *q2 = HONEST.grad, *q3 = CHEAT.grad;
    size_t l1 = HONEST.fwd_len, l2 = HONEST.grad_len, l3 = CHEAT.grad_len;

    if (q1 == NULL || q2 == NULL || q3 == NULL)
        return;
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_svc_answers_new(&a, 2));
    if (o == NULL || a == NULL)
        goto done;
#define ANSWER(seq, q, l, want)                                                                    \
    do {                                                                                           \
        CHECK_RC(henn_svc_answers_handle(a, o, seq, q, l, &r, &rl), want);                         \
        CHECK((want) == 0 ? r != NULL : r == NULL);                                                \
        free(r);                                                                                   \
        r = NULL;                                                                                  \
    } while (0)
    ANSWER(1, q1, l1, 0);
    ANSWER(2, q2, l2, 0);
    ANSWER(3, q3, l3, 0);
    d0 = decryptions(o);
    CHECK(d0 > 0);
    /* A replay of seq 1, byte for byte, older than the window of 2: it can
     * no longer be told from a new request, so it is refused, not decrypted
     * again. */
    ANSWER(1, q1, l1, HENN_EPROTO);
    /* In the window: answered from the record. */
    ANSWER(2, q2, l2, 0);
    ANSWER(3, q3, l3, 0);
    CHECK_EQ_INT(decryptions(o), d0);
    /* Seq 3 again with one bit of one ciphertext changed: refused. */
    tampered = dup_bytes(q3, l3);
    if (tampered != NULL) {
        tampered[l3 - 1] ^= 1;
        ANSWER(3, tampered, l3, HENN_EPROTO);
        /* The tampered bytes under a new seq are a new request (counted). */
    }
    CHECK_EQ_INT(decryptions(o), d0);
    /* A skipped seq is a new request, decrypted and counted once... */
    ANSWER(10, q1, l1, 0);
    CHECK(decryptions(o) > d0);
    d0 = decryptions(o);
    /* ...and the seqs it skipped can no longer be asked: below the highest
     * answered and never answered. */
    ANSWER(5, q2, l2, HENN_EPROTO);
    ANSWER(9, q3, l3, HENN_EPROTO);
    CHECK_EQ_INT(decryptions(o), d0);
    henn_svc_answers_counts(a, &repeats, &refused);
    CHECK_EQ_INT(repeats, 2);
    CHECK_EQ_INT(refused, 4);
    /* The budget: a replay from the record is free, a new seq is not. */
    henn_owner_set_decrypt_budget(o, d0);
    ANSWER(10, q1, l1, 0);
    CHECK_OK(henn_svc_answers_handle(a, o, 11, q2, l2, &r, &rl));
    CHECK(r != NULL && henn_msg_type(r, rl) == HENN_MSG_ERROR);
    free(r);
    r = NULL;
    CHECK_EQ_INT(decryptions(o), d0);
#undef ANSWER
    free(tampered);
done:
    henn_svc_answers_free(a);
    henn_owner_free(o);
}

/* ------------------------------------------------ characters, seeded path */

static void test_seeded_character(void)
{
    henn_paillier_sk sk;
    gmp_randstate_t rs;
    mpz_t p, q;
    size_t c_djn = 0, g_djn = 0, c = 0, g = 0;
    uint8_t key[32];
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20261121);
    henn_paillier_sk_init(&sk);
    mpz_inits(p, q, NULL);
    test_prime_1mod4(p, 512, rs); /* p = 1 mod 4: DJN noise has symbol +1 */
    do
        test_prime_1mod4(q, 512, rs);
    while (mpz_cmp(p, q) == 0);
    CHECK_OK(henn_paillier_sk_from_primes(&sk, p, q, HENN_PAILLIER_INSECURE));
    char_attack_train(&sk, rs, 1, NULL, &c_djn, &g_djn);
    randombytes_buf(key, sizeof(key)); /* a job's mask key */
    char_attack_train(&sk, rs, 0, key, &c, &g);
    printf("character attack: DJN noise %zu/%zu, seeded masks and noise %zu/%zu\n", c_djn,
           g_djn, c, g);
    CHECK(g_djn > 0 && c_djn == g_djn); /* the harness reads every bit through DJN noise */
    CHECK(char_attack_at_chance(c, g));
    mpz_clears(p, q, NULL);
    henn_paillier_sk_clear(&sk);
    gmp_randclear(rs);
}

/* ------------------------------------------------ inference noise */

typedef struct infer_rec {
    henn_trainer *t;
    uint8_t *infer, *setup[4];
    size_t infer_len, setup_len[4], nsetup;
} infer_rec;

static int infer_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                      size_t *resp_len)
{
    infer_rec *r = ctx;
    if (r->infer == NULL && henn_msg_type(req, req_len) == HENN_MSG_INFER) {
        r->infer = dup_bytes(req, req_len);
        r->infer_len = req_len;
    } else if (r->infer == NULL && r->nsetup < 4) { /* SETUP: the key and parameters */
        r->setup[r->nsetup] = dup_bytes(req, req_len);
        r->setup_len[r->nsetup++] = req_len;
    }
    return henn_trainer_handle(r->t, req, req_len, resp, resp_len);
}

static int cmp_ct(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 2 * nbytes());
}

#define REPLAYS 40

static void test_inference_noise_fresh(void)
{
    henn_nn_model m;
    henn_nn_opts nn;
    henn_proto_params p;
    henn_trainer *t[2] = {NULL, NULL};
    henn_owner *o = NULL;
    henn_transport to_t;
    infer_rec ir;
    uint8_t key[32], pred[BATCH];
    uint8_t **cts;
    size_t n = 0, k, i, j, w = 2 * nbytes(), dups = 0;

    memset(key, 0x5a, sizeof(key));
    params(&p);
    make_model(&m, &nn);
    for (k = 0; k < 2; k++) {
        CHECK_OK(henn_trainer_new(&t[k], &m, NULL, NULL));
        if (t[k] != NULL) {
            henn__trainer_allow_insecure(t[k]);
            henn__trainer_set_mask_key(t[k], key, 0); /* a job's key: must not matter */
        }
    }
    henn_nn_model_clear(&m);
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    if (t[0] == NULL || t[1] == NULL || o == NULL)
        goto done;
    memset(&ir, 0, sizeof(ir));
    ir.t = t[0];
    memset(&to_t, 0, sizeof(to_t));
    to_t.call = infer_call;
    to_t.ctx = &ir;
    CHECK_OK(henn_owner_infer(o, &to_t, &p, X, BATCH, DIM, CLS, pred, NULL));
    CHECK(ir.infer != NULL);
    if (ir.infer == NULL)
        goto done;
    for (i = 0; i < ir.nsetup; i++) { /* the second trainer gets the same setup */
        uint8_t *resp = NULL;
        size_t resp_len = 0;
        CHECK_OK(henn_trainer_handle(t[1], ir.setup[i], ir.setup_len[i], &resp, &resp_len));
        CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_OK);
        free(resp);
        free(ir.setup[i]);
    }
    cts = calloc(2 * REPLAYS * HID, sizeof(uint8_t *));
    for (k = 0; k < 2 && cts != NULL; k++)
        for (j = 0; j < REPLAYS; j++) {
            uint8_t *resp = NULL;
            size_t resp_len = 0, outs;
            CHECK_OK(henn_trainer_handle(t[k], ir.infer, ir.infer_len, &resp, &resp_len));
            CHECK_EQ_INT(henn_msg_type(resp, resp_len), HENN_MSG_CIPHER);
            /* CIPHER: layer, last, activation, outs, then outs ciphertexts. */
            outs = resp_len >= HDR + 16 ? (size_t)resp[HDR + 15] : 0;
            CHECK_EQ_INT(outs, HID);
            if (outs == HID && resp_len == HDR + 16 + outs * w)
                for (i = 0; i < outs; i++)
                    cts[n++] = dup_bytes(resp + HDR + 16 + i * w, w);
            free(resp);
        }
    CHECK_EQ_INT(n, 2 * REPLAYS * HID);
    if (cts != NULL) {
        qsort(cts, n, sizeof(uint8_t *), cmp_ct);
        for (i = 1; i < n; i++)
            dups += memcmp(cts[i - 1], cts[i], w) == 0;
        for (i = 0; i < n; i++)
            free(cts[i]);
    }
    /* The same E(W x) every time: equal ciphertexts would be equal noise. */
    CHECK_EQ_INT(dups, 0);
    free(cts);
    free(ir.infer);
done:
    henn_trainer_free(t[0]);
    henn_trainer_free(t[1]);
    henn_owner_free(o);
}

/* ------------------------------------------------ service limits */

static int tcp_connect(uint16_t port, int timeout_s)
{
    struct sockaddr_in a;
    struct timeval tv = {timeout_s, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *b, size_t n)
{
    const char *p = b;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static size_t recv_one(int fd, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    while (n + 1 < cap) {
        char *e;
        ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        out[n] = '\0';
        if ((e = strstr(out, "\r\n\r\n")) != NULL) {
            const char *cl = strstr(out, "Content-Length: ");
            size_t want = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
            if (n >= (size_t)(e + 4 - out) + want)
                break;
        }
    }
    out[n] = '\0';
    return n;
}

static unsigned status_of(const char *r)
{
    if (strncmp(r, "HTTP/1.", 7) != 0 || strlen(r) < 12)
        return 0;
    return (unsigned)strtoul(r + 9, NULL, 10);
}

typedef struct sess {
    char id[33], tok[65];
} sess;

static void create_session(uint16_t port, sess *ss)
{
    static const char body[] = "{\"protocol\":\"lr\",\"config\":{}}";
    char head[256], r[4096];
    const char *e;
    json_t *j;
    int fd = tcp_connect(port, 10), n;
    memset(ss, 0, sizeof(*ss));
    if (fd < 0)
        return;
    n = snprintf(head, sizeof(head),
                 "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    if (send_all(fd, head, (size_t)n) == 0)
        recv_one(fd, r, sizeof(r));
    close(fd);
    CHECK_EQ_INT(status_of(r), 201);
    e = strstr(r, "\r\n\r\n");
    j = e != NULL ? json_loads(e + 4, 0, NULL) : NULL;
    if (j != NULL) {
        const char *id = json_string_value(json_object_get(j, "session"));
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (id != NULL && tok != NULL && strlen(id) == 32 && strlen(tok) == 64) {
            memcpy(ss->id, id, 33);
            memcpy(ss->tok, tok, 65);
        }
    }
    json_decref(j);
    CHECK(ss->id[0] != '\0');
}

/* The headers of an upload of len bytes and its first part bytes. */
static int upload_start(uint16_t port, const sess *ss, size_t len, size_t part)
{
    char head[512], b[64];
    int fd = tcp_connect(port, 3), n;
    if (fd < 0)
        return -1;
    memset(b, 'x', sizeof(b));
    n = snprintf(head, sizeof(head),
                 "POST /v1/sessions/%s/messages/1 HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                 ss->id, ss->tok, len);
    if (send_all(fd, head, (size_t)n) != 0 ||
        (part > 0 && send_all(fd, b, part < sizeof(b) ? part : sizeof(b)) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static size_t reserved(henn_svc_server *s)
{
    size_t n = 0;
    henn__svc_server_usage(s, NULL, &n);
    return n;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/*
 * The defaults let one session's token reserve every byte of the
 * server-wide body budget: max_uploads_per_session (4) x max_body
 * (256 MiB) = max_body_memory (1 GiB). A session holder (anyone, without
 * tokens_file) starts 4 max-size uploads and trickles a byte before each
 * idle_conn_s (libmicrohttpd restarts its timeout at every byte). Before
 * min_body_rate every other session's upload was answered 503 for as long
 * as it kept trickling; now a body below min_body_rate once the grace
 * (header_timeout_s) has passed is cut and its reservation released, so
 * the other session's message is served. Scaled down here (64 KiB bodies,
 * the same ratio, idle_conn_s 2, header_timeout_s 1, min_body_rate
 * 4096 B/s, a byte a second trickled for 4 s).
 */
static void test_upload_lockout(void)
{
    enum { MAXB = 64 * 1024, PER = 4 };
    henn_svc_server_opts o;
    henn_svc_server *s = NULL;
    char tmpl[] = "/tmp/henn-review-XXXXXX", *dir, r[4096];
    sess a, b;
    int fa[PER], fd, i, k, open_after = 0;
    uint16_t port;

    henn_svc_server_opts_default(&o);
    CHECK(o.max_uploads_per_session * o.max_body >= o.max_body_memory); /* the default ratio */
    dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir == NULL)
        return;
    o.threads = 2;
    o.session_ttl_s = 0;
    o.listen = "127.0.0.1:0";
    o.data_dir = dir;
    o.max_body = MAXB;
    o.max_uploads_per_session = PER;
    o.max_body_memory = PER * MAXB;
    o.idle_conn_s = 2;
    o.header_timeout_s = 1;
    o.min_body_rate = 4096;
    CHECK_OK(henn_svc_server_start(&s, &o));
    if (s == NULL) {
        rm_rf(dir);
        return;
    }
    port = henn_svc_server_port(s);
    create_session(port, &a);
    create_session(port, &b);
    for (i = 0; i < PER; i++)
        fa[i] = upload_start(port, &a, MAXB, 1);
    for (k = 0; k < 4; k++) { /* a byte per second on each, for 4 s */
        sleep(1);
        for (i = 0; i < PER; i++)
            if (fa[i] >= 0 && send_all(fa[i], "x", 1) != 0) {
                close(fa[i]);
                fa[i] = -1;
            }
    }
    for (i = 0; i < PER; i++)
        open_after += fa[i] >= 0;
    /* Session b, another party, sends a small message. */
    fd = upload_start(port, &b, 100, 0);
    r[0] = '\0';
    if (fd >= 0) {
        char body[100];
        memset(body, 'm', sizeof(body));
        if (send_all(fd, body, sizeof(body)) == 0)
            recv_one(fd, r, sizeof(r));
        close(fd);
    }
    /* The attack fails: the trickling uploads were closed by the server
     * (a send after the close fails), their reservations are released,
     * and b's message is served (200, not 503 "overloaded"). */
    CHECK_EQ_INT(open_after, 0);
    CHECK_EQ_INT(status_of(r), 200);
    /* b's own reservation goes once its request completes (just after
     * its response). */
    for (i = 0; i < 100 && reserved(s) != 0; i++)
        usleep(50000);
    CHECK_EQ_INT(reserved(s), 0);
    for (i = 0; i < PER; i++)
        if (fa[i] >= 0)
            close(fa[i]);
    henn_svc_server_stop(s);
    rm_rf(dir);
}

int main(void)
{
    size_t i;
    signal(SIGPIPE, SIG_IGN);
    if (henn_init() != 0)
        return 1;
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    if (henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE) != 0)
        return 1;
    make_data();
    test_resume_cheating_owner();
    test_answers_window();
    test_seeded_character();
    test_inference_noise_fresh();
    test_upload_lockout();
    free(HONEST.fwd);
    free(HONEST.grad);
    free(CHEAT.fwd);
    free(CHEAT.grad);
    for (i = 0; i < UPLOAD.n; i++)
        free(UPLOAD.msg[i]);
    henn_paillier_pk_clear(&PK);
    henn_paillier_sk_clear(&SK);
    return test_report("test_service_review");
}
