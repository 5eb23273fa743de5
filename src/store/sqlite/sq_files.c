/*
 * sq_files.c - the SQLite queries of uploaded files (store.h: file_put,
 * file_get, file_ref_add, file_ref_sessions, file_usage, file_orphans,
 * file_del, file_sha_used; tables from schema migration 8 -> 9).
 *
 * Threading: the store thread (like every op of the backend).
 */
#include <stdio.h>
#include <string.h>

#include "sq.h"

static void col_cpy(sqlite3_stmt *st, int col, char *out, size_t n)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    snprintf(out, n, "%s", v ? v : "");
}

/* A row of SQ_FILE_COLS into f. */
static void row_file(sqlite3_stmt *st, omtp_file_rec *f)
{
    memset(f, 0, sizeof(*f));
    col_cpy(st, 0, f->fileId, sizeof(f->fileId));
    col_cpy(st, 1, f->sha256, sizeof(f->sha256));
    f->size = (uint64_t)sqlite3_column_int64(st, 2);
    col_cpy(st, 3, f->mime, sizeof(f->mime));
    col_cpy(st, 4, f->name, sizeof(f->name));
    col_cpy(st, 5, f->uploader, sizeof(f->uploader));
    f->created = sqlite3_column_int64(st, 6);
    f->width = sqlite3_column_int(st, 7);
    f->height = sqlite3_column_int(st, 8);
    col_cpy(st, 9, f->thumb, sizeof(f->thumb));
    f->thumbSize = (uint64_t)sqlite3_column_int64(st, 10);
}

int sq_file_put(omtp_db *db, const omtp_file_rec *f)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_PUT);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, f->fileId);
    sq_bind_str(st, 2, f->sha256);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)f->size);
    sq_bind_str(st, 4, f->mime);
    sq_bind_str(st, 5, f->name);
    sq_bind_str(st, 6, f->uploader);
    sqlite3_bind_int64(st, 7, f->created);
    sqlite3_bind_int(st, 8, f->width);
    sqlite3_bind_int(st, 9, f->height);
    sq_bind_str(st, 10, f->thumb);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)f->thumbSize);
    return sq_run(d, st, "file_put");
}

int sq_file_get(omtp_db *db, const char *fileId, omtp_file_rec *out)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, fileId);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        row_file(st, out);
    else if (rc == SQLITE_DONE)
        ret = OMTP_ENOTFOUND;
    else
        ret = sq_fail(d, "file_get");
    sqlite3_reset(st);
    return ret;
}

int sq_file_ref_add(omtp_db *db, const char *fileId, const char *sessionId, int64_t seq)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_REF_ADD);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, fileId);
    sq_bind_str(st, 2, sessionId);
    sqlite3_bind_int64(st, 3, seq);
    return sq_run(d, st, "file_ref_add");
}

int sq_file_ref_sessions(omtp_db *db, const char *fileId, int limit, tars_str_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_REF_SESSIONS);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, fileId);
    sqlite3_bind_int(st, 2, limit);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = sq_col_str_append(st, 0, out)) != 0)
            break;
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "file_ref_sessions");
    sqlite3_reset(st);
    if (ret)
        omtp_str_list_free(out);
    return ret;
}

int sq_file_usage(omtp_db *db, const char *uploader, int64_t sinceMs, uint64_t *bytes,
                  int64_t *recent)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_USAGE);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, uploader);
    sqlite3_bind_int64(st, 2, sinceMs);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        *bytes = (uint64_t)sqlite3_column_int64(st, 0);
        *recent = sqlite3_column_int64(st, 1);
    } else {
        ret = sq_fail(d, "file_usage");
    }
    sqlite3_reset(st);
    return ret;
}

int sq_file_orphans(omtp_db *db, int64_t beforeMs, int max, omtp_file_rec *out, int *n)
{
    sq_db *d = SQ(db);
    *n = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_ORPHANS);
    if (!st)
        return OMTP_EDB;
    sqlite3_bind_int64(st, 1, beforeMs);
    sqlite3_bind_int(st, 2, max);
    int rc, ret = 0;
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        row_file(st, &out[(*n)++]);
    if (*n < max && rc != SQLITE_DONE)
        ret = sq_fail(d, "file_orphans");
    sqlite3_reset(st);
    return ret;
}

int sq_file_del(omtp_db *db, const char *fileId)
{
    sq_db *d = SQ(db);
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(d, SQ_FILE_DEL_REFS);
    if (!st)
        return sq_op_end(d, OMTP_EDB);
    sq_bind_str(st, 1, fileId);
    if ((rc = sq_run(d, st, "file_del")) != 0)
        return sq_op_end(d, rc);
    if (!(st = sq_stmt(d, SQ_FILE_DEL)))
        return sq_op_end(d, OMTP_EDB);
    sq_bind_str(st, 1, fileId);
    if ((rc = sq_run(d, st, "file_del")) != 0)
        return sq_op_end(d, rc);
    rc = sqlite3_changes(d->h) ? 0 : OMTP_ENOTFOUND;
    return sq_op_end(d, rc);
}

int sq_file_sha_used(omtp_db *db, const char *sha, bool *yes)
{
    return sq_has_row(SQ(db), SQ_FILE_SHA_USED, sha, NULL, yes, "file_sha_used");
}

int sq_file_ref_member(omtp_db *db, const char *fileId, const char *userId, bool *yes)
{
    return sq_has_row(SQ(db), SQ_FILE_REF_MEMBER, fileId, userId, yes, "file_ref_member");
}
