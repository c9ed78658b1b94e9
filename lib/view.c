/* SPDX-License-Identifier: MIT */
/*
 * Per-VM view of one step: what the VM's balloon may hold (the balloon
 * cap), what it holds and has been asked, what is still in flight, how far
 * it is over its limit, and what can leave it this tick. Everything later
 * stages need about a VM, computed once.
 */
#include "reclaim-private.h"

/* Guest-reported values are untrusted: clamp them to the configured size. */
static inline uint64_t
guest_value(uint64_t v, uint64_t configured)
{
	return min_u64(v, configured);
}

/*
 * Balloon cap = min(balloon_max_fraction x configured, the VM's own cap,
 * balloon + guest free + guest free swap - margin). A VM without a driver
 * balloons nothing; a VM whose stats are stale or whose balloon is
 * unresponsive keeps what its balloon holds and gets no new inflation.
 */
static void
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

/* Bytes the balloon can be expected to inflate within balloon_horizon_ns,
 * from its observed rate (or the conservative default before one is seen). */
uint64_t
balloon_deliverable(const struct vm_hist *h, const struct reclaim_config *cfg)
{
	double rate = (h->flags & HIST_RATE_KNOWN) && h->rate > 0.0f ? (double)h->rate
								      : (double)cfg->balloon_default_rate;

	return double_to_u64(rate * (double)cfg->balloon_horizon_ns / (double)NS_PER_S);
}

void
view_vm(struct vm_work *w, struct sums *s, const struct reclaim_config *cfg,
	const struct tick *t, const struct reclaim_vm_stats *vm, const struct vm_hist *h)
{
	uint64_t b = guest_value(vm->balloon_bytes, vm->configured_bytes);
	uint64_t pending, projected, release;

	view_balloon(w, cfg, vm, h, t->now);
	/* Hard state: inflation already asked for counts only as far as the
	 * balloon can deliver it in time; the rest of the ask is withdrawn
	 * (host swap takes it over) so that it is not reclaimed twice. */
	if (t->mode == MODE_SPLIT && view_can_balloon(w))
		w->held = min_u64(w->held, sat_add(b, balloon_deliverable(h, cfg)));

	/* Balloon inflation asked earlier and not yet delivered will still
	 * arrive: count it, except in low where nothing waits. */
	pending = sat_sub(w->held, b);
	projected = t->mode == MODE_SWAP ? vm->consumed_bytes : sat_sub(vm->consumed_bytes, pending);
	if (t->mode != MODE_SWAP)
		s->pending += min_u64(pending, vm->consumed_bytes);
	/* A balloon above its cap (the guest ran short of memory and swap)
	 * deflates to it, in every state: the guest must not meet its OOM
	 * killer. That memory comes back, and the need grows by it, so the
	 * host takes it from elsewhere. */
	release = sat_sub(b, w->held);
	s->release += release;
	projected = sat_add(projected, release);
	w->projected = projected;
	w->limit_excess = sat_sub(projected, vm_max(vm));
	/* What can leave the VM this tick: the pages it holds now, and its
	 * balloon's room. The limit excess is taken from that first; beyond
	 * it, even the limit rule must wait for the next tick. */
	w->can = sat_add(vm->consumed_bytes, view_can_balloon(w) ? sat_sub(w->cap, w->held) : 0);
	s->limit += min_u64(w->limit_excess, w->can);
}
