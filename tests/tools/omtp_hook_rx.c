/*
 * omtp_hook_rx.c - the webhook receiver of tests/support/hook_receiver.c as
 * a process, for script tests (tests/scripts/cluster_webhook.sh):
 *
 *   omtp_hook_rx PORT_FILE RECORD_FILE
 *
 * Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening),
 * answers every request 200 and appends one JSON line per request to
 * RECORD_FILE. Runs until SIGTERM/SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "hook_receiver.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: omtp_hook_rx PORT_FILE RECORD_FILE\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    hook_rx *rx = hook_rx_start(0, argv[2]);
    if (!rx) {
        fprintf(stderr, "omtp_hook_rx: cannot listen\n");
        return 1;
    }
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", hook_rx_port(rx)) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[1]) != 0) {
        fprintf(stderr, "omtp_hook_rx: cannot write %s\n", argv[1]);
        hook_rx_free(rx);
        return 1;
    }
    while (!stop)
        pause();
    hook_rx_free(rx);
    return 0;
}
