/*
 * filestore.c - the backend-independent half of the file store
 * (filestore.h): picks the backend by the spec, hashes a put's bytes as they
 * pass (SHA-256, OpenSSL EVP), counts them and hands each call to the
 * backend (filestore_int.h).
 *
 * Threading: as filestore.h (blocking; any thread but the loop).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"
#include "proto/omtp_errors.h"
#include "util/log.h"

struct omtp_fs_put {
    omtp_filestore *fs;
    void *impl;
    EVP_MD_CTX *md;
    uint64_t size;
    char sha[OMTP_FS_SHA_HEX]; /* "" until the digest is final */
};

int omtp_filestore_open(const char *spec, const omtp_filestore_config *cfg, omtp_filestore **out,
                        char *why, size_t whylen)
{
    *out = NULL;
    if (!spec || !*spec || strcmp(spec, "local") == 0)
        return omtp_filestore_local_open(cfg, out, why, whylen);
    if (strncmp(spec, "s3://", 5) == 0) {
        const char *bucket = spec + 5;
        if (!*bucket || strchr(bucket, '/')) {
            snprintf(why, whylen, "file_store '%s': write s3://BUCKET (a bucket name, no path)",
                     spec);
            return OMTP_EINVAL;
        }
        return omtp_filestore_s3_open(bucket, cfg, out, why, whylen);
    }
    snprintf(why, whylen, "file_store '%s' is not \"local\" or s3://BUCKET", spec);
    return OMTP_EINVAL;
}

void omtp_filestore_close(omtp_filestore *fs)
{
    if (fs)
        fs->ops->close(fs);
}

const char *omtp_filestore_kind(const omtp_filestore *fs)
{
    return fs->ops->kind;
}

int omtp_fs_sha_valid(const char *s)
{
    if (!s)
        return 0;
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 64;
}

int omtp_fs_put_begin(omtp_filestore *fs, uint64_t size_hint, omtp_fs_put **out)
{
    *out = NULL;
    omtp_fs_put *p = calloc(1, sizeof *p);
    if (!p)
        return OMTP_ENOMEM;
    p->fs = fs;
    p->md = EVP_MD_CTX_new();
    if (!p->md || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(p->md);
        free(p);
        return OMTP_ENOMEM;
    }
    int rc = fs->ops->put_begin(fs, size_hint, &p->impl);
    if (rc != 0) {
        EVP_MD_CTX_free(p->md);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int omtp_fs_put_write(omtp_fs_put *p, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (p->sha[0])
        return OMTP_EINVAL; /* the digest is final */
    int rc = p->fs->ops->put_write(p->fs, p->impl, data, n);
    if (rc != 0)
        return rc;
    EVP_DigestUpdate(p->md, data, n);
    p->size += n;
    return 0;
}

uint64_t omtp_fs_put_size(const omtp_fs_put *p)
{
    return p->size;
}

static void put_free(omtp_fs_put *p)
{
    EVP_MD_CTX_free(p->md);
    free(p);
}

int omtp_fs_put_digest(omtp_fs_put *p, char sha256_hex[OMTP_FS_SHA_HEX])
{
    if (!p->sha[0]) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn = 0;
        if (EVP_DigestFinal_ex(p->md, d, &dn) != 1 || dn != 32)
            return OMTP_EIO;
        static const char hex[] = "0123456789abcdef";
        for (unsigned i = 0; i < 32; i++) {
            p->sha[2 * i] = hex[d[i] >> 4];
            p->sha[2 * i + 1] = hex[d[i] & 15];
        }
        p->sha[64] = 0;
    }
    memcpy(sha256_hex, p->sha, OMTP_FS_SHA_HEX);
    return 0;
}

int omtp_fs_put_commit(omtp_fs_put *p, char sha256_hex[OMTP_FS_SHA_HEX], uint64_t *size)
{
    if (omtp_fs_put_digest(p, sha256_hex) != 0) {
        p->fs->ops->put_abort(p->fs, p->impl);
        put_free(p);
        return OMTP_EIO;
    }
    if (size)
        *size = p->size;
    int rc = p->fs->ops->put_commit(p->fs, p->impl, sha256_hex, p->size);
    put_free(p);
    return rc;
}

void omtp_fs_put_abort(omtp_fs_put *p)
{
    if (!p)
        return;
    p->fs->ops->put_abort(p->fs, p->impl);
    put_free(p);
}

int omtp_fs_get(omtp_filestore *fs, const char *sha256_hex, uint64_t off, uint64_t len,
                omtp_fs_sink sink, void *arg)
{
    if (!omtp_fs_sha_valid(sha256_hex))
        return OMTP_EINVAL;
    return fs->ops->get(fs, sha256_hex, off, len, sink, arg);
}

int omtp_fs_open_fd(omtp_filestore *fs, const char *sha256_hex, int *fd, uint64_t *size)
{
    if (!omtp_fs_sha_valid(sha256_hex) || !fs->ops->open_fd)
        return OMTP_EINVAL;
    return fs->ops->open_fd(fs, sha256_hex, fd, size);
}

int omtp_fs_stat(omtp_filestore *fs, const char *sha256_hex, uint64_t *size)
{
    if (!omtp_fs_sha_valid(sha256_hex))
        return OMTP_EINVAL;
    return fs->ops->stat(fs, sha256_hex, size);
}

int omtp_fs_delete(omtp_filestore *fs, const char *sha256_hex)
{
    if (!omtp_fs_sha_valid(sha256_hex))
        return OMTP_EINVAL;
    return fs->ops->del(fs, sha256_hex);
}

int omtp_fs_sweep_tmp(omtp_filestore *fs, int64_t max_age_s)
{
    return fs->ops->sweep_tmp ? fs->ops->sweep_tmp(fs, max_age_s) : 0;
}
