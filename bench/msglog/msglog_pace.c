/*
 * msglog_pace.c - the message log's fsync pacing alone (store/msglog.h), no
 * network: appends RATE records of BYTES bytes per second (on a 1 ms uv
 * timer, the records due by then) for SECONDS, and reports the process's
 * CPU per record (getrusage: the loop and the sync thread together), the
 * fdatasyncs per record, and the ack latency (append -> synced callback)
 * p50/p99/max. bench/msglog_pace.sh runs it with several delays,
 * interleaved.
 *
 * Usage: omtp-msglog-pace DIR RATE SECONDS DELAY_US [BYTES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "store/msglog.h"

typedef struct pend {
    uint64_t lsn, t_ns;
} pend;

static omtp_msglog *lg;
static pend *q;
static size_t qh, qt, qcap;
static uint64_t *lat;
static size_t nlat, latcap;
static uint64_t rate, t0, sent, dur_ns;
static size_t bytes;
static uv_timer_t tm;
static uint8_t buf[65536];

static void on_synced(void *arg, uint64_t lsn, int status)
{
    (void)arg;
    if (status) {
        fprintf(stderr, "sync failed: %d\n", status);
        exit(1);
    }
    uint64_t now = uv_hrtime();
    while (qh < qt && q[qh % qcap].lsn <= lsn) {
        if (nlat < latcap)
            lat[nlat++] = now - q[qh % qcap].t_ns;
        qh++;
    }
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    if (now - t0 >= dur_ns) {
        uv_timer_stop(t);
        return;
    }
    uint64_t due = (now - t0) * rate / 1000000000u;
    while (sent < due) {
        uint64_t end;
        if (omtp_msglog_append(lg, 1, buf, bytes, &end) != 0) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        if (qt - qh == qcap) {
            fprintf(stderr, "queue full\n");
            exit(1);
        }
        q[qt % qcap] = (pend){end, uv_hrtime()};
        qt++;
        sent++;
    }
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR RATE SECONDS DELAY_US [BYTES]\n", argv[0]);
        return 2;
    }
    rate = strtoull(argv[2], NULL, 10);
    dur_ns = strtoull(argv[3], NULL, 10) * 1000000000ull;
    uint32_t delay = (uint32_t)strtoul(argv[4], NULL, 10);
    bytes = argc > 5 ? strtoul(argv[5], NULL, 10) : 100;
    if (bytes > sizeof buf)
        bytes = sizeof buf;
    memset(buf, 'x', sizeof buf);
    qcap = 1u << 20;
    q = calloc(qcap, sizeof(*q));
    latcap = rate * (dur_ns / 1000000000ull) + 16;
    lat = calloc(latcap, sizeof(*lat));
    uv_loop_t loop;
    uv_loop_init(&loop);
    omtp_msglog_opts o = {.sync_delay_us = delay};
    if (omtp_msglog_open(&loop, argv[1], &o, on_synced, NULL, &lg) != 0)
        return 1;
    uv_timer_init(&loop, &tm);
    double c0 = cpu_s();
    t0 = uv_hrtime();
    uv_timer_start(&tm, on_tick, 1, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    omtp_msglog_stats st;
    omtp_msglog_get_stats(lg, &st);
    omtp_msglog_close(lg);
    double cpu = cpu_s() - c0;
    uv_close((uv_handle_t *)&tm, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    qsort(lat, nlat, sizeof(*lat), cmp);
    double p50 = nlat ? lat[nlat / 2] / 1e6 : 0, p99 = nlat ? lat[nlat * 99 / 100] / 1e6 : 0,
           mx = nlat ? lat[nlat - 1] / 1e6 : 0;
    printf("delay_us=%u rate=%llu records=%llu fsyncs=%llu records/fsync=%.1f cpu_us/record=%.2f "
           "ack_ms p50=%.3f p99=%.3f max=%.3f fdatasync_ms_avg=%.3f\n",
           delay, (unsigned long long)rate, (unsigned long long)sent, (unsigned long long)st.fsyncs,
           st.fsyncs ? (double)st.synced_records / st.fsyncs : 0,
           sent ? cpu * 1e6 / (double)sent : 0, p50, p99, mx,
           st.fsyncs ? st.sync_us_sum / 1e3 / (double)st.fsyncs : 0);
    free(q);
    free(lat);
    return 0;
}
