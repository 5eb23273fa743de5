/*
 * monitor.h - session monitoring ("旁听") beyond what server.h declares.
 *
 * A connection of a user with the monitor role subscribes to sessions with
 * PT_SESSION_MONITOR_START; while subscribed it receives the session's
 * pushes (omtp_monitor_push in server.h) and may read its history.
 * Subscriptions are in memory, per connection, and end with the connection
 * (omtp_monitor_conn_closed).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_MONITOR_H
#define OMTP_MONITOR_H

#include <stdbool.h>

#include "server.h"

/* Whether connection c currently monitors sessionId. */
bool omtp_monitor_watching(const omtp_conn *c, const char *sessionId);

#endif
