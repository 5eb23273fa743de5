/*
 * notices.c - broadcast notices: "group members changed" (with acks from
 * every other node), and a node's hello / bye (cluster.h, docs/cluster.md).
 *
 * A notice waits for the acks of the nodes that received it: PUBLISH on the
 * broadcast channel answers how many subscribers got it (every node, ours
 * included); each other node answers with an ack on our channel. done()
 * runs once all acked, after OMTP_CLUSTER_NOTICE_WAIT_MS, or at once when
 * the notice cannot be sent. monitors.c uses the same mechanism for "a
 * monitor started" notices.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

/* A notice waiting for the other nodes' acks. */
typedef struct group_notice {
    struct group_notice *next;
    uint64_t token;
    int expected; /* acks to wait for; -1 until PUBLISH answered */
    int acks;
    uint64_t deadline;                       /* loop ms */
    char subject[OMTP_CLUSTER_SID_MAX + 32]; /* for the log: what changed */
    void (*done)(void *arg);
    void *arg;
} group_notice;

static void notice_finish(omtp_cluster *cl, group_notice *n)
{
    for (group_notice **pp = &cl->notices; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    if (!cl->notices)
        uv_timer_stop(&cl->notice_timer);
    if (n->done)
        n->done(n->arg);
    free(n);
}

void notices_finish_all(omtp_cluster *cl)
{
    while (cl->notices)
        notice_finish(cl, cl->notices);
}

static group_notice *notice_find(omtp_cluster *cl, uint64_t token)
{
    for (group_notice *n = cl->notices; n; n = n->next)
        if (n->token == token)
            return n;
    return NULL;
}

static void notice_check(omtp_cluster *cl, group_notice *n)
{
    if (n->expected >= 0 && n->acks >= n->expected)
        notice_finish(cl, n);
}

static void on_notice_timer(uv_timer_t *t)
{
    omtp_cluster *cl = t->data;
    uint64_t now = uv_now(cl->loop);
    group_notice *n = cl->notices;
    while (n) {
        group_notice *next = n->next;
        if (now >= n->deadline) {
            LOG_WARN("cluster: %s: %d of %d other nodes confirmed within %d ms; going on",
                     n->subject, n->acks, n->expected, OMTP_CLUSTER_NOTICE_WAIT_MS);
            notice_finish(cl, n);
        }
        n = next;
    }
}

static void on_notice_published(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    uint64_t token = (uint64_t)(uintptr_t)priv;
    group_notice *n = cl ? notice_find(cl, token) : NULL;
    if (!n)
        return; /* finished already (timeout, Redis down, stop) */
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        notice_finish(cl, n);
        return;
    }
    /* every subscriber of the broadcast channel is a node; ours ignores it */
    n->expected = (int)rep->integer - (cl->sub_up ? 1 : 0);
    notice_check(cl, n);
}

void notice_publish(omtp_cluster *cl, uint64_t token, const tars_buf *msg, const char *subject,
                    void (*done)(void *arg), void *arg)
{
    group_notice *n = NULL;
    if (cl->stopping || !link_cmd_ready(cl) || !cl->sub_up || !tars_buf_ok(msg) ||
        !(n = calloc(1, sizeof(*n))))
        goto now;
    n->token = token;
    n->expected = -1;
    n->deadline = uv_now(cl->loop) + OMTP_CLUSTER_NOTICE_WAIT_MS;
    snprintf(n->subject, sizeof(n->subject), "%s", subject);
    n->done = done;
    n->arg = arg;
    if (link_broadcast(cl, msg, on_notice_published, (void *)(uintptr_t)token) != REDIS_OK)
        goto now;
    n->next = NULL;
    group_notice **tail = &cl->notices;
    while (*tail)
        tail = &(*tail)->next;
    *tail = n;
    if (!uv_is_active((uv_handle_t *)&cl->notice_timer))
        uv_timer_start(&cl->notice_timer, on_notice_timer, 100, 100);
    cl->st.published++;
    return;
now:
    free(n);
    if (done)
        done(arg);
}

void notices_on_ack(omtp_cluster *cl, uint64_t token)
{
    group_notice *n = notice_find(cl, token);
    if (!n)
        return; /* late: we stopped waiting */
    n->acks++;
    notice_check(cl, n);
}

void notices_ack(omtp_cluster *cl, const char *to, uint64_t token)
{
    omtp_cluster_group ack;
    memset(&ack, 0, sizeof(ack));
    snprintf(ack.node, sizeof(ack.node), "%s", cl->node);
    ack.token = token;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GACK, &ack);
    if (tars_buf_ok(&b))
        link_publish(cl, to, &b);
    tars_buf_free(&b);
}

/* ------------------------------------------------ group member notices */

/* Another node's notice: drop our cached list, then confirm to that node. */
void notices_on_group(omtp_cluster *cl, const omtp_cluster_group *g)
{
    if (strcmp(g->node, cl->node) == 0)
        return; /* our own: applied before it was sent */
    cl->st.group_received++;
    LOG_DEBUG("cluster: members of %s changed on node %s", g->groupId, g->node);
    cl->host.group_changed(cl->host.host, g->groupId);
    notices_ack(cl, g->node, g->token);
}

void omtp_cluster_group_changed(omtp_cluster *cl, const char *groupId, void (*done)(void *arg),
                                void *arg)
{
    if (!cl) {
        if (done)
            done(arg);
        return;
    }
    omtp_cluster_group g;
    memset(&g, 0, sizeof(g));
    snprintf(g.node, sizeof(g.node), "%s", cl->node);
    snprintf(g.groupId, sizeof(g.groupId), "%s", groupId);
    g.token = ++cl->next_token;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GROUP, &g);
    char subject[OMTP_ID_MAX + 32];
    snprintf(subject, sizeof(subject), "members of %s changed", groupId);
    cl->st.group_sent++;
    notice_publish(cl, g.token, &b, subject, done, arg);
    tars_buf_free(&b);
}

/* ------------------------------------------------------- hello / bye */

/* Our Redis link came up (start or recovery): what we knew of other nodes'
 * monitors may be stale, and they may have missed our changes. Say hello:
 * every node drops our entries and re-announces its own to us; then
 * announce ours (the same connection, so they arrive after the hello).
 * Bye (stop): other nodes forget our monitors. */
void notices_send_hello(omtp_cluster *cl, bool hello)
{
    if (!link_cmd_ready(cl))
        return;
    if (hello)
        monitors_drop_node(cl, NULL);
    omtp_cluster_hello h;
    memset(&h, 0, sizeof(h));
    snprintf(h.node, sizeof(h.node), "%s", cl->node);
    h.hello = hello;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_hello_encode(&b, &h);
    if (tars_buf_ok(&b))
        link_broadcast(cl, &b, NULL, NULL);
    tars_buf_free(&b);
    if (hello)
        monitors_announce_all(cl, NULL);
}

void notices_on_hello(omtp_cluster *cl, const omtp_cluster_hello *h)
{
    if (strcmp(h->node, cl->node) == 0)
        return;
    LOG_INFO("cluster: node %s %s", h->node,
             h->hello ? "started (our session monitors are re-announced to it)"
                      : "stops (its session monitors are forgotten)");
    monitors_drop_node(cl, h->node);
    if (h->hello)
        monitors_announce_all(cl, h->node);
}
