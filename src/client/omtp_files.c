/*
 * omtp_files.c - uploads and downloads over HTTP with libcurl, and the
 * media-message content JSON (client/omtp_files.h).
 */
#include "client/omtp_files.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "proto/omtp_errors.h"

#define ERR_BODY_MAX (64 * 1024) /* an answer that is not file bytes: kept for its JSON */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One transfer's state, shared by curl's callbacks. */
typedef struct xfer {
    CURL *h;
    const omtp_file_opts *o;
    omtp_file_result *res;
    int fd;
    /* download */
    uint64_t offset;  /* bytes the caller had before this answer */
    bool decided;     /* the first body byte looked at the status */
    bool to_fd;       /* body bytes are file bytes (200/206) */
    int write_errno;  /* a failed write(2) */
    uint64_t written; /* body bytes written to fd */
    bool range_seen;  /* a Content-Range header came */
    uint64_t range_start, range_total;
    /* upload */
    int read_errno;
    /* any body that is not file bytes */
    char *body;
    size_t body_len;
    bool stopped;   /* progress asked to stop */
    bool bad_range; /* a 206 for other bytes than asked */
} xfer;

static void res_clear(omtp_file_result *res)
{
    memset(res, 0, sizeof(*res));
}

static void keep_body(xfer *x, const char *p, size_t n)
{
    if (x->body_len >= ERR_BODY_MAX)
        return;
    if (n > ERR_BODY_MAX - x->body_len)
        n = ERR_BODY_MAX - x->body_len;
    char *nb = realloc(x->body, x->body_len + n + 1);
    if (!nb)
        return;
    x->body = nb;
    memcpy(x->body + x->body_len, p, n);
    x->body_len += n;
    x->body[x->body_len] = '\0';
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    xfer *x = arg;
    if (!x->o->progress)
        return 0;
    uint64_t done, total;
    if (ultotal > 0 || ulnow > 0) {
        done = (uint64_t)ulnow;
        total = (uint64_t)ultotal;
    } else {
        done = x->offset + (uint64_t)dlnow;
        total = dltotal > 0 ? x->offset + (uint64_t)dltotal : 0;
    }
    if (x->o->progress(x->o->progress_arg, done, total)) {
        x->stopped = true;
        return 1;
    }
    return 0;
}

static size_t on_upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t want = size * nitems;
    for (;;) {
        ssize_t n = read(x->fd, buf, want);
        if (n >= 0)
            return (size_t)n;
        if (errno == EINTR)
            continue;
        x->read_errno = errno;
        return CURL_READFUNC_ABORT;
    }
}

static size_t on_body_mem(char *p, size_t size, size_t nmemb, void *arg)
{
    keep_body(arg, p, size * nmemb);
    return size * nmemb;
}

static bool write_all(int fd, const char *p, size_t n, int *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            *err = errno;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static size_t on_body_fd(char *p, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    if (!x->decided) {
        long st = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
        x->decided = true;
        x->to_fd = st == 200 || st == 206;
        if (st == 206 && (!x->range_seen || x->range_start != x->offset)) {
            x->bad_range = true; /* not the bytes asked for: keep none */
            return 0;
        }
        if (st == 200 && x->offset > 0) { /* Range ignored: start over */
            if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0) {
                x->write_errno = errno;
                return 0;
            }
            x->offset = 0;
        }
    }
    if (!x->to_fd) {
        keep_body(x, p, n);
        return n;
    }
    if (!write_all(x->fd, p, n, &x->write_errno))
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    x->written += n;
    return n;
}

static bool xfer_init(xfer *x, const omtp_file_opts *o, omtp_file_result *res)
{
    memset(x, 0, sizeof(*x));
    x->o = o;
    x->res = res;
    x->fd = -1;
    pthread_once(&curl_once, curl_init_once);
    x->h = curl_easy_init();
    if (!x->h)
        return false;
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     (long)(o->idle_timeout_s > 0 ? o->idle_timeout_s : 30));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return true;
}

/* The URL base_url + path, or NULL. path starts with '/'. */
static char *url_of(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(path) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s", (int)bl, base, path);
    return u;
}

/* Reads {"error":{"code","message"}} of an answer into res. */
static void parse_error(xfer *x)
{
    json_t *j = x->body ? json_loadb(x->body, x->body_len, 0, NULL) : NULL;
    json_t *e = j ? json_object_get(j, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    snprintf(x->res->code, sizeof(x->res->code), "%s", code ? code : "");
    if (msg)
        snprintf(x->res->message, sizeof(x->res->message), "%s", msg);
    else
        snprintf(x->res->message, sizeof(x->res->message), "the server answered HTTP %ld",
                 x->res->status);
    json_decref(j);
}

/* Runs the transfer and maps the outcome to 0 / OMTP_E*. `ok` are the
 * statuses that count as success. */
static int perform(xfer *x, const long *ok, size_t nok)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(x->h);
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->res->status);
    if (x->stopped) {
        snprintf(x->res->message, sizeof(x->res->message), "stopped");
        return OMTP_ECLOSED;
    }
    if (x->write_errno || x->read_errno) {
        x->res->sys_errno = x->write_errno ? x->write_errno : x->read_errno;
        snprintf(x->res->message, sizeof(x->res->message), "%s the local file failed: %s",
                 x->write_errno ? "writing" : "reading", strerror(x->res->sys_errno));
        return OMTP_EIO;
    }
    if (cc != CURLE_OK) {
        /* a refusal answered before the body was read (413 while uploading) */
        if (x->res->status >= 400) {
            parse_error(x);
            return OMTP_EIO;
        }
        snprintf(x->res->message, sizeof(x->res->message), "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return cc == CURLE_OPERATION_TIMEDOUT ? OMTP_ETIMEDOUT : OMTP_EIO;
    }
    for (size_t i = 0; i < nok; i++)
        if (x->res->status == ok[i])
            return 0;
    parse_error(x);
    return OMTP_EIO;
}

static void xfer_end(xfer *x, struct curl_slist *hdrs)
{
    if (x->h)
        curl_easy_cleanup(x->h);
    curl_slist_free_all(hdrs);
    free(x->body);
}

static struct curl_slist *auth_header(const omtp_file_opts *o, struct curl_slist *l)
{
    if (!o->token || !o->token[0])
        return l;
    size_t n = strlen(o->token) + 32;
    char *h = malloc(n);
    if (!h)
        return l;
    snprintf(h, n, "Authorization: Bearer %s", o->token);
    struct curl_slist *nl = curl_slist_append(l, h);
    free(h);
    return nl ? nl : l;
}

static void copy_str(json_t *j, const char *key, char *out, size_t n)
{
    const char *s = json_string_value(json_object_get(j, key));
    snprintf(out, n, "%s", s ? s : "");
}

/* The fields of a file JSON into out; false without a fileId. */
static bool info_from_json(json_t *j, omtp_file_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return false;
    copy_str(j, "fileId", out->fileId, sizeof(out->fileId));
    copy_str(j, "sha256", out->sha256, sizeof(out->sha256));
    copy_str(j, "mime", out->mime, sizeof(out->mime));
    copy_str(j, "name", out->name, sizeof(out->name));
    copy_str(j, "thumbId", out->thumbId, sizeof(out->thumbId));
    json_int_t v = json_integer_value(json_object_get(j, "size"));
    out->size = v > 0 ? (uint64_t)v : 0;
    out->width = (int32_t)json_integer_value(json_object_get(j, "width"));
    out->height = (int32_t)json_integer_value(json_object_get(j, "height"));
    out->durationMs = (int64_t)json_integer_value(json_object_get(j, "durationMs"));
    return out->fileId[0] != '\0';
}

int omtp_file_upload_fd(const omtp_file_opts *o, int fd, const char *name, const char *mime_hint,
                        omtp_file_info *out, omtp_file_result *res)
{
    res_clear(res);
    memset(out, 0, sizeof(*out));
    if (!o || !o->base_url || !name || fd < 0) {
        snprintf(res->message, sizeof(res->message), "an upload needs a server, a name and a file");
        return OMTP_EINVAL;
    }
    xfer x;
    struct curl_slist *hdrs = NULL;
    if (!xfer_init(&x, o, res)) {
        snprintf(res->message, sizeof(res->message), "out of memory");
        return OMTP_ENOMEM;
    }
    x.fd = fd;
    int rc = OMTP_ENOMEM;
    char *en = curl_easy_escape(x.h, name, 0);
    char *em = mime_hint ? curl_easy_escape(x.h, mime_hint, 0) : NULL;
    size_t plen = (en ? strlen(en) : 0) + (em ? strlen(em) : 0) + 64;
    char *path = malloc(plen);
    char *url = NULL;
    if (en && (em || !mime_hint) && path) {
        snprintf(path, plen, "/v1/files?name=%s%s%s", en, em ? "&mime=" : "", em ? em : "");
        url = url_of(o->base_url, path);
    }
    if (url) {
        curl_easy_setopt(x.h, CURLOPT_URL, url);
        curl_easy_setopt(x.h, CURLOPT_POST, 1L);
        curl_easy_setopt(x.h, CURLOPT_READFUNCTION, on_upload_read);
        curl_easy_setopt(x.h, CURLOPT_READDATA, &x);
        curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_body_mem);
        curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
        struct stat st;
        off_t at = lseek(fd, 0, SEEK_CUR);
        hdrs = auth_header(o, hdrs);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 && st.st_size >= at) {
            curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(st.st_size - at));
        } else {
            hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        }
        curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
        static const long ok[] = {200, 201};
        rc = perform(&x, ok, 2);
        if (rc == 0) {
            json_t *j = json_loadb(x.body ? x.body : "", x.body_len, 0, NULL);
            if (!info_from_json(j, out)) {
                snprintf(res->message, sizeof(res->message),
                         "the server's answer to the upload is not a file's JSON");
                rc = OMTP_EDECODE;
            }
            json_decref(j);
        }
    } else {
        snprintf(res->message, sizeof(res->message), "out of memory");
    }
    curl_free(en);
    curl_free(em);
    free(path);
    free(url);
    xfer_end(&x, hdrs);
    return rc;
}

int omtp_file_upload_path(const omtp_file_opts *o, const char *path, const char *name,
                          const char *mime_hint, omtp_file_info *out, omtp_file_result *res)
{
    res_clear(res);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        res->sys_errno = errno;
        snprintf(res->message, sizeof(res->message), "cannot open %s: %s", path, strerror(errno));
        memset(out, 0, sizeof(*out));
        return OMTP_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(res->message, sizeof(res->message), "%s is a directory", path);
        memset(out, 0, sizeof(*out));
        return OMTP_EINVAL;
    }
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    int rc = omtp_file_upload_fd(o, fd, name, mime_hint, out, res);
    close(fd);
    return rc;
}

/* "Content-Range: bytes START-END/TOTAL" or "bytes * /TOTAL" (a 416). */
static size_t on_header(char *p, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t n = size * nitems;
    if (n > 14 && !strncasecmp(p, "Content-Range:", 14)) {
        char line[128];
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
        const char *v = line + 14;
        while (*v == ' ')
            v++;
        if (!strncasecmp(v, "bytes ", 6))
            v += 6;
        x->range_seen = true;
        x->range_start = *v == '*' ? 0 : strtoull(v, NULL, 10);
        const char *slash = strchr(v, '/');
        x->range_total = slash ? strtoull(slash + 1, NULL, 10) : 0;
    }
    return n;
}

int omtp_file_download_fd(const omtp_file_opts *o, const char *fileId, int fd, uint64_t offset,
                          uint64_t *total, char *mime, size_t mimelen, omtp_file_result *res)
{
    res_clear(res);
    if (total)
        *total = 0;
    if (mime && mimelen)
        mime[0] = '\0';
    if (!o || !o->base_url || !fileId || !fileId[0] || strlen(fileId) > OMTP_FILE_ID_MAX ||
        fd < 0) {
        snprintf(res->message, sizeof(res->message), "a download needs a server and a file id");
        return OMTP_EINVAL;
    }
    xfer x;
    struct curl_slist *hdrs = NULL;
    if (!xfer_init(&x, o, res)) {
        snprintf(res->message, sizeof(res->message), "out of memory");
        return OMTP_ENOMEM;
    }
    x.fd = fd;
    x.offset = offset;
    int rc = OMTP_ENOMEM;
    char *eid = curl_easy_escape(x.h, fileId, 0);
    char path[3 * OMTP_FILE_ID_MAX + 16];
    char *url = NULL;
    if (eid) {
        snprintf(path, sizeof(path), "/v1/files/%s", eid);
        url = url_of(o->base_url, path);
    }
    if (url) {
        curl_easy_setopt(x.h, CURLOPT_URL, url);
        curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_body_fd);
        curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(x.h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(x.h, CURLOPT_HEADERDATA, &x);
        char range[48];
        if (offset > 0) {
            snprintf(range, sizeof(range), "%" PRIu64 "-", offset);
            curl_easy_setopt(x.h, CURLOPT_RANGE, range);
        }
        hdrs = auth_header(o, hdrs);
        curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
        static const long ok[] = {200, 206};
        rc = perform(&x, ok, 2);
        uint64_t range_total = x.range_total;
        if (x.bad_range) {
            snprintf(res->message, sizeof(res->message),
                     "the server answered other bytes than the range asked for");
            rc = OMTP_EDECODE;
        }
        if (rc == OMTP_EIO && res->status == 416 && offset > 0 && range_total == offset) {
            rc = 0; /* complete already */
            res->code[0] = res->message[0] = '\0';
        }
        if (rc == 0) {
            if (total) {
                curl_off_t cl = -1;
                curl_easy_getinfo(x.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
                *total = range_total ? range_total
                         : cl >= 0   ? x.offset + (uint64_t)cl
                                     : x.offset + x.written;
            }
            const char *ct = NULL;
            if (mime && mimelen && curl_easy_getinfo(x.h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
                ct && res->status != 416)
                snprintf(mime, mimelen, "%s", ct);
            if (res->status != 416 && total && x.offset + x.written != *total) {
                snprintf(res->message, sizeof(res->message),
                         "the server sent %" PRIu64 " of %" PRIu64 " bytes", x.offset + x.written,
                         *total);
                rc = OMTP_EIO;
            }
        }
    } else {
        snprintf(res->message, sizeof(res->message), "out of memory");
    }
    curl_free(eid);
    free(url);
    xfer_end(&x, hdrs);
    return rc;
}

int omtp_file_download_path(const omtp_file_opts *o, const char *fileId, const char *path,
                            bool resume, uint64_t *total, omtp_file_result *res)
{
    res_clear(res);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
    if (fd < 0) {
        res->sys_errno = errno;
        snprintf(res->message, sizeof(res->message), "cannot write %s: %s", path, strerror(errno));
        return OMTP_EIO;
    }
    uint64_t offset = 0;
    if (resume) {
        off_t end = lseek(fd, 0, SEEK_END);
        offset = end > 0 ? (uint64_t)end : 0;
    }
    int rc = omtp_file_download_fd(o, fileId, fd, offset, total, NULL, 0, res);
    if (close(fd) != 0 && rc == 0) {
        res->sys_errno = errno;
        snprintf(res->message, sizeof(res->message), "writing %s failed: %s", path,
                 strerror(errno));
        rc = OMTP_EIO;
    }
    return rc;
}

/* ------------------------------------------------------ media messages */

int omtp_file_content_type(const char *mime)
{
    if (!mime)
        return 7;
    if (!strncasecmp(mime, "image/", 6))
        return 3;
    if (!strncasecmp(mime, "audio/", 6))
        return 2;
    if (!strncasecmp(mime, "video/", 6))
        return 6;
    return 7;
}

int omtp_file_content_json(const omtp_file_info *f, char **out)
{
    *out = NULL;
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s}", "fileId", f->fileId, "name", f->name, "size",
                          (json_int_t)f->size, "mime", f->mime, "sha256", f->sha256);
    if (!j)
        return OMTP_ENOMEM;
    int rc = 0;
    if (f->width > 0 && f->height > 0)
        rc |= json_object_set_new(j, "width", json_integer(f->width)) |
              json_object_set_new(j, "height", json_integer(f->height));
    if (f->durationMs > 0)
        rc |= json_object_set_new(j, "durationMs", json_integer((json_int_t)f->durationMs));
    if (f->thumbId[0])
        rc |= json_object_set_new(j, "thumbId", json_string(f->thumbId));
    if (rc == 0)
        *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *out ? 0 : OMTP_ENOMEM;
}

int omtp_file_content_parse(const char *content, size_t len, omtp_file_info *out)
{
    json_t *j = content ? json_loadb(content, len, 0, NULL) : NULL;
    bool ok = info_from_json(j, out);
    json_decref(j);
    return ok ? 0 : OMTP_EDECODE;
}

void omtp_file_size_text(uint64_t size, char *buf, size_t n)
{
    static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)size;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 " B", size);
    else if (v < 10)
        snprintf(buf, n, "%.1f %s", v, units[u]);
    else
        snprintf(buf, n, "%.0f %s", v, units[u]);
}

/* name with control characters (C0, DEL, and C1 as UTF-8: U+0080..U+009F,
 * which some terminals obey) as '?', at most n-1 bytes, never cutting a
 * UTF-8 sequence. */
static void safe_name(const char *in, char *out, size_t n)
{
    size_t i = 0, o = 0;
    while (in && in[i] && o + 1 < n) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (c == 0xc2 && (unsigned char)in[i + 1] >= 0x80 && (unsigned char)in[i + 1] <= 0x9f) {
            out[o++] = '?';
            i += 2;
            continue;
        }
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (o + len >= n)
            break;
        for (size_t k = 0; k < len && in[i]; k++)
            out[o++] = in[i++];
    }
    if (n)
        out[o] = '\0';
}

bool omtp_file_summary(int contentType, const char *content, size_t len, char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    if (contentType == 5) { /* location */
        json_t *j = content ? json_loadb(content, len, 0, NULL) : NULL;
        if (!json_is_object(j)) {
            json_decref(j);
            return false;
        }
        char name[128];
        safe_name(json_string_value(json_object_get(j, "name")), name, sizeof(name));
        snprintf(buf, n, "[location %s%s%.5g,%.5g]", name, name[0] ? ", " : "",
                 json_number_value(json_object_get(j, "lat")),
                 json_number_value(json_object_get(j, "lng")));
        json_decref(j);
        return true;
    }
    const char *kind = contentType == 2   ? "voice"
                       : contentType == 3 ? "image"
                       : contentType == 6 ? "video"
                       : contentType == 7 ? "file"
                                          : NULL;
    omtp_file_info f;
    if (!kind || omtp_file_content_parse(content, len, &f) != 0)
        return false;
    char name[256], size[32], dims[48] = "", dur[32] = "";
    safe_name(f.name[0] ? f.name : f.fileId, name, sizeof(name));
    omtp_file_size_text(f.size, size, sizeof(size));
    if (f.width > 0 && f.height > 0)
        snprintf(dims, sizeof(dims), "%d\xc3\x97%d ", (int)f.width, (int)f.height);
    if (f.durationMs > 0)
        snprintf(dur, sizeof(dur), "%" PRId64 ":%02" PRId64 " ", f.durationMs / 60000,
                 (f.durationMs / 1000) % 60);
    snprintf(buf, n, "[%s %s%s%s %s]", kind, dims, dur, name, size);
    return true;
}

bool omtp_file_login_token(const char *extraData, char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    if (!extraData || !extraData[0])
        return false;
    if (extraData[0] == '{') {
        json_t *j = json_loads(extraData, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "fileToken"));
        if (!t)
            t = json_string_value(json_object_get(j, "token"));
        bool ok = t && t[0] && strlen(t) < n;
        if (ok)
            snprintf(buf, n, "%s", t);
        json_decref(j);
        return ok;
    }
    if (!strncmp(extraData, "v1.", 3) && !strchr(extraData, ' ') && strlen(extraData) < n) {
        snprintf(buf, n, "%s", extraData);
        return true;
    }
    return false;
}
