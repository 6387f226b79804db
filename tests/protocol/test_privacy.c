/*
 * The cheating data owner against encrypted-input training (issue 7, item
 * 1), the character attack of char_attack.h: with DJN noise the owner
 * reads the parity of every W1[h][0] from the DECRYPT requests; with
 * fresh r^n noise it must do no better than chance. Then the same owner
 * against encrypted inference and the trainer's pooled noise.
 */
#include "../test.h"
#include "../paillier/test_primes.h"
#include "char_attack.h"

#include "henn/henn.h"
#include "protocol/proto_internal.h"

static gmp_randstate_t RS;

static void test_cheating_owner(const henn_paillier_sk *sk)
{
    size_t c_djn, g_djn, c, g;
    char_attack_train(sk, RS, 1, NULL, &c_djn, &g_djn);
    char_attack_train(sk, RS, 0, NULL, &c, &g);
    printf("cheating owner reads parity of W1[h][0]: DJN noise %zu/%zu, fresh r^n %zu/%zu\n",
           c_djn, g_djn, c, g);
    CHECK_EQ_INT(c_djn, g_djn); /* the attack is real: every bit with the old noise */
    CHECK(char_attack_at_chance(c, g));
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

/* INFER: 12-byte header, 6 parameters, layer, records, width, then the
 * width ciphertexts; CIPHER: header, layer, final, activation, outputs,
 * then the output ciphertexts. */
static int infer_spy_call(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                          size_t *resp_len)
{
    char_attack *a = ctx;
    size_t width = char_attack_width(a), h, outs;
    const henn_nn_model *m = henn_trainer_model(a->t);
    uint8_t *msg;
    int rc;
    if (henn_msg_type(req, req_len) != HENN_MSG_INFER || req[39] != 0 ||
        req_len != 48 + CHAR_D * width)
        return henn_transport_call(a->inner, req, req_len, resp, resp_len);
    msg = malloc(req_len);
    memcpy(msg, req, req_len);
    char_attack_rewrite(a, msg + 48, CHAR_D, width);
    rc = henn_transport_call(a->inner, msg, req_len, resp, resp_len);
    free(msg);
    if (rc != 0 || henn_msg_type(*resp, *resp_len) != HENN_MSG_CIPHER)
        return rc;
    outs = (size_t)(*resp)[24] << 24 | (size_t)(*resp)[25] << 16 | (size_t)(*resp)[26] << 8 |
           (*resp)[27];
    CHECK_EQ_INT(outs, CHAR_H);
    CHECK_EQ_INT(*resp_len, 28 + CHAR_H * width);
    for (h = 0; h < outs && 28 + (h + 1) * width <= *resp_len; h++) {
        int64_t q;
        int odd_guess = char_attack_symbol(a->sk, *resp + 28 + h * width, width) == -1;
        CHECK_OK(henn__quantize(&q, (double)m->W[0][h * CHAR_D], a->p->fw, a->p->wi, 0));
        a->correct += odd_guess == (int)(q & 1);
        a->guesses++;
    }
    return rc;
}

static void run_infer_attack(const henn_paillier_sk *sk, int djn, size_t *correct,
                             size_t *guesses)
{
    size_t dims[3] = {CHAR_D, CHAR_H, 3}, rows, i;
    henn_nn_model m;
    henn_owner *ow;
    henn_trainer *t;
    henn_transport to_t, spy = {0};
    henn_batch_opts two = {2, NULL, NULL};
    henn_proto_params p;
    uint64_t made = 0, taken = 0, taken0;
    char_attack a;
    float *X;
    uint8_t *pred;

    CHECK_OK(henn_proto_params_default(&p, CHAR_H, 0, mpz_sizeinbase(sk->pk.n, 2)));
    rows = 4 * p.slots;
    X = malloc(rows * CHAR_D * sizeof(float));
    pred = malloc(rows);
    for (i = 0; i < rows * CHAR_D; i++)
        X[i] = (float)gmp_urandomm_ui(RS, 1000) / 1000.0f;
    CHECK_OK(henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 11));
    CHECK_OK(henn_owner_new(&ow, sk, NULL));
    CHECK_OK(henn_trainer_new(&t, &m, NULL, &two)); /* two threads: the pool runs */
    henn_transport_to_trainer(&to_t, t);
    char_attack_init(&a, sk, t, &p, RS);
    a.inner = &to_t;
    spy.call = infer_spy_call;
    spy.ctx = &a;
    /* an honest run starts the pool; wait until it holds a round's noise */
    CHECK_OK(henn_owner_infer(ow, &to_t, &p, X, p.slots, CHAR_D, 3, pred, NULL));
    if (!djn) {
        struct timespec ms = {0, 1000000};
        size_t waits = 0;
        do {
            nanosleep(&ms, NULL);
            henn__trainer_pool_counts(t, &made, &taken);
        } while (made < taken + CHAR_H && waits++ < 600000);
        CHECK(made >= taken + CHAR_H);
    }
    henn__trainer_pool_counts(t, &made, &taken0);
    henn__mask_use_djn_for_tests(djn);
    CHECK_OK(henn_owner_infer(ow, &spy, &p, X, rows, CHAR_D, 3, pred, NULL));
    henn__mask_use_djn_for_tests(0);
    henn__trainer_pool_counts(t, &made, &taken);
    CHECK(djn ? taken == taken0 : taken >= taken0 + CHAR_H); /* the pool's noise was attacked */
    CHECK(a.tampered > 0);
    CHECK_EQ_INT(a.guesses, 4 * CHAR_H);
    *correct = a.correct;
    *guesses = a.guesses;
    char_attack_clear(&a);
    henn_trainer_free(t);
    henn_owner_free(ow);
    henn_nn_model_clear(&m);
    free(X);
    free(pred);
}

static void test_cheating_owner_inference(const henn_paillier_sk *sk)
{
    size_t c_djn, g_djn, c, g;
    run_infer_attack(sk, 1, &c_djn, &g_djn);
    run_infer_attack(sk, 0, &c, &g);
    printf("cheating owner reads parity of W1[h][0] in inference: DJN noise %zu/%zu, "
           "pooled r^n %zu/%zu\n",
           c_djn, g_djn, c, g);
    CHECK_EQ_INT(c_djn, g_djn);
    CHECK(char_attack_at_chance(c, g));
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
