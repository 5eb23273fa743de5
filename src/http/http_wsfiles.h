/*
 * http_wsfiles.h - the file endpoints on the public WebSocket listener
 * (http_wsfiles.c; docs/websocket.md "File endpoints", docs/files.md).
 * Registered into the core's ws listener (core/ws_api.h) by wiring.c at
 * start. Loop thread.
 */
#ifndef OMTP_HTTP_WSFILES_H
#define OMTP_HTTP_WSFILES_H

#include "core/server.h"

void omtp_http_wsfiles_register(omtp_server *s);

#endif
