/* SPDX-License-Identifier: MIT */
/*
 * Free-memory states: README.md's table (high; soft < 4 %; hard < 2 %;
 * low < 1 %), the techniques each state uses, and hysteresis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define NVM 8

struct walk {
	struct reclaim_policy *p;
	struct reclaim_vm_stats vm[NVM];
	struct reclaim_decision d[NVM];
	struct reclaim_summary sum;
	uint64_t total, reserved, usable, now;
	unsigned blocks, unblocks;
};

static void
walk_init(struct walk *w)
{
	memset(w, 0, sizeof(*w));
	w->total = 101 * GiB;
	w->reserved = 1 * GiB;
	w->usable = w->total - w->reserved;
	w->p = tu_policy(NULL, NVM);
	assert_non_null(w->p);
	for (int i = 0; i < NVM; i++)
		w->vm[i] = tu_vm((uint64_t)i + 1, 16 * GiB, 12 * GiB, 1000);
}

/* One tick at free = pct % of usable; balloons delivered what was asked. */
static void
walk_step(struct walk *w, double pct)
{
	struct reclaim_host h;
	uint64_t free_bytes = tu_pct(w->usable, pct);
	uint64_t each = (w->usable - free_bytes) / NVM;

	w->now += SEC;
	for (int i = 0; i < NVM; i++) {
		struct reclaim_vm_stats *vm = &w->vm[i];

		vm->consumed_bytes = each;
		vm->active_bytes = each / 4;
		vm->guest_free_bytes = vm->configured_bytes > each + vm->balloon_bytes
					       ? vm->configured_bytes - each - vm->balloon_bytes
					       : 0;
		vm->guest_swap_free_bytes = 4 * GiB;
		vm->stats_time_ns = w->now;
	}
	h = tu_host(w->total, w->reserved, free_bytes, w->now);
	w->sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(w->p, &h, w->vm, NVM, 0, &w->sum, w->d),
			 RECLAIM_OK);
	for (int i = 0; i < NVM; i++) {
		/* balloons move toward their target at 32 MiB per second */
		uint64_t b = w->vm[i].balloon_bytes, t = w->d[i].balloon_target_bytes;

		w->vm[i].balloon_bytes = t > b ? b + (t - b < 32 * MiB ? t - b : 32 * MiB) : t;
		w->blocks += !!(w->d[i].actions & RECLAIM_ACTION_BLOCK);
		w->unblocks += !!(w->d[i].actions & RECLAIM_ACTION_UNBLOCK);
	}
}

static unsigned
blocked(const struct walk *w)
{
	unsigned n = 0;

	for (int i = 0; i < NVM; i++)
		n += w->d[i].block;
	return n;
}

static void
report(const struct walk *w, double pct, const char *dir)
{
	print_message("# %s free %5.2f %%  state %-4s  balloon %-3s swap %-3s block %u\n", dir, pct,
		      reclaim_state_name(w->sum.state), w->sum.balloon_bytes ? "yes" : "no",
		      w->sum.swap_bytes ? "yes" : "no", blocked(w));
}

/* README.md's table, walked from 10 % free down to 0.6 % and back. */
static void
seed_table_walk(void **state)
{
	struct walk w;
	double pct;

	(void)state;
	walk_init(&w);
	for (pct = 10.1; pct > 0.5; pct -= 0.5) {
		walk_step(&w, pct);
		report(&w, pct, "down");
		if (pct > 6.0) {
			assert_int_equal(w.sum.state, RECLAIM_STATE_HIGH);
			assert_int_equal(w.sum.balloon_bytes, 0);
			assert_int_equal(w.sum.swap_bytes, 0);
		} else if (pct > 4.0) {
			/* early ballooning: still high, balloons, never swaps */
			assert_int_equal(w.sum.state, RECLAIM_STATE_HIGH);
			assert_true(w.sum.balloon_bytes > 0);
			assert_true(w.sum.flags & RECLAIM_SUMMARY_EARLY);
			assert_int_equal(w.sum.swap_bytes, 0);
		} else if (pct > 2.0) {
			assert_int_equal(w.sum.state, RECLAIM_STATE_SOFT);
			assert_true(w.sum.balloon_bytes > 0);
			assert_int_equal(w.sum.swap_bytes, 0);
		} else if (pct > 1.0) {
			assert_int_equal(w.sum.state, RECLAIM_STATE_HARD);
			assert_true(w.sum.swap_bytes > 0);
			assert_int_equal(blocked(&w), 0);
		} else {
			assert_int_equal(w.sum.state, RECLAIM_STATE_LOW);
			assert_true(w.sum.swap_bytes > 0);
			assert_true(blocked(&w) > 0);
		}
		/* every state aims back above the high threshold */
		if (pct < 6.0)
			assert_true(w.sum.need_bytes >= w.sum.threshold_bytes[0] - w.sum.free_bytes);
	}
	assert_int_equal(w.blocks, NVM);
	for (pct = 0.6; pct < 10.5; pct += 0.5) {
		walk_step(&w, pct);
		report(&w, pct, "up  ");
		/* better states only after exceeding the entry level + 0.5 % */
		if (pct < 1.5)
			assert_int_equal(w.sum.state, RECLAIM_STATE_LOW);
		else if (pct < 2.5)
			assert_int_equal(w.sum.state, RECLAIM_STATE_HARD);
		else if (pct < 4.5)
			assert_int_equal(w.sum.state, RECLAIM_STATE_SOFT);
		else
			assert_int_equal(w.sum.state, RECLAIM_STATE_HIGH);
		if (w.sum.state != RECLAIM_STATE_LOW)
			assert_int_equal(blocked(&w), 0);
	}
	/* block and unblock issued once each per VM, on the transitions only */
	assert_int_equal(w.blocks, NVM);
	assert_int_equal(w.unblocks, NVM);
	reclaim_policy_destroy(w.p);
}

/* Free memory wobbling around a threshold does not make the state flap. */
static void
hysteresis_no_flapping(void **state)
{
	static const double soft_edge[] = {4.2, 3.9, 4.1, 3.95, 4.3, 3.99, 4.4, 4.49};
	static const double hard_edge[] = {2.1, 1.9, 2.2, 1.95, 2.4, 1.99, 2.45};
	static const double low_edge[] = {1.1, 0.9, 1.2, 0.95, 1.45, 0.99};
	const struct {
		const double *v;
		size_t n;
		int better, worse;
	} edges[] = {
		{soft_edge, 8, RECLAIM_STATE_HIGH, RECLAIM_STATE_SOFT},
		{hard_edge, 7, RECLAIM_STATE_SOFT, RECLAIM_STATE_HARD},
		{low_edge, 6, RECLAIM_STATE_HARD, RECLAIM_STATE_LOW},
	};

	(void)state;
	for (size_t e = 0; e < 3; e++) {
		struct walk w;
		unsigned changes = 0;
		int last;

		walk_init(&w);
		walk_step(&w, edges[e].v[0]);
		last = (int)w.sum.state;
		assert_int_equal(last, edges[e].better);
		for (size_t i = 1; i < edges[e].n; i++) {
			walk_step(&w, edges[e].v[i]);
			changes += (int)w.sum.state != last;
			last = (int)w.sum.state;
		}
		/* one step down, none back up inside the margin */
		assert_int_equal(changes, 1);
		assert_int_equal(last, edges[e].worse);
		/* and out once the margin is passed */
		walk_step(&w, edges[e].v[0] + 0.6);
		assert_int_equal(w.sum.state, edges[e].better);
		reclaim_policy_destroy(w.p);
	}
}

/* A worse state is entered at once, even several steps down. */
static void
worse_state_immediately(void **state)
{
	struct walk w;

	(void)state;
	walk_init(&w);
	walk_step(&w, 8.0);
	assert_int_equal(w.sum.state, RECLAIM_STATE_HIGH);
	walk_step(&w, 0.5);
	assert_int_equal(w.sum.state, RECLAIM_STATE_LOW);
	assert_int_equal(w.sum.previous_state, RECLAIM_STATE_HIGH);
	/* and a jump back up skips states once it clears each margin */
	walk_step(&w, 9.0);
	assert_int_equal(w.sum.state, RECLAIM_STATE_HIGH);
	reclaim_policy_destroy(w.p);
}

/* One decide on a fresh policy that was last in state @p from (set by a
 * first decide at @p from_free), now at @p free_bytes. */
static struct reclaim_summary
edge_decide(uint64_t from_free, uint64_t free_bytes, struct reclaim_decision *d)
{
	struct reclaim_policy *p = tu_policy(NULL, 1);
	struct reclaim_vm_stats vm = tu_vm(1, 16 * GiB, 12 * GiB, 1000);
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_host h = tu_host(100 * GiB, 0, from_free, 0);

	assert_non_null(p);
	vm.balloon_bytes = 2 * GiB; /* something to deflate */
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, d), RECLAIM_OK);
	h.free_bytes = free_bytes;
	sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(p, &h, &vm, 1, 0, &sum, d), RECLAIM_OK);
	reclaim_policy_destroy(p);
	return sum;
}

/*
 * The edges to the byte. A better state is entered once free memory exceeds
 * the current state's threshold by the margin: at exactly threshold +
 * margin, not a byte later. The hysteresis band above the high threshold
 * ends at the same distance: there the host no longer holds.
 */
static void
edges_to_the_byte(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_decision d;
	struct reclaim_summary sum;
	uint64_t thr[4], margin;

	(void)state;
	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&cfg), RECLAIM_OK);
	assert_int_equal(reclaim_config_thresholds(&cfg, 100 * GiB, 0, thr), RECLAIM_OK);
	margin = (uint64_t)((double)(100 * GiB) * cfg.hysteresis);
	for (int s = RECLAIM_STATE_SOFT; s <= RECLAIM_STATE_LOW; s++) {
		uint64_t in = thr[s] - MiB; /* in state s */

		sum = edge_decide(in, thr[s] + margin - 1, &d);
		assert_int_equal(sum.state, s);
		sum = edge_decide(in, thr[s] + margin, &d);
		assert_int_equal(sum.previous_state, s);
		assert_int_equal(sum.state, s - 1);
	}
	sum = edge_decide(thr[RECLAIM_STATE_HIGH] + GiB, thr[RECLAIM_STATE_HIGH] + margin - 1, &d);
	assert_true(d.reasons & RECLAIM_REASON_HOLD);
	assert_int_equal(d.balloon_target_bytes, 2 * GiB);
	sum = edge_decide(thr[RECLAIM_STATE_HIGH] + GiB, thr[RECLAIM_STATE_HIGH] + margin, &d);
	assert_false(d.reasons & RECLAIM_REASON_HOLD);
	/* (with no surplus above the band there is nothing to deflate yet) */
	assert_int_equal(d.balloon_target_bytes, 2 * GiB);
	sum = edge_decide(thr[RECLAIM_STATE_HIGH] + GiB, thr[RECLAIM_STATE_HIGH] + margin + MiB, &d);
	assert_true(d.reasons & RECLAIM_REASON_DEFLATE);
	assert_int_equal(d.balloon_target_bytes, 2 * GiB - MiB);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seed_table_walk),
		cmocka_unit_test(hysteresis_no_flapping),
		cmocka_unit_test(worse_state_immediately),
		cmocka_unit_test(edges_to_the_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
