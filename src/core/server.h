/*
 * server.h - the omtpd core: server, connections, requests, replies, pushes.
 *
 * Threading: everything here runs on the ONE libuv loop thread, which owns
 * connections, sessions and the presence table. Storage runs on the store
 * thread (store.h); handlers reach it only through omtp_store_submit(), whose
 * completions come back on the loop. Nothing on the loop blocks.
 *
 * Request life cycle (the one rule every handler follows):
 *   dispatch decodes a frame into an omtp_req (heap, owns its body, holds a
 *   reference on its connection) and calls the handler for its type. The
 *   handler now owns the request and must, exactly once -- synchronously or
 *   from a store completion -- call one of omtp_reply(), omtp_reply_code(),
 *   omtp_reply_empty() or omtp_req_free(). Each frees the request. Replying to
 *   a connection that closed meanwhile is a no-op (the request still frees).
 *
 * Pushes: a packet for many receivers is encoded once into an omtp_wire
 * (reference counted) and queued on each connection without copying; the
 * wire holds one encoding per transform variant (plain, zlib, AES, both),
 * made lazily, so connections that use compression/encryption get it too.
 */
#ifndef OMTP_SERVER_H
#define OMTP_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "proto/omtp_limits.h"
#include "proto/omtp_packet.h"
#include "store/store.h"

typedef struct omtp_server omtp_server;
typedef struct omtp_conn omtp_conn;
typedef struct omtp_wire omtp_wire;

#define OMTP_PACKID_MAX 128

/* ------------------------------------------------------------ connections */

enum omtp_conn_state {
    OMTP_CONN_NEW = 0, /* accepted, not logged in: only PING and LOGIN */
    OMTP_CONN_AUTHING, /* LOGIN submitted to the store, waiting */
    OMTP_CONN_ONLINE,  /* logged in */
    OMTP_CONN_CLOSING, /* close requested: no more input, output flushing */
};

struct omtp_conn {
    omtp_server *srv;
    uint64_t id;   /* unique per process, for logs */
    int state;     /* enum omtp_conn_state */
    char peer[64]; /* "ip:port" */
    /* identity, valid from ONLINE on */
    char userId[OMTP_ID_MAX + 1];
    int32_t deviceType;
    char deviceId[OMTP_ID_MAX + 1];
    int64_t loginMs;
    bool monitor_role; /* user has the monitor role */
    /* transforms the peer used: replies mirror the request, pushes follow these */
    bool uses_zlib;
    bool uses_aes;
    /* the device said it is in the background (webhook.h): counts as offline
     * for offline pushes; set by PT_USERATTRIBUTE_SET "device.background" */
    bool background;
    /* presence: next device of the same user (see omtp_presence_first) */
    omtp_conn *next_device;
    /* opaque per-module state (monitor subscriptions etc.) */
    void *monitor_state;
    /* domain/presence.c: this connection's subscriber slot + 1, 0 = none */
    uint32_t presence_sub;
    /* implementation details live in conn.c; do not touch from handlers */
    struct omtp_conn_impl *impl;
};

/* Keeps a connection struct alive across async work (it may still close). */
void omtp_conn_ref(omtp_conn *c);
void omtp_conn_unref(omtp_conn *c);
/* true until the connection started closing */
bool omtp_conn_is_open(const omtp_conn *c);
/* Flushes queued output then closes. `reason` is logged. */
void omtp_conn_close(omtp_conn *c, const char *reason);
/* Queues an encoded wire on the connection (takes its own reference).
 * Returns 0, or OMTP_ECLOSED. A connection whose unsent output exceeds the
 * configured cap is closed ("slow reader"), never allowed to grow. */
int omtp_conn_send_wire(omtp_conn *c, omtp_wire *w);

/* ------------------------------------------------------------- requests */

typedef struct omtp_req {
    omtp_conn *conn; /* referenced for the request's life */
    int type;        /* PT_* */
    int64_t flags;   /* request header flags */
    char packId[OMTP_PACKID_MAX + 1];
    const tars_struct_desc *desc; /* request payload struct, NULL if none */
    void *body;                   /* decoded payload (owned), NULL if none/empty */
    uint64_t startNs;             /* uv_hrtime() at dispatch, for latency metrics */
} omtp_req;

/* ------------------------------------------------- replies that fit a frame
 * (replyfit.c; docs/protocol.md "Replies larger than a frame")
 *
 * Every reply carrying a list is built item by item against a byte budget:
 * the payload bytes a reply may use so that its frame -- header, packId,
 * zlib's worst-case growth and the AES nonce and tag included -- stays
 * within max_frame. A reply that reaches the budget stops adding items and
 * tells the client, through its own cursor, where to continue. */

/* Payload bytes a reply may take (max_frame minus every overhead). */
size_t omtp_reply_budget(const omtp_config *cfg);
/* The largest item any list reply can hold beyond the message content:
 * pushInfo, a session's attributes as JSON, ids and headers. max_content is
 * lowered at start-up so that max_content + this fits omtp_reply_budget. */
#define OMTP_REPLY_ITEM_EXTRA (OMTP_LIMIT_PUSHINFO + OMTP_LIMIT_SESSION_ATTRS_JSON + 4096)
/* Bytes `obj` takes as an element of a vector<struct> (heads included);
 * SIZE_MAX if it cannot be encoded. Thread-safe (no shared scratch). */
size_t omtp_item_size(const tars_struct_desc *d, const void *obj);
/* Bytes a string takes as an element of a vector<string>. */
size_t omtp_str_item_size(const tars_str *s);
/* Upper bounds of what one stored record takes as a reply item (a message
 * as an OTIMPack, a hot-session item, a high-priority entry). */
size_t omtp_msg_rec_bound(const omtp_msg_rec *m);
size_t omtp_hot_rec_bound(const omtp_hot_rec *r);
size_t omtp_hp_rec_bound(const omtp_hp_rec *r);
/* A record stored before the field limits may not fit any page: these drop
 * its pushInfo (a push hint, not conversation) when it alone exceeds the
 * budget, logging a WARN; true if they did. omtp_msg_rec_shrink first drops
 * a message's aggregated reactions (a view, rebuilt by the next read) when
 * they make it exceed the budget. Store or loop thread. */
bool omtp_msg_rec_shrink(omtp_msg_rec *m, size_t budget);
bool omtp_hp_rec_shrink(omtp_hp_rec *r, size_t budget);
/* How many of n consecutive list items fit once *used bytes are taken
 * (*used grows by theirs); at least one when *used is 0, so paging always
 * progresses. For vector<struct> of type d, and for vector<string>. */
uint32_t omtp_fit_structs(const tars_struct_desc *d, const void *items, uint32_t n, size_t *used,
                          size_t budget);
uint32_t omtp_fit_strs(const tars_str *items, uint32_t n, size_t *used, size_t budget);
/* Lowers cfg->max_content when it could not fit a reply frame (WARN says
 * so); refuses a max_frame below OMTP_MIN_MAX_FRAME. 0 or OMTP_EINVAL. */
#define OMTP_MIN_MAX_FRAME 32768
int omtp_reply_fit_config(omtp_config *cfg, char *why, size_t whylen);

/* Sends the reply (type and packId echoed, ACK set, transforms mirrored)
 * and frees the request. `body` is borrowed (encoded before return). */
void omtp_reply(omtp_req *req, const tars_struct_desc *desc, const void *body);
/* Sends the reply struct of the request's type with its code set (and desc,
 * or errorCode{code, desc}, where the struct has them), everything else at
 * defaults. Types whose reply has no payload get a CommonErrorCode. Logs
 * non-zero codes at debug level. Frees the request. */
void omtp_reply_code(omtp_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ACK with an empty payload (PING, LOGOUT, KICKOUT). Frees the request. */
void omtp_reply_empty(omtp_req *req);
/* Frees without replying (e.g. the client's answer to SYNC_DATA_CMD). */
void omtp_req_free(omtp_req *req);

/* A handler: owns req (see the life cycle above). */
typedef void (*omtp_handler_fn)(omtp_req *req);

/* ------------------------------------------------------------- dispatch */

/* The core knows no handler: the OMTP adapter (src/omtp/handlers.c) fills
 * the dispatch table at start with one call per packet type. What used to
 * be rulings about named types are flags of their entry (dispatch.c):
 *   PRELOGIN     allowed before login (PING, LOGIN); every other type then
 *                gets CONN_ACCESS_DENIED and the connection closes;
 *   RATE_EXEMPT  never charged to the request rate limit (PING, LOGIN,
 *                LOGOUT);
 *   EMPTY_OK     an empty payload reaches the handler with body NULL
 *                (LOGIN, USERATTRIBUTE_GET); others get PROTOCOL;
 *   ANSWERS      the server sends this type (SYNC_DATA_CMD): ACK answers of
 *                a logged-in client reach the handler, a request gets
 *                PROTOCOL.
 * ACK packets of types without ANSWERS are dropped; types without an entry
 * get PROTOCOL "unknown packet type". Returns 0, or OMTP_EINVAL for a type
 * outside 1..OMTP_PT_MAX-1 or a NULL handler. Loop thread, before the
 * listeners accept (a part's start, see "parts" below). */
enum omtp_dispatch_flags {
    OMTP_DISPATCH_PRELOGIN = 1u << 0,
    OMTP_DISPATCH_RATE_EXEMPT = 1u << 1,
    OMTP_DISPATCH_EMPTY_OK = 1u << 2,
    OMTP_DISPATCH_ANSWERS = 1u << 3,
};
int omtp_dispatch_register(omtp_server *s, int type, omtp_handler_fn fn, unsigned flags);

/* --------------------------------------------------------------- pushes */

/* Encodes a packet once. packId NULL = a fresh UUID. Returns NULL on OOM. */
omtp_wire *omtp_wire_new(int type, int64_t flags, const char *packId, const tars_struct_desc *desc,
                         const void *body);
void omtp_wire_ref(omtp_wire *w);
void omtp_wire_unref(omtp_wire *w);

/* First online connection of a user on this node (then c->next_device). */
omtp_conn *omtp_presence_first(omtp_server *s, const char *userId);
/* Sends w to every online device of userId except `except` (may be NULL).
 * Returns the number of devices it was queued on. In a cluster, devices on
 * other nodes are reached through the cluster bus. */
int omtp_push_user(omtp_server *s, const char *userId, omtp_wire *w, const omtp_conn *except);
/* Pushes PT_SYNC_DATA_CMD {command, content} to every device of userId. */
void omtp_push_sync_cmd(omtp_server *s, const char *userId, int command, const char *content);

/* Set by the cluster adapter (omtp/cluster_host.c) while the cluster runs,
 * NULL single-node: w for userId's devices on other nodes (asynchronous; w
 * is held, not copied). omtp_push_user calls it. */
typedef void (*omtp_push_remote_fn)(omtp_server *s, const char *userId, omtp_wire *w);

/* chat.c: pushes a stored message (as MsgReq with server fields, header type
 * m->type and m->flags, packId m->packId) to every online device of each of
 * `users` and to connections monitoring its session, except `except`. */
void omtp_deliver_msg(omtp_server *s, const omtp_msg_rec *m, const tars_str_list *users,
                      const omtp_conn *except);

/* monitor.c: connections monitoring a session get w (except `except` and
 * connections of users in `recipients`, who get w pushed as members; NULL =
 * none), on this node and -- through the cluster bus -- on other nodes. */
void omtp_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w, const omtp_conn *except,
                       const tars_str_list *recipients);

/* ------------------------------------------------------ close observers */

/* Subsystems above the core (monitors, the cluster) learn that an online
 * connection is closing by registering an observer, instead of the core
 * calling them: fn(arg, c) runs once per connection that was ONLINE, when
 * it starts closing (c->state is already CLOSING, c is still in the
 * presence table, its identity fields are valid), in registration order.
 * At most OMTP_CLOSE_OBSERVERS_MAX; register returns OMTP_ENOMEM beyond.
 * close_observers.c. */
#define OMTP_CLOSE_OBSERVERS_MAX 8
typedef void (*omtp_close_fn)(void *arg, omtp_conn *c);
int omtp_server_on_close(omtp_server *s, omtp_close_fn fn, void *arg);
void omtp_server_off_close(omtp_server *s, omtp_close_fn fn, void *arg);
/* conn.c: runs the observers for c. */
void omtp_server_run_close_observers(omtp_conn *c);

/* -------------------------------------------------------------- metrics */

/* A subsystem above the core adds its own series to GET /metrics by
 * registering a source: fn(arg) returns malloc'd Prometheus text (NUL-ended,
 * "" for none; NULL = out of memory, the scrape fails with 500), appended
 * after the core's series in registration order. At most
 * OMTP_METRICS_SOURCES_MAX; OMTP_ENOMEM beyond. Loop thread (metrics.c). */
#define OMTP_METRICS_SOURCES_MAX 8
typedef char *(*omtp_metrics_source_fn)(void *arg);
int omtp_metrics_add_source(omtp_server *s, omtp_metrics_source_fn fn, void *arg);

#define OMTP_TRANSPORTS_MAX 4 /* room for the transports of core/transport.h */
/* Why a login failed (omtp_login_failures_total{reason}). A wrong password
 * and an unknown user id are one reason: /metrics must not tell them apart
 * any more than the reply does. */
enum omtp_login_fail {
    OMTP_LF_CREDENTIALS, /* wrong user id or password */
    OMTP_LF_TOKEN,       /* invalid or expired token */
    OMTP_LF_THROTTLED,   /* refused unchecked by the per-account backoff */
    OMTP_LF_FIELDS,      /* missing or invalid LoginReq fields (code 20) */
    OMTP_LF_SERVER,      /* the server's trouble: storage, shutdown, busy */
    OMTP_LF_N
};

typedef struct omtp_metrics {
    uint64_t conns_open, conns_total, conns_rejected;
    uint64_t logins_ok, logins_failed, kicks;
    uint64_t packets_in[OMTP_PT_MAX], packets_out[OMTP_PT_MAX]; /* by type (others in slot 0) */
    uint64_t bytes_in, bytes_out;
    uint64_t msgs_stored, msgs_dup, pushes;
    uint64_t errors_by_code[64]; /* replies with a non-zero code, by code */
    uint64_t slow_reader_closes, frame_errors;
    uint64_t hp_pruned;           /* high-priority entries removed by retention (hp_retention.h) */
    uint64_t rate_limited;        /* requests refused by the per-connection rate limit */
    uint64_t rate_limit_closes;   /* connections closed for exceeding it persistently */
    uint64_t conns_shed[8];       /* closed or refused by the guard, by enum omtp_shed_reason */
    uint64_t pending_frame_bytes; /* bytes held by partial frames now (guard.h) */
    /* by transport (core/transport.h, enum omtp_transport_kind): connections
     * open now, socket bytes in and out (TLS: ciphertext) */
    uint64_t tp_conns[OMTP_TRANSPORTS_MAX], tp_bytes_in[OMTP_TRANSPORTS_MAX],
        tp_bytes_out[OMTP_TRANSPORTS_MAX];
    uint64_t fields_too_long; /* requests refused: a text field over its limit (omtp_limits.h) */
    uint64_t replies_paged;   /* list replies cut short to fit max_frame (replyfit.c) */
    uint64_t replies_too_big; /* replies that could not be sent: larger than max_frame */
    uint64_t login_failures[OMTP_LF_N]; /* failed logins by reason (enum omtp_login_fail) */
    uint64_t logins_delayed_addr;       /* logins held by the per-address delay */
    uint64_t logins_delayed_acct;       /* logins held by the per-account backoff */
    uint64_t login_kdf;                 /* password checks run (real or dummy hash) */
} omtp_metrics;

/* --------------------------------------------------------------- server */

struct omtp_server {
    uv_loop_t *loop;
    omtp_config *cfg;
    omtp_store *store;
    omtp_metrics metrics;
    omtp_crypto_key aes_key;              /* from the config; .set false if none */
    uint8_t token_secret[32];             /* HMAC key for login tokens */
    struct omtp_login_guard *login_guard; /* per-account backoff (login_guard.h) */
    char login_dummy_hash[160]; /* checked for unknown ids, so they cost what known ones do */
    bool stopping;
    struct omtp_server_impl *impl; /* listeners, presence table, timers (server.c) */
    struct mon_table *monitor;     /* monitor.c state, NULL while nobody monitors */
    struct group_state *groups;    /* group_state.c state (member cache) */
    struct omtp_http *http;        /* http.c state */
    struct omtp_cluster *cluster;  /* cluster bus (cluster/cluster.h), NULL single-node */
    struct webhook *webhook;       /* webhook.c state, NULL when no hook is configured */
    /* SIGHUP: fills *next with the settings as a fresh start would read them
     * (config file, then command line); set by omtpd's main.c, NULL = reload
     * only reopens the log file. On error *why says what is wrong. */
    int (*reread_config)(omtp_server *s, omtp_config *next, char *why, size_t whylen);
    struct hp_retention *hp_retention; /* hp_retention.c state, NULL when retention is off */
    /* uploaded files (domain/files.h): where the bytes live (blocking calls,
     * never on this thread; opened by the "files" part, closed at free) and
     * the orphan sweeper's state */
    struct omtp_filestore *filestore;
    struct omtp_files_state *files;
    struct dom_presence *presence; /* domain/presence.c state, NULL until started */
    struct dom_typing *typing;     /* domain/typing.c state (relay rate limit), NULL if none */
    struct msgpath *msgpath; /* domain/msgpath.c: the send path on the message log, NULL = off */
    struct omtp_close_observer { /* close_observers.c */
        omtp_close_fn fn;
        void *arg;
    } close_observers[OMTP_CLOSE_OBSERVERS_MAX];
    int nclose_observers;
    struct omtp_guard *guard;    /* guard.c: admission and shedding */
    struct omtp_dispatch_entry { /* dispatch.c, filled by omtp_dispatch_register */
        omtp_handler_fn fn;
        unsigned flags;
    } dispatch[OMTP_PT_MAX];
    omtp_push_remote_fn push_remote; /* see omtp_push_remote_fn */
    struct omtp_metrics_source {     /* metrics.c */
        omtp_metrics_source_fn fn;
        void *arg;
    } metrics_sources[OMTP_METRICS_SOURCES_MAX];
    int nmetrics_sources;
    /* what the business backend hooks into the message path (domain/msg.h,
     * set by hooks/webhook.c at start), NULL when nothing is hooked */
    const struct omtp_msg_hooks *msg_hooks;
    /* the handler of /v1/ on the ws listeners (core/ws_api.h, registered by
     * http/http_wsfiles.c), NULL = none (404) */
    const struct omtp_ws_api_ops *ws_api;
    /* domain/check_cache.c state (the send checks' caches), NULL until used */
    struct check_cache *check_cache;
};

/* ---------------------------------------------------------------- parts */

/* The subsystems above the core (the OMTP handlers, the cluster, webhooks,
 * the HTTP API, the group state, the retention job) are wired by src/omtpd
 * (wiring.c): it hands omtp_server_init a table of parts, and the core runs
 * their hooks at fixed points of its life cycle, in table order within a
 * point. The core includes none of them.
 *
 * start (NULL = nothing to start) runs in phase `start_at`:
 *   OMTP_START_CONFIG  before the store opens (login secret, dispatch table)
 *   OMTP_START_STORE   store open, listeners not yet (observers, workers)
 *   OMTP_START_BOUND   the client port is bound (omtp_server_port)
 *   OMTP_START_LAST    listeners, timers and signals are up
 * and returns 0 or OMTP_E* with `why` saying what to do (init then fails).
 * stop(s, budget_ms) runs in omtp_server_stop at `stop_at`, for parts whose
 * start succeeded (or that have none); budget_ms is the whole shutdown's
 * (shutdown_timeout_s):
 *   OMTP_STOP_FIRST           before the listeners close
 *   OMTP_STOP_UNLISTENED      listeners closed, connections still reading
 *   OMTP_STOP_BEFORE_STORE    reading paused, the store still open
 *   OMTP_STOP_AFTER_STORE     the store closed (every request answered)
 * tick runs every timer tick (250 ms) for started parts; free runs in
 * omtp_server_free for every part, started or not (idempotent). Any hook
 * may be NULL. Loop thread. At most OMTP_SERVER_PARTS_MAX parts. */
enum omtp_start_at { OMTP_START_CONFIG, OMTP_START_STORE, OMTP_START_BOUND, OMTP_START_LAST };
enum omtp_stop_at {
    OMTP_STOP_FIRST,
    OMTP_STOP_UNLISTENED,
    OMTP_STOP_BEFORE_STORE,
    OMTP_STOP_AFTER_STORE
};
#define OMTP_SERVER_PARTS_MAX 16
typedef struct omtp_server_part {
    const char *name; /* for logs */
    int start_at;     /* enum omtp_start_at */
    int (*start)(omtp_server *s, char *why, size_t whylen);
    int stop_at; /* enum omtp_stop_at */
    void (*stop)(omtp_server *s, uint64_t budget_ms);
    void (*tick)(omtp_server *s);
    void (*free)(omtp_server *s);
    /* SIGHUP (core/reload.c), loop thread, after the reloadable settings of
     * s->cfg changed: take the new values (copy what other threads read,
     * under the part's lock). NULL: nothing to do. */
    void (*reload)(omtp_server *s);
} omtp_server_part;

/* Life cycle (main.c): init opens the store, the listeners (writing
 * cfg->port_file) and signal handlers, and starts the parts; run runs the loop until
 * a graceful stop (SIGINT/SIGTERM or omtp_server_stop) finished; free
 * releases what is left. init fills `why` with what to do on failure. */
int omtp_server_init(omtp_server *s, uv_loop_t *loop, omtp_config *cfg,
                     const omtp_server_part *parts, size_t nparts, char *why, size_t whylen);
/* The bound client (plain TCP) port, from OMTP_START_BOUND on. */
int omtp_server_port(const omtp_server *s);
int omtp_server_run(omtp_server *s);
void omtp_server_stop(omtp_server *s);
void omtp_server_free(omtp_server *s);
/* SIGHUP, loop thread (core/reload.c): re-reads the config through
 * s->reread_config, applies the reloadable settings, tells the parts, logs
 * what changed (names only, never values) and what needs a restart, and
 * reopens log_file. A config that does not load changes nothing. */
void omtp_server_reload(omtp_server *s);
/* Runs each started part's reload callback (server.c). */
void omtp_server_parts_reload(omtp_server *s);
/* "host:port" / "[v6]:port" -> host, port. Returns 0 or OMTP_EINVAL. */
int omtp_parse_hostport(const char *hp, char *host, size_t hostlen, int *port);

/* Logging: log.h. */
#include "util/log.h"

/* Session ids and the id alphabet: proto/omtp_session.h. */
#include "proto/omtp_session.h"

#endif
