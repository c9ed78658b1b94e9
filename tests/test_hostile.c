/* SPDX-License-Identifier: MIT */
/*
 * Hostile guests. reclaim.h: "Values a guest reports (guest_*,
 * balloon_bytes) are untrusted and clamped: balloon and guest free memory
 * to the configured size, free swap to the configured size, a stats time in
 * the future makes the stats stale."
 *
 * Each test decides once with the lie and once with the clamped truth, on
 * fresh policies, and wants byte-identical outputs; the lies are chosen so
 * that using them unclamped (or adding them without saturation) would change
 * the decision. Every decide also goes through the invariant oracle. Values
 * the host supplies that are out of range are rejected instead (per-VM idle
 * tax), and byte counts near 2^64 must neither overflow nor trip UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oracle.h"

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)
#define NOW (1000ull * 1000000000ull)

struct out {
	struct reclaim_summary sum;
	struct reclaim_decision dec[4];
};

/* A 64 GiB host in the soft state (3 % free): balloons inflate. */
static struct reclaim_host
soft_host(void)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;

	h.total_bytes = 64 * GIB;
	h.free_bytes = h.total_bytes * 3 / 100;
	h.now_ns = NOW;
	return h;
}

/* A balloonable VM with fresh guest stats, consuming most of its 16 GiB. */
static struct reclaim_vm_stats
guest(uint64_t id)
{
	struct reclaim_vm_stats v = RECLAIM_VM_STATS_INIT;

	v.id = id;
	v.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	v.configured_bytes = 16 * GIB;
	v.consumed_bytes = 15 * GIB;
	v.shares = 1000;
	v.active_bytes = 2 * GIB;
	v.guest_free_bytes = 1 * GIB;
	v.guest_swap_free_bytes = 1 * GIB;
	v.stats_time_ns = NOW - 1000000000ull;
	return v;
}

/* The config in use: the defaults, or one where the clamps show (below). */
static struct reclaim_config config;

static int
setup_defaults(void **state)
{
	(void)state;
	return reclaim_config_init(&config, sizeof(config));
}

/* One real decide on a fresh policy, under the oracle. */
static int
decide(struct out *o, const struct reclaim_host *h, const struct reclaim_vm_stats *vms, size_t n)
{
	struct reclaim_config cfg = config;
	struct reclaim_policy *p;
	struct oracle orc;
	int status = 0;

	memset(o, 0, sizeof(*o));
	assert_int_equal(reclaim_policy_new(&p, &cfg, 4), RECLAIM_OK);
	oracle_init(&orc, &cfg, 4);
	if (oracle_decide(&orc, &status, &o->sum, o->dec, p, h, vms, n))
		fail_msg("oracle: %s", orc.why);
	reclaim_policy_destroy(p);
	return status;
}

/* Decides with @p lie and with @p truth (VM 0 differs) and wants the same bytes. */
static void
same_decision(const struct reclaim_vm_stats *lie, const struct reclaim_vm_stats *truth,
	      const struct reclaim_vm_stats *other)
{
	struct reclaim_host h = soft_host();
	struct reclaim_vm_stats a[2], b[2];
	struct out x, y;
	size_t n = other ? 2 : 1;

	a[0] = *lie;
	b[0] = *truth;
	if (other)
		a[1] = b[1] = *other;
	assert_int_equal(decide(&x, &h, a, n), RECLAIM_OK);
	assert_int_equal(decide(&y, &h, b, n), RECLAIM_OK);
	assert_memory_equal(&x.sum, &y.sum, sizeof(x.sum));
	assert_memory_equal(x.dec, y.dec, n * sizeof(x.dec[0]));
}

static void
test_guest_free_above_configured(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth;

	(void)state;
	/* A margin as large as the VM: clamped, free memory adds nothing to
	 * the guest term and the cap is the free swap; unclamped, the cap
	 * would be the 65 % fraction. */
	config.guest_margin_bytes = lie.configured_bytes;
	lie.guest_free_bytes = 2 * lie.configured_bytes;
	lie.guest_swap_free_bytes = 2 * GIB;
	truth = lie;
	truth.guest_free_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
	reclaim_config_init(&config, sizeof(config));
	/* Unclamped, free + free swap + balloon would wrap to a tiny cap. */
	lie.guest_free_bytes = UINT64_MAX - 3;
	lie.guest_swap_free_bytes = 4 * GIB;
	truth = lie;
	truth.guest_free_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
	lie.guest_free_bytes = 3 * lie.configured_bytes;
	same_decision(&lie, &truth, NULL);
}

static void
test_guest_swap_above_configured(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth;

	(void)state;
	config.guest_margin_bytes = lie.configured_bytes;
	lie.guest_free_bytes = 2 * GIB;
	lie.guest_swap_free_bytes = 2 * lie.configured_bytes;
	truth = lie;
	truth.guest_swap_free_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
	reclaim_config_init(&config, sizeof(config));
	lie.guest_free_bytes = 4 * GIB;
	lie.guest_swap_free_bytes = UINT64_MAX - 3;
	truth = lie;
	truth.guest_swap_free_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
}

static void
test_active_above_consumed(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth, other = guest(2);
	struct reclaim_host h = soft_host();
	struct reclaim_vm_stats pair[2];
	struct out x, y;

	(void)state;
	/* The idle tax prices memory with active bytes: an active figure
	 * above consumption would make memory the VM does not hold look
	 * active, and win it back first when balloons deflate. */
	h.free_bytes = h.total_bytes / 4;
	lie.consumed_bytes = other.consumed_bytes = 8 * GIB;
	lie.balloon_bytes = other.balloon_bytes = 4 * GIB;
	other.active_bytes = 1 * GIB;
	lie.active_bytes = 10 * lie.consumed_bytes;
	truth = lie;
	truth.active_bytes = truth.consumed_bytes;
	pair[0] = lie;
	pair[1] = other;
	assert_int_equal(decide(&x, &h, pair, 2), RECLAIM_OK);
	pair[0] = truth;
	assert_int_equal(decide(&y, &h, pair, 2), RECLAIM_OK);
	assert_true(x.sum.deflate_bytes > 0);
	assert_memory_equal(&x.sum, &y.sum, sizeof(x.sum));
	assert_memory_equal(x.dec, y.dec, 2 * sizeof(x.dec[0]));
	/* and under pressure (no balloons yet) */
	lie.balloon_bytes = truth.balloon_bytes = other.balloon_bytes = 0;
	same_decision(&lie, &truth, &other);
	lie.active_bytes = UINT64_MAX;
	same_decision(&lie, &truth, &other);
}

static void
test_balloon_above_configured(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth;
	struct reclaim_host h = soft_host();
	struct out x;

	(void)state;
	lie.balloon_bytes = 2 * lie.configured_bytes;
	truth = lie;
	truth.balloon_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
	lie.balloon_bytes = UINT64_MAX;
	same_decision(&lie, &truth, NULL);
	/* and the target respects the cap: the balloon deflates */
	assert_int_equal(decide(&x, &h, &lie, 1), RECLAIM_OK);
	assert_true(x.dec[0].balloon_target_bytes <= x.dec[0].balloon_cap_bytes);
	assert_true(x.dec[0].balloon_cap_bytes <= lie.configured_bytes * 65 / 100 + 1);
}

/*
 * A balloon the guest says is larger than the guest memory the host does
 * not back (configured - consumed, measured by the host) cannot hold what
 * it says. It neither looks ballooned to its cap (its share is still its
 * own, whatever its balloon can take of it) nor gives back, deflating to
 * its cap, anything another VM must make up for: the other VM decides as it
 * would beside an empty balloon (the plan is called short: the liar's
 * balloon takes nothing more, so the reason may differ).
 */
static void
test_balloon_larger_than_unbacked_memory(void **state)
{
	struct reclaim_host h = soft_host();
	struct reclaim_vm_stats lie[2] = {guest(1), guest(2)}, truth[2] = {guest(1), guest(2)};
	struct out x, y;

	(void)state;
	lie[0].balloon_bytes = 12 * GIB; /* 15 GiB of 16 backed: at most 1 fits */
	assert_int_equal(decide(&x, &h, lie, 2), RECLAIM_OK);
	assert_int_equal(decide(&y, &h, truth, 2), RECLAIM_OK);
	assert_true(x.dec[0].balloon_target_bytes < lie[0].balloon_bytes); /* it deflates */
	assert_int_equal(x.dec[0].target_bytes, y.dec[0].target_bytes);
	x.dec[1].reasons &= ~(uint32_t)RECLAIM_REASON_SHORTFALL;
	y.dec[1].reasons &= ~(uint32_t)RECLAIM_REASON_SHORTFALL;
	assert_memory_equal(&x.dec[1], &y.dec[1], sizeof(x.dec[1]));
	assert_int_equal(x.sum.need_bytes, y.sum.need_bytes);

	/* Nor does its "deflation" to its cap give back anything the other
	 * must make up for, or make the plan look short: here the liar may
	 * give nothing at all (reserved at its size), so only the other VM
	 * could. */
	lie[0].reservation_bytes = truth[0].reservation_bytes = lie[0].configured_bytes;
	assert_int_equal(decide(&x, &h, lie, 2), RECLAIM_OK);
	assert_int_equal(decide(&y, &h, truth, 2), RECLAIM_OK);
	assert_true(x.dec[0].balloon_target_bytes < lie[0].balloon_bytes);
	assert_memory_equal(&x.dec[1], &y.dec[1], sizeof(x.dec[1]));
	assert_int_equal(x.sum.flags & RECLAIM_SUMMARY_SHORTFALL,
			 y.sum.flags & RECLAIM_SUMMARY_SHORTFALL);
}

static void
test_stats_from_the_future(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth;
	struct reclaim_host h = soft_host();
	struct out x;

	(void)state;
	lie.stats_time_ns = NOW + 1;
	/* a guest in the future would otherwise look fresh for a long time */
	assert_int_equal(decide(&x, &h, &lie, 1), RECLAIM_OK);
	assert_true(x.dec[0].reasons & RECLAIM_REASON_STALE);
	assert_int_equal(x.dec[0].balloon_limit, RECLAIM_BALLOON_LIMIT_STALE);
	assert_true(x.dec[0].balloon_target_bytes <= lie.balloon_bytes);
	/* the same as stats that are merely old, or absent */
	truth = lie;
	truth.stats_time_ns = NOW - 3600 * 1000000000ull;
	same_decision(&lie, &truth, NULL);
	truth.flags &= ~(uint32_t)RECLAIM_VM_GUEST_STATS;
	same_decision(&lie, &truth, NULL);
	lie.stats_time_ns = UINT64_MAX;
	same_decision(&lie, &truth, NULL);
	/* and a fresh guest does balloon: the test above means something */
	assert_int_equal(decide(&x, &h, (const struct reclaim_vm_stats[]){guest(1)}, 1), RECLAIM_OK);
	assert_true(x.dec[0].balloon_target_bytes > 0);
	assert_false(x.dec[0].reasons & RECLAIM_REASON_STALE);
}

static void
test_everything_at_once(void **state)
{
	struct reclaim_vm_stats lie = guest(1), truth;

	(void)state;
	lie.guest_free_bytes = UINT64_MAX;
	lie.guest_swap_free_bytes = UINT64_MAX;
	lie.active_bytes = UINT64_MAX;
	lie.balloon_bytes = UINT64_MAX;
	truth = lie;
	truth.guest_free_bytes = truth.guest_swap_free_bytes = truth.configured_bytes;
	truth.active_bytes = truth.consumed_bytes;
	truth.balloon_bytes = truth.configured_bytes;
	same_decision(&lie, &truth, NULL);
}

/* Per-VM idle tax comes from the host, not the guest: out of range is refused. */
static void
test_idle_tax_out_of_range(void **state)
{
	static const double bad[] = {-0.25, 1.0, 2.0, INFINITY, -INFINITY, NAN};
	struct reclaim_host h = soft_host();
	struct out x;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reclaim_vm_stats v = guest(1);
		v.flags |= RECLAIM_VM_IDLE_TAX;
		v.idle_tax = bad[i];
		/* the oracle checks outputs stay untouched */
		assert_int_equal(decide(&x, &h, &v, 1), RECLAIM_E_INVAL);
		v.flags &= ~(uint32_t)RECLAIM_VM_IDLE_TAX;
		assert_int_equal(decide(&x, &h, &v, 1), RECLAIM_OK);
	}
}

/* Byte counts near 2^64: a documented error or a decision within the
 * invariants, never a wrapped sum or an undefined conversion (UBSan). */
static void
test_extreme_byte_counts(void **state)
{
	static const uint64_t tops[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 4096,
					1ull << 63, (1ull << 53) + 1, (1ull << 54) - 1};
	int ok = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		for (int f = 0; f <= 100; f += 5) {
			struct reclaim_host h = RECLAIM_HOST_INIT;
			struct reclaim_vm_stats v = guest(1);
			struct out x;
			int rc;

			h.total_bytes = tops[i];
			h.free_bytes = tops[i] / 1000 * (uint64_t)f;
			h.now_ns = NOW;
			v.configured_bytes = tops[i] - 1;
			v.consumed_bytes = tops[i] - h.free_bytes - 1;
			v.limit_bytes = tops[i] / 3 * 2 + 1;
			v.balloon_bytes = tops[i] / 2;
			v.active_bytes = v.consumed_bytes / 3;
			v.guest_free_bytes = v.guest_swap_free_bytes = tops[i];
			rc = decide(&x, &h, &v, 1);
			ok += rc == RECLAIM_OK;
		}
	}
	/* most of these are valid input and must be decided */
	assert_true(ok > 0);
}

/*
 * A guest that lies about running short (its free memory and swap falling
 * fast, then gone) keeps its balloon from growing and gets some back, but
 * gains nothing else: over two ticks in the soft state, on policies that
 * see the lie and the truth, every other VM's decisions are the same bytes,
 * the liar's target (its share of the level) is the same, and so is the
 * host's need. What its balloon does not take is its own shortfall.
 */
static void
test_lying_about_demand(void **state)
{
	struct reclaim_host h = soft_host();
	struct reclaim_policy *liar, *honest;
	struct reclaim_vm_stats lie[3], truth[3];
	struct out x, y;

	(void)state;
	assert_int_equal(reclaim_policy_new(&liar, &config, 4), RECLAIM_OK);
	assert_int_equal(reclaim_policy_new(&honest, &config, 4), RECLAIM_OK);
	for (int i = 0; i < 3; i++) {
		truth[i] = guest((uint64_t)i + 1);
		truth[i].balloon_bytes = 2 * GIB;
		truth[i].guest_free_bytes = 6 * GIB;
		truth[i].guest_swap_free_bytes = 2 * GIB;
		truth[i].consumed_bytes = 12 * GIB;
		truth[i].active_bytes = (uint64_t)(i + 1) * GIB;
		lie[i] = truth[i];
	}
	for (int tick = 0; tick < 2; tick++) {
		h.now_ns = NOW + (uint64_t)tick * 1000000000ull;
		for (int i = 0; i < 3; i++)
			lie[i].stats_time_ns = truth[i].stats_time_ns = h.now_ns;
		if (tick == 1) { /* 8 GiB gone in a second, says VM 1 */
			lie[0].guest_free_bytes = 0;
			lie[0].guest_swap_free_bytes = 0;
		}
		memset(&x, 0, sizeof(x));
		memset(&y, 0, sizeof(y));
		x.sum = y.sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
		assert_int_equal(reclaim_decide(liar, &h, lie, 3, 0, &x.sum, x.dec), RECLAIM_OK);
		assert_int_equal(reclaim_decide(honest, &h, truth, 3, 0, &y.sum, y.dec), RECLAIM_OK);
	}
	assert_int_equal(x.sum.state, RECLAIM_STATE_SOFT);
	assert_true(x.dec[0].reasons & RECLAIM_REASON_DISTRESS);
	assert_true(x.dec[0].balloon_target_bytes < y.dec[0].balloon_target_bytes);
	assert_int_equal(x.dec[0].target_bytes, y.dec[0].target_bytes);
	assert_int_equal(x.sum.need_bytes, y.sum.need_bytes);
	/* The host's plan falls short by what the liar's balloon will not
	 * take: said on every decision, and nothing else differs. */
	assert_true(x.sum.flags & RECLAIM_SUMMARY_SHORTFALL);
	for (int i = 1; i < 3; i++) {
		x.dec[i].reasons &= ~(uint32_t)RECLAIM_REASON_SHORTFALL;
		y.dec[i].reasons &= ~(uint32_t)RECLAIM_REASON_SHORTFALL;
	}
	assert_memory_equal(&x.dec[1], &y.dec[1], 2 * sizeof(x.dec[0]));
	reclaim_policy_destroy(liar);
	reclaim_policy_destroy(honest);
}

/*
 * A balloon that grows only in the guest's reports: on a host with plenty
 * free, a VM 5 GiB over its limit is ballooned toward it; its guest says
 * the balloon inflates at twice the minimum rate, but the VM's consumption
 * never falls. A balloon's pages are guest memory the host does not back,
 * so past what the VM leaves unbacked (64 MiB here) that growth is a tale:
 * the balloon is marked unresponsive within a window, and host swap takes
 * the excess. The honest twin, whose consumption falls as its balloon
 * grows, keeps ballooning.
 */
static void
test_balloon_growing_in_tale_only(void **state)
{
	struct reclaim_policy *p[2];
	bool unresponsive[2] = {false, false}, swapped[2] = {false, false};

	(void)state;
	for (int honest = 0; honest <= 1; honest++) {
		assert_int_equal(reclaim_policy_new(&p[honest], &config, 4), RECLAIM_OK);
		for (uint64_t tick = 0; tick < 120; tick++) {
			struct reclaim_host h = RECLAIM_HOST_INIT;
			struct reclaim_vm_stats v = guest(1);
			uint64_t grown = tick * 2 * MIB;
			struct out o;

			h.total_bytes = 64 * GIB;
			h.free_bytes = 32 * GIB;
			h.now_ns = NOW + tick * 1000000000ull;
			v.limit_bytes = 10 * GIB;
			v.consumed_bytes = 16 * GIB - 64 * MIB - (honest ? grown : 0);
			v.balloon_bytes = grown;
			v.guest_free_bytes = 6 * GIB; /* room for the whole excess */
			v.stats_time_ns = h.now_ns;
			memset(&o, 0, sizeof(o));
			o.sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
			assert_int_equal(reclaim_decide(p[honest], &h, &v, 1, 0, &o.sum, o.dec),
					 RECLAIM_OK);
			unresponsive[honest] |= (o.dec[0].reasons & RECLAIM_REASON_UNRESPONSIVE) != 0;
			swapped[honest] |= o.dec[0].swap_bytes > 0;
		}
		reclaim_policy_destroy(p[honest]);
	}
	assert_true(unresponsive[0]);
	assert_true(swapped[0]);
	assert_false(unresponsive[1]);
	assert_false(swapped[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_free_above_configured),
		cmocka_unit_test(test_guest_swap_above_configured),
		cmocka_unit_test(test_active_above_consumed),
		cmocka_unit_test(test_balloon_above_configured),
		cmocka_unit_test(test_balloon_larger_than_unbacked_memory),
		cmocka_unit_test(test_stats_from_the_future),
		cmocka_unit_test(test_everything_at_once),
		cmocka_unit_test(test_idle_tax_out_of_range),
		cmocka_unit_test(test_extreme_byte_counts),
		cmocka_unit_test_setup(test_lying_about_demand, setup_defaults),
		cmocka_unit_test_setup(test_balloon_growing_in_tale_only, setup_defaults),
	};

	return cmocka_run_group_tests(tests, setup_defaults, NULL);
}
