/* henn kdd: KDD Cup 1999 intrusion detection commands. */
#ifndef HENN_KDD_CMD_H
#define HENN_KDD_CMD_H

/* Runs "henn kdd train|eval ..." (argv[0] is the subcommand); returns the
 * exit status (0 ok, 1 failure, 2 usage). */
int henn_cli_kdd(int argc, char **argv);

#endif
