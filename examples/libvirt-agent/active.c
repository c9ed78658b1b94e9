/* SPDX-License-Identifier: MIT */
/*
 * Active memory, sampled on the host and smoothed by reclaim's estimator.
 *
 * Accessed bits are the host's only view of which guest pages are in use,
 * and under hardware virtualization (EPT/NPT) the guest's accesses set them
 * in KVM's page tables, not in QEMU's: a method must ask KVM through the
 * MMU notifiers. Three methods, chosen per domain:
 *
 * page-idle   idle page tracking (/sys/kernel/mm/page_idle/bitmap): each
 *             sample period, sample_pages random resident guest pages are
 *             marked idle; the share found touched when the period ends is
 *             the active fraction (ESX's own sampling). Marking and testing
 *             go through the MMU notifiers, so it is right under KVM and TCG.
 *             Needs CONFIG_IDLE_PAGE_TRACKING and CAP_SYS_ADMIN (frame
 *             numbers from pagemap).
 * clear-refs  /proc/<pid>/clear_refs each period and the Referenced share of
 *             the guest RAM mappings in smaps. It clears and reads QEMU's
 *             page tables only: right under TCG, where QEMU itself performs
 *             every guest access, but blind to a KVM guest's accesses, which
 *             would all look idle.
 * guest       no host-side figure can be trusted: the guest's own statistics
 *             (MemTotal - MemAvailable of the balloon driver's report). Only
 *             as honest as the guest; the policy clamps it to consumption.
 *
 * auto takes page-idle where the kernel has it, else clear-refs for TCG
 * domains, else guest, and says why in the log and the metrics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvagent.h"

#define PAGE_IDLE_BITMAP "/sys/kernel/mm/page_idle/bitmap"

const char *
lv_active_name(enum lv_active_method m)
{
	switch (m) {
	case LV_ACTIVE_PAGE_IDLE:
		return "page-idle";
	case LV_ACTIVE_CLEAR_REFS:
		return "clear-refs";
	case LV_ACTIVE_GUEST:
		return "guest";
	case LV_ACTIVE_AUTO:
		break;
	}
	return "auto";
}

void
active_probe(struct lv_agent *a)
{
	a->page_idle_fd = open(PAGE_IDLE_BITMAP, O_RDWR | O_CLOEXEC);
	if (a->page_idle_fd < 0) {
		snprintf(a->page_idle_why, sizeof(a->page_idle_why),
			 errno == ENOENT ? "this kernel has no idle page tracking (%s)"
					 : "%s: cannot open it",
			 PAGE_IDLE_BITMAP);
		return;
	}
	/* Frame numbers, from our own pagemap: hidden without CAP_SYS_ADMIN. */
	static volatile uint64_t probe = 1;
	struct guest_mem self;
	guest_mem_init(&self);
	self.pid = getpid();
	uint64_t addr = (uint64_t)(uintptr_t)&probe & ~(self.page_size - 1);
	uint64_t pfn = 0;
	probe++;
	if (guest_mem_pfns(&pfn, &self, &addr, 1) != 0 || pfn == 0) {
		close(a->page_idle_fd);
		a->page_idle_fd = -1;
		snprintf(a->page_idle_why, sizeof(a->page_idle_why),
			 "idle page tracking needs page frame numbers (CAP_SYS_ADMIN)");
		return;
	}
	snprintf(a->page_idle_why, sizeof(a->page_idle_why), "idle page tracking is available");
}

static void
page_idle_free(struct lv_active *act)
{
	free(act->addrs);
	free(act->pfns);
	free(act->hot);
	act->addrs = act->pfns = act->hot = NULL;
	act->n = act->n_hot = act->cap = 0;
}

/* Room for @p k samples (a reload may raise sample_pages); 0 or -1 when
 * memory runs out, leaving the arrays as they were. */
static int
page_idle_room(struct lv_active *act, size_t k)
{
	uint64_t **arrays[3] = {&act->addrs, &act->pfns, &act->hot};

	if (k <= act->cap)
		return 0;
	for (int i = 0; i < 3; i++) {
		uint64_t *bigger = k <= SIZE_MAX / sizeof(**arrays[i])
					   ? realloc(*arrays[i], k * sizeof(**arrays[i]))
					   : NULL;
		if (bigger == NULL)
			return -1; /* those grown so far keep their data */
		*arrays[i] = bigger;
	}
	act->cap = k;
	return 0;
}

/* Marks a fresh sample of resident pages idle. */
static void
page_idle_begin(struct lv_agent *a, struct lv_domain *d)
{
	struct lv_active *act = &d->act;
	act->n = 0;
	size_t n = 0, k = a->cfg.sample_pages;
	if (page_idle_room(act, k) != 0)
		k = act->cap; /* out of memory: the sample stays its size */
	if (guest_mem_sample(act->addrs, &n, &d->mem, k, &d->rng) != 0 ||
	    guest_mem_pfns(act->pfns, &d->mem, act->addrs, n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (act->pfns[i] == 0)
			continue;
		uint64_t word = 1ull << (act->pfns[i] % 64);
		if (pwrite(a->page_idle_fd, &word, sizeof(word),
			   (off_t)(act->pfns[i] / 64 * sizeof(word))) != (ssize_t)sizeof(word))
			act->pfns[i] = 0;
	}
	act->n = n;
}

/* Of the sampled pages still where they were, how many were touched; with
 * @p keep, the touched ones become act->hot (in address order, as sampled). */
static void
page_idle_count(struct lv_agent *a, struct lv_domain *d, uint32_t *sampled, uint32_t *touched,
		int keep)
{
	struct lv_active *act = &d->act;
	*sampled = *touched = 0;
	uint64_t *now = calloc(act->n ? act->n : 1, sizeof(*now));
	if (now == NULL || guest_mem_pfns(now, &d->mem, act->addrs, act->n) != 0) {
		free(now);
		return;
	}
	if (keep)
		act->n_hot = 0;
	for (size_t i = 0; i < act->n; i++) {
		/* A page swapped, migrated or freed since says nothing. */
		if (act->pfns[i] == 0 || now[i] != act->pfns[i])
			continue;
		uint64_t word;
		if (pread(a->page_idle_fd, &word, sizeof(word),
			  (off_t)(act->pfns[i] / 64 * sizeof(word))) != (ssize_t)sizeof(word))
			continue;
		(*sampled)++;
		if (!((word >> (act->pfns[i] % 64)) & 1)) {
			(*touched)++;
			if (keep)
				act->hot[act->n_hot++] = act->addrs[i];
		}
	}
	free(now);
}

void
active_start(struct lv_agent *a, struct lv_domain *d)
{
	struct lv_active *act = &d->act;
	int have_ram = d->mem.n_regions > 0;
	enum lv_active_method want = a->active_method;
	const char *why_not = "";
	char buf[160];

	page_idle_free(act);
	if (want == LV_ACTIVE_PAGE_IDLE && (!have_ram || a->page_idle_fd < 0)) {
		snprintf(buf, sizeof(buf), "page-idle unavailable (%.90s); ",
			 !have_ram ? "guest RAM not found" : a->page_idle_why);
		why_not = buf;
		want = LV_ACTIVE_AUTO;
	} else if (want == LV_ACTIVE_CLEAR_REFS && !have_ram) {
		why_not = "clear-refs unavailable (guest RAM not found); ";
		want = LV_ACTIVE_AUTO;
	}

	switch (want) {
	case LV_ACTIVE_PAGE_IDLE:
		act->method = want;
		snprintf(act->why, sizeof(act->why), "as asked; sees guest accesses under KVM and TCG");
		break;
	case LV_ACTIVE_CLEAR_REFS:
		act->method = want;
		snprintf(act->why, sizeof(act->why), "as asked%s",
			 d->set.kvm ? "; WRONG under KVM: the guest's own accesses are not seen"
				    : "; right under TCG");
		break;
	case LV_ACTIVE_GUEST:
		act->method = want;
		snprintf(act->why, sizeof(act->why), "as asked; only as honest as the guest");
		break;
	case LV_ACTIVE_AUTO:
		if (have_ram && a->page_idle_fd >= 0) {
			act->method = LV_ACTIVE_PAGE_IDLE;
			snprintf(act->why, sizeof(act->why),
				 "%.120sidle page tracking sees guest accesses through the MMU "
				 "notifiers",
				 why_not);
		} else if (have_ram && !d->set.kvm) {
			act->method = LV_ACTIVE_CLEAR_REFS;
			snprintf(act->why, sizeof(act->why),
				 "%.120sTCG: QEMU's page tables see every guest access", why_not);
		} else {
			act->method = LV_ACTIVE_GUEST;
			snprintf(act->why, sizeof(act->why), "%.120s%s; estimated from the guest's "
				 "statistics", why_not,
				 !have_ram ? "guest RAM not found on this host"
					   : "KVM: clear_refs misses guest accesses and no idle "
					     "page tracking here");
		}
		break;
	}

	reclaim_estimator_init(&act->est, sizeof(act->est), &a->cfg);
	act->period_start_ns = lv_now_ns();
	act->last_sampled = act->last_touched = 0;
	if (act->method == LV_ACTIVE_CLEAR_REFS) {
		guest_mem_clear_refs(&d->mem);
	} else if (act->method == LV_ACTIVE_PAGE_IDLE) {
		if (page_idle_room(act, a->cfg.sample_pages ? a->cfg.sample_pages : 1) != 0) {
			page_idle_free(act);
			act->method = LV_ACTIVE_GUEST;
			snprintf(act->why, sizeof(act->why), "out of memory for page-idle samples");
		} else {
			page_idle_begin(a, d);
		}
	}
}

void
active_stop(struct lv_domain *d)
{
	page_idle_free(&d->act);
}

/* The guest's own figure: MemTotal - MemAvailable, in thousandths. */
static int
guest_fraction(const struct lv_domain *d, uint32_t *sampled, uint32_t *touched)
{
	const struct guest_stats_raw *r = &d->ms.raw;
	if (r->last_update_s == 0 || !r->has_total || r->total == 0 ||
	    !(r->has_available || r->has_free))
		return 0;
	uint64_t avail = r->has_available ? r->available : r->free;
	if (avail > r->total)
		avail = r->total;
	*sampled = 1000;
	*touched = (uint32_t)((double)(r->total - avail) / (double)r->total * 1000.0);
	return 1;
}

void
active_sample(struct lv_agent *a, struct lv_domain *d, uint64_t now_ns)
{
	struct lv_active *act = &d->act;
	uint32_t sampled = 0, touched = 0;
	int end = now_ns - act->period_start_ns >= a->cfg.sample_period_ns;

	switch (act->method) {
	case LV_ACTIVE_CLEAR_REFS: {
		uint64_t page = d->mem.page_size;
		uint64_t resident = d->usage.rss_bytes / page;
		uint64_t ref = d->usage.referenced_bytes / page;
		if (resident > UINT32_MAX) {
			ref = ref / (resident / UINT32_MAX + 1);
			resident = resident / (resident / UINT32_MAX + 1);
		}
		sampled = (uint32_t)resident;
		touched = (uint32_t)(ref < resident ? ref : resident);
		break;
	}
	case LV_ACTIVE_PAGE_IDLE:
		page_idle_count(a, d, &sampled, &touched, end);
		break;
	case LV_ACTIVE_GUEST:
	case LV_ACTIVE_AUTO:
		guest_fraction(d, &sampled, &touched);
		break;
	}
	act->last_sampled = sampled;
	act->last_touched = touched;
	if (end) {
		reclaim_estimator_period(&act->est, sampled, touched);
		act->period_start_ns = now_ns;
		act->restart_due = 1;
	} else if (sampled > 0) {
		reclaim_estimator_progress(&act->est, sampled, touched);
	}
	d->active = reclaim_estimator_active_bytes(&act->est, d->consumed);
}

void
active_restart(struct lv_agent *a, struct lv_domain *d)
{
	struct lv_active *act = &d->act;

	if (!act->restart_due)
		return;
	act->restart_due = 0;
	if (act->method == LV_ACTIVE_CLEAR_REFS)
		guest_mem_clear_refs(&d->mem);
	else if (act->method == LV_ACTIVE_PAGE_IDLE)
		page_idle_begin(a, d);
}
