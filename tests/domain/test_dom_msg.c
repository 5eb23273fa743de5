/*
 * test_dom_msg.c - the message domain (domain/msg.h) called directly: a real
 * server core on a real libuv loop with a real SQLite store in a temporary
 * directory, and no client (nothing connects; pushes find no device). Each
 * test checks a result the entry points rely on and, through the store, what
 * was written.
 *
 * Callers: OMTP_DOM_USER (what an OMTP handler passes) and OMTP_DOM_API
 * (what the HTTP API passes); where they differ each is tested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/check_cache.h"
#include "domain/group_state.h"
#include "domain/msg.h"
#include "domain/msgpath.h"

typedef struct fx {
    char dir[64];
    char cmd[128];
    omtp_config cfg;
    omtp_server s;
} fx;

/* ------------------------------------------------------------ plumbing */

/* What a domain call answered (copied out of the borrowed result). */
typedef struct answer {
    bool called;
    int code, reason;
    char desc[256];
    bool stored, dup;
    int64_t seq;
    char sid[160];
} answer;

static void on_result(void *arg, const omtp_dom_result *res)
{
    answer *a = arg;
    assert_false(a->called); /* exactly once */
    a->called = true;
    a->code = res->code;
    a->reason = res->reason;
    snprintf(a->desc, sizeof a->desc, "%s", res->desc ? res->desc : "");
    a->dup = res->dup;
    a->seq = res->seq;
    if (res->stored) {
        a->stored = true;
        a->seq = res->stored->msg.seqId;
        snprintf(a->sid, sizeof a->sid, "%s", res->stored->msg.sessionId.data);
    }
}

static void run_until(fx *f, const bool *flag)
{
    for (int i = 0; !*flag && i < 100000; i++)
        uv_run(f->s.loop, UV_RUN_ONCE);
    assert_true(*flag);
}

/* A store work item run to completion (setup and inspection). */
typedef struct db_job {
    int (*fn)(omtp_db *db, void *arg);
    void *arg;
    bool done;
    int status;
} db_job;

static int db_job_work(omtp_db *db, void *arg)
{
    db_job *j = arg;
    return j->fn(db, j->arg);
}

static void db_job_done(void *arg, int status)
{
    db_job *j = arg;
    j->status = status;
    j->done = true;
}

static int on_db(fx *f, int (*fn)(omtp_db *, void *), void *arg)
{
    db_job j = {.fn = fn, .arg = arg};
    assert_int_equal(omtp_store_submit(f->s.store, db_job_work, db_job_done, &j), 0);
    run_until(f, &j.done);
    return j.status;
}

static int add_users_work(omtp_db *db, void *arg)
{
    (void)arg;
    const char *ids[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        omtp_user_rec u;
        memset(&u, 0, sizeof u);
        omtp_msg_init(&omtp_UserInfo_desc, &u.info);
        tars_str_set(&u.userId, ids[i]);
        tars_str_set(&u.pwHash, "");
        int rc = omtp_db_user_create(db, &u);
        tars_str_clear(&u.userId);
        tars_str_clear(&u.pwHash);
        omtp_msg_free(&omtp_UserInfo_desc, &u.info);
        if (rc)
            return rc;
    }
    return 0;
}

/* group GC_t: creator alice, member bob (carol is not one) */
static int add_group_work(omtp_db *db, void *arg)
{
    (void)arg;
    omtp_GroupChatInfo g;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    tars_str_set(&g.groupId, "GC_t");
    tars_str_set(&g.name, "t");
    tars_str_set(&g.creatorId, "alice");
    tars_str items[1] = {{(char *)"bob", 3}};
    tars_str_list members = {items, 1};
    int rc = omtp_db_group_create(db, &g, &members);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    return rc;
}

static int befriend_work(omtp_db *db, void *arg)
{
    (void)arg;
    int rc = omtp_db_friend_add(db, "alice", "bob", "");
    return rc ? rc : omtp_db_friend_add(db, "bob", "alice", "");
}

static void groups_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_groups_close(s);
}

/* What of omtpd's wiring (src/omtpd/wiring.c) the domain needs here: the
 * group member cache, closed with the server. No listeners' handlers. */
static int msgpath_start(omtp_server *s, char *why, size_t whylen)
{
    return omtp_msgpath_start(s, why, whylen); /* nothing when message_log is false */
}

static void msgpath_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_stop(s);
}

static void after_store(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_close(s);
    omtp_cc_close(s);
}

static const omtp_server_part parts[] = {
    {.name = "message log",
     .start_at = OMTP_START_STORE,
     .start = msgpath_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = msgpath_stop,
     .free = omtp_msgpath_close},
    {.name = "group state",
     .start_at = OMTP_START_LAST,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = groups_stop},
    {.name = "message log close", .stop_at = OMTP_STOP_AFTER_STORE, .stop = after_store},
};

/* Starts the core with max_content = `limit` and the users and group. */
static fx *fx_start(unsigned limit, bool friends_only)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/omtp-dom-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    omtp_config_defaults(&f->cfg);
    snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->dir);
    snprintf(f->cfg.listen, sizeof f->cfg.listen, "127.0.0.1:0");
    f->cfg.log_level = omtp_config_parse_level("warn");
    f->cfg.max_content = limit;
    f->cfg.friends_only = friends_only;
    /* both send paths run these tests: the store transaction per message
     * (test_dom_msg) and the message log (test_dom_msg_on_log, ctest sets
     * OMTP_DOM_MESSAGE_LOG=1) */
    f->cfg.message_log = getenv("OMTP_DOM_MESSAGE_LOG") != NULL;
    char why[512] = "";
    int rc = omtp_server_init(&f->s, uv_default_loop(), &f->cfg, parts,
                              sizeof(parts) / sizeof(parts[0]), why, sizeof why);
    if (rc)
        fail_msg("omtp_server_init: %s", why);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    assert_int_equal(on_db(f, add_group_work, NULL), 0);
    return f;
}

static void fx_stop(fx *f)
{
    omtp_server_stop(&f->s);
    omtp_server_run(&f->s);
    omtp_server_free(&f->s);
    snprintf(f->cmd, sizeof f->cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(f->cmd), 0);
    free(f);
}

static const omtp_dom_caller API = {.role = OMTP_DOM_API};

static omtp_dom_caller user(const char *id)
{
    return (omtp_dom_caller){.role = OMTP_DOM_USER, .user = id};
}

/* A message record borrowing its strings (the domain copies them). */
static omtp_msg_rec msg(const char *from, const char *to, const char *content, const char *packId)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.packId = (tars_str){(char *)packId, (uint32_t)strlen(packId)};
    m.msg.from = (tars_str){(char *)from, (uint32_t)strlen(from)};
    m.msg.to = (tars_str){(char *)to, (uint32_t)strlen(to)};
    m.msg.content = (tars_str){(char *)content, (uint32_t)strlen(content)};
    return m;
}

typedef int (*send_fn)(omtp_server *, const omtp_dom_caller *, const omtp_msg_rec *,
                       omtp_dom_done_fn, void *);

static answer send_as(fx *f, send_fn fn, omtp_dom_caller who, const char *from, const char *to,
                      const char *content, const char *packId)
{
    answer a = {0};
    omtp_msg_rec m = msg(from, to, content, packId);
    assert_int_equal(fn(&f->s, &who, &m, on_result, &a), 0);
    run_until(f, &a.called);
    return a;
}

typedef struct got_msg {
    const char *sid;
    int64_t seq;
    omtp_msg_rec rec;
} got_msg;

static int get_msg_work(omtp_db *db, void *arg)
{
    got_msg *g = arg;
    return omtp_db_msg_get(db, g->sid, g->seq, &g->rec);
}

/* ----------------------------------------------------------------- tests */

/* A single chat from the API is stored under the canonical session, counted,
 * and a resend with the same packId is a duplicate, not a second message. */
static void test_single_from_api_stored_once(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    answer a = send_as(f, omtp_dom_send_single, API, "alice", "bob", "hello", "p1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_true(a.stored);
    assert_false(a.dup);
    assert_int_equal(a.seq, 1);
    char sid[160];
    assert_int_equal(omtp_session_single("alice", "bob", sid, sizeof sid), 0);
    assert_string_equal(a.sid, sid);

    got_msg g = {.sid = sid, .seq = 1};
    omtp_msg_rec_init(&g.rec);
    assert_int_equal(on_db(f, get_msg_work, &g), 0);
    assert_string_equal(g.rec.msg.content.data, "hello");
    assert_string_equal(g.rec.msg.from.data, "alice");
    omtp_msg_rec_free(&g.rec);

    answer again = send_as(f, omtp_dom_send_single, API, "alice", "bob", "hello", "p1");
    assert_int_equal(again.code, OMTP_EC_SUCCESS);
    assert_true(again.dup);
    assert_int_equal(again.seq, 1);
    answer other = send_as(f, omtp_dom_send_single, API, "alice", "bob", "changed", "p1");
    assert_int_equal(other.code, OMTP_EC_MSG_REPEATED);
    assert_false(other.stored);
    assert_int_equal(f->s.metrics.msgs_stored, 1);
    assert_int_equal(f->s.metrics.msgs_dup, 1);
    fx_stop(f);
}

/* A user sends as itself only; the API sends as the `from` it names. */
static void test_user_sends_as_itself(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    answer a = send_as(f, omtp_dom_send_single, user("bob"), "alice", "carol", "x", "p1");
    assert_int_equal(a.code, OMTP_EC_MSG_FORBIDDEN);
    assert_non_null(strstr(a.desc, "not the logged-in user"));
    a = send_as(f, omtp_dom_send_single, user("bob"), "", "carol", "x", "p2");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    char sid[160];
    assert_int_equal(omtp_session_single("bob", "carol", sid, sizeof sid), 0);
    assert_string_equal(a.sid, sid);
    a = send_as(f, omtp_dom_send_single, user("bob"), "bob", "ghost", "x", "p3");
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_int_equal(a.reason, OMTP_DOM_UNKNOWN_RECIPIENT);
    assert_non_null(strstr(a.desc, "does not exist"));
    /* the API names its sender, which must be a user */
    a = send_as(f, omtp_dom_send_single, API, "ghost", "bob", "x", "p4");
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_int_equal(a.reason, OMTP_DOM_UNKNOWN_SENDER);
    a = send_as(f, omtp_dom_send_group, API, "ghost", "GC_t", "x", "p5");
    assert_int_equal(a.reason, OMTP_DOM_UNKNOWN_SENDER);
    assert_int_equal(f->s.metrics.msgs_stored, 1);
    fx_stop(f);
}

/* Business notices: from the API (an appId), never from a user. */
static void test_biz_only_from_backend(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    answer a = send_as(f, omtp_dom_send_biz, user("alice"), "alice", "bob", "x", "n1");
    assert_int_equal(a.code, OMTP_EC_MSG_FORBIDDEN);
    a = send_as(f, omtp_dom_send_biz, API, "shop", "bob", "order shipped", "n1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    char sid[160];
    assert_int_equal(omtp_session_biz("shop", "bob", sid, sizeof sid), 0);
    assert_string_equal(a.sid, sid);
    fx_stop(f);
}

/* The one size rule: with max_content = 0 (the frame's limit once the core
 * starts, ~1 MiB) an 80 KiB group message passes, from a user as from the API
 * (the OMTP copy used to cap it at 64 KiB). */
static void test_group_unlimited_for_every_caller(void **st)
{
    (void)st;
    fx *f = fx_start(0, false);
    size_t n = 80 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'g', n);
    big[n] = 0;
    answer a = send_as(f, omtp_dom_send_group, user("alice"), "", "GC_t", big, "g1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_string_equal(a.sid, "GC_t");
    a = send_as(f, omtp_dom_send_group, API, "bob", "GC_t", big, "g2");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 2);
    a = send_as(f, omtp_dom_send_group, API, "bob", "GC_t", "", "g3");
    assert_int_equal(a.code, OMTP_EC_MSG_TOO_SHORT);
    free(big);
    fx_stop(f);
}

/* ... and with a limit, the same limit for both callers and both kinds. */
static void test_limit_same_for_every_caller(void **st)
{
    (void)st;
    fx *f = fx_start(10, false);
    const char *ten = "0123456789", *eleven = "0123456789a";
    assert_int_equal(send_as(f, omtp_dom_send_group, user("alice"), "", "GC_t", ten, "a").code, 0);
    assert_int_equal(send_as(f, omtp_dom_send_group, API, "alice", "GC_t", ten, "b").code, 0);
    assert_int_equal(send_as(f, omtp_dom_send_group, user("alice"), "", "GC_t", eleven, "c").code,
                     OMTP_EC_MSG_TOO_LONG);
    assert_int_equal(send_as(f, omtp_dom_send_group, API, "alice", "GC_t", eleven, "d").code,
                     OMTP_EC_MSG_TOO_LONG);
    assert_int_equal(send_as(f, omtp_dom_send_single, API, "alice", "bob", eleven, "e").code,
                     OMTP_EC_MSG_TOO_LONG);
    fx_stop(f);
}

/* Group sends need a live group and a member, whoever calls. */
static void test_group_membership(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    answer a = send_as(f, omtp_dom_send_group, user("carol"), "", "GC_t", "x", "m1");
    assert_int_equal(a.code, OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(a.reason, OMTP_DOM_NOT_MEMBER);
    a = send_as(f, omtp_dom_send_group, API, "carol", "GC_t", "x", "m2");
    assert_int_equal(a.code, OMTP_EC_GROUP_NO_PRIVILEGE);
    a = send_as(f, omtp_dom_send_group, API, "alice", "GC_none", "x", "m3");
    assert_int_equal(a.code, OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(a.reason, OMTP_DOM_UNKNOWN_GROUP);
    a = send_as(f, omtp_dom_send_group, user("bob"), "", "", "x", "m4");
    assert_int_equal(a.code, OMTP_EC_GROUP_ID_EMPTY);
    assert_int_equal(f->s.metrics.msgs_stored, 0);
    fx_stop(f);
}

/* friends_only holds for users and for the API alike. */
static void test_friends_only(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, true);
    assert_int_equal(send_as(f, omtp_dom_send_single, user("alice"), "", "bob", "x", "f1").code,
                     OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(send_as(f, omtp_dom_send_single, API, "alice", "bob", "x", "f2").code,
                     OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(on_db(f, befriend_work, NULL), 0);
    /* written beside the domain (friend.c invalidates): the check cache
     * forgets the pair as friend.c would make it */
    omtp_cc_invalidate_friends(&f->s, "alice", "bob");
    assert_int_equal(send_as(f, omtp_dom_send_single, user("alice"), "", "bob", "x", "f3").code, 0);
    fx_stop(f);
}

static answer ctrl(fx *f, const char *who, int command, const char *sid, int64_t seq,
                   const char *content)
{
    omtp_MsgControl c;
    omtp_msg_init(&omtp_MsgControl_desc, &c);
    c.command = command;
    c.seqId = seq;
    tars_str_set(&c.sessionId, sid);
    if (content)
        tars_str_set(&c.content, content);
    answer a = {0};
    omtp_dom_caller u = user(who);
    assert_int_equal(omtp_dom_msg_ctrl(&f->s, &u, &c, on_result, &a), 0);
    omtp_msg_free(&omtp_MsgControl_desc, &c);
    run_until(f, &a.called);
    return a;
}

/* Revoke and edit: the sender (or a group's creator) only; the store shows it. */
static void test_ctrl_authority(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    answer s1 = send_as(f, omtp_dom_send_group, user("bob"), "", "GC_t", "oops", "c1");
    assert_int_equal(s1.code, 0);
    answer a = ctrl(f, "carol", MC_REVOKE, "GC_t", s1.seq, NULL);
    assert_int_equal(a.code, OMTP_EC_MSG_FORBIDDEN); /* not part of the group */
    a = ctrl(f, "bob", 9, "GC_t", s1.seq, NULL);
    assert_int_equal(a.code, OMTP_EC_MSG_OP_CMD);
    a = ctrl(f, "bob", MC_OVERRIDE, "GC_t", s1.seq, "fixed");
    assert_int_equal(a.code, 0);
    a = ctrl(f, "alice", MC_REVOKE, "GC_t", s1.seq, NULL); /* the creator may */
    assert_int_equal(a.code, 0);
    a = ctrl(f, "bob", MC_OVERRIDE, "GC_t", s1.seq, "again");
    assert_int_equal(a.code, OMTP_EC_MSG_OP_CMD); /* revoked: no edit */
    got_msg g = {.sid = "GC_t", .seq = s1.seq};
    omtp_msg_rec_init(&g.rec);
    assert_int_equal(on_db(f, get_msg_work, &g), 0);
    assert_int_equal(g.rec.msg.status, MC_REVOKE);
    omtp_msg_rec_free(&g.rec);
    a = ctrl(f, "bob", MC_DELETE, "GC_t", 99, NULL);
    assert_int_equal(a.code, OMTP_EC_MSG_NOT_EXIST);
    fx_stop(f);
}

/* Read cursors: members only, never backwards. */
static void test_read_cursor(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    for (int i = 0; i < 3; i++) {
        char p[8];
        snprintf(p, sizeof p, "r%d", i);
        assert_int_equal(send_as(f, omtp_dom_send_group, user("bob"), "", "GC_t", "x", p).code, 0);
    }
    answer a = {0};
    omtp_dom_caller alice = user("alice"), carol = user("carol");
    assert_int_equal(omtp_dom_read(&f->s, &alice, "GC_t", 3, on_result, &a), 0);
    run_until(f, &a.called);
    assert_int_equal(a.code, 0);
    assert_int_equal(a.seq, 3);
    a = (answer){0};
    assert_int_equal(omtp_dom_read(&f->s, &alice, "GC_t", 1, on_result, &a), 0);
    run_until(f, &a.called);
    assert_int_equal(a.code, 0);
    assert_int_equal(a.seq, 3); /* not backwards */
    a = (answer){0};
    assert_int_equal(omtp_dom_read(&f->s, &carol, "GC_t", 3, on_result, &a), 0);
    run_until(f, &a.called);
    assert_int_equal(a.code, OMTP_EC_HISTORYMSG_DENY);
    fx_stop(f);
}

/* A fake business backend in s->msg_hooks: what it was asked and told. */
static struct {
    int asked, told;
    char told_to[64];
    bool refuse;
} hk;

/* the refusal comes later, from the loop, as the webhook's does */
static uv_timer_t hk_timer;
static omtp_dom_verdict_fn hk_verdict;
static void *hk_arg;

static void hk_fire(uv_timer_t *t)
{
    (void)t;
    hk_verdict(hk_arg, OMTP_EC_SENSI_MATCH, "refused by the fake backend");
}

static bool fake_before_send(omtp_server *s, const omtp_msg_rec *m, omtp_dom_verdict_fn verdict,
                             void *arg)
{
    (void)m;
    hk.asked++;
    if (!hk.refuse)
        return false; /* let it through now */
    hk_verdict = verdict;
    hk_arg = arg;
    uv_timer_init(s->loop, &hk_timer);
    uv_timer_start(&hk_timer, hk_fire, 0, 0);
    return true;
}

static void fake_stored(omtp_server *s, const omtp_msg_rec *m, const tars_str_list *to)
{
    (void)s;
    (void)m;
    hk.told++;
    snprintf(hk.told_to, sizeof hk.told_to, "%s", to->n ? to->items[0].data : "");
}

/* The before-send hook is asked for what a user sends, not for what the
 * backend itself sends through the API; the offline-push hook is told of
 * every stored message with its recipients, whoever sent it. */
static void test_hooks_by_caller(void **st)
{
    (void)st;
    fx *f = fx_start(64 * 1024, false);
    static const struct omtp_msg_hooks fake = {.before_send = fake_before_send,
                                               .stored = fake_stored};
    f->s.msg_hooks = &fake;
    memset(&hk, 0, sizeof hk);
    assert_int_equal(send_as(f, omtp_dom_send_single, user("alice"), "", "bob", "x", "h1").code, 0);
    assert_int_equal(hk.asked, 1);
    assert_int_equal(hk.told, 1);
    assert_string_equal(hk.told_to, "bob");
    assert_int_equal(send_as(f, omtp_dom_send_single, API, "alice", "carol", "x", "h2").code, 0);
    assert_int_equal(hk.asked, 1); /* not asked for the API */
    assert_int_equal(hk.told, 2);
    assert_string_equal(hk.told_to, "carol");
    hk.refuse = true;
    answer a = send_as(f, omtp_dom_send_group, user("bob"), "", "GC_t", "x", "h3");
    assert_int_equal(a.code, OMTP_EC_SENSI_MATCH);
    assert_false(a.stored);
    assert_int_equal(hk.told, 2); /* refused: nothing stored, nobody told */
    assert_int_equal(f->s.metrics.msgs_stored, 2);
    uv_close((uv_handle_t *)&hk_timer, NULL);
    f->s.msg_hooks = NULL;
    fx_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_from_api_stored_once),
        cmocka_unit_test(test_user_sends_as_itself),
        cmocka_unit_test(test_biz_only_from_backend),
        cmocka_unit_test(test_group_unlimited_for_every_caller),
        cmocka_unit_test(test_limit_same_for_every_caller),
        cmocka_unit_test(test_group_membership),
        cmocka_unit_test(test_friends_only),
        cmocka_unit_test(test_ctrl_authority),
        cmocka_unit_test(test_read_cursor),
        cmocka_unit_test(test_hooks_by_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
