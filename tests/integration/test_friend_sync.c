/*
 * test_friend_sync.c - friends against a real omtpd: add (mutual, remark is
 * the adder's), the other side's and your other devices' SYNC_DATA_CMD 1,
 * FRIEND_SYNC (complete list when anything changed after the timestamp,
 * empty otherwise, deletions included), del, and every refusal.
 */
#include "group_common.h"

static omtp_FriendInfo fi(const char *user, const char *friend, const char *remark)
{
    omtp_FriendInfo f;
    omtp_msg_init(&omtp_FriendInfo_desc, &f);
    tars_str_set(&f.userId, user);
    tars_str_set(&f.friendId, friend);
    tars_str_set(&f.remark, remark);
    return f;
}

/* ADD (type 51) or DEL (52) of one friend; returns the code. */
static int f_change(omtp_sync *c, int type, const char *user, const char *friend,
                    const char *remark)
{
    omtp_FriendAddReq q;
    omtp_msg_init(&omtp_FriendAddReq_desc, &q);
    q.friends.items = calloc(1, sizeof(omtp_FriendInfo));
    q.friends.items[0] = fi(user, friend, remark);
    q.friends.n = 1;
    int code = g_code(c, type, &omtp_FriendAddReq_desc, &q);
    omtp_msg_free(&omtp_FriendAddReq_desc, &q);
    return code;
}

static void f_sync(omtp_sync *c, int64_t since, omtp_FriendSyncResp *r)
{
    omtp_FriendSyncReq q = {.timestamp = since};
    assert_int_equal(omtp_sync_call(c, PT_FRIEND_SYNC, &omtp_FriendSyncReq_desc, &q,
                                    &omtp_FriendSyncResp_desc, r),
                     0);
    assert_int_equal(r->errorCode.code, 0);
}

static const omtp_FriendInfo *f_find(const omtp_FriendSyncResp *r, const char *friend)
{
    for (uint32_t i = 0; i < r->friends.n; i++)
        if (tars_str_eq(&r->friends.items[i].friendId, friend))
            return &r->friends.items[i];
    return NULL;
}

static void test_friends(void **st)
{
    h_server *s = g_start(NULL, "p", 4);
    omtp_sync *a = g_login(s, "p0", DEVICE_LINUX);
    omtp_sync *a2 = g_login(s, "p0", DEVICE_IOS);
    omtp_sync *b = g_login(s, "p1", DEVICE_LINUX);
    int64_t t0 = omtp_now_ms() - 1;

    /* add: mutual, the other side and your other device are told */
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p0", "p1", "bobby"), 0);
    g_expect_sync(b, SYNC_FRIEND, "\"userId\":\"p0\"");
    g_expect_sync(a2, SYNC_FRIEND, "p0");
    assert_int_equal(chat_count_pushes(a, PT_SYNC_DATA_CMD), 0);
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "", "p2", ""), 0); /* "" = you */

    omtp_FriendSyncResp r;
    f_sync(a, t0, &r);
    assert_int_equal(r.friends.n, 2);
    const omtp_FriendInfo *f = f_find(&r, "p1");
    assert_non_null(f);
    assert_string_equal(f->userId.data, "p0");
    assert_string_equal(f->remark.data, "bobby");
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
    f_sync(b, t0, &r);
    assert_int_equal(r.friends.n, 1);
    f = f_find(&r, "p0");
    assert_non_null(f);
    assert_string_equal(f->remark.data, ""); /* the remark was p0's */
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);

    /* nothing changed since: empty list */
    f_sync(a, omtp_now_ms() + 1000, &r);
    assert_int_equal(r.friends.n, 0);
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);

    /* remark update by adding again */
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p0", "p1", "bob"), 0);
    f_sync(a, 0, &r);
    assert_string_equal(f_find(&r, "p1")->remark.data, "bob");
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);

    /* del: both sides lose it; a sync after the change returns the full
     * (now shorter) list */
    int64_t t1 = omtp_now_ms() - 1;
    assert_int_equal(f_change(b, PT_FRIEND_DEL, "p1", "p0", ""), 0);
    g_expect_sync(a, SYNC_FRIEND, "\"userId\":\"p1\"");
    f_sync(a, t1, &r);
    assert_int_equal(r.friends.n, 1);
    assert_null(f_find(&r, "p1"));
    assert_non_null(f_find(&r, "p2"));
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
    f_sync(b, t1, &r); /* changed (deleted) but nothing left: empty */
    assert_int_equal(r.friends.n, 0);
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
    assert_int_equal(f_change(b, PT_FRIEND_DEL, "p1", "p0", ""), 0); /* again: fine */

    /* refusals */
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p1", "p3", ""), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(f_change(a, PT_FRIEND_DEL, "p3", "p1", ""), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p0", "p0", ""), OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p0", "", ""), OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p0", "ghost", ""), OMTP_EC_USER_RELATION_INVALID);
    omtp_FriendAddReq empty;
    omtp_msg_init(&omtp_FriendAddReq_desc, &empty);
    assert_int_equal(g_code(a, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &empty), OMTP_EC_PARAM);

    /* a request with one bad entry changes nothing */
    omtp_FriendAddReq q;
    omtp_msg_init(&omtp_FriendAddReq_desc, &q);
    q.friends.items = calloc(2, sizeof(omtp_FriendInfo));
    q.friends.items[0] = fi("p0", "p3", "");
    q.friends.items[1] = fi("p0", "ghost", "");
    q.friends.n = 2;
    assert_int_equal(g_code(a, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &q),
                     OMTP_EC_USER_RELATION_INVALID);
    omtp_msg_free(&omtp_FriendAddReq_desc, &q);
    f_sync(a, 0, &r);
    assert_null(f_find(&r, "p3"));
    omtp_msg_free(&omtp_FriendSyncResp_desc, &r);

    omtp_sync_close(a);
    omtp_sync_close(a2);
    omtp_sync_close(b);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_friends, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
