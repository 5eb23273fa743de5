/*
 * search.c - the OMTP adapter of domain/search.h: PT_MSG_SEARCH (104,
 * spec/omtp-ext.tars). Decodes MsgSearchReq, asks the domain, answers
 * MsgSearchResp with the messages as history returns them (OTIMPacks,
 * newest first), as many as fit one reply (docs/protocol.md "Replies larger
 * than a frame"); the client pages on with the last one's timestamp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/msg.h"
#include "domain/search.h"
#include "handlers.h"

static void searched(void *arg, const omtp_dom_outcome *res, omtp_msg_rec_list *out)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_server *s = req->conn->srv;
    size_t budget = omtp_reply_budget(s->cfg), used = 0;
    omtp_MsgSearchResp resp;
    omtp_msg_init(&omtp_MsgSearchResp_desc, &resp);
    int rc = 0;
    if (out->n) {
        resp.msgs.items = calloc(out->n, sizeof(*resp.msgs.items));
        rc = resp.msgs.items ? 0 : OMTP_ENOMEM;
    }
    for (uint32_t i = 0; i < out->n && rc == 0; i++) {
        omtp_msg_rec_shrink(&out->items[i], budget);
        size_t b = omtp_msg_rec_bound(&out->items[i]);
        if (used + b > budget && i > 0) {
            s->metrics.replies_paged++;
            break;
        }
        used += b;
        omtp_OTIMPack *p = &resp.msgs.items[resp.msgs.n];
        omtp_msg_init(&omtp_OTIMPack_desc, p);
        resp.msgs.n++;
        rc = omtp_chat_msg_pack(&out->items[i], p);
    }
    if (rc)
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
    else
        omtp_reply(req, &omtp_MsgSearchResp_desc, &resp);
    omtp_msg_free(&omtp_MsgSearchResp_desc, &resp);
}

void handle_msg_search(omtp_req *req)
{
    const omtp_MsgSearchReq *in = req->body;
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    omtp_dom_search_req q = {
        .query = in->query.data,
        .queryLen = in->query.len,
        .sessionId = in->sessionId.data,
        .beforeMs = in->beforeTimestamp,
        .count = in->count,
    };
    omtp_dom_search(req->conn->srv, &who, &q, searched, req);
}
