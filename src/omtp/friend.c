/*
 * friend.c - PT_FRIEND_ADD (51), PT_FRIEND_DEL (52), PT_FRIEND_SYNC (53):
 * OMTP adapters of domain/friend.h (the rules, the store work and the
 * sync-data pushes are there), acting as the logged-in user.
 *
 * The sync reply carries no cursor: the client keeps the time it sent the
 * request (server clock skew aside, re-asking from a slightly earlier time
 * is harmless).
 */
#include <string.h>

#include "domain/friend.h"
#include "handlers.h"

static omtp_dom_caller caller_of(omtp_req *req)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    return c;
}

static void changed(void *arg, const omtp_dom_outcome *res, omtp_dom_friend_out *out)
{
    (void)out;
    omtp_reply_code(arg, res->code, "%s", res->desc);
}

static void synced(void *arg, const omtp_dom_outcome *res, omtp_dom_friend_out *out)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_FriendSyncResp r;
    omtp_msg_init(&omtp_FriendSyncResp_desc, &r);
    if (out->changed)
        r.friends = out->friends; /* borrowed for the encode */
    omtp_reply(req, &omtp_FriendSyncResp_desc, &r);
    memset(&r.friends, 0, sizeof(r.friends));
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
}

void handle_friend_add(omtp_req *req)
{
    const omtp_FriendAddReq *q = req->body;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_friend_add(req->conn->srv, &who, q ? &q->friends : NULL, changed, req);
}

void handle_friend_del(omtp_req *req)
{
    const omtp_FriendDelReq *q = req->body;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_friend_del(req->conn->srv, &who, q ? &q->friends : NULL, changed, req);
}

void handle_friend_sync(omtp_req *req)
{
    const omtp_FriendSyncReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_friend_sync(req->conn->srv, &who, q->timestamp, synced, req);
}
