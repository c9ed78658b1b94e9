/* SPDX-License-Identifier: MIT */
/*
 * The limit rule (reclaimed to the limit in every state, balloon first) and
 * the balloon cap (65 % of the configured size, the VM's own cap, and what
 * the guest can give without running out of memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define TOTAL (65 * GiB)
#define RESERVED (1 * GiB)
#define USABLE (TOTAL - RESERVED)

static struct reclaim_summary
decide_n(struct reclaim_decision *d, struct reclaim_vm_stats *vm, size_t n, double pct,
	 const struct reclaim_config *cfg)
{
	struct reclaim_policy *p = tu_policy(cfg, n);
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_host h = tu_host(TOTAL, RESERVED, tu_pct(USABLE, pct), 0);

	assert_non_null(p);
	assert_int_equal(reclaim_decide(p, &h, vm, n, 0, &sum, d), RECLAIM_OK);
	reclaim_policy_destroy(p);
	return sum;
}

/* Half the host free, one VM 2 GiB over its limit: ballooned to the limit. */
static void
limit_rule_on_idle_host(void **state)
{
	struct reclaim_vm_stats vm[2] = {tu_vm(1, 8 * GiB, 6 * GiB, 1000),
					  tu_vm(2, 8 * GiB, 6 * GiB, 1000)};
	struct reclaim_decision d[2];
	struct reclaim_summary sum;

	(void)state;
	vm[0].limit_bytes = 4 * GiB;
	sum = decide_n(d, vm, 2, 50.0, NULL);
	assert_int_equal(sum.state, RECLAIM_STATE_HIGH);
	assert_int_equal(d[0].balloon_target_bytes, 2 * GiB);
	assert_int_equal(d[0].swap_bytes, 0);
	assert_int_equal(d[0].target_bytes, 4 * GiB);
	assert_true(d[0].reasons & RECLAIM_REASON_LIMIT);
	assert_int_equal(d[0].bound, RECLAIM_BOUND_MAX);
	assert_true(d[0].actions & RECLAIM_ACTION_BALLOON);
	/* the other VM is left alone */
	assert_int_equal(d[1].balloon_target_bytes, 0);
	assert_int_equal(d[1].swap_bytes, 0);
	assert_int_equal(d[1].reasons & RECLAIM_REASON_LIMIT, 0);
}

/*
 * A VM whose host-side consumption overshoots its configured size a little
 * (VMM overhead counted in) is not over a limit: on an idle host it is left
 * alone. Its explicit limit still applies, to the guest memory it has.
 */
static void
overshoot_is_not_a_limit(void **state)
{
	struct reclaim_vm_stats vm[2] = {tu_vm(1, 8 * GiB, 8 * GiB + 50 * MiB, 1000),
					  tu_vm(2, 8 * GiB, 8 * GiB + 50 * MiB, 1000)};
	struct reclaim_decision d[2];
	struct reclaim_summary sum;

	(void)state;
	vm[0].guest_free_bytes = vm[1].guest_free_bytes = GiB;
	vm[1].limit_bytes = 6 * GiB;
	sum = decide_n(d, vm, 2, 50.0, NULL);
	assert_int_equal(sum.state, RECLAIM_STATE_HIGH);
	assert_int_equal(d[0].reasons & RECLAIM_REASON_LIMIT, 0);
	assert_int_equal(d[0].balloon_target_bytes, 0);
	assert_int_equal(d[0].swap_bytes, 0);
	assert_false(d[0].actions & (RECLAIM_ACTION_BALLOON | RECLAIM_ACTION_SWAP));
	assert_int_equal(d[0].target_bytes, 8 * GiB);
	/* 8 GiB of guest memory against a 6 GiB limit: 2 GiB, not 2 GiB + 50 MiB */
	assert_true(d[1].reasons & RECLAIM_REASON_LIMIT);
	assert_int_equal(d[1].balloon_target_bytes, 2 * GiB);
	assert_int_equal(d[1].target_bytes, 6 * GiB);
}

/* What the balloon cannot take is host-swapped, even in the high state. */
static void
limit_rule_swaps_beyond_balloon(void **state)
{
	struct reclaim_vm_stats vm = tu_vm(1, 8 * GiB, 6 * GiB, 1000);
	struct reclaim_decision d;
	struct reclaim_summary sum;

	(void)state;
	vm.limit_bytes = 4 * GiB;
	vm.balloon_cap_bytes = 512 * MiB;
	sum = decide_n(&d, &vm, 1, 50.0, NULL);
	assert_int_equal(sum.state, RECLAIM_STATE_HIGH);
	assert_int_equal(d.balloon_target_bytes, 512 * MiB);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_VM_CAP);
	assert_int_equal(d.swap_bytes, 2 * GiB - 512 * MiB);
	assert_true(d.reasons & RECLAIM_REASON_LIMIT);
	assert_true(d.reasons & RECLAIM_REASON_BALLOON_CAPPED);

	/* no driver: all of it host-swapped */
	vm.flags &= ~(uint32_t)RECLAIM_VM_BALLOON;
	sum = decide_n(&d, &vm, 1, 50.0, NULL);
	assert_int_equal(d.balloon_target_bytes, 0);
	assert_int_equal(d.swap_bytes, 2 * GiB);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_NO_DRIVER);
	assert_true(d.reasons & RECLAIM_REASON_NO_BALLOON);
}

/* Each term of the cap, one at a time, in the hard state. */
static void
balloon_cap_terms(void **state)
{
	struct reclaim_vm_stats vm;
	struct reclaim_decision d;
	struct reclaim_config cfg;

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.balloon_default_rate = 64 * GiB; /* fast balloons: the cap decides */

	/* 65 % of the configured size */
	vm = tu_vm(1, 10 * GiB, 10 * GiB - 1, 1000);
	vm.guest_free_bytes = 9 * GiB;
	vm.guest_swap_free_bytes = 9 * GiB;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_FRACTION);
	assert_int_equal(d.balloon_cap_bytes, (uint64_t)(0.65 * (double)(10 * GiB)));
	assert_true(d.balloon_target_bytes <= d.balloon_cap_bytes);

	/* a VM cap equal to the fraction does not lower the cap: the
	 * fraction stays named */
	vm.balloon_cap_bytes = d.balloon_cap_bytes;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_FRACTION);
	vm.balloon_cap_bytes = d.balloon_cap_bytes - 1;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_VM_CAP);

	/* the VM's own cap */
	vm.balloon_cap_bytes = 1 * GiB;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_VM_CAP);
	assert_int_equal(d.balloon_target_bytes, 1 * GiB);
	assert_true(d.swap_bytes > 0);

	/* the guest: free memory + free swap - its margin (a tenth of a GiB
	 * more than guest_margin_bytes: 1/64 of its 10 GiB) */
	vm.balloon_cap_bytes = RECLAIM_UNLIMITED;
	vm.guest_free_bytes = 1 * GiB;
	vm.guest_swap_free_bytes = 512 * MiB;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_GUEST);
	assert_int_equal(d.balloon_cap_bytes, 1 * GiB + 512 * MiB - 10 * GiB / 64);
	assert_int_equal(tu_guest_margin(&cfg, vm.configured_bytes), 10 * GiB / 64);
	assert_int_equal(d.balloon_target_bytes, d.balloon_cap_bytes);
	assert_true(d.reasons & RECLAIM_REASON_BALLOON_CAPPED);

	/* the paper's literal setting ignores the guest */
	cfg.flags = RECLAIM_CONFIG_NO_GUEST_CAP;
	decide_n(&d, &vm, 1, 1.5, &cfg);
	assert_int_equal(d.balloon_limit, RECLAIM_BALLOON_LIMIT_FRACTION);
	assert_true(d.balloon_target_bytes > 1 * GiB + 512 * MiB);
}

/*
 * The OOM warning: a Linux-like guest with no free swap is never asked
 * for more than its free memory (less its margin). What its balloon cannot
 * take of its share stays its share: the other VM gives exactly what it
 * would if the guest had plenty free (what a guest reports limits how its
 * memory is taken, never how much another VM gives), and in hard and low
 * host swap takes the rest from the capped guest itself.
 */
static void
linux_guest_without_swap(void **state)
{
	struct reclaim_vm_stats vm[2], roomy[2];
	struct reclaim_decision d[2], e[2];
	struct reclaim_summary sum;
	struct reclaim_config cfg;
	uint64_t guest_cap;
	const double pcts[] = {5.0, 3.0, 1.5, 0.5};

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	for (size_t k = 0; k < 4; k++) {
		uint64_t each = (USABLE - tu_pct(USABLE, pcts[k])) / 2;

		vm[0] = tu_vm(1, 40 * GiB, each, 1000);
		vm[0].active_bytes = each / 10; /* idle: the preferred victim */
		vm[0].guest_free_bytes = 1 * GiB;
		vm[0].guest_swap_free_bytes = 0;
		vm[1] = tu_vm(2, 40 * GiB, each, 1000);
		vm[1].active_bytes = each / 2;
		vm[1].guest_free_bytes = 10 * GiB;
		guest_cap = 1 * GiB - tu_guest_margin(&cfg, vm[0].configured_bytes);
		sum = decide_n(d, vm, 2, pcts[k], &cfg);
		roomy[0] = vm[0];
		roomy[1] = vm[1];
		roomy[0].guest_free_bytes = 30 * GiB;
		(void)decide_n(e, roomy, 2, pcts[k], &cfg);
		print_message("# %-4s: linux balloon %.2f GiB swap %.2f GiB; other balloon %.2f GiB\n",
			      reclaim_state_name(sum.state),
			      (double)d[0].balloon_target_bytes / (double)GiB,
			      (double)d[0].swap_bytes / (double)GiB,
			      (double)d[1].balloon_target_bytes / (double)GiB);
		assert_true(d[0].balloon_target_bytes <= guest_cap);
		assert_int_equal(d[0].balloon_cap_bytes, guest_cap);
		/* the other VM's decision does not depend on the guest's report */
		assert_int_equal(d[1].target_bytes, e[1].target_bytes);
		assert_int_equal(d[1].balloon_target_bytes, e[1].balloon_target_bytes);
		assert_int_equal(d[1].swap_bytes, e[1].swap_bytes);
		if (sum.state <= RECLAIM_STATE_SOFT) {
			assert_int_equal(d[0].swap_bytes + d[1].swap_bytes, 0);
			if (e[0].balloon_target_bytes > guest_cap) { /* it gives all it can */
				assert_int_equal(d[0].balloon_target_bytes, guest_cap);
				assert_true(d[0].reasons & RECLAIM_REASON_BALLOON_CAPPED);
			}
		} else {
			assert_true(d[0].swap_bytes > 0);
		}
	}
}

/*
 * Without host swap (bounded at nothing) a VM over its limit can give only
 * what its balloon can take this tick (its own cap, 1 GiB, of 4 GiB over):
 * that much counts toward the need, and the other VM gives the rest, so
 * the plan covers the need.
 */
static void
limit_counts_what_can_leave(void **state)
{
	struct reclaim_policy *p = tu_policy(NULL, 2);
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_host h = tu_host(64 * GiB, 0, 64 * GiB * 15 / 1000, 0);
	struct reclaim_vm_stats vm[2];
	struct reclaim_decision d[2];
	uint64_t given;

	(void)state;
	h.flags = RECLAIM_HOST_SWAP_BOUNDED;
	h.swap_free_bytes = 0;
	vm[0] = tu_vm(1, 16 * GiB, 12 * GiB, 1000);
	vm[0].limit_bytes = 8 * GiB;
	vm[0].balloon_cap_bytes = 1 * GiB;
	vm[0].guest_free_bytes = 4 * GiB;
	vm[0].guest_swap_free_bytes = 4 * GiB;
	vm[1] = tu_vm(2, 32 * GiB, 30 * GiB, 1000);
	vm[1].guest_free_bytes = 2 * GiB;
	vm[1].guest_swap_free_bytes = 8 * GiB;
	assert_non_null(p);
	assert_int_equal(reclaim_decide(p, &h, vm, 2, 0, &sum, d), RECLAIM_OK);
	assert_int_equal(sum.state, RECLAIM_STATE_HARD);
	assert_true(d[0].reasons & RECLAIM_REASON_LIMIT);
	assert_int_equal(d[0].balloon_target_bytes, 1 * GiB);
	given = d[0].balloon_target_bytes + d[1].balloon_target_bytes + tu_sum_swap(d, 2);
	assert_true(d[1].balloon_target_bytes + 1 * GiB >= sum.need_bytes);
	assert_true(given >= sum.need_bytes);
	assert_false(sum.flags & RECLAIM_SUMMARY_SHORTFALL);
	reclaim_policy_destroy(p);
}

/*
 * RECLAIM_CONFIG_HARD_SWAP_ONLY makes the hard state reclaim the water
 * level's share by host swap, but the limit rule still balloons first: a
 * VM 2 GiB over its limit gets its balloon asked for those 2 GiB, and only
 * its share beyond them is swapped. A VM reserved in full and using all of
 * it is held there by its reservation (not by its maximum, which it does
 * not exceed).
 */
static void
hard_swap_only_still_balloons_the_limit(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_vm_stats vm[2];
	struct reclaim_decision d[2];
	struct reclaim_summary sum;

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.flags = RECLAIM_CONFIG_HARD_SWAP_ONLY;
	vm[0] = tu_vm(1, 16 * GiB, 12 * GiB, 1000);
	vm[0].limit_bytes = 10 * GiB;
	vm[0].guest_free_bytes = 4 * GiB;
	vm[0].guest_swap_free_bytes = 4 * GiB;
	vm[1] = tu_vm(2, 8 * GiB, 8 * GiB, 1000);
	vm[1].reservation_bytes = 8 * GiB;
	sum = decide_n(d, vm, 2, 1.5, &cfg);
	assert_int_equal(sum.state, RECLAIM_STATE_HARD);
	assert_true(d[0].reasons & RECLAIM_REASON_LIMIT);
	assert_int_equal(d[0].balloon_target_bytes, 2 * GiB);
	assert_true(d[0].swap_bytes > 0);
	assert_int_equal(d[1].target_bytes, 8 * GiB);
	assert_int_equal(d[1].bound, RECLAIM_BOUND_RESERVATION);
}

/*
 * A guest with nothing free and no swap must have its 3 GiB balloon back
 * down to 2.25 GiB; under pressure in the soft state, what that gives back
 * cannot be ballooned again in the same tick, so the VM's target stops at
 * 768 MiB. The bound named for it is the same whether its reservation is 0
 * (where the balloon's own floor ties it) or 100 MiB.
 */
static void
bound_of_a_balloon_above_its_cap(void **state)
{
	struct reclaim_vm_stats vm = tu_vm(1, 8 * GiB, 2 * GiB, 1000);
	struct reclaim_decision d[2];

	(void)state;
	vm.active_bytes = GiB / 2;
	vm.balloon_bytes = 3 * GiB;
	vm.guest_free_bytes = vm.guest_swap_free_bytes = 0;
	for (int k = 0; k < 2; k++) {
		struct reclaim_summary sum;

		vm.reservation_bytes = k ? 100 * MiB : 0;
		sum = decide_n(&d[k], &vm, 1, 2.4, NULL);
		assert_int_equal(sum.state, RECLAIM_STATE_SOFT);
		assert_int_equal(d[k].balloon_target_bytes, 3 * GiB - 3 * GiB / 4);
		assert_int_equal(d[k].target_bytes, 768 * MiB);
	}
	assert_int_equal(d[0].bound, d[1].bound);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(limit_rule_on_idle_host),
		cmocka_unit_test(overshoot_is_not_a_limit),
		cmocka_unit_test(limit_rule_swaps_beyond_balloon),
		cmocka_unit_test(balloon_cap_terms),
		cmocka_unit_test(linux_guest_without_swap),
		cmocka_unit_test(limit_counts_what_can_leave),
		cmocka_unit_test(hard_swap_only_still_balloons_the_limit),
		cmocka_unit_test(bound_of_a_balloon_above_its_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
