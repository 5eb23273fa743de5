/*
 * sync.c - the pull side of delivery: hot sessions, history, the
 * high-priority queue, and the client's answer to sync-data commands.
 *
 * Pushes are best effort; these requests are how a client that was offline
 * or lost a push catches up. Each is one store round trip; the reply is
 * built on the loop from the records the store returns (strings are moved,
 * not copied).
 *
 * Every reply fits one frame (docs/protocol.md, "Replies larger than a
 * frame"): the store work reads records in chunks of PULL_CHUNK and stops
 * taking them once their size bound (replyfit.c) would pass the reply
 * budget, so a page of 200 large messages is never read whole only to be
 * thrown away. The reply's own cursor says where to continue; one record
 * always fits (field limits and max_content guarantee it), so paging
 * always progresses.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - Hot sessions: at most cfg->hot_page per reply, oldest change first; the
 *    reply's timestamp is the cursor to ask with next (the change time of
 *    the last session returned, or the request's cursor when nothing
 *    changed). An empty page means caught up.
 *  - History: count <= 0 or > 200 means 200. A session the user is not part
 *    of (and does not monitor) -> HISTORYMSG_DENY; a session that holds no
 *    message yet and whose id names the user returns an empty list.
 *    Revoked messages come back with status 1, the REVOKE flag and empty
 *    content; edited ones with the OVERRIDE flag and the new content.
 *  - High priority: entries after seqId, count <= 0 or > 200 means 200;
 *    lastSeqId is the seq of the last entry returned (ask again with it),
 *    or when none is returned the newest seq of the queue (0 if empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/msg.h"
#include "domain/reaction.h"
#include "handlers.h"
#include "monitor.h"
#include "sync.h"

#define PULL_MAX   200
#define PULL_CHUNK 50

/* Moves part->items[0..take) to the end of out (room for them is there) and
 * frees the rest of part. */
#define MOVE_TAKEN(out, part, take, free_one)                                                      \
    do {                                                                                           \
        for (uint32_t k_ = (take); k_ < (part)->n; k_++)                                           \
            free_one(&(part)->items[k_]);                                                          \
        if ((take) > 0)                                                                            \
            memcpy(&(out)->items[(out)->n], (part)->items, (take) * sizeof(*(part)->items));       \
        (out)->n += (take);                                                                        \
        free((part)->items);                                                                       \
        (part)->items = NULL;                                                                      \
        (part)->n = 0;                                                                             \
    } while (0)

static void hot_rec_free(omtp_hot_rec *h)
{
    tars_str_clear(&h->sessionId);
    tars_str_clear(&h->attribute);
    omtp_msg_rec_free(&h->last);
}

static void hp_rec_free(omtp_hp_rec *r)
{
    tars_free(&omtp_OTIMPack_desc, &r->pack);
}

static void str_swap(tars_str *a, tars_str *b)
{
    tars_str t = *a;
    *a = *b;
    *b = t;
}

static int pull_count(int32_t count)
{
    return count <= 0 || count > PULL_MAX ? PULL_MAX : count;
}

/* Appends the pack of m to a list of OTIMPacks (n preallocated slots). */
static int pack_list_add(omtp_OTIMPack_list *l, const omtp_msg_rec *m)
{
    omtp_OTIMPack *p = &l->items[l->n];
    omtp_msg_init(&omtp_OTIMPack_desc, p);
    l->n++; /* counted first so that it is freed on failure */
    return omtp_chat_msg_pack(m, p);
}

int omtp_sync_hot_rec_init(omtp_hot_rec *r, const char *sessionId)
{
    memset(r, 0, sizeof *r);
    omtp_msg_rec_init(&r->last);
    int a = tars_str_set(&r->sessionId, sessionId);
    int b = tars_str_set(&r->attribute, "{}");
    return a == 0 && b == 0 ? 0 : OMTP_ENOMEM;
}

int omtp_sync_hot_resp_build(omtp_hot_rec_list *recs, omtp_HotSessionResp *out)
{
    omtp_HotSessionItem_list *l = &out->sessions;
    if (recs->n == 0)
        return 0;
    l->items = calloc(recs->n, sizeof *l->items);
    if (!l->items)
        return OMTP_ENOMEM;
    for (uint32_t i = 0; i < recs->n; i++) {
        omtp_hot_rec *r = &recs->items[i];
        omtp_HotSessionItem *it = &l->items[i];
        omtp_msg_init(&omtp_HotSessionItem_desc, it);
        l->n++;
        str_swap(&it->sessionId, &r->sessionId);
        str_swap(&it->attribute, &r->attribute);
        if (it->attribute.len == 0 && tars_str_set(&it->attribute, "{}") != 0)
            return OMTP_ENOMEM;
        it->readSeqId = r->readSeqId;
        it->mentionSeqId = r->mentionSeqId;
        it->unreadCount = r->unreadCount < 0 ? 0 : r->unreadCount;
        if (r->hasLast) {
            it->lastMsgs.items = calloc(1, sizeof *it->lastMsgs.items);
            if (!it->lastMsgs.items)
                return OMTP_ENOMEM;
            if (pack_list_add(&it->lastMsgs, &r->last) != 0)
                return OMTP_ENOMEM;
        }
    }
    return 0;
}

/* ---------------------------------------------------------- hot sessions */

typedef struct hot_job {
    omtp_req *req;
    char user[OMTP_ID_MAX + 1];
    int64_t since;
    int limit;
    size_t budget;
    bool paged; /* stopped by the budget */
    omtp_hot_rec_list out;
} hot_job;

static int hot_work(omtp_db *db, void *arg)
{
    hot_job *j = arg;
    j->out.items = calloc((size_t)j->limit, sizeof *j->out.items);
    if (!j->out.items)
        return OMTP_ENOMEM;
    int64_t since = j->since;
    size_t used = 0;
    while ((int)j->out.n < j->limit && !j->paged) {
        int want = j->limit - (int)j->out.n;
        int chunk = want < PULL_CHUNK ? want : PULL_CHUNK;
        omtp_hot_rec_list part = {0};
        int rc = omtp_db_hot_sessions(db, j->user, since, chunk, &part);
        if (rc) {
            omtp_hot_rec_list_free(&part);
            return rc;
        }
        /* extensions: the last message's reactions, the newest unread mention */
        for (uint32_t k = 0; k < part.n && rc == 0; k++) {
            omtp_hot_rec *h = &part.items[k];
            if (h->hasLast)
                rc = omtp_reactions_attach(db, &h->last, 1);
            if (rc == 0)
                rc = omtp_db_mention_seq(db, j->user, h->sessionId.data, &h->mentionSeqId);
        }
        if (rc) {
            omtp_hot_rec_list_free(&part);
            return rc;
        }
        uint32_t take = 0;
        while (take < part.n) {
            if (part.items[take].hasLast)
                omtp_msg_rec_shrink(&part.items[take].last, j->budget);
            size_t b = omtp_hot_rec_bound(&part.items[take]);
            if (used + b > j->budget && (j->out.n + take) > 0) {
                j->paged = true;
                break;
            }
            used += b;
            take++;
        }
        bool end = (int)part.n < chunk;
        if (take)
            since = part.items[take - 1].changedUs;
        MOVE_TAKEN(&j->out, &part, take, hot_rec_free);
        if (end)
            break;
    }
    return 0;
}

static void hot_done(void *arg, int status)
{
    hot_job *j = arg;
    if (status != 0) {
        omtp_reply_code(j->req, OMTP_EC_DB_ERROR, "storage failed (%s); try again",
                        omtp_strerror(status));
    } else {
        omtp_HotSessionResp resp;
        omtp_msg_init(&omtp_HotSessionResp_desc, &resp);
        resp.code = OMTP_EC_SUCCESS;
        resp.timestamp = j->out.n ? j->out.items[j->out.n - 1].changedUs : j->since;
        if (resp.timestamp < j->since)
            resp.timestamp = j->since;
        if (j->paged)
            j->req->conn->srv->metrics.replies_paged++;
        if (omtp_sync_hot_resp_build(&j->out, &resp) != 0)
            omtp_reply_code(j->req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        else
            omtp_reply(j->req, &omtp_HotSessionResp_desc, &resp);
        omtp_msg_free(&omtp_HotSessionResp_desc, &resp);
    }
    omtp_hot_rec_list_free(&j->out);
    free(j);
}

void handle_hot_session_sync(omtp_req *req)
{
    omtp_server *s = req->conn->srv;
    const omtp_HotSessionReq *in = req->body;
    hot_job *j = calloc(1, sizeof *j);
    if (!j) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    j->req = req;
    j->since = in && in->timestamp > 0 ? in->timestamp : 0;
    j->limit = s->cfg->hot_page ? (int)s->cfg->hot_page : 100;
    if (j->limit > 1000) /* the store's own cap (docs/storage.md) */
        j->limit = 1000;
    j->budget = omtp_reply_budget(s->cfg);
    snprintf(j->user, sizeof j->user, "%s", req->conn->userId);
    int rc = omtp_store_submit(s->store, hot_work, hot_done, j);
    if (rc != 0) {
        free(j);
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
    }
}

/* --------------------------------------------------------------- history */

typedef struct hist_job {
    omtp_req *req;
    char user[OMTP_ID_MAX + 1];
    char sid[2 * OMTP_ID_MAX + 8];
    int64_t maxSeq;
    int count;
    size_t budget;
    bool monitoring;
    bool denied;
    bool paged; /* stopped by the budget */
    omtp_msg_rec_list out;
} hist_job;

/* Reads newest first in chunks, taking messages while they fit the budget. */
static int hist_read(omtp_db *db, hist_job *j)
{
    j->out.items = calloc((size_t)j->count, sizeof *j->out.items);
    if (!j->out.items)
        return OMTP_ENOMEM;
    int64_t at = j->maxSeq;
    size_t used = 0;
    while ((int)j->out.n < j->count && !j->paged) {
        int want = j->count - (int)j->out.n;
        int chunk = want < PULL_CHUNK ? want : PULL_CHUNK;
        omtp_msg_rec_list part = {0};
        int rc = omtp_db_msg_history(db, j->sid, at, chunk, &part);
        if (rc == 0) /* extensions: each message's reactions */
            rc = omtp_reactions_attach(db, part.items, part.n);
        if (rc) {
            omtp_msg_rec_list_free(&part);
            return rc;
        }
        uint32_t take = 0;
        while (take < part.n) {
            omtp_msg_rec_shrink(&part.items[take], j->budget);
            size_t b = omtp_msg_rec_bound(&part.items[take]);
            if (used + b > j->budget && (j->out.n + take) > 0) {
                j->paged = true;
                break;
            }
            used += b;
            take++;
        }
        bool end = (int)part.n < chunk;
        if (part.n)
            at = part.items[part.n - 1].msg.seqId - 1;
        MOVE_TAKEN(&j->out, &part, take, omtp_msg_rec_free);
        if (end || at <= 0)
            break;
    }
    return 0;
}

static int hist_work(omtp_db *db, void *arg)
{
    hist_job *j = arg;
    if (!j->monitoring) {
        bool allowed = false;
        int rc = omtp_chat_session_access(db, j->user, j->sid, &allowed);
        if (rc != 0)
            return rc;
        if (!allowed) {
            j->denied = true;
            return 0;
        }
    }
    int rc = hist_read(db, j);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static void hist_done(void *arg, int status)
{
    hist_job *j = arg;
    if (status != 0) {
        omtp_reply_code(j->req, OMTP_EC_DB_ERROR, "storage failed (%s); try again",
                        omtp_strerror(status));
    } else if (j->denied) {
        omtp_reply_code(j->req, OMTP_EC_HISTORYMSG_DENY,
                        "you are not part of session '%s' (and do not monitor it)", j->sid);
    } else {
        omtp_HistoryMsgPullResp resp;
        omtp_msg_init(&omtp_HistoryMsgPullResp_desc, &resp);
        int rc = tars_str_set(&resp.sessionId, j->sid);
        if (rc == 0 && j->out.n) {
            resp.msgs.items = calloc(j->out.n, sizeof *resp.msgs.items);
            rc = resp.msgs.items ? 0 : OMTP_ENOMEM;
            for (uint32_t i = 0; i < j->out.n && rc == 0; i++)
                rc = pack_list_add(&resp.msgs, &j->out.items[i]);
        }
        if (j->paged)
            j->req->conn->srv->metrics.replies_paged++;
        if (rc != 0)
            omtp_reply_code(j->req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        else
            omtp_reply(j->req, &omtp_HistoryMsgPullResp_desc, &resp);
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &resp);
    }
    omtp_msg_rec_list_free(&j->out);
    free(j);
}

void handle_history_pull(omtp_req *req)
{
    omtp_server *s = req->conn->srv;
    const omtp_HistoryMsgPullReq *in = req->body;
    if (!in || in->sessionId.len == 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "HistoryMsgPullReq.sessionId is missing");
        return;
    }
    if (in->sessionId.len >= 2 * OMTP_ID_MAX + 8) {
        omtp_reply_code(req, OMTP_EC_PARAM, "HistoryMsgPullReq.sessionId is too long");
        return;
    }
    hist_job *j = calloc(1, sizeof *j);
    if (!j) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    j->req = req;
    j->maxSeq = in->seqId;
    j->count = pull_count(in->count);
    j->budget = omtp_reply_budget(s->cfg) - in->sessionId.len;
    j->monitoring = omtp_monitor_watching(req->conn, in->sessionId.data);
    snprintf(j->user, sizeof j->user, "%s", req->conn->userId);
    memcpy(j->sid, in->sessionId.data, in->sessionId.len + 1);
    int rc = omtp_store_submit(s->store, hist_work, hist_done, j);
    if (rc != 0) {
        free(j);
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
    }
}

/* --------------------------------------------------------- high priority */

typedef struct hp_job {
    omtp_req *req;
    char user[OMTP_ID_MAX + 1];
    int64_t after;
    int count;
    size_t budget;
    bool paged; /* stopped by the budget */
    int64_t last;
    omtp_hp_rec_list out;
} hp_job;

static int hp_work(omtp_db *db, void *arg)
{
    hp_job *j = arg;
    j->out.items = calloc((size_t)j->count, sizeof *j->out.items);
    if (!j->out.items)
        return OMTP_ENOMEM;
    int64_t after = j->after;
    size_t used = 0;
    while ((int)j->out.n < j->count && !j->paged) {
        int want = j->count - (int)j->out.n;
        int chunk = want < PULL_CHUNK ? want : PULL_CHUNK;
        omtp_hp_rec_list part = {0};
        int64_t last = 0;
        int rc = omtp_db_hp_list(db, j->user, after, chunk, &part, &last);
        /* extensions: a queued chat message carries its reactions as of now */
        for (uint32_t k = 0; rc == 0 && k < part.n; k++)
            rc = omtp_reactions_attach_pack(db, &part.items[k].pack);
        if (rc) {
            omtp_hp_rec_list_free(&part);
            return rc;
        }
        if (j->out.n == 0)
            j->last = last; /* the queue's head when nothing is returned */
        uint32_t take = 0;
        while (take < part.n) {
            omtp_hp_rec_shrink(&part.items[take], j->budget);
            size_t b = omtp_hp_rec_bound(&part.items[take]);
            if (used + b > j->budget && (j->out.n + take) > 0) {
                j->paged = true;
                break;
            }
            used += b;
            take++;
        }
        bool end = (int)part.n < chunk;
        if (part.n)
            after = part.items[part.n - 1].seq;
        MOVE_TAKEN(&j->out, &part, take, hp_rec_free);
        if (end)
            break;
    }
    return 0;
}

static void hp_done(void *arg, int status)
{
    hp_job *j = arg;
    if (status != 0) {
        omtp_reply_code(j->req, OMTP_EC_DB_ERROR, "storage failed (%s); try again",
                        omtp_strerror(status));
    } else {
        omtp_MsgHighPrioritySyncResp resp;
        omtp_msg_init(&omtp_MsgHighPrioritySyncResp_desc, &resp);
        resp.code = OMTP_EC_SUCCESS;
        resp.lastSeqId = j->out.n ? j->out.items[j->out.n - 1].seq : j->last;
        if (j->paged)
            j->req->conn->srv->metrics.replies_paged++;
        if (j->out.n) {
            /* move the packs: the records' OTIMPacks are what goes out */
            resp.msgs.items = calloc(j->out.n, sizeof *resp.msgs.items);
            if (!resp.msgs.items) {
                omtp_reply_code(j->req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
                goto out;
            }
            for (uint32_t i = 0; i < j->out.n; i++) {
                omtp_msg_init(&omtp_OTIMPack_desc, &resp.msgs.items[i]);
                omtp_OTIMPack t = resp.msgs.items[i];
                resp.msgs.items[i] = j->out.items[i].pack;
                j->out.items[i].pack = t;
            }
            resp.msgs.n = j->out.n;
        }
        omtp_reply(j->req, &omtp_MsgHighPrioritySyncResp_desc, &resp);
    out:
        omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &resp);
    }
    omtp_hp_rec_list_free(&j->out);
    free(j);
}

void handle_high_prior_sync(omtp_req *req)
{
    omtp_server *s = req->conn->srv;
    const omtp_MsgHighPrioritySyncReq *in = req->body;
    hp_job *j = calloc(1, sizeof *j);
    if (!j) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    j->req = req;
    j->after = in && in->seqId > 0 ? in->seqId : 0;
    j->count = pull_count(in ? in->count : 0);
    j->budget = omtp_reply_budget(s->cfg);
    snprintf(j->user, sizeof j->user, "%s", req->conn->userId);
    int rc = omtp_store_submit(s->store, hp_work, hp_done, j);
    if (rc != 0) {
        free(j);
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
    }
}

/* ------------------------------------------------------------- sync data */

void handle_sync_data_ack(omtp_req *req)
{
    /* the client's acknowledgement of a PT_SYNC_DATA_CMD push: nothing to do */
    omtp_req_free(req);
}
