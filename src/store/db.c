/*
 * db.c - picks a storage backend from the configuration.
 *
 * A backend is one row of `backends`: a URI prefix and its open function.
 * SQLite is the default (no URI, or "sqlite:..."); a PostgreSQL backend adds
 * its row ("postgresql://", "postgres://") next to it.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "pg/pg.h"
#include "sqlite/sq.h"

typedef int (*backend_open_fn)(const omtp_store_config *cfg, omtp_db **out, char *why,
                               size_t whylen);

static const struct {
    const char *prefix;
    backend_open_fn open;
} backends[] = {
    {"sqlite:", sq_open},
    {"postgresql://", omtp_pg_open},
    {"postgres://", omtp_pg_open},
};

int omtp_db_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen)
{
    const char *uri = cfg->uri;
    *out = NULL;
    if (!uri || !uri[0])
        return sq_open(cfg, out, why, whylen);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strncmp(uri, backends[i].prefix, strlen(backends[i].prefix)) == 0)
            return backends[i].open(cfg, out, why, whylen);
    snprintf(why, whylen,
             "unsupported store URI \"%s\" (this omtpd knows: sqlite:, postgresql://, postgres://)",
             uri);
    return OMTP_EINVAL;
}

void omtp_db_close(omtp_db *db)
{
    if (db)
        db->ops->close(db);
}

/* One row of the generic batch append: the checks, then msg_append. A check
 * that fails leaves req->refused set and writes nothing. */
static int append_one(omtp_db *db, omtp_append_req *r)
{
    const omtp_MsgReq *msg = &r->m->msg;
    bool yes = false;
    int rc;
    r->refused = OMTP_APPEND_OK;
    r->status = 0;
    r->dup = false;
    r->refs_stored = false; /* msg_append stores neither: the caller does */
    if (r->checks & OMTP_APPEND_CHK_SENDER) {
        if ((rc = omtp_db_user_exists(db, msg->from.data, &yes)) != 0)
            return rc;
        if (!yes)
            return r->refused = OMTP_APPEND_NO_SENDER, 0;
    }
    if (r->checks & OMTP_APPEND_CHK_GROUP) {
        omtp_GroupChatInfo g;
        bool dismissed = false;
        omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
        rc = omtp_db_group_get(db, msg->to.data, &g, &dismissed);
        omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
        if (rc == OMTP_ENOTFOUND)
            return r->refused = OMTP_APPEND_NO_GROUP, 0;
        if (rc != 0)
            return rc;
        if (dismissed)
            return r->refused = OMTP_APPEND_DISMISSED, 0;
        if ((rc = omtp_db_group_is_member(db, msg->to.data, msg->from.data, &yes)) != 0)
            return rc;
        if (!yes)
            return r->refused = OMTP_APPEND_NOT_MEMBER, 0;
    }
    if (r->checks & OMTP_APPEND_CHK_RECIPIENT) {
        if ((rc = omtp_db_user_exists(db, msg->to.data, &yes)) != 0)
            return rc;
        if (!yes)
            return r->refused = OMTP_APPEND_NO_RECIPIENT, 0;
    }
    if (r->checks & OMTP_APPEND_CHK_FRIENDS) {
        if ((rc = omtp_db_friend_is(db, msg->from.data, msg->to.data, &yes)) != 0)
            return rc;
        if (!yes)
            return r->refused = OMTP_APPEND_NOT_FRIENDS, 0;
    }
    rc = omtp_db_msg_append(db, r->m, &r->dup);
    if (rc == OMTP_EINVAL) {
        r->status = rc; /* a refusal of this row: nothing written */
        return 0;
    }
    return rc;
}

int omtp_db_msg_append_batch(omtp_db *db, omtp_append_req *const *reqs, size_t n)
{
    if (db->ops->msg_append_batch)
        return db->ops->msg_append_batch(db, reqs, n);
    /* the generic loop: each row as the single ops would do it. A failure of
     * a row's op is that row's status (SQLite does not abort the transaction
     * on a failed statement, and every op is atomic on its own). */
    for (size_t i = 0; i < n; i++) {
        int rc = append_one(db, reqs[i]);
        if (rc != 0)
            reqs[i]->status = rc;
    }
    return 0;
}
