/*
 * sq_sync.c - synchronous=FULL durability with the fsync off the writer.
 *
 * With synchronous=FULL, SQLite fsyncs the WAL inside every COMMIT, so the
 * store thread sits idle for the length of an fdatasync (0.1-1 ms) once per
 * batch and nothing else can run meanwhile. In deferred mode (the executor
 * asks for it, store_thread.c) the writer runs synchronous=NORMAL instead:
 * COMMIT appends the batch's frames to the WAL (the transaction is then
 * committed and visible, and survives a crash of omtpd) and returns; the
 * executor's sync thread calls sq_sync(), an fdatasync of the WAL file, and
 * only then reports the batch durable (the MsgAck waits for that). While one
 * batch is being synced the writer already runs the next one, and one
 * fdatasync covers every commit that returned before it started.
 *
 * Why this is as durable as synchronous=FULL for what is reported durable:
 * in WAL mode a commit only writes the WAL (the database file changes only
 * in checkpoints, which fsync the WAL before they copy anything and the
 * database file afterwards, at any synchronous level). An fdatasync of the
 * WAL after COMMIT returned therefore makes the transaction's frames, its
 * commit frame and the WAL header durable, which is what FULL's own fsync
 * does. What FULL does in addition (syncing a restarted WAL's header before
 * its first frames) only orders writes of transactions not yet reported.
 *
 * The descriptor is our own (open(2) of "<db>-wal"): fsync acts on the file,
 * not on the descriptor. The WAL exists from the first commit until the last
 * connection closes; if it was replaced meanwhile (st_nlink == 0 on our
 * descriptor) we reopen and sync again. The directory is fsynced once after
 * each open, so a WAL file created since the last sync has a durable name.
 *
 * Admin commands open the database without the executor: their connections
 * keep synchronous=FULL and never reach this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "sq.h"

int sq_defer_sync(omtp_db *db)
{
    sq_db *d = SQ(db);
    if (!d->full)
        return 0; /* NORMAL: commits are as durable as configured already */
    if (!sqlite3_get_autocommit(d->h) ||
        sqlite3_exec(d->h, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        sq_fail(d, "PRAGMA synchronous=NORMAL");
        return 0; /* keep FULL: correct, only slower */
    }
    return 1;
}

/* fsync of the directory holding path (so a newly created file keeps its
 * name across a power cut). */
static int sync_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int wal_open(sq_db *d, char *why, size_t whylen)
{
    char wal[PATH_MAX];
    if (snprintf(wal, sizeof wal, "%s-wal", d->path) >= (int)sizeof wal) {
        snprintf(why, whylen, "path too long");
        return -1;
    }
    d->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (d->wal_fd < 0) {
        if (errno == ENOENT)
            return 1; /* no WAL: nothing was committed into one */
        snprintf(why, whylen, "open %s: %s", wal, strerror(errno));
        return -1;
    }
    if (sync_dir(wal) != 0) {
        snprintf(why, whylen, "fsync of the directory of %s: %s", wal, strerror(errno));
        return -1;
    }
    return 0;
}

int sq_sync(omtp_db *db)
{
    sq_db *d = SQ(db);
    char why[PATH_MAX + 64] = "";
    for (int attempt = 0; attempt < 2; attempt++) {
        if (d->wal_fd < 0) {
            int rc = wal_open(d, why, sizeof why);
            if (rc > 0)
                return 0;
            if (rc < 0)
                break;
        }
        if (fdatasync(d->wal_fd) != 0) {
            snprintf(why, sizeof why, "fdatasync of %s-wal: %s", d->path, strerror(errno));
            break;
        }
        struct stat st;
        if (fstat(d->wal_fd, &st) == 0 && st.st_nlink > 0)
            return 0;
        /* the WAL we synced is no longer the database's: sync the current one */
        close(d->wal_fd);
        d->wal_fd = -1;
    }
    /* (errmsg belongs to the store thread: log here) */
    LOG_ERROR("store: %s", why[0] ? why : "the WAL file keeps being replaced");
    return OMTP_EIO;
}

void sq_sync_close(sq_db *d)
{
    if (d->wal_fd >= 0)
        close(d->wal_fd);
    d->wal_fd = -1;
}
