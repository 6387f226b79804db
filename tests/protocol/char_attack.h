/*
 * The character attack of a cheating data owner (issue 7, item 1), shared
 * by test_privacy (fresh r^n noise, pooled inference noise) and
 * test_service_review (a resumable job's seeded masks and noise).
 *
 * The owner holds the key, picks p = q = 1 mod 4 and changes only the
 * randomness of its feature ciphertexts (same plaintexts, every check
 * passes) so that feature 0 has Legendre symbol -1 mod p and every other
 * feature +1. For hidden unit h the trainer's E(W1[h] x) then has symbol
 * (-1)^e(h, 0) times the symbol of the trainer's noise, with e(h, 0) =
 * round(W1[h][0] 2^fw) + 2^(fw + wi). With DJN noise (symbol +1 for such
 * a p) the owner reads the parity of every W1[h][0] from the DECRYPT
 * requests; with noise of random symbol it must do no better than chance.
 *
 * char_attack_init/_clear: the attack's state on sk, trainer t and params
 *  p (the symbol flip s^n drawn from rs). char_attack_symbol: the symbol
 *  mod p of a big-endian ciphertext of width bytes. char_attack_rewrite:
 *  give dim ciphertexts the symbols above (checked). char_attack_tamper:
 *  a transport (owner -> trainer, to a->inner) that rewrites DATA.
 *  char_attack_spy: a transport (trainer -> owner, to a->inner) that
 *  guesses from every forward DECRYPT and scores against the trainer's
 *  weights. char_attack_train: one epoch of CHAR_D-CHAR_H-3 training on
 *  4 batches under the attack. char_attack_at_chance: the score is within
 *  5 standard deviations of guessing (false alarm < 10^-6).
 * Test code only: include after ../test.h.
 */
#ifndef HENN_TEST_CHAR_ATTACK_H
#define HENN_TEST_CHAR_ATTACK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"
#include "protocol/proto_internal.h"

void henn__trainer_allow_insecure(henn_trainer *t);
void henn__trainer_set_mask_key(henn_trainer *t, const uint8_t *key, uint64_t ctr);

#define CHAR_D 6  /* features */
#define CHAR_H 32 /* hidden units: bits read per batch */

typedef struct char_attack {
    const henn_paillier_sk *sk;
    henn_trainer *t;
    const henn_proto_params *p;
    henn_transport *inner;
    mpz_t flip; /* s^n mod n^2 with (s | p) = -1: changes the symbol only */
    size_t decrypts, correct, guesses, tampered;
} char_attack;

__attribute__((unused)) static void char_attack_init(char_attack *a, const henn_paillier_sk *sk,
                                                     henn_trainer *t, const henn_proto_params *p,
                                                     gmp_randstate_t rs)
{
    mpz_t s;
    memset(a, 0, sizeof(*a));
    a->sk = sk;
    a->t = t;
    a->p = p;
    mpz_inits(a->flip, s, NULL);
    do
        mpz_urandomm(s, rs, sk->pk.n);
    while (mpz_legendre(s, sk->p) != -1);
    mpz_powm(a->flip, s, sk->pk.n, sk->pk.n2);
    mpz_clear(s);
}

__attribute__((unused)) static void char_attack_clear(char_attack *a)
{
    mpz_clear(a->flip);
}

/* A ciphertext's width in bytes: 2 |n|. */
__attribute__((unused)) static size_t char_attack_width(const char_attack *a)
{
    return 2 * ((mpz_sizeinbase(a->sk->pk.n, 2) + 7) / 8);
}

__attribute__((unused)) static int char_attack_symbol(const henn_paillier_sk *sk, const uint8_t *b,
                                                      size_t width)
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

/* cts: dim ciphertexts of width bytes, feature-major; feature 0 gets
 * symbol -1, the others +1 (the plaintexts unchanged). */
__attribute__((unused)) static void char_attack_rewrite(char_attack *a, uint8_t *cts, size_t dim,
                                                        size_t width)
{
    size_t f;
    for (f = 0; f < dim; f++) {
        uint8_t *b = cts + f * width;
        if (char_attack_symbol(a->sk, b, width) != (f == 0 ? -1 : 1)) {
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
        CHECK_EQ_INT(char_attack_symbol(a->sk, b, width), f == 0 ? -1 : 1);
    }
}

/* Owner -> trainer. DATA: 12-byte header, u32 group, rows c, width D,
 * chunks, c labels, D feature-major ciphertexts of 2 |n| bytes, then the
 * rest. */
__attribute__((unused)) static int char_attack_tamper(void *ctx, const uint8_t *req,
                                                      size_t req_len, uint8_t **resp,
                                                      size_t *resp_len)
{
    char_attack *a = ctx;
    size_t width = char_attack_width(a), c, dim, off, fit;
    uint8_t *msg;
    int rc;
    if (henn_msg_type(req, req_len) != HENN_MSG_DATA)
        return henn_transport_call(a->inner, req, req_len, resp, resp_len);
    msg = malloc(req_len);
    memcpy(msg, req, req_len);
    c = (size_t)msg[16] << 24 | (size_t)msg[17] << 16 | (size_t)msg[18] << 8 | msg[19];
    dim = (size_t)msg[20] << 24 | (size_t)msg[21] << 16 | (size_t)msg[22] << 8 | msg[23];
    CHECK_EQ_INT(dim, CHAR_D);
    off = 28 + c;
    fit = off <= req_len ? (req_len - off) / width : 0; /* whole ciphertexts present */
    char_attack_rewrite(a, msg + off, dim < fit ? dim : fit, width);
    rc = henn_transport_call(a->inner, msg, req_len, resp, resp_len);
    free(msg);
    return rc;
}

/* Trainer -> owner: before a forward-pass DECRYPT (every other request:
 * forward, gradient, forward, ...) is answered, guess the parity of
 * round(W1[h][0] 2^fw) + 2^(fw + wi) from the symbols and score it
 * against the trainer's current weights. */
__attribute__((unused)) static int char_attack_spy(void *ctx, const uint8_t *req, size_t req_len,
                                                   uint8_t **resp, size_t *resp_len)
{
    char_attack *a = ctx;
    size_t width = char_attack_width(a), count, h;
    if (henn_msg_type(req, req_len) == HENN_MSG_DECRYPT && a->decrypts++ % 2 == 0) {
        const henn_nn_model *m = henn_trainer_model(a->t);
        count = (size_t)req[12] << 24 | (size_t)req[13] << 16 | (size_t)req[14] << 8 | req[15];
        CHECK_EQ_INT(count, CHAR_H);
        for (h = 0; h < count && 16 + (h + 1) * width <= req_len; h++) {
            int64_t q;
            int odd_guess = char_attack_symbol(a->sk, req + 16 + h * width, width) == -1;
            CHECK_OK(henn__quantize(&q, (double)m->W[0][h * CHAR_D], a->p->fw, a->p->wi, 0));
            a->correct += odd_guess == (int)(q & 1);
            a->guesses++;
        }
    }
    return henn_transport_call(a->inner, req, req_len, resp, resp_len);
}

/*
 * One epoch of training on 4 batches of random features (from rs) under
 * the attack: djn selects DJN mask noise; mask_key (32 bytes, or NULL)
 * gives the trainer a job's seeded masks and noise. Keys under 2048 bits
 * are allowed through the test hook. The score in *correct of *guesses.
 */
__attribute__((unused)) static void char_attack_train(const henn_paillier_sk *sk,
                                                      gmp_randstate_t rs, int djn,
                                                      const uint8_t *mask_key, size_t *correct,
                                                      size_t *guesses)
{
    size_t dims[3] = {CHAR_D, CHAR_H, 3}, rows, i;
    henn_nn_model init;
    henn_nn_opts o;
    henn_owner *ow = NULL;
    henn_trainer *t = NULL;
    henn_transport to_t, to_o, tamper, spy;
    henn_proto_params p;
    char_attack a;
    float *xs;
    uint8_t *y;

    *correct = *guesses = 0;
    CHECK_OK(henn_proto_params_default(&p, CHAR_H, 0, mpz_sizeinbase(sk->pk.n, 2)));
    rows = 4 * p.slots;
    xs = malloc(rows * CHAR_D * sizeof(float));
    y = malloc(rows);
    for (i = 0; i < rows * CHAR_D; i++)
        xs[i] = (float)gmp_urandomm_ui(rs, 1000) / 1000.0f;
    for (i = 0; i < rows; i++)
        y[i] = (uint8_t)(i % 3);
    CHECK_OK(henn_nn_model_init(&init, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 7));
    henn_nn_opts_default(&o);
    o.max_rows = p.slots;
    CHECK_OK(henn_owner_new(&ow, sk, NULL));
    CHECK_OK(henn_trainer_new(&t, &init, &o, NULL));
    if (ow == NULL || t == NULL)
        goto done;
    if (mpz_sizeinbase(sk->pk.n, 2) < 2048)
        henn__trainer_allow_insecure(t);
    if (mask_key != NULL)
        henn__trainer_set_mask_key(t, mask_key, 0);
    henn_transport_to_trainer(&to_t, t);
    henn_transport_to_owner(&to_o, ow);
    char_attack_init(&a, sk, t, &p, rs);
    a.inner = &to_t;
    memset(&tamper, 0, sizeof(tamper));
    tamper.call = char_attack_tamper;
    tamper.ctx = &a;
    CHECK_OK(henn_owner_upload(ow, &tamper, &p, xs, y, rows, CHAR_D));
    CHECK(a.tampered > 0);
    a.inner = &to_o;
    memset(&spy, 0, sizeof(spy));
    spy.call = char_attack_spy;
    spy.ctx = &a;
    henn__mask_use_djn_for_tests(djn);
    CHECK_OK(henn_trainer_train_epoch(t, &spy, 3, NULL, NULL, NULL));
    henn__mask_use_djn_for_tests(0);
    *correct = a.correct;
    *guesses = a.guesses;
    CHECK_EQ_INT(a.guesses, 4 * CHAR_H);
    char_attack_clear(&a);
done:
    henn_trainer_free(t);
    henn_owner_free(ow);
    henn_nn_model_clear(&init);
    free(xs);
    free(y);
}

/* 1 if correct of guesses (> 0) is within 5 standard deviations of
 * guessing (sqrt(guesses) / 2). */
__attribute__((unused)) static int char_attack_at_chance(size_t correct, size_t guesses)
{
    double sd = sqrt((double)guesses) / 2.0;
    return guesses > 0 && fabs((double)correct - (double)guesses / 2.0) <= 5.0 * sd;
}

#endif
