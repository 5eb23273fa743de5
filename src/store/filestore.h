/*
 * filestore.h - where the bytes of uploaded files live (docs/files.md).
 *
 * A file store keeps immutable objects named by the lowercase hex SHA-256 of
 * their bytes (content addressed: two identical uploads are stored once).
 * The metadata (file ids, names, uploaders, references) is not here: it is
 * in the database (store.h, file_* operations) and its rules in
 * domain/files.h.
 *
 * Backends, chosen by the `file_store` setting (omtp_filestore_open's spec):
 *
 *   "" or "local"   DATA_DIR/files/ab/cdef...  (the first two hex digits are
 *                   a directory, the rest the file name); temporary objects
 *                   in DATA_DIR/files/tmp/. A commit writes, fsyncs the
 *                   file, renames it into place and fsyncs the directory.
 *                   filestore_local.c.
 *   "s3://BUCKET"   an S3-compatible service (s3_endpoint, s3_region,
 *                   s3_access_key, s3_secret_key, s3_path_style); objects
 *                   "sha256/ab/cdef...", multipart uploads assembled under
 *                   "tmp/". filestore_s3.c (docs/files.md "S3").
 *
 * Threading: every call blocks (disk or network I/O). They are safe to call
 * from several threads at once on one omtp_filestore (the HTTP threads, a
 * uv_queue_work worker, the sweeper) and must NEVER be called on the event
 * loop thread. One omtp_fs_put belongs to one thread at a time.
 *
 * Errors: 0 or a negative OMTP_E* (proto/omtp_errors.h): OMTP_ENOTFOUND (no
 * such object), OMTP_ENOSPC (disk or quota of the service full: nothing of
 * the object is left behind), OMTP_EIO (anything else; the reason is
 * logged), OMTP_EINVAL (a bad argument, or an operation the backend does not
 * offer).
 */
#ifndef OMTP_STORE_FILESTORE_H
#define OMTP_STORE_FILESTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OMTP_FS_SHA_HEX 65            /* 64 hex digits + NUL */
#define OMTP_FS_CHUNK   (1024 * 1024) /* largest piece a sink is handed */

typedef struct omtp_filestore omtp_filestore;

/* s3_path_style: how a request names the bucket */
enum {
    OMTP_FS_S3_STYLE_AUTO = 0, /* path style with an s3_endpoint (MinIO, Ceph), else virtual */
    OMTP_FS_S3_STYLE_PATH = 1, /* ENDPOINT/BUCKET/KEY */
    OMTP_FS_S3_STYLE_VHOST = 2 /* BUCKET.HOST/KEY (AWS) */
};

typedef struct omtp_filestore_config {
    const char *data_dir;      /* the server's data directory (local store root) */
    const char *s3_endpoint;   /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
    const char *s3_region;     /* "us-east-1" when empty */
    const char *s3_access_key; /* credentials (never logged) */
    const char *s3_secret_key;
    const char *tmp_dir;    /* where a backend may spool (S3 parts); NULL = data_dir/files/tmp */
    int s3_path_style;      /* OMTP_FS_S3_STYLE_*: 0 auto = path style when s3_endpoint is given */
    uint64_t max_file_size; /* the largest upload (S3: at most 5 GiB, CopyObject's limit) */
} omtp_filestore_config;

/* Opens the store named by `spec` ("" or "local", or "s3://BUCKET"); the
 * local store creates its directories. On failure returns a negative
 * OMTP_E* and writes a sentence saying what to fix into why. */
int omtp_filestore_open(const char *spec, const omtp_filestore_config *cfg, omtp_filestore **out,
                        char *why, size_t whylen);
void omtp_filestore_close(omtp_filestore *fs);
/* "local" or "s3", for logs and /metrics. */
const char *omtp_filestore_kind(const omtp_filestore *fs);

/* ---- streaming write
 *
 * begin opens a temporary object; write appends bytes; commit makes the
 * object durable under the SHA-256 of what was written and reports it (if an
 * object with that name already exists, the new bytes are dropped and the
 * existing one kept); abort removes the temporary object. After commit or
 * abort the put is freed, whatever the result. size_hint (0 = unknown) lets
 * a backend choose single vs multipart upload. */
typedef struct omtp_fs_put omtp_fs_put;
int omtp_fs_put_begin(omtp_filestore *fs, uint64_t size_hint, omtp_fs_put **out);
/* OMTP_ENOSPC on disk full: the caller aborts (nothing stays behind). */
int omtp_fs_put_write(omtp_fs_put *p, const void *data, size_t n);
/* Bytes written so far. */
uint64_t omtp_fs_put_size(const omtp_fs_put *p);
/* Returns 0 (stored now), OMTP_FS_EXISTED (an identical object was already
 * there: kept, the new bytes dropped) or a negative OMTP_E*. */
#define OMTP_FS_EXISTED 1
int omtp_fs_put_commit(omtp_fs_put *p, char sha256_hex[OMTP_FS_SHA_HEX], uint64_t *size);
/* The SHA-256 of the bytes written, before the commit names the object by
 * it (after this, write is refused; commit uses the same digest). Lets the
 * caller pin the name first (domain/files_pins.h), so a concurrent deletion
 * of identical bytes cannot remove what the commit finds "already there".
 * 0 or OMTP_EIO. */
int omtp_fs_put_digest(omtp_fs_put *p, char sha256_hex[OMTP_FS_SHA_HEX]);
void omtp_fs_put_abort(omtp_fs_put *p);

/* ---- reading */

/* Receives the bytes of a read in order, in pieces of at most OMTP_FS_CHUNK.
 * A non-zero return stops the read, and omtp_fs_get returns it. */
typedef int (*omtp_fs_sink)(void *arg, const void *data, size_t n);
/* Reads [off, off+len) of the object (len UINT64_MAX = to the end). */
int omtp_fs_get(omtp_filestore *fs, const char *sha256_hex, uint64_t off, uint64_t len,
                omtp_fs_sink sink, void *arg);
/* Local store only: an open read-only descriptor of the object (the caller
 * closes it), for sendfile-style serving; OMTP_EINVAL on other backends. */
int omtp_fs_open_fd(omtp_filestore *fs, const char *sha256_hex, int *fd, uint64_t *size);
int omtp_fs_stat(omtp_filestore *fs, const char *sha256_hex, uint64_t *size);
/* Removes the object; OMTP_ENOTFOUND if it was not there. */
int omtp_fs_delete(omtp_filestore *fs, const char *sha256_hex);

/* ---- pulled reads: for a reader that asks for the next piece (an HTTP
 * response callback). One open per response: the S3 store sends ONE ranged
 * GET and streams it (at most 256 KiB buffered, the network paced by the
 * reader); a backend without its own (local) reads each piece with get.
 * One reader belongs to one thread at a time; filestore_reader.c. */
typedef struct omtp_fs_reader omtp_fs_reader;
/* [off, off+len) of the object (len UINT64_MAX = to the end); OMTP_ENOTFOUND
 * etc. are returned here, before any byte. */
int omtp_fs_reader_open(omtp_filestore *fs, const char *sha256_hex, uint64_t off, uint64_t len,
                        omtp_fs_reader **out);
/* Up to max bytes into buf: > 0 read, 0 at the end of the range, < 0 OMTP_E*. */
ssize_t omtp_fs_reader_read(omtp_fs_reader *r, void *buf, size_t max);
void omtp_fs_reader_close(omtp_fs_reader *r);

/* Removes temporary objects older than max_age_s (left by a crash); returns
 * how many. The server calls it at start and from the sweeper. */
int omtp_fs_sweep_tmp(omtp_filestore *fs, int64_t max_age_s);

/* Whether s is 64 lowercase hex digits. */
int omtp_fs_sha_valid(const char *s);

#endif
