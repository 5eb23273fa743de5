/*
 * msglog_metrics.c - the message log's latency histograms as Prometheus
 * text (msglog_metrics.h). Same buckets as the store's histograms.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain/msglog_metrics.h"

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} mbuf;

static void out(mbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t nc = (b->cap + (size_t)k) * 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static void hist(mbuf *b, const char *name, const char *help, const uint64_t bucket[12],
                 uint64_t sum_us, uint64_t max_us)
{
    static const char *const le[12] = {"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                       "0.005",   "0.01",   "0.025",   "0.05",   "0.1",   "+Inf"};
    out(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < 12; i++)
        out(b, "%s_bucket{le=\"%s\"} %llu\n", name, le[i], (unsigned long long)bucket[i]);
    out(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum_us / 1e6, name,
        (unsigned long long)bucket[11]);
    out(b, "# HELP %s_max the longest one since start\n# TYPE %s_max gauge\n%s_max %.6f\n", name,
        name, name, (double)max_us / 1e6);
}

char *omtp_msglog_metrics_text(const omtp_msglog *log, const seqgen *seq)
{
    mbuf b = {.p = malloc(4096), .cap = 4096};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    if (log) {
        omtp_msglog_stats st;
        omtp_msglog_get_stats(log, &st);
        hist(&b, "omtp_msglog_append_seconds",
             "time the loop spent in pwritev per message log append", st.append_us_bucket,
             st.append_us_sum, st.append_us_max);
        hist(&b, "omtp_msglog_fsync_seconds", "fdatasync of the message log (sync thread)",
             st.sync_us_bucket, st.sync_us_sum, st.sync_us_max);
        hist(&b, "omtp_loop_busy_seconds",
             "the event loop's work per turn, poll to poll (how long an event may wait "
             "behind the others)",
             st.turn_us_bucket, st.turn_us_sum, st.turn_us_max);
    }
    if (seq) {
        seqgen_load_stats ls;
        seqgen_get_load_stats(seq, &ls);
        out(&b,
            "# HELP omtp_seq_loads_total session counters read from the store (first message "
            "of a session, or after eviction)\n# TYPE omtp_seq_loads_total counter\n"
            "omtp_seq_loads_total %llu\n"
            "# HELP omtp_seq_load_waiters_total messages that waited for a counter's load\n"
            "# TYPE omtp_seq_load_waiters_total counter\nomtp_seq_load_waiters_total %llu\n",
            (unsigned long long)ls.loads, (unsigned long long)ls.waiters);
        hist(&b, "omtp_seq_load_seconds",
             "a session counter's load, submit to done (its messages wait for it)",
             ls.wait_us_bucket, ls.wait_us_sum, ls.wait_us_max);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
