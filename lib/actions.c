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
 * and host swap for the given mode, and fills the decision's amounts.
 */
static void
split_excess(struct reclaim_decision *d, const struct vm_work *w, const struct vm_hist *h,
	     const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, int mode,
	     uint64_t excess)
{
	uint64_t room = sat_sub(w->cap, w->held);
	uint64_t current = min_u64(vm->balloon_bytes, vm->configured_bytes);
	uint64_t balloon = 0, swap, compress = 0;

	switch (mode) {
	case MODE_SWAP:
		break;
	case MODE_SPLIT:
		if (cfg->flags & RECLAIM_CONFIG_HARD_SWAP_ONLY) {
			balloon = min_u64(w->limit_excess, room);
		} else {
			/* What is still in flight uses up part of the horizon. */
			uint64_t deliver = sat_sub(balloon_deliverable(h, cfg),
						   sat_sub(w->held, current));
			uint64_t want = min_u64(excess, room);

			balloon = min_u64(want, deliver);
			if (balloon < want)
				d->reasons |= RECLAIM_REASON_SLOW_BALLOON;
		}
		break;
	default: /* balloon first: early, soft, hold and deflate (limit rule) */
		balloon = min_u64(excess, room);
		break;
	}
	if (room < excess && mode != MODE_SWAP && (w->flags & VIEW_DRIVER))
		d->reasons |= RECLAIM_REASON_BALLOON_CAPPED;
	if (!view_can_balloon(w))
		balloon = 0;
	swap = excess - min_u64(balloon, excess);
	if (swap) {
		swap = min_u64(round_up(swap, cfg->page_size), vm->consumed_bytes);
		if (vm->flags & RECLAIM_VM_COMPRESS) {
			uint64_t size = vm->compress_max_bytes
						? vm->compress_max_bytes
						: double_to_u64(cfg->compress_max_fraction *
								(double)vm->configured_bytes);

			compress = min_u64(swap, sat_sub(size, vm->compress_used_bytes));
			compress &= ~(cfg->page_size - 1);
			swap -= compress;
		}
	}
	/* A driverless balloon keeps what it holds, but nothing is asked of it. */
	d->balloon_target_bytes = (w->flags & VIEW_DRIVER) ? w->held + balloon : 0;
	d->swap_bytes = swap;
	d->compress_bytes = compress;
}

uint64_t
actions_vm(struct reclaim_decision *d, const struct vm_work *w, const struct vm_hist *h,
	   const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, struct tick *t)
{
	uint64_t target = d->target_bytes, excess;

	if (t->mode == MODE_DEFLATE && !(w->flags & VIEW_FIXED)) {
		uint64_t give = (target - w->lo) & ~(cfg->page_size - 1);

		/* The level hands out the budget in doubles; the budget itself
		 * is kept to the byte. */
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
		split_excess(d, w, h, cfg, vm, mode_reclaims(t->mode) ? t->mode : MODE_HOLD, excess);
		if (!mode_reclaims(t->mode) && excess == 0 && w->held == 0)
			d->target_bytes = vm_max(vm); /* nothing held back */
		/* In hold, only rebalancing takes memory from a VM. */
		if (t->mode == MODE_HOLD && excess > w->limit_excess)
			d->reasons |= RECLAIM_REASON_REBALANCE;
	}
	d->block = t->mode == MODE_SWAP && vm->consumed_bytes > target;
	return excess;
}

void
actions_bound_swap(const struct reclaim_config *cfg, const struct reclaim_host *host,
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
