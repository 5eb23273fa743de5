/*
 * test_stall.c - attack replay: "no user can stall the store".
 *
 * The campaign: a plain user created a group with memberLimit = 100000 (a
 * client's own limit skipped the server default), filled it, then sent
 * HIGHPRJ group messages. Each one wrote one high-priority row per member
 * in the message's transaction: ten of them left every write and login
 * unanswered for ~81 s, a revoke in that group cost 6.4 s, and SIGTERM did
 * not stop the server. What a user relies on now:
 *
 *  - a client cannot raise memberLimit above the server's
 *    group_member_limit (CREATE, INFO_UPDATE: GROUP_MEMBER_LIMIT); only the
 *    HTTP API (administrator) may, up to group_member_hard_limit;
 *  - a HIGHPRJ message or a revoke in a 3,000-member group adds O(1)
 *    high-priority rows (counted in the server's SQLite file), while every
 *    member still finds it with PT_HIGH_PRIOR_MSG_SYNC, a member who joined
 *    later does not see earlier entries and one who left stops seeing new
 *    ones;
 *  - while such messages are being stored, another user's login and chat
 *    are answered (generous bound);
 *  - SIGTERM with that work queued ends the process within
 *    shutdown_timeout_s, and every message acknowledged before is there
 *    after a restart.
 *
 * Users are made with `omtpd user bulk` (cheap hash), the big group through
 * the HTTP API as administrator.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "../integration/group_common.h"
#include "h_http.h"

#define KEY     "stall-test-key"
#define MEMBERS 3000
#define BIG     "GC_big"

typedef struct srv {
    h_server *s;
    int http;
    char http_port_path[320];
} srv;

static srv start(const char *extra)
{
    srv v;
    memset(&v, 0, sizeof(v));
    char dir[] = "/tmp/omtp-stall-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(v.http_port_path, sizeof(v.http_port_path), "%s/http.port", dir);
    char conf[1024];
    /* the bursts below are the attack: the request rate limit would refuse them first */
    snprintf(conf, sizeof(conf),
             "log_level = warn\nhttp_listen = 127.0.0.1:0\napi_keys = " KEY
             "\nhttp_max_body = 4194304\nreq_rate = 0\n%s\n",
             extra ? extra : "");
    const char *args[] = {"--http-port-file", v.http_port_path, NULL};
    v.s = h_server_start(conf, args);
    /* users m0 .. m<MEMBERS+9>: the group is m0 (creator) .. m<MEMBERS-1> */
    char count[16];
    snprintf(count, sizeof(count), "%d", MEMBERS + 10);
    const char *bulk[] = {"user", "bulk", "m", count, "--password", G_PW, "--cost", "4", NULL};
    assert_int_equal(h_admin(v.s, NULL, 0, bulk), 0);
    v.http = h_http_port(v.http_port_path);
    return v;
}

static int http_port(srv *v)
{
    return v->http;
}

static void stop(srv *v)
{
    g_stop(v->s);
    unlink(v->http_port_path);
    char *slash = strrchr(v->http_port_path, '/');
    if (slash) {
        *slash = 0;
        rmdir(v->http_port_path);
    }
}

/* POST /v1/groups as administrator: BIG with m0..m<n-1>, memberLimit `limit`. */
static long big_group(srv *v, int n, int limit)
{
    size_t cap = (size_t)n * 12 + 256;
    char *body = malloc(cap);
    assert_non_null(body);
    int off = snprintf(body, cap,
                       "{\"groupId\":\"" BIG "\",\"name\":\"big\",\"creatorId\":\"m0\","
                       "\"memberLimit\":%d,\"members\":[",
                       limit);
    for (int i = 1; i < n; i++)
        off += snprintf(body + off, cap - (size_t)off, "%s\"m%d\"", i > 1 ? "," : "", i);
    snprintf(body + off, cap - (size_t)off, "]}");
    char out[512];
    long st = h_http_call(http_port(v), "POST", "/v1/groups", KEY, body, out, sizeof(out));
    free(body);
    if (st != 201)
        print_message("POST /v1/groups: %ld %s\n", st, out);
    return st;
}

/* High-priority rows in the server's database (personal + group entries). */
static long hp_rows(srv *v)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/omtp.db", v->s->data_dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    long n = 0;
    const char *tables[] = {"hp_queue", "hp_group"};
    for (int i = 0; i < 2; i++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            continue; /* hp_group does not exist before schema 5 */
        if (sqlite3_step(st) == SQLITE_ROW)
            n += sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* A HIGHPRJ group message with a known packId; returns its seqId. */
static int64_t send_hp(omtp_sync *c, const char *content, const char *pack_id)
{
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_send_msg(c, PT_MSG_GROUP_CHAT, BIG, content, pack_id, OMTP_F_HIGHPRJ, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return seq;
}

/* The user's high-priority view as "type:packId,..." (all of it). */
static void hp_view(omtp_sync *c, char *out, size_t n)
{
    omtp_MsgHighPrioritySyncResp r;
    int64_t cursor = 0;
    out[0] = 0;
    for (int page = 0; page < 20; page++) {
        assert_int_equal(omtp_sync_high_prior(c, cursor, 200, &r), 0);
        assert_int_equal(r.code, 0);
        for (uint32_t i = 0; i < r.msgs.n; i++)
            snprintf(out + strlen(out), n - strlen(out), "%s%d:%s", out[0] ? "," : "",
                     r.msgs.items[i].header.type, r.msgs.items[i].header.packId.data);
        uint32_t got = r.msgs.n;
        assert_true(r.lastSeqId >= cursor);
        cursor = r.lastSeqId;
        omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &r);
        if (got < 200)
            return;
    }
}

static omtp_sync *login_m(srv *v, int i)
{
    char u[16];
    snprintf(u, sizeof(u), "m%d", i);
    return g_login(v->s, u, 3);
}

/* ---------------------------------------------------------------- tests */

static void test_client_cannot_raise_member_limit(void **st)
{
    (void)st;
    srv v = start("group_member_limit = 500");
    omtp_sync *a = login_m(&v, 0);
    tars_str_list two = g_ids("m1", "m2", NULL);
    char gid[160];
    /* the campaign's request: refused, nothing created */
    assert_int_equal(g_create(a, "huge", NULL, 100000, &two, gid), OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_int_equal(g_create(a, "huge", NULL, 501, &two, gid), OMTP_EC_GROUP_MEMBER_LIMIT);
    /* up to the server's limit is fine */
    assert_int_equal(g_create(a, "ok", NULL, 500, &two, gid), 0);
    assert_int_equal(g_create(a, "dflt", NULL, 0, &two, gid), 0);
    /* and cannot be raised afterwards */
    assert_int_equal(g_info(a, gid, "m0", NULL, NULL, 100000), OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_int_equal(g_info(a, gid, "m0", NULL, NULL, 400), 0);
    omtp_GroupChatSyncResp r;
    g_sync(a, 0, &r);
    const omtp_GroupChatInfo *gi = g_sync_find(&r, gid);
    assert_non_null(gi);
    assert_int_equal(gi->memberLimit, 400);
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
    g_ids_free(&two);

    /* the administrator may, up to the hard limit */
    char out[512];
    int port = http_port(&v);
    assert_int_equal(h_http_call(port, "POST", "/v1/groups", KEY,
                                 "{\"name\":\"adm\",\"creatorId\":\"m0\",\"memberLimit\":100000}",
                                 out, sizeof(out)),
                     201);
    assert_int_equal(h_http_call(port, "POST", "/v1/groups", KEY,
                                 "{\"name\":\"adm\",\"creatorId\":\"m0\",\"memberLimit\":100001}",
                                 out, sizeof(out)),
                     400);
    assert_non_null(strstr(out, "group_member_hard_limit"));
    omtp_sync_close(a);
    stop(&v);
}

static void test_group_high_priority_is_o1(void **st)
{
    (void)st;
    srv v = start(NULL);
    assert_int_equal(big_group(&v, MEMBERS, 5000), 201);
    omtp_sync *snd = login_m(&v, 0);
    long base = hp_rows(&v);
    send_hp(snd, "first", "pk-first");
    long one = hp_rows(&v) - base;
    print_message("rows for one HIGHPRJ message to %d members: %ld\n", MEMBERS, one);
    assert_true(one <= 2); /* was one per member */

    /* m2998 leaves, m3005 joins (administrator), then a second message */
    char out[256];
    assert_int_equal(h_http_call(http_port(&v), "DELETE", "/v1/groups/" BIG "/members/m2998", KEY,
                                 NULL, out, sizeof(out)),
                     200);
    assert_int_equal(h_http_call(http_port(&v), "POST", "/v1/groups/" BIG "/members", KEY,
                                 "{\"members\":[\"m3005\"]}", out, sizeof(out)),
                     200);
    omtp_sync *online = login_m(&v, 7); /* a member online during the revoke */
    int64_t seq2 = send_hp(snd, "second", "pk-second");
    /* and the sender revokes it */
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_ctrl(snd, MC_REVOKE, BIG, seq2, NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    omtp_packet pk;
    assert_int_equal(chat_next_push(online, PT_MSG_CTRL, 5000, &pk), 0);
    assert_non_null(pk.body);
    assert_int_equal(((omtp_MsgControl *)pk.body)->command, MC_REVOKE);
    assert_int_equal(((omtp_MsgControl *)pk.body)->seqId, seq2);
    omtp_packet_free(&pk);
    omtp_sync_close(online);
    long three = hp_rows(&v) - base;
    print_message("rows after 2 messages and a revoke: %ld\n", three);
    assert_true(three <= 6);

    char view[4096];
    /* members (first, middle, last) see both messages and the notice, in order */
    const int sample[] = {1, 1500, MEMBERS - 1};
    for (int i = 0; i < 3; i++) {
        omtp_sync *m = login_m(&v, sample[i]);
        hp_view(m, view, sizeof(view));
        assert_non_null(strstr(view, "15:pk-first,15:pk-second,17:"));
        omtp_sync_close(m);
    }
    /* the sender: not its own messages, but the notice (operator included) */
    hp_view(snd, view, sizeof(view));
    assert_null(strstr(view, "pk-first"));
    assert_null(strstr(view, "pk-second"));
    assert_non_null(strstr(view, "17:"));
    /* the member who left: the first only */
    omtp_sync *left = login_m(&v, 2998);
    hp_view(left, view, sizeof(view));
    assert_string_equal(view, "15:pk-first");
    omtp_sync_close(left);
    /* the member who joined later: the second and the notice, not the first */
    omtp_sync *late = login_m(&v, 3005);
    hp_view(late, view, sizeof(view));
    assert_null(strstr(view, "pk-first"));
    assert_non_null(strstr(view, "15:pk-second,17:"));
    omtp_sync_close(late);
    /* a user never in the group sees nothing */
    omtp_sync *out_user = login_m(&v, 3007);
    hp_view(out_user, view, sizeof(view));
    assert_string_equal(view, "");
    omtp_sync_close(out_user);

    /* the administrator dismisses the group (stored in chunks): every
     * member, the creator too, sees it gone */
    assert_int_equal(
        h_http_call(http_port(&v), "DELETE", "/v1/groups/" BIG, KEY, NULL, out, sizeof(out)), 200);
    const int who[] = {0, 1, 2999};
    for (int i = 0; i < 3; i++) {
        omtp_sync *m = i ? login_m(&v, who[i]) : snd;
        omtp_GroupChatSyncResp r;
        g_sync(m, 0, &r);
        assert_null(g_sync_find(&r, BIG));
        assert_true(g_sync_deleted(&r, BIG));
        omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
        if (i)
            omtp_sync_close(m);
    }
    omtp_sync_close(snd);
    stop(&v);
}

/* Pipelines n HIGHPRJ messages to BIG without waiting; pack ids "burst-<i>". */
static void burst(omtp_sync *c, int n)
{
    for (int i = 0; i < n; i++) {
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        char content[32], pid[32];
        snprintf(content, sizeof(content), "burst %d", i);
        snprintf(pid, sizeof(pid), "burst-%d", i);
        tars_str_set(&m.to, BIG);
        tars_str_set(&m.content, content);
        m.contentType = 1;
        assert_int_equal(
            omtp_sync_send(c, PT_MSG_GROUP_CHAT, OMTP_F_HIGHPRJ, pid, &omtp_MsgReq_desc, &m, NULL),
            0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
}

static void test_others_answered_meanwhile(void **st)
{
    (void)st;
    srv v = start(NULL);
    assert_int_equal(big_group(&v, MEMBERS, 5000), 201);
    omtp_sync *snd = login_m(&v, 0);
    burst(snd, 200);
    /* meanwhile: another user logs in and chats; generous bounds (was ~81 s
     * for ten such messages to 21,000 members) */
    int64_t t0 = h_now_ms();
    omtp_sync *x = login_m(&v, 3008);
    omtp_sync_set_timeout(x, 10000);
    assert_int_equal(chat_send(x, "m3009", "still there?", NULL), 0);
    int64_t took = h_now_ms() - t0;
    print_message("login + chat during the burst: %lld ms\n", (long long)took);
    assert_true(took < 10000);
    /* every burst message is acknowledged */
    for (int i = 0; i < 200; i++) {
        char pid[32];
        snprintf(pid, sizeof(pid), "burst-%d", i);
        omtp_packet p;
        assert_int_equal(omtp_sync_wait_reply(snd, pid, 20000, &p), 0);
        assert_non_null(p.body);
        assert_int_equal(((omtp_MsgAck *)p.body)->code, 0);
        omtp_packet_free(&p);
    }
    /* the worst single store item is measured */
    double worst = h_metric(http_port(&v), "omtp_store_item_seconds_max");
    print_message("omtp_store_item_seconds_max = %.4f\n", worst);
    assert_true(worst >= 0 && worst < 2.0);
    assert_true(h_metric(http_port(&v), "omtp_store_items_slow_total") >= 0);
    /* the creator dismisses it over OMTP (in chunks): answered, and gone */
    assert_int_equal(g_dismiss(snd, BIG, "m0"), 0);
    omtp_sync *m = login_m(&v, MEMBERS - 1);
    omtp_GroupChatSyncResp r;
    g_sync(m, 0, &r);
    assert_true(g_sync_deleted(&r, BIG));
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
    assert_int_equal(g_send(snd, BIG, "after", NULL), OMTP_EC_GROUP_NOT_EXIST);
    omtp_sync_close(m);
    omtp_sync_close(x);
    omtp_sync_close(snd);
    stop(&v);
}

static void test_sigterm_bounded(void **st)
{
    (void)st;
    srv v = start("shutdown_timeout_s = 2");
    assert_int_equal(big_group(&v, MEMBERS, 5000), 201);
    omtp_sync *snd = login_m(&v, 0);
    int64_t acked = send_hp(snd, "before", "pk-before"); /* acknowledged: must survive */
    burst(snd, 300);
    usleep(50 * 1000); /* let the server read them */
    int64_t t0 = h_now_ms();
    kill(v.s->pid, SIGTERM);
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(v.s->pid, &status, WNOHANG)) == 0 && h_now_ms() - t0 < 2000 + 4000)
        usleep(5000);
    int64_t took = h_now_ms() - t0;
    print_message("SIGTERM to exit: %lld ms (shutdown_timeout_s = 2)\n", (long long)took);
    assert_int_equal(r, v.s->pid); /* else h_teardown kills it */
    v.s->pid = 0;
    v.s->status = status;
    /* the acknowledged burst messages: which acks came before the close */
    int acks = 0;
    omtp_packet p;
    for (int i = 0; i < 300; i++) {
        char pid[32];
        snprintf(pid, sizeof(pid), "burst-%d", i);
        if (omtp_sync_wait_reply(snd, pid, 0, &p) == 0) {
            if (p.body && ((omtp_MsgAck *)p.body)->code == 0)
                acks++;
            omtp_packet_free(&p);
        }
    }
    omtp_sync_close(snd);
    /* nothing acknowledged is lost */
    h_server_restart(v.s);
    omtp_sync *c = login_m(&v, 1);
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(c, BIG, 0, 200, &h), 0);
    assert_true(h.msgs.n >= 1);
    omtp_MsgReq top;
    chat_pack_msg(&h.msgs.items[0], &top);
    int64_t newest = top.seqId;
    omtp_msg_free(&omtp_MsgReq_desc, &top);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    print_message("acked in the burst: %d, stored: %lld\n", acks, (long long)newest - acked);
    assert_true(newest >= acked + acks);
    omtp_sync_close(c);
    stop(&v);
}

/* SIGTERM while the store has seconds of work queued (NCREATE administrator
 * creates of 10,000-member groups, each stored in chunks): omtpd exits within
 * shutdown_timeout_s, says in its log what it abandoned, and every group
 * whose create was answered 201 is there, complete, after a restart. */
static void test_sigterm_abandons_queued_work(void **st)
{
    (void)st;
    enum { NCREATE = 30, BIGN = 10000 };
    srv v = start("shutdown_timeout_s = 1");
    char count[16];
    snprintf(count, sizeof(count), "%d", BIGN);
    const char *bulk[] = {"user", "bulk", "w", count, "--password", G_PW, "--cost", "4", NULL};
    assert_int_equal(h_admin(v.s, NULL, 0, bulk), 0);
    char dir[400];
    snprintf(dir, sizeof(dir), "%s", v.http_port_path);
    *strrchr(dir, '/') = 0;
    pid_t kids[NCREATE];
    for (int k = 0; k < NCREATE; k++) {
        char path[480], url[128], outp[480];
        snprintf(path, sizeof(path), "%s/create%d.json", dir, k);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "{\"groupId\":\"GC_w%d\",\"name\":\"w\",\"creatorId\":\"w0\",", k);
        fprintf(f, "\"memberLimit\":%d,\"members\":[", BIGN);
        for (int i = 1; i < BIGN; i++)
            fprintf(f, "%s\"w%d\"", i > 1 ? "," : "", i);
        fprintf(f, "]}");
        fclose(f);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/groups", http_port(&v));
        snprintf(outp, sizeof(outp), "%s/status%d", dir, k);
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            char body[500];
            snprintf(body, sizeof(body), "@%s", path);
            int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            execlp("curl", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                   "20", "-H", "Authorization: Bearer " KEY, "-H", "Content-Type: application/json",
                   "--data-binary", body, url, (char *)NULL);
            _exit(127);
        }
    }
    /* wait until the store is busy with them: several creates queued */
    int64_t w0 = h_now_ms();
    double depth = 0; /* read once per turn: the queue may drain between two reads */
    while ((depth = h_metric(http_port(&v), "omtp_store_queue_depth")) < 5 &&
           h_now_ms() - w0 < 15000)
        usleep(20 * 1000);
    assert_true(depth >= 5);
    int64_t t0 = h_now_ms();
    kill(v.s->pid, SIGTERM);
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(v.s->pid, &status, WNOHANG)) == 0 && h_now_ms() - t0 < 1000 + 4000)
        usleep(5000);
    int64_t took = h_now_ms() - t0;
    assert_int_equal(r, v.s->pid);
    v.s->pid = 0;
    v.s->status = status;
    for (int k = 0; k < NCREATE; k++)
        waitpid(kids[k], NULL, 0);
    int ok = 0;
    bool created[NCREATE];
    for (int k = 0; k < NCREATE; k++) {
        char outp[480], code[16] = "";
        snprintf(outp, sizeof(outp), "%s/status%d", dir, k);
        FILE *f = fopen(outp, "r");
        if (f) {
            if (!fgets(code, sizeof(code), f))
                code[0] = 0;
            fclose(f);
        }
        created[k] = strcmp(code, "201") == 0;
        ok += created[k];
        unlink(outp);
        snprintf(outp, sizeof(outp), "%s/create%d.json", dir, k);
        unlink(outp);
    }
    char *log = h_server_log(v.s);
    bool said = log && strstr(log, "abandoned");
    print_message("SIGTERM to exit: %lld ms (shutdown_timeout_s = 1); %d of %d creates answered "
                  "201; log names abandoned work: %s\n",
                  (long long)took, ok, NCREATE, said ? "yes" : "no");
    free(log);
    if (ok < NCREATE)
        assert_true(said); /* what was not done is said */
    /* every acknowledged group is complete after a restart */
    h_server_restart(v.s);
    v.http = 0;
    omtp_sync *c = g_login(v.s, "w0", 3);
    for (int k = 0; k < NCREATE; k++) {
        if (!created[k])
            continue;
        char gidk[32], *mem = malloc(BIGN * 8);
        snprintf(gidk, sizeof(gidk), "GC_w%d", k);
        assert_int_equal(g_members(c, gidk, mem, BIGN * 8), 0);
        int commas = 0;
        for (char *q = mem; *q; q++)
            commas += *q == ',';
        assert_int_equal(commas + 1, BIGN);
        free(mem);
    }
    omtp_sync_close(c);
    stop(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_cannot_raise_member_limit, h_teardown),
        cmocka_unit_test_teardown(test_group_high_priority_is_o1, h_teardown),
        cmocka_unit_test_teardown(test_others_answered_meanwhile, h_teardown),
        cmocka_unit_test_teardown(test_sigterm_bounded, h_teardown),
        cmocka_unit_test_teardown(test_sigterm_abandons_queued_work, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
