/* Core: error table, CSPRNG wrapper, wiping, parallel loop. */
#include <stdatomic.h>

#include "../test.h"
#include "core/internal.h"
#include "henn/henn.h"

static void test_errors(void)
{
    CHECK_EQ_STR(henn_err_name(HENN_EKEY), "HENN_EKEY");
    CHECK_EQ_STR(henn_err_name(0), "HENN_OK");
    CHECK_EQ_STR(henn_err_name(-999), "HENN_UNKNOWN");
    CHECK_EQ_STR(henn_strerror(-999), "unknown error");
    CHECK_EQ_STR(henn_strerror(HENN_EFORMAT), "malformed serialized data");
    /* every code has a distinct, non-empty name and message */
    for (int a = -10; a <= -1; a++) {
        CHECK(strncmp(henn_err_name(a), "HENN_E", 6) == 0);
        CHECK(strcmp(henn_strerror(a), "unknown error") != 0);
        for (int b = a + 1; b <= -1; b++)
            CHECK(strcmp(henn_err_name(a), henn_err_name(b)) != 0);
    }
    CHECK_EQ_STR(henn_version_string(), HENN_VERSION_STRING);
}

static void test_random(void)
{
    uint8_t a[64], b[64], zero[64] = {0};
    mpz_t x, bound;
    int i, hits_top = 0;
    CHECK_OK(henn_random_bytes(a, sizeof(a)));
    CHECK_OK(henn_random_bytes(b, sizeof(b)));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(memcmp(a, zero, sizeof(a)) != 0);
    henn_memzero(a, sizeof(a));
    CHECK(memcmp(a, zero, sizeof(a)) == 0);
    mpz_inits(x, bound, NULL);
    mpz_set_ui(bound, 1000003);
    for (i = 0; i < 2000; i++) {
        CHECK_OK(henn__mpz_random_below(x, bound));
        CHECK(mpz_cmp(x, bound) < 0 && mpz_sgn(x) >= 0);
        if (mpz_cmp_ui(x, 500000) > 0)
            hits_top++;
    }
    CHECK(hits_top > 800 && hits_top < 1200); /* roughly uniform */
    for (i = 0; i < 100; i++) {
        CHECK_OK(henn__mpz_random_bits(x, 13));
        CHECK(mpz_sizeinbase(x, 2) <= 13);
    }
    mpz_set_ui(bound, 15); /* units of Z_15: gcd(x, 15) = 1 */
    for (i = 0; i < 100; i++) {
        CHECK_OK(henn__mpz_random_unit(x, bound));
        CHECK(mpz_sgn(x) > 0 && mpz_cmp(x, bound) < 0 && mpz_fdiv_ui(x, 3) != 0 &&
              mpz_fdiv_ui(x, 5) != 0);
    }
    mpz_set_ui(bound, 0);
    CHECK_RC(henn__mpz_random_below(x, bound), HENN_EINVAL);
    mpz_set_ui(x, 12345);
    henn__mpz_wipe(x);
    CHECK(mpz_sgn(x) == 0);
    henn__mpz_wipe_clear(x);
    henn__mpz_wipe_clear(x); /* safe twice (zeroed struct) */
    mpz_clear(bound);
}

typedef struct {
    atomic_int *hits;
    size_t fail_at;
} loop_ctx;

static int mark(void *ctx, size_t begin, size_t end)
{
    loop_ctx *c = ctx;
    for (size_t i = begin; i < end; i++) {
        if (i == c->fail_at)
            return HENN_EIO;
        atomic_fetch_add(&c->hits[i], 1);
    }
    return 0;
}

static size_t progress_last, progress_calls;
static void on_progress(void *user, size_t done, size_t total)
{
    (void)user;
    CHECK(done <= total);
    CHECK(done >= progress_last);
    progress_last = done;
    progress_calls++;
}

static void test_parallel(void)
{
    const size_t n = 10007;
    atomic_int *hits = calloc(n, sizeof(*hits));
    for (unsigned t = 1; t <= 4; t++) {
        henn_batch_opts o = {t, on_progress, NULL};
        loop_ctx c = {hits, (size_t)-1};
        size_t i, bad = 0;
        for (i = 0; i < n; i++)
            atomic_store(&hits[i], 0);
        progress_last = progress_calls = 0;
        CHECK_OK(henn__parallel_for(n, &o, mark, &c));
        for (i = 0; i < n; i++)
            bad += atomic_load(&hits[i]) != 1;
        CHECK_EQ_INT(bad, 0); /* every index exactly once */
        CHECK_EQ_INT(progress_last, n);
        CHECK(progress_calls >= 1);
        c.fail_at = 5000;
        progress_last = 0;
        CHECK_RC(henn__parallel_for(n, &o, mark, &c), HENN_EIO);
    }
    CHECK_OK(henn__parallel_for(0, NULL, mark, NULL));
    free(hits);
}

int main(void)
{
    CHECK_OK(henn_init());
    test_errors();
    test_random();
    test_parallel();
    return test_report("test_core");
}
