/*
 * http_wsfiles.c - the file endpoints on the public WebSocket listener
 * (ws_listen / wss_listen, beside /ws and the web app; docs/files.md,
 * docs/websocket.md "File endpoints"), so a browser reaches them on the
 * app's own origin:
 *
 *   POST /v1/files?name=&mime=     the body is the file, streamed
 *   GET|HEAD /v1/files/{fileId}    Range, ETag/If-None-Match, Content-Disposition
 *   GET|HEAD /v1/files/{fileId}/thumb
 *
 * Users only (Authorization: Bearer <login token>); the business backend's
 * API keys stay on the HTTP API listener. The rules are domain/files.h's
 * (read rule, quota, rate, max_file_size) and the HTTP look files_http.h's,
 * the same as the HTTP API listener's (http_files.c).
 *
 * The core (core/ws_api.h) hands this file the request head and the body's
 * bytes on the loop thread. Bytes go to the file store on libuv's worker
 * threads (domain/files_ingest.h: one job at a time per upload, at most
 * UP_HIGH bytes buffered before the socket stops being read); answers are
 * read by the core on worker threads through an omtp_ws_source. The loop
 * never touches the disk (or S3).
 *
 * Lifetime: a struct wsf per request, created in begin; the core's done
 * marks it dead; it is freed when dead and no worker job or domain call is
 * outstanding (`pending`). An upload not committed when the request ends
 * (client gone, stalled past http_timeout_s, refused) is aborted on a
 * worker: nothing of it stays in the store.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/server.h"
#include "core/ws_api.h"
#include "domain/files.h"
#include "domain/files_ingest.h"
#include "domain/files_sweep.h"
#include "http/files_http.h"
#include "http/http_wsfiles.h"
#include "proto/omtp_packet.h"
#include "store/filestore.h"
#include "util/thread_prio.h"

/* bytes buffered before the socket stops being read (the buffer stays <= 1 MiB) */
#define UP_HIGH (768 * 1024)
/* the buffer's size from the start: filled to UP_HIGH without a realloc
 * (growing from 64 KiB copied every byte about once more) */
#define UP_BUF (1024 * 1024)

enum { R_UPLOAD, R_FILE, R_THUMB };

struct wsf {
    omtp_server *s;
    omtp_conn *c; /* valid until dead */
    int route;
    bool dead;   /* the core said done: c is gone */
    int pending; /* worker jobs and domain calls outstanding */
    char user[OMTP_ID_MAX + 1];
    char peer[64];
    unsigned long long conn_id;
    /* upload */
    char name[OMTP_FILE_NAME_MAX + 1];
    omtp_ingest *in;
    bool checked;   /* the domain's quota/rate check passed */
    bool ended;     /* the whole body arrived */
    bool failed;    /* answered with an error: drop what comes */
    bool writing;   /* a worker job runs on `in` */
    bool committed; /* the ingest finished (in freed) */
    uint8_t *buf;   /* bytes waiting for the writer */
    size_t buf_n, buf_cap;
    uint64_t received;
    int rc; /* the last worker job's result */
    omtp_dom_file file;
    /* download */
    int64_t content_length;
    char range[128], inm[160];
    char thumb_mime[16];
};

/* ---------------------------------------------------------------- helpers */

static omtp_filestore *store_of(omtp_server *s)
{
    return s->filestore;
}

static void wsf_release(struct wsf *w)
{
    if (--w->pending > 0 || !w->dead)
        return;
    free(w->buf);
    free(w);
}

static void json_error(struct wsf *w, int status, const char *code, const char *msg)
{
    if (w->dead)
        return;
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *b = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *extra = status == 401 ? "WWW-Authenticate: Bearer\r\n" : "";
    LOG_INFO("conn %llu %s files: HTTP %d %s", w->conn_id, w->peer, status, msg);
    omtp_ws_api_reply(w->c, status, extra, "application/json", b ? b : "{}", b ? strlen(b) : 2);
    free(b);
    w->failed = true;
}

static void too_big(struct wsf *w)
{
    omtp_files_count(OMTP_FC_TOO_LARGE, 1); /* /metrics, as on the HTTP API */
    char msg[160];
    uint64_t max = w->s->cfg->max_file_size;
    if (max >= 1024 * 1024)
        snprintf(msg, sizeof(msg), "file is larger than %llu MB (max_file_size)",
                 (unsigned long long)(max / (1024 * 1024)));
    else
        snprintf(msg, sizeof(msg), "file is larger than %llu KB (max_file_size)",
                 (unsigned long long)(max / 1024));
    json_error(w, 413, "too_large", msg);
}

/* ------------------------------------------------------------- the upload */

struct upjob {
    uv_work_t w;
    struct wsf *f;
    int kind; /* 0 begin, 1 write, 2 finish, 3 abort */
    uint8_t *data;
    size_t n;
    omtp_ingest *in;
};

static void upjob_work(uv_work_t *u)
{
    omtp_thread_background(); /* file work yields the CPU to the chat loop */
    struct upjob *j = u->data;
    struct wsf *f = j->f;
    switch (j->kind) {
    case 0: {
        omtp_ingest_limits lim = {.max_size = f->s->cfg->max_file_size,
                                  .max_pixels = f->s->cfg->thumb_max_pixels};
        f->rc = omtp_ingest_begin(store_of(f->s), &lim,
                                  f->content_length > 0 ? (uint64_t)f->content_length : 0, &j->in);
        break;
    }
    case 1:
        f->rc = omtp_ingest_write(j->in, j->data, j->n);
        break;
    case 2:
        f->rc = omtp_ingest_finish(j->in, f->name, &f->file);
        break;
    default:
        omtp_ingest_abort(j->in);
        break;
    }
}

static void pump_upload(struct wsf *f);
static void upjob_after(uv_work_t *u, int status);

static void upjob_start(struct wsf *f, int kind, uint8_t *data, size_t n)
{
    struct upjob *j = calloc(1, sizeof(*j));
    if (!j) {
        free(data);
        json_error(f, 500, "internal", "out of memory");
        return;
    }
    j->f = f;
    j->kind = kind;
    j->data = data;
    j->n = n;
    j->in = f->in;
    j->w.data = j;
    f->pending++;
    f->writing = true;
    if (uv_queue_work(f->s->loop, &j->w, upjob_work, upjob_after)) {
        f->writing = false;
        f->pending--;
        free(data);
        free(j);
        json_error(f, 500, "internal", "could not start a worker job");
    }
}

/* The request is over or failed: whatever was written goes (worker). */
static void drop_upload(struct wsf *f)
{
    if (f->in && !f->writing && !f->committed) {
        upjob_start(f, 3, NULL, 0);
        f->in = NULL;
        f->committed = true; /* nothing more happens to it */
    }
}

static void upload_recorded(void *arg, const omtp_dom_outcome *res, const omtp_dom_file *file)
{
    struct wsf *f = arg;
    if (!f->dead) {
        if (res->code) {
            json_error(f, omtp_files_http_status(res->reason), res->reason, res->desc);
        } else {
            char *b = omtp_files_http_json(file);
            LOG_INFO("conn %llu %s files: %s uploaded %s (%llu bytes, %s)", f->conn_id, f->peer,
                     f->user, file->fileId, (unsigned long long)file->size, file->mime);
            omtp_ws_api_reply(f->c, 201, "", "application/json", b ? b : "{}", b ? strlen(b) : 2);
            free(b);
        }
    }
    wsf_release(f);
}

/* The file store refused or failed (f->rc): 507 when it is full. */
static void store_failed(struct wsf *f)
{
    if (f->rc == OMTP_ENOSPC) {
        omtp_files_count(OMTP_FC_STORAGE_FULL, 1);
        json_error(f, 507, "storage_full", "the server's file storage is full: try later");
    } else {
        json_error(f, 500, "storage", "the file could not be stored");
    }
}

static void upjob_after(uv_work_t *u, int status)
{
    struct upjob *j = u->data;
    struct wsf *f = j->f;
    f->writing = false;
    int kind = j->kind;
    if (kind == 0)
        f->in = j->in;
    free(j->data);
    free(j);
    if (status < 0 && kind != 3)
        f->rc = OMTP_EIO;
    if (kind == 2) {
        f->in = NULL;
        f->committed = true;
        if (!f->rc) { /* recorded even when the client left: the sweeper's to remove */
            omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = f->user};
            f->pending++;
            omtp_dom_file_upload_done(f->s, &who, &f->file, upload_recorded, f);
        } else {
            store_failed(f);
        }
    } else if (kind != 3 && f->rc) {
        if (f->rc == OMTP_ETOOBIG)
            too_big(f);
        else
            store_failed(f);
        drop_upload(f);
    } else if (f->dead || f->failed) {
        drop_upload(f);
    } else {
        pump_upload(f);
    }
    wsf_release(f);
}

/* Hands what is buffered to the writer, finishes after the last byte, and
 * reads the socket again once the buffer is below UP_HIGH. */
static void pump_upload(struct wsf *f)
{
    if (f->writing || f->failed || f->dead || !f->in)
        return;
    if (f->buf_n) {
        uint8_t *b = f->buf;
        size_t n = f->buf_n;
        f->buf = NULL;
        f->buf_n = f->buf_cap = 0;
        upjob_start(f, 1, b, n);
        omtp_ws_api_resume(f->c); /* the buffer is empty again */
        return;
    }
    if (f->ended)
        upjob_start(f, 2, NULL, 0);
    else
        omtp_ws_api_resume(f->c);
}

static void upload_checked(void *arg, const omtp_dom_outcome *res)
{
    struct wsf *f = arg;
    if (!f->dead && !f->failed) {
        if (res->code) {
            json_error(f, omtp_files_http_status(res->reason), res->reason, res->desc);
        } else {
            f->checked = true;
            omtp_ws_api_transfer(f->c, (uint64_t)f->s->cfg->http_timeout_s * 1000);
            upjob_start(f, 0, NULL, 0); /* opens the ingest; pump_upload follows */
        }
    }
    wsf_release(f);
}

static void upload_begin(struct wsf *f, const omtp_ws_api_req *req)
{
    char raw[4 * OMTP_FILE_NAME_MAX];
    size_t rl = 0;
    bool given = omtp_files_http_query(req->query, "name", raw, sizeof(raw), &rl);
    bool bad = !given && rl == SIZE_MAX; /* a bad escape, or far too long: not "file" */
    if (!given)
        rl = 0, raw[0] = 0;
    if (bad || !omtp_file_name_clean(raw, rl, f->name, sizeof(f->name))) {
        json_error(f, 400, "invalid_name",
                   "the name must be UTF-8 of at most 255 bytes without '/', '\\', NUL or "
                   "control characters, and not . or ..");
        return;
    }
    uint64_t max = f->s->cfg->max_file_size;
    if (max && req->content_length > 0 && (uint64_t)req->content_length > max) {
        too_big(f);
        return;
    }
    omtp_ws_api_hold(f->c); /* no body byte before the checks passed */
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = f->user};
    f->pending++;
    omtp_dom_file_upload_begin(
        f->s, &who, req->content_length > 0 ? (uint64_t)req->content_length : 0, upload_checked, f);
}

static void wsf_body(void *ctx, const uint8_t *p, size_t n)
{
    struct wsf *f = ctx;
    if (f->failed || f->route != R_UPLOAD)
        return;
    f->received += n;
    uint64_t max = f->s->cfg->max_file_size;
    if (max && f->received > max) { /* before the disk sees it */
        too_big(f);
        drop_upload(f);
        return;
    }
    if (f->buf_n + n > f->buf_cap) {
        size_t cap = f->buf_cap ? f->buf_cap : UP_BUF;
        while (cap < f->buf_n + n)
            cap *= 2;
        uint8_t *b = realloc(f->buf, cap);
        if (!b) {
            json_error(f, 500, "internal", "out of memory");
            drop_upload(f);
            return;
        }
        f->buf = b;
        f->buf_cap = cap;
    }
    memcpy(f->buf + f->buf_n, p, n);
    f->buf_n += n;
    if (f->buf_n >= UP_HIGH || !f->in)
        omtp_ws_api_hold(f->c); /* the writer is behind (or not open yet) */
    pump_upload(f);
}

static void wsf_end(void *ctx)
{
    struct wsf *f = ctx;
    f->ended = true;
    if (f->route == R_UPLOAD)
        pump_upload(f);
}

/* ----------------------------------------------------------- the download */

struct src {
    omtp_filestore *fs;
    char sha[OMTP_FS_SHA_HEX];
    int fd;             /* local store: pread; -2 = another store: the reader */
    uint64_t end;       /* the answer's range ends here */
    omtp_fs_reader *rd; /* other stores: one streamed read of the range (S3: one GET) */
    uint64_t rd_at;     /* where the reader is */
};

/* A worker thread, one call at a time per source (ws_api.h). */
static ssize_t src_read(void *arg, uint64_t off, uint8_t *buf, size_t n)
{
    struct src *s = arg;
    if (s->fd == -1) {
        uint64_t size;
        if (omtp_fs_open_fd(s->fs, s->sha, &s->fd, &size))
            s->fd = -2;
    }
    if (s->fd >= 0)
        return pread(s->fd, buf, n, (off_t)off);
    if (s->rd && s->rd_at != off) { /* the core reads in order: never, but then start again */
        omtp_fs_reader_close(s->rd);
        s->rd = NULL;
    }
    if (!s->rd) {
        if (off >= s->end || omtp_fs_reader_open(s->fs, s->sha, off, s->end - off, &s->rd))
            return -1;
        s->rd_at = off;
    }
    ssize_t got = omtp_fs_reader_read(s->rd, buf, n);
    if (got <= 0) /* the object ended before its recorded size, or failed (logged) */
        return -1;
    s->rd_at += (uint64_t)got;
    return got;
}

static void src_close(void *arg)
{
    struct src *s = arg;
    if (s->fd >= 0)
        close(s->fd);
    omtp_fs_reader_close(s->rd);
    free(s);
}

static void serve(struct wsf *f);

/* A thumbnail's type: files_ingest.c writes JPEG, or PNG when the image had
 * alpha; its first bytes say which (read on a worker). */
struct sniffjob {
    uv_work_t w;
    struct wsf *f;
    unsigned char head[8];
    size_t got;
};

/* The read asks for sizeof(head) bytes: they may come in pieces, and a
 * non-zero return would be a failed read (the S3 store logs it). */
static int sniff_sink(void *arg, const void *data, size_t n)
{
    struct sniffjob *j = arg;
    size_t k = sizeof(j->head) - j->got;
    if (k > n)
        k = n;
    memcpy(j->head + j->got, data, k);
    j->got += k;
    return 0;
}

static void sniff_work(uv_work_t *w)
{
    omtp_thread_background();
    struct sniffjob *j = w->data;
    omtp_fs_get(store_of(j->f->s), j->f->file.thumb, 0, sizeof(j->head), sniff_sink, j);
}

static void sniff_after(uv_work_t *w, int status)
{
    (void)status;
    struct sniffjob *j = w->data;
    struct wsf *f = j->f;
    snprintf(f->thumb_mime, sizeof(f->thumb_mime), "%s",
             omtp_files_http_thumb_mime(j->head, j->got));
    free(j);
    if (!f->dead)
        serve(f);
    wsf_release(f);
}

static void got_file(void *arg, const omtp_dom_outcome *res, const omtp_dom_file *file)
{
    struct wsf *f = arg;
    if (f->dead) {
        wsf_release(f);
        return;
    }
    if (res->code) {
        bool unknown = res->reason && !strcmp(res->reason, "unknown_file");
        json_error(f, omtp_files_http_status(res->reason), unknown ? "not_found" : res->reason,
                   unknown ? "no such file" : res->desc);
        wsf_release(f);
        return;
    }
    f->file = *file;
    if (f->route == R_THUMB) {
        struct sniffjob *j = file->thumb[0] ? calloc(1, sizeof(*j)) : NULL;
        if (!j) {
            json_error(f, 404, "no_thumbnail", "this file has no thumbnail");
        } else {
            j->f = f;
            j->w.data = j;
            f->pending++;
            if (uv_queue_work(f->s->loop, &j->w, sniff_work, sniff_after)) {
                f->pending--;
                free(j);
                json_error(f, 500, "internal", "could not start a worker job");
            }
        }
        wsf_release(f);
        return;
    }
    serve(f);
    wsf_release(f);
}

/* Answers with the file (or its thumbnail): 304, 416, or the bytes. */
static void serve(struct wsf *f)
{
    const omtp_dom_file *file = &f->file;
    const char *sha = file->sha256, *mime = file->mime;
    uint64_t size = file->size;
    if (f->route == R_THUMB) {
        sha = file->thumb;
        size = file->thumbSize;
        mime = f->thumb_mime;
    }
    char etag[80], disp[1024], head[2048];
    omtp_files_http_etag(sha, etag, sizeof(etag));
    omtp_files_http_disposition(file->name, mime, disp, sizeof(disp));
    if (omtp_files_http_inm_match(f->inm, etag)) {
        snprintf(head, sizeof(head), "ETag: %s\r\nCache-Control: " OMTP_FILES_HTTP_CACHE "\r\n",
                 etag);
        omtp_ws_api_reply(f->c, 304, head, "application/octet-stream", "", 0);
        return;
    }
    uint64_t off = 0, len = size;
    int r = f->route == R_FILE ? omtp_files_http_range(f->range, size, &off, &len) : 0;
    if (r < 0) {
        char extra[64];
        snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
        omtp_ws_api_reply(f->c, 416, extra, "text/plain; charset=utf-8",
                          "the range is outside the file\n", 30);
        return;
    }
    char crange[96] = "";
    if (r > 0)
        snprintf(crange, sizeof(crange), "Content-Range: bytes %llu-%llu/%llu\r\n",
                 (unsigned long long)off, (unsigned long long)(off + len - 1),
                 (unsigned long long)size);
    snprintf(head, sizeof(head),
             "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n%sAccept-Ranges: bytes\r\n"
             "ETag: %s\r\nCache-Control: " OMTP_FILES_HTTP_CACHE "\r\nContent-Disposition: %s\r\n"
             "%sConnection: close\r\n\r\n",
             r > 0 ? "206 Partial Content" : "200 OK", mime, (unsigned long long)len, crange, etag,
             disp, OMTP_FILES_HTTP_SAFE_HEADERS);
    struct src *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        json_error(f, 500, "internal", "out of memory");
        return;
    }
    sr->fs = store_of(f->s);
    sr->fd = -1;
    sr->end = off + len;
    snprintf(sr->sha, sizeof(sr->sha), "%s", sha);
    omtp_ws_source src = {.read = src_read, .close = src_close, .arg = sr};
    omtp_ws_api_transfer(f->c, (uint64_t)f->s->cfg->http_timeout_s * 1000);
    omtp_ws_api_serve(f->c, head, &src, off, len);
}

/* ---------------------------------------------------------------- routing */

static void *wsf_begin(omtp_server *s, omtp_conn *c, const omtp_ws_api_req *req)
{
    struct wsf *f = calloc(1, sizeof(*f));
    if (!f) {
        omtp_ws_api_reply(c, 500, "", "text/plain", "out of memory\n", 14);
        return NULL;
    }
    f->s = s;
    f->c = c;
    f->pending = 1; /* the request itself, until done */
    f->conn_id = (unsigned long long)req->conn_id;
    snprintf(f->peer, sizeof(f->peer), "%s", req->peer);
    f->content_length = req->content_length;
    snprintf(f->range, sizeof(f->range), "%s", req->range);
    snprintf(f->inm, sizeof(f->inm), "%s", req->inm);
    const char *p = req->path;
    char id[64] = "";
    bool upload = !strcmp(p, "/v1/files");
    if (!upload && !strncmp(p, "/v1/files/", 10)) {
        const char *rest = p + 10, *slash = strchr(rest, '/');
        size_t il = slash ? (size_t)(slash - rest) : strlen(rest);
        if (il < sizeof(id)) {
            memcpy(id, rest, il);
            id[il] = 0;
        }
        f->route = !slash ? R_FILE : !strcmp(slash, "/thumb") ? R_THUMB : -1;
    } else {
        f->route = upload ? R_UPLOAD : -1;
    }
    if (f->route < 0 || (!upload && !id[0])) {
        json_error(f, 404, "not_found",
                   "no such endpoint: the file endpoints are POST "
                   "/v1/files, GET /v1/files/{fileId}[/thumb]");
        return f;
    }
    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if ((upload && strcmp(req->method, "POST")) || (!upload && !get)) {
        json_error(f, 405, "method_not_allowed",
                   upload ? "upload with POST /v1/files?name=NAME" : "read with GET");
        return f;
    }
    if (!store_of(s)) {
        json_error(f, 503, "unavailable", "files are not enabled on this server");
        return f;
    }
    /* <img>, <audio>, <video> cannot send a header: a GET may carry the
     * token as access_token (RFC 6750 2.3); the log never shows the URL */
    char authz[1024];
    snprintf(authz, sizeof(authz), "%s", req->authorization);
    char qtok[512];
    if (!authz[0] && get &&
        omtp_files_http_query(req->query, "access_token", qtok, sizeof(qtok), NULL))
        snprintf(authz, sizeof(authz), "Bearer %s", qtok);
    char why[160];
    if (omtp_files_http_bearer(s->token_secret, authz, f->user, sizeof(f->user), why,
                               sizeof(why))) {
        json_error(f, 401, "unauthorized", why);
        return f;
    }
    omtp_ws_api_authenticated(f->c); /* no longer a pre-auth slot of its address */
    if (upload) {
        upload_begin(f, req);
        return f;
    }
    if (!omtp_file_id_valid(id)) {
        json_error(f, 404, "not_found", "no such file");
        return f;
    }
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = f->user};
    f->pending++;
    omtp_dom_file_get(s, &who, id, got_file, f);
    return f;
}

static void wsf_done(void *ctx, bool answered)
{
    (void)answered;
    struct wsf *f = ctx;
    if (!f)
        return;
    f->dead = true;
    f->c = NULL;
    if (f->route == R_UPLOAD && !f->committed) {
        if (f->in && !f->writing) {
            LOG_INFO("conn %llu %s files: upload of %s ended before it completed (%llu bytes "
                     "arrived): removed",
                     f->conn_id, f->peer, f->user, (unsigned long long)f->received);
            if (!f->failed)
                omtp_files_count(OMTP_FC_ABORTED, 1);
            drop_upload(f);
        }
    }
    wsf_release(f);
}

static const omtp_ws_api_ops wsf_ops = {
    .begin = wsf_begin,
    .body = wsf_body,
    .end = wsf_end,
    .done = wsf_done,
};

void omtp_http_wsfiles_register(omtp_server *s)
{
    omtp_ws_api_register(s, &wsf_ops);
}
