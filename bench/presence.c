/*
 * presence.c - presence and typing benchmark driver (bench/presence.sh runs
 * it; results in bench/RESULTS.md, "Presence and typing").
 *
 *   presence storm --port P --prefix u --count N --watch W --server-pid PID [--toggles K]
 *   presence probe --port P --from A --to B --seconds S --gap-ms MS
 *
 * storm: one libuv loop holds N async clients (omtp_client.h; users
 * <prefix>0..N-1, device LINUX, no catch-up). All start at once (a
 * reconnect storm); each subscribes, as soon as it is online, to its W
 * neighbours <prefix>(i+1 .. i+W/2) and (i-1 .. i-W/2) mod N, who must be
 * its friends (bench/presence.sh writes them into the database). Prints
 *   STORM <ms until every client subscribed> <subscribe answers> <notices>
 * Then, with the server's CPU (utime+stime of /proc/PID/stat) read around
 * each phase:
 *   TOGGLE: clients 0..K-1 set device.background = 1 (each is watched by W
 *     online users: W presence notices each), waits until the notices
 *     arrived (or 10 s) and prints
 *     "TOGGLE <requests> <notice frames> <entries> <server cpu us>"
 *     (6 rounds, alternating 1 and 0, 300 ms apart: each round is a change)
 *   TYPE1 / TYPE0: client 0 creates a group of clients 0..G-1 (G = 500 or
 *     N); K of them send PT_TYPING in it, 6 rounds a second apart (G-1
 *     online recipients each) / the same requests to a single chat with an
 *     offline user id (nobody to relay to); prints "TYPE1|TYPE0 <requests>
 *     <notices received> <server cpu us>". TYPE1 - TYPE0 is the relays' cost.
 * With W = 0 (no subscriptions) the TOGGLE phase gives the cost of the
 * requests alone; the script subtracts it.
 *
 * probe: users <prefix>A (sender) and <prefix>B (receiver), two blocking
 * clients in one thread: A sends a message every MS ms for S seconds, B
 * reads them; prints "PROBE <n> <p50 us> <p99 us> <max us>" of the time from
 * send to receipt (one clock: same process).
 *
 * All async clients of a process share one event loop (the project's
 * benchmark rule: never a thread per client).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "client/omtp_client.h"
#include "client/omtp_sync.h"
#include "proto/omtp_session.h"

static int g_port, g_count, g_watch, g_toggles = 200, g_seconds = 10, g_gap_ms = 5;
static int g_from, g_to;
static long g_spid;
static const char *g_prefix = "u";

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t server_cpu_us(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", g_spid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* ------------------------------------------------------------- storm */

typedef struct bc {
    omtp_client *c;
    int idx;
    bool subscribed;
    char user[32];
} bc;

static bc *g_cl;
static int g_online, g_answers;
static long g_notices, g_entries, g_typing;
static uv_loop_t *g_loop;

static void user_name(int i, char *out, size_t n)
{
    snprintf(out, n, "%s%d", g_prefix, ((i % g_count) + g_count) % g_count);
}

static void on_sub(omtp_client *c, int status, const omtp_packet *r, void *ud)
{
    (void)c;
    (void)ud;
    if (status == 0 && r && r->body && !((omtp_PresenceSubResp *)r->body)->errorCode.code)
        g_answers++;
    else
        fprintf(stderr, "presence: a subscription failed (%d)\n", status);
}

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    bc *b = ud;
    if (ev->state != OMTP_CLIENT_ONLINE || b->subscribed)
        return;
    g_online++;
    b->subscribed = true;
    if (!g_watch) {
        g_answers++;
        return;
    }
    char names[256][32];
    const char *ids[256];
    int n = 0;
    for (int d = 1; d <= g_watch / 2 && n + 2 <= 256; d++) {
        user_name(b->idx + d, names[n], 32);
        ids[n] = names[n];
        n++;
        user_name(b->idx - d, names[n], 32);
        ids[n] = names[n];
        n++;
    }
    if (omtp_client_presence_sub(c, ids, (size_t)n, on_sub, b))
        fprintf(stderr, "presence: cannot subscribe\n");
}

static void on_presence(omtp_client *c, const omtp_PresenceNotice *n, void *ud)
{
    (void)c;
    (void)ud;
    g_notices++;
    g_entries += n->users.n;
}

static void on_typing(omtp_client *c, const omtp_TypingNotice *t, void *ud)
{
    (void)c;
    (void)t;
    (void)ud;
    g_typing++;
}

static void run_until(long *counter, long want, int ms)
{
    int64_t end = now_us() + (int64_t)ms * 1000;
    while (*counter < want && now_us() < end)
        uv_run(g_loop, UV_RUN_ONCE);
}

static void run_for(int ms)
{
    int64_t end = now_us() + (int64_t)ms * 1000;
    while (now_us() < end)
        uv_run(g_loop, UV_RUN_NOWAIT);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void ignore(omtp_client *c, int status, const omtp_packet *r, void *ud)
{
    (void)c;
    (void)status;
    (void)r;
    (void)ud;
}

static char g_gid[160];

static void on_group(omtp_client *c, int status, const omtp_packet *r, void *ud)
{
    (void)c;
    (void)ud;
    const omtp_GroupChatCreateResp *g = status == 0 && r ? r->body : NULL;
    if (g && !g->errorCode.code && g->groupId.data)
        snprintf(g_gid, sizeof g_gid, "%s", g->groupId.data);
    else
        snprintf(g_gid, sizeof g_gid, "none");
}

static void set_bg(omtp_client *c, const char *v)
{
    omtp_UserAttrSetReq q;
    omtp_msg_init(&omtp_UserAttrSetReq_desc, &q);
    q.attribute.attrName.data = (char *)"device.background";
    q.attribute.attrName.len = 17;
    q.attribute.attrValue.data = (char *)v;
    q.attribute.attrValue.len = (uint32_t)strlen(v);
    q.attribute.friendId.data = (char *)"";
    q.attribute.userId.data = (char *)"";
    omtp_client_request(c, PT_USERATTRIBUTE_SET, 0, &omtp_UserAttrSetReq_desc, &q, 0, ignore, NULL,
                        NULL);
}

static int storm(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    g_cl = calloc((size_t)g_count, sizeof(bc));
    omtp_client_callbacks cb = {
        .on_state = on_state, .on_presence = on_presence, .on_typing = on_typing};
    int64_t t0 = now_us();
    for (int i = 0; i < g_count; i++) {
        bc *b = &g_cl[i];
        b->idx = i;
        user_name(i, b->user, sizeof b->user);
        omtp_client_config cfg = {.host = "127.0.0.1",
                                  .port = g_port,
                                  .user = b->user,
                                  .password = "bench",
                                  .device_type = DEVICE_LINUX,
                                  .keepalive_s = 300,
                                  .request_timeout_ms = 60000,
                                  .connect_timeout_ms = 60000,
                                  .no_catchup = true,
                                  .no_reconnect = true};
        if (omtp_client_new(&loop, &cfg, &cb, b, &b->c) || omtp_client_start(b->c)) {
            fprintf(stderr, "presence: cannot start client %d\n", i);
            return 1;
        }
    }
    long answers = 0;
    int64_t end = now_us() + 120 * 1000000LL;
    while (g_answers < g_count && now_us() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        answers = g_answers;
    }
    printf("STORM %.0f %ld %ld\n", (double)(now_us() - t0) / 1000, answers, g_notices);
    fflush(stdout);
    run_for(1000); /* late notices of the storm itself */

    int k = g_toggles < g_count ? g_toggles : g_count;
    enum { ROUNDS = 6 };
    long n0 = g_notices, e0 = g_entries;
    int64_t c0 = server_cpu_us();
    for (int r = 0; r < ROUNDS; r++) {
        long want = g_entries + (long)k * g_watch;
        for (int i = 0; i < k; i++)
            set_bg(g_cl[i].c, r % 2 ? "0" : "1");
        run_until(&g_entries, want, 10000);
        run_for(300); /* the coalescing window: the next round is a new change */
    }
    int64_t c1 = server_cpu_us();
    printf("TOGGLE %d %ld %ld %lld\n", k * ROUNDS, g_notices - n0, g_entries - e0,
           (long long)(c1 - c0));
    fflush(stdout);

    /* typing: a group of G online members; K of them type, ROUNDS rounds a
     * second apart (one relay per user and session per second) */
    int gsize = g_count < 500 ? g_count : 500;
    omtp_GroupChatCreateReq gq;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &gq);
    tars_str_set(&gq.groupInfo.name, "bench");
    gq.memberIds.items = calloc((size_t)gsize, sizeof(tars_str));
    for (int i = 1; i < gsize; i++)
        tars_str_set(&gq.memberIds.items[gq.memberIds.n++], g_cl[i].user);
    g_gid[0] = 0;
    omtp_client_request(g_cl[0].c, PT_GROUPCHAT_CREATE, 0, &omtp_GroupChatCreateReq_desc, &gq, 0,
                        on_group, NULL, NULL);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &gq);
    long got = 0;
    int64_t gend = now_us() + 30000000;
    while (!g_gid[0] && now_us() < gend)
        uv_run(g_loop, UV_RUN_ONCE);
    (void)got;
    int typers = k < gsize ? k : gsize;
    for (int pass = 1; pass >= 0; pass--) {
        long t0n = g_typing;
        int64_t a = server_cpu_us();
        for (int r = 0; r < ROUNDS; r++) {
            int64_t rstart = now_us();
            for (int i = 0; i < typers; i++) {
                char peer[32], sid[160];
                if (pass) {
                    snprintf(sid, sizeof sid, "%s", g_gid);
                } else {
                    snprintf(peer, sizeof peer, "ghost%d", i);
                    omtp_session_single(g_cl[i].user, peer, sid, sizeof sid);
                }
                omtp_client_typing(g_cl[i].c, sid, r % 2, NULL, NULL);
            }
            run_for((int)(1100 - (now_us() - rstart) / 1000 > 0 ? 1100 - (now_us() - rstart) / 1000
                                                                : 0));
        }
        run_for(500);
        int64_t b = server_cpu_us();
        printf("TYPE%d %d %ld %lld\n", pass, typers * ROUNDS, g_typing - t0n, (long long)(b - a));
        fflush(stdout);
    }
    for (int i = 0; i < g_count; i++)
        omtp_client_destroy(g_cl[i].c);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(g_cl);
    return 0;
}

/* ------------------------------------------------------------- probe */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int probe(void)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%s%d", g_prefix, g_from);
    snprintf(b, sizeof b, "%s%d", g_prefix, g_to);
    omtp_sync *sa, *sb;
    int code;
    if (omtp_sync_connect(&sa, "127.0.0.1", g_port, 10000) ||
        omtp_sync_connect(&sb, "127.0.0.1", g_port, 10000) ||
        omtp_sync_login(sa, a, "bench", DEVICE_MACOS, NULL, &code) || code ||
        omtp_sync_login(sb, b, "bench", DEVICE_MACOS, NULL, &code) || code) {
        fprintf(stderr, "probe: cannot log in\n");
        return 1;
    }
    size_t cap = (size_t)g_seconds * 1000 / (size_t)g_gap_ms + 16, n = 0;
    int64_t *lat = calloc(cap, sizeof(int64_t));
    int64_t end = now_us() + (int64_t)g_seconds * 1000000;
    while (now_us() < end && n < cap) {
        char text[64];
        int64_t t = now_us();
        snprintf(text, sizeof text, "t=%lld", (long long)t);
        omtp_MsgAck ack;
        if (omtp_sync_chat(sa, b, text, &ack)) {
            fprintf(stderr, "probe: send failed\n");
            break;
        }
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
        for (;;) {
            omtp_packet p;
            if (omtp_sync_next_push(sb, 5000, &p))
                break;
            bool mine = p.header.type == PT_MSG_SINGLE_CHAT && p.body;
            omtp_packet_free(&p);
            if (mine) {
                lat[n++] = now_us() - t;
                break;
            }
        }
        int64_t next = t + (int64_t)g_gap_ms * 1000, now = now_us();
        if (next > now) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(next - now) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    qsort(lat, n, sizeof(int64_t), cmp64);
    printf("PROBE %zu %lld %lld %lld\n", n, (long long)(n ? lat[n / 2] : 0),
           (long long)(n ? lat[n * 99 / 100] : 0), (long long)(n ? lat[n - 1] : 0));
    free(lat);
    omtp_sync_close(sa);
    omtp_sync_close(sb);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: presence storm|probe --port P ... (see bench/presence.c)\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            g_port = atoi(v);
        else if (!strcmp(k, "--prefix"))
            g_prefix = v;
        else if (!strcmp(k, "--count"))
            g_count = atoi(v);
        else if (!strcmp(k, "--watch"))
            g_watch = atoi(v);
        else if (!strcmp(k, "--server-pid"))
            g_spid = atol(v);
        else if (!strcmp(k, "--toggles"))
            g_toggles = atoi(v);
        else if (!strcmp(k, "--from"))
            g_from = atoi(v);
        else if (!strcmp(k, "--to"))
            g_to = atoi(v);
        else if (!strcmp(k, "--seconds"))
            g_seconds = atoi(v);
        else if (!strcmp(k, "--gap-ms"))
            g_gap_ms = atoi(v);
        else {
            fprintf(stderr, "presence: unknown option %s\n", k);
            return 2;
        }
    }
    if (!strcmp(argv[1], "storm"))
        return g_count > 0 ? storm() : 2;
    if (!strcmp(argv[1], "probe"))
        return probe();
    fprintf(stderr, "presence: unknown mode %s\n", argv[1]);
    return 2;
}
