/*
 * chat_common.h - helpers shared by the test_chat_*.c integration tests:
 * log in a device, send and check, find pushes of a type, decode the
 * OTIMPacks of history and hot sessions. Everything talks to a real omtpd
 * over TCP through the blocking client (omtp_sync.h); the server itself is
 * started by the harness (tests/support/harness.h).
 *
 * Helpers are static inline so each test uses only what it needs.
 */
#ifndef CHAT_COMMON_H
#define CHAT_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/omtp_sync.h"
#include "harness.h"
#include "proto/omtp_packet.h"

/* The AES key every chat test server is configured with. */
#define CHAT_AES_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

typedef h_server chat_srv;

/* Starts omtpd with the test AES key plus `conf` (config-file lines). */
static inline chat_srv *chat_srv_start(const char *conf, const char *const *args)
{
    char text[1024];
    snprintf(text, sizeof text, "aes_key_hex = %s\nlog_level = warn\n%s\n", CHAT_AES_HEX,
             conf ? conf : "");
    return h_server_start(text, args);
}

/* Creates a user whose password is its id; role 1 = monitor. */
static inline void chat_srv_user(chat_srv *s, const char *user, int role)
{
    h_user_add(s, user, user);
    if (role) {
        const char *args[] = {"user", "role", user, "monitor", NULL};
        assert_int_equal(h_admin(s, NULL, 0, args), 0);
    }
}

static inline int chat_srv_port(chat_srv *s)
{
    return s->port;
}

static inline void chat_srv_stop(chat_srv *s)
{
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* Clean stop (SIGTERM) and start again on the same data. */
static inline void chat_srv_restart(chat_srv *s)
{
    assert_int_equal(h_server_stop(s), 0);
    h_server_restart(s);
}

static inline void chat_srv_aes_key(chat_srv *s, omtp_crypto_key *k)
{
    (void)s;
    assert_int_equal(omtp_crypto_key_from_hex(k, CHAT_AES_HEX), 0);
}

/* Logs `user` in on device type `dev` (password = the user id: tests create
 * users that way). */
static inline omtp_sync *chat_login(int port, const char *user, int dev)
{
    omtp_sync *c = NULL;
    int code = -1;
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", port, 5000), 0);
    assert_int_equal(omtp_sync_login(c, user, user, dev, NULL, &code), 0);
    assert_int_equal(code, OMTP_EC_SUCCESS);
    return c;
}

/* Sends and returns the MsgAck code; *seq gets the seqId. */
static inline int chat_send(omtp_sync *c, const char *to, const char *content, int64_t *seq)
{
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(c, PT_MSG_SINGLE_CHAT, to, content, NULL, 0, &ack), 0);
    int code = ack.code;
    if (seq)
        *seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return code;
}

/* Waits for the next push of `type` (skipping others) within timeout_ms. */
static inline int chat_next_push(omtp_sync *c, int type, int timeout_ms, omtp_packet *p)
{
    for (;;) {
        int rc = omtp_sync_next_push(c, timeout_ms, p);
        if (rc != 0)
            return rc;
        if (p->header.type == type)
            return 0;
        omtp_packet_free(p);
    }
}

/* Counts (and drops) the pushes of `type` that reached c before the reply
 * to a PING sent now: the server writes each connection's packets in order,
 * so everything queued before the PING was handled is counted. */
static inline int chat_count_pushes(omtp_sync *c, int type)
{
    omtp_packet p;
    int n = 0;
    assert_int_equal(omtp_sync_ping(c), 0);
    while (omtp_sync_next_push(c, 0, &p) == 0) {
        if (p.header.type == type)
            n++;
        omtp_packet_free(&p);
    }
    return n;
}

/* Decodes the MsgReq inside a stored-message OTIMPack. */
static inline void chat_pack_msg(const omtp_OTIMPack *pk, omtp_MsgReq *m)
{
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, m, pk->payload.data, pk->payload.len, NULL), 0);
}

/* History of a session as a reply (caller frees). Returns the code. */
static inline int chat_history(omtp_sync *c, const char *sid, int64_t seq, int count,
                               omtp_HistoryMsgPullResp *out)
{
    assert_int_equal(omtp_sync_history(c, sid, seq, count, out), 0);
    return out->errorCode.code;
}

/* The hot-session item of sid in a HotSessionResp, or NULL. */
static inline const omtp_HotSessionItem *chat_hot_find(const omtp_HotSessionResp *r,
                                                       const char *sid)
{
    for (uint32_t i = 0; i < r->sessions.n; i++)
        if (tars_str_eq(&r->sessions.items[i].sessionId, sid))
            return &r->sessions.items[i];
    return NULL;
}

#endif
