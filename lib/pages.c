/* SPDX-License-Identifier: MIT */
/*
 * The water level in whole pages: exactly what revoking one page at a time
 * from the lowest-priced VM gives (the paper's rule), computed without
 * walking the pages; and, where the level also gives (rebalancing), or
 * where doubles cannot resolve single pages, targets rounded to whole pages
 * with the missing pages taken from the cheapest VMs.
 *
 * Page j of VM i (counted from its allocation `base` down) is revoked at the
 * price S / cost(base - (j-1) page). Write mu = cost / S, the inverse price:
 * the rule revokes pages in decreasing mu (ties: lowest VM index) until the
 * need is met. The continuous level lambda* (waterlevel.c) already revokes
 * every page with mu > lambda*, which is at least the need; so the pages the
 * rule takes are those with mu above some cutoff mu_d >= lambda*. A bracket
 * [lambda*, hi] holds at most about one page per VM more than needed; radix
 * refinement over the bit patterns of mu (non-negative doubles order like
 * their bits) finds mu_d in a few passes, each over the pages inside the
 * bracket only. Nothing is allocated; the histogram lives on the stack.
 */
#include <math.h>
#include <string.h>

#include "reclaim-private.h"

#define BUCKETS 2048

/* About as many buckets as keys: a small host need not scan 2048. */
static size_t
buckets_for(size_t n)
{
	size_t nb;

	for (nb = 16; nb < BUCKETS && nb < n; nb <<= 1)
		;
	return nb;
}

bool
radix_round(struct radix *r, size_t buckets)
{
	if (r->hi <= r->lo)
		return false;
	r->shift = 0;
	while (((r->hi - r->lo) >> r->shift) >= buckets)
		r->shift++;
	r->used = (size_t)((r->hi - r->lo) >> r->shift) + 1;
	return true;
}

uint64_t
radix_narrow(struct radix *r, const uint64_t *hist, uint64_t want, bool from_top)
{
	uint64_t acc = 0;
	size_t b;

	if (from_top) {
		for (b = r->used; b-- > 0;) {
			if (acc + hist[b] >= want || b == 0)
				break;
			acc += hist[b];
		}
	} else {
		for (b = 0; b + 1 < r->used && acc + hist[b] < want; b++)
			acc += hist[b];
	}
	r->lo += (uint64_t)b << r->shift;
	r->hi = min_u64(r->hi, r->lo + (((uint64_t)1 << r->shift) - 1));
	return acc;
}

/* Pages the VM may give at all (the last one may be partial). */
static uint64_t
max_pages(const struct vm_work *w, uint64_t page)
{
	uint64_t span = w->base - w->lo;

	return span / page + (span % page != 0);
}

static double
page_mu(const struct vm_work *w, uint64_t j, uint64_t page)
{
	double a = (double)(w->base - (j - 1) * page);

	return wl_cost(a, w->active, w->inv_k) / w->shares;
}

/* Bytes given by the first j pages. */
static uint64_t
page_bytes(const struct vm_work *w, uint64_t j, uint64_t page)
{
	uint64_t span = w->base - w->lo;

	return j >= span / page + 1 ? span : j * page;
}

/* Number of pages with mu > x (strict) or mu >= x. mu falls with j, so the
 * answer is a prefix; the closed form is checked against mu itself. */
static uint64_t
pages_above(const struct vm_work *w, double x, bool strict, uint64_t page)
{
	uint64_t m = max_pages(w, page), j;
	double inv = wl_inverse(x, w->shares, w->active, w->inv_k);
	double room = (double)w->base - inv;

	if (room <= 0.0)
		j = 0;
	else
		j = (uint64_t)ceil(room / (double)page);
	if (j > m)
		j = m;
	/* A step or two corrects rounding; more would mean doubles cannot
	 * tell the pages apart, and the bounded window check catches that. */
	for (int k = 0; k < 8 && j < m &&
			(strict ? page_mu(w, j + 1, page) > x : page_mu(w, j + 1, page) >= x);
	     k++)
		j++;
	for (int k = 0; k < 8 && j > 0 && !(strict ? page_mu(w, j, page) > x : page_mu(w, j, page) >= x);
	     k++)
		j--;
	return j;
}

static bool
on_level(const struct vm_work *w)
{
	return !(w->flags & VIEW_FIXED) && w->shares > 0.0 && w->base > w->lo;
}

/* Bytes revoked by taking every page with mu > x. */
static uint64_t
bytes_above(const struct vm_work *w, size_t n, double x, uint64_t page)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (on_level(&w[i]))
			sum += page_bytes(&w[i], pages_above(&w[i], x, true, page), page);
	return sum;
}

/*
 * The decisions array doubles as scratch while the cutoff is refined: for
 * each VM, excess_bytes and balloon_cap_bytes hold the first and last of its
 * pages still inside the window (finish() overwrites both afterwards).
 */
static struct reclaim_decision *
at(struct reclaim_decision *out, size_t dsize, size_t i)
{
	return (void *)((char *)out + i * dsize);
}

static bool
pages_revoke(const struct vm_work *w, size_t n, double lambda, uint64_t need, uint64_t page,
	     struct reclaim_decision *out, size_t dsize)
{
	uint64_t window = 0, total;
	uint64_t hist[BUCKETS], rem, sure;
	double x_lo = lambda, x_hi, step, g, slope;
	struct radix r;
	size_t i, nb = buckets_for(n);
	int tries;

	/* Bracket: x_hi revokes less than the need. Start one page per VM
	 * past the level along its slope, widen until it holds. */
	wl_evaluate(w, n, lambda, &g, &slope);
	step = slope > 0.0 ? (double)(n + 1) * (double)page / slope : fabs(lambda) + 1.0;
	x_hi = x_lo + step;
	sure = bytes_above(w, n, x_hi, page);
	for (tries = 0; tries < 64 && sure >= need; tries++) {
		step *= 4.0;
		x_hi = x_lo + step;
		sure = bytes_above(w, n, x_hi, page);
	}
	rem = need - sure;

	/* Each VM's pages with mu in (x_lo, x_hi]: a run of page numbers. */
	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = at(out, dsize, i);

		if (!on_level(&w[i]))
			continue;
		d->excess_bytes = pages_above(&w[i], x_hi, true, page) + 1;
		d->balloon_cap_bytes = pages_above(&w[i], x_lo, true, page);
		window += sat_sub(d->balloon_cap_bytes + 1, d->excess_bytes);
	}
	/* About a page per VM is in doubt. Far more means byte counts so large
	 * that doubles no longer resolve a page: the caller rounds instead. */
	if (sure >= need || window > 8 * (uint64_t)n + 4096)
		return false;

	/* Radix refinement of the cutoff over the bits of mu. */
	r.lo = double_bits(x_lo) + 1;
	r.hi = double_bits(x_hi);
	while (radix_round(&r, nb)) {
		memset(hist, 0, r.used * sizeof(hist[0]));
		for (i = 0; i < n; i++) {
			const struct vm_work *v = &w[i];
			struct reclaim_decision *d = at(out, dsize, i);
			uint64_t first = d->excess_bytes, last = d->balloon_cap_bytes, j;

			if (!on_level(v))
				continue;
			/* mu falls with j: trim the run to [r.lo, r.hi]. */
			while (first <= last && double_bits(page_mu(v, first, page)) > r.hi)
				first++;
			while (last >= first && double_bits(page_mu(v, last, page)) < r.lo)
				last--;
			d->excess_bytes = first;
			d->balloon_cap_bytes = last;
			for (j = first; j <= last; j++)
				hist[radix_bucket(&r, double_bits(page_mu(v, j, page)))] +=
					page_bytes(v, j, page) - page_bytes(v, j - 1, page);
		}
		/* From the top bucket down until the need is covered. */
		rem -= radix_narrow(&r, hist, rem, true);
	}

	/* Every page above the cutoff r.lo; the page exactly at it by VM index. */
	total = 0;
	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		struct reclaim_decision *d = at(out, dsize, i);
		uint64_t first = d->excess_bytes, last = d->balloon_cap_bytes, given;

		if (!on_level(v))
			continue;
		while (first <= last && double_bits(page_mu(v, first, page)) > r.lo)
			first++;
		given = page_bytes(v, first - 1, page);
		if (rem > 0 && first <= last && double_bits(page_mu(v, first, page)) == r.lo) {
			uint64_t more = page_bytes(v, first, page) - given;

			given += more;
			rem = more >= rem ? 0 : rem - more;
		}
		d->target_bytes = v->base - given;
		total += given;
	}
	/* Doubles that no longer resolve bytes (hosts near 2^64) can leave the
	 * plan short: then the caller's rounding, which tops up, decides. */
	return total >= need;
}

/* A VM that may give one more page. */
static bool
candidate(const struct vm_work *w, const struct reclaim_decision *d)
{
	return !(w->flags & VIEW_FIXED) && d->target_bytes > w->lo;
}

/*
 * The bit pattern of the want-th smallest key (1-based) among the
 * candidates, whose keys are stashed in d->rho.
 */
static uint64_t
kth_key(const struct vm_work *w, struct reclaim_decision *out, size_t dsize, size_t n,
	size_t want)
{
	uint64_t hist[BUCKETS];
	struct radix r = {UINT64_MAX, 0, 0, 0};
	size_t i, nb = buckets_for(n);

	for (i = 0; i < n; i++) {
		const struct reclaim_decision *d = at(out, dsize, i);

		if (candidate(&w[i], d)) {
			r.lo = min_u64(r.lo, double_bits(d->rho));
			r.hi = max_u64(r.hi, double_bits(d->rho));
		}
	}
	while (radix_round(&r, nb)) {
		memset(hist, 0, r.used * sizeof(hist[0]));
		for (i = 0; i < n; i++) {
			const struct reclaim_decision *d = at(out, dsize, i);
			uint64_t k = double_bits(d->rho);

			if (candidate(&w[i], d) && k >= r.lo && k <= r.hi)
				hist[radix_bucket(&r, k)]++;
		}
		want -= (size_t)radix_narrow(&r, hist, want, false);
	}
	return r.lo;
}

/* Takes one page from @p d's VM; returns the bytes taken. */
static uint64_t
take_page(const struct vm_work *w, struct reclaim_decision *d, uint64_t page)
{
	uint64_t take = min_u64(page, d->target_bytes - w->lo);

	d->target_bytes -= take;
	return take;
}

/* No VM on the level may grow: the level only revokes. */
static bool
revoke_only(const struct vm_work *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(w[i].flags & VIEW_FIXED) && w[i].hi > w[i].base)
			return false;
	}
	return true;
}

/*
 * Targets on the level, moved in whole pages. When the level only revokes,
 * pages_revoke() places them exactly where the paper's page-by-page rule
 * would. Otherwise (rebalancing, or when it gives up on byte counts doubles
 * cannot resolve) each VM gives the whole pages below its continuous
 * target, and the pages still missing are taken one each from the VMs
 * whose next page is cheapest, ties to the lowest index; a last top-up
 * covers VMs that had less than a page left above their floor.
 */
void
pages_place(const struct vm_work *w, size_t n, const struct tick *t, uint64_t page, double lambda,
	    uint64_t need, struct reclaim_decision *out, size_t dsize)
{
	uint64_t taken = 0, given = 0, missing, kth;
	bool reclaims = mode_reclaims(t->mode), rounded = reclaims || t->mode == MODE_HOLD;
	size_t i, want, count = 0;

	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = at(out, dsize, i);
		uint64_t lo = w[i].lo, hi = w[i].hi, base = w[i].base, target;

		if (w[i].flags & VIEW_FIXED) {
			target = reclaims ? lo : hi;
		} else {
			target = double_to_u64(wl_target(&w[i], lambda));
			if (rounded && target < base)
				target = base - ((base - target) & ~(page - 1));
			else if (rounded)
				target = base + ((target - base) & ~(page - 1));
			target = max_u64(min_u64(target, hi), lo);
			if (target < base)
				taken += base - target;
			else
				given += target - base;
		}
		d->target_bytes = target;
		d->rho = wl_rho(&w[i], target, page);
		count += candidate(&w[i], d);
	}
	if (reclaims && need > 0 && given == 0 && lambda > 0.0 && revoke_only(w, n)) {
		if (pages_revoke(w, n, lambda, need, page, out, dsize))
			return;
		/* It gave up (or fell short): carry on from what it wrote. */
		taken = 0;
		for (i = 0; i < n; i++) {
			if (!(w[i].flags & VIEW_FIXED))
				taken += sat_sub(w[i].base, at(out, dsize, i)->target_bytes);
		}
	}
	if (!rounded || sat_sub(taken, given) >= need || count == 0)
		goto topup;
	missing = need - sat_sub(taken, given);
	want = (size_t)min_u64((missing + page - 1) / page, count);
	kth = kth_key(w, out, dsize, n, want);
	for (i = 0; i < n && want; i++) {
		struct reclaim_decision *d = at(out, dsize, i);

		if (candidate(&w[i], d) && double_bits(d->rho) < kth) {
			taken += take_page(&w[i], d, page);
			want--;
		}
	}
	for (i = 0; i < n && want; i++) {
		struct reclaim_decision *d = at(out, dsize, i);

		if (candidate(&w[i], d) && double_bits(d->rho) == kth) {
			taken += take_page(&w[i], d, page);
			want--;
		}
	}
topup:
	if (!reclaims)
		return;
	/* VMs near their floor gave less than a page: take what is still
	 * missing from the cheapest, page by page (rare, and short). */
	while (sat_sub(taken, given) < need) {
		size_t best = n;
		double best_rho = 0.0;

		for (i = 0; i < n; i++) {
			struct reclaim_decision *d = at(out, dsize, i);
			double r;

			if (!candidate(&w[i], d))
				continue;
			r = wl_rho(&w[i], d->target_bytes, page);
			if (best == n || r < best_rho) {
				best = i;
				best_rho = r;
			}
		}
		if (best == n)
			break;
		taken += take_page(&w[best], at(out, dsize, best), page);
	}
}
