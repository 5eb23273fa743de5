/*
 * http_groups.c - /v1/groups: create, read, add members, remove a member,
 * dismiss. Loop thread.
 *
 * The business backend is trusted: it acts as the group's administrator, so
 * the creator-only checks of the OMTP handlers (group.c) do not apply; the
 * rules about the data do (users must exist, memberLimit, a dismissed group
 * is gone, the creator cannot be removed). Like group.c, each endpoint runs
 * its checks and its change in one store work item, invalidates the member
 * cache when the change is submitted and when it completes, and pushes
 * PT_SYNC_DATA_CMD 3 {"groupId":..,"op":..} to every affected member.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "domain/group_state.h"
#include "core/idlist.h"
#include "proto/omtp_packet.h"
#include "proto/omtp_proto.h"

#define HTTP_MAX_MEMBERS_PER_CALL 10000
#define HTTP_MEMBERS_PER_ITEM     1000 /* members added per store item (chunks) */

enum { GK_CREATE, GK_GET, GK_ADD, GK_REMOVE, GK_DISMISS };
static const char *const gk_ops[] = {"create", "get", "join", "quit", "dismiss"};

typedef struct group_ctx {
    http_req *r;
    omtp_server *srv;
    int kind;
    char groupId[OMTP_ID_MAX + 1];
    char userId[OMTP_ID_MAX + 1]; /* remove: the member */
    bool idGiven;
    int32_t defLimit;
    omtp_GroupChatInfo info;
    tars_str_list ids;     /* create/add: the given members */
    tars_str_list members; /* the members after the change */
    tars_str_list notify;  /* who gets SYNC_DATA_CMD (when not `members`) */
    int count;             /* added / removed */
    bool dismissing;       /* dismiss: checked, notify list taken; next chunks only remove */
    bool started;          /* create/add: checked (and created); next chunks only add */
    tars_str_list others;  /* create: the members but the creator, added in chunks */
    uint32_t pos;          /* create/add: members added so far (chunks) */
    http_refusal refusal;  /* found by the work item (which then rolls back) */
} group_ctx;

static group_ctx *ctx_new(http_req *r, int kind)
{
    group_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        http_reply_error(r, 500, "internal", "out of memory");
        return NULL;
    }
    c->r = r;
    c->srv = r->srv;
    c->kind = kind;
    c->defLimit = r->srv->cfg->group_member_limit ? (int32_t)r->srv->cfg->group_member_limit : 500;
    snprintf(c->groupId, sizeof(c->groupId), "%s", r->param[0]);
    snprintf(c->userId, sizeof(c->userId), "%s", r->param[1]);
    omtp_msg_init(&omtp_GroupChatInfo_desc, &c->info);
    return c;
}

static void ctx_free(group_ctx *c)
{
    omtp_msg_free(&omtp_GroupChatInfo_desc, &c->info);
    http_str_list_free(&c->ids);
    http_str_list_free(&c->members);
    http_str_list_free(&c->notify);
    http_str_list_free(&c->others);
    free(c);
}

/* ----------------------------------------------------- store thread */

static int check_users(omtp_db *db, group_ctx *c, const tars_str_list *ids)
{
    for (uint32_t i = 0; i < ids->n; i++) {
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        int rc = omtp_db_user_get(db, ids->items[i].data, &u);
        omtp_user_rec_free(&u);
        if (rc == OMTP_ENOTFOUND)
            return http_refuse(&c->refusal, OMTP_EINVAL, 404, "unknown_user", "no such user: %s",
                               ids->items[i].data);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_group(omtp_db *db, group_ctx *c)
{
    bool dismissed = false;
    omtp_msg_free(&omtp_GroupChatInfo_desc, &c->info);
    int rc = omtp_db_group_get(db, c->groupId, &c->info, &dismissed);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed))
        return http_refuse(&c->refusal, OMTP_EINVAL, 404, "unknown_group", "no such group: %s%s",
                           c->groupId, dismissed ? " (dismissed)" : "");
    return rc;
}

static bool has(const tars_str_list *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].data, s) == 0)
            return true;
    return false;
}

/* Adds the next HTTP_MEMBERS_PER_ITEM of `all` (from c->pos): big calls run
 * in chunks (store.h, OMTP_STORE_MORE) so they never hold the store thread
 * long; after the last one, the member list for the reply. */
static int add_chunk(omtp_db *db, group_ctx *c, const tars_str_list *all)
{
    uint32_t n = all->n - c->pos < HTTP_MEMBERS_PER_ITEM ? all->n - c->pos : HTTP_MEMBERS_PER_ITEM;
    tars_str_list part = {.items = all->items + c->pos, .n = n};
    int added = 0;
    int rc = n ? omtp_db_group_add_members(db, c->groupId, &part, &added) : 0;
    if (rc)
        return rc;
    c->count += added;
    c->pos += n;
    if (c->pos < all->n)
        return OMTP_STORE_MORE;
    http_str_list_free(&c->members);
    return omtp_db_group_members(db, c->groupId, &c->members);
}

static int work_create(omtp_db *db, group_ctx *c)
{
    if (c->started)
        return add_chunk(db, c, &c->others);
    int rc = check_users(db, c, &c->ids);
    if (rc)
        return rc;
    for (int attempt = 0;; attempt++) {
        if (!c->idGiven) {
            char u[37];
            omtp_uuid(u);
            size_t w = 0;
            memcpy(c->groupId, "GC_", 3);
            w = 3;
            for (const char *p = u; *p; p++)
                if (*p != '-')
                    c->groupId[w++] = *p;
            c->groupId[w] = '\0';
        }
        omtp_GroupChatInfo old;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &old);
        bool dismissed = false;
        rc = omtp_db_group_get(db, c->groupId, &old, &dismissed);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &old);
        if (rc == OMTP_ENOTFOUND)
            break;
        if (rc < 0)
            return rc;
        if (c->idGiven || attempt >= 3)
            return http_refuse(&c->refusal, OMTP_EINVAL, 409, "group_exists",
                               "the group id %s is taken", c->groupId);
    }
    if (tars_str_set(&c->info.groupId, c->groupId))
        return OMTP_ENOMEM;
    /* the store adds the creator itself */
    for (uint32_t i = 0; i < c->ids.n; i++)
        if (strcmp(c->ids.items[i].data, c->info.creatorId.data) != 0 &&
            http_str_list_push(&c->others, c->ids.items[i].data) != 0)
            return OMTP_ENOMEM;
    /* the group with its first chunk of members; the rest in later chunks */
    uint32_t first = c->others.n < HTTP_MEMBERS_PER_ITEM ? c->others.n : HTTP_MEMBERS_PER_ITEM;
    tars_str_list part = {.items = c->others.items, .n = first};
    rc = omtp_db_group_create(db, &c->info, &part);
    if (rc == OMTP_EEXIST)
        return http_refuse(&c->refusal, OMTP_EINVAL, 409, "group_exists",
                           "the group id %s is taken", c->groupId);
    if (rc < 0)
        return rc;
    c->started = true;
    c->pos = first;
    return add_chunk(db, c, &c->others);
}

static int work_add(omtp_db *db, group_ctx *c)
{
    if (c->started)
        return add_chunk(db, c, &c->ids);
    int rc = load_group(db, c);
    if (rc == 0)
        rc = check_users(db, c, &c->ids);
    if (rc == 0)
        rc = omtp_db_group_members(db, c->groupId, &c->members);
    if (rc)
        return rc;
    /* the member list comes sorted (store.h): a binary search per id, not a
     * scan (10,000 ids x 10,000 members held the store thread ~1 s) */
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < c->ids.n; i++)
        fresh += !omtp_ids_contains(&c->members, c->ids.items[i].data);
    int32_t limit = c->info.memberLimit > 0 ? c->info.memberLimit : c->defLimit;
    if ((int64_t)c->members.n + fresh > limit)
        return http_refuse(&c->refusal, OMTP_EINVAL, 409, "member_limit",
                           "group %s has %u members, adding %u would pass its limit of %d",
                           c->groupId, c->members.n, fresh, limit);
    c->started = true;
    return add_chunk(db, c, &c->ids);
}

static int work_remove(omtp_db *db, group_ctx *c)
{
    int rc = load_group(db, c);
    if (rc)
        return rc;
    if (strcmp(c->info.creatorId.data, c->userId) == 0)
        return http_refuse(
            &c->refusal, OMTP_EINVAL, 409, "is_creator",
            "%s is the creator of %s and cannot be removed (dismiss the group instead)", c->userId,
            c->groupId);
    rc = omtp_db_group_members(db, c->groupId, &c->notify);
    if (rc)
        return rc;
    if (!omtp_ids_contains(&c->notify, c->userId))
        return http_refuse(&c->refusal, OMTP_EINVAL, 404, "not_member", "%s is not a member of %s",
                           c->userId, c->groupId);
    tars_str_list one = {0};
    if (http_str_list_push(&one, c->userId) != 0)
        return OMTP_ENOMEM;
    rc = omtp_db_group_remove_members(db, c->groupId, &one, &c->count);
    http_str_list_free(&one);
    if (rc == 0)
        rc = omtp_db_group_members(db, c->groupId, &c->members);
    return rc;
}

/* In chunks (store.h, group_dismiss_step and OMTP_STORE_MORE), as over
 * OMTP (group.c); the reply comes after the last chunk. */
static int work_dismiss(omtp_db *db, group_ctx *c)
{
    int rc = 0;
    if (!c->dismissing) {
        rc = load_group(db, c);
        if (rc == 0)
            rc = omtp_db_group_members(db, c->groupId, &c->notify);
        if (rc)
            return rc;
        c->dismissing = true;
    }
    int left = 0;
    rc = omtp_db_group_dismiss_step(db, c->groupId, OMTP_GROUP_DISMISS_CHUNK, &left);
    return rc ? rc : left ? OMTP_STORE_MORE : 0;
}

static int work_get(omtp_db *db, group_ctx *c)
{
    int rc = load_group(db, c);
    if (rc == 0)
        rc = omtp_db_group_members(db, c->groupId, &c->members);
    return rc;
}

static int group_work(omtp_db *db, void *arg)
{
    group_ctx *c = arg;
    switch (c->kind) {
    case GK_CREATE:
        return work_create(db, c);
    case GK_ADD:
        return work_add(db, c);
    case GK_REMOVE:
        return work_remove(db, c);
    case GK_DISMISS:
        return work_dismiss(db, c);
    default:
        return work_get(db, c);
    }
}

/* ------------------------------------------------------ loop thread */

static json_t *ids_json(const tars_str_list *l)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i].data));
    return a;
}

static json_t *group_json(const group_ctx *c)
{
    const omtp_GroupChatInfo *g = &c->info;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:o}", "groupId", c->groupId, "name",
                     g->name.data ? g->name.data : "", "avatar",
                     g->avatar.data ? g->avatar.data : "", "creatorId",
                     g->creatorId.data ? g->creatorId.data : "", "desc",
                     g->desc.data ? g->desc.data : "", "memberLimit", g->memberLimit, "createTime",
                     (json_int_t)g->createTime, "updateTime", (json_int_t)g->updateTime, "members",
                     ids_json(&c->members));
}

/* PT_SYNC_DATA_CMD 3 to every id of `who` (moved into a member list). */
static void notify_members(group_ctx *c, tars_str_list *who)
{
    if (!who->n)
        return;
    json_t *o = json_pack("{s:s,s:s}", "groupId", c->groupId, "op", gk_ops[c->kind]);
    char *content = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o)
        json_decref(o);
    omtp_members *m = omtp_members_new(who); /* takes the ids */
    memset(who, 0, sizeof(*who));
    if (content && m)
        omtp_fanout_sync_cmd(c->srv, m, SYNC_GROUP, content, NULL);
    if (m)
        omtp_members_unref(m);
    free(content);
}

static void group_done(void *arg, int status)
{
    group_ctx *c = arg;
    http_req *r = c->r;
    if (c->kind != GK_GET)
        omtp_group_cache_invalidate(c->srv, c->groupId);
    if (c->kind != GK_GET && c->kind != GK_CREATE && !c->refusal.status && status == 0)
        omtp_cluster_group_changed(c->srv->cluster, c->groupId, NULL,
                                   NULL); /* other nodes' caches */
    if (http_reply_refusal(r, &c->refusal)) {
        ctx_free(c);
        return;
    }
    if (status < 0) {
        http_reply_store_err(r, status);
        ctx_free(c);
        return;
    }
    switch (c->kind) {
    case GK_CREATE:
        http_reply_json(r, 201, group_json(c));
        notify_members(c, &c->members);
        break;
    case GK_GET:
        http_reply_json(r, 200, group_json(c));
        break;
    case GK_ADD:
        http_reply_json(r, 200,
                        json_pack("{s:s,s:i,s:o}", "groupId", c->groupId, "added", c->count,
                                  "members", ids_json(&c->members)));
        notify_members(c, &c->members);
        break;
    case GK_REMOVE:
        http_reply_json(r, 200,
                        json_pack("{s:s,s:s,s:i,s:o}", "groupId", c->groupId, "userId", c->userId,
                                  "removed", c->count, "members", ids_json(&c->members)));
        notify_members(c, &c->notify); /* the members before: the removed one too */
        break;
    case GK_DISMISS:
        http_reply_json(r, 200, json_pack("{s:s,s:b}", "groupId", c->groupId, "dismissed", 1));
        notify_members(c, &c->notify);
        break;
    }
    ctx_free(c);
}

static void submit(group_ctx *c)
{
    if (c->kind != GK_GET)
        omtp_group_cache_invalidate(c->srv, c->groupId);
    int rc = omtp_store_submit(c->srv->store, group_work, group_done, c);
    if (rc < 0) {
        http_reply_store_err(c->r, rc);
        ctx_free(c);
    }
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
    if (groupId && (strncmp(groupId, "GC_", 3) != 0 || strlen(groupId) < 4)) {
        http_reply_error(r, 400, "invalid_field", "a chosen \"groupId\" starts with GC_");
        return;
    }
    uint32_t hard =
        r->srv->cfg->group_member_hard_limit ? r->srv->cfg->group_member_hard_limit : 100000;
    if (limit < 0 || limit > (int64_t)hard) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"memberLimit\" must be 0..%u (group_member_hard_limit)", hard);
        return;
    }
    group_ctx *c = ctx_new(r, GK_CREATE);
    if (!c)
        return;
    if (!http_get_ids(r, "members", false, HTTP_MAX_MEMBERS_PER_CALL, &c->ids)) {
        ctx_free(c);
        return;
    }
    if (!has(&c->ids, creatorId) && http_str_list_push(&c->ids, creatorId) != 0) {
        http_reply_error(r, 500, "internal", "out of memory");
        ctx_free(c);
        return;
    }
    int32_t lim = limit > 0 ? (int32_t)limit : c->defLimit;
    if (c->ids.n > (uint32_t)lim) {
        http_reply_error(r, 409, "member_limit",
                         "%u members (creator included) exceed the memberLimit %d", c->ids.n, lim);
        ctx_free(c);
        return;
    }
    c->idGiven = groupId != NULL;
    if (groupId)
        snprintf(c->groupId, sizeof(c->groupId), "%s", groupId);
    c->info.memberLimit = lim;
    if (tars_str_set(&c->info.name, name) || tars_str_set(&c->info.creatorId, creatorId) ||
        tars_str_set(&c->info.avatar, avatar ? avatar : "") ||
        tars_str_set(&c->info.desc, desc ? desc : "")) {
        http_reply_error(r, 500, "internal", "out of memory");
        ctx_free(c);
        return;
    }
    submit(c);
}

void http_ep_group_get(http_req *r)
{
    if (!params_ok(r, 1))
        return;
    group_ctx *c = ctx_new(r, GK_GET);
    if (c)
        submit(c);
}

void http_ep_group_dismiss(http_req *r)
{
    if (!params_ok(r, 1))
        return;
    group_ctx *c = ctx_new(r, GK_DISMISS);
    if (c)
        submit(c);
}

void http_ep_group_add(http_req *r)
{
    if (!params_ok(r, 1))
        return;
    group_ctx *c = ctx_new(r, GK_ADD);
    if (!c)
        return;
    if (!http_get_ids(r, "members", true, HTTP_MAX_MEMBERS_PER_CALL, &c->ids)) {
        ctx_free(c);
        return;
    }
    submit(c);
}

void http_ep_group_remove(http_req *r)
{
    if (!params_ok(r, 2))
        return;
    group_ctx *c = ctx_new(r, GK_REMOVE);
    if (c)
        submit(c);
}
