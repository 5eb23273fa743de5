/*
 * pg_groups.c - PostgreSQL: groups (a group is a session; its members are
 * membership rows), friends and user attributes.
 * Same semantics as the SQLite backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "proto/omtp_proto.h"

static int row_group(const PGresult *r, int i, omtp_GroupChatInfo *g, bool *dismissed)
{
    tars_init(&omtp_GroupChatInfo_desc, g);
    g->memberLimit = (int32_t)pg_i64(r, i, 5);
    g->createTime = pg_i64(r, i, 6);
    g->updateTime = pg_i64(r, i, 7);
    if (dismissed)
        *dismissed = pg_i64(r, i, 8) != 0;
    if (pg_str(r, i, 0, &g->groupId) || pg_str(r, i, 1, &g->name) || pg_str(r, i, 2, &g->avatar) ||
        pg_str(r, i, 3, &g->creatorId) || pg_str(r, i, 4, &g->desc))
        return OMTP_ENOMEM;
    return 0;
}

/* Adds one member row (read cursor at the session's end) and clears the
 * user's "left" record. *added = whether the row is new. */
static int add_member(pg_db *d, const char *groupId, const tars_str *uid, int64_t readSeq,
                      int64_t nowUs, int64_t nowMs, bool *added)
{
    pg_args a;
    int rows = 0;
    pa_init(&a);
    pa_tstr(&a, uid);
    pa_str(&a, groupId);
    pa_i64(&a, readSeq);
    pa_i64(&a, nowUs);
    pa_i64(&a, nowMs);
    int rc = pg_run(d, PG_GROUP_MEMBER_ENSURE, &a, &rows);
    *added = rows > 0;
    if (rc || rows == 0)
        return rc;
    pa_init(&a);
    pa_tstr(&a, uid);
    pa_str(&a, groupId);
    return pg_run(d, PG_GROUP_LEFT_DEL, &a, NULL);
}

int pg_group_create(omtp_db *db, omtp_GroupChatInfo *g, const tars_str_list *members)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own, added;
    int64_t last = 0;
    if (!g->groupId.len || !g->creatorId.len)
        return OMTP_EINVAL;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t nowMs = pg_now_ms(), nowUs = pg_now_us(d);
    int rows = 0;
    pa_init(&a);
    pa_tstr(&a, &g->groupId);
    pa_tstr(&a, &g->name);
    pa_tstr(&a, &g->avatar);
    pa_tstr(&a, &g->creatorId);
    pa_tstr(&a, &g->desc);
    pa_i64(&a, g->memberLimit);
    pa_i64(&a, nowMs);
    int rc = pg_run(d, PG_GROUP_INSERT, &a, &rows);
    if (rc == 0 && rows == 0) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "group_create: %s exists",
                 g->groupId.data);
        rc = OMTP_EEXIST;
    }
    if (rc == 0) {
        pa_init(&a);
        pa_tstr(&a, &g->groupId);
        pa_i64(&a, PT_MSG_GROUP_CHAT);
        pa_i64(&a, nowUs);
        rc = pg_run(d, PG_SESSION_CREATE, &a, NULL);
    }
    if (rc == 0) {
        /* members start reading at the session's end (0 for a new one) */
        pa_init(&a);
        pa_tstr(&a, &g->groupId);
        rc = pg_one_i64(d, PG_SESSION_LAST, &a, &last);
    }
    if (rc == 0)
        rc = add_member(d, g->groupId.data, &g->creatorId, last, nowUs, nowMs, &added);
    for (uint32_t i = 0; rc == 0 && members && i < members->n; i++)
        if (members->items[i].len)
            rc = add_member(d, g->groupId.data, &members->items[i], last, nowUs, nowMs, &added);
    if (rc == 0) {
        g->createTime = nowMs;
        g->updateTime = nowMs;
    }
    return pg_op_end(d, own, rc);
}

int pg_group_get(omtp_db *db, const char *groupId, omtp_GroupChatInfo *out, bool *dismissed)
{
    pg_db *d = PGD(db);
    pg_args a;
    tars_init(&omtp_GroupChatInfo_desc, out);
    if (dismissed)
        *dismissed = false;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, groupId);
    PGresult *r = pg_q(d, PG_GROUP_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = OMTP_ENOTFOUND;
    if (PQntuples(r) > 0) {
        rc = row_group(r, 0, out, dismissed);
        if (rc)
            tars_free(&omtp_GroupChatInfo_desc, out);
    }
    PQclear(r);
    return rc;
}

static int run_changes(pg_db *d, int id, const pg_args *a)
{
    int rows = 0;
    int rc = pg_run(d, id, a, &rows);
    return rc == 0 && rows == 0 ? OMTP_ENOTFOUND : rc;
}

int pg_group_update_info(omtp_db *db, const omtp_GroupChatInfo *g)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_tstr(&a, &g->groupId);
    pa_tstr(&a, &g->name);
    pa_tstr(&a, &g->avatar);
    pa_tstr(&a, &g->desc);
    pa_i64(&a, g->memberLimit);
    pa_i64(&a, pg_now_ms());
    return run_changes(d, PG_GROUP_UPDATE, &a);
}

static int group_live(pg_db *d, const char *groupId);

int pg_group_set_creator(omtp_db *db, const char *groupId, const char *creatorId)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool member = false;
    if (pg_ready(d))
        return OMTP_EDB;
    int rc = group_live(d, groupId);
    if (rc == 0)
        rc = pg_group_is_member(db, groupId, creatorId, &member);
    if (rc)
        return rc;
    if (!member) {
        snprintf(db->errmsg, sizeof(db->errmsg), "group_set_creator: %s is not a member",
                 creatorId);
        return OMTP_EINVAL;
    }
    pa_init(&a);
    pa_str(&a, groupId);
    pa_str(&a, creatorId);
    pa_i64(&a, pg_now_ms());
    return run_changes(d, PG_GROUP_SET_CREATOR, &a);
}

int pg_group_dismiss(omtp_db *db, const char *groupId)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t now = pg_now_ms();
    pa_init(&a);
    pa_str(&a, groupId);
    pa_i64(&a, now);
    int rows = 0;
    int rc = pg_run(d, PG_GROUP_DISMISS, &a, &rows);
    if (rc == 0 && rows == 0) {
        /* unknown (OMTP_ENOTFOUND), or dismissed already (a no-op) */
        pa_init(&a);
        pa_str(&a, groupId);
        PGresult *r = pg_q(d, PG_GROUP_GET, &a);
        rc = !r ? OMTP_EDB : PQntuples(r) > 0 ? 0 : OMTP_ENOTFOUND;
        PQclear(r);
        return pg_op_end(d, own, rc);
    }
    if (rc == 0)
        rc = pg_run(d, PG_GROUP_LEFT_ALL, &a, NULL);
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, groupId);
        rc = pg_run(d, PG_MEMBERS_DEL_SESSION, &a, NULL);
    }
    return pg_op_end(d, own, rc);
}

int pg_group_dismiss_step(omtp_db *db, const char *groupId, int limit, int *left)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    *left = 0;
    if (limit <= 0)
        return OMTP_EINVAL;
    omtp_GroupChatInfo g;
    bool dismissed = false;
    int rc = pg_group_get(db, groupId, &g, &dismissed);
    if (rc || dismissed) {
        tars_free(&omtp_GroupChatInfo_desc, &g);
        return rc;
    }
    if (pg_op_begin(d, &own)) {
        tars_free(&omtp_GroupChatInfo_desc, &g);
        return OMTP_EDB;
    }
    pa_init(&a);
    pa_str(&a, groupId);
    pa_i64(&a, pg_now_ms());
    pa_tstr(&a, &g.creatorId);
    pa_i64(&a, limit);
    int rows = 0;
    rc = pg_run(d, PG_GROUP_DISMISS_CHUNK, &a, &rows);
    tars_free(&omtp_GroupChatInfo_desc, &g);
    if (rc == 0 && rows < limit)
        rc = pg_group_dismiss(db, groupId); /* only the creator is left */
    else if (rc == 0)
        *left = 1;
    rc = pg_op_end(d, own, rc);
    if (rc)
        *left = 0;
    return rc;
}

/* 0 if the group exists (dismissed or not), else OMTP_ENOTFOUND/OMTP_EDB. */
static int group_exists(pg_db *d, const char *groupId)
{
    pg_args a;
    pa_init(&a);
    pa_str(&a, groupId);
    PGresult *r = pg_q(d, PG_GROUP_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = PQntuples(r) > 0 ? 0 : OMTP_ENOTFOUND;
    PQclear(r);
    return rc;
}

int pg_group_members(omtp_db *db, const char *groupId, tars_str_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    int ex = group_exists(d, groupId);
    if (ex)
        return ex;
    pa_init(&a);
    pa_str(&a, groupId);
    PGresult *r = pg_q(d, PG_GROUP_MEMBERS, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = pg_str_append(r, i, 0, out);
    PQclear(r);
    if (rc) {
        for (uint32_t i = 0; i < out->n; i++)
            tars_str_clear(&out->items[i]);
        free(out->items);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int pg_group_is_member(omtp_db *db, const char *groupId, const char *userId, bool *member)
{
    return pg_has_row(PGD(db), PG_GROUP_IS_MEMBER, groupId, userId, member); /* live groups only */
}

int pg_group_member_count(omtp_db *db, const char *groupId, int *count)
{
    pg_db *d = PGD(db);
    pg_args a;
    int64_t n = 0;
    *count = 0;
    if (pg_ready(d))
        return OMTP_EDB;
    int rc = group_exists(d, groupId);
    if (rc)
        return rc;
    pa_init(&a);
    pa_str(&a, groupId);
    rc = pg_one_i64(d, PG_GROUP_MEMBER_COUNT, &a, &n);
    if (rc == 0)
        *count = (int)n;
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

/* Group membership changes need a live group. */
static int group_live(pg_db *d, const char *groupId)
{
    pg_args a;
    pa_init(&a);
    pa_str(&a, groupId);
    PGresult *r = pg_q(d, PG_GROUP_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = PQntuples(r) == 0 || pg_i64(r, 0, 8) != 0 ? OMTP_ENOTFOUND : 0;
    PQclear(r);
    return rc;
}

int pg_group_add_members(omtp_db *db, const char *groupId, const tars_str_list *ids, int *added)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    *added = 0;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t last = 0, nowMs = pg_now_ms(), nowUs = pg_now_us(d);
    int rc = group_live(d, groupId);
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, groupId);
        rc = pg_one_i64(d, PG_SESSION_LAST, &a, &last);
        if (rc == OMTP_ENOTFOUND)
            rc = 0;
    }
    for (uint32_t i = 0; rc == 0 && i < ids->n; i++) {
        bool isnew = false;
        if (!ids->items[i].len)
            continue;
        rc = add_member(d, groupId, &ids->items[i], last, nowUs, nowMs, &isnew);
        if (rc == 0 && isnew)
            (*added)++;
    }
    if (rc)
        *added = 0;
    return pg_op_end(d, own, rc);
}

int pg_group_remove_members(omtp_db *db, const char *groupId, const tars_str_list *ids,
                            int *removed)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    *removed = 0;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t now = pg_now_ms();
    int rc = group_live(d, groupId);
    for (uint32_t i = 0; rc == 0 && i < ids->n; i++) {
        int rows = 0;
        pa_init(&a);
        pa_tstr(&a, &ids->items[i]);
        pa_str(&a, groupId);
        pa_i64(&a, now);
        rc = pg_run(d, PG_GROUP_MEMBER_LEAVE, &a, &rows);
        if (rc == 0 && rows > 0)
            (*removed)++;
    }
    if (rc)
        *removed = 0;
    return pg_op_end(d, own, rc);
}

int pg_group_sync(omtp_db *db, const char *userId, int64_t sinceMs, omtp_GroupChatInfo_list *groups,
                  tars_str_list *deleted)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(groups, 0, sizeof(*groups));
    memset(deleted, 0, sizeof(*deleted));
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_i64(&a, sinceMs);
    PGresult *r = pg_q(d, PG_GROUP_SYNC, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        omtp_GroupChatInfo *g = pg_list_grow(groups, sizeof(*g));
        rc = g ? row_group(r, i, g, NULL) : OMTP_ENOMEM;
    }
    PQclear(r);
    if (rc == 0) {
        r = pg_q(d, PG_GROUP_SYNC_DEL, &a);
        if (!r)
            rc = OMTP_EDB;
        for (int i = 0; r && i < PQntuples(r) && rc == 0; i++)
            rc = pg_str_append(r, i, 0, deleted);
        PQclear(r);
    }
    if (rc) {
        omtp_list_free(&omtp_GroupChatInfo_desc, groups);
        for (uint32_t i = 0; i < deleted->n; i++)
            tars_str_clear(&deleted->items[i]);
        free(deleted->items);
        memset(deleted, 0, sizeof(*deleted));
    }
    return rc;
}

/* ------------------------------------------------------------ friends */

int pg_friend_add(omtp_db *db, const char *userId, const char *friendId, const char *remark)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    if (!userId || !friendId || !userId[0] || !friendId[0] || strcmp(userId, friendId) == 0)
        return OMTP_EINVAL;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t now = pg_now_ms();
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, friendId);
    pa_str(&a, remark ? remark : "");
    pa_i64(&a, now);
    int rc = pg_run(d, PG_FRIEND_UPSERT_MINE, &a, NULL);
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, friendId);
        pa_str(&a, userId);
        pa_i64(&a, now);
        rc = pg_run(d, PG_FRIEND_UPSERT_THEIRS, &a, NULL);
    }
    return pg_op_end(d, own, rc);
}

int pg_friend_del(omtp_db *db, const char *userId, const char *friendId)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t now = pg_now_ms();
    int rows = 0, rows2 = 0;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, friendId);
    pa_i64(&a, now);
    int rc = pg_run(d, PG_FRIEND_DEL, &a, &rows);
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, friendId);
        pa_str(&a, userId);
        pa_i64(&a, now);
        rc = pg_run(d, PG_FRIEND_DEL, &a, &rows2);
    }
    if (rc == 0 && rows == 0)
        rc = OMTP_ENOTFOUND; /* they were not friends (as seen by userId) */
    return pg_op_end(d, own, rc);
}

int pg_friend_is(omtp_db *db, const char *userId, const char *friendId, bool *yes)
{
    return pg_has_row(PGD(db), PG_FRIEND_IS, userId, friendId, yes);
}

int pg_friend_list(omtp_db *db, const char *userId, int64_t sinceMs, omtp_FriendInfo_list *out,
                   bool *changed)
{
    pg_db *d = PGD(db);
    pg_args a;
    int64_t ch = 0;
    memset(out, 0, sizeof(*out));
    *changed = false;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_i64(&a, sinceMs);
    int rc = pg_one_i64(d, PG_FRIEND_CHANGED, &a, &ch);
    if (rc)
        return rc == OMTP_ENOTFOUND ? 0 : rc;
    *changed = ch != 0;
    pa_init(&a);
    pa_str(&a, userId);
    PGresult *r = pg_q(d, PG_FRIEND_LIST, &a);
    if (!r)
        return OMTP_EDB;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        omtp_FriendInfo *f = pg_list_grow(out, sizeof(*f));
        if (!f) {
            rc = OMTP_ENOMEM;
            break;
        }
        tars_init(&omtp_FriendInfo_desc, f);
        if (tars_str_set(&f->userId, userId) != TARS_OK || pg_str(r, i, 0, &f->friendId) ||
            pg_str(r, i, 1, &f->remark))
            rc = OMTP_ENOMEM;
    }
    PQclear(r);
    if (rc)
        omtp_list_free(&omtp_FriendInfo_desc, out);
    return rc;
}

/* ---------------------------------------------------- user attributes */

int pg_user_attr_set(omtp_db *db, const omtp_UserAttribute *at)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (!at->userId.len || !at->attrName.len)
        return OMTP_EINVAL;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_tstr(&a, &at->userId);
    pa_tstr(&a, &at->friendId);
    pa_tstr(&a, &at->attrName);
    pa_tstr(&a, &at->attrValue);
    return pg_run(d, PG_UATTR_SET, &a, NULL);
}

int pg_user_attr_get(omtp_db *db, const char *userId, const char *friendId, const char *attrName,
                     omtp_UserAttribute_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId ? userId : "");
    pa_str(&a, friendId ? friendId : "");
    pa_str(&a, attrName ? attrName : "");
    PGresult *r = pg_q(d, PG_UATTR_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        omtp_UserAttribute *u = pg_list_grow(out, sizeof(*u));
        if (!u) {
            rc = OMTP_ENOMEM;
            break;
        }
        tars_init(&omtp_UserAttribute_desc, u);
        if (pg_str(r, i, 0, &u->userId) || pg_str(r, i, 1, &u->friendId) ||
            pg_str(r, i, 2, &u->attrName) || pg_str(r, i, 3, &u->attrValue))
            rc = OMTP_ENOMEM;
    }
    PQclear(r);
    if (rc)
        omtp_list_free(&omtp_UserAttribute_desc, out);
    return rc;
}
