/*
 * fuzz_logrec.c - the send path's log record decoder (domain/logrec.h,
 * omtp_logrec_decode: what the start-up replay and the apply read back from
 * the message log) on hostile bytes. Whatever the input: no crash, leak or
 * endless loop; a record that decodes re-encodes to one that decodes to the
 * same message (seqId, session, packId, content). The same bytes are also
 * decoded as each of the other operations' records (control, read cursor,
 * reaction: omtp_logop_decode), with the same round trip.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/logrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const tars_str *a, const tars_str *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void op_round_trip(uint8_t type, const uint8_t *data, size_t size)
{
    omtp_logop o, again;
    char why[192] = "";
    if (omtp_logop_decode(type, data, size, &o, why, sizeof why) == 0) {
        tars_buf b;
        tars_buf_init(&b);
        if (omtp_logop_encode(&o, &b) != 0)
            abort();
        if (omtp_logop_decode(type, b.data, b.len, &again, why, sizeof why) != 0)
            abort();
        if (again.seqId != o.seqId || again.op != o.op || again.msgType != o.msgType ||
            !same_str(&again.sessionId, &o.sessionId) || !same_str(&again.user, &o.user) ||
            !same_str(&again.text, &o.text) || !same_str(&again.noticeId, &o.noticeId) ||
            !same_str(&again.packId, &o.packId))
            abort();
        omtp_logop_free(&again);
        tars_buf_free(&b);
    } else if (!why[0]) {
        abort();
    }
    omtp_logop_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    omtp_msg_rec m, again;
    char why[192];
    int rc = omtp_logrec_decode(data, size, &m, why, sizeof why);
    if (rc == 0) {
        tars_buf b;
        tars_buf_init(&b);
        if (omtp_logrec_encode(&m, &b) != 0)
            abort();
        if (omtp_logrec_decode(b.data, b.len, &again, why, sizeof why) != 0)
            abort();
        if (again.msg.seqId != m.msg.seqId || again.type != m.type ||
            again.msg.content.len != m.msg.content.len ||
            memcmp(again.msg.content.data, m.msg.content.data, m.msg.content.len) != 0 ||
            !tars_str_eq(&again.msg.sessionId, m.msg.sessionId.data) ||
            again.packId.len != m.packId.len)
            abort();
        omtp_msg_rec_free(&again);
        tars_buf_free(&b);
    } else if (!why[0]) {
        abort(); /* a refusal always says why */
    }
    omtp_msg_rec_free(&m);
    op_round_trip(OMTP_LOGREC_CTRL, data, size);
    op_round_trip(OMTP_LOGREC_READ, data, size);
    op_round_trip(OMTP_LOGREC_REACT, data, size);
    return 0;
}
