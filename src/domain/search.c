/*
 * search.c - the search operation (domain/search.h): the request checks,
 * the access check and the store's search in one work item.
 */
#include "domain/search.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "domain/msg.h"
#include "proto/omtp_limits.h"
#include "util/log.h"

#define SEARCH_DEFAULT 20

typedef struct search_job {
    omtp_server *srv;
    omtp_dom_search_done cb;
    void *arg;
    bool api;
    char user[OMTP_ID_MAX + 1];
    char sid[2 * OMTP_ID_MAX + 8];
    char query[OMTP_LIMIT_SEARCH_QUERY + 1];
    int64_t before;
    int count;
    omtp_dom_outcome res;
    omtp_msg_rec_list out;
} search_job;

/* Characters of valid UTF-8 s[0..n), or -1 if it is not (overlongs,
 * surrogates and code points past U+10FFFF included). */
static long utf8_chars(const unsigned char *s, size_t n)
{
    long chars = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            len = 1;
            cp = c;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + len > n)
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        i += len;
        chars++;
    }
    return chars;
}

int omtp_dom_search_check(const omtp_dom_search_req *q, char *why, size_t whylen)
{
    if (!q->query || q->queryLen == 0) {
        snprintf(why, whylen, "the search query is empty; give at least %d characters",
                 OMTP_SEARCH_QUERY_MIN_CHARS);
        return OMTP_EC_PARAM;
    }
    if (q->queryLen > OMTP_LIMIT_SEARCH_QUERY) {
        snprintf(why, whylen, "the search query is %zu bytes; at most %d are allowed", q->queryLen,
                 OMTP_LIMIT_SEARCH_QUERY);
        return OMTP_EC_PARAM;
    }
    if (memchr(q->query, '\0', q->queryLen)) {
        snprintf(why, whylen, "the search query contains a NUL byte");
        return OMTP_EC_PARAM;
    }
    long chars = utf8_chars((const unsigned char *)q->query, q->queryLen);
    if (chars < 0) {
        snprintf(why, whylen, "the search query is not valid UTF-8");
        return OMTP_EC_PARAM;
    }
    if (chars < OMTP_SEARCH_QUERY_MIN_CHARS) {
        snprintf(why, whylen, "query too short: a search needs at least %d characters",
                 OMTP_SEARCH_QUERY_MIN_CHARS);
        return OMTP_EC_PARAM;
    }
    if (q->count < 0 || q->count > OMTP_SEARCH_COUNT_MAX) {
        snprintf(why, whylen, "count %d is out of range: 1..%d (0 = %d)", (int)q->count,
                 OMTP_SEARCH_COUNT_MAX, SEARCH_DEFAULT);
        return OMTP_EC_PARAM;
    }
    if (q->sessionId && strlen(q->sessionId) >= 2 * OMTP_ID_MAX + 8) {
        snprintf(why, whylen, "sessionId is too long");
        return OMTP_EC_PARAM;
    }
    return 0;
}

static int search_work(omtp_db *db, void *arg)
{
    search_job *j = arg;
    if (j->api) {
        bool yes = false;
        int rc = omtp_db_user_exists(db, j->user, &yes);
        if (rc)
            return rc;
        if (!yes) {
            omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "unknown_user", "user %s does not exist",
                            j->user);
            return 0;
        }
    }
    if (j->sid[0]) {
        bool allowed = false;
        int rc = omtp_chat_session_access(db, j->user, j->sid, &allowed);
        if (rc)
            return rc;
        if (!allowed) {
            omtp_dom_refuse(&j->res, OMTP_EC_HISTORYMSG_DENY, "no_privilege",
                            "%s is not part of session '%s'", j->user, j->sid);
            return 0;
        }
    }
    return omtp_db_msg_search(db, j->user, j->sid, j->query, j->before, j->count, &j->out);
}

static void search_end(search_job *j)
{
    j->cb(j->arg, &j->res, &j->out);
    omtp_msg_rec_list_free(&j->out);
    free(j);
}

static void search_done(void *arg, int status)
{
    search_job *j = arg;
    if (!j->res.code && status < 0) {
        if (status != OMTP_ENOSPC)
            LOG_ERROR("search by %s failed: %s", j->user, omtp_strerror(status));
        omtp_dom_refuse(&j->res, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
                        omtp_strerror(status));
        j->res.err = status;
        omtp_msg_rec_list_free(&j->out);
    }
    search_end(j);
}

void omtp_dom_search(omtp_server *s, const omtp_dom_caller *who, const omtp_dom_search_req *q,
                     omtp_dom_search_done cb, void *arg)
{
    search_job *j = calloc(1, sizeof(*j));
    if (!j) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        omtp_msg_rec_list out;
        memset(&out, 0, sizeof(out));
        cb(arg, &res, &out);
        return;
    }
    j->srv = s;
    j->cb = cb;
    j->arg = arg;
    j->api = who->role != OMTP_DOM_USER;
    const char *user = j->api ? q->asUser : who->user;
    int code = omtp_dom_search_check(q, j->res.desc, sizeof(j->res.desc));
    if (code) {
        j->res.code = code;
        j->res.reason = "invalid_field";
        search_end(j);
        return;
    }
    if (!user || !user[0] || strlen(user) > OMTP_ID_MAX) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "unknown_user",
                        "a search needs the user it searches as");
        search_end(j);
        return;
    }
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->sid, sizeof(j->sid), "%s", q->sessionId ? q->sessionId : "");
    memcpy(j->query, q->query, q->queryLen);
    j->query[q->queryLen] = '\0';
    j->before = q->beforeMs;
    j->count = q->count ? q->count : SEARCH_DEFAULT;
    int rc = omtp_dom_run(s, who, search_work, search_done, j);
    if (rc) {
        omtp_dom_refuse(&j->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        j->res.err = rc;
        search_end(j);
    }
}
