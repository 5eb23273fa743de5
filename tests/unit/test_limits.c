/*
 * test_limits.c - the field limit table (src/proto/omtp_limits.h): every
 * entry names a real string field of the schema, and the check finds a
 * value over its limit at the top level, in a nested struct and in a list,
 * naming the field and both lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/omtp_limits.h"
#include "proto/omtp_packet.h"

static void set_len(tars_str *s, size_t n, char ch)
{
    char *t = malloc(n + 1);
    assert_non_null(t);
    memset(t, ch, n);
    t[n] = 0;
    assert_int_equal(tars_str_set(s, t), 0);
    free(t);
}

static void test_table_names_real_fields(void **st)
{
    (void)st;
    int n = 0;
    for (const omtp_field_limit *l = omtp_field_limits; l->strct; l++, n++) {
        const tars_struct_desc *d = omtp_desc_by_name(l->strct);
        if (!d)
            fail_msg("limit table: no struct %s", l->strct);
        bool found = false;
        for (unsigned i = 0; i < d->nfields; i++)
            if (strcmp(d->fields[i].name, l->field) == 0 && d->fields[i].kind == TK_STR)
                found = true;
        if (!found)
            fail_msg("limit table: %s has no string field %s", l->strct, l->field);
        assert_true(l->max > 0);
    }
    assert_true(n >= 15);
    assert_int_equal(omtp_field_limit_of("MsgReq", "pushInfo"), OMTP_LIMIT_PUSHINFO);
    assert_int_equal(omtp_field_limit_of("GroupChatInfo", "name"), OMTP_LIMIT_NAME);
    assert_int_equal(omtp_field_limit_of("MsgReq", "content"), 0); /* max_content, elsewhere */
}

static void test_check_top_nested_list(void **st)
{
    (void)st;
    char why[256];
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    set_len(&m.pushInfo, OMTP_LIMIT_PUSHINFO, 'p');
    set_len(&m.content, 1000000, 'c'); /* not in the table */
    assert_int_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof why), 0);
    set_len(&m.pushInfo, OMTP_LIMIT_PUSHINFO + 1, 'p');
    assert_int_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof why), OMTP_EINVAL);
    assert_string_equal(why, "MsgReq.pushInfo is 4097 bytes; at most 4096 are allowed");
    omtp_msg_free(&omtp_MsgReq_desc, &m);

    omtp_GroupChatInfoUpdateReq g;
    omtp_msg_init(&omtp_GroupChatInfoUpdateReq_desc, &g);
    set_len(&g.groupInfo.name, OMTP_LIMIT_NAME + 1, 'n');
    assert_int_equal(omtp_limits_check(&omtp_GroupChatInfoUpdateReq_desc, &g, why, sizeof why),
                     OMTP_EINVAL);
    assert_non_null(strstr(why, "GroupChatInfo.name is 257 bytes"));
    omtp_msg_free(&omtp_GroupChatInfoUpdateReq_desc, &g);

    omtp_FriendAddReq f;
    omtp_msg_init(&omtp_FriendAddReq_desc, &f);
    f.friends.items = calloc(3, sizeof *f.friends.items);
    for (int i = 0; i < 3; i++) {
        omtp_msg_init(&omtp_FriendInfo_desc, &f.friends.items[i]);
        f.friends.n++;
        set_len(&f.friends.items[i].remark, i == 2 ? OMTP_LIMIT_REMARK + 1 : 10, 'r');
    }
    assert_int_equal(omtp_limits_check(&omtp_FriendAddReq_desc, &f, why, sizeof why), OMTP_EINVAL);
    assert_non_null(strstr(why, "FriendInfo.remark"));
    omtp_msg_free(&omtp_FriendAddReq_desc, &f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_names_real_fields),
        cmocka_unit_test(test_check_top_nested_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
