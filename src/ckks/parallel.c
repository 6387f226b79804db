/*
 * Splitting per-limb CKKS work over threads (key switching, rescale).
 *
 * The thread count lives in the params object (henn_ckks_params_set_threads),
 * never in global state; helper threads are started per call (detached:
 * see henn__ckks_phases) and have finished every item they took before the
 * call returns. Every item writes its own limbs, and
 * the arithmetic is exact, so results do not depend on the thread count or
 * on the order the items run in.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ckks/ckks_internal.h"

unsigned henn__ckks_threads(const henn_ckks_params *params, size_t limbs, size_t items,
                            size_t min_words)
{
    unsigned t = params->threads == 0 ? henn__cpu_count() : params->threads;
    if (t <= 1 || params->N * limbs < min_words || items < 2)
        return 1;
    if ((size_t)t > items)
        t = (unsigned)items;
    if (t > HENN__CKKS_MAX_SLOTS)
        t = HENN__CKKS_MAX_SLOTS;
    return t;
}

typedef struct phase_job {
    henn__ckks_item_fn fn;
    void *ctx;
    size_t nphases;
    size_t first[HENN__CKKS_MAX_PHASES + 1]; /* global index of each phase's first item */
    atomic_size_t next;
    atomic_size_t done[HENN__CKKS_MAX_PHASES];
    atomic_int err;
    atomic_int refs; /* the caller and every helper started; the last frees */
    atomic_int busy[HENN__CKKS_MAX_SLOTS];
    size_t nslots;
} phase_job;

static size_t slot_take(phase_job *jb)
{
    /* At most nslots workers hold a slot at once, so one of them is free. */
    for (;;)
        for (size_t i = 0; i < jb->nslots; i++)
            if (atomic_exchange(&jb->busy[i], 1) == 0)
                return i;
}

static void phase_worker(phase_job *jb)
{
    size_t slot = slot_take(jb), total = jb->first[jb->nphases], p = 0;
    for (;;) {
        size_t u = atomic_fetch_add(&jb->next, 1);
        if (u >= total)
            break;
        while (u >= jb->first[p + 1])
            p++;
        /* wait for the previous phase: its items are all handed out (ours
         * comes later) to threads that do not wait for us */
        if (p > 0)
            while (atomic_load(&jb->done[p - 1]) < jb->first[p] - jb->first[p - 1])
                sched_yield();
        int rc = jb->fn(jb->ctx, p, u - jb->first[p], slot);
        if (rc != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&jb->err, &zero, rc);
        }
        atomic_fetch_add(&jb->done[p], 1);
    }
    atomic_store(&jb->busy[slot], 0);
}

static void job_release(phase_job *jb)
{
    if (atomic_fetch_sub(&jb->refs, 1) == 1)
        free(jb);
}

static void *helper_main(void *arg)
{
    phase_worker(arg);
    job_release(arg);
    return NULL;
}

/*
 * Helper threads are detached, not joined: on a machine whose cores are
 * busy, a new thread can wait milliseconds before it first runs, and a join
 * (as henn__parallel_for does) would wait for it although the caller has
 * done every item meanwhile. A helper that starts late finds no items left
 * and only drops its reference to the job (never touching ctx, which may
 * be gone by then); the caller waits only for items that running threads
 * have taken.
 */
int henn__ckks_phases(unsigned threads, const size_t *counts, size_t nphases,
                      henn__ckks_item_fn fn, void *ctx)
{
    if (nphases > HENN__CKKS_MAX_PHASES)
        return HENN_EINVAL;
    if (threads > HENN__CKKS_MAX_SLOTS)
        threads = HENN__CKKS_MAX_SLOTS;
    phase_job *jb = malloc(sizeof(*jb));
    if (jb == NULL)
        return HENN_ENOMEM;
    jb->fn = fn;
    jb->ctx = ctx;
    jb->nphases = nphases;
    jb->first[0] = 0;
    for (size_t p = 0; p < nphases; p++) {
        jb->first[p + 1] = jb->first[p] + counts[p];
        atomic_init(&jb->done[p], 0);
    }
    atomic_init(&jb->next, 0);
    atomic_init(&jb->err, 0);
    atomic_init(&jb->refs, 1);
    jb->nslots = threads < 1 ? 1 : threads;
    for (size_t i = 0; i < HENN__CKKS_MAX_SLOTS; i++)
        atomic_init(&jb->busy[i], 0);
    if (jb->nslots > 1) {
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) == 0) {
            if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0)
                for (size_t t = 1; t < jb->nslots; t++) {
                    pthread_t tid;
                    atomic_fetch_add(&jb->refs, 1);
                    if (pthread_create(&tid, &attr, helper_main, jb) != 0) {
                        atomic_fetch_sub(&jb->refs, 1);
                        break; /* run with the threads we have */
                    }
                }
            pthread_attr_destroy(&attr);
        }
    }
    phase_worker(jb);
    /* every item is taken; wait for the ones other threads still run */
    for (size_t p = 0; p < nphases; p++)
        while (atomic_load(&jb->done[p]) < counts[p])
            sched_yield();
    int rc = atomic_load(&jb->err);
    job_release(jb);
    return rc;
}
