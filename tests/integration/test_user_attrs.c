/*
 * test_user_attrs.c - profiles, user attributes and session attributes
 * against a real omtpd: USERINFO_GET (batch, unknown ids skipped, empty =
 * yourself), USERINFO_UPDATE (own only, merging), USERATTRIBUTE_SET/GET
 * (round trip, filters by friendId / attrName, ATTR_FIELD_EMPTY), and
 * SESSIONATTRIBUTE_SET (shown in hot sessions' `attribute`, other devices
 * told with SYNC_DATA_CMD 2, refused for sessions you are not in).
 */
#include <jansson.h>

#include "group_common.h"

static int info_get(omtp_sync *c, const tars_str_list *ids, omtp_UserInfoGetResp *r)
{
    omtp_UserInfoGetReq q;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &q);
    if (ids)
        q.userIds = *ids; /* borrowed */
    assert_int_equal(omtp_sync_call(c, PT_USERINFO_GET, &omtp_UserInfoGetReq_desc, &q,
                                    &omtp_UserInfoGetResp_desc, r),
                     0);
    return r->errorCode.code;
}

static const omtp_UserInfo *info_find(const omtp_UserInfoGetResp *r, const char *id)
{
    for (uint32_t i = 0; i < r->userInfos.n; i++)
        if (tars_str_eq(&r->userInfos.items[i].userId, id))
            return &r->userInfos.items[i];
    return NULL;
}

static int info_update(omtp_sync *c, const char *id, const char *name, const char *mobile,
                       int64_t birthday)
{
    omtp_UserInfoUpdateReq q;
    omtp_msg_init(&omtp_UserInfoUpdateReq_desc, &q);
    tars_str_set(&q.userInfo.userId, id);
    tars_str_set(&q.userInfo.name, name);
    tars_str_set(&q.userInfo.mobile, mobile);
    q.userInfo.birthday = birthday;
    int code = g_code(c, PT_USERINFO_UPDATE, &omtp_UserInfoUpdateReq_desc, &q);
    omtp_msg_free(&omtp_UserInfoUpdateReq_desc, &q);
    return code;
}

static void test_userinfo(void **st)
{
    h_server *s = g_start(NULL, "i", 3);
    omtp_sync *a = g_login(s, "i0", DEVICE_LINUX);
    omtp_UserInfoGetResp r;

    tars_str_list ids = g_ids("i1", "ghost", "i2", "i1", NULL);
    assert_int_equal(info_get(a, &ids, &r), 0);
    assert_int_equal(r.userInfos.n, 2); /* unknown skipped, duplicate once */
    assert_non_null(info_find(&r, "i1"));
    assert_non_null(info_find(&r, "i2"));
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    g_ids_free(&ids);
    assert_int_equal(info_get(a, NULL, &r), 0); /* empty = yourself */
    assert_int_equal(r.userInfos.n, 1);
    assert_string_equal(r.userInfos.items[0].userId.data, "i0");
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);

    assert_int_equal(info_update(a, "i0", "Ann", "555-1", 19900101), 0);
    assert_int_equal(info_update(a, "", "", "555-2", 0), 0); /* merge: name, birthday kept */
    assert_int_equal(info_update(a, "i1", "Evil", "", 0), OMTP_EC_MSG_FORBIDDEN);
    ids = g_ids("i0", "i1", NULL);
    assert_int_equal(info_get(a, &ids, &r), 0);
    const omtp_UserInfo *u = info_find(&r, "i0");
    assert_non_null(u);
    assert_string_equal(u->name.data, "Ann");
    assert_string_equal(u->mobile.data, "555-2");
    assert_int_equal(u->birthday, 19900101);
    assert_string_equal(info_find(&r, "i1")->name.data, "i1"); /* untouched */
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    g_ids_free(&ids);

    omtp_sync_close(a);
    g_stop(s);
}

static int attr_set(omtp_sync *c, const char *user, const char *friend, const char *name,
                    const char *value)
{
    omtp_UserAttrSetReq q;
    omtp_msg_init(&omtp_UserAttrSetReq_desc, &q);
    tars_str_set(&q.attribute.userId, user);
    tars_str_set(&q.attribute.friendId, friend);
    tars_str_set(&q.attribute.attrName, name);
    tars_str_set(&q.attribute.attrValue, value);
    int code = g_code(c, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &q);
    omtp_msg_free(&omtp_UserAttrSetReq_desc, &q);
    return code;
}

/* GET with a filter (friend/name NULL = no payload at all). Returns the
 * number of attributes; each "friend:name=value" is appended to out. */
static int attr_get(omtp_sync *c, const char *friend, const char *name, char *out, size_t n)
{
    omtp_UserAttribute f;
    omtp_msg_init(&omtp_UserAttribute_desc, &f);
    tars_str_set(&f.friendId, friend ? friend : "");
    tars_str_set(&f.attrName, name ? name : "");
    omtp_UserAttrGetResp r;
    bool all = !friend && !name;
    assert_int_equal(omtp_sync_call(c, PT_USERATTRIBUTE_GET, all ? NULL : &omtp_UserAttribute_desc,
                                    all ? NULL : &f, &omtp_UserAttrGetResp_desc, &r),
                     0);
    assert_int_equal(r.errorCode.code, 0);
    out[0] = 0;
    for (uint32_t i = 0; i < r.attributes.n; i++) {
        const omtp_UserAttribute *a = &r.attributes.items[i];
        assert_string_equal(a->userId.data, omtp_sync_user(c));
        snprintf(out + strlen(out), n - strlen(out), "%s%s:%s=%s", i ? " " : "", a->friendId.data,
                 a->attrName.data, a->attrValue.data);
    }
    int count = (int)r.attributes.n;
    omtp_msg_free(&omtp_UserAttrGetResp_desc, &r);
    omtp_msg_free(&omtp_UserAttribute_desc, &f);
    return count;
}

static bool has(const char *list, const char *item)
{
    return strstr(list, item) != NULL;
}

static void test_user_attributes(void **st)
{
    h_server *s = g_start(NULL, "t", 3);
    omtp_sync *a = g_login(s, "t0", DEVICE_LINUX);
    omtp_sync *a2 = g_login(s, "t0", DEVICE_IOS);
    omtp_sync *b = g_login(s, "t1", DEVICE_LINUX);
    char out[1024];

    assert_int_equal(attr_set(a, "t0", "t1", "remark", "Bob from work"), 0);
    g_expect_sync(a2, SYNC_FRIEND, "t1");
    assert_int_equal(attr_set(a, "", "t1", "star", "1"), 0);
    assert_int_equal(attr_set(a, "t0", "t2", "remark", "Carol"), 0);
    assert_int_equal(attr_set(a, "t0", "t1", "remark", "Bob"), 0); /* overwrite */
    assert_int_equal(attr_set(b, "t1", "t0", "remark", "Tom"), 0);

    assert_int_equal(attr_get(a, NULL, NULL, out, sizeof out), 3); /* empty payload: all */
    assert_true(has(out, "t1:remark=Bob"));
    assert_true(has(out, "t1:star=1"));
    assert_true(has(out, "t2:remark=Carol"));
    assert_false(has(out, "Tom")); /* t1's own attributes are private */
    assert_int_equal(attr_get(a, "t1", NULL, out, sizeof out), 2);
    assert_false(has(out, "Carol"));
    assert_int_equal(attr_get(a, NULL, "remark", out, sizeof out), 2);
    assert_false(has(out, "star"));
    assert_int_equal(attr_get(a, "t2", "remark", out, sizeof out), 1);
    assert_string_equal(out, "t2:remark=Carol");
    assert_int_equal(attr_get(a, "t2", "star", out, sizeof out), 0);

    assert_int_equal(attr_set(a, "t0", "t1", "", "x"), OMTP_EC_ATTR_FIELD_EMPTY);
    assert_int_equal(attr_set(a, "t0", "", "remark", "x"), OMTP_EC_ATTR_FIELD_EMPTY);
    assert_int_equal(attr_set(a, "t1", "t0", "remark", "x"), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(attr_set(a, "t0", "ghost", "remark", "x"), OMTP_EC_USER_RELATION_INVALID);
    omtp_UserAttribute f;
    omtp_msg_init(&omtp_UserAttribute_desc, &f);
    tars_str_set(&f.userId, "t1");
    omtp_UserAttrGetResp gr;
    assert_int_equal(omtp_sync_call(a, PT_USERATTRIBUTE_GET, &omtp_UserAttribute_desc, &f,
                                    &omtp_UserAttrGetResp_desc, &gr),
                     0);
    assert_int_equal(gr.errorCode.code, OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(gr.attributes.n, 0);
    omtp_msg_free(&omtp_UserAttrGetResp_desc, &gr);
    omtp_msg_free(&omtp_UserAttribute_desc, &f);

    omtp_sync_close(a);
    omtp_sync_close(a2);
    omtp_sync_close(b);
    g_stop(s);
}

static int session_attr(omtp_sync *c, const char *user, const char *sid, const char *name,
                        const char *value)
{
    omtp_SessionAttrSetReq q;
    omtp_msg_init(&omtp_SessionAttrSetReq_desc, &q);
    tars_str_set(&q.userId, user);
    tars_str_set(&q.sessionId, sid);
    tars_str_set(&q.attrName, name);
    tars_str_set(&q.attrValue, value);
    int code = g_code(c, PT_SESSIONATTRIBUTE_SET, &omtp_SessionAttrSetReq_desc, &q);
    omtp_msg_free(&omtp_SessionAttrSetReq_desc, &q);
    return code;
}

/* The attribute JSON of sid in c's hot sessions, parsed. */
static json_t *hot_attr(omtp_sync *c, const char *sid)
{
    omtp_HotSessionResp hr;
    assert_int_equal(omtp_sync_hot_sessions(c, 0, &hr), 0);
    const omtp_HotSessionItem *it = chat_hot_find(&hr, sid);
    assert_non_null(it);
    json_t *j = json_loads(it->attribute.data, 0, NULL);
    assert_non_null(j);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hr);
    return j;
}

static void test_session_attributes(void **st)
{
    h_server *s = g_start(NULL, "s", 3);
    omtp_sync *a = g_login(s, "s0", DEVICE_LINUX);
    omtp_sync *a2 = g_login(s, "s0", DEVICE_IOS);
    omtp_sync *b = g_login(s, "s1", DEVICE_LINUX);
    omtp_sync *c = g_login(s, "s2", DEVICE_LINUX);
    char sid[300];
    omtp_session_single("s0", "s1", sid, sizeof sid);
    assert_int_equal(chat_send(a, "s1", "hi", NULL), 0);
    char gid[160];
    assert_int_equal(g_create(b, "g", NULL, 0, NULL, gid), 0);
    assert_int_equal(g_send(b, gid, "in group", NULL), 0);

    assert_int_equal(session_attr(a, "s0", sid, "pin", "1"), 0);
    g_expect_sync(a2, SYNC_SESSION, sid);
    assert_int_equal(chat_count_pushes(a, PT_SYNC_DATA_CMD), 0);
    assert_int_equal(session_attr(a, "", sid, "mute", "1"), 0);
    json_t *j = hot_attr(a, sid);
    assert_string_equal(json_string_value(json_object_get(j, "pin")), "1");
    assert_string_equal(json_string_value(json_object_get(j, "mute")), "1");
    json_decref(j);
    j = hot_attr(b, sid); /* s1's view of the same session: its own (none) */
    assert_null(json_object_get(j, "pin"));
    json_decref(j);
    assert_int_equal(session_attr(b, "s1", gid, "pin", "2"), 0); /* a group you are in */
    j = hot_attr(b, gid);
    assert_string_equal(json_string_value(json_object_get(j, "pin")), "2");
    json_decref(j);

    assert_int_equal(session_attr(c, "s2", sid, "pin", "1"), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(session_attr(c, "s2", gid, "pin", "1"), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(session_attr(a, "s1", sid, "pin", "1"), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(session_attr(a, "s0", sid, "", "1"), OMTP_EC_ATTR_FIELD_EMPTY);
    assert_int_equal(session_attr(a, "s0", "", "pin", "1"), OMTP_EC_PARAM);

    omtp_sync_close(a);
    omtp_sync_close(a2);
    omtp_sync_close(b);
    omtp_sync_close(c);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_userinfo, h_teardown),
        cmocka_unit_test_teardown(test_user_attributes, h_teardown),
        cmocka_unit_test_teardown(test_session_attributes, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
