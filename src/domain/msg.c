/*
 * domain/msg.c - sending messages (single chat, group chat, business
 * notices), message control (revoke, delete, edit), read cursors, and the
 * push of a stored message to its receivers, for every entry point
 * (domain/msg.h says what differs between callers).
 *
 * A send is one store round trip: every check that needs the database
 * (recipient exists, friendship, group exists and the sender is a member),
 * the dedup lookup and the append run in ONE work item on the store thread,
 * inside the executor's group-commit transaction, so a message cannot slip
 * in after a QUIT or DISMISS committed. Two completions run on the loop, in
 * commit order (store.h, omtp_store_submit2): once the batch is committed,
 * the push to the receivers' devices (send_stored); once it is durable
 * (after the fsync, with SQLite FULL), the result to the caller (send_done).
 * On a backend that appends batches in one statement (PostgreSQL), a send
 * without mentions, reply or HIGHPRJ is submitted as a batch append
 * (store.h omtp_store_submit_append): the same checks and append run in one
 * statement with the other sends of its batch, and send_after words the
 * outcome exactly as send_work would (docs/storage.md, "Batched appends").
 * Because completions are never deferred and pushes are queued on the
 * connections in the order they are made, the pushes of one session reach
 * every device in seqId order.
 *
 * A group message is one row, one seqId; it is encoded once and fanned out,
 * sliced for large groups (group.h). The member list comes from the
 * in-memory cache; when the group is not cached the work item fetches it on
 * the store thread (the loop never waits) and the completion installs it.
 * A HIGHPRJ message is also queued: one row for a group whatever its size
 * (store.h, hp_group_append), one row for a single chat's recipient.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - Content is 1..max_content bytes for every kind of message and every
 *    entry point (0, which start-up replaces by what fits a frame, means no
 *    limit here).
 *  - A user's MsgReq.from must be the user (empty = the user); otherwise
 *    MSG_FORBIDDEN. The client's sessionId is ignored: the server derives the
 *    canonical one from from/to.
 *  - Business notices come from the business backend through the HTTP API;
 *    from a user they are refused with MSG_FORBIDDEN.
 *  - Revoke/edit after cfg->revoke_limit_s: MSG_FORBIDDEN. Edit of a revoked
 *    message: MSG_OP_CMD. A control notice is queued in the high-priority
 *    queue of EVERY member of the session (operator included), online or
 *    not (for a group: one row in the group's queue, every member's view
 *    derives from it), and pushed live to every device except the operator's.
 */
#include "domain/msg.h"
#include "domain/files.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"
#include "domain/check_cache.h"
#include "domain/group_state.h"
#include "domain/msgpath.h"
#include "domain/reaction.h"
#include "proto/omtp_limits.h"

#define DESC_MAX 192

/* ------------------------------------------------------------- helpers */

static void str_swap(tars_str *a, tars_str *b)
{
    tars_str t = *a;
    *a = *b;
    *b = t;
}

int omtp_chat_msg_pack(const omtp_msg_rec *m, omtp_OTIMPack *out)
{
    int rc;
    out->header.type = (int16_t)m->type;
    out->header.version = OMTP_VERSION;
    out->header.flags = m->flags;
    if (tars_str_setn(&out->header.packId, m->packId.data, m->packId.len) != 0)
        return OMTP_ENOMEM;
    if (m->msg.status == MC_REVOKE && m->msg.content.len > 0) {
        /* a revoked message keeps its place, not its words */
        omtp_MsgReq blank = m->msg;
        tars_str empty = {(char *)"", 0};
        blank.content = empty;
        rc = omtp_payload_to_bytes(&omtp_MsgReq_desc, &blank, &out->payload);
    } else {
        rc = omtp_payload_to_bytes(&omtp_MsgReq_desc, &m->msg, &out->payload);
    }
    return rc == 0 ? 0 : OMTP_ENOMEM;
}

void omtp_deliver_msg(omtp_server *s, const omtp_msg_rec *m, const tars_str_list *users,
                      const omtp_conn *except)
{
    omtp_wire *w = omtp_wire_new(m->type, m->flags, m->packId.data, &omtp_MsgReq_desc, &m->msg);
    if (!w) {
        LOG_ERROR("deliver %s/%lld: out of memory", m->msg.sessionId.data, (long long)m->msg.seqId);
        return;
    }
    for (uint32_t i = 0; users && i < users->n; i++)
        omtp_push_user(s, users->items[i].data, w, except);
    omtp_monitor_push(s, m->msg.sessionId.data, w, except, users);
    omtp_wire_unref(w);
}

/* Whether `user` may read session `sid` (history, read cursor, session
 * attributes): a stored member, or -- for a session that does not exist yet,
 * so there is nothing to leak -- a user whose own session id it is. Store
 * thread. */
int omtp_chat_session_access(omtp_db *db, const char *user, const char *sid, bool *allowed)
{
    bool member = false;
    int64_t last = 0;
    int rc = omtp_db_session_member(db, user, sid, &member);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    if (member) {
        *allowed = true;
        return 0;
    }
    rc = omtp_db_session_last_seq(db, sid, &last);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    /* nothing stored, so no stored members: the users the id is built
     * for see it empty, everyone else is refused as for a stored session
     * (so the answer never says whether two others have talked) */
    *allowed = rc == OMTP_ENOTFOUND && omtp_session_names(sid, user);
    return 0;
}

/* Records a refusal (code and words) in a job. Returns 0: for a store work
 * item, a refusal is not a failure (nothing was written). */
__attribute__((format(printf, 4, 5))) static int job_fail(int *code, char *desc, int c,
                                                          const char *fmt, ...)
{
    va_list ap;
    *code = c;
    va_start(ap, fmt);
    vsnprintf(desc, DESC_MAX, fmt, ap);
    va_end(ap);
    return 0;
}

#define FAIL(j, c, ...) job_fail(&(j)->code, (j)->desc, (c), __VA_ARGS__)

/* A storage failure in words, for a result. */
static void store_failed(int status, int *code, char *desc, const char *what)
{
    *code = status == OMTP_EDB ? OMTP_EC_SERVICE_UNAVAILABLE : OMTP_EC_DB_ERROR;
    snprintf(desc, DESC_MAX, "storage failed (%s); %s", omtp_strerror(status), what);
}

/* Calls `done` with a refusal decided before any store work. */
static void refuse_now(omtp_dom_done_fn done, void *arg, int code, const char *desc)
{
    omtp_dom_result res = {.code = code, .desc = desc};
    done(arg, &res);
}

/* A refused append of a logged operation (msgpath.h) in words. */
static void op_append_failed(int rc, int *code, char *desc, const char *what)
{
    if (rc == OMTP_EBUSY) {
        *code = OMTP_EC_SERVICE_UNAVAILABLE;
        snprintf(desc, DESC_MAX,
                 "the server is storing a backlog of messages (apply_pending_max); %s again "
                 "shortly",
                 what);
        return;
    }
    if (rc != OMTP_ENOSPC)
        LOG_ERROR("%s not written to the message log: %s", what, omtp_strerror(rc));
    store_failed(rc, code, desc, "try again");
}

/* ---------------------------------------------------------------- sends */

typedef struct send_job {
    omtp_server *srv;
    omtp_conn *except; /* the sending device (referenced), or NULL */
    omtp_dom_done_fn done;
    void *arg;
    omtp_msg_rec m; /* in: the message; out: as stored */
    bool dup;
    bool friends_only;
    bool check_sender; /* from must be a user (API/admin callers sending a chat) */
    int code;          /* OMTP_EC_*, decided before or on the store thread */
    int reason;        /* enum omtp_dom_reason */
    char desc[DESC_MAX];
    /* group chat: the members, from the cache (snapshot taken at submit) or
     * fetched by the work item (then installed in the cache at `epoch`) */
    omtp_members *cached;
    tars_str_list fetched;
    bool didFetch;
    uint64_t epoch;
    /* the send path on the message log (msgpath.h) */
    bool resend;   /* the request carried OMTP_F_DUP */
    int step;      /* enum log_step: the next check */
    bool answered; /* an asynchronous check answered: `yes` holds it */
    bool yes;
    uint64_t print; /* omtp_chat_fingerprint of the request */
    seq_waiter sw;
    msgpath_waiter mw;
    sendorder_ticket ot; /* its place among its sender's sends to the session */
    msgpath_room rw;     /* waiting for the apply backlog to shrink */
    /* the batched path (store.h omtp_store_submit_append): the store's
     * checks and append of this send (`print` above is taken before) */
    omtp_store_append ap;
} send_job;

static void send_job_free(send_job *j)
{
    if (j->ot.key) /* refused before it was numbered: the next one may go */
        sendorder_leave(omtp_msgpath_order(omtp_msgpath(j->srv)), &j->ot);
    omtp_msg_rec_free(&j->m);
    omtp_members_unref(j->cached);
    omtp_ids_free(&j->fetched);
    if (j->except)
        omtp_conn_unref(j->except);
    free(j);
}

/* Queues a stored HIGHPRJ message for its recipients (everyone but the
 * sender). */
static int queue_high_prior(omtp_db *db, const omtp_msg_rec *m)
{
    omtp_OTIMPack pack;
    int64_t seq;
    int rc;
    omtp_msg_init(&omtp_OTIMPack_desc, &pack);
    rc = omtp_chat_msg_pack(m, &pack);
    if (rc != 0)
        goto out;
    if (m->type == PT_MSG_GROUP_CHAT) {
        /* one row for every member but the sender (store.h, hp_group_append) */
        rc = omtp_db_hp_group_append(db, m->msg.to.data, m->msg.from.data, &pack, &seq);
    } else if (!tars_str_eq(&m->msg.to, m->msg.from.data)) {
        rc = omtp_db_hp_append(db, m->msg.to.data, &pack, &seq);
    }
out:
    omtp_msg_free(&omtp_OTIMPack_desc, &pack);
    return rc;
}

/* A group message's mentions: members only; "@all" only from the group's
 * creator (or the business backend: API and admin callers). Store thread. */
static int mentions_check_group(omtp_db *db, send_job *j, bool creator)
{
    omtp_MsgReq *msg = &j->m.msg;
    for (uint32_t i = 0; i < msg->mentions.n; i++) {
        const tars_str *e = &msg->mentions.items[i];
        if (tars_str_eq(e, OMTP_MENTION_ALL)) {
            if (!creator && !j->check_sender)
                return FAIL(j, OMTP_EC_PARAM,
                            "MsgReq.mentions: only the creator of group '%s' may mention "
                            "\"" OMTP_MENTION_ALL "\"",
                            msg->to.data);
            continue;
        }
        bool yes = false;
        int rc = omtp_db_group_is_member(db, msg->to.data, e->data, &yes);
        if (rc != 0)
            return rc;
        if (!yes)
            return FAIL(j, OMTP_EC_PARAM, "MsgReq.mentions: '%s' is not a member of group '%s'",
                        e->data, msg->to.data);
    }
    return 0;
}

/* MsgReq.replyTo names a readable message of the same session: stored and
 * not deleted (a revoked one keeps its place and may be quoted). */
static int reply_check(omtp_db *db, send_job *j)
{
    omtp_MsgReq *msg = &j->m.msg;
    if (msg->replyTo == 0)
        return 0;
    omtp_msg_rec q;
    int rc = omtp_db_msg_get(db, msg->sessionId.data, msg->replyTo, &q);
    if (rc == OMTP_ENOTFOUND)
        return FAIL(j, OMTP_EC_PARAM,
                    "MsgReq.replyTo %lld is not a message of session %s (a reply quotes a "
                    "message of its own session)",
                    (long long)msg->replyTo, msg->sessionId.data);
    if (rc != 0)
        return rc;
    int status = q.msg.status;
    omtp_msg_rec_free(&q);
    if (status == MC_DELETE)
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.replyTo %lld of session %s was deleted",
                    (long long)msg->replyTo, msg->sessionId.data);
    return 0;
}

/* After the append: the reply and mentions are stored with the message and
 * the mentioned members' hot sessions remember it. */
static int refs_store(omtp_db *db, const omtp_msg_rec *m)
{
    const omtp_MsgReq *msg = &m->msg;
    if (msg->replyTo == 0 && msg->mentions.n == 0)
        return 0;
    int rc =
        omtp_db_msg_refs_set(db, msg->sessionId.data, msg->seqId, msg->replyTo, &msg->mentions);
    bool all = false;
    for (uint32_t i = 0; i < msg->mentions.n; i++)
        all = all || tars_str_eq(&msg->mentions.items[i], OMTP_MENTION_ALL);
    if (rc == 0 && msg->mentions.n)
        rc = omtp_db_mention_mark(db, msg->sessionId.data, msg->seqId, all ? NULL : &msg->mentions,
                                  msg->from.data);
    return rc;
}

int omtp_msg_apply_record(omtp_db *db, const omtp_msg_rec *m)
{
    bool existed = false;
    int rc = omtp_db_msg_apply(db, m, &existed);
    if (rc != 0 || existed)
        return rc; /* a replay: the rest was stored with it */
    if ((rc = refs_store(db, m)) != 0)
        return rc;
    if (m->flags & OMTP_F_HIGHPRJ)
        rc = queue_high_prior(db, m);
    return rc;
}

static int send_appended(omtp_db *db, send_job *j, int rc);

/* Store thread: the checks that need the database, the dedup and the
 * append, in one transaction. */
static int send_work(omtp_db *db, void *arg)
{
    send_job *j = arg;
    omtp_MsgReq *msg = &j->m.msg;
    bool yes = false;
    int rc;

    if (j->check_sender) {
        rc = omtp_db_user_exists(db, msg->from.data, &yes);
        if (rc != 0)
            return rc;
        if (!yes) {
            j->reason = OMTP_DOM_UNKNOWN_SENDER;
            return FAIL(j, OMTP_EC_PARAM, "sender '%s' does not exist", msg->from.data);
        }
    }
    if (j->m.type == PT_MSG_GROUP_CHAT) {
        omtp_GroupChatInfo g;
        bool dismissed = false;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
        rc = omtp_db_group_get(db, msg->to.data, &g, &dismissed);
        bool creator = rc == 0 && tars_str_eq(&g.creatorId, msg->from.data);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
        if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed)) {
            j->reason = OMTP_DOM_UNKNOWN_GROUP;
            return FAIL(j, OMTP_EC_GROUP_NOT_EXIST, "group '%s' does not exist%s", msg->to.data,
                        dismissed ? " (dismissed)" : "");
        }
        if (rc != 0)
            return rc;
        rc = omtp_db_group_is_member(db, msg->to.data, msg->from.data, &yes);
        if (rc != 0)
            return rc;
        if (!yes) {
            j->reason = OMTP_DOM_NOT_MEMBER;
            return FAIL(j, OMTP_EC_GROUP_NO_PRIVILEGE, "'%s' is not a member of group '%s'",
                        msg->from.data, msg->to.data);
        }
        if ((rc = mentions_check_group(db, j, creator)) != 0 || j->code)
            return rc;
    } else {
        rc = omtp_db_user_exists(db, msg->to.data, &yes);
        if (rc != 0)
            return rc;
        if (!yes) {
            j->reason = OMTP_DOM_UNKNOWN_RECIPIENT;
            return FAIL(j, OMTP_EC_PARAM, "recipient '%s' does not exist", msg->to.data);
        }
        if (j->friends_only && j->m.type == PT_MSG_SINGLE_CHAT &&
            strcmp(msg->from.data, msg->to.data) != 0) {
            rc = omtp_db_friend_is(db, msg->from.data, msg->to.data, &yes);
            if (rc != 0)
                return rc;
            if (!yes)
                return FAIL(j, OMTP_EC_USER_RELATION_INVALID,
                            "'%s' and '%s' are not friends (single chat is friends-only here)",
                            msg->from.data, msg->to.data);
        }
    }

    if (j->m.type != PT_MSG_GROUP_CHAT) {
        /* single chat, business: the one other party may be mentioned */
        for (uint32_t i = 0; i < msg->mentions.n; i++)
            if (!tars_str_eq(&msg->mentions.items[i], msg->to.data))
                return FAIL(j, OMTP_EC_PARAM,
                            "MsgReq.mentions: '%s' is not in this chat (only '%s' may be "
                            "mentioned)",
                            msg->mentions.items[i].data, msg->to.data);
    }
    if ((rc = reply_check(db, j)) != 0 || j->code)
        return rc;
    /* media messages (domain/files.h): the sender may read the file */
    if ((rc = omtp_files_send_check(
             db, j->check_sender || j->m.type == PT_MSG_BIZ_NOTIFY ? NULL : msg->from.data,
             msg->contentType, msg->content.data, msg->content.len, &j->code, j->desc,
             sizeof j->desc)) != 0 ||
        j->code)
        return rc;

    j->print = omtp_chat_fingerprint(&j->m);
    rc = omtp_db_msg_append(db, &j->m, &j->dup);
    return send_appended(db, j, rc);
}

/* Store thread, batched path (omtp_store_submit_append: the backend checked
 * and appended this send with the others of its batch): the outcome as
 * send_work words it, then what follows the append. Only sends without
 * HIGHPRJ, without a file and without mentions outside groups take this
 * path (send_submit). */
static int send_after(omtp_db *db, void *arg)
{
    send_job *j = arg;
    const omtp_MsgReq *msg = &j->m.msg;
    const omtp_append_req *q = &j->ap.req;
    switch (q->refused) {
    case OMTP_APPEND_OK:
        break;
    case OMTP_APPEND_NO_SENDER:
        j->reason = OMTP_DOM_UNKNOWN_SENDER;
        return FAIL(j, OMTP_EC_PARAM, "sender '%s' does not exist", msg->from.data);
    case OMTP_APPEND_NO_GROUP:
    case OMTP_APPEND_DISMISSED:
        j->reason = OMTP_DOM_UNKNOWN_GROUP;
        return FAIL(j, OMTP_EC_GROUP_NOT_EXIST, "group '%s' does not exist%s", msg->to.data,
                    q->refused == OMTP_APPEND_DISMISSED ? " (dismissed)" : "");
    case OMTP_APPEND_NOT_MEMBER:
        j->reason = OMTP_DOM_NOT_MEMBER;
        return FAIL(j, OMTP_EC_GROUP_NO_PRIVILEGE, "'%s' is not a member of group '%s'",
                    msg->from.data, msg->to.data);
    case OMTP_APPEND_NO_RECIPIENT:
        j->reason = OMTP_DOM_UNKNOWN_RECIPIENT;
        return FAIL(j, OMTP_EC_PARAM, "recipient '%s' does not exist", msg->to.data);
    case OMTP_APPEND_NOT_FRIENDS:
        return FAIL(j, OMTP_EC_USER_RELATION_INVALID,
                    "'%s' and '%s' are not friends (single chat is friends-only here)",
                    msg->from.data, msg->to.data);
    default:
        return OMTP_EDB;
    }
    j->dup = q->dup;
    return send_appended(db, j, q->status);
}

/* After msg_append returned rc for j (either path): the refusals it means,
 * the dedup verdict, then the reply/mentions, the member list and the
 * high-priority queue. */
static int send_appended(omtp_db *db, send_job *j, int rc)
{
    omtp_MsgReq *msg = &j->m.msg;
    uint64_t print = j->print;
    if (rc == OMTP_EINVAL) {
        /* the session id is stored with other members: never mix two
         * conversations (only possible with ids from before the id rules) */
        LOG_WARN("send %s -> %s refused: %s", msg->from.data, msg->to.data, db->errmsg);
        return FAIL(j, OMTP_EC_MSG_FORBIDDEN,
                    "session %s belongs to other users; ask the operator to rename ids that "
                    "contain '_' (omtpd user rename)",
                    j->m.msg.sessionId.data);
    }
    if (rc != 0)
        return rc;
    if (j->dup) {
        if (!omtp_chat_same_message(print, &j->m, omtp_chat_fingerprint(&j->m)))
            return FAIL(j, OMTP_EC_MSG_REPEATED,
                        "packId %s was already used by %s for a different message "
                        "(seqId %lld); send it with a fresh packId",
                        j->m.packId.data, j->m.msg.from.data, (long long)j->m.msg.seqId);
        return 0;
    }
    /* the batch statement stores replyTo and mentions with the row (refs_stored) */
    if (!j->ap.req.refs_stored && (rc = refs_store(db, &j->m)) != 0)
        return rc;
    /* media messages: the session's members may now read the file */
    if ((rc = omtp_files_refs_record(db, msg->sessionId.data, msg->seqId, msg->contentType,
                                     msg->content.data, msg->content.len)) != 0)
        return rc;
    if (j->m.type == PT_MSG_GROUP_CHAT && !j->cached) {
        rc = omtp_db_group_members(db, msg->to.data, &j->fetched);
        if (rc != 0)
            return rc;
        omtp_ids_sort(&j->fetched);
        j->didFetch = true;
    }
    if (j->m.flags & OMTP_F_HIGHPRJ)
        return queue_high_prior(db, &j->m);
    return 0;
}

/* The message is committed (store.h, omtp_store_submit2): push it. The
 * caller's result waits for send_done, i.e. for durability. */
static void send_stored(void *arg, int status)
{
    send_job *j = arg;
    omtp_server *s = j->srv;
    if (status != 0 || j->code != 0 || j->dup)
        return;
    if (j->m.type == PT_MSG_GROUP_CHAT) {
        omtp_members *m = j->cached;
        if (m) {
            j->cached = NULL; /* the reference moves to m */
        } else if (j->didFetch) {
            m = omtp_members_new(&j->fetched);
            if (m)
                omtp_group_cache_put(s, j->m.msg.to.data, m, j->epoch);
        }
        if (!m) {
            LOG_ERROR("group message %s/%lld: out of memory for the push (stored; members "
                      "get it at their next sync)",
                      j->m.msg.sessionId.data, (long long)j->m.msg.seqId);
            return;
        }
        /* encoded once, sliced for large groups (group.h) */
        omtp_fanout_msg(s, &j->m, m, j->except);
        /* offline push (msg_hooks): members without a foreground device */
        if (s->msg_hooks)
            s->msg_hooks->stored(s, &j->m, &m->ids);
        omtp_members_unref(m);
    } else {
        tars_str users[2] = {j->m.msg.to, j->m.msg.from};
        tars_str_list l = {users, 2};
        if (j->m.type == PT_MSG_BIZ_NOTIFY || tars_str_eq(&users[0], users[1].data))
            l.n = 1; /* an appId is not a user; a note to self goes once */
        omtp_deliver_msg(s, &j->m, &l, j->except);
        /* offline push (msg_hooks): the recipient, if not in the foreground */
        tars_str_list to = {users, 1};
        if (s->msg_hooks)
            s->msg_hooks->stored(s, &j->m, &to);
    }
}

/* Durable (or failed): the result, and the metrics. */
static void send_done(void *arg, int status)
{
    send_job *j = arg;
    omtp_server *s = j->srv;

    if (status != 0 && j->code == 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("message %s -> %s not stored: %s", j->m.msg.from.data, j->m.msg.to.data,
                      omtp_strerror(status));
        store_failed(status, &j->code, j->desc, "the message was not sent; send it again");
    }
    if (j->code == 0) {
        if (j->dup)
            s->metrics.msgs_dup++;
        else
            s->metrics.msgs_stored++;
    }
    omtp_dom_result res = {.code = j->code,
                           .reason = j->code ? j->reason : OMTP_DOM_OK,
                           .desc = j->desc,
                           .stored = j->code == 0 ? &j->m : NULL,
                           .dup = j->dup};
    j->done(j->arg, &res);
    send_job_free(j);
}

/* MsgReq.replyTo and .mentions (docs/protocol.md, Extensions: replies,
 * mentions), the checks that need no database: replyTo >= 0; mentions are
 * valid user ids or "@all" (groups only), at most OMTP_LIMIT_MENTIONS after
 * removing repeats (the first of each is kept, in order). */
static int refs_prepare(send_job *j, int type)
{
    omtp_MsgReq *msg = &j->m.msg;
    if (msg->replyTo < 0)
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.replyTo %lld is not a seqId (0 = no reply)",
                    (long long)msg->replyTo);
    tars_str_list *l = &msg->mentions;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        tars_str *e = &l->items[i];
        bool all = tars_str_eq(e, OMTP_MENTION_ALL);
        if (all && type != PT_MSG_GROUP_CHAT)
            return FAIL(j, OMTP_EC_PARAM,
                        "MsgReq.mentions: \"" OMTP_MENTION_ALL "\" is for group chats only");
        if (!all && !omtp_id_valid_n(e->data, e->len))
            return FAIL(j, OMTP_EC_PARAM,
                        "MsgReq.mentions[%u] is not a user id (" OMTP_ID_RULE
                        ") nor \"" OMTP_MENTION_ALL "\"",
                        i);
        bool seen = false;
        for (uint32_t k = 0; k < kept && !seen; k++)
            seen = l->items[k].len == e->len && memcmp(l->items[k].data, e->data, e->len) == 0;
        if (seen) {
            tars_str_clear(e);
            continue;
        }
        if (kept != i) {
            l->items[kept] = *e;
            e->data = NULL; /* moved */
            e->len = 0;
            tars_str_clear(e);
        }
        kept++;
    }
    for (uint32_t i = kept; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    l->n = kept;
    if (kept == 0) {
        free(l->items);
        l->items = NULL;
    }
    if (kept > OMTP_LIMIT_MENTIONS)
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.mentions names %u users; at most %d are allowed",
                    kept, OMTP_LIMIT_MENTIONS);
    return 0;
}

/* Validates the message and fills the job (canonical session id, server
 * fields cleared). A refusal sets j->code and j->desc and returns 0; the
 * return is a negative OMTP_E* only on allocation failure. */
static int send_prepare(send_job *j, const omtp_dom_caller *who, int type, const omtp_msg_rec *in)
{
    omtp_server *s = j->srv;
    omtp_MsgReq *msg = &j->m.msg;
    char sid[OMTP_SESSION_ID_MAX];
    char uuid[37];
    const char *packId = in->packId.data;

    j->m.type = type;
    j->m.flags = in->flags & (OMTP_F_HIGHPRJ | OMTP_F_COUNTER);
    j->resend = (in->flags & OMTP_F_DUP) != 0;
    if (tars_copy(&omtp_MsgReq_desc, msg, &in->msg) != 0)
        return OMTP_ENOMEM;
    if (who->role == OMTP_DOM_USER) {
        if (type == PT_MSG_BIZ_NOTIFY)
            return FAIL(j, OMTP_EC_MSG_FORBIDDEN,
                        "business notifications are sent by the business backend through the "
                        "HTTP API, not by users");
        if (msg->from.len && !tars_str_eq(&msg->from, who->user))
            return FAIL(j, OMTP_EC_MSG_FORBIDDEN,
                        "MsgReq.from '%.128s' is not the logged-in user '%s'", msg->from.data,
                        who->user);
        if (tars_str_set(&msg->from, who->user) != 0)
            return OMTP_ENOMEM;
    }
    if (!packId || !*packId) {
        omtp_uuid(uuid); /* no key to dedup on: treat as a new message */
        packId = uuid;
    }
    if (tars_str_set(&j->m.packId, packId) != 0)
        return OMTP_ENOMEM;
    msg->seqId = 0;
    msg->timestamp = 0;
    msg->status = 0;
    /* reactions are the server's (history fills them), never the sender's */
    omtp_reactions_clear(&msg->reactions);
    int vr = refs_prepare(j, type);
    if (vr != 0 || j->code != 0)
        return vr;

    if (msg->from.len == 0)
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.from is empty");
    if (msg->to.len == 0)
        return FAIL(j, type == PT_MSG_GROUP_CHAT ? OMTP_EC_GROUP_ID_EMPTY : OMTP_EC_PARAM,
                    "MsgReq.to (the %s) is empty", type == PT_MSG_GROUP_CHAT ? "group id" : "user");
    if (msg->from.len > OMTP_ID_MAX || msg->to.len > OMTP_ID_MAX)
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.from/to longer than %d bytes", OMTP_ID_MAX);
    /* ids are C strings everywhere after this (lookups, the log's records) */
    if (memchr(msg->from.data, 0, msg->from.len) || memchr(msg->to.data, 0, msg->to.len))
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.from/to holds a NUL byte");
    /* user and app ids never contain the session separator (DESIGN rulings):
     * a '_' in them would let two conversations share one session id */
    if (type != PT_MSG_GROUP_CHAT && !omtp_id_valid_n(msg->from.data, msg->from.len))
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.from is not a valid %s id (" OMTP_ID_RULE ")",
                    type == PT_MSG_BIZ_NOTIFY ? "app" : "user");
    if (type != PT_MSG_GROUP_CHAT && !omtp_id_valid_n(msg->to.data, msg->to.len))
        return FAIL(j, OMTP_EC_PARAM, "MsgReq.to is not a valid user id (" OMTP_ID_RULE ")");
    /* one size rule for every message and entry point (0 = no limit) */
    if (msg->content.len == 0)
        return FAIL(j, OMTP_EC_MSG_TOO_SHORT, "MsgReq.content is empty");
    if (s->cfg->max_content && msg->content.len > s->cfg->max_content)
        return FAIL(j, OMTP_EC_MSG_TOO_LONG,
                    "MsgReq.content has %u bytes, the limit is %u (max_content)", msg->content.len,
                    s->cfg->max_content);
    /* media messages (domain/files.h): the content JSON fits its type */
    char ct_why[DESC_MAX];
    int ct_code = omtp_files_content_check(msg->contentType, msg->content.data, msg->content.len,
                                           ct_why, sizeof ct_why);
    if (ct_code)
        return FAIL(j, ct_code, "%s", ct_why);
    int rc;
    if (type == PT_MSG_SINGLE_CHAT)
        rc = omtp_session_single(msg->from.data, msg->to.data, sid, sizeof sid);
    else if (type == PT_MSG_BIZ_NOTIFY)
        rc = omtp_session_biz(msg->from.data, msg->to.data, sid, sizeof sid);
    else
        rc = snprintf(sid, sizeof sid, "%s", msg->to.data) < (int)sizeof sid ? 0 : OMTP_EINVAL;
    if (rc != 0)
        return FAIL(j, OMTP_EC_PARAM, "cannot make a session id of '%s' and '%s'", msg->from.data,
                    msg->to.data);
    if (tars_str_set(&msg->sessionId, sid) != 0)
        return OMTP_ENOMEM;
    j->friends_only = s->cfg->friends_only;
    j->check_sender = who->role != OMTP_DOM_USER && type != PT_MSG_BIZ_NOTIFY;
    return 0;
}

/* ------------------------------------------- sends on the message log */

/* The checks and steps of a send on the message log, in order. Each check
 * answers from the check caches (check_cache.h) or waits for their store
 * read; a reply's quote and a DUP-flagged resend the window does not know
 * are store reads (ordered after every appended record by the read
 * barrier); the counter may wait for its load (seqgen.h). */
enum log_step {
    LS_SENDER,  /* API/admin chats: the sender exists */
    LS_TARGET,  /* single/biz: the recipient exists; group: exists, member, mentions */
    LS_FRIENDS, /* friends_only single chats */
    LS_REPLY,   /* replyTo names a readable message of the session */
    LS_DEDUP,   /* the window; a DUP-flagged resend it does not know: the store */
    LS_TURN,    /* the sender's earlier sends to this session are numbered (sendorder.h) */
    LS_ROOM,    /* the apply backlog is within its bounds (msgpath.h) */
    LS_SEQ,     /* the counter, then append, push, wait for the sync */
};

static void log_step(send_job *j);

static void log_fail_status(send_job *j, int status)
{
    store_failed(status, &j->code, j->desc, "the message was not sent; send it again");
    send_done(j, 0);
}

static void log_cc_bool(void *arg, int status, bool yes)
{
    send_job *j = arg;
    if (status != 0) {
        log_fail_status(j, status);
        return;
    }
    j->answered = true;
    j->yes = yes;
    log_step(j);
}

/* A boolean check: 1 = answered (*yes), 0 = asynchronous (log_cc_bool
 * resumes), < 0 = could not start. The query runs only when no answer is
 * waiting. */
#define LOG_ASK(j, query, out)                                                                     \
    ((j)->answered ? ((j)->answered = false, *(out) = (j)->yes, 1) : (query))

static bool group_checks(send_job *j, const omtp_cc_group *g)
{
    omtp_MsgReq *msg = &j->m.msg;
    if (!g->exists || g->dismissed) {
        j->reason = OMTP_DOM_UNKNOWN_GROUP;
        FAIL(j, OMTP_EC_GROUP_NOT_EXIST, "group '%s' does not exist%s", msg->to.data,
             g->dismissed ? " (dismissed)" : "");
        return false;
    }
    if (!omtp_cc_is_member(g->members, msg->from.data)) {
        j->reason = OMTP_DOM_NOT_MEMBER;
        FAIL(j, OMTP_EC_GROUP_NO_PRIVILEGE, "'%s' is not a member of group '%s'", msg->from.data,
             msg->to.data);
        return false;
    }
    bool creator = strcmp(g->creator, msg->from.data) == 0;
    for (uint32_t i = 0; i < msg->mentions.n; i++) {
        const tars_str *e = &msg->mentions.items[i];
        if (tars_str_eq(e, OMTP_MENTION_ALL)) {
            if (!creator && !j->check_sender) {
                FAIL(j, OMTP_EC_PARAM,
                     "MsgReq.mentions: only the creator of group '%s' may mention "
                     "\"" OMTP_MENTION_ALL "\"",
                     msg->to.data);
                return false;
            }
            continue;
        }
        if (!omtp_cc_is_member(g->members, e->data)) {
            FAIL(j, OMTP_EC_PARAM, "MsgReq.mentions: '%s' is not a member of group '%s'", e->data,
                 msg->to.data);
            return false;
        }
    }
    /* the fan-out uses the same list */
    omtp_members_unref(j->cached);
    j->cached = g->members;
    omtp_members_ref(j->cached);
    return true;
}

static void log_group_cb(void *arg, int status, const omtp_cc_group *g)
{
    send_job *j = arg;
    if (status != 0) {
        log_fail_status(j, status);
        return;
    }
    if (!group_checks(j, g)) {
        send_done(j, 0);
        return;
    }
    j->step = LS_FRIENDS;
    log_step(j);
}

static int reply_work(omtp_db *db, void *arg)
{
    return reply_check(db, arg);
}

static void reply_done(void *arg, int status)
{
    send_job *j = arg;
    if (status != 0) {
        log_fail_status(j, status);
        return;
    }
    if (j->code) {
        send_done(j, 0);
        return;
    }
    j->step = LS_DEDUP;
    log_step(j);
}

/* The original's ack for a resend: nothing is stored or pushed. */
static void log_dup(send_job *j, const char *sid, int64_t seq, int64_t ts, uint64_t lsn)
{
    j->dup = true;
    if (tars_str_set(&j->m.msg.sessionId, sid) != 0) {
        log_fail_status(j, OMTP_ENOMEM);
        return;
    }
    j->m.msg.seqId = seq;
    j->m.msg.timestamp = ts;
    j->mw.lsn = lsn; /* acked once the original is durable */
    msgpath *p = omtp_msgpath(j->srv);
    sendorder_leave(omtp_msgpath_order(p), &j->ot);
    omtp_msgpath_wait(p, &j->mw);
}

static int bypack_work(omtp_db *db, void *arg)
{
    send_job *j = arg;
    omtp_msg_rec orig;
    int rc = omtp_db_msg_by_pack(db, j->m.msg.from.data, j->m.packId.data, &orig);
    if (rc == OMTP_ENOTFOUND) {
        omtp_msg_rec_free(&orig);
        return 0;
    }
    if (rc != 0) {
        omtp_msg_rec_free(&orig);
        return rc;
    }
    if (!omtp_chat_same_message(j->print, &orig, omtp_chat_fingerprint(&orig))) {
        FAIL(j, OMTP_EC_MSG_REPEATED,
             "packId %s was already used by %s for a different message (seqId %lld); send it "
             "with a fresh packId",
             j->m.packId.data, j->m.msg.from.data, (long long)orig.msg.seqId);
    } else {
        omtp_msg_rec_free(&j->m);
        j->m = orig;
        j->dup = true;
        return 0;
    }
    omtp_msg_rec_free(&orig);
    return 0;
}

static void bypack_done(void *arg, int status)
{
    send_job *j = arg;
    if (status != 0) {
        log_fail_status(j, status);
        return;
    }
    if (j->code || j->dup) {
        send_done(j, 0); /* stored (and durable) long ago: its ack now */
        return;
    }
    j->step = LS_TURN;
    log_step(j);
}

static void log_seq_ready(seq_waiter *w, int status)
{
    send_job *j = (send_job *)((char *)w - offsetof(send_job, sw));
    if (status == OMTP_EINVAL) {
        /* the session id is stored with other members: never mix two
         * conversations (only possible with ids from before the id rules) */
        LOG_WARN("send %s -> %s refused: session %s belongs to other users", j->m.msg.from.data,
                 j->m.msg.to.data, j->m.msg.sessionId.data);
        FAIL(j, OMTP_EC_MSG_FORBIDDEN,
             "session %s belongs to other users; ask the operator to rename ids that contain "
             "'_' (omtpd user rename)",
             j->m.msg.sessionId.data);
        send_done(j, 0);
        return;
    }
    if (status != 0) {
        log_fail_status(j, status);
        return;
    }
    log_step(j);
}

static void log_synced(msgpath_waiter *w, int status)
{
    send_job *j = (send_job *)((char *)w - offsetof(send_job, mw));
    send_done(j, status);
}

/* The counter is ready: number, append, push, wait for the sync. */
/* The dedup window's answer for j when its (from, packId) is there: true
 * when it answered (MSG_REPEATED, or the original's ack once durable). */
static bool log_window_answer(send_job *j)
{
    dedup_hit h;
    msgpath *p = omtp_msgpath(j->srv);
    if (!dedupwin_find(omtp_msgpath_dedup(p), &j->m.msg.from, &j->m.packId, omtp_now_ms(), &h))
        return false;
    if (h.print != j->print) {
        FAIL(j, OMTP_EC_MSG_REPEATED,
             "packId %s was already used by %s for a different message (seqId %lld); send it "
             "with a fresh packId",
             j->m.packId.data, j->m.msg.from.data, (long long)h.seqId);
        send_done(j, 0);
        return true;
    }
    log_dup(j, h.sessionId, h.seqId, h.timestamp, h.lsn_end);
    return true;
}

static void log_append(send_job *j, int64_t *last)
{
    omtp_server *s = j->srv;
    msgpath *p = omtp_msgpath(s);
    uint64_t lsn = 0;
    /* asked again: a send with the same (from, packId) may have been
     * appended while this one waited (counter load, store lookup) */
    if (log_window_answer(j))
        return;
    /* the window's entry first: out of memory refuses the message before
     * anything is written, never leaves it out of the window after */
    dedup_slot *slot = dedupwin_reserve(omtp_msgpath_dedup(p), &j->m);
    if (!slot) {
        LOG_ERROR("message %s -> %s refused: out of memory for its dedup window entry",
                  j->m.msg.from.data, j->m.msg.to.data);
        FAIL(j, OMTP_EC_SERVICE_UNAVAILABLE,
             "the server is out of memory; send it again shortly (the same packId)");
        send_done(j, 0);
        return;
    }
    j->m.msg.seqId = *last + 1;
    j->m.msg.timestamp = omtp_now_ms();
    int rc = omtp_msgpath_append(p, &j->m, &lsn);
    if (rc != 0)
        dedupwin_release(slot);
    if (rc == OMTP_EBUSY) {
        FAIL(j, OMTP_EC_SERVICE_UNAVAILABLE,
             "the server is storing a backlog of messages (apply_pending_max); send it again "
             "shortly");
        send_done(j, 0);
        return;
    }
    if (rc != 0) {
        if (rc != OMTP_ENOSPC)
            LOG_ERROR("message %s -> %s not written to the message log: %s", j->m.msg.from.data,
                      j->m.msg.to.data, omtp_strerror(rc));
        log_fail_status(j, rc);
        return;
    }
    *last = j->m.msg.seqId;
    j->m.flags &= OMTP_F_HIGHPRJ | OMTP_F_COUNTER;
    dedupwin_commit(omtp_msgpath_dedup(p), slot, &j->m, j->print, lsn, omtp_now_ms());
    msgcache_add(omtp_msgpath_recent(p), &j->m); /* message control's checks */
    send_stored(j, 0);                           /* in the log (handed to the OS): push */
    j->mw.lsn = lsn;
    if (!omtp_msgpath_wait(p, &j->mw))
        return; /* answered at once (the log failed): j is gone, and left the order */
    /* numbered, pushed, its ack queued: the sender's next send to this
     * session may go (resumed from here when it waits). Its seqId, push and
     * ack follow this one's; leaving earlier let a waiting send push and
     * ack first. */
    sendorder_leave(omtp_msgpath_order(p), &j->ot);
}

/* The backlog is within its bounds again (or the wait is over). */
static void log_room_ready(msgpath_room *r, int status, const char *why)
{
    send_job *j = (send_job *)((char *)r - offsetof(send_job, rw));
    if (status != 0 && why && !strcmp(why, "shutting down")) {
        FAIL(j, OMTP_EC_SERVICE_UNAVAILABLE,
             "the server is shutting down; send it again once it is back (the same packId)");
        send_done(j, 0);
        return;
    }
    if (status != 0) {
        FAIL(j, OMTP_EC_SERVICE_UNAVAILABLE,
             "the server is storing a backlog of messages (%s); send it again shortly (the same "
             "packId)",
             why ? why : "apply_lag_max_ms");
        send_done(j, 0);
        return;
    }
    j->step = LS_SEQ;
    log_step(j);
}

static void log_order_resume(sendorder_ticket *t)
{
    log_step((send_job *)((char *)t - offsetof(send_job, ot)));
}

static void log_step(send_job *j)
{
    omtp_server *s = j->srv;
    omtp_MsgReq *msg = &j->m.msg;
    bool yes = false;
    int rc;
    for (;;) {
        switch (j->step) {
        case LS_SENDER:
            if (j->check_sender) {
                rc = LOG_ASK(j, omtp_cc_user_exists(s, msg->from.data, &yes, log_cc_bool, j), &yes);
                if (rc == 0)
                    return;
                if (rc < 0)
                    goto failed;
                if (!yes) {
                    j->reason = OMTP_DOM_UNKNOWN_SENDER;
                    FAIL(j, OMTP_EC_PARAM, "sender '%s' does not exist", msg->from.data);
                    goto refused;
                }
            }
            j->step = LS_TARGET;
            break;
        case LS_TARGET:
            if (j->m.type == PT_MSG_GROUP_CHAT) {
                omtp_cc_group g;
                memset(&g, 0, sizeof g);
                rc = omtp_cc_group_get(s, msg->to.data, &g, log_group_cb, j);
                if (rc == 0)
                    return;
                if (rc < 0)
                    goto failed;
                bool ok = group_checks(j, &g);
                omtp_members_unref(g.members);
                if (!ok)
                    goto refused;
            } else {
                rc = LOG_ASK(j, omtp_cc_user_exists(s, msg->to.data, &yes, log_cc_bool, j), &yes);
                if (rc == 0)
                    return;
                if (rc < 0)
                    goto failed;
                if (!yes) {
                    j->reason = OMTP_DOM_UNKNOWN_RECIPIENT;
                    FAIL(j, OMTP_EC_PARAM, "recipient '%s' does not exist", msg->to.data);
                    goto refused;
                }
                /* single chat, business: the one other party may be mentioned */
                for (uint32_t i = 0; i < msg->mentions.n; i++)
                    if (!tars_str_eq(&msg->mentions.items[i], msg->to.data)) {
                        FAIL(j, OMTP_EC_PARAM,
                             "MsgReq.mentions: '%s' is not in this chat (only '%s' may be "
                             "mentioned)",
                             msg->mentions.items[i].data, msg->to.data);
                        goto refused;
                    }
            }
            j->step = LS_FRIENDS;
            break;
        case LS_FRIENDS:
            if (j->friends_only && j->m.type == PT_MSG_SINGLE_CHAT &&
                strcmp(msg->from.data, msg->to.data) != 0) {
                rc = LOG_ASK(j,
                             omtp_cc_friends(s, msg->from.data, msg->to.data, &yes, log_cc_bool, j),
                             &yes);
                if (rc == 0)
                    return;
                if (rc < 0)
                    goto failed;
                if (!yes) {
                    FAIL(j, OMTP_EC_USER_RELATION_INVALID,
                         "'%s' and '%s' are not friends (single chat is friends-only here)",
                         msg->from.data, msg->to.data);
                    goto refused;
                }
            }
            j->step = LS_REPLY;
            break;
        case LS_REPLY:
            j->step = LS_DEDUP;
            if (msg->replyTo != 0) {
                rc = omtp_store_submit(s->store, reply_work, reply_done, j);
                if (rc < 0)
                    goto failed;
                return;
            }
            break;
        case LS_DEDUP: {
            if (log_window_answer(j))
                return;
            j->step = LS_TURN;
            if (j->resend) {
                rc = omtp_store_submit(s->store, bypack_work, bypack_done, j);
                if (rc < 0)
                    goto failed;
                return;
            }
            break;
        }
        case LS_TURN:
            if (!sendorder_turn(&j->ot))
                return; /* log_order_resume when the earlier ones are numbered */
            j->step = LS_ROOM;
            break;
        case LS_ROOM: {
            const char *why = NULL;
            rc = omtp_msgpath_room(omtp_msgpath(s), &j->rw, &why);
            if (rc == OMTP_EBUSY) {
                log_room_ready(&j->rw, rc, why);
                return;
            }
            if (rc == 0)
                return; /* log_room_ready */
            j->step = LS_SEQ;
            break;
        }
        case LS_SEQ: {
            int64_t *last = NULL;
            j->sw.ready = log_seq_ready;
            rc = seqgen_take(omtp_msgpath_seq(omtp_msgpath(s)), &j->m, &j->sw, &last);
            if (rc == 0)
                return;
            if (rc < 0)
                goto failed;
            log_append(j, last);
            return;
        }
        default:
            return;
        }
    }
failed:
    log_fail_status(j, rc);
    return;
refused:
    send_done(j, 0);
}

/* Media messages on the message log (domain/files.h): the file check runs
 * as one store work item before the log path, and records the reference
 * with it (seq 0: the session holds the file; docs/files.md). */
static int media_work(omtp_db *db, void *arg)
{
    send_job *j = arg;
    const omtp_MsgReq *msg = &j->m.msg;
    int rc = omtp_files_send_check(
        db, j->check_sender || j->m.type == PT_MSG_BIZ_NOTIFY ? NULL : msg->from.data,
        msg->contentType, msg->content.data, msg->content.len, &j->code, j->desc, sizeof j->desc);
    if (rc != 0 || j->code)
        return rc;
    return omtp_files_refs_record(db, msg->sessionId.data, 0, msg->contentType, msg->content.data,
                                  msg->content.len);
}

static void media_done(void *arg, int status)
{
    send_job *j = arg;
    if (status != 0)
        log_fail_status(j, status);
    else if (j->code)
        send_done(j, 0);
    else
        log_step(j);
}

/* Queues a validated send on the store. Returns 0 or the store's refusal
 * (the job is then freed and `done` not called). */
static int send_submit(send_job *j)
{
    if (omtp_msgpath(j->srv)) {
        /* the message log (msgpath.h): every outcome reaches `done` */
        j->print = omtp_chat_fingerprint(&j->m);
        j->step = LS_SENDER;
        j->mw.synced = log_synced;
        j->rw.ready = log_room_ready;
        j->ot.resume = log_order_resume;
        if (sendorder_enter(omtp_msgpath_order(omtp_msgpath(j->srv)), &j->m.msg.from,
                            &j->m.msg.sessionId, &j->ot) != 0) {
            send_job_free(j);
            return OMTP_ENOMEM;
        }
        if (omtp_files_may_reference(j->m.msg.contentType)) {
            int rc = omtp_store_submit(j->srv->store, media_work, media_done, j);
            if (rc != 0)
                send_job_free(j);
            return rc;
        }
        log_step(j);
        return 0;
    }
    if (j->m.type == PT_MSG_GROUP_CHAT) {
        j->cached = omtp_group_cache_get(j->srv, j->m.msg.to.data);
        j->epoch = omtp_group_cache_epoch(j->srv);
    }
    const omtp_MsgReq *msg = &j->m.msg;
    int rc;
    /* media messages (domain/files.h) take send_work: its file check and
     * references are per message */
    /* mentions only in groups: the batch statement moves the mentioned
     * members' cursors in the same statement that writes a new single
     * chat's membership rows, which it cannot see yet */
    if ((msg->mentions.n == 0 || j->m.type == PT_MSG_GROUP_CHAT) &&
        !(j->m.flags & OMTP_F_HIGHPRJ) && !omtp_files_may_reference(msg->contentType)) {
        /* the store may check and append it with the other sends of its
         * batch (one statement on PostgreSQL); send_work otherwise */
        unsigned chk = j->check_sender ? OMTP_APPEND_CHK_SENDER : 0;
        if (j->m.type == PT_MSG_GROUP_CHAT)
            chk |= OMTP_APPEND_CHK_GROUP;
        else
            chk |= OMTP_APPEND_CHK_RECIPIENT;
        if (j->friends_only && j->m.type == PT_MSG_SINGLE_CHAT &&
            !tars_str_eq(&msg->to, msg->from.data))
            chk |= OMTP_APPEND_CHK_FRIENDS;
        j->print = omtp_chat_fingerprint(&j->m);
        j->ap.req.m = &j->m;
        j->ap.req.checks = chk;
        j->ap.after = send_after;
        rc = omtp_store_submit_append(j->srv->store, &j->ap, send_work, send_stored, send_done, j);
    } else {
        rc = omtp_store_submit2(j->srv->store, send_work, send_stored, send_done, j);
    }
    if (rc != 0)
        send_job_free(j);
    return rc;
}

/* The before-send webhook's verdict: store, or refuse with its code. */
static void send_checked(void *arg, int code, const char *desc)
{
    send_job *j = arg;
    if (code == OMTP_EC_SUCCESS) {
        omtp_dom_done_fn done = j->done;
        void *darg = j->arg;
        int rc = send_submit(j);
        if (rc == 0)
            return;
        char why[DESC_MAX];
        snprintf(why, sizeof why, "storage is not accepting work (%s)", omtp_strerror(rc));
        refuse_now(done, darg, OMTP_EC_SERVICE_UNAVAILABLE, why);
        return;
    }
    refuse_now(j->done, j->arg, code, desc);
    send_job_free(j);
}

static int dom_send(omtp_server *s, const omtp_dom_caller *who, int type, const omtp_msg_rec *m,
                    omtp_dom_done_fn done, void *arg)
{
    if (!s || !who || !m || !done || (who->role == OMTP_DOM_USER && !who->user))
        return OMTP_EINVAL;
    send_job *j = calloc(1, sizeof *j);
    if (!j)
        return OMTP_ENOMEM;
    j->srv = s;
    j->done = done;
    j->arg = arg;
    omtp_msg_rec_init(&j->m);
    int rc = send_prepare(j, who, type, m);
    if (rc < 0) {
        send_job_free(j);
        return rc;
    }
    if (j->code != OMTP_EC_SUCCESS) {
        refuse_now(done, arg, j->code, j->desc);
        send_job_free(j);
        return 0;
    }
    if (who->conn) {
        omtp_conn_ref(who->conn);
        j->except = who->conn;
    }
    /* before-send hook (msg_hooks), for what users send: the business
     * backend may refuse the message before it is stored; send_checked()
     * continues */
    if (who->role == OMTP_DOM_USER && s->msg_hooks &&
        s->msg_hooks->before_send(s, &j->m, send_checked, j))
        return 0;
    return send_submit(j);
}

int omtp_dom_send_single(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                         omtp_dom_done_fn done, void *arg)
{
    return dom_send(s, who, PT_MSG_SINGLE_CHAT, m, done, arg);
}

int omtp_dom_send_group(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                        omtp_dom_done_fn done, void *arg)
{
    return dom_send(s, who, PT_MSG_GROUP_CHAT, m, done, arg);
}

int omtp_dom_send_biz(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                      omtp_dom_done_fn done, void *arg)
{
    return dom_send(s, who, PT_MSG_BIZ_NOTIFY, m, done, arg);
}

/* -------------------------------------------------------------- control */

typedef struct ctrl_job {
    omtp_server *srv;
    omtp_conn *except; /* the operator's device (referenced), or NULL */
    omtp_dom_done_fn done;
    void *arg;
    char user[OMTP_ID_MAX + 1];
    omtp_MsgControl ctl; /* the request; packId becomes the target's packId */
    uint32_t limit_s;
    int code;
    char desc[DESC_MAX];
    tars_str_list members; /* everyone to notify (when not `cached`) */
    omtp_members *cached;  /* a group session's cached members (group.h), or NULL */
    char noticeId[37];     /* packId of the notice (push and queue entries) */
    /* the message log's path (docs/storage.md "Delivery path") */
    int msgType;                        /* the message's packet type (from the check) */
    char key[OMTP_SESSION_ID_MAX + 24]; /* its oplock key: sessionId NUL seqId */
    size_t klen;
    bool locked;
    bool hot; /* checked from memory (msgcache.h), no store read */
    oplock_waiter lw;
    msgpath_waiter mw;
} ctrl_job;

static void ctrl_job_free(ctrl_job *j)
{
    if (j->locked) {
        j->locked = false;
        if (omtp_msgpath(j->srv)) /* gone at shutdown: its locks with it */
            oplock_release(omtp_msgpath_locks(omtp_msgpath(j->srv)), j->key, j->klen);
    }
    omtp_members_unref(j->cached);
    omtp_msg_free(&omtp_MsgControl_desc, &j->ctl);
    for (uint32_t i = 0; i < j->members.n; i++)
        tars_str_clear(&j->members.items[i]);
    free(j->members.items);
    if (j->except)
        omtp_conn_unref(j->except);
    free(j);
}

static void ctrl_answer(ctrl_job *j);

static const char *ctrl_verb(int cmd)
{
    return cmd == MC_REVOKE ? "revoke" : cmd == MC_DELETE ? "delete" : "edit";
}

static int list_add(tars_str_list *l, const tars_str *v)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->items[i].len == v->len && memcmp(l->items[i].data, v->data, v->len) == 0)
            return 0;
    tars_str *n = realloc(l->items, (l->n + 1) * sizeof *n);
    if (!n)
        return OMTP_ENOMEM;
    l->items = n;
    n[l->n].data = NULL;
    n[l->n].len = 0;
    if (tars_str_setn(&n[l->n], v->data, v->len) != 0) {
        n[l->n].data = (char *)""; /* never freed: the list is not extended */
        return OMTP_ENOMEM;
    }
    l->n++;
    return 0;
}

/* What the checks of a control look at, from the store (ctrl_check) or
 * from memory (ctrl_hot): one judge, so both answer alike. */
typedef struct ctrl_view {
    bool member; /* the operator is part of the session */
    bool found;  /* the message is there (deleted ones too) */
    int type, status;
    int64_t timestamp;
    const tars_str *packId, *from, *to;
    bool creator; /* a group message: the operator created the group */
} ctrl_view;

/* Sets j->code (FAIL) when the control is refused. */
static void ctrl_judge(ctrl_job *j, const ctrl_view *v)
{
    const omtp_MsgControl *ctl = &j->ctl;
    const char *sid = ctl->sessionId.data;
    if (!v->member) {
        FAIL(j, OMTP_EC_MSG_FORBIDDEN, "you are not part of session '%s'", sid);
    } else if (!v->found || v->status == MC_DELETE) {
        FAIL(j, OMTP_EC_MSG_NOT_EXIST, "no message %lld in session '%s'", (long long)ctl->seqId,
             sid);
    } else if (ctl->packId.len && !tars_str_eq(v->packId, ctl->packId.data)) {
        FAIL(j, OMTP_EC_MSG_NOT_EXIST, "message %lld of '%s' has another packId than '%s'",
             (long long)ctl->seqId, sid, ctl->packId.data);
    } else if (!tars_str_eq(v->from, j->user) && !(v->type == PT_MSG_GROUP_CHAT && v->creator)) {
        FAIL(j, OMTP_EC_MSG_FORBIDDEN,
             "only the sender (or the group's creator) may %s message %lld",
             ctrl_verb(ctl->command), (long long)ctl->seqId);
    } else if (ctl->command != MC_DELETE && j->limit_s &&
               omtp_now_ms() - v->timestamp > (int64_t)j->limit_s * 1000) {
        FAIL(j, OMTP_EC_MSG_FORBIDDEN, "too late to %s: the limit is %u s after sending",
             ctrl_verb(ctl->command), j->limit_s);
    } else if (ctl->command == MC_OVERRIDE && v->status == MC_REVOKE) {
        FAIL(j, OMTP_EC_MSG_OP_CMD, "message %lld was revoked and cannot be edited",
             (long long)ctl->seqId);
    }
}

/* A single chat's or notice's parties and the operator: who hears of it. */
static int ctrl_parties(ctrl_job *j, int type, const tars_str *from, const tars_str *to)
{
    int rc = list_add(&j->members, to);
    if (rc == 0 && type != PT_MSG_BIZ_NOTIFY)
        rc = list_add(&j->members, from);
    if (rc == 0)
        rc = list_add(&j->members, &(tars_str){j->user, (uint32_t)strlen(j->user)});
    return rc;
}

/* The checks and who hears of it (reads only): 0 with j->code set on a
 * refusal; otherwise j->ctl is the notice (the target's packId, content
 * only for an edit) and orig the message. Store thread. */
static int ctrl_check(omtp_db *db, ctrl_job *j, omtp_msg_rec *orig)
{
    omtp_MsgControl *ctl = &j->ctl;
    const char *sid = ctl->sessionId.data;
    ctrl_view v = {0};
    int rc = omtp_db_session_member(db, j->user, sid, &v.member);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    if (v.member) {
        rc = omtp_db_msg_get(db, sid, ctl->seqId, orig);
        if (rc != 0 && rc != OMTP_ENOTFOUND)
            return rc;
        v.found = rc == 0;
        v.type = orig->type;
        v.status = orig->msg.status;
        v.timestamp = orig->msg.timestamp;
        v.packId = &orig->packId;
        v.from = &orig->msg.from;
        v.to = &orig->msg.to;
    }
    if (v.found && orig->type == PT_MSG_GROUP_CHAT && !tars_str_eq(v.from, j->user)) {
        omtp_GroupChatInfo g;
        bool dismissed = false;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
        rc = omtp_db_group_get(db, sid, &g, &dismissed);
        v.creator = rc == 0 && tars_str_eq(&g.creatorId, j->user);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
        if (rc != 0 && rc != OMTP_ENOTFOUND)
            return rc;
    }
    ctrl_judge(j, &v);
    if (j->code != 0)
        return 0;
    j->msgType = orig->type;

    /* who hears about it: for a group, the cached member list when there is
     * one (no read of every member on the store thread) */
    if (orig->type == PT_MSG_GROUP_CHAT) {
        rc = j->cached ? 0 : omtp_db_group_members(db, sid, &j->members);
        if (rc == 0 && !j->cached)
            rc = list_add(&j->members, &(tars_str){j->user, (uint32_t)strlen(j->user)});
    } else {
        rc = ctrl_parties(j, orig->type, &orig->msg.from, &orig->msg.to);
    }
    if (rc != 0)
        return rc;

    /* the notice names the target by its own packId */
    str_swap(&ctl->packId, &orig->packId);
    if (ctl->command != MC_OVERRIDE)
        tars_str_clear(&ctl->content);
    return 0;
}

/* The change and the queued notices (ctl is the notice: ctrl_check). A group
 * gets one row for every member (the operator is one: store.h,
 * hp_group_append), a single chat or notice one row per party (`members`).
 * Store thread. */
static int ctrl_store(omtp_db *db, const omtp_MsgControl *ctl, int msgType, const char *noticeId,
                      const tars_str_list *members)
{
    const char *sid = ctl->sessionId.data;
    int rc = omtp_db_msg_control(db, sid, ctl->seqId, ctl->command,
                                 ctl->command == MC_OVERRIDE ? ctl->content.data : NULL);
    if (rc != 0)
        return rc;
    omtp_OTIMPack pack;
    omtp_msg_init(&omtp_OTIMPack_desc, &pack);
    pack.header.type = PT_MSG_CTRL;
    pack.header.version = OMTP_VERSION;
    pack.header.flags = OMTP_F_HIGHPRJ;
    rc = tars_str_set(&pack.header.packId, noticeId) == 0 &&
                 omtp_payload_to_bytes(&omtp_MsgControl_desc, ctl, &pack.payload) == 0
             ? 0
             : OMTP_ENOMEM;
    if (msgType == PT_MSG_GROUP_CHAT) {
        int64_t seq;
        if (rc == 0)
            rc = omtp_db_hp_group_append(db, sid, NULL, &pack, &seq);
    } else {
        for (uint32_t i = 0; i < members->n && rc == 0; i++) {
            int64_t seq;
            rc = omtp_db_hp_append(db, members->items[i].data, &pack, &seq);
        }
    }
    omtp_msg_free(&omtp_OTIMPack_desc, &pack);
    return rc;
}

static int ctrl_work_checked(omtp_db *db, ctrl_job *j, omtp_msg_rec *orig)
{
    int rc = ctrl_check(db, j, orig);
    if (rc != 0 || j->code != 0)
        return rc;
    return ctrl_store(db, &j->ctl, orig->type, j->noticeId, &j->members);
}

static int ctrl_work(omtp_db *db, void *arg)
{
    ctrl_job *j = arg;
    omtp_msg_rec orig;
    omtp_msg_rec_init(&orig);
    int rc = ctrl_work_checked(db, j, &orig);
    omtp_msg_rec_free(&orig);
    return rc;
}

/* The live notice: every member's devices but the operator's. */
static void ctrl_push(ctrl_job *j)
{
    omtp_server *s = j->srv;
    {
        omtp_wire *w =
            omtp_wire_new(PT_MSG_CTRL, OMTP_F_HIGHPRJ, j->noticeId, &omtp_MsgControl_desc, &j->ctl);
        if (w) {
            /* a group's cached members include the operator (checked a member) */
            const tars_str_list *to =
                j->cached && j->members.n == 0 ? &j->cached->ids : &j->members;
            for (uint32_t i = 0; i < to->n; i++)
                omtp_push_user(s, to->items[i].data, w, j->except);
            omtp_monitor_push(s, j->ctl.sessionId.data, w, j->except, to);
            omtp_wire_unref(w);
        } else {
            LOG_ERROR("msg ctrl %s/%lld: out of memory for the push (queued notices remain)",
                      j->ctl.sessionId.data, (long long)j->ctl.seqId);
        }
    }
}

static void ctrl_done(void *arg, int status)
{
    ctrl_job *j = arg;
    if (status != 0 && j->code == 0)
        store_failed(status, &j->code, j->desc, "try again");
    if (j->code == 0 && status == 0)
        ctrl_push(j);
    ctrl_answer(j);
}

/* ---- the message log's path: check (a read behind the barrier), append,
 * push, answer after the log's sync */

static void ctrl_synced(msgpath_waiter *w, int status)
{
    ctrl_job *j = (ctrl_job *)((char *)w - offsetof(ctrl_job, mw));
    if (status != 0)
        store_failed(status, &j->code, j->desc, "try again");
    ctrl_answer(j);
}

static int ctrl_check_work(omtp_db *db, void *arg)
{
    ctrl_job *j = arg;
    omtp_msg_rec orig;
    omtp_msg_rec_init(&orig);
    int rc = ctrl_check(db, j, &orig);
    omtp_msg_rec_free(&orig);
    return rc;
}

static void ctrl_checked(void *arg, int status)
{
    ctrl_job *j = arg;
    msgpath *p = omtp_msgpath(j->srv);
    if (status != 0 && j->code == 0)
        store_failed(status, &j->code, j->desc, "try again");
    if (j->code != 0 || !p) {
        if (!p && j->code == 0)
            FAIL(j, OMTP_EC_SERVICE_UNAVAILABLE, "the server is stopping; try again");
        ctrl_answer(j);
        return;
    }
    omtp_logop o = {
        .sessionId = j->ctl.sessionId,
        .seqId = j->ctl.seqId,
        .user = {j->user, (uint32_t)strlen(j->user)},
        .op = j->ctl.command,
        .text = j->ctl.command == MC_OVERRIDE ? j->ctl.content : (tars_str){0},
        .noticeId = {j->noticeId, (uint32_t)strlen(j->noticeId)},
        .packId = j->ctl.packId.data ? j->ctl.packId : (tars_str){(char *)"", 0},
        .msgType = j->msgType,
        .timestamp = omtp_now_ms(),
    };
    uint64_t lsn = 0;
    int rc = omtp_msgpath_append_op(p, OMTP_LOGREC_CTRL, &o, &lsn);
    /* the next operation on this message checks against this one */
    j->locked = false;
    oplock_release(omtp_msgpath_locks(p), j->key, j->klen);
    if (rc != 0) {
        op_append_failed(rc, &j->code, j->desc, ctrl_verb(j->ctl.command));
        ctrl_answer(j);
        return;
    }
    if (j->ctl.command != MC_OVERRIDE)
        msgcache_set_status(omtp_msgpath_recent(p), j->ctl.sessionId.data, j->ctl.seqId,
                            j->ctl.command);
    ctrl_push(j); /* in the log (handed to the OS) */
    j->mw.synced = ctrl_synced;
    j->mw.lsn = lsn;
    omtp_msgpath_wait(p, &j->mw);
}

static void ctrl_read_store(ctrl_job *j)
{
    int rc = omtp_store_submit(j->srv->store, ctrl_check_work, ctrl_checked, j);
    if (rc != 0)
        ctrl_checked(j, rc);
}

/* The checks from memory: a recent message (msgcache.h) and, for a group,
 * the check cache's members and creator (check_cache.h). g NULL: not a
 * group. Then as ctrl_checked. */
static void ctrl_hot(ctrl_job *j, const omtp_cc_group *g)
{
    msgpath *p = omtp_msgpath(j->srv);
    const msgcache_msg *c =
        p ? msgcache_find(omtp_msgpath_recent(p), j->ctl.sessionId.data, j->ctl.seqId) : NULL;
    if (!c) {
        ctrl_read_store(j); /* dropped while the group was read */
        return;
    }
    ctrl_view v = {.found = true,
                   .type = c->type,
                   .status = c->status,
                   .timestamp = c->timestamp,
                   .packId = &c->packId,
                   .from = &c->from,
                   .to = &c->to};
    if (c->type == PT_MSG_GROUP_CHAT) {
        /* membership rows are the group's members (gone once dismissed) */
        v.member =
            g && g->exists && !g->dismissed && g->members && omtp_cc_is_member(g->members, j->user);
        v.creator = g && g->exists && strcmp(g->creator, j->user) == 0;
    } else {
        /* a single chat's membership rows are its two parties, a notice's
         * its recipient (written with the message, never removed) */
        v.member = tars_str_eq(&c->to, j->user) ||
                   (c->type == PT_MSG_SINGLE_CHAT && tars_str_eq(&c->from, j->user));
    }
    ctrl_judge(j, &v);
    if (j->code != 0) {
        ctrl_checked(j, 0);
        return;
    }
    j->msgType = c->type;
    int rc = 0;
    if (c->type == PT_MSG_GROUP_CHAT) {
        if (!j->cached) {
            omtp_members_ref(g->members);
            j->cached = g->members;
        }
    } else {
        rc = ctrl_parties(j, c->type, &c->from, &c->to);
    }
    if (rc == 0)
        rc = tars_str_setn(&j->ctl.packId, c->packId.data, c->packId.len) == 0 ? 0 : OMTP_ENOMEM;
    if (j->ctl.command != MC_OVERRIDE)
        tars_str_clear(&j->ctl.content);
    j->hot = true;
    ctrl_checked(j, rc);
}

static void ctrl_cc_group(void *arg, int status, const omtp_cc_group *g)
{
    ctrl_job *j = arg;
    if (status != 0) {
        ctrl_read_store(j);
        return;
    }
    ctrl_hot(j, g);
}

static void ctrl_go(oplock_waiter *w)
{
    ctrl_job *j = (ctrl_job *)((char *)w - offsetof(ctrl_job, lw));
    j->locked = true;
    msgpath *p = omtp_msgpath(j->srv);
    const msgcache_msg *c =
        p ? msgcache_find(omtp_msgpath_recent(p), j->ctl.sessionId.data, j->ctl.seqId) : NULL;
    if (!c) {
        ctrl_read_store(j);
        return;
    }
    if (c->type != PT_MSG_GROUP_CHAT) {
        ctrl_hot(j, NULL);
        return;
    }
    omtp_cc_group g = {0};
    int rc = omtp_cc_group_get(j->srv, j->ctl.sessionId.data, &g, ctrl_cc_group, j);
    if (rc == 1) {
        ctrl_hot(j, &g);
        omtp_members_unref(g.members);
    } else if (rc < 0) {
        ctrl_read_store(j);
    }
}

static int ctrl_log_start(ctrl_job *j, msgpath *p)
{
    j->klen = (size_t)snprintf(j->key, sizeof j->key, "%s%c%lld", j->ctl.sessionId.data, 0,
                               (long long)j->ctl.seqId);
    j->lw.go = ctrl_go;
    int rc = oplock_take(omtp_msgpath_locks(p), j->key, j->klen, &j->lw);
    if (rc == 1)
        ctrl_go(&j->lw);
    return rc < 0 ? rc : 0;
}

static void ctrl_answer(ctrl_job *j)
{
    omtp_dom_result res = {.code = j->code, .desc = j->desc};
    j->done(j->arg, &res);
    ctrl_job_free(j);
}

int omtp_dom_msg_ctrl(omtp_server *s, const omtp_dom_caller *who, const omtp_MsgControl *in,
                      omtp_dom_done_fn done, void *arg)
{
    char why[DESC_MAX];
    if (!s || !who || !who->user || !done)
        return OMTP_EINVAL;
    if (!in) {
        refuse_now(done, arg, OMTP_EC_PARAM, "MsgControl payload is missing");
        return 0;
    }
    if (in->command != MC_REVOKE && in->command != MC_DELETE && in->command != MC_OVERRIDE) {
        snprintf(why, sizeof why, "unknown MsgControl.command %d (1 revoke, 2 delete, 3 edit)",
                 in->command);
        refuse_now(done, arg, OMTP_EC_MSG_OP_CMD, why);
        return 0;
    }
    if (in->sessionId.len == 0 || in->sessionId.len > 2 * OMTP_ID_MAX + 8) {
        refuse_now(done, arg, OMTP_EC_PARAM, "MsgControl.sessionId is empty or too long");
        return 0;
    }
    if (in->seqId <= 0) {
        refuse_now(done, arg, OMTP_EC_PARAM, "MsgControl.seqId must be > 0");
        return 0;
    }
    if (in->command == MC_OVERRIDE) {
        if (in->content.len == 0) {
            refuse_now(done, arg, OMTP_EC_MSG_TOO_SHORT, "edit needs the new MsgControl.content");
            return 0;
        }
        if (s->cfg->max_content && in->content.len > s->cfg->max_content) {
            snprintf(why, sizeof why, "MsgControl.content has %u bytes, the limit is %u",
                     in->content.len, s->cfg->max_content);
            refuse_now(done, arg, OMTP_EC_MSG_TOO_LONG, why);
            return 0;
        }
    }
    ctrl_job *j = calloc(1, sizeof *j);
    if (!j || tars_copy(&omtp_MsgControl_desc, &j->ctl, in) != 0) {
        free(j);
        return OMTP_ENOMEM;
    }
    j->srv = s;
    j->done = done;
    j->arg = arg;
    j->limit_s = s->cfg->revoke_limit_s;
    snprintf(j->user, sizeof j->user, "%s", who->user);
    if (who->conn) {
        omtp_conn_ref(who->conn);
        j->except = who->conn;
    }
    omtp_uuid(j->noticeId);
    if (strncmp(j->ctl.sessionId.data, "GC_", 3) == 0)
        j->cached = omtp_group_cache_get(s, j->ctl.sessionId.data);
    msgpath *p = omtp_msgpath(s);
    int rc = p ? ctrl_log_start(j, p) : omtp_store_submit(s->store, ctrl_work, ctrl_done, j);
    if (rc != 0)
        ctrl_job_free(j);
    return rc;
}

/* A control record's apply (msgpath.h omtp_msg_apply_op). Idempotent: a
 * record whose change the message already shows -- it, or a later record
 * of the same message, was applied (log order is apply order) -- changes
 * nothing, and queues no second notice. */
static int ctrl_apply(omtp_db *db, const omtp_logop *o)
{
    const char *sid = o->sessionId.data;
    omtp_msg_rec orig;
    int rc = omtp_db_msg_get(db, sid, o->seqId, &orig);
    if (rc == OMTP_ENOTFOUND) {
        /* the check found it, and messages are never removed before their
         * control records are applied: only a store changed behind omtpd */
        LOG_WARN("message log: %s/%lld to %s is not stored; record skipped", sid,
                 (long long)o->seqId, ctrl_verb(o->op));
        omtp_msg_rec_free(&orig);
        return 0;
    }
    if (rc != 0) {
        omtp_msg_rec_free(&orig);
        return rc;
    }
    bool applied = o->op == MC_DELETE ? orig.msg.status == MC_DELETE
                   : o->op == MC_REVOKE
                       ? orig.msg.status != 0
                       : orig.msg.status != 0 || ((orig.flags & OMTP_F_OVERRIDE) &&
                                                  tars_str_eq(&orig.msg.content, o->text.data));
    tars_str_list members = {0};
    if (!applied && o->msgType != PT_MSG_GROUP_CHAT) {
        rc = list_add(&members, &orig.msg.to);
        if (rc == 0 && o->msgType != PT_MSG_BIZ_NOTIFY)
            rc = list_add(&members, &orig.msg.from);
        if (rc == 0)
            rc = list_add(&members, &o->user);
    }
    omtp_msg_rec_free(&orig);
    if (rc == 0 && !applied) {
        omtp_MsgControl ctl = {
            .command = o->op,
            .sessionId = o->sessionId,
            .packId = o->packId,
            .seqId = o->seqId,
            .content = o->op == MC_OVERRIDE ? o->text : (tars_str){0},
        };
        rc = ctrl_store(db, &ctl, o->msgType, o->noticeId.data, &members);
    }
    for (uint32_t i = 0; i < members.n; i++)
        tars_str_clear(&members.items[i]);
    free(members.items);
    return rc;
}

/* A read cursor record's apply: the cursor moves forward only, so applying
 * it again changes nothing. A membership row gone since (the user left the
 * group) takes no cursor. */
static int read_apply(omtp_db *db, const omtp_logop *o)
{
    int64_t now;
    int rc = omtp_db_read_set(db, o->user.data, o->sessionId.data, o->seqId, &now);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

int omtp_msg_apply_op(omtp_db *db, uint8_t type, const omtp_logop *o)
{
    switch (type) {
    case OMTP_LOGREC_CTRL:
        return ctrl_apply(db, o);
    case OMTP_LOGREC_READ:
        return read_apply(db, o);
    case OMTP_LOGREC_REACT:
        return omtp_reaction_apply(db, o);
    default:
        return OMTP_EINVAL;
    }
}

/* ----------------------------------------------------------------- read */

typedef struct read_job {
    omtp_server *srv;
    omtp_conn *except; /* the reading device (referenced), or NULL */
    omtp_dom_done_fn done;
    void *arg;
    char user[OMTP_ID_MAX + 1];
    char sid[OMTP_SESSION_ID_MAX];
    int64_t seq; /* in: requested; out: the cursor now */
    bool denied;
    /* the message log's path */
    int64_t cur;                                     /* the cursor before */
    char key[OMTP_ID_MAX + OMTP_SESSION_ID_MAX + 2]; /* user NUL sessionId */
    size_t klen;
    bool locked;
    oplock_waiter lw;
    msgpath_waiter mw;
} read_job;

static void read_job_free(read_job *j)
{
    if (j->locked) {
        j->locked = false;
        if (omtp_msgpath(j->srv)) /* gone at shutdown: its locks with it */
            oplock_release(omtp_msgpath_locks(omtp_msgpath(j->srv)), j->key, j->klen);
    }
    if (j->except)
        omtp_conn_unref(j->except);
    free(j);
}

static int read_work(omtp_db *db, void *arg)
{
    read_job *j = arg;
    bool member = false;
    int rc = omtp_db_session_member(db, j->user, j->sid, &member);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    if (!member) {
        j->denied = true;
        return 0;
    }
    return omtp_db_read_set(db, j->user, j->sid, j->seq, &j->seq);
}

static void read_answer(read_job *j, int status, bool push);
static void read_push(read_job *j);

static void read_done(void *arg, int status)
{
    read_answer(arg, status, true);
}

/* ---- the message log's path: the cursor and the session's last seqId
 * read behind the barrier, the move appended, pushed, answered after the
 * log's sync */

static int read_check_work(omtp_db *db, void *arg)
{
    read_job *j = arg;
    int rc = omtp_db_read_get(db, j->user, j->sid, &j->cur);
    if (rc == OMTP_ENOTFOUND) {
        j->denied = true;
        return 0;
    }
    if (rc != 0)
        return rc;
    int64_t last = 0;
    rc = omtp_db_session_last_seq(db, j->sid, &last);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    /* as read_set: clamped to the session's last seqId, never backwards */
    int64_t want = j->seq < last ? j->seq : last;
    j->seq = want > j->cur ? want : j->cur;
    return 0;
}

static void read_synced(msgpath_waiter *w, int status)
{
    read_job *j = (read_job *)((char *)w - offsetof(read_job, mw));
    read_answer(j, status, false);
}

static void read_checked(void *arg, int status)
{
    read_job *j = arg;
    msgpath *p = omtp_msgpath(j->srv);
    if (status != 0 || j->denied || !p || j->seq <= j->cur) {
        /* nothing to write: refused, failed, or the cursor stays */
        read_answer(j, status ? status : p ? 0 : OMTP_ECLOSED, true);
        return;
    }
    omtp_logop o = {
        .sessionId = {j->sid, (uint32_t)strlen(j->sid)},
        .seqId = j->seq,
        .user = {j->user, (uint32_t)strlen(j->user)},
        .timestamp = omtp_now_ms(),
    };
    uint64_t lsn = 0;
    int rc = omtp_msgpath_append_op(p, OMTP_LOGREC_READ, &o, &lsn);
    j->locked = false;
    oplock_release(omtp_msgpath_locks(p), j->key, j->klen);
    if (rc != 0) {
        char desc[DESC_MAX];
        omtp_dom_result res = {.desc = desc};
        op_append_failed(rc, &res.code, desc, "move the read cursor");
        j->done(j->arg, &res);
        read_job_free(j);
        return;
    }
    read_push(j); /* in the log (handed to the OS) */
    j->mw.synced = read_synced;
    j->mw.lsn = lsn;
    omtp_msgpath_wait(p, &j->mw);
}

static void read_go(oplock_waiter *w)
{
    read_job *j = (read_job *)((char *)w - offsetof(read_job, lw));
    j->locked = true;
    int rc = omtp_store_submit(j->srv->store, read_check_work, read_checked, j);
    if (rc != 0)
        read_checked(j, rc);
}

static int read_log_start(read_job *j, msgpath *p)
{
    size_t u = strlen(j->user), n = strlen(j->sid);
    memcpy(j->key, j->user, u);
    j->key[u] = 0;
    memcpy(j->key + u + 1, j->sid, n);
    j->klen = u + 1 + n;
    j->lw.go = read_go;
    int rc = oplock_take(omtp_msgpath_locks(p), j->key, j->klen, &j->lw);
    if (rc == 1)
        read_go(&j->lw);
    return rc < 0 ? rc : 0;
}

/* The user's other devices move their cursor too. */
static void read_push(read_job *j)
{
    omtp_MsgReaded r = {{j->sid, (uint32_t)strlen(j->sid)}, j->seq};
    omtp_wire *w = omtp_wire_new(PT_MSG_READ, 0, NULL, &omtp_MsgReaded_desc, &r);
    if (w) {
        omtp_push_user(j->srv, j->user, w, j->except);
        omtp_wire_unref(w);
    }
}

static void read_answer(read_job *j, int status, bool push)
{
    char desc[DESC_MAX + OMTP_SESSION_ID_MAX] = "";
    omtp_dom_result res = {.code = OMTP_EC_SUCCESS, .desc = desc};
    if (status != 0) {
        store_failed(status, &res.code, desc, "try again");
    } else if (j->denied) {
        res.code = OMTP_EC_HISTORYMSG_DENY;
        snprintf(desc, sizeof desc, "you are not part of session '%s'", j->sid);
    } else {
        if (push)
            read_push(j);
        res.seq = j->seq;
    }
    j->done(j->arg, &res);
    read_job_free(j);
}

int omtp_dom_read(omtp_server *s, const omtp_dom_caller *who, const char *sid, int64_t seq,
                  omtp_dom_done_fn done, void *arg)
{
    if (!s || !who || !who->user || !done)
        return OMTP_EINVAL;
    size_t n = sid ? strlen(sid) : 0;
    if (n == 0) {
        refuse_now(done, arg, OMTP_EC_PARAM, "MsgReaded.sessionId is missing");
        return 0;
    }
    if (n >= 2 * OMTP_ID_MAX + 8) {
        refuse_now(done, arg, OMTP_EC_PARAM, "MsgReaded.sessionId is too long");
        return 0;
    }
    read_job *j = calloc(1, sizeof *j);
    if (!j)
        return OMTP_ENOMEM;
    j->srv = s;
    j->done = done;
    j->arg = arg;
    j->seq = seq;
    snprintf(j->user, sizeof j->user, "%s", who->user);
    memcpy(j->sid, sid, n + 1);
    if (who->conn) {
        omtp_conn_ref(who->conn);
        j->except = who->conn;
    }
    msgpath *p = omtp_msgpath(s);
    int rc = p ? read_log_start(j, p) : omtp_store_submit(s->store, read_work, read_done, j);
    if (rc != 0)
        read_job_free(j);
    return rc;
}

/* FNV-1a over what makes a message that message: type, recipient, content
 * type and content (a 64-bit fingerprint; collisions only weaken the guard). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t omtp_chat_fingerprint(const omtp_msg_rec *m)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int32_t t = m->type, ct = m->msg.contentType;
    h = fnv(h, &t, sizeof t);
    h = fnv(h, m->msg.to.data, m->msg.to.len + 1);
    h = fnv(h, &ct, sizeof ct);
    return fnv(h, m->msg.content.data, m->msg.content.len);
}

bool omtp_chat_same_message(uint64_t requestPrint, const omtp_msg_rec *original,
                            uint64_t originalPrint)
{
    if ((original->flags & (OMTP_F_REVOKE | OMTP_F_OVERRIDE)) || original->msg.status != 0)
        return true; /* content changed since: a resend cannot be told apart */
    return requestPrint == originalPrint;
}
