/*
 * redis_uv.h - hiredis async API on a libuv loop.
 *
 * Our own adapter instead of <hiredis/adapters/libuv.h>: the one shipped
 * with hiredis 0.14 drops poll errors (`if (status != 0) return;`), so a
 * connection refused while Redis is down never reaches the connect
 * callback and the client waits forever. This one hands an error to
 * hiredis as a read/write event, which then reports it (connect callback
 * with an error, or disconnect).
 */
#ifndef OMTP_REDIS_UV_H
#define OMTP_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac to loop. REDIS_OK or REDIS_ERR. Detaches itself when hiredis
 * frees the context. Loop thread only. */
int omtp_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
