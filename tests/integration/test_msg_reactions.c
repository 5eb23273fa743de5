/*
 * test_msg_reactions.c - reactions, replies and mentions (issue #19, spec
 * omtp-ext.tars) against the real omtpd over TCP: what users see (the
 * ReactionNotice push, history / hot sessions / high-priority sync carrying
 * the aggregated reactions, replyTo and mentions, mentionSeqId until read,
 * the offline-push webhook's "mentioned") and the bad input of the issue
 * (emoji not UTF-8 or over 32 bytes, someone else's session, other
 * sessions' seqIds, non-members, "@all" by a non-creator).
 */
#include <jansson.h>

#include "chat_common.h"
#include "group_common.h"
#include "hook_receiver.h"

#define UP    "\xf0\x9f\x91\x8d"
#define HEART "\xe2\x9d\xa4"

static hook_rx *rx;
static h_server *srv;

static int setup(void **st)
{
    (void)st;
    char conf[512];
    rx = hook_rx_start(0, NULL);
    assert_non_null(rx);
    snprintf(conf, sizeof conf,
             "login_fail_delay_ms = 0\nsync_level = 1\n"
             "push_webhook_url = %s/push\npush_webhook_batch_ms = 50\n",
             hook_rx_url(rx));
    srv = h_server_start(conf, NULL);
    const char *users[] = {"ann", "ben", "cat", "dan"};
    for (int i = 0; i < 4; i++)
        h_user_add(srv, users[i], users[i]);
    return 0;
}

static int teardown(void **st)
{
    h_server_stop_free(srv);
    hook_rx_free(rx);
    return h_teardown(st);
}

static omtp_sync *login(const char *user)
{
    return h_login(srv, user, user, 5);
}

/* Sends a message with the extension fields; returns the code, *seq. */
static int send_ext(omtp_sync *c, int type, const char *to, const char *content, int64_t replyTo,
                    const char *mention1, const char *mention2, const char *pushInfo, int64_t flags,
                    int64_t *seq)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    tars_str_set(&m.pushInfo, pushInfo ? pushInfo : "");
    m.contentType = 1;
    m.replyTo = replyTo;
    const char *ms[] = {mention1, mention2};
    m.mentions.items = calloc(2, sizeof(tars_str));
    for (int i = 0; i < 2 && ms[i]; i++)
        tars_str_set(&m.mentions.items[m.mentions.n++], ms[i]);
    omtp_packet r;
    assert_int_equal(omtp_sync_request(c, type, flags, &omtp_MsgReq_desc, &m, 0, &r), 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    int code;
    if (r.desc == &omtp_MsgAck_desc) {
        const omtp_MsgAck *a = r.body;
        code = a->code;
        if (seq)
            *seq = a->seqId;
    } else {
        const omtp_CommonErrorCode *e = r.body;
        assert_non_null(e);
        code = e->code;
    }
    omtp_packet_free(&r);
    return code;
}

static int react(omtp_sync *c, const char *sid, int64_t seq, const char *emoji, int op, char *desc,
                 size_t dl)
{
    omtp_CommonErrorCode e;
    assert_int_equal(omtp_sync_react(c, sid, seq, emoji, op, &e), 0);
    int code = e.code;
    if (desc)
        snprintf(desc, dl, "%s", e.desc.data);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    return code;
}

/* The MsgReq of seq in the session's history (caller frees m). */
static void history_msg(omtp_sync *c, const char *sid, int64_t seq, omtp_MsgReq *m)
{
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(c, sid, seq, 1, &h), 0);
    assert_int_equal(h.msgs.n, 1);
    chat_pack_msg(&h.msgs.items[0], m);
    assert_int_equal(m->seqId, seq);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
}

static const tars_str_list *reactors(const omtp_MsgReq *m, const char *emoji)
{
    for (uint32_t k = 0; k < m->reactions.n; k++)
        if (tars_str_eq(&m->reactions.keys[k], emoji))
            return &m->reactions.vals[k];
    return NULL;
}

/* A reaction is pushed to the other member as a ReactionNotice, stored, and
 * shown (aggregated, oldest first) in history, in the hot session's last
 * message and in high-priority sync; removing it takes it away. */
static void test_reaction_push_and_views(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann"), *ben = login("ben");
    int64_t seq = 0;
    assert_int_equal(send_ext(ann, PT_MSG_SINGLE_CHAT, "ben", "urgent", 0, NULL, NULL, NULL,
                              OMTP_F_HIGHPRJ, &seq),
                     0);
    const char *sid = "SC_ann_ben";
    char desc[256];
    assert_int_equal(react(ben, sid, seq, UP, 1, desc, sizeof desc), 0);
    omtp_packet p;
    assert_int_equal(chat_next_push(ann, PT_MSG_REACTION, 5000, &p), 0);
    assert_ptr_equal(p.desc, &omtp_ReactionNotice_desc);
    const omtp_ReactionNotice *n = p.body;
    assert_string_equal(n->sessionId.data, sid);
    assert_int_equal(n->seqId, seq);
    assert_string_equal(n->userId.data, "ben");
    assert_string_equal(n->emoji.data, UP);
    assert_int_equal(n->op, 1);
    omtp_packet_free(&p);
    assert_int_equal(react(ann, sid, seq, UP, 1, NULL, 0), 0);
    assert_int_equal(react(ann, sid, seq, HEART, 1, NULL, 0), 0);
    /* the acting device gets no notice of its own; ben gets ann's two */
    assert_int_equal(chat_count_pushes(ann, PT_MSG_REACTION), 0);
    assert_int_equal(chat_count_pushes(ben, PT_MSG_REACTION), 2);

    omtp_MsgReq m;
    history_msg(ben, sid, seq, &m);
    const tars_str_list *l = reactors(&m, UP);
    assert_non_null(l);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[0].data, "ben");
    assert_string_equal(l->items[1].data, "ann");
    assert_true(tars_str_eq(&m.reactions.keys[0], UP));
    assert_non_null(reactors(&m, HEART));
    omtp_msg_free(&omtp_MsgReq_desc, &m);

    /* hot session: the last message carries them */
    omtp_HotSessionResp hs;
    assert_int_equal(omtp_sync_hot_sessions_all(ben, 0, &hs), 0);
    const omtp_HotSessionItem *it = chat_hot_find(&hs, sid);
    assert_non_null(it);
    assert_int_equal(it->lastMsgs.n, 1);
    chat_pack_msg(&it->lastMsgs.items[0], &m);
    assert_int_equal(reactors(&m, UP)->n, 2);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);

    /* high priority: the queued message as of now */
    omtp_MsgHighPrioritySyncResp hp;
    assert_int_equal(omtp_sync_high_prior(ben, 0, 200, &hp), 0);
    bool found = false;
    for (uint32_t i = 0; i < hp.msgs.n; i++) {
        if (hp.msgs.items[i].header.type != PT_MSG_SINGLE_CHAT)
            continue;
        chat_pack_msg(&hp.msgs.items[i], &m);
        if (m.seqId == seq && tars_str_eq(&m.sessionId, sid)) {
            found = true;
            assert_int_equal(reactors(&m, UP)->n, 2);
        }
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    assert_true(found);
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);

    /* remove: ben gets the notice (op 2), the aggregate loses ann */
    assert_int_equal(react(ann, sid, seq, UP, 2, NULL, 0), 0);
    assert_int_equal(chat_next_push(ben, PT_MSG_REACTION, 5000, &p), 0);
    assert_int_equal(((const omtp_ReactionNotice *)p.body)->op, 2);
    omtp_packet_free(&p);
    history_msg(ann, sid, seq, &m);
    assert_int_equal(reactors(&m, UP)->n, 1);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_sync_close(ann);
    omtp_sync_close(ben);
}

/* Bad reactions get a clear refusal; the connection stays usable. */
static void test_reaction_bad_input(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann"), *cat = login("cat");
    int64_t seq = 0;
    assert_int_equal(chat_send(ann, "ben", "x", &seq), 0);
    const char *sid = "SC_ann_ben";
    char desc[256];
    /* someone else's session */
    assert_int_equal(react(cat, sid, seq, UP, 1, desc, sizeof desc), OMTP_EC_MSG_FORBIDDEN);
    assert_non_null(strstr(desc, "not a member"));
    /* not UTF-8 */
    assert_int_equal(react(ann, sid, seq, "\xff\xfe", 1, desc, sizeof desc), OMTP_EC_PARAM);
    assert_non_null(strstr(desc, "UTF-8"));
    /* over 32 bytes: refused at the door, naming the field */
    assert_int_equal(
        react(ann, sid, seq, "123456789012345678901234567890123", 1, desc, sizeof desc),
        OMTP_EC_PARAM);
    assert_non_null(strstr(desc, "ReactionReq.emoji"));
    /* twice, never added, bad op, no such message */
    assert_int_equal(react(ann, sid, seq, UP, 1, NULL, 0), 0);
    assert_int_equal(react(ann, sid, seq, UP, 1, desc, sizeof desc), OMTP_EC_PARAM);
    assert_non_null(strstr(desc, "already"));
    assert_int_equal(react(ann, sid, seq, HEART, 2, NULL, 0), OMTP_EC_PARAM);
    assert_int_equal(react(ann, sid, seq, UP, 7, NULL, 0), OMTP_EC_PARAM);
    assert_int_equal(react(ann, sid, 9999, UP, 1, NULL, 0), OMTP_EC_MSG_NOT_EXIST);
    /* a deleted message takes none */
    omtp_CommonErrorCode e;
    assert_int_equal(omtp_sync_ctrl(ann, MC_DELETE, sid, seq, NULL, NULL, &e), 0);
    assert_int_equal(e.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    assert_int_equal(react(ann, sid, seq, HEART, 1, desc, sizeof desc), OMTP_EC_PARAM);
    assert_non_null(strstr(desc, "deleted"));
    assert_int_equal(omtp_sync_ping(ann), 0);
    omtp_sync_close(ann);
    omtp_sync_close(cat);
}

/* A reply and a mention reach the recipient live and in history; the
 * mentioned user's hot session has mentionSeqId until it reads the message;
 * bad references are PARAM. */
static void test_replies_and_mentions(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann"), *ben = login("ben");
    int64_t q = 0, a = 0, other = 0;
    assert_int_equal(chat_send(ann, "cat", "c1", NULL), 0);
    assert_int_equal(chat_send(ann, "cat", "c2", &other), 0);
    assert_int_equal(chat_send(ann, "ben", "question", &q), 0);
    assert_int_equal(
        send_ext(ben, PT_MSG_SINGLE_CHAT, "ann", "answer @ann", q, "ann", NULL, NULL, 0, &a), 0);
    omtp_packet p;
    for (;;) { /* ann's push of ben's answer */
        assert_int_equal(chat_next_push(ann, PT_MSG_SINGLE_CHAT, 5000, &p), 0);
        const omtp_MsgReq *m = p.body;
        if (m->seqId == a && tars_str_eq(&m->sessionId, "SC_ann_ben")) {
            assert_int_equal(m->replyTo, q);
            assert_int_equal(m->mentions.n, 1);
            assert_string_equal(m->mentions.items[0].data, "ann");
            omtp_packet_free(&p);
            break;
        }
        omtp_packet_free(&p);
    }
    omtp_MsgReq m;
    history_msg(ann, "SC_ann_ben", a, &m);
    assert_int_equal(m.replyTo, q);
    assert_int_equal(m.mentions.n, 1);
    omtp_msg_free(&omtp_MsgReq_desc, &m);

    omtp_HotSessionResp hs;
    assert_int_equal(omtp_sync_hot_sessions_all(ann, 0, &hs), 0);
    assert_int_equal(chat_hot_find(&hs, "SC_ann_ben")->mentionSeqId, a);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);
    omtp_CommonErrorCode e;
    assert_int_equal(omtp_sync_read(ann, "SC_ann_ben", a, &e), 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    assert_int_equal(omtp_sync_hot_sessions_all(ann, 0, &hs), 0);
    assert_int_equal(chat_hot_find(&hs, "SC_ann_ben")->mentionSeqId, 0);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);

    /* a seqId of another session (ann-cat has `other`, ann-ben does not yet) */
    int64_t far = other + 10;
    assert_true(far > a);
    assert_int_equal(send_ext(ben, PT_MSG_SINGLE_CHAT, "ann", "x", far, NULL, NULL, NULL, 0, NULL),
                     OMTP_EC_PARAM);
    /* a mention of someone not in the chat */
    assert_int_equal(send_ext(ben, PT_MSG_SINGLE_CHAT, "ann", "x", 0, "cat", NULL, NULL, 0, NULL),
                     OMTP_EC_PARAM);
    omtp_sync_close(ann);
    omtp_sync_close(ben);
}

/* Groups: members only, "@all" by the creator only; everyone "@all" names
 * sees mentionSeqId. */
static void test_group_mentions(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann"), *ben = login("ben"), *cat = login("cat");
    tars_str_list mem = g_ids("ben", "cat", NULL);
    char gid[160];
    assert_int_equal(g_create(ann, "fun", NULL, 0, &mem, gid), 0);
    g_ids_free(&mem);
    int64_t seq = 0;
    assert_int_equal(
        send_ext(ben, PT_MSG_GROUP_CHAT, gid, "hey all", 0, "@all", NULL, NULL, 0, NULL),
        OMTP_EC_PARAM);
    assert_int_equal(
        send_ext(ben, PT_MSG_GROUP_CHAT, gid, "hey dan", 0, "dan", NULL, NULL, 0, NULL),
        OMTP_EC_PARAM);
    assert_int_equal(
        send_ext(ann, PT_MSG_GROUP_CHAT, gid, "meeting", 0, "@all", NULL, NULL, 0, &seq), 0);
    omtp_HotSessionResp hs;
    assert_int_equal(omtp_sync_hot_sessions_all(cat, 0, &hs), 0);
    assert_int_equal(chat_hot_find(&hs, gid)->mentionSeqId, seq);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);
    assert_int_equal(omtp_sync_hot_sessions_all(ann, 0, &hs), 0);
    assert_int_equal(chat_hot_find(&hs, gid)->mentionSeqId, 0);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);
    /* group reactions reach every other member */
    assert_int_equal(react(cat, gid, seq, UP, 1, NULL, 0), 0);
    omtp_packet p;
    assert_int_equal(chat_next_push(ben, PT_MSG_REACTION, 5000, &p), 0);
    omtp_packet_free(&p);
    assert_int_equal(chat_next_push(ann, PT_MSG_REACTION, 5000, &p), 0);
    omtp_packet_free(&p);
    omtp_sync_close(ann);
    omtp_sync_close(ben);
    omtp_sync_close(cat);
}

/* The offline-push event says whether its recipient was mentioned. */
static void test_offline_push_mentioned(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann"); /* dan stays offline */
    int before = hook_rx_count(rx);
    assert_int_equal(
        send_ext(ann, PT_MSG_SINGLE_CHAT, "dan", "hi", 0, NULL, NULL, "{\"t\":1}", 0, NULL), 0);
    assert_int_equal(
        send_ext(ann, PT_MSG_SINGLE_CHAT, "dan", "@dan", 0, "dan", NULL, "{\"t\":2}", 0, NULL), 0);
    int seen = 0, mentioned = -1, plain = -1;
    for (int tries = 0; seen < 2 && tries < 50; tries++) {
        if (!hook_rx_wait(rx, before + 1, 10000))
            break;
        while (before < hook_rx_count(rx)) {
            hook_rx_req q;
            assert_true(hook_rx_get(rx, before++, &q));
            json_t *j = json_loads(q.body, 0, NULL);
            free(q.body);
            assert_non_null(j);
            for (size_t i = 0; i < json_array_size(j); i++) {
                json_t *ev = json_array_get(j, i);
                if (strcmp(json_string_value(json_object_get(ev, "recipient")), "dan") != 0)
                    continue;
                json_t *mt = json_object_get(ev, "mentioned");
                assert_true(json_is_boolean(mt));
                const char *pi = json_string_value(json_object_get(ev, "pushInfo"));
                if (strstr(pi, "2"))
                    mentioned = json_is_true(mt);
                else
                    plain = json_is_true(mt);
                seen++;
            }
            json_decref(j);
        }
    }
    assert_int_equal(seen, 2);
    assert_int_equal(mentioned, 1);
    assert_int_equal(plain, 0);
    omtp_sync_close(ann);
}

/* A monitor watching a session sees reactions live and on the last message
 * of MONITOR_SYNC. */
static void test_monitor_sees_reactions(void **st)
{
    (void)st;
    const char *role[] = {"user", "role", "dan", "monitor", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, role), 0);
    omtp_sync *ann = login("ann"), *ben = login("ben"), *dan = login("dan");
    omtp_SessionMonitor sm;
    omtp_msg_init(&omtp_SessionMonitor_desc, &sm);
    tars_str_set(&sm.sessionId, "SC_ann_ben");
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_call(dan, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &sm,
                                    &omtp_CommonErrorCode_desc, &ce),
                     0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    omtp_msg_free(&omtp_SessionMonitor_desc, &sm);
    int64_t seq = 0;
    assert_int_equal(chat_send(ann, "ben", "watched", &seq), 0);
    assert_int_equal(react(ben, "SC_ann_ben", seq, HEART, 1, NULL, 0), 0);
    omtp_packet p;
    assert_int_equal(chat_next_push(dan, PT_MSG_REACTION, 5000, &p), 0);
    assert_int_equal(((const omtp_ReactionNotice *)p.body)->seqId, seq);
    omtp_packet_free(&p);
    omtp_HotSessionResp hot;
    assert_int_equal(
        omtp_sync_call(dan, PT_SESSION_MONITOR_SYNC, NULL, NULL, &omtp_HotSessionResp_desc, &hot),
        0);
    const omtp_HotSessionItem *it = chat_hot_find(&hot, "SC_ann_ben");
    assert_non_null(it);
    assert_int_equal(it->lastMsgs.n, 1);
    omtp_MsgReq m;
    chat_pack_msg(&it->lastMsgs.items[0], &m);
    assert_int_equal(m.seqId, seq);
    assert_non_null(reactors(&m, HEART));
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);
    omtp_sync_close(ann);
    omtp_sync_close(ben);
    omtp_sync_close(dan);
}

/* A client's own `reactions` are the server's to fill: ignored in a send;
 * a map whose keys repeat is refused with an answer, the connection stays. */
static void test_client_reactions_map(void **st)
{
    (void)st;
    omtp_sync *ann = login("ann");
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, "ben");
    tars_str_set(&m.content, "forged");
    m.reactions.n = 1;
    m.reactions.keys = calloc(1, sizeof(tars_str));
    m.reactions.vals = calloc(1, sizeof(tars_str_list));
    tars_str_set(&m.reactions.keys[0], UP);
    m.reactions.vals[0].items = calloc(1, sizeof(tars_str));
    m.reactions.vals[0].n = 1;
    tars_str_set(&m.reactions.vals[0].items[0], "cat");
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_call(ann, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, &omtp_MsgAck_desc, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_MsgReq got;
    history_msg(ann, "SC_ann_ben", seq, &got);
    assert_int_equal(got.reactions.n, 0);
    omtp_msg_free(&omtp_MsgReq_desc, &got);

    /* the same message with the map's one key written twice */
    tars_buf b;
    tars_buf_init(&b);
    m.reactions.n = 0;
    assert_int_equal(tars_encode(&b, &omtp_MsgReq_desc, &m, true, 0), TARS_OK);
    assert_true(b.len > 2 && b.data[b.len - 2] == 0xb8 && b.data[b.len - 1] == 0x0c);
    b.len -= 2; /* the empty map at tag 11 */
    uint8_t dup[] = {0xb8, 0x00, 0x02, 0x06, 0x01, 'x', 0x19, 0x0c, 0x06, 0x01, 'x', 0x19, 0x0c};
    tars_buf_put(&b, dup, sizeof dup);
    tars_buf f;
    tars_buf_init(&f);
    h_raw_frame(&f, PT_MSG_SINGLE_CHAT, 0, "dupkeys", b.data, b.len);
    assert_int_equal(omtp_sync_send_raw(ann, f.data, f.len), 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(ann, "dupkeys", 5000, &r), 0);
    assert_non_null(r.body);
    assert_int_not_equal(((const omtp_MsgAck *)r.body)->code, 0);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_ping(ann), 0);
    m.reactions.n = 1;
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    tars_buf_free(&b);
    tars_buf_free(&f);
    omtp_sync_close(ann);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reaction_push_and_views), cmocka_unit_test(test_reaction_bad_input),
        cmocka_unit_test(test_replies_and_mentions),    cmocka_unit_test(test_group_mentions),
        cmocka_unit_test(test_offline_push_mentioned),  cmocka_unit_test(test_client_reactions_map),
        cmocka_unit_test(test_monitor_sees_reactions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
