/*
 * ext.c - the OMTP adapter of the extensions presence, typing and group
 * read receipts (spec/omtp-ext.tars): PT_PRESENCE_SUB (100), PT_TYPING
 * (102), PT_MSG_READERS (105). The rules are the domain's
 * (domain/presence.h, domain/typing.h, domain/readers.h); this file decodes
 * and answers.
 *
 * Threading: loop thread.
 */
#include <string.h>

#include "domain/presence.h"
#include "domain/readers.h"
#include "domain/typing.h"
#include "handlers.h"

static omtp_dom_caller caller_of(omtp_req *req)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    return c;
}

/* ------------------------------------------------------------ presence */

static void presence_answered(void *arg, const omtp_dom_outcome *res, omtp_PresenceInfo_list *users)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_server *s = req->conn->srv;
    omtp_PresenceSubResp r;
    omtp_msg_init(&omtp_PresenceSubResp_desc, &r);
    size_t used = 0;
    /* a small max_frame may not hold 1,000 states: the rest stay subscribed
     * and are told at their next change (docs/protocol.md) */
    uint32_t k = users->n ? omtp_fit_structs(&omtp_PresenceInfo_desc, users->items, users->n, &used,
                                             omtp_reply_budget(s->cfg))
                          : 0;
    if (k < users->n)
        s->metrics.replies_paged++;
    r.users.items = users->items; /* borrowed for the encode */
    r.users.n = k;
    omtp_reply(req, &omtp_PresenceSubResp_desc, &r);
}

void handle_presence_sub(omtp_req *req)
{
    const omtp_PresenceSubReq *q = req->body; /* NULL (empty payload): no subscription */
    omtp_dom_caller who = caller_of(req);
    omtp_dom_presence_sub(req->conn->srv, &who, q ? &q->userIds : NULL, presence_answered, req);
}

/* -------------------------------------------------------------- typing */

static void typing_answered(void *arg, const omtp_dom_outcome *res)
{
    omtp_req *req = arg;
    if (res->code)
        omtp_reply_code(req, res->code, "%s", res->desc);
    else
        omtp_req_free(req); /* success answers nothing (omtp-ext.tars) */
}

void handle_typing(omtp_req *req)
{
    const omtp_TypingReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no TypingReq payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_typing(req->conn->srv, &who, q->sessionId.data ? q->sessionId.data : "", q->state,
                    typing_answered, req);
}

/* ------------------------------------------------------------- readers */

static void readers_answered(void *arg, const omtp_dom_outcome *res, tars_str_list *readers,
                             tars_str_list *unread)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_MsgReadersResp r;
    omtp_msg_init(&omtp_MsgReadersResp_desc, &r);
    /* borrowed for the encode; at most 500 ids (~66 KiB with the longest
     * ids): a max_frame below that answers as any reply too big does */
    r.readers = *readers;
    r.unread = *unread;
    omtp_reply(req, &omtp_MsgReadersResp_desc, &r);
}

void handle_msg_readers(omtp_req *req)
{
    const omtp_MsgReadersReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no MsgReadersReq payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_readers(req->conn->srv, &who, q->sessionId.data ? q->sessionId.data : "", q->seqId,
                     readers_answered, req);
}
