/*
 * main.c - the `omtp` command-line tool: subcommand dispatch.
 *
 * `omtp <command> [args]` looks the command up in `commands` and calls it
 * with argv starting at the command name. To add a command, write
 * cmd_<name>.c, declare its function in omtp_cli.h and add one row here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "omtp_cli.h"

struct omtp_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct omtp_command commands[] = {
    {"chat", cmd_chat, "interactive chat in the terminal (conversations, live messages)"},
    {"login", cmd_login, "check that the server is reachable and the credentials work"},
    {"send", cmd_send, "send a message to a user: omtp send USER TEXT | --file PATH"},
    {"download", cmd_download, "download a file of a media message: omtp download FILEID"},
    {"group", cmd_group, "groups: create, join, quit, members, info, list, dismiss, send"},
    {"sessions", cmd_sessions, "list your conversations with unread counts"},
    {"history", cmd_history, "show the messages of a conversation"},
    {"search", cmd_search, "find messages that contain a text: omtp search QUERY"},
    {"read", cmd_read, "mark a conversation read"},
    {"revoke", cmd_revoke, "revoke a message you sent: omtp revoke SESSION SEQ"},
    {"edit", cmd_edit, "edit a message you sent: omtp edit SESSION SEQ TEXT"},
    {"delete", cmd_delete, "delete a message: omtp delete SESSION SEQ"},
    {"friends", cmd_friends, "friends: add, del, list"},
    {"user", cmd_user, "user info: get, set"},
    {"react", cmd_react, "react to a message: omtp react SESSION SEQ EMOJI"},
    {"unreact", cmd_unreact, "take a reaction back: omtp unreact SESSION SEQ EMOJI"},
    {"reply", cmd_reply, "answer a message, @id mentions: omtp reply SESSION SEQ TEXT"},
    {"watch", cmd_watch, "print incoming messages live (until Ctrl-C)"},
    {"presence", cmd_presence, "watch users' presence: omtp presence USER..."},
    {"typing", cmd_typing, "say you are typing: omtp typing SESSION|USER [1|0]"},
    {"readers", cmd_readers, "who read a message: omtp readers SESSION SEQ"},
    {"codec", omtp_cmd_codec, "decode/encode OMTP frames and Tars structs as JSON"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: omtp <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`omtp <command> --help` describes a command; `omtp --version` prints the\n"
                 "version of this build.\n");
    cli_print_common_help(out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: omtp <command> [options]\n(run omtp --help for the commands)\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("omtp %s\n", cli_version());
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (argv[1][0] == '-')
        fprintf(stderr,
                "omtp: '%s' before the command: options go after it (omtp send --help), "
                "or run omtp --help\n",
                argv[1]);
    else {
        const char *best = NULL;
        int bestd = 3; /* suggest within 2 edits */
        for (size_t i = 0; i < NCOMMANDS; i++) {
            int d = omtp_cli_edit_distance(argv[1], commands[i].name);
            if (d < bestd) {
                bestd = d;
                best = commands[i].name;
            }
        }
        if (best)
            fprintf(stderr,
                    "omtp: unknown command '%s'; did you mean %s? (omtp --help lists them)\n",
                    argv[1], best);
        else
            fprintf(stderr, "omtp: unknown command '%s' (run omtp --help for the commands)\n",
                    argv[1]);
    }
    return 2;
}
