/*
 * cluster.c - the cluster's life cycle and the dispatch of bus messages
 * (see cluster.h; the parts are listed there, their state in cluster_int.h).
 *
 * Cost per pushed message: one pipelined HGETALL per target user per loop
 * iteration (all targets of one wire share a round trip), then one PUBLISH
 * per other node that has any of them (routing.c). A heartbeat rewrites this
 * node's presence fields every OMTP_CLUSTER_BEAT_MS (presence.c).
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_int.h"

void cluster_on_channel(omtp_cluster *cl, const char *data, size_t len)
{
    cl->st.received++;
    omtp_cluster_group g;
    if (len > 0 && data[0] == OMTP_CLUSTER_MSG_GROUP) {
        if (omtp_cluster_group_decode(data, len, OMTP_CLUSTER_MSG_GROUP, &g) == 0) {
            notices_on_group(cl, &g);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_PRES) {
        if (omtp_cluster_group_decode(data, len, OMTP_CLUSTER_MSG_PRES, &g) == 0) {
            presence_watch_on_notice(cl, &g);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_GACK) {
        if (omtp_cluster_group_decode(data, len, OMTP_CLUSTER_MSG_GACK, &g) == 0) {
            notices_on_ack(cl, g.token);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_PUSH) {
        omtp_cluster_push m;
        if (omtp_cluster_push_decode(data, len, &m) == 0) {
            routing_on_push(cl, &m);
            omtp_cluster_push_free(&m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_MPUSH) {
        omtp_cluster_push m;
        if (omtp_cluster_mpush_decode(data, len, &m) == 0) {
            monitors_on_mpush(cl, &m);
            omtp_cluster_push_free(&m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_MSUB) {
        omtp_cluster_msub m;
        if (omtp_cluster_msub_decode(data, len, &m) == 0) {
            monitors_on_msub(cl, &m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_HELLO) {
        omtp_cluster_hello h;
        if (omtp_cluster_hello_decode(data, len, &h) == 0) {
            notices_on_hello(cl, &h);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_KICK) {
        omtp_cluster_kick k;
        if (omtp_cluster_kick_decode(data, len, &k) == 0) {
            routing_on_kick(cl, &k);
            return;
        }
    }
    LOG_WARN("cluster: undecodable message (%zu bytes) on %s", len, cl->chan);
}

void cluster_on_up(omtp_cluster *cl, bool recovered)
{
    presence_beat_all(cl);
    notices_send_hello(cl, true);
    redisAsyncHandleWrite(cl->cmd); /* presence back before clients are told to resync */
    if (recovered) {
        /* group member notices may have been lost meanwhile */
        cl->host.group_changed(cl->host.host, NULL);
        /* pushes from other nodes were lost meanwhile: have clients resync */
        presence_resync_all(cl, "cluster bus recovered");
    }
}

void cluster_on_down(omtp_cluster *cl)
{
    notices_finish_all(cl); /* no acks will come */
}

static void on_beat(uv_timer_t *t)
{
    presence_beat_all(t->data);
}

/* The state is freed when its four handles closed and both Redis
 * connections delivered their last callbacks (after omtp_cluster_stop). */
void cluster_release(omtp_cluster *cl)
{
    if (--cl->closing_handles == 0) {
        monitors_clear(cl);
        free(cl->devs);
        free(cl);
    }
}

int omtp_cluster_start(const omtp_cluster_options *o, omtp_cluster **out, char *why, size_t whylen)
{
    *out = NULL;
    if (!o->redis_url || !o->redis_url[0])
        return 0;
    omtp_cluster *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    cl->host = o->host;
    cl->loop = o->loop;
    int rc = link_parse_url(cl, o->redis_url, why, whylen);
    if (rc) {
        free(cl);
        return rc;
    }
    if (o->node_id && o->node_id[0]) {
        snprintf(cl->node, sizeof(cl->node), "%s", o->node_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = 0;
        snprintf(cl->node, sizeof(cl->node), "%s:%d", host, o->port);
    }
    snprintf(cl->chan, sizeof(cl->chan), "omtp:ch:%s", cl->node);
    uv_timer_init(cl->loop, &cl->retry);
    cl->retry.data = cl;
    uv_timer_init(cl->loop, &cl->beat);
    cl->beat.data = cl;
    uv_check_init(cl->loop, &cl->flush);
    cl->flush.data = cl;
    uv_timer_init(cl->loop, &cl->notice_timer);
    cl->notice_timer.data = cl;
    uv_timer_start(&cl->beat, on_beat, OMTP_CLUSTER_BEAT_MS, OMTP_CLUSTER_BEAT_MS);
    *out = cl;
    LOG_INFO("cluster: node %s, Redis %s:%d/%d", cl->node, cl->host_name, cl->port, cl->dbnum);
    link_connect(cl);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    cluster_release(h->data);
}

void omtp_cluster_stop(omtp_cluster *cl)
{
    if (!cl || cl->stopping)
        return;
    /* our devices leave the presence table now, not when their TTL expires */
    presence_leave_all(cl);
    notices_send_hello(cl, false); /* other nodes forget our monitors */
    cl->stopping = true;
    notices_finish_all(cl);
    routing_drop_pending(cl);
    cl->closing_handles = 4 + (cl->cmd ? 1 : 0) + (cl->sub ? 1 : 0);
    link_close(cl); /* sends the HDELs first */
    uv_timer_stop(&cl->beat);
    uv_close((uv_handle_t *)&cl->retry, on_handle_closed);
    uv_close((uv_handle_t *)&cl->beat, on_handle_closed);
    uv_close((uv_handle_t *)&cl->flush, on_handle_closed);
    uv_timer_stop(&cl->notice_timer);
    uv_close((uv_handle_t *)&cl->notice_timer, on_handle_closed);
}

void omtp_cluster_get_stats(const omtp_cluster *cl, omtp_cluster_stats *out)
{
    if (!cl) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = cl->st;
}

const char *omtp_cluster_node_id(const omtp_cluster *cl)
{
    return cl ? cl->node : "";
}
