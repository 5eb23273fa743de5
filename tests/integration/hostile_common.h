/*
 * hostile_common.h - a raw OMTP peer for the hostile-input tests
 * (test_hostile_*.c): frames built byte by byte, replies read and decoded
 * without the client library's help, so a test can send anything (any type,
 * any flags, any payload bytes) and check exactly what comes back.
 *
 * hx_conn is a blocking TCP socket with its own input buffer. hx_call()
 * sends one packet and waits for the packet with the same packId and ACK
 * set (pushes and other replies are skipped), then decodes its payload with
 * the reply struct of the type (CommonErrorCode where the type has none, or
 * where the type is unknown) and extracts the code and the words: `desc`,
 * `errorCode.desc`, or LoginResp's `extraData`.
 *
 * Threading: test thread only. Failures of the harness itself fail the test.
 */
#ifndef HOSTILE_COMMON_H
#define HOSTILE_COMMON_H

#include "harness.h"
#include "sample_msg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HX_AES_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

typedef struct hx_conn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    bool closed;
} hx_conn;

typedef struct hx_reply {
    int type;
    int64_t flags;
    char packId[160];
    uint8_t *payload; /* as received (after no unwrap) */
    size_t payload_len;
    bool decoded;   /* the payload decoded with the reply struct */
    bool has_words; /* the reply struct has a desc/extraData field */
    int code;
    char desc[600];
} hx_reply;

/* Every request type of the protocol, and some that are not. */
static const int hx_known_types[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                     21, 22, 23, 24, 25, 40, 41, 42, 43, 44, 45,
                                     46, 47, 51, 52, 53, 54, 55, 56, 57, 58};
static const int hx_unknown_types[] = {0, 9, 26, 39, 48, 59, 32767, -1};
#define HX_NKNOWN   (int)(sizeof(hx_known_types) / sizeof(hx_known_types[0]))
#define HX_NUNKNOWN (int)(sizeof(hx_unknown_types) / sizeof(hx_unknown_types[0]))

static inline hx_conn *hx_connect(h_server *s)
{
    hx_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = h_raw_connect(s);
    return c;
}

static inline void hx_close(hx_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

static inline void hx_reply_free(hx_reply *r)
{
    free(r->payload);
    memset(r, 0, sizeof(*r));
}

/* Encodes a payload struct (top level) into b (reset first). */
static inline void hx_payload(tars_buf *b, const tars_struct_desc *d, const void *body)
{
    tars_buf_reset(b);
    if (d && body)
        assert_int_equal(tars_encode(b, d, body, true, 0), TARS_OK);
}

/* Writes everything; false if the peer is gone. */
static inline bool hx_write(hx_conn *c, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n) {
        ssize_t k = send(c->fd, q, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        q += k;
        n -= (size_t)k;
    }
    return true;
}

static inline bool hx_send(hx_conn *c, int type, int64_t flags, const char *packId, const void *pl,
                           size_t len)
{
    tars_buf b;
    tars_buf_init(&b);
    h_raw_frame(&b, type, flags, packId, pl, len);
    bool ok = hx_write(c, b.data, b.len);
    tars_buf_free(&b);
    return ok;
}

/* Reads one frame body (malloc'd) into body and n: 0, OMTP_ECLOSED or OMTP_ETIMEDOUT.
 * body and n are always set (NULL, 0 without a frame): callers that assert
 * the 0 and go on compile clean at -O3 (Release). */
static inline int hx_read_frame(hx_conn *c, int timeout_ms, uint8_t **body, size_t *n)
{
    *body = NULL;
    *n = 0;
    int64_t deadline = h_now_ms() + timeout_ms;
    for (;;) {
        if (c->len >= 4) {
            size_t fl = (size_t)c->buf[0] << 24 | (size_t)c->buf[1] << 16 | (size_t)c->buf[2] << 8 |
                        c->buf[3];
            assert_true(fl >= 4 && fl <= 16u << 20);
            if (c->len >= fl) {
                *n = fl - 4;
                *body = malloc(*n + 1);
                memcpy(*body, c->buf + 4, *n);
                memmove(c->buf, c->buf + fl, c->len - fl);
                c->len -= fl;
                return 0;
            }
        }
        if (c->closed)
            return OMTP_ECLOSED;
        int64_t left = deadline - h_now_ms();
        if (left <= 0)
            return OMTP_ETIMEDOUT;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr <= 0)
            continue;
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap);
            assert_non_null(c->buf);
        }
        ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (k > 0)
            c->len += (size_t)k;
        else if (k == 0 || (errno != EINTR && errno != EAGAIN))
            c->closed = true;
    }
}

/* Finds code and words in a decoded reply struct. */
static inline void hx_words(const tars_struct_desc *d, const void *obj, hx_reply *r)
{
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        const char *p = (const char *)obj + f->offset;
        if (f->kind == TK_I32 && strcmp(f->name, "code") == 0)
            r->code = *(const int32_t *)(const void *)p;
        else if (f->kind == TK_STR &&
                 (strcmp(f->name, "desc") == 0 || strcmp(f->name, "extraData") == 0)) {
            const tars_str *s = (const tars_str *)(const void *)p;
            r->has_words = true;
            snprintf(r->desc, sizeof(r->desc), "%s", s->data ? s->data : "");
        } else if (f->kind == TK_STRUCT && f->sub == &omtp_CommonErrorCode_desc)
            hx_words(f->sub, p, r);
    }
}

/* Decodes a frame body into r (payload transforms undone with the test key). */
static inline void hx_parse(const uint8_t *body, size_t n, hx_reply *r)
{
    omtp_OTIMPack pk;
    tars_err e;
    memset(r, 0, sizeof(*r));
    r->code = -1;
    assert_int_equal(tars_decode(&omtp_OTIMPack_desc, &pk, body, n, &e), TARS_OK);
    r->type = pk.header.type;
    r->flags = pk.header.flags;
    snprintf(r->packId, sizeof(r->packId), "%s", pk.header.packId.data);
    omtp_crypto_key k;
    omtp_crypto_key_from_hex(&k, HX_AES_HEX);
    uint8_t *plain;
    size_t plen;
    bool owned;
    char why[200];
    assert_int_equal(omtp_payload_unwrap(pk.header.flags, pk.payload.data, pk.payload.len, &k,
                                         16u << 20, &plain, &plen, &owned, why, sizeof(why)),
                     0);
    r->payload = malloc(plen + 1);
    memcpy(r->payload, plain, plen);
    r->payload_len = plen;
    if (owned)
        free(plain);
    omtp_msg_free(&omtp_OTIMPack_desc, &pk);
    const tars_struct_desc *d = omtp_payload_desc(r->type, true, NULL);
    if (!d && plen > 0)
        d = &omtp_CommonErrorCode_desc;
    if (!d)
        return;
    void *obj = calloc(1, d->size);
    if (tars_decode(d, obj, r->payload, r->payload_len, &e) == TARS_OK) {
        r->decoded = true;
        hx_words(d, obj, r);
        tars_free(d, obj);
    }
    free(obj);
}

/* Waits for the reply (ACK) to packId. 0, OMTP_ECLOSED or OMTP_ETIMEDOUT. */
static inline int hx_wait(hx_conn *c, const char *packId, int timeout_ms, hx_reply *r)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    for (;;) {
        uint8_t *body;
        size_t n;
        int64_t left = deadline - h_now_ms();
        int rc = hx_read_frame(c, left > 0 ? (int)left : 0, &body, &n);
        if (rc)
            return rc;
        hx_parse(body, n, r);
        free(body);
        if ((r->flags & OMTP_F_ACK) && strcmp(r->packId, packId) == 0)
            return 0;
        hx_reply_free(r);
    }
}

/* Sends and waits for the reply. */
static inline int hx_call(hx_conn *c, int type, int64_t flags, const char *packId, const void *pl,
                          size_t len, hx_reply *r)
{
    memset(r, 0, sizeof(*r));
    if (!hx_send(c, type, flags, packId, pl, len))
        return OMTP_ECLOSED;
    return hx_wait(c, packId, 5000, r);
}

static inline int hx_call_struct(hx_conn *c, int type, const char *packId,
                                 const tars_struct_desc *d, const void *body, hx_reply *r)
{
    tars_buf b;
    tars_buf_init(&b);
    hx_payload(&b, d, body);
    int rc = hx_call(c, type, 0, packId, b.data, b.len, r);
    tars_buf_free(&b);
    return rc;
}

/* Waits for the server to close (reading and discarding). */
static inline bool hx_wait_closed(hx_conn *c, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    while (h_now_ms() < deadline) {
        uint8_t *body;
        size_t n;
        int rc = hx_read_frame(c, (int)(deadline - h_now_ms()), &body, &n);
        if (rc == OMTP_ECLOSED)
            return true;
        if (rc == 0)
            free(body);
    }
    return false;
}

static inline void hx_ping_ok(hx_conn *c)
{
    hx_reply r;
    assert_int_equal(hx_call(c, PT_PING, 0, "hx-ping", NULL, 0, &r), 0);
    assert_int_equal(r.type, PT_PING);
    assert_int_equal(r.payload_len, 0);
    hx_reply_free(&r);
}

/* A raw login; returns the LoginResp code. */
static inline int hx_login_code(hx_conn *c, const char *user, const char *pw, int dev)
{
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, user);
    tars_str_set(&lr.userName, user);
    tars_str_set(&lr.password, pw);
    tars_str_set(&lr.deviceId, "hx-dev");
    lr.deviceType = dev;
    hx_reply r;
    assert_int_equal(hx_call_struct(c, PT_LOGIN, "hx-login", &omtp_LoginReq_desc, &lr, &r), 0);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    assert_int_equal(r.type, PT_LOGIN);
    assert_true(r.decoded);
    int code = r.code;
    hx_reply_free(&r);
    return code;
}

static inline hx_conn *hx_login(h_server *s, const char *user, const char *pw, int dev)
{
    hx_conn *c = hx_connect(s);
    assert_int_equal(hx_login_code(c, user, pw, dev), 0);
    return c;
}

/* A normal single-chat send works (MsgAck code 0, seqId > 0). */
static inline void hx_send_ok(hx_conn *c, const char *to)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, "still alive");
    char id[48];
    omtp_uuid(id);
    hx_reply r;
    assert_int_equal(hx_call_struct(c, PT_MSG_SINGLE_CHAT, id, &omtp_MsgReq_desc, &m, &r), 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    assert_true(r.decoded);
    assert_int_equal(r.code, 0);
    hx_reply_free(&r);
}

static inline void hx_fill_value(void *ctx, const tars_field *f, int kind, void *p)
{
    (void)ctx;
    char v[16];
    snprintf(v, sizeof(v), "hx%u", f->tag);
    if (kind == TK_STR)
        tars_str_set((tars_str *)p, v);
    else if (kind == TK_BYTES)
        tars_bytes_set((tars_bytes *)p, v, strlen(v));
}

static inline int64_t hx_fill_integer(void *ctx, const tars_field *f)
{
    (void)ctx;
    (void)f;
    return 1;
}

static inline uint32_t hx_fill_count(void *ctx, const tars_field *f, int depth)
{
    (void)ctx;
    (void)depth;
    return f->kind == TK_LIST_STR || f->kind == TK_LIST_STRUCT ? 1 : 0;
}

/*
 * Fills every field of a struct with a plausible value: strings "hx<tag>",
 * integers 1, one element per list, nested structs recursively. Enough to
 * make a payload that decodes; handlers may still refuse its values.
 */
static inline void hx_fill(const tars_struct_desc *d, void *obj)
{
    const sample_ops ops = {hx_fill_integer, hx_fill_value, hx_fill_count, NULL};
    sample_fill(d, obj, &ops, 0);
}

/* The encoded filled request payload of a type (empty for types without one). */
static inline void hx_valid_payload(int type, tars_buf *b)
{
    tars_buf_reset(b);
    const tars_struct_desc *d = omtp_payload_desc(type, false, NULL);
    if (!d)
        return;
    void *obj = calloc(1, d->size);
    hx_fill(d, obj);
    assert_int_equal(tars_encode(b, d, obj, true, 0), TARS_OK);
    tars_free(d, obj);
    free(obj);
}

/* Whether these bytes decode as the request struct of type. */
static inline bool hx_decodes(int type, const uint8_t *p, size_t n)
{
    const tars_struct_desc *d = omtp_payload_desc(type, false, NULL);
    if (!d || n == 0)
        return true;
    void *obj = calloc(1, d->size);
    tars_err e;
    bool ok = tars_decode(d, obj, p, n, &e) == TARS_OK;
    if (ok)
        tars_free(d, obj);
    free(obj);
    return ok;
}

/* xorshift64*, seeded per test, for reproducible random bytes. */
static inline uint64_t hx_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

#endif
