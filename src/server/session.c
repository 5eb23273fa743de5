/*
 * session.c - canonical session ids (DESIGN.md rulings).
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

int omtp_session_single(const char *a, const char *b, char out[2 * OMTP_ID_MAX + 8])
{
    if (strlen(a) > OMTP_ID_MAX || strlen(b) > OMTP_ID_MAX)
        return OMTP_EINVAL;
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(out, 2 * OMTP_ID_MAX + 8, "SC_%s_%s", a, b);
    return 0;
}

int omtp_session_biz(const char *appId, const char *userId, char out[2 * OMTP_ID_MAX + 8])
{
    if (strlen(appId) > OMTP_ID_MAX || strlen(userId) > OMTP_ID_MAX)
        return OMTP_EINVAL;
    snprintf(out, 2 * OMTP_ID_MAX + 8, "BM_%s_%s", appId, userId);
    return 0;
}

bool omtp_session_has_user(const char *sessionId, const char *userId)
{
    size_t sl = strlen(sessionId), ul = strlen(userId);
    if (ul == 0)
        return false;
    if (strncmp(sessionId, "SC_", 3) == 0) {
        const char *rest = sessionId + 3;
        size_t rl = sl - 3;
        /* "<userId>_<other>" or "<other>_<userId>"; ids may contain '_', so
         * check both ends and that the other part is non-empty */
        if (rl > ul + 1 && strncmp(rest, userId, ul) == 0 && rest[ul] == '_')
            return true;
        if (rl > ul + 1 && strcmp(rest + rl - ul, userId) == 0 && rest[rl - ul - 1] == '_')
            return true;
        return false;
    }
    if (strncmp(sessionId, "BM_", 3) == 0) {
        return sl > 3 + ul + 1 && strcmp(sessionId + sl - ul, userId) == 0 &&
               sessionId[sl - ul - 1] == '_';
    }
    return false;
}
