/*
 * chat_e2e.c - end-to-end 1:1 messaging benchmark, and the load generator of
 * the durability test.
 *
 * One libuv loop drives every connection (DESIGN: a benchmark measures the
 * server, not a thread per client). N pairs of users: <prefix>0 sends to
 * <prefix>1, <prefix>2 to <prefix>3, ... (passwords = user ids). Each sender
 * keeps `--window` messages unacknowledged, or, with `--rate R`, the loop
 * sends R messages per second in total spread over the senders (each sender
 * still capped at 1000 in flight). The content starts with the send time
 * (uv_hrtime, ns); latency = the time the push arrives at the receiving
 * connection minus that. Throughput = pushes delivered per second during the
 * measured interval (after --warmup).
 *
 *   chat_e2e --port P [--pairs 10] [--duration 5] [--warmup 1] [--window 1]
 *            [--rate 0] [--size 64] [--prefix bench] [--record FILE]
 *   chat_e2e --port P --verify FILE [--prefix bench]
 *
 * --record FILE appends "sessionId seqId packId" for every acked message as
 * the ack arrives (line-buffered: a killed server leaves a file of what it
 * acked). The run ends at --duration or when the server goes away (exit 0
 * if at least one message was acked). --verify FILE logs in as each sender of
 * the file, pulls the whole history of each session and checks that every
 * recorded message is there with its seqId and packId, and that no packId is
 * stored twice. Exit 0 = all good.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "client/omtp_sync.h"
#include "proto/omtp_packet.h"

#define MAX_INFLIGHT 1000

typedef struct pend {
    char packId[48];
} pend;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    int idx;
    char user[64], peer[64];
    bool sender, online, dead;
    omtp_frame_reader rd;
    pend *q; /* FIFO of in-flight sends */
    size_t qhead, qlen;
    uint64_t seq;
} conn;

static struct {
    const char *host, *prefix, *record, *verify;
    int port, pairs, window, size;
    double duration, warmup, rate;
} opt = {"127.0.0.1", "bench", NULL, NULL, 0, 10, 1, 64, 5, 1, 0};

static uv_loop_t *loop;
static conn *conns;
static int nconns, online, closed_conns;
static uint64_t t_start, t_measure, t_end, run_nonce;
static uint64_t acked, delivered, delivered_measured, errors, sent;
static uint32_t *lat; /* microseconds, measured interval */
static size_t nlat, caplat;
static FILE *rec;
static uv_timer_t tick;
static double rate_credit;
static int rr;
static bool stopping;

static void die(const char *what)
{
    fprintf(stderr, "chat_e2e: %s\n", what);
    exit(2);
}

static void on_write(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_packet(conn *c, int type, int64_t flags, const char *packId,
                        const tars_struct_desc *d, const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    if (omtp_packet_encode(&b, type, flags, packId, d, body, NULL, 0) != 0)
        die("encode failed");
    uv_write_t *w = malloc(sizeof *w + b.len);
    if (!w)
        die("out of memory");
    memcpy(w + 1, b.data, b.len);
    uv_buf_t ub = uv_buf_init((char *)(w + 1), (unsigned)b.len);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, on_write) != 0)
        free(w);
    tars_buf_free(&b);
}

static void send_msg(conn *c)
{
    if (c->qlen >= MAX_INFLIGHT || !c->online || c->dead)
        return;
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    char text[4096];
    int n = snprintf(text, sizeof text, "%" PRIu64 " ", uv_hrtime());
    int size = opt.size < n ? n : opt.size;
    if (size >= (int)sizeof text)
        size = (int)sizeof text - 1;
    memset(text + n, 'x', (size_t)(size - n));
    text[size] = 0;
    tars_str_set(&m.from, c->user);
    tars_str_set(&m.to, c->peer);
    tars_str_set(&m.content, text);
    m.contentType = 1;
    pend *p = &c->q[(c->qhead + c->qlen) % MAX_INFLIGHT];
    snprintf(p->packId, sizeof p->packId, "%" PRIx64 "-%d-%" PRIu64, run_nonce, c->idx, c->seq++);
    c->qlen++;
    send_packet(c, PT_MSG_SINGLE_CHAT, 0, p->packId, &omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    sent++;
}

static void stop_all(void);

static void on_close(uv_handle_t *h)
{
    (void)h;
    closed_conns++;
}

static void conn_dead(conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    omtp_frame_reader_free(&c->rd);
    uv_close((uv_handle_t *)&c->tcp, on_close);
    if (!stopping)
        stop_all(); /* the server went away: end the run */
}

static void start_sending(void)
{
    t_start = uv_hrtime();
    t_measure = t_start + (uint64_t)(opt.warmup * 1e9);
    t_end = t_measure + (uint64_t)(opt.duration * 1e9);
    if (opt.rate <= 0)
        for (int i = 0; i < nconns; i++)
            if (conns[i].sender)
                for (int k = 0; k < opt.window; k++)
                    send_msg(&conns[i]);
}

static void handle_packet(conn *c, omtp_packet *p)
{
    int type = p->header.type;
    bool ack = p->header.flags & OMTP_F_ACK;
    if (type == PT_LOGIN && ack) {
        omtp_LoginResp *r = p->body;
        if (!r || r->code != 0) {
            fprintf(stderr, "login of %s failed (%d): create the users first\n", c->user,
                    r ? r->code : -1);
            exit(2);
        }
        c->online = true;
        if (++online == nconns)
            start_sending();
        return;
    }
    if (type == PT_MSG_SINGLE_CHAT && ack) {
        omtp_MsgAck *a = p->body;
        if (c->qlen == 0)
            return;
        pend *head = &c->q[c->qhead];
        if (strcmp(head->packId, p->header.packId.data) != 0)
            fprintf(stderr, "ack out of order on %s\n", c->user);
        if (a && a->code == 0) {
            acked++;
            if (rec) {
                fprintf(rec, "%s %" PRId64 " %s\n", a->sessionId.data, a->seqId,
                        p->header.packId.data);
                fflush(rec);
            }
        } else {
            errors++;
        }
        c->qhead = (c->qhead + 1) % MAX_INFLIGHT;
        c->qlen--;
        if (opt.rate <= 0 && !stopping)
            send_msg(c);
        return;
    }
    if (type == PT_MSG_SINGLE_CHAT && !ack) {
        uint64_t now = uv_hrtime();
        omtp_MsgReq *m = p->body;
        delivered++;
        if (m && now >= t_measure && now < t_end) {
            uint64_t t0 = strtoull(m->content.data, NULL, 10);
            delivered_measured++;
            if (nlat == caplat) {
                caplat = caplat ? 2 * caplat : 1 << 16;
                lat = realloc(lat, caplat * sizeof *lat);
                if (!lat)
                    die("out of memory");
            }
            lat[nlat++] = (uint32_t)((now - t0) / 1000);
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    conn *c = h->data;
    uint8_t *p;
    size_t n;
    (void)want;
    if (omtp_frame_reader_space(&c->rd, 65536, &p, &n) != 0)
        die("out of memory");
    *buf = uv_buf_init((char *)p, (unsigned)n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    (void)buf;
    if (nread < 0) {
        conn_dead(c);
        return;
    }
    omtp_frame_reader_commit(&c->rd, (size_t)nread);
    const uint8_t *f;
    size_t len;
    int rc;
    while ((rc = omtp_frame_reader_next(&c->rd, &f, &len)) == 1) {
        omtp_packet p;
        memset(&p, 0, sizeof p);
        int stage;
        char why[128];
        omtp_decode_opts o = {0};
        if (omtp_packet_decode(f, len, &o, &p, &stage, why, sizeof why) == 0)
            handle_packet(c, &p);
        omtp_packet_free(&p);
        if (c->dead)
            return;
    }
    if (rc < 0)
        conn_dead(c);
}

static void on_connect(uv_connect_t *r, int status)
{
    conn *c = r->data;
    if (status != 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        exit(2);
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    omtp_LoginReq l;
    omtp_msg_init(&omtp_LoginReq_desc, &l);
    tars_str_set(&l.clientId, c->user);
    tars_str_set(&l.userName, c->user);
    tars_str_set(&l.password, c->user);
    l.deviceType = DEVICE_LINUX;
    tars_str_set(&l.deviceId, c->user);
    send_packet(c, PT_LOGIN, 0, NULL, &omtp_LoginReq_desc, &l);
    omtp_msg_free(&omtp_LoginReq_desc, &l);
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    if (online < nconns)
        return;
    if (now >= t_end) {
        stop_all();
        return;
    }
    if (opt.rate > 0) {
        static uint64_t last;
        if (!last)
            last = t_start;
        rate_credit += opt.rate * (double)(now - last) / 1e9; /* ticks may come late */
        last = now;
        int senders = opt.pairs;
        while (rate_credit >= 1) {
            conn *c = &conns[2 * (rr++ % senders)];
            send_msg(c);
            rate_credit -= 1;
        }
    }
    (void)t;
}

static void stop_all(void)
{
    if (stopping)
        return;
    stopping = true;
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    for (int i = 0; i < nconns; i++)
        if (!conns[i].dead) {
            conns[i].dead = true;
            omtp_frame_reader_free(&conns[i].rd);
            uv_close((uv_handle_t *)&conns[i].tcp, on_close);
        }
}

static int cmpu32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(double q)
{
    if (nlat == 0)
        return 0;
    size_t i = (size_t)(q * (double)(nlat - 1));
    return lat[i] / 1000.0;
}

/* ------------------------------------------------------------- verify */

typedef struct vrec {
    char sid[160];
    int64_t seq;
    char packId[64];
} vrec;

static int cmp_vrec(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    int c = strcmp(x->sid, y->sid);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

typedef struct pid64 {
    char s[64];
} pid64;

static int cmp_pid(const void *a, const void *b)
{
    return strcmp(((const pid64 *)a)->s, ((const pid64 *)b)->s);
}

static int verify(void)
{
    FILE *f = fopen(opt.verify, "r");
    if (!f)
        die("cannot open the record file");
    size_t n = 0, cap = 1024;
    vrec *v = malloc(cap * sizeof *v);
    while (v && fscanf(f, "%159s %" SCNd64 " %63s", v[n].sid, &v[n].seq, v[n].packId) == 3) {
        if (++n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
    }
    fclose(f);
    if (!v)
        die("out of memory");
    qsort(v, n, sizeof *v, cmp_vrec);
    int bad = 0;
    size_t sessions = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(v[j].sid, v[i].sid) == 0)
            j++;
        sessions++;
        /* log in as the session's first user ("SC_<a>_<b>") */
        char user[64];
        const char *s = v[i].sid + 3;
        const char *us = strchr(s, '_');
        snprintf(user, sizeof user, "%.*s", (int)(us ? us - s : 0), s);
        omtp_sync *c = NULL;
        int code = -1;
        if (omtp_sync_connect(&c, opt.host, opt.port, 5000) != 0 ||
            omtp_sync_login(c, user, user, DEVICE_WINDOWS, NULL, &code) != 0 || code != 0)
            die("verify: login failed");
        /* the whole history, newest first, in pages */
        int64_t next = 0, expect = -1;
        size_t k = j; /* records of this session, walked from the newest */
        pid64 *seen = NULL;
        size_t nseen = 0;
        for (;;) {
            omtp_HistoryMsgPullResp h;
            if (omtp_sync_history(c, v[i].sid, next, 200, &h) != 0 || h.errorCode.code != 0)
                die("verify: history failed");
            if (h.msgs.n == 0) {
                omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
                break;
            }
            for (uint32_t m = 0; m < h.msgs.n; m++) {
                omtp_MsgReq q;
                tars_decode(&omtp_MsgReq_desc, &q, h.msgs.items[m].payload.data,
                            h.msgs.items[m].payload.len, NULL);
                if (expect < 0)
                    expect = q.seqId;
                if (q.seqId != expect) {
                    fprintf(stderr, "%s: seq %" PRId64 " where %" PRId64 " expected\n", v[i].sid,
                            q.seqId, expect);
                    bad++;
                }
                expect = q.seqId - 1;
                while (k > i && v[k - 1].seq > q.seqId) {
                    fprintf(stderr, "%s: acked seq %" PRId64 " missing\n", v[i].sid, v[k - 1].seq);
                    bad++;
                    k--;
                }
                if (k > i && v[k - 1].seq == q.seqId) {
                    if (!tars_str_eq(&h.msgs.items[m].header.packId, v[k - 1].packId)) {
                        fprintf(stderr, "%s: seq %" PRId64 " has packId %s, acked %s\n", v[i].sid,
                                q.seqId, h.msgs.items[m].header.packId.data, v[k - 1].packId);
                        bad++;
                    }
                    k--;
                }
                next = q.seqId - 1;
                omtp_msg_free(&omtp_MsgReq_desc, &q);
                if (!(nseen & (nseen + 1)) &&
                    !(seen = realloc(seen, (2 * nseen + 2) * sizeof *seen)))
                    die("out of memory");
                snprintf(seen[nseen++].s, sizeof seen->s, "%s", h.msgs.items[m].header.packId.data);
            }
            omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
            if (next <= 0)
                break;
        }
        if (expect != 0 && expect != -1) {
            fprintf(stderr, "%s: history does not reach seq 1\n", v[i].sid);
            bad++;
        }
        while (k > i) {
            fprintf(stderr, "%s: acked seq %" PRId64 " missing\n", v[i].sid, v[k - 1].seq);
            bad++;
            k--;
        }
        qsort(seen, nseen, sizeof *seen, cmp_pid);
        for (size_t x = 1; x < nseen; x++)
            if (strcmp(seen[x].s, seen[x - 1].s) == 0) {
                fprintf(stderr, "%s: packId %s stored twice\n", v[i].sid, seen[x].s);
                bad++;
            }
        free(seen);
        omtp_sync_close(c);
        i = j;
    }
    printf("verify: %zu acked messages in %zu sessions, %d problems\n", n, sessions, bad);
    free(v);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},   {"pairs", 1, 0, 'n'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'}, {"window", 1, 0, 'W'},
        {"rate", 1, 0, 'r'},     {"size", 1, 0, 's'},   {"prefix", 1, 0, 'P'},
        {"record", 1, 0, 'R'},   {"verify", 1, 0, 'V'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'n':
            opt.pairs = atoi(optarg);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'W':
            opt.window = atoi(optarg);
            break;
        case 'r':
            opt.rate = atof(optarg);
            break;
        case 's':
            opt.size = atoi(optarg);
            break;
        case 'P':
            opt.prefix = optarg;
            break;
        case 'R':
            opt.record = optarg;
            break;
        case 'V':
            opt.verify = optarg;
            break;
        default:
            fprintf(stderr, "usage: see the comment at the top of bench/chat_e2e.c\n");
            return 2;
        }
    }
    if (opt.port <= 0 || opt.pairs <= 0 || opt.window <= 0 || opt.window > MAX_INFLIGHT)
        die("need --port, and --pairs/--window > 0");
    if (opt.verify)
        return verify();
    if (opt.record && !(rec = fopen(opt.record, "a")))
        die("cannot open the record file");

    signal(SIGPIPE, SIG_IGN); /* a killed server must not kill the driver */
    loop = uv_default_loop();
    run_nonce = uv_hrtime() ^ ((uint64_t)getpid() << 32);
    nconns = 2 * opt.pairs;
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns)
        die("out of memory");
    struct sockaddr_in sa;
    if (uv_ip4_addr(opt.host, opt.port, &sa) != 0)
        die("bad --host");
    for (int i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        c->idx = i;
        c->sender = i % 2 == 0;
        snprintf(c->user, sizeof c->user, "%s%d", opt.prefix, i);
        snprintf(c->peer, sizeof c->peer, "%s%d", opt.prefix, i ^ 1);
        c->q = calloc(MAX_INFLIGHT, sizeof *c->q);
        omtp_frame_reader_init(&c->rd, OMTP_DEFAULT_MAX_FRAME);
        uv_tcp_init(loop, &c->tcp);
        uv_tcp_nodelay(&c->tcp, 1);
        c->tcp.data = c;
        c->creq.data = c;
        if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa, on_connect) != 0)
            die("connect failed");
    }
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);

    double secs = opt.duration;
    uint64_t now = uv_hrtime();
    if (t_end && now < t_end && now > t_measure) /* ended early (server killed) */
        secs = (double)(now - t_measure) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmpu32);
    printf("pairs=%d window=%d rate=%.0f size=%d duration=%.1fs: sent=%" PRIu64 " acked=%" PRIu64
           " delivered=%" PRIu64 " errors=%" PRIu64 "\n",
           opt.pairs, opt.window, opt.rate, opt.size, secs, sent, acked, delivered, errors);
    printf("throughput %.0f msg/s delivered; latency ms p50 %.3f p99 %.3f p999 %.3f max %.3f\n",
           secs > 0 ? (double)delivered_measured / secs : 0, pct(0.5), pct(0.99), pct(0.999),
           pct(1.0));
    if (rec)
        fclose(rec);
    for (int i = 0; i < nconns; i++)
        free(conns[i].q);
    free(conns);
    free(lat);
    uv_loop_close(loop);
    return acked > 0 ? 0 : 1;
}
