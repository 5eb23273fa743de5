/*
 * domain/sendorder.c - per (from, session) FIFO of sends on the log path
 * (sendorder.h).
 */
#include "domain/sendorder.h"

#include <stdlib.h>
#include <string.h>

#include "domain/strtab.h"
#include "proto/omtp_errors.h"

struct sendorder_key {
    strtab_node node; /* key = from NUL sessionId */
    sendorder_ticket *head, *tail;
    bool draining; /* inside leave's resume loop: the entry stays */
    char data[];
};

struct sendorder {
    strtab tab;
};

sendorder *sendorder_new(void)
{
    return calloc(1, sizeof(sendorder));
}

void sendorder_free(sendorder *o)
{
    if (!o)
        return;
    /* the tickets belong to sends: by now every one has left */
    for (size_t i = 0; i < o->tab.nb; i++) {
        strtab_node *n = o->tab.b[i];
        while (n) {
            strtab_node *next = n->next;
            free(n);
            n = next;
        }
    }
    strtab_free(&o->tab);
    free(o);
}

int sendorder_enter(sendorder *o, const tars_str *from, const tars_str *sid, sendorder_ticket *t)
{
    size_t klen = (size_t)from->len + 1 + sid->len;
    char stackbuf[512];
    char *buf = klen <= sizeof stackbuf ? stackbuf : malloc(klen);
    if (!buf)
        return OMTP_ENOMEM;
    memcpy(buf, from->data, from->len);
    buf[from->len] = 0;
    memcpy(buf + from->len + 1, sid->data, sid->len);
    sendorder_key *k = (sendorder_key *)strtab_find(&o->tab, buf, klen);
    if (!k) {
        k = calloc(1, sizeof *k + klen);
        if (!k) {
            if (buf != stackbuf)
                free(buf);
            return OMTP_ENOMEM;
        }
        memcpy(k->data, buf, klen);
        k->node.key = k->data;
        k->node.klen = klen;
        if (strtab_add(&o->tab, &k->node) != 0) {
            free(k);
            if (buf != stackbuf)
                free(buf);
            return OMTP_ENOMEM;
        }
    }
    if (buf != stackbuf)
        free(buf);
    t->next = NULL;
    t->parked = false;
    t->key = k;
    if (k->tail)
        k->tail->next = t;
    else
        k->head = t;
    k->tail = t;
    return 0;
}

bool sendorder_turn(sendorder_ticket *t)
{
    if (!t->key || t->key->head == t)
        return true;
    t->parked = true;
    return false;
}

static void unlink_ticket(sendorder_key *k, sendorder_ticket *t)
{
    sendorder_ticket **at = &k->head, *prev = NULL;
    while (*at && *at != t) {
        prev = *at;
        at = &(*at)->next;
    }
    if (!*at)
        return;
    *at = t->next;
    if (k->tail == t)
        k->tail = prev;
    t->next = NULL;
    t->key = NULL;
    t->parked = false;
}

void sendorder_leave(sendorder *o, sendorder_ticket *t)
{
    sendorder_key *k = t->key;
    if (!k)
        return;
    unlink_ticket(k, t);
    if (k->draining)
        return; /* the loop below resumes the next one */
    k->draining = true;
    /* a resumed ticket usually numbers and leaves at once (from inside its
     * resume): then the next parked one goes, in order, without recursion */
    while (k->head && k->head->parked) {
        sendorder_ticket *h = k->head;
        h->parked = false;
        h->resume(h);
    }
    k->draining = false;
    if (!k->head) {
        strtab_del(&o->tab, &k->node);
        free(k);
    }
}

size_t sendorder_count(const sendorder *o)
{
    return o->tab.n;
}
