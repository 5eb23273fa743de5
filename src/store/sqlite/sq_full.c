/*
 * sq_full.c - telling "the disk is full" from other SQLite failures.
 *
 * SQLite reports a write that hit ENOSPC as SQLITE_FULL ("database or disk
 * is full"); an fsync or a file extension may surface as an SQLITE_IOERR_*
 * with errno ENOSPC instead. Either is disk full. As a last resort (an error
 * code overwritten by the rollback that followed) the file system of the
 * database is asked: less than SQ_FULL_FREE bytes left (for this user: root
 * may also use the reserved blocks) counts as full. The executor calls
 * sq_disk_full right after a failed op, BEGIN or COMMIT, on the store
 * thread; sq_open calls sq_full_path when opening fails.
 */
#include "sq.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define SQ_FULL_FREE (256u * 1024u)

/* Bytes free for this user on the file system holding path's directory,
 * or UINT64_MAX if unknown. */
static uint64_t free_bytes(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (!slash)
        snprintf(dir, sizeof(dir), ".");
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return UINT64_MAX;
    uint64_t blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    return blocks * (uint64_t)v.f_frsize;
}

bool sq_full_path(sqlite3 *h, const char *path)
{
    if (h) {
        int e = sqlite3_extended_errcode(h);
        if ((e & 0xff) == SQLITE_FULL)
            return true;
        if ((e & 0xff) == SQLITE_IOERR && sqlite3_system_errno(h) == ENOSPC)
            return true;
    }
    return free_bytes(path) < SQ_FULL_FREE;
}

bool sq_disk_full(omtp_db *db)
{
    sq_db *d = SQ(db);
    return sq_full_path(d->h, d->path);
}
