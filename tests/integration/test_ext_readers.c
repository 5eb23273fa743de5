/*
 * test_ext_readers.c - group read receipts (PT_MSG_READERS 105,
 * spec/omtp-ext.tars) against a real omtpd over TCP: readers = members
 * whose read cursor (PT_MSG_READ) reached the seqId, unread = the others,
 * the sender in neither; single chats too; refused for non-members
 * (MSG_FORBIDDEN), unknown messages (MSG_NOT_EXIST), bad seqIds and groups
 * over 500 members (PARAM).
 */
#include "ext_common.h"

static int readers(omtp_sync *c, const char *sid, int64_t seq, char *rd, char *un)
{
    omtp_MsgReadersResp r;
    assert_int_equal(omtp_sync_readers(c, sid, seq, &r), 0);
    int code = r.errorCode.code;
    if (code)
        assert_true(r.errorCode.desc.len > 0);
    rd[0] = un[0] = 0;
    for (uint32_t i = 0; i < r.readers.n; i++)
        sprintf(rd + strlen(rd), "%s%s", i ? "," : "", r.readers.items[i].data);
    for (uint32_t i = 0; i < r.unread.n; i++)
        sprintf(un + strlen(un), "%s%s", i ? "," : "", r.unread.items[i].data);
    omtp_msg_free(&omtp_MsgReadersResp_desc, &r);
    return code;
}

static void mark_read(omtp_sync *c, const char *sid, int64_t seq)
{
    omtp_CommonErrorCode e;
    assert_int_equal(omtp_sync_read(c, sid, seq, &e), 0);
    assert_int_equal(e.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
}

static void test_readers_group(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "r", 5);
    omtp_sync *a = g_login(s, "r0", DEVICE_LINUX);
    omtp_sync *b = g_login(s, "r1", DEVICE_LINUX);
    omtp_sync *c = g_login(s, "r2", DEVICE_LINUX);
    omtp_sync *e = g_login(s, "r4", DEVICE_LINUX);
    tars_str_list m = g_ids("r1", "r2", "r3", NULL);
    char gid[160];
    assert_int_equal(g_create(a, "readers", NULL, 0, &m, gid), 0);
    g_ids_free(&m);
    int64_t s1 = 0, s2 = 0;
    assert_int_equal(g_send(a, gid, "one", &s1), 0);
    assert_int_equal(g_send(b, gid, "two", &s2), 0);

    char rd[512], un[512];
    assert_int_equal(readers(a, gid, s1, rd, un), 0);
    assert_string_equal(rd, "");
    assert_string_equal(un, "r1,r2,r3"); /* the sender r0 in neither */
    mark_read(b, gid, s1);
    assert_int_equal(readers(c, gid, s1, rd, un), 0); /* any member may ask */
    assert_string_equal(rd, "r1");
    assert_string_equal(un, "r2,r3");
    mark_read(c, gid, s2); /* reading s2 reads s1 too */
    assert_int_equal(readers(a, gid, s1, rd, un), 0);
    assert_string_equal(rd, "r1,r2");
    assert_string_equal(un, "r3");
    assert_int_equal(readers(a, gid, s2, rd, un), 0); /* sender r1 excluded */
    assert_string_equal(rd, "r2");
    assert_string_equal(un, "r0,r3");

    /* refusals */
    assert_int_equal(readers(e, gid, s1, rd, un), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(readers(e, "GC_nosuch", 1, rd, un), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(readers(a, gid, 0, rd, un), OMTP_EC_PARAM);
    assert_int_equal(readers(a, gid, -5, rd, un), OMTP_EC_PARAM);
    assert_int_equal(readers(a, "", 1, rd, un), OMTP_EC_PARAM);
    assert_int_equal(readers(a, gid, s2 + 100, rd, un), OMTP_EC_MSG_NOT_EXIST);

    /* a single chat */
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(a, "r1", "hi", &ack), 0);
    assert_int_equal(ack.code, 0);
    char sc[64];
    snprintf(sc, sizeof sc, "%s", ack.sessionId.data);
    int64_t q = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(readers(a, sc, q, rd, un), 0);
    assert_string_equal(rd, "");
    assert_string_equal(un, "r1");
    mark_read(b, sc, q);
    assert_int_equal(readers(a, sc, q, rd, un), 0);
    assert_string_equal(rd, "r1");
    assert_string_equal(un, "");
    assert_int_equal(readers(e, sc, q, rd, un), OMTP_EC_MSG_FORBIDDEN);

    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(c);
    omtp_sync_close(e);
    g_stop(s);
}

static void test_readers_big_group(void **st)
{
    (void)st;
    h_server *s = g_start("group_member_limit = 1000", "w", 502);
    omtp_sync *a = g_login(s, "w0", DEVICE_LINUX);
    tars_str_list m = {0};
    m.items = calloc(501, sizeof(tars_str));
    for (int i = 1; i <= 501; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        tars_str_set(&m.items[m.n++], id);
    }
    char gid[160];
    assert_int_equal(g_create(a, "big", NULL, 1000, &m, gid), 0); /* 502 members */
    g_ids_free(&m);
    int64_t s1 = 0;
    assert_int_equal(g_send(a, gid, "hello all", &s1), 0);
    char rd[512], un[512];
    assert_int_equal(readers(a, gid, s1, rd, un), OMTP_EC_PARAM);
    omtp_sync_close(a);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_readers_group, h_teardown),
        cmocka_unit_test_teardown(test_readers_big_group, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
