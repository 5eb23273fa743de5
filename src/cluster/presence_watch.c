/*
 * presence_watch.c - live presence across nodes (cluster.h): the
 * "presence changed" notice ('Y' on the broadcast channel) and the lookup
 * of a user's devices on the other nodes.
 *
 * A node whose user's devices changed (login, close, background) publishes
 * 'Y'; every other node hands it to its host (host.presence_changed), which
 * reads that user's entries again with omtp_cluster_remote_devices when
 * someone there watches the user. Best effort, like pushes: a notice lost
 * while Redis is down is caught up by the next change.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

void omtp_cluster_presence_changed(omtp_cluster *cl, const char *userId)
{
    if (!cl || cl->stopping || !link_cmd_ready(cl))
        return;
    omtp_cluster_group g;
    memset(&g, 0, sizeof(g));
    snprintf(g.node, sizeof(g.node), "%s", cl->node);
    snprintf(g.groupId, sizeof(g.groupId), "%s", userId);
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_PRES, &g);
    if (link_broadcast(cl, &b, NULL, NULL) == REDIS_OK)
        cl->st.published++;
    tars_buf_free(&b);
}

void presence_watch_on_notice(omtp_cluster *cl, const omtp_cluster_group *g)
{
    if (!strcmp(g->node, cl->node) || !cl->host.presence_changed)
        return; /* our own */
    cl->host.presence_changed(cl->host.host, g->groupId);
}

typedef struct dev_lookup {
    omtp_cluster *cl;
    uint32_t n, replies;
    int *devices, *fg;
    omtp_cluster_devices_fn done;
    void *arg;
} dev_lookup;

static void on_dev_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    dev_lookup *q = priv;
    redisReply *rep = r;
    uint32_t i = q->replies++;
    int64_t now = omtp_now_ms();
    for (size_t k = 0; i < q->n && rep && rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements;
         k += 2) {
        char node[OMTP_CLUSTER_NODE_MAX];
        int dt;
        int64_t exp, login;
        bool bg;
        const char *devId;
        const redisReply *f = rep->element[k], *v = rep->element[k + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !presence_field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !presence_entry_parse(v->str, &exp, &login, &bg, &devId) || exp < now ||
            strcmp(node, q->cl->node) == 0)
            continue;
        q->devices[i]++;
        q->fg[i] += !bg;
    }
    if (q->replies < q->n)
        return;
    q->done(q->arg, q->devices, q->fg);
    free(q->devices);
    free(q->fg);
    free(q);
}

int omtp_cluster_remote_devices(omtp_cluster *cl, const tars_str_list *users,
                                omtp_cluster_devices_fn done, void *arg)
{
    if (!cl || cl->stopping || !link_cmd_ready(cl) || !users->n)
        return OMTP_ECLOSED;
    dev_lookup *q = calloc(1, sizeof(*q));
    if (!q || !(q->devices = calloc(users->n, sizeof(int))) ||
        !(q->fg = calloc(users->n, sizeof(int)))) {
        if (q)
            free(q->devices);
        free(q);
        return OMTP_ENOMEM;
    }
    q->cl = cl;
    q->n = users->n;
    q->done = done;
    q->arg = arg;
    uint32_t sent = 0;
    for (uint32_t i = 0; i < users->n; i++) {
        if (redisAsyncCommand(cl->cmd, on_dev_reply, q, "HGETALL omtp:u:%s",
                              users->items[i].data) != REDIS_OK)
            break;
        sent++;
    }
    if (sent == 0) {
        free(q->devices);
        free(q->fg);
        free(q);
        return OMTP_ECLOSED;
    }
    q->replies += users->n - sent; /* the unsent count as "none" */
    return 0;
}
