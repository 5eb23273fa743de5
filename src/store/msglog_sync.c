/*
 * msglog_sync.c - the message log's sync thread: makes appended records
 * durable, several at a time, and paces its fdatasyncs.
 *
 * One fdatasync covers every record appended (published by the loop's kick,
 * msglog.c) before it started: the rotated-out segments still holding
 * unsynced bytes are synced and closed first, the directory is fsynced if a
 * segment was created (so the new file's name survives a power cut before
 * any of its records is reported durable), then the current segment. Then
 * sh_synced moves to the target and one omtp_loopwake_send wakes the loop,
 * whose callback reports it (msglog.c; loopwake.h says why not a uv_async).
 *
 * Pacing (opts.sync_delay_us): when the thread was idle (the previous sync
 * had nothing waiting when it ended), it waits up to the delay after being
 * woken, or until MSGLOG_PACE_BYTES are waiting, so that the records of the
 * next few loop turns share the fdatasync. When records arrived during the
 * previous sync (load), the next sync starts at once: the sync's own
 * duration is the batching window, no wait is added. Pushes never wait for
 * any of this; only acks do.
 *
 * A failed fdatasync (or directory fsync) is final: sh_failed is set, the
 * failure is logged once, nothing is reported durable again and the loop
 * refuses appends (as PostgreSQL after a failed fsync: the page cache may
 * have dropped the dirty pages, so a retry could report lost data durable).
 *
 * OMTP_TEST_LOG_SYNCED_FILE (tests only): after each successful sync the
 * synced LSN is written (20 decimal digits and a newline, at offset 0) to
 * that file, so a crash test can cut the log after the last durable byte.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "msglog_int.h"

/* Waits (mu held) up to the pacing delay for more records to share the
 * sync; returns early when enough are waiting or on close. */
static void pace(omtp_msglog *log)
{
    uint64_t now = uv_hrtime();
    uint64_t deadline = now + (uint64_t)log->o.sync_delay_us * 1000u;
    log->sh_pacing = true;
    while (!log->sh_stopping && now < deadline &&
           log->sh_appended - log->sh_synced < MSGLOG_PACE_BYTES) {
        (void)uv_cond_timedwait(&log->cv, &log->mu, deadline - now);
        now = uv_hrtime();
    }
    log->sh_pacing = false;
}

static void write_test_synced(omtp_msglog *log, uint64_t lsn)
{
    char buf[32];
    int k = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)lsn);
    if (pwrite(log->test_synced_fd, buf, (size_t)k, 0) != k)
        LOG_WARN("message log: OMTP_TEST_LOG_SYNCED_FILE: write failed: %s", strerror(errno));
}

void msglog_unlink(const char *dir, const uint64_t *starts, size_t n)
{
    char path[4096];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/" MSGLOG_NAME_FMT, dir, (unsigned long long)starts[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            LOG_WARN("message log: cannot remove the applied segment %s: %s (remove it by hand)",
                     path, strerror(errno));
    }
}

void msglog_sync_main(void *arg)
{
    omtp_msglog *log = arg;
    /* named for top -H, perf and bench/msglog_p99.sh's CPU per thread */
    (void)pthread_setname_np(pthread_self(), "omtpd-logsync");
    bool busy = false; /* records arrived during the last sync */
    uv_mutex_lock(&log->mu);
    for (;;) {
        while ((log->sh_appended == log->sh_synced || log->sh_failed) && !log->sh_stopping &&
               !log->sh_nunlink) {
            log->sh_idle = true;
            uv_cond_wait(&log->cv, &log->mu);
        }
        log->sh_idle = false;
        if (log->sh_nunlink) {
            /* retired segments: unlinking a big file can take milliseconds,
             * so it happens here, not on the loop */
            uint64_t *starts = log->sh_unlink;
            size_t n = log->sh_nunlink;
            log->sh_unlink = NULL;
            log->sh_nunlink = log->sh_unlink_cap = 0;
            uv_mutex_unlock(&log->mu);
            msglog_unlink(log->dir, starts, n);
            free(starts);
            uv_mutex_lock(&log->mu);
            continue;
        }
        if (log->sh_appended == log->sh_synced || log->sh_failed)
            break; /* stopping, and nothing (more) can be synced */
        if (log->o.sync_delay_us && !busy)
            pace(log);
        uint64_t target = log->sh_appended, records = log->sh_records;
        int cur = log->sh_fd;
        bool dir_dirty = log->sh_dir_dirty;
        log->sh_dir_dirty = false;
        size_t nold = log->sh_nold;
        int *old = NULL;
        if (nold) {
            old = log->sh_old_fds;
            log->sh_old_fds = NULL;
            log->sh_nold = log->sh_old_cap = 0;
        }
        uv_mutex_unlock(&log->mu);

        uint64_t t0 = uv_hrtime();
        const char *what = NULL;
        int err = 0;
        for (size_t i = 0; i < nold; i++) {
            if (!what && fdatasync(old[i]) != 0)
                what = "fdatasync of a finished segment", err = errno;
            close(old[i]);
        }
        free(old);
        if (!what && dir_dirty && fsync(log->dirfd) != 0)
            what = "fsync of the log directory", err = errno;
        if (!what && fdatasync(cur) != 0)
            what = "fdatasync of the current segment", err = errno;
        uint64_t us = (uv_hrtime() - t0) / 1000;
        if (!what && log->test_synced_fd >= 0)
            write_test_synced(log, target);

        uv_mutex_lock(&log->mu);
        if (what) {
            log->sh_failed = OMTP_EDB;
            LOG_ERROR("message log: %s in %s failed: %s; from now on every message is refused "
                      "(nothing can be acknowledged as durable): check the disk, then restart "
                      "omtpd (the log is replayed)",
                      what, log->dir, strerror(err));
        } else {
            log->sh_synced = target;
            log->sh_synced_records = records;
            log->fsyncs++;
            msglog_hist_add(log->sync_us_bucket, &log->sync_us_sum, &log->sync_us_max, us);
        }
        busy = log->sh_appended != target;
        uv_mutex_unlock(&log->mu);
        omtp_loopwake_send(&log->wake);
        uv_mutex_lock(&log->mu);
    }
    uv_mutex_unlock(&log->mu);
}
