/*
 * user.c - the OMTP adapter of domain/attr.h: PT_USERINFO_GET (54),
 * PT_USERINFO_UPDATE (55), PT_USERATTRIBUTE_SET (56) / GET (57),
 * PT_SESSIONATTRIBUTE_SET (58). The rules and rulings are the domain's; this
 * file decodes, answers, pages the replies (protocol.md 7.2) and keeps the
 * per-connection "device.*" attributes (hooks/webhook.h), which are state
 * of the connection, not of the user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_hooks.h"
#include "domain/attr.h"
#include "domain/presence.h"
#include "handlers.h"
#include "hooks/webhook.h"

static omtp_dom_caller caller_of(omtp_req *req)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    return c;
}

static void answered(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out)
{
    (void)out;
    omtp_reply_code(arg, res->code, "%s", res->desc);
}

/* a stored "presence.lastSeen" about oneself: watchers see lastSeen 0 while
 * it is "hidden" */
static void hidden_answered(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out)
{
    omtp_req *req = arg;
    const omtp_UserAttrSetReq *q = req->body;
    if (!res->code)
        omtp_dom_presence_hidden(req->conn->srv, req->conn->userId,
                                 q->attribute.attrValue.data &&
                                     !strcmp(q->attribute.attrValue.data, "hidden"));
    answered(arg, res, out);
}

/* user-id order (the domain's); `next` = the first id not answered */
static void info_got(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_server *s = req->conn->srv;
    size_t used = 0;
    omtp_UserInfoGetResp r;
    omtp_msg_init(&omtp_UserInfoGetResp_desc, &r);
    omtp_UserInfo_list *l = &out->infos;
    uint32_t k =
        omtp_fit_structs(&omtp_UserInfo_desc, l->items, l->n, &used, omtp_reply_budget(s->cfg));
    r.userInfos.items = l->items; /* borrowed for the encode */
    r.userInfos.n = k;
    if (k < l->n) {
        tars_str_set(&r.next, l->items[k].userId.data);
        s->metrics.replies_paged++;
    }
    omtp_reply(req, &omtp_UserInfoGetResp_desc, &r);
    memset(&r.userInfos, 0, sizeof(r.userInfos));
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
}

/* Compares attribute a with the cursor (friendId cur[0..flen), attrName an). */
static int attr_after(const omtp_UserAttribute *a, const char *cur, size_t flen, const char *an)
{
    size_t n = a->friendId.len < flen ? a->friendId.len : flen;
    int c = memcmp(a->friendId.data, cur, n);
    if (c == 0)
        c = a->friendId.len < flen ? -1 : a->friendId.len > flen ? 1 : 0;
    return c ? c : strcmp(a->attrName.data, an);
}

/* (friendId, attrName) order (the domain's) after the cursor
 * "friendId/attrName" carried in the filter's attrValue; `next` is the
 * cursor of the following page */
static void attr_got(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out)
{
    omtp_req *req = arg;
    if (res->code) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_server *s = req->conn->srv;
    size_t used = 0;
    omtp_UserAttrGetResp r;
    omtp_msg_init(&omtp_UserAttrGetResp_desc, &r);
    const omtp_UserAttribute *f = req->body;
    omtp_UserAttribute_list *l = &out->attrs;
    uint32_t lo = 0;
    if (f && f->attrValue.len) {
        const char *cur = f->attrValue.data, *slash = strchr(cur, '/');
        size_t flen = slash ? (size_t)(slash - cur) : strlen(cur);
        const char *an = slash ? slash + 1 : "";
        while (lo < l->n && attr_after(&l->items[lo], cur, flen, an) <= 0)
            lo++;
    }
    uint32_t k = lo >= l->n ? 0
                            : omtp_fit_structs(&omtp_UserAttribute_desc, l->items + lo, l->n - lo,
                                               &used, omtp_reply_budget(s->cfg));
    r.attributes.items = k ? l->items + lo : NULL; /* borrowed for the encode */
    r.attributes.n = k;
    if (lo + k < l->n) {
        const omtp_UserAttribute *a = &l->items[lo + k - 1];
        char next[OMTP_ID_MAX + OMTP_LIMIT_ATTR_NAME + 2];
        snprintf(next, sizeof next, "%s/%s", a->friendId.data, a->attrName.data);
        tars_str_set(&r.next, next);
        s->metrics.replies_paged++;
    }
    omtp_reply(req, &omtp_UserAttrGetResp_desc, &r);
    memset(&r.attributes, 0, sizeof(r.attributes));
    omtp_msg_free(&omtp_UserAttrGetResp_desc, &r);
}

void handle_userinfo_get(omtp_req *req)
{
    const omtp_UserInfoGetReq *q = req->body;
    omtp_dom_caller who = caller_of(req);
    omtp_dom_userinfo_get(req->conn->srv, &who, q ? &q->userIds : NULL, info_got, req);
}

void handle_userinfo_update(omtp_req *req)
{
    const omtp_UserInfoUpdateReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no UserInfoUpdateReq payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_userinfo_update(req->conn->srv, &who, &q->userInfo, answered, req);
}

void handle_user_attr_set(omtp_req *req)
{
    /* "device.*" with an empty friendId: per-connection device state
     * (webhook.h); other nodes hear about it for their offline-push
     * decisions (the webhooks sit below the OMTP adapters: they do not call
     * the cluster) */
    omtp_conn *dc = req->conn;
    omtp_conn_ref(dc);
    bool device = omtp_webhook_device_attr(req);
    if (device) {
        omtp_server_cluster_device_changed(dc);
        omtp_dom_presence_changed(dc->srv, dc->userId); /* background = away */
    }
    omtp_conn_unref(dc);
    if (device)
        return;
    const omtp_UserAttrSetReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no UserAttrSetReq payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    /* the hidden-last-seen attribute (domain/presence.h): about oneself */
    const omtp_UserAttribute *a = &q->attribute;
    if (a->attrName.data && !strcmp(a->attrName.data, OMTP_PRESENCE_ATTR) &&
        tars_str_eq(&a->friendId, req->conn->userId) &&
        (!a->userId.len || tars_str_eq(&a->userId, req->conn->userId))) {
        omtp_dom_attr_set(req->conn->srv, &who, a, hidden_answered, req);
        return;
    }
    omtp_dom_attr_set(req->conn->srv, &who, &q->attribute, answered, req);
}

void handle_user_attr_get(omtp_req *req)
{
    omtp_dom_caller who = caller_of(req);
    omtp_dom_attr_get(req->conn->srv, &who, req->body /* NULL: all */, attr_got, req);
}

void handle_session_attr_set(omtp_req *req)
{
    const omtp_SessionAttrSetReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no SessionAttrSetReq payload");
        return;
    }
    omtp_dom_caller who = caller_of(req);
    omtp_dom_session_attr_set(req->conn->srv, &who, q, answered, req);
}
