/*
 * sq_users.c - SQLite: server metadata, user accounts and profiles.
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

int sq_meta_get(omtp_db *db, const char *key, tars_str *out)
{
    sq_db *d = SQ(db);
    out->data = NULL; /* an output: initialised here, never freed */
    tars_str_clear(out);
    sqlite3_stmt *st = sq_stmt(d, SQ_META_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, key);
    int rc = sqlite3_step(st);
    int ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = sq_col_str(st, 0, out);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "meta_get");
    sqlite3_reset(st);
    return ret;
}

int sq_meta_set(omtp_db *db, const char *key, const char *value)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_META_SET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, key);
    sq_bind_str(st, 2, value);
    return sq_run(d, st, "meta_set");
}

int sq_user_create(omtp_db *db, const omtp_user_rec *u)
{
    sq_db *d = SQ(db);
    if (!u->userId.len)
        return OMTP_EINVAL;
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_INSERT);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &u->userId);
    sq_bind_tstr(st, 2, &u->pwHash);
    sqlite3_bind_int(st, 3, u->role);
    sq_bind_tstr(st, 4, &u->info.name);
    sq_bind_tstr(st, 5, &u->info.avator);
    sq_bind_tstr(st, 6, &u->info.mobile);
    sqlite3_bind_int64(st, 7, u->info.birthday);
    sqlite3_bind_int64(st, 8, u->createdMs ? u->createdMs : sq_now_ms());
    return sq_run(d, st, "user_create");
}

static int row_user(sqlite3_stmt *st, omtp_user_rec *u)
{
    omtp_user_rec_init(u);
    u->role = sqlite3_column_int(st, 2);
    u->info.birthday = sqlite3_column_int64(st, 6);
    u->createdMs = sqlite3_column_int64(st, 7);
    if (sq_col_str(st, 0, &u->userId) || sq_col_str(st, 0, &u->info.userId) ||
        sq_col_str(st, 1, &u->pwHash) || sq_col_str(st, 3, &u->info.name) ||
        sq_col_str(st, 4, &u->info.avator) || sq_col_str(st, 5, &u->info.mobile)) {
        omtp_user_rec_free(u);
        return OMTP_ENOMEM;
    }
    return 0;
}

int sq_user_get(omtp_db *db, const char *userId, omtp_user_rec *out)
{
    sq_db *d = SQ(db);
    omtp_user_rec_init(out);
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    int rc = sqlite3_step(st);
    int ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = row_user(st, out);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "user_get");
    sqlite3_reset(st);
    return ret;
}

int sq_user_exists(omtp_db *db, const char *userId, bool *yes)
{
    return sq_has_row(SQ(db), SQ_USER_EXISTS, userId, NULL, yes, "user_exists");
}

/* Runs an UPDATE/DELETE keyed by user: OMTP_ENOTFOUND when no row changed. */
static int run_changes(sq_db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sq_run(d, st, what);
    if (rc == 0 && sqlite3_changes(d->h) == 0)
        return OMTP_ENOTFOUND;
    return rc;
}

int sq_user_set_password(omtp_db *db, const char *userId, const char *pwHash)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_SET_PW);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, pwHash);
    return run_changes(d, st, "user_set_password");
}

int sq_user_set_role(omtp_db *db, const char *userId, int role)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_SET_ROLE);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sqlite3_bind_int(st, 2, role);
    return run_changes(d, st, "user_set_role");
}

/* Deletes the account (login, profile) and its high-priority queue. Messages,
 * memberships, groups and friendships stay: they are other users' history. */
int sq_user_delete(omtp_db *db, const char *userId)
{
    static const int steps[] = {SQ_USER_DELETE, SQ_HP_DEL_USER};
    sq_db *d = SQ(db);
    sq_memo_clear(d); /* memberships stay today; a later change must not trip over the memo */
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
        sqlite3_stmt *st = sq_stmt(d, steps[i]);
        if (!st) {
            rc = OMTP_EDB;
            break;
        }
        sq_bind_str(st, 1, userId);
        rc = i == 0 ? run_changes(d, st, "user_delete") : sq_run(d, st, "user_delete");
    }
    return sq_op_end(d, rc);
}

/* Steps st (bound) to its end, one user per row into out (emptied on
 * failure); resets st. */
static int collect_users(sq_db *d, sqlite3_stmt *st, omtp_user_rec_list *out, const char *what)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_user_rec *u = sq_list_grow(out, sizeof(*u));
        if (!u || row_user(st, u) != 0) {
            if (u)
                out->n--;
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, what);
    sqlite3_reset(st);
    if (ret)
        omtp_user_rec_list_free(out);
    return ret;
}

int sq_user_list(omtp_db *db, omtp_user_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_LIST);
    if (!st)
        return OMTP_EDB;
    return collect_users(d, st, out, "user_list");
}

int sq_user_page(omtp_db *db, const char *prefix, const char *after, int limit,
                 omtp_user_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    char upper[OMTP_ID_MAX + 8];
    omtp_user_page_upper(prefix, upper, sizeof(upper));
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_PAGE);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, prefix);
    sq_bind_str(st, 2, after);
    sq_bind_str(st, 3, upper);
    sqlite3_bind_int(st, 4, limit < 1 ? 1 : limit > 1000 ? 1000 : limit);
    return collect_users(d, st, out, "user_page");
}

int sq_user_info_get(omtp_db *db, const tars_str_list *ids, omtp_UserInfo_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < ids->n; i++) {
        sqlite3_stmt *st = sq_stmt(d, SQ_USER_INFO_GET);
        if (!st) {
            omtp_list_free(&omtp_UserInfo_desc, out);
            return OMTP_EDB;
        }
        sq_bind_tstr(st, 1, &ids->items[i]);
        int rc = sqlite3_step(st), ret = 0;
        if (rc == SQLITE_ROW) {
            omtp_UserInfo *u = sq_list_grow(out, sizeof(*u));
            if (!u) {
                ret = OMTP_ENOMEM;
            } else {
                tars_init(&omtp_UserInfo_desc, u);
                u->birthday = sqlite3_column_int64(st, 4);
                if (sq_col_str(st, 0, &u->userId) || sq_col_str(st, 1, &u->name) ||
                    sq_col_str(st, 2, &u->avator) || sq_col_str(st, 3, &u->mobile))
                    ret = OMTP_ENOMEM;
            }
        } else if (rc != SQLITE_DONE) {
            ret = sq_fail(d, "user_info_get");
        }
        sqlite3_reset(st);
        if (ret) {
            omtp_list_free(&omtp_UserInfo_desc, out);
            return ret;
        }
    }
    return 0;
}

int sq_user_info_update(omtp_db *db, const omtp_UserInfo *info)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_USER_INFO_UPDATE);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &info->userId);
    sq_bind_tstr(st, 2, &info->name);
    sq_bind_tstr(st, 3, &info->avator);
    sq_bind_tstr(st, 4, &info->mobile);
    sqlite3_bind_int64(st, 5, info->birthday);
    sqlite3_bind_int64(st, 6, sq_now_ms());
    return run_changes(d, st, "user_info_update");
}
