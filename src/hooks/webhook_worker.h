/*
 * webhook_worker.h - the HTTP side of the webhooks: one worker thread that
 * runs every outgoing request with libcurl's multi interface, so the event
 * loop never waits for a business backend.
 *
 * Two kinds of work cross from the loop to the worker through one bounded
 * inbox (a mutex-protected list; the worker sleeps in curl_multi_poll() and
 * producers wake it with curl_multi_wakeup(), which plays the part of a
 * condition variable for a thread that must also wait on sockets):
 *
 *  - checks (before-send): one POST each, with a hard timeout. The result
 *    goes back to the loop through a done list and a uv_async; the callback
 *    runs on the loop thread.
 *  - push events (offline push): JSON objects, each for one recipient. The
 *    worker batches the events of a recipient that arrive within batch_ms
 *    into one POST whose body is a JSON array (at most
 *    OMTP_HOOKW_BATCH_MAX events), and retries a failed POST (transport
 *    error or a non-2xx status) with exponential backoff (retry_min_ms
 *    doubling up to retry_max_ms, +0..25 % jitter), forever -- until the
 *    queue bound pushes the events out. Events of a recipient stay in
 *    order: a recipient has at most one batch waiting, new events join it,
 *    and a failed batch is merged in front of a newer one.
 *
 * Bound: at most queue_max events wait (inbox + batches). Beyond that the
 * oldest waiting event is dropped, counted (events_dropped) and logged
 * (one line per second at most). Events already in flight are not dropped.
 *
 * Every request is signed when a secret is set: header
 *   X-Omtp-Signature: t=<unix seconds>,sha256=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * (docs/webhooks.md shows how to verify it).
 *
 * Cost: the worker holds one curl easy handle per request in flight (at most
 * OMTP_HOOKW_MAX_INFLIGHT pushes plus the checks); connections are reused
 * by the multi handle. Per event: its JSON text and a list node.
 *
 * Threading: start/stop/submit/stats on the loop thread (stats: any
 * thread); callbacks on the loop thread.
 */
#ifndef OMTP_WEBHOOK_WORKER_H
#define OMTP_WEBHOOK_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define OMTP_HOOKW_BATCH_MAX    100 /* events per POST */
#define OMTP_HOOKW_MAX_INFLIGHT 8   /* push POSTs at once */

typedef struct omtp_hookw omtp_hookw;

typedef struct omtp_hookw_config {
    const char *push_url;      /* "" or NULL = pushes refused (OMTP_EINVAL) */
    uint32_t batch_ms;         /* batching window per recipient */
    uint32_t queue_max;        /* events waiting at most (0 = 10000) */
    uint32_t push_timeout_ms;  /* one push POST (0 = 10000) */
    uint32_t retry_min_ms;     /* first retry delay (0 = 500) */
    uint32_t retry_max_ms;     /* longest retry delay (0 = 30000) */
    const char *check_url;     /* "" or NULL = checks refused (OMTP_EINVAL) */
    uint32_t check_timeout_ms; /* whole check request (0 = 1000) */
    const char *secret;        /* HMAC key; "" or NULL = unsigned */
} omtp_hookw_config;

/*
 * Result of a check, on the loop thread. status: 0 when an HTTP answer came
 * (http_status holds it, body/len its body, borrowed for the call),
 * OMTP_ETIMEDOUT when the timeout passed, OMTP_EIO for transport errors,
 * OMTP_ECLOSED when the worker stopped first. elapsed_us: from submit to
 * the answer.
 */
typedef void (*omtp_hookw_check_fn)(void *arg, int status, long http_status, const char *body,
                                    size_t len, uint64_t elapsed_us);

typedef struct omtp_hookw_stats {
    uint64_t events_waiting;   /* gauge: inbox + batches */
    uint64_t events_delivered; /* events in a POST answered 2xx */
    uint64_t events_dropped;   /* pushed out by the bound */
    uint64_t posts_ok;         /* push POSTs answered 2xx */
    uint64_t posts_failed;     /* push POSTs failed (each attempt) */
    uint64_t checks_done;      /* checks that got an HTTP answer */
    uint64_t checks_failed;    /* checks that timed out or failed */
} omtp_hookw_stats;

/* Starts the worker thread. cfg strings are copied. Returns 0 or OMTP_E*. */
int omtp_hookw_start(uv_loop_t *loop, const omtp_hookw_config *cfg, omtp_hookw **out);
/* Stops the thread (transfers in flight are abandoned, waiting events are
 * dropped and logged), calls every pending check callback with OMTP_ECLOSED
 * before returning, and frees. NULL is a no-op. */
void omtp_hookw_stop(omtp_hookw *w);

/* Queues a check: POST `body` (len bytes; copied) to check_url. Returns 0
 * and calls cb once later on the loop, or an OMTP_E* and never calls it. */
int omtp_hookw_check(omtp_hookw *w, const char *body, size_t len, omtp_hookw_check_fn cb,
                     void *arg);
/* Queues one push event (a JSON object's text, copied) for `recipient`.
 * Returns 0 or an OMTP_E* (nothing queued). */
int omtp_hookw_push(omtp_hookw *w, const char *recipient, const char *json, size_t len);

void omtp_hookw_stats_get(omtp_hookw *w, omtp_hookw_stats *out);

/* SIGHUP (loop thread): new push URL, check URL and secret (copied; "" =
 * that hook off / unsigned). Requests already made keep the old ones. */
int omtp_hookw_set_urls(omtp_hookw *w, const char *push_url, const char *check_url,
                        const char *secret);

/* Writes the signature header value for `body` at unix time `t` into out
 * ("t=<t>,sha256=<64 hex>"). Returns 0 or OMTP_EINVAL (out too small). */
int omtp_hookw_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                    size_t outlen);

#endif
