/*
 * reply.c - replies to requests, and the end of a request's life.
 *
 * A reply echoes the request's type and packId with ACK set and mirrors the
 * request's transforms (a compressed request gets a compressed reply, an
 * encrypted one an encrypted reply). omtp_reply_code() fills the reply
 * struct of the request's type generically by walking its descriptor: a top
 * level `code`/`desc` pair, or an `errorCode` CommonErrorCode member;
 * LoginResp, which has no desc, carries the words in `extraData`.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reply_variant(const omtp_req *req)
{
    int v = OMTP_V_PLAIN;
    if (omtp_flags_compress(req->flags) == OMTP_COMPRESS_ZLIB)
        v |= OMTP_V_ZLIB;
    if (omtp_flags_crypto(req->flags) == OMTP_CRYPTO_AES && req->conn->srv->aes_key.set)
        v |= OMTP_V_AES;
    return v;
}

static void send_code(omtp_req *req, int code, const char *text);

static void send_reply(omtp_req *req, const tars_struct_desc *desc, const void *body)
{
    omtp_conn *c = req->conn;
    if (!omtp_conn_is_open(c))
        return;
    omtp_wire *w = omtp_wire_new(req->type, OMTP_F_ACK, req->packId, desc, body);
    if (!w) {
        omtp_conn_abort(c, "out of memory encoding a reply");
        return;
    }
    int rc = omtp_conn_send_wire_v(c, w, reply_variant(req));
    size_t len = w->payload.len;
    omtp_wire_unref(w);
    if (rc == OMTP_ETOOBIG && desc) {
        /* never silence: list replies are paged to fit (replyfit.c), so this
         * is a bug; the client still gets an answer that says what happened */
        char text[160];
        snprintf(text, sizeof(text),
                 "the reply (%zu bytes) does not fit in one frame (max_frame %u); this is a "
                 "server bug, please report it",
                 len, c->srv->cfg->max_frame);
        send_code(req, OMTP_EC_SERVER_EXCEPTION, text);
    }
}

void omtp_req_free(omtp_req *req)
{
    if (!req)
        return;
    if (req->body) {
        tars_free(req->desc, req->body);
        free(req->body);
    }
    omtp_conn_req_done(req->conn);
    omtp_conn_unref(req->conn);
    free(req);
}

void omtp_reply(omtp_req *req, const tars_struct_desc *desc, const void *body)
{
    send_reply(req, desc, body);
    omtp_req_free(req);
}

void omtp_reply_empty(omtp_req *req)
{
    send_reply(req, NULL, NULL);
    omtp_req_free(req);
}

/* Sets code/desc in obj of type d; recurses into an errorCode member. */
static void set_code(const tars_struct_desc *d, void *obj, int code, const char *text)
{
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        char *p = (char *)obj + f->offset;
        if (f->kind == TK_I32 && strcmp(f->name, "code") == 0)
            *(int32_t *)(void *)p = code;
        else if (f->kind == TK_STR && strcmp(f->name, "desc") == 0)
            tars_str_set((tars_str *)(void *)p, text);
        else if (f->kind == TK_STR && d == &omtp_LoginResp_desc &&
                 strcmp(f->name, "extraData") == 0)
            tars_str_set((tars_str *)(void *)p, text); /* LoginResp has no desc */
        else if (f->kind == TK_STRUCT && f->sub == &omtp_CommonErrorCode_desc)
            set_code(f->sub, p, code, text);
    }
}

void omtp_reply_code(omtp_req *req, int code, const char *fmt, ...)
{
    char text[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
    }
    send_code(req, code, text);
    omtp_req_free(req);
}

/* The reply struct of req's type carrying only code and text; keeps req. */
static void send_code(omtp_req *req, int code, const char *text)
{
    omtp_server *s = req->conn->srv;
    if (code) {
        s->metrics.errors_by_code[code >= 0 && code < 64 ? code : 0]++;
        LOG_DEBUG("conn %llu %s -> %d %s: %s", (unsigned long long)req->conn->id,
                  omtp_pack_type_name(req->type), code, omtp_error_code_name(code), text);
    }
    const tars_struct_desc *d = omtp_payload_desc(req->type, true, NULL);
    if (!d)
        d = &omtp_CommonErrorCode_desc;
    void *body = calloc(1, d->size);
    if (!body) {
        omtp_conn_abort(req->conn, "out of memory");
        return;
    }
    tars_init(d, body);
    set_code(d, body, code, text);
    send_reply(req, d, body);
    tars_free(d, body);
    free(body);
}
