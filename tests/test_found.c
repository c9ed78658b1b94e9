/* SPDX-License-Identifier: MIT */
/*
 * Inputs the fuzzers and property tests found, each written out as a
 * readable scenario (tests/fuzz/BUGS.md names them B15 to B22). Every
 * decide runs under the invariant oracle, and each test also checks the
 * one rule its finding broke, so that it reads without the oracle:
 *
 * - in the hysteresis band, and in the high state under NO_EARLY_BALLOON,
 *   nothing is ballooned, however large the VMs (B15, B20);
 * - a balloon above its cap deflates to the cap and at most the deflate
 *   budget beyond it, at any size (B21);
 * - rebalancing never hands back more than the others give, also after a
 *   bounded host swap cut what they would give (B22);
 * - hysteresis cannot saturate at the top of the range (B18), and a
 *   balloon request from before a driver vanished does not linger (B19).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oracle.h"
#include "reclaim.h"

#define MAX_VMS 16
#define GB 1000000000ull
#define MB 1000000ull
#define NOW 1000000000000ull

struct run {
	struct reclaim_config cfg;
	struct reclaim_policy *p;
	struct oracle o;
	struct reclaim_summary sum;
	struct reclaim_decision dec[MAX_VMS];
};

static void
run_start(struct run *r, int profile, uint32_t flags)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(reclaim_config_init_profile(&r->cfg, sizeof(r->cfg), profile),
			 RECLAIM_OK);
	r->cfg.flags |= flags;
	assert_int_equal(reclaim_policy_new(&r->p, &r->cfg, MAX_VMS), RECLAIM_OK);
	oracle_init(&r->o, &r->cfg, MAX_VMS);
}

/* One decide under the oracle; it must succeed and keep every invariant. */
static void
run_decide(struct run *r, const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	   size_t n)
{
	int status = 0;
	int bad = oracle_decide(&r->o, &status, &r->sum, r->dec, r->p, host, vms, n);

	if (bad)
		print_message("# oracle: %s\n", r->o.why);
	assert_int_equal(bad, 0);
	assert_int_equal(status, RECLAIM_OK);
}

static struct reclaim_vm_stats
vm(uint64_t id, uint32_t flags, uint64_t configured, uint64_t consumed)
{
	struct reclaim_vm_stats v = RECLAIM_VM_STATS_INIT;

	v.id = id;
	v.flags = flags;
	v.configured_bytes = configured;
	v.consumed_bytes = consumed;
	v.shares = 1000;
	v.active_bytes = consumed / 8;
	v.stats_time_ns = NOW;
	return v;
}

static struct reclaim_host
host(uint64_t total, uint64_t reserved, uint64_t free_bytes)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;

	h.total_bytes = total;
	h.reserved_bytes = reserved;
	h.free_bytes = free_bytes;
	h.now_ns = NOW;
	return h;
}

/* Free memory @p part / 2 of the way into the hysteresis band above high. */
static uint64_t
in_band(const struct reclaim_config *cfg, uint64_t usable)
{
	uint64_t thr[4];

	assert_int_equal(reclaim_config_thresholds(cfg, usable, 0, thr), RECLAIM_OK);
	return thr[RECLAIM_STATE_HIGH] + (uint64_t)((double)usable * cfg->hysteresis / 2.0);
}

static void
assert_nothing_ballooned(const struct run *r, const struct reclaim_vm_stats *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t cur = vms[i].balloon_bytes < vms[i].configured_bytes
				       ? vms[i].balloon_bytes
				       : vms[i].configured_bytes;

		assert_true(r->dec[i].balloon_target_bytes <= cur);
		assert_false(r->dec[i].reasons & RECLAIM_REASON_REBALANCE);
	}
}

/* B20: whole-page placement in the band lost a few KB on a VM configured at
 * 2^64 - 1 and ballooned them (reasons HOLD|REBALANCE). */
static void
band_holds_a_huge_vm(void **state)
{
	struct run r;
	struct reclaim_vm_stats v;
	struct reclaim_host h;
	const uint64_t reserved = 39463157760ull;

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, 0);
	/* alone: the sum of configured sizes must fit in 64 bits */
	v = vm(1, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, UINT64_MAX,
	       17500000000000000000ull);
	v.guest_free_bytes = UINT64_MAX / 16;
	v.guest_swap_free_bytes = UINT64_MAX / 16;
	v.balloon_bytes = 1ull << 40;
	h = host(1ull << 63, reserved, in_band(&r.cfg, (1ull << 63) - reserved));
	for (int k = 0; k < 3; k++) {
		h.now_ns += GB;
		v.stats_time_ns = h.now_ns;
		run_decide(&r, &h, &v, 1);
		assert_int_equal(r.sum.state, RECLAIM_STATE_HIGH);
		assert_nothing_ballooned(&r, &v, 1);
	}
	reclaim_policy_destroy(r.p);
}

/* B20, third reproducer: under NO_EARLY_BALLOON, in the high state below
 * the high threshold (5199800322 free, high at 5524787843), a VM configured
 * at 2^64 - 1 consuming 1.38e19 was ballooned with reason REBALANCE. */
static void
hold_without_early_ballooning_holds_a_huge_vm(void **state)
{
	struct run r;
	struct reclaim_vm_stats v;
	struct reclaim_host h;
	uint64_t thr[4];

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, RECLAIM_CONFIG_NO_EARLY_BALLOON);
	v = vm(1, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, UINT64_MAX,
	       13800000000000000000ull);
	v.guest_free_bytes = 4 * GB;
	v.guest_swap_free_bytes = 4 * GB;
	h = host(92079797383ull, 0, 5199800322ull);
	assert_int_equal(reclaim_config_thresholds(&r.cfg, h.total_bytes, 0, thr), RECLAIM_OK);
	assert_true(h.free_bytes < thr[RECLAIM_STATE_HIGH] &&
		    h.free_bytes > thr[RECLAIM_STATE_SOFT]);
	run_decide(&r, &h, &v, 1);
	assert_int_equal(r.sum.state, RECLAIM_STATE_HIGH);
	assert_nothing_ballooned(&r, &v, 1);
	reclaim_policy_destroy(r.p);
}

/* B15: in the band, driverless VMs below their reservations had their
 * targets raised to them, and the level ballooned others to pay for it. */
static void
band_does_not_fund_reservations(void **state)
{
	struct run r;
	struct reclaim_vm_stats vms[4];
	struct reclaim_host h;
	const uint64_t usable = 512 * GB;

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, 0);
	vms[0] = vm(1, RECLAIM_VM_GUEST_STATS, 9 * GB, 5400 * MB);
	vms[0].reservation_bytes = 7400 * MB;
	vms[1] = vm(2, RECLAIM_VM_GUEST_STATS, 30 * GB, 10500 * MB);
	vms[1].reservation_bytes = 25500 * MB;
	for (int i = 2; i < 4; i++) {
		vms[i] = vm((uint64_t)i + 1, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, 64 * GB,
			    60 * GB);
		vms[i].guest_free_bytes = 30 * GB;
		vms[i].guest_swap_free_bytes = 8 * GB;
		vms[i].balloon_bytes = 2 * GB;
	}
	h = host(usable, 0, in_band(&r.cfg, usable));
	run_decide(&r, &h, vms, 4);
	assert_nothing_ballooned(&r, vms, 4);
	reclaim_policy_destroy(r.p);
}

/* B21: a 3.7e18-byte balloon above a 492 MB VM cap, on a comfortable host:
 * the deflate level, solved in doubles at this size, went 1536 bytes past
 * the deflate budget. */
static void
huge_balloon_deflates_within_the_budget(void **state)
{
	struct run r;
	struct reclaim_vm_stats vms[2];
	struct reclaim_host h;
	uint64_t beyond = 0;

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, 0);
	vms[0] = vm(1, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, 4000000000000000000ull,
		    200000000000000000ull);
	vms[0].balloon_bytes = 3700000000000000000ull;
	vms[0].balloon_cap_bytes = 492 * MB;
	vms[0].guest_free_bytes = 1 * GB;
	vms[1] = vm(2, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, 16 * GB, 8 * GB);
	vms[1].balloon_bytes = 4 * GB;
	vms[1].guest_free_bytes = 4 * GB;
	h = host(UINT64_MAX, 0, UINT64_MAX / 2);
	run_decide(&r, &h, vms, 2);
	assert_int_equal(r.sum.state, RECLAIM_STATE_HIGH);
	for (int i = 0; i < 2; i++) {
		uint64_t cur = vms[i].balloon_bytes, bt = r.dec[i].balloon_target_bytes;
		uint64_t floor = cur < r.dec[i].balloon_cap_bytes ? cur : r.dec[i].balloon_cap_bytes;

		assert_true(bt <= floor); /* down to the cap at least */
		beyond += floor - bt;
	}
	print_message("# deflated %llu beyond the caps, budget %llu\n", (unsigned long long)beyond,
		      (unsigned long long)r.cfg.deflate_budget_bytes);
	assert_true(beyond > 0);
	assert_true(beyond <= r.cfg.deflate_budget_bytes);
	reclaim_policy_destroy(r.p);
}

/* B22: soft state with SOFT_SWAP on a host whose swap is bounded at 487
 * MB. The level funded a rebalance (2.58 GB back to a guest with nothing
 * free) with another VM's 17.5 GB of excess, to be host-swapped; the swap
 * bound then cut that to 0.49 GB, and the give-back stayed. The inputs are
 * the reproducer's, as decoded. */
static void
rebalance_within_what_a_bounded_swap_gives(void **state)
{
	struct run r;
	struct reclaim_vm_stats vms[12];
	struct reclaim_host h;
	uint64_t back = 0, given = 0;
	size_t n = 0;

	(void)state;
	run_start(&r, RECLAIM_PROFILE_PAPER,
		  RECLAIM_CONFIG_NO_EARLY_BALLOON | RECLAIM_CONFIG_SOFT_SWAP |
			  RECLAIM_CONFIG_HARD_SWAP_ONLY | RECLAIM_CONFIG_NO_GUEST_CAP);
	vms[n] = vm(0, 0, 60364362241ull, 36218617344ull);
	vms[n].reservation_bytes = 14029998255ull;
	vms[n].shares = 500;
	vms[n].active_bytes = 24997947657ull;
	vms[n].balloon_bytes = UINT64_MAX - 30;
	vms[n].balloon_cap_bytes = 37638955279ull;
	vms[n].guest_free_bytes = 57050240392ull;
	vms[n].guest_swap_free_bytes = 41899969084ull;
	vms[n++].stats_time_ns = 975900000000ull;
	vms[n] = vm(7919, RECLAIM_VM_GUEST_STATS | RECLAIM_VM_COMPRESS, 99375344641ull,
		    99789408577ull);
	vms[n].reservation_bytes = 23679281340ull;
	vms[n].shares = 41969;
	vms[n].active_bytes = 78266202805ull;
	vms[n].balloon_bytes = 38818494000ull;
	vms[n].guest_free_bytes = 77941446777ull;
	vms[n].guest_swap_free_bytes = 77941446777ull;
	vms[n++].stats_time_ns = 1051400000001ull; /* from the future */
	for (int i = 0; i < 4; i++, n++) {
		vms[n] = vm(15838 + 7919 * (uint64_t)i, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS,
			    82539025921ull, 68782521600ull);
		vms[n].reservation_bytes = 11607050520ull;
		vms[n].shares = 51400;
		vms[n].active_bytes = 53947075764ull;
		vms[n].balloon_bytes = 32241807000ull;
		vms[n].guest_free_bytes = 64736490918ull;
		vms[n].guest_swap_free_bytes = 64736490918ull;
		vms[n].stats_time_ns = 980000000000ull;
	}
	/* the last of them has nothing free and no swap, its balloon at 2.58 GB */
	vms[n - 1].balloon_bytes = 2579344560ull;
	vms[n - 1].guest_free_bytes = 0;
	vms[n - 1].guest_swap_free_bytes = 0;
	vms[n - 1].stats_time_ns = NOW;
	for (int i = 0; i < 6; i++, n++) {
		vms[n] = vm(47514 + 7919 * (uint64_t)i, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS,
			    410641921ull, 0);
		vms[n].shares = 0;
		vms[n].active_bytes = 0;
	}
	h = host(498367201280ull, 77869875200ull, 9855406080ull);
	h.flags = RECLAIM_HOST_SWAP_BOUNDED;
	h.swap_free_bytes = 486686720ull;
	run_decide(&r, &h, vms, n);
	assert_int_equal(r.sum.state, RECLAIM_STATE_SOFT);
	for (size_t i = 0; i < n; i++) {
		uint64_t cur = vms[i].balloon_bytes < vms[i].configured_bytes
				       ? vms[i].balloon_bytes
				       : vms[i].configured_bytes;
		uint64_t bt = r.dec[i].balloon_target_bytes;

		if (r.dec[i].reasons & RECLAIM_REASON_REBALANCE)
			back += cur > bt ? cur - bt : 0;
		else if (vms[i].flags & RECLAIM_VM_BALLOON)
			given += (bt > cur ? bt - cur : 0) + r.dec[i].swap_bytes +
				 r.dec[i].compress_bytes;
		else
			given += r.dec[i].swap_bytes + r.dec[i].compress_bytes;
	}
	print_message("# given back %llu, others give %llu (host swap %llu)\n",
		      (unsigned long long)back, (unsigned long long)given,
		      (unsigned long long)r.sum.swap_bytes);
	assert_true(r.sum.swap_bytes <= h.swap_free_bytes);
	assert_true(back > 0); /* the scenario rebalances at all */
	assert_true(back <= given);
	reclaim_policy_destroy(r.p);
}

/* B18: with hysteresis 0.999999 on a 2^64-byte host, threshold + margin
 * saturated and free = 2^64 - 1 left the low state. */
static void
hysteresis_does_not_saturate(void **state)
{
	struct run r;
	struct reclaim_host h = host(UINT64_MAX, 0, 0);

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, 0);
	r.cfg.hysteresis = 0.999999;
	assert_int_equal(reclaim_policy_set_config(r.p, &r.cfg), RECLAIM_OK);
	r.o.cfg = r.cfg;
	run_decide(&r, &h, NULL, 0);
	assert_int_equal(r.sum.state, RECLAIM_STATE_LOW);
	h.free_bytes = UINT64_MAX;
	h.now_ns += GB;
	run_decide(&r, &h, NULL, 0);
	assert_int_equal(r.sum.state, RECLAIM_STATE_LOW);
	reclaim_policy_destroy(r.p);
}

/* B19: a VM reported without a driver but with a 2 GiB balloon; its guest
 * reboots, and the driver comes back with an empty balloon. The policy
 * kept 2 GiB as asked and, in the band, said target 2 GiB without a
 * BALLOON action: the request lingered and nobody carried it out. */
static void
no_request_lingers_after_the_driver_vanished(void **state)
{
	struct run r;
	struct reclaim_vm_stats vms[2];
	const uint64_t usable = 64 * GB;
	struct reclaim_host h = host(usable, 0, usable / 100);

	(void)state;
	run_start(&r, RECLAIM_PROFILE_ESX, 0);
	vms[0] = vm(1, RECLAIM_VM_GUEST_STATS, 16 * GB, 14 * GB);
	vms[0].balloon_bytes = 2ull << 30;
	vms[0].guest_free_bytes = 2 * GB;
	vms[1] = vm(2, RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS, 16 * GB, 14 * GB);
	vms[1].guest_free_bytes = 2 * GB;
	run_decide(&r, &h, vms, 2);
	assert_int_equal(r.dec[0].balloon_target_bytes, 0);

	vms[0].flags |= RECLAIM_VM_BALLOON;
	vms[0].balloon_bytes = 0;
	h.free_bytes = in_band(&r.cfg, usable);
	for (int k = 0; k < 3; k++) {
		h.now_ns += GB;
		vms[0].stats_time_ns = vms[1].stats_time_ns = h.now_ns;
		run_decide(&r, &h, vms, 2);
		assert_true(r.dec[0].balloon_target_bytes == 0 ||
			    (r.dec[0].actions & RECLAIM_ACTION_BALLOON));
	}
	reclaim_policy_destroy(r.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(band_holds_a_huge_vm),
		cmocka_unit_test(hold_without_early_ballooning_holds_a_huge_vm),
		cmocka_unit_test(band_does_not_fund_reservations),
		cmocka_unit_test(huge_balloon_deflates_within_the_budget),
		cmocka_unit_test(rebalance_within_what_a_bounded_swap_gives),
		cmocka_unit_test(hysteresis_does_not_saturate),
		cmocka_unit_test(no_request_lingers_after_the_driver_vanished),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
