/* Defaults of the service's options and small shared helpers (henn/service.h). */
#include <stdlib.h>
#include <string.h>

#include "henn/service.h"

void henn_svc_server_opts_default(henn_svc_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8443";
    o->threads = 4;
    o->party_threads = 1;
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
