/* Test hooks of the service client (src/service/client.c); not installed. */
#ifndef HENN_SERVICE_CLIENT_INTERNAL_H
#define HENN_SERVICE_CLIENT_INTERNAL_H

#include <stdint.h>

#include "henn/service.h"

/* Lose the response of every message whose seq is a multiple of every
 * (once per seq), as a dropped connection would: the client sends the
 * same seq again and must get the stored response. 0: off. */
void henn__svc_client_drop_responses(henn_svc_client *c, unsigned every);
/* The last seq the server acknowledged to c. */
uint64_t henn__svc_client_seq(const henn_svc_client *c);
/* Requests c sent again (transient errors, 5xx, dropped responses). */
uint64_t henn__svc_client_retries(const henn_svc_client *c);
/* Messages the journal answered (henn_svc_client_journal's replay). */
uint64_t henn__svc_client_replayed(const henn_svc_client *c);
/* The seq in the header record of the journal at path (the session's seq
 * when the journal began; links not followed), UINT64_MAX when it cannot
 * be read or has no header (the replay then says why). Reads the header
 * only, its checksum unchecked. */
uint64_t henn__svc_client_journal_start(const char *path);

#endif
