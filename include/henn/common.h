/*
 * henn/common.h: error codes, wiping, randomness and progress reporting
 * shared by every henn module.
 *
 * Conventions (see docs/API.md):
 *  - Fallible functions return 0 on success or a negative HENN_E* code.
 *  - The library never prints and never exits.
 *  - Variable-size objects are caller-allocated structs with _init/_clear;
 *    _clear is safe on a zeroed struct and after a failed _init.
 *  - Randomness comes only from the operating system's CSPRNG through
 *    libsodium's randombytes_buf().
 */
#ifndef HENN_COMMON_H
#define HENN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(HENN_BUILDING)
#define HENN_API __attribute__((visibility("default")))
#else
#define HENN_API
#endif

#if defined(__GNUC__)
#define HENN_NODISCARD __attribute__((warn_unused_result))
#else
#define HENN_NODISCARD
#endif

/*
 * The error table: name, value, message. One table generates the enum,
 * henn_strerror() and henn_err_name() (the libuv pattern).
 */
#define HENN_ERRNO_MAP(XX)                                                                         \
    XX(EINVAL, -1, "invalid argument or shape")                                                    \
    XX(ERANGE, -2, "value out of range (plaintext overflow or bad ciphertext)")                   \
    XX(EFORMAT, -3, "malformed serialized data")                                                   \
    XX(EKEY, -4, "mismatched or invalid key")                                                      \
    XX(EPARAM, -5, "insecure or unsupported parameters")                                           \
    XX(ENOMEM, -6, "out of memory")                                                                \
    XX(ERNG, -7, "random number generator failure")                                                \
    XX(EIO, -8, "input/output error")                                                              \
    XX(EPROTO, -9, "protocol error")                                                               \
    XX(ETIMEDOUT, -10, "timed out")

typedef enum {
#define HENN_ERR_ENUM_(name, val, msg) HENN_##name = (val),
    HENN_ERRNO_MAP(HENN_ERR_ENUM_)
#undef HENN_ERR_ENUM_
        HENN_OK = 0
} henn_errno;

/*
 * henn_strerror: a static, human-readable message for an error code.
 * Returns "success" for 0 and "unknown error" for values not in the table.
 * Thread safety: safe (returns string literals).
 */
HENN_API const char *henn_strerror(int err);

/*
 * henn_err_name: the symbolic name of an error code ("HENN_EKEY").
 * Returns "HENN_OK" for 0 and "HENN_UNKNOWN" for values not in the table.
 */
HENN_API const char *henn_err_name(int err);

/*
 * henn_init: initialise libsodium (the CSPRNG). Every henn function that needs
 * randomness calls it itself; calling it early only moves the cost.
 * Returns 0, or HENN_ERNG if the OS CSPRNG cannot be opened.
 * Thread safety: safe to call from several threads.
 */
HENN_API HENN_NODISCARD int henn_init(void);

/*
 * henn_memzero: wipe buf_len bytes at buf in a way the compiler cannot elide
 * (sodium_memzero). buf may be NULL when buf_len is 0.
 */
HENN_API void henn_memzero(void *buf, size_t buf_len);

/*
 * henn_free: wipe buf_len bytes at buf, then free(buf). Used for every buffer
 * the library allocates for the caller (serialised keys and ciphertexts).
 * buf may be NULL.
 */
HENN_API void henn_free(void *buf, size_t buf_len);

/*
 * henn_random_bytes: buf_len bytes from the OS CSPRNG (randombytes_buf).
 * Returns 0 or HENN_ERNG. Thread safety: safe.
 */
HENN_API HENN_NODISCARD int henn_random_bytes(uint8_t *buf, size_t buf_len);

/*
 * henn_install_wiping_allocator: make GMP and jansson wipe every block they
 * free or move (mp_set_memory_functions, json_set_alloc_funcs), so that
 * limbs of secrets (p, q, plaintexts, encryption randomness) and the JSON
 * text of secret keys do not linger in freed heap memory. Call once at
 * program start, before any mpz_t exists (GMP requires it). The CLI does.
 * Residual risk: copies in registers, stack frames of GMP internals and swap.
 * Thread safety: not safe; call before starting threads.
 */
HENN_API void henn_install_wiping_allocator(void);

/*
 * Progress callback for long batch jobs: called with the number of items
 * done so far and the total, from the calling thread only, at most once per
 * finished chunk and once at the end (done == total).
 */
typedef void (*henn_progress_fn)(void *user, size_t done, size_t total);

/*
 * Options for batch (array) operations.
 *  threads:  worker threads; 0 = number of online CPUs. The calling thread
 *            is one of them.
 *  progress: optional callback (may be NULL); user is passed back to it.
 */
typedef struct henn_batch_opts {
    unsigned threads;
    henn_progress_fn progress;
    void *user;
} henn_batch_opts;

#ifdef __cplusplus
}
#endif
#endif
