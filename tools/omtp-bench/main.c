/*
 * main.c - omtp-bench, a load generator for omtpd.
 *
 * ONE libuv loop drives every connection of the process (never a thread per
 * client), using the library's async client with catch-up and reconnect
 * switched off. Scenarios:
 *
 *   connect  N connections logged in at a ramp rate, then held (heartbeats
 *            on) for the duration: how many a server holds, and its RSS
 *   login    C concurrent slots, each logging in, then out, then in again
 *            as the next user: logins per second and login latency
 *   chat     P pairs of users, each client sending to its peer at a rate
 *            (or closed-loop with a window), payload size B
 *   group    one group of G members, S of them sending at a rate: fan-out
 *
 * Latency of a message = the send time carried in its payload -> its
 * delivery at the peer (same clock: both ends live in this process).
 * Closed loop (--window W): each sender keeps W messages in flight,
 * sending the next one as soon as an ack arrives. Fixed rate (--rate R):
 * sends are paced by a 1 ms tick; with --pacing spread (the default) the
 * senders' phases are spread evenly over one period, as independent users'
 * would be, so a tick carries rate x senders / 1000 sends on average; with
 * --pacing aligned every sender is due on the same tick, so the whole
 * population sends in one burst each period (a synchronized-burst load).
 *
 * --protocol mqtt runs the chat scenario against an MQTT 3.1.1 broker with
 * the same design (mqtt.c: every connection on this one loop): client i
 * subscribes to PREFIX/i at QoS 1 and publishes at QoS 1 to its peer's
 * topic; "acked" is the broker's PUBACK, "delivered" the PUBLISH at the peer.
 * Users are PREFIX<i> with one password; create them beforehand with
 * bench/mkusers.sh. A process may hold at most 20,000 open files: keep
 * --conns <= 19000 per process and run several processes for more.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_stats.h"
#include "mqtt.h"
#include "client/omtp_client.h"
#include "client/omtp_sync.h"

enum { SC_CONNECT, SC_LOGIN, SC_CHAT, SC_GROUP };
static const char *sc_names[] = {"connect", "login", "chat", "group"};

typedef struct bopts {
    int scenario;
    char host[256];
    int port;
    char host2[256]; /* --server2: odd-numbered users connect here (cluster) */
    int port2;
    int conns;       /* connect: connections; login: concurrency */
    int users;       /* login: user pool size */
    double ramp;     /* connections started per second */
    double duration; /* seconds of the measured phase */
    int pairs;
    double rate; /* msgs/s per sending client; 0 = closed loop with window */
    int window;
    int size; /* payload bytes */
    int group_size, senders;
    char prefix[64];
    int user_start;
    char password[128];
    int server_pid;
    bool json;
    int keepalive;
    int compress;
    int timeout_ms;
    bool mqtt;         /* --protocol mqtt */
    char ws_path[128]; /* --transport ws (or --server ws://...): WebSocket path, "" = TCP */
    bool aligned;      /* --pacing aligned: every sender due on the same tick */
} bopts;

struct bench;
typedef struct bclient {
    omtp_client *c;
    mqtt_conn *mq; /* --protocol mqtt */
    struct bench *b;
    int idx;  /* user index */
    int peer; /* chat: the peer's user index */
    uint64_t t_start;
    bool online, sender, done;
    int inflight;
    double due;
    /* send times (us) of the messages in flight, oldest first: acks (MsgAck,
     * PUBACK) come back in send order on a connection, so the front is the
     * one an ack answers; NULL until the first send; a client whose ring
     * overflows stops measuring ack latency (ack_lost) */
    uint64_t *sent_us;
    unsigned ring_head, ring_n;
    bool ack_untracked;
} bclient;
#define ACK_RING 1024

typedef struct bench {
    bopts o;
    uv_loop_t *loop;
    bclient *cl;
    int ncl;
    int started;
    int phase; /* 0 ramp, 1 run, 2 drain, 3 done */
    uint64_t t0, t_run, t_run_end, t_last_tick;
    uv_timer_t tick, progress;
    uv_signal_t sigint;
    char group_id[256];
    char payload_pad[65536];
    /* counters */
    uint64_t online, conn_err, login_refused, drops;
    uint64_t logins, sent, acked, ack_err, recv, recv_before_run;
    uint64_t last_recv, last_sent;
    bench_lat lat_msg, lat_login, lat_ack;
    int next_user; /* login scenario */
    bool interrupted;
} bench;

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static void start_client(bench *b, bclient *bc, int user);
static void send_one(bench *b, bclient *bc);

/* Closed loop: top the sender's window up again. */
static void refill(bench *b, bclient *bc)
{
    if (b->phase != 1 || b->o.rate > 0 || !bc->sender || !bc->online)
        return;
    int guard = 0;
    while (bc->inflight < b->o.window && guard++ < b->o.window) {
        uint64_t before = b->sent;
        send_one(b, bc);
        if (b->sent == before)
            break;
    }
}

/* Ack latency: the send time of the message in flight longest. */
static void ack_sent(bclient *bc)
{
    if (bc->ack_untracked)
        return;
    if (!bc->sent_us && !(bc->sent_us = malloc(ACK_RING * sizeof(*bc->sent_us)))) {
        bc->ack_untracked = true;
        return;
    }
    if (bc->ring_n == ACK_RING) {
        bc->ack_untracked = true;
        return;
    }
    bc->sent_us[(bc->ring_head + bc->ring_n++) % ACK_RING] = now_us();
}

static void ack_came(bench *b, bclient *bc)
{
    if (bc->ack_untracked || !bc->ring_n)
        return;
    uint64_t t = bc->sent_us[bc->ring_head];
    bc->ring_head = (bc->ring_head + 1) % ACK_RING;
    bc->ring_n--;
    if (b->phase == 1)
        bench_lat_add(&b->lat_ack, (int64_t)(now_us() - t));
}

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    (void)c;
    bclient *bc = ud;
    bench *b = bc->b;
    bc->inflight--;
    ack_came(b, bc);
    if (status || !ack || ack->code)
        b->ack_err++;
    else
        b->acked++;
    refill(b, bc);
}

static void mq_on_puback(mqtt_conn *m, void *ud)
{
    (void)m;
    bclient *bc = ud;
    bc->inflight--;
    ack_came(bc->b, bc);
    bc->b->acked++;
    refill(bc->b, bc);
}

static void topic_of(const bench *b, int user, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%d", b->o.prefix, user);
}

static void send_one(bench *b, bclient *bc)
{
    char content[65600];
    int n = snprintf(content, sizeof(content), "%llu:", (unsigned long long)now_us());
    int pad = b->o.size - n;
    if (pad > 0) {
        memcpy(content + n, b->payload_pad, (size_t)pad);
        content[n + pad] = 0;
        n += pad;
    }
    if (bc->mq) {
        char topic[300];
        topic_of(b, bc->peer, topic, sizeof(topic));
        if (mqtt_conn_publish(bc->mq, topic, content, (size_t)n) == 0) {
            ack_sent(bc);
            bc->inflight++;
            b->sent++;
        }
        return;
    }
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    char to[300];
    int type;
    if (b->o.scenario == SC_GROUP) {
        snprintf(to, sizeof(to), "%s", b->group_id);
        type = PT_MSG_GROUP_CHAT;
    } else {
        snprintf(to, sizeof(to), "%s%d", b->o.prefix, bc->peer);
        type = PT_MSG_SINGLE_CHAT;
    }
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    m.contentType = 1;
    if (omtp_client_send_msg(bc->c, type, &m, 0, on_ack, bc, NULL) == 0) {
        ack_sent(bc);
        bc->inflight++;
        b->sent++;
    }
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

/* A message reached its peer: count it, latency from the stamp it carries
 * ("<send time in us>:" then padding; not NUL-terminated for MQTT). */
static void delivered(bench *b, const char *p, size_t len)
{
    if (b->phase == 0) {
        b->recv_before_run++;
        return;
    }
    unsigned long long ts = 0;
    size_t i = 0;
    for (; i < len && i < 24 && p[i] >= '0' && p[i] <= '9'; i++)
        ts = ts * 10 + (unsigned long long)(p[i] - '0');
    if (i == 0 || i >= len || p[i] != ':')
        return;
    b->recv++;
    bench_lat_add(&b->lat_msg, (int64_t)(now_us() - ts));
}

static void on_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                       void *ud)
{
    (void)c;
    (void)h;
    (void)catchup;
    bclient *bc = ud;
    delivered(bc->b, m->content.data ? m->content.data : "", m->content.len);
}

static void mq_on_message(mqtt_conn *m, const char *payload, size_t len, void *ud)
{
    (void)m;
    bclient *bc = ud;
    delivered(bc->b, payload, len);
}

static void mq_on_state(mqtt_conn *m, bool online, const char *err, void *ud)
{
    bclient *bc = ud;
    bench *b = bc->b;
    if (online) {
        bc->online = true;
        b->online++;
        bench_lat_add(&b->lat_login, (int64_t)(now_us() - bc->t_start));
        return;
    }
    if (bc->online) {
        bc->online = false;
        b->online--;
        b->drops++;
    } else {
        b->conn_err++;
    }
    if (b->drops + b->conn_err <= 3)
        fprintf(stderr, "omtp-bench: mqtt client %d: %s\n", bc->idx, err);
    bc->done = true;
    (void)m;
}

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    bclient *bc = ud;
    bench *b = bc->b;
    if (ev->state == OMTP_CLIENT_ONLINE) {
        bc->online = true;
        b->online++;
        uint64_t lat = now_us() - bc->t_start;
        if (b->o.scenario == SC_LOGIN) {
            if (b->phase == 1) {
                b->logins++;
                bench_lat_add(&b->lat_login, (int64_t)lat);
            }
            /* log out and log in again as the next user, in the same slot */
            omtp_client_destroy(bc->c);
            bc->c = NULL;
            b->online--;
            bc->online = false;
            if (b->phase <= 1 && !b->interrupted) {
                int u = b->next_user++ % b->o.users;
                start_client(b, bc, u);
            } else {
                bc->done = true;
            }
            return;
        }
        bench_lat_add(&b->lat_login, (int64_t)lat);
    } else if (ev->state == OMTP_CLIENT_STOPPED) {
        if (bc->online) {
            bc->online = false;
            b->online--;
            if (ev->err)
                b->drops++;
        } else if (ev->code) {
            b->login_refused++;
            if (b->login_refused <= 3)
                fprintf(stderr, "omtp-bench: login of %s refused: %s (%d)\n", omtp_client_user(c),
                        omtp_error_code_name(ev->code), ev->code);
        } else if (ev->err) {
            b->conn_err++;
            if (b->conn_err <= 3)
                fprintf(stderr, "omtp-bench: %s: %s\n", omtp_client_user(c), ev->desc);
        }
        bc->done = true;
        if (b->o.scenario == SC_LOGIN && b->phase <= 1 && !b->interrupted && bc->c) {
            omtp_client_destroy(bc->c);
            int u = b->next_user++ % b->o.users;
            start_client(b, bc, u);
        }
    }
}

static void start_client(bench *b, bclient *bc, int user)
{
    char name[128];
    snprintf(name, sizeof(name), "%s%d", b->o.prefix, user);
    if (b->o.mqtt) {
        char topic[300];
        topic_of(b, user, topic, sizeof(topic));
        mqtt_callbacks mcb = {
            .on_state = mq_on_state, .on_puback = mq_on_puback, .on_message = mq_on_message};
        bc->b = b;
        bc->idx = user;
        bc->done = false;
        bc->t_start = now_us();
        if (mqtt_conn_start(b->loop, b->o.host, b->o.port, name, topic, b->o.keepalive, &mcb, bc,
                            &bc->mq)) {
            b->conn_err++;
            bc->done = true;
            bc->mq = NULL;
        }
        return;
    }
    bool second = b->o.host2[0] && (user & 1);
    omtp_client_config cfg = {.host = second ? b->o.host2 : b->o.host,
                              .port = second ? b->o.port2 : b->o.port,
                              .user = name,
                              .password = b->o.password,
                              .device_type = DEVICE_LINUX,
                              .keepalive_s = b->o.keepalive,
                              .request_timeout_ms = b->o.timeout_ms,
                              .connect_timeout_ms = b->o.timeout_ms,
                              .no_reconnect = true,
                              .no_catchup = true,
                              .compress = b->o.compress,
                              .ws_path = b->o.ws_path[0] ? b->o.ws_path : NULL};
    omtp_client_callbacks cb = {.on_state = on_state, .on_message = on_message};
    bc->b = b;
    bc->idx = user;
    bc->done = false;
    bc->t_start = now_us();
    if (omtp_client_new(b->loop, &cfg, &cb, bc, &bc->c)) {
        b->conn_err++;
        bc->done = true;
        bc->c = NULL;
        return;
    }
    omtp_client_start(bc->c);
}

static double secs(uint64_t us)
{
    return (double)us / 1e6;
}

static void progress(uv_timer_t *t)
{
    bench *b = t->data;
    uint64_t now = now_us();
    double el = secs(now - b->t0);
    if (b->o.scenario == SC_LOGIN)
        fprintf(stderr, "\r[%5.1fs] %s logins %llu  refused %llu  errors %llu   ", el,
                b->phase == 0 ? "ramp" : "run ", (unsigned long long)b->logins,
                (unsigned long long)b->login_refused, (unsigned long long)b->conn_err);
    else
        fprintf(stderr,
                "\r[%5.1fs] %s online %llu/%d  sent %llu  recv %llu (%llu/s)  errors %llu   ", el,
                b->phase == 0   ? "ramp"
                : b->phase == 1 ? "run "
                                : "drain",
                (unsigned long long)b->online, b->ncl, (unsigned long long)b->sent,
                (unsigned long long)b->recv, (unsigned long long)(b->recv - b->last_recv),
                (unsigned long long)(b->conn_err + b->login_refused + b->ack_err + b->drops));
    b->last_recv = b->recv;
}

static void finish(bench *b)
{
    b->phase = 3;
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->progress);
    uv_signal_stop(&b->sigint);
    for (int i = 0; i < b->ncl; i++) {
        if (b->cl[i].c) {
            omtp_client_destroy(b->cl[i].c);
            b->cl[i].c = NULL;
        }
        if (b->cl[i].mq) {
            mqtt_conn_free(b->cl[i].mq);
            b->cl[i].mq = NULL;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    bench *b = t->data;
    uint64_t now = now_us();
    double dt = secs(now - b->t_last_tick);
    b->t_last_tick = now;
    if (b->phase == 0) {
        /* ramp: start clients at the ramp rate */
        double el = secs(now - b->t0);
        int want = b->o.ramp > 0 ? (int)(el * b->o.ramp) + 1 : b->ncl;
        if (want > b->ncl)
            want = b->ncl;
        while (b->started < want) {
            bclient *bc = &b->cl[b->started];
            int user = b->o.scenario == SC_LOGIN ? b->next_user++ % b->o.users
                                                 : b->o.user_start + b->started;
            start_client(b, bc, user);
            b->started++;
        }
        bool settled = b->started == b->ncl;
        for (int i = 0; settled && i < b->ncl && b->o.scenario != SC_LOGIN; i++)
            if (!b->cl[i].online && !b->cl[i].done)
                settled = false;
        if (settled) {
            /* --pacing spread: sender k of n starts k/n of a period ahead */
            int nsend = 0, k = 0;
            for (int i = 0; i < b->ncl; i++)
                nsend += b->cl[i].sender;
            for (int i = 0; i < b->ncl && !b->o.aligned; i++)
                if (b->cl[i].sender)
                    b->cl[i].due = (double)k++ / nsend;
            b->phase = 1;
            b->t_run = now;
            b->t_run_end = now + (uint64_t)(b->o.duration * 1e6);
            if (!b->o.json && isatty(STDERR_FILENO))
                fprintf(stderr, "\n");
        }
        return;
    }
    if (b->phase == 1) {
        if (now >= b->t_run_end || b->interrupted) {
            b->phase = 2;
            b->t_run_end = now;
            return;
        }
        if (b->o.scenario != SC_CHAT && b->o.scenario != SC_GROUP)
            return;
        for (int i = 0; i < b->ncl; i++) {
            bclient *bc = &b->cl[i];
            if (!bc->sender || !bc->online)
                continue;
            if (b->o.rate > 0) {
                bc->due += b->o.rate * dt;
                while (bc->due >= 1 && bc->inflight < 10000) {
                    send_one(b, bc);
                    bc->due -= 1;
                }
            } else if (bc->inflight < b->o.window) {
                refill(b, bc); /* first fill; acks refill from then on */
            }
        }
        return;
    }
    if (b->phase == 2) {
        /* drain: wait (up to 3 s) for acks and deliveries in flight */
        bool idle = true;
        for (int i = 0; i < b->ncl; i++)
            if (b->cl[i].inflight > 0)
                idle = false;
        uint64_t expect =
            b->o.scenario == SC_GROUP ? b->acked * (uint64_t)(b->o.group_size - 1) : b->acked;
        if ((idle && b->recv >= expect) || now - b->t_run_end > 3000000)
            finish(b);
    }
}

static void on_sigint(uv_signal_t *s, int sig)
{
    bench *b = s->data;
    b->interrupted = true;
    if (b->phase == 0) {
        b->phase = 2;
        b->t_run = b->t_run_end = now_us();
    }
}

static int create_group(bench *b)
{
    omtp_sync *c;
    char wswhy[256] = "";
    int rc = b->o.ws_path[0] ? omtp_sync_connect_ws(&c, b->o.host, b->o.port, b->o.ws_path, 5000,
                                                    wswhy, sizeof(wswhy))
                             : omtp_sync_connect(&c, b->o.host, b->o.port, 5000);
    if (rc && wswhy[0])
        fprintf(stderr, "omtp-bench: WebSocket: %s\n", wswhy);
    if (rc) {
        fprintf(stderr, "omtp-bench: cannot connect to %s:%d: %s\n", b->o.host, b->o.port,
                strerror(errno));
        return 3;
    }
    char owner[128];
    snprintf(owner, sizeof(owner), "%s%d", b->o.prefix, b->o.user_start);
    int code = 0;
    rc = omtp_sync_login(c, owner, b->o.password, DEVICE_WINDOWS, NULL, &code);
    if (rc || code) {
        fprintf(stderr, "omtp-bench: login of %s failed: %s\n", owner,
                rc ? omtp_strerror(rc) : omtp_error_code_name(code));
        omtp_sync_close(c);
        return 3;
    }
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.name, "omtp-bench");
    tars_str_set(&q.groupInfo.creatorId, owner);
    q.groupInfo.memberLimit = b->o.group_size;
    q.memberIds.items = calloc((size_t)b->o.group_size, sizeof(tars_str));
    for (int i = 0; i < b->o.group_size; i++) {
        char u[128];
        snprintf(u, sizeof(u), "%s%d", b->o.prefix, b->o.user_start + i);
        tars_str_set(&q.memberIds.items[i], u);
    }
    q.memberIds.n = (uint32_t)b->o.group_size;
    omtp_GroupChatCreateResp r;
    rc = omtp_sync_call(c, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                        &omtp_GroupChatCreateResp_desc, &r);
    if (rc || r.errorCode.code) {
        fprintf(stderr, "omtp-bench: group create failed: %s %s\n",
                rc ? omtp_strerror(rc) : omtp_error_code_name(r.errorCode.code),
                rc ? "" : r.errorCode.desc.data);
        rc = 3;
    } else {
        snprintf(b->group_id, sizeof(b->group_id), "%s", r.groupId.data);
    }
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
    omtp_sync_close(c);
    return rc;
}

static void report(bench *b)
{
    double run = secs(b->t_run_end - b->t_run);
    if (run <= 0)
        run = 1e-9;
    bench_lat *l =
        b->o.scenario == SC_LOGIN || b->o.scenario == SC_CONNECT ? &b->lat_login : &b->lat_msg;
    bench_lat_finish(&b->lat_msg);
    bench_lat_finish(&b->lat_login);
    bench_lat_finish(&b->lat_ack);
    long rss = b->o.server_pid ? bench_rss_kb(b->o.server_pid, "VmRSS") : -1;
    long hwm = b->o.server_pid ? bench_rss_kb(b->o.server_pid, "VmHWM") : -1;
    uint64_t errors = b->conn_err + b->login_refused + b->ack_err + b->drops;
    double thr = b->o.scenario == SC_LOGIN     ? (double)b->logins / run
                 : b->o.scenario == SC_CONNECT ? (double)b->online
                                               : (double)b->recv / run;
    if (b->o.json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I}",
            "scenario", sc_names[b->o.scenario], "server", b->o.host, "port", b->o.port,
            "duration_s", run, "connections", (json_int_t)b->ncl, "online", (json_int_t)b->online,
            "logins", (json_int_t)b->logins, "sent", (json_int_t)b->sent, "acked",
            (json_int_t)b->acked, "received", (json_int_t)b->recv, "errors", (json_int_t)errors,
            "conn_errors", (json_int_t)b->conn_err, "login_refused", (json_int_t)b->login_refused,
            "throughput_per_s", thr, "acked_per_s", (double)b->acked / run, "size",
            (json_int_t)b->o.size);
        json_t *lj =
            json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)l->n, "mean_ms",
                      bench_lat_mean(l) / 1000, "p50_ms", bench_lat_pct(l, 50) / 1000, "p90_ms",
                      bench_lat_pct(l, 90) / 1000, "p99_ms", bench_lat_pct(l, 99) / 1000, "p999_ms",
                      bench_lat_pct(l, 99.9) / 1000, "max_ms", bench_lat_max(l) / 1000);
        json_object_set_new(j, b->o.scenario >= SC_CHAT ? "latency" : "login_latency", lj);
        if (b->o.scenario >= SC_CHAT) {
            const bench_lat *a = &b->lat_ack;
            json_object_set_new(
                j, "ack_latency",
                json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)a->n, "p50_ms",
                          bench_lat_pct(a, 50) / 1000, "p90_ms", bench_lat_pct(a, 90) / 1000,
                          "p99_ms", bench_lat_pct(a, 99) / 1000, "p999_ms",
                          bench_lat_pct(a, 99.9) / 1000, "max_ms", bench_lat_max(a) / 1000));
        }
        json_object_set_new(j, "protocol", json_string(b->o.mqtt ? "mqtt" : "omtp"));
        json_object_set_new(j, "pairs", json_integer(b->o.pairs));
        json_object_set_new(j, "rate", json_real(b->o.rate));
        json_object_set_new(j, "pacing", json_string(b->o.aligned ? "aligned" : "spread"));
        json_object_set_new(j, "window", json_integer(b->o.window));
        if (b->o.server_pid) {
            json_object_set_new(j, "server_rss_kb", json_integer(rss));
            json_object_set_new(j, "server_hwm_kb", json_integer(hwm));
        }
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
        return;
    }
    printf("scenario     %s against %s %s:%d (%.2f s measured)\n", sc_names[b->o.scenario],
           b->o.mqtt ? "MQTT broker" : "omtpd", b->o.host, b->o.port, run);
    if (b->o.scenario == SC_CONNECT)
        printf("connections  %llu online of %d\n", (unsigned long long)b->online, b->ncl);
    if (b->o.scenario == SC_LOGIN)
        printf("logins       %llu (%.0f/s) with %d concurrent\n", (unsigned long long)b->logins,
               thr, b->ncl);
    if (b->o.scenario >= SC_CHAT)
        printf("messages     sent %llu  acked %llu (%.0f/s)  delivered %llu (%.0f/s)  payload "
               "%d B\n",
               (unsigned long long)b->sent, (unsigned long long)b->acked, (double)b->acked / run,
               (unsigned long long)b->recv, thr, b->o.size);
    printf("%s  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%zu samples)\n",
           b->o.scenario >= SC_CHAT ? "latency  " : "login lat", bench_lat_pct(l, 50) / 1000,
           bench_lat_pct(l, 90) / 1000, bench_lat_pct(l, 99) / 1000, bench_lat_pct(l, 99.9) / 1000,
           bench_lat_max(l) / 1000, l->n);
    if (b->o.scenario >= SC_CHAT)
        printf("ack lat    p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%zu samples; "
               "send -> MsgAck/PUBACK)\n",
               bench_lat_pct(&b->lat_ack, 50) / 1000, bench_lat_pct(&b->lat_ack, 90) / 1000,
               bench_lat_pct(&b->lat_ack, 99) / 1000, bench_lat_pct(&b->lat_ack, 99.9) / 1000,
               bench_lat_max(&b->lat_ack) / 1000, b->lat_ack.n);
    printf("errors       %llu (connect %llu, login refused %llu, send %llu, dropped %llu)\n",
           (unsigned long long)errors, (unsigned long long)b->conn_err,
           (unsigned long long)b->login_refused, (unsigned long long)b->ack_err,
           (unsigned long long)b->drops);
    if (b->o.server_pid)
        printf("server RSS   %.1f MiB now, %.1f MiB peak\n", rss / 1024.0, hwm / 1024.0);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: omtp-bench SCENARIO [OPTIONS]\n\n"
            "Scenarios:\n"
            "  connect   --conns N [--ramp R] [--duration S]   hold N logged-in connections\n"
            "  login     --conns C [--users N] [--duration S]  C concurrent login/logout loops\n"
            "  chat      --pairs P [--rate R | --window W] [--size B] [--duration S]\n"
            "  group     --group-size G --senders S [--rate R] [--size B] [--duration S]\n\n"
            "Options:\n"
            "  --server HOST:PORT   default 127.0.0.1:9000 (ws://HOST:PORT/ws: WebSocket)\n"
            "  --transport tcp|ws   ws: connect to omtpd's ws_listen (--server its port)\n"
            "                       over WebSocket, path /ws (default tcp)\n"
            "  --server2 HOST:PORT  odd-numbered users connect here instead (cluster:\n"
            "                       every chat pair spans two nodes)\n"
            "  --user-prefix P      users are P0, P1, ... (default 'bench')\n"
            "  --user-start K       first user index (split users between processes)\n"
            "  --password PW        the users' password (default 'bench')\n"
            "  --ramp R             connections started per second (default 2000)\n"
            "  --duration S         measured seconds (default 10)\n"
            "  --rate R             messages/s per sending client (default 10; 0 = closed\n"
            "                       loop)\n"
            "  --pacing spread|aligned\n"
            "                       fixed rate: senders' phases spread over the period\n"
            "                       (default), or all due on the same 1 ms tick (bursts)\n"
            "  --window W           closed loop: messages in flight per client (default 1);\n"
            "                       --window without --rate means closed loop\n"
            "  --size B             message payload bytes (default 64)\n"
            "  --keepalive S        heartbeat interval (default 30)\n"
            "  --compress           zlib-compress requests\n"
            "  --timeout MS         request / connect timeout (default 10000)\n"
            "  --server-pid PID     report the server's RSS\n"
            "  --json               one JSON object on stdout\n"
            "  --protocol mqtt      chat against an MQTT 3.1.1 broker instead (QoS 1;\n"
            "                       client i subscribes to PREFIX/i, publishes to its peer's)\n\n"
            "Start the server with --req-rate 0: omtpd's default flood limit (50\n"
            "requests/s per connection, bursts of 200) throttles closed-loop runs and\n"
            "--rate above 50 (refused sends count as errors).\n"
            "Create users first: bench/mkusers.sh. At most ~19000 connections per process\n"
            "(20,000 open files); run several processes with --user-start for more.\n"
            "On a terminal a progress line is shown on stderr; the report goes to stdout.\n\n"
            "Examples:\n"
            "  omtpd init      (a fresh data directory; or start omtpd once)\n"
            "  omtpd user bulk bench 2000 --password bench --cost 4   (users bench0..1999)\n"
            "  omtp-bench connect --conns 1000 --duration 10\n"
            "  omtp-bench login --conns 20 --users 1000\n"
            "  omtp-bench chat --pairs 50 --rate 20 --size 128\n"
            "  omtp-bench group --group-size 200 --senders 2 --rate 5\n");
}

static int parse(int argc, char **argv, bopts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->port = 9000;
    o->conns = 100;
    o->ramp = 2000;
    o->duration = 10;
    o->pairs = 10;
    o->rate = 10;
    o->window = 1;
    o->size = 64;
    o->group_size = 10;
    o->senders = 1;
    snprintf(o->prefix, sizeof(o->prefix), "bench");
    snprintf(o->password, sizeof(o->password), "bench");
    o->keepalive = 30;
    o->timeout_ms = 10000;
    o->scenario = -1;
    bool rate_set = false, window_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (i++, 1))
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (OPT("--protocol")) {
            if (!strcmp(v, "mqtt")) {
                o->mqtt = true;
            } else if (strcmp(v, "omtp")) {
                fprintf(stderr, "omtp-bench: unknown --protocol '%s' (omtp, mqtt)\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--compress")) {
            o->compress = OMTP_COMPRESS_ZLIB;
        } else if (OPT("--transport")) {
            if (!strcmp(v, "ws"))
                snprintf(o->ws_path, sizeof(o->ws_path), "/ws");
            else if (!strcmp(v, "tcp"))
                o->ws_path[0] = 0;
            else {
                fprintf(stderr, "omtp-bench: unknown --transport '%s' (tcp, ws)\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--server") && v && !strncmp(v, "ws://", 5) && (i++, 1)) {
            bool ws, tls;
            if (omtp_client_parse_server(v, o->host, sizeof(o->host), &o->port, &ws, &tls,
                                         o->ws_path, sizeof(o->ws_path))) {
                fprintf(stderr, "omtp-bench: bad --server '%s' (want ws://HOST:PORT/PATH)\n", v);
                return -1;
            }
        } else if (OPT("--server")) {
            const char *colon = strrchr(v, ':');
            if (!colon || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
                fprintf(stderr, "omtp-bench: bad --server '%s' (want HOST:PORT)\n", v);
                return -1;
            }
            snprintf(o->host, sizeof(o->host), "%.*s", (int)(colon - v), v);
            o->port = atoi(colon + 1);
        } else if (OPT("--server2")) {
            const char *colon = strrchr(v, ':');
            if (!colon || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
                fprintf(stderr, "omtp-bench: bad --server2 '%s' (want HOST:PORT)\n", v);
                return -1;
            }
            snprintf(o->host2, sizeof(o->host2), "%.*s", (int)(colon - v), v);
            o->port2 = atoi(colon + 1);
        } else if (OPT("--conns")) {
            o->conns = atoi(v);
        } else if (OPT("--users")) {
            o->users = atoi(v);
        } else if (OPT("--ramp")) {
            o->ramp = atof(v);
        } else if (OPT("--duration")) {
            o->duration = atof(v);
        } else if (OPT("--pairs")) {
            o->pairs = atoi(v);
        } else if (OPT("--rate")) {
            o->rate = atof(v);
            rate_set = true;
        } else if (OPT("--pacing")) {
            if (strcmp(v, "aligned") != 0 && strcmp(v, "spread") != 0) {
                fprintf(stderr, "omtp-bench: --pacing is 'spread' or 'aligned', not '%s'\n", v);
                return -1;
            }
            o->aligned = strcmp(v, "aligned") == 0;
        } else if (OPT("--window")) {
            o->window = atoi(v);
            window_set = true;
        } else if (OPT("--size")) {
            o->size = atoi(v);
        } else if (OPT("--group-size")) {
            o->group_size = atoi(v);
        } else if (OPT("--senders")) {
            o->senders = atoi(v);
        } else if (OPT("--user-prefix")) {
            snprintf(o->prefix, sizeof(o->prefix), "%s", v);
        } else if (OPT("--user-start")) {
            o->user_start = atoi(v);
        } else if (OPT("--password")) {
            snprintf(o->password, sizeof(o->password), "%s", v);
        } else if (OPT("--server-pid")) {
            o->server_pid = atoi(v);
        } else if (OPT("--keepalive")) {
            o->keepalive = atoi(v);
        } else if (OPT("--timeout")) {
            o->timeout_ms = atoi(v);
        } else if (o->scenario < 0 && a[0] != '-') {
            for (int s = 0; s < 4; s++)
                if (!strcmp(a, sc_names[s]))
                    o->scenario = s;
            if (o->scenario < 0) {
                fprintf(stderr, "omtp-bench: unknown scenario '%s' (connect, login, chat, group)\n",
                        a);
                return -1;
            }
        } else {
            fprintf(stderr, "omtp-bench: %s '%s'%s\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a,
                    a[0] == '-' && !v ? " (or its value is missing)" : "");
            return -1;
        }
#undef OPT
    }
    if (o->scenario < 0) {
        fprintf(stderr, "omtp-bench: name a scenario (connect, login, chat, group)\n");
        return -1;
    }
    if (window_set && !rate_set)
        o->rate = 0; /* --window alone means closed loop */
    if (o->mqtt && o->scenario != SC_CHAT) {
        fprintf(stderr, "omtp-bench: --protocol mqtt runs the chat scenario only\n");
        return -1;
    }
    if (o->size < 24)
        o->size = 24;
    if (o->size > 60000)
        o->size = 60000;
    if (o->window < 1)
        o->window = 1;
    if (!o->users)
        o->users = o->conns;
    if (o->scenario == SC_GROUP && o->senders > o->group_size)
        o->senders = o->group_size;
    return 0;
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof(*b));
    if (!b || parse(argc, argv, &b->o)) {
        fprintf(stderr, "(run omtp-bench --help for the scenarios and options)\n");
        free(b);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(b->payload_pad, 'x', sizeof(b->payload_pad));
    switch (b->o.scenario) {
    case SC_CONNECT:
    case SC_LOGIN:
        b->ncl = b->o.conns;
        break;
    case SC_CHAT:
        b->ncl = 2 * b->o.pairs;
        break;
    case SC_GROUP:
        b->ncl = b->o.group_size;
        break;
    }
    if (b->ncl > 19000)
        fprintf(stderr,
                "omtp-bench: warning: %d connections in one process; the limit is "
                "20,000 open files (use several processes and --user-start)\n",
                b->ncl);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)b->ncl + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)b->ncl + 64 ? rl.rlim_max : (rlim_t)b->ncl + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (b->o.scenario == SC_GROUP && create_group(b)) {
        free(b);
        return 3;
    }
    b->cl = calloc((size_t)b->ncl, sizeof(bclient));
    for (int i = 0; i < b->ncl; i++) {
        bclient *bc = &b->cl[i];
        bc->b = b;
        if (b->o.scenario == SC_CHAT) {
            int base = b->o.user_start;
            bc->peer = base + (i ^ 1); /* 2k <-> 2k+1 */
            bc->sender = true;
        } else if (b->o.scenario == SC_GROUP) {
            bc->sender = i < b->o.senders;
        }
    }
    b->loop = uv_default_loop();
    uv_timer_init(b->loop, &b->tick);
    uv_timer_init(b->loop, &b->progress);
    uv_signal_init(b->loop, &b->sigint);
    b->tick.data = b->progress.data = b->sigint.data = b;
    b->t0 = b->t_last_tick = now_us();
    uv_timer_start(&b->tick, on_tick, 0, 1); /* 1 ms: paced sends stay smooth */
    if (isatty(STDERR_FILENO) && !b->o.json)
        uv_timer_start(&b->progress, progress, 1000, 1000);
    uv_signal_start(&b->sigint, on_sigint, SIGINT);
    uv_run(b->loop, UV_RUN_DEFAULT);
    if (isatty(STDERR_FILENO) && !b->o.json)
        fprintf(stderr, "\n");
    report(b);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->progress, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_run(b->loop, UV_RUN_DEFAULT);
    bench_lat_free(&b->lat_msg);
    bench_lat_free(&b->lat_ack);
    for (int i = 0; i < b->ncl; i++)
        free(b->cl[i].sent_us);
    bench_lat_free(&b->lat_login);
    int rc = (b->online == 0 && b->logins == 0 && b->recv == 0) ? 1 : 0;
    free(b->cl);
    free(b);
    return rc;
}
