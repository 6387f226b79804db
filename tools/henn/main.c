/*
 * henn: command-line tool. Paillier commands work on python-paillier's JSON
 * files (the jobs of python-paillier's pheutil); results of homomorphic
 * operations are re-randomised before they are written.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "bench_paillier.h"
#include "bench_fe.h"
#include "ckks_cmd.h"
#include "cryptonn_cmd.h"
#include "cli_util.h"
#include "kdd_cmd.h"
#include "lr_cmd.h"
#include "serve_cmd.h"
#include "henn/henn.h"

/* Exit statuses: 0 ok, 1 runtime failure (bad input file, crypto error),
 * 2 usage error. */
enum { EXIT_USAGE = 2 };

static const char *usage_text =
    "usage: henn <command> [options] [args]\n"
    "\n"
    "Paillier (python-paillier compatible JSON files; pheutil's commands and\n"
    "arguments work too; FILE may be '-' for stdin or stdout):\n"
    "  keygen [--bits N] [--id TEXT] [--public PUBFILE] [--force] PRIVFILE\n"
    "                      generate a key pair (n of 2048, 3072 or 4096 bits);\n"
    "                      PRIVFILE is written with mode 0600; existing files\n"
    "                      are kept unless --force (also: genpkey, --keysize)\n"
    "  extract [--force] PRIVFILE PUBFILE\n"
    "                      write the public key of a private key\n"
    "  encrypt [--output F] PUBFILE NUMBER\n"
    "                      encrypt a number ({\"v\": ..., \"e\": ...})\n"
    "  decrypt [--output F] PRIVFILE CTFILE\n"
    "                      decrypt and print a number as pheutil does (F: mode 0600)\n"
    "  add [--output F] PUBFILE CTFILE (CTFILE2 | NUMBER | --plain NUMBER)\n"
    "                      E(a) + E(b), or E(a) + b\n"
    "  addenc [--output F] PUBFILE CTFILE CTFILE2\n"
    "                      E(a) + E(b) (pheutil's name)\n"
    "  multiply [--output F] PUBFILE CTFILE NUMBER\n"
    "                      E(a) * k\n"
    "NUMBER is read as Python's float() reads it.\n"
    "\n"
    "Intrusion detection (KDD Cup 1999):\n"
    "  kdd train [--encrypted] [options]\n"
    "                      train the MLP in plaintext and, with --encrypted, on\n"
    "                      Paillier-encrypted records; prints a side-by-side table\n"
    "  kdd eval --model FILE [--encrypted] [options]\n"
    "                      evaluate a saved model (plaintext and encrypted inference)\n"
    "                      ('henn kdd --help' lists the options)\n"
    "\n"
    "CKKS (approximate arithmetic on vectors of reals; binary files, docs/CKKS.md):\n"
    "  ckks keygen --dir D [--N 8192] [--primes 60,40,40,60] [--steps LIST] [--force]\n"
    "                      params.bin, public.bin, relin.bin, galois.bin and\n"
    "                      secret.bin (mode 0600) in D; the last prime is special\n"
    "  ckks encrypt --params P (--pk K | --sk S) --in CSV --out CT [--scale-bits B]\n"
    "                      one ciphertext per CSV line of up to N/2 numbers\n"
    "  ckks decrypt --params P --sk S --in CT [--count n] [--out F]\n"
    "                      print the slots, one number per line\n"
    "                      ('henn ckks --help' lists the options)\n"
    "\n"
    "Logistic regression (breast cancer WDBC, Framingham, CSV; docs/CLI.md):\n"
    "  lr train --data wdbc|framingham|FILE.csv [--encrypted] [options]\n"
    "                      train in the clear and, with --encrypted, on CKKS-\n"
    "                      encrypted records; prints a side-by-side table\n"
    "  lr eval --model F [--data D]\n"
    "                      a saved model's metrics on the test split\n"
    "  lr export --data D --out DIR\n"
    "                      the prepared train.csv and test.csv\n"
    "                      ('henn lr --help' lists the options)\n"
    "\n"
    "CryptoNN (functional encryption, three parties; docs/THREAT_MODEL.md):\n"
    "  cryptonn train --net mlp|lenet5 --data mnist|fashion [--epochs E] [--limit N]\n"
    "                 [--json F]\n"
    "                      train on FEIP/FEBO-encrypted images next to the plaintext\n"
    "                      twin and the paper's figures\n";

/* Second half of the usage (C11 guarantees string literals of 4095
 * characters only). */
static const char *usage_text2 =
    "\n"
    "Network service (docs/SERVICE.md):\n"
    "  serve [--listen ADDR:PORT] [--data-dir DIR] [--cert F --key F] [--tokens F]\n"
    "        [--threads N] [--insecure-http] [--json]\n"
    "                      the model server; prints its URL ('henn serve --help')\n"
    "  kdd train|eval --encrypted, lr train|eval --encrypted and cryptonn train take\n"
    "  --server URL [--token F] [--ca F]: the data owner's side runs here, the\n"
    "                      service's side on the henn server at URL\n"
    "  cryptonn authority --server URL --session ID --token-file F --mpk-out F\n"
    "                      the CryptoNN key authority as a third party of a session\n"
    "\n"
    "Other:\n"
    "  demo [--bits N] [--count N] [--threads T]\n"
    "                      encrypt readings in bulk, sum them encrypted, decrypt\n"
    "  bench paillier [--bits N] [--threads T] [--json] [--seconds S]\n"
    "                      benchmark (JSON lines with --json)\n"
    "  bench ckks [--json] [--quick] [--seconds S] [--config A|B|C|D]\n"
    "                      CKKS benchmark and precision next to SEAL's figures\n"
    "  bench fe [--json] [--n N] [--table T] [--reps R]\n"
    "                      FEIP on ristretto255: encrypt, decrypt, keys, dlog\n"
    "  version             print the version\n"
    "\n"
    "Keys below 2048 bits are refused unless --insecure-test-key is given.\n"
    "Run 'henn <command> --help' for a command's options.\n";

static int usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "henn: %s\n", msg);
    fputs(usage_text, stderr);
    fputs(usage_text2, stderr);
    return EXIT_USAGE;
}

/* Simple option scanner: flags with a value, positional args collected. */
typedef struct {
    const char *output, *bits, *id, *pub, *plain, *threads, *count, *seconds;
    int insecure, json, help, force;
    const char *pos[4];
    int npos;
} opts;

static int parse_opts(opts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof(*o));
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (o->npos >= 4)
                    return -1;
                o->pos[o->npos++] = argv[i];
            }
            break;
        }
        if (strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0)
            slot = &o->output;
        else if (strcmp(a, "--bits") == 0 || strcmp(a, "--keysize") == 0)
            slot = &o->bits;
        else if (strcmp(a, "--id") == 0)
            slot = &o->id;
        else if (strcmp(a, "--public") == 0)
            slot = &o->pub;
        else if (strcmp(a, "--plain") == 0)
            slot = &o->plain;
        else if (strcmp(a, "--threads") == 0)
            slot = &o->threads;
        else if (strcmp(a, "--count") == 0)
            slot = &o->count;
        else if (strcmp(a, "--seconds") == 0)
            slot = &o->seconds;
        else if (strcmp(a, "--insecure-test-key") == 0)
            o->insecure = 1;
        else if (strcmp(a, "--json") == 0)
            o->json = 1;
        else if (strcmp(a, "--force") == 0)
            o->force = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->help = 1;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "henn: unknown option %s\n", a);
            return -1;
        } else {
            if (o->npos >= 4)
                return -1;
            o->pos[o->npos++] = a;
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

/* A number as pheutil reads it: Python's float(). */
static int parse_number(double *x, const char *s)
{
    return cli_parse_float(x, s) == 0 ? 0 : -1;
}

/* parse_number, or a usage message saying why not; returns 0 or EXIT_USAGE. */
static int number_arg(double *x, const char *s)
{
    int rc = cli_parse_float(x, s);
    if (rc == 0)
        return 0;
    fprintf(stderr, rc == CLI_NOT_FINITE ? "henn: '%s' is not a finite number\n"
                                         : "henn: '%s' is not a number\n",
            s);
    return EXIT_USAGE;
}

/* Python's limit on int-to-text conversion (sys.get_int_max_str_digits(),
 * 4300 by default since 3.11): pheutil cannot print a longer integer. */
#define MAX_INT_DIGITS 4300

/*
 * The text pheutil's decrypt prints for a plaintext: phe's decode() gives
 * an int, mantissa * 16^exponent, when the exponent is >= 0 (printed
 * exactly) and a float, mantissa / 16^-exponent correctly rounded, when it
 * is negative (printed as Python's repr). *text: malloc'd, NUL-terminated;
 * free with henn_free(*text, *len + 1).
 */
static int plaintext_text(char **text, size_t *len, const henn_paillier_pk *pk,
                          const henn_paillier_pt *pt)
{
    mpz_t m;
    int rc;
    *text = NULL;
    *len = 0;
    if (pt->exponent < 0) {
        double x = 0;
        rc = henn_paillier_decode_double(&x, pk, pt);
        if (rc == 0) {
            *text = malloc(CLI_FLOAT_CHARS);
            if (*text == NULL)
                rc = HENN_ENOMEM;
            else
                cli_format_float(*text, x);
        }
        henn_memzero(&x, sizeof(x));
    } else {
        mpz_init(m);
        rc = henn_paillier_decode_mantissa(m, pk, pt);
        /* 4300 digits hold less than 2^14284 */
        if (rc == 0 && mpz_sgn(m) != 0 &&
            mpz_sizeinbase(m, 2) + 4 * (size_t)pt->exponent > 14286)
            rc = HENN_ERANGE;
        if (rc == 0) {
            mpz_mul_2exp(m, m, 4 * (mp_bitcnt_t)pt->exponent);
            *text = malloc(mpz_sizeinbase(m, 10) + 2);
            if (*text == NULL)
                rc = HENN_ENOMEM;
            else
                mpz_get_str(*text, 10, m);
        }
        if (rc == 0 && strlen(*text + (**text == '-')) > MAX_INT_DIGITS)
            rc = HENN_ERANGE;
        mpz_clear(m); /* main() installed the wiping allocator */
    }
    if (rc == 0) {
        *len = strlen(*text);
    } else if (*text != NULL) {
        henn_free(*text, strlen(*text) + 1);
        *text = NULL;
    }
    return rc;
}

static unsigned load_flags(const opts *o)
{
    return o->insecure ? HENN_PAILLIER_INSECURE : 0u;
}

static int load_pk(henn_paillier_pk *pk, const char *path, unsigned flags)
{
    char *buf;
    size_t len;
    int rc = cli_read_file(&buf, &len, path);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read public key %s\n", path);
        return rc;
    }
    rc = henn_paillier_pk_from_json(pk, buf, len, flags);
    henn_free(buf, len + 1);
    if (rc != 0)
        fprintf(stderr, "henn: %s is not a valid Paillier public key: %s\n", path,
                henn_strerror(rc));
    return rc;
}

static int load_sk(henn_paillier_sk *sk, const char *path, unsigned flags)
{
    char *buf;
    size_t len;
    int rc = cli_read_file(&buf, &len, path);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read private key %s\n", path);
        return rc;
    }
    rc = henn_paillier_sk_from_json(sk, buf, len, flags);
    henn_free(buf, len + 1);
    if (rc != 0)
        fprintf(stderr, "henn: %s is not a valid Paillier private key: %s\n", path,
                henn_strerror(rc));
    return rc;
}

static int load_ct(henn_paillier_ct *ct, const henn_paillier_pk *pk, const char *path)
{
    char *buf;
    size_t len;
    int rc = cli_read_file(&buf, &len, path);
    if (rc != 0) {
        fprintf(stderr, "henn: cannot read ciphertext %s\n", path);
        return rc;
    }
    rc = henn_paillier_ct_from_json(ct, pk, buf, len);
    henn_free(buf, len + 1);
    if (rc != 0)
        fprintf(stderr, "henn: %s is not a valid ciphertext under this key: %s (%s)\n", path,
                henn_strerror(rc), henn_err_name(rc));
    return rc;
}

/* Write a ciphertext as pheutil does: exponent lowered to -32 when above. */
static int write_ct(const henn_paillier_pk *pk, henn_paillier_ct *ct, const char *out)
{
    char *json;
    size_t len;
    int rc = 0;
    if (ct->exponent > -32) {
        rc = henn_paillier_ct_decrease_exponent(ct, pk, ct, -32);
        if (rc == HENN_ERANGE) {
            /* python-paillier raises ValueError here too */
            fprintf(stderr,
                    "henn: cannot lower the result's exponent from %d to -32: 16^%ld "
                    "exceeds max_int (n/3 - 1) for this key\n",
                    ct->exponent, (long)ct->exponent + 32);
            return rc;
        }
    }
    if (rc == 0)
        rc = henn_paillier_ct_to_json(&json, &len, ct);
    if (rc != 0) {
        cli_error("serialising the ciphertext", rc);
        return rc;
    }
    json[len] = '\n'; /* replace the NUL; written without it */
    rc = cli_write_file(out != NULL ? out : "-", json, len + 1, 0644);
    henn_free(json, len + 1);
    if (rc != 0)
        cli_error("writing the ciphertext", rc);
    return rc;
}

/* A key file: never over an existing file or link unless force (see
 * cli_write_new_file). Prints its own message on failure. */
static int write_key(const char *path, char *json, size_t len, unsigned mode, int force)
{
    int rc;
    json[len] = '\n';
    rc = cli_write_new_file(path, json, len + 1, mode, force);
    henn_free(json, len + 1);
    if (rc == CLI_EXISTS)
        fprintf(stderr, "henn: %s already exists; not overwritten (--force replaces it)\n", path);
    else if (rc != 0)
        fprintf(stderr, "henn: cannot write %s: %s (%s)\n", path, henn_strerror(rc),
                henn_err_name(rc));
    return rc;
}

/* Message for a key id henn cannot write. */
static void kid_error(int rc)
{
    if (rc == HENN_EINVAL)
        fprintf(stderr, "henn: --id must be UTF-8 text\n");
    else
        cli_error("serialising the key", rc);
}

static int cmd_keygen(int argc, char **argv)
{
    opts o;
    henn_paillier_sk sk;
    size_t bits = HENN_PAILLIER_DEFAULT_BITS, len;
    char *json;
    int rc;
    if (parse_opts(&o, argc, argv) != 0 || o.help || o.npos != 1)
        return usage(o.help ? NULL : "keygen takes one output file");
    if (o.bits != NULL && cli_parse_size(&bits, o.bits, 64, HENN_PAILLIER_MAX_BITS) != 0)
        return usage("--bits must be an even number of bits, 2048 or more");
    henn_paillier_sk_init(&sk);
    fprintf(stderr, "henn: generating a %zu-bit Paillier key pair\n", bits);
    rc = henn_paillier_keygen(NULL, &sk, bits, load_flags(&o));
    if (rc != 0) {
        cli_error(rc == HENN_EPARAM ? "keygen (n must be 2048, 3072 or 4096 bits; even)"
                                    : "keygen",
                  rc);
        henn_paillier_sk_clear(&sk);
        return rc == HENN_EPARAM ? EXIT_USAGE : 1;
    }
    rc = henn_paillier_sk_to_json(&json, &len, &sk, o.id);
    if (rc != 0)
        kid_error(rc);
    if (rc == 0)
        rc = write_key(o.pos[0], json, len, 0600, o.force);
    if (rc == 0 && o.pub != NULL) {
        rc = henn_paillier_pk_to_json(&json, &len, &sk.pk, o.id);
        if (rc != 0)
            kid_error(rc);
        if (rc == 0)
            rc = write_key(o.pub, json, len, 0644, o.force);
    }
    henn_paillier_sk_clear(&sk);
    if (rc != 0)
        return 1;
    fprintf(stderr, "henn: private key written to %s (mode 0600)\n", o.pos[0]);
    return 0;
}

static int cmd_extract(int argc, char **argv)
{
    opts o;
    henn_paillier_sk sk;
    char *json;
    size_t len;
    int rc;
    if (parse_opts(&o, argc, argv) != 0 || o.help || o.npos != 2)
        return usage(o.help ? NULL : "extract takes PRIVFILE PUBFILE");
    henn_paillier_sk_init(&sk);
    rc = load_sk(&sk, o.pos[0], load_flags(&o));
    if (rc == 0) {
        rc = henn_paillier_pk_to_json(&json, &len, &sk.pk, o.id);
        if (rc != 0)
            kid_error(rc);
    }
    if (rc == 0)
        rc = write_key(o.pos[1], json, len, 0644, o.force);
    henn_paillier_sk_clear(&sk);
    return rc == 0 ? 0 : 1;
}

static int cmd_encrypt(int argc, char **argv)
{
    opts o;
    henn_paillier_pk pk;
    henn_paillier_pt pt;
    henn_paillier_ct ct;
    double x;
    int rc;
    if (parse_opts(&o, argc, argv) != 0 || o.help || o.npos != 2)
        return usage(o.help ? NULL : "encrypt takes PUBFILE NUMBER");
    if (number_arg(&x, o.pos[1]) != 0)
        return EXIT_USAGE;
    henn_paillier_pk_init(&pk);
    henn_paillier_pt_init(&pt);
    henn_paillier_ct_init(&ct);
    rc = load_pk(&pk, o.pos[0], load_flags(&o));
    if (rc == 0) {
        rc = henn_paillier_encode_double(&pt, &pk, x, HENN_PAILLIER_NO_MAX_EXPONENT);
        if (rc != 0)
            cli_error("encoding the number", rc);
    }
    if (rc == 0) {
        rc = henn_paillier_encrypt(&ct, &pk, &pt);
        if (rc != 0)
            cli_error("encrypting", rc);
    }
    if (rc == 0)
        rc = write_ct(&pk, &ct, o.output);
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&pt);
    henn_paillier_pk_clear(&pk);
    return rc == 0 ? 0 : 1;
}

static int cmd_decrypt(int argc, char **argv)
{
    opts o;
    henn_paillier_sk sk;
    henn_paillier_pt pt;
    henn_paillier_ct ct;
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (parse_opts(&o, argc, argv) != 0 || o.help || o.npos != 2)
        return usage(o.help ? NULL : "decrypt takes PRIVFILE CTFILE");
    henn_paillier_sk_init(&sk);
    henn_paillier_pt_init(&pt);
    henn_paillier_ct_init(&ct);
    rc = load_sk(&sk, o.pos[0], load_flags(&o));
    if (rc == 0)
        rc = load_ct(&ct, &sk.pk, o.pos[1]);
    if (rc == 0) {
        rc = henn_paillier_decrypt(&pt, &sk, &ct);
        if (rc != 0)
            cli_error("decrypting", rc);
    }
    if (rc == 0) {
        rc = plaintext_text(&text, &len, &sk.pk, &pt);
        if (rc == HENN_ERANGE && pt.exponent < 0)
            fprintf(stderr, "henn: decrypting: the value overflowed (the plaintext is outside "
                            "+-max_int) or is too large for a float (HENN_ERANGE)\n");
        else if (rc == HENN_ERANGE)
            fprintf(stderr, "henn: decrypting: the value overflowed (outside +-max_int) or "
                            "has more than %d digits (HENN_ERANGE)\n",
                    MAX_INT_DIGITS);
        else if (rc != 0)
            cli_error("decoding", rc);
    }
    if (rc == 0) {
        text[len] = '\n'; /* replaces the NUL; written without it */
        rc = cli_write_file(o.output != NULL ? o.output : "-", text, len + 1, 0600);
        if (rc != 0)
            cli_error(o.output != NULL ? o.output : "writing the plaintext", rc);
    }
    henn_free(text, len + 1);
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&pt);
    henn_paillier_sk_clear(&sk);
    return rc == 0 ? 0 : 1;
}

/*
 * The lowest exponent at which add and multiply produce a result (other
 * than by adding two ciphertexts of the same exponent). Aligning
 * exponents multiplies a mantissa by 16^d and multiply multiplies two
 * mantissas; neither the library nor the CLI sees the mantissas, so a
 * product can exceed max_int and wrap modulo n (python-paillier lets it).
 * At exponent e < 0, henn decrypt prints only values below 2^1024 in
 * magnitude (a float), which are 2^(1025 - 4e) of the n residues; at
 * e >= ceil((1154 - n_bits) / 4) that is at most n / 2^128, so a wrapped
 * result is refused at decryption, not printed, unless a residue that is
 * as good as random lands in that fraction (-223 for 2,048-bit n, -479 for
 * 3,072, -735 for 4,096). Keys below 1,282 bits (test keys) get -32 and
 * no such margin.
 */
static long exponent_floor(const henn_paillier_pk *pk)
{
    long bits = (long)pk->n_bits, f;
    if (bits <= 1154 + 4 * 32)
        return -32;
    f = -((bits - 1154) / 4); /* ceil((1154 - bits) / 4) */
    return f < -32 ? f : -32;
}

/* Largest |exponent| henn reads (docs/FORMATS.md). */
#define MAX_ABS_EXPONENT (1L << 24)

/* The CLI's limits on a result exponent e, in the order a reader would
 * look for them: python-paillier's limit on the exponent gap (16^gap <=
 * max_int, which the library enforces too), henn's readable range, then
 * exponent_floor. gap: how far an input's exponent is lowered (0 if
 * none); aligned: whether mantissas are scaled (lowered, or multiply).
 * Prints the reason and returns -1 when refused. */
static int check_result_exponent(const henn_paillier_pk *pk, long e, long gap, int aligned)
{
    if (gap > 0 && (size_t)gap > (mpz_sizeinbase(pk->max_int, 2) - 1) / 4) {
        fprintf(stderr,
                "henn: the exponents differ by %ld and 16^%ld exceeds max_int (n/3 - 1) for "
                "this key: 16^gap must not exceed max_int, as in python-paillier; refused\n",
                gap, gap);
        return -1;
    }
    if (e < -MAX_ABS_EXPONENT || e > MAX_ABS_EXPONENT) {
        fprintf(stderr, "henn: the result's exponent %ld is outside +-2^24, the exponents "
                        "henn reads; refused\n", e);
        return -1;
    }
    if (aligned && e < exponent_floor(pk)) {
        fprintf(stderr,
                "henn: the result's exponent %ld is below %ld, the lowest at which henn can "
                "tell an overflowed result from a valid one for this key; refused (a "
                "python-paillier result here could decrypt to a wrong number; see "
                "docs/FORMATS.md)\n",
                e, exponent_floor(pk));
        return -1;
    }
    return 0;
}

/* add (henn's and pheutil's forms), addenc and multiply. */
enum { OP_ADD, OP_ADDENC, OP_MUL };

/* Does path name something in the file system? */
static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmd_binop(int argc, char **argv, int op)
{
    opts o;
    henn_paillier_pk pk;
    henn_paillier_ct a, b;
    henn_paillier_pt k;
    double x = 0;
    const char *number = NULL;
    long e, gap;
    int rc, plain;
    if (parse_opts(&o, argc, argv) != 0 || o.help)
        return usage(NULL);
    if (op == OP_MUL) {
        if (o.npos != 3 || o.plain != NULL)
            return usage("multiply takes PUBFILE CTFILE NUMBER");
        number = o.pos[2];
    } else if (op == OP_ADDENC) {
        if (o.npos != 3 || o.plain != NULL)
            return usage("addenc takes PUBFILE CTFILE CTFILE2");
    } else if (o.plain != NULL) {
        if (o.npos != 2)
            return usage("add takes PUBFILE CTFILE (CTFILE2 | NUMBER | --plain NUMBER)");
        number = o.plain;
    } else {
        if (o.npos != 3)
            return usage("add takes PUBFILE CTFILE (CTFILE2 | NUMBER | --plain NUMBER)");
        /* pheutil's add PUBLIC ENCRYPTED PLAINTEXT, or henn's CTFILE2 */
        if (parse_number(&x, o.pos[2]) == 0) {
            if (path_exists(o.pos[2])) {
                fprintf(stderr,
                        "henn: '%s' is both a number and a file: write --plain %s for the "
                        "number or ./%s for the file\n",
                        o.pos[2], o.pos[2], o.pos[2]);
                return EXIT_USAGE;
            }
            number = o.pos[2];
        }
    }
    plain = number != NULL;
    if (plain && number_arg(&x, number) != 0)
        return EXIT_USAGE;
    henn_paillier_pk_init(&pk);
    henn_paillier_ct_init(&a);
    henn_paillier_ct_init(&b);
    henn_paillier_pt_init(&k);
    rc = load_pk(&pk, o.pos[0], load_flags(&o));
    if (rc == 0)
        rc = load_ct(&a, &pk, o.pos[1]);
    if (rc == 0 && !plain)
        rc = load_ct(&b, &pk, o.pos[2]);
    if (rc == 0 && plain) {
        /* python-paillier: a scalar added gets an exponent at most the
         * ciphertext's; a factor gets its own */
        rc = henn_paillier_encode_double(&k, &pk, x,
                                         op == OP_MUL ? HENN_PAILLIER_NO_MAX_EXPONENT : a.exponent);
        if (rc != 0)
            cli_error("encoding the number", rc);
    }
    if (rc == 0) {
        if (op == OP_MUL)
            e = (long)a.exponent + k.exponent;
        else if (plain)
            e = k.exponent < a.exponent ? k.exponent : a.exponent;
        else
            e = b.exponent < a.exponent ? b.exponent : a.exponent;
        /* how far a ciphertext's exponent is lowered to e (a plaintext
         * added is encoded at e directly) */
        gap = (long)a.exponent - e;
        if (!plain && (long)b.exponent - e > gap)
            gap = (long)b.exponent - e;
        if (op == OP_MUL)
            gap = 0;
        if (check_result_exponent(&pk, e, gap, op == OP_MUL || gap > 0) != 0)
            rc = HENN_ERANGE;
    }
    if (rc == 0) {
        if (op == OP_MUL)
            rc = henn_paillier_mul_plain(&a, &pk, &a, &k);
        else if (plain)
            rc = henn_paillier_add_plain(&a, &pk, &a, &k);
        else
            rc = henn_paillier_add(&a, &pk, &a, &b);
        if (rc == 0)
            rc = henn_paillier_rerandomize(&a, &pk, &a);
        if (rc == HENN_ERANGE && op != OP_MUL)
            fprintf(stderr, "henn: adding: the exponents differ by more than the key allows "
                            "(16^gap must not exceed max_int, as in python-paillier) "
                            "(HENN_ERANGE)\n");
        else if (rc != 0)
            cli_error(op == OP_MUL ? "multiplying" : "adding", rc);
    }
    if (rc == 0)
        rc = write_ct(&pk, &a, o.output);
    henn_memzero(&x, sizeof(x));
    henn_paillier_pt_clear(&k);
    henn_paillier_ct_clear(&b);
    henn_paillier_ct_clear(&a);
    henn_paillier_pk_clear(&pk);
    return rc == 0 ? 0 : 1;
}

/*
 * demo: the data owner encrypts a column of sensor readings in bulk
 * (packed, fixed-point), an aggregator sums them without the key, the owner
 * decrypts only the totals. Compared with the plaintext sums.
 */
static int cmd_demo(int argc, char **argv)
{
    opts o;
    henn_paillier_sk sk;
    henn_paillier_pk pk;
    henn_paillier_packed *ct = NULL, acc;
    henn_batch_opts bo = {0};
    cli_progress prog;
    size_t bits = 2048, count = 100000, threads = 0, nct = 0, i, slots;
    int64_t *v = NULL, *out = NULL, *plain_sum = NULL;
    const unsigned w = 40; /* 16-bit readings, 24 bits of headroom for sums */
    double t0, t_enc, t_sum, t_dec;
    int rc;

    if (parse_opts(&o, argc, argv) != 0 || o.help)
        return usage(NULL);
    if ((o.bits != NULL && cli_parse_size(&bits, o.bits, 64, 8192) != 0) ||
        (o.count != NULL && cli_parse_size(&count, o.count, 64, 10000000) != 0) ||
        (o.threads != NULL && cli_parse_size(&threads, o.threads, 0, 256) != 0))
        return usage("bad --bits, --count or --threads");
    henn_paillier_sk_init(&sk);
    henn_paillier_pk_init(&pk);
    henn_paillier_packed_init(&acc);
    printf("henn demo: Paillier n = %zu bits, %zu readings of 16 bits, packed %u bits/slot\n",
           bits, count, w);
    t0 = cli_now();
    rc = henn_paillier_keygen(&pk, &sk, bits, load_flags(&o));
    if (rc != 0)
        goto done;
    printf("  owner:      key pair generated in %.2f s\n", cli_now() - t0);
    /* One ciphertext holds one reading of each of `slots` sensors: slot j of
     * every ciphertext is sensor j, so ciphertext sums are per-sensor sums. */
    slots = henn_paillier_pack_capacity(&pk, w);
    if (count < slots)
        count = slots;
    count = (count / slots) * slots;
    nct = count / slots;
    v = malloc(count * sizeof(*v));
    out = malloc(slots * sizeof(*out));
    plain_sum = calloc(slots, sizeof(*plain_sum));
    ct = malloc(nct * sizeof(*ct));
    if (v == NULL || out == NULL || plain_sum == NULL || ct == NULL) {
        rc = HENN_ENOMEM;
        goto done;
    }
    for (i = 0; i < nct; i++)
        henn_paillier_packed_init(&ct[i]);
    {
        uint8_t seed[8];
        uint64_t s;
        rc = henn_random_bytes(seed, sizeof(seed));
        if (rc != 0)
            goto done;
        memcpy(&s, seed, sizeof(s));
        for (i = 0; i < count; i++) { /* readings in [-32768, 32767] */
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            v[i] = (int64_t)((s >> 33) % 65536) - 32768;
            plain_sum[i % slots] += v[i];
        }
    }
    t0 = cli_now();
    rc = henn_paillier_pk_precompute(&pk, 0);
    if (rc != 0)
        goto done;
    printf("  owner:      DJN fixed-base table built in %.2f s\n", cli_now() - t0);
    cli_progress_init(&prog, "  encrypting");
    bo.threads = (unsigned)threads;
    bo.progress = cli_progress_cb;
    bo.user = &prog;
    t0 = cli_now();
    {
        size_t used = 0;
        rc = henn_paillier_pack_encrypt_batch(ct, nct, &used, &pk, w, v, count, &bo);
    }
    t_enc = cli_now() - t0;
    if (rc != 0)
        goto done;
    printf("  owner:      %zu readings -> %zu ciphertexts in %.2f s (%.0f readings/s)\n", count,
           nct, t_enc, (double)count / t_enc);
    t0 = cli_now();
    rc = henn_paillier_packed_rerandomize(&acc, &pk, &ct[0]);
    for (i = 1; i < nct && rc == 0; i++)
        rc = henn_paillier_packed_add(&acc, &pk, &acc, &ct[i]);
    if (rc == 0)
        rc = henn_paillier_packed_rerandomize(&acc, &pk, &acc);
    t_sum = cli_now() - t0;
    if (rc != 0)
        goto done;
    printf("  aggregator: summed %zu ciphertexts without the key in %.3f s\n", nct, t_sum);
    t0 = cli_now();
    rc = henn_paillier_decrypt_unpack(out, &sk, &acc);
    t_dec = cli_now() - t0;
    if (rc != 0)
        goto done;
    for (i = 0; i < slots; i++)
        if (out[i] != plain_sum[i]) {
            fprintf(stderr, "henn demo: sensor %zu: encrypted sum %lld != plaintext %lld\n", i,
                    (long long)out[i], (long long)plain_sum[i]);
            rc = HENN_ERANGE;
            goto done;
        }
    printf("  owner:      decrypted %zu totals in %.3f s; all equal the plaintext sums\n",
           slots, t_dec);
    printf("  e.g. sensor 0: total %lld, mean %.3f\n", (long long)out[0],
           (double)out[0] / (double)(count / slots));
done:
    if (rc != 0)
        cli_error("demo", rc);
    if (ct != NULL)
        for (i = 0; i < nct; i++)
            henn_paillier_packed_clear(&ct[i]);
    free(ct);
    free(v);
    free(out);
    free(plain_sum);
    henn_paillier_packed_clear(&acc);
    henn_paillier_pk_clear(&pk);
    henn_paillier_sk_clear(&sk);
    return rc == 0 ? 0 : 1;
}

static int cmd_bench(int argc, char **argv)
{
    opts o;
    henn_bench_config cfg = {0};
    size_t bits = 2048, threads = 0;
    double secs = 1.0;
    if (argc >= 1 && strcmp(argv[0], "ckks") == 0)
        return henn_cli_bench_ckks(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "fe") == 0) {
        henn_bench_fe_config fc = {0};
        for (int i = 1; i < argc; i++) {
            size_t val = 0;
            if (strcmp(argv[i], "--json") == 0)
                fc.json = 1;
            else if (i + 1 < argc && strcmp(argv[i], "--n") == 0 &&
                     cli_parse_size(&val, argv[++i], 1, 65536) == 0)
                fc.n = val;
            else if (i + 1 < argc && strcmp(argv[i], "--table") == 0 &&
                     cli_parse_size(&val, argv[++i], 16, (size_t)1 << 26) == 0)
                fc.table_size = val;
            else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0 &&
                     cli_parse_size(&val, argv[++i], 1, 10000) == 0)
                fc.reps = (int)val;
            else
                return usage("bench fe: bad option");
        }
        return henn_bench_fe(&fc) == 0 ? 0 : 1;
    }
    if (argc < 1 || strcmp(argv[0], "paillier") != 0)
        return usage("bench takes a scheme: paillier, ckks or fe");
    if (parse_opts(&o, argc - 1, argv + 1) != 0 || o.help || o.npos != 0)
        return usage(NULL);
    if ((o.bits != NULL && cli_parse_size(&bits, o.bits, 64, 8192) != 0) ||
        (o.threads != NULL && cli_parse_size(&threads, o.threads, 1, 256) != 0))
        return usage("bad --bits or --threads");
    if (o.seconds != NULL && (parse_number(&secs, o.seconds) != 0 || secs <= 0 || secs > 60))
        return usage("bad --seconds");
    cfg.n_bits = bits;
    cfg.threads = (unsigned)threads;
    cfg.json = o.json;
    cfg.seconds = secs;
    cfg.insecure = o.insecure;
    return henn_bench_paillier(&cfg) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *cmd;
    henn_install_wiping_allocator();
    if (henn_init() != 0) {
        fprintf(stderr, "henn: cannot open the operating system's random number generator\n");
        return 1;
    }
    /* pheutil's group option: pheutil -v COMMAND ... */
    if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0)) {
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    if (argc < 2)
        return usage(NULL);
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        fputs(usage_text2, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("henn %s\n", henn_version_string());
        return 0;
    }
    if (strcmp(cmd, "keygen") == 0 || strcmp(cmd, "genpkey") == 0)
        return cmd_keygen(argc - 2, argv + 2);
    if (strcmp(cmd, "extract") == 0)
        return cmd_extract(argc - 2, argv + 2);
    if (strcmp(cmd, "encrypt") == 0)
        return cmd_encrypt(argc - 2, argv + 2);
    if (strcmp(cmd, "decrypt") == 0)
        return cmd_decrypt(argc - 2, argv + 2);
    if (strcmp(cmd, "add") == 0)
        return cmd_binop(argc - 2, argv + 2, OP_ADD);
    if (strcmp(cmd, "addenc") == 0)
        return cmd_binop(argc - 2, argv + 2, OP_ADDENC);
    if (strcmp(cmd, "multiply") == 0)
        return cmd_binop(argc - 2, argv + 2, OP_MUL);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "kdd") == 0)
        return henn_cli_kdd(argc - 2, argv + 2);
    if (strcmp(cmd, "ckks") == 0)
        return henn_cli_ckks(argc - 2, argv + 2);
    if (strcmp(cmd, "lr") == 0)
        return henn_cli_lr(argc - 2, argv + 2);
    if (strcmp(cmd, "cryptonn") == 0)
        return henn_cli_cryptonn(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return henn_cli_serve(argc - 2, argv + 2);
    fprintf(stderr, "henn: unknown command '%s'\n", cmd);
    return usage(NULL);
}
