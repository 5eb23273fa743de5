/*
 * log.h - omtpd's log lines on stderr
 * ("2026-11-25T20:00:00.123Z INFO  conn 12 login alice dev=linux").
 *
 * Thread-safe: the loop thread and the store thread both log. Part of the
 * utility layer (src/util, library omtp_util): it includes nothing of the
 * project, so the store (schema upgrades, sync mode) and the server both use
 * it. See docs/architecture.md.
 */
#ifndef OMTP_LOG_H
#define OMTP_LOG_H

enum omtp_log_level { OMTP_LOG_DEBUG, OMTP_LOG_INFO, OMTP_LOG_WARN, OMTP_LOG_ERROR };
void omtp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void omtp_log_set_level(int level);
/* A device type's name for log lines: "ios", "android", "macos", "windows",
 * "linux", "observer", "none", or "other" outside the enum. */
const char *omtp_log_device(int type);
#define LOG_DEBUG(...) omtp_log(OMTP_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...)  omtp_log(OMTP_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...)  omtp_log(OMTP_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) omtp_log(OMTP_LOG_ERROR, __VA_ARGS__)

#endif
