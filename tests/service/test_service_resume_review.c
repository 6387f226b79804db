/* The resume design played by a curious or malicious server, and by an
 * outsider who can read (or damage) the owner's files (issue 12, "client
 * killed and restarted"; review of henn_svc_client_journal and
 * henn_svc_answers). A fake server on 127.0.0.1 (port 0) keeps a
 * session's seq as henn serve does, but can lie: answer with other bytes
 * than it stored (evil), claim any seq (claim), answer 409 and claim a
 * seq ahead (force409).
 *  (a) a server answering the re-sent request in flight with other bytes,
 *      and answering the journaled seqs otherwise: the journal's answers
 *      are replayed without a request, the in-flight one is sent once
 *      with the journaled bytes, and a second resume replays what the
 *      first one got: one response per seq across kills;
 *  (b) the server's seq contradicting the journal (behind, ahead by one
 *      or more, huge, negative, not an integer, missing): refused with
 *      "cannot be resumed" (or the resume fails), the journal left
 *      byte for byte; a 409 in the live part claiming a seq ahead is
 *      HENN_EPROTO;
 *  (c) damaged journals: every truncation, every byte flipped, records
 *      with a valid checksum but another seq, tag, order, session,
 *      duplicated or removed: refused or replayed with the original
 *      responses, never another response, never a crash (ASan); a
 *      refused journal is left byte for byte (it was cut at its first
 *      damaged record before the seq check refused it: fixed);
 *  (d) the published job's owner record across kill/resume cycles (the
 *      CLI's restore and budget logic): the ciphertexts whose decryption
 *      leaves the owner never exceed the budget, whatever seqs and bytes
 *      the server sends; a restored owner whose budget is spent refuses
 *      by itself (henn_owner_resume_decrypt_budget: it was given the whole
 *      budget back, the record's refusal the only one: fixed);
 *  (e) the journal: 0600 whatever the umask and an old file's mode, no
 *      symbolic link followed (its target untouched), no token inside;
 *      a second client on a journal in use refused (it is locked).
 */
#include "../test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_http.h"
#include "henn/henn.h"
#include "henn/service.h"
#include "protocol/proto_internal.h"

static const char SID[] = "0123456789abcdef0123456789abcdef";
static const char SID2[] = "fedcba9876543210fedcba9876543210";
static const char TOK[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#define NMSG 6
#define MLEN 40

typedef struct fake {
    fake_http srv;
    pthread_mutex_t mu;
    uint64_t last;       /* the session's seq */
    uint8_t stored[256]; /* the last response */
    size_t stored_len;
    uint8_t got[256]; /* the last handled or repeated request's bytes */
    size_t got_len;
    unsigned posts, seq_posts[16];
    uint8_t evil;      /* nonzero: responses XORed with it (stored ones too) */
    const char *claim; /* non-NULL: the seq member's JSON text in GET */
    uint64_t force409; /* nonzero: POSTs get 409 and GET claims this seq */
} fake;

/* The fake's answers: the whole body, Content-Length, no extra headers. */
static void answer(int fd, const char *status, const char *type, const void *body, size_t len) {
    fake_http_answer(fd, status, type, 0, "", body, len, -1);
}

/* The honest response to a request: its bytes reversed, then 0xee. */
static size_t derive(uint8_t *out, const uint8_t *req, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = req[n - 1 - i];
    out[n] = 0xee;
    return n + 1;
}

static void fake_answer(void *user, int fd, const char *req, size_t n) {
    fake *f = user;
    size_t blen, i;
    const uint8_t *body = fake_http_body(req, n, &blen);
    char text[256];
    const char *m;
    uint8_t out[256];
    pthread_mutex_lock(&f->mu);
    if (strncmp(req, "POST ", 5) == 0 && (m = strstr(req, "/messages/")) != NULL) {
        uint64_t seq = strtoull(m + 10, NULL, 10);
        f->posts++;
        if (seq < 16)
            f->seq_posts[seq]++;
        if (f->force409 == 0 && seq == f->last + 1 && blen + 1 <= sizeof(f->stored)) {
            f->last = seq;
            f->stored_len = derive(f->stored, body, blen);
            memcpy(f->got, body, blen);
            f->got_len = blen;
        } else if (f->force409 == 0 && seq == f->last && seq > 0 && blen <= sizeof(f->got)) {
            memcpy(f->got, body, blen);
            f->got_len = blen;
        } else {
            const char *e = "{\"error\":{\"code\":\"sequence\",\"message\":\"out of order\"}}";
            answer(fd, "409 Conflict", "application/json", e, strlen(e));
            pthread_mutex_unlock(&f->mu);
            return;
        }
        memcpy(out, f->stored, f->stored_len);
        for (i = 0; i < f->stored_len; i++)
            out[i] ^= f->evil;
        answer(fd, "200 OK", "application/octet-stream", out, f->stored_len);
    } else if (strncmp(req, "GET /v1/sessions/", 17) == 0) {
        char seqtext[64];
        size_t k;
        if (f->force409 != 0)
            snprintf(seqtext, sizeof(seqtext), "\"seq\":%llu,", (unsigned long long)f->force409);
        else if (f->claim != NULL)
            snprintf(seqtext, sizeof(seqtext), "%s", f->claim);
        else
            snprintf(seqtext, sizeof(seqtext), "\"seq\":%llu,", (unsigned long long)f->last);
        k = (size_t)snprintf(text, sizeof(text),
                             "{\"protocol\":\"kdd-private\",%s\"bytes\":0,\"created\":0}", seqtext);
        answer(fd, "200 OK", "application/json", text, k);
    } else if (strncmp(req, "POST /v1/sessions ", 18) == 0) {
        size_t k = (size_t)snprintf(text, sizeof(text),
                                    "{\"session\":\"%s\",\"token\":\"%s\",\"seq\":0}", SID, TOK);
        answer(fd, "201 Created", "application/json", text, k);
    } else {
        answer(fd, "404 Not Found", "application/json", "{}", 2);
    }
    pthread_mutex_unlock(&f->mu);
}

static void fake_start(fake *f) {
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    CHECK(fake_http_start(&f->srv, fake_answer, f) == 0);
}

static void fake_stop(fake *f) {
    fake_http_stop(&f->srv);
    pthread_mutex_destroy(&f->mu);
}

/* The fake's state set under its lock: seq last, stored the honest
 * response to request m (NULL: none), the lies off. */
static void fake_set(fake *f, uint64_t last, const uint8_t *m, size_t mlen) {
    pthread_mutex_lock(&f->mu);
    f->last = last;
    f->stored_len = m != NULL ? derive(f->stored, m, mlen) : 0;
    f->evil = 0;
    f->claim = NULL;
    f->force409 = 0;
    f->posts = 0;
    memset(f->seq_posts, 0, sizeof(f->seq_posts));
    pthread_mutex_unlock(&f->mu);
}

static char URL[64];

static void opts(henn_svc_client_opts *o, const fake *f) {
    memset(o, 0, sizeof(*o));
    fake_http_url(URL, sizeof(URL), &f->srv);
    o->url = URL;
    o->retry_s = 1.0;
}

/* Message i: an 8-byte header naming its kind, then bytes v (the owner's
 * encryption: v differs between runs, the header and length do not). */
static void msg(uint8_t *m, size_t i, uint8_t v) {
    memcpy(m, "HN\x01P\x00\x00\x00", 7);
    m[7] = (uint8_t)(6 + (i & 1));
    memset(m + 8, (uint8_t)(v + i), MLEN - 8);
}

static uint8_t M[NMSG][MLEN], M2[NMSG][MLEN], R[NMSG][MLEN + 1];

/* One call; *resp (malloc'd) returned. */
static int call(henn_transport *t, const uint8_t *req, size_t len, uint8_t **resp, size_t *rl) {
    return henn_transport_call(t, req, len, resp, rl);
}

static int same(const uint8_t *r, size_t rl, const uint8_t *want, size_t wl) {
    return r != NULL && rl == wl && memcmp(r, want, wl) == 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    *len = 0;
    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n + 1)) != NULL && fread(b, 1, (size_t)n, fp) == (size_t)n)
        *len = (size_t)n;
    fclose(fp);
    return b;
}

static int contains(const uint8_t *b, size_t n, const char *s) {
    size_t k = strlen(s), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(b + i, s, k) == 0)
            return 1;
    return 0;
}

static void spit(const char *path, const uint8_t *b, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, b, len) == (ssize_t)len);
    if (fd >= 0)
        close(fd);
}

/* The journal's record boundaries: starts[i] of record i, starts[n] the
 * end; records are 20 header bytes, the data, 16 checksum bytes. */
static size_t records(const uint8_t *j, size_t len, size_t *starts, size_t cap) {
    size_t n = 0, pos = 0;
    while (n + 1 < cap && len - pos >= 36) {
        uint64_t l = 0;
        for (int i = 12; i < 20; i++)
            l = l << 8 | j[pos + (size_t)i];
        if (l > len - pos - 36)
            break;
        starts[n++] = pos;
        pos += 36 + (size_t)l;
    }
    starts[n] = pos;
    return n;
}

/* The record at j[s..e) given a valid checksum again (a forger without a
 * key: the checksum is unkeyed). */
static void reseal(uint8_t *j, size_t s, size_t e) {
    crypto_generichash(j + e - 16, 16, j + s, e - s - 16, NULL, 0);
}

static void fail(const char *what, size_t at, int rc) {
    test_failures++;
    fprintf(stderr, "FAIL %s (at %zu): %s\n", what, at, henn_err_name(rc));
}

/* Resume with the journal at path against f and replay the first nrep
 * messages with new bytes (M2). Returns the journal's open code; a call
 * that succeeds must give the honest response R[i] (never another one);
 * *calls_ok counts them. */
static int try_resume(fake *f, const char *path, size_t nrep, size_t *calls_ok) {
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    size_t i;
    int rc;
    *calls_ok = 0;
    opts(&o, f);
    rc = henn_svc_client_resume(&c, &o, SID, TOK);
    if (rc == 0)
        rc = henn_svc_client_journal(c, path, 1);
    if (rc == 0) {
        henn_svc_client_transport(&t, c);
        for (i = 0; i < nrep; i++) {
            uint8_t *r = NULL;
            size_t rl = 0;
            int k = call(&t, M2[i], MLEN, &r, &rl);
            test_checks++;
            if (k == 0 && !same(r, rl, R[i], MLEN + 1)) {
                fail("a replayed call gave another response than the honest run's", i, k);
                free(r);
                break;
            }
            free(r);
            if (k != 0)
                break;
            (*calls_ok)++;
        }
    } else {
        test_checks++;
        if (c != NULL && henn_svc_client_error(c)[0] == '\0' && rc != HENN_EPROTO) {
            fail("a refusal without a message", 0, rc);
        }
    }
    henn_svc_client_free(c);
    return rc;
}

/* The base journal: four messages answered (H, Q1, R1, ..., Q4, R4). */
static uint8_t *make_base(fake *f, const char *path, size_t *len) {
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    size_t i;
    fake_set(f, 0, NULL, 0);
    opts(&o, f);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-private", "{}"));
    CHECK_OK(henn_svc_client_journal(c, path, 0));
    henn_svc_client_transport(&t, c);
    for (i = 0; i < 4; i++) {
        uint8_t *r = NULL;
        size_t rl = 0;
        CHECK_OK(call(&t, M[i], MLEN, &r, &rl));
        CHECK(same(r, rl, R[i], MLEN + 1));
        free(r);
    }
    henn_svc_client_free(c);
    return slurp(path, len);
}

/* (a) The server lies after the kill. */
static void test_server_lies(fake *f, const char *path, const uint8_t *base, const size_t *st) {
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    uint8_t *r = NULL, lie[MLEN + 1];
    size_t rl = 0, i;

    /* killed with request 4 in flight (the server handled it) */
    spit(path, base, st[8]);
    fake_set(f, 4, M[3], MLEN);
    f->evil = 0x5a; /* every answer from now on differs from the stored one */
    opts(&o, f);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    for (i = 0; i < 3; i++) { /* the journal answers, not the lying server */
        CHECK_OK(call(&t, M2[i], MLEN, &r, &rl));
        CHECK(same(r, rl, R[i], MLEN + 1));
        free(r);
        r = NULL;
    }
    CHECK_EQ_INT(f->posts, 0);
    /* the request in flight: sent once, with the journal's bytes; the
     * server's other answer is taken (the client cannot tell a lie from
     * a first answer: the killed client never saw the stored one) */
    CHECK_OK(call(&t, M2[3], MLEN, &r, &rl));
    CHECK_EQ_INT(f->posts, 1);
    CHECK_EQ_INT(f->seq_posts[4], 1);
    CHECK(f->got_len == MLEN && memcmp(f->got, M[3], MLEN) == 0);
    for (i = 0; i < MLEN + 1; i++)
        lie[i] = R[3][i] ^ 0x5a;
    CHECK(same(r, rl, lie, MLEN + 1));
    free(r);
    r = NULL;
    henn_svc_client_free(c); /* killed again */
    c = NULL;

    /* The second resume: the server would answer 4 otherwise again; the
     * journal answers it with what the first resume got, no request. */
    fake_set(f, 4, M[3], MLEN);
    f->evil = 0x33;
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    for (i = 0; i < 4; i++) {
        CHECK_OK(call(&t, M2[i], MLEN, &r, &rl));
        CHECK(same(r, rl, i < 3 ? R[i] : lie, MLEN + 1));
        free(r);
        r = NULL;
    }
    CHECK_EQ_INT(f->posts, 0);
    CHECK_OK(call(&t, M[4], MLEN, &r, &rl)); /* live: seq 5, once */
    free(r);
    r = NULL;
    CHECK_EQ_INT(f->posts, 1);
    CHECK_EQ_INT(f->seq_posts[5], 1);
    CHECK_EQ_INT(f->last, 5);
    henn_svc_client_free(c);
}

/* (b) The server's seq against the journal. */
static void test_seq_claims(fake *f, const char *path, const uint8_t *base, size_t blen,
                            const size_t *st) {
    static const char *const bad[] = {
        "\"seq\":0,",
        "\"seq\":1,",
        "\"seq\":3,",
        "\"seq\":5,",
        "\"seq\":6,",
        "\"seq\":4611686018427387904,",
        "\"seq\":18446744073709551615,",
        "\"seq\":-1,",
        "\"seq\":4.0,",
        "\"seq\":\"4\",",
        "\"seq\":null,",
        "",
    };
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    uint8_t *now, *r = NULL;
    size_t i, n, nl, rl = 0;
    int rc;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        spit(path, base, blen);
        fake_set(f, 4, M[3], MLEN);
        f->claim = bad[i];
        rc = try_resume(f, path, 4, &n);
        test_checks++;
        if (rc != HENN_EPROTO) {
            test_failures++;
            fprintf(stderr, "FAIL the server's claim {%s} against a journal at 4: %s\n", bad[i],
                    henn_err_name(rc));
        }
        now = slurp(path, &nl);
        CHECK(now != NULL && nl == blen && memcmp(now, base, blen) == 0); /* untouched */
        free(now);
        CHECK_EQ_INT(f->posts, 0);
    }
    /* the control: the honest claim */
    spit(path, base, blen);
    fake_set(f, 4, M[3], MLEN);
    f->claim = "\"seq\":4,";
    CHECK_OK(try_resume(f, path, 4, &n));
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(f->posts, 0);
    /* request 4 in flight: 3 (not handled) and 4 (handled) only */
    {
        static const char *const claims[] = {"\"seq\":2,", "\"seq\":3,", "\"seq\":4,",
                                             "\"seq\":5,"};
        for (i = 0; i < 4; i++) {
            spit(path, base, st[8]);
            fake_set(f, i == 1 ? 3 : 4, i == 1 ? M[2] : M[3], MLEN);
            f->claim = claims[i];
            rc = try_resume(f, path, 4, &n);
            if (i == 1 || i == 2) {
                CHECK_OK(rc);
                CHECK_EQ_INT(n, 4);
                CHECK_EQ_INT(f->seq_posts[4], 1);
            } else {
                CHECK_RC(rc, HENN_EPROTO);
                CHECK_EQ_INT(f->posts, 0);
            }
        }
    }
    /* live, after the replay: a 409 and a seq two ahead */
    spit(path, base, blen);
    fake_set(f, 4, M[3], MLEN);
    opts(&o, f);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    for (i = 0; i < 4; i++) {
        CHECK_OK(call(&t, M2[i], MLEN, &r, &rl));
        free(r);
        r = NULL;
    }
    pthread_mutex_lock(&f->mu);
    f->force409 = 7;
    pthread_mutex_unlock(&f->mu);
    CHECK_RC(call(&t, M[4], MLEN, &r, &rl), HENN_EPROTO);
    CHECK(r == NULL);
    henn_svc_client_free(c);
    c = NULL;
    /* and the journal (request 5 in flight) against that server */
    fake_set(f, 7, NULL, 0);
    CHECK_RC(try_resume(f, path, 5, &n), HENN_EPROTO);
}

/* (c) Damaged journals: refused, or the honest responses. */
static void one_damaged(fake *f, const char *path, const uint8_t *j, size_t len, const char *what,
                        size_t at, int must_refuse) {
    size_t n = 0;
    int rc;
    spit(path, j, len);
    fake_set(f, 4, M[3], MLEN);
    rc = try_resume(f, path, 4, &n);
    test_checks++;
    if (rc == 0 && n != 4) {
        test_failures++;
        fprintf(stderr, "FAIL %s at %zu: accepted but %zu of 4 replayed\n", what, at, n);
    } else if (rc != 0 && rc != HENN_EPROTO && rc != HENN_EFORMAT) {
        fail(what, at, rc);
    } else if (rc == 0 && must_refuse) {
        test_failures++;
        fprintf(stderr, "FAIL %s at %zu: accepted\n", what, at);
    }
    if (rc != 0) { /* a refusal leaves the journal as it was */
        size_t nl = 0;
        uint8_t *now = slurp(path, &nl);
        test_checks++;
        if (now == NULL || nl != len || memcmp(now, j, len) != 0) {
            test_failures++;
            fprintf(stderr, "FAIL %s at %zu: refused, and the journal cut from %zu to %zu bytes\n",
                    what, at, len, nl);
        }
        free(now);
    }
}

static void test_damaged(fake *f, const char *path, const uint8_t *base, size_t blen,
                         const size_t *st, size_t nrec) {
    uint8_t *j = malloc(2 * blen);
    size_t i, k;
    if (j == NULL)
        return;
    for (i = 0; i < blen; i++) /* every truncation */
        one_damaged(f, path, base, i, "truncation", i, i < st[8]);
    for (i = 0; i < blen; i++) { /* every byte flipped */
        memcpy(j, base, blen);
        j[i] ^= (uint8_t)(i % 7 == 3 ? 0x80 : 0x01);
        one_damaged(f, path, j, blen, "byte flipped", i, i < st[8]);
    }
    /* records with a valid checksum but other contents */
    for (k = 0; k < nrec; k++) {
        size_t s = st[k], e = st[k + 1];
        int refuse = k < 8; /* R4 damaged leaves request 4 in flight */
        memcpy(j, base, blen);
        j[s + 11] ^= 1; /* seq */
        reseal(j, s, e);
        one_damaged(f, path, j, blen, "seq changed, resealed", k, refuse);
        memcpy(j, base, blen);
        j[s + 2] = j[s + 2] == 'Q' ? 'R' : 'Q'; /* tag */
        reseal(j, s, e);
        one_damaged(f, path, j, blen, "tag changed, resealed", k, refuse);
        memcpy(j, base, blen);
        j[s + 3] = 1;
        reseal(j, s, e);
        one_damaged(f, path, j, blen, "reserved byte set, resealed", k, refuse);
        if (k == 0)
            continue;
        /* removed */
        memcpy(j, base, s);
        memcpy(j + s, base + e, blen - e);
        one_damaged(f, path, j, blen - (e - s), "record removed", k, refuse);
        /* duplicated */
        memcpy(j, base, e);
        memcpy(j + e, base + s, blen - s);
        one_damaged(f, path, j, blen + (e - s), "record duplicated", k, k < 7);
        if (k + 1 < nrec) { /* swapped with the next */
            size_t e2 = st[k + 2];
            memcpy(j, base, s);
            memcpy(j + s, base + e, e2 - e);
            memcpy(j + s + (e2 - e), base + s, e - s);
            memcpy(j + e2, base + e2, blen - e2);
            one_damaged(f, path, j, blen, "records swapped", k, 1);
        }
    }
    /* the header: another session's, or another start seq, resealed */
    memcpy(j, base, blen);
    memcpy(j + 20, SID2, 32);
    reseal(j, 0, st[1]);
    one_damaged(f, path, j, blen, "another session's header", 0, 1);
    memcpy(j, base, blen);
    j[11] = 1;
    reseal(j, 0, st[1]);
    one_damaged(f, path, j, blen, "header's seq 1", 0, 1);
    free(j);
}

/* Two clients on one journal at once (--resume run twice, or a resume
 * while the killed-looking client still runs): the second is refused
 * before it replays or sends anything, so the server never gets two
 * encryptions under one seq and the journal's records never interleave. */
static void test_two_at_once(fake *f, const char *path, const uint8_t *base, size_t blen) {
    henn_svc_client_opts o;
    henn_svc_client *a = NULL, *b = NULL;
    henn_transport ta;
    uint8_t *r = NULL, *now;
    size_t rl = 0, i, nl = 0;

    spit(path, base, blen);
    fake_set(f, 4, M[3], MLEN);
    opts(&o, f);
    CHECK_OK(henn_svc_client_resume(&a, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(a, path, 1));
    CHECK_OK(henn_svc_client_resume(&b, &o, SID, TOK));
    CHECK_RC(henn_svc_client_journal(b, path, 1), HENN_EIO);
    CHECK(strstr(henn_svc_client_error(b), "in use") != NULL);
    CHECK_RC(henn_svc_client_journal(b, path, 0), HENN_EIO); /* nor truncated */
    now = slurp(path, &nl);
    CHECK(now != NULL && nl == blen && memcmp(now, base, blen) == 0);
    free(now);
    henn_svc_client_transport(&ta, a);
    for (i = 0; i < 5; i++) {
        CHECK_OK(call(&ta, i < 4 ? M2[i] : M[4], MLEN, &r, &rl));
        free(r);
        r = NULL;
    }
    CHECK_EQ_INT(f->posts, 1);
    henn_svc_client_free(b);
    b = NULL;
    henn_svc_client_free(a); /* the lock goes with the client */
    CHECK_OK(henn_svc_client_resume(&b, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(b, path, 1));
    henn_svc_client_free(b);
}

/* (d) The published job's owner record across kill/resume cycles. */
static henn_paillier_pk PK;
static henn_paillier_sk SK;
static uint8_t *SAVED;
static size_t SAVED_LEN;
static int KILL_NEXT;

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

static int save_hook(void *user, const henn_svc_answers *a) {
    (void)user;
    if (KILL_NEXT) { /* the kill between the decryption and the save */
        KILL_NEXT = 0;
        return HENN_EIO;
    }
    free(SAVED);
    SAVED = NULL;
    return henn_svc_answers_serialize(&SAVED, &SAVED_LEN, a);
}

/* A restarted client as henn kdd train --resume builds it (kdd_cmd.c). */
static void restart(henn_svc_answers **a, henn_owner **o, uint64_t budget) {
    uint64_t used;
    henn_svc_answers_free(*a);
    henn_owner_free(*o);
    *a = NULL;
    *o = NULL;
    if (SAVED != NULL)
        CHECK_OK(henn_svc_answers_deserialize(a, SAVED, SAVED_LEN));
    else
        CHECK_OK(henn_svc_answers_new(a, 0));
    CHECK_OK(henn_owner_new(o, &SK, NULL));
    if (*a == NULL || *o == NULL)
        return;
    used = henn_svc_answers_decrypted(*a);
    henn_owner_resume_decrypt_budget(*o, budget, used);
    henn_svc_answers_set_budget(*a, budget);
    henn_svc_answers_set_hook(*a, save_hook, NULL);
}

static uint64_t SENT; /* ciphertexts whose decryptions left the owner */

static int handle(henn_svc_answers *a, henn_owner *o, uint64_t seq, const uint8_t *q, size_t ql,
                  size_t k) {
    uint8_t *r = NULL;
    size_t rl = 0;
    uint64_t rep0, rep1, ref;
    int rc;
    if (a == NULL || o == NULL)
        return HENN_EINVAL;
    henn_svc_answers_counts(a, &rep0, &ref);
    rc = henn_svc_answers_handle(a, o, seq, q, ql, &r, &rl);
    henn_svc_answers_counts(a, &rep1, &ref);
    if (rc == 0 && rep1 == rep0 && henn_msg_type(r, rl) == HENN_MSG_PLAIN)
        SENT += k;
    free(r);
    return rc;
}

static uint64_t decs(const henn_owner *o) {
    henn_proto_stats s;
    if (o == NULL)
        return 0;
    henn_owner_stats(&s, o);
    return s.decryptions;
}

static void test_published_budget(void) {
    const uint64_t B = 12; /* the honest count: 6 requests of 2 */
    henn_svc_answers *a = NULL;
    henn_owner *o = NULL;
    uint8_t *q[7] = {0}, *ev[7] = {0}, *big = NULL, *r = NULL;
    size_t ql[7] = {0}, evl[7] = {0}, bigl = 0, rl = 0, i;

    for (i = 1; i <= 6; i++) {
        q[i] = decrypt_req(&ql[i], 2, 10 * i);
        ev[i] = decrypt_req(&evl[i], 2, 1000 + i); /* the server's choice */
    }
    big = decrypt_req(&bigl, 10, 5000);
    SENT = 0;
    restart(&a, &o, B); /* cycle 0 */
    CHECK_OK(handle(a, o, 1, q[1], ql[1], 2));
    CHECK_OK(handle(a, o, 2, q[2], ql[2], 2));
    restart(&a, &o, B); /* cycle 1: answered seqs with other bytes */
    CHECK_RC(handle(a, o, 2, ev[2], evl[2], 2), HENN_EPROTO);
    CHECK_RC(handle(a, o, 1, ev[1], evl[1], 2), HENN_EPROTO);
    CHECK_OK(handle(a, o, 1, q[1], ql[1], 2)); /* the honest repeat */
    CHECK_EQ_INT(decs(o), 0);
    CHECK_OK(handle(a, o, 3, q[3], ql[3], 2));
    KILL_NEXT = 1; /* killed after decrypting 4, before saving or sending */
    CHECK_RC(handle(a, o, 4, q[4], ql[4], 2), HENN_EIO);
    restart(&a, &o, B); /* cycle 2: seq 4 was never answered: new bytes */
    CHECK_EQ_INT(henn_svc_answers_decrypted(a), 6);
    CHECK_OK(handle(a, o, 4, ev[4], evl[4], 2));
    /* one request beyond the rest of the budget: the owner's refusal */
    CHECK_OK(handle(a, o, 5, big, bigl, 10));
    CHECK_OK(handle(a, o, 6, q[5], ql[5], 2));
    CHECK_OK(handle(a, o, 7, q[6], ql[6], 2));
    CHECK_EQ_INT(henn_svc_answers_decrypted(a), B);
    CHECK_RC(handle(a, o, 8, q[1], ql[1], 2), HENN_EPROTO); /* spent */
    restart(&a, &o, B); /* cycle 3: the spent budget survives the restart */
    CHECK_EQ_INT(henn_svc_answers_decrypted(a), B);
    CHECK_RC(handle(a, o, 8, ev[1], evl[1], 2), HENN_EPROTO);
    CHECK_RC(handle(a, o, 1000, ev[2], evl[2], 2), HENN_EPROTO);
    CHECK_RC(handle(a, o, 6, ev[3], evl[3], 2), HENN_EPROTO);
    CHECK_OK(handle(a, o, 7, q[6], ql[6], 2)); /* the honest repeat */
    CHECK_EQ_INT(decs(o), 0);
    CHECK_EQ_INT(SENT, B);
    /* The restored owner refuses by itself, whatever the record does (a
     * spent budget was once given back whole to the owner, the record's
     * refusal the only one): an ERROR message, nothing decrypted. */
    if (o != NULL) {
        CHECK_EQ_INT(henn_owner_decrypt_left(o), 0);
        CHECK_OK(henn_owner_handle(o, ev[5], evl[5], &r, &rl));
        CHECK_EQ_INT(henn_msg_type(r, rl), HENN_MSG_ERROR);
        CHECK_EQ_INT(decs(o), 0);
        free(r);
        r = NULL;
        rl = 0;
    }
    /* The rest of a budget: 10 of 12 used leaves 2, then it is spent;
     * more used than the budget (a smaller --decrypt-budget on resume)
     * is spent too. */
    henn_owner_free(o);
    o = NULL;
    CHECK_OK(henn_owner_new(&o, &SK, NULL));
    if (o != NULL) {
        henn_owner_resume_decrypt_budget(o, B, 10);
        CHECK_EQ_INT(henn_owner_decrypt_left(o), 2);
        CHECK_OK(henn_owner_handle(o, big, bigl, &r, &rl)); /* 10 over the rest */
        CHECK_EQ_INT(henn_msg_type(r, rl), HENN_MSG_ERROR);
        free(r);
        CHECK_OK(henn_owner_handle(o, ev[6], evl[6], &r, &rl));
        CHECK_EQ_INT(henn_msg_type(r, rl), HENN_MSG_PLAIN);
        free(r);
        CHECK_EQ_INT(henn_owner_decrypt_left(o), 0);
        CHECK_OK(henn_owner_handle(o, ev[5], evl[5], &r, &rl));
        CHECK_EQ_INT(henn_msg_type(r, rl), HENN_MSG_ERROR);
        free(r);
        CHECK_EQ_INT(decs(o), 2);
        henn_owner_resume_decrypt_budget(o, 4, 7);
        CHECK_EQ_INT(henn_owner_decrypt_left(o), 0);
        henn_owner_resume_decrypt_budget(o, 0, 7); /* no budget */
        CHECK(henn_owner_decrypt_left(o) == UINT64_MAX);
        r = NULL;
        rl = 0;
    }
    /* a record older than the window: refused, nothing decrypted */
    if (a != NULL && o != NULL) {
        CHECK_RC(henn_svc_answers_handle(a, o, 0, q[1], ql[1], &r, &rl), HENN_EINVAL);
        CHECK(r == NULL);
    }
    for (i = 1; i <= 6; i++) {
        free(q[i]);
        free(ev[i]);
    }
    free(big);
    free(SAVED);
    SAVED = NULL;
    henn_svc_answers_free(a);
    henn_owner_free(o);
}

/* (e) The journal file. */
static void test_file(fake *f, const char *dir, const uint8_t *base, size_t blen) {
    char p[256], target[256];
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    struct stat sb;
    mode_t old;
    uint8_t *b;
    size_t bl;
    int fd;

    /* no token in the journal; the session id is (documented) */
    CHECK(!contains(base, blen, TOK));
    CHECK(contains(base, blen, SID));
    fake_set(f, 0, NULL, 0);
    opts(&o, f);
    /* 0600 whatever the umask and the old file's mode */
    snprintf(p, sizeof(p), "%s/old.journal", dir);
    old = umask(0);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    if (fd >= 0)
        close(fd);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-private", "{}"));
    CHECK_OK(henn_svc_client_journal(c, p, 0));
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    henn_svc_client_free(c);
    c = NULL;
    CHECK(chmod(p, 0644) == 0);
    fake_set(f, 0, NULL, 0);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, p, 1));
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    henn_svc_client_free(c);
    c = NULL;
    umask(old);
    unlink(p);
    /* a symbolic link at the journal's path: refused, its target intact */
    snprintf(target, sizeof(target), "%s/precious", dir);
    snprintf(p, sizeof(p), "%s/link.journal", dir);
    fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "precious", 8) == 8);
    if (fd >= 0)
        close(fd);
    CHECK(symlink(target, p) == 0);
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-private", "{}"));
    CHECK_RC(henn_svc_client_journal(c, p, 0), HENN_EIO);
    CHECK_RC(henn_svc_client_journal(c, p, 1), HENN_EIO);
    henn_svc_client_free(c);
    b = slurp(target, &bl);
    CHECK(b != NULL && bl == 8 && memcmp(b, "precious", 8) == 0);
    CHECK(stat(target, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    free(b);
    unlink(p);
    unlink(target);
}

int main(void) {
    fake f;
    char dir[] = "/tmp/henn-resume-review-XXXXXX", path[256];
    uint8_t *base;
    size_t blen = 0, st[16], nrec = 0, i;

    signal(SIGPIPE, SIG_IGN);
    CHECK_OK(henn_init());
    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return test_report("test_service_resume_review");
    }
    snprintf(path, sizeof(path), "%s/F.journal", dir);
    for (i = 0; i < NMSG; i++) {
        msg(M[i], i, 0x10);
        msg(M2[i], i, 0x80); /* the resumed owner's new encryptions */
        derive(R[i], M[i], MLEN);
    }
    fake_start(&f);
    base = make_base(&f, path, &blen);
    if (base != NULL)
        nrec = records(base, blen, st, 16);
    CHECK_EQ_INT(nrec, 9);
    if (nrec == 9 && st[9] == blen) {
        test_server_lies(&f, path, base, st);
        test_seq_claims(&f, path, base, blen, st);
        test_damaged(&f, path, base, blen, st, nrec);
        test_file(&f, dir, base, blen);
        test_two_at_once(&f, path, base, blen);
    }
    fake_stop(&f);
    free(base);
    unlink(path);
    rmdir(dir);

    henn_paillier_pk_init(&PK);
    henn_paillier_sk_init(&SK);
    CHECK_OK(henn_paillier_keygen(&PK, &SK, 1024, HENN_PAILLIER_INSECURE));
    test_published_budget();
    henn_paillier_sk_clear(&SK);
    henn_paillier_pk_clear(&PK);
    return test_report("test_service_resume_review");
}
