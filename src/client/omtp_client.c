/*
 * omtp_client.c - the asynchronous client: connection, login, requests,
 * heartbeat, reconnect and the outbox (see omtp_client.h).
 *
 * Handles: three timers per client (request deadlines, heartbeat, connect
 * timeout / reconnect delay) and, on demand, one uv_async for posts. Each
 * TCP connection is its own allocation (omtp_conn): a dropped connection is
 * detached and closed while a new one may already be connecting, so no
 * handle is ever reused across connections.
 *
 * Deadlines: requests sit in send order in a list; one timer is armed for
 * the earliest deadline and a firing scans the list. With one timeout for
 * all requests the head is the earliest, so arming costs O(1) per request.
 * Replies are matched by a linear search of the in-flight list, which is
 * short for interactive use and for the load generator's paced senders.
 */
#include "omtp_client_int.h"
#include "omtp_packid.h"
#include "omtp_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_KEEPALIVE_S  30
#define DEFAULT_REQ_TIMEOUT  10000
#define DEFAULT_CONN_TIMEOUT 5000
#define DEFAULT_GIVE_UP      300000

static const int backoff_s[] = {0, 1, 2, 4, 8, 16};

static void conn_drop_code(omtp_client *c, int err, int code, const char *why);
#define conn_drop(c, err, why) conn_drop_code((c), (err), 0, (why))
static void on_req_timer(uv_timer_t *t);
static void on_hb_timer(uv_timer_t *t);
static void send_login(omtp_client *c);
static void arm_req_timer(omtp_client *c, uint64_t deadline);
static void outbox_send(omtp_client *c, omtp_req *r);

/* ---- small helpers ----------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void list_add(omtp_req_list *l, omtp_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_del(omtp_req_list *l, omtp_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static omtp_req *list_find(omtp_req_list *l, const char *id)
{
    for (omtp_req *r = l->head; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

static void req_free(omtp_req *r)
{
    tars_buf_free(&r->payload);
    free(r);
}

static uint64_t session_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static void own_add(omtp_client *c, const char *session, int64_t seq)
{
    c->own_ring[c->own_pos++ % 256] = (int64_t)(session_hash(session) ^ (uint64_t)seq);
}

bool omtp__is_own(const omtp_client *c, const char *session, int64_t seq)
{
    int64_t k = (int64_t)(session_hash(session) ^ (uint64_t)seq);
    unsigned n = c->own_pos < 256 ? c->own_pos : 256;
    for (unsigned i = 0; i < n; i++)
        if (c->own_ring[i] == k)
            return true;
    return false;
}

void omtp__emit_state(omtp_client *c, int err, int code, const char *desc)
{
    if (!c->cb.on_state || c->destroyed)
        return;
    omtp_client_event ev = {.state = c->state,
                            .err = err,
                            .code = code,
                            .desc = desc ? desc : "",
                            .attempt = c->attempt};
    if (c->state == OMTP_CLIENT_WAITING)
        ev.delay_ms = (int)uv_timer_get_due_in(&c->retry_timer);
    c->cb.on_state(c, &ev, c->ud);
}

static void set_state(omtp_client *c, int st, int err, int code, const char *desc)
{
    c->state = st;
    omtp__emit_state(c, err, code, desc);
}

/* ---- writing ----------------------------------------------------------- */

typedef struct wreq {
    uv_write_t w;
    uv_buf_t buf;
    uint8_t data[];
} wreq;

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows up as a read error / EOF */
    free(w->data);
}

static int conn_write_bytes(omtp_conn *k, const uint8_t *p, size_t n)
{
    wreq *w = malloc(sizeof(*w) + n);
    if (!w)
        return OMTP_ENOMEM;
    memcpy(w->data, p, n);
    w->buf = uv_buf_init((char *)w->data, (unsigned)n);
    w->w.data = w;
    int rc = uv_write(&w->w, (uv_stream_t *)&k->tcp, &w->buf, 1, on_written);
    if (rc) {
        free(w);
        return OMTP_EIO;
    }
    return 0;
}

static int tls_flush(omtp_conn *k)
{
    tars_buf out;
    tars_buf_init(&out);
    omtp_tls_take(k->tls, &out);
    int rc = out.len ? conn_write_bytes(k, out.data, out.len) : 0;
    tars_buf_free(&out);
    return rc;
}

/* Socket-level plaintext (below the WebSocket, above TLS). */
static int conn_write_plain(omtp_conn *k, const uint8_t *p, size_t n)
{
    if (k->tls) {
        if (omtp_tls_write(k->tls, p, n))
            return OMTP_EIO;
        return tls_flush(k);
    }
    return conn_write_bytes(k, p, n);
}

static int conn_write(omtp_client *c, const uint8_t *p, size_t n)
{
    omtp_conn *k = c->conn;
    if (!k)
        return OMTP_ECLOSED;
    if (k->ws) { /* one OMTP frame = one binary message */
        tars_buf out;
        tars_buf_init(&out);
        int rc = omtp_ws_wrap(k->ws, p, n, &out);
        if (!rc)
            rc = tars_buf_ok(&out) ? conn_write_plain(k, out.data, out.len) : OMTP_ENOMEM;
        tars_buf_free(&out);
        return rc;
    }
    if (k->tls) {
        if (omtp_tls_write(k->tls, p, n))
            return OMTP_EIO;
        return tls_flush(k);
    }
    return conn_write_bytes(k, p, n);
}

static int send_frame(omtp_client *c, int type, int64_t flags, const char *id,
                      const tars_struct_desc *desc, const void *body)
{
    tars_buf_reset(&c->enc);
    int rc =
        omtp_packet_encode(&c->enc, type, flags, id, desc, body, c->key.set ? &c->key : NULL, 0);
    if (rc)
        return rc;
    return conn_write(c, c->enc.data, c->enc.len);
}

/* ---- requests ---------------------------------------------------------- */

int omtp__request(omtp_client *c, int type, int64_t flags, const tars_struct_desc *desc,
                  const void *body, int timeout_ms, omtp_reply_cb cb, void *ud)
{
    return omtp_client_request(c, type, flags, desc, body, timeout_ms, cb, ud, NULL);
}

static int request_any_state(omtp_client *c, int type, int64_t flags, const tars_struct_desc *desc,
                             const void *body, int timeout_ms, omtp_reply_cb cb, void *ud,
                             char *pack_id_out)
{
    if (!c->conn)
        return OMTP_ECLOSED;
    omtp_req *r = calloc(1, sizeof(*r));
    if (!r)
        return OMTP_ENOMEM;
    omtp_packid_new(r->id);
    r->type = type;
    r->rcb = cb;
    r->ud = ud;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : c->cfg.request_timeout_ms;
    int rc = send_frame(c, type, flags | c->xflags, r->id, desc, body);
    if (rc) {
        free(r);
        return rc;
    }
    if (pack_id_out)
        memcpy(pack_id_out, r->id, 37);
    r->inflight = true;
    r->deadline = uv_now(c->loop) + (uint64_t)r->timeout_ms;
    list_add(&c->reqs, r);
    arm_req_timer(c, r->deadline);
    return 0;
}

int omtp_client_request(omtp_client *c, int type, int64_t flags, const tars_struct_desc *desc,
                        const void *body, int timeout_ms, omtp_reply_cb cb, void *ud,
                        char *pack_id_out)
{
    if (c->state != OMTP_CLIENT_ONLINE)
        return OMTP_ECLOSED;
    return request_any_state(c, type, flags, desc, body, timeout_ms, cb, ud, pack_id_out);
}

static void arm_req_timer(omtp_client *c, uint64_t deadline)
{
    uint64_t now = uv_now(c->loop);
    uint64_t in = deadline > now ? deadline - now : 0;
    if (uv_is_active((uv_handle_t *)&c->req_timer) && uv_timer_get_due_in(&c->req_timer) <= in)
        return;
    uv_timer_start(&c->req_timer, on_req_timer, in, 0);
}

/* ---- outbox ------------------------------------------------------------ */

static void outbox_send(omtp_client *c, omtp_req *r)
{
    int64_t f = r->flags | c->xflags;
    if (r->attempts > 0)
        f |= OMTP_F_DUP;
    tars_buf_reset(&c->enc);
    int rc = omtp_packet_encode_raw(&c->enc, r->type, f, r->id, r->payload.data, r->payload.len,
                                    c->key.set ? &c->key : NULL, 0);
    if (rc == 0)
        rc = conn_write(c, c->enc.data, c->enc.len);
    r->attempts++;
    r->inflight = rc == 0;
    r->deadline = uv_now(c->loop) + (uint64_t)c->cfg.request_timeout_ms;
    arm_req_timer(c, r->deadline);
}

/*
 * Outbox pacing. At most OUTBOX_WIN messages are in flight at once (a flush
 * after a reconnect, or a burst of sends, queues the rest behind them, in
 * order): under the server's default burst (req_burst 200) and close limit
 * (req_refusals_max 100 refusals in 10 s).
 *
 * A SERVER_REFUSED (7) ack means the server's rate limit: the message stays
 * queued and the client turns paced (c->win = 1): one message in flight,
 * sent pace_ms after the previous send. The first refusal sets pace_ms to
 * PACE_MIN_MS, a refusal of a paced send doubles it (up to PACE_MAX_MS),
 * each accepted paced send shortens it by 1/20 (down to PACE_FLOOR_MS): it
 * settles near the server's rate with about one refusal in fourteen sends,
 * far below the close limit. Once nothing waits, it is unpaced again.
 */
#define OUTBOX_WIN    64
#define PACE_MIN_MS   100
#define PACE_MAX_MS   4000
#define PACE_FLOOR_MS 2

static size_t outbox_inflight(const omtp_client *c)
{
    size_t n = 0;
    for (const omtp_req *r = c->outbox.head; r; r = r->next)
        n += r->inflight;
    return n;
}

/* Sends, in queue order, what waits and fits (see above). */
static void outbox_flush(omtp_client *c)
{
    if (c->state != OMTP_CLIENT_ONLINE)
        return;
    uint64_t now = uv_now(c->loop);
    if (c->win && now < c->pace_until) {
        arm_req_timer(c, c->pace_until);
        return;
    }
    size_t inflight = c->outbox.n > OUTBOX_WIN || c->win ? outbox_inflight(c) : 0;
    size_t win = c->win ? c->win : OUTBOX_WIN;
    bool waiting = false;
    for (omtp_req *r = c->outbox.head; r; r = r->next) {
        if (r->inflight)
            continue;
        if (inflight >= win) {
            waiting = true;
            break;
        }
        outbox_send(c, r);
        r->paced = c->win != 0;
        inflight += r->inflight;
        if (c->win) { /* one per pace_ms */
            c->pace_until = now + c->pace_ms;
            waiting = r->next != NULL;
            break;
        }
    }
    if (c->win && !waiting && inflight == 0) {
        c->win = 0; /* everything went through: back to normal */
        c->pace_ms = 0;
    }
}

/* A SERVER_REFUSED ack: keep the message, wait, and go on slowly. */
static void outbox_refused(omtp_client *c, omtp_req *r)
{
    r->inflight = false;
    uint64_t now = uv_now(c->loop);
    if (!c->win) { /* the first refusal of a burst */
        c->win = 1;
        c->pace_ms = PACE_MIN_MS;
        c->pace_until = now + c->pace_ms;
    } else if (r->paced) { /* still too fast */
        c->pace_ms = c->pace_ms * 2 > PACE_MAX_MS ? PACE_MAX_MS : c->pace_ms * 2;
        c->pace_until = now + c->pace_ms;
    } /* else: one of the burst sent before pacing began */
    arm_req_timer(c, c->pace_until);
}

int omtp_client_send_msg(omtp_client *c, int type, const omtp_MsgReq *msg, int64_t flags,
                         omtp_ack_cb cb, void *ud, char *pack_id_out)
{
    if (type != PT_MSG_SINGLE_CHAT && type != PT_MSG_GROUP_CHAT && type != PT_MSG_BIZ_NOTIFY)
        return OMTP_EINVAL;
    if (c->destroyed)
        return OMTP_ECLOSED;
    omtp_req *r = calloc(1, sizeof(*r));
    if (!r)
        return OMTP_ENOMEM;
    omtp_MsgReq m;
    if (tars_copy(&omtp_MsgReq_desc, &m, msg)) {
        free(r);
        return OMTP_ENOMEM;
    }
    int rc = 0;
    if (m.from.len == 0)
        rc |= tars_str_set(&m.from, c->user);
    if (m.sessionId.len == 0) {
        char sid[600];
        if (type == PT_MSG_SINGLE_CHAT)
            omtp_session_single(c->user, m.to.data ? m.to.data : "", sid, sizeof(sid));
        else
            snprintf(sid, sizeof(sid), "%s", m.to.data ? m.to.data : "");
        rc |= tars_str_set(&m.sessionId, sid);
    }
    if (m.timestamp == 0)
        m.timestamp = omtp_now_ms();
    tars_buf_init(&r->payload);
    if (rc || tars_encode(&r->payload, &omtp_MsgReq_desc, &m, true, 0) ||
        !tars_buf_ok(&r->payload)) {
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        req_free(r);
        return OMTP_ENOMEM;
    }
    snprintf(r->session, sizeof(r->session), "%s", m.sessionId.data);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_packid_new(r->id);
    if (pack_id_out)
        memcpy(pack_id_out, r->id, 37);
    r->type = type;
    r->msg = true;
    r->flags = flags & ~(OMTP_F_ACK | OMTP_F_DUP);
    r->acb = cb;
    r->ud = ud;
    r->first = uv_now(c->loop);
    list_add(&c->outbox, r);
    if (c->state == OMTP_CLIENT_ONLINE && !c->win && c->outbox.n <= OUTBOX_WIN)
        outbox_send(c, r); /* the common case: nothing waits */
    else if (c->state == OMTP_CLIENT_ONLINE)
        outbox_flush(c); /* behind the ones waiting, in order */
    arm_req_timer(c, r->first + (uint64_t)c->cfg.give_up_ms);
    return 0;
}

int omtp_client_send_text(omtp_client *c, const char *to, const char *text, omtp_ack_cb cb,
                          void *ud)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    int rc = OMTP_ENOMEM;
    if (tars_str_set(&m.to, to) || tars_str_set(&m.content, text))
        goto out;
    m.contentType = 1;
    rc = omtp_client_send_msg(c, omtp_session_is_group(to) ? PT_MSG_GROUP_CHAT : PT_MSG_SINGLE_CHAT,
                              &m, 0, cb, ud, NULL);
out:
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return rc;
}

/* Request deadlines and outbox give-up times. */
static void on_req_timer(uv_timer_t *t)
{
    omtp_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    uint64_t next = UINT64_MAX;
    omtp_req *r = c->reqs.head;
    while (r) {
        omtp_req *nx = r->next;
        if (r->deadline <= now) {
            list_del(&c->reqs, r);
            if (r->rcb)
                r->rcb(c, OMTP_ETIMEDOUT, NULL, r->ud);
            req_free(r);
            if (c->destroyed)
                return;
            r = c->reqs.head; /* the callback may have changed the list: restart */
            continue;
        }
        if (r->deadline < next)
            next = r->deadline;
        r = nx;
    }
    if (c->win && c->state == OMTP_CLIENT_ONLINE && now >= c->pace_until)
        outbox_flush(c); /* paced: the wait is over */
    if (c->win && c->state == OMTP_CLIENT_ONLINE && c->pace_until > now && c->pace_until < next)
        next = c->pace_until;
    r = c->outbox.head;
    while (r) {
        omtp_req *nx = r->next;
        uint64_t give_up = r->first + (uint64_t)c->cfg.give_up_ms;
        if (give_up <= now) {
            list_del(&c->outbox, r);
            if (r->acb)
                r->acb(c, OMTP_ETIMEDOUT, NULL, r->ud);
            req_free(r);
            if (c->destroyed)
                return;
            r = c->outbox.head;
            continue;
        }
        if (r->inflight && r->deadline <= now && c->state == OMTP_CLIENT_ONLINE)
            outbox_send(c, r); /* no ack in time: resend with DUP */
        if (r->inflight && r->deadline < next)
            next = r->deadline;
        if (give_up < next)
            next = give_up;
        r = nx;
    }
    if (next != UINT64_MAX)
        uv_timer_start(&c->req_timer, on_req_timer, next > now ? next - now : 0, 0);
}

/* ---- incoming ---------------------------------------------------------- */

static void on_reply(omtp_client *c, omtp_packet *p)
{
    const char *id = p->header.packId.data ? p->header.packId.data : "";
    omtp_req *r = list_find(&c->reqs, id);
    if (r) {
        list_del(&c->reqs, r);
        if (r->rcb)
            r->rcb(c, 0, p, r->ud);
        req_free(r);
        return;
    }
    r = list_find(&c->outbox, id);
    if (!r)
        return; /* late reply to a timed-out request */
    omtp_MsgAck *ack = p->desc == &omtp_MsgAck_desc ? p->body : NULL;
    int code = ack ? ack->code
               : p->desc == &omtp_CommonErrorCode_desc && p->body
                   ? ((omtp_CommonErrorCode *)p->body)->code
                   : OMTP_EC_PROTOCOL;
    if (code == OMTP_EC_SERVER_REFUSED) {
        outbox_refused(c, r); /* the rate limit: not a failure, later */
        return;
    }
    if (c->win && r->paced) { /* paced and accepted: a little faster */
        uint32_t less = c->pace_ms / 20 ? c->pace_ms / 20 : 1;
        c->pace_ms = c->pace_ms - less < PACE_FLOOR_MS ? PACE_FLOOR_MS : c->pace_ms - less;
    }
    if (!ack) {
        /* an error reply without a MsgAck body: report it as one */
        static const omtp_MsgAck empty;
        omtp_MsgAck tmp = empty;
        tmp.code = OMTP_EC_PROTOCOL;
        if (p->desc == &omtp_CommonErrorCode_desc && p->body)
            tmp.code = ((omtp_CommonErrorCode *)p->body)->code;
        list_del(&c->outbox, r);
        if (r->acb)
            r->acb(c, 0, &tmp, r->ud);
        req_free(r);
        return;
    }
    if (ack->code == 0 && ack->seqId > 0)
        own_add(c, ack->sessionId.data ? ack->sessionId.data : r->session, ack->seqId);
    list_del(&c->outbox, r);
    if (r->acb)
        r->acb(c, 0, ack, r->ud);
    req_free(r);
    if (!c->destroyed && (c->win || c->outbox.n >= OUTBOX_WIN))
        outbox_flush(c); /* the next ones that wait for room */
}

static void ack_sync_data(omtp_client *c, omtp_packet *p)
{
    omtp_CommonErrorCode e;
    omtp_msg_init(&omtp_CommonErrorCode_desc, &e);
    send_frame(c, PT_SYNC_DATA_CMD, OMTP_F_ACK | c->xflags, p->header.packId.data,
               &omtp_CommonErrorCode_desc, &e);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
}

static void on_push(omtp_client *c, omtp_packet *p)
{
    switch (p->header.type) {
    case PT_MSG_SINGLE_CHAT:
    case PT_MSG_GROUP_CHAT:
    case PT_MSG_BIZ_NOTIFY:
    case PT_MSG_CTRL:
        if (p->body) {
            omtp__on_push_msg(c, p);
            return;
        }
        break;
    case PT_MSG_REACTION:
        if (p->body && c->cb.on_reaction) {
            c->cb.on_reaction(c, &p->header, p->body, c->ud);
            return;
        }
        break;
    case PT_MSG_READ:
        if (p->body && c->cb.on_read) {
            c->cb.on_read(c, &p->header, p->body, c->ud);
            return;
        }
        break;
    case PT_KICKOUT:
        c->stopping = true; /* do not fight the device that replaced us */
        if (c->cb.on_kickout && p->body)
            c->cb.on_kickout(c, &p->header, p->body, c->ud);
        if (!c->destroyed && c->conn)
            conn_drop_code(c, OMTP_ECLOSED, OMTP_EC_CONN_KICKOUT,
                           "kicked out: this user logged in on another device of the same type");
        return;
    case PT_SYNC_DATA_CMD:
        ack_sync_data(c, p);
        if (p->body && c->cb.on_sync_data) {
            c->cb.on_sync_data(c, &p->header, p->body, c->ud);
            return;
        }
        break;
    case PT_PRESENCE:
        if (p->body && c->cb.on_presence) {
            c->cb.on_presence(c, p->body, c->ud);
            return;
        }
        break;
    case PT_TYPING:
        if (p->body && c->cb.on_typing) {
            c->cb.on_typing(c, p->body, c->ud);
            return;
        }
        break;
    default:
        break;
    }
    if (c->cb.on_packet)
        c->cb.on_packet(c, p, c->ud);
}

/* Processes every complete frame; stops if the connection went away. */
static void drain(omtp_client *c, omtp_conn *k)
{
    for (;;) {
        const uint8_t *f;
        size_t fl;
        int r = omtp_frame_reader_next(&k->rd, &f, &fl);
        if (r == 0)
            return;
        if (r < 0) {
            conn_drop(c, OMTP_EFRAME, "the server sent a frame of invalid length");
            return;
        }
        omtp_packet p;
        omtp_decode_opts o = {.key = c->key.set ? &c->key : NULL, .from_server = true};
        int stage;
        char why[200];
        int rc = omtp_packet_decode(f, fl, &o, &p, &stage, why, sizeof(why));
        if (rc && stage == OMTP_STAGE_FRAME) {
            omtp_packet_free(&p);
            conn_drop(c, OMTP_EDECODE, why);
            return;
        }
        if (p.header.flags & OMTP_F_ACK)
            on_reply(c, &p);
        else
            on_push(c, &p);
        omtp_packet_free(&p);
        if (c->destroyed || c->conn != k)
            return;
    }
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *buf)
{
    omtp_conn *k = h->data;
    if (k->tls || k->ws) {
        *buf = uv_buf_init((char *)k->tlsbuf, sizeof(k->tlsbuf));
        return;
    }
    uint8_t *p;
    size_t n;
    if (omtp_frame_reader_space(&k->rd, 16384, &p, &n)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)p, (unsigned)(n > 65536 ? 65536 : n));
}

static void ws_data(void *ud, const uint8_t *p, size_t n)
{
    omtp_conn *k = ud;
    if (omtp_frame_reader_feed(&k->rd, p, n) && k->c)
        conn_drop(k->c, OMTP_ENOMEM, "out of memory");
}

/* WebSocket bytes from the server (after TLS for wss): the upgrade's
 * answer, then messages whose bytes are OMTP frames. */
static void ws_input(omtp_client *c, omtp_conn *k, const uint8_t *p, size_t n)
{
    tars_buf out;
    tars_buf_init(&out);
    char why[256];
    int r = omtp_ws_feed(k->ws, p, n, ws_data, k, &out, why, sizeof(why));
    if (out.len && c->conn == k)
        conn_write_plain(k, out.data, out.len);
    tars_buf_free(&out);
    if (c->conn != k)
        return;
    if (r < 0) {
        conn_drop(c, OMTP_ECLOSED, why);
        return;
    }
    if (r == 1) {
        send_login(c);
        if (c->conn != k)
            return;
    }
    drain(c, k);
}

/* The TCP connection (and TLS session) is up: upgrade to WebSocket or log
 * in. */
static void transport_ready(omtp_client *c, omtp_conn *k)
{
    if (!k->ws) {
        send_login(c);
        return;
    }
    tars_buf out;
    tars_buf_init(&out);
    omtp_ws_request(k->ws, &out);
    int rc = tars_buf_ok(&out) ? conn_write_plain(k, out.data, out.len) : OMTP_ENOMEM;
    tars_buf_free(&out);
    if (rc)
        conn_drop(c, rc, "could not send the WebSocket upgrade");
}

static void tls_progress(omtp_client *c, omtp_conn *k)
{
    if (k->handshaking) {
        char why[256];
        int h = omtp_tls_handshake(k->tls, why, sizeof(why));
        tls_flush(k);
        if (h < 0) {
            c->stopping = true; /* a certificate problem does not heal by retrying */
            conn_drop(c, OMTP_EIO, why);
            return;
        }
        if (h == 0)
            return;
        k->handshaking = false;
        transport_ready(c, k);
        if (c->conn != k)
            return;
    }
    if (k->ws) { /* wss: the plaintext is WebSocket */
        for (;;) {
            uint8_t plain[16384];
            int r = omtp_tls_read(k->tls, plain, sizeof(plain));
            if (r == 0)
                break;
            if (r < 0) {
                conn_drop(c, OMTP_ECLOSED, "the server closed the TLS session");
                return;
            }
            ws_input(c, k, plain, (size_t)r);
            if (c->conn != k)
                return;
        }
        tls_flush(k);
        return;
    }
    for (;;) {
        uint8_t *p;
        size_t n;
        if (omtp_frame_reader_space(&k->rd, 16384, &p, &n)) {
            conn_drop(c, OMTP_ENOMEM, "out of memory");
            return;
        }
        int r = omtp_tls_read(k->tls, p, n);
        if (r == 0)
            break;
        if (r < 0) {
            conn_drop(c, OMTP_ECLOSED, "the server closed the TLS session");
            return;
        }
        omtp_frame_reader_commit(&k->rd, (size_t)r);
    }
    tls_flush(k);
    drain(c, k);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    omtp_conn *k = s->data;
    omtp_client *c = k->c;
    if (!c)
        return; /* detached */
    if (nread < 0) {
        conn_drop(c, nread == UV_EOF ? OMTP_ECLOSED : OMTP_EIO,
                  nread == UV_EOF ? "the server closed the connection" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    c->last_rx = uv_now(c->loop);
    if (k->tls) {
        if (omtp_tls_feed(k->tls, buf->base, (size_t)nread)) {
            conn_drop(c, OMTP_ENOMEM, "out of memory");
            return;
        }
        tls_progress(c, k);
        return;
    }
    if (k->ws) {
        ws_input(c, k, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    omtp_frame_reader_commit(&k->rd, (size_t)nread);
    drain(c, k);
}

/* ---- connection life cycle --------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    omtp_conn *k = h->data;
    omtp_frame_reader_free(&k->rd);
    omtp_tls_free(k->tls);
    omtp_ws_free(k->ws);
    free(k);
}

static void on_retry_timer(uv_timer_t *t);

static void fail_requests(omtp_client *c)
{
    /* detach the list first: callbacks may issue new requests */
    omtp_req_list l = c->reqs;
    memset(&c->reqs, 0, sizeof(c->reqs));
    omtp_req *r = l.head;
    while (r) {
        omtp_req *nx = r->next;
        if (r->rcb)
            r->rcb(c, OMTP_ECLOSED, NULL, r->ud);
        req_free(r);
        r = nx;
    }
    for (r = c->outbox.head; r; r = r->next)
        r->inflight = false;
}

static void conn_drop_code(omtp_client *c, int err, int code, const char *why)
{
    omtp_conn *k = c->conn;
    if (k) {
        c->conn = NULL;
        k->c = NULL;
        uv_read_stop((uv_stream_t *)&k->tcp);
        uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
    }
    c->gen++;
    uv_timer_stop(&c->hb_timer);
    uv_timer_stop(&c->retry_timer);
    omtp__catchup_reset(c);
    fail_requests(c);
    if (c->destroyed)
        return;
    if (c->stopping || c->cfg.no_reconnect) {
        set_state(c, OMTP_CLIENT_STOPPED, err, code, why);
        return;
    }
    int i = c->attempt < 5 ? c->attempt : 5;
    uint64_t delay = (uint64_t)backoff_s[i] * 1000;
    if (delay) {
        /* +-25 % jitter so that a server restart is not met by a stampede */
        int64_t j = (int64_t)(delay / 4);
        delay =
            (uint64_t)((int64_t)delay - j + (int64_t)((uint64_t)rand() % (uint64_t)(2 * j + 1)));
    }
    c->attempt++;
    uv_timer_start(&c->retry_timer, on_retry_timer, delay, 0);
    set_state(c, OMTP_CLIENT_WAITING, err, code, why);
}

static void on_connect_timeout(uv_timer_t *t)
{
    omtp_client *c = t->data;
    conn_drop(c, OMTP_ETIMEDOUT, "timed out connecting / logging in");
}

static void on_login_reply(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    (void)ud;
    if (status) {
        if (status == OMTP_ETIMEDOUT && c->conn)
            conn_drop(c, OMTP_ETIMEDOUT, "no reply to LOGIN");
        return; /* ECLOSED: already dropped */
    }
    const omtp_LoginResp *lr = p->desc == &omtp_LoginResp_desc ? p->body : NULL;
    int code = lr ? lr->code : OMTP_EC_PROTOCOL;
    if (code != OMTP_EC_SUCCESS) {
        char why[400];
        if (lr && lr->extraData.len) /* the server's words */
            snprintf(why, sizeof(why), "%.300s", lr->extraData.data);
        else
            snprintf(why, sizeof(why), "login refused: %s (%d)", omtp_error_code_name(code), code);
        bool transient = code == OMTP_EC_SERVICE_UNAVAILABLE || code == OMTP_EC_DB_ERROR ||
                         code == OMTP_EC_SERVER_EXCEPTION || code == OMTP_EC_UNKNOWN;
        if (!transient)
            c->stopping = true;
        conn_drop_code(c, 0, code, why);
        return;
    }
    uv_timer_stop(&c->retry_timer);
    c->attempt = 0;
    c->last_rx = uv_now(c->loop);
    set_state(c, OMTP_CLIENT_ONLINE, 0, 0, NULL);
    if (c->destroyed || c->state != OMTP_CLIENT_ONLINE)
        return;
    if (c->cfg.keepalive_s > 0) {
        uint64_t ka = (uint64_t)c->cfg.keepalive_s * 1000;
        uv_timer_start(&c->hb_timer, on_hb_timer, ka, ka);
    }
    outbox_flush(c);
    if (c->state == OMTP_CLIENT_ONLINE && !c->cfg.no_catchup)
        omtp__catchup_start(c);
}

static void send_login(omtp_client *c)
{
    omtp_LoginReq q;
    omtp_msg_init(&omtp_LoginReq_desc, &q);
    tars_str_set(&q.clientId, c->user);
    tars_str_set(&q.userName, c->user);
    tars_str_set(&q.password, c->password ? c->password : "");
    tars_str_set(&q.deviceId, c->device_id);
    tars_str_set(&q.deviceName, "libomtp");
    tars_str_set(&q.version, OMTP_BUILD_VERSION);
    q.deviceType = c->cfg.device_type;
    c->state = OMTP_CLIENT_LOGGING_IN;
    int rc = request_any_state(c, PT_LOGIN, 0, &omtp_LoginReq_desc, &q, c->cfg.connect_timeout_ms,
                               on_login_reply, NULL, NULL);
    omtp_msg_free(&omtp_LoginReq_desc, &q);
    if (rc)
        conn_drop(c, rc, "could not send LOGIN");
    else
        omtp__emit_state(c, 0, 0, NULL);
}

static void on_connected(uv_connect_t *req, int status)
{
    omtp_conn *k = req->data;
    omtp_client *c = k->c;
    if (!c)
        return;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "cannot connect to %s:%d: %s", c->host, c->cfg.port,
                 uv_strerror(status));
        conn_drop(c, OMTP_EIO, why);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (c->cfg.ws_path) {
        char hp[300];
        snprintf(hp, sizeof(hp), strchr(c->host, ':') ? "[%s]:%d" : "%s:%d", c->host, c->cfg.port);
        if (!(k->ws = omtp_ws_new(hp, c->cfg.ws_path))) {
            conn_drop(c, OMTP_ENOMEM, "WebSocket setup failed");
            return;
        }
    }
    if (c->tls_ctx) {
        k->tls = omtp_tls_new(c->tls_ctx, c->host);
        if (!k->tls) {
            conn_drop(c, OMTP_ENOMEM, "TLS setup failed");
            return;
        }
        k->handshaking = true;
        tls_progress(c, k);
        return;
    }
    transport_ready(c, k);
}

static void connect_addr(omtp_client *c, const struct sockaddr *sa)
{
    omtp_conn *k = calloc(1, sizeof(*k));
    if (!k) {
        conn_drop(c, OMTP_ENOMEM, "out of memory");
        return;
    }
    k->c = c;
    omtp_frame_reader_init(&k->rd, 0);
    uv_tcp_init(c->loop, &k->tcp);
    k->tcp.data = k;
    k->creq.data = k;
    c->conn = k;
    int rc = uv_tcp_connect(&k->creq, &k->tcp, sa, on_connected);
    if (rc) {
        char why[200];
        snprintf(why, sizeof(why), "cannot connect to %s:%d: %s", c->host, c->cfg.port,
                 uv_strerror(rc));
        conn_drop(c, OMTP_EIO, why);
    }
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    omtp_client *c = g->data;
    c->gai_busy = false;
    if (c->destroyed || c->state != OMTP_CLIENT_CONNECTING || c->conn) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        conn_drop(c, OMTP_EINVAL, why);
        return;
    }
    connect_addr(c, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void do_connect(omtp_client *c)
{
    set_state(c, OMTP_CLIENT_CONNECTING, 0, 0, NULL);
    if (c->destroyed || c->state != OMTP_CLIENT_CONNECTING)
        return;
    uv_timer_start(&c->retry_timer, on_connect_timeout, (uint64_t)c->cfg.connect_timeout_ms, 0);
    struct sockaddr_storage ss;
    if (uv_ip4_addr(c->host, c->cfg.port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(c->host, c->cfg.port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_addr(c, (struct sockaddr *)&ss);
        return;
    }
    if (c->gai_busy)
        return;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->cfg.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    c->gai_busy = true;
    if (uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->host, port, &hints)) {
        c->gai_busy = false;
        conn_drop(c, OMTP_EINVAL, "cannot resolve the server name");
    }
}

static void on_retry_timer(uv_timer_t *t)
{
    omtp_client *c = t->data;
    do_connect(c);
}

static void on_ping_reply(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    (void)p;
    if (status == OMTP_ETIMEDOUT && c->gen == (unsigned)(uintptr_t)ud && c->conn)
        conn_drop(c, OMTP_ETIMEDOUT, "the server did not answer PING");
}

static void on_hb_timer(uv_timer_t *t)
{
    omtp_client *c = t->data;
    if (c->state != OMTP_CLIENT_ONLINE)
        return;
    uint64_t idle = uv_now(c->loop) - c->last_rx;
    if (idle > (uint64_t)c->cfg.keepalive_s * 2000) {
        conn_drop(c, OMTP_ETIMEDOUT, "the connection was silent for 2 keepalive periods");
        return;
    }
    omtp__request(c, PT_PING, 0, NULL, NULL, 0, on_ping_reply, (void *)(uintptr_t)c->gen);
}

/* ---- posts ------------------------------------------------------------- */

static void on_async(uv_async_t *a)
{
    omtp_client *c = a->data;
    pthread_mutex_lock(&c->post_mu);
    omtp_post *p = c->posts;
    c->posts = NULL;
    pthread_mutex_unlock(&c->post_mu);
    /* reverse into submission order */
    omtp_post *rev = NULL;
    while (p) {
        omtp_post *nx = p->next;
        p->next = rev;
        rev = p;
        p = nx;
    }
    while (rev) {
        omtp_post *nx = rev->next;
        if (!c->destroyed)
            rev->fn(c, rev->arg);
        free(rev);
        rev = nx;
    }
}

int omtp_client_post(omtp_client *c, void (*fn)(omtp_client *c, void *arg), void *arg)
{
    if (!c->has_async)
        return OMTP_EINVAL;
    omtp_post *p = malloc(sizeof(*p));
    if (!p)
        return OMTP_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&c->post_mu);
    p->next = c->posts;
    c->posts = p;
    pthread_mutex_unlock(&c->post_mu);
    uv_async_send(&c->async);
    return 0;
}

/* ---- public life cycle -------------------------------------------------- */

int omtp_client_new(uv_loop_t *loop, const omtp_client_config *cfg, const omtp_client_callbacks *cb,
                    void *ud, omtp_client **out)
{
    *out = NULL;
    if (!loop || !cfg || !cfg->host || !cfg->user || cfg->port <= 0 || cfg->port > 65535)
        return OMTP_EINVAL;
    omtp_client *c = calloc(1, sizeof(*c));
    if (!c)
        return OMTP_ENOMEM;
    c->loop = loop;
    c->cfg = *cfg;
    if (cb)
        c->cb = *cb;
    c->ud = ud;
    char dev[37];
    omtp_uuid(dev);
    c->host = dup_or_null(cfg->host);
    c->user = dup_or_null(cfg->user);
    c->password = dup_or_null(cfg->password ? cfg->password : "");
    c->device_id = dup_or_null(cfg->device_id ? cfg->device_id : dev);
    c->ca_file = dup_or_null(cfg->tls_ca_file);
    c->ws_path = dup_or_null(cfg->ws_path);
    if (!c->host || !c->user || !c->password || !c->device_id ||
        (cfg->tls_ca_file && !c->ca_file) || (cfg->ws_path && !c->ws_path))
        goto err;
    c->cfg.ws_path = c->ws_path;
    c->cfg.host = c->host;
    c->cfg.user = c->user;
    c->cfg.password = c->password;
    c->cfg.device_id = c->device_id;
    c->cfg.tls_ca_file = c->ca_file;
    c->cfg.key = NULL;
    if (!c->cfg.device_type)
        c->cfg.device_type = DEVICE_LINUX;
    if (!c->cfg.keepalive_s)
        c->cfg.keepalive_s = DEFAULT_KEEPALIVE_S;
    if (c->cfg.request_timeout_ms <= 0)
        c->cfg.request_timeout_ms = DEFAULT_REQ_TIMEOUT;
    if (c->cfg.connect_timeout_ms <= 0)
        c->cfg.connect_timeout_ms = DEFAULT_CONN_TIMEOUT;
    if (c->cfg.give_up_ms <= 0)
        c->cfg.give_up_ms = DEFAULT_GIVE_UP;
    if (cfg->key)
        c->key = *cfg->key;
    c->xflags = omtp_flags_with(0, cfg->compress, cfg->crypto);
    c->hot_cursor = cfg->hot_cursor_us;
    c->hp_seq = cfg->hp_seq;
    if (cfg->tls) {
        c->tls_ctx = omtp_tls_ctx_new(cfg->tls_ca_file, !cfg->tls_no_verify);
        if (!c->tls_ctx)
            goto err;
    }
    omtp_seqmap_init(&c->seqs);
    tars_buf_init(&c->enc);
    uv_timer_init(loop, &c->req_timer);
    uv_timer_init(loop, &c->hb_timer);
    uv_timer_init(loop, &c->retry_timer);
    c->req_timer.data = c->hb_timer.data = c->retry_timer.data = c;
    c->open_handles = 3;
    if (cfg->enable_post) {
        pthread_mutex_init(&c->post_mu, NULL);
        uv_async_init(loop, &c->async, on_async);
        c->async.data = c;
        c->has_async = true;
        c->open_handles++;
    }
    *out = c;
    return 0;
err:
    free(c->host);
    free(c->ws_path);
    free(c->user);
    free(c->password);
    free(c->device_id);
    free(c->ca_file);
    free(c);
    return OMTP_ENOMEM;
}

int omtp_client_start(omtp_client *c)
{
    if (c->destroyed)
        return OMTP_EINVAL;
    if (c->state != OMTP_CLIENT_IDLE && c->state != OMTP_CLIENT_STOPPED)
        return 0;
    c->stopping = false;
    c->attempt = 0;
    do_connect(c);
    return 0;
}

void omtp_client_stop(omtp_client *c)
{
    c->stopping = true;
    uv_timer_stop(&c->retry_timer);
    if (c->conn) {
        if (c->state == OMTP_CLIENT_ONLINE)
            send_frame(c, PT_LOGOUT, 0, "logout", NULL, NULL);
        conn_drop(c, 0, "stopped");
    } else if (c->state != OMTP_CLIENT_STOPPED && c->state != OMTP_CLIENT_IDLE) {
        set_state(c, OMTP_CLIENT_STOPPED, 0, 0, "stopped");
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    omtp_client *c = h->data;
    if (--c->open_handles > 0)
        return;
    omtp__held_free(&c->cu.held);
    omtp_seqmap_free(&c->seqs);
    tars_buf_free(&c->enc);
    if (c->tls_ctx)
        omtp_tls_ctx_free(c->tls_ctx);
    if (c->has_async) {
        omtp_post *p = c->posts;
        while (p) {
            omtp_post *nx = p->next;
            free(p);
            p = nx;
        }
        pthread_mutex_destroy(&c->post_mu);
    }
    free(c->host);
    free(c->ws_path);
    free(c->user);
    free(c->password);
    free(c->device_id);
    free(c->ca_file);
    free(c);
}

void omtp_client_destroy(omtp_client *c)
{
    if (!c || c->destroyed)
        return;
    c->stopping = true;
    if (c->conn && c->state == OMTP_CLIENT_ONLINE)
        send_frame(c, PT_LOGOUT, 0, "logout", NULL, NULL);
    c->destroyed = true;
    /* pending requests and outbox messages get OMTP_ECLOSED; the client
     * memory stays valid until the handles are closed */
    conn_drop(c, OMTP_ECLOSED, "destroyed");
    omtp_req_list l = c->outbox;
    memset(&c->outbox, 0, sizeof(c->outbox));
    for (omtp_req *r = l.head, *nx; r; r = nx) {
        nx = r->next;
        if (r->acb)
            r->acb(c, OMTP_ECLOSED, NULL, r->ud);
        req_free(r);
    }
    uv_close((uv_handle_t *)&c->req_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->hb_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
    if (c->has_async)
        uv_close((uv_handle_t *)&c->async, on_handle_closed);
}

void omtp_client_drop(omtp_client *c)
{
    if (c->conn)
        conn_drop(c, OMTP_ECLOSED, "connection dropped (test)");
}

int omtp_client_state(const omtp_client *c)
{
    return c->state;
}

void *omtp_client_userdata(const omtp_client *c)
{
    return c->ud;
}

const char *omtp_client_user(const omtp_client *c)
{
    return c->user;
}

void omtp_client_cursors(const omtp_client *c, int64_t *hot_cursor_us, int64_t *hp_seq)
{
    if (hot_cursor_us)
        *hot_cursor_us = c->hot_cursor;
    if (hp_seq)
        *hp_seq = c->hp_seq;
}

int64_t omtp_client_session_seq(const omtp_client *c, const char *session_id)
{
    return omtp_seqmap_get(&c->seqs, session_id);
}

size_t omtp_client_write_queue(const omtp_client *c)
{
    return c->conn ? uv_stream_get_write_queue_size((const uv_stream_t *)&c->conn->tcp) : 0;
}

size_t omtp_client_outbox(const omtp_client *c)
{
    return c->outbox.n;
}

int omtp_client_parse_server(const char *server, char *host, size_t hostlen, int *port, bool *ws,
                             bool *tls, char *path, size_t pathlen)
{
    *ws = *tls = false;
    const char *s = server;
    int dport = 0;
    if (!strncmp(s, "ws://", 5)) {
        *ws = true;
        s += 5;
        dport = 80;
    } else if (!strncmp(s, "wss://", 6)) {
        *ws = *tls = true;
        s += 6;
        dport = 443;
    }
    const char *slash = *ws ? strchr(s, '/') : NULL;
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    char hp[300];
    if (hl == 0 || hl >= sizeof(hp))
        return OMTP_EINVAL;
    memcpy(hp, s, hl);
    hp[hl] = 0;
    if (*ws) {
        snprintf(path, pathlen, "%s", slash && slash[1] ? slash : "/ws");
        if (slash && strpbrk(slash, " \r\n"))
            return OMTP_EINVAL;
    }
    /* host[:port], [v6][:port] */
    char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
    if (hp[0] == '[' && colon)
        colon++;
    const char *h = hp;
    if (hp[0] == '[') {
        char *rb = strchr(hp, ']');
        if (!rb)
            return OMTP_EINVAL;
        *rb = 0;
        h = hp + 1;
    } else if (colon) {
        *colon = 0;
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535)
            return OMTP_EINVAL;
        *port = (int)p;
    } else if (dport) {
        *port = dport;
    } else {
        return OMTP_EINVAL;
    }
    if (!h[0] || strlen(h) >= hostlen)
        return OMTP_EINVAL;
    snprintf(host, hostlen, "%s", h);
    return 0;
}
