/*
 * domain/reaction.c - reactions (domain/reaction.h): the rules, the store
 * work, the ReactionNotice push, and the aggregation attached to messages.
 *
 * One store round trip per reaction: access check, the message lookup, the
 * change and (for a group that is not cached) the member list run in one
 * work item; the push runs once the change is committed (stored), the
 * answer once it is durable (done), as for sends (domain/msg.c).
 */
#include "domain/reaction.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"
#include "domain/check_cache.h"
#include "domain/group_state.h"
#include "domain/logrec.h"
#include "domain/msgpath.h"
#include "proto/omtp_limits.h"

#define DESC_MAX 192

bool omtp_reaction_emoji_valid(const char *e, size_t len)
{
    const unsigned char *p = (const unsigned char *)e;
    if (len == 0 || len > OMTP_LIMIT_EMOJI)
        return false;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false; /* control characters, NUL included */
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += n + 1;
    }
    return true;
}

/* ---------------------------------------------------------- aggregation */

/* Adds (emoji, user) to a message's map: emoji in order of first
 * appearance, users oldest first, both capped. */
static int agg_add(tars_strs_map *m, const tars_str *emoji, const tars_str *user)
{
    uint32_t k = 0;
    while (k < m->n &&
           !(m->keys[k].len == emoji->len && memcmp(m->keys[k].data, emoji->data, emoji->len) == 0))
        k++;
    if (k == m->n) {
        if (m->n >= OMTP_LIMIT_REACTION_EMOJIS)
            return 0;
        if (m->n == 0) {
            m->keys = calloc(OMTP_LIMIT_REACTION_EMOJIS, sizeof(tars_str));
            m->vals = calloc(OMTP_LIMIT_REACTION_EMOJIS, sizeof(tars_str_list));
            if (!m->keys || !m->vals) {
                free(m->keys);
                free(m->vals);
                m->keys = NULL;
                m->vals = NULL;
                return OMTP_ENOMEM;
            }
        }
        tars_str_clear(&m->keys[k]);
        m->n++;
        if (tars_str_setn(&m->keys[k], emoji->data, emoji->len) != 0)
            return OMTP_ENOMEM;
    }
    tars_str_list *l = &m->vals[k];
    if (l->n >= OMTP_LIMIT_REACTORS)
        return 0;
    if (l->n == 0) {
        l->items = calloc(OMTP_LIMIT_REACTORS, sizeof(tars_str));
        if (!l->items)
            return OMTP_ENOMEM;
    }
    tars_str_clear(&l->items[l->n]);
    l->n++;
    return tars_str_setn(&l->items[l->n - 1], user->data, user->len) == 0 ? 0 : OMTP_ENOMEM;
}

void omtp_reactions_clear(tars_strs_map *m)
{
    static const tars_field f = {"reactions", 0, 0, TK_MAP_STR_STRS, false, 0, NULL};
    static const tars_struct_desc d = {"R", sizeof(tars_strs_map), &f, 1};
    tars_free(&d, m);
}

int omtp_reactions_attach(omtp_db *db, omtp_msg_rec *msgs, uint32_t n)
{
    if (n == 0)
        return 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        omtp_reactions_clear(&msgs[i].msg.reactions);
        if (msgs[i].msg.status != 0)
            continue;
        if (msgs[i].msg.seqId < lo)
            lo = msgs[i].msg.seqId;
        if (msgs[i].msg.seqId > hi)
            hi = msgs[i].msg.seqId;
    }
    if (hi == 0)
        return 0;
    omtp_reaction_rec_list rl;
    int rc = omtp_db_reactions_list(db, msgs[0].msg.sessionId.data, lo, hi, &rl);
    if (rc)
        return rc;
    for (uint32_t r = 0; r < rl.n && rc == 0; r++)
        for (uint32_t i = 0; i < n && rc == 0; i++)
            if (msgs[i].msg.seqId == rl.items[r].seq && msgs[i].msg.status == 0)
                rc = agg_add(&msgs[i].msg.reactions, &rl.items[r].emoji, &rl.items[r].userId);
    omtp_reaction_rec_list_free(&rl);
    return rc;
}

int omtp_reactions_attach_pack(omtp_db *db, omtp_OTIMPack *pack)
{
    int t = pack->header.type;
    if (t != PT_MSG_SINGLE_CHAT && t != PT_MSG_GROUP_CHAT && t != PT_MSG_BIZ_NOTIFY)
        return 0;
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    if (tars_decode(&omtp_MsgReq_desc, &m.msg, pack->payload.data, pack->payload.len, NULL) !=
        TARS_OK) {
        omtp_msg_rec_free(&m);
        return 0; /* not ours to judge: the entry goes out as stored */
    }
    int rc = omtp_reactions_attach(db, &m, 1);
    if (rc == 0 && m.msg.reactions.n > 0) {
        tars_bytes b = {0};
        if (omtp_payload_to_bytes(&omtp_MsgReq_desc, &m.msg, &b) == 0) {
            tars_str_clear((tars_str *)(void *)&pack->payload);
            pack->payload = b;
        } else {
            rc = OMTP_ENOMEM;
        }
    }
    omtp_msg_rec_free(&m);
    return rc;
}

/* ------------------------------------------------------------ the change */

typedef struct react_job {
    omtp_server *srv;
    omtp_conn *except; /* the acting device (referenced), or NULL */
    omtp_dom_done_fn done;
    void *arg;
    char user[OMTP_ID_MAX + 1];
    omtp_ReactionNotice notice; /* sessionId, seqId, userId, emoji, op */
    int code;
    char desc[DESC_MAX];
    int type;              /* the message's packet type */
    tars_str party[2];     /* single chat / business: the parties */
    omtp_members *cached;  /* group: members from the cache, or */
    tars_str_list fetched; /* fetched by the work item */
    /* the message log's path (docs/storage.md "Delivery path"): the work
     * item only checks; the change is appended to the log */
    bool logged;
    char key[OMTP_SESSION_ID_MAX + 24]; /* sessionId NUL seqId: control's key too */
    size_t klen;
    bool locked;
    oplock_waiter lw;
    msgpath_waiter mw;
} react_job;

static void job_free(react_job *j)
{
    if (j->locked) {
        j->locked = false;
        if (omtp_msgpath(j->srv)) /* gone at shutdown: its locks with it */
            oplock_release(omtp_msgpath_locks(omtp_msgpath(j->srv)), j->key, j->klen);
    }
    omtp_msg_free(&omtp_ReactionNotice_desc, &j->notice);
    tars_str_clear(&j->party[0]);
    tars_str_clear(&j->party[1]);
    omtp_members_unref(j->cached);
    omtp_ids_free(&j->fetched);
    if (j->except)
        omtp_conn_unref(j->except);
    free(j);
}

__attribute__((format(printf, 3, 4))) static int refuse(react_job *j, int code, const char *fmt,
                                                        ...)
{
    va_list ap;
    j->code = code;
    va_start(ap, fmt);
    vsnprintf(j->desc, sizeof j->desc, fmt, ap);
    va_end(ap);
    return 0; /* a refusal writes nothing: not a store failure */
}

static int react_rules(react_job *j, bool has, bool mine, uint32_t distinct);

/* The log path's answer to what reaction_add / reaction_del would say,
 * from the message's reactions (reads only; the same order of checks:
 * store.h). */
static int react_check(omtp_db *db, react_job *j)
{
    const char *sid = j->notice.sessionId.data;
    int64_t seq = j->notice.seqId;
    const tars_str *emoji = &j->notice.emoji;
    omtp_reaction_rec_list rl;
    int rc = omtp_db_reactions_list(db, sid, seq, seq, &rl);
    if (rc != 0)
        return rc;
    bool has = false, mine = false;
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < rl.n; i++) {
        const omtp_reaction_rec *r = &rl.items[i];
        bool same =
            r->emoji.len == emoji->len && memcmp(r->emoji.data, emoji->data, emoji->len) == 0;
        bool seen = false;
        for (uint32_t k = 0; k < i && !seen; k++)
            seen = rl.items[k].emoji.len == r->emoji.len &&
                   memcmp(rl.items[k].emoji.data, r->emoji.data, r->emoji.len) == 0;
        if (!seen)
            distinct++;
        has |= same;
        mine |= same && tars_str_eq(&r->userId, j->user);
    }
    omtp_reaction_rec_list_free(&rl);
    return react_rules(j, has, mine, distinct);
}

/* The rules of a change, given the message's reactions: someone reacted
 * with this emoji (has), the user did (mine), how many emoji (distinct). */
static int react_rules(react_job *j, bool has, bool mine, uint32_t distinct)
{
    int64_t seq = j->notice.seqId;
    const tars_str *emoji = &j->notice.emoji;
    if (j->notice.op == OMTP_REACTION_ADD) {
        if (!has && distinct >= OMTP_LIMIT_REACTION_EMOJIS)
            return refuse(j, OMTP_EC_PARAM,
                          "message %lld already has %d different emoji; add one of those",
                          (long long)seq, OMTP_LIMIT_REACTION_EMOJIS);
        if (mine)
            return refuse(j, OMTP_EC_PARAM, "'%s' already reacted with %s to message %lld", j->user,
                          emoji->data, (long long)seq);
    } else if (!mine) {
        return refuse(j, OMTP_EC_PARAM, "'%s' has no %s reaction on message %lld to remove",
                      j->user, emoji->data, (long long)seq);
    }
    return 0;
}

static int react_work(omtp_db *db, void *arg)
{
    react_job *j = arg;
    const char *sid = j->notice.sessionId.data;
    int64_t seq = j->notice.seqId;
    bool allowed = false;
    int rc = omtp_db_session_member(db, j->user, sid, &allowed);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    if (!allowed)
        return refuse(j, OMTP_EC_MSG_FORBIDDEN, "'%s' is not a member of session %s", j->user, sid);
    omtp_msg_rec m;
    rc = omtp_db_msg_get(db, sid, seq, &m);
    if (rc == OMTP_ENOTFOUND)
        return refuse(j, OMTP_EC_MSG_NOT_EXIST, "session %s has no message %lld", sid,
                      (long long)seq);
    if (rc != 0)
        return rc;
    int status = m.msg.status;
    j->type = m.type;
    tars_str a, b;
    omtp_msg_parties(&m, &a, &b);
    int ra = tars_str_setn(&j->party[0], a.data, a.len);
    int rb = tars_str_setn(&j->party[1], b.data, b.len);
    omtp_msg_rec_free(&m);
    if (ra || rb)
        return OMTP_ENOMEM;
    if (status != 0)
        return refuse(j, OMTP_EC_PARAM, "message %lld of %s is %s: it takes no reactions",
                      (long long)seq, sid, status == 1 ? "revoked" : "deleted");
    const char *emoji = j->notice.emoji.data;
    if (j->logged) {
        rc = react_check(db, j);
        if (rc != 0 || j->code != 0)
            return rc;
    } else if (j->notice.op == OMTP_REACTION_ADD) {
        rc = omtp_db_reaction_add(db, sid, seq, j->user, emoji, OMTP_LIMIT_REACTION_EMOJIS);
        if (rc == OMTP_EEXIST)
            return refuse(j, OMTP_EC_PARAM, "'%s' already reacted with %s to message %lld", j->user,
                          emoji, (long long)seq);
        if (rc == OMTP_ETOOBIG)
            return refuse(j, OMTP_EC_PARAM,
                          "message %lld already has %d different emoji; add one of those",
                          (long long)seq, OMTP_LIMIT_REACTION_EMOJIS);
    } else {
        rc = omtp_db_reaction_del(db, sid, seq, j->user, emoji);
        if (rc == OMTP_ENOTFOUND)
            return refuse(j, OMTP_EC_PARAM, "'%s' has no %s reaction on message %lld to remove",
                          j->user, emoji, (long long)seq);
    }
    if (rc != 0)
        return rc;
    if (j->type == PT_MSG_GROUP_CHAT && !j->cached) {
        rc = omtp_db_group_members(db, sid, &j->fetched);
        if (rc != 0 && rc != OMTP_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* Committed: every member's online devices but the acting one. */
static void react_stored(void *arg, int status)
{
    react_job *j = arg;
    omtp_server *s = j->srv;
    if (status != 0 || j->code != 0)
        return;
    omtp_wire *w = omtp_wire_new(PT_MSG_REACTION, 0, NULL, &omtp_ReactionNotice_desc, &j->notice);
    if (!w) {
        LOG_ERROR("reaction %s/%lld: out of memory for the notice (stored; members see it in "
                  "history)",
                  j->notice.sessionId.data, (long long)j->notice.seqId);
        return;
    }
    const tars_str_list *users;
    tars_str_list parties = {j->party, 0};
    if (j->type == PT_MSG_GROUP_CHAT) {
        users = j->cached ? &j->cached->ids : &j->fetched;
    } else {
        /* a business message's app is not a user: only its recipient */
        if (j->type == PT_MSG_BIZ_NOTIFY)
            parties.items = &j->party[1], parties.n = 1;
        else
            parties.n = tars_str_eq(&j->party[0], j->party[1].data) ? 1 : 2;
        users = &parties;
    }
    for (uint32_t i = 0; i < users->n; i++)
        omtp_push_user(s, users->items[i].data, w, j->except);
    omtp_monitor_push(s, j->notice.sessionId.data, w, j->except, users);
    omtp_wire_unref(w);
}

static void react_done(void *arg, int status)
{
    react_job *j = arg;
    if (status != 0 && j->code == 0) {
        j->code = status == OMTP_EDB ? OMTP_EC_SERVICE_UNAVAILABLE : OMTP_EC_DB_ERROR;
        snprintf(j->desc, sizeof j->desc, "storage failed (%s); try again", omtp_strerror(status));
    }
    if (j->code == 0)
        LOG_DEBUG("reaction: %s %s %s on %s/%lld", j->user,
                  j->notice.op == OMTP_REACTION_ADD ? "added" : "removed", j->notice.emoji.data,
                  j->notice.sessionId.data, (long long)j->notice.seqId);
    omtp_dom_result res = {.code = j->code, .desc = j->desc};
    j->done(j->arg, &res);
    job_free(j);
}

static void react_synced(msgpath_waiter *w, int status)
{
    react_job *j = (react_job *)((char *)w - offsetof(react_job, mw));
    react_done(j, status);
}

static void react_checked(void *arg, int status)
{
    react_job *j = arg;
    msgpath *p = omtp_msgpath(j->srv);
    if (status != 0 || j->code != 0 || !p) {
        react_done(j, status ? status : p ? 0 : OMTP_ECLOSED);
        return;
    }
    omtp_logop o = {
        .sessionId = j->notice.sessionId,
        .seqId = j->notice.seqId,
        .user = j->notice.userId,
        .op = j->notice.op,
        .text = j->notice.emoji,
        .timestamp = omtp_now_ms(),
    };
    uint64_t lsn = 0;
    int rc = omtp_msgpath_append_op(p, OMTP_LOGREC_REACT, &o, &lsn);
    /* the next operation on this message checks against this one */
    j->locked = false;
    oplock_release(omtp_msgpath_locks(p), j->key, j->klen);
    if (rc == OMTP_EBUSY) {
        j->code = OMTP_EC_SERVICE_UNAVAILABLE;
        snprintf(j->desc, sizeof j->desc,
                 "the server is storing a backlog of messages (apply_pending_max); react again "
                 "shortly");
        react_done(j, 0);
        return;
    }
    if (rc != 0) {
        if (rc != OMTP_ENOSPC)
            LOG_ERROR("reaction %s/%lld not written to the message log: %s",
                      j->notice.sessionId.data, (long long)j->notice.seqId, omtp_strerror(rc));
        react_done(j, rc);
        return;
    }
    msgcache_react(omtp_msgpath_recent(p), j->notice.sessionId.data, j->notice.seqId,
                   &j->notice.userId, &j->notice.emoji, j->notice.op);
    react_stored(j, 0); /* in the log (handed to the OS): the notice */
    j->mw.synced = react_synced;
    j->mw.lsn = lsn;
    omtp_msgpath_wait(p, &j->mw);
}

static void react_read_store(react_job *j)
{
    int rc = omtp_store_submit(j->srv->store, react_work, react_checked, j);
    if (rc != 0)
        react_checked(j, rc);
}

/* The checks from memory: a recent message whose reactions are known
 * (msgcache.h) and, for a group, the check cache's members. g NULL: not a
 * group. The same answers as react_work's (react_rules). */
static void react_hot(react_job *j, const omtp_cc_group *g)
{
    msgpath *p = omtp_msgpath(j->srv);
    const char *sid = j->notice.sessionId.data;
    int64_t seq = j->notice.seqId;
    const msgcache_msg *c = p ? msgcache_find(omtp_msgpath_recent(p), sid, seq) : NULL;
    bool has = false, mine = false;
    uint32_t distinct = 0;
    if (!c || !msgcache_react_state(omtp_msgpath_recent(p), sid, seq, &j->notice.userId,
                                    &j->notice.emoji, &has, &mine, &distinct)) {
        react_read_store(j); /* dropped or forgotten while the group was read */
        return;
    }
    bool member;
    if (c->type == PT_MSG_GROUP_CHAT)
        member =
            g && g->exists && !g->dismissed && g->members && omtp_cc_is_member(g->members, j->user);
    else
        member = tars_str_eq(&c->to, j->user) ||
                 (c->type == PT_MSG_SINGLE_CHAT && tars_str_eq(&c->from, j->user));
    int rc = 0;
    if (!member) {
        refuse(j, OMTP_EC_MSG_FORBIDDEN, "'%s' is not a member of session %s", j->user, sid);
    } else {
        omtp_msg_rec m;
        omtp_msg_rec_init(&m);
        m.type = c->type;
        m.msg.from = c->from;
        m.msg.to = c->to;
        tars_str a, b;
        omtp_msg_parties(&m, &a, &b);
        j->type = c->type;
        if (tars_str_setn(&j->party[0], a.data, a.len) ||
            tars_str_setn(&j->party[1], b.data, b.len))
            rc = OMTP_ENOMEM;
        else if (c->status != 0)
            refuse(j, OMTP_EC_PARAM, "message %lld of %s is %s: it takes no reactions",
                   (long long)seq, sid, c->status == 1 ? "revoked" : "deleted");
        else
            react_rules(j, has, mine, distinct);
        if (rc == 0 && j->code == 0 && c->type == PT_MSG_GROUP_CHAT && !j->cached) {
            omtp_members_ref(g->members);
            j->cached = g->members;
        }
    }
    react_checked(j, rc);
}

static void react_cc_group(void *arg, int status, const omtp_cc_group *g)
{
    react_job *j = arg;
    if (status != 0) {
        react_read_store(j);
        return;
    }
    react_hot(j, g);
}

static void react_go(oplock_waiter *w)
{
    react_job *j = (react_job *)((char *)w - offsetof(react_job, lw));
    j->locked = true;
    msgpath *p = omtp_msgpath(j->srv);
    const char *sid = j->notice.sessionId.data;
    const msgcache_msg *c = p ? msgcache_find(omtp_msgpath_recent(p), sid, j->notice.seqId) : NULL;
    bool has, mine;
    uint32_t distinct;
    if (!c || !msgcache_react_state(omtp_msgpath_recent(p), sid, j->notice.seqId, &j->notice.userId,
                                    &j->notice.emoji, &has, &mine, &distinct)) {
        react_read_store(j);
        return;
    }
    if (c->type != PT_MSG_GROUP_CHAT) {
        react_hot(j, NULL);
        return;
    }
    omtp_cc_group g = {0};
    int rc = omtp_cc_group_get(j->srv, sid, &g, react_cc_group, j);
    if (rc == 1) {
        react_hot(j, &g);
        omtp_members_unref(g.members);
    } else if (rc < 0) {
        react_read_store(j);
    }
}

static int react_log_start(react_job *j, msgpath *p)
{
    j->logged = true;
    j->klen = (size_t)snprintf(j->key, sizeof j->key, "%s%c%lld", j->notice.sessionId.data, 0,
                               (long long)j->notice.seqId);
    j->lw.go = react_go;
    int rc = oplock_take(omtp_msgpath_locks(p), j->key, j->klen, &j->lw);
    if (rc == 1)
        react_go(&j->lw);
    return rc < 0 ? rc : 0;
}

int omtp_reaction_apply(omtp_db *db, const omtp_logop *o)
{
    const char *sid = o->sessionId.data;
    int rc = o->op == OMTP_REACTION_ADD
                 ? omtp_db_reaction_add(db, sid, o->seqId, o->user.data, o->text.data,
                                        OMTP_LIMIT_REACTION_EMOJIS)
                 : omtp_db_reaction_del(db, sid, o->seqId, o->user.data, o->text.data);
    /* there already (or gone already): applied before */
    if (rc == OMTP_EEXIST || rc == OMTP_ENOTFOUND)
        return 0;
    if (rc == OMTP_ETOOBIG) {
        LOG_WARN("message log: reaction %s on %s/%lld is over the limit of distinct emoji in the "
                 "store; skipped",
                 o->text.data, sid, (long long)o->seqId);
        return 0;
    }
    return rc;
}

int omtp_dom_reaction(omtp_server *s, const omtp_dom_caller *who, const omtp_ReactionReq *req,
                      omtp_dom_done_fn done, void *arg)
{
    if (!s || !who || !who->user || !req || !done)
        return OMTP_EINVAL;
    omtp_dom_result res = {.code = OMTP_EC_PARAM};
    if (req->op != OMTP_REACTION_ADD && req->op != OMTP_REACTION_REMOVE)
        res.desc = "ReactionReq.op must be 1 (add) or 2 (remove)";
    else if (!omtp_reaction_emoji_valid(req->emoji.data, req->emoji.len))
        res.desc = "ReactionReq.emoji must be 1..32 bytes of valid UTF-8 without control "
                   "characters";
    else if (req->sessionId.len == 0 || req->sessionId.len >= OMTP_SESSION_ID_MAX)
        res.desc = "ReactionReq.sessionId is empty or too long";
    else if (req->seqId <= 0)
        res.desc = "ReactionReq.seqId must name a message (> 0)";
    if (res.desc) {
        done(arg, &res);
        return 0;
    }
    react_job *j = calloc(1, sizeof *j);
    if (!j)
        return OMTP_ENOMEM;
    j->srv = s;
    j->done = done;
    j->arg = arg;
    omtp_msg_init(&omtp_ReactionNotice_desc, &j->notice);
    tars_str_clear(&j->party[0]);
    tars_str_clear(&j->party[1]);
    snprintf(j->user, sizeof j->user, "%s", who->user);
    j->notice.seqId = req->seqId;
    j->notice.op = req->op;
    if (tars_str_setn(&j->notice.sessionId, req->sessionId.data, req->sessionId.len) ||
        tars_str_set(&j->notice.userId, who->user) ||
        tars_str_setn(&j->notice.emoji, req->emoji.data, req->emoji.len)) {
        job_free(j);
        return OMTP_ENOMEM;
    }
    if (who->conn) {
        omtp_conn_ref(who->conn);
        j->except = who->conn;
    }
    j->cached = omtp_group_cache_get(s, j->notice.sessionId.data);
    msgpath *p = omtp_msgpath(s);
    int rc = p ? react_log_start(j, p)
               : omtp_store_submit2(s->store, react_work, react_stored, react_done, j);
    if (rc != 0)
        job_free(j);
    return rc;
}
