/*
 * test_dom_files.c - the files domain (docs/files.md) on a real core and
 * SQLite, with deterministic interleavings:
 *
 *   - shared bytes: a refused upload, or the orphan sweeper, must not
 *     delete the bytes an identical upload in flight has just committed
 *     (content addressed: one object for both) -- the pins of
 *     domain/files_pins.h; and a pin waits for a delete already claimed;
 *   - the read rule for a file referenced in more than 1,000 sessions
 *     (one indexed query, no capped list).
 *
 * Uploads are driven through the same calls the HTTP adapters make
 * (omtp_ingest_* on this thread, standing for an HTTP thread, then
 * omtp_dom_file_upload_done on the loop), so "upload B is finalising" is a
 * point the test chooses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "dom_fixture.h"
#include "domain/files.h"
#include "domain/files_ingest.h"
#include "domain/files_pins.h"
#include "domain/files_sweep.h"
#include "proto/omtp_session.h"
#include "store/filestore.h"

static tars_str S(const char *s)
{
    return (tars_str){(char *)s, (uint32_t)strlen(s)};
}

static omtp_dom_caller as(const char *user)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = user};
    return c;
}

static const omtp_dom_caller API = {.role = OMTP_DOM_API};

static int setup(void **st)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", "eve", NULL};
    dom_fixture *f = dom_start(users);
    if (!f)
        return -1;
    /* the files part as omtpd wires it: the local store in the data dir */
    char why[256];
    f->cfg.file_orphan_days = 0; /* the sweeper only where a test asks for it */
    if (omtp_files_start(&f->srv, why, sizeof(why)) != 0) {
        fprintf(stderr, "files: %s\n", why);
        return -1;
    }
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    dom_fixture *f = *st;
    omtp_files_stop(&f->srv, 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    omtp_files_free(&f->srv);
    dom_stop(f);
    return 0;
}

/* Streams `data` through the upload pipeline to a committed (pinned) file. */
static omtp_dom_file ingest(dom_fixture *f, const char *data, size_t n)
{
    omtp_ingest_limits lim = {.max_size = 1u << 20, .max_pixels = 1000000};
    omtp_ingest *in = NULL;
    assert_int_equal(omtp_ingest_begin(f->srv.filestore, &lim, n, &in), 0);
    assert_int_equal(omtp_ingest_write(in, data, n), 0);
    omtp_dom_file out;
    assert_int_equal(omtp_ingest_finish(in, "same.bin", &out), 0);
    return out;
}

typedef struct rec_res {
    bool done;
    int code;
    char reason[40];
    omtp_dom_file file;
} rec_res;

static void on_recorded(void *arg, const omtp_dom_outcome *res, const omtp_dom_file *file)
{
    rec_res *r = arg;
    r->code = res->code;
    snprintf(r->reason, sizeof(r->reason), "%s", res->reason ? res->reason : "");
    if (file)
        r->file = *file;
    r->done = true;
}

static rec_res record(dom_fixture *f, const omtp_dom_caller *who, const omtp_dom_file *in)
{
    rec_res r = {0};
    omtp_dom_file_upload_done(&f->srv, who, in, on_recorded, &r);
    assert_true(dom_wait(f, &r.done));
    return r;
}

static rec_res file_get(dom_fixture *f, const omtp_dom_caller *who, const char *id)
{
    rec_res r = {0};
    omtp_dom_file_get(&f->srv, who, id, on_recorded, &r);
    assert_true(dom_wait(f, &r.done));
    return r;
}

/* Runs the loop for ms (libuv's pool finishes the deletions it was given). */
static void spin(dom_fixture *f, int ms)
{
    int64_t end = omtp_now_ms() + ms;
    while (omtp_now_ms() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* Whether the object's bytes are in the store; waits up to ms for them to
 * go (a deletion queued on libuv's pool), so "still there" is checked after
 * any such deletion had time to run. */
static bool bytes_stay(dom_fixture *f, const char *sha, int ms)
{
    uint64_t size;
    int64_t end = omtp_now_ms() + ms;
    while (omtp_now_ms() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (omtp_fs_stat(f->srv.filestore, sha, &size) != 0)
            return false;
        usleep(5000);
    }
    return true;
}

/* A refused upload (quota) and an accepted identical one finalising at the
 * same time: the refusal must not delete the bytes the other one's row is
 * about to name. */
static void test_refused_upload_keeps_shared_bytes(void **st)
{
    dom_fixture *f = *st;
    f->cfg.file_quota_bytes = 10; /* alice's 64 bytes are over it */
    char data[64];
    memset(data, 'x', sizeof(data));
    omtp_dom_file a = ingest(f, data, sizeof(data)); /* alice: committed, pinned */
    omtp_dom_file b = ingest(f, data, sizeof(data)); /* the backend: "already there" */
    assert_string_equal(a.sha256, b.sha256);
    assert_int_equal(omtp_files_pins_of(a.sha256), 2);
    omtp_dom_caller alice = as("alice");
    rec_res ra = record(f, &alice, &a);
    assert_string_equal(ra.reason, "quota_exceeded");
    /* on the refusal's side it is over; give its deletion time to run */
    assert_true(bytes_stay(f, a.sha256, 1000));
    rec_res rb = record(f, &API, &b);
    assert_int_equal(rb.code, 0);
    /* the accepted file's bytes are there and served */
    assert_true(bytes_stay(f, rb.file.sha256, 300));
    assert_int_equal(file_get(f, &API, rb.file.fileId).code, 0);
    assert_int_equal(omtp_files_pins_of(a.sha256), 0);
    f->cfg.file_quota_bytes = 0;
}

/* A refused upload alone: its bytes do go (nothing else names them). */
static void test_refused_upload_alone_is_removed(void **st)
{
    dom_fixture *f = *st;
    f->cfg.file_quota_bytes = 10;
    char data[80];
    memset(data, 'y', sizeof(data));
    omtp_dom_file a = ingest(f, data, sizeof(data));
    omtp_dom_caller alice = as("alice");
    assert_string_equal(record(f, &alice, &a).reason, "quota_exceeded");
    assert_false(bytes_stay(f, a.sha256, 5000)); /* removed, within 5 s */
    assert_int_equal(omtp_files_pins_of(a.sha256), 0);
    f->cfg.file_quota_bytes = 0;
}

typedef struct pin_arg {
    const char *sha;
    atomic_bool done;
    int rc;
} pin_arg;

static void *pin_thread(void *p)
{
    pin_arg *a = p;
    a->rc = omtp_files_pin(a->sha);
    atomic_store(&a->done, true);
    return NULL;
}

/* A pin of bytes claimed for deletion waits for the delete to end (the
 * commit then writes them again), and a claim fails while an upload other
 * than the claimer's own holds a pin. */
static void test_pin_waits_for_claimed_delete(void **st)
{
    (void)st;
    const char *h = "1111111111111111111111111111111111111111111111111111111111111111";
    assert_true(omtp_files_delete_claim(h, 0));
    assert_false(omtp_files_delete_claim(h, 0)); /* one claim at a time */
    pin_arg a = {.sha = h};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pin_thread, &a), 0);
    usleep(200000);
    assert_false(atomic_load(&a.done)); /* waiting for the delete */
    omtp_files_delete_release(h);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(omtp_files_pins_of(h), 1);
    assert_false(omtp_files_delete_claim(h, 0)); /* pinned by an upload */
    assert_true(omtp_files_delete_claim(h, 1));  /* ... unless the pin is the claimer's */
    omtp_files_delete_release(h);
    omtp_files_unpin(h);
    assert_int_equal(omtp_files_pins_of(h), 0);
}

/* The orphan sweeper removes an old file no message references while an
 * identical upload is finalising: the bytes stay for the new file. */
static void test_sweeper_keeps_bytes_of_upload_in_flight(void **st)
{
    dom_fixture *f = *st;
    /* restart the files part with the sweeper on: orphans older than 1 s,
     * a pass every second */
    omtp_files_stop(&f->srv, 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    omtp_files_free(&f->srv);
    f->cfg.file_orphan_s = 1;
    f->cfg.hp_prune_interval_s = 1;
    char why[256];
    assert_int_equal(omtp_files_start(&f->srv, why, sizeof(why)), 0);
    char data[100];
    memset(data, 'z', sizeof(data));
    omtp_dom_file old = ingest(f, data, sizeof(data));
    omtp_dom_caller alice = as("alice");
    rec_res ro = record(f, &alice, &old); /* stored; no message references it */
    assert_int_equal(ro.code, 0);
    spin(f, 1100);                                   /* older than file_orphan_s */
    omtp_dom_file b = ingest(f, data, sizeof(data)); /* bob's copy: committed, pinned */
    /* the sweeper removes the orphan's row (a pass within ~2 s) */
    int64_t end = omtp_now_ms() + 8000;
    while (omtp_now_ms() < end && file_get(f, &API, ro.file.fileId).code == 0)
        spin(f, 50);
    assert_int_not_equal(file_get(f, &API, ro.file.fileId).code, 0);
    assert_true(bytes_stay(f, b.sha256, 1000)); /* its bytes are bob's upload's too */
    omtp_dom_caller bob = as("bob");
    rec_res rb = record(f, &bob, &b);
    assert_int_equal(rb.code, 0);
    assert_true(bytes_stay(f, b.sha256, 200));
    /* bob's file is referenced now, so the next passes leave it */
    f->cfg.file_orphan_s = 0;
}

/* ---- the read rule with more than 1,000 sessions */

static const char *big_file_id = "0123456789abcdef0123456789abcdef";

static int big_refs_work(omtp_db *db, void *arg)
{
    (void)arg;
    omtp_file_rec fr;
    memset(&fr, 0, sizeof(fr));
    snprintf(fr.fileId, sizeof(fr.fileId), "%s", big_file_id);
    memset(fr.sha256, 'a', 64);
    fr.size = 1;
    snprintf(fr.mime, sizeof(fr.mime), "text/plain");
    snprintf(fr.name, sizeof(fr.name), "f.txt");
    snprintf(fr.uploader, sizeof(fr.uploader), "alice");
    fr.created = omtp_now_ms();
    int rc = omtp_db_file_put(db, &fr);
    /* 1,200 sessions hold it (forwarded far and wide), sorting first ... */
    char sid[64];
    for (int i = 0; i < 1200 && rc == 0; i++) {
        snprintf(sid, sizeof(sid), "0000-%05d", i);
        rc = omtp_db_file_ref_add(db, big_file_id, sid, 1);
    }
    /* ... and then the single chat of carol and dave */
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    m.packId = S("p-big");
    m.msg.from = S("carol");
    m.msg.to = S("dave");
    m.msg.content = S("see the file");
    char cd[2 * OMTP_ID_MAX + 8];
    if (rc == 0)
        rc = omtp_session_single("carol", "dave", cd, sizeof(cd));
    m.msg.sessionId = S(cd);
    bool dup = false;
    if (rc == 0)
        rc = omtp_db_msg_append(db, &m, &dup);
    if (rc == 0)
        rc = omtp_db_file_ref_add(db, big_file_id, cd, m.msg.seqId);
    return rc;
}

static void test_read_rule_beyond_1000_sessions(void **st)
{
    dom_fixture *f = *st;
    assert_int_equal(dom_on_db(f, big_refs_work, NULL), 0);
    omtp_dom_caller carol = as("carol"), dave = as("dave"), eve = as("eve"), alice = as("alice");
    assert_int_equal(file_get(f, &carol, big_file_id).code, 0);
    assert_int_equal(file_get(f, &dave, big_file_id).code, 0);
    assert_int_equal(file_get(f, &alice, big_file_id).code, 0); /* the uploader */
    rec_res re = file_get(f, &eve, big_file_id);                /* in none of them */
    assert_string_equal(re.reason, "unknown_file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_waits_for_claimed_delete),
        cmocka_unit_test(test_refused_upload_keeps_shared_bytes),
        cmocka_unit_test(test_refused_upload_alone_is_removed),
        cmocka_unit_test(test_read_rule_beyond_1000_sessions),
        cmocka_unit_test(test_sweeper_keeps_bytes_of_upload_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
