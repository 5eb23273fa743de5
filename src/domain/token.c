/*
 * token.c - omtp_dom_token_issue (domain/token.h).
 */
#include "domain/token.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/server.h"
#include "proto/omtp_session.h"

#include <openssl/crypto.h>

typedef struct top {
    omtp_server *srv;
    omtp_dom_token_done cb;
    void *arg;
    int64_t ttl;
    bool missing; /* store: no such user */
    omtp_dom_outcome res;
    omtp_dom_token_out out;
} top;

static int exists_work(omtp_db *db, void *arg)
{
    top *t = arg;
    omtp_user_rec u;
    omtp_user_rec_init(&u);
    int rc = omtp_db_user_get(db, t->out.userId, &u);
    omtp_user_rec_free(&u);
    if (rc == OMTP_ENOTFOUND) {
        t->missing = true;
        return 0;
    }
    return rc;
}

static void exists_done(void *arg, int status)
{
    top *t = arg;
    if (t->missing) {
        omtp_dom_refuse(&t->res, OMTP_EC_PARAM, "unknown_user", "no such user: %s", t->out.userId);
    } else if (status < 0) {
        omtp_dom_refuse(&t->res, OMTP_EC_DB_ERROR, "storage", "storage failed, try again");
        t->res.err = status;
    } else {
        t->out.expiresAt = (int64_t)time(NULL) + t->ttl;
        if (omtp_auth_token_issue(t->srv->token_secret, t->out.userId, t->out.expiresAt,
                                  t->out.token, sizeof(t->out.token)) != 0)
            omtp_dom_refuse(&t->res, OMTP_EC_SERVER_EXCEPTION, "internal", "cannot issue a token");
    }
    t->cb(t->arg, &t->res, &t->out);
    OPENSSL_cleanse(t->out.token, sizeof(t->out.token));
    free(t);
}

void omtp_dom_token_issue(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          int64_t ttl, omtp_dom_token_done cb, void *arg)
{
    top *t = calloc(1, sizeof(*t));
    if (!t) {
        omtp_dom_outcome res = {0};
        omtp_dom_token_out out = {0};
        omtp_dom_refuse(&res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        cb(arg, &res, &out);
        return;
    }
    t->srv = s;
    t->cb = cb;
    t->arg = arg;
    t->ttl = ttl ? ttl : OMTP_DOM_TOKEN_TTL_DEFAULT;
    snprintf(t->out.userId, sizeof(t->out.userId), "%s", userId ? userId : "");
    if (!omtp_dom_is_admin(who))
        omtp_dom_refuse(&t->res, OMTP_EC_PARAM, "no_privilege",
                        "tokens are issued by the administrator (HTTP API or omtpd token issue)");
    else if (!userId || !omtp_id_valid(userId))
        omtp_dom_refuse(&t->res, OMTP_EC_PARAM, "invalid_id",
                        "'%s' is not a valid user id: user ids are " OMTP_ID_RULE,
                        userId ? userId : "");
    else if (t->ttl > OMTP_DOM_TOKEN_TTL_MAX ||
             (t->ttl < 1 && (who->role != OMTP_DOM_ADMIN || t->ttl < -OMTP_DOM_TOKEN_TTL_MAX)))
        omtp_dom_refuse(&t->res, OMTP_EC_PARAM, "invalid_field",
                        "the token lifetime (ttl) must be 1..%d seconds (366 days), not %lld",
                        OMTP_DOM_TOKEN_TTL_MAX, (long long)ttl);
    if (!t->res.code) {
        int rc = omtp_dom_run(s, who, exists_work, exists_done, t);
        if (rc == 0)
            return;
        omtp_dom_refuse(&t->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        t->res.err = rc;
    }
    t->cb(t->arg, &t->res, &t->out);
    free(t);
}
