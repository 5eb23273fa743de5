/*
 * thread_prio.c - omtp_thread_background (thread_prio.h).
 */
#include "thread_prio.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

void omtp_thread_background(void)
{
    omtp_thread_nice(OMTP_BACKGROUND_NICE);
}

void omtp_thread_nice(int by)
{
    static _Thread_local bool done;
    if (done || by <= 0)
        return;
    done = true;
#ifdef __linux__
    /* On Linux PRIO_PROCESS with a thread id sets that thread's nice only. */
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && setpriority(PRIO_PROCESS, (id_t)tid, now + by) != 0)
        omtp_log(OMTP_LOG_DEBUG, "background thread priority not lowered: errno %d", errno);
#endif
}
