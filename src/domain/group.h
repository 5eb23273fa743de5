/*
 * domain/group.h - group operations, one function per operation, shared by
 * every entry point: the OMTP handlers (omtp group.c), the HTTP API
 * (http_groups.c). docs/architecture.md, docs/protocol.md ("Server
 * behaviour").
 *
 * Each function owns its whole operation:
 *   - the checks that need no storage (ids well formed, memberLimit in
 *     range), answered at once;
 *   - one store work item (chunked with OMTP_STORE_MORE for big member
 *     lists) running every check that needs the database together with the
 *     change, inside the batch transaction, so a check and the change it
 *     guards cannot be separated by another request;
 *   - the side effects, in this order on completion: the member cache
 *     (group.h) is updated; for a membership change (join, quit, dismiss)
 *     the cluster notice is published and ACKNOWLEDGED by the other nodes
 *     (or timed out, cluster.h) -- the same for every caller, so a send
 *     through any node after the reply sees the change; then the callback
 *     (the adapter replies); then PT_SYNC_DATA_CMD 3
 *     {"groupId":..,"op":..} to every affected member's devices but the
 *     asking connection (caller->conn).
 *
 * Who may do what is decided by the caller (domain/caller.h): a user is
 * held to the group rules, the administrator (HTTP API) is not.
 *
 * Ownership: inputs are copied before the function returns; the callback
 * borrows `out` (it may move fields out, e.g. with omtp_ids_move) which is
 * freed after it returns. `out` is NULL-free and zeroed on refusals.
 *
 * Threading: loop thread; callbacks on the loop thread.
 */
#ifndef OMTP_DOMAIN_GROUP_H
#define OMTP_DOMAIN_GROUP_H

#include <stdint.h>

#include "domain/caller.h"
#include "proto/omtp_msg.h"
#include "proto/omtp_proto.h"

typedef struct omtp_server omtp_server;

#define OMTP_DOM_GROUP_MEMBERS_PER_ITEM 1000 /* members added per store item */

typedef struct omtp_dom_group_out {
    char groupId[OMTP_ID_MAX + 1];
    omtp_GroupChatInfo info;        /* create, get, info: the group as stored */
    tars_str_list members;          /* create/join/quit: after the change; get: all */
    int count;                      /* join: members added; quit: members removed */
    int64_t timestamp;              /* sync: the cursor for the next sync */
    omtp_GroupChatInfo_list groups; /* sync: groups changed since */
    tars_str_list deleted;          /* sync: groups dismissed/left since */
} omtp_dom_group_out;

typedef void (*omtp_dom_group_done)(void *arg, const omtp_dom_outcome *res,
                                    omtp_dom_group_out *out);

/* A new group. in->groupId: "" for a generated GC_ id, else the chosen id
 * (GC_ prefix, no spaces). in->creatorId: a user may leave it empty or name
 * itself; the administrator must name an existing user. memberIds need not
 * hold the creator. in->memberLimit 0 = group_member_limit. */
void omtp_dom_group_create(omtp_server *s, const omtp_dom_caller *who, const omtp_GroupChatInfo *in,
                           const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg);
/* Adds members (user: only a member may, "invite"); ids already members
 * are kept; going over memberLimit adds nothing. */
void omtp_dom_group_join(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                         const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg);
/* Removes members. User: empty list or just itself = it leaves; others
 * only by the creator; ids not members are ignored. Admin: every id must
 * be a member ("not_member"). Nobody removes the creator ("is_creator"). */
void omtp_dom_group_quit(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                         const tars_str_list *memberIds, omtp_dom_group_done cb, void *arg);
/* Dismisses (user: the creator only); in chunks for big groups. */
void omtp_dom_group_dismiss(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                            omtp_dom_group_done cb, void *arg);
/* Hands the group over to a member (user: the creator only). */
void omtp_dom_group_set_creator(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                                const char *newCreatorId, omtp_dom_group_done cb, void *arg);
/* Merges the non-empty name/avatar/desc and a memberLimit > 0 (not below
 * the member count) into the group (user: the creator only). */
void omtp_dom_group_update_info(omtp_server *s, const omtp_dom_caller *who,
                                const omtp_GroupChatInfo *in, omtp_dom_group_done cb, void *arg);
/* The group and its members (user: members only). */
void omtp_dom_group_get(omtp_server *s, const omtp_dom_caller *who, const char *groupId,
                        omtp_dom_group_done cb, void *arg);
/* The caller's groups changed since `since` (ms), users only. */
void omtp_dom_group_sync(omtp_server *s, const omtp_dom_caller *who, int64_t since,
                         omtp_dom_group_done cb, void *arg);

#endif
