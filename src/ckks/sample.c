/*
 * CKKS samplers: uniform ternary, centred binomial (k = 21), small integers
 * into RNS rows, and uniform residues expanded from a seed.
 *
 * Fresh randomness comes only from henn_random_bytes() (libsodium's
 * randombytes_buf). Timing: the ternary sampler branches only on the bytes
 * it rejects (255, which is independent of the values kept); the binomial
 * sampler and the RNS conversion have no branches or table lookups on the
 * sampled values. The seeded expansion is public (it stands for the uniform
 * a of a ciphertext or key) and may branch on its rejected draws.
 */
#include <sodium.h>
#include <string.h>

#include "ckks/ckks_internal.h"

/* Random bytes are drawn in blocks of this size (on the stack). */
#define SAMPLE_BLOCK 1536

int henn__ckks_sample_ternary(int8_t *out, size_t N)
{
    uint8_t buf[SAMPLE_BLOCK];
    size_t done = 0;
    int rc = 0;
    while (done < N) {
        rc = henn_random_bytes(buf, sizeof(buf));
        if (rc != 0)
            break;
        for (size_t k = 0; k < sizeof(buf) && done < N; k++) {
            /* 255 = 3 * 85: bytes 0..254 are uniform modulo 3. */
            if (buf[k] == 255)
                continue;
            /* b % 3 by a constant divisor compiles to a multiplication. */
            unsigned r = (unsigned)buf[k] % 3u;
            out[done++] = (int8_t)((int)r - 1);
        }
    }
    henn_memzero(buf, sizeof(buf));
    if (rc != 0)
        henn_memzero(out, N);
    return rc;
}

/* Population count without branches or tables (SWAR). */
static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
}

static uint64_t load64_le(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

/* sum of 21 bits minus sum of the next 21 bits of x (x holds 42 bits). */
static int8_t cbd21(uint64_t x)
{
    const uint64_t m21 = (UINT64_C(1) << 21) - 1;
    int a = (int)popcount64(x & m21);
    int b = (int)popcount64((x >> 21) & m21);
    return (int8_t)(a - b);
}

int henn__ckks_sample_cbd(int8_t *out, size_t N)
{
    /* 16 random bytes = 128 bits give three samples of 42 bits. */
    uint8_t buf[SAMPLE_BLOCK]; /* a multiple of 16 */
    const uint64_t m42 = (UINT64_C(1) << 42) - 1;
    size_t done = 0;
    int rc = 0;
    while (done < N) {
        rc = henn_random_bytes(buf, sizeof(buf));
        if (rc != 0)
            break;
        for (size_t k = 0; k + 16 <= sizeof(buf) && done < N; k += 16) {
            uint64_t x0 = load64_le(buf + k), x1 = load64_le(buf + k + 8);
            int8_t v[3];
            v[0] = cbd21(x0 & m42);
            v[1] = cbd21(((x0 >> 42) | (x1 << 22)) & m42);
            v[2] = cbd21((x1 >> 20) & m42);
            for (size_t t = 0; t < 3 && done < N; t++)
                out[done++] = v[t];
            henn_memzero(v, sizeof(v));
        }
    }
    henn_memzero(buf, sizeof(buf));
    if (rc != 0)
        henn_memzero(out, N);
    return rc;
}

void henn__ckks_small_to_rns(uint64_t *dst, const int8_t *x, const henn_ckks_params *params,
                             const size_t *idx, size_t nprimes)
{
    size_t N = params->N;
    for (size_t r = 0; r < nprimes; r++) {
        uint64_t q = params->q[idx != NULL ? idx[r] : r];
        uint64_t *row = dst + r * N;
        for (size_t k = 0; k < N; k++) {
            int64_t v = x[k];
            uint64_t neg = (uint64_t)(v >> 63); /* all ones when v < 0 */
            row[k] = (uint64_t)v + (q & neg);
        }
    }
}

/*
 * One ChaCha20 (IETF) keystream per (seed, domain, prime index): the nonce
 * is the domain (8 bytes, little-endian) followed by the prime's index in
 * the chain (4 bytes), so each row depends only on the seed, the domain and
 * the prime, not on which other rows are expanded with it. Each residue is
 * 8 keystream bytes masked to the bit length of q and rejected when >= q.
 */
#define EXPAND_BLOCK 2048 /* bytes of keystream per call, a multiple of 64 */

void henn__ckks_expand_uniform(uint64_t *dst, const uint8_t seed[HENN_CKKS_SEEDBYTES],
                               uint64_t domain, const henn_ckks_params *params,
                               const size_t *idx, size_t nprimes)
{
    static const uint8_t zero[EXPAND_BLOCK];
    uint8_t ks[EXPAND_BLOCK];
    size_t N = params->N;
    for (size_t r = 0; r < nprimes; r++) {
        size_t pi = idx != NULL ? idx[r] : r;
        uint64_t q = params->q[pi];
        int bits = 64 - __builtin_clzll(q);
        uint64_t mask = bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
        uint8_t nonce[crypto_stream_chacha20_IETF_NONCEBYTES];
        for (int b = 0; b < 8; b++)
            nonce[b] = (uint8_t)(domain >> (8 * b));
        for (int b = 0; b < 4; b++)
            nonce[8 + b] = (uint8_t)((uint64_t)pi >> (8 * b));
        uint32_t counter = 0;
        uint64_t *row = dst + r * N;
        size_t done = 0;
        while (done < N) {
            crypto_stream_chacha20_ietf_xor_ic(ks, zero, sizeof(ks), nonce, counter, seed);
            counter += (uint32_t)(sizeof(ks) / 64);
            for (size_t k = 0; k + 8 <= sizeof(ks) && done < N; k += 8) {
                uint64_t v = load64_le(ks + k) & mask;
                if (v < q)
                    row[done++] = v;
            }
        }
    }
    henn_memzero(ks, sizeof(ks));
}
