/*
 * henn cryptonn over the service (cryptonn_svc.c): the owner's side of
 * train --server, and the authority.
 */
#ifndef HENN_CRYPTONN_SVC_H
#define HENN_CRYPTONN_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "svc_cli.h"

/* The most epochs henn cryptonn train takes. */
#define CN_MAX_EPOCHS 20

/* henn cryptonn train --net mlp|lenet5 --server URL --mpk F
 * --authority-token-out F [--model F] [--session-file F [--resume]]: the
 * owner's side of a cryptonn-mlp (lenet = 0) or cryptonn-lenet5
 * (lenet != 0) session; the server trains. Per epoch: the downloaded
 * model's test accuracy and the loss; model_out (optional): the last
 * downloaded model's bytes (HNNM or HCNM). With so->session_file the run
 * survives a kill of the owner: the file (0600, atomic) and F.journal
 * keep the session, its token and the run's state; resume != 0 continues
 * that run (its fingerprint, the data and options, must be this run's)
 * and sends only the batches the server has not answered. Exit status
 * (2: usage). */
int cli_cryptonn_train_server(const cli_svc_opts *so, int lenet, int resume, const char *data,
                              size_t epochs, size_t limit, unsigned threads, uint64_t seed,
                              const char *mpk_path, const char *atok_out,
                              const char *model_out);

/* henn cryptonn authority ... (argv[0] = "authority"); exit status. */
int cli_cryptonn_authority(int argc, char **argv);

#endif
