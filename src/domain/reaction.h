/*
 * domain/reaction.h - reactions on messages (PT_MSG_REACTION), and the
 * aggregated reactions every reply that carries messages attaches
 * (history, high-priority sync, hot sessions' last messages).
 *
 * Wire: spec omtp-ext.tars (ReactionReq, ReactionNotice, MsgReq tag 11);
 * rulings: docs/protocol.md, "Extensions: reactions".
 *
 *  - op 1 adds, op 2 removes; anything else is PARAM.
 *  - emoji: 1..OMTP_LIMIT_EMOJI (32) bytes of valid UTF-8 without control
 *    characters (PARAM otherwise).
 *  - only a member of the session may react (MSG_FORBIDDEN); a seqId the
 *    session does not hold is MSG_NOT_EXIST; a revoked or deleted message
 *    takes none (PARAM).
 *  - one emoji per user and message once: adding it again is PARAM
 *    ("already added"), removing one never added is PARAM.
 *  - at most OMTP_LIMIT_REACTION_EMOJIS distinct emoji per message (a new
 *    one beyond is PARAM); the aggregate lists at most OMTP_LIMIT_REACTORS
 *    user ids per emoji, oldest first (the emoji stay in order of their
 *    first reaction).
 *  - after the change is committed every member's online devices (all
 *    nodes: omtp_push_user) but the acting one get a ReactionNotice, and
 *    so do connections monitoring the session. Not queued for offline
 *    devices: history carries the aggregate.
 *
 * Threading: omtp_dom_reaction on the loop thread (done called there, once,
 * unless it returns an error); the attach functions on the store thread
 * (inside a work item).
 */
#ifndef OMTP_DOMAIN_REACTION_H
#define OMTP_DOMAIN_REACTION_H

#include "domain/msg.h"

enum { OMTP_REACTION_ADD = 1, OMTP_REACTION_REMOVE = 2 };

/* Applies req for who->user. `req` is borrowed. Returns 0 (done will be
 * called with the code and words) or a negative OMTP_E* (done never). */
int omtp_dom_reaction(omtp_server *s, const omtp_dom_caller *who, const omtp_ReactionReq *req,
                      omtp_dom_done_fn done, void *arg);

/* Frees a reactions map (MsgReq.reactions) and leaves it empty. */
void omtp_reactions_clear(tars_strs_map *m);

/* Whether `emoji` is acceptable (1..32 bytes of UTF-8, no control chars). */
bool omtp_reaction_emoji_valid(const char *emoji, size_t len);

/* Fills msgs[i].msg.reactions (replacing what it held) from the store for
 * messages of ONE session (any order); revoked and deleted messages get
 * none. Store thread. 0 or a negative OMTP_E*. */
int omtp_reactions_attach(omtp_db *db, omtp_msg_rec *msgs, uint32_t n);

/* The same for a stored high-priority entry whose payload is a chat
 * message (others are left alone): decodes, attaches, re-encodes. */
int omtp_reactions_attach_pack(omtp_db *db, omtp_OTIMPack *pack);

/* A reaction record of the message log (domain/logrec.h, type
 * OMTP_LOGREC_REACT) applied to the store: idempotent (adding one that is
 * there, or removing one that is not, changes nothing). Store thread. */
struct omtp_logop;
int omtp_reaction_apply(omtp_db *db, const struct omtp_logop *o);

#endif
