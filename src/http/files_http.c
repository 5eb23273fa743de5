/*
 * files_http.c - the HTTP look of the file endpoints (files_http.h).
 */
#include "files_http.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

int omtp_files_http_bearer(const uint8_t secret[32], const char *authorization, char *user,
                           size_t userlen, char *why, size_t whylen)
{
    const char *a = authorization ? authorization : "";
    user[0] = 0;
    if (!a[0]) {
        snprintf(why, whylen,
                 "log in first: send Authorization: Bearer <login token> (LoginResp.extraData "
                 "fileToken, or POST /v1/users/{id}/token)");
        return -1;
    }
    if (strncasecmp(a, "Bearer ", 7)) {
        snprintf(why, whylen, "the Authorization header must be: Bearer <login token>");
        return -1;
    }
    const char *tok = a + 7;
    while (*tok == ' ')
        tok++;
    bool expired = false;
    if (!http_user_token(secret, tok, user, userlen, &expired)) {
        snprintf(why, whylen, "%s",
                 expired ? "the login token expired: log in again for a fresh one"
                         : "the login token is not valid");
        return -1;
    }
    return 0;
}

static bool digits(const char *s, const char *e, uint64_t *v)
{
    if (s == e || e - s > 19)
        return false;
    uint64_t x = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return true;
}

int omtp_files_http_range(const char *range, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (!range || strncasecmp(range, "bytes=", 6) || strchr(range, ','))
        return 0;
    const char *s = range + 6;
    while (*s == ' ')
        s++;
    const char *dash = strchr(s, '-');
    if (!dash)
        return 0;
    const char *end = dash + 1 + strlen(dash + 1);
    while (end > dash + 1 && end[-1] == ' ')
        end--;
    uint64_t a = 0, b = 0;
    bool has_a = digits(s, dash, &a), has_b = digits(dash + 1, end, &b);
    if ((s != dash && !has_a) || (dash + 1 != end && !has_b) || (!has_a && !has_b))
        return 0; /* malformed: ignored, the whole file */
    if (!has_a) { /* suffix: the last b bytes */
        if (!b || !size)
            return -1;
        *len = b < size ? b : size;
        *off = size - *len;
        return 1;
    }
    if (has_b && b < a)
        return 0; /* not a valid range: ignored (RFC 9110 14.1.1) */
    if (a >= size)
        return -1;
    uint64_t last = has_b && b < size - 1 ? b : size - 1;
    *off = a;
    *len = last - a + 1;
    return 1;
}

void omtp_files_http_etag(const char *sha256, char *out, size_t outlen)
{
    snprintf(out, outlen, "\"%s\"", sha256);
}

bool omtp_files_http_inm_match(const char *inm, const char *etag)
{
    if (!inm || !inm[0])
        return false;
    if (!strcmp(inm, "*"))
        return true;
    size_t el = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        char after = p[el];
        if (!after || after == ',' || after == ' ')
            return true;
    }
    return false;
}

void omtp_files_http_disposition(const char *name, const char *mime, char *out, size_t outlen)
{
    bool inl = (!strncmp(mime, "image/", 6) && strncmp(mime, "image/svg", 9)) ||
               !strncmp(mime, "audio/", 6) || !strncmp(mime, "video/", 6);
    const char *nm = name && name[0] ? name : "file";
    char ascii[OMTP_FILE_NAME_MAX + 1], enc[3 * OMTP_FILE_NAME_MAX + 1];
    size_t a = 0, e = 0;
    for (const unsigned char *p = (const unsigned char *)nm; *p && a < sizeof(ascii) - 1; p++) {
        unsigned char ch = *p;
        /* the fallback: printable ASCII but quote and backslash */
        ascii[a++] =
            ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '%' ? (char)ch : '_';
        if (isalnum(ch) || strchr("!#$&+-.^_`|~", ch)) {
            if (e + 1 < sizeof(enc))
                enc[e++] = (char)ch;
        } else if (e + 3 < sizeof(enc)) {
            e += (size_t)snprintf(enc + e, sizeof(enc) - e, "%%%02X", ch);
        }
    }
    ascii[a] = 0;
    enc[e] = 0;
    snprintf(out, outlen, "%s; filename=\"%s\"; filename*=UTF-8''%s", inl ? "inline" : "attachment",
             ascii, enc);
}

int omtp_files_http_status(const char *reason)
{
    static const struct {
        const char *reason;
        int status;
    } map[] = {
        {"unknown_file", 404}, {"too_large", 413},     {"quota_exceeded", 413},
        {"rate_limited", 429}, {"invalid_field", 400}, {"storage_full", 507},
        {"unavailable", 503},  {"storage", 500},       {"internal", 500},
    };
    for (size_t k = 0; reason && k < sizeof(map) / sizeof(map[0]); k++)
        if (!strcmp(reason, map[k].reason))
            return map[k].status;
    return 500;
}

char *omtp_files_http_json(const omtp_dom_file *f)
{
    json_t *o =
        json_pack("{s:s, s:I, s:s, s:s, s:s}", "fileId", f->fileId, "size", (json_int_t)f->size,
                  "mime", f->mime, "sha256", f->sha256, "name", f->name);
    if (!o)
        return NULL;
    if (f->width > 0 && f->height > 0) {
        json_object_set_new(o, "width", json_integer(f->width));
        json_object_set_new(o, "height", json_integer(f->height));
    }
    if (f->thumb[0])
        json_object_set_new(o, "thumbId", json_string(f->thumb));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

bool omtp_files_http_query(const char *query, const char *key, char *out, size_t outlen,
                           size_t *len)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) >= kl && !strncmp(p, key, kl) && (p[kl] == '=' || p + kl == end)) {
            const char *v = p + kl + (p[kl] == '=' ? 1 : 0);
            size_t o = 0;
            for (; v < end; v++) {
                char ch = *v;
                if (ch == '+')
                    ch = ' ';
                else if (ch == '%') {
                    int hi = v + 1 < end ? hexv(v[1]) : -1, lo = v + 2 < end ? hexv(v[2]) : -1;
                    if (hi < 0 || lo < 0) {
                        if (len)
                            *len = SIZE_MAX; /* there, but malformed */
                        return false;
                    }
                    ch = (char)(hi << 4 | lo);
                    v += 2;
                }
                if (o + 1 >= outlen) {
                    if (len)
                        *len = SIZE_MAX; /* there, but longer than out */
                    return false;
                }
                out[o++] = ch;
            }
            out[o] = 0;
            if (len)
                *len = o;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

const char *omtp_files_http_thumb_mime(const unsigned char *head, size_t n)
{
    return n >= 2 && head[0] == 0x89 && head[1] == 'P' ? "image/png" : "image/jpeg";
}
