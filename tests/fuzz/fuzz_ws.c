/*
 * fuzz_ws.c - the WebSocket decoders on hostile bytes (docs/websocket.md):
 * the first byte picks the target, the second how the rest is split into
 * reads (1..256 bytes).
 *   0: omtpd's HTTP request parse (ws_http.c, http-parser) and its decision,
 *      the path check and the accept key; an upload's body (POST /v1/...);
 *   1: omtpd's frame reader (ws_frames.c, wslay server side) with a sink
 *      that checks the announced limit holds;
 *   2: libomtp's client side (omtp_ws.c): the server's answer to the
 *      upgrade, then frames.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/omtp_ws.h"
#include "ws_frames.h"
#include "ws_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 4096

static uint64_t got;

static int sink_data(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    (void)p;
    got += n;
    if (got > MAX_MSG)
        abort(); /* the limit is checked on the frame heads before any byte */
    return 0;
}

static int sink_end(void *arg)
{
    (void)arg;
    got = 0;
    return 0;
}

static int sink_emit(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return 0;
}

static void body_sink(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    if (n && !p)
        abort();
}

static void client_data(void *ud, const uint8_t *p, size_t n)
{
    (void)ud;
    (void)p;
    (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int target = data[0] % 3;
    size_t chunk = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    if (target == 0) {
        omtp_ws_req *r = malloc(sizeof(*r));
        omtp_ws_req_init(r);
        size_t off = 0;
        while (off < size && r->state == OMTP_WS_REQ_MORE) {
            size_t n = size - off < chunk ? size - off : chunk;
            size_t used = omtp_ws_req_feed(r, data + off, n);
            off += r->state == OMTP_WS_REQ_MORE ? n : used;
        }
        /* an upload's body (POST /v1/...): de-chunked, never past the request */
        while (r->state == OMTP_WS_REQ_DONE && r->body && !r->body_done && off < size) {
            size_t n = size - off < chunk ? size - off : chunk;
            long used = omtp_ws_req_body(r, data + off, n, body_sink, NULL);
            if (used < 0 || (size_t)used > n)
                break;
            off += (size_t)used;
            if (!used)
                break;
        }
        if (r->state == OMTP_WS_REQ_DONE) {
            omtp_ws_decision d;
            omtp_ws_req_decide(r, "", false, &d);
            omtp_ws_req_decide(r, "https://a.example, *", true, &d);
            char path[256], acc[32];
            omtp_ws_req_path(r->url, path, sizeof(path));
            omtp_ws_accept_key(r->key, acc);
        }
        free(r);
    } else if (target == 1) {
        omtp_ws_frames f;
        static const omtp_ws_sink sink = {.data = sink_data, .end = sink_end, .emit = sink_emit};
        omtp_ws_frames_init(&f, &sink, NULL, MAX_MSG);
        got = 0;
        for (size_t off = 0; off < size; off += chunk) {
            size_t n = size - off < chunk ? size - off : chunk;
            if (omtp_ws_frames_feed(&f, data + off, n))
                break;
        }
        omtp_ws_frames_free(&f);
    } else {
        omtp_ws *w = omtp_ws_new("127.0.0.1:9001", "/ws");
        if (!w)
            return 0;
        tars_buf out;
        tars_buf_init(&out);
        omtp_ws_request(w, &out);
        for (size_t off = 0; off < size; off += chunk) {
            size_t n = size - off < chunk ? size - off : chunk;
            char why[256];
            if (omtp_ws_feed(w, data + off, n, client_data, NULL, &out, why, sizeof(why)) < 0)
                break;
            tars_buf_reset(&out);
        }
        tars_buf_free(&out);
        omtp_ws_free(w);
    }
    return 0;
}
