/*
 * monitor.h - session monitoring ("旁听") beyond what server.h declares.
 *
 * A connection of a user with the monitor role subscribes to sessions with
 * PT_SESSION_MONITOR_START; while subscribed it receives the session's
 * pushes (omtp_monitor_push in server.h) and may read its history.
 * Subscriptions are in memory, per connection, and end with the connection
 * (a close observer, server.h). In a cluster, the other nodes learn which
 * (session, user) pairs this node monitors and forward those sessions'
 * pushes here (cluster.h, docs/cluster.md).
 *
 * Rule: a connection gets each push once. A monitoring connection whose
 * user is a recipient of the push (a member of the session, or its sender's
 * other device) gets it as a recipient, not a second time as a monitor.
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_MONITOR_H
#define OMTP_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/server.h"

/* Whether connection c currently monitors sessionId. */
bool omtp_monitor_watching(const omtp_conn *c, const char *sessionId);

/* Calls fn(arg, sessionId, userId) for every local subscription (a
 * (session, user) pair once per connection: possibly several times). */
void omtp_monitor_each(omtp_server *s, void (*fn)(void *arg, const char *sid, const char *user),
                       void *arg);
/* A push of sessionId forwarded by another node (cluster.h): every local
 * connection monitoring sessionId whose user is one of `users` gets w. */
void omtp_monitor_push_users(omtp_server *s, const char *sessionId, omtp_wire *w,
                             const char *const *users, uint32_t nusers);

/* Registers the monitor table's close observer (a server part's start,
 * src/omtpd/wiring.c): session monitors end with their connection. */
int omtp_monitor_init(omtp_server *s);

#endif
