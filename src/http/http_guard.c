/*
 * http_guard.c - slow clients cannot hold the HTTP API's connections.
 *
 * libmicrohttpd bounds connections and closes a connection silent for its
 * timeout; but a client that trickles one header byte per timeout keeps its
 * slot, and once every slot is taken libmicrohttpd stops accepting: new
 * clients (/healthz probes included) queue in the kernel behind the slow
 * ones. This file adds:
 *
 *   - a deadline: a connection must deliver a whole request (header and
 *     body) within http_timeout_s of connecting, or of its previous
 *     response; past it, it is shut down, however it trickles;
 *   - a cap per source address (http_max_conns_per_ip; an IPv6 peer counts
 *     by its /64, like the OMTP listener: guard.h omtp_guard_source) on
 *     connections that have not authenticated: once a request carried valid
 *     credentials (an API key or a user's login token) its connection no
 *     longer counts for its address (http_guard_authenticated), so long
 *     file transfers from one NAT address do not lock others out;
 *   - shedding at the cap: when a new connection would pass http_max_conns,
 *     the connection that has waited longest for its request to arrive is
 *     shut down to make room (libmicrohttpd's own limit is set a little
 *     higher, so it keeps accepting while the shed ones close). If every
 *     connection has a request in progress, the new one is shut down.
 *
 * "Shut down" is shutdown(2) on the socket: libmicrohttpd sees the end of
 * the stream on its next poll and closes and cleans up the connection
 * itself. libmicrohttpd reports MHD_CONNECTION_NOTIFY_CLOSED before it
 * closes the descriptor, and the entry leaves the list under the same
 * mutex, so a descriptor is never shut down after it was closed.
 *
 * Threading: the notify callback and the request hooks run on
 * libmicrohttpd's threads, the sweep on the loop thread (its 250 ms tick);
 * one mutex guards the list. Memory: one entry per HTTP connection.
 */
#include "core/guard.h"
#include "http_internal.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define IP_BUCKETS   1024
#define LOG_EVERY_MS 10000

struct http_ip {
    struct http_ip *next;
    unsigned count;
    char key[48];
};

struct http_track {
    struct http_track *prev, *next; /* oldest first */
    struct http_ip *ip;             /* its address's count, NULL if none */
    int fd;
    int64_t since_ms; /* connected, or previous response completed */
    bool waiting;     /* no complete request yet (header or body arriving) */
    bool shut;        /* shut down by us, waiting for libmicrohttpd */
};

struct http_guard {
    pthread_mutex_t mu;
    struct http_track *head, *tail;
    unsigned live; /* tracked and not shut down */
    unsigned max_conns, max_per_ip;
    int64_t timeout_ms;
    struct http_ip *ips[IP_BUCKETS];
    _Atomic uint64_t shed_timeout, shed_full, shed_per_ip;
    uint64_t logged[3]; /* loop thread: the counts at the last log line */
    int64_t logged_ms;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

http_guard *http_guard_new(unsigned max_conns, unsigned max_per_ip, unsigned timeout_s)
{
    http_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    g->max_conns = max_conns ? max_conns : 1;
    g->max_per_ip = max_per_ip;
    g->timeout_ms = (int64_t)(timeout_s ? timeout_s : 1) * 1000;
    return g;
}

void http_guard_free(http_guard *g)
{
    if (!g)
        return;
    struct http_track *t = g->head;
    while (t) {
        struct http_track *n = t->next;
        free(t);
        t = n;
    }
    for (int b = 0; b < IP_BUCKETS; b++) {
        struct http_ip *e = g->ips[b];
        while (e) {
            struct http_ip *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

unsigned http_guard_mhd_limit(const http_guard *g)
{
    unsigned slack = g->max_conns / 4 > 16 ? g->max_conns / 4 : 16;
    return g->max_conns + slack;
}

static void unlink_track(http_guard *g, struct http_track *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        g->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        g->tail = t->prev;
    t->prev = t->next = NULL;
}

static void append_track(http_guard *g, struct http_track *t)
{
    t->prev = g->tail;
    t->next = NULL;
    if (g->tail)
        g->tail->next = t;
    else
        g->head = t;
    g->tail = t;
}

static unsigned hash_key(const char *k)
{
    unsigned h = 2166136261u;
    while (*k)
        h = (h ^ (uint8_t)*k++) * 16777619u;
    return h % IP_BUCKETS;
}

/* Under the mutex: the entry of key, created if missing (NULL on OOM). */
static struct http_ip *ip_get(http_guard *g, const char *key)
{
    struct http_ip **b = &g->ips[hash_key(key)];
    for (struct http_ip *e = *b; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    struct http_ip *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->next = *b;
    *b = e;
    return e;
}

/* Under the mutex: t no longer counts for its address. */
static void ip_put(http_guard *g, struct http_track *t)
{
    struct http_ip *e = t->ip;
    t->ip = NULL;
    if (!e || --e->count > 0)
        return;
    struct http_ip **pp = &g->ips[hash_key(e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    free(e);
}

/* Under the mutex. */
static void shut(http_guard *g, struct http_track *t)
{
    t->shut = true;
    g->live--;
    shutdown(t->fd, SHUT_RDWR);
}

void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    http_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct http_track *t = calloc(1, sizeof(*t));
        if (!t || !ci) {
            free(t);
            *socket_context = NULL;
            return;
        }
        t->fd = ci->connect_fd;
        t->since_ms = mono_ms();
        t->waiting = true;
        char key[64] = "?";
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ai && ai->client_addr) {
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof(ss));
            memcpy(&ss, ai->client_addr,
                   ai->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in));
            omtp_guard_source(&ss, key, sizeof(key));
        }
        pthread_mutex_lock(&g->mu);
        append_track(g, t);
        g->live++;
        t->ip = ip_get(g, key);
        if (t->ip)
            t->ip->count++;
        if (g->max_per_ip && t->ip && t->ip->count > g->max_per_ip) {
            shut(g, t); /* over its address's cap: this one goes */
            atomic_fetch_add(&g->shed_per_ip, 1);
        } else if (g->live > g->max_conns) {
            /* make room: the one waiting longest for its request, else this one */
            struct http_track *victim = t;
            for (struct http_track *o = g->head; o && o != t; o = o->next)
                if (o->waiting && !o->shut) {
                    victim = o;
                    break;
                }
            shut(g, victim);
            atomic_fetch_add(&g->shed_full, 1);
        }
        pthread_mutex_unlock(&g->mu);
        *socket_context = t;
        return;
    }
    /* MHD_CONNECTION_NOTIFY_CLOSED (before libmicrohttpd closes the socket) */
    struct http_track *t = *socket_context;
    if (!t)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&g->mu);
    unlink_track(g, t);
    ip_put(g, t);
    if (!t->shut)
        g->live--;
    pthread_mutex_unlock(&g->mu);
    free(t);
}

static struct http_track *track_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_guard_request_in(http_guard *g, struct MHD_Connection *c)
{
    struct http_track *t = track_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&g->mu);
    t->waiting = false;
    pthread_mutex_unlock(&g->mu);
}

void http_guard_progress(http_guard *g, struct MHD_Connection *c)
{
    struct http_track *t = track_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&g->mu);
    t->since_ms = mono_ms();
    unlink_track(g, t); /* keep the list in `since` order */
    append_track(g, t);
    pthread_mutex_unlock(&g->mu);
}

void http_guard_authenticated(http_guard *g, struct MHD_Connection *c)
{
    struct http_track *t = track_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&g->mu);
    ip_put(g, t); /* no longer one of its address's http_max_conns_per_ip */
    pthread_mutex_unlock(&g->mu);
}

void http_guard_request_done(http_guard *g, struct MHD_Connection *c)
{
    struct http_track *t = track_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&g->mu);
    t->waiting = true;
    t->since_ms = mono_ms();
    unlink_track(g, t); /* keep the list in `since` order */
    append_track(g, t);
    pthread_mutex_unlock(&g->mu);
}

/* Loop thread: one warn line per 10 s while connections are being shut. */
static void log_counts(http_guard *g, int64_t now)
{
    if (now - g->logged_ms < LOG_EVERY_MS)
        return;
    uint64_t c[3] = {atomic_load(&g->shed_timeout), atomic_load(&g->shed_full),
                     atomic_load(&g->shed_per_ip)};
    if (c[0] != g->logged[0] || c[1] != g->logged[1] || c[2] != g->logged[2])
        LOG_WARN("http: connections shut down since the last report: %llu without a whole "
                 "request within http_timeout_s (%lld s), %llu to make room at http_max_conns "
                 "(%u), %llu over http_max_conns_per_ip (%u)",
                 (unsigned long long)(c[0] - g->logged[0]), (long long)(g->timeout_ms / 1000),
                 (unsigned long long)(c[1] - g->logged[1]), g->max_conns,
                 (unsigned long long)(c[2] - g->logged[2]), g->max_per_ip);
    memcpy(g->logged, c, sizeof(c));
    g->logged_ms = now;
}

void http_guard_sweep(http_guard *g)
{
    int64_t now = mono_ms();
    log_counts(g, now);
    pthread_mutex_lock(&g->mu);
    for (struct http_track *t = g->head; t; t = t->next) {
        if (t->since_ms + g->timeout_ms > now)
            break; /* the rest came later */
        if (t->waiting && !t->shut) {
            shut(g, t);
            atomic_fetch_add(&g->shed_timeout, 1);
        }
    }
    pthread_mutex_unlock(&g->mu);
}

void http_guard_counts(http_guard *g, uint64_t *timeouts, uint64_t *full, uint64_t *per_ip)
{
    *timeouts = g ? atomic_load(&g->shed_timeout) : 0;
    *full = g ? atomic_load(&g->shed_full) : 0;
    *per_ip = g ? atomic_load(&g->shed_per_ip) : 0;
}
