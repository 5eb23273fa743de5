/*
 * domain/attr.h - a user's attributes and its own profile over OMTP: user
 * attributes (what you note about someone, e.g. a remark; PT_USERATTRIBUTE_
 * SET 56 / GET 57), session attributes (pin, mute, ...;
 * PT_SESSIONATTRIBUTE_SET 58) and the OMTP user info (PT_USERINFO_GET 54,
 * PT_USERINFO_UPDATE 55). src/omtp/user.c is their adapter (it keeps the
 * per-connection "device.*" attributes, hooks/webhook.h, and the reply
 * paging, protocol.md 7.2).
 *
 * Authority: a user reads anyone's profile but writes only its own; user
 * and session attributes are private to their owner. An owner field naming
 * someone else is refused with MSG_FORBIDDEN ("no_privilege"); an empty one
 * means the logged-in user.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - info get: unknown ids are skipped; an empty list returns your own
 *    profile; at most OMTP_DOM_USERINFO_BATCH ids; out->infos in user-id
 *    order.
 *  - info update merges: empty strings and birthday 0 keep the stored
 *    value (unlike domain/user.h's API update, which sets what is given).
 *  - attr set: empty friendId or attrName -> ATTR_FIELD_EMPTY; the friendId
 *    must be a user (USER_RELATION_INVALID), not necessarily a friend; an
 *    empty attrValue is stored as empty. The user's other devices (all but
 *    who->conn) get SYNC_DATA_CMD 1 {"userId":..,"friendId":..}.
 *  - attr get: filter NULL returns all your attributes, else those matching
 *    its non-empty friendId / attrName; out->attrs in (friendId, attrName)
 *    order.
 *  - session attr set: only for a session you take part in (a single chat or
 *    business session by its spelling, a group by membership), else
 *    MSG_FORBIDDEN; the user's attribute object of the session, as JSON,
 *    may not grow past OMTP_LIMIT_SESSION_ATTRS_JSON bytes (a set that does
 *    not grow it is always allowed); your other devices get SYNC_DATA_CMD 2
 *    {"sessionId":..}.
 *
 * Callers: a logged-in user only (OMTP_DOM_USER, user set); the API and the
 * CLI have no attribute operations ("no_privilege"; the API edits profiles
 * with domain/user.h).
 *
 * Threading: loop thread; the callback on the loop thread (from inside the
 * call for a refusal decided before the store), before any sync push. The
 * request data is copied; `out` is borrowed for the callback (the callback
 * may sort or slice its lists in place).
 */
#ifndef OMTP_DOMAIN_ATTR_H
#define OMTP_DOMAIN_ATTR_H

#include "domain/caller.h"
#include "proto/omtp_msg.h"

#define OMTP_DOM_USERINFO_BATCH 1000

typedef struct omtp_dom_attr_out {
    omtp_UserInfo_list infos;      /* info get */
    omtp_UserAttribute_list attrs; /* attr get */
} omtp_dom_attr_out;

typedef void (*omtp_dom_attr_done)(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out);

/* ids NULL or empty: the caller's own profile. */
void omtp_dom_userinfo_get(omtp_server *s, const omtp_dom_caller *who, const tars_str_list *ids,
                           omtp_dom_attr_done cb, void *arg);
void omtp_dom_userinfo_update(omtp_server *s, const omtp_dom_caller *who, const omtp_UserInfo *in,
                              omtp_dom_attr_done cb, void *arg);
void omtp_dom_attr_set(omtp_server *s, const omtp_dom_caller *who, const omtp_UserAttribute *a,
                       omtp_dom_attr_done cb, void *arg);
/* filter NULL: all; its attrValue is ignored (the adapter's page cursor). */
void omtp_dom_attr_get(omtp_server *s, const omtp_dom_caller *who, const omtp_UserAttribute *filter,
                       omtp_dom_attr_done cb, void *arg);
void omtp_dom_session_attr_set(omtp_server *s, const omtp_dom_caller *who,
                               const omtp_SessionAttrSetReq *q, omtp_dom_attr_done cb, void *arg);

#endif
