/*
 * filestore_local.c - the local file store (filestore.h): objects are files
 * under DATA_DIR/files/ named by their SHA-256, "ab/cdef..." (256 fan-out
 * directories), temporary objects in DATA_DIR/files/tmp/.
 *
 * Durability of a commit: fsync the temporary file, create the fan-out
 * directory if needed (and fsync files/), rename into place (an existing
 * object with that name is kept and the new bytes dropped: same name, same
 * bytes), fsync the fan-out directory. A crash leaves either no object or
 * the whole object, and at most a temporary file (omtp_fs_sweep_tmp).
 *
 * Writeback while receiving: every WB_WINDOW bytes written, the window's
 * writeback is started (sync_file_range SYNC_FILE_RANGE_WRITE: the disk
 * writes while the next bytes arrive, the writer does not wait for it), so
 * the commit's fsync only has the tail left: the 201 still means durable
 * (fsync + rename + directory fsync), it just no longer waits for the whole
 * file to go to the disk after the last byte arrived.
 *
 * Disk full: write(2)/fsync(2) failing with ENOSPC, EDQUOT or EFBIG (a file
 * size limit) is OMTP_ENOSPC; the caller aborts, which unlinks the
 * temporary file, so nothing half-written stays.
 *
 * Threading: no shared mutable state beyond the file system; any thread but
 * the loop, several at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filestore_int.h"
#include "proto/omtp_errors.h"
#include "util/log.h"

#define READ_BUF  (256 * 1024)
#define WB_WINDOW (4 * 1024 * 1024) /* bytes between two writeback starts */

typedef struct local_store {
    omtp_filestore base;
    char root[4096]; /* DATA_DIR/files */
    char tmp[4200];  /* DATA_DIR/files/tmp */
} local_store;

typedef struct local_put {
    int fd;
    uint64_t written; /* bytes written so far */
    uint64_t wb_at;   /* writeback started for [0, wb_at) */
    char path[4400];
} local_put;

static int err_of(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return OMTP_ENOSPC;
    if (e == ENOENT)
        return OMTP_ENOTFOUND;
    return OMTP_EIO;
}

static void obj_path(const local_store *ls, const char *sha, char *out, size_t n)
{
    snprintf(out, n, "%s/%.2s/%s", ls->root, sha, sha + 2);
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return OMTP_EIO;
    int rc = fsync(fd) == 0 ? 0 : err_of(errno);
    close(fd);
    return rc;
}

static int l_put_begin(omtp_filestore *fs, uint64_t size_hint, void **impl)
{
    (void)size_hint;
    local_store *ls = (local_store *)fs;
    local_put *p = calloc(1, sizeof *p);
    if (!p)
        return OMTP_ENOMEM;
    snprintf(p->path, sizeof p->path, "%s/up-XXXXXX", ls->tmp);
    p->fd = mkostemp(p->path, O_CLOEXEC);
    if (p->fd < 0) {
        int e = errno;
        LOG_ERROR("file store: cannot create a temporary file in %s: %s", ls->tmp, strerror(e));
        free(p);
        return err_of(e);
    }
    *impl = p;
    return 0;
}

/* Starts the writeback of the full windows written since the last start
 * (docs/files.md "Speed"). Errors are not reported here: the commit's
 * fsync reports them (ENOSPC included). */
static void writeback(local_put *p)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (p->written - p->wb_at < WB_WINDOW)
        return;
    uint64_t end = p->written - p->written % WB_WINDOW;
    (void)sync_file_range(p->fd, (off_t)p->wb_at, (off_t)(end - p->wb_at), SYNC_FILE_RANGE_WRITE);
    p->wb_at = end;
#else
    (void)p;
#endif
}

static int l_put_write(omtp_filestore *fs, void *impl, const void *data, size_t n)
{
    (void)fs;
    local_put *p = impl;
    const char *b = data;
    while (n) {
        ssize_t w = write(p->fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            if (err_of(e) != OMTP_ENOSPC)
                LOG_ERROR("file store: write %s: %s", p->path, strerror(e));
            return err_of(e);
        }
        b += w;
        n -= (size_t)w;
        p->written += (uint64_t)w;
    }
    writeback(p);
    return 0;
}

static void l_put_abort(omtp_filestore *fs, void *impl)
{
    (void)fs;
    local_put *p = impl;
    if (p->fd >= 0)
        close(p->fd);
    unlink(p->path);
    free(p);
}

static int l_put_commit(omtp_filestore *fs, void *impl, const char *sha, uint64_t size)
{
    (void)size;
    local_store *ls = (local_store *)fs;
    local_put *p = impl;
    char dir[4300], dst[4400];
    int rc = 0;
    if (fsync(p->fd) != 0) {
        rc = err_of(errno);
        LOG_ERROR("file store: fsync %s: %s", p->path, strerror(errno));
        l_put_abort(fs, p);
        return rc;
    }
    close(p->fd);
    p->fd = -1;
    snprintf(dir, sizeof dir, "%s/%.2s", ls->root, sha);
    if (mkdir(dir, 0750) == 0) {
        if ((rc = fsync_dir(ls->root)) != 0) {
            l_put_abort(fs, p);
            return rc;
        }
    } else if (errno != EEXIST) {
        rc = err_of(errno);
        LOG_ERROR("file store: mkdir %s: %s", dir, strerror(errno));
        l_put_abort(fs, p);
        return rc;
    }
    obj_path(ls, sha, dst, sizeof dst);
    struct stat st;
    if (stat(dst, &st) == 0) { /* stored once: keep the existing object */
        l_put_abort(fs, p);
        return OMTP_FS_EXISTED;
    }
    if (rename(p->path, dst) != 0) {
        rc = err_of(errno);
        LOG_ERROR("file store: rename %s -> %s: %s", p->path, dst, strerror(errno));
        l_put_abort(fs, p);
        return rc;
    }
    free(p);
    return fsync_dir(dir);
}

static int l_open_fd(omtp_filestore *fs, const char *sha, int *fd, uint64_t *size)
{
    char path[4400];
    obj_path((local_store *)fs, sha, path, sizeof path);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return err_of(errno);
    struct stat st;
    if (fstat(f, &st) != 0) {
        close(f);
        return OMTP_EIO;
    }
    *fd = f;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int l_get(omtp_filestore *fs, const char *sha, uint64_t off, uint64_t len, omtp_fs_sink sink,
                 void *arg)
{
    int fd;
    uint64_t size;
    int rc = l_open_fd(fs, sha, &fd, &size);
    if (rc != 0)
        return rc;
    if (off > size) {
        close(fd);
        return OMTP_EINVAL;
    }
    if (len > size - off)
        len = size - off;
    char *buf = malloc(READ_BUF);
    if (!buf) {
        close(fd);
        return OMTP_ENOMEM;
    }
    while (len && rc == 0) {
        size_t want = len < READ_BUF ? (size_t)len : READ_BUF;
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = OMTP_EIO;
            break;
        }
        rc = sink(arg, buf, (size_t)r);
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    free(buf);
    close(fd);
    return rc;
}

static int l_stat(omtp_filestore *fs, const char *sha, uint64_t *size)
{
    char path[4400];
    obj_path((local_store *)fs, sha, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0)
        return err_of(errno);
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int l_del(omtp_filestore *fs, const char *sha)
{
    char path[4400];
    obj_path((local_store *)fs, sha, path, sizeof path);
    if (unlink(path) != 0)
        return err_of(errno);
    return 0;
}

static int l_sweep_tmp(omtp_filestore *fs, int64_t max_age_s)
{
    local_store *ls = (local_store *)fs;
    DIR *d = opendir(ls->tmp);
    if (!d)
        return 0;
    int n = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "up-", 3) != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0)
            continue;
        if ((int64_t)(now - st.st_mtime) < max_age_s)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            n++;
    }
    closedir(d);
    if (n)
        LOG_INFO("file store: removed %d temporary file(s) older than %llds left by a crash", n,
                 (long long)max_age_s);
    return n;
}

static void l_close(omtp_filestore *fs)
{
    free(fs);
}

static const omtp_fs_ops local_ops = {
    .kind = "local",
    .put_begin = l_put_begin,
    .put_write = l_put_write,
    .put_commit = l_put_commit,
    .put_abort = l_put_abort,
    .get = l_get,
    .open_fd = l_open_fd,
    .stat = l_stat,
    .del = l_del,
    .sweep_tmp = l_sweep_tmp,
    .close = l_close,
};

int omtp_filestore_local_open(const omtp_filestore_config *cfg, omtp_filestore **out, char *why,
                              size_t whylen)
{
    local_store *ls = calloc(1, sizeof *ls);
    if (!ls)
        return OMTP_ENOMEM;
    ls->base.ops = &local_ops;
    const char *dd = cfg && cfg->data_dir && *cfg->data_dir ? cfg->data_dir : ".";
    snprintf(ls->root, sizeof ls->root, "%s/files", dd);
    if (cfg && cfg->tmp_dir && *cfg->tmp_dir)
        snprintf(ls->tmp, sizeof ls->tmp, "%s", cfg->tmp_dir);
    else
        snprintf(ls->tmp, sizeof ls->tmp, "%s/tmp", ls->root);
    /* the data directory too: with PostgreSQL nothing else creates it */
    const char *dirs[3] = {dd, ls->root, ls->tmp};
    for (int i = 0; i < 3; i++) {
        if (mkdir(dirs[i], 0750) != 0 && errno != EEXIST) {
            snprintf(why, whylen, "cannot create %s: %s (check the data directory's permissions)",
                     dirs[i], strerror(errno));
            free(ls);
            return OMTP_EIO;
        }
    }
    *out = &ls->base;
    return 0;
}
