/*
 * browse.c - the backend's read operations (domain/browse.h): history of a
 * session, the paged user list, a user's hot sessions. Each is one store
 * work item: the existence/access check and the read.
 */
#include "domain/browse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "domain/msg.h"
#include "proto/omtp_session.h"
#include "util/log.h"

enum browse_kind { BROWSE_HISTORY, BROWSE_USERS, BROWSE_HOT };

typedef struct browse_job {
    int kind;
    bool api;
    omtp_dom_history_done history_cb;
    omtp_dom_users_done users_cb;
    omtp_dom_hot_done hot_cb;
    void *arg;
    char user[OMTP_ID_MAX + 1]; /* history as a user; hot: whose sessions */
    char sid[OMTP_SESSION_ID_MAX];
    char prefix[OMTP_ID_MAX + 1];
    char after[OMTP_ID_MAX + 1];
    int64_t at; /* history: the newest seqId wanted; hot: sinceUs */
    int limit;
    omtp_dom_outcome res;
    omtp_msg_rec_list msgs;
    omtp_user_rec_list users;
    omtp_hot_rec_list hot;
} browse_job;

bool omtp_dom_session_id_valid(const char *sid)
{
    if (!sid)
        return false;
    size_t n = strlen(sid);
    if (n > 3 && !strncmp(sid, "GC_", 3)) {
        if (n - 3 > OMTP_ID_MAX)
            return false;
        for (const unsigned char *p = (const unsigned char *)sid; *p; p++)
            if (*p < 0x20 || *p == 0x7f || *p == '/')
                return false;
        return true;
    }
    if (n < 3 || (strncmp(sid, "SC_", 3) && strncmp(sid, "BM_", 3)))
        return false;
    const char *a = sid + 3, *sep = strchr(a, '_');
    return sep && omtp_id_valid_n(a, (size_t)(sep - a)) && omtp_id_valid(sep + 1);
}

/* Calls the caller back with the outcome and the output. */
static void browse_call(browse_job *j)
{
    switch (j->kind) {
    case BROWSE_HISTORY:
        j->history_cb(j->arg, &j->res, &j->msgs);
        break;
    case BROWSE_USERS:
        j->users_cb(j->arg, &j->res, &j->users);
        break;
    default:
        j->hot_cb(j->arg, &j->res, &j->hot);
        break;
    }
}

static void browse_end(browse_job *j)
{
    browse_call(j);
    omtp_msg_rec_list_free(&j->msgs);
    omtp_user_rec_list_free(&j->users);
    omtp_hot_rec_list_free(&j->hot);
    free(j);
}

static int history_work(omtp_db *db, browse_job *j)
{
    int64_t last = 0;
    int rc = omtp_db_session_last_seq(db, j->sid, &last);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && last <= 0)) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "unknown_session", "session '%s' holds no message",
                        j->sid);
        return 0;
    }
    if (rc)
        return rc;
    if (!j->api) {
        bool allowed = false;
        if ((rc = omtp_chat_session_access(db, j->user, j->sid, &allowed)) != 0)
            return rc;
        if (!allowed) {
            omtp_dom_refuse(&j->res, OMTP_EC_HISTORYMSG_DENY, "no_privilege",
                            "%s is not part of session '%s'", j->user, j->sid);
            return 0;
        }
    }
    if (j->at == 0) /* before=1: nothing is older */
        return 0;
    rc = omtp_db_msg_history(db, j->sid, j->at < 0 ? 0 : j->at, j->limit, &j->msgs);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static int hot_work(omtp_db *db, browse_job *j)
{
    bool yes = false;
    int rc = omtp_db_user_exists(db, j->user, &yes);
    if (rc)
        return rc;
    if (!yes) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "unknown_user", "user %s does not exist", j->user);
        return 0;
    }
    return omtp_db_hot_sessions(db, j->user, j->at, j->limit, &j->hot);
}

static int browse_work(omtp_db *db, void *arg)
{
    browse_job *j = arg;
    switch (j->kind) {
    case BROWSE_HISTORY:
        return history_work(db, j);
    case BROWSE_USERS:
        return omtp_db_user_page(db, j->prefix, j->after, j->limit, &j->users);
    default:
        return hot_work(db, j);
    }
}

static void browse_done(void *arg, int status)
{
    browse_job *j = arg;
    if (!j->res.code && status < 0) {
        if (status != OMTP_ENOSPC)
            LOG_ERROR("reading %s failed: %s",
                      j->kind == BROWSE_HISTORY ? j->sid
                      : j->kind == BROWSE_USERS ? "the user list"
                                                : j->user,
                      omtp_strerror(status));
        omtp_dom_refuse(&j->res, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
                        omtp_strerror(status));
        j->res.err = status;
    }
    if (j->res.code) { /* nothing half-read reaches the caller */
        omtp_msg_rec_list_free(&j->msgs);
        omtp_user_rec_list_free(&j->users);
        omtp_hot_rec_list_free(&j->hot);
    }
    browse_end(j);
}

/* A copy of proto on the heap, or NULL after answering "out of memory". */
static browse_job *job_new(const browse_job *proto, const omtp_dom_caller *who)
{
    browse_job *j = malloc(sizeof(*j));
    if (j) {
        *j = *proto;
        j->api = omtp_dom_is_admin(who);
        return j;
    }
    browse_job tmp = *proto;
    omtp_dom_refuse(&tmp.res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
    browse_call(&tmp);
    return NULL;
}

/* Checks limit against [0, max] (0 = def) into j->limit; false after refusing. */
static bool take_limit(browse_job *j, int limit, int def, int max)
{
    if (limit < 0 || limit > max) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "invalid_field", "limit %d is out of range: 1..%d",
                        limit, max);
        browse_end(j);
        return false;
    }
    j->limit = limit ? limit : def;
    return true;
}

static void start(omtp_server *s, const omtp_dom_caller *who, browse_job *j)
{
    int rc = omtp_dom_run(s, who, browse_work, browse_done, j);
    if (rc) {
        omtp_dom_refuse(&j->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        j->res.err = rc;
        browse_end(j);
    }
}

void omtp_dom_history(omtp_server *s, const omtp_dom_caller *who, const char *sessionId,
                      int64_t beforeSeq, int limit, omtp_dom_history_done cb, void *arg)
{
    browse_job proto = {.kind = BROWSE_HISTORY, .history_cb = cb, .arg = arg};
    browse_job *j = job_new(&proto, who);
    if (!j || !take_limit(j, limit, OMTP_DOM_HISTORY_DEFAULT, OMTP_DOM_HISTORY_MAX))
        return;
    if (!omtp_dom_session_id_valid(sessionId)) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "invalid_id",
                        "not a session id: SC_<user>_<user>, BM_<app>_<user> or GC_<group>");
        browse_end(j);
        return;
    }
    if (!j->api && (!who->user || strlen(who->user) > OMTP_ID_MAX)) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "no_privilege",
                        "reading history needs a logged-in user");
        browse_end(j);
        return;
    }
    snprintf(j->sid, sizeof(j->sid), "%s", sessionId);
    snprintf(j->user, sizeof(j->user), "%s", j->api ? "" : who->user);
    j->at = beforeSeq <= 0 ? -1 : beforeSeq - 1;
    start(s, who, j);
}

void omtp_dom_users_page(omtp_server *s, const omtp_dom_caller *who, const char *prefix,
                         const char *after, int limit, omtp_dom_users_done cb, void *arg)
{
    browse_job proto = {.kind = BROWSE_USERS, .users_cb = cb, .arg = arg};
    browse_job *j = job_new(&proto, who);
    if (!j || !take_limit(j, limit, OMTP_DOM_USERS_DEFAULT, OMTP_DOM_USERS_MAX))
        return;
    if (!j->api) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "no_privilege", "only the backend lists users");
        browse_end(j);
        return;
    }
    if ((prefix && *prefix && !omtp_id_valid(prefix)) ||
        (after && *after && !omtp_id_valid(after))) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "invalid_field",
                        "prefix and after must be empty or made of " OMTP_ID_RULE);
        browse_end(j);
        return;
    }
    snprintf(j->prefix, sizeof(j->prefix), "%s", prefix ? prefix : "");
    snprintf(j->after, sizeof(j->after), "%s", after ? after : "");
    start(s, who, j);
}

void omtp_dom_user_sessions(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                            int64_t sinceUs, int limit, omtp_dom_hot_done cb, void *arg)
{
    browse_job proto = {.kind = BROWSE_HOT, .hot_cb = cb, .arg = arg};
    browse_job *j = job_new(&proto, who);
    if (!j || !take_limit(j, limit, OMTP_DOM_HOT_DEFAULT, OMTP_DOM_HOT_MAX))
        return;
    if (!j->api) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "no_privilege",
                        "only the backend reads another user's sessions");
        browse_end(j);
        return;
    }
    if (!omtp_id_valid(userId)) {
        omtp_dom_refuse(&j->res, OMTP_EC_PARAM, "invalid_id", "userId: " OMTP_ID_RULE);
        browse_end(j);
        return;
    }
    snprintf(j->user, sizeof(j->user), "%s", userId);
    j->at = sinceUs < 0 ? 0 : sinceUs;
    start(s, who, j);
}
