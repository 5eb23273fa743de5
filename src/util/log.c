/*
 * log.c - one-line log records on stderr or in log_file, as text or JSON.
 *
 * Text: "2026-11-25T20:00:00.123Z INFO  conn 12 login alice dev=linux".
 * JSON: {"ts":"2026-11-25T20:00:00.123Z","level":"info","msg":"conn 12 login
 * alice dev=linux","fields":{"dev":"linux"}} - one object per line; fields
 * are the message's key=value words, so shippers can index them.
 *
 * A record is formatted into a stack buffer and written with one write(2),
 * so lines from the loop, store and HTTP threads never interleave mid-line.
 * The log file is reopened by dup3(2) onto the same descriptor, which is
 * atomic for concurrent writers: a line goes wholly to the old or the new
 * file (logrotate: move the file, then SIGHUP; no copytruncate needed).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = OMTP_LOG_INFO;
static _Atomic int log_format = OMTP_LOG_TEXT;
static _Atomic int log_fd = STDERR_FILENO;

void omtp_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

void omtp_log_set_format(int format)
{
    atomic_store(&log_format, format == OMTP_LOG_JSON ? OMTP_LOG_JSON : OMTP_LOG_TEXT);
}

int omtp_log_open_file(const char *path, char *why, size_t whylen)
{
    if (!path || !path[0]) {
        /* back to stderr: the descriptor writers use is never closed (a
         * thread may be about to write to it, and a closed number could be
         * reused by a socket); it becomes a copy of stderr */
        int cur = atomic_load(&log_fd);
        if (cur != STDERR_FILENO && dup3(STDERR_FILENO, cur, O_CLOEXEC) < 0) {
            snprintf(why, whylen, "cannot switch the log back to stderr: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(why, whylen,
                 "cannot open log_file %s: %s (fix its directory's permissions or "
                 "choose another log_file)",
                 path, strerror(errno));
        return -1;
    }
    int cur = atomic_load(&log_fd);
    if (cur == STDERR_FILENO) {
        atomic_store(&log_fd, fd);
        return 0;
    }
    /* swap the file under the descriptor writers use, atomically */
    if (dup3(fd, cur, O_CLOEXEC) < 0) { /* keeps close-on-exec */
        snprintf(why, whylen, "cannot reopen log_file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

const char *omtp_log_device(int type)
{
    static const char *names[] = {"none",    "ios",   "android", "macos",
                                  "windows", "linux", "observer"};
    return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "other";
}

/* Appends s[0..n) to out as the inside of a JSON string; bytes that are not
 * valid UTF-8 become U+FFFD. Returns the new length (stops at cap). */
static size_t json_str(char *out, size_t len, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e && len + 8 < cap) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            out[len++] = '\\';
            out[len++] = (char)c;
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            len += (size_t)snprintf(out + len, cap - len, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            out[len++] = (char)c;
            p++;
        } else {
            /* well-formed UTF-8 only (no overlongs, surrogates or > U+10FFFF):
             * what JSON parsers accept */
            size_t k = c >= 0xc2 && c <= 0xdf   ? 2
                       : c >= 0xe0 && c <= 0xef ? 3
                       : c >= 0xf0 && c <= 0xf4 ? 4
                                                : 0;
            unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
            unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
            bool ok = k && (size_t)(e - p) >= k && p[1] >= lo && p[1] <= hi;
            for (size_t i = 2; ok && i < k; i++)
                ok = (p[i] & 0xc0) == 0x80;
            if (ok) {
                memcpy(out + len, p, k);
                len += k;
                p += k;
            } else {
                len += (size_t)snprintf(out + len, cap - len, "\\ufffd");
                p++;
            }
        }
    }
    return len;
}

/* The key=value words of msg as JSON members ("dev":"linux"). */
static size_t json_fields(char *out, size_t len, size_t cap, const char *msg)
{
    bool first = true;
    const char *w = msg;
    while (*w) {
        while (*w == ' ')
            w++;
        const char *end = w + strcspn(w, " ");
        const char *eq = memchr(w, '=', (size_t)(end - w));
        bool key_ok = eq && eq > w;
        for (const char *k = w; key_ok && k < eq; k++)
            key_ok = (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_';
        if (key_ok && len + 16 < cap) {
            if (!first)
                out[len++] = ',';
            first = false;
            out[len++] = '"';
            len = json_str(out, len, cap, w, (size_t)(eq - w));
            out[len++] = '"';
            out[len++] = ':';
            out[len++] = '"';
            len = json_str(out, len, cap, eq + 1, (size_t)(end - eq - 1));
            out[len++] = '"';
        }
        w = end;
    }
    return len;
}

size_t omtp_log_format_line(char *buf, size_t cap, int format, int level, const char *msg,
                            size_t mlen)
{
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    static const char *jnames[] = {"debug", "info", "warn", "error"};
    if (level < 0 || level > OMTP_LOG_ERROR)
        level = OMTP_LOG_ERROR;
    if (cap < 256)
        return 0;
    char ts[96];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    /* the message ends at its first NUL, like a C string */
    const char *nul = memchr(msg, 0, mlen);
    if (nul)
        mlen = (size_t)(nul - msg);
    size_t len;
    if (format == OMTP_LOG_JSON) {
        len = (size_t)snprintf(buf, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                               jnames[level]);
        len = json_str(buf, len, cap - 32, msg, mlen);
        len += (size_t)snprintf(buf + len, cap - len, "\",\"fields\":{");
        char m[1000];
        size_t ml = mlen < sizeof(m) ? mlen : sizeof(m) - 1;
        memcpy(m, msg, ml);
        m[ml] = 0;
        len = json_fields(buf, len, cap - 8, m);
        buf[len++] = '}';
        buf[len++] = '}';
    } else {
        len = (size_t)snprintf(buf, cap, "%s %s %.*s", ts, names[level], (int)mlen, msg);
        if (len > cap - 2)
            len = cap - 2;
    }
    buf[len++] = '\n';
    return len;
}

void omtp_log(int level, const char *fmt, ...)
{
    if (level < atomic_load(&log_level))
        return;
    char msg[1000];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
    msg[mlen] = 0;
    char buf[4096];
    size_t len = omtp_log_format_line(buf, sizeof(buf), atomic_load(&log_format), level, msg, mlen);
    ssize_t w = write(atomic_load(&log_fd), buf, len);
    (void)w;
}
