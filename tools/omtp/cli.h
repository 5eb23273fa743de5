/*
 * cli.h - shared plumbing of the `omtp` command-line client.
 *
 * Every subcommand is `int cmd_xxx(int argc, char **argv)` (argv[0] is the
 * subcommand's name) registered in main.c's table. Connection settings come
 * from, in order of precedence: flags (--server HOST:PORT, --user,
 * --password, --device TYPE, --timeout MS), the environment (OMTP_SERVER,
 * OMTP_USER, OMTP_PASSWORD, OMTP_DEVICE), the config file
 * (~/.config/omtp/config or $OMTP_CONFIG; key=value lines: server, user,
 * password, device), and defaults (127.0.0.1:9000).
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

typedef struct cli_opts {
    char host[256];
    int port;
    char ws_path[256]; /* --server ws://HOST:PORT/PATH: WebSocket to this path ("" = TCP) */
    char user[256];
    char password[256];
    int device; /* DEVICE_* */
    bool device_set;
    int timeout_ms;
    bool json;
    /* positional arguments left after option parsing */
    int argc;
    char **argv;
} cli_opts;

/*
 * Parses the common flags out of argv (anywhere on the line), then fills
 * defaults from environment and config file. `default_device` is used when
 * nothing sets one. Returns 0, or CLI_EUSAGE after printing the problem.
 * If --help / -h is present, sets *help.
 */
int cli_parse(int argc, char **argv, int default_device, cli_opts *o, bool *help);
/* Connects and logs in; on failure prints what went wrong and what to do,
 * and returns CLI_ECONN or CLI_EREFUSED with *out NULL. */
int cli_login(const cli_opts *o, omtp_sync **out);
/* Prints "error: <what>: <CODE_NAME> (n): desc" and a hint; returns CLI_EREFUSED. */
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

#endif
