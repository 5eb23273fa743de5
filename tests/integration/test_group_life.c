/*
 * test_group_life.c - the whole life of a group with five users, against a
 * real omtpd: create, join three, members get, a message fanned out to every
 * online device of every member (not the sending device), offline catch-up
 * through hot sessions with unread counts per member, removing two, info
 * update by the creator (refused for others), creator change, dismiss, the
 * dismissed id in the next group sync, sends to a dismissed group refused;
 * and the sync-data commands (3) each change pushes.
 */
#include "group_common.h"

static void test_group_life(void **st)
{
    h_server *s = g_start(NULL, "u", 6);
    /* u0 creator on two devices, u1 on two, u2 one, u3 offline for now,
     * u4 never a member */
    omtp_sync *a1 = g_login(s, "u0", DEVICE_LINUX);
    omtp_sync *a2 = g_login(s, "u0", DEVICE_IOS);
    omtp_sync *b1 = g_login(s, "u1", DEVICE_LINUX);
    omtp_sync *b2 = g_login(s, "u1", DEVICE_WINDOWS);
    omtp_sync *c1 = g_login(s, "u2", DEVICE_LINUX);
    omtp_sync *e1 = g_login(s, "u4", DEVICE_LINUX);
    int64_t t0 = omtp_now_ms() - 1;

    /* create: the server assigns GC_<32 hex>; the creator's other device is told */
    char gid[160];
    assert_int_equal(g_create(a1, "team", NULL, 0, NULL, gid), 0);
    assert_int_equal(strncmp(gid, "GC_", 3), 0);
    assert_int_equal(strlen(gid), 35);
    g_expect_sync(a2, SYNC_GROUP, "\"op\":\"create\"");
    assert_int_equal(chat_count_pushes(a1, PT_SYNC_DATA_CMD), 0); /* not the asking device */

    /* join three: the online members learn about it */
    tars_str_list three = g_ids("u1", "u2", "u3", NULL);
    assert_int_equal(g_join(a1, gid, &three), 0);
    g_expect_sync(b1, SYNC_GROUP, gid);
    g_expect_sync(b2, SYNC_GROUP, "\"op\":\"join\"");
    g_expect_sync(c1, SYNC_GROUP, gid);
    assert_int_equal(chat_count_pushes(e1, PT_SYNC_DATA_CMD), 0);

    char mem[512];
    assert_int_equal(g_members(b1, gid, mem, sizeof mem), 0);
    assert_string_equal(mem, "u0,u1,u2,u3");
    assert_int_equal(g_members(e1, gid, NULL, 0), OMTP_EC_GROUP_NO_PRIVILEGE);

    /* group sync shows the group to its members */
    omtp_GroupChatSyncResp sr;
    g_sync(c1, t0, &sr);
    const omtp_GroupChatInfo *gi = g_sync_find(&sr, gid);
    assert_non_null(gi);
    assert_string_equal(gi->name.data, "team");
    assert_string_equal(gi->creatorId.data, "u0");
    assert_int_equal(gi->memberLimit, 500);
    assert_true(sr.timestamp > t0);
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &sr);

    /* one message: every device of every member but the sending one */
    int64_t seq;
    assert_int_equal(g_send(b1, gid, "hello team", &seq), 0);
    assert_int_equal(seq, 1);
    g_expect_msg(a1, gid, "hello team", 1);
    g_expect_msg(a2, gid, "hello team", 1);
    g_expect_msg(b2, gid, "hello team", 1);
    g_expect_msg(c1, gid, "hello team", 1);
    assert_int_equal(chat_count_pushes(b1, PT_MSG_GROUP_CHAT), 0);
    assert_int_equal(chat_count_pushes(e1, PT_MSG_GROUP_CHAT), 0);
    assert_int_equal(g_send(a1, gid, "second", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(g_send(a2, gid, "third", &seq), 0);
    assert_int_equal(seq, 3);
    g_expect_msg(c1, gid, "second", 2);
    g_expect_msg(c1, gid, "third", 3);
    g_expect_msg(b1, gid, "second", 2);
    g_expect_msg(b1, gid, "third", 3);
    g_expect_msg(a2, gid, "second", 2); /* a1 sent it: a2 is u0's other device */
    g_expect_msg(a1, gid, "third", 3);

    /* a non-member cannot send */
    assert_int_equal(g_send(e1, gid, "let me in", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);

    /* offline catch-up: u3 logs in later, hot sessions have the group with
     * 3 unread; unread counts are per member (own messages never count) */
    omtp_sync *d1 = g_login(s, "u3", DEVICE_LINUX);
    struct {
        omtp_sync *c;
        int unread;
    } want[] = {{d1, 3}, {c1, 3}, {b1, 2}, {a1, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        omtp_HotSessionResp hr;
        assert_int_equal(omtp_sync_hot_sessions(want[i].c, 0, &hr), 0);
        const omtp_HotSessionItem *it = chat_hot_find(&hr, gid);
        assert_non_null(it);
        assert_int_equal(it->unreadCount, want[i].unread);
        assert_int_equal(it->lastMsgs.n, 1);
        omtp_MsgReq last;
        chat_pack_msg(&it->lastMsgs.items[0], &last);
        assert_int_equal(last.seqId, 3);
        assert_string_equal(last.content.data, "third");
        omtp_msg_free(&omtp_MsgReq_desc, &last);
        omtp_msg_free(&omtp_HotSessionResp_desc, &hr);
    }
    omtp_HistoryMsgPullResp hist;
    assert_int_equal(chat_history(d1, gid, 0, 10, &hist), 0);
    assert_int_equal(hist.msgs.n, 3);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &hist);

    /* remove two (creator only); the removed learn it and lose the group */
    int64_t t1 = omtp_now_ms() - 1;
    tars_str_list two = g_ids("u2", "u3", NULL);
    assert_int_equal(g_quit(b1, gid, "u1", &two), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_quit(a1, gid, "u0", &two), 0);
    g_expect_sync(c1, SYNC_GROUP, "\"op\":\"quit\"");
    g_expect_sync(d1, SYNC_GROUP, gid);
    g_expect_sync(b1, SYNC_GROUP, "\"op\":\"quit\"");
    assert_int_equal(g_members(a1, gid, mem, sizeof mem), 0);
    assert_string_equal(mem, "u0,u1");
    assert_int_equal(g_send(c1, gid, "still here?", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_send(b1, gid, "just us", &seq), 0);
    g_expect_msg(a1, gid, "just us", 4);
    assert_int_equal(chat_count_pushes(c1, PT_MSG_GROUP_CHAT), 0);
    assert_int_equal(chat_count_pushes(d1, PT_MSG_GROUP_CHAT), 0);
    g_sync(c1, t1, &sr);
    assert_true(g_sync_deleted(&sr, gid));
    assert_null(g_sync_find(&sr, gid));
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &sr);

    /* info update: creator only, merges the given fields */
    assert_int_equal(g_info(b1, gid, "u1", "mine now", NULL, 0), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_info(a1, gid, "u0", "team 2", "http://a/b.png", 0), 0);
    g_expect_sync(b2, SYNC_GROUP, "\"op\":\"info\"");
    g_sync(b1, 0, &sr);
    gi = g_sync_find(&sr, gid);
    assert_non_null(gi);
    assert_string_equal(gi->name.data, "team 2");
    assert_string_equal(gi->avatar.data, "http://a/b.png");
    assert_string_equal(gi->desc.data, "a test group"); /* kept */
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &sr);

    /* creator change: only to a member; then the powers move */
    assert_int_equal(g_set_creator(a1, gid, "u0", "u4"), OMTP_EC_GROUP_USER_NOTEXIST);
    assert_int_equal(g_set_creator(b1, gid, "u1", "u1"), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_set_creator(a1, gid, "u0", "u1"), 0);
    g_expect_sync(b1, SYNC_GROUP, "\"op\":\"creator\"");
    assert_int_equal(g_info(a1, gid, "u0", "nope", NULL, 0), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_info(b1, gid, "u1", "u1's", NULL, 0), 0);
    /* the old creator may now leave */
    assert_int_equal(g_quit(a1, gid, "u0", NULL), 0);
    assert_int_equal(g_members(b1, gid, mem, sizeof mem), 0);
    assert_string_equal(mem, "u1");

    /* dismiss: creator only; then the group is gone for everything */
    int64_t t2 = omtp_now_ms() - 1;
    assert_int_equal(g_dismiss(a1, gid, "u0"), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_dismiss(b1, gid, "u1"), 0);
    g_expect_sync(b2, SYNC_GROUP, "\"op\":\"dismiss\"");
    g_sync(b1, t2, &sr);
    assert_true(g_sync_deleted(&sr, gid));
    assert_null(g_sync_find(&sr, gid));
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &sr);
    assert_int_equal(g_send(b1, gid, "anyone?", NULL), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_members(b1, gid, NULL, 0), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_join(b1, gid, &three), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_dismiss(b1, gid, "u1"), OMTP_EC_GROUP_NOT_EXIST);
    /* and its id is never handed out again */
    assert_int_equal(g_create(b1, "again", gid, 0, NULL, NULL), OMTP_EC_PARAM);

    g_ids_free(&three);
    g_ids_free(&two);
    omtp_sync *all[] = {a1, a2, b1, b2, c1, d1, e1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        omtp_sync_close(all[i]);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_group_life, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
