/*
 * fuzz_server.c - a protocol-aware fuzzer against a live omtpd.
 *
 *   fuzz_server --port P --prefix fz --users 6 --password pw
 *               [--seed S] [--seconds 20] [--aes HEX]
 *
 * Logs in `users` clients (prefix0..), keeps a few connections that never
 * log in, and for `seconds` sends random mutations of valid packets of
 * every type: structs filled with hostile values (empty/long ids, NUL
 * bytes, extreme integers, big lists), then bit flips, truncation, splicing
 * of two frames, a lying 4-byte length prefix, random header type/flags and
 * transform bits (zlib, AES with the right or a wrong key); written in one
 * piece, byte by byte (a slow dribble), or many frames per write. Closed
 * connections are reopened (and logged in again). Server output is read and
 * thrown away, except for one connection that never reads (a slow reader).
 *
 * At the end a fresh client must log in, get a PING answered, send a
 * message and find it in history. Exit 0 when so, 1 otherwise. The seed is
 * printed first: rerun with --seed to reproduce the same input sequence.
 * Single thread, poll(2); bounded by --seconds plus a few seconds of checks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/omtp_sync.h"
#include "sample_msg.h"
#include "proto/omtp_packet.h"

#define MAXC 16

static uint64_t rng;
static int port;
static const char *prefix = "fz";
static const char *password = "pw";
static int nusers = 6;
static omtp_crypto_key key, badkey;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static uint32_t below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ values */

static void rand_str(tars_str *s, bool id)
{
    char buf[300];
    switch (below(id ? 10 : 8)) {
    case 0:
        tars_str_set(s, "");
        return;
    case 1: {
        size_t n = 129 + below(150);
        memset(buf, 'x', n);
        tars_str_setn(s, buf, n);
        return;
    }
    case 2:
        tars_str_setn(s, "fz0\0evil", 8);
        return;
    case 3:
        tars_str_setn(s, "\xff\xfe\xc3(", 4);
        return;
    case 4:
        snprintf(buf, sizeof(buf), "SC_%s%u_%s%u", prefix, below((uint32_t)nusers), prefix,
                 below((uint32_t)nusers));
        tars_str_set(s, buf);
        return;
    case 5:
        snprintf(buf, sizeof(buf), "GC_fuzz%u", below(4));
        tars_str_set(s, buf);
        return;
    default:
        snprintf(buf, sizeof(buf), "%s%u", prefix, below((uint32_t)nusers + 1));
        tars_str_set(s, buf);
        return;
    }
}

static int64_t rand_int(int64_t lo, int64_t hi)
{
    switch (below(8)) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return lo;
    case 3:
        return hi;
    case 4:
        return 1 + below(5);
    default:
        return (int64_t)(rnd() % 1000) - 10;
    }
}

static void fill_value(void *ctx, const tars_field *f, int kind, void *p)
{
    (void)ctx;
    if (kind != f->kind) { /* a string list element: an id */
        if (kind == TK_STR)
            rand_str(p, true);
        return;
    }
    bool id = strstr(f->name, "Id") || !strcmp(f->name, "to") || !strcmp(f->name, "from");
    if (kind == TK_STR) {
        if (!strcmp(f->name, "content") || !strcmp(f->name, "name"))
            tars_str_set((tars_str *)p, below(4) ? "fuzz content" : "");
        else
            rand_str((tars_str *)p, id);
    } else if (kind == TK_BYTES) {
        uint8_t b[32];
        for (size_t k = 0; k < sizeof(b); k++)
            b[k] = (uint8_t)rnd();
        tars_bytes_set((tars_bytes *)p, b, below(sizeof(b)));
    }
}

static int64_t fill_integer(void *ctx, const tars_field *f)
{
    (void)ctx;
    switch (f->kind) {
    case TK_BOOL:
        return below(2);
    case TK_I8:
        return rand_int(INT8_MIN, INT8_MAX);
    case TK_I16:
        return rand_int(INT16_MIN, INT16_MAX);
    case TK_I32:
        return rand_int(INT32_MIN, INT32_MAX);
    default:
        return rand_int(INT64_MIN, INT64_MAX);
    }
}

static uint32_t fill_count(void *ctx, const tars_field *f, int depth)
{
    (void)ctx;
    if (f->kind == TK_LIST_STR)
        return below(10) == 0 ? 2000 : below(4);
    if (f->kind == TK_LIST_STRUCT)
        return depth > 2 ? 0 : below(10) == 0 ? 300 : below(3);
    return 0;
}

static void fill(const tars_struct_desc *d, void *obj, int depth)
{
    const sample_ops ops = {fill_integer, fill_value, fill_count, NULL};
    sample_fill(d, obj, &ops, depth);
}

static const int types[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 40, 41,
                            42, 43, 44, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57, 58, 0, 9, 26, 39,
                            48, 59, 32767, -1,
                            /* extensions (omtp-ext.tars): presence, typing, readers; 106 unknown */
                            100, 101, 102, 105, 106};
#define NTYPES (int)(sizeof(types) / sizeof(types[0]))

/* A valid frame of a random type (request struct filled with hostile values). */
static void valid_frame(tars_buf *out, bool logged_in)
{
    int type = types[below(NTYPES)];
    if (type == PT_LOGOUT && below(4))
        type = PT_PING; /* logging out ends the connection: not too often */
    if (type == PT_LOGIN && logged_in && below(2))
        type = PT_MSG_SINGLE_CHAT;
    int64_t flags = 0;
    if (below(10) == 0)
        flags |= OMTP_F_ACK;
    if (below(8) == 0)
        flags |= OMTP_F_DUP | OMTP_F_HIGHPRJ;
    int compress = below(4) == 0 ? 1 : 0, crypto = below(5) == 0 ? 1 : 0;
    flags = omtp_flags_with(flags, compress, crypto);
    const tars_struct_desc *d = omtp_payload_desc(type, (flags & OMTP_F_ACK) != 0, NULL);
    void *body = NULL;
    if (d && below(12)) {
        body = calloc(1, d->size);
        fill(d, body, 0);
    }
    char id[40];
    if (below(6) == 0)
        snprintf(id, sizeof(id), "dup-%u", below(8)); /* exercise dedup */
    else
        omtp_uuid(id);
    const omtp_crypto_key *k = below(6) == 0 ? &badkey : &key;
    if (omtp_packet_encode(out, type, flags, id, body ? d : NULL, body, k, 0) != 0)
        omtp_packet_encode(out, PT_PING, 0, id, NULL, NULL, NULL, 0);
    if (body) {
        tars_free(d, body);
        free(body);
    }
}

/* Mutates the frame that starts at `start` of out. */
static void mutate(tars_buf *out, size_t start)
{
    size_t len = out->len - start;
    uint8_t *f = out->data + start;
    switch (below(10)) {
    case 0: /* bit flips in the body */
        for (uint32_t i = 0, n = 1 + below(4); i < n && len > 4; i++)
            f[4 + below((uint32_t)len - 4)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* truncate the body, keep the length honest */
        if (len > 5) {
            size_t n = 4 + below((uint32_t)len - 4);
            out->len = start + n;
            f[0] = (uint8_t)(n >> 24), f[1] = (uint8_t)(n >> 16), f[2] = (uint8_t)(n >> 8),
            f[3] = (uint8_t)n;
        }
        break;
    case 2: { /* a lying length prefix */
        uint32_t v;
        switch (below(5)) {
        case 0:
            v = 0;
            break;
        case 1:
            v = 3;
            break;
        case 2:
            v = 0xffffffffu;
            break;
        case 3:
            v = (uint32_t)len + 1 + below(64); /* waits for bytes that are the next frame */
            break;
        default:
            v = (uint32_t)len > 6 ? (uint32_t)len - 1 - below(3) : 4;
            break;
        }
        f[0] = (uint8_t)(v >> 24), f[1] = (uint8_t)(v >> 16), f[2] = (uint8_t)(v >> 8),
        f[3] = (uint8_t)v;
        break;
    }
    case 3: /* random bytes overwrite a stretch */
        for (size_t i = 4 + below((uint32_t)len); i < len && below(8); i++)
            f[i] = (uint8_t)rnd();
        break;
    default: /* left valid */
        break;
    }
}

/* ------------------------------------------------------------ connections */

typedef struct fconn {
    int fd;
    bool logged_in;
    bool want_login;
    bool never_reads;
    int user;
    int dev;
    uint8_t *pend; /* bytes being dribbled */
    size_t pend_len, pend_off;
} fconn;

static fconn conns[MAXC];
static int nconns;
static unsigned long stat_frames, stat_reconnects, stat_bytes;

static int tcp_connect(bool small_rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (small_rcvbuf) {
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void conn_open(fconn *c)
{
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    c->fd = tcp_connect(c->never_reads);
    c->logged_in = false;
    stat_reconnects++;
    if (c->fd >= 0 && c->want_login) {
        /* log in: the reply is read and dropped with everything else */
        omtp_LoginReq lr;
        omtp_msg_init(&omtp_LoginReq_desc, &lr);
        char u[64];
        snprintf(u, sizeof(u), "%s%d", prefix, c->user);
        tars_str_set(&lr.clientId, u);
        tars_str_set(&lr.userName, u);
        tars_str_set(&lr.password, password);
        tars_str_set(&lr.deviceId, "fuzz");
        lr.deviceType = c->dev;
        tars_buf b;
        tars_buf_init(&b);
        omtp_packet_encode(&b, PT_LOGIN, 0, "fuzz-login", &omtp_LoginReq_desc, &lr, NULL, 0);
        if (send(c->fd, b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len)
            c->logged_in = true; /* optimistic: requests pipelined behind it */
        tars_buf_free(&b);
        omtp_msg_free(&omtp_LoginReq_desc, &lr);
    }
}

static void conn_drop(fconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Sends what it can without blocking; false if the connection is gone. */
static bool conn_write(fconn *c, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            stat_bytes += (size_t)k;
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT | POLLIN};
            poll(&pf, 1, 50);
            if (!c->never_reads && (pf.revents & POLLIN)) {
                uint8_t sink[65536];
                ssize_t r = recv(c->fd, sink, sizeof(sink), 0);
                if (r == 0)
                    return false;
            }
            if (pf.revents & (POLLERR | POLLHUP))
                return false;
            if (c->never_reads && !(pf.revents & POLLOUT))
                return true; /* a slow reader may get stuck: drop the rest */
            continue;
        }
        return false;
    }
    return true;
}

static void drain_all(void)
{
    struct pollfd pf[MAXC];
    for (int i = 0; i < nconns; i++) {
        pf[i].fd = conns[i].never_reads ? -1 : conns[i].fd;
        pf[i].events = POLLIN;
        pf[i].revents = 0;
    }
    if (poll(pf, (nfds_t)nconns, 0) <= 0)
        return;
    for (int i = 0; i < nconns; i++) {
        if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        uint8_t sink[65536];
        ssize_t r;
        while ((r = recv(conns[i].fd, sink, sizeof(sink), 0)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            conn_drop(&conns[i]);
            conn_open(&conns[i]);
        }
    }
}

static void step(void)
{
    fconn *c = &conns[below((uint32_t)nconns)];
    if (c->fd < 0) {
        conn_open(c);
        if (c->fd < 0)
            return;
    }
    if (c->pend) { /* continue a dribble: a few bytes at a time */
        size_t n = 1 + below(3);
        if (n > c->pend_len - c->pend_off)
            n = c->pend_len - c->pend_off;
        if (!conn_write(c, c->pend + c->pend_off, n)) {
            conn_drop(c);
            return;
        }
        c->pend_off += n;
        if (c->pend_off == c->pend_len) {
            free(c->pend);
            c->pend = NULL;
        }
        return;
    }
    tars_buf out;
    tars_buf_init(&out);
    uint32_t nframes = below(6) == 0 ? 2 + below(30) : 1;
    for (uint32_t i = 0; i < nframes; i++) {
        size_t start = out.len;
        valid_frame(&out, c->logged_in);
        if (below(3) == 0)
            mutate(&out, start);
        stat_frames++;
    }
    if (below(12) == 0 && out.len > 8) { /* splice: cut and glue a stray piece on */
        size_t cut = below((uint32_t)out.len);
        uint8_t piece[40];
        size_t n = out.len - cut > sizeof(piece) ? sizeof(piece) : out.len - cut;
        memcpy(piece, out.data + cut, n); /* tars_buf_put may move out.data */
        tars_buf_put(&out, piece, n);
    }
    if (below(10) == 0) { /* dribble it */
        c->pend = malloc(out.len);
        memcpy(c->pend, out.data, out.len);
        c->pend_len = out.len;
        c->pend_off = 0;
    } else if (!conn_write(c, out.data, out.len)) {
        conn_drop(c);
    }
    tars_buf_free(&out);
}

/* ------------------------------------------------------------ final check */

static int final_check(void)
{
    omtp_sync *s;
    if (omtp_sync_connect(&s, "127.0.0.1", port, 5000)) {
        fprintf(stderr, "fuzz_server: cannot connect after fuzzing\n");
        return 1;
    }
    char u0[64], u1[64];
    snprintf(u0, sizeof(u0), "%s0", prefix);
    snprintf(u1, sizeof(u1), "%s1", prefix);
    int code = -1;
    int rc = omtp_sync_login(s, u0, password, DEVICE_LINUX, "final", &code);
    if (rc || code) {
        fprintf(stderr, "fuzz_server: final login: rc %d code %d\n", rc, code);
        omtp_sync_close(s);
        return 1;
    }
    if (omtp_sync_ping(s)) {
        fprintf(stderr, "fuzz_server: final PING not answered\n");
        omtp_sync_close(s);
        return 1;
    }
    omtp_MsgAck ack;
    rc = omtp_sync_chat(s, u1, "after the fuzz", &ack);
    if (rc || ack.code || ack.seqId <= 0) {
        fprintf(stderr, "fuzz_server: final send: rc %d code %d\n", rc, rc ? -1 : ack.code);
        omtp_sync_close(s);
        return 1;
    }
    omtp_HistoryMsgPullResp h;
    rc = omtp_sync_history(s, ack.sessionId.data, ack.seqId, 1, &h);
    int ok = rc == 0 && h.errorCode.code == 0 && h.msgs.n == 1;
    if (rc == 0)
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_sync_close(s);
    if (!ok) {
        fprintf(stderr, "fuzz_server: the final message is not in history\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int seconds = 20;
    const char *aes = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            rng = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefix"))
            prefix = argv[i + 1];
        else if (!strcmp(argv[i], "--users"))
            nusers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--password"))
            password = argv[i + 1];
        else if (!strcmp(argv[i], "--aes"))
            aes = argv[i + 1];
        else {
            fprintf(stderr, "fuzz_server: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!port || nusers < 2 || nusers > MAXC - 4) {
        fprintf(stderr, "usage: fuzz_server --port P [--seed S] [--seconds N] [--prefix fz] "
                        "[--users 2..12] [--password pw] [--aes HEX]\n");
        return 2;
    }
    if (!rng)
        rng = 1;
    printf("fuzz_server: seed 0x%llx (rerun with --seed 0x%llx)\n", (unsigned long long)rng,
           (unsigned long long)rng);
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    omtp_crypto_key_from_hex(&key, aes);
    memset(badkey.key, 0xee, sizeof(badkey.key));
    badkey.set = true;

    /* logged-in clients (one of them never reads), and three that never log in */
    for (int i = 0; i < nusers; i++) {
        conns[nconns] = (fconn){.fd = -1, .want_login = true, .user = i, .dev = 1 + i % 5};
        conns[nconns].never_reads = i == nusers - 1;
        nconns++;
    }
    for (int i = 0; i < 3; i++)
        conns[nconns++] = (fconn){.fd = -1, .user = i};
    for (int i = 0; i < nconns; i++)
        conn_open(&conns[i]);

    int64_t end = now_ms() + (int64_t)seconds * 1000;
    while (now_ms() < end) {
        for (int k = 0; k < 20; k++)
            step();
        drain_all();
    }
    for (int i = 0; i < nconns; i++) {
        conn_drop(&conns[i]);
        free(conns[i].pend);
    }
    printf("fuzz_server: %lu frames, %lu bytes, %lu (re)connects in %d s\n", stat_frames,
           stat_bytes, stat_reconnects, seconds);
    int rc = final_check();
    printf("fuzz_server: %s\n", rc ? "FAILED" : "server alive and correct");
    return rc;
}
