/*
 * loopwake.c - an eventfd polled by the loop (loopwake.h).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store/loopwake.h"

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    omtp_loopwake *w = (omtp_loopwake *)h;
    uint64_t n;
    /* one read resets the count (non-blocking: EAGAIN = nothing new) */
    while (read(w->fd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    w->cb(w->arg);
}

int omtp_loopwake_init(uv_loop_t *loop, omtp_loopwake *w, void (*cb)(void *arg), void *arg)
{
    w->cb = cb;
    w->arg = arg;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0)
        return -errno;
    int rc = uv_poll_init(loop, &w->poll, w->fd);
    if (rc != 0) {
        close(w->fd);
        w->fd = -1;
        return rc;
    }
    /* cannot fail with a valid fd and events (the epoll_ctl is deferred to
     * the loop's next poll) */
    (void)uv_poll_start(&w->poll, UV_READABLE, on_readable);
    return 0;
}

void omtp_loopwake_send(omtp_loopwake *w)
{
    uint64_t one = 1;
    /* EAGAIN only with the count at its maximum: a wake-up is pending */
    while (write(w->fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void omtp_loopwake_close(omtp_loopwake *w, uv_close_cb close_cb)
{
    /* uv_close stops the poll at once (epoll_ctl DEL): the fd may go now */
    uv_close((uv_handle_t *)&w->poll, close_cb);
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}
