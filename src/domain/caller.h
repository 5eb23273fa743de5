/*
 * domain/caller.h - who asks the domain layer for an operation
 * (docs/architecture.md, "The domain layer"), shared by every domain area.
 *
 * Every domain operation takes an omtp_dom_caller. Where entry points must
 * behave differently, that difference is decided by a field of it, never by
 * a copy of the operation in an adapter. For groups (domain/group.h):
 *
 *   OMTP_DOM_USER   a logged-in user over OMTP: `user` is who acts, `conn`
 *                   the asking connection (it gets no sync-data push about
 *                   its own change; the domain holds a reference on it until
 *                   the operation completed). The group rules apply in full:
 *                   only members add members or read the member list, only
 *                   the creator removes others / dismisses / hands over /
 *                   edits, memberLimit at most group_member_limit, the
 *                   creator of a new group is the caller.
 *   OMTP_DOM_API    the HTTP API, acting for the business backend, which the
 *                   server trusts as every group's administrator: no
 *                   membership or creator checks, memberLimit up to
 *                   group_member_hard_limit, the creator of a new group is
 *                   named in the request, and removals are exact (an id that
 *                   is not a member is refused as "not_member", so the
 *                   backend learns its view is off). `user` and `conn` NULL:
 *                   every affected member's devices are pushed.
 *   OMTP_DOM_ADMIN  the admin CLI (`omtpd user|token ...`): like the API,
 *                   but it runs without a server loop: `db` is the store
 *                   the command opened, the operation's store work runs on
 *                   it at once in its own transaction and the callback runs
 *                   before the call returns; `s` is a server struct with
 *                   only cfg and token_secret set. Operations that push or
 *                   notify the cluster are not offered to it.
 *
 * Threading: plain data; the operations taking it run on the loop thread.
 */
#ifndef OMTP_DOMAIN_CALLER_H
#define OMTP_DOMAIN_CALLER_H

#include <stdbool.h>

typedef struct omtp_conn omtp_conn;
typedef struct omtp_db omtp_db;
typedef struct omtp_server omtp_server;

enum omtp_dom_role {
    OMTP_DOM_USER = 0, /* a logged-in user over OMTP (user, conn set) */
    OMTP_DOM_API,      /* the HTTP API, acting as the business backend */
    OMTP_DOM_ADMIN,    /* the admin CLI */
};

typedef struct omtp_dom_caller {
    int role;         /* enum omtp_dom_role */
    const char *user; /* OMTP_DOM_USER: the logged-in user; else NULL */
    omtp_conn *conn;  /* the acting device (referenced while needed), or NULL */
    omtp_db *db;      /* OMTP_DOM_ADMIN: the store the command opened; else NULL */
} omtp_dom_caller;

/* Whether the caller acts as the administrator (API or CLI). */
static inline bool omtp_dom_is_admin(const omtp_dom_caller *c)
{
    return c->role != OMTP_DOM_USER;
}

/* How an operation ended, for the areas whose callbacks take it
 * (domain/group.h). */
typedef struct omtp_dom_outcome {
    int code; /* OMTP_EC_SUCCESS, or the OMTP error code of the refusal */
    /* NULL on success, else a stable machine-readable name of the refusal,
     * which the HTTP API answers as its error code: "unknown_group",
     * "unknown_user", "not_member", "is_creator", "group_exists",
     * "member_limit", "invalid_field", "no_privilege", "storage",
     * "unavailable", "internal" */
    const char *reason;
    int err;        /* storage/unavailable: the store's negative OMTP_E*, else 0 */
    char desc[320]; /* what happened, in words ("" on success) */
} omtp_dom_outcome;

/* Fills res with a refusal: code (OMTP_EC_*), reason (one of the names
 * above), desc printed from fmt. Any thread; res is the caller's. */
void omtp_dom_refuse(omtp_dom_outcome *res, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs a store work item for `who`: on the store thread with done on the
 * loop (s->store), or -- OMTP_DOM_ADMIN, who->db set -- at once on who->db
 * in a transaction (committed when work returns >= 0, OMTP_STORE_MORE
 * repeats it) and done before returning. Returns the submit error (done not
 * called) or 0. */
int omtp_dom_run(omtp_server *s, const omtp_dom_caller *who, int (*work)(omtp_db *db, void *arg),
                 void (*done)(void *arg, int status), void *arg);

#endif
