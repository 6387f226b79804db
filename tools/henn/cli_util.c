#define _POSIX_C_SOURCE 200809L
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "henn/henn.h"

#define MAX_FILE (64u << 20)

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_read_file(char **buf, size_t *len, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *b;
    *buf = NULL;
    *len = 0;
    if (f == NULL)
        return HENN_EIO;
    b = malloc(cap);
    if (b == NULL)
        goto nomem;
    for (;;) {
        size_t got;
        if (n + 1 >= cap) {
            char *nb;
            if (cap >= MAX_FILE) {
                henn_free(b, cap);
                if (f != stdin)
                    fclose(f);
                return HENN_EFORMAT;
            }
            nb = malloc(cap * 2);
            if (nb == NULL)
                goto nomem;
            memcpy(nb, b, n);
            henn_free(b, cap);
            b = nb;
            cap *= 2;
        }
        got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        henn_free(b, cap);
        if (f != stdin)
            fclose(f);
        return HENN_EIO;
    }
    if (f != stdin)
        fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
nomem:
    henn_free(b, b != NULL ? cap : 0);
    if (f != stdin)
        fclose(f);
    return HENN_ENOMEM;
}

int cli_write_file(const char *path, const void *buf, size_t len, unsigned mode)
{
    const char *p = buf;
    int fd, close_it = 1;
    if (strcmp(path, "-") == 0) {
        fd = STDOUT_FILENO;
        close_it = 0;
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
        if (fd < 0)
            return HENN_EIO;
        if (fchmod(fd, (mode_t)mode) != 0) {
            close(fd);
            return HENN_EIO;
        }
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (close_it)
                close(fd);
            return HENN_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close_it && close(fd) != 0)
        return HENN_EIO;
    return 0;
}

void cli_error(const char *what, int rc)
{
    fprintf(stderr, "henn: %s: %s (%s)\n", what, henn_strerror(rc), henn_err_name(rc));
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->label = label;
    p->start = cli_now();
    p->last = 0;
    p->tty = isatty(STDERR_FILENO);
}

void cli_progress_cb(void *user, size_t done, size_t total)
{
    cli_progress *p = user;
    double t = cli_now(), el = t - p->start, rate, eta;
    if (!p->tty)
        return;
    if (done != total && t - p->last < 0.2)
        return;
    p->last = t;
    rate = el > 0 ? (double)done / el : 0;
    eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%s %zu/%zu  %.0f/s  ETA %.0fs   ", p->label, done, total, rate, eta);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

int cli_parse_size(size_t *out, const char *s, size_t lo, size_t hi)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}
