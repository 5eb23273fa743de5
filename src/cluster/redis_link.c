/*
 * redis_link.c - the cluster's two Redis connections (see cluster_int.h).
 *
 * `cmd` carries commands, `sub` is subscribed to this node's channel and to
 * the broadcast channel. Both are hiredis async contexts on the loop
 * (redis_uv.c): neither ever blocks it. A lost connection is retried by one
 * timer with exponential backoff (100 ms .. 5 s); when both are up again
 * cluster_on_up runs, when one goes cluster_on_down.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "redis_uv.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static void schedule_retry(omtp_cluster *cl);

/* redis://[:password@]host:port[/db] */
int link_parse_url(omtp_cluster *cl, const char *url, char *why, size_t whylen)
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
    if (colon == p || (size_t)(colon - p) >= sizeof(cl->host_name)) {
        snprintf(why, whylen, "redis_url \"%s\": bad host", url);
        return OMTP_EINVAL;
    }
    snprintf(cl->host_name, sizeof(cl->host_name), "%.*s", (int)(colon - p), p);
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

bool link_cmd_ready(const omtp_cluster *cl)
{
    return cl->cmd && cl->cmd_up;
}

void link_publish(omtp_cluster *cl, const char *node, const tars_buf *msg)
{
    if (!link_cmd_ready(cl))
        return;
    char chan[160];
    snprintf(chan, sizeof(chan), "omtp:ch:%s", node);
    redisAsyncCommand(cl->cmd, NULL, NULL, "PUBLISH %s %b", chan, msg->data, msg->len);
    cl->st.published++;
}

int link_broadcast(omtp_cluster *cl, const tars_buf *msg, redisCallbackFn *cb, void *priv)
{
    if (!link_cmd_ready(cl))
        return REDIS_ERR;
    return redisAsyncCommand(cl->cmd, cb, priv, "PUBLISH %s %b", OMTP_CLUSTER_BCAST_CHAN, msg->data,
                             msg->len);
}

static void set_up(omtp_cluster *cl)
{
    bool up = cl->cmd_up && cl->sub_up;
    if (up == cl->st.up)
        return;
    cl->st.up = up;
    if (!up) {
        LOG_WARN("cluster: Redis %s:%d unavailable: serving local users only, retrying",
                 cl->host_name, cl->port);
        cluster_on_down(cl);
        return;
    }
    cl->backoff_ms = 0;
    LOG_INFO("cluster: node %s connected to Redis %s:%d%s", cl->node, cl->host_name, cl->port,
             cl->ever_up ? " (recovered)" : "");
    cluster_on_up(cl, cl->ever_up);
    cl->ever_up = true;
}

static void on_sub_msg(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
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
        cluster_on_channel(cl, rep->element[2]->str, rep->element[2]->len);
    }
}

static void on_cmd_ready(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
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
                     cl->host_name, cl->port, ac->errstr);
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
    (void)status;
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
    redisAsyncContext *ac = redisAsyncConnect(cl->host_name, cl->port);
    if (!ac)
        return NULL;
    if (ac->err) {
        LOG_DEBUG("cluster: connect to Redis failed: %s", ac->errstr);
        if (!cl->ever_up && !cl->backoff_ms)
            LOG_WARN("cluster: cannot connect to Redis %s:%d (%s): serving local users only, "
                     "retrying; check redis_url and that Redis runs",
                     cl->host_name, cl->port, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = cl;
    if (omtp_redis_uv_attach(ac, cl->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (cl->password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", cl->password);
    return ac;
}

void link_connect(omtp_cluster *cl)
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
            redisAsyncCommand(cl->sub, on_sub_msg, NULL, "SUBSCRIBE %s %s", cl->chan,
                              OMTP_CLUSTER_BCAST_CHAN);
    }
    if (!cl->cmd || !cl->sub)
        schedule_retry(cl);
}

static void on_retry(uv_timer_t *t)
{
    link_connect(t->data);
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

void link_close(omtp_cluster *cl)
{
    redisAsyncContext *cmd = cl->cmd, *sub = cl->sub;
    cl->cmd_up = cl->sub_up = false;
    uv_timer_stop(&cl->retry);
    if (cmd)
        redisAsyncDisconnect(cmd); /* sends what is queued (the HDELs) first */
    if (sub)
        redisAsyncDisconnect(sub);
}
