/* henn lr: logistic regression on WDBC, Framingham or a CSV file, in the
 * clear and on CKKS-encrypted data. */
#ifndef HENN_LR_CMD_H
#define HENN_LR_CMD_H

/* Runs "henn lr train|eval|export ..." (argv[0] is the subcommand);
 * returns the exit status (0 ok, 1 failure, 2 usage). */
int henn_cli_lr(int argc, char **argv);

#endif
