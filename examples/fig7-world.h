/* SPDX-License-Identifier: MIT */
/*
 * Waldspurger, OSDI 2002, Figure 7, as a tiny world that both the fig7
 * example and its test drive: two 256 MB VMs with equal shares on a host
 * whose usable memory leaves about 358 MB for VMs once the high threshold
 * (6 %) is kept free. VM1 booted, touched all its memory and idles (about
 * 10 MB active); VM2 runs dbench and keeps growing into whatever it is
 * allowed (about 200 MB active). Balloons answer at once. As in the paper,
 * balloons are not capped by the guests' own memory (VM2 is ballooned
 * below its active memory, into its swap): RECLAIM_CONFIG_NO_GUEST_CAP.
 */
#ifndef FIG7_WORLD_H
#define FIG7_WORLD_H

#include <reclaim.h>

#define FIG7_MiB ((uint64_t)1024 * 1024)

struct fig7_world {
	struct reclaim_policy *policy;
	struct reclaim_vm_stats vm[2];
	struct reclaim_host host;
	uint64_t usable;
	uint64_t tick;
};

static int
fig7_balloon(void *data, uint64_t id, uint64_t bytes)
{
	struct fig7_world *w = data;
	struct reclaim_vm_stats *vm = &w->vm[id - 1];

	vm->balloon_bytes = bytes;
	if (vm->consumed_bytes > vm->configured_bytes - bytes)
		vm->consumed_bytes = vm->configured_bytes - bytes;
	return 0;
}

static int
fig7_swap(void *data, uint64_t id, uint64_t bytes)
{
	struct fig7_world *w = data;
	struct reclaim_vm_stats *vm = &w->vm[id - 1];

	vm->consumed_bytes -= bytes < vm->consumed_bytes ? bytes : vm->consumed_bytes;
	return 0;
}

static int
fig7_nop(void *data, uint64_t id)
{
	(void)data;
	(void)id;
	return 0;
}

static int
fig7_init(struct fig7_world *w, double vm_mib)
{
	struct reclaim_config cfg;
	int i, rc;

	if ((rc = RECLAIM_CONFIG_INIT_DEFAULT(&cfg)))
		return rc;
	cfg.idle_tax = 0.0;
	cfg.page_size = 4096;
	cfg.flags |= RECLAIM_CONFIG_NO_GUEST_CAP;
	if ((rc = reclaim_policy_new(&w->policy, &cfg, 2)))
		return rc;
	w->usable = (uint64_t)(vm_mib * (double)FIG7_MiB / (1.0 - cfg.threshold_high)) + 1;
	for (i = 0; i < 2; i++) {
		struct reclaim_vm_stats s = RECLAIM_VM_STATS_INIT;

		s.id = (uint64_t)i + 1;
		s.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		s.guest_swap_free_bytes = 256 * FIG7_MiB;
		s.configured_bytes = 256 * FIG7_MiB;
		s.shares = 2560; /* 10 per MB: equal */
		s.active_bytes = (i ? 200 : 10) * FIG7_MiB;
		w->vm[i] = s;
	}
	w->vm[0].consumed_bytes = 256 * FIG7_MiB; /* booted and touched it all */
	w->vm[1].consumed_bytes = 16 * FIG7_MiB;  /* just started */
	w->tick = 0;
	return 0;
}

/* One second: VM2 grows by up to 8 MB into free memory, then a decision. */
static int
fig7_step(struct fig7_world *w)
{
	static const struct reclaim_adapter adapter = {
		.version = RECLAIM_ADAPTER_VERSION,
		.set_balloon = fig7_balloon,
		.swap_out = fig7_swap,
		.block = fig7_nop,
		.unblock = fig7_nop,
	};
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[2];
	struct reclaim_vm_stats *vm2 = &w->vm[1];
	uint64_t used = w->vm[0].consumed_bytes + vm2->consumed_bytes;
	uint64_t room = vm2->configured_bytes - vm2->balloon_bytes - vm2->consumed_bytes;
	uint64_t grow = 8 * FIG7_MiB;
	int rc;

	if (grow > room)
		grow = room;
	if (grow > w->usable - used)
		grow = w->usable - used;
	vm2->consumed_bytes += grow;
	used += grow;

	for (int i = 0; i < 2; i++) {
		struct reclaim_vm_stats *vm = &w->vm[i];

		vm->guest_free_bytes = vm->configured_bytes - vm->balloon_bytes - vm->consumed_bytes;
		vm->stats_time_ns = w->tick * 1000000000ull;
	}
	host.total_bytes = w->usable;
	host.free_bytes = w->usable - used;
	host.now_ns = w->tick++ * 1000000000ull;
	rc = reclaim_decide(w->policy, &host, w->vm, 2, 0, &sum, d);
	if (rc)
		return rc;
	rc = reclaim_apply(w->policy, &adapter, w, d, 2, NULL, 0);
	return rc;
}

static int
fig7_set_tax(struct fig7_world *w, double tau)
{
	struct reclaim_config cfg;
	int rc;

	cfg.struct_size = sizeof(cfg);
	if ((rc = reclaim_policy_get_config(w->policy, &cfg)))
		return rc;
	cfg.idle_tax = tau;
	return reclaim_policy_set_config(w->policy, &cfg);
}

#endif
