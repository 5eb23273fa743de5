/*
 * handlers_pending.c - placeholders for handlers whose files are being
 * written. Each block below stands for one file of handlers.h; whoever adds
 * that file deletes its block (and nothing else). A placeholder answers
 * PROTOCOL (1) "not implemented yet".
 */
#include "handlers.h"

#define PENDING(fn)                                                                                \
    void fn(omtp_req *req)                                                                         \
    {                                                                                              \
        omtp_reply_code(req, OMTP_EC_PROTOCOL, "%s: not implemented yet",                          \
                        omtp_pack_type_name(req->type));                                           \
    }
