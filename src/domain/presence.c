/*
 * presence.c - live presence: who watches whom, the users' states and the
 * coalesced notices (domain/presence.h).
 *
 * Layout. Watched users are records in one array (`users`, found by id
 * through an open-addressing table of indices); subscribers are slots in
 * another (`subs`, found from the connection by c->presence_sub). A
 * subscription entry exists twice, 8 bytes each: on the user's side
 * {subscriber slot, position in the subscriber's list} and on the
 * subscriber's {user index, position in the user's list | PENDING}. The
 * back positions make removal O(1) (swap with the last entry, fix the moved
 * entry's partner), and a change of a user marks each watcher in O(1): set
 * PENDING on its entry, put the watcher on the dirty list once. A timer
 * sends the dirty watchers' notices, each at most once per
 * OMTP_PRESENCE_COALESCE_MS.
 *
 * Records of users are kept once made (they hold lastSeen): one per user
 * that was watched or seen online since start.
 *
 * Threading: loop thread only.
 */
#include "domain/presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "core/idlist.h"
#include "domain/typing.h"

#define PENDING 0x80000000u
#define NONE    UINT32_MAX

typedef struct pent {
    uint32_t a; /* user side: subscriber slot; subscriber side: user index */
    uint32_t b; /* position of the partner entry (subscriber side: | PENDING) */
} pent;

typedef struct puser {
    char *id;
    pent *subs;
    uint32_t nsubs, capsubs;
    int32_t devices;
    int64_t lastSeen;
    int16_t rdev, rfg; /* devices / foreground ones on other nodes (cluster) */
    bool online, hidden;
} puser;

typedef struct psub {
    omtp_conn *conn; /* NULL: free slot (next free in nwatch) */
    pent *watch;
    uint32_t nwatch, capwatch;
    int64_t last_sent;
    bool dirty;
} psub;

struct dom_presence {
    omtp_server *srv;
    puser *users;
    uint32_t nusers, capusers;
    uint32_t *slots; /* user index + 1, 0 = empty */
    uint32_t nslots;
    psub *subs;
    uint32_t nsubs, capsubs, free_sub; /* free_sub: NONE or a free slot */
    uint32_t *dirty;
    uint32_t ndirty, capdirty;
    uv_timer_t timer;
    int64_t timer_due; /* 0 = not armed */
    bool stopped;      /* the timer is closed (omtp_dom_presence_stop) */
    uint64_t entries, nsubscribers, notices;
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t es)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap : 4;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * es);
    if (!q)
        return OMTP_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* ------------------------------------------------------------ users */

static uint32_t user_find(struct dom_presence *p, const char *id)
{
    if (!p->nslots)
        return NONE;
    for (uint32_t i = hash_id(id) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
        uint32_t v = p->slots[i];
        if (!v)
            return NONE;
        if (!strcmp(p->users[v - 1].id, id))
            return v - 1;
    }
}

static int rehash(struct dom_presence *p, uint32_t nslots)
{
    uint32_t *s = calloc(nslots, sizeof(*s));
    if (!s)
        return OMTP_ENOMEM;
    for (uint32_t u = 0; u < p->nusers; u++) {
        uint32_t i = hash_id(p->users[u].id) & (nslots - 1);
        while (s[i])
            i = (i + 1) & (nslots - 1);
        s[i] = u + 1;
    }
    free(p->slots);
    p->slots = s;
    p->nslots = nslots;
    return 0;
}

static uint32_t user_get(struct dom_presence *p, const char *id)
{
    uint32_t u = user_find(p, id);
    if (u != NONE)
        return u;
    if ((p->nusers + 1) * 2 > p->nslots && rehash(p, p->nslots ? p->nslots * 2 : 1024))
        return NONE;
    if (grow((void **)&p->users, &p->capusers, p->nusers + 1, sizeof(puser)))
        return NONE;
    puser *r = &p->users[p->nusers];
    memset(r, 0, sizeof(*r));
    if (!(r->id = strdup(id)))
        return NONE;
    u = p->nusers++;
    uint32_t i = hash_id(id) & (p->nslots - 1);
    while (p->slots[i])
        i = (i + 1) & (p->nslots - 1);
    p->slots[i] = u + 1;
    return u;
}

/* Counts the user's devices now: this node's, plus what the cluster last
 * said of the other nodes (r->rdev, r->rfg). */
static void user_state(struct dom_presence *p, const puser *r, int32_t *devices, bool *online)
{
    int dev = r->rdev, fg = r->rfg;
    for (omtp_conn *c = omtp_presence_first(p->srv, r->id); c; c = c->next_device)
        if (c->state == OMTP_CONN_ONLINE) {
            dev++;
            fg += !c->background;
        }
    *devices = dev;
    *online = fg > 0;
}

static void fill_info(const struct dom_presence *p, const puser *r, omtp_PresenceInfo *pi)
{
    (void)p;
    pi->userId.data = r->id; /* borrowed */
    pi->userId.len = (uint32_t)strlen(r->id);
    pi->online = r->online;
    pi->devices = r->devices;
    pi->lastSeen = r->hidden ? 0 : r->online ? omtp_now_ms() : r->lastSeen;
}

/* ------------------------------------------------------------ notices */

static void timer_cb(uv_timer_t *t);

/* The timer fires on a TICK_MS grid: each firing walks the dirty list, so
 * firings are bounded (at most COALESCE/TICK per window), not one per
 * subscriber. A notice may come up to TICK_MS after its 250 ms. */
#define TICK_MS 25

static void arm(struct dom_presence *p, int64_t due)
{
    due = (due + TICK_MS - 1) / TICK_MS * TICK_MS;
    if (p->stopped || (p->timer_due && p->timer_due <= due))
        return;
    int64_t now = omtp_now_ms();
    p->timer_due = due;
    uv_timer_start(&p->timer, timer_cb, due > now ? (uint64_t)(due - now) : 0, 0);
}

static void send_notice(struct dom_presence *p, psub *sb)
{
    omtp_PresenceNotice n;
    omtp_msg_init(&omtp_PresenceNotice_desc, &n);
    omtp_PresenceInfo *items = calloc(sb->nwatch ? sb->nwatch : 1, sizeof(*items));
    if (!items)
        return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < sb->nwatch; i++) {
        if (!(sb->watch[i].b & PENDING))
            continue;
        sb->watch[i].b &= ~PENDING;
        fill_info(p, &p->users[sb->watch[i].a], &items[k++]);
    }
    if (k) {
        n.users.items = items;
        n.users.n = k;
        omtp_wire *w = omtp_wire_new(PT_PRESENCE, 0, NULL, &omtp_PresenceNotice_desc, &n);
        if (w) {
            omtp_conn_send_wire(sb->conn, w);
            omtp_wire_unref(w);
            p->notices++;
        }
    }
    free(items); /* the ids were borrowed */
}

static void timer_cb(uv_timer_t *t)
{
    struct dom_presence *p = t->data;
    p->timer_due = 0;
    int64_t now = omtp_now_ms(), next = 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < p->ndirty; i++) {
        psub *sb = &p->subs[p->dirty[i]];
        if (!sb->conn || !sb->dirty)
            continue; /* unsubscribed meanwhile */
        int64_t due = sb->last_sent + OMTP_PRESENCE_COALESCE_MS;
        if (due > now) {
            p->dirty[keep++] = p->dirty[i];
            if (!next || due < next)
                next = due;
            continue;
        }
        sb->dirty = false;
        sb->last_sent = now;
        send_notice(p, sb);
    }
    p->ndirty = keep;
    if (next)
        arm(p, next);
}

static void mark(struct dom_presence *p, uint32_t u)
{
    puser *r = &p->users[u];
    int64_t now = omtp_now_ms();
    for (uint32_t i = 0; i < r->nsubs; i++) {
        uint32_t si = r->subs[i].a;
        psub *sb = &p->subs[si];
        sb->watch[r->subs[i].b].b |= PENDING;
        if (sb->dirty)
            continue;
        if (grow((void **)&p->dirty, &p->capdirty, p->ndirty + 1, sizeof(uint32_t)))
            continue; /* out of memory: this change is not told */
        sb->dirty = true;
        p->dirty[p->ndirty++] = si;
        int64_t due = sb->last_sent + OMTP_PRESENCE_COALESCE_MS;
        arm(p, due > now ? due : now);
    }
}

/* Recomputes user u; marks its watchers when its state changed. */
static void refresh(struct dom_presence *p, uint32_t u)
{
    puser *r = &p->users[u];
    int32_t dev;
    bool on;
    user_state(p, r, &dev, &on);
    if (dev == r->devices && on == r->online)
        return;
    if (r->online || on)
        r->lastSeen = omtp_now_ms(); /* it was online until now, or is from now */
    r->devices = dev;
    r->online = on;
    mark(p, u);
}

void omtp_dom_presence_changed(omtp_server *s, const char *userId)
{
    struct dom_presence *p = s->presence;
    if (!p)
        return;
    uint32_t u = user_get(p, userId);
    if (u != NONE)
        refresh(p, u);
    omtp_cluster_presence_changed(s->cluster, userId); /* other nodes' watchers */
}

/* ------------------------------------------------------------ the cluster */

typedef struct rq {
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1];
} rq;

static void remote_got(void *arg, const int *devices, const int *foreground)
{
    rq *q = arg;
    struct dom_presence *p = q->srv->presence;
    uint32_t u = p ? user_find(p, q->userId) : NONE;
    if (u != NONE) {
        p->users[u].rdev = (int16_t)devices[0];
        p->users[u].rfg = (int16_t)foreground[0];
        refresh(p, u);
    }
    free(q);
}

void omtp_dom_presence_remote_changed(omtp_server *s, const char *userId)
{
    struct dom_presence *p = s->presence;
    uint32_t u = p ? user_find(p, userId) : NONE;
    if (u == NONE || !p->users[u].nsubs || p->stopped)
        return; /* nobody here watches: nothing to read */
    rq *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    q->srv = s;
    snprintf(q->userId, sizeof(q->userId), "%s", userId);
    tars_str one = {.data = q->userId, .len = (uint32_t)strlen(q->userId)};
    tars_str_list l = {.items = &one, .n = 1};
    if (omtp_cluster_remote_devices(s->cluster, &l, remote_got, q))
        free(q);
}

void omtp_dom_presence_hidden(omtp_server *s, const char *userId, bool hidden)
{
    struct dom_presence *p = s->presence;
    uint32_t u = p ? user_find(p, userId) : NONE;
    if (u == NONE || p->users[u].hidden == hidden)
        return;
    p->users[u].hidden = hidden;
    mark(p, u);
}

/* ------------------------------------------------------- subscriptions */

static void unsubscribe(struct dom_presence *p, omtp_conn *c)
{
    if (!c->presence_sub)
        return;
    uint32_t si = c->presence_sub - 1;
    psub *sb = &p->subs[si];
    for (uint32_t i = 0; i < sb->nwatch; i++) {
        puser *r = &p->users[sb->watch[i].a];
        uint32_t pos = sb->watch[i].b & ~PENDING;
        /* swap-remove the user's entry, fix the moved entry's partner */
        r->subs[pos] = r->subs[--r->nsubs];
        if (pos < r->nsubs) {
            pent *m = &r->subs[pos];
            pent *partner = &p->subs[m->a].watch[m->b & ~PENDING];
            partner->b = (partner->b & PENDING) | pos;
        }
    }
    p->entries -= sb->nwatch;
    free(sb->watch);
    memset(sb, 0, sizeof(*sb));
    sb->nwatch = p->free_sub; /* the free list */
    p->free_sub = si;
    c->presence_sub = 0;
    p->nsubscribers--;
}

static uint32_t sub_slot(struct dom_presence *p, omtp_conn *c)
{
    uint32_t si;
    if (p->free_sub != NONE) {
        si = p->free_sub;
        p->free_sub = p->subs[si].nwatch;
    } else {
        if (grow((void **)&p->subs, &p->capsubs, p->nsubs + 1, sizeof(psub)))
            return NONE;
        si = p->nsubs++;
    }
    psub *sb = &p->subs[si];
    memset(sb, 0, sizeof(*sb));
    sb->conn = c;
    c->presence_sub = si + 1;
    p->nsubscribers++;
    return si;
}

/* Adds the entry (subscriber si, user u). 0 or OMTP_ENOMEM. */
static int link_entry(struct dom_presence *p, uint32_t si, uint32_t u)
{
    psub *sb = &p->subs[si];
    puser *r = &p->users[u];
    if (grow((void **)&sb->watch, &sb->capwatch, sb->nwatch + 1, sizeof(pent)) ||
        grow((void **)&r->subs, &r->capsubs, r->nsubs + 1, sizeof(pent)))
        return OMTP_ENOMEM;
    sb->watch[sb->nwatch] = (pent){.a = u, .b = r->nsubs};
    r->subs[r->nsubs] = (pent){.a = si, .b = sb->nwatch};
    sb->nwatch++;
    r->nsubs++;
    p->entries++;
    return 0;
}

static void on_close(void *arg, omtp_conn *c)
{
    struct dom_presence *p = arg;
    unsubscribe(p, c);
    omtp_dom_presence_changed(p->srv, c->userId); /* c is CLOSING: not counted */
}

/* ------------------------------------------------------------ the request */

typedef struct sop {
    omtp_server *srv;
    omtp_conn *conn; /* referenced */
    char userId[OMTP_ID_MAX + 1];
    tars_str_list ids; /* normalised */
    uint8_t *flags;
    omtp_dom_presence_done cb;
    void *arg;
    omtp_dom_outcome res;
} sop;

static void sop_end(sop *o, omtp_PresenceInfo_list *users)
{
    omtp_PresenceInfo_list none = {0};
    o->cb(o->arg, &o->res, users ? users : &none);
    if (o->conn)
        omtp_conn_unref(o->conn);
    omtp_ids_free(&o->ids);
    free(o->flags);
    free(o);
}

static int sop_work(omtp_db *db, void *arg)
{
    sop *o = arg;
    return omtp_db_presence_visible(db, o->userId, &o->ids, o->flags);
}

static void sop_finish(sop *o, const int *rdev, const int *rfg);

static void sop_remote_got(void *arg, const int *devices, const int *foreground)
{
    sop_finish(arg, devices, foreground);
}

static void sop_done(void *arg, int status)
{
    sop *o = arg;
    struct dom_presence *p = o->srv->presence;
    if (status >= 0 && p && o->srv->cluster && omtp_conn_is_open(o->conn)) {
        /* the allowed users' devices on other nodes first */
        uint32_t k = 0;
        for (uint32_t i = 0; i < o->ids.n; i++) {
            if (!(o->flags[i] & OMTP_PRES_VISIBLE) && strcmp(o->ids.items[i].data, o->userId)) {
                tars_str_clear(&o->ids.items[i]); /* not allowed: left out */
                continue;
            }
            o->flags[k] = o->flags[i] | OMTP_PRES_VISIBLE;
            o->ids.items[k++] = o->ids.items[i];
        }
        o->ids.n = k;
        if (k && omtp_cluster_remote_devices(o->srv->cluster, &o->ids, sop_remote_got, o) == 0)
            return;
    }
    if (status < 0) {
        o->res.code = OMTP_EC_DB_ERROR;
        o->res.reason = "storage";
        o->res.err = status;
        snprintf(o->res.desc, sizeof(o->res.desc), "storage failed (%s), try again",
                 omtp_strerror(status));
        sop_end(o, NULL);
        return;
    }
    sop_finish(o, NULL, NULL);
}

/* Links the allowed users and answers; rdev/rfg: their devices on other
 * nodes (index of o->ids), NULL single-node or when the lookup failed. */
static void sop_finish(sop *o, const int *rdev, const int *rfg)
{
    struct dom_presence *p = o->srv->presence;
    if (!p || !omtp_conn_is_open(o->conn)) {
        sop_end(o, NULL); /* the answer goes nowhere; nothing subscribed */
        return;
    }
    unsubscribe(p, o->conn);
    omtp_PresenceInfo_list out = {0};
    out.items = calloc(o->ids.n ? o->ids.n : 1, sizeof(omtp_PresenceInfo));
    uint32_t si = out.items ? sub_slot(p, o->conn) : NONE;
    for (uint32_t i = 0; si != NONE && i < o->ids.n; i++) {
        const char *id = o->ids.items[i].data;
        if (!(o->flags[i] & OMTP_PRES_VISIBLE) && strcmp(id, o->userId) != 0)
            continue; /* not allowed: silently left out */
        uint32_t u = user_get(p, id);
        if (u == NONE || link_entry(p, si, u)) {
            si = NONE;
            break;
        }
        p->users[u].hidden = (o->flags[i] & OMTP_PRES_HIDDEN) != 0;
        if (rdev) {
            p->users[u].rdev = (int16_t)rdev[i];
            p->users[u].rfg = (int16_t)rfg[i];
        }
        refresh(p, u); /* may notify other watchers; this one is answered below */
        fill_info(p, &p->users[u], &out.items[out.n++]);
    }
    if (si == NONE) {
        unsubscribe(p, o->conn);
        o->res.code = OMTP_EC_SERVER_EXCEPTION;
        o->res.reason = "internal";
        snprintf(o->res.desc, sizeof(o->res.desc), "out of memory");
        out.n = 0;
    } else if (!out.n) {
        unsubscribe(p, o->conn); /* nobody to watch: no subscription kept */
    } else {
        /* the answer carries the current state: nothing is pending */
        psub *sb = &p->subs[si];
        for (uint32_t i = 0; i < sb->nwatch; i++)
            sb->watch[i].b &= ~PENDING;
        sb->dirty = false;
        sb->last_sent = omtp_now_ms();
    }
    sop_end(o, &out);
    free(out.items); /* ids borrowed */
}

void omtp_dom_presence_sub(omtp_server *s, const omtp_dom_caller *who, const tars_str_list *ids,
                           omtp_dom_presence_done cb, void *arg)
{
    sop *o = calloc(1, sizeof(*o));
    if (!o) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        omtp_PresenceInfo_list none = {0};
        cb(arg, &res, &none);
        return;
    }
    o->srv = s;
    o->cb = cb;
    o->arg = arg;
    if (who->role != OMTP_DOM_USER || !who->user || !who->conn || !s->presence) {
        o->res.code = OMTP_EC_PARAM;
        o->res.reason = "no_privilege";
        snprintf(o->res.desc, sizeof(o->res.desc), "presence is for logged-in connections");
        sop_end(o, NULL);
        return;
    }
    snprintf(o->userId, sizeof(o->userId), "%s", who->user);
    o->conn = who->conn;
    omtp_conn_ref(o->conn);
    uint32_t max = s->cfg->presence_max_subs;
    uint32_t n = ids ? ids->n : 0;
    if (n > max) {
        o->res.code = OMTP_EC_PARAM;
        o->res.reason = "invalid_field";
        snprintf(o->res.desc, sizeof(o->res.desc),
                 "%u user ids: at most %u may be watched per connection (presence_max_subs); "
                 "subscription unchanged",
                 n, max);
        sop_end(o, NULL);
        return;
    }
    char why[160];
    if (omtp_ids_normalize(ids, NULL, &o->ids, why, sizeof(why))) {
        o->res.code = OMTP_EC_PARAM;
        o->res.reason = "invalid_field";
        snprintf(o->res.desc, sizeof(o->res.desc), "%s; subscription unchanged", why);
        sop_end(o, NULL);
        return;
    }
    if (o->ids.n == 0) { /* empty: no subscription */
        unsubscribe(s->presence, o->conn);
        sop_end(o, NULL);
        return;
    }
    o->flags = calloc(o->ids.n, 1);
    int rc = o->flags ? omtp_store_submit(s->store, sop_work, sop_done, o) : OMTP_ENOMEM;
    if (rc) {
        o->res.code = OMTP_EC_SERVICE_UNAVAILABLE;
        o->res.reason = "unavailable";
        o->res.err = rc;
        snprintf(o->res.desc, sizeof(o->res.desc), "store unavailable: %s", omtp_strerror(rc));
        sop_end(o, NULL);
    }
}

/* --------------------------------------------------------- life cycle */

static char *metrics(void *arg)
{
    omtp_server *s = arg;
    omtp_presence_stats st;
    omtp_dom_presence_stats(s, &st);
    uint64_t relayed, dropped;
    omtp_dom_typing_stats(s, &relayed, &dropped);
    char *out = malloc(1024);
    if (!out)
        return NULL;
    snprintf(out, 1024,
             "# HELP omtp_presence_subscribers connections with a presence subscription\n"
             "# TYPE omtp_presence_subscribers gauge\nomtp_presence_subscribers %llu\n"
             "# HELP omtp_presence_entries presence subscription entries (watcher, watched)\n"
             "# TYPE omtp_presence_entries gauge\nomtp_presence_entries %llu\n"
             "# HELP omtp_presence_users users with a presence record\n"
             "# TYPE omtp_presence_users gauge\nomtp_presence_users %llu\n"
             "# HELP omtp_presence_bytes memory held by presence records and subscriptions\n"
             "# TYPE omtp_presence_bytes gauge\nomtp_presence_bytes %llu\n"
             "# HELP omtp_presence_notices_total PresenceNotice frames sent\n"
             "# TYPE omtp_presence_notices_total counter\nomtp_presence_notices_total %llu\n"
             "# HELP omtp_typing_relayed_total typing notices relayed (per request)\n"
             "# TYPE omtp_typing_relayed_total counter\nomtp_typing_relayed_total %llu\n"
             "# HELP omtp_typing_dropped_total typing requests dropped by the 1 per second rule\n"
             "# TYPE omtp_typing_dropped_total counter\nomtp_typing_dropped_total %llu\n",
             (unsigned long long)st.subscribers, (unsigned long long)st.entries,
             (unsigned long long)st.users, (unsigned long long)st.bytes,
             (unsigned long long)st.notices, (unsigned long long)relayed,
             (unsigned long long)dropped);
    return out;
}

int omtp_dom_presence_start(omtp_server *s)
{
    struct dom_presence *p = calloc(1, sizeof(*p));
    if (!p)
        return OMTP_ENOMEM;
    p->srv = s;
    p->free_sub = NONE;
    uv_timer_init(s->loop, &p->timer);
    uv_unref((uv_handle_t *)&p->timer); /* notices never keep the loop running */
    p->timer.data = p;
    int rc = omtp_server_on_close(s, on_close, p);
    if (!rc)
        rc = omtp_metrics_add_source(s, metrics, s);
    if (rc) {
        omtp_server_off_close(s, on_close, p);
        uv_close((uv_handle_t *)&p->timer, (uv_close_cb)free);
        return rc;
    }
    s->presence = p;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    (void)h;
}

void omtp_dom_presence_stop(omtp_server *s)
{
    struct dom_presence *p = s->presence;
    if (!p || p->stopped)
        return;
    p->stopped = true;
    uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static void timer_closed_free(uv_handle_t *h)
{
    free(h->data);
}

void omtp_dom_presence_free(omtp_server *s)
{
    struct dom_presence *p = s->presence;
    if (!p)
        return;
    omtp_server_off_close(s, on_close, p);
    for (uint32_t i = 0; i < p->nsubs; i++) {
        if (p->subs[i].conn)
            p->subs[i].conn->presence_sub = 0;
        free(p->subs[i].watch);
    }
    for (uint32_t u = 0; u < p->nusers; u++) {
        free(p->users[u].id);
        free(p->users[u].subs);
    }
    free(p->users);
    free(p->slots);
    free(p->subs);
    free(p->dirty);
    s->presence = NULL;
    if (p->stopped) {
        free(p); /* the timer closed while the loop ran */
    } else {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, timer_closed_free);
    }
}

void omtp_dom_presence_stats(omtp_server *s, omtp_presence_stats *out)
{
    memset(out, 0, sizeof(*out));
    struct dom_presence *p = s->presence;
    if (!p)
        return;
    out->users = p->nusers;
    out->subscribers = p->nsubscribers;
    out->entries = p->entries;
    out->notices = p->notices;
    uint64_t b = sizeof(*p) + (uint64_t)p->capusers * sizeof(puser) +
                 (uint64_t)p->nslots * sizeof(uint32_t) + (uint64_t)p->capsubs * sizeof(psub) +
                 (uint64_t)p->capdirty * sizeof(uint32_t);
    for (uint32_t u = 0; u < p->nusers; u++)
        b += strlen(p->users[u].id) + 1 + (uint64_t)p->users[u].capsubs * sizeof(pent);
    for (uint32_t i = 0; i < p->nsubs; i++)
        b += (uint64_t)p->subs[i].capwatch * sizeof(pent);
    out->bytes = b;
}
