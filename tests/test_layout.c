/* SPDX-License-Identifier: MIT */
/*
 * ABI layout test: the size and offset of every member of every
 * public struct, and the value of every public enum constant, pinned with
 * _Static_assert so that an accidental change breaks the build. Structs only
 * grow at the end: appending a member means adding a line here (and a new
 * baseline in tests/abi/), never changing one. The runtime tests check that
 * the _INIT macros and init functions hand out those sizes.
 *
 * Sizes and offsets are for LP64 (and hold on ILP32 for the structs without
 * pointers, which have no padding); the pointer-carrying structs are checked
 * on 64-bit targets only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reclaim.h"

#define LAYOUT_SIZE(type, size) _Static_assert(sizeof(type) == (size), "sizeof(" #type ") is ABI")
#define LAYOUT_OFFSET(type, member, off)                                              \
	_Static_assert(offsetof(type, member) == (off), "offset of " #type "." #member " is ABI")
#define LAYOUT_VALUE(name, value) _Static_assert((name) == (value), #name " is ABI")

LAYOUT_SIZE(struct reclaim_config, 240);
LAYOUT_OFFSET(struct reclaim_config, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_config, flags, 4);
LAYOUT_OFFSET(struct reclaim_config, threshold_base, 8);
LAYOUT_OFFSET(struct reclaim_config, reserved0, 12);
LAYOUT_OFFSET(struct reclaim_config, threshold_high, 16);
LAYOUT_OFFSET(struct reclaim_config, threshold_soft, 24);
LAYOUT_OFFSET(struct reclaim_config, threshold_hard, 32);
LAYOUT_OFFSET(struct reclaim_config, threshold_low, 40);
LAYOUT_OFFSET(struct reclaim_config, hysteresis, 48);
LAYOUT_OFFSET(struct reclaim_config, idle_tax, 56);
LAYOUT_OFFSET(struct reclaim_config, balloon_max_fraction, 64);
LAYOUT_OFFSET(struct reclaim_config, guest_margin_bytes, 72);
LAYOUT_OFFSET(struct reclaim_config, page_size, 80);
LAYOUT_OFFSET(struct reclaim_config, deflate_budget_bytes, 88);
LAYOUT_OFFSET(struct reclaim_config, balloon_min_rate, 96);
LAYOUT_OFFSET(struct reclaim_config, balloon_window_ns, 104);
LAYOUT_OFFSET(struct reclaim_config, balloon_backoff_ns, 112);
LAYOUT_OFFSET(struct reclaim_config, balloon_horizon_ns, 120);
LAYOUT_OFFSET(struct reclaim_config, balloon_default_rate, 128);
LAYOUT_OFFSET(struct reclaim_config, stats_max_age_ns, 136);
LAYOUT_OFFSET(struct reclaim_config, sample_period_ns, 144);
LAYOUT_OFFSET(struct reclaim_config, sample_pages, 152);
LAYOUT_OFFSET(struct reclaim_config, reserved1, 156);
LAYOUT_OFFSET(struct reclaim_config, estimator_fast_gain, 160);
LAYOUT_OFFSET(struct reclaim_config, estimator_slow_gain, 168);
LAYOUT_OFFSET(struct reclaim_config, active_floor, 176);
LAYOUT_OFFSET(struct reclaim_config, compress_max_fraction, 184);
LAYOUT_OFFSET(struct reclaim_config, absent_grace_ns, 192);
LAYOUT_OFFSET(struct reclaim_config, max_block_ns, 200);
LAYOUT_OFFSET(struct reclaim_config, distress_horizon_ns, 208);
LAYOUT_OFFSET(struct reclaim_config, swap_retry_ns, 216);
LAYOUT_OFFSET(struct reclaim_config, demand_memory_ns, 224);
LAYOUT_OFFSET(struct reclaim_config, guest_margin_fraction, 232);
LAYOUT_SIZE(struct reclaim_host, 48);
LAYOUT_OFFSET(struct reclaim_host, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_host, flags, 4);
LAYOUT_OFFSET(struct reclaim_host, total_bytes, 8);
LAYOUT_OFFSET(struct reclaim_host, reserved_bytes, 16);
LAYOUT_OFFSET(struct reclaim_host, free_bytes, 24);
LAYOUT_OFFSET(struct reclaim_host, now_ns, 32);
LAYOUT_OFFSET(struct reclaim_host, swap_free_bytes, 40);
LAYOUT_SIZE(struct reclaim_vm_stats, 136);
LAYOUT_OFFSET(struct reclaim_vm_stats, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_vm_stats, flags, 4);
LAYOUT_OFFSET(struct reclaim_vm_stats, id, 8);
LAYOUT_OFFSET(struct reclaim_vm_stats, configured_bytes, 16);
LAYOUT_OFFSET(struct reclaim_vm_stats, consumed_bytes, 24);
LAYOUT_OFFSET(struct reclaim_vm_stats, reservation_bytes, 32);
LAYOUT_OFFSET(struct reclaim_vm_stats, limit_bytes, 40);
LAYOUT_OFFSET(struct reclaim_vm_stats, shares, 48);
LAYOUT_OFFSET(struct reclaim_vm_stats, active_bytes, 56);
LAYOUT_OFFSET(struct reclaim_vm_stats, balloon_bytes, 64);
LAYOUT_OFFSET(struct reclaim_vm_stats, balloon_cap_bytes, 72);
LAYOUT_OFFSET(struct reclaim_vm_stats, guest_free_bytes, 80);
LAYOUT_OFFSET(struct reclaim_vm_stats, guest_swap_free_bytes, 88);
LAYOUT_OFFSET(struct reclaim_vm_stats, swapped_bytes, 96);
LAYOUT_OFFSET(struct reclaim_vm_stats, stats_time_ns, 104);
LAYOUT_OFFSET(struct reclaim_vm_stats, compress_used_bytes, 112);
LAYOUT_OFFSET(struct reclaim_vm_stats, compress_max_bytes, 120);
LAYOUT_OFFSET(struct reclaim_vm_stats, idle_tax, 128);
LAYOUT_SIZE(struct reclaim_decision, 96);
LAYOUT_OFFSET(struct reclaim_decision, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_decision, actions, 4);
LAYOUT_OFFSET(struct reclaim_decision, id, 8);
LAYOUT_OFFSET(struct reclaim_decision, target_bytes, 16);
LAYOUT_OFFSET(struct reclaim_decision, balloon_target_bytes, 24);
LAYOUT_OFFSET(struct reclaim_decision, swap_bytes, 32);
LAYOUT_OFFSET(struct reclaim_decision, compress_bytes, 40);
LAYOUT_OFFSET(struct reclaim_decision, excess_bytes, 48);
LAYOUT_OFFSET(struct reclaim_decision, balloon_cap_bytes, 56);
LAYOUT_OFFSET(struct reclaim_decision, block, 64);
LAYOUT_OFFSET(struct reclaim_decision, state, 68);
LAYOUT_OFFSET(struct reclaim_decision, reasons, 72);
LAYOUT_OFFSET(struct reclaim_decision, bound, 76);
LAYOUT_OFFSET(struct reclaim_decision, balloon_limit, 80);
LAYOUT_OFFSET(struct reclaim_decision, reserved0, 84);
LAYOUT_OFFSET(struct reclaim_decision, rho, 88);
LAYOUT_SIZE(struct reclaim_summary, 136);
LAYOUT_OFFSET(struct reclaim_summary, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_summary, decision_size, 4);
LAYOUT_OFFSET(struct reclaim_summary, state, 8);
LAYOUT_OFFSET(struct reclaim_summary, previous_state, 12);
LAYOUT_OFFSET(struct reclaim_summary, flags, 16);
LAYOUT_OFFSET(struct reclaim_summary, reserved0, 20);
LAYOUT_OFFSET(struct reclaim_summary, usable_bytes, 24);
LAYOUT_OFFSET(struct reclaim_summary, free_bytes, 32);
LAYOUT_OFFSET(struct reclaim_summary, threshold_bytes, 40);
LAYOUT_OFFSET(struct reclaim_summary, need_bytes, 72);
LAYOUT_OFFSET(struct reclaim_summary, in_flight_bytes, 80);
LAYOUT_OFFSET(struct reclaim_summary, reclaimable_bytes, 88);
LAYOUT_OFFSET(struct reclaim_summary, balloon_bytes, 96);
LAYOUT_OFFSET(struct reclaim_summary, swap_bytes, 104);
LAYOUT_OFFSET(struct reclaim_summary, compress_bytes, 112);
LAYOUT_OFFSET(struct reclaim_summary, deflate_bytes, 120);
LAYOUT_OFFSET(struct reclaim_summary, level, 128);
LAYOUT_SIZE(struct reclaim_apply_result, 32);
LAYOUT_OFFSET(struct reclaim_apply_result, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_apply_result, flags, 4);
LAYOUT_OFFSET(struct reclaim_apply_result, id, 8);
LAYOUT_OFFSET(struct reclaim_apply_result, balloon_status, 16);
LAYOUT_OFFSET(struct reclaim_apply_result, swap_status, 20);
LAYOUT_OFFSET(struct reclaim_apply_result, compress_status, 24);
LAYOUT_OFFSET(struct reclaim_apply_result, block_status, 28);
LAYOUT_SIZE(struct reclaim_estimator, 56);
LAYOUT_OFFSET(struct reclaim_estimator, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_estimator, periods, 4);
LAYOUT_OFFSET(struct reclaim_estimator, fast_gain, 8);
LAYOUT_OFFSET(struct reclaim_estimator, slow_gain, 16);
LAYOUT_OFFSET(struct reclaim_estimator, floor, 24);
LAYOUT_OFFSET(struct reclaim_estimator, slow, 32);
LAYOUT_OFFSET(struct reclaim_estimator, fast, 40);
LAYOUT_OFFSET(struct reclaim_estimator, current, 48);
LAYOUT_SIZE(struct reclaim_rng, 32);
LAYOUT_OFFSET(struct reclaim_rng, s, 0);
#if UINTPTR_MAX == UINT64_MAX
LAYOUT_SIZE(struct reclaim_adapter, 48);
LAYOUT_OFFSET(struct reclaim_adapter, version, 0);
LAYOUT_OFFSET(struct reclaim_adapter, reserved0, 4);
LAYOUT_OFFSET(struct reclaim_adapter, set_balloon, 8);
LAYOUT_OFFSET(struct reclaim_adapter, swap_out, 16);
LAYOUT_OFFSET(struct reclaim_adapter, block, 24);
LAYOUT_OFFSET(struct reclaim_adapter, unblock, 32);
LAYOUT_OFFSET(struct reclaim_adapter, compress, 40);
LAYOUT_SIZE(struct reclaim_error, 48);
LAYOUT_OFFSET(struct reclaim_error, struct_size, 0);
LAYOUT_OFFSET(struct reclaim_error, status, 4);
LAYOUT_OFFSET(struct reclaim_error, where, 8);
LAYOUT_OFFSET(struct reclaim_error, reserved0, 12);
LAYOUT_OFFSET(struct reclaim_error, index, 16);
LAYOUT_OFFSET(struct reclaim_error, other_index, 24);
LAYOUT_OFFSET(struct reclaim_error, id, 32);
LAYOUT_OFFSET(struct reclaim_error, field, 40);
LAYOUT_SIZE(struct reclaim_pick, 32);
LAYOUT_OFFSET(struct reclaim_pick, n, 0);
LAYOUT_OFFSET(struct reclaim_pick, k, 8);
LAYOUT_OFFSET(struct reclaim_pick, next, 16);
LAYOUT_OFFSET(struct reclaim_pick, rng, 24);
#endif

LAYOUT_VALUE(RECLAIM_OK, 0);
LAYOUT_VALUE(RECLAIM_E_NULL, -1);
LAYOUT_VALUE(RECLAIM_E_VERSION, -2);
LAYOUT_VALUE(RECLAIM_E_CONFIG, -3);
LAYOUT_VALUE(RECLAIM_E_THRESHOLDS, -4);
LAYOUT_VALUE(RECLAIM_E_HOST_FREE, -5);
LAYOUT_VALUE(RECLAIM_E_HOST_RESERVED, -6);
LAYOUT_VALUE(RECLAIM_E_VM_SIZE, -7);
LAYOUT_VALUE(RECLAIM_E_VM_BOUNDS, -8);
LAYOUT_VALUE(RECLAIM_E_VM_DUPLICATE, -9);
LAYOUT_VALUE(RECLAIM_E_OVERFLOW, -10);
LAYOUT_VALUE(RECLAIM_E_CAPACITY, -11);
LAYOUT_VALUE(RECLAIM_E_NOMEM, -12);
LAYOUT_VALUE(RECLAIM_E_ADAPTER, -13);
LAYOUT_VALUE(RECLAIM_E_INVAL, -14);
LAYOUT_VALUE(RECLAIM_E_NOSPACE, -15);
LAYOUT_VALUE(RECLAIM_E_BUSY, -16);
LAYOUT_VALUE(RECLAIM_STATE_HIGH, 0);
LAYOUT_VALUE(RECLAIM_STATE_SOFT, 1);
LAYOUT_VALUE(RECLAIM_STATE_HARD, 2);
LAYOUT_VALUE(RECLAIM_STATE_LOW, 3);
LAYOUT_VALUE(RECLAIM_PROFILE_ESX, 0);
LAYOUT_VALUE(RECLAIM_PROFILE_ESXI5, 1);
LAYOUT_VALUE(RECLAIM_PROFILE_PAPER, 2);
LAYOUT_VALUE(RECLAIM_CONFIG_NO_EARLY_BALLOON, 1u << 0);
LAYOUT_VALUE(RECLAIM_CONFIG_SOFT_SWAP, 1u << 1);
LAYOUT_VALUE(RECLAIM_CONFIG_HARD_SWAP_ONLY, 1u << 2);
LAYOUT_VALUE(RECLAIM_CONFIG_NO_GUEST_CAP, 1u << 3);
LAYOUT_VALUE(RECLAIM_BASE_USABLE, 0);
LAYOUT_VALUE(RECLAIM_BASE_MINFREE, 1);
LAYOUT_VALUE(RECLAIM_HOST_SWAP_BOUNDED, 1u << 0);
LAYOUT_VALUE(RECLAIM_VM_BALLOON, 1u << 0);
LAYOUT_VALUE(RECLAIM_VM_GUEST_STATS, 1u << 1);
LAYOUT_VALUE(RECLAIM_VM_IDLE_TAX, 1u << 2);
LAYOUT_VALUE(RECLAIM_VM_COMPRESS, 1u << 3);
LAYOUT_VALUE(RECLAIM_VM_RESIZED, 1u << 4);
LAYOUT_VALUE(RECLAIM_ACTION_BALLOON, 1u << 0);
LAYOUT_VALUE(RECLAIM_ACTION_SWAP, 1u << 1);
LAYOUT_VALUE(RECLAIM_ACTION_COMPRESS, 1u << 2);
LAYOUT_VALUE(RECLAIM_ACTION_BLOCK, 1u << 3);
LAYOUT_VALUE(RECLAIM_ACTION_UNBLOCK, 1u << 4);
LAYOUT_VALUE(RECLAIM_REASON_PRESSURE, 1u << 0);
LAYOUT_VALUE(RECLAIM_REASON_EARLY, 1u << 1);
LAYOUT_VALUE(RECLAIM_REASON_LIMIT, 1u << 2);
LAYOUT_VALUE(RECLAIM_REASON_DEFLATE, 1u << 3);
LAYOUT_VALUE(RECLAIM_REASON_NO_BALLOON, 1u << 4);
LAYOUT_VALUE(RECLAIM_REASON_UNRESPONSIVE, 1u << 5);
LAYOUT_VALUE(RECLAIM_REASON_STALE, 1u << 6);
LAYOUT_VALUE(RECLAIM_REASON_BALLOON_CAPPED, 1u << 7);
LAYOUT_VALUE(RECLAIM_REASON_SLOW_BALLOON, 1u << 8);
LAYOUT_VALUE(RECLAIM_REASON_BLOCKED, 1u << 9);
LAYOUT_VALUE(RECLAIM_REASON_ZERO_SHARES, 1u << 10);
LAYOUT_VALUE(RECLAIM_REASON_SHORTFALL, 1u << 11);
LAYOUT_VALUE(RECLAIM_REASON_SWAP_BOUNDED, 1u << 12);
LAYOUT_VALUE(RECLAIM_REASON_ADAPTER_FAILED, 1u << 13);
LAYOUT_VALUE(RECLAIM_REASON_HOLD, 1u << 14);
LAYOUT_VALUE(RECLAIM_REASON_REBALANCE, 1u << 15);
LAYOUT_VALUE(RECLAIM_REASON_DISTRESS, 1u << 16);
LAYOUT_VALUE(RECLAIM_REASON_SWAP_UNAVAILABLE, 1u << 17);
LAYOUT_VALUE(RECLAIM_REASON_BLOCK_TIMEOUT, 1u << 18);
LAYOUT_VALUE(RECLAIM_BOUND_NONE, 0);
LAYOUT_VALUE(RECLAIM_BOUND_RESERVATION, 1);
LAYOUT_VALUE(RECLAIM_BOUND_MAX, 2);
LAYOUT_VALUE(RECLAIM_BOUND_CONSUMED, 3);
LAYOUT_VALUE(RECLAIM_BOUND_BALLOON, 4);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_FRACTION, 0);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_VM_CAP, 1);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_GUEST, 2);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_NO_DRIVER, 3);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_UNRESPONSIVE, 4);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_STALE, 5);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_ACTIVE, 6);
LAYOUT_VALUE(RECLAIM_BALLOON_LIMIT_DISTRESS, 7);
LAYOUT_VALUE(RECLAIM_SUMMARY_SHORTFALL, 1u << 0);
LAYOUT_VALUE(RECLAIM_SUMMARY_EARLY, 1u << 1);
LAYOUT_VALUE(RECLAIM_SUMMARY_DEFLATE, 1u << 2);
LAYOUT_VALUE(RECLAIM_SUMMARY_SWAP_BOUNDED, 1u << 3);
LAYOUT_VALUE(RECLAIM_SUMMARY_SWAP_UNAVAILABLE, 1u << 4);
LAYOUT_VALUE(RECLAIM_DECIDE_DRY_RUN, 1u << 0);
LAYOUT_VALUE(RECLAIM_APPLY_COMPRESS_FALLBACK, 1u << 0);
LAYOUT_VALUE(RECLAIM_APPLY_SKIPPED, 1u << 1);
LAYOUT_VALUE(RECLAIM_WHERE_NONE, 0);
LAYOUT_VALUE(RECLAIM_WHERE_ARGUMENT, 1);
LAYOUT_VALUE(RECLAIM_WHERE_CONFIG, 2);
LAYOUT_VALUE(RECLAIM_WHERE_HOST, 3);
LAYOUT_VALUE(RECLAIM_WHERE_VM, 4);
LAYOUT_VALUE(RECLAIM_WHERE_DECISION, 5);

static void
test_init_macros(void **state)
{
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT, zero;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;

	(void)state;
	assert_int_equal(host.struct_size, sizeof(host));
	assert_int_equal(host.flags | host.total_bytes | host.free_bytes | host.now_ns, 0);
	assert_int_equal(sum.struct_size, sizeof(sum));
	assert_int_equal(vm.struct_size, sizeof(vm));
	assert_true(vm.limit_bytes == RECLAIM_UNLIMITED);
	assert_true(vm.balloon_cap_bytes == RECLAIM_UNLIMITED);
	/* everything else zero */
	memset(&zero, 0, sizeof(zero));
	zero.struct_size = sizeof(zero);
	zero.limit_bytes = zero.balloon_cap_bytes = RECLAIM_UNLIMITED;
	assert_memory_equal(&vm, &zero, sizeof(vm));
}

static void
test_init_functions(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_estimator est;

	(void)state;
	for (int p = RECLAIM_PROFILE_ESX; p <= RECLAIM_PROFILE_PAPER; p++) {
		memset(&cfg, 0xA5, sizeof(cfg));
		assert_int_equal(reclaim_config_init_profile(&cfg, sizeof(cfg), p), RECLAIM_OK);
		assert_int_equal(cfg.struct_size, sizeof(cfg));
		assert_int_equal(cfg.reserved0, 0);
		assert_int_equal(cfg.reserved1, 0);
		assert_int_equal(reclaim_config_check(&cfg, NULL), RECLAIM_OK);
	}
	/* a caller compiled against another layout is refused */
	assert_int_equal(reclaim_config_init(&cfg, sizeof(cfg) - 8), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_config_init(&cfg, sizeof(cfg) + 8), RECLAIM_E_VERSION);
	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&cfg), RECLAIM_OK);
	memset(&est, 0xA5, sizeof(est));
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est), NULL), RECLAIM_OK);
	assert_int_equal(est.struct_size, sizeof(est));
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est) - 8, NULL), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_version(), (uint32_t)RECLAIM_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_macros),
		cmocka_unit_test(test_init_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
