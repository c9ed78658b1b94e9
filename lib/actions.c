/* SPDX-License-Identifier: MIT */
/*
 * From targets to actions, per state: how a VM's excess over its target is
 * split between balloon inflation, compression and host swap; how much a
 * balloon deflates when the host is comfortable (within the host-wide
 * budget) or when rebalancing gives a VM memory back; which VMs low blocks;
 * and the host-swap bound when the host has little swap left.
 */
#include "reclaim-private.h"

static uint64_t
round_up(uint64_t x, uint64_t page)
{
	uint64_t r = x & (page - 1);

	return r ? sat_add(x, page - r) : x;
}

/*
 * Splits a VM's excess over its target into balloon inflation, compression
 * and host swap for the given mode, and fills the decision's amounts. Where
 * host swap cannot deliver, the balloon takes all it can (not only what
 * arrives within the horizon) and compression what it can of the rest.
 */
static void
split_excess(struct reclaim_decision *d, const struct vm_work *w, const struct vm_hist *h,
	     const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm,
	     const struct tick *t, int mode, bool swap_share, uint64_t excess, uint64_t current)
{
	uint64_t room = sat_sub(w->cap, w->held);
	uint64_t balloon = 0, swap, compress;
	bool no_swap = (w->flags & VIEW_NO_SWAP) != 0;

	if (excess == 0) {
		/* Nothing to split (most VMs, most ticks): the balloon keeps
		 * what it holds or was asked, and the reason still says when
		 * host swap could not have taken a share. */
		if (no_swap && (mode == MODE_SPLIT || mode == MODE_SWAP))
			d->reasons |= RECLAIM_REASON_SWAP_UNAVAILABLE;
		d->balloon_target_bytes = (w->flags & VIEW_DRIVER) ? w->held : 0;
		d->swap_bytes = 0;
		d->compress_bytes = 0;
		return;
	}
	if (no_swap && (mode == MODE_SPLIT || mode == MODE_SWAP)) {
		balloon = min_u64(excess, room);
		d->reasons |= RECLAIM_REASON_SWAP_UNAVAILABLE;
	} else if (mode == MODE_SPLIT) {
		if (cfg->flags & RECLAIM_CONFIG_HARD_SWAP_ONLY) {
			balloon = min_u64(w->limit_excess, room);
		} else {
			/* What is still in flight uses up part of the horizon. */
			uint64_t deliver = sat_sub(w->deliver, sat_sub(w->held, current));
			uint64_t want = min_u64(excess, room);

			balloon = min_u64(want, deliver);
			if (balloon < want)
				d->reasons |= RECLAIM_REASON_SLOW_BALLOON;
		}
	} else if (mode != MODE_SWAP) {
		/* balloon first: early, soft, hold and deflate (limit rule) */
		balloon = min_u64(excess, room);
	}
	if (room < excess && (mode != MODE_SWAP || no_swap) && (w->flags & VIEW_DRIVER))
		d->reasons |= RECLAIM_REASON_BALLOON_CAPPED;
	if (!view_can_balloon(w))
		balloon = 0;
	swap = excess - min_u64(balloon, excess);
	/* The balloon states host-swap only over a limit (and, with
	 * RECLAIM_CONFIG_SOFT_SWAP, a VM that cannot balloon at all in soft):
	 * a share the balloon cannot take waits for the hard state. */
	if (mode != MODE_SPLIT && mode != MODE_SWAP && !swap_share)
		swap = min_u64(swap, w->limit_excess);
	if (swap)
		swap = min_u64(round_up(swap, cfg->page_size), vm->consumed_bytes);
	compress = min_u64(swap, w->compress_room) & ~(cfg->page_size - 1);
	swap -= compress;
	if (no_swap)
		swap = 0;
	/* A driverless balloon keeps what it holds, but nothing is asked of it. */
	d->balloon_target_bytes = (w->flags & VIEW_DRIVER) ? w->held + balloon : 0;
	d->swap_bytes = swap;
	d->compress_bytes = compress;
}

/*
 * Low blocks a VM above its target while host swap (or compression) takes
 * its memory, so that it does not fault pages back faster than they go. A
 * brake, not a cure: only where host-side reclamation runs (a paused guest
 * cannot inflate its balloon), never once max_block_ns has passed without
 * its consumption falling (then not again for as long), and never with
 * max_block_ns 0.
 */
static bool
should_block(struct reclaim_decision *d, const struct vm_work *w, struct vm_hist *h,
	     const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, const struct tick *t,
	     uint64_t target)
{
	uint64_t consumed = vm->consumed_bytes;

	if (t->mode != MODE_SWAP || consumed <= target || (w->flags & VIEW_NO_SWAP) ||
	    !(d->swap_bytes | d->compress_bytes) || cfg->max_block_ns == 0)
		return false;
	if (h->flags & HIST_NO_BLOCK) {
		d->reasons |= RECLAIM_REASON_BLOCK_TIMEOUT;
		return false;
	}
	if (!(h->flags & HIST_BLOCKED) || sat_add(consumed, cfg->page_size) <= h->block_consumed) {
		/* Blocked now, or still giving memory: the clock starts again. */
		h->block_ns = t->now;
		h->block_consumed = consumed;
		return true;
	}
	if (sat_sub(t->now, h->block_ns) < cfg->max_block_ns)
		return true;
	h->flags |= HIST_NO_BLOCK;
	h->block_ns = sat_add(t->now, cfg->max_block_ns);
	d->reasons |= RECLAIM_REASON_BLOCK_TIMEOUT;
	return false;
}

uint64_t
actions_vm(struct reclaim_decision *d, const struct vm_work *w, struct vm_hist *h,
	   const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, struct tick *t,
	   uint64_t current)
{
	uint64_t target = d->target_bytes, excess;

	if ((t->mode == MODE_DEFLATE && !(w->flags & VIEW_FIXED)) || w->short_give) {
		/* Back from free memory: first what a VM short of memory lacks
		 * (its bounds already hold it), then, deflating, its part of
		 * the budget by the level. The level hands the budget out in
		 * doubles; the budget itself is kept to the byte. */
		uint64_t lo = w->lo, give = w->short_give;

		if (t->mode == MODE_DEFLATE && !(w->flags & VIEW_FIXED)) {
			uint64_t more = min_u64(min_u64((target - lo) & ~(cfg->page_size - 1),
							w->held - give),
						t->deflate_left);

			t->deflate_left -= more;
			give += more;
		}
		if (w->short_give)
			d->reasons |= RECLAIM_REASON_DISTRESS;
		d->balloon_target_bytes = w->held - give;
		d->target_bytes = w->base + give;
		excess = 0;
	} else if (target > w->projected) {
		/* Rebalanced upward: the balloon gives the difference back. */
		uint64_t give = min_u64(target - w->projected, w->held);

		excess = 0;
		d->balloon_target_bytes = w->held - give;
		d->reasons |= RECLAIM_REASON_REBALANCE;
	} else {
		/* The paper's soft state swaps a VM that cannot balloon. */
		bool swap_share = (cfg->flags & RECLAIM_CONFIG_SOFT_SWAP) && !view_can_balloon(w) &&
				  t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_SOFT;

		excess = sat_sub(w->projected, target);
		split_excess(d, w, h, cfg, vm, t, mode_reclaims(t->mode) ? t->mode : MODE_HOLD, swap_share,
			     excess, current);
		if (!mode_reclaims(t->mode) && excess == 0 && w->held == 0)
			d->target_bytes = vm_max(vm); /* nothing held back */
	}
	d->block = should_block(d, w, h, cfg, vm, t, target);
	return excess;
}

/*
 * Host swap is finite: every VM's swap is scaled down to what the host has
 * left, and what the cut leaves of a VM's excess goes to its balloon where
 * there is room. A VM whose memory no longer goes anywhere host-side is not
 * blocked for it.
 */
void
actions_bound_swap(const struct reclaim_config *cfg, const struct reclaim_host *host,
		   struct reclaim_decision *out, size_t dsize, size_t n, const struct vm_work *work,
		   struct vm_hist *next, struct totals *tot, uint32_t *flags)
{
	double scale;
	size_t i;

	if (!(host->flags & RECLAIM_HOST_SWAP_BOUNDED) || tot->swap <= host->swap_free_bytes)
		return;
	scale = (double)host->swap_free_bytes / (double)tot->swap;
	tot->swap = 0;
	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);
		const struct vm_work *w = &work[i];
		struct vm_hist *h = &next[i];
		uint64_t s, cut, more;

		if (!d->swap_bytes)
			continue;
		s = double_to_u64((double)d->swap_bytes * scale) & ~(cfg->page_size - 1);
		s = min_u64(s, d->swap_bytes);
		cut = d->swap_bytes - s;
		d->swap_bytes = s;
		d->reasons |= RECLAIM_REASON_SWAP_BOUNDED;
		if (!s)
			d->actions &= ~(uint32_t)RECLAIM_ACTION_SWAP;
		more = view_can_balloon(w) ? min_u64(cut, sat_sub(w->cap, d->balloon_target_bytes)) : 0;
		if (more) {
			d->balloon_target_bytes += more;
			tot->balloon += more;
			h->asked = d->balloon_target_bytes;
			d->actions |= RECLAIM_ACTION_BALLOON;
		}
		if (d->block && !(d->swap_bytes | d->compress_bytes)) {
			d->block = 0;
			d->reasons &= ~(uint32_t)RECLAIM_REASON_BLOCKED;
			h->flags &= (uint16_t)~HIST_BLOCKED;
			if (d->actions & RECLAIM_ACTION_BLOCK)
				d->actions &= ~(uint32_t)RECLAIM_ACTION_BLOCK;
			else
				d->actions |= RECLAIM_ACTION_UNBLOCK;
		}
		tot->swap += d->swap_bytes;
	}
	*flags |= RECLAIM_SUMMARY_SWAP_BOUNDED;
	/* The others now give less: what rebalancing may give back, again. */
	if (tot->rebalanced) {
		tot->in = 0;
		for (i = 0; i < n; i++) {
			const struct reclaim_decision *d = (const void *)((const char *)out + i * dsize);

			if (!(d->reasons & RECLAIM_REASON_REBALANCE))
				tot->in = sat_add(tot->in, gives_beyond_limit(d, &work[i]));
		}
	}
}

/*
 * Rebalancing moves memory at the same total: what VMs short of memory get
 * back from their balloons, others must give (new inflation, host swap,
 * compression), beyond what their limits take anyway. When they cannot
 * (their balloons cannot take their share, or host swap was cut), the
 * give-back shrinks to what they do give, for every rebalanced VM alike.
 */
void
actions_bound_rebalance(const struct reclaim_config *cfg, struct reclaim_decision *out,
			size_t dsize, size_t n, const struct vm_work *work, const struct vm_array *vms,
			struct vm_hist *next, struct totals *tot)
{
	double scale;
	size_t i;

	/* (decision_write() summed what is given back and what others give) */
	if (!tot->rebalanced || tot->back <= tot->in)
		return;
	scale = (double)tot->in / (double)tot->back;
	for (i = 0; i < n; i++) {
		struct reclaim_decision *d = (void *)((char *)out + i * dsize);
		const struct vm_work *w = &work[i];
		const struct reclaim_vm_stats *vm;
		uint64_t cur, holds, give, keep, bt;
		bool resend;

		if (!(d->reasons & RECLAIM_REASON_REBALANCE) || d->balloon_target_bytes >= w->held)
			continue;
		/* A balloon op that failed last time is sent again, whatever
		 * the target. */
		resend = (w->flags & VIEW_RESEND) != 0;
		vm = vm_at(vms, i);
		cur = vm_balloon(vm);
		holds = balloon_backed_out(vm, cur);
		give = w->held - d->balloon_target_bytes;
		keep = double_to_u64((double)give * scale) & ~(cfg->page_size - 1);
		keep = min_u64(keep, give);
		bt = w->held - keep;
		tot->deflate -= min_u64(tot->deflate, sat_sub(cur, d->balloon_target_bytes));
		tot->deflate += sat_sub(cur, bt);
		tot->deflate_backed -= min_u64(tot->deflate_backed,
					       sat_sub(holds, d->balloon_target_bytes));
		tot->deflate_backed += sat_sub(holds, bt);
		d->target_bytes = max_u64(sat_sub(d->target_bytes, give - keep), vm->reservation_bytes);
		d->bound = decision_bound(w, vm, d->target_bytes);
		d->balloon_target_bytes = bt;
		next[i].asked = bt;
		if (bt != w->asked_before || resend)
			d->actions |= RECLAIM_ACTION_BALLOON;
		else
			d->actions &= ~(uint32_t)RECLAIM_ACTION_BALLOON;
	}
}
