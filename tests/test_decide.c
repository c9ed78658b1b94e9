/* SPDX-License-Identifier: MIT */
/*
 * Per-state techniques: early ballooning, soft (balloon only, or the paper's
 * swap where ballooning is impossible), hard (balloon and swap), low (swap
 * and block), deflation, and the idle tax choosing the victims.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define TOTAL (101 * GiB)
#define RESERVED (1 * GiB)
#define USABLE (TOTAL - RESERVED)
#define NVM 4

struct run {
	struct reclaim_vm_stats vm[NVM];
	struct reclaim_decision d[NVM];
	struct reclaim_summary sum;
};

/* Four 24 GiB VMs filling the host up to pct % free; VM i has i+1 quarters
 * of its memory active, so VM 0 is the idlest. */
static void
setup(struct run *r, double pct)
{
	uint64_t free_bytes = tu_pct(USABLE, pct);
	uint64_t each = (USABLE - free_bytes) / NVM;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < NVM; i++) {
		r->vm[i] = tu_vm((uint64_t)i + 1, 32 * GiB, each, 1000);
		r->vm[i].active_bytes = each / 4 * (uint64_t)(i + 1);
		r->vm[i].guest_swap_free_bytes = 8 * GiB;
	}
}

static void
decide(struct run *r, const struct reclaim_config *cfg, double pct)
{
	struct reclaim_policy *p = tu_policy(cfg, NVM);
	struct reclaim_host h = tu_host(TOTAL, RESERVED, tu_pct(USABLE, pct), 0);

	assert_non_null(p);
	r->sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(p, &h, r->vm, NVM, 0, &r->sum, r->d), 0);
	reclaim_policy_destroy(p);
}

static void
early_ballooning_grows_as_free_falls(void **state)
{
	struct run a, b;
	struct reclaim_config cfg;

	(void)state;
	setup(&a, 5.5);
	decide(&a, NULL, 5.5);
	setup(&b, 4.5);
	decide(&b, NULL, 4.5);
	assert_int_equal(a.sum.state, RECLAIM_STATE_HIGH);
	assert_int_equal(b.sum.state, RECLAIM_STATE_HIGH);
	assert_true(a.sum.flags & RECLAIM_SUMMARY_EARLY);
	assert_true(a.sum.balloon_bytes > 0);
	assert_true(b.sum.balloon_bytes > a.sum.balloon_bytes);
	assert_int_equal(a.sum.swap_bytes + b.sum.swap_bytes, 0);
	/* asked in proportion to how far free memory is below the high threshold */
	assert_true(a.sum.balloon_bytes >= a.sum.threshold_bytes[0] - a.sum.free_bytes);
	assert_true(a.d[0].reasons & RECLAIM_REASON_EARLY);
	/* the flag turns it off */
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.flags = RECLAIM_CONFIG_NO_EARLY_BALLOON;
	setup(&a, 5.0);
	decide(&a, &cfg, 5.0);
	assert_int_equal(a.sum.balloon_bytes, 0);
	assert_int_equal(a.sum.swap_bytes, 0);
}

/* The idle tax: the idlest VM gives the most. */
static void
idle_vm_balloons_most(void **state)
{
	struct run r;

	(void)state;
	setup(&r, 3.0);
	decide(&r, NULL, 3.0);
	assert_int_equal(r.sum.state, RECLAIM_STATE_SOFT);
	for (int i = 0; i < NVM; i++)
		print_message("# vm %d active %3d %%: balloon %.2f GiB rho %.4g\n", i + 1,
			      (i + 1) * 25, (double)r.d[i].balloon_target_bytes / (double)GiB,
			      r.d[i].rho);
	for (int i = 1; i < NVM; i++)
		assert_true(r.d[i - 1].balloon_target_bytes >= r.d[i].balloon_target_bytes);
	assert_true(r.d[0].balloon_target_bytes > r.d[NVM - 1].balloon_target_bytes);
	/* all reclaimed by ballooning, enough to get back to the high threshold */
	assert_true(r.sum.balloon_bytes >= r.sum.need_bytes);
	assert_int_equal(r.sum.swap_bytes, 0);
}

static void
soft_balloons_only_unless_flag(void **state)
{
	struct run r;
	struct reclaim_config cfg;

	(void)state;
	/* VM 1 has no balloon driver: by default soft leaves it alone and the
	 * others balloon more; with the paper's flag it is host-swapped. */
	setup(&r, 3.0);
	r.vm[0].flags &= ~(uint32_t)RECLAIM_VM_BALLOON;
	decide(&r, NULL, 3.0);
	assert_int_equal(r.sum.state, RECLAIM_STATE_SOFT);
	assert_int_equal(r.sum.swap_bytes, 0);
	assert_int_equal(r.d[0].balloon_target_bytes, 0);
	assert_int_equal(r.d[0].target_bytes, r.vm[0].consumed_bytes);
	assert_true(r.d[0].reasons & RECLAIM_REASON_NO_BALLOON);
	assert_true(r.sum.balloon_bytes >= r.sum.need_bytes);

	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.flags = RECLAIM_CONFIG_SOFT_SWAP;
	setup(&r, 3.0);
	r.vm[0].flags &= ~(uint32_t)RECLAIM_VM_BALLOON;
	decide(&r, &cfg, 3.0);
	assert_true(r.d[0].swap_bytes > 0);
	assert_true(r.d[0].actions & RECLAIM_ACTION_SWAP);
	for (int i = 1; i < NVM; i++)
		assert_int_equal(r.d[i].swap_bytes, 0);

	/* a driver whose balloon may hold nothing (its cap is 0) cannot
	 * balloon either: swapped the same */
	setup(&r, 3.0);
	r.vm[0].balloon_cap_bytes = 0;
	decide(&r, &cfg, 3.0);
	assert_int_equal(r.d[0].balloon_cap_bytes, 0);
	assert_true(r.d[0].swap_bytes > 0);
	for (int i = 1; i < NVM; i++)
		assert_int_equal(r.d[i].swap_bytes, 0);
}

static void
hard_splits_balloon_and_swap(void **state)
{
	struct run r;
	struct reclaim_config cfg;

	(void)state;
	setup(&r, 1.5);
	decide(&r, NULL, 1.5);
	assert_int_equal(r.sum.state, RECLAIM_STATE_HARD);
	assert_true(r.sum.balloon_bytes > 0);
	assert_true(r.sum.swap_bytes > 0);
	assert_true(r.sum.balloon_bytes + r.sum.swap_bytes >= r.sum.need_bytes);
	/* unknown rate: the default rate over the horizon, no more */
	reclaim_config_init(&cfg, sizeof(cfg));
	for (int i = 0; i < NVM; i++)
		assert_true(r.d[i].balloon_target_bytes <=
			    cfg.balloon_default_rate * (cfg.balloon_horizon_ns / SEC));
	assert_true(r.d[0].reasons & RECLAIM_REASON_SLOW_BALLOON);
	assert_int_equal(r.d[0].block, 0);

	cfg.flags = RECLAIM_CONFIG_HARD_SWAP_ONLY;
	setup(&r, 1.5);
	decide(&r, &cfg, 1.5);
	assert_int_equal(r.sum.balloon_bytes, 0);
	assert_true(r.sum.swap_bytes >= r.sum.need_bytes);
}

static void
low_swaps_and_blocks(void **state)
{
	struct run r;

	(void)state;
	setup(&r, 0.5);
	r.vm[3].reservation_bytes = r.vm[3].consumed_bytes; /* cannot give */
	decide(&r, NULL, 0.5);
	assert_int_equal(r.sum.state, RECLAIM_STATE_LOW);
	assert_int_equal(r.sum.balloon_bytes, 0);
	assert_true(r.sum.swap_bytes >= r.sum.need_bytes);
	for (int i = 0; i < 3; i++) {
		/* blocked exactly when it must give memory */
		assert_int_equal(r.d[i].block, r.d[i].target_bytes < r.vm[i].consumed_bytes);
		assert_int_equal(!!(r.d[i].actions & RECLAIM_ACTION_BLOCK), r.d[i].block);
		assert_int_equal(!!(r.d[i].reasons & RECLAIM_REASON_BLOCKED), r.d[i].block);
		assert_int_equal(r.d[i].block, r.d[i].swap_bytes > 0);
	}
	assert_true(r.d[0].block); /* the idlest gives first */
	/* at its target (its reservation): not blocked */
	assert_int_equal(r.d[3].block, 0);
	assert_int_equal(r.d[3].swap_bytes, 0);
	assert_int_equal(r.d[3].bound, RECLAIM_BOUND_RESERVATION);
}

/* Balloons fall once free memory is comfortably above the high threshold,
 * by at most the deflation budget per decide; inside the band, they hold. */
static void
deflation_is_budgeted(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_policy *p;
	struct run r;
	struct reclaim_host h;
	uint64_t total_balloon = 0;

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.deflate_budget_bytes = 512 * MiB;
	p = tu_policy(&cfg, NVM);
	setup(&r, 20.0);
	for (int i = 0; i < NVM; i++) {
		r.vm[i].balloon_bytes = 2 * GiB;
		r.vm[i].guest_free_bytes = 4 * GiB;
		total_balloon += r.vm[i].balloon_bytes;
	}
	h = tu_host(TOTAL, RESERVED, tu_pct(USABLE, 20.0), 0);
	r.sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(p, &h, r.vm, NVM, 0, &r.sum, r.d), 0);
	assert_true(r.sum.flags & RECLAIM_SUMMARY_DEFLATE);
	assert_true(r.sum.deflate_bytes > 0 && r.sum.deflate_bytes <= cfg.deflate_budget_bytes);
	assert_true(tu_sum_balloon(r.d, NVM) < total_balloon);
	assert_true(tu_sum_balloon(r.d, NVM) >= total_balloon - cfg.deflate_budget_bytes);
	/* the busiest VM (highest price) gets its memory back first */
	assert_true(r.d[3].balloon_target_bytes < r.d[0].balloon_target_bytes);
	for (int i = 0; i < NVM; i++) {
		assert_true(r.d[i].target_bytes >= r.vm[i].consumed_bytes);
		if (r.d[i].balloon_target_bytes < r.vm[i].balloon_bytes) {
			assert_true(r.d[i].reasons & RECLAIM_REASON_DEFLATE);
			assert_true(r.d[i].actions & RECLAIM_ACTION_BALLOON);
		}
	}
	assert_int_equal(r.sum.swap_bytes, 0);
	reclaim_policy_destroy(p);

	/* between high and high + margin: no host-wide deflation, and nothing
	 * taken from anyone above the high threshold; the busiest, short of
	 * memory, gets its balloon back from free memory (by the margin it
	 * lacks), and no other balloon grows for it */
	cfg.deflate_budget_bytes = 1 * GiB; /* more than the short guest lacks */
	p = tu_policy(&cfg, NVM);
	setup(&r, 6.2);
	for (int i = 0; i < NVM; i++) {
		r.vm[i].balloon_bytes = 2 * GiB;
		r.vm[i].guest_free_bytes = 4 * GiB;
	}
	r.vm[3].guest_free_bytes = 0; /* the busiest is short of memory */
	h = tu_host(TOTAL, RESERVED, tu_pct(USABLE, 6.2), 0);
	r.sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	assert_int_equal(reclaim_decide(p, &h, r.vm, NVM, 0, &r.sum, r.d), 0);
	assert_true(r.d[0].reasons & RECLAIM_REASON_HOLD);
	assert_false(r.sum.flags & RECLAIM_SUMMARY_EARLY);
	assert_int_equal(r.sum.swap_bytes, 0);
	assert_int_equal(r.d[3].balloon_target_bytes,
			 2 * GiB - tu_guest_margin(&cfg, r.vm[3].configured_bytes));
	assert_true(r.d[3].actions & RECLAIM_ACTION_BALLOON);
	assert_false(r.d[3].reasons & RECLAIM_REASON_REBALANCE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.d[i].balloon_target_bytes, 2 * GiB);
		assert_false(r.d[i].actions & RECLAIM_ACTION_BALLOON);
		assert_int_equal(r.d[i].reasons & (RECLAIM_REASON_REBALANCE | RECLAIM_REASON_PRESSURE |
						   RECLAIM_REASON_EARLY),
				 0);
	}
	assert_int_equal(r.sum.balloon_bytes, 0);
	reclaim_policy_destroy(p);
}

/*
 * At exabyte sizes the deflation level is solved in doubles and is a few
 * hundred bytes off; the budget itself is kept to the byte: three VMs
 * holding 2.6 EB of balloons on a host with room to spare deflate exactly
 * deflate_budget_bytes, not a byte more.
 */
static void
deflation_budget_kept_at_exabytes(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_policy *p;
	struct reclaim_vm_stats vm[3] = {RECLAIM_VM_STATS_INIT, RECLAIM_VM_STATS_INIT,
					 RECLAIM_VM_STATS_INIT};
	static const uint64_t v[3][6] = {
		/* configured, consumed, shares, active, balloon, guest free and swap */
		{8646911284551446696ull, 5594369184523683441ull, 26505, 652271944079457378ull,
		 1955289018189452744ull, 4323455642275723348ull},
		{2305843009213749739ull, 1486577568300156222ull, 14879, 291398393620941338ull,
		 15425706380837815ull, 1152921504606874869ull},
		{6917529027641126699ull, 4610408367492334840ull, 32567, 581145077941876898ull,
		 679579314321026779ull, 3458764513820563349ull},
	};
	struct reclaim_host h = tu_host(17537032680474261754ull, 0, 5845677560158087251ull,
					100 * SEC);
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[3];
	uint64_t deflated = 0;

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.deflate_budget_bytes = 283221127234166061ull;
	p = tu_policy(&cfg, 3);
	for (int i = 0; i < 3; i++) {
		vm[i].id = (uint64_t)i + 1;
		vm[i].flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		vm[i].configured_bytes = v[i][0];
		vm[i].consumed_bytes = v[i][1];
		vm[i].shares = v[i][2];
		vm[i].active_bytes = v[i][3];
		vm[i].balloon_bytes = v[i][4];
		vm[i].guest_free_bytes = vm[i].guest_swap_free_bytes = v[i][5];
		vm[i].stats_time_ns = h.now_ns;
	}
	vm[0].flags |= RECLAIM_VM_IDLE_TAX; /* idle_tax 0 */
	vm[1].flags |= RECLAIM_VM_IDLE_TAX;
	assert_int_equal(reclaim_decide(p, &h, vm, 3, 0, &sum, d), RECLAIM_OK);
	assert_true(sum.flags & RECLAIM_SUMMARY_DEFLATE);
	for (int i = 0; i < 3; i++)
		deflated += vm[i].balloon_bytes - d[i].balloon_target_bytes;
	assert_int_equal(sum.deflate_bytes, deflated);
	assert_int_equal(deflated, cfg.deflate_budget_bytes);
	reclaim_policy_destroy(p);
}

/* Deciding twice on the same inputs and history gives identical bytes. */
static void
deterministic(void **state)
{
	struct run a, b;

	(void)state;
	setup(&a, 1.7);
	decide(&a, NULL, 1.7);
	setup(&b, 1.7);
	decide(&b, NULL, 1.7);
	assert_memory_equal(&a.sum, &b.sum, sizeof(a.sum));
	assert_memory_equal(a.d, b.d, sizeof(a.d));
}

static void
format_line(void **state)
{
	struct run r;
	char line[512], big[1024];
	int n;

	(void)state;
	setup(&r, 1.5);
	decide(&r, NULL, 1.5);
	n = reclaim_decision_format(line, sizeof(line), &r.d[0]);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	print_message("# %s\n", line);
	assert_non_null(strstr(line, "vm 1: hard"));
	assert_non_null(strstr(line, "pressure"));
	assert_null(strchr(line, '\n'));
	/* snprintf semantics: truncates, reports the full length */
	assert_int_equal(reclaim_decision_format(line, 10, &r.d[0]), n);
	assert_int_equal(strlen(line), 9);
	assert_int_equal(reclaim_decision_format(NULL, 0, &r.d[0]), n);
	assert_int_equal(reclaim_decision_format(line, sizeof(line), NULL), RECLAIM_E_NULL);
	/* sizes up to exbibytes, in their own unit */
	r.d[0].target_bytes = (uint64_t)1 << 62;
	r.d[0].balloon_target_bytes = 3 * ((uint64_t)1 << 50);
	assert_true(reclaim_decision_format(line, sizeof(line), &r.d[0]) > 0);
	assert_non_null(strstr(line, "target 4.00 EiB balloon 3.00 PiB"));
	/* every reason bit at once, named or not: the whole list, the bits
	 * without a name as one mask */
	r.d[0].reasons = UINT32_MAX;
	n = reclaim_decision_format(big, sizeof(big), &r.d[0]);
	assert_true(n > 0 && (size_t)n == strlen(big));
	assert_non_null(strstr(big, "reasons pressure,early,"));
	assert_non_null(strstr(big, ",block_timeout,unknown(0xfff80000)"));
	assert_int_equal(reclaim_decision_format(NULL, 0, &r.d[0]), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(early_ballooning_grows_as_free_falls),
		cmocka_unit_test(idle_vm_balloons_most),
		cmocka_unit_test(soft_balloons_only_unless_flag),
		cmocka_unit_test(hard_splits_balloon_and_swap),
		cmocka_unit_test(low_swaps_and_blocks),
		cmocka_unit_test(deflation_is_budgeted),
		cmocka_unit_test(deflation_budget_kept_at_exabytes),
		cmocka_unit_test(deterministic),
		cmocka_unit_test(format_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
