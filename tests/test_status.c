/* SPDX-License-Identifier: MIT */
/* Status texts, the names of every enum value, and the runtime version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim.h>

static void
every_status_has_its_own_text(void **state)
{
	const char *seen[32];
	int n = 0;

	(void)state;
	for (int code = RECLAIM_OK; code >= RECLAIM_E_BUSY; code--) {
		const char *s = reclaim_strerror(code);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, reclaim_strerror(12345));
		for (int i = 0; i < n; i++)
			assert_string_not_equal(s, seen[i]);
		seen[n++] = s;
	}
	assert_string_equal(reclaim_strerror(12345), "unknown status");
	assert_non_null(reclaim_strerror(-1000));
}

static void
status_values_are_abi(void **state)
{
	(void)state;
	assert_int_equal(RECLAIM_E_NULL, -1);
	assert_int_equal(RECLAIM_E_VERSION, -2);
	assert_int_equal(RECLAIM_E_VM_DUPLICATE, -9);
	assert_int_equal(RECLAIM_E_NOSPACE, -15);
}

/* The one spelling rule: the enumerator in lower case without its prefix. */
static void
check_name(const char *name, const char *enumerator, const char *prefix)
{
	char want[64];
	size_t i, n = strlen(prefix);

	assert_int_equal(strncmp(enumerator, prefix, n), 0);
	for (i = 0; enumerator[n + i] && i < sizeof(want) - 1; i++)
		want[i] = (char)(enumerator[n + i] >= 'A' && enumerator[n + i] <= 'Z'
					 ? enumerator[n + i] - 'A' + 'a'
					 : enumerator[n + i]);
	want[i] = '\0';
	assert_non_null(name);
	assert_string_equal(name, want);
}

#define NAME(fn, value, prefix) check_name(fn(value), #value, prefix)

static void
every_enum_value_has_its_name(void **state)
{
	(void)state;
	NAME(reclaim_state_name, RECLAIM_STATE_HIGH, "RECLAIM_STATE_");
	NAME(reclaim_state_name, RECLAIM_STATE_SOFT, "RECLAIM_STATE_");
	NAME(reclaim_state_name, RECLAIM_STATE_HARD, "RECLAIM_STATE_");
	NAME(reclaim_state_name, RECLAIM_STATE_LOW, "RECLAIM_STATE_");
	NAME(reclaim_profile_name, RECLAIM_PROFILE_ESX, "RECLAIM_PROFILE_");
	NAME(reclaim_profile_name, RECLAIM_PROFILE_ESXI5, "RECLAIM_PROFILE_");
	NAME(reclaim_profile_name, RECLAIM_PROFILE_PAPER, "RECLAIM_PROFILE_");
	NAME(reclaim_config_flag_name, RECLAIM_CONFIG_NO_EARLY_BALLOON, "RECLAIM_CONFIG_");
	NAME(reclaim_config_flag_name, RECLAIM_CONFIG_SOFT_SWAP, "RECLAIM_CONFIG_");
	NAME(reclaim_config_flag_name, RECLAIM_CONFIG_HARD_SWAP_ONLY, "RECLAIM_CONFIG_");
	NAME(reclaim_config_flag_name, RECLAIM_CONFIG_NO_GUEST_CAP, "RECLAIM_CONFIG_");
	NAME(reclaim_threshold_base_name, RECLAIM_BASE_USABLE, "RECLAIM_BASE_");
	NAME(reclaim_threshold_base_name, RECLAIM_BASE_MINFREE, "RECLAIM_BASE_");
	NAME(reclaim_host_flag_name, RECLAIM_HOST_SWAP_BOUNDED, "RECLAIM_HOST_");
	NAME(reclaim_vm_flag_name, RECLAIM_VM_BALLOON, "RECLAIM_VM_");
	NAME(reclaim_vm_flag_name, RECLAIM_VM_GUEST_STATS, "RECLAIM_VM_");
	NAME(reclaim_vm_flag_name, RECLAIM_VM_IDLE_TAX, "RECLAIM_VM_");
	NAME(reclaim_vm_flag_name, RECLAIM_VM_COMPRESS, "RECLAIM_VM_");
	NAME(reclaim_vm_flag_name, RECLAIM_VM_RESIZED, "RECLAIM_VM_");
	NAME(reclaim_action_name, RECLAIM_ACTION_BALLOON, "RECLAIM_ACTION_");
	NAME(reclaim_action_name, RECLAIM_ACTION_SWAP, "RECLAIM_ACTION_");
	NAME(reclaim_action_name, RECLAIM_ACTION_COMPRESS, "RECLAIM_ACTION_");
	NAME(reclaim_action_name, RECLAIM_ACTION_BLOCK, "RECLAIM_ACTION_");
	NAME(reclaim_action_name, RECLAIM_ACTION_UNBLOCK, "RECLAIM_ACTION_");
	NAME(reclaim_reason_name, RECLAIM_REASON_PRESSURE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_EARLY, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_LIMIT, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_DEFLATE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_NO_BALLOON, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_UNRESPONSIVE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_STALE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_BALLOON_CAPPED, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_SLOW_BALLOON, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_BLOCKED, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_ZERO_SHARES, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_SHORTFALL, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_SWAP_BOUNDED, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_ADAPTER_FAILED, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_HOLD, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_REBALANCE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_DISTRESS, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_SWAP_UNAVAILABLE, "RECLAIM_REASON_");
	NAME(reclaim_reason_name, RECLAIM_REASON_BLOCK_TIMEOUT, "RECLAIM_REASON_");
	NAME(reclaim_bound_name, RECLAIM_BOUND_NONE, "RECLAIM_BOUND_");
	NAME(reclaim_bound_name, RECLAIM_BOUND_RESERVATION, "RECLAIM_BOUND_");
	NAME(reclaim_bound_name, RECLAIM_BOUND_MAX, "RECLAIM_BOUND_");
	NAME(reclaim_bound_name, RECLAIM_BOUND_CONSUMED, "RECLAIM_BOUND_");
	NAME(reclaim_bound_name, RECLAIM_BOUND_BALLOON, "RECLAIM_BOUND_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_FRACTION, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_VM_CAP, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_GUEST, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_NO_DRIVER, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_UNRESPONSIVE,
	     "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_STALE, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_ACTIVE, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_balloon_limit_name, RECLAIM_BALLOON_LIMIT_DISTRESS, "RECLAIM_BALLOON_LIMIT_");
	NAME(reclaim_summary_flag_name, RECLAIM_SUMMARY_SHORTFALL, "RECLAIM_SUMMARY_");
	NAME(reclaim_summary_flag_name, RECLAIM_SUMMARY_EARLY, "RECLAIM_SUMMARY_");
	NAME(reclaim_summary_flag_name, RECLAIM_SUMMARY_DEFLATE, "RECLAIM_SUMMARY_");
	NAME(reclaim_summary_flag_name, RECLAIM_SUMMARY_SWAP_BOUNDED, "RECLAIM_SUMMARY_");
	NAME(reclaim_summary_flag_name, RECLAIM_SUMMARY_SWAP_UNAVAILABLE, "RECLAIM_SUMMARY_");
	NAME(reclaim_where_name, RECLAIM_WHERE_NONE, "RECLAIM_WHERE_");
	NAME(reclaim_where_name, RECLAIM_WHERE_ARGUMENT, "RECLAIM_WHERE_");
	NAME(reclaim_where_name, RECLAIM_WHERE_CONFIG, "RECLAIM_WHERE_");
	NAME(reclaim_where_name, RECLAIM_WHERE_HOST, "RECLAIM_WHERE_");
	NAME(reclaim_where_name, RECLAIM_WHERE_VM, "RECLAIM_WHERE_");
	NAME(reclaim_where_name, RECLAIM_WHERE_DECISION, "RECLAIM_WHERE_");
	NAME(reclaim_decide_flag_name, RECLAIM_DECIDE_DRY_RUN, "RECLAIM_DECIDE_");
	NAME(reclaim_apply_flag_name, RECLAIM_APPLY_COMPRESS_FALLBACK, "RECLAIM_APPLY_");
	NAME(reclaim_apply_flag_name, RECLAIM_APPLY_SKIPPED, "RECLAIM_APPLY_");
	/* statuses keep their C names */
	assert_string_equal(reclaim_status_name(RECLAIM_OK), "RECLAIM_OK");
	assert_string_equal(reclaim_status_name(RECLAIM_E_VM_BOUNDS), "RECLAIM_E_VM_BOUNDS");
	assert_string_equal(reclaim_status_name(RECLAIM_E_NOSPACE), "RECLAIM_E_NOSPACE");
	assert_string_equal(reclaim_status_name(RECLAIM_E_BUSY), "RECLAIM_E_BUSY");
}

/* Values the library does not know have no name; nothing crashes. */
static void
unknown_values_have_no_name(void **state)
{
	const char *(*const value_fns[])(uint32_t) = {
		reclaim_state_name, reclaim_profile_name, reclaim_threshold_base_name,
		reclaim_bound_name, reclaim_balloon_limit_name, reclaim_where_name,
	};
	const char *(*const bit_fns[])(uint32_t) = {
		reclaim_config_flag_name, reclaim_host_flag_name, reclaim_vm_flag_name,
		reclaim_action_name, reclaim_reason_name, reclaim_summary_flag_name,
		reclaim_decide_flag_name, reclaim_apply_flag_name,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(value_fns) / sizeof(value_fns[0]); i++) {
		assert_null(value_fns[i](64));
		assert_null(value_fns[i](UINT32_MAX));
	}
	for (size_t i = 0; i < sizeof(bit_fns) / sizeof(bit_fns[0]); i++) {
		assert_null(bit_fns[i](0));
		assert_null(bit_fns[i](1u << 31));
		assert_null(bit_fns[i](3)); /* two bits are not one name */
		assert_null(bit_fns[i](UINT32_MAX));
	}
	assert_null(reclaim_status_name(1));
	assert_null(reclaim_status_name(-1000));
	assert_null(reclaim_status_name(INT32_MIN));
	assert_string_equal(reclaim_strerror(INT32_MIN), "unknown status");
}

static void
runtime_version_matches_header(void **state)
{
	(void)state;
	assert_int_equal(reclaim_version(), RECLAIM_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_status_has_its_own_text),
		cmocka_unit_test(status_values_are_abi),
		cmocka_unit_test(every_enum_value_has_its_name),
		cmocka_unit_test(unknown_values_have_no_name),
		cmocka_unit_test(runtime_version_matches_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
