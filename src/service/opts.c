/* Defaults of the service's options and small shared helpers (henn/service.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "henn/service.h"
#include "service/svc_internal.h"

/* The online CPUs, at most HENN__SVC_PARTY_THREADS_CAP: the same use of
 * the cores as the in-process CLI (whose batch work takes them all) on the
 * usual machines; the cap bounds what --threads requests in the router at
 * once can start together (threads x party threads: 4 x 8 = 32 with
 * the default 4) on a large one. The parties' results do not depend on the
 * count (test_service_server: the same request bytes on 1, 2 and 3 party
 * threads), so a restart with another count replays to the same state. */
unsigned henn__svc_party_threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > HENN__SVC_PARTY_THREADS_CAP ? HENN__SVC_PARTY_THREADS_CAP : (unsigned)n;
}

void henn_svc_server_opts_default(henn_svc_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8443";
    o->threads = 4;
    o->party_threads = henn__svc_party_threads_default();
    o->max_body = (size_t)256 << 20;
    o->session_quota = (uint64_t)4 << 30;
    o->idle_conn_s = 60;
    o->session_ttl_s = 7u * 24u * 3600u;
    o->max_sessions = 1024;
    o->max_conns = 512;
    o->max_conns_per_ip = 128;
    o->header_timeout_s = 10;
    o->max_uploads_per_session = 4;
    o->max_polls_per_session = 4;
    o->max_polls = 256;
    o->max_body_memory = (size_t)1 << 30;
    o->max_sessions_per_token = 256;
    o->min_body_rate = 16384;
}

void henn_svc_response_free(henn_svc_response *rs)
{
    if (rs == NULL)
        return;
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
}
