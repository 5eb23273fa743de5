/*
 * cmd_watch.c - `omtp watch`: stays online (reconnecting as needed) and
 * prints every incoming message, control notice and read receipt as one
 * line on stdout, flushed at once (scripts can follow it).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/omtp_client.h"
#include "client/omtp_files.h"

typedef struct watch {
    uv_loop_t *loop;
    uv_signal_t sigint, sigterm;
    omtp_client *c;
    bool json;
    int rc;
} watch;

static void print_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            printf("\\n");
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void w_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    watch *w = ud;
    switch (ev->state) {
    case OMTP_CLIENT_ONLINE:
        fprintf(stderr, "omtp watch: online as %s\n", omtp_client_user(c));
        break;
    case OMTP_CLIENT_WAITING:
        fprintf(stderr, "omtp watch: disconnected (%s); reconnecting in %.1f s\n", ev->desc,
                ev->delay_ms / 1000.0);
        break;
    case OMTP_CLIENT_STOPPED:
        if (ev->code) {
            w->rc =
                cli_refused_req("watch", CLI_REQ_LOGIN, omtp_client_user(c), ev->code, ev->desc);
        } else if (ev->err) {
            fprintf(stderr, "omtp watch: stopped: %s\n", ev->desc);
            w->rc = CLI_ECONN;
        }
        uv_signal_stop(&w->sigint);
        uv_signal_stop(&w->sigterm);
        break;
    default:
        break;
    }
}

static void w_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                      void *ud)
{
    watch *w = ud;
    if (w->json) {
        printf("{\"type\":%d,\"sessionId\":", h->type);
        print_json_str(m->sessionId.data);
        printf(",\"seq\":%lld,\"from\":", (long long)m->seqId);
        print_json_str(m->from.data);
        printf(",\"to\":");
        print_json_str(m->to.data);
        printf(",\"content\":");
        print_json_str(m->content.data);
        printf(",\"timestamp\":%lld,\"catchup\":%s}\n", (long long)m->timestamp,
               catchup ? "true" : "false");
    } else {
        char ts[32], media[512];
        cli_fmt_time(m->timestamp, ts, sizeof(ts));
        printf(
            "[%s] %s #%lld %s: %s%s\n", ts, m->sessionId.data, (long long)m->seqId, m->from.data,
            omtp_file_summary(m->contentType, m->content.data, m->content.len, media, sizeof(media))
                ? media
                : m->content.data,
            catchup ? "  (missed while offline)" : "");
    }
    fflush(stdout);
}

static void w_control(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgControl *k,
                      bool catchup, void *ud)
{
    watch *w = ud;
    const char *what = k->command == MC_REVOKE   ? "revoked"
                       : k->command == MC_DELETE ? "deleted"
                                                 : "edited";
    if (w->json) {
        printf("{\"type\":17,\"command\":%d,\"sessionId\":", k->command);
        print_json_str(k->sessionId.data);
        printf(",\"seq\":%lld,\"content\":", (long long)k->seqId);
        print_json_str(k->content.data);
        printf("}\n");
    } else {
        printf("* %s #%lld %s%s%s\n", k->sessionId.data, (long long)k->seqId, what,
               k->command == MC_OVERRIDE ? ": " : "",
               k->command == MC_OVERRIDE ? k->content.data : "");
    }
    fflush(stdout);
}

static void w_read(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReaded *r, void *ud)
{
    watch *w = ud;
    if (w->json)
        printf("{\"type\":18,\"sessionId\":\"%s\",\"seq\":%lld}\n", r->sessionId.data,
               (long long)r->seqId);
    else
        printf("* %s read up to #%lld on another device\n", r->sessionId.data, (long long)r->seqId);
    fflush(stdout);
}

static void w_kick(omtp_client *c, const omtp_OTIMHeader *h, const omtp_KickOutReq *k, void *ud)
{
    fprintf(stderr,
            "omtp watch: kicked out: %s logged in again on device type %s (%s)\nhint: one "
            "login per device type; without --device, watch logs in as an observer that no "
            "login kicks\n",
            omtp_client_user(c), cli_device_name(k->deviceType), k->deviceId.data);
}

static void w_sync(omtp_client *c, const omtp_OTIMHeader *h, const omtp_SyncDataReq *s, void *ud)
{
    watch *w = ud;
    if (!w->json) {
        printf("* resync requested: %s\n", s->command == SYNC_FRIEND    ? "friends"
                                           : s->command == SYNC_SESSION ? "sessions"
                                                                        : "groups");
        fflush(stdout);
    }
}

static void w_signal(uv_signal_t *s, int sig)
{
    watch *w = s->data;
    uv_signal_stop(&w->sigint);
    uv_signal_stop(&w->sigterm);
    omtp_client_stop(w->c);
}

/* Builds the async client config from the CLI options. */

void cli_client_config(const cli_opts *o, omtp_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = o->host;
    cfg->port = o->port;
    cfg->ws_path = o->ws_path[0] ? o->ws_path : NULL;
    cfg->user = o->user;
    cfg->password = o->password;
    cfg->device_type = o->device;
    cfg->device_id = cli_device_id(); /* NULL: libomtp makes a random one */
    cfg->request_timeout_ms = o->timeout_ms;
    cfg->connect_timeout_ms = o->timeout_ms;
    const char *ka = getenv("OMTP_KEEPALIVE");
    if (ka)
        cfg->keepalive_s = atoi(ka);
}

int cmd_watch(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, CLI_ONESHOT_DEVICE, 0, "omtp watch [--json] [OPTIONS]",
                       "Stays online and prints incoming messages as they arrive, one per line\n"
                       "(also revoke/edit/delete notices and read receipts of your other\n"
                       "devices). Reconnects by itself and prints what was missed meanwhile.\n"
                       "Stops on Ctrl-C.\n"
                       "It logs in as device type `observer`: it kicks nobody (not your open\n"
                       "`omtp chat`, which is linux, nor an app), and no login kicks it; several\n"
                       "watches of one user run side by side. --device TYPE makes it an ordinary\n"
                       "device of that type instead (then a login of that type replaces it).");
    if (rc >= 0)
        return rc;
    if (!o.user[0]) {
        fprintf(stderr, "omtp: no user: give --user USER (or set OMTP_USER)\n");
        return CLI_EUSAGE;
    }
    if ((rc = cli_need_password(&o)))
        return rc;
    watch w = {.loop = uv_default_loop(), .json = o.json};
    omtp_client_config cfg;
    cli_client_config(&o, &cfg);
    omtp_client_callbacks cb = {.on_state = w_state,
                                .on_message = w_message,
                                .on_control = w_control,
                                .on_read = w_read,
                                .on_kickout = w_kick,
                                .on_sync_data = w_sync};
    if (omtp_client_new(w.loop, &cfg, &cb, &w, &w.c)) {
        fprintf(stderr, "omtp watch: cannot create the client\n");
        return CLI_ECONN;
    }
    uv_signal_init(w.loop, &w.sigint);
    uv_signal_init(w.loop, &w.sigterm);
    w.sigint.data = w.sigterm.data = &w;
    uv_signal_start(&w.sigint, w_signal, SIGINT);
    uv_signal_start(&w.sigterm, w_signal, SIGTERM);
    omtp_client_start(w.c);
    uv_run(w.loop, UV_RUN_DEFAULT);
    omtp_client_destroy(w.c);
    uv_close((uv_handle_t *)&w.sigint, NULL);
    uv_close((uv_handle_t *)&w.sigterm, NULL);
    uv_run(w.loop, UV_RUN_DEFAULT);
    uv_loop_close(w.loop);
    return w.rc;
}
