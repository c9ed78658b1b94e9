/* SPDX-License-Identifier: MIT */
/*
 * Active-memory estimator: rises within a period, decays over many, stays in
 * [floor, 1], refuses bad input without touching its state, and converts to
 * bytes without overflow.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim.h>

#include "testutil.h"

static void
init_default(struct reclaim_estimator *est)
{
	assert_int_equal(reclaim_estimator_init(est, sizeof(*est), NULL), RECLAIM_OK);
}

/* A config whose estimator fields are set; the rest does not matter here. */
static void
config_with(struct reclaim_config *cfg, double fast_gain, double slow_gain, double floor_fraction)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = (uint32_t)sizeof(*cfg);
	cfg->estimator_fast_gain = fast_gain;
	cfg->estimator_slow_gain = slow_gain;
	cfg->active_floor = floor_fraction;
}

static void
feed(struct reclaim_estimator *est, uint32_t touched, int periods)
{
	for (int i = 0; i < periods; i++)
		assert_int_equal(reclaim_estimator_period(est, 100, touched), RECLAIM_OK);
}

static void
init_defaults(void **state)
{
	struct reclaim_estimator est, from_cfg;
	struct reclaim_config cfg;

	(void)state;
	memset(&est, 0xa5, sizeof(est));
	init_default(&est);
	/* NULL means the config defaults. */
	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&cfg), RECLAIM_OK);
	assert_int_equal(reclaim_estimator_init(&from_cfg, sizeof(from_cfg), &cfg), RECLAIM_OK);
	assert_memory_equal(&est, &from_cfg, sizeof(est));
	assert_int_equal(est.struct_size, sizeof(est));
	assert_int_equal(est.periods, 0);
	assert_true(est.fast_gain == DBL(0.7));
	assert_true(est.slow_gain == DBL(0.1));
	assert_true(est.floor == DBL(0.01));
	/* No history: only the floor. */
	assert_true(reclaim_estimator_fraction(&est) == DBL(0.01));
}

static void
init_from_config(void **state)
{
	struct reclaim_estimator est;
	struct reclaim_config cfg;

	(void)state;
	config_with(&cfg, 1.0, 0.25, 0.0);
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_OK);
	assert_true(est.fast_gain == 1.0);
	assert_true(est.slow_gain == 0.25);
	assert_true(est.floor == 0.0);
	assert_true(reclaim_estimator_fraction(&est) == 0.0);
	feed(&est, 40, 1);
	feed(&est, 0, 1);
	/* fast gain 1: fast forgets at once; slow 0.4 -> 0.3 */
	assert_true(est.fast == 0.0);
	assert_true(fabs(reclaim_estimator_fraction(&est) - 0.3) < 1e-12);
}

static void
init_rejects(void **state)
{
	static const double bad_gains[] = {0.0, -0.1, 1.0000001, NAN, INFINITY};
	static const double bad_floors[] = {1.0, -0.01, 2.0, NAN};
	struct reclaim_estimator est, before;
	struct reclaim_config cfg;

	(void)state;
	memset(&est, 0x3c, sizeof(est));
	before = est;
	config_with(&cfg, 0.7, 0.1, 0.01);

	assert_int_equal(reclaim_estimator_init(NULL, sizeof(est), NULL), RECLAIM_E_NULL);
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est) - 8, NULL), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est) + 8, NULL), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_estimator_init(&est, 0, &cfg), RECLAIM_E_VERSION);

	cfg.struct_size = (uint32_t)sizeof(cfg) - 8;
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_E_VERSION);
	cfg.struct_size = (uint32_t)sizeof(cfg) + 8;
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_E_VERSION);

	for (size_t i = 0; i < sizeof(bad_gains) / sizeof(bad_gains[0]); i++) {
		config_with(&cfg, bad_gains[i], 0.1, 0.01);
		assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_E_CONFIG);
		config_with(&cfg, 0.7, bad_gains[i], 0.01);
		assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_E_CONFIG);
	}
	for (size_t i = 0; i < sizeof(bad_floors) / sizeof(bad_floors[0]); i++) {
		config_with(&cfg, 0.7, 0.1, bad_floors[i]);
		assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_E_CONFIG);
	}
	assert_memory_equal(&est, &before, sizeof(est));
}

static void
first_period_sets_averages(void **state)
{
	struct reclaim_estimator est;

	(void)state;
	init_default(&est);
	feed(&est, 50, 1);
	assert_int_equal(est.periods, 1);
	assert_true(est.fast == 0.5);
	assert_true(est.slow == 0.5);
	assert_true(reclaim_estimator_fraction(&est) == 0.5);
}

static void
step_up_within_one_period(void **state)
{
	struct reclaim_estimator est;
	double before, mid;

	(void)state;
	init_default(&est);
	feed(&est, 10, 20);
	before = reclaim_estimator_fraction(&est);
	assert_true(fabs(before - 0.1) < 1e-9);

	/* Mid-period: 60 of 100 touched so far lifts the estimate to
	 * 0.1 + 0.7 * (0.6 - 0.1) before the period ends. */
	assert_int_equal(reclaim_estimator_progress(&est, 100, 60), RECLAIM_OK);
	mid = reclaim_estimator_fraction(&est);
	assert_true(fabs(mid - 0.45) < 1e-9);
	assert_int_equal(est.periods, 20);

	/* The period ends with 80 touched: >= 0.7 of the new level. */
	feed(&est, 80, 1);
	assert_true(reclaim_estimator_fraction(&est) >= 0.7 * 0.8);
	assert_true(reclaim_estimator_fraction(&est) > mid);
}

static void
progress_only_raises(void **state)
{
	struct reclaim_estimator est, before;

	(void)state;
	init_default(&est);
	feed(&est, 50, 5);
	before = est;
	/* A partial period below the average does not lower it. */
	assert_int_equal(reclaim_estimator_progress(&est, 100, 10), RECLAIM_OK);
	assert_true(est.current == est.fast);
	assert_true(reclaim_estimator_fraction(&est) == reclaim_estimator_fraction(&before));
	/* Nothing sampled yet: no information. */
	assert_int_equal(reclaim_estimator_progress(&est, 0, 0), RECLAIM_OK);
	assert_memory_equal(&est, &before, sizeof(est));

	/* Growing counts raise the estimate step by step. */
	assert_int_equal(reclaim_estimator_progress(&est, 100, 70), RECLAIM_OK);
	assert_true(fabs(est.current - (0.5 + 0.7 * 0.2)) < 1e-12);
	assert_int_equal(reclaim_estimator_progress(&est, 100, 90), RECLAIM_OK);
	assert_true(fabs(est.current - (0.5 + 0.7 * 0.4)) < 1e-12);
	assert_true(est.fast == before.fast && est.slow == before.slow);

	/* Ending the period replaces the partial estimate. */
	assert_int_equal(reclaim_estimator_period(&est, 100, 20), RECLAIM_OK);
	assert_true(est.current == est.fast);
	assert_true(fabs(est.fast - (0.5 + 0.7 * (0.2 - 0.5))) < 1e-12);
}

static void
progress_without_history(void **state)
{
	struct reclaim_estimator est;

	(void)state;
	init_default(&est);
	/* A new VM busy from the start is seen as busy before its first
	 * period ends. */
	assert_int_equal(reclaim_estimator_progress(&est, 40, 30), RECLAIM_OK);
	assert_true(reclaim_estimator_fraction(&est) == 0.75);
	assert_int_equal(est.periods, 0);
}

static void
step_down_decays_slowly(void **state)
{
	struct reclaim_estimator est;
	double prev;

	(void)state;
	init_default(&est);
	feed(&est, 90, 30);
	prev = reclaim_estimator_fraction(&est);
	for (int i = 1; i <= 60; i++) {
		double now;

		feed(&est, 0, 1);
		now = reclaim_estimator_fraction(&est);
		assert_true(now <= prev);
		if (i <= 3)
			assert_true(now > 0.45);
		prev = now;
	}
	assert_true(prev < 0.01 + 0.05);
	assert_true(prev >= 0.01);
}

static void
empty_period_keeps_averages(void **state)
{
	struct reclaim_estimator est, before;

	(void)state;
	init_default(&est);
	assert_int_equal(reclaim_estimator_period(&est, 0, 0), RECLAIM_OK);
	assert_int_equal(est.periods, 0);
	feed(&est, 30, 2);
	assert_int_equal(reclaim_estimator_progress(&est, 10, 9), RECLAIM_OK);
	before = est;
	assert_int_equal(reclaim_estimator_period(&est, 0, 0), RECLAIM_OK);
	assert_int_equal(est.periods, 2);
	assert_true(est.fast == before.fast && est.slow == before.slow);
	assert_true(est.current == est.fast);
}

/* The period count saturates: an estimator that has seen UINT32_MAX
 * periods (one per 30 s is 4000 years, but the struct is the caller's)
 * keeps its averages, it does not start over as if it had none. */
static void
period_count_saturates(void **state)
{
	struct reclaim_estimator est;
	double fast;

	(void)state;
	init_default(&est);
	feed(&est, 10, 3);
	est.periods = UINT32_MAX - 1;
	feed(&est, 90, 1);
	assert_int_equal(est.periods, UINT32_MAX);
	fast = est.fast;
	feed(&est, 10, 1);
	assert_int_equal(est.periods, UINT32_MAX);
	assert_true(fabs(est.fast - (fast + est.fast_gain * (0.1 - fast))) < 1e-12);
}

static void
bounded_under_random_input(void **state)
{
	struct reclaim_rng rng;

	(void)state;
	reclaim_rng_seed(&rng, 99);
	for (int run = 0; run < 200; run++) {
		struct reclaim_estimator est;
		struct reclaim_config cfg;
		double fast_gain = (double)(reclaim_rng_next(&rng) % 1000 + 1) / 1000.0;
		double slow_gain = (double)(reclaim_rng_next(&rng) % 1000 + 1) / 1000.0;
		double floor_fraction = (double)(reclaim_rng_next(&rng) % 1000) / 1000.0;

		config_with(&cfg, fast_gain, slow_gain, floor_fraction);
		assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &cfg), RECLAIM_OK);
		for (int step = 0; step < 500; step++) {
			uint64_t r = reclaim_rng_next(&rng);
			uint32_t sampled = (uint32_t)(r >> 32) % 4 == 0 ? (uint32_t)r
					   : (uint32_t)(r % 201);
			uint32_t touched = sampled ? (uint32_t)((r >> 8) % ((uint64_t)sampled + 1)) : 0;
			uint64_t consumed = reclaim_rng_next(&rng) >> (r % 64);
			double f;

			if (r & 1)
				assert_int_equal(reclaim_estimator_progress(&est, sampled, touched),
						 RECLAIM_OK);
			else
				assert_int_equal(reclaim_estimator_period(&est, sampled, touched),
						 RECLAIM_OK);
			f = reclaim_estimator_fraction(&est);
			assert_true(f >= floor_fraction && f <= 1.0);
			assert_true(est.slow >= 0.0 && est.slow <= 1.0);
			assert_true(est.fast >= 0.0 && est.fast <= 1.0);
			assert_true(est.current >= est.fast && est.current <= 1.0);
			assert_true(reclaim_estimator_active_bytes(&est, consumed) <= consumed);
		}
	}
}

static void
invalid_input_untouched(void **state)
{
	struct reclaim_estimator est, before;

	(void)state;
	init_default(&est);
	feed(&est, 25, 3);
	before = est;
	assert_int_equal(reclaim_estimator_progress(&est, 10, 11), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_estimator_period(&est, 10, 11), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_estimator_period(&est, 0, 1), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_estimator_progress(&est, 0, UINT32_MAX), RECLAIM_E_INVAL);
	assert_memory_equal(&est, &before, sizeof(est));

	assert_int_equal(reclaim_estimator_progress(NULL, 10, 1), RECLAIM_E_NULL);
	assert_int_equal(reclaim_estimator_period(NULL, 10, 1), RECLAIM_E_NULL);
	assert_true(reclaim_estimator_fraction(NULL) == 0.0);
	assert_true(reclaim_estimator_active_bytes(NULL, 1000) == 0);

	/* An estimator of a size the library does not know is not fed. */
	est.struct_size = (uint32_t)sizeof(est) + 8;
	before = est;
	assert_int_equal(reclaim_estimator_progress(&est, 10, 1), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_estimator_period(&est, 10, 1), RECLAIM_E_VERSION);
	assert_memory_equal(&est, &before, sizeof(est));
}

static void
fraction_clamps_copied_state(void **state)
{
	struct reclaim_estimator est;

	(void)state;
	init_default(&est);
	/* Plain data: a damaged copy still reports within [floor, 1]. */
	est.fast = 3.0;
	assert_true(reclaim_estimator_fraction(&est) == 1.0);
	est.fast = NAN;
	est.slow = NAN;
	est.current = NAN;
	assert_true(reclaim_estimator_fraction(&est) == DBL(0.01));
	est.floor = NAN;
	assert_true(reclaim_estimator_fraction(&est) >= 0.0);
	assert_true(reclaim_estimator_fraction(&est) <= 1.0);
	/* Below 0, floor and all: never a negative fraction. */
	est.floor = -1.0;
	est.fast = est.slow = est.current = -0.5;
	assert_true(reclaim_estimator_fraction(&est) == 0.0);
}

static void
active_bytes_rounding(void **state)
{
	struct reclaim_estimator est;

	(void)state;
	init_default(&est);
	/* Floor only: 1 % */
	assert_true(reclaim_estimator_active_bytes(&est, 0) == 0);
	assert_true(reclaim_estimator_active_bytes(&est, 1000) == 10);
	assert_true(reclaim_estimator_active_bytes(&est, 149) == 1);  /* 1.49 */
	assert_true(reclaim_estimator_active_bytes(&est, 151) == 2);  /* 1.51 */

	assert_int_equal(reclaim_estimator_period(&est, 3, 1), RECLAIM_OK);
	assert_true(reclaim_estimator_active_bytes(&est, 1000) == 333);
	assert_true(reclaim_estimator_active_bytes(&est, 2000) == 667);

	init_default(&est);
	assert_int_equal(reclaim_estimator_period(&est, 2, 1), RECLAIM_OK);
	assert_true(reclaim_estimator_active_bytes(&est, (uint64_t)1 << 40) ==
		    (uint64_t)1 << 39);
	assert_true(reclaim_estimator_active_bytes(&est, UINT64_MAX) == (uint64_t)1 << 63);
}

static void
active_bytes_saturates(void **state)
{
	struct reclaim_estimator est;
	const uint64_t odd = ((uint64_t)1 << 53) + 1; /* not a double */

	(void)state;
	init_default(&est);
	assert_int_equal(reclaim_estimator_period(&est, 7, 7), RECLAIM_OK);
	assert_true(reclaim_estimator_fraction(&est) == 1.0);
	/* UINT64_MAX becomes 2^64 as a double: the result must not wrap. */
	assert_true(reclaim_estimator_active_bytes(&est, UINT64_MAX) == UINT64_MAX);
	assert_true(reclaim_estimator_active_bytes(&est, odd) == odd);
	assert_true(reclaim_estimator_active_bytes(&est, 12345) == 12345);

	/* Just below 1: never more than consumed. */
	est.fast = est.slow = est.current = nextafter(1.0, 0.0);
	assert_true(reclaim_estimator_active_bytes(&est, UINT64_MAX) < UINT64_MAX);
	assert_true(reclaim_estimator_active_bytes(&est, UINT64_MAX) > UINT64_MAX - 4096);
	assert_true(reclaim_estimator_active_bytes(&est, odd) <= odd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_defaults),
		cmocka_unit_test(init_from_config),
		cmocka_unit_test(init_rejects),
		cmocka_unit_test(first_period_sets_averages),
		cmocka_unit_test(step_up_within_one_period),
		cmocka_unit_test(progress_only_raises),
		cmocka_unit_test(progress_without_history),
		cmocka_unit_test(step_down_decays_slowly),
		cmocka_unit_test(empty_period_keeps_averages),
		cmocka_unit_test(period_count_saturates),
		cmocka_unit_test(bounded_under_random_input),
		cmocka_unit_test(invalid_input_untouched),
		cmocka_unit_test(fraction_clamps_copied_state),
		cmocka_unit_test(active_bytes_rounding),
		cmocka_unit_test(active_bytes_saturates),
	};

	return cmocka_run_group_tests_name("estimator", tests, NULL, NULL);
}
