/* The service client's journal (henn_svc_client_journal, issue 12:
 * "client killed and restarted"), against a fake server on 127.0.0.1
 * (port 0) that keeps a session's seq as henn serve does: seq = last + 1
 * is handled (the response is derived from the request's bytes and
 * stored), seq = last gets the stored response, anything else 409;
 * GET /v1/sessions/{id} gives the seq.
 *  - a client that journaled three messages is freed (the kill); a new
 *    one resumed with the journal answers the same three calls (with
 *    other bytes of the same length and header: new encryptions) from the
 *    journal without a request to the server, then sends the fourth;
 *  - the request in flight at the kill (the journal cut after its
 *    request) is sent again with its JOURNALED bytes, not the caller's,
 *    and the server's stored response comes back;
 *  - a torn last record is dropped;
 *  - refusals: a replayed request of another length or header
 *    (HENN_EPROTO, "differs"), a journal of another session, a file that
 *    is not a journal, a server behind or ahead of the journal ("cannot be
 *    resumed"), a second journal on one client, NULL arguments.
 */
#include "../test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_http.h"
#include "henn/henn.h"
#include "henn/service.h"

static const char SID[] = "0123456789abcdef0123456789abcdef";
static const char TOK[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

typedef struct fake {
    fake_http srv;
    pthread_mutex_t mu;
    uint64_t last;       /* the session's seq */
    uint8_t stored[256]; /* the last response */
    size_t stored_len;
    uint8_t got[256]; /* the last handled or repeated request's bytes */
    size_t got_len;
    unsigned posts;
} fake;

/* The response to a request: its bytes reversed, then 0xee. */
static size_t derive(uint8_t *out, const uint8_t *req, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = req[n - 1 - i];
    out[n] = 0xee;
    return n + 1;
}

static void fake_answer(void *user, int fd, const char *req, size_t n) {
    fake *f = user;
    size_t blen;
    const uint8_t *body = fake_http_body(req, n, &blen);
    char text[256];
    const char *m;
    pthread_mutex_lock(&f->mu);
    if (strncmp(req, "POST /v1/sessions ", 18) == 0) {
        size_t k = (size_t)snprintf(text, sizeof(text),
                                    "{\"session\":\"%s\",\"token\":\"%s\",\"seq\":0}", SID, TOK);
        fake_http_answer(fd, "201 Created", "application/json", 0, "", text, k, -1);
    } else if (strncmp(req, "POST ", 5) == 0 && (m = strstr(req, "/messages/")) != NULL) {
        uint64_t seq = strtoull(m + 10, NULL, 10);
        f->posts++;
        if (seq == f->last + 1 && blen + 1 <= sizeof(f->stored)) {
            f->last = seq;
            f->stored_len = derive(f->stored, body, blen);
            memcpy(f->got, body, blen);
            f->got_len = blen;
            fake_http_answer(fd, "200 OK", "application/octet-stream", 0, "", f->stored,
                             f->stored_len, -1);
        } else if (seq == f->last && seq > 0 && blen <= sizeof(f->got)) {
            memcpy(f->got, body, blen); /* what the repeat carried */
            f->got_len = blen;
            fake_http_answer(fd, "200 OK", "application/octet-stream", 0, "", f->stored,
                             f->stored_len, -1);
        } else {
            const char *e = "{\"error\":{\"code\":\"sequence\",\"message\":\"out of order\"}}";
            fake_http_answer(fd, "409 Conflict", "application/json", 0, "", e, strlen(e), -1);
        }
    } else if (strncmp(req, "GET /v1/sessions/", 17) == 0) {
        size_t k = (size_t)snprintf(text, sizeof(text),
                                    "{\"protocol\":\"kdd-private\",\"seq\":%llu,\"bytes\":0,"
                                    "\"created\":0}",
                                    (unsigned long long)f->last);
        fake_http_answer(fd, "200 OK", "application/json", 0, "", text, k, -1);
    } else {
        fake_http_answer(fd, "404 Not Found", "application/json", 0, "", "{}", 2, -1);
    }
    pthread_mutex_unlock(&f->mu);
}

static void opts(henn_svc_client_opts *o, char *url, size_t cap, const fake *f) {
    memset(o, 0, sizeof(*o));
    fake_http_url(url, cap, &f->srv);
    o->url = url;
    o->retry_s = 1.0;
}

/* A message: an 8-byte header naming its kind, then len - 8 bytes of v. */
static void msg(uint8_t *m, size_t len, uint8_t kind, uint8_t v) {
    memcpy(m, "HN\x01P\x00\x00\x00", 7);
    m[7] = kind;
    memset(m + 8, v, len - 8);
}

static int call(henn_transport *t, const uint8_t *req, size_t len, uint8_t *want, size_t want_len) {
    uint8_t *r = NULL;
    size_t rl = 0;
    int rc = henn_transport_call(t, req, len, &r, &rl);
    if (rc == 0 && want != NULL)
        CHECK(rl == want_len && memcmp(r, want, rl) == 0);
    free(r);
    return rc;
}

/* The journal's records: offsets of the record ends (0: the header's). */
static size_t records(const char *path, long *ends, size_t cap) {
    FILE *fp = fopen(path, "rb");
    uint8_t h[20];
    size_t n = 0;
    long pos = 0;
    if (fp == NULL)
        return 0;
    while (n < cap && fread(h, 1, 20, fp) == 20) {
        uint64_t len = 0;
        for (int i = 12; i < 20; i++)
            len = len << 8 | h[i];
        pos += 20 + (long)len + 16;
        if (fseek(fp, pos, SEEK_SET) != 0)
            break;
        ends[n++] = pos;
    }
    fclose(fp);
    return n;
}

static void test_journal(void) {
    fake f;
    henn_svc_client_opts o;
    henn_svc_client *c = NULL;
    henn_transport t;
    char url[64], path[] = "/tmp/henn-journal-XXXXXX";
    uint8_t m[4][40], m2[4][40], r[4][41], other[40];
    size_t i;
    long ends[16];
    unsigned posts;
    int fd = mkstemp(path);
    struct stat st;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&f.mu, NULL);
    CHECK(fake_http_start(&f.srv, fake_answer, &f) == 0);
    opts(&o, url, sizeof(url), &f);
    for (i = 0; i < 4; i++) {
        msg(m[i], sizeof(m[i]), (uint8_t)(6 + (i & 1)), (uint8_t)(0x10 + i));
        msg(m2[i], sizeof(m2[i]), (uint8_t)(6 + (i & 1)), (uint8_t)(0x80 + i)); /* re-encrypted */
        derive(r[i], m[i], sizeof(m[i]));
    }

    /* The first client: three messages journaled, then "killed". */
    CHECK_OK(henn_svc_client_create(&c, &o, "kdd-private", "{}"));
    CHECK_RC(henn_svc_client_journal(c, NULL, 0), HENN_EINVAL);
    CHECK_OK(henn_svc_client_journal(c, path, 0));
    CHECK_RC(henn_svc_client_journal(c, path, 0), HENN_EINVAL); /* one per client */
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    henn_svc_client_transport(&t, c);
    for (i = 0; i < 3; i++)
        CHECK_OK(call(&t, m[i], sizeof(m[i]), r[i], sizeof(r[i])));
    henn_svc_client_free(c);
    c = NULL;
    CHECK_EQ_INT(records(path, ends, 16), 7);

    /* Resumed: the journal answers, then the fourth goes to the server. */
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    posts = f.posts;
    for (i = 0; i < 3; i++)
        CHECK_OK(call(&t, m2[i], sizeof(m2[i]), r[i], sizeof(r[i])));
    CHECK_EQ_INT(f.posts, posts); /* nothing sent */
    CHECK_OK(call(&t, m[3], sizeof(m[3]), r[3], sizeof(r[3])));
    CHECK_EQ_INT(f.posts, posts + 1);
    CHECK_EQ_INT(f.last, 4);
    henn_svc_client_free(c);
    c = NULL;
    CHECK_EQ_INT(records(path, ends, 16), 9);

    /* A replayed request of another length, or another header. */
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    CHECK_RC(call(&t, m2[0], sizeof(m2[0]) - 1, NULL, 0), HENN_EPROTO);
    CHECK(strstr(henn_svc_client_error(c), "differs") != NULL);
    msg(other, sizeof(other), 9, 0x10);
    CHECK_RC(call(&t, other, sizeof(other), NULL, 0), HENN_EPROTO);
    henn_svc_client_free(c);
    c = NULL;

    /* The kill between the server's answer to 4 and the journal's write:
     * the journal ends with request 4 and half a record. */
    CHECK(truncate(path, ends[7]) == 0);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "HJQ\0\0\0\0\0\0\0\0\x05\0\0\0\0\0\0\0\x40", 20) == 20);
    if (fd >= 0)
        close(fd);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_OK(henn_svc_client_journal(c, path, 1));
    henn_svc_client_transport(&t, c);
    posts = f.posts;
    for (i = 0; i < 3; i++)
        CHECK_OK(call(&t, m2[i], sizeof(m2[i]), r[i], sizeof(r[i])));
    CHECK_EQ_INT(f.posts, posts);
    /* the caller's new bytes m2[3]; the journal's m[3] are sent */
    CHECK_OK(call(&t, m2[3], sizeof(m2[3]), r[3], sizeof(r[3])));
    CHECK_EQ_INT(f.posts, posts + 1);
    CHECK(f.got_len == sizeof(m[3]) && memcmp(f.got, m[3], sizeof(m[3])) == 0);
    CHECK_EQ_INT(f.last, 4);
    henn_svc_client_free(c);
    c = NULL;
    CHECK_EQ_INT(records(path, ends, 16), 9); /* the torn tail dropped */

    /* A journal behind the server (the journal lost messages 3 and 4),
     * and one ahead of it (the server at 1 lost message 2 the journal
     * holds). */
    CHECK(truncate(path, ends[4]) == 0); /* header, 1, 2 */
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_RC(henn_svc_client_journal(c, path, 1), HENN_EPROTO);
    CHECK(strstr(henn_svc_client_error(c), "cannot be resumed") != NULL);
    henn_svc_client_free(c);
    c = NULL;
    pthread_mutex_lock(&f.mu);
    f.last = 1;
    pthread_mutex_unlock(&f.mu);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_RC(henn_svc_client_journal(c, path, 1), HENN_EPROTO);
    henn_svc_client_free(c);
    c = NULL;

    /* Another session's journal; not a journal. */
    pthread_mutex_lock(&f.mu);
    f.last = 2;
    pthread_mutex_unlock(&f.mu);
    CHECK_OK(henn_svc_client_resume(&c, &o, "fedcba9876543210fedcba9876543210", TOK));
    CHECK_RC(henn_svc_client_journal(c, path, 1), HENN_EPROTO);
    CHECK(strstr(henn_svc_client_error(c), "another session") != NULL);
    henn_svc_client_free(c);
    c = NULL;
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, "not a journal at all, not even close", 36) == 36);
    if (fd >= 0)
        close(fd);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_RC(henn_svc_client_journal(c, path, 1), HENN_EFORMAT);
    CHECK(strstr(henn_svc_client_error(c), "not a henn journal") != NULL);
    henn_svc_client_free(c);
    c = NULL;
    unlink(path);
    CHECK_OK(henn_svc_client_resume(&c, &o, SID, TOK));
    CHECK_RC(henn_svc_client_journal(c, path, 1), HENN_EIO); /* gone */
    henn_svc_client_free(c);
    fake_http_stop(&f.srv);
    pthread_mutex_destroy(&f.mu);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    CHECK_OK(henn_init());
    test_journal();
    return test_report("test_service_journal");
}
