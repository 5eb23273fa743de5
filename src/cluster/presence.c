/*
 * presence.c - which node hosts which user's devices, in Redis (cluster.h,
 * "omtp:u:<userId>"), and this node's registry of its own online devices.
 *
 * The registry holds the host's device handles (cluster_host.h) between
 * omtp_cluster_login and _logout; the heartbeat rewrites their entries every
 * OMTP_CLUSTER_BEAT_MS (two commands per device), reading each device's
 * current state through host.describe.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

/* ------------------------------------------------------ local registry */

static void reg_add(omtp_cluster *cl, void *dev)
{
    if (cl->ndevs == cl->capdevs) {
        uint32_t cap = cl->capdevs ? cl->capdevs * 2 : 64;
        void **p = realloc(cl->devs, cap * sizeof(*p));
        if (!p) {
            LOG_ERROR("cluster: out of memory registering a connection");
            return;
        }
        cl->devs = p;
        cl->capdevs = cap;
    }
    cl->devs[cl->ndevs++] = dev;
}

static bool reg_remove(omtp_cluster *cl, void *dev)
{
    for (uint32_t i = cl->ndevs; i-- > 0;)
        if (cl->devs[i] == dev) {
            cl->devs[i] = cl->devs[--cl->ndevs];
            return true;
        }
    return false;
}

/* --------------------------------------------------- presence entries */

static void entry_field(const omtp_cluster *cl, int deviceType, char *out, size_t n)
{
    snprintf(out, n, "%s/%d", cl->node, deviceType);
}

static void entry_value(const omtp_cluster_device *d, char *out, size_t n)
{
    snprintf(out, n, "%lld/%lld/b%d/%s", (long long)(omtp_now_ms() + OMTP_CLUSTER_TTL_MS),
             (long long)d->loginMs, d->background ? 1 : 0, d->deviceId);
}

/* Parses "<expires>/<login>/b<0|1>/<deviceId>" (also the older
 * "<expires>/<login>/<deviceId>": not background); deviceId points into v. */
bool presence_entry_parse(const char *v, int64_t *expires, int64_t *login, bool *background,
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

/* Splits "<node>/<deviceType>" at the last '/'. */
bool presence_field_parse(const char *f, size_t flen, char *node, size_t nodelen, int *deviceType)
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

/* ----------------------------------------------------------- login */

/* KEYS[1] user hash; ARGV node, deviceType, value, ttl ms, shared ("1" for
 * a type whose logins do not replace each other: DEVICE_OBSERVER, see
 * docs/protocol.md "Observers"). Removes and returns the other nodes'
 * entries of this device type (unless shared), then adds ours. */
static const char LOGIN_LUA[] = "local out = {} "
                                "local all = {} "
                                "if ARGV[5] ~= '1' then all = redis.call('HGETALL', KEYS[1]) end "
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
} login_ctx;

/* The entries our login replaced: their nodes close those devices. */
static void on_login_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    login_ctx *lc = priv;
    redisReply *rep = r;
    omtp_cluster *cl = lc->cl;
    if (rep && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            char node[OMTP_CLUSTER_NODE_MAX];
            int dt;
            int64_t exp, login;
            bool bg;
            const char *devId;
            redisReply *f = rep->element[i], *v = rep->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
                !presence_field_parse(f->str, f->len, node, sizeof(node), &dt) ||
                !presence_entry_parse(v->str, &exp, &login, &bg, &devId))
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
            routing_send_kick(cl, node, &k);
            LOG_INFO("cluster: login of %s dev=%s replaces the device on node %s", lc->userId,
                     omtp_log_device(dt), node);
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        LOG_WARN("cluster: login script failed: %s", rep->str);
    }
    free(lc);
}

void omtp_cluster_login(omtp_cluster *cl, void *dev)
{
    if (!cl)
        return;
    reg_add(cl, dev);
    if (!link_cmd_ready(cl))
        return; /* registered at the next (re)connection by the heartbeat */
    omtp_cluster_device d;
    cl->host.describe(cl->host.host, dev, &d);
    login_ctx *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return;
    lc->cl = cl;
    snprintf(lc->userId, sizeof(lc->userId), "%s", d.userId);
    lc->deviceType = d.deviceType;
    snprintf(lc->deviceId, sizeof(lc->deviceId), "%s", d.deviceId);
    char key[OMTP_ID_MAX + 16], dt[16], val[OMTP_ID_MAX + 64], ttl[24];
    snprintf(key, sizeof(key), "omtp:u:%s", d.userId);
    snprintf(dt, sizeof(dt), "%d", d.deviceType);
    entry_value(&d, val, sizeof(val));
    snprintf(ttl, sizeof(ttl), "%d", OMTP_CLUSTER_TTL_MS);
    if (redisAsyncCommand(cl->cmd, on_login_reply, lc, "EVAL %s 1 %s %s %s %s %s %s", LOGIN_LUA,
                          key, cl->node, dt, val, ttl,
                          d.deviceType == DEVICE_OBSERVER ? "1" : "0") != REDIS_OK) {
        free(lc);
        return;
    }
    /* on the wire now, before the caller answers the login: a push another
     * node makes for this user after the client heard "logged in" finds the
     * entry (Redis runs commands in arrival order) */
    redisAsyncHandleWrite(cl->cmd);
}

void omtp_cluster_logout(omtp_cluster *cl, void *dev)
{
    if (!cl || !reg_remove(cl, dev))
        return;
    /* another local device of the same type (a replacement that logged in
     * here) keeps the entry */
    if (cl->host.same_type_online(cl->host.host, dev))
        return;
    if (!link_cmd_ready(cl))
        return;
    omtp_cluster_device d;
    cl->host.describe(cl->host.host, dev, &d);
    char key[OMTP_ID_MAX + 16], field[192];
    snprintf(key, sizeof(key), "omtp:u:%s", d.userId);
    entry_field(cl, d.deviceType, field, sizeof(field));
    redisAsyncCommand(cl->cmd, NULL, NULL, "HDEL %s %s", key, field);
}

void omtp_cluster_device_changed(omtp_cluster *cl, void *dev)
{
    if (!cl || !link_cmd_ready(cl))
        return;
    omtp_cluster_device d;
    cl->host.describe(cl->host.host, dev, &d);
    char key[OMTP_ID_MAX + 16], field[192], val[OMTP_ID_MAX + 64];
    snprintf(key, sizeof(key), "omtp:u:%s", d.userId);
    entry_field(cl, d.deviceType, field, sizeof(field));
    entry_value(&d, val, sizeof(val));
    redisAsyncCommand(cl->cmd, NULL, NULL, "HSET %s %s %s", key, field, val);
    redisAsyncHandleWrite(cl->cmd); /* on the wire before the client hears back */
}

/* ---------------------------------------------------------- heartbeat */

void presence_beat_all(omtp_cluster *cl)
{
    if (!link_cmd_ready(cl))
        return;
    char key[OMTP_ID_MAX + 16], field[192], val[OMTP_ID_MAX + 64];
    for (uint32_t i = 0; i < cl->ndevs; i++) {
        omtp_cluster_device d;
        cl->host.describe(cl->host.host, cl->devs[i], &d);
        snprintf(key, sizeof(key), "omtp:u:%s", d.userId);
        entry_field(cl, d.deviceType, field, sizeof(field));
        entry_value(&d, val, sizeof(val));
        redisAsyncCommand(cl->cmd, NULL, NULL, "HSET %s %s %s", key, field, val);
        redisAsyncCommand(cl->cmd, NULL, NULL, "PEXPIRE %s %d", key, OMTP_CLUSTER_TTL_MS);
    }
}

void presence_leave_all(omtp_cluster *cl)
{
    if (link_cmd_ready(cl)) {
        char key[OMTP_ID_MAX + 16], field[192];
        for (uint32_t i = 0; i < cl->ndevs; i++) {
            omtp_cluster_device d;
            cl->host.describe(cl->host.host, cl->devs[i], &d);
            snprintf(key, sizeof(key), "omtp:u:%s", d.userId);
            entry_field(cl, d.deviceType, field, sizeof(field));
            redisAsyncCommand(cl->cmd, NULL, NULL, "HDEL %s %s", key, field);
        }
    }
    cl->ndevs = 0;
}

void presence_resync_all(omtp_cluster *cl, const char *why)
{
    for (uint32_t i = 0; i < cl->ndevs; i++)
        cl->host.resync(cl->host.host, cl->devs[i], why);
}

/* ------------------------------------------- remote foreground lookup */

/* The foreground question is the devices lookup's (presence_watch.c)
 * answer read as "some foreground device": one parse of the table. */
typedef struct fg_lookup {
    uint32_t n;
    bool *online;
    omtp_cluster_online_fn done;
    void *arg;
} fg_lookup;

static void on_fg_devices(void *arg, const int *devices, const int *foreground)
{
    (void)devices;
    fg_lookup *q = arg;
    for (uint32_t i = 0; i < q->n; i++)
        q->online[i] = foreground[i] > 0;
    q->done(q->arg, q->online);
    free(q->online);
    free(q);
}

int omtp_cluster_remote_foreground(omtp_cluster *cl, const tars_str_list *users,
                                   omtp_cluster_online_fn done, void *arg)
{
    if (!users->n)
        return OMTP_ECLOSED;
    fg_lookup *q = calloc(1, sizeof(*q));
    if (!q || !(q->online = calloc(users->n, sizeof(bool)))) {
        free(q);
        return OMTP_ENOMEM;
    }
    q->n = users->n;
    q->done = done;
    q->arg = arg;
    int rc = omtp_cluster_remote_devices(cl, users, on_fg_devices, q);
    if (rc) {
        free(q->online);
        free(q);
    }
    return rc;
}
