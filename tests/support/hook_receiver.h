/*
 * hook_receiver.h - a small HTTP server standing in for a business backend
 * in webhook tests (libmicrohttpd, one thread per connection).
 *
 * It records every request (path, X-Omtp-Event, X-Omtp-Signature, body) in
 * memory and, when a record file is given, appends one JSON line per
 * request to it. Every request is answered with the configured status,
 * after the configured delay, with the configured body (default: 200,
 * no delay, empty body). It can be stopped (the port then refuses
 * connections) and started again on the same port, to play a backend that
 * is down for a while.
 *
 * Threading: the test thread calls everything; requests are recorded from
 * libmicrohttpd's threads under a mutex.
 */
#ifndef OMTP_HOOK_RECEIVER_H
#define OMTP_HOOK_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hook_rx hook_rx;

typedef struct hook_rx_req {
    char path[256];
    char event[64];      /* X-Omtp-Event */
    char signature[160]; /* X-Omtp-Signature */
    char *body;          /* NUL-terminated */
    size_t len;
} hook_rx_req;

/* Listens on 127.0.0.1:port (0 = any free port). record_path may be NULL.
 * Returns NULL on failure. */
hook_rx *hook_rx_start(int port, const char *record_path);
int hook_rx_port(const hook_rx *r);
/* The base URL "http://127.0.0.1:<port>" (owned by r). */
const char *hook_rx_url(const hook_rx *r);
/* Stops listening (connections are refused); records are kept. */
void hook_rx_stop(hook_rx *r);
/* Listens again on the same port. Returns 0 or -1. */
int hook_rx_restart(hook_rx *r);
/* Stops and frees everything. NULL is a no-op. */
void hook_rx_free(hook_rx *r);

/* How to answer from now on: HTTP status, delay before answering, body
 * (NULL = empty; copied). */
void hook_rx_respond(hook_rx *r, int status, int delay_ms, const char *body);
/* When set, a request whose body contains `word` is answered with
 * status/body instead (a moderation hook that refuses a word). NULL clears. */
void hook_rx_refuse_word(hook_rx *r, const char *word, int status, const char *body);

/* Requests recorded so far. */
int hook_rx_count(hook_rx *r);
/* Waits until at least n requests were recorded. Returns true if they were
 * within timeout_ms. */
bool hook_rx_wait(hook_rx *r, int n, int timeout_ms);
/* A copy of request i (0-based) in *out (free out->body). false if none. */
bool hook_rx_get(hook_rx *r, int i, hook_rx_req *out);

/* Checks an X-Omtp-Signature value ("t=<t>,sha256=<hex>") against secret
 * and body, independently of the server's code. Also fails when t is more
 * than max_age_s seconds away from now (max_age_s <= 0: not checked). */
bool hook_rx_verify(const char *secret, const char *sig, const char *body, size_t len,
                    int max_age_s);

#endif
