/*
 * omtp_sync.c - the blocking OMTP client (see omtp_sync.h).
 *
 * The socket is non-blocking; every wait is a poll(2) with the time left to
 * the caller's deadline. Incoming bytes go straight into the frame reader's
 * buffer; each complete frame is decoded and appended to one of two FIFO
 * queues (pushes, replies). Queues are singly linked lists with a tail
 * pointer: pushes are consumed in order, replies are searched by packId
 * (O(n) in the number of unclaimed replies, which is tiny in practice).
 */
#include "omtp_sync.h"
#include "omtp_ws.h"
#include "omtp_packid.h"
#include "omtp_version.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct qnode {
    struct qnode *next;
    omtp_packet pkt;
} qnode;

typedef struct pqueue {
    qnode *head, *tail;
    size_t n;
} pqueue;

struct omtp_sync {
    int fd;
    omtp_ws *ws; /* WebSocket (omtp_sync_connect_ws), NULL = plain TCP */
    char ws_why[256];
    bool closed;
    int timeout_ms;
    int64_t xflags; /* COMPRESS/CRYPTO bits for requests */
    omtp_crypto_key key;
    uint32_t max_frame;
    omtp_frame_reader rd;
    tars_buf out;
    pqueue pushes;
    pqueue replies;
    char user[256];
    char login_desc[256]; /* LoginResp.extraData of the last login */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t l = deadline - mono_ms();
    return l < 0 ? 0 : (int)(l > 0x7fffffff ? 0x7fffffff : l);
}

static void q_push(pqueue *q, qnode *n)
{
    n->next = NULL;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->n++;
}

static void q_free(pqueue *q)
{
    qnode *n = q->head;
    while (n) {
        qnode *nx = n->next;
        omtp_packet_free(&n->pkt);
        free(n);
        n = nx;
    }
    q->head = q->tail = NULL;
    q->n = 0;
}

/* Removes and returns the first node matching pack_id (NULL = any). */
static qnode *q_take(pqueue *q, const char *pack_id)
{
    qnode *prev = NULL;
    for (qnode *n = q->head; n; prev = n, n = n->next) {
        if (pack_id &&
            strcmp(n->pkt.header.packId.data ? n->pkt.header.packId.data : "", pack_id) != 0)
            continue;
        if (prev)
            prev->next = n->next;
        else
            q->head = n->next;
        if (q->tail == n)
            q->tail = prev;
        q->n--;
        return n;
    }
    return NULL;
}

int omtp_sync_connect(omtp_sync **out, const char *host, int port, int timeout_ms)
{
    *out = NULL;
    if (!host || port <= 0 || port > 65535)
        return OMTP_EINVAL;
    if (timeout_ms <= 0)
        timeout_ms = OMTP_SYNC_DEFAULT_TIMEOUT_MS;
    int64_t deadline = mono_ms() + timeout_ms;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return OMTP_EINVAL;

    int rc = OMTP_EIO, fd = -1, saved = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            rc = 0;
            break;
        }
        if (errno == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int pr = poll(&pf, 1, left_ms(deadline));
            if (pr == 0) {
                rc = OMTP_ETIMEDOUT;
                saved = ETIMEDOUT;
                close(fd);
                fd = -1;
                break;
            }
            int err = 0;
            socklen_t el = sizeof(err);
            if (pr > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) {
                rc = 0;
                break;
            }
            saved = err ? err : errno;
        } else {
            saved = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc) {
        errno = saved;
        return rc;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    omtp_sync *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return OMTP_ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = OMTP_SYNC_DEFAULT_TIMEOUT_MS;
    c->max_frame = OMTP_DEFAULT_MAX_FRAME;
    omtp_frame_reader_init(&c->rd, c->max_frame);
    tars_buf_init(&c->out);
    *out = c;
    return 0;
}

void omtp_sync_close(omtp_sync *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    omtp_ws_free(c->ws);
    omtp_frame_reader_free(&c->rd);
    tars_buf_free(&c->out);
    q_free(&c->pushes);
    q_free(&c->replies);
    free(c);
}

void omtp_sync_set_timeout(omtp_sync *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : OMTP_SYNC_DEFAULT_TIMEOUT_MS;
}

void omtp_sync_set_transform(omtp_sync *c, int compress, int crypto, const omtp_crypto_key *key)
{
    c->xflags = omtp_flags_with(0, compress, crypto);
    if (key)
        c->key = *key;
    else
        memset(&c->key, 0, sizeof(c->key));
}

void omtp_sync_set_max_frame(omtp_sync *c, uint32_t max_frame)
{
    c->max_frame = max_frame ? max_frame : OMTP_DEFAULT_MAX_FRAME;
    c->rd.max_frame = c->max_frame;
}

const char *omtp_sync_user(const omtp_sync *c)
{
    return c->user;
}

int omtp_sync_fd(const omtp_sync *c)
{
    return c->fd;
}

bool omtp_sync_closed(const omtp_sync *c)
{
    return c->closed;
}

/* Decodes every complete frame buffered and queues it. */
static int drain_frames(omtp_sync *c)
{
    for (;;) {
        const uint8_t *f;
        size_t fl;
        int r = omtp_frame_reader_next(&c->rd, &f, &fl);
        if (r == 0)
            return 0;
        if (r < 0) {
            c->closed = true; /* a broken stream cannot be resynchronised */
            return r;
        }
        qnode *n = calloc(1, sizeof(*n));
        if (!n)
            return OMTP_ENOMEM;
        omtp_decode_opts o = {
            .key = c->key.set ? &c->key : NULL, .max_payload = c->max_frame, .from_server = true};
        int stage;
        char why[200];
        int rc = omtp_packet_decode(f, fl, &o, &n->pkt, &stage, why, sizeof(why));
        if (rc && stage == OMTP_STAGE_FRAME) {
            omtp_packet_free(&n->pkt);
            free(n);
            c->closed = true;
            return OMTP_EDECODE;
        }
        /* a payload-stage failure keeps the header; body stays NULL */
        if (n->pkt.header.flags & OMTP_F_ACK)
            q_push(&c->replies, n);
        else
            q_push(&c->pushes, n);
    }
}

static int write_all(omtp_sync *c, const uint8_t *p, size_t n);

static void ws_data(void *ud, const uint8_t *p, size_t n)
{
    omtp_sync *c = ud;
    if (omtp_frame_reader_feed(&c->rd, p, n))
        c->closed = true;
}

/* One read on a WebSocket connection: the upgrade's answer, then messages. */
static int read_some_ws(omtp_sync *c)
{
    uint8_t buf[16384];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n == 0) {
        c->closed = true;
        return OMTP_ECLOSED;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        c->closed = true;
        return errno == ECONNRESET ? OMTP_ECLOSED : OMTP_EIO;
    }
    tars_buf out;
    tars_buf_init(&out);
    int r = omtp_ws_feed(c->ws, buf, (size_t)n, ws_data, c, &out, c->ws_why, sizeof(c->ws_why));
    if (out.len) {
        bool was = c->closed;
        c->closed = false; /* the close echo still goes out */
        write_all(c, out.data, out.len);
        c->closed = was || c->closed;
    }
    tars_buf_free(&out);
    int rc = drain_frames(c); /* what arrived before a close is kept */
    if (r < 0) {
        c->closed = true;
        return OMTP_ECLOSED;
    }
    return rc;
}

/* Reads what is readable now (one read). 0 on progress, OMTP_ECLOSED on EOF. */
static int read_some(omtp_sync *c)
{
    if (c->ws)
        return read_some_ws(c);
    uint8_t *p;
    size_t room;
    int rc = omtp_frame_reader_space(&c->rd, 16384, &p, &room);
    if (rc)
        return rc;
    ssize_t n = recv(c->fd, p, room, 0);
    if (n > 0) {
        omtp_frame_reader_commit(&c->rd, (size_t)n);
        return drain_frames(c);
    }
    if (n == 0) {
        c->closed = true;
        return OMTP_ECLOSED;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    c->closed = true;
    return errno == ECONNRESET ? OMTP_ECLOSED : OMTP_EIO;
}

/* Waits until readable (up to deadline) and reads once. */
static int pump(omtp_sync *c, int64_t deadline)
{
    if (c->closed)
        return OMTP_ECLOSED;
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    int pr;
    do {
        pr = poll(&pf, 1, left_ms(deadline));
    } while (pr < 0 && errno == EINTR);
    if (pr < 0)
        return OMTP_EIO;
    if (pr == 0)
        return OMTP_ETIMEDOUT;
    return read_some(c);
}

static int write_all(omtp_sync *c, const uint8_t *p, size_t n)
{
    if (c->closed)
        return OMTP_ECLOSED;
    int64_t deadline = mono_ms() + c->timeout_ms;
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = c->fd, .events = POLLIN | POLLOUT};
            int pr = poll(&pf, 1, left_ms(deadline));
            if (pr == 0)
                return OMTP_ETIMEDOUT;
            if (pr > 0 && (pf.revents & POLLIN)) {
                int rc = read_some(c);
                if (rc && rc != OMTP_ECLOSED)
                    return rc;
            }
            continue;
        }
        c->closed = true;
        return (errno == EPIPE || errno == ECONNRESET) ? OMTP_ECLOSED : OMTP_EIO;
    }
    return 0;
}

int omtp_sync_send_raw(omtp_sync *c, const void *data, size_t len)
{
    return write_all(c, data, len);
}

int omtp_sync_send(omtp_sync *c, int type, int64_t flags, const char *pack_id,
                   const tars_struct_desc *desc, const void *body, char *pack_id_out)
{
    char id[37];
    if (!pack_id) {
        omtp_packid_new(id);
        pack_id = id;
    }
    if (pack_id_out)
        snprintf(pack_id_out, 37, "%s", pack_id);
    tars_buf_reset(&c->out);
    int rc = omtp_packet_encode(&c->out, type, flags, pack_id, desc, body,
                                c->key.set ? &c->key : NULL, c->max_frame);
    if (rc)
        return rc;
    if (c->ws) { /* one frame = one binary message */
        tars_buf m;
        tars_buf_init(&m);
        rc = omtp_ws_wrap(c->ws, c->out.data, c->out.len, &m);
        if (!rc)
            rc = tars_buf_ok(&m) ? write_all(c, m.data, m.len) : OMTP_ENOMEM;
        tars_buf_free(&m);
        return rc;
    }
    return write_all(c, c->out.data, c->out.len);
}

int omtp_sync_connect_ws(omtp_sync **out, const char *host, int port, const char *path,
                         int timeout_ms, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = 0;
    int rc = omtp_sync_connect(out, host, port, timeout_ms);
    if (rc)
        return rc;
    omtp_sync *c = *out;
    char hp[300];
    snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (!(c->ws = omtp_ws_new(hp, path))) {
        omtp_sync_close(c);
        *out = NULL;
        return OMTP_ENOMEM;
    }
    tars_buf req;
    tars_buf_init(&req);
    omtp_ws_request(c->ws, &req);
    rc = tars_buf_ok(&req) ? write_all(c, req.data, req.len) : OMTP_ENOMEM;
    tars_buf_free(&req);
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : OMTP_SYNC_DEFAULT_TIMEOUT_MS);
    while (!rc && !omtp_ws_is_open(c->ws))
        rc = pump(c, deadline);
    if (rc) {
        if (why && whylen)
            snprintf(why, whylen, "%s", c->ws_why[0] ? c->ws_why : omtp_strerror(rc));
        omtp_sync_close(c);
        *out = NULL;
        return rc == OMTP_ETIMEDOUT ? rc : OMTP_ECLOSED;
    }
    return 0;
}

/* Reads packets until q holds one matching pack_id (NULL: any) or the
 * deadline passes; moves it into *out. */
static int wait_for(omtp_sync *c, pqueue *q, const char *pack_id, int64_t deadline,
                    omtp_packet *out)
{
    for (;;) {
        qnode *n = q_take(q, pack_id);
        if (n) {
            *out = n->pkt;
            free(n);
            return 0;
        }
        int rc = pump(c, deadline);
        if (rc == OMTP_ETIMEDOUT || rc == OMTP_ECLOSED || rc == OMTP_EIO || rc == OMTP_ENOMEM)
            return rc;
        if (rc && c->closed)
            return OMTP_ECLOSED;
    }
}

int omtp_sync_wait_reply(omtp_sync *c, const char *pack_id, int timeout_ms, omtp_packet *reply)
{
    memset(reply, 0, sizeof(*reply));
    if (timeout_ms <= 0)
        timeout_ms = c->timeout_ms;
    return wait_for(c, &c->replies, pack_id, mono_ms() + timeout_ms, reply);
}

int omtp_sync_request(omtp_sync *c, int type, int64_t flags, const tars_struct_desc *desc,
                      const void *body, int timeout_ms, omtp_packet *reply)
{
    char id[37];
    memset(reply, 0, sizeof(*reply));
    int rc = omtp_sync_send(c, type, flags | c->xflags, NULL, desc, body, id);
    if (rc)
        return rc;
    return omtp_sync_wait_reply(c, id, timeout_ms, reply);
}

int omtp_sync_next_push(omtp_sync *c, int timeout_ms, omtp_packet *p)
{
    memset(p, 0, sizeof(*p));
    return wait_for(c, &c->pushes, NULL, mono_ms() + (timeout_ms > 0 ? timeout_ms : 0), p);
}

size_t omtp_sync_pending_pushes(const omtp_sync *c)
{
    return c->pushes.n;
}

int omtp_sync_wait_closed(omtp_sync *c, int timeout_ms)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (!c->closed) {
        int rc = pump(c, deadline);
        if (rc == OMTP_ETIMEDOUT)
            return rc;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

/* Moves the reply body into out (a `d` struct); OMTP_EDECODE if absent. */
static int take_body(omtp_packet *p, const tars_struct_desc *d, void *out)
{
    if (!p->body || p->desc != d) {
        tars_init(d, out);
        return OMTP_EDECODE;
    }
    memcpy(out, p->body, d->size);
    free(p->body);
    p->body = NULL;
    return 0;
}

int omtp_sync_call(omtp_sync *c, int type, const tars_struct_desc *desc, const void *body,
                   const tars_struct_desc *reply_desc, void *out)
{
    omtp_packet r;
    int rc = omtp_sync_request(c, type, 0, desc, body, 0, &r);
    if (rc) {
        tars_init(reply_desc, out);
        return rc;
    }
    rc = take_body(&r, reply_desc, out);
    omtp_packet_free(&r);
    return rc;
}

int omtp_sync_login(omtp_sync *c, const char *user, const char *password, int device_type,
                    const char *device_id, int *code)
{
    omtp_LoginReq req;
    omtp_msg_init(&omtp_LoginReq_desc, &req);
    char dev[37];
    if (!device_id) {
        omtp_uuid(dev);
        device_id = dev;
    }
    int rc = OMTP_ENOMEM;
    if (tars_str_set(&req.clientId, user) || tars_str_set(&req.userName, user) ||
        tars_str_set(&req.password, password ? password : "") ||
        tars_str_set(&req.deviceId, device_id) || tars_str_set(&req.deviceName, "omtp") ||
        tars_str_set(&req.version, OMTP_BUILD_VERSION))
        goto out;
    req.deviceType = device_type;
    omtp_LoginResp resp;
    rc = omtp_sync_call(c, PT_LOGIN, &omtp_LoginReq_desc, &req, &omtp_LoginResp_desc, &resp);
    if (rc == 0) {
        if (code)
            *code = resp.code;
        snprintf(c->login_desc, sizeof(c->login_desc), "%s",
                 resp.extraData.data ? resp.extraData.data : "");
        if (resp.code == OMTP_EC_SUCCESS)
            snprintf(c->user, sizeof(c->user), "%s", user);
        omtp_msg_free(&omtp_LoginResp_desc, &resp);
    }
out:
    omtp_msg_free(&omtp_LoginReq_desc, &req);
    return rc;
}

const char *omtp_sync_login_desc(const omtp_sync *c)
{
    return c->login_desc;
}

int omtp_sync_ping(omtp_sync *c)
{
    omtp_packet r;
    int rc = omtp_sync_request(c, PT_PING, 0, NULL, NULL, 0, &r);
    omtp_packet_free(&r);
    return rc;
}

int omtp_sync_logout(omtp_sync *c)
{
    omtp_packet r;
    int rc = omtp_sync_request(c, PT_LOGOUT, 0, NULL, NULL, 0, &r);
    omtp_packet_free(&r);
    return rc == OMTP_ECLOSED ? 0 : rc;
}

int omtp_sync_send_msg(omtp_sync *c, int type, const char *to, const char *content,
                       const char *pack_id, int64_t flags, omtp_MsgAck *ack)
{
    return omtp_sync_send_typed(c, type, to, 1, content, pack_id, flags, ack);
}

int omtp_sync_send_typed(omtp_sync *c, int type, const char *to, int content_type,
                         const char *content, const char *pack_id, int64_t flags, omtp_MsgAck *ack)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    omtp_msg_init(&omtp_MsgAck_desc, ack);
    char sid[600];
    if (type == PT_MSG_SINGLE_CHAT)
        omtp_session_single(c->user, to, sid, sizeof(sid));
    else
        snprintf(sid, sizeof(sid), "%s", to);
    int rc = OMTP_ENOMEM;
    if (tars_str_set(&m.sessionId, sid) || tars_str_set(&m.from, c->user) ||
        tars_str_set(&m.to, to) || tars_str_set(&m.content, content ? content : ""))
        goto out;
    m.timestamp = omtp_now_ms();
    m.contentType = content_type;
    char id[37];
    rc = omtp_sync_send(c, type, flags | c->xflags, pack_id, &omtp_MsgReq_desc, &m, id);
    if (rc)
        goto out;
    omtp_packet r;
    rc = omtp_sync_wait_reply(c, id, 0, &r);
    if (rc == 0) {
        rc = take_body(&r, &omtp_MsgAck_desc, ack);
        omtp_packet_free(&r);
    }
out:
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return rc;
}

int omtp_sync_chat(omtp_sync *c, const char *to_user, const char *content, omtp_MsgAck *ack)
{
    return omtp_sync_send_msg(c, PT_MSG_SINGLE_CHAT, to_user, content, NULL, 0, ack);
}

int omtp_sync_group_chat(omtp_sync *c, const char *group_id, const char *content, omtp_MsgAck *ack)
{
    return omtp_sync_send_msg(c, PT_MSG_GROUP_CHAT, group_id, content, NULL, 0, ack);
}

int omtp_sync_hot_sessions(omtp_sync *c, int64_t cursor_us, omtp_HotSessionResp *out)
{
    omtp_HotSessionReq q = {.timestamp = cursor_us};
    return omtp_sync_call(c, PT_HOTSESSION_SYNC, &omtp_HotSessionReq_desc, &q,
                          &omtp_HotSessionResp_desc, out);
}

int omtp_sync_history(omtp_sync *c, const char *session_id, int64_t seq, int count,
                      omtp_HistoryMsgPullResp *out)
{
    omtp_HistoryMsgPullReq q;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &q);
    q.seqId = seq;
    q.count = count > 0 ? count : 20;
    if (tars_str_set(&q.sessionId, session_id)) {
        tars_init(&omtp_HistoryMsgPullResp_desc, out);
        return OMTP_ENOMEM;
    }
    int rc = omtp_sync_call(c, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &q,
                            &omtp_HistoryMsgPullResp_desc, out);
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &q);
    return rc;
}

int omtp_sync_search(omtp_sync *c, const char *query, const char *session_id, int64_t before_ms,
                     int count, omtp_MsgSearchResp *out)
{
    omtp_MsgSearchReq q;
    omtp_msg_init(&omtp_MsgSearchReq_desc, &q);
    q.beforeTimestamp = before_ms > 0 ? before_ms : 0;
    q.count = count > 0 ? count : 20;
    if (tars_str_set(&q.query, query ? query : "") ||
        tars_str_set(&q.sessionId, session_id ? session_id : "")) {
        omtp_msg_free(&omtp_MsgSearchReq_desc, &q);
        tars_init(&omtp_MsgSearchResp_desc, out);
        return OMTP_ENOMEM;
    }
    int rc = omtp_sync_call(c, PT_MSG_SEARCH, &omtp_MsgSearchReq_desc, &q, &omtp_MsgSearchResp_desc,
                            out);
    omtp_msg_free(&omtp_MsgSearchReq_desc, &q);
    return rc;
}

/* Appends the items of `from` to `to` (moved: `from` keeps empty slots). */
static int list_append(tars_list *to, tars_list *from, size_t size)
{
    if (from->n == 0)
        return 0;
    void *ni = realloc(to->items, ((size_t)to->n + from->n) * size);
    if (!ni)
        return OMTP_ENOMEM;
    to->items = ni;
    memcpy((char *)ni + (size_t)to->n * size, from->items, (size_t)from->n * size);
    to->n += from->n;
    free(from->items);
    from->items = NULL;
    from->n = 0;
    return 0;
}

static int64_t pack_seq(const omtp_OTIMPack *p)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    int64_t seq = 0;
    if (p->payload.len &&
        tars_decode(&omtp_MsgReq_desc, &m, p->payload.data, p->payload.len, NULL) == TARS_OK)
        seq = m.seqId;
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return seq;
}

int omtp_sync_history_all(omtp_sync *c, const char *session_id, int64_t seq, int count,
                          omtp_HistoryMsgPullResp *out)
{
    int rc = omtp_sync_history(c, session_id, seq, count > 0 && count < 200 ? count : 200, out);
    while (rc == 0 && out->errorCode.code == 0 && out->msgs.n > 0 &&
           (count <= 0 || (int)out->msgs.n < count)) {
        int64_t oldest = pack_seq(&out->msgs.items[out->msgs.n - 1]);
        if (oldest <= 1)
            break;
        int want = count > 0 ? count - (int)out->msgs.n : 200;
        omtp_HistoryMsgPullResp page;
        rc = omtp_sync_history(c, session_id, oldest - 1, want < 200 ? want : 200, &page);
        if (rc == 0 && page.errorCode.code != 0) {
            /* keep what arrived; report the refusal */
            out->errorCode.code = page.errorCode.code;
            tars_str_setn(&out->errorCode.desc, page.errorCode.desc.data, page.errorCode.desc.len);
        }
        bool empty = rc != 0 || page.msgs.n == 0;
        if (rc == 0)
            rc = list_append((tars_list *)(void *)&out->msgs, (tars_list *)(void *)&page.msgs,
                             sizeof(omtp_OTIMPack));
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &page);
        if (empty)
            break;
    }
    return rc;
}

int omtp_sync_hot_sessions_all(omtp_sync *c, int64_t cursor_us, omtp_HotSessionResp *out)
{
    int rc = omtp_sync_hot_sessions(c, cursor_us, out);
    int64_t cursor = cursor_us;
    while (rc == 0 && out->code == 0 && out->sessions.n > 0 && out->timestamp > cursor) {
        cursor = out->timestamp;
        omtp_HotSessionResp page;
        rc = omtp_sync_hot_sessions(c, cursor, &page);
        if (rc == 0 && page.code != 0)
            out->code = page.code;
        bool empty = rc != 0 || page.code != 0 || page.sessions.n == 0;
        if (rc == 0 && page.code == 0) {
            if (page.timestamp > out->timestamp)
                out->timestamp = page.timestamp;
            rc = list_append((tars_list *)(void *)&out->sessions,
                             (tars_list *)(void *)&page.sessions, sizeof(omtp_HotSessionItem));
        }
        omtp_msg_free(&omtp_HotSessionResp_desc, &page);
        if (empty)
            break;
    }
    return rc;
}

/* Keeps a refusal of a later page in the merged reply. */
static void keep_error(omtp_CommonErrorCode *to, const omtp_CommonErrorCode *from)
{
    to->code = from->code;
    tars_str_setn(&to->desc, from->desc.data, from->desc.len);
}

/*
 * The replies paged by an `after` request cursor and a `next` reply cursor
 * (docs/protocol.md 7.2): asks again with after = next until next is empty
 * (at most 100,000 pages), merging each page into *out with merge(). A
 * refused later page keeps its error in out's errorCode. q and *out belong
 * to the caller (q is freed by it; *out filled by the first call).
 */
typedef struct paged_call {
    int type;
    const tars_struct_desc *req, *resp;
    size_t after_off;                    /* tars_str in the request */
    size_t error_off, next_off;          /* CommonErrorCode and tars_str in the reply */
    int (*merge)(void *out, void *page); /* appends the page's items */
} paged_call;

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

static int call_paged(omtp_sync *c, const paged_call *pc, void *q, void *out)
{
    int rc = omtp_sync_call(c, pc->type, pc->req, q, pc->resp, out);
    void *page = malloc(pc->resp->size);
    if (!page)
        return rc ? rc : OMTP_ENOMEM;
    tars_str *after = AT(q, pc->after_off, tars_str);
    tars_str *next = AT(out, pc->next_off, tars_str);
    for (int pages = 0; rc == 0 && AT(out, pc->error_off, omtp_CommonErrorCode)->code == 0 &&
                        next->len && pages < 100000;
         pages++) {
        tars_str t = *after;
        *after = *next;
        *next = t;
        tars_str_clear(next);
        rc = omtp_sync_call(c, pc->type, pc->req, q, pc->resp, page);
        if (rc)
            break;
        omtp_CommonErrorCode *perr = AT(page, pc->error_off, omtp_CommonErrorCode);
        if (perr->code)
            keep_error(AT(out, pc->error_off, omtp_CommonErrorCode), perr);
        else
            rc = pc->merge(out, page);
        tars_str *pnext = AT(page, pc->next_off, tars_str);
        tars_str t2 = *next;
        *next = *pnext;
        *pnext = t2;
        omtp_msg_free(pc->resp, page);
    }
    free(page);
    return rc;
}

static int merge_friends(void *out, void *page)
{
    omtp_FriendSyncResp *o = out, *p = page;
    return list_append((tars_list *)(void *)&o->friends, (tars_list *)(void *)&p->friends,
                       sizeof(omtp_FriendInfo));
}

int omtp_sync_friends_all(omtp_sync *c, int64_t since_ms, omtp_FriendSyncResp *out)
{
    static const paged_call pc = {PT_FRIEND_SYNC,
                                  &omtp_FriendSyncReq_desc,
                                  &omtp_FriendSyncResp_desc,
                                  offsetof(omtp_FriendSyncReq, after),
                                  offsetof(omtp_FriendSyncResp, errorCode),
                                  offsetof(omtp_FriendSyncResp, next),
                                  merge_friends};
    omtp_FriendSyncReq q;
    omtp_msg_init(&omtp_FriendSyncReq_desc, &q);
    q.timestamp = since_ms;
    int rc = call_paged(c, &pc, &q, out);
    omtp_msg_free(&omtp_FriendSyncReq_desc, &q);
    return rc;
}

static int merge_groups(void *out, void *page)
{
    omtp_GroupChatSyncResp *o = out, *p = page;
    o->timestamp = p->timestamp;
    int rc = list_append((tars_list *)(void *)&o->groupchats, (tars_list *)(void *)&p->groupchats,
                         sizeof(omtp_GroupChatInfo));
    if (rc == 0)
        rc = list_append((tars_list *)(void *)&o->delGroupChatIds,
                         (tars_list *)(void *)&p->delGroupChatIds, sizeof(tars_str));
    return rc;
}

int omtp_sync_groups_all(omtp_sync *c, int64_t since_ms, omtp_GroupChatSyncResp *out)
{
    static const paged_call pc = {PT_GROUPCHAT_SYNC,
                                  &omtp_GroupChatSyncReq_desc,
                                  &omtp_GroupChatSyncResp_desc,
                                  offsetof(omtp_GroupChatSyncReq, after),
                                  offsetof(omtp_GroupChatSyncResp, errorCode),
                                  offsetof(omtp_GroupChatSyncResp, next),
                                  merge_groups};
    omtp_GroupChatSyncReq q;
    omtp_msg_init(&omtp_GroupChatSyncReq_desc, &q);
    q.timestamp = since_ms;
    int rc = call_paged(c, &pc, &q, out);
    omtp_msg_free(&omtp_GroupChatSyncReq_desc, &q);
    return rc;
}

static int merge_members(void *out, void *page)
{
    omtp_GroupChatMemberGetResp *o = out, *p = page;
    return list_append((tars_list *)(void *)&o->memberIds, (tars_list *)(void *)&p->memberIds,
                       sizeof(tars_str));
}

int omtp_sync_members_all(omtp_sync *c, const char *group_id, omtp_GroupChatMemberGetResp *out)
{
    static const paged_call pc = {PT_GROUPCHAT_MEMBERS_GET,
                                  &omtp_GroupChatMemberGetReq_desc,
                                  &omtp_GroupChatMemberGetResp_desc,
                                  offsetof(omtp_GroupChatMemberGetReq, after),
                                  offsetof(omtp_GroupChatMemberGetResp, errorCode),
                                  offsetof(omtp_GroupChatMemberGetResp, next),
                                  merge_members};
    omtp_GroupChatMemberGetReq q;
    omtp_msg_init(&omtp_GroupChatMemberGetReq_desc, &q);
    if (tars_str_set(&q.groupId, group_id)) {
        tars_init(&omtp_GroupChatMemberGetResp_desc, out);
        return OMTP_ENOMEM;
    }
    int rc = call_paged(c, &pc, &q, out);
    omtp_msg_free(&omtp_GroupChatMemberGetReq_desc, &q);
    return rc;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int omtp_sync_userinfo_all(omtp_sync *c, const char *const *ids, size_t n,
                           omtp_UserInfoGetResp *out)
{
    const char **sorted = n ? malloc(n * sizeof *sorted) : NULL;
    omtp_UserInfoGetReq q;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &q);
    tars_init(&omtp_UserInfoGetResp_desc, out);
    if (n && (!sorted || !(q.userIds.items = calloc(n, sizeof(tars_str))))) {
        free(sorted);
        return OMTP_ENOMEM;
    }
    if (n) {
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_cstr);
    }
    size_t from = 0;
    int rc = 0;
    bool first = true;
    while (rc == 0 && (first || from < n)) {
        for (uint32_t i = 0; i < q.userIds.n; i++)
            tars_str_clear(&q.userIds.items[i]);
        q.userIds.n = 0;
        for (size_t i = from; i < n && rc == 0; i++)
            rc = tars_str_set(&q.userIds.items[q.userIds.n++], sorted[i]) ? OMTP_ENOMEM : 0;
        if (rc)
            break;
        omtp_UserInfoGetResp page;
        rc = omtp_sync_call(c, PT_USERINFO_GET, &omtp_UserInfoGetReq_desc, &q,
                            &omtp_UserInfoGetResp_desc, first ? out : &page);
        if (rc)
            break;
        omtp_UserInfoGetResp *got = first ? out : &page;
        bool more = got->errorCode.code == 0 && got->next.len > 0;
        size_t next_from = n;
        if (more) {
            next_from = from;
            while (next_from < n && strcmp(sorted[next_from], got->next.data) < 0)
                next_from++;
            more = next_from > from; /* progress, or stop */
        }
        if (!first) {
            if (page.errorCode.code)
                keep_error(&out->errorCode, &page.errorCode);
            else
                rc = list_append((tars_list *)(void *)&out->userInfos,
                                 (tars_list *)(void *)&page.userInfos, sizeof(omtp_UserInfo));
            omtp_msg_free(&omtp_UserInfoGetResp_desc, &page);
        }
        first = false;
        if (!more)
            break;
        from = next_from;
    }
    tars_str_clear(&out->next);
    free(sorted);
    omtp_msg_free(&omtp_UserInfoGetReq_desc, &q);
    return rc;
}

int omtp_sync_high_prior(omtp_sync *c, int64_t seq, int count, omtp_MsgHighPrioritySyncResp *out)
{
    omtp_MsgHighPrioritySyncReq q = {.seqId = seq, .count = count > 0 ? count : 200};
    return omtp_sync_call(c, PT_HIGH_PRIOR_MSG_SYNC, &omtp_MsgHighPrioritySyncReq_desc, &q,
                          &omtp_MsgHighPrioritySyncResp_desc, out);
}

int omtp_sync_read(omtp_sync *c, const char *session_id, int64_t seq, omtp_CommonErrorCode *out)
{
    omtp_MsgReaded q;
    omtp_msg_init(&omtp_MsgReaded_desc, &q);
    q.seqId = seq;
    if (tars_str_set(&q.sessionId, session_id)) {
        tars_init(&omtp_CommonErrorCode_desc, out);
        return OMTP_ENOMEM;
    }
    int rc =
        omtp_sync_call(c, PT_MSG_READ, &omtp_MsgReaded_desc, &q, &omtp_CommonErrorCode_desc, out);
    omtp_msg_free(&omtp_MsgReaded_desc, &q);
    return rc;
}

int omtp_sync_ctrl(omtp_sync *c, int command, const char *session_id, int64_t seq,
                   const char *target_pack_id, const char *content, omtp_CommonErrorCode *out)
{
    omtp_MsgControl q;
    omtp_msg_init(&omtp_MsgControl_desc, &q);
    q.command = command;
    q.seqId = seq;
    if (tars_str_set(&q.sessionId, session_id) ||
        tars_str_set(&q.packId, target_pack_id ? target_pack_id : "") ||
        tars_str_set(&q.content, content ? content : "")) {
        omtp_msg_free(&omtp_MsgControl_desc, &q);
        tars_init(&omtp_CommonErrorCode_desc, out);
        return OMTP_ENOMEM;
    }
    int rc =
        omtp_sync_call(c, PT_MSG_CTRL, &omtp_MsgControl_desc, &q, &omtp_CommonErrorCode_desc, out);
    omtp_msg_free(&omtp_MsgControl_desc, &q);
    return rc;
}
