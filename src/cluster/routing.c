/*
 * routing.c - cross-node pushes and kicks (cluster.h, "Delivery", "Login").
 *
 * A push: omtp_cluster_push_user collects the target users of one frame
 * during the current loop iteration (a group fan-out calls it once per
 * member; the frame's owner is held, never copied), a check handle looks
 * them up together (one pipelined HGETALL per user) and publishes the
 * frame once to each other node that has any of them. The receiving node
 * hands it to host.deliver for its local devices.
 *
 * A kick: a login that replaced another node's device (presence.c) or a
 * client's PT_KICKOUT of its own device elsewhere sends that node a kick
 * message; the node closes its matching devices through host.kick.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

/* One frame being routed: the users it targets, collected during one loop
 * iteration, then looked up together. */
typedef struct route_batch {
    struct route_batch *next;
    omtp_cluster_frame f; /* f.owner held until the batch is freed */
    char **users;
    uint32_t n, cap;
    uint32_t replies; /* HGETALL replies received */
    char **node_of;   /* per user: node names, NUL-separated, "" ending */
    omtp_cluster *cl;
} route_batch;

static void batch_free(route_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        free(b->users[i]);
        if (b->node_of)
            free(b->node_of[i]);
    }
    free(b->users);
    free(b->node_of);
    b->cl->host.release(b->cl->host.host, b->f.owner);
    free(b);
}

/* Node names of one user's live entries (other than ours), as one string of
 * NUL-separated names ending with an empty name. */
static char *live_nodes(omtp_cluster *cl, const redisReply *rep)
{
    size_t cap = 1, len = 0;
    char *out = NULL;
    int64_t now = omtp_now_ms();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        char node[OMTP_CLUSTER_NODE_MAX];
        int dt;
        int64_t exp, login;
        bool bg;
        const char *devId;
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !presence_field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !presence_entry_parse(v->str, &exp, &login, &bg, &devId) || exp < now ||
            strcmp(node, cl->node) == 0)
            continue;
        /* skip a node already listed (several devices there) */
        bool seen = false;
        for (size_t k = 0; out && k < len; k += strlen(out + k) + 1)
            if (strcmp(out + k, node) == 0)
                seen = true;
        if (seen)
            continue;
        size_t nl = strlen(node) + 1;
        char *p = realloc(out, len + nl + cap);
        if (!p)
            break;
        out = p;
        memcpy(out + len, node, nl);
        len += nl;
    }
    if (!out)
        return NULL;
    out[len] = 0;
    return out;
}

static void batch_publish(omtp_cluster *cl, route_batch *b)
{
    /* for each distinct node: the users it hosts, one PUBLISH */
    const char **nodes = NULL;
    uint32_t nn = 0;
    for (uint32_t i = 0; i < b->n; i++)
        for (const char *p = b->node_of[i]; p && *p; p += strlen(p) + 1) {
            bool seen = false;
            for (uint32_t k = 0; k < nn; k++)
                if (strcmp(nodes[k], p) == 0)
                    seen = true;
            if (!seen) {
                const char **q = realloc(nodes, (nn + 1) * sizeof(*q));
                if (!q)
                    continue;
                nodes = q;
                nodes[nn++] = p;
            }
        }
    for (uint32_t k = 0; k < nn; k++) {
        omtp_cluster_push m;
        memset(&m, 0, sizeof(m));
        m.type = b->f.type;
        m.flags = b->f.flags;
        m.packId = b->f.packId;
        m.payload = b->f.payload;
        m.payload_len = b->f.len;
        const char **users = malloc(b->n * sizeof(*users));
        if (!users)
            continue;
        for (uint32_t i = 0; i < b->n; i++)
            for (const char *p = b->node_of[i]; p && *p; p += strlen(p) + 1)
                if (strcmp(p, nodes[k]) == 0) {
                    users[m.nusers++] = b->users[i];
                    break;
                }
        m.users = users;
        tars_buf buf;
        tars_buf_init(&buf);
        omtp_cluster_push_encode(&buf, &m);
        if (tars_buf_ok(&buf)) {
            link_publish(cl, nodes[k], &buf);
            cl->st.remote_push += m.nusers;
        }
        tars_buf_free(&buf);
        free(users);
    }
    free(nodes);
}

static void on_route_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    route_batch *b = priv;
    omtp_cluster *cl = b->cl;
    uint32_t i = b->replies++;
    if (r == NULL)
        cl->st.dropped++;
    else if (i < b->n)
        b->node_of[i] = live_nodes(cl, r);
    if (b->replies < b->n)
        return;
    if (!cl->stopping)
        batch_publish(cl, b);
    batch_free(b);
}

static void flush_batches(uv_check_t *h)
{
    omtp_cluster *cl = h->data;
    route_batch *b = cl->pending;
    cl->pending = cl->pending_tail = NULL;
    uv_check_stop(&cl->flush);
    cl->flush_active = false;
    while (b) {
        route_batch *next = b->next;
        b->next = NULL;
        b->node_of = calloc(b->n, sizeof(*b->node_of));
        if (!b->node_of || !link_cmd_ready(cl)) {
            cl->st.dropped += b->n;
            batch_free(b);
            b = next;
            continue;
        }
        /* one HGETALL per user, pipelined: replies arrive in order */
        uint32_t sent = 0;
        for (uint32_t i = 0; i < b->n; i++) {
            if (redisAsyncCommand(cl->cmd, on_route_reply, b, "HGETALL omtp:u:%s", b->users[i]) !=
                REDIS_OK)
                break;
            sent++;
        }
        if (sent < b->n) {
            /* the connection failed mid-way: the replies of the sent ones
             * still come (as NULL); account the rest now */
            cl->st.dropped += b->n - sent;
            b->replies += b->n - sent;
            if (sent == 0)
                batch_free(b);
        }
        b = next;
    }
}

int omtp_cluster_push_user(omtp_cluster *cl, const char *userId, const omtp_cluster_frame *f)
{
    if (!cl || cl->stopping || !f->owner)
        return 0;
    if (!link_cmd_ready(cl)) {
        cl->st.dropped++;
        return 0;
    }
    route_batch *b = cl->pending_tail;
    if (!b || b->f.owner != f->owner) {
        b = calloc(1, sizeof(*b));
        if (!b)
            return 0;
        b->cl = cl;
        b->f = *f;
        cl->host.hold(cl->host.host, f->owner);
        if (cl->pending_tail)
            cl->pending_tail->next = b;
        else
            cl->pending = b;
        cl->pending_tail = b;
    }
    for (uint32_t i = 0; i < b->n; i++)
        if (strcmp(b->users[i], userId) == 0)
            return 0;
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 4;
        char **p = realloc(b->users, cap * sizeof(*p));
        if (!p)
            return 0;
        b->users = p;
        b->cap = cap;
    }
    char *u = strdup(userId);
    if (!u)
        return 0;
    b->users[b->n++] = u;
    if (!cl->flush_active) {
        uv_check_start(&cl->flush, flush_batches);
        cl->flush_active = true;
    }
    return 0;
}

void routing_drop_pending(omtp_cluster *cl)
{
    /* batches not looked up yet are dropped; those in flight complete (their
     * callbacks run before the connection's disconnect callback) */
    route_batch *b = cl->pending;
    while (b) {
        route_batch *next = b->next;
        batch_free(b);
        b = next;
    }
    cl->pending = cl->pending_tail = NULL;
    uv_check_stop(&cl->flush);
}

/* A push for users of ours published by another node. */
void routing_on_push(omtp_cluster *cl, const omtp_cluster_push *m)
{
    omtp_cluster_frame f = {m->type, m->flags, m->packId, m->payload, m->payload_len, NULL};
    cl->host.deliver(cl->host.host, m->users, m->nusers, &f);
}

/* ---------------------------------------------------------- kicking */

void routing_on_kick(omtp_cluster *cl, const omtp_cluster_kick *k)
{
    omtp_cluster_kick_order o = {
        .userId = k->userId,
        .deviceType = k->deviceType,
        .deviceId = k->deviceId,
        .beforeMs = k->beforeMs,
        .byType = k->byType,
        .byId = k->byId,
        .why = k->deviceId[0] ? "kicked out by the user's own device"
                              : "replaced by a new login on the same device type",
    };
    cl->st.kicks_received += cl->host.kick(cl->host.host, &o);
}

void routing_send_kick(omtp_cluster *cl, const char *node, const omtp_cluster_kick *k)
{
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_kick_encode(&b, k);
    if (tars_buf_ok(&b)) {
        link_publish(cl, node, &b);
        cl->st.kicks_sent++;
    }
    tars_buf_free(&b);
}

static void on_kick_lookup(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster_kick *k = priv;
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    int64_t now = omtp_now_ms();
    for (size_t i = 0; cl && rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
         i += 2) {
        char node[OMTP_CLUSTER_NODE_MAX];
        int dt;
        int64_t exp, login;
        bool bg;
        const char *devId;
        redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !presence_field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !presence_entry_parse(v->str, &exp, &login, &bg, &devId) || exp < now ||
            dt != k->deviceType || strcmp(node, cl->node) == 0 ||
            (k->deviceId[0] && strcmp(devId, k->deviceId) != 0))
            continue;
        routing_send_kick(cl, node, k);
    }
    free(k);
}

void omtp_cluster_kick_device(omtp_cluster *cl, const omtp_cluster_device *by, int deviceType,
                              const char *deviceId)
{
    if (!cl || !link_cmd_ready(cl))
        return;
    omtp_cluster_kick *k = calloc(1, sizeof(*k));
    if (!k)
        return;
    snprintf(k->userId, sizeof(k->userId), "%s", by->userId);
    k->deviceType = deviceType;
    snprintf(k->deviceId, sizeof(k->deviceId), "%s", deviceId ? deviceId : "");
    k->beforeMs = INT64_MAX;
    k->byType = by->deviceType;
    snprintf(k->byId, sizeof(k->byId), "%s", by->deviceId);
    if (redisAsyncCommand(cl->cmd, on_kick_lookup, k, "HGETALL omtp:u:%s", by->userId) != REDIS_OK)
        free(k);
}
