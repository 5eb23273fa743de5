/*
 * pg_users.c - PostgreSQL: server metadata, user accounts and profiles.
 * Same semantics as sqlite/sq_users.c.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int pg_meta_get(omtp_db *db, const char *key, tars_str *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    out->data = NULL; /* an output: initialised here, never freed */
    tars_str_clear(out);
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, key);
    PGresult *r = pg_q(d, PG_META_GET, &a);
    if (!r)
        return OMTP_EDB;
    int ret = PQntuples(r) > 0 ? pg_str(r, 0, 0, out) : OMTP_ENOTFOUND;
    PQclear(r);
    return ret;
}

int pg_meta_set(omtp_db *db, const char *key, const char *value)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, key);
    pa_str(&a, value ? value : "");
    return pg_run(d, PG_META_SET, &a, NULL);
}

int pg_user_create(omtp_db *db, const omtp_user_rec *u)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (!u->userId.len)
        return OMTP_EINVAL;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_tstr(&a, &u->userId);
    pa_tstr(&a, &u->pwHash);
    pa_i64(&a, u->role);
    pa_tstr(&a, &u->info.name);
    pa_tstr(&a, &u->info.avator);
    pa_tstr(&a, &u->info.mobile);
    pa_i64(&a, u->info.birthday);
    pa_i64(&a, u->createdMs ? u->createdMs : pg_now_ms());
    int rows = 0;
    int rc = pg_run(d, PG_USER_INSERT, &a, &rows);
    if (rc == 0 && rows == 0) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "user_create: %s exists", u->userId.data);
        return OMTP_EEXIST;
    }
    return rc;
}

static int row_user(const PGresult *r, int row, omtp_user_rec *u)
{
    omtp_user_rec_init(u);
    u->role = (int32_t)pg_i64(r, row, 2);
    u->info.birthday = pg_i64(r, row, 6);
    u->createdMs = pg_i64(r, row, 7);
    if (pg_str(r, row, 0, &u->userId) || pg_str(r, row, 0, &u->info.userId) ||
        pg_str(r, row, 1, &u->pwHash) || pg_str(r, row, 3, &u->info.name) ||
        pg_str(r, row, 4, &u->info.avator) || pg_str(r, row, 5, &u->info.mobile)) {
        omtp_user_rec_free(u);
        return OMTP_ENOMEM;
    }
    return 0;
}

int pg_user_get(omtp_db *db, const char *userId, omtp_user_rec *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    omtp_user_rec_init(out);
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    PGresult *r = pg_q(d, PG_USER_GET, &a);
    if (!r)
        return OMTP_EDB;
    int ret = PQntuples(r) > 0 ? row_user(r, 0, out) : OMTP_ENOTFOUND;
    PQclear(r);
    return ret;
}

int pg_user_exists(omtp_db *db, const char *userId, bool *yes)
{
    return pg_has_row(PGD(db), PG_USER_EXISTS, userId, NULL, yes);
}

/* An UPDATE/DELETE keyed by user: OMTP_ENOTFOUND when no row changed. */
static int run_changes(pg_db *d, int id, const pg_args *a)
{
    int rows = 0;
    int rc = pg_run(d, id, a, &rows);
    if (rc == 0 && rows == 0)
        return OMTP_ENOTFOUND;
    return rc;
}

int pg_user_set_password(omtp_db *db, const char *userId, const char *pwHash)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, pwHash ? pwHash : "");
    return run_changes(d, PG_USER_SET_PW, &a);
}

int pg_user_set_role(omtp_db *db, const char *userId, int role)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_i64(&a, role);
    return run_changes(d, PG_USER_SET_ROLE, &a);
}

/* Deletes the account (login, profile) and its high-priority queue. Messages,
 * memberships, groups and friendships stay: they are other users' history. */
int pg_user_delete(omtp_db *db, const char *userId)
{
    static const int steps[] = {PG_USER_DELETE, PG_HP_DEL_USER};
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = i == 0 ? run_changes(d, steps[i], &a) : pg_run(d, steps[i], &a, NULL);
    return pg_op_end(d, own, rc);
}

/* One user per row of r into out (emptied on failure); clears r. */
static int collect_users(PGresult *r, omtp_user_rec_list *out)
{
    int ret = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        omtp_user_rec *u = pg_list_grow(out, sizeof(*u));
        if (!u || row_user(r, i, u) != 0) {
            if (u)
                out->n--;
            ret = OMTP_ENOMEM;
            break;
        }
    }
    PQclear(r);
    if (ret)
        omtp_user_rec_list_free(out);
    return ret;
}

int pg_user_list(omtp_db *db, omtp_user_rec_list *out)
{
    pg_db *d = PGD(db);
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    PGresult *r = pg_q(d, PG_USER_LIST, NULL);
    if (!r)
        return OMTP_EDB;
    return collect_users(r, out);
}

int pg_user_page(omtp_db *db, const char *prefix, const char *after, int limit,
                 omtp_user_rec_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    char upper[OMTP_ID_MAX + 8];
    omtp_user_page_upper(prefix, upper, sizeof(upper));
    pa_init(&a);
    pa_str(&a, prefix ? prefix : "");
    pa_str(&a, after ? after : "");
    pa_str(&a, upper);
    pa_i64(&a, limit < 1 ? 1 : limit > 1000 ? 1000 : limit);
    PGresult *r = pg_q(d, PG_USER_PAGE, &a);
    if (!r)
        return OMTP_EDB;
    return collect_users(r, out);
}

int pg_user_info_get(omtp_db *db, const tars_str_list *ids, omtp_UserInfo_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    for (uint32_t i = 0; i < ids->n; i++) {
        pa_init(&a);
        pa_tstr(&a, &ids->items[i]);
        PGresult *r = pg_q(d, PG_USER_INFO_GET, &a);
        if (!r) {
            omtp_list_free(&omtp_UserInfo_desc, out);
            return OMTP_EDB;
        }
        int ret = 0;
        if (PQntuples(r) > 0) {
            omtp_UserInfo *u = pg_list_grow(out, sizeof(*u));
            if (!u) {
                ret = OMTP_ENOMEM;
            } else {
                tars_init(&omtp_UserInfo_desc, u);
                u->birthday = pg_i64(r, 0, 4);
                if (pg_str(r, 0, 0, &u->userId) || pg_str(r, 0, 1, &u->name) ||
                    pg_str(r, 0, 2, &u->avator) || pg_str(r, 0, 3, &u->mobile))
                    ret = OMTP_ENOMEM;
            }
        }
        PQclear(r);
        if (ret) {
            omtp_list_free(&omtp_UserInfo_desc, out);
            return ret;
        }
    }
    return 0;
}

int pg_user_info_update(omtp_db *db, const omtp_UserInfo *info)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_tstr(&a, &info->userId);
    pa_tstr(&a, &info->name);
    pa_tstr(&a, &info->avator);
    pa_tstr(&a, &info->mobile);
    pa_i64(&a, info->birthday);
    pa_i64(&a, pg_now_ms());
    return run_changes(d, PG_USER_INFO_UPDATE, &a);
}
