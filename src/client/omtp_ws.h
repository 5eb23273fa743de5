/*
 * omtp_ws.h - client-side WebSocket (RFC 6455) for libomtp, transport-
 * agnostic like omtp_tls.h: the upgrade request to send, the server's
 * answer checked (101, Sec-WebSocket-Accept, subprotocol omtp) with
 * http-parser, then frames parsed by wslay's client event API; each OMTP
 * frame to send becomes one masked binary message (docs/websocket.md).
 *
 * Bytes from the socket (after TLS for wss) go in with omtp_ws_feed; the
 * binary messages' bytes come out through a callback (they are OMTP frames,
 * fed to the connection's frame reader); bytes to put on the socket (the
 * request, pongs, close, wrapped frames) are appended to a tars_buf.
 *
 * Ownership: an omtp_ws owns its wslay context and response parser.
 * Threading: the client's loop thread, like the connection using it.
 */
#ifndef OMTP_CLIENT_WS_H
#define OMTP_CLIENT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tars/tars.h"

typedef struct omtp_ws omtp_ws;

/* host_port: the Host header ("127.0.0.1:9001"); path: "/ws". NULL on no
 * memory. */
omtp_ws *omtp_ws_new(const char *host_port, const char *path);
void omtp_ws_free(omtp_ws *w);
/* Appends the upgrade request to out. */
void omtp_ws_request(omtp_ws *w, tars_buf *out);
/* Bytes from the server. Message bytes go to data(ud, p, n); what must be
 * answered (pong, close) is appended to out. Returns 0 (go on), 1 (the
 * WebSocket just opened: the login can go), or -1 with why (the upgrade was
 * refused, a protocol error, or the server closed the WebSocket). */
int omtp_ws_feed(omtp_ws *w, const uint8_t *p, size_t n,
                 void (*data)(void *ud, const uint8_t *p, size_t n), void *ud, tars_buf *out,
                 char *why, size_t whylen);
/* Whether the upgrade completed. */
bool omtp_ws_is_open(const omtp_ws *w);
/* Appends one masked binary message carrying p to out. 0 or OMTP_ENOMEM. */
int omtp_ws_wrap(omtp_ws *w, const uint8_t *p, size_t n, tars_buf *out);

#endif
