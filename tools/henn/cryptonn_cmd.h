/* henn cryptonn: CryptoNN training (functional encryption) on MNIST-8k or
 * Fashion-MNIST next to its plaintext twin and the paper's figures. */
#ifndef HENN_CRYPTONN_CMD_H
#define HENN_CRYPTONN_CMD_H

/* Runs "henn cryptonn train ..." (argv[0] is the subcommand); returns the
 * exit status (0 ok, 1 failure, 2 usage). */
int henn_cli_cryptonn(int argc, char **argv);

#endif
