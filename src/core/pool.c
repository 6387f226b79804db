/* A minimal fork-join pool: threads started per call, chunks claimed with an
 * atomic counter. Batch jobs are long (milliseconds per element), so the
 * ~50 us of thread start-up per call does not matter. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    size_t count, chunk;
    atomic_size_t next;
    atomic_size_t done;
    atomic_int err;
    henn__chunk_fn fn;
    void *ctx;
} job;

unsigned henn__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

/* Runs one chunk; returns 0 when no work is left. */
static int run_one(job *j)
{
    size_t begin = atomic_fetch_add(&j->next, j->chunk);
    size_t end;
    int rc;
    if (begin >= j->count)
        return 0;
    end = begin + j->chunk < j->count ? begin + j->chunk : j->count;
    if (atomic_load(&j->err) == 0) {
        rc = j->fn(j->ctx, begin, end);
        if (rc != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&j->err, &zero, rc);
        }
    }
    atomic_fetch_add(&j->done, end - begin);
    return 1;
}

static void *worker(void *arg)
{
    job *j = arg;
    while (run_one(j)) {
    }
    return NULL;
}

int henn__parallel_for(size_t count, const henn_batch_opts *opts, henn__chunk_fn fn, void *ctx)
{
    unsigned threads = opts != NULL && opts->threads > 0 ? opts->threads : henn__cpu_count();
    henn_progress_fn progress = opts != NULL ? opts->progress : NULL;
    void *user = opts != NULL ? opts->user : NULL;
    pthread_t *tids = NULL;
    unsigned started = 0, i;
    job j;

    if (count == 0) {
        if (progress != NULL)
            progress(user, 0, 0);
        return 0;
    }
    if (threads > 256)
        threads = 256;
    if ((size_t)threads > count)
        threads = (unsigned)count;
    j.count = count;
    /* Small chunks keep threads balanced and progress smooth. */
    j.chunk = count / ((size_t)threads * 16);
    if (j.chunk < 1)
        j.chunk = 1;
    if (j.chunk > 64)
        j.chunk = 64;
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.err, 0);
    j.fn = fn;
    j.ctx = ctx;

    if (threads > 1) {
        tids = calloc(threads - 1, sizeof(*tids));
        if (tids == NULL)
            return HENN_ENOMEM;
        for (i = 0; i + 1 < threads; i++) {
            if (pthread_create(&tids[i], NULL, worker, &j) != 0)
                break; /* run with the threads we have */
            started++;
        }
    }
    while (run_one(&j)) {
        if (progress != NULL)
            progress(user, atomic_load(&j.done), count);
    }
    for (i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    if (progress != NULL)
        progress(user, count, count);
    return atomic_load(&j.err);
}
