/*
 * test_msglog.c - the message log (src/store/msglog*.c) on a real loop and
 * real files in a temporary directory: appends and replay across segments,
 * the synced callback, fsync pacing, retire, what replay does with a torn
 * tail (cut at every byte), a flipped bit and a zero-filled tail, disk full
 * (RLIMIT_FSIZE with SIGXFSZ ignored: the kernel answers EFBIG after a
 * partial write) and close's last sync.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/msglog.h"

typedef struct fixture {
    char dir[64];
    uv_loop_t loop;
    omtp_msglog *log;
    uint64_t synced; /* last lsn reported */
    int calls, bad_order, status;
    int full_calls, full_err; /* opts.on_full */
} fixture;

static void on_synced(void *arg, uint64_t lsn, int status)
{
    fixture *f = arg;
    if (lsn < f->synced)
        f->bad_order++;
    f->synced = lsn;
    f->calls++;
    if (status)
        f->status = status;
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/omtp-mlog-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void fx_open(fixture *f, uint64_t seg, uint32_t delay_us)
{
    omtp_msglog_opts o = {.segment_bytes = seg, .sync_delay_us = delay_us};
    f->synced = 0;
    f->calls = f->bad_order = f->status = 0;
    assert_int_equal(omtp_msglog_open(&f->loop, f->dir, &o, on_synced, f, &f->log), 0);
    f->synced = omtp_msglog_synced(f->log);
}

static void fx_close(fixture *f)
{
    omtp_msglog_close(f->log);
    f->log = NULL;
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the handles' close callbacks */
}

/* Runs the loop until everything appended is reported synced (bounded). */
static void wait_synced(fixture *f)
{
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    while (f->synced < omtp_msglog_end(f->log) && f->status == 0 && uv_hrtime() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->synced, omtp_msglog_end(f->log));
}

/* record i: type i % 7 + 1, i % 300 bytes of (i + j) */
static size_t make_rec(unsigned i, uint8_t *buf)
{
    size_t n = i % 300;
    for (size_t j = 0; j < n; j++)
        buf[j] = (uint8_t)(i + j);
    return n;
}

typedef struct seen {
    unsigned next; /* record number expected */
    uint64_t lsn;  /* lsn expected */
    int mismatches;
    unsigned stop_at; /* return 1 at this record (0 = never) */
} seen;

static int check_rec(void *arg, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n)
{
    seen *s = arg;
    uint8_t buf[512];
    size_t want = make_rec(s->next, buf);
    if (lsn != s->lsn || type != s->next % 7 + 1 || n != want || memcmp(p, buf, n) != 0)
        s->mismatches++;
    s->lsn = lsn + OMTP_MSGLOG_HDR + n;
    s->next++;
    return s->stop_at && s->next == s->stop_at ? 1 : 0;
}

static void append_n(fixture *f, unsigned from, unsigned count)
{
    uint8_t buf[512];
    for (unsigned i = from; i < from + count; i++) {
        size_t n = make_rec(i, buf);
        uint64_t before = omtp_msglog_end(f->log), end = 0;
        assert_int_equal(omtp_msglog_append(f->log, (uint8_t)(i % 7 + 1), buf, n, &end), 0);
        assert_int_equal(end, before + OMTP_MSGLOG_HDR + n);
    }
}

static unsigned count_segments(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '^seg-.*\\.log$'", dir);
    FILE *p = popen(cmd, "r");
    unsigned n = 0;
    assert_int_equal(fscanf(p, "%u", &n), 1);
    pclose(p);
    return n;
}

/* Retired segments are removed by the sync thread: waits (bounded) until
 * the directory holds n segments. */
static unsigned wait_segments(const char *dir, unsigned n)
{
    unsigned c = count_segments(dir);
    for (int i = 0; i < 500 && c != n; i++) {
        usleep(10000);
        c = count_segments(dir);
    }
    return c;
}

static void seg_name(const fixture *f, uint64_t start, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/seg-%016llx.log", f->dir, (unsigned long long)start);
}

static off_t fsize(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* 200 records over 4 KiB segments, closed, reopened, 50 more: replay sees
 * all 250 in order with their LSNs, from several segments. */
static void test_roundtrip_segments(void **state)
{
    fixture *f = *state;
    fx_open(f, 4096, 0);
    assert_int_equal(omtp_msglog_end(f->log), 0);
    append_n(f, 0, 200);
    wait_synced(f);
    assert_int_equal(f->bad_order, 0);
    uint64_t end = omtp_msglog_end(f->log);
    fx_close(f);
    assert_true(count_segments(f->dir) >= 5);

    fx_open(f, 4096, 0);
    assert_int_equal(omtp_msglog_end(f->log), end);
    assert_int_equal(omtp_msglog_synced(f->log), end);
    append_n(f, 200, 50);
    wait_synced(f);
    end = omtp_msglog_end(f->log);
    fx_close(f);

    seen s = {0};
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s, &st), 0);
    assert_int_equal(s.mismatches, 0);
    assert_int_equal(s.next, 250);
    assert_int_equal(st.records, 250);
    assert_int_equal(st.end_lsn, end);
    assert_int_equal(st.bytes, end);
    assert_int_equal(st.cut_bytes, 0);

    /* a record function's non-zero answer stops the replay and is returned */
    seen s2 = {.stop_at = 10};
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s2, &st), 1);
    assert_int_equal(s2.next, 10);
}

/* Callbacks come in LSN order, end at the end, and with pacing a burst of
 * appends shares few fdatasyncs. */
static void test_synced_order_and_pacing(void **state)
{
    fixture *f = *state;
    fx_open(f, 0, 20000); /* 20 ms pacing: the burst below lands in one sync */
    for (int round = 0; round < 5; round++) {
        append_n(f, (unsigned)round * 40, 40);
        wait_synced(f);
    }
    assert_int_equal(f->bad_order, 0);
    assert_int_equal(f->status, 0);
    omtp_msglog_stats st;
    omtp_msglog_get_stats(f->log, &st);
    assert_int_equal(st.appended_records, 200);
    assert_int_equal(st.synced_records, 200);
    assert_int_equal(st.unsynced_bytes, 0);
    assert_true(st.fsyncs >= 5);
    assert_true(st.fsyncs <= 10); /* not one per record */
    assert_int_equal(st.sync_us_bucket[11], st.fsyncs);
    assert_true(st.sync_us_max <= st.sync_us_sum);
    /* every append's pwritev is timed (the loop waits for it) */
    assert_int_equal(st.append_us_bucket[11], 200);
    assert_true(st.append_us_max <= st.append_us_sum);
    /* and the loop's turns: at least one per round (its synced callback;
     * the first turn only starts the clock) */
    assert_true(st.turn_us_bucket[11] >= 4);
    assert_true(st.turn_us_max <= st.turn_us_sum);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.disk_bytes, st.end_lsn);
    fx_close(f);
}

/* Retire removes the segments wholly below the applied LSN, never the one
 * holding it, never the current one. */
static void test_retire(void **state)
{
    fixture *f = *state;
    fx_open(f, 1024, 0);
    append_n(f, 0, 100);
    wait_synced(f);
    unsigned before = count_segments(f->dir);
    assert_true(before >= 4);
    omtp_msglog_stats st;
    omtp_msglog_get_stats(f->log, &st);
    assert_int_equal(st.segments, before);

    /* LSN 1500 lies in the second segment (1024 < its start <= 1500) */
    omtp_msglog_retire(f->log, 1500);
    assert_int_equal(wait_segments(f->dir, before - 1), before - 1);
    omtp_msglog_retire(f->log, 10); /* going back does nothing */
    assert_int_equal(count_segments(f->dir), before - 1);
    omtp_msglog_retire(f->log, omtp_msglog_end(f->log) + 1000);
    assert_int_equal(wait_segments(f->dir, 1), 1);
    omtp_msglog_get_stats(f->log, &st);
    assert_int_equal(st.segments, 1);
    uint64_t end = omtp_msglog_end(f->log);
    append_n(f, 100, 5);
    wait_synced(f);
    fx_close(f);

    /* what is left replays from the first remaining segment */
    fx_open(f, 1024, 0);
    assert_int_equal(omtp_msglog_end(f->log),
                     end + 5 * OMTP_MSGLOG_HDR + 100 + 101 + 102 + 103 + 104);
    fx_close(f);
}

/* Writes 3 records, closes; returns the LSN of the last one's start. */
static uint64_t three_records(fixture *f)
{
    fx_open(f, 0, 0);
    append_n(f, 0, 2);
    uint64_t last = omtp_msglog_end(f->log);
    append_n(f, 10, 1); /* 10 bytes of payload */
    wait_synced(f);
    fx_close(f);
    return last;
}

/* A torn last record, cut at every byte: replay reports the two whole
 * records and the torn bytes; with repair the file ends after them and the
 * log appends from there. */
static void test_torn_tail_every_byte(void **state)
{
    fixture *f = *state;
    uint64_t last = three_records(f);
    char path[128], copy[160], cmd[800];
    seg_name(f, 0, path, sizeof path);
    snprintf(copy, sizeof copy, "%s.orig", f->dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, copy);
    assert_int_equal(system(cmd), 0);
    off_t full = fsize(path);
    assert_int_equal(full, (off_t)last + OMTP_MSGLOG_HDR + 10);
    for (off_t cut = (off_t)last + 1; cut < full; cut++) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s' && truncate -s %lld '%s'", copy, path,
                 (long long)cut, path);
        assert_int_equal(system(cmd), 0);
        omtp_msglog_replay_stats st;
        seen s = {0};
        assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s, &st), 0);
        assert_int_equal(s.mismatches, 0);
        assert_int_equal(st.records, 2);
        assert_int_equal(st.end_lsn, last);
        assert_int_equal(st.cut_bytes, (uint64_t)(cut - (off_t)last));
        assert_int_equal(fsize(path), cut); /* no repair: untouched */
        if (cut % 3 == 0) {
            assert_int_equal(omtp_msglog_replay(f->dir, 0, true, NULL, NULL, &st), 0);
            assert_int_equal(fsize(path), (off_t)last);
        } else {
            /* open cuts it too, and appends go on from there */
            fx_open(f, 0, 0);
            assert_int_equal(omtp_msglog_end(f->log), last);
            fx_close(f);
            assert_int_equal(fsize(path), (off_t)last);
        }
    }
    unlink(copy);
    fx_open(f, 0, 0);
    append_n(f, 2, 1);
    wait_synced(f);
    fx_close(f);
    seen s = {0};
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s, &st), 0);
    assert_int_equal(s.mismatches, 0);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.cut_bytes, 0);
}

/* A flipped bit in a record in the middle: replay stops before it and
 * reports everything after it (later segments included); repair cuts it. */
static void test_flipped_bit_middle(void **state)
{
    fixture *f = *state;
    fx_open(f, 1024, 0);
    append_n(f, 0, 100);
    wait_synced(f);
    uint64_t end = omtp_msglog_end(f->log);
    fx_close(f);
    unsigned nseg = count_segments(f->dir);
    assert_true(nseg >= 4);
    /* find record 7's LSN */
    seen s = {.stop_at = 7};
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s, &st), 1);
    uint64_t bad = s.lsn; /* start of record 7, in the first segment */
    assert_true(bad < 1024);
    char path[128];
    seg_name(f, 0, path, sizeof path);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)bad + OMTP_MSGLOG_HDR + 3, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, (long)bad + OMTP_MSGLOG_HDR + 3, SEEK_SET), 0);
    fputc(c ^ 0x10, fp);
    fclose(fp);

    seen s2 = {0};
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s2, &st), 0);
    assert_int_equal(s2.mismatches, 0);
    assert_int_equal(st.records, 7);
    assert_int_equal(st.end_lsn, bad);
    assert_int_equal(st.cut_bytes, end - bad);
    assert_int_equal(count_segments(f->dir), nseg);

    assert_int_equal(omtp_msglog_replay(f->dir, 0, true, NULL, NULL, &st), 0);
    assert_int_equal(count_segments(f->dir), 1);
    assert_int_equal(fsize(path), (off_t)bad);
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, NULL, NULL, &st), 0);
    assert_int_equal(st.records, 7);
    assert_int_equal(st.cut_bytes, 0);
}

/* A zero-filled tail (the file grew, its data never reached the disk):
 * replay ends at the last record; open cuts the zeros. */
static void test_zero_tail(void **state)
{
    fixture *f = *state;
    fx_open(f, 0, 0);
    append_n(f, 0, 20);
    wait_synced(f);
    uint64_t end = omtp_msglog_end(f->log);
    fx_close(f);
    char path[128], cmd[300];
    seg_name(f, 0, path, sizeof path);
    snprintf(cmd, sizeof cmd, "truncate -s %llu '%s'", (unsigned long long)end + 4096, path);
    assert_int_equal(system(cmd), 0);
    seen s = {0};
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s, &st), 0);
    assert_int_equal(st.records, 20);
    assert_int_equal(st.end_lsn, end);
    assert_int_equal(st.cut_bytes, 4096);
    fx_open(f, 0, 0);
    assert_int_equal(omtp_msglog_end(f->log), end);
    append_n(f, 20, 3);
    wait_synced(f);
    fx_close(f);
    seen s2 = {0};
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, check_rec, &s2, &st), 0);
    assert_int_equal(s2.mismatches, 0);
    assert_int_equal(st.records, 23);
    assert_int_equal(st.cut_bytes, 0);
}

/* Disk full: a record that does not fit answers OMTP_ENOSPC and leaves the
 * file exactly as it was; once there is room the log goes on. */
static void test_disk_full(void **state)
{
    fixture *f = *state;
    fx_open(f, 0, 0);
    append_n(f, 0, 5);
    wait_synced(f);
    uint64_t end = omtp_msglog_end(f->log);
    char path[128];
    seg_name(f, 0, path, sizeof path);
    assert_int_equal(fsize(path), (off_t)end);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)end + 100; /* room for part of the record only */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    static uint8_t big[4000];
    memset(big, 7, sizeof big);
    uint64_t lsn = 0;
    int rc1 = omtp_msglog_append(f->log, 1, big, sizeof big, &lsn);
    int rc2 = omtp_msglog_append(f->log, 1, big, sizeof big, &lsn);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc1, OMTP_ENOSPC);
    assert_int_equal(rc2, OMTP_ENOSPC);
    assert_int_equal(omtp_msglog_end(f->log), end);
    assert_int_equal(fsize(path), (off_t)end);
    omtp_msglog_stats st;
    omtp_msglog_get_stats(f->log, &st);
    assert_int_equal(st.append_fail, 2);

    assert_int_equal(omtp_msglog_append(f->log, 1, big, 10, &lsn), OMTP_OK);
    assert_int_equal(omtp_msglog_append(f->log, 1, big, OMTP_MSGLOG_MAX_RECORD + 1ul, &lsn),
                     OMTP_ETOOBIG);
    wait_synced(f);
    fx_close(f);
    omtp_msglog_replay_stats rs;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, NULL, NULL, &rs), 0);
    assert_int_equal(rs.records, 6);
    assert_int_equal(rs.cut_bytes, 0);
}

static void on_full(void *arg, int err)
{
    fixture *f = arg;
    f->full_calls++;
    f->full_err = err;
}

/* With opts.on_full (omtpd's send path) every append refused for a full
 * disk is handed to it with the errno -- the server's one disk-full line
 * and counter -- and still answers OMTP_ENOSPC with the file unchanged. */
static void test_disk_full_reported(void **state)
{
    fixture *f = *state;
    omtp_msglog_opts o = {.on_full = on_full};
    assert_int_equal(omtp_msglog_open(&f->loop, f->dir, &o, on_synced, f, &f->log), 0);
    append_n(f, 0, 3);
    wait_synced(f);
    uint64_t end = omtp_msglog_end(f->log);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)end + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    static uint8_t big[4000];
    uint64_t lsn = 0;
    int rc1 = omtp_msglog_append(f->log, 1, big, sizeof big, &lsn);
    int rc2 = omtp_msglog_append(f->log, 1, big, sizeof big, &lsn);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc1, OMTP_ENOSPC);
    assert_int_equal(rc2, OMTP_ENOSPC);
    assert_int_equal(f->full_calls, 2);
    assert_int_equal(f->full_err, EFBIG);
    assert_int_equal(omtp_msglog_end(f->log), end);
    /* room again: the next append works, nothing more reported */
    assert_int_equal(omtp_msglog_append(f->log, 1, big, 10, &lsn), OMTP_OK);
    assert_int_equal(f->full_calls, 2);
    wait_synced(f);
    fx_close(f);
}

/* close makes everything durable and reports it before it returns, even
 * with a long pacing delay (it does not wait the delay out). */
static void test_close_syncs(void **state)
{
    fixture *f = *state;
    fx_open(f, 0, 5000000); /* 5 s */
    append_n(f, 0, 30);
    uint64_t end = omtp_msglog_end(f->log);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the kick: the sync thread starts its wait */
    uint64_t t0 = uv_hrtime();
    fx_close(f);
    assert_true(uv_hrtime() - t0 < 4000000000ull);
    assert_int_equal(f->synced, end);
    assert_int_equal(f->status, 0);
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, NULL, NULL, &st), 0);
    assert_int_equal(st.records, 30);
}

/* The fd (in this process) open on `path`, -1 if none. */
static int fd_of(const char *path)
{
    char real[256], link[64], target[256];
    assert_non_null(realpath(path, real));
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = 0;
        if (strcmp(target, real) == 0)
            return fd;
    }
    return -1;
}

/* A failed fdatasync is final: the records it covered are reported failed
 * (status < 0, up to the end), every later append answers OMTP_EDB. The
 * segment's descriptor is replaced by a pipe, on which fdatasync fails
 * with EINVAL. */
static void test_sync_failure(void **state)
{
    fixture *f = *state;
    fx_open(f, 0, 0);
    append_n(f, 0, 3);
    wait_synced(f);
    uint64_t synced = f->synced;
    char path[128];
    seg_name(f, 0, path, sizeof path);
    int segfd = fd_of(path);
    assert_true(segfd >= 0);
    append_n(f, 3, 2); /* written to the file, not yet synced */
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    assert_true(dup2(pp[0], segfd) == segfd); /* the sync thread's next fdatasync fails */
    uint64_t end = omtp_msglog_end(f->log);
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    while (f->status == 0 && uv_hrtime() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->status, OMTP_EDB);
    assert_int_equal(f->synced, end); /* the failure covers everything appended */
    assert_int_equal(omtp_msglog_synced(f->log), synced);
    uint64_t lsn;
    assert_int_equal(omtp_msglog_append(f->log, 1, "x", 1, &lsn), OMTP_EDB);
    omtp_msglog_stats st;
    omtp_msglog_get_stats(f->log, &st);
    assert_true(st.failed);
    assert_int_equal(st.synced_lsn, synced);
    fx_close(f); /* closes segfd (now the pipe's duplicate) */
    close(pp[0]);
    close(pp[1]);
}

/* start_lsn: a fresh log starts there; a log ending below it (its tail
 * lost after the store applied it) is dropped and starts there; a log
 * ending above it is untouched. */
static void test_start_lsn(void **state)
{
    fixture *f = *state;
    omtp_msglog_opts o = {.start_lsn = 5000};
    assert_int_equal(omtp_msglog_open(&f->loop, f->dir, &o, on_synced, f, &f->log), 0);
    assert_int_equal(omtp_msglog_end(f->log), 5000);
    append_n(f, 0, 3);
    wait_synced(f);
    uint64_t end = omtp_msglog_end(f->log);
    fx_close(f);
    char path[128];
    seg_name(f, 5000, path, sizeof path);
    assert_int_equal(fsize(path), (off_t)(end - 5000));

    o.start_lsn = 100; /* below the end: nothing changes */
    assert_int_equal(omtp_msglog_open(&f->loop, f->dir, &o, on_synced, f, &f->log), 0);
    assert_int_equal(omtp_msglog_end(f->log), end);
    fx_close(f);

    o.start_lsn = end + 777; /* above: the old records are gone */
    assert_int_equal(omtp_msglog_open(&f->loop, f->dir, &o, on_synced, f, &f->log), 0);
    assert_int_equal(omtp_msglog_end(f->log), end + 777);
    append_n(f, 3, 1);
    wait_synced(f);
    fx_close(f);
    assert_int_equal(count_segments(f->dir), 1);
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(f->dir, 0, false, NULL, NULL, &st), 0);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.end_lsn, end + 777 + OMTP_MSGLOG_HDR + 3);
}

/* An empty or missing directory is an empty log. */
static void test_missing_dir(void **state)
{
    fixture *f = *state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/none", f->dir);
    omtp_msglog_replay_stats st;
    assert_int_equal(omtp_msglog_replay(sub, 0, true, NULL, NULL, &st), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.end_lsn, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_synced_order_and_pacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bit_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_lsn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
