/* SPDX-License-Identifier: MIT */
/*
 * The water level in whole pages: exactly what revoking one page at a time
 * from the lowest-priced VM gives (the paper's rule), computed without
 * walking the pages.
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

static uint64_t
bits_of(double x)
{
	uint64_t b;

	memcpy(&b, &x, sizeof(b));
	return b;
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

bool
pages_revoke(const struct vm_work *w, size_t n, double lambda, uint64_t need, uint64_t page,
	     struct reclaim_decision *out, size_t dsize)
{
	uint64_t window = 0, total;
	uint64_t hist[BUCKETS], lb, hb, rem, sure;
	double x_lo = lambda, x_hi, step, g, slope;
	size_t i, b, used, nb;
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

	/* Radix refinement of the cutoff over the bits of mu, with about as
	 * many buckets as VMs (a small host need not scan 2048). */
	for (nb = 16; nb < BUCKETS && nb < n; nb <<= 1)
		;
	lb = bits_of(x_lo) + 1;
	hb = bits_of(x_hi);
	while (hb > lb) {
		unsigned shift = 0;
		uint64_t acc = 0;

		while (((hb - lb) >> shift) >= nb)
			shift++;
		used = (size_t)((hb - lb) >> shift) + 1;
		memset(hist, 0, used * sizeof(hist[0]));
		for (i = 0; i < n; i++) {
			const struct vm_work *v = &w[i];
			struct reclaim_decision *d = at(out, dsize, i);
			uint64_t first = d->excess_bytes, last = d->balloon_cap_bytes, j;

			if (!on_level(v))
				continue;
			/* mu falls with j: trim the run to [lb, hb]. */
			while (first <= last && bits_of(page_mu(v, first, page)) > hb)
				first++;
			while (last >= first && bits_of(page_mu(v, last, page)) < lb)
				last--;
			d->excess_bytes = first;
			d->balloon_cap_bytes = last;
			for (j = first; j <= last; j++)
				hist[(bits_of(page_mu(v, j, page)) - lb) >> shift] +=
					page_bytes(v, j, page) - page_bytes(v, j - 1, page);
		}
		/* From the top bucket down until the need is covered. */
		for (b = used; b-- > 0;) {
			if (acc + hist[b] >= rem || b == 0)
				break;
			acc += hist[b];
		}
		rem -= acc;
		lb += (uint64_t)b << shift;
		hb = min_u64(hb, lb + (((uint64_t)1 << shift) - 1));
	}

	/* Every page above the cutoff lb; the page exactly at it by VM index. */
	total = 0;
	for (i = 0; i < n; i++) {
		const struct vm_work *v = &w[i];
		struct reclaim_decision *d = at(out, dsize, i);
		uint64_t first = d->excess_bytes, last = d->balloon_cap_bytes, given;

		if (!on_level(v))
			continue;
		while (first <= last && bits_of(page_mu(v, first, page)) > lb)
			first++;
		given = page_bytes(v, first - 1, page);
		if (rem > 0 && first <= last && bits_of(page_mu(v, first, page)) == lb) {
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
