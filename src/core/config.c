/*
 * config.c - omtpd settings: defaults, the key = value file, command line.
 *
 * One table lists every setting once (key, kind, offset, size, help); the
 * file loader, the command line (--key-with-dashes VALUE) and --help all
 * walk it, so a new field in config.h needs one row here and one paragraph
 * in omtpd.conf.sample.
 */
#include "config.h"
#include "ratelimit.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_STR, K_U32, K_INT, K_BOOL, K_LEVEL, K_LFMT, K_U64 };

struct setting {
    const char *key;
    int kind;
    size_t off;
    size_t size; /* K_STR: buffer size */
    const char *help;
};

/* Settings SIGHUP applies without a restart (core/reload.c, docs/operations.md).
 * Each is read on the loop thread only, or copied by its part's reload
 * callback (api_keys: http.c; webhook URLs and secret: hooks/webhook.c). */
static const char *const reloadable[] = {
    "log_level",       "log_format",
    "log_file",        "req_rate",
    "req_burst",       "req_refusals_max",
    "revoke_limit_s",  "login_fail_delay_ms",
    "friends_only",    "hot_page",
    "api_keys",        "push_webhook_url",
    "before_send_url", "before_send_fail_open",
    "webhook_secret",
};

#define S(f, h)                                                                                    \
    {                                                                                              \
#f, K_STR, offsetof(omtp_config, f), sizeof(((omtp_config *)0)->f), h                      \
    }
#define U(f, h)                                                                                    \
    {                                                                                              \
#f, K_U32, offsetof(omtp_config, f), 0, h                                                  \
    }
#define U64(f, h)                                                                                  \
    {                                                                                              \
#f, K_U64, offsetof(omtp_config, f), 0, h                                                  \
    }
#define I(f, h)                                                                                    \
    {                                                                                              \
#f, K_INT, offsetof(omtp_config, f), 0, h                                                  \
    }
#define B(f, h)                                                                                    \
    {                                                                                              \
#f, K_BOOL, offsetof(omtp_config, f), 0, h                                                 \
    }
#define L(f, h)                                                                                    \
    {                                                                                              \
#f, K_LEVEL, offsetof(omtp_config, f), 0, h                                                \
    }
static const struct setting settings[] = {
    S(listen, "HOST:PORT of the OMTP listener (port 0 = any free port)"),
    S(port_file, "write the bound port number to this file"),
    S(tls_listen, "HOST:PORT of the TLS listener (empty = none)"),
    S(tls_cert, "PEM certificate (chain) file for the TLS listener"),
    S(tls_key, "PEM private key file for the TLS listener"),
    S(tls_port_file, "write the TLS listener's bound port number to this file"),
    S(tls_ciphers, "TLS 1.2 cipher list in OpenSSL syntax (empty = forward-secret AEAD only)"),
    S(ws_listen, "HOST:PORT of the WebSocket listener: GET /ws upgrades, / serves web_root "
                 "(empty = off)"),
    S(ws_port_file, "write the WebSocket listener's bound port number to this file"),
    S(wss_listen, "HOST:PORT of the WebSocket listener over TLS (tls_cert, tls_key; empty = off)"),
    S(wss_port_file, "write the wss listener's bound port number to this file"),
    S(ws_allowed_origins, "Origins allowed to open the WebSocket, comma list, * = any "
                          "(empty = the listener's own http(s)://Host)"),
    S(web_root, "directory of the built web app served at / (empty = no files, 404)"),
    U(max_conns, "most open connections, 0 = bounded by the fd limit"),
    U(max_frame, "largest frame in bytes, in and out (>= 32768; list replies are paged to fit)"),
    U(out_buf_cap, "unsent bytes queued per connection before it is closed"),
    U(keepalive_s, "expected PING interval; silent connections close after 2x"),
    U(prelogin_timeout_s, "close connections not logged in after this many seconds"),
    U(login_fail_delay_ms, "delay per recent login failure from the same address"),
    U(login_account_delay_ms,
      "per-account backoff after a failed password, doubling per failure; 0 = off"),
    U(login_account_delay_max_ms, "cap of the per-account backoff"),
    U(max_prelogin_frame, "largest frame in bytes before login (bigger: error frame, close)"),
    U(frame_timeout_s, "seconds a frame may take to arrive completely, 0 = no deadline"),
    U(max_pending_bytes, "bytes of partial frames over all connections, 0 = unlimited"),
    U(max_conns_per_ip, "connections not logged in per source address, 0 = unlimited"),
    U(req_rate, "requests per second per logged-in connection, 0 = unlimited"),
    U(req_burst, "requests a connection may send at once (bucket size), 0 = 2 x req_rate"),
    U(req_refusals_max, "rate-limit refusals within 10 s that close the connection, 0 = never"),
    S(data_dir, "data directory (SQLite database omtp.db)"),
    S(store_uri, "postgresql://... to use PostgreSQL; empty = SQLite in data_dir"),
    I(sync_level, "SQLite synchronous level: 2 FULL, 1 NORMAL"),
    U(log_sync_delay_us, "message log fsync pacing: an idle log waits up to this many us for "
                         "more messages to share one fdatasync (acks only; 0 = sync at once, "
                         "at most 100000)"),
    B(message_log, "SQLite: append each message to the message log (DATA_DIR/log), push, ack "
                   "after its fdatasync, store it in the tables behind (false = one store "
                   "transaction per message: docs/storage.md); PostgreSQL: ignored"),
    U(apply_batch, "message log: most records one apply transaction stores (0 = 512)"),
    U(apply_delay_ms, "message log: apply a partial batch after this many ms"),
    U(apply_pending_max, "message log: bytes not yet applied to the store above which sends "
                         "are refused with SERVICE_UNAVAILABLE (0 = no bound)"),
    U(apply_pending_records_max, "message log: records not yet applied to the store above "
                                 "which sends wait (then SERVICE_UNAVAILABLE), 0 = no bound"),
    U(apply_lag_max_ms, "message log: time the store may run behind the log (backlog x "
                        "measured apply cost) before sends wait; bounds what a read waits, 0 = "
                        "no bound"),
    U(apply_wait_ms, "message log: most ms a send waits for the backlog to shrink before "
                     "SERVICE_UNAVAILABLE, 0 = refuse at once"),
    U(seq_cache_max, "message log: session seqId counters kept in memory"),
    U(apply_nice, "message log: nice value (0..19) of the store's threads, so that the "
                  "loop (pushes) wins the CPU over the applies; 0 = the loop's priority"),
    U(dedup_window_s, "message log: a packId reused without the DUP flag is caught within this "
                      "many seconds (at least 600)"),
    U(dedup_window_max, "message log: most (from, packId) entries in the dedup window"),
    U(msg_cache_max, "message log: recent messages kept in memory so that a revoke, delete, "
                     "edit or reaction of one is checked without a store read"),
    S(aes_key_hex, "64 hex digits: AES-256-GCM key for CRYPTO=1 payloads"),
    S(token_secret_hex, "64 hex digits: HMAC secret for login tokens"),
    U(compress_threshold, "compress pushes bigger than this to zlib-using peers"),
    U(max_content, "largest message content in bytes (lowered to fit one reply frame)"),
    U(revoke_limit_s, "revoke/edit time limit in seconds, 0 = none"),
    U(group_member_limit, "default group member limit, and the most a client may set"),
    U(group_member_hard_limit, "most memberLimit the HTTP API (administrator) may set"),
    B(friends_only, "single chat only between friends (true/false)"),
    U(check_cache_max, "entries per send-check cache (users, friends, groups), 0 = no caching"),
    U(check_cache_user_ttl_ms, "ms a cached user (exists or not) is trusted, 0 = users not "
                               "cached (admin commands change users beside the server)"),
    U(presence_max_subs, "most users one connection may watch for presence (more: PARAM)"),
    U(hot_page, "hot sessions per sync page"),
    U(hp_retention_days, "keep high-priority queue entries this many days, 0 = forever"),
    U(hp_retention_s, "testing: retention in seconds, overrides hp_retention_days if > 0"),
    U(hp_prune_interval_s, "seconds between retention passes (0 = 600)"),
    U(shutdown_timeout_s, "SIGTERM/SIGINT: exit within this many seconds (0 = 10)"),
    S(http_listen, "HOST:PORT of the HTTP API (empty = off)"),
    S(http_port_file, "write the HTTP API's bound port here"),
    S(api_keys, "comma-separated bearer keys for the HTTP API"),
    U(http_max_body, "largest HTTP request body in bytes, 0 = 1 MiB"),
    U(http_max_conns, "most HTTP API connections at once"),
    U(http_max_conns_per_ip, "most HTTP API connections per source address not yet "
                             "authenticated, 0 = unlimited"),
    U(http_timeout_s, "seconds an HTTP connection may stay silent (slow headers/body)"),
    U(http_nice, "the HTTP API's threads, where file transfers run, raise their nice value by "
                 "this (1..19) so they yield the CPU to the chat loop; 0 = unchanged"),
    S(file_store, "where uploaded files' bytes live: local (DATA_DIR/files) or s3://BUCKET"),
    U64(max_file_size, "largest uploaded file in bytes (413 above, enforced while streaming)"),
    U64(file_quota_bytes, "bytes of files one user may have uploaded in all, 0 = no quota"),
    U(file_upload_rate, "uploads per minute per user, 0 = unlimited"),
    U(file_orphan_days, "remove files no message references after this many days, 0 = never"),
    U(file_orphan_s, "testing: orphan age in seconds, overrides file_orphan_days if > 0"),
    U(thumb_max_pixels, "images with more pixels (from the header) get no thumbnail, "
                        "never decoded; 0 = no thumbnails at all; at most 100000000"),
    S(s3_endpoint, "S3 endpoint URL for file_store = s3://BUCKET (empty = AWS for s3_region)"),
    S(s3_region, "S3 region (empty = us-east-1)"),
    S(s3_access_key, "S3 access key id"),
    S(s3_secret_key, "S3 secret access key"),
    S(s3_path_style, "S3 file store: true = ENDPOINT/BUCKET/KEY (MinIO, Ceph), false = "
                     "BUCKET.HOST/KEY (AWS), auto = true when s3_endpoint is set"),
    S(push_webhook_url, "POST offline push events here (empty = off); docs/webhooks.md"),
    U(push_webhook_batch_ms, "one POST per recipient for the events within this many ms"),
    U(push_webhook_queue_max, "offline push events waiting at most; the oldest are dropped"),
    S(before_send_url, "ask this URL before storing a user's message (empty = off)"),
    U(before_send_timeout_ms, "the before-send hook's time to answer"),
    B(before_send_fail_open, "before-send timeout/error: true = store, false = refuse"),
    S(webhook_secret, "HMAC-SHA256 key signing webhook requests (empty = unsigned)"),
    S(redis_url, "redis://host:port for clustering (empty = single node)"),
    S(node_id, "this node's name in a cluster"),
    L(log_level, "debug, info, warn or error"),
    {"log_format", K_LFMT, offsetof(omtp_config, log_format), 0,
     "text (one line per record) or json (one object per line: ts, level, msg, fields)"},
    S(log_file, "append the log to this file instead of stderr; reopened on SIGHUP"),
};
#undef S
#undef U
#undef U64
#undef I
#undef B
#undef L
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void omtp_config_defaults(omtp_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9000");
    snprintf(c->data_dir, sizeof(c->data_dir), "./var");
    c->max_conns = 0;
    c->max_frame = 1024 * 1024;
    c->out_buf_cap = 4 * 1024 * 1024;
    c->keepalive_s = 30;
    c->prelogin_timeout_s = 10;
    c->login_fail_delay_ms = 200;
    c->login_account_delay_ms = 250;
    c->login_account_delay_max_ms = 30000;
    c->max_prelogin_frame = 16 * 1024;
    c->frame_timeout_s = 30;
    c->max_pending_bytes = 64 * 1024 * 1024;
    c->max_conns_per_ip = 64;
    c->http_max_conns = 256;
    c->http_max_conns_per_ip = 32;
    c->http_timeout_s = 10;
    c->http_nice = 10;
    c->req_rate = 50; /* far above a person; stops one connection flooding the loop */
    c->req_burst = 200;
    c->req_refusals_max = 100;
    c->sync_level = 2;
    c->log_sync_delay_us = 1000; /* bench/RESULTS.md "Message log pacing" */
    c->compress_threshold = 1024;
    c->presence_max_subs = 1000;
    c->max_content = 64 * 1024;
    c->revoke_limit_s = 120;
    c->group_member_limit = 500;
    c->group_member_hard_limit = 100000;
    c->friends_only = false;
    c->check_cache_max = OMTP_CHECK_CACHE_MAX_DEFAULT;
    c->check_cache_user_ttl_ms = OMTP_CHECK_CACHE_USER_TTL_MS_DEFAULT;
    c->hot_page = 100;
    c->hp_retention_days = 30;
    c->hp_prune_interval_s = 600;
    c->shutdown_timeout_s = 10;
    c->message_log = true;
    c->apply_batch = 512;
    c->apply_delay_ms = 5;
    c->apply_pending_max = 64u << 20;
    c->apply_pending_records_max = 100000;
    c->apply_lag_max_ms = 1000;
    c->apply_wait_ms = 3000;
    c->apply_nice = 5; /* docs/storage.md "The log path's latency tail" */
    c->seq_cache_max = 100000;
    c->dedup_window_s = 600;
    c->dedup_window_max = 1000000;
    c->msg_cache_max = 100000;
    c->push_webhook_batch_ms = 200;
    c->push_webhook_queue_max = 10000;
    c->before_send_timeout_ms = 500;
    c->before_send_fail_open = true;
    c->log_level = OMTP_LOG_INFO;
    c->max_file_size = 100ull * 1024 * 1024;
    c->file_upload_rate = 60;
    c->file_orphan_days = 7;
    c->thumb_max_pixels = 50u * 1000 * 1000;
    snprintf(c->s3_path_style, sizeof(c->s3_path_style), "auto");
}

int omtp_config_s3_path_style(const omtp_config *c)
{
    if (!strcasecmp(c->s3_path_style, "true"))
        return 1; /* OMTP_FS_S3_STYLE_PATH */
    if (!strcasecmp(c->s3_path_style, "false"))
        return 2; /* OMTP_FS_S3_STYLE_VHOST */
    return 0;     /* OMTP_FS_S3_STYLE_AUTO */
}

static const struct setting *find(const char *key)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

int omtp_config_parse_level(const char *v)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    if (strcasecmp(v, "warning") == 0)
        return OMTP_LOG_WARN;
    return -1;
}

/* Edit distance between a and b (both short), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The setting whose key is nearest to `key` (dashes read as underscores), or NULL. */
static const char *nearest_key(const char *key)
{
    char k[64];
    size_t n = strlen(key);
    if (n >= sizeof(k))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        k[i] = key[i] == '-' ? '_' : key[i];
    const char *best = NULL;
    size_t bd = 4; /* at most 3 edits, and less than half the key */
    for (size_t i = 0; i < NSETTINGS; i++) {
        size_t d = distance(k, settings[i].key);
        if (d < bd && d * 2 < strlen(settings[i].key)) {
            bd = d;
            best = settings[i].key;
        }
    }
    return best;
}

int omtp_config_set(omtp_config *c, const char *key, const char *value, char *why, size_t whylen)
{
    const struct setting *s = find(key);
    if (!s) {
        const char *near = nearest_key(key);
        if (near)
            snprintf(why, whylen,
                     "unknown setting '%s': did you mean '%s'? (every setting: omtpd --help, "
                     "omtpd.conf.sample)",
                     key, near);
        else
            snprintf(why, whylen,
                     "unknown setting '%s' (every setting: omtpd --help, omtpd.conf.sample)", key);
        return OMTP_EINVAL;
    }
    char *p = (char *)c + s->off;
    char *end;
    switch (s->kind) {
    case K_STR:
        if (strlen(value) >= s->size) {
            snprintf(why, whylen, "%s: value longer than %zu bytes", key, s->size - 1);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "s3_path_style") && strcasecmp(value, "auto") &&
            strcasecmp(value, "true") && strcasecmp(value, "false")) {
            snprintf(why, whylen, "%s: '%s' is not auto, true or false", key, value);
            return OMTP_EINVAL;
        }
        memcpy(p, value, strlen(value) + 1);
        return 0;
    case K_U32: {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || errno || v > UINT32_MAX || value[0] == '-') {
            snprintf(why, whylen, "%s: '%s' is not a number between 0 and %u", key, value,
                     UINT32_MAX);
            return OMTP_EINVAL;
        }
        if ((!strcmp(key, "req_rate") || !strcmp(key, "req_burst")) && v > OMTP_RL_MAX) {
            snprintf(why, whylen, "%s: '%s' is above the limit of %u", key, value, OMTP_RL_MAX);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "max_prelogin_frame") && v < 1024) {
            snprintf(why, whylen,
                     "%s: '%s' is too small for a LOGIN with a token: use at least 1024", key,
                     value);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "thumb_max_pixels") && v > OMTP_THUMB_PIXELS_HARD) {
            snprintf(why, whylen,
                     "%s: %llu is above the hard ceiling of %u pixels (no image that large is "
                     "ever decoded: a decompression bomb); 0 turns thumbnails off",
                     key, v, OMTP_THUMB_PIXELS_HARD);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "log_sync_delay_us") && v > 100000) {
            snprintf(why, whylen,
                     "%s: %llu is too long: at most 100000 (0.1 s; every ack waits up to this)",
                     key, v);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "apply_wait_ms") && v > 30000) {
            snprintf(why, whylen,
                     "%s: %llu is too long: at most 30000 (libomtp gives up on a send after 5-10 "
                     "s; a refusal it can retry is better than its timeout)",
                     key, v);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "apply_nice") && v > 19) {
            snprintf(why, whylen, "%s: %llu is out of range: 0..19 (a nice value)", key, v);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "dedup_window_s") && v < 600) {
            snprintf(why, whylen,
                     "%s: %llu is too short: at least 600 (a packId reused without the DUP flag "
                     "must be caught for 10 minutes)",
                     key, v);
            return OMTP_EINVAL;
        }
        if ((!strcmp(key, "dedup_window_max") || !strcmp(key, "seq_cache_max") ||
             !strcmp(key, "msg_cache_max")) &&
            v == 0) {
            snprintf(why, whylen, "%s: must be at least 1", key);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "http_nice") && v > 19) {
            snprintf(why, whylen,
                     "%s: %llu is not a nice increment: 1..19 (higher yields more), 0 = unchanged",
                     key, v);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "http_max_conns") && v == 0) {
            snprintf(why, whylen, "%s: must be at least 1 (turn the API off with http_listen =)",
                     key);
            return OMTP_EINVAL;
        }
        *(uint32_t *)(void *)p = (uint32_t)v;
        return 0;
    }
    case K_U64: {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || errno || value[0] == '-') {
            snprintf(why, whylen, "%s: '%s' is not a number of bytes (0 or more)", key, value);
            return OMTP_EINVAL;
        }
        *(uint64_t *)(void *)p = (uint64_t)v;
        return 0;
    }
    case K_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < -1000000 || v > 1000000) {
            snprintf(why, whylen, "%s: '%s' is not a number", key, value);
            return OMTP_EINVAL;
        }
        if (!strcmp(key, "sync_level") && v != 1 && v != 2) {
            snprintf(why, whylen,
                     "%s: '%s' is not allowed: use 2 (FULL, fsync each commit) or 1 "
                     "(NORMAL)",
                     key, value);
            return OMTP_EINVAL;
        }
        *(int *)(void *)p = (int)v;
        return 0;
    }
    case K_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") ||
            !strcasecmp(value, "on"))
            *(bool *)(void *)p = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") ||
                 !strcasecmp(value, "off"))
            *(bool *)(void *)p = false;
        else {
            snprintf(why, whylen, "%s: '%s' is not true or false", key, value);
            return OMTP_EINVAL;
        }
        return 0;
    case K_LFMT:
        if (!strcasecmp(value, "text"))
            *(int *)(void *)p = OMTP_LOG_TEXT;
        else if (!strcasecmp(value, "json"))
            *(int *)(void *)p = OMTP_LOG_JSON;
        else {
            snprintf(why, whylen, "%s: '%s' is not text or json", key, value);
            return OMTP_EINVAL;
        }
        return 0;
    case K_LEVEL: {
        int l = omtp_config_parse_level(value);
        if (l < 0) {
            snprintf(why, whylen, "%s: '%s' is not one of debug, info, warn, error", key, value);
            return OMTP_EINVAL;
        }
        *(int *)(void *)p = l;
        return 0;
    }
    }
    return OMTP_EINVAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int omtp_config_load(omtp_config *c, const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot open config file %s: %s", path, strerror(errno));
        return OMTP_EIO;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, whylen, "%s:%d: expected 'key = value'", path, lineno);
            rc = OMTP_EINVAL;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        char inner[256];
        if (omtp_config_set(c, key, val, inner, sizeof(inner))) {
            snprintf(why, whylen, "%s:%d: %s", path, lineno, inner);
            rc = OMTP_EINVAL;
            break;
        }
    }
    fclose(f);
    return rc;
}

int omtp_config_set_option(omtp_config *c, const char *opt, const char *value, char *why,
                           size_t whylen)
{
    char key[64];
    size_t n = strlen(opt);
    if (n >= sizeof(key)) {
        snprintf(why, whylen, "unknown option --%s (see omtpd --help)", opt);
        return OMTP_EINVAL;
    }
    for (size_t i = 0; i <= n; i++)
        key[i] = opt[i] == '-' ? '_' : opt[i];
    if (!find(key)) {
        const char *near = nearest_key(opt);
        char o2[64] = "";
        for (size_t i = 0; near && near[i] && i + 1 < sizeof(o2); i++)
            o2[i] = near[i] == '_' ? '-' : near[i], o2[i + 1] = 0;
        if (near)
            snprintf(why, whylen, "unknown option --%s: did you mean --%s? (see omtpd --help)", opt,
                     o2);
        else
            snprintf(why, whylen, "unknown option --%s (see omtpd --help)", opt);
        return OMTP_EINVAL;
    }
    return omtp_config_set(c, key, value, why, whylen);
}

void omtp_config_print_help(FILE *out)
{
    omtp_config d;
    omtp_config_defaults(&d);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char opt[64];
        size_t n = strlen(s->key);
        for (size_t j = 0; j <= n; j++)
            opt[j] = s->key[j] == '_' ? '-' : s->key[j];
        char dflt[64] = "";
        const char *p = (const char *)&d + s->off;
        switch (s->kind) {
        case K_STR:
            snprintf(dflt, sizeof(dflt), "%s", p[0] ? p : "");
            break;
        case K_U32:
            snprintf(dflt, sizeof(dflt), "%u", *(const uint32_t *)(const void *)p);
            break;
        case K_U64:
            snprintf(dflt, sizeof(dflt), "%llu",
                     (unsigned long long)*(const uint64_t *)(const void *)p);
            break;
        case K_INT:
            snprintf(dflt, sizeof(dflt), "%d", *(const int *)(const void *)p);
            break;
        case K_BOOL:
            snprintf(dflt, sizeof(dflt), "%s", *(const bool *)(const void *)p ? "true" : "false");
            break;
        case K_LEVEL:
            snprintf(dflt, sizeof(dflt), "info");
            break;
        case K_LFMT:
            snprintf(dflt, sizeof(dflt), "text");
            break;
        }
        fprintf(out, "  --%-22s %s%s%s%s\n", opt, s->help, dflt[0] ? " [" : "", dflt,
                dflt[0] ? "]" : "");
    }
}

bool omtp_config_reloadable(const char *key)
{
    for (size_t i = 0; i < sizeof(reloadable) / sizeof(reloadable[0]); i++)
        if (strcmp(reloadable[i], key) == 0)
            return true;
    return false;
}

static size_t value_size(const struct setting *s)
{
    switch (s->kind) {
    case K_STR:
        return s->size;
    case K_U32:
        return sizeof(uint32_t);
    case K_U64:
        return sizeof(uint64_t);
    case K_BOOL:
        return sizeof(bool);
    default:
        return sizeof(int);
    }
}

static bool same(const struct setting *s, const omtp_config *a, const omtp_config *b)
{
    const char *pa = (const char *)a + s->off, *pb = (const char *)b + s->off;
    if (s->kind == K_STR)
        return strcmp(pa, pb) == 0;
    return memcmp(pa, pb, value_size(s)) == 0;
}

int omtp_config_diff(const omtp_config *a, const omtp_config *b,
                     void (*fn)(void *arg, const char *key, bool reloadable), void *arg)
{
    int n = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (same(&settings[i], a, b))
            continue;
        n++;
        if (fn)
            fn(arg, settings[i].key, omtp_config_reloadable(settings[i].key));
    }
    return n;
}

void omtp_config_copy_reloadable(omtp_config *dst, const omtp_config *src)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (omtp_config_reloadable(s->key))
            memcpy((char *)dst + s->off, (const char *)src + s->off, value_size(s));
    }
}
