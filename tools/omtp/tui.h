/*
 * tui.h - the state of `omtp chat`, shared by its files:
 *
 *   tui_model.c   conversations and their messages (ordering, pending sends,
 *                 delivery states, group names, selection)
 *   tui_screen.c  drawing: layout, wrapping at display columns, scrollback
 *   tui_input.c   the line editor, sent-line recall, key decoding
 *   cmd_chat.c    wiring: the async client's callbacks, commands, main loop
 *
 * Ownership: one `chat` owns its conversations (conv), each owns its
 * messages (tmsg) and their strings. Threading: everything runs on the one
 * libuv loop thread of the chat (the client's callbacks included); nothing
 * here is thread-safe.
 */
#ifndef OMTP_CLI_TUI_H
#define OMTP_CLI_TUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "client/omtp_client.h"

#define TUI_MAXCONV  512
#define TUI_LISTW    26
#define TUI_PAGE     50 /* history page asked for */
#define TUI_INPUTMAX 4096
#define TUI_RECALL   100 /* sent lines remembered for Up/Down */

/* The state of one of your own messages. */
enum tmsg_state {
    TM_NONE = 0,  /* someone else's message */
    TM_PENDING,   /* typed, not acked yet (offline, or waiting for the ack) */
    TM_SENT,      /* acked: stored by the server */
    TM_DELIVERED, /* the peer's device got it (the peer answered after it) */
    TM_READ,      /* the peer's read cursor is at or above it */
    TM_FAILED,    /* refused or given up; the note says why */
};

typedef struct tmsg {
    int64_t seq; /* 0 while pending */
    int64_t ts;  /* ms since the epoch (local clock while pending) */
    char *from;
    char *text;
    char pack_id[40];
    bool revoked, edited;
    int state; /* enum tmsg_state */
    /* extensions (tui_react.c) */
    int64_t reply_to;  /* the quoted message's seq, 0 none */
    bool mentions_me;  /* its mentions hold you (or "@all") */
    struct treact *rx; /* reactions: (emoji, user) pairs, oldest first */
    int nrx;
} tmsg;

typedef struct treact {
    char emoji[40];
    char user[130];
} treact;

typedef struct conv {
    char id[256];
    char title[160];
    bool group;
    int unread;
    int64_t last_seq;
    int64_t order; /* higher = more recent */
    tmsg *msgs;    /* seq order; pending ones (seq 0) at the end */
    int n, cap;
    bool loaded;       /* the newest history page arrived */
    bool loading;      /* a history request is in flight */
    bool at_start;     /* the oldest message is loaded */
    int scroll;        /* screen rows scrolled up from the bottom */
    int64_t peer_read; /* single chat: the peer's read cursor, as far as known */
    /* extensions (tui_ext.c) */
    int presence;          /* single chat: -1 unknown, 0 away/offline, 1 online */
    int64_t last_seen;     /* ms, 0 unknown */
    int peer_devices;      /* the peer's devices online (presence), 0 unknown/none */
    char typing[64];       /* who is typing here ("" nobody) */
    uint64_t typing_until; /* uv_now() after which the notice is stale */
    int64_t readers_asked; /* the seq last asked PT_MSG_READERS about */
} conv;

/* Line editor state. */
typedef struct tui_input {
    char buf[TUI_INPUTMAX];
    size_t len, cur; /* bytes; cur is at a UTF-8 character boundary */
    char *recall[TUI_RECALL];
    int nrecall;
    int rpos;                 /* -1 = editing a new line, else the index recalled */
    char saved[TUI_INPUTMAX]; /* the new line while recalling */
    int esc;                  /* escape-sequence decoder state */
    char seq[32];             /* escape sequence bytes collected */
    size_t seqlen;
} tui_input;

/* One hit of /search (tui_search.c). */
typedef struct tsearch_hit {
    char sid[256];
    int64_t seq, ts;
    char *from, *text;
} tsearch_hit;

/* The results of the last /search, shown instead of the open conversation
 * while `active`. */
typedef struct tsearch {
    bool active, pending;
    int gen; /* bumped per search: a late reply of an older one is dropped */
    char query[256];
    tsearch_hit *hits;
    int n;
    int64_t select_seq; /* a hit /open'ed before its history page arrived */
} tsearch;

typedef struct chat {
    uv_loop_t *loop;
    uv_tty_t in;
    uv_signal_t winch;
    uv_timer_t esc_timer;
    omtp_client *c;
    cli_opts *o;
    conv *convs[TUI_MAXCONV];
    int nconv;
    int open; /* index into convs, -1 none */
    tui_input input;
    char status[256];
    char note[512];
    int64_t tick;
    int rows, cols;
    bool quitting;
    bool bell;        /* ring for messages in conversations that are not open */
    int64_t sel_seq;  /* selected message of the open conversation, 0 none */
    int64_t group_ts; /* group sync cursor */
    bool groups_syncing;
    char start_open[256]; /* the USER|GROUP argument, opened after the first group sync */
    /* extensions (tui_ext.c): each turns itself off when the server answers
     * its packet type as unknown (PROTOCOL) */
    uv_timer_t ext_timer;
    bool no_presence, no_typing, no_readers;
    bool sub_dirty;          /* the set of single-chat peers changed */
    uint64_t typing_sent_at; /* uv_now() of the last "typing" sent, 0 none */
    char typing_sid[256];    /* where it was sent */
    tsearch srch;            /* /search results (tui_search.c) */
} chat;

/* ---- sending (cmd_chat.c) ---- */
/* Queues a message of content_type with content to conversation v, shown
 * as `shown` while pending; reply_to 0 = none. */
void tui_send_typed(chat *t, conv *v, int content_type, const char *content, const char *shown,
                    int64_t reply_to);

/* ---- files (tui_file.c) ---- */
/* /file PATH: uploads PATH on a worker thread (the loop keeps running),
 * then sends the media message to v. Progress and errors in the note row. */
void tui_file_send(chat *t, conv *v, const char *arg);
/* The text a message shows: a media message's summary ("[image 640×480
 * cat.jpg 120 KB]", into buf) or its content. */
const char *tui_file_text(const omtp_MsgReq *m, char *buf, size_t n);
/* At quit: uploads in flight stop. */
void tui_file_stop(chat *t);

/* ---- model (tui_model.c) ---- */
conv *tui_conv_find(chat *t, const char *id, bool create);
conv *tui_conv_open_ptr(chat *t);
void tui_conv_remove(chat *t, conv *v);
void tui_conv_sort(chat *t);
void tui_conv_set_title(chat *t, conv *v, const char *name);
/* Adds or updates a stored message (seq > 0). Returns it. */
tmsg *tui_msg_put(conv *v, int64_t seq, int64_t ts, const char *from, const char *text,
                  bool revoked, bool edited);
/* Appends a pending own message (seq 0). */
tmsg *tui_msg_pending(conv *v, const char *from, const char *text, const char *pack_id);
tmsg *tui_msg_by_pack(conv *v, const char *pack_id);
tmsg *tui_msg_by_seq(conv *v, int64_t seq);
/* A pending message got its ack: gives it seq/ts and moves it into order. */
void tui_msg_acked(conv *v, tmsg *m, int64_t seq, int64_t ts);
void tui_msg_delete(conv *v, int64_t seq);
/* Oldest stored seq loaded (0 if none). */
int64_t tui_conv_oldest(const conv *v);
/* The newest own stored message (not revoked), NULL if none. */
tmsg *tui_conv_last_own(conv *v, const char *me);
/* Moves the selection one message up (dir -1) or down (+1); 0 = none. */
void tui_select(chat *t, int dir);
/* Marks own messages up to `seq` with at least `state`. */
void tui_conv_mark_own(conv *v, const char *me, int64_t seq, int state);
void tui_conv_free(conv *v);
/* Group conversations whose title matches `name` exactly (case-sensitive
 * first, then ignoring case); fills out[] and returns how many. */
int tui_groups_named(chat *t, const char *name, conv **out, int max);

/* ---- screen (tui_screen.c) ---- */
void tui_redraw(chat *t);
void tui_out(const char *s, size_t n);
/* Display columns of one UTF-8 character starting at s (its byte length in
 * *len); 0 for combining marks, 2 for wide (CJK) ones. */
int tui_char_cols(const char *s, int *len);
/* Wraps s at `width` display columns (rows after the first indented by
 * `indent` spaces); the first `max` rows go to out[] (malloc'd, the
 * caller frees them). Returns the number of rows. */
int tui_wrap_text(const char *s, int width, int indent, char **out, int max);
/* Scrolls the open conversation by `rows` (positive = older); asks the
 * model for older history when the top is reached. */
void tui_scroll(chat *t, int rows);
/* Screen rows one message takes in the open conversation's column. */
int tui_msg_height(chat *t, const tmsg *m);
/* Rows available for messages. */
int tui_body_rows(const chat *t);

/* ---- input (tui_input.c) ---- */
enum tui_key {
    K_NONE = 0,
    K_CHAR, /* printable bytes */
    K_ENTER,
    K_TAB,
    K_BTAB,
    K_UP,
    K_DOWN,
    K_LEFT,
    K_RIGHT,
    K_HOME,
    K_END,
    K_DELETE,
    K_BACKSPACE,
    K_PGUP,
    K_PGDN,
    K_WHEEL_UP,
    K_WHEEL_DOWN,
    K_ALT_UP,
    K_ALT_DOWN,
    K_ESC,
    K_CTRL_A,
    K_CTRL_E,
    K_CTRL_W,
    K_CTRL_U,
    K_CTRL_K,
    K_QUIT,
};
/* Feeds one byte of terminal input; returns a key when one is complete
 * (K_CHAR: `ch` is the byte), K_NONE while in the middle of a sequence. */
int tui_key_feed(tui_input *in, unsigned char ch);
/* A lone ESC that no sequence followed (after a short wait). */
int tui_key_flush(tui_input *in);
/* Applies an editing key to the line; returns true if it was one. */
bool tui_edit(tui_input *in, int key, unsigned char ch);
/* Takes the line (NUL-terminated copy into out), clears it and remembers it
 * for recall when `remember`. */
void tui_input_take(tui_input *in, char *out, size_t n, bool remember);
void tui_input_set(tui_input *in, const char *text);
void tui_input_free(tui_input *in);

/* ---- extensions (tui_react.c: replies, mentions, reactions ---- */
/* Copies replyTo, mentions and the reactions aggregate of a message. */
void tui_react_from_msg(chat *t, tmsg *m, const omtp_MsgReq *req);
void tui_react_on_notice(omtp_client *c, const omtp_OTIMHeader *h, const omtp_ReactionNotice *n,
                         void *ud);
/* "> alice #12: the quoted text" for a reply (buf "" otherwise). */
void tui_react_quote(chat *t, conv *v, const tmsg *m, char *buf, size_t n);
/* "👍 bob carol  ❤ alice" (buf "" when none). */
void tui_react_line(const tmsg *m, char *buf, size_t n);
/* /react EMOJI (op 1) or /unreact EMOJI (op 2) on m. */
void tui_react_send(chat *t, conv *v, tmsg *m, const char *emoji, int op);
void tui_react_free(tmsg *m);
/* ---- extensions (tui_ext.c): presence, typing, read receipts ---- */
void tui_ext_init(chat *t);
void tui_ext_close(chat *t);
/* logged in: subscribe to the peers' presence, ask for read receipts */
void tui_ext_online(chat *t);
/* a conversation was added: the subscription is refreshed soon */
void tui_ext_convs_changed(chat *t);
/* the user edits the input of the open conversation (typing 1) or sent /
 * cleared it (0) */
void tui_ext_typing(chat *t, int state);
/* ask who read your newest message of v (the open conversation) */
void tui_ext_readers(chat *t, conv *v);
void tui_ext_on_presence(omtp_client *c, const omtp_PresenceNotice *n, void *ud);
void tui_ext_on_typing(omtp_client *c, const omtp_TypingNotice *n, void *ud);
/* "alice is typing..." or "" for the header */
const char *tui_ext_typing_text(chat *t, conv *v);

/* ---- /search (tui_search.c) ---- */
/* Sends the search; the reply shows the results (t->srch.active). */
void tui_search_send(chat *t, const char *query);
/* Hit N of "N" (1 for ""), NULL if there is no such hit. */
const tsearch_hit *tui_search_hit(chat *t, const char *arg);
/* Frees the results and leaves the results view. */
void tui_search_close(chat *t);
void tui_search_header(chat *t, char *buf, size_t n);
/* The results wrapped at `width` (malloc'd rows into out[], at most max). */
int tui_search_rows(chat *t, int width, char **out, int max);

/* ---- wiring (cmd_chat.c) ---- */
void tui_load_older(chat *t, conv *v);

#endif
