/*
 * conn.c - one client connection: reading frames, queued output, closing.
 *
 * Memory: a connection is ONE allocation (struct conn_full: the public
 * omtp_conn, the libuv handle and the fields below, ~900 bytes). The frame
 * reader's buffer exists only while a frame is partially received: after a
 * read whose bytes formed whole frames it is freed, so an idle connection
 * owns no input buffer. Output is sent with uv_try_write first; only what
 * the kernel did not take is queued (one small node per queued wire, holding
 * a reference, never a copy), so an idle connection owns no output buffer
 * either.
 *
 * Write coalescing: output is not written the moment it is produced. The
 * connection collects it (queued nodes, no copies) and joins the server's
 * flush list; when the loop has run this iteration's callbacks (a uv_check
 * after I/O, a uv_prepare before it blocks: server.c) each listed connection
 * writes everything it collected with ONE uv_try_write (writev). A group
 * commit completing 16 messages for one sender thus costs one write syscall
 * for the 16 MsgAcks instead of 16 (the profile showed write(2) as ~70% of
 * the loop thread under chat load). Collected bytes are bounded:
 * FLUSH_NOW bytes pending write out at once. Whatever the kernel does not
 * take goes to uv_write as before, with the out_buf_cap check. Timers: connections sit in the
 * server's timer wheel (server.c), not one uv_timer each.
 *
 * Input limits (guard.h, docs/server-core.md "Resource guards"): until
 * login the reader's frame limit is max_prelogin_frame; its buffer grows
 * with the bytes that arrived (read_want), never to an announced length;
 * its capacity is reported to the guard, which caps the total
 * (max_pending_bytes) and sheds through omtp_conn_shed(). A frame left
 * partial starts its deadline (frame_start_ms + frame_timeout_s), which
 * replaces the idle limit until the frame completes: only complete frames
 * are activity.
 *
 * Output cap: queued + in-flight bytes above cfg->out_buf_cap close the
 * connection at once ("slow reader"); memory per connection is bounded.
 * Input backpressure: a connection with more than REQS_HIGH requests in
 * flight stops being read until it drops below REQS_LOW.
 *
 * Transports (transport.h): what turns socket bytes into frame bytes and
 * back is the connection's transport, plain TCP (transport_tcp.c) or TLS
 * (transport_tls.c) or WebSocket (transport_ws.c); this file owns the socket, the queue, the reader
 * and the life cycle, and calls the transport to fill reads, to take frames to send, at a graceful
 * close and when the socket closed. Bytes in and out are counted per transport (omtp_metrics.tp_*).
 *
 * Life cycle: refs start at 1 (the open handle). omtp_conn_close() stops
 * reading, waits for queued output to flush (bounded by a 5 s deadline in
 * the wheel), then uv_close; the close callback drops the handle's ref. The
 * struct is freed when the last ref (requests in flight hold one) goes.
 */
#include "core.h"
#include "guard.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQS_HIGH      256
#define REQS_LOW       128
#define BATCH_MAX      16
#define CLOSE_FLUSH_MS 5000
#define READ_CHUNK     8192
#define READ_CHUNK_MAX (256 * 1024)
#define FLUSH_NOW      (64 * 1024) /* collected bytes written without waiting */
#define FLUSH_IOV      64          /* buffers per uv_try_write */

struct out_item {
    struct out_item *next;
    omtp_wire *w; /* referenced, or NULL when `own` holds the bytes */
    uint8_t *own; /* malloc'd bytes (TLS ciphertext, error frames) */
    const uint8_t *data;
    uint32_t len, off;
};

struct write_batch {
    uv_write_t req;
    omtp_conn *c;
    int n;
    struct out_item *items[BATCH_MAX];
    uv_buf_t bufs[BATCH_MAX];
};

struct omtp_conn_impl {
    uv_tcp_t tcp;
    omtp_frame_reader rd;
    int refs;
    int inflight; /* requests not yet replied */
    bool handle_closing;
    bool read_paused;
    bool writing;
    bool version_warned;
    const omtp_transport_ops *tp; /* transport.h; set at accept */
    void *tp_state;               /* the transport's, see transport.h */
    struct out_item *q_head, *q_tail;
    size_t out_bytes; /* queued + in flight */
    size_t pending;   /* collected, not yet tried (see write coalescing) */
    bool listed;      /* on the server's flush list (holds a ref) */
    omtp_conn *flush_next;
    uint64_t accept_ms, last_rx_ms, close_deadline_ms;
    uint64_t frame_start_ms; /* the partial frame in the reader began then; 0 = none */
    /* an HTTP file transfer (transport_ws.c, ws_api.h): the deadline is
     * xfer_last_ms + xfer_stall_ms instead of the pre-login timeout; 0 = none */
    uint64_t xfer_stall_ms, xfer_last_ms;
    omtp_guard_conn guard; /* guard.h: address count, lists, partial-frame bytes */
    omtp_ratelimit rl;     /* request rate limit (dispatch.c), 16 bytes */
    struct omtp_conn_link wheel, all;
    int wheel_slot;
    omtp_conn *bucket_next;
};

struct conn_full {
    omtp_conn pub;
    struct omtp_conn_impl impl;
};

static void start_write(omtp_conn *c);
static void close_handle(omtp_conn *c);

const char *omtp_transport_name(int kind)
{
    static const char *const names[OMTP_TP_KINDS] = {
        [OMTP_TP_TCP] = "tcp", [OMTP_TP_TLS] = "tls", [OMTP_TP_WS] = "ws", [OMTP_TP_WSS] = "wss"};
    return kind >= 0 && kind < OMTP_TP_KINDS && names[kind] ? names[kind] : "?";
}

void **omtp_conn_transport(omtp_conn *c)
{
    return &c->impl->tp_state;
}

omtp_frame_reader *omtp_conn_reader(omtp_conn *c)
{
    return &c->impl->rd;
}

bool omtp_conn_handle_closing(const omtp_conn *c)
{
    return c->impl->handle_closing;
}

struct omtp_conn_link *omtp_conn_wheel_link(omtp_conn *c)
{
    return &c->impl->wheel;
}
int *omtp_conn_wheel_slot(omtp_conn *c)
{
    return &c->impl->wheel_slot;
}
struct omtp_conn_link *omtp_conn_all_link(omtp_conn *c)
{
    return &c->impl->all;
}
omtp_conn **omtp_conn_bucket_next(omtp_conn *c)
{
    return &c->impl->bucket_next;
}
omtp_guard_conn *omtp_conn_guard(omtp_conn *c)
{
    return &c->impl->guard;
}

void omtp_conn_ref(omtp_conn *c)
{
    c->impl->refs++;
}

void omtp_conn_unref(omtp_conn *c)
{
    if (--c->impl->refs > 0)
        return;
    free(c); /* struct conn_full starts with the omtp_conn */
}

bool omtp_conn_is_open(const omtp_conn *c)
{
    return c->state != OMTP_CONN_CLOSING;
}

omtp_ratelimit *omtp_conn_ratelimit(omtp_conn *c)
{
    return &c->impl->rl;
}

bool omtp_conn_version_warned(omtp_conn *c)
{
    bool was = c->impl->version_warned;
    c->impl->version_warned = true;
    return was;
}

uint64_t omtp_conn_deadline(const omtp_conn *c)
{
    const struct omtp_conn_impl *i = c->impl;
    const omtp_config *cfg = c->srv->cfg;
    if (c->state == OMTP_CONN_CLOSING)
        return i->close_deadline_ms;
    if (i->xfer_stall_ms)
        return i->xfer_last_ms + i->xfer_stall_ms;
    /* a frame in progress has its own deadline instead of the idle limit:
     * only complete frames count as activity */
    uint64_t idle = i->frame_start_ms ? i->frame_start_ms + (uint64_t)cfg->frame_timeout_s * 1000
                                      : i->last_rx_ms + 2ull * cfg->keepalive_s * 1000;
    if (c->state == OMTP_CONN_ONLINE)
        return idle;
    uint64_t pre = i->accept_ms + (uint64_t)cfg->prelogin_timeout_s * 1000;
    return pre < idle ? pre : idle;
}

void omtp_conn_expire(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    const omtp_config *cfg = c->srv->cfg;
    if (c->state != OMTP_CONN_CLOSING && i->frame_start_ms &&
        i->frame_start_ms + (uint64_t)cfg->frame_timeout_s * 1000 <= uv_now(c->srv->loop)) {
        char why[160];
        snprintf(why, sizeof(why),
                 "frame not completed within %u s (frame_timeout_s): %zu bytes arrived",
                 cfg->frame_timeout_s, omtp_frame_reader_pending(&i->rd));
        omtp_conn_shed(c, OMTP_SHED_FRAME_TIMEOUT, why);
    } else if (c->state == OMTP_CONN_CLOSING) {
        LOG_INFO("conn %llu output not flushed in time, closing", (unsigned long long)c->id);
        omtp_conn_abort(c, NULL);
    } else if (i->xfer_stall_ms) {
        char why[128];
        snprintf(why, sizeof(why), "HTTP transfer made no progress for %llu s",
                 (unsigned long long)(i->xfer_stall_ms / 1000));
        omtp_conn_abort(c, why);
    } else if (c->state == OMTP_CONN_ONLINE) {
        omtp_conn_close(c, "idle timeout (no PING within 2 x keepalive)");
    } else {
        omtp_conn_close(c, "not logged in before the pre-login timeout");
    }
}

/* ------------------------------------------------------------ output */

static void item_free(struct out_item *it)
{
    if (it->w)
        omtp_wire_unref(it->w);
    free(it->own);
    free(it);
}

static void drop_queue(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    i->pending = 0;
    struct out_item *it = i->q_head;
    while (it) {
        struct out_item *nx = it->next;
        i->out_bytes -= it->len - it->off;
        item_free(it);
        it = nx;
    }
    i->q_head = i->q_tail = NULL;
}

static void write_cb(uv_write_t *req, int status)
{
    struct write_batch *b = (struct write_batch *)req;
    omtp_conn *c = b->c;
    struct omtp_conn_impl *i = c->impl;
    for (int k = 0; k < b->n; k++) {
        i->out_bytes -= b->items[k]->len - b->items[k]->off;
        c->srv->metrics.bytes_out += b->items[k]->len - b->items[k]->off;
        c->srv->metrics.tp_bytes_out[i->tp->kind] += b->items[k]->len - b->items[k]->off;
        item_free(b->items[k]);
    }
    free(b);
    i->writing = false;
    if (status < 0) {
        if (status != UV_ECANCELED)
            omtp_conn_abort(c, uv_strerror(status));
    } else if (i->q_head && !i->handle_closing) {
        start_write(c);
    } else if (c->state == OMTP_CONN_CLOSING) {
        close_handle(c);
    } else if (!i->q_head && !i->handle_closing && i->tp->drained) {
        i->tp->drained(c);
    }
    omtp_conn_unref(c);
}

static void start_write(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    if (i->writing || !i->q_head || i->handle_closing)
        return;
    struct write_batch *b = malloc(sizeof(*b));
    if (!b) {
        omtp_conn_abort(c, "out of memory");
        return;
    }
    b->c = c;
    b->n = 0;
    while (i->q_head && b->n < BATCH_MAX) {
        struct out_item *it = i->q_head;
        i->q_head = it->next;
        b->items[b->n] = it;
        b->bufs[b->n] = uv_buf_init((char *)it->data + it->off, it->len - it->off);
        b->n++;
    }
    if (!i->q_head)
        i->q_tail = NULL;
    int rc = uv_write(&b->req, (uv_stream_t *)&i->tcp, b->bufs, (unsigned)b->n, write_cb);
    if (rc) {
        for (int k = 0; k < b->n; k++) {
            i->out_bytes -= b->items[k]->len - b->items[k]->off;
            item_free(b->items[k]);
        }
        free(b);
        omtp_conn_abort(c, uv_strerror(rc));
        return;
    }
    i->writing = true;
    omtp_conn_ref(c);
}

/* Frees the first `n` written bytes of the queue's head items. */
static void consume(omtp_conn *c, size_t n)
{
    struct omtp_conn_impl *i = c->impl;
    c->srv->metrics.bytes_out += n;
    c->srv->metrics.tp_bytes_out[i->tp->kind] += n;
    i->out_bytes -= n;
    while (n > 0 && i->q_head) {
        struct out_item *it = i->q_head;
        size_t left = it->len - it->off;
        if (n < left) {
            it->off += (uint32_t)n;
            return;
        }
        n -= left;
        i->q_head = it->next;
        if (!i->q_head)
            i->q_tail = NULL;
        item_free(it);
    }
}

static void slow_reader(omtp_conn *c)
{
    c->srv->metrics.slow_reader_closes++;
    char why[96];
    snprintf(why, sizeof(why), "slow reader: more than %u bytes of output unsent",
             c->srv->cfg->out_buf_cap);
    omtp_conn_abort(c, why);
}

/* Writes what the connection collected: writev without blocking as far as
 * the kernel takes it, the rest through uv_write. */
static void flush_conn(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    i->pending = 0;
    if (i->writing || i->handle_closing)
        return; /* write_cb sends the queue */
    while (i->q_head) {
        uv_buf_t bufs[FLUSH_IOV];
        unsigned nb = 0;
        size_t total = 0;
        for (struct out_item *it = i->q_head; it && nb < FLUSH_IOV; it = it->next) {
            bufs[nb++] = uv_buf_init((char *)it->data + it->off, it->len - it->off);
            total += it->len - it->off;
        }
        int n = uv_try_write((uv_stream_t *)&i->tcp, bufs, nb);
        if (n == UV_EAGAIN)
            break;
        if (n < 0) {
            omtp_conn_abort(c, uv_strerror(n));
            return;
        }
        consume(c, (size_t)n);
        if ((size_t)n < total)
            break; /* the kernel is full */
    }
    if (i->q_head) {
        if (i->out_bytes > c->srv->cfg->out_buf_cap)
            slow_reader(c);
        else
            start_write(c);
    } else if (c->state == OMTP_CONN_CLOSING) {
        close_handle(c); /* omtp_conn_close was waiting for this output */
    } else if (i->tp->drained) {
        i->tp->drained(c); /* e.g. the next piece of a file (transport_ws.c) */
    }
}

void omtp_conn_flush_all(omtp_server *s)
{
    omtp_conn **head = omtp_server_flush_list(s);
    while (*head) {
        omtp_conn *c = *head;
        struct omtp_conn_impl *i = c->impl;
        *head = i->flush_next;
        i->flush_next = NULL;
        i->listed = false;
        if (i->pending)
            flush_conn(c);
        omtp_conn_unref(c);
    }
}

/* Queues socket bytes (w referenced, or own taken over): transport.h.
 * Returns 0 or OMTP_ECLOSED. */
int omtp_conn_queue(omtp_conn *c, omtp_wire *w, uint8_t *own, const uint8_t *data, size_t len)
{
    struct omtp_conn_impl *i = c->impl;
    if (i->handle_closing) {
        free(own);
        return OMTP_ECLOSED;
    }
    bool collect = !i->writing; /* else uv_write is busy: queue behind it */
    if (!collect && i->out_bytes + len > c->srv->cfg->out_buf_cap) {
        free(own);
        slow_reader(c);
        return OMTP_ECLOSED;
    }
    struct out_item *it = malloc(sizeof(*it));
    if (!it) {
        free(own);
        omtp_conn_abort(c, "out of memory");
        return OMTP_ECLOSED;
    }
    it->next = NULL;
    it->w = w;
    if (w)
        omtp_wire_ref(w);
    it->own = own;
    it->data = data;
    it->len = (uint32_t)len;
    it->off = 0;
    if (i->q_tail)
        i->q_tail->next = it;
    else
        i->q_head = it;
    i->q_tail = it;
    i->out_bytes += len;
    if (!collect) {
        start_write(c);
        return 0;
    }
    i->pending += len;
    if (!i->listed) {
        omtp_conn **head = omtp_server_flush_list(c->srv);
        i->listed = true;
        i->flush_next = *head;
        *head = c;
        omtp_conn_ref(c);
    }
    if (i->pending >= FLUSH_NOW)
        flush_conn(c);
    return i->handle_closing ? OMTP_ECLOSED : 0;
}

int omtp_conn_push_variant(const omtp_conn *c, const omtp_wire *w)
{
    int v = OMTP_V_PLAIN;
    if (c->uses_zlib && w->payload.len > c->srv->cfg->compress_threshold)
        v |= OMTP_V_ZLIB;
    if (c->uses_aes && c->srv->aes_key.set)
        v |= OMTP_V_AES;
    return v;
}

int omtp_conn_send_wire_v(omtp_conn *c, omtp_wire *w, int v)
{
    if (c->impl->handle_closing)
        return OMTP_ECLOSED;
    const uint8_t *p;
    size_t n;
    int rc = omtp_wire_frame(w, v, &c->srv->aes_key, c->srv->cfg->max_frame, &p, &n);
    if (rc) {
        if (rc == OMTP_ETOOBIG)
            c->srv->metrics.replies_too_big++;
        LOG_WARN("conn %llu cannot encode %s for sending: %s", (unsigned long long)c->id,
                 omtp_pack_type_name(w->type), omtp_strerror(rc));
        return rc;
    }
    c->srv->metrics.packets_out[w->type > 0 && w->type < OMTP_PT_MAX ? w->type : 0]++;
    return c->impl->tp->write(c, w, p, n);
}

int omtp_conn_send_wire(omtp_conn *c, omtp_wire *w)
{
    return omtp_conn_send_wire_v(c, w, omtp_conn_push_variant(c, w));
}

/* ------------------------------------------------------------ closing */

static void on_closed(uv_handle_t *h)
{
    omtp_conn *c = h->data;
    struct omtp_conn_impl *i = c->impl;
    drop_queue(c);
    omtp_frame_reader_free(&i->rd);
    omtp_guard_set_bytes(c->srv, c, 0);
    omtp_guard_closing(c->srv, c); /* no-op unless a path skipped begin_close */
    if (i->tp->close)
        i->tp->close(c);
    c->srv->metrics.tp_conns[i->tp->kind]--;
    omtp_server_conn_closed(c->srv, c);
    omtp_conn_unref(c);
}

static void close_handle(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    if (i->handle_closing)
        return;
    i->handle_closing = true;
    uv_close((uv_handle_t *)&i->tcp, on_closed); /* closes the descriptor now */
    omtp_guard_fd_closed(c->srv);
}

static void begin_close(omtp_conn *c, const char *reason)
{
    struct omtp_conn_impl *i = c->impl;
    bool was_online = c->state == OMTP_CONN_ONLINE;
    c->state = OMTP_CONN_CLOSING;
    if (reason) {
        if (was_online)
            LOG_INFO("conn %llu close %s user=%s dev=%s: %s", (unsigned long long)c->id, c->peer,
                     c->userId, omtp_log_device(c->deviceType), reason);
        else if (omtp_guard_log_unauth(c->srv)) /* rate-limited: floods */
            LOG_INFO("conn %llu close %s: %s", (unsigned long long)c->id, c->peer, reason);
    }
    omtp_guard_closing(c->srv, c);
    if (was_online) {
        omtp_server_run_close_observers(c); /* cluster presence, monitors (server.h) */
        omtp_presence_remove(c->srv, c);
    }
    uv_read_stop((uv_stream_t *)&i->tcp);
    i->close_deadline_ms = uv_now(c->srv->loop) + CLOSE_FLUSH_MS;
    omtp_wheel_remove(c->srv, c);
    omtp_wheel_insert(c->srv, c, i->close_deadline_ms);
}

void omtp_conn_close(omtp_conn *c, const char *reason)
{
    struct omtp_conn_impl *i = c->impl;
    if (c->state == OMTP_CONN_CLOSING)
        return;
    begin_close(c, reason);
    if (i->tp->shutdown)
        i->tp->shutdown(c);
    if (i->pending)
        flush_conn(c); /* closes the handle when everything went out */
    if (!i->writing && !i->q_head)
        close_handle(c);
}

void omtp_conn_abort(omtp_conn *c, const char *reason)
{
    if (c->state != OMTP_CONN_CLOSING)
        begin_close(c, reason);
    drop_queue(c);
    close_handle(c);
}

/* Frees the partial frame (never called while a frame of c is dispatched). */
static void drop_input(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    omtp_frame_reader_free(&i->rd);
    i->frame_start_ms = 0;
    omtp_guard_set_bytes(c->srv, c, 0);
}

void omtp_conn_shed(omtp_conn *c, int reason, const char *why)
{
    if (c->state == OMTP_CONN_CLOSING) { /* already going: just release its input */
        drop_input(c);
        omtp_conn_abort(c, NULL);
        return;
    }
    omtp_guard_count(c->srv, reason);
    bool online = c->state == OMTP_CONN_ONLINE;
    const char *name = omtp_shed_reason_name(reason);
    if (online)
        LOG_INFO("conn %llu close %s user=%s dev=%s: %s (%s)", (unsigned long long)c->id, c->peer,
                 c->userId, omtp_log_device(c->deviceType), why ? why : name, name);
    else
        LOG_DEBUG("conn %llu close %s: %s (%s)", (unsigned long long)c->id, c->peer,
                  why ? why : name, name);
    begin_close(c, NULL);
    drop_input(c);
    if (why) {
        int code = reason == OMTP_SHED_PRELOGIN_FRAME ? OMTP_EC_PROTOCOL : OMTP_EC_SERVER_REFUSED;
        omtp_send_error_frame(c, code, why);
        if (c->impl->pending)
            flush_conn(c);
    }
    /* the error frame is tiny: what the kernel did not take now is dropped */
    omtp_conn_abort(c, NULL);
}

void omtp_conn_logged_in(omtp_conn *c)
{
    c->impl->rd.max_frame = c->srv->cfg->max_frame;
    omtp_guard_logged_in(c->srv, c);
}

/* ------------------------------------------------------------ input */

void omtp_conn_req_started(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    if (++i->inflight > REQS_HIGH && !i->read_paused && c->state != OMTP_CONN_CLOSING) {
        i->read_paused = true;
        uv_read_stop((uv_stream_t *)&i->tcp);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

void omtp_conn_req_done(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    i->inflight--;
    if (i->read_paused && i->inflight < REQS_LOW && c->state != OMTP_CONN_CLOSING &&
        !i->handle_closing && !c->srv->stopping) {
        i->read_paused = false;
        uv_read_start((uv_stream_t *)&i->tcp, alloc_cb, read_cb);
    }
}

void omtp_conn_pause(omtp_conn *c)
{
    c->impl->read_paused = true;
    uv_read_stop((uv_stream_t *)&c->impl->tcp);
}

void omtp_conn_resume(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    if (i->read_paused && c->state != OMTP_CONN_CLOSING && !i->handle_closing &&
        !c->srv->stopping && i->inflight < REQS_LOW) {
        i->read_paused = false;
        uv_read_start((uv_stream_t *)&i->tcp, alloc_cb, read_cb);
    }
}

void omtp_conn_transfer(omtp_conn *c, uint64_t stall_ms)
{
    struct omtp_conn_impl *i = c->impl;
    i->xfer_stall_ms = stall_ms;
    i->xfer_last_ms = uv_now(c->srv->loop);
    if (c->state != OMTP_CONN_CLOSING) { /* the deadline may come sooner now */
        omtp_wheel_remove(c->srv, c);
        omtp_wheel_insert(c->srv, c, omtp_conn_deadline(c));
    }
}

void omtp_conn_progress(omtp_conn *c)
{
    c->impl->xfer_last_ms = uv_now(c->srv->loop);
}

/* How many bytes to read into the frame reader next. */
static size_t read_want(const omtp_frame_reader *r)
{
    size_t pend = omtp_frame_reader_pending(r);
    if (pend < OMTP_FRAME_HDR)
        return READ_CHUNK;
    const uint8_t *h = r->buf + r->start;
    size_t flen = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    size_t want = flen > pend ? flen - pend : READ_CHUNK;
    /* grow with what arrived, never to the declared length up front: a peer
     * that announces 1 MiB and trickles makes us hold what it sent, x2 */
    if (want > pend)
        want = pend;
    if (want < READ_CHUNK)
        want = READ_CHUNK;
    if (want > READ_CHUNK_MAX)
        want = READ_CHUNK_MAX;
    return want;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    omtp_conn *c = h->data;
    c->impl->tp->alloc(c, buf);
}

void omtp_conn_reader_buf(omtp_conn *c, uv_buf_t *buf)
{
    uint8_t *p;
    size_t n;
    if (omtp_frame_reader_space(&c->impl->rd, read_want(&c->impl->rd), &p, &n)) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    omtp_guard_set_bytes(c->srv, c, c->impl->rd.cap);
    *buf = uv_buf_init((char *)p, (unsigned)n);
}

/* Runs every complete frame in the reader; returns how many. */
unsigned omtp_conn_run_frames(omtp_conn *c)
{
    struct omtp_conn_impl *i = c->impl;
    unsigned n = 0;
    while (c->state != OMTP_CONN_CLOSING) {
        const uint8_t *f;
        size_t len;
        int rc = omtp_frame_reader_next(&i->rd, &f, &len);
        if (rc == 0)
            break;
        if (rc < 0) {
            c->srv->metrics.frame_errors++;
            char why[192];
            if (c->state != OMTP_CONN_ONLINE && i->rd.bad_len >= OMTP_FRAME_HDR &&
                i->rd.bad_len <= c->srv->cfg->max_frame) {
                /* refused on its header: nothing of its body is kept */
                snprintf(why, sizeof(why),
                         "frame of %u bytes before login: at most %u bytes until logged in "
                         "(max_prelogin_frame)",
                         i->rd.bad_len, i->rd.max_frame);
                omtp_conn_shed(c, OMTP_SHED_PRELOGIN_FRAME, why);
                return n;
            }
            snprintf(why, sizeof(why), "frame length %u outside 4..%u bytes", i->rd.bad_len,
                     i->rd.max_frame);
            omtp_send_error_frame(c, OMTP_EC_PROTOCOL, why);
            omtp_conn_close(c, why);
            break;
        }
        n++;
        omtp_dispatch_frame(c, f, len);
    }
    /* an idle connection keeps no input buffer */
    if (omtp_frame_reader_pending(&i->rd) == 0)
        omtp_frame_reader_free(&i->rd);
    return n;
}

/* After a read: complete frames are activity; a frame left partial starts
 * (or keeps) its deadline; the guard hears about the bytes held. */
void omtp_conn_input_done(omtp_conn *c, unsigned frames)
{
    struct omtp_conn_impl *i = c->impl;
    omtp_server *s = c->srv;
    if (omtp_frame_reader_pending(&i->rd) == 0) /* an idle connection keeps no input buffer */
        omtp_frame_reader_free(&i->rd);
    uint64_t now = uv_now(s->loop);
    if (frames || !s->cfg->frame_timeout_s)
        i->last_rx_ms = now;
    omtp_guard_set_bytes(s, c, i->rd.buf ? i->rd.cap : 0);
    if (c->state == OMTP_CONN_CLOSING)
        return;
    if (omtp_frame_reader_pending(&i->rd) == 0) {
        i->frame_start_ms = 0;
    } else if (s->cfg->frame_timeout_s && (frames || !i->frame_start_ms)) {
        /* a new frame began: its deadline may come before the slot the
         * connection is filed under (O(1) re-file) */
        i->frame_start_ms = now;
        omtp_wheel_remove(s, c);
        omtp_wheel_insert(s, c, omtp_conn_deadline(c));
    }
    omtp_guard_enforce_memory(s);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    omtp_conn *c = st->data;
    struct omtp_conn_impl *i = c->impl;
    if (nread > 0) {
        c->srv->metrics.bytes_in += (uint64_t)nread;
        c->srv->metrics.tp_bytes_in[i->tp->kind] += (uint64_t)nread;
        i->tp->input(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    if (omtp_frame_reader_pending(&i->rd) == 0) {
        omtp_frame_reader_free(&i->rd);
        omtp_guard_set_bytes(c->srv, c, 0);
    }
    if (nread == UV_EOF)
        omtp_conn_close(c, "peer closed the connection");
    else if (nread == UV_ENOBUFS)
        omtp_conn_abort(c, "out of memory for input");
    else
        omtp_conn_abort(c, uv_strerror((int)nread));
}

/* ------------------------------------------------------------ accept */

static void free_unaccepted(uv_handle_t *h)
{
    free(h->data);
}

static const omtp_transport_ops *const transports[OMTP_TP_KINDS] = {
    [OMTP_TP_TCP] = &omtp_transport_tcp,
    [OMTP_TP_TLS] = &omtp_transport_tls,
    [OMTP_TP_WS] = &omtp_transport_ws,
    [OMTP_TP_WSS] = &omtp_transport_wss,
};

void omtp_conn_accept(omtp_server *s, uv_stream_t *listener, int kind)
{
    struct conn_full *f = calloc(1, sizeof(*f));
    if (!f) {
        LOG_ERROR("out of memory accepting a connection");
        return;
    }
    omtp_conn *c = &f->pub;
    struct omtp_conn_impl *i = &f->impl;
    c->impl = i;
    c->srv = s;
    i->refs = 1;
    i->tp = transports[kind]; /* state: open() below */
    uv_tcp_init(s->loop, &i->tcp);
    i->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&i->tcp) != 0) {
        i->handle_closing = true;
        uv_close((uv_handle_t *)&i->tcp, free_unaccepted);
        return;
    }
    omtp_guard_fd_opened(s);
    s->metrics.tp_conns[i->tp->kind]++; /* on_closed takes it back */
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char ip[64] = "?";
    char source[64] = "?"; /* the guard's per-address key */
    int port = 0;
    if (uv_tcp_getpeername(&i->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        omtp_guard_source(&ss, source, sizeof(source));
    }
    snprintf(c->peer, sizeof(c->peer), "%.45s:%d", ip, port);
    c->id = ++s->metrics.conns_total;
    /* until login, frames are small (max_prelogin_frame) */
    omtp_frame_reader_init(&i->rd, s->cfg->max_prelogin_frame < s->cfg->max_frame
                                       ? s->cfg->max_prelogin_frame
                                       : s->cfg->max_frame);
    i->accept_ms = i->last_rx_ms = uv_now(s->loop);
    omtp_ratelimit_init(&i->rl, omtp_ratelimit_burst(s->cfg->req_rate, s->cfg->req_burst),
                        i->accept_ms);
    i->wheel_slot = -1;
    uv_tcp_nodelay(&i->tcp, 1);

    char why[256];
    int refused = omtp_guard_admit(s, c, source, why, sizeof(why));
    if (refused) {
        /* counted and logged (rate-limited) by the guard */
        LOG_DEBUG("conn %llu refused from %s: %s", (unsigned long long)c->id, c->peer, why);
        omtp_server_conn_opened(s, c);
        if (kind == OMTP_TP_TCP) { /* the others cannot carry a frame yet */
            omtp_send_error_frame(c, OMTP_EC_SERVER_REFUSED, why);
            flush_conn(c);
        }
        begin_close(c, NULL);
        omtp_conn_abort(c, NULL);
        return;
    }
    if (i->tp->open && i->tp->open(c)) { /* out of memory for the transport's state */
        c->state = OMTP_CONN_CLOSING;
        omtp_guard_closing(s, c); /* admitted above: leave the guard's lists */
        omtp_server_conn_opened(s, c);
        close_handle(c);
        return;
    }
    omtp_server_conn_opened(s, c);
    if (omtp_guard_log_unauth(s)) /* rate-limited: a flood of accepts */
        LOG_INFO("conn %llu accept %s%s%s", (unsigned long long)c->id, c->peer,
                 kind == OMTP_TP_TCP ? "" : " ",
                 kind == OMTP_TP_TCP ? "" : omtp_transport_name(kind));
    omtp_wheel_insert(s, c, omtp_conn_deadline(c));
    int rc = uv_read_start((uv_stream_t *)&i->tcp, alloc_cb, read_cb);
    if (rc)
        omtp_conn_abort(c, uv_strerror(rc));
}
