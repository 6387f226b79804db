/*
 * CKKS parameters: SEAL's deterministic prime selection, the
 * HomomorphicEncryption.org security table and the per-prime tables.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/modarith.h"

/* a * b mod n for any 64-bit n > 0 (slow, for primality testing only). */
static uint64_t mulmod_any(uint64_t a, uint64_t b, uint64_t n)
{
    return (uint64_t)(((henn__u128)a * b) % n);
}

static uint64_t powmod_any(uint64_t a, uint64_t e, uint64_t n)
{
    uint64_t r = 1 % n;
    a %= n;
    while (e != 0) {
        if (e & 1)
            r = mulmod_any(r, a, n);
        a = mulmod_any(a, a, n);
        e >>= 1;
    }
    return r;
}

/*
 * Miller-Rabin with the first twelve prime bases, deterministic for every
 * n < 3.3 * 10^24 and so for all 64-bit n. Public inputs only (variable
 * time).
 */
int henn__ckks_is_prime(uint64_t n)
{
    static const uint64_t bases[12] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return 0;
    for (size_t i = 0; i < 12; i++) {
        if (n == bases[i])
            return 1;
        if (n % bases[i] == 0)
            return 0;
    }
    uint64_t d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    for (size_t i = 0; i < 12; i++) {
        uint64_t x = powmod_any(bases[i], d, n);
        if (x == 1 || x == n - 1)
            continue;
        int composite = 1;
        for (int r = 1; r < s; r++) {
            x = mulmod_any(x, x, n);
            if (x == n - 1) {
                composite = 0;
                break;
            }
        }
        if (composite)
            return 0;
    }
    return 1;
}

/*
 * SEAL 4.4's CoeffModulus::Create: for each distinct size b, take the
 * candidates floor((2^b - 1) / 2N) * 2N + 1 - k * 2N (k = 0, 1, ...) that
 * are above 2^(b-1), and keep the first c primes, c = the number of times b
 * occurs. SEAL then hands them out from the back of that list: the first
 * occurrence of b gets the smallest of the c primes, the last occurrence the
 * largest (the known answers in CKKS_NOTES.md say so: {60, 40, 40, 60} gets
 * its larger 60-bit prime last).
 */
int henn__ckks_select_primes(uint64_t *primes, size_t N, const int *bit_sizes, size_t count)
{
    if (primes == NULL || bit_sizes == NULL || count == 0 || count > HENN_CKKS_MAX_PRIMES ||
        N < 2 || (N & (N - 1)) != 0 || N > ((size_t)1 << HENN_CKKS_MAX_LOGN))
        return HENN_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (bit_sizes[i] < HENN_CKKS_MIN_PRIME_BITS || bit_sizes[i] > HENN_CKKS_MAX_PRIME_BITS)
            return HENN_EINVAL;
    const uint64_t two_n = 2 * (uint64_t)N;
    for (size_t i = 0; i < count; i++) {
        int b = bit_sizes[i];
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            if (bit_sizes[j] == b)
                seen = 1;
        if (seen)
            continue; /* filled with the first occurrence of b */
        size_t c = 0;
        for (size_t j = i; j < count; j++)
            c += bit_sizes[j] == b;
        /* find c primes, descending */
        uint64_t found[HENN_CKKS_MAX_PRIMES];
        const uint64_t lo = (uint64_t)1 << (b - 1);
        uint64_t cand = ((((uint64_t)1 << b) - 1) / two_n) * two_n + 1;
        size_t nf = 0;
        while (nf < c && cand > lo) {
            if (henn__ckks_is_prime(cand))
                found[nf++] = cand;
            if (cand < two_n)
                break;
            cand -= two_n;
        }
        if (nf < c)
            return HENN_EINVAL;
        /* occurrences in order get the found primes from the back */
        for (size_t j = i; j < count; j++)
            if (bit_sizes[j] == b)
                primes[j] = found[--nf];
    }
    return 0;
}

int henn_ckks_params_set_threads(henn_ckks_params *params, unsigned threads)
{
    if (params == NULL || params->tables == NULL)
        return HENN_EINVAL;
    params->threads = threads;
    return 0;
}

int henn_ckks_max_log2_pq(size_t N)
{
    switch (N) {
    case 4096:
        return 109;
    case 8192:
        return 218;
    case 16384:
        return 438;
    case 32768:
        return 881;
    case 65536:
        return 1772;
    default:
        return 0;
    }
}

void henn_ckks_params_clear(henn_ckks_params *params)
{
    if (params == NULL)
        return;
    struct henn__ckks_tables *tb = params->tables;
    if (tb != NULL) {
        for (size_t i = 0; i < HENN_CKKS_MAX_PRIMES; i++)
            henn__ckks_ntt_clear(&tb->ntt[i]);
        if (tb->enc != NULL)
            henn__ckks_encoder_free(tb->enc);
        free(tb);
    }
    memset(params, 0, sizeof(*params));
}

/*
 * Security: log2_pq is the real log2 of P * Q (the sum of log2 q_i), which
 * is at most the sum of the requested bit sizes (each q_i < 2^b_i). SEAL
 * compares the sum of the primes' bit counts instead, so every chain SEAL
 * accepts is accepted here; a chain can pass here with a bit-count sum one
 * or two above the table (never with log2(P * Q) above it).
 */
int henn_ckks_params_init(henn_ckks_params *params, size_t N, const int *bit_sizes, size_t count,
                          unsigned flags)
{
    if (params == NULL)
        return HENN_EINVAL;
    memset(params, 0, sizeof(*params));
    if (bit_sizes == NULL || count < 2 || count > HENN_CKKS_MAX_PRIMES ||
        (flags & ~HENN_CKKS_INSECURE) != 0 || N < ((size_t)1 << HENN_CKKS_MIN_LOGN) ||
        N > ((size_t)1 << HENN_CKKS_MAX_LOGN) || (N & (N - 1)) != 0)
        return HENN_EINVAL;

    uint64_t q[HENN_CKKS_MAX_PRIMES];
    int rc = henn__ckks_select_primes(q, N, bit_sizes, count);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++)
            if (q[i] == q[j])
                return HENN_EINVAL;
    double log2_pq = 0;
    for (size_t i = 0; i < count; i++)
        log2_pq += log2((double)q[i]);
    if (!(flags & HENN_CKKS_INSECURE) && log2_pq > (double)henn_ckks_max_log2_pq(N))
        return HENN_EPARAM;

    size_t logN = 0;
    while (((size_t)1 << logN) < N)
        logN++;
    params->N = N;
    params->logN = logN;
    params->L = count - 1;
    for (size_t i = 0; i < count; i++) {
        params->q[i] = q[i];
        params->bits[i] = bit_sizes[i];
    }
    params->log2_pq = log2_pq;
    params->flags = flags;
    params->threads = 1;

    struct henn__ckks_tables *tb = calloc(1, sizeof(*tb));
    if (tb == NULL) {
        rc = HENN_ENOMEM;
        goto cleanup;
    }
    params->tables = tb;
    tb->nprimes = count;
    for (size_t i = 0; i < count; i++) {
        henn__ckks_mod_init(&tb->mod[i], q[i]);
        rc = henn__ckks_ntt_init(&tb->ntt[i], N, q[i]);
        if (rc != 0)
            goto cleanup;
    }
    rc = henn__ckks_encoder_new(&tb->enc, N);
    if (rc != 0)
        goto cleanup;
    return 0;

cleanup:
    henn_ckks_params_clear(params);
    return rc;
}
