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
#include <string.h>

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
    omtp_GroupChatMemberGetResp r;
    omtp_msg_init(&omtp_GroupChatMemberGetResp_desc, &r);
    tars_str_set(&r.groupId, out->groupId);
    r.memberIds = out->members; /* borrowed for the encode */
    omtp_reply(arg, &omtp_GroupChatMemberGetResp_desc, &r);
    memset(&r.memberIds, 0, sizeof(r.memberIds));
    omtp_msg_free(&omtp_GroupChatMemberGetResp_desc, &r);
}

static void done_sync(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (replied(arg, res))
        return;
    omtp_GroupChatSyncResp r;
    omtp_msg_init(&omtp_GroupChatSyncResp_desc, &r);
    r.timestamp = out->timestamp;
    r.groupchats = out->groups; /* borrowed */
    r.delGroupChatIds = out->deleted;
    omtp_reply(arg, &omtp_GroupChatSyncResp_desc, &r);
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
