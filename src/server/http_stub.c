/*
 * http_stub.c - placeholder until the HTTP API (http.c) lands; delete this
 * file when adding http.c.
 */
#include "http.h"

int omtp_http_start(omtp_server *srv)
{
    LOG_WARN("http_listen %s set, but this build has no HTTP API yet", srv->cfg->http_listen);
    return 0;
}

int omtp_http_stop(omtp_server *srv)
{
    (void)srv;
    return 0;
}
