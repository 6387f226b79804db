/*
 * The cheating data owner against encrypted-input training (issue 7, item
 * 1): the owner holds the key, picks p = q = 1 mod 4, and changes only
 * the randomness of its feature ciphertexts (same plaintexts, every check
 * passes) so that feature 0 has Legendre symbol -1 mod p and every other
 * feature +1. For hidden unit h the trainer's E(W1[h] x) then has symbol
 * (-1)^e(h, 0) times the symbol of the trainer's noise, with e(h, 0) =
 * round(W1[h][0] 2^fw) + 2^(fw + wi). With DJN noise (symbol +1 for such
 * a p) the owner reads the parity of every W1[h][0] from the DECRYPT
 * requests; with fresh r^n noise it must do no better than chance.
 */
#include "../test.h"
#include "../paillier/test_primes.h"

#include <math.h>

#include "henn/henn.h"
#include "protocol/proto_internal.h"

static gmp_randstate_t RS;

#define D 6  /* features */
#define H 32 /* hidden units: bits read per batch */

typedef struct attack {
    const henn_paillier_sk *sk;
    henn_trainer *t;
    const henn_proto_params *p;
    henn_transport *inner;
    mpz_t flip; /* s^n mod n^2 with (s | p) = -1: changes the symbol only */
    size_t decrypts, correct, guesses, tampered;
} attack;

static int legendre_p(const henn_paillier_sk *sk, const uint8_t *b, size_t width)
{
    mpz_t c;
    int l;
    mpz_init(c);
    mpz_import(c, width, 1, 1, 1, 0, b);
    mpz_mod(c, c, sk->p);
    l = mpz_legendre(c, sk->p);
    mpz_clear(c);
    return l;
}

/* Owner -> trainer: rewrite the randomness of DATA's feature-major
 * ciphertexts. DATA: 12-byte header, u32 group, rows c, width D, chunks,
 * c labels, D feature-major ciphertexts of 2 |n| bytes, then the rest. */
static int tamper_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                       size_t *resp_len)
{
    attack *a = ctx;
    size_t width = 2 * ((mpz_sizeinbase(a->sk->pk.n, 2) + 7) / 8), c, dim, f, off;
    uint8_t *msg;
    int rc;
    if (henn_msg_type(req, req_len) != HENN_MSG_DATA)
        return henn_transport_call(a->inner, req, req_len, resp, resp_len);
    msg = malloc(req_len);
    memcpy(msg, req, req_len);
    c = (size_t)msg[16] << 24 | (size_t)msg[17] << 16 | (size_t)msg[18] << 8 | msg[19];
    dim = (size_t)msg[20] << 24 | (size_t)msg[21] << 16 | (size_t)msg[22] << 8 | msg[23];
    CHECK_EQ_INT(dim, D);
    off = 28 + c;
    for (f = 0; f < dim && off + (f + 1) * width <= req_len; f++) {
        uint8_t *b = msg + off + f * width;
        if (legendre_p(a->sk, b, width) != (f == 0 ? -1 : 1)) {
            mpz_t x;
            size_t count = 0;
            mpz_init(x);
            mpz_import(x, width, 1, 1, 1, 0, b);
            mpz_mul(x, x, a->flip);
            mpz_mod(x, x, a->sk->pk.n2);
            memset(b, 0, width);
            mpz_export(b + width - (mpz_sizeinbase(x, 2) + 7) / 8, &count, 1, 1, 1, 0, x);
            mpz_clear(x);
            a->tampered++;
        }
        CHECK_EQ_INT(legendre_p(a->sk, b, width), f == 0 ? -1 : 1);
    }
    rc = henn_transport_call(a->inner, msg, req_len, resp, resp_len);
    free(msg);
    return rc;
}

/* Trainer -> owner: before answering a forward-pass DECRYPT (every other
 * request: forward, gradient, forward, ...), guess the parity of
 * round(W1[h][0] 2^fw) from the symbols and score it against the
 * trainer's current weights. */
static int spy_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                    size_t *resp_len)
{
    attack *a = ctx;
    size_t width = 2 * ((mpz_sizeinbase(a->sk->pk.n, 2) + 7) / 8), count, h;
    if (henn_msg_type(req, req_len) == HENN_MSG_DECRYPT && a->decrypts++ % 2 == 0) {
        const henn_nn_model *m = henn_trainer_model(a->t);
        count = (size_t)req[12] << 24 | (size_t)req[13] << 16 | (size_t)req[14] << 8 | req[15];
        CHECK_EQ_INT(count, H);
        for (h = 0; h < count && 16 + (h + 1) * width <= req_len; h++) {
            int64_t q;
            int odd_guess = legendre_p(a->sk, req + 16 + h * width, width) == -1;
            CHECK_OK(henn__quantize(&q, (double)m->W[0][h * D], a->p->fw, a->p->wi, 0));
            a->correct += odd_guess == (int)(q & 1);
            a->guesses++;
        }
    }
    return henn_transport_call(a->inner, req, req_len, resp, resp_len);
}

static void run_attack(const henn_paillier_sk *sk, int djn, size_t *correct, size_t *guesses)
{
    size_t dims[3] = {D, H, 3}, rows, i;
    henn_nn_model init;
    henn_nn_opts o;
    henn_owner *ow;
    henn_trainer *t;
    henn_transport to_t, to_o, tamper = {0}, spy = {0};
    henn_proto_params p;
    attack a;
    float *X;
    uint8_t *y;
    mpz_t s;

    CHECK_OK(henn_proto_params_default(&p, H, 0, mpz_sizeinbase(sk->pk.n, 2)));
    rows = 4 * p.slots;
    X = malloc(rows * D * sizeof(float));
    y = malloc(rows);
    for (i = 0; i < rows * D; i++)
        X[i] = (float)gmp_urandomm_ui(RS, 1000) / 1000.0f;
    for (i = 0; i < rows; i++)
        y[i] = (uint8_t)(i % 3);
    CHECK_OK(henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(&o);
    o.max_rows = p.slots;
    CHECK_OK(henn_owner_new(&ow, sk, NULL));
    CHECK_OK(henn_trainer_new(&t, &init, &o, NULL));
    henn_transport_to_trainer(&to_t, t);
    henn_transport_to_owner(&to_o, ow);

    memset(&a, 0, sizeof(a));
    a.sk = sk;
    a.t = t;
    a.p = &p;
    mpz_inits(a.flip, s, NULL);
    do
        mpz_urandomm(s, RS, sk->pk.n);
    while (mpz_legendre(s, sk->p) != -1);
    mpz_powm(a.flip, s, sk->pk.n, sk->pk.n2);
    a.inner = &to_t;
    tamper.call = tamper_call;
    tamper.ctx = &a;
    CHECK_OK(henn_owner_upload(ow, &tamper, &p, X, y, rows, D));
    CHECK(a.tampered > 0);
    a.inner = &to_o;
    spy.call = spy_call;
    spy.ctx = &a;
    henn__mask_use_djn_for_tests(djn);
    CHECK_OK(henn_trainer_train_epoch(t, &spy, 3, NULL, NULL, NULL));
    henn__mask_use_djn_for_tests(0);
    *correct = a.correct;
    *guesses = a.guesses;
    CHECK_EQ_INT(a.guesses, 4 * H);
    mpz_clears(a.flip, s, NULL);
    henn_trainer_free(t);
    henn_owner_free(ow);
    henn_nn_model_clear(&init);
    free(X);
    free(y);
}

static void test_cheating_owner(const henn_paillier_sk *sk)
{
    size_t c_djn, g_djn, c, g;
    double sd;
    run_attack(sk, 1, &c_djn, &g_djn);
    run_attack(sk, 0, &c, &g);
    printf("cheating owner reads parity of W1[h][0]: DJN noise %zu/%zu, fresh r^n %zu/%zu\n",
           c_djn, g_djn, c, g);
    CHECK_EQ_INT(c_djn, g_djn); /* the attack is real: every bit with the old noise */
    sd = sqrt((double)g) / 2.0; /* 5 standard deviations: false alarm < 10^-6 */
    CHECK(fabs((double)c - (double)g / 2.0) <= 5.0 * sd);
}

/*
 * The same cheating owner against encrypted inference, whose CIPHER
 * responses are re-randomised with noise from the trainer's pool (drawn
 * ahead of time by a background thread): the owner sets the symbol of
 * feature 0's INFER ciphertext (layer 0) to -1 and of the others to +1;
 * output h of layer 0 then has symbol (-1)^e(h, 0) times the noise's
 * (the offset 2^(fw + wi) is even, the bias plaintext 1 + P n has symbol
 * +1). With DJN noise it reads the parity of every W1[h][0]; with the
 * pool's r^n, chance.
 */
void henn__trainer_set_noise_pool(henn_trainer *t, size_t capacity);
void henn__trainer_pool_counts(const henn_trainer *t, uint64_t *made, uint64_t *taken);

static void rewrite_symbols(attack *a, uint8_t *cts, size_t dim, size_t width)
{
    size_t f;
    for (f = 0; f < dim; f++) {
        uint8_t *b = cts + f * width;
        if (legendre_p(a->sk, b, width) != (f == 0 ? -1 : 1)) {
            mpz_t x;
            size_t count = 0;
            mpz_init(x);
            mpz_import(x, width, 1, 1, 1, 0, b);
            mpz_mul(x, x, a->flip);
            mpz_mod(x, x, a->sk->pk.n2);
            memset(b, 0, width);
            mpz_export(b + width - (mpz_sizeinbase(x, 2) + 7) / 8, &count, 1, 1, 1, 0, x);
            mpz_clear(x);
            a->tampered++;
        }
        CHECK_EQ_INT(legendre_p(a->sk, b, width), f == 0 ? -1 : 1);
    }
}

/* INFER: 12-byte header, 6 parameters, layer, records, width, then the
 * width ciphertexts; CIPHER: header, layer, final, activation, outputs,
 * then the output ciphertexts. */
static int infer_spy_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    attack *a = ctx;
    size_t width = 2 * ((mpz_sizeinbase(a->sk->pk.n, 2) + 7) / 8), h, outs;
    const henn_nn_model *m = henn_trainer_model(a->t);
    uint8_t *msg;
    int rc;
    if (henn_msg_type(req, req_len) != HENN_MSG_INFER || req[39] != 0 || req_len != 48 + D * width)
        return henn_transport_call(a->inner, req, req_len, resp, resp_len);
    msg = malloc(req_len);
    memcpy(msg, req, req_len);
    rewrite_symbols(a, msg + 48, D, width);
    rc = henn_transport_call(a->inner, msg, req_len, resp, resp_len);
    free(msg);
    if (rc != 0 || henn_msg_type(*resp, *resp_len) != HENN_MSG_CIPHER)
        return rc;
    outs = (size_t)(*resp)[24] << 24 | (size_t)(*resp)[25] << 16 | (size_t)(*resp)[26] << 8 |
           (*resp)[27];
    CHECK_EQ_INT(outs, H);
    CHECK_EQ_INT(*resp_len, 28 + H * width);
    for (h = 0; h < outs && 28 + (h + 1) * width <= *resp_len; h++) {
        int64_t q;
        int odd_guess = legendre_p(a->sk, *resp + 28 + h * width, width) == -1;
        CHECK_OK(henn__quantize(&q, (double)m->W[0][h * D], a->p->fw, a->p->wi, 0));
        a->correct += odd_guess == (int)(q & 1);
        a->guesses++;
    }
    return rc;
}

static void run_infer_attack(const henn_paillier_sk *sk, int djn, size_t *correct,
                             size_t *guesses)
{
    size_t dims[3] = {D, H, 3}, rows, i;
    henn_nn_model m;
    henn_owner *ow;
    henn_trainer *t;
    henn_transport to_t, spy = {0};
    henn_batch_opts two = {2, NULL, NULL};
    henn_proto_params p;
    uint64_t made = 0, taken = 0, taken0;
    attack a;
    float *X;
    uint8_t *pred;
    mpz_t s;

    CHECK_OK(henn_proto_params_default(&p, H, 0, mpz_sizeinbase(sk->pk.n, 2)));
    rows = 4 * p.slots;
    X = malloc(rows * D * sizeof(float));
    pred = malloc(rows);
    for (i = 0; i < rows * D; i++)
        X[i] = (float)gmp_urandomm_ui(RS, 1000) / 1000.0f;
    CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 11));
    CHECK_OK(henn_owner_new(&ow, sk, NULL));
    CHECK_OK(henn_trainer_new(&t, &m, NULL, &two)); /* two threads: the pool runs */
    henn_transport_to_trainer(&to_t, t);
    memset(&a, 0, sizeof(a));
    a.sk = sk;
    a.t = t;
    a.p = &p;
    mpz_inits(a.flip, s, NULL);
    do
        mpz_urandomm(s, RS, sk->pk.n);
    while (mpz_legendre(s, sk->p) != -1);
    mpz_powm(a.flip, s, sk->pk.n, sk->pk.n2);
    a.inner = &to_t;
    spy.call = infer_spy_call;
    spy.ctx = &a;
    /* an honest run starts the pool; wait until it holds a round's noise */
    CHECK_OK(henn_owner_infer(ow, &to_t, &p, X, p.slots, D, 3, pred, NULL));
    if (!djn) {
        struct timespec ms = {0, 1000000};
        size_t waits = 0;
        do {
            nanosleep(&ms, NULL);
            henn__trainer_pool_counts(t, &made, &taken);
        } while (made < taken + H && waits++ < 600000);
        CHECK(made >= taken + H);
    }
    henn__trainer_pool_counts(t, &made, &taken0);
    henn__mask_use_djn_for_tests(djn);
    CHECK_OK(henn_owner_infer(ow, &spy, &p, X, rows, D, 3, pred, NULL));
    henn__mask_use_djn_for_tests(0);
    henn__trainer_pool_counts(t, &made, &taken);
    CHECK(djn ? taken == taken0 : taken >= taken0 + H); /* the pool's noise was attacked */
    CHECK(a.tampered > 0);
    CHECK_EQ_INT(a.guesses, 4 * H);
    *correct = a.correct;
    *guesses = a.guesses;
    mpz_clears(a.flip, s, NULL);
    henn_trainer_free(t);
    henn_owner_free(ow);
    henn_nn_model_clear(&m);
    free(X);
    free(pred);
}

static void test_cheating_owner_inference(const henn_paillier_sk *sk)
{
    size_t c_djn, g_djn, c, g;
    double sd;
    run_infer_attack(sk, 1, &c_djn, &g_djn);
    run_infer_attack(sk, 0, &c, &g);
    printf("cheating owner reads parity of W1[h][0] in inference: DJN noise %zu/%zu, "
           "pooled r^n %zu/%zu\n",
           c_djn, g_djn, c, g);
    CHECK_EQ_INT(c_djn, g_djn);
    sd = sqrt((double)g) / 2.0;
    CHECK(fabs((double)c - (double)g / 2.0) <= 5.0 * sd);
}

int main(void)
{
    henn_paillier_sk sk;
    mpz_t p, q;
    unsigned long seed = test_seed();
    if (henn_init() != 0)
        return 1;
    gmp_randinit_default(RS);
    gmp_randseed_ui(RS, seed);
    henn_paillier_sk_init(&sk);
    mpz_inits(p, q, NULL);
    test_prime_1mod4(p, 1024, RS);
    do
        test_prime_1mod4(q, 1024, RS);
    while (mpz_cmp(p, q) == 0);
    if (henn_paillier_sk_from_primes(&sk, p, q, 0) != 0)
        return 1;
    test_cheating_owner(&sk);
    test_cheating_owner_inference(&sk);
    mpz_clears(p, q, NULL);
    henn_paillier_sk_clear(&sk);
    gmp_randclear(RS);
    return test_report("test_privacy");
}
