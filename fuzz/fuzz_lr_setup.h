/* Shared set-up of the LR protocol fuzz targets and their seed generator:
 * a small session (N = 4096, insecure, tests only) with 20 records of
 * dimension 2, trained for two full-batch epochs with sigma3. */
#ifndef HENN_FUZZ_LR_SETUP_H
#define HENN_FUZZ_LR_SETUP_H

#include <stdlib.h>
#include <string.h>

#include "henn/henn.h"
#include "protocol/lr_wire.h"

#define FUZZ_LR_ROWS 20
#define FUZZ_LR_DIM 2

static double fuzz_lr_X[FUZZ_LR_ROWS * FUZZ_LR_DIM], fuzz_lr_y[FUZZ_LR_ROWS];

static void fuzz_lr_data(henn_lr_data *d, henn_lr_opts *o)
{
    for (size_t i = 0; i < FUZZ_LR_ROWS; i++) {
        fuzz_lr_X[2 * i] = (double)i / 10.0 - 1.0;
        fuzz_lr_X[2 * i + 1] = (double)(i % 7) / 3.0 - 1.0;
        fuzz_lr_y[i] = (double)(i % 3 == 0);
    }
    d->rows = FUZZ_LR_ROWS;
    d->dim = FUZZ_LR_DIM;
    d->X = fuzz_lr_X;
    d->y = fuzz_lr_y;
    memset(o, 0, sizeof(*o));
    o->epochs = 2;
    o->alpha = 1.0;
    o->lambda = 1.0;
    o->sigmoid = HENN_LR_SIGMOID_POLY3;
}

static const henn_lr_client_opts fuzz_lr_client_opts = {.N = 4096,
                                                        .flags = HENN_LR_INSECURE_TEST};

static void fuzz_lr_limits(henn_lr_server_limits *l)
{
    henn_lr_server_limits_default(l);
    l->allow_insecure = 1;
}

/* A message sequence: each message as long as its header says (clipped to
 * what is left; the whole rest when the header is not one). */
typedef struct fuzz_lr_feed {
    const uint8_t *data;
    size_t size, pos;
} fuzz_lr_feed;

static size_t fuzz_lr_next_len(const fuzz_lr_feed *f)
{
    const uint8_t *p = f->data + f->pos;
    size_t left = f->size - f->pos, len;
    if (left < HENN__LR_HEADER || memcmp(p, "HNL\x01", 4) != 0)
        return left;
    len = HENN__LR_HEADER +
          ((size_t)p[8] << 24 | (size_t)p[9] << 16 | (size_t)p[10] << 8 | (size_t)p[11]);
    return len < left ? len : left;
}

#endif
