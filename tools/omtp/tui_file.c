/*
 * tui_file.c - files in `omtp chat`: /file PATH uploads on a libuv worker
 * thread (the transfer blocks: client/omtp_files.h) while the loop keeps
 * drawing and receiving, then sends the media message from the loop thread;
 * media messages are shown as one line ("[image 640×480 cat.jpg 120 KB]").
 *
 * Threading: tui_file_send, the after-work callback and tui_file_text run on
 * the loop thread; up_work runs on a worker thread and touches only its job
 * (and reads `stop`, an atomic).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "client/omtp_files.h"
#include "tui.h"

static atomic_bool stop;

typedef struct up_job {
    uv_work_t w;
    chat *t;
    char sid[256];
    char path[1024];
    char base[512];
    char tok[1024];
    omtp_file_opts fo;
    int rc;
    omtp_file_info fi;
    omtp_file_result res;
} up_job;

/* Worker thread: stops the transfer once the chat quits. */
static int up_progress(void *arg, uint64_t done, uint64_t total)
{
    (void)arg;
    (void)done;
    (void)total;
    return atomic_load(&stop) ? 1 : 0;
}

static void up_work(uv_work_t *w)
{
    up_job *j = w->data;
    j->rc = omtp_file_upload_path(&j->fo, j->path, NULL, NULL, &j->fi, &j->res);
}

static void up_after(uv_work_t *w, int status)
{
    up_job *j = w->data;
    chat *t = j->t;
    conv *v = tui_conv_find(t, j->sid, false);
    char *content = NULL;
    if (status || t->quitting) {
        /* cancelled or quitting: nothing to send */
    } else if (j->rc) {
        snprintf(t->note, sizeof(t->note), "/file %.100s: %.300s%s%.60s", j->path, j->res.message,
                 j->res.code[0] ? " " : "", j->res.code);
    } else if (!v) {
        snprintf(t->note, sizeof(t->note), "/file: uploaded %s, but its conversation is gone",
                 j->fi.fileId);
    } else if (omtp_file_content_json(&j->fi, &content) == 0) {
        char shown[512];
        int ct = omtp_file_content_type(j->fi.mime);
        omtp_file_summary(ct, content, strlen(content), shown, sizeof(shown));
        tui_send_typed(t, v, ct, content, shown, 0);
        t->note[0] = '\0';
    }
    free(content);
    free(j);
    if (!t->quitting)
        tui_redraw(t);
}

void tui_file_send(chat *t, conv *v, const char *arg)
{
    while (*arg == ' ')
        arg++;
    if (!*arg) {
        snprintf(t->note, sizeof(t->note), "/file PATH: which file?");
        return;
    }
    struct stat st;
    if (stat(arg, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(t->note, sizeof(t->note), "/file: %.400s is not a file that can be read", arg);
        return;
    }
    up_job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->t = t;
    snprintf(j->sid, sizeof(j->sid), "%s", v->id);
    snprintf(j->path, sizeof(j->path), "%s", arg);
    /* the target's problems are said on stderr by the CLI; here in the note */
    if (!t->o->http_url[0] && !t->o->ws_path[0]) {
        snprintf(t->note, sizeof(t->note),
                 "/file: give omtpd's HTTP address: omtp chat --http http://HOST:PORT");
        free(j);
        return;
    }
    if (t->o->http_url[0] && strncmp(t->o->http_url, "http://", 7) &&
        strncmp(t->o->http_url, "https://", 8)) {
        snprintf(t->note, sizeof(t->note), "/file: --http wants http://HOST:PORT");
        free(j);
        return;
    }
    if (!t->o->token[0]) {
        snprintf(t->note, sizeof(t->note),
                 "/file: file transfers need your login token: omtp chat --token TOKEN");
        free(j);
        return;
    }
    if (cli_file_target(t->o, NULL, &j->fo, j->tok, sizeof(j->tok))) {
        snprintf(t->note, sizeof(t->note), "/file: bad --http address");
        free(j);
        return;
    }
    snprintf(j->base, sizeof(j->base), "%s", t->o->http_url);
    j->fo.base_url = j->base;
    j->fo.progress = up_progress;
    j->fo.progress_arg = j;
    j->w.data = j;
    atomic_store(&stop, false);
    if (uv_queue_work(t->loop, &j->w, up_work, up_after)) {
        snprintf(t->note, sizeof(t->note), "/file: could not start the upload");
        free(j);
        return;
    }
    char sz[32];
    omtp_file_size_text((uint64_t)st.st_size, sz, sizeof(sz));
    snprintf(t->note, sizeof(t->note), "uploading %.400s (%s)...", arg, sz);
}

const char *tui_file_text(const omtp_MsgReq *m, char *buf, size_t n)
{
    if (m->contentType != 1 && m->content.data &&
        omtp_file_summary(m->contentType, m->content.data, m->content.len, buf, n))
        return buf;
    return m->content.data;
}

void tui_file_stop(chat *t)
{
    (void)t;
    atomic_store(&stop, true);
}
