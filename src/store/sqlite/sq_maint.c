/*
 * sq_maint.c - the SQLite backend's maintenance ops: ad-hoc SQL for admin
 * commands (store/maint.c) and the server lock.
 *
 * The server lock is flock(2) on "<database>-omtpd.lock" next to the
 * database: each server holds it shared for as long as its store is open,
 * an admin command that must not run beside a server (user rename) takes it
 * exclusive. The kernel drops it when the process exits, however it exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sq.h"

int sq_raw_sql(omtp_db *db, const char *sql, int np, const char *const *params, omtp_sql_row_fn row,
               void *ctx, int64_t *changes)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = NULL;
    if (changes)
        *changes = 0;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(d, "sql");
    for (int i = 0; i < np; i++)
        sq_bind_str(st, i + 1, params[i]);
    int rc = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (!row)
            continue;
        int n = sqlite3_column_count(st);
        const char *vals[16];
        if (n > 16)
            n = 16;
        for (int c = 0; c < n; c++)
            vals[c] = (const char *)sqlite3_column_text(st, c);
        if ((rc = row(ctx, n, vals)) != 0)
            break;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = sqlite3_errcode(d->h) == SQLITE_CONSTRAINT ? OMTP_EEXIST : sq_fail(d, "sql");
    if (rc == OMTP_EEXIST)
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s", sqlite3_errmsg(d->h));
    if (changes && rc == 0)
        *changes = sqlite3_changes(d->h);
    sqlite3_finalize(st);
    return rc;
}

int sq_server_lock(omtp_db *db, bool exclusive)
{
    sq_db *d = SQ(db);
    if (d->lock_fd < 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s-omtpd.lock", d->path);
        d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (d->lock_fd < 0) {
            snprintf(d->base.errmsg, sizeof(d->base.errmsg), "cannot open the lock file: %s",
                     strerror(errno));
            return OMTP_EIO;
        }
    }
    if (flock(d->lock_fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                     exclusive ? "a running omtpd uses %s" : "an admin command holds %s", d->path);
            return OMTP_EBUSY;
        }
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "flock: %s", strerror(errno));
        return OMTP_EIO;
    }
    return 0;
}
