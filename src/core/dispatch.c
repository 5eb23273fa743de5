/*
 * dispatch.c - from a frame to a handler.
 *
 * The table is filled by the adapters at start (omtp_dispatch_register,
 * server.h; the OMTP handlers in omtp/handlers.c): this file names no
 * handler. Rulings applied here (DESIGN.md), with the entry flags that say
 * which types they concern (PT_* below are today's registrations):
 *   - an OTIMPack that does not decode: error frame, then close;
 *   - before login only PRELOGIN types (PING and LOGIN); anything else gets
 *     CONN_ACCESS_DENIED (23) and the connection closes;
 *   - an unknown packet type: CommonErrorCode PROTOCOL (1), stays open;
 *   - a bad COMPRESS/CRYPTO value or a bad AES tag: the type's reply with
 *     PROTOCOL and the reason (a plain reply: the peer's transform is what
 *     failed), stays open;
 *   - a payload that does not decode: the type's reply with PROTOCOL and a
 *     desc naming the field, stays open;
 *   - an identifier field holding a NUL byte (reqcheck.c): PARAM naming it;
 *   - a request whose payload is empty where its type has a struct gets
 *     PROTOCOL (handlers always get a body), except EMPTY_OK types: PT_LOGIN
 *     (code 20), PT_USERATTRIBUTE_GET (empty = no filter) and
 *     PT_SESSION_MONITOR_SYNC (empty = from the first session);
 *   - a text field over its limit (proto/omtp_limits.h): PARAM naming it;
 *   - ACK packets from a client are answers to pushes: ANSWERS types
 *     (PT_SYNC_DATA_CMD) go to their handler, others are dropped; an ANSWERS
 *     *request* (ACK clear) gets PROTOCOL: only the server sends those;
 *   - the request rate limit (req_rate, req_burst; ratelimit.h): every
 *     request of a logged-in connection costs a token except RATE_EXEMPT
 *     types (PING, LOGIN and LOGOUT); without one it gets SERVER_REFUSED (7)
 *     and is not run;
 *     more than req_refusals_max refusals within 10 s close the connection.
 * The transforms a peer uses (zlib, AES) are remembered on the connection
 * for pushes.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int omtp_dispatch_register(omtp_server *s, int type, omtp_handler_fn fn, unsigned flags)
{
    if (type <= 0 || type >= OMTP_PT_MAX || !fn)
        return OMTP_EINVAL;
    s->dispatch[type].fn = fn;
    s->dispatch[type].flags = flags;
    return 0;
}

/* The entry for a packet type, or NULL if nothing handles it. */
static const struct omtp_dispatch_entry *entry_of(const omtp_server *s, int type)
{
    if (type <= 0 || type >= OMTP_PT_MAX || !s->dispatch[type].fn)
        return NULL;
    return &s->dispatch[type];
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

/* Charges r to the connection's bucket. Returns true if r may run; false
 * when it was refused (answered and freed; the connection may be closing).
 * RATE_EXEMPT types (the heartbeat must keep a limited client alive, LOGIN
 * after login is answered at once without store work, LOGOUT ends the
 * connection) are never refused. */
static bool rate_check(omtp_conn *c, omtp_req *r, bool exempt, bool transform_failed)
{
    omtp_server *s = c->srv;
    const omtp_config *cfg = s->cfg;
    uint32_t burst = omtp_ratelimit_burst(cfg->req_rate, cfg->req_burst);
    uint64_t now = uv_now(s->loop);
    omtp_ratelimit *rl = omtp_conn_ratelimit(c);
    if (exempt) {
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
    const struct omtp_dispatch_entry *e = entry_of(s, type);
    unsigned eflags = e ? e->flags : 0;

    /* answers to pushes */
    if (flags & OMTP_F_ACK) {
        if (online && (eflags & OMTP_DISPATCH_ANSWERS) && rc == 0) {
            omtp_req *r = req_new(c, &p);
            if (r)
                e->fn(r);
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
    if (!online && !(eflags & OMTP_DISPATCH_PRELOGIN)) {
        char text[128];
        snprintf(text, sizeof(text), "%s before login: log in first (PT_LOGIN)",
                 omtp_pack_type_name(type));
        omtp_conn_ref(c);
        omtp_reply_code(r, OMTP_EC_CONN_ACCESS_DENIED, "%s", text);
        omtp_conn_close(c, text);
        omtp_conn_unref(c);
        return;
    }
    if (online && s->cfg->req_rate &&
        !rate_check(c, r, (eflags & OMTP_DISPATCH_RATE_EXEMPT) != 0, rc != 0))
        return;
    if (!e) {
        omtp_reply_code(r, OMTP_EC_PROTOCOL, "unknown packet type %d", type);
        return;
    }
    if (rc) {
        /* bad transform or payload: the reply goes back untransformed */
        r->flags &= ~(OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK);
        omtp_reply_code(r, OMTP_EC_PROTOCOL, "%s", why[0] ? why : omtp_strerror(rc));
        return;
    }
    if (r->desc && !r->body && !(eflags & OMTP_DISPATCH_EMPTY_OK)) {
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
    if (eflags & OMTP_DISPATCH_ANSWERS) {
        /* the server pushes it; a client only answers it, with ACK set */
        omtp_reply_code(r, OMTP_EC_PROTOCOL,
                        "%s is sent by the server; answer it with the ACK flag",
                        omtp_pack_type_name(type));
        return;
    }
    if (omtp_flags_compress(flags) == OMTP_COMPRESS_ZLIB)
        c->uses_zlib = true;
    if (omtp_flags_crypto(flags) == OMTP_CRYPTO_AES)
        c->uses_aes = true;
    e->fn(r);
}
