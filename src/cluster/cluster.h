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
 *                    notices (each node's host drops that group's cached
 *                    member list: host.group_changed), monitor subscription
 *                    changes and node hellos (cluster-wide session
 *                    monitors, below).
 *
 * Delivery: the server delivers to this node's devices itself and hands
 * the frame (its wire as owner) to omtp_cluster_push_user(), which collects
 * the target users of one frame during the current loop iteration (a group
 * fan-out calls it once per member), looks their presence up in one
 * pipelined round trip, and publishes the frame once to each other node
 * that has any of them. The receiving node delivers to its local devices
 * only (host.deliver).
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
 * Code: the Redis link (redis_link.c, redis_uv.c), the presence table
 * (presence.c), routing of pushes and kicks (routing.c), group notices and
 * node hello/bye (notices.c), the cluster-wide monitor table (monitors.c),
 * the message codec (cluster_msg.c), life cycle and dispatch (cluster.c);
 * their shared state is cluster_int.h. The server is reached only through
 * the host interface it hands in at start (cluster_host.h).
 *
 * Ownership: omtp_cluster_start allocates the state; omtp_cluster_stop hands
 * it to its own teardown (freed once the Redis links and timers closed) and
 * the caller must drop its pointer. Every function taking an omtp_cluster *
 * is a no-op (or answers "no cluster") when it is NULL: the single-node case.
 *
 * Threading: loop thread only (hiredis async API on the libuv adapter).
 */
#ifndef OMTP_CLUSTER_H
#define OMTP_CLUSTER_H

#include <stdint.h>

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "cluster_host.h"
#include "proto/omtp_errors.h" /* OMTP_E* */
#include "tars/tars.h"

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

typedef struct omtp_cluster omtp_cluster;

typedef struct omtp_cluster_options {
    const char *redis_url; /* redis://[:password@]HOST[:PORT][/DB] */
    const char *node_id;   /* "" = hostname:port */
    int port;              /* the bound client port, for the default node id */
    uv_loop_t *loop;
    omtp_cluster_host host; /* copied */
} omtp_cluster_options;

/* Starts the bus: *out is the cluster (NULL and 0 when redis_url is empty:
 * single node). Never fails because Redis is down (it retries); fails with
 * OMTP_EINVAL on a malformed URL (why says what to fix) or OMTP_ENOMEM. */
int omtp_cluster_start(const omtp_cluster_options *o, omtp_cluster **out, char *why, size_t whylen);
/* Removes this node's presence entries (best effort) and closes Redis; cl
 * is freed later by itself: the caller forgets it now. */
void omtp_cluster_stop(omtp_cluster *cl);

/* Hooks from the server (each a no-op when cl is NULL). `dev` is the host's
 * handle of a local device (cluster_host.h). */
/* dev just logged in (after the local same-device kick and presence add). */
void omtp_cluster_login(omtp_cluster *cl, void *dev);
/* dev (which was online) is closing; it is still in the host's presence. */
void omtp_cluster_logout(omtp_cluster *cl, void *dev);
/* Forwards f (f->owner must be set: held until published) to userId's devices on
 * other nodes. Successive calls with the same owner in one loop iteration
 * share one lookup. Returns 0 (delivery is asynchronous; remote devices
 * are not counted). */
int omtp_cluster_push_user(omtp_cluster *cl, const char *userId, const omtp_cluster_frame *f);
/* A client's PT_KICKOUT of its own device on another node: `by` is the
 * kicking device. */
void omtp_cluster_kick_device(omtp_cluster *cl, const omtp_cluster_device *by, int deviceType,
                              const char *deviceId);

/* The membership of groupId changed (committed in the store). Tells every
 * other node to drop its cached member list of the group. done(arg) (may be
 * NULL) runs exactly once: when Redis has answered the PUBLISH -- it has then
 * already handed the notice to every node's subscription, so a client that
 * is told "done" and sends to the group through another node cannot beat
 * the notice there -- or at once (before this returns) when there is no
 * cluster or Redis is down. A node that missed notices (its Redis link was
 * down) drops its whole member cache when it reconnects. */
void omtp_cluster_group_changed(omtp_cluster *cl, const char *groupId, void (*done)(void *arg),
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
void omtp_cluster_monitor_changed(omtp_cluster *cl, const char *sessionId, const char *userId,
                                  bool on, void (*done)(void *arg), void *arg);
/* Forwards w, a push of sessionId, to every other node with connections
 * monitoring it, once per node, naming the monitoring users that are not in
 * `recipients` (they get w as members). One NULL check when no other node
 * monitors anything; no Redis round trip. */
void omtp_cluster_monitor_push(omtp_cluster *cl, const char *sessionId, const omtp_cluster_frame *f,
                               const tars_str_list *recipients);

/* For each of `users`: whether a foreground device (online, not flagged
 * background) of theirs is on ANOTHER node, by the presence table (one
 * pipelined round trip). done(arg, online) runs later on the loop with
 * online[i] per user (false where the lookup failed midway). Returns 0 when
 * the lookup started; otherwise (no cluster, Redis down) an OMTP_E* and
 * done is never called. */
typedef void (*omtp_cluster_online_fn)(void *arg, const bool *online);
int omtp_cluster_remote_foreground(omtp_cluster *cl, const tars_str_list *users,
                                   omtp_cluster_online_fn done, void *arg);
/* Live presence across nodes (presence_watch.c). A user's devices changed
 * on this node: every other node hears it (host.presence_changed there). */
void omtp_cluster_presence_changed(omtp_cluster *cl, const char *userId);
/* For each of `users`: devices online on OTHER nodes and how many of them
 * are in the foreground, by the presence table (one pipelined round trip).
 * done(arg, devices, foreground) runs later on the loop (zeros where the
 * lookup failed). 0 when started; else (no cluster, Redis down) an OMTP_E*
 * and done is never called. */
typedef void (*omtp_cluster_devices_fn)(void *arg, const int *devices, const int *foreground);
int omtp_cluster_remote_devices(omtp_cluster *cl, const tars_str_list *users,
                                omtp_cluster_devices_fn done, void *arg);

/* dev's background flag changed: its presence entry is rewritten now (other
 * nodes' offline-push decisions see it). */
void omtp_cluster_device_changed(omtp_cluster *cl, void *dev);

void omtp_cluster_get_stats(const omtp_cluster *cl, omtp_cluster_stats *out);
const char *omtp_cluster_node_id(const omtp_cluster *cl);

#endif
