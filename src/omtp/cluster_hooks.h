/*
 * cluster_hooks.h - the server's side of the cluster (cluster/cluster.h):
 * starting it with the host interface (cluster/cluster_host.h) this server
 * implements in cluster_host.c, and the calls the core and handlers make
 * into it with connections and wires, turned into the cluster's own terms
 * (device handles, frames).
 *
 * Every function is a no-op when the server runs single-node (s->cluster
 * NULL). Threading: loop thread only.
 */
#ifndef OMTP_CLUSTER_HOOKS_H
#define OMTP_CLUSTER_HOOKS_H

#include "cluster/cluster.h"
#include "core/server.h"

/* Starts the cluster when cfg->redis_url is set (server.c, once the client
 * port is bound) and registers its close observer. Returns 0 or OMTP_E*
 * with `why` saying what to fix. */
int omtp_server_cluster_start(omtp_server *s, int port, char *why, size_t whylen);
/* Our devices leave the presence table; s->cluster is NULL afterwards. */
void omtp_server_cluster_stop(omtp_server *s);

/* c just logged in (after the local same-device kick and presence add). */
void omtp_server_cluster_login(omtp_conn *c);
/* c's background flag changed. */
void omtp_server_cluster_device_changed(omtp_conn *c);
/* c's PT_KICKOUT of its own device (deviceType, deviceId) on another node. */
void omtp_server_cluster_kick_device(omtp_conn *c, int deviceType, const char *deviceId);
/* w for userId's devices on other nodes (w is held, not copied). */
void omtp_server_cluster_push_user(omtp_server *s, const char *userId, omtp_wire *w);
/* w, a push of sessionId, for monitors on other nodes (cluster.h). */
void omtp_server_cluster_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w,
                                      const tars_str_list *recipients);

#endif
