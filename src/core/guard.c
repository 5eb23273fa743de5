/*
 * guard.c - admission and shedding (see guard.h).
 *
 * Address table: IP_BUCKETS chains of entries {address, unauthenticated
 * connections}; an entry exists while its count is above zero, so memory
 * follows the number of distinct addresses with connections that have not
 * logged in, whatever an attacker sends.
 *
 * Descriptor budget: every accepted descriptor counts until its handle is
 * closed (libuv closes the socket in uv_close, synchronously), so a
 * connection shed to make room frees its descriptor before the new one is
 * admitted. The reserve (FD_RESERVE, plus http_max_conns when the HTTP API
 * listens) leaves room for the store's files, the listeners, the event
 * loop's own descriptors, webhooks and the HTTP API's connections.
 *
 * Shedding order. Under descriptor pressure: idle unauthenticated
 * connections (never logged in, no login in progress, no partial frame),
 * oldest first -- a user who connects and logs in is never displaced by
 * connections that just sit there. Under memory pressure: unauthenticated
 * connections holding partial frames, oldest frame first, then the largest
 * partial frame of a logged-in connection (its frame is refused with an
 * error frame, and the connection closes because the stream cannot be
 * resynchronised).
 *
 * Logs: one warn line per reason at most every LOG_EVERY_MS, with the count
 * since the last one; individual closes are logged at debug level.
 */
#include "guard.h"
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define IP_BUCKETS       4096
#define FD_RESERVE       64
#define LOG_EVERY_MS     10000
#define EMFILE_SHED      16   /* idle connections closed per failed accept */
#define RLIMIT_EVERY_MS  1000 /* how often the open-files limit is read again */
#define UNAUTH_LOG_PER_S 50   /* accept/close lines of unauthenticated connections */

struct guard_ip {
    struct guard_ip *next;
    uint32_t count;
    char ip[48];
};

struct shed_log {
    uint64_t unlogged;
    uint64_t last_ms;
};

typedef struct omtp_guard {
    struct guard_ip *ips[IP_BUCKETS];
    omtp_conn *pre_head, *pre_tail;   /* unauthenticated, oldest first */
    omtp_conn *part_head, *part_tail; /* holding partial frames, oldest first */
    uint64_t fds;                     /* accepted descriptors not yet closed */
    uint64_t budget;                  /* most connections (descriptors) at once */
    struct shed_log logs[OMTP_SHED_NREASONS];
    bool shedding;        /* re-entrancy guard: a close does not start another pass */
    uint64_t seen_budget; /* what RLIMIT_NOFILE gave at the last look */
    uint64_t rlimit_ms;   /* when it was looked at */
    uint64_t ulog_window_ms, ulog_logged_ms; /* omtp_guard_log_unauth */
    uint32_t ulog_n;
    uint64_t ulog_suppressed;
} omtp_guard;

_Static_assert(OMTP_SHED_NREASONS <= sizeof(((omtp_metrics *)0)->conns_shed) / sizeof(uint64_t),
               "omtp_metrics.conns_shed has a slot per reason");

static const char *const reason_names[OMTP_SHED_NREASONS] = {
    "prelogin_frame", "frame_timeout", "pending_memory", "per_ip",
    "fd_budget",      "conn_limit",    "emfile",
};

static const char *const reason_words[OMTP_SHED_NREASONS] = {
    "frames above max_prelogin_frame announced before login (refused and closed)",
    "frames not completed within frame_timeout_s (closed)",
    "partial frames above max_pending_bytes (closed)",
    "connections refused: max_conns_per_ip unauthenticated connections from the address",
    "idle unauthenticated connections closed to make room at the descriptor budget",
    "connections refused: descriptor budget reached and no idle connection to close",
    "accepts failed: out of file descriptors (raise the open-files limit)",
};

const char *omtp_shed_reason_name(int reason)
{
    return reason >= 0 && reason < OMTP_SHED_NREASONS ? reason_names[reason] : "unknown";
}

static omtp_guard *G(omtp_server *s)
{
    return s->guard;
}

/* ------------------------------------------------------------ logging */

static void log_reason(omtp_server *s, int r, uint64_t now)
{
    omtp_guard *g = G(s);
    struct shed_log *l = &g->logs[r];
    if (r == OMTP_SHED_PENDING_MEMORY)
        LOG_WARN("guard: %llu %s since the last report; pending %llu bytes, max_pending_bytes %u",
                 (unsigned long long)l->unlogged, reason_words[r],
                 (unsigned long long)s->metrics.pending_frame_bytes, s->cfg->max_pending_bytes);
    else if (r == OMTP_SHED_FD_BUDGET || r == OMTP_SHED_CONN_LIMIT || r == OMTP_SHED_EMFILE)
        LOG_WARN("guard: %llu %s since the last report; %llu descriptors in use, budget %llu "
                 "(max_conns, open-files limit)",
                 (unsigned long long)l->unlogged, reason_words[r], (unsigned long long)g->fds,
                 (unsigned long long)g->budget);
    else
        LOG_WARN("guard: %llu %s since the last report", (unsigned long long)l->unlogged,
                 reason_words[r]);
    l->unlogged = 0;
    l->last_ms = now;
}

bool omtp_guard_log_unauth(omtp_server *s)
{
    omtp_guard *g = G(s);
    if (!g)
        return true;
    if (s->cfg->log_level > OMTP_LOG_INFO)
        return false; /* not written anyway */
    uint64_t now = uv_now(s->loop);
    if (now - g->ulog_window_ms >= 1000) {
        g->ulog_window_ms = now;
        g->ulog_n = 0;
    }
    if (g->ulog_n < UNAUTH_LOG_PER_S) {
        g->ulog_n++;
        return true;
    }
    g->ulog_suppressed++;
    return false;
}

void omtp_guard_count(omtp_server *s, int reason)
{
    omtp_guard *g = G(s);
    if (reason < 0 || reason >= OMTP_SHED_NREASONS)
        return;
    s->metrics.conns_shed[reason]++;
    g->logs[reason].unlogged++;
    uint64_t now = uv_now(s->loop);
    if (g->logs[reason].last_ms == 0 || now - g->logs[reason].last_ms >= LOG_EVERY_MS)
        log_reason(s, reason, now);
}

static int shed_idle(omtp_server *s, int n, const omtp_conn *keep, int reason);
static uint64_t compute_budget(const omtp_config *cfg, uint64_t *nofile_out, uint64_t *reserve_out);

/* The open-files limit may change under a running server (prlimit): the
 * budget follows it, and connections above a lowered budget are shed. */
static void follow_rlimit(omtp_server *s)
{
    omtp_guard *g = G(s);
    uint64_t nofile, reserve;
    uint64_t budget = compute_budget(s->cfg, &nofile, &reserve);
    if (budget != g->seen_budget) { /* the limit changed since the last look */
        LOG_WARN("open-files limit now %llu: connection budget %llu (was %llu)",
                 (unsigned long long)nofile, (unsigned long long)budget,
                 (unsigned long long)g->budget);
        g->budget = budget;
    }
    g->seen_budget = budget;
    if (g->fds > g->budget)
        shed_idle(s, (int)(g->fds - g->budget), NULL, OMTP_SHED_FD_BUDGET);
}

void omtp_guard_tick(omtp_server *s, bool all)
{
    omtp_guard *g = G(s);
    if (!g)
        return;
    uint64_t now = uv_now(s->loop);
    if (now - g->rlimit_ms >= RLIMIT_EVERY_MS) {
        g->rlimit_ms = now;
        follow_rlimit(s);
    }
    for (int r = 0; r < OMTP_SHED_NREASONS; r++)
        if (g->logs[r].unlogged && (all || now - g->logs[r].last_ms >= LOG_EVERY_MS))
            log_reason(s, r, now);
    if (g->ulog_suppressed && (all || now - g->ulog_logged_ms >= LOG_EVERY_MS)) {
        LOG_INFO("%llu accept/close lines of connections that never logged in not written "
                 "(more than %d a second)",
                 (unsigned long long)g->ulog_suppressed, UNAUTH_LOG_PER_S);
        g->ulog_suppressed = 0;
        g->ulog_logged_ms = now;
    }
}

/* ------------------------------------------------------------ lists */

static void pre_unlink(omtp_guard *g, omtp_conn *c)
{
    omtp_guard_conn *x = omtp_conn_guard(c);
    if (!x->in_pre)
        return;
    if (x->pre_prev)
        omtp_conn_guard(x->pre_prev)->pre_next = x->pre_next;
    else
        g->pre_head = x->pre_next;
    if (x->pre_next)
        omtp_conn_guard(x->pre_next)->pre_prev = x->pre_prev;
    else
        g->pre_tail = x->pre_prev;
    x->pre_prev = x->pre_next = NULL;
    x->in_pre = false;
}

static void part_unlink(omtp_guard *g, omtp_conn *c)
{
    omtp_guard_conn *x = omtp_conn_guard(c);
    if (!x->in_part)
        return;
    if (x->part_prev)
        omtp_conn_guard(x->part_prev)->part_next = x->part_next;
    else
        g->part_head = x->part_next;
    if (x->part_next)
        omtp_conn_guard(x->part_next)->part_prev = x->part_prev;
    else
        g->part_tail = x->part_prev;
    x->part_prev = x->part_next = NULL;
    x->in_part = false;
}

/* ------------------------------------------------------------ addresses */

void omtp_guard_source(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    snprintf(out, outlen, "?");
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)outlen);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outlen);
            return;
        }
        struct in6_addr net;
        memset(&net, 0, sizeof(net));
        memcpy(net.s6_addr, a->s6_addr, 8);
        char p[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &net, p, sizeof(p));
        snprintf(out, outlen, "%s/64", p);
    }
}

static uint32_t hash_ip(const char *p)
{
    uint32_t h = 2166136261u;
    while (*p)
        h = (h ^ (uint8_t)*p++) * 16777619u;
    return h % IP_BUCKETS;
}

static struct guard_ip *ip_find(omtp_guard *g, const char *ip, bool create)
{
    struct guard_ip **b = &g->ips[hash_ip(ip)];
    for (struct guard_ip *e = *b; e; e = e->next)
        if (strcmp(e->ip, ip) == 0)
            return e;
    if (!create)
        return NULL;
    struct guard_ip *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->ip, sizeof(e->ip), "%s", ip);
    e->next = *b;
    *b = e;
    return e;
}

static void ip_release(omtp_guard *g, omtp_conn *c)
{
    omtp_guard_conn *x = omtp_conn_guard(c);
    struct guard_ip *e = x->ip;
    if (!e)
        return;
    x->ip = NULL;
    if (--e->count > 0)
        return;
    struct guard_ip **pp = &g->ips[hash_ip(e->ip)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    free(e);
}

/* ------------------------------------------------------------ life cycle */

/* min(max_conns, RLIMIT_NOFILE - reserve); *nofile_out gets the limit. */
static uint64_t compute_budget(const omtp_config *cfg, uint64_t *nofile_out, uint64_t *reserve_out)
{
    struct rlimit rl;
    uint64_t nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        nofile = rl.rlim_cur;
    else if (rl.rlim_cur == RLIM_INFINITY)
        nofile = UINT32_MAX;
    /* the HTTP API's own limit is a little above http_max_conns (http_guard.c) */
    uint64_t reserve = FD_RESERVE + (cfg->http_listen[0] ? cfg->http_max_conns * 5ull / 4 + 16 : 0);
    uint64_t budget = nofile > reserve + 16 ? nofile - reserve : 16;
    if (cfg->max_conns && cfg->max_conns < budget)
        budget = cfg->max_conns;
    *nofile_out = nofile;
    *reserve_out = reserve;
    return budget;
}

int omtp_guard_init(omtp_server *s)
{
    omtp_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return OMTP_ENOMEM;
    s->guard = g;
    uint64_t nofile, reserve;
    uint64_t budget = compute_budget(s->cfg, &nofile, &reserve);
    g->budget = g->seen_budget = budget;
    if (nofile <= reserve + 16)
        LOG_WARN("open-files limit %llu leaves almost nothing for connections after the "
                 "reserve of %llu: raise it (ulimit -n, LimitNOFILE=) or lower http_max_conns",
                 (unsigned long long)nofile, (unsigned long long)reserve);
    LOG_INFO("connection budget %llu (open-files limit %llu, reserve %llu, max_conns %u); "
             "unauthenticated per address %u, partial frames %u bytes in total",
             (unsigned long long)budget, (unsigned long long)nofile, (unsigned long long)reserve,
             s->cfg->max_conns, s->cfg->max_conns_per_ip, s->cfg->max_pending_bytes);
    return 0;
}

void omtp_guard_free(omtp_server *s)
{
    omtp_guard *g = G(s);
    if (!g)
        return;
    for (int b = 0; b < IP_BUCKETS; b++) {
        struct guard_ip *e = g->ips[b];
        while (e) {
            struct guard_ip *n = e->next;
            free(e);
            e = n;
        }
    }
    free(g);
    s->guard = NULL;
}

void omtp_guard_fd_opened(omtp_server *s)
{
    G(s)->fds++;
}

void omtp_guard_fd_closed(omtp_server *s)
{
    if (G(s)->fds)
        G(s)->fds--;
}

/* ------------------------------------------------------------ shedding */

/* Idle: not logged in, no login in progress, no partial frame. */
static bool idle_unauth(omtp_conn *c)
{
    return c->state == OMTP_CONN_NEW && omtp_conn_guard(c)->bytes == 0;
}

/* Closes up to n idle unauthenticated connections, oldest first (never
 * `keep`). Returns how many. */
static int shed_idle(omtp_server *s, int n, const omtp_conn *keep, int reason)
{
    omtp_guard *g = G(s);
    int done = 0;
    omtp_conn *c = g->pre_head;
    while (c && done < n) {
        omtp_conn *next = omtp_conn_guard(c)->pre_next;
        if (c != keep && idle_unauth(c)) {
            omtp_conn_shed(c, reason, NULL);
            done++;
        }
        c = next;
    }
    return done;
}

int omtp_guard_admit(omtp_server *s, omtp_conn *c, const char *ip, char *why, size_t whylen)
{
    omtp_guard *g = G(s);
    const omtp_config *cfg = s->cfg;
    struct guard_ip *e = ip_find(g, ip, false);
    if (cfg->max_conns_per_ip && e && e->count >= cfg->max_conns_per_ip) {
        omtp_guard_count(s, OMTP_SHED_PER_IP);
        snprintf(why, whylen,
                 "too many connections from %s that have not logged in (max_conns_per_ip %u): "
                 "log in on the ones you have, or close them",
                 ip, cfg->max_conns_per_ip);
        return OMTP_SHED_PER_IP;
    }
    if (g->fds > g->budget &&
        shed_idle(s, (int)(g->fds - g->budget), c, OMTP_SHED_FD_BUDGET) == 0) {
        omtp_guard_count(s, OMTP_SHED_CONN_LIMIT);
        s->metrics.conns_rejected++;
        snprintf(
            why, whylen,
            "server full (%llu connections: max_conns or the open-files limit): try again later",
            (unsigned long long)g->budget);
        return OMTP_SHED_CONN_LIMIT;
    }
    if (!e)
        e = ip_find(g, ip, true);
    omtp_guard_conn *x = omtp_conn_guard(c);
    if (e) {
        e->count++;
        x->ip = e;
    }
    x->pre_prev = g->pre_tail;
    x->pre_next = NULL;
    if (g->pre_tail)
        omtp_conn_guard(g->pre_tail)->pre_next = c;
    else
        g->pre_head = c;
    g->pre_tail = c;
    x->in_pre = true;
    return 0;
}

void omtp_guard_logged_in(omtp_server *s, omtp_conn *c)
{
    pre_unlink(G(s), c);
    ip_release(G(s), c);
}

void omtp_guard_closing(omtp_server *s, omtp_conn *c)
{
    if (!G(s))
        return;
    pre_unlink(G(s), c);
    ip_release(G(s), c);
}

void omtp_guard_set_bytes(omtp_server *s, omtp_conn *c, size_t bytes)
{
    omtp_guard *g = G(s);
    omtp_guard_conn *x = omtp_conn_guard(c);
    if (!g || x->bytes == bytes)
        return;
    s->metrics.pending_frame_bytes -= x->bytes;
    s->metrics.pending_frame_bytes += bytes;
    x->bytes = bytes;
    if (bytes == 0) {
        part_unlink(g, c);
    } else if (!x->in_part) {
        x->part_prev = g->part_tail;
        x->part_next = NULL;
        if (g->part_tail)
            omtp_conn_guard(g->part_tail)->part_next = c;
        else
            g->part_head = c;
        g->part_tail = c;
        x->in_part = true;
    }
}

void omtp_guard_enforce_memory(omtp_server *s)
{
    omtp_guard *g = G(s);
    uint64_t cap = s->cfg->max_pending_bytes;
    if (!cap || s->metrics.pending_frame_bytes <= cap || g->shedding)
        return;
    g->shedding = true;
    /* 1. unauthenticated connections holding partial frames, oldest first */
    omtp_conn *c = g->part_head;
    while (c && s->metrics.pending_frame_bytes > cap) {
        omtp_conn *next = omtp_conn_guard(c)->part_next;
        if (c->state != OMTP_CONN_ONLINE)
            omtp_conn_shed(c, OMTP_SHED_PENDING_MEMORY,
                           "the server's memory for partial frames is full: frame refused");
        c = next;
    }
    /* 2. the largest partial frames of logged-in connections */
    while (s->metrics.pending_frame_bytes > cap && g->part_head) {
        omtp_conn *big = NULL;
        size_t most = 0;
        for (c = g->part_head; c; c = omtp_conn_guard(c)->part_next)
            if (omtp_conn_guard(c)->bytes > most) {
                most = omtp_conn_guard(c)->bytes;
                big = c;
            }
        if (!big)
            break;
        omtp_conn_shed(big, OMTP_SHED_PENDING_MEMORY,
                       "the server's memory for partial frames is full: frame refused, send it "
                       "again later");
    }
    g->shedding = false;
}

void omtp_guard_accept_failed(omtp_server *s, int err)
{
    omtp_guard *g = G(s);
    if (err != UV_EMFILE && err != UV_ENFILE) {
        LOG_WARN("accept failed: %s", uv_strerror(err));
        return;
    }
    /* libuv accepted and closed the waiting connections with its reserve
     * descriptor (no spinning); the budget was too high: the open-files
     * limit went down (prlimit) or other descriptors took the reserve.
     * Lower it so the next connections shed idle ones instead of failing,
     * and free some now. */
    uint64_t nofile, reserve;
    uint64_t budget = compute_budget(s->cfg, &nofile, &reserve);
    if (g->fds > EMFILE_SHED * 2 && g->fds - EMFILE_SHED < budget)
        budget = g->fds - EMFILE_SHED;
    if (budget < g->budget)
        g->budget = budget;
    omtp_guard_count(s, OMTP_SHED_EMFILE);
    shed_idle(s, EMFILE_SHED, NULL, OMTP_SHED_FD_BUDGET);
}
