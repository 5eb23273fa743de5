/*
 * group.c - group administration: PT_GROUPCHAT_SYNC, CREATE, JION, QUIT,
 * DISMISS, UPDATE_CREATOR, INFO_UPDATE, MEMBERS_GET (types 40-47).
 *
 * Shape of every handler: the loop validates what needs no storage
 * (operatorId is the logged-in user, ids present and well formed), then one
 * store work item does every check that needs the database and the change
 * itself, inside the batch transaction, so a check and the change it guards
 * cannot be separated by another request. The completion replies, updates
 * the member cache (group.h) and pushes PT_SYNC_DATA_CMD (command 3,
 * content {"groupId":..,"op":..}) to every affected member's devices except
 * the one that asked -- encoded once and sliced like group messages.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - JION: only members may add members (invite); a non-member cannot add
 *    itself. Unknown user ids -> GROUP_USER_NOTEXIST; going over memberLimit
 *    -> GROUP_MEMBER_LIMIT, nothing added.
 *  - QUIT: memberIds empty or just the operator = the operator leaves; the
 *    creator cannot leave (hand over with UPDATE_CREATOR or DISMISS first);
 *    removing anyone else is for the creator only. Ids that are not members
 *    are ignored (a retried QUIT succeeds).
 *  - INFO_UPDATE merges the non-empty name/avatar/desc and a memberLimit > 0
 *    (not below the current member count); creatorId there is ignored.
 *  - A client may not set memberLimit above the server's group_member_limit
 *    (CREATE, INFO_UPDATE: GROUP_MEMBER_LIMIT); only the HTTP API (the
 *    administrator) may, up to group_member_hard_limit. docs/protocol.md.
 *  - A dismissed group no longer exists for every operation
 *    (GROUP_NOT_EXIST); its id is never reused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "domain/group_state.h"
#include "handlers.h"
#include "core/idlist.h"

enum gop_kind {
    GOP_SYNC,
    GOP_CREATE,
    GOP_JOIN,
    GOP_QUIT,
    GOP_DISMISS,
    GOP_CREATOR,
    GOP_INFO,
    GOP_MEMBERS,
};

static const char *const gop_names[] = {"sync",    "create",  "join", "quit",
                                        "dismiss", "creator", "info", "members"};

typedef struct gop {
    int kind;
    omtp_req *req;
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1];
    char groupId[OMTP_ID_MAX + 1];
    char otherId[OMTP_ID_MAX + 1]; /* new creator */
    bool idGiven;                  /* create: the client chose the id */
    int64_t since;                 /* sync */
    int32_t defLimit;
    uint64_t epoch;
    /* outcome */
    int ec;
    char desc[320];
    omtp_GroupChatInfo info;        /* create/info: the group as written */
    tars_str_list ids;              /* create/join/quit: the normalised ids */
    tars_str_list notify;           /* who gets SYNC_DATA_CMD */
    tars_str_list after;            /* members after the change (cache), or members-get */
    bool haveAfter;                 /* `after` is the full current member list */
    omtp_GroupChatInfo_list groups; /* sync */
    tars_str_list deleted;          /* sync */
    int64_t nowMs;
    int status;      /* the store's, kept while the cluster notice is published */
    bool dismissing; /* dismiss: checked, notify list taken; next chunks only remove */
} gop;

static void gop_fail(gop *g, int ec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void gop_fail(gop *g, int ec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->desc, sizeof(g->desc), fmt, ap);
    va_end(ap);
    g->ec = ec;
}

static gop *gop_new(omtp_req *req, int kind)
{
    gop *g = calloc(1, sizeof(*g));
    if (!g) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return NULL;
    }
    g->kind = kind;
    g->req = req;
    g->srv = req->conn->srv;
    snprintf(g->userId, sizeof(g->userId), "%s", req->conn->userId);
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g->info);
    g->defLimit = g->srv->cfg && g->srv->cfg->group_member_limit
                      ? (int32_t)g->srv->cfg->group_member_limit
                      : 500;
    return g;
}

static void gop_free(gop *g)
{
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g->info);
    omtp_ids_free(&g->ids);
    omtp_ids_free(&g->notify);
    omtp_ids_free(&g->after);
    omtp_ids_free(&g->deleted);
    omtp_list_free(&omtp_GroupChatInfo_desc, &g->groups);
    free(g);
}

/* Copies a group id from the request; replies GROUP_ID_EMPTY / PARAM. */
static bool take_group_id(omtp_req *req, gop *g, const tars_str *id)
{
    if (id->len == 0) {
        omtp_reply_code(req, OMTP_EC_GROUP_ID_EMPTY, "groupId is empty");
        return false;
    }
    if (id->len > OMTP_ID_MAX || strlen(id->data) != id->len) {
        omtp_reply_code(req, OMTP_EC_PARAM, "groupId is longer than %d bytes or not text",
                        OMTP_ID_MAX);
        return false;
    }
    memcpy(g->groupId, id->data, id->len + 1);
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

/* The prologue every group request shares: checks operatorId (when given),
 * allocates the operation and copies groupId into it (when given). Replies
 * and returns NULL on failure. */
static gop *gop_begin(omtp_req *req, int kind, const tars_str *operatorId, const tars_str *groupId)
{
    if (operatorId && !check_operator(req, operatorId))
        return NULL;
    gop *g = gop_new(req, kind);
    if (g && groupId && !take_group_id(req, g, groupId)) {
        gop_free(g);
        return NULL;
    }
    return g;
}

/* ----------------------------------------------------- store thread */

/* Loads a live group into g->info; sets GROUP_NOT_EXIST when it is not. */
static int load_group(omtp_db *db, gop *g)
{
    bool dismissed = false;
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g->info);
    int rc = omtp_db_group_get(db, g->groupId, &g->info, &dismissed);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed)) {
        gop_fail(g, OMTP_EC_GROUP_NOT_EXIST, "group %s does not exist%s", g->groupId,
                 dismissed ? " (dismissed)" : "");
        return 0;
    }
    return rc;
}

static bool is_creator(const gop *g)
{
    return strcmp(g->info.creatorId.data, g->userId) == 0;
}

static int fetch_members(omtp_db *db, gop *g, tars_str_list *out)
{
    tars_str_list l = {0};
    int rc = omtp_db_group_members(db, g->groupId, &l);
    if (rc)
        return rc;
    omtp_ids_sort(&l);
    omtp_ids_move(out, &l);
    return 0;
}

static int check_users(omtp_db *db, gop *g, const tars_str_list *ids)
{
    int missing = 0;
    char first[OMTP_ID_MAX + 1];
    int rc = omtp_ids_missing(db, ids, &missing, first, sizeof(first));
    if (rc == 0 && missing)
        gop_fail(g, OMTP_EC_GROUP_USER_NOTEXIST, "%d of the user ids are not users (e.g. %s)",
                 missing, first);
    return rc;
}

static int work_create(omtp_db *db, gop *g)
{
    int rc = check_users(db, g, &g->ids);
    if (rc || g->ec)
        return rc;
    for (int attempt = 0;; attempt++) {
        if (!g->idGiven) {
            char u[37], id[40];
            omtp_uuid(u);
            int w = 0;
            id[w++] = 'G', id[w++] = 'C', id[w++] = '_';
            for (const char *p = u; *p; p++)
                if (*p != '-')
                    id[w++] = *p;
            id[w] = 0;
            snprintf(g->groupId, sizeof(g->groupId), "%s", id);
        }
        omtp_GroupChatInfo old;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &old);
        bool dismissed = false;
        rc = omtp_db_group_get(db, g->groupId, &old, &dismissed);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &old);
        if (rc == OMTP_ENOTFOUND)
            break;
        if (rc)
            return rc;
        if (g->idGiven || attempt >= 3) {
            gop_fail(g, OMTP_EC_PARAM, "group id %s is taken", g->groupId);
            return 0;
        }
    }
    if (tars_str_set(&g->info.groupId, g->groupId) || tars_str_set(&g->info.creatorId, g->userId))
        return OMTP_ENOMEM;
    /* the store adds the creator itself */
    tars_str_list others = {.items = calloc(g->ids.n + 1, sizeof(tars_str)), .n = 0};
    if (!others.items)
        return OMTP_ENOMEM;
    for (uint32_t i = 0; i < g->ids.n; i++)
        if (strcmp(g->ids.items[i].data, g->userId) != 0)
            others.items[others.n++] = g->ids.items[i]; /* borrowed */
    rc = omtp_db_group_create(db, &g->info, &others);
    free(others.items);
    if (rc == OMTP_EEXIST) {
        gop_fail(g, OMTP_EC_PARAM, "group id %s is taken", g->groupId);
        return rc;
    }
    if (rc)
        return rc;
    rc = fetch_members(db, g, &g->after);
    if (rc)
        return rc;
    g->haveAfter = true;
    return 0;
}

static int work_join(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->ec)
        return rc;
    bool member = false;
    rc = omtp_db_group_is_member(db, g->groupId, g->userId, &member);
    if (rc)
        return rc;
    if (!member) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE,
                 "%s is not a member of %s: only members add members", g->userId, g->groupId);
        return 0;
    }
    rc = check_users(db, g, &g->ids);
    if (rc || g->ec)
        return rc;
    tars_str_list before = {0};
    rc = fetch_members(db, g, &before);
    if (rc)
        return rc;
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < g->ids.n; i++)
        fresh += !omtp_ids_contains(&before, g->ids.items[i].data);
    int32_t limit = g->info.memberLimit > 0 ? g->info.memberLimit : g->defLimit;
    if ((int64_t)before.n + fresh > limit) {
        gop_fail(g, OMTP_EC_GROUP_MEMBER_LIMIT,
                 "group %s has %u members, adding %u would pass its limit of %d", g->groupId,
                 before.n, fresh, limit);
        omtp_ids_free(&before);
        return 0;
    }
    omtp_ids_free(&before);
    int added = 0;
    rc = omtp_db_group_add_members(db, g->groupId, &g->ids, &added);
    if (rc)
        return rc;
    rc = fetch_members(db, g, &g->after);
    g->haveAfter = rc == 0;
    return rc;
}

static int work_quit(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->ec)
        return rc;
    bool self_only = g->ids.n == 1 && strcmp(g->ids.items[0].data, g->userId) == 0;
    if (omtp_ids_contains(&g->ids, g->info.creatorId.data)) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE,
                 "the creator %s cannot leave %s: hand it over (UPDATE_CREATOR) or dismiss it",
                 g->info.creatorId.data, g->groupId);
        return 0;
    }
    if (!self_only && !is_creator(g)) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE, "only the creator of %s may remove other members",
                 g->groupId);
        return 0;
    }
    rc = fetch_members(db, g, &g->notify);
    if (rc)
        return rc;
    int removed = 0;
    rc = omtp_db_group_remove_members(db, g->groupId, &g->ids, &removed);
    if (rc)
        return rc;
    rc = fetch_members(db, g, &g->after);
    g->haveAfter = rc == 0;
    return rc;
}

/* In chunks of OMTP_GROUP_DISMISS_CHUNK members (store.h, group_dismiss_step
 * and OMTP_STORE_MORE), so a big group does not hold the store thread; the
 * reply comes after the last chunk. */
static int work_dismiss(omtp_db *db, gop *g)
{
    int rc;
    if (!g->dismissing) {
        rc = load_group(db, g);
        if (rc || g->ec)
            return rc;
        if (!is_creator(g)) {
            gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE, "only the creator of %s may dismiss it",
                     g->groupId);
            return 0;
        }
        rc = fetch_members(db, g, &g->notify);
        if (rc)
            return rc;
        g->dismissing = true;
    }
    int left = 0;
    rc = omtp_db_group_dismiss_step(db, g->groupId, OMTP_GROUP_DISMISS_CHUNK, &left);
    return rc ? rc : left ? OMTP_STORE_MORE : 0;
}

static int work_creator(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->ec)
        return rc;
    if (!is_creator(g)) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE, "only the creator of %s may hand it over",
                 g->groupId);
        return 0;
    }
    bool member = false;
    rc = omtp_db_group_is_member(db, g->groupId, g->otherId, &member);
    if (rc)
        return rc;
    if (!member) {
        gop_fail(g, OMTP_EC_GROUP_USER_NOTEXIST, "the new creator %s is not a member of %s",
                 g->otherId, g->groupId);
        return 0;
    }
    if (strcmp(g->otherId, g->userId) != 0) {
        rc = omtp_db_group_set_creator(db, g->groupId, g->otherId);
        if (rc)
            return rc;
    }
    return fetch_members(db, g, &g->notify);
}

static int work_info(omtp_db *db, gop *g)
{
    const omtp_GroupChatInfoUpdateReq *q = g->req->body;
    const omtp_GroupChatInfo *in = &q->groupInfo;
    int rc = load_group(db, g);
    if (rc || g->ec)
        return rc;
    if (!is_creator(g)) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE, "only the creator of %s may change its info",
                 g->groupId);
        return 0;
    }
    rc = fetch_members(db, g, &g->notify);
    if (rc)
        return rc;
    if (in->memberLimit > 0 && (uint32_t)in->memberLimit < g->notify.n) {
        gop_fail(g, OMTP_EC_GROUP_MEMBER_LIMIT, "memberLimit %d is below the %u members %s has now",
                 in->memberLimit, g->notify.n, g->groupId);
        return 0;
    }
    if ((in->name.len && tars_str_setn(&g->info.name, in->name.data, in->name.len)) ||
        (in->avatar.len && tars_str_setn(&g->info.avatar, in->avatar.data, in->avatar.len)) ||
        (in->desc.len && tars_str_setn(&g->info.desc, in->desc.data, in->desc.len)))
        return OMTP_ENOMEM;
    if (in->memberLimit > 0)
        g->info.memberLimit = in->memberLimit;
    return omtp_db_group_update_info(db, &g->info);
}

static int work_members(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->ec)
        return rc;
    bool member = false;
    rc = omtp_db_group_is_member(db, g->groupId, g->userId, &member);
    if (rc)
        return rc;
    if (!member) {
        gop_fail(g, OMTP_EC_GROUP_NO_PRIVILEGE, "%s is not a member of %s", g->userId, g->groupId);
        return 0;
    }
    rc = fetch_members(db, g, &g->after);
    g->haveAfter = rc == 0;
    return rc;
}

static int work_sync(omtp_db *db, gop *g)
{
    /* a change in the same millisecond as this query but after it must not be
     * lost: the cursor handed back is one ms before the query started */
    g->nowMs = omtp_now_ms() - 1;
    return omtp_db_group_sync(db, g->userId, g->since, &g->groups, &g->deleted);
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
 * time. r borrows g's lists.
 */
static void sync_page(gop *g, const omtp_GroupChatSyncReq *q, omtp_GroupChatSyncResp *r)
{
    int64_t walk = g->nowMs;
    const char *after = "";
    if (q->after.len) {
        char *end = NULL;
        long long ms = strtoll(q->after.data, &end, 10);
        if (end && *end == '/') {
            walk = ms;
            after = end + 1;
        }
    }
    if (g->groups.n > 1)
        qsort(g->groups.items, g->groups.n, sizeof *g->groups.items, cmp_group);
    omtp_ids_sort(&g->deleted);
    uint32_t gi = 0, di = 0;
    while (gi < g->groups.n && strcmp(g->groups.items[gi].groupId.data, after) <= 0)
        gi++;
    while (di < g->deleted.n && strcmp(g->deleted.items[di].data, after) <= 0)
        di++;
    uint32_t g0 = gi, d0 = di;
    size_t used = 0, budget = omtp_reply_budget(g->srv->cfg);
    const char *last = NULL;
    while (gi < g->groups.n || di < g->deleted.n) {
        bool group = di >= g->deleted.n ||
                     (gi < g->groups.n &&
                      strcmp(g->groups.items[gi].groupId.data, g->deleted.items[di].data) < 0);
        uint32_t k = group ? omtp_fit_structs(&omtp_GroupChatInfo_desc, &g->groups.items[gi], 1,
                                              &used, budget)
                           : omtp_fit_strs(&g->deleted.items[di], 1, &used, budget);
        if (k == 0)
            break;
        last = group ? g->groups.items[gi++].groupId.data : g->deleted.items[di++].data;
    }
    r->groupchats.items = gi > g0 ? g->groups.items + g0 : NULL;
    r->groupchats.n = gi - g0;
    r->delGroupChatIds.items = di > d0 ? g->deleted.items + d0 : NULL;
    r->delGroupChatIds.n = di - d0;
    bool more = gi < g->groups.n || di < g->deleted.n;
    r->timestamp = more ? q->timestamp : walk;
    if (more && last) {
        char next[OMTP_ID_MAX + 32];
        snprintf(next, sizeof next, "%lld/%s", (long long)walk, last);
        tars_str_set(&r->next, next);
        g->srv->metrics.replies_paged++;
    }
}

/* Store-thread work of each operation, indexed by enum gop_kind. */
static int (*const gop_works[])(omtp_db *db, gop *g) = {
    [GOP_SYNC] = work_sync, [GOP_CREATE] = work_create,   [GOP_JOIN] = work_join,
    [GOP_QUIT] = work_quit, [GOP_DISMISS] = work_dismiss, [GOP_CREATOR] = work_creator,
    [GOP_INFO] = work_info, [GOP_MEMBERS] = work_members,
};

static int gop_work(omtp_db *db, void *arg)
{
    gop *g = arg;
    int rc = gop_works[g->kind](db, g);
    if (rc < 0 && !g->ec)
        snprintf(g->desc, sizeof(g->desc), "%s: %s", omtp_strerror(rc), db->errmsg);
    return rc;
}

/* ----------------------------------------------------- loop thread */

static void notify_members(gop *g, omtp_conn *except)
{
    tars_str_list *who = g->notify.n ? &g->notify : &g->after;
    if (!who->n)
        return;
    char *content = omtp_json_kv("groupId", g->groupId, "op", gop_names[g->kind], NULL);
    tars_str_list copy = {0};
    omtp_ids_move(&copy, who);
    omtp_members *m = omtp_members_new(&copy);
    if (content && m)
        omtp_fanout_sync_cmd(g->srv, m, SYNC_GROUP, content, except);
    omtp_members_unref(m);
    free(content);
}

static void gop_finish(gop *g, int status)
{
    omtp_req *req = g->req;
    omtp_server *s = g->srv;
    bool changes = g->kind != GOP_SYNC && g->kind != GOP_MEMBERS;
    if (g->kind == GOP_JOIN || g->kind == GOP_QUIT || g->kind == GOP_DISMISS) {
        /* membership may have changed: put the exact new list in the cache if
         * nothing else touched memberships since we were submitted */
        if (!g->ec && status == 0 && g->haveAfter && omtp_group_cache_epoch(s) == g->epoch) {
            tars_str_list copy = {0};
            if (omtp_ids_normalize(&g->after, NULL, &copy, g->desc, sizeof(g->desc)) == 0) {
                omtp_members *m = omtp_members_new(&copy);
                if (m) {
                    omtp_group_cache_put(s, g->groupId, m, g->epoch);
                    omtp_members_unref(m);
                }
            }
        } else {
            omtp_group_cache_invalidate(s, g->groupId);
        }
        if (g->kind == GOP_DISMISS)
            omtp_group_cache_invalidate(s, g->groupId);
    }
    if (g->ec) {
        omtp_reply_code(req, g->ec, "%s", g->desc);
        gop_free(g);
        return;
    }
    if (status < 0) {
        LOG_ERROR("group %s %s by %s failed: %s", gop_names[g->kind], g->groupId, g->userId,
                  g->desc[0] ? g->desc : omtp_strerror(status));
        omtp_reply_code(req, OMTP_EC_DB_ERROR, "storage failed, try again");
        gop_free(g);
        return;
    }
    omtp_conn *conn = req->conn;
    omtp_conn_ref(conn);
    switch (g->kind) {
    case GOP_CREATE: {
        if (g->haveAfter && g->after.n) {
            tars_str_list copy = {0};
            if (omtp_ids_normalize(&g->after, NULL, &copy, g->desc, sizeof(g->desc)) == 0) {
                omtp_members *m = omtp_members_new(&copy);
                if (m) {
                    omtp_group_cache_put(s, g->groupId, m, g->epoch);
                    omtp_members_unref(m);
                }
            }
        }
        omtp_GroupChatCreateResp r;
        omtp_msg_init(&omtp_GroupChatCreateResp_desc, &r);
        tars_str_set(&r.groupId, g->groupId);
        omtp_reply(req, &omtp_GroupChatCreateResp_desc, &r);
        omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
        break;
    }
    case GOP_JOIN: {
        omtp_GroupChatJoinResp r;
        omtp_msg_init(&omtp_GroupChatJoinResp_desc, &r);
        tars_str_set(&r.groupId, g->groupId);
        omtp_reply(req, &omtp_GroupChatJoinResp_desc, &r);
        omtp_msg_free(&omtp_GroupChatJoinResp_desc, &r);
        break;
    }
    case GOP_MEMBERS: {
        omtp_GroupChatMemberGetResp r;
        omtp_msg_init(&omtp_GroupChatMemberGetResp_desc, &r);
        tars_str_set(&r.groupId, g->groupId);
        /* one page of the sorted ids after the cursor (docs/protocol.md 7.2) */
        const omtp_GroupChatMemberGetReq *q = req->body;
        const char *after = q->after.len ? q->after.data : "";
        uint32_t lo = 0;
        while (lo < g->after.n && strcmp(g->after.items[lo].data, after) <= 0)
            lo++;
        size_t used = 0;
        uint32_t k = lo >= g->after.n ? 0
                                      : omtp_fit_strs(g->after.items + lo, g->after.n - lo, &used,
                                                      omtp_reply_budget(s->cfg));
        r.memberIds.items = k ? g->after.items + lo : NULL; /* borrowed for the encode */
        r.memberIds.n = k;
        if (lo + k < g->after.n) {
            tars_str_set(&r.next, g->after.items[lo + k - 1].data);
            s->metrics.replies_paged++;
        }
        omtp_reply(req, &omtp_GroupChatMemberGetResp_desc, &r);
        r.memberIds.items = NULL;
        r.memberIds.n = 0;
        omtp_msg_free(&omtp_GroupChatMemberGetResp_desc, &r);
        if (omtp_group_cache_epoch(s) == g->epoch) {
            omtp_members *m = omtp_members_new(&g->after);
            if (m) {
                omtp_group_cache_put(s, g->groupId, m, g->epoch);
                omtp_members_unref(m);
            }
        }
        break;
    }
    case GOP_SYNC: {
        omtp_GroupChatSyncResp r;
        omtp_msg_init(&omtp_GroupChatSyncResp_desc, &r);
        sync_page(g, req->body, &r);
        omtp_reply(req, &omtp_GroupChatSyncResp_desc, &r);
        memset(&r.groupchats, 0, sizeof(r.groupchats));
        memset(&r.delGroupChatIds, 0, sizeof(r.delGroupChatIds));
        omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
        break;
    }
    default:
        omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
        break;
    }
    if (changes)
        notify_members(g, conn);
    omtp_conn_unref(conn);
    gop_free(g);
}

static void gop_announced(void *arg)
{
    gop *g = arg;
    gop_finish(g, g->status);
}

static void gop_done(void *arg, int status)
{
    gop *g = arg;
    bool membership = g->kind == GOP_JOIN || g->kind == GOP_QUIT || g->kind == GOP_DISMISS;
    if (membership && !g->ec && status == 0) {
        /* other nodes drop their cached member list before the client hears
         * back (cluster.h), so its next send through any node sees the change */
        g->status = status;
        omtp_cluster_group_changed(g->srv->cluster, g->groupId, gop_announced, g);
        return;
    }
    gop_finish(g, status);
}

static void gop_submit(gop *g)
{
    if (g->kind == GOP_JOIN || g->kind == GOP_QUIT || g->kind == GOP_DISMISS)
        omtp_group_cache_invalidate(g->srv, g->groupId);
    g->epoch = omtp_group_cache_epoch(g->srv);
    int rc = omtp_store_submit(g->srv->store, gop_work, gop_done, g);
    if (rc) {
        omtp_reply_code(g->req, OMTP_EC_SERVICE_UNAVAILABLE, "store unavailable: %s",
                        omtp_strerror(rc));
        gop_free(g);
    }
}

static bool need_body(omtp_req *req)
{
    if (!req->body) {
        omtp_reply_code(req, OMTP_EC_PARAM, "the request has no payload");
        return false;
    }
    return true;
}

void handle_group_sync(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatSyncReq *q = req->body;
    if (q->timestamp < 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "timestamp is negative");
        return;
    }
    gop *g = gop_new(req, GOP_SYNC);
    if (!g)
        return;
    g->since = q->timestamp;
    gop_submit(g);
}

void handle_group_create(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatCreateReq *q = req->body;
    const omtp_GroupChatInfo *in = &q->groupInfo;
    gop *g = gop_begin(req, GOP_CREATE, &in->creatorId, NULL);
    if (!g)
        return;
    if (in->groupId.len) {
        if (in->groupId.len > OMTP_ID_MAX || strncmp(in->groupId.data, "GC_", 3) != 0 ||
            in->groupId.len < 4 || strlen(in->groupId.data) != in->groupId.len ||
            strpbrk(in->groupId.data, " \t\r\n")) {
            omtp_reply_code(req, OMTP_EC_PARAM,
                            "groupId %s: a chosen id starts with GC_, has no spaces and is at "
                            "most %d bytes",
                            in->groupId.data, OMTP_ID_MAX);
            gop_free(g);
            return;
        }
        memcpy(g->groupId, in->groupId.data, in->groupId.len + 1);
        g->idGiven = true;
    }
    int32_t limit = in->memberLimit > 0 ? in->memberLimit : g->defLimit;
    if (in->memberLimit < 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "memberLimit %d is negative (0 = the default %d)",
                        in->memberLimit, g->defLimit);
        gop_free(g);
        return;
    }
    if (limit > g->defLimit) {
        omtp_reply_code(req, OMTP_EC_GROUP_MEMBER_LIMIT,
                        "memberLimit %d is above this server's group_member_limit %d; ask the "
                        "administrator (HTTP API) for a bigger group",
                        limit, g->defLimit);
        gop_free(g);
        return;
    }
    char why[160];
    int rc = omtp_ids_normalize(&q->memberIds, g->userId, &g->ids, why, sizeof(why));
    if (rc) {
        omtp_reply_code(req, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        "memberIds: %s", rc == OMTP_EINVAL ? why : "out of memory");
        gop_free(g);
        return;
    }
    if (g->ids.n > (uint32_t)limit) {
        omtp_reply_code(req, OMTP_EC_GROUP_MEMBER_LIMIT,
                        "%u members (creator included) exceed the memberLimit %d", g->ids.n, limit);
        gop_free(g);
        return;
    }
    if (tars_str_setn(&g->info.name, in->name.data, in->name.len) ||
        tars_str_setn(&g->info.avatar, in->avatar.data, in->avatar.len) ||
        tars_str_setn(&g->info.desc, in->desc.data, in->desc.len)) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        gop_free(g);
        return;
    }
    g->info.memberLimit = limit;
    gop_submit(g);
}

void handle_group_join(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatJoinReq *q = req->body;
    gop *g = gop_begin(req, GOP_JOIN, NULL, &q->groupId);
    if (!g)
        return;
    char why[160];
    int rc = omtp_ids_normalize(&q->memberIds, NULL, &g->ids, why, sizeof(why));
    if (rc || g->ids.n == 0) {
        omtp_reply_code(req, rc && rc != OMTP_EINVAL ? OMTP_EC_SERVER_EXCEPTION : OMTP_EC_PARAM,
                        "memberIds: %s", rc ? why : "empty");
        gop_free(g);
        return;
    }
    gop_submit(g);
}

void handle_group_quit(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatQuitReq *q = req->body;
    gop *g = gop_begin(req, GOP_QUIT, &q->operatorId, &q->groupId);
    if (!g)
        return;
    char why[160];
    int rc = omtp_ids_normalize(&q->memberIds, q->memberIds.n ? NULL : g->userId, &g->ids, why,
                                sizeof(why));
    if (rc) {
        omtp_reply_code(req, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        "memberIds: %s", rc == OMTP_EINVAL ? why : "out of memory");
        gop_free(g);
        return;
    }
    gop_submit(g);
}

void handle_group_dismiss(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatDismissReq *q = req->body;
    gop *g = gop_begin(req, GOP_DISMISS, &q->operatorId, &q->groupId);
    if (!g)
        return;
    gop_submit(g);
}

void handle_group_update_creator(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatCreatorUpdateReq *q = req->body;
    gop *g = gop_begin(req, GOP_CREATOR, &q->operatorId, &q->groupId);
    if (!g)
        return;
    if (q->newCreatorId.len == 0 || q->newCreatorId.len > OMTP_ID_MAX) {
        omtp_reply_code(req, OMTP_EC_PARAM, "newCreatorId is %s",
                        q->newCreatorId.len ? "too long" : "empty");
        gop_free(g);
        return;
    }
    memcpy(g->otherId, q->newCreatorId.data, q->newCreatorId.len + 1);
    gop_submit(g);
}

void handle_group_info_update(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatInfoUpdateReq *q = req->body;
    if (!check_operator(req, &q->operatorId))
        return;
    if (q->groupInfo.memberLimit < 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "memberLimit %d is negative (0 = unchanged)",
                        q->groupInfo.memberLimit);
        return;
    }
    uint32_t most =
        req->conn->srv->cfg->group_member_limit ? req->conn->srv->cfg->group_member_limit : 500;
    if ((uint32_t)q->groupInfo.memberLimit > most) {
        omtp_reply_code(req, OMTP_EC_GROUP_MEMBER_LIMIT,
                        "memberLimit %d is above this server's group_member_limit %u; ask the "
                        "administrator (HTTP API) for a bigger group",
                        q->groupInfo.memberLimit, most);
        return;
    }
    gop *g = gop_begin(req, GOP_INFO, NULL, &q->groupInfo.groupId);
    if (!g)
        return;
    gop_submit(g);
}

void handle_group_members_get(omtp_req *req)
{
    if (!need_body(req))
        return;
    const omtp_GroupChatMemberGetReq *q = req->body;
    gop *g = gop_begin(req, GOP_MEMBERS, NULL, &q->groupId);
    if (!g)
        return;
    gop_submit(g);
}
