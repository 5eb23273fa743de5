/*
 * log.h - omtpd's log lines on stderr or in a file, as text
 * ("2026-11-25T20:00:00.123Z INFO  conn 12 login alice dev=linux") or as one
 * JSON object per line ({"ts","level","msg","fields"}; log.c).
 *
 * Thread-safe: the loop thread and the store thread both log. Part of the
 * utility layer (src/util, library omtp_util): it includes nothing of the
 * project, so the store (schema upgrades, sync mode) and the server both use
 * it. See docs/architecture.md.
 */
#ifndef OMTP_LOG_H
#define OMTP_LOG_H

#include <stddef.h>

enum omtp_log_level { OMTP_LOG_DEBUG, OMTP_LOG_INFO, OMTP_LOG_WARN, OMTP_LOG_ERROR };
void omtp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum omtp_log_format { OMTP_LOG_TEXT, OMTP_LOG_JSON };
/* Level, format and file may change while threads log (SIGHUP reload). */
void omtp_log_set_level(int level);
void omtp_log_set_format(int format);
/* Logs to `path` (appending, created 0640) from now on; called again, it
 * reopens the file (logrotate moved it); "" or NULL: back to stderr. On
 * error, *why says what to do and the log stays where it was. */
int omtp_log_open_file(const char *path, char *why, size_t whylen);
/* Formats one record (ending in '\n') into buf for `format` (enum
 * omtp_log_format); msg is mlen bytes, cut at a NUL. JSON output is one valid
 * JSON object whatever the bytes (invalid UTF-8 becomes U+FFFD). Returns the
 * length, 0 if cap < 256. What omtp_log writes; public for the fuzz target. */
size_t omtp_log_format_line(char *buf, size_t cap, int format, int level, const char *msg,
                            size_t mlen);
/* A device type's name for log lines: "ios", "android", "macos", "windows",
 * "linux", "observer", "none", or "other" outside the enum. */
const char *omtp_log_device(int type);
#define LOG_DEBUG(...) omtp_log(OMTP_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...)  omtp_log(OMTP_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...)  omtp_log(OMTP_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) omtp_log(OMTP_LOG_ERROR, __VA_ARGS__)

#endif
