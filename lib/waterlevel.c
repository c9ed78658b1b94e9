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
 * found with Newton steps on G inside a shrinking bracket, falling back to
 * regula falsi (with the Illinois fix against a stuck end) and then
 * bisection when a step leaves the bracket: each step is one pass over the
 * VMs, and once a step lands on the right linear piece it is exact. Typical
 * hosts take five to ten passes.
 */
#include <math.h>

#include "reclaim-private.h"

double
wl_target(const struct vm_work *w, double lambda)
{
	double t = wl_inverse(lambda, w->shares, w->active, w->inv_k);

	if (t < (double)w->lo)
		return (double)w->lo;
	if (t > (double)w->hi)
		return (double)w->hi;
	return t;
}

/* Level at which a VM reaches its upper bound. */
static double
lambda_at_hi(const struct vm_work *w)
{
	double hi = (double)w->hi;

	if (hi <= w->active)
		return hi / w->shares;
	return (w->active + (hi - w->active) / w->inv_k) / w->shares;
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
		if (t <= (double)v->lo) {
			t = (double)v->lo;
			dt = 0.0;
		} else if (t >= (double)v->hi) {
			t = (double)v->hi;
			dt = 0.0;
		}
		g += t;
		d += dt;
	}
	*sum = g;
	*slope = d;
}

double
wl_solve(const struct vm_work *w, size_t n, double total, double guess)
{
	double sum_lo = 0.0, sum_hi = 0.0, a = 0.0, b = 0.0, lambda, g, slope, tol, ga, gb;
	int iter, side = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		double l;

		if (v->flags & VIEW_FIXED)
			continue;
		sum_lo += (double)v->lo;
		sum_hi += (double)v->hi;
		l = lambda_at_hi(v);
		if (l > b)
			b = l;
	}
	if (total <= sum_lo)
		return 0.0;
	if (total >= sum_hi)
		return b;

	tol = 0.25 + total * 1e-15;
	ga = sum_lo;
	gb = sum_hi;
	/* Start from the last tick's level when it is inside the bracket: the
	 * level moves little between ticks. */
	lambda = guess > a && guess < b ? guess : a + (total - ga) * (b - a) / (gb - ga);
	for (iter = 0; iter < 200; iter++) {
		double next;

		wl_evaluate(w, n, lambda, &g, &slope);
		if (fabs(g - total) <= tol)
			break;
		if (g < total) {
			a = lambda;
			ga = g;
			if (side > 0)
				gb = total + 0.5 * (gb - total); /* Illinois */
			side = 1;
		} else {
			b = lambda;
			gb = g;
			if (side < 0)
				ga = total - 0.5 * (total - ga);
			side = -1;
		}
		next = slope > 0.0 ? lambda + (total - g) / slope : a;
		if (!(next > a && next < b))
			next = a + (total - ga) * (b - a) / (gb - ga);
		if (!(next > a && next < b))
			next = 0.5 * (a + b);
		if (next == lambda || !(b > a))
			break;
		lambda = next;
	}
	return lambda;
}
