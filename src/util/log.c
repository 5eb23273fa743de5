/*
 * log.c - one-line log records on stderr.
 *
 * "2026-11-25T20:00:00.123Z INFO  conn 12 login alice dev=linux". A record is
 * formatted into a stack buffer and written with one write(2), so lines from
 * the loop and store threads never interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = OMTP_LOG_INFO;

void omtp_log_set_level(int level)
{
    log_level = level;
}

const char *omtp_log_device(int type)
{
    static const char *names[] = {"none",    "ios",   "android", "macos",
                                  "windows", "linux", "observer"};
    return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "other";
}

void omtp_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if (level < log_level)
        return;
    if (level < 0 || level > OMTP_LOG_ERROR)
        level = OMTP_LOG_ERROR;
    char buf[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(buf) - 2)
        len = sizeof(buf) - 2;
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}
