/*
 * reload.c - SIGHUP: re-read the configuration without a restart.
 *
 * Loop thread. The new settings come from s->reread_config (omtpd's main.c:
 * the config file, then the command line, as at start). Settings that can
 * change safely (config.c's reloadable list: log level/format/file, the
 * request rate limit, the revoke limit, the login delay, friends_only,
 * hot_page, API keys, webhook URLs, fail mode and secret)
 * are copied into s->cfg and the parts are told (their reload callbacks);
 * any other changed setting keeps its running value and is logged as
 * needing a restart. Log lines name settings, never their values: api_keys
 * and webhook_secret are secrets. The log file is reopened on every SIGHUP,
 * so logrotate can move it and signal (no copytruncate).
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

struct names {
    char buf[1024];
    size_t len;
};

static void add(struct names *n, const char *key)
{
    if (n->len + strlen(key) + 3 >= sizeof(n->buf))
        return;
    n->len +=
        (size_t)snprintf(n->buf + n->len, sizeof(n->buf) - n->len, "%s%s", n->len ? ", " : "", key);
}

struct changes {
    struct names applied, restart;
};

static void on_change(void *arg, const char *key, bool reloadable)
{
    struct changes *c = arg;
    add(reloadable ? &c->applied : &c->restart, key);
}

void omtp_server_reload(omtp_server *s)
{
    omtp_config *cfg = s->cfg;
    char why[600];
    LOG_INFO("SIGHUP received: reloading the configuration");
    if (!s->reread_config) {
        if (cfg->log_file[0] && omtp_log_open_file(cfg->log_file, why, sizeof(why)))
            LOG_ERROR("reload: %s", why);
        return;
    }
    static omtp_config next; /* large; loop thread only */
    if (s->reread_config(s, &next, why, sizeof(why))) {
        LOG_ERROR("reload refused, nothing changed: %s (fix the file, then send SIGHUP again)",
                  why);
        return;
    }
    /* the new log file first, so the lines below land in it */
    if (next.log_file[0] && omtp_log_open_file(next.log_file, why, sizeof(why))) {
        LOG_ERROR("reload: %s; log_file stays %s", why,
                  cfg->log_file[0] ? cfg->log_file : "stderr");
        snprintf(next.log_file, sizeof(next.log_file), "%s", cfg->log_file);
    } else if (!next.log_file[0] && cfg->log_file[0]) {
        omtp_log_open_file(NULL, why, sizeof(why));
    }
    struct changes c = {{{0}, 0}, {{0}, 0}};
    omtp_config_diff(cfg, &next, on_change, &c);
    omtp_config_copy_reloadable(cfg, &next);
    omtp_log_set_level(cfg->log_level);
    omtp_log_set_format(cfg->log_format);
    omtp_server_parts_reload(s);
    if (c.applied.len)
        LOG_INFO("reload: applied %s", c.applied.buf);
    if (c.restart.len)
        LOG_WARN("reload: changed but need a restart (running values kept): %s", c.restart.buf);
    if (!c.applied.len && !c.restart.len)
        LOG_INFO("reload: no setting changed (log file reopened)");
}
