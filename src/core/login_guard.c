/*
 * login_guard.c - per-account login backoff and known devices
 * (login_guard.h has the rules and their cost).
 */
#include "login_guard.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct lg_entry {
    uint64_t key;       /* keyed hash of the user id; 0 = empty */
    uint64_t last_fail; /* loop ms of the last failure */
    uint64_t next_ms;   /* the next password check may start then */
    uint32_t fails;     /* failures since the last success (or forgetting) */
    uint32_t pad;
};

struct omtp_login_guard {
    uint8_t hkey[32];
    uint32_t base_ms, max_ms;
    struct lg_entry acct[LG_SETS][LG_WAYS];
    uint64_t known[LG_KNOWN];
};

size_t omtp_login_guard_size(void)
{
    return sizeof(omtp_login_guard);
}

omtp_login_guard *omtp_login_guard_new(uint32_t base_ms, uint32_t max_ms)
{
    omtp_login_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (RAND_bytes(g->hkey, sizeof(g->hkey)) != 1) {
        free(g);
        return NULL;
    }
    g->base_ms = base_ms;
    g->max_ms = max_ms < base_ms ? base_ms : max_ms;
    return g;
}

void omtp_login_guard_free(omtp_login_guard *g)
{
    free(g);
}

/* Keyed hash of the parts (NUL-separated), never 0. */
static uint64_t khash(const omtp_login_guard *g, const char *a, int dt, const char *b)
{
    uint8_t mac[32];
    unsigned ml = sizeof(mac);
    char buf[512]; /* ids are at most 128 bytes; longer ones are cut at 200 */
    size_t la = strnlen(a, 200), lb = b ? strnlen(b, 200) : 0;
    size_t n = 0;
    memcpy(buf, a, la);
    n += la;
    buf[n++] = 0;
    buf[n++] = (char)dt;
    buf[n++] = 0;
    if (lb)
        memcpy(buf + n, b, lb);
    n += lb;
    HMAC(EVP_sha256(), g->hkey, sizeof(g->hkey), (const uint8_t *)buf, n, mac, &ml);
    uint64_t k;
    memcpy(&k, mac, sizeof(k));
    return k ? k : 1;
}

static uint64_t acct_key(const omtp_login_guard *g, const char *userId)
{
    return khash(g, userId, 0, NULL);
}

static bool forgotten(const struct lg_entry *e, uint64_t now)
{
    return e->fails == 0 || now - e->last_fail > LG_FORGET_MS;
}

static struct lg_entry *find(const omtp_login_guard *g, uint64_t key)
{
    struct lg_entry *set = (struct lg_entry *)g->acct[key % LG_SETS];
    for (int i = 0; i < LG_WAYS; i++)
        if (set[i].key == key)
            return &set[i];
    return NULL;
}

/* The entry for key, making one (evicting per login_guard.h) if needed. */
static struct lg_entry *slot(omtp_login_guard *g, uint64_t key, uint64_t now)
{
    struct lg_entry *e = find(g, key);
    if (e)
        return e;
    struct lg_entry *set = g->acct[key % LG_SETS], *victim = &set[0];
    for (int i = 0; i < LG_WAYS; i++) {
        struct lg_entry *c = &set[i];
        if (c->key == 0 || forgotten(c, now)) {
            victim = c;
            break;
        }
        if (c->fails < victim->fails ||
            (c->fails == victim->fails && c->last_fail < victim->last_fail))
            victim = c;
    }
    memset(victim, 0, sizeof(*victim));
    victim->key = key;
    return victim;
}

static uint32_t backoff(const omtp_login_guard *g, uint32_t fails)
{
    if (!fails || !g->base_ms)
        return 0;
    uint64_t d = g->base_ms;
    for (uint32_t i = 1; i < fails && d < g->max_ms; i++)
        d *= 2;
    return (uint32_t)(d > g->max_ms ? g->max_ms : d);
}

bool omtp_login_guard_known(const omtp_login_guard *g, const char *userId, int deviceType,
                            const char *deviceId)
{
    if (!deviceId || !deviceId[0])
        return false;
    uint64_t k = khash(g, userId, deviceType, deviceId);
    return g->known[k % LG_KNOWN] == k;
}

int omtp_login_guard_admit(omtp_login_guard *g, const char *userId, int deviceType,
                           const char *deviceId, uint64_t now, uint32_t max_wait_ms,
                           uint32_t *wait_ms)
{
    *wait_ms = 0;
    if (!g->base_ms || omtp_login_guard_known(g, userId, deviceType, deviceId))
        return OMTP_LG_GO;
    struct lg_entry *e = slot(g, acct_key(g, userId), now);
    if (e->fails && forgotten(e, now)) {
        e->fails = 0;
        e->next_ms = 0;
    }
    uint64_t start = e->next_ms > now ? e->next_ms : now;
    uint64_t wait = start - now;
    if (wait > g->max_ms || wait > max_wait_ms) {
        *wait_ms = (uint32_t)wait;
        return OMTP_LG_REFUSE;
    }
    /* reserve the slot: the next check of this account starts one backoff
     * later (at least base_ms, so parallel guesses at an account without
     * failures are spaced too) */
    uint32_t step = backoff(g, e->fails);
    e->next_ms = start + (step > g->base_ms ? step : g->base_ms);
    *wait_ms = (uint32_t)wait;
    return wait ? OMTP_LG_WAIT : OMTP_LG_GO;
}

void omtp_login_guard_failed(omtp_login_guard *g, const char *userId, uint64_t now)
{
    struct lg_entry *e = slot(g, acct_key(g, userId), now);
    if (e->fails && forgotten(e, now)) { /* old failures; keep live reservations */
        e->fails = 0;
        e->next_ms = 0;
    }
    if (e->fails < UINT32_MAX)
        e->fails++;
    e->last_fail = now;
    uint64_t next = now + backoff(g, e->fails);
    if (next > e->next_ms)
        e->next_ms = next;
}

void omtp_login_guard_succeeded(omtp_login_guard *g, const char *userId, int deviceType,
                                const char *deviceId, bool clear)
{
    struct lg_entry *e = clear ? find(g, acct_key(g, userId)) : NULL;
    if (e)
        memset(e, 0, sizeof(*e));
    if (deviceId && deviceId[0]) {
        uint64_t k = khash(g, userId, deviceType, deviceId);
        g->known[k % LG_KNOWN] = k;
    }
}

uint32_t omtp_login_guard_failures(const omtp_login_guard *g, const char *userId, uint64_t now)
{
    const struct lg_entry *e = find(g, acct_key(g, userId));
    return e && !forgotten(e, now) ? e->fails : 0;
}
