/*
 * test_group_errors.c - every refusal of the group operations (40-47, 15)
 * with its code, against a real omtpd: GROUP_ID_EMPTY, GROUP_NOT_EXIST,
 * GROUP_NO_PRIVILEGE (operatorId not you, not creator, not member, creator
 * leaving), GROUP_USER_NOTEXIST, GROUP_MEMBER_LIMIT (create, join, info,
 * configured default), PARAM (taken or badly formed chosen ids), message
 * refusals (MSG_FORBIDDEN, MSG_TOO_SHORT), and send dedup.
 */
#include "group_common.h"

static void test_create_errors(void **st)
{
    h_server *s = g_start("group_member_limit = 3", "e", 6);
    omtp_sync *a = g_login(s, "e0", DEVICE_LINUX);
    char gid[160];

    tars_str_list ghost = g_ids("e1", "nobody", NULL);
    assert_int_equal(g_create(a, "x", NULL, 0, &ghost, gid), OMTP_EC_GROUP_USER_NOTEXIST);
    g_ids_free(&ghost);

    /* default limit from the config (3): creator + 3 is one too many */
    tars_str_list four = g_ids("e1", "e2", "e3", NULL);
    assert_int_equal(g_create(a, "x", NULL, 0, &four, gid), OMTP_EC_GROUP_MEMBER_LIMIT);
    /* a client may not ask for more than the server's limit; less is fine */
    assert_int_equal(g_create(a, "x", NULL, 4, &four, gid), OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_int_equal(g_create(a, "x", NULL, 2, &four, gid), OMTP_EC_GROUP_MEMBER_LIMIT);
    tars_str_list two = g_ids("e1", "e2", NULL);
    assert_int_equal(g_create(a, "x", NULL, 3, &two, gid), 0);
    g_ids_free(&two);
    assert_int_equal(g_create(a, "x", NULL, -1, &four, gid), OMTP_EC_PARAM);
    g_ids_free(&four);

    /* chosen ids: GC_ prefix, free */
    assert_int_equal(g_create(a, "x", "GC_team", 0, NULL, gid), 0);
    assert_string_equal(gid, "GC_team");
    assert_int_equal(g_create(a, "x", "GC_team", 0, NULL, gid), OMTP_EC_PARAM);
    assert_int_equal(g_create(a, "x", "team", 0, NULL, gid), OMTP_EC_PARAM);
    assert_int_equal(g_create(a, "x", "GC_a b", 0, NULL, gid), OMTP_EC_PARAM);

    /* creatorId must be the logged-in user */
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.name, "x");
    tars_str_set(&q.groupInfo.creatorId, "e1");
    omtp_GroupChatCreateResp r;
    assert_int_equal(omtp_sync_call(a, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                                    &omtp_GroupChatCreateResp_desc, &r),
                     0);
    assert_int_equal(r.errorCode.code, OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_non_null(strstr(r.errorCode.desc.data, "e1"));
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);

    omtp_sync_close(a);
    g_stop(s);
}

static void test_admin_errors(void **st)
{
    h_server *s = g_start(NULL, "e", 6);
    omtp_sync *a = g_login(s, "e0", DEVICE_LINUX); /* creator */
    omtp_sync *b = g_login(s, "e1", DEVICE_LINUX); /* member */
    omtp_sync *x = g_login(s, "e5", DEVICE_LINUX); /* outsider */
    char gid[160];
    tars_str_list one = g_ids("e1", NULL);
    assert_int_equal(g_create(a, "x", NULL, 3, &one, gid), 0);

    /* empty / unknown group ids */
    assert_int_equal(g_join(a, "", &one), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_quit(a, "", "e0", NULL), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_dismiss(a, "", "e0"), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_set_creator(a, "", "e0", "e1"), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_info(a, "", "e0", "n", NULL, 0), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_members(a, "", NULL, 0), OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(g_join(a, "GC_nope", &one), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_members(a, "GC_nope", NULL, 0), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_dismiss(a, "GC_nope", "e0"), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_send(a, "GC_nope", "hi", NULL), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_send(a, "", "hi", NULL), OMTP_EC_GROUP_ID_EMPTY);

    /* operatorId must be the logged-in user */
    assert_int_equal(g_quit(b, gid, "e0", &one), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_dismiss(b, gid, "e0"), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_set_creator(b, gid, "e0", "e1"), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_info(b, gid, "e0", "n", NULL, 0), OMTP_EC_GROUP_NO_PRIVILEGE);

    /* join: outsiders cannot add (not even themselves); unknown users; limit */
    tars_str_list me = g_ids("e5", NULL);
    assert_int_equal(g_join(x, gid, &me), OMTP_EC_GROUP_NO_PRIVILEGE);
    tars_str_list ghost = g_ids("ghost", NULL);
    assert_int_equal(g_join(b, gid, &ghost), OMTP_EC_GROUP_USER_NOTEXIST);
    tars_str_list two = g_ids("e2", "e3", NULL);
    assert_int_equal(g_join(b, gid, &two), OMTP_EC_GROUP_MEMBER_LIMIT); /* 2 + 2 > 3 */
    char mem[256];
    assert_int_equal(g_members(a, gid, mem, sizeof mem), 0);
    assert_string_equal(mem, "e0,e1");          /* nothing added */
    tars_str_list e2 = g_ids("e2", "e1", NULL); /* e1 already in */
    assert_int_equal(g_join(b, gid, &e2), 0);   /* members invite */
    tars_str_list empty = {0};
    assert_int_equal(g_join(a, gid, &empty), OMTP_EC_PARAM);

    /* quit: the creator cannot leave; members cannot remove others */
    assert_int_equal(g_quit(a, gid, "e0", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);
    tars_str_list a_and_b = g_ids("e0", "e1", NULL);
    assert_int_equal(g_quit(a, gid, "e0", &a_and_b), OMTP_EC_GROUP_NO_PRIVILEGE);
    tars_str_list only_e2 = g_ids("e2", NULL);
    assert_int_equal(g_quit(b, gid, "e1", &only_e2), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_quit(b, gid, "", NULL), 0);   /* empty operatorId = you */
    assert_int_equal(g_quit(b, gid, "e1", NULL), 0); /* retried: still fine */

    /* creator change and info update refusals */
    assert_int_equal(g_set_creator(a, gid, "e0", "e1"), OMTP_EC_GROUP_USER_NOTEXIST);
    assert_int_equal(g_set_creator(a, gid, "e0", "ghost"), OMTP_EC_GROUP_USER_NOTEXIST);
    assert_int_equal(g_set_creator(a, gid, "e0", ""), OMTP_EC_PARAM);
    assert_int_equal(g_info(a, gid, "e0", NULL, NULL, 1), OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_int_equal(g_info(a, gid, "e0", NULL, NULL, -5), OMTP_EC_PARAM);
    assert_int_equal(g_info(a, gid, "e0", NULL, NULL, 10), 0);
    tars_str_list more = g_ids("e3", "e4", NULL);
    assert_int_equal(g_join(a, gid, &more), 0); /* the new limit applies */
    assert_int_equal(g_members(x, gid, NULL, 0), OMTP_EC_GROUP_NO_PRIVILEGE);

    g_ids_free(&one);
    g_ids_free(&me);
    g_ids_free(&ghost);
    g_ids_free(&two);
    g_ids_free(&e2);
    g_ids_free(&a_and_b);
    g_ids_free(&only_e2);
    g_ids_free(&more);
    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(x);
    g_stop(s);
}

static void test_message_errors(void **st)
{
    h_server *s = g_start(NULL, "m", 3);
    omtp_sync *a = g_login(s, "m0", DEVICE_LINUX);
    omtp_sync *b = g_login(s, "m1", DEVICE_LINUX);
    char gid[160];
    tars_str_list one = g_ids("m1", NULL);
    assert_int_equal(g_create(a, "x", NULL, 0, &one, gid), 0);
    g_ids_free(&one);

    /* from must be the sender; content must not be empty */
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.from, "m1");
    tars_str_set(&m.to, gid);
    tars_str_set(&m.content, "spoof");
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_call(a, PT_MSG_GROUP_CHAT, &omtp_MsgReq_desc, &m, &omtp_MsgAck_desc, &ack), 0);
    assert_int_equal(ack.code, OMTP_EC_MSG_FORBIDDEN);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    assert_int_equal(g_send(a, gid, "", NULL), OMTP_EC_MSG_TOO_SHORT);

    /* dedup: the same packId is answered with the original ack, pushed once */
    omtp_MsgAck a1, a2;
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "once", "pk-1", 0, &a1), 0);
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "once", "pk-1", OMTP_F_DUP, &a2),
                     0);
    assert_int_equal(a1.code, 0);
    assert_int_equal(a2.code, 0);
    assert_int_equal(a1.seqId, a2.seqId);
    assert_int_equal(a1.timestamp, a2.timestamp);
    omtp_msg_free(&omtp_MsgAck_desc, &a1);
    omtp_msg_free(&omtp_MsgAck_desc, &a2);
    assert_int_equal(chat_count_pushes(b, PT_MSG_GROUP_CHAT), 1);

    /* HIGHPRJ: also queued for every other member's high-priority sync */
    omtp_MsgAck hp;
    assert_int_equal(
        omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "urgent", NULL, OMTP_F_HIGHPRJ, &hp), 0);
    assert_int_equal(hp.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &hp);
    omtp_MsgHighPrioritySyncResp hr;
    assert_int_equal(omtp_sync_high_prior(b, 0, 10, &hr), 0);
    assert_int_equal(hr.msgs.n, 1);
    assert_int_equal(hr.msgs.items[0].header.type, PT_MSG_GROUP_CHAT);
    assert_true(hr.msgs.items[0].header.flags & OMTP_F_HIGHPRJ);
    omtp_MsgReq got;
    chat_pack_msg(&hr.msgs.items[0], &got);
    assert_string_equal(got.content.data, "urgent");
    omtp_msg_free(&omtp_MsgReq_desc, &got);
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hr);
    assert_int_equal(omtp_sync_high_prior(a, 0, 10, &hr), 0);
    assert_int_equal(hr.msgs.n, 0); /* not the sender's */
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hr);

    omtp_sync_close(a);
    omtp_sync_close(b);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_create_errors, h_teardown),
        cmocka_unit_test_teardown(test_admin_errors, h_teardown),
        cmocka_unit_test_teardown(test_message_errors, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
