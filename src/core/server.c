/*
 * server.c - the omtpd server: listeners, presence table, timer wheel,
 * login throttle, graceful shutdown.
 *
 * Presence: a chained hash table userId -> first device connection; a
 * user's devices are linked through omtp_conn.next_device, buckets through
 * the connection's bucket_next. No allocation per user beyond the bucket
 * array (which doubles when users outnumber buckets).
 *
 * Timers: a hashed timer wheel of WHEEL_SLOTS slots of TICK_MS, driven by
 * ONE uv_timer. A connection sits in the slot of its deadline; activity only
 * updates a timestamp (no list operation per packet). When a slot comes due
 * each connection in it either expires or is re-filed under its real,
 * later deadline. Cost: O(1) per connection per deadline, two pointers and
 * an int of memory per connection, and deadlines accurate to TICK_MS.
 *
 * Accept batching: at most ACCEPT_BATCH connections per listener per loop
 * iteration (on_conn), the rest on the next one, so a connection flood
 * cannot stall the loop nor shed connections before their LOGIN is read.
 * Admission itself (per-address counts, descriptor budget) is guard.c's.
 *
 * Login throttle: a direct-mapped table of LOGIN_FAIL_SLOTS addresses with
 * their recent failure count; a login from an address with failures in the
 * last minute waits failures x login_fail_delay_ms (capped) first. Bounded
 * memory whatever the number of attacking addresses (collisions forget).
 *
 * Shutdown (SIGINT/SIGTERM): stop accepting, stop reading, close the store
 * (which runs and commits everything queued and calls the completions, so
 * every request in flight is answered), then close connections after their
 * output flushed (5 s cap), then leave the loop: exit 0. The whole of it is
 * bounded by shutdown_timeout_s: the store commits what it can in 3/4 of it
 * and completes the rest as failed (never acknowledged, logged); a
 * watchdog exits when flushing runs over.
 *
 * Parts: what runs above the core (handlers, cluster, HTTP API, webhooks,
 * group state, retention) is started, ticked and stopped through the parts
 * table main.c hands to init (server.h, "parts"); this file includes none
 * of it.
 */
#include "core.h"
#include "login_guard.h"
#include "guard.h"
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The TLS 1.2 suites offered when tls_ciphers is empty: ECDHE key exchange
 * (forward secrecy) with an AEAD cipher (GCM or ChaCha20-Poly1305). */
#define OMTP_TLS_CIPHERS_DEFAULT "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

#define TICK_MS          250
#define WHEEL_SLOTS      512
#define LOGIN_FAIL_SLOTS 1024
#define LOGIN_FAIL_MAX   10
#define LOGIN_FAIL_WIN   60000
#define ACCEPT_BATCH     64 /* connections accepted per listener per loop iteration */

struct fail_entry {
    char ip[48];
    uint32_t fails;
    uint64_t last_ms;
};

struct omtp_server_impl {
    uv_tcp_t listener, tls_listener;
    bool listening, tls_listening;
    uv_tcp_t ws_listener, wss_listener; /* ws_listen, wss_listen (transport_ws.c) */
    bool ws_listening, wss_listening;
    SSL_CTX *ssl_ctx;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick;
    uv_timer_t shutdown_watchdog; /* shutdown_timeout_s (omtp_server_stop) */
    bool watchdog_started;
    uv_check_t flush_check;     /* writes collected output after I/O callbacks */
    uv_prepare_t flush_prepare; /* ... and before the loop blocks (timers, idle) */
    omtp_conn *flush_list;      /* connections with collected output (conn.c) */
    bool handles_closed;
    omtp_conn *slots[WHEEL_SLOTS];
    uint64_t wheel_tick; /* last tick processed */
    omtp_conn **buckets;
    size_t nbuckets, nusers;
    omtp_conn *all; /* every open connection */
    struct fail_entry fails[LOGIN_FAIL_SLOTS];
    const omtp_server_part *parts; /* omtp_server_init's table (borrowed) */
    size_t nparts;
    bool part_started[OMTP_SERVER_PARTS_MAX];
    int port; /* bound client port */
    /* accept batching (on_conn): accepts this iteration, per listener (by
     * transport kind, transport.h), and whether one waits for the next
     * iteration */
    unsigned accepts[OMTP_TP_KINDS];
    bool accept_deferred[OMTP_TP_KINDS];
};

SSL_CTX *omtp_server_ssl_ctx(omtp_server *s)
{
    return s->impl->ssl_ctx;
}

omtp_conn **omtp_server_flush_list(omtp_server *s)
{
    return &s->impl->flush_list;
}

static void on_flush_check(uv_check_t *h)
{
    omtp_conn_flush_all(h->data);
}

static void resume_accepts(omtp_server *s);

static void on_flush_prepare(uv_prepare_t *h)
{
    omtp_conn_flush_all(h->data);
    resume_accepts(h->data); /* before the loop polls again */
}

/* ------------------------------------------------------------ timer wheel */

void omtp_wheel_insert(omtp_server *s, omtp_conn *c, uint64_t deadline_ms)
{
    struct omtp_server_impl *im = s->impl;
    uint64_t t = deadline_ms / TICK_MS;
    if (t <= im->wheel_tick)
        t = im->wheel_tick + 1;
    int slot = (int)(t % WHEEL_SLOTS);
    struct omtp_conn_link *l = omtp_conn_wheel_link(c);
    l->prev = NULL;
    l->next = im->slots[slot];
    if (l->next)
        omtp_conn_wheel_link(l->next)->prev = c;
    im->slots[slot] = c;
    *omtp_conn_wheel_slot(c) = slot;
}

void omtp_wheel_remove(omtp_server *s, omtp_conn *c)
{
    int *slot = omtp_conn_wheel_slot(c);
    if (*slot < 0)
        return;
    struct omtp_conn_link *l = omtp_conn_wheel_link(c);
    if (l->prev)
        omtp_conn_wheel_link(l->prev)->next = l->next;
    else
        s->impl->slots[*slot] = l->next;
    if (l->next)
        omtp_conn_wheel_link(l->next)->prev = l->prev;
    l->prev = l->next = NULL;
    *slot = -1;
}

static void on_tick(uv_timer_t *t)
{
    omtp_server *s = t->data;
    struct omtp_server_impl *im = s->impl;
    uint64_t now = uv_now(s->loop);
    uint64_t target = now / TICK_MS;
    while (im->wheel_tick < target) {
        im->wheel_tick++;
        int slot = (int)(im->wheel_tick % WHEEL_SLOTS);
        omtp_conn *c = im->slots[slot];
        im->slots[slot] = NULL;
        while (c) {
            omtp_conn *next = omtp_conn_wheel_link(c)->next;
            *omtp_conn_wheel_slot(c) = -1;
            uint64_t d = omtp_conn_deadline(c);
            if (d <= now)
                omtp_conn_expire(c);
            else
                omtp_wheel_insert(s, c, d);
            c = next;
        }
    }
    omtp_guard_tick(s, false);              /* rate-limited shedding logs still owed */
    for (size_t k = 0; k < im->nparts; k++) /* e.g. slow HTTP clients past http_timeout_s */
        if (im->part_started[k] && im->parts[k].tick)
            im->parts[k].tick(s);
}

/* ------------------------------------------------------------ presence */

static uint64_t hash_str(const char *p)
{
    uint64_t h = 1469598103934665603ull;
    while (*p)
        h = (h ^ (uint8_t)*p++) * 1099511628211ull;
    return h;
}

static omtp_conn **bucket_of(omtp_server *s, const char *userId)
{
    return &s->impl->buckets[hash_str(userId) & (s->impl->nbuckets - 1)];
}

omtp_conn *omtp_presence_first(omtp_server *s, const char *userId)
{
    if (!s->impl->nbuckets)
        return NULL;
    for (omtp_conn *c = *bucket_of(s, userId); c; c = *omtp_conn_bucket_next(c))
        if (strcmp(c->userId, userId) == 0)
            return c;
    return NULL;
}

static void presence_grow(omtp_server *s)
{
    struct omtp_server_impl *im = s->impl;
    size_t nb = im->nbuckets ? im->nbuckets * 2 : 1024;
    omtp_conn **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep the old table: longer chains, still correct */
    for (size_t k = 0; k < im->nbuckets; k++) {
        omtp_conn *c = im->buckets[k];
        while (c) {
            omtp_conn *next = *omtp_conn_bucket_next(c);
            omtp_conn **head = &b[hash_str(c->userId) & (nb - 1)];
            *omtp_conn_bucket_next(c) = *head;
            *head = c;
            c = next;
        }
    }
    free(im->buckets);
    im->buckets = b;
    im->nbuckets = nb;
}

void omtp_presence_add(omtp_server *s, omtp_conn *c)
{
    struct omtp_server_impl *im = s->impl;
    if (im->nusers >= im->nbuckets)
        presence_grow(s);
    if (!im->nbuckets) {
        LOG_ERROR("out of memory for the presence table");
        return;
    }
    omtp_conn *head = omtp_presence_first(s, c->userId);
    if (head) {
        /* the bucket keeps pointing at the head; c goes second */
        c->next_device = head->next_device;
        head->next_device = c;
        *omtp_conn_bucket_next(c) = NULL;
        return;
    }
    omtp_conn **b = bucket_of(s, c->userId);
    c->next_device = NULL;
    *omtp_conn_bucket_next(c) = *b;
    *b = c;
    im->nusers++;
}

void omtp_presence_remove(omtp_server *s, omtp_conn *c)
{
    struct omtp_server_impl *im = s->impl;
    if (!im->nbuckets)
        return;
    omtp_conn **pp = bucket_of(s, c->userId);
    while (*pp && strcmp((*pp)->userId, c->userId) != 0)
        pp = omtp_conn_bucket_next(*pp);
    omtp_conn *head = *pp;
    if (!head)
        return;
    if (head == c) {
        omtp_conn *second = c->next_device;
        if (second) {
            *omtp_conn_bucket_next(second) = *omtp_conn_bucket_next(c);
            *pp = second;
        } else {
            *pp = *omtp_conn_bucket_next(c);
            im->nusers--;
        }
    } else {
        omtp_conn *p = head;
        while (p->next_device && p->next_device != c)
            p = p->next_device;
        if (p->next_device == c)
            p->next_device = c->next_device;
    }
    c->next_device = NULL;
    *omtp_conn_bucket_next(c) = NULL;
}

int omtp_push_user(omtp_server *s, const char *userId, omtp_wire *w, const omtp_conn *except)
{
    int n = 0;
    omtp_conn *c = omtp_presence_first(s, userId);
    while (c) {
        omtp_conn *next = c->next_device; /* c may close while sending */
        if (c != except && c->state == OMTP_CONN_ONLINE && omtp_conn_send_wire(c, w) == 0) {
            n++;
            s->metrics.pushes++;
        }
        c = next;
    }
    /* cluster: the user's devices on other nodes (asynchronous, not counted) */
    if (s->push_remote)
        s->push_remote(s, userId, w);
    return n;
}

void omtp_push_sync_cmd(omtp_server *s, const char *userId, int command, const char *content)
{
    omtp_SyncDataReq r;
    omtp_msg_init(&omtp_SyncDataReq_desc, &r);
    r.command = command;
    if (tars_str_set(&r.content, content ? content : "") == 0) {
        omtp_wire *w = omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &r);
        if (w) {
            omtp_push_user(s, userId, w, NULL);
            omtp_wire_unref(w);
        }
    }
    omtp_msg_free(&omtp_SyncDataReq_desc, &r);
}

/* ------------------------------------------------------------ login throttle */

static struct fail_entry *fail_slot(omtp_server *s, const char *peer, bool create)
{
    char ip[48];
    snprintf(ip, sizeof(ip), "%s", peer);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = 0;
    struct fail_entry *e = &s->impl->fails[hash_str(ip) % LOGIN_FAIL_SLOTS];
    if (strcmp(e->ip, ip) != 0) {
        if (!create)
            return NULL;
        snprintf(e->ip, sizeof(e->ip), "%s", ip);
        e->fails = 0;
    }
    return e;
}

uint32_t omtp_login_delay_ms(omtp_server *s, const char *peer)
{
    struct fail_entry *e = fail_slot(s, peer, false);
    if (!e || !e->fails || uv_now(s->loop) - e->last_ms > LOGIN_FAIL_WIN)
        return 0;
    uint32_t n = e->fails < LOGIN_FAIL_MAX ? e->fails : LOGIN_FAIL_MAX;
    return n * s->cfg->login_fail_delay_ms;
}

void omtp_login_failed(omtp_server *s, const char *peer)
{
    struct fail_entry *e = fail_slot(s, peer, true);
    uint64_t now = uv_now(s->loop);
    if (now - e->last_ms > LOGIN_FAIL_WIN)
        e->fails = 0;
    e->fails++;
    e->last_ms = now;
}

void omtp_login_succeeded(omtp_server *s, const char *peer)
{
    struct fail_entry *e = fail_slot(s, peer, false);
    if (e)
        e->fails = 0;
}

/* ------------------------------------------------------------ connections */

void omtp_server_conn_opened(omtp_server *s, omtp_conn *c)
{
    struct omtp_conn_link *l = omtp_conn_all_link(c);
    l->prev = NULL;
    l->next = s->impl->all;
    if (l->next)
        omtp_conn_all_link(l->next)->prev = c;
    s->impl->all = c;
    s->metrics.conns_open++;
}

static void finish_shutdown(omtp_server *s);

void omtp_server_conn_closed(omtp_server *s, omtp_conn *c)
{
    omtp_wheel_remove(s, c);
    struct omtp_conn_link *l = omtp_conn_all_link(c);
    if (l->prev)
        omtp_conn_all_link(l->prev)->next = l->next;
    else
        s->impl->all = l->next;
    if (l->next)
        omtp_conn_all_link(l->next)->prev = l->prev;
    s->metrics.conns_open--;
    if (s->stopping && s->metrics.conns_open == 0)
        finish_shutdown(s);
}

/* Accept batching: libuv calls on_conn for every connection waiting in the
 * kernel's queue in one go (up to the 4096 backlog) before it serves any
 * other socket. Under a connection flood that is hundreds of milliseconds
 * in which no logged-in user is read, and -- at the descriptor budget --
 * every new connection sheds one accepted earlier in the same burst before
 * its first bytes (a LOGIN) could be read. So at most ACCEPT_BATCH per
 * listener per iteration: the next one is left in libuv (which then stops
 * watching the listener) and taken in the uv_prepare before the next poll,
 * which re-arms the listener. Reads of every other socket come in between. */
/* The listener of transport kind k, and whether it listens. */
static uv_tcp_t *listener_of(struct omtp_server_impl *im, int k, bool **listening)
{
    switch (k) {
    case OMTP_TP_TLS:
        *listening = &im->tls_listening;
        return &im->tls_listener;
    case OMTP_TP_WS:
        *listening = &im->ws_listening;
        return &im->ws_listener;
    case OMTP_TP_WSS:
        *listening = &im->wss_listening;
        return &im->wss_listener;
    default:
        *listening = &im->listening;
        return &im->listener;
    }
}

static void on_conn(uv_stream_t *l, int status)
{
    omtp_server *s = l->data;
    struct omtp_server_impl *im = s->impl;
    if (status < 0) {
        omtp_guard_accept_failed(s, status); /* EMFILE: counted, logged, sheds idle ones */
        return;
    }
    if (s->stopping)
        return;
    int k = OMTP_TP_TCP;
    for (int j = 0; j < OMTP_TP_KINDS; j++) {
        bool *on;
        if (l == (uv_stream_t *)listener_of(im, j, &on))
            k = j;
    }
    if (im->accepts[k] >= ACCEPT_BATCH) {
        im->accept_deferred[k] = true;
        return;
    }
    im->accepts[k]++;
    omtp_conn_accept(s, l, k);
}

static void resume_accepts(omtp_server *s)
{
    struct omtp_server_impl *im = s->impl;
    for (int k = 0; k < OMTP_TP_KINDS; k++) {
        im->accepts[k] = 0;
        if (!im->accept_deferred[k])
            continue;
        im->accept_deferred[k] = false;
        bool *listening;
        uv_tcp_t *l = listener_of(im, k, &listening);
        if (*listening && !s->stopping) {
            im->accepts[k]++;
            omtp_conn_accept(s, (uv_stream_t *)l, k);
        }
    }
}

/* ------------------------------------------------------------ listeners */

int omtp_parse_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hl;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':')
            return OMTP_EINVAL;
        hl = (size_t)(rb - hp - 1);
        hp++;
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return OMTP_EINVAL;
        hl = (size_t)(colon - hp);
    }
    if (hl >= hostlen)
        return OMTP_EINVAL;
    memcpy(host, hp, hl);
    host[hl] = 0;
    if (!host[0])
        snprintf(host, hostlen, "0.0.0.0");
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return OMTP_EINVAL;
    *port = (int)p;
    return 0;
}

static int start_listener(omtp_server *s, uv_tcp_t *t, const char *hp, const char *what, int *bound,
                          char *why, size_t whylen)
{
    char host[128];
    int port;
    if (omtp_parse_hostport(hp, host, sizeof(host), &port)) {
        snprintf(why, whylen, "listen address '%s' is not HOST:PORT", hp);
        return OMTP_EINVAL;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
        snprintf(why, whylen, "listen address '%s': '%s' is not an IP address", hp, host);
        return OMTP_EINVAL;
    }
    uv_tcp_init(s->loop, t);
    t->data = s;
    int rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)t, 4096, on_conn);
    if (rc) {
        const char *hint = rc == UV_EADDRINUSE ? "another process (omtpd?) uses this port: stop "
                                                 "it, or choose another port with --listen "
                                                 "(--tls-listen, --ws-listen, --wss-listen)"
                           : rc == UV_EADDRNOTAVAIL
                               ? "this machine has no such address: use one of its own, "
                                 "127.0.0.1 or 0.0.0.0"
                           : rc == UV_EACCES ? "ports below 1024 need privileges: use a port "
                                               "above 1023"
                                             : "check the address";
        snprintf(why, whylen, "cannot listen on %s: %s (%s)", hp, uv_strerror(rc), hint);
        uv_close((uv_handle_t *)t, NULL);
        return OMTP_EIO;
    }
    int sl = sizeof(ss);
    uv_tcp_getsockname(t, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    LOG_INFO("listening on %s%s%s:%d%s", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", *bound, what);
    return 0;
}

static int write_port_file(const char *path, int port, char *why, size_t whylen)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot write port file %s: %s", path, strerror(errno));
        return OMTP_EIO;
    }
    return 0;
}

static int tls_setup(omtp_server *s, char *why, size_t whylen)
{
    const omtp_config *cfg = s->cfg;
    if (!cfg->tls_cert[0] || !cfg->tls_key[0]) {
        snprintf(why, whylen, "tls_listen and wss_listen need tls_cert and tls_key (PEM files)");
        return OMTP_EINVAL;
    }
    const char *files[2][2] = {{"tls_cert", cfg->tls_cert}, {"tls_key", cfg->tls_key}};
    for (int i = 0; i < 2; i++)
        if (access(files[i][1], R_OK) != 0) {
            snprintf(why, whylen,
                     "cannot read %s file %s: %s (give a PEM file this user can read, e.g. "
                     "from your CA or `openssl req -x509 -newkey rsa:2048 -nodes -keyout "
                     "key.pem -out cert.pem`)",
                     files[i][0], files[i][1], strerror(errno));
            return OMTP_EINVAL;
        }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        goto err;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2: only forward-secret (ECDHE) AEAD suites unless tls_ciphers says
     * otherwise; TLS 1.3 suites are all ECDHE + AEAD, OpenSSL's list stays. */
    const char *ciphers = cfg->tls_ciphers[0] ? cfg->tls_ciphers : OMTP_TLS_CIPHERS_DEFAULT;
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        snprintf(why, whylen,
                 "tls_ciphers '%s' names no TLS 1.2 cipher OpenSSL knows (see `openssl ciphers "
                 "-v '%s'`; leave it empty for the default %s)",
                 ciphers, ciphers, OMTP_TLS_CIPHERS_DEFAULT);
        SSL_CTX_free(ctx);
        return OMTP_EINVAL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto err;
    s->impl->ssl_ctx = ctx;
    return 0;
err : {
    char e[200];
    ERR_error_string_n(ERR_get_error(), e, sizeof(e));
    snprintf(why, whylen, "TLS setup with cert %s and key %s failed: %s", cfg->tls_cert,
             cfg->tls_key, e);
    SSL_CTX_free(ctx);
    return OMTP_EINVAL;
}
}

/* ------------------------------------------------------------ life cycle */

static void on_signal(uv_signal_t *h, int signum)
{
    omtp_server *s = h->data;
    LOG_INFO("%s received, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    omtp_server_stop(s);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    omtp_server *s = h->data;
    if (!s->stopping)
        omtp_server_reload(s);
}

void omtp_server_parts_reload(omtp_server *s)
{
    struct omtp_server_impl *im = s->impl;
    for (size_t k = 0; k < im->nparts; k++)
        if (im->part_started[k] && im->parts[k].reload)
            im->parts[k].reload(s);
}

/* Starts the parts of phase `at` in table order. */
static int start_parts(omtp_server *s, int at, char *why, size_t whylen)
{
    struct omtp_server_impl *im = s->impl;
    for (size_t k = 0; k < im->nparts; k++) {
        const omtp_server_part *p = &im->parts[k];
        if (p->start_at != at)
            continue;
        if (p->start) {
            why[0] = '\0';
            int rc = p->start(s, why, whylen);
            if (rc) {
                if (!why[0])
                    snprintf(why, whylen, "cannot start %s: %s", p->name, omtp_strerror(rc));
                return rc;
            }
        }
        im->part_started[k] = true;
    }
    return 0;
}

/* Stops the started parts of point `at` in table order. */
static void stop_parts(omtp_server *s, int at, uint64_t budget_ms)
{
    struct omtp_server_impl *im = s->impl;
    for (size_t k = 0; k < im->nparts; k++) {
        const omtp_server_part *p = &im->parts[k];
        if (p->stop_at != at || !im->part_started[k])
            continue;
        im->part_started[k] = false;
        if (p->stop)
            p->stop(s, budget_ms);
    }
}

int omtp_server_port(const omtp_server *s)
{
    return s->impl ? s->impl->port : 0;
}

int omtp_server_init(omtp_server *s, uv_loop_t *loop, omtp_config *cfg,
                     const omtp_server_part *parts, size_t nparts, char *why, size_t whylen)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->impl = calloc(1, sizeof(*s->impl));
    if (!s->impl) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    struct omtp_server_impl *im = s->impl;
    if (nparts > OMTP_SERVER_PARTS_MAX) {
        snprintf(why, whylen, "%zu server parts: at most %d", nparts, OMTP_SERVER_PARTS_MAX);
        return OMTP_EINVAL;
    }
    im->parts = parts;
    im->nparts = nparts;
    why[0] = '\0';
    omtp_log_set_level(cfg->log_level);
    if (cfg->aes_key_hex[0] && omtp_crypto_key_from_hex(&s->aes_key, cfg->aes_key_hex)) {
        snprintf(why, whylen,
                 "aes_key_hex must be 64 hex digits (e.g. from `openssl rand -hex 32`)");
        return OMTP_EINVAL;
    }
    if (cfg->group_member_hard_limit && cfg->group_member_limit > cfg->group_member_hard_limit) {
        snprintf(why, whylen,
                 "group_member_limit (%u) is above group_member_hard_limit (%u): lower the first "
                 "or raise the second",
                 cfg->group_member_limit, cfg->group_member_hard_limit);
        return OMTP_EINVAL;
    }
    int rc = omtp_reply_fit_config(cfg, why, whylen);
    if (rc)
        return rc;
    s->login_guard =
        omtp_login_guard_new(cfg->login_account_delay_ms, cfg->login_account_delay_max_ms);
    if (!s->login_guard) {
        snprintf(why, whylen, "out of memory (login guard)");
        return OMTP_ENOMEM;
    }
    /* e.g. the login-token secret and dummy hash, the dispatch table */
    rc = start_parts(s, OMTP_START_CONFIG, why, whylen);
    if (rc)
        return rc;
    omtp_store_config sc = {.data_dir = cfg->data_dir,
                            .uri = cfg->store_uri[0] ? cfg->store_uri : NULL,
                            .synchronous = cfg->sync_level,
                            .server = true};
    rc = omtp_store_open(loop, &sc, &s->store, why, whylen);
    if (rc)
        return rc;
    LOG_INFO("store: %s (%s)", omtp_store_backend(s->store),
             cfg->store_uri[0] ? "store_uri" : cfg->data_dir);
    if ((rc = start_parts(s, OMTP_START_STORE, why, whylen)))
        return rc;
    if ((rc = omtp_guard_init(s))) {
        snprintf(why, whylen, "out of memory");
        return rc;
    }
    int port;
    rc = start_listener(s, &im->listener, cfg->listen, "", &port, why, whylen);
    if (rc)
        return rc;
    im->listening = true;
    im->port = port;
    if (cfg->port_file[0] && (rc = write_port_file(cfg->port_file, port, why, whylen)))
        return rc;
    if ((rc = start_parts(s, OMTP_START_BOUND, why, whylen))) /* e.g. the cluster */
        return rc;
    if (cfg->tls_listen[0]) {
        if ((rc = tls_setup(s, why, whylen)))
            return rc;
        int tport;
        if ((rc = start_listener(s, &im->tls_listener, cfg->tls_listen, " (TLS)", &tport, why,
                                 whylen)))
            return rc;
        im->tls_listening = true;
        if (cfg->tls_port_file[0] && (rc = write_port_file(cfg->tls_port_file, tport, why, whylen)))
            return rc;
    }
    if (cfg->ws_listen[0]) { /* WebSocket and the web app's files (transport_ws.c) */
        int wport;
        if ((rc = start_listener(s, &im->ws_listener, cfg->ws_listen, " (WebSocket, web app)",
                                 &wport, why, whylen)))
            return rc;
        im->ws_listening = true;
        if (cfg->ws_port_file[0] && (rc = write_port_file(cfg->ws_port_file, wport, why, whylen)))
            return rc;
        if (cfg->web_root[0] && access(cfg->web_root, R_OK) != 0)
            LOG_WARN("web_root %s: %s: the web app's files answer 404 (build it: make web, or "
                     "set web_root to its dist directory)",
                     cfg->web_root, strerror(errno));
    }
    if (cfg->wss_listen[0]) {
        if (!im->ssl_ctx && (rc = tls_setup(s, why, whylen)))
            return rc;
        int wport;
        if ((rc = start_listener(s, &im->wss_listener, cfg->wss_listen,
                                 " (WebSocket over TLS, web app)", &wport, why, whylen)))
            return rc;
        im->wss_listening = true;
        if (cfg->wss_port_file[0] && (rc = write_port_file(cfg->wss_port_file, wport, why, whylen)))
            return rc;
    }
    uv_signal_init(loop, &im->sigint);
    uv_signal_init(loop, &im->sigterm);
    im->sigint.data = im->sigterm.data = s;
    uv_signal_start(&im->sigint, on_signal, SIGINT);
    uv_signal_start(&im->sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &im->sighup);
    im->sighup.data = s;
    uv_signal_start(&im->sighup, on_sighup, SIGHUP);
    uv_timer_init(loop, &im->tick);
    im->tick.data = s;
    im->wheel_tick = uv_now(loop) / TICK_MS;
    uv_timer_start(&im->tick, on_tick, TICK_MS, TICK_MS);
    /* write coalescing (conn.c); these handles never keep the loop alive */
    uv_check_init(loop, &im->flush_check);
    uv_prepare_init(loop, &im->flush_prepare);
    im->flush_check.data = im->flush_prepare.data = s;
    uv_check_start(&im->flush_check, on_flush_check);
    uv_prepare_start(&im->flush_prepare, on_flush_prepare);
    uv_unref((uv_handle_t *)&im->flush_check);
    uv_unref((uv_handle_t *)&im->flush_prepare);
    return start_parts(s, OMTP_START_LAST, why, whylen); /* e.g. the HTTP API */
}

/* shutdown_timeout_s passed and the loop is still running (connections
 * flushing their output): end the process. */
static void on_shutdown_watchdog(uv_timer_t *t)
{
    omtp_server *s = t->data;
    LOG_WARN("shutdown: shutdown_timeout_s (%u s) passed with %llu connections still flushing: "
             "exiting now",
             s->cfg->shutdown_timeout_s ? s->cfg->shutdown_timeout_s : 10,
             (unsigned long long)s->metrics.conns_open);
    _exit(0);
}

static void finish_shutdown(omtp_server *s)
{
    struct omtp_server_impl *im = s->impl;
    if (im->handles_closed)
        return;
    im->handles_closed = true;
    if (im->watchdog_started) {
        uv_timer_stop(&im->shutdown_watchdog);
        uv_close((uv_handle_t *)&im->shutdown_watchdog, NULL);
    }
    uv_timer_stop(&im->tick);
    uv_close((uv_handle_t *)&im->tick, NULL);
    omtp_conn_flush_all(s); /* releases the references the list holds */
    uv_close((uv_handle_t *)&im->flush_check, NULL);
    uv_close((uv_handle_t *)&im->flush_prepare, NULL);
    uv_close((uv_handle_t *)&im->sigint, NULL);
    uv_close((uv_handle_t *)&im->sigterm, NULL);
    uv_close((uv_handle_t *)&im->sighup, NULL);
}

void omtp_server_stop(omtp_server *s)
{
    struct omtp_server_impl *im = s->impl;
    if (s->stopping)
        return;
    s->stopping = true;
    omtp_guard_tick(s, true); /* the shedding counts not logged yet */
    /* shutdown_timeout_s bounds the whole shutdown, from here: the HTTP API
     * gets 1/5 of it to send its last answers, the store 3/4 (from here) to
     * commit what is queued and 1/10 more to stop a running statement; a
     * watchdog ends the process when the rest (flushing output) runs over */
    uint64_t t_stop = uv_hrtime();
    uint64_t budget_ms =
        (uint64_t)(s->cfg->shutdown_timeout_s ? s->cfg->shutdown_timeout_s : 10) * 1000;
    uv_timer_init(s->loop, &im->shutdown_watchdog);
    im->shutdown_watchdog.data = s;
    uv_timer_start(&im->shutdown_watchdog, on_shutdown_watchdog, budget_ms, 0);
    uv_unref((uv_handle_t *)&im->shutdown_watchdog);
    im->watchdog_started = true;
    stop_parts(s, OMTP_STOP_FIRST, budget_ms); /* e.g. the cluster: our devices leave it */
    if (im->listening)
        uv_close((uv_handle_t *)&im->listener, NULL);
    if (im->tls_listening)
        uv_close((uv_handle_t *)&im->tls_listener, NULL);
    if (im->ws_listening)
        uv_close((uv_handle_t *)&im->ws_listener, NULL);
    if (im->wss_listening)
        uv_close((uv_handle_t *)&im->wss_listener, NULL);
    im->listening = im->tls_listening = im->ws_listening = im->wss_listening = false;
    stop_parts(s, OMTP_STOP_UNLISTENED, budget_ms); /* e.g. the HTTP API's last answers */
    /* no new requests; the store answers those in flight as it closes */
    for (omtp_conn *c = im->all; c; c = omtp_conn_all_link(c)->next)
        if (c->state != OMTP_CONN_CLOSING)
            omtp_conn_pause(c);
    /* before the store: pending before-send checks are answered (fail mode)
     * and may still submit their message */
    stop_parts(s, OMTP_STOP_BEFORE_STORE, budget_ms); /* e.g. webhooks, retention */
    if (s->store) {
        uint64_t abandoned = 0;
        uint64_t t0 = uv_hrtime(), spent_ms = (t0 - t_stop) / 1000000;
        uint64_t store_ms = budget_ms * 3 / 4 > spent_ms ? budget_ms * 3 / 4 - spent_ms : 1;
        if (omtp_store_close_within(s->store, store_ms, budget_ms / 10, &abandoned)) {
            LOG_ERROR("shutdown: the store did not stop within %llu ms (shutdown_timeout_s = "
                      "%llu): exiting now; %llu queued writes were abandoned, none of them "
                      "acknowledged",
                      (unsigned long long)(budget_ms * 3 / 4 + budget_ms / 10),
                      (unsigned long long)(budget_ms / 1000), (unsigned long long)abandoned);
            _exit(1);
        }
        if (abandoned)
            LOG_WARN("shutdown: %llu queued store items abandoned after %llu ms "
                     "(shutdown_timeout_s = %llu); their requests were answered as failed",
                     (unsigned long long)abandoned,
                     (unsigned long long)((uv_hrtime() - t0) / 1000000),
                     (unsigned long long)(budget_ms / 1000));
        s->store = NULL;
    }
    stop_parts(s, OMTP_STOP_AFTER_STORE, budget_ms); /* e.g. the group member cache */
    omtp_conn *c = im->all;
    while (c) {
        omtp_conn *next = omtp_conn_all_link(c)->next;
        omtp_conn_close(c, "server shutting down");
        c = next;
    }
    if (s->metrics.conns_open == 0)
        finish_shutdown(s);
}

int omtp_server_run(omtp_server *s)
{
    uv_run(s->loop, UV_RUN_DEFAULT);
    return 0;
}

void omtp_server_free(omtp_server *s)
{
    if (!s->impl)
        return;
    for (size_t k = 0; k < s->impl->nparts; k++)
        if (s->impl->parts[k].free)
            s->impl->parts[k].free(s);
    if (s->store)
        omtp_store_close(s->store);
    s->store = NULL;
    SSL_CTX_free(s->impl->ssl_ctx);
    omtp_login_guard_free(s->login_guard);
    s->login_guard = NULL;
    free(s->impl->buckets);
    omtp_guard_free(s);
    free(s->impl);
    s->impl = NULL;
}
