/*
 * dispatch.c - from a frame to a handler.
 *
 * Rulings applied here (DESIGN.md):
 *   - an OTIMPack that does not decode: error frame, then close;
 *   - before login only PING and LOGIN; anything else gets
 *     CONN_ACCESS_DENIED (23) and the connection closes;
 *   - an unknown packet type: CommonErrorCode PROTOCOL (1), stays open;
 *   - a bad COMPRESS/CRYPTO value or a bad AES tag: the type's reply with
 *     PROTOCOL and the reason (a plain reply: the peer's transform is what
 *     failed), stays open;
 *   - a payload that does not decode: the type's reply with PROTOCOL and a
 *     desc naming the field, stays open;
 *   - an identifier field holding a NUL byte (reqcheck.c): PARAM naming it;
 *   - a request whose payload is empty where its type has a struct gets
 *     PROTOCOL (handlers always get a body), except PT_LOGIN (code 20),
 *     PT_USERATTRIBUTE_GET (empty = no filter) and PT_SESSION_MONITOR_SYNC
 *     (empty = from the first session);
 *   - a text field over its limit (proto/omtp_limits.h): PARAM naming it;
 *   - ACK packets from a client are answers to pushes: PT_SYNC_DATA_CMD goes
 *     to its handler, others are dropped; a PT_SYNC_DATA_CMD *request* (ACK
 *     clear) gets PROTOCOL: only the server sends those;
 *   - the request rate limit (req_rate, req_burst; ratelimit.h): every
 *     request of a logged-in connection costs a token except PING, LOGIN
 *     and LOGOUT; without one it gets SERVER_REFUSED (7) and is not run;
 *     more than req_refusals_max refusals within 10 s close the connection.
 * The transforms a peer uses (zlib, AES) are remembered on the connection
 * for pushes.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const omtp_handler_fn handlers[OMTP_PT_MAX] = {
    [PT_PING] = handle_ping,
    [PT_LOGIN] = handle_login,
    [PT_LOGOUT] = handle_logout,
    [PT_KICKOUT] = handle_kickout,
    [PT_MSG_SINGLE_CHAT] = handle_single_chat,
    [PT_MSG_GROUP_CHAT] = handle_group_chat,
    [PT_MSG_BIZ_NOTIFY] = handle_biz_notify,
    [PT_MSG_CTRL] = handle_msg_ctrl,
    [PT_MSG_READ] = handle_msg_read,
    [PT_HOTSESSION_SYNC] = handle_hot_session_sync,
    [PT_HIGH_PRIOR_MSG_SYNC] = handle_high_prior_sync,
    [PT_HISTORY_MSG_PULL] = handle_history_pull,
    [PT_SESSION_MONITOR_START] = handle_monitor_start,
    [PT_SESSION_MONITOR_STOP] = handle_monitor_stop,
    [PT_SESSION_MONITOR_SYNC] = handle_monitor_sync,
    [PT_SYNC_DATA_CMD] = handle_sync_data_ack,
    [PT_GROUPCHAT_SYNC] = handle_group_sync,
    [PT_GROUPCHAT_CREATE] = handle_group_create,
    [PT_GROUPCHAT_JION] = handle_group_join,
    [PT_GROUPCHAT_QUIT] = handle_group_quit,
    [PT_GROUPCHAT_DISMISS] = handle_group_dismiss,
    [PT_GROUPCHAT_UPDATE_CREATOR] = handle_group_update_creator,
    [PT_GROUPCHAT_INFO_UPDATE] = handle_group_info_update,
    [PT_GROUPCHAT_MEMBERS_GET] = handle_group_members_get,
    [PT_FRIEND_ADD] = handle_friend_add,
    [PT_FRIEND_DEL] = handle_friend_del,
    [PT_FRIEND_SYNC] = handle_friend_sync,
    [PT_USERINFO_GET] = handle_userinfo_get,
    [PT_USERINFO_UPDATE] = handle_userinfo_update,
    [PT_USERATTRIBUTE_SET] = handle_user_attr_set,
    [PT_USERATTRIBUTE_GET] = handle_user_attr_get,
    [PT_SESSIONATTRIBUTE_SET] = handle_session_attr_set,
};

omtp_handler_fn omtp_dispatch_handler(int type)
{
    if (type <= 0 || type >= OMTP_PT_MAX)
        return NULL;
    return handlers[type];
}

void omtp_send_error_frame(omtp_conn *c, int code, const char *desc)
{
    omtp_CommonErrorCode e;
    omtp_msg_init(&omtp_CommonErrorCode_desc, &e);
    e.code = code;
    tars_str_set(&e.desc, desc);
    omtp_wire *w = omtp_wire_new(PT_NONE, OMTP_F_ACK, "", &omtp_CommonErrorCode_desc, &e);
    if (w) {
        omtp_conn_send_wire_v(c, w, OMTP_V_PLAIN);
        omtp_wire_unref(w);
    }
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
}

static omtp_req *req_new(omtp_conn *c, omtp_packet *p)
{
    omtp_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->conn = c;
    omtp_conn_ref(c);
    omtp_conn_req_started(c);
    r->type = p->header.type;
    r->flags = p->header.flags;
    snprintf(r->packId, sizeof(r->packId), "%s",
             p->header.packId.data ? p->header.packId.data : "");
    r->desc = p->desc;
    r->body = p->body; /* moved */
    p->body = NULL;
    r->startNs = uv_hrtime();
    return r;
}

/* Packets the rate limit never refuses: the heartbeat must keep a limited
 * client alive, LOGIN after login is answered at once without store work,
 * and LOGOUT ends the connection. */
static bool rate_exempt(int type)
{
    return type == PT_PING || type == PT_LOGIN || type == PT_LOGOUT;
}

/* Charges r to the connection's bucket. Returns true if r may run; false
 * when it was refused (answered and freed; the connection may be closing). */
static bool rate_check(omtp_conn *c, omtp_req *r, bool transform_failed)
{
    omtp_server *s = c->srv;
    const omtp_config *cfg = s->cfg;
    uint32_t burst = omtp_ratelimit_burst(cfg->req_rate, cfg->req_burst);
    uint64_t now = uv_now(s->loop);
    omtp_ratelimit *rl = omtp_conn_ratelimit(c);
    if (rate_exempt(r->type)) {
        omtp_ratelimit_refill(rl, cfg->req_rate, burst, now); /* keeps the stamp recent */
        return true;
    }
    int v = omtp_ratelimit_take(rl, cfg->req_rate, burst, cfg->req_refusals_max, now);
    if (v == OMTP_RL_OK)
        return true;
    s->metrics.rate_limited++;
    if (transform_failed) /* the reply goes back untransformed */
        r->flags &= ~(OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK);
    if (v == OMTP_RL_REFUSE) {
        omtp_reply_code(r, OMTP_EC_SERVER_REFUSED,
                        "rate limit: more than %u requests per second (burst %u) on this "
                        "connection; slow down and retry later",
                        cfg->req_rate, burst);
        return false;
    }
    s->metrics.rate_limit_closes++;
    char text[160];
    snprintf(text, sizeof(text), "rate limit exceeded persistently (more than %u refusals in %u s)",
             cfg->req_refusals_max, OMTP_RL_WINDOW_MS / 1000);
    LOG_WARN("conn %llu %s user=%s dev=%s device=%s: %s, closing", (unsigned long long)c->id,
             c->peer, c->userId, omtp_log_device(c->deviceType), c->deviceId, text);
    omtp_conn_ref(c);
    omtp_reply_code(r, OMTP_EC_SERVER_REFUSED, "%s: closing the connection", text);
    omtp_conn_close(c, text);
    omtp_conn_unref(c);
    return false;
}

void omtp_dispatch_frame(omtp_conn *c, const uint8_t *frame, size_t len)
{
    omtp_server *s = c->srv;
    omtp_packet p;
    int stage;
    char why[256];
    omtp_decode_opts opts = {.key = s->aes_key.set ? &s->aes_key : NULL,
                             .max_payload = s->cfg->max_frame};
    int rc = omtp_packet_decode(frame, len, &opts, &p, &stage, why, sizeof(why));
    if (rc && stage == OMTP_STAGE_FRAME) {
        s->metrics.frame_errors++;
        omtp_send_error_frame(c, OMTP_EC_PROTOCOL, why);
        omtp_conn_close(c, why);
        omtp_packet_free(&p);
        return;
    }
    int type = p.header.type;
    int64_t flags = p.header.flags;
    s->metrics.packets_in[type > 0 && type < OMTP_PT_MAX ? type : 0]++;
    if (p.header.version != OMTP_VERSION && !omtp_conn_version_warned(c))
        LOG_INFO("conn %llu speaks version %d (expected %d), accepting", (unsigned long long)c->id,
                 p.header.version, OMTP_VERSION);
    if (p.header.packId.len > OMTP_PACKID_MAX) {
        omtp_send_error_frame(c, OMTP_EC_PROTOCOL, "packId longer than 128 bytes");
        omtp_conn_close(c, "packId longer than 128 bytes");
        omtp_packet_free(&p);
        return;
    }
    bool online = c->state == OMTP_CONN_ONLINE;
    omtp_handler_fn h = omtp_dispatch_handler(type);

    /* answers to pushes */
    if (flags & OMTP_F_ACK) {
        if (online && type == PT_SYNC_DATA_CMD && rc == 0) {
            omtp_req *r = req_new(c, &p);
            if (r)
                handle_sync_data_ack(r);
        }
        omtp_packet_free(&p);
        return;
    }

    omtp_req *r = req_new(c, &p);
    omtp_packet_free(&p);
    if (!r) {
        omtp_conn_abort(c, "out of memory");
        return;
    }
    if (!online && type != PT_PING && type != PT_LOGIN) {
        char text[128];
        snprintf(text, sizeof(text), "%s before login: log in first (PT_LOGIN)",
                 omtp_pack_type_name(type));
        omtp_conn_ref(c);
        omtp_reply_code(r, OMTP_EC_CONN_ACCESS_DENIED, "%s", text);
        omtp_conn_close(c, text);
        omtp_conn_unref(c);
        return;
    }
    if (online && s->cfg->req_rate && !rate_check(c, r, rc != 0))
        return;
    if (!h) {
        omtp_reply_code(r, OMTP_EC_PROTOCOL, "unknown packet type %d", type);
        return;
    }
    if (rc) {
        /* bad transform or payload: the reply goes back untransformed */
        r->flags &= ~(OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK);
        omtp_reply_code(r, OMTP_EC_PROTOCOL, "%s", why[0] ? why : omtp_strerror(rc));
        return;
    }
    if (r->desc && !r->body && type != PT_LOGIN && type != PT_USERATTRIBUTE_GET &&
        type != PT_SESSION_MONITOR_SYNC) {
        omtp_reply_code(r, OMTP_EC_PROTOCOL, "empty payload: %s expected", r->desc->name);
        return;
    }
    if (r->body && omtp_req_check_ids(r->desc, r->body, why, sizeof(why))) {
        omtp_reply_code(r, OMTP_EC_PARAM, "%s", why);
        return;
    }
    if (r->body && omtp_limits_check(r->desc, r->body, why, sizeof(why))) {
        s->metrics.fields_too_long++;
        omtp_reply_code(r, OMTP_EC_PARAM, "%s; shorten it", why);
        return;
    }
    if (type == PT_SYNC_DATA_CMD) {
        /* the server pushes it; a client only answers it, with ACK set */
        omtp_reply_code(r, OMTP_EC_PROTOCOL,
                        "PT_SYNC_DATA_CMD is sent by the server; answer it with the ACK flag");
        return;
    }
    if (omtp_flags_compress(flags) == OMTP_COMPRESS_ZLIB)
        c->uses_zlib = true;
    if (omtp_flags_crypto(flags) == OMTP_CRYPTO_AES)
        c->uses_aes = true;
    h(r);
}
