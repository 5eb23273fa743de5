/*
 * domain/friend.h - friendships: add, delete, sync (PT_FRIEND_ADD 51,
 * PT_FRIEND_DEL 52, PT_FRIEND_SYNC 53 are its adapters, src/omtp/friend.c).
 *
 * Friendship is mutual: adding alice->bob makes both friends of each other
 * in one store call; alice's remark is hers. Every FriendInfo must have
 * userId = the acting user (or empty, meaning the same); the whole request
 * is applied in one store work item or not at all. After it, the other
 * sides' devices and the acting user's other devices (all but who->conn)
 * get PT_SYNC_DATA_CMD 1 {"userId":<the acting user>}.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - add of an existing friend updates the remark; add of yourself or of an
 *    unknown user is USER_RELATION_INVALID.
 *  - delete of someone who is not a friend succeeds and changes nothing (a
 *    retried DEL must not fail).
 *  - sync: FriendSyncResp cannot express deletions, so when anything changed
 *    after `since` (ms) the complete current list is returned (changed =
 *    true), else none.
 *
 * Callers: a logged-in user only (OMTP_DOM_USER); the API and the CLI have
 * no friend operations today ("no_privilege").
 *
 * Threading: loop thread; the callback on the loop thread (from inside the
 * call for a refusal decided before the store). `out` is borrowed.
 */
#ifndef OMTP_DOMAIN_FRIEND_H
#define OMTP_DOMAIN_FRIEND_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/caller.h"
#include "proto/omtp_msg.h"

typedef struct omtp_dom_friend_out {
    bool changed;                 /* sync: something changed since */
    omtp_FriendInfo_list friends; /* sync: the whole list when changed */
} omtp_dom_friend_out;

typedef void (*omtp_dom_friend_done)(void *arg, const omtp_dom_outcome *res,
                                     omtp_dom_friend_out *out);

void omtp_dom_friend_add(omtp_server *s, const omtp_dom_caller *who,
                         const omtp_FriendInfo_list *friends, omtp_dom_friend_done cb, void *arg);
void omtp_dom_friend_del(omtp_server *s, const omtp_dom_caller *who,
                         const omtp_FriendInfo_list *friends, omtp_dom_friend_done cb, void *arg);
void omtp_dom_friend_sync(omtp_server *s, const omtp_dom_caller *who, int64_t since,
                          omtp_dom_friend_done cb, void *arg);

#endif
