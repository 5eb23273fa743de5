/*
 * redis_uv.c - hiredis async events on libuv (see redis_uv.h for why).
 */
#include <stdlib.h>

#include "redis_uv.h"

typedef struct redis_uv {
    redisAsyncContext *ac;
    uv_poll_t poll;
    int events;
} redis_uv;

static void on_poll(uv_poll_t *h, int status, int events)
{
    redis_uv *p = h->data;
    /* an error (refused, reset): let hiredis find it on the socket */
    int ev = status < 0 ? p->events : events;
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void update(redis_uv *p, int events)
{
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void add_read(void *priv)
{
    redis_uv *p = priv;
    update(p, p->events | UV_READABLE);
}

static void del_read(void *priv)
{
    redis_uv *p = priv;
    update(p, p->events & ~UV_READABLE);
}

static void add_write(void *priv)
{
    redis_uv *p = priv;
    update(p, p->events | UV_WRITABLE);
}

static void del_write(void *priv)
{
    redis_uv *p = priv;
    update(p, p->events & ~UV_WRITABLE);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void cleanup(void *priv)
{
    redis_uv *p = priv;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_closed);
}

int omtp_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    redis_uv *p = calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->ac = ac;
    p->poll.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
