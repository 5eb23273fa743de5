/*
 * omtp_cli.h - subcommands of the `omtp` command-line tool.
 *
 * Each subcommand is a function taking the arguments after the program name
 * (argv[0] is the subcommand's own name) and returning the process exit
 * status. main.c lists them in one table; add a row there for a new one.
 */
#ifndef OMTP_CLI_H
#define OMTP_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* omtp codec decode|encode: frames and structs <-> JSON (cmd_codec.c). */
int omtp_cmd_codec(int argc, char **argv);

/* Levenshtein distance of two words (99 when one is over 64 bytes). */
int omtp_cli_edit_distance(const char *a, const char *b);

struct option;
/* Says that `arg` (as on the command line: "--pasword", "--x=1", "-z") is
 * not an option of `cmd`, naming the closest of `lo` (a getopt_long table
 * ending with a NULL name) or the ambiguous candidates. Returns 2. */
int omtp_cli_unknown_option(const char *cmd, const char *arg, const struct option *lo);

/* Reads all of a stream into a new malloc'd, NUL-terminated buffer.
 * Returns 0, or -1 with errno set. */
int omtp_cli_read_all(FILE *f, char **out, size_t *len);

#endif
