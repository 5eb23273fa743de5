/*
 * omtp_session.c - session id helpers (see omtp_session.h).
 */
#include "omtp_session.h"

#include <stdio.h>
#include <string.h>

void omtp_session_id_single(const char *a, const char *b, char *buf, size_t n)
{
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(buf, n, "SC_%s_%s", a, b);
}

bool omtp_session_is_group(const char *session_id)
{
    return strncmp(session_id, "GC_", 3) == 0;
}

bool omtp_session_peer(const char *session_id, const char *me, char *buf, size_t n)
{
    if (strncmp(session_id, "SC_", 3) != 0)
        return false;
    const char *rest = session_id + 3;
    size_t ml = strlen(me);
    /* SC_<me>_<x> */
    if (strncmp(rest, me, ml) == 0 && rest[ml] == '_') {
        char cand[512];
        omtp_session_id_single(me, rest + ml + 1, cand, sizeof(cand));
        if (strcmp(cand, session_id) == 0) {
            snprintf(buf, n, "%s", rest + ml + 1);
            return true;
        }
    }
    /* SC_<x>_<me> */
    size_t rl = strlen(rest);
    if (rl > ml + 1 && strcmp(rest + rl - ml, me) == 0 && rest[rl - ml - 1] == '_') {
        size_t xl = rl - ml - 1;
        if (xl + 1 > n)
            xl = n - 1;
        memcpy(buf, rest, xl);
        buf[xl] = 0;
        return true;
    }
    return false;
}
