/* SPDX-License-Identifier: MIT */
/*
 * The idle memory tax, each VM's bounds, and the water level.
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

/* Level at which a VM reaches its upper bound. */
static double
lambda_at_hi(const struct vm_work *w)
{
	double hi = (double)w->hi;

	if (hi <= w->active)
		return hi / w->shares;
	return (w->active + (hi - w->active) / w->inv_k) / w->shares;
}

/*
 * A VM's bounds on the level. Reclaiming, a VM gives at most down to its
 * reservation, and where only its balloon (and compression cache) can take
 * memory, at most what they can still take; it grows only when rebalancing
 * lets it. What the guest's own reports keep its balloon from taking (its
 * free memory and swap, its rising demand, stale stats) still counts as
 * its share: other VMs do not give more for it, and the host swaps it in
 * the hard state. Only where this VM cannot be host-swapped at all do
 * others make up for it, since nothing else can. In deflation a VM holding
 * a balloon may grow back into it. Otherwise (holding above the high
 * threshold, where nothing is taken but over a limit), and for VMs with no
 * shares, it stays where it is (VIEW_FIXED).
 */
void
wl_bounds(struct vm_work *w, const struct vm_room *vr, struct sums *s,
	  const struct reclaim_config *cfg, const struct tick *t, const struct reclaim_vm_stats *vm)
{
	uint64_t max = vm_max(vm), u = min_u64(w->projected, max), limit_excess = w->limit_excess;
	double tau = (vm->flags & RECLAIM_VM_IDLE_TAX) ? vm->idle_tax : cfg->idle_tax;

	w->shares = (double)vm->shares;
	w->active = (double)min_u64(vm->active_bytes, vm->consumed_bytes);
	w->inv_k = 1.0 - tau;
	w->base = u;

	if (mode_reclaims(t->mode)) {
		bool balloon_only = t->mode == MODE_BALLOON || (w->flags & VIEW_NO_SWAP);
		uint64_t hi = u, lo = min_u64(vm->reservation_bytes, u);
		uint64_t deliver = UINT64_MAX; /* what its balloon (and cache) can take */

		if (balloon_only &&
		    !((cfg->flags & RECLAIM_CONFIG_SOFT_SWAP) && !view_can_balloon(w) &&
		      t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_SOFT)) {
			uint64_t cap = (w->flags & VIEW_NO_SWAP) ? w->cap : vr->fair_cap;
			/* (what it holds, as far as its balloon can hold it: a
			 * guest that says its balloon is fuller than it can be
			 * still owes its share, which its balloon may not take;
			 * and so does one whose balloon does not answer) */
			uint64_t room = (w->flags & VIEW_DRIVER) &&
						(!(w->flags & VIEW_NO_SWAP) || view_can_balloon(w))
						? sat_sub(cap, sat_sub(w->held, vr->untrue))
						: 0;
			uint64_t floor;

			if (w->flags & VIEW_NO_SWAP)
				room = sat_add(room, w->compress_room);
			floor = sat_sub(u, sat_sub(room, limit_excess));
			deliver = sat_sub(view_can_balloon(w) ? sat_sub(w->cap, w->held) : 0,
					  limit_excess);
			if (w->flags & VIEW_NO_SWAP)
				deliver = sat_add(deliver, w->compress_room);
			if (floor > lo) {
				lo = floor;
				w->flags |= VIEW_BALLOON_BOUND;
			}
		}
		/* Swap can take only pages the VM holds now, the balloon only
		 * its room: what a balloon deflating to its cap gives back
		 * cannot be taken again in the same tick. */
		lo = max_u64(lo, sat_sub(u, sat_sub(vr->can, limit_excess)));
		/* Rebalancing (ESX moves memory from low to high prices): below
		 * the high threshold, in the balloon states, a VM short of memory
		 * may grow back into its balloon. Only a VM whose fresh guest
		 * stats show it short (free memory within the guest margin): one
		 * that does not use what it has would leave the memory idle while
		 * others are ballooned for it. */
		if (t->mode == MODE_BALLOON && limit_excess == 0 && view_can_balloon(w) &&
		    !stats_stale(cfg, vm, t->now) && vm->guest_free_bytes <= vr->margin)
			hi = min_u64(max, sat_add(u, w->held));
		w->lo = lo;
		w->hi = hi;
		if (hi > u && vm->shares > 0 && lo != hi)
			s->grows = true;
		if (vm->shares > 0 && lo != hi && u > lo) {
			s->on++;
			w->flags |= VIEW_ON;
		}
		s->reclaimable += min_u64(u - lo, deliver);
		if (vm->shares == 0 || lo == hi) {
			w->flags |= VIEW_FIXED;
			s->fixed_reclaim += u - lo;
		} else {
			s->u_free += u;
			wl_add(&s->level, w);
		}
	} else {
		if (t->mode == MODE_DEFLATE && limit_excess == 0 && w->held > 0 && vm->shares > 0 &&
		    u < max && (w->flags & VIEW_DRIVER)) {
			w->lo = u;
			w->hi = min_u64(max, sat_add(u, w->held));
			s->lo_free += (double)w->lo;
			wl_add(&s->level, w);
		} else {
			w->lo = w->hi = u;
			w->flags |= VIEW_FIXED;
		}
		s->short_want = sat_add(s->short_want, w->short_give);
	}
}

uint64_t
wl_give_short(struct vm_work *w, size_t n, struct sums *s, uint64_t pool, uint64_t page)
{
	uint64_t given = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct vm_work *v = &w[i];
		uint64_t g;

		if (!v->short_give)
			continue;
		/* (view_vm kept it within the balloon and the VM's limit) */
		g = min_u64(v->short_give, pool);
		pool -= g;
		given += g;
		v->short_give = g;
		v->lo += g;
		if (v->flags & VIEW_FIXED)
			v->hi = v->lo;
		else
			s->lo_free += (double)g;
	}
	if (given) { /* bounds moved: the level's sums again */
		s->level = (struct level_sums){0};
		for (i = 0; i < n; i++)
			if (!(w[i].flags & VIEW_FIXED))
				wl_add(&s->level, &w[i]);
	}
	return given;
}

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

/* A VM's clamped allocation, and its slope, at the level where its cost
 * is @p c (lambda times its shares) and its allocation before the clamp
 * is @p x (wl_inverse()). */
static inline void
point_at(const struct vm_work *v, double c, double x, double *t, double *dt)
{
	double lo = (double)v->lo, hi = (double)v->hi;
	double s = c <= v->active ? v->shares : v->shares * v->inv_k;

	/* Clamped by min and max, not branches: which VMs sit at a bound
	 * follows their numbers. (x is finite and lo <= hi, so this is the
	 * clamp exactly, both ends included.) */
	*dt = s * (double)((x > lo) & (x < hi));
	x = x > lo ? x : lo;
	*t = x < hi ? x : hi;
}

/* A VM's clamped allocation at lambda, and its slope there. */
static inline void
point(const struct vm_work *v, double lambda, double *t, double *dt)
{
	point_at(v, lambda * v->shares, wl_inverse(lambda, v->shares, v->active, v->inv_k), t,
		 dt);
}

void
wl_evaluate(const struct vm_work *w, size_t n, double lambda, double *sum, double *slope)
{
	double g = 0.0, d = 0.0;
	size_t i;

	for (i = 0; i < n; i++) {
		double t, dt;

		if (w[i].flags & VIEW_FIXED)
			continue;
		point(&w[i], lambda, &t, &dt);
		g += t;
		d += dt;
	}
	*sum = g;
	*slope = d;
}

/* Which linear piece of its allocation curve a VM is on at lambda:
 * 0 held at lo, 1 all active, 2 idle taxed, 3 held at hi. Non-decreasing
 * in lambda. */
static int
piece_at(const struct vm_work *v, double c, double t)
{
	int p = c <= v->active ? 1 : 2;

	/* (selects: as in point()) */
	p = t >= (double)v->hi ? 3 : p;
	return t <= (double)v->lo ? 0 : p;
}

static int
piece(const struct vm_work *v, double lambda)
{
	return piece_at(v, lambda * v->shares, wl_inverse(lambda, v->shares, v->active, v->inv_k));
}

/* Adds a VM that stays on piece @p p to the line c0 + c1 lambda. */
static void
fold_one(const struct vm_work *v, int p, double *c0, double *c1)
{
	switch (p) {
	case 0:
		*c0 += (double)v->lo;
		break;
	case 3:
		*c0 += (double)v->hi;
		break;
	case 1:
		*c1 += v->shares;
		break;
	default:
		*c0 += v->active * (1.0 - v->inv_k);
		*c1 += v->shares * v->inv_k;
		break;
	}
}

/* VM @p v (number @p idx), on piece @p p at one end of a bracket: folded
 * into the line when its piece is the same at the other end @p b, else
 * listed as the @p m-th in @p active; returns the length of the list. */
static inline size_t
fold_or_list(const struct vm_work *v, uint32_t idx, int p, double b, uint32_t *active, size_t m,
	     double *c0, double *c1)
{
	if (p != piece(v, b))
		active[m++] = idx;
	else
		fold_one(v, p, c0, c1);
	return m;
}

/*
 * Folds every VM whose piece is the same at both ends of [a, b] into one
 * line (it stays linear inside the bracket) and lists the others in
 * @p active. Later steps only walk that list, which is folded again as the
 * bracket narrows.
 */
static size_t
fold(const struct vm_work *w, size_t n, double a, double b, uint32_t *active, double *c0,
     double *c1)
{
	size_t i, m = 0;

	*c0 = *c1 = 0.0;
	for (i = 0; i < n; i++)
		if (!(w[i].flags & VIEW_FIXED))
			m = fold_or_list(&w[i], (uint32_t)i, piece(&w[i], a), b, active, m, c0, c1);
	return m;
}

/*
 * wl_evaluate() at @p lambda and fold() for the bracket [a, b] in one pass,
 * each summing in the same order as it does alone: the solver's second
 * step, which must read every VM anyway, prepares the bracket it expects
 * next. One end of the bracket is @p lambda itself, whose piece follows
 * from the allocation the evaluation computes anyway.
 */
static size_t
evaluate_fold(const struct vm_work *w, size_t n, double lambda, double a, double b,
	      uint32_t *active, double *c0, double *c1, double *sum, double *slope)
{
	double g = 0.0, d = 0.0, other = lambda == a ? b : a;
	size_t i, m = 0;

	*c0 = *c1 = 0.0;
	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		double c, x, t, dt;

		if (v->flags & VIEW_FIXED)
			continue;
		c = lambda * v->shares;
		x = wl_inverse(lambda, v->shares, v->active, v->inv_k);
		point_at(v, c, x, &t, &dt);
		g += t;
		d += dt;
		m = fold_or_list(v, (uint32_t)i, piece_at(v, c, x), other, active, m, c0, c1);
	}
	*sum = g;
	*slope = d;
	return m;
}

static size_t
refold(const struct vm_work *w, double a, double b, uint32_t *active, size_t m, double *c0,
       double *c1)
{
	size_t j, k = 0;

	/* (entry k is written once entry j >= k has been read) */
	for (j = 0; j < m; j++)
		k = fold_or_list(&w[active[j]], active[j], piece(&w[active[j]], a), b, active, k, c0,
				 c1);
	return k;
}

static void
evaluate_list(const struct vm_work *w, const uint32_t *list, size_t m, double c0, double c1,
	      double lambda, double *sum, double *slope)
{
	double g = c0 + c1 * lambda, d = c1;
	size_t j;

	for (j = 0; j < m; j++) {
		double t, dt;

		point(&w[list[j]], lambda, &t, &dt);
		g += t;
		d += dt;
	}
	*sum = g;
	*slope = d;
}

void
wl_add(struct level_sums *ls, const struct vm_work *w)
{
	double l = lambda_at_hi(w);

	ls->lo += (double)w->lo;
	ls->hi += (double)w->hi;
	if (l > ls->top)
		ls->top = l;
	if (ls->guessed) { /* as wl_evaluate() adds it, in the same order */
		double t, dt;

		point(w, ls->guess, &t, &dt);
		ls->at_guess += t;
		ls->slope_at_guess += dt;
	}
}

double
wl_solve(const struct vm_work *w, size_t n, double total, double guess)
{
	struct level_sums ls = {0};
	double slope;
	size_t i;

	for (i = 0; i < n; i++)
		if (!(w[i].flags & VIEW_FIXED))
			wl_add(&ls, &w[i]);
	return wl_solve_scratch(w, n, total, guess, &ls, NULL, &slope);
}

/*
 * With @p scratch (n entries), once the bracket has narrowed the VMs that
 * stay on one piece inside it are folded into a line and only the rest are
 * walked: a full pass or two, then steps over a handful of VMs. From the
 * last tick's level (whose sums @p ls already holds), the first step
 * usually lands on the other side of the solution, so the pass that
 * evaluates it also folds for the bracket between the two: when it does
 * land there, one full pass is all it takes.
 */
double
wl_solve_scratch(const struct vm_work *w, size_t n, double total, double guess,
		 const struct level_sums *ls, uint32_t *scratch, double *slope_out)
{
	double sum_lo = ls->lo, sum_hi = ls->hi, a = 0.0, b = ls->top, lambda, g, slope, tol, ga,
	       gb;
	double c0 = 0.0, c1 = 0.0;
	/* the bracket folded ahead (spec), and its line */
	double spec_a = 0.0, spec_b = 0.0, spec_c0 = 0.0, spec_c1 = 0.0;
	size_t m = 0, spec_m = 0;
	bool folded = false, from_guess = false, spec = false;
	int iter, side = 0, same = 0;

	*slope_out = 0.0;
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

		if (folded) {
			evaluate_list(w, scratch, m, c0, c1, lambda, &g, &slope);
		} else if (iter == 0 && ls->guessed && lambda == ls->guess) {
			g = ls->at_guess;
			slope = ls->slope_at_guess;
			from_guess = true;
		} else if (iter == 1 && from_guess && scratch) {
			spec_a = fmin(ls->guess, lambda);
			spec_b = fmax(ls->guess, lambda);
			spec_m = evaluate_fold(w, n, lambda, spec_a, spec_b, scratch, &spec_c0,
					       &spec_c1, &g, &slope);
			spec = true;
		} else {
			wl_evaluate(w, n, lambda, &g, &slope);
		}
		*slope_out = slope;
		if (fabs(g - total) <= tol)
			break;
		if (g < total) {
			a = lambda;
			ga = g;
			same = side > 0 ? same + 1 : 0;
			if (side > 0)
				gb = total + 0.5 * (gb - total); /* Illinois */
			side = 1;
		} else {
			b = lambda;
			gb = g;
			same = side < 0 ? same + 1 : 0;
			if (side < 0)
				ga = total - 0.5 * (total - ga);
			side = -1;
		}
		/* Newton; when it keeps landing on one side (kinks ahead bend
		 * G away), lengthen the step geometrically; outside the bracket,
		 * regula falsi with the stale end's value halved (Illinois). */
		next = slope > 0.0 ? lambda + (total - g) / slope * (double)(1u << (same < 16 ? same : 16))
				   : a;
		if (!(next > a && next < b))
			next = a + (total - ga) * (b - a) / (gb - ga);
		if (!(next > a && next < b))
			next = 0.5 * (a + b);
		if (next == lambda || !(b > a))
			break;
		lambda = next;
		if (scratch && !folded && iter >= 1) {
			if (spec && a == spec_a && b == spec_b) {
				m = spec_m;
				c0 = spec_c0;
				c1 = spec_c1;
			} else {
				m = fold(w, n, a, b, scratch, &c0, &c1);
			}
			folded = true;
		} else if (folded) {
			m = refold(w, a, b, scratch, m, &c0, &c1);
		}
	}
	return lambda;
}
