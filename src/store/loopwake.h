/*
 * loopwake.h - wakes a libuv loop from another thread without spinning:
 * an eventfd the other thread writes and the loop polls. What uv_async_t
 * does, minus its hazard on libuv 1.44 (Debian 12): uv_async_send marks
 * the handle "busy", writes the loop's wake-up fd, then marks it "done";
 * the loop, woken by that very write (on a 2-core box often preempting
 * the sender before it marks "done"), spins on the handle and calls
 * sched_yield() until the sender runs again - a whole time slice of other
 * processes, tens of ms on a loaded machine, during which no push leaves.
 * docs/storage.md "The log path's latency tail" has the measurements.
 *
 * Threading: init/close/handle on the loop thread; send from any thread
 * (the senders must have stopped before close). The callback runs on the
 * loop thread, once for one or more sends.
 * Ownership: the caller owns the struct (embedded); close closes the fd
 * and the poll handle (close_cb gets the poll handle, as uv_close's).
 */
#ifndef OMTP_STORE_LOOPWAKE_H
#define OMTP_STORE_LOOPWAKE_H

#include <uv.h>

typedef struct omtp_loopwake {
    uv_poll_t poll; /* first: the handle uv_close's callback gets */
    int fd;
    void (*cb)(void *arg);
    void *arg;
} omtp_loopwake;

/* 0, or a negative errno (eventfd or uv_poll_init failed; nothing to close). */
int omtp_loopwake_init(uv_loop_t *loop, omtp_loopwake *w, void (*cb)(void *arg), void *arg);
/* Any thread: the callback runs soon on the loop. Async-signal-safe. */
void omtp_loopwake_send(omtp_loopwake *w);
/* The poll handle, for uv_ref/uv_unref (an unref'd wake keeps no loop alive). */
static inline uv_handle_t *omtp_loopwake_handle(omtp_loopwake *w)
{
    return (uv_handle_t *)&w->poll;
}
/* Stops polling, closes the fd; close_cb runs with the poll handle (whose
 * data field the caller may have set) on the loop's next turn. */
void omtp_loopwake_close(omtp_loopwake *w, uv_close_cb close_cb);

#endif
