/*
 * msglog_read.c - the message log's reader: the list of segments, the
 * record check, and the scan behind omtp_msglog_replay (msglog.h) and
 * omtp_msglog_open.
 *
 * A record is valid when its 9-byte header is whole, its length is at most
 * OMTP_MSGLOG_MAX_RECORD, its payload is whole and its crc matches. The
 * first record that is not ends the log: a torn write (a crash in the
 * middle of write(2), or a power cut that kept the file's new size but not
 * its data: zeros) or corruption. Nothing after it is trusted, later
 * segments included (the log is written strictly in order, so nothing
 * acknowledged can follow a record that never became durable). Segments
 * must chain: each starts at the LSN where the previous one's valid records
 * end; a gap ends the log as a bad record does.
 *
 * Synchronous; runs at start-up and in tools, with no log open on the
 * directory. Memory: one read buffer, at most a record (16 MiB) + 64 KiB.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/log.h"
#include "msglog_int.h"

uint32_t msglog_crc(uint8_t type, const void *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, &type, 1);
    const Bytef *b = p;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool parse_name(const char *name, uint64_t *start)
{
    if (strlen(name) != MSGLOG_NAME_LEN || strncmp(name, "seg-", 4) != 0 ||
        strcmp(name + 20, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *start = v;
    return true;
}

int msglog_list(const char *dir, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : OMTP_EIO;
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t start;
        if (!parse_name(e->d_name, &start))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                free(v);
                closedir(d);
                return OMTP_ENOMEM;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = start;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_u64);
    *out = v;
    *n = cnt;
    return 0;
}

/* A buffered reader over one segment file. */
typedef struct reader {
    int fd;
    uint8_t *buf;
    size_t cap, pos, len;
    bool eof;
    int err; /* errno of a failed read */
} reader;

/* Makes at least `need` bytes available from pos (fewer only at EOF or on
 * an error); returns how many are. */
static size_t rd_fill(reader *r, size_t need)
{
    if (r->len - r->pos >= need)
        return r->len - r->pos;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    size_t want = need + (64u << 10);
    if (r->cap < want) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb) {
            r->err = ENOMEM;
            return r->len;
        }
        r->buf = nb;
        r->cap = want;
    }
    while (r->len < need && !r->eof && !r->err) {
        ssize_t k = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (k < 0) {
            if (errno != EINTR)
                r->err = errno;
        } else if (k == 0) {
            r->eof = true;
        } else {
            r->len += (size_t)k;
        }
    }
    return r->len - r->pos;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_path(char *buf, size_t cap, const char *dir, uint64_t start)
{
    snprintf(buf, cap, "%s/" MSGLOG_NAME_FMT, dir, (unsigned long long)start);
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
}

/* Cuts the log at `lsn` (inside segment segs[i], or at its start): the
 * segment is truncated there, later ones removed, the directory synced. */
static int cut_tail(const char *dir, const uint64_t *segs, size_t n, size_t i, uint64_t lsn)
{
    char path[4096];
    int rc = 0;
    seg_path(path, sizeof path, dir, segs[i]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)(lsn - segs[i])) != 0 || fdatasync(fd) != 0) {
        LOG_ERROR("message log: cannot cut %s at byte %llu: %s; check the disk and its "
                  "permissions, then restart",
                  path, (unsigned long long)(lsn - segs[i]), strerror(errno));
        rc = OMTP_EIO;
    }
    if (fd >= 0)
        close(fd);
    for (size_t j = i + 1; j < n; j++) {
        seg_path(path, sizeof path, dir, segs[j]);
        if (unlink(path) != 0 && errno != ENOENT) {
            LOG_ERROR("message log: cannot remove %s: %s", path, strerror(errno));
            rc = OMTP_EIO;
        }
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return rc;
}

int msglog_scan(const char *dir, uint64_t from, bool repair, omtp_msglog_record_fn fn, void *arg,
                omtp_msglog_replay_stats *st)
{
    memset(st, 0, sizeof(*st));
    uint64_t *segs;
    size_t n;
    int rc = msglog_list(dir, &segs, &n);
    if (rc != 0) {
        LOG_ERROR("message log: cannot list %s: %s", dir, strerror(errno));
        return rc;
    }
    if (n == 0) {
        free(segs);
        return 0;
    }
    if (from < segs[0])
        LOG_WARN("message log: %s starts at LSN %llu, after the position asked for (%llu): the "
                 "records in between were removed (a store restored from an older backup than "
                 "its log?); replaying from %llu",
                 dir, (unsigned long long)segs[0], (unsigned long long)from,
                 (unsigned long long)segs[0]);
    /* segments wholly below `from` were applied: not read again */
    size_t first = 0;
    while (first + 1 < n && segs[first + 1] <= from)
        first++;
    reader r = {.fd = -1};
    char path[4096];
    uint64_t expect = segs[first];
    size_t bad_seg = n; /* the segment holding the first bad byte; n = none */
    uint64_t bad_lsn = 0;
    const char *why = NULL;
    for (size_t i = first; i < n && rc == 0 && bad_seg == n; i++) {
        if (segs[i] != expect) {
            /* a gap (or an overlap): the log ends where the last one did */
            bad_seg = i > first ? i - 1 : i;
            bad_lsn = expect;
            why = "segments do not chain";
            break;
        }
        seg_path(path, sizeof path, dir, segs[i]);
        r.fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r.fd < 0) {
            LOG_ERROR("message log: cannot open %s: %s", path, strerror(errno));
            rc = OMTP_EIO;
            break;
        }
        r.pos = r.len = 0;
        r.eof = false;
        r.err = 0;
        uint64_t off = 0;
        for (;;) {
            size_t have = rd_fill(&r, OMTP_MSGLOG_HDR);
            if (r.err) {
                LOG_ERROR("message log: cannot read %s: %s", path, strerror(r.err));
                rc = r.err == ENOMEM ? OMTP_ENOMEM : OMTP_EIO;
                break;
            }
            if (have == 0)
                break; /* the segment ends cleanly */
            if (have < OMTP_MSGLOG_HDR) {
                why = "torn record header";
                break;
            }
            const uint8_t *h = r.buf + r.pos;
            uint32_t len = get_u32(h), crc = get_u32(h + 4);
            uint8_t type = h[8];
            if (len > OMTP_MSGLOG_MAX_RECORD) {
                why = "record length out of range";
                break;
            }
            have = rd_fill(&r, OMTP_MSGLOG_HDR + (size_t)len);
            if (r.err) {
                LOG_ERROR("message log: cannot read %s: %s", path, strerror(r.err));
                rc = r.err == ENOMEM ? OMTP_ENOMEM : OMTP_EIO;
                break;
            }
            if (have < OMTP_MSGLOG_HDR + (size_t)len) {
                why = "torn record";
                break;
            }
            const uint8_t *p = r.buf + r.pos + OMTP_MSGLOG_HDR;
            if (msglog_crc(type, p, len) != crc) {
                why = "record checksum mismatch";
                break;
            }
            uint64_t lsn = segs[i] + off;
            if (lsn >= from) {
                st->records++;
                st->bytes += OMTP_MSGLOG_HDR + (uint64_t)len;
                if (fn && (rc = fn(arg, lsn, type, p, len)) != 0)
                    break;
            }
            r.pos += OMTP_MSGLOG_HDR + (size_t)len;
            off += OMTP_MSGLOG_HDR + (uint64_t)len;
        }
        close(r.fd);
        r.fd = -1;
        if (rc != 0)
            break;
        expect = segs[i] + off;
        st->end_lsn = expect;
        if (why) {
            bad_seg = i;
            bad_lsn = expect;
        }
    }
    free(r.buf);
    if (rc == 0 && bad_seg < n) {
        st->end_lsn = bad_lsn;
        /* bytes from bad_lsn to the end of the log */
        for (size_t j = bad_seg; j < n; j++) {
            seg_path(path, sizeof path, dir, segs[j]);
            uint64_t sz = file_size(path);
            if (j == bad_seg)
                st->cut_bytes += segs[j] + sz > bad_lsn ? segs[j] + sz - bad_lsn : 0;
            else
                st->cut_bytes += sz;
        }
        if (repair) {
            LOG_WARN("message log: %s at LSN %llu in %s: cutting the %llu bytes from there "
                     "(after a crash or power cut: the unfinished last writes, never "
                     "acknowledged; far from the end of the log: the disk corrupted it)",
                     why, (unsigned long long)bad_lsn, dir, (unsigned long long)st->cut_bytes);
            rc = cut_tail(dir, segs, n, bad_seg, bad_lsn);
        } else {
            LOG_WARN("message log: %s at LSN %llu in %s: the log ends there (%llu bytes after "
                     "it are not read)",
                     why, (unsigned long long)bad_lsn, dir, (unsigned long long)st->cut_bytes);
        }
    }
    free(segs);
    return rc;
}

int omtp_msglog_replay(const char *dir, uint64_t from, bool repair, omtp_msglog_record_fn fn,
                       void *arg, omtp_msglog_replay_stats *st)
{
    return msglog_scan(dir, from, repair, fn, arg, st);
}
