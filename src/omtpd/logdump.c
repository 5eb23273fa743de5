/*
 * logdump.c - `omtpd log dump` (logdump.h): the message log's records as
 * text. Records of type OMTP_LOGREC_MSG (domain/logrec.h) are decoded:
 * session, seqId, sender, recipient, packId, content type and length;
 * control, read cursor and reaction records (OMTP_LOGREC_CTRL/_READ/_REACT)
 * show their session, seqId, user, op, text length and notice id; other
 * types are shown as their length and first bytes.
 */
#include <inttypes.h>
#include <string.h>

#include "domain/logrec.h"
#include "store/msglog.h"
#include "logdump.h"

typedef struct dump {
    FILE *out;
    bool has_applied;
    uint64_t applied;
    uint64_t pending; /* records at or after the applied LSN */
} dump;

static void put_bytes(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && i < 32; i++)
        fprintf(out, "%02x", p[i]);
    if (n > 32)
        fputs("...", out);
}

static int on_rec(void *arg, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n)
{
    dump *d = arg;
    bool applied = d->has_applied && lsn < d->applied;
    d->pending += !applied;
    fprintf(d->out, "%" PRIu64 " %s len=%zu ", lsn,
            !d->has_applied ? "?"
            : applied       ? "applied"
                            : "pending",
            n);
    if (type == OMTP_LOGREC_MSG) {
        omtp_msg_rec m;
        char why[256];
        if (omtp_logrec_decode(p, n, &m, why, sizeof why) == 0)
            fprintf(d->out,
                    "msg type=%d session=%s seq=%" PRId64 " from=%s to=%s packId=%s "
                    "contentType=%d content=%zu bytes ts=%" PRId64 "\n",
                    (int)m.type, m.msg.sessionId.data ? m.msg.sessionId.data : "", m.msg.seqId,
                    m.msg.from.data ? m.msg.from.data : "", m.msg.to.data ? m.msg.to.data : "",
                    m.packId.data ? m.packId.data : "", (int)m.msg.contentType,
                    (size_t)m.msg.content.len, m.msg.timestamp);
        else
            fprintf(d->out, "msg UNDECODABLE (%s)\n", why);
        omtp_msg_rec_free(&m);
        return 0;
    }
    if (type == OMTP_LOGREC_CTRL || type == OMTP_LOGREC_READ || type == OMTP_LOGREC_REACT) {
        omtp_logop o;
        char why[256];
        static const char *const name[] = {"", "", "ctrl", "read", "reaction"};
        if (omtp_logop_decode(type, p, n, &o, why, sizeof why) == 0)
            fprintf(d->out,
                    "%s session=%s seq=%" PRId64 " user=%s op=%d text=%u bytes notice=%s "
                    "ts=%" PRId64 "\n",
                    name[type], o.sessionId.data, o.seqId, o.user.data, (int)o.op, o.text.len,
                    o.noticeId.data ? o.noticeId.data : "", o.timestamp);
        else
            fprintf(d->out, "%s UNDECODABLE (%s)\n", name[type], why);
        omtp_logop_free(&o);
        return 0;
    }
    fprintf(d->out, "type=%u ", type);
    put_bytes(d->out, p, n);
    fputc('\n', d->out);
    return 0;
}

int omtpd_log_dump(const char *dir, uint64_t from, bool has_applied, uint64_t applied, FILE *out)
{
    dump d = {.out = out, .has_applied = has_applied, .applied = applied};
    omtp_msglog_replay_stats st;
    int rc = omtp_msglog_replay(dir, from, false, on_rec, &d, &st);
    if (rc != 0) {
        fprintf(stderr, "omtpd: cannot read the message log in %s: %s\n", dir, omtp_strerror(rc));
        return 1;
    }
    fprintf(out,
            "# %s: %" PRIu64 " records (%" PRIu64 " bytes) from LSN %" PRIu64 ", end LSN %" PRIu64,
            dir, st.records, st.bytes, from, st.end_lsn);
    if (has_applied)
        fprintf(out, ", applied up to LSN %" PRIu64 " (%" PRIu64 " records pending)", applied,
                d.pending);
    else
        fputs(", applied position unknown (no store)", out);
    fputc('\n', out);
    if (st.cut_bytes) {
        fprintf(stderr,
                "omtpd: the log ends in a torn or corrupt record at LSN %" PRIu64 " (%" PRIu64
                " bytes after it): a running server may be writing it; otherwise the next start "
                "cuts it\n",
                st.end_lsn, st.cut_bytes);
        return 1;
    }
    return 0;
}
