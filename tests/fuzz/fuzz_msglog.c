/*
 * fuzz_msglog.c - the message log's reader (store/msglog.h,
 * omtp_msglog_replay) on hostile segment files. The input is written into a
 * temporary directory as one segment, or two (the first byte chooses; the
 * second segment's name may chain or leave a gap), then replayed with
 * repair. Whatever the bytes: no crash, leak or endless loop, every record
 * handed out lies inside the input, and after the repair a second replay
 * finds the same records and nothing to cut.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/msglog.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void clean(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[128];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

static void put(uint64_t start, const uint8_t *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/seg-%016llx.log", dir, (unsigned long long)start);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

typedef struct acc {
    uint64_t records, sum, last_lsn;
    size_t total;
} acc;

static int on_rec(void *arg, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n)
{
    acc *a = arg;
    if (a->records && lsn <= a->last_lsn)
        abort(); /* out of order */
    if (n > a->total)
        abort(); /* more than the input holds */
    a->last_lsn = lsn;
    a->records++;
    a->sum += type;
    for (size_t i = 0; i < n; i++)
        a->sum += p[i];
    return 0;
}

static void remove_dir(void)
{
    clean();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        omtp_log_set_level(OMTP_LOG_ERROR + 1); /* the cut warnings: quiet */
        /* tmpfs where there is one: the repair's fsyncs cost nothing there */
        snprintf(dir, sizeof dir, "%s/fuzz-msglog-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
    }
    if (size < 3)
        return 0;
    uint8_t mode = data[0];
    size_t split = ((size_t)data[1] | (size_t)data[2] << 8);
    data += 3;
    size -= 3;
    clean();
    if ((mode & 1) && size > 0) {
        split %= size;
        put(0, data, split);
        put((mode & 2) ? split + 1 + (mode >> 2) : split, data + split, size - split);
    } else {
        put(0, data, size);
    }
    acc a = {.total = size};
    omtp_msglog_replay_stats st;
    if (omtp_msglog_replay(dir, 0, true, on_rec, &a, &st) != 0)
        abort(); /* a readable directory is never an I/O error */
    if (st.records != a.records || st.end_lsn > size + 1 + 255 + size || st.bytes > size)
        abort();
    acc b = {.total = size};
    omtp_msglog_replay_stats st2;
    if (omtp_msglog_replay(dir, 0, false, on_rec, &b, &st2) != 0)
        abort();
    if (st2.cut_bytes != 0 || st2.records != st.records || b.sum != a.sum ||
        st2.end_lsn != st.end_lsn)
        abort();
    clean();
    return 0;
}
