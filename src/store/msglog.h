/*
 * msglog.h - the durable message log on the delivery path (issue #18).
 *
 * A directory of segment files "seg-%016llx.log" (the name = the LSN of
 * its first byte, in hex). LSN = byte position in the endless log
 * (monotonic across segments; a segment starts where the previous one
 * ended).
 *
 * Record on disk (little endian):
 *   u32 length of payload | u32 crc32 (zlib) over type+payload | u8 type | payload
 * so a record takes OMTP_MSGLOG_HDR + n bytes. A length of 0 with a crc of
 * 0 and type 0 is never written: a zero-filled tail (file grown, data not
 * yet on disk at a power cut) reads as a torn record.
 *
 * Threading: open/append/retire/close/get_stats on the loop thread; one
 * internal sync thread fdatasyncs; the synced callback runs on the loop
 * thread (uv_async). replay() is synchronous, for start-up and tools (no
 * log may be open on the directory meanwhile).
 *
 * Ownership: the log owns its files and thread; `dir` is copied.
 * docs/storage.md, "Message log", has the failure policy and the settings.
 */
#ifndef OMTP_MSGLOG_H
#define OMTP_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/omtp_errors.h"

#define OMTP_MSGLOG_HDR             9u          /* length + crc + type */
#define OMTP_MSGLOG_MAX_RECORD      (16u << 20) /* payload bytes */
#define OMTP_MSGLOG_DEFAULT_SEGMENT (64u << 20) /* bytes */

typedef struct omtp_msglog omtp_msglog;

typedef struct omtp_msglog_opts {
    uint64_t segment_bytes; /* rotate after this many bytes (0 = default 64 MiB) */
    /* fsync pacing: wait up to this long after the first unsynced append so
     * that later appends share the fdatasync (0 = sync at once); acks are
     * delayed by at most this, pushes never. Under load (a sync is running
     * when the next append comes) no wait is added. */
    uint32_t sync_delay_us;
    /* synchronous=off equivalent: never fdatasync (tests/benches only);
     * synced == appended */
    bool nosync;
    /* The store's applied position (0 = none): the log goes on from at
     * least here. If the log on disk ends below it (a power cut lost the
     * log's unsynced tail after the store had applied and synced those
     * records), everything on disk is applied already: it is removed and
     * the log starts afresh at start_lsn, so no LSN is used twice. */
    uint64_t start_lsn;
    /* Disk full reported by the caller (the store's one "store: disk full"
     * line and omtp_store_disk_full_total: omtp_store_note_disk_full): when
     * set, called on the loop thread with the errno (ENOSPC, EDQUOT, EFBIG)
     * and the log's arg for every append refused because the disk is full,
     * instead of the log's own rate-limited ERROR line. */
    void (*on_full)(void *arg, int err);
} omtp_msglog_opts;

/* Called on the loop thread: every record ending at or before `lsn` is
 * durable (status 0), or the sync failed (status < 0: from then on the log
 * refuses appends - nothing can be acked any more). Never called from
 * inside omtp_msglog_append. */
typedef void (*omtp_msglog_synced_fn)(void *arg, uint64_t lsn, int status);

/* Creates dir (0750) if needed; positions at the end of the last valid
 * record (a torn tail is cut, as replay with repair does). Returns 0, or
 * OMTP_EIO / OMTP_ENOMEM (logged with the path and what to do). */
int omtp_msglog_open(uv_loop_t *loop, const char *dir, const omtp_msglog_opts *o,
                     omtp_msglog_synced_fn synced, void *arg, omtp_msglog **out);

/* Loop thread: write(2) one record (never fsync). *lsn_end = the LSN just
 * past it. Errors: OMTP_ENOSPC (disk full, logged at most once a minute),
 * OMTP_EIO, OMTP_ETOOBIG (> OMTP_MSGLOG_MAX_RECORD), OMTP_EDB after a failed
 * sync. A failed or short write leaves the log as before (ftruncate back). */
int omtp_msglog_append(omtp_msglog *log, uint8_t type, const void *p, size_t n, uint64_t *lsn_end);

uint64_t omtp_msglog_end(const omtp_msglog *log);    /* LSN past the last appended record */
uint64_t omtp_msglog_synced(const omtp_msglog *log); /* LSN known durable (loop's view) */

/* Everything before `lsn` is applied to the store durably: whole segments
 * ending at or below it are deleted (never the current one) - by the sync
 * thread, shortly after (an unlink of a big file can take milliseconds),
 * or at close at the latest. */
void omtp_msglog_retire(omtp_msglog *log, uint64_t lsn);

/* Start-up / tools: calls fn for every valid record with LSN >= from, in
 * order (fn returning non-zero stops the replay and is returned). Stops at
 * the first torn or corrupt record (bad length, bad crc, short read) and
 * reports it (st->cut_bytes = the bytes from there to the end of the log);
 * with `repair` the tail from there is cut (ftruncate + later segments
 * removed) and the cut is logged at WARN with the byte count. A missing
 * directory is an empty log. Returns 0, fn's value, or OMTP_EIO. */
typedef int (*omtp_msglog_record_fn)(void *arg, uint64_t lsn, uint8_t type, const uint8_t *p,
                                     size_t n);
typedef struct omtp_msglog_replay_stats {
    uint64_t records, bytes; /* valid records read from `from` on, their bytes */
    uint64_t end_lsn;        /* LSN past the last valid record */
    uint64_t cut_bytes;      /* bytes after end_lsn (torn/corrupt tail) */
} omtp_msglog_replay_stats;
int omtp_msglog_replay(const char *dir, uint64_t from, bool repair, omtp_msglog_record_fn fn,
                       void *arg, omtp_msglog_replay_stats *st);

/* Stats for /metrics. */
typedef struct omtp_msglog_stats {
    uint64_t appended_bytes, appended_records; /* since open */
    uint64_t fsyncs;                           /* fdatasyncs done */
    uint64_t synced_records;                   /* records covered by them (records/fsync) */
    uint64_t sync_us_bucket[12]; /* fdatasync latency: <=50us,100,250,500,1ms,2.5,5,10,25,50,
                                    100ms,+Inf (cumulative, as the store's) */
    uint64_t sync_us_sum, sync_us_max;
    /* the loop thread's side (same buckets): time in pwritev per append
     * (the loop waits for it: a filesystem stall shows here), and the
     * loop's busy time per turn (from one poll to the next, idle time not
     * counted: how long any event may wait behind the others) */
    uint64_t append_us_bucket[12], append_us_sum, append_us_max;
    uint64_t turn_us_bucket[12], turn_us_sum, turn_us_max;
    uint64_t append_fail;          /* appends refused (disk full, I/O error, failed sync) */
    uint64_t unsynced_bytes;       /* appended, not yet durable, now */
    uint64_t segments, disk_bytes; /* segment files and their bytes now */
    uint64_t end_lsn, synced_lsn, retired_lsn;
    bool failed; /* an fdatasync failed: appends are refused until restart */
} omtp_msglog_stats;
void omtp_msglog_get_stats(const omtp_msglog *log, omtp_msglog_stats *st);

/* Flushes (one last fdatasync), stops the thread, closes files; the final
 * synced callback runs before it returns. The loop's handles close with
 * the loop's next turn (run the loop once more before uv_loop_close). */
void omtp_msglog_close(omtp_msglog *log);

#endif
