/*
 * http_users.c - /v1/users: create, read, profile update, password, delete,
 * login token, role. Loop thread.
 *
 * Adapters of domain/user.h and domain/token.h, acting as the
 * administrator (OMTP_DOM_API): decode the JSON, call, encode. The rules
 * (the same as `omtpd user|token`), the password hashing off the loop, and
 * the side effects (deleting a user closes its online connections; a role
 * change updates the monitor flag of its online connections) are the
 * domain's.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/credentials.h"
#include "domain/user.h"
#include "domain/token.h"
#include "proto/omtp_packet.h"

#define HTTP_MAX_PASSWORD OMTP_LIMIT_PASSWORD /* proto/omtp_limits.h */

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

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

json_t *http_user_json(const omtp_user_rec *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:b,s:I}", "userId", u->userId.data, "name",
                     u->info.name.data ? u->info.name.data : "", "avatar",
                     u->info.avator.data ? u->info.avator.data : "", "mobile",
                     u->info.mobile.data ? u->info.mobile.data : "", "birthday",
                     (json_int_t)u->info.birthday, "role", role_name(u->role), "passwordLogin",
                     u->pwHash.len > 0, "createdMs", (json_int_t)u->createdMs);
}

/* Answers a refusal of the domain (domain/caller.h reasons); false when the
 * operation succeeded. */
/* Reads the optional profile fields; false after a 400. */
static bool get_profile(http_req *r, omtp_dom_profile *p)
{
    memset(p, 0, sizeof(*p));
    if (!http_get_str(r, "name", false, OMTP_LIMIT_NAME, &p->name) ||
        !http_get_str(r, "avatar", false, OMTP_LIMIT_AVATAR, &p->avatar) ||
        !http_get_str(r, "mobile", false, OMTP_LIMIT_MOBILE, &p->mobile) ||
        !http_get_int(r, "birthday", false, 0, &p->birthday))
        return false;
    p->has_birthday = json_object_get(r->json, "birthday") != NULL;
    return true;
}

static bool param_ok(http_req *r)
{
    if (http_valid_id(r->param[0]))
        return true;
    http_reply_error(r, 400, "invalid_id",
                     "the user id in the path is not valid: user ids are " OMTP_ID_RULE);
    return false;
}

/* ------------------------------------------------------ POST /v1/users */

static void created(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 201, http_user_json(&out->user));
}

void http_ep_user_create(http_req *r)
{
    const char *userId, *password;
    int role;
    omtp_dom_profile p;
    if (!http_get_id(r, "userId", true, &userId) ||
        !http_get_str(r, "password", false, HTTP_MAX_PASSWORD, &password) ||
        !get_role(r, false, &role) || !get_profile(r, &p))
        return;
    omtp_dom_user_create(r->srv, &api, userId, password, role, &p, created, r);
}

/* ------------------------------------- GET, PATCH /v1/users/{id} */

static void got_user(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 200, http_user_json(&out->user));
}

void http_ep_user_get(http_req *r)
{
    if (param_ok(r))
        omtp_dom_user_get(r->srv, &api, r->param[0], got_user, r);
}

void http_ep_user_update(http_req *r)
{
    omtp_dom_profile p;
    if (param_ok(r) && get_profile(r, &p))
        omtp_dom_user_update(r->srv, &api, r->param[0], &p, got_user, r);
}

/* ------------------------------------------ PUT /v1/users/{id}/password */

static void password_set(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(
            arg, 200,
            json_pack("{s:s,s:b}", "userId", out->userId, "passwordLogin", out->passwordLogin));
}

void http_ep_user_password(http_req *r)
{
    const char *password;
    if (param_ok(r) && http_get_str(r, "password", true, HTTP_MAX_PASSWORD, &password))
        omtp_dom_user_password(r->srv, &api, r->param[0], password, password_set, r);
}

/* ---------------------------------------------- DELETE /v1/users/{id} */

static void deleted(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(arg, 200,
                        json_pack("{s:s,s:b,s:i}", "userId", out->userId, "deleted", 1,
                                  "devicesClosed", out->devicesClosed));
}

void http_ep_user_delete(http_req *r)
{
    if (param_ok(r))
        omtp_dom_user_delete(r->srv, &api, r->param[0], deleted, r);
}

/* ------------------------------------------- POST /v1/users/{id}/token */

/* domain/token.h: the user must exist, ttl 1..366 days (the same rule as
 * `omtpd token issue`) */
static void token_done(void *arg, const omtp_dom_outcome *res, const omtp_dom_token_out *out)
{
    http_req *r = arg;
    if (res->err < 0)
        http_reply_store_err(r, res->err);
    else if (res->code)
        http_reply_error(r,
                         !strcmp(res->reason, "unknown_user")   ? 404
                         : !strcmp(res->reason, "internal")     ? 500
                         : !strcmp(res->reason, "no_privilege") ? 403
                                                                : 400,
                         res->reason, "%s", res->desc);
    else
        http_reply_json(r, 200,
                        json_pack("{s:s,s:s,s:I}", "userId", out->userId, "token", out->token,
                                  "expiresAt", (json_int_t)out->expiresAt));
}

void http_ep_user_token(http_req *r)
{
    int64_t ttl;
    if (!param_ok(r) || !http_get_int(r, "ttl", false, OMTP_DOM_TOKEN_TTL_DEFAULT, &ttl))
        return;
    if (ttl < 1) { /* 0 means the default to the domain; here it was given */
        http_reply_error(r, 400, "invalid_field", "the field \"ttl\" must be 1..%d seconds",
                         OMTP_DOM_TOKEN_TTL_MAX);
        return;
    }
    omtp_dom_token_issue(r->srv, &api, r->param[0], ttl, token_done, r);
}

/* --------------------------------------------- PUT /v1/users/{id}/role */

static void role_set(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    if (!http_reply_refused(arg, res))
        http_reply_json(
            arg, 200, json_pack("{s:s,s:s}", "userId", out->userId, "role", role_name(out->role)));
}

void http_ep_user_role(http_req *r)
{
    int role;
    if (param_ok(r) && get_role(r, true, &role))
        omtp_dom_user_role(r->srv, &api, r->param[0], role, role_set, r);
}
