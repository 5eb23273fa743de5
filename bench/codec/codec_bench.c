/*
 * codec_bench.c - throughput of the OMTP codec on two workloads, the same
 * ones bench/codec/bench.js runs through @tars/stream:
 *
 *   msgreq   one frame: OTIMPack{header, payload = MsgReq} with a 100-byte
 *            text message. encode = MsgReq -> payload -> frame with length
 *            prefix; decode = frame -> header + MsgReq.
 *   history  one frame: HistoryMsgPullResp with 200 messages, each an
 *            OTIMPack carrying a MsgReq. encode = 200 MsgReq payloads + the
 *            response + frame; decode = frame -> response -> 200 MsgReqs.
 *
 * Each decode runs twice: owning (tars_decode: one malloc per string, list
 * and payload struct, released with tars_free) and arena (omtp_decode_opts
 * .arena / tars_decode_arena: everything from one tars_arena, released by
 * tars_arena_reset, which keeps its chunk for the next decode).
 *
 * Each case runs for --seconds (default 1) and prints ops/s and MB/s of
 * frame bytes. It also counts heap allocations per decode (malloc is
 * interposed below), to check that decoding scalars allocates nothing.
 *
 * usage: omtp-codec-bench [--seconds S] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/omtp_packet.h"

/* ---- allocation counting: forward to glibc, count calls ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static unsigned long n_alloc;
void *malloc(size_t n)
{
    n_alloc++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_alloc++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_alloc++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_msg(omtp_MsgReq *m, int i)
{
    char content[101];
    omtp_msg_init(&omtp_MsgReq_desc, m);
    tars_str_set(&m->sessionId, "SC_alice_bob");
    m->seqId = 1000 + i;
    m->timestamp = 1700000000000LL + i;
    tars_str_set(&m->from, "alice");
    tars_str_set(&m->to, "bob");
    m->contentType = 1;
    for (int k = 0; k < 100; k++)
        content[k] = (char)('a' + (k + i) % 26);
    content[100] = 0;
    tars_str_set(&m->content, content);
}

struct result {
    const char *name;
    double ops, mbs, allocs;
    size_t bytes;
    int vs; /* index of the Node case it compares with */
};

static double secs = 1.0;

/* Runs fn until `secs` elapsed; returns ops/s. */
#define RUN(ops_out, body)                                                                         \
    do {                                                                                           \
        long n = 0;                                                                                \
        double t0 = now(), t;                                                                      \
        do {                                                                                       \
            for (int rep = 0; rep < 64; rep++) {                                                   \
                body;                                                                              \
            }                                                                                      \
            n += 64;                                                                               \
            t = now() - t0;                                                                        \
        } while (t < secs);                                                                        \
        ops_out = (double)n / t;                                                                   \
    } while (0)

static volatile long sink;

static long msgreq_decode_arena(const tars_buf *b, tars_arena *a)
{
    omtp_packet p;
    int stage;
    char why[8];
    omtp_decode_opts o = {.arena = a};
    omtp_packet_decode(b->data + 4, b->len - 4, &o, &p, &stage, why, sizeof(why));
    long s = ((omtp_MsgReq *)p.body)->seqId;
    omtp_packet_free(&p);
    tars_arena_reset(a);
    return s;
}

static void bench_msgreq(struct result *enc, struct result *dec, struct result *dar)
{
    omtp_MsgReq m;
    make_msg(&m, 0);
    tars_buf b;
    tars_buf_init(&b);
    omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, "6f1c0b7e-2d4a-4c5e-9b1f-3a2b1c0d9e8f",
                       &omtp_MsgReq_desc, &m, NULL, 0);
    size_t flen = b.len;
    RUN(enc->ops, {
        tars_buf_reset(&b);
        omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, "6f1c0b7e-2d4a-4c5e-9b1f-3a2b1c0d9e8f",
                           &omtp_MsgReq_desc, &m, NULL, 0);
        sink += (long)b.len;
    });
    RUN(dec->ops, {
        omtp_packet p;
        int stage;
        char why[8];
        omtp_packet_decode(b.data + 4, b.len - 4, NULL, &p, &stage, why, sizeof(why));
        sink += ((omtp_MsgReq *)p.body)->seqId;
        omtp_packet_free(&p);
    });
    unsigned long a0 = n_alloc;
    omtp_packet p;
    int stage;
    char why[8];
    omtp_packet_decode(b.data + 4, b.len - 4, NULL, &p, &stage, why, sizeof(why));
    dec->allocs = (double)(n_alloc - a0);
    omtp_packet_free(&p);
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    RUN(dar->ops, sink += msgreq_decode_arena(&b, &a));
    a0 = n_alloc;
    sink += msgreq_decode_arena(&b, &a);
    dar->allocs = (double)(n_alloc - a0);
    tars_arena_free(&a);
    enc->name = "MsgReq frame encode";
    dec->name = "MsgReq frame decode";
    dar->name = "MsgReq frame decode (arena)";
    enc->bytes = dec->bytes = dar->bytes = flen;
    enc->mbs = enc->ops * (double)flen / 1e6;
    dec->mbs = dec->ops * (double)flen / 1e6;
    dar->mbs = dar->ops * (double)flen / 1e6;
    enc->allocs = -1;
    enc->vs = 0;
    dec->vs = dar->vs = 1;
    tars_buf_free(&b);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static void history_encode(omtp_MsgReq *msgs, omtp_HistoryMsgPullResp *h, tars_buf *out)
{
    for (uint32_t i = 0; i < h->msgs.n; i++)
        omtp_payload_to_bytes(&omtp_MsgReq_desc, &msgs[i], &h->msgs.items[i].payload);
    omtp_packet_encode(out, PT_HISTORY_MSG_PULL, OMTP_F_ACK, "6f1c0b7e-2d4a-4c5e-9b1f-3a2b1c0d9e8f",
                       &omtp_HistoryMsgPullResp_desc, h, NULL, 4 << 20);
}

static long history_decode(const tars_buf *b)
{
    omtp_packet p;
    int stage;
    char why[8];
    long s = 0;
    omtp_packet_decode(b->data + 4, b->len - 4, NULL, &p, &stage, why, sizeof(why));
    omtp_HistoryMsgPullResp *h = p.body;
    for (uint32_t i = 0; i < h->msgs.n; i++) {
        omtp_MsgReq m;
        tars_decode(&omtp_MsgReq_desc, &m, h->msgs.items[i].payload.data,
                    h->msgs.items[i].payload.len, NULL);
        s += m.seqId;
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_packet_free(&p);
    return s;
}

static long history_decode_arena(const tars_buf *b, tars_arena *a)
{
    omtp_packet p;
    int stage;
    char why[8];
    long s = 0;
    omtp_decode_opts o = {.arena = a};
    omtp_packet_decode(b->data + 4, b->len - 4, &o, &p, &stage, why, sizeof(why));
    omtp_HistoryMsgPullResp *h = p.body;
    for (uint32_t i = 0; i < h->msgs.n; i++) {
        omtp_MsgReq m;
        tars_decode_arena(&omtp_MsgReq_desc, &m, h->msgs.items[i].payload.data,
                          h->msgs.items[i].payload.len, a, NULL);
        s += m.seqId;
    }
    omtp_packet_free(&p);
    tars_arena_reset(a);
    return s;
}

static void bench_history(struct result *enc, struct result *dec, struct result *dar)
{
    enum { N = 200 };
    static omtp_MsgReq msgs[N];
    omtp_HistoryMsgPullResp h;
    omtp_msg_init(&omtp_HistoryMsgPullResp_desc, &h);
    tars_str_set(&h.errorCode.desc, "");
    tars_str_set(&h.sessionId, "SC_alice_bob");
    h.msgs.items = calloc(N, sizeof(omtp_OTIMPack));
    h.msgs.n = N;
    for (int i = 0; i < N; i++) {
        make_msg(&msgs[i], i);
        omtp_msg_init(&omtp_OTIMPack_desc, &h.msgs.items[i]);
        h.msgs.items[i].header.type = PT_MSG_SINGLE_CHAT;
        h.msgs.items[i].header.version = 1;
        tars_str_set(&h.msgs.items[i].header.packId, "6f1c0b7e-2d4a-4c5e-9b1f-3a2b1c0d9e8f");
    }
    tars_buf b;
    tars_buf_init(&b);
    history_encode(msgs, &h, &b);
    size_t flen = b.len;
    RUN(enc->ops, {
        tars_buf_reset(&b);
        history_encode(msgs, &h, &b);
        sink += (long)b.len;
    });
    RUN(dec->ops, sink += history_decode(&b));
    unsigned long a0 = n_alloc;
    sink += history_decode(&b);
    dec->allocs = (double)(n_alloc - a0);
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    a.keep = 1 << 20; /* a client's long-lived arena for history pages (~150 KiB each) */
    RUN(dar->ops, sink += history_decode_arena(&b, &a));
    a0 = n_alloc;
    sink += history_decode_arena(&b, &a);
    dar->allocs = (double)(n_alloc - a0);
    tars_arena_free(&a);
    enc->name = "HistoryMsgPullResp(200) encode";
    dec->name = "HistoryMsgPullResp(200) decode";
    dar->name = "HistoryMsgPullResp(200) decode (arena)";
    enc->bytes = dec->bytes = dar->bytes = flen;
    enc->mbs = enc->ops * (double)flen / 1e6;
    dec->mbs = dec->ops * (double)flen / 1e6;
    dar->mbs = dar->ops * (double)flen / 1e6;
    enc->allocs = -1;
    enc->vs = 2;
    dec->vs = dar->vs = 3;
    tars_buf_free(&b);
    for (int i = 0; i < N; i++)
        omtp_msg_free(&omtp_MsgReq_desc, &msgs[i]);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
}

/* Allocations when decoding structs of scalars only. */
static unsigned long scalar_decode_allocs(void)
{
    omtp_MsgHighPrioritySyncReq q = {.seqId = 1234567890123LL, .count = 200};
    tars_buf b;
    tars_buf_init(&b);
    tars_encode(&b, &omtp_MsgHighPrioritySyncReq_desc, &q, true, 0);
    unsigned long a0 = n_alloc;
    for (int i = 0; i < 1000; i++) {
        omtp_MsgHighPrioritySyncReq r;
        tars_decode(&omtp_MsgHighPrioritySyncReq_desc, &r, b.data, b.len, NULL);
        sink += r.seqId;
    }
    unsigned long n = n_alloc - a0;
    tars_buf_free(&b);
    return n;
}

int main(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            fprintf(stderr, "usage: omtp-codec-bench [--seconds S] [--json]\n");
            return 2;
        }
    }
    enum { NR = 6 };
    struct result r[NR];
    bench_msgreq(&r[0], &r[1], &r[2]);
    bench_history(&r[3], &r[4], &r[5]);
    unsigned long scalar = scalar_decode_allocs();
    if (json) {
        printf("{\"scalarDecodeAllocs\":%lu,\"cases\":[", scalar);
        for (int i = 0; i < NR; i++)
            printf("%s{\"name\":\"%s\",\"bytes\":%zu,\"ops\":%.0f,\"mbs\":%.1f,\"allocs\":%.0f,"
                   "\"vs\":%d}",
                   i ? "," : "", r[i].name, r[i].bytes, r[i].ops, r[i].mbs, r[i].allocs, r[i].vs);
        printf("]}\n");
        return 0;
    }
    printf("%-40s %8s %12s %9s %14s\n", "case", "bytes", "ops/s", "MB/s", "allocs/decode");
    for (int i = 0; i < NR; i++) {
        printf("%-40s %8zu %12.0f %9.1f ", r[i].name, r[i].bytes, r[i].ops, r[i].mbs);
        if (r[i].allocs >= 0)
            printf("%14.0f\n", r[i].allocs);
        else
            printf("%14s\n", "-");
    }
    printf("decoding 1000 scalar-only structs (MsgHighPrioritySyncReq): %lu allocations\n", scalar);
    return 0;
}
