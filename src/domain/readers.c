/*
 * readers.c - group read receipts from the stored read cursors
 * (domain/readers.h).
 *
 * Threading: loop thread; the work item on the store thread.
 */
#include "domain/readers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rop {
    omtp_server *srv;
    omtp_dom_readers_done cb;
    void *arg;
    char userId[OMTP_ID_MAX + 1];
    char sessionId[OMTP_SESSION_ID_MAX + 1];
    int64_t seqId;
    tars_str_list read, unread;
    omtp_dom_outcome res;
} rop;

static void rop_end(rop *o)
{
    o->cb(o->arg, &o->res, &o->read, &o->unread);
    omtp_str_list_free(&o->read);
    omtp_str_list_free(&o->unread);
    free(o);
}

/* store thread */
static int rop_work(omtp_db *db, void *arg)
{
    rop *o = arg;
    bool member = false;
    int rc = omtp_db_session_member(db, o->userId, o->sessionId, &member);
    if (rc)
        return rc;
    if (!member) {
        omtp_dom_refuse(&o->res, OMTP_EC_MSG_FORBIDDEN, "not_member",
                        "you are not a member of session %s", o->sessionId);
        return 0;
    }
    if (omtp_session_is_group(o->sessionId)) {
        int count = 0;
        rc = omtp_db_group_member_count(db, o->sessionId, &count);
        if (rc == OMTP_ENOTFOUND) {
            omtp_dom_refuse(&o->res, OMTP_EC_MSG_FORBIDDEN, "unknown_group",
                            "group %s does not exist", o->sessionId);
            return 0;
        }
        if (rc)
            return rc;
        if (count > OMTP_READERS_MAX_MEMBERS) {
            omtp_dom_refuse(
                &o->res, OMTP_EC_PARAM, "member_limit",
                "group %s has %d members: read receipts are kept for groups of at most %d",
                o->sessionId, count, OMTP_READERS_MAX_MEMBERS);
            return 0;
        }
    }
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    rc = omtp_db_msg_get(db, o->sessionId, o->seqId, &m);
    if (rc == OMTP_ENOTFOUND) {
        omtp_msg_rec_free(&m);
        omtp_dom_refuse(&o->res, OMTP_EC_MSG_NOT_EXIST, "unknown_message",
                        "session %s has no message %lld", o->sessionId, (long long)o->seqId);
        return 0;
    }
    if (rc == 0)
        rc = omtp_db_session_readers(db, o->sessionId, o->seqId, m.msg.from.data, &o->read,
                                     &o->unread);
    omtp_msg_rec_free(&m);
    return rc;
}

static void rop_done(void *arg, int status)
{
    rop *o = arg;
    if (!o->res.code && status < 0) {
        omtp_dom_refuse(&o->res, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
                        omtp_strerror(status));
        o->res.err = status;
    }
    rop_end(o);
}

void omtp_dom_readers(omtp_server *s, const omtp_dom_caller *who, const char *sessionId,
                      int64_t seqId, omtp_dom_readers_done cb, void *arg)
{
    rop *o = calloc(1, sizeof(*o));
    if (!o) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        tars_str_list none = {0};
        cb(arg, &res, &none, &none);
        return;
    }
    o->srv = s;
    o->cb = cb;
    o->arg = arg;
    o->seqId = seqId;
    if (who->role != OMTP_DOM_USER || !who->user) {
        omtp_dom_refuse(&o->res, OMTP_EC_PARAM, "no_privilege",
                        "read receipts are for logged-in users");
        rop_end(o);
        return;
    }
    snprintf(o->userId, sizeof(o->userId), "%s", who->user);
    size_t len = sessionId ? strlen(sessionId) : 0;
    if (!len || len > OMTP_SESSION_ID_MAX) {
        omtp_dom_refuse(&o->res, OMTP_EC_PARAM, "invalid_field", "sessionId must be 1..%d bytes",
                        OMTP_SESSION_ID_MAX);
        rop_end(o);
        return;
    }
    memcpy(o->sessionId, sessionId, len + 1);
    if (seqId < 1) {
        omtp_dom_refuse(&o->res, OMTP_EC_PARAM, "invalid_field",
                        "seqId must be a message's seqId (>= 1), not %lld", (long long)seqId);
        rop_end(o);
        return;
    }
    int rc = omtp_store_submit(s->store, rop_work, rop_done, o);
    if (rc) {
        omtp_dom_refuse(&o->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        o->res.err = rc;
        rop_end(o);
    }
}
