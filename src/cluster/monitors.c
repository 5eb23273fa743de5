/*
 * monitors.c - cluster-wide session monitors (docs/cluster.md, "Session
 * monitors"): which (session, user) pairs other nodes monitor, and the
 * forwarding of a session's pushes to them.
 *
 * The table maps sessionId -> (node, user) entries, set semantics; it is
 * NULL while empty so that a push of an unmonitored session costs one NULL
 * check. Entries come from other nodes' subscription messages and are
 * dropped by their "off", their hello/bye (notices.c), or when a PUBLISH to
 * their channel reaches nobody. This node's own monitors live in the server
 * (host.monitors_each lists them, host.monitor_deliver delivers to them).
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

#define RMON_BUCKETS 256

/* Another node's connections of `user` monitor session `sid`. */
typedef struct rmon_ent {
    struct rmon_ent *next; /* bucket chain */
    char node[OMTP_CLUSTER_NODE_MAX];
    char user[OMTP_ID_MAX + 1];
    char sid[];
} rmon_ent;

static uint32_t rmon_hash(const char *sid)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *sid; sid++)
        h = (h ^ (uint8_t)*sid) * 16777619u;
    return h % RMON_BUCKETS;
}

static void rmon_set(omtp_cluster *cl, const omtp_cluster_msub *m)
{
    uint32_t h = rmon_hash(m->sessionId);
    for (rmon_ent **pp = cl->rmon ? &cl->rmon[h] : NULL; pp && *pp; pp = &(*pp)->next) {
        rmon_ent *e = *pp;
        if (strcmp(e->sid, m->sessionId) == 0 && strcmp(e->node, m->node) == 0 &&
            strcmp(e->user, m->userId) == 0) {
            if (!m->on) {
                *pp = e->next;
                free(e);
                if (--cl->rmon_count == 0)
                    monitors_clear(cl);
            }
            return;
        }
    }
    if (!m->on)
        return;
    if (!cl->rmon && !(cl->rmon = calloc(RMON_BUCKETS, sizeof(*cl->rmon))))
        goto oom;
    size_t len = strlen(m->sessionId);
    rmon_ent *e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        goto oom;
    snprintf(e->node, sizeof(e->node), "%s", m->node);
    snprintf(e->user, sizeof(e->user), "%s", m->userId);
    memcpy(e->sid, m->sessionId, len + 1);
    e->next = cl->rmon[h];
    cl->rmon[h] = e;
    cl->rmon_count++;
    return;
oom:
    if (cl->rmon_count == 0)
        monitors_clear(cl);
    LOG_ERROR("cluster: out of memory: %s on node %s misses the pushes of %s sent here", m->userId,
              m->node, m->sessionId);
}

void monitors_drop_node(omtp_cluster *cl, const char *node)
{
    for (uint32_t h = 0; cl->rmon && h < RMON_BUCKETS; h++)
        for (rmon_ent **pp = &cl->rmon[h]; *pp;) {
            rmon_ent *e = *pp;
            if (!node || strcmp(e->node, node) == 0) {
                *pp = e->next;
                free(e);
                cl->rmon_count--;
            } else {
                pp = &e->next;
            }
        }
    if (cl->rmon_count == 0)
        monitors_clear(cl);
}

void monitors_clear(omtp_cluster *cl)
{
    if (cl->rmon_count)
        monitors_drop_node(cl, NULL); /* frees the entries, then comes back here */
    else {
        free(cl->rmon);
        cl->rmon = NULL;
    }
}

static bool in_list(const tars_str_list *l, const char *user)
{
    for (uint32_t i = 0; l && i < l->n; i++)
        if (strcmp(l->items[i].data, user) == 0)
            return true;
    return false;
}

/* PUBLISH of a monitor push answered: nobody listens on that node's
 * channel (it died, or its Redis link is down) -> forget its monitors; it
 * re-announces them in its hello when it is back. */
static void on_mpush_published(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    char *node = priv;
    if (cl && !cl->stopping && rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 &&
        cl->rmon) {
        LOG_INFO("cluster: node %s does not listen: forgetting its session monitors until it "
                 "says hello",
                 node);
        monitors_drop_node(cl, node);
    }
    free(node);
}

void omtp_cluster_monitor_push(omtp_cluster *cl, const char *sessionId, const omtp_cluster_frame *f,
                               const tars_str_list *recipients)
{
    if (!cl || !cl->rmon)
        return; /* nobody elsewhere monitors anything */
    rmon_ent *chain = cl->rmon[rmon_hash(sessionId)];
    for (rmon_ent *e = chain; e; e = e->next) {
        if (strcmp(e->sid, sessionId) != 0)
            continue;
        /* once per node: at its first entry for this session */
        bool seen = false;
        for (rmon_ent *g = chain; g != e && !seen; g = g->next)
            seen = strcmp(g->sid, sessionId) == 0 && strcmp(g->node, e->node) == 0;
        if (seen)
            continue;
        uint32_t n = 0, cap = 0;
        for (rmon_ent *g = e; g; g = g->next)
            cap++;
        const char **users = malloc(cap * sizeof(*users));
        if (!users)
            continue;
        for (rmon_ent *g = e; g && n < OMTP_CLUSTER_MAX_USERS; g = g->next)
            if (strcmp(g->sid, sessionId) == 0 && strcmp(g->node, e->node) == 0 &&
                !in_list(recipients, g->user)) /* recipients get it as members */
                users[n++] = g->user;
        if (n == 0 || !link_cmd_ready(cl)) {
            cl->st.dropped += n ? 1 : 0;
            free(users);
            continue;
        }
        omtp_cluster_push m;
        memset(&m, 0, sizeof(m));
        m.sessionId = sessionId;
        m.users = users;
        m.nusers = n;
        m.type = f->type;
        m.flags = f->flags;
        m.packId = f->packId;
        m.payload = f->payload;
        m.payload_len = f->len;
        tars_buf buf;
        tars_buf_init(&buf);
        omtp_cluster_mpush_encode(&buf, &m);
        char chan[160], *node = strdup(e->node);
        snprintf(chan, sizeof(chan), "omtp:ch:%s", e->node);
        if (tars_buf_ok(&buf) && node &&
            redisAsyncCommand(cl->cmd, on_mpush_published, node, "PUBLISH %s %b", chan, buf.data,
                              buf.len) == REDIS_OK) {
            node = NULL; /* the callback frees it */
            cl->st.published++;
            cl->st.monitor_sent++;
        }
        free(node);
        tars_buf_free(&buf);
        free(users);
    }
}

static void send_msub(omtp_cluster *cl, const char *to_node, const char *sid, const char *user,
                      bool on)
{
    omtp_cluster_msub m;
    memset(&m, 0, sizeof(m));
    snprintf(m.node, sizeof(m.node), "%s", cl->node);
    snprintf(m.sessionId, sizeof(m.sessionId), "%s", sid);
    snprintf(m.userId, sizeof(m.userId), "%s", user);
    m.on = on;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_msub_encode(&b, &m);
    if (tars_buf_ok(&b) && link_cmd_ready(cl)) {
        if (to_node)
            link_publish(cl, to_node, &b);
        else
            link_broadcast(cl, &b, NULL, NULL);
    }
    tars_buf_free(&b);
}

typedef struct announce_ctx {
    omtp_cluster *cl;
    const char *node; /* NULL: broadcast */
} announce_ctx;

static void announce_one(void *arg, const char *sid, const char *user)
{
    announce_ctx *a = arg;
    send_msub(a->cl, a->node, sid, user, true);
}

void monitors_announce_all(omtp_cluster *cl, const char *node)
{
    announce_ctx a = {cl, node};
    cl->host.monitors_each(cl->host.host, announce_one, &a);
}

void monitors_on_msub(omtp_cluster *cl, const omtp_cluster_msub *m)
{
    if (strcmp(m->node, cl->node) == 0)
        return; /* our own broadcast */
    rmon_set(cl, m);
    if (m->token)
        notices_ack(cl, m->node, m->token);
}

void monitors_on_mpush(omtp_cluster *cl, const omtp_cluster_push *m)
{
    omtp_cluster_frame f = {m->type, m->flags, m->packId, m->payload, m->payload_len, NULL};
    cl->st.monitor_received++;
    cl->host.monitor_deliver(cl->host.host, m->sessionId, &f, m->users, m->nusers);
}

void omtp_cluster_monitor_changed(omtp_cluster *cl, const char *sessionId, const char *userId,
                                  bool on, void (*done)(void *arg), void *arg)
{
    if (!cl || !on) {
        if (cl)
            send_msub(cl, NULL, sessionId, userId, false);
        if (done)
            done(arg);
        return;
    }
    omtp_cluster_msub m;
    memset(&m, 0, sizeof(m));
    snprintf(m.node, sizeof(m.node), "%s", cl->node);
    snprintf(m.sessionId, sizeof(m.sessionId), "%s", sessionId);
    snprintf(m.userId, sizeof(m.userId), "%s", userId);
    m.on = true;
    m.token = ++cl->next_token;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_msub_encode(&b, &m);
    char subject[OMTP_CLUSTER_SID_MAX + 32];
    snprintf(subject, sizeof(subject), "%s monitors %s", userId, sessionId);
    notice_publish(cl, m.token, &b, subject, done, arg);
    tars_buf_free(&b);
}
