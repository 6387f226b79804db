/* Helpers for the henn command-line tool: files, messages, progress. */
#ifndef HENN_CLI_UTIL_H
#define HENN_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* Read a whole file ("-" = stdin) into a NUL-terminated buffer (max 64 MiB)
 * with open()/read(), never through stdio buffers (key files hold secrets).
 * Returns 0 or a HENN_E* code. Free with henn_free(buf, len + 1), which
 * wipes it; blocks dropped while growing are wiped too. */
int cli_read_file(char **buf, size_t *len, const char *path);

/* Write len bytes to path ("-" = stdout). A regular file is created or
 * truncated and given exactly this mode before anything is written (0600
 * for plaintexts); a device such as /dev/stdout keeps its own. */
int cli_write_file(const char *path, const void *buf, size_t len, unsigned mode);

/* A file that did not exist: cli_write_new_file's answer when path exists
 * (a positive code, unlike the negative HENN_E* codes). */
#define CLI_EXISTS 1
/* Write a key file ("-" = stdout): created with O_CREAT | O_EXCL |
 * O_NOFOLLOW and exactly this mode, CLI_EXISTS if anything (a file, a
 * link) is at path. force: write a new file beside path and rename() it
 * over path, so an existing link is replaced, never followed. */
int cli_write_new_file(const char *path, const void *buf, size_t len, unsigned mode, int force);

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

/* cli_parse_float answers besides 0 (both positive). */
#define CLI_NOT_A_NUMBER 1
#define CLI_NOT_FINITE 2
/* A number as Python's float() reads it (what pheutil does with its
 * NUMBER arguments): surrounding ASCII whitespace, a sign, decimal digits
 * with single underscores between digits, an optional fraction and
 * exponent; correctly rounded, underflow to a subnormal or 0.0. Refused:
 * hex, a misplaced underscore, anything else (CLI_NOT_A_NUMBER), and inf,
 * nan and overflow, which Python accepts but henn cannot encrypt
 * (CLI_NOT_FINITE). Non-ASCII digits and spaces are not accepted. */
int cli_parse_float(double *x, const char *s);

/* Room for any cli_format_float output and its NUL. */
#define CLI_FLOAT_CHARS 32
/* x as Python's repr(float) writes it (what pheutil decrypt prints): the
 * shortest digits that read back as x; scientific notation when the
 * decimal exponent is below -4 or at least 16 ("1e+16", "1.5e-05",
 * "5e-324"), else fixed with ".0" for integral values ("1500.0"). x must
 * be finite. */
void cli_format_float(char out[CLI_FLOAT_CHARS], double x);

#endif
