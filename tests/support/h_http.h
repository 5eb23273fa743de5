/*
 * h_http.h - the HTTP side of a test server: its port file and /metrics.
 *
 * Integration tests that turn the HTTP API on (http_listen = 127.0.0.1:0,
 * http_port_file = F) read the bound port with h_http_port, and single
 * Prometheus samples with h_metric. Threading: test thread only; failures
 * fail the test (cmocka), like the rest of the harness.
 */
#ifndef OMTP_H_HTTP_H
#define OMTP_H_HTTP_H

#include <stddef.h>

/* The port in port file `path`, waiting up to 10 s for omtpd to write it
 * (the HTTP port file is written after the OMTP one h_server_start waited
 * for). */
int h_http_port(const char *path);
/* The value of the sample line `name` (exactly, labels included) of
 * GET http://127.0.0.1:<port>/metrics; -1 if there is no such line. */
double h_metric(int port, const char *name);
/* One API request: `method` `path` with a JSON `body` (NULL = none) and
 * "Authorization: Bearer `key`" (NULL = none), 30 s timeout. Returns the
 * HTTP status; the response body into out (may be NULL; truncated). */
long h_http_call(int port, const char *method, const char *path, const char *key, const char *body,
                 char *out, size_t outlen);
/* The whole text of GET http://127.0.0.1:<port>/metrics (malloc'd, the
 * caller frees it); fails the test unless the answer is 200. */
char *h_metrics_text(int port);

#endif
