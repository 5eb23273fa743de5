/*
 * dom_fixture.h - a real omtpd core for domain tests (tests/domain): SQLite
 * in a temporary directory, a real loop, the OMTP listener on a free port
 * (no client connects), no HTTP API. Header-only, for the test executables.
 */
#ifndef OMTP_TEST_DOM_FIXTURE_H
#define OMTP_TEST_DOM_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "domain/check_cache.h"
#include "domain/group_state.h"
#include "domain/msgpath.h"

typedef struct dom_fixture {
    char dir[64];
    uv_loop_t loop;
    omtp_config cfg;
    omtp_server srv;
} dom_fixture;

static void dom_on_timeout(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until *done (at most 10 s); false on time-out. */
static bool dom_wait(dom_fixture *f, const bool *done)
{
    bool late = false;
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    t.data = &late;
    uv_timer_start(&t, dom_on_timeout, 10000, 0);
    while (!*done && !late)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *done;
}

static int dom_users_work(omtp_db *db, void *arg)
{
    for (const char *const *id = arg; *id; id++) {
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        int rc = tars_str_set(&u.userId, *id);
        if (rc == 0)
            rc = omtp_db_user_create(db, &u);
        omtp_user_rec_free(&u);
        if (rc)
            return rc;
    }
    return 0;
}

static bool dom_users_done_flag;
static int dom_users_status;
static void dom_users_done(void *arg, int status)
{
    (void)arg;
    dom_users_status = status;
    dom_users_done_flag = true;
}

static void dom_groups_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_groups_close(s);
}

static void dom_check_cache_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_cc_close(s);
}

static int dom_msgpath_start(omtp_server *s, char *why, size_t whylen)
{
    return omtp_msgpath_start(s, why, whylen); /* nothing when message_log is false */
}

static void dom_msgpath_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_stop(s);
}

static void dom_msgpath_close(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_close(s);
}

/* What of omtpd's wiring (src/omtpd/wiring.c) the domain needs here: the
 * message log (when OMTP_DOM_MESSAGE_LOG is set: dom_start), the group
 * member cache and the check caches, closed with the server. No listeners'
 * handlers. */
static const omtp_server_part dom_parts[] = {
    {.name = "message log",
     .start_at = OMTP_START_STORE,
     .start = dom_msgpath_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = dom_msgpath_stop,
     .free = omtp_msgpath_close},
    {.name = "message log close", .stop_at = OMTP_STOP_AFTER_STORE, .stop = dom_msgpath_close},
    {.name = "group state",
     .start_at = OMTP_START_LAST,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = dom_groups_stop},
    {.name = "check caches",
     .start_at = OMTP_START_LAST,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = dom_check_cache_stop},
};

/* Starts the core; `users` (NULL-terminated) are created. NULL on failure. */
static dom_fixture *dom_start(const char *const *users)
{
    dom_fixture *f = calloc(1, sizeof(*f));
    char why[256];
    if (!f)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "/tmp/omtp-dom-XXXXXX");
    if (!mkdtemp(f->dir) || uv_loop_init(&f->loop))
        return NULL;
    omtp_config_defaults(&f->cfg);
    /* a fixture parameter: the same tests on the message log's path
     * (tests/CMakeLists.txt, test_dom_*_on_log) */
    f->cfg.message_log = getenv("OMTP_DOM_MESSAGE_LOG") != NULL;
    if (omtp_config_set(&f->cfg, "data_dir", f->dir, why, sizeof(why)) ||
        omtp_config_set(&f->cfg, "listen", "127.0.0.1:0", why, sizeof(why)) ||
        omtp_config_set(&f->cfg, "http_listen", "", why, sizeof(why)) ||
        omtp_server_init(&f->srv, &f->loop, &f->cfg, dom_parts,
                         sizeof(dom_parts) / sizeof(dom_parts[0]), why, sizeof(why))) {
        fprintf(stderr, "dom_start: %s\n", why);
        return NULL;
    }
    dom_users_done_flag = false;
    if (users && (omtp_store_submit(f->srv.store, dom_users_work, dom_users_done, (void *)users) ||
                  !dom_wait(f, &dom_users_done_flag) || dom_users_status))
        return NULL;
    return f;
}

/* Runs fn(db, arg) as a store work item to completion (setup and
 * inspection of what the domain stored). Returns its status; -1 when the
 * store refused the work or it did not complete within dom_wait's bound. */
typedef struct dom_db_job {
    int (*fn)(omtp_db *db, void *arg);
    void *arg;
    bool done;
    int status;
} dom_db_job;

static inline int dom_db_job_work(omtp_db *db, void *arg)
{
    dom_db_job *j = arg;
    return j->fn(db, j->arg);
}

static inline void dom_db_job_done(void *arg, int status)
{
    dom_db_job *j = arg;
    j->status = status;
    j->done = true;
}

static inline int dom_on_db(dom_fixture *f, int (*fn)(omtp_db *, void *), void *arg)
{
    dom_db_job j = {.fn = fn, .arg = arg};
    if (omtp_store_submit(f->srv.store, dom_db_job_work, dom_db_job_done, &j) != 0 ||
        !dom_wait(f, &j.done))
        return -1;
    return j.status;
}

static void dom_stop(dom_fixture *f)
{
    omtp_server_stop(&f->srv);
    omtp_server_run(&f->srv);
    omtp_server_free(&f->srv);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_loop_close(&f->loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "dom_stop: could not remove %s\n", f->dir);
    free(f);
}

#endif
