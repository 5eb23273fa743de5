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

#include "omtp_cli.h"

struct omtp_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct omtp_command commands[] = {
    {"codec", omtp_cmd_codec, "decode/encode OMTP frames and Tars structs as JSON"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: omtp <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`omtp <command> --help` describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "omtp: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
