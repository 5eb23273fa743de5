/*
 * cluster.h - several omtpd nodes behind one load balancer: presence and
 * cross-node delivery over Redis.
 *
 * Model: durable state is shared (PostgreSQL); each node owns the TCP
 * connections of its clients. Redis holds
 *
 *   omtp:u:<userId>  HASH  field "<node>/<deviceType>" ->
 *                          "<expiresMs>/<loginMs>/b<background 0|1>/<deviceId>"
 *                    one field per online device of the user, refreshed by
 *                    the owning node's heartbeat (every OMTP_CLUSTER_BEAT_MS);
 *                    a field whose expiry passed belongs to a dead node and
 *                    is ignored; the key's own TTL removes it entirely.
 *   omtp:ch:<node>   pub/sub channel of one node: pushes (one PUBLISH per
 *                    node per message, carrying every target user of that
 *                    node) and kickouts.
 *   omtp:bc          pub/sub channel of every node: "group members changed"
 *                    notices (each node drops that group's cached member
 *                    list, server/group.h), monitor subscription changes and
 *                    node hellos (cluster-wide session monitors, below).
 *
 * Delivery: omtp_push_user() delivers to this node's devices itself and
 * hands the wire to omtp_cluster_push_user(), which collects the target
 * users of one wire during the current loop iteration (a group fan-out
 * calls it once per member), looks their presence up in one pipelined
 * round trip, and publishes the wire once to each other node that has any
 * of them. The receiving node delivers to its local devices only.
 *
 * Login: an atomic script replaces the (user, deviceType) entry of any other
 * node and returns it; that node gets a kick message and closes its device
 * with a PT_KICKOUT naming the new device, as a single node does locally.
 *
 * Failure: Redis unreachable -> this node keeps serving its own users
 * (local delivery never depends on Redis), cross-node pushes are dropped
 * and counted, the connections are retried with backoff (100 ms .. 5 s).
 * When Redis is back the node re-registers its devices, re-subscribes and
 * sends every local device a SYNC_DATA_CMD (sessions) so clients pull what
 * they missed. Pushes are best effort everywhere; storage is not.
 *
 * Threading: loop thread only (hiredis async API on the libuv adapter).
 */
#ifndef OMTP_CLUSTER_H
#define OMTP_CLUSTER_H

#include <stdint.h>

#include "server/server.h"

#define OMTP_CLUSTER_BEAT_MS 5000  /* presence refresh period */
#define OMTP_CLUSTER_TTL_MS  20000 /* a device entry lives this long without refresh */

typedef struct omtp_cluster_stats {
    uint64_t published;   /* PUBLISH commands sent (one per node per wire) */
    uint64_t received;    /* messages received on our channel */
    uint64_t remote_push; /* (user, node) deliveries routed to other nodes */
    uint64_t dropped;     /* cross-node pushes dropped while Redis was down */
    uint64_t kicks_sent, kicks_received;
    uint64_t reconnects;
    uint64_t group_sent, group_received;     /* "group members changed" notices */
    uint64_t monitor_sent, monitor_received; /* monitor pushes to / from other nodes */
    bool up;                                 /* both Redis connections established */
} omtp_cluster_stats;

/* Starts the bus when cfg->redis_url is set (no-op otherwise). `port` is the
 * bound client port, used for the default node id (hostname:port). Never
 * fails because Redis is down (it retries); fails on a malformed URL. */
int omtp_cluster_start(omtp_server *s, int port, char *why, size_t whylen);
/* Removes this node's presence entries (best effort) and closes Redis. */
void omtp_cluster_stop(omtp_server *s);

/* Hooks from the core (each a no-op when s->cluster is NULL): */
/* c just logged in (after the local same-device kick and presence add). */
void omtp_cluster_login(omtp_server *s, omtp_conn *c);
/* c (which was online) is closing. */
void omtp_cluster_logout(omtp_server *s, omtp_conn *c);
/* Forwards w to userId's devices on other nodes. Returns 0 (delivery is
 * asynchronous; remote devices are not counted). */
int omtp_cluster_push_user(omtp_server *s, const char *userId, omtp_wire *w);
/* A client's PT_KICKOUT of its own device on another node. */
void omtp_cluster_kick_device(omtp_server *s, const omtp_conn *by, int deviceType,
                              const char *deviceId);

/* The membership of groupId changed (committed in the store). Tells every
 * other node to drop its cached member list of the group. done(arg) (may be
 * NULL) runs exactly once: when Redis has answered the PUBLISH -- it has then
 * already handed the notice to every node's subscription, so a client that
 * is told "done" and sends to the group through another node cannot beat
 * the notice there -- or at once (before this returns) when there is no
 * cluster or Redis is down. A node that missed notices (its Redis link was
 * down) drops its whole member cache when it reconnects. */
void omtp_cluster_group_changed(omtp_server *s, const char *groupId, void (*done)(void *arg),
                                void *arg);

/* Cluster-wide session monitors (docs/cluster.md, "Session monitors").
 *
 * This node's first connection of userId monitoring sessionId appeared
 * (on) or its last one went (off). "on" tells every other node and runs
 * done(arg) once each of them acked (at most NOTICE_WAIT_MS, 2 s) -- so a
 * monitor told "started" misses nothing sent through any node afterwards --
 * or at once when there is no cluster or Redis is down. "off" is sent
 * without waiting (done at once): the receiving node hands a monitor push
 * only to connections monitoring the session at that moment. */
void omtp_cluster_monitor_changed(omtp_server *s, const char *sessionId, const char *userId,
                                  bool on, void (*done)(void *arg), void *arg);
/* Forwards w, a push of sessionId, to every other node with connections
 * monitoring it, once per node, naming the monitoring users that are not in
 * `recipients` (they get w as members). One NULL check when no other node
 * monitors anything; no Redis round trip. */
void omtp_cluster_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w,
                               const tars_str_list *recipients);

/* For each of `users`: whether a foreground device (online, not flagged
 * background) of theirs is on ANOTHER node, by the presence table (one
 * pipelined round trip). done(arg, online) runs later on the loop with
 * online[i] per user (false where the lookup failed midway). Returns 0 when
 * the lookup started; otherwise (no cluster, Redis down) an OMTP_E* and
 * done is never called. */
typedef void (*omtp_cluster_online_fn)(void *arg, const bool *online);
int omtp_cluster_remote_foreground(omtp_server *s, const tars_str_list *users,
                                   omtp_cluster_online_fn done, void *arg);
/* c's background flag changed: its presence entry is rewritten now (other
 * nodes' offline-push decisions see it). */
void omtp_cluster_device_changed(omtp_server *s, omtp_conn *c);

void omtp_cluster_get_stats(omtp_server *s, omtp_cluster_stats *out);
const char *omtp_cluster_node_id(omtp_server *s);

#endif
