/* SPDX-License-Identifier: MIT */
/*
 * The idle memory tax and the water level (design.md section 3).
 *
 * A VM holding P bytes of which A are active pays for its memory at the price
 * rho = S / (A + k (P - A)), k = 1 / (1 - tau). Revoking one page at a time
 * from the VM with the lowest rho converges to a level: every VM that gave
 * memory ends at the same rho, or at a bound. With lambda = 1 / rho (bytes of
 * "cost" per share), the allocation a VM ends with at level lambda is the
 * inverse of its cost function: c = lambda S; P = c if c <= A, else
 * A + (c - A) / k; then clamped to its bounds [lo, hi].
 *
 * The sum of clamped allocations G(lambda) is continuous, piecewise linear
 * and non-decreasing, so the level where G equals the memory to hand out is
 * found with Newton steps on G, safeguarded by bisection on a bracket: each
 * step is one pass over the VMs, and once the step lands on the right linear
 * piece it is exact. Typical hosts take a handful of passes.
 */
#include <math.h>

#include "reclaim-private.h"

double
wl_target(const struct vm_work *w, double lambda)
{
	double t = wl_inverse(lambda, w->shares, w->active, w->inv_k);

	if (t < w->lo)
		return w->lo;
	if (t > w->hi)
		return w->hi;
	return t;
}

/* Level at which a VM reaches its upper bound. */
static double
lambda_at_hi(const struct vm_work *w)
{
	if (w->hi <= w->active)
		return w->hi / w->shares;
	return (w->active + (w->hi - w->active) / w->inv_k) / w->shares;
}

void
wl_evaluate(const struct vm_work *w, size_t n, double lambda, double *sum, double *slope)
{
	double g = 0.0, d = 0.0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		double c, t, dt;

		if (v->flags & VIEW_FIXED)
			continue;
		c = lambda * v->shares;
		if (c <= v->active) {
			t = c;
			dt = v->shares;
		} else {
			t = v->active + (c - v->active) * v->inv_k;
			dt = v->shares * v->inv_k;
		}
		if (t <= v->lo) {
			t = v->lo;
			dt = 0.0;
		} else if (t >= v->hi) {
			t = v->hi;
			dt = 0.0;
		}
		g += t;
		d += dt;
	}
	*sum = g;
	*slope = d;
}

double
wl_solve(const struct vm_work *w, size_t n, double total)
{
	double sum_lo = 0.0, sum_hi = 0.0, a = 0.0, b = 0.0, lambda, g, slope, tol;
	int iter, side = 0, streak = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		double l;

		if (v->flags & VIEW_FIXED)
			continue;
		sum_lo += v->lo;
		sum_hi += v->hi;
		l = lambda_at_hi(v);
		if (l > b)
			b = l;
	}
	if (total <= sum_lo)
		return 0.0;
	if (total >= sum_hi)
		return b;

	tol = 0.25 + total * 1e-15;
	lambda = b * (total - sum_lo) / (sum_hi - sum_lo);
	for (iter = 0; iter < 200; iter++) {
		double next;

		wl_evaluate(w, n, lambda, &g, &slope);
		if (fabs(g - total) <= tol)
			break;
		if (g < total)
			a = lambda;
		else
			b = lambda;
		/* Newton stuck on one side of the root means a kink: bisect. */
		streak = (g < total) == (side > 0) ? streak + 1 : 0;
		side = g < total ? 1 : -1;
		next = slope > 0.0 ? lambda + (total - g) / slope : 0.5 * (a + b);
		if (streak >= 3 || !(next > a && next < b))
			next = 0.5 * (a + b);
		if (next == lambda || !(b > a))
			break;
		lambda = next;
	}
	return lambda;
}
