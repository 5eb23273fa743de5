/*
 * filestore_int.h - what a file store backend implements (filestore.c and
 * the backends filestore_<kind>.c only; users see filestore.h).
 *
 * filestore.c owns the parts every backend shares: the SHA-256 of a put as
 * the bytes pass, the size, argument checks, and freeing the put. A backend
 * sees its own state only:
 *
 *   struct my_store { omtp_filestore base; ... };   base first
 *
 * and gets an opaque `impl` per put that it allocates in put_begin and frees
 * in put_commit / put_abort (both are called exactly once per begun put).
 * Threading and errors as in filestore.h.
 */
#ifndef OMTP_STORE_FILESTORE_INT_H
#define OMTP_STORE_FILESTORE_INT_H

#include "filestore.h"

#include <sys/types.h>

typedef struct omtp_fs_ops {
    const char *kind; /* "local", "s3" */
    int (*put_begin)(omtp_filestore *fs, uint64_t size_hint, void **impl);
    int (*put_write)(omtp_filestore *fs, void *impl, const void *data, size_t n);
    /* name the temporary object `sha` durably: 0, or OMTP_FS_EXISTED when an
     * object of that name was there (kept; the temporary one dropped) */
    int (*put_commit)(omtp_filestore *fs, void *impl, const char *sha, uint64_t size);
    void (*put_abort)(omtp_filestore *fs, void *impl);
    int (*get)(omtp_filestore *fs, const char *sha, uint64_t off, uint64_t len, omtp_fs_sink sink,
               void *arg);
    int (*open_fd)(omtp_filestore *fs, const char *sha, int *fd, uint64_t *size); /* or NULL */
    int (*stat)(omtp_filestore *fs, const char *sha, uint64_t *size);
    int (*del)(omtp_filestore *fs, const char *sha);
    int (*sweep_tmp)(omtp_filestore *fs, int64_t max_age_s); /* or NULL */
    void (*close)(omtp_filestore *fs);
    /* pulled reads (filestore_reader.c), or NULL: then each read is one get */
    int (*reader_open)(omtp_filestore *fs, const char *sha, uint64_t off, uint64_t len,
                       void **impl);
    ssize_t (*reader_read)(omtp_filestore *fs, void *impl, void *buf, size_t max);
    void (*reader_close)(omtp_filestore *fs, void *impl);
} omtp_fs_ops;

struct omtp_filestore {
    const omtp_fs_ops *ops;
};

/* Backends' constructors (filestore.c picks one by the spec). */
int omtp_filestore_local_open(const omtp_filestore_config *cfg, omtp_filestore **out, char *why,
                              size_t whylen);
/* `bucket` is the spec after "s3://". Provided by filestore_s3.c; until
 * that backend exists, filestore.c refuses s3:// specs. */
int omtp_filestore_s3_open(const char *bucket, const omtp_filestore_config *cfg,
                           omtp_filestore **out, char *why, size_t whylen);

#endif
