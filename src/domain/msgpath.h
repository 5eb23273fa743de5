/*
 * domain/msgpath.h - the send path on the message log, SQLite mode
 * (issue #18; DESIGN "Rulings of 2026-12-07 -- Delivery path"; docs/
 * storage.md "Delivery path").
 *
 * An accepted message is appended to the log (store/msglog.h: write(2) on
 * the loop, no fsync), pushed, and acked once the log's sync thread reports
 * its record durable. The tables are written behind: the records wait here
 * (pending) and are applied by the store thread in batches of up to
 * `apply_batch` records (or after `apply_delay_ms`), each batch in one work
 * item that also stores the applied log position (meta "msglog.applied")
 * in the same transaction; once that is durable, the log is retired below
 * it. The read barrier: every other store submission first queues the
 * pending records as an apply item ahead of it (store.h,
 * omtp_store_set_barrier), so every read sees every message that was
 * pushed or acked before it was submitted. Start-up replays the log past
 * the applied position (idempotently: omtp_db_msg_apply) before the
 * listeners open. The backlog is bounded in records, bytes and time behind
 * (omtp_msgpath_room below): above, new sends wait, then are refused with
 * SERVICE_UNAVAILABLE.
 *
 * Failures (docs/storage.md "Disk full"): each apply item is isolated in the
 * store (omtp_store_submit_isolated: a failed apply fails no read queued
 * behind it); a failed apply's records go back to pending and are retried
 * with the next batch, on the next read's barrier, or by a retry timer (100
 * ms doubling to 5 s) on an idle server. While the apply fails on a full
 * disk, sends are refused with OMTP_ENOSPC (DB_ERROR) until the data
 * directory has room again; the log's own disk-full refusals and these go
 * to the store's shared disk-full line and counter
 * (omtp_store_note_disk_full).
 *
 * Off (s->msgpath NULL) with PostgreSQL or message_log = false: sends keep
 * the store transaction per message (domain/msg.c).
 *
 * Threading: loop thread, but the apply work (store thread).
 */
#ifndef OMTP_DOMAIN_MSGPATH_H
#define OMTP_DOMAIN_MSGPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/server.h"
#include "domain/dedupwin.h"
#include "domain/logrec.h"
#include "domain/msgcache.h"
#include "domain/oplock.h"
#include "domain/sendorder.h"
#include "domain/seqgen.h"
#include "store/msglog.h"

typedef struct msgpath msgpath;

/* The send path's state, or NULL when the log is off. */
msgpath *omtp_msgpath(omtp_server *s);
seqgen *omtp_msgpath_seq(msgpath *p);
dedupwin *omtp_msgpath_dedup(msgpath *p);
/* Control, read and reaction operations hold their key (oplock.h) from
 * their check until their append. */
oplocks *omtp_msgpath_locks(msgpath *p);
/* Recent messages (msgcache.h): fed by the send path's appends. */
msgcache *omtp_msgpath_recent(msgpath *p);
sendorder *omtp_msgpath_order(msgpath *p);
/* its log (msglog_metrics.c reads its stats) */
omtp_msglog *omtp_msgpath_log(msgpath *p);

/* A caller waiting for its record to be durable: `synced` runs on the loop
 * with 0, or the log's failure (OMTP_EDB / OMTP_EIO). */
typedef struct msgpath_waiter {
    struct msgpath_waiter *next;
    uint64_t lsn;
    void (*synced)(struct msgpath_waiter *w, int status);
} msgpath_waiter;

/* Appends m (seqId and timestamp assigned) to the log and queues it for the
 * apply; *lsn_end = where its record ends. 0, OMTP_EBUSY (too many unapplied
 * bytes: apply_pending_max), OMTP_ENOSPC, OMTP_EIO, OMTP_EDB (the log failed
 * before), OMTP_ENOMEM. Nothing is written on error. */
int omtp_msgpath_append(msgpath *p, const omtp_msg_rec *m, uint64_t *lsn_end);
/* The same for a control, read or reaction record (type OMTP_LOGREC_CTRL,
 * _READ, _REACT; logrec.h): appended, queued for the apply, same errors. */
int omtp_msgpath_append_op(msgpath *p, uint8_t type, const omtp_logop *o, uint64_t *lsn_end);
/* The apply backlog's bounds (docs/storage.md "Apply backlog"): a send
 * asks for room before it is numbered. Unapplied records
 * (apply_pending_records_max), their bytes (apply_pending_max) and the time
 * behind (apply_lag_max_ms: the oldest unapplied record's age, and the
 * backlog times the measured apply cost per record) bound what a read
 * behind the barrier waits for. Above them a send waits, the loop does not:
 * in arrival order, until an apply brings the backlog back within them, at
 * most apply_wait_ms. */
typedef struct msgpath_room {
    struct msgpath_room *next;
    uint64_t since_ms, deadline_ms; /* uv_now */
    /* status 0: go on (number and append now); OMTP_EBUSY: the wait is
     * over (or shutting down), why = the setting that was exceeded */
    void (*ready)(struct msgpath_room *r, int status, const char *why);
} msgpath_room;
/* 1: go on now; 0: queued (r->ready later); OMTP_EBUSY: refused at once
 * (apply_wait_ms = 0, or stopping), *why = the setting. The pending
 * records are queued for the apply at once whenever the bound is hit. */
int omtp_msgpath_room(msgpath *p, msgpath_room *r, const char **why);
/* Calls w->synced once everything up to w->lsn is durable (from inside the
 * call when it already is, or the log failed: then returns false, and w's
 * owner may be gone; true: queued, called back in lsn order later). */
bool omtp_msgpath_wait(msgpath *p, msgpath_waiter *w);

/* The store side of one record (implemented by domain/msg.c): the message
 * row (omtp_db_msg_apply), and only if it was not stored before, its
 * replies/mentions and its high-priority queue rows. Store thread. */
int omtp_msg_apply_record(omtp_db *db, const omtp_msg_rec *m);
/* The store side of a control, read or reaction record (domain/msg.c,
 * reaction.c), idempotent: applied twice, the second changes nothing.
 * Store thread. */
int omtp_msg_apply_op(omtp_db *db, uint8_t type, const omtp_logop *o);

/* Parts (omtpd/wiring.c). start: OMTP_START_STORE (opens and replays the
 * log, before the listeners); stop: OMTP_STOP_BEFORE_STORE (queues every
 * pending record, so the store's close applies it); close: OMTP_STOP_AFTER_
 * STORE (the log's last sync, then frees). */
int omtp_msgpath_start(omtp_server *s, char *why, size_t whylen);
void omtp_msgpath_stop(omtp_server *s);
void omtp_msgpath_close(omtp_server *s);

typedef struct msgpath_stats {
    uint64_t pending_records, pending_bytes; /* appended, not yet applied */
    uint64_t applies, applied_records, apply_failures;
    uint64_t applied_lsn;
    uint64_t seq_counters, seq_bytes, dedup_entries, dedup_bytes;
    uint64_t refused_busy; /* sends refused above the backlog's bounds */
    uint64_t lag_ms;       /* age of the oldest unapplied record */
    uint64_t behind_ms;    /* backlog x apply cost per record */
    uint64_t us_per_record;
    uint64_t sends_waiting, send_waits, send_wait_ms;
    uint64_t dedup_early_drops;
    uint64_t order_keys;
    uint64_t recent_msgs, recent_bytes; /* msgcache.h */
} msgpath_stats;
void omtp_msgpath_stats(omtp_server *s, msgpath_stats *out);

#endif
