/*
 * filestore_reader.c - pulled reads of the file store (filestore.h,
 * omtp_fs_reader_*): the backend's own streaming reader when it has one
 * (S3: one GET for the whole range), else one get per piece.
 *
 * Threading: as filestore.h; a reader belongs to one thread at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"
#include "proto/omtp_errors.h"

struct omtp_fs_reader {
    omtp_filestore *fs;
    void *impl; /* the backend's, or NULL: pieces by get */
    char sha[OMTP_FS_SHA_HEX];
    uint64_t at, end; /* next byte, end of the range (UINT64_MAX: the object's end) */
};

int omtp_fs_reader_open(omtp_filestore *fs, const char *sha256_hex, uint64_t off, uint64_t len,
                        omtp_fs_reader **out)
{
    *out = NULL;
    if (!omtp_fs_sha_valid(sha256_hex))
        return OMTP_EINVAL;
    omtp_fs_reader *r = calloc(1, sizeof *r);
    if (!r)
        return OMTP_ENOMEM;
    r->fs = fs;
    memcpy(r->sha, sha256_hex, OMTP_FS_SHA_HEX);
    r->at = off;
    r->end = len == UINT64_MAX || len > UINT64_MAX - off ? UINT64_MAX : off + len;
    int rc = 0;
    if (fs->ops->reader_open) {
        rc = fs->ops->reader_open(fs, sha256_hex, off, len, &r->impl);
    } else {
        uint64_t size = 0;
        rc = fs->ops->stat(fs, sha256_hex, &size); /* not found: said now */
        if (rc == 0 && r->end > size)
            r->end = size;
    }
    if (rc != 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

typedef struct piece {
    char *buf;
    size_t used, max;
} piece;

static int to_piece(void *arg, const void *data, size_t n)
{
    piece *p = arg;
    if (n > p->max - p->used)
        n = p->max - p->used;
    memcpy(p->buf + p->used, data, n);
    p->used += n;
    return 0;
}

ssize_t omtp_fs_reader_read(omtp_fs_reader *r, void *buf, size_t max)
{
    if (r->impl)
        return r->fs->ops->reader_read(r->fs, r->impl, buf, max);
    if (r->at >= r->end || max == 0)
        return 0;
    if (max > OMTP_FS_CHUNK)
        max = OMTP_FS_CHUNK;
    uint64_t want = r->end - r->at < max ? r->end - r->at : max;
    piece p = {.buf = buf, .max = (size_t)want};
    int rc = r->fs->ops->get(r->fs, r->sha, r->at, want, to_piece, &p);
    if (rc != 0)
        return rc;
    if (p.used == 0)
        return OMTP_EIO; /* shorter than its size said */
    r->at += p.used;
    return (ssize_t)p.used;
}

void omtp_fs_reader_close(omtp_fs_reader *r)
{
    if (!r)
        return;
    if (r->impl)
        r->fs->ops->reader_close(r->fs, r->impl);
    free(r);
}
