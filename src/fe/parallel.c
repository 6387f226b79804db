/*
 * parallel.c: split a range of independent items over a few threads
 * (encryption of a long vector, decoding a long ciphertext).
 */
#include <pthread.h>
#include <stdlib.h>

#include "fe/fe_internal.h"

#define FE_MAX_THREADS 64

typedef struct {
    henn__fe_range_fn fn;
    void *arg;
    size_t lo, hi;
    int rc;
} range_job;

static void *run_range(void *v)
{
    range_job *j = v;
    j->rc = j->fn(j->arg, j->lo, j->hi);
    return NULL;
}

int henn__fe_parallel(henn__fe_range_fn fn, void *arg, size_t count, unsigned threads)
{
    if (threads > FE_MAX_THREADS)
        threads = FE_MAX_THREADS;
    if (threads <= 1 || count < 2 * (size_t)threads)
        return fn(arg, 0, count);
    range_job job[FE_MAX_THREADS];
    pthread_t tid[FE_MAX_THREADS];
    int started[FE_MAX_THREADS] = {0};
    size_t per = count / threads, extra = count % threads, lo = 0;
    for (unsigned t = 0; t < threads; t++) {
        size_t len = per + (t < extra ? 1 : 0);
        job[t] = (range_job){fn, arg, lo, lo + len, 0};
        lo += len;
    }
    /* thread 0's range runs here; the others on new threads (inline when
     * a thread cannot be created) */
    for (unsigned t = 1; t < threads; t++)
        started[t] = pthread_create(&tid[t], NULL, run_range, &job[t]) == 0;
    run_range(&job[0]);
    for (unsigned t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_range(&job[t]);
    }
    for (unsigned t = 0; t < threads; t++)
        if (job[t].rc != 0)
            return job[t].rc;
    return 0;
}
