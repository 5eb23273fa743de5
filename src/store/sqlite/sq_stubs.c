/* sq_stubs.c - TEMPORARY (milestone 1): ops not implemented yet. */
#include "sq.h"

#define STUB(name, params, args)                                                                   \
    int sq_##name params                                                                           \
    {                                                                                              \
        snprintf(db->errmsg, sizeof(db->errmsg), "%s: not implemented yet", #name);                \
        return OMTP_EDB;                                                                           \
    }
#include <stdio.h>
#define OPS(X)                                                                                     \
    X(msg_append, (omtp_db * db, omtp_msg_rec * m, bool *dup), (db, m, dup))                       \
    X(msg_get, (omtp_db * db, const char *sessionId, int64_t seqId, omtp_msg_rec *out),            \
      (db, sessionId, seqId, out))                                                                 \
    X(msg_history,                                                                                 \
      (omtp_db * db, const char *sessionId, int64_t maxSeq, int count, omtp_msg_rec_list *out),    \
      (db, sessionId, maxSeq, count, out))                                                         \
    X(msg_control,                                                                                 \
      (omtp_db * db, const char *sessionId, int64_t seqId, int command, const char *content),      \
      (db, sessionId, seqId, command, content))                                                    \
    X(session_last_seq, (omtp_db * db, const char *sessionId, int64_t *lastSeq),                   \
      (db, sessionId, lastSeq))                                                                    \
    X(session_member, (omtp_db * db, const char *userId, const char *sessionId, bool *member),     \
      (db, userId, sessionId, member))                                                             \
    X(read_set,                                                                                    \
      (omtp_db * db, const char *userId, const char *sessionId, int64_t seqId, int64_t *now),      \
      (db, userId, sessionId, seqId, now))                                                         \
    X(hot_sessions,                                                                                \
      (omtp_db * db, const char *userId, int64_t sinceUs, int limit, omtp_hot_rec_list *out),      \
      (db, userId, sinceUs, limit, out))                                                           \
    X(hot_session_get,                                                                             \
      (omtp_db * db, const char *userId, const char *sessionId, omtp_hot_rec_list *out),           \
      (db, userId, sessionId, out))                                                                \
    X(unread_total, (omtp_db * db, const char *userId, int64_t *total), (db, userId, total))       \
    X(session_attr_set,                                                                            \
      (omtp_db * db, const char *userId, const char *sessionId, const char *name,                  \
       const char *value),                                                                         \
      (db, userId, sessionId, name, value))                                                        \
    X(hp_append, (omtp_db * db, const char *userId, const omtp_OTIMPack *pack, int64_t *seq),      \
      (db, userId, pack, seq))                                                                     \
    X(hp_list,                                                                                     \
      (omtp_db * db, const char *userId, int64_t afterSeq, int count, omtp_hp_rec_list *out,       \
       int64_t *lastSeq),                                                                          \
      (db, userId, afterSeq, count, out, lastSeq))                                                 \
    X(group_create, (omtp_db * db, omtp_GroupChatInfo * g, const tars_str_list *members),          \
      (db, g, members))                                                                            \
    X(group_get, (omtp_db * db, const char *groupId, omtp_GroupChatInfo *out, bool *dismissed),    \
      (db, groupId, out, dismissed))                                                               \
    X(group_update_info, (omtp_db * db, const omtp_GroupChatInfo *g), (db, g))                     \
    X(group_set_creator, (omtp_db * db, const char *groupId, const char *creatorId),               \
      (db, groupId, creatorId))                                                                    \
    X(group_dismiss, (omtp_db * db, const char *groupId), (db, groupId))                           \
    X(group_members, (omtp_db * db, const char *groupId, tars_str_list *out), (db, groupId, out))  \
    X(group_is_member, (omtp_db * db, const char *groupId, const char *userId, bool *member),      \
      (db, groupId, userId, member))                                                               \
    X(group_member_count, (omtp_db * db, const char *groupId, int *count), (db, groupId, count))   \
    X(group_add_members,                                                                           \
      (omtp_db * db, const char *groupId, const tars_str_list *ids, int *added),                   \
      (db, groupId, ids, added))                                                                   \
    X(group_remove_members,                                                                        \
      (omtp_db * db, const char *groupId, const tars_str_list *ids, int *removed),                 \
      (db, groupId, ids, removed))                                                                 \
    X(group_sync,                                                                                  \
      (omtp_db * db, const char *userId, int64_t sinceMs, omtp_GroupChatInfo_list *groups,         \
       tars_str_list *deleted),                                                                    \
      (db, userId, sinceMs, groups, deleted))                                                      \
    X(friend_add, (omtp_db * db, const char *userId, const char *friendId, const char *remark),    \
      (db, userId, friendId, remark))                                                              \
    X(friend_del, (omtp_db * db, const char *userId, const char *friendId),                        \
      (db, userId, friendId))                                                                      \
    X(friend_is, (omtp_db * db, const char *userId, const char *friendId, bool *yes),              \
      (db, userId, friendId, yes))                                                                 \
    X(friend_list,                                                                                 \
      (omtp_db * db, const char *userId, int64_t sinceMs, omtp_FriendInfo_list *out,               \
       bool *changed),                                                                             \
      (db, userId, sinceMs, out, changed))                                                         \
    X(user_attr_set, (omtp_db * db, const omtp_UserAttribute *a), (db, a))                         \
    X(user_attr_get,                                                                               \
      (omtp_db * db, const char *userId, const char *friendId, const char *attrName,               \
       omtp_UserAttribute_list *out),                                                              \
      (db, userId, friendId, attrName, out))
OPS(STUB)
