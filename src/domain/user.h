/*
 * domain/user.h - user accounts: create, get, update the profile, delete,
 * set the password, set the role. One function per operation for the HTTP
 * API (/v1/users, OMTP_DOM_API) and the admin CLI (`omtpd user
 * add|passwd|del|role`, OMTP_DOM_ADMIN); a logged-in user (OMTP_DOM_USER)
 * may not call them ("no_privilege": it edits its own profile with
 * PT_USERINFO_UPDATE, domain/attr.h).
 *
 * Rules, the same for both callers: user ids follow OMTP_ID_RULE
 * ("invalid_field"); an unknown user is "unknown_user", an existing one on
 * create "user_exists"; an empty or NULL password disables password login
 * (tokens only); passwords are hashed with scrypt (domain/credentials.h) --
 * on libuv's thread pool for the API (never on the loop or the store
 * thread), at once for the CLI. A profile update sets the fields given
 * (non-NULL), empty strings included.
 *
 * Side effects, by caller (the CLI has no loop and no connections, so it
 * has none: a running server sees the change at the user's next login):
 *   delete  API: the user's online devices are closed (out->devicesClosed).
 *   role    API: the monitor flag of the user's online devices follows.
 *
 * Completion as domain/caller.h says: the API's callback on the loop
 * thread, the CLI's before the call returns. `out` is borrowed.
 */
#ifndef OMTP_DOMAIN_USER_H
#define OMTP_DOMAIN_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/caller.h"
#include "store/store.h"

typedef struct omtp_dom_profile {
    const char *name, *avatar, *mobile; /* NULL: not given (kept) */
    bool has_birthday;
    int64_t birthday;
} omtp_dom_profile;

typedef struct omtp_dom_user_out {
    char userId[OMTP_ID_MAX + 1];
    omtp_user_rec user; /* create, get, update: the record as stored */
    bool passwordLogin; /* password: whether a password is set now */
    int role;           /* role: the role now */
    int devicesClosed;  /* delete (API): online devices closed */
} omtp_dom_user_out;

typedef void (*omtp_dom_user_done)(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out);

void omtp_dom_user_create(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          const char *password, int role, const omtp_dom_profile *p,
                          omtp_dom_user_done cb, void *arg);
void omtp_dom_user_get(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                       omtp_dom_user_done cb, void *arg);
void omtp_dom_user_update(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          const omtp_dom_profile *p, omtp_dom_user_done cb, void *arg);
void omtp_dom_user_delete(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                          omtp_dom_user_done cb, void *arg);
void omtp_dom_user_password(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                            const char *password, omtp_dom_user_done cb, void *arg);
void omtp_dom_user_role(omtp_server *s, const omtp_dom_caller *who, const char *userId, int role,
                        omtp_dom_user_done cb, void *arg);

#endif
