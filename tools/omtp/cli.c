/*
 * cli.c - option parsing, login and error reporting shared by the `omtp`
 * subcommands (see cli.h).
 */
#include "cli.h"
#include "client/omtp_files.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client/omtp_client.h"
#include "omtp_cli.h"
#include "omtp_version.h"

const char *cli_version(void)
{
    return OMTP_BUILD_VERSION;
}

static const char *dev_names[] = {"none",    "ios",   "android", "macos",
                                  "windows", "linux", "observer"};

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
               "  --server ADDR        HOST:PORT, [IPV6]:PORT, HOST (port 9000) or a bare PORT\n"
               "                       (127.0.0.1:PORT)  (OMTP_SERVER, default 127.0.0.1:9000);\n"
               "                       ws://HOST:PORT/ws = over WebSocket, omtpd's ws_listen\n"
               "  --user USER          your user id       (OMTP_USER)\n"
               "  --password-file PATH the password is its first line (OMTP_PASSWORD_FILE)\n"
               "  --password PW        your password      (OMTP_PASSWORD); visible to other\n"
               "                       users of this machine in `ps`: prefer the prompt or\n"
               "                       --password-file. With none of these, omtp asks on the\n"
               "                       terminal (without echo).\n"
               "  --device TYPE        ios|android|macos|windows|linux|observer (OMTP_DEVICE).\n"
               "                       The server keeps one login per (user, device type): a\n"
               "                       new login of that type kicks the old one. Defaults:\n"
               "                       chat: linux (a second `omtp chat` of the same user\n"
               "                       replaces the first); one-shot commands and watch:\n"
               "                       observer, a login that kicks nobody and that no login\n"
               "                       kicks, so they never disturb your chat or your apps.\n"
               "  --timeout MS         per-request timeout (default 5000)\n"
               "  --http URL           where omtpd serves files: its http_listen (or\n"
               "                       ws_listen) as http://HOST:PORT (OMTP_HTTP); default\n"
               "                       http://HOST:PORT of a ws:// --server\n"
               "  --token TOKEN        your login token (OMTP_TOKEN; `omtpd token issue USER`):\n"
               "                       authenticates file transfers, and logs in when no\n"
               "                       password is given\n"
               "  --json               machine-readable output where supported\n"
               "  --                   ends the options: the rest is text even if it starts\n"
               "                       with '-' (omtp send bob -- -1 is fine)\n"
               "Config file: $OMTP_CONFIG or ~/.config/omtp/config, lines of key=value\n"
               "(server, user, password, password_file, device, bell, http, token).\n"
               "Device id: omtp keeps one in $XDG_STATE_HOME/omtp/device-id (default\n"
               "~/.local/state/omtp/), so the server knows this machine: someone else's\n"
               "failed logins do not slow yours down.\n"
               "Exit status: 0 ok, 1 the server refused, 2 usage error, 3 cannot connect.\n");
}

/* Why the last set_server() refused its value. */
static const char *server_why = "";

/*
 * HOST:PORT, [V6]:PORT, HOST (port 9000), a bare PORT (127.0.0.1:PORT), or
 * any of these after "tcp://"; or ws://HOST:PORT/PATH (libomtp's
 * WebSocket transport). Other schemes are refused, saying why.
 */
static int set_server(cli_opts *o, const char *v)
{
    o->ws_path[0] = 0;
    if (!strncmp(v, "ws://", 5)) { /* omtpd's ws_listen (docs/websocket.md) */
        bool ws, tls;
        int port;
        if (omtp_client_parse_server(v, o->host, sizeof(o->host), &port, &ws, &tls, o->ws_path,
                                     sizeof(o->ws_path))) {
            server_why = "bad WebSocket address (want ws://HOST:PORT/PATH)";
            return -1;
        }
        o->port = port;
        return 0;
    }
    const char *sep = strstr(v, "://");
    if (sep) {
        if ((size_t)(sep - v) != 3 || strncasecmp(v, "tcp", 3)) {
            server_why = "unknown scheme (use HOST:PORT, tcp://HOST:PORT or ws://HOST:PORT/ws)";
            return -1;
        }
        v = sep + 3;
    }
    if (!*v) {
        server_why = "empty (use HOST:PORT, e.g. 127.0.0.1:9000)";
        return -1;
    }
    char *end;
    if (strspn(v, "0123456789") == strlen(v)) { /* a bare port */
        long p = strtol(v, &end, 10);
        if (p <= 0 || p > 65535) {
            server_why = "port out of range 1..65535";
            return -1;
        }
        snprintf(o->host, sizeof(o->host), "127.0.0.1");
        o->port = (int)p;
        return 0;
    }
    const char *host = v, *port = NULL;
    size_t hl;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (!rb || rb == v + 1) {
            server_why = "unclosed '[' (write IPv6 as [::1]:9000)";
            return -1;
        }
        host = v + 1;
        hl = (size_t)(rb - host);
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1]) {
            server_why = "expected ':PORT' after ']'";
            return -1;
        }
    } else {
        const char *colon = strchr(v, ':');
        if (colon && strchr(colon + 1, ':')) {
            server_why = "an IPv6 address needs brackets: [::1]:9000";
            return -1;
        }
        hl = colon ? (size_t)(colon - v) : strlen(v);
        port = colon ? colon + 1 : NULL;
        if (!hl) {
            server_why = "no host before ':' (a bare port is fine: --server 9000)";
            return -1;
        }
    }
    if (hl >= sizeof(o->host)) {
        server_why = "host name too long";
        return -1;
    }
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '/' || host[i] == '@') {
            server_why = "not a host name (use HOST:PORT)";
            return -1;
        }
    long p = 9000;
    if (port) {
        p = strtol(port, &end, 10);
        if (!*port || *end || strspn(port, "0123456789") != strlen(port) || p <= 0 || p > 65535) {
            server_why = "bad port (want a number 1..65535)";
            return -1;
        }
    }
    memcpy(o->host, host, hl);
    o->host[hl] = 0;
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
                fprintf(stderr, "omtp: %s:%d: bad server '%s': %s\n", path, lineno, v, server_why);
                fclose(f);
                return CLI_EUSAGE;
            }
        } else if (strcmp(k, "user") == 0) {
            if (!o->user[0])
                snprintf(o->user, sizeof(o->user), "%s", v);
        } else if (strcmp(k, "password") == 0) {
            if (!o->password[0])
                snprintf(o->password, sizeof(o->password), "%s", v);
        } else if (strcmp(k, "password_file") == 0) {
            if (!o->password[0] && !o->password_file[0])
                snprintf(o->password_file, sizeof(o->password_file), "%s", v);
        } else if (strcmp(k, "http") == 0) {
            if (!o->http_url[0])
                snprintf(o->http_url, sizeof(o->http_url), "%s", v);
        } else if (strcmp(k, "token") == 0) {
            if (!o->token[0])
                snprintf(o->token, sizeof(o->token), "%s", v);
        } else if (strcmp(k, "bell") == 0) { /* omtp chat: on|off */
            snprintf(o->bell_cfg, sizeof(o->bell_cfg), "%s", v);
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

/* The common options (option.val = index here + OPT_BASE). */
enum {
    OPT_SERVER,
    OPT_USER,
    OPT_PASSWORD,
    OPT_PASSWORD_FILE,
    OPT_DEVICE,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_HELP,
    OPT_HTTP,
    OPT_TOKEN,
    OPT_NCOMMON
};
#define OPT_BASE 1000
static const struct option common_opts[OPT_NCOMMON] = {
    {"server", required_argument, NULL, OPT_BASE + OPT_SERVER},
    {"user", required_argument, NULL, OPT_BASE + OPT_USER},
    {"password", required_argument, NULL, OPT_BASE + OPT_PASSWORD},
    {"password-file", required_argument, NULL, OPT_BASE + OPT_PASSWORD_FILE},
    {"device", required_argument, NULL, OPT_BASE + OPT_DEVICE},
    {"timeout", required_argument, NULL, OPT_BASE + OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_BASE + OPT_JSON},
    {"help", no_argument, NULL, OPT_BASE + OPT_HELP},
    {"http", required_argument, NULL, OPT_BASE + OPT_HTTP},
    {"token", required_argument, NULL, OPT_BASE + OPT_TOKEN},
};
#define OPT_EXTRA_BASE 2000

int omtp_cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* "omtp send: unknown option --pasword; did you mean --password?" */
static int unknown_option(const char *cmd, const char *arg, const struct option *lo, int nlo,
                          bool text_hint)
{
    char name[128];
    if (arg[0] == '-' && arg[1] == '-') {
        size_t n = strcspn(arg + 2, "=");
        snprintf(name, sizeof(name), "%.*s", (int)(n < 100 ? n : 100), arg + 2);
    } else {
        snprintf(name, sizeof(name), "%.100s", arg + (arg[0] == '-'));
    }
    /* an abbreviation of several options (getopt_long accepts unique ones) */
    char ambiguous[512] = "";
    int nprefix = 0;
    for (int i = 0; i < nlo && name[0] && arg[1] == '-'; i++)
        if (!strncmp(lo[i].name, name, strlen(name))) {
            nprefix++;
            size_t l = strlen(ambiguous);
            snprintf(ambiguous + l, sizeof(ambiguous) - l, "%s--%s", l ? ", " : "", lo[i].name);
        }
    if (nprefix > 1) {
        fprintf(stderr, "omtp %s: option --%s is ambiguous: %s\n(run omtp %s --help)\n", cmd, name,
                ambiguous, cmd);
        return CLI_EUSAGE;
    }
    const char *best = NULL;
    int bestd = 99;
    for (int i = 0; i < nlo; i++) {
        int dist = omtp_cli_edit_distance(name, lo[i].name);
        if (dist < bestd) {
            bestd = dist;
            best = lo[i].name;
        }
    }
    int limit = strlen(name) <= 4 ? 1 : strlen(name) <= 8 ? 2 : 3;
    const char *dash = arg[1] == '-' ? "--" : "-";
    if (best && bestd <= limit)
        fprintf(stderr, "omtp %s: unknown option %s%s; did you mean --%s?\n", cmd, dash, name,
                best);
    else
        fprintf(stderr, "omtp %s: unknown option %s%s (run omtp %s --help for the options)\n", cmd,
                dash, name, cmd);
    if (text_hint)
        fprintf(stderr,
                "hint: to pass a text that starts with '-', put -- before it: omtp %s ... -- "
                "-text\n",
                cmd);
    return CLI_EUSAGE;
}

int omtp_cli_unknown_option(const char *cmd, const char *arg, const struct option *lo)
{
    int n = 0;
    while (lo[n].name)
        n++;
    return unknown_option(cmd, arg, lo, n, false);
}

static int set_common(cli_opts *o, int which, const char *val, bool *server_set)
{
    switch (which) {
    case OPT_SERVER:
        if (set_server(o, val))
            return CLI_EUSAGE;
        *server_set = true;
        break;
    case OPT_USER:
        snprintf(o->user, sizeof(o->user), "%s", val);
        break;
    case OPT_PASSWORD:
        snprintf(o->password, sizeof(o->password), "%s", val);
        break;
    case OPT_PASSWORD_FILE:
        snprintf(o->password_file, sizeof(o->password_file), "%s", val);
        break;
    case OPT_HTTP:
        snprintf(o->http_url, sizeof(o->http_url), "%s", val);
        break;
    case OPT_TOKEN:
        snprintf(o->token, sizeof(o->token), "%s", val);
        break;
    case OPT_DEVICE:
        o->device = cli_device_from_name(val);
        if (o->device < 0) {
            fprintf(stderr,
                    "omtp: unknown --device '%s' (ios, android, macos, windows, linux, observer)\n",
                    val);
            return CLI_EUSAGE;
        }
        o->device_set = true;
        break;
    case OPT_TIMEOUT: {
        char *end;
        long v = strtol(val, &end, 10);
        if (!*val || *end || v <= 0 || v > 3600000) {
            fprintf(stderr, "omtp: bad --timeout '%s' (milliseconds, 1..3600000)\n", val);
            return CLI_EUSAGE;
        }
        o->timeout_ms = (int)v;
        break;
    }
    default:
        break;
    }
    return 0;
}

int cli_parse(const char *cmd, int argc, char **argv, int default_device, const cli_opt *extra,
              cli_opts *o, bool *help)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->cmd, sizeof(o->cmd), "%s", cmd);
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->port = 9000;
    o->timeout_ms = 5000;
    *help = false;
    bool server_set = false;
    if (!pos_args)
        atexit(free_pos_args);
    free(pos_args);
    pos_args = o->argv = calloc((size_t)argc + 1, sizeof(char *));
    int nextra = 0;
    while (extra && extra[nextra].name)
        nextra++;
    int nlo = OPT_NCOMMON + nextra;
    struct option *lo = calloc((size_t)nlo + 1, sizeof(*lo));
    /* getopt_long permutes argv: work on a copy, argv[0] = the command name */
    char **av = calloc((size_t)argc + 2, sizeof(char *));
    if (!o->argv || !lo || !av) {
        free(lo);
        free(av);
        return CLI_EUSAGE;
    }
    memcpy(lo, common_opts, sizeof(common_opts));
    for (int i = 0; i < nextra; i++) {
        lo[OPT_NCOMMON + i].name = extra[i].name;
        lo[OPT_NCOMMON + i].has_arg = extra[i].arg ? required_argument : no_argument;
        lo[OPT_NCOMMON + i].val = OPT_EXTRA_BASE + i;
    }
    char prog[64];
    snprintf(prog, sizeof(prog), "omtp %s", cmd);
    av[0] = prog;
    for (int i = 0; i < argc; i++)
        av[i + 1] = argv[i];
    int ac = argc + 1, rc = 0, ch;
    optind = 0; /* full reset of getopt's state */
    opterr = 0;
    /* "-": positionals come back in order as 1 (whatever POSIXLY_CORRECT
     * says), ":": a missing value is ':' */
    while (rc == 0 && (ch = getopt_long(ac, av, "-:h", lo, NULL)) != -1) {
        if (ch == 1) {
            o->argv[o->argc++] = optarg;
        } else if (ch == 'h') {
            *help = true;
        } else if (ch == ':') {
            fprintf(stderr, "omtp %s: %s needs a value (run omtp %s --help)\n", cmd, av[optind - 1],
                    cmd);
            rc = CLI_EUSAGE;
        } else if (ch == '?') {
            if (optopt) {
                char s[3] = {'-', (char)optopt, 0};
                rc = unknown_option(cmd, s, lo, nlo, true);
            } else {
                rc = unknown_option(cmd, av[optind - 1], lo, nlo, true);
            }
        } else if (ch >= OPT_EXTRA_BASE) {
            const cli_opt *x = &extra[ch - OPT_EXTRA_BASE];
            if (x->arg && x->value)
                *x->value = optarg;
            else if (!x->arg && x->flag)
                *x->flag = true;
        } else if (ch == OPT_BASE + OPT_JSON) {
            o->json = true;
        } else if (ch == OPT_BASE + OPT_HELP) {
            *help = true;
        } else {
            rc = set_common(o, ch - OPT_BASE, optarg, &server_set);
            if (rc && ch == OPT_BASE + OPT_SERVER)
                fprintf(stderr, "omtp %s: bad --server '%s': %s\n", cmd, optarg, server_why);
        }
    }
    /* after "--": the rest are positionals */
    while (rc == 0 && optind < ac)
        o->argv[o->argc++] = av[optind++];
    free(lo);
    free(av);
    if (rc)
        return rc;
    const char *e;
    if (!server_set && (e = getenv("OMTP_SERVER")) && *e) {
        if (set_server(o, e)) {
            fprintf(stderr, "omtp: bad OMTP_SERVER '%s': %s\n", e, server_why);
            return CLI_EUSAGE;
        }
        server_set = true;
    }
    if (!o->user[0] && (e = getenv("OMTP_USER")))
        snprintf(o->user, sizeof(o->user), "%s", e);
    if (!o->password[0] && !o->password_file[0] && (e = getenv("OMTP_PASSWORD")))
        snprintf(o->password, sizeof(o->password), "%s", e);
    if (!o->password[0] && !o->password_file[0] && (e = getenv("OMTP_PASSWORD_FILE")))
        snprintf(o->password_file, sizeof(o->password_file), "%s", e);
    if (!o->http_url[0] && (e = getenv("OMTP_HTTP")))
        snprintf(o->http_url, sizeof(o->http_url), "%s", e);
    if (!o->token[0] && (e = getenv("OMTP_TOKEN")))
        snprintf(o->token, sizeof(o->token), "%s", e);
    if (!o->device_set && (e = getenv("OMTP_DEVICE")) && *e) {
        o->device = cli_device_from_name(e);
        if (o->device < 0) {
            fprintf(stderr, "omtp: unknown OMTP_DEVICE '%s'\n", e);
            return CLI_EUSAGE;
        }
        o->device_set = true;
    }
    rc = read_config(o, server_set);
    if (rc)
        return rc;
    if (!o->device_set)
        o->device = default_device;
    return 0;
}

int cli_need_password(cli_opts *o)
{
    if (o->password[0])
        return 0;
    /* a login token is accepted as the password (docs/http-api.md, Users) */
    size_t tl = strlen(o->token);
    if (!o->password_file[0] && tl && tl < sizeof(o->password)) {
        memcpy(o->password, o->token, tl + 1);
        return 0;
    }
    if (o->password_file[0]) {
        FILE *f = fopen(o->password_file, "r");
        if (!f) {
            fprintf(stderr, "omtp: cannot read the password file %s: %s\n", o->password_file,
                    strerror(errno));
            return CLI_EUSAGE;
        }
        char line[sizeof(o->password) + 2];
        if (!fgets(line, sizeof(line), f))
            line[0] = 0;
        fclose(f);
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) {
            fprintf(stderr,
                    "omtp: the password file %s is empty (its first line is the "
                    "password)\n",
                    o->password_file);
            return CLI_EUSAGE;
        }
        if (strlen(line) >= sizeof(o->password)) {
            explicit_bzero(line, sizeof(line));
            fprintf(stderr, "omtp: the password in %s is too long (at most %zu bytes)\n",
                    o->password_file, sizeof(o->password) - 1);
            return CLI_EUSAGE;
        }
        memcpy(o->password, line, strlen(line) + 1);
        explicit_bzero(line, sizeof(line));
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            char prompt[400];
            int pn = snprintf(prompt, sizeof(prompt), "Password for %s at %s:%d: ", o->user,
                              o->host, o->port);
            struct termios old, quiet;
            bool raw = tcgetattr(fd, &old) == 0;
            if (raw) {
                quiet = old;
                quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
                quiet.c_lflag |= ICANON;
                tcsetattr(fd, TCSAFLUSH, &quiet);
            }
            if (write(fd, prompt, (size_t)(pn < (int)sizeof(prompt) ? pn : 0)) < 0) {
                /* no prompt shown; reading still works */
            }
            char line[sizeof(o->password) + 2];
            ssize_t n = read(fd, line, sizeof(line) - 1);
            if (raw)
                tcsetattr(fd, TCSAFLUSH, &old);
            if (write(fd, "\n", 1) < 0) {
                /* cosmetic */
            }
            close(fd);
            line[n > 0 ? n : 0] = 0;
            line[strcspn(line, "\r\n")] = 0;
            size_t pl = strlen(line);
            if (pl < sizeof(o->password))
                memcpy(o->password, line, pl + 1);
            explicit_bzero(line, sizeof(line));
            if (pl >= sizeof(o->password)) {
                fprintf(stderr, "omtp: the password is too long (at most %zu bytes)\n",
                        sizeof(o->password) - 1);
                return CLI_EUSAGE;
            }
            if (o->password[0])
                return 0;
        }
    }
    fprintf(stderr,
            "omtp: no password for %s: give --password-file PATH (its first line), or "
            "set OMTP_PASSWORD, or password= in the config file, or run on a terminal "
            "to be asked\n",
            o->user);
    return CLI_EUSAGE;
}

const char *cli_device_id(void)
{
    static char id[64];
    static bool done;
    if (done)
        return id[0] ? id : NULL;
    done = true;
    char dir[1024];
    const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (st && st[0] == '/')
        snprintf(dir, sizeof(dir), "%s/omtp", st);
    else if (home && home[0])
        snprintf(dir, sizeof(dir), "%s/.local/state/omtp", home);
    else
        return NULL;
    /* mkdir -p, 0700 for what we create */
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    char path[1100];
    snprintf(path, sizeof(path), "%s/device-id", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t n = read(fd, id, sizeof(id) - 1);
        close(fd);
        id[n > 0 ? n : 0] = 0;
        id[strcspn(id, "\r\n")] = 0;
        if (strlen(id) >= 16)
            return id;
        id[0] = 0;
    }
    unsigned char rnd[16];
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(rnd, 1, sizeof(rnd), ur) != sizeof(rnd)) {
        if (ur)
            fclose(ur);
        return NULL;
    }
    fclose(ur);
    char fresh[64];
    for (int i = 0; i < 16; i++)
        snprintf(fresh + 2 * i, 3, "%02x", rnd[i]);
    /* write to a temp file and rename, so two first runs agree on one id */
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    bool ok = write(fd, fresh, 32) == 32 && write(fd, "\n", 1) == 1;
    close(fd);
    if (!ok || link(tmp, path) != 0) {
        unlink(tmp);
        /* lost the race (or cannot link): use the winner's */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            return NULL;
        ssize_t n = read(fd, id, sizeof(id) - 1);
        close(fd);
        id[n > 0 ? n : 0] = 0;
        id[strcspn(id, "\r\n")] = 0;
        return strlen(id) >= 16 ? id : NULL;
    }
    unlink(tmp);
    snprintf(id, sizeof(id), "%s", fresh);
    return id;
}

int cli_refused(const char *what, int code, const char *desc)
{
    return cli_refused_req(NULL, CLI_REQ_ANY, what, code, desc);
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

int cli_login(cli_opts *o, omtp_sync **out)
{
    *out = NULL;
    if (!o->user[0]) {
        fprintf(stderr, "omtp: no user: give --user USER (or set OMTP_USER, or user= in the "
                        "config file)\n");
        return CLI_EUSAGE;
    }
    int prc = cli_need_password(o);
    if (prc)
        return prc;
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
    rc = omtp_sync_login(c, o->user, o->password, o->device, cli_device_id(), &code);
    if (rc) {
        omtp_sync_close(c);
        return cli_failed("login", rc);
    }
    if (code != OMTP_EC_SUCCESS) {
        rc = cli_refused_req(o->cmd, CLI_REQ_LOGIN, o->user, code, omtp_sync_login_desc(c));
        omtp_sync_close(c);
        return rc;
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

void cli_json_str(FILE *f, const char *s)
{
    json_str(f, s);
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
        fprintf(f, ",\"contentType\":%d,\"content\":", (int)m->contentType);
        json_str(f, m->content.data);
        fprintf(f, ",\"revoked\":%s,\"edited\":%s,\"packId\":",
                (fl & OMTP_F_REVOKE) || m->status == MC_REVOKE ? "true" : "false",
                fl & OMTP_F_OVERRIDE ? "true" : "false");
        json_str(f, p->header.packId.data ? p->header.packId.data : "");
        fprintf(f, "}\n");
    } else {
        char ts[32], media[512];
        cli_fmt_time(m->timestamp, ts, sizeof(ts));
        if ((fl & OMTP_F_REVOKE) || m->status == MC_REVOKE)
            fprintf(f, "#%-5lld %s  %s: (revoked)\n", (long long)m->seqId, ts, m->from.data);
        else
            fprintf(f, "#%-5lld %s  %s: %s%s\n", (long long)m->seqId, ts, m->from.data,
                    omtp_file_summary(m->contentType, m->content.data, m->content.len, media,
                                      sizeof(media))
                        ? media
                        : m->content.data,
                    fl & OMTP_F_OVERRIDE ? "  (edited)" : "");
        cli_print_ext(f, m); /* cmd_react.c */
    }
    omtp_msg_free(&omtp_MsgReq_desc, &msg);
}

/* One example per command, shown by `omtp COMMAND --help`. */
static const char *const examples[][2] = {
    {"chat", "omtp chat bob --server 127.0.0.1:9000 --user alice"},
    {"login", "omtp login --user alice"},
    {"send", "omtp send bob 'lunch at noon?' --user alice"},
    {"group", "omtp group create 'team' bob carol --user alice"},
    {"sessions", "omtp sessions --user alice"},
    {"history", "omtp history bob --user alice"},
    {"search", "omtp search 'lunch at' --user alice"},
    {"read", "omtp read bob --user alice"},
    {"revoke", "omtp revoke bob 3 --user alice"},
    {"edit", "omtp edit bob 3 'lunch at one?' --user alice"},
    {"delete", "omtp delete bob 3 --user alice"},
    {"friends", "omtp friends add bob --user alice"},
    {"user", "omtp user set name='Alice A.' --user alice"},
    {"watch", "omtp watch --json --user bob"},
    {"react", "omtp react bob 3 '\xf0\x9f\x91\x8d' --user alice"},
    {"unreact", "omtp unreact bob 3 '\xf0\x9f\x91\x8d' --user alice"},
    {"reply", "omtp reply GC_team 7 'yes @bob, see you' --user alice"},
    {"presence", "omtp presence bob carol --user alice"},
    {"typing", "omtp typing bob --user alice"},
    {"readers", "omtp readers GC_1a2b 42 --user alice"},
};

int cli_start(int argc, char **argv, cli_opts *o, int default_device, int min_args,
              const char *usage_line, const char *desc)
{
    return cli_start_opts(argc, argv, o, default_device, min_args, usage_line, desc, NULL);
}

int cli_start_opts(int argc, char **argv, cli_opts *o, int default_device, int min_args,
                   const char *usage_line, const char *desc, const cli_opt *extra)
{
    bool help;
    int rc =
        cli_parse(argc > 0 ? argv[0] : "?", argc - 1, argv + 1, default_device, extra, o, &help);
    if (rc)
        return rc;
    if (help) {
        printf("usage: %s\n\n%s\n", usage_line, desc);
        if (extra && extra[0].name) {
            printf("\nOptions of this command:\n");
            for (const cli_opt *x = extra; x->name; x++) {
                char left[64];
                snprintf(left, sizeof(left), "--%s%s%s", x->name, x->arg ? " " : "",
                         x->arg ? x->arg : "");
                printf("  %-20s %s\n", left, x->help);
            }
        }
        for (size_t i = 0; argc > 0 && i < sizeof(examples) / sizeof(examples[0]); i++)
            if (!strcmp(argv[0], examples[i][0]))
                printf("\nExample (the password is asked for on the terminal):\n"
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
