/*
 * db.c - picks a storage backend from the configuration.
 *
 * A backend is one row of `backends`: a URI prefix and its open function.
 * SQLite is the default (no URI, or "sqlite:..."); a PostgreSQL backend adds
 * its row ("postgresql://", "postgres://") next to it.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "pg/pg.h"
#include "sqlite/sq.h"

typedef int (*backend_open_fn)(const omtp_store_config *cfg, omtp_db **out, char *why,
                               size_t whylen);

static const struct {
    const char *prefix;
    backend_open_fn open;
} backends[] = {
    {"sqlite:", sq_open},
    {"postgresql://", omtp_pg_open},
    {"postgres://", omtp_pg_open},
};

int omtp_db_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen)
{
    const char *uri = cfg->uri;
    *out = NULL;
    if (!uri || !uri[0])
        return sq_open(cfg, out, why, whylen);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strncmp(uri, backends[i].prefix, strlen(backends[i].prefix)) == 0)
            return backends[i].open(cfg, out, why, whylen);
    snprintf(why, whylen,
             "unsupported store URI \"%s\" (this omtpd knows: sqlite:, postgresql://, postgres://)",
             uri);
    return OMTP_EINVAL;
}

void omtp_db_close(omtp_db *db)
{
    if (db)
        db->ops->close(db);
}
