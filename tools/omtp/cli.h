/*
 * cli.h - shared plumbing of the `omtp` command-line client.
 *
 * Every subcommand is `int cmd_xxx(int argc, char **argv)` (argv[0] is the
 * subcommand's name) registered in main.c's table. Connection settings come
 * from, in order of precedence: flags (--server HOST:PORT, --user,
 * --password, --password-file PATH, --device TYPE, --timeout MS, --http URL,
 * --token TOKEN), the environment (OMTP_SERVER, OMTP_USER, OMTP_PASSWORD,
 * OMTP_PASSWORD_FILE, OMTP_DEVICE, OMTP_HTTP, OMTP_TOKEN), the config file
 * (~/.config/omtp/config or $OMTP_CONFIG; key=value lines: server, user,
 * password, password_file, device, http, token), a
 * prompt without echo on the terminal for a missing password, and defaults
 * (127.0.0.1:9000).
 *
 * Options are parsed with getopt_long: the common ones plus the
 * subcommand's own table (cli_opt), before or after the positionals, `--`
 * ends them (so a text may start with '-'). An unknown option is a usage
 * error (exit 2) naming the closest known option of that subcommand.
 *
 * Single-threaded: everything here runs on the CLI's main thread.
 *
 * Exit codes: 0 ok, 1 the server refused (the reply's code is printed),
 * 2 usage error, 3 cannot connect / connection lost / timeout.
 */
#ifndef OMTP_CLI_CLIENT_H
#define OMTP_CLI_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

#include "client/omtp_sync.h"

enum { CLI_OK = 0, CLI_EREFUSED = 1, CLI_EUSAGE = 2, CLI_ECONN = 3 };

/* The device type of one-shot commands (send, history, ...) and of watch:
 * an observer kicks nobody and is kicked by no login (docs/protocol.md,
 * "Observers"), so they never disturb the user's chat or apps. */
#define CLI_ONESHOT_DEVICE DEVICE_OBSERVER

typedef struct cli_opts {
    char cmd[32]; /* the subcommand, for messages ("send") */
    char host[256];
    int port;
    char ws_path[256]; /* --server ws://HOST:PORT/PATH: WebSocket to this path ("" = TCP) */
    char user[256];
    char password[256];
    char password_file[1024]; /* --password-file / OMTP_PASSWORD_FILE / password_file= */
    int device;               /* DEVICE_* */
    bool device_set;
    int timeout_ms;
    bool json;
    char bell_cfg[8]; /* the config file's bell= (omtp chat), "" if absent */
    /* files (cmd_file.c): where omtpd serves /v1/files and the login token */
    char http_url[512]; /* --http / OMTP_HTTP / http= ; "" = from a ws:// --server */
    char token[1024];   /* --token / OMTP_TOKEN / token= ; "" = none */
    /* positional arguments left after option parsing */
    int argc;
    char **argv;
} cli_opts;

/*
 * A subcommand's own option, besides the common ones. A table of them ends
 * with a row whose name is NULL. `arg` names the value in --help (NULL: a
 * flag without value, which sets *flag); a value option stores its
 * argument (a pointer into argv) in *value.
 */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    const char *arg;  /* "N", "PATH", ... or NULL for a flag */
    const char *help; /* one line for --help */
    const char **value;
    bool *flag;
} cli_opt;

/*
 * Parses the options of subcommand `cmd` (argv[0] is the first argument
 * after the subcommand's name): the common flags and `extra` (may be NULL),
 * anywhere on the line until `--`; then fills defaults from environment and
 * config file. `default_device` is used when nothing sets one. Returns 0,
 * or CLI_EUSAGE after printing the problem. If --help / -h is present, sets
 * *help.
 */
int cli_parse(const char *cmd, int argc, char **argv, int default_device, const cli_opt *extra,
              cli_opts *o, bool *help);
/* Makes sure o->password is set: reads --password-file, else asks on the
 * terminal without echo. Returns 0, or CLI_EUSAGE after saying what to do. */
int cli_need_password(cli_opts *o);
/* The stable device id of this machine (and OS account) kept in
 * $XDG_STATE_HOME/omtp/device-id (default ~/.local/state/omtp/), created
 * 0600 on first use; NULL if it cannot be kept there (a random one is then
 * used per run). Static storage. */
const char *cli_device_id(void);
/* Connects and logs in (asking for the password if needed); on failure
 * prints what went wrong and what to do, and returns CLI_ECONN,
 * CLI_EUSAGE or CLI_EREFUSED with *out NULL. */
int cli_login(cli_opts *o, omtp_sync **out);
/* What a refused request was (cli_errors.c words a code per kind). */
enum cli_req {
    CLI_REQ_ANY,
    CLI_REQ_LOGIN,
    CLI_REQ_SEND,
    CLI_REQ_GROUP_SEND,
    CLI_REQ_HISTORY,
    CLI_REQ_READ,
    CLI_REQ_CTRL,
    CLI_REQ_FRIEND_ADD,
    CLI_REQ_FRIEND_DEL,
    CLI_REQ_GROUP_CREATE,
    CLI_REQ_GROUP_JOIN,
    CLI_REQ_GROUP_QUIT,
    CLI_REQ_GROUP_MEMBERS,
    CLI_REQ_GROUP_DISMISS,
    CLI_REQ_USER,
};
/*
 * Prints what went wrong in words for that kind of request and `target`
 * (the user, group or session it was about), the server's desc, the code's
 * name, and a hint from the table in cli_errors.c:
 *   omtp send: cannot send to nosuch: recipient 'nosuch' does not exist [PARAM (2)]
 *   hint: check the id ...
 * `cmd` NULL prints "omtp:". Returns CLI_EREFUSED.
 */
int cli_refused_req(const char *cmd, int kind, const char *target, int code, const char *desc);
/* cli_refused_req for any request: "omtp: <what>: ..." */
int cli_refused(const char *what, int code, const char *desc);
/* Prints a C-level failure (OMTP_E*) of a request; returns CLI_ECONN. */
int cli_failed(const char *what, int err);
/* Parses a device type name ("linux") or number. -1 if unknown. */
int cli_device_from_name(const char *s);
const char *cli_device_name(int t);
/* The common options block of every --help. */
void cli_print_common_help(FILE *f);
/* "2024-05-01 12:34" for a millisecond timestamp. */
void cli_fmt_time(int64_t ms, char *buf, size_t n);
/* One history line of a stored message (inner OTIMPack). */
void cli_print_msg(FILE *f, const omtp_OTIMPack *p, bool json);

/*
 * cli_parse + --help handling + argument count check for a subcommand.
 * Returns -1 to go on, else the exit code to return.
 */
int cli_start(int argc, char **argv, cli_opts *o, int default_device, int min_args,
              const char *usage_line, const char *desc);
/* The same with the subcommand's own options (listed in its --help). */
int cli_start_opts(int argc, char **argv, cli_opts *o, int default_device, int min_args,
                   const char *usage_line, const char *desc, const cli_opt *extra);
/* "omtp X.Y-N-gHASH" of the build (cli.c from the generated version.h). */
const char *cli_version(void);
/* A SESSION argument: a session id as is (SC_/GC_/BM_), else a user id.
 * Returns 0, or CLI_EUSAGE when arg is not a valid user id (buf is then ""
 * and the caller says so: cli_bad_peer). */
int cli_resolve_session(const char *me, const char *arg, char *buf, size_t n);
/* Prints why `arg` is not a user id to talk to. Returns CLI_EUSAGE. */
int cli_bad_peer(const char *arg);
/* Joins argv[from..argc) with spaces into buf. */
void cli_join(int argc, char **argv, int from, char *buf, size_t n);
/* Sends TEXT to a user (type 14) or a group (15), prints the ack. */
int cli_send_common(cli_opts *o, int type, const char *to, const char *text);

/* subcommands */
int cmd_login(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_search(int argc, char **argv); /* cmd_search.c */
int cmd_read(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_friends(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_watch(int argc, char **argv);
/* cmd_react.c: reactions, replies, mentions (extensions) */
int cmd_react(int argc, char **argv);
int cmd_unreact(int argc, char **argv);
int cmd_reply(int argc, char **argv);
/* a history line's reply, mentions and reactions (cli_print_msg calls it) */
void cli_print_ext(FILE *f, const omtp_MsgReq *m);
/* extensions (cmd_presence.c): presence, typing, read receipts */
int cmd_presence(int argc, char **argv);
int cmd_typing(int argc, char **argv);
int cmd_readers(int argc, char **argv);
/* The async client config for chat/watch (cmd_watch.c). */
struct omtp_client_config;
void cli_client_config(const cli_opts *o, struct omtp_client_config *cfg);
int cmd_chat(int argc, char **argv);

/* files (cmd_file.c; client/omtp_files.h) */
struct omtp_file_opts;
struct omtp_file_result;
/* Fills *fo with where files are served (--http, else the http:// of a
 * ws:// --server) and the token (tok, toklen bytes): the one a password
 * login handed back on c (may be NULL), else --token. CLI_EUSAGE after
 * saying what is missing. */
int cli_file_target(cli_opts *o, omtp_sync *c, struct omtp_file_opts *fo, char *tok, size_t toklen);
/* Prints a failed transfer (the server's refusal with a hint, or the local
 * failure); returns the exit code. */
int cli_file_failed(const char *cmd, const char *what, int rc, const struct omtp_file_result *res);
/* omtp send USER --file PATH [--name NAME] (type PT_MSG_SINGLE_CHAT) and
 * omtp group send GROUP --file PATH (PT_MSG_GROUP_CHAT): upload, then the
 * media message. */
int cli_send_file(cli_opts *o, int type, const char *to, const char *path, const char *name);
int cmd_download(int argc, char **argv);
/* A JSON string literal of s on f (cli.c). */
void cli_json_str(FILE *f, const char *s);

#endif
