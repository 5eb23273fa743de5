/*
 * datadir_lock.c - the data directory's server lock (datadir_lock.h).
 */
#include "datadir_lock.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the SQLite database is: "<dir>/omtp.db" or a sqlite:PATH URI's file.
 * Returns 0 and fills db (and dir: the data directory, or "" for a URI), or
 * -1 for a PostgreSQL store. */
static int sqlite_paths(const omtp_config *cfg, char *db, size_t dblen)
{
    const char *uri = cfg->store_uri;
    if (uri[0] && strncmp(uri, "sqlite:", 7) != 0)
        return -1;
    if (uri[0] && uri[7]) {
        const char *p = uri + 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        snprintf(db, dblen, "%s", p);
        return 0;
    }
    snprintf(db, dblen, "%s/omtp.db", cfg->data_dir[0] ? cfg->data_dir : ".");
    return 0;
}

int omtpd_store_exists(const omtp_config *cfg, char *where, size_t wherelen)
{
    char db[4096];
    if (sqlite_paths(cfg, db, sizeof(db)) != 0)
        return 1;
    struct stat st;
    if (stat(db, &st) == 0)
        return 1;
    if (cfg->store_uri[0])
        snprintf(where, wherelen, "%s", db);
    else
        snprintf(where, wherelen, "%s", cfg->data_dir[0] ? cfg->data_dir : ".");
    return 0;
}

/* mkdir -p, so the lock file can be made before the store opens (the store
 * makes the directory too, and reports failures in its own words). */
static void make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        mkdir(p, 0700);
        *s = '/';
    }
    mkdir(p, 0700);
}

/* The pid written by the holder, or 0 if unreadable. */
static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

static int lock_file(const char *path, const char *what, char *why, size_t whylen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0; /* not writable: the store says so, in words, next */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            long pid = 0;
            /* the holder writes its pid just after locking: give it a moment */
            for (int i = 0; i < 20 && (pid = read_pid(fd)) == 0; i++)
                usleep(50 * 1000);
            if (pid > 0)
                snprintf(why, whylen,
                         "%s is in use by omtpd pid %ld (lock file %s): one data directory, one "
                         "server. Stop that omtpd first, or give this one another --data-dir",
                         what, pid, path);
            else
                snprintf(why, whylen,
                         "%s is in use by another omtpd (lock file %s): one data directory, one "
                         "server. Stop that omtpd first, or give this one another --data-dir",
                         what, path);
        } else {
            snprintf(why, whylen, "cannot lock %s: %s", path, strerror(e));
        }
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        LOG_WARN("cannot write the pid to %s: %s", path, strerror(errno));
    LOG_INFO("data directory lock %s taken (pid %ld)", path, (long)getpid());
    /* fd stays open (and locked) until the process exits */
    return 0;
}

/* FNV-1a, 63 bits: a stable advisory lock key for a node id. */
static long long node_key(const char *node_id)
{
    unsigned long long h = 1469598103934665603ULL;
    const char *pfx = "omtpd node ";
    for (const char *p = pfx; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = node_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (long long)(h & 0x7fffffffffffffffULL);
}

static int lock_pg(const omtp_config *cfg, char *why, size_t whylen)
{
    if (cfg->redis_url[0] && !cfg->node_id[0]) {
        /* the node's name is HOSTNAME:PORT, known once bound: no lock */
        LOG_INFO("no PostgreSQL node lock: set node_id to have one per cluster node");
        return 0;
    }
    PGconn *c = PQconnectdb(cfg->store_uri);
    if (PQstatus(c) != CONNECTION_OK) {
        /* the store reports the connection failure next, in its own words */
        PQfinish(c);
        return 0;
    }
    char key[32];
    snprintf(key, sizeof(key), "%lld", node_key(cfg->node_id));
    const char *params[] = {key};
    PGresult *r =
        PQexecParams(c, "SELECT pg_try_advisory_lock($1::bigint)", 1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    int got = ok && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ok) {
        snprintf(why, whylen, "cannot take the node lock in PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    if (!got) {
        if (cfg->node_id[0])
            snprintf(why, whylen,
                     "this PostgreSQL store is in use by another omtpd with node_id '%s': each "
                     "node needs its own node_id (stop the other one, or set another node_id)",
                     cfg->node_id);
        else
            snprintf(why, whylen,
                     "this PostgreSQL store is in use by another single-node omtpd (no "
                     "node_id): stop it first, or run a cluster (redis_url, a node_id per "
                     "node)");
        PQfinish(c);
        return -1;
    }
    LOG_INFO("PostgreSQL node lock taken (node_id '%s')", cfg->node_id);
    /* the connection (and its session lock) stays open until exit */
    return 0;
}

int omtpd_datadir_lock(const omtp_config *cfg, char *why, size_t whylen)
{
    char db[4096], path[4200];
    if (sqlite_paths(cfg, db, sizeof(db)) != 0)
        return lock_pg(cfg, why, whylen);
    if (cfg->store_uri[0]) {
        snprintf(path, sizeof(path), "%s.omtpd.pid", db);
        return lock_file(path, db, why, whylen);
    }
    const char *dir = cfg->data_dir[0] ? cfg->data_dir : ".";
    make_dirs(dir);
    snprintf(path, sizeof(path), "%s/omtpd.pid", dir);
    return lock_file(path, dir, why, whylen);
}
