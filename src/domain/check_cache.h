/*
 * check_cache.h - what a send must know about users, friendships and
 * groups, answered from memory on the loop thread.
 *
 * A send checks that its recipient exists, that sender and recipient are
 * friends (friends_only), that a group exists, is not dismissed, has the
 * sender as a member, who its creator is ("@all") and who its members are
 * (mentions, fan-out). These queries answer at once from memory (return 1,
 * *out filled) or start ONE store read and return 0: `cb` runs later on the
 * loop thread with status 0 (the answer) or an OMTP_E* (the read failed; the
 * caller answers its own caller with an error, nothing is cached). A return
 * < 0 means the query could not start (OMTP_ENOMEM, the store's refusal,
 * e.g. OMTP_ECLOSED while stopping); `cb` is then never called. Concurrent
 * misses for the same key share one store read (a second waiter joins the
 * first); the loop never blocks.
 *
 * Coherence (docs/server-core.md, "Check caches"): every operation that
 * changes users, friendships or groups (domain/user.c, friend.c, group.c,
 * the HTTP API through them, the cluster bus) invalidates the entries it
 * touches when it is submitted AND when it completes, and each invalidation
 * bumps the cache's epoch: a read that started before a change may answer
 * the waiters that asked before the change (the store runs items in order,
 * so that is the truth they could have seen), but it is not installed, and
 * a query after the invalidation never joins it. So a check never answers
 * from data older than a change its caller could have seen.
 *  - Users: positive and negative entries, for at most check_cache_user_ttl_ms
 *    (admin commands, `omtpd user add|del`, run in another process beside the
 *    server and cannot invalidate: the TTL bounds how long a server keeps
 *    the old answer; 0 = never cache users). Past half the TTL an entry in
 *    use is renewed by a background read while it keeps answering.
 *  - Friends: one entry per ordered pair; a friend add/delete invalidates
 *    both directions.
 *  - Groups: one entry per group in group_state.h's member cache (exists,
 *    dismissed, creator and members together); group operations (create,
 *    join, quit, dismiss, creator) and the cluster's group notices
 *    invalidate it (omtp_group_cache_invalidate).
 *  - Cluster (redis_url set): users and friends change on other nodes
 *    without a notice here, so those two caches are off (every query is a
 *    store read, still asynchronous); groups keep the member cache's rules.
 *
 * Memory: each cache holds at most check_cache_max entries (least recently
 * used evicted first); entries, bytes, hits and misses are in /metrics
 * (omtp_check_cache_*).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_CHECK_CACHE_H
#define OMTP_DOMAIN_CHECK_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/server.h"
#include "domain/group_state.h"

typedef void (*omtp_cc_bool_fn)(void *arg, int status, bool yes);

/* Does userId exist? */
int omtp_cc_user_exists(omtp_server *s, const char *userId, bool *yes, omtp_cc_bool_fn cb,
                        void *arg);
/* Is b a friend of a (the store's omtp_db_friend_is(a, b))? */
int omtp_cc_friends(omtp_server *s, const char *a, const char *b, bool *yes, omtp_cc_bool_fn cb,
                    void *arg);

typedef struct omtp_cc_group {
    bool exists, dismissed;        /* !exists: nothing else is set */
    char creator[OMTP_ID_MAX + 1]; /* "" when unknown */
    omtp_members *members;         /* sorted ids; a reference the caller unrefs; NULL if !exists */
} omtp_cc_group;
/* `g` is borrowed for the call; take a reference on g->members to keep it. */
typedef void (*omtp_cc_group_fn)(void *arg, int status, const omtp_cc_group *g);

/* groupId's state. On a return of 1 the caller owns out->members. */
int omtp_cc_group_get(omtp_server *s, const char *groupId, omtp_cc_group *out, omtp_cc_group_fn cb,
                      void *arg);
/* Is userId in the sorted member list m? (binary search) */
bool omtp_cc_is_member(const omtp_members *m, const char *userId);

/* Drop userId's entry (created, deleted) and bump the epoch. (A delete
 * keeps the user's friendships and memberships in the store: other users'
 * history; so their entries stay true.) */
void omtp_cc_invalidate_user(omtp_server *s, const char *userId);
/* Drop (a,b) and (b,a) and bump the epoch. */
void omtp_cc_invalidate_friends(omtp_server *s, const char *a, const char *b);
/* Groups: omtp_group_cache_invalidate (group_state.h). */

typedef struct omtp_cc_stats {
    uint64_t hits, misses, entries, bytes, reads, joined, evicted;
} omtp_cc_stats;
enum { OMTP_CC_USERS, OMTP_CC_FRIENDS, OMTP_CC_GROUPS, OMTP_CC_N };
extern const char *const omtp_cc_names[OMTP_CC_N];
void omtp_cc_stats_get(omtp_server *s, omtp_cc_stats out[OMTP_CC_N]);

/* The omtp_check_cache_* lines of /metrics (omtp_metrics_add_source; arg
 * is the server). */
char *omtp_cc_metrics(void *arg);

/* Frees the caches. Call after the store closed (no read in flight). */
void omtp_cc_close(omtp_server *s);

#endif
