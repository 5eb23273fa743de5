/*
 * ext_common.h - helpers for the extension tests (test_ext_*.c: presence,
 * typing, group read receipts; spec/omtp-ext.tars) against a real omtpd over
 * TCP: friends, attributes, and waiting for one kind of push while skipping
 * the others (sync-data commands, messages).
 */
#ifndef EXT_COMMON_H
#define EXT_COMMON_H

#include "group_common.h"

/* PT_FRIEND_ADD user <-> friend (mutual). */
static inline void x_friend(omtp_sync *c, const char *user, const char *friend_id)
{
    omtp_FriendAddReq q;
    omtp_msg_init(&omtp_FriendAddReq_desc, &q);
    q.friends.items = calloc(1, sizeof(omtp_FriendInfo));
    q.friends.n = 1;
    tars_str_set(&q.friends.items[0].userId, user);
    tars_str_set(&q.friends.items[0].friendId, friend_id);
    tars_str_set(&q.friends.items[0].remark, "");
    assert_int_equal(g_code(c, PT_FRIEND_ADD, &omtp_FriendAddReq_desc, &q), 0);
    omtp_msg_free(&omtp_FriendAddReq_desc, &q);
}

/* PT_USERATTRIBUTE_SET {userId "", friendId, name, value}: the code. */
static inline int x_attr(omtp_sync *c, const char *friend_id, const char *name, const char *value)
{
    omtp_UserAttrSetReq q;
    omtp_msg_init(&omtp_UserAttrSetReq_desc, &q);
    tars_str_set(&q.attribute.friendId, friend_id);
    tars_str_set(&q.attribute.attrName, name);
    tars_str_set(&q.attribute.attrValue, value);
    int code = g_code(c, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &q);
    omtp_msg_free(&omtp_UserAttrSetReq_desc, &q);
    return code;
}

/* The next push of `type` within timeout_ms (others are dropped): 0 and *p,
 * or OMTP_ETIMEDOUT. */
static inline int x_next(omtp_sync *c, int type, int timeout_ms, omtp_packet *p)
{
    int64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - h_now_ms();
        if (left < 0)
            left = 0;
        int rc = omtp_sync_next_push(c, (int)left, p);
        if (rc)
            return rc;
        if (p->header.type == type)
            return 0;
        omtp_packet_free(p);
        if (left == 0)
            return OMTP_ETIMEDOUT;
    }
}

/* The entry of `user` in a PresenceInfo list, or NULL. */
static inline const omtp_PresenceInfo *x_pres_find(const omtp_PresenceInfo_list *l,
                                                   const char *user)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (tars_str_eq(&l->items[i].userId, user))
            return &l->items[i];
    return NULL;
}

/* Waits for a PresenceNotice naming `user` (notices about others are
 * skipped); copies its entry to *out. */
static inline void x_expect_presence(omtp_sync *c, const char *user, int timeout_ms,
                                     omtp_PresenceInfo *out)
{
    int64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        omtp_packet p;
        int64_t left = end - h_now_ms();
        assert_true(left > 0);
        assert_int_equal(x_next(c, PT_PRESENCE, (int)left, &p), 0);
        const omtp_PresenceNotice *n = p.body;
        assert_non_null(n);
        const omtp_PresenceInfo *e = x_pres_find(&n->users, user);
        if (e) {
            *out = *e;
            out->userId = (tars_str){0}; /* the id stays with the packet */
            omtp_packet_free(&p);
            return;
        }
        omtp_packet_free(&p);
    }
}

#endif
