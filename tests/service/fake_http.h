/*
 * A tiny fake HTTP server for the service client's tests: it listens on
 * 127.0.0.1 (port 0, read back into port), and a thread accepts one
 * connection at a time, reads one request (the headers, then the body by
 * Content-Length: at most 16 KiB, 2 s per read), hands it to the test's
 * handler and closes the connection. The handler writes the answer on fd
 * (fake_http_answer, or any bytes a lying server would send) and keeps
 * whatever state the test wants (its own lock if the test reads it while
 * the server runs). One request per connection, "Connection: close".
 *
 * fake_http_start: bind, listen and start the thread; 0, or -1 (nothing
 *  started). fake_http_stop: stop the thread (within 50 ms: it polls)
 *  and close the socket. requests counts the requests handled (atomic).
 * fake_http_url: the server's URL for the client; fake_http_body: where
 *  a request's body starts.
 * Used by test_service_client, test_service_authority_client,
 * test_service_journal, test_service_resume_review and
 * test_service_attacks. Test code only:
 * it trusts the client it serves.
 */
#ifndef HENN_TEST_FAKE_HTTP_H
#define HENN_TEST_FAKE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The request as read: req[n] is '\0' (the body may hold NULs: use n). */
typedef void (*fake_http_handler)(void *user, int fd, const char *req, size_t n);

typedef struct fake_http {
    int lfd, stop;
    uint16_t port;
    unsigned requests;
    fake_http_handler handler;
    void *user;
    pthread_t th;
} fake_http;

/* Write all of buf to fd (a client that left ends it quietly). */
__attribute__((unused)) static void fake_http_send_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        len -= (size_t)k;
    }
}

/*
 * Send a status line, headers and body: extra (whole header lines, "" for
 * none), Content-Type type (NULL: none; dup: a second, text/html one) and
 * Content-Length: declared < 0 the real length, 0 none (the body ends at
 * the close), > 0 that value whatever is sent.
 */
__attribute__((unused)) static void fake_http_answer(int fd, const char *status, const char *type,
                                                     int dup, const char *extra, const void *body,
                                                     size_t len, long long declared) {
    char h[512];
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %s\r\nConnection: close\r\n%s", status, extra);
    if (type != NULL)
        n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Type: %s\r\n", type);
    if (dup)
        n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Type: text/html\r\n");
    if (declared < 0)
        n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %zu\r\n", len);
    else if (declared > 0)
        n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %lld\r\n", declared);
    n += snprintf(h + n, sizeof(h) - (size_t)n, "\r\n");
    fake_http_send_all(fd, h, (size_t)n);
    fake_http_send_all(fd, body, len);
}

/* The request's body (after the blank line; NULL and 0 when there is
 * none) and its length in *len; n the request's length. */
__attribute__((unused)) static const uint8_t *fake_http_body(const char *req, size_t n,
                                                             size_t *len) {
    const char *e = strstr(req, "\r\n\r\n");
    *len = e != NULL ? n - (size_t)(e + 4 - req) : 0;
    return e != NULL ? (const uint8_t *)e + 4 : NULL;
}

/* "http://127.0.0.1:PORT" of the running server into url[cap]. */
__attribute__((unused)) static void fake_http_url(char *url, size_t cap, const fake_http *s) {
    snprintf(url, cap, "http://127.0.0.1:%u", (unsigned)s->port);
}

__attribute__((unused)) static void *fake_http_main(void *arg) {
    fake_http *s = arg;
    for (;;) {
        struct pollfd pf = {s->lfd, POLLIN, 0};
        char req[16384];
        size_t n = 0;
        int fd;
        if (__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST))
            break;
        if (poll(&pf, 1, 50) <= 0)
            continue;
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        {
            struct timeval tv = {2, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        }
        /* The headers, then the body by Content-Length. */
        while (n + 1 < sizeof(req)) {
            ssize_t k = recv(fd, req + n, sizeof(req) - 1 - n, 0);
            char *e;
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = '\0';
            if ((e = strstr(req, "\r\n\r\n")) != NULL) {
                const char *cl = strstr(req, "Content-Length: ");
                size_t want = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
                if (n >= (size_t)(e + 4 - req) + want)
                    break;
            }
        }
        req[n] = '\0';
        __atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
        s->handler(s->user, fd, req, n);
        close(fd);
    }
    return NULL;
}

__attribute__((unused)) static int fake_http_start(fake_http *s, fake_http_handler handler,
                                                   void *user) {
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int one = 1;
    memset(s, 0, sizeof(*s));
    s->handler = handler;
    s->user = user;
    if ((s->lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 16) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0 ||
        pthread_create(&s->th, NULL, fake_http_main, s) != 0) {
        close(s->lfd);
        s->lfd = -1;
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return 0;
}

__attribute__((unused)) static void fake_http_stop(fake_http *s) {
    if (s->lfd < 0)
        return;
    __atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(s->th, NULL);
    close(s->lfd);
    s->lfd = -1;
}

#endif
