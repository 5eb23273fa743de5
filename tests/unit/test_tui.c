/*
 * test_tui.c - the pieces of `omtp chat` that need no terminal: the key
 * decoder (what xterm/tmux send for cursor keys, Alt-Up, PgUp, the SGR
 * mouse wheel), the line editor (UTF-8 aware cursor, Ctrl-W, recall),
 * wrapping at display columns (CJK two wide), and the message model
 * (order by seq, pending sends moved into place by their ack, selection).
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui.h"

/* cmd_chat.c's hook: the model asks for older history at the top */
static int older_asked;
void tui_load_older(chat *t, conv *v)
{
    (void)t;
    (void)v;
    older_asked++;
}

static int feed(tui_input *in, const char *bytes, int *keys, int max)
{
    int n = 0;
    for (const char *p = bytes; *p; p++) {
        int k = tui_key_feed(in, (unsigned char)*p);
        if (k != K_NONE && n < max)
            keys[n++] = k;
    }
    return n;
}

static void keys_decoded(void **state)
{
    (void)state;
    tui_input in = {.rpos = -1};
    int k[8];
    assert_int_equal(feed(&in, "\033[A", k, 8), 1);
    assert_int_equal(k[0], K_UP);
    assert_int_equal(feed(&in, "\033OB", k, 8), 1);
    assert_int_equal(k[0], K_DOWN);
    assert_int_equal(feed(&in, "\033[1;3A\033[1;3B", k, 8), 2);
    assert_int_equal(k[0], K_ALT_UP);
    assert_int_equal(k[1], K_ALT_DOWN);
    assert_int_equal(feed(&in, "\033\033[A", k, 8), 1); /* ESC-prefixed Alt */
    assert_int_equal(k[0], K_ALT_UP);
    assert_int_equal(feed(&in, "\033[5~\033[6~\033[3~\033[1~\033[4~\033[H\033[F", k, 8), 7);
    int want[] = {K_PGUP, K_PGDN, K_DELETE, K_HOME, K_END, K_HOME, K_END};
    for (int i = 0; i < 7; i++)
        assert_int_equal(k[i], want[i]);
    assert_int_equal(feed(&in, "\033[<64;10;5M\033[<65;10;5M\033[<0;3;3M\033[<0;3;3m", k, 8), 2);
    assert_int_equal(k[0], K_WHEEL_UP);
    assert_int_equal(k[1], K_WHEEL_DOWN);
    assert_int_equal(feed(&in, "\033[Z\t\r\x17\x01\x05\x7f", k, 8), 7);
    int want2[] = {K_BTAB, K_TAB, K_ENTER, K_CTRL_W, K_CTRL_A, K_CTRL_E, K_BACKSPACE};
    for (int i = 0; i < 7; i++)
        assert_int_equal(k[i], want2[i]);
    /* a lone ESC comes out on flush; an overlong sequence is dropped */
    assert_int_equal(feed(&in, "\033", k, 8), 0);
    assert_int_equal(tui_key_flush(&in), K_ESC);
    char longseq[64] = "\033[";
    memset(longseq + 2, '1', 40);
    longseq[42] = 0;
    feed(&in, longseq, k, 8);
    assert_int_equal(feed(&in, "x", k, 8), 1);
    assert_int_equal(k[0], K_CHAR);
}

static void type(tui_input *in, const char *s)
{
    for (const char *p = s; *p; p++)
        tui_edit(in, K_CHAR, (unsigned char)*p);
}

static void line_editor(void **state)
{
    (void)state;
    tui_input in = {.rpos = -1};
    type(&in, "hllo world");
    tui_edit(&in, K_HOME, 0);
    tui_edit(&in, K_RIGHT, 0);
    type(&in, "e");
    tui_edit(&in, K_END, 0);
    type(&in, "!");
    assert_string_equal(in.buf, "hello world!");
    tui_edit(&in, K_CTRL_W, 0);
    assert_string_equal(in.buf, "hello ");
    /* UTF-8: Left and Backspace step over whole characters */
    type(&in, "日本");
    tui_edit(&in, K_LEFT, 0);
    tui_edit(&in, K_BACKSPACE, 0);
    assert_string_equal(in.buf, "hello 本");
    tui_edit(&in, K_CTRL_A, 0);
    tui_edit(&in, K_DELETE, 0);
    assert_string_equal(in.buf, "ello 本");
    char out[64];
    tui_input_take(&in, out, sizeof(out), true);
    assert_string_equal(out, "ello 本");
    assert_int_equal(in.len, 0);
    type(&in, "second");
    tui_input_take(&in, out, sizeof(out), true);
    /* recall: Up goes back, Down returns to what was being typed */
    type(&in, "draft");
    tui_edit(&in, K_UP, 0);
    assert_string_equal(in.buf, "second");
    tui_edit(&in, K_UP, 0);
    assert_string_equal(in.buf, "ello 本");
    tui_edit(&in, K_UP, 0);
    assert_string_equal(in.buf, "ello 本");
    tui_edit(&in, K_DOWN, 0);
    tui_edit(&in, K_DOWN, 0);
    assert_string_equal(in.buf, "draft");
    tui_input_free(&in);
}

static int cols(const char *s)
{
    int c = 0;
    for (const char *p = s; *p;) {
        int len;
        c += tui_char_cols(p, &len);
        p += len;
    }
    return c;
}

static void wrapping(void **state)
{
    (void)state;
    char *r[16];
    int n = tui_wrap_text("aaa bbb ccc ddd", 8, 2, r, 16);
    assert_int_equal(n, 3);
    assert_string_equal(r[0], "aaa bbb");
    assert_string_equal(r[1], "  ccc");
    assert_string_equal(r[2], "  ddd");
    for (int i = 0; i < n; i++)
        free(r[i]);
    /* a word longer than the width is cut; CJK counts two columns */
    n = tui_wrap_text("漢字漢字漢字", 5, 0, r, 16);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        assert_true(cols(r[i]) <= 5);
        assert_string_equal(r[i], "漢字");
        free(r[i]);
    }
    /* newlines break; an empty text is one empty row */
    n = tui_wrap_text("a\nb", 10, 0, r, 16);
    assert_int_equal(n, 2);
    assert_string_equal(r[1], "b");
    for (int i = 0; i < n; i++)
        free(r[i]);
    n = tui_wrap_text("", 10, 0, r, 16);
    assert_int_equal(n, 1);
    free(r[0]);
}

static void model(void **state)
{
    (void)state;
    cli_opts o = {0};
    snprintf(o.user, sizeof(o.user), "bob");
    chat t = {.o = &o, .open = -1};
    conv *v = tui_conv_find(&t, "SC_alice_bob", true);
    assert_non_null(v);
    assert_string_equal(v->title, "alice");
    tui_msg_put(v, 5, 1000, "alice", "five", false, false);
    tui_msg_put(v, 3, 900, "alice", "three", false, false);
    tmsg *p = tui_msg_pending(v, "bob", "mine", "PACK1");
    assert_int_equal(p->state, TM_PENDING);
    assert_int_equal(v->msgs[v->n - 1].seq, 0);
    /* an older page arrives: in order, before the pending one */
    tui_msg_put(v, 1, 800, "alice", "one", false, false);
    assert_int_equal(v->msgs[0].seq, 1);
    assert_int_equal(tui_conv_oldest(v), 1);
    /* the ack puts the pending message at its seq */
    tui_msg_acked(v, tui_msg_by_pack(v, "PACK1"), 6, 1100);
    assert_int_equal(v->msgs[3].seq, 6);
    assert_int_equal(v->msgs[3].state, TM_SENT);
    assert_ptr_equal(tui_conv_last_own(v, "bob"), &v->msgs[3]);
    /* the peer answered after it: delivered */
    tui_conv_mark_own(v, "bob", 6, TM_DELIVERED);
    assert_int_equal(v->msgs[3].state, TM_DELIVERED);
    /* selection walks up, loads older at the top, and turns off past the end */
    t.open = 0;
    tui_select(&t, -1);
    assert_int_equal(t.sel_seq, 6);
    tui_select(&t, -1);
    tui_select(&t, -1);
    tui_select(&t, -1);
    assert_int_equal(t.sel_seq, 1);
    tui_select(&t, -1);
    assert_true(older_asked > 0);
    tui_select(&t, 1);
    assert_int_equal(t.sel_seq, 3);
    tui_msg_delete(v, 3);
    assert_null(tui_msg_by_seq(v, 3));
    /* groups by name: exact first, then ignoring case */
    conv *g1 = tui_conv_find(&t, "GC_a", true), *g2 = tui_conv_find(&t, "GC_b", true);
    tui_conv_set_title(&t, g1, "Team");
    tui_conv_set_title(&t, g2, "team");
    conv *found[4];
    assert_int_equal(tui_groups_named(&t, "team", found, 4), 1);
    assert_ptr_equal(found[0], g2);
    assert_int_equal(tui_groups_named(&t, "TEAM", found, 4), 2);
    tui_conv_remove(&t, g1);
    assert_int_equal(t.nconv, 2);
    for (int i = 0; i < t.nconv; i++)
        tui_conv_free(t.convs[i]);
}

/* /search results: "/open N" picks hit N, the rows name the conversation */
static void search_results(void **state)
{
    (void)state;
    cli_opts o = {0};
    snprintf(o.user, sizeof(o.user), "bob");
    chat t = {.o = &o, .open = -1};
    tui_conv_find(&t, "SC_alice_bob", true);
    tsearch *s = &t.srch;
    s->active = true;
    snprintf(s->query, sizeof(s->query), "pine");
    s->hits = calloc(2, sizeof(*s->hits));
    assert_non_null(s->hits);
    const char *texts[2] = {"newest pine", "older pine\nline two"};
    for (int i = 0; i < 2; i++) {
        snprintf(s->hits[i].sid, sizeof(s->hits[i].sid), "SC_alice_bob");
        s->hits[i].seq = 2 - i;
        s->hits[i].ts = 1000;
        s->hits[i].from = strdup("alice");
        s->hits[i].text = strdup(texts[i]);
    }
    s->n = 2;
    assert_int_equal(tui_search_hit(&t, "")->seq, 2);
    assert_int_equal(tui_search_hit(&t, " 2")->seq, 1);
    assert_null(tui_search_hit(&t, "3"));
    assert_null(tui_search_hit(&t, "0"));
    assert_null(tui_search_hit(&t, "alice"));
    char *r[8];
    int n = tui_search_rows(&t, 200, r, 8);
    assert_int_equal(n, 2); /* a newline in the text does not break the row */
    assert_non_null(strstr(r[0], "1. alice  "));
    assert_non_null(strstr(r[0], "alice: newest pine"));
    assert_non_null(strstr(r[1], "alice: older pine line two"));
    for (int i = 0; i < n; i++)
        free(r[i]);
    n = tui_search_rows(&t, 200, r, 1); /* never more rows than asked for */
    assert_int_equal(n, 1);
    free(r[0]);
    tui_search_close(&t);
    assert_false(s->active);
    assert_int_equal(s->n, 0);
    for (int i = 0; i < t.nconv; i++)
        tui_conv_free(t.convs[i]);
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_decoded),   cmocka_unit_test(line_editor),
        cmocka_unit_test(wrapping),       cmocka_unit_test(model),
        cmocka_unit_test(search_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
