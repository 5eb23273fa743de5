/*
 * sq_groups.c - SQLite: group chats.
 *
 * A group is a chat_groups row plus a session of the same id; its members
 * are the session's membership rows (members, indexed by session for the
 * member list), so a group message needs no per-member write and a member's
 * hot sessions see the group move through the shared sessions row.
 *
 * group_left logs, per user, when they stopped being a member (quit,
 * removed, or the group was dismissed), so group_sync can report deleted
 * group ids since a time, and the span of group high-priority entries the
 * stay covered (hp_from..hp_to, see sq_msgs.c). Re-joining sets at_ms to 0
 * (no longer reported as left) and keeps the span.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_proto.h"
#include "sq.h"

static int row_group(sqlite3_stmt *st, omtp_GroupChatInfo *g)
{
    tars_init(&omtp_GroupChatInfo_desc, g);
    g->memberLimit = sqlite3_column_int(st, 5);
    g->createTime = sqlite3_column_int64(st, 6);
    g->updateTime = sqlite3_column_int64(st, 7);
    if (sq_col_str(st, 0, &g->groupId) || sq_col_str(st, 1, &g->name) ||
        sq_col_str(st, 2, &g->avatar) || sq_col_str(st, 3, &g->creatorId) ||
        sq_col_str(st, 4, &g->desc)) {
        tars_free(&omtp_GroupChatInfo_desc, g);
        return OMTP_ENOMEM;
    }
    return 0;
}

/* 0 if the group exists and is not dismissed, else OMTP_ENOTFOUND/error. */
static int group_live(sq_db *d, const char *groupId)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, groupId);
    int rc = sqlite3_step(st), ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = sqlite3_column_int(st, 8) ? OMTP_ENOTFOUND : 0;
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "group");
    sqlite3_reset(st);
    return ret;
}

/* Adds one member (read cursor at the session's last seqId); *added = 1 if
 * the user was not a member yet. */
static int add_member(sq_db *d, const char *groupId, const tars_str *user, int64_t lastSeq,
                      int64_t us, int64_t ms, int *added)
{
    *added = 0;
    if (!user->len)
        return 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_MEMBER_ENSURE);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, user);
    sq_bind_str(st, 2, groupId);
    sqlite3_bind_int64(st, 3, lastSeq);
    sqlite3_bind_int64(st, 4, us);
    sqlite3_bind_int64(st, 5, ms);
    int rc = sq_run(d, st, "group member");
    if (rc || sqlite3_changes(d->h) == 0)
        return rc;
    *added = 1;
    if (!(st = sq_stmt(d, SQ_GROUP_LEFT_DEL)))
        return OMTP_EDB;
    sq_bind_tstr(st, 1, user);
    sq_bind_str(st, 2, groupId);
    return sq_run(d, st, "group rejoin");
}

int sq_group_create(omtp_db *db, omtp_GroupChatInfo *g, const tars_str_list *members)
{
    sq_db *d = SQ(db);
    if (!g->groupId.len || !g->creatorId.len)
        return OMTP_EINVAL;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t ms = sq_now_ms(), us = sq_now_us(d), last = 0;
    const char *gid = g->groupId.data;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_INSERT);
    if (!st) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_tstr(st, 1, &g->groupId);
    sq_bind_tstr(st, 2, &g->name);
    sq_bind_tstr(st, 3, &g->avatar);
    sq_bind_tstr(st, 4, &g->creatorId);
    sq_bind_tstr(st, 5, &g->desc);
    sqlite3_bind_int(st, 6, g->memberLimit);
    sqlite3_bind_int64(st, 7, ms);
    if ((rc = sq_run(d, st, "group_create")) != 0)
        goto out;
    if (!(st = sq_stmt(d, SQ_SESSION_CREATE))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, gid);
    sqlite3_bind_int(st, 2, PT_MSG_GROUP_CHAT);
    sqlite3_bind_int64(st, 3, us);
    if ((rc = sq_run(d, st, "group session")) != 0)
        goto out;
    if ((rc = sq_session_last_seq(db, gid, &last)) != 0)
        goto out;
    int added;
    rc = add_member(d, gid, &g->creatorId, last, us, ms, &added);
    for (uint32_t i = 0; rc == 0 && members && i < members->n; i++)
        rc = add_member(d, gid, &members->items[i], last, us, ms, &added);
out:
    rc = sq_op_end(d, rc);
    if (rc == 0)
        g->createTime = g->updateTime = ms;
    return rc;
}

int sq_group_get(omtp_db *db, const char *groupId, omtp_GroupChatInfo *out, bool *dismissed)
{
    sq_db *d = SQ(db);
    tars_init(&omtp_GroupChatInfo_desc, out);
    *dismissed = false;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, groupId);
    int rc = sqlite3_step(st), ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        *dismissed = sqlite3_column_int(st, 8) != 0;
        ret = row_group(st, out);
    } else if (rc != SQLITE_DONE) {
        ret = sq_fail(d, "group_get");
    }
    sqlite3_reset(st);
    return ret;
}

int sq_group_update_info(omtp_db *db, const omtp_GroupChatInfo *g)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_UPDATE);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &g->groupId);
    sq_bind_tstr(st, 2, &g->name);
    sq_bind_tstr(st, 3, &g->avatar);
    sq_bind_tstr(st, 4, &g->desc);
    sqlite3_bind_int(st, 5, g->memberLimit);
    sqlite3_bind_int64(st, 6, sq_now_ms());
    int rc = sq_run(d, st, "group_update_info");
    if (rc == 0 && sqlite3_changes(d->h) == 0)
        rc = OMTP_ENOTFOUND;
    return rc;
}

int sq_group_is_member(omtp_db *db, const char *groupId, const char *userId, bool *member)
{
    return sq_has_row(SQ(db), SQ_GROUP_IS_MEMBER, groupId, userId, member, "group_is_member");
}

int sq_group_set_creator(omtp_db *db, const char *groupId, const char *creatorId)
{
    sq_db *d = SQ(db);
    bool member = false;
    int rc = group_live(d, groupId);
    if (rc == 0)
        rc = sq_group_is_member(db, groupId, creatorId, &member);
    if (rc)
        return rc;
    if (!member) {
        snprintf(db->errmsg, sizeof(db->errmsg), "group_set_creator: %s is not a member",
                 creatorId);
        return OMTP_EINVAL;
    }
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_SET_CREATOR);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, groupId);
    sq_bind_str(st, 2, creatorId);
    sqlite3_bind_int64(st, 3, sq_now_ms());
    return sq_run(d, st, "group_set_creator");
}

int sq_group_dismiss(omtp_db *db, const char *groupId)
{
    sq_db *d = SQ(db);
    sq_memo_clear(d); /* membership rows are deleted */
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t ms = sq_now_ms();
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_DISMISS);
    if (!st) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, groupId);
    sqlite3_bind_int64(st, 2, ms);
    if ((rc = sq_run(d, st, "group_dismiss")) != 0)
        goto out;
    if (sqlite3_changes(d->h) == 0) {
        /* unknown, or dismissed already (then a no-op) */
        omtp_GroupChatInfo g;
        bool dismissed;
        rc = sq_group_get(db, groupId, &g, &dismissed);
        tars_free(&omtp_GroupChatInfo_desc, &g);
        goto out;
    }
    if (!(st = sq_stmt(d, SQ_GROUP_LEFT_ALL))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, groupId);
    sqlite3_bind_int64(st, 2, ms);
    if ((rc = sq_run(d, st, "group_dismiss log")) != 0)
        goto out;
    if (!(st = sq_stmt(d, SQ_MEMBERS_DEL_SESSION))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, groupId);
    rc = sq_run(d, st, "group_dismiss members");
out:
    return sq_op_end(d, rc);
}

int sq_group_dismiss_step(omtp_db *db, const char *groupId, int limit, int *left)
{
    sq_db *d = SQ(db);
    *left = 0;
    if (limit <= 0)
        return OMTP_EINVAL;
    omtp_GroupChatInfo g;
    bool dismissed = false;
    int rc = sq_group_get(db, groupId, &g, &dismissed);
    if (rc || dismissed) {
        tars_free(&omtp_GroupChatInfo_desc, &g);
        return rc;
    }
    sq_memo_clear(d); /* membership rows are deleted */
    if ((rc = sq_op_begin(d)) != 0) {
        tars_free(&omtp_GroupChatInfo_desc, &g);
        return rc;
    }
    int removed = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_LEFT_CHUNK);
    if (!st) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, groupId);
    sqlite3_bind_int64(st, 2, sq_now_ms());
    sq_bind_tstr(st, 3, &g.creatorId);
    sqlite3_bind_int(st, 4, limit);
    if ((rc = sq_run(d, st, "group_dismiss_step log")) != 0)
        goto out;
    if (!(st = sq_stmt(d, SQ_MEMBERS_DEL_CHUNK))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, groupId);
    sq_bind_tstr(st, 2, &g.creatorId);
    sqlite3_bind_int(st, 3, limit);
    if ((rc = sq_run(d, st, "group_dismiss_step members")) != 0)
        goto out;
    removed = sqlite3_changes(d->h);
    if (removed < limit)
        rc = sq_group_dismiss(db, groupId); /* only the creator is left */
    else
        *left = 1;
out:
    tars_free(&omtp_GroupChatInfo_desc, &g);
    rc = sq_op_end(d, rc);
    if (rc)
        *left = 0;
    return rc;
}

/* 0 if the group exists (dismissed or not), else OMTP_ENOTFOUND/error. */
static int group_exists(sq_db *d, const char *groupId)
{
    int rc = group_live(d, groupId);
    if (rc != OMTP_ENOTFOUND)
        return rc;
    omtp_GroupChatInfo g;
    bool dismissed;
    rc = sq_group_get(&d->base, groupId, &g, &dismissed);
    tars_free(&omtp_GroupChatInfo_desc, &g);
    return rc;
}

int sq_group_members(omtp_db *db, const char *groupId, tars_str_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    int ret = group_exists(d, groupId);
    if (ret)
        return ret;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_MEMBERS);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, groupId);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((ret = sq_col_str_append(st, 0, out)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "group_members");
    sqlite3_reset(st);
    if (ret)
        omtp_str_list_free(out);
    return ret;
}

int sq_group_member_count(omtp_db *db, const char *groupId, int *count)
{
    sq_db *d = SQ(db);
    *count = 0;
    int ret = group_exists(d, groupId);
    if (ret)
        return ret;
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_MEMBER_COUNT);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, groupId);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : sq_fail(d, "group_member_count");
}

int sq_group_add_members(omtp_db *db, const char *groupId, const tars_str_list *ids, int *added)
{
    sq_db *d = SQ(db);
    *added = 0;
    int rc = group_live(d, groupId);
    if (rc)
        return rc;
    if ((rc = sq_op_begin(d)) != 0)
        return rc;
    int64_t last = 0, us = sq_now_us(d), ms = sq_now_ms();
    rc = sq_session_last_seq(db, groupId, &last);
    int n = 0;
    for (uint32_t i = 0; rc == 0 && i < ids->n; i++) {
        int one;
        rc = add_member(d, groupId, &ids->items[i], last, us, ms, &one);
        n += one;
    }
    rc = sq_op_end(d, rc);
    if (rc == 0)
        *added = n;
    return rc;
}

int sq_group_remove_members(omtp_db *db, const char *groupId, const tars_str_list *ids,
                            int *removed)
{
    sq_db *d = SQ(db);
    *removed = 0;
    sq_memo_clear(d); /* membership rows are deleted */
    int rc = group_live(d, groupId);
    if (rc)
        return rc;
    if ((rc = sq_op_begin(d)) != 0)
        return rc;
    int64_t ms = sq_now_ms();
    int n = 0;
    for (uint32_t i = 0; rc == 0 && i < ids->n; i++) {
        /* the left log first: it copies the span the membership row ends */
        sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_LEFT_SET);
        if (!st) {
            rc = OMTP_EDB;
            break;
        }
        sq_bind_tstr(st, 1, &ids->items[i]);
        sq_bind_str(st, 2, groupId);
        sqlite3_bind_int64(st, 3, ms);
        if ((rc = sq_run(d, st, "group left log")) != 0)
            break;
        if (!(st = sq_stmt(d, SQ_MEMBER_DEL))) {
            rc = OMTP_EDB;
            break;
        }
        sq_bind_tstr(st, 1, &ids->items[i]);
        sq_bind_str(st, 2, groupId);
        if ((rc = sq_run(d, st, "group member remove")) == 0 && sqlite3_changes(d->h) > 0)
            n++;
    }
    rc = sq_op_end(d, rc);
    if (rc == 0)
        *removed = n;
    return rc;
}

int sq_group_sync(omtp_db *db, const char *userId, int64_t sinceMs, omtp_GroupChatInfo_list *groups,
                  tars_str_list *deleted)
{
    sq_db *d = SQ(db);
    memset(groups, 0, sizeof(*groups));
    memset(deleted, 0, sizeof(*deleted));
    sqlite3_stmt *st = sq_stmt(d, SQ_GROUP_SYNC);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sqlite3_bind_int64(st, 2, sinceMs);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_GroupChatInfo *g = sq_list_grow(groups, sizeof(*g));
        if (!g || row_group(st, g) != 0) {
            if (g)
                groups->n--;
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "group_sync");
    sqlite3_reset(st);
    if (ret == 0 && (st = sq_stmt(d, SQ_GROUP_SYNC_DEL)) != NULL) {
        sq_bind_str(st, 1, userId);
        sqlite3_bind_int64(st, 2, sinceMs);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if ((ret = sq_col_str_append(st, 0, deleted)) != 0)
                break;
        if (ret == 0 && rc != SQLITE_DONE)
            ret = sq_fail(d, "group_sync deleted");
        sqlite3_reset(st);
    } else if (ret == 0) {
        ret = OMTP_EDB;
    }
    if (ret) {
        omtp_list_free(&omtp_GroupChatInfo_desc, groups);
        omtp_str_list_free(deleted);
    }
    return ret;
}
