/*
 * domain/msg.h - the message operations, once for every entry point.
 *
 * One function per operation: send a single chat, send a group chat, send a
 * business notice, control a message (revoke / delete / edit), move a read
 * cursor. Each owns its checks (who may act, membership, friends_only, field
 * limits and max_content, the before-send webhook), its store work item and
 * its side effects (push to the recipients' devices and to the sender's other
 * devices, monitors, cluster delivery through omtp_push_user, the offline
 * push webhook, metrics). The OMTP handlers (src/server/chat.c, groupchat.c)
 * and the HTTP API (http_msg.c) only decode, call one of these and encode the
 * result.
 *
 * Who acts is an omtp_dom_caller. What differs between entry points is a
 * field of it, and only these differences exist:
 *
 *   role OMTP_DOM_USER   a logged-in user over OMTP. MsgReq.from must be
 *                        `user` (empty = `user`), else MSG_FORBIDDEN;
 *                        business notices are refused (MSG_FORBIDDEN: they
 *                        come from the backend); the before-send webhook is
 *                        asked; `conn`, the sending device, gets no push of
 *                        its own message (the user's other devices do).
 *   role OMTP_DOM_API    the HTTP API acting for the business backend:
 *   role OMTP_DOM_ADMIN  the admin CLI. MsgReq.from is taken as given (a
 *                        user for chats, checked to exist: PARAM, reason
 *                        OMTP_DOM_UNKNOWN_SENDER; an appId for business
 *                        notices); the before-send webhook is not asked (the
 *                        backend is the one sending); every device of the
 *                        sender is pushed.
 *
 * Everything else (recipient exists, membership of a live group,
 * friends_only, 1..max_content bytes (0 = no limit here), dedup by
 * (from, packId), HIGHPRJ queueing) is the same rule for every caller.
 *
 * Completion: every call returns 0 and calls `done` exactly once, on the
 * loop thread -- later, after the store work, or from inside the call for a
 * refusal decided before any store work -- or returns a negative OMTP_E*
 * (OMTP_ENOMEM, OMTP_EINVAL for a NULL argument, or the store's refusal to
 * take work) and never calls `done`. The result and everything it points to
 * are borrowed for the duration of `done`.
 *
 * Threading: loop thread only (the work items run on the store thread).
 */
#ifndef OMTP_DOMAIN_MSG_H
#define OMTP_DOMAIN_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/server.h"
#include "domain/caller.h"

/* omtp_dom_caller and its roles: domain/caller.h (one for every domain area) */

/* MsgReq.mentions entry meaning every member of a group (its creator's
 * only; docs/protocol.md, Extensions: mentions) */
#define OMTP_MENTION_ALL "@all"

/* Why a send was refused, where the OMTP code alone does not say which
 * party is missing (the HTTP API answers each with its own 404/403). */
enum omtp_dom_reason {
    OMTP_DOM_OK = 0,
    OMTP_DOM_UNKNOWN_SENDER,    /* from is not a user (API/admin callers) */
    OMTP_DOM_UNKNOWN_RECIPIENT, /* to is not a user (code PARAM) */
    OMTP_DOM_UNKNOWN_GROUP,     /* no such group, or dismissed (GROUP_NOT_EXIST) */
    OMTP_DOM_NOT_MEMBER,        /* from is not a member (GROUP_NO_PRIVILEGE) */
};

typedef struct omtp_dom_result {
    int code;                   /* OMTP_EC_* (OMTP_EC_SUCCESS when done) */
    int reason;                 /* sends: enum omtp_dom_reason, OMTP_DOM_OK otherwise */
    const char *desc;           /* what was wrong, in words ("" on success) */
    const omtp_msg_rec *stored; /* sends: the message as stored, NULL on failure */
    bool dup;                   /* sends: (from, packId) was stored before; `stored`
                                   is the original, nothing was stored or pushed */
    int64_t seq;                /* read: the cursor now */
} omtp_dom_result;

typedef void (*omtp_dom_done_fn)(void *arg, const omtp_dom_result *res);

/*
 * What the business backend hooks into the message path (the webhooks,
 * hooks/webhook.h, register them in s->msg_hooks at start; the domain sits
 * below them and only calls through this table). Loop thread.
 *
 *   before_send  asked before a user's message (OMTP_DOM_USER) is stored:
 *                returns false to let it through now, or true and calls
 *                `verdict` exactly once later (never from inside) with
 *                OMTP_EC_SUCCESS or the refusal's code and words.
 *   stored       told after a message is committed, with the recipients
 *                (a group's members, a single chat's recipient): the
 *                offline push.
 */
typedef void (*omtp_dom_verdict_fn)(void *arg, int code, const char *desc);
struct omtp_msg_hooks {
    bool (*before_send)(omtp_server *s, const omtp_msg_rec *m, omtp_dom_verdict_fn verdict,
                        void *arg);
    void (*stored)(omtp_server *s, const omtp_msg_rec *m, const tars_str_list *recipients);
};

/*
 * Sends. `m` is borrowed (copied before return). Read from it: flags (only
 * HIGHPRJ and COUNTER are kept; HIGHPRJ also queues the message for the
 * recipients), packId (the dedup key with from; "" = a fresh UUID), msg.from,
 * msg.to (a user; for a group the group id), msg.pushInfo, contentType,
 * content. sessionId, seqId, timestamp and status are the server's. m->type
 * is ignored (the function says it).
 */
int omtp_dom_send_single(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                         omtp_dom_done_fn done, void *arg);
int omtp_dom_send_group(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                        omtp_dom_done_fn done, void *arg);
int omtp_dom_send_biz(omtp_server *s, const omtp_dom_caller *who, const omtp_msg_rec *m,
                      omtp_dom_done_fn done, void *arg);

/*
 * Revoke (MC_REVOKE), delete (MC_DELETE) or edit (MC_OVERRIDE) message
 * ctl->seqId of ctl->sessionId, acting as who->user (required for every
 * role: the operator is always a member of the session). Only the sender or
 * a group's creator may; revoke/edit only within cfg->revoke_limit_s. A
 * notice is queued for every member and pushed to every device but `conn`.
 * `ctl` is borrowed.
 */
int omtp_dom_msg_ctrl(omtp_server *s, const omtp_dom_caller *who, const omtp_MsgControl *ctl,
                      omtp_dom_done_fn done, void *arg);

/*
 * Moves who->user's read cursor of session `sid` to `seq` (never backwards:
 * res->seq is the cursor now) and tells the user's other devices.
 * HISTORYMSG_DENY when who->user is not part of the session.
 */
int omtp_dom_read(omtp_server *s, const omtp_dom_caller *who, const char *sid, int64_t seq,
                  omtp_dom_done_fn done, void *arg);

/*
 * Builds the OTIMPack clients see for a stored message (history, hot
 * sessions, high-priority queue): header {m->type, version 1, m->flags,
 * m->packId}, payload = the encoded MsgReq. A revoked message (status 1)
 * comes with its content blanked. `out` must be initialised; on error it is
 * left initialised. Returns 0 or OMTP_ENOMEM. Reentrant (any thread).
 */
int omtp_chat_msg_pack(const omtp_msg_rec *m, omtp_OTIMPack *out);

/*
 * Dedup guard: (from, packId) identifies a message, so a resend must carry
 * the same message. Call with the request before msg_append and with the
 * stored original after it reported a duplicate: false means the sender
 * reused a packId for a DIFFERENT message (another recipient, type or
 * content) -- answered with MSG_REPEATED (46) instead of the original's ack,
 * so the new message is never silently swallowed. Messages edited or
 * revoked since are compared by type and recipient only. Any thread.
 */
uint64_t omtp_chat_fingerprint(const omtp_msg_rec *m);
bool omtp_chat_same_message(uint64_t requestPrint, const omtp_msg_rec *original,
                            uint64_t originalPrint);

/*
 * Whether `user` may read session `sid` (history, read cursor): it is a
 * member (membership row in the store), or the session holds no message yet
 * and its id names the user (nothing to leak). Monitoring is checked by the
 * caller (omtp_monitor_watching). Store thread only (runs inside a work
 * item). Returns 0 with *allowed set, or a negative OMTP_E* from the store.
 */
int omtp_chat_session_access(omtp_db *db, const char *user, const char *sid, bool *allowed);

#endif
