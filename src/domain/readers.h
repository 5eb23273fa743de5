/*
 * domain/readers.h - group read receipts (spec/omtp-ext.tars PT_MSG_READERS
 * 105; docs/protocol.md, Extensions chapter). src/omtp/ext.c is the OMTP
 * adapter.
 *
 * From the read cursors PT_MSG_READ keeps: readers = the session's members
 * whose read cursor is >= seqId, unread = the other members; the message's
 * sender is in neither. Both in user-id order.
 *
 * Rules (rulings in docs/protocol.md):
 *  - seqId < 1 or empty session id: PARAM;
 *  - the caller must be a member of the session (a membership row: a group
 *    member, or a party of a single chat that holds messages), else
 *    MSG_FORBIDDEN (43);
 *  - a group of more than OMTP_READERS_MAX_MEMBERS members: PARAM;
 *  - a seqId that names no message of the session: MSG_NOT_EXIST (44).
 *
 * Threading: loop thread; the callback on the loop thread; `readers` and
 * `unread` are borrowed for the callback.
 */
#ifndef OMTP_DOMAIN_READERS_H
#define OMTP_DOMAIN_READERS_H

#include "core/server.h"
#include "domain/caller.h"

#define OMTP_READERS_MAX_MEMBERS 500

typedef void (*omtp_dom_readers_done)(void *arg, const omtp_dom_outcome *res,
                                      tars_str_list *readers, tars_str_list *unread);

void omtp_dom_readers(omtp_server *s, const omtp_dom_caller *who, const char *sessionId,
                      int64_t seqId, omtp_dom_readers_done cb, void *arg);

#endif
