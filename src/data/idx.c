/*
 * IDX files (MNIST, Fashion-MNIST) through zlib, splits and scaling
 * (henn/mnist.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../core/internal.h"
#include "henn/mnist.h"

#define MAX_FILE_BYTES ((size_t)256 << 20)

/* The last path component, so messages stay short. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(char *err, size_t err_len, int rc, const char *name, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (err == NULL || err_len == 0)
        return rc;
    n = snprintf(err, err_len, "%s: ", name);
    if (n >= 0 && (size_t)n < err_len) {
        va_start(ap, fmt);
        vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void henn_idx_clear(henn_idx *x)
{
    if (x == NULL)
        return;
    free(x->data);
    memset(x, 0, sizeof(*x));
}

int henn_idx_parse(henn_idx *out, const uint8_t *buf, size_t buf_len, size_t expect_ndims,
                   const char *name, char *err, size_t err_len)
{
    size_t nd, i, hdr, len = 1;
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (out == NULL)
        return HENN_EINVAL;
    memset(out, 0, sizeof(*out));
    if (buf == NULL && buf_len > 0)
        return HENN_EINVAL;
    if (expect_ndims > 4)
        return HENN_EINVAL;
    name = name != NULL ? base_name(name) : "(memory)";
    if (buf_len < 4)
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset %zu: truncated magic (file has %zu bytes, need 4)", buf_len, buf_len);
    if (buf[0] != 0 || buf[1] != 0)
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset 0: bad magic %02x %02x %02x %02x (not an IDX file)", buf[0], buf[1],
                    buf[2], buf[3]);
    if (buf[2] != 0x08)
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset 2: data type 0x%02x not supported (only 0x08, unsigned byte)",
                    buf[2]);
    nd = buf[3];
    if (nd < 1 || nd > 4 || (expect_ndims != 0 && nd != expect_ndims))
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset 3: %zu dimensions, expected %s%zu", nd,
                    expect_ndims ? "" : "1 to ", expect_ndims ? expect_ndims : (size_t)4);
    hdr = 4 + 4 * nd;
    if (buf_len < hdr)
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset %zu: truncated header (%zu dimensions need %zu bytes)", buf_len, nd,
                    hdr);
    for (i = 0; i < nd; i++) {
        uint32_t d = be32(buf + 4 + 4 * i);
        size_t lim = i == 0 ? HENN_MNIST_MAX_COUNT : HENN_MNIST_MAX_SIDE;
        if (d == 0 || d > lim)
            return fail(err, err_len, HENN_EFORMAT, name,
                        "offset %zu: dimension %zu is %lu (must be 1..%zu)", 4 + 4 * i, i,
                        (unsigned long)d, lim);
        out->dims[i] = d;
        len *= d; /* <= 1e7 * 1024^3 fits in 64 bits */
    }
    if (buf_len - hdr < len) {
        memset(out, 0, sizeof(*out));
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset %zu: truncated data (%zu of %zu bytes present)", buf_len,
                    buf_len - hdr, len);
    }
    if (buf_len - hdr > len) {
        memset(out, 0, sizeof(*out));
        return fail(err, err_len, HENN_EFORMAT, name,
                    "offset %zu: %zu trailing bytes after the data", hdr + len,
                    buf_len - hdr - len);
    }
    out->data = malloc(len);
    if (out->data == NULL) {
        memset(out, 0, sizeof(*out));
        return HENN_ENOMEM;
    }
    memcpy(out->data, buf + hdr, len);
    out->ndims = nd;
    out->len = len;
    return 0;
}

int henn_idx_read(henn_idx *out, const char *path, size_t expect_ndims, char *err,
                  size_t err_len)
{
    gzFile gz;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0, zerr = Z_OK;
    const char *name;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (out == NULL)
        return HENN_EINVAL;
    memset(out, 0, sizeof(*out));
    if (path == NULL)
        return HENN_EINVAL;
    name = base_name(path);
    gz = gzopen(path, "rb");
    if (gz == NULL)
        return fail(err, err_len, HENN_EIO, name, "cannot open: %s",
                    errno ? strerror(errno) : "out of memory");
    for (;;) {
        int got;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
            uint8_t *nb;
            if (cap >= MAX_FILE_BYTES) {
                rc = fail(err, err_len, HENN_EFORMAT, name,
                          "offset %zu: file larger than %zu bytes", len, MAX_FILE_BYTES);
                break;
            }
            nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                rc = HENN_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        got = gzread(gz, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            const char *msg = gzerror(gz, &zerr);
            rc = fail(err, err_len, HENN_EIO, name,
                      "offset %zu: read error (corrupt or truncated gzip?): %s", len, msg);
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (rc == 0) {
        const char *msg = gzerror(gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            rc = fail(err, err_len, HENN_EIO, name,
                      "offset %zu: read error (corrupt or truncated gzip?): %s", len, msg);
    }
    gzclose(gz);
    if (rc == 0)
        rc = henn_idx_parse(out, buf, len, expect_ndims, path, err, err_len);
    free(buf);
    return rc;
}

void henn_mnist_set_init(henn_mnist_set *s)
{
    memset(s, 0, sizeof(*s));
}

void henn_mnist_set_clear(henn_mnist_set *s)
{
    if (s == NULL)
        return;
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof(*s));
}

int henn_mnist_load(henn_mnist_set *s, const char *images_path, const char *labels_path,
                    char *err, size_t err_len)
{
    henn_idx im, lb;
    size_t i;
    int rc;

    if (s == NULL)
        return HENN_EINVAL;
    henn_mnist_set_init(s);
    memset(&im, 0, sizeof(im));
    memset(&lb, 0, sizeof(lb));
    if (images_path == NULL || labels_path == NULL)
        return HENN_EINVAL;
    rc = henn_idx_read(&im, images_path, 3, err, err_len);
    if (rc != 0)
        goto cleanup;
    rc = henn_idx_read(&lb, labels_path, 1, err, err_len);
    if (rc != 0)
        goto cleanup;
    if (lb.dims[0] != im.dims[0]) {
        rc = fail(err, err_len, HENN_EFORMAT, base_name(labels_path),
                  "offset 4: %zu labels, but %s holds %zu images", lb.dims[0],
                  base_name(images_path), im.dims[0]);
        goto cleanup;
    }
    for (i = 0; i < lb.len; i++)
        if (lb.data[i] > 9) {
            rc = fail(err, err_len, HENN_EFORMAT, base_name(labels_path),
                      "offset %zu: label %u is not a digit class 0..9", 8 + i,
                      (unsigned)lb.data[i]);
            goto cleanup;
        }
    s->count = im.dims[0];
    s->rows = im.dims[1];
    s->cols = im.dims[2];
    s->pixels = im.data;
    s->labels = lb.data;
    im.data = NULL;
    lb.data = NULL;
cleanup:
    henn_idx_clear(&im);
    henn_idx_clear(&lb);
    return rc;
}

/* dst = images idx[0..n) of src. */
static int gather(henn_mnist_set *dst, const henn_mnist_set *src, const size_t *idx, size_t n)
{
    size_t px = src->rows * src->cols, i;
    henn_mnist_set_init(dst);
    dst->pixels = malloc(n * px);
    dst->labels = malloc(n);
    if (dst->pixels == NULL || dst->labels == NULL) {
        henn_mnist_set_clear(dst);
        return HENN_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        memcpy(dst->pixels + i * px, src->pixels + idx[i] * px, px);
        dst->labels[i] = src->labels[idx[i]];
    }
    dst->count = n;
    dst->rows = src->rows;
    dst->cols = src->cols;
    return 0;
}

int henn_mnist_split(henn_mnist_set *train, henn_mnist_set *test, const henn_mnist_set *all,
                     size_t n_train, uint64_t seed)
{
    henn__prng r;
    size_t *idx, i;
    int rc;
    if (train == NULL || test == NULL)
        return HENN_EINVAL;
    henn_mnist_set_init(train);
    henn_mnist_set_init(test);
    if (all == NULL || all->pixels == NULL || all->labels == NULL || n_train == 0 ||
        n_train >= all->count)
        return HENN_EINVAL;
    idx = malloc(all->count * sizeof(size_t));
    if (idx == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < all->count; i++)
        idx[i] = i;
    henn__prng_init(&r, seed, 0x69647873706c6974); /* "idxsplit" */
    for (i = all->count; i > 1; i--) {
        size_t j = (size_t)henn__prng_below(&r, i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    rc = gather(train, all, idx, n_train);
    if (rc == 0)
        rc = gather(test, all, idx + n_train, all->count - n_train);
    if (rc != 0) {
        henn_mnist_set_clear(train);
        henn_mnist_set_clear(test);
    }
    free(idx);
    return rc;
}

int henn_mnist_subset(henn_mnist_set *dst, const henn_mnist_set *src, size_t first, size_t count)
{
    size_t *idx, i;
    int rc;
    if (dst == NULL)
        return HENN_EINVAL;
    henn_mnist_set_init(dst);
    if (src == NULL || count == 0 || first > src->count || count > src->count - first)
        return HENN_EINVAL;
    idx = malloc(count * sizeof(size_t));
    if (idx == NULL)
        return HENN_ENOMEM;
    for (i = 0; i < count; i++)
        idx[i] = first + i;
    rc = gather(dst, src, idx, count);
    free(idx);
    return rc;
}

/* path = dir/file, or an EINVAL when it does not fit. */
static int join(char *path, size_t len, const char *dir, const char *file)
{
    int n = snprintf(path, len, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= len ? HENN_EINVAL : 0;
}

int henn_mnist_load_mnist8k(henn_mnist_set *train, henn_mnist_set *test, const char *dir,
                            uint64_t seed, char *err, size_t err_len)
{
    char ip[4096], lp[4096];
    henn_mnist_set all;
    int rc;
    if (train == NULL || test == NULL)
        return HENN_EINVAL;
    henn_mnist_set_init(train);
    henn_mnist_set_init(test);
    if (dir == NULL || join(ip, sizeof(ip), dir, "t10k-images-idx3-ubyte.gz") != 0 ||
        join(lp, sizeof(lp), dir, "t10k-labels-idx1-ubyte.gz") != 0)
        return HENN_EINVAL;
    rc = henn_mnist_load(&all, ip, lp, err, err_len);
    if (rc != 0)
        return rc;
    if (all.count <= HENN_MNIST8K_TRAIN)
        rc = fail(err, err_len, HENN_EFORMAT, "t10k-images-idx3-ubyte.gz",
                  "offset 4: %zu images, need more than %d for the 8k split", all.count,
                  HENN_MNIST8K_TRAIN);
    else
        rc = henn_mnist_split(train, test, &all, HENN_MNIST8K_TRAIN, seed);
    henn_mnist_set_clear(&all);
    return rc;
}

int henn_mnist_load_fashion(henn_mnist_set *train, henn_mnist_set *test, const char *dir,
                            char *err, size_t err_len)
{
    char ip[4096], lp[4096];
    int rc;
    if (train == NULL || test == NULL)
        return HENN_EINVAL;
    henn_mnist_set_init(train);
    henn_mnist_set_init(test);
    if (dir == NULL)
        dir = HENN_MNIST_FASHION_DIR;
    if (join(ip, sizeof(ip), dir, "train-images-idx3-ubyte.gz") != 0 ||
        join(lp, sizeof(lp), dir, "train-labels-idx1-ubyte.gz") != 0)
        return HENN_EINVAL;
    rc = henn_mnist_load(train, ip, lp, err, err_len);
    if (rc != 0)
        return rc;
    if (join(ip, sizeof(ip), dir, "t10k-images-idx3-ubyte.gz") != 0 ||
        join(lp, sizeof(lp), dir, "t10k-labels-idx1-ubyte.gz") != 0)
        rc = HENN_EINVAL;
    else
        rc = henn_mnist_load(test, ip, lp, err, err_len);
    if (rc != 0)
        henn_mnist_set_clear(train);
    return rc;
}

int henn_mnist_to_float(float *X, const henn_mnist_set *s, size_t first, size_t count)
{
    size_t px, i;
    if (X == NULL || s == NULL || s->pixels == NULL || first > s->count ||
        count > s->count - first)
        return HENN_EINVAL;
    px = s->rows * s->cols;
    for (i = 0; i < count * px; i++)
        X[i] = (float)s->pixels[first * px + i] / 255.0f;
    return 0;
}
