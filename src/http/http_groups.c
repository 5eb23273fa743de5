/*
 * http_groups.c - /v1/groups: create, read, add members, remove a member,
 * dismiss. Loop thread. HTTP adapters of domain/group.h: each endpoint
 * decodes its JSON, calls the group operation as the administrator
 * (OMTP_DOM_ADMIN: the business backend is trusted as every group's
 * administrator, domain/caller.h) and encodes the answer. The rules, the
 * store work, the member cache, the cluster notice (acknowledged by the
 * other nodes before the reply, like over OMTP) and the sync-data pushes
 * are the domain's.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/group.h"
#include "proto/omtp_proto.h"

#define HTTP_MAX_MEMBERS_PER_CALL 10000

static const omtp_dom_caller admin = {.role = OMTP_DOM_API};

static json_t *ids_json(const tars_str_list *l)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i].data));
    return a;
}

static json_t *group_json(const omtp_dom_group_out *o)
{
    const omtp_GroupChatInfo *g = &o->info;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:o}", "groupId", o->groupId, "name",
                     g->name.data ? g->name.data : "", "avatar",
                     g->avatar.data ? g->avatar.data : "", "creatorId",
                     g->creatorId.data ? g->creatorId.data : "", "desc",
                     g->desc.data ? g->desc.data : "", "memberLimit", g->memberLimit, "createTime",
                     (json_int_t)g->createTime, "updateTime", (json_int_t)g->updateTime, "members",
                     ids_json(&o->members));
}

static void done_create(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 201, group_json(out));
}

static void done_get(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 200, group_json(out));
}

static void done_add(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 200,
                        json_pack("{s:s,s:i,s:o}", "groupId", out->groupId, "added", out->count,
                                  "members", ids_json(&out->members)));
}

static void done_remove(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    http_req *r = arg;
    if (!http_reply_refused(r, res))
        http_reply_json(r, 200,
                        json_pack("{s:s,s:s,s:i,s:o}", "groupId", out->groupId, "userId",
                                  r->param[1], "removed", out->count, "members",
                                  ids_json(&out->members)));
}

static void done_dismiss(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 200, json_pack("{s:s,s:b}", "groupId", out->groupId, "dismissed", 1));
}

static bool params_ok(http_req *r, int n)
{
    /* /v1/groups/{groupId}[/members/{userId}] */
    if (!http_valid_group_id(r->param[0])) {
        http_reply_error(r, 400, "invalid_id", "the group id in the path is not a valid id");
        return false;
    }
    if (n > 1 && !http_valid_id(r->param[1])) {
        http_reply_error(r, 400, "invalid_id",
                         "the user id in the path is not valid: user ids are " OMTP_ID_RULE);
        return false;
    }
    return true;
}

void http_ep_group_create(http_req *r)
{
    const char *groupId, *name, *creatorId, *avatar, *desc;
    int64_t limit;
    if (!http_get_group_id(r, "groupId", false, &groupId) ||
        !http_get_str(r, "name", true, OMTP_LIMIT_NAME, &name) ||
        !http_get_id(r, "creatorId", true, &creatorId) ||
        !http_get_str(r, "avatar", false, OMTP_LIMIT_AVATAR, &avatar) ||
        !http_get_str(r, "desc", false, OMTP_LIMIT_DESC, &desc) ||
        !http_get_int(r, "memberLimit", false, 0, &limit))
        return;
    if (limit < 0 || limit > INT32_MAX) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"memberLimit\" must be 0..group_member_hard_limit");
        return;
    }
    tars_str_list ids;
    if (!http_get_ids(r, "members", false, HTTP_MAX_MEMBERS_PER_CALL, &ids))
        return;
    omtp_GroupChatInfo in;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &in);
    in.memberLimit = (int32_t)limit;
    if (tars_str_set(&in.groupId, groupId ? groupId : "") || tars_str_set(&in.name, name) ||
        tars_str_set(&in.creatorId, creatorId) || tars_str_set(&in.avatar, avatar ? avatar : "") ||
        tars_str_set(&in.desc, desc ? desc : ""))
        http_reply_error(r, 500, "internal", "out of memory");
    else
        omtp_dom_group_create(r->srv, &admin, &in, &ids, done_create, r);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &in);
    http_str_list_free(&ids);
}

void http_ep_group_get(http_req *r)
{
    if (params_ok(r, 1))
        omtp_dom_group_get(r->srv, &admin, r->param[0], done_get, r);
}

void http_ep_group_dismiss(http_req *r)
{
    if (params_ok(r, 1))
        omtp_dom_group_dismiss(r->srv, &admin, r->param[0], done_dismiss, r);
}

void http_ep_group_add(http_req *r)
{
    if (!params_ok(r, 1))
        return;
    tars_str_list ids;
    if (!http_get_ids(r, "members", true, HTTP_MAX_MEMBERS_PER_CALL, &ids))
        return;
    omtp_dom_group_join(r->srv, &admin, r->param[0], &ids, done_add, r);
    http_str_list_free(&ids);
}

void http_ep_group_remove(http_req *r)
{
    if (!params_ok(r, 2))
        return;
    tars_str one = {.data = r->param[1], .len = (uint32_t)strlen(r->param[1])};
    tars_str_list ids = {.items = &one, .n = 1};
    omtp_dom_group_quit(r->srv, &admin, r->param[0], &ids, done_remove, r);
}
