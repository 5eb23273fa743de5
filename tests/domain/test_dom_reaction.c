/*
 * test_dom_reaction.c - replies, mentions and reactions in the domain
 * (domain/msg.h sends with MsgReq.replyTo / .mentions, domain/reaction.h)
 * on a real core with a real SQLite store (dom_fixture.h): the rules users
 * rely on and the bad input of issue #19, checked through the answers and
 * through what the store then holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dom_fixture.h"
#include "domain/msg.h"
#include "domain/reaction.h"
#include "proto/omtp_limits.h"

#define UP    "\xf0\x9f\x91\x8d" /* thumbs up */
#define HEART "\xe2\x9d\xa4"

static const char *const USERS[] = {"alice", "bob", "carol", "xavier", NULL};

typedef struct answer {
    bool called;
    int code;
    char desc[256];
    int64_t seq;
    char sid[160];
} answer;

static void on_result(void *arg, const omtp_dom_result *res)
{
    answer *a = arg;
    assert_false(a->called);
    a->called = true;
    a->code = res->code;
    snprintf(a->desc, sizeof a->desc, "%s", res->desc ? res->desc : "");
    if (res->stored) {
        a->seq = res->stored->msg.seqId;
        snprintf(a->sid, sizeof a->sid, "%s", res->stored->msg.sessionId.data);
    }
}

/* group GC_r: creator alice, members bob and carol (xavier is not one) */
static int add_group_work(omtp_db *db, void *arg)
{
    (void)arg;
    omtp_GroupChatInfo g;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    tars_str_set(&g.groupId, "GC_r");
    tars_str_set(&g.name, "r");
    tars_str_set(&g.creatorId, "alice");
    tars_str items[2] = {{(char *)"bob", 3}, {(char *)"carol", 5}};
    tars_str_list members = {items, 2};
    int rc = omtp_db_group_create(db, &g, &members);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    return rc;
}

static int setup(void **state)
{
    dom_fixture *f = dom_start(USERS);
    if (!f)
        return -1;
    if (dom_on_db(f, add_group_work, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    dom_stop(*state);
    return 0;
}

/* Sends as the logged-in user `from`; mentions NULL-terminated (or NULL). */
static answer send_ext(dom_fixture *f, int type, const char *from, const char *to,
                       const char *content, int64_t replyTo, const char *const *mentions)
{
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = from};
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    tars_str_set(&m.msg.to, to);
    tars_str_set(&m.msg.content, content);
    m.msg.replyTo = replyTo;
    uint32_t n = 0;
    while (mentions && mentions[n])
        n++;
    if (n) {
        m.msg.mentions.items = calloc(n, sizeof(tars_str));
        for (uint32_t i = 0; i < n; i++)
            tars_str_set(&m.msg.mentions.items[i], mentions[i]);
        m.msg.mentions.n = n;
    }
    answer a = {0};
    int rc = type == PT_MSG_GROUP_CHAT ? omtp_dom_send_group(&f->srv, &who, &m, on_result, &a)
                                       : omtp_dom_send_single(&f->srv, &who, &m, on_result, &a);
    assert_int_equal(rc, 0);
    assert_true(dom_wait(f, &a.called));
    omtp_msg_rec_free(&m);
    return a;
}

static answer say(dom_fixture *f, const char *from, const char *to, const char *content)
{
    return send_ext(f, PT_MSG_SINGLE_CHAT, from, to, content, 0, NULL);
}

static answer react(dom_fixture *f, const char *user, const char *sid, int64_t seq,
                    const char *emoji, size_t elen, int op)
{
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = user};
    omtp_ReactionReq r;
    omtp_msg_init(&omtp_ReactionReq_desc, &r);
    tars_str_set(&r.sessionId, sid);
    r.seqId = seq;
    tars_str_setn(&r.emoji, emoji, elen);
    r.op = op;
    answer a = {0};
    assert_int_equal(omtp_dom_reaction(&f->srv, &who, &r, on_result, &a), 0);
    assert_true(dom_wait(f, &a.called));
    omtp_msg_free(&omtp_ReactionReq_desc, &r);
    return a;
}

/* history of a session as a reply builds it: messages with their reactions */
typedef struct hist {
    const char *sid;
    omtp_msg_rec_list l;
} hist;

static int hist_work(omtp_db *db, void *arg)
{
    hist *h = arg;
    int rc = omtp_db_msg_history(db, h->sid, 0, 50, &h->l);
    return rc ? rc : omtp_reactions_attach(db, h->l.items, h->l.n);
}

static const omtp_MsgReq *hist_msg(const hist *h, int64_t seq)
{
    for (uint32_t i = 0; i < h->l.n; i++)
        if (h->l.items[i].msg.seqId == seq)
            return &h->l.items[i].msg;
    fail_msg("seq %lld not in history", (long long)seq);
    return NULL;
}

typedef struct mseq {
    const char *user, *sid;
    int64_t seq;
} mseq;

static int mention_work(omtp_db *db, void *arg)
{
    mseq *m = arg;
    return omtp_db_mention_seq(db, m->user, m->sid, &m->seq);
}

static int64_t mention_of(dom_fixture *f, const char *user, const char *sid)
{
    mseq m = {user, sid, -1};
    assert_int_equal(dom_on_db(f, mention_work, &m), 0);
    return m.seq;
}

/* ----------------------------------------------------------------- tests */

/* A reply names a message of its own session; it is stored and history
 * carries it. A seqId of another session, one not stored yet, a deleted
 * one or a negative one is PARAM with words saying why. */
static void test_replies(void **state)
{
    dom_fixture *f = *state;
    answer a = say(f, "alice", "bob", "question");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    char sid[160];
    snprintf(sid, sizeof sid, "%s", a.sid);
    for (int i = 0; i < 3; i++) /* alice-carol reaches seqId 3 */
        assert_int_equal(say(f, "alice", "carol", "other").code, OMTP_EC_SUCCESS);

    a = send_ext(f, PT_MSG_SINGLE_CHAT, "bob", "alice", "answer", 1, NULL);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 2);
    /* seqId 3 exists only in alice-carol */
    a = send_ext(f, PT_MSG_SINGLE_CHAT, "bob", "alice", "x", 3, NULL);
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_non_null(strstr(a.desc, "replyTo 3"));
    assert_non_null(strstr(a.desc, "own session"));
    a = send_ext(f, PT_MSG_SINGLE_CHAT, "bob", "alice", "x", -1, NULL);
    assert_int_equal(a.code, OMTP_EC_PARAM);
    a = send_ext(f, PT_MSG_SINGLE_CHAT, "bob", "alice", "x", 99, NULL);
    assert_int_equal(a.code, OMTP_EC_PARAM);

    hist h = {.sid = sid};
    assert_int_equal(dom_on_db(f, hist_work, &h), 0);
    assert_int_equal(h.l.n, 2); /* the refused ones were not stored */
    assert_int_equal(hist_msg(&h, 2)->replyTo, 1);
    assert_int_equal(hist_msg(&h, 1)->replyTo, 0);
    omtp_msg_rec_list_free(&h.l);
}

/* Mentions: members only (single chat: the peer), "@all" only in a group
 * and only by its creator, repeats removed; a mentioned member's hot
 * session remembers the newest mention until read. */
static void test_mentions(void **state)
{
    dom_fixture *f = *state;
    const char *carol[] = {"carol", NULL}, *bob2[] = {"bob", "bob", NULL}, *all[] = {"@all", NULL};
    const char *xavier[] = {"xavier", NULL}, *bad[] = {"not_an id", NULL};
    answer a = send_ext(f, PT_MSG_SINGLE_CHAT, "alice", "bob", "hi", 0, carol);
    assert_int_equal(a.code, OMTP_EC_PARAM); /* carol is not in alice-bob */
    assert_non_null(strstr(a.desc, "carol"));
    assert_int_equal(send_ext(f, PT_MSG_SINGLE_CHAT, "alice", "bob", "hi", 0, all).code,
                     OMTP_EC_PARAM);
    assert_int_equal(send_ext(f, PT_MSG_SINGLE_CHAT, "alice", "bob", "hi", 0, bad).code,
                     OMTP_EC_PARAM);
    a = send_ext(f, PT_MSG_SINGLE_CHAT, "alice", "bob", "hi bob", 0, bob2);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    char sid[160];
    snprintf(sid, sizeof sid, "%s", a.sid);
    assert_int_equal(mention_of(f, "bob", sid), a.seq);
    assert_int_equal(mention_of(f, "alice", sid), 0);
    hist h = {.sid = sid};
    assert_int_equal(dom_on_db(f, hist_work, &h), 0);
    assert_int_equal(hist_msg(&h, a.seq)->mentions.n, 1); /* deduplicated */
    omtp_msg_rec_list_free(&h.l);

    /* groups */
    a = send_ext(f, PT_MSG_GROUP_CHAT, "alice", "GC_r", "hey", 0, xavier);
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_non_null(strstr(a.desc, "not a member"));
    a = send_ext(f, PT_MSG_GROUP_CHAT, "bob", "GC_r", "everyone!", 0, all);
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_non_null(strstr(a.desc, "creator"));
    a = send_ext(f, PT_MSG_GROUP_CHAT, "bob", "GC_r", "carol?", 0, carol);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(mention_of(f, "carol", "GC_r"), a.seq);
    assert_int_equal(mention_of(f, "alice", "GC_r"), 0);
    a = send_ext(f, PT_MSG_GROUP_CHAT, "alice", "GC_r", "everyone", 0, all);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(mention_of(f, "bob", "GC_r"), a.seq);
    assert_int_equal(mention_of(f, "carol", "GC_r"), a.seq);
    assert_int_equal(mention_of(f, "alice", "GC_r"), 0); /* not the sender */
    /* reading up to it clears it */
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = "carol"};
    answer r = {0};
    assert_int_equal(omtp_dom_read(&f->srv, &who, "GC_r", a.seq, on_result, &r), 0);
    assert_true(dom_wait(f, &r.called));
    assert_int_equal(mention_of(f, "carol", "GC_r"), 0);
    assert_int_equal(mention_of(f, "bob", "GC_r"), a.seq);
}

/* Reactions: added once, removed once, aggregated oldest first; refused for
 * non-members, bad emoji, bad ops, unknown, revoked and deleted messages. */
static void test_reactions(void **state)
{
    dom_fixture *f = *state;
    answer a = say(f, "alice", "bob", "react to me");
    char sid[160];
    snprintf(sid, sizeof sid, "%s", a.sid);
    assert_int_equal(react(f, "bob", sid, 1, UP, strlen(UP), 1).code, OMTP_EC_SUCCESS);
    assert_int_equal(react(f, "alice", sid, 1, UP, strlen(UP), 1).code, OMTP_EC_SUCCESS);
    assert_int_equal(react(f, "alice", sid, 1, HEART, strlen(HEART), 1).code, OMTP_EC_SUCCESS);
    /* twice: PARAM, saying so */
    answer r = react(f, "bob", sid, 1, UP, strlen(UP), 1);
    assert_int_equal(r.code, OMTP_EC_PARAM);
    assert_non_null(strstr(r.desc, "already"));
    /* removing what one never added */
    r = react(f, "bob", sid, 1, HEART, strlen(HEART), 2);
    assert_int_equal(r.code, OMTP_EC_PARAM);
    /* someone else's session */
    r = react(f, "carol", sid, 1, UP, strlen(UP), 1);
    assert_int_equal(r.code, OMTP_EC_MSG_FORBIDDEN);
    assert_non_null(strstr(r.desc, "not a member"));
    /* bad emoji: not UTF-8, over 32 bytes, empty, a control character */
    assert_int_equal(react(f, "bob", sid, 1, "\xff\xfe", 2, 1).code, OMTP_EC_PARAM);
    assert_int_equal(react(f, "bob", sid, 1, "\xf0\x9f\x91", 3, 1).code, OMTP_EC_PARAM);
    assert_int_equal(react(f, "bob", sid, 1, "\xc0\xaf", 2, 1).code, OMTP_EC_PARAM);
    char big[34];
    memset(big, 'a', 33);
    big[33] = 0;
    assert_int_equal(react(f, "bob", sid, 1, big, 33, 1).code, OMTP_EC_PARAM);
    assert_int_equal(react(f, "bob", sid, 1, big, 32, 1).code, OMTP_EC_SUCCESS);
    assert_int_equal(react(f, "bob", sid, 1, "", 0, 1).code, OMTP_EC_PARAM);
    assert_int_equal(react(f, "bob", sid, 1, "a\nb", 3, 1).code, OMTP_EC_PARAM);
    /* bad op, unknown message */
    assert_int_equal(react(f, "bob", sid, 1, UP, strlen(UP), 3).code, OMTP_EC_PARAM);
    assert_int_equal(react(f, "bob", sid, 99, UP, strlen(UP), 1).code, OMTP_EC_MSG_NOT_EXIST);

    /* the aggregate: emoji in order of first reaction, users oldest first */
    hist h = {.sid = sid};
    assert_int_equal(dom_on_db(f, hist_work, &h), 0);
    const tars_strs_map *m = &hist_msg(&h, 1)->reactions;
    assert_int_equal(m->n, 3);
    assert_true(tars_str_eq(&m->keys[0], UP));
    assert_int_equal(m->vals[0].n, 2);
    assert_true(tars_str_eq(&m->vals[0].items[0], "bob"));
    assert_true(tars_str_eq(&m->vals[0].items[1], "alice"));
    assert_true(tars_str_eq(&m->keys[1], HEART));
    omtp_msg_rec_list_free(&h.l);

    /* remove, and it is gone from the aggregate */
    assert_int_equal(react(f, "bob", sid, 1, UP, strlen(UP), 2).code, OMTP_EC_SUCCESS);
    assert_int_equal(dom_on_db(f, hist_work, &h), 0);
    m = &hist_msg(&h, 1)->reactions;
    assert_int_equal(m->vals[0].n, 1);
    assert_true(tars_str_eq(&m->vals[0].items[0], "alice"));
    omtp_msg_rec_list_free(&h.l);

    /* a revoked message takes none and shows none */
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = "alice"};
    omtp_MsgControl ctl;
    omtp_msg_init(&omtp_MsgControl_desc, &ctl);
    ctl.command = MC_REVOKE;
    tars_str_set(&ctl.sessionId, sid);
    ctl.seqId = 1;
    answer c = {0};
    assert_int_equal(omtp_dom_msg_ctrl(&f->srv, &who, &ctl, on_result, &c), 0);
    assert_true(dom_wait(f, &c.called));
    assert_int_equal(c.code, OMTP_EC_SUCCESS);
    omtp_msg_free(&omtp_MsgControl_desc, &ctl);
    r = react(f, "bob", sid, 1, HEART, strlen(HEART), 1);
    assert_int_equal(r.code, OMTP_EC_PARAM);
    assert_non_null(strstr(r.desc, "revoked"));
    assert_int_equal(dom_on_db(f, hist_work, &h), 0);
    assert_int_equal(hist_msg(&h, 1)->reactions.n, 0);
    omtp_msg_rec_list_free(&h.l);
}

/* Distinct emoji per message are capped; existing ones still accept users. */
static void test_reaction_cap(void **state)
{
    dom_fixture *f = *state;
    answer a = say(f, "alice", "bob", "many");
    char sid[160];
    snprintf(sid, sizeof sid, "%s", a.sid);
    for (int i = 0; i < OMTP_LIMIT_REACTION_EMOJIS; i++) {
        char e[8];
        int n = snprintf(e, sizeof e, "e%d", i);
        assert_int_equal(react(f, "alice", sid, 1, e, (size_t)n, 1).code, OMTP_EC_SUCCESS);
    }
    answer r = react(f, "alice", sid, 1, UP, strlen(UP), 1);
    assert_int_equal(r.code, OMTP_EC_PARAM);
    assert_non_null(strstr(r.desc, "different emoji"));
    assert_int_equal(react(f, "bob", sid, 1, "e0", 2, 1).code, OMTP_EC_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mentions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reaction_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
