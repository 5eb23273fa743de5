/*
 * http.h - the HTTP API of omtpd (business backend pushes, /metrics,
 * /healthz). server.c calls these when cfg->http_listen is set.
 *
 * Threading: loop thread. Return 0 or a negative OMTP_E*.
 */
#ifndef OMTP_HTTP_H
#define OMTP_HTTP_H

#include "core/server.h"

/* Starts the HTTP listener on cfg->http_listen (state in srv->http). */
int omtp_http_start(omtp_server *srv);
/* SIGHUP (loop thread): takes api_keys from srv->cfg (HTTP threads see the
 * new keys from their next request on). http_listen needs a restart. */
void omtp_http_reload(omtp_server *srv);
/* Stops it (graceful shutdown: called before the store closes), waiting at
 * most wait_ms (0 = 2 s) for the last answers to be sent. */
int omtp_http_stop(omtp_server *srv, uint64_t wait_ms);
/* Loop thread, every timer tick: closes HTTP connections that did not
 * deliver a request within http_timeout_s (http_guard.c). */
void omtp_http_tick(omtp_server *srv);

#endif
