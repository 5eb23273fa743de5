/*
 * thread_prio.h - background work yields the CPU to the event loop.
 *
 * omtpd runs its chat on one event-loop thread. Work that may come in
 * bursts and needs no answer within milliseconds -- password KDFs of a
 * reconnect storm, file sniffing and hashing -- runs on libuv's threadpool.
 * On a machine with few cores such a burst competes with the loop for the
 * CPU, and chat latency pays. A threadpool worker calls
 * omtp_thread_background() at the start of such work: the thread's nice
 * value goes up by OMTP_BACKGROUND_NICE (Linux: per thread), once; when the
 * loop and the worker both want a core the loop gets ~90% of it, and when
 * the core is free the work runs at full speed. Nothing to undo: every job
 * on libuv's threadpool is background work in omtpd.
 *
 * Thread-safe (acts on the calling thread only); never call it on the loop
 * thread or the store thread.
 */
#ifndef OMTP_THREAD_PRIO_H
#define OMTP_THREAD_PRIO_H

#define OMTP_BACKGROUND_NICE 10

void omtp_thread_background(void);

/* The same with the amount given: raises the calling thread's nice value
 * by `by` (1..19), once per thread (a later call, either one, does
 * nothing). The HTTP API's threads, where file transfers run, call it with
 * http_nice (src/http/http.c). */
void omtp_thread_nice(int by);

#endif
