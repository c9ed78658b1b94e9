/* SPDX-License-Identifier: MIT */
/*
 * The per-state actions (lib/actions.c), white box: what the bounds applied
 * after every decision is written do to the decisions they change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reclaim-private.h"

#define MIB ((uint64_t)1 << 20)

/*
 * Rebalancing gives back no more than the others give. A VM held at its
 * limit, its balloon's inflation still in flight (asked 888 MiB, holding
 * 720), is given back the 168 MiB its balloon has yet to take, its target
 * at its maximum (bound "max"); the other VM gives only its limit excess,
 * which does not count. The give-back is cut to nothing, which brings the
 * target down to the reservation: the bound must say so, not "max".
 */
static void
cut_give_back_names_its_bound(void **state)
{
	const uint64_t limit = 179149417ull, resv = 166552974ull;
	struct reclaim_config cfg;
	struct reclaim_vm_stats vms[2] = {RECLAIM_VM_STATS_INIT, RECLAIM_VM_STATS_INIT};
	struct reclaim_decision d[2];
	struct vm_work w[2];
	struct vm_hist next[2];
	struct totals tot;
	struct vm_array arr = {vms, sizeof(vms[0]), 2};

	(void)state;
	assert_int_equal(reclaim_config_init(&cfg, sizeof(cfg)), RECLAIM_OK);
	memset(d, 0, sizeof(d));
	memset(w, 0, sizeof(w));
	memset(next, 0, sizeof(next));
	memset(&tot, 0, sizeof(tot));

	vms[0].id = 1;
	vms[0].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	vms[0].configured_bytes = 3045540097ull;
	vms[0].consumed_bytes = limit - 1270;
	vms[0].reservation_bytes = resv;
	vms[0].limit_bytes = limit;
	vms[0].balloon_bytes = 720 * MIB;
	w[0].held = 888 * MIB;
	w[0].projected = w[0].base = vms[0].consumed_bytes - 168 * MIB;
	w[0].lo = resv;
	w[0].hi = limit;
	w[0].flags = VIEW_DRIVER;
	w[0].asked_before = 888 * MIB;
	d[0].target_bytes = limit;
	d[0].balloon_target_bytes = 720 * MIB;
	d[0].reasons = RECLAIM_REASON_REBALANCE;
	d[0].bound = RECLAIM_BOUND_MAX;
	d[0].actions = RECLAIM_ACTION_BALLOON;

	vms[1].id = 2;
	vms[1].flags = RECLAIM_VM_GUEST_STATS;
	vms[1].configured_bytes = 10711899649ull;
	vms[1].consumed_bytes = 6828836026ull;
	vms[1].limit_bytes = 4242752409ull;
	w[1].projected = w[1].base = vms[1].consumed_bytes;
	w[1].limit_excess = vms[1].consumed_bytes - vms[1].limit_bytes;
	d[1].target_bytes = vms[1].limit_bytes;
	d[1].swap_bytes = w[1].limit_excess;
	d[1].reasons = RECLAIM_REASON_LIMIT;
	d[1].bound = RECLAIM_BOUND_MAX;
	/* As decision_write() sums them: 168 MiB back, nothing given beyond
	 * the limit. */
	tot.rebalanced = true;
	tot.back = w[0].held - d[0].balloon_target_bytes;
	tot.in = gives_beyond_limit(&d[1], &w[1]);
	assert_int_equal(tot.back, 168 * MIB);
	assert_int_equal(tot.in, 0);

	actions_bound_rebalance(&cfg, d, sizeof(d[0]), 2, w, &arr, next, &tot);
	assert_int_equal(d[0].balloon_target_bytes, 888 * MIB); /* nothing given back */
	assert_int_equal(d[0].target_bytes, resv);
	assert_int_equal(d[0].bound, RECLAIM_BOUND_RESERVATION);
	assert_false(d[0].actions & RECLAIM_ACTION_BALLOON); /* as asked last tick */
	/* the other VM is left as it was */
	assert_int_equal(d[1].swap_bytes, w[1].limit_excess);
	assert_int_equal(d[1].bound, RECLAIM_BOUND_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cut_give_back_names_its_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
