/*
 * A pool of fresh noise r^n mod n^2, filled ahead of time by one
 * background thread (see paillier_internal.h, "Noise pool").
 *
 * The noise does not depend on any data, so a party that re-randomises
 * (the trainer of encrypted inference) can draw it while it waits for its
 * peer and spend none of its critical path on the exponentiations: the
 * request-response rounds of the protocols leave the cores idle part of
 * the time, and the thread fills those gaps. Each value is drawn exactly
 * as henn__paillier_noise draws it (r uniform in [1, n) from the OS
 * CSPRNG, r^n on the 8-lane engine or the single-buffer one), so the
 * values handed out are distributed exactly as values drawn on the spot.
 *
 * Values move (mpz_swap) from the thread's scratch into the pool and from
 * the pool into the caller's array: each is handed out once and no copy
 * stays behind. Slots that receive the caller's old values are wiped.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_getcpuclockid, clock_gettime */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "paillier_internal.h"

struct henn__noise_pool {
    henn_paillier_pk pk;  /* the pool's own copy of the key: n, n^2, Montgomery contexts */
    pthread_mutex_t mu;   /* guards everything below */
    pthread_cond_t room;  /* signalled when values are taken and at shutdown */
    pthread_t thread;
    mpz_t *v;             /* cap slots; v[0 .. have) hold ready values */
    size_t cap, have;
    int stop, err;
    uint64_t made, taken;
};

/* The producer: one group of HENN__MB_LANES values at a time, computed
 * outside the lock, while the pool has room for a whole group. */
static void *producer(void *arg)
{
    henn__noise_pool *np = arg;
    mpz_t g[HENN__MB_LANES];
    size_t l;
    int rc = 0;
    for (l = 0; l < HENN__MB_LANES; l++)
        mpz_init(g[l]);
    pthread_mutex_lock(&np->mu);
    for (;;) {
        while (!np->stop && np->cap - np->have < HENN__MB_LANES)
            pthread_cond_wait(&np->room, &np->mu);
        if (np->stop)
            break;
        pthread_mutex_unlock(&np->mu);
        rc = henn__paillier_noise(g, HENN__MB_LANES, &np->pk);
        pthread_mutex_lock(&np->mu);
        if (rc != 0) {
            np->err = rc; /* takers fall back to drawing their own */
            break;
        }
        if (np->stop)
            break;
        for (l = 0; l < HENN__MB_LANES; l++)
            mpz_swap(np->v[np->have++], g[l]); /* the slots were wiped when emptied */
        np->made += HENN__MB_LANES;
    }
    pthread_mutex_unlock(&np->mu);
    for (l = 0; l < HENN__MB_LANES; l++)
        henn__mpz_wipe_clear(g[l]);
    henn__burn_stack();
    return NULL;
}

int henn__noise_pool_new(henn__noise_pool **out, const henn_paillier_pk *pk, size_t capacity)
{
    henn__noise_pool *np;
    size_t i;
    int rc;
    *out = NULL;
    if (pk == NULL || mpz_sgn(pk->n) <= 0 || pk->mont == NULL)
        return HENN_EKEY;
    if (capacity == 0 || capacity > HENN__NOISE_POOL_MAX)
        return HENN_EINVAL;
    capacity = (capacity + HENN__MB_LANES - 1) / HENN__MB_LANES * HENN__MB_LANES;
    np = calloc(1, sizeof(*np));
    if (np == NULL)
        return HENN_ENOMEM;
    np->v = calloc(capacity, sizeof(mpz_t));
    if (np->v == NULL) {
        free(np);
        return HENN_ENOMEM;
    }
    henn_paillier_pk_init(&np->pk);
    for (i = 0; i < capacity; i++)
        mpz_init(np->v[i]);
    np->cap = capacity;
    rc = henn_paillier_pk_copy(&np->pk, pk); /* n, n^2 and new contexts; no table */
    if (rc == 0 && pthread_mutex_init(&np->mu, NULL) != 0)
        rc = HENN_ENOMEM;
    if (rc == 0 && pthread_cond_init(&np->room, NULL) != 0) {
        pthread_mutex_destroy(&np->mu);
        rc = HENN_ENOMEM;
    }
    if (rc == 0 && pthread_create(&np->thread, NULL, producer, np) != 0) {
        pthread_cond_destroy(&np->room);
        pthread_mutex_destroy(&np->mu);
        rc = HENN_ENOMEM;
    }
    if (rc != 0) {
        for (i = 0; i < np->cap; i++)
            mpz_clear(np->v[i]); /* nothing drawn yet */
        free(np->v);
        henn_paillier_pk_clear(&np->pk);
        free(np);
        return rc;
    }
    *out = np;
    return 0;
}

int henn__noise_pool_same_key(const henn__noise_pool *np, const henn_paillier_pk *pk)
{
    return np != NULL && pk != NULL && mpz_cmp(np->pk.n, pk->n) == 0;
}

size_t henn__noise_pool_take(henn__noise_pool *np, mpz_t *out, size_t count)
{
    size_t k = 0;
    if (np == NULL)
        return 0;
    pthread_mutex_lock(&np->mu);
    while (k < count && np->have > 0) {
        np->have--;
        mpz_swap(out[k], np->v[np->have]);
        henn__mpz_wipe(np->v[np->have]); /* the caller's old value */
        k++;
    }
    np->taken += k;
    if (k > 0)
        pthread_cond_signal(&np->room);
    pthread_mutex_unlock(&np->mu);
    return k;
}

void henn__noise_pool_counts(henn__noise_pool *np, uint64_t *made, uint64_t *taken,
                             size_t *have, int *err)
{
    pthread_mutex_lock(&np->mu);
    *made = np->made;
    *taken = np->taken;
    *have = np->have;
    *err = np->err;
    pthread_mutex_unlock(&np->mu);
}

double henn__noise_pool_cpu_seconds(henn__noise_pool *np)
{
    clockid_t id;
    struct timespec ts;
    if (np == NULL || pthread_getcpuclockid(np->thread, &id) != 0 ||
        clock_gettime(id, &ts) != 0)
        return -1.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void henn__noise_pool_free(henn__noise_pool *np)
{
    size_t i;
    if (np == NULL)
        return;
    pthread_mutex_lock(&np->mu);
    np->stop = 1;
    pthread_cond_broadcast(&np->room);
    pthread_mutex_unlock(&np->mu);
    pthread_join(np->thread, NULL); /* at most one group still being computed */
    for (i = 0; i < np->cap; i++)
        henn__mpz_wipe_clear(np->v[i]);
    free(np->v);
    pthread_cond_destroy(&np->room);
    pthread_mutex_destroy(&np->mu);
    henn_paillier_pk_clear(&np->pk);
    henn_memzero(np, sizeof(*np));
    free(np);
}
