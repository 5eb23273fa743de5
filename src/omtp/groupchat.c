/*
 * groupchat.c - PT_MSG_GROUP_CHAT (15): a message to every member of a group.
 *
 * One message, one seqId, one row: the store appends it to the group's
 * session (sessionId = groupId) and every member's unread count and hot
 * session come from their membership rows, not from per-member copies. The
 * work item checks, in the same transaction as the append, that the group
 * exists (not dismissed) and that the sender is a member, so a message
 * cannot slip in after a QUIT or DISMISS committed.
 *
 * Once the append is committed the message is encoded once and pushed to
 * every online device of every member except the sending device (the
 * sender's other devices included), sliced for large groups (group.h); the
 * sender is acked once the commit is durable (store.h, omtp_store_submit2).
 * The member list comes from the in-memory cache; when the group is not
 * cached the work item fetches it on the store thread, so the loop never
 * waits for it. A HIGHPRJ message is also queued in the group's
 * high-priority queue: one row, whatever the group's size (store.h).
 *
 * Dedup: a (sender, packId) already stored is answered with the original
 * MsgAck and neither stored nor pushed again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "domain/group_state.h"
#include "handlers.h"
#include "core/idlist.h"
#include "hooks/webhook.h"

typedef struct gchat {
    omtp_req *req;
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1];
    char groupId[OMTP_ID_MAX + 1];
    omtp_msg_rec rec;
    bool dup;
    omtp_members *cached; /* snapshot taken at submit, or NULL */
    tars_str_list fetched;
    bool didFetch;
    uint64_t epoch;
    int ec;
    char desc[256];
} gchat;

static void gchat_free(gchat *c)
{
    omtp_msg_rec_free(&c->rec);
    omtp_members_unref(c->cached);
    omtp_ids_free(&c->fetched);
    free(c);
}

static void gchat_fail(gchat *c, int ec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gchat_fail(gchat *c, int ec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->desc, sizeof(c->desc), fmt, ap);
    va_end(ap);
    c->ec = ec;
}

/* Store thread: queue the stored message for every other member: ONE row
 * in the group's high-priority queue, whatever the group's size (store.h,
 * hp_group_append; each member's view is derived at sync time). */
static int queue_high_prior(omtp_db *db, gchat *c)
{
    omtp_OTIMPack pack;
    omtp_msg_init(&omtp_OTIMPack_desc, &pack);
    int64_t seq = 0;
    int rc = omtp_chat_msg_pack(&c->rec, &pack);
    if (rc == 0)
        rc = omtp_db_hp_group_append(db, c->groupId, c->userId, &pack, &seq);
    omtp_msg_free(&omtp_OTIMPack_desc, &pack);
    return rc;
}

static int gchat_work(omtp_db *db, void *arg)
{
    gchat *c = arg;
    omtp_GroupChatInfo info;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &info);
    bool dismissed = false;
    int rc = omtp_db_group_get(db, c->groupId, &info, &dismissed);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &info);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed)) {
        gchat_fail(c, OMTP_EC_GROUP_NOT_EXIST, "group %s does not exist%s", c->groupId,
                   dismissed ? " (dismissed)" : "");
        return 0;
    }
    if (rc)
        return rc;
    bool member = false;
    rc = omtp_db_group_is_member(db, c->groupId, c->userId, &member);
    if (rc)
        return rc;
    if (!member) {
        gchat_fail(c, OMTP_EC_GROUP_NO_PRIVILEGE, "%s is not a member of %s", c->userId,
                   c->groupId);
        return 0;
    }
    uint64_t print = omtp_chat_fingerprint(&c->rec);
    rc = omtp_db_msg_append(db, &c->rec, &c->dup);
    if (rc)
        return rc;
    if (c->dup) {
        if (!omtp_chat_same_message(print, &c->rec, omtp_chat_fingerprint(&c->rec)))
            gchat_fail(c, OMTP_EC_MSG_REPEATED,
                       "packId %s was already used by %s for a different message (seqId %lld); "
                       "send it with a fresh packId",
                       c->rec.packId.data, c->rec.msg.from.data, (long long)c->rec.msg.seqId);
        return 0;
    }
    if (!c->cached) {
        rc = omtp_db_group_members(db, c->groupId, &c->fetched);
        if (rc)
            return rc;
        omtp_ids_sort(&c->fetched);
        c->didFetch = true;
    }
    if (c->rec.flags & OMTP_F_HIGHPRJ)
        rc = queue_high_prior(db, c);
    return rc;
}

/* Committed (store.h, omtp_store_submit2): fan the message out. The
 * sender's MsgAck waits for gchat_done, i.e. for durability. */
static void gchat_stored(void *arg, int status)
{
    gchat *c = arg;
    omtp_server *s = c->srv;
    if (status != 0 || c->ec || c->dup)
        return;
    omtp_members *m = c->cached;
    if (!m && c->didFetch) {
        m = omtp_members_new(&c->fetched);
        if (m)
            omtp_group_cache_put(s, c->groupId, m, c->epoch);
    } else if (m) {
        c->cached = NULL; /* reference moves to m */
    }
    if (m) {
        omtp_fanout_msg(s, &c->rec, m, c->req->conn);
        /* offline push webhook (webhook.h): members without a foreground device */
        omtp_webhook_offline_push(s, &c->rec, &m->ids);
        omtp_members_unref(m);
    }
}

static void gchat_done(void *arg, int status)
{
    gchat *c = arg;
    omtp_req *req = c->req;
    omtp_server *s = c->srv;
    if (c->ec) {
        omtp_reply_code(req, c->ec, "%s", c->desc);
        gchat_free(c);
        return;
    }
    if (status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("group message %s from %s not stored: %s", c->groupId, c->userId,
                      omtp_strerror(status));
        omtp_reply_code(req, status == OMTP_EDB ? OMTP_EC_SERVICE_UNAVAILABLE : OMTP_EC_DB_ERROR,
                        "storage failed (%s), the message was not sent; send it again",
                        omtp_strerror(status));
        gchat_free(c);
        return;
    }
    omtp_MsgAck ack;
    omtp_msg_init(&omtp_MsgAck_desc, &ack);
    ack.code = OMTP_EC_SUCCESS;
    ack.sessionId = c->rec.msg.sessionId; /* borrowed for the encode */
    ack.seqId = c->rec.msg.seqId;
    ack.timestamp = c->rec.msg.timestamp;
    omtp_reply(req, &omtp_MsgAck_desc, &ack);
    if (c->dup)
        s->metrics.msgs_dup++;
    else
        s->metrics.msgs_stored++;
    gchat_free(c);
}

/* Queues a validated group message on the store. */
static void gchat_submit(gchat *c)
{
    c->cached = omtp_group_cache_get(c->srv, c->groupId);
    c->epoch = omtp_group_cache_epoch(c->srv);
    int rc = omtp_store_submit2(c->srv->store, gchat_work, gchat_stored, gchat_done, c);
    if (rc) {
        omtp_reply_code(c->req, OMTP_EC_SERVICE_UNAVAILABLE, "store unavailable: %s",
                        omtp_strerror(rc));
        gchat_free(c);
    }
}

/* The before-send webhook's verdict: store, or refuse with its code. */
static void gchat_checked(void *arg, int code, const char *desc)
{
    gchat *c = arg;
    if (code != OMTP_EC_SUCCESS) {
        omtp_reply_code(c->req, code, "%s", desc);
        gchat_free(c);
        return;
    }
    gchat_submit(c);
}

void handle_group_chat(omtp_req *req)
{
    const omtp_MsgReq *q = req->body;
    omtp_conn *conn = req->conn;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "the request has no MsgReq payload");
        return;
    }
    if (q->from.len && strcmp(q->from.data, conn->userId) != 0) {
        omtp_reply_code(req, OMTP_EC_MSG_FORBIDDEN, "from %s is not the logged-in user %s",
                        q->from.data, conn->userId);
        return;
    }
    const tars_str *gid = q->to.len ? &q->to : &q->sessionId;
    if (gid->len == 0) {
        omtp_reply_code(req, OMTP_EC_GROUP_ID_EMPTY, "to (the group id) is empty");
        return;
    }
    if (q->to.len && q->sessionId.len && strcmp(q->to.data, q->sessionId.data) != 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "sessionId %s and to %s name different groups",
                        q->sessionId.data, q->to.data);
        return;
    }
    if (gid->len > OMTP_ID_MAX) {
        omtp_reply_code(req, OMTP_EC_PARAM, "group id is longer than %d bytes", OMTP_ID_MAX);
        return;
    }
    uint32_t max =
        conn->srv->cfg && conn->srv->cfg->max_content ? conn->srv->cfg->max_content : 64 * 1024;
    if (q->content.len == 0) {
        omtp_reply_code(req, OMTP_EC_MSG_TOO_SHORT, "content is empty");
        return;
    }
    if (q->content.len > max) {
        omtp_reply_code(req, OMTP_EC_MSG_TOO_LONG, "content is %u bytes, the limit is %u",
                        q->content.len, max);
        return;
    }
    gchat *c = calloc(1, sizeof(*c));
    if (!c) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    c->req = req;
    c->srv = conn->srv;
    snprintf(c->userId, sizeof(c->userId), "%s", conn->userId);
    memcpy(c->groupId, gid->data, gid->len + 1);
    omtp_msg_rec_init(&c->rec);
    c->rec.type = PT_MSG_GROUP_CHAT;
    c->rec.flags = req->flags & (OMTP_F_HIGHPRJ | OMTP_F_COUNTER);
    omtp_MsgReq *m = &c->rec.msg;
    if (tars_str_set(&c->rec.packId, req->packId) || tars_str_set(&m->sessionId, c->groupId) ||
        tars_str_set(&m->from, c->userId) || tars_str_set(&m->to, c->groupId) ||
        tars_str_setn(&m->pushInfo, q->pushInfo.data, q->pushInfo.len) ||
        tars_str_setn(&m->content, q->content.data, q->content.len)) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        gchat_free(c);
        return;
    }
    m->contentType = q->contentType;
    /* before-send webhook (webhook.h): the business backend may refuse the
     * message before it is stored; gchat_checked() continues */
    if (omtp_webhook_before_send(c->srv, &c->rec, gchat_checked, c))
        return;
    gchat_submit(c);
}
