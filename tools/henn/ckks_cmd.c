/*
 * henn ckks keygen / encrypt / decrypt: CKKS keys in a directory, CSV
 * vectors in, one ciphertext per CSV line out, and back. The files are the
 * library's binary formats (docs/CKKS.md, "Formats"); a ciphertext file is
 * the concatenation of one or more ciphertext objects.
 */
#define _POSIX_C_SOURCE 200809L
#include "ckks_cmd.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_ckks.h"
#include "cli_util.h"
#include "henn/henn.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *ckks_usage_text =
    "usage: henn ckks keygen --dir D [options]\n"
    "       henn ckks encrypt --params P (--pk K | --sk S) --in CSV --out CT [options]\n"
    "       henn ckks decrypt --params P --sk S --in CT [options]\n"
    "\n"
    "keygen:\n"
    "  --dir D             directory for the key files (created with mode 0700 if\n"
    "                      missing): params.bin, public.bin, relin.bin, galois.bin,\n"
    "                      secret.bin (0600); existing files are kept unless --force\n"
    "  --N N               ring degree, 4096..65536 (default 8192): N/2 slots\n"
    "  --primes LIST       prime bit sizes, the last one the special prime P\n"
    "                      (default 60,40,40,60)\n"
    "  --scale-bits B      the scale you plan to use (checked against the primes)\n"
    "  --steps LIST        rotation steps for the Galois keys, e.g. 1,-1,8;\n"
    "                      'default' (+-2^i and conjugation) or 'none'\n"
    "encrypt:\n"
    "  --params P --pk K   public-key encryption (or --sk S: symmetric, seed-compressed)\n"
    "  --in CSV            numbers separated by commas, one vector per line (blank\n"
    "                      lines skipped; '-' for stdin); each line is a ciphertext\n"
    "  --out CT            output file ('-' for stdout)\n"
    "  --scale-bits B      scale 2^B (default: the size of the last data prime, at\n"
    "                      most q_0's size minus 10 bits)\n"
    "decrypt:\n"
    "  --params P --sk S --in CT\n"
    "  --count n           slots printed per ciphertext (default N/2)\n"
    "  --out F             write the numbers to F (mode 0600) instead of stdout\n"
    "all:\n"
    "  --insecure-test-params  accept parameters beyond the 128-bit table (tests)\n";

static int ckks_usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "henn: %s\n", msg);
    fputs(ckks_usage_text, stderr);
    return EXIT_USAGE;
}

typedef struct {
    const char *dir, *N, *primes, *scale_bits, *steps, *params, *pk, *sk, *in, *out, *count;
    int force, insecure, help;
} ckks_opts;

static int parse(ckks_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--dir") == 0)
            slot = &o->dir;
        else if (strcmp(a, "--N") == 0 || strcmp(a, "--n") == 0)
            slot = &o->N;
        else if (strcmp(a, "--primes") == 0)
            slot = &o->primes;
        else if (strcmp(a, "--scale-bits") == 0)
            slot = &o->scale_bits;
        else if (strcmp(a, "--steps") == 0)
            slot = &o->steps;
        else if (strcmp(a, "--params") == 0)
            slot = &o->params;
        else if (strcmp(a, "--pk") == 0)
            slot = &o->pk;
        else if (strcmp(a, "--sk") == 0)
            slot = &o->sk;
        else if (strcmp(a, "--in") == 0)
            slot = &o->in;
        else if (strcmp(a, "--out") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0)
            slot = &o->out;
        else if (strcmp(a, "--count") == 0)
            slot = &o->count;
        else if (strcmp(a, "--force") == 0)
            o->force = 1;
        else if (strcmp(a, "--insecure-test-params") == 0)
            o->insecure = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->help = 1;
        else {
            fprintf(stderr, "henn: unknown option or argument '%s'\n", a);
            return -1;
        }
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "henn: option %s needs a value\n", a);
                return -1;
            }
            *slot = argv[++i];
        }
    }
    return 0;
}

/* A comma-separated list of integers in [lo, hi]; at most max entries.
 * Returns the count, or -1. */
static int parse_int_list(int *out, size_t max, const char *s, long lo, long hi)
{
    size_t n = 0;
    const char *p = s;
    if (s == NULL || *s == '\0')
        return -1;
    for (;;) {
        char *end;
        long v;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < lo || v > hi || n >= max)
            return -1;
        out[n++] = (int)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    return (int)n;
}

/* ------------------------------------------------------------- files -- */

/* Read a binary file whole. Prints "cannot read WHAT FILE" on failure.
 * Free with henn_free(*buf, *len + 1). */
static int read_bin(uint8_t **buf, size_t *len, const char *path, const char *what)
{
    char *b = NULL;
    int rc = cli_read_file(&b, len, path);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read %s %s: %s\n", what, path,
                rc == HENN_EFORMAT ? "larger than 64 MiB" : strerror(errno));
        return rc;
    }
    *buf = (uint8_t *)b;
    return 0;
}

/* Message for a file that is not a valid object of its kind. */
static void bad_file(const char *path, const char *what, int rc)
{
    if (rc == HENN_EKEY)
        fprintf(stderr, "henn: %s: %s made with other CKKS parameters (HENN_EKEY)\n", path, what);
    else
        fprintf(stderr, "henn: %s: not a valid CKKS %s: %s (%s)\n", path, what,
                henn_strerror(rc), henn_err_name(rc));
}

static int load_params(henn_ckks_params *params, const char *path, int insecure)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_bin(&buf, &len, path, "parameters");
    if (rc != 0)
        return rc;
    rc = henn_ckks_params_deserialize(params, buf, len, insecure ? HENN_CKKS_INSECURE : 0u);
    henn_free(buf, len + 1);
    if (rc == HENN_EPARAM)
        fprintf(stderr,
                "henn: %s: the parameters exceed the 128-bit security table "
                "(--insecure-test-params accepts them for tests) (HENN_EPARAM)\n",
                path);
    else if (rc != 0)
        bad_file(path, "parameter file", rc);
    return rc;
}

static int load_sk(henn_ckks_sk *sk, const henn_ckks_params *params, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_bin(&buf, &len, path, "secret key");
    if (rc != 0)
        return rc;
    rc = henn_ckks_sk_deserialize(sk, params, buf, len);
    henn_free(buf, len + 1);
    if (rc != 0)
        bad_file(path, "secret key", rc);
    return rc;
}

static int load_pk(henn_ckks_pk *pk, const henn_ckks_params *params, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_bin(&buf, &len, path, "public key");
    if (rc != 0)
        return rc;
    rc = henn_ckks_pk_deserialize(pk, params, buf, len);
    henn_free(buf, len + 1);
    if (rc != 0)
        bad_file(path, "public key", rc);
    return rc;
}

/* Write dir/name through cli_write_new_file; prints its own message. */
static int write_key_file(const char *dir, const char *name, uint8_t *buf, size_t len,
                          unsigned mode, int force)
{
    char path[PATH_MAX];
    int rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        henn_free(buf, len);
        fprintf(stderr, "henn: --dir is too long\n");
        return HENN_EINVAL;
    }
    rc = cli_write_new_file(path, buf, len, mode, force);
    henn_free(buf, len);
    if (rc == CLI_EXISTS)
        fprintf(stderr, "henn: %s already exists; not overwritten (--force replaces it)\n", path);
    else if (rc != 0)
        fprintf(stderr, "henn: cannot write %s: %s\n", path, strerror(errno));
    return rc;
}

/* ------------------------------------------------------------ keygen -- */

static int cmd_keygen(int argc, char **argv)
{
    ckks_opts o;
    int bits[HENN_CKKS_MAX_PRIMES] = {60, 40, 40, 60}, steps[64];
    int nbits = 4, nsteps = 0, scale_bits = 0, rc;
    size_t N = 8192;
    henn_ckks_params params = {0};
    henn_ckks_sk sk = {0};
    henn_ckks_pk pk = {0};
    henn_ckks_relin_key rk = {0};
    henn_ckks_galois_keys gk = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    int default_steps = 1;
    struct stat st;

    if (parse(&o, argc, argv) != 0 || o.help)
        return ckks_usage(NULL);
    if (o.dir == NULL)
        return ckks_usage("ckks keygen needs --dir");
    if (o.params || o.pk || o.sk || o.in || o.out || o.count)
        return ckks_usage("ckks keygen takes --dir, --N, --primes, --scale-bits, --steps");
    if (o.N != NULL && (cli_parse_size(&N, o.N, 4096, 65536) != 0 || (N & (N - 1)) != 0))
        return ckks_usage("--N must be a power of two from 4096 to 65536");
    if (o.primes != NULL) {
        nbits = parse_int_list(bits, HENN_CKKS_MAX_PRIMES, o.primes, HENN_CKKS_MIN_PRIME_BITS,
                               HENN_CKKS_MAX_PRIME_BITS);
        if (nbits < 2)
            return ckks_usage("--primes must list 2 to 64 bit sizes from 17 to 60, "
                              "e.g. 60,40,40,60");
    }
    if (o.scale_bits != NULL &&
        (parse_int_list(&scale_bits, 1, o.scale_bits, 1, 100) != 1 || scale_bits >= bits[0]))
        return ckks_usage("--scale-bits must be below the size of the first prime");
    if (o.steps != NULL && strcmp(o.steps, "default") != 0) {
        default_steps = 0;
        if (strcmp(o.steps, "none") != 0) {
            nsteps = parse_int_list(steps, 64, o.steps, -(long)N / 2 + 1, (long)N / 2 - 1);
            if (nsteps < 1)
                return ckks_usage("--steps must be 'default', 'none' or a list such as 1,-1,8 "
                                  "(|step| < N/2, at most 64)");
        }
    }

    rc = henn_ckks_params_init(&params, N, bits, (size_t)nbits,
                               o.insecure ? HENN_CKKS_INSECURE : 0u);
    if (rc == HENN_EPARAM) {
        fprintf(stderr,
                "henn: ckks keygen: log2(PQ) exceeds %d bits, the 128-bit security bound for "
                "N = %zu; use fewer or smaller primes or a larger N (HENN_EPARAM)\n",
                henn_ckks_max_log2_pq(N), N);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "henn: ckks keygen: cannot build these parameters: %s (%s)\n",
                henn_strerror(rc), henn_err_name(rc));
        return rc == HENN_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    if (stat(o.dir, &st) != 0) {
        if (mkdir(o.dir, 0700) != 0) {
            fprintf(stderr, "henn: cannot create directory %s: %s\n", o.dir, strerror(errno));
            rc = HENN_EIO;
            goto done;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "henn: %s is not a directory\n", o.dir);
        rc = HENN_EIO;
        goto done;
    }
    /* refuse early rather than after key generation (O_EXCL still decides) */
    if (!o.force) {
        static const char *const names[] = {"secret.bin", "params.bin", "public.bin",
                                            "relin.bin", "galois.bin"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char path[PATH_MAX];
            struct stat lst;
            snprintf(path, sizeof(path), "%s/%s", o.dir, names[i]);
            if (lstat(path, &lst) == 0) {
                fprintf(stderr, "henn: %s already exists; not overwritten (--force replaces "
                                "it)\n", path);
                rc = CLI_EXISTS;
                goto done;
            }
        }
    }
    fprintf(stderr, "henn: CKKS N = %zu, %zu data primes + special prime, log2(PQ) = %.1f\n",
            params.N, params.L, params.log2_pq);

    rc = henn_ckks_keygen(&sk, &pk, &params);
    if (rc == 0)
        rc = henn_ckks_relin_keygen(&rk, &sk);
    if (rc == 0)
        rc = default_steps ? henn_ckks_galois_keygen(&gk, &sk, NULL, 0, 1)
                           : henn_ckks_galois_keygen(&gk, &sk, steps, (size_t)nsteps, 0);
    if (rc != 0) {
        cli_error("ckks keygen", rc);
        goto done;
    }
    /* secret key first: if it cannot be written, nothing else is */
    rc = henn_ckks_sk_serialize(&buf, &len, &sk);
    if (rc == 0)
        rc = write_key_file(o.dir, "secret.bin", buf, len, 0600, o.force);
    if (rc == 0 && (rc = henn_ckks_params_serialize(&buf, &len, &params)) == 0)
        rc = write_key_file(o.dir, "params.bin", buf, len, 0644, o.force);
    if (rc == 0 && (rc = henn_ckks_pk_serialize(&buf, &len, &pk)) == 0)
        rc = write_key_file(o.dir, "public.bin", buf, len, 0644, o.force);
    if (rc == 0 && (rc = henn_ckks_relin_key_serialize(&buf, &len, &rk)) == 0)
        rc = write_key_file(o.dir, "relin.bin", buf, len, 0644, o.force);
    if (rc == 0 && (rc = henn_ckks_galois_keys_serialize(&buf, &len, &gk)) == 0)
        rc = write_key_file(o.dir, "galois.bin", buf, len, 0644, o.force);
    if (rc != 0)
        goto done;
    fprintf(stderr,
            "henn: keys written to %s: params.bin, public.bin, relin.bin, galois.bin (%zu "
            "Galois keys), secret.bin (mode 0600)\n",
            o.dir, gk.count);
    if (scale_bits > 0)
        fprintf(stderr,
                "henn: at scale 2^%d: %zu slots, values below about 2^%d in magnitude at "
                "level 0, %zu rescales\n",
                scale_bits, params.N / 2, params.bits[0] - scale_bits - 1, params.L - 1);
done:
    henn_ckks_galois_keys_clear(&gk);
    henn_ckks_relin_key_clear(&rk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_sk_clear(&sk);
    henn_ckks_params_clear(&params);
    return rc == 0 ? 0 : EXIT_FAIL;
}

/* ----------------------------------------------------------- encrypt -- */

/* Default scale bits for params: the last data prime's size, at most q_0's
 * size minus 10 (so that values up to about 2^9 decrypt at level 0). */
static int default_scale_bits(const henn_ckks_params *params)
{
    int b = params->bits[params->L - 1];
    return b < params->bits[0] - 10 ? b : params->bits[0] - 10;
}

/* Parse one CSV line (NUL-terminated, no newline) into values; *count
 * receives the number of values. Prints "FILE:LINE: ..." and returns -1 on
 * an error. */
static int parse_line(double *values, size_t *count, size_t max, char *line, const char *path,
                      size_t lineno)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        double x = 0;
        int r;
        if (comma != NULL)
            *comma = '\0';
        if (n >= max) {
            fprintf(stderr, "henn: %s:%zu: more than %zu values (N/2 slots)\n", path, lineno,
                    max);
            return -1;
        }
        r = cli_parse_float(&x, p);
        if (r != 0) {
            fprintf(stderr, "henn: %s:%zu: field %zu: '%s' is not %s\n", path, lineno, n + 1, p,
                    r == CLI_NOT_FINITE ? "a finite number" : "a number");
            return -1;
        }
        values[n++] = x;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *count = n;
    return 0;
}

/* Is the line empty or only ASCII white space? */
static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

static int cmd_encrypt(int argc, char **argv)
{
    ckks_opts o;
    henn_ckks_params params = {0};
    henn_ckks_pk pk = {0};
    henn_ckks_sk sk = {0};
    henn_ckks_pt pt = {0};
    henn_ckks_ct ct = {0};
    char *text = NULL;
    size_t text_len = 0, lineno = 0, nct = 0, out_len = 0, out_cap = 0;
    uint8_t *out = NULL, seed[HENN_CKKS_SEEDBYTES];
    double *values = NULL, scale;
    int scale_bits = 0, rc;
    char *line, *next;

    if (parse(&o, argc, argv) != 0 || o.help)
        return ckks_usage(NULL);
    if (o.params == NULL || o.in == NULL || o.out == NULL || (o.pk == NULL) == (o.sk == NULL))
        return ckks_usage("ckks encrypt needs --params, --in, --out and one of --pk, --sk");
    if (o.dir || o.N || o.primes || o.steps || o.count)
        return ckks_usage("ckks encrypt takes --params, --pk or --sk, --in, --out, --scale-bits");
    if (o.scale_bits != NULL && parse_int_list(&scale_bits, 1, o.scale_bits, 1, 120) != 1)
        return ckks_usage("--scale-bits must be a number of bits, 1 to 120");
    rc = load_params(&params, o.params, o.insecure);
    if (rc != 0)
        return rc == HENN_EPARAM ? EXIT_USAGE : EXIT_FAIL;
    rc = o.pk != NULL ? load_pk(&pk, &params, o.pk) : load_sk(&sk, &params, o.sk);
    if (rc != 0)
        goto done;
    if (scale_bits == 0)
        scale_bits = default_scale_bits(&params);
    scale = ldexp(1.0, scale_bits);
    rc = cli_read_file(&text, &text_len, o.in);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read %s: %s\n", o.in, strerror(errno));
        goto done;
    }
    values = malloc(params.N / 2 * sizeof(*values));
    if (values == NULL) {
        rc = HENN_ENOMEM;
        cli_error("ckks encrypt", rc);
        goto done;
    }
    for (line = text; line != NULL && *line != '\0'; line = next) {
        size_t count = 0, len = 0;
        uint8_t *buf = NULL;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        if (blank(line))
            continue;
        if (parse_line(values, &count, params.N / 2, line, o.in, lineno) != 0) {
            rc = HENN_EFORMAT;
            goto done;
        }
        rc = henn_ckks_encode(&pt, &params, values, count, scale, params.L - 1);
        if (rc == HENN_ERANGE) {
            fprintf(stderr,
                    "henn: %s:%zu: a value times the scale 2^%d does not fit the primes "
                    "(HENN_ERANGE); use smaller values or --scale-bits\n",
                    o.in, lineno, scale_bits);
            goto done;
        }
        if (rc == 0)
            rc = o.pk != NULL ? henn_ckks_encrypt(&ct, &pk, &pt)
                              : henn_ckks_encrypt_symmetric(&ct, seed, &sk, &pt);
        if (rc == 0)
            rc = henn_ckks_ct_serialize(&buf, &len, &ct, o.pk != NULL ? NULL : seed);
        if (rc != 0) {
            cli_error("ckks encrypt", rc);
            goto done;
        }
        if (out_len + len > out_cap) {
            size_t cap = (out_len + len) * 2;
            uint8_t *b = malloc(cap);
            if (b == NULL) {
                henn_free(buf, len);
                rc = HENN_ENOMEM;
                cli_error("ckks encrypt", rc);
                goto done;
            }
            if (out != NULL)
                memcpy(b, out, out_len);
            free(out);
            out = b;
            out_cap = cap;
        }
        memcpy(out + out_len, buf, len);
        out_len += len;
        henn_free(buf, len);
        nct++;
    }
    if (nct == 0) {
        fprintf(stderr, "henn: %s: no values to encrypt\n", o.in);
        rc = HENN_EFORMAT;
        goto done;
    }
    rc = cli_write_file(o.out, out, out_len, 0644);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot write %s: %s\n", o.out, strerror(errno));
        goto done;
    }
    fprintf(stderr, "henn: %zu ciphertext%s at scale 2^%d written to %s (%zu bytes)\n", nct,
            nct == 1 ? "" : "s", scale_bits, o.out, out_len);
done:
    free(out);
    if (values != NULL)
        henn_free(values, params.N / 2 * sizeof(*values));
    if (text != NULL)
        henn_free(text, text_len + 1);
    henn_ckks_ct_clear(&ct);
    henn_ckks_pt_clear(&pt);
    henn_ckks_sk_clear(&sk);
    henn_ckks_pk_clear(&pk);
    henn_ckks_params_clear(&params);
    return rc == 0 ? 0 : EXIT_FAIL;
}

/* ----------------------------------------------------------- decrypt -- */

/* Append text to a growing buffer (wiped when it moves). */
static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *b = malloc(c);
        if (b == NULL)
            return HENN_ENOMEM;
        if (*buf != NULL) {
            memcpy(b, *buf, *len);
            henn_free(*buf, *cap);
        }
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

static int cmd_decrypt(int argc, char **argv)
{
    ckks_opts o;
    henn_ckks_params params = {0};
    henn_ckks_sk sk = {0};
    henn_ckks_pt pt = {0};
    henn_ckks_ct ct = {0};
    uint8_t *in = NULL;
    size_t in_len = 0, off = 0, count = 0, k = 0, text_len = 0, text_cap = 0;
    double *values = NULL;
    char *text = NULL;
    int rc;

    if (parse(&o, argc, argv) != 0 || o.help)
        return ckks_usage(NULL);
    if (o.params == NULL || o.sk == NULL || o.in == NULL)
        return ckks_usage("ckks decrypt needs --params, --sk and --in");
    if (o.dir || o.N || o.primes || o.steps || o.pk || o.scale_bits)
        return ckks_usage("ckks decrypt takes --params, --sk, --in, --count, --out");
    rc = load_params(&params, o.params, o.insecure);
    if (rc != 0)
        return rc == HENN_EPARAM ? EXIT_USAGE : EXIT_FAIL;
    count = params.N / 2;
    if (o.count != NULL && cli_parse_size(&count, o.count, 1, params.N / 2) != 0) {
        fprintf(stderr, "henn: --count must be 1 to %zu (N/2)\n", params.N / 2);
        henn_ckks_params_clear(&params);
        return EXIT_USAGE;
    }
    rc = load_sk(&sk, &params, o.sk);
    if (rc == 0)
        rc = read_bin(&in, &in_len, o.in, "ciphertext");
    if (rc != 0)
        goto done;
    values = malloc(count * sizeof(*values));
    if (values == NULL) {
        rc = HENN_ENOMEM;
        cli_error("ckks decrypt", rc);
        goto done;
    }
    if (in_len == 0) {
        fprintf(stderr, "henn: %s: empty file, no ciphertext\n", o.in);
        rc = HENN_EFORMAT;
        goto done;
    }
    /* every ciphertext is checked before anything is printed */
    while (off < in_len) {
        int type = 0;
        size_t len = 0;
        rc = henn_ckks_serialized_info(&type, &len, &params, in + off, in_len - off);
        if (rc == 0 && type != HENN_CKKS_OBJ_CT && type != HENN_CKKS_OBJ_CT_SEEDED)
            rc = HENN_EFORMAT;
        if (rc == 0)
            rc = henn_ckks_ct_deserialize(&ct, &params, in + off, len);
        if (rc != 0) {
            if (rc == HENN_EFORMAT && k == 0 && off == 0)
                fprintf(stderr,
                        "henn: %s: not a valid CKKS ciphertext for these parameters "
                        "(truncated or damaged?): %s (%s)\n",
                        o.in, henn_strerror(rc), henn_err_name(rc));
            else if (rc == HENN_EKEY)
                fprintf(stderr, "henn: %s: ciphertext %zu was made with other CKKS parameters "
                                "(HENN_EKEY)\n", o.in, k + 1);
            else
                fprintf(stderr, "henn: %s: ciphertext %zu (byte %zu) is not valid "
                                "(truncated or damaged?): %s (%s)\n",
                        o.in, k + 1, off, henn_strerror(rc), henn_err_name(rc));
            goto done;
        }
        rc = henn_ckks_decrypt(&pt, &sk, &ct);
        if (rc == 0)
            rc = henn_ckks_decode(values, count, &pt);
        if (rc != 0) {
            cli_error("ckks decrypt", rc);
            goto done;
        }
        if (k > 0)
            rc = append(&text, &text_len, &text_cap, "\n");
        for (size_t i = 0; i < count && rc == 0; i++) {
            char num[CLI_FLOAT_CHARS + 1];
            cli_format_float(num, values[i]);
            strcat(num, "\n");
            rc = append(&text, &text_len, &text_cap, num);
            henn_memzero(num, sizeof(num));
        }
        if (rc != 0) {
            cli_error("ckks decrypt", rc);
            goto done;
        }
        off += len;
        k++;
    }
    rc = cli_write_file(o.out != NULL ? o.out : "-", text, text_len, 0600);
    if (rc != 0)
        fprintf(stderr, "henn: cannot write %s: %s\n", o.out != NULL ? o.out : "stdout",
                strerror(errno));
done:
    if (text != NULL)
        henn_free(text, text_cap);
    if (values != NULL)
        henn_free(values, count * sizeof(*values));
    if (in != NULL)
        henn_free(in, in_len + 1);
    henn_ckks_ct_clear(&ct);
    henn_ckks_pt_clear(&pt);
    henn_ckks_sk_clear(&sk);
    henn_ckks_params_clear(&params);
    return rc == 0 ? 0 : EXIT_FAIL;
}

int henn_cli_ckks(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
        strcmp(argv[0], "help") == 0) {
        if (argc >= 1) {
            fputs(ckks_usage_text, stdout);
            return 0;
        }
        return ckks_usage("ckks takes a command: keygen, encrypt or decrypt");
    }
    if (strcmp(argv[0], "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (strcmp(argv[0], "encrypt") == 0)
        return cmd_encrypt(argc - 1, argv + 1);
    if (strcmp(argv[0], "decrypt") == 0)
        return cmd_decrypt(argc - 1, argv + 1);
    fprintf(stderr, "henn: unknown ckks command '%s'\n", argv[0]);
    return ckks_usage(NULL);
}

/* ------------------------------------------------------------- bench -- */

int henn_cli_bench_ckks(int argc, char **argv)
{
    henn_bench_ckks_config cfg = {0};
    cfg.seconds = 0.3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            cfg.json = 1;
        } else if (strcmp(a, "--quick") == 0) {
            cfg.quick = 1;
        } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
            if (cli_parse_float(&cfg.seconds, argv[++i]) != 0 || cfg.seconds <= 0 ||
                cfg.seconds > 60)
                return ckks_usage("--seconds must be above 0 and at most 60");
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cfg.only = argv[++i];
            if (strcmp(cfg.only, "A") != 0 && strcmp(cfg.only, "B") != 0 &&
                strcmp(cfg.only, "C") != 0 && strcmp(cfg.only, "D") != 0)
                return ckks_usage("--config must be A, B, C or D");
        } else {
            fprintf(stderr,
                    "henn: bench ckks takes [--json] [--quick] [--seconds S] [--config A|B|C|D]\n");
            return EXIT_USAGE;
        }
    }
    return henn_bench_ckks(&cfg) == 0 ? 0 : EXIT_FAIL;
}
