/*
 * group.c - OMTP adapters for group administration: PT_GROUPCHAT_SYNC,
 * CREATE, JION, QUIT, DISMISS, UPDATE_CREATOR, INFO_UPDATE, MEMBERS_GET
 * (types 40-47). Each handler decodes the request, calls the operation of
 * domain/group.h as the logged-in user (OMTP_DOM_USER, its connection) and
 * encodes the answer; the rules, the store work, the member cache, the
 * cluster notice and the sync-data pushes are the domain's.
 *
 * What is OMTP-only stays here: operatorId must be the logged-in user
 * ("" means the logged-in user).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"
#include "domain/group.h"
#include "handlers.h"

static omtp_dom_caller caller_of(omtp_req *req)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    return c;
}

static bool need_body(omtp_req *req)
{
    if (!req->body) {
        omtp_reply_code(req, OMTP_EC_PARAM, "the request has no payload");
        return false;
    }
    return true;
}

/* operatorId must be the logged-in user ("" means the logged-in user). */
static bool check_operator(omtp_req *req, const tars_str *op)
{
    if (op->len && strcmp(op->data, req->conn->userId) != 0) {
        omtp_reply_code(req, OMTP_EC_GROUP_NO_PRIVILEGE,
                        "operatorId %s is not the logged-in user %s", op->data, req->conn->userId);
        return false;
    }
    return true;
}

/* A group id from the request as text; replies and returns NULL when it is
 * not text (the domain checks the rest). */
static const char *group_id(omtp_req *req, const tars_str *id)
{
    if (id->len && strlen(id->data) != id->len) {
        omtp_reply_code(req, OMTP_EC_PARAM, "groupId is not text");
        return NULL;
    }
    return id->len ? id->data : "";
}

/* Refusals and the plain success reply. */
static bool replied(omtp_req *req, const omtp_dom_outcome *res)
{
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return true;
    }
    return false;
}

static void done_code(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    (void)out;
    if (!replied(arg, res))
        omtp_reply_code(arg, OMTP_EC_SUCCESS, "%s", "");
}

static void done_create(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (replied(arg, res))
        return;
    omtp_GroupChatCreateResp r;
    omtp_msg_init(&omtp_GroupChatCreateResp_desc, &r);
    tars_str_set(&r.groupId, out->groupId);
    omtp_reply(arg, &omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
}

static void done_join(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (replied(arg, res))
        return;
    omtp_GroupChatJoinResp r;
    omtp_msg_init(&omtp_GroupChatJoinResp_desc, &r);
    tars_str_set(&r.groupId, out->groupId);
    omtp_reply(arg, &omtp_GroupChatJoinResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatJoinResp_desc, &r);
}

static void done_members(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (replied(arg, res))
        return;
    omtp_req *req = arg;
    omtp_server *s = req->conn->srv;
    omtp_GroupChatMemberGetResp r;
    omtp_msg_init(&omtp_GroupChatMemberGetResp_desc, &r);
    tars_str_set(&r.groupId, out->groupId);
    /* one page of the sorted ids after the cursor (docs/protocol.md 7.2) */
    const omtp_GroupChatMemberGetReq *q = req->body;
    const char *after = q->after.len ? q->after.data : "";
    const tars_str_list *all = &out->members;
    uint32_t lo = 0;
    while (lo < all->n && strcmp(all->items[lo].data, after) <= 0)
        lo++;
    size_t used = 0;
    uint32_t k = lo >= all->n ? 0
                              : omtp_fit_strs(all->items + lo, all->n - lo, &used,
                                              omtp_reply_budget(s->cfg));
    r.memberIds.items = k ? all->items + lo : NULL; /* borrowed for the encode */
    r.memberIds.n = k;
    if (lo + k < all->n) {
        tars_str_set(&r.next, all->items[lo + k - 1].data);
        s->metrics.replies_paged++;
    }
    omtp_reply(req, &omtp_GroupChatMemberGetResp_desc, &r);
    memset(&r.memberIds, 0, sizeof(r.memberIds));
    omtp_msg_free(&omtp_GroupChatMemberGetResp_desc, &r);
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const omtp_GroupChatInfo *)a)->groupId.data,
                  ((const omtp_GroupChatInfo *)b)->groupId.data);
}

/*
 * One page of a group sync (docs/protocol.md 7.2): changed groups and
 * deleted ids merged in group-id order, after the request's cursor, as many
 * as fit a frame. The cursor `next` is "<ms>/<groupId>": the time of the
 * walk's first query and the last id sent. While a walk goes on, the reply's
 * timestamp stays the request's (a client that ignores `next` asks again
 * from there and misses nothing); its last page carries the first query's
 * time. r borrows out's lists.
 */
static void sync_page(omtp_server *s, omtp_dom_group_out *out, const omtp_GroupChatSyncReq *q,
                      omtp_GroupChatSyncResp *r)
{
    int64_t walk = out->timestamp;
    const char *after = "";
    if (q->after.len) {
        char *end = NULL;
        long long ms = strtoll(q->after.data, &end, 10);
        if (end && *end == '/') {
            walk = ms;
            after = end + 1;
        }
    }
    omtp_GroupChatInfo_list *groups = &out->groups;
    tars_str_list *deleted = &out->deleted;
    if (groups->n > 1)
        qsort(groups->items, groups->n, sizeof *groups->items, cmp_group);
    omtp_ids_sort(deleted);
    uint32_t gi = 0, di = 0;
    while (gi < groups->n && strcmp(groups->items[gi].groupId.data, after) <= 0)
        gi++;
    while (di < deleted->n && strcmp(deleted->items[di].data, after) <= 0)
        di++;
    uint32_t g0 = gi, d0 = di;
    size_t used = 0, budget = omtp_reply_budget(s->cfg);
    const char *last = NULL;
    while (gi < groups->n || di < deleted->n) {
        bool group = di >= deleted->n || (gi < groups->n && strcmp(groups->items[gi].groupId.data,
                                                                   deleted->items[di].data) < 0);
        uint32_t k =
            group ? omtp_fit_structs(&omtp_GroupChatInfo_desc, &groups->items[gi], 1, &used, budget)
                  : omtp_fit_strs(&deleted->items[di], 1, &used, budget);
        if (k == 0)
            break;
        last = group ? groups->items[gi++].groupId.data : deleted->items[di++].data;
    }
    r->groupchats.items = gi > g0 ? groups->items + g0 : NULL;
    r->groupchats.n = gi - g0;
    r->delGroupChatIds.items = di > d0 ? deleted->items + d0 : NULL;
    r->delGroupChatIds.n = di - d0;
    bool more = gi < groups->n || di < deleted->n;
    r->timestamp = more ? q->timestamp : walk;
    if (more && last) {
        char next[OMTP_ID_MAX + 32];
        snprintf(next, sizeof next, "%lld/%s", (long long)walk, last);
        tars_str_set(&r->next, next);
        s->metrics.replies_paged++;
    }
}

static void done_sync(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (replied(arg, res))
        return;
    omtp_req *req = arg;
    omtp_GroupChatSyncResp r;
    omtp_msg_init(&omtp_GroupChatSyncResp_desc, &r);
    sync_page(req->conn->srv, out, req->body, &r);
    omtp_reply(req, &omtp_GroupChatSyncResp_desc, &r);
    memset(&r.groupchats, 0, sizeof(r.groupchats));
    memset(&r.delGroupChatIds, 0, sizeof(r.delGroupChatIds));
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
}

void handle_group_sync(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatSyncReq *q = req->body;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_sync(req->conn->srv, &who, q->timestamp, done_sync, req);
}

void handle_group_create(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatCreateReq *q = req->body;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_create(req->conn->srv, &who, &q->groupInfo, &q->memberIds, done_create, req);
}

void handle_group_join(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatJoinReq *q = req->body;
    const char *gid = group_id(req, &q->groupId);
    if (!gid)
        return;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_join(req->conn->srv, &who, gid, &q->memberIds, done_join, req);
}

void handle_group_quit(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatQuitReq *q = req->body;
    const char *gid;
    if (!check_operator(req, &q->operatorId) || !(gid = group_id(req, &q->groupId)))
        return;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_quit(req->conn->srv, &who, gid, &q->memberIds, done_code, req);
}

void handle_group_dismiss(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatDismissReq *q = req->body;
    const char *gid;
    if (!check_operator(req, &q->operatorId) || !(gid = group_id(req, &q->groupId)))
        return;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_dismiss(req->conn->srv, &who, gid, done_code, req);
}

void handle_group_update_creator(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatCreatorUpdateReq *q = req->body;
    const char *gid;
    if (!check_operator(req, &q->operatorId) || !(gid = group_id(req, &q->groupId)))
        return;
    if (q->newCreatorId.len && strlen(q->newCreatorId.data) != q->newCreatorId.len) {
        omtp_reply_code(req, OMTP_EC_PARAM, "newCreatorId is not text");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_set_creator(req->conn->srv, &who, gid,
                               q->newCreatorId.len ? q->newCreatorId.data : "", done_code, req);
}

void handle_group_info_update(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatInfoUpdateReq *q = req->body;
    if (!check_operator(req, &q->operatorId) || !group_id(req, &q->groupInfo.groupId))
        return;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_update_info(req->conn->srv, &who, &q->groupInfo, done_code, req);
}

void handle_group_members_get(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatMemberGetReq *q = req->body;
    const char *gid = group_id(req, &q->groupId);
    if (!gid)
        return;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_group_get(req->conn->srv, &who, gid, done_members, req);
}
