/*
 * cluster_host.c - the host interface (cluster/cluster_host.h) this server
 * hands the cluster, and the server-side hooks of cluster_hooks.h.
 *
 * Device handles are omtp_conn pointers. The cluster keeps them between
 * login and logout; logout runs from a close observer (server.h) while the
 * connection is still in the presence table, so a handle never outlives
 * its connection's ONLINE state. Frames pushed from here have the wire as
 * owner (held with omtp_wire_ref): the cluster publishes the wire's payload
 * without copying it.
 *
 * Threading: loop thread only.
 */
#include <string.h>

#include "cluster_hooks.h"
#include "core/core.h"
#include "domain/group_state.h"
#include "domain/presence.h"
#include "monitor.h"

static omtp_cluster_frame frame_of(omtp_wire *w)
{
    omtp_cluster_frame f = {w->type,         w->flags,       w->packId,
                            w->payload.data, w->payload.len, w /* owner */};
    return f;
}

/* ------------------------------------------------------ host functions */

static void h_describe(void *host, void *dev, omtp_cluster_device *out)
{
    (void)host;
    const omtp_conn *c = dev;
    out->userId = c->userId;
    out->deviceType = c->deviceType;
    out->deviceId = c->deviceId;
    out->loginMs = c->loginMs;
    out->background = c->background;
}

static bool h_same_type_online(void *host, void *dev)
{
    omtp_server *s = host;
    const omtp_conn *c = dev;
    for (omtp_conn *d = omtp_presence_first(s, c->userId); d; d = d->next_device)
        if (d != c && d->deviceType == c->deviceType && d->state == OMTP_CONN_ONLINE)
            return true;
    return false;
}

static uint32_t h_deliver(void *host, const char *const *users, uint32_t n,
                          const omtp_cluster_frame *f)
{
    omtp_server *s = host;
    omtp_wire *w = omtp_wire_new_raw(f->type, f->flags, f->packId, f->payload, f->len);
    if (!w)
        return 0;
    uint32_t sent = 0;
    for (uint32_t i = 0; i < n; i++) {
        omtp_conn *c = omtp_presence_first(s, users[i]);
        while (c) {
            omtp_conn *next = c->next_device;
            if (c->state == OMTP_CONN_ONLINE && omtp_conn_send_wire(c, w) == 0) {
                s->metrics.pushes++;
                sent++;
            }
            c = next;
        }
    }
    omtp_wire_unref(w);
    return sent;
}

/* Closes a local device replaced (or removed) by a device elsewhere, with
 * the same KickOutReq a single node sends. */
static void kick_local(omtp_server *s, omtp_conn *victim, int byType, const char *byId,
                       const char *why)
{
    omtp_KickOutReq k;
    omtp_msg_init(&omtp_KickOutReq_desc, &k);
    k.deviceType = byType;
    if (tars_str_set(&k.deviceId, byId) == 0) {
        omtp_wire *w = omtp_wire_new(PT_KICKOUT, 0, NULL, &omtp_KickOutReq_desc, &k);
        if (w) {
            omtp_conn_send_wire(victim, w);
            omtp_wire_unref(w);
        }
    }
    omtp_msg_free(&omtp_KickOutReq_desc, &k);
    s->metrics.kicks++;
    LOG_INFO("conn %llu kick user=%s dev=%s: %s (cluster)", (unsigned long long)victim->id,
             victim->userId, omtp_log_device(victim->deviceType), why);
    omtp_conn_close(victim, why);
}

static uint32_t h_kick(void *host, const omtp_cluster_kick_order *k)
{
    omtp_server *s = host;
    uint32_t n = 0;
    omtp_conn *c = omtp_presence_first(s, k->userId);
    while (c) {
        omtp_conn *next = c->next_device;
        if (c->state == OMTP_CONN_ONLINE && c->deviceType == k->deviceType &&
            c->loginMs <= k->beforeMs &&
            (!k->deviceId[0] || strcmp(c->deviceId, k->deviceId) == 0)) {
            kick_local(s, c, k->byType, k->byId, k->why);
            n++;
        }
        c = next;
    }
    return n;
}

static void h_resync(void *host, void *dev, const char *why)
{
    (void)host;
    omtp_conn *c = dev;
    if (c->state != OMTP_CONN_ONLINE)
        return;
    omtp_SyncDataReq r;
    omtp_msg_init(&omtp_SyncDataReq_desc, &r);
    r.command = 2; /* sessions */
    if (tars_str_set(&r.content, why) == 0) {
        omtp_wire *w = omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &r);
        if (w) {
            omtp_conn_send_wire(c, w);
            omtp_wire_unref(w);
        }
    }
    omtp_msg_free(&omtp_SyncDataReq_desc, &r);
}

static void h_group_changed(void *host, const char *groupId)
{
    omtp_server *s = host;
    if (groupId)
        omtp_group_cache_invalidate(s, groupId);
    else
        omtp_group_cache_invalidate_all(s);
}

static void h_monitors_each(void *host, void (*fn)(void *arg, const char *sid, const char *user),
                            void *arg)
{
    omtp_monitor_each(host, fn, arg);
}

static void h_monitor_deliver(void *host, const char *sessionId, const omtp_cluster_frame *f,
                              const char *const *users, uint32_t n)
{
    omtp_wire *w = omtp_wire_new_raw(f->type, f->flags, f->packId, f->payload, f->len);
    if (!w)
        return;
    omtp_monitor_push_users(host, sessionId, w, users, n);
    omtp_wire_unref(w);
}

static void h_hold(void *host, void *owner)
{
    (void)host;
    if (owner)
        omtp_wire_ref(owner);
}

static void h_release(void *host, void *owner)
{
    (void)host;
    if (owner)
        omtp_wire_unref(owner);
}

static void h_presence_changed(void *host, const char *userId)
{
    omtp_dom_presence_remote_changed(host, userId); /* watchers here (domain/presence.h) */
}

/* -------------------------------------------------------------- hooks */

/* A closing connection (which was online) leaves the cluster presence. */
static void on_conn_close(void *arg, omtp_conn *c)
{
    omtp_server *s = arg;
    omtp_cluster_logout(s->cluster, c);
}

int omtp_server_cluster_start(omtp_server *s, int port, char *why, size_t whylen)
{
    omtp_cluster_options o = {
        .redis_url = s->cfg->redis_url,
        .node_id = s->cfg->node_id,
        .port = port,
        .loop = s->loop,
        .host =
            {
                .host = s,
                .describe = h_describe,
                .same_type_online = h_same_type_online,
                .deliver = h_deliver,
                .kick = h_kick,
                .resync = h_resync,
                .group_changed = h_group_changed,
                .presence_changed = h_presence_changed,
                .monitors_each = h_monitors_each,
                .monitor_deliver = h_monitor_deliver,
                .hold = h_hold,
                .release = h_release,
            },
    };
    int rc = omtp_cluster_start(&o, &s->cluster, why, whylen);
    if (rc || !s->cluster)
        return rc;
    if ((rc = omtp_server_on_close(s, on_conn_close, s))) {
        omtp_cluster_stop(s->cluster);
        s->cluster = NULL;
        snprintf(why, whylen, "cannot watch connection closes for the cluster: %s",
                 omtp_strerror(rc));
        return rc;
    }
    s->push_remote = omtp_server_cluster_push_user; /* omtp_push_user's other nodes */
    return 0;
}

void omtp_server_cluster_stop(omtp_server *s)
{
    if (!s->cluster)
        return;
    omtp_cluster *cl = s->cluster;
    s->push_remote = NULL;
    omtp_server_off_close(s, on_conn_close, s);
    omtp_cluster_stop(cl);
    s->cluster = NULL;
}

void omtp_server_cluster_login(omtp_conn *c)
{
    omtp_cluster_login(c->srv->cluster, c);
}

void omtp_server_cluster_device_changed(omtp_conn *c)
{
    if (c->state == OMTP_CONN_ONLINE)
        omtp_cluster_device_changed(c->srv->cluster, c);
}

void omtp_server_cluster_kick_device(omtp_conn *c, int deviceType, const char *deviceId)
{
    if (!c->srv->cluster)
        return;
    omtp_cluster_device by;
    h_describe(c->srv, c, &by);
    omtp_cluster_kick_device(c->srv->cluster, &by, deviceType, deviceId);
}

void omtp_server_cluster_push_user(omtp_server *s, const char *userId, omtp_wire *w)
{
    if (!s->cluster)
        return;
    omtp_cluster_frame f = frame_of(w);
    omtp_cluster_push_user(s->cluster, userId, &f);
}

void omtp_server_cluster_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w,
                                      const tars_str_list *recipients)
{
    if (!s->cluster)
        return;
    omtp_cluster_frame f = frame_of(w);
    omtp_cluster_monitor_push(s->cluster, sessionId, &f, recipients);
}
