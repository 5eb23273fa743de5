/*
 * friend.c - PT_FRIEND_ADD (51), PT_FRIEND_DEL (52), PT_FRIEND_SYNC (53):
 * OMTP adapters of domain/friend.h (the rules, the store work and the
 * sync-data pushes are there), acting as the logged-in user.
 *
 * The sync reply carries no cursor: the client keeps the time it sent the
 * request (server clock skew aside, re-asking from a slightly earlier time
 * is harmless). The list is paged to fit a frame: friendId order; a
 * non-empty `next` means more, asked with the same timestamp and `after` =
 * next.
 */
#include <stdlib.h>
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

static int cmp_friend(const void *a, const void *b)
{
    return strcmp(((const omtp_FriendInfo *)a)->friendId.data,
                  ((const omtp_FriendInfo *)b)->friendId.data);
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
    if (out->changed) {
        /* one page in friendId order after the cursor (protocol.md 7.2) */
        const omtp_FriendSyncReq *q = req->body;
        const char *after = q->after.len ? q->after.data : "";
        omtp_FriendInfo_list *l = &out->friends;
        if (l->n > 1)
            qsort(l->items, l->n, sizeof *l->items, cmp_friend);
        uint32_t lo = 0;
        while (lo < l->n && strcmp(l->items[lo].friendId.data, after) <= 0)
            lo++;
        size_t used = 0;
        omtp_server *s = req->conn->srv;
        uint32_t k = lo >= l->n ? 0
                                : omtp_fit_structs(&omtp_FriendInfo_desc, l->items + lo, l->n - lo,
                                                   &used, omtp_reply_budget(s->cfg));
        r.friends.items = k ? l->items + lo : NULL; /* borrowed for the encode */
        r.friends.n = k;
        if (lo + k < l->n) {
            tars_str_set(&r.next, l->items[lo + k - 1].friendId.data);
            s->metrics.replies_paged++;
        }
    }
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
