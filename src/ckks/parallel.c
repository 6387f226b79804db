/*
 * Splitting per-limb CKKS work over threads (key switching, rescale).
 *
 * The thread count lives in the params object (henn_ckks_params_set_threads),
 * never in global state; the threads come from henn__parallel_for (started
 * per call, joined before it returns). Every item writes its own limbs, and
 * the arithmetic is exact, so results do not depend on the thread count or
 * on the order the items run in.
 */
#include <sched.h>
#include <stdatomic.h>

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
    atomic_int busy[HENN__CKKS_MAX_SLOTS];
    size_t nslots;
} phase_job;

static size_t slot_take(phase_job *jb)
{
    /* At most nslots callers hold a slot at once, so one of them is free. */
    for (;;)
        for (size_t i = 0; i < jb->nslots; i++)
            if (atomic_exchange(&jb->busy[i], 1) == 0)
                return i;
}

static int phase_worker(void *ctx, size_t begin, size_t end)
{
    phase_job *jb = ctx;
    (void)begin;
    (void)end;
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
    return 0;
}

int henn__ckks_phases(unsigned threads, const size_t *counts, size_t nphases,
                      henn__ckks_item_fn fn, void *ctx)
{
    phase_job jb;
    if (nphases > HENN__CKKS_MAX_PHASES)
        return HENN_EINVAL;
    if (threads > HENN__CKKS_MAX_SLOTS)
        threads = HENN__CKKS_MAX_SLOTS;
    jb.fn = fn;
    jb.ctx = ctx;
    jb.nphases = nphases;
    jb.first[0] = 0;
    for (size_t p = 0; p < nphases; p++) {
        jb.first[p + 1] = jb.first[p] + counts[p];
        atomic_init(&jb.done[p], 0);
    }
    atomic_init(&jb.next, 0);
    atomic_init(&jb.err, 0);
    jb.nslots = threads < 1 ? 1 : threads;
    for (size_t i = 0; i < HENN__CKKS_MAX_SLOTS; i++)
        atomic_init(&jb.busy[i], 0);
    int rc;
    if (jb.nslots == 1) {
        rc = phase_worker(&jb, 0, 1);
    } else {
        henn_batch_opts opts = {0};
        opts.threads = threads;
        rc = henn__parallel_for(jb.nslots, &opts, phase_worker, &jb);
    }
    return rc != 0 ? rc : atomic_load(&jb.err);
}
