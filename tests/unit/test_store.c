/*
 * test_store.c - the storage contract of store.h, backend-agnostic.
 *
 * omtp_store_suite() runs every test against the backend a config selects:
 * SQLite in a fresh temporary directory always, and PostgreSQL as well when
 * OMTP_TEST_PG_URI is set. Tests never assume an empty database: each test
 * makes its ids unique with a per-test prefix, so the suite can run against
 * a shared server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/omtp_proto.h"
#include "store/store.h"

static omtp_store_config g_cfg;
static unsigned g_serial;
static char g_run[24];

typedef struct fx {
    omtp_db *db;
    char p[48]; /* unique prefix of this test's ids */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char why[256];
    if (omtp_db_open(&g_cfg, &f->db, why, sizeof(why)) != 0) {
        fprintf(stderr, "open: %s\n", why);
        free(f);
        return -1;
    }
    snprintf(f->p, sizeof(f->p), "%s%u", g_run, ++g_serial);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    omtp_db_close(f->db);
    free(f);
    return 0;
}

/* An id unique to the test: "<prefix>_<name>"; rotating static buffers. */
static const char *id(fx *f, const char *name)
{
    static char bufs[256][OMTP_ID_MAX];
    static int k;
    char *b = bufs[k++ % 256];
    snprintf(b, OMTP_ID_MAX, "%s_%s", f->p, name);
    return b;
}

static void strs_set(tars_str_list *l, int n, const char *const *v)
{
    l->items = calloc((size_t)n + 1, sizeof(tars_str));
    l->n = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        tars_str_clear(&l->items[i]);
        assert_int_equal(tars_str_set(&l->items[i], v[i]), 0);
    }
}

__attribute__((unused)) static bool strs_has(const tars_str_list *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (tars_str_eq(&l->items[i], s))
            return true;
    return false;
}

/* ---------------------------------------------------------- meta, users */

static void test_meta(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    tars_str v;
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), OMTP_ENOTFOUND);
    assert_int_equal(v.len, 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "k"), "one"), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), 0);
    assert_string_equal(v.data, "one");
    tars_str_clear(&v);
    assert_int_equal(omtp_db_meta_set(db, id(f, "k"), "two"), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), 0);
    assert_string_equal(v.data, "two");
    assert_int_equal(v.len, 3);
    tars_str_clear(&v);
}

static void mk_user(fx *f, const char *name, const char *pw)
{
    omtp_user_rec u;
    omtp_user_rec_init(&u);
    tars_str_set(&u.userId, id(f, name));
    tars_str_set(&u.pwHash, pw);
    tars_str_set(&u.info.name, name);
    assert_int_equal(omtp_db_user_create(f->db, &u), 0);
    omtp_user_rec_free(&u);
}

static void test_users(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    omtp_user_rec u, got;
    omtp_user_rec_init(&u);
    omtp_user_rec_init(&got);
    tars_str_set(&u.userId, id(f, "alice"));
    tars_str_set(&u.pwHash, "$kdf$alice");
    tars_str_set(&u.info.name, "Alice");
    tars_str_set(&u.info.avator, "http://a/x.png");
    tars_str_set(&u.info.mobile, "123");
    u.info.birthday = 19900101;
    assert_int_equal(omtp_db_user_create(db, &u), 0);
    assert_int_equal(omtp_db_user_create(db, &u), OMTP_EEXIST);

    assert_int_equal(omtp_db_user_get(db, id(f, "nobody"), &got), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "alice"), &got), 0);
    assert_string_equal(got.userId.data, id(f, "alice"));
    assert_string_equal(got.info.userId.data, id(f, "alice"));
    assert_string_equal(got.pwHash.data, "$kdf$alice");
    assert_int_equal(got.role, OMTP_ROLE_USER);
    assert_string_equal(got.info.name.data, "Alice");
    assert_string_equal(got.info.avator.data, "http://a/x.png");
    assert_string_equal(got.info.mobile.data, "123");
    assert_int_equal(got.info.birthday, 19900101);
    assert_true(got.createdMs > 1600000000000LL);
    omtp_user_rec_free(&got);

    assert_int_equal(omtp_db_user_set_password(db, id(f, "alice"), "$kdf$new"), 0);
    assert_int_equal(omtp_db_user_set_password(db, id(f, "nobody"), "x"), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_set_role(db, id(f, "alice"), OMTP_ROLE_MONITOR), 0);
    assert_int_equal(omtp_db_user_set_role(db, id(f, "nobody"), 1), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "alice"), &got), 0);
    assert_string_equal(got.pwHash.data, "$kdf$new");
    assert_int_equal(got.role, OMTP_ROLE_MONITOR);
    omtp_user_rec_free(&got);

    mk_user(f, "bob", "");
    omtp_user_rec_list l = {0};
    assert_int_equal(omtp_db_user_list(db, &l), 0);
    int seen = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        if (tars_str_eq(&l.items[i].userId, id(f, "alice")) ||
            tars_str_eq(&l.items[i].userId, id(f, "bob")))
            seen++;
        if (i)
            assert_true(strcmp(l.items[i - 1].userId.data, l.items[i].userId.data) < 0);
    }
    assert_int_equal(seen, 2);
    omtp_user_rec_list_free(&l);

    assert_int_equal(omtp_db_user_delete(db, id(f, "bob")), 0);
    assert_int_equal(omtp_db_user_delete(db, id(f, "bob")), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "bob"), &got), OMTP_ENOTFOUND);
    omtp_user_rec_free(&u);
}

static void test_user_info(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    mk_user(f, "a", "");
    mk_user(f, "b", "");
    omtp_UserInfo info;
    tars_init(&omtp_UserInfo_desc, &info);
    tars_str_set(&info.userId, id(f, "b"));
    tars_str_set(&info.name, "Bee");
    tars_str_set(&info.avator, "av");
    tars_str_set(&info.mobile, "555");
    info.birthday = 7;
    assert_int_equal(omtp_db_user_info_update(db, &info), 0);
    tars_str_set(&info.userId, id(f, "ghost"));
    assert_int_equal(omtp_db_user_info_update(db, &info), OMTP_ENOTFOUND);
    tars_free(&omtp_UserInfo_desc, &info);

    const char *ids[] = {id(f, "b"), id(f, "ghost"), id(f, "a")};
    tars_str_list want = {0};
    strs_set(&want, 3, ids);
    omtp_UserInfo_list out = {0};
    assert_int_equal(omtp_db_user_info_get(db, &want, &out), 0);
    assert_int_equal(out.n, 2); /* unknown ids are left out, order kept */
    assert_string_equal(out.items[0].userId.data, id(f, "b"));
    assert_string_equal(out.items[0].name.data, "Bee");
    assert_string_equal(out.items[0].avator.data, "av");
    assert_string_equal(out.items[0].mobile.data, "555");
    assert_int_equal(out.items[0].birthday, 7);
    assert_string_equal(out.items[1].userId.data, id(f, "a"));
    assert_string_equal(out.items[1].name.data, "a");
    omtp_list_free(&omtp_UserInfo_desc, &out);
    omtp_str_list_free(&want);
}

/* Transactions: a rolled-back savepoint undoes only its own writes. */
static void test_transactions(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    tars_str v;
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "keep"), "1"), 0);
    assert_int_equal(omtp_db_release(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "drop"), "1"), 0);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "keep"), &v), 0);
    tars_str_clear(&v);
    assert_int_equal(omtp_db_meta_get(db, id(f, "drop"), &v), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "gone"), "1"), 0);
    assert_int_equal(omtp_db_rollback(db), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "gone"), &v), OMTP_ENOTFOUND);
    tars_str_clear(&v);
}

/* ----------------------------------------------------- messages, sessions */

/* "SC_<lo>_<hi>" of two test users */
static const char *sc(fx *f, const char *a, const char *b)
{
    static char buf[1024][OMTP_ID_MAX];
    static int k;
    char *o = buf[k++ % 1024];
    char x[56], y[56];
    snprintf(x, sizeof(x), "%.55s", id(f, a));
    snprintf(y, sizeof(y), "%.55s", id(f, b));
    if (strcmp(x, y) > 0)
        snprintf(o, OMTP_ID_MAX, "SC_%s_%s", y, x);
    else
        snprintf(o, OMTP_ID_MAX, "SC_%s_%s", x, y);
    return o;
}

/* Appends a message; returns its seqId. packId NULL = a unique one. */
static int64_t send_full(fx *f, int type, const char *session, const char *from, const char *to,
                         const char *content, const char *packId, int64_t flags, bool *dup)
{
    static unsigned pk;
    char pid[64];
    if (!packId) {
        snprintf(pid, sizeof(pid), "%s-pk-%u", f->p, ++pk);
        packId = pid;
    }
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = type;
    m.flags = flags;
    tars_str_set(&m.packId, packId);
    tars_str_set(&m.msg.sessionId, session);
    tars_str_set(&m.msg.from, from);
    tars_str_set(&m.msg.to, to);
    tars_str_set(&m.msg.content, content);
    tars_str_set(&m.msg.pushInfo, "push");
    m.msg.contentType = 1;
    bool d = false;
    assert_int_equal(omtp_db_msg_append(f->db, &m, &d), 0);
    if (dup)
        *dup = d;
    int64_t seq = m.msg.seqId;
    assert_true(seq > 0);
    assert_true(m.msg.timestamp > 1600000000000LL);
    omtp_msg_rec_free(&m);
    return seq;
}

static int64_t say(fx *f, const char *from, const char *to, const char *content)
{
    return send_full(f, PT_MSG_SINGLE_CHAT, sc(f, from, to), id(f, from), id(f, to), content, NULL,
                     0, NULL);
}

static bool member(fx *f, const char *user, const char *session)
{
    bool m = false;
    assert_int_equal(omtp_db_session_member(f->db, id(f, user), session, &m), 0);
    return m;
}

static void test_msg_seq_gap_free(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    assert_int_equal(say(f, "a", "b", "1"), 1);
    assert_int_equal(say(f, "b", "a", "2"), 2);
    assert_int_equal(say(f, "a", "b", "3"), 3);
    /* another session counts on its own */
    assert_int_equal(say(f, "a", "c", "x"), 1);
    int64_t last = -1;
    assert_int_equal(omtp_db_session_last_seq(db, s, &last), 0);
    assert_int_equal(last, 3);
    assert_int_equal(omtp_db_session_last_seq(db, id(f, "nosuch"), &last), OMTP_ENOTFOUND);

    /* a rolled-back append leaves no gap */
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(say(f, "a", "b", "rolled back"), 4);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(say(f, "a", "b", "kept"), 4);
    assert_int_equal(omtp_db_release(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(db, s, 4, &m), 0);
    assert_string_equal(m.msg.content.data, "kept");
    assert_string_equal(m.msg.sessionId.data, s);
    assert_string_equal(m.msg.from.data, id(f, "a"));
    assert_string_equal(m.msg.to.data, id(f, "b"));
    assert_string_equal(m.msg.pushInfo.data, "push");
    assert_int_equal(m.msg.contentType, 1);
    assert_int_equal(m.type, PT_MSG_SINGLE_CHAT);
    omtp_msg_rec_free(&m);
    assert_int_equal(omtp_db_msg_get(db, s, 5, &m), OMTP_ENOTFOUND);

    /* membership rows: both sides of a single chat, only the recipient of biz */
    assert_true(member(f, "a", s));
    assert_true(member(f, "b", s));
    assert_false(member(f, "c", s));
    char bm[OMTP_ID_MAX];
    snprintf(bm, sizeof(bm), "BM_app_%s", id(f, "u"));
    assert_int_equal(send_full(f, PT_MSG_BIZ_NOTIFY, bm, "app", id(f, "u"), "hi", NULL, 0, NULL),
                     1);
    assert_true(member(f, "u", bm));
    bool mm = true;
    assert_int_equal(omtp_db_session_member(db, "app", bm, &mm), 0);
    assert_false(mm);
}

static void test_msg_dedup(void **state)
{
    fx *f = *state;
    const char *s = sc(f, "a", "b");
    bool dup = true;
    int64_t q1 = send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "orig", "P1", 0, &dup);
    assert_false(dup);
    /* the same (from, packId): the original comes back, nothing stored */
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, "P1");
    tars_str_set(&m.msg.sessionId, s);
    tars_str_set(&m.msg.from, id(f, "a"));
    tars_str_set(&m.msg.to, id(f, "b"));
    tars_str_set(&m.msg.content, "resent");
    assert_int_equal(omtp_db_msg_append(f->db, &m, &dup), 0);
    assert_true(dup);
    assert_int_equal(m.msg.seqId, q1);
    assert_string_equal(m.msg.content.data, "orig");
    omtp_msg_rec_free(&m);
    int64_t last;
    assert_int_equal(omtp_db_session_last_seq(f->db, s, &last), 0);
    assert_int_equal(last, 1);
    /* another sender may use the same packId */
    int64_t q2 = send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "b"), id(f, "a"), "b's", "P1", 0, &dup);
    assert_false(dup);
    assert_int_equal(q2, 2);
    /* empty packIds are never deduplicated */
    send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "e1", "", 0, &dup);
    assert_false(dup);
    send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "e2", "", 0, &dup);
    assert_false(dup);
    assert_int_equal(omtp_db_session_last_seq(f->db, s, &last), 0);
    assert_int_equal(last, 4);
}

static void test_msg_flags_stored(void **state)
{
    fx *f = *state;
    const char *s = sc(f, "a", "b");
    int64_t q = send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "x", NULL,
                          OMTP_F_HIGHPRJ | OMTP_F_DUP | OMTP_F_ACK | (1 << 6), NULL);
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(f->db, s, q, &m), 0);
    assert_int_equal(m.flags, OMTP_F_HIGHPRJ); /* transport flags are not stored */
    omtp_msg_rec copy;
    assert_int_equal(omtp_msg_rec_copy(&copy, &m), 0);
    assert_string_equal(copy.msg.content.data, "x");
    assert_string_equal(copy.packId.data, m.packId.data);
    omtp_msg_rec_free(&m);
    omtp_msg_rec_free(&copy);
}

static void test_history_and_control(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    for (int i = 1; i <= 10; i++) {
        char c[8];
        snprintf(c, sizeof(c), "m%d", i);
        assert_int_equal(say(f, i % 2 ? "a" : "b", i % 2 ? "b" : "a", c), i);
    }
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_history(db, s, 0, 3, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.items[0].msg.seqId, 10);
    assert_int_equal(l.items[1].msg.seqId, 9);
    assert_int_equal(l.items[2].msg.seqId, 8);
    assert_string_equal(l.items[0].msg.content.data, "m10");
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_history(db, s, 5, 3, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.items[0].msg.seqId, 5);
    assert_int_equal(l.items[2].msg.seqId, 3);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_history(db, s, 2, 50, &l), 0);
    assert_int_equal(l.n, 2);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_history(db, s, 0, 0, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(omtp_db_msg_history(db, id(f, "none"), 0, 10, &l), 0);
    assert_int_equal(l.n, 0);

    /* revoke 8, delete 9, edit 7 */
    assert_int_equal(omtp_db_msg_control(db, s, 8, 1, NULL), 0);
    assert_int_equal(omtp_db_msg_control(db, s, 9, 2, NULL), 0);
    assert_int_equal(omtp_db_msg_control(db, s, 7, 3, "edited"), 0);
    assert_int_equal(omtp_db_msg_control(db, s, 6, 3, NULL), 0); /* flag only */
    assert_int_equal(omtp_db_msg_control(db, s, 99, 1, NULL), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_msg_control(db, s, 5, 4, NULL), OMTP_EINVAL);
    assert_int_equal(omtp_db_msg_history(db, s, 0, 5, &l), 0);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.items[0].msg.seqId, 10);
    assert_int_equal(l.items[1].msg.seqId, 8); /* 9 is gone */
    assert_true(l.items[1].flags & OMTP_F_REVOKE);
    assert_int_equal(l.items[1].msg.status, 1);
    assert_int_equal(l.items[2].msg.seqId, 7);
    assert_string_equal(l.items[2].msg.content.data, "edited");
    assert_true(l.items[2].flags & OMTP_F_OVERRIDE);
    assert_false(l.items[2].flags & OMTP_F_REVOKE);
    assert_int_equal(l.items[3].msg.seqId, 6);
    assert_string_equal(l.items[3].msg.content.data, "m6");
    assert_true(l.items[3].flags & OMTP_F_OVERRIDE);
    assert_int_equal(l.items[4].msg.seqId, 5);
    assert_int_equal(l.items[4].flags, 0);
    omtp_msg_rec_list_free(&l);
    /* a deleted message is still readable by msg_get, with status 2 */
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(db, s, 9, &m), 0);
    assert_int_equal(m.msg.status, 2);
    omtp_msg_rec_free(&m);
}

static void test_history_cap(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    assert_int_equal(omtp_db_begin(db), 0);
    for (int i = 0; i < 230; i++)
        say(f, "a", "b", "x");
    assert_int_equal(omtp_db_commit(db), 0);
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_history(db, s, 0, 1000, &l), 0);
    assert_int_equal(l.n, 200);
    for (uint32_t i = 0; i < l.n; i++)
        assert_int_equal(l.items[i].msg.seqId, 230 - (int64_t)i);
    omtp_msg_rec_list_free(&l);
}

/* ------------------------------------------------------- unread, cursors */

static int unread_of(fx *f, const char *user, const char *session)
{
    omtp_hot_rec_list l;
    assert_int_equal(omtp_db_hot_session_get(f->db, id(f, user), session, &l), 0);
    assert_int_equal(l.n, 1);
    int n = l.items[0].unreadCount;
    assert_true(n >= 0);
    omtp_hot_rec_list_free(&l);
    return n;
}

static int64_t read_to(fx *f, const char *user, const char *session, int64_t seq)
{
    int64_t now = -1;
    assert_int_equal(omtp_db_read_set(f->db, id(f, user), session, seq, &now), 0);
    return now;
}

static void test_unread_and_read_cursor(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    say(f, "a", "b", "1");
    say(f, "a", "b", "2");
    say(f, "b", "a", "3");
    say(f, "a", "b", "4");
    assert_int_equal(unread_of(f, "b", s), 3); /* never own messages */
    assert_int_equal(unread_of(f, "a", s), 1);
    assert_int_equal(read_to(f, "b", s, 2), 2);
    assert_int_equal(unread_of(f, "b", s), 1);
    assert_int_equal(read_to(f, "b", s, 1), 2); /* never backwards */
    assert_int_equal(unread_of(f, "b", s), 1);
    assert_int_equal(read_to(f, "b", s, 1000), 4); /* clamped to the last seqId */
    assert_int_equal(unread_of(f, "b", s), 0);
    say(f, "a", "b", "5");
    say(f, "a", "b", "6");
    assert_int_equal(unread_of(f, "b", s), 2);
    assert_int_equal(omtp_db_msg_control(db, s, 6, 2, NULL), 0); /* deleted: not unread */
    assert_int_equal(unread_of(f, "b", s), 1);
    assert_int_equal(omtp_db_msg_control(db, s, 5, 1, NULL), 0); /* revoked still counts */
    assert_int_equal(unread_of(f, "b", s), 1);
    assert_int_equal(read_to(f, "b", s, 6), 6);
    assert_int_equal(unread_of(f, "b", s), 0);
    assert_int_equal(read_to(f, "b", s, -5), 6);

    /* unread_total sums over the user's sessions */
    say(f, "c", "b", "from c");
    say(f, "c", "b", "from c");
    say(f, "a", "b", "7");
    int64_t total = -1;
    assert_int_equal(omtp_db_unread_total(db, id(f, "b"), &total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(omtp_db_unread_total(db, id(f, "nobody"), &total), 0);
    assert_int_equal(total, 0);

    /* read cursors only for members */
    int64_t now;
    assert_int_equal(omtp_db_read_set(db, id(f, "z"), s, 1, &now), OMTP_ENOTFOUND);
}

/* -------------------------------------------------------- hot sessions */

static void test_hot_sessions(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s1 = sc(f, "u", "p1"), *s2 = sc(f, "u", "p2"), *s3 = sc(f, "u", "p3");
    char k1[OMTP_ID_MAX], k2[OMTP_ID_MAX], k3[OMTP_ID_MAX];
    snprintf(k1, sizeof(k1), "%s", s1);
    snprintf(k2, sizeof(k2), "%s", s2);
    snprintf(k3, sizeof(k3), "%s", s3);
    say(f, "p1", "u", "hello 1");
    say(f, "p2", "u", "hello 2");
    say(f, "u", "p3", "mine");
    say(f, "p3", "u", "reply 3");

    omtp_hot_rec_list l;
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), 0, 0, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].sessionId.data, k1); /* oldest change first */
    assert_string_equal(l.items[1].sessionId.data, k2);
    assert_string_equal(l.items[2].sessionId.data, k3);
    assert_true(l.items[0].changedUs < l.items[1].changedUs);
    assert_true(l.items[1].changedUs < l.items[2].changedUs);
    assert_int_equal(l.items[2].unreadCount, 1);
    assert_int_equal(l.items[2].readSeqId, 0);
    assert_true(l.items[2].hasLast);
    assert_int_equal(l.items[2].last.msg.seqId, 2);
    assert_string_equal(l.items[2].last.msg.content.data, "reply 3");
    assert_string_equal(l.items[2].attribute.data, "{}");
    omtp_hot_rec_list_free(&l);

    /* paging: limit 2, then continue from the returned cursor */
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), 0, 2, &l), 0);
    assert_int_equal(l.n, 2);
    int64_t cur = l.items[1].changedUs;
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), cur, 2, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].sessionId.data, k3);
    cur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), cur, 2, &l), 0);
    assert_int_equal(l.n, 0);

    /* a new message, a read cursor and an attribute each move a session */
    say(f, "p1", "u", "again");
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), cur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].sessionId.data, k1);
    assert_int_equal(l.items[0].unreadCount, 2);
    cur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    assert_int_equal(read_to(f, "u", k2, 1), 1);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), cur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].sessionId.data, k2);
    assert_int_equal(l.items[0].readSeqId, 1);
    assert_int_equal(l.items[0].unreadCount, 0);
    cur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    /* p2 does not see u's read cursor as a change of its own */
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "p2"), cur, 10, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(omtp_db_session_attr_set(db, id(f, "u"), k3, "pin", "1"), 0);
    assert_int_equal(omtp_db_session_attr_set(db, id(f, "u"), k3, "mute", "0"), 0);
    assert_int_equal(omtp_db_session_attr_set(db, id(f, "u"), k3, "pin", "2"), 0);
    assert_int_equal(omtp_db_session_attr_set(db, id(f, "u"), k3, "", "2"), OMTP_EINVAL);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "u"), cur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].sessionId.data, k3);
    assert_true(strcmp(l.items[0].attribute.data, "{\"mute\":\"0\",\"pin\":\"2\"}") == 0 ||
                strcmp(l.items[0].attribute.data, "{\"pin\":\"2\",\"mute\":\"0\"}") == 0);
    omtp_hot_rec_list_free(&l);
    /* p3 sees no attributes of u's */
    assert_int_equal(omtp_db_hot_session_get(db, id(f, "p3"), k3, &l), 0);
    assert_string_equal(l.items[0].attribute.data, "{}");
    omtp_hot_rec_list_free(&l);

    /* a session whose messages are all deleted has no last message */
    const char *s4 = sc(f, "u", "p4");
    char k4[OMTP_ID_MAX];
    snprintf(k4, sizeof(k4), "%s", s4);
    say(f, "p4", "u", "oops");
    assert_int_equal(omtp_db_msg_control(db, k4, 1, 2, NULL), 0);
    assert_int_equal(omtp_db_hot_session_get(db, id(f, "u"), k4, &l), 0);
    assert_int_equal(l.n, 1);
    assert_false(l.items[0].hasLast);
    assert_int_equal(l.items[0].unreadCount, 0);
    omtp_hot_rec_list_free(&l);
    /* the last visible message skips deleted ones */
    say(f, "p4", "u", "visible");
    say(f, "p4", "u", "deleted");
    assert_int_equal(omtp_db_msg_control(db, k4, 3, 2, NULL), 0);
    assert_int_equal(omtp_db_hot_session_get(db, id(f, "u"), k4, &l), 0);
    assert_true(l.items[0].hasLast);
    assert_int_equal(l.items[0].last.msg.seqId, 2);
    assert_int_equal(l.items[0].unreadCount, 1);
    omtp_hot_rec_list_free(&l);
}

static void test_hot_session_get(void **state)
{
    fx *f = *state;
    const char *s = sc(f, "a", "b");
    char k[OMTP_ID_MAX];
    snprintf(k, sizeof(k), "%s", s);
    say(f, "a", "b", "1");
    say(f, "a", "b", "2");
    omtp_hot_rec_list l;
    /* a monitor (not a member) sees the session from cursor 0 */
    assert_int_equal(omtp_db_hot_session_get(f->db, id(f, "mon"), k, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].readSeqId, 0);
    assert_int_equal(l.items[0].unreadCount, 2);
    assert_true(l.items[0].changedUs > 0);
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_hot_session_get(f->db, id(f, "a"), id(f, "nosuch"), &l),
                     OMTP_ENOTFOUND);
    assert_int_equal(l.n, 0);
}

/* ------------------------------------------------------ high priority */

static void test_hp_queue(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    omtp_OTIMPack p;
    tars_init(&omtp_OTIMPack_desc, &p);
    p.header.type = PT_MSG_CTRL;
    p.header.flags = OMTP_F_HIGHPRJ;
    for (int i = 1; i <= 3; i++) {
        char pid[16];
        uint8_t payload[4] = {(uint8_t)i, 0, 0xff, 7};
        snprintf(pid, sizeof(pid), "hp%d", i);
        tars_str_set(&p.header.packId, pid);
        tars_bytes_set(&p.payload, payload, sizeof(payload));
        int64_t seq = 0;
        assert_int_equal(omtp_db_hp_append(db, id(f, "a"), &p, &seq), 0);
        assert_int_equal(seq, i);
    }
    int64_t seq = 0;
    assert_int_equal(omtp_db_hp_append(db, id(f, "b"), &p, &seq), 0);
    assert_int_equal(seq, 1); /* per user */
    tars_free(&omtp_OTIMPack_desc, &p);

    omtp_hp_rec_list l;
    int64_t last = -1;
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), 0, 2, &l, &last), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].seq, 1);
    assert_int_equal(l.items[1].seq, 2);
    assert_int_equal(last, 2);
    assert_int_equal(l.items[0].pack.header.type, PT_MSG_CTRL);
    assert_int_equal(l.items[0].pack.header.flags, OMTP_F_HIGHPRJ);
    assert_string_equal(l.items[1].pack.header.packId.data, "hp2");
    assert_int_equal(l.items[1].pack.payload.len, 4);
    assert_memory_equal(l.items[1].pack.payload.data, ((uint8_t[]){2, 0, 0xff, 7}), 4);
    omtp_hp_rec_list_free(&l);
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), 2, 200, &l, &last), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].seq, 3);
    assert_int_equal(last, 3);
    omtp_hp_rec_list_free(&l);
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), 3, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(last, 3);
    /* a cursor ahead of the queue learns the real head */
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), 50, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(last, 3);
    assert_int_equal(omtp_db_hp_list(db, id(f, "nobody"), 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(last, 0);
}

/* ------------------------------------------------------------- the suite */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int omtp_store_suite(const char *name, const omtp_store_config *cfg)
{
    const struct CMUnitTest tests[] = {
        T(test_meta),
        T(test_users),
        T(test_user_info),
        T(test_transactions),
        T(test_msg_seq_gap_free),
        T(test_msg_dedup),
        T(test_msg_flags_stored),
        T(test_history_and_control),
        T(test_history_cap),
        T(test_unread_and_read_cursor),
        T(test_hot_sessions),
        T(test_hot_session_get),
        T(test_hp_queue),
    };
    g_cfg = *cfg;
    return _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}

int main(void)
{
    snprintf(g_run, sizeof(g_run), "t%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
    char dir[] = "/tmp/omtp-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/data/nested", dir); /* created by open */
    omtp_store_config cfg = {.data_dir = sub, .synchronous = 1};
    int fails = omtp_store_suite("store_sqlite", &cfg);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fails++;
    const char *pg = getenv("OMTP_TEST_PG_URI");
    if (pg && pg[0]) {
        omtp_store_config pcfg = {.uri = pg};
        fails += omtp_store_suite("store_postgresql", &pcfg);
    }
    return fails ? 1 : 0;
}
