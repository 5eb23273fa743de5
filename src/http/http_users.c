/*
 * http_users.c - /v1/users: create, read, profile update, password, delete,
 * login token, role. Loop thread.
 *
 * Password hashing (scrypt, ~40 ms) runs on libuv's thread pool
 * (uv_queue_work), never on the loop or the store thread; the store write
 * follows. Deleting a user closes its online connections; a role change
 * updates the monitor flag of its online connections at once.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "omtp/auth.h"
#include "proto/omtp_packet.h"

#define HTTP_MAX_PASSWORD  OMTP_LIMIT_PASSWORD /* proto/omtp_limits.h */
#define HTTP_TOKEN_TTL_DEF (7 * 24 * 3600)
#define HTTP_TOKEN_TTL_MAX (366 * 24 * 3600)

typedef struct user_ctx {
    http_req *r;
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1]; /* the user concerned (path or body) */
    uv_work_t work;
    omtp_user_rec u; /* create: the new user; others: read back */
    char *password;  /* to hash (create, password) */
    char pwHash[OMTP_PWHASH_MAX];
    int hash_rc;
    /* profile update: which fields were given */
    bool has_name, has_avatar, has_mobile, has_birthday;
    int role;
    int64_t ttl;
    void (*reply)(struct user_ctx *c); /* answers once the store work succeeded */
} user_ctx;

static user_ctx *ctx_new(http_req *r)
{
    user_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        http_reply_error(r, 500, "internal", "out of memory");
        return NULL;
    }
    c->r = r;
    c->srv = r->srv;
    snprintf(c->userId, sizeof(c->userId), "%s", r->param[0]);
    omtp_user_rec_init(&c->u);
    return c;
}

static void ctx_free(user_ctx *c)
{
    omtp_user_rec_free(&c->u);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    memset(c->pwHash, 0, sizeof(c->pwHash));
    free(c);
}

static const char *role_name(int role)
{
    return role == OMTP_ROLE_MONITOR ? "monitor" : "user";
}

/* Reads "role": "user"/"monitor" (or 0/1). */
static bool get_role(http_req *r, bool required, int *role)
{
    json_t *v = r->json ? json_object_get(r->json, "role") : NULL;
    *role = OMTP_ROLE_USER;
    if (!v) {
        if (required)
            http_reply_error(r, 400, "missing_field", "the field \"role\" is required");
        return !required;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "monitor") == 0)
        *role = OMTP_ROLE_MONITOR;
    else if (json_is_string(v) && strcmp(json_string_value(v), "user") == 0)
        *role = OMTP_ROLE_USER;
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        *role = (int)json_integer_value(v);
    else {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"role\" must be \"user\" or \"monitor\"");
        return false;
    }
    return true;
}

static json_t *user_json(const omtp_user_rec *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:b,s:I}", "userId", u->userId.data, "name",
                     u->info.name.data ? u->info.name.data : "", "avatar",
                     u->info.avator.data ? u->info.avator.data : "", "mobile",
                     u->info.mobile.data ? u->info.mobile.data : "", "birthday",
                     (json_int_t)u->info.birthday, "role", role_name(u->role), "passwordLogin",
                     u->pwHash.len > 0, "createdMs", (json_int_t)u->createdMs);
}

static void reply_user_err(http_req *r, int status, const char *userId)
{
    if (status == OMTP_ENOTFOUND)
        http_reply_error(r, 404, "unknown_user", "no such user: %s", userId);
    else if (status == OMTP_EEXIST)
        http_reply_error(r, 409, "user_exists", "the user %s already exists", userId);
    else
        http_reply_store_err(r, status);
}

/* Reads the optional profile fields into c->u.info; false after a 400. */
static bool get_profile(http_req *r, user_ctx *c)
{
    const char *name, *avatar, *mobile;
    int64_t birthday;
    if (!http_get_str(r, "name", false, OMTP_LIMIT_NAME, &name) ||
        !http_get_str(r, "avatar", false, OMTP_LIMIT_AVATAR, &avatar) ||
        !http_get_str(r, "mobile", false, OMTP_LIMIT_MOBILE, &mobile) ||
        !http_get_int(r, "birthday", false, 0, &birthday))
        return false;
    c->has_name = name != NULL;
    c->has_avatar = avatar != NULL;
    c->has_mobile = mobile != NULL;
    c->has_birthday = json_object_get(r->json, "birthday") != NULL;
    int rc = tars_str_set(&c->u.info.name, name ? name : "");
    rc |= tars_str_set(&c->u.info.avator, avatar ? avatar : "");
    rc |= tars_str_set(&c->u.info.mobile, mobile ? mobile : "");
    c->u.info.birthday = birthday;
    if (rc) {
        http_reply_error(r, 500, "internal", "out of memory");
        return false;
    }
    return true;
}

/* Hashes c->password on the thread pool, then calls next on the loop. */
static void hash_work(uv_work_t *w)
{
    user_ctx *c = w->data;
    c->hash_rc = omtp_auth_hash_password(c->password, c->pwHash, sizeof(c->pwHash));
}

static int hash_then(user_ctx *c, uv_after_work_cb next)
{
    c->work.data = c;
    if (!c->password || !*c->password) { /* "" disables password login */
        c->pwHash[0] = '\0';
        next(&c->work, 0);
        return 0;
    }
    return uv_queue_work(c->srv->loop, &c->work, hash_work, next);
}

/* Every endpoint's store completion: the user error, or c->reply. */
static void user_done(void *arg, int status)
{
    user_ctx *c = arg;
    if (status < 0)
        reply_user_err(c->r, status, c->userId);
    else
        c->reply(c);
    ctx_free(c);
}

/* Runs work on the store thread, then answers with reply (loop thread). */
static void submit(user_ctx *c, omtp_store_work_fn work, void (*reply)(user_ctx *c))
{
    c->reply = reply;
    int rc = omtp_store_submit(c->srv->store, work, user_done, c);
    if (rc < 0) {
        http_reply_store_err(c->r, rc);
        ctx_free(c);
    }
}

/* ------------------------------------------------------ POST /v1/users */

static int create_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    int rc = omtp_db_user_create(db, &c->u);
    if (rc == 0) {
        omtp_user_rec_free(&c->u);
        omtp_user_rec_init(&c->u);
        return omtp_db_user_get(db, c->userId, &c->u);
    }
    return rc;
}

static void create_reply(user_ctx *c)
{
    http_reply_json(c->r, 201, user_json(&c->u));
}

static void create_hashed(uv_work_t *w, int status)
{
    user_ctx *c = w->data;
    if (status < 0 || c->hash_rc < 0 || tars_str_set(&c->u.pwHash, c->pwHash) != 0) {
        http_reply_error(c->r, 500, "internal", "password hashing failed");
        ctx_free(c);
        return;
    }
    submit(c, create_work, create_reply);
}

void http_ep_user_create(http_req *r)
{
    const char *userId, *password;
    int role;
    if (!http_get_id(r, "userId", true, &userId) ||
        !http_get_str(r, "password", false, HTTP_MAX_PASSWORD, &password) ||
        !get_role(r, false, &role))
        return;
    user_ctx *c = ctx_new(r);
    if (!c)
        return;
    if (!get_profile(r, c)) {
        ctx_free(c);
        return;
    }
    snprintf(c->userId, sizeof(c->userId), "%s", userId);
    c->u.role = role;
    c->u.createdMs = omtp_now_ms();
    if (tars_str_set(&c->u.userId, userId) != 0 || tars_str_set(&c->u.info.userId, userId) != 0 ||
        !(c->password = strdup(password ? password : ""))) {
        http_reply_error(r, 500, "internal", "out of memory");
        ctx_free(c);
        return;
    }
    int rc = hash_then(c, create_hashed);
    if (rc < 0) {
        http_reply_error(r, 500, "internal", "cannot queue password hashing");
        ctx_free(c);
    }
}

/* -------------------------------------------------- GET /v1/users/{id} */

static int get_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    return omtp_db_user_get(db, c->userId, &c->u);
}

static void get_reply(user_ctx *c)
{
    http_reply_json(c->r, 200, user_json(&c->u));
}

static bool param_ok(http_req *r)
{
    if (http_valid_id(r->param[0]))
        return true;
    http_reply_error(r, 400, "invalid_id",
                     "the user id in the path is not valid: user ids are " OMTP_ID_RULE);
    return false;
}

void http_ep_user_get(http_req *r)
{
    if (!param_ok(r))
        return;
    user_ctx *c = ctx_new(r);
    if (c)
        submit(c, get_work, get_reply);
}

/* ------------------------------------------------ PATCH /v1/users/{id} */

static int update_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    omtp_user_rec cur;
    omtp_user_rec_init(&cur);
    int rc = omtp_db_user_get(db, c->userId, &cur);
    if (rc == 0) { /* merge the given fields into the current profile */
        if (c->has_name)
            rc |= tars_str_set(&cur.info.name, c->u.info.name.data);
        if (c->has_avatar)
            rc |= tars_str_set(&cur.info.avator, c->u.info.avator.data);
        if (c->has_mobile)
            rc |= tars_str_set(&cur.info.mobile, c->u.info.mobile.data);
        if (c->has_birthday)
            cur.info.birthday = c->u.info.birthday;
        rc |= tars_str_set(&cur.info.userId, c->userId);
        if (rc == 0)
            rc = omtp_db_user_info_update(db, &cur.info);
    }
    omtp_user_rec_free(&cur);
    if (rc == 0) {
        omtp_user_rec_free(&c->u);
        omtp_user_rec_init(&c->u);
        rc = omtp_db_user_get(db, c->userId, &c->u);
    }
    return rc;
}

void http_ep_user_update(http_req *r)
{
    if (!param_ok(r))
        return;
    user_ctx *c = ctx_new(r);
    if (!c)
        return;
    if (!get_profile(r, c)) {
        ctx_free(c);
        return;
    }
    if (!c->has_name && !c->has_avatar && !c->has_mobile && !c->has_birthday) {
        http_reply_error(r, 400, "missing_field",
                         "give at least one of \"name\", \"avatar\", \"mobile\", \"birthday\"");
        ctx_free(c);
        return;
    }
    submit(c, update_work, get_reply);
}

/* ------------------------------------------ PUT /v1/users/{id}/password */

static int password_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    return omtp_db_user_set_password(db, c->userId, c->pwHash);
}

static void password_reply(user_ctx *c)
{
    http_reply_json(
        c->r, 200,
        json_pack("{s:s,s:b}", "userId", c->userId, "passwordLogin", c->pwHash[0] != '\0'));
}

static void password_hashed(uv_work_t *w, int status)
{
    user_ctx *c = w->data;
    if (status < 0 || c->hash_rc < 0) {
        http_reply_error(c->r, 500, "internal", "password hashing failed");
        ctx_free(c);
        return;
    }
    submit(c, password_work, password_reply);
}

void http_ep_user_password(http_req *r)
{
    const char *password;
    if (!param_ok(r) || !http_get_str(r, "password", true, HTTP_MAX_PASSWORD, &password))
        return;
    user_ctx *c = ctx_new(r);
    if (!c)
        return;
    if (!(c->password = strdup(password))) {
        http_reply_error(r, 500, "internal", "out of memory");
        ctx_free(c);
        return;
    }
    if (hash_then(c, password_hashed) < 0) {
        http_reply_error(r, 500, "internal", "cannot queue password hashing");
        ctx_free(c);
    }
}

/* ---------------------------------------------- DELETE /v1/users/{id} */

static int delete_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    return omtp_db_user_delete(db, c->userId);
}

static void delete_reply(user_ctx *c)
{
    /* close its online devices: collect first, closing may unlink them */
    omtp_conn *conns[64];
    int n = 0, closed = 0;
    do {
        n = 0;
        for (omtp_conn *k = omtp_presence_first(c->srv, c->userId); k && n < 64;
             k = k->next_device) {
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
    http_reply_json(
        c->r, 200,
        json_pack("{s:s,s:b,s:i}", "userId", c->userId, "deleted", 1, "devicesClosed", closed));
}

void http_ep_user_delete(http_req *r)
{
    if (!param_ok(r))
        return;
    user_ctx *c = ctx_new(r);
    if (c)
        submit(c, delete_work, delete_reply);
}

/* ------------------------------------------- POST /v1/users/{id}/token */

static void token_reply(user_ctx *c)
{
    char token[OMTP_TOKEN_MAX + 1];
    int64_t expiry = (int64_t)time(NULL) + c->ttl;
    if (omtp_auth_token_issue(c->srv->token_secret, c->userId, expiry, token, sizeof(token)) != 0) {
        http_reply_error(c->r, 500, "internal", "cannot issue a token");
    } else {
        http_reply_json(c->r, 200,
                        json_pack("{s:s,s:s,s:I}", "userId", c->userId, "token", token, "expiresAt",
                                  (json_int_t)expiry));
    }
}

void http_ep_user_token(http_req *r)
{
    int64_t ttl;
    if (!param_ok(r) || !http_get_int(r, "ttl", false, HTTP_TOKEN_TTL_DEF, &ttl))
        return;
    if (ttl < 1 || ttl > HTTP_TOKEN_TTL_MAX) {
        http_reply_error(r, 400, "invalid_field", "the field \"ttl\" must be 1..%d seconds",
                         HTTP_TOKEN_TTL_MAX);
        return;
    }
    user_ctx *c = ctx_new(r);
    if (!c)
        return;
    c->ttl = ttl;
    submit(c, get_work, token_reply);
}

/* --------------------------------------------- PUT /v1/users/{id}/role */

static int role_work(omtp_db *db, void *arg)
{
    user_ctx *c = arg;
    return omtp_db_user_set_role(db, c->userId, c->role);
}

static void role_reply(user_ctx *c)
{
    for (omtp_conn *k = omtp_presence_first(c->srv, c->userId); k; k = k->next_device)
        k->monitor_role = c->role == OMTP_ROLE_MONITOR;
    http_reply_json(c->r, 200,
                    json_pack("{s:s,s:s}", "userId", c->userId, "role", role_name(c->role)));
}

void http_ep_user_role(http_req *r)
{
    int role;
    if (!param_ok(r) || !get_role(r, true, &role))
        return;
    user_ctx *c = ctx_new(r);
    if (!c)
        return;
    c->role = role;
    submit(c, role_work, role_reply);
}
