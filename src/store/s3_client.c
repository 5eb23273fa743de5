/*
 * s3_client.c - S3 requests over libcurl with its SigV4 signing
 * (s3_client.h).
 */
#include "s3_client.h"

#include "proto/omtp_errors.h"
#include "s3_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_KEEP (1024 * 1024) /* most of a non-sunk reply body kept */

struct s3_client {
    char *base; /* "http://127.0.0.1:9000/BUCKET" or "https://BUCKET.s3.eu-west-1.amazonaws.com" */
    char *bucket;
    char *sigv4; /* "aws:amz:REGION:s3" */
    char *access_key;
    char *secret_key;
    pthread_mutex_t mu;
    CURL *idle[S3_POOL];
    int nidle;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *s3_client_base(const s3_client *c)
{
    return c->base;
}

const char *s3_client_bucket(const s3_client *c)
{
    return c->bucket;
}

/* S3 bucket names: 3..63 of [a-z0-9.-], starting and ending with a letter or
 * digit (AWS's rule; MinIO and Ceph follow it). */
static int bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '.' && ch != '-')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
    }
    return 1;
}

static int region_valid(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
            return 0;
    return 1;
}

int s3_client_new(const s3_client_config *cfg, s3_client **out, char *why, size_t whylen)
{
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    const char *ep = cfg->endpoint ? cfg->endpoint : "";
    *out = NULL;
    if (!cfg->bucket || !bucket_valid(cfg->bucket)) {
        snprintf(why, whylen,
                 "file_store s3://%s: not a bucket name (3..63 of a-z, 0-9, '.', '-'): write "
                 "file_store = s3://BUCKET",
                 cfg->bucket ? cfg->bucket : "");
        return OMTP_EINVAL;
    }
    if (!region_valid(region)) {
        snprintf(why, whylen, "s3_region \"%s\" is not a region name (e.g. eu-west-1)", region);
        return OMTP_EINVAL;
    }
    if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key) {
        snprintf(why, whylen,
                 "file_store s3://%s needs credentials: set s3_access_key and s3_secret_key "
                 "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment)",
                 cfg->bucket);
        return OMTP_EINVAL;
    }
    if (strchr(cfg->access_key, ':') || strpbrk(cfg->access_key, "\r\n") ||
        strpbrk(cfg->secret_key, "\r\n")) {
        snprintf(why, whylen, "s3_access_key must not hold ':' or line breaks");
        return OMTP_EINVAL;
    }
    const char *scheme = "https";
    const char *host = NULL;
    char hostbuf[512];
    if (*ep) {
        if (strncmp(ep, "http://", 7) == 0) {
            scheme = "http";
            host = ep + 7;
        } else if (strncmp(ep, "https://", 8) == 0) {
            host = ep + 8;
        } else {
            snprintf(why, whylen,
                     "s3_endpoint \"%s\" must start with http:// or https:// "
                     "(e.g. http://127.0.0.1:9000)",
                     ep);
            return OMTP_EINVAL;
        }
        size_t hl = strcspn(host, "/?#");
        if (hl == 0 || hl >= sizeof hostbuf || host[hl + strspn(host + hl, "/")] != '\0') {
            snprintf(why, whylen,
                     "s3_endpoint \"%s\": give only scheme, host and port (e.g. "
                     "https://s3.eu-west-1.amazonaws.com)",
                     ep);
            return OMTP_EINVAL;
        }
        memcpy(hostbuf, host, hl);
        hostbuf[hl] = '\0';
    } else {
        snprintf(hostbuf, sizeof hostbuf, "s3.%s.amazonaws.com", region);
    }
    int path_style = cfg->path_style < 0 ? (*ep != '\0') : cfg->path_style;
    if (!path_style && strchr(cfg->bucket, '.') && strcmp(scheme, "https") == 0) {
        snprintf(why, whylen,
                 "bucket \"%s\" has a '.': its virtual-hosted name does not match the TLS "
                 "certificate; set s3_path_style = true",
                 cfg->bucket);
        return OMTP_EINVAL;
    }
    s3_client *c = calloc(1, sizeof *c);
    if (!c)
        return OMTP_ENOMEM;
    size_t blen = strlen(hostbuf) + strlen(cfg->bucket) + 16;
    size_t slen = strlen(region) + 16;
    c->base = malloc(blen);
    c->sigv4 = malloc(slen);
    c->bucket = strdup(cfg->bucket);
    c->access_key = strdup(cfg->access_key);
    c->secret_key = strdup(cfg->secret_key);
    if (!c->base || !c->sigv4 || !c->bucket || !c->access_key || !c->secret_key) {
        s3_client_free(c);
        return OMTP_ENOMEM;
    }
    if (path_style)
        snprintf(c->base, blen, "%s://%s/%s", scheme, hostbuf, cfg->bucket);
    else
        snprintf(c->base, blen, "%s://%s.%s", scheme, cfg->bucket, hostbuf);
    snprintf(c->sigv4, slen, "aws:amz:%s:s3", region);
    pthread_mutex_init(&c->mu, NULL);
    pthread_once(&curl_once, curl_init_once);
    *out = c;
    return 0;
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    if (c->base && c->sigv4 && c->bucket && c->access_key && c->secret_key)
        pthread_mutex_destroy(&c->mu);
    free(c->base);
    free(c->bucket);
    free(c->sigv4);
    if (c->access_key)
        explicit_bzero(c->access_key, strlen(c->access_key));
    if (c->secret_key)
        explicit_bzero(c->secret_key, strlen(c->secret_key));
    free(c->access_key);
    free(c->secret_key);
    free(c);
}

static CURL *handle_get(s3_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->nidle > 0)
        h = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_reset(h); /* keeps its connections, DNS and TLS session caches */
    else
        h = curl_easy_init();
    return h;
}

static void handle_put(s3_client *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    if (c->nidle < S3_POOL) {
        c->idle[c->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- one transfer */

typedef struct xfer {
    CURL *h;
    const s3_req *rq;
    s3_resp *resp;
    uint64_t sent; /* body bytes handed to curl */
    int sink_rc;   /* the sink's non-zero return */
    int sunk;      /* bytes went to the sink (no retry after that) */
    int read_err;  /* errno of a failed pread of the body */
} xfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t want = size * nitems;
    uint64_t left = x->rq->body_len - x->sent;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (x->rq->body_fd >= 0) {
        ssize_t n;
        do
            n = pread(x->rq->body_fd, buf, want, (off_t)(x->rq->body_off + x->sent));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            x->read_err = n < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    } else {
        memcpy(buf, (const char *)x->rq->body + x->sent, want);
    }
    x->sent += want;
    return want;
}

static int is_2xx(long st)
{
    return st >= 200 && st < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    long st = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
    if (x->rq->sink && is_2xx(st)) {
        int rc = x->rq->sink(x->rq->sink_arg, data, n);
        if (rc == S3_SINK_PAUSE)
            return CURL_WRITEFUNC_PAUSE; /* delivered again after curl_easy_pause */
        x->sunk = 1;
        if (rc != 0) {
            x->sink_rc = rc;
            return 0; /* CURLE_WRITE_ERROR */
        }
        return n;
    }
    s3_resp *r = x->resp;
    if (r->body_len < BODY_KEEP) {
        size_t take = n;
        if (take > BODY_KEEP - r->body_len)
            take = BODY_KEEP - r->body_len;
        char *nb = realloc(r->body, r->body_len + take + 1);
        if (!nb)
            return 0;
        memcpy(nb + r->body_len, data, take);
        r->body = nb;
        r->body_len += take;
        r->body[r->body_len] = '\0';
    }
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t n = size * nitems;
    if (n > 5 && strncasecmp(buf, "ETag:", 5) == 0) {
        size_t i = 5;
        while (i < n && buf[i] == ' ')
            i++;
        size_t e = n;
        while (e > i && (buf[e - 1] == '\r' || buf[e - 1] == '\n' || buf[e - 1] == ' '))
            e--;
        size_t l = e - i < sizeof x->resp->etag - 1 ? e - i : sizeof x->resp->etag - 1;
        memcpy(x->resp->etag, buf + i, l);
        x->resp->etag[l] = '\0';
    } else if (n > 15 && strncasecmp(buf, "Content-Length:", 15) == 0) {
        char tmp[32];
        size_t l = n - 15 < sizeof tmp - 1 ? n - 15 : sizeof tmp - 1;
        memcpy(tmp, buf + 15, l);
        tmp[l] = '\0';
        x->resp->length = strtoull(tmp, NULL, 10);
    } else if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new response (100 Continue, a redirect): forget the last one's */
        x->resp->etag[0] = '\0';
        x->resp->length = 0;
    }
    return n;
}

static int key_safe(const char *k)
{
    for (; *k; k++) {
        char ch = *k;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~'))
            return 0;
    }
    return 1;
}

/* Sets every option of rq on x->h; *hdp gets the header list to free after
 * the transfer. */
static CURLcode setup(s3_client *c, xfer *x, char *curl_err, struct curl_slist **hdp)
{
    const s3_req *rq = x->rq;
    CURL *h = x->h;
    char url[1024];
    snprintf(url, sizeof url, "%s/%s%s%s", c->base, rq->key, rq->query ? "?" : "",
             rq->query ? rq->query : "");
    struct curl_slist *hd = NULL, *t;
    char line[600];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s",
             rq->payload_sha
                 ? rq->payload_sha
                 : (rq->body_len == 0 && rq->body_fd < 0
                        ? "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                        : "UNSIGNED-PAYLOAD"));
    int ok = (t = curl_slist_append(hd, line)) != NULL;
    hd = t ? t : hd;
    if (ok && rq->copy_src) {
        snprintf(line, sizeof line, "x-amz-copy-source: /%s/%s", c->bucket, rq->copy_src);
        ok = (t = curl_slist_append(hd, line)) != NULL;
        hd = t ? t : hd;
    }
    if (ok && strcmp(rq->method, "POST") == 0) {
        ok = (t = curl_slist_append(hd, "Content-Type: application/xml")) != NULL;
        hd = t ? t : hd;
    }
    if (!ok) {
        curl_slist_free_all(hd);
        return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)S3_CONNECT_TIMEOUT);
    if (rq->slow_ok) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)S3_SLOW_TIMEOUT);
    } else {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)S3_LOW_SPEED_BYTES);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)S3_LOW_SPEED_TIME);
    }
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    char range[64];
    if (rq->range_len > 0) {
        if (rq->range_len == UINT64_MAX || rq->range_len > UINT64_MAX - rq->range_off)
            snprintf(range, sizeof range, "%" PRIu64 "-", rq->range_off);
        else
            snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, rq->range_off,
                     rq->range_off + rq->range_len - 1);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    *hdp = hd;
    return CURLE_OK;
}

static CURLcode perform(s3_client *c, xfer *x, char *curl_err)
{
    CURL *h = x->h;
    struct curl_slist *hd = NULL;
    CURLcode rc = setup(c, x, curl_err, &hd);
    if (rc != CURLE_OK)
        return rc;
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->resp->status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hd);
    return rc;
}

/* What to tell the operator for an S3 error code. */
static const char *hint_for(long status, const char *code)
{
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return "check s3_secret_key";
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        return "check s3_access_key";
    if (strcmp(code, "AccessDenied") == 0)
        return "give the key the permissions docs/files.md (S3) lists";
    if (strcmp(code, "NoSuchBucket") == 0)
        return "create the bucket, or check file_store and s3_endpoint";
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return "this machine's clock is off: synchronise it (NTP)";
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "PermanentRedirect") == 0 || status == 301)
        return "check s3_region and s3_endpoint (the bucket is in another region)";
    if (strcmp(code, "SlowDown") == 0 || status == 503)
        return "the service is throttling: try again later";
    if (status >= 500)
        return "the S3 service failed: try again later";
    return "see the S3 service's documentation of this code";
}

static int space_code(const char *code)
{
    return strcmp(code, "XMinioStorageFull") == 0 || strcmp(code, "QuotaExceeded") == 0 ||
           strcmp(code, "StorageFull") == 0;
}

static int retryable(CURLcode rc, long status)
{
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
        rc == CURLE_GOT_NOTHING)
        return 1;
    return rc == CURLE_OK && (status == 500 || status == 502 || status == 503 || status == 504);
}

static int finish(s3_client *c, xfer *xp, CURLcode rc, const char *curl_err, char *why,
                  size_t whylen);

int s3_do(s3_client *c, const s3_req *rq, s3_resp *resp, char *why, size_t whylen)
{
    memset(resp, 0, sizeof *resp);
    if (why && whylen)
        why[0] = '\0';
    if (!key_safe(rq->key) || (rq->copy_src && !key_safe(rq->copy_src)) || strlen(rq->key) > 512) {
        snprintf(why, whylen, "S3 %s: key with characters outside [A-Za-z0-9/._~-]", rq->method);
        return OMTP_EINVAL;
    }
    CURL *h = handle_get(c);
    if (!h) {
        snprintf(why, whylen, "S3 %s %s: out of memory", rq->method, rq->key);
        return OMTP_ENOMEM;
    }
    xfer x;
    CURLcode rc = CURLE_OK;
    char curl_err[CURL_ERROR_SIZE];
    for (int attempt = 1;; attempt++) {
        free(resp->body);
        memset(resp, 0, sizeof *resp);
        memset(&x, 0, sizeof x);
        x.h = h;
        x.rq = rq;
        x.resp = resp;
        curl_err[0] = '\0';
        rc = perform(c, &x, curl_err);
        if (attempt >= S3_ATTEMPTS || x.sunk || x.sink_rc || !retryable(rc, resp->status))
            break;
        struct timespec ts = {0, (attempt == 1 ? 100 : 400) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int err = finish(c, &x, rc, curl_err, why, whylen);
    handle_put(c, h);
    return err;
}

/* The outcome of a finished transfer: 0, or an OMTP_E* with why. */
static int finish(s3_client *c, xfer *xp, CURLcode rc, const char *curl_err, char *why,
                  size_t whylen)
{
    xfer x = *xp;
    const s3_req *rq = x.rq;
    s3_resp *resp = x.resp;
    /* an error reply's code and message; a 200 with <Error> is an error too */
    if (resp->body && s3_xml_text(resp->body, resp->body_len, "Error", resp->message, 2)) {
        s3_xml_text(resp->body, resp->body_len, "Code", resp->code, sizeof resp->code);
        s3_xml_text(resp->body, resp->body_len, "Message", resp->message, sizeof resp->message);
    } else {
        resp->message[0] = '\0';
    }
    int err = 0;
    const char *target = *rq->key ? rq->key : c->bucket;
    if (x.sink_rc) {
        err = x.sink_rc;
        snprintf(why, whylen, "S3 %s %s: the reader stopped", rq->method, target);
    } else if (rc != CURLE_OK) {
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            err = OMTP_ETIMEDOUT;
            snprintf(why, whylen,
                     "S3 %s %s: timed out (%s) -- check that s3_endpoint is reachable and fast "
                     "enough (more than %d bytes/s)",
                     rq->method, target, curl_err[0] ? curl_err : curl_easy_strerror(rc),
                     S3_LOW_SPEED_BYTES);
        } else if (rc == CURLE_ABORTED_BY_CALLBACK || x.read_err) {
            err = OMTP_EIO;
            snprintf(why, whylen, "S3 %s %s: reading the spooled part failed: %s", rq->method,
                     target, strerror(x.read_err ? x.read_err : EIO));
        } else {
            err = OMTP_EIO;
            snprintf(why, whylen, "S3 %s %s: %s -- check s3_endpoint", rq->method, target,
                     curl_err[0] ? curl_err : curl_easy_strerror(rc));
        }
    } else if (!is_2xx(resp->status) || resp->code[0]) {
        long st = resp->status;
        if (space_code(resp->code) || st == 507)
            err = OMTP_ENOSPC;
        else if (st == 404 && (resp->code[0] == '\0' || strcmp(resp->code, "NoSuchKey") == 0))
            err = OMTP_ENOTFOUND;
        else if (st == 416)
            err = OMTP_EINVAL; /* InvalidRange: past the end */
        else
            err = OMTP_EIO;
        if (!resp->code[0] && st == 403)
            snprintf(resp->code, sizeof resp->code, "Forbidden"); /* HEAD: no body */
        /* the hint before S3's message: a short buffer keeps what to do */
        snprintf(why, whylen, "S3 %s %s: %ld %s -- %s%s%s%s", rq->method, target, st,
                 resp->code[0] ? resp->code : "(no error code)",
                 err == OMTP_ENOTFOUND ? "no such object"
                 : st == 403 && !strcmp(resp->code, "Forbidden")
                     ? "check s3_access_key, s3_secret_key and the key's permissions"
                     : hint_for(st, resp->code),
                 resp->message[0] ? " (" : "", resp->message, resp->message[0] ? ")" : "");
    }
    return err;
}

void s3_resp_free(s3_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* ---- streamed GET (s3_client.h, s3_stream_*) */

#define STREAM_BUF (256 * 1024) /* bytes received and not read yet, at most */

struct s3_stream {
    s3_client *c;
    CURLM *m;
    xfer x;
    s3_req rq;
    s3_resp resp;
    struct curl_slist *hd;
    char key[600];
    char curl_err[CURL_ERROR_SIZE];
    char *buf; /* received, not read yet: buf[head..len) */
    size_t head, len;
    int paused;
    int done;     /* the transfer ended ... */
    CURLcode res; /* ... with this */
};

static int stream_sink(void *arg, const void *data, size_t n)
{
    s3_stream *st = arg;
    if (st->head > 0 && st->len + n > STREAM_BUF) { /* make room at the front */
        memmove(st->buf, st->buf + st->head, st->len - st->head);
        st->len -= st->head;
        st->head = 0;
    }
    if (st->len + n > STREAM_BUF) {
        st->paused = 1;
        return S3_SINK_PAUSE;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    return 0;
}

/* One turn of the transfer; waits (at most 1 s) for the socket only when
 * the turn moved nothing: after a pause curl may hold bytes it already read,
 * which no socket wait would see. */
static void stream_turn(s3_stream *st)
{
    int running = 0;
    size_t had = st->len;
    int was_paused = st->paused;
    curl_multi_perform(st->m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(st->m, &left))) {
        if (msg->msg == CURLMSG_DONE) {
            st->done = 1;
            st->res = msg->data.result;
            curl_easy_getinfo(st->x.h, CURLINFO_RESPONSE_CODE, &st->resp.status);
        }
    }
    if (!st->done && running && st->len == had && st->paused == was_paused)
        curl_multi_poll(st->m, NULL, 0, 1000, NULL);
}

static int stream_status(s3_stream *st)
{
    long code = 0;
    curl_easy_getinfo(st->x.h, CURLINFO_RESPONSE_CODE, &code);
    return (int)code;
}

int s3_stream_open(s3_client *c, const char *key, uint64_t off, uint64_t len, s3_stream **out,
                   char *why, size_t whylen)
{
    *out = NULL;
    if (why && whylen)
        why[0] = '\0';
    if (!key_safe(key) || strlen(key) >= 600) {
        snprintf(why, whylen, "S3 GET: key with characters outside [A-Za-z0-9/._~-]");
        return OMTP_EINVAL;
    }
    s3_stream *st = calloc(1, sizeof *st);
    if (!st || !(st->buf = malloc(STREAM_BUF)) || !(st->m = curl_multi_init())) {
        if (st)
            free(st->buf);
        free(st);
        return OMTP_ENOMEM;
    }
    st->c = c;
    snprintf(st->key, sizeof st->key, "%s", key);
    st->rq.method = "GET";
    st->rq.key = st->key;
    st->rq.body_fd = -1;
    st->rq.range_off = off;
    st->rq.range_len = off == 0 && len == UINT64_MAX ? 0 : len;
    st->rq.sink = stream_sink;
    st->rq.sink_arg = st;
    st->x.h = handle_get(c);
    st->x.rq = &st->rq;
    st->x.resp = &st->resp;
    if (!st->x.h || setup(c, &st->x, st->curl_err, &st->hd) != CURLE_OK) {
        s3_stream_close(st);
        return OMTP_ENOMEM;
    }
    /* keep the reads small: they are copied into buf */
    curl_easy_setopt(st->x.h, CURLOPT_BUFFERSIZE, 64L * 1024);
    curl_multi_add_handle(st->m, st->x.h);
    /* until the status is known: an error is answered here, not by read */
    while (!st->done && st->len == 0 && !st->paused)
        stream_turn(st);
    if (st->done || !is_2xx(stream_status(st))) {
        while (!st->done)
            stream_turn(st);
        int err = finish(c, &st->x, st->res, st->curl_err, why, whylen);
        if (err != 0) {
            s3_stream_close(st);
            return err;
        }
    }
    *out = st;
    return 0;
}

ssize_t s3_stream_read(s3_stream *st, void *buf, size_t max, char *why, size_t whylen)
{
    for (;;) {
        if (st->head < st->len) {
            size_t n = st->len - st->head < max ? st->len - st->head : max;
            memcpy(buf, st->buf + st->head, n);
            st->head += n;
            if (st->head == st->len)
                st->head = st->len = 0;
            if (st->paused) {
                st->paused = 0;
                curl_easy_pause(st->x.h, CURLPAUSE_CONT); /* may call stream_sink now */
            }
            return (ssize_t)n;
        }
        if (st->paused) {
            st->paused = 0;
            curl_easy_pause(st->x.h, CURLPAUSE_CONT);
            continue;
        }
        if (st->done) {
            int err = finish(st->c, &st->x, st->res, st->curl_err, why, whylen);
            return err != 0 ? err : 0;
        }
        stream_turn(st);
    }
}

void s3_stream_close(s3_stream *st)
{
    if (!st)
        return;
    if (st->x.h) {
        if (st->m)
            curl_multi_remove_handle(st->m, st->x.h);
        curl_easy_setopt(st->x.h, CURLOPT_HTTPHEADER, NULL);
        if (st->done && st->res == CURLE_OK)
            handle_put(st->c, st->x.h); /* a whole reply: its connection is reusable */
        else
            curl_easy_cleanup(st->x.h); /* cut short: do not reuse the connection */
    }
    if (st->m)
        curl_multi_cleanup(st->m);
    curl_slist_free_all(st->hd);
    s3_resp_free(&st->resp);
    free(st->buf);
    free(st);
}
