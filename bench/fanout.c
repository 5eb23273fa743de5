/*
 * fanout.c - group fan-out benchmark driver (bench/fanout.sh runs it).
 *
 *   fanout recv   --port P --password PW --prefix u --from A --count N --msgs K [--timeout S]
 *   fanout create --port P --password PW --prefix u --count N
 *   fanout send   --port P --password PW --prefix u --group G --msgs K --gap-ms MS [--highprj 1]
 *   fanout probe  --port P --password PW --prefix u --timeout S
 *
 * recv: one libuv loop holds N connections (users <prefix>A .. A+N-1, device
 * LINUX), logs them in (create the users with `omtpd user bulk ... --cost 4`
 * so that 10,000 password checks do not become the benchmark),
 * prints "READY <n>" when all are in, then waits for K group messages on
 * every connection and prints "RECV <deliveries>" and one line "LAST <k>
 * <us>" per message: the wall-clock time its last copy arrived here (wall
 * clock, so several processes can be compared). create: user <prefix>0
 * creates a group of users 0..N (prints "GROUP <id> <us taken>"). send: user
 * <prefix>0 sends K messages "t=<send us> k=<k>" MS apart, printing
 * "SENT <k> <t_us> <ack_us>" for each (--highprj 1: flagged HIGHPRJ, so each
 * is also queued for every member's high-priority sync). probe: user <prefix>0 on another
 * device PINGs every 2 ms for S seconds and prints "PROBE <pings>
 * <median us> <p99 us> <max us>": how long other connections wait while a
 * big fan-out runs.
 *
 * All connections of a process share one event loop (never a thread per
 * client), per the project's benchmark rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "client/omtp_sync.h"
#include "proto/omtp_packet.h"

static int g_port;
static const char *g_prefix = "u", *g_group = "";
static const char *g_password = "bench";
static long g_from, g_count;
static int g_timeout_s = 60;
static int g_highprj = 0;
static int g_msgs = 1, g_gap_ms = 300;
#define MAX_MSGS 1000

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------- recv */

typedef struct bconn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    omtp_frame_reader rd;
    long idx;
    bool logged;
    int got;
} bconn;

static uv_loop_t *g_loop;
static bconn *g_conns;
static long g_next, g_connecting, g_logged, g_got, g_failed;
static long g_done;
static int64_t g_last_k[MAX_MSGS];
static uv_timer_t g_timer;
static bool g_ready_printed;

static void connect_more(void);

static void on_write(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static void send_packet(bconn *c, int type, const tars_struct_desc *d, const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    if (omtp_packet_encode(&b, type, 0, NULL, d, body, NULL, 0) == 0) {
        uv_write_t *w = malloc(sizeof(*w));
        uv_buf_t ub = uv_buf_init((char *)b.data, (unsigned)b.len);
        w->data = b.data;
        uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
    } else {
        tars_buf_free(&b);
    }
}

static void finish(void)
{
    printf("RECV %ld\n", g_got);
    for (int k = 0; k < g_msgs; k++)
        printf("LAST %d %lld\n", k, (long long)g_last_k[k]);
    fflush(stdout);
    exit(0);
}

static void on_frame(bconn *c, const uint8_t *f, size_t n)
{
    omtp_packet p;
    int stage;
    char why[128];
    omtp_decode_opts o = {0};
    if (omtp_packet_decode(f, n, &o, &p, &stage, why, sizeof(why)))
        return;
    bool ack = p.header.flags & OMTP_F_ACK;
    if (p.header.type == PT_LOGIN && ack && p.body) {
        omtp_LoginResp *r = p.body;
        if (r->code == 0 && !c->logged) {
            c->logged = true;
            g_logged++;
        } else if (r->code) {
            fprintf(stderr, "login %ld failed: %d\n", c->idx, r->code);
            g_failed++;
        }
        if (g_logged + g_failed == g_count && !g_ready_printed) {
            g_ready_printed = true;
            printf("READY %ld\n", g_logged);
            fflush(stdout);
        }
    } else if (p.header.type == PT_MSG_GROUP_CHAT && !ack) {
        int64_t t = now_us();
        const omtp_MsgReq *m = p.body;
        long long ts = 0;
        int k = -1;
        if (m && sscanf(m->content.data, "t=%lld k=%d", &ts, &k) == 2 && k >= 0 && k < g_msgs) {
            g_got++;
            if (t > g_last_k[k])
                g_last_k[k] = t;
            if (++c->got == g_msgs)
                g_done++;
        }
        if (g_done == g_logged)
            finish();
    }
    omtp_packet_free(&p);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    bconn *c = h->data;
    uint8_t *p;
    size_t n;
    if (omtp_frame_reader_space(&c->rd, 4096, &p, &n)) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)p;
    buf->len = n;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bconn *c = s->data;
    if (nread < 0) {
        fprintf(stderr, "conn %ld closed: %s\n", c->idx, uv_strerror((int)nread));
        uv_read_stop(s);
        return;
    }
    omtp_frame_reader_commit(&c->rd, (size_t)nread);
    const uint8_t *f;
    size_t n;
    while (omtp_frame_reader_next(&c->rd, &f, &n) == 1)
        on_frame(c, f, n);
}

static void on_connect(uv_connect_t *r, int status)
{
    bconn *c = r->data;
    g_connecting--;
    if (status) {
        fprintf(stderr, "connect %ld: %s\n", c->idx, uv_strerror(status));
        g_failed++;
        connect_more();
        return;
    }
    c->tcp.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    char user[64];
    snprintf(user, sizeof(user), "%s%ld", g_prefix, g_from + c->idx);
    omtp_LoginReq q;
    omtp_msg_init(&omtp_LoginReq_desc, &q);
    tars_str_set(&q.clientId, user);
    tars_str_set(&q.userName, user);
    tars_str_set(&q.password, g_password);
    tars_str_set(&q.deviceId, "bench");
    q.deviceType = DEVICE_LINUX;
    send_packet(c, PT_LOGIN, &omtp_LoginReq_desc, &q);
    omtp_msg_free(&omtp_LoginReq_desc, &q);
    connect_more();
}

static void connect_more(void)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", g_port, &a);
    while (g_next < g_count && g_connecting < 256) {
        bconn *c = &g_conns[g_next];
        c->idx = g_next++;
        omtp_frame_reader_init(&c->rd, OMTP_DEFAULT_MAX_FRAME);
        uv_tcp_init(g_loop, &c->tcp);
        uv_tcp_nodelay(&c->tcp, 1);
        c->creq.data = c;
        g_connecting++;
        uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, on_connect);
    }
}

static void on_timer(uv_timer_t *t)
{
    static int ticks;
    ticks++;
    if (ticks >= g_timeout_s) {
        fprintf(stderr, "timeout: logged %ld got %ld\n", g_logged, g_got);
        finish();
    }
    if (ticks % 20 == 0) /* keepalive */
        for (long i = 0; i < g_next; i++)
            if (g_conns[i].logged)
                send_packet(&g_conns[i], PT_PING, NULL, NULL);
}

static int run_recv(void)
{
    g_loop = uv_default_loop();
    g_conns = calloc((size_t)g_count, sizeof(bconn));
    if (!g_conns)
        return 1;
    connect_more();
    uv_timer_init(g_loop, &g_timer);
    uv_timer_start(&g_timer, on_timer, 1000, 1000);
    uv_run(g_loop, UV_RUN_DEFAULT);
    return 0;
}

/* ------------------------------------------------------ create / send */

static omtp_sync *login0(int dev)
{
    omtp_sync *c = NULL;
    if (omtp_sync_connect(&c, "127.0.0.1", g_port, 5000)) {
        fprintf(stderr, "cannot connect\n");
        exit(1);
    }
    omtp_sync_set_timeout(c, 120000);
    char user[64];
    snprintf(user, sizeof(user), "%s0", g_prefix);
    int code = -1;
    if (omtp_sync_login(c, user, g_password, dev, NULL, &code) || code) {
        fprintf(stderr, "login %s failed (%d)\n", user, code);
        exit(1);
    }
    return c;
}

static int run_create(void)
{
    omtp_sync *c = login0(DEVICE_WINDOWS);
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.name, "bench");
    q.groupInfo.memberLimit = (int32_t)g_count + 1;
    q.memberIds.items = calloc((size_t)g_count, sizeof(tars_str));
    for (long i = 1; i <= g_count; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%ld", g_prefix, i);
        tars_str_set(&q.memberIds.items[q.memberIds.n++], id);
    }
    omtp_GroupChatCreateResp r;
    int64_t t0 = now_us();
    int rc = omtp_sync_call(c, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                            &omtp_GroupChatCreateResp_desc, &r);
    if (rc || r.errorCode.code) {
        fprintf(stderr, "create failed: %d %d %s\n", rc, r.errorCode.code, r.errorCode.desc.data);
        return 1;
    }
    printf("GROUP %s %lld\n", r.groupId.data, (long long)(now_us() - t0));
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
    omtp_sync_close(c);
    return 0;
}

static int run_send(void)
{
    omtp_sync *c = login0(DEVICE_WINDOWS);
    for (int k = 0; k < g_msgs; k++) {
        char content[64];
        int64_t t0 = now_us();
        snprintf(content, sizeof(content), "t=%lld k=%d", (long long)t0, k);
        omtp_MsgAck ack;
        int rc = omtp_sync_send_msg(c, PT_MSG_GROUP_CHAT, g_group, content, NULL,
                                    g_highprj ? OMTP_F_HIGHPRJ : 0, &ack);
        int64_t t1 = now_us();
        if (rc || ack.code) {
            fprintf(stderr, "send failed: %d %d\n", rc, ack.code);
            return 1;
        }
        printf("SENT %d %lld %lld\n", k, (long long)t0, (long long)(t1 - t0));
        fflush(stdout);
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
        if (k + 1 < g_msgs)
            uv_sleep((unsigned)g_gap_ms);
    }
    omtp_sync_close(c);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_probe(void)
{
    omtp_sync *c = login0(DEVICE_LINUX);
    size_t cap = 1 << 20, n = 0;
    int64_t *rtt = malloc(cap * sizeof(*rtt));
    int64_t end = now_us() + (int64_t)g_timeout_s * 1000000;
    while (n < cap && now_us() < end) {
        int64_t t0 = now_us();
        if (omtp_sync_ping(c))
            break;
        rtt[n++] = now_us() - t0;
        uv_sleep(2); /* ~400 pings/s: a probe, not a load */
    }
    qsort(rtt, n, sizeof(*rtt), cmp_i64);
    if (n)
        printf("PROBE %zu %lld %lld %lld\n", n, (long long)rtt[n / 2], (long long)rtt[n * 99 / 100],
               (long long)rtt[n - 1]);
    free(rtt);
    omtp_sync_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fanout recv|create|send --port P [--password PW] ...\n");
        return 2;
    }
    const char *mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            g_port = atoi(v);
        else if (!strcmp(k, "--prefix"))
            g_prefix = v;
        else if (!strcmp(k, "--group"))
            g_group = v;
        else if (!strcmp(k, "--from"))
            g_from = atol(v);
        else if (!strcmp(k, "--count"))
            g_count = atol(v);
        else if (!strcmp(k, "--msgs"))
            g_msgs = atoi(v) < 1 ? 1 : atoi(v) > MAX_MSGS ? MAX_MSGS : atoi(v);
        else if (!strcmp(k, "--gap-ms"))
            g_gap_ms = atoi(v);
        else if (!strcmp(k, "--timeout"))
            g_timeout_s = atoi(v);
        else if (!strcmp(k, "--highprj"))
            g_highprj = atoi(v);
        else if (!strcmp(k, "--password"))
            g_password = v;
    }
    if (!strcmp(mode, "recv"))
        return run_recv();
    if (!strcmp(mode, "create"))
        return run_create();
    if (!strcmp(mode, "send"))
        return run_send();
    if (!strcmp(mode, "probe"))
        return run_probe();
    return 2;
}
