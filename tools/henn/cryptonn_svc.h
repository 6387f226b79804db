/*
 * henn cryptonn over the service (cryptonn_svc.c): the owner's side of
 * train --server, and the authority.
 */
#ifndef HENN_CRYPTONN_SVC_H
#define HENN_CRYPTONN_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "svc_cli.h"

/* henn cryptonn train --net mlp --server URL --mpk F --authority-token-out F:
 * the owner's side; the server trains; exit status. */
int cli_cryptonn_train_server(const cli_svc_opts *so, const char *data, size_t epochs,
                              size_t limit, unsigned threads, uint64_t seed,
                              const char *mpk_path, const char *atok_out);

/* henn cryptonn authority ... (argv[0] = "authority"); exit status. */
int cli_cryptonn_authority(int argc, char **argv);

#endif
