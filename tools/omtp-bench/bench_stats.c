/*
 * bench_stats.c - see bench_stats.h.
 */
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES (20u * 1000u * 1000u)

void bench_lat_add(bench_lat *l, int64_t us)
{
    if (us < 0)
        us = 0;
    if (us > UINT32_MAX)
        us = UINT32_MAX;
    l->sum += (uint64_t)us;
    if (l->n == l->cap) {
        if (l->cap >= MAX_SAMPLES) {
            l->dropped++;
            return;
        }
        size_t nc = l->cap ? l->cap * 2 : 4096;
        uint32_t *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv) {
            l->dropped++;
            return;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void bench_lat_finish(bench_lat *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
}

double bench_lat_pct(const bench_lat *l, double p)
{
    if (!l->n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
    if (i >= l->n)
        i = l->n - 1;
    return l->v[i];
}

double bench_lat_max(const bench_lat *l)
{
    return l->n ? l->v[l->n - 1] : 0;
}

double bench_lat_mean(const bench_lat *l)
{
    uint64_t cnt = l->n + l->dropped;
    return cnt ? (double)l->sum / (double)cnt : 0;
}

void bench_lat_free(bench_lat *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

long bench_rss_kb(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            kb = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}
