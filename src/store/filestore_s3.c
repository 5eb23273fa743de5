/*
 * filestore_s3.c - the S3-compatible backend of the file store
 * (filestore_int.h; docs/files.md "S3"): `file_store = s3://BUCKET`.
 *
 * What the bucket holds:
 *   sha256/ab/cdef...   a stored file, named by the hex SHA-256 of its bytes
 *                       (the first two digits a "directory", like the local
 *                       store); written once, never changed
 *   tmp/<32 hex>        a large upload being assembled (multipart), copied
 *                       to its sha256/ name at commit and deleted; one older
 *                       than a day is a crash's leftover (omtp_fs_sweep_tmp)
 *
 * A put spools what it is given to an unlinked file in the spool directory
 * (cfg->tmp_dir, else DATA_DIR/files/tmp) and sends it S3_PART bytes at a
 * time, so memory stays flat whatever the file's size:
 *   - a file smaller than one part is one PUT at commit, straight to its
 *     sha256/ name (its hash is known by then, so it is sent as the signed
 *     x-amz-content-sha256), after a HEAD that finds an identical file
 *     already stored (then nothing is sent);
 *   - a larger one is a multipart upload to tmp/<id> (CreateMultipartUpload
 *     on the first full part, UploadPart per part, CompleteMultipartUpload at
 *     commit), then CopyObject to sha256/.. unless a HEAD finds it there,
 *     then DELETE of tmp/<id>. CopyObject copies at most 5 GiB: open refuses
 *     a larger max_file_size (see omtp_filestore_config).
 * Any failure aborts the multipart upload (AbortMultipartUpload), so no
 * parts stay billed; the put returns the error and logs why.
 *
 * Threading: as filestore.h; the S3 client (s3_client.c) keeps a pool of
 * connections, one put is used by one thread at a time.
 */
#include "filestore_int.h"
#include "proto/omtp_errors.h"
#include "s3_client.h"
#include "s3_xml.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_PART      (8u * 1024 * 1024) /* bytes per part of a multipart upload (S3: >= 5 MiB) */
#define S3_MAX_PARTS 10000              /* S3's limit */
#define S3_MAX_COPY  (5ull * 1024 * 1024 * 1024) /* CopyObject's limit */

typedef struct s3_store {
    omtp_filestore base; /* first */
    s3_client *cli;
    char spool_dir[512];
} s3_store;

typedef struct s3_put {
    int fd;           /* the spool: bytes not sent yet */
    uint64_t spooled; /* bytes in it */
    char tmpkey[64];  /* "tmp/<32 hex>" of a multipart upload */
    char upload_id[512];
    int nparts;
    char (*etags)[128]; /* part i's ETag at etags[i] */
    int cap;
} s3_put;

static s3_store *S(omtp_filestore *fs)
{
    return (s3_store *)fs;
}

static void final_key(const char *sha, char key[80])
{
    snprintf(key, 80, "sha256/%.2s/%s", sha, sha + 2);
}

/* RFC 3986 encoding of a query value (what SigV4 signs) */
static void qenc(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < outlen; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static int req(omtp_filestore *fs, s3_req *rq, s3_resp *resp, int quiet_404)
{
    char why[768];
    int rc = s3_do(S(fs)->cli, rq, resp, why, sizeof why);
    if (rc != 0 && !(quiet_404 && rc == OMTP_ENOTFOUND))
        LOG_WARN("file store: %s", why);
    return rc;
}

static s3_req rq_init(const char *method, const char *key)
{
    s3_req r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.key = key;
    r.body_fd = -1;
    return r;
}

/* ---- spool */

static int spool_open(s3_store *st)
{
    int fd = open(st->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[600];
    snprintf(path, sizeof path, "%s/s3spool.XXXXXX", st->spool_dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int spool_write(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == ENOSPC || errno == EDQUOT ? OMTP_ENOSPC : OMTP_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spool_reset(s3_put *p)
{
    p->spooled = 0;
    if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0)
        return OMTP_EIO;
    return 0;
}

/* ---- multipart */

static int mp_create(omtp_filestore *fs, s3_put *p)
{
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return OMTP_EIO;
    int o = snprintf(p->tmpkey, sizeof p->tmpkey, "tmp/");
    for (size_t i = 0; i < sizeof rnd; i++)
        o += snprintf(p->tmpkey + o, sizeof p->tmpkey - (size_t)o, "%02x", rnd[i]);
    s3_req rq = rq_init("POST", p->tmpkey);
    rq.query = "uploads=";
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 0);
    if (rc == 0 &&
        !s3_xml_text(resp.body, resp.body_len, "UploadId", p->upload_id, sizeof p->upload_id)) {
        LOG_WARN("file store: S3 POST %s?uploads: no UploadId in the reply", p->tmpkey);
        rc = OMTP_EIO;
    }
    s3_resp_free(&resp);
    return rc;
}

static int mp_part(omtp_filestore *fs, s3_put *p)
{
    if (p->nparts >= S3_MAX_PARTS) {
        LOG_WARN("file store: S3 upload %s over %d parts", p->tmpkey, S3_MAX_PARTS);
        return OMTP_EINVAL;
    }
    if (p->nparts == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        void *e = realloc(p->etags, (size_t)cap * sizeof *p->etags);
        if (!e)
            return OMTP_ENOMEM;
        p->etags = e;
        p->cap = cap;
    }
    char id[1600], query[1700];
    qenc(p->upload_id, id, sizeof id);
    snprintf(query, sizeof query, "partNumber=%d&uploadId=%s", p->nparts + 1, id);
    s3_req rq = rq_init("PUT", p->tmpkey);
    rq.query = query;
    rq.body_fd = p->fd;
    rq.body_off = 0;
    rq.body_len = p->spooled;
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 0);
    if (rc == 0 && !resp.etag[0]) {
        LOG_WARN("file store: S3 PUT %s part %d: no ETag in the reply", p->tmpkey, p->nparts + 1);
        rc = OMTP_EIO;
    }
    if (rc == 0)
        snprintf(p->etags[p->nparts++], sizeof *p->etags, "%s", resp.etag);
    s3_resp_free(&resp);
    return rc == 0 ? spool_reset(p) : rc;
}

static int mp_complete(omtp_filestore *fs, s3_put *p)
{
    /* an ETag is the service's: sized by what it holds (a '"' takes 6 bytes), so
     * that no snprintf below is cut and `o` never passes `cap` */
    size_t cap = 128, o = 0;
    for (int i = 0; i < p->nparts; i++)
        cap += 80 + 6 * strlen(p->etags[i]);
    char *xml = malloc(cap);
    if (!xml)
        return OMTP_ENOMEM;
    o += (size_t)snprintf(xml + o, cap - o, "<CompleteMultipartUpload>");
    for (int i = 0; i < p->nparts; i++) {
        /* an ETag is a quoted hex digest: nothing in it needs escaping but
           the quotes, which S3 accepts as &quot; */
        o += (size_t)snprintf(xml + o, cap - o, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *e = p->etags[i]; *e && o + 8 < cap; e++) {
            if (*e == '"')
                o += (size_t)snprintf(xml + o, cap - o, "&quot;");
            else if (*e != '<' && *e != '>' && *e != '&')
                xml[o++] = *e;
        }
        o += (size_t)snprintf(xml + o, cap - o, "</ETag></Part>");
    }
    o += (size_t)snprintf(xml + o, cap - o, "</CompleteMultipartUpload>");
    char id[1600], query[1700];
    qenc(p->upload_id, id, sizeof id);
    snprintf(query, sizeof query, "uploadId=%s", id);
    s3_req rq = rq_init("POST", p->tmpkey);
    rq.query = query;
    rq.slow_ok = 1;
    rq.body = xml;
    rq.body_len = o;
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 0);
    s3_resp_free(&resp);
    free(xml);
    if (rc == 0)
        p->upload_id[0] = '\0'; /* done: nothing to abort */
    return rc;
}

static void mp_abort(omtp_filestore *fs, s3_put *p)
{
    if (!p->upload_id[0])
        return;
    char id[1600], query[1700];
    qenc(p->upload_id, id, sizeof id);
    snprintf(query, sizeof query, "uploadId=%s", id);
    s3_req rq = rq_init("DELETE", p->tmpkey);
    rq.query = query;
    s3_resp resp;
    if (req(fs, &rq, &resp, 1) != 0)
        LOG_WARN("file store: multipart upload %s left behind: a bucket lifecycle rule "
                 "(AbortIncompleteMultipartUpload) removes it (docs/files.md, S3)",
                 p->tmpkey);
    s3_resp_free(&resp);
    p->upload_id[0] = '\0';
}

static int obj_delete(omtp_filestore *fs, const char *key)
{
    s3_req rq = rq_init("DELETE", key);
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 1);
    s3_resp_free(&resp);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static int obj_head(omtp_filestore *fs, const char *key, uint64_t *size)
{
    s3_req rq = rq_init("HEAD", key);
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 1);
    if (rc == 0 && size)
        *size = resp.length;
    s3_resp_free(&resp);
    return rc;
}

/* ---- the backend */

static void put_free(s3_put *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->etags);
    free(p);
}

static int s3_put_begin(omtp_filestore *fs, uint64_t size_hint, void **impl)
{
    s3_put *p = calloc(1, sizeof *p);
    if (!p)
        return OMTP_ENOMEM;
    p->fd = spool_open(S(fs));
    if (p->fd < 0) {
        int e = errno;
        LOG_WARN("file store: cannot make a spool file in %s: %s", S(fs)->spool_dir, strerror(e));
        free(p);
        return e == ENOSPC || e == EDQUOT ? OMTP_ENOSPC : OMTP_EIO;
    }
    *impl = p;
    return 0;
}

static int s3_put_write(omtp_filestore *fs, void *impl, const void *data, size_t n)
{
    s3_put *p = impl;
    int rc = spool_write(p->fd, data, n);
    if (rc != 0)
        return rc;
    p->spooled += n;
    if (p->spooled < S3_PART)
        return 0;
    if (!p->upload_id[0] && (rc = mp_create(fs, p)) != 0)
        return rc;
    return mp_part(fs, p);
}

static int s3_put_commit(omtp_filestore *fs, void *impl, const char *sha, uint64_t size)
{
    s3_put *p = impl;
    char key[80];
    final_key(sha, key);
    int rc = 0;
    if (!p->upload_id[0] && p->nparts == 0) {
        /* smaller than a part: one PUT straight to its name, hash signed */
        rc = obj_head(fs, key, NULL);
        if (rc == OMTP_ENOTFOUND) {
            s3_req rq = rq_init("PUT", key);
            rq.payload_sha = sha;
            rq.body_fd = p->fd;
            rq.body_len = p->spooled;
            s3_resp resp;
            rc = req(fs, &rq, &resp, 0);
            s3_resp_free(&resp);
        } else if (rc == 0) {
            rc = OMTP_FS_EXISTED; /* identical bytes stored before: nothing sent */
        }
        put_free(p);
        return rc;
    }
    if (p->spooled > 0)
        rc = mp_part(fs, p);
    if (rc == 0)
        rc = mp_complete(fs, p);
    if (rc != 0) {
        mp_abort(fs, p);
        put_free(p);
        return rc;
    }
    /* the object is tmp/<id> now: name it, unless an identical one is there */
    rc = obj_head(fs, key, NULL);
    if (rc == 0) {
        rc = OMTP_FS_EXISTED;
    } else if (rc == OMTP_ENOTFOUND) {
        s3_req rq = rq_init("PUT", key);
        rq.copy_src = p->tmpkey;
        rq.slow_ok = 1;
        s3_resp resp;
        rc = req(fs, &rq, &resp, 0);
        s3_resp_free(&resp);
    }
    int drc = obj_delete(fs, p->tmpkey);
    if (drc != 0)
        LOG_WARN("file store: %s stays until the sweep (omtp_fs_sweep_tmp)", p->tmpkey);
    (void)size;
    put_free(p);
    return rc;
}

static void s3_put_abort(omtp_filestore *fs, void *impl)
{
    s3_put *p = impl;
    mp_abort(fs, p);
    put_free(p);
}

static int s3_get(omtp_filestore *fs, const char *sha, uint64_t off, uint64_t len,
                  omtp_fs_sink sink, void *arg)
{
    char key[80];
    final_key(sha, key);
    if (len == 0)
        return obj_head(fs, key, NULL);
    s3_req rq = rq_init("GET", key);
    rq.range_off = off;
    rq.range_len = off == 0 && len == UINT64_MAX ? 0 : len;
    rq.sink = sink;
    rq.sink_arg = arg;
    s3_resp resp;
    int rc = req(fs, &rq, &resp, 1);
    s3_resp_free(&resp);
    return rc;
}

static int s3_stat(omtp_filestore *fs, const char *sha, uint64_t *size)
{
    char key[80];
    final_key(sha, key);
    return obj_head(fs, key, size);
}

static int s3_del(omtp_filestore *fs, const char *sha)
{
    char key[80];
    final_key(sha, key);
    int rc = obj_head(fs, key, NULL); /* S3 answers 204 whether or not it was there */
    if (rc != 0)
        return rc;
    return obj_delete(fs, key);
}

/* "2026-12-07T21:59:10.000Z" -> seconds since the epoch, -1 if not that */
static int64_t iso_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static int s3_sweep_tmp(omtp_filestore *fs, int64_t max_age_s)
{
    char token[1024] = "", etoken[3100], query[3300];
    int removed = 0;
    int64_t now = (int64_t)time(NULL);
    for (int page = 0; page < 1000; page++) {
        if (token[0]) {
            qenc(token, etoken, sizeof etoken);
            snprintf(query, sizeof query, "continuation-token=%s&list-type=2&prefix=tmp%%2F",
                     etoken);
        } else {
            snprintf(query, sizeof query, "list-type=2&prefix=tmp%%2F");
        }
        s3_req rq = rq_init("GET", "");
        rq.query = query;
        s3_resp resp;
        int rc = req(fs, &rq, &resp, 0);
        if (rc != 0) {
            s3_resp_free(&resp);
            return removed > 0 ? removed : rc;
        }
        size_t pos = 0, ilen = 0;
        const char *in = NULL;
        while (s3_xml_next(resp.body, resp.body_len, &pos, "Contents", &in, &ilen)) {
            char key[600], when[64];
            if (!s3_xml_text(in, ilen, "Key", key, sizeof key) ||
                !s3_xml_text(in, ilen, "LastModified", when, sizeof when))
                continue;
            int64_t t = iso_time(when);
            if (t < 0 || now - t < max_age_s || strncmp(key, "tmp/", 4) != 0)
                continue;
            if (obj_delete(fs, key) == 0)
                removed++;
        }
        char trunc[16] = "";
        s3_xml_text(resp.body, resp.body_len, "IsTruncated", trunc, sizeof trunc);
        int more =
            strcmp(trunc, "true") == 0 &&
            s3_xml_text(resp.body, resp.body_len, "NextContinuationToken", token, sizeof token);
        s3_resp_free(&resp);
        if (!more)
            break;
    }
    if (removed > 0)
        LOG_INFO("file store: removed %d temporary S3 objects older than %" PRId64 " s", removed,
                 max_age_s);
    return removed;
}

/* ---- pulled reads: one GET streamed (s3_stream) */

static int s3_reader_open(omtp_filestore *fs, const char *sha, uint64_t off, uint64_t len,
                          void **impl)
{
    char key[80], why[768];
    final_key(sha, key);
    s3_stream *st = NULL;
    int rc = s3_stream_open(S(fs)->cli, key, off, len, &st, why, sizeof why);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        LOG_WARN("file store: %s", why);
    *impl = st;
    return rc;
}

static ssize_t s3_reader_read(omtp_filestore *fs, void *impl, void *buf, size_t max)
{
    char why[768];
    ssize_t n = s3_stream_read(impl, buf, max, why, sizeof why);
    if (n < 0)
        LOG_WARN("file store: %s", why);
    return n;
}

static void s3_reader_close(omtp_filestore *fs, void *impl)
{
    s3_stream_close(impl);
}

static void s3_close(omtp_filestore *fs)
{
    s3_client_free(S(fs)->cli);
    free(fs);
}

static const omtp_fs_ops s3_ops = {
    .kind = "s3",
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .get = s3_get,
    .open_fd = NULL,
    .stat = s3_stat,
    .del = s3_del,
    .sweep_tmp = s3_sweep_tmp,
    .close = s3_close,
    .reader_open = s3_reader_open,
    .reader_read = s3_reader_read,
    .reader_close = s3_reader_close,
};

static int mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int omtp_filestore_s3_open(const char *bucket, const omtp_filestore_config *cfg,
                           omtp_filestore **out, char *why, size_t whylen)
{
    *out = NULL;
    const char *ak = cfg->s3_access_key && *cfg->s3_access_key ? cfg->s3_access_key
                                                               : getenv("AWS_ACCESS_KEY_ID");
    const char *sk = cfg->s3_secret_key && *cfg->s3_secret_key ? cfg->s3_secret_key
                                                               : getenv("AWS_SECRET_ACCESS_KEY");
    if (cfg->max_file_size > S3_MAX_COPY) {
        snprintf(why, whylen,
                 "file_store s3://%s: max_file_size is over 5 GiB, the most one S3 CopyObject "
                 "copies; lower max_file_size",
                 bucket);
        return OMTP_EINVAL;
    }
    s3_store *st = calloc(1, sizeof *st);
    if (!st)
        return OMTP_ENOMEM;
    st->base.ops = &s3_ops;
    if (cfg->tmp_dir && *cfg->tmp_dir)
        snprintf(st->spool_dir, sizeof st->spool_dir, "%s", cfg->tmp_dir);
    else
        snprintf(st->spool_dir, sizeof st->spool_dir, "%s/files/tmp",
                 cfg->data_dir && *cfg->data_dir ? cfg->data_dir : ".");
    if (mkdirs(st->spool_dir) != 0) {
        snprintf(why, whylen, "file store: cannot make the spool directory %s: %s", st->spool_dir,
                 strerror(errno));
        free(st);
        return OMTP_EIO;
    }
    s3_client_config cc = {
        .endpoint = cfg->s3_endpoint,
        .region = cfg->s3_region,
        .bucket = bucket,
        .access_key = ak,
        .secret_key = sk,
        .path_style = cfg->s3_path_style == OMTP_FS_S3_STYLE_PATH    ? 1
                      : cfg->s3_path_style == OMTP_FS_S3_STYLE_VHOST ? 0
                                                                     : -1,
    };
    int rc = s3_client_new(&cc, &st->cli, why, whylen);
    if (rc != 0) {
        free(st);
        return rc;
    }
    /* One listing of tmp/ (at most one key) proves the endpoint, the bucket,
     * the region and the credentials. A refusal (4xx) is a setting to fix:
     * refused. An unreachable or failing service may come back: started, the
     * uploads fail until it does. */
    s3_req rq = rq_init("GET", "");
    rq.query = "list-type=2&max-keys=1&prefix=tmp%2F";
    s3_resp resp;
    char w[768];
    rc = s3_do(st->cli, &rq, &resp, w, sizeof w);
    long status = resp.status;
    s3_resp_free(&resp);
    if (rc != 0 && status >= 400 && status < 500) {
        snprintf(why, whylen, "file_store s3://%s: %s", bucket, w);
        s3_close(&st->base);
        return OMTP_EINVAL;
    }
    if (rc != 0)
        LOG_WARN("file store: s3://%s is not answering yet (%s); uploads and downloads fail until "
                 "it does",
                 bucket, w);
    else
        LOG_INFO("file store: s3://%s (%s)", bucket,
                 cfg->s3_endpoint && *cfg->s3_endpoint ? cfg->s3_endpoint : "AWS");
    *out = &st->base;
    return 0;
}
