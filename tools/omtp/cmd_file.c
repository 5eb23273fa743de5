/*
 * cmd_file.c - files from the command line (issue #16, docs/cli.md
 * "Files"): `omtp send USER --file PATH` (upload, then a media message)
 * and `omtp download FILEID [-o PATH]` (resumable, progress on a terminal).
 * The transfers are client/omtp_files.h over HTTP (blocking: fine here, the
 * CLI's one-shot commands have no event loop).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client/omtp_files.h"
#include "omtp_cli.h"

/* ---- where and as whom */

int cli_file_target(cli_opts *o, omtp_sync *c, omtp_file_opts *fo, char *tok, size_t toklen)
{
    memset(fo, 0, sizeof(*fo));
    tok[0] = '\0';
    if (!o->http_url[0] && o->ws_path[0]) /* files live on the ws_listen listener too */
        snprintf(o->http_url, sizeof(o->http_url), "http://%s%s%s:%d",
                 strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "",
                 o->port);
    if (!o->http_url[0]) {
        fprintf(stderr,
                "omtp %s: files go over HTTP: give omtpd's HTTP address with --http "
                "http://HOST:PORT (its http_listen or ws_listen; OMTP_HTTP or http= in the "
                "config file)\n",
                o->cmd);
        return CLI_EUSAGE;
    }
    if (strncmp(o->http_url, "http://", 7) && strncmp(o->http_url, "https://", 8)) {
        fprintf(stderr, "omtp %s: bad --http '%s': want http://HOST:PORT or https://HOST:PORT\n",
                o->cmd, o->http_url);
        return CLI_EUSAGE;
    }
    /* a password login may have handed back a fresh file token */
    if (c && omtp_file_login_token(omtp_sync_login_desc(c), tok, toklen)) {
    } else if (o->token[0]) {
        snprintf(tok, toklen, "%s", o->token);
    } else {
        fprintf(stderr,
                "omtp %s: file transfers need your login token: give --token TOKEN "
                "(OMTP_TOKEN; an administrator makes one with `omtpd token issue %s`)\n",
                o->cmd, o->user[0] ? o->user : "USER");
        return CLI_EUSAGE;
    }
    fo->base_url = o->http_url;
    fo->token = tok;
    fo->connect_timeout_ms = o->timeout_ms;
    return 0;
}

int cli_file_failed(const char *cmd, const char *what, int rc, const omtp_file_result *res)
{
    if (res->status >= 400) {
        fprintf(stderr, "omtp %s: %s was refused: %s [HTTP %ld %s]\n", cmd, what, res->message,
                res->status, res->code);
        const char *hint = NULL;
        if (res->status == 401)
            hint = "the token is wrong or expired: get a fresh one (`omtpd token issue USER`)";
        else if (res->status == 404)
            hint = "no such file, or you may not read it (only its uploader and the members of a "
                   "conversation that holds it can)";
        else if (res->status == 413)
            hint = "the file is larger than the server's max_file_size, or over your quota";
        else if (res->status == 429)
            hint = "too many uploads: wait a minute";
        else if (res->status == 507)
            hint = "the server's disk is full: tell its administrator";
        if (hint)
            fprintf(stderr, "hint: %s\n", hint);
        return CLI_EREFUSED;
    }
    fprintf(stderr, "omtp %s: %s failed: %s (%s)\n", cmd, what,
            res->message[0] ? res->message : "error", omtp_strerror(rc));
    return rc == OMTP_EINVAL ? CLI_EUSAGE : CLI_ECONN;
}

/* ---- progress on a terminal */

typedef struct progress {
    const char *label;
    int64_t last_ms;
    bool shown;
} progress;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int show_progress(void *arg, uint64_t done, uint64_t total)
{
    progress *p = arg;
    int64_t now = mono_ms();
    if (now - p->last_ms < 200 && done != total)
        return 0;
    p->last_ms = now;
    char d[32], t[32];
    omtp_file_size_text(done, d, sizeof(d));
    if (total) {
        omtp_file_size_text(total, t, sizeof(t));
        fprintf(stderr, "\r%s %3d%%  %s of %s   ", p->label, (int)(done * 100 / total), d, t);
    } else {
        fprintf(stderr, "\r%s %s   ", p->label, d);
    }
    p->shown = true;
    return 0;
}

static void progress_end(progress *p)
{
    if (p->shown)
        fprintf(stderr, "\n");
}

/* ---- omtp send USER --file PATH, omtp group send GROUP --file PATH */

int cli_send_file(cli_opts *o, int type, const char *to, const char *path, const char *name)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "omtp %s: cannot send %s: %s\n", o->cmd, path, strerror(errno));
        return CLI_EUSAGE;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "omtp %s: cannot send %s: not a regular file\n", o->cmd, path);
        return CLI_EUSAGE;
    }
    omtp_sync *c;
    int rc = cli_login(o, &c);
    if (rc)
        return rc;
    omtp_file_opts fo;
    char tok[1024];
    if ((rc = cli_file_target(o, c, &fo, tok, sizeof(tok)))) {
        omtp_sync_close(c);
        return rc;
    }
    progress pg = {.label = "uploading"};
    if (isatty(STDERR_FILENO) && !o->json) {
        fo.progress = show_progress;
        fo.progress_arg = &pg;
    }
    omtp_file_info fi;
    omtp_file_result res;
    rc = omtp_file_upload_path(&fo, path, name, NULL, &fi, &res);
    progress_end(&pg);
    if (rc) {
        omtp_sync_close(c);
        return cli_file_failed(o->cmd, "the upload", rc, &res);
    }
    char *content = NULL;
    if (omtp_file_content_json(&fi, &content)) {
        omtp_sync_close(c);
        return cli_failed("send", OMTP_ENOMEM);
    }
    int ct = omtp_file_content_type(fi.mime);
    omtp_MsgAck ack;
    rc = omtp_sync_send_typed(c, type, to, ct, content, NULL, 0, &ack);
    if (rc) {
        rc = cli_failed("send", rc);
    } else if (ack.code != 0) {
        rc = cli_refused_req(o->cmd, type == PT_MSG_GROUP_CHAT ? CLI_REQ_GROUP_SEND : CLI_REQ_SEND,
                             to, ack.code, ack.desc.data);
    } else if (o->json) {
        printf("{\"sessionId\":\"%s\",\"seq\":%lld,\"timestamp\":%lld,\"contentType\":%d,"
               "\"file\":%s}\n",
               ack.sessionId.data, (long long)ack.seqId, (long long)ack.timestamp, ct, content);
    } else {
        char summary[512];
        omtp_file_summary(ct, content, strlen(content), summary, sizeof(summary));
        printf("sent %s to %s: session %s seq %lld (file %s)\n", summary, to, ack.sessionId.data,
               (long long)ack.seqId, fi.fileId);
    }
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    free(content);
    omtp_sync_close(c);
    return rc;
}

/* ---- omtp download FILEID [-o PATH] */

int cmd_download(int argc, char **argv)
{
    cli_opts o;
    const char *out = NULL;
    bool cont = false;
    const cli_opt extra[] = {
        {"output", "PATH", "write the file here (default: ./FILEID)", &out, NULL},
        {"continue", NULL, "PATH exists and is a partial download: go on from its end", NULL,
         &cont},
        {NULL, NULL, NULL, NULL, NULL},
    };
    /* -o PATH is the short form of --output */
    static char long_output[] = "--output";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-o"))
            argv[i] = long_output;
    }
    int rc = cli_start_opts(
        argc, argv, &o, CLI_ONESHOT_DEVICE, 1, "omtp download FILEID [-o PATH] [OPTIONS]",
        "Downloads an uploaded file (the fileId of a media message: `omtp history --json`\n"
        "shows it) over HTTP, authenticated with your login token (--token). Progress is\n"
        "shown on a terminal. The bytes go to PATH.part first, renamed to PATH when\n"
        "complete; if PATH.part is there from an interrupted download, it is continued\n"
        "(HTTP Range) instead of starting over. --continue treats an existing PATH as\n"
        "the partial file instead.",
        extra);
    if (rc >= 0)
        return rc;
    const char *id = o.argv[0];
    if (o.argc > 1) {
        fprintf(stderr, "omtp download: one FILEID at a time (got %d arguments)\n", o.argc);
        return CLI_EUSAGE;
    }
    if (strlen(id) > OMTP_FILE_ID_MAX || strspn(id, "0123456789abcdefABCDEF") != strlen(id)) {
        fprintf(stderr,
                "omtp download: '%s' is not a file id (hex digits, as in a media "
                "message's \"fileId\")\n",
                id);
        return CLI_EUSAGE;
    }
    omtp_file_opts fo;
    char tok[1024];
    omtp_sync *c = NULL;
    /* no token given: a password login may hand one back */
    if (!o.token[0] && (o.password[0] || o.password_file[0]) && o.user[0]) {
        if ((rc = cli_login(&o, &c)))
            return rc;
    }
    rc = cli_file_target(&o, c, &fo, tok, sizeof(tok));
    if (c)
        omtp_sync_close(c);
    if (rc)
        return rc;
    char dest[4096], part[4200];
    snprintf(dest, sizeof(dest), "%s", out ? out : id);
    if (!strcmp(dest, "-")) {
        fprintf(stderr, "omtp download: -o - (standard output) is not supported; give a path\n");
        return CLI_EUSAGE;
    }
    struct stat st;
    if (cont)
        snprintf(part, sizeof(part), "%s", dest);
    else
        snprintf(part, sizeof(part), "%s.part", dest);
    bool resume = stat(part, &st) == 0 && S_ISREG(st.st_mode);
    if (resume && !o.json)
        fprintf(stderr, "omtp download: continuing %s from %" PRIu64 " bytes\n", part,
                (uint64_t)st.st_size);
    progress pg = {.label = "downloading"};
    if (isatty(STDERR_FILENO) && !o.json) {
        fo.progress = show_progress;
        fo.progress_arg = &pg;
    }
    uint64_t total = 0;
    omtp_file_result res;
    rc = omtp_file_download_path(&fo, id, part, resume, &total, &res);
    progress_end(&pg);
    if (rc) {
        int ret = cli_file_failed("download", "the download", rc, &res);
        if (res.status == 416) {
            fprintf(stderr,
                    "hint: %s is longer than the file, so it is not a part of it: remove "
                    "it and run the command again\n",
                    part);
        } else if (res.status >= 400) {
            if (!resume)
                unlink(part); /* nothing of the file came */
        } else if (!cont) {
            fprintf(stderr, "hint: run the same command again to continue from %s\n", part);
        }
        return ret;
    }
    if (!cont && rename(part, dest) != 0) {
        fprintf(stderr, "omtp download: cannot rename %s to %s: %s\n", part, dest, strerror(errno));
        return CLI_ECONN;
    }
    if (o.json) {
        printf("{\"fileId\":\"%s\",\"path\":", id);
        cli_json_str(stdout, dest);
        printf(",\"size\":%" PRIu64 "}\n", total);
    } else {
        char sz[32];
        omtp_file_size_text(total, sz, sizeof(sz));
        printf("downloaded %s to %s (%s)\n", id, dest, sz);
    }
    return 0;
}
