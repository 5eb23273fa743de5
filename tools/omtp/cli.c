/*
 * cli.c - option parsing, login and error reporting shared by the `omtp`
 * subcommands (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/omtp_client.h"

static const char *dev_names[] = {"none", "ios", "android", "macos", "windows", "linux"};

int cli_device_from_name(const char *s)
{
    for (int i = 1; i <= OMTP_DEVICE_MAX; i++)
        if (strcasecmp(s, dev_names[i]) == 0)
            return i;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 1 && v <= OMTP_DEVICE_MAX)
        return (int)v;
    return -1;
}

const char *cli_device_name(int t)
{
    return t >= 0 && t <= OMTP_DEVICE_MAX ? dev_names[t] : "unknown";
}

void cli_print_common_help(FILE *f)
{
    fprintf(f, "\nConnection options (flags > environment > config file > defaults):\n"
               "  --server HOST:PORT   server address     (OMTP_SERVER, default 127.0.0.1:9000;\n"
               "                       ws://HOST:PORT/ws = over WebSocket, omtpd's ws_listen)\n"
               "  --user USER          your user id       (OMTP_USER)\n"
               "  --password PW        your password      (OMTP_PASSWORD)\n"
               "  --device TYPE        ios|android|macos|windows|linux (OMTP_DEVICE); one login\n"
               "                       per device type is live: a new one kicks the old one.\n"
               "                       Default: linux for chat/watch, macos for one-shot\n"
               "                       commands, so they do not kick your open chat.\n"
               "  --timeout MS         per-request timeout (default 5000)\n"
               "  --json               machine-readable output where supported\n"
               "Config file: $OMTP_CONFIG or ~/.config/omtp/config, lines of key=value\n"
               "(server, user, password, device).\n");
}

static int set_server(cli_opts *o, const char *v)
{
    o->ws_path[0] = 0;
    if (!strncmp(v, "ws://", 5)) { /* omtpd's ws_listen (docs/websocket.md) */
        bool ws, tls;
        int port;
        if (omtp_client_parse_server(v, o->host, sizeof(o->host), &port, &ws, &tls, o->ws_path,
                                     sizeof(o->ws_path)))
            return -1;
        o->port = port;
        return 0;
    }
    const char *colon = strrchr(v, ':');
    if (!colon) {
        snprintf(o->host, sizeof(o->host), "%s", v);
        return 0;
    }
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof(o->host))
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        return -1;
    if (hl) {
        memcpy(o->host, v, hl);
        o->host[hl] = 0;
        /* [::1]:9000 */
        if (o->host[0] == '[' && o->host[hl - 1] == ']') {
            memmove(o->host, o->host + 1, hl - 2);
            o->host[hl - 2] = 0;
        }
    }
    o->port = (int)p;
    return 0;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

/* Fills what is still unset from the config file. */
static int read_config(cli_opts *o, bool server_set)
{
    char path[1024];
    const char *env = getenv("OMTP_CONFIG");
    if (env) {
        snprintf(path, sizeof(path), "%s", env);
    } else if (getenv("XDG_CONFIG_HOME")) {
        snprintf(path, sizeof(path), "%s/omtp/config", getenv("XDG_CONFIG_HOME"));
    } else if (getenv("HOME")) {
        snprintf(path, sizeof(path), "%s/.config/omtp/config", getenv("HOME"));
    } else {
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        trim(line);
        if (!line[0] || line[0] == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            fprintf(stderr, "omtp: %s:%d: expected key=value\n", path, lineno);
            continue;
        }
        *eq = 0;
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (strcmp(k, "server") == 0) {
            if (!server_set && set_server(o, v)) {
                fprintf(stderr, "omtp: %s:%d: bad server '%s' (want HOST:PORT)\n", path, lineno, v);
                fclose(f);
                return CLI_EUSAGE;
            }
        } else if (strcmp(k, "user") == 0) {
            if (!o->user[0])
                snprintf(o->user, sizeof(o->user), "%s", v);
        } else if (strcmp(k, "password") == 0) {
            if (!o->password[0])
                snprintf(o->password, sizeof(o->password), "%s", v);
        } else if (strcmp(k, "device") == 0) {
            if (!o->device_set && cli_device_from_name(v) > 0) {
                o->device = cli_device_from_name(v);
                o->device_set = true;
            }
        } else {
            fprintf(stderr, "omtp: %s:%d: unknown key '%s' (ignored)\n", path, lineno, k);
        }
    }
    fclose(f);
    return 0;
}

/* The positional-argument array lives for the whole process (freed at exit). */
static char **pos_args;
static void free_pos_args(void)
{
    free(pos_args);
    pos_args = NULL;
}

int cli_parse(int argc, char **argv, int default_device, cli_opts *o, bool *help)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->port = 9000;
    o->timeout_ms = 5000;
    *help = false;
    bool server_set = false;
    if (!pos_args)
        atexit(free_pos_args);
    free(pos_args);
    pos_args = o->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->argv)
        return CLI_EUSAGE;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[32] = "";
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            if (nl < sizeof(name)) {
                memcpy(name, a, nl);
                name[nl] = 0;
            }
            val = eq ? eq + 1 : NULL;
        }
        bool takes = !strcmp(name, "--server") || !strcmp(name, "--user") ||
                     !strcmp(name, "--password") || !strcmp(name, "--device") ||
                     !strcmp(name, "--timeout");
        if (takes) {
            if (!val) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "omtp: %s needs a value\n", name);
                    return CLI_EUSAGE;
                }
                val = argv[++i];
            }
            if (!strcmp(name, "--server")) {
                if (set_server(o, val)) {
                    fprintf(stderr, "omtp: bad --server '%s' (want HOST:PORT)\n", val);
                    return CLI_EUSAGE;
                }
                server_set = true;
            } else if (!strcmp(name, "--user")) {
                snprintf(o->user, sizeof(o->user), "%s", val);
            } else if (!strcmp(name, "--password")) {
                snprintf(o->password, sizeof(o->password), "%s", val);
            } else if (!strcmp(name, "--device")) {
                o->device = cli_device_from_name(val);
                if (o->device < 0) {
                    fprintf(stderr,
                            "omtp: unknown --device '%s' (ios, android, macos, windows, "
                            "linux)\n",
                            val);
                    return CLI_EUSAGE;
                }
                o->device_set = true;
            } else {
                o->timeout_ms = atoi(val);
                if (o->timeout_ms <= 0) {
                    fprintf(stderr, "omtp: bad --timeout '%s' (milliseconds)\n", val);
                    return CLI_EUSAGE;
                }
            }
            continue;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = true;
            continue;
        }
        o->argv[o->argc++] = argv[i];
    }
    const char *e;
    if (!server_set && (e = getenv("OMTP_SERVER")) && *e) {
        if (set_server(o, e)) {
            fprintf(stderr, "omtp: bad OMTP_SERVER '%s' (want HOST:PORT)\n", e);
            return CLI_EUSAGE;
        }
        server_set = true;
    }
    if (!o->user[0] && (e = getenv("OMTP_USER")))
        snprintf(o->user, sizeof(o->user), "%s", e);
    if (!o->password[0] && (e = getenv("OMTP_PASSWORD")))
        snprintf(o->password, sizeof(o->password), "%s", e);
    if (!o->device_set && (e = getenv("OMTP_DEVICE")) && *e) {
        o->device = cli_device_from_name(e);
        if (o->device < 0) {
            fprintf(stderr, "omtp: unknown OMTP_DEVICE '%s'\n", e);
            return CLI_EUSAGE;
        }
        o->device_set = true;
    }
    int rc = read_config(o, server_set);
    if (rc)
        return rc;
    if (!o->device_set)
        o->device = default_device;
    return 0;
}

static const char *code_hint(int code)
{
    switch (code) {
    case OMTP_EC_CONN_USERNAME_OR_PASSWORD:
        return "check --user/--password (or OMTP_USER/OMTP_PASSWORD); an administrator "
               "creates users with `omtpd user add USER --password PW` and resets a "
               "password with `omtpd user passwd USER --password NEW`";
    case OMTP_EC_CONN_INDICATE:
        return "give a user and a password";
    case OMTP_EC_CONN_ACCESS_DENIED:
        return "this account may not log in; ask the administrator";
    case OMTP_EC_CONN_KICKOUT:
        return "the same user logged in on another device of the same type; use --device";
    case OMTP_EC_HISTORYMSG_DENY:
        return "you can only read sessions you belong to; list them with `omtp sessions`";
    case OMTP_EC_GROUP_USER_NOTEXIST:
        return "you (or the user named) are not a member of this group; see "
               "`omtp group members GROUP`";
    case OMTP_EC_GROUP_ID_EMPTY:
        return "give a group id (GC_...)";
    case OMTP_EC_GROUP_NO_PRIVILEGE:
        return "only the group's creator may do this";
    case OMTP_EC_GROUP_MEMBER_LIMIT:
        return "the group is full";
    case OMTP_EC_GROUP_NOT_EXIST:
        return "no such group; list yours with `omtp group list`";
    case OMTP_EC_MSG_TOO_SHORT:
        return "the message is empty";
    case OMTP_EC_MSG_TOO_LONG:
        return "the message is too long; split it";
    case OMTP_EC_MSG_FORBIDDEN:
        return "you may not send there (not a member, or not friends where friendship is "
               "required)";
    case OMTP_EC_MSG_NOT_EXIST:
        return "no message with that session and seq; see `omtp history SESSION`";
    case OMTP_EC_MSG_OP_CMD:
        return "only the sender (or the group's creator) may do this, and revoke/edit only "
               "within the time limit";
    case OMTP_EC_USER_RELATION_INVALID:
        return "you are not friends with that user; `omtp friends add USER`";
    case OMTP_EC_SERVER_REFUSED:
        return "the server is slowing you down (too many requests on one connection, or too "
               "many failed logins for this account): wait a little and retry; a token login "
               "(`omtpd token issue`) is never delayed";
    case OMTP_EC_SERVICE_UNAVAILABLE:
    case OMTP_EC_DB_ERROR:
    case OMTP_EC_SERVER_EXCEPTION:
        return "a server-side problem; try again, and tell the administrator if it persists";
    case OMTP_EC_PARAM:
    case OMTP_EC_PROTOCOL:
        return "the server did not accept the request's fields";
    default:
        return NULL;
    }
}

int cli_refused(const char *what, int code, const char *desc)
{
    fprintf(stderr, "omtp: %s: %s (%d)%s%s\n", what, omtp_error_code_name(code), code,
            desc && *desc ? ": " : "", desc && *desc ? desc : "");
    const char *h = code_hint(code);
    /* refusing a revoke/edit/delete is about who may, not about sending */
    if (code == OMTP_EC_MSG_FORBIDDEN &&
        (!strcmp(what, "revoke") || !strcmp(what, "edit") || !strcmp(what, "delete")))
        h = code_hint(OMTP_EC_MSG_OP_CMD);
    if (code == OMTP_EC_GROUP_NO_PRIVILEGE && !strcmp(what, "group join"))
        h = "only members add members: ask one of them to run `omtp group join GROUP YOUR_ID`";
    if (h)
        fprintf(stderr, "hint: %s\n", h);
    return CLI_EREFUSED;
}

int cli_failed(const char *what, int err)
{
    if (err == OMTP_ETIMEDOUT)
        fprintf(stderr,
                "omtp: %s: no reply from the server in time (try --timeout MS; is the "
                "server overloaded or stopped?)\n",
                what);
    else if (err == OMTP_ECLOSED)
        fprintf(stderr, "omtp: %s: the server closed the connection\n", what);
    else if (err == OMTP_EDECODE)
        fprintf(stderr, "omtp: %s: the server's reply could not be decoded\n", what);
    else
        fprintf(stderr, "omtp: %s: %s\n", what, omtp_strerror(err));
    return err == OMTP_EDECODE ? CLI_EREFUSED : CLI_ECONN;
}

int cli_login(const cli_opts *o, omtp_sync **out)
{
    *out = NULL;
    if (!o->user[0]) {
        fprintf(stderr, "omtp: no user: give --user USER (or set OMTP_USER, or user= in the "
                        "config file)\n");
        return CLI_EUSAGE;
    }
    omtp_sync *c;
    char wswhy[256] = "";
    int rc = o->ws_path[0] ? omtp_sync_connect_ws(&c, o->host, o->port, o->ws_path, o->timeout_ms,
                                                  wswhy, sizeof(wswhy))
                           : omtp_sync_connect(&c, o->host, o->port, o->timeout_ms);
    if (rc && wswhy[0]) {
        fprintf(stderr, "omtp: WebSocket to %s:%d%s: %s\n", o->host, o->port, o->ws_path, wswhy);
        return CLI_ECONN;
    }
    if (rc) {
        if (rc == OMTP_EINVAL)
            fprintf(stderr, "omtp: cannot resolve server '%s'\n", o->host);
        else if (rc == OMTP_ETIMEDOUT)
            fprintf(stderr,
                    "omtp: cannot connect to %s:%d: timed out (is the address right? a "
                    "firewall?)\n",
                    o->host, o->port);
        else
            fprintf(stderr,
                    "omtp: cannot connect to %s:%d: %s\nhint: is omtpd running there? Point "
                    "--server HOST:PORT (or OMTP_SERVER) at it.\n",
                    o->host, o->port, strerror(errno));
        return CLI_ECONN;
    }
    omtp_sync_set_timeout(c, o->timeout_ms);
    int code = -1;
    rc = omtp_sync_login(c, o->user, o->password, o->device, NULL, &code);
    if (rc) {
        omtp_sync_close(c);
        return cli_failed("login", rc);
    }
    if (code != OMTP_EC_SUCCESS) {
        omtp_sync_close(c);
        char what[300];
        snprintf(what, sizeof(what), "login as '%s' refused", o->user);
        return cli_refused(what, code, NULL);
    }
    *out = c;
    return 0;
}

void cli_fmt_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void cli_print_msg(FILE *f, const omtp_OTIMPack *p, bool json)
{
    omtp_MsgReq msg, *m = &msg;
    if (omtp_inner_msg(p, NULL, &msg)) {
        if (!json)
            fprintf(f, "  (undecodable packet type %d)\n", p->header.type);
        return;
    }
    int64_t fl = p->header.flags;
    if (json) {
        fprintf(f, "{\"seq\":%lld,\"time\":%lld,\"from\":", (long long)m->seqId,
                (long long)m->timestamp);
        json_str(f, m->from.data);
        fprintf(f, ",\"content\":");
        json_str(f, m->content.data);
        fprintf(f, ",\"revoked\":%s,\"edited\":%s,\"packId\":",
                (fl & OMTP_F_REVOKE) || m->status == MC_REVOKE ? "true" : "false",
                fl & OMTP_F_OVERRIDE ? "true" : "false");
        json_str(f, p->header.packId.data ? p->header.packId.data : "");
        fprintf(f, "}\n");
    } else {
        char ts[32];
        cli_fmt_time(m->timestamp, ts, sizeof(ts));
        if ((fl & OMTP_F_REVOKE) || m->status == MC_REVOKE)
            fprintf(f, "#%-5lld %s  %s: (revoked)\n", (long long)m->seqId, ts, m->from.data);
        else
            fprintf(f, "#%-5lld %s  %s: %s%s\n", (long long)m->seqId, ts, m->from.data,
                    m->content.data, fl & OMTP_F_OVERRIDE ? "  (edited)" : "");
        cli_print_ext(f, m); /* cmd_react.c */
    }
    omtp_msg_free(&omtp_MsgReq_desc, &msg);
}

/* One example per command, shown by `omtp COMMAND --help`. */
static const char *const examples[][2] = {
    {"chat", "omtp chat bob --server 127.0.0.1:9000 --user alice --password PW"},
    {"login", "omtp login --user alice --password PW"},
    {"send", "omtp send bob 'lunch at noon?' --user alice --password PW"},
    {"group", "omtp group create 'team' bob carol --user alice --password PW"},
    {"sessions", "omtp sessions --user alice --password PW"},
    {"history", "omtp history bob --user alice --password PW"},
    {"search", "omtp search 'lunch at' --user alice --password PW"},
    {"read", "omtp read bob --user alice --password PW"},
    {"revoke", "omtp revoke bob 3 --user alice --password PW"},
    {"edit", "omtp edit bob 3 'lunch at one?' --user alice --password PW"},
    {"delete", "omtp delete bob 3 --user alice --password PW"},
    {"friends", "omtp friends add bob --user alice --password PW"},
    {"user", "omtp user set name='Alice A.' --user alice --password PW"},
    {"watch", "omtp watch --json --user bob --password PW"},
    {"react", "omtp react bob 3 '\xf0\x9f\x91\x8d' --user alice --password PW"},
    {"unreact", "omtp unreact bob 3 '\xf0\x9f\x91\x8d' --user alice --password PW"},
    {"reply", "omtp reply GC_team 7 'yes @bob, see you' --user alice --password PW"},
    {"presence", "omtp presence bob carol --user alice --password PW"},
    {"typing", "omtp typing bob --user alice --password PW"},
    {"readers", "omtp readers GC_1a2b 42 --user alice --password PW"},
};

int cli_start(int argc, char **argv, cli_opts *o, int default_device, int min_args,
              const char *usage_line, const char *desc)
{
    bool help;
    int rc = cli_parse(argc - 1, argv + 1, default_device, o, &help);
    if (rc)
        return rc;
    if (help) {
        printf("usage: %s\n\n%s\n", usage_line, desc);
        for (size_t i = 0; argc > 0 && i < sizeof(examples) / sizeof(examples[0]); i++)
            if (!strcmp(argv[0], examples[i][0]))
                printf("\nExample (with OMTP_USER/OMTP_PASSWORD set, drop --user/--password):\n"
                       "  %s\n",
                       examples[i][1]);
        cli_print_common_help(stdout);
        return 0;
    }
    if (o->argc < min_args) {
        fprintf(stderr, "usage: %s\n(run with --help for details)\n", usage_line);
        return CLI_EUSAGE;
    }
    for (int i = 0; i < o->argc; i++)
        if (!o->argv[i][0]) {
            fprintf(stderr,
                    "omtp: argument %d is empty: give a value (an empty variable in a "
                    "script?)\nusage: %s\n",
                    i + 1, usage_line);
            return CLI_EUSAGE;
        }
    return -1;
}

int cli_resolve_session(const char *me, const char *arg, char *buf, size_t n)
{
    if (!strncmp(arg, "SC_", 3) || !strncmp(arg, "GC_", 3) || !strncmp(arg, "BM_", 3)) {
        snprintf(buf, n, "%s", arg);
        return 0;
    }
    return omtp_session_single(me, arg, buf, n) == 0 ? 0 : CLI_EUSAGE;
}

int cli_bad_peer(const char *arg)
{
    fprintf(stderr, "omtp: '%s' is not a user id (user ids are " OMTP_ID_RULE ")\n", arg);
    return CLI_EUSAGE;
}

void cli_join(int argc, char **argv, int from, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = from; i < argc; i++) {
        if (i > from)
            strncat(buf, " ", n - strlen(buf) - 1);
        strncat(buf, argv[i], n - strlen(buf) - 1);
    }
}
