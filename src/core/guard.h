/*
 * guard.h - admission and shedding: what keeps peers that never log in from
 * exhausting the server's memory or descriptors (docs/server-core.md,
 * "Resource guards").
 *
 * The guard keeps, for the connections of one server:
 *   - the number of unauthenticated connections per source address
 *     (max_conns_per_ip refuses more at accept);
 *   - the descriptor budget: min(max_conns, RLIMIT_NOFILE - a reserve for
 *     the store, listeners and the HTTP API's connections). At the budget,
 *     the oldest idle unauthenticated connection is closed to make room for
 *     the new one; with none to close the new one is refused;
 *   - the bytes held by partial frames (frame-reader buffers) of every
 *     connection: above max_pending_bytes the oldest unauthenticated
 *     connections holding such bytes are closed, then the largest partial
 *     frames of logged-in connections are refused;
 *   - counters per shedding reason (/metrics omtp_conns_shed_total) and one
 *     rate-limited warn line per reason (at most every 10 s, with counts).
 *
 * Each connection embeds an omtp_guard_conn (conn.c); the guard links it
 * into two intrusive lists: unauthenticated connections in accept order, and
 * connections holding partial-frame bytes in the order their frame began.
 * Every operation is O(1) except shedding, which walks those lists from the
 * oldest end. Memory: one table entry per address with unauthenticated
 * connections.
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_GUARD_H
#define OMTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Why a connection was closed or refused by the guard (metric labels). */
enum omtp_shed_reason {
    OMTP_SHED_PRELOGIN_FRAME = 0, /* announced a frame above max_prelogin_frame before login */
    OMTP_SHED_FRAME_TIMEOUT,      /* a frame not completed within frame_timeout_s */
    OMTP_SHED_PENDING_MEMORY,     /* partial frames above max_pending_bytes */
    OMTP_SHED_PER_IP,             /* refused: max_conns_per_ip unauthenticated from its address */
    OMTP_SHED_FD_BUDGET,          /* idle unauthenticated, closed to make room at the budget */
    OMTP_SHED_CONN_LIMIT,         /* refused: at the budget and nothing to shed */
    OMTP_SHED_EMFILE,             /* accept failed: the process is out of descriptors */
    OMTP_SHED_NREASONS
};

/* The metric label of a reason ("pending_memory"). */
const char *omtp_shed_reason_name(int reason);

struct guard_ip;

/* Per-connection guard state, embedded in the connection (conn.c). */
typedef struct omtp_guard_conn {
    omtp_conn *pre_prev, *pre_next;   /* unauthenticated, accept order */
    omtp_conn *part_prev, *part_next; /* holding partial-frame bytes */
    struct guard_ip *ip;              /* counted for its address while unauthenticated */
    size_t bytes;                     /* partial-frame bytes accounted (reader capacity) */
    bool in_pre, in_part;
} omtp_guard_conn;

/* conn.c: the connection's guard state. */
omtp_guard_conn *omtp_conn_guard(omtp_conn *c);

/* Creates the guard (s->guard) and computes the descriptor budget from
 * RLIMIT_NOFILE; logs it. Returns 0 or OMTP_ENOMEM. */
int omtp_guard_init(omtp_server *s);
void omtp_guard_free(omtp_server *s);

/* The per-address key of a peer: the IPv4 address, or the /64 prefix of an
 * IPv6 one ("2001:db8:1:2::/64"; one host usually holds a whole /64, so a
 * per-address cap on full IPv6 addresses would cap nothing). IPv4-mapped
 * IPv6 addresses count as their IPv4 address. */
struct sockaddr_storage;
void omtp_guard_source(const struct sockaddr_storage *ss, char *out, size_t outlen);
/* A descriptor was accepted (counted until omtp_guard_fd_closed). */
void omtp_guard_fd_opened(omtp_server *s);
void omtp_guard_fd_closed(omtp_server *s);
/*
 * Admission of a new connection from `ip` (text form): 0 = admitted (now
 * counted as unauthenticated for ip; may have shed an older idle one to make
 * room), or the reason it must be refused (OMTP_SHED_PER_IP,
 * OMTP_SHED_CONN_LIMIT), already counted and logged; *why then says it in
 * words for the peer.
 */
int omtp_guard_admit(omtp_server *s, omtp_conn *c, const char *ip, char *why, size_t whylen);
/* The connection logged in / started closing: it stops counting as
 * unauthenticated (and, closing, its partial-frame bytes are released). */
void omtp_guard_logged_in(omtp_server *s, omtp_conn *c);
void omtp_guard_closing(omtp_server *s, omtp_conn *c);
/* The connection's partial-frame bytes are now `bytes` (0 = none). */
void omtp_guard_set_bytes(omtp_server *s, omtp_conn *c, size_t bytes);
/* Sheds connections while partial-frame bytes exceed max_pending_bytes. */
void omtp_guard_enforce_memory(omtp_server *s);
/* accept(2) failed with err (UV_EMFILE/UV_ENFILE...): counts, logs, sheds
 * idle unauthenticated connections to free descriptors. */
void omtp_guard_accept_failed(omtp_server *s, int err);
/* Whether an info line about a connection that has not logged in (accept,
 * close) may be written now: at most UNAUTH_LOG_PER_S a second, the rest
 * counted and summed up in one line every 10 s, so a connection flood does
 * not flood the log. */
bool omtp_guard_log_unauth(omtp_server *s);
/* Counts a shedding event and logs it (rate-limited). */
void omtp_guard_count(omtp_server *s, int reason);
/* Timer tick: writes the rate-limited log lines still owed (all of them
 * now when `all`: shutdown). */
void omtp_guard_tick(omtp_server *s, bool all);

#endif
