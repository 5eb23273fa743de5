/*
 * msglog.c - the message log (msglog.h), the loop thread's side: open,
 * append, rotation, the kick of the sync thread, the synced callbacks,
 * retire, stats and close. The sync thread is msglog_sync.c, the reader
 * msglog_read.c.
 *
 * Appends: one pwritev(2) per record at the segment's known end (the file
 * is not O_APPEND, so a failed or short write is undone by ftruncate back to
 * where the record started and the log stays as it was). The sync thread is
 * signalled once per loop turn with the new end (a uv_check after I/O and a
 * uv_prepare before the loop blocks, as the store's executor does), so a
 * burst of appends in one turn costs one wake-up. Its report comes back
 * through one eventfd write per sync, polled here (msglog_int.h: why not a
 * uv_async); the callback runs here, on the loop.
 *
 * Disk full (ENOSPC, EDQUOT, or EFBIG at a file size limit) answers
 * OMTP_ENOSPC and is logged at most once a minute (or handed to
 * opts.on_full, the server's: one disk-full line for the store and the log);
 * the log is unchanged and later appends are tried again (space may come
 * back). Any other write
 * error answers OMTP_EIO. After a failed sync every append answers OMTP_EDB
 * until restart (msglog_sync.c says why).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"
#include "msglog_int.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void seg_path(const omtp_msglog *log, char *buf, size_t cap, uint64_t start)
{
    snprintf(buf, cap, "%s/" MSGLOG_NAME_FMT, log->dir, (unsigned long long)start);
}

static int segs_push(omtp_msglog *log, uint64_t start)
{
    if (log->nsegs == log->segs_cap) {
        size_t nc = log->segs_cap ? log->segs_cap * 2 : 16;
        uint64_t *nv = realloc(log->segs, nc * sizeof(*nv));
        if (!nv)
            return OMTP_ENOMEM;
        log->segs = nv;
        log->segs_cap = nc;
    }
    log->segs[log->nsegs++] = start;
    return 0;
}

/* ------------------------------------------------------ loop callbacks */

static void report(omtp_msglog *log)
{
    uv_mutex_lock(&log->mu);
    uint64_t synced = log->sh_synced;
    int failed = log->sh_failed;
    uv_mutex_unlock(&log->mu);
    if (synced > log->loop_synced) {
        log->loop_synced = synced;
        log->synced_fn(log->arg, synced, 0);
    }
    if (failed && !log->fail_reported) {
        log->fail_reported = true;
        log->synced_fn(log->arg, log->end, failed);
    }
    /* the poll keeps the loop alive only while records wait for a sync */
    if ((log->loop_synced == log->end || log->fail_reported) && !log->closed)
        uv_unref(omtp_loopwake_handle(&log->wake));
}

static void on_wake(void *arg)
{
    report(arg);
}

/* Hands the records appended this turn to the sync thread. */
static void kick(omtp_msglog *log)
{
    if (!log->kick)
        return;
    log->kick = false;
    uv_mutex_lock(&log->mu);
    log->sh_appended = log->end;
    log->sh_records = log->appended_records;
    if (log->o.nosync) {
        log->sh_synced = log->end;
        log->sh_synced_records = log->appended_records;
    } else if (log->sh_idle ||
               (log->sh_pacing && log->sh_appended - log->sh_synced >= MSGLOG_PACE_BYTES)) {
        /* a busy sync thread looks again when its fdatasync returns; a
         * pacing one when its delay is over (no wake-up per loop turn) */
        uv_cond_signal(&log->cv);
    }
    uv_mutex_unlock(&log->mu);
    if (log->o.nosync)
        report(log);
}

static void on_kick_check(uv_check_t *h)
{
    kick(h->data);
}

/* The loop's busy time since the previous turn's prepare: the wall time
 * minus the time it slept in the poll (uv_metrics_idle_time). */
static void measure_turn(omtp_msglog *log)
{
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(log->loop);
    if (log->turn_last_ns) {
        uint64_t wall = now - log->turn_last_ns, slept = idle - log->turn_last_idle_ns;
        uint64_t busy = wall > slept ? (wall - slept) / 1000 : 0;
        msglog_hist_add(log->turn_us_bucket, &log->turn_us_sum, &log->turn_us_max, busy);
    }
    log->turn_last_ns = now;
    log->turn_last_idle_ns = idle;
}

static void on_kick_prepare(uv_prepare_t *h)
{
    kick(h->data);
    measure_turn(h->data);
}

/* ------------------------------------------------------------- open */

/* fdatasyncs every segment (start-up: what a killed process left in the
 * page cache becomes durable before anything is reported synced). */
static int sync_all(omtp_msglog *log)
{
    char path[4096];
    for (size_t i = 0; i < log->nsegs; i++) {
        seg_path(log, path, sizeof path, log->segs[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fdatasync(fd) != 0) {
            LOG_ERROR("message log: cannot sync %s: %s; check the disk, then restart", path,
                      strerror(errno));
            if (fd >= 0)
                close(fd);
            return OMTP_EIO;
        }
        close(fd);
    }
    return fsync(log->dirfd) == 0 ? 0 : OMTP_EIO;
}

static int open_files(omtp_msglog *log)
{
    if (mkdir(log->dir, 0750) != 0 && errno != EEXIST) {
        LOG_ERROR("message log: cannot create the directory %s: %s; create it (writable by "
                  "omtpd) or set data_dir",
                  log->dir, strerror(errno));
        return OMTP_EIO;
    }
    log->dirfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0) {
        LOG_ERROR("message log: cannot open the directory %s: %s", log->dir, strerror(errno));
        return OMTP_EIO;
    }
    uint64_t *segs;
    size_t n;
    int rc = msglog_list(log->dir, &segs, &n);
    if (rc != 0) {
        LOG_ERROR("message log: cannot list %s: %s", log->dir, strerror(errno));
        return rc;
    }
    log->segs = segs;
    log->nsegs = log->segs_cap = n;
    /* the last segment's torn tail (if any) is cut; earlier ones were
     * checked when they were finished, and replay checks them again */
    omtp_msglog_replay_stats st;
    if (n > 0 && (rc = msglog_scan(log->dir, segs[n - 1], true, NULL, NULL, &st)) != 0)
        return rc;
    if (n > 0) {
        /* the scan may have cut whole segments (it does not, starting at the
         * last one, but stay honest about what is on disk) */
        free(log->segs);
        log->segs = NULL;
        if ((rc = msglog_list(log->dir, &log->segs, &log->nsegs)) != 0)
            return rc;
        log->segs_cap = log->nsegs;
    }
    if (log->nsegs > 0 && st.end_lsn < log->o.start_lsn) {
        LOG_WARN("message log: %s ends at LSN %llu, below the store's applied position %llu "
                 "(a power cut lost the log's unsynced tail after the store applied it): "
                 "everything in it is applied; starting afresh at %llu",
                 log->dir, (unsigned long long)st.end_lsn, (unsigned long long)log->o.start_lsn,
                 (unsigned long long)log->o.start_lsn);
        char path[4096];
        for (size_t i = 0; i < log->nsegs; i++) {
            seg_path(log, path, sizeof path, log->segs[i]);
            if (unlink(path) != 0 && errno != ENOENT) {
                LOG_ERROR("message log: cannot remove %s: %s", path, strerror(errno));
                return OMTP_EIO;
            }
        }
        log->nsegs = 0;
    }
    if (log->nsegs == 0) {
        if ((rc = segs_push(log, log->o.start_lsn)) != 0)
            return rc;
        st.end_lsn = log->o.start_lsn;
    }
    log->seg_start = log->segs[log->nsegs - 1];
    log->end = st.end_lsn;
    char path[4096];
    seg_path(log, path, sizeof path, log->seg_start);
    log->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (log->fd < 0) {
        LOG_ERROR("message log: cannot open %s: %s; check the permissions of %s", path,
                  strerror(errno), log->dir);
        return OMTP_EIO;
    }
    if ((rc = sync_all(log)) != 0)
        return rc;
    const char *tf = getenv("OMTP_TEST_LOG_SYNCED_FILE");
    if (tf && *tf && !log->o.nosync) {
        log->test_synced_fd = open(tf, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
        if (log->test_synced_fd < 0)
            LOG_WARN("message log: OMTP_TEST_LOG_SYNCED_FILE=%s: %s", tf, strerror(errno));
    }
    return 0;
}

static void free_log(omtp_msglog *log)
{
    if (log->fd >= 0)
        close(log->fd);
    if (log->dirfd >= 0)
        close(log->dirfd);
    if (log->test_synced_fd >= 0)
        close(log->test_synced_fd);
    for (size_t i = 0; i < log->sh_nold; i++)
        close(log->sh_old_fds[i]);
    free(log->sh_old_fds);
    free(log->sh_unlink);
    free(log->segs);
    free(log->dir);
    free(log);
}

int omtp_msglog_open(uv_loop_t *loop, const char *dir, const omtp_msglog_opts *o,
                     omtp_msglog_synced_fn synced, void *arg, omtp_msglog **out)
{
    *out = NULL;
    omtp_msglog *log = calloc(1, sizeof(*log));
    if (!log)
        return OMTP_ENOMEM;
    log->fd = log->dirfd = log->test_synced_fd = log->wake.fd = -1;
    log->loop = loop;
    log->synced_fn = synced;
    log->arg = arg;
    if (o)
        log->o = *o;
    if (!log->o.segment_bytes)
        log->o.segment_bytes = OMTP_MSGLOG_DEFAULT_SEGMENT;
    log->dir = strdup(dir);
    int rc = log->dir ? open_files(log) : OMTP_ENOMEM;
    if (rc != 0) {
        free_log(log);
        return rc;
    }
    log->sh_fd = log->fd;
    log->sh_appended = log->sh_synced = log->loop_synced = log->end;
    if (uv_mutex_init(&log->mu) != 0) {
        free_log(log);
        return OMTP_ENOMEM;
    }
    if (uv_cond_init(&log->cv) != 0) {
        uv_mutex_destroy(&log->mu);
        free_log(log);
        return OMTP_ENOMEM;
    }
    int wrc = omtp_loopwake_init(loop, &log->wake, on_wake, log);
    if (wrc != 0) {
        LOG_ERROR("message log: cannot create its wake-up eventfd: %s", uv_strerror(wrc));
        uv_cond_destroy(&log->cv);
        uv_mutex_destroy(&log->mu);
        free_log(log);
        return OMTP_ENOMEM;
    }
    uv_check_init(loop, &log->kick_check);
    uv_prepare_init(loop, &log->kick_prepare);
    log->wake.poll.data = log->kick_check.data = log->kick_prepare.data = log;
    uv_check_start(&log->kick_check, on_kick_check);
    uv_prepare_start(&log->kick_prepare, on_kick_prepare);
    uv_unref(omtp_loopwake_handle(&log->wake));
    uv_unref((uv_handle_t *)&log->kick_check);
    uv_unref((uv_handle_t *)&log->kick_prepare);
    /* the loop's idle time, for the busy time per turn (measure_turn); an
     * old libuv without it counts whole turns, idle included */
    (void)uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    if (!log->o.nosync) {
        if (uv_thread_create(&log->thread, msglog_sync_main, log) != 0) {
            LOG_ERROR("message log: cannot start the sync thread");
            log->closed = true;
            omtp_msglog_close(log);
            return OMTP_ENOMEM;
        }
        log->thread_started = true;
    }
    LOG_INFO("message log: %s open at LSN %llu (%zu segment%s, sync delay %u us%s)", log->dir,
             (unsigned long long)log->end, log->nsegs, log->nsegs == 1 ? "" : "s",
             log->o.sync_delay_us, log->o.nosync ? ", nosync: NOT durable" : "");
    *out = log;
    return 0;
}

/* ------------------------------------------------------------ append */

/* Starts a new segment at the current end. */
static int rotate(omtp_msglog *log)
{
    char path[4096];
    seg_path(log, path, sizeof path, log->end);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        bool full = e == ENOSPC || e == EDQUOT;
        if (full && log->o.on_full)
            log->o.on_full(log->arg, e);
        else
            LOG_ERROR("message log: cannot create %s: %s", path, strerror(e));
        return full ? OMTP_ENOSPC : OMTP_EIO;
    }
    int rc = segs_push(log, log->end);
    if (rc != 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    if (log->o.nosync) {
        close(log->fd);
        log->fd = fd;
        log->seg_start = log->end;
        uv_mutex_lock(&log->mu);
        log->sh_fd = fd;
        uv_mutex_unlock(&log->mu);
        return 0;
    }
    /* the finished segment goes to the sync thread, which may be syncing
     * it right now (it took sh_fd): it must never be closed here. Room for
     * it first; without room the rotation is undone and the old segment
     * continues (the next append tries again) */
    uv_mutex_lock(&log->mu);
    if (log->sh_nold == log->sh_old_cap) {
        size_t nc = log->sh_old_cap ? log->sh_old_cap * 2 : 4;
        int *nv = realloc(log->sh_old_fds, nc * sizeof(*nv));
        if (!nv) {
            uv_mutex_unlock(&log->mu);
            close(fd);
            unlink(path);
            log->nsegs--;
            LOG_ERROR("message log: out of memory starting segment %s: this record is refused, the "
                      "next append tries again",
                      path);
            return OMTP_ENOMEM;
        }
        log->sh_old_fds = nv;
        log->sh_old_cap = nc;
    }
    log->sh_old_fds[log->sh_nold++] = log->fd;
    log->fd = fd;
    log->seg_start = log->end;
    log->sh_fd = fd;
    log->sh_dir_dirty = true;
    uv_mutex_unlock(&log->mu);
    return 0;
}

static int write_failed(omtp_msglog *log, int e, off_t off)
{
    /* undo a partial record: the log stays as it was */
    if (ftruncate(log->fd, off) != 0)
        LOG_ERROR("message log: cannot undo a partial write in %s: %s", log->dir, strerror(errno));
    log->append_fail++;
    if ((e == ENOSPC || e == EDQUOT || e == EFBIG) && log->o.on_full) {
        log->o.on_full(log->arg, e);
        return OMTP_ENOSPC;
    }
    if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
        uint64_t now = uv_hrtime() / 1000000u;
        if (log->full_logged_ms && now - log->full_logged_ms < 60000) {
            log->full_suppressed++;
        } else {
            LOG_ERROR("message log: the disk of %s is full (%s): messages are refused until "
                      "space is freed (%llu refused since the last such line)",
                      log->dir, strerror(e), (unsigned long long)log->full_suppressed + 1);
            log->full_logged_ms = now ? now : 1;
            log->full_suppressed = 0;
        }
        return OMTP_ENOSPC;
    }
    LOG_ERROR("message log: write to %s failed: %s", log->dir, strerror(e));
    return OMTP_EIO;
}

int omtp_msglog_append(omtp_msglog *log, uint8_t type, const void *p, size_t n, uint64_t *lsn_end)
{
    if (log->closed)
        return OMTP_EINVAL;
    if (log->fail_reported) {
        log->append_fail++;
        return OMTP_EDB;
    }
    if (n > OMTP_MSGLOG_MAX_RECORD)
        return OMTP_ETOOBIG;
    uint64_t rec = OMTP_MSGLOG_HDR + (uint64_t)n;
    if (log->end > log->seg_start && log->end - log->seg_start + rec > log->o.segment_bytes) {
        int rc = rotate(log);
        if (rc != 0) {
            log->append_fail++;
            return rc;
        }
    }
    uint8_t hdr[OMTP_MSGLOG_HDR];
    put_u32(hdr, (uint32_t)n);
    put_u32(hdr + 4, msglog_crc(type, p, n));
    hdr[8] = type;
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)p, n}};
    int iovcnt = n ? 2 : 1;
    off_t off = (off_t)(log->end - log->seg_start);
    size_t done = 0;
    uint64_t t0 = uv_hrtime();
    while (done < rec) {
        ssize_t k = pwritev(log->fd, iov, iovcnt, off + (off_t)done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return write_failed(log, errno, off);
        }
        if (k == 0)
            return write_failed(log, ENOSPC, off);
        done += (size_t)k;
        /* a short write: go on with what is left */
        size_t skip = (size_t)k;
        while (iovcnt > 0 && skip >= iov[0].iov_len) {
            skip -= iov[0].iov_len;
            iov[0] = iov[1];
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[0].iov_base = (uint8_t *)iov[0].iov_base + skip;
            iov[0].iov_len -= skip;
        }
    }
    msglog_hist_add(log->append_us_bucket, &log->append_us_sum, &log->append_us_max,
                    (uv_hrtime() - t0) / 1000);
    log->end += rec;
    log->appended_bytes += rec;
    log->appended_records++;
    log->kick = true;
    uv_ref(omtp_loopwake_handle(&log->wake));
    if (lsn_end)
        *lsn_end = log->end;
    return 0;
}

uint64_t omtp_msglog_end(const omtp_msglog *log)
{
    return log->end;
}

uint64_t omtp_msglog_synced(const omtp_msglog *log)
{
    return log->loop_synced;
}

/* ------------------------------------------------------------ retire */

void omtp_msglog_retire(omtp_msglog *log, uint64_t lsn)
{
    if (lsn <= log->retired)
        return;
    log->retired = lsn;
    size_t k = 0; /* whole segments below lsn (never the current one) */
    while (k + 1 < log->nsegs && log->segs[k + 1] <= lsn)
        k++;
    if (!k)
        return;
    if (!log->thread_started) {
        msglog_unlink(log->dir, log->segs, k);
    } else {
        /* the sync thread removes them (an unlink of 64 MiB may take ms) */
        uv_mutex_lock(&log->mu);
        if (log->sh_nunlink + k > log->sh_unlink_cap) {
            size_t nc = (log->sh_nunlink + k) * 2;
            uint64_t *nv = realloc(log->sh_unlink, nc * sizeof(*nv));
            if (!nv) {
                uv_mutex_unlock(&log->mu);
                log->retired = 0; /* try again at the next retire */
                return;
            }
            log->sh_unlink = nv;
            log->sh_unlink_cap = nc;
        }
        memcpy(log->sh_unlink + log->sh_nunlink, log->segs, k * sizeof(*log->segs));
        log->sh_nunlink += k;
        uv_cond_signal(&log->cv);
        uv_mutex_unlock(&log->mu);
    }
    memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof(*log->segs));
    log->nsegs -= k;
}

/* ------------------------------------------------------------- stats */

void omtp_msglog_get_stats(const omtp_msglog *log, omtp_msglog_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->appended_bytes = log->appended_bytes;
    st->appended_records = log->appended_records;
    st->append_fail = log->append_fail;
    st->end_lsn = log->end;
    st->retired_lsn = log->retired;
    st->segments = log->nsegs;
    memcpy(st->append_us_bucket, log->append_us_bucket, sizeof(st->append_us_bucket));
    st->append_us_sum = log->append_us_sum;
    st->append_us_max = log->append_us_max;
    memcpy(st->turn_us_bucket, log->turn_us_bucket, sizeof(st->turn_us_bucket));
    st->turn_us_sum = log->turn_us_sum;
    st->turn_us_max = log->turn_us_max;
    st->disk_bytes = log->nsegs ? log->end - log->segs[0] : 0;
    omtp_msglog *m = (omtp_msglog *)log; /* the mutex is not part of the value */
    uv_mutex_lock(&m->mu);
    st->fsyncs = log->fsyncs;
    st->synced_records = log->sh_synced_records;
    memcpy(st->sync_us_bucket, log->sync_us_bucket, sizeof(st->sync_us_bucket));
    st->sync_us_sum = log->sync_us_sum;
    st->sync_us_max = log->sync_us_max;
    st->synced_lsn = log->sh_synced;
    st->failed = log->sh_failed != 0;
    uv_mutex_unlock(&m->mu);
    st->unsynced_bytes = log->end - st->synced_lsn;
}

/* ------------------------------------------------------------- close */

static void on_handle_closed(uv_handle_t *h)
{
    omtp_msglog *log = h->data;
    if (--log->open_handles == 0) {
        uv_cond_destroy(&log->cv);
        uv_mutex_destroy(&log->mu);
        free_log(log);
    }
}

void omtp_msglog_close(omtp_msglog *log)
{
    if (!log)
        return;
    kick(log);
    log->closed = true;
    if (log->thread_started) {
        uv_mutex_lock(&log->mu);
        log->sh_stopping = true;
        uv_cond_signal(&log->cv);
        uv_mutex_unlock(&log->mu);
        uv_thread_join(&log->thread);
        log->thread_started = false;
    }
    if (log->sh_nunlink) {
        msglog_unlink(log->dir, log->sh_unlink, log->sh_nunlink);
        log->sh_nunlink = 0;
    }
    report(log);
    LOG_INFO("message log: %s closed at LSN %llu (synced %llu)", log->dir,
             (unsigned long long)log->end, (unsigned long long)log->loop_synced);
    log->open_handles = 3;
    omtp_loopwake_close(&log->wake, on_handle_closed);
    uv_close((uv_handle_t *)&log->kick_check, on_handle_closed);
    uv_close((uv_handle_t *)&log->kick_prepare, on_handle_closed);
}
