/* SPDX-License-Identifier: MIT */
/*
 * Safe on every host, driven by the fake world over many ticks:
 *
 * - a host without swap (bounded at nothing, swap_out failing, or running
 *   out half way) recovers by ballooning, and never freezes its VMs;
 * - blocking is a brake: only while host swap takes a VM's memory, never
 *   longer than max_block_ns without its consumption falling;
 * - a guest whose demand spikes while it holds a balloon gets the balloon
 *   back at the rate it needs and never meets its OOM killer; one without
 *   swap that idles for an hour between climbs still has room for the next
 *   when it comes; and one that deflates its balloon itself is not
 *   inflated again at once;
 * - no VM is ballooned below its active memory, and none below its
 *   reservation by a balloon ask that host swap has already taken over.
 *
 * Each scenario also runs with the behaviour switched off where the config
 * allows it (distress_horizon_ns and demand_memory_ns 0, or a demand
 * memory shorter than the guest's idle spells), to show that the test would
 * fail without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_world.h"

#define GIB FW_GIB
#define MIB FW_MIB

/*
 * The case a new user tried: a 64 GiB host at 0.8 % free, four 16 GiB VMs
 * with balloon drivers, 8 GiB of guest free memory each and no swap inside;
 * host swap as the caller sets it up.
 */
static void
swapless_host(struct fw_world *w)
{
	fw_init(w, 64 * GIB, 0, FW_NS, 7);
	for (uint64_t id = 1; id <= 4; id++) {
		struct fw_vm *v = fw_add_vm(w, id, 16 * GIB, 8 * GIB);

		v->touched = 16 * GIB - 64 * MIB;
		v->gswap_total = 0;
		v->active_fraction = 0.5;
	}
	fw_set_free(w, 64 * GIB * 8 / 1000);
}

struct outcome {
	unsigned first_high; /* ticks until the host was in the high state for good, or 0 */
	uint64_t blocked_max; /* longest run of blocked ticks of any VM */
	uint64_t balloon_calls, oom;
	uint32_t reasons;     /* every reason seen */
};

static struct outcome
run(struct fw_world *w, struct reclaim_policy *p, unsigned ticks,
    void (*each)(struct fw_world *, unsigned))
{
	struct reclaim_adapter ad = fw_adapter();
	struct outcome o = {0};
	struct fw_tick t;

	for (unsigned i = 0; i < ticks; i++) {
		if (each)
			each(w, i);
		fw_tick(w, p, &ad, &t);
		assert_int_equal(t.decide_rc, RECLAIM_OK);
		for (size_t k = 0; k < t.n; k++)
			o.reasons |= t.d[k].reasons;
		if (t.summary.state != RECLAIM_STATE_HIGH)
			o.first_high = 0;
		else if (!o.first_high)
			o.first_high = i + 1;
	}
	for (size_t k = 0; k < w->n; k++) {
		o.blocked_max = fw_max(o.blocked_max, w->vm[k].blocked_run_max);
		o.balloon_calls += w->vm[k].calls[FW_OP_BALLOON];
		o.oom += w->vm[k].oom_events;
	}
	print_message("# high for good after %u ticks, longest block %llu ticks, %llu balloon "
		      "calls, %llu OOM, reasons %#x\n",
		      o.first_high, (unsigned long long)o.blocked_max,
		      (unsigned long long)o.balloon_calls, (unsigned long long)o.oom, o.reasons);
	return o;
}

/* Host swap bounded at nothing: balloons take it all, nobody is frozen. */
static void
no_host_swap_recovers_by_ballooning(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct outcome o;

	(void)state;
	swapless_host(&w);
	w.swap_bounded = true;
	w.swap_room = 0;
	o = run(&w, p, 40, NULL);
	assert_true(o.first_high > 0 && o.first_high <= 20);
	assert_int_equal(o.blocked_max, 0);
	assert_true(o.balloon_calls > 0);
	assert_true(o.reasons & RECLAIM_REASON_SWAP_UNAVAILABLE);
	assert_int_equal(o.oom, 0);
	reclaim_policy_destroy(p);
}

/* swap_out failing on every call, with -ENOSYS (an adapter without host
 * swap: given up at the first failure) or -EIO (a broken one: at the
 * second): the same recovery. */
static void
failing_swap_out_recovers_by_ballooning(void **state)
{
	const int errs[] = {ENOSYS, EIO};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 4);
		struct fw_world w;
		struct outcome o;

		swapless_host(&w);
		w.swap_errno = errs[k];
		o = run(&w, p, 40, NULL);
		assert_true(o.first_high > 0 && o.first_high <= 20);
		assert_true(o.blocked_max * FW_NS <= cfg.max_block_ns);
		assert_true(o.reasons & RECLAIM_REASON_SWAP_UNAVAILABLE);
		assert_int_equal(o.oom, 0);
		reclaim_policy_destroy(p);
	}
}

/* Host swap with room for half the need: used, then the balloons take the
 * rest, and a VM whose swap stops freeing is let go. */
static void
host_swap_running_out_half_way(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct outcome o;
	uint64_t room;

	(void)state;
	swapless_host(&w);
	w.swap_bounded = true;
	room = (fw_usable(&w) * 6 / 100 - fw_free(&w)) / 2;
	w.swap_room = room;
	o = run(&w, p, 40, NULL);
	assert_true(w.swap_room < room); /* swap was used */
	assert_true(o.first_high > 0 && o.first_high <= 20);
	assert_true(o.blocked_max * FW_NS <= cfg.max_block_ns);
	assert_true(o.balloon_calls > 0);
	assert_int_equal(o.oom, 0);
	reclaim_policy_destroy(p);
}

/* No balloon driver anywhere and host swap that frees nothing (the writes
 * never complete): low blocks, then lets go after max_block_ns, and does
 * not block again before as long has passed. */
static void
blocking_has_a_maximum(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p;
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	unsigned blocked = 0, timeouts = 0;

	(void)state;
	cfg.max_block_ns = 5 * FW_NS;
	p = policy_with(&cfg, 4);
	swapless_host(&w);
	for (size_t k = 0; k < w.n; k++)
		w.vm[k].driver = false;
	w.swap_bw = 1; /* a byte a second: swap makes no progress */
	for (unsigned i = 0; i < 30; i++) {
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
		blocked += t.d[0].block;
		timeouts += !!(t.d[0].reasons & RECLAIM_REASON_BLOCK_TIMEOUT);
	}
	print_message("# vm 1 blocked %u of 30 ticks, timed out in %u, longest run %llu\n", blocked,
		      timeouts, (unsigned long long)w.vm[0].blocked_run_max);
	assert_true(blocked > 0);
	assert_true(timeouts > 0);
	assert_true(w.vm[0].blocked_run_max * FW_NS <= cfg.max_block_ns + FW_NS);
	/* blocked at most half the time: max_block_ns on, as long off */
	assert_true(blocked <= 30 / 2 + 1);
	assert_int_equal(w.vm[0].redundant_block + w.vm[0].redundant_unblock, 0);
	reclaim_policy_destroy(p);
}

/* A blocked VM is unblocked as soon as the host leaves low. */
static void
unblocked_when_leaving_low(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	swapless_host(&w);
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
	assert_true(w.vm[0].blocked);
	fw_set_free(&w, fw_usable(&w) / 10); /* memory came back */
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_HIGH);
	for (size_t k = 0; k < w.n; k++) {
		assert_false(w.vm[k].blocked);
		assert_true(t.d[k].actions & RECLAIM_ACTION_UNBLOCK);
	}
	reclaim_policy_destroy(p);
}

/*
 * A guest holding a large balloon whose working set climbs by 12 GiB in
 * three minutes (80 MiB/s; guest swap 256 MiB), on a host deciding every
 * 10 s whose balloons deflate at 128 MiB/s: it gets its balloon back as
 * fast as it needs it and never runs out of memory, with the host below
 * the high threshold and other guests to balloon. Without the demand
 * reading (distress_horizon_ns and demand_memory_ns 0) the balloon comes
 * back only as the guest's free memory runs out, and the guest runs out
 * first.
 */
static uint64_t
spike(const struct reclaim_config *cfg, uint32_t *reasons, uint64_t *given_per_tick)
{
	struct reclaim_policy *p = policy_with(cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	struct fw_vm *g;
	uint64_t last = 0;

	fw_init(&w, 64 * GIB, 0, 10 * FW_NS, 3);
	g = fw_add_vm(&w, 1, 24 * GIB, 4 * GIB);
	g->gswap_total = 256 * MIB;
	g->deflate_rate = 128.0 * MIB;
	for (uint64_t id = 2; id <= 4; id++) {
		struct fw_vm *v = fw_add_vm(&w, id, 16 * GIB, 3 * GIB);

		v->touched = 12 * GIB;
		v->active_fraction = 0.1;
	}
	/* The spiking guest was idle and ballooned down to its working set. */
	g->balloon = g->balloon_target = 16 * GIB;
	g->touched = 5 * GIB;
	fw_set_free(&w, fw_usable(&w) * 5 / 100);
	*reasons = 0;
	*given_per_tick = 0;
	for (unsigned i = 0; i < 60; i++) {
		if (i >= 10 && i < 28)
			g->demand = fw_min(g->demand + 800 * MIB, 16 * GIB);
		fw_tick(&w, p, &ad, &t);
		*reasons |= fw_decision(&t, 1)->reasons;
		if (last > g->balloon)
			*given_per_tick = fw_max(*given_per_tick, last - g->balloon);
		last = g->balloon;
	}
	reclaim_policy_destroy(p);
	return g->oom_events;
}

static void
spiking_guest_gets_its_balloon_back(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t oom, given;
	uint32_t reasons;

	(void)state;
	oom = spike(&cfg, &reasons, &given);
	print_message("# with demand reading: %llu OOM, up to %llu MiB given back a tick\n",
		      (unsigned long long)oom, (unsigned long long)(given / MIB));
	assert_int_equal(oom, 0);
	assert_true(reasons & RECLAIM_REASON_DISTRESS);
	/* faster than the host-wide deflation budget */
	assert_true(given > cfg.deflate_budget_bytes);

	cfg.distress_horizon_ns = 0;
	cfg.demand_memory_ns = 0;
	oom = spike(&cfg, &reasons, &given);
	print_message("# without: %llu OOM\n", (unsigned long long)oom);
	assert_true(oom > 0);
}

/*
 * An hourly job in a 4 GiB guest without swap: it idles at 512 MiB for 55
 * minutes, then climbs to 3 GiB within 20 s (faster than one 10-s decision
 * can answer), holds for four minutes and falls back. The host stays
 * under pressure throughout, so whatever the guest's balloon cap allows is
 * taken while it idles. It must still have room for each climb when the
 * climb starts: the peak it showed an hour earlier is remembered.
 */
#define HOUR_TICKS 360 /* ticks of 10 s */

static uint64_t
hourly_job_demand(unsigned tick)
{
	unsigned m = tick % HOUR_TICKS;

	if (m < 24) /* busy for four minutes */
		return 3 * GIB;
	if (m < 30) /* falling over one minute */
		return 3 * GIB - (uint64_t)(m - 23) * (2560 * MIB / 6);
	if (m < HOUR_TICKS - 2)
		return 512 * MIB;
	return 512 * MIB + (uint64_t)(m - (HOUR_TICKS - 3)) * 1280 * MIB;
}

static uint64_t
hourly_job(const struct reclaim_config *cfg, uint64_t *balloon_before)
{
	struct reclaim_policy *p = policy_with(cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	struct fw_vm *g;

	fw_init(&w, 64 * GIB, 0, 10 * FW_NS, 9);
	g = fw_add_vm(&w, 1, 4 * GIB, 3 * GIB);
	g->gswap_total = 0;
	for (uint64_t id = 2; id <= 4; id++) {
		struct fw_vm *v = fw_add_vm(&w, id, 16 * GIB, 3 * GIB);

		v->touched = 12 * GIB;
		v->active_fraction = 0.1;
	}
	*balloon_before = 0;
	for (unsigned i = 0; i < 3 * HOUR_TICKS; i++) {
		if (i % HOUR_TICKS == HOUR_TICKS - 2)
			*balloon_before = fw_max(*balloon_before, g->balloon);
		g->demand = hourly_job_demand(i);
		fw_set_free(&w, fw_usable(&w) * 5 / 100);
		fw_tick(&w, p, &ad, &t);
	}
	reclaim_policy_destroy(p);
	return g->oom_events;
}

static void
hourly_burst_without_swap(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t oom, balloon;

	(void)state;
	oom = hourly_job(&cfg, &balloon);
	print_message("# default: %llu OOM, balloon up to %llu MiB before a climb\n",
		      (unsigned long long)oom, (unsigned long long)(balloon / MIB));
	assert_int_equal(oom, 0);
	/* It still gives what it does not need at its peak. */
	assert_true(balloon >= 512 * MIB);

	cfg.demand_memory_ns = 1800 * FW_NS;
	oom = hourly_job(&cfg, &balloon);
	print_message("# 30 min: %llu OOM, balloon up to %llu MiB\n", (unsigned long long)oom,
		      (unsigned long long)(balloon / MIB));
	assert_true(oom > 0);
}

/*
 * A 32 GiB guest with RHEL's 4 GiB of swap, ballooned as far as its reports
 * allow on a host under pressure: its working set of 16 GiB fills its swap
 * up to the margin. Then, with no climb in its past, its working set grows
 * by 290 MiB every 10-s decision for five minutes (8.5 GiB). With the
 * margin grown with the guest (512 MiB) the first climb fits, the next
 * decision reads it and gives the balloon back ahead of it; with
 * guest_margin_bytes alone (64 MiB) the first climb overflows its swap
 * before any decision has seen it.
 */
static uint64_t
big_guest_climbs(const struct reclaim_config *cfg, uint64_t *balloon_before)
{
	struct reclaim_policy *p = policy_with(cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	struct fw_vm *g;

	fw_init(&w, 64 * GIB, 0, 10 * FW_NS, 11);
	g = fw_add_vm(&w, 1, 32 * GIB, 16 * GIB);
	g->gswap_total = 4 * GIB;
	g->deflate_rate = 128.0 * MIB;
	for (uint64_t id = 2; id <= 4; id++) {
		struct fw_vm *v = fw_add_vm(&w, id, 16 * GIB, 3 * GIB);

		v->touched = 12 * GIB;
		v->active_fraction = 0.1;
	}
	*balloon_before = 0;
	for (unsigned i = 0; i < 150; i++) {
		fw_set_free(&w, fw_usable(&w) * 5 / 100);
		if (i == 90)
			*balloon_before = g->balloon;
		/* a tick, with the climb between the decision and the world's
		 * step: no decision sees it before the guest meets it */
		fw_decide_apply(&w, p, &ad, &t);
		assert_int_equal(t.decide_rc, RECLAIM_OK);
		if (i >= 90 && i < 120)
			g->demand += 290 * MIB;
		fw_advance(&w);
	}
	reclaim_policy_destroy(p);
	return g->oom_events;
}

static void
big_guest_keeps_a_margin_of_its_size(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t oom, balloon;

	(void)state;
	oom = big_guest_climbs(&cfg, &balloon);
	print_message("# margin 1/64: %llu OOM, balloon %llu MiB before the climb\n",
		      (unsigned long long)oom, (unsigned long long)(balloon / MIB));
	assert_int_equal(oom, 0);
	/* It gave what its reports allow, less the larger margin. */
	assert_true(balloon >= 19 * GIB);

	cfg.guest_margin_fraction = 0.0;
	oom = big_guest_climbs(&cfg, &balloon);
	print_message("# guest_margin_bytes alone: %llu OOM, balloon %llu MiB\n",
		      (unsigned long long)oom, (unsigned long long)(balloon / MIB));
	assert_true(oom > 0);
}

/*
 * A guest that deflates its balloon itself (deflate-on-oom) is short of
 * memory: it is not inflated again before balloon_backoff_ns, even with
 * the host under pressure, and then it may be.
 */
static void
self_deflated_balloon_is_left_alone(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p;
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	const struct reclaim_decision *d;
	uint64_t shrunk_at;

	(void)state;
	cfg.balloon_backoff_ns = 20 * FW_NS;
	p = policy_with(&cfg, 4);
	fw_init(&w, 32 * GIB, 0, FW_NS, 5);
	for (uint64_t id = 1; id <= 2; id++) {
		struct fw_vm *v = fw_add_vm(&w, id, 16 * GIB, 4 * GIB);

		v->touched = 15 * GIB;
		v->active_fraction = 0.2;
	}
	fw_set_free(&w, fw_usable(&w) * 3 / 100);
	for (unsigned i = 0; i < 60 && w.vm[0].balloon < 512 * MIB; i++)
		fw_tick(&w, p, &ad, &t);
	assert_true(w.vm[0].balloon >= 512 * MIB);
	/* The guest takes half its balloon back on its own. */
	w.vm[0].balloon /= 2;
	w.vm[0].balloon_target = w.vm[0].balloon;
	shrunk_at = w.now;
	fw_set_free(&w, fw_usable(&w) * 3 / 100); /* still under pressure */
	fw_tick(&w, p, &ad, &t);
	d = fw_decision(&t, 1);
	assert_true(d->reasons & RECLAIM_REASON_DISTRESS);
	assert_int_equal(d->balloon_limit, RECLAIM_BALLOON_LIMIT_DISTRESS);
	assert_true(d->balloon_target_bytes <= t.vms[0].balloon_bytes);
	while (w.now < shrunk_at + cfg.balloon_backoff_ns) {
		fw_tick(&w, p, &ad, &t);
		assert_true(fw_decision(&t, 1)->balloon_target_bytes <= t.vms[0].balloon_bytes);
	}
	/* the hold is over: it may be asked again */
	for (unsigned i = 0; i < 5; i++)
		fw_tick(&w, p, &ad, &t);
	assert_int_not_equal(fw_decision(&t, 1)->balloon_limit, RECLAIM_BALLOON_LIMIT_DISTRESS);
	reclaim_policy_destroy(p);
}

/* Never ballooned below what it actively uses: a busy VM's balloon cap is
 * its configured size less its active memory. */
static void
never_below_active_memory(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 2);
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm[2] = {RECLAIM_VM_STATS_INIT, RECLAIM_VM_STATS_INIT};
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[2];

	(void)state;
	h.total_bytes = 32 * GIB;
	h.free_bytes = GIB / 2;
	h.now_ns = 10 * FW_NS;
	for (int i = 0; i < 2; i++) {
		vm[i].id = (uint64_t)i + 1;
		vm[i].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		vm[i].configured_bytes = 16 * GIB;
		vm[i].consumed_bytes = 15 * GIB;
		vm[i].shares = 1000;
		vm[i].guest_free_bytes = 8 * GIB;
		vm[i].guest_swap_free_bytes = 16 * GIB;
		vm[i].stats_time_ns = h.now_ns;
	}
	vm[0].active_bytes = 12 * GIB; /* busy */
	vm[1].active_bytes = GIB;
	assert_int_equal(reclaim_decide(p, &h, vm, 2, 0, &sum, d), RECLAIM_OK);
	assert_int_equal(d[0].balloon_cap_bytes, 4 * GIB);
	assert_int_equal(d[0].balloon_limit, RECLAIM_BALLOON_LIMIT_ACTIVE);
	assert_true(d[0].balloon_target_bytes <= 4 * GIB);
	/* the paper's profile balloons into the guest's own swap */
	cfg.flags |= RECLAIM_CONFIG_NO_GUEST_CAP;
	assert_int_equal(reclaim_policy_set_config(p, &cfg), RECLAIM_OK);
	assert_int_equal(reclaim_decide(p, &h, vm, 2, RECLAIM_DECIDE_DRY_RUN, &sum, d), RECLAIM_OK);
	assert_true(d[0].balloon_cap_bytes > 4 * GIB);
	reclaim_policy_destroy(p);
}

/*
 * A guest's free memory jitters between readings (its kernel allocates, the
 * balloon size and the stats are read a moment apart): two MiB up and down
 * every half-second tick is no demand, and must not swing its balloon. Read
 * over one short tick and projected over the 30 s horizon it looked like
 * 120 MiB of demand, and the balloon came back and went out again.
 */
static void
jitter_is_not_demand(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 1);
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d;
	uint64_t lowest = UINT64_MAX;

	(void)state;
	h.total_bytes = 8 * GIB;
	h.free_bytes = 8 * GIB * 5 / 100; /* high, below its threshold: early ballooning */
	h.now_ns = 10 * FW_NS;
	vm.id = 1;
	vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	vm.configured_bytes = 4 * GIB;
	vm.consumed_bytes = 3 * GIB;
	vm.shares = 1000;
	vm.active_bytes = 2 * GIB;
	vm.balloon_bytes = 400 * MIB;
	vm.guest_free_bytes = 80 * MIB;
	for (int k = 0; k < 120; k++) {
		h.now_ns += FW_NS / 2;
		vm.stats_time_ns = h.now_ns;
		vm.guest_free_bytes = (k % 2) ? 78 * MIB : 80 * MIB;
		assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
		assert_false(d.reasons & RECLAIM_REASON_DISTRESS);
		if (d.balloon_cap_bytes < lowest)
			lowest = d.balloon_cap_bytes;
	}
	print_message("# lowest balloon cap %llu MiB of a 400 MiB balloon\n",
		      (unsigned long long)(lowest / MIB));
	assert_true(lowest >= 400 * MIB);
	reclaim_policy_destroy(p);
}

/* Some VM's decision of the last tick carries @p reason. */
static bool
any_reason(const struct fw_tick *t, uint32_t reason)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->d[k].reasons & reason)
			return true;
	return false;
}

/*
 * swap_out failing with -ENOSPC takes host swap off the plan for exactly
 * swap_retry_ns: a nanosecond before, the balloons still take its share;
 * at the deadline, host swap is planned again.
 */
static void
swap_retried_at_the_deadline(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;
	uint64_t failed_at;

	(void)state;
	swapless_host(&w);
	w.swap_errno = ENOSPC;
	failed_at = w.now;
	fw_tick(&w, p, &ad, &t);
	assert_true(t.summary.swap_bytes > 0);
	assert_int_equal(t.apply_rc, RECLAIM_E_ADAPTER);
	w.swap_errno = 0;
	w.now = failed_at + cfg.swap_retry_ns - 1;
	fw_tick(&w, p, &ad, &t);
	assert_int_not_equal(t.summary.state, RECLAIM_STATE_HIGH);
	assert_true(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE));
	assert_int_equal(t.summary.swap_bytes, 0);
	w.now = failed_at + cfg.swap_retry_ns;
	fw_tick(&w, p, &ad, &t);
	assert_int_not_equal(t.summary.state, RECLAIM_STATE_HIGH);
	assert_false(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE));
	assert_true(t.summary.swap_bytes > 0);
	reclaim_policy_destroy(p);
}

/*
 * A deadline set before the caller's clock went back is brought within one
 * period of the new time: host swap that failed at t = 1000 s is tried
 * again swap_retry_ns after the clock restarted at 5 s, not at 1030 s.
 */
static void
deadline_follows_the_clock_back(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	swapless_host(&w);
	w.swap_errno = ENOSPC;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.apply_rc, RECLAIM_E_ADAPTER);
	w.swap_errno = 0;
	w.now = 5 * FW_NS;
	for (size_t k = 0; k < w.n; k++)
		w.vm[k].stats_time = w.now; /* the guests read the same clock */
	fw_tick(&w, p, &ad, &t);
	assert_true(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE));
	w.now = 5 * FW_NS + cfg.swap_retry_ns;
	fw_tick(&w, p, &ad, &t);
	assert_int_not_equal(t.summary.state, RECLAIM_STATE_HIGH);
	assert_false(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE));
	assert_true(t.summary.swap_bytes > 0);
	reclaim_policy_destroy(p);
}

/*
 * One absurd clock reading costs nothing once sane time returns, for a VM
 * that leaves as well: VM 2, whose ops failed at a reading far ahead and
 * which then left, still has that failure on record when it comes back
 * within its grace of sane time, and is forgotten after it (a VM last seen
 * "in the future" was kept for ever).
 */
static bool
failed(const struct reclaim_apply_result *r)
{
	return r->balloon_status < 0 || r->swap_status < 0 || r->compress_status < 0 ||
	       r->block_status < 0;
}

static void
absent_vm_forgotten_after_absurd_reading(void **state)
{
	(void)state;
	for (int late = 0; late <= 1; late++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p;
		struct reclaim_adapter ad = fw_adapter();
		uint64_t back = late ? cfg.absent_grace_ns + 10 * FW_NS : 2 * FW_NS, left;
		const struct reclaim_decision *d;
		struct fw_world w;
		struct fw_tick t;

		/* (no blocking: a VM blocked when it left is kept past its
		 * grace, to be unblocked when it comes back) */
		cfg.max_block_ns = 0;
		p = policy_with(&cfg, 8);
		swapless_host(&w);
		fw_tick(&w, p, &ad, &t);
		w.now = UINT64_C(1) << 63;
		for (size_t k = 0; k < w.n; k++)
			w.vm[k].stats_time = w.now;
		w.vm[1].fail_ops = ~0u;
		fw_tick(&w, p, &ad, &t);
		assert_true(failed(fw_result(&t, 2)));
		w.now = 1010 * FW_NS;
		w.vm[1].present = false;
		w.vm[1].fail_ops = 0;
		for (size_t k = 0; k < w.n; k++)
			w.vm[k].stats_time = w.now;
		for (left = w.now; w.now < left + back;)
			fw_tick(&w, p, &ad, &t);
		w.vm[1].present = true;
		w.vm[1].stats_time = w.now;
		fw_tick(&w, p, &ad, &t);
		d = fw_decision(&t, 2);
		assert_non_null(d);
		assert_true(((d->reasons & RECLAIM_REASON_ADAPTER_FAILED) != 0) == !late);
		reclaim_policy_destroy(p);
	}
}

/* Bounded host swap with one page left still swaps (that page); with a
 * byte less it cannot, and the balloons take the share. */
static void
one_page_of_host_swap_is_swap(void **state)
{
	(void)state;
	for (uint64_t room = FW_PAGE - 1; room <= FW_PAGE; room++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 4);
		struct reclaim_adapter ad = fw_adapter();
		struct fw_world w;
		struct fw_tick t;

		swapless_host(&w);
		w.swap_bounded = true;
		w.swap_room = room;
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
		assert_true(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE) == (room < FW_PAGE));
		assert_true(!(t.summary.flags & RECLAIM_SUMMARY_SWAP_UNAVAILABLE) == (room == FW_PAGE));
		if (room == FW_PAGE)
			assert_true(any_reason(&t, RECLAIM_REASON_SWAP_BOUNDED));
		reclaim_policy_destroy(p);
	}
}

/*
 * Above the high threshold a guest short of memory gets its balloon back
 * from free memory, but never so much that the host falls into the soft
 * state: here it lacks 4 GiB (its margin) and the host has 2.1 GiB above
 * the soft threshold, with a deflation budget that would allow more.
 */
static void
give_back_stops_at_the_soft_threshold(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p;
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d;
	uint64_t above_soft;

	(void)state;
	cfg.deflate_budget_bytes = 16 * GIB;
	cfg.guest_margin_bytes = 4 * GIB;
	p = policy_with(&cfg, 1);
	h.total_bytes = 100 * GIB;
	h.now_ns = 10 * FW_NS;
	vm.id = 1;
	vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	vm.configured_bytes = 16 * GIB;
	vm.consumed_bytes = 10 * GIB;
	vm.shares = 1000;
	vm.active_bytes = GIB;
	vm.balloon_bytes = 6 * GIB;
	vm.guest_free_bytes = 0;
	vm.guest_swap_free_bytes = 4 * GIB;
	vm.stats_time_ns = h.now_ns;
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, RECLAIM_DECIDE_DRY_RUN, &sum, &d),
			 RECLAIM_OK);
	h.free_bytes = sum.threshold_bytes[RECLAIM_STATE_HIGH] + 100 * MIB; /* the band */
	above_soft = h.free_bytes - sum.threshold_bytes[RECLAIM_STATE_SOFT];
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
	assert_int_equal(sum.state, RECLAIM_STATE_HIGH);
	assert_true(d.reasons & RECLAIM_REASON_DISTRESS);
	assert_int_equal(d.balloon_target_bytes, vm.balloon_bytes - above_soft);
	/* with more free memory it gets at least all it lacks */
	h.free_bytes += 4 * GIB;
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
	assert_true(d.reasons & RECLAIM_REASON_DISTRESS);
	assert_true(d.balloon_target_bytes <= vm.balloon_bytes - cfg.guest_margin_bytes);
	reclaim_policy_destroy(p);
}

/*
 * A balloon that shrank below what it held and was asked is a guest taking
 * memory back (deflate-on-oom), but one page less is a driver's rounding:
 * two pages short is held as distress, one page short is not.
 */
static void
a_page_short_is_not_self_deflation(void **state)
{
	(void)state;
	for (uint64_t short_by = FW_PAGE; short_by <= 2 * FW_PAGE; short_by += FW_PAGE) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 1);
		struct reclaim_host h = RECLAIM_HOST_INIT;
		struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
		struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
		struct reclaim_decision d;
		bool distress;

		h.total_bytes = 32 * GIB;
		h.free_bytes = 32 * GIB * 3 / 100; /* soft */
		h.now_ns = 10 * FW_NS;
		vm.id = 1;
		vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		vm.configured_bytes = 16 * GIB;
		vm.consumed_bytes = 14 * GIB;
		vm.shares = 1000;
		vm.active_bytes = 2 * GIB;
		vm.balloon_bytes = GIB;
		vm.guest_free_bytes = 4 * GIB;
		vm.guest_swap_free_bytes = 4 * GIB;
		vm.stats_time_ns = h.now_ns;
		assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
		assert_true(d.balloon_target_bytes > vm.balloon_bytes);
		h.now_ns += FW_NS;
		vm.stats_time_ns = h.now_ns;
		vm.balloon_bytes -= short_by;
		vm.guest_free_bytes += short_by;
		assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
		distress = d.balloon_limit == RECLAIM_BALLOON_LIMIT_DISTRESS;
		assert_true(distress == (short_by > FW_PAGE));
		assert_true(!!(d.reasons & RECLAIM_REASON_DISTRESS) == distress);
		if (!distress)
			assert_true(d.balloon_target_bytes > vm.balloon_bytes);
		reclaim_policy_destroy(p);
	}
}

/* A decide for a guest holding a 2 GiB balloon, with @p guest_free free
 * and 8 GiB of swap, on a 32 GiB host in the hysteresis band. */
static const struct reclaim_decision *
band_decide(struct reclaim_policy *p, struct reclaim_decision *d, uint64_t now_s,
	    uint64_t guest_free)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;

	h.total_bytes = 32 * GIB;
	h.free_bytes = 32 * GIB * 6 / 100 + 100 * MIB;
	h.now_ns = now_s * FW_NS;
	vm.id = 1;
	vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	vm.configured_bytes = 16 * GIB;
	vm.consumed_bytes = 10 * GIB;
	vm.shares = 1000;
	vm.active_bytes = 2 * GIB;
	vm.balloon_bytes = 2 * GIB;
	vm.guest_free_bytes = guest_free;
	vm.guest_swap_free_bytes = 8 * GIB;
	vm.stats_time_ns = h.now_ns;
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, d), RECLAIM_OK);
	assert_true(d->reasons & RECLAIM_REASON_HOLD);
	return d;
}

/*
 * "Short of memory" starts at exactly the guest's margin free (1/64 of its
 * size, above guest_margin_bytes: 256 MiB for 16 GiB). Above the
 * high threshold such a guest whose demand rises (72 MiB used in 4 s) gets
 * its balloon back; with one byte more free it is not short. Under
 * pressure the same guest may grow back into its balloon (rebalancing)
 * while an idle VM balloons for it, and again not with a byte more. What a
 * short guest gets back is whole pages, however few bytes it lacks.
 */
static void
short_of_memory_from_exactly_the_margin(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t margin = 16 * GIB / 64;

	(void)state;
	assert_true(margin > cfg.guest_margin_bytes);
	for (uint64_t extra = 0; extra <= 1; extra++) {
		struct reclaim_policy *p = policy_with(&cfg, 1);
		struct reclaim_decision d;

		band_decide(p, &d, 100, margin + 72 * MIB);
		assert_int_equal(d.balloon_target_bytes, 2 * GIB);
		band_decide(p, &d, 104, margin + extra);
		assert_true(!!(d.reasons & RECLAIM_REASON_DISTRESS) == !extra);
		assert_true((d.balloon_target_bytes < 2 * GIB) == !extra);
		reclaim_policy_destroy(p);
	}
	{
		struct reclaim_policy *p = policy_with(&cfg, 1);
		struct reclaim_decision d;

		band_decide(p, &d, 100, margin - 100);
		assert_true(d.reasons & RECLAIM_REASON_DISTRESS);
		assert_int_equal(d.balloon_target_bytes, 2 * GIB - FW_PAGE);
		reclaim_policy_destroy(p);
	}
	for (uint64_t extra = 0; extra <= 1; extra++) {
		struct reclaim_policy *p = policy_with(&cfg, 2);
		struct reclaim_host h = RECLAIM_HOST_INIT;
		struct reclaim_vm_stats vm[2] = {RECLAIM_VM_STATS_INIT, RECLAIM_VM_STATS_INIT};
		struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
		struct reclaim_decision d[2];

		h.total_bytes = 24 * GIB;
		h.free_bytes = 24 * GIB * 3 / 100; /* soft */
		h.now_ns = 100 * FW_NS;
		for (int i = 0; i < 2; i++) {
			vm[i].id = (uint64_t)i + 1;
			vm[i].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
			vm[i].shares = 1000;
			vm[i].stats_time_ns = h.now_ns;
		}
		/* busy, short of memory, holding a balloon; priced so that the
		 * level gives it part of the balloon back */
		vm[0].shares = 200;
		vm[0].configured_bytes = 8 * GIB;
		vm[0].consumed_bytes = 6 * GIB;
		vm[0].active_bytes = 6 * GIB;
		vm[0].balloon_bytes = 2 * GIB;
		vm[0].guest_free_bytes = 8 * GIB / 64 + extra; /* its margin, and a byte more */
		vm[0].guest_swap_free_bytes = 4 * GIB;
		/* idle */
		vm[1].configured_bytes = 16 * GIB;
		vm[1].consumed_bytes = 15 * GIB;
		vm[1].active_bytes = GIB;
		vm[1].guest_free_bytes = 8 * GIB;
		vm[1].guest_swap_free_bytes = 8 * GIB;
		assert_int_equal(reclaim_decide(p, &h, vm, 2, 0, &sum, d), RECLAIM_OK);
		assert_int_equal(sum.state, RECLAIM_STATE_SOFT);
		assert_true(!!(d[0].reasons & RECLAIM_REASON_REBALANCE) == !extra);
		assert_true((d[0].balloon_target_bytes < 2 * GIB) == !extra);
		assert_true(d[0].balloon_target_bytes > 0);
		/* in whole pages */
		assert_int_equal((2 * GIB - d[0].balloon_target_bytes) % FW_PAGE, 0);
		reclaim_policy_destroy(p);
	}
}

/*
 * What swap_out's error says: "not there" (-ENOSYS, -EOPNOTSUPP, -ENODEV,
 * -ENOSPC, -ENOMEM) takes host swap off the plan at once; any other error
 * only after a second failure in a row, and a swap that works in between
 * starts the count again.
 */
static void
swap_errors_that_mean_no_swap(void **state)
{
	const int gone[] = {ENOSYS, EOPNOTSUPP, ENODEV, ENOSPC, ENOMEM};

	(void)state;
	for (size_t k = 0; k < sizeof(gone) / sizeof(gone[0]) + 1; k++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 4);
		struct reclaim_adapter ad = fw_adapter();
		bool at_once = k < sizeof(gone) / sizeof(gone[0]);
		struct fw_world w;
		struct fw_tick t;

		swapless_host(&w);
		w.swap_errno = at_once ? gone[k] : EIO;
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.apply_rc, RECLAIM_E_ADAPTER);
		w.swap_errno = 0;
		fw_tick(&w, p, &ad, &t);
		assert_int_not_equal(t.summary.state, RECLAIM_STATE_HIGH);
		assert_true(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE) == at_once);
		reclaim_policy_destroy(p);
	}
	{
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 4);
		struct reclaim_adapter ad = fw_adapter();
		const int errs[] = {EIO, 0, EIO, 0}; /* fails, works, fails again */
		struct fw_world w;
		struct fw_tick t;

		swapless_host(&w);
		for (size_t i = 0; i < 4; i++) {
			w.swap_errno = errs[i];
			fw_set_free(&w, 64 * GIB * 8 / 1000); /* still short */
			fw_tick(&w, p, &ad, &t);
			assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
			/* failing twice, but not in a row: host swap stays */
			assert_false(any_reason(&t, RECLAIM_REASON_SWAP_UNAVAILABLE));
			assert_int_equal(t.apply_rc, errs[i] ? RECLAIM_E_ADAPTER : RECLAIM_OK);
		}
		reclaim_policy_destroy(p);
	}
}

/* max_block_ns 0 never blocks, even in the low state with host swap that
 * works; the default blocks there. */
static void
no_blocking_with_max_block_zero(void **state)
{
	(void)state;
	for (int zero = 0; zero <= 1; zero++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p;
		struct fw_world w;
		struct outcome o;

		if (zero)
			cfg.max_block_ns = 0;
		p = policy_with(&cfg, 4);
		swapless_host(&w);
		o = run(&w, p, 10, NULL);
		assert_true((o.blocked_max == 0) == !!zero);
		assert_true(!(o.reasons & RECLAIM_REASON_BLOCKED) == !!zero);
		reclaim_policy_destroy(p);
	}
}

/*
 * Host swap never takes more than the VM holds: a VM without a balloon
 * driver consuming 1 GiB and 100 bytes, all of which the low state takes,
 * is swapped exactly that, not rounded up to the next page.
 */
static void
swap_never_more_than_held(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 1);
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d;

	(void)state;
	h.total_bytes = 64 * GIB;
	h.free_bytes = 64 * GIB / 200; /* low */
	h.now_ns = 10 * FW_NS;
	vm.id = 1;
	vm.configured_bytes = 8 * GIB;
	vm.consumed_bytes = GIB + 100;
	vm.shares = 1000;
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, &d), RECLAIM_OK);
	assert_int_equal(sum.state, RECLAIM_STATE_LOW);
	assert_int_equal(d.target_bytes, 0);
	assert_int_equal(d.swap_bytes, vm.consumed_bytes);
	reclaim_policy_destroy(p);
}

/* Memory VM @p v keeps once decision @p d is carried out in full. */
static uint64_t
kept_after(const struct reclaim_vm_stats *v, const struct reclaim_decision *d)
{
	uint64_t taken = d->swap_bytes + d->compress_bytes;

	if (d->balloon_target_bytes > v->balloon_bytes)
		taken += d->balloon_target_bytes - v->balloon_bytes;
	return v->consumed_bytes - taken;
}

/*
 * Balloon inflation asked in soft has not arrived when the host falls to
 * low. Host swap takes the whole excess there at once, so the ask is
 * withdrawn: left in place, it would arrive on top of the swap and take
 * the VM below its reservation. Where host swap cannot deliver (none left),
 * the balloon is all there is: the ask stands and counts as on its way, so
 * it is not asked for twice.
 */
static void
low_withdraws_what_swap_takes(void **state)
{
	for (int swapless = 0; swapless <= 1; swapless++) {
		struct reclaim_config cfg = default_config();
		struct reclaim_policy *p = policy_with(&cfg, 2);
		struct reclaim_host h = RECLAIM_HOST_INIT;
		struct reclaim_vm_stats v[2];
		struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
		struct reclaim_decision d[2];
		uint64_t asked;

		(void)state;
		for (int i = 0; i < 2; i++) {
			struct reclaim_vm_stats init = RECLAIM_VM_STATS_INIT;

			v[i] = init;
			v[i].id = (uint64_t)i + 1;
			v[i].configured_bytes = v[i].consumed_bytes = 8 * GIB;
			v[i].shares = 1000;
			v[i].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		}
		/* VM 1 is idle, with a 7 GiB reservation and room to balloon;
		 * VM 2 is all active and held at its size. */
		v[0].reservation_bytes = 7 * GIB;
		v[0].active_bytes = 512 * MIB;
		v[0].guest_free_bytes = 4 * GIB;
		v[1].active_bytes = v[1].reservation_bytes = 8 * GIB;
		h.total_bytes = 20 * GIB;
		h.free_bytes = 20 * GIB * 3 / 100; /* soft */
		h.now_ns = 100 * FW_NS;
		if (swapless)
			h.flags |= RECLAIM_HOST_SWAP_BOUNDED; /* and swap_free_bytes 0 */
		v[0].stats_time_ns = v[1].stats_time_ns = h.now_ns;
		assert_int_equal(reclaim_decide(p, &h, v, 2, 0, &sum, d), RECLAIM_OK);
		assert_int_equal(sum.state, RECLAIM_STATE_SOFT);
		asked = d[0].balloon_target_bytes;
		assert_true(asked > 0);

		/* a second later: nothing arrived, and the host is in low */
		h.now_ns += FW_NS;
		h.free_bytes = 20 * GIB / 200;
		v[0].stats_time_ns = v[1].stats_time_ns = h.now_ns;
		assert_int_equal(reclaim_decide(p, &h, v, 2, 0, &sum, d), RECLAIM_OK);
		assert_int_equal(sum.state, RECLAIM_STATE_LOW);
		print_message("# %s: balloon %llu swap %llu target %llu\n",
			      swapless ? "no host swap" : "host swap",
			      (unsigned long long)d[0].balloon_target_bytes,
			      (unsigned long long)d[0].swap_bytes,
			      (unsigned long long)d[0].target_bytes);
		if (swapless) {
			assert_int_equal(d[0].swap_bytes, 0);
			assert_true(d[0].balloon_target_bytes >= asked);
		} else {
			assert_true(d[0].swap_bytes > 0);
			assert_int_equal(d[0].balloon_target_bytes, v[0].balloon_bytes);
		}
		assert_true(kept_after(&v[0], &d[0]) >= v[0].reservation_bytes);
		assert_true(kept_after(&v[0], &d[0]) >= d[0].target_bytes);
		reclaim_policy_destroy(p);
	}
}

/*
 * Bounded host swap: a plan that fits the room exactly is not cut (no
 * SWAP_BOUNDED); with half the room, every VM's swap is cut to fit, and
 * what the cut leaves goes to balloons that have room.
 */
static void
bounded_swap_cut_goes_to_balloons(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 2);
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm[2] = {RECLAIM_VM_STATS_INIT, RECLAIM_VM_STATS_INIT};
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[2], free_d[2];
	uint64_t planned, balloons = 0, more = 0;

	(void)state;
	h.total_bytes = 64 * GIB;
	h.free_bytes = 64 * GIB * 15 / 1000; /* hard */
	h.now_ns = 10 * FW_NS;
	for (int i = 0; i < 2; i++) {
		vm[i].id = (uint64_t)i + 1;
		vm[i].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		vm[i].configured_bytes = 16 * GIB;
		vm[i].consumed_bytes = 15 * GIB;
		vm[i].shares = 1000;
		vm[i].active_bytes = 2 * GIB;
		vm[i].guest_free_bytes = 4 * GIB;
		vm[i].guest_swap_free_bytes = 8 * GIB;
		vm[i].stats_time_ns = h.now_ns;
	}
	assert_int_equal(reclaim_decide(p, &h, vm, 2, RECLAIM_DECIDE_DRY_RUN, &sum, free_d),
			 RECLAIM_OK);
	assert_int_equal(sum.state, RECLAIM_STATE_HARD);
	planned = sum.swap_bytes;
	assert_true(planned > 0);
	h.flags = RECLAIM_HOST_SWAP_BOUNDED;
	h.swap_free_bytes = planned;
	assert_int_equal(reclaim_decide(p, &h, vm, 2, RECLAIM_DECIDE_DRY_RUN, &sum, d), RECLAIM_OK);
	assert_false(sum.flags & RECLAIM_SUMMARY_SWAP_BOUNDED);
	assert_int_equal(sum.swap_bytes, planned);
	assert_memory_equal(d, free_d, sizeof(d));
	h.swap_free_bytes = planned / 2;
	assert_int_equal(reclaim_decide(p, &h, vm, 2, RECLAIM_DECIDE_DRY_RUN, &sum, d), RECLAIM_OK);
	assert_true(sum.flags & RECLAIM_SUMMARY_SWAP_BOUNDED);
	assert_true(sum.swap_bytes <= planned / 2);
	for (int i = 0; i < 2; i++) {
		assert_true(d[i].reasons & RECLAIM_REASON_SWAP_BOUNDED);
		assert_true(d[i].balloon_target_bytes > free_d[i].balloon_target_bytes);
		balloons += d[i].balloon_target_bytes - free_d[i].balloon_target_bytes;
		more += free_d[i].swap_bytes - d[i].swap_bytes;
	}
	assert_int_equal(balloons, more); /* the balloons have room for all of it */
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_host_swap_recovers_by_ballooning),
		cmocka_unit_test(failing_swap_out_recovers_by_ballooning),
		cmocka_unit_test(host_swap_running_out_half_way),
		cmocka_unit_test(blocking_has_a_maximum),
		cmocka_unit_test(unblocked_when_leaving_low),
		cmocka_unit_test(spiking_guest_gets_its_balloon_back),
		cmocka_unit_test(hourly_burst_without_swap),
		cmocka_unit_test(big_guest_keeps_a_margin_of_its_size),
		cmocka_unit_test(self_deflated_balloon_is_left_alone),
		cmocka_unit_test(never_below_active_memory),
		cmocka_unit_test(jitter_is_not_demand),
		cmocka_unit_test(swap_retried_at_the_deadline),
		cmocka_unit_test(deadline_follows_the_clock_back),
		cmocka_unit_test(absent_vm_forgotten_after_absurd_reading),
		cmocka_unit_test(one_page_of_host_swap_is_swap),
		cmocka_unit_test(give_back_stops_at_the_soft_threshold),
		cmocka_unit_test(a_page_short_is_not_self_deflation),
		cmocka_unit_test(short_of_memory_from_exactly_the_margin),
		cmocka_unit_test(swap_errors_that_mean_no_swap),
		cmocka_unit_test(no_blocking_with_max_block_zero),
		cmocka_unit_test(swap_never_more_than_held),
		cmocka_unit_test(bounded_swap_cut_goes_to_balloons),
		cmocka_unit_test(low_withdraws_what_swap_takes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
