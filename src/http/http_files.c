/*
 * http_files.c - the file endpoints of the HTTP API (docs/files.md):
 *
 *   POST /v1/files?name=&mime=    the body is the file, streamed to the file
 *                                 store as it arrives -> 201 {"fileId",
 *                                 "size","mime","sha256","name","width",
 *                                 "height","thumbId"}
 *   GET  /v1/files/{fileId}       the bytes: Range (206/416), ETag and
 *                                 If-None-Match (304), Content-Disposition
 *                                 with the original name (RFC 6266),
 *                                 X-Content-Type-Options: nosniff
 *   GET  /v1/files/{fileId}/thumb the thumbnail of an image
 *
 * Auth: an API key (the business backend: reads every file, uploads as "")
 * or a user's login token (domain/files.h's read rule; uploads as the user).
 *
 * Threads: the upload's bytes (http_upload_*) and the served bytes
 * (http_file_response) are handled on libmicrohttpd's threads, where
 * blocking file store calls are allowed; the rules (quota, rate, read rule,
 * the metadata) are the domain's, on the loop (http_ep_file_*). A download
 * is served with sendfile from the local store's descriptor, or from a
 * callback reading <= OMTP_FS_CHUNK at a time: no whole file in memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "domain/credentials.h"
#include "domain/files.h"
#include "domain/files_ingest.h"
#include "domain/files_sweep.h"
#include "files_http.h"
#include "http_internal.h"
#include "store/filestore.h"

typedef struct http_upload {
    omtp_ingest *in;
    char name[OMTP_FILE_NAME_MAX + 1];
    int err;          /* first failure: OMTP_ETOOBIG, OMTP_ENOSPC, ... */
    uint64_t dropped; /* bytes dropped after the failure */
    uint64_t seen;    /* body bytes received */
} http_upload;

/* ---------------------------------------------------------------- auth */

bool http_user_token(const uint8_t secret[32], const char *token, char *user, size_t userlen,
                     bool *expired)
{
    *expired = false;
    user[0] = 0;
    if (!omtp_auth_is_token(token))
        return false;
    const char *mac = strrchr(token, '.');
    if (!mac || mac - token < 5)
        return false;
    const char *exp = mac - 1;
    while (exp > token + 3 && *exp != '.')
        exp--;
    if (exp <= token + 3 || *exp != '.')
        return false;
    size_t ul = (size_t)(exp - (token + 3));
    if (ul == 0 || ul >= userlen || ul > OMTP_ID_MAX)
        return false;
    memcpy(user, token + 3, ul);
    user[ul] = 0;
    int rc = omtp_auth_token_verify(secret, token, user, omtp_now_ms() / 1000);
    if (rc == OMTP_ETIMEDOUT)
        *expired = true;
    if (rc != 0 || !omtp_id_valid(user)) {
        user[0] = 0;
        return false;
    }
    return true;
}

static omtp_dom_caller caller_of(const http_req *r)
{
    omtp_dom_caller who = {.role = r->user[0] ? OMTP_DOM_USER : OMTP_DOM_API,
                           .user = r->user[0] ? r->user : NULL};
    return who;
}

/* -------------------------------------------------------------- upload */

static const char *arg_of(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

bool http_upload_begin(http_req *r, struct MHD_Connection *c, unsigned long long declared,
                       void (*reject)(http_req *r, unsigned status, const char *code,
                                      const char *msg))
{
    omtp_server *s = r->srv;
    char msg[300];
    if (!s->filestore) {
        reject(r, 503, "unavailable", "the file store is not open");
        return false;
    }
    http_upload *up = calloc(1, sizeof(*up));
    if (!up) {
        reject(r, 500, "internal", "out of memory");
        return false;
    }
    const char *name = arg_of(c, "name");
    size_t nl = 0;
    /* MHD decoded the query; a %00 stays "%00" (http.c unescape_url) */
    if (name && (strstr(name, "%00") ||
                 !omtp_file_name_clean(name, nl = strlen(name), up->name, sizeof(up->name)))) {
        free(up);
        snprintf(msg, sizeof(msg),
                 "name is not a file name: no '/', '\\\\', NUL or control characters, not "
                 "\".\" or \"..\", UTF-8, at most %d bytes (given %zu bytes)",
                 OMTP_FILE_NAME_MAX, nl);
        reject(r, 400, "invalid_name", msg);
        return false;
    }
    const omtp_config *cfg = s->cfg;
    if (cfg->max_file_size && declared > cfg->max_file_size) {
        free(up);
        omtp_files_count(OMTP_FC_TOO_LARGE, 1);
        snprintf(msg, sizeof(msg),
                 "the file has %llu bytes; the limit is %" PRIu64 " (max_file_size)", declared,
                 cfg->max_file_size);
        reject(r, 413, "too_large", msg);
        return false;
    }
    omtp_ingest_limits lim = {.max_size = cfg->max_file_size, .max_pixels = cfg->thumb_max_pixels};
    int rc = omtp_ingest_begin(s->filestore, &lim, declared, &up->in);
    if (rc != 0) {
        free(up);
        if (rc == OMTP_ENOSPC)
            reject(r, 507, "storage_full",
                   "the file store is full; nothing was stored (ask the operator)");
        else
            reject(r, 500, "storage", "the file store failed; retry later");
        return false;
    }
    r->up = up;
    return true;
}

void http_upload_data(http_req *r, const char *data, size_t n)
{
    http_upload *up = r->up;
    if (!up)
        return;
    up->seen += n;
    if (up->err) {
        up->dropped += n;
        return;
    }
    int rc = omtp_ingest_write(up->in, data, n);
    if (rc != 0) {
        up->err = rc;
        up->dropped += n;
        omtp_ingest_abort(up->in); /* nothing of it stays */
        up->in = NULL;
        if (rc == OMTP_ENOSPC)
            LOG_WARN("files: the file store is full: an upload of %s was refused (507)",
                     r->user[0] ? r->user : "the API");
    }
}

bool http_upload_failed(const http_req *r, uint64_t *dropped)
{
    *dropped = r->up ? r->up->dropped : 0;
    return r->up && r->up->err;
}

bool http_upload_finish(http_req *r, unsigned *status, const char **code, char *msg, size_t msglen)
{
    http_upload *up = r->up;
    int rc = up->err;
    if (rc == 0) {
        rc = omtp_ingest_finish(up->in, up->name, &r->file);
        up->in = NULL;
    }
    if (rc == 0)
        return true;
    omtp_files_count(rc == OMTP_ETOOBIG  ? OMTP_FC_TOO_LARGE
                     : rc == OMTP_ENOSPC ? OMTP_FC_STORAGE_FULL
                                         : OMTP_FC_N,
                     1);
    if (rc == OMTP_ETOOBIG) {
        *status = 413, *code = "too_large";
        snprintf(msg, msglen, "the file is larger than %" PRIu64 " bytes (max_file_size)",
                 r->srv->cfg->max_file_size);
    } else if (rc == OMTP_ENOSPC) {
        *status = 507, *code = "storage_full";
        snprintf(msg, msglen, "the file store is full; nothing was stored (ask the operator)");
    } else {
        *status = 500, *code = "storage";
        snprintf(msg, msglen, "the file store failed (%s); nothing was stored, retry later",
                 omtp_strerror(rc));
    }
    return false;
}

void http_upload_abort(http_req *r)
{
    http_upload *up = r->up;
    if (!up)
        return;
    r->up = NULL;
    if (up->in) {
        LOG_INFO("files: an upload by %s stopped after %" PRIu64
                 " bytes (client gone or silent past http_timeout_s): removed",
                 r->user[0] ? r->user : "the API", up->seen);
        omtp_ingest_abort(up->in);
        omtp_files_count(OMTP_FC_ABORTED, 1);
    }
    free(up);
}

/* Loop thread: the bytes are committed; the domain records them. */
static void upload_recorded(void *arg, const omtp_dom_outcome *res, const omtp_dom_file *f)
{
    http_req *r = arg;
    if (res->code != 0) { /* the status of a refusal: files_http.h, as on ws_listen */
        http_reply_error(r, (unsigned)omtp_files_http_status(res->reason), res->reason, "%s",
                         res->desc);
        return;
    }
    json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s}", "fileId", f->fileId, "size", (json_int_t)f->size,
                          "mime", f->mime, "sha256", f->sha256, "name", f->name);
    if (o && f->width > 0) {
        json_object_set_new(o, "width", json_integer(f->width));
        json_object_set_new(o, "height", json_integer(f->height));
    }
    if (o && f->thumb[0])
        json_object_set_new(o, "thumbId", json_string(f->thumb));
    http_reply_json(r, 201, o);
}

void http_ep_file_upload(http_req *r)
{
    omtp_dom_caller who = caller_of(r);
    omtp_dom_file_upload_done(r->srv, &who, &r->file, upload_recorded, r);
}

/* ------------------------------------------------------------ download */

static void file_found(void *arg, const omtp_dom_outcome *res, const omtp_dom_file *f)
{
    http_req *r = arg;
    if (res->code != 0) {
        bool unknown = !strcmp(res->reason, "unknown_file");
        http_reply_error(r, (unsigned)omtp_files_http_status(res->reason),
                         unknown ? "not_found" : res->reason, "%s", res->desc);
        return;
    }
    if (r->thumb && !f->thumb[0]) {
        http_reply_error(r, 404, "no_thumbnail",
                         "file %s has no thumbnail (only images within thumb_max_pixels get one)",
                         f->fileId);
        return;
    }
    r->file = *f;
    http_reply_file(r);
}

void http_ep_file_get(http_req *r)
{
    omtp_dom_caller who = caller_of(r);
    omtp_dom_file_get(r->srv, &who, r->param[0], file_found, r);
}

void http_ep_file_thumb(http_req *r)
{
    r->thumb = true;
    http_ep_file_get(r);
}

/* The Range rule of both listeners (files_http.h); kept by this name for
 * fuzz_files and the tests. */
int http_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    return omtp_files_http_range(h, size, off, len);
}

typedef struct cb_src {
    omtp_filestore *fs;
    char sha[65];
    uint64_t off, end;
    omtp_fs_reader *rd; /* opened at the first piece: one streamed read (S3: one GET) */
    uint64_t rd_at;     /* the position the reader is at */
} cb_src;

/* Non-local stores: the pieces come from one pulled read of the range
 * (omtp_fs_reader: the S3 store sends one GET, paced by this callback). */
static ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    cb_src *s = cls;
    uint64_t at = s->off + pos;
    if (at >= s->end)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->rd && s->rd_at != at) { /* not where the reader is (never seen): start again */
        omtp_fs_reader_close(s->rd);
        s->rd = NULL;
    }
    if (!s->rd) {
        if (omtp_fs_reader_open(s->fs, s->sha, at, s->end - at, &s->rd) != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        s->rd_at = at;
    }
    if (max > OMTP_FS_CHUNK)
        max = OMTP_FS_CHUNK;
    size_t want = s->end - at < max ? (size_t)(s->end - at) : max;
    ssize_t n = omtp_fs_reader_read(s->rd, buf, want);
    if (n <= 0) /* the object ended before its recorded size, or an error (logged) */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    s->rd_at += (uint64_t)n;
    return n;
}

static void free_cb(void *cls)
{
    cb_src *s = cls;
    omtp_fs_reader_close(s->rd);
    free(s);
}

struct MHD_Response *http_file_response(http_req *r, unsigned *status)
{
    omtp_filestore *fs = r->srv->filestore;
    const omtp_file_rec *f = &r->file;
    const char *sha = r->thumb ? f->thumb : f->sha256;
    char etag[80], mime[OMTP_FILE_MIME_MAX + 1];
    omtp_files_http_etag(sha, etag, sizeof(etag));
    snprintf(mime, sizeof(mime), "%s", f->mime);
    struct MHD_Response *resp = NULL;
    int fd = -1;
    uint64_t size = 0;
    int rc = fs ? omtp_fs_open_fd(fs, sha, &fd, &size) : OMTP_EIO;
    bool local = rc == 0;
    if (!local && rc != OMTP_ENOTFOUND && fs)
        rc = omtp_fs_stat(fs, sha, &size);
    if (rc != 0 && !local) {
        LOG_ERROR("files: %s: the bytes (%s) are not in the file store: %s", f->fileId, sha,
                  omtp_strerror(rc));
        *status = rc == OMTP_ENOTFOUND ? 404 : 500;
        return NULL;
    }
    if (r->thumb) { /* thumbnails are ours: JPEG, or PNG when the image had alpha */
        unsigned char head[8] = {0};
        ssize_t hn = local ? pread(fd, head, sizeof(head), 0) : 0;
        snprintf(mime, sizeof(mime), "%s",
                 omtp_files_http_thumb_mime(head, hn > 0 ? (size_t)hn : 0));
    }
    /* If-None-Match: the bytes are named by their hash, so the tag is exact */
    if (omtp_files_http_inm_match(r->inm, etag)) {
        if (fd >= 0)
            close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        *status = 304;
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        return resp;
    }
    uint64_t off = 0, len = size;
    int rg = omtp_files_http_range(r->range, size, &off, &len);
    if (rg < 0) {
        if (fd >= 0)
            close(fd);
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        char *body = NULL;
        size_t bl = 0;
        json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", "range_not_satisfiable", "message",
                              "the Range starts past the end of the file");
        if (o) {
            body = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            bl = body ? strlen(body) : 0;
        }
        resp = MHD_create_response_from_buffer(
            bl, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        *status = 416;
        if (resp) {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        }
        return resp;
    }
    if (len == 0) {
        if (fd >= 0)
            close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (local) {
        resp = MHD_create_response_from_fd_at_offset64(len, fd, off); /* owns fd */
        if (!resp)
            close(fd);
    } else {
        cb_src *src = calloc(1, sizeof(*src));
        if (src) {
            src->fs = fs;
            memcpy(src->sha, sha, sizeof(src->sha));
            src->off = off;
            src->end = off + len;
            resp = MHD_create_response_from_callback(len, 64 * 1024, read_cb, src, free_cb);
            if (!resp)
                free(src);
        }
    }
    if (!resp) {
        *status = 500;
        return NULL;
    }
    *status = rg > 0 ? 206 : 200;
    if (rg > 0) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
                 size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    char cd[1200];
    omtp_files_http_disposition(f->name, mime, cd, sizeof(cd));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(resp, "X-Content-Type-Options", OMTP_FILES_HTTP_NOSNIFF);
    MHD_add_response_header(resp, "Content-Security-Policy", OMTP_FILES_HTTP_CSP);
    MHD_add_response_header(resp, "Referrer-Policy", OMTP_FILES_HTTP_REFERRER);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, OMTP_FILES_HTTP_CACHE);
    if (!r->thumb)
        MHD_add_response_header(resp, "Content-Disposition", cd);
    return resp;
}
