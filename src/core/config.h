/*
 * config.h - omtpd settings: defaults, config file, command line.
 *
 * Precedence: built-in defaults < config file (--config FILE, key = value
 * lines, '#' comments; see omtpd.conf.sample for every key) < command line.
 * The struct is filled at start-up. SIGHUP (core/reload.c) may change the
 * settings marked reloadable in config.c, on the loop thread only: those are
 * read on the loop thread, or copied by their part's reload callback under
 * that part's own lock; every other setting is read-only after start-up
 * (loop thread and store thread may both read it).
 */
#ifndef OMTP_CONFIG_H
#define OMTP_CONFIG_H

/* thumb_max_pixels' hard ceiling: no image with more pixels in its header is
 * ever decoded, whatever the setting (docs/files.md "Decompression bombs") */
#define OMTP_THUMB_PIXELS_HARD               100000000u
#define OMTP_CHECK_CACHE_MAX_DEFAULT         100000 /* check_cache_max */
#define OMTP_CHECK_CACHE_USER_TTL_MS_DEFAULT 1000   /* check_cache_user_ttl_ms */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct omtp_config {
    /* network */
    char listen[128];     /* "127.0.0.1:9000"; port 0 = any free port */
    char port_file[512];  /* write the bound port here (tests) */
    char tls_listen[128]; /* "" = no TLS listener */
    char tls_cert[512], tls_key[512];
    char tls_port_file[512];       /* write the TLS listener's bound port here */
    char ws_listen[128];           /* WebSocket + web app listener (docs/websocket.md); "" = off */
    char ws_port_file[512];        /* write the WebSocket listener's bound port here */
    char wss_listen[128];          /* the same over TLS (tls_cert, tls_key); "" = off */
    char wss_port_file[512];       /* write the wss listener's bound port here */
    char ws_allowed_origins[1024]; /* comma list, "*" = any; "" = the listener's own origin */
    char web_root[512];            /* the built web app's directory; "" = no files (404) */
    char tls_ciphers[512];        /* TLS 1.2 cipher list (OpenSSL syntax); "" = ECDHE + AEAD only */
    uint32_t max_conns;           /* 0 = unlimited (bounded by the fd limit) */
    uint32_t max_frame;           /* bytes, default 1 MiB */
    uint32_t out_buf_cap;         /* unsent output per connection before closing it */
    uint32_t keepalive_s;         /* PING interval expected; idle close after 2x */
    uint32_t prelogin_timeout_s;  /* close if not logged in by then */
    uint32_t login_fail_delay_ms; /* per-address slowdown after failures */
    uint32_t login_account_delay_ms;     /* per-account backoff base (login_guard.h); 0 = off */
    uint32_t login_account_delay_max_ms; /* its cap */
    /* resource guards (guard.h) */
    uint32_t max_prelogin_frame; /* largest frame before login (default 16 KiB) */
    uint32_t frame_timeout_s;    /* a frame must complete within this; 0 = no deadline */
    uint32_t max_pending_bytes;  /* partial-frame bytes of all connections; 0 = unlimited */
    uint32_t max_conns_per_ip;   /* unauthenticated connections per address; 0 = unlimited */
    /* request rate limit per logged-in connection (ratelimit.h, dispatch.c) */
    uint32_t req_rate;         /* requests per second (bucket refill); 0 = unlimited */
    uint32_t req_burst;        /* bucket size; 0 = 2 x req_rate */
    uint32_t req_refusals_max; /* refusals within 10 s that close; 0 = never close */
    /* storage */
    char data_dir[512];  /* SQLite data directory (default ./var) */
    char store_uri[512]; /* postgresql://... ("" = SQLite in data_dir) */
    int sync_level;      /* 2 FULL (default), 1 NORMAL */
    /* the message log (store/msglog.h, docs/storage.md "Message log"): wait
     * up to this many us after an idle log's first append so later appends
     * share the fdatasync; bounds the extra ack delay, pushes never wait */
    uint32_t log_sync_delay_us;
    /* the send path on the message log (SQLite; docs/storage.md "Delivery path") */
    bool message_log;           /* append + push + ack after the log's fsync (default true) */
    uint32_t apply_batch;       /* most log records one apply transaction stores (512) */
    uint32_t apply_delay_ms;    /* a partial batch is applied after this many ms (5) */
    uint32_t apply_pending_max; /* unapplied bytes above which sends are refused (64 MiB) */
    uint32_t apply_pending_records_max; /* unapplied records above which sends wait (100000) */
    uint32_t apply_lag_max_ms;          /* time behind above which sends wait (1000) */
    uint32_t apply_wait_ms;             /* most a send waits for room (3000), then refused */
    uint32_t apply_nice;                /* the store threads' nice value with the log on (5) */
    uint32_t seq_cache_max;             /* session seqId counters kept in memory (100000) */
    uint32_t dedup_window_s;            /* non-DUP packId reuse caught within (600, at least 600) */
    uint32_t dedup_window_max;          /* most (from, packId) entries in the window (1000000) */
    uint32_t msg_cache_max;             /* recent messages for message control's checks (100000) */
    /* security */
    char aes_key_hex[65];      /* CRYPTO=1 payload key; "" = none */
    char token_secret_hex[65]; /* "" = generated once and kept in the store */
    /* messaging */
    uint32_t compress_threshold;      /* compress pushes above this to zlib peers */
    uint32_t max_content;             /* MsgReq.content bytes (MSG_TOO_LONG above) */
    uint32_t revoke_limit_s;          /* revoke/edit time limit, 0 = none (default 120) */
    uint32_t group_member_limit;      /* default memberLimit, and the most a client may set (500) */
    uint32_t group_member_hard_limit; /* most memberLimit the HTTP API (admin) may set (100000) */
    bool friends_only;                /* single chat only between friends */
    uint32_t check_cache_max; /* entries per check cache (users, friends, groups); 0 = off */
    uint32_t check_cache_user_ttl_ms; /* user entries live this long (admin commands); 0 = none */
    uint32_t presence_max_subs;       /* users one connection may watch (1000; more: PARAM) */
    uint32_t hot_page;                /* hot sessions per page (default 100) */
    /* high-priority queue retention (hp_retention.h) */
    uint32_t hp_retention_days;   /* entries kept this long; 0 = forever (default 30) */
    uint32_t hp_retention_s;      /* testing: retention in seconds, overrides days when > 0 */
    uint32_t hp_prune_interval_s; /* seconds between passes (600; the first after <= 30 s) */
    uint32_t shutdown_timeout_s;  /* SIGTERM: exit within this many seconds (10; 0 = 10) */
    /* HTTP API */
    char http_listen[128]; /* "127.0.0.1:9080"; "" = off */
    char http_port_file[512];
    char api_keys[1024];            /* comma-separated bearer keys */
    uint32_t http_max_body;         /* request body cap in bytes (413 above); 0 = 1 MiB */
    uint32_t http_max_conns;        /* HTTP connections at once */
    uint32_t http_max_conns_per_ip; /* HTTP connections per address; 0 = unlimited */
    uint32_t http_timeout_s;        /* an HTTP connection silent this long is closed */
    uint32_t http_nice; /* nice increment of the HTTP API's threads (file transfers), 0 = none */
    /* uploaded files (docs/files.md) */
    char file_store[512];      /* "" or "local" = DATA_DIR/files; "s3://BUCKET" */
    uint64_t max_file_size;    /* bytes (default 100 MiB); 413 above, checked while streaming */
    uint64_t file_quota_bytes; /* bytes one user may have uploaded in all; 0 = none */
    uint32_t file_upload_rate; /* uploads per minute per user; 0 = unlimited (default 60) */
    uint32_t file_orphan_days; /* unreferenced files removed after this; 0 = never (7) */
    uint32_t file_orphan_s;    /* testing: overrides file_orphan_days when > 0 */
    uint32_t thumb_max_pixels; /* more pixels in the header: no thumbnail (50,000,000);
                                * 0 = no thumbnails; at most OMTP_THUMB_PIXELS_HARD */
    char s3_endpoint[256];     /* file_store = s3://: the service's URL */
    char s3_region[64];
    char s3_access_key[128];
    char s3_secret_key[256];
    char s3_path_style[8]; /* "auto" (path style when s3_endpoint is set), "true", "false" */
    /* webhooks to the business backend (docs/webhooks.md) */
    char push_webhook_url[512];      /* offline push events; "" = off */
    uint32_t push_webhook_batch_ms;  /* events of one recipient within this window: one POST */
    uint32_t push_webhook_queue_max; /* events waiting at most; the oldest are dropped beyond */
    char before_send_url[512];       /* moderation hook asked before storing; "" = off */
    uint32_t before_send_timeout_ms; /* the hook's time to answer */
    bool before_send_fail_open;      /* on timeout/error: true = store, false = refuse (6) */
    char webhook_secret[256];        /* HMAC-SHA256 key signing both hooks; "" = unsigned */
    /* cluster */
    char redis_url[256]; /* "" = single node */
    char node_id[128];
    /* logging */
    int log_level;      /* enum omtp_log_level */
    int log_format;     /* enum omtp_log_format: text (default) or json */
    char log_file[512]; /* "" = stderr; reopened on SIGHUP (logrotate) */
} omtp_config;

void omtp_config_defaults(omtp_config *c);
/* Loads a key = value file over *c. On error *why names file, line and key. */
int omtp_config_load(omtp_config *c, const char *path, char *why, size_t whylen);
/* Applies one setting by its config-file key ("max_frame", "1048576"). */
int omtp_config_set(omtp_config *c, const char *key, const char *value, char *why, size_t whylen);
/* Command-line spelling of a key ("max-frame" for max_frame); same as _set. */
int omtp_config_set_option(omtp_config *c, const char *opt, const char *value, char *why,
                           size_t whylen);
/* "debug"/"info"/"warn"/"error" -> enum omtp_log_level, -1 if unknown. */
int omtp_config_parse_level(const char *name);
/* Whether SIGHUP applies a change of `key` without a restart. */
bool omtp_config_reloadable(const char *key);
/* Calls fn for every setting whose value differs between a and b, in table
 * order, with whether it is reloadable. Returns how many differ. */
int omtp_config_diff(const omtp_config *a, const omtp_config *b,
                     void (*fn)(void *arg, const char *key, bool reloadable), void *arg);
/* Copies the reloadable settings of src into dst. */
void omtp_config_copy_reloadable(omtp_config *dst, const omtp_config *src);
/* One line per setting: --option, what it does, [default]. */
void omtp_config_print_help(FILE *out);

/* s3_path_style as store/filestore.h's OMTP_FS_S3_STYLE_* (0 auto, 1 path,
 * 2 virtual-hosted), for omtp_filestore_config.s3_path_style. */
int omtp_config_s3_path_style(const omtp_config *c);

#endif
