/*
 * test_hostile_values.c - valid structs with hostile field values, for every
 * handler: empty ids, ids longer than OMTP_ID_MAX, ids with NUL bytes,
 * invalid UTF-8, huge and negative counts, negative / INT64_MIN / INT64_MAX
 * seqIds and timestamps, 10,000-element id lists, self-referential group
 * operations, deviceType 999. Each gets the documented code and words (or
 * is served, where the value is legal), and the server keeps answering.
 */
#include "hostile_common.h"

#include <limits.h>

static h_server *srv;
static hx_conn *A; /* alice, logged in */
static char group[160];

#define ANY_ERROR (-1) /* any non-zero code, with words where the reply has them */

static int setup(void **st)
{
    (void)st;
    /* hostile LOGIN values go beyond the 16 KiB pre-login frame limit, which
     * tests/attack/test_attack_frames.c covers: lift it to reach the handler */
    srv = h_server_start("login_fail_delay_ms = 0\nlog_level = warn\n"
                         "max_prelogin_frame = 1048576\n"
                         /* floods on purpose: no request rate limit, no
                          * per-account backoff for the bad logins */
                         "req_rate = 0\nlogin_account_delay_ms = 0\n",
                         NULL);
    const char *args[] = {"user", "bulk", "u", "3", "--password", "pw", "--cost", "4", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, args), 0);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    h_user_add(srv, "mon", "pw-mon");
    const char *role[] = {"user", "role", "mon", "monitor", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, role), 0);
    return 0;
}

static int teardown(void **st)
{
    if (srv) {
        assert_true(h_server_alive(srv));
        assert_int_equal(h_server_stop(srv), 0);
        h_server_free(srv);
    }
    srv = NULL;
    return h_teardown(st);
}

/* Sends (type, d, body) on c and checks the reply's code; returns it in r. */
static void expect_r(hx_conn *c, int type, const tars_struct_desc *d, const void *body, int code,
                     const char *what, hx_reply *r)
{
    char id[48];
    omtp_uuid(id);
    int rc = hx_call_struct(c, type, id, d, body, r);
    if (rc)
        fail_msg("%s: no reply (%s)", what, omtp_strerror(rc));
    if (r->type != type || !(r->flags & OMTP_F_ACK))
        fail_msg("%s: reply of type %d", what, r->type);
    bool ok = code == ANY_ERROR ? r->code > 0 : r->code == code;
    if (ok && r->code != 0 && r->has_words && !r->desc[0])
        ok = false;
    if (!ok)
        fail_msg("%s: code %d desc '%s' (want %d)", what, r->code, r->desc, code);
}

static void expect(hx_conn *c, int type, const tars_struct_desc *d, const void *body, int code,
                   const char *what)
{
    hx_reply r;
    expect_r(c, type, d, body, code, what, &r);
    hx_reply_free(&r);
}

/* An identifier with a NUL byte: PARAM, and words naming it where the reply
 * has words (MsgAck has none). */
static void expect_nul(hx_conn *c, int type, const tars_struct_desc *d, const void *body,
                       const char *what)
{
    hx_reply r;
    expect_r(c, type, d, body, OMTP_EC_PARAM, what, &r);
    if (r.has_words && !strstr(r.desc, "NUL byte"))
        fail_msg("%s: desc '%s'", what, r.desc);
    hx_reply_free(&r);
}

static void set_bytes(tars_str *s, const char *p, size_t n)
{
    tars_str_setn(s, p, n);
}

static void set_long(tars_str *s, char ch, size_t n)
{
    char *p = malloc(n);
    memset(p, ch, n);
    tars_str_setn(s, p, n);
    free(p);
}

static tars_str_list many_ids(uint32_t n, const char *prefix)
{
    tars_str_list l = {calloc(n, sizeof(tars_str)), n};
    for (uint32_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%u", prefix, i);
        tars_str_set(&l.items[i], id);
    }
    return l;
}

static int login_code_n(const char *user, size_t ulen, const char *pw, size_t pwlen, int dev,
                        bool *closed)
{
    hx_conn *c = hx_connect(srv);
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    set_bytes(&lr.clientId, user, ulen);
    tars_str_set(&lr.userName, "x");
    set_bytes(&lr.password, pw, pwlen);
    lr.deviceType = dev;
    hx_reply r;
    assert_int_equal(hx_call_struct(c, PT_LOGIN, "l", &omtp_LoginReq_desc, &lr, &r), 0);
    int code = r.code;
    if (code)
        assert_true(r.desc[0]);
    hx_reply_free(&r);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    *closed = hx_wait_closed(c, code == OMTP_EC_CONN_INDICATE ? 3000 : 200);
    hx_close(c);
    return code;
}

static int login_code(const char *user, const char *pw, size_t pwlen, int dev, bool *closed)
{
    return login_code_n(user, strlen(user), pw, pwlen, dev, closed);
}

static void ids_free(tars_str_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void test_login_values(void **st)
{
    (void)st;
    bool closed;
    char longid[200];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    assert_int_equal(login_code("", "pw", 2, DEVICE_IOS, &closed), OMTP_EC_CONN_INDICATE);
    assert_true(closed);
    assert_int_equal(login_code(longid, "pw", 2, DEVICE_IOS, &closed), OMTP_EC_CONN_INDICATE);
    assert_true(closed);
    /* "alice\0!" : a NUL inside the id must not log in as "alice" */
    assert_int_equal(login_code_n("alice\0!", 7, "pw-alice", 8, DEVICE_IOS, &closed),
                     OMTP_EC_PARAM);
    /* the right password followed by a NUL and more bytes is another password */
    assert_int_equal(login_code("alice", "pw-alice\0junk", 13, DEVICE_IOS, &closed), OMTP_EC_PARAM);
    assert_false(closed);
    /* invalid UTF-8 id, or any byte outside the id alphabet: not a user id,
     * refused like an empty or too long one (DESIGN: ids never contain the
     * session separator) */
    assert_int_equal(login_code("\xff\xfe\xc3(", "pw", 2, DEVICE_IOS, &closed),
                     OMTP_EC_CONN_INDICATE);
    assert_true(closed);
    assert_int_equal(login_code("al_ice", "pw", 2, DEVICE_IOS, &closed), OMTP_EC_CONN_INDICATE);
    assert_true(closed);
    /* device types outside the enum */
    assert_int_equal(login_code("alice", "pw-alice", 8, 999, &closed), OMTP_EC_CONN_INDICATE);
    assert_true(closed);
    assert_int_equal(login_code("alice", "pw-alice", 8, -1, &closed), OMTP_EC_CONN_INDICATE);
    assert_int_equal(login_code("alice", "pw-alice", 8, INT_MIN, &closed), OMTP_EC_CONN_INDICATE);
    /* a huge password (64 KiB) is checked, not a crash */
    char *big = malloc(65536);
    memset(big, 'p', 65536);
    assert_int_equal(login_code("alice", big, 65536, DEVICE_IOS, &closed),
                     OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    free(big);
}

static void msg(omtp_MsgReq *m, const char *to, const char *content)
{
    omtp_msg_init(&omtp_MsgReq_desc, m);
    tars_str_set(&m->to, to);
    tars_str_set(&m->content, content);
}

static void test_chat_values(void **st)
{
    (void)st;
    A = hx_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    omtp_MsgReq m;

    msg(&m, "", "hi");
    expect(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_PARAM, "to empty");
    set_long(&m.to, 'b', 129);
    expect(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_PARAM, "to 129 bytes");
    set_long(&m.to, 'b', 100000);
    expect(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_PARAM, "to 100k bytes");
    set_bytes(&m.to, "bob\0x", 5);
    expect_nul(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, "to with NUL");
    set_bytes(&m.to, "\xff\xfe", 2);
    expect(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_PARAM, "to invalid UTF-8");
    tars_str_set(&m.to, "bob");
    set_bytes(&m.from, "alice\0x", 7);
    expect_nul(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, "from with NUL");
    tars_str_set(&m.from, "");
    tars_str_set(&m.content, "");
    expect(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_MSG_TOO_SHORT, "content empty");
    /* opaque content: NUL bytes and invalid UTF-8 round-trip exactly; the
     * client's seqId/timestamp/status are ignored */
    static const char odd[] = "a\0b\xff\xfe\xc3(\0";
    set_bytes(&m.content, odd, sizeof(odd));
    m.seqId = INT64_MIN;
    m.timestamp = INT64_MAX;
    m.status = 999;
    set_long(&m.sessionId, 's', 5000);
    m.contentType = INT_MIN;
    hx_reply r;
    expect_r(A, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, 0, "odd content", &r);
    omtp_MsgAck ack;
    tars_err e;
    assert_int_equal(tars_decode(&omtp_MsgAck_desc, &ack, r.payload, r.payload_len, &e), 0);
    assert_true(ack.seqId > 0);
    assert_true(llabs(ack.timestamp - omtp_now_ms()) < 60000);
    hx_reply_free(&r);
    omtp_HistoryMsgPullReq h;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &h);
    tars_str_set(&h.sessionId, ack.sessionId.data);
    h.seqId = ack.seqId;
    h.count = 1;
    expect_r(A, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &h, 0, "history odd", &r);
    omtp_HistoryMsgPullResp hr;
    assert_int_equal(tars_decode(&omtp_HistoryMsgPullResp_desc, &hr, r.payload, r.payload_len, &e),
                     0);
    assert_int_equal(hr.msgs.n, 1);
    omtp_MsgReq back;
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &back, hr.msgs.items[0].payload.data,
                                 hr.msgs.items[0].payload.len, &e),
                     0);
    assert_int_equal(back.content.len, sizeof(odd));
    assert_memory_equal(back.content.data, odd, sizeof(odd));
    assert_int_equal(back.status, 0);
    omtp_msg_free(&omtp_MsgReq_desc, &back);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &hr);
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &h);
    hx_reply_free(&r);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);

    /* biz notices are not for users; group chat to nothing */
    msg(&m, "bob", "x");
    expect(A, PT_MSG_BIZ_NOTIFY, &omtp_MsgReq_desc, &m, OMTP_EC_MSG_FORBIDDEN, "biz by a user");
    tars_str_set(&m.to, "GC_nope");
    expect(A, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_GROUP_NOT_EXIST, "group nope");
    tars_str_set(&m.to, "");
    expect(A, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, ANY_ERROR, "group to empty");
    set_long(&m.to, 'g', 20000);
    expect(A, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, OMTP_EC_PARAM, "group to 20k");
    set_bytes(&m.to, "GC_x\0y", 6);
    expect_nul(A, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, "group to with NUL");
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static void test_ctrl_read_values(void **st)
{
    (void)st;
    omtp_MsgControl k;
    omtp_msg_init(&omtp_MsgControl_desc, &k);
    k.command = 999;
    tars_str_set(&k.sessionId, "SC_alice_bob");
    k.seqId = 1;
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_MSG_OP_CMD, "ctrl cmd 999");
    k.command = MC_REVOKE;
    k.seqId = -1;
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_PARAM, "ctrl seq -1");
    k.seqId = INT64_MIN;
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_PARAM, "ctrl seq min");
    k.seqId = INT64_MAX;
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_MSG_NOT_EXIST, "ctrl seq max");
    set_long(&k.sessionId, 's', 10000);
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_PARAM, "ctrl sid 10k");
    set_bytes(&k.sessionId, "SC_alice_bob\0x", 14);
    k.seqId = 1;
    expect_nul(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, "ctrl sid NUL");
    tars_str_set(&k.sessionId, "SC_bob_u0");
    expect(A, PT_MSG_CTRL, &omtp_MsgControl_desc, &k, OMTP_EC_MSG_FORBIDDEN, "ctrl other sess");
    omtp_msg_free(&omtp_MsgControl_desc, &k);

    omtp_MsgReaded rd;
    omtp_msg_init(&omtp_MsgReaded_desc, &rd);
    tars_str_set(&rd.sessionId, "SC_alice_bob");
    int64_t seqs[] = {INT64_MAX, INT64_MIN, -1, 0};
    for (size_t i = 0; i < 4; i++) {
        rd.seqId = seqs[i];
        expect(A, PT_MSG_READ, &omtp_MsgReaded_desc, &rd, 0, "read seq extremes");
    }
    tars_str_set(&rd.sessionId, "SC_bob_u0");
    expect(A, PT_MSG_READ, &omtp_MsgReaded_desc, &rd, OMTP_EC_HISTORYMSG_DENY, "read other");
    set_long(&rd.sessionId, 'x', 300);
    expect(A, PT_MSG_READ, &omtp_MsgReaded_desc, &rd, OMTP_EC_PARAM, "read sid 300");
    set_bytes(&rd.sessionId, "SC_alice_bob\0z", 14);
    expect_nul(A, PT_MSG_READ, &omtp_MsgReaded_desc, &rd, "read sid NUL");
    omtp_msg_free(&omtp_MsgReaded_desc, &rd);
}

static void test_sync_values(void **st)
{
    (void)st;
    int64_t ts[] = {INT64_MIN, -1, 0, INT64_MAX};
    hx_reply r;
    tars_err e;
    for (size_t i = 0; i < 4; i++) {
        omtp_HotSessionReq h = {ts[i]};
        expect(A, PT_HOTSESSION_SYNC, &omtp_HotSessionReq_desc, &h, 0, "hot ts");
        omtp_GroupChatSyncReq g = {.timestamp = ts[i]};
        expect(A, PT_GROUPCHAT_SYNC, &omtp_GroupChatSyncReq_desc, &g, ts[i] < 0 ? OMTP_EC_PARAM : 0,
               "group sync ts");
        omtp_FriendSyncReq f = {.timestamp = ts[i]};
        expect(A, PT_FRIEND_SYNC, &omtp_FriendSyncReq_desc, &f, ts[i] < 0 ? OMTP_EC_PARAM : 0,
               "friend sync ts");
    }
    int32_t counts[] = {-1, 0, 1000000000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 4; j++) {
            omtp_MsgHighPrioritySyncReq q = {ts[j], counts[i]};
            expect_r(A, PT_HIGH_PRIOR_MSG_SYNC, &omtp_MsgHighPrioritySyncReq_desc, &q, 0, "hp", &r);
            omtp_MsgHighPrioritySyncResp hr;
            assert_int_equal(
                tars_decode(&omtp_MsgHighPrioritySyncResp_desc, &hr, r.payload, r.payload_len, &e),
                0);
            assert_true(hr.msgs.n <= 200);
            omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hr);
            hx_reply_free(&r);

            omtp_HistoryMsgPullReq h;
            omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &h);
            tars_str_set(&h.sessionId, "SC_alice_bob");
            h.seqId = ts[j];
            h.count = counts[i];
            expect_r(A, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &h, 0, "history", &r);
            omtp_HistoryMsgPullResp hh;
            assert_int_equal(
                tars_decode(&omtp_HistoryMsgPullResp_desc, &hh, r.payload, r.payload_len, &e), 0);
            assert_true(hh.msgs.n <= 200);
            omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &hh);
            hx_reply_free(&r);
            omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &h);
        }
    omtp_HistoryMsgPullReq h;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &h);
    set_long(&h.sessionId, 's', 10000);
    expect(A, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &h, OMTP_EC_PARAM, "hist 10k");
    tars_str_set(&h.sessionId, "");
    expect(A, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &h, ANY_ERROR, "hist no sid");
    tars_str_set(&h.sessionId, "SC_bob_u1");
    expect(A, PT_HISTORY_MSG_PULL, &omtp_HistoryMsgPullReq_desc, &h, OMTP_EC_HISTORYMSG_DENY,
           "hist other");
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &h);
}

static void test_monitor_values(void **st)
{
    (void)st;
    omtp_SessionMonitor sm;
    omtp_msg_init(&omtp_SessionMonitor_desc, &sm);
    tars_str_set(&sm.sessionId, "SC_bob_u0");
    expect(A, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &sm, OMTP_EC_CONN_ACCESS_DENIED,
           "monitor by a user");
    hx_conn *M = hx_login(srv, "mon", "pw-mon", DEVICE_WINDOWS);
    tars_str_set(&sm.sessionId, "");
    expect(M, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &sm, ANY_ERROR, "mon empty");
    set_long(&sm.sessionId, 'm', 10000);
    expect(M, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &sm, ANY_ERROR, "mon 10k");
    set_bytes(&sm.sessionId, "SC_a\0b", 6);
    expect_nul(M, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &sm, "mon NUL");
    /* past the per-connection limit (1000) */
    int refused = 0;
    for (int i = 0; i < 1005; i++) {
        char sid[40];
        snprintf(sid, sizeof(sid), "SC_x%d_y", i);
        tars_str_set(&sm.sessionId, sid);
        char id[40];
        snprintf(id, sizeof(id), "ms%d", i);
        hx_reply r;
        assert_int_equal(
            hx_call_struct(M, PT_SESSION_MONITOR_START, id, &omtp_SessionMonitor_desc, &sm, &r), 0);
        if (r.code)
            refused++, assert_true(r.desc[0]);
        hx_reply_free(&r);
    }
    assert_int_equal(refused, 5);
    hx_reply r;
    assert_int_equal(hx_call(M, PT_SESSION_MONITOR_SYNC, 0, "msync", NULL, 0, &r), 0);
    assert_int_equal(r.code, 0);
    hx_reply_free(&r);
    omtp_msg_free(&omtp_SessionMonitor_desc, &sm);
    hx_ping_ok(M);
    hx_close(M);
}

static void test_group_values(void **st)
{
    (void)st;
    omtp_GroupChatCreateReq cr;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &cr);
    cr.memberIds = many_ids(10000, "u");
    tars_str_set(&cr.groupInfo.name, "big");
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, ANY_ERROR, "create 10k");
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &cr);

    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &cr);
    tars_str_set(&cr.groupInfo.name, "\xff\xfe bad utf8 \0 name");
    cr.groupInfo.memberLimit = -1;
    cr.memberIds = many_ids(1, "u");
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, ANY_ERROR, "limit -1");
    cr.groupInfo.memberLimit = INT_MAX;
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, ANY_ERROR, "limit max");
    cr.groupInfo.memberLimit = 0;
    set_long(&cr.groupInfo.groupId, 'G', 10000);
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, OMTP_EC_PARAM, "gid 10k");
    set_bytes(&cr.groupInfo.groupId, "GC_a\0b", 6);
    expect_nul(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, "gid NUL");
    tars_str_set(&cr.groupInfo.groupId, "");
    tars_str_set(&cr.groupInfo.creatorId, "bob");
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, OMTP_EC_GROUP_NO_PRIVILEGE,
           "creator bob");
    tars_str_set(&cr.groupInfo.creatorId, "");
    tars_str_set(&cr.memberIds.items[0], "");
    expect(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, ANY_ERROR, "member empty");
    set_bytes(&cr.memberIds.items[0], "bob\0x", 5);
    expect_nul(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, "member NUL");
    /* a good one, with the creator listed twice (self-reference) */
    ids_free(&cr.memberIds);
    cr.memberIds.items = calloc(3, sizeof(tars_str));
    cr.memberIds.n = 3;
    tars_str_set(&cr.memberIds.items[0], "alice");
    tars_str_set(&cr.memberIds.items[1], "bob");
    tars_str_set(&cr.memberIds.items[2], "alice");
    hx_reply r;
    expect_r(A, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &cr, 0, "create ok", &r);
    omtp_GroupChatCreateResp gr;
    tars_err e;
    assert_int_equal(tars_decode(&omtp_GroupChatCreateResp_desc, &gr, r.payload, r.payload_len, &e),
                     0);
    snprintf(group, sizeof(group), "%s", gr.groupId.data);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &gr);
    hx_reply_free(&r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &cr);

    omtp_GroupChatJoinReq jr;
    omtp_msg_init(&omtp_GroupChatJoinReq_desc, &jr);
    expect(A, PT_GROUPCHAT_JION, &omtp_GroupChatJoinReq_desc, &jr, OMTP_EC_GROUP_ID_EMPTY,
           "join no gid");
    tars_str_set(&jr.groupId, group);
    jr.memberIds = many_ids(10000, "nobody");
    expect(A, PT_GROUPCHAT_JION, &omtp_GroupChatJoinReq_desc, &jr, ANY_ERROR, "join 10k");
    ids_free(&jr.memberIds);
    jr.memberIds = many_ids(1, "alice"); /* "alice0": not a user */
    tars_str_set(&jr.memberIds.items[0], "alice");
    expect(A, PT_GROUPCHAT_JION, &omtp_GroupChatJoinReq_desc, &jr, 0, "join self");
    omtp_msg_free(&omtp_GroupChatJoinReq_desc, &jr);

    omtp_GroupChatQuitReq q;
    omtp_msg_init(&omtp_GroupChatQuitReq_desc, &q);
    tars_str_set(&q.groupId, group);
    expect(A, PT_GROUPCHAT_QUIT, &omtp_GroupChatQuitReq_desc, &q, ANY_ERROR, "creator quits");
    q.memberIds = many_ids(10000, "zz");
    expect(A, PT_GROUPCHAT_QUIT, &omtp_GroupChatQuitReq_desc, &q, 0, "quit 10k non-members");
    tars_str_set(&q.operatorId, "bob");
    expect(A, PT_GROUPCHAT_QUIT, &omtp_GroupChatQuitReq_desc, &q, OMTP_EC_GROUP_NO_PRIVILEGE,
           "quit op bob");
    omtp_msg_free(&omtp_GroupChatQuitReq_desc, &q);

    omtp_GroupChatCreatorUpdateReq cu;
    omtp_msg_init(&omtp_GroupChatCreatorUpdateReq_desc, &cu);
    tars_str_set(&cu.groupId, group);
    tars_str_set(&cu.newCreatorId, "alice");
    expect(A, PT_GROUPCHAT_UPDATE_CREATOR, &omtp_GroupChatCreatorUpdateReq_desc, &cu, 0,
           "creator -> self");
    tars_str_set(&cu.newCreatorId, "");
    expect(A, PT_GROUPCHAT_UPDATE_CREATOR, &omtp_GroupChatCreatorUpdateReq_desc, &cu, ANY_ERROR,
           "creator -> empty");
    tars_str_set(&cu.newCreatorId, "u2");
    expect(A, PT_GROUPCHAT_UPDATE_CREATOR, &omtp_GroupChatCreatorUpdateReq_desc, &cu,
           OMTP_EC_GROUP_USER_NOTEXIST, "creator -> non-member");
    set_bytes(&cu.newCreatorId, "bob\0", 4);
    expect_nul(A, PT_GROUPCHAT_UPDATE_CREATOR, &omtp_GroupChatCreatorUpdateReq_desc, &cu,
               "creator NUL");
    omtp_msg_free(&omtp_GroupChatCreatorUpdateReq_desc, &cu);

    omtp_GroupChatInfoUpdateReq iu;
    omtp_msg_init(&omtp_GroupChatInfoUpdateReq_desc, &iu);
    tars_str_set(&iu.groupInfo.groupId, group);
    iu.groupInfo.memberLimit = -5;
    set_long(&iu.groupInfo.name, 'n', 100000);
    expect(A, PT_GROUPCHAT_INFO_UPDATE, &omtp_GroupChatInfoUpdateReq_desc, &iu, ANY_ERROR,
           "info huge");
    iu.groupInfo.memberLimit = 1;
    tars_str_set(&iu.groupInfo.name, "n");
    expect(A, PT_GROUPCHAT_INFO_UPDATE, &omtp_GroupChatInfoUpdateReq_desc, &iu,
           OMTP_EC_GROUP_MEMBER_LIMIT, "limit below members");
    omtp_msg_free(&omtp_GroupChatInfoUpdateReq_desc, &iu);

    omtp_GroupChatMemberGetReq mg;
    omtp_msg_init(&omtp_GroupChatMemberGetReq_desc, &mg);
    set_long(&mg.groupId, 'g', 5000);
    expect(A, PT_GROUPCHAT_MEMBERS_GET, &omtp_GroupChatMemberGetReq_desc, &mg, OMTP_EC_PARAM,
           "members 5k");
    omtp_msg_free(&omtp_GroupChatMemberGetReq_desc, &mg);

    omtp_GroupChatDismissReq d;
    omtp_msg_init(&omtp_GroupChatDismissReq_desc, &d);
    tars_str_set(&d.groupId, "GC_none");
    expect(A, PT_GROUPCHAT_DISMISS, &omtp_GroupChatDismissReq_desc, &d, OMTP_EC_GROUP_NOT_EXIST,
           "dismiss none");
    omtp_msg_free(&omtp_GroupChatDismissReq_desc, &d);

    /* the group still works */
    omtp_MsgReq m;
    msg(&m, group, "group ok");
    expect(A, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, 0, "group send");
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static void test_friend_user_values(void **st)
{
    (void)st;
    omtp_FriendAddReq fa;
    omtp_msg_init(&omtp_FriendAddReq_desc, &fa);
    fa.friends.items = calloc(10000, sizeof(omtp_FriendInfo));
    fa.friends.n = 10000;
    for (uint32_t i = 0; i < 10000; i++) {
        omtp_msg_init(&omtp_FriendInfo_desc, &fa.friends.items[i]);
        char id[32];
        snprintf(id, sizeof(id), "nf%u", i);
        tars_str_set(&fa.friends.items[i].friendId, id);
    }
    expect(A, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &fa, ANY_ERROR, "friend add 10k");
    /* deleting non-friends succeeds and changes nothing (docs) */
    expect(A, PT_FRIEND_DEL, &omtp_FriendDelReq_desc, &fa, 0, "friend del 10k");
    fa.friends.n = 1;
    tars_str_set(&fa.friends.items[0].friendId, "alice");
    expect(A, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &fa, OMTP_EC_USER_RELATION_INVALID,
           "friend self");
    set_bytes(&fa.friends.items[0].friendId, "bob\0x", 5);
    expect_nul(A, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &fa, "friend NUL");
    tars_str_set(&fa.friends.items[0].friendId, "bob");
    tars_str_set(&fa.friends.items[0].userId, "u0");
    expect(A, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &fa, OMTP_EC_MSG_FORBIDDEN, "friend for u0");
    fa.friends.n = 10000;
    omtp_msg_free(&omtp_FriendAddReq_desc, &fa);

    omtp_UserInfoGetReq ug;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &ug);
    ug.userIds = many_ids(10000, "u");
    expect(A, PT_USERINFO_GET, &omtp_UserInfoGetReq_desc, &ug, OMTP_EC_PARAM, "userinfo 10k");
    ug.userIds.n = 2;
    set_bytes(&ug.userIds.items[0], "u0\0x", 4);
    set_long(&ug.userIds.items[1], 'q', 5000);
    expect(A, PT_USERINFO_GET, &omtp_UserInfoGetReq_desc, &ug, ANY_ERROR, "userinfo bad ids");
    ug.userIds.n = 10000;
    omtp_msg_free(&omtp_UserInfoGetReq_desc, &ug);

    omtp_UserInfoUpdateReq uu;
    omtp_msg_init(&omtp_UserInfoUpdateReq_desc, &uu);
    tars_str_set(&uu.userInfo.userId, "bob");
    expect(A, PT_USERINFO_UPDATE, &omtp_UserInfoUpdateReq_desc, &uu, OMTP_EC_MSG_FORBIDDEN,
           "update bob");
    tars_str_set(&uu.userInfo.userId, "");
    set_bytes(&uu.userInfo.name, "\xff\0\xfe", 3);
    uu.userInfo.birthday = INT64_MIN;
    expect(A, PT_USERINFO_UPDATE, &omtp_UserInfoUpdateReq_desc, &uu, 0, "update odd");
    omtp_msg_free(&omtp_UserInfoUpdateReq_desc, &uu);

    omtp_UserAttrSetReq as;
    omtp_msg_init(&omtp_UserAttrSetReq_desc, &as);
    tars_str_set(&as.attribute.attrName, "remark");
    expect(A, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &as, OMTP_EC_ATTR_FIELD_EMPTY,
           "attr no friend");
    tars_str_set(&as.attribute.friendId, "bob");
    set_long(&as.attribute.attrValue, 'v', 5000);
    expect(A, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &as, OMTP_EC_PARAM, "attr 5k");
    set_bytes(&as.attribute.friendId, "bob\0", 4);
    tars_str_set(&as.attribute.attrValue, "v");
    expect_nul(A, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &as, "attr NUL");
    omtp_msg_free(&omtp_UserAttrSetReq_desc, &as);

    omtp_UserAttribute ua;
    omtp_msg_init(&omtp_UserAttribute_desc, &ua);
    tars_str_set(&ua.userId, "bob");
    expect(A, PT_USERATTRIBUTE_GET, &omtp_UserAttribute_desc, &ua, ANY_ERROR, "attr get bob");
    omtp_msg_free(&omtp_UserAttribute_desc, &ua);

    omtp_SessionAttrSetReq sa;
    omtp_msg_init(&omtp_SessionAttrSetReq_desc, &sa);
    tars_str_set(&sa.sessionId, "SC_alice_bob");
    expect(A, PT_SESSIONATTRIBUTE_SET, &omtp_SessionAttrSetReq_desc, &sa, OMTP_EC_ATTR_FIELD_EMPTY,
           "sattr no name");
    tars_str_set(&sa.attrName, "pin");
    tars_str_set(&sa.sessionId, "SC_bob_u0");
    expect(A, PT_SESSIONATTRIBUTE_SET, &omtp_SessionAttrSetReq_desc, &sa, OMTP_EC_MSG_FORBIDDEN,
           "sattr other");
    set_long(&sa.sessionId, 's', 10000);
    expect(A, PT_SESSIONATTRIBUTE_SET, &omtp_SessionAttrSetReq_desc, &sa, ANY_ERROR, "sattr 10k");
    omtp_msg_free(&omtp_SessionAttrSetReq_desc, &sa);

    omtp_KickOutReq k = {999, {NULL, 0}};
    tars_str_set(&k.deviceId, "no-such-device");
    hx_reply r;
    assert_int_equal(hx_call_struct(A, PT_KICKOUT, "k", &omtp_KickOutReq_desc, &k, &r), 0);
    assert_int_equal(r.payload_len, 0); /* nothing to kick: an empty ACK */
    hx_reply_free(&r);
    k.deviceType = 0;
    expect(A, PT_KICKOUT, &omtp_KickOutReq_desc, &k, OMTP_EC_PARAM, "kick dev 0");
    omtp_msg_free(&omtp_KickOutReq_desc, &k);

    hx_ping_ok(A);
    hx_send_ok(A, "bob");
    hx_close(A);
    A = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_values),       cmocka_unit_test(test_chat_values),
        cmocka_unit_test(test_ctrl_read_values),   cmocka_unit_test(test_sync_values),
        cmocka_unit_test(test_monitor_values),     cmocka_unit_test(test_group_values),
        cmocka_unit_test(test_friend_user_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
