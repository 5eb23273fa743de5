/*
 * domain/token.h - issuing a login token (domain/credentials.h) for a user,
 * the one rule for the HTTP API (POST /v1/users/{id}/token) and the admin
 * CLI (`omtpd token issue`).
 *
 * Rules, the same for both: the user must exist ("unknown_user"; login
 * accepts tokens for ids the store does not know, so a token for a mistyped
 * id would log in a new, empty account -- the check belongs here); the
 * lifetime is 1..OMTP_DOM_TOKEN_TTL_MAX seconds, 0 meaning
 * OMTP_DOM_TOKEN_TTL_DEFAULT ("invalid_field" otherwise). One difference,
 * by role: the admin CLI (OMTP_DOM_ADMIN) may also give a negative ttl, an
 * already expired token, to test how a client handles expiry. A logged-in
 * user (OMTP_DOM_USER) may not issue tokens ("no_privilege"). The HTTP API signs with the running
 * server's secret (s->token_secret), the CLI with the one it loaded
 * (domain/caller.h: a server struct with cfg and token_secret only).
 *
 * Threading: loop thread (API: the callback comes on the loop after the
 * store look-up); the CLI: synchronous.
 */
#ifndef OMTP_DOMAIN_TOKEN_H
#define OMTP_DOMAIN_TOKEN_H

#include <stdint.h>

#include "domain/caller.h"
#include "domain/credentials.h"
#include "proto/omtp_proto.h"

#define OMTP_DOM_TOKEN_TTL_DEFAULT (7 * 24 * 3600)
#define OMTP_DOM_TOKEN_TTL_MAX     (366 * 24 * 3600)

typedef struct omtp_dom_token_out {
    char userId[OMTP_ID_MAX + 1];
    char token[OMTP_TOKEN_MAX + 1];
    int64_t expiresAt; /* Unix seconds */
} omtp_dom_token_out;

typedef void (*omtp_dom_token_done)(void *arg, const omtp_dom_outcome *res,
                                    const omtp_dom_token_out *out);

void omtp_dom_token_issue(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          int64_t ttl, omtp_dom_token_done cb, void *arg);

#endif
