/*
 * run.c - omtp_dom_run (domain/caller.h): one store work item, on the store
 * thread for the server's callers, at once for the admin CLI.
 */
#include "core/server.h"
#include "domain/caller.h"

int omtp_dom_run(omtp_server *s, const omtp_dom_caller *who, int (*work)(omtp_db *db, void *arg),
                 void (*done)(void *arg, int status), void *arg)
{
    if (who->role != OMTP_DOM_ADMIN || !who->db)
        return omtp_store_submit(s->store, work, done, arg);
    omtp_db *db = who->db;
    int rc = omtp_db_begin(db);
    if (rc == 0) {
        do
            rc = work(db, arg);
        while (rc == OMTP_STORE_MORE);
        if (rc >= 0)
            rc = omtp_db_commit(db);
        else
            omtp_db_rollback(db);
    }
    done(arg, rc);
    return 0;
}
