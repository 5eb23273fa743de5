/*
 * hook_receiver.c - the webhook test receiver (see hook_receiver.h).
 */
#include "hook_receiver.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_CAP (4 * 1024 * 1024)

struct hook_rx {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    char *record_path;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hook_rx_req *reqs;
    int n, cap;
    int status, delay_ms;
    char *resp;
    char *word;
    int word_status;
    char *word_resp;
};

typedef struct upload {
    char *p;
    size_t len, cap;
    bool too_big;
} upload;

static void record(hook_rx *r, struct MHD_Connection *conn, const char *url, upload *u)
{
    hook_rx_req q;
    memset(&q, 0, sizeof q);
    const char *ev = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Omtp-Event");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Omtp-Signature");
    snprintf(q.path, sizeof q.path, "%s", url);
    snprintf(q.event, sizeof q.event, "%s", ev ? ev : "");
    snprintf(q.signature, sizeof q.signature, "%s", sig ? sig : "");
    q.body = malloc(u->len + 1);
    if (!q.body)
        return;
    if (u->len)
        memcpy(q.body, u->p, u->len);
    q.body[u->len] = '\0';
    q.len = u->len;
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        hook_rx_req *nr = realloc(r->reqs, (size_t)cap * sizeof *nr);
        if (!nr) {
            pthread_mutex_unlock(&r->mu);
            free(q.body);
            return;
        }
        r->reqs = nr;
        r->cap = cap;
    }
    r->reqs[r->n++] = q;
    if (r->record_path) {
        FILE *f = fopen(r->record_path, "a");
        if (f) {
            fprintf(f, "{\"path\":\"%s\",\"event\":\"%s\",\"signature\":\"%s\",\"body\":%s}\n",
                    q.path, q.event, q.signature, q.len ? q.body : "null");
            fclose(f);
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    hook_rx *r = cls;
    upload *u = *con_cls;
    (void)method;
    (void)version;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size) {
        if (u->len + *data_size > BODY_CAP) {
            u->too_big = true;
        } else {
            if (u->len + *data_size + 1 > u->cap) {
                size_t cap = (u->len + *data_size + 1) * 2;
                char *np = realloc(u->p, cap);
                if (!np)
                    return MHD_NO;
                u->p = np;
                u->cap = cap;
            }
            memcpy(u->p + u->len, data, *data_size);
            u->len += *data_size;
        }
        *data_size = 0;
        return MHD_YES;
    }
    record(r, conn, url, u);

    pthread_mutex_lock(&r->mu);
    int status = r->status, delay = r->delay_ms;
    char *body = strdup(r->resp ? r->resp : "");
    if (r->word && u->len && memmem(u->p, u->len, r->word, strlen(r->word))) {
        status = r->word_status;
        free(body);
        body = strdup(r->word_resp ? r->word_resp : "");
    }
    pthread_mutex_unlock(&r->mu);
    if (!body)
        return MHD_NO;
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    upload *u = *con_cls;
    if (u) {
        free(u->p);
        free(u);
        *con_cls = NULL;
    }
}

static int listen_on(hook_rx *r, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG,
                            (uint16_t)port, NULL, NULL, on_request, r, MHD_OPTION_SOCK_ADDR, &a,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_NOTIFY_COMPLETED,
                            on_done, r, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!r->d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    r->port = info ? info->port : port;
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d", r->port);
    return 0;
}

hook_rx *hook_rx_start(int port, const char *record_path)
{
    hook_rx *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->status = 200;
    if (record_path)
        r->record_path = strdup(record_path);
    if (listen_on(r, port) != 0) {
        hook_rx_free(r);
        return NULL;
    }
    return r;
}

int hook_rx_port(const hook_rx *r)
{
    return r->port;
}

const char *hook_rx_url(const hook_rx *r)
{
    return r->url;
}

void hook_rx_stop(hook_rx *r)
{
    if (r && r->d) {
        MHD_stop_daemon(r->d);
        r->d = NULL;
    }
}

int hook_rx_restart(hook_rx *r)
{
    if (r->d)
        return 0;
    /* the port may linger for a moment after the stop */
    for (int i = 0; i < 50; i++) {
        if (listen_on(r, r->port) == 0)
            return 0;
        usleep(20000);
    }
    return -1;
}

void hook_rx_free(hook_rx *r)
{
    if (!r)
        return;
    hook_rx_stop(r);
    for (int i = 0; i < r->n; i++)
        free(r->reqs[i].body);
    free(r->reqs);
    free(r->resp);
    free(r->word);
    free(r->word_resp);
    free(r->record_path);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void hook_rx_respond(hook_rx *r, int status, int delay_ms, const char *body)
{
    pthread_mutex_lock(&r->mu);
    r->status = status;
    r->delay_ms = delay_ms;
    free(r->resp);
    r->resp = body ? strdup(body) : NULL;
    pthread_mutex_unlock(&r->mu);
}

void hook_rx_refuse_word(hook_rx *r, const char *word, int status, const char *body)
{
    pthread_mutex_lock(&r->mu);
    free(r->word);
    free(r->word_resp);
    r->word = word ? strdup(word) : NULL;
    r->word_resp = body ? strdup(body) : NULL;
    r->word_status = status;
    pthread_mutex_unlock(&r->mu);
}

int hook_rx_count(hook_rx *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

bool hook_rx_wait(hook_rx *r, int n, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->n < n)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) != 0)
            break;
    bool ok = r->n >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool hook_rx_get(hook_rx *r, int i, hook_rx_req *out)
{
    bool ok = false;
    pthread_mutex_lock(&r->mu);
    if (i >= 0 && i < r->n) {
        *out = r->reqs[i];
        out->body = malloc(r->reqs[i].len + 1);
        if (out->body) {
            memcpy(out->body, r->reqs[i].body, r->reqs[i].len + 1);
            ok = true;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool hook_rx_verify(const char *secret, const char *sig, const char *body, size_t len,
                    int max_age_s)
{
    long long t = 0;
    char hex[65];
    if (sscanf(sig, "t=%lld,sha256=%64[0-9a-f]", &t, hex) != 2 || strlen(hex) != 64)
        return false;
    if (max_age_s > 0 && llabs((long long)time(NULL) - t) > max_age_s)
        return false;
    /* the signed text is "<t>." followed by the body */
    char prefix[32];
    int pl = snprintf(prefix, sizeof prefix, "%lld.", t);
    size_t n = (size_t)pl + len;
    unsigned char *msg = malloc(n ? n : 1);
    if (!msg)
        return false;
    memcpy(msg, prefix, (size_t)pl);
    memcpy(msg + pl, body, len);
    unsigned char mac[32];
    unsigned int maclen = 0;
    bool ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n, mac, &maclen) != NULL;
    free(msg);
    if (!ok || maclen != 32)
        return false;
    char want[65];
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    return CRYPTO_memcmp(want, hex, 64) == 0;
}
