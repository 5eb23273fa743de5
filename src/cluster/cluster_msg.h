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
 *
 * A kick closes the receiver's devices of userId with deviceType that
 * logged in at or before beforeMs (and, if deviceId is not empty, have that
 * deviceId), telling them the device (byType, byId) replaced them.
 */
#ifndef OMTP_CLUSTER_MSG_H
#define OMTP_CLUSTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tars/tars.h"

#define OMTP_CLUSTER_MSG_PUSH  'P'
#define OMTP_CLUSTER_MSG_KICK  'K'
#define OMTP_CLUSTER_MSG_GROUP 'G'
#define OMTP_CLUSTER_MSG_GACK  'g'
#define OMTP_CLUSTER_MAX_USERS 65535

typedef struct omtp_cluster_push {
    const char **users; /* encode: borrowed; decode: owned (free with _free) */
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

/* Appends the encoding (check tars_buf_ok). */
void omtp_cluster_push_encode(tars_buf *b, const omtp_cluster_push *m);
void omtp_cluster_kick_encode(tars_buf *b, const omtp_cluster_kick *k);
/* 0, or OMTP_EDECODE / OMTP_ENOMEM. */
int omtp_cluster_push_decode(const void *data, size_t len, omtp_cluster_push *m);
void omtp_cluster_push_free(omtp_cluster_push *m);
int omtp_cluster_kick_decode(const void *data, size_t len, omtp_cluster_kick *k);
/* kind: OMTP_CLUSTER_MSG_GROUP (notice) or OMTP_CLUSTER_MSG_GACK (ack, no
 * group id). Decoding checks the kind is the one asked for. */
void omtp_cluster_group_encode(tars_buf *b, int kind, const omtp_cluster_group *g);
int omtp_cluster_group_decode(const void *data, size_t len, int kind, omtp_cluster_group *g);

#endif
