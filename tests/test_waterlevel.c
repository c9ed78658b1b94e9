/* SPDX-License-Identifier: MIT */
/*
 * The water-level solver (lib/waterlevel.c), white box: wl_solve() against
 * cases worked out by hand, its edges (everything at lo, everything at hi,
 * fixed VMs left out), and two properties over random VM sets: the clamped
 * allocations at the level it returns add up to the total asked for, and
 * the level and every VM's allocation only grow as the total grows, and
 * the warm start (a guess at the level) never changes the answer.
 *
 * Units: the solver works on doubles; "bytes" below may be any unit.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reclaim-private.h"
#include "testutil.h"

static struct vm_work
vm(double shares, double active, double tau, double lo, double hi)
{
	struct vm_work w;

	memset(&w, 0, sizeof(w));
	w.shares = shares;
	w.active = active;
	w.inv_k = 1.0 - tau;
	w.lo = lo;
	w.hi = hi;
	return w;
}

static double
sum_targets(const struct vm_work *w, size_t n, double lambda)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (w[i].flags & VIEW_FIXED) ? 0.0 : wl_target(&w[i], lambda);
	return s;
}

/* The solver stops within a quarter byte (plus rounding) of the total. */
static void
assert_close(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.6f, want %.6f (tolerance %g)", got, want, tol);
}

static void
equal_shares_split_equally(void **state)
{
	struct vm_work w[2] = {vm(100, 0, 0.0, 0, 1000), vm(100, 0, 0.0, 0, 1000)};
	double lambda;

	(void)state;
	lambda = wl_solve(w, 2, 120.0, 0.0);
	/* tau = 0: allocation = lambda x shares, so 60 each at lambda 0.6. */
	assert_close(lambda, 0.6, 1e-9);
	assert_close(wl_target(&w[0], lambda), 60.0, 0.5);
	assert_close(wl_target(&w[1], lambda), 60.0, 0.5);
}

static void
shares_in_proportion_at_tau_zero(void **state)
{
	/* Active memory does not matter when idle pages cost the same. */
	struct vm_work w[3] = {vm(1, 500, 0.0, 0, 1000), vm(2, 0, 0.0, 0, 1000),
			       vm(5, 7, 0.0, 0, 1000)};
	double lambda;

	(void)state;
	lambda = wl_solve(w, 3, 800.0, 0.0);
	assert_close(lambda, 100.0, 1e-9);
	assert_close(wl_target(&w[0], lambda), 100.0, 0.5);
	assert_close(wl_target(&w[1], lambda), 200.0, 0.5);
	assert_close(wl_target(&w[2], lambda), 500.0, 0.5);
}

static void
idle_tax_moves_memory_to_the_active(void **state)
{
	/* Fig. 7 in MB: equal shares, 10 and 200 active, 358 to hand out,
	 * tau = 0.75. Both sit above their active memory, where an idle page
	 * costs k = 4: P = A + (lambda S - A) / k, so the gap is
	 * (1 - 1/k)(A2 - A1) = 142.5 and the pair is 107.75 / 250.25. */
	struct vm_work w[2] = {vm(1, 10, 0.75, 0, 256), vm(1, 200, 0.75, 0, 256)};
	double lambda;

	(void)state;
	lambda = wl_solve(w, 2, 358.0, 0.0);
	/* 2 x (lambda / 4) + (10 + 200) x 3/4 = 358 */
	assert_close(lambda, 401.0, 1e-6);
	assert_close(wl_target(&w[0], lambda), 107.75, 0.5);
	assert_close(wl_target(&w[1], lambda), 250.25, 0.5);

	/* tau = 0.5 (k = 2) halves the gap's tax: (1 - 1/2) x 190 = 95. */
	w[0].inv_k = w[1].inv_k = 0.5;
	lambda = wl_solve(w, 2, 358.0, 0.0);
	assert_close(wl_target(&w[1], lambda) - wl_target(&w[0], lambda), 95.0, 1.0);
}

static void
active_and_idle_pieces(void **state)
{
	/* VM0: 1 share, 20 active; VM1: 3 shares, none active; tau = 0.5.
	 * At lambda > 20: P0 = 20 + (lambda - 20) / 2, P1 = 3 lambda / 2, so
	 * 10 + 2 lambda = 100 gives lambda 45: 32.5 and 67.5. */
	struct vm_work w[2] = {vm(1, 20, 0.5, 0, 1000), vm(3, 0, 0.5, 0, 1000)};
	double lambda;

	(void)state;
	lambda = wl_solve(w, 2, 100.0, 0.0);
	assert_close(lambda, 45.0, 1e-6);
	assert_close(wl_target(&w[0], lambda), 32.5, 0.5);
	assert_close(wl_target(&w[1], lambda), 67.5, 0.5);

	/* A total small enough that VM0 stays within its active memory:
	 * P0 = lambda, P1 = 1.5 lambda, 2.5 lambda = 25 gives lambda 10. */
	lambda = wl_solve(w, 2, 25.0, 0.0);
	assert_close(lambda, 10.0, 1e-6);
	assert_close(wl_target(&w[0], lambda), 10.0, 0.5);
	assert_close(wl_target(&w[1], lambda), 15.0, 0.5);
}

static void
bounds_hold_and_the_rest_share(void **state)
{
	/* Four equal VMs, 400 to hand out. VM0's reservation (150) is above
	 * the level and VM1's upper bound (40) below it: they sit at those,
	 * and the other two split the remaining 210 equally. */
	struct vm_work w[4] = {vm(1, 0, 0.0, 150, 1000), vm(1, 0, 0.0, 0, 40),
			       vm(1, 0, 0.0, 0, 1000), vm(1, 0, 0.0, 0, 1000)};
	double lambda;

	(void)state;
	lambda = wl_solve(w, 4, 400.0, 0.0);
	assert_close(wl_target(&w[0], lambda), 150.0, 1e-9);
	assert_close(wl_target(&w[1], lambda), 40.0, 1e-9);
	assert_close(wl_target(&w[2], lambda), 105.0, 0.5);
	assert_close(wl_target(&w[3], lambda), 105.0, 0.5);
	for (int i = 0; i < 4; i++) {
		assert_true(wl_target(&w[i], lambda) >= w[i].lo);
		assert_true(wl_target(&w[i], lambda) <= w[i].hi);
	}
}

static void
totals_outside_the_bounds(void **state)
{
	struct vm_work w[3] = {vm(5, 10, 0.75, 30, 100), vm(1, 0, 0.0, 20, 50),
			       vm(2, 300, 0.95, 0, 400)};
	double lambda;

	(void)state;
	/* At or below the sum of reservations: level 0, everyone at lo. */
	assert_true(wl_solve(w, 3, 50.0, 0.0) == 0.0);
	assert_true(wl_solve(w, 3, 0.0, 0.0) == 0.0);
	for (int i = 0; i < 3; i++)
		assert_true(wl_target(&w[i], 0.0) == w[i].lo);

	/* At or above the sum of upper bounds: a level that puts all at hi. */
	lambda = wl_solve(w, 3, 550.0, 0.0);
	for (int i = 0; i < 3; i++)
		assert_true(wl_target(&w[i], lambda) == w[i].hi);
	lambda = wl_solve(w, 3, 1e12, 0.0);
	for (int i = 0; i < 3; i++)
		assert_true(wl_target(&w[i], lambda) == w[i].hi);
}

static void
fixed_vms_are_left_out(void **state)
{
	struct vm_work w[3] = {vm(1, 0, 0.0, 0, 1000), vm(1, 0, 0.0, 500, 500),
			       vm(1, 0, 0.0, 0, 1000)};
	double lambda;

	(void)state;
	w[1].flags |= VIEW_FIXED;
	lambda = wl_solve(w, 3, 100.0, 0.0);
	assert_close(wl_target(&w[0], lambda), 50.0, 0.5);
	assert_close(wl_target(&w[2], lambda), 50.0, 0.5);
	/* Everything fixed: nothing to solve, so everything sits at lo. */
	w[0].flags |= VIEW_FIXED;
	w[2].flags |= VIEW_FIXED;
	assert_true(wl_solve(w, 3, 100.0, 0.0) == 0.0);
	assert_true(wl_solve(w, 0, 100.0, 0.0) == 0.0);
}


static double
uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(tu_next(s) >> 11) / 9007199254740992.0);
}

#define RANDOM_VMS 40

static void
random_set(struct vm_work *w, size_t n, uint64_t *s, double *sum_lo, double *sum_hi)
{
	static const double taus[] = {0.0, 0.5, 0.75, 0.95};

	*sum_lo = *sum_hi = 0.0;
	for (size_t i = 0; i < n; i++) {
		double hi = floor(uniform(s, 1.0, 4e9));
		double lo = tu_next(s) % 3 ? 0.0 : floor(uniform(s, 0.0, hi));

		w[i] = vm(floor(uniform(s, 1.0, 1e5)), floor(uniform(s, 0.0, hi * 1.2)),
			  taus[tu_next(s) % 4], lo, hi);
		if (tu_next(s) % 8 == 0) {
			w[i].flags |= VIEW_FIXED;
			continue;
		}
		*sum_lo += w[i].lo;
		*sum_hi += w[i].hi;
	}
}

static void
level_meets_the_total(void **state)
{
	uint64_t s = 3;

	(void)state;
	for (int trial = 0; trial < 2000; trial++) {
		struct vm_work w[RANDOM_VMS];
		size_t n = 1 + tu_next(&s) % RANDOM_VMS;
		double sum_lo, sum_hi, total, lambda;

		random_set(w, n, &s, &sum_lo, &sum_hi);
		if (!(sum_hi > sum_lo))
			continue;
		total = uniform(&s, sum_lo, sum_hi);
		lambda = wl_solve(w, n, total, 0.0);
		/* The solver's own tolerance is a quarter byte plus 1e-15 of
		 * the total; allow one byte. */
		assert_close(sum_targets(w, n, lambda), total, 1.0);
	}
}

static void
level_grows_with_total(void **state)
{
	uint64_t s = 11;

	(void)state;
	for (int trial = 0; trial < 200; trial++) {
		struct vm_work w[RANDOM_VMS];
		double prev_target[RANDOM_VMS];
		size_t n = 1 + tu_next(&s) % RANDOM_VMS;
		double sum_lo, sum_hi, prev_lambda = -1.0;

		random_set(w, n, &s, &sum_lo, &sum_hi);
		for (size_t i = 0; i < n; i++)
			prev_target[i] = -1.0;
		for (int step = 0; step <= 64; step++) {
			double total = sum_lo + (sum_hi - sum_lo) * step / 64.0;
			double lambda = wl_solve(w, n, total, 0.0);

			assert_true(lambda >= prev_lambda);
			prev_lambda = lambda;
			for (size_t i = 0; i < n; i++) {
				double t = wl_target(&w[i], lambda);

				/* Up to the solver's tolerance, no VM loses
				 * memory when there is more to hand out. */
				assert_true(t >= prev_target[i] - 1.0);
				prev_target[i] = t;
			}
		}
	}
}

/* The warm start (last tick's level) changes the path, never the answer:
 * whatever the guess, even a nonsensical one, the same targets. */
static void
any_guess_same_level(void **state)
{
	uint64_t s = 29;

	(void)state;
	for (int trial = 0; trial < 500; trial++) {
		struct vm_work w[RANDOM_VMS];
		size_t n = 1 + tu_next(&s) % RANDOM_VMS;
		double sum_lo, sum_hi, total, cold;

		random_set(w, n, &s, &sum_lo, &sum_hi);
		if (!(sum_hi > sum_lo))
			continue;
		total = uniform(&s, sum_lo, sum_hi);
		cold = wl_solve(w, n, total, 0.0);
		{
			const double guesses[] = {-1.0, NAN, INFINITY, -INFINITY, 1e300, 1e-300,
						  cold, cold * (1.0 + 1e-9), cold * 0.5,
						  cold * 2.0, cold * 1e6};

			for (size_t g = 0; g < sizeof(guesses) / sizeof(guesses[0]); g++) {
				double warm = wl_solve(w, n, total, guesses[g]);

				assert_close(sum_targets(w, n, warm), total, 1.0);
				for (size_t i = 0; i < n; i++)
					if (!(w[i].flags & VIEW_FIXED))
						assert_close(wl_target(&w[i], warm),
							     wl_target(&w[i], cold), 1.0);
			}
		}
	}
}

/* Groups of identical VMs (one instance type, many VMs), as the level's
 * solver sees them in reclaim_decide(): its scratch folds the VMs that stay
 * on one piece into a line. */
struct group {
	size_t count;
	double shares, inv_k, active;
	uint64_t lo, hi;
};

static size_t
fill_groups(struct vm_work *w, const struct group *g, size_t ng, struct level_sums *ls)
{
	size_t n = 0;

	memset(ls, 0, sizeof(*ls));
	for (size_t k = 0; k < ng; k++) {
		for (size_t i = 0; i < g[k].count; i++, n++) {
			memset(&w[n], 0, sizeof(w[n]));
			w[n].shares = g[k].shares;
			w[n].inv_k = g[k].inv_k;
			w[n].active = g[k].active;
			w[n].lo = g[k].lo;
			w[n].hi = w[n].base = g[k].hi;
			wl_add(ls, &w[n]);
		}
	}
	return n;
}

/* The solver's own tolerance: a quarter byte plus 1e-15 of the total. */
static void
assert_meets_total(const struct vm_work *w, size_t n, double lambda, double total, double top)
{
	double g, slope;

	assert_true(lambda >= 0.0 && lambda <= top);
	wl_evaluate(w, n, lambda, &g, &slope);
	if (!(fabs(g - total) <= 0.25 + total * 1e-15))
		fail_msg("level %.17g: the VMs hold %.17g, want %.17g", lambda, g, total);
}

/*
 * 247 VMs of one type (1.1 to 1.8 PB each, tau 0.5): with everyone on the
 * same piece the bracket soon narrows to where regula falsi, computed in
 * doubles, lands on its own end; then the solver bisects, and the level
 * meets the total within the tolerance (falling back to the bracket's end
 * instead leaves it 320 bytes off, beyond the 301 allowed).
 */
static void
bisection_when_regula_falsi_stalls(void **state)
{
	static struct vm_work w[247];
	static uint32_t scratch[247];
	const struct group g = {247, 2042954.0, 0.5, 0.0, 1098632812500000ull, 1802007547330445ull};
	struct level_sums ls;
	size_t n = fill_groups(w, &g, 1, &ls);
	double total = 3.0140362703609696e+17, slope, lambda;

	(void)state;
	lambda = wl_solve_scratch(w, n, total, 0.0, &ls, scratch, &slope);
	assert_meets_total(w, n, lambda, total, ls.top);
}

/*
 * 1285 VMs of three types, up to 10^15 bytes, one of them with 5e17
 * shares and an idle tax of 1 - 2^-53, starting from the last tick's
 * level: the line the solver folds the VMs into carries more rounding
 * than its tolerance, so no step ever meets it, and the solver stops at
 * its iteration limit (200 passes, each over the few VMs not folded). The
 * level it stops at still holds what is asked within the tolerance,
 * counted VM by VM.
 */
static void
iteration_limit_ends_a_solve(void **state)
{
	static struct vm_work w[1285];
	static uint32_t scratch[1285];
	const struct group g[3] = {
		{329, 5.0285559148167123e+17, 1.1102230246251565e-16, 0.0, 6126191708ull,
		 1073143480261854ull},
		{473, 6906.0, 1.0000000000287557e-06, 1098632812500000.0, 757815779030ull,
		 667339891986510ull},
		{483, 2243666.0, 0.5, 0.0, 123102048774628ull, 681779388680205ull},
	};
	struct level_sums ls;
	size_t n = fill_groups(w, g, 3, &ls);
	double total = 59818751938697712.0, slope, lambda;

	(void)state;
	lambda = wl_solve_scratch(w, n, total, 109732953.81278056, &ls, scratch, &slope);
	assert_meets_total(w, n, lambda, total, ls.top);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equal_shares_split_equally),
		cmocka_unit_test(shares_in_proportion_at_tau_zero),
		cmocka_unit_test(idle_tax_moves_memory_to_the_active),
		cmocka_unit_test(active_and_idle_pieces),
		cmocka_unit_test(bounds_hold_and_the_rest_share),
		cmocka_unit_test(totals_outside_the_bounds),
		cmocka_unit_test(fixed_vms_are_left_out),
		cmocka_unit_test(level_meets_the_total),
		cmocka_unit_test(level_grows_with_total),
		cmocka_unit_test(any_guess_same_level),
		cmocka_unit_test(bisection_when_regula_falsi_stalls),
		cmocka_unit_test(iteration_limit_ends_a_solve),
	};

	return cmocka_run_group_tests_name("waterlevel", tests, NULL, NULL);
}
