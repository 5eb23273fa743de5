/*
 * webhook.h - the business backend's two hooks into the message path
 * (docs/webhooks.md has the payloads, the signature and the rulings).
 *
 *  - Offline push: a stored message with a non-empty MsgReq.pushInfo whose
 *    recipient has no online device in the foreground is POSTed to
 *    push_webhook_url (batched per recipient, retried, bounded), with the
 *    recipient's total unread count for the badge. The app's backend turns
 *    it into an APNs/FCM notification.
 *  - Before-send (moderation): when before_send_url is set, a message a user
 *    sends over OMTP (single or group chat) is POSTed there before it is
 *    stored; a refusal answers the sender with code 10 (SENSI_MATCH) or the
 *    code the hook returned, and nothing is stored or pushed. A hook that
 *    times out or fails follows before_send_fail_open.
 *
 * The HTTP work runs on a worker thread (webhook_worker.h); everything here
 * runs on the loop thread and never blocks it: the before-send answer comes
 * back as a callback, the offline push is fire-and-forget.
 *
 * A device says it is in the background (iOS/Android app suspended: the TCP
 * connection may live on but nobody looks at it) with PT_USERATTRIBUTE_SET,
 * friendId "" and attrName "device.background", attrValue "1" (background)
 * or "0" (foreground). The flag belongs to the connection, is not stored,
 * and a new connection starts in the foreground.
 */
#ifndef OMTP_WEBHOOK_H
#define OMTP_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/server.h"

/* Starts the worker if push_webhook_url or before_send_url is set (s->webhook
 * stays NULL otherwise). Call on the loop thread after the store opened.
 * Returns 0, or an OMTP_E* (the server should not start). */
int omtp_webhook_init(omtp_server *s);
/* Stops the worker: pending before-send checks complete now (fail mode),
 * undelivered push events are dropped with a log line. Call before the
 * store closes. */
void omtp_webhook_close(omtp_server *s);
/* SIGHUP (loop thread): takes push_webhook_url, before_send_url and
 * webhook_secret from s->cfg. Turning hooks on needs a restart when none was
 * on at start (no worker runs). */
void omtp_webhook_reload(omtp_server *s);

/*
 * Verdict of the before-send hook, on the loop thread: code OMTP_EC_SUCCESS
 * = store the message; otherwise refuse it with `code` and `desc` (words
 * for the sender, never NULL).
 */
typedef void (*omtp_webhook_verdict_fn)(void *arg, int code, const char *desc);

/*
 * Asks the before-send hook about `m` (borrowed: what is needed is copied).
 * Returns false when no hook is configured (or `m` is not a single/group
 * chat message): store right away, `done` is never called. Returns true
 * when the question is on its way: `done` is called exactly once, later
 * (never from inside this call), within before_send_timeout_ms plus a loop
 * turn.
 */
bool omtp_webhook_before_send(omtp_server *s, const omtp_msg_rec *m, omtp_webhook_verdict_fn done,
                              void *arg);

/*
 * After a message was committed (not a duplicate): if it has a pushInfo,
 * queues an offline-push event for each of `recipients` (the sender is
 * skipped) that has no online foreground device on this node -- nor, in a
 * cluster, on another node (the Redis presence table, looked up
 * asynchronously in one pipelined round trip; with Redis down only this
 * node's view counts). Unread totals
 * are read on the store thread, then the events go to the worker. `m` and
 * `recipients` are borrowed. Never fails visibly: problems are logged.
 */
void omtp_webhook_offline_push(omtp_server *s, const omtp_msg_rec *m,
                               const tars_str_list *recipients);

/*
 * PT_USERATTRIBUTE_SET hook for device attributes ("device.*" with an empty
 * friendId). Returns true when it handled (replied to and freed) the
 * request; false when the request is an ordinary user attribute. The
 * caller (omtp/user.c) tells the cluster that the device changed: the
 * webhooks sit below the adapters and do not call the cluster.
 */
bool omtp_webhook_device_attr(omtp_req *req);

/* Whether a connection counts as "in the foreground" (online, not flagged
 * background). */
bool omtp_webhook_conn_foreground(const omtp_conn *c);

/* The webhook metrics in the Prometheus text format (malloc'd, NUL-ended;
 * "" when no hook is configured), or NULL on out of memory. Loop thread. */
char *omtp_webhook_metrics(omtp_server *s);

#endif
