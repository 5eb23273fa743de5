/*
 * webhook.c - offline push and before-send hooks, the loop side (see
 * webhook.h; the HTTP requests run in webhook_worker.c).
 *
 * Offline push, per committed message with a pushInfo:
 *   loop:  recipients without an online foreground device (presence table)
 *   store: unread_total of each (one work item; it reads, writes nothing)
 *   loop:  one JSON event per recipient -> worker (batches, retries, bound)
 * The sender's ack never waits for any of it: the chat code acks in the same
 * completion that calls omtp_webhook_offline_push(), which only queues.
 *
 * Before-send: the message (ids, content, pushInfo) as JSON -> worker ->
 * verdict back on the loop. Latency goes into a histogram (from submit to
 * the answer, timeouts included) exposed with omtp_webhook_metrics().
 */
#include "webhook.h"

#include "domain/msg.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "proto/omtp_proto.h"
#include "webhook_worker.h"

#define LAT_BUCKETS 12

static const uint64_t lat_le_us[LAT_BUCKETS - 1] = {1000,   2500,   5000,   10000,   25000,  50000,
                                                    100000, 250000, 500000, 1000000, 2500000};
static const char *const lat_le_txt[LAT_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};

enum { V_ALLOW, V_REFUSE, V_FAIL_OPEN, V_FAIL_CLOSED, V_N };

typedef struct webhook {
    omtp_server *srv;
    omtp_hookw *w;
    bool push_on, check_on, fail_open;
    uint32_t timeout_ms;
    /* loop-thread counters */
    uint64_t lat_bucket[LAT_BUCKETS]; /* non-cumulative; rendered cumulative */
    uint64_t lat_sum_us, lat_count;
    uint64_t verdicts[V_N];
    uint64_t push_msgs;      /* messages that produced at least one event */
    uint64_t push_events;    /* events handed to the worker */
    uint64_t push_online;    /* recipients skipped: a foreground device was online */
    uint64_t push_lost;      /* events not queued (store error, OOM, worker refused) */
    struct bs_call *pending; /* before-send calls in flight (for close) */
} webhook;

static webhook *wh_of(omtp_server *s)
{
    return s ? s->webhook : NULL;
}

static const char *type_name(int type)
{
    switch (type) {
    case PT_MSG_SINGLE_CHAT:
        return "single";
    case PT_MSG_GROUP_CHAT:
        return "group";
    case PT_MSG_BIZ_NOTIFY:
        return "biz";
    }
    return "other";
}

/* Sets key to the bytes as a JSON string, or, when they are not valid
 * UTF-8, to their base64 under key + "Base64". */
static int json_set_bytes(json_t *o, const char *key, const tars_str *v)
{
    json_t *s = json_stringn(v->data ? v->data : "", v->len);
    if (s)
        return json_object_set_new(o, key, s);
    size_t n = 4 * ((v->len + 2) / 3) + 1;
    char *b64 = malloc(n);
    char k[64];
    if (!b64)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)v->data, (int)v->len);
    snprintf(k, sizeof k, "%sBase64", key);
    int rc = json_object_set_new(o, k, json_string(b64));
    free(b64);
    return rc;
}

/* ------------------------------------------------------------ life cycle */

int omtp_webhook_init(omtp_server *s)
{
    const omtp_config *cfg = s->cfg;
    if (!cfg->push_webhook_url[0] && !cfg->before_send_url[0])
        return 0;
    webhook *wh = calloc(1, sizeof *wh);
    if (!wh)
        return OMTP_ENOMEM;
    wh->srv = s;
    wh->push_on = cfg->push_webhook_url[0] != '\0';
    wh->check_on = cfg->before_send_url[0] != '\0';
    wh->fail_open = cfg->before_send_fail_open;
    wh->timeout_ms = cfg->before_send_timeout_ms ? cfg->before_send_timeout_ms : 500;
    omtp_hookw_config hc = {
        .push_url = cfg->push_webhook_url,
        .batch_ms = cfg->push_webhook_batch_ms,
        .queue_max = cfg->push_webhook_queue_max,
        .check_url = cfg->before_send_url,
        .check_timeout_ms = wh->timeout_ms,
        .secret = cfg->webhook_secret,
    };
    int rc = omtp_hookw_start(s->loop, &hc, &wh->w);
    if (rc != 0) {
        free(wh);
        return rc;
    }
    s->webhook = wh;
    /* the message domain asks and tells us through these (domain/msg.h) */
    static const struct omtp_msg_hooks msg_hooks = {
        .before_send = omtp_webhook_before_send,
        .stored = omtp_webhook_offline_push,
    };
    s->msg_hooks = &msg_hooks;
    if (!cfg->webhook_secret[0])
        LOG_WARN("webhook: webhook_secret is empty: requests to the business backend are "
                 "not signed");
    if (wh->push_on)
        LOG_INFO("webhook: offline push to %s (batch %u ms, queue %u)", cfg->push_webhook_url,
                 cfg->push_webhook_batch_ms, hc.queue_max ? hc.queue_max : 10000);
    if (wh->check_on)
        LOG_INFO("webhook: before-send check at %s (timeout %u ms, fail %s)", cfg->before_send_url,
                 wh->timeout_ms, wh->fail_open ? "open" : "closed");
    return 0;
}

void omtp_webhook_reload(omtp_server *s)
{
    const omtp_config *cfg = s->cfg;
    webhook *wh = wh_of(s);
    if (!wh) {
        if (cfg->push_webhook_url[0] || cfg->before_send_url[0])
            LOG_WARN("reload: webhooks were off at start: push_webhook_url and before_send_url "
                     "take effect at the next restart");
        return;
    }
    if (omtp_hookw_set_urls(wh->w, cfg->push_webhook_url, cfg->before_send_url,
                            cfg->webhook_secret)) {
        LOG_ERROR("reload: out of memory: webhook settings unchanged");
        return;
    }
    wh->push_on = cfg->push_webhook_url[0] != '\0';
    wh->check_on = cfg->before_send_url[0] != '\0';
    wh->fail_open = cfg->before_send_fail_open;
    LOG_INFO("webhook: offline push %s, before-send check %s (fail %s), requests %s",
             wh->push_on ? "on" : "off", wh->check_on ? "on" : "off",
             wh->fail_open ? "open" : "closed", cfg->webhook_secret[0] ? "signed" : "unsigned");
}

/* ----------------------------------------------------------- before-send */

typedef struct bs_call {
    struct bs_call *prev, *next; /* wh->pending */
    webhook *wh;
    omtp_webhook_verdict_fn done;
    void *arg;
    uv_timer_t timer; /* only for a verdict decided locally (deferred) */
    int code;
    char desc[192];
    char from[OMTP_ID_MAX + 1], to[OMTP_ID_MAX + 1]; /* for the refusal's log line */
} bs_call;

static void bs_unlink(webhook *wh, bs_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        wh->pending = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void bs_fail(webhook *wh, bs_call *c, const char *why)
{
    if (wh->fail_open) {
        wh->verdicts[V_FAIL_OPEN]++;
        c->code = OMTP_EC_SUCCESS;
        c->desc[0] = '\0';
        LOG_WARN("webhook: before-send check failed (%s): message allowed (fail open)", why);
    } else {
        wh->verdicts[V_FAIL_CLOSED]++;
        c->code = OMTP_EC_SERVICE_UNAVAILABLE;
        snprintf(c->desc, sizeof c->desc,
                 "the content check is unavailable (%s); the message was not sent, try again", why);
        LOG_WARN("webhook: before-send check failed (%s): message refused (fail closed)", why);
    }
}

/* Reads the hook's 2xx answer. Returns false if it is not a verdict. */
static bool bs_parse(bs_call *c, const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len) { /* empty 2xx: allowed */
        c->code = OMTP_EC_SUCCESS;
        return true;
    }
    json_error_t err;
    json_t *o = json_loadb(body, len, 0, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return false;
    }
    json_t *allow = json_object_get(o, "allow");
    if (allow && !json_is_boolean(allow)) {
        json_decref(o);
        return false;
    }
    if (!allow || json_is_true(allow)) {
        c->code = OMTP_EC_SUCCESS;
    } else {
        json_t *code = json_object_get(o, "code");
        json_t *desc = json_object_get(o, "desc");
        c->code = OMTP_EC_SENSI_MATCH;
        if (json_is_integer(code) && json_integer_value(code) > 0 &&
            json_integer_value(code) < 1000000)
            c->code = (int)json_integer_value(code);
        snprintf(c->desc, sizeof c->desc, "%s",
                 json_is_string(desc) ? json_string_value(desc)
                                      : "the message was refused by the content policy");
    }
    json_decref(o);
    return true;
}

static void bs_finish(bs_call *c)
{
    webhook *wh = c->wh;
    bs_unlink(wh, c);
    c->done(c->arg, c->code, c->desc);
    free(c);
}

static void bs_answer(void *arg, int status, long http_status, const char *body, size_t len,
                      uint64_t elapsed_us)
{
    bs_call *c = arg;
    webhook *wh = c->wh;
    char why[64];
    int b = 0;
    while (b < LAT_BUCKETS - 1 && elapsed_us > lat_le_us[b])
        b++;
    wh->lat_bucket[b]++;
    wh->lat_sum_us += elapsed_us;
    wh->lat_count++;
    if (status != 0) {
        bs_fail(wh, c, status == OMTP_ETIMEDOUT ? "timeout" : omtp_strerror(status));
    } else if (http_status < 200 || http_status >= 300) {
        snprintf(why, sizeof why, "HTTP %ld", http_status);
        bs_fail(wh, c, why);
    } else if (!bs_parse(c, body, len)) {
        bs_fail(wh, c, "answer is not a JSON verdict");
    } else {
        wh->verdicts[c->code == OMTP_EC_SUCCESS ? V_ALLOW : V_REFUSE]++;
        if (c->code != OMTP_EC_SUCCESS)
            LOG_INFO("moderation: the before-send hook refused a message caller=%s to=%s "
                     "code=%d desc=\"%s\"",
                     c->from, c->to, c->code, c->desc);
    }
    bs_finish(c);
}

static void bs_timer_freed(uv_handle_t *h)
{
    free(h->data);
}

static void bs_deferred(uv_timer_t *t)
{
    bs_call *c = t->data;
    bs_unlink(c->wh, c);
    c->done(c->arg, c->code, c->desc);
    uv_close((uv_handle_t *)t, bs_timer_freed);
}

static char *bs_body(const omtp_msg_rec *m, size_t *len)
{
    json_t *o = json_object();
    char *out = NULL;
    if (!o)
        return NULL;
    const omtp_MsgReq *q = &m->msg;
    if (json_object_set_new(o, "event", json_string("before_send")) ||
        json_object_set_new(o, "type", json_string(type_name(m->type))) ||
        json_object_set_new(o, "packId", json_string(m->packId.data ? m->packId.data : "")) ||
        json_set_bytes(o, "from", &q->from) || json_set_bytes(o, "to", &q->to) ||
        json_set_bytes(o, "sessionId", &q->sessionId) ||
        json_object_set_new(o, "contentType", json_integer(q->contentType)) ||
        json_set_bytes(o, "content", &q->content) || json_set_bytes(o, "pushInfo", &q->pushInfo) ||
        json_object_set_new(o, "flags", json_integer(m->flags)))
        goto out;
    out = json_dumps(o, JSON_COMPACT);
    if (out)
        *len = strlen(out);
out:
    json_decref(o);
    return out;
}

bool omtp_webhook_before_send(omtp_server *s, const omtp_msg_rec *m, omtp_webhook_verdict_fn done,
                              void *arg)
{
    webhook *wh = wh_of(s);
    if (!wh || !wh->check_on || !m ||
        (m->type != PT_MSG_SINGLE_CHAT && m->type != PT_MSG_GROUP_CHAT))
        return false;
    bs_call *c = calloc(1, sizeof *c);
    if (!c) {
        LOG_ERROR("webhook: out of memory: before-send check skipped");
        return false;
    }
    c->wh = wh;
    c->done = done;
    c->arg = arg;
    snprintf(c->from, sizeof c->from, "%.*s", (int)m->msg.from.len,
             m->msg.from.data ? m->msg.from.data : "");
    snprintf(c->to, sizeof c->to, "%.*s", (int)m->msg.to.len, m->msg.to.data ? m->msg.to.data : "");
    c->next = wh->pending;
    if (wh->pending)
        wh->pending->prev = c;
    wh->pending = c;
    size_t len = 0;
    char *body = bs_body(m, &len);
    int rc = body ? omtp_hookw_check(wh->w, body, len, bs_answer, c) : OMTP_ENOMEM;
    free(body);
    if (rc == 0)
        return true;
    /* decided here, answered on the next loop turn (never from inside) */
    bs_fail(wh, c, omtp_strerror(rc));
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, bs_deferred, 0, 0);
    return true;
}

/* ---------------------------------------------------------- offline push */

bool omtp_webhook_conn_foreground(const omtp_conn *c)
{
    return c && c->state == OMTP_CONN_ONLINE && !c->background;
}

static bool user_in_foreground(omtp_server *s, const char *user)
{
    for (omtp_conn *c = omtp_presence_first(s, user); c; c = c->next_device)
        if (omtp_webhook_conn_foreground(c))
            return true;
    return false;
}

typedef struct push_job {
    omtp_server *srv;
    omtp_msg_rec m; /* ids, pushInfo (content left out) */
    tars_str_list users;
    int64_t *unread; /* per user; -1 = unknown */
} push_job;

static void push_job_free(push_job *j)
{
    omtp_msg_rec_free(&j->m);
    for (uint32_t i = 0; i < j->users.n; i++)
        tars_str_clear(&j->users.items[i]);
    free(j->users.items);
    free(j->unread);
    free(j);
}

static int push_unread_work(omtp_db *db, void *arg)
{
    push_job *j = arg;
    for (uint32_t i = 0; i < j->users.n; i++)
        if (omtp_db_unread_total(db, j->users.items[i].data, &j->unread[i]) != 0)
            j->unread[i] = -1; /* the event still goes, without a badge count */
    return 0;
}

/* Whether the message mentions recipient i by id or with "@all"
 * (docs/protocol.md, Extensions: mentions). */
static bool push_mentioned(const push_job *j, uint32_t i)
{
    const tars_str_list *l = &j->m.msg.mentions;
    for (uint32_t k = 0; k < l->n; k++)
        if (tars_str_eq(&l->items[k], OMTP_MENTION_ALL) ||
            (l->items[k].len == j->users.items[i].len &&
             memcmp(l->items[k].data, j->users.items[i].data, l->items[k].len) == 0))
            return true;
    return false;
}

static char *push_event(const push_job *j, uint32_t i, size_t *len)
{
    const omtp_MsgReq *q = &j->m.msg;
    json_t *o = json_object();
    char *out = NULL;
    if (!o)
        return NULL;
    if (json_object_set_new(o, "event", json_string("offline_push")) ||
        json_set_bytes(o, "recipient", &j->users.items[i]) ||
        json_object_set_new(o, "type", json_string(type_name(j->m.type))) ||
        json_set_bytes(o, "sessionId", &q->sessionId) ||
        json_object_set_new(o, "seqId", json_integer(q->seqId)) ||
        json_set_bytes(o, "from", &q->from) || json_set_bytes(o, "to", &q->to) ||
        json_object_set_new(o, "packId", json_string(j->m.packId.data ? j->m.packId.data : "")) ||
        json_object_set_new(o, "timestamp", json_integer(q->timestamp)) ||
        json_object_set_new(o, "contentType", json_integer(q->contentType)) ||
        json_set_bytes(o, "pushInfo", &q->pushInfo) ||
        json_object_set_new(o, "mentioned", json_boolean(push_mentioned(j, i))) ||
        json_object_set_new(o, "unread",
                            j->unread[i] >= 0 ? json_integer(j->unread[i]) : json_null()))
        goto out;
    out = json_dumps(o, JSON_COMPACT);
    if (out)
        *len = strlen(out);
out:
    json_decref(o);
    return out;
}

static void push_unread_done(void *arg, int status)
{
    push_job *j = arg;
    webhook *wh = wh_of(j->srv);
    if (!wh) { /* webhooks closed meanwhile (shutdown) */
        push_job_free(j);
        return;
    }
    if (status != 0)
        for (uint32_t i = 0; i < j->users.n; i++)
            j->unread[i] = -1;
    for (uint32_t i = 0; i < j->users.n; i++) {
        size_t len = 0;
        char *ev = push_event(j, i, &len);
        int rc = ev ? omtp_hookw_push(wh->w, j->users.items[i].data, ev, len) : OMTP_ENOMEM;
        free(ev);
        if (rc == 0) {
            wh->push_events++;
        } else {
            wh->push_lost++;
            LOG_WARN("webhook: offline push event for %s (%s/%lld) not queued: %s",
                     j->users.items[i].data, j->m.msg.sessionId.data, (long long)j->m.msg.seqId,
                     omtp_strerror(rc));
        }
    }
    push_job_free(j);
}

/* Unread totals on the store thread, then the events. */
static void push_submit(webhook *wh, push_job *j)
{
    wh->push_msgs++;
    int rc = omtp_store_submit(j->srv->store, push_unread_work, push_unread_done, j);
    if (rc != 0) {
        wh->push_lost += j->users.n;
        LOG_WARN("webhook: offline push for %s/%lld skipped: store refused the work (%s)",
                 j->m.msg.sessionId.data, (long long)j->m.msg.seqId, omtp_strerror(rc));
        push_job_free(j);
    }
}

/* Cluster: drops the recipients with a foreground device on another node. */
static void push_remote_done(void *arg, const bool *online)
{
    push_job *j = arg;
    webhook *wh = wh_of(j->srv);
    if (!wh) { /* webhooks closed meanwhile (shutdown) */
        push_job_free(j);
        return;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < j->users.n; i++) {
        if (online[i]) {
            wh->push_online++;
            tars_str_clear(&j->users.items[i]);
        } else {
            j->users.items[k++] = j->users.items[i];
        }
    }
    j->users.n = k;
    if (k == 0) {
        push_job_free(j);
        return;
    }
    push_submit(wh, j);
}

void omtp_webhook_offline_push(omtp_server *s, const omtp_msg_rec *m,
                               const tars_str_list *recipients)
{
    webhook *wh = wh_of(s);
    if (!wh || !wh->push_on || !m || m->msg.pushInfo.len == 0 || !recipients || recipients->n == 0)
        return;
    push_job *j = calloc(1, sizeof *j);
    if (!j)
        goto oom;
    j->srv = s;
    omtp_msg_rec_init(&j->m);
    j->users.items = calloc(recipients->n, sizeof *j->users.items);
    j->unread = calloc(recipients->n, sizeof *j->unread);
    if (!j->users.items || !j->unread)
        goto oom;
    for (uint32_t i = 0; i < recipients->n; i++) {
        const tars_str *r = &recipients->items[i];
        if (r->len == 0 || tars_str_eq(r, m->msg.from.data))
            continue; /* the sender's own devices have the message already */
        if (user_in_foreground(s, r->data)) {
            wh->push_online++;
            continue;
        }
        if (tars_str_setn(&j->users.items[j->users.n], r->data, r->len) != 0)
            goto oom;
        j->users.n++;
    }
    if (j->users.n == 0) {
        push_job_free(j);
        return;
    }
    /* what the event needs, without the content */
    j->m.type = m->type;
    j->m.flags = m->flags;
    j->m.msg.seqId = m->msg.seqId;
    j->m.msg.timestamp = m->msg.timestamp;
    j->m.msg.contentType = m->msg.contentType;
    if (tars_str_setn(&j->m.packId, m->packId.data, m->packId.len) ||
        tars_str_setn(&j->m.msg.sessionId, m->msg.sessionId.data, m->msg.sessionId.len) ||
        tars_str_setn(&j->m.msg.from, m->msg.from.data, m->msg.from.len) ||
        tars_str_setn(&j->m.msg.to, m->msg.to.data, m->msg.to.len) ||
        tars_str_setn(&j->m.msg.pushInfo, m->msg.pushInfo.data, m->msg.pushInfo.len))
        goto oom;
    if (m->msg.mentions.n) { /* for "mentioned" */
        tars_str_list *l = &j->m.msg.mentions;
        if (!(l->items = calloc(m->msg.mentions.n, sizeof *l->items)))
            goto oom;
        for (; l->n < m->msg.mentions.n; l->n++)
            if (tars_str_setn(&l->items[l->n], m->msg.mentions.items[l->n].data,
                              m->msg.mentions.items[l->n].len) != 0)
                goto oom;
    }
    /* in a cluster, a user not connected here may be online on another node:
     * ask the presence table (asynchronously); without a cluster or with
     * Redis down, this node's view decides */
    if (omtp_cluster_remote_foreground(s->cluster, &j->users, push_remote_done, j) == 0)
        return;
    push_submit(wh, j);
    return;
oom:
    wh->push_lost++;
    LOG_ERROR("webhook: out of memory: offline push for %s/%lld skipped", m->msg.sessionId.data,
              (long long)m->msg.seqId);
    if (j)
        push_job_free(j);
}

/* ----------------------------------------------------- device attributes */

bool omtp_webhook_device_attr(omtp_req *req)
{
    const omtp_UserAttrSetReq *q = req->body;
    if (!q || q->attribute.friendId.len != 0 ||
        strncmp(q->attribute.attrName.data ? q->attribute.attrName.data : "", "device.", 7) != 0)
        return false;
    const omtp_UserAttribute *a = &q->attribute;
    omtp_conn *c = req->conn;
    if (a->userId.len && !tars_str_eq(&a->userId, c->userId)) {
        omtp_reply_code(req, OMTP_EC_MSG_FORBIDDEN,
                        "attribute.userId '%.128s' is not the logged-in user '%s'", a->userId.data,
                        c->userId);
        return true;
    }
    if (strcmp(a->attrName.data, "device.background") != 0) {
        omtp_reply_code(req, OMTP_EC_PARAM,
                        "unknown device attribute '%.64s' (known: device.background)",
                        a->attrName.data);
        return true;
    }
    const char *v = a->attrValue.data ? a->attrValue.data : "";
    if (!strcmp(v, "1") || !strcmp(v, "true")) {
        c->background = true;
    } else if (!strcmp(v, "0") || !strcmp(v, "false") || !*v) {
        c->background = false;
    } else {
        omtp_reply_code(req, OMTP_EC_PARAM, "device.background must be \"1\" or \"0\", not '%.32s'",
                        v);
        return true;
    }
    LOG_DEBUG("conn %llu %s dev=%s: %s", (unsigned long long)c->id, c->userId,
              omtp_log_device(c->deviceType), c->background ? "background" : "foreground");
    omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
    return true;
}

/* --------------------------------------------------------------- metrics */

char *omtp_webhook_metrics(omtp_server *s)
{
    webhook *wh = wh_of(s);
    if (!wh)
        return strdup("");
    omtp_hookw_stats st;
    omtp_hookw_stats_get(wh->w, &st);
    size_t cap = 4096;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    size_t o = 0;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        int n_ = snprintf(p + o, cap - o, __VA_ARGS__);                                            \
        if (n_ > 0 && (size_t)n_ < cap - o)                                                        \
            o += (size_t)n_;                                                                       \
    } while (0)
    if (wh->check_on) {
        OUT("# HELP omtp_webhook_before_send_seconds time the before-send hook took to answer "
            "(timeouts included)\n# TYPE omtp_webhook_before_send_seconds histogram\n");
        uint64_t cum = 0;
        for (int i = 0; i < LAT_BUCKETS; i++) {
            cum += wh->lat_bucket[i];
            OUT("omtp_webhook_before_send_seconds_bucket{le=\"%s\"} %llu\n", lat_le_txt[i],
                (unsigned long long)cum);
        }
        OUT("omtp_webhook_before_send_seconds_sum %.6f\n", (double)wh->lat_sum_us / 1e6);
        OUT("omtp_webhook_before_send_seconds_count %llu\n", (unsigned long long)wh->lat_count);
        OUT("# HELP omtp_webhook_before_send_total before-send verdicts\n"
            "# TYPE omtp_webhook_before_send_total counter\n");
        static const char *const vn[V_N] = {"allow", "refuse", "fail_open", "fail_closed"};
        for (int i = 0; i < V_N; i++)
            OUT("omtp_webhook_before_send_total{result=\"%s\"} %llu\n", vn[i],
                (unsigned long long)wh->verdicts[i]);
    }
    if (wh->push_on) {
        OUT("# HELP omtp_webhook_push_events_total offline push events by outcome\n"
            "# TYPE omtp_webhook_push_events_total counter\n");
        OUT("omtp_webhook_push_events_total{result=\"queued\"} %llu\n",
            (unsigned long long)wh->push_events);
        OUT("omtp_webhook_push_events_total{result=\"delivered\"} %llu\n",
            (unsigned long long)st.events_delivered);
        OUT("omtp_webhook_push_events_total{result=\"dropped\"} %llu\n",
            (unsigned long long)(st.events_dropped + wh->push_lost));
        OUT("# HELP omtp_webhook_push_queue_depth offline push events waiting for delivery\n"
            "# TYPE omtp_webhook_push_queue_depth gauge\n"
            "omtp_webhook_push_queue_depth %llu\n",
            (unsigned long long)st.events_waiting);
        OUT("# HELP omtp_webhook_push_posts_total offline push POSTs by result\n"
            "# TYPE omtp_webhook_push_posts_total counter\n"
            "omtp_webhook_push_posts_total{result=\"ok\"} %llu\n"
            "omtp_webhook_push_posts_total{result=\"failed\"} %llu\n",
            (unsigned long long)st.posts_ok, (unsigned long long)st.posts_failed);
        OUT("# HELP omtp_webhook_push_skipped_online_total recipients not pushed: a foreground "
            "device was online\n# TYPE omtp_webhook_push_skipped_online_total counter\n"
            "omtp_webhook_push_skipped_online_total %llu\n",
            (unsigned long long)wh->push_online);
    }
#undef OUT
    p[o] = '\0';
    return p;
}

/* ------------------------------------------------------------------ close */

void omtp_webhook_close(omtp_server *s)
{
    webhook *wh = wh_of(s);
    if (!wh)
        return;
    /* checks in flight are answered now, through bs_answer (ECLOSED -> fail mode) */
    omtp_hookw_stop(wh->w);
    wh->w = NULL;
    /* what is left was decided locally and waits for its timer: answer now */
    while (wh->pending) {
        bs_call *c = wh->pending;
        bs_unlink(wh, c);
        uv_timer_stop(&c->timer);
        c->done(c->arg, c->code, c->desc);
        uv_close((uv_handle_t *)&c->timer, bs_timer_freed);
    }
    s->webhook = NULL;
    free(wh);
}
