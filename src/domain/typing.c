/*
 * typing.c - typing notices: checks, the per-(user, session) rate limit and
 * the relay (domain/typing.h).
 *
 * Threading: loop thread; a group's members are read on the store thread
 * when the member cache (domain/group_state.h) does not hold them.
 */
#include "domain/typing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"
#include "domain/group_state.h"

typedef struct tslot {
    uint64_t key; /* 0 = empty */
    int64_t at;   /* ms of the last relay */
} tslot;

struct dom_typing {
    tslot *t;
    uint32_t cap, n; /* cap: power of two */
    uint64_t relayed, dropped;
};

static uint64_t pair_key(const char *user, const char *session)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = user; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* a byte no id holds separates the two */
    for (const char *p = session; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h ? h : 1;
}

static struct dom_typing *state(omtp_server *s)
{
    if (!s->typing)
        s->typing = calloc(1, sizeof(struct dom_typing));
    return s->typing;
}

static tslot *find(struct dom_typing *d, uint64_t key, bool *found)
{
    *found = false;
    if (!d->cap)
        return NULL;
    for (uint32_t i = (uint32_t)key & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        if (d->t[i].key == key) {
            *found = true;
            return &d->t[i];
        }
        if (!d->t[i].key)
            return &d->t[i];
    }
}

/* Rebuilds the table without entries older than the interval, doubling it
 * when at least a quarter is still in use. */
static int rebuild(struct dom_typing *d, int64_t now)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < d->cap; i++)
        live += d->t[i].key && now - d->t[i].at < OMTP_TYPING_INTERVAL_MS;
    uint32_t cap = d->cap ? d->cap : 256;
    while (live * 4 >= cap)
        cap *= 2;
    tslot *t = calloc(cap, sizeof(*t));
    if (!t)
        return OMTP_ENOMEM;
    struct dom_typing nd = {.t = t, .cap = cap};
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->t[i].key && now - d->t[i].at < OMTP_TYPING_INTERVAL_MS) {
            bool f;
            *find(&nd, d->t[i].key, &f) = d->t[i];
            nd.n++;
        }
    free(d->t);
    d->t = t;
    d->cap = cap;
    d->n = nd.n;
    return 0;
}

/* Whether (user, session) relayed within the interval. */
static bool too_soon(omtp_server *s, const char *user, const char *session)
{
    struct dom_typing *d = state(s);
    bool f;
    tslot *e = d ? find(d, pair_key(user, session), &f) : NULL;
    return e && f && omtp_now_ms() - e->at < OMTP_TYPING_INTERVAL_MS;
}

static void record(omtp_server *s, const char *user, const char *session)
{
    struct dom_typing *d = state(s);
    int64_t now = omtp_now_ms();
    if (!d || ((d->n + 1) * 2 > d->cap && rebuild(d, now)))
        return; /* out of memory: not limited this time */
    bool f;
    tslot *e = find(d, pair_key(user, session), &f);
    if (!f) {
        e->key = pair_key(user, session);
        d->n++;
    }
    e->at = now;
    d->relayed++;
}

static omtp_wire *notice(const char *sessionId, const char *userId, int state)
{
    omtp_TypingNotice n;
    omtp_msg_init(&omtp_TypingNotice_desc, &n);
    n.sessionId.data = (char *)sessionId; /* borrowed for the encode */
    n.sessionId.len = (uint32_t)strlen(sessionId);
    n.userId.data = (char *)userId;
    n.userId.len = (uint32_t)strlen(userId);
    n.state = state;
    return omtp_wire_new(PT_TYPING, 0, NULL, &omtp_TypingNotice_desc, &n);
}

static void result(omtp_dom_typing_done cb, void *arg, int code, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void result(omtp_dom_typing_done cb, void *arg, int code, const char *reason,
                   const char *fmt, ...)
{
    omtp_dom_outcome res = {.code = code, .reason = reason};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.desc, sizeof(res.desc), fmt, ap);
    va_end(ap);
    cb(arg, &res);
}

/* Relays to the group's members if the user is one; the answer. */
static void group_relay(omtp_server *s, omtp_members *m, omtp_conn *except, const char *user,
                        const char *session, int st, omtp_dom_typing_done cb, void *arg)
{
    if (!omtp_ids_contains(&m->ids, user)) {
        result(cb, arg, OMTP_EC_MSG_FORBIDDEN, "not_member", "you are not a member of group %s",
               session);
        return;
    }
    if (too_soon(s, user, session)) { /* raced with another relay */
        s->typing->dropped++;
        result(cb, arg, 0, NULL, "%s", "");
        return;
    }
    omtp_wire *w = notice(session, user, st);
    if (w) {
        omtp_fanout_wire(s, w, m, except);
        omtp_wire_unref(w);
        record(s, user, session);
    }
    result(cb, arg, 0, NULL, "%s", "");
}

typedef struct top {
    omtp_server *srv;
    omtp_conn *conn; /* referenced, may be NULL */
    omtp_dom_typing_done cb;
    void *arg;
    char userId[OMTP_ID_MAX + 1];
    char sessionId[OMTP_SESSION_ID_MAX + 1];
    int state;
    uint64_t epoch;
    tars_str_list members;
    bool unknown;
} top;

static int top_work(omtp_db *db, void *arg)
{
    top *o = arg;
    int rc = omtp_db_group_members(db, o->sessionId, &o->members);
    if (rc == OMTP_ENOTFOUND) {
        o->unknown = true;
        return 0;
    }
    return rc;
}

static void top_done(void *arg, int status)
{
    top *o = arg;
    omtp_server *s = o->srv;
    if (status < 0) {
        result(o->cb, o->arg, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
               omtp_strerror(status));
    } else if (o->unknown) {
        result(o->cb, o->arg, OMTP_EC_MSG_FORBIDDEN, "unknown_group", "group %s does not exist",
               o->sessionId);
    } else {
        omtp_members *m = omtp_members_new(&o->members);
        if (!m) {
            result(o->cb, o->arg, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        } else {
            omtp_group_cache_put(s, o->sessionId, m, o->epoch);
            group_relay(s, m, o->conn, o->userId, o->sessionId, o->state, o->cb, o->arg);
            omtp_members_unref(m);
        }
    }
    if (o->conn)
        omtp_conn_unref(o->conn);
    omtp_ids_free(&o->members);
    free(o);
}

void omtp_dom_typing(omtp_server *s, const omtp_dom_caller *who, const char *sessionId, int st,
                     omtp_dom_typing_done cb, void *arg)
{
    if (who->role != OMTP_DOM_USER || !who->user) {
        result(cb, arg, OMTP_EC_PARAM, "no_privilege", "typing is for logged-in users");
        return;
    }
    const char *user = who->user;
    size_t len = sessionId ? strlen(sessionId) : 0;
    if (!len || len > OMTP_SESSION_ID_MAX) {
        result(cb, arg, OMTP_EC_PARAM, "invalid_field", "sessionId must be 1..%d bytes",
               OMTP_SESSION_ID_MAX);
        return;
    }
    if (st != 0 && st != 1) {
        result(cb, arg, OMTP_EC_PARAM, "invalid_field",
               "state must be 1 (typing) or 0 (stopped), not %d", st);
        return;
    }
    bool group = omtp_session_is_group(sessionId);
    if (!group && strncmp(sessionId, "SC_", 3) != 0) {
        result(cb, arg, OMTP_EC_PARAM, "invalid_field",
               "typing is relayed in single chats (SC_...) and groups (GC_...), not in %.64s",
               sessionId);
        return;
    }
    if (too_soon(s, user, sessionId)) { /* only ever true for a session relayed to */
        s->typing->dropped++;
        result(cb, arg, 0, NULL, "%s", "");
        return;
    }
    if (!group) {
        char peer[OMTP_ID_MAX + 1];
        if (!omtp_session_peer(sessionId, user, peer, sizeof(peer))) {
            result(cb, arg, OMTP_EC_MSG_FORBIDDEN, "not_member",
                   "%.64s is not a single chat of yours (SC_<lower id>_<higher id>)", sessionId);
            return;
        }
        omtp_wire *w = notice(sessionId, user, st);
        if (w) {
            omtp_push_user(s, peer, w, NULL);
            omtp_wire_unref(w);
            record(s, user, sessionId);
        }
        result(cb, arg, 0, NULL, "%s", "");
        return;
    }
    omtp_members *m = omtp_group_cache_get(s, sessionId);
    if (m) {
        group_relay(s, m, who->conn, user, sessionId, st, cb, arg);
        omtp_members_unref(m);
        return;
    }
    top *o = calloc(1, sizeof(*o));
    if (!o) {
        result(cb, arg, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        return;
    }
    o->srv = s;
    o->cb = cb;
    o->arg = arg;
    o->state = st;
    snprintf(o->userId, sizeof(o->userId), "%s", user);
    memcpy(o->sessionId, sessionId, len + 1);
    o->epoch = omtp_group_cache_epoch(s);
    o->conn = who->conn;
    if (o->conn)
        omtp_conn_ref(o->conn);
    int rc = omtp_store_submit(s->store, top_work, top_done, o);
    if (rc) {
        if (o->conn)
            omtp_conn_unref(o->conn);
        free(o);
        result(cb, arg, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable", "store unavailable: %s",
               omtp_strerror(rc));
    }
}

void omtp_dom_typing_stats(omtp_server *s, uint64_t *relayed, uint64_t *dropped)
{
    *relayed = s->typing ? s->typing->relayed : 0;
    *dropped = s->typing ? s->typing->dropped : 0;
}

void omtp_dom_typing_free(omtp_server *s)
{
    if (!s->typing)
        return;
    free(s->typing->t);
    free(s->typing);
    s->typing = NULL;
}
