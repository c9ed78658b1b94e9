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

/* Page geometry: page sizes are powers of two, so page counts are shifts. */
struct geom {
	uint64_t page;
	unsigned shift;
	double inv; /* 1 / page, exact */
};

static struct geom
geom_of(uint64_t page)
{
	struct geom g = {page, 0, 0.0};

	while ((1ull << g.shift) < page)
		g.shift++;
	g.inv = 1.0 / (double)page;
	return g;
}

/* Pages the VM may give at all (the last one may be partial). */
static uint64_t
max_pages(const struct vm_work *w, const struct geom *g)
{
	uint64_t span = w->base - w->lo;

	return (span >> g->shift) + ((span & (g->page - 1)) != 0);
}

static double
page_mu(const struct vm_work *w, uint64_t j, uint64_t page)
{
	double a = (double)(w->base - (j - 1) * page);

	return wl_cost(a, w->active, w->inv_k) / w->shares;
}

/* Bytes given by the first j pages. */
static uint64_t
page_bytes(const struct vm_work *w, uint64_t j, const struct geom *g)
{
	uint64_t span = w->base - w->lo;

	return j > (span >> g->shift) ? span : j << g->shift;
}

static bool
mu_above(double mu, double x, bool strict)
{
	return strict ? mu > x : mu >= x;
}

/*
 * True when no page of the VM is priced above @p lambda: its allocation at
 * that level lies past all it holds, by more than rounding could blur
 * (mu falls with j, and the first page's mu <= lambda exactly when base
 * <= the allocation). Most VMs, most ticks: a multiplication instead of
 * pricing a page.
 */
static bool
gives_nothing(const struct vm_work *w, double lambda)
{
	double base = (double)w->base;

	return wl_inverse(lambda, w->shares, w->active, w->inv_k) >= base + base * 0x1p-30 + 1.0;
}

/* Number of pages with mu > x (strict) or mu >= x. mu falls with j, so the
 * answer is a prefix; the closed form is checked against mu itself. When
 * @p next is given and the check priced the first page left out, *next is
 * its mu (else a negative value): the caller need not price it again. */
static uint64_t
pages_above_next(const struct vm_work *w, double x, bool strict, const struct geom *g,
		 double *next)
{
	uint64_t m = max_pages(w, g), j, page = g->page;
	double inv = wl_inverse(x, w->shares, w->active, w->inv_k);
	double room = (double)w->base - inv;
	double known = -1.0;

	if (room <= 0.0)
		j = 0;
	else
		j = (uint64_t)ceil(room * g->inv);
	if (j > m)
		j = m;
	/* A step or two corrects rounding; more would mean doubles cannot
	 * tell the pages apart, and the bounded window check catches that. */
	for (int k = 0; k < 8 && j < m; k++) {
		double mu = page_mu(w, j + 1, page);

		if (!mu_above(mu, x, strict)) {
			known = mu;
			break;
		}
		j++;
	}
	for (int k = 0; k < 8 && j > 0; k++) {
		double mu = page_mu(w, j, page);

		if (mu_above(mu, x, strict))
			break;
		known = mu;
		j--;
	}
	if (next)
		*next = known;
	return j;
}

static uint64_t
pages_above(const struct vm_work *w, double x, bool strict, const struct geom *g)
{
	return pages_above_next(w, x, strict, g, NULL);
}

static bool
on_level(const struct vm_work *w)
{
	return (w->flags & VIEW_ON) != 0;
}

/* Bytes revoked by taking every page with mu > x. */
static uint64_t
bytes_above(const struct vm_work *w, size_t n, double x, const struct geom *g)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (on_level(&w[i]))
			sum += page_bytes(&w[i], pages_above(&w[i], x, true, g), g);
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
pages_revoke(struct vm_work *w, size_t n, double lambda, uint64_t need, uint64_t page,
	     struct reclaim_decision *out, size_t dsize)
{
	uint64_t window = 0, total;
	uint64_t hist[BUCKETS], rem, sure;
	double x_lo = lambda, x_hi, step, g, slope;
	struct radix r;
	size_t i, nb = buckets_for(n);
	int tries;
	struct geom gm = geom_of(page);

	/* Bracket: x_hi revokes less than the need. Start one page per VM
	 * past the level along its slope, widen until it holds. */
	wl_evaluate(w, n, lambda, &g, &slope);
	step = slope > 0.0 ? (double)(n + 1) * (double)page / slope : fabs(lambda) + 1.0;
	x_hi = x_lo + step;
	sure = bytes_above(w, n, x_hi, &gm);
	for (tries = 0; tries < 64 && sure >= need; tries++) {
		step *= 4.0;
		x_hi = x_lo + step;
		sure = bytes_above(w, n, x_hi, &gm);
	}
	rem = need - sure;

	/* Each VM's pages with mu in (x_lo, x_hi]: a run of page numbers. */
	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = at(out, dsize, i);

		if (!on_level(&w[i]))
			continue;
		d->excess_bytes = pages_above(&w[i], x_hi, true, &gm) + 1;
		d->balloon_cap_bytes = pages_above(&w[i], x_lo, true, &gm);
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
					page_bytes(v, j, &gm) - page_bytes(v, j - 1, &gm);
		}
		/* From the top bucket down until the need is covered. */
		rem -= radix_narrow(&r, hist, rem, true);
	}

	/* Every page above the cutoff r.lo; the page exactly at it by VM index. */
	total = 0;
	for (i = 0; i < n; i++) {
		struct vm_work *v = &w[i];
		struct reclaim_decision *d = at(out, dsize, i);
		uint64_t first = d->excess_bytes, last = d->balloon_cap_bytes, given;

		if (!on_level(v))
			continue;
		while (first <= last && double_bits(page_mu(v, first, page)) > r.lo)
			first++;
		given = page_bytes(v, first - 1, &gm);
		if (rem > 0 && first <= last && double_bits(page_mu(v, first, page)) == r.lo) {
			uint64_t more = page_bytes(v, first, &gm) - given;

			given += more;
			rem = more >= rem ? 0 : rem - more;
		}
		v->target = v->base - given;
		total += given;
	}
	/* Doubles that no longer resolve bytes (hosts near 2^64) can leave the
	 * plan short: then the caller's rounding, which tops up, decides. */
	return total >= need;
}

/* A VM that may give one more page. */
static bool
candidate(const struct vm_work *w)
{
	return !(w->flags & VIEW_FIXED) && w->target > w->lo;
}

/*
 * The decisions' memory serves as scratch for the page keys and the top-up
 * heap. The caller's array has its own type, so the scratch is read and
 * written bytewise (memcpy), never through a pointer of another type.
 */
static inline struct page_key
key_at(const unsigned char *s, size_t i)
{
	struct page_key k;

	memcpy(&k, s + i * sizeof(k), sizeof(k));
	return k;
}

static inline void
key_put(unsigned char *s, size_t i, struct page_key k)
{
	memcpy(s + i * sizeof(k), &k, sizeof(k));
}

/* Takes one page from VM @p w; returns the bytes taken. */
static uint64_t
take_page(struct vm_work *w, uint64_t page)
{
	uint64_t take = min_u64(page, w->target - w->lo);

	w->target -= take;
	return take;
}

/* Below this many keys in the chosen bucket, sorting them beats radix
 * rounds, which narrow by the bucket count per round however few are left. */
#define FEW_KEYS 32

/*
 * select_key() over the @p c keys listed in @p list: sorted from the
 * largest key down (@p from_top) or from the smallest up, then summed one
 * key value at a time until the sum reaches @p want (the keys' sizes add
 * up to at least that).
 */
static uint64_t
select_few(const unsigned char *keys, uint32_t *list, size_t c, uint64_t *rem, uint64_t want,
	   bool from_top)
{
	uint64_t acc = 0, key = 0;
	size_t i, j;

	for (i = 1; i < c; i++) { /* insertion sort */
		uint32_t x = list[i];
		uint64_t k = key_at(keys, x).key;

		for (j = i; j > 0; j--) {
			uint64_t prev = key_at(keys, list[j - 1]).key;

			if (from_top ? prev >= k : prev <= k)
				break;
			list[j] = list[j - 1];
		}
		list[j] = x;
	}
	for (i = 0; i < c;) {
		uint64_t group = 0;

		key = key_at(keys, list[i]).key;
		for (; i < c && key_at(keys, list[i]).key == key; i++)
			group += key_at(keys, list[i]).size;
		if (acc + group >= want)
			break;
		acc += group;
	}
	*rem = want - acc;
	return key;
}

/*
 * The key at which the sizes of the @p m keys in @p keys, summed from the
 * largest key down (@p from_top) or from the smallest up, reach @p *rem,
 * which is left holding what is still wanted at that key. A first round
 * buckets the keys by value between @p lo and @p hi, which hold them all
 * (about four keys a bucket: a small histogram to clear and scan); the
 * keys in the chosen bucket are gathered (in @p gather, room for @p room
 * of them) and sorted when they are few, else resolved by the bits of
 * their keys. Values, not bits, first: keys spread over many binades
 * would take a radix round for every few bits.
 */
static uint64_t
select_key(const unsigned char *keys, size_t m, double lo, double hi, uint64_t *rem,
	   bool from_top, uint32_t *gather, size_t room)
{
	uint64_t hist[BUCKETS], acc = 0, want = *rem;
	size_t i, nb = buckets_for(m / 4), b, c = 0;
	double scale = hi > lo ? (double)(nb - 1) / (hi - lo) : 0.0;
	struct radix r = {UINT64_MAX, 0, 0, 0};

	memset(hist, 0, nb * sizeof(hist[0]));
	for (i = 0; i < m; i++) {
		struct page_key k = key_at(keys, i);
		double x;

		memcpy(&x, &k.key, sizeof(x));
		hist[(size_t)((x - lo) * scale)] += k.size;
	}
	if (from_top) {
		for (b = nb; b-- > 0;) {
			if (acc + hist[b] >= want || b == 0)
				break;
			acc += hist[b];
		}
	} else {
		for (b = 0; b + 1 < nb && acc + hist[b] < want; b++)
			acc += hist[b];
	}
	want -= acc;
	/* The keys in bucket b: their bit range, and (when they fit) a list. */
	for (i = 0; i < m; i++) {
		struct page_key k = key_at(keys, i);
		double x;

		memcpy(&x, &k.key, sizeof(x));
		if ((size_t)((x - lo) * scale) != b)
			continue;
		r.lo = min_u64(r.lo, k.key);
		r.hi = max_u64(r.hi, k.key);
		if (c < room)
			gather[c] = (uint32_t)i;
		c++;
	}
	if (c > 0 && c <= room && c <= FEW_KEYS)
		return select_few(keys, gather, c, rem, want, from_top);
	while (radix_round(&r, buckets_for(c))) {
		memset(hist, 0, r.used * sizeof(hist[0]));
		for (i = 0; i < (c <= room ? c : m); i++) {
			struct page_key k = key_at(keys, c <= room ? gather[i] : i);

			if (k.key >= r.lo && k.key <= r.hi)
				hist[radix_bucket(&r, k.key)] += k.size;
		}
		want -= radix_narrow(&r, hist, want, from_top);
	}
	*rem = want;
	return r.lo;
}

/*
 * The want-th smallest (1-based) of the @p m keys in @p keys (each of size
 * 1): the bits of the price of each candidate's next page, listed with the
 * VM's index in the decisions' memory as the targets are placed, so that
 * every round reads 16 bytes a candidate, not its whole line.
 */
static uint64_t
kth_key(const unsigned char *keys, size_t m, size_t want, uint32_t *gather, size_t room)
{
	uint64_t lo = UINT64_MAX, hi = 0, rem = want;
	double a, b;
	size_t i;

	for (i = 0; i < m; i++) {
		uint64_t k = key_at(keys, i).key;

		lo = min_u64(lo, k);
		hi = max_u64(hi, k);
	}
	memcpy(&a, &lo, sizeof(a));
	memcpy(&b, &hi, sizeof(b));
	return select_key(keys, m, a, b, &rem, false, gather, room);
}

/*
 * pages_revoke() in three sweeps. The continuous level revokes, from each
 * VM, its pages priced above lambda; the rule revokes, from the most
 * expensive down, only until the need is met. So the cutoff lies between
 * lambda and a level x_hi at which the pages priced above x_hi fall short
 * of the need: those are revoked for sure, and the pages priced in
 * (lambda, x_hi], a few per VM, are in doubt. x_hi starts a page per VM on
 * the level past lambda along the level's slope @p slope, and widens in
 * the rare case that this does not fall short. The pages in doubt are
 * listed once, with their prices, in @p keys (room for @p room of them);
 * select_key() finds the cutoff there, and each VM's target follows from how
 * many of its pages in doubt lie above it (they are a run of its page
 * numbers, most expensive first). Ties at the cutoff go to the lowest VM
 * index. Returns false, and leaves the decision to the general
 * pages_revoke(), when the list would not fit or doubles cannot resolve
 * the pages.
 */
static bool
pages_revoke_fast(struct vm_work *w, size_t n, double lambda, double slope, uint64_t need,
		  size_t on, uint64_t page, unsigned char *keys, size_t room, uint32_t *gather)
{
	uint64_t sure, doubt, rem, total = 0, cut;
	const struct geom g = geom_of(page);
	double step = slope > 0.0 ? (double)(on + 1) * (double)page / slope : fabs(lambda) + 1.0;
	double x_hi;
	size_t i, k, m;
	int tries;

	/* The pages in doubt, listed; the sure ones, counted. */
	for (tries = 0;; tries++) {
		x_hi = lambda + step;
		sure = doubt = 0;
		m = 0;
		for (i = 0; i < n; i++) {
			struct vm_work *v = &w[i];
			uint64_t j_hi, j, last;
			double next;

			if (!on_level(v))
				continue;
			if (gives_nothing(v, lambda)) {
				v->target = 0;
				continue;
			}
			j_hi = pages_above_next(v, x_hi, true, &g, &next);
			last = max_pages(v, &g);
			sure += page_bytes(v, j_hi, &g);
			/* mu falls with j: the pages above lambda are a run. */
			for (j = j_hi + 1; j <= last; j++) {
				double mu = j == j_hi + 1 && next >= 0.0 ? next : page_mu(v, j, page);
				uint64_t size;

				if (!(mu > lambda))
					break;
				if (m == room)
					return false;
				size = page_bytes(v, j, &g) - page_bytes(v, j - 1, &g);
				key_put(keys, m, (struct page_key){double_bits(mu), (uint32_t)i,
								   (uint32_t)size});
				doubt += size;
				m++;
			}
			v->target = j_hi; /* until the cutoff is known */
		}
		if (sure < need)
			break;
		if (tries == 16)
			return false;
		step *= 4.0;
	}
	if (sure + doubt < need)
		return false;

	/* The cutoff: from the most expensive page in doubt down, until the
	 * need is met. */
	rem = need - sure;
	cut = select_key(keys, m, lambda, x_hi, &rem, true, gather, n);

	/* Each VM: its pages above the cutoff, and the one at it while the
	 * need is not met, lowest index first. */
	for (i = 0, k = 0; i < n; i++) {
		struct vm_work *v = &w[i];
		uint64_t j;
		bool at_cut;

		if (!on_level(v)) {
			v->target = (v->flags & VIEW_FIXED) ? v->lo : max_u64(min_u64(v->base, v->hi), v->lo);
			continue;
		}
		j = v->target;
		at_cut = false;
		for (; k < m; k++) {
			struct page_key key = key_at(keys, k);

			if (key.idx != i)
				break;
			if (key.key > cut) {
				j++;
			} else if (key.key == cut && rem > 0 && !at_cut) {
				rem = key.size >= rem ? 0 : rem - key.size;
				at_cut = true;
				j++;
			}
		}
		v->target = v->base - page_bytes(v, j, &g);
		total += v->base - v->target;
	}
	return total >= need;
}

/*
 * VMs near their floor gave less than a page: what is still missing is
 * taken from the cheapest, a page at a time (the last of a VM's may be
 * partial), ties to the lowest index. A heap of the candidates by price,
 * in @p heap (room for n; the decisions' memory, written afterwards),
 * keeps that O(log n) a page however many VMs are left a few bytes above
 * their floors.
 */
struct heap_node {
	double rho;
	uint64_t idx;
};

static inline struct heap_node
node_at(const unsigned char *h, size_t i)
{
	struct heap_node x;

	memcpy(&x, h + i * sizeof(x), sizeof(x));
	return x;
}

static inline void
node_put(unsigned char *h, size_t i, struct heap_node x)
{
	memcpy(h + i * sizeof(x), &x, sizeof(x));
}

static bool
heap_before(struct heap_node a, struct heap_node b)
{
	return (a.rho < b.rho) | ((a.rho == b.rho) & (a.idx < b.idx));
}

/* Sifts node @p i down. Which child is cheaper follows the prices, not a
 * pattern, so it is chosen by arithmetic rather than a branch. */
static void
heap_down(unsigned char *h, size_t m, size_t i)
{
	struct heap_node x = node_at(h, i);

	for (;;) {
		size_t l = 2 * i + 1, c;
		struct heap_node b;

		if (l >= m)
			break;
		c = l;
		if (l + 1 < m)
			c += heap_before(node_at(h, l + 1), node_at(h, l));
		b = node_at(h, c);
		if (!heap_before(b, x))
			break;
		node_put(h, i, b);
		i = c;
	}
	node_put(h, i, x);
}

/* The heap is built over @p m candidates listed in @p h (see
 * pages_place()), in place: node k is written once entry k has been read. */
static void
topup(struct vm_work *w, size_t m, uint64_t page, uint64_t missing, unsigned char *h)
{
	size_t i, k = 0;

	for (i = 0; i < m; i++) {
		size_t idx = key_at(h, i).idx;

		if (candidate(&w[idx]))
			node_put(h, k++, (struct heap_node){wl_rho(&w[idx], w[idx].target, page), idx});
	}
	m = k;
	for (i = m / 2; i-- > 0;)
		heap_down(h, m, i);
	while (missing > 0 && m > 0) {
		struct heap_node top = node_at(h, 0);
		struct vm_work *v = &w[top.idx];
		uint64_t took = take_page(v, page);

		missing = took >= missing ? 0 : missing - took;
		if (candidate(v)) {
			top.rho = wl_rho(v, v->target, page);
			node_put(h, 0, top);
		} else {
			node_put(h, 0, node_at(h, --m));
		}
		heap_down(h, m, 0);
	}
}

/*
 * Targets on the level, moved in whole pages, into w->target. When the
 * level only revokes, pages_revoke() places them exactly where the paper's
 * page-by-page rule would. Otherwise (rebalancing, or when it gives up on
 * byte counts doubles cannot resolve) each VM gives the whole pages below
 * its continuous target, and the pages still missing are taken one each
 * from the VMs whose next page is cheapest, ties to the lowest index; a
 * last top-up covers VMs that had less than a page left above their floor.
 */
void
pages_place(struct vm_work *w, size_t n, const struct tick *t, uint64_t page, double lambda,
	    double slope, uint64_t need, size_t on, bool revoke_only, uint32_t *gather,
	    struct reclaim_decision *out, size_t dsize)
{
	uint64_t taken = 0, given = 0, missing, kth;
	bool reclaims = mode_reclaims(t->mode), rounded = reclaims || t->mode == MODE_HOLD;
	/* Scratch, written afterwards: the candidates, listed in index order
	 * with the price of each one's next page. */
	unsigned char *keys = (unsigned char *)out;
	size_t i, j, want, m = 0;

	if (reclaims && need > 0 && lambda > 0.0 && revoke_only &&
	    pages_revoke_fast(w, n, lambda, slope, need, on, page, keys,
			      n * dsize / sizeof(struct page_key), gather))
		return;
	for (i = 0; i < n; i++) {
		struct vm_work *v = &w[i];
		uint64_t lo = v->lo, hi = v->hi, base = v->base, target;

		if (v->flags & VIEW_FIXED) {
			target = reclaims ? lo : hi;
		} else {
			target = double_to_u64(wl_target(v, lambda));
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
		v->target = target;
		if (rounded && candidate(v))
			key_put(keys, m++,
				(struct page_key){double_bits(wl_rho(v, target, page)), (uint32_t)i, 1});
	}
	if (reclaims && need > 0 && given == 0 && lambda > 0.0 && revoke_only) {
		if (pages_revoke(w, n, lambda, need, page, out, dsize))
			return;
		/* It gave up (or fell short): carry on from what it wrote. */
		taken = 0;
		m = 0;
		for (i = 0; i < n; i++) {
			if (!(w[i].flags & VIEW_FIXED))
				taken += sat_sub(w[i].base, w[i].target);
			if (candidate(&w[i]))
				key_put(keys, m++,
					(struct page_key){double_bits(wl_rho(&w[i], w[i].target, page)),
							  (uint32_t)i, 1});
		}
	}
	if (!rounded || sat_sub(taken, given) >= need || m == 0)
		goto topup;
	missing = need - sat_sub(taken, given);
	want = (size_t)min_u64((missing + page - 1) / page, m);
	kth = kth_key(keys, m, want, gather, n);
	for (j = 0; j < m && want; j++) {
		struct page_key k = key_at(keys, j);

		if (k.key < kth) {
			taken += take_page(&w[k.idx], page);
			want--;
		}
	}
	for (j = 0; j < m && want; j++) {
		struct page_key k = key_at(keys, j);

		if (k.key == kth) {
			taken += take_page(&w[k.idx], page);
			want--;
		}
	}
topup:
	if (reclaims && sat_sub(taken, given) < need)
		topup(w, m, page, need - sat_sub(taken, given), keys);
}
