/*
 * bench_stats.h - latency samples and percentiles for omtp-bench.
 *
 * Samples are kept exactly (microseconds, uint32) in a growable array and
 * sorted once at the end: 4 bytes a sample, so 10 M samples cost 40 MB; a
 * cap keeps memory bounded (samples beyond it are counted but not kept).
 * Threading: one owner (the bench's single loop thread).
 */
#ifndef OMTP_BENCH_STATS_H
#define OMTP_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_lat {
    uint32_t *v;
    size_t n, cap;
    uint64_t dropped;
    uint64_t sum;
} bench_lat;

void bench_lat_add(bench_lat *l, int64_t us);
/* Sorts; call before bench_lat_pct. */
void bench_lat_finish(bench_lat *l);
/* p in [0,100]; microseconds; 0 if empty. */
double bench_lat_pct(const bench_lat *l, double p);
double bench_lat_max(const bench_lat *l);
double bench_lat_mean(const bench_lat *l);
void bench_lat_free(bench_lat *l);
/* Resident set size (VmRSS) of a process in KiB, -1 if unknown. */
long bench_rss_kb(int pid, const char *field);

#endif
