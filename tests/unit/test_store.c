/*
 * test_store.c - the storage contract of store.h, backend-agnostic.
 *
 * omtp_store_suite() runs every test against the backend a config selects:
 * SQLite in a fresh temporary directory, then PostgreSQL: the URI in
 * OMTP_TEST_STORE_URI, or else a private server that
 * tests/scripts/pg_redis_env.sh starts (the test re-executes itself under
 * it). Without PostgreSQL installed only SQLite runs -- and under CI (CI
 * set) that is a failure. Tests never assume an empty database: each test
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
#include "store/maint.h"
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

/* An id unique to the test: "<prefix>-<name>" (a valid id: no '_');
 * rotating static buffers. */
static const char *id(fx *f, const char *name)
{
    static char bufs[256][OMTP_ID_MAX];
    static int k;
    char *b = bufs[k++ % 256];
    snprintf(b, OMTP_ID_MAX, "%s-%s", f->p, name);
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

/* ---------------------------------------------------------- files */

static void file_set(omtp_file_rec *r, const char *fid, const char *sha, const char *uploader,
                     uint64_t size, int64_t created)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->fileId, sizeof(r->fileId), "%s", fid);
    snprintf(r->sha256, sizeof(r->sha256), "%s", sha);
    snprintf(r->uploader, sizeof(r->uploader), "%s", uploader);
    snprintf(r->mime, sizeof(r->mime), "image/png");
    snprintf(r->name, sizeof(r->name), "a \"b\" \xc3\xbc.png");
    r->size = size;
    r->created = created;
    r->width = 640;
    r->height = 480;
}

static void test_files(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char f1[33], f2[33], f3[33], sha[65], sha2[65], u[OMTP_ID_MAX];
    snprintf(f1, sizeof(f1), "%.28s-f1", f->p);
    snprintf(f2, sizeof(f2), "%.28s-f2", f->p);
    snprintf(f3, sizeof(f3), "%.28s-f3", f->p);
    snprintf(sha, sizeof(sha), "%.54s%010u", f->p, 1u);
    snprintf(sha2, sizeof(sha2), "%.54s%010u", f->p, 2u);
    snprintf(u, sizeof(u), "%s", id(f, "up"));
    omtp_file_rec r, g;
    file_set(&r, f1, sha, u, 100, 1000);
    snprintf(r.thumb, sizeof(r.thumb), "%s", sha2);
    r.thumbSize = 7;
    assert_int_equal(omtp_db_file_put(db, &r), 0);
    assert_int_equal(omtp_db_file_put(db, &r), OMTP_EEXIST);
    assert_int_equal(omtp_db_file_get(db, f1, &g), 0);
    assert_memory_equal(&g, &r, sizeof(r));
    assert_int_equal(omtp_db_file_get(db, f2, &g), OMTP_ENOTFOUND);
    file_set(&r, f2, sha, u, 100, 5000); /* the same bytes, another upload */
    assert_int_equal(omtp_db_file_put(db, &r), 0);
    file_set(&r, f3, sha, u, 50, 6000);
    assert_int_equal(omtp_db_file_put(db, &r), 0);
    uint64_t bytes = 0;
    int64_t recent = 0;
    assert_int_equal(omtp_db_file_usage(db, u, 5000, &bytes, &recent), 0);
    assert_int_equal(bytes, 250);
    assert_int_equal(recent, 2);
    /* references: repeats are no-ops, sessions distinct */
    assert_int_equal(omtp_db_file_ref_add(db, f2, id(f, "s1"), 1), 0);
    assert_int_equal(omtp_db_file_ref_add(db, f2, id(f, "s1"), 1), 0);
    assert_int_equal(omtp_db_file_ref_add(db, f2, id(f, "s1"), 2), 0);
    assert_int_equal(omtp_db_file_ref_add(db, f2, id(f, "s2"), 1), 0);
    tars_str_list l;
    assert_int_equal(omtp_db_file_ref_sessions(db, f2, 10, &l), 0);
    assert_int_equal(l.n, 2);
    omtp_str_list_free(&l);
    assert_int_equal(omtp_db_file_ref_sessions(db, f1, 10, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_str_list_free(&l);
    /* orphans: unreferenced and older than the cutoff (f1; f3 is too new) */
    omtp_file_rec o[100];
    int n = 0;
    assert_int_equal(omtp_db_file_orphans(db, 5500, 100, o, &n), 0);
    bool saw1 = false;
    for (int i = 0; i < n; i++) {
        assert_string_not_equal(o[i].fileId, f2);
        assert_string_not_equal(o[i].fileId, f3);
        saw1 = saw1 || !strcmp(o[i].fileId, f1);
    }
    assert_true(saw1);
    /* deleting: the bytes stay used while another row names them */
    bool used = false;
    assert_int_equal(omtp_db_file_sha_used(db, sha2, &used), 0);
    assert_true(used); /* f1's thumbnail */
    assert_int_equal(omtp_db_file_del(db, f1), 0);
    assert_int_equal(omtp_db_file_del(db, f1), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_file_sha_used(db, sha2, &used), 0);
    assert_false(used);
    assert_int_equal(omtp_db_file_sha_used(db, sha, &used), 0);
    assert_true(used);                             /* f2, f3 */
    assert_int_equal(omtp_db_file_del(db, f2), 0); /* and its references */
    assert_int_equal(omtp_db_file_ref_sessions(db, f2, 10, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_str_list_free(&l);
    assert_int_equal(omtp_db_file_del(db, f3), 0);
    assert_int_equal(omtp_db_file_sha_used(db, sha, &used), 0);
    assert_false(used);
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

/* user_page: the HTTP API's paged list (GET /v1/users): byte order, a
 * prefix range that stops at the prefix's end, the `after` cursor, limit. */
static void test_user_page(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *names[] = {"pa", "pb", "pc", "pd", "q"};
    for (int i = 0; i < 5; i++)
        mk_user(f, names[i], "");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s-p", f->p);
    omtp_user_rec_list l = {0};
    assert_int_equal(omtp_db_user_page(db, prefix, "", 2, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].userId.data, id(f, "pa"));
    assert_string_equal(l.items[1].userId.data, id(f, "pb"));
    char after[64];
    snprintf(after, sizeof after, "%s", l.items[1].userId.data);
    omtp_user_rec_list_free(&l);
    assert_int_equal(omtp_db_user_page(db, prefix, after, 10, &l), 0);
    assert_int_equal(l.n, 2); /* pc, pd: never q, outside the prefix */
    assert_string_equal(l.items[0].userId.data, id(f, "pc"));
    assert_string_equal(l.items[1].userId.data, id(f, "pd"));
    omtp_user_rec_list_free(&l);
    /* no prefix: from the start, in byte order; after the last id: none */
    assert_int_equal(omtp_db_user_page(db, "", id(f, "pd"), 1000, &l), 0);
    for (uint32_t i = 0; i < l.n; i++)
        assert_true(strcmp(l.items[i].userId.data, id(f, "pd")) > 0);
    bool q = false;
    for (uint32_t i = 0; i < l.n; i++)
        q |= !strcmp(l.items[i].userId.data, id(f, "q"));
    assert_true(q);
    omtp_user_rec_list_free(&l);
    snprintf(prefix, sizeof prefix, "%s-zz", f->p);
    assert_int_equal(omtp_db_user_page(db, prefix, "", 10, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_user_rec_list_free(&l);
}

/* The per-message recipient check: answers for exactly that id, follows
 * create and delete, and never touches *yes's caller-side initial value. */
static void test_user_exists(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    bool yes = true;
    assert_int_equal(omtp_db_user_exists(db, id(f, "carol"), &yes), 0);
    assert_false(yes);
    mk_user(f, "carol", "$kdf$c");
    yes = false;
    assert_int_equal(omtp_db_user_exists(db, id(f, "carol"), &yes), 0);
    assert_true(yes);
    /* a prefix or an extension of an existing id is another id */
    yes = true;
    assert_int_equal(omtp_db_user_exists(db, id(f, "caro"), &yes), 0);
    assert_false(yes);
    yes = true;
    assert_int_equal(omtp_db_user_exists(db, id(f, "carol2"), &yes), 0);
    assert_false(yes);
    /* inside a transaction: sees its own uncommitted create, then the rollback */
    assert_int_equal(omtp_db_begin(db), 0);
    mk_user(f, "dave", "");
    assert_int_equal(omtp_db_user_exists(db, id(f, "dave"), &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_rollback(db), 0);
    assert_int_equal(omtp_db_user_exists(db, id(f, "dave"), &yes), 0);
    assert_false(yes);
    assert_int_equal(omtp_db_user_delete(db, id(f, "carol")), 0);
    yes = true;
    assert_int_equal(omtp_db_user_exists(db, id(f, "carol"), &yes), 0);
    assert_false(yes);
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

/* Duplicates inside the executor's shape of work (BEGIN, then SAVEPOINT /
 * work / RELEASE per item): the refused insert gives its seqId back, keeps
 * what the item wrote before it, and leaves the item open for more work and
 * for the executor's RELEASE or ROLLBACK TO. */
static void test_msg_dup_in_item(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    bool dup = true;
    tars_str v;
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(
        send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "orig", "Q1", 0, &dup), 1);
    assert_false(dup);
    assert_int_equal(omtp_db_release(db), 0);

    /* the item writes, then hits the duplicate, then appends again */
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "before"), "1"), 0);
    assert_int_equal(
        send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "again", "Q1", 0, &dup), 1);
    assert_true(dup);
    assert_int_equal(say(f, "a", "b", "two"), 2);
    assert_int_equal(omtp_db_release(db), 0);

    /* the duplicate is the item's first write */
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(
        send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "again", "Q1", 0, &dup), 1);
    assert_true(dup);
    assert_int_equal(say(f, "a", "b", "three"), 3);
    assert_int_equal(omtp_db_meta_set(db, id(f, "after"), "1"), 0);
    assert_int_equal(omtp_db_release(db), 0);

    /* ... and the item is then rolled back whole */
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(
        send_full(f, PT_MSG_SINGLE_CHAT, s, id(f, "a"), id(f, "b"), "again", "Q1", 0, &dup), 1);
    assert_true(dup);
    assert_int_equal(say(f, "a", "b", "dropped"), 4);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(say(f, "a", "b", "four"), 4);
    assert_int_equal(omtp_db_release(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);

    int64_t last = 0;
    assert_int_equal(omtp_db_session_last_seq(db, s, &last), 0);
    assert_int_equal(last, 4);
    const char *want[] = {"orig", "two", "three", "four"};
    for (int q = 1; q <= 4; q++) {
        omtp_msg_rec m;
        assert_int_equal(omtp_db_msg_get(db, s, q, &m), 0);
        assert_string_equal(m.msg.content.data, want[q - 1]);
        omtp_msg_rec_free(&m);
    }
    assert_int_equal(omtp_db_meta_get(db, id(f, "before"), &v), 0);
    tars_str_clear(&v);
    assert_int_equal(omtp_db_meta_get(db, id(f, "after"), &v), 0);
    tars_str_clear(&v);
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

/* full-text search (store.h msg_search, docs/storage.md "Search"): the same
 * answers from the FTS5 trigram index (SQLite) and pg_trgm/ILIKE (PostgreSQL) */
static int search_n(fx *f, const char *user, const char *sid, const char *q, int64_t before,
                    int count, omtp_msg_rec_list *l)
{
    assert_int_equal(omtp_db_msg_search(f->db, id(f, user), sid, q, before, count, l), 0);
    return (int)l->n;
}

static void test_search(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    const char *t = sc(f, "c", "d");
    int64_t m1 = say(f, "a", "b", "明天北京开会 100% sure_thing");
    int64_t m2 = say(f, "b", "a", "Meeting in BEIJING");
    say(f, "c", "d", "北京开会我不去");
    /* a media message is found by its file name, never by the JSON around it */
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, id(f, "media"));
    tars_str_set(&m.msg.sessionId, s);
    tars_str_set(&m.msg.from, id(f, "a"));
    tars_str_set(&m.msg.to, id(f, "b"));
    tars_str_set(&m.msg.content, "{\"fileId\":\"f9\",\"name\":\"北京开会纪要.pdf\",\"size\":3}");
    m.msg.contentType = 7;
    bool dup = false;
    assert_int_equal(omtp_db_msg_append(db, &m, &dup), 0);
    int64_t m3 = m.msg.seqId;
    omtp_msg_rec_free(&m);

    omtp_msg_rec_list l;
    assert_int_equal(search_n(f, "a", NULL, "明天北京", 0, 20, &l), 1);
    assert_int_equal(l.items[0].msg.seqId, m1);
    assert_string_equal(l.items[0].msg.sessionId.data, s);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "b", NULL, "开会纪要", 0, 20, &l), 1);
    assert_int_equal(l.items[0].msg.seqId, m3);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "fileId", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "beijing", 0, 20, &l), 1);
    assert_int_equal(l.items[0].msg.seqId, m2);
    omtp_msg_rec_list_free(&l);
    /* LIKE and FTS characters are text */
    assert_int_equal(search_n(f, "a", NULL, "100%", 0, 20, &l), 1);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "0% s", 0, 20, &l), 1);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "e_t", 0, 20, &l), 1);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "%%%", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "\"北京\" OR *", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    /* only the user's sessions; one session */
    assert_int_equal(search_n(f, "c", NULL, "北京开会", 0, 20, &l), 1);
    assert_string_equal(l.items[0].msg.sessionId.data, t);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "x", NULL, "北京开会", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", t, "北京开会", 0, 20, &l), 1); /* caller checks access */
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", s, "北京开会", 0, 20, &l), 2);
    assert_int_equal(l.items[0].msg.seqId, m3); /* newest first */
    assert_int_equal(l.items[1].msg.seqId, m1);
    int64_t newest = l.items[0].msg.timestamp;
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", s, "北京开会", newest + 1, 1, &l), 1); /* count caps */
    omtp_msg_rec_list_free(&l);
    /* edit, revoke, delete */
    assert_int_equal(omtp_db_msg_control(db, s, m1, 3, "改在上海开会"), 0);
    assert_int_equal(search_n(f, "a", NULL, "明天北京", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "b", NULL, "上海开会", 0, 20, &l), 1);
    assert_string_equal(l.items[0].msg.content.data, "改在上海开会");
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_control(db, s, m1, 1, NULL), 0);
    assert_int_equal(search_n(f, "b", NULL, "上海开会", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_control(db, s, m3, 2, NULL), 0);
    assert_int_equal(search_n(f, "b", NULL, "会纪要.pdf", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "b", NULL, "BEIJING", 0, 0, &l), 0); /* count 0: nothing */
    omtp_msg_rec_list_free(&l);
}

/* The search index holds the first 4096 bytes of a text (docs/storage.md
 * "Search index"): a word there is found, a word past them is not, and
 * the cut never splits a character (a 3-byte character across byte 4096
 * is left out whole; what precedes it is still found). Editing the long
 * text moves the index as for any message. */
static void test_search_cap(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char *t = malloc(8192);
    strcpy(t, "capfront ");
    while (strlen(t) < 4087)
        strcat(t, "x");
    strcat(t, "北京北京北京 captail"); /* 北 at bytes 4088-4090, 4091-4093, 4094-4096 */
    int64_t m1 = say(f, "a", "b", t);
    omtp_msg_rec_list l;
    assert_int_equal(search_n(f, "a", NULL, "capfront", 0, 20, &l), 1);
    assert_int_equal(l.items[0].msg.seqId, m1);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "captail", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "xx北京北", 0, 20, &l), 1); /* ends at byte 4093 */
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "北京北京", 0, 20, &l), 0); /* would need byte 4096 */
    omtp_msg_rec_list_free(&l);
    t[1] = 'o';
    assert_int_equal(omtp_db_msg_control(db, sc(f, "a", "b"), m1, 3, t), 0);
    assert_int_equal(search_n(f, "a", NULL, "capfront", 0, 20, &l), 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(search_n(f, "a", NULL, "copfront", 0, 20, &l), 1);
    omtp_msg_rec_list_free(&l);
    free(t);
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Change times are in ms: step past the current millisecond. */
static void next_ms(void)
{
    usleep(2500);
}

/* One seq is shared by every high-priority queue (docs/storage.md): a
 * user's entries get increasing seqs, not necessarily consecutive ones. */
static void test_hp_queue(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    omtp_OTIMPack p;
    tars_init(&omtp_OTIMPack_desc, &p);
    p.header.type = PT_MSG_CTRL;
    p.header.flags = OMTP_F_HIGHPRJ;
    int64_t s[4] = {0};
    for (int i = 1; i <= 3; i++) {
        char pid[16];
        uint8_t payload[4] = {(uint8_t)i, 0, 0xff, 7};
        snprintf(pid, sizeof(pid), "hp%d", i);
        tars_str_set(&p.header.packId, pid);
        tars_bytes_set(&p.payload, payload, sizeof(payload));
        assert_int_equal(omtp_db_hp_append(db, id(f, "a"), &p, &s[i]), 0);
        assert_true(s[i] > s[i - 1]);
    }
    int64_t seq = 0;
    assert_int_equal(omtp_db_hp_append(db, id(f, "b"), &p, &seq), 0);
    assert_true(seq > s[3]);
    tars_free(&omtp_OTIMPack_desc, &p);

    omtp_hp_rec_list l;
    int64_t last = -1;
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), 0, 2, &l, &last), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].seq, s[1]);
    assert_int_equal(l.items[1].seq, s[2]);
    assert_int_equal(last, s[2]);
    assert_int_equal(l.items[0].pack.header.type, PT_MSG_CTRL);
    assert_int_equal(l.items[0].pack.header.flags, OMTP_F_HIGHPRJ);
    assert_string_equal(l.items[1].pack.header.packId.data, "hp2");
    assert_int_equal(l.items[1].pack.payload.len, 4);
    assert_memory_equal(l.items[1].pack.payload.data, ((uint8_t[]){2, 0, 0xff, 7}), 4);
    omtp_hp_rec_list_free(&l);
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), s[2], 200, &l, &last), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].seq, s[3]);
    assert_int_equal(last, s[3]);
    omtp_hp_rec_list_free(&l);
    /* nothing after the cursor: the shared head (at least b's entry) */
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), s[3], 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_true(last >= seq);
    /* a cursor ahead of the queue learns the real head */
    assert_int_equal(omtp_db_hp_list(db, id(f, "a"), seq + 1000000, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_true(last >= seq && last < seq + 1000000);
    assert_int_equal(omtp_db_hp_list(db, id(f, "nobody"), 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_true(last >= seq);
}

/* One high-priority entry for user: returns its seq. */
static int64_t hp_add(omtp_db *db, const char *user, const char *packId)
{
    omtp_OTIMPack p;
    tars_init(&omtp_OTIMPack_desc, &p);
    p.header.type = PT_MSG_CTRL;
    p.header.flags = OMTP_F_HIGHPRJ;
    tars_str_set(&p.header.packId, packId);
    tars_bytes_set(&p.payload, (const uint8_t *)packId, strlen(packId));
    int64_t seq = 0;
    int rc = omtp_db_hp_append(db, user, &p, &seq);
    tars_free(&omtp_OTIMPack_desc, &p);
    if (rc)
        fail_msg("hp_append: %d %s", rc, db->errmsg);
    return seq;
}

/* Retention: entries created before the cutoff go, at most `limit` per call,
 * newer ones stay, and a user's seqs keep increasing after the queue was
 * emptied (the allocator is hp_heads, which a prune never touches). The
 * database may hold other tests' (older) entries: the counts asserted are
 * this test's own or bounds. (A prune is global: on a shared server, do not
 * run two pruning tests at once.) */
static void test_hp_prune(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char a[OMTP_ID_MAX], b[OMTP_ID_MAX];
    snprintf(a, sizeof(a), "%s", id(f, "a"));
    snprintf(b, sizeof(b), "%s", id(f, "b"));
    int64_t prev = 0;
    for (int i = 1; i <= 5; i++) {
        int64_t s = hp_add(db, a, "old-a");
        assert_true(s > prev);
        prev = s;
    }
    int64_t b2 = hp_add(db, b, "old-b");
    b2 = hp_add(db, b, "old-b");
    next_ms();
    int64_t cutoff = now_ms();
    int64_t a6 = hp_add(db, a, "new-a6");
    int64_t a7 = hp_add(db, a, "new-a7");
    assert_true(a6 > b2 && a7 > a6);

    int n = -1;
    assert_int_equal(omtp_db_hp_prune(db, cutoff, 0, &n), OMTP_EINVAL);
    assert_int_equal(n, 0);
    /* at least 7 entries are older: one call deletes exactly the limit */
    assert_int_equal(omtp_db_hp_prune(db, cutoff, 3, &n), 0);
    assert_int_equal(n, 3);
    int total = n, calls = 1;
    do {
        assert_int_equal(omtp_db_hp_prune(db, cutoff, 3, &n), 0);
        assert_in_range(n, 0, 3);
        total += n;
        assert_true(++calls < 10000);
    } while (n == 3);
    assert_true(total >= 7);
    assert_int_equal(omtp_db_hp_prune(db, cutoff, 3, &n), 0);
    assert_int_equal(n, 0); /* nothing older is left */

    /* a keeps exactly its recent entries, in order */
    omtp_hp_rec_list l;
    int64_t last = -1;
    assert_int_equal(omtp_db_hp_list(db, a, 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].seq, a6);
    assert_string_equal(l.items[0].pack.header.packId.data, "new-a6");
    assert_int_equal(l.items[1].seq, a7);
    assert_int_equal(last, a7);
    omtp_hp_rec_list_free(&l);
    /* b's queue is empty; the head (the newest seq) is still reported */
    assert_int_equal(omtp_db_hp_list(db, b, 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_true(last >= a7);

    /* new entries continue after the pruned ones, never reusing a seq */
    int64_t nb = hp_add(db, b, "new-b");
    int64_t a8 = hp_add(db, a, "new-a8");
    assert_true(nb > a7 && a8 > nb);
    assert_int_equal(omtp_db_hp_list(db, b, 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].seq, nb);
    assert_string_equal(l.items[0].pack.header.packId.data, "new-b");
    assert_int_equal(last, nb);
    omtp_hp_rec_list_free(&l);
    /* a cursor from before the prune gets what is left after it */
    assert_int_equal(omtp_db_hp_list(db, a, 1, 200, &l, &last), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.items[0].seq, a6);
    assert_int_equal(last, a8);
    omtp_hp_rec_list_free(&l);

    /* inside a batch transaction that rolls back, nothing is deleted */
    next_ms();
    int64_t later = now_ms();
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_hp_prune(db, later, 100, &n), 0);
    assert_true(n >= 4);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_int_equal(omtp_db_hp_list(db, a, 0, 200, &l, &last), 0);
    assert_int_equal(l.n, 3);
    omtp_hp_rec_list_free(&l);
}

/* ---------------------------------------------------------------- groups */

static void mk_group(fx *f, const char *gname, const char *creator, int n, const char *const *mem)
{
    omtp_GroupChatInfo g;
    tars_init(&omtp_GroupChatInfo_desc, &g);
    tars_str_set(&g.groupId, gname);
    tars_str_set(&g.name, "the group");
    tars_str_set(&g.avatar, "av");
    tars_str_set(&g.desc, "about");
    tars_str_set(&g.creatorId, id(f, creator));
    g.memberLimit = 500;
    tars_str_list l = {0};
    const char *ids[16];
    for (int i = 0; i < n; i++)
        ids[i] = id(f, mem[i]);
    strs_set(&l, n, ids);
    int64_t t0 = now_ms();
    assert_int_equal(omtp_db_group_create(f->db, &g, &l), 0);
    assert_true(g.createTime >= t0 && g.createTime <= now_ms());
    assert_int_equal(g.updateTime, g.createTime);
    assert_int_equal(omtp_db_group_create(f->db, &g, &l), OMTP_EEXIST);
    omtp_str_list_free(&l);
    tars_free(&omtp_GroupChatInfo_desc, &g);
}

static void gid(fx *f, char *out, const char *name)
{
    snprintf(out, OMTP_ID_MAX, "GC_%s", id(f, name));
}

static void test_group_create_get(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char g[OMTP_ID_MAX];
    gid(f, g, "g");
    const char *mem[] = {"c", "b", "c", "a"}; /* duplicates and the creator are fine */
    mk_group(f, g, "a", 4, mem);
    omtp_GroupChatInfo info;
    bool dismissed = true;
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    assert_false(dismissed);
    assert_string_equal(info.groupId.data, g);
    assert_string_equal(info.name.data, "the group");
    assert_string_equal(info.avatar.data, "av");
    assert_string_equal(info.desc.data, "about");
    assert_string_equal(info.creatorId.data, id(f, "a"));
    assert_int_equal(info.memberLimit, 500);
    assert_true(info.createTime > 0);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_int_equal(omtp_db_group_get(db, id(f, "nogroup"), &info, &dismissed), OMTP_ENOTFOUND);

    tars_str_list m;
    assert_int_equal(omtp_db_group_members(db, g, &m), 0);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.items[0].data, id(f, "a"));
    assert_string_equal(m.items[1].data, id(f, "b"));
    assert_string_equal(m.items[2].data, id(f, "c"));
    omtp_str_list_free(&m);
    assert_int_equal(omtp_db_group_members(db, id(f, "nogroup"), &m), OMTP_ENOTFOUND);
    int count = 0;
    assert_int_equal(omtp_db_group_member_count(db, g, &count), 0);
    assert_int_equal(count, 3);
    bool yes = false;
    assert_int_equal(omtp_db_group_is_member(db, g, id(f, "b"), &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_group_is_member(db, g, id(f, "z"), &yes), 0);
    assert_false(yes);
    /* a single chat is not a group */
    say(f, "a", "b", "hi");
    assert_int_equal(omtp_db_group_is_member(db, sc(f, "a", "b"), id(f, "a"), &yes), 0);
    assert_false(yes);

    omtp_GroupChatInfo bad;
    tars_init(&omtp_GroupChatInfo_desc, &bad);
    tars_str_set(&bad.creatorId, "x");
    assert_int_equal(omtp_db_group_create(db, &bad, NULL), OMTP_EINVAL);
    tars_free(&omtp_GroupChatInfo_desc, &bad);
}

static void test_group_messages(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char g[OMTP_ID_MAX];
    gid(f, g, "g");
    const char *mem[] = {"b", "c"};
    mk_group(f, g, "a", 2, mem);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "a"), g, "hi", NULL, 0, NULL), i);
    assert_int_equal(send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "b"), g, "b!", NULL, 0, NULL), 4);
    assert_int_equal(unread_of(f, "b", g), 3); /* a's three, not b's own */
    assert_int_equal(unread_of(f, "a", g), 1);
    assert_int_equal(unread_of(f, "c", g), 4);
    /* a joining member starts at the session's last seqId */
    tars_str_list add = {0};
    const char *ids[] = {id(f, "d"), id(f, "b")};
    strs_set(&add, 2, ids);
    int added = -1;
    assert_int_equal(omtp_db_group_add_members(db, g, &add, &added), 0);
    assert_int_equal(added, 1);
    omtp_str_list_free(&add);
    assert_int_equal(unread_of(f, "d", g), 0);
    omtp_hot_rec_list l;
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "d"), 0, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].readSeqId, 4);
    int64_t cur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "c"), 0, 10, &l), 0);
    assert_int_equal(l.n, 1);
    int64_t ccur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    /* a group message moves the session for every member */
    send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "a"), g, "news", NULL, 0, NULL);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "d"), cur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].sessionId.data, g);
    assert_int_equal(l.items[0].unreadCount, 1);
    assert_string_equal(l.items[0].last.msg.content.data, "news");
    assert_int_equal(l.items[0].last.type, PT_MSG_GROUP_CHAT);
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "c"), ccur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].unreadCount, 5);
    omtp_hot_rec_list_free(&l);
    /* a revoke or delete moves it too */
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "c"), 0, 10, &l), 0);
    ccur = l.items[0].changedUs;
    omtp_hot_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_control(db, g, 5, 1, NULL), 0);
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "c"), ccur, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.items[0].last.flags & OMTP_F_REVOKE);
    omtp_hot_rec_list_free(&l);
    /* a removed member no longer has the session */
    tars_str_list rm = {0};
    const char *rid[] = {id(f, "c"), id(f, "zz")};
    strs_set(&rm, 2, rid);
    int removed = -1;
    assert_int_equal(omtp_db_group_remove_members(db, g, &rm, &removed), 0);
    assert_int_equal(removed, 1);
    omtp_str_list_free(&rm);
    assert_false(member(f, "c", g));
    assert_int_equal(omtp_db_hot_sessions(db, id(f, "c"), 0, 10, &l), 0);
    assert_int_equal(l.n, 0);
}

static void test_group_admin_and_sync(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char g[OMTP_ID_MAX], h[OMTP_ID_MAX];
    gid(f, g, "g");
    gid(f, h, "h");
    const char *mem[] = {"b", "c"};
    mk_group(f, g, "a", 2, mem);
    mk_group(f, h, "b", 0, NULL);

    omtp_GroupChatInfo_list gl;
    tars_str_list del;
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), 0, &gl, &del), 0);
    assert_int_equal(gl.n, 2);
    assert_int_equal(del.n, 0);
    int64_t t = gl.items[0].updateTime > gl.items[1].updateTime ? gl.items[0].updateTime
                                                                : gl.items[1].updateTime;
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), t, &gl, &del), 0);
    assert_int_equal(gl.n, 0);
    assert_int_equal(del.n, 0);

    /* info update: fields and a later updateTime */
    next_ms();
    omtp_GroupChatInfo info;
    bool dismissed;
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    int64_t created = info.createTime;
    tars_str_set(&info.name, "renamed");
    tars_str_set(&info.desc, "new desc");
    tars_str_set(&info.avatar, "");
    info.memberLimit = 50;
    assert_int_equal(omtp_db_group_update_info(db, &info), 0);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    assert_string_equal(info.name.data, "renamed");
    assert_string_equal(info.desc.data, "new desc");
    assert_string_equal(info.avatar.data, "");
    assert_int_equal(info.memberLimit, 50);
    assert_string_equal(info.creatorId.data, id(f, "a")); /* not changed by an info update */
    assert_int_equal(info.createTime, created);
    assert_true(info.updateTime > created);
    tars_str_set(&info.groupId, id(f, "nogroup"));
    assert_int_equal(omtp_db_group_update_info(db, &info), OMTP_ENOTFOUND);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), t, &gl, &del), 0);
    assert_int_equal(gl.n, 1);
    assert_string_equal(gl.items[0].groupId.data, g);
    assert_string_equal(gl.items[0].name.data, "renamed");
    t = gl.items[0].updateTime;
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);

    /* creator change: members only */
    next_ms();
    assert_int_equal(omtp_db_group_set_creator(db, g, id(f, "z")), OMTP_EINVAL);
    assert_int_equal(omtp_db_group_set_creator(db, id(f, "nogroup"), id(f, "b")), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_group_set_creator(db, g, id(f, "c")), 0);
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    assert_string_equal(info.creatorId.data, id(f, "c"));
    assert_true(info.updateTime > t);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_int_equal(omtp_db_group_sync(db, id(f, "a"), t, &gl, &del), 0);
    assert_int_equal(gl.n, 1);
    t = gl.items[0].updateTime;
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);

    /* leaving: the group id is reported deleted after the time */
    next_ms();
    tars_str_list rm = {0};
    const char *rid[] = {id(f, "b")};
    strs_set(&rm, 1, rid);
    int n;
    assert_int_equal(omtp_db_group_remove_members(db, g, &rm, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), t, &gl, &del), 0);
    assert_int_equal(gl.n, 0);
    assert_int_equal(del.n, 1);
    assert_string_equal(del.items[0].data, g);
    omtp_str_list_free(&del);
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), now_ms() + 1000, &gl, &del), 0);
    assert_int_equal(del.n, 0);
    /* re-joining: listed again, not deleted */
    next_ms();
    assert_int_equal(omtp_db_group_add_members(db, g, &rm, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), t, &gl, &del), 0);
    assert_int_equal(gl.n, 1);
    assert_int_equal(del.n, 0);
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&rm);

    /* dismissal: every member gets the id in deleted; the group is gone */
    next_ms();
    int64_t before = now_ms() - 1;
    assert_int_equal(omtp_db_group_dismiss(db, g), 0);
    assert_int_equal(omtp_db_group_dismiss(db, g), 0); /* idempotent */
    assert_int_equal(omtp_db_group_dismiss(db, id(f, "nogroup")), OMTP_ENOTFOUND);
    const char *who[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(omtp_db_group_sync(db, id(f, who[i]), before, &gl, &del), 0);
        assert_int_equal(gl.n, 0);
        assert_int_equal(del.n, 1);
        assert_string_equal(del.items[0].data, g);
        omtp_str_list_free(&del);
    }
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    assert_true(dismissed);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    tars_str_list m;
    assert_int_equal(omtp_db_group_members(db, g, &m), 0);
    assert_int_equal(m.n, 0);
    bool yes = true;
    assert_int_equal(omtp_db_group_is_member(db, g, id(f, "a"), &yes), 0);
    assert_false(yes);
    strs_set(&rm, 1, rid);
    assert_int_equal(omtp_db_group_add_members(db, g, &rm, &n), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_group_remove_members(db, g, &rm, &n), OMTP_ENOTFOUND);
    omtp_str_list_free(&rm);
    assert_int_equal(omtp_db_group_set_creator(db, g, id(f, "a")), OMTP_ENOTFOUND);
    /* the other group is untouched */
    assert_int_equal(omtp_db_group_sync(db, id(f, "b"), 0, &gl, &del), 0);
    assert_int_equal(gl.n, 1);
    assert_string_equal(gl.items[0].groupId.data, h);
    assert_int_equal(del.n, 1);
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);
}

/* A 10,000-member group: a message costs O(1) writes, members are one scan. */
static void test_group_big(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    enum { N = 10000, MSGS = 200 };
    char g[OMTP_ID_MAX];
    gid(f, g, "big");
    omtp_GroupChatInfo info;
    tars_init(&omtp_GroupChatInfo_desc, &info);
    tars_str_set(&info.groupId, g);
    tars_str_set(&info.name, "big");
    tars_str_set(&info.creatorId, id(f, "owner"));
    tars_str_list l = {0};
    l.items = calloc(N, sizeof(tars_str));
    l.n = N;
    for (int i = 0; i < N; i++) {
        char u[32];
        snprintf(u, sizeof(u), "m%05d", i);
        tars_str_clear(&l.items[i]);
        tars_str_set(&l.items[i], id(f, u));
    }
    uint64_t t0 = uv_hrtime();
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_group_create(db, &info, &l), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    uint64_t t1 = uv_hrtime();
    omtp_str_list_free(&l);
    tars_free(&omtp_GroupChatInfo_desc, &info);

    assert_int_equal(omtp_db_begin(db), 0);
    for (int i = 0; i < MSGS; i++)
        send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "owner"), g, "to all", NULL, 0, NULL);
    assert_int_equal(omtp_db_commit(db), 0);
    uint64_t t2 = uv_hrtime();
    tars_str_list m;
    assert_int_equal(omtp_db_group_members(db, g, &m), 0);
    uint64_t t3 = uv_hrtime();
    assert_int_equal(m.n, N + 1);
    for (uint32_t i = 1; i < m.n; i++)
        assert_true(strcmp(m.items[i - 1].data, m.items[i].data) < 0);
    omtp_str_list_free(&m);
    int count;
    assert_int_equal(omtp_db_group_member_count(db, g, &count), 0);
    assert_int_equal(count, N + 1);
    assert_int_equal(unread_of(f, "m05000", g), MSGS);
    double per_msg_us = (double)(t2 - t1) / 1000.0 / MSGS;
    print_message("10k group: create %.1f ms, append %.1f us/msg, members %.2f ms\n",
                  (double)(t1 - t0) / 1e6, per_msg_us, (double)(t3 - t2) / 1e6);
    /* touching 10k rows per message would cost milliseconds, not microseconds */
    assert_true(per_msg_us < 2000.0);
}

/* One group high-priority entry for every member but `except`: returns its seq. */
static int64_t hpg_add(omtp_db *db, const char *group, const char *except, const char *packId)
{
    omtp_OTIMPack p;
    tars_init(&omtp_OTIMPack_desc, &p);
    p.header.type = PT_MSG_GROUP_CHAT;
    p.header.flags = OMTP_F_HIGHPRJ;
    tars_str_set(&p.header.packId, packId);
    tars_bytes_set(&p.payload, (const uint8_t *)packId, strlen(packId));
    int64_t seq = 0;
    int rc = omtp_db_hp_group_append(db, group, except, &p, &seq);
    tars_free(&omtp_OTIMPack_desc, &p);
    if (rc)
        fail_msg("hp_group_append: %d %s", rc, db->errmsg);
    return seq;
}

/* The packIds of a user's high-priority view after `after`, joined by ','. */
static const char *hp_view(omtp_db *db, const char *user, int64_t after)
{
    static char out[512];
    omtp_hp_rec_list l;
    int64_t last = -1, prev = after;
    out[0] = 0;
    assert_int_equal(omtp_db_hp_list(db, user, after, 200, &l, &last), 0);
    for (uint32_t i = 0; i < l.n; i++) {
        assert_true(l.items[i].seq > prev); /* one increasing order */
        prev = l.items[i].seq;
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "",
                 l.items[i].pack.header.packId.data);
    }
    if (l.n)
        assert_int_equal(last, l.items[l.n - 1].seq);
    omtp_hp_rec_list_free(&l);
    return out;
}

/* Group entries: one row per message; a member sees the entries written
 * while it was a member (not the sender's own), merged with its personal
 * queue in one seq order; joining later hides earlier ones, leaving hides
 * later ones; paging with the cursor skips nothing. */
static void test_hp_group(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *mem[] = {"b", "c"};
    char g[OMTP_ID_MAX], a[OMTP_ID_MAX], b[OMTP_ID_MAX], c[OMTP_ID_MAX], d[OMTP_ID_MAX];
    gid(f, g, "hpg");
    mk_group(f, g, "a", 2, mem);
    snprintf(a, sizeof(a), "%s", id(f, "a"));
    snprintf(b, sizeof(b), "%s", id(f, "b"));
    snprintf(c, sizeof(c), "%s", id(f, "c"));
    snprintf(d, sizeof(d), "%s", id(f, "d"));

    int64_t s1 = hpg_add(db, g, a, "g1"); /* a's HIGHPRJ message: not in a's view */
    int64_t p2 = hp_add(db, b, "p2");     /* b's personal entry in between */
    int64_t s3 = hpg_add(db, g, NULL, "g3");
    assert_true(s1 < p2 && p2 < s3);
    assert_string_equal(hp_view(db, a, 0), "g3");
    assert_string_equal(hp_view(db, b, 0), "g1,p2,g3");
    assert_string_equal(hp_view(db, c, 0), "g1,g3");
    assert_string_equal(hp_view(db, b, s1), "p2,g3");
    assert_string_equal(hp_view(db, b, p2), "g3");
    /* a page of 1 at a time walks the same order */
    omtp_hp_rec_list l;
    int64_t last = 0;
    assert_int_equal(omtp_db_hp_list(db, b, 0, 1, &l, &last), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(last, s1);
    omtp_hp_rec_list_free(&l);
    assert_int_equal(omtp_db_hp_list(db, b, last, 1, &l, &last), 0);
    assert_int_equal(last, p2);
    omtp_hp_rec_list_free(&l);

    /* d joins: sees nothing from before */
    tars_str_list one = {0};
    const char *dv[] = {d};
    strs_set(&one, 1, dv);
    int n = 0;
    assert_int_equal(omtp_db_group_add_members(db, g, &one, &n), 0);
    assert_int_equal(n, 1);
    omtp_str_list_free(&one);
    assert_string_equal(hp_view(db, d, 0), "");
    /* c leaves: keeps what it had, not what comes after */
    const char *cv[] = {c};
    strs_set(&one, 1, cv);
    assert_int_equal(omtp_db_group_remove_members(db, g, &one, &n), 0);
    assert_int_equal(n, 1);
    int64_t s4 = hpg_add(db, g, NULL, "g4");
    assert_true(s4 > s3);
    assert_string_equal(hp_view(db, d, 0), "g4");
    assert_string_equal(hp_view(db, c, 0), "g1,g3");
    assert_string_equal(hp_view(db, b, s3), "g4");
    /* c re-joins: its earlier stay stays visible, the time away does not */
    assert_int_equal(omtp_db_group_add_members(db, g, &one, &n), 0);
    omtp_str_list_free(&one);
    int64_t s5 = hpg_add(db, g, d, "g5");
    assert_string_equal(hp_view(db, c, 0), "g1,g3,g5");
    assert_string_equal(hp_view(db, d, 0), "g4");
    /* c left is no longer reported to group sync */
    omtp_GroupChatInfo_list gl;
    tars_str_list del;
    assert_int_equal(omtp_db_group_sync(db, c, 0, &gl, &del), 0);
    assert_int_equal(gl.n, 1);
    assert_int_equal(del.n, 0);
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);

    /* an entry rolled back with its item is in nobody's view */
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    hpg_add(db, g, NULL, "gone");
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_string_equal(hp_view(db, b, s4), "g5");

    /* dismissal ends every member's span */
    assert_int_equal(omtp_db_group_dismiss(db, g), 0);
    hpg_add(db, g, NULL, "after"); /* the server never does this; the view ignores it */
    assert_string_equal(hp_view(db, b, 0), "g1,p2,g3,g4,g5");
    assert_string_equal(hp_view(db, d, s4), "");
    (void)s5;

    /* retention removes group entries too (after the personal ones) */
    next_ms();
    int64_t cutoff = now_ms();
    int pruned = 0, calls = 0;
    do {
        assert_int_equal(omtp_db_hp_prune(db, cutoff, 5000, &pruned), 0);
        assert_true(++calls < 1000);
    } while (pruned == 5000);
    assert_string_equal(hp_view(db, b, 0), "");
    assert_string_equal(hp_view(db, c, 0), "");
}

/* A dismissal in chunks: each step removes members (logged as left, their
 * high-priority span ended), the group stays live until only the creator is
 * left, then it is dismissed. */
static void test_group_dismiss_step(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *mem[] = {"m1", "m2", "m3", "m4", "m5"};
    char g[OMTP_ID_MAX], m1[OMTP_ID_MAX], m5[OMTP_ID_MAX];
    gid(f, g, "chunky");
    mk_group(f, g, "own", 5, mem);
    snprintf(m1, sizeof(m1), "%s", id(f, "m1"));
    snprintf(m5, sizeof(m5), "%s", id(f, "m5"));
    hpg_add(db, g, NULL, "before");
    int left = -1, count = 0;
    assert_int_equal(omtp_db_group_dismiss_step(db, g, 0, &left), OMTP_EINVAL);
    assert_int_equal(omtp_db_group_dismiss_step(db, g, 2, &left), 0);
    assert_int_equal(left, 1);
    assert_int_equal(omtp_db_group_member_count(db, g, &count), 0);
    assert_int_equal(count, 4); /* m1, m2 gone (user id order) */
    bool yes = true, dismissed = true;
    assert_int_equal(omtp_db_group_is_member(db, g, m1, &yes), 0);
    assert_false(yes);
    omtp_GroupChatInfo info;
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_false(dismissed); /* live between steps */
    hpg_add(db, g, NULL, "between");
    assert_string_equal(hp_view(db, m1, 0), "before");
    assert_string_equal(hp_view(db, m5, 0), "before,between");
    omtp_GroupChatInfo_list gl;
    tars_str_list del;
    assert_int_equal(omtp_db_group_sync(db, m1, 0, &gl, &del), 0);
    assert_int_equal(gl.n, 0);
    assert_int_equal(del.n, 1);
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);
    assert_int_equal(omtp_db_group_dismiss_step(db, g, 2, &left), 0);
    assert_int_equal(left, 1);
    assert_int_equal(omtp_db_group_dismiss_step(db, g, 2, &left), 0);
    assert_int_equal(left, 0);
    assert_int_equal(omtp_db_group_get(db, g, &info, &dismissed), 0);
    tars_free(&omtp_GroupChatInfo_desc, &info);
    assert_true(dismissed);
    assert_int_equal(omtp_db_group_sync(db, id(f, "own"), 0, &gl, &del), 0);
    assert_int_equal(gl.n, 0);
    assert_int_equal(del.n, 1);
    omtp_list_free(&omtp_GroupChatInfo_desc, &gl);
    omtp_str_list_free(&del);
    assert_string_equal(hp_view(db, m5, 0), "before,between");
    /* again: a no-op; an unknown group: not found */
    assert_int_equal(omtp_db_group_dismiss_step(db, g, 2, &left), 0);
    assert_int_equal(left, 0);
    assert_int_equal(omtp_db_group_dismiss_step(db, "GC_nonexistent_x", 2, &left), OMTP_ENOTFOUND);
}

/* --------------------------------------------------------------- friends */

static void test_friends(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *a = id(f, "a"), *b = id(f, "b"), *c = id(f, "c");
    char A[OMTP_ID_MAX], B[OMTP_ID_MAX], C[OMTP_ID_MAX];
    snprintf(A, sizeof(A), "%s", a);
    snprintf(B, sizeof(B), "%s", b);
    snprintf(C, sizeof(C), "%s", c);
    int64_t t0 = now_ms() - 1;
    assert_int_equal(omtp_db_friend_add(db, A, B, "bee"), 0);
    assert_int_equal(omtp_db_friend_add(db, A, C, "sea"), 0);
    assert_int_equal(omtp_db_friend_add(db, A, A, "me"), OMTP_EINVAL);
    bool yes = false;
    assert_int_equal(omtp_db_friend_is(db, A, B, &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_friend_is(db, B, A, &yes), 0); /* mutual */
    assert_true(yes);
    assert_int_equal(omtp_db_friend_is(db, B, C, &yes), 0);
    assert_false(yes);

    omtp_FriendInfo_list l;
    bool changed = false;
    assert_int_equal(omtp_db_friend_list(db, A, t0, &l, &changed), 0);
    assert_true(changed);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].userId.data, A);
    assert_string_equal(l.items[0].friendId.data, B);
    assert_string_equal(l.items[0].remark.data, "bee");
    assert_string_equal(l.items[1].friendId.data, C);
    omtp_list_free(&omtp_FriendInfo_desc, &l);
    assert_int_equal(omtp_db_friend_list(db, B, t0, &l, &changed), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].friendId.data, A);
    assert_string_equal(l.items[0].remark.data, ""); /* b's remark is b's own */
    omtp_list_free(&omtp_FriendInfo_desc, &l);
    /* b sets a remark: a's stays */
    assert_int_equal(omtp_db_friend_add(db, B, A, "ay"), 0);
    assert_int_equal(omtp_db_friend_list(db, A, t0, &l, &changed), 0);
    assert_string_equal(l.items[0].remark.data, "bee");
    omtp_list_free(&omtp_FriendInfo_desc, &l);
    assert_int_equal(omtp_db_friend_list(db, B, t0, &l, &changed), 0);
    assert_string_equal(l.items[0].remark.data, "ay");
    omtp_list_free(&omtp_FriendInfo_desc, &l);

    /* nothing after now */
    next_ms();
    int64_t t1 = now_ms();
    next_ms();
    assert_int_equal(omtp_db_friend_list(db, A, t1, &l, &changed), 0);
    assert_false(changed);
    assert_int_equal(l.n, 2); /* the full list regardless */
    omtp_list_free(&omtp_FriendInfo_desc, &l);

    /* delete: both directions, tombstoned so sync sees a change */
    assert_int_equal(omtp_db_friend_del(db, B, A), 0);
    assert_int_equal(omtp_db_friend_del(db, B, A), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_friend_is(db, A, B, &yes), 0);
    assert_false(yes);
    assert_int_equal(omtp_db_friend_is(db, B, A, &yes), 0);
    assert_false(yes);
    assert_int_equal(omtp_db_friend_list(db, A, t1, &l, &changed), 0);
    assert_true(changed);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].friendId.data, C);
    omtp_list_free(&omtp_FriendInfo_desc, &l);
    assert_int_equal(omtp_db_friend_list(db, B, t1, &l, &changed), 0);
    assert_true(changed);
    assert_int_equal(l.n, 0);
    /* re-adding works */
    assert_int_equal(omtp_db_friend_add(db, B, A, "again"), 0);
    assert_int_equal(omtp_db_friend_is(db, A, B, &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_friend_list(db, A, t1, &l, &changed), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].remark.data, ""); /* the old remark died with the friendship */
    omtp_list_free(&omtp_FriendInfo_desc, &l);
}

/* ----------------------------------------------------- user attributes */

static void attr(fx *f, const char *u, const char *fr, const char *n, const char *v)
{
    omtp_UserAttribute a;
    tars_init(&omtp_UserAttribute_desc, &a);
    tars_str_set(&a.userId, id(f, u));
    tars_str_set(&a.friendId, id(f, fr));
    tars_str_set(&a.attrName, n);
    tars_str_set(&a.attrValue, v);
    assert_int_equal(omtp_db_user_attr_set(f->db, &a), 0);
    tars_free(&omtp_UserAttribute_desc, &a);
}

/* rows of the result that belong to this test */
static int mine(fx *f, const omtp_UserAttribute_list *l)
{
    int n = 0;
    for (uint32_t i = 0; i < l->n; i++)
        n += strncmp(l->items[i].userId.data, f->p, strlen(f->p)) == 0 &&
             l->items[i].userId.data[strlen(f->p)] == '-';
    return n;
}

static void test_user_attrs(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    attr(f, "a", "b", "remark", "x");
    attr(f, "a", "b", "star", "1");
    attr(f, "a", "c", "remark", "y");
    attr(f, "z", "b", "remark", "q");
    attr(f, "a", "b", "remark", "x2"); /* overwrite */
    omtp_UserAttribute_list l;
    char A[OMTP_ID_MAX], B[OMTP_ID_MAX];
    snprintf(A, sizeof(A), "%s", id(f, "a"));
    snprintf(B, sizeof(B), "%s", id(f, "b"));
    assert_int_equal(omtp_db_user_attr_get(db, A, NULL, NULL, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].friendId.data, B);
    assert_string_equal(l.items[0].attrName.data, "remark");
    assert_string_equal(l.items[0].attrValue.data, "x2");
    assert_string_equal(l.items[1].attrName.data, "star");
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, A, B, "", &l), 0);
    assert_int_equal(l.n, 2);
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, A, "", "remark", &l), 0);
    assert_int_equal(l.n, 2);
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, A, B, "star", &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].attrValue.data, "1");
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, "", B, NULL, &l), 0);
    assert_int_equal(l.n, 3); /* a's two and z's one */
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, NULL, B, "remark", &l), 0);
    assert_int_equal(l.n, 2);
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, NULL, NULL, "remark", &l), 0);
    assert_int_equal(mine(f, &l), 3);
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, NULL, NULL, NULL, &l), 0);
    assert_int_equal(mine(f, &l), 4);
    omtp_list_free(&omtp_UserAttribute_desc, &l);
    assert_int_equal(omtp_db_user_attr_get(db, id(f, "nobody"), NULL, NULL, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_UserAttribute bad;
    tars_init(&omtp_UserAttribute_desc, &bad);
    tars_str_set(&bad.userId, A);
    assert_int_equal(omtp_db_user_attr_set(db, &bad), OMTP_EINVAL); /* no name */
    tars_free(&omtp_UserAttribute_desc, &bad);
}

/* ------------------------------------------------- ids and user rename */

/* A session's parties are stored with it: a message of other users is
 * refused, whatever the session id spells (the SC_x_y_z collision). */
static void test_session_parties(void **state)
{
    fx *f = *state;
    char s[OMTP_ID_MAX * 2];
    snprintf(s, sizeof s, "%s", sc(f, "a", "b"));
    say(f, "a", "b", "hi");
    say(f, "b", "a", "hi back");
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, "intruder");
    tars_str_set(&m.msg.sessionId, s);
    tars_str_set(&m.msg.from, id(f, "c"));
    tars_str_set(&m.msg.to, id(f, "b"));
    tars_str_set(&m.msg.content, "mine now");
    bool dup = false;
    assert_int_equal(omtp_db_msg_append(f->db, &m, &dup), OMTP_EINVAL);
    omtp_msg_rec_free(&m);
    assert_false(member(f, "c", s));
    int64_t last = 0;
    assert_int_equal(omtp_db_session_last_seq(f->db, s, &last), 0);
    assert_int_equal(last, 2);
}

static void msg_of(fx *f, const char *sid, int64_t seq, const char *from, const char *to,
                   const char *content)
{
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(f->db, sid, seq, &m), 0);
    assert_string_equal(m.msg.from.data, from);
    assert_string_equal(m.msg.to.data, to);
    assert_string_equal(m.msg.content.data, content);
    omtp_msg_rec_free(&m);
}

static int64_t cursor_of(fx *f, const char *user, const char *sid)
{
    omtp_hot_rec_list l = {0};
    assert_int_equal(omtp_db_hot_session_get(f->db, user, sid, &l), 0);
    assert_int_equal(l.n, 1);
    int64_t r = l.items[0].readSeqId;
    omtp_hot_rec_list_free(&l);
    return r;
}

static int rename_user(fx *f, const char *from, const char *to, omtp_rename_stats *st)
{
    char why[512];
    assert_int_equal(omtp_db_begin(f->db), 0);
    int rc = omtp_store_user_rename(f->db, from, to, why, sizeof why, st);
    if (rc == 0)
        assert_int_equal(omtp_db_commit(f->db), 0);
    else
        assert_int_equal(omtp_db_rollback(f->db), 0);
    return rc;
}

/* rename moves every table's rows, keeps a whole conversation's numbers */
static void test_user_rename(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char A[OMTP_ID_MAX], B[OMTP_ID_MAX], N[OMTP_ID_MAX], APP[OMTP_ID_MAX];
    snprintf(A, sizeof A, "%s", id(f, "a"));
    snprintf(B, sizeof B, "%s", id(f, "b"));
    snprintf(N, sizeof N, "%s", id(f, "n"));
    snprintf(APP, sizeof APP, "%s", id(f, "app"));
    mk_user(f, "a", "hash-a");
    mk_user(f, "b", "hash-b");
    mk_user(f, "c", "hash-c");
    assert_int_equal(omtp_db_user_set_role(db, A, OMTP_ROLE_MONITOR), 0);
    char old_ab[OMTP_ID_MAX * 2], new_nb[OMTP_ID_MAX * 2], bm_old[OMTP_ID_MAX * 2],
        bm_new[OMTP_ID_MAX * 2], g[OMTP_ID_MAX];
    assert_int_equal(omtp_session_single(A, B, old_ab, sizeof old_ab), 0);
    assert_int_equal(omtp_session_single(N, B, new_nb, sizeof new_nb), 0);
    assert_int_equal(omtp_session_biz(APP, A, bm_old, sizeof bm_old), 0);
    assert_int_equal(omtp_session_biz(APP, N, bm_new, sizeof bm_new), 0);
    say(f, "a", "b", "one");
    say(f, "b", "a", "two");
    say(f, "a", "b", "three");
    say(f, "a", "c", "to c");
    send_full(f, PT_MSG_BIZ_NOTIFY, bm_old, APP, A, "notice", NULL, 0, NULL);
    const char *mem[] = {"b"};
    gid(f, g, "g");
    mk_group(f, g, "a", 1, mem);
    send_full(f, PT_MSG_GROUP_CHAT, g, A, g, "in group", NULL, 0, NULL);
    int64_t now = 0;
    assert_int_equal(omtp_db_read_set(db, B, old_ab, 2, &now), 0);
    assert_int_equal(omtp_db_read_set(db, A, old_ab, 1, &now), 0);
    assert_int_equal(omtp_db_friend_add(db, A, B, "bee"), 0);
    attr(f, "a", "b", "remark", "B!");
    attr(f, "b", "a", "remark", "A!");
    assert_int_equal(omtp_db_session_attr_set(db, A, old_ab, "pin", "1"), 0);
    hp_add(db, A, "hp-1");

    /* refusals first: nothing changes */
    assert_int_equal(rename_user(f, A, B, NULL), OMTP_EEXIST);
    assert_int_equal(rename_user(f, id(f, "nobody"), N, NULL), OMTP_ENOTFOUND);
    omtp_rename_stats st = {0};
    assert_int_equal(rename_user(f, A, N, &st), 0);
    assert_int_equal(st.split_sessions, 0);
    assert_true(st.moved_sessions >= 3); /* with b, with c, the notice */

    omtp_user_rec u;
    assert_int_equal(omtp_db_user_get(db, A, &u), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, N, &u), 0);
    assert_string_equal(u.pwHash.data, "hash-a");
    assert_int_equal(u.role, OMTP_ROLE_MONITOR);
    omtp_user_rec_free(&u);
    /* the conversation with b: same numbers, new id, names mapped */
    msg_of(f, new_nb, 1, N, B, "one");
    msg_of(f, new_nb, 2, B, N, "two");
    msg_of(f, new_nb, 3, N, B, "three");
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(db, old_ab, 1, &m), OMTP_ENOTFOUND);
    assert_true(member(f, "n", new_nb));
    assert_true(member(f, "b", new_nb));
    assert_false(member(f, "a", old_ab));
    assert_false(member(f, "b", old_ab));
    assert_int_equal(cursor_of(f, B, new_nb), 2);
    assert_int_equal(cursor_of(f, N, new_nb), 1);
    omtp_hot_rec_list hl = {0};
    assert_int_equal(omtp_db_hot_session_get(db, N, new_nb, &hl), 0);
    assert_non_null(strstr(hl.items[0].attribute.data, "pin"));
    omtp_hot_rec_list_free(&hl);
    /* it goes on: the stored parties are the new names */
    assert_int_equal(send_full(f, PT_MSG_SINGLE_CHAT, new_nb, B, N, "four", NULL, 0, NULL), 4);
    /* search follows the moved messages: found under their new session */
    omtp_msg_rec_list sl;
    assert_int_equal(search_n(f, "n", NULL, "three", 0, 20, &sl), 1);
    assert_string_equal(sl.items[0].msg.sessionId.data, new_nb);
    assert_int_equal(sl.items[0].msg.seqId, 3);
    omtp_msg_rec_list_free(&sl);
    /* the business session and the group */
    char s2[OMTP_ID_MAX * 2];
    assert_int_equal(omtp_session_single(N, id(f, "c"), s2, sizeof s2), 0);
    msg_of(f, s2, 1, N, id(f, "c"), "to c");
    msg_of(f, bm_new, 1, APP, N, "notice");
    assert_true(member(f, "n", bm_new));
    msg_of(f, g, 1, N, g, "in group");
    omtp_GroupChatInfo gi;
    bool dismissed;
    tars_init(&omtp_GroupChatInfo_desc, &gi);
    assert_int_equal(omtp_db_group_get(db, g, &gi, &dismissed), 0);
    assert_string_equal(gi.creatorId.data, N);
    tars_free(&omtp_GroupChatInfo_desc, &gi);
    bool yes = false;
    assert_int_equal(omtp_db_group_is_member(db, g, N, &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_group_is_member(db, g, A, &yes), 0);
    assert_false(yes);
    /* friends both ways, attributes both sides, the high-priority queue */
    assert_int_equal(omtp_db_friend_is(db, N, B, &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_friend_is(db, B, N, &yes), 0);
    assert_true(yes);
    assert_int_equal(omtp_db_friend_is(db, B, A, &yes), 0);
    assert_false(yes);
    omtp_UserAttribute_list al = {0};
    assert_int_equal(omtp_db_user_attr_get(db, N, B, "remark", &al), 0);
    assert_int_equal(al.n, 1);
    omtp_list_free(&omtp_UserAttribute_desc, &al);
    assert_int_equal(omtp_db_user_attr_get(db, B, N, "remark", &al), 0);
    assert_int_equal(al.n, 1);
    omtp_list_free(&omtp_UserAttribute_desc, &al);
    omtp_hp_rec_list hp = {0};
    int64_t last = 0;
    assert_int_equal(omtp_db_hp_list(db, N, 0, 10, &hp, &last), 0);
    assert_int_equal(hp.n, 1);
    omtp_hp_rec_list_free(&hp);
    assert_int_equal(omtp_db_hp_list(db, A, 0, 10, &hp, &last), 0);
    assert_int_equal(hp.n, 0);
    omtp_hp_rec_list_free(&hp);
}

/* The attack's layout: x -> m_z and x_m -> z share one session id (made by
 * hand: the store refuses the second conversation). Renaming takes it apart:
 * each conversation in its own session, numbered 1..n, cursors mapped, no
 * one a member of the other's. */
static void test_user_rename_split(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char x[64], yz[64], xy[64], z[64], s[OMTP_ID_MAX * 2];
    snprintf(x, sizeof x, "a%s", f->p);
    snprintf(yz, sizeof yz, "m_z%s", f->p);
    snprintf(xy, sizeof xy, "a%s_m", f->p);
    snprintf(z, sizeof z, "z%s", f->p);
    snprintf(s, sizeof s, "SC_%s_%s", x, yz);
    char s2[OMTP_ID_MAX * 2];
    snprintf(s2, sizeof s2, "SC_%s_%s", xy, z);
    /* (f->p is short: every id here is far below OMTP_ID_MAX) */
    assert_string_equal(s, s2); /* the collision */
    send_full(f, PT_MSG_SINGLE_CHAT, s, x, yz, "private 1", NULL, 0, NULL);
    send_full(f, PT_MSG_SINGLE_CHAT, s, yz, x, "private 2", NULL, 0, NULL);
    char pk[64];
    snprintf(pk, sizeof pk, "%s-intrude", f->p);
    const char *p[] = {s, xy, z, pk};
    assert_int_equal(omtp_db_raw_sql(db,
                                     "INSERT INTO messages(session_id, seq, type, flags, pack_id, "
                                     "from_id, to_id, push_info, content_type, content, status, "
                                     "ts_ms) VALUES (?1, 3, 14, 0, ?4, ?2, ?3, '', 0, 'theirs', 0, "
                                     "1)",
                                     4, p, NULL, NULL, NULL),
                     0);
    assert_int_equal(omtp_db_raw_sql(db, "UPDATE sessions SET last_seq = 3 WHERE session_id = ?1",
                                     1, p, NULL, NULL, NULL),
                     0);
    assert_int_equal(omtp_db_raw_sql(db,
                                     "INSERT INTO members(user_id, session_id, read_seq, "
                                     "changed_us, joined_ms) VALUES (?2, ?1, 3, 1, 1), "
                                     "(?3, ?1, 0, 1, 1)",
                                     3, p, NULL, NULL, NULL),
                     0);
    int64_t now = 0;
    assert_int_equal(omtp_db_read_set(db, yz, s, 2, &now), 0);
    /* the leak that was: z is a member of the session with x's messages */
    bool yes = false;
    assert_int_equal(omtp_db_session_member(db, z, s, &yes), 0);
    assert_true(yes);

    char nyz[64], nxy[64], t1[OMTP_ID_MAX * 2], t2[OMTP_ID_MAX * 2];
    snprintf(nyz, sizeof nyz, "mz%s", f->p);
    snprintf(nxy, sizeof nxy, "a%s-m", f->p);
    omtp_rename_stats st = {0};
    assert_int_equal(rename_user(f, yz, nyz, &st), 0);
    assert_int_equal(st.split_sessions, 1);
    assert_int_equal(rename_user(f, xy, nxy, &st), 0);
    assert_int_equal(omtp_session_single(x, nyz, t1, sizeof t1), 0);
    assert_int_equal(omtp_session_single(nxy, z, t2, sizeof t2), 0);
    msg_of(f, t1, 1, x, nyz, "private 1");
    msg_of(f, t1, 2, nyz, x, "private 2");
    msg_of(f, t2, 1, nxy, z, "theirs");
    int64_t last = 0;
    assert_int_equal(omtp_db_session_last_seq(db, t1, &last), 0);
    assert_int_equal(last, 2);
    assert_int_equal(omtp_db_session_last_seq(db, t2, &last), 0);
    assert_int_equal(last, 1);
    assert_int_equal(omtp_db_session_last_seq(db, s, &last), OMTP_ENOTFOUND);
    const char *in1[] = {x, nyz}, *in2[] = {nxy, z};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(omtp_db_session_member(db, in1[i], t1, &yes), 0);
        assert_true(yes);
        assert_int_equal(omtp_db_session_member(db, in1[i], t2, &yes), 0);
        assert_false(yes);
        assert_int_equal(omtp_db_session_member(db, in2[i], t2, &yes), 0);
        assert_true(yes);
        assert_int_equal(omtp_db_session_member(db, in2[i], t1, &yes), 0);
        assert_false(yes);
    }
    assert_int_equal(cursor_of(f, nyz, t1), 2);
    assert_int_equal(cursor_of(f, nxy, t2), 1);
    assert_int_equal(cursor_of(f, z, t2), 0);
    /* both go on with the next numbers, and no id is left to rename */
    assert_int_equal(send_full(f, PT_MSG_SINGLE_CHAT, t1, x, nyz, "p3", NULL, 0, NULL), 3);
    assert_int_equal(send_full(f, PT_MSG_SINGLE_CHAT, t2, z, nxy, "t2", NULL, 0, NULL), 2);
}

/* ------------------------------------------- extensions: refs, reactions */

/* replyTo and mentions are stored with the message; a mention shows in the
 * member's hot session while it is above the read cursor; "@all" (users
 * NULL) marks every member but the sender */
static void test_ext_refs_mentions(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char g[OMTP_ID_MAX];
    gid(f, g, "g");
    const char *mem[] = {"b", "c"};
    mk_group(f, g, "a", 2, mem);
    assert_int_equal(send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "a"), g, "one", NULL, 0, NULL), 1);
    assert_int_equal(send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "a"), g, "two", NULL, 0, NULL), 2);
    tars_str_list ment = {0};
    const char *who[] = {id(f, "b")};
    strs_set(&ment, 1, who);
    assert_int_equal(omtp_db_msg_refs_set(db, g, 2, 1, &ment), 0);
    assert_int_equal(omtp_db_msg_refs_set(db, g, 99, 1, &ment), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_mention_mark(db, g, 2, &ment, id(f, "a")), 0);
    omtp_str_list_free(&ment);
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(db, g, 2, &m), 0);
    assert_int_equal(m.msg.replyTo, 1);
    assert_int_equal(m.msg.mentions.n, 1);
    assert_string_equal(m.msg.mentions.items[0].data, id(f, "b"));
    omtp_msg_rec_free(&m);
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_history(db, g, 0, 10, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].msg.replyTo, 1);
    assert_int_equal(l.items[1].msg.replyTo, 0);
    assert_int_equal(l.items[1].msg.mentions.n, 0);
    omtp_msg_rec_list_free(&l);
    int64_t seq = -1;
    assert_int_equal(omtp_db_mention_seq(db, id(f, "b"), g, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "c"), g, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "nobody"), g, &seq), 0);
    assert_int_equal(seq, 0);
    /* read past it: gone */
    int64_t now = 0;
    assert_int_equal(omtp_db_read_set(db, id(f, "b"), g, 2, &now), 0);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "b"), g, &seq), 0);
    assert_int_equal(seq, 0);
    /* @all: every member but the sender */
    assert_int_equal(send_full(f, PT_MSG_GROUP_CHAT, g, id(f, "a"), g, "all", NULL, 0, NULL), 3);
    assert_int_equal(omtp_db_mention_mark(db, g, 3, NULL, id(f, "a")), 0);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "b"), g, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "c"), g, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "a"), g, &seq), 0);
    assert_int_equal(seq, 0);
    /* an older mention never replaces a newer one */
    tars_str_list c = {0};
    const char *cw[] = {id(f, "c")};
    strs_set(&c, 1, cw);
    assert_int_equal(omtp_db_mention_mark(db, g, 1, &c, id(f, "a")), 0);
    omtp_str_list_free(&c);
    assert_int_equal(omtp_db_mention_seq(db, id(f, "c"), g, &seq), 0);
    assert_int_equal(seq, 3);
}

static void test_ext_reactions(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    const char *s = sc(f, "a", "b");
    assert_int_equal(say(f, "a", "b", "hi"), 1);
    assert_int_equal(say(f, "b", "a", "yo"), 2);
    const char *up = "\xf0\x9f\x91\x8d", *heart = "\xe2\x9d\xa4";
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "b"), up, 2), 0);
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "a"), up, 2), 0);
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "a"), up, 2), OMTP_EEXIST);
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "a"), heart, 2), 0);
    /* a third distinct emoji is over the cap of 2; an existing one is not */
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "a"), "x", 2), OMTP_ETOOBIG);
    assert_int_equal(omtp_db_reaction_add(db, s, 1, id(f, "b"), heart, 2), 0);
    assert_int_equal(omtp_db_reaction_add(db, s, 2, id(f, "a"), "x", 2), 0);
    omtp_reaction_rec_list rl;
    assert_int_equal(omtp_db_reactions_list(db, s, 1, 2, &rl), 0);
    assert_int_equal(rl.n, 5);
    /* by message, then oldest first */
    assert_int_equal(rl.items[0].seq, 1);
    assert_string_equal(rl.items[0].userId.data, id(f, "b"));
    assert_string_equal(rl.items[0].emoji.data, up);
    assert_string_equal(rl.items[1].userId.data, id(f, "a"));
    assert_string_equal(rl.items[2].emoji.data, heart);
    assert_int_equal(rl.items[4].seq, 2);
    omtp_reaction_rec_list_free(&rl);
    assert_int_equal(omtp_db_reaction_del(db, s, 1, id(f, "a"), up), 0);
    assert_int_equal(omtp_db_reaction_del(db, s, 1, id(f, "a"), up), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_reaction_del(db, s, 2, id(f, "b"), "x"), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_reactions_list(db, s, 1, 1, &rl), 0);
    assert_int_equal(rl.n, 3);
    omtp_reaction_rec_list_free(&rl);
    assert_int_equal(omtp_db_reactions_list(db, id(f, "none"), 1, 100, &rl), 0);
    assert_int_equal(rl.n, 0);
    omtp_reaction_rec_list_free(&rl);
}

/* ---------------------------------------- presence and read receipts */

static void test_presence_and_readers(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    char A[OMTP_ID_MAX], B[OMTP_ID_MAX], C[OMTP_ID_MAX], D[OMTP_ID_MAX], g[OMTP_ID_MAX + 8];
    snprintf(A, sizeof A, "%s", id(f, "a"));
    snprintf(B, sizeof B, "%s", id(f, "b"));
    snprintf(C, sizeof C, "%s", id(f, "c"));
    snprintf(D, sizeof D, "%s", id(f, "d"));
    const char *mem[] = {"c", "d"};
    gid(f, g, "pg");
    mk_group(f, g, "a", 2, mem); /* a (creator), c, d */
    assert_int_equal(omtp_db_friend_add(db, A, B, ""), 0);
    /* b hides its last-seen (an attribute about itself) */
    omtp_UserAttribute at;
    tars_init(&omtp_UserAttribute_desc, &at);
    tars_str_set(&at.userId, B);
    tars_str_set(&at.friendId, B);
    tars_str_set(&at.attrName, "presence.lastSeen");
    tars_str_set(&at.attrValue, "hidden");
    assert_int_equal(omtp_db_user_attr_set(db, &at), 0);
    tars_free(&omtp_UserAttribute_desc, &at);

    /* a sees b (friend, hidden), c (shared group); not e (stranger) */
    tars_str_list l = {0};
    const char *ids[] = {B, C, id(f, "e")};
    strs_set(&l, 3, ids);
    uint8_t fl[3];
    assert_int_equal(omtp_db_presence_visible(db, A, &l, fl), 0);
    assert_int_equal(fl[0], OMTP_PRES_VISIBLE | OMTP_PRES_HIDDEN);
    assert_int_equal(fl[1], OMTP_PRES_VISIBLE);
    assert_int_equal(fl[2], 0);
    omtp_str_list_free(&l);
    /* b shares nothing with c */
    const char *ids2[] = {C};
    strs_set(&l, 1, ids2);
    assert_int_equal(omtp_db_presence_visible(db, B, &l, fl), 0);
    assert_int_equal(fl[0], 0);
    omtp_str_list_free(&l);

    /* read receipts: a sends 2 messages, c reads the first */
    int64_t s1 = send_full(f, PT_MSG_GROUP_CHAT, g, A, g, "one", NULL, 0, NULL);
    int64_t s2 = send_full(f, PT_MSG_GROUP_CHAT, g, A, g, "two", NULL, 0, NULL);
    int64_t now = 0;
    assert_int_equal(omtp_db_read_set(db, C, g, s1, &now), 0);
    tars_str_list rd, un;
    assert_int_equal(omtp_db_session_readers(db, g, s1, A, &rd, &un), 0);
    assert_int_equal(rd.n, 1);
    assert_string_equal(rd.items[0].data, C);
    assert_int_equal(un.n, 1);
    assert_string_equal(un.items[0].data, D);
    omtp_str_list_free(&rd);
    omtp_str_list_free(&un);
    assert_int_equal(omtp_db_session_readers(db, g, s2, NULL, &rd, &un), 0);
    assert_int_equal(rd.n + un.n, 3); /* nobody excepted: a, c, d */
    omtp_str_list_free(&rd);
    omtp_str_list_free(&un);
}

/* ------------------------------------------------- batch append (store.h) */

/* A row of a batch append: a message (packId NULL = a fresh one). */
static omtp_msg_rec *bmsg(fx *f, int type, const char *session, const char *from, const char *to,
                          const char *content, const char *packId)
{
    static unsigned pk;
    char pid[64];
    if (!packId) {
        snprintf(pid, sizeof(pid), "%s-bk-%u", f->p, ++pk);
        packId = pid;
    }
    omtp_msg_rec *m = calloc(1, sizeof(*m));
    omtp_msg_rec_init(m);
    m->type = type;
    tars_str_set(&m->packId, packId);
    tars_str_set(&m->msg.sessionId, session);
    tars_str_set(&m->msg.from, from);
    tars_str_set(&m->msg.to, to);
    tars_str_set(&m->msg.content, content);
    tars_str_set(&m->msg.pushInfo, "push");
    m->msg.contentType = 1;
    return m;
}

static void batch_run(fx *f, omtp_append_req *r, omtp_append_req **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = &r[i];
    assert_int_equal(omtp_db_begin(f->db), 0);
    assert_int_equal(omtp_db_msg_append_batch(f->db, p, n), 0);
    assert_int_equal(omtp_db_commit(f->db), 0);
}

static void batch_free(omtp_append_req *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        omtp_msg_rec_free(r[i].m);
        free(r[i].m);
    }
}

static int64_t last_of(fx *f, const char *sid)
{
    int64_t last = -1;
    int rc = omtp_db_session_last_seq(f->db, sid, &last);
    return rc == OMTP_ENOTFOUND ? 0 : (assert_int_equal(rc, 0), last);
}

/* One batch with every kind of row: new messages of two sessions
 * interleaved, a dup of an earlier batch, a dup of an earlier row of the
 * same batch, a refused row (unknown recipient), a row for a session stored
 * with other parties. Each row gets the outcome it would get alone, in
 * order; seqIds stay gap-free per session; nothing refused is written. */
static void test_batch_append_mixed(void **state)
{
    fx *f = *state;
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        mk_user(f, names[i], "pw");
    char ab[OMTP_ID_MAX * 2], cd[OMTP_ID_MAX * 2], ae[OMTP_ID_MAX * 2], ghost[OMTP_ID_MAX * 2];
    snprintf(ab, sizeof ab, "%s", sc(f, "a", "b"));
    snprintf(cd, sizeof cd, "%s", sc(f, "c", "d"));
    snprintf(ae, sizeof ae, "%s", sc(f, "a", "e"));
    snprintf(ghost, sizeof ghost, "%s", sc(f, "a", "ghost"));
    char p1[64], x1[64];
    snprintf(p1, sizeof p1, "%s-p1", f->p);
    snprintf(x1, sizeof x1, "%s-x1", f->p);
    const int SC = PT_MSG_SINGLE_CHAT;
    const unsigned R = OMTP_APPEND_CHK_RECIPIENT;

    /* an earlier batch: "old" in a-b */
    omtp_append_req r0[1] = {
        {bmsg(f, SC, ab, id(f, "a"), id(f, "b"), "old", p1), R, 0, 0, 0, false}};
    omtp_append_req *p0[1];
    batch_run(f, r0, p0, 1);
    assert_int_equal(r0[0].status, 0);
    assert_false(r0[0].dup);
    assert_int_equal(r0[0].m->msg.seqId, 1);

    omtp_append_req r[9] = {
        {bmsg(f, SC, ab, id(f, "a"), id(f, "b"), "m1", x1), R, 0, 0, 0, false},   /* new: ab 2 */
        {bmsg(f, SC, ab, id(f, "a"), id(f, "b"), "old", p1), R, 0, 0, 0, false},  /* dup: ab 1 */
        {bmsg(f, SC, cd, id(f, "c"), id(f, "d"), "m2", NULL), R, 0, 0, 0, false}, /* new: cd 1 */
        {bmsg(f, SC, ab, id(f, "a"), id(f, "b"), "m1", x1), R, 0, 0, 0, false},   /* dup of 0 */
        {bmsg(f, SC, ghost, id(f, "a"), id(f, "ghost"), "?", NULL), R, 0, 0, 0,
         false}, /* refused */
        {bmsg(f, SC, cd, id(f, "d"), id(f, "c"), "m3-third", NULL), R, 0, 0, 0,
         false},                                                                  /* new: cd 2 */
        {bmsg(f, SC, ab, id(f, "b"), id(f, "a"), "m4", NULL), R, 0, 0, 0, false}, /* new: ab 3 */
        {bmsg(f, SC, ab, id(f, "e"), id(f, "b"), "mine", NULL), R, 0, 0, 0,
         false}, /* other parties */
        {bmsg(f, SC, ae, id(f, "e"), id(f, "a"), "m5", NULL), R, 0, 0, 0, false}, /* new: ae 1 */
    };
    omtp_append_req *p[9];
    batch_run(f, r, p, 9);
    /* new rows: the next numbers of their sessions, in row order */
    int64_t want_seq[9] = {2, 1, 1, 2, 0, 2, 3, 0, 1};
    bool want_dup[9] = {false, true, false, true, false, false, false, false, false};
    for (int i = 0; i < 9; i++) {
        if (i == 4) {
            assert_int_equal(r[i].refused, OMTP_APPEND_NO_RECIPIENT);
            continue;
        }
        assert_int_equal(r[i].refused, OMTP_APPEND_OK);
        if (i == 7) {
            assert_int_equal(r[i].status, OMTP_EINVAL);
            continue;
        }
        assert_int_equal(r[i].status, 0);
        assert_int_equal(r[i].dup, want_dup[i]);
        assert_int_equal(r[i].m->msg.seqId, want_seq[i]);
        assert_true(r[i].m->msg.timestamp > 1600000000000LL);
    }
    /* a dup answers with the original */
    assert_string_equal(r[1].m->msg.content.data, "old");
    assert_string_equal(r[3].m->msg.content.data, "m1");
    assert_int_equal(last_of(f, ab), 3);
    assert_int_equal(last_of(f, cd), 2);
    assert_int_equal(last_of(f, ae), 1);
    assert_int_equal(last_of(f, ghost), 0);
    msg_of(f, ab, 2, id(f, "a"), id(f, "b"), "m1");
    msg_of(f, ab, 3, id(f, "b"), id(f, "a"), "m4");
    msg_of(f, cd, 1, id(f, "c"), id(f, "d"), "m2");
    msg_of(f, cd, 2, id(f, "d"), id(f, "c"), "m3-third");
    /* membership rows: both users of each stored chat, nobody else */
    assert_true(member(f, "c", cd));
    assert_true(member(f, "d", cd));
    assert_true(member(f, "e", ae));
    assert_false(member(f, "e", ab));
    assert_int_equal(unread_of(f, "b", ab), 2); /* old, m1 */
    assert_int_equal(unread_of(f, "a", ab), 1); /* m4 */
    /* search sees batch-stored text */
    omtp_msg_rec_list sl = {0};
    assert_int_equal(search_n(f, "c", NULL, "third", 0, 10, &sl), 1);
    omtp_msg_rec_list_free(&sl);
    batch_free(r0, 1);
    batch_free(r, 9);
}

/* The send checks of a batch: sender, recipient, friendship, group,
 * membership, dismissed group -- refused rows write nothing, the others are
 * stored. */
static void test_batch_append_checks(void **state)
{
    fx *f = *state;
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        mk_user(f, names[i], "pw");
    char g[OMTP_ID_MAX], g2[OMTP_ID_MAX], nog[OMTP_ID_MAX];
    gid(f, g, "g");
    gid(f, g2, "g2");
    gid(f, nog, "nog");
    const char *mem[] = {"a", "b"};
    mk_group(f, g, "a", 2, mem);
    mk_group(f, g2, "a", 2, mem);
    assert_int_equal(omtp_db_group_dismiss(f->db, g2), 0);
    assert_int_equal(omtp_db_friend_add(f->db, id(f, "a"), id(f, "c"), ""), 0);
    char ab[OMTP_ID_MAX * 2], ac[OMTP_ID_MAX * 2];
    snprintf(ab, sizeof ab, "%s", sc(f, "a", "b"));
    snprintf(ac, sizeof ac, "%s", sc(f, "a", "c"));
    const int SC = PT_MSG_SINGLE_CHAT, GC = PT_MSG_GROUP_CHAT;
    const unsigned R = OMTP_APPEND_CHK_RECIPIENT, F = OMTP_APPEND_CHK_FRIENDS,
                   G = OMTP_APPEND_CHK_GROUP, S = OMTP_APPEND_CHK_SENDER;
    omtp_append_req r[8] = {
        {bmsg(f, GC, g, id(f, "a"), g, "g1", NULL), G, 0, 0, 0, false},
        {bmsg(f, GC, g, id(f, "c"), g, "not a member", NULL), G, 0, 0, 0, false},
        {bmsg(f, GC, nog, id(f, "a"), nog, "no group", NULL), G, 0, 0, 0, false},
        {bmsg(f, GC, g2, id(f, "a"), g2, "dismissed", NULL), G, 0, 0, 0, false},
        {bmsg(f, SC, ab, id(f, "a"), id(f, "b"), "not friends", NULL), R | F, 0, 0, 0, false},
        {bmsg(f, SC, ac, id(f, "a"), id(f, "c"), "friends", NULL), R | F, 0, 0, 0, false},
        {bmsg(f, SC, ab, id(f, "nobody"), id(f, "b"), "no sender", NULL), S | R, 0, 0, 0, false},
        {bmsg(f, GC, g, id(f, "b"), g, "g2", NULL), S | G, 0, 0, 0, false},
    };
    omtp_append_req *p[8];
    batch_run(f, r, p, 8);
    int want[8] = {OMTP_APPEND_OK,        OMTP_APPEND_NOT_MEMBER,  OMTP_APPEND_NO_GROUP,
                   OMTP_APPEND_DISMISSED, OMTP_APPEND_NOT_FRIENDS, OMTP_APPEND_OK,
                   OMTP_APPEND_NO_SENDER, OMTP_APPEND_OK};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r[i].refused, want[i]);
        if (want[i] == OMTP_APPEND_OK) {
            assert_int_equal(r[i].status, 0);
            assert_false(r[i].dup);
        }
    }
    assert_int_equal(r[0].m->msg.seqId, 1);
    assert_int_equal(r[7].m->msg.seqId, 2);
    assert_int_equal(r[5].m->msg.seqId, 1);
    assert_int_equal(last_of(f, g), 2);
    assert_int_equal(last_of(f, ab), 0);
    assert_int_equal(last_of(f, ac), 1);
    batch_free(r, 8);
}

/* ------------------------------------------------------------- the suite */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int omtp_store_suite(const char *name, const omtp_store_config *cfg)
{
    const struct CMUnitTest tests[] = {
        T(test_meta),
        T(test_presence_and_readers),
        T(test_users),
        T(test_user_exists),
        T(test_user_page),
        T(test_user_info),
        T(test_transactions),
        T(test_msg_seq_gap_free),
        T(test_msg_dedup),
        T(test_msg_dup_in_item),
        T(test_msg_flags_stored),
        T(test_history_and_control),
        T(test_history_cap),
        T(test_search),
        T(test_search_cap),
        T(test_unread_and_read_cursor),
        T(test_hot_sessions),
        T(test_hot_session_get),
        T(test_hp_queue),
        T(test_hp_prune),
        T(test_files),
        T(test_hp_group),
        T(test_group_dismiss_step),
        T(test_group_create_get),
        T(test_group_messages),
        T(test_group_admin_and_sync),
        T(test_group_big),
        T(test_friends),
        T(test_user_attrs),
        T(test_session_parties),
        T(test_user_rename),
        T(test_user_rename_split),
        T(test_ext_refs_mentions),
        T(test_ext_reactions),
        T(test_batch_append_mixed),
        T(test_batch_append_checks),
    };
    g_cfg = *cfg;
    return _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}

/* Where PostgreSQL comes from: OMTP_TEST_STORE_URI (any postgresql:// URI of
 * a scratch database), or OMTP_TEST_PG (set by tests/scripts/pg_redis_env.sh).
 * With neither, the test re-executes itself under pg_redis_env.sh, which
 * starts a private server (OMTP_SRC, set by ctest, locates the script). */
static const char *pg_uri(void)
{
    const char *names[] = {"OMTP_TEST_STORE_URI", "OMTP_TEST_PG"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        if (v && v[0])
            return v;
    }
    return NULL;
}

static void reexec_with_pg(char **argv)
{
    if (getenv("OMTP_TEST_STORE_REEXEC"))
        return; /* pg_redis_env.sh ran us and still gave no URI */
    const char *src = getenv("OMTP_SRC");
    char script[1024];
    snprintf(script, sizeof(script), "%s/tests/scripts/pg_redis_env.sh", src ? src : ".");
    if (access(script, R_OK) != 0 || system("ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1"))
        return;
    setenv("OMTP_ENV_NO_REDIS", "1", 1);
    setenv("OMTP_TEST_STORE_REEXEC", "1", 1);
    execl("/bin/bash", "bash", script, "--", argv[0], (char *)NULL);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *pg = pg_uri();
    if (!pg)
        reexec_with_pg(argv); /* returns only if that is impossible */
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
    if (pg) {
        omtp_store_config pcfg = {.uri = pg};
        fails += omtp_store_suite("store_postgresql", &pcfg);
    } else if (getenv("CI")) {
        fprintf(stderr, "FAIL: no PostgreSQL to run the store suite against (CI must have one: "
                        "scripts/deps.sh installs it)\n");
        fails++;
    } else {
        fprintf(stderr, "NOTE: store suite NOT run against PostgreSQL (none found; set "
                        "OMTP_TEST_STORE_URI or run scripts/deps.sh)\n");
    }
    return fails ? 1 : 0;
}
