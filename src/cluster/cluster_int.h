/*
 * cluster_int.h - the cluster's state and the functions its files share.
 * Private to src/cluster; the server sees cluster.h and cluster_host.h.
 *
 * Ownership: one omtp_cluster per node, allocated by omtp_cluster_start
 * (cluster.c) and freed by cluster_release once its four loop handles closed
 * and both Redis connections delivered their last callbacks. Each part owns
 * its own fields, marked below; the others only read them.
 *
 * Threading: loop thread only, like everything in the cluster.
 */
#ifndef OMTP_CLUSTER_INT_H
#define OMTP_CLUSTER_INT_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "cluster.h"
#include "cluster_msg.h"
#include "proto/omtp_errors.h"
#include "proto/omtp_packet.h" /* omtp_now_ms */
#include "util/log.h"

#define OMTP_CLUSTER_BCAST_CHAN     "omtp:bc" /* every node subscribes */
#define OMTP_CLUSTER_NOTICE_WAIT_MS 2000      /* longest wait for other nodes' acks of a notice */
#define OMTP_CLUSTER_NODE_MAX       128

struct route_batch;
struct group_notice;
struct rmon_ent;

struct omtp_cluster {
    omtp_cluster_host host;
    uv_loop_t *loop;
    char node[OMTP_CLUSTER_NODE_MAX];
    char chan[160];
    bool stopping;
    int closing_handles; /* cluster_release frees at 0 */
    omtp_cluster_stats st;

    /* redis_link.c */
    char host_name[256];
    int port;
    int dbnum;
    char password[128];
    redisAsyncContext *cmd, *sub;
    bool cmd_up, sub_up;
    bool ever_up; /* had both up before (a recovery resyncs clients) */
    uv_timer_t retry;
    uint64_t backoff_ms;

    /* presence.c: this node's online devices (host handles), for the
     * heartbeat, stop and recovery */
    uv_timer_t beat;
    void **devs;
    uint32_t ndevs, capdevs;

    /* routing.c: wires collected this loop iteration */
    uv_check_t flush;
    bool flush_active;
    struct route_batch *pending, *pending_tail;

    /* notices.c: notices waiting for acks, oldest first */
    struct group_notice *notices;
    uint64_t next_token;
    uv_timer_t notice_timer;

    /* monitors.c: remote monitor subscriptions; NULL while there is none,
     * so a push of an unmonitored session costs one NULL check */
    struct rmon_ent **rmon;
    uint32_t rmon_count;
};

/* cluster.c */
void cluster_release(omtp_cluster *cl);
/* A message on our channel or the broadcast channel. */
void cluster_on_channel(omtp_cluster *cl, const char *data, size_t len);
/* Both Redis connections are up now (after start or a recovery). */
void cluster_on_up(omtp_cluster *cl, bool recovered);
/* The link went down: no acks will come. */
void cluster_on_down(omtp_cluster *cl);

/* redis_link.c: connections, retry, publishing */
int link_parse_url(omtp_cluster *cl, const char *url, char *why, size_t whylen);
void link_connect(omtp_cluster *cl);
/* Closes both connections (stop): each open one still calls back once
 * (cluster_release counts it). */
void link_close(omtp_cluster *cl);
bool link_cmd_ready(const omtp_cluster *cl);
/* PUBLISH msg on node's channel (best effort, counted). */
void link_publish(omtp_cluster *cl, const char *node, const tars_buf *msg);
/* PUBLISH msg on the broadcast channel, reply to cb(priv) (may be NULL).
 * REDIS_OK or REDIS_ERR. */
int link_broadcast(omtp_cluster *cl, const tars_buf *msg, redisCallbackFn *cb, void *priv);

/* presence.c */
/* "<node>/<deviceType>" and "<expires>/<login>/b<0|1>/<deviceId>" parsed. */
bool presence_field_parse(const char *f, size_t flen, char *node, size_t nodelen, int *deviceType);
bool presence_entry_parse(const char *v, int64_t *expires, int64_t *login, bool *background,
                          const char **deviceId);
/* Rewrites every registered device's entry (heartbeat, recovery). */
void presence_beat_all(omtp_cluster *cl);
/* Stop: removes our entries, empties the registry. */
void presence_leave_all(omtp_cluster *cl);
/* Recovery: every registered device resyncs. */
void presence_resync_all(omtp_cluster *cl, const char *why);

/* presence_watch.c: another node says a user's devices changed */
void presence_watch_on_notice(omtp_cluster *cl, const omtp_cluster_group *g);

/* routing.c */
void routing_on_push(omtp_cluster *cl, const omtp_cluster_push *m);
void routing_on_kick(omtp_cluster *cl, const omtp_cluster_kick *k);
void routing_send_kick(omtp_cluster *cl, const char *node, const omtp_cluster_kick *k);
/* Stop: drops batches not looked up yet. */
void routing_drop_pending(omtp_cluster *cl);

/* notices.c */
/* Publishes msg (carrying `token`) on the broadcast channel; done(arg) runs
 * once every other node acked it, after NOTICE_WAIT_MS, or at once (before
 * this returns) when it cannot be sent. */
void notice_publish(omtp_cluster *cl, uint64_t token, const tars_buf *msg, const char *subject,
                    void (*done)(void *arg), void *arg);
void notices_finish_all(omtp_cluster *cl);
void notices_on_group(omtp_cluster *cl, const omtp_cluster_group *g);
void notices_on_ack(omtp_cluster *cl, uint64_t token);
/* Acks notice `token` of node `to`. */
void notices_ack(omtp_cluster *cl, const char *to, uint64_t token);
/* hello (link up) or bye (stop) on the broadcast channel. */
void notices_send_hello(omtp_cluster *cl, bool hello);
void notices_on_hello(omtp_cluster *cl, const omtp_cluster_hello *h);

/* monitors.c */
void monitors_on_msub(omtp_cluster *cl, const omtp_cluster_msub *m);
void monitors_on_mpush(omtp_cluster *cl, const omtp_cluster_push *m);
/* Forgets every subscription of node (NULL: of every node). */
void monitors_drop_node(omtp_cluster *cl, const char *node);
/* Tells node (NULL: every node) every (session, user) monitored here. */
void monitors_announce_all(omtp_cluster *cl, const char *node);
void monitors_clear(omtp_cluster *cl);

#endif
