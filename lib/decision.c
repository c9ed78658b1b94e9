/* SPDX-License-Identifier: MIT */
/*
 * The decision record: each VM's decision written once, with the reasons
 * behind it, the action bits reclaim_apply() acts on (only what changes,
 * so that adapters see transitions), the bound that fixed its target, and
 * what the next tick remembers of it; then the host-wide summary.
 */
#include "reclaim-private.h"

uint32_t
decision_bound(const struct vm_work *w, const struct reclaim_vm_stats *vm, uint64_t target)
{
	uint64_t max = vm_max(vm);

	if (w->projected > max && target >= max)
		return RECLAIM_BOUND_MAX;
	if (target <= w->lo && target < w->base)
		return target <= vm->reservation_bytes ? RECLAIM_BOUND_RESERVATION
		       : (w->flags & VIEW_BALLOON_BOUND) ? RECLAIM_BOUND_BALLOON
							  : RECLAIM_BOUND_NONE;
	if (target <= w->lo && vm->reservation_bytes >= w->base && vm->reservation_bytes >= target)
		return RECLAIM_BOUND_RESERVATION;
	if (target >= w->base)
		return target >= max ? RECLAIM_BOUND_MAX : RECLAIM_BOUND_CONSUMED;
	return RECLAIM_BOUND_NONE;
}

static uint32_t
state_reasons(const struct vm_work *w, const struct vm_hist *h, const struct reclaim_vm_stats *vm,
	      const struct tick *t, uint64_t excess, bool shortfall)
{
	bool reclaims = mode_reclaims(t->mode);
	/* The host's (the same for every VM), and what the view and the
	 * history flag, which sit at their reasons' bits. */
	uint32_t r = t->reasons | (w->flags & VIEW_REASONS) | (h->flags & HIST_REASONS);

	if (reclaims && excess > w->limit_excess)
		r |= RECLAIM_REASON_PRESSURE;
	if (w->limit_excess)
		r |= RECLAIM_REASON_LIMIT;
	if (vm->shares == 0 && reclaims)
		r |= RECLAIM_REASON_ZERO_SHARES;
	if (shortfall && reclaims)
		r |= RECLAIM_REASON_SHORTFALL;
	return r;
}

void
decision_write(struct reclaim_decision *d, size_t dsize, struct vm_hist *h,
	       const struct vm_work *w, const struct reclaim_config *cfg,
	       const struct reclaim_vm_stats *vm, struct tick *t, bool shortfall, struct totals *tot)
{
	uint64_t target = w->target, excess;
	uint64_t current = vm_balloon(vm);

	/* Every member set once, in place: no clearing pass first. */
	d->struct_size = (uint32_t)dsize;
	d->actions = 0;
	d->id = vm->id;
	d->target_bytes = target;
	d->balloon_target_bytes = 0;
	d->swap_bytes = 0;
	d->compress_bytes = 0;
	d->excess_bytes = 0;
	d->balloon_cap_bytes = w->cap;
	d->block = 0;
	d->state = (uint32_t)t->state;
	d->reasons = 0;
	d->bound = 0;
	d->balloon_limit = w->cap_kind;
	d->reserved0 = 0;
	d->rho = 0.0;

	excess = actions_vm(d, w, h, cfg, vm, t, current);
	d->excess_bytes = excess;
	d->rho = wl_rho(w, d->target_bytes, cfg->page_size);
	d->reasons |= state_reasons(w, h, vm, t, excess, shortfall);
	if (d->block)
		d->reasons |= RECLAIM_REASON_BLOCKED;

	if ((w->flags & VIEW_DRIVER) &&
	    (d->balloon_target_bytes != w->asked_before || (w->flags & VIEW_RESEND)))
		d->actions |= RECLAIM_ACTION_BALLOON;
	if (d->swap_bytes)
		d->actions |= RECLAIM_ACTION_SWAP;
	if (d->compress_bytes)
		d->actions |= RECLAIM_ACTION_COMPRESS;
	if (d->block && !(h->flags & HIST_BLOCKED))
		d->actions |= RECLAIM_ACTION_BLOCK;
	if (!d->block && (h->flags & HIST_BLOCKED))
		d->actions |= RECLAIM_ACTION_UNBLOCK;

	if (d->balloon_target_bytes > w->held)
		tot->balloon += d->balloon_target_bytes - w->held;
	if ((w->flags & VIEW_DRIVER) && d->balloon_target_bytes < current) {
		tot->deflate += current - d->balloon_target_bytes;
		tot->deflate_backed +=
			sat_sub(balloon_backed_out(vm, current), d->balloon_target_bytes);
		/* The reason names a choice, not what the cap forces, and
		 * deflation of the comfortable host, not rebalancing. */
		if (d->balloon_target_bytes < min_u64(current, w->cap) &&
		    !(d->reasons & (RECLAIM_REASON_REBALANCE | RECLAIM_REASON_DISTRESS)))
			d->reasons |= RECLAIM_REASON_DEFLATE;
	}
	/* Never below the reservation: the VM may always use that much. */
	d->target_bytes = max_u64(d->target_bytes, vm->reservation_bytes);
	d->bound = mode_reclaims(t->mode) || t->mode == MODE_HOLD
			   ? decision_bound(w, vm, d->target_bytes)
			   : (w->limit_excess ? RECLAIM_BOUND_MAX : RECLAIM_BOUND_NONE);
	tot->swap += d->swap_bytes;
	tot->compress += d->compress_bytes;
	if (d->reasons & RECLAIM_REASON_REBALANCE) {
		tot->rebalanced = true;
		tot->back += sat_sub(w->held, d->balloon_target_bytes);
	} else if (tot->may_grow) {
		tot->in = sat_add(tot->in, gives_beyond_limit(d, w));
	}
	if (d->reasons & RECLAIM_REASON_SWAP_UNAVAILABLE)
		tot->flags |= RECLAIM_SUMMARY_SWAP_UNAVAILABLE;

	/* What the next tick remembers (committed unless dry run). */
	h->asked = (w->flags & VIEW_DRIVER) ? d->balloon_target_bytes : 0;
	h->flags &= (uint16_t)~(HIST_FAILED | HIST_BLOCKED | HIST_RESEND);
	if (d->block)
		h->flags |= HIST_BLOCKED;
}

void
decision_summary(struct reclaim_summary *sum, const struct tick *t, const struct sums *s,
		 const struct totals *tot, const struct reclaim_config *cfg, double lambda,
		 bool shortfall, uint32_t flags)
{
	bool reclaims = mode_reclaims(t->mode);

	memset(sum, 0, sizeof(*sum));
	sum->struct_size = sizeof(*sum);
	sum->decision_size = sizeof(struct reclaim_decision);
	sum->state = (uint32_t)t->state;
	sum->previous_state = (uint32_t)(t->previous < 0 ? t->state : t->previous);
	sum->flags = flags | tot->flags;
	if (shortfall)
		sum->flags |= RECLAIM_SUMMARY_SHORTFALL;
	if (t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_HIGH && !t->admission)
		sum->flags |= RECLAIM_SUMMARY_EARLY;
	if (tot->deflate)
		sum->flags |= RECLAIM_SUMMARY_DEFLATE;
	sum->usable_bytes = t->usable;
	sum->free_bytes = t->free;
	memcpy(sum->threshold_bytes, t->thr, sizeof(t->thr));
	sum->need_bytes = reclaims ? t->need : 0;
	sum->in_flight_bytes = s->pending;
	/* Net of balloons deflating to their caps. */
	sum->reclaimable_bytes =
		sat_sub(sat_add(sat_add(s->reclaimable, s->limit), s->pending), s->release);
	sum->balloon_bytes = tot->balloon;
	sum->swap_bytes = tot->swap;
	sum->compress_bytes = tot->compress;
	sum->deflate_bytes = tot->deflate;
	sum->level = lambda > 0.0 && lambda < U64_DOUBLE_MAX ? (double)cfg->page_size / lambda : 0.0;
}
