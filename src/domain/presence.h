/*
 * domain/presence.h - live presence (spec/omtp-ext.tars PT_PRESENCE_SUB 100,
 * PT_PRESENCE 101; docs/protocol.md, Extensions chapter). src/omtp/ext.c is
 * the OMTP adapter.
 *
 * A connection subscribes to a list of users (replacing its previous list;
 * empty = none) and is answered with their current state; from then on it
 * gets a PresenceNotice whenever one of them changes, at most one per
 * OMTP_PRESENCE_COALESCE_MS: changes within that window are coalesced into
 * the next notice (each watched user once, with its state at send time).
 *
 * Rules (rulings in docs/protocol.md):
 *  - at most cfg->presence_max_subs distinct ids (more: PARAM, nothing
 *    changes); invalid and duplicate ids are dropped;
 *  - only friends, members of a session the subscriber is in, and the
 *    subscriber itself may be watched: others are silently left out of the
 *    answer and never notified;
 *  - online = some device online and in the foreground ("device.background"
 *    = away); devices = devices online (foreground or not);
 *  - lastSeen = when the user was last online (now while it is), 0 when
 *    never seen since this node started or hidden: the user attribute
 *    (friendId = the user itself) "presence.lastSeen" = "hidden".
 *
 * Memory: a subscription entry is 8 bytes on the watched user's side and 8
 * on the subscriber's (growth by doubling: at most 32 bytes per entry); a
 * watched user costs one record (~48 bytes + its id) for as long as someone
 * watches it or it was seen online. omtp_dom_presence_stats reports them.
 *
 * Subscriptions die with the connection (a close observer).
 *
 * Cluster: a node publishes a notice when one of its users' devices change;
 * nodes with watchers of that user read its presence entries in Redis
 * (devices on other nodes, foreground or not) and tell their watchers. A
 * subscription reads the entries of the users it allows before answering.
 * lastSeen is each node's own observation (when it saw the user go away).
 *
 * Threading: loop thread only; callbacks on the loop thread.
 */
#ifndef OMTP_DOMAIN_PRESENCE_H
#define OMTP_DOMAIN_PRESENCE_H

#include "core/server.h"
#include "domain/caller.h"
#include "proto/omtp_msg.h"

#define OMTP_PRESENCE_COALESCE_MS 250
#define OMTP_PRESENCE_ATTR        "presence.lastSeen"

/* The answer: users = current state of every watched user allowed
 * (borrowed for the callback). */
typedef void (*omtp_dom_presence_done)(void *arg, const omtp_dom_outcome *res,
                                       omtp_PresenceInfo_list *users);

/* Starts (close observer, notice timer) / frees the presence state. */
int omtp_dom_presence_start(omtp_server *s);
/* Closes the notice timer (the loop still running); no notice after it. */
void omtp_dom_presence_stop(omtp_server *s);
void omtp_dom_presence_free(omtp_server *s);

/* PT_PRESENCE_SUB by who (OMTP_DOM_USER with conn). */
void omtp_dom_presence_sub(omtp_server *s, const omtp_dom_caller *who, const tars_str_list *ids,
                           omtp_dom_presence_done cb, void *arg);

/* userId's devices changed on this node (login, close, background): its
 * watchers here are notified if its state changed, other nodes are told
 * (cluster/cluster.h, omtp_cluster_presence_changed). */
void omtp_dom_presence_changed(omtp_server *s, const char *userId);

/* userId set or cleared its hidden-last-seen attribute. */
void omtp_dom_presence_hidden(omtp_server *s, const char *userId, bool hidden);

/* The cluster says userId's devices on another node changed: if someone
 * here watches userId, its devices there are read again (asynchronously)
 * and the watchers told. */
void omtp_dom_presence_remote_changed(omtp_server *s, const char *userId);

typedef struct omtp_presence_stats {
    uint64_t users;       /* watched-user records */
    uint64_t subscribers; /* connections with a subscription */
    uint64_t entries;     /* subscription entries */
    uint64_t bytes;       /* memory held by records, entries and tables */
    uint64_t notices;     /* PresenceNotice frames sent */
} omtp_presence_stats;
void omtp_dom_presence_stats(omtp_server *s, omtp_presence_stats *out);

#endif
