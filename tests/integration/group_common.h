/*
 * group_common.h - helpers for the group, friend and user integration tests
 * (test_group_*.c, test_friend_*.c, test_user_*.c): build requests, call,
 * return the reply's code, wait for sync-data commands. Real omtpd over TCP
 * (tests/support/harness.h), blocking clients (omtp_sync.h).
 *
 * Users are created in bulk with a cheap password hash (`omtpd user bulk
 * PREFIX COUNT --password pw --cost 4`): PREFIX0, PREFIX1, ...
 */
#ifndef GROUP_COMMON_H
#define GROUP_COMMON_H

#include "chat_common.h"

#define G_PW "pw"

/* Starts omtpd with `conf` lines and creates users prefix0..prefix<n-1>. */
static inline h_server *g_start(const char *conf, const char *prefix, int n)
{
    char text[1024];
    snprintf(text, sizeof text, "log_level = warn\n%s\n", conf ? conf : "");
    h_server *s = h_server_start(text, NULL);
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    const char *args[] = {"user", "bulk", prefix, count, "--password", G_PW, "--cost", "4", NULL};
    assert_int_equal(h_admin(s, NULL, 0, args), 0);
    return s;
}

static inline omtp_sync *g_login(h_server *s, const char *user, int dev)
{
    return h_login(s, user, G_PW, dev);
}

static inline void g_stop(h_server *s)
{
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* A tars_str_list of the given ids (NULL-terminated); free with g_ids_free. */
static inline tars_str_list g_ids(const char *first, ...)
{
    tars_str_list l = {.items = calloc(64, sizeof(tars_str)), .n = 0};
    va_list ap;
    va_start(ap, first);
    for (const char *id = first; id && l.n < 64; id = va_arg(ap, const char *))
        tars_str_set(&l.items[l.n++], id);
    va_end(ap);
    return l;
}

static inline void g_ids_free(tars_str_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Any request whose reply is a CommonErrorCode: returns its code. */
static inline int g_code(omtp_sync *c, int type, const tars_struct_desc *d, const void *body)
{
    omtp_CommonErrorCode r;
    assert_int_equal(omtp_sync_call(c, type, d, body, &omtp_CommonErrorCode_desc, &r), 0);
    int code = r.code;
    if (code)
        assert_true(r.desc.len > 0); /* desc says what was wrong */
    omtp_msg_free(&omtp_CommonErrorCode_desc, &r);
    return code;
}

/* CREATE; returns the code, the group id into gid (>= 160 bytes). */
static inline int g_create(omtp_sync *c, const char *name, const char *chosen, int limit,
                           const tars_str_list *members, char *gid)
{
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.name, name);
    tars_str_set(&q.groupInfo.desc, "a test group");
    if (chosen)
        tars_str_set(&q.groupInfo.groupId, chosen);
    q.groupInfo.memberLimit = limit;
    for (uint32_t i = 0; members && i < members->n; i++) {
        q.memberIds.items = realloc(q.memberIds.items, (q.memberIds.n + 1) * sizeof(tars_str));
        q.memberIds.items[q.memberIds.n] = (tars_str){0};
        tars_str_set(&q.memberIds.items[q.memberIds.n++], members->items[i].data);
    }
    omtp_GroupChatCreateResp r;
    assert_int_equal(omtp_sync_call(c, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                                    &omtp_GroupChatCreateResp_desc, &r),
                     0);
    int code = r.errorCode.code;
    if (gid)
        snprintf(gid, 160, "%s", r.groupId.data);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
    return code;
}

static inline int g_join(omtp_sync *c, const char *gid, const tars_str_list *ids)
{
    omtp_GroupChatJoinReq q;
    omtp_msg_init(&omtp_GroupChatJoinReq_desc, &q);
    tars_str_set(&q.groupId, gid);
    q.memberIds = *ids; /* borrowed */
    omtp_GroupChatJoinResp r;
    assert_int_equal(omtp_sync_call(c, PT_GROUPCHAT_JION, &omtp_GroupChatJoinReq_desc, &q,
                                    &omtp_GroupChatJoinResp_desc, &r),
                     0);
    int code = r.errorCode.code;
    if (code == 0)
        assert_string_equal(r.groupId.data, gid);
    omtp_msg_free(&omtp_GroupChatJoinResp_desc, &r);
    tars_str_clear(&q.groupId);
    return code;
}

static inline int g_quit(omtp_sync *c, const char *gid, const char *op, const tars_str_list *ids)
{
    omtp_GroupChatQuitReq q;
    omtp_msg_init(&omtp_GroupChatQuitReq_desc, &q);
    tars_str_set(&q.groupId, gid);
    tars_str_set(&q.operatorId, op);
    if (ids)
        q.memberIds = *ids; /* borrowed */
    int code = g_code(c, PT_GROUPCHAT_QUIT, &omtp_GroupChatQuitReq_desc, &q);
    memset(&q.memberIds, 0, sizeof(q.memberIds));
    omtp_msg_free(&omtp_GroupChatQuitReq_desc, &q);
    return code;
}

static inline int g_dismiss(omtp_sync *c, const char *gid, const char *op)
{
    omtp_GroupChatDismissReq q;
    omtp_msg_init(&omtp_GroupChatDismissReq_desc, &q);
    tars_str_set(&q.groupId, gid);
    tars_str_set(&q.operatorId, op);
    int code = g_code(c, PT_GROUPCHAT_DISMISS, &omtp_GroupChatDismissReq_desc, &q);
    omtp_msg_free(&omtp_GroupChatDismissReq_desc, &q);
    return code;
}

static inline int g_set_creator(omtp_sync *c, const char *gid, const char *op, const char *who)
{
    omtp_GroupChatCreatorUpdateReq q;
    omtp_msg_init(&omtp_GroupChatCreatorUpdateReq_desc, &q);
    tars_str_set(&q.groupId, gid);
    tars_str_set(&q.operatorId, op);
    tars_str_set(&q.newCreatorId, who);
    int code = g_code(c, PT_GROUPCHAT_UPDATE_CREATOR, &omtp_GroupChatCreatorUpdateReq_desc, &q);
    omtp_msg_free(&omtp_GroupChatCreatorUpdateReq_desc, &q);
    return code;
}

static inline int g_info(omtp_sync *c, const char *gid, const char *op, const char *name,
                         const char *avatar, int limit)
{
    omtp_GroupChatInfoUpdateReq q;
    omtp_msg_init(&omtp_GroupChatInfoUpdateReq_desc, &q);
    tars_str_set(&q.operatorId, op);
    tars_str_set(&q.groupInfo.groupId, gid);
    tars_str_set(&q.groupInfo.name, name ? name : "");
    tars_str_set(&q.groupInfo.avatar, avatar ? avatar : "");
    q.groupInfo.memberLimit = limit;
    int code = g_code(c, PT_GROUPCHAT_INFO_UPDATE, &omtp_GroupChatInfoUpdateReq_desc, &q);
    omtp_msg_free(&omtp_GroupChatInfoUpdateReq_desc, &q);
    return code;
}

/* MEMBERS_GET: the code; the members joined by ',' into out. */
static inline int g_members(omtp_sync *c, const char *gid, char *out, size_t n)
{
    omtp_GroupChatMemberGetReq q;
    omtp_msg_init(&omtp_GroupChatMemberGetReq_desc, &q);
    tars_str_set(&q.groupId, gid);
    omtp_GroupChatMemberGetResp r;
    assert_int_equal(omtp_sync_call(c, PT_GROUPCHAT_MEMBERS_GET, &omtp_GroupChatMemberGetReq_desc,
                                    &q, &omtp_GroupChatMemberGetResp_desc, &r),
                     0);
    int code = r.errorCode.code;
    if (out) {
        out[0] = 0;
        for (uint32_t i = 0; i < r.memberIds.n; i++)
            snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "",
                     r.memberIds.items[i].data);
    }
    omtp_msg_free(&omtp_GroupChatMemberGetResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatMemberGetReq_desc, &q);
    return code;
}

static inline void g_sync(omtp_sync *c, int64_t since, omtp_GroupChatSyncResp *r)
{
    omtp_GroupChatSyncReq q = {.timestamp = since};
    assert_int_equal(omtp_sync_call(c, PT_GROUPCHAT_SYNC, &omtp_GroupChatSyncReq_desc, &q,
                                    &omtp_GroupChatSyncResp_desc, r),
                     0);
    assert_int_equal(r->errorCode.code, 0);
}

static inline const omtp_GroupChatInfo *g_sync_find(const omtp_GroupChatSyncResp *r,
                                                    const char *gid)
{
    for (uint32_t i = 0; i < r->groupchats.n; i++)
        if (tars_str_eq(&r->groupchats.items[i].groupId, gid))
            return &r->groupchats.items[i];
    return NULL;
}

static inline bool g_sync_deleted(const omtp_GroupChatSyncResp *r, const char *gid)
{
    for (uint32_t i = 0; i < r->delGroupChatIds.n; i++)
        if (tars_str_eq(&r->delGroupChatIds.items[i], gid))
            return true;
    return false;
}

/* Group message; returns the MsgAck code, *seq its seqId. */
static inline int g_send(omtp_sync *c, const char *gid, const char *content, int64_t *seq)
{
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(c, PT_MSG_GROUP_CHAT, gid, content, NULL, 0, &ack), 0);
    int code = ack.code;
    if (seq)
        *seq = ack.seqId;
    if (code == 0)
        assert_string_equal(ack.sessionId.data, gid);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return code;
}

/* Waits for a group message push; checks its content and seqId. */
static inline void g_expect_msg(omtp_sync *c, const char *gid, const char *content, int64_t seq)
{
    omtp_packet p;
    assert_int_equal(chat_next_push(c, PT_MSG_GROUP_CHAT, 5000, &p), 0);
    assert_non_null(p.body);
    const omtp_MsgReq *m = p.body;
    assert_string_equal(m->sessionId.data, gid);
    assert_string_equal(m->content.data, content);
    assert_int_equal(m->seqId, seq);
    omtp_packet_free(&p);
}

/* Waits for PT_SYNC_DATA_CMD `command` whose content contains `needle`. */
static inline void g_expect_sync(omtp_sync *c, int command, const char *needle)
{
    omtp_packet p;
    for (;;) {
        assert_int_equal(chat_next_push(c, PT_SYNC_DATA_CMD, 5000, &p), 0);
        const omtp_SyncDataReq *d = p.body;
        assert_non_null(d);
        bool hit = d->command == command && strstr(d->content.data, needle);
        omtp_packet_free(&p);
        if (hit)
            return;
    }
}

#endif
