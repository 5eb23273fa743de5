/*
 * ws_http.c - the WebSocket listener's HTTP request (ws_http.h): parsed by
 * http-parser's callbacks into bounded fields, then decided: the upgrade of
 * /ws (RFC 6455 4.2.1 checks, Origin, subprotocol), a file, or a refusal.
 */
#include "ws_http.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct capture {
    const char *name;
    size_t off, size;
};

#define CAP(n, f)                                                                                  \
    {                                                                                              \
        n, offsetof(omtp_ws_req, f), sizeof(((omtp_ws_req *)0)->f)                                 \
    }
static const struct capture captures[] = {
    CAP("host", host),
    CAP("origin", origin),
    CAP("sec-websocket-key", key),
    CAP("sec-websocket-version", version),
    CAP("sec-websocket-protocol", protocol),
    CAP("upgrade", upgrade),
    CAP("connection", connection),
    CAP("if-none-match", inm),
    CAP("authorization", authorization),
    CAP("range", range),
    CAP("expect", expect),
};
#undef CAP
#define NCAPTURES (sizeof(captures) / sizeof(captures[0]))

static omtp_ws_req *req_of(http_parser *p)
{
    return p->data;
}

/* Appends n bytes to a bounded string; false when it did not fit. */
static bool append(char *dst, size_t size, const char *p, size_t n)
{
    size_t have = strlen(dst);
    if (have + n + 1 > size) {
        size_t room = size - 1 - have;
        memcpy(dst + have, p, room);
        dst[size - 1] = 0;
        return false;
    }
    memcpy(dst + have, p, n);
    dst[have + n] = 0;
    return true;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    omtp_ws_req *r = req_of(p);
    if (!append(r->url, sizeof(r->url), at, n))
        r->truncated = true;
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    omtp_ws_req *r = req_of(p);
    if (r->in_value) {
        r->field[0] = 0;
        r->in_value = false;
        r->cur = -1;
    }
    append(r->field, sizeof(r->field), at, n); /* a longer name matches nothing */
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    omtp_ws_req *r = req_of(p);
    if (!r->in_value) {
        r->in_value = true;
        r->cur = -1;
        for (size_t k = 0; k < NCAPTURES; k++)
            if (!strcasecmp(r->field, captures[k].name)) {
                r->cur = (int)k;
                char *dst = (char *)r + captures[k].off;
                if (dst[0] && !append(dst, captures[k].size, ", ", 2)) /* a repeated header */
                    r->truncated = true;
                break;
            }
    }
    if (r->cur >= 0) {
        const struct capture *c = &captures[r->cur];
        if (!append((char *)r + c->off, c->size, at, n))
            r->truncated = true;
    }
    return 0;
}

bool omtp_ws_api_path(const char *path)
{
    return !strncmp(path, "/v1", 3) && (path[3] == 0 || path[3] == '/');
}

static int on_headers_complete(http_parser *p)
{
    omtp_ws_req *r = req_of(p);
    r->method = p->method;
    char path[1024];
    if (!r->truncated && (p->method == HTTP_POST || p->method == HTTP_PUT) &&
        omtp_ws_req_path(r->url, path, sizeof(path)) == 0 && omtp_ws_api_path(path)) {
        /* an upload: stop here, the listener decides before any body byte */
        r->body = true;
        r->state = OMTP_WS_REQ_DONE;
        http_parser_pause(p, 1);
        return 0;
    }
    return 1; /* no body is read: GET/HEAD carry none, anything else is refused */
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    omtp_ws_req *r = req_of(p);
    if (r->body_cb)
        r->body_cb(r->body_arg, (const uint8_t *)at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    omtp_ws_req *r = req_of(p);
    r->state = OMTP_WS_REQ_DONE;
    if (r->body)
        r->body_done = true;
    http_parser_pause(p, 1); /* what follows is not ours to parse */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void omtp_ws_req_init(omtp_ws_req *r)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->hp, HTTP_REQUEST);
    r->hp.data = r;
    r->cur = -1;
}

size_t omtp_ws_req_feed(omtp_ws_req *r, const uint8_t *p, size_t n)
{
    if (r->state != OMTP_WS_REQ_MORE)
        return 0;
    size_t room = OMTP_WS_REQ_MAX - r->seen;
    size_t take = n < room ? n : room;
    size_t used = http_parser_execute(&r->hp, &settings, (const char *)p, take);
    r->seen += used;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->hp);
    if (r->hp.upgrade && e == HPE_OK) {
        /* http-parser stops at the end of an upgrade request's head */
        r->method = r->hp.method;
        r->state = OMTP_WS_REQ_DONE;
        return used;
    }
    if (r->state == OMTP_WS_REQ_DONE)
        return used; /* paused in on_message_complete (HPE_PAUSED) */
    if (e != HPE_OK) {
        r->state = OMTP_WS_REQ_BAD;
        r->status = 400;
        return used;
    }
    if (r->seen >= OMTP_WS_REQ_MAX) {
        r->state = OMTP_WS_REQ_BAD;
        r->status = 431;
    }
    return used;
}

long omtp_ws_req_body(omtp_ws_req *r, const uint8_t *p, size_t n,
                      void (*cb)(void *arg, const uint8_t *p, size_t n), void *arg)
{
    if (!r->body || r->body_done)
        return 0;
    r->body_cb = cb;
    r->body_arg = arg;
    http_parser_pause(&r->hp, 0);
    size_t used = http_parser_execute(&r->hp, &settings, (const char *)p, n);
    r->body_cb = NULL;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->hp);
    if (e != HPE_OK && e != HPE_PAUSED)
        return -1;
    if (!r->body_done)
        http_parser_pause(&r->hp, 1); /* until the next bytes */
    return (long)used;
}

/* Whether the comma list `list` holds `token` (case-insensitive, spaces
 * around items ignored). */
static bool has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && !strncasecmp(s, token, tl))
            return true;
        s = e;
    }
    return false;
}

static bool origin_allowed(const omtp_ws_req *r, const char *allowed, bool secure)
{
    if (!r->origin[0])
        return true; /* not a browser: browsers always send Origin on a WebSocket */
    if (allowed && allowed[0])
        return has_token(allowed, "*") || has_token(allowed, r->origin);
    char own[300];
    snprintf(own, sizeof(own), "%s://%s", secure ? "https" : "http", r->host);
    return r->host[0] && !strcasecmp(own, r->origin);
}

/* A Sec-WebSocket-Key is base64 of 16 bytes: 22 characters and "==". */
static bool key_valid(const char *k)
{
    if (strlen(k) != 24 || strcmp(k + 22, "=="))
        return false;
    unsigned char out[24];
    return EVP_DecodeBlock(out, (const unsigned char *)k, 24) == 18; /* 16 + the padding */
}

static void refuse(omtp_ws_decision *d, int status, const char *why)
{
    d->route = OMTP_WS_REFUSE;
    d->status = status;
    snprintf(d->why, sizeof(d->why), "%s", why);
}

void omtp_ws_req_decide(const omtp_ws_req *r, const char *allowed_origins, bool secure,
                        omtp_ws_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->head = r->method == HTTP_HEAD;
    if (r->truncated) {
        refuse(d, 431, "a request header is too long");
        return;
    }
    char path[1024];
    bool ok_path = omtp_ws_req_path(r->url, path, sizeof(path)) == 0;
    if (ok_path && omtp_ws_api_path(path)) {
        if (!origin_allowed(r, allowed_origins, secure)) {
            refuse(d, 403, "this Origin may not use the API of this listener (ws_allowed_origins)");
            return;
        }
        d->cors = r->origin[0] != 0;
        d->route = r->method == HTTP_OPTIONS ? OMTP_WS_PREFLIGHT : OMTP_WS_API;
        return;
    }
    bool ws_path = ok_path && !strcmp(path, "/ws");
    if (!ws_path) {
        if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
            refuse(d, 405, "only GET and HEAD are served here");
            return;
        }
        d->route = OMTP_WS_STATIC;
        return;
    }
    if (r->method != HTTP_GET || !has_token(r->upgrade, "websocket") ||
        !has_token(r->connection, "upgrade")) {
        refuse(d, 400,
               "/ws is the WebSocket endpoint: connect with a WebSocket client (GET with "
               "Upgrade: websocket, subprotocol omtp)");
        return;
    }
    if (strcmp(r->version, "13")) {
        refuse(d, 426, "unsupported Sec-WebSocket-Version: this server speaks version 13");
        return;
    }
    if (!key_valid(r->key)) {
        refuse(d, 400, "missing or malformed Sec-WebSocket-Key");
        return;
    }
    if (!origin_allowed(r, allowed_origins, secure)) {
        refuse(d, 403, "this Origin may not open the WebSocket (ws_allowed_origins)");
        return;
    }
    if (r->protocol[0]) {
        if (!has_token(r->protocol, "omtp")) {
            refuse(d, 400, "the WebSocket subprotocol must be omtp (Sec-WebSocket-Protocol: omtp)");
            return;
        }
        d->offered = true;
    }
    d->route = OMTP_WS_UPGRADE;
}

void omtp_ws_accept_key(const char *key, char out[32])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)buf, (size_t)n, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int omtp_ws_req_path(const char *url, char *out, size_t outlen)
{
    if (url[0] != '/' || outlen < 2)
        return -1;
    size_t o = 0;
    for (const char *s = url; *s && *s != '?' && *s != '#'; s++) {
        char ch = *s;
        if (ch == '%') {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi << 4 | lo);
            s += 2;
        }
        if (ch == 0 || ch == '\\')
            return -1;
        if (o + 1 >= outlen)
            return -1;
        out[o++] = ch;
    }
    out[o] = 0;
    /* no "." or ".." segment, no empty segment but a trailing one */
    for (const char *seg = out; seg; seg = strchr(seg + 1, '/')) {
        const char *st = seg + 1, *en = strchr(st, '/');
        size_t len = en ? (size_t)(en - st) : strlen(st);
        if ((len == 1 && st[0] == '.') || (len == 2 && st[0] == '.' && st[1] == '.'))
            return -1;
        if (len == 0 && en)
            return -1;
    }
    return 0;
}

const char *omtp_ws_status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 507:
        return "Insufficient Storage";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

uint8_t *omtp_ws_http_error(int status, const char *extra, const char *body, size_t *len)
{
    size_t blen = strlen(body);
    size_t cap = 256 + strlen(extra) + blen + 1;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    int n = snprintf(b, cap,
                     "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nX-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, omtp_ws_status_text(status), extra, blen + 1, body);
    b[n++] = '\n';
    *len = (size_t)n;
    return (uint8_t *)b;
}
