/*
 * close_observers.c - the core's list of close observers (server.h): the
 * subsystems above the connection core register here instead of conn.c
 * calling them when an online connection closes.
 *
 * Threading: loop thread only.
 */
#include "server.h"

int omtp_server_on_close(omtp_server *s, omtp_close_fn fn, void *arg)
{
    if (s->nclose_observers >= OMTP_CLOSE_OBSERVERS_MAX) {
        LOG_ERROR("server: more than %d close observers", OMTP_CLOSE_OBSERVERS_MAX);
        return OMTP_ENOMEM;
    }
    s->close_observers[s->nclose_observers].fn = fn;
    s->close_observers[s->nclose_observers].arg = arg;
    s->nclose_observers++;
    return 0;
}

void omtp_server_off_close(omtp_server *s, omtp_close_fn fn, void *arg)
{
    for (int i = 0; i < s->nclose_observers; i++)
        if (s->close_observers[i].fn == fn && s->close_observers[i].arg == arg) {
            for (int k = i + 1; k < s->nclose_observers; k++)
                s->close_observers[k - 1] = s->close_observers[k];
            s->nclose_observers--;
            return;
        }
}

void omtp_server_run_close_observers(omtp_conn *c)
{
    omtp_server *s = c->srv;
    for (int i = 0; i < s->nclose_observers; i++)
        s->close_observers[i].fn(s->close_observers[i].arg, c);
}
