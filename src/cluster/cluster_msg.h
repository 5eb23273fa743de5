/*
 * cluster_msg.h - the messages nodes send each other on their Redis
 * channels (binary, big-endian, length-prefixed; hostile-input safe:
 * every length is checked against the bytes present).
 *
 *   push: 'P' u16 nusers {u16 len, bytes}*nusers  i32 type  i64 flags
 *         u16 len packId  u32 len payload      (payload = plain Tars bytes)
 *   kick: 'K' u16 len userId  i32 deviceType  i64 beforeMs  u16 len deviceId
 *         i32 byType  u16 len byId
 *   group members changed: 'G' u16 len node  u16 len groupId  u64 token
 *         (on the broadcast channel; `node` is the sender, which ignores its
 *         own notice; every other node applies it and answers with)
 *   group notice applied:  'g' u16 len node  u64 token
 *         (on the sender's channel; `node` is the one that applied it)
 *   monitor push: 'W' u16 len sessionId, then exactly the body of a push
 *         ('P' without its kind byte); `users` are the monitoring users the
 *         receiver hands it to (its connections monitoring sessionId), never
 *         the session's members (monitor.c, docs/cluster.md)
 *   monitor subscription: 'M' u16 len node  u16 len sessionId  u16 len userId
 *         u8 on(1)/off(0)  u64 token
 *         (`node` gained its first / lost its last connection of userId
 *         monitoring sessionId; on the broadcast channel, or on one node's
 *         channel when re-announced to a node that said hello; token != 0:
 *         the receiver acks with 'g' on `node`'s channel)
 *   presence changed: 'Y' u16 len node  u16 len userId  u64 0
 *         (broadcast, the layout of 'G' with the user id in groupId: the
 *         devices of userId on `node` changed; nodes with watchers of userId
 *         read its presence entries again; cluster/presence_watch.c)
 *   node hello: 'H' u16 len node  u8 hello(1)/bye(0)
 *         (broadcast; every other node drops what it knows of `node`'s
 *         monitor subscriptions and, on hello, re-announces its own to it)
 *
 * A kick closes the receiver's devices of userId with deviceType that
 * logged in at or before beforeMs (and, if deviceId is not empty, have that
 * deviceId), telling them the device (byType, byId) replaced them.
 */
#ifndef OMTP_CLUSTER_MSG_H
#define OMTP_CLUSTER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/omtp_errors.h"
#include "proto/omtp_proto.h" /* OMTP_ID_MAX */
#include "tars/tars.h"

#define OMTP_CLUSTER_MSG_PUSH  'P'
#define OMTP_CLUSTER_MSG_KICK  'K'
#define OMTP_CLUSTER_MSG_GROUP 'G'
#define OMTP_CLUSTER_MSG_GACK  'g'
#define OMTP_CLUSTER_MSG_MPUSH 'W'
#define OMTP_CLUSTER_MSG_MSUB  'M'
#define OMTP_CLUSTER_MSG_HELLO 'H'
#define OMTP_CLUSTER_MSG_PRES  'Y'
#define OMTP_CLUSTER_SID_MAX   (2 * OMTP_ID_MAX + 8) /* longest session id */
#define OMTP_CLUSTER_MAX_USERS 65535

typedef struct omtp_cluster_push {
    const char *sessionId; /* monitor push ('W') only; as users */
    const char **users;    /* encode: borrowed; decode: owned (free with _free) */
    uint32_t nusers;
    int32_t type;
    int64_t flags;
    const char *packId;
    const uint8_t *payload;
    size_t payload_len;
    char *owned; /* decode: one block holding users, packId and payload */
} omtp_cluster_push;

typedef struct omtp_cluster_kick {
    char userId[OMTP_ID_MAX + 1];
    int32_t deviceType;
    int64_t beforeMs;
    char deviceId[OMTP_ID_MAX + 1];
    int32_t byType;
    char byId[OMTP_ID_MAX + 1];
} omtp_cluster_kick;

typedef struct omtp_cluster_group {
    char node[128];
    char groupId[OMTP_ID_MAX + 1]; /* "" in an ack ('g') */
    uint64_t token;
} omtp_cluster_group;

typedef struct omtp_cluster_msub {
    char node[128];
    char sessionId[OMTP_CLUSTER_SID_MAX];
    char userId[OMTP_ID_MAX + 1];
    bool on;
    uint64_t token; /* 0: no ack wanted */
} omtp_cluster_msub;

typedef struct omtp_cluster_hello {
    char node[128];
    bool hello; /* false: goodbye (the node stops) */
} omtp_cluster_hello;

/* Appends the encoding (check tars_buf_ok). */
void omtp_cluster_push_encode(tars_buf *b, const omtp_cluster_push *m);
/* A monitor push ('W'): m->sessionId must be set. */
void omtp_cluster_mpush_encode(tars_buf *b, const omtp_cluster_push *m);
void omtp_cluster_msub_encode(tars_buf *b, const omtp_cluster_msub *m);
void omtp_cluster_hello_encode(tars_buf *b, const omtp_cluster_hello *h);
void omtp_cluster_kick_encode(tars_buf *b, const omtp_cluster_kick *k);
/* 0, or OMTP_EDECODE / OMTP_ENOMEM. */
int omtp_cluster_push_decode(const void *data, size_t len, omtp_cluster_push *m);
void omtp_cluster_push_free(omtp_cluster_push *m);
/* A monitor push: as push_decode, plus m->sessionId (owned with the rest). */
int omtp_cluster_mpush_decode(const void *data, size_t len, omtp_cluster_push *m);
int omtp_cluster_msub_decode(const void *data, size_t len, omtp_cluster_msub *m);
int omtp_cluster_hello_decode(const void *data, size_t len, omtp_cluster_hello *h);
int omtp_cluster_kick_decode(const void *data, size_t len, omtp_cluster_kick *k);
/* kind: OMTP_CLUSTER_MSG_GROUP (notice) or OMTP_CLUSTER_MSG_GACK (ack, no
 * group id). Decoding checks the kind is the one asked for. */
void omtp_cluster_group_encode(tars_buf *b, int kind, const omtp_cluster_group *g);
int omtp_cluster_group_decode(const void *data, size_t len, int kind, omtp_cluster_group *g);

#endif
