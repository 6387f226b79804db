#define _POSIX_C_SOURCE 200809L
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* read() that retries on EINTR. */
static ssize_t read_some(int fd, char *b, size_t n)
{
    ssize_t got;
    do
        got = read(fd, b, n);
    while (got < 0 && errno == EINTR);
    return got;
}

int cli_read_file(char **buf, size_t *len, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    size_t cap = 4096, n = 0;
    char *b = NULL;
    int rc = 0;
    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return HENN_EIO;
    b = malloc(cap);
    if (b == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (;;) {
        ssize_t got;
        if (n + 1 >= cap) { /* grow: copy, then wipe and free the old block */
            char *nb;
            if (cap >= MAX_FILE) {
                rc = HENN_EFORMAT;
                goto done;
            }
            nb = malloc(cap * 2);
            if (nb == NULL) {
                rc = HENN_ENOMEM;
                goto done;
            }
            memcpy(nb, b, n);
            henn_free(b, cap);
            b = nb;
            cap *= 2;
        }
        got = read_some(fd, b + n, cap - n - 1);
        if (got < 0) {
            rc = HENN_EIO;
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
done:
    henn_free(b, b != NULL ? cap : 0);
    if (!is_stdin)
        close(fd);
    return rc;
}

/* Write all of buf to fd (EINTR retried). */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return HENN_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int cli_write_file(const char *path, const void *buf, size_t len, unsigned mode)
{
    struct stat st;
    int fd, rc;
    if (strcmp(path, "-") == 0)
        return write_all(STDOUT_FILENO, buf, len);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return HENN_EIO;
    /* an existing regular file gets the mode before anything is written to
     * it; devices (/dev/stdout, a terminal) keep theirs */
    if (fstat(fd, &st) != 0 || (S_ISREG(st.st_mode) && fchmod(fd, (mode_t)mode) != 0)) {
        close(fd);
        return HENN_EIO;
    }
    rc = write_all(fd, buf, len);
    if (close(fd) != 0 && rc == 0)
        rc = HENN_EIO;
    return rc;
}

int cli_write_new_file(const char *path, const void *buf, size_t len, unsigned mode, int force)
{
    char *tmp = NULL;
    size_t plen;
    int fd, rc;
    if (strcmp(path, "-") == 0)
        return write_all(STDOUT_FILENO, buf, len);
    if (!force) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
        if (fd < 0)
            return errno == EEXIST ? CLI_EXISTS : HENN_EIO;
        /* exactly mode, whatever the umask */
        rc = fchmod(fd, (mode_t)mode) != 0 ? HENN_EIO : write_all(fd, buf, len);
        if (close(fd) != 0 && rc == 0)
            rc = HENN_EIO;
        if (rc != 0)
            unlink(path);
        return rc;
    }
    /* --force: a new file next to path (mkstemp: O_EXCL, mode 0600), then
     * rename() over path, which replaces a link instead of following it */
    plen = strlen(path);
    tmp = malloc(plen + 8);
    if (tmp == NULL)
        return HENN_ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return HENN_EIO;
    }
    rc = fchmod(fd, (mode_t)mode) != 0 ? HENN_EIO : write_all(fd, buf, len);
    if (close(fd) != 0 && rc == 0)
        rc = HENN_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = HENN_EIO;
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
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

/* ------------------------------------------- numbers as Python's float -- */

static int is_py_space(char c)
{
    /* str.isspace() for ASCII: space, \t \n \v \f \r and \x1c..\x1f */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Copy a run of digits with single underscores between digits to *o;
 * returns the number of digits (0: none, -1: a misplaced underscore). */
static long digit_run(const char **p, char **o)
{
    const char *s = *p;
    long n = 0;
    while (is_digit(*s)) {
        *(*o)++ = *s++;
        n++;
        if (*s == '_') {
            if (!is_digit(s[1]))
                return -1;
            s++;
        }
    }
    *p = s;
    return n;
}

int cli_parse_float(double *x, const char *s)
{
    size_t len;
    const char *p, *end;
    char *clean, *o;
    long a, b = 0;
    int rc = CLI_NOT_A_NUMBER;
    if (s == NULL)
        return rc;
    while (is_py_space(*s))
        s++;
    len = strlen(s);
    while (len > 0 && is_py_space(s[len - 1]))
        len--;
    end = s + len;
    clean = malloc(len + 1);
    if (clean == NULL)
        return rc;
    o = clean;
    p = s;
    if (*p == '+' || *p == '-')
        *o++ = *p++;
    {
        /* inf, infinity, nan (any case): numbers to Python, refused here */
        static const char *const special[] = {"inf", "infinity", "nan"};
        for (size_t i = 0; i < 3; i++)
            if ((size_t)(end - p) == strlen(special[i]) &&
                strncasecmp(p, special[i], strlen(special[i])) == 0) {
                free(clean);
                return CLI_NOT_FINITE;
            }
    }
    /* digits [. [digits]] | . digits, then [e [sign] digits]; no hex */
    a = digit_run(&p, &o);
    if (a < 0)
        goto done;
    if (*p == '.') {
        *o++ = *p++;
        b = digit_run(&p, &o);
        if (b < 0)
            goto done;
    }
    if (a + b == 0)
        goto done;
    if (*p == 'e' || *p == 'E') {
        *o++ = *p++;
        if (*p == '+' || *p == '-')
            *o++ = *p++;
        if (digit_run(&p, &o) <= 0)
            goto done;
    }
    if (p != end)
        goto done;
    *o = '\0';
    /* glibc's strtod rounds correctly; ERANGE on underflow is fine (Python
     * gives the subnormal or 0.0), overflow gives inf: refused below */
    errno = 0;
    *x = strtod(clean, NULL);
    rc = isfinite(*x) ? 0 : CLI_NOT_FINITE;
done:
    henn_memzero(clean, len + 1);
    free(clean);
    return rc;
}

/* Decimal digits of x > 0 (finite): *digits without trailing zeros, and
 * the exponent of the first digit (x ~ d.ddd * 10^exp10). The shortest
 * string that reads back as x; of two such, the one nearer x (David Gay's
 * shortest mode, which Python's repr uses). */
static void shortest_digits(char digits[32], int *exp10, double x)
{
    char buf[64];
    for (int prec = 0; prec <= 16; prec++) {
        unsigned long long d;
        int e, nd;
        char *dot;
        snprintf(buf, sizeof(buf), "%.*e", prec, x); /* nearest prec+1 digits */
        /* digits as an integer d, value d * 10^(e - prec) */
        e = atoi(strchr(buf, 'e') + 1);
        dot = strchr(buf, '.');
        if (dot != NULL)
            memmove(dot, dot + 1, strlen(dot));
        *strchr(buf, 'e') = '\0';
        d = strtoull(buf, NULL, 10);
        /* the nearest candidate, then its neighbours (at a power of two the
         * gap below x is half the gap above, so the nearest may miss while
         * the next one up reads back) */
        for (int k = 0; k < 3; k++) {
            unsigned long long c = k == 0 ? d : k == 1 ? d + 1 : d - 1;
            char cand[64];
            if (c == 0)
                continue;
            snprintf(cand, sizeof(cand), "%llue%d", c, e - prec);
            if (strtod(cand, NULL) == x) {
                snprintf(buf, sizeof(buf), "%llu", c);
                nd = (int)strlen(buf);
                *exp10 = e - prec + nd - 1;
                while (nd > 1 && buf[nd - 1] == '0')
                    buf[--nd] = '\0';
                memcpy(digits, buf, (size_t)nd + 1);
                return;
            }
        }
    }
    /* not reached: 17 significant digits always read back */
    snprintf(digits, 32, "%d", 0);
    *exp10 = 0;
}

void cli_format_float(char out[CLI_FLOAT_CHARS], double x)
{
    char digits[32], *o = out;
    int e10 = 0, nd;
    if (signbit(x))
        *o++ = '-';
    x = fabs(x);
    if (x == 0) {
        strcpy(o, "0.0");
        return;
    }
    shortest_digits(digits, &e10, x);
    nd = (int)strlen(digits);
    if (e10 < -4 || e10 >= 16) { /* d[.ddd]e+XX, at least two exponent digits */
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        snprintf(o, 16, "e%c%02d", e10 < 0 ? '-' : '+', e10 < 0 ? -e10 : e10);
    } else if (e10 < 0) { /* 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e10 - 1; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)nd + 1);
    } else { /* ddd.ddd, ".0" when integral */
        for (int i = 0; i <= e10; i++)
            *o++ = i < nd ? digits[i] : '0';
        *o++ = '.';
        if (nd > e10 + 1) {
            memcpy(o, digits + e10 + 1, (size_t)(nd - e10 - 1));
            o += nd - e10 - 1;
        } else {
            *o++ = '0';
        }
        *o = '\0';
    }
}
