/* SPDX-License-Identifier: MIT */
/* Status texts, state names and the runtime version. */
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
	for (int code = RECLAIM_OK; code >= RECLAIM_E_NOSPACE; code--) {
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

static void
state_names(void **state)
{
	(void)state;
	assert_string_equal(reclaim_state_name(RECLAIM_STATE_HIGH), "high");
	assert_string_equal(reclaim_state_name(RECLAIM_STATE_SOFT), "soft");
	assert_string_equal(reclaim_state_name(RECLAIM_STATE_HARD), "hard");
	assert_string_equal(reclaim_state_name(RECLAIM_STATE_LOW), "low");
	assert_string_equal(reclaim_state_name(7), "invalid");
	assert_string_equal(reclaim_state_name(-1), "invalid");
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
		cmocka_unit_test(state_names),
		cmocka_unit_test(runtime_version_matches_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
