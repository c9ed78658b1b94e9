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

/* Lowers the cap to @p term when it is smaller, naming it. */
static inline void
cap_to(uint64_t *cap, uint16_t *kind, uint64_t term, uint16_t term_kind)
{
	bool lower = term < *cap; /* (no branch: which term is least varies) */

	*kind = lower ? term_kind : *kind;
	*cap = lower ? term : *cap;
}

/*
 * What the guest can give up without running out: balloon + free memory +
 * free swap at the guest's peak demand of late (it may come back), less
 * its margin (guest_margin()) and less what its rising demand will use
 * within distress_horizon_ns. A guest already down to half its margin gets at
 * least a quarter of its balloon back per decision: its demand may rise
 * faster than one sample showed.
 */
static uint64_t
guest_room(const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm,
	   const struct vm_hist *h, uint64_t b, uint64_t margin)
{
	uint64_t c = vm->configured_bytes;
	uint64_t spare = sat_add(guest_value(vm->guest_free_bytes, c),
				 guest_value(vm->guest_swap_free_bytes, c));
	uint64_t ahead = demand_ahead(h, cfg);
	uint64_t avail = sat_add(b, spare);
	uint64_t room;

	if ((h->flags & HIST_AVAIL_KNOWN) && h->avail_min < avail)
		avail = h->avail_min;
	room = sat_sub(sat_sub(avail, margin), ahead);

	if (spare < margin / 2)
		room = min_u64(room, b - b / 4);
	return room;
}

/*
 * Balloon cap = min(balloon_max_fraction x configured, the VM's own cap,
 * configured - active, what the guest can give up). A VM without a driver
 * balloons nothing; a VM whose stats are stale or whose balloon is
 * unresponsive keeps what its balloon holds and gets no new inflation, and
 * so does a guest that deflated its balloon itself, for a while.
 */
static void
view_balloon(struct vm_work *w, struct vm_room *room, const struct reclaim_config *cfg,
	     const struct reclaim_vm_stats *vm, const struct vm_hist *h, uint64_t b, uint64_t now)
{
	uint64_t c = vm->configured_bytes;
	uint64_t cap = double_to_u64(cfg->balloon_max_fraction * (double)c);
	uint64_t active = min_u64(vm->active_bytes, vm->consumed_bytes);
	uint16_t kind = RECLAIM_BALLOON_LIMIT_FRACTION;
	uint32_t flags = 0;

	room->margin = guest_margin(cfg, vm);
	cap_to(&cap, &kind, vm->balloon_cap_bytes, RECLAIM_BALLOON_LIMIT_VM_CAP);
	/* Never below what the VM actively uses (a guest protection, like
	 * the guest term: RECLAIM_CONFIG_NO_GUEST_CAP lifts both). */
	if (!(cfg->flags & RECLAIM_CONFIG_NO_GUEST_CAP))
		cap_to(&cap, &kind, c - min_u64(active, c), RECLAIM_BALLOON_LIMIT_ACTIVE);
	if (!(vm->flags & RECLAIM_VM_BALLOON)) {
		/* Whatever a driverless balloon holds stays where it is. */
		w->cap = room->fair_cap = 0;
		w->held = b;
		w->cap_kind = RECLAIM_BALLOON_LIMIT_NO_DRIVER;
		w->flags = VIEW_NO_DRIVER;
		return;
	}
	flags |= VIEW_DRIVER;
	/* (a balloon op that failed is sent again, whatever the target) */
	if (h->flags & HIST_RESEND)
		flags |= VIEW_RESEND;
	/* The terms below follow what the guest reports or does (a balloon
	 * that does not inflate is the guest's doing too): they limit what
	 * its balloon can deliver, not what it owes. */
	room->fair_cap = cap;
	if (h->flags & HIST_UNRESPONSIVE)
		cap_to(&cap, &kind, b, RECLAIM_BALLOON_LIMIT_UNRESPONSIVE);
	else
		flags |= VIEW_RESPONSIVE;
	if (!(cfg->flags & RECLAIM_CONFIG_NO_GUEST_CAP)) {
		if (stats_stale(cfg, vm, now)) {
			flags |= VIEW_STALE;
			cap_to(&cap, &kind, b, RECLAIM_BALLOON_LIMIT_STALE);
		} else {
			uint64_t guest = guest_room(cfg, vm, h, b, room->margin);

			if (guest < b)
				flags |= VIEW_DISTRESS;
			cap_to(&cap, &kind, guest, RECLAIM_BALLOON_LIMIT_GUEST);
		}
	}
	if (h->flags & HIST_SELF_DEFLATED) {
		flags |= VIEW_DISTRESS;
		cap_to(&cap, &kind, b, RECLAIM_BALLOON_LIMIT_DISTRESS);
	}
	w->cap = cap;
	w->cap_kind = kind;
	w->flags = flags;
	/* What the balloon holds or was asked to reach, within the cap. */
	w->held = min_u64((flags & VIEW_RESPONSIVE) && !(flags & VIEW_STALE) ? max_u64(b, h->asked) : b,
			  cap);
}

/* Bytes a balloon inflating at @p rate bytes/s delivers within
 * balloon_horizon_ns: its observed rate, or the conservative default before
 * one is seen (computed once a step, in tick_begin). */
uint64_t
balloon_deliverable_at(double rate, const struct reclaim_config *cfg)
{
	return double_to_u64(rate * (double)cfg->balloon_horizon_ns / (double)NS_PER_S);
}

/* A guest whose demand has not risen (most, most of the time) needs no
 * division to say so. */
uint64_t
demand_ahead(const struct vm_hist *h, const struct reclaim_config *cfg)
{
	if (!(h->demand > 0.0f))
		return 0;
	return double_to_u64((double)h->demand * (double)cfg->distress_horizon_ns /
			     (double)NS_PER_S);
}

/*
 * Above the high threshold, a VM whose fresh stats show it within the guest
 * margin of free memory (it would swap, or has nothing left to give) is
 * short of memory: it lacks the margin, and what its demand will use ahead,
 * less what it has free; at most its balloon, never over its limit.
 */
static uint64_t
short_want(const struct vm_work *w, const struct reclaim_config *cfg,
	   const struct reclaim_vm_stats *vm, const struct vm_hist *h, uint64_t now,
	   uint64_t margin)
{
	uint64_t free_now = guest_value(vm->guest_free_bytes, vm->configured_bytes);
	uint64_t ahead, want, u;

	if (w->limit_excess || w->held == 0 || !view_can_balloon(w) || stats_stale(cfg, vm, now) ||
	    free_now > margin)
		return 0;
	ahead = demand_ahead(h, cfg);
	want = sat_sub(sat_add(margin, ahead), free_now);
	want = (want + cfg->page_size - 1) & ~(cfg->page_size - 1);
	u = min_u64(w->projected, vm_max(vm));
	return min_u64(want, min_u64(w->held, vm_max(vm) - u));
}

void
view_vm(struct vm_work *w, struct vm_room *room, struct sums *s,
	const struct reclaim_config *cfg, const struct tick *t, const struct reclaim_vm_stats *vm,
	const struct vm_hist *h, uint64_t b)
{
	uint64_t pending, projected, holds, release;

	view_balloon(w, room, cfg, vm, h, b, t->now);
	w->compress_room = 0;
	if (vm->flags & RECLAIM_VM_COMPRESS) {
		uint64_t size = vm->compress_max_bytes
					? vm->compress_max_bytes
					: double_to_u64(cfg->compress_max_fraction *
							(double)vm->configured_bytes);

		w->compress_room = sat_sub(size, vm->compress_used_bytes) & ~(cfg->page_size - 1);
	}
	/* Host swap that cannot deliver: the host has none left, or this VM's
	 * swap_out failed a moment ago. */
	if ((t->mode == MODE_SPLIT || t->mode == MODE_SWAP) &&
	    (t->no_swap || (h->flags & HIST_SWAP_DOWN)))
		w->flags |= VIEW_NO_SWAP;
	/* What the balloon can inflate in time, in the hard state (the split
	 * of the excess reads it again). */
	w->deliver = t->mode == MODE_SPLIT ? balloon_deliverable(h, cfg, t) : 0;
	/* Hard state: inflation already asked for counts only as far as the
	 * balloon can deliver it in time; the rest of the ask is withdrawn
	 * (host swap takes it over) so that it is not reclaimed twice. */
	if (t->mode == MODE_SPLIT && view_can_balloon(w) && !(w->flags & VIEW_NO_SWAP))
		w->held = min_u64(w->held, sat_add(b, w->deliver));
	/* Low: nothing waits. Host swap takes the whole excess now, so what
	 * the balloon was asked and has not delivered is withdrawn, all of
	 * it: left in place, it would arrive on top of the swap and take the
	 * VM below its target (its reservation, even). Where host swap
	 * cannot deliver, the balloon is all there is, and its ask stands. */
	if (t->mode == MODE_SWAP && !(w->flags & VIEW_NO_SWAP))
		w->held = min_u64(w->held, b);

	/* Balloon inflation asked earlier and not yet delivered will still
	 * arrive: count it. */
	pending = sat_sub(w->held, b);
	projected = sat_sub(vm->consumed_bytes, pending);
	s->pending += min_u64(pending, vm->consumed_bytes);
	/* A balloon above its cap (the guest ran short of memory and swap)
	 * deflates to it, in every state: the guest must not meet its OOM
	 * killer. That memory comes back, and the need grows by it, so the
	 * host takes it from elsewhere: as far as the balloon can hold it. */
	holds = balloon_backed_out(vm, b);
	room->untrue = b - holds;
	release = sat_sub(holds, w->held);
	s->release += release;
	projected = sat_add(projected, release);
	w->projected = projected;
	w->limit_excess = sat_sub(projected, vm_max(vm));
	/* What can leave the VM this tick: the pages it holds now (host swap,
	 * where it can deliver; else only what its compression cache takes),
	 * and its balloon's room. The limit excess is taken from that first;
	 * beyond it, even the limit rule must wait for the next tick. */
	room->can = sat_add((w->flags & VIEW_NO_SWAP) ? w->compress_room : vm->consumed_bytes,
			 view_can_balloon(w) ? sat_sub(w->cap, w->held) : 0);
	s->limit += min_u64(w->limit_excess, room->can);
	w->short_give = mode_reclaims(t->mode) ? 0 : short_want(w, cfg, vm, h, t->now, room->margin);
}
