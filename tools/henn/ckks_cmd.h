/* henn ckks: CKKS key generation, encryption and decryption of CSV vectors,
 * and the CKKS benchmark's command line. */
#ifndef HENN_CKKS_CMD_H
#define HENN_CKKS_CMD_H

/* Runs "henn ckks keygen|encrypt|decrypt ..." (argv[0] is the subcommand);
 * returns the exit status (0 ok, 1 failure, 2 usage). */
int henn_cli_ckks(int argc, char **argv);

/* Runs "henn bench ckks [options]" (argv[0] is the first option); returns
 * the exit status. */
int henn_cli_bench_ckks(int argc, char **argv);

#endif
