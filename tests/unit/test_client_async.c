/*
 * test_client_async.c - the libuv client against a scripted fake server on
 * the same loop.
 *
 * The fake server implements just enough (login, ping, single-chat with
 * per-packId dedup, hot sessions, history, high priority) and can be told to
 * lose an ack, ignore a packet type or drop connections. The real-server
 * behaviour is covered by tests/integration/test_client_*.c; this file pins
 * the client's own logic: reconnect, DUP resend, catch-up, dedup, timeouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "client/omtp_client.h"

/* ---- fake server ---------------------------------------------------------- */

typedef struct fsrv fsrv;
typedef struct fconn {
    uv_tcp_t tcp;
    fsrv *s;
    omtp_frame_reader rd;
    struct fconn *next;
    bool closing;
} fconn;

#define MAXMSG 64
struct fsrv {
    uv_loop_t *loop;
    uv_tcp_t lis;
    int port;
    fconn *conns;
    int logins;
    int ignore_type;
    bool lose_next_ack; /* store the next message, close instead of acking */
    int dups;
    int nmsg;
    char ids[MAXMSG][37];
    omtp_MsgReq msgs[MAXMSG]; /* seq = index + 1 */
    int64_t hs_ts;
};

static void fconn_closed(uv_handle_t *h)
{
    fconn *k = h->data;
    omtp_frame_reader_free(&k->rd);
    free(k);
}

static void fconn_close(fconn *k)
{
    if (k->closing)
        return;
    k->closing = true;
    fsrv *s = k->s;
    for (fconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    uv_close((uv_handle_t *)&k->tcp, fconn_closed);
}

static void fsrv_drop_all(fsrv *s)
{
    while (s->conns)
        fconn_close(s->conns);
}

static void fw_done(uv_write_t *w, int st)
{
    (void)st;
    free(w);
}

static void fsend(fconn *k, int type, int64_t flags, const char *id, const tars_struct_desc *d,
                  const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    omtp_packet_encode(&b, type, flags, id, d, body, NULL, 0);
    uv_write_t *w = malloc(sizeof(*w) + b.len);
    memcpy(w + 1, b.data, b.len);
    uv_buf_t ub = uv_buf_init((char *)(w + 1), (unsigned)b.len);
    uv_write(w, (uv_stream_t *)&k->tcp, &ub, 1, fw_done);
    tars_buf_free(&b);
}

static void msg_ack(fsrv *s, fconn *k, const char *id, int idx)
{
    omtp_MsgAck a;
    omtp_msg_init(&omtp_MsgAck_desc, &a);
    tars_str_set(&a.sessionId, s->msgs[idx].sessionId.data);
    a.seqId = idx + 1;
    a.timestamp = 1;
    fsend(k, PT_MSG_SINGLE_CHAT, OMTP_F_ACK, id, &omtp_MsgAck_desc, &a);
    omtp_msg_free(&omtp_MsgAck_desc, &a);
}

static void pack_msg(fsrv *s, int idx, omtp_OTIMPack *out)
{
    omtp_msg_init(&omtp_OTIMPack_desc, out);
    out->header.type = PT_MSG_SINGLE_CHAT;
    out->header.version = 1;
    tars_str_set(&out->header.packId, s->ids[idx]);
    omtp_payload_to_bytes(&omtp_MsgReq_desc, &s->msgs[idx], &out->payload);
}

/* Stores a message as if sent by `from`; returns its index. */
static int fsrv_store(fsrv *s, const char *id, const char *from, const char *to, const char *text)
{
    int i = s->nmsg++;
    omtp_msg_init(&omtp_MsgReq_desc, &s->msgs[i]);
    tars_str_set(&s->msgs[i].sessionId, "SC_a_b");
    tars_str_set(&s->msgs[i].from, from);
    tars_str_set(&s->msgs[i].to, to);
    tars_str_set(&s->msgs[i].content, text);
    s->msgs[i].seqId = i + 1;
    snprintf(s->ids[i], 37, "%s", id);
    s->hs_ts += 10;
    return i;
}

static void fhandle(fconn *k, omtp_packet *p)
{
    fsrv *s = k->s;
    const char *id = p->header.packId.data;
    int t = p->header.type;
    if (t == s->ignore_type)
        return;
    switch (t) {
    case PT_LOGIN: {
        omtp_LoginResp r;
        omtp_msg_init(&omtp_LoginResp_desc, &r);
        const omtp_LoginReq *q = p->body;
        r.code = strcmp(q->password.data, "bad") == 0 ? OMTP_EC_CONN_USERNAME_OR_PASSWORD : 0;
        s->logins++;
        fsend(k, t, OMTP_F_ACK, id, &omtp_LoginResp_desc, &r);
        omtp_msg_free(&omtp_LoginResp_desc, &r);
        break;
    }
    case PT_PING:
        fsend(k, t, OMTP_F_ACK, id, NULL, NULL);
        break;
    case PT_MSG_SINGLE_CHAT: {
        if (p->header.flags & OMTP_F_DUP)
            s->dups++;
        for (int i = 0; i < s->nmsg; i++)
            if (strcmp(s->ids[i], id) == 0) {
                msg_ack(s, k, id, i);
                return;
            }
        const omtp_MsgReq *m = p->body;
        int i = fsrv_store(s, id, m->from.data, m->to.data, m->content.data);
        if (s->lose_next_ack) {
            s->lose_next_ack = false;
            fconn_close(k);
            return;
        }
        msg_ack(s, k, id, i);
        break;
    }
    case PT_HOTSESSION_SYNC: {
        const omtp_HotSessionReq *q = p->body;
        omtp_HotSessionResp r;
        omtp_msg_init(&omtp_HotSessionResp_desc, &r);
        r.timestamp = s->hs_ts;
        if (s->nmsg > 0 && q->timestamp < s->hs_ts) {
            r.sessions.items = calloc(1, sizeof(omtp_HotSessionItem));
            r.sessions.n = 1;
            omtp_HotSessionItem *it = &r.sessions.items[0];
            omtp_msg_init(&omtp_HotSessionItem_desc, it);
            tars_str_set(&it->sessionId, "SC_a_b");
            it->lastMsgs.items = calloc(1, sizeof(omtp_OTIMPack));
            it->lastMsgs.n = 1;
            pack_msg(s, s->nmsg - 1, &it->lastMsgs.items[0]);
        }
        fsend(k, t, OMTP_F_ACK, id, &omtp_HotSessionResp_desc, &r);
        omtp_msg_free(&omtp_HotSessionResp_desc, &r);
        break;
    }
    case PT_HISTORY_MSG_PULL: {
        const omtp_HistoryMsgPullReq *q = p->body;
        omtp_HistoryMsgPullResp r;
        omtp_msg_init(&omtp_HistoryMsgPullResp_desc, &r);
        int top = q->seqId <= 0 || q->seqId > s->nmsg ? s->nmsg : (int)q->seqId;
        int n = top < q->count ? top : q->count;
        r.msgs.items = calloc((size_t)n + 1, sizeof(omtp_OTIMPack));
        for (int i = 0; i < n; i++)
            pack_msg(s, top - 1 - i, &r.msgs.items[i]);
        r.msgs.n = (uint32_t)n;
        tars_str_set(&r.sessionId, q->sessionId.data);
        fsend(k, t, OMTP_F_ACK, id, &omtp_HistoryMsgPullResp_desc, &r);
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &r);
        break;
    }
    case PT_HIGH_PRIOR_MSG_SYNC: {
        const omtp_MsgHighPrioritySyncReq *q = p->body;
        omtp_MsgHighPrioritySyncResp r;
        omtp_msg_init(&omtp_MsgHighPrioritySyncResp_desc, &r);
        r.lastSeqId = q->seqId;
        fsend(k, t, OMTP_F_ACK, id, &omtp_MsgHighPrioritySyncResp_desc, &r);
        omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &r);
        break;
    }
    default:
        break;
    }
}

static void falloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    fconn *k = h->data;
    uint8_t *p;
    size_t n;
    omtp_frame_reader_space(&k->rd, 4096, &p, &n);
    *b = uv_buf_init((char *)p, (unsigned)n);
}

static void fread_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    fconn *k = st->data;
    if (n < 0) {
        fconn_close(k);
        return;
    }
    omtp_frame_reader_commit(&k->rd, (size_t)n);
    const uint8_t *f;
    size_t fl;
    while (!k->closing && omtp_frame_reader_next(&k->rd, &f, &fl) == 1) {
        omtp_packet p;
        int stage;
        char why[100];
        if (omtp_packet_decode(f, fl, NULL, &p, &stage, why, sizeof(why)) == 0)
            fhandle(k, &p);
        omtp_packet_free(&p);
    }
}

static void fon_conn(uv_stream_t *l, int st)
{
    fsrv *s = l->data;
    fconn *k = calloc(1, sizeof(*k));
    k->s = s;
    omtp_frame_reader_init(&k->rd, 0);
    uv_tcp_init(s->loop, &k->tcp);
    k->tcp.data = k;
    uv_accept(l, (uv_stream_t *)&k->tcp);
    k->next = s->conns;
    s->conns = k;
    uv_read_start((uv_stream_t *)&k->tcp, falloc, fread_cb);
}

static void fsrv_start(fsrv *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    uv_tcp_init(loop, &s->lis);
    s->lis.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->lis, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->lis, 16, fon_conn), 0);
    int al = sizeof(a);
    uv_tcp_getsockname(&s->lis, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
}

static void fsrv_stop(fsrv *s)
{
    fsrv_drop_all(s);
    uv_close((uv_handle_t *)&s->lis, NULL);
    for (int i = 0; i < s->nmsg; i++)
        omtp_msg_free(&omtp_MsgReq_desc, &s->msgs[i]);
}

/* ---- test harness ----------------------------------------------------------- */

typedef struct env {
    uv_loop_t loop;
    fsrv srv;
    omtp_client *c;
    int online, stopped, last_code;
    int acks, ack_status;
    int64_t ack_seq, ack_seq2;
    int timeouts;
    int got[MAXMSG + 1]; /* deliveries per seq */
    int catchup_msgs, catchups;
    int posted;
    uv_timer_t guard;
} env;

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    env *e = ud;
    if (ev->state == OMTP_CLIENT_ONLINE)
        e->online++;
    if (ev->state == OMTP_CLIENT_STOPPED) {
        e->stopped++;
        e->last_code = ev->code;
    }
}

static void on_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                       void *ud)
{
    env *e = ud;
    if (m->seqId >= 0 && m->seqId <= MAXMSG)
        e->got[m->seqId]++;
    if (catchup)
        e->catchup_msgs++;
}

static void on_catchup_done(omtp_client *c, int err, void *ud)
{
    env *e = ud;
    if (err == 0)
        e->catchups++;
}

static const omtp_client_callbacks cbs = {
    .on_state = on_state, .on_message = on_message, .on_catchup_done = on_catchup_done};

static void env_init(env *e, const char *password)
{
    memset(e, 0, sizeof(*e));
    uv_loop_init(&e->loop);
    fsrv_start(&e->srv, &e->loop);
    omtp_client_config cfg = {.host = "127.0.0.1",
                              .port = e->srv.port,
                              .user = "a",
                              .password = password,
                              .request_timeout_ms = 300,
                              .enable_post = true};
    assert_int_equal(omtp_client_new(&e->loop, &cfg, &cbs, e, &e->c), 0);
    assert_int_equal(omtp_client_start(e->c), 0);
}

static void env_free(env *e)
{
    omtp_client_destroy(e->c);
    fsrv_stop(&e->srv);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* Runs the loop until *flag >= want or 5 s passed. */
static void run_until(env *e, int *flag, int want)
{
    uint64_t end = uv_now(&e->loop) + 5000;
    while (*flag < want && uv_now(&e->loop) < end) {
        uv_run(&e->loop, UV_RUN_ONCE);
        uv_update_time(&e->loop);
    }
    assert_true(*flag >= want);
}

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    env *e = ud;
    e->acks++;
    e->ack_status = status;
    if (ack) {
        e->ack_seq2 = e->ack_seq;
        e->ack_seq = ack->seqId;
    }
}

static void test_login_send_ack(void **state)
{
    (void)state;
    env e;
    env_init(&e, "pw");
    run_until(&e, &e.online, 1);
    run_until(&e, &e.catchups, 1);
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, "b");
    tars_str_set(&m.content, "hi");
    assert_int_equal(omtp_client_send_msg(e.c, PT_MSG_SINGLE_CHAT, &m, 0, on_ack, &e, NULL), 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    run_until(&e, &e.acks, 1);
    assert_int_equal(e.ack_status, 0);
    assert_int_equal(e.ack_seq, 1);
    assert_string_equal(e.srv.msgs[0].sessionId.data, "SC_a_b");
    assert_string_equal(e.srv.msgs[0].from.data, "a");
    assert_int_equal(omtp_client_outbox(e.c), 0);
    env_free(&e);
}

static void test_wrong_password_stops(void **state)
{
    (void)state;
    env e;
    env_init(&e, "bad");
    run_until(&e, &e.stopped, 1);
    assert_int_equal(e.last_code, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    assert_int_equal(omtp_client_state(e.c), OMTP_CLIENT_STOPPED);
    assert_int_equal(e.srv.logins, 1);
    assert_int_equal(e.online, 0);
    env_free(&e);
}

static void on_reply_timeout(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    env *e = ud;
    if (status == OMTP_ETIMEDOUT)
        e->timeouts++;
}

static void test_request_timeout(void **state)
{
    (void)state;
    env e;
    env_init(&e, "pw");
    run_until(&e, &e.catchups, 1);
    e.srv.ignore_type = PT_USERINFO_GET;
    omtp_UserInfoGetReq q;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &q);
    uint64_t t0 = uv_now(&e.loop);
    assert_int_equal(omtp_client_request(e.c, PT_USERINFO_GET, 0, &omtp_UserInfoGetReq_desc, &q,
                                         150, on_reply_timeout, &e, NULL),
                     0);
    run_until(&e, &e.timeouts, 1);
    uint64_t el = uv_now(&e.loop) - t0;
    assert_true(el >= 140 && el < 2000);
    assert_int_equal(omtp_client_state(e.c), OMTP_CLIENT_ONLINE);
    env_free(&e);
}

static void test_lost_ack_resend_dup(void **state)
{
    (void)state;
    env e;
    env_init(&e, "pw");
    run_until(&e, &e.catchups, 1);
    e.srv.lose_next_ack = true;
    char id[37];
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, "b");
    tars_str_set(&m.content, "once");
    assert_int_equal(omtp_client_send_msg(e.c, PT_MSG_SINGLE_CHAT, &m, 0, on_ack, &e, id), 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    run_until(&e, &e.acks, 1);
    assert_int_equal(e.online, 2); /* reconnected */
    assert_int_equal(e.ack_status, 0);
    assert_int_equal(e.ack_seq, 1);
    assert_int_equal(e.srv.nmsg, 1); /* one stored copy */
    assert_int_equal(e.srv.dups, 1); /* the resend carried DUP */
    assert_string_equal(e.srv.ids[0], id);
    /* the catch-up after the reconnect must not hand our own message back */
    run_until(&e, &e.catchups, 2);
    assert_int_equal(e.got[1], 0);
    env_free(&e);
}

static void test_catchup_after_reconnect(void **state)
{
    (void)state;
    env e;
    env_init(&e, "pw");
    fsrv_store(&e.srv, "m1", "b", "a", "before"); /* seq 1, before login */
    run_until(&e, &e.catchups, 1);
    assert_int_equal(e.got[1], 0); /* first sync records, does not replay */
    assert_int_equal(omtp_client_session_seq(e.c, "SC_a_b"), 1);

    /* offline: the server drops us and stores 2 messages meanwhile */
    fsrv_drop_all(&e.srv);
    fsrv_store(&e.srv, "m2", "b", "a", "while away 1");
    fsrv_store(&e.srv, "m3", "b", "a", "while away 2");
    run_until(&e, &e.catchups, 2);
    assert_int_equal(e.got[2], 1);
    assert_int_equal(e.got[3], 1);
    assert_int_equal(e.catchup_msgs, 2);

    /* a late push of seq 3 is a duplicate and dropped; seq 4 is new */
    fsrv_store(&e.srv, "m4", "b", "a", "live");
    fconn *k = e.srv.conns;
    assert_non_null(k);
    fsend(k, PT_MSG_SINGLE_CHAT, 0, "m3", &omtp_MsgReq_desc, &e.srv.msgs[2]);
    fsend(k, PT_MSG_SINGLE_CHAT, 0, "m4", &omtp_MsgReq_desc, &e.srv.msgs[3]);
    run_until(&e, &e.got[4], 1);
    assert_int_equal(e.got[3], 1);
    assert_int_equal(e.catchup_msgs, 2);
    env_free(&e);
}

static void post_fn(omtp_client *c, void *arg)
{
    env *e = arg;
    e->posted++;
}

static void *poster(void *arg)
{
    env *e = arg;
    for (int i = 0; i < 10; i++)
        omtp_client_post(e->c, post_fn, e);
    return NULL;
}

static void test_post_from_thread(void **state)
{
    (void)state;
    env e;
    env_init(&e, "pw");
    pthread_t th;
    pthread_create(&th, NULL, poster, &e);
    pthread_join(th, NULL);
    run_until(&e, &e.posted, 10);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_send_ack),          cmocka_unit_test(test_wrong_password_stops),
        cmocka_unit_test(test_request_timeout),         cmocka_unit_test(test_lost_ack_resend_dup),
        cmocka_unit_test(test_catchup_after_reconnect), cmocka_unit_test(test_post_from_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
