/*
 * msglog_int.h - what the message log's files share (msglog.c: the loop
 * side; msglog_sync.c: the sync thread; msglog_read.c: the reader). Not a
 * public header: only src/store/msglog*.c include it.
 *
 * Threading: fields under "loop thread" are touched only by the loop
 * thread; fields under "mu" only with the mutex held; the sync thread's own
 * fields only by it (and by close after it was joined).
 */
#ifndef OMTP_MSGLOG_INT_H
#define OMTP_MSGLOG_INT_H

#include <stdio.h>

#include "msglog.h"
#include "store/loopwake.h"

#define MSGLOG_NAME_FMT "seg-%016llx.log"
#define MSGLOG_NAME_LEN 24 /* "seg-" + 16 + ".log" */
/* an idle log's sync waits for at most this much data before it starts
 * even if the pacing delay has not passed */
#define MSGLOG_PACE_BYTES (1u << 20)

struct omtp_msglog {
    uv_loop_t *loop;
    char *dir;
    int dirfd;
    omtp_msglog_opts o;
    omtp_msglog_synced_fn synced_fn;
    void *arg;
    int test_synced_fd; /* OMTP_TEST_LOG_SYNCED_FILE, -1 = none (sync thread writes) */

    /* loop thread */
    int fd;             /* current segment */
    uint64_t seg_start; /* its first LSN */
    uint64_t end;       /* LSN past the last appended record */
    uint64_t *segs;     /* start LSNs of the segments on disk, ascending (last = current) */
    size_t nsegs, segs_cap;
    uint64_t retired;     /* highest LSN passed to retire */
    uint64_t loop_synced; /* highest LSN reported to synced_fn */
    bool fail_reported;
    bool kick; /* appended since the sync thread was signalled */
    bool closed;
    uint64_t appended_bytes, appended_records, append_fail;
    /* where the loop's time goes (msglog.h, omtp_msglog_stats): pwritev per
     * append, and the loop's work per turn (busy time between two polls) */
    uint64_t append_us_bucket[12], append_us_sum, append_us_max;
    uint64_t turn_us_bucket[12], turn_us_sum, turn_us_max;
    uint64_t turn_last_ns, turn_last_idle_ns;
    uint64_t full_logged_ms, full_suppressed;
    /* the sync thread's wake-up of the loop (loopwake.h: why not a uv_async) */
    omtp_loopwake wake;
    uv_check_t kick_check;
    uv_prepare_t kick_prepare;
    int open_handles;

    /* mu */
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_thread_t thread;
    bool thread_started;
    uint64_t sh_appended; /* published end LSN */
    uint64_t sh_records;  /* published appended_records */
    uint64_t sh_synced;   /* durable LSN */
    uint64_t sh_synced_records;
    int sh_fd;       /* current segment (the sync thread fdatasyncs it) */
    int *sh_old_fds; /* rotated-out segments: fdatasync then close */
    size_t sh_nold, sh_old_cap;
    bool sh_dir_dirty;   /* a segment was created: fsync the directory */
    uint64_t *sh_unlink; /* retired segments (start LSNs) the sync thread removes */
    size_t sh_nunlink, sh_unlink_cap;
    int sh_failed; /* 0, or the status every record from sh_synced on failed with */
    bool sh_stopping;
    bool sh_idle;   /* the sync thread waits for records: a kick signals it */
    bool sh_pacing; /* it waits out the pacing delay: signalled only at MSGLOG_PACE_BYTES */
    uint64_t fsyncs, sync_us_bucket[12], sync_us_sum, sync_us_max;
};

/* Adds one sample to a latency histogram over the store's buckets
 * (cumulative counts: <=50us,100,250,500,1ms,2.5,5,10,25,50,100ms,+Inf). */
static inline void msglog_hist_add(uint64_t bucket[12], uint64_t *sum, uint64_t *max, uint64_t us)
{
    static const uint64_t le[11] = {50,   100,   250,   500,   1000,  2500,
                                    5000, 10000, 25000, 50000, 100000};
    *sum += us;
    if (us > *max)
        *max = us;
    for (int i = 0; i < 11; i++)
        if (us <= le[i])
            bucket[i]++;
    bucket[11]++;
}

/* msglog_sync.c */
void msglog_sync_main(void *arg);
/* removes the segments starting at starts[0..n) (any thread; logs failures) */
void msglog_unlink(const char *dir, const uint64_t *starts, size_t n);

/* msglog_read.c: the segments of `dir` (start LSNs, ascending) in a
 * malloc'd array; 0, or OMTP_EIO/OMTP_ENOMEM (a missing dir is empty). */
int msglog_list(const char *dir, uint64_t **out, size_t *n);
/* crc of a record: crc32 over type then payload */
uint32_t msglog_crc(uint8_t type, const void *p, size_t n);
/* Scans `dir`, calling fn for valid records from `from` on; with repair
 * cuts the tail. What omtp_msglog_replay does; also used by open. */
int msglog_scan(const char *dir, uint64_t from, bool repair, omtp_msglog_record_fn fn, void *arg,
                omtp_msglog_replay_stats *st);

#endif
