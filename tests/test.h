/* Tiny assertion helpers: print both operands on failure and count. */
#ifndef HENN_TEST_H
#define HENN_TEST_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        test_checks++;                                                                             \
        if (va_ != vb_) {                                                                          \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

/* Compare henn return codes and show their names. */
#define CHECK_RC(a, b)                                                                             \
    do {                                                                                           \
        int ra_ = (a), rb_ = (b);                                                                  \
        test_checks++;                                                                             \
        if (ra_ != rb_) {                                                                          \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #a,        \
                    henn_err_name(ra_), henn_err_name(rb_));                                       \
        }                                                                                          \
    } while (0)

#define CHECK_OK(a) CHECK_RC(a, 0)

#define CHECK_EQ_DBL(a, b)                                                                         \
    do {                                                                                           \
        double da_ = (a), db_ = (b);                                                               \
        test_checks++;                                                                             \
        if (memcmp(&da_, &db_, sizeof(double)) != 0) { /* bitwise: -0.0 != 0.0 */               \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %a != %a\n", __FILE__, __LINE__, #a, #b, da_, \
                    db_);                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_MPZ(a, b)                                                                         \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (mpz_cmp((a), (b)) != 0) {                                                              \
            test_failures++;                                                                       \
            gmp_fprintf(stderr, "%s:%d: %s == %s failed:\n  %Zd\n  %Zd\n", __FILE__, __LINE__, #a, \
                        #b, (a), (b));                                                             \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        test_checks++;                                                                             \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                 \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  \"%s\"\n  \"%s\"\n", __FILE__, __LINE__,   \
                    #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                           \
        }                                                                                          \
    } while (0)

/* Seed for random test inputs: $HENN_TEST_SEED or the time; always printed
 * so a failure can be replayed. */
__attribute__((unused)) static unsigned long test_seed(void)
{
    const char *s = getenv("HENN_TEST_SEED");
    unsigned long seed = s != NULL ? strtoul(s, NULL, 10) : (unsigned long)time(NULL);
    printf("random test inputs: HENN_TEST_SEED=%lu\n", seed);
    return seed;
}

static int test_report(const char *name)
{
    printf("%s: %d checks, %d passed, %d failed\n", name, test_checks, test_checks - test_failures,
           test_failures);
    return test_failures == 0 ? 0 : 1;
}

#endif
