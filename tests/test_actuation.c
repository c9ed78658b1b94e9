/* SPDX-License-Identifier: MIT */
/*
 * Actuation over time, driven by the
 * fake world: a stalled balloon escalating to host swap in the hard state,
 * the hard state's split by observed balloon rate, stale guest stats, block
 * and unblock only on transitions, admission planning, and the compression
 * tier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_world.h"

#define ID_A 1
#define ID_B 2

static uint64_t
round_page(uint64_t x)
{
	return (x + FW_PAGE - 1) & ~(FW_PAGE - 1);
}

/*
 * 16 GiB usable with two 6 GiB guests that touched nearly all their memory
 * but use 2 GiB, and @p free bytes free. Host swap writes @p swap_bw bytes/s.
 */
static void
two_guests(struct fw_world *w, uint64_t free, uint64_t swap_bw)
{
	struct fw_vm *a, *b;

	fw_init(w, 17 * FW_GIB, FW_GIB, FW_NS, 7);
	a = fw_add_vm(w, ID_A, 6 * FW_GIB, 2 * FW_GIB);
	b = fw_add_vm(w, ID_B, 6 * FW_GIB, 2 * FW_GIB);
	a->touched = b->touched = 6 * FW_GIB - 256 * FW_MIB;
	w->swap_bw = swap_bw;
	fw_set_free(w, free);
}

/* ---- must show: a stalled balloon escalates to swap in hard ---- */

/*
 * The host is deep in the hard state (180 MiB free of 16 GiB) with a slow
 * disk, so it stays there for a while. A's driver is stalled, B's inflates
 * at 8 MiB/s. While A's window runs, A's ask is in flight; within the window
 * A is marked unresponsive, its target falls back to its actual size and its
 * whole share goes to host swap, still in the hard state, while B keeps
 * ballooning.
 */
static void
stalled_balloon_moves_to_swap_in_hard(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	uint64_t start, marked_at = 0, b_prev = 0;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	two_guests(&w, 180 * FW_MIB, 8 * FW_MIB);
	w.vm[0].inflate_rate = 0.0;
	w.vm[1].inflate_rate = 8.0 * FW_MIB;
	start = w.now;
	for (unsigned i = 0; i < 40; i++) {
		const struct reclaim_decision *a, *b;
		uint64_t now = w.now;

		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.decide_rc, RECLAIM_OK);
		a = fw_decision(&t, ID_A);
		b = fw_decision(&t, ID_B);

		/* B: healthy, never held back, ballooning throughout. */
		assert_false(b->reasons & RECLAIM_REASON_UNRESPONSIVE);
		if (i >= 2)
			assert_true(t.vms[1].balloon_bytes > b_prev);
		b_prev = t.vms[1].balloon_bytes;
		if (marked_at && t.summary.state != RECLAIM_STATE_HARD)
			break;
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		assert_true(b->balloon_target_bytes > t.vms[1].balloon_bytes);

		if (!(a->reasons & RECLAIM_REASON_UNRESPONSIVE)) {
			assert_int_equal(marked_at, 0);
			assert_true(now - start < cfg.balloon_window_ns);
			/* in flight: part of A's share waits on its balloon */
			assert_true(a->balloon_target_bytes > t.vms[0].balloon_bytes);
			continue;
		}
		if (!marked_at) {
			marked_at = now;
			assert_true(now - start <= cfg.balloon_window_ns + FW_NS);
		}
		/* Unresponsive in hard: nothing waits on A's balloon, its
		 * whole share (consumption above target) is host-swapped. */
		assert_int_equal(a->balloon_target_bytes, t.vms[0].balloon_bytes);
		assert_int_equal(a->balloon_limit, RECLAIM_BALLOON_LIMIT_UNRESPONSIVE);
		assert_true(a->actions & RECLAIM_ACTION_SWAP);
		assert_true(a->swap_bytes + FW_PAGE >= t.vms[0].consumed_bytes - a->target_bytes);
	}
	assert_true(marked_at != 0);
	assert_int_equal(w.vm[0].balloon, 0);
	assert_true(w.vm[0].swapped > 0);
	assert_true(w.vm[1].balloon >= 100 * FW_MIB);
	assert_int_equal(w.vm[0].oom_events + w.vm[1].oom_events, 0);
	reclaim_policy_destroy(p);
}

/*
 * The limit rule with a stalled balloon: even with plenty of free memory, a
 * VM above its limit is ballooned first, and once its balloon is found
 * unresponsive the excess over the limit is host-swapped.
 */
static void
limit_rule_escalates_stalled_balloon(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	uint64_t start, marked_at = 0;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	two_guests(&w, 4 * FW_GIB, 0);
	w.swapin_per_s = 0.0;
	w.vm[0].inflate_rate = 0.0;
	w.vm[0].limit = 4 * FW_GIB;
	start = w.now;
	for (unsigned i = 0; i < 20 && !marked_at; i++) {
		const struct reclaim_decision *a;
		uint64_t now = w.now;

		fw_tick(&w, p, &ad, &t);
		a = fw_decision(&t, ID_A);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HIGH);
		if (a->reasons & RECLAIM_REASON_UNRESPONSIVE) {
			marked_at = now;
			assert_true(now - start >= cfg.balloon_window_ns);
			assert_true(now - start <= cfg.balloon_window_ns + FW_NS);
			assert_true(a->reasons & RECLAIM_REASON_LIMIT);
			assert_int_equal(a->balloon_target_bytes, 0);
			assert_true(a->swap_bytes + FW_PAGE >=
				    t.vms[0].consumed_bytes - 4 * FW_GIB);
		} else {
			/* balloon first: all the excess is asked of it */
			assert_true(a->balloon_target_bytes + FW_PAGE >=
				    t.vms[0].consumed_bytes - 4 * FW_GIB);
			assert_int_equal(a->swap_bytes, 0);
		}
	}
	assert_true(marked_at != 0);
	fw_tick(&w, p, &ad, &t);
	assert_true(t.vms[0].consumed_bytes <= 4 * FW_GIB);
	reclaim_policy_destroy(p);
}

/* ---- behaviour 3: the hard state splits by observed rate ---- */

/*
 * Before any rate is seen, a VM's balloon gets balloon_default_rate x
 * balloon_horizon_ns of its excess and host swap the rest; a faster default
 * shifts the split toward the balloon.
 */
static void
hard_split_unknown_rate_uses_default(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();

	(void)state;
	for (int fast = 0; fast <= 1; fast++) {
		struct reclaim_policy *p;
		struct fw_world w;
		struct fw_tick t;
		uint64_t deliver;

		if (fast)
			cfg.balloon_default_rate *= 2;
		deliver = cfg.balloon_default_rate * (cfg.balloon_horizon_ns / FW_NS);
		p = policy_with(&cfg, 4);
		two_guests(&w, 250 * FW_MIB, 0);
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		for (size_t i = 0; i < t.n; i++) {
			const struct reclaim_decision *d = &t.d[i];

			assert_true(d->excess_bytes > deliver);
			assert_int_equal(d->balloon_target_bytes, deliver);
			assert_true(d->reasons & RECLAIM_REASON_SLOW_BALLOON);
			assert_int_equal(d->swap_bytes, round_page(d->excess_bytes - deliver));
		}
		reclaim_policy_destroy(p);
	}
}

/*
 * Two equal VMs whose balloons inflate at 4 and 32 MiB/s: once the rates are
 * seen, the hard state asks each balloon for rate x horizon (less what is
 * still in flight) and swaps the rest, so the fast one balloons more.
 */
static void
hard_split_by_observed_rate(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	const double horizon = (double)cfg.balloon_horizon_ns / FW_NS;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	/* A slow disk keeps the host in hard for the whole test. */
	two_guests(&w, 200 * FW_MIB, 4 * FW_MIB);
	w.vm[0].inflate_rate = 4.0 * FW_MIB;
	w.vm[1].inflate_rate = 32.0 * FW_MIB;
	for (unsigned i = 0; i < 4; i++) {
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		if (i == 0)
			continue;
		for (size_t k = 0; k < 2; k++) {
			const struct reclaim_decision *d = &t.d[k];
			uint64_t rate = k == 0 ? 4 * FW_MIB : 32 * FW_MIB;
			uint64_t ahead = d->balloon_target_bytes - t.vms[k].balloon_bytes;

			/* Never more in flight than the horizon at its rate. */
			assert_true(ahead <= (uint64_t)((double)rate * horizon));
			assert_true(ahead + rate >= (uint64_t)((double)rate * horizon));
			assert_true(d->swap_bytes > 0);
		}
		assert_true(t.d[1].balloon_target_bytes - t.vms[1].balloon_bytes >
			    4 * (t.d[0].balloon_target_bytes - t.vms[0].balloon_bytes));
	}
	reclaim_policy_destroy(p);
}

/* One guest on a 64 GiB host, decided on directly: the balloon does what
 * the test says, and the guest's spare memory shrinks as it grows. */
struct solo {
	struct reclaim_policy *p;
	struct reclaim_host h;
	struct reclaim_vm_stats vm;
	struct reclaim_summary sum;
	struct reclaim_decision d;
};

static void
solo_init(struct solo *s, const struct reclaim_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->p = policy_with(cfg, 1);
	s->h = (struct reclaim_host)RECLAIM_HOST_INIT;
	s->h.total_bytes = 64 * FW_GIB;
	s->h.now_ns = 100 * FW_NS;
	s->vm = (struct reclaim_vm_stats)RECLAIM_VM_STATS_INIT;
	s->vm.id = ID_A;
	s->vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	s->vm.configured_bytes = 32 * FW_GIB;
	s->vm.consumed_bytes = 30 * FW_GIB;
	s->vm.shares = 1000;
	s->vm.active_bytes = 4 * FW_GIB;
	s->vm.guest_swap_free_bytes = 8 * FW_GIB;
}

/* The host's swap bounded, and full. */
static void
solo_swap_full(struct solo *s)
{
	s->h.flags = RECLAIM_HOST_SWAP_BOUNDED;
	s->h.swap_free_bytes = 0;
}

/* A decide at @p t_s seconds, with the balloon at @p balloon and free host
 * memory at @p permille thousandths of the host (15: hard, 30: soft). */
static const struct reclaim_decision *
solo_at(struct solo *s, uint64_t t_s, uint64_t balloon, uint64_t permille)
{
	s->h.now_ns = t_s * FW_NS;
	s->h.free_bytes = s->h.total_bytes / 1000 * permille;
	s->vm.balloon_bytes = balloon;
	s->vm.guest_free_bytes = 8 * FW_GIB - balloon;
	s->vm.stats_time_ns = s->h.now_ns;
	s->sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(s->p, &s->h, &s->vm, 1, 0, &s->sum, &s->d), RECLAIM_OK);
	return &s->d;
}

/*
 * The rate a balloon inflates at is smoothed (half the last reading, half
 * the earlier rate): 8 MiB/s, then 24 MiB/s, is taken as 16 MiB/s, and the
 * hard state asks for 5 s of that.
 */
static void
hard_split_by_smoothed_rate(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t horizon_s = cfg.balloon_horizon_ns / FW_NS;
	struct solo s;

	(void)state;
	solo_init(&s, &cfg);
	assert_int_equal(solo_at(&s, 100, 0, 15)->balloon_target_bytes,
			 cfg.balloon_default_rate * horizon_s);
	assert_int_equal(s.sum.state, RECLAIM_STATE_HARD);
	assert_int_equal(solo_at(&s, 101, 8 * FW_MIB, 15)->balloon_target_bytes,
			 8 * FW_MIB + 8 * FW_MIB * horizon_s);
	assert_int_equal(solo_at(&s, 102, 32 * FW_MIB, 15)->balloon_target_bytes,
			 32 * FW_MIB + 16 * FW_MIB * horizon_s);
	reclaim_policy_destroy(s.p);
}

/*
 * A balloon that inflated 3 MiB in a second and then nothing for a window
 * is unresponsive; the rate it is judged by afterwards is what it managed
 * in that window, nothing, which says nothing about its pace: after the
 * back-off the hard state asks it for the default rate over the horizon,
 * not for the 3 MiB/s seen before it stalled, nor for nothing.
 */
static void
stalled_balloon_retried_at_default_rate(void **state)
{
	struct reclaim_config cfg = default_config();
	uint64_t horizon_s = cfg.balloon_horizon_ns / FW_NS, t = 100, window_s;
	const struct reclaim_decision *d;
	struct solo s;

	(void)state;
	window_s = cfg.balloon_window_ns / FW_NS;
	solo_init(&s, &cfg);
	assert_true(solo_at(&s, t, 0, 30)->balloon_target_bytes > 100 * FW_MIB);
	assert_int_equal(s.sum.state, RECLAIM_STATE_SOFT);
	d = solo_at(&s, ++t, 3 * FW_MIB, 30);
	assert_false(d->reasons & RECLAIM_REASON_UNRESPONSIVE);
	while (!(d->reasons & RECLAIM_REASON_UNRESPONSIVE) && t < 100 + 2 * window_s)
		d = solo_at(&s, ++t, 3 * FW_MIB, 30);
	assert_true(d->reasons & RECLAIM_REASON_UNRESPONSIVE);
	t += cfg.balloon_backoff_ns / FW_NS;
	d = solo_at(&s, t, 3 * FW_MIB, 15);
	assert_int_equal(s.sum.state, RECLAIM_STATE_HARD);
	assert_false(d->reasons & RECLAIM_REASON_UNRESPONSIVE);
	assert_int_equal(d->balloon_target_bytes,
			 3 * FW_MIB + cfg.balloon_default_rate * horizon_s);
	reclaim_policy_destroy(s.p);
}

/*
 * An ask made in the soft state to a slow (1.5 MiB/s, so responsive)
 * balloon is larger than it can deliver in the horizon: when the host falls
 * into hard, the ask is cut to rate x horizon and host swap covers the rest
 * at once instead of waiting minutes for the balloon.
 */
static void
hard_withdraws_ask_beyond_horizon(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	uint64_t rate = 3 * FW_MIB / 2, asked_soft;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	two_guests(&w, 500 * FW_MIB, 0);
	w.vm[0].inflate_rate = (double)rate;
	w.vm[1].driver = false;
	for (unsigned i = 0; i < 4; i++) {
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_SOFT);
	}
	asked_soft = fw_decision(&t, ID_A)->balloon_target_bytes;
	assert_true(asked_soft > t.vms[0].balloon_bytes + 100 * FW_MIB);
	w.other += 300 * FW_MIB; /* something else takes 300 MiB: hard */
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
	{
		const struct reclaim_decision *a = fw_decision(&t, ID_A);
		uint64_t ahead = a->balloon_target_bytes - t.vms[0].balloon_bytes;

		assert_true(ahead <= rate * (cfg.balloon_horizon_ns / FW_NS) + FW_PAGE);
		assert_true(a->balloon_target_bytes < asked_soft);
		assert_true(a->swap_bytes + ahead + FW_PAGE >= t.vms[0].consumed_bytes - a->target_bytes);
	}
	/* And the host is back above the hard threshold at the next tick. */
	fw_tick(&w, p, &ad, &t);
	assert_true(t.summary.free_bytes >= fw_threshold(&t, RECLAIM_STATE_HARD));
	reclaim_policy_destroy(p);
}

/* ---- behaviour 4: stale guest stats ---- */

/*
 * A's stats stop at t0. Up to stats_max_age A balloons as usual; once they
 * are older, A gets no inflation beyond what its balloon holds (STALE), and
 * in the soft state B takes its share. Fresh stats again: A balloons again.
 */
static void
stale_stats_stop_new_inflation(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	uint64_t frozen, stale_at = 0;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	two_guests(&w, 500 * FW_MIB, 0);
	w.vm[0].inflate_rate = 2.0 * FW_MIB; /* slow enough to stay unmet */
	w.vm[1].inflate_rate = 2.0 * FW_MIB;
	w.vm[0].stats_frozen = true;
	frozen = w.vm[0].stats_time;
	for (unsigned i = 0; i < 20; i++) {
		const struct reclaim_decision *a, *b;
		uint64_t now = w.now;

		fw_tick(&w, p, &ad, &t);
		a = fw_decision(&t, ID_A);
		b = fw_decision(&t, ID_B);
		assert_false(b->reasons & RECLAIM_REASON_STALE);
		if (now - frozen <= cfg.stats_max_age_ns) {
			assert_false(a->reasons & RECLAIM_REASON_STALE);
			assert_true(a->balloon_target_bytes > t.vms[0].balloon_bytes);
			continue;
		}
		if (!stale_at) {
			stale_at = now;
			assert_true(now - frozen <= cfg.stats_max_age_ns + FW_NS);
		}
		assert_true(a->reasons & RECLAIM_REASON_STALE);
		assert_int_equal(a->balloon_limit, RECLAIM_BALLOON_LIMIT_STALE);
		assert_true(a->balloon_target_bytes <= t.vms[0].balloon_bytes);
		assert_int_equal(a->swap_bytes, 0); /* soft never swaps */
		assert_true(b->balloon_target_bytes > t.vms[1].balloon_bytes);
	}
	assert_true(stale_at != 0);
	/* Fresh stats: A may inflate again. */
	w.vm[0].stats_frozen = false;
	w.vm[0].stats_time = w.now;
	fw_tick(&w, p, &ad, &t);
	assert_false(fw_decision(&t, ID_A)->reasons & RECLAIM_REASON_STALE);
	reclaim_policy_destroy(p);
}

/*
 * Stale in the hard state, three ways (too old, from the future, not
 * reported at all): no new inflation for A, and host swap covers A's whole
 * share; B, with fresh stats, still balloons.
 */
static void
stale_stats_in_hard_go_to_swap(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();

	(void)state;
	for (int how = 0; how < 3; how++) {
		struct reclaim_policy *p = policy_with(&cfg, 4);
		const struct reclaim_decision *a, *b;
		struct fw_world w;
		struct fw_tick t;

		two_guests(&w, 250 * FW_MIB, 0);
		w.vm[0].balloon = w.vm[0].balloon_target = 64 * FW_MIB;
		w.vm[0].stats_frozen = true;
		if (how == 0)
			w.vm[0].stats_time = w.now - cfg.stats_max_age_ns - 1;
		else if (how == 1)
			w.vm[0].stats_time = w.now + FW_NS;
		else
			w.vm[0].stats = false;
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		a = fw_decision(&t, ID_A);
		b = fw_decision(&t, ID_B);
		assert_true(a->reasons & RECLAIM_REASON_STALE);
		assert_true(a->balloon_target_bytes <= 64 * FW_MIB);
		assert_true(a->excess_bytes > 0);
		assert_true(a->swap_bytes + FW_PAGE >= t.vms[0].consumed_bytes - a->target_bytes);
		assert_false(b->reasons & RECLAIM_REASON_STALE);
		assert_true(b->balloon_target_bytes > t.vms[1].balloon_bytes);
		reclaim_policy_destroy(p);
	}
}

/* ---- behaviour 6: block and unblock on transitions only ---- */

/*
 * Guests take turns ramping up by 100 MiB/s for 25 s on a host with a slow
 * disk, which sends it into the low state again and again, with VMs above
 * target for several ticks at a time. Over 900 ticks every block and unblock
 * call matches a transition of the decision's block flag: no block of a
 * blocked VM, no unblock of a running one, nobody left blocked at the end.
 * A config change halfway must not re-issue anything.
 */
static void
low_state_blocks_on_transitions_only(void **state)
{
	struct reclaim_config cfg = default_config(), next;
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 8);
	uint64_t transitions_on[4] = {0}, transitions_off[4] = {0};
	uint32_t was_blocked[4] = {0};
	unsigned low_ticks = 0, longest = 0, run[4] = {0};
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	fw_init(&w, 17 * FW_GIB, FW_GIB, FW_NS, 3);
	for (uint64_t k = 0; k < 4; k++) {
		struct fw_vm *v = fw_add_vm(&w, 10 + k, 6 * FW_GIB, 2 * FW_GIB);

		v->touched = 2560 * FW_MIB;
		v->driver = k != 0; /* one guest has no balloon driver */
	}
	w.swap_bw = 32 * FW_MIB;
	fw_set_free(&w, 1200 * FW_MIB);
	for (unsigned i = 0; i < 900; i++) {
		unsigned who = (i / 150) % 4, phase = i % 150;

		if (phase < 25)
			w.vm[who].demand += 100 * FW_MIB;
		else if (phase >= 100 && phase < 125)
			w.vm[who].demand -= 100 * FW_MIB;
		if (i == 450) {
			next = cfg;
			next.hysteresis = 0.008;
			assert_int_equal(reclaim_policy_set_config(p, &next), RECLAIM_OK);
		}
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.decide_rc, RECLAIM_OK);
		assert_int_equal(t.apply_rc, RECLAIM_OK);
		if (t.summary.state == RECLAIM_STATE_LOW)
			low_ticks++;
		for (size_t k = 0; k < 4; k++) {
			const struct reclaim_decision *d = &t.d[k];

			assert_int_equal(!!(d->actions & RECLAIM_ACTION_BLOCK),
					 d->block && !was_blocked[k]);
			assert_int_equal(!!(d->actions & RECLAIM_ACTION_UNBLOCK),
					 !d->block && was_blocked[k]);
			if (d->block && !was_blocked[k])
				transitions_on[k]++;
			if (!d->block && was_blocked[k])
				transitions_off[k]++;
			run[k] = d->block ? run[k] + 1 : 0;
			longest = run[k] > longest ? run[k] : longest;
			was_blocked[k] = d->block;
			assert_int_equal(w.vm[k].blocked, d->block != 0);
		}
	}
	for (size_t k = 0; k < 4; k++) {
		assert_int_equal(w.vm[k].calls[FW_OP_BLOCK], transitions_on[k]);
		assert_int_equal(w.vm[k].calls[FW_OP_UNBLOCK], transitions_off[k]);
		assert_int_equal(w.vm[k].redundant_block, 0);
		assert_int_equal(w.vm[k].redundant_unblock, 0);
		assert_false(w.vm[k].blocked);
	}
	/* The scenario did exercise it: low several times, blocks that lasted. */
	assert_true(low_ticks >= 10);
	assert_true(transitions_on[0] + transitions_on[1] + transitions_on[2] +
			    transitions_on[3] >= 8);
	assert_true(longest >= 3);
	assert_int_equal(w.unknown_calls, 0);
	reclaim_policy_destroy(p);
}

/* ---- behaviour 7: admission planning ---- */

static void
tick_pair(struct fw_world *w1, struct reclaim_policy *p1, struct fw_world *w2,
	  struct reclaim_policy *p2, const struct reclaim_adapter *ad)
{
	struct fw_tick t1, t2;

	fw_tick(w1, p1, ad, &t1);
	fw_tick(w2, p2, ad, &t2);
	assert_int_equal(t1.decide_rc, RECLAIM_OK);
	assert_memory_equal(&t1.summary, &t2.summary, sizeof(t1.summary));
	assert_memory_equal(t1.d, t2.d, t1.n * sizeof(t1.d[0]));
}

/*
 * A plan to admit a 2 GiB VM on a host with 1.1 GiB free: it acts on nothing
 * and leaves the policy as it was (the following decisions are those of a
 * twin policy that made no plan, across a balloon window); carried out, the
 * plan makes room for the VM with free memory still at or above the high
 * threshold. A VM larger than everything reclaimable is a shortfall.
 */
static void
admission_plan(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_policy *twin = policy_with(&cfg, 4);
	const uint64_t new_vm = 2 * FW_GIB;
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[FW_MAX_VMS];
	struct reclaim_vm_stats vms[FW_MAX_VMS];
	struct reclaim_host h;
	struct fw_world w, w2, before;
	uint64_t planned = 0;
	size_t n;

	(void)state;
	/* A slightly pressed host: early ballooning under way, A stalled.
	 * The guests have touched all their memory, so that every page a
	 * balloon takes is a page the host gets back. */
	two_guests(&w, 900 * FW_MIB, 0);
	w.vm[0].touched = w.vm[1].touched = 6 * FW_GIB;
	fw_set_free(&w, 900 * FW_MIB);
	w.vm[0].inflate_rate = 0.0;
	w2 = w;
	for (unsigned i = 0; i < 3; i++)
		tick_pair(&w, p, &w2, twin, &ad);

	before = w;
	n = fw_snapshot(&w, &h, vms);
	assert_int_equal(reclaim_plan_admission(p, &h, vms, n, new_vm, &s, d),
			 RECLAIM_OK);
	assert_false(s.flags & RECLAIM_SUMMARY_SHORTFALL);
	assert_true(s.need_bytes >= new_vm + s.threshold_bytes[RECLAIM_STATE_HIGH] - h.free_bytes);
	for (size_t i = 0; i < n; i++) {
		planned += d[i].swap_bytes + d[i].compress_bytes;
		if (d[i].balloon_target_bytes > vms[i].balloon_bytes)
			planned += d[i].balloon_target_bytes - vms[i].balloon_bytes;
	}
	assert_true(planned + FW_PAGE >= s.need_bytes);

	/* The policy did not notice: same decisions as the twin, through
	 * A's balloon window. */
	for (unsigned i = 0; i < 15; i++)
		tick_pair(&w, p, &w2, twin, &ad);

	/* Carried out, the plan admits the VM above the high threshold:
	 * balloons first (given time to inflate), then host swap, so that
	 * the balloons do not take pages that were just swapped. */
	{
		struct reclaim_decision balloons[FW_MAX_VMS];
		struct fw_world x = before;
		uint64_t high = s.threshold_bytes[RECLAIM_STATE_HIGH];

		memcpy(balloons, d, n * sizeof(d[0]));
		for (size_t i = 0; i < n; i++)
			balloons[i].actions &= RECLAIM_ACTION_BALLOON;
		x.vm[0].inflate_rate = 64.0 * FW_MIB;
		x.swapin_per_s = 0.0;
		fw_begin_apply(&x);
		assert_int_equal(reclaim_apply(NULL, &ad, &x, balloons, n, NULL, sizeof(struct reclaim_apply_result)),
				 RECLAIM_OK);
		for (unsigned i = 0; i < 60; i++)
			fw_advance(&x);
		for (size_t i = 0; i < n; i++)
			d[i].actions &= ~(uint32_t)RECLAIM_ACTION_BALLOON;
		fw_begin_apply(&x);
		assert_int_equal(reclaim_apply(NULL, &ad, &x, d, n, NULL, sizeof(struct reclaim_apply_result)),
				 RECLAIM_OK);
		assert_true(fw_free(&x) >= new_vm + high);
	}

	/* Too big to admit. */
	n = fw_snapshot(&w, &h, vms);
	assert_int_equal(reclaim_plan_admission(p, &h, vms, n, 15 * FW_GIB, &s, d),
			 RECLAIM_OK);
	assert_true(s.flags & RECLAIM_SUMMARY_SHORTFALL);
	tick_pair(&w, p, &w2, twin, &ad);
	reclaim_policy_destroy(p);
	reclaim_policy_destroy(twin);
}

/* ---- behaviour 9: the compression tier ---- */

/*
 * In the low state (everything swapped now), a VM with a compression cache
 * sends its swap pages to compression first, up to the cache's room:
 * compress_max_bytes when reported, compress_max_fraction of its size when
 * not. Once the cache is full, everything goes to swap. A VM without a cache
 * only swaps.
 */
static void
compression_first_up_to_cache_limit(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();

	(void)state;
	for (int reported = 0; reported <= 1; reported++) {
		struct reclaim_policy *p = policy_with(&cfg, 4);
		uint64_t cache, compressed = 0;
		struct fw_world w;
		struct fw_tick t;

		two_guests(&w, 120 * FW_MIB, 16 * FW_MIB);
		w.vm[0].compress = true;
		w.vm[0].compress_max = reported ? 200 * FW_MIB : 0;
		cache = reported ? 200 * FW_MIB
				 : (uint64_t)(cfg.compress_max_fraction * (double)(6 * FW_GIB)) &
					   ~(FW_PAGE - 1);
		for (unsigned i = 0; i < 30; i++) {
			const struct reclaim_decision *a, *b;
			uint64_t room;

			fw_tick(&w, p, &ad, &t);
			if (t.summary.state < RECLAIM_STATE_HARD)
				break;
			a = fw_decision(&t, ID_A);
			b = fw_decision(&t, ID_B);
			room = fw_sub(cache, t.vms[0].compress_used_bytes);
			assert_int_equal(b->compress_bytes, 0);
			if (a->swap_bytes + a->compress_bytes == 0)
				continue;
			assert_true(a->compress_bytes <= room);
			if (room >= a->swap_bytes + a->compress_bytes)
				assert_int_equal(a->swap_bytes, 0);
			else
				assert_true(a->compress_bytes + FW_PAGE > room);
			if (a->compress_bytes) {
				assert_true(a->actions & RECLAIM_ACTION_COMPRESS);
				assert_int_equal(w.vm[0].last_arg[FW_OP_COMPRESS], a->compress_bytes);
			}
			compressed += a->compress_bytes;
		}
		assert_true(compressed > 0);
		assert_true(w.vm[0].compressed / 2 <= cache);
		assert_int_equal(w.vm[1].compressed, 0);
		assert_true(w.vm[1].calls[FW_OP_SWAP] > 0);
		reclaim_policy_destroy(p);
	}
}

/*
 * A full cache: compression stops and the same need is host-swapped; with
 * no cache reported (flag off) the VM only swaps.
 */
static void
compression_full_cache_swaps(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();

	(void)state;
	for (int full = 0; full <= 1; full++) {
		struct reclaim_policy *p = policy_with(&cfg, 4);
		const struct reclaim_decision *a;
		struct fw_world w;
		struct fw_tick t;

		two_guests(&w, 120 * FW_MIB, 0);
		w.vm[0].compress = !full;
		if (full) {
			w.vm[1].compress = true;
			w.vm[1].compress_max = 64 * FW_MIB;
			w.vm[1].compressed = 128 * FW_MIB; /* 64 MiB of cache: full */
		}
		fw_set_free(&w, 120 * FW_MIB);
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
		a = fw_decision(&t, full ? ID_B : ID_A);
		if (full) {
			assert_int_equal(a->compress_bytes, 0);
			assert_true(a->swap_bytes > 0);
			assert_false(a->actions & RECLAIM_ACTION_COMPRESS);
		} else {
			assert_true(a->compress_bytes > 0);
			assert_int_equal(fw_decision(&t, ID_B)->compress_bytes, 0);
		}
		reclaim_policy_destroy(p);
	}
}

/*
 * A VM with nothing to give in the hard state (held at its reservation) on
 * a host whose swap is full keeps its balloon, and its decision still says
 * that host swap could not have taken a share.
 */
static void
swap_unavailable_said_when_nothing_to_give(void **state)
{
	struct reclaim_config cfg = default_config();
	struct solo s;
	const struct reclaim_decision *d;

	(void)state;
	solo_init(&s, &cfg);
	solo_swap_full(&s);
	s.vm.reservation_bytes = s.vm.consumed_bytes;
	d = solo_at(&s, 100, 2 * FW_GIB, 15);
	assert_int_equal(s.sum.state, RECLAIM_STATE_HARD);
	assert_int_equal(d->excess_bytes, 0);
	assert_int_equal(d->swap_bytes, 0);
	assert_int_equal(d->compress_bytes, 0);
	assert_int_equal(d->balloon_target_bytes, 2 * FW_GIB);
	assert_int_equal(d->target_bytes, s.vm.consumed_bytes);
	assert_true(d->reasons & RECLAIM_REASON_SWAP_UNAVAILABLE);
	reclaim_policy_destroy(s.p);
}

/*
 * Compression works in pages: a VM without host swap or a balloon driver,
 * whose cache has room for a page and 100 bytes, is planned to give one
 * page, its excess no more than its cache takes.
 */
static void
compression_room_in_whole_pages(void **state)
{
	struct reclaim_config cfg = default_config();
	struct solo s;
	const struct reclaim_decision *d;

	(void)state;
	solo_init(&s, &cfg);
	solo_swap_full(&s);
	s.vm.flags = RECLAIM_VM_GUEST_STATS | RECLAIM_VM_COMPRESS;
	s.vm.compress_max_bytes = FW_GIB;
	s.vm.compress_used_bytes = FW_GIB - FW_PAGE - 100;
	d = solo_at(&s, 100, 0, 15);
	assert_int_equal(s.sum.state, RECLAIM_STATE_HARD);
	assert_true(d->reasons & RECLAIM_REASON_SWAP_UNAVAILABLE);
	assert_int_equal(d->compress_bytes, FW_PAGE);
	assert_int_equal(d->swap_bytes, 0);
	assert_int_equal(d->excess_bytes, FW_PAGE);
	assert_int_equal(d->target_bytes, s.vm.consumed_bytes - FW_PAGE);
	reclaim_policy_destroy(s.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stalled_balloon_moves_to_swap_in_hard),
		cmocka_unit_test(limit_rule_escalates_stalled_balloon),
		cmocka_unit_test(hard_split_unknown_rate_uses_default),
		cmocka_unit_test(hard_split_by_observed_rate),
		cmocka_unit_test(hard_split_by_smoothed_rate),
		cmocka_unit_test(stalled_balloon_retried_at_default_rate),
		cmocka_unit_test(hard_withdraws_ask_beyond_horizon),
		cmocka_unit_test(stale_stats_stop_new_inflation),
		cmocka_unit_test(stale_stats_in_hard_go_to_swap),
		cmocka_unit_test(low_state_blocks_on_transitions_only),
		cmocka_unit_test(admission_plan),
		cmocka_unit_test(compression_first_up_to_cache_limit),
		cmocka_unit_test(compression_full_cache_swaps),
		cmocka_unit_test(compression_room_in_whole_pages),
		cmocka_unit_test(swap_unavailable_said_when_nothing_to_give),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
