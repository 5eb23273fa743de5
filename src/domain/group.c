/*
 * domain/group.c - the group operations (domain/group.h): checks, store
 * work, cache, cluster notice, sync-data pushes. The adapters (OMTP
 * group.c, HTTP http_groups.c) only decode, call and encode.
 */
#include "domain/group.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "domain/group_state.h"
#include "core/idlist.h"
#include "core/server.h"

enum gop_kind {
    GOP_SYNC,
    GOP_CREATE,
    GOP_JOIN,
    GOP_QUIT,
    GOP_DISMISS,
    GOP_CREATOR,
    GOP_INFO,
    GOP_GET,
};

/* the "op" of the sync-data push */
static const char *const gop_names[] = {"sync",    "create",  "join", "quit",
                                        "dismiss", "creator", "info", "members"};

typedef struct gop {
    int kind;
    omtp_server *srv;
    omtp_dom_caller who;
    char userId[OMTP_ID_MAX + 1]; /* who.user points here */
    omtp_dom_group_done cb;
    void *arg;
    char otherId[OMTP_ID_MAX + 1]; /* new creator */
    bool idGiven;                  /* create: the id was chosen */
    int64_t since;                 /* sync */
    int32_t defLimit;
    uint64_t epoch;
    omtp_GroupChatInfo in; /* info: the requested changes */
    tars_str_list ids;     /* create/join/quit: the normalised ids */
    tars_str_list others;  /* create: the members but the creator */
    tars_str_list notify;  /* who gets SYNC_DATA_CMD when not out.members */
    bool haveAfter;        /* out.members is the full current member list */
    bool started;          /* create/join: checked; next chunks only add */
    uint32_t pos;          /* create/join: ids added so far */
    bool dismissing;       /* dismiss: checked; next chunks only remove */
    int status;            /* the store's, kept while the cluster notice runs */
    omtp_dom_outcome res;
    omtp_dom_group_out out;
} gop;

static void gop_free(gop *g)
{
    if (g->who.conn)
        omtp_conn_unref(g->who.conn);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g->in);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g->out.info);
    omtp_ids_free(&g->ids);
    omtp_ids_free(&g->others);
    omtp_ids_free(&g->notify);
    omtp_ids_free(&g->out.members);
    omtp_ids_free(&g->out.deleted);
    omtp_list_free(&omtp_GroupChatInfo_desc, &g->out.groups);
    free(g);
}

/* Calls back and frees: the end of every operation. */
static void gop_end(gop *g)
{
    g->cb(g->arg, &g->res, &g->out);
    gop_free(g);
}

static gop *gop_new(omtp_server *s, const omtp_dom_caller *who, int kind, omtp_dom_group_done cb,
                    void *arg)
{
    gop *g = calloc(1, sizeof(*g));
    if (!g) {
        omtp_dom_outcome r = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(r.desc, sizeof(r.desc), "out of memory");
        omtp_dom_group_out out;
        memset(&out, 0, sizeof(out));
        cb(arg, &r, &out);
        return NULL;
    }
    g->kind = kind;
    g->srv = s;
    g->who = *who;
    if (who->user)
        snprintf(g->userId, sizeof(g->userId), "%s", who->user);
    g->who.user = g->userId;
    if (g->who.conn)
        omtp_conn_ref(g->who.conn);
    g->cb = cb;
    g->arg = arg;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g->in);
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g->out.info);
    g->defLimit = s->cfg && s->cfg->group_member_limit ? (int32_t)s->cfg->group_member_limit : 500;
    return g;
}

/* The most memberLimit this caller may set. */
static int32_t max_limit(const gop *g)
{
    if (!omtp_dom_is_admin(&g->who))
        return g->defLimit;
    return g->srv->cfg && g->srv->cfg->group_member_hard_limit
               ? (int32_t)g->srv->cfg->group_member_hard_limit
               : 100000;
}

static bool take_group_id(gop *g, const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_ID_EMPTY, "invalid_field", "groupId is empty");
        return false;
    }
    if (n > OMTP_ID_MAX) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field", "groupId is longer than %d bytes",
                        OMTP_ID_MAX);
        return false;
    }
    memcpy(g->out.groupId, id, n + 1);
    return true;
}

static bool limit_ok(gop *g, int32_t limit, const char *zero)
{
    if (limit < 0) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field",
                        "memberLimit %d is negative (0 = %s)", limit, zero);
        return false;
    }
    if (limit > max_limit(g)) {
        if (omtp_dom_is_admin(&g->who))
            omtp_dom_refuse(&g->res, OMTP_EC_GROUP_MEMBER_LIMIT, "invalid_field",
                            "the field \"memberLimit\" must be 0..%d (group_member_hard_limit)",
                            max_limit(g));
        else
            omtp_dom_refuse(&g->res, OMTP_EC_GROUP_MEMBER_LIMIT, "member_limit",
                            "memberLimit %d is above this server's group_member_limit %d; ask the "
                            "administrator (HTTP API) for a bigger group",
                            limit, g->defLimit);
        return false;
    }
    return true;
}

static bool take_ids(gop *g, const tars_str_list *in, const char *extra)
{
    char why[160];
    static const tars_str_list none;
    int rc = omtp_ids_normalize(in ? in : &none, extra, &g->ids, why, sizeof(why));
    if (rc == OMTP_EINVAL) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field", "memberIds: %s", why);
        return false;
    }
    if (rc) {
        omtp_dom_refuse(&g->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        return false;
    }
    return true;
}

/* ----------------------------------------------------- store thread */

static int load_group(omtp_db *db, gop *g)
{
    bool dismissed = false;
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g->out.info);
    int rc = omtp_db_group_get(db, g->out.groupId, &g->out.info, &dismissed);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed)) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NOT_EXIST, "unknown_group",
                        "group %s does not exist%s", g->out.groupId,
                        dismissed ? " (dismissed)" : "");
        return 0;
    }
    return rc;
}

static bool is_creator(const gop *g)
{
    return strcmp(g->out.info.creatorId.data, g->userId) == 0;
}

static int fetch_members(omtp_db *db, gop *g, tars_str_list *out)
{
    tars_str_list l = {0};
    int rc = omtp_db_group_members(db, g->out.groupId, &l);
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
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_USER_NOTEXIST, "unknown_user",
                        "%d of the user ids are not users (e.g. %s)", missing, first);
    return rc;
}

/* Adds the next chunk of `all` from g->pos; after the last, the members. */
static int add_chunk(omtp_db *db, gop *g, const tars_str_list *all)
{
    uint32_t n = all->n - g->pos < OMTP_DOM_GROUP_MEMBERS_PER_ITEM
                     ? all->n - g->pos
                     : OMTP_DOM_GROUP_MEMBERS_PER_ITEM;
    tars_str_list part = {.items = all->items + g->pos, .n = n};
    int added = 0;
    int rc = n ? omtp_db_group_add_members(db, g->out.groupId, &part, &added) : 0;
    if (rc)
        return rc;
    g->out.count += added;
    g->pos += n;
    if (g->pos < all->n)
        return OMTP_STORE_MORE;
    rc = fetch_members(db, g, &g->out.members);
    g->haveAfter = rc == 0;
    return rc;
}

static void new_group_id(char *id)
{
    char u[37];
    omtp_uuid(u);
    int w = 0;
    id[w++] = 'G', id[w++] = 'C', id[w++] = '_';
    for (const char *p = u; *p; p++)
        if (*p != '-')
            id[w++] = *p;
    id[w] = 0;
}

static int work_create(omtp_db *db, gop *g)
{
    if (g->started)
        return add_chunk(db, g, &g->others);
    int rc = check_users(db, g, &g->ids);
    if (rc || g->res.code)
        return rc;
    for (int attempt = 0;; attempt++) {
        if (!g->idGiven)
            new_group_id(g->out.groupId);
        omtp_GroupChatInfo old;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &old);
        bool dismissed = false;
        rc = omtp_db_group_get(db, g->out.groupId, &old, &dismissed);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &old);
        if (rc == OMTP_ENOTFOUND)
            break;
        if (rc)
            return rc;
        if (g->idGiven || attempt >= 3) {
            omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "group_exists", "group id %s is taken",
                            g->out.groupId);
            return 0;
        }
    }
    if (tars_str_set(&g->out.info.groupId, g->out.groupId))
        return OMTP_ENOMEM;
    /* the store adds the creator itself */
    g->others.items = calloc(g->ids.n + 1, sizeof(tars_str));
    if (!g->others.items)
        return OMTP_ENOMEM;
    for (uint32_t i = 0; i < g->ids.n; i++)
        if (strcmp(g->ids.items[i].data, g->out.info.creatorId.data) != 0 &&
            tars_str_set(&g->others.items[g->others.n++], g->ids.items[i].data))
            return OMTP_ENOMEM;
    uint32_t first = g->others.n < OMTP_DOM_GROUP_MEMBERS_PER_ITEM
                         ? g->others.n
                         : OMTP_DOM_GROUP_MEMBERS_PER_ITEM;
    tars_str_list part = {.items = g->others.items, .n = first};
    rc = omtp_db_group_create(db, &g->out.info, &part);
    if (rc == OMTP_EEXIST) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "group_exists", "group id %s is taken",
                        g->out.groupId);
        return rc;
    }
    if (rc)
        return rc;
    g->started = true;
    g->pos = first;
    return add_chunk(db, g, &g->others);
}

static int work_join(omtp_db *db, gop *g)
{
    if (g->started)
        return add_chunk(db, g, &g->ids);
    int rc = load_group(db, g);
    if (rc || g->res.code)
        return rc;
    if (!omtp_dom_is_admin(&g->who)) {
        bool member = false;
        rc = omtp_db_group_is_member(db, g->out.groupId, g->userId, &member);
        if (rc)
            return rc;
        if (!member) {
            omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                            "%s is not a member of %s: only members add members", g->userId,
                            g->out.groupId);
            return 0;
        }
    }
    rc = check_users(db, g, &g->ids);
    if (rc || g->res.code)
        return rc;
    tars_str_list before = {0};
    rc = fetch_members(db, g, &before);
    if (rc)
        return rc;
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < g->ids.n; i++)
        fresh += !omtp_ids_contains(&before, g->ids.items[i].data);
    int32_t limit = g->out.info.memberLimit > 0 ? g->out.info.memberLimit : g->defLimit;
    if ((int64_t)before.n + fresh > limit) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_MEMBER_LIMIT, "member_limit",
                        "group %s has %u members, adding %u would pass its limit of %d",
                        g->out.groupId, before.n, fresh, limit);
        omtp_ids_free(&before);
        return 0;
    }
    omtp_ids_free(&before);
    g->started = true;
    return add_chunk(db, g, &g->ids);
}

static int work_quit(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->res.code)
        return rc;
    const char *creator = g->out.info.creatorId.data;
    if (omtp_ids_contains(&g->ids, creator)) {
        if (omtp_dom_is_admin(&g->who))
            omtp_dom_refuse(
                &g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "is_creator",
                "%s is the creator of %s and cannot be removed (dismiss the group instead)",
                creator, g->out.groupId);
        else
            omtp_dom_refuse(
                &g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "is_creator",
                "the creator %s cannot leave %s: hand it over (UPDATE_CREATOR) or dismiss it",
                creator, g->out.groupId);
        return 0;
    }
    bool self_only = g->ids.n == 1 && strcmp(g->ids.items[0].data, g->userId) == 0;
    if (!omtp_dom_is_admin(&g->who) && !self_only && !is_creator(g)) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                        "only the creator of %s may remove other members", g->out.groupId);
        return 0;
    }
    rc = fetch_members(db, g, &g->notify);
    if (rc)
        return rc;
    if (omtp_dom_is_admin(&g->who))
        for (uint32_t i = 0; i < g->ids.n; i++)
            if (!omtp_ids_contains(&g->notify, g->ids.items[i].data)) {
                omtp_dom_refuse(&g->res, OMTP_EC_GROUP_USER_NOTEXIST, "not_member",
                                "%s is not a member of %s", g->ids.items[i].data, g->out.groupId);
                return 0;
            }
    rc = omtp_db_group_remove_members(db, g->out.groupId, &g->ids, &g->out.count);
    if (rc)
        return rc;
    rc = fetch_members(db, g, &g->out.members);
    g->haveAfter = rc == 0;
    return rc;
}

/* In chunks of OMTP_GROUP_DISMISS_CHUNK members (store.h): a big group does
 * not hold the store thread; the answer comes after the last chunk. */
static int work_dismiss(omtp_db *db, gop *g)
{
    int rc;
    if (!g->dismissing) {
        rc = load_group(db, g);
        if (rc || g->res.code)
            return rc;
        if (!omtp_dom_is_admin(&g->who) && !is_creator(g)) {
            omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                            "only the creator of %s may dismiss it", g->out.groupId);
            return 0;
        }
        rc = fetch_members(db, g, &g->notify);
        if (rc)
            return rc;
        g->dismissing = true;
    }
    int left = 0;
    rc = omtp_db_group_dismiss_step(db, g->out.groupId, OMTP_GROUP_DISMISS_CHUNK, &left);
    return rc ? rc : left ? OMTP_STORE_MORE : 0;
}

static int work_creator(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->res.code)
        return rc;
    if (!omtp_dom_is_admin(&g->who) && !is_creator(g)) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                        "only the creator of %s may hand it over", g->out.groupId);
        return 0;
    }
    bool member = false;
    rc = omtp_db_group_is_member(db, g->out.groupId, g->otherId, &member);
    if (rc)
        return rc;
    if (!member) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_USER_NOTEXIST, "not_member",
                        "the new creator %s is not a member of %s", g->otherId, g->out.groupId);
        return 0;
    }
    if (strcmp(g->otherId, g->out.info.creatorId.data) != 0) {
        rc = omtp_db_group_set_creator(db, g->out.groupId, g->otherId);
        if (rc)
            return rc;
        if (tars_str_set(&g->out.info.creatorId, g->otherId))
            return OMTP_ENOMEM;
    }
    return fetch_members(db, g, &g->notify);
}

static int work_info(omtp_db *db, gop *g)
{
    const omtp_GroupChatInfo *in = &g->in;
    int rc = load_group(db, g);
    if (rc || g->res.code)
        return rc;
    if (!omtp_dom_is_admin(&g->who) && !is_creator(g)) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                        "only the creator of %s may change its info", g->out.groupId);
        return 0;
    }
    rc = fetch_members(db, g, &g->notify);
    if (rc)
        return rc;
    if (in->memberLimit > 0 && (uint32_t)in->memberLimit < g->notify.n) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_MEMBER_LIMIT, "member_limit",
                        "memberLimit %d is below the %u members %s has now", in->memberLimit,
                        g->notify.n, g->out.groupId);
        return 0;
    }
    omtp_GroupChatInfo *o = &g->out.info;
    if ((in->name.len && tars_str_setn(&o->name, in->name.data, in->name.len)) ||
        (in->avatar.len && tars_str_setn(&o->avatar, in->avatar.data, in->avatar.len)) ||
        (in->desc.len && tars_str_setn(&o->desc, in->desc.data, in->desc.len)))
        return OMTP_ENOMEM;
    if (in->memberLimit > 0)
        o->memberLimit = in->memberLimit;
    return omtp_db_group_update_info(db, o);
}

static int work_get(omtp_db *db, gop *g)
{
    int rc = load_group(db, g);
    if (rc || g->res.code)
        return rc;
    if (!omtp_dom_is_admin(&g->who)) {
        bool member = false;
        rc = omtp_db_group_is_member(db, g->out.groupId, g->userId, &member);
        if (rc)
            return rc;
        if (!member) {
            omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                            "%s is not a member of %s", g->userId, g->out.groupId);
            return 0;
        }
    }
    rc = fetch_members(db, g, &g->out.members);
    g->haveAfter = rc == 0;
    return rc;
}

static int work_sync(omtp_db *db, gop *g)
{
    /* a change in the same millisecond as this query but after it must not be
     * lost: the cursor handed back is one ms before the query started */
    g->out.timestamp = omtp_now_ms() - 1;
    return omtp_db_group_sync(db, g->userId, g->since, &g->out.groups, &g->out.deleted);
}

static int (*const gop_works[])(omtp_db *db, gop *g) = {
    [GOP_SYNC] = work_sync, [GOP_CREATE] = work_create,   [GOP_JOIN] = work_join,
    [GOP_QUIT] = work_quit, [GOP_DISMISS] = work_dismiss, [GOP_CREATOR] = work_creator,
    [GOP_INFO] = work_info, [GOP_GET] = work_get,
};

static int gop_work(omtp_db *db, void *arg)
{
    gop *g = arg;
    int rc = gop_works[g->kind](db, g);
    if (rc < 0 && !g->res.code)
        snprintf(g->res.desc, sizeof(g->res.desc), "%s: %s", omtp_strerror(rc), db->errmsg);
    return rc;
}

/* ----------------------------------------------------- loop thread */

static bool changes_membership(const gop *g)
{
    return g->kind == GOP_JOIN || g->kind == GOP_QUIT || g->kind == GOP_DISMISS;
}

/* Changes what a send checks (check_cache.h: exists, dismissed, creator,
 * members): the member cache's entry goes when submitted and completed,
 * and other nodes hear of it. */
static bool changes_checks(const gop *g)
{
    return changes_membership(g) || g->kind == GOP_CREATE || g->kind == GOP_CREATOR;
}

static void cache_put(gop *g, const tars_str_list *ids)
{
    tars_str_list copy = {0};
    char why[160];
    if (omtp_ids_normalize(ids, NULL, &copy, why, sizeof(why)) != 0)
        return;
    omtp_members *m = omtp_members_new(&copy);
    if (m) {
        omtp_group_cache_put(g->srv, g->out.groupId, m, g->epoch);
        omtp_members_unref(m);
    }
}

/* PT_SYNC_DATA_CMD 3 to the members before (quit, dismiss, creator, info)
 * or after (create, join) the change, but the asking connection. */
static void notify_members(gop *g)
{
    tars_str_list *who = g->notify.n ? &g->notify : &g->out.members;
    if (!who->n)
        return;
    char *content = omtp_json_kv("groupId", g->out.groupId, "op", gop_names[g->kind], NULL);
    tars_str_list copy = {0};
    char why[160];
    if (omtp_ids_normalize(who, NULL, &copy, why, sizeof(why)) != 0) {
        free(content);
        return;
    }
    omtp_members *m = omtp_members_new(&copy);
    if (content && m)
        omtp_fanout_sync_cmd(g->srv, m, SYNC_GROUP, content, g->who.conn);
    omtp_members_unref(m);
    free(content);
}

static void gop_finish(gop *g)
{
    omtp_server *s = g->srv;
    int status = g->status;
    bool ok = !g->res.code && status == 0;
    if (changes_membership(g)) {
        /* the exact new list goes into the cache if nothing else touched
         * memberships since we were submitted */
        if (ok && g->haveAfter && g->kind != GOP_DISMISS && omtp_group_cache_epoch(s) == g->epoch)
            cache_put(g, &g->out.members);
        else
            omtp_group_cache_invalidate(s, g->out.groupId);
    } else if (ok && g->haveAfter && (g->kind == GOP_CREATE || g->kind == GOP_GET) &&
               omtp_group_cache_epoch(s) == g->epoch) {
        cache_put(g, &g->out.members);
    } else if (changes_checks(g)) {
        omtp_group_cache_invalidate(s, g->out.groupId);
    }
    if (!g->res.code && status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("group %s %s by %s failed: %s", gop_names[g->kind], g->out.groupId,
                      g->userId[0] ? g->userId : "the administrator",
                      g->res.desc[0] ? g->res.desc : omtp_strerror(status));
        g->res.code = OMTP_EC_DB_ERROR;
        g->res.reason = "storage";
        g->res.err = status;
        snprintf(g->res.desc, sizeof(g->res.desc), "storage failed (%s), try again",
                 omtp_strerror(status));
    }
    if (g->res.code) {
        omtp_msg_free(&omtp_GroupChatInfo_desc, &g->out.info);
        omtp_msg_init(&omtp_GroupChatInfo_desc, &g->out.info);
        omtp_ids_free(&g->out.members);
        omtp_ids_free(&g->notify);
        gop_end(g);
        return;
    }
    bool changes = g->kind != GOP_SYNC && g->kind != GOP_GET;
    /* the pushes go out after the answer, from a list of our own (the
     * callback may move out.members) */
    if (changes && !g->notify.n)
        omtp_ids_normalize(&g->out.members, NULL, &g->notify, g->res.desc, sizeof(g->res.desc));
    g->res.desc[0] = 0;
    g->cb(g->arg, &g->res, &g->out);
    if (changes)
        notify_members(g);
    gop_free(g);
}

static void gop_announced(void *arg)
{
    gop_finish(arg);
}

static void gop_done(void *arg, int status)
{
    gop *g = arg;
    g->status = status;
    if (changes_checks(g) && !g->res.code && status == 0) {
        /* other nodes drop their cached member list before the caller hears
         * back (cluster.h), so its next send through any node sees the
         * change: the same for every caller (docs/architecture.md) */
        omtp_cluster_group_changed(g->srv->cluster, g->out.groupId, gop_announced, g);
        return;
    }
    gop_finish(g);
}

static void gop_submit(gop *g)
{
    if (changes_checks(g))
        omtp_group_cache_invalidate(g->srv, g->out.groupId);
    g->epoch = omtp_group_cache_epoch(g->srv);
    int rc = omtp_store_submit(g->srv->store, gop_work, gop_done, g);
    if (rc) {
        omtp_dom_refuse(&g->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        g->res.err = rc;
        gop_end(g);
    }
}

/* Refused before the store: answer now. */
static void gop_refused(gop *g)
{
    gop_end(g);
}

/* A new operation of `kind` on the group groupId: NULL when it could not
 * start (out of memory: cb already told; a bad id: refused and ended). */
static gop *gop_on_group(omtp_server *s, const omtp_dom_caller *who, int kind, const char *groupId,
                         omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_new(s, who, kind, cb, arg);
    if (g && !take_group_id(g, groupId)) {
        gop_refused(g);
        return NULL;
    }
    return g;
}

/* The member list of a join or quit must name someone. */
static bool ids_given(gop *g)
{
    if (g->ids.n)
        return true;
    omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field", "memberIds: empty");
    return false;
}

/* ----------------------------------------------------- operations */

void omtp_dom_group_create(omtp_server *s, const omtp_dom_caller *who, const omtp_GroupChatInfo *in,
                           const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_new(s, who, GOP_CREATE, cb, arg);
    if (!g)
        return;
    const char *creator = in->creatorId.len ? in->creatorId.data : "";
    if (omtp_dom_is_admin(who)) {
        if (!creator[0] || !omtp_id_valid(creator)) {
            omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field",
                            "creatorId: give the id of an existing user");
            return gop_refused(g);
        }
    } else if (creator[0] && strcmp(creator, g->userId) != 0) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_NO_PRIVILEGE, "no_privilege",
                        "creatorId %s is not the logged-in user %s", creator, g->userId);
        return gop_refused(g);
    } else {
        creator = g->userId;
    }
    if (in->groupId.len) {
        const char *id = in->groupId.data;
        if (in->groupId.len > OMTP_ID_MAX || strncmp(id, "GC_", 3) != 0 || in->groupId.len < 4 ||
            strlen(id) != in->groupId.len || strpbrk(id, " \t\r\n")) {
            omtp_dom_refuse(
                &g->res, OMTP_EC_PARAM, "invalid_field",
                "groupId %s: a chosen id starts with GC_, has no spaces and is at most %d "
                "bytes",
                id, OMTP_ID_MAX);
            return gop_refused(g);
        }
        memcpy(g->out.groupId, id, in->groupId.len + 1);
        g->idGiven = true;
    }
    if (!limit_ok(g, in->memberLimit, "the default"))
        return gop_refused(g);
    int32_t limit = in->memberLimit > 0 ? in->memberLimit : g->defLimit;
    if (!take_ids(g, memberIds, creator))
        return gop_refused(g);
    if (g->ids.n > (uint32_t)limit) {
        omtp_dom_refuse(&g->res, OMTP_EC_GROUP_MEMBER_LIMIT, "member_limit",
                        "%u members (creator included) exceed the memberLimit %d", g->ids.n, limit);
        return gop_refused(g);
    }
    omtp_GroupChatInfo *o = &g->out.info;
    if (tars_str_setn(&o->name, in->name.data, in->name.len) ||
        tars_str_setn(&o->avatar, in->avatar.data, in->avatar.len) ||
        tars_str_setn(&o->desc, in->desc.data, in->desc.len) ||
        tars_str_set(&o->creatorId, creator)) {
        omtp_dom_refuse(&g->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        return gop_refused(g);
    }
    o->memberLimit = limit;
    gop_submit(g);
}

void omtp_dom_group_join(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                         const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_on_group(s, who, GOP_JOIN, groupId, cb, arg);
    if (!g)
        return;
    if (!take_ids(g, memberIds, NULL) || !ids_given(g))
        return gop_refused(g);
    gop_submit(g);
}

void omtp_dom_group_quit(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                         const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_on_group(s, who, GOP_QUIT, groupId, cb, arg);
    if (!g)
        return;
    bool none = !memberIds || memberIds->n == 0;
    if (!take_ids(g, memberIds, none && !omtp_dom_is_admin(who) ? g->userId : NULL) ||
        !ids_given(g))
        return gop_refused(g);
    gop_submit(g);
}

void omtp_dom_group_dismiss(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                            omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_on_group(s, who, GOP_DISMISS, groupId, cb, arg);
    if (g)
        gop_submit(g);
}

void omtp_dom_group_set_creator(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                                const char *newCreatorId, omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_on_group(s, who, GOP_CREATOR, groupId, cb, arg);
    if (!g)
        return;
    size_t n = newCreatorId ? strlen(newCreatorId) : 0;
    if (n == 0 || n > OMTP_ID_MAX) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field", "newCreatorId is %s",
                        n ? "too long" : "empty");
        return gop_refused(g);
    }
    memcpy(g->otherId, newCreatorId, n + 1);
    gop_submit(g);
}

void omtp_dom_group_update_info(omtp_server *s, const omtp_dom_caller *who,
                                const omtp_GroupChatInfo *in, omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_new(s, who, GOP_INFO, cb, arg);
    if (!g)
        return;
    if (!limit_ok(g, in->memberLimit, "unchanged") ||
        !take_group_id(g, in->groupId.len ? in->groupId.data : ""))
        return gop_refused(g);
    if (tars_str_setn(&g->in.name, in->name.data, in->name.len) ||
        tars_str_setn(&g->in.avatar, in->avatar.data, in->avatar.len) ||
        tars_str_setn(&g->in.desc, in->desc.data, in->desc.len)) {
        omtp_dom_refuse(&g->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        return gop_refused(g);
    }
    g->in.memberLimit = in->memberLimit;
    gop_submit(g);
}

void omtp_dom_group_get(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                        omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_on_group(s, who, GOP_GET, groupId, cb, arg);
    if (g)
        gop_submit(g);
}

void omtp_dom_group_sync(omtp_server *s, const omtp_dom_caller *who, int64_t since,
                         omtp_dom_group_done cb, void *arg)
{
    gop *g = gop_new(s, who, GOP_SYNC, cb, arg);
    if (!g)
        return;
    if (omtp_dom_is_admin(who)) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field",
                        "group sync is for a logged-in user");
        return gop_refused(g);
    }
    if (since < 0) {
        omtp_dom_refuse(&g->res, OMTP_EC_PARAM, "invalid_field", "timestamp is negative");
        return gop_refused(g);
    }
    g->since = since;
    gop_submit(g);
}
