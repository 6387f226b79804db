/* Fuzz every functional-encryption reader (henn/fe.h): the FEIP mpk, msk,
 * function key and ciphertext, the four FEBO objects and the discrete-log
 * table. The input's magic picks the reader (any other input goes to all of
 * them); accepted input must re-serialise to the same bytes, and a refused
 * one must leave its output zeroed. A discrete-log table is also tried with
 * its checksum recomputed, so the checks behind the checksum are reached, and
 * an accepted table must solve small logarithms exactly. An accepted FEIP
 * ciphertext of length <= 4 is decrypted three ways (multi-scalar
 * multiplication, one scalar multiplication per term, the per-ciphertext
 * precomputation) under fixed keys: the three results and codes must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "henn/fe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is(const uint8_t *data, size_t size, const char *magic)
{
    return size < 4 || memcmp(data, magic, 4) == 0 || memcmp(data, "HF", 2) != 0;
}

static void same(const uint8_t *again, size_t len, const uint8_t *data, size_t size)
{
    if (len != size || memcmp(again, data, size) != 0)
        __builtin_trap();
}

static void zeroed(const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0)
            __builtin_trap();
}

/* Fixed keys and a small table, built once per process (lengths 1..4). */
static struct {
    int ready;
    henn_fe_dlog dl;
    henn_feip_mpk mpk[4];
    henn_feip_fk fk[4];
} keys;

static const int64_t key_y[4] = {1, -2, 4, -3};

static int keys_init(void)
{
    if (keys.ready)
        return keys.ready > 0;
    keys.ready = -1;
    if (henn_fe_dlog_init(&keys.dl, 100000, 64) != 0)
        return 0;
    for (size_t n = 1; n <= 4; n++) {
        henn_feip_msk msk;
        if (henn_feip_setup(&keys.mpk[n - 1], &msk, n, 1000, 4) != 0)
            return 0;
        int rc = henn_feip_derive_key(&keys.fk[n - 1], &msk, key_y, n);
        henn_feip_msk_clear(&msk);
        if (rc != 0)
            return 0;
    }
    keys.ready = 1;
    return 1;
}

/* the three decryption paths agree on any valid ciphertext */
static void feip_decrypt_paths(const henn_feip_ct *ct)
{
    if (ct->n > 4 || !keys_init())
        return;
    const henn_feip_mpk *mpk = &keys.mpk[ct->n - 1];
    const henn_feip_fk *fk = &keys.fk[ct->n - 1];
    int64_t v1 = 7, v2 = 7, v3 = 7;
    int r1 = henn_feip_decrypt(&v1, mpk, &keys.dl, ct, fk, key_y, ct->n);
    int r2 = henn_feip_decrypt_naive(&v2, mpk, &keys.dl, ct, fk, key_y, ct->n);
    henn_feip_ct_prep prep;
    int r3 = henn_feip_ct_prep_init(&prep, mpk, ct);
    if (r3 != 0)
        __builtin_trap();
    r3 = henn_feip_decrypt_prep(&v3, mpk, &keys.dl, &prep, fk, key_y, ct->n);
    henn_feip_ct_prep_clear(&prep);
    if (r1 != r2 || r1 != r3 || v1 != v2 || v1 != v3)
        __builtin_trap();
}

static void feip(const uint8_t *data, size_t size)
{
    uint8_t *again = NULL;
    size_t len = 0;
    if (is(data, size, "HFEM")) {
        henn_feip_mpk mpk;
        if (henn_feip_mpk_deserialize(&mpk, data, size) == 0) {
            if (mpk.tabs == NULL || henn_feip_mpk_serialize(&again, &len, &mpk) != 0)
                __builtin_trap();
            same(again, len, data, size);
            henn_free(again, len);
            henn_feip_mpk_clear(&mpk);
        } else {
            zeroed(&mpk, sizeof mpk);
        }
    }
    if (is(data, size, "HFES")) {
        henn_feip_msk msk;
        if (henn_feip_msk_deserialize(&msk, data, size) == 0) {
            if (henn_feip_msk_serialize(&again, &len, &msk) != 0)
                __builtin_trap();
            same(again, len, data, size);
            henn_free(again, len);
            henn_feip_msk_clear(&msk);
        } else {
            zeroed(&msk, sizeof msk);
        }
    }
    if (is(data, size, "HFEK")) {
        henn_feip_fk fk;
        if (henn_feip_fk_deserialize(&fk, data, size) == 0) {
            if (henn_feip_fk_serialize(&again, &len, &fk) != 0)
                __builtin_trap();
            same(again, len, data, size);
            henn_free(again, len);
            henn_feip_fk_clear(&fk);
        } else {
            zeroed(&fk, sizeof fk);
        }
    }
    if (is(data, size, "HFEC")) {
        henn_feip_ct ct;
        if (henn_feip_ct_deserialize(&ct, data, size) == 0) {
            if (henn_feip_ct_serialize(&again, &len, &ct) != 0)
                __builtin_trap();
            same(again, len, data, size);
            henn_free(again, len);
            feip_decrypt_paths(&ct);
            henn_feip_ct_clear(&ct);
        } else {
            zeroed(&ct, sizeof ct);
        }
    }
}

static void febo(const uint8_t *data, size_t size)
{
    uint8_t out[HENN_FEBO_CT_BYTES];
    if (is(data, size, "HFBM")) {
        henn_febo_mpk mpk;
        if (henn_febo_mpk_deserialize(&mpk, data, size) == 0) {
            henn_febo_mpk_serialize(out, &mpk);
            same(out, HENN_FEBO_MPK_BYTES, data, size);
        } else {
            zeroed(&mpk, sizeof mpk);
        }
    }
    if (is(data, size, "HFBS")) {
        henn_febo_msk msk;
        if (henn_febo_msk_deserialize(&msk, data, size) == 0) {
            henn_febo_msk_serialize(out, &msk);
            same(out, HENN_FEBO_MSK_BYTES, data, size);
            henn_febo_msk_clear(&msk);
        } else {
            zeroed(&msk, sizeof msk);
        }
    }
    if (is(data, size, "HFBC")) {
        henn_febo_ct ct;
        if (henn_febo_ct_deserialize(&ct, data, size) == 0) {
            henn_febo_ct_serialize(out, &ct);
            same(out, HENN_FEBO_CT_BYTES, data, size);
        } else {
            zeroed(&ct, sizeof ct);
        }
    }
    if (is(data, size, "HFBK")) {
        henn_febo_fk fk;
        if (henn_febo_fk_deserialize(&fk, data, size) == 0) {
            henn_febo_fk_serialize(out, &fk);
            same(out, HENN_FEBO_FK_BYTES, data, size);
        } else {
            zeroed(&fk, sizeof fk);
        }
    }
}

static void dlog_one(const uint8_t *data, size_t size)
{
    henn_fe_dlog dl;
    uint8_t *again = NULL;
    size_t len = 0;
    if (henn_fe_dlog_deserialize(&dl, data, size) != 0) {
        zeroed(&dl, sizeof dl);
        return;
    }
    if (henn_fe_dlog_serialize(&again, &len, &dl) != 0)
        __builtin_trap();
    same(again, len, data, size);
    free(again);
    const int64_t ks[3] = {0, -1, 2};
    for (int i = 0; i < 3; i++) {
        uint8_t p[HENN_FE_POINTBYTES];
        int64_t v = 0;
        henn_fe_point_mul_g(p, ks[i]);
        int rc = henn_fe_dlog_solve(&v, &dl, p);
        if (rc != 0 && rc != HENN_ERANGE)
            __builtin_trap();
        if (rc == 0 && v != ks[i])
            __builtin_trap(); /* a wrong logarithm */
    }
    henn_fe_dlog_clear(&dl);
}

static void dlog(const uint8_t *data, size_t size)
{
    if (!is(data, size, "HFED"))
        return;
    dlog_one(data, size);
    if (size < 32 || size > 1 << 20)
        return;
    uint8_t *fixed = malloc(size);
    if (fixed == NULL)
        return;
    memcpy(fixed, data, size);
    crypto_generichash(fixed + size - 32, 32, fixed, size - 32, NULL, 0);
    dlog_one(fixed, size);
    free(fixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dlog(data, size);
    feip(data, size);
    febo(data, size);
    return 0;
}
