/*
 * domain/sendorder.h - the order of one sender's messages to one session on
 * the message log's send path (domain/msg.c, docs/storage.md "Delivery
 * path").
 *
 * The store path numbers a sender's messages to a session in the order they
 * arrive (one store queue). On the log path a message may wait for a check
 * (a cache miss, a quoted message's read, a DUP lookup, a file check) while
 * a later one of the same sender does not: without this, the later one would
 * take the lower seqId. Each send takes a ticket at submit, keyed by
 * (from, sessionId), in arrival order; it may be numbered only when every
 * earlier ticket of its key has left (numbered, answered or refused). A
 * ticket that reaches its turn early is parked and resumed by the `leave`
 * that makes it the first.
 *
 * Memory: one entry per (from, session) with sends in flight, freed with
 * its last ticket. Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_SENDORDER_H
#define OMTP_DOMAIN_SENDORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "tars/tars.h"

typedef struct sendorder sendorder;
typedef struct sendorder_key sendorder_key;

typedef struct sendorder_ticket {
    struct sendorder_ticket *next;
    sendorder_key *key; /* NULL: not in any queue */
    bool parked;
    /* called (on the loop, from inside sendorder_leave) when a parked
     * ticket becomes the first of its key */
    void (*resume)(struct sendorder_ticket *t);
} sendorder_ticket;

sendorder *sendorder_new(void);
void sendorder_free(sendorder *o);
/* Queues t (t->resume set) last for (from, sid). 0 or OMTP_ENOMEM. */
int sendorder_enter(sendorder *o, const tars_str *from, const tars_str *sid, sendorder_ticket *t);
/* true when t is first of its key (or in no queue): number it now; false:
 * parked, t->resume runs when its turn comes. */
bool sendorder_turn(sendorder_ticket *t);
/* Takes t out of its queue (nothing when it is in none); resumes the next
 * ticket(s) that were parked. */
void sendorder_leave(sendorder *o, sendorder_ticket *t);
/* (from, session) entries with sends in flight. */
size_t sendorder_count(const sendorder *o);

#endif
