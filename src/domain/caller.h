/*
 * caller.h - who asks the domain layer for an operation, and how it
 * answers (docs/architecture.md, "The domain layer").
 *
 * Every domain operation (domain/group.h, ...) takes an omtp_dom_caller.
 * Where entry points must behave differently, that difference is a field
 * here, never a copy of the operation in an adapter:
 *
 *   OMTP_DOM_USER  a logged-in user over OMTP: userId is who acts, conn is
 *                  the connection that asked (it is not sent the sync-data
 *                  push about its own change; the domain keeps a reference
 *                  on it until the operation completed). Group rules apply
 *                  in full (only members add members, only the creator
 *                  removes others / dismisses / hands over / edits, and
 *                  memberLimit is at most group_member_limit).
 *   OMTP_DOM_ADMIN the HTTP API acting for the business backend, which the
 *                  server trusts as every group's administrator: no
 *                  membership or creator checks, memberLimit up to
 *                  group_member_hard_limit, the creator of a new group is
 *                  named in the request, and removals are exact (a
 *                  removed id that is not a member is an error, so the
 *                  backend learns that its view is off). userId is empty,
 *                  conn NULL: every affected member's devices are pushed.
 *   OMTP_DOM_CLI   the `omtpd user|token` admin commands: no server loop
 *                  (the store is opened directly), so operations that
 *                  need pushes or the cluster are not offered to it.
 *
 * Results: every operation completes through a callback on the loop thread
 * with an omtp_dom_result; it may run before the call returns (a request
 * refused without touching the store). The data part of the answer is an
 * operation-specific struct the callback borrows (it may move fields out).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_CALLER_H
#define OMTP_DOMAIN_CALLER_H

#include <stdbool.h>

#include "proto/omtp_proto.h"

typedef struct omtp_conn omtp_conn;

typedef enum omtp_dom_who {
    OMTP_DOM_USER = 0,
    OMTP_DOM_ADMIN,
    OMTP_DOM_CLI,
} omtp_dom_who;

typedef struct omtp_dom_caller {
    omtp_dom_who who;
    const char *userId; /* USER: the logged-in user; NULL otherwise */
    omtp_conn *conn;    /* USER: the asking connection (not pushed to); NULL otherwise */
} omtp_dom_caller;

typedef struct omtp_dom_result {
    int code; /* OMTP_EC_SUCCESS, or the OMTP error code of the refusal */
    /* NULL on success, else a stable machine-readable name of the refusal;
     * the HTTP API answers it as its error code: "unknown_group",
     * "unknown_user", "not_member", "is_creator", "group_exists",
     * "member_limit", "invalid_field", "no_privilege", "storage",
     * "unavailable", "internal" */
    const char *reason;
    int status;     /* storage/unavailable: the store's negative OMTP_E*, else 0 */
    char desc[320]; /* what happened, for the user (reply desc / HTTP message) */
} omtp_dom_result;

static inline bool omtp_dom_is_admin(const omtp_dom_caller *c)
{
    return c->who != OMTP_DOM_USER;
}

#endif
