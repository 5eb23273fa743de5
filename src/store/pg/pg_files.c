/*
 * pg_files.c - the PostgreSQL queries of uploaded files (store.h: file_*),
 * mirroring sqlite/sq_files.c.
 *
 * Threading: the store thread (like every op of the backend).
 */
#include <stdio.h>
#include <string.h>

#include "pg.h"

static void val_cpy(const PGresult *r, int row, int col, char *out, size_t n)
{
    snprintf(out, n, "%.*s", PQgetlength(r, row, col), PQgetvalue(r, row, col));
}

static void row_file(const PGresult *r, int row, omtp_file_rec *f)
{
    memset(f, 0, sizeof(*f));
    val_cpy(r, row, 0, f->fileId, sizeof(f->fileId));
    val_cpy(r, row, 1, f->sha256, sizeof(f->sha256));
    f->size = (uint64_t)pg_i64(r, row, 2);
    val_cpy(r, row, 3, f->mime, sizeof(f->mime));
    val_cpy(r, row, 4, f->name, sizeof(f->name));
    val_cpy(r, row, 5, f->uploader, sizeof(f->uploader));
    f->created = pg_i64(r, row, 6);
    f->width = (int32_t)pg_i64(r, row, 7);
    f->height = (int32_t)pg_i64(r, row, 8);
    val_cpy(r, row, 9, f->thumb, sizeof(f->thumb));
    f->thumbSize = (uint64_t)pg_i64(r, row, 10);
}

int pg_file_put(omtp_db *db, const omtp_file_rec *f)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, f->fileId);
    pa_str(&a, f->sha256);
    pa_i64(&a, (int64_t)f->size);
    pa_str(&a, f->mime);
    pa_str(&a, f->name);
    pa_str(&a, f->uploader);
    pa_i64(&a, f->created);
    pa_i64(&a, f->width);
    pa_i64(&a, f->height);
    pa_str(&a, f->thumb);
    pa_i64(&a, (int64_t)f->thumbSize);
    int rows = 0;
    int rc = pg_run(d, PG_FILE_PUT, &a, &rows);
    if (rc == 0 && rows == 0) { /* DO NOTHING: a failed INSERT would abort the transaction */
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "file_put: %s exists", f->fileId);
        return OMTP_EEXIST;
    }
    return rc;
}

int pg_file_get(omtp_db *db, const char *fileId, omtp_file_rec *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, fileId);
    PGresult *r = pg_q(d, PG_FILE_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = PQntuples(r) ? 0 : OMTP_ENOTFOUND;
    if (rc == 0)
        row_file(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_file_ref_add(omtp_db *db, const char *fileId, const char *sessionId, int64_t seq)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, fileId);
    pa_str(&a, sessionId);
    pa_i64(&a, seq);
    return pg_run(d, PG_FILE_REF_ADD, &a, NULL);
}

int pg_file_ref_sessions(omtp_db *db, const char *fileId, int limit, tars_str_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, fileId);
    pa_i64(&a, limit);
    PGresult *r = pg_q(d, PG_FILE_REF_SESSIONS, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = pg_str_append(r, i, 0, out);
    PQclear(r);
    if (rc)
        omtp_str_list_free(out);
    return rc;
}

int pg_file_usage(omtp_db *db, const char *uploader, int64_t sinceMs, uint64_t *bytes,
                  int64_t *recent)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, uploader);
    pa_i64(&a, sinceMs);
    PGresult *r = pg_q(d, PG_FILE_USAGE, &a);
    if (!r)
        return OMTP_EDB;
    *bytes = PQntuples(r) ? (uint64_t)pg_i64(r, 0, 0) : 0;
    *recent = PQntuples(r) ? pg_i64(r, 0, 1) : 0;
    PQclear(r);
    return 0;
}

int pg_file_orphans(omtp_db *db, int64_t beforeMs, int max, omtp_file_rec *out, int *n)
{
    pg_db *d = PGD(db);
    pg_args a;
    *n = 0;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_i64(&a, beforeMs);
    pa_i64(&a, max);
    PGresult *r = pg_q(d, PG_FILE_ORPHANS, &a);
    if (!r)
        return OMTP_EDB;
    for (int i = 0; i < PQntuples(r) && *n < max; i++)
        row_file(r, i, &out[(*n)++]);
    PQclear(r);
    return 0;
}

int pg_file_del(omtp_db *db, const char *fileId)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    int rows = 0;
    int rc = pg_op_begin(d, &own);
    if (rc)
        return rc;
    pa_init(&a);
    pa_str(&a, fileId);
    rc = pg_run(d, PG_FILE_DEL_REFS, &a, NULL);
    if (rc == 0)
        rc = pg_run(d, PG_FILE_DEL, &a, &rows);
    if (rc == 0 && rows == 0)
        rc = OMTP_ENOTFOUND;
    return pg_op_end(d, own, rc);
}

int pg_file_sha_used(omtp_db *db, const char *sha, bool *yes)
{
    return pg_has_row(PGD(db), PG_FILE_SHA_USED, sha, NULL, yes);
}

int pg_file_ref_member(omtp_db *db, const char *fileId, const char *userId, bool *yes)
{
    return pg_has_row(PGD(db), PG_FILE_REF_MEMBER, fileId, userId, yes);
}
