/* SPDX-License-Identifier: MIT */
/*
 * From targets to actions (design.md section 4): what each VM's balloon may
 * hold (the balloon cap), the bounds its target must respect in each state,
 * and how its excess is split between balloon, compression and host swap.
 */
#include "reclaim-private.h"

/* Guest-reported values are untrusted: clamp them to the configured size. */
static inline uint64_t
guest_value(uint64_t v, uint64_t configured)
{
	return min_u64(v, configured);
}

bool
stats_stale(const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, uint64_t now)
{
	if (!(vm->flags & RECLAIM_VM_GUEST_STATS))
		return true;
	if (vm->stats_time_ns > now) /* from the future: cannot be trusted */
		return true;
	return now - vm->stats_time_ns > cfg->stats_max_age_ns;
}

/*
 * Balloon cap = min(balloon_max_fraction x configured, the VM's own cap,
 * balloon + guest free + guest free swap - margin). A VM without a driver
 * balloons nothing; a VM whose stats are stale or whose balloon is
 * unresponsive keeps what its balloon holds and gets no new inflation.
 */
void
view_balloon(struct vm_work *w, const struct reclaim_config *cfg,
	     const struct reclaim_vm_stats *vm, const struct vm_hist *h, uint64_t now)
{
	uint64_t c = vm->configured_bytes;
	uint64_t b = guest_value(vm->balloon_bytes, c);
	uint64_t cap = double_to_u64(cfg->balloon_max_fraction * (double)c);
	uint16_t kind = RECLAIM_BALLOON_LIMIT_FRACTION;
	uint32_t flags = 0;

	if (vm->balloon_cap_bytes < cap) {
		cap = vm->balloon_cap_bytes;
		kind = RECLAIM_BALLOON_LIMIT_VM_CAP;
	}
	if (!(vm->flags & RECLAIM_VM_BALLOON)) {
		/* Whatever a driverless balloon holds stays where it is. */
		w->cap = 0;
		w->held = b;
		w->cap_kind = RECLAIM_BALLOON_LIMIT_NO_DRIVER;
		w->flags = 0;
		return;
	}
	flags |= VIEW_DRIVER;
	if (!(cfg->flags & RECLAIM_CONFIG_NO_GUEST_CAP)) {
		if (stats_stale(cfg, vm, now)) {
			flags |= VIEW_STALE;
			if (b < cap) {
				cap = b;
				kind = RECLAIM_BALLOON_LIMIT_STALE;
			}
		} else {
			uint64_t spare = sat_add(guest_value(vm->guest_free_bytes, c),
						 guest_value(vm->guest_swap_free_bytes, c));
			uint64_t guest = sat_sub(sat_add(b, spare), cfg->guest_margin_bytes);

			/* A guest down to less than half its margin of free memory
			 * and swap is in distress: give back a quarter of its
			 * balloon per decision, not just the margin's shortfall. */
			if (spare < cfg->guest_margin_bytes / 2)
				guest = min_u64(guest, b - b / 4);
			if (guest < cap) {
				cap = guest;
				kind = RECLAIM_BALLOON_LIMIT_GUEST;
			}
		}
	}
	if (h->flags & HIST_UNRESPONSIVE) {
		if (b < cap) {
			cap = b;
			kind = RECLAIM_BALLOON_LIMIT_UNRESPONSIVE;
		}
	} else {
		flags |= VIEW_RESPONSIVE;
	}
	w->cap = cap;
	w->cap_kind = kind;
	w->flags = flags;
	/* What the balloon holds or was asked to reach, within the cap. */
	w->held = min_u64((flags & VIEW_RESPONSIVE) && !(flags & VIEW_STALE) ? max_u64(b, h->asked) : b,
			  cap);
}

bool
view_can_balloon(const struct vm_work *w)
{
	return (w->flags & VIEW_DRIVER) && (w->flags & VIEW_RESPONSIVE) && !(w->flags & VIEW_STALE) &&
	       w->cap > 0;
}

/* Bytes the balloon can be expected to inflate within balloon_horizon_ns,
 * from its observed rate (or the conservative default before one is seen). */
uint64_t
balloon_deliverable(const struct vm_hist *h, const struct reclaim_config *cfg)
{
	double rate = (h->flags & HIST_RATE_KNOWN) && h->rate > 0.0f ? (double)h->rate
								      : (double)cfg->balloon_default_rate;

	return double_to_u64(rate * (double)cfg->balloon_horizon_ns / (double)NS_PER_S);
}

/*
 * Hard state: inflation already asked for counts only as far as the balloon
 * can deliver it in time; the rest of the ask is withdrawn (host swap takes
 * it over) so that it is not reclaimed twice.
 */
void
view_horizon(struct vm_work *w, const struct vm_hist *h, const struct reclaim_config *cfg,
	     uint64_t balloon)
{
	w->held = min_u64(w->held, max_u64(balloon, sat_add(balloon, balloon_deliverable(h, cfg))));
}

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
void
split_excess(struct reclaim_decision *d, const struct vm_work *w, const struct vm_hist *h,
	     const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, int mode,
	     uint64_t excess, uint64_t limit_excess)
{
	uint64_t room = sat_sub(w->cap, w->held);
	uint64_t current = min_u64(vm->balloon_bytes, vm->configured_bytes);
	uint64_t balloon = 0, swap, compress = 0;

	switch (mode) {
	case MODE_SWAP:
		break;
	case MODE_SPLIT:
		if (cfg->flags & RECLAIM_CONFIG_HARD_SWAP_ONLY) {
			balloon = min_u64(limit_excess, room);
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
