/* SPDX-License-Identifier: MIT */
/*
 * Generator and page picker: known answers, argument checks, the shape of a
 * pick (distinct, increasing, in range) and its law, by chi-square tests with
 * fixed seeds over both of the picker's methods (dense and sparse).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim.h>

/*
 * Upper chi-square quantile by Wilson and Hilferty, at p = 1e-5: a correct
 * picker fails one of these tests about once in 10^5 seeds, and the seeds are
 * fixed.
 */
static double
chi2_critical(unsigned dof)
{
	const double z = 4.265;
	double a = 2.0 / (9.0 * dof);
	double c = 1.0 - a + z * sqrt(a);

	return dof * c * c * c;
}

static double
chi2(const double *observed, const double *expected, size_t cells)
{
	double sum = 0.0;

	for (size_t i = 0; i < cells; i++) {
		double d = observed[i] - expected[i];

		sum += d * d / expected[i];
	}
	return sum;
}

static void
check_shape(const uint64_t *out, uint64_t k, uint64_t n)
{
	for (uint64_t i = 0; i < k; i++) {
		assert_true(out[i] < n);
		if (i > 0)
			assert_true(out[i] > out[i - 1]);
	}
}

static void
rng_known_answers(void **state)
{
	/* splitmix64 from 0, then xoshiro256** (reference values computed
	 * independently of this library). */
	static const uint64_t words[4] = {
		0xe220a8397b1dcdafu, 0x6e789e6aa1b965f4u,
		0x06c45d188009454fu, 0xf88bb8a8724c81ecu,
	};
	static const uint64_t outputs[4] = {
		0x99ec5f36cb75f2b4u, 0xbf6e1f784956452au,
		0x1a5f849d4933e6e0u, 0x6aa594f1262d2d2cu,
	};
	static const uint64_t outputs2[4] = {
		0xa2c2a42038d4ec3du, 0x05fc25d0738e7b0fu,
		0x625e7bff938e701eu, 0x1ba4ddc6fe2b5726u,
	};
	struct reclaim_rng rng;

	(void)state;
	reclaim_rng_seed(&rng, 0);
	assert_memory_equal(rng.s, words, sizeof(words));
	for (int i = 0; i < 4; i++)
		assert_true(reclaim_rng_next(&rng) == outputs[i]);
	reclaim_rng_seed(&rng, 0x0123456789abcdefu);
	for (int i = 0; i < 4; i++)
		assert_true(reclaim_rng_next(&rng) == outputs2[i]);

	reclaim_rng_seed(NULL, 1);
	assert_true(reclaim_rng_next(NULL) == 0);
}

/*
 * A generator never seeded (zeroed memory) is xoshiro's fixed point: it
 * draws 0 forever, and the sparse sampler would wait forever for another
 * draw. The pickers refuse it, and write nothing.
 */
static void
pick_unseeded_rng_refused(void **state)
{
	struct reclaim_rng zero = {{0, 0, 0, 0}}, rng;
	struct reclaim_pick pick;
	uint64_t out[2] = {7, 7}, index = 7;

	(void)state;
	assert_int_equal(reclaim_pick_pages(&zero, UINT64_C(1) << 40, 2, out), RECLAIM_E_INVAL);
	assert_true(out[0] == 7 && out[1] == 7);
	assert_int_equal(reclaim_pick_init(&pick, UINT64_C(1) << 40, 2, &zero), RECLAIM_E_INVAL);
	/* zeroed after init: the next draw is refused too */
	reclaim_rng_seed(&rng, 1);
	assert_int_equal(reclaim_pick_init(&pick, UINT64_C(1) << 40, 2, &rng), RECLAIM_OK);
	memset(&rng, 0, sizeof(rng));
	assert_int_equal(reclaim_pick_next(&pick, &index), RECLAIM_E_INVAL);
	assert_true(index == 7);
	/* one word set is a state like any other */
	zero.s[3] = 1;
	assert_int_equal(reclaim_pick_pages(&zero, UINT64_C(1) << 40, 2, out), RECLAIM_OK);
	assert_true(out[0] < out[1]);
}

static void
pick_invalid_args(void **state)
{
	struct reclaim_rng rng, rng_before;
	struct reclaim_pick pick, pick_before;
	uint64_t out[4] = {7, 7, 7, 7};
	uint64_t index = 42;

	(void)state;
	reclaim_rng_seed(&rng, 1);
	rng_before = rng;
	memset(&pick, 0x5a, sizeof(pick));
	pick_before = pick;

	assert_int_equal(reclaim_pick_init(NULL, 10, 1, &rng), RECLAIM_E_NULL);
	assert_int_equal(reclaim_pick_init(&pick, 10, 1, NULL), RECLAIM_E_NULL);
	assert_int_equal(reclaim_pick_init(&pick, 10, 11, &rng), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_pick_init(&pick, 0, 1, &rng), RECLAIM_E_INVAL);
	assert_memory_equal(&pick, &pick_before, sizeof(pick));

	assert_int_equal(reclaim_pick_init(&pick, 10, 2, &rng), RECLAIM_OK);
	assert_int_equal(reclaim_pick_next(NULL, &index), RECLAIM_E_NULL);
	assert_int_equal(reclaim_pick_next(&pick, NULL), RECLAIM_E_NULL);
	pick_before = pick;
	pick.rng = NULL;
	assert_int_equal(reclaim_pick_next(&pick, &index), RECLAIM_E_NULL);
	/* Plain data: a damaged picker is refused, not trusted. */
	pick = pick_before;
	pick.k = 11;
	assert_int_equal(reclaim_pick_next(&pick, &index), RECLAIM_E_INVAL);
	pick = pick_before;
	pick.next = UINT64_MAX - 3;
	assert_int_equal(reclaim_pick_next(&pick, &index), RECLAIM_E_INVAL);
	assert_true(index == 42);

	assert_int_equal(reclaim_pick_pages(&rng, 10, 1, NULL), RECLAIM_E_NULL);
	assert_int_equal(reclaim_pick_pages(NULL, 10, 1, out), RECLAIM_E_NULL);
	assert_int_equal(reclaim_pick_pages(&rng, 3, 4, out), RECLAIM_E_INVAL);
	for (int i = 0; i < 4; i++)
		assert_true(out[i] == 7);
	assert_memory_equal(&rng, &rng_before, sizeof(rng));

	/* Nothing to pick: no array needed, nothing drawn. */
	assert_int_equal(reclaim_pick_pages(&rng, 10, 0, NULL), RECLAIM_OK);
	assert_int_equal(reclaim_pick_pages(&rng, 0, 0, NULL), RECLAIM_OK);
	assert_memory_equal(&rng, &rng_before, sizeof(rng));
}

static void
pick_zero(void **state)
{
	struct reclaim_rng rng;
	struct reclaim_pick pick;
	uint64_t index = 42;

	(void)state;
	reclaim_rng_seed(&rng, 2);
	assert_int_equal(reclaim_pick_init(&pick, 0, 0, &rng), RECLAIM_OK);
	assert_int_equal(reclaim_pick_next(&pick, &index), 0);
	assert_int_equal(reclaim_pick_init(&pick, 1000, 0, &rng), RECLAIM_OK);
	assert_int_equal(reclaim_pick_next(&pick, &index), 0);
	assert_true(index == 42);
}

static void
pick_all(void **state)
{
	static const uint64_t sizes[] = {1, 2, 3, 13, 14, 100, 1000};
	struct reclaim_rng rng;
	uint64_t out[1000];

	(void)state;
	reclaim_rng_seed(&rng, 3);
	for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
		uint64_t n = sizes[j];

		assert_int_equal(reclaim_pick_pages(&rng, n, n, out), RECLAIM_OK);
		for (uint64_t i = 0; i < n; i++)
			assert_true(out[i] == i);
	}
}

static void
pick_shape(void **state)
{
	/* Dense (method A), sparse (method D) and ratios near the switch. */
	static const uint64_t cases[][2] = {
		{1, 1}, {2, 1}, {5, 2}, {26, 2}, {27, 2}, {28, 2}, {130, 10},
		{131, 10}, {1000, 3}, {1000, 500}, {1000, 999}, {100000, 7},
		{100000, 1000}, {1u << 20, 4000},
	};
	struct reclaim_rng rng;
	struct reclaim_pick pick;
	static uint64_t out[4000];

	(void)state;
	reclaim_rng_seed(&rng, 4);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t n = cases[c][0], k = cases[c][1];

		for (int rep = 0; rep < 50; rep++) {
			uint64_t index = 0, prev = 0, count = 0;

			assert_int_equal(reclaim_pick_pages(&rng, n, k, out), RECLAIM_OK);
			check_shape(out, k, n);

			/* The iterator ends after exactly k, and stays ended. */
			assert_int_equal(reclaim_pick_init(&pick, n, k, &rng), RECLAIM_OK);
			while (reclaim_pick_next(&pick, &index) == 1) {
				assert_true(count < k);
				assert_true(count == 0 || index > prev);
				assert_true(index < n);
				prev = index;
				count++;
			}
			assert_true(count == k);
			assert_int_equal(reclaim_pick_next(&pick, &index), 0);
		}
	}
}

static void
pick_huge_population(void **state)
{
	const uint64_t n = (uint64_t)1 << 40;
	const uint64_t k = 4;
	const int draws = 20000;
	struct reclaim_rng rng;
	uint64_t out[64];
	double sum = 0.0, mean, sd;
	double observed[16] = {0}, expected[16];

	(void)state;
	reclaim_rng_seed(&rng, 5);
	for (uint64_t kk = 1; kk <= 64; kk++) {
		assert_int_equal(reclaim_pick_pages(&rng, n, kk, out), RECLAIM_OK);
		check_shape(out, kk, n);
	}
	/* Indices past 2^53 stay in range. */
	for (int rep = 0; rep < 1000; rep++) {
		assert_int_equal(reclaim_pick_pages(&rng, UINT64_MAX, 3, out), RECLAIM_OK);
		check_shape(out, 3, UINT64_MAX);
	}

	/* The first of k picks has mean (n - k) / (k + 1); indices spread
	 * evenly over sixteen slices of the population. */
	for (int d = 0; d < draws; d++) {
		assert_int_equal(reclaim_pick_pages(&rng, n, k, out), RECLAIM_OK);
		sum += (double)out[0];
		for (uint64_t i = 0; i < k; i++)
			observed[out[i] >> 36] += 1.0;
	}
	mean = (double)(n - k) / (double)(k + 1);
	/* sd of the first of k uniform order statistics, scaled by n */
	sd = (double)n * sqrt((double)k / ((k + 1.0) * (k + 1.0) * (k + 2.0)));
	assert_true(fabs(sum / draws - mean) < 5.0 * sd / sqrt((double)draws));
	for (int i = 0; i < 16; i++)
		expected[i] = (double)draws * (double)k / 16.0;
	assert_true(chi2(observed, expected, 16) < chi2_critical(15));
}

static void
pick_deterministic(void **state)
{
	struct reclaim_rng a, b;
	struct reclaim_pick pick;
	uint64_t x[200], y[200];

	(void)state;
	reclaim_rng_seed(&a, 6);
	reclaim_rng_seed(&b, 6);
	assert_int_equal(reclaim_pick_pages(&a, 100000, 200, x), RECLAIM_OK);
	assert_int_equal(reclaim_pick_pages(&b, 100000, 200, y), RECLAIM_OK);
	assert_memory_equal(x, y, sizeof(x));
	assert_memory_equal(&a, &b, sizeof(a));

	/* The iterator and the array form draw the same sequence. */
	reclaim_rng_seed(&b, 6);
	assert_int_equal(reclaim_pick_init(&pick, 100000, 200, &b), RECLAIM_OK);
	for (int i = 0; i < 200; i++)
		assert_int_equal(reclaim_pick_next(&pick, &y[i]), 1);
	assert_memory_equal(x, y, sizeof(x));

	reclaim_rng_seed(&b, 7);
	assert_int_equal(reclaim_pick_pages(&b, 100000, 200, y), RECLAIM_OK);
	assert_memory_not_equal(x, y, sizeof(x));
}

/*
 * How often each index is picked: k / n of the draws for every index. One
 * draw picks k indices without replacement, so the counts vary less than
 * independent ones: scaling by (1 - k / n) * n / (n - 1) restores a chi-square
 * law with n - 1 degrees of freedom.
 */
static void
check_index_counts(uint64_t n, uint64_t k, int draws, uint64_t seed)
{
	struct reclaim_rng rng;
	uint64_t out[64];
	double p = (double)k / (double)n;
	double *observed = calloc(n, sizeof(double));
	double *expected = calloc(n, sizeof(double));

	assert_non_null(observed);
	assert_non_null(expected);
	assert_true(k <= 64);
	reclaim_rng_seed(&rng, seed);
	for (int d = 0; d < draws; d++) {
		assert_int_equal(reclaim_pick_pages(&rng, n, k, out), RECLAIM_OK);
		for (uint64_t i = 0; i < k; i++)
			observed[out[i]] += 1.0;
	}
	for (uint64_t i = 0; i < n; i++)
		expected[i] = draws * p;
	assert_true(chi2(observed, expected, n) / ((1.0 - p) * n / (n - 1.0)) <
		    chi2_critical((unsigned)n - 1));
	free(observed);
	free(expected);
}

static void
pick_uniform_dense(void **state)
{
	(void)state;
	check_index_counts(50, 5, 20000, 8);
	check_index_counts(50, 25, 20000, 9);
}

static void
pick_uniform_sparse(void **state)
{
	(void)state;
	check_index_counts(1000, 5, 20000, 10);
	check_index_counts(5000, 40, 5000, 11);
}

/*
 * The first index against its exact law P(first = s) = (k / n) *
 * prod_{i < s} (n - k - i) / (n - 1 - i), cells merged until each expects 20.
 */
static void
check_first_index(uint64_t n, uint64_t k, int draws, uint64_t seed)
{
	struct reclaim_rng rng;
	struct reclaim_pick pick;
	uint64_t index;
	double *hits = calloc(n, sizeof(double));
	/* n - k + 1 cells at most, and one being filled */
	double *observed = calloc(n - k + 2, sizeof(double));
	double *expected = calloc(n - k + 2, sizeof(double));
	double p = (double)k / (double)n;
	size_t cells = 0;

	assert_non_null(hits);
	assert_non_null(observed);
	assert_non_null(expected);
	reclaim_rng_seed(&rng, seed);
	for (int d = 0; d < draws; d++) {
		assert_int_equal(reclaim_pick_init(&pick, n, k, &rng), RECLAIM_OK);
		assert_int_equal(reclaim_pick_next(&pick, &index), 1);
		assert_true(index <= n - k);
		hits[index] += 1.0;
	}
	for (uint64_t s = 0; s <= n - k; s++) {
		observed[cells] += hits[s];
		expected[cells] += p * draws;
		if (expected[cells] >= 20.0)
			cells++;
		p *= (double)(n - k - s) / (double)(n - 1 - s);
	}
	/* The short tail joins the last full cell. */
	assert_true(cells > 0);
	observed[cells - 1] += observed[cells];
	expected[cells - 1] += expected[cells];
	assert_true(cells >= 10);
	assert_true(chi2(observed, expected, cells) < chi2_critical((unsigned)cells - 1));
	free(hits);
	free(observed);
	free(expected);
}

static void
pick_first_index_law(void **state)
{
	(void)state;
	check_first_index(50, 5, 20000, 12);     /* method A */
	check_first_index(1000, 5, 20000, 13);   /* method D */
	/* Method D barely past the switch, where its envelope is loosest. */
	check_first_index(27, 2, 100000, 19);
	check_first_index(53, 4, 100000, 20);
	check_first_index(131, 10, 100000, 21);
	/* Large enough to see the exact test's product slip by one factor. */
	check_first_index(1000, 70, 300000, 22);
	check_first_index(1000000, 2, 20000, 14); /* method D, k = 2 */
	check_first_index(100000, 1000, 20000, 15); /* method D, many factors */
	check_first_index(1000, 1, 20000, 16);   /* last pick */
}

/* Every k-subset equally likely. */
static void
check_subsets(uint64_t n, int draws, uint64_t seed)
{
	struct reclaim_rng rng;
	uint64_t out[2];
	size_t cells = (size_t)(n * (n - 1) / 2);
	double *observed = calloc(n * n, sizeof(double));
	double *flat = calloc(cells, sizeof(double));
	double *expected = calloc(cells, sizeof(double));
	size_t c = 0;

	assert_non_null(observed);
	assert_non_null(flat);
	assert_non_null(expected);
	reclaim_rng_seed(&rng, seed);
	for (int d = 0; d < draws; d++) {
		assert_int_equal(reclaim_pick_pages(&rng, n, 2, out), RECLAIM_OK);
		observed[out[0] * n + out[1]] += 1.0;
	}
	for (uint64_t i = 0; i < n; i++) {
		for (uint64_t j = i + 1; j < n; j++) {
			flat[c] = observed[i * n + j];
			expected[c] = (double)draws / (double)cells;
			c++;
		}
	}
	assert_true(chi2(flat, expected, cells) < chi2_critical((unsigned)cells - 1));
	free(observed);
	free(flat);
	free(expected);
}

static void
pick_uniform_pairs(void **state)
{
	(void)state;
	check_subsets(10, 20000, 17); /* method A */
	check_subsets(27, 20000, 18); /* method D */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rng_known_answers),
		cmocka_unit_test(pick_invalid_args),
		cmocka_unit_test(pick_unseeded_rng_refused),
		cmocka_unit_test(pick_zero),
		cmocka_unit_test(pick_all),
		cmocka_unit_test(pick_shape),
		cmocka_unit_test(pick_huge_population),
		cmocka_unit_test(pick_deterministic),
		cmocka_unit_test(pick_uniform_dense),
		cmocka_unit_test(pick_uniform_sparse),
		cmocka_unit_test(pick_first_index_law),
		cmocka_unit_test(pick_uniform_pairs),
	};

	return cmocka_run_group_tests_name("pick", tests, NULL, NULL);
}
