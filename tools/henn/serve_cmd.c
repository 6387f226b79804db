/*
 * henn serve: run the model server (henn/service.h) until SIGTERM or
 * SIGINT, then drain the requests in flight and exit 0. The URL is
 * printed on stdout (one line, flushed) once the server listens; the
 * access log goes to stderr (JSON lines with --json).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "henn/henn.h"
#include "henn/service.h"
#include "serve_cmd.h"

static const char serve_usage[] =
    "usage: henn serve [--listen ADDR:PORT] [--data-dir DIR] [--cert F --key F]\n"
    "                  [--tokens F] [--threads N] [--party-threads N] [--max-body BYTES]\n"
    "                  [--max-sessions N] [--max-sessions-per-token N]\n"
    "                  [--max-conns N] [--max-conns-per-ip N] [--max-polls-per-ip N]\n"
    "                  [--header-timeout S] [--min-body-rate BYTES_PER_S]\n"
    "                  [--durable] [--insecure-http] [--json]\n"
    "  --listen ADDR:PORT  address to bind (default 127.0.0.1:8443; port 0: any free port)\n"
    "  --data-dir DIR      the database and blobs (default ./henn-data, created 0700)\n"
    "  --cert F --key F    PEM certificate and key: HTTPS (needed off loopback)\n"
    "  --tokens F          one token per line; creating a session needs one of them\n"
    "  --threads N         HTTP worker threads (default 4)\n"
    "  --party-threads N   threads of each session's homomorphic work (default: the\n"
    "                      online CPUs, at most 8)\n"
    "  --max-body BYTES    largest request body (default 268435456)\n"
    "  --max-sessions N    sessions the server holds at most (default 1024)\n"
    "  --max-sessions-per-token N  of them, created with one --tokens token (default 256)\n"
    "  --max-conns N       TCP connections held at once (default 512)\n"
    "  --max-conns-per-ip N  connections from one address (default 128; 0: no limit)\n"
    "  --max-polls-per-ip N  long polls held from one address (default 32, an eighth\n"
    "                      of the server's 256; raise it for many owners behind a NAT)\n"
    "  --header-timeout S  seconds to send complete request headers (default 10)\n"
    "  --min-body-rate BYTES_PER_S  average rate a request body must keep once\n"
    "                      --header-timeout has passed since its headers, else the\n"
    "                      connection is closed (default 16384; 0: no minimum)\n"
    "  --durable           fsync the database at every message (SQLite synchronous=FULL):\n"
    "                      answered messages survive a power loss, at the cost of a disk\n"
    "                      flush per message (default NORMAL: they survive a crash of\n"
    "                      the server, and a power loss may roll back the last ones)\n"
    "  --insecure-http     allow plain HTTP on a non-loopback address\n"
    "  --json              access log as JSON lines on stderr\n"
    "Prints the server's URL on stdout once it listens; SIGTERM or SIGINT\n"
    "drains the requests in flight and exits 0.\n";

static int serve_usage_error(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "henn serve: %s\n", msg);
    fputs(serve_usage, stderr);
    return 2;
}

int henn_cli_serve(int argc, char **argv)
{
    henn_svc_server_opts o;
    henn_svc_server *s = NULL;
    sigset_t set;
    size_t v;
    int i, sig = 0, rc;

    henn_svc_server_opts_default(&o);
    o.data_dir = "henn-data";
    o.log = stderr;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(serve_usage, stdout);
            return 0;
        } else if (strcmp(a, "--insecure-http") == 0) {
            o.allow_insecure_http = 1;
            continue;
        } else if (strcmp(a, "--json") == 0) {
            o.log_json = 1;
            continue;
        } else if (strcmp(a, "--durable") == 0) {
            o.durable = 1;
            continue;
        }
        if (val == NULL)
            return serve_usage_error("an option is missing its value, or unknown option");
        if (strcmp(a, "--listen") == 0) {
            o.listen = val;
        } else if (strcmp(a, "--data-dir") == 0) {
            o.data_dir = val;
        } else if (strcmp(a, "--cert") == 0) {
            o.cert_file = val;
        } else if (strcmp(a, "--key") == 0) {
            o.key_file = val;
        } else if (strcmp(a, "--tokens") == 0) {
            o.tokens_file = val;
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_size(&v, val, 1, 256) != 0)
                return serve_usage_error("--threads wants 1..256");
            o.threads = (unsigned)v;
        } else if (strcmp(a, "--party-threads") == 0) {
            if (cli_parse_size(&v, val, 1, 256) != 0)
                return serve_usage_error("--party-threads wants 1..256");
            o.party_threads = (unsigned)v;
        } else if (strcmp(a, "--max-sessions") == 0) {
            if (cli_parse_size(&v, val, 1, (size_t)1 << 24) != 0)
                return serve_usage_error("--max-sessions wants 1..16777216");
            o.max_sessions = v;
        } else if (strcmp(a, "--max-sessions-per-token") == 0) {
            if (cli_parse_size(&v, val, 1, (size_t)1 << 24) != 0)
                return serve_usage_error("--max-sessions-per-token wants 1..16777216");
            o.max_sessions_per_token = v;
        } else if (strcmp(a, "--max-conns") == 0) {
            if (cli_parse_size(&v, val, 16, 65536) != 0)
                return serve_usage_error("--max-conns wants 16..65536");
            o.max_conns = (unsigned)v;
        } else if (strcmp(a, "--max-conns-per-ip") == 0) {
            if (cli_parse_size(&v, val, 0, 65536) != 0)
                return serve_usage_error("--max-conns-per-ip wants 0..65536");
            o.max_conns_per_ip = (unsigned)v;
        } else if (strcmp(a, "--max-polls-per-ip") == 0) {
            if (cli_parse_size(&v, val, 1, 256) != 0)
                return serve_usage_error("--max-polls-per-ip wants 1..256");
            o.max_polls_per_ip = (unsigned)v;
        } else if (strcmp(a, "--header-timeout") == 0) {
            if (cli_parse_size(&v, val, 1, 3600) != 0)
                return serve_usage_error("--header-timeout wants 1..3600 seconds");
            o.header_timeout_s = (unsigned)v;
        } else if (strcmp(a, "--min-body-rate") == 0) {
            if (cli_parse_size(&v, val, 0, (size_t)1 << 30) != 0)
                return serve_usage_error("--min-body-rate wants 0..2^30 bytes per second");
            o.min_body_rate = v;
        } else if (strcmp(a, "--max-body") == 0) {
            if (cli_parse_size(&v, val, 1024, (size_t)1 << 31) != 0)
                return serve_usage_error("--max-body wants 1024..2^31 bytes");
            o.max_body = v;
        } else {
            return serve_usage_error("unknown option");
        }
        i++;
    }
    if ((o.cert_file == NULL) != (o.key_file == NULL))
        return serve_usage_error("--cert and --key go together");
    /* The server's threads inherit this mask: the signals wait for
     * sigwait below. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        fprintf(stderr, "henn serve: cannot block signals\n");
        return 1;
    }
    rc = henn_svc_server_start(&s, &o);
    if (rc == HENN_EINVAL)
        return serve_usage_error("the options were refused (see above)");
    if (rc != 0) {
        cli_error("serve", rc);
        return 1;
    }
    printf("%s\n", henn_svc_server_url(s));
    fflush(stdout);
    if (sigwait(&set, &sig) != 0)
        sig = 0;
    fprintf(stderr, "henn serve: %s, draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    henn_svc_server_stop(s);
    return 0;
}
