/*
 * files_pins.c - pinned and claimed hashes of the file store
 * (domain/files_pins.h): a small array under one mutex; a condition
 * variable wakes pins waiting for a claim to go.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/files_pins.h"
#include "proto/omtp_errors.h"
#include "util/log.h"

typedef struct pin_ent {
    char sha[65];
    int pins;
    bool claimed;
} pin_ent;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static pin_ent *ents;
static size_t nents, capents;

static void cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
}

/* Under mu. */
static pin_ent *find(const char *sha)
{
    for (size_t i = 0; i < nents; i++)
        if (strcmp(ents[i].sha, sha) == 0)
            return &ents[i];
    return NULL;
}

/* Under mu: the entry of sha, made if absent; NULL without memory. */
static pin_ent *get(const char *sha)
{
    pin_ent *e = find(sha);
    if (e)
        return e;
    if (nents == capents) {
        size_t cap = capents ? 2 * capents : 16;
        pin_ent *n = realloc(ents, cap * sizeof(*n));
        if (!n)
            return NULL;
        ents = n;
        capents = cap;
    }
    e = &ents[nents++];
    memset(e, 0, sizeof(*e));
    strncpy(e->sha, sha, sizeof(e->sha) - 1);
    return e;
}

/* Under mu: drops an entry nobody holds. */
static void tidy(pin_ent *e)
{
    if (e->pins == 0 && !e->claimed)
        *e = ents[--nents];
}

int omtp_files_pin(const char *sha)
{
    if (!sha || !sha[0])
        return 0;
    pthread_once(&cv_once, cv_init);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += OMTP_PIN_WAIT_MS / 1000;
    pthread_mutex_lock(&mu);
    pin_ent *e;
    while ((e = find(sha)) && e->claimed)
        if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            LOG_WARN("files: bytes %s stayed in deletion for %d ms: the upload that shares "
                     "them failed (the client may retry)",
                     sha, OMTP_PIN_WAIT_MS);
            return OMTP_EIO;
        }
    e = get(sha);
    if (e)
        e->pins++;
    pthread_mutex_unlock(&mu);
    return e ? 0 : OMTP_ENOMEM;
}

void omtp_files_unpin(const char *sha)
{
    if (!sha || !sha[0])
        return;
    pthread_mutex_lock(&mu);
    pin_ent *e = find(sha);
    if (e && e->pins > 0) {
        e->pins--;
        tidy(e);
    }
    pthread_mutex_unlock(&mu);
}

bool omtp_files_delete_claim(const char *sha, int own)
{
    if (!sha || !sha[0])
        return false;
    pthread_mutex_lock(&mu);
    pin_ent *e = get(sha);
    bool ok = e && !e->claimed && e->pins <= own;
    if (ok)
        e->claimed = true;
    else if (e)
        tidy(e);
    pthread_mutex_unlock(&mu);
    return ok;
}

void omtp_files_delete_release(const char *sha)
{
    if (!sha || !sha[0])
        return;
    pthread_once(&cv_once, cv_init);
    pthread_mutex_lock(&mu);
    pin_ent *e = find(sha);
    if (e && e->claimed) {
        e->claimed = false;
        tidy(e);
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int omtp_files_pins_of(const char *sha)
{
    pthread_mutex_lock(&mu);
    pin_ent *e = find(sha);
    int n = e ? e->pins : 0;
    pthread_mutex_unlock(&mu);
    return n;
}
