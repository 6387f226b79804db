/* Seeded ChaCha20 stream for reproducible machine learning (not for keys). */
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "internal.h"

static void refill(henn__prng *r)
{
    uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    uint64_t b = r->block++;
    size_t i;
    for (i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(b >> (8 * i));
    crypto_stream_chacha20_ietf(r->buf, sizeof(r->buf), nonce, r->key);
    r->pos = 0;
}

void henn__prng_init(henn__prng *r, uint64_t seed, uint64_t stream)
{
    uint8_t in[16];
    size_t i;
    for (i = 0; i < 8; i++) {
        in[i] = (uint8_t)(seed >> (8 * i));
        in[8 + i] = (uint8_t)(stream >> (8 * i));
    }
    crypto_hash_sha256(r->key, in, sizeof(in));
    r->block = 0;
    refill(r);
}

uint64_t henn__prng_u64(henn__prng *r)
{
    uint64_t v = 0;
    size_t i;
    if (r->pos + 8 > sizeof(r->buf))
        refill(r);
    for (i = 0; i < 8; i++)
        v |= (uint64_t)r->buf[r->pos + i] << (8 * i);
    r->pos += 8;
    return v;
}

uint64_t henn__prng_below(henn__prng *r, uint64_t n)
{
    uint64_t lim = (uint64_t)0 - ((uint64_t)0 - n) % n; /* largest multiple of n, mod 2^64 */
    uint64_t v;
    do {
        v = henn__prng_u64(r);
    } while (lim != 0 && v >= lim);
    return v % n;
}

double henn__prng_uniform(henn__prng *r)
{
    return (double)(henn__prng_u64(r) >> 11) * 0x1.0p-53;
}

double henn__prng_normal(henn__prng *r)
{
    double u1 = 1.0 - henn__prng_uniform(r); /* (0, 1] */
    double u2 = henn__prng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}
