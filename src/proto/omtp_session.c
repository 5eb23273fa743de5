/*
 * omtp_session.c - the id alphabet and session id spelling (see omtp_session.h).
 */
#include "omtp_session.h"

#include <stdio.h>
#include <string.h>

#include "omtp_errors.h"

static bool id_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '@' || c == '+';
}

bool omtp_id_valid_n(const char *p, size_t n)
{
    if (!p || n == 0 || n > OMTP_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_byte_ok((unsigned char)p[i]))
            return false;
    return true;
}

bool omtp_id_valid(const char *s)
{
    return s && omtp_id_valid_n(s, strnlen(s, OMTP_ID_MAX + 1));
}

static int build(const char *prefix, const char *x, const char *y, char *out, size_t n)
{
    if (n)
        out[0] = 0;
    if (!omtp_id_valid(x) || !omtp_id_valid(y))
        return OMTP_EINVAL;
    int w = snprintf(out, n, "%s_%s_%s", prefix, x, y);
    if (w < 0 || (size_t)w >= n) {
        if (n)
            out[0] = 0;
        return OMTP_EINVAL;
    }
    return 0;
}

int omtp_session_single(const char *a, const char *b, char *out, size_t n)
{
    if (a && b && strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    return build("SC", a, b, out, n);
}

int omtp_session_biz(const char *appId, const char *userId, char *out, size_t n)
{
    return build("BM", appId, userId, out, n);
}

bool omtp_session_is_group(const char *sessionId)
{
    return sessionId && strncmp(sessionId, "GC_", 3) == 0;
}

/* "<prefix>_<x>_<y>" split at its one separator after the prefix. */
static bool split(const char *sid, const char *prefix, char x[OMTP_ID_MAX + 1],
                  char y[OMTP_ID_MAX + 1])
{
    size_t pl = strlen(prefix);
    if (!sid || strncmp(sid, prefix, pl) != 0 || sid[pl] != '_')
        return false;
    const char *rest = sid + pl + 1;
    const char *sep = strchr(rest, '_');
    if (!sep || (size_t)(sep - rest) > OMTP_ID_MAX || strlen(sep + 1) > OMTP_ID_MAX)
        return false;
    memcpy(x, rest, (size_t)(sep - rest));
    x[sep - rest] = 0;
    strcpy(y, sep + 1);
    return omtp_id_valid(x) && omtp_id_valid(y);
}

bool omtp_session_peer(const char *sessionId, const char *me, char *buf, size_t n)
{
    char x[OMTP_ID_MAX + 1], y[OMTP_ID_MAX + 1], again[OMTP_SESSION_ID_MAX];
    if (!me || !split(sessionId, "SC", x, y))
        return false;
    const char *peer = strcmp(x, me) == 0 ? y : strcmp(y, me) == 0 ? x : NULL;
    if (!peer || omtp_session_single(me, peer, again, sizeof again) != 0 ||
        strcmp(again, sessionId) != 0)
        return false;
    if (n)
        snprintf(buf, n, "%s", peer);
    return true;
}

bool omtp_session_names(const char *sessionId, const char *userId)
{
    char x[OMTP_ID_MAX + 1], y[OMTP_ID_MAX + 1];
    if (omtp_session_peer(sessionId, userId, x, sizeof x))
        return true;
    return split(sessionId, "BM", x, y) && strcmp(y, userId) == 0;
}
