/*
 * main.c - the omtpd command: the server, and admin subcommands that work
 * on the data directory whether the server runs or not.
 *
 *   omtpd [--config FILE] [--listen HOST:PORT] [--data-dir DIR] ...
 *   omtpd user add|passwd|del|list|role|bulk|rename ...
 *   omtpd token issue USERID [--ttl SECONDS]
 *   omtpd init [--data-dir DIR | --store URI]
 */
#include "domain/token.h"
#include "domain/user.h"
#include "omtp/auth.h"
#include "store/maint.h"
#include "core/server.h"
#include "datadir_lock.h"
#include "logdump.h"
#include "omtp_version.h"
#include "wiring.h"

#include <errno.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char user_help[] =
    "usage: omtpd user add USERID --password PW [--name NAME] [--role monitor|user]\n"
    "       omtpd user passwd USERID --password PW     set a new password\n"
    "       omtpd user del USERID\n"
    "       omtpd user list                          one line per user: id, role, name\n"
    "       omtpd user role USERID monitor|user\n"
    "       omtpd user rename OLD NEW                move a user's (or app's) data to NEW\n"
    "       omtpd user bulk PREFIX COUNT --password PW [--start N] [--cost LN]\n"
    "                 users PREFIX<start> .. PREFIX<start+COUNT-1> for load tests, in one\n"
    "                 transaction; --cost LN (4..20, default 14) is scrypt's log2 N: lower\n"
    "                 values make logins cheap and the hashes weak (benchmarks only)\n"
    "\n"
    "User commands work on the data directory (or --store URI) whether the server runs\n"
    "or not; they take --config, --data-dir and --store like the server. On a missing\n"
    "store they say so (no empty database on a mistyped --data-dir): start omtpd once\n"
    "or run `omtpd init` before the first add or bulk. Except rename:\n"
    "it refuses to run while any omtpd uses the store (stop them first; it takes the\n"
    "store's server lock, and omtpd refuses to start while rename runs).\n"
    "\n"
    "User ids (and app ids) are\n  " OMTP_ID_RULE ".\n\n"
    "rename moves everything stored under OLD to NEW (profile, password, role, friends,\n"
    "groups, conversations and their session ids, read cursors, attributes, queued\n"
    "high-priority notices) in one transaction; NEW must not exist. Use it for ids\n"
    "from before this rule (omtpd refuses to start while the store holds any, and\n"
    "names them). Tokens issued for OLD stop working: issue new ones for NEW.\n"
    "\n"
    "Examples:\n"
    "  omtpd init --data-dir ./var\n"
    "  omtpd user add carol --password 's3cret' --name Carol --data-dir ./var\n"
    "  omtpd user passwd alice --password 'new-pw' --data-dir ./var\n"
    "  omtpd user bulk bench 1000 --password bench --cost 4\n"
    "  omtpd user rename john_smith john.smith --data-dir ./var\n";

static const char token_help[] =
    "usage: omtpd token issue USERID [--ttl SECONDS]\n"
    "\n"
    "Prints an HMAC login token for USERID (an existing user), valid for --ttl seconds\n"
    "(default 86400, at most 366 days; a negative ttl gives an already expired token).\n"
    "A client logs in with the token as its password until it expires. The secret is\n"
    "token_secret_hex, or the one generated once and kept in the store: give the same\n"
    "--config / --data-dir / --store as the server. USERID must exist; on a missing\n"
    "store it says so.\n"
    "\n"
    "Example:\n"
    "  omtpd token issue carol --ttl 3600 --data-dir ./var\n";

static const char init_help[] =
    "usage: omtpd init [--config FILE] [--data-dir DIR | --store URI]\n"
    "\n"
    "Creates an empty omtp store (the SQLite database DIR/omtp.db, or the tables in\n"
    "PostgreSQL) and its login-token secret, as the server does on its first start.\n"
    "Nothing happens when the store exists. Admin commands (`user ...`, `token ...`)\n"
    "never create a store: on a missing one they say so. Run init before the first\n"
    "`user add` / `user bulk` on a fresh data directory.\n"
    "\n"
    "Example:\n"
    "  omtpd init --data-dir /var/lib/omtp\n";

static const char log_help[] =
    "usage: omtpd log dump [FROM_LSN] [--config FILE] [--data-dir DIR]\n"
    "\n"
    "Prints the message log (DIR/log, SQLite mode; docs/storage.md \"Message log\"):\n"
    "one line per record from FROM_LSN (default 0) -- its LSN, whether the store has\n"
    "applied it, and the message (session, seqId, sender, recipient, packId) -- then\n"
    "the end of the log and the store's applied position. Read-only: safe beside a\n"
    "running server (whose last record may show as a torn tail). Exit 1 if the log\n"
    "ends in a torn or corrupt record (the next start of omtpd cuts it).\n"
    "\n"
    "Example:\n"
    "  omtpd log dump --data-dir /var/lib/omtp | tail\n";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omtpd [OPTIONS]                 run the server (foreground; Ctrl-C or\n"
            "                                       SIGTERM stops it cleanly)\n"
            "       omtpd user add|passwd|del|list|role|bulk|rename ...   manage users\n"
            "       omtpd token issue USERID [--ttl SECONDS]        issue a login token\n"
            "       omtpd init                             create an empty store (data "
            "directory)\n"
            "       omtpd log dump [FROM_LSN]                print the message log\n"
            "\n"
            "`omtpd user --help` and `omtpd token --help` describe the admin commands; they\n"
            "take --config, --data-dir and --store like the server, and work beside a\n"
            "running server. They never create a store (a mistyped --data-dir is refused):\n"
            "the server, or `omtpd init`, does.\n"
            "\n"
            "One data directory, one server: a running omtpd locks its data directory\n"
            "(DIR/omtpd.pid holds its pid); a second omtpd on it refuses to start.\n"
            "SIGHUP re-reads the config file (settings that can change without a restart)\n"
            "and reopens log_file; see docs/operations.md.\n"
            "\n"
            "Examples:\n"
            "  omtpd                                           SQLite in ./var, 127.0.0.1:9000\n"
            "  omtpd --config omtpd.conf                       settings from a file\n"
            "  omtpd --listen 0.0.0.0:9000 --data-dir /srv/omtp --log-level debug\n"
            "  omtpd --req-rate 0                              no flood limit (benchmarks, load "
            "tests)\n"
            "  omtpd --ws-listen 127.0.0.1:9001 --web-root web/dist\n"
            "                                                  browsers: the web app at\n"
            "                                                  http://127.0.0.1:9001/, its socket "
            "at /ws\n"
            "  omtpd init && omtpd user add carol --password 's3cret'\n"
            "\n"
            "options:\n"
            "  --config FILE            read settings from FILE (key = value; see "
            "omtpd.conf.sample)\n"
            "  --store URI              same as --store-uri\n"
            "  --redis URL              same as --redis-url (redis://HOST:PORT[/DB])\n"
            "  --help                   this text\n"
            "  --version                print omtpd's version (of the build: git describe)\n"
            "every setting of the config file is also an option (key with dashes):\n");
    omtp_config_print_help(out);
}

/* Options shared by every mode. Returns 0, or prints and returns 2. Options
 * that are not settings and not in `extra` are errors; extra ones are
 * copied to *rest (argv order kept). */
struct args {
    omtp_config cfg;
    const char *pos[8]; /* positional words */
    int npos;
    const char *password, *name, *role, *ttl, *start, *cost;
};

static int parse_args(struct args *a, int argc, char **argv, int first, bool admin)
{
    const char *help = !admin                         ? NULL
                       : strcmp(argv[1], "user") == 0 ? user_help
                       : strcmp(argv[1], "init") == 0 ? init_help
                       : strcmp(argv[1], "log") == 0  ? log_help
                                                      : token_help;
    const char *cmd = !admin              ? ""
                      : help == user_help ? " user"
                      : help == init_help ? " init"
                      : help == log_help  ? " log"
                                          : " token";
    char why[512];
    omtp_config_defaults(&a->cfg);
    /* the config file first, so the command line wins whatever the order */
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "omtpd: --config needs a FILE\n");
                return 2;
            }
            if (omtp_config_load(&a->cfg, argv[i + 1], why, sizeof(why))) {
                fprintf(stderr, "omtpd: %s\n", why);
                return 2;
            }
        }
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
            (help && i == first && !strcmp(arg, "help"))) {
            if (help)
                fputs(help, stdout);
            else
                usage(stdout);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (!admin || a->npos >= 8) {
                fprintf(stderr, "omtpd: unexpected argument '%s' (see omtpd%s --help)\n", arg, cmd);
                return 2;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        const char *opt = arg + 2;
        char optbuf[64];
        const char *val = NULL;
        const char *eq = strchr(opt, '=');
        if (eq && (size_t)(eq - opt) < sizeof(optbuf)) {
            memcpy(optbuf, opt, (size_t)(eq - opt));
            optbuf[eq - opt] = 0;
            opt = optbuf;
            val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "omtpd: --%s needs a value (see omtpd%s --help)\n", opt, cmd);
                return 2;
            }
            val = argv[++i];
        }
        if (strcmp(opt, "config") == 0)
            continue;
        if (strcmp(opt, "store") == 0)
            opt = "store-uri";
        if (strcmp(opt, "redis") == 0)
            opt = "redis-url";
        if (admin && strcmp(opt, "password") == 0) {
            a->password = val;
            continue;
        }
        if (admin && strcmp(opt, "name") == 0) {
            a->name = val;
            continue;
        }
        if (admin && strcmp(opt, "role") == 0) {
            a->role = val;
            continue;
        }
        if (admin && strcmp(opt, "start") == 0) {
            a->start = val;
            continue;
        }
        if (admin && strcmp(opt, "cost") == 0) {
            a->cost = val;
            continue;
        }
        if (admin && strcmp(opt, "ttl") == 0) {
            a->ttl = val;
            continue;
        }
        if (omtp_config_set_option(&a->cfg, opt, val, why, sizeof(why))) {
            fprintf(stderr, "omtpd: %s\n", why);
            return 2;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ admin */

/* Whether the store cfg names exists; if not, says so and what to do. */
static bool admin_store_exists(const omtp_config *cfg)
{
    char where[4096];
    if (omtpd_store_exists(cfg, where, sizeof(where)))
        return true;
    fprintf(stderr,
            "omtpd: no omtp store in %s; start omtpd once or run omtpd init (same --config / "
            "--data-dir / --store), or give the right --data-dir\n",
            where);
    return false;
}

/* Opens the store for an admin command. Only `init` (create) may make a new
 * one and says so on stderr; every other command refuses a missing store. */
static omtp_db *admin_open_mode(const omtp_config *cfg, bool create)
{
    char where[4096];
    bool existed = omtpd_store_exists(cfg, where, sizeof(where));
    if (!existed && !create) {
        admin_store_exists(cfg);
        return NULL;
    }
    omtp_store_config sc = {.data_dir = cfg->data_dir,
                            .uri = cfg->store_uri[0] ? cfg->store_uri : NULL,
                            .synchronous = cfg->sync_level};
    omtp_db *db;
    char why[512];
    if (omtp_db_open(&sc, &db, why, sizeof(why))) {
        fprintf(stderr, "omtpd: %s\n", why);
        return NULL;
    }
    if (!existed)
        fprintf(stderr, "omtpd: created a new omtp store in %s\n", where);
    return db;
}

static omtp_db *admin_open(const omtp_config *cfg)
{
    return admin_open_mode(cfg, false);
}

static int parse_role(const char *r)
{
    if (!r || strcmp(r, "user") == 0)
        return OMTP_ROLE_USER;
    if (strcmp(r, "monitor") == 0)
        return OMTP_ROLE_MONITOR;
    return -1;
}

static int check_id(const char *id)
{
    if (!omtp_id_valid(id)) {
        fprintf(stderr, "omtpd: '%s' is not a valid user id: user ids are " OMTP_ID_RULE "\n", id);
        return -1;
    }
    return 0;
}

static int user_bulk(struct args *a)
{
    if (a->npos < 3 || !a->password || !a->password[0]) {
        fprintf(stderr, "omtpd: usage: omtpd user bulk PREFIX COUNT --password PW [--start N] "
                        "[--cost LN] (see omtpd user --help)\n");
        return 2;
    }
    const char *prefix = a->pos[1];
    long count = strtol(a->pos[2], NULL, 10), start = a->start ? strtol(a->start, NULL, 10) : 0;
    int cost = a->cost ? (int)strtol(a->cost, NULL, 10) : OMTP_SCRYPT_LN;
    if (count <= 0 || start < 0 || cost < 4 || cost > 20 || strlen(prefix) > OMTP_ID_MAX - 12) {
        fprintf(stderr, "omtpd: user bulk: COUNT > 0, --start >= 0, --cost 4..20 (see omtpd "
                        "user --help)\n");
        return 2;
    }
    if (prefix[0] && !omtp_id_valid(prefix)) {
        fprintf(
            stderr,
            "omtpd: user bulk: PREFIX '%s' would make invalid user ids: user ids are " OMTP_ID_RULE
            "\n",
            prefix);
        return 2;
    }
    omtp_db *db = admin_open(&a->cfg);
    if (!db)
        return 1;
    int rc = omtp_db_begin(db), added = 0, existed = 0;
    /* hashing is slow on purpose (scrypt): show progress on a terminal, and
     * a line per 10% otherwise when the run is long enough to matter */
    bool tty = isatty(STDERR_FILENO);
    long step = count >= 1000 ? count / 10 : 0, last_tty = -1;
    time_t t0 = time(NULL);
    for (long i = start; !rc && i < start + count; i++) {
        long done = i - start;
        if (tty && (done == 0 || time(NULL) != last_tty)) {
            last_tty = time(NULL);
            fprintf(stderr, "\rcreating users: %ld/%ld (%lld s)", done, count,
                    (long long)(last_tty - t0));
        } else if (!tty && step && done && done % step == 0 && time(NULL) - t0 >= 2) {
            fprintf(stderr, "creating users: %ld/%ld (%lld s)\n", done, count,
                    (long long)(time(NULL) - t0));
        }
        char id[OMTP_ID_MAX + 1], hash[OMTP_PWHASH_MAX];
        snprintf(id, sizeof(id), "%s%ld", prefix, i);
        if ((rc = omtp_auth_hash_password_cost(a->password, cost, hash, sizeof(hash))))
            break;
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        tars_str_set(&u.userId, id);
        tars_str_set(&u.pwHash, hash);
        tars_str_set(&u.info.userId, id);
        tars_str_set(&u.info.name, id);
        u.createdMs = omtp_now_ms();
        rc = omtp_db_user_create(db, &u);
        omtp_user_rec_free(&u);
        if (rc == OMTP_EEXIST) {
            existed++;
            rc = 0;
        } else if (!rc) {
            added++;
        }
    }
    if (tty && rc)
        fputc('\n', stderr);
    else if (tty)
        fprintf(stderr, "\rcreating users: %ld/%ld (%lld s), committing\n", count, count,
                (long long)(time(NULL) - t0));
    if (!rc)
        rc = omtp_db_commit(db);
    else
        omtp_db_rollback(db);
    if (rc)
        fprintf(stderr, "omtpd: user bulk failed: %s %s\n", omtp_strerror(rc), db->errmsg);
    else
        printf("%d users added, %d existed (%s%ld .. %s%ld)\n", added, existed, prefix, start,
               prefix, start + count - 1);
    omtp_db_close(db);
    return rc ? 1 : 0;
}

/* omtpd user rename OLD NEW: never beside a running server (its caches,
 * sessions and queued pushes name OLD), so it takes the store's server lock
 * exclusive, which every omtpd holds shared while it runs. */
static int user_rename(struct args *a)
{
    if (a->npos != 3) {
        fprintf(stderr, "omtpd: usage: omtpd user rename OLD NEW (see omtpd user --help)\n");
        return 2;
    }
    const char *from = a->pos[1], *to = a->pos[2];
    if (!from[0]) {
        fprintf(stderr, "omtpd: user rename: OLD is empty\n");
        return 2;
    }
    if (check_id(to))
        return 2;
    if (strcmp(from, to) == 0) {
        fprintf(stderr, "omtpd: user rename: OLD and NEW are the same\n");
        return 2;
    }
    omtp_db *db = admin_open(&a->cfg);
    if (!db)
        return 1;
    /* a server that has just stopped may hold it for a moment more
     * (PostgreSQL drops a closed session's locks asynchronously) */
    int rc = omtp_db_server_lock(db, true);
    for (int i = 0; rc == OMTP_EBUSY && i < 20; i++) {
        usleep(100 * 1000);
        rc = omtp_db_server_lock(db, true);
    }
    if (rc) {
        if (rc == OMTP_EBUSY)
            fprintf(stderr,
                    "omtpd: user rename refused: %s. Stop every omtpd using this store, then "
                    "run it again\n",
                    db->errmsg);
        else
            fprintf(stderr, "omtpd: user rename: cannot lock the store: %s\n", db->errmsg);
        omtp_db_close(db);
        return 1;
    }
    char why[512] = "";
    omtp_rename_stats st = {0};
    rc = omtp_db_begin(db);
    if (!rc)
        rc = omtp_store_user_rename(db, from, to, why, sizeof(why), &st);
    if (!rc)
        rc = omtp_db_commit(db);
    else
        omtp_db_rollback(db);
    if (rc) {
        fprintf(stderr, "omtpd: user rename %s %s failed: %s\n", from, to,
                why[0] ? why : db->errmsg);
        omtp_db_close(db);
        return rc == OMTP_ENOTFOUND || rc == OMTP_EEXIST ? 2 : 1;
    }
    printf("renamed %s to %s (%d conversation(s) moved to new session ids, %d shared session "
           "id(s) split)\n",
           from, to, st.moved_sessions, st.split_sessions);
    omtp_db_close(db);
    return 0;
}

struct user_answer {
    const char *sub;
    int exit;
};

static void user_answered(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    struct user_answer *t = arg;
    const char *sub = t->sub, *id = out->userId;
    if (res->code) {
        const char *why = res->reason ? res->reason : "";
        if (!strcmp(why, "user_exists"))
            fprintf(stderr,
                    "omtpd: user %s already exists (change its password with `omtpd user "
                    "passwd`)\n",
                    id);
        else if (!strcmp(why, "unknown_user"))
            fprintf(stderr, "omtpd: no user %s (list users with `omtpd user list`)\n", id);
        else
            fprintf(stderr, "omtpd: user %s failed: %s\n", sub, res->desc);
        t->exit = 1;
        return;
    }
    t->exit = 0;
    if (!strcmp(sub, "add"))
        printf("user %s added%s\n", id, out->role == OMTP_ROLE_MONITOR ? " (monitor)" : "");
    else if (!strcmp(sub, "passwd"))
        printf("password of %s changed\n", id);
    else if (!strcmp(sub, "del"))
        printf("user %s deleted\n", id);
    else
        printf("user %s is now a %s\n", id, out->role == OMTP_ROLE_MONITOR ? "monitor" : "user");
}

static int user_cmd(struct args *a)
{
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    const char *id = a->npos > 1 ? a->pos[1] : NULL;
    int rc, ret = 1;
    if (strcmp(sub, "list") == 0) {
        omtp_db *db = admin_open(&a->cfg);
        if (!db)
            return 1;
        omtp_user_rec_list l = {0};
        if ((rc = omtp_db_user_list(db, &l))) {
            fprintf(stderr, "omtpd: cannot list users: %s\n", db->errmsg);
        } else {
            for (uint32_t i = 0; i < l.n; i++)
                printf("%s\t%s\t%s\n", l.items[i].userId.data,
                       l.items[i].role == OMTP_ROLE_MONITOR ? "monitor" : "user",
                       l.items[i].info.name.data ? l.items[i].info.name.data : "");
            ret = 0;
        }
        omtp_user_rec_list_free(&l);
        omtp_db_close(db);
        return ret;
    }
    if (strcmp(sub, "bulk") == 0)
        return user_bulk(a);
    if (strcmp(sub, "rename") == 0)
        return user_rename(a);
    if (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "del") && strcmp(sub, "role")) {
        if (!sub[0])
            fprintf(stderr,
                    "omtpd: user needs a command: add, passwd, del, list, role, bulk or rename "
                    "(see omtpd user --help)\n");
        else
            fprintf(stderr,
                    "omtpd: unknown user command '%s': use add, passwd, del, list, role, bulk or "
                    "rename "
                    "(see omtpd user --help)\n",
                    sub);
        return 2;
    }
    if (!id) {
        fprintf(stderr, "omtpd: user %s needs a USERID (see omtpd user --help)\n", sub);
        return 2;
    }
    if (check_id(id))
        return 2;
    int role = 0;
    if ((!strcmp(sub, "add") || !strcmp(sub, "passwd")) && (!a->password || !a->password[0])) {
        fprintf(stderr, "omtpd: user %s needs --password PW (see omtpd user --help)\n", sub);
        return 2;
    }
    if (!strcmp(sub, "add") || !strcmp(sub, "role")) {
        const char *r = !strcmp(sub, "role") ? (a->npos > 2 ? a->pos[2] : a->role) : a->role;
        if (!strcmp(sub, "role") && !r) {
            fprintf(stderr, "omtpd: user role needs monitor or user\n");
            return 2;
        }
        role = parse_role(r);
        if (role < 0) {
            fprintf(stderr, "omtpd: unknown role '%s': use monitor or user\n", r);
            return 2;
        }
    }
    omtp_db *db = admin_open(&a->cfg);
    if (!db)
        return 1;
    /* adapters of domain/user.h, run on the store opened here (no loop) */
    omtp_dom_caller who = {.role = OMTP_DOM_ADMIN, .db = db};
    struct user_answer ans = {.sub = sub, .exit = 1};
    if (!strcmp(sub, "add")) {
        omtp_dom_profile p = {.name = a->name ? a->name : id};
        omtp_dom_user_create(NULL, &who, id, a->password, role, &p, user_answered, &ans);
    } else if (!strcmp(sub, "passwd")) {
        omtp_dom_user_password(NULL, &who, id, a->password, user_answered, &ans);
    } else if (!strcmp(sub, "del")) {
        omtp_dom_user_delete(NULL, &who, id, user_answered, &ans);
    } else {
        omtp_dom_user_role(NULL, &who, id, role, user_answered, &ans);
    }
    omtp_db_close(db);
    return ans.exit;
}

/* `omtpd token issue`: an adapter of domain/token.h (the same rules as the
 * HTTP API's POST /v1/users/{id}/token), run on the store opened here. */
struct token_answer {
    int exit;
};

static void token_printed(void *arg, const omtp_dom_outcome *res, const omtp_dom_token_out *out)
{
    struct token_answer *t = arg;
    if (res->code == 0) {
        printf("%s\n", out->token);
        t->exit = 0;
    } else if (res->reason && !strcmp(res->reason, "unknown_user")) {
        fprintf(stderr,
                "omtpd: no user %s (add it with `omtpd user add`, list users with "
                "`omtpd user list`)\n",
                out->userId);
        t->exit = 2;
    } else {
        fprintf(stderr, "omtpd: token issue: %s\n", res->desc);
        t->exit = res->err < 0 ? 1 : 2;
    }
}

static int token_cmd(struct args *a)
{
    if (a->npos < 2 || strcmp(a->pos[0], "issue") != 0) {
        fprintf(stderr, "omtpd: usage: omtpd token issue USERID [--ttl SECONDS] (see omtpd "
                        "token --help)\n");
        return 2;
    }
    const char *id = a->pos[1];
    if (check_id(id))
        return 2;
    long long ttl = 86400;
    if (a->ttl) {
        char *end;
        ttl = strtoll(a->ttl, &end, 10);
        if (!a->ttl[0] || *end || ttl == 0) {
            fprintf(stderr, "omtpd: --ttl needs a number of seconds (not 0)\n");
            return 2;
        }
    }
    /* the domain call runs without a loop: a server struct with the config
     * and the secret, and the store opened here (domain/caller.h) */
    /* the secret may live in the store: never make one here */
    if (!admin_store_exists(&a->cfg))
        return 1;
    omtp_server stub;
    memset(&stub, 0, sizeof(stub));
    stub.cfg = &a->cfg;
    char why[512];
    if (omtp_auth_load_secret(&a->cfg, stub.token_secret, why, sizeof(why))) {
        fprintf(stderr, "omtpd: %s\n", why);
        return 1;
    }
    omtp_db *db = admin_open(&a->cfg);
    if (!db) {
        OPENSSL_cleanse(stub.token_secret, sizeof(stub.token_secret));
        return 1;
    }
    omtp_dom_caller who = {.role = OMTP_DOM_ADMIN, .db = db};
    struct token_answer t = {.exit = 1};
    omtp_dom_token_issue(&stub, &who, id, ttl, token_printed, &t);
    OPENSSL_cleanse(stub.token_secret, sizeof(stub.token_secret));
    omtp_db_close(db);
    return t.exit;
}

/* `omtpd init`: creates the store (schema, token secret) the way the server
 * would on its first start, and nothing else. Idempotent. */
static int init_cmd(struct args *a)
{
    if (a->npos > 0) {
        fprintf(stderr, "omtpd: init takes no arguments, only --config, --data-dir, --store "
                        "(see omtpd --help)\n");
        return 2;
    }
    char where[4096];
    bool existed = omtpd_store_exists(&a->cfg, where, sizeof(where));
    omtp_db *db = admin_open_mode(&a->cfg, true);
    if (!db)
        return 1;
    omtp_db_close(db);
    uint8_t secret[32];
    char why[512];
    int rc = omtp_auth_load_secret(&a->cfg, secret, why, sizeof(why));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc) {
        fprintf(stderr, "omtpd: init: %s\n", why);
        return 1;
    }
    if (existed)
        printf("the omtp store %s exists already (nothing to do)\n",
               a->cfg.store_uri[0] ? "named by --store" : a->cfg.data_dir);
    else
        printf("omtp store ready (add users with `omtpd user add`, then start omtpd)\n");
    return 0;
}

/* `omtpd log dump [FROM_LSN]`: the message log as text (logdump.c), with
 * the applied position the store holds (the send path's meta key). */
static int log_cmd(struct args *a)
{
    if (a->npos < 1 || strcmp(a->pos[0], "dump") != 0 || a->npos > 2) {
        fputs(log_help, stderr);
        return 2;
    }
    uint64_t from = 0;
    if (a->npos == 2) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(a->pos[1], &end, 10);
        if (!*a->pos[1] || *end || errno || a->pos[1][0] == '-') {
            fprintf(stderr, "omtpd: log dump: '%s' is not an LSN (a byte position, 0 or more)\n",
                    a->pos[1]);
            return 2;
        }
        from = v;
    }
    if (a->cfg.store_uri[0]) {
        fprintf(stderr, "omtpd: log dump: the message log is kept in SQLite mode only "
                        "(--data-dir), not with a PostgreSQL store\n");
        return 2;
    }
    bool has_applied = false;
    uint64_t applied = 0;
    char where[4096];
    if (omtpd_store_exists(&a->cfg, where, sizeof(where))) {
        omtp_db *db = admin_open(&a->cfg);
        if (db) {
            tars_str v = {0};
            int rc = omtp_db_meta_get(db, "msglog.applied", &v);
            if (rc == 0 || rc == OMTP_ENOTFOUND) {
                has_applied = true;
                applied = rc == 0 && v.len ? strtoull(v.data, NULL, 10) : 0;
            }
            tars_str_clear(&v);
            omtp_db_close(db);
        }
    }
    char dir[sizeof(a->cfg.data_dir) + 8];
    snprintf(dir, sizeof dir, "%s/log", a->cfg.data_dir);
    return omtpd_log_dump(dir, from, has_applied, applied, stdout);
}

/* ------------------------------------------------------------ server */

/* SIGHUP (core/reload.c): the settings as a fresh start would read them. */
static int main_argc;
static char **main_argv;

static int reread_config(omtp_server *s, omtp_config *next, char *why, size_t whylen)
{
    (void)s;
    /* the config file's errors, in words (file:line: what) */
    for (int i = 1; i + 1 < main_argc; i++) {
        if (strcmp(main_argv[i], "--config") != 0)
            continue;
        omtp_config probe;
        omtp_config_defaults(&probe);
        if (omtp_config_load(&probe, main_argv[i + 1], why, whylen))
            return OMTP_EINVAL;
    }
    static struct args a; /* large; loop thread only */
    memset(&a, 0, sizeof(a));
    if (parse_args(&a, main_argc, main_argv, 1, false)) {
        snprintf(why, whylen, "the command line does not parse any more (see stderr)");
        return OMTP_EINVAL;
    }
    *next = a.cfg;
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof(a));
    if (argc > 1 && strcmp(argv[1], "init") == 0) {
        int rc = parse_args(&a, argc, argv, 2, true);
        if (rc)
            return rc;
        omtp_log_set_level(OMTP_LOG_WARN);
        return init_cmd(&a);
    }
    if (argc > 1 && strcmp(argv[1], "log") == 0) {
        int rc = parse_args(&a, argc, argv, 2, true);
        if (rc)
            return rc;
        omtp_log_set_level(OMTP_LOG_WARN);
        return log_cmd(&a);
    }
    if (argc > 1 && (strcmp(argv[1], "user") == 0 || strcmp(argv[1], "token") == 0)) {
        int rc = parse_args(&a, argc, argv, 2, true);
        if (rc)
            return rc;
        omtp_log_set_level(OMTP_LOG_WARN);
        return strcmp(argv[1], "user") == 0 ? user_cmd(&a) : token_cmd(&a);
    }
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("omtpd %s\n", OMTP_BUILD_VERSION);
        return 0;
    }
    int rc = parse_args(&a, argc, argv, 1, false);
    if (rc)
        return rc;
    main_argc = argc;
    main_argv = argv;
    omtp_log_set_format(a.cfg.log_format);
    if (a.cfg.log_file[0]) {
        char lwhy[600];
        if (omtp_log_open_file(a.cfg.log_file, lwhy, sizeof(lwhy))) {
            fprintf(stderr, "omtpd: %s\n", lwhy);
            return 1;
        }
    }
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    /* A fixed mmap threshold: big blocks (scrypt's 16 MiB per login check)
     * go back to the system when freed instead of staying in the heap. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    omtp_log_set_level(a.cfg.log_level);
    LOG_INFO("omtpd %s starting (open files limit %llu)", OMTP_BUILD_VERSION,
             (unsigned long long)rl.rlim_cur);

    char why[1000]; /* the log line holds ~1000 bytes (log.c); a store with bad ids lists them */
    if (omtpd_datadir_lock(&a.cfg, why, sizeof(why))) {
        LOG_ERROR("%s", why);
        fprintf(stderr, "omtpd: %s\n", why);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    static omtp_server srv;
    size_t nparts;
    const omtp_server_part *parts = omtpd_parts(&nparts);
    if (omtp_server_init(&srv, loop, &a.cfg, parts, nparts, why, sizeof(why))) {
        LOG_ERROR("%s", why);
        fprintf(stderr, "omtpd: %s\n", why);
        omtp_server_free(&srv);
        return 1;
    }
    srv.reread_config = reread_config; /* init zeroed srv */
    omtp_server_run(&srv);
    omtp_server_free(&srv);
    uv_loop_close(loop);
    LOG_INFO("omtpd stopped");
    return 0;
}
