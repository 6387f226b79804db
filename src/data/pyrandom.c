/* MT19937 as numpy's RandomState and CPython's random module use it
 * (Matsumoto and Nishimura 1998); see pyrandom.h. */
#include "data/pyrandom.h"

#define MT_N 624
#define MT_M 397

void henn__mt_seed_numpy(henn__mt19937 *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (size_t i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = MT_N;
}

void henn__mt_seed_python(henn__mt19937 *r, uint32_t seed)
{
    /* init_by_array with a key of one word */
    henn__mt_seed_numpy(r, 19650218u);
    size_t i = 1, j = 0;
    for (size_t k = MT_N; k > 0; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + seed +
                   (uint32_t)j;
        i++;
        j = 0; /* key length 1 */
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
    }
    for (size_t k = MT_N - 1; k > 0; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u;
    r->mti = MT_N;
}

uint32_t henn__mt_u32(henn__mt19937 *r)
{
    if (r->mti >= MT_N) {
        for (size_t k = 0; k < MT_N; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % MT_N] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->mti = 0;
    }
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* numpy's random_interval(max): smallest all-ones mask >= max, reject above
 * max (32-bit draws; henn never permutes 2^32 rows). */
static size_t numpy_interval(henn__mt19937 *r, size_t max)
{
    if (max == 0)
        return 0;
    uint32_t mask = (uint32_t)max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    while ((v = henn__mt_u32(r) & mask) > max)
        ;
    return v;
}

void henn__numpy_permutation(size_t *out, size_t n, henn__mt19937 *r)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    for (size_t i = n; i-- > 1;) {
        size_t j = numpy_interval(r, i);
        size_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

/* CPython's _randbelow_with_getrandbits(n), n < 2^32. */
static size_t python_below(henn__mt19937 *r, size_t n)
{
    unsigned k = 0;
    while (k < 32 && ((size_t)1 << k) <= n)
        k++; /* k = n.bit_length() */
    size_t v;
    do {
        v = henn__mt_u32(r) >> (32 - k);
    } while (v >= n);
    return v;
}

void henn__python_shuffle(size_t *x, size_t n, henn__mt19937 *r)
{
    for (size_t i = n; i-- > 1;) {
        size_t j = python_below(r, i + 1);
        size_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}
