/*
 * sq_friends.c - SQLite: friendships (mutual, with tombstones) and user
 * attributes.
 *
 * A friendship is two rows, one per direction, each with its owner's remark.
 * Deleting marks both rows deleted instead of removing them, so friend_list
 * can tell a client that synced before the deletion that something changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq.h"

int sq_friend_add(omtp_db *db, const char *userId, const char *friendId, const char *remark)
{
    sq_db *d = SQ(db);
    if (!userId || !friendId || !userId[0] || !friendId[0] || strcmp(userId, friendId) == 0)
        return OMTP_EINVAL;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t ms = sq_now_ms();
    sqlite3_stmt *st = sq_stmt(d, SQ_FRIEND_UPSERT_MINE);
    if (!st) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, friendId);
    sq_bind_str(st, 3, remark);
    sqlite3_bind_int64(st, 4, ms);
    if ((rc = sq_run(d, st, "friend_add")) != 0)
        goto out;
    if (!(st = sq_stmt(d, SQ_FRIEND_UPSERT_THEIRS))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, friendId);
    sq_bind_str(st, 2, userId);
    sqlite3_bind_int64(st, 3, ms);
    rc = sq_run(d, st, "friend_add reverse");
out:
    return sq_op_end(d, rc);
}

int sq_friend_del(omtp_db *db, const char *userId, const char *friendId)
{
    sq_db *d = SQ(db);
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t ms = sq_now_ms();
    for (int dir = 0; rc == 0 && dir < 2; dir++) {
        sqlite3_stmt *st = sq_stmt(d, SQ_FRIEND_DEL);
        if (!st) {
            rc = OMTP_EDB;
            break;
        }
        sq_bind_str(st, 1, dir ? friendId : userId);
        sq_bind_str(st, 2, dir ? userId : friendId);
        sqlite3_bind_int64(st, 3, ms);
        rc = sq_run(d, st, "friend_del");
        if (rc == 0 && dir == 0 && sqlite3_changes(d->h) == 0)
            rc = OMTP_ENOTFOUND;
    }
    return sq_op_end(d, rc);
}

int sq_friend_is(omtp_db *db, const char *userId, const char *friendId, bool *yes)
{
    return sq_has_row(SQ(db), SQ_FRIEND_IS, userId, friendId, yes, "friend_is");
}

int sq_friend_list(omtp_db *db, const char *userId, int64_t sinceMs, omtp_FriendInfo_list *out,
                   bool *changed)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    *changed = false;
    sqlite3_stmt *st = sq_stmt(d, SQ_FRIEND_LIST);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_FriendInfo *fi = sq_list_grow(out, sizeof(*fi));
        if (!fi) {
            ret = OMTP_ENOMEM;
            break;
        }
        tars_init(&omtp_FriendInfo_desc, fi);
        if (tars_str_set(&fi->userId, userId) != TARS_OK || sq_col_str(st, 0, &fi->friendId) ||
            sq_col_str(st, 1, &fi->remark)) {
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "friend_list");
    sqlite3_reset(st);
    if (ret == 0 && (st = sq_stmt(d, SQ_FRIEND_CHANGED)) != NULL) {
        sq_bind_str(st, 1, userId);
        sqlite3_bind_int64(st, 2, sinceMs);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *changed = sqlite3_column_int(st, 0) != 0;
        else
            ret = sq_fail(d, "friend_list changed");
        sqlite3_reset(st);
    } else if (ret == 0) {
        ret = OMTP_EDB;
    }
    if (ret)
        omtp_list_free(&omtp_FriendInfo_desc, out);
    return ret;
}

int sq_user_attr_set(omtp_db *db, const omtp_UserAttribute *a)
{
    sq_db *d = SQ(db);
    if (!a->userId.len || !a->attrName.len)
        return OMTP_EINVAL;
    sqlite3_stmt *st = sq_stmt(d, SQ_UATTR_SET);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &a->userId);
    sq_bind_tstr(st, 2, &a->friendId);
    sq_bind_tstr(st, 3, &a->attrName);
    sq_bind_tstr(st, 4, &a->attrValue);
    return sq_run(d, st, "user_attr_set");
}

/* One prepared SELECT per combination of filters, so each uses its index:
 * the primary key (user_id, friend_id, name) when the user is given,
 * user_attrs_by_friend or user_attrs_by_name otherwise. */
static sqlite3_stmt *attr_stmt(sq_db *d, unsigned mask)
{
    sqlite3_stmt *st = d->attr_get[mask];
    if (!st) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT user_id, friend_id, name, value FROM user_attrs WHERE 1%s%s%s "
                 "ORDER BY user_id, friend_id, name",
                 mask & 1 ? " AND user_id = ?1" : "", mask & 2 ? " AND friend_id = ?2" : "",
                 mask & 4 ? " AND name = ?3" : "");
        if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            sq_fail(d, "user_attr_get");
            return NULL;
        }
        d->attr_get[mask] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int sq_user_attr_get(omtp_db *db, const char *userId, const char *friendId, const char *attrName,
                     omtp_UserAttribute_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    unsigned mask = (userId && userId[0] ? 1u : 0) | (friendId && friendId[0] ? 2u : 0) |
                    (attrName && attrName[0] ? 4u : 0);
    sqlite3_stmt *st = attr_stmt(d, mask);
    if (!st)
        return OMTP_EDB;
    if (mask & 1)
        sq_bind_str(st, 1, userId);
    if (mask & 2)
        sq_bind_str(st, 2, friendId);
    if (mask & 4)
        sq_bind_str(st, 3, attrName);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_UserAttribute *a = sq_list_grow(out, sizeof(*a));
        if (!a) {
            ret = OMTP_ENOMEM;
            break;
        }
        tars_init(&omtp_UserAttribute_desc, a);
        if (sq_col_str(st, 0, &a->userId) || sq_col_str(st, 1, &a->friendId) ||
            sq_col_str(st, 2, &a->attrName) || sq_col_str(st, 3, &a->attrValue)) {
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "user_attr_get");
    sqlite3_reset(st);
    if (ret)
        omtp_list_free(&omtp_UserAttribute_desc, out);
    return ret;
}
