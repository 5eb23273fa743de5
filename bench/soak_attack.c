/*
 * soak_attack.c - the attack campaign's mixed load, for bench/soak-attack.sh
 * (never run in CI). One process, one epoll loop, every connection
 * non-blocking; a closed connection is reopened at once, so each kind keeps
 * its count for the whole run:
 *
 *   --idle N       connections that never send a byte
 *   --tricklers N  pre-login connections that announce a frame (1 MiB or
 *                  15,000 bytes, alternately) and send one byte a second
 *   --http-slow N  HTTP connections sending half a header, a byte a second
 *   --guessers N   connections sending LOGIN with wrong passwords (for
 *                  --guess-user), one after the other reply
 *   --big N        N pairs of logged-in users (atk0..atk2N-1, password
 *                  "atk"): the sender sends 32,000-byte messages to its
 *                  receiver 5 times a second; the receiver never reads, so
 *                  the server's output to it piles up (big replies); it
 *                  starts over every 30 s
 *
 * Attack connections come from 127.0.0.2 .. 127.0.0.(1 + --addrs) in turn
 * (every 127.x address is this machine), so per-address limits see a
 * spread of sources and the legitimate load (127.0.0.1) its own address.
 * Every 10 s it prints one line: connections opened per kind so far.
 *
 * usage: soak_attack --server HOST:PORT --http HOST:PORT --duration S [...]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/omtp_msg.h"
#include "proto/omtp_packet.h"
#include "proto/omtp_proto.h"

enum kind { K_IDLE, K_TRICKLE, K_HTTP, K_GUESS, K_BIG_TX, K_BIG_RX, K_N };
static const char *const kind_names[K_N] = {"idle",  "trickle", "http-slow",
                                            "guess", "big-tx",  "big-rx"};

struct slot {
    int fd;
    int kind;
    int idx;         /* user index for big pairs */
    int64_t next_ms; /* next action */
    uint32_t sent;   /* trickle: body bytes sent */
    bool logged;     /* big: LOGIN sent */
    bool waiting;    /* guess: a LOGIN is unanswered */
};

static struct sockaddr_in srv_omtp, srv_http;
static int addrs = 50, next_addr;
static int ep;
static uint64_t opened[K_N];
static const char *guess_user = "bench0";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *hp, struct sockaddr_in *a)
{
    char host[64];
    const char *c = strrchr(hp, ':');
    if (!c || (size_t)(c - hp) >= sizeof(host))
        return -1;
    memcpy(host, hp, (size_t)(c - hp));
    host[c - hp] = 0;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(c + 1));
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static void send_all(struct slot *s, const void *p, size_t n)
{
    if (s->fd >= 0)
        (void)!send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void send_frame(struct slot *s, int type, const tars_struct_desc *d, const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    char id[40];
    omtp_uuid(id);
    if (omtp_packet_encode(&b, type, 0, id, d, body, NULL, 0) == 0)
        send_all(s, b.data, b.len);
    tars_buf_free(&b);
}

static void send_login(struct slot *s, const char *user, const char *pw)
{
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, user);
    tars_str_set(&lr.userName, user);
    tars_str_set(&lr.password, pw);
    tars_str_set(&lr.deviceId, "soak");
    lr.deviceType = 1;
    send_frame(s, PT_LOGIN, &omtp_LoginReq_desc, &lr);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
}

static void slot_open(struct slot *s)
{
    int64_t now = now_ms();
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0) {
        s->next_ms = now + 1000; /* out of descriptors here: retry later */
        return;
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    char ip[32];
    snprintf(ip, sizeof(ip), "127.0.0.%d", 2 + next_addr++ % addrs);
    inet_pton(AF_INET, ip, &src.sin_addr);
    bind(s->fd, (struct sockaddr *)&src, sizeof(src));
    const struct sockaddr_in *dst = s->kind == K_HTTP ? &srv_http : &srv_omtp;
    if (connect(s->fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0 && errno != EINPROGRESS) {
        close(s->fd);
        s->fd = -1;
        s->next_ms = now + 200;
        return;
    }
    /* a big receiver never reads: watching EPOLLIN would wake us forever */
    struct epoll_event ev = {.events = (s->kind == K_BIG_RX ? 0u : (uint32_t)EPOLLIN) | EPOLLRDHUP,
                             .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    opened[s->kind]++;
    s->sent = 0;
    s->logged = s->waiting = false;
    s->next_ms = now + 50; /* first action once connected */
}

static void slot_close(struct slot *s)
{
    if (s->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->next_ms = now_ms() + 20;
}

/* Time-driven actions of one connection. */
static void slot_act(struct slot *s, int64_t now)
{
    char user[32];
    if (s->fd < 0) {
        slot_open(s);
        return;
    }
    switch (s->kind) {
    case K_IDLE:
        s->next_ms = now + 3600 * 1000;
        break;
    case K_TRICKLE:
        if (s->sent == 0) {
            uint32_t len = (opened[K_TRICKLE] & 1) ? 1u << 20 : 15000;
            uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                            (uint8_t)len};
            send_all(s, h, 4);
        }
        send_all(s, "z", 1);
        s->sent++;
        s->next_ms = now + 1000;
        break;
    case K_HTTP:
        if (s->sent == 0) {
            static const char half[] = "GET /healthz HTTP/1.1\r\nHost: soak\r\nX-Slow: ";
            send_all(s, half, sizeof(half) - 1);
        }
        send_all(s, "a", 1);
        s->sent++;
        s->next_ms = now + 1000;
        break;
    case K_GUESS:
        if (!s->waiting) {
            char pw[32];
            snprintf(pw, sizeof(pw), "guess%u", (unsigned)rand());
            send_login(s, guess_user, pw);
            s->waiting = true;
        }
        s->next_ms = now + 5000; /* or at the reply */
        break;
    case K_BIG_RX:
        if (!s->logged) {
            snprintf(user, sizeof(user), "atk%d", 2 * s->idx + 1);
            send_login(s, user, "atk");
            s->logged = true;
            s->next_ms = now + 30000;
            break;
        }
        /* a closed non-reader may never see the close (its window is
         * full): start over every 30 s */
        slot_close(s);
        break;
    case K_BIG_TX:
        if (!s->logged) {
            snprintf(user, sizeof(user), "atk%d", 2 * s->idx);
            send_login(s, user, "atk");
            s->logged = true;
            s->next_ms = now + 500;
            break;
        }
        {
            static char content[32001];
            if (!content[0])
                memset(content, 'x', sizeof(content) - 1);
            omtp_MsgReq m;
            omtp_msg_init(&omtp_MsgReq_desc, &m);
            snprintf(user, sizeof(user), "atk%d", 2 * s->idx + 1);
            tars_str_set(&m.to, user);
            tars_str_set(&m.content, content);
            send_frame(s, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m);
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        s->next_ms = now + 200;
        break;
    }
}

/* Input on one connection: replies are read (and dropped) except by the
 * big receivers; the end of the stream reopens it. */
static void slot_input(struct slot *s, uint32_t events)
{
    if (s->kind == K_BIG_RX && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        return; /* never reads: that is the attack */
    char buf[65536];
    for (;;) {
        ssize_t k = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k > 0) {
            if (s->kind == K_GUESS) {
                s->waiting = false;
                s->next_ms = now_ms();
            }
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        slot_close(s); /* closed by the server (or reset) */
        return;
    }
}

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    int n[K_N] = {0};
    int duration = 60;
    const char *server = "127.0.0.1:9000", *http = NULL;
    static const struct option opts[] = {{"server", 1, 0, 's'},
                                         {"http", 1, 0, 'h'},
                                         {"duration", 1, 0, 'd'},
                                         {"idle", 1, 0, 'i'},
                                         {"tricklers", 1, 0, 't'},
                                         {"http-slow", 1, 0, 'w'},
                                         {"guessers", 1, 0, 'g'},
                                         {"guess-user", 1, 0, 'u'},
                                         {"big", 1, 0, 'b'},
                                         {"addrs", 1, 0, 'a'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            server = optarg;
            break;
        case 'h':
            http = optarg;
            break;
        case 'd':
            duration = atoi(optarg);
            break;
        case 'i':
            n[K_IDLE] = atoi(optarg);
            break;
        case 't':
            n[K_TRICKLE] = atoi(optarg);
            break;
        case 'w':
            n[K_HTTP] = atoi(optarg);
            break;
        case 'g':
            n[K_GUESS] = atoi(optarg);
            break;
        case 'u':
            guess_user = optarg;
            break;
        case 'b':
            n[K_BIG_TX] = n[K_BIG_RX] = atoi(optarg);
            break;
        case 'a':
            addrs = atoi(optarg) > 0 ? atoi(optarg) : 1;
            break;
        default:
            fprintf(stderr, "usage: soak_attack --server H:P --http H:P --duration S [--idle N] "
                            "[--tricklers N] [--http-slow N] [--guessers N] [--guess-user U] "
                            "[--big PAIRS] [--addrs K]\n");
            return 2;
        }
    }
    if (parse_addr(server, &srv_omtp) || (http && parse_addr(http, &srv_http))) {
        fprintf(stderr, "soak_attack: --server/--http must be IPv4 HOST:PORT\n");
        return 2;
    }
    if (!http)
        n[K_HTTP] = 0;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    ep = epoll_create1(0);
    int total = 0;
    for (int k = 0; k < K_N; k++)
        total += n[k];
    struct slot *slots = calloc((size_t)total + 1, sizeof(*slots));
    int m = 0;
    for (int k = 0; k < K_N; k++)
        for (int i = 0; i < n[k]; i++) {
            slots[m].fd = -1;
            slots[m].kind = k;
            slots[m].idx = i;
            slots[m].next_ms = 0;
            m++;
        }
    int64_t end = now_ms() + (int64_t)duration * 1000, report = now_ms() + 10000;
    struct epoll_event evs[256];
    int64_t scanned = 0;
    while (!stop && now_ms() < end) {
        int ne = epoll_wait(ep, evs, 256, 50);
        for (int e = 0; e < ne; e++)
            slot_input(evs[e].data.ptr, evs[e].events);
        int64_t now = now_ms();
        if (now - scanned < 10)
            continue; /* timed actions: a pass over every slot at most every 10 ms */
        scanned = now;
        for (int i = 0; i < m; i++)
            if (slots[i].next_ms <= now)
                slot_act(&slots[i], now);
        if (now >= report) {
            report = now + 10000;
            printf("attack: opened");
            for (int k = 0; k < K_N; k++)
                printf(" %s=%llu", kind_names[k], (unsigned long long)opened[k]);
            printf("\n");
            fflush(stdout);
        }
    }
    for (int i = 0; i < m; i++)
        if (slots[i].fd >= 0)
            close(slots[i].fd);
    printf("attack: done; opened");
    for (int k = 0; k < K_N; k++)
        printf(" %s=%llu", kind_names[k], (unsigned long long)opened[k]);
    printf("\n");
    free(slots);
    return 0;
}
