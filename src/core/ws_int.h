/*
 * ws_int.h - inside the WebSocket listener: what transport_ws.c (the
 * connection's phases and bytes) and ws_api.c (a /v1/ request handed to the
 * registered handler, ws_api.h) offer each other. Not for other folders.
 *
 * Ownership: the call state (struct ws_call) hangs off the transport's
 * per-connection state (omtp_ws_call_slot) and is freed by
 * omtp_ws_call_free when the connection closes (the handler's `done`
 * comes then). Threading: loop thread.
 */
#ifndef OMTP_CORE_WS_INT_H
#define OMTP_CORE_WS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ws_http.h"

typedef struct omtp_conn omtp_conn;
struct ws_call;

/* transport_ws.c: puts bytes on the wire (own: malloc'd, taken over; else
 * copied), through TLS on wss. 0 or OMTP_ECLOSED. */
int omtp_ws_emit(omtp_conn *c, uint8_t *own, const uint8_t *p, size_t n);
/* transport_ws.c: the call slot of a ws connection (NULL when c is not one). */
struct ws_call **omtp_ws_call_slot(omtp_conn *c);
/* transport_ws.c: answers a refusal (status, text) and closes. */
void omtp_ws_http_refuse(omtp_conn *c, int status, const char *why);

/* ws_api.c: a decided /v1/ request (route OMTP_WS_API or PREFLIGHT); takes
 * over req; rest = the bytes after its head in this read. */
void omtp_ws_call_start(omtp_conn *c, omtp_ws_req *req, const omtp_ws_decision *d,
                        const uint8_t *rest, size_t n);
/* ws_api.c: more bytes of the connection (the body, or what follows it). */
void omtp_ws_call_input(omtp_conn *c, const uint8_t *p, size_t n);
/* ws_api.c: the output drained (the next piece of a streamed answer). */
void omtp_ws_call_drained(omtp_conn *c);
/* ws_api.c: the connection closed: tells the handler, frees the call. */
void omtp_ws_call_free(omtp_conn *c);

#endif
