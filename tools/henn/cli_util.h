/* Helpers for the henn command-line tool: files, messages, progress. */
#ifndef HENN_CLI_UTIL_H
#define HENN_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* Read a whole file ("-" = stdin) into a NUL-terminated buffer (max 64 MiB).
 * Returns 0 or a HENN_E* code. Free with henn_free(buf, len + 1). */
int cli_read_file(char **buf, size_t *len, const char *path);

/* Write len bytes to path ("-" = stdout), creating it with the given mode
 * (0600 for secret keys; an existing file is truncated and re-moded). */
int cli_write_file(const char *path, const void *buf, size_t len, unsigned mode);

/* Print "henn: <what>: <henn_strerror(rc)>" to stderr. */
void cli_error(const char *what, int rc);

/* Progress line on stderr when it is a terminal: "label done/total rate ETA". */
typedef struct {
    const char *label;
    double start;
    double last;
    int tty;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label);
/* henn_progress_fn-compatible callback; user = cli_progress *. */
void cli_progress_cb(void *user, size_t done, size_t total);

double cli_now(void);

/* Parse a decimal size in [lo, hi] (no sign, no junk). Returns 0 or -1. */
int cli_parse_size(size_t *out, const char *s, size_t lo, size_t hi);

#endif
