/* SPDX-License-Identifier: MIT */
/*
 * Host swap: how a decision's swap_bytes leave RAM (--swap-method).
 * agent-common's hostswap.c does the work: lru through the domain's memory
 * cgroup (libvirt gives each domain its own, under machine.slice or
 * /machine; it is found from /proc/PID/cgroup of the QEMU process and used
 * only while QEMU is alone in it), random page-out of resident guest RAM
 * as ESX does, or auto (lru where available). Random picking takes last
 * the pages the page-idle sample found touched.
 */
#include <errno.h>
#include <string.h>

#include "lvagent.h"

void
lv_swap_setup(struct lv_agent *a, struct lv_domain *d)
{
	struct host_swap_opts o = {
		.method = a->swap_method,
		.name = d->name,
		.journal = a->journal[0] ? a->journal : NULL,
		/* Only against a kernel reclaim loop that never ends (a guest
		 * faulting pages back as fast as they go): a slow disk, a busy
		 * host may need seconds. */
		.deadline_ns = a->tick_ns > 5 * NS_PER_S ? a->tick_ns : 5 * NS_PER_S,
		.guest_rss = 0,
	};
	struct guest_mem_usage u;
	if (d->mem.n_regions > 0 && guest_mem_usage(&u, &d->mem) == 0)
		o.guest_rss = u.rss_bytes;
	host_swap_setup(&d->swap, d->pid, &o);
	lv_log(d->swap.method == HOST_SWAP_LRU && d->swap.cg.version == MEMCG_NONE ? LV_WARN
										 : LV_INFO,
	       "%s: host swap by %s: %s", d->name, host_swap_method_name(d->swap.method),
	       d->swap.why);
}

int
lv_swap_out(struct lv_agent *a, struct lv_domain *d, uint64_t bytes, uint64_t *done)
{
	struct guest_refs refs = {d->act.hot, d->act.n_hot};
	enum host_swap_method before = d->swap.method;
	int err = host_swap_out(&d->swap, done, &d->mem, bytes, &d->rng, &refs);
	if (d->swap.method != before)
		lv_log(LV_WARN, "%s: host swap now by %s: %s", d->name,
		       host_swap_method_name(d->swap.method), d->swap.why);
	(void)a;
	return err;
}
