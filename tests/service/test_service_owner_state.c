/*
 * The owner's record of its answers outliving its client (issue 12,
 * "client killed and restarted"; henn_svc_answers, henn/service.h):
 *  - the record serialized after three answers and restored into a new
 *    record with a new owner answers the repeats byte for byte without a
 *    decryption, refuses a repeat with other bytes, and keeps the count of
 *    ciphertexts decrypted;
 *  - its budget refuses new requests once that count reaches it (the
 *    restored count included), before any decryption;
 *  - the hook runs once per new answer, not for repeats, and its failure
 *    is the handle's (no response);
 *  - an owner's ERROR answer (its own budget) counts as refused;
 *  - malformed records (every truncation, a trailing byte, bad magic, a
 *    zero window, more entries than the window, seqs not rising, a last
 *    entry that is not the last seq) are HENN_EFORMAT.
 */
#include "../test.h"

#include "henn/henn.h"
#include "henn/service.h"
#include "protocol/proto_internal.h"

static henn_paillier_pk PK;
static henn_paillier_sk SK;

/* A DECRYPT request for k ciphertexts of v, v + 1, ... */
static uint8_t *decrypt_req(size_t *len, size_t k, unsigned long v) {
    size_t nb = henn__nbytes(&PK), i;
    henn__wbuf w;
    uint8_t *out = NULL;
    henn__wbuf_start(&w, HENN_MSG_DECRYPT);
    henn__wbuf_u32(&w, (uint32_t)k);
    for (i = 0; i < k; i++) {
        henn_paillier_pt pt;
        henn_paillier_ct ct;
        henn_paillier_pt_init(&pt);
        henn_paillier_ct_init(&ct);
        mpz_set_ui(pt.encoding, v + i);
        CHECK_OK(henn_paillier_encrypt(&ct, &PK, &pt));
        henn__wbuf_mpz(&w, ct.c, 2 * nb);
        henn_paillier_pt_clear(&pt);
        henn_paillier_ct_clear(&ct);
    }
    CHECK_OK(henn__wbuf_finish(&w, &out, len));
    return out;
}

static uint64_t decryptions(const henn_owner *o) {
    henn_proto_stats st;
    henn_owner_stats(&st, o);
    return st.decryptions;
}

static int hook_calls, hook_rc;
static int hook(void *user, const henn_svc_answers *a) {
    (void)user;
    (void)a;
    hook_calls++;
    return hook_rc;
}

static void test_restore(void) {
    henn_owner *o = NULL, *o2 = NULL;
    henn_svc_answers *a = NULL, *b = NULL;
    uint8_t *q[5] = {0}, *r = NULL, *first[3] = {0}, *rec = NULL;
    size_t ql[5] = {0}, rl = 0, firstl[3] = {0}, recl = 0, i;
    uint64_t repeats = 0, refused = 0;

    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_owner_new(&o2, &SK, NULL));
    CHECK_OK(henn_svc_answers_new(&a, 4));
    for (i = 0; i < 5; i++)
        q[i] = decrypt_req(&ql[i], i + 2, 100 * i);
    if (o == NULL || o2 == NULL || a == NULL || q[4] == NULL)
        goto done;
    henn_svc_answers_set_hook(a, hook, NULL);
    hook_calls = 0;
    for (i = 0; i < 3; i++) {
        CHECK_OK(henn_svc_answers_handle(a, o, i + 1, q[i], ql[i], &first[i], &firstl[i]));
        CHECK(first[i] != NULL && henn_msg_type(first[i], firstl[i]) == HENN_MSG_PLAIN);
    }
    CHECK_EQ_INT(hook_calls, 3);
    CHECK_EQ_INT(henn_svc_answers_decrypted(a), 2 + 3 + 4);
    /* a repeat: no hook, no decryption */
    CHECK_OK(henn_svc_answers_handle(a, o, 3, q[2], ql[2], &r, &rl));
    free(r);
    r = NULL;
    CHECK_EQ_INT(hook_calls, 3);
    CHECK_EQ_INT(henn_svc_answers_decrypted(a), 9);

    CHECK_OK(henn_svc_answers_serialize(&rec, &recl, a));
    CHECK_OK(henn_svc_answers_deserialize(&b, rec, recl));
    if (b == NULL)
        goto done;
    CHECK_EQ_INT(henn_svc_answers_decrypted(b), 9);
    henn_svc_answers_counts(b, &repeats, &refused);
    CHECK_EQ_INT(repeats, 1);
    CHECK_EQ_INT(refused, 0);
    /* the restored record answers the repeats, byte for byte, with a new
     * owner that decrypts nothing */
    for (i = 0; i < 3; i++) {
        CHECK_OK(henn_svc_answers_handle(b, o2, i + 1, q[i], ql[i], &r, &rl));
        CHECK(r != NULL && rl == firstl[i] && memcmp(r, first[i], rl) == 0);
        free(r);
        r = NULL;
    }
    CHECK_EQ_INT(decryptions(o2), 0);
    /* seq 3 with other bytes (another encryption of other values) */
    CHECK_RC(henn_svc_answers_handle(b, o2, 3, q[3], ql[3], &r, &rl), HENN_EPROTO);
    CHECK(r == NULL);
    CHECK_EQ_INT(decryptions(o2), 0);
    /* the budget goes on from the restored count: 9 + 5 = 14 <= 14 ... */
    henn_svc_answers_set_budget(b, 14);
    CHECK_OK(henn_svc_answers_handle(b, o2, 4, q[3], ql[3], &r, &rl));
    free(r);
    r = NULL;
    CHECK_EQ_INT(henn_svc_answers_decrypted(b), 14);
    CHECK_EQ_INT(decryptions(o2), 5);
    /* ... and the next new request is refused before any decryption */
    CHECK_RC(henn_svc_answers_handle(b, o2, 5, q[4], ql[4], &r, &rl), HENN_EPROTO);
    CHECK(r == NULL);
    CHECK_EQ_INT(decryptions(o2), 5);
    /* a repeat is still answered */
    CHECK_OK(henn_svc_answers_handle(b, o2, 4, q[3], ql[3], &r, &rl));
    free(r);
    r = NULL;
    henn_svc_answers_counts(b, &repeats, &refused);
    CHECK_EQ_INT(refused, 2);

    /* the hook's failure is the handle's; the owner's ERROR answer (its
     * own budget) is refused in the counts and still answered */
    hook_rc = HENN_EIO;
    CHECK_RC(henn_svc_answers_handle(a, o, 4, q[3], ql[3], &r, &rl), HENN_EIO);
    CHECK(r == NULL && rl == 0);
    hook_rc = 0;
    henn_owner_set_decrypt_budget(o, decryptions(o) + 1);
    CHECK_OK(henn_svc_answers_handle(a, o, 5, q[4], ql[4], &r, &rl));
    CHECK(r != NULL && henn_msg_type(r, rl) == HENN_MSG_ERROR);
    free(r);
    r = NULL;
    henn_svc_answers_counts(a, &repeats, &refused);
    CHECK_EQ_INT(refused, 1);
done:
    for (i = 0; i < 5; i++)
        free(q[i]);
    for (i = 0; i < 3; i++)
        free(first[i]);
    free(rec);
    henn_svc_answers_free(a);
    henn_svc_answers_free(b);
    henn_owner_free(o);
    henn_owner_free(o2);
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void test_malformed(void) {
    henn_owner *o = NULL;
    henn_svc_answers *a = NULL, *b = NULL;
    uint8_t *q = NULL, *r = NULL, *rec = NULL, *bad = NULL;
    size_t ql = 0, rl = 0, recl = 0, n, i;

    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    CHECK_OK(henn_svc_answers_new(&a, 3));
    q = decrypt_req(&ql, 2, 7);
    if (o == NULL || a == NULL || q == NULL)
        goto done;
    for (i = 1; i <= 2; i++) {
        CHECK_OK(henn_svc_answers_handle(a, o, 10 * i, q, ql, &r, &rl));
        free(r);
        r = NULL;
    }
    CHECK_OK(henn_svc_answers_serialize(&rec, &recl, a));
    if (rec == NULL || (bad = malloc(recl + 1)) == NULL)
        goto done;
    CHECK_RC(henn_svc_answers_deserialize(&b, NULL, 0), HENN_EFORMAT);
    for (n = 0; n < recl; n++) { /* every truncation */
        int rc = henn_svc_answers_deserialize(&b, rec, n);
        test_checks++;
        if (rc != HENN_EFORMAT || b != NULL) {
            test_failures++;
            fprintf(stderr, "truncation to %zu bytes: %s\n", n, henn_err_name(rc));
        }
    }
    memcpy(bad, rec, recl);
    bad[recl] = 0;
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl + 1), HENN_EFORMAT);
    bad[0] ^= 1; /* magic */
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl), HENN_EFORMAT);
    memcpy(bad, rec, recl);
    memset(bad + 4, 0, 4); /* window 0 */
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl), HENN_EFORMAT);
    memcpy(bad, rec, recl);
    bad[7] = 1; /* window 1 < 2 entries */
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl), HENN_EFORMAT);
    memcpy(bad, rec, recl);
    put64(bad + 44, 20); /* the first entry's seq = the second's */
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl), HENN_EFORMAT);
    memcpy(bad, rec, recl);
    put64(bad + 8, 21); /* the last seq is not the last entry's */
    CHECK_RC(henn_svc_answers_deserialize(&b, bad, recl), HENN_EFORMAT);
    CHECK(b == NULL);
    CHECK_OK(henn_svc_answers_deserialize(&b, rec, recl));
done:
    free(q);
    free(rec);
    free(bad);
    henn_svc_answers_free(a);
    henn_svc_answers_free(b);
    henn_owner_free(o);
}

int main(void) {
    CHECK_OK(henn_init());
    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    CHECK_OK(henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE));
    test_restore();
    test_malformed();
    henn_paillier_sk_clear(&SK);
    henn_paillier_pk_clear(&PK);
    return test_report("test_service_owner_state");
}
