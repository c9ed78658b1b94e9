/* SPDX-License-Identifier: MIT */
/*
 * The policy object and one decision step.
 *
 * decide = validate -> state -> per-VM view (history, balloon cap, bounds)
 * -> water level -> targets -> split into balloon / swap / block -> commit.
 * Everything that can fail is checked before the first write; the decision
 * path allocates nothing and reads no clock.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "reclaim-private.h"

/* ---- policy memory ---- */

#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~(size_t)((a) - 1))
#define MAX_CAPACITY ((size_t)1 << 28)

size_t
policy_slots(size_t capacity)
{
	size_t s = 8;

	/* Load factor at most 2/3: short probe runs, and a small table. */
	while (s < capacity + capacity / 2)
		s <<= 1;
	return s;
}

struct layout {
	size_t hist[2], slots[2], work, active, total;
};

static void
policy_layout(struct layout *l, size_t capacity)
{
	size_t off = ALIGN_UP(sizeof(struct reclaim_policy), 16);
	size_t slots = policy_slots(capacity);
	int i;

	for (i = 0; i < 2; i++) {
		l->hist[i] = off;
		off = ALIGN_UP(off + capacity * sizeof(struct vm_hist), 16);
	}
	for (i = 0; i < 2; i++) {
		l->slots[i] = off;
		off = ALIGN_UP(off + slots * sizeof(uint32_t), 16);
	}
	l->work = off;
	off = ALIGN_UP(off + capacity * sizeof(struct vm_work), 16);
	l->active = off;
	off = ALIGN_UP(off + capacity * sizeof(uint32_t), 16);
	l->total = off;
}

int
reclaim_policy_memory_size(size_t *bytes, size_t capacity)
{
	struct layout l;

	if (!bytes)
		return RECLAIM_E_NULL;
	if (capacity == 0 || capacity > MAX_CAPACITY)
		return RECLAIM_E_INVAL;
	policy_layout(&l, capacity);
	*bytes = l.total;
	return RECLAIM_OK;
}

static int
check_new(const struct reclaim_config *cfg, size_t capacity)
{
	const char *field;

	if (!cfg)
		return RECLAIM_E_NULL;
	if (capacity == 0 || capacity > MAX_CAPACITY)
		return RECLAIM_E_INVAL;
	return config_validate(cfg, &field);
}

static struct reclaim_policy *
policy_place(void *memory, const struct reclaim_config *cfg, size_t capacity, bool owned)
{
	struct reclaim_policy *p = memory;
	char *base = memory;
	struct layout l;
	int i;

	policy_layout(&l, capacity);
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->capacity = capacity;
	p->mask = (uint32_t)(policy_slots(capacity) - 1);
	p->state = -1;
	p->owned = owned;
	for (i = 0; i < 2; i++) {
		p->hist[i].entries = (struct vm_hist *)(void *)(base + l.hist[i]);
		p->hist[i].slots = (uint32_t *)(void *)(base + l.slots[i]);
		hist_clear_index(&p->hist[i], p->mask);
	}
	p->work = (struct vm_work *)(void *)(base + l.work);
	p->active = (uint32_t *)(void *)(base + l.active);
	return p;
}

int
reclaim_policy_new(struct reclaim_policy **out, const struct reclaim_config *cfg, size_t capacity)
{
	struct layout l;
	void *mem;
	int rc;

	if (!out)
		return RECLAIM_E_NULL;
	rc = check_new(cfg, capacity);
	if (rc)
		return rc;
	policy_layout(&l, capacity);
	mem = malloc(l.total);
	if (!mem)
		return RECLAIM_E_NOMEM;
	*out = policy_place(mem, cfg, capacity, true);
	return RECLAIM_OK;
}

int
reclaim_policy_init(struct reclaim_policy **out, void *memory, size_t bytes,
		    const struct reclaim_config *cfg, size_t capacity)
{
	struct layout l;
	int rc;

	if (!out || !memory)
		return RECLAIM_E_NULL;
	rc = check_new(cfg, capacity);
	if (rc)
		return rc;
	if ((uintptr_t)memory % 16 != 0)
		return RECLAIM_E_INVAL;
	policy_layout(&l, capacity);
	if (bytes < l.total)
		return RECLAIM_E_NOSPACE;
	*out = policy_place(memory, cfg, capacity, false);
	return RECLAIM_OK;
}

void
reclaim_policy_destroy(struct reclaim_policy *policy)
{
	if (policy && policy->owned)
		free(policy);
}

int
reclaim_policy_set_config(struct reclaim_policy *policy, const struct reclaim_config *cfg)
{
	const char *field;
	int rc;

	if (!policy || !cfg)
		return RECLAIM_E_NULL;
	rc = config_validate(cfg, &field);
	if (rc)
		return rc;
	policy->cfg = *cfg;
	return RECLAIM_OK;
}

int
reclaim_policy_get_config(struct reclaim_config *cfg, const struct reclaim_policy *policy)
{
	if (!cfg || !policy)
		return RECLAIM_E_NULL;
	if (cfg->struct_size != sizeof(*cfg))
		return RECLAIM_E_VERSION;
	*cfg = policy->cfg;
	return RECLAIM_OK;
}

/* ---- one step ---- */

struct tick {
	uint64_t usable, free, now, thr[4], margin, need;
	int previous, state, mode;
	bool admission;
	bool same_order; /* VMs in the order of the last decide: no lookups */
	uint64_t deflate_left; /* deflation budget still to hand out */
};

static bool
reclaiming(int mode)
{
	return mode == MODE_BALLOON || mode == MODE_SPLIT || mode == MODE_SWAP;
}

static int
choose_mode(const struct reclaim_config *cfg, const struct tick *t)
{
	if (t->admission)
		return MODE_SPLIT;
	if (t->free < t->thr[RECLAIM_STATE_HIGH]) {
		switch (t->state) {
		case RECLAIM_STATE_LOW:
			return MODE_SWAP;
		case RECLAIM_STATE_HARD:
			return MODE_SPLIT;
		case RECLAIM_STATE_SOFT:
			return MODE_BALLOON;
		default:
			return (cfg->flags & RECLAIM_CONFIG_NO_EARLY_BALLOON) ? MODE_HOLD
									      : MODE_BALLOON;
		}
	}
	if (t->state == RECLAIM_STATE_HIGH &&
	    t->free >= sat_add(t->thr[RECLAIM_STATE_HIGH], t->margin))
		return MODE_DEFLATE;
	return MODE_HOLD;
}

static uint64_t
vm_max(const struct reclaim_vm_stats *vm)
{
	return min_u64(vm->configured_bytes, vm->limit_bytes);
}

/* Per-VM view: history carried to this tick, balloon cap, bounds. */
struct sums {
	uint64_t pending, limit, reclaimable, fixed_reclaim;
	uint64_t release; /* balloons deflating to their cap */
	uint64_t u_free; /* sum of min(projected, max) over VMs on the level */
	double lo_free;
};

static void
prepare(struct reclaim_policy *p, const struct tick *t, const struct reclaim_vm_stats *vms,
	size_t n, struct sums *s)
{
	const struct reclaim_config *cfg = &p->cfg;
	const struct hist_table *cur = &p->hist[p->cur];
	struct vm_hist *next = p->hist[!p->cur].entries;
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *vm = &vms[i];
		struct vm_work *w = &p->work[i];
		struct vm_hist *h = &next[i];
		uint64_t c = vm->configured_bytes, b = min_u64(vm->balloon_bytes, c);
		uint64_t pending, projected, max = vm_max(vm), u, lo, limit_excess, release, can;
		double tau = (vm->flags & RECLAIM_VM_IDLE_TAX) ? vm->idle_tax : cfg->idle_tax;

		h->id = vm->id;
		hist_advance(h, t->same_order ? &cur->entries[i] : hist_find(cur, p->mask, vm->id),
			     cfg, vm, b, t->now);
		view_balloon(w, cfg, vm, h, t->now);
		if (t->mode == MODE_SPLIT && view_can_balloon(w))
			view_horizon(w, h, cfg, b);

		/* Balloon inflation asked earlier and not yet delivered will
		 * still arrive: count it, except in low where nothing waits. */
		pending = sat_sub(w->held, b);
		projected = t->mode == MODE_SWAP ? vm->consumed_bytes
						 : sat_sub(vm->consumed_bytes, pending);
		if (t->mode != MODE_SWAP)
			s->pending += min_u64(pending, vm->consumed_bytes);
		/* A balloon above its cap (the guest ran short of memory and
		 * swap) deflates to it, in every state: the guest must not meet
		 * its OOM killer. That memory comes back, and the need grows by
		 * it, so the host takes it from elsewhere. */
		release = sat_sub(b, w->held);
		s->release += release;
		projected = sat_add(projected, release);
		w->projected = projected;
		limit_excess = sat_sub(projected, max);
		u = min_u64(projected, max);
		/* What can leave the VM this tick: the pages it holds now, and
		 * its balloon's room. The limit excess is taken from that first;
		 * beyond it, even the limit rule must wait for the next tick. */
		can = sat_add(vm->consumed_bytes, view_can_balloon(w) ? sat_sub(w->cap, w->held) : 0);
		s->limit += min_u64(limit_excess, can);

		w->shares = (double)vm->shares;
		w->active = (double)min_u64(vm->active_bytes, vm->consumed_bytes);
		w->inv_k = 1.0 - tau;

		if (reclaiming(t->mode) || t->mode == MODE_HOLD) {
			bool balloon_only = t->mode == MODE_BALLOON || t->mode == MODE_HOLD;
			uint64_t hi = u;

			lo = min_u64(vm->reservation_bytes, u);
			if (balloon_only &&
			    !((cfg->flags & RECLAIM_CONFIG_SOFT_SWAP) && !view_can_balloon(w) &&
			      t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_SOFT)) {
				uint64_t room = sat_sub(sat_sub(w->cap, w->held), limit_excess);
				uint64_t floor = sat_sub(u, view_can_balloon(w) ? room : 0);

				if (floor > lo) {
					lo = floor;
					w->flags |= VIEW_BALLOON_BOUND;
				}
			}
			/* Swap can take only pages the VM holds now, the balloon
			 * only its room: what a balloon deflating to its cap gives
			 * back cannot be taken again in the same tick. */
			lo = max_u64(lo, sat_sub(u, sat_sub(can, limit_excess)));
			/* Rebalancing (ESX moves memory from low to high prices): in
			 * balloon-only modes a VM short of memory may grow back
			 * into its balloon. Only a VM whose fresh guest stats show
			 * it short (free memory within the guest margin): one that
			 * does not use what it has would leave the memory idle while
			 * others are ballooned for it. */
			if (balloon_only && limit_excess == 0 && view_can_balloon(w) &&
			    !stats_stale(cfg, vm, t->now) &&
			    vm->guest_free_bytes <= cfg->guest_margin_bytes &&
			    (t->mode != MODE_HOLD || t->free >= t->thr[RECLAIM_STATE_HIGH]))
				hi = min_u64(max, sat_add(u, w->held));
			w->lo = lo;
			w->hi = hi;
			w->base = u;
			if (reclaiming(t->mode))
				s->reclaimable += u - lo;
			if (vm->shares == 0 || lo == hi) {
				w->flags |= VIEW_FIXED;
				if (t->mode == MODE_HOLD)
					w->lo = w->hi = u;
				else
					s->fixed_reclaim += u - lo;
			} else {
				s->u_free += u;
			}
		} else if (t->mode == MODE_DEFLATE && limit_excess == 0 && w->held > 0 &&
			   vm->shares > 0 && u < max && (w->flags & VIEW_DRIVER)) {
			w->lo = u;
			w->hi = min_u64(max, sat_add(u, w->held));
			w->base = u;
			s->lo_free += (double)w->lo;
		} else {
			w->lo = w->hi = u;
			w->base = u;
			w->flags |= VIEW_FIXED;
		}
	}
}

static double
rho_at(const struct vm_work *w, uint64_t target, uint64_t page)
{
	double cost = wl_cost((double)target, w->active, w->inv_k);

	return w->shares > 0.0 && cost > 0.0 ? w->shares * (double)page / cost : 0.0;
}

static uint64_t
key_bits(double key)
{
	uint64_t bits;

	memcpy(&bits, &key, sizeof(bits));
	return bits;
}

/* A VM that may give one more page, and the price of that page. */
static bool
candidate(const struct vm_work *w, const struct reclaim_decision *d)
{
	return !(w->flags & VIEW_FIXED) && d->target_bytes > w->lo;
}

/*
 * The bit pattern of the want-th smallest key (1-based) among the
 * candidates, whose keys are stashed in d->rho (non-negative doubles order
 * like their bit patterns). Radix refinement: each pass counts the keys in
 * 2048 buckets of the remaining range and keeps the bucket holding the
 * want-th; at most six passes for 64 bits, usually two or three since the
 * keys sit close to the common level. No memory beyond the stack.
 */
static uint64_t
kth_key(const struct reclaim_policy *p, const struct reclaim_decision *out, size_t dsize,
	size_t n, size_t want)
{
	uint32_t hist[2048];
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t below = 0, i, j;

	for (i = 0; i < n; i++) {
		const struct reclaim_decision *d = (const void *)((const char *)out + i * dsize);

		if (candidate(&p->work[i], d)) {
			lo = min_u64(lo, key_bits(d->rho));
			hi = max_u64(hi, key_bits(d->rho));
		}
	}
	for (;;) {
		unsigned shift = 0;

		while (((hi - lo) >> shift) >= 2048)
			shift++;
		if (hi == lo)
			return lo;
		memset(hist, 0, sizeof(hist));
		for (i = 0; i < n; i++) {
			const struct reclaim_decision *d =
				(const void *)((const char *)out + i * dsize);
			uint64_t k = key_bits(d->rho);

			if (candidate(&p->work[i], d) && k >= lo && k <= hi)
				hist[(k - lo) >> shift]++;
		}
		for (j = 0; j < 2047 && below + hist[j] < want; j++)
			below += hist[j];
		lo += (uint64_t)j << shift;
		if (shift == 0)
			return lo;
		hi = min_u64(hi, lo + (((uint64_t)1 << shift) - 1));
	}
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
revoke_only(const struct reclaim_policy *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct vm_work *w = &p->work[i];

		if (!(w->flags & VIEW_FIXED) && w->hi > w->base)
			return false;
	}
	return true;
}

/*
 * Targets on the level, moved in whole pages. When the level only revokes,
 * pages.c places them exactly where the paper's page-by-page rule would.
 * Otherwise (rebalancing, or when pages.c gives up on byte counts doubles
 * cannot resolve) each VM gives the whole pages below its continuous
 * target, and the pages still missing are taken one each from the VMs
 * whose next page is cheapest, ties to the lowest index; a last top-up
 * covers VMs that had less than a page left above their floor.
 */
static void
place_targets(struct reclaim_policy *p, const struct tick *t, struct reclaim_decision *out,
	      size_t dsize, size_t n, double lambda, uint64_t need_solver)
{
	uint64_t page = p->cfg.page_size, taken = 0, given = 0, missing, kth;
	bool rounded = reclaiming(t->mode) || t->mode == MODE_HOLD;
	size_t i, want, count = 0;

	for (i = 0; i < n; i++) {
		const struct vm_work *w = &p->work[i];
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);
		uint64_t lo = w->lo, hi = w->hi, target;

		if (w->flags & VIEW_FIXED) {
			target = reclaiming(t->mode) ? lo : hi;
		} else {
			target = double_to_u64(wl_target(w, lambda));
			if (rounded && target < w->base)
				target = w->base - ((w->base - target) & ~(page - 1));
			else if (rounded)
				target = w->base + ((target - w->base) & ~(page - 1));
			target = max_u64(min_u64(target, hi), lo);
			if (target < w->base)
				taken += w->base - target;
			else
				given += target - w->base;
		}
		d->target_bytes = target;
		d->rho = rho_at(w, target, page);
		count += candidate(w, d);
	}
	if (reclaiming(t->mode) && need_solver > 0 && given == 0 && lambda > 0.0 &&
	    revoke_only(p, n)) {
		if (pages_revoke(p->work, n, lambda, need_solver, page, out, dsize))
			return;
		/* It gave up (or fell short): carry on from what it wrote. */
		taken = 0;
		for (i = 0; i < n; i++) {
			const struct reclaim_decision *d = (const void *)((const char *)out + i * dsize);

			if (!(p->work[i].flags & VIEW_FIXED))
				taken += sat_sub(p->work[i].base, d->target_bytes);
		}
	}
	if (!rounded || sat_sub(taken, given) >= need_solver || count == 0)
		goto topup;
	missing = need_solver - sat_sub(taken, given);
	want = (size_t)min_u64((missing + page - 1) / page, count);
	kth = kth_key(p, out, dsize, n, want);
	for (i = 0; i < n && want; i++) {
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);

		if (candidate(&p->work[i], d) && key_bits(d->rho) < kth) {
			taken += take_page(&p->work[i], d, page);
			want--;
		}
	}
	for (i = 0; i < n && want; i++) {
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);

		if (candidate(&p->work[i], d) && key_bits(d->rho) == kth) {
			taken += take_page(&p->work[i], d, page);
			want--;
		}
	}
topup:
	if (!reclaiming(t->mode))
		return;
	/* VMs near their floor gave less than a page: take what is still
	 * missing from the cheapest, page by page (rare, and short). */
	while (sat_sub(taken, given) < need_solver) {
		size_t best = n;
		double best_rho = 0.0;

		for (i = 0; i < n; i++) {
			const struct vm_work *w = &p->work[i];
			struct reclaim_decision *d = (void *)((char *)out + i * dsize);
			double r;

			if (!candidate(w, d))
				continue;
			r = rho_at(w, d->target_bytes, page);
			if (best == n || r < best_rho) {
				best = i;
				best_rho = r;
			}
		}
		if (best == n)
			break;
		taken += take_page(&p->work[best], (void *)((char *)out + best * dsize), page);
	}
}

static uint32_t
target_bound(const struct vm_work *w, const struct reclaim_vm_stats *vm, uint64_t target)
{
	uint64_t max = vm_max(vm);

	if (w->projected > max && target >= max)
		return RECLAIM_BOUND_MAX;
	if (target <= w->lo && target < w->base)
		return target <= vm->reservation_bytes ? RECLAIM_BOUND_RESERVATION
		       : (w->flags & VIEW_BALLOON_BOUND) ? RECLAIM_BOUND_BALLOON
							  : RECLAIM_BOUND_NONE;
	if (target <= w->lo && vm->reservation_bytes >= w->base)
		return RECLAIM_BOUND_RESERVATION;
	if (target >= w->base)
		return target >= max ? RECLAIM_BOUND_MAX : RECLAIM_BOUND_CONSUMED;
	return RECLAIM_BOUND_NONE;
}

struct totals {
	uint64_t balloon, swap, compress, deflate;
};

static void
finish(struct reclaim_policy *p, struct tick *t, struct reclaim_decision *out,
       size_t dsize, const struct reclaim_vm_stats *vms, size_t n, bool shortfall,
       struct totals *tot)
{
	const struct reclaim_config *cfg = &p->cfg;
	const struct hist_table *cur = &p->hist[p->cur];
	struct vm_hist *next = p->hist[!p->cur].entries;
	size_t i;

	memset(tot, 0, sizeof(*tot));
	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *vm = &vms[i];
		const struct vm_work *w = &p->work[i];
		struct vm_hist *h = &next[i];
		const struct vm_hist *old =
			t->same_order ? &cur->entries[i] : hist_find(cur, p->mask, vm->id);
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);
		uint64_t target = d->target_bytes;
		uint64_t limit_excess = sat_sub(w->projected, vm_max(vm));
		uint64_t current = min_u64(vm->balloon_bytes, vm->configured_bytes);
		uint64_t excess, asked_before;
		bool block = false;

		*d = (struct reclaim_decision){0}; /* dsize == sizeof, checked */
		d->struct_size = (uint32_t)dsize;
		d->id = vm->id;
		d->state = (uint32_t)t->state;
		d->target_bytes = target;
		d->balloon_cap_bytes = w->cap;
		d->balloon_limit = w->cap_kind;

		if (t->mode == MODE_DEFLATE && !(w->flags & VIEW_FIXED)) {
			uint64_t give = (target - w->lo) & ~(cfg->page_size - 1);

			/* The level hands out the budget in doubles; the budget
			 * itself is kept to the byte. */
			give = min_u64(min_u64(give, w->held), t->deflate_left);
			t->deflate_left -= give;
			d->balloon_target_bytes = w->held - give;
			d->target_bytes = w->lo + give;
			excess = 0;
		} else if (target > w->projected) {
			/* Rebalanced upward: the balloon gives the difference back. */
			uint64_t give = min_u64(target - w->projected, w->held);

			excess = 0;
			d->balloon_target_bytes = w->held - give;
			d->reasons |= RECLAIM_REASON_REBALANCE;
		} else {
			excess = sat_sub(w->projected, target);
			split_excess(d, w, h, cfg, vm, reclaiming(t->mode) ? t->mode : MODE_HOLD,
				     excess, limit_excess);
			if (!reclaiming(t->mode) && excess == 0 && w->held == 0)
				d->target_bytes = vm_max(vm); /* nothing held back */
			/* In hold, only rebalancing takes memory from a VM. */
			if (t->mode == MODE_HOLD && excess > limit_excess)
				d->reasons |= RECLAIM_REASON_REBALANCE;
		}
		d->excess_bytes = excess;
		if (t->mode == MODE_SWAP && vm->consumed_bytes > target)
			block = true;
		d->block = block;
		d->rho = rho_at(w, d->target_bytes, cfg->page_size);

		if (reclaiming(t->mode) && excess > limit_excess)
			d->reasons |= RECLAIM_REASON_PRESSURE;
		if (t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_HIGH && !t->admission)
			d->reasons |= RECLAIM_REASON_EARLY;
		if (limit_excess)
			d->reasons |= RECLAIM_REASON_LIMIT;
		if (!(w->flags & VIEW_DRIVER))
			d->reasons |= RECLAIM_REASON_NO_BALLOON;
		if (h->flags & HIST_UNRESPONSIVE)
			d->reasons |= RECLAIM_REASON_UNRESPONSIVE;
		if (w->flags & VIEW_STALE)
			d->reasons |= RECLAIM_REASON_STALE;
		if (block)
			d->reasons |= RECLAIM_REASON_BLOCKED;
		if (vm->shares == 0 && reclaiming(t->mode))
			d->reasons |= RECLAIM_REASON_ZERO_SHARES;
		if (shortfall && reclaiming(t->mode))
			d->reasons |= RECLAIM_REASON_SHORTFALL;
		if (t->mode == MODE_HOLD)
			d->reasons |= RECLAIM_REASON_HOLD;
		if (h->flags & HIST_FAILED)
			d->reasons |= RECLAIM_REASON_ADAPTER_FAILED;

		/* Actions: only what changes, so adapters see transitions. */
		asked_before = old ? old->asked : min_u64(vm->balloon_bytes, vm->configured_bytes);
		if ((w->flags & VIEW_DRIVER) &&
		    (d->balloon_target_bytes != asked_before || (h->flags & HIST_RESEND)))
			d->actions |= RECLAIM_ACTION_BALLOON;
		if (d->swap_bytes)
			d->actions |= RECLAIM_ACTION_SWAP;
		if (d->compress_bytes)
			d->actions |= RECLAIM_ACTION_COMPRESS;
		if (block && !(h->flags & HIST_BLOCKED))
			d->actions |= RECLAIM_ACTION_BLOCK;
		if (!block && (h->flags & HIST_BLOCKED))
			d->actions |= RECLAIM_ACTION_UNBLOCK;

		if (d->balloon_target_bytes > w->held)
			tot->balloon += d->balloon_target_bytes - w->held;
		if ((w->flags & VIEW_DRIVER) && d->balloon_target_bytes < current) {
			tot->deflate += current - d->balloon_target_bytes;
			/* The reason names a choice, not what the cap forces, and
			 * deflation of the comfortable host, not rebalancing. */
			if (d->balloon_target_bytes < min_u64(current, w->cap) &&
			    !(d->reasons & RECLAIM_REASON_REBALANCE))
				d->reasons |= RECLAIM_REASON_DEFLATE;
		}
		/* Never below the reservation: the VM may always use that much. */
		d->target_bytes = max_u64(d->target_bytes, vm->reservation_bytes);
		d->bound = reclaiming(t->mode) || t->mode == MODE_HOLD
				   ? target_bound(w, vm, d->target_bytes)
				   : (limit_excess ? RECLAIM_BOUND_MAX : RECLAIM_BOUND_NONE);
		tot->swap += d->swap_bytes;
		tot->compress += d->compress_bytes;

		/* What the next tick remembers (committed unless dry run). */
		h->asked = (w->flags & VIEW_DRIVER) ? d->balloon_target_bytes : 0;
		h->flags &= (uint16_t)~(HIST_RESEND | HIST_FAILED | HIST_BLOCKED);
		if (block)
			h->flags |= HIST_BLOCKED;
	}
}

/* Host swap is finite: scale every VM's swap down to what the host has. */
static void
bound_swap(const struct reclaim_config *cfg, const struct reclaim_host *host,
	   struct reclaim_decision *out, size_t dsize, size_t n, struct totals *tot,
	   uint32_t *flags)
{
	double scale;
	size_t i;

	if (!(host->flags & RECLAIM_HOST_SWAP_BOUNDED) || tot->swap <= host->swap_free_bytes)
		return;
	scale = (double)host->swap_free_bytes / (double)tot->swap;
	tot->swap = 0;
	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);
		uint64_t s;

		if (!d->swap_bytes)
			continue;
		s = double_to_u64((double)d->swap_bytes * scale) & ~(cfg->page_size - 1);
		d->swap_bytes = min_u64(s, d->swap_bytes);
		d->reasons |= RECLAIM_REASON_SWAP_BOUNDED;
		if (!d->swap_bytes)
			d->actions &= ~(uint32_t)RECLAIM_ACTION_SWAP;
		tot->swap += d->swap_bytes;
	}
	*flags |= RECLAIM_SUMMARY_SWAP_BOUNDED;
}

static int
check_call(const struct reclaim_summary *summary, const struct reclaim_decision *decisions,
	   size_t decision_size, struct reclaim_policy *policy, const struct reclaim_host *host,
	   const struct reclaim_vm_stats *vms, size_t n_vms, bool *same_order)
{
	int rc;

	if (!summary || !policy || !host || (n_vms && (!vms || !decisions)))
		return RECLAIM_E_NULL;
	if (summary->struct_size != sizeof(*summary) ||
	    decision_size != sizeof(struct reclaim_decision))
		return RECLAIM_E_VERSION;
	if (n_vms > policy->capacity)
		return RECLAIM_E_CAPACITY;
	rc = validate_host(host);
	if (rc)
		return rc;
	return validate_vms(&policy->hist[!policy->cur], &policy->hist[policy->cur], policy->mask,
			    vms, n_vms, host->free_bytes, same_order);
}

static int
step(struct reclaim_summary *summary, struct reclaim_decision *decisions, size_t decision_size,
     struct reclaim_policy *p, const struct reclaim_host *host,
     const struct reclaim_vm_stats *vms, size_t n, uint32_t flags, bool admission,
     uint64_t new_vm_bytes)
{
	const struct reclaim_config *cfg;
	struct tick t;
	struct sums s;
	struct totals tot;
	struct reclaim_summary sum;
	uint64_t need_rem = 0, need_solver = 0;
	double lambda = 0.0;
	bool shortfall = false, same_order = false;
	int rc;

	rc = check_call(summary, decisions, decision_size, p, host, vms, n, &same_order);
	if (rc)
		return rc;
	if (flags & ~(uint32_t)RECLAIM_DECIDE_DRY_RUN)
		return RECLAIM_E_INVAL;
	cfg = &p->cfg; /* only now: p was checked for NULL */

	memset(&t, 0, sizeof(t));
	t.same_order = same_order;
	t.admission = admission;
	t.usable = host->total_bytes - host->reserved_bytes;
	t.free = min_u64(host->free_bytes, t.usable);
	t.now = host->now_ns;
	config_threshold_bytes(cfg, t.usable, t.thr, &t.margin);
	t.previous = p->state;
	if (admission) {
		uint64_t shortage = sat_sub(new_vm_bytes, t.free);

		t.free = sat_sub(t.free, new_vm_bytes);
		t.state = state_raw(t.thr, t.free);
		t.need = sat_add(sat_sub(t.thr[RECLAIM_STATE_HIGH], t.free), shortage);
	} else {
		t.state = state_next(p->state, t.thr, t.margin, t.free);
		t.need = sat_sub(t.thr[RECLAIM_STATE_HIGH], t.free);
	}
	t.mode = choose_mode(cfg, &t);

	prepare(p, &t, vms, n, &s);
	if (reclaiming(t.mode) || t.mode == MODE_HOLD) {
		if (reclaiming(t.mode)) {
			need_rem = sat_sub(sat_sub(sat_add(t.need, s.release), s.pending), s.limit);
			need_solver = sat_sub(need_rem, s.fixed_reclaim);
			shortfall = sat_sub(sat_add(sat_add(s.reclaimable, s.limit), s.pending),
					    s.release) < t.need;
		}
		lambda = wl_solve_scratch(p->work, n, (double)s.u_free - (double)need_solver, p->lambda,
					  p->active);
	} else if (t.mode == MODE_DEFLATE) {
		uint64_t give = min_u64(sat_sub(t.free, sat_add(t.thr[RECLAIM_STATE_HIGH], t.margin)),
					cfg->deflate_budget_bytes);

		t.deflate_left = give;
		lambda = wl_solve_scratch(p->work, n, s.lo_free + (double)give, p->lambda, p->active);
	}
	place_targets(p, &t, decisions, decision_size, n, lambda, need_solver);

	memset(&sum, 0, sizeof(sum));
	finish(p, &t, decisions, decision_size, vms, n, shortfall, &tot);
	bound_swap(cfg, host, decisions, decision_size, n, &tot, &sum.flags);

	sum.struct_size = sizeof(sum);
	sum.state = (uint32_t)t.state;
	sum.previous_state = (uint32_t)(t.previous < 0 ? t.state : t.previous);
	if (shortfall)
		sum.flags |= RECLAIM_SUMMARY_SHORTFALL;
	if (t.mode == MODE_BALLOON && t.state == RECLAIM_STATE_HIGH && !admission)
		sum.flags |= RECLAIM_SUMMARY_EARLY;
	if (tot.deflate)
		sum.flags |= RECLAIM_SUMMARY_DEFLATE;
	sum.usable_bytes = t.usable;
	sum.free_bytes = t.free;
	memcpy(sum.threshold_bytes, t.thr, sizeof(t.thr));
	sum.need_bytes = reclaiming(t.mode) ? t.need : 0;
	sum.in_flight_bytes = s.pending;
	/* Net of balloons deflating to their caps. */
	sum.reclaimable_bytes = sat_sub(sat_add(sat_add(s.reclaimable, s.limit), s.pending), s.release);
	sum.balloon_bytes = tot.balloon;
	sum.swap_bytes = tot.swap;
	sum.compress_bytes = tot.compress;
	sum.deflate_bytes = tot.deflate;
	sum.level = lambda > 0.0 && lambda < U64_DOUBLE_MAX ? (double)cfg->page_size / lambda : 0.0;
	*summary = sum;

	if (!admission && !(flags & RECLAIM_DECIDE_DRY_RUN)) {
		if (same_order) {
			/* The index did not change: hand it to the new table. */
			uint32_t *slots = p->hist[0].slots;

			p->hist[0].slots = p->hist[1].slots;
			p->hist[1].slots = slots;
		}
		p->cur = !p->cur;
		p->state = t.state;
		p->lambda = lambda;
	}
	return RECLAIM_OK;
}

int
reclaim_decide(struct reclaim_summary *summary, struct reclaim_decision *decisions,
	       size_t decision_size, struct reclaim_policy *policy,
	       const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	       size_t n_vms, uint32_t flags)
{
	return step(summary, decisions, decision_size, policy, host, vms, n_vms, flags, false, 0);
}

int
reclaim_plan_admission(struct reclaim_summary *summary, struct reclaim_decision *decisions,
		       size_t decision_size, struct reclaim_policy *policy,
		       const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
		       size_t n_vms, uint64_t new_vm_bytes)
{
	return step(summary, decisions, decision_size, policy, host, vms, n_vms,
		    RECLAIM_DECIDE_DRY_RUN, true, new_vm_bytes);
}
