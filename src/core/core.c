/* Errors, wiping, randomness and the GMP wiping allocator. */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"
#include "internal.h"

const char *henn_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define HENN_ERR_MSG_(name, val, msg)                                                              \
    case HENN_##name:                                                                              \
        return msg;
        HENN_ERRNO_MAP(HENN_ERR_MSG_)
#undef HENN_ERR_MSG_
    default:
        return "unknown error";
    }
}

const char *henn_err_name(int err)
{
    switch (err) {
    case 0:
        return "HENN_OK";
#define HENN_ERR_NAME_(name, val, msg)                                                             \
    case HENN_##name:                                                                              \
        return "HENN_" #name;
        HENN_ERRNO_MAP(HENN_ERR_NAME_)
#undef HENN_ERR_NAME_
    default:
        return "HENN_UNKNOWN";
    }
}

const char *henn_version_string(void)
{
    return HENN_VERSION_STRING;
}

int henn_init(void)
{
    return sodium_init() < 0 ? HENN_ERNG : 0;
}

void henn_memzero(void *buf, size_t buf_len)
{
    if (buf != NULL && buf_len > 0)
        sodium_memzero(buf, buf_len);
}

void henn_free(void *buf, size_t buf_len)
{
    if (buf == NULL)
        return;
    henn_memzero(buf, buf_len);
    free(buf);
}

int henn_random_bytes(uint8_t *buf, size_t buf_len)
{
    if (henn_init() != 0)
        return HENN_ERNG;
    randombytes_buf(buf, buf_len);
    return 0;
}

/* GMP allocation hooks that wipe blocks before releasing them. */
static void *wiping_alloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        abort(); /* GMP has no failure path for allocation; it aborts too. */
    return p;
}

static void *wiping_realloc(void *old, size_t old_size, size_t new_size)
{
    void *p = wiping_alloc(new_size);
    memcpy(p, old, old_size < new_size ? old_size : new_size);
    henn_memzero(old, old_size);
    free(old);
    return p;
}

static void wiping_free(void *p, size_t size)
{
    henn_memzero(p, size);
    free(p);
}

/* jansson's free() gets no size: keep it in a header before the block. */
typedef union {
    size_t size;
    max_align_t align;
} size_header;

static void *json_wiping_alloc(size_t size)
{
    size_header *h = malloc(sizeof(size_header) + size);
    if (h == NULL)
        return NULL; /* jansson handles allocation failure */
    h->size = size;
    return h + 1;
}

static void json_wiping_free(void *p)
{
    size_header *h;
    if (p == NULL)
        return;
    h = (size_header *)p - 1;
    henn_memzero(p, h->size);
    free(h);
}

void henn_install_wiping_allocator(void)
{
    mp_set_memory_functions(wiping_alloc, wiping_realloc, wiping_free);
    json_set_alloc_funcs(json_wiping_alloc, json_wiping_free);
}

void henn__mpz_wipe(mpz_t x)
{
    size_t alloc = (size_t)x->_mp_alloc;
    if (alloc > 0) {
        mp_limb_t *d = mpz_limbs_modify(x, (mp_size_t)alloc);
        henn_memzero(d, alloc * sizeof(mp_limb_t));
        mpz_limbs_finish(x, 0);
    }
}

void henn__mpz_wipe_clear(mpz_t x)
{
    if (x->_mp_d == NULL)
        return; /* zeroed struct: never initialised */
    henn__mpz_wipe(x);
    mpz_clear(x);
    memset(x, 0, sizeof(*x));
}

int henn__mpz_random_bits(mpz_t x, size_t bits)
{
    size_t nbytes = (bits + 7) / 8;
    uint8_t stackbuf[1024];
    uint8_t *buf = stackbuf;
    int rc = 0;
    if (nbytes > sizeof(stackbuf)) {
        buf = malloc(nbytes);
        if (buf == NULL)
            return HENN_ENOMEM;
    }
    if (nbytes > 0) {
        rc = henn_random_bytes(buf, nbytes);
        if (rc != 0)
            goto cleanup;
        if (bits % 8 != 0)
            buf[0] &= (uint8_t)((1u << (bits % 8)) - 1u);
    }
    mpz_import(x, nbytes, 1, 1, 1, 0, buf);
cleanup:
    henn_memzero(buf, nbytes);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int henn__mpz_random_below(mpz_t x, const mpz_t bound)
{
    size_t bits;
    int rc;
    if (mpz_sgn(bound) <= 0)
        return HENN_EINVAL;
    bits = mpz_sizeinbase(bound, 2);
    do {
        rc = henn__mpz_random_bits(x, bits);
        if (rc != 0)
            return rc;
    } while (mpz_cmp(x, bound) >= 0);
    return 0;
}

int henn__mpz_random_unit(mpz_t x, const mpz_t n)
{
    mpz_t g;
    int rc;
    mpz_init(g);
    do {
        rc = henn__mpz_random_below(x, n);
        if (rc != 0)
            break;
        mpz_gcd(g, x, n);
    } while (mpz_sgn(x) == 0 || mpz_cmp_ui(g, 1) != 0);
    mpz_clear(g);
    return rc;
}

/* The stack below the caller's frame, overwritten by a frame this large. */
#define BURN_BYTES 32768

__attribute__((noinline)) void henn__burn_stack(void)
{
    volatile uint8_t buf[BURN_BYTES];
    henn_memzero((void *)buf, sizeof(buf));
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}
