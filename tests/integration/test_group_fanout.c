/*
 * test_group_fanout.c - a group bigger than one fan-out slice (3,000
 * members, slices of 1,024): pipelined messages reach every online member
 * in seqId order, the member cache follows joins and removals (a member
 * added after the cache was filled gets the next message, a removed one
 * does not), and the sender's other device gets its own messages.
 */
#include "group_common.h"

#define N 3000

static void test_big_group(void **st)
{
    /* a client may ask for up to group_member_limit (docs/protocol.md, "Group size") */
    h_server *s = g_start("group_member_limit = 3001", "f", N + 1); /* f0..f2999 in, f3000 not */
    omtp_sync *snd = g_login(s, "f0", DEVICE_LINUX);
    omtp_sync *snd2 = g_login(s, "f0", DEVICE_IOS);
    const char *who[] = {"f1", "f1500", "f2999", "f999", "f100"};
    enum { NW = sizeof who / sizeof who[0] };
    omtp_sync *rc[NW];
    for (int i = 0; i < NW; i++)
        rc[i] = g_login(s, who[i], DEVICE_LINUX);

    tars_str_list all = {.items = calloc(N, sizeof(tars_str)), .n = 0};
    for (int i = 1; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        tars_str_set(&all.items[all.n++], id);
    }
    char gid[160];
    assert_int_equal(g_create(snd, "big", NULL, N, &all, gid), 0);
    g_ids_free(&all);
    char *mem = malloc(64 * 1024);
    assert_int_equal(g_members(rc[0], gid, mem, 64 * 1024), 0);
    int commas = 0;
    for (char *p = mem; *p; p++)
        commas += *p == ',';
    assert_int_equal(commas + 1, N);
    free(mem);

    /* five messages pipelined: every member sees 1..5 in order */
    char ids[5][37];
    for (int k = 0; k < 5; k++) {
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        char content[16];
        snprintf(content, sizeof content, "m%d", k + 1);
        tars_str_set(&m.from, "f0");
        tars_str_set(&m.to, gid);
        tars_str_set(&m.content, content);
        assert_int_equal(
            omtp_sync_send(snd, PT_MSG_GROUP_CHAT, 0, NULL, &omtp_MsgReq_desc, &m, ids[k]), 0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    for (int k = 0; k < 5; k++) {
        omtp_packet r;
        assert_int_equal(omtp_sync_wait_reply(snd, ids[k], 10000, &r), 0);
        const omtp_MsgAck *ack = r.body;
        assert_non_null(ack);
        assert_int_equal(ack->code, 0);
        assert_int_equal(ack->seqId, k + 1);
        omtp_packet_free(&r);
    }
    for (int i = 0; i < NW; i++)
        for (int k = 0; k < 5; k++) {
            char content[16];
            snprintf(content, sizeof content, "m%d", k + 1);
            g_expect_msg(rc[i], gid, content, k + 1);
        }
    for (int k = 0; k < 5; k++) {
        char content[16];
        snprintf(content, sizeof content, "m%d", k + 1);
        g_expect_msg(snd2, gid, content, k + 1);
    }
    assert_int_equal(chat_count_pushes(snd, PT_MSG_GROUP_CHAT), 0);

    /* the cache follows membership: f3000 joins, f999 is removed */
    omtp_sync *late = g_login(s, "f3000", DEVICE_LINUX);
    tars_str_list add = g_ids("f3000", NULL);
    tars_str_list rm = g_ids("f999", NULL);
    assert_int_equal(g_join(snd, gid, &add), OMTP_EC_GROUP_MEMBER_LIMIT); /* N is the limit */
    assert_int_equal(g_info(snd, gid, "f0", NULL, NULL, N + 1), 0);
    assert_int_equal(g_join(snd, gid, &add), 0);
    assert_int_equal(g_quit(snd, gid, "f0", &rm), 0);
    int64_t seq;
    assert_int_equal(g_send(snd, gid, "after", &seq), 0);
    assert_int_equal(seq, 6);
    g_expect_msg(late, gid, "after", 6);
    g_expect_msg(rc[2], gid, "after", 6);
    assert_int_equal(chat_count_pushes(rc[3], PT_MSG_GROUP_CHAT), 0); /* f999 */
    g_ids_free(&add);
    g_ids_free(&rm);

    omtp_sync_close(late);
    for (int i = 0; i < NW; i++)
        omtp_sync_close(rc[i]);
    omtp_sync_close(snd);
    omtp_sync_close(snd2);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_big_group, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
