/*
 * h_ws.h - the test side of omtpd's WebSocket listener (ws_listen,
 * docs/websocket.md): a server started with it, raw sockets speaking
 * HTTP/1.1 and hand-made WebSocket frames (for the hostile cases), and
 * reading what the server answers (HTTP heads, frames, close codes).
 *
 * The frames the tests send are built here on purpose by hand: unmasked,
 * fragmented, text, oversize heads, broken control frames -- what a
 * library would refuse to produce. Normal traffic uses libomtp
 * (omtp_sync_connect_ws).
 *
 * Threading: test thread only; failures fail the test (cmocka).
 */
#ifndef H_WS_H
#define H_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* Starts omtpd with ws_listen = 127.0.0.1:0 (and its port file) plus `conf`
 * (more settings, may be NULL); *ws_port gets the WebSocket port. */
h_server *h_ws_server_start(const char *conf, int *ws_port);

/* A raw TCP socket to 127.0.0.1:port (5 s receive timeout). */
int h_ws_raw(int port);
/* Sends the whole string. */
void h_ws_send_all(int fd, const void *p, size_t n);
/* Sends an upgrade of /ws with these extra header lines (each ending in
 * \r\n; NULL = none) and reads the answer head into head (NUL-terminated).
 * Returns the HTTP status. */
int h_ws_upgrade(int fd, int port, const char *extra, char *head, size_t headlen);
/* Opens a WebSocket (status 101 asserted); returns the socket. */
int h_ws_open(int port);
/* One HTTP request (`req` the whole head) on a new connection; the answer
 * until the server closes into out (NUL-terminated). Returns the status. */
int h_ws_http(int port, const char *req, char *out, size_t outlen);

/* Sends one client frame: fin, opcode, masked or not, payload. */
void h_ws_frame(int fd, bool fin, int opcode, bool mask, const void *p, size_t n);
/* Sends only the head of a masked frame announcing n payload bytes. */
void h_ws_frame_head(int fd, bool fin, int opcode, uint64_t n);
/* Reads one server frame (waits up to timeout_ms): its opcode, payload
 * into buf (up to cap; the length into *len). -1 on timeout or close. */
int h_ws_read_frame(int fd, uint8_t *buf, size_t cap, size_t *len, int timeout_ms);
/* Reads frames until a close frame; returns its code (1005 when it has
 * none), -1 if the socket closed or timed out without one. */
int h_ws_read_close(int fd, int timeout_ms);
/* Whether the server closed the socket (EOF) within timeout_ms, reading and
 * dropping whatever comes before. */
bool h_ws_closed_within(int fd, int timeout_ms);

/* An OMTP request frame (type, packId, body of desc) sent as one binary
 * message; and the next OMTP frame decoded from the binary messages that
 * arrive (pushes included), 0 or -1 on timeout/close. */
void h_ws_send_packet(int fd, int type, const char *packId, const void *desc, const void *body);
int h_ws_read_packet(int fd, void *packet, int timeout_ms);
/* LOGIN over a raw WebSocket; returns the LoginResp code. */
int h_ws_login(int fd, const char *user, const char *password, int device);

#endif
