/*
 * cluster.c - presence and cross-node delivery over Redis (see cluster.h).
 *
 * Two hiredis async connections on the loop (redis_uv.c): `cmd` for commands and
 * `sub` subscribed to this node's channel. Neither ever blocks the loop;
 * a lost connection is retried by one timer with exponential backoff.
 *
 * Cost per pushed message: one pipelined HGETALL per target user per loop
 * iteration (all targets of one wire share a round trip), then one PUBLISH
 * per other node that has any of them. A heartbeat rewrites this node's
 * presence fields every OMTP_CLUSTER_BEAT_MS (two commands per device).
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "cluster_msg.h"
#include "redis_uv.h"
#include "server/core.h"
#include "server/group.h"
#include "server/monitor.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define BCAST_CHAN     "omtp:bc" /* every node subscribes: group member changes */
#define NOTICE_WAIT_MS 2000      /* longest wait for other nodes' acks of a notice */
#define RMON_BUCKETS   256       /* remote monitor table (sessionId -> nodes, users) */

/* A "group members changed" notice waiting for the other nodes' acks. */
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

/* One wire being routed: the users it targets, collected during one loop
 * iteration, then looked up together. */
typedef struct route_batch {
    struct route_batch *next;
    omtp_wire *w;
    char **users;
    uint32_t n, cap;
    uint32_t replies; /* HGETALL replies received */
    char **node_of;   /* per user: array of node names (NULL-terminated) */
    struct omtp_cluster *cl;
} route_batch;

/* Another node's connections of `user` monitor session `sid` (one entry per
 * (sid, node, user): set semantics). */
typedef struct rmon_ent {
    struct rmon_ent *next; /* bucket chain */
    char node[128];
    char user[OMTP_ID_MAX + 1];
    char sid[];
} rmon_ent;

typedef struct omtp_cluster {
    omtp_server *srv;
    char node[128];
    char chan[160];
    char host[256];
    int port;
    int dbnum;
    char password[128];
    redisAsyncContext *cmd, *sub;
    bool cmd_up, sub_up;
    bool was_up; /* had both up before (a recovery resyncs clients) */
    bool ever_up;
    bool stopping;
    uv_timer_t retry;
    uint64_t backoff_ms;
    uv_timer_t beat;
    uv_check_t flush;
    bool flush_active;
    route_batch *pending, *pending_tail;
    /* this node's online connections, for the heartbeat */
    omtp_conn **conns;
    uint32_t nconns, capconns;
    omtp_cluster_stats st;
    int closing_handles;
    group_notice *notices; /* waiting for acks, oldest first */
    uint64_t next_token;
    uv_timer_t notice_timer;
    /* remote monitor subscriptions: NULL while there is none, so a push of
     * an unmonitored session costs one NULL check */
    rmon_ent **rmon;
    uint32_t rmon_count;
} omtp_cluster;

#define CL(s) ((omtp_cluster *)(s)->cluster)

static void schedule_retry(omtp_cluster *cl);
static void cluster_release(omtp_cluster *cl);
static void beat_all(omtp_cluster *cl);
static void notices_finish_all(omtp_cluster *cl);
static void on_group_notice(omtp_cluster *cl, const omtp_cluster_group *g);
static void on_group_ack(omtp_cluster *cl, uint64_t token);
static void rmon_clear(omtp_cluster *cl);
static void monitor_hello(omtp_cluster *cl, bool hello);

/* ------------------------------------------------------------ URL */

/* redis://[:password@]host:port[/db] */
static int parse_url(omtp_cluster *cl, const char *url, char *why, size_t whylen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(why, whylen, "redis_url must look like redis://HOST:PORT[/DB], not \"%s\"", url);
        return OMTP_EINVAL;
    }
    p += 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        snprintf(cl->password, sizeof(cl->password), "%.*s", (int)(at - pw), pw);
        p = at + 1;
    }
    const char *end = p + strcspn(p, "/");
    const char *colon = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    cl->port = 6379;
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port <= 0 || port > 65535) {
            snprintf(why, whylen, "redis_url \"%s\": bad port", url);
            return OMTP_EINVAL;
        }
        cl->port = (int)port;
    } else {
        colon = end;
    }
    if (colon == p || (size_t)(colon - p) >= sizeof(cl->host)) {
        snprintf(why, whylen, "redis_url \"%s\": bad host", url);
        return OMTP_EINVAL;
    }
    snprintf(cl->host, sizeof(cl->host), "%.*s", (int)(colon - p), p);
    cl->dbnum = 0;
    if (*end == '/' && end[1]) {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e || db < 0 || db > 1000000) {
            snprintf(why, whylen, "redis_url \"%s\": bad database number", url);
            return OMTP_EINVAL;
        }
        cl->dbnum = (int)db;
    }
    return 0;
}

/* ------------------------------------------------------ local registry */

static void reg_add(omtp_cluster *cl, omtp_conn *c)
{
    if (cl->nconns == cl->capconns) {
        uint32_t cap = cl->capconns ? cl->capconns * 2 : 64;
        omtp_conn **p = realloc(cl->conns, cap * sizeof(*p));
        if (!p) {
            LOG_ERROR("cluster: out of memory registering a connection");
            return;
        }
        cl->conns = p;
        cl->capconns = cap;
    }
    cl->conns[cl->nconns++] = c;
}

static bool reg_remove(omtp_cluster *cl, omtp_conn *c)
{
    for (uint32_t i = cl->nconns; i-- > 0;)
        if (cl->conns[i] == c) {
            cl->conns[i] = cl->conns[--cl->nconns];
            return true;
        }
    return false;
}

/* --------------------------------------------------- presence entries */

static void entry_field(const omtp_cluster *cl, int deviceType, char *out, size_t n)
{
    snprintf(out, n, "%s/%d", cl->node, deviceType);
}

static void entry_value(const omtp_conn *c, char *out, size_t n)
{
    snprintf(out, n, "%lld/%lld/b%d/%s", (long long)(omtp_now_ms() + OMTP_CLUSTER_TTL_MS),
             (long long)c->loginMs, c->background ? 1 : 0, c->deviceId);
}

/* Parses "<expires>/<login>/b<0|1>/<deviceId>" (also the older
 * "<expires>/<login>/<deviceId>": not background); deviceId points into v. */
static bool entry_parse_bg(const char *v, int64_t *expires, int64_t *login, bool *background,
                           const char **deviceId)
{
    char *e;
    long long x = strtoll(v, &e, 10);
    if (*e != '/')
        return false;
    long long l = strtoll(e + 1, &e, 10);
    if (*e != '/')
        return false;
    *expires = x;
    *login = l;
    *background = false;
    e++;
    if (e[0] == 'b' && (e[1] == '0' || e[1] == '1') && e[2] == '/') {
        *background = e[1] == '1';
        e += 3;
    }
    *deviceId = e;
    return true;
}

static bool entry_parse(const char *v, int64_t *expires, int64_t *login, const char **deviceId)
{
    bool bg;
    return entry_parse_bg(v, expires, login, &bg, deviceId);
}

/* Splits "<node>/<deviceType>" at the last '/'. */
static bool field_parse(const char *f, size_t flen, char *node, size_t nodelen, int *deviceType)
{
    const char *slash = NULL;
    for (size_t i = 0; i < flen; i++)
        if (f[i] == '/')
            slash = f + i;
    if (!slash || (size_t)(slash - f) >= nodelen)
        return false;
    memcpy(node, f, (size_t)(slash - f));
    node[slash - f] = 0;
    *deviceType = atoi(slash + 1);
    return true;
}

static bool cmd_ready(omtp_cluster *cl)
{
    return cl->cmd && cl->cmd_up;
}

static void publish(omtp_cluster *cl, const char *node, const tars_buf *msg)
{
    if (!cmd_ready(cl))
        return;
    char chan[160];
    snprintf(chan, sizeof(chan), "omtp:ch:%s", node);
    redisAsyncCommand(cl->cmd, NULL, NULL, "PUBLISH %s %b", chan, msg->data, msg->len);
    cl->st.published++;
}

/* ---------------------------------------------------------- kicking */

/* Closes a local device replaced (or removed) by a device elsewhere, with
 * the same KickOutReq a single node sends. */
static void kick_local(omtp_cluster *cl, omtp_conn *victim, int byType, const char *byId,
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
    cl->srv->metrics.kicks++;
    cl->st.kicks_received++;
    LOG_INFO("conn %llu kick user=%s dev=%s: %s (cluster)", (unsigned long long)victim->id,
             victim->userId, omtp_log_device(victim->deviceType), why);
    omtp_conn_close(victim, why);
}

static void on_kick(omtp_cluster *cl, const omtp_cluster_kick *k)
{
    omtp_conn *c = omtp_presence_first(cl->srv, k->userId);
    while (c) {
        omtp_conn *next = c->next_device;
        if (c->state == OMTP_CONN_ONLINE && c->deviceType == k->deviceType &&
            c->loginMs <= k->beforeMs && (!k->deviceId[0] || strcmp(c->deviceId, k->deviceId) == 0))
            kick_local(cl, c, k->byType, k->byId,
                       k->deviceId[0] ? "kicked out by the user's own device"
                                      : "replaced by a new login on the same device type");
        c = next;
    }
}

static void send_kick(omtp_cluster *cl, const char *node, const omtp_cluster_kick *k)
{
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_kick_encode(&b, k);
    if (tars_buf_ok(&b)) {
        publish(cl, node, &b);
        cl->st.kicks_sent++;
    }
    tars_buf_free(&b);
}

/* KEYS[1] user hash; ARGV node, deviceType, value, ttl ms. Removes and
 * returns the other nodes' entries of this device type, then adds ours. */
static const char LOGIN_LUA[] = "local out = {} "
                                "local all = redis.call('HGETALL', KEYS[1]) "
                                "for i = 1, #all, 2 do "
                                "  local node, dt = string.match(all[i], '^(.*)/(%-?%d+)$') "
                                "  if dt == ARGV[2] and node ~= ARGV[1] then "
                                "    out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] "
                                "    redis.call('HDEL', KEYS[1], all[i]) "
                                "  end "
                                "end "
                                "redis.call('HSET', KEYS[1], ARGV[1] .. '/' .. ARGV[2], ARGV[3]) "
                                "redis.call('PEXPIRE', KEYS[1], ARGV[4]) "
                                "return out";

typedef struct login_ctx {
    omtp_cluster *cl;
    char userId[OMTP_ID_MAX + 1];
    int deviceType;
    char deviceId[OMTP_ID_MAX + 1];
    int64_t loginMs;
} login_ctx;

static void on_login_reply(redisAsyncContext *ac, void *r, void *priv)
{
    login_ctx *lc = priv;
    redisReply *rep = r;
    omtp_cluster *cl = lc->cl;
    if (rep && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            char node[128];
            int dt;
            int64_t exp, login;
            const char *devId;
            redisReply *f = rep->element[i], *v = rep->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
                !field_parse(f->str, f->len, node, sizeof(node), &dt) ||
                !entry_parse(v->str, &exp, &login, &devId))
                continue;
            if (exp < omtp_now_ms())
                continue; /* a dead node's leftover */
            omtp_cluster_kick k;
            memset(&k, 0, sizeof(k));
            snprintf(k.userId, sizeof(k.userId), "%s", lc->userId);
            k.deviceType = dt;
            k.beforeMs = login;
            k.byType = lc->deviceType;
            snprintf(k.byId, sizeof(k.byId), "%s", lc->deviceId);
            send_kick(cl, node, &k);
            LOG_INFO("cluster: login of %s dev=%s replaces the device on node %s", lc->userId,
                     omtp_log_device(dt), node);
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        LOG_WARN("cluster: login script failed: %s", rep->str);
    }
    free(lc);
}

void omtp_cluster_login(omtp_server *s, omtp_conn *c)
{
    omtp_cluster *cl = CL(s);
    if (!cl)
        return;
    reg_add(cl, c);
    if (!cmd_ready(cl))
        return; /* registered at the next (re)connection by the heartbeat */
    login_ctx *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return;
    lc->cl = cl;
    snprintf(lc->userId, sizeof(lc->userId), "%s", c->userId);
    lc->deviceType = c->deviceType;
    snprintf(lc->deviceId, sizeof(lc->deviceId), "%s", c->deviceId);
    lc->loginMs = c->loginMs;
    char key[OMTP_ID_MAX + 16], dt[16], val[OMTP_ID_MAX + 64], ttl[24];
    snprintf(key, sizeof(key), "omtp:u:%s", c->userId);
    snprintf(dt, sizeof(dt), "%d", c->deviceType);
    entry_value(c, val, sizeof(val));
    snprintf(ttl, sizeof(ttl), "%d", OMTP_CLUSTER_TTL_MS);
    if (redisAsyncCommand(cl->cmd, on_login_reply, lc, "EVAL %s 1 %s %s %s %s %s", LOGIN_LUA, key,
                          cl->node, dt, val, ttl) != REDIS_OK) {
        free(lc);
        return;
    }
    /* on the wire now, before the caller answers the login: a push another
     * node makes for this user after the client heard "logged in" finds the
     * entry (Redis runs commands in arrival order) */
    redisAsyncHandleWrite(cl->cmd);
}

void omtp_cluster_logout(omtp_server *s, omtp_conn *c)
{
    omtp_cluster *cl = CL(s);
    if (!cl || !reg_remove(cl, c))
        return;
    /* another local device of the same type (a replacement that logged in
     * here) keeps the entry */
    for (omtp_conn *d = omtp_presence_first(s, c->userId); d; d = d->next_device)
        if (d != c && d->deviceType == c->deviceType && d->state == OMTP_CONN_ONLINE)
            return;
    if (!cmd_ready(cl))
        return;
    char key[OMTP_ID_MAX + 16], field[192];
    snprintf(key, sizeof(key), "omtp:u:%s", c->userId);
    entry_field(cl, c->deviceType, field, sizeof(field));
    redisAsyncCommand(cl->cmd, NULL, NULL, "HDEL %s %s", key, field);
}

/* ------------------------------------------------------------- routing */

static void batch_free(route_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++) {
        free(b->users[i]);
        if (b->node_of)
            free(b->node_of[i]);
    }
    free(b->users);
    free(b->node_of);
    omtp_wire_unref(b->w);
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
        char node[128];
        int dt;
        int64_t exp, login;
        const char *devId;
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !entry_parse(v->str, &exp, &login, &devId) || exp < now || strcmp(node, cl->node) == 0)
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
        m.type = b->w->type;
        m.flags = b->w->flags;
        m.packId = b->w->packId;
        m.payload = b->w->payload.data;
        m.payload_len = b->w->payload.len;
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
            publish(cl, nodes[k], &buf);
            cl->st.remote_push += m.nusers;
        }
        tars_buf_free(&buf);
        free(users);
    }
    free(nodes);
}

static void on_route_reply(redisAsyncContext *ac, void *r, void *priv)
{
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
        if (!b->node_of || !cmd_ready(cl)) {
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

int omtp_cluster_push_user(omtp_server *s, const char *userId, omtp_wire *w)
{
    omtp_cluster *cl = CL(s);
    if (!cl || cl->stopping)
        return 0;
    if (!cmd_ready(cl)) {
        cl->st.dropped++;
        return 0;
    }
    route_batch *b = cl->pending_tail;
    if (!b || b->w != w) {
        b = calloc(1, sizeof(*b));
        if (!b)
            return 0;
        b->cl = cl;
        b->w = w;
        omtp_wire_ref(w);
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

static void on_kick_lookup(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster_kick *k = priv;
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    int64_t now = omtp_now_ms();
    for (size_t i = 0; cl && rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
         i += 2) {
        char node[128];
        int dt;
        int64_t exp, login;
        const char *devId;
        redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !entry_parse(v->str, &exp, &login, &devId) || exp < now || dt != k->deviceType ||
            strcmp(node, cl->node) == 0 || (k->deviceId[0] && strcmp(devId, k->deviceId) != 0))
            continue;
        send_kick(cl, node, k);
    }
    free(k);
}

void omtp_cluster_kick_device(omtp_server *s, const omtp_conn *by, int deviceType,
                              const char *deviceId)
{
    omtp_cluster *cl = CL(s);
    if (!cl || !cmd_ready(cl))
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

/* ------------------------------------------- remote foreground lookup */

typedef struct fg_lookup {
    omtp_cluster *cl;
    uint32_t n, replies;
    bool *online;
    omtp_cluster_online_fn done;
    void *arg;
} fg_lookup;

static void on_fg_reply(redisAsyncContext *ac, void *r, void *priv)
{
    fg_lookup *q = priv;
    redisReply *rep = r;
    uint32_t i = q->replies++;
    int64_t now = omtp_now_ms();
    for (size_t k = 0; i < q->n && rep && rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements;
         k += 2) {
        char node[128];
        int dt;
        int64_t exp, login;
        bool bg;
        const char *devId;
        const redisReply *f = rep->element[k], *v = rep->element[k + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            !field_parse(f->str, f->len, node, sizeof(node), &dt) ||
            !entry_parse_bg(v->str, &exp, &login, &bg, &devId) || exp < now || bg ||
            strcmp(node, q->cl->node) == 0)
            continue;
        q->online[i] = true;
    }
    if (q->replies < q->n)
        return;
    q->done(q->arg, q->online);
    free(q->online);
    free(q);
}

int omtp_cluster_remote_foreground(omtp_server *s, const tars_str_list *users,
                                   omtp_cluster_online_fn done, void *arg)
{
    omtp_cluster *cl = CL(s);
    if (!cl || cl->stopping || !cmd_ready(cl) || !users->n)
        return OMTP_ECLOSED;
    fg_lookup *q = calloc(1, sizeof(*q));
    if (!q || !(q->online = calloc(users->n, sizeof(bool)))) {
        free(q);
        return OMTP_ENOMEM;
    }
    q->cl = cl;
    q->n = users->n;
    q->done = done;
    q->arg = arg;
    /* one HGETALL per user, pipelined (replies come in order) */
    uint32_t sent = 0;
    for (uint32_t i = 0; i < users->n; i++) {
        if (redisAsyncCommand(cl->cmd, on_fg_reply, q, "HGETALL omtp:u:%s", users->items[i].data) !=
            REDIS_OK)
            break;
        sent++;
    }
    if (sent == 0) {
        free(q->online);
        free(q);
        return OMTP_ECLOSED;
    }
    q->replies += users->n - sent; /* the unsent count as "not online" */
    return 0;
}

void omtp_cluster_device_changed(omtp_server *s, omtp_conn *c)
{
    omtp_cluster *cl = CL(s);
    if (!cl || !cmd_ready(cl) || c->state != OMTP_CONN_ONLINE)
        return;
    char key[OMTP_ID_MAX + 16], field[192], val[OMTP_ID_MAX + 64];
    snprintf(key, sizeof(key), "omtp:u:%s", c->userId);
    entry_field(cl, c->deviceType, field, sizeof(field));
    entry_value(c, val, sizeof(val));
    redisAsyncCommand(cl->cmd, NULL, NULL, "HSET %s %s %s", key, field, val);
    redisAsyncHandleWrite(cl->cmd); /* on the wire before the client hears back */
}

/* ----------------------------------------------------- our channel */

static void deliver_push(omtp_cluster *cl, const omtp_cluster_push *m)
{
    omtp_wire *w = omtp_wire_new_raw(m->type, m->flags, m->packId, m->payload, m->payload_len);
    if (!w)
        return;
    for (uint32_t i = 0; i < m->nusers; i++) {
        omtp_conn *c = omtp_presence_first(cl->srv, m->users[i]);
        while (c) {
            omtp_conn *next = c->next_device;
            if (c->state == OMTP_CONN_ONLINE && omtp_conn_send_wire(c, w) == 0)
                cl->srv->metrics.pushes++;
            c = next;
        }
    }
    omtp_wire_unref(w);
}

/* ------------------------------------------ cluster-wide session monitors */

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
                    rmon_clear(cl);
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
        rmon_clear(cl);
    LOG_ERROR("cluster: out of memory: %s on node %s misses the pushes of %s sent here", m->userId,
              m->node, m->sessionId);
}

/* Forgets every subscription of `node` (NULL: of every node). */
static void rmon_drop_node(omtp_cluster *cl, const char *node)
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
        rmon_clear(cl);
}

static void rmon_clear(omtp_cluster *cl)
{
    if (cl->rmon_count)
        rmon_drop_node(cl, NULL); /* frees the entries, then comes back here */
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
        rmon_drop_node(cl, node);
    }
    free(node);
}

void omtp_cluster_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w,
                               const tars_str_list *recipients)
{
    omtp_cluster *cl = CL(s);
    if (!cl || !cl->rmon)
        return; /* nobody elsewhere monitors anything */
    rmon_ent *chain = cl->rmon[rmon_hash(sessionId)];
    for (rmon_ent *e = chain; e; e = e->next) {
        if (strcmp(e->sid, sessionId) != 0)
            continue;
        /* once per node: at its first entry for this session */
        bool seen = false;
        for (rmon_ent *f = chain; f != e && !seen; f = f->next)
            seen = strcmp(f->sid, sessionId) == 0 && strcmp(f->node, e->node) == 0;
        if (seen)
            continue;
        uint32_t n = 0, cap = 0;
        for (rmon_ent *f = e; f; f = f->next)
            cap++;
        const char **users = malloc(cap * sizeof(*users));
        if (!users)
            continue;
        for (rmon_ent *f = e; f && n < OMTP_CLUSTER_MAX_USERS; f = f->next)
            if (strcmp(f->sid, sessionId) == 0 && strcmp(f->node, e->node) == 0 &&
                !in_list(recipients, f->user)) /* recipients get it as members */
                users[n++] = f->user;
        if (n == 0 || !cmd_ready(cl)) {
            cl->st.dropped += n ? 1 : 0;
            free(users);
            continue;
        }
        omtp_cluster_push m;
        memset(&m, 0, sizeof(m));
        m.sessionId = sessionId;
        m.users = users;
        m.nusers = n;
        m.type = w->type;
        m.flags = w->flags;
        m.packId = w->packId;
        m.payload = w->payload.data;
        m.payload_len = w->payload.len;
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
    if (tars_buf_ok(&b) && cmd_ready(cl)) {
        if (to_node)
            publish(cl, to_node, &b);
        else
            redisAsyncCommand(cl->cmd, NULL, NULL, "PUBLISH %s %b", BCAST_CHAN, b.data, b.len);
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

/* Tells `node` (NULL: every node) every (session, user) monitored here. */
static void announce_all(omtp_cluster *cl, const char *node)
{
    announce_ctx a = {cl, node};
    omtp_monitor_each(cl->srv, announce_one, &a);
}

/* Our Redis link came up (start or recovery): what we knew of other nodes'
 * monitors may be stale, and they may have missed our changes. Say hello:
 * every node drops our entries and re-announces its own to us; then
 * announce ours (the same connection, so they arrive after the hello). */
static void monitor_hello(omtp_cluster *cl, bool hello)
{
    if (!cmd_ready(cl))
        return;
    if (hello)
        rmon_drop_node(cl, NULL);
    omtp_cluster_hello h;
    memset(&h, 0, sizeof(h));
    snprintf(h.node, sizeof(h.node), "%s", cl->node);
    h.hello = hello;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_hello_encode(&b, &h);
    if (tars_buf_ok(&b))
        redisAsyncCommand(cl->cmd, NULL, NULL, "PUBLISH %s %b", BCAST_CHAN, b.data, b.len);
    tars_buf_free(&b);
    if (hello)
        announce_all(cl, NULL);
}

static void on_hello(omtp_cluster *cl, const omtp_cluster_hello *h)
{
    if (strcmp(h->node, cl->node) == 0)
        return;
    LOG_INFO("cluster: node %s %s", h->node,
             h->hello ? "started (our session monitors are re-announced to it)"
                      : "stops (its session monitors are forgotten)");
    rmon_drop_node(cl, h->node);
    if (h->hello)
        announce_all(cl, h->node);
}

static void on_msub(omtp_cluster *cl, const omtp_cluster_msub *m)
{
    if (strcmp(m->node, cl->node) == 0)
        return; /* our own broadcast */
    rmon_set(cl, m);
    if (m->token) {
        omtp_cluster_group ack;
        memset(&ack, 0, sizeof(ack));
        snprintf(ack.node, sizeof(ack.node), "%s", cl->node);
        ack.token = m->token;
        tars_buf b;
        tars_buf_init(&b);
        omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GACK, &ack);
        if (tars_buf_ok(&b))
            publish(cl, m->node, &b);
        tars_buf_free(&b);
    }
}

static void on_mpush(omtp_cluster *cl, const omtp_cluster_push *m)
{
    omtp_wire *w = omtp_wire_new_raw(m->type, m->flags, m->packId, m->payload, m->payload_len);
    if (!w)
        return;
    cl->st.monitor_received++;
    omtp_monitor_push_users(cl->srv, m->sessionId, w, m->users, m->nusers);
    omtp_wire_unref(w);
}

static void on_channel(omtp_cluster *cl, const char *data, size_t len)
{
    cl->st.received++;
    omtp_cluster_group g;
    if (len > 0 && data[0] == OMTP_CLUSTER_MSG_GROUP) {
        if (omtp_cluster_group_decode(data, len, OMTP_CLUSTER_MSG_GROUP, &g) == 0) {
            on_group_notice(cl, &g);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_GACK) {
        if (omtp_cluster_group_decode(data, len, OMTP_CLUSTER_MSG_GACK, &g) == 0) {
            on_group_ack(cl, g.token);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_PUSH) {
        omtp_cluster_push m;
        if (omtp_cluster_push_decode(data, len, &m) == 0) {
            deliver_push(cl, &m);
            omtp_cluster_push_free(&m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_MPUSH) {
        omtp_cluster_push m;
        if (omtp_cluster_mpush_decode(data, len, &m) == 0) {
            on_mpush(cl, &m);
            omtp_cluster_push_free(&m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_MSUB) {
        omtp_cluster_msub m;
        if (omtp_cluster_msub_decode(data, len, &m) == 0) {
            on_msub(cl, &m);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_HELLO) {
        omtp_cluster_hello h;
        if (omtp_cluster_hello_decode(data, len, &h) == 0) {
            on_hello(cl, &h);
            return;
        }
    } else if (len > 0 && data[0] == OMTP_CLUSTER_MSG_KICK) {
        omtp_cluster_kick k;
        if (omtp_cluster_kick_decode(data, len, &k) == 0) {
            on_kick(cl, &k);
            return;
        }
    }
    LOG_WARN("cluster: undecodable message (%zu bytes) on %s", len, cl->chan);
}

/* ------------------------------------------------------- connections */

static void set_up(omtp_cluster *cl)
{
    bool up = cl->cmd_up && cl->sub_up;
    if (up == cl->st.up)
        return;
    cl->st.up = up;
    if (!up) {
        LOG_WARN("cluster: Redis %s:%d unavailable: serving local users only, retrying", cl->host,
                 cl->port);
        notices_finish_all(cl); /* no acks will come */
        return;
    }
    cl->backoff_ms = 0;
    LOG_INFO("cluster: node %s connected to Redis %s:%d%s", cl->node, cl->host, cl->port,
             cl->ever_up ? " (recovered)" : "");
    beat_all(cl);
    monitor_hello(cl, true);
    redisAsyncHandleWrite(cl->cmd); /* presence back before clients are told to resync */
    if (cl->ever_up) {
        /* group member notices may have been lost meanwhile */
        omtp_group_cache_invalidate_all(cl->srv);
        /* pushes from other nodes were lost meanwhile: have clients resync */
        for (uint32_t i = 0; i < cl->nconns; i++)
            if (cl->conns[i]->state == OMTP_CONN_ONLINE) {
                omtp_SyncDataReq r;
                omtp_msg_init(&omtp_SyncDataReq_desc, &r);
                r.command = 2; /* sessions */
                if (tars_str_set(&r.content, "cluster bus recovered") == 0) {
                    omtp_wire *w =
                        omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &r);
                    if (w) {
                        omtp_conn_send_wire(cl->conns[i], w);
                        omtp_wire_unref(w);
                    }
                }
                omtp_msg_free(&omtp_SyncDataReq_desc, &r);
            }
    }
    cl->ever_up = true;
}

static void on_sub_msg(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    if (!cl || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return;
    redisReply *kind = rep->element[0];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "subscribe") == 0) {
        /* one confirmation per channel; up once both (ours, broadcast) are */
        if (rep->element[2]->type == REDIS_REPLY_INTEGER && rep->element[2]->integer >= 2) {
            cl->sub_up = true;
            set_up(cl);
        }
    } else if (strcmp(kind->str, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        on_channel(cl, rep->element[2]->str, rep->element[2]->len);
    }
}

static void on_cmd_ready(redisAsyncContext *ac, void *r, void *priv)
{
    omtp_cluster *cl = ac->data;
    redisReply *rep = r;
    if (!cl || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        LOG_WARN("cluster: Redis refused setup: %s", rep->str);
        redisAsyncDisconnect(ac);
        return;
    }
    cl->cmd_up = true;
    set_up(cl);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    omtp_cluster *cl = ac->data;
    if (!cl)
        return;
    if (status != REDIS_OK && cl->stopping) {
        cluster_release(cl);
    } else if (status != REDIS_OK) {
        LOG_DEBUG("cluster: connect to Redis failed: %s", ac->errstr);
        /* never connected yet: say so once (set_up only reports a change) */
        if (!cl->ever_up && !cl->backoff_ms)
            LOG_WARN("cluster: cannot connect to Redis %s:%d (%s): serving local users only, "
                     "retrying; check redis_url and that Redis runs",
                     cl->host, cl->port, ac->errstr);
        if (ac == cl->cmd)
            cl->cmd = NULL, cl->cmd_up = false;
        if (ac == cl->sub)
            cl->sub = NULL, cl->sub_up = false;
        set_up(cl);
        schedule_retry(cl);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    omtp_cluster *cl = ac->data;
    if (!cl)
        return;
    if (ac == cl->cmd)
        cl->cmd = NULL, cl->cmd_up = false;
    if (ac == cl->sub)
        cl->sub = NULL, cl->sub_up = false;
    if (cl->stopping) {
        cluster_release(cl);
        return;
    }
    LOG_DEBUG("cluster: Redis connection lost: %s", ac->errstr);
    set_up(cl);
    schedule_retry(cl);
}

static redisAsyncContext *open_ctx(omtp_cluster *cl)
{
    redisAsyncContext *ac = redisAsyncConnect(cl->host, cl->port);
    if (!ac)
        return NULL;
    if (ac->err) {
        LOG_DEBUG("cluster: connect to Redis failed: %s", ac->errstr);
        if (!cl->ever_up && !cl->backoff_ms)
            LOG_WARN("cluster: cannot connect to Redis %s:%d (%s): serving local users only, "
                     "retrying; check redis_url and that Redis runs",
                     cl->host, cl->port, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = cl;
    if (omtp_redis_uv_attach(ac, cl->srv->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (cl->password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", cl->password);
    return ac;
}

static void try_connect(omtp_cluster *cl)
{
    if (cl->stopping)
        return;
    if (!cl->cmd) {
        cl->cmd = open_ctx(cl);
        if (cl->cmd) {
            cl->st.reconnects += cl->ever_up;
            redisAsyncCommand(cl->cmd, on_cmd_ready, NULL, "SELECT %d", cl->dbnum);
        }
    }
    if (!cl->sub) {
        cl->sub = open_ctx(cl);
        if (cl->sub)
            redisAsyncCommand(cl->sub, on_sub_msg, NULL, "SUBSCRIBE %s %s", cl->chan, BCAST_CHAN);
    }
    if (!cl->cmd || !cl->sub)
        schedule_retry(cl);
}

static void on_retry(uv_timer_t *t)
{
    try_connect(t->data);
}

static void schedule_retry(omtp_cluster *cl)
{
    if (cl->stopping || uv_is_active((uv_handle_t *)&cl->retry))
        return;
    cl->backoff_ms = cl->backoff_ms ? cl->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (cl->backoff_ms > BACKOFF_MAX_MS)
        cl->backoff_ms = BACKOFF_MAX_MS;
    LOG_DEBUG("cluster: reconnecting to Redis in %llu ms", (unsigned long long)cl->backoff_ms);
    uv_timer_start(&cl->retry, on_retry, cl->backoff_ms, 0);
}

/* ---------------------------------------------------------- heartbeat */

static void beat_all(omtp_cluster *cl)
{
    if (!cmd_ready(cl))
        return;
    char key[OMTP_ID_MAX + 16], field[192], val[OMTP_ID_MAX + 64];
    for (uint32_t i = 0; i < cl->nconns; i++) {
        omtp_conn *c = cl->conns[i];
        if (c->state != OMTP_CONN_ONLINE)
            continue;
        snprintf(key, sizeof(key), "omtp:u:%s", c->userId);
        entry_field(cl, c->deviceType, field, sizeof(field));
        entry_value(c, val, sizeof(val));
        redisAsyncCommand(cl->cmd, NULL, NULL, "HSET %s %s %s", key, field, val);
        redisAsyncCommand(cl->cmd, NULL, NULL, "PEXPIRE %s %d", key, OMTP_CLUSTER_TTL_MS);
    }
}

static void on_beat(uv_timer_t *t)
{
    omtp_cluster *cl = t->data;
    beat_all(cl);
}

/* -------------------------------------------------------- life cycle */

/* ------------------------------------------------ group member notices */

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

static void notices_finish_all(omtp_cluster *cl)
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
    uint64_t now = uv_now(cl->srv->loop);
    group_notice *n = cl->notices;
    while (n) {
        group_notice *next = n->next;
        if (now >= n->deadline) {
            LOG_WARN("cluster: %s: %d of %d other nodes confirmed within %d ms; going on",
                     n->subject, n->acks, n->expected, NOTICE_WAIT_MS);
            notice_finish(cl, n);
        }
        n = next;
    }
}

static void on_group_published(redisAsyncContext *ac, void *r, void *priv)
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

/* Another node's notice: drop our cached list, then confirm to that node. */
static void on_group_notice(omtp_cluster *cl, const omtp_cluster_group *g)
{
    if (strcmp(g->node, cl->node) == 0)
        return; /* our own: applied before it was sent */
    cl->st.group_received++;
    LOG_DEBUG("cluster: members of %s changed on node %s", g->groupId, g->node);
    omtp_group_cache_invalidate(cl->srv, g->groupId);
    omtp_cluster_group ack;
    memset(&ack, 0, sizeof(ack));
    snprintf(ack.node, sizeof(ack.node), "%s", cl->node);
    ack.token = g->token;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GACK, &ack);
    if (tars_buf_ok(&b))
        publish(cl, g->node, &b);
    tars_buf_free(&b);
}

static void on_group_ack(omtp_cluster *cl, uint64_t token)
{
    group_notice *n = notice_find(cl, token);
    if (!n)
        return; /* late: we stopped waiting */
    n->acks++;
    notice_check(cl, n);
}

/* Publishes msg (which carries `token`) on the broadcast channel; done(arg)
 * runs once every other node acked it with a 'g', after NOTICE_WAIT_MS, or
 * at once (before this returns) when it cannot be sent. */
static void notice_publish(omtp_cluster *cl, uint64_t token, const tars_buf *msg,
                           const char *subject, void (*done)(void *arg), void *arg)
{
    group_notice *n = NULL;
    if (cl->stopping || !cmd_ready(cl) || !cl->sub_up || !tars_buf_ok(msg) ||
        !(n = calloc(1, sizeof(*n))))
        goto now;
    n->token = token;
    n->expected = -1;
    n->deadline = uv_now(cl->srv->loop) + NOTICE_WAIT_MS;
    snprintf(n->subject, sizeof(n->subject), "%s", subject);
    n->done = done;
    n->arg = arg;
    if (redisAsyncCommand(cl->cmd, on_group_published, (void *)(uintptr_t)token, "PUBLISH %s %b",
                          BCAST_CHAN, msg->data, msg->len) != REDIS_OK)
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

void omtp_cluster_group_changed(omtp_server *s, const char *groupId, void (*done)(void *arg),
                                void *arg)
{
    omtp_cluster *cl = CL(s);
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

void omtp_cluster_monitor_changed(omtp_server *s, const char *sessionId, const char *userId,
                                  bool on, void (*done)(void *arg), void *arg)
{
    omtp_cluster *cl = CL(s);
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

/* The state is freed when its four handles closed and both Redis
 * connections delivered their last callbacks (after omtp_cluster_stop). */
static void cluster_release(omtp_cluster *cl)
{
    if (--cl->closing_handles == 0) {
        rmon_clear(cl);
        free(cl->conns);
        free(cl);
    }
}

int omtp_cluster_start(omtp_server *s, int port, char *why, size_t whylen)
{
    omtp_config *cfg = s->cfg;
    if (!cfg->redis_url[0])
        return 0;
    omtp_cluster *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    cl->srv = s;
    int rc = parse_url(cl, cfg->redis_url, why, whylen);
    if (rc) {
        free(cl);
        return rc;
    }
    if (cfg->node_id[0]) {
        snprintf(cl->node, sizeof(cl->node), "%s", cfg->node_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = 0;
        snprintf(cl->node, sizeof(cl->node), "%s:%d", host, port);
    }
    snprintf(cl->chan, sizeof(cl->chan), "omtp:ch:%s", cl->node);
    uv_timer_init(s->loop, &cl->retry);
    cl->retry.data = cl;
    uv_timer_init(s->loop, &cl->beat);
    cl->beat.data = cl;
    uv_check_init(s->loop, &cl->flush);
    cl->flush.data = cl;
    uv_timer_init(s->loop, &cl->notice_timer);
    cl->notice_timer.data = cl;
    uv_timer_start(&cl->beat, on_beat, OMTP_CLUSTER_BEAT_MS, OMTP_CLUSTER_BEAT_MS);
    s->cluster = cl;
    LOG_INFO("cluster: node %s, Redis %s:%d/%d", cl->node, cl->host, cl->port, cl->dbnum);
    try_connect(cl);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    cluster_release(h->data);
}

void omtp_cluster_stop(omtp_server *s)
{
    omtp_cluster *cl = CL(s);
    if (!cl || cl->stopping)
        return;
    /* our devices leave the presence table now, not when their TTL expires */
    if (cmd_ready(cl)) {
        char key[OMTP_ID_MAX + 16], field[192];
        for (uint32_t i = 0; i < cl->nconns; i++) {
            omtp_conn *c = cl->conns[i];
            snprintf(key, sizeof(key), "omtp:u:%s", c->userId);
            entry_field(cl, c->deviceType, field, sizeof(field));
            redisAsyncCommand(cl->cmd, NULL, NULL, "HDEL %s %s", key, field);
        }
        monitor_hello(cl, false); /* other nodes forget our monitors */
    }
    cl->stopping = true;
    cl->nconns = 0;
    notices_finish_all(cl);
    s->cluster = NULL;
    /* batches not looked up yet are dropped; those in flight complete (their
     * callbacks run before the connection's disconnect callback) */
    route_batch *b = cl->pending;
    while (b) {
        route_batch *next = b->next;
        batch_free(b);
        b = next;
    }
    cl->pending = cl->pending_tail = NULL;
    cl->closing_handles = 4 + (cl->cmd ? 1 : 0) + (cl->sub ? 1 : 0);
    redisAsyncContext *cmd = cl->cmd, *sub = cl->sub;
    cl->cmd_up = cl->sub_up = false;
    if (cmd)
        redisAsyncDisconnect(cmd); /* sends the HDELs first */
    if (sub)
        redisAsyncDisconnect(sub);
    uv_timer_stop(&cl->retry);
    uv_timer_stop(&cl->beat);
    uv_check_stop(&cl->flush);
    uv_close((uv_handle_t *)&cl->retry, on_handle_closed);
    uv_close((uv_handle_t *)&cl->beat, on_handle_closed);
    uv_close((uv_handle_t *)&cl->flush, on_handle_closed);
    uv_timer_stop(&cl->notice_timer);
    uv_close((uv_handle_t *)&cl->notice_timer, on_handle_closed);
}

void omtp_cluster_get_stats(omtp_server *s, omtp_cluster_stats *out)
{
    omtp_cluster *cl = CL(s);
    if (!cl) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = cl->st;
}

const char *omtp_cluster_node_id(omtp_server *s)
{
    omtp_cluster *cl = CL(s);
    return cl ? cl->node : "";
}
