/*
 * henn: command-line tool. Paillier commands work on python-paillier's JSON
 * files (the jobs of python-paillier's pheutil); results of homomorphic
 * operations are re-randomised before they are written.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_paillier.h"
#include "cli_util.h"
#include "kdd_cmd.h"
#include "henn/henn.h"

/* Exit statuses: 0 ok, 1 runtime failure (bad input file, crypto error),
 * 2 usage error. */
enum { EXIT_USAGE = 2 };

static const char *usage_text =
    "usage: henn <command> [options] [args]\n"
    "\n"
    "Paillier (python-paillier compatible JSON files):\n"
    "  keygen [--bits N] [--id TEXT] [--public PUBFILE] PRIVFILE\n"
    "                      generate a key pair (n of 2048, 3072 or 4096 bits);\n"
    "                      PRIVFILE is written with mode 0600\n"
    "  extract PRIVFILE PUBFILE\n"
    "                      write the public key of a private key\n"
    "  encrypt [--output F] PUBFILE NUMBER\n"
    "                      encrypt a number ({\"v\": ..., \"e\": ...})\n"
    "  decrypt [--output F] PRIVFILE CTFILE\n"
    "                      decrypt and print a number\n"
    "  add [--output F] PUBFILE CTFILE (CTFILE2 | --plain NUMBER)\n"
    "                      E(a) + E(b), or E(a) + b\n"
    "  multiply [--output F] PUBFILE CTFILE NUMBER\n"
    "                      E(a) * k\n"
    "\n"
    "Intrusion detection (KDD Cup 1999):\n"
    "  kdd train [--encrypted] [options]\n"
    "                      train the MLP in plaintext and, with --encrypted, on\n"
    "                      Paillier-encrypted records; prints a side-by-side table\n"
    "  kdd eval --model FILE [--encrypted] [options]\n"
    "                      evaluate a saved model (plaintext and encrypted inference)\n"
    "                      ('henn kdd --help' lists the options)\n"
    "\n"
    "Other:\n"
    "  demo [--bits N] [--count N] [--threads T]\n"
    "                      encrypt readings in bulk, sum them encrypted, decrypt\n"
    "  bench paillier [--bits N] [--threads T] [--json] [--seconds S]\n"
    "                      benchmark (JSON lines with --json)\n"
    "  version             print the version\n"
    "\n"
    "Keys below 2048 bits are refused unless --insecure-test-key is given.\n"
    "Run 'henn <command> --help' for a command's options.\n";

static int usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "henn: %s\n", msg);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* Simple option scanner: flags with a value, positional args collected. */
typedef struct {
    const char *output, *bits, *id, *pub, *plain, *threads, *count, *seconds;
    int insecure, json, help;
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
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    *x = strtod(s, &end);
    if (errno == ERANGE || *end != '\0' || !isfinite(*x))
        return -1;
    return 0;
}

/* Print the shortest decimal that reads back as x (Python's repr). */
static void print_double(FILE *f, double x)
{
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL && strchr(buf, 'n') == NULL)
        strcat(buf, ".0");
    fprintf(f, "%s\n", buf);
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
    if (ct->exponent > -32)
        rc = henn_paillier_ct_decrease_exponent(ct, pk, ct, -32);
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

static int write_json(const char *path, char *json, size_t len, unsigned mode)
{
    int rc;
    json[len] = '\n';
    rc = cli_write_file(path, json, len + 1, mode);
    henn_free(json, len + 1);
    return rc;
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
    if (rc == 0)
        rc = write_json(o.pos[0], json, len, 0600);
    if (rc == 0 && o.pub != NULL) {
        rc = henn_paillier_pk_to_json(&json, &len, &sk.pk, o.id);
        if (rc == 0)
            rc = write_json(o.pub, json, len, 0644);
    }
    henn_paillier_sk_clear(&sk);
    if (rc != 0) {
        cli_error("writing the key", rc);
        return 1;
    }
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
    if (rc == 0)
        rc = henn_paillier_pk_to_json(&json, &len, &sk.pk, o.id);
    if (rc == 0)
        rc = write_json(o.pos[1], json, len, 0644);
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
    if (parse_number(&x, o.pos[1]) != 0) {
        fprintf(stderr, "henn: '%s' is not a finite number\n", o.pos[1]);
        return EXIT_USAGE;
    }
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
    double x = 0;
    int rc;
    FILE *out = stdout;
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
        if (rc == 0)
            rc = henn_paillier_decode_double(&x, &sk.pk, &pt);
        if (rc != 0)
            cli_error("decrypting", rc);
    }
    if (rc == 0 && o.output != NULL) {
        out = fopen(o.output, "w");
        if (out == NULL) {
            cli_error(o.output, HENN_EIO);
            rc = HENN_EIO;
        }
    }
    if (rc == 0) {
        print_double(out, x);
        if (out != stdout)
            fclose(out);
    }
    henn_memzero(&x, sizeof(x));
    henn_paillier_ct_clear(&ct);
    henn_paillier_pt_clear(&pt);
    henn_paillier_sk_clear(&sk);
    return rc == 0 ? 0 : 1;
}

/* add and multiply share everything but the operation. */
static int cmd_binop(int argc, char **argv, int is_mul)
{
    opts o;
    henn_paillier_pk pk;
    henn_paillier_ct a, b;
    henn_paillier_pt k;
    double x = 0;
    int rc, plain;
    if (parse_opts(&o, argc, argv) != 0 || o.help)
        return usage(NULL);
    plain = is_mul || o.plain != NULL;
    if ((is_mul && o.npos != 3) || (!is_mul && o.npos != (plain ? 2 : 3)))
        return usage(is_mul ? "multiply takes PUBFILE CTFILE NUMBER"
                            : "add takes PUBFILE CTFILE (CTFILE2 | --plain NUMBER)");
    if (plain && parse_number(&x, is_mul ? o.pos[2] : o.plain) != 0) {
        fprintf(stderr, "henn: '%s' is not a finite number\n", is_mul ? o.pos[2] : o.plain);
        return EXIT_USAGE;
    }
    henn_paillier_pk_init(&pk);
    henn_paillier_ct_init(&a);
    henn_paillier_ct_init(&b);
    henn_paillier_pt_init(&k);
    rc = load_pk(&pk, o.pos[0], load_flags(&o));
    if (rc == 0)
        rc = load_ct(&a, &pk, o.pos[1]);
    if (rc == 0 && !plain)
        rc = load_ct(&b, &pk, o.pos[2]);
    if (rc == 0) {
        if (is_mul) {
            rc = henn_paillier_encode_double(&k, &pk, x, HENN_PAILLIER_NO_MAX_EXPONENT);
            if (rc == 0)
                rc = henn_paillier_mul_plain(&a, &pk, &a, &k);
        } else if (plain) {
            /* python-paillier: the scalar's exponent is at most the ciphertext's */
            rc = henn_paillier_encode_double(&k, &pk, x, a.exponent);
            if (rc == 0)
                rc = henn_paillier_add_plain(&a, &pk, &a, &k);
        } else {
            rc = henn_paillier_add(&a, &pk, &a, &b);
        }
        if (rc == 0)
            rc = henn_paillier_rerandomize(&a, &pk, &a);
        if (rc != 0)
            cli_error(is_mul ? "multiplying" : "adding", rc);
    }
    if (rc == 0)
        rc = write_ct(&pk, &a, o.output);
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
    if (argc < 1 || strcmp(argv[0], "paillier") != 0)
        return usage("bench takes a scheme: paillier");
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
    if (argc < 2)
        return usage(NULL);
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
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
        return cmd_binop(argc - 2, argv + 2, 0);
    if (strcmp(cmd, "multiply") == 0)
        return cmd_binop(argc - 2, argv + 2, 1);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "kdd") == 0)
        return henn_cli_kdd(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "henn: unknown command '%s'\n", cmd);
    return usage(NULL);
}
