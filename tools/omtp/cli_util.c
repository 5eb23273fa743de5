/*
 * cli_util.c - small helpers shared by the omtp subcommands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "omtp_cli.h"

int omtp_cli_read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b)
        return -1;
    for (;;) {
        if (n == cap) {
            char *nb = cap > ((size_t)-1) / 4 ? NULL : realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                errno = ENOMEM;
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(b);
                return -1;
            }
            break;
        }
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}
