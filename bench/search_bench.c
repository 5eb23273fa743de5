/*
 * search_bench.c - PT_MSG_SEARCH latency (bench/search.sh): logs in as
 * USERS users PREFIX0.. (password PW), then runs N searches one at a time,
 * user and query round-robin (queries: one per line of QFILE), each timed
 * from send to reply. Prints JSON: p50/p99/max ms, mean hits, errors, and
 * with --server-pid the server's CPU (utime+stime from /proc) per search.
 *
 * usage: search_bench HOST:PORT PREFIX USERS PW QFILE N [SERVER_PID]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/omtp_sync.h"
#include "proto/omtp_proto.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: search_bench HOST:PORT PREFIX USERS PW QFILE N [SERVER_PID]\n");
        return 2;
    }
    char host[64];
    snprintf(host, sizeof host, "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (!colon)
        return 2;
    *colon = 0;
    int port = atoi(colon + 1), users = atoi(argv[3]), n = atoi(argv[6]);
    int pid = argc > 7 ? atoi(argv[7]) : 0;
    char *qs[4096];
    int nq = 0;
    FILE *qf = fopen(argv[5], "r");
    char line[512];
    while (qf && nq < 4096 && fgets(line, sizeof line, qf)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0])
            qs[nq++] = strdup(line);
    }
    if (qf)
        fclose(qf);
    if (nq == 0 || users <= 0 || n <= 0)
        return 2;
    omtp_sync **c = calloc((size_t)users, sizeof *c);
    for (int i = 0; i < users; i++) {
        char u[64];
        snprintf(u, sizeof u, "%s%d", argv[2], i);
        int code = -1;
        if (omtp_sync_connect(&c[i], host, port, 10000) ||
            omtp_sync_login(c[i], u, argv[4], DEVICE_LINUX, NULL, &code) || code) {
            fprintf(stderr, "search_bench: cannot log in as %s\n", u);
            return 1;
        }
    }
    double *lat = calloc((size_t)n, sizeof *lat);
    long hits = 0, errors = 0;
    double c0 = pid ? cpu_ms(pid) : 0, w0 = now_ms();
    for (int k = 0; k < n; k++) {
        omtp_MsgSearchResp r;
        double t = now_ms();
        int rc = omtp_sync_search(c[k % users], qs[(k / users + k) % nq], NULL, 0, 20, &r);
        lat[k] = now_ms() - t;
        if (rc || r.errorCode.code)
            errors++;
        else
            hits += r.msgs.n;
        if (!rc)
            omtp_msg_free(&omtp_MsgSearchResp_desc, &r);
    }
    double wall = now_ms() - w0, cpu = pid ? cpu_ms(pid) - c0 : 0;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += lat[k];
    printf("{\"searches\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"mean_ms\":%.2f,"
           "\"mean_hits\":%.1f,\"errors\":%ld,\"wall_s\":%.1f,\"server_cpu_ms_per_search\":%.3f}\n",
           n, lat[n / 2], lat[(int)(n * 0.99)], lat[n - 1], sum / n, (double)hits / n, errors,
           wall / 1e3, pid ? cpu / n : 0.0);
    for (int i = 0; i < users; i++)
        omtp_sync_close(c[i]);
    return 0;
}
