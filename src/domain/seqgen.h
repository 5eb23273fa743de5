/*
 * domain/seqgen.h - per-session seqId counters in memory, for the send path
 * on the message log (docs/storage.md, "Delivery path").
 *
 * The loop assigns each accepted message last+1 of its session right before
 * appending it to the log, so log order is seqId order. A counter is loaded
 * on first use by a store read (omtp_db_session_seq_load, which also refuses
 * a session id stored with other parties: OMTP_EINVAL); the message waits in
 * the counter's queue, the loop does not. The read is submitted with
 * omtp_store_submit, so the read barrier orders it after every record
 * appended before it: a counter evicted and loaded again is right.
 *
 * Memory: at most `max` counters; beyond, the least recently used counter
 * that is neither loading nor waited on is dropped. seqgen_bytes reports
 * what the counters hold.
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_SEQGEN_H
#define OMTP_DOMAIN_SEQGEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/server.h"

typedef struct seqgen seqgen;

/* A message waiting for its session's counter. `ready` runs on the loop once
 * the load finished: status 0 (call seqgen_take again), OMTP_EINVAL (the
 * session belongs to other parties) or the store's error. */
typedef struct seq_waiter {
    struct seq_waiter *next;
    void (*ready)(struct seq_waiter *w, int status);
} seq_waiter;

seqgen *seqgen_new(omtp_server *s, size_t max);
/* Drops every counter; waiters still queued are never called (call after the
 * store closed). */
void seqgen_free(seqgen *g);

/* The counter of m's session (m: type, from, to, sessionId). Returns 1 with
 * *last pointing at the session's last seqId (the caller stores the seqId it
 * used there once the append succeeded; valid until the next call), 0 when
 * w waits for the load (w->ready is called later), or a negative OMTP_E*
 * (the load could not start; w is not queued). */
int seqgen_take(seqgen *g, const omtp_msg_rec *m, seq_waiter *w, int64_t **last);

/* Stops evicting (an apply failed: a reload could miss unapplied records)
 * or allows it again. */
void seqgen_hold(seqgen *g, bool hold);

/* Counter loads (suspect (b) of the log path's latency tail, docs/storage.md):
 * loads started, messages that waited for one, and the load latency
 * (submit -> done on the loop) as a histogram over the store's buckets. */
typedef struct seqgen_load_stats {
    uint64_t loads, waiters;
    uint64_t wait_us_bucket[12], wait_us_sum, wait_us_max;
} seqgen_load_stats;
void seqgen_get_load_stats(const seqgen *g, seqgen_load_stats *st);

size_t seqgen_count(const seqgen *g);
size_t seqgen_bytes(const seqgen *g);

#endif
