/*
 * user.c - the user account operations (domain/user.h).
 */
#include "domain/user.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "domain/check_cache.h"
#include "util/thread_prio.h"
#include "domain/credentials.h"
#include "proto/omtp_packet.h"
#include "proto/omtp_session.h"

enum { UOP_CREATE, UOP_GET, UOP_UPDATE, UOP_DELETE, UOP_PASSWORD, UOP_ROLE };

typedef struct uop {
    int kind;
    omtp_server *srv;
    omtp_dom_caller who;
    omtp_dom_user_done cb;
    void *arg;
    char *password; /* create/password: to hash (wiped) */
    char pwHash[OMTP_PWHASH_MAX];
    int hash_rc;
    uv_work_t hash;
    int role;
    bool has_name, has_avatar, has_mobile, has_birthday;
    omtp_user_rec in; /* create: the new user; update: the given fields */
    omtp_dom_outcome res;
    omtp_dom_user_out out;
} uop;

static void uop_end(uop *u)
{
    u->cb(u->arg, &u->res, &u->out);
    if (u->password) {
        memset(u->password, 0, strlen(u->password));
        free(u->password);
    }
    memset(u->pwHash, 0, sizeof(u->pwHash));
    omtp_user_rec_free(&u->in);
    omtp_user_rec_free(&u->out.user);
    free(u);
}

/* ----------------------------------------------------- store work */

static int get_into(omtp_db *db, uop *u)
{
    omtp_user_rec_free(&u->out.user);
    omtp_user_rec_init(&u->out.user);
    return omtp_db_user_get(db, u->out.userId, &u->out.user);
}

static int update_work(omtp_db *db, uop *u)
{
    omtp_user_rec cur;
    omtp_user_rec_init(&cur);
    int rc = omtp_db_user_get(db, u->out.userId, &cur);
    if (rc == 0) { /* merge the given fields into the current profile */
        if (u->has_name)
            rc |= tars_str_set(&cur.info.name, u->in.info.name.data);
        if (u->has_avatar)
            rc |= tars_str_set(&cur.info.avator, u->in.info.avator.data);
        if (u->has_mobile)
            rc |= tars_str_set(&cur.info.mobile, u->in.info.mobile.data);
        if (u->has_birthday)
            cur.info.birthday = u->in.info.birthday;
        rc |= tars_str_set(&cur.info.userId, u->out.userId);
        if (rc == 0)
            rc = omtp_db_user_info_update(db, &cur.info);
    }
    omtp_user_rec_free(&cur);
    return rc ? rc : get_into(db, u);
}

static int uop_work(omtp_db *db, void *arg)
{
    uop *u = arg;
    int rc;
    switch (u->kind) {
    case UOP_CREATE:
        rc = omtp_db_user_create(db, &u->in);
        return rc ? rc : get_into(db, u);
    case UOP_GET:
        return get_into(db, u);
    case UOP_UPDATE:
        return update_work(db, u);
    case UOP_DELETE:
        return omtp_db_user_delete(db, u->out.userId);
    case UOP_PASSWORD:
        return omtp_db_user_set_password(db, u->out.userId, u->pwHash);
    default:
        return omtp_db_user_set_role(db, u->out.userId, u->role);
    }
}

/* ----------------------------------------------------- completion */

/* API only: close the deleted user's online devices (collect first:
 * closing may unlink them). */
static int close_devices(omtp_server *s, const char *userId)
{
    omtp_conn *conns[64];
    int n = 0, closed = 0;
    do {
        n = 0;
        for (omtp_conn *k = omtp_presence_first(s, userId); k && n < 64; k = k->next_device) {
            if (omtp_conn_is_open(k)) {
                omtp_conn_ref(k);
                conns[n++] = k;
            }
        }
        for (int i = 0; i < n; i++) {
            omtp_conn_close(conns[i], "user deleted through the HTTP API");
            omtp_conn_unref(conns[i]);
        }
        closed += n;
    } while (n == 64);
    return closed;
}

/* The send checks' caches (check_cache.h) forget what a create or delete
 * changes: when it is submitted and again when it completed. The CLI has
 * no server state (another process: check_cache_user_ttl_ms bounds it). */
static void uop_invalidate(uop *u)
{
    if (u->who.role == OMTP_DOM_ADMIN)
        return;
    if (u->kind == UOP_CREATE || u->kind == UOP_DELETE)
        omtp_cc_invalidate_user(u->srv, u->out.userId);
}

static void uop_done(void *arg, int status)
{
    uop *u = arg;
    bool loop = u->who.role != OMTP_DOM_ADMIN;
    uop_invalidate(u);
    if (status == OMTP_ENOTFOUND) {
        omtp_dom_refuse(&u->res, OMTP_EC_PARAM, "unknown_user", "no such user: %s", u->out.userId);
    } else if (status == OMTP_EEXIST) {
        omtp_dom_refuse(&u->res, OMTP_EC_PARAM, "user_exists", "the user %s already exists",
                        u->out.userId);
    } else if (status < 0) {
        omtp_dom_refuse(&u->res, OMTP_EC_DB_ERROR, "storage", "storage failed: %s",
                        omtp_strerror(status));
        u->res.err = status;
    } else if (u->kind == UOP_DELETE && loop) {
        u->out.devicesClosed = close_devices(u->srv, u->out.userId);
    } else if (u->kind == UOP_ROLE && loop) {
        for (omtp_conn *k = omtp_presence_first(u->srv, u->out.userId); k; k = k->next_device)
            k->monitor_role = u->role == OMTP_ROLE_MONITOR;
    }
    u->out.passwordLogin = u->pwHash[0] != '\0';
    u->out.role = u->role;
    uop_end(u);
}

static void uop_submit(uop *u)
{
    uop_invalidate(u);
    int rc = omtp_dom_run(u->srv, &u->who, uop_work, uop_done, u);
    if (rc) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        u->res.err = rc;
        uop_end(u);
    }
}

static void hash_work(uv_work_t *w)
{
    uop *u = w->data;
    if (u->who.role != OMTP_DOM_ADMIN) /* on libuv's threadpool; the CLI hashes at once */
        omtp_thread_background();
    u->hash_rc = omtp_auth_hash_password(u->password, u->pwHash, sizeof(u->pwHash));
}

static void hashed(uv_work_t *w, int status)
{
    uop *u = w->data;
    if (status < 0 || u->hash_rc < 0) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal", "password hashing failed");
        uop_end(u);
        return;
    }
    if (u->kind == UOP_CREATE && tars_str_set(&u->in.pwHash, u->pwHash)) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        uop_end(u);
        return;
    }
    uop_submit(u);
}

/* Hashes u->password (if any: "" disables password login), then submits:
 * on the thread pool with a loop, at once for the CLI. */
static void hash_then_submit(uop *u)
{
    u->hash.data = u;
    if (!u->password || !u->password[0]) {
        u->pwHash[0] = '\0';
        hashed(&u->hash, 0);
    } else if (u->who.role == OMTP_DOM_ADMIN) {
        hash_work(&u->hash);
        hashed(&u->hash, 0);
    } else if (uv_queue_work(u->srv->loop, &u->hash, hash_work, hashed) < 0) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal",
                        "cannot queue password hashing");
        uop_end(u);
    }
}

/* ----------------------------------------------------- operations */

/* The common start: allocation, who may, a valid id. NULL after answering. */
static uop *uop_begin(omtp_server *s, const omtp_dom_caller *who, int kind, const char *userId,
                      omtp_dom_user_done cb, void *arg)
{
    uop *u = calloc(1, sizeof(*u));
    if (!u) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        omtp_dom_user_out out;
        memset(&out, 0, sizeof(out));
        cb(arg, &res, &out);
        return NULL;
    }
    u->kind = kind;
    u->srv = s;
    u->who = *who;
    u->who.user = NULL; /* not kept: no user-role operation here */
    u->who.conn = NULL;
    u->cb = cb;
    u->arg = arg;
    omtp_user_rec_init(&u->in);
    omtp_user_rec_init(&u->out.user);
    snprintf(u->out.userId, sizeof(u->out.userId), "%s", userId ? userId : "");
    if (!omtp_dom_is_admin(who)) {
        omtp_dom_refuse(&u->res, OMTP_EC_MSG_FORBIDDEN, "no_privilege",
                        "user accounts are managed by the administrator (HTTP API or omtpd user)");
    } else if (!userId || !omtp_id_valid(userId)) {
        omtp_dom_refuse(&u->res, OMTP_EC_PARAM, "invalid_field",
                        "'%s' is not a valid user id: user ids are " OMTP_ID_RULE,
                        userId ? userId : "");
    } else if (who->role == OMTP_DOM_ADMIN && !who->db) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal",
                        "the admin CLI gives its store");
    }
    if (u->res.code) {
        uop_end(u);
        return NULL;
    }
    return u;
}

static bool take_profile(uop *u, const omtp_dom_profile *p, const char *default_name)
{
    u->has_name = p && p->name;
    u->has_avatar = p && p->avatar;
    u->has_mobile = p && p->mobile;
    u->has_birthday = p && p->has_birthday;
    const char *name = u->has_name ? p->name : default_name;
    int rc = tars_str_set(&u->in.info.name, name ? name : "");
    rc |= tars_str_set(&u->in.info.avator, u->has_avatar ? p->avatar : "");
    rc |= tars_str_set(&u->in.info.mobile, u->has_mobile ? p->mobile : "");
    u->in.info.birthday = u->has_birthday ? p->birthday : 0;
    if (rc) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        uop_end(u);
        return false;
    }
    return true;
}

static bool take_password(uop *u, const char *password)
{
    if (!(u->password = strdup(password ? password : ""))) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        uop_end(u);
        return false;
    }
    return true;
}

static bool role_ok(uop *u, int role)
{
    if (role != OMTP_ROLE_USER && role != OMTP_ROLE_MONITOR) {
        omtp_dom_refuse(&u->res, OMTP_EC_PARAM, "invalid_field", "role %d: use user or monitor",
                        role);
        uop_end(u);
        return false;
    }
    u->role = role;
    return true;
}

void omtp_dom_user_create(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          const char *password, int role, const omtp_dom_profile *p,
                          omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_CREATE, userId, cb, arg);
    if (!u || !role_ok(u, role) || !take_profile(u, p, "") || !take_password(u, password))
        return;
    u->in.role = role;
    u->in.createdMs = omtp_now_ms();
    if (tars_str_set(&u->in.userId, userId) || tars_str_set(&u->in.info.userId, userId)) {
        omtp_dom_refuse(&u->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        uop_end(u);
        return;
    }
    hash_then_submit(u);
}

void omtp_dom_user_get(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                       omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_GET, userId, cb, arg);
    if (u)
        uop_submit(u);
}

void omtp_dom_user_update(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          const omtp_dom_profile *p, omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_UPDATE, userId, cb, arg);
    if (!u || !take_profile(u, p, NULL))
        return;
    if (!u->has_name && !u->has_avatar && !u->has_mobile && !u->has_birthday) {
        omtp_dom_refuse(&u->res, OMTP_EC_PARAM, "missing_field",
                        "give at least one of \"name\", \"avatar\", \"mobile\", \"birthday\"");
        uop_end(u);
        return;
    }
    uop_submit(u);
}

void omtp_dom_user_delete(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_DELETE, userId, cb, arg);
    if (u)
        uop_submit(u);
}

void omtp_dom_user_password(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                            const char *password, omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_PASSWORD, userId, cb, arg);
    if (u && take_password(u, password))
        hash_then_submit(u);
}

void omtp_dom_user_role(omtp_server *s, const omtp_dom_caller *who, const char *userId, int role,
                        omtp_dom_user_done cb, void *arg)
{
    uop *u = uop_begin(s, who, UOP_ROLE, userId, cb, arg);
    if (u && role_ok(u, role))
        uop_submit(u);
}
