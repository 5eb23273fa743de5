/*
 * cluster_host.h - what the cluster needs from the server it runs beside.
 *
 * The cluster (src/cluster, library omtp_cluster) sits below the server: it
 * includes no server header and never touches a connection, the presence
 * table, the group cache or the monitor table itself. The server hands it an
 * omtp_cluster_host at start (omtp_cluster_start): a table of functions and
 * an opaque `host` pointer passed back to each. src/omtp/cluster_host.c is
 * the one server file implementing it.
 *
 * Local devices are named by an opaque handle (`dev`, the server's
 * connection): the server passes it to omtp_cluster_login and guarantees it
 * stays valid until omtp_cluster_logout with the same handle (or
 * omtp_cluster_stop). The cluster keeps handles only in its registry of this
 * node's online devices and hands them back to describe/resync.
 *
 * Frames: an already-encoded packet (type, flags, packId, plain payload).
 * A frame the server passes in for a push may come with an `owner` (the
 * server's refcounted wire): the cluster holds it (hold/release) while it
 * looks the targets up, so the payload is neither copied nor re-encoded.
 *
 * Threading: every function runs on the loop thread that runs the cluster
 * (the server's loop), from a libuv or hiredis callback or from an
 * omtp_cluster_* call; none may be called from another thread. None of them
 * may call omtp_cluster_stop.
 */
#ifndef OMTP_CLUSTER_HOST_H
#define OMTP_CLUSTER_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An encoded packet. Pointers are borrowed for the duration of the call
 * (or, with an owner, as long as the owner is held). */
typedef struct omtp_cluster_frame {
    int32_t type;
    int64_t flags;
    const char *packId;
    const uint8_t *payload; /* plain (untransformed) encoded payload */
    size_t len;
    void *owner; /* host object keeping payload/packId alive; NULL = none */
} omtp_cluster_frame;

/* One local online device, as the presence table stores it. Strings are
 * the host's, valid until the host's next change of that device. */
typedef struct omtp_cluster_device {
    const char *userId;
    int deviceType;
    const char *deviceId;
    int64_t loginMs;
    bool background; /* flagged background (no foreground pushes) */
} omtp_cluster_device;

/* A kick order from another node: close this node's online devices of
 * userId with deviceType (and deviceId, unless "") that logged in at or
 * before beforeMs, each with a PT_KICKOUT naming (byType, byId). */
typedef struct omtp_cluster_kick_order {
    const char *userId;
    int deviceType;
    const char *deviceId; /* "" = any device of the type */
    int64_t beforeMs;
    int byType;
    const char *byId;
    const char *why; /* for the log */
} omtp_cluster_kick_order;

typedef struct omtp_cluster_host {
    void *host; /* passed back as the first argument of every function */

    /* Fills *out for the registered device dev (online). */
    void (*describe)(void *host, void *dev, omtp_cluster_device *out);
    /* Whether another online local device of dev's user has dev's device
     * type (a replacement that logged in here keeps the presence entry). */
    bool (*same_type_online)(void *host, void *dev);

    /* Delivers f to every online local device of each of users[0..n).
     * Returns the number of devices it was queued on. */
    uint32_t (*deliver)(void *host, const char *const *users, uint32_t n,
                        const omtp_cluster_frame *f);
    /* Carries out a kick order (above). Returns the devices closed. */
    uint32_t (*kick)(void *host, const omtp_cluster_kick_order *k);
    /* Tells device dev to resync its sessions (PT_SYNC_DATA_CMD), after the
     * bus was down and pushes from other nodes may have been lost. */
    void (*resync)(void *host, void *dev, const char *why);

    /* The membership of groupId changed on another node (groupId NULL:
     * notices may have been lost, every group may have changed). */
    void (*group_changed)(void *host, const char *groupId);

    /* Calls fn(arg, sessionId, userId) for every local monitor subscription
     * (a pair may come several times). */
    void (*monitors_each)(void *host, void (*fn)(void *arg, const char *sid, const char *user),
                          void *arg);
    /* A push of sessionId forwarded by another node: every local connection
     * monitoring sessionId whose user is one of users[0..n) gets f. */
    void (*monitor_deliver)(void *host, const char *sessionId, const omtp_cluster_frame *f,
                            const char *const *users, uint32_t n);

    /* The devices of userId on another node changed (presence_watch.c);
     * may be NULL. */
    void (*presence_changed)(void *host, const char *userId);

    /* Keep / let go of a frame's owner (see "Frames" above). */
    void (*hold)(void *host, void *owner);
    void (*release)(void *host, void *owner);
} omtp_cluster_host;

#endif
