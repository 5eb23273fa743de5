/*
 * handlers.h - one handler per packet type, grouped in files by domain.
 *
 * Every handler follows the request life cycle of server.h: it owns `req`
 * and replies (or frees it) exactly once. Handlers run on the loop thread;
 * storage is reached through omtp_store_submit(). handlers.c registers
 * them in the core's dispatch table (omtp_dispatch_register, core/server.h)
 * at start; a handler is only called for a logged-in connection, except
 * PING and LOGIN (OMTP_DISPATCH_PRELOGIN).
 */
#ifndef OMTP_HANDLERS_H
#define OMTP_HANDLERS_H

#include "core/server.h"

/* auth.c */
void handle_ping(omtp_req *req);
void handle_login(omtp_req *req);
void handle_logout(omtp_req *req);
void handle_kickout(omtp_req *req);

/* chat.c */
void handle_single_chat(omtp_req *req);
void handle_biz_notify(omtp_req *req);
void handle_msg_ctrl(omtp_req *req);
void handle_msg_read(omtp_req *req);

/* sync.c */
void handle_hot_session_sync(omtp_req *req);
void handle_high_prior_sync(omtp_req *req);
void handle_history_pull(omtp_req *req);
void handle_sync_data_ack(omtp_req *req);

/* monitor.c */
void handle_monitor_start(omtp_req *req);
void handle_monitor_stop(omtp_req *req);
void handle_monitor_sync(omtp_req *req);

/* group.c */
void handle_group_chat(omtp_req *req);
void handle_group_sync(omtp_req *req);
void handle_group_create(omtp_req *req);
void handle_group_join(omtp_req *req);
void handle_group_quit(omtp_req *req);
void handle_group_dismiss(omtp_req *req);
void handle_group_update_creator(omtp_req *req);
void handle_group_info_update(omtp_req *req);
void handle_group_members_get(omtp_req *req);

/* friend.c */
void handle_friend_add(omtp_req *req);
void handle_friend_del(omtp_req *req);
void handle_friend_sync(omtp_req *req);

/* user.c */
void handle_userinfo_get(omtp_req *req);
void handle_userinfo_update(omtp_req *req);
void handle_user_attr_set(omtp_req *req);
void handle_user_attr_get(omtp_req *req);
void handle_session_attr_set(omtp_req *req);
/* search.c: PT_MSG_SEARCH (extension, spec/omtp-ext.tars) */
void handle_msg_search(omtp_req *req);

/* ext.c: extensions (spec/omtp-ext.tars): presence, typing, read receipts */
void handle_presence_sub(omtp_req *req);
void handle_typing(omtp_req *req);
void handle_msg_readers(omtp_req *req);

/* reaction.c: extensions (spec omtp-ext.tars) */
void handle_msg_reaction(omtp_req *req);

/* handlers.c: fills s's dispatch table with the handlers above (a server
 * part's start, OMTP_START_CONFIG; src/omtpd/wiring.c). Returns 0 or
 * OMTP_E* with `why` filled. */
int omtp_handlers_register(omtp_server *s, char *why, size_t whylen);

#endif
