/*
 * msglog.c - the message log (msglog.h): open, append, retire, close.
 * Stub: the API compiles; the implementation follows.
 */
#include <stdlib.h>
#include <string.h>

#include "msglog.h"

int omtp_msglog_open(uv_loop_t *loop, const char *dir, const omtp_msglog_opts *o,
                     omtp_msglog_synced_fn synced, void *arg, omtp_msglog **out)
{
    (void)loop, (void)dir, (void)o, (void)synced, (void)arg;
    *out = NULL;
    return OMTP_EIO;
}

int omtp_msglog_append(omtp_msglog *log, uint8_t type, const void *p, size_t n, uint64_t *lsn_end)
{
    (void)log, (void)type, (void)p, (void)n, (void)lsn_end;
    return OMTP_EIO;
}

uint64_t omtp_msglog_end(const omtp_msglog *log)
{
    (void)log;
    return 0;
}

uint64_t omtp_msglog_synced(const omtp_msglog *log)
{
    (void)log;
    return 0;
}

void omtp_msglog_retire(omtp_msglog *log, uint64_t lsn)
{
    (void)log, (void)lsn;
}

int omtp_msglog_replay(const char *dir, uint64_t from, bool repair, omtp_msglog_record_fn fn,
                       void *arg, omtp_msglog_replay_stats *st)
{
    (void)dir, (void)from, (void)repair, (void)fn, (void)arg;
    memset(st, 0, sizeof(*st));
    return 0;
}

void omtp_msglog_get_stats(const omtp_msglog *log, omtp_msglog_stats *st)
{
    (void)log;
    memset(st, 0, sizeof(*st));
}

void omtp_msglog_close(omtp_msglog *log)
{
    (void)log;
}
