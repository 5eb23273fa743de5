/*
 * group_state.h - group state of omtpd: the member cache and the sliced fan-out.
 *
 * Member cache. Every group message goes to every member, so the member
 * list of an active group is kept in memory (srv->groups): groupId -> a
 * reference-counted, immutable omtp_members. A message handler takes a
 * reference at submit time; when the group is not cached, the store work
 * function fetches the members on the store thread and the completion
 * installs them. Membership changes invalidate the entry both when they are
 * submitted and when they complete, and bump an epoch: a list fetched while
 * a change was in flight is used for its own message (it is exactly the
 * membership that message saw in the store's order) but not installed.
 * In a cluster (redis_url set) entries also expire after
 * OMTP_GROUP_CACHE_TTL_MS, which bounds staleness when another node changed
 * a group and its notice was lost (notices normally invalidate at once);
 * a single node sees every change itself, so its entries do not expire. An entry may also carry
 * what the send checks need (check_cache.h): whether the group exists, is dismissed, and its
 * creator
 * -- "info"; so creation, dismissal and creator changes invalidate too.
 * Memory: one copy of each member id per cached group; at most
 * check_cache_max entries and OMTP_GROUP_CACHE_MAX_IDS ids, the least
 * recently used entry evicted first.
 *
 * Fan-out. A packet for a whole group is encoded once (omtp_wire) and queued
 * on each member's devices. For a 10,000-member group that is 10,000
 * presence look-ups and writes; doing them in one go would stall every
 * other connection for tens of milliseconds, so jobs larger than one slice
 * go to a FIFO served by a uv_idle handle: each loop iteration pushes to at
 * most OMTP_FANOUT_SLICE members, then the loop polls I/O again. Jobs run
 * strictly in order (a job smaller than a slice also queues when others are
 * waiting), so a member never sees group messages out of seqId order.
 *
 * Threading: loop thread only, except omtp_members which is immutable and
 * may be read anywhere while a reference is held.
 */
#ifndef OMTP_GROUP_STATE_H
#define OMTP_GROUP_STATE_H

#include "core/server.h"

#define OMTP_GROUP_CACHE_TTL_MS  60000
#define OMTP_GROUP_CACHE_MAX_IDS (4u << 20)
#define OMTP_FANOUT_SLICE        1024
#define OMTP_GROUP_DISMISS_CHUNK 2000 /* members removed per store item of a dismissal */

/* An immutable member list with a reference count (loop thread refs). */
typedef struct omtp_members {
    int refs;
    tars_str_list ids;
} omtp_members;

/* Takes ownership of *ids (left empty). Returns NULL on OOM (ids freed). */
omtp_members *omtp_members_new(tars_str_list *ids);
void omtp_members_ref(omtp_members *m);
void omtp_members_unref(omtp_members *m);

/* The cached members of groupId with a new reference, or NULL. */
omtp_members *omtp_group_cache_get(omtp_server *s, const char *groupId);
/* Current epoch; record it before fetching members in the store. */
uint64_t omtp_group_cache_epoch(omtp_server *s);
/* Installs m (takes its own reference) if no change happened since `epoch`. */
void omtp_group_cache_put(omtp_server *s, const char *groupId, omtp_members *m, uint64_t epoch);
/* What the send checks need of a group, from the cache: exists,
 * dismissed, creator, members (NULL when !exists or dismissed). */
typedef struct omtp_group_info {
    bool exists, dismissed;
    char creator[OMTP_ID_MAX + 1];
    omtp_members *members;
} omtp_group_info;
/* 1 and *out (a new reference on out->members) when groupId's info is
 * cached, else 0. */
int omtp_group_cache_get_info(omtp_server *s, const char *groupId, omtp_group_info *out);
/* Installs info (its members referenced, not taken) if no change happened
 * since `epoch`. */
void omtp_group_cache_put_info(omtp_server *s, const char *groupId, const omtp_group_info *info,
                               uint64_t epoch);
/* Entries and bytes held now (metrics). */
void omtp_group_cache_stats(omtp_server *s, size_t *entries, size_t *bytes);
/* Drops groupId's entry and bumps the epoch. Call when a group is created,
 * its membership or creator changes, or it is dismissed: when the change is
 * submitted and again when it completes (the group operations of
 * domain/group.h, a user's delete, the cluster bus). */
void omtp_group_cache_invalidate(omtp_server *s, const char *groupId);
/* Drops every entry and bumps the epoch (the cluster bus, after it may have
 * missed other nodes' change notices). */
void omtp_group_cache_invalidate_all(omtp_server *s);

/* Queues w for every online device of every member in m except the device
 * `except` (may be NULL). Takes its own references on w, m and except. */
void omtp_fanout_wire(omtp_server *s, omtp_wire *w, omtp_members *m, omtp_conn *except);
/* Pushes a stored group message to every member's devices and monitors
 * (omtp_deliver_msg for a group within one slice when nothing is queued,
 * else one wire through the sliced queue). */
void omtp_fanout_msg(omtp_server *s, const omtp_msg_rec *rec, omtp_members *m, omtp_conn *except);
/* PT_SYNC_DATA_CMD {command, content} to every member's devices except
 * `except`: encoded once, sliced like messages. */
void omtp_fanout_sync_cmd(omtp_server *s, omtp_members *m, int command, const char *content,
                          omtp_conn *except);
/* PT_SYNC_DATA_CMD {command, content} to userId's devices except `except`
 * (omtp_push_sync_cmd reaches all of them, the requesting one included). */
void omtp_sync_cmd_user(omtp_server *s, const char *userId, int command, const char *content,
                        const omtp_conn *except);
/* Fan-out jobs queued now (tests, metrics). */
unsigned omtp_fanout_pending(omtp_server *s);

/* Frees the cache and the fan-out queue and closes the idle handle. Call
 * once at shutdown before the loop's last run; safe if never used. */
void omtp_groups_close(omtp_server *s);

#endif
