/*
 * webhook_worker.c - the webhook worker thread (see webhook_worker.h).
 *
 * Shared state (under w->mu): the inbox of checks and events, the done list
 * of finished checks, the counters, the stop flag. Everything else (the
 * curl multi handle, batches, the recipient map) belongs to the worker
 * thread alone. The loop only ever takes the mutex for a few pointer moves,
 * never across I/O.
 *
 * Worker round: move the inbox into worker-owned structures, enforce the
 * bound, start checks and every batch whose time came (window over or retry
 * due), run curl, collect finished transfers, then sleep in
 * curl_multi_poll() until a socket is ready, the next batch is due, or a
 * producer calls curl_multi_wakeup().
 */
#include "webhook_worker.h"

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/omtp_errors.h"
#include "core/server.h"

#define MAP_BUCKETS   4096
#define RESP_CAP      (64 * 1024) /* bytes of a check's answer kept */
#define SIG_HDR_MAX   128
#define DROP_LOG_MS   1000
#define POLL_IDLE_MS  1000
#define CHECK_DEFAULT 1000

/* Appends x (x->next already NULL) to the singly linked queue head..tail. */
#define QUEUE_APPEND(head, tail, x)                                                                \
    do {                                                                                           \
        if (tail)                                                                                  \
            (tail)->next = (x);                                                                    \
        else                                                                                       \
            (head) = (x);                                                                          \
        (tail) = (x);                                                                              \
    } while (0)

typedef struct hevent {
    struct hevent *next;
    char *recipient; /* set while in the inbox; NULL once in a batch */
    size_t len;
    char json[]; /* NUL-terminated */
} hevent;

enum { B_WAITING = 0, B_INFLIGHT = 1 };

typedef struct hbatch {
    struct hbatch *prev, *next; /* all batches, oldest first */
    struct hbatch *hnext;       /* map bucket chain (waiting batches only) */
    char *recipient;
    hevent *head, *tail;
    uint32_t n;
    int state;
    uint64_t due_ms;   /* waiting: when to send */
    uint32_t attempts; /* failed attempts so far */
    /* in flight */
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    hevent *sent; /* the events in flight (detached from head) */
    uint32_t nsent;
} hbatch;

typedef struct hcheck {
    struct hcheck *next;
    omtp_hookw_check_fn cb;
    void *arg;
    char *body;
    size_t len;
    uint64_t start_ns;
    CURL *easy;
    struct curl_slist *hdrs;
    /* result */
    int status;
    long http_status;
    char *resp;
    size_t resp_len, resp_cap;
    uint64_t elapsed_us;
} hcheck;

struct omtp_hookw {
    uv_loop_t *loop;
    uv_async_t async;
    pthread_t thread;
    bool thread_started;
    CURLM *multi;
    /* config (copies); the strings change on SIGHUP (omtp_hookw_set_urls):
     * the worker reads them under cfg_mu, the loop thread writes them */
    pthread_mutex_t cfg_mu;
    char *push_url, *check_url, *secret;
    uint32_t batch_ms, queue_max, push_timeout_ms, retry_min_ms, retry_max_ms, check_timeout_ms;

    pthread_mutex_t mu;
    bool stop;
    hevent *in_head, *in_tail; /* inbox events */
    uint32_t in_n;
    hcheck *cin_head, *cin_tail; /* inbox checks */
    hcheck *done_head, *done_tail;
    omtp_hookw_stats st;
    uint64_t dropped_unlogged, last_drop_log_ms;
    uint32_t batch_events_pub; /* worker's batch_events, published each round */

    /* worker-owned */
    hbatch *b_head, *b_tail;
    hbatch *map[MAP_BUCKETS];
    uint32_t batch_events; /* events in batches (waiting + in flight) */
    uint32_t inflight;
    hcheck *running; /* checks in flight */
    unsigned rnd;
};

/* ------------------------------------------------------------- helpers */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % MAP_BUCKETS;
}

static void events_free(hevent *e)
{
    while (e) {
        hevent *n = e->next;
        free(e->recipient);
        free(e);
        e = n;
    }
}

int omtp_hookw_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                    size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    char ts[32];
    int tl = snprintf(ts, sizeof ts, "%lld.", (long long)t);
    const char *key = secret ? secret : "";
    int ok = 0;
    /* HMAC-SHA256(secret, "<t>." || body), without copying the body */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (c && EVP_MAC_init(c, (const unsigned char *)key, strlen(key), params) &&
        EVP_MAC_update(c, (const unsigned char *)ts, (size_t)tl) &&
        EVP_MAC_update(c, (const unsigned char *)body, len) &&
        EVP_MAC_final(c, mac, &maclen, sizeof mac))
        ok = 1;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    if (!ok || maclen != 32)
        return OMTP_EINVAL;
    int n = snprintf(out, outlen, "t=%lld,sha256=", (long long)t);
    if (n < 0 || (size_t)n + 65 > outlen)
        return OMTP_EINVAL;
    for (size_t i = 0; i < maclen; i++)
        snprintf(out + n + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

/* Headers of one request: JSON, the event kind, the signature. */
static struct curl_slist *make_headers(omtp_hookw *w, const char *kind, const char *body,
                                       size_t len)
{
    char line[SIG_HDR_MAX + 32];
    struct curl_slist *h = NULL, *t;
    if (!(t = curl_slist_append(h, "Content-Type: application/json")))
        goto err;
    h = t;
    if (!(t = curl_slist_append(h, "Expect:"))) /* no 100-continue round trip */
        goto err;
    h = t;
    snprintf(line, sizeof line, "X-Omtp-Event: %s", kind);
    if (!(t = curl_slist_append(h, line)))
        goto err;
    h = t;
    pthread_mutex_lock(&w->cfg_mu);
    bool signed_ = w->secret[0] != '\0';
    char sig[SIG_HDR_MAX];
    int srx =
        signed_ ? omtp_hookw_sign(w->secret, (int64_t)time(NULL), body, len, sig, sizeof sig) : 0;
    pthread_mutex_unlock(&w->cfg_mu);
    if (signed_) {
        if (srx != 0)
            goto err;
        snprintf(line, sizeof line, "X-Omtp-Signature: %s", sig);
        if (!(t = curl_slist_append(h, line)))
            goto err;
        h = t;
    }
    return h;
err:
    curl_slist_free_all(h);
    return NULL;
}

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static size_t keep_body(char *p, size_t size, size_t n, void *arg)
{
    hcheck *c = arg;
    size_t len = size * n;
    size_t room = RESP_CAP - c->resp_len;
    size_t take = len < room ? len : room;
    if (take && c->resp_len + take + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap * 2 : 1024;
        while (cap < c->resp_len + take + 1)
            cap *= 2;
        char *np = realloc(c->resp, cap);
        if (!np)
            return 0; /* aborts the transfer: answered as a transport error */
        c->resp = np;
        c->resp_cap = cap;
    }
    if (take) {
        memcpy(c->resp + c->resp_len, p, take);
        c->resp_len += take;
        c->resp[c->resp_len] = '\0';
    }
    return len;
}

static CURL *make_easy(const char *url, struct curl_slist *hdrs, const char *body, size_t len,
                       uint32_t timeout_ms, void *priv)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, priv);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omtpd-webhook/1");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return e;
}

/* ------------------------------------------------------ worker: batches */

static hbatch *map_find(omtp_hookw *w, const char *r)
{
    for (hbatch *b = w->map[hash_str(r)]; b; b = b->hnext)
        if (strcmp(b->recipient, r) == 0)
            return b;
    return NULL;
}

static void map_del(omtp_hookw *w, hbatch *b)
{
    hbatch **p = &w->map[hash_str(b->recipient)];
    for (; *p; p = &(*p)->hnext)
        if (*p == b) {
            *p = b->hnext;
            b->hnext = NULL;
            return;
        }
}

static void map_put(omtp_hookw *w, hbatch *b)
{
    uint32_t h = hash_str(b->recipient);
    b->hnext = w->map[h];
    w->map[h] = b;
}

static void list_append(omtp_hookw *w, hbatch *b)
{
    b->prev = w->b_tail;
    if (w->b_tail)
        w->b_tail->next = b;
    else
        w->b_head = b;
    w->b_tail = b;
}

static void list_unlink(omtp_hookw *w, hbatch *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        w->b_head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        w->b_tail = b->prev;
    b->prev = b->next = NULL;
}

static void batch_free(hbatch *b)
{
    events_free(b->head);
    events_free(b->sent);
    curl_slist_free_all(b->hdrs);
    free(b->body);
    free(b->recipient);
    free(b);
}

/* Moves one inbox event into its recipient's waiting batch. */
static void batch_add(omtp_hookw *w, hevent *e, uint64_t now)
{
    hbatch *b = map_find(w, e->recipient);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) {
            LOG_ERROR("webhook: out of memory, push event for %s dropped", e->recipient);
            events_free(e);
            return;
        }
        b->recipient = e->recipient;
        e->recipient = NULL;
        b->due_ms = now + w->batch_ms;
        list_append(w, b);
        map_put(w, b);
    } else {
        free(e->recipient);
        e->recipient = NULL;
    }
    e->next = NULL;
    QUEUE_APPEND(b->head, b->tail, e);
    b->n++;
    w->batch_events++;
    if (b->n >= OMTP_HOOKW_BATCH_MAX && b->attempts == 0)
        b->due_ms = now; /* full: no reason to wait for the window */
}

static void note_drops(omtp_hookw *w, uint64_t n, uint64_t now)
{
    /* caller holds w->mu */
    w->st.events_dropped += n;
    w->dropped_unlogged += n;
    if (now - w->last_drop_log_ms >= DROP_LOG_MS) {
        LOG_WARN("webhook: push queue full (%u events): dropped the %llu oldest event(s) "
                 "(%llu in total); is %s down?",
                 w->queue_max, (unsigned long long)w->dropped_unlogged,
                 (unsigned long long)w->st.events_dropped, w->push_url);
        w->dropped_unlogged = 0;
        w->last_drop_log_ms = now;
    }
}

/* Drops the oldest waiting events until the bound holds. */
static void enforce_bound(omtp_hookw *w, uint64_t now)
{
    uint64_t dropped = 0;
    hbatch *b = w->b_head;
    while (w->batch_events > w->queue_max && b) {
        if (b->state != B_WAITING || !b->head) {
            b = b->next;
            continue;
        }
        hevent *e = b->head;
        b->head = e->next;
        if (!b->head)
            b->tail = NULL;
        e->next = NULL;
        events_free(e);
        b->n--;
        w->batch_events--;
        dropped++;
        if (b->n == 0) {
            hbatch *next = b->next;
            map_del(w, b);
            list_unlink(w, b);
            batch_free(b);
            b = next;
        }
    }
    if (dropped) {
        pthread_mutex_lock(&w->mu);
        w->batch_events_pub = w->batch_events;
        note_drops(w, dropped, now);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Starts the POST of a due batch (up to BATCH_MAX of its events). */
static void batch_send(omtp_hookw *w, hbatch *b)
{
    size_t len = 2;
    uint32_t k = 0;
    hevent *e = b->head, *last = NULL;
    for (; e && k < OMTP_HOOKW_BATCH_MAX; e = e->next, k++) {
        len += e->len + 1;
        last = e;
    }
    char *body = malloc(len + 1);
    if (!body)
        return; /* retried next round */
    size_t o = 0;
    body[o++] = '[';
    for (e = b->head; e; e = e->next) {
        if (o > 1)
            body[o++] = ',';
        memcpy(body + o, e->json, e->len);
        o += e->len;
        if (e == last)
            break;
    }
    body[o++] = ']';
    body[o] = '\0';
    struct curl_slist *h = make_headers(w, "offline_push", body, o);
    pthread_mutex_lock(&w->cfg_mu); /* curl copies the URL */
    CURL *easy = h ? make_easy(w->push_url, h, body, o, w->push_timeout_ms, b) : NULL;
    pthread_mutex_unlock(&w->cfg_mu);
    if (!easy || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK ||
        curl_multi_add_handle(w->multi, easy) != CURLM_OK) {
        if (easy)
            curl_easy_cleanup(easy);
        curl_slist_free_all(h);
        free(body);
        return;
    }
    /* detach the events being sent; the rest keeps waiting in a new batch */
    b->sent = b->head;
    b->nsent = k;
    b->head = last->next;
    last->next = NULL;
    b->n -= k;
    if (!b->head)
        b->tail = NULL;
    b->easy = easy;
    b->hdrs = h;
    b->body = body;
    b->state = B_INFLIGHT;
    map_del(w, b);
    w->inflight++;
    if (b->head) {
        /* leftovers beyond BATCH_MAX: a new waiting batch, due now */
        hbatch *r = calloc(1, sizeof *r);
        if (r && (r->recipient = strdup(b->recipient))) {
            r->head = b->head;
            r->tail = b->tail;
            r->n = b->n;
            r->due_ms = 0;
            b->head = b->tail = NULL;
            b->n = 0;
            list_append(w, r);
            map_put(w, r);
        } else {
            free(r);
        }
    }
}

/* A push POST finished. ok: answered 2xx. */
static void batch_finished(omtp_hookw *w, hbatch *b, bool ok, const char *why, uint64_t now)
{
    curl_multi_remove_handle(w->multi, b->easy);
    curl_easy_cleanup(b->easy);
    b->easy = NULL;
    curl_slist_free_all(b->hdrs);
    b->hdrs = NULL;
    free(b->body);
    b->body = NULL;
    w->inflight--;
    if (ok)
        w->batch_events -= b->nsent;
    pthread_mutex_lock(&w->mu);
    if (ok) {
        w->st.posts_ok++;
        w->st.events_delivered += b->nsent;
    } else {
        w->st.posts_failed++;
    }
    w->batch_events_pub = w->batch_events; /* consistent with events_delivered */
    pthread_mutex_unlock(&w->mu);

    if (ok) {
        events_free(b->sent);
        b->sent = NULL;
        b->nsent = 0;
        if (b->n == 0) {
            list_unlink(w, b);
            batch_free(b);
            return;
        }
        /* unsent leftovers (send failed to split): wait again */
        b->state = B_WAITING;
        b->attempts = 0;
        b->due_ms = now;
        if (!map_find(w, b->recipient))
            map_put(w, b);
        return;
    }

    /* failed: put the sent events back in front, schedule a retry */
    uint64_t delay = w->retry_min_ms;
    for (uint32_t i = 0; i < b->attempts && delay < w->retry_max_ms; i++)
        delay *= 2;
    if (delay > w->retry_max_ms)
        delay = w->retry_max_ms;
    delay += (uint64_t)(rand_r(&w->rnd) % (delay / 4 + 1));
    b->attempts++;
    if (b->attempts == 1 || b->attempts % 10 == 0)
        LOG_WARN("webhook: offline push for %s failed (%s), attempt %u; retrying in %llu ms",
                 b->recipient, why, b->attempts, (unsigned long long)delay);
    /* chain = the sent events, then any leftovers of b, in order */
    hevent *chain = b->sent, *chain_tail = b->sent;
    uint32_t total = b->nsent + b->n;
    while (chain_tail->next)
        chain_tail = chain_tail->next;
    if (b->head) {
        chain_tail->next = b->head;
        chain_tail = b->tail;
    }
    b->sent = b->head = b->tail = NULL;
    b->nsent = b->n = 0;
    hbatch *newer = map_find(w, b->recipient);
    if (newer) { /* events arrived meanwhile: they go after the failed ones */
        chain_tail->next = newer->head;
        newer->head = chain;
        if (!newer->tail)
            newer->tail = chain_tail;
        newer->n += total;
        newer->attempts = b->attempts;
        if (newer->due_ms < now + delay)
            newer->due_ms = now + delay;
        list_unlink(w, b);
        batch_free(b);
    } else {
        b->head = chain;
        b->tail = chain_tail;
        b->n = total;
        b->state = B_WAITING;
        b->due_ms = now + delay;
        map_put(w, b);
    }
}

/* ------------------------------------------------------- worker: checks */

static void check_post_done(omtp_hookw *w, hcheck *c)
{
    c->elapsed_us = (mono_ns() - c->start_ns) / 1000u;
    pthread_mutex_lock(&w->mu);
    if (c->status == 0)
        w->st.checks_done++;
    else
        w->st.checks_failed++;
    c->next = NULL;
    QUEUE_APPEND(w->done_head, w->done_tail, c);
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

static void check_start(omtp_hookw *w, hcheck *c)
{
    c->hdrs = make_headers(w, "before_send", c->body, c->len);
    pthread_mutex_lock(&w->cfg_mu); /* curl copies the URL */
    c->easy =
        c->hdrs ? make_easy(w->check_url, c->hdrs, c->body, c->len, w->check_timeout_ms, c) : NULL;
    pthread_mutex_unlock(&w->cfg_mu);
    if (!c->easy || curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, keep_body) != CURLE_OK ||
        curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_multi_add_handle(w->multi, c->easy) != CURLM_OK) {
        if (c->easy)
            curl_easy_cleanup(c->easy);
        c->easy = NULL;
        c->status = OMTP_EIO;
        check_post_done(w, c);
        return;
    }
    c->next = w->running;
    w->running = c;
}

static void check_finished(omtp_hookw *w, hcheck *c, CURLcode res)
{
    hcheck **p = &w->running;
    for (; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (res == CURLE_OK) {
        c->status = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->http_status);
    } else {
        c->status = res == CURLE_OPERATION_TIMEDOUT ? OMTP_ETIMEDOUT : OMTP_EIO;
    }
    curl_multi_remove_handle(w->multi, c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    check_post_done(w, c);
}

static void check_free(hcheck *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->hdrs);
    free(c->body);
    free(c->resp);
    free(c);
}

/* ------------------------------------------------------- worker thread */

static void *worker_main(void *arg)
{
    omtp_hookw *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop;
        hevent *ev = w->in_head;
        hcheck *cs = w->cin_head;
        w->in_head = w->in_tail = NULL;
        w->batch_events_pub += w->in_n; /* in transit: still waiting, for the gauge */
        w->in_n = 0;
        w->cin_head = w->cin_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        if (stop) {
            events_free(ev);
            while (cs) { /* answered by omtp_hookw_stop on the loop */
                hcheck *n = cs->next;
                cs->status = OMTP_ECLOSED;
                check_post_done(w, cs);
                cs = n;
            }
            break;
        }
        uint64_t now = mono_ms();
        while (ev) {
            hevent *n = ev->next;
            batch_add(w, ev, now);
            ev = n;
        }
        enforce_bound(w, now);
        while (cs) {
            hcheck *n = cs->next;
            check_start(w, cs);
            cs = n;
        }
        for (hbatch *b = w->b_head, *next; b && w->inflight < OMTP_HOOKW_MAX_INFLIGHT; b = next) {
            next = b->next;
            if (b->state == B_WAITING && b->head && b->due_ms <= now)
                batch_send(w, b);
        }

        int running = 0;
        curl_multi_perform(w->multi, &running);
        CURLMsg *m;
        int left;
        now = mono_ms();
        while ((m = curl_multi_info_read(w->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            void *priv = NULL;
            CURLcode res = m->data.result;
            CURL *easy = m->easy_handle;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&priv);
            bool is_check = false;
            for (hcheck *c = w->running; c; c = c->next)
                if ((void *)c == priv) {
                    is_check = true;
                    break;
                }
            if (is_check) {
                check_finished(w, priv, res);
            } else {
                hbatch *b = priv;
                long code = 0;
                char why[96];
                if (res == CURLE_OK) {
                    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                    snprintf(why, sizeof why, "HTTP %ld", code);
                } else {
                    snprintf(why, sizeof why, "%s", curl_easy_strerror(res));
                }
                batch_finished(w, b, res == CURLE_OK && code >= 200 && code < 300, why, now);
            }
        }

        pthread_mutex_lock(&w->mu);
        w->batch_events_pub = w->batch_events;
        pthread_mutex_unlock(&w->mu);

        /* sleep until a socket, the next due batch, or a wakeup */
        uint64_t wait = POLL_IDLE_MS;
        if (w->inflight < OMTP_HOOKW_MAX_INFLIGHT)
            for (hbatch *b = w->b_head; b; b = b->next)
                if (b->state == B_WAITING && b->head) {
                    uint64_t d = b->due_ms > now ? b->due_ms - now : 0;
                    if (d < wait)
                        wait = d;
                }
        long ct = -1;
        if (curl_multi_timeout(w->multi, &ct) == CURLM_OK && ct >= 0 && (uint64_t)ct < wait)
            wait = (uint64_t)ct;
        curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

/* ------------------------------------------------------------ loop side */

static void on_async(uv_async_t *a)
{
    omtp_hookw *w = a->data;
    pthread_mutex_lock(&w->mu);
    hcheck *c = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (c) {
        hcheck *n = c->next;
        c->cb(c->arg, c->status, c->http_status, c->resp ? c->resp : "", c->resp_len,
              c->elapsed_us);
        check_free(c);
        c = n;
    }
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int omtp_hookw_start(uv_loop_t *loop, const omtp_hookw_config *cfg, omtp_hookw **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    omtp_hookw *w = calloc(1, sizeof *w);
    if (!w)
        return OMTP_ENOMEM;
    w->loop = loop;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->cfg_mu, NULL);
    w->async.data = NULL;
    w->push_url = dup_or_empty(cfg->push_url);
    w->check_url = dup_or_empty(cfg->check_url);
    w->secret = dup_or_empty(cfg->secret);
    if (!w->push_url || !w->check_url || !w->secret)
        goto err;
    w->batch_ms = cfg->batch_ms;
    w->queue_max = cfg->queue_max ? cfg->queue_max : 10000;
    w->push_timeout_ms = cfg->push_timeout_ms ? cfg->push_timeout_ms : 10000;
    w->retry_min_ms = cfg->retry_min_ms ? cfg->retry_min_ms : 500;
    w->retry_max_ms = cfg->retry_max_ms ? cfg->retry_max_ms : 30000;
    if (w->retry_max_ms < w->retry_min_ms)
        w->retry_max_ms = w->retry_min_ms;
    w->check_timeout_ms = cfg->check_timeout_ms ? cfg->check_timeout_ms : CHECK_DEFAULT;
    w->rnd = (unsigned)mono_ns();
    w->multi = curl_multi_init();
    if (!w->multi)
        goto err;
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        goto err;
    w->thread_started = true;
    if (uv_async_init(loop, &w->async, on_async) != 0) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_mutex_unlock(&w->mu);
        curl_multi_wakeup(w->multi);
        pthread_join(w->thread, NULL);
        goto err;
    }
    w->async.data = w;
    *out = w;
    return 0;
err:
    if (w->multi)
        curl_multi_cleanup(w->multi);
    free(w->push_url);
    free(w->check_url);
    free(w->secret);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->cfg_mu);
    free(w);
    return OMTP_ENOMEM;
}

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

void omtp_hookw_stop(omtp_hookw *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    if (w->thread_started)
        pthread_join(w->thread, NULL);

    /* checks in flight: abandoned, answered ECLOSED */
    while (w->running) {
        hcheck *c = w->running;
        w->running = c->next;
        curl_multi_remove_handle(w->multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        c->status = OMTP_ECLOSED;
        c->next = NULL;
        QUEUE_APPEND(w->done_head, w->done_tail, c);
    }
    on_async(&w->async); /* every finished check's callback, now */

    uint64_t lost = w->batch_events;
    for (hbatch *b = w->b_head, *n; b; b = n) {
        n = b->next;
        if (b->easy) {
            curl_multi_remove_handle(w->multi, b->easy);
            curl_easy_cleanup(b->easy);
            b->easy = NULL;
        }
        batch_free(b);
    }
    if (lost)
        LOG_WARN("webhook: stopping with %llu offline push event(s) not delivered",
                 (unsigned long long)lost);
    curl_multi_cleanup(w->multi);
    free(w->push_url);
    free(w->check_url);
    free(w->secret);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->cfg_mu);
    /* the async handle is embedded: free w once it closed */
    w->async.data = w;
    uv_close((uv_handle_t *)&w->async, on_async_closed);
}

int omtp_hookw_check(omtp_hookw *w, const char *body, size_t len, omtp_hookw_check_fn cb, void *arg)
{
    if (!w || !w->check_url[0] || !cb)
        return OMTP_EINVAL;
    hcheck *c = calloc(1, sizeof *c);
    if (!c)
        return OMTP_ENOMEM;
    c->body = malloc(len + 1);
    if (!c->body) {
        free(c);
        return OMTP_ENOMEM;
    }
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    c->cb = cb;
    c->arg = arg;
    c->start_ns = mono_ns();
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        check_free(c);
        return OMTP_ECLOSED;
    }
    QUEUE_APPEND(w->cin_head, w->cin_tail, c);
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    return 0;
}

int omtp_hookw_push(omtp_hookw *w, const char *recipient, const char *json, size_t len)
{
    if (!w || !w->push_url[0] || !recipient)
        return OMTP_EINVAL;
    hevent *e = malloc(sizeof *e + len + 1);
    if (!e)
        return OMTP_ENOMEM;
    e->next = NULL;
    e->len = len;
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    if (!(e->recipient = strdup(recipient))) {
        free(e);
        return OMTP_ENOMEM;
    }
    hevent *drop = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        events_free(e);
        return OMTP_ECLOSED;
    }
    QUEUE_APPEND(w->in_head, w->in_tail, e);
    w->in_n++;
    if (w->in_n > w->queue_max) { /* the worker is behind: bound the inbox too */
        drop = w->in_head;
        w->in_head = drop->next;
        drop->next = NULL;
        w->in_n--;
        note_drops(w, 1, mono_ms());
    }
    pthread_mutex_unlock(&w->mu);
    events_free(drop);
    curl_multi_wakeup(w->multi);
    return 0;
}

void omtp_hookw_stats_get(omtp_hookw *w, omtp_hookw_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->events_waiting = w->in_n + w->batch_events_pub;
    pthread_mutex_unlock(&w->mu);
}

int omtp_hookw_set_urls(omtp_hookw *w, const char *push_url, const char *check_url,
                        const char *secret)
{
    char *p = dup_or_empty(push_url), *c = dup_or_empty(check_url), *k = dup_or_empty(secret);
    if (!p || !c || !k) {
        free(p);
        free(c);
        free(k);
        return OMTP_ENOMEM;
    }
    pthread_mutex_lock(&w->cfg_mu);
    char *op = w->push_url, *oc = w->check_url, *ok = w->secret;
    w->push_url = p;
    w->check_url = c;
    w->secret = k;
    pthread_mutex_unlock(&w->cfg_mu);
    free(op);
    free(oc);
    if (ok) {
        OPENSSL_cleanse(ok, strlen(ok));
        free(ok);
    }
    return 0;
}
