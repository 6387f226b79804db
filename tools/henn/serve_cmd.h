/* henn serve: the model server of the network service (docs/SERVICE.md). */
#ifndef HENN_SERVE_CMD_H
#define HENN_SERVE_CMD_H

/* Runs "henn serve [options]" (argv[0] is the first option); returns the
 * exit status (0 after SIGTERM/SIGINT and a clean drain, 1 failure, 2
 * usage). */
int henn_cli_serve(int argc, char **argv);

#endif
