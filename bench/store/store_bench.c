/*
 * store_bench.c - the store's write path alone: single-chat appends through
 * the executor (omtp_store, group commit) into SQLite on disk, no network.
 *
 *   build/omtp-store-bench [--dir D] [--sync 2|1] [--pairs P] [--window W |
 *                          --rate R] [--size B] [--duration S] [--warmup S]
 *
 * Closed loop: W appends in flight in total (a new one submitted at each
 * completion), like W messages in flight across the server. Fixed rate: R
 * appends/s submitted from a 1 ms timer; latency = submit -> completion
 * (i.e. until committed with the configured synchronous level).
 * Each append is what omtpd's MsgReq handler stores: session SC_<lo>_<hi>,
 * a time-ordered packId per sender, SIZE bytes of content.
 *
 * Prints one JSON line: appends/s, commits, items per commit, process CPU
 * time per append (us: less sensitive to a shared machine than wall time),
 * mean COMMIT time and how many commits took over 10 and 25 ms (I/O stalls
 * such as a checkpoint inside COMMIT; hardly affected by CPU contention),
 * submit -> completion latency percentiles, the largest WAL size seen.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/omtp_proto.h"
#include "store/store.h"

typedef struct job {
    omtp_msg_rec m;
    uint64_t t0;
    struct bench *b;
} job;

typedef struct bench {
    uv_loop_t *loop;
    omtp_store *store;
    int pairs, size, window, rate;
    uint64_t seq[4096]; /* packId counter per sender */
    uint64_t sent, done, errors, next_sender;
    uint64_t t_start, t_measure, t_end;
    bool measuring, stopping;
    uint64_t *lat; /* us, measured completions */
    size_t nlat, caplat;
    uint64_t measured;
    char wal[600];
    off_t wal_max;
    uv_timer_t tick, stop;
    double due;
} bench;

static void submit_one(bench *b);

static void on_done(void *arg, int status)
{
    job *j = arg;
    bench *b = j->b;
    b->done++;
    if (status != 0)
        b->errors++;
    if (b->measuring) {
        b->measured++;
        if (b->nlat == b->caplat) {
            b->caplat = b->caplat ? b->caplat * 2 : 65536;
            b->lat = realloc(b->lat, b->caplat * sizeof(*b->lat));
        }
        b->lat[b->nlat++] = (uv_hrtime() - j->t0) / 1000;
    }
    omtp_msg_rec_free(&j->m);
    free(j);
    if (b->window && !b->stopping)
        submit_one(b);
}

static int work(omtp_db *db, void *arg)
{
    job *j = arg;
    bool dup;
    return omtp_db_msg_append(db, &j->m, &dup);
}

static void submit_one(bench *b)
{
    int s = (int)(b->next_sender++ % (uint64_t)(2 * b->pairs));
    int peer = s ^ 1;
    char from[32], to[32], sid[OMTP_SESSION_ID_MAX], pid[40];
    snprintf(from, sizeof(from), "bench%d", s);
    snprintf(to, sizeof(to), "bench%d", peer);
    omtp_session_single(from, to, sid, sizeof(sid));
    /* time-ordered, like the client's UUIDv7 packIds */
    snprintf(pid, sizeof(pid), "%016llx-%08llx", (unsigned long long)(uv_hrtime() / 1000),
             (unsigned long long)b->seq[s]++);
    job *j = calloc(1, sizeof(*j));
    j->b = b;
    omtp_msg_rec_init(&j->m);
    j->m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&j->m.msg.sessionId, sid);
    tars_str_set(&j->m.msg.from, from);
    tars_str_set(&j->m.msg.to, to);
    tars_str_set(&j->m.packId, pid);
    char *content = malloc((size_t)b->size + 1);
    memset(content, 'x', (size_t)b->size);
    content[b->size] = 0;
    tars_str_set(&j->m.msg.content, content);
    free(content);
    j->t0 = uv_hrtime();
    if (omtp_store_submit(b->store, work, on_done, j) != 0) {
        b->errors++;
        omtp_msg_rec_free(&j->m);
        free(j);
        return;
    }
    b->sent++;
}

static void on_tick(uv_timer_t *t)
{
    bench *b = t->data;
    struct stat sb;
    if (stat(b->wal, &sb) == 0 && sb.st_size > b->wal_max)
        b->wal_max = sb.st_size;
    if (b->rate && !b->stopping) {
        double now = (double)(uv_hrtime() - b->t_start) / 1e9;
        while (b->due <= now * b->rate) {
            submit_one(b);
            b->due += 1;
        }
    }
}

/* Commits in the measured period within bucket i (cumulative: <= bucket_us[i]). */
static uint64_t over(const omtp_store_stats *a, const omtp_store_stats *b, int i)
{
    return b->commit_us_bucket[i] - a->commit_us_bucket[i];
}

static uint64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const bench *b, double p)
{
    if (!b->nlat)
        return 0;
    size_t i = (size_t)(p * (double)(b->nlat - 1));
    return (double)b->lat[i] / 1000.0;
}

int main(int argc, char **argv)
{
    bench b = {.pairs = 10, .size = 64, .window = 160};
    const char *dir = NULL;
    int sync = 2;
    double duration = 5, warmup = 1;
    static const struct option opts[] = {
        {"dir", 1, 0, 'd'},      {"sync", 1, 0, 's'},   {"pairs", 1, 0, 'p'},
        {"window", 1, 0, 'w'},   {"rate", 1, 0, 'r'},   {"size", 1, 0, 'z'},
        {"duration", 1, 0, 't'}, {"warmup", 1, 0, 'u'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            sync = atoi(optarg);
            break;
        case 'p':
            b.pairs = atoi(optarg);
            break;
        case 'w':
            b.window = atoi(optarg);
            b.rate = 0;
            break;
        case 'r':
            b.rate = atoi(optarg);
            b.window = 0;
            break;
        case 'z':
            b.size = atoi(optarg);
            break;
        case 't':
            duration = atof(optarg);
            break;
        case 'u':
            warmup = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: omtp-store-bench [--dir D] [--sync 2|1] [--pairs P] "
                            "[--window W | --rate R] [--size B] [--duration S] [--warmup S]\n");
            return 2;
        }
    }
    if (b.pairs < 1 || b.pairs > 2048 || b.size < 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    char tmp[] = "/var/tmp/omtp-store-bench-XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    snprintf(b.wal, sizeof(b.wal), "%s/omtp.db-wal", dir);
    b.loop = uv_default_loop();
    omtp_store_config cfg = {.data_dir = dir, .synchronous = sync};
    char why[256];
    if (omtp_store_open(b.loop, &cfg, &b.store, why, sizeof(why)) != 0) {
        fprintf(stderr, "open: %s\n", why);
        return 1;
    }
    uv_timer_init(b.loop, &b.tick);
    b.tick.data = &b;
    uv_timer_start(&b.tick, on_tick, 1, 1);
    b.t_start = uv_hrtime();
    for (int i = 0; i < b.window; i++)
        submit_one(&b);
    /* warm-up, then the measured period, then drain */
    uint64_t measure_at = b.t_start + (uint64_t)(warmup * 1e9);
    uint64_t end_at = measure_at + (uint64_t)(duration * 1e9);
    omtp_store_stats s0 = {0}, s1;
    uint64_t cpu0 = 0, done0 = 0;
    while (uv_hrtime() < end_at) {
        uv_run(b.loop, UV_RUN_ONCE);
        if (!b.measuring && uv_hrtime() >= measure_at) {
            b.measuring = true;
            omtp_store_get_stats(b.store, &s0);
            cpu0 = cpu_us();
            done0 = b.done;
            b.t_measure = uv_hrtime();
        }
    }
    omtp_store_get_stats(b.store, &s1);
    uint64_t cpu1 = cpu_us(), done1 = b.done;
    double secs = (double)(uv_hrtime() - b.t_measure) / 1e9;
    b.measuring = false;
    b.stopping = true;
    uv_timer_stop(&b.tick);
    uv_close((uv_handle_t *)&b.tick, NULL);
    omtp_store_close(b.store);
    uv_run(b.loop, UV_RUN_DEFAULT);
    qsort(b.lat, b.nlat, sizeof(*b.lat), cmp_u64);
    uint64_t n = done1 - done0, commits = s1.commits - s0.commits;
    printf("{\"sync\":%d,\"pairs\":%d,\"size\":%d,\"window\":%d,\"rate\":%d,"
           "\"appends_per_s\":%.0f,\"commits_per_s\":%.0f,\"items_per_commit\":%.1f,"
           "\"cpu_us_per_append\":%.1f,\"commit_ms_avg\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"wal_max_mb\":%.1f,\"commits_over_10ms\":%llu,"
           "\"commits_over_25ms\":%llu,\"errors\":%llu}\n",
           sync, b.pairs, b.size, b.window, b.rate, (double)n / secs, (double)commits / secs,
           commits ? (double)n / (double)commits : 0, n ? (double)(cpu1 - cpu0) / (double)n : 0,
           commits ? (double)(s1.commit_us_sum - s0.commit_us_sum) / (double)commits / 1000 : 0,
           pct(&b, 0.5), pct(&b, 0.99), pct(&b, 0.999), pct(&b, 1.0), (double)b.wal_max / 1048576.0,
           (unsigned long long)(commits - over(&s0, &s1, 7)),
           (unsigned long long)(commits - over(&s0, &s1, 8)), (unsigned long long)b.errors);
    free(b.lat);
    if (dir == tmp) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp);
    }
    return b.errors ? 1 : 0;
}
