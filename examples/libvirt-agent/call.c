/* SPDX-License-Identifier: MIT */
/*
 * libvirt calls that go to a domain's QEMU monitor, with a time limit.
 *
 * libvirt waits on a QEMU monitor without one: a QEMU that stops answering
 * (stopped, stuck in the kernel on its storage, held in a debugger) holds
 * every such call for as long as it hangs, and an agent that made the call
 * in its event loop would hang with it: no tick for the other domains, no
 * metrics, no answer to SIGTERM. So each call runs in a thread of its own
 * and is waited for at most a few seconds. One that takes longer is left
 * to finish on its own; until it does, the domain is busy, and its next
 * calls fail at once (LV_CALL_HUNG) instead of queueing behind it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvagent.h"

/* libvirt's message for this thread's last call that failed in time. */
static _Thread_local char last_error[256];

struct lv_call {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int refs; /* the call's thread, and whoever waits for it or keeps it */
	int done;
	int ret;
	char error[256]; /* libvirt's message, saved in the call's thread */
	virDomainPtr dom; /* a reference of the call's own */
	const char *what;
	int (*fn)(virDomainPtr dom, void *arg);
	size_t size;
	max_align_t arg[]; /* the caller's argument, copied in (and out) */
};

static void
call_release(struct lv_call *c)
{
	pthread_mutex_lock(&c->lock);
	int last = --c->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (!last)
		return;
	virDomainFree(c->dom);
	pthread_cond_destroy(&c->done_cv);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void
call_finish(struct lv_call *c, int ret)
{
	char error[sizeof(c->error)] = "";

	if (ret < 0) /* (libvirt's last error is this thread's) */
		snprintf(error, sizeof(error), "%s", lv_virerr());
	pthread_mutex_lock(&c->lock);
	c->ret = ret;
	memcpy(c->error, error, sizeof(error));
	c->done = 1;
	pthread_cond_signal(&c->done_cv);
	pthread_mutex_unlock(&c->lock);
}

static void *
call_thread(void *arg)
{
	struct lv_call *c = arg;

	call_finish(c, c->fn(c->dom, c->arg));
	call_release(c);
	return NULL;
}

int
lv_call_busy(struct lv_call **busy)
{
	struct lv_call *c = *busy;
	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	int done = c->done;
	pthread_mutex_unlock(&c->lock);
	if (!done)
		return 1;
	lv_log(LV_INFO, "%s: %s returned after all; its calls go on", virDomainGetName(c->dom),
	       c->what);
	*busy = NULL;
	call_release(c);
	return 0;
}

void
lv_call_drop(struct lv_call **busy)
{
	if (*busy != NULL)
		call_release(*busy);
	*busy = NULL;
}

int
lv_call(struct lv_call **busy, virDomainPtr dom, const char *what,
	int (*fn)(virDomainPtr dom, void *arg), void *arg, size_t size, int wait_ms)
{
	if (busy != NULL && lv_call_busy(busy))
		return LV_CALL_HUNG;
	struct lv_call *c = calloc(1, sizeof(*c) + size);
	pthread_condattr_t attr;
	if (c == NULL || pthread_condattr_init(&attr) != 0) {
		free(c); /* no room for a thread's call: made here, without a limit */
		int ret = fn(dom, arg);
		if (ret < 0)
			snprintf(last_error, sizeof(last_error), "%s", lv_virerr());
		return ret;
	}
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->done_cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&c->lock, NULL);
	virDomainRef(dom);
	c->dom = dom;
	c->what = what;
	c->fn = fn;
	c->size = size;
	if (size)
		memcpy(c->arg, arg, size);
	c->refs = 2;

	pthread_t thread;
	pthread_attr_t tattr;
	int started = pthread_attr_init(&tattr) == 0;
	if (started) {
		pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&thread, &tattr, call_thread, c) == 0;
		pthread_attr_destroy(&tattr);
	}
	if (!started) {
		c->refs = 1;
		call_finish(c, fn(dom, c->arg));
	}

	struct timespec deadline = lv_deadline(wait_ms);
	pthread_mutex_lock(&c->lock);
	while (!c->done && pthread_cond_timedwait(&c->done_cv, &c->lock, &deadline) != ETIMEDOUT)
		;
	int done = c->done, ret = c->ret;
	if (done && ret < 0)
		memcpy(last_error, c->error, sizeof(last_error));
	if (done && size)
		memcpy(arg, c->arg, size);
	pthread_mutex_unlock(&c->lock);
	if (done) {
		call_release(c);
		return ret;
	}
	lv_log(LV_WARN, "%s: %s has not returned in %d ms (its QEMU's monitor may hang); %s",
	       virDomainGetName(dom), what, wait_ms,
	       busy != NULL ? "no more calls for the domain until it does" : "given up on");
	if (busy != NULL)
		*busy = c; /* the caller's reference, kept */
	else
		call_release(c);
	return LV_CALL_HUNG;
}

const char *
lv_call_err(int rc)
{
	return rc == LV_CALL_HUNG ? "no answer in time (its QEMU's monitor may hang)" : last_error;
}

/* ---- the calls the agent makes ---- */

struct stats_arg {
	virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
};

static int
call_memory_stats(virDomainPtr dom, void *arg)
{
	struct stats_arg *s = arg;
	return virDomainMemoryStats(dom, s->stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
}

int
lv_dom_memory_stats(struct lv_call **busy, virDomainPtr dom, virDomainMemoryStatStruct *stats)
{
	struct stats_arg s;
	int n = lv_call(busy, dom, "virDomainMemoryStats", call_memory_stats, &s, sizeof(s),
			LV_CALL_WAIT_MS);
	if (n > 0)
		memcpy(stats, s.stats, (size_t)n * sizeof(stats[0]));
	return n;
}

static int
call_set_memory(virDomainPtr dom, void *arg)
{
	return virDomainSetMemoryFlags(dom, *(unsigned long *)arg, VIR_DOMAIN_AFFECT_LIVE);
}

int
lv_dom_set_memory(struct lv_call **busy, virDomainPtr dom, unsigned long kib)
{
	return lv_call(busy, dom, "virDomainSetMemoryFlags", call_set_memory, &kib, sizeof(kib),
		       LV_CALL_WAIT_MS);
}

static int
call_stats_period(virDomainPtr dom, void *arg)
{
	return virDomainSetMemoryStatsPeriod(dom, *(int *)arg, VIR_DOMAIN_AFFECT_LIVE);
}

int
lv_dom_set_stats_period(struct lv_call **busy, virDomainPtr dom, int period_s)
{
	return lv_call(busy, dom, "virDomainSetMemoryStatsPeriod", call_stats_period, &period_s,
		       sizeof(period_s), LV_CALL_WAIT_MS);
}

static int
call_suspend(virDomainPtr dom, void *arg)
{
	(void)arg;
	return virDomainSuspend(dom);
}

int
lv_dom_suspend(struct lv_call **busy, virDomainPtr dom)
{
	return lv_call(busy, dom, "virDomainSuspend", call_suspend, NULL, 0, LV_CALL_WAIT_MS);
}

static int
call_resume(virDomainPtr dom, void *arg)
{
	(void)arg;
	return virDomainResume(dom);
}

int
lv_dom_resume(struct lv_call **busy, virDomainPtr dom)
{
	return lv_call(busy, dom, "virDomainResume", call_resume, NULL, 0, LV_CALL_WAIT_MS);
}
