/*
 * logdump.h - `omtpd log dump`: prints the message log (store/msglog.h) of
 * a data directory, one line per record, and where the store's apply
 * stands. Read-only (never repairs: safe beside a running server, whose
 * last record may then show as a torn tail). Main thread only.
 */
#ifndef OMTPD_LOGDUMP_H
#define OMTPD_LOGDUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* dir: DATA_DIR/log; applied: the store's applied LSN (has_applied false
 * when the store could not say). Returns the exit code: 0 (the log read to
 * its end), 1 (torn/corrupt tail or I/O error: said on stderr). */
int omtpd_log_dump(const char *dir, uint64_t from, bool has_applied, uint64_t applied, FILE *out);

#endif
