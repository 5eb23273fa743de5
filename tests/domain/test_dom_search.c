/*
 * test_dom_search.c - full-text search (domain/search.h) against a real
 * SQLite store: what the index finds (Chinese by substring, media file
 * names, edited text), what it never finds (revoked, deleted, other
 * people's sessions), paging, and every refusal of bad input (empty, too
 * short, 10 KB, not UTF-8, search operators taken literally).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dom_fixture.h"
#include "domain/search.h"

static const char *const users[] = {"alice", "bob", "carol", "dave", NULL};

/* ------------------------------------------------------------ plumbing */

typedef struct found {
    bool called;
    int code;
    char reason[32];
    char desc[320];
    int n;
    int64_t seq[128];
    int64_t ts[128];
    char sid[128][64];
    char content[128][128];
} found;

static void on_found(void *arg, const omtp_dom_outcome *res, omtp_msg_rec_list *out)
{
    found *f = arg;
    assert_false(f->called);
    f->called = true;
    f->code = res->code;
    snprintf(f->reason, sizeof f->reason, "%s", res->reason ? res->reason : "");
    snprintf(f->desc, sizeof f->desc, "%s", res->desc);
    for (uint32_t i = 0; i < out->n && i < 128; i++) {
        f->seq[i] = out->items[i].msg.seqId;
        f->ts[i] = out->items[i].msg.timestamp;
        snprintf(f->sid[i], sizeof f->sid[i], "%s", out->items[i].msg.sessionId.data);
        snprintf(f->content[i], sizeof f->content[i], "%s", out->items[i].msg.content.data);
        f->n++;
    }
}

static found *search(dom_fixture *fx, const char *user, const char *q, size_t qlen, const char *sid,
                     int64_t before, int count)
{
    static found f;
    memset(&f, 0, sizeof f);
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = user};
    omtp_dom_search_req r = {.query = q,
                             .queryLen = qlen == (size_t)-1 ? strlen(q) : qlen,
                             .sessionId = sid,
                             .beforeMs = before,
                             .count = count};
    omtp_dom_search(&fx->srv, &who, &r, on_found, &f);
    assert_true(dom_wait(fx, &f.called));
    return &f;
}

#define S(fx, user, q) search(fx, user, q, (size_t)-1, NULL, 0, 0)

typedef struct db_call {
    int (*fn)(omtp_db *db, void *arg);
    void *arg;
    bool done;
    int status;
} db_call;

static int db_call_work(omtp_db *db, void *arg)
{
    db_call *c = arg;
    return c->fn(db, c->arg);
}
static void db_call_done(void *arg, int status)
{
    db_call *c = arg;
    c->status = status;
    c->done = true;
}
static int on_db(dom_fixture *fx, int (*fn)(omtp_db *, void *), void *arg)
{
    db_call c = {.fn = fn, .arg = arg};
    assert_int_equal(omtp_store_submit(fx->srv.store, db_call_work, db_call_done, &c), 0);
    assert_true(dom_wait(fx, &c.done));
    return c.status;
}

typedef struct put {
    const char *from, *to, *sid;
    int type, ct;
    const char *content;
    int64_t seq; /* out */
} put;

static int put_work(omtp_db *db, void *arg)
{
    put *p = arg;
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = p->type ? p->type : PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.msg.sessionId, p->sid);
    tars_str_set(&m.msg.from, p->from);
    tars_str_set(&m.msg.to, p->to);
    tars_str_set(&m.msg.content, p->content);
    m.msg.contentType = p->ct;
    bool dup = false;
    int rc = omtp_db_msg_append(db, &m, &dup);
    p->seq = m.msg.seqId;
    omtp_msg_rec_free(&m);
    return rc;
}

/* Stores a single chat a -> b (session SC_<lo>_<hi>); returns its seqId. */
static int64_t say(dom_fixture *fx, const char *a, const char *b, int ct, const char *text)
{
    char sid[128];
    snprintf(sid, sizeof sid, "SC_%s_%s", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
    put p = {.from = a, .to = b, .sid = sid, .ct = ct, .content = text};
    assert_int_equal(on_db(fx, put_work, &p), 0);
    return p.seq;
}

typedef struct ctl {
    const char *sid;
    int64_t seq;
    int cmd;
    const char *content;
} ctl;
static int ctl_work(omtp_db *db, void *arg)
{
    ctl *c = arg;
    return omtp_db_msg_control(db, c->sid, c->seq, c->cmd, c->content);
}

static int group_work(omtp_db *db, void *arg)
{
    (void)arg;
    omtp_GroupChatInfo g;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    tars_str_set(&g.groupId, "GC_s");
    tars_str_set(&g.name, "s");
    tars_str_set(&g.creatorId, "alice");
    tars_str items[1] = {{(char *)"carol", 5}};
    tars_str_list members = {items, 1};
    int rc = omtp_db_group_create(db, &g, &members);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    return rc;
}

/* ---------------------------------------------------------------- tests */

static void test_finds_substrings_newest_first(void **state)
{
    (void)state;
    dom_fixture *fx = dom_start(users);
    assert_non_null(fx);
    say(fx, "alice", "bob", 1, "我们明天去北京开会吧");
    say(fx, "bob", "alice", 1, "Meeting in Beijing tomorrow");
    say(fx, "alice", "bob", 7, "{\"fileId\":\"f1\",\"name\":\"北京会议纪要.pdf\",\"size\":10}");
    say(fx, "alice", "bob", 7, "{\"fileId\":\"f2\",\"size\":10}"); /* no name: not indexed */
    found *f = S(fx, "alice", "北京开");
    assert_int_equal(f->code, 0);
    assert_int_equal(f->n, 1);
    assert_string_equal(f->content[0], "我们明天去北京开会吧");
    f = S(fx, "bob", "北京会议");
    assert_int_equal(f->n, 1); /* the media message's file name */
    assert_int_equal(f->seq[0], 3);
    f = S(fx, "bob", "beijing"); /* ASCII case-insensitive */
    assert_int_equal(f->n, 1);
    f = S(fx, "alice", "北京"); /* 2 characters: refused, not a scan */
    assert_int_equal(f->code, OMTP_EC_PARAM);
    assert_non_null(strstr(f->desc, "too short"));
    /* newest first: "北京" inside both, query of 3 chars each */
    say(fx, "alice", "bob", 1, "再说一次北京见");
    f = S(fx, "alice", "北京见");
    assert_int_equal(f->n, 1);
    f = search(fx, "alice", "fileId", (size_t)-1, NULL, 0, 0); /* the JSON is not the text */
    assert_int_equal(f->n, 0);
    dom_stop(fx);
}

static void test_revoked_deleted_edited(void **state)
{
    (void)state;
    dom_fixture *fx = dom_start(users);
    assert_non_null(fx);
    int64_t a = say(fx, "alice", "bob", 1, "secret plan alpha");
    int64_t b = say(fx, "alice", "bob", 1, "secret plan beta");
    int64_t c = say(fx, "alice", "bob", 1, "secret plan gamma");
    assert_int_equal(S(fx, "bob", "secret plan")->n, 3);
    ctl r = {"SC_alice_bob", a, MC_REVOKE, NULL};
    assert_int_equal(on_db(fx, ctl_work, &r), 0);
    ctl d = {"SC_alice_bob", b, MC_DELETE, NULL};
    assert_int_equal(on_db(fx, ctl_work, &d), 0);
    ctl e = {"SC_alice_bob", c, MC_OVERRIDE, "public lunch menu"};
    assert_int_equal(on_db(fx, ctl_work, &e), 0);
    assert_int_equal(S(fx, "bob", "secret plan")->n, 0);
    assert_int_equal(S(fx, "alice", "alpha")->n, 0);
    assert_int_equal(S(fx, "alice", "beta")->n, 0);
    found *f = S(fx, "bob", "lunch menu");
    assert_int_equal(f->n, 1);
    assert_int_equal(f->seq[0], c);
    assert_string_equal(f->content[0], "public lunch menu");
    /* a second edit moves the index again */
    ctl e2 = {"SC_alice_bob", c, MC_OVERRIDE, "dinner menu"};
    assert_int_equal(on_db(fx, ctl_work, &e2), 0);
    assert_int_equal(S(fx, "bob", "lunch")->n, 0);
    assert_int_equal(S(fx, "bob", "dinner")->n, 1);
    dom_stop(fx);
}

static void test_only_own_sessions(void **state)
{
    (void)state;
    dom_fixture *fx = dom_start(users);
    assert_non_null(fx);
    assert_int_equal(on_db(fx, group_work, NULL), 0);
    say(fx, "alice", "bob", 1, "password is hunter2");
    say(fx, "carol", "dave", 1, "password is swordfish");
    put g = {.from = "alice",
             .to = "GC_s",
             .sid = "GC_s",
             .type = PT_MSG_GROUP_CHAT,
             .ct = 1,
             .content = "group password is opensesame"};
    assert_int_equal(on_db(fx, put_work, &g), 0);
    found *f = S(fx, "alice", "password");
    assert_int_equal(f->n, 2); /* her chat with bob and her group */
    assert_string_equal(f->sid[0], "GC_s");
    assert_string_equal(f->sid[1], "SC_alice_bob");
    f = S(fx, "carol", "password");
    assert_int_equal(f->n, 2); /* her chat with dave and the group */
    f = S(fx, "bob", "password");
    assert_int_equal(f->n, 1);
    assert_string_equal(f->content[0], "password is hunter2");
    /* naming someone else's session is refused as history is */
    f = search(fx, "bob", "password", (size_t)-1, "SC_carol_dave", 0, 0);
    assert_int_equal(f->code, OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(f->n, 0);
    f = search(fx, "alice", "password", (size_t)-1, "SC_alice_bob", 0, 0);
    assert_int_equal(f->code, 0);
    assert_int_equal(f->n, 1);
    dom_stop(fx);
}

static void test_paging(void **state)
{
    (void)state;
    dom_fixture *fx = dom_start(users);
    assert_non_null(fx);
    char text[64];
    for (int i = 0; i < 25; i++) {
        snprintf(text, sizeof text, "report number %d", i);
        say(fx, "alice", "bob", 1, text);
        usleep(2000); /* distinct millisecond timestamps: paging is by timestamp */
    }
    found *f = search(fx, "alice", "report", (size_t)-1, NULL, 0, 10);
    assert_int_equal(f->n, 10);
    assert_string_equal(f->content[0], "report number 24");
    int seen = f->n;
    int64_t last = f->ts[f->n - 1];
    for (int i = 1; i < f->n; i++)
        assert_true(f->ts[i] <= f->ts[i - 1]);
    while (seen < 25) {
        f = search(fx, "alice", "report", (size_t)-1, NULL, last, 10);
        assert_int_equal(f->code, 0);
        assert_true(f->n > 0);
        assert_true(f->ts[0] < last);
        seen += f->n;
        last = f->ts[f->n - 1];
    }
    assert_int_equal(seen, 25);
    assert_int_equal(search(fx, "alice", "report", (size_t)-1, NULL, last, 10)->n, 0);
    assert_int_equal(search(fx, "alice", "report", (size_t)-1, NULL, 0, 101)->code, OMTP_EC_PARAM);
    assert_int_equal(search(fx, "alice", "report", (size_t)-1, NULL, 0, -1)->code, OMTP_EC_PARAM);
    dom_stop(fx);
}

static void test_bad_input(void **state)
{
    (void)state;
    dom_fixture *fx = dom_start(users);
    assert_non_null(fx);
    say(fx, "alice", "bob", 1, "say \"hi\" * NEAR(x y) -z a:b OR c");
    found *f = S(fx, "alice", "");
    assert_int_equal(f->code, OMTP_EC_PARAM);
    assert_non_null(strstr(f->desc, "empty"));
    char *big = malloc(10241);
    memset(big, 'a', 10240);
    big[10240] = '\0';
    f = S(fx, "alice", big);
    assert_int_equal(f->code, OMTP_EC_PARAM);
    assert_non_null(strstr(f->desc, "at most 256"));
    free(big);
    f = S(fx, "alice", "\xff\xfe\xfd\xfc");
    assert_int_equal(f->code, OMTP_EC_PARAM);
    assert_non_null(strstr(f->desc, "UTF-8"));
    f = search(fx, "alice", "abc\0def", 7, NULL, 0, 0);
    assert_int_equal(f->code, OMTP_EC_PARAM);
    /* operators are text: each either finds the message literally or nothing, never an
     * engine error */
    static const char *const ops[] = {"\"hi\"",    "* NEAR", "NEAR(x y)", "-z a:b",   "OR c",
                                      "\"\"\"",    "***",    "AND",       "body:say", "(((",
                                      "NOT NEAR(", "^say",   "a:b",       NULL};
    for (const char *const *q = ops; *q; q++) {
        f = S(fx, "alice", *q);
        assert_int_equal(f->code, 0);
        bool literal = strstr("say \"hi\" * NEAR(x y) -z a:b OR c", *q) != NULL;
        assert_int_equal(f->n, literal ? 1 : 0);
    }
    dom_stop(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_substrings_newest_first),
        cmocka_unit_test(test_revoked_deleted_edited),
        cmocka_unit_test(test_only_own_sessions),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
