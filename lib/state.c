/* SPDX-License-Identifier: MIT */
/* Free-memory states with hysteresis, and what each state asks of a step. */
#include "reclaim-private.h"

int
state_raw(const uint64_t thr[4], uint64_t free_bytes)
{
	if (free_bytes < thr[RECLAIM_STATE_LOW])
		return RECLAIM_STATE_LOW;
	if (free_bytes < thr[RECLAIM_STATE_HARD])
		return RECLAIM_STATE_HARD;
	if (free_bytes < thr[RECLAIM_STATE_SOFT])
		return RECLAIM_STATE_SOFT;
	return RECLAIM_STATE_HIGH;
}

/*
 * A worse state is entered as soon as free memory falls below its threshold.
 * A better one only once free memory exceeds the threshold that defines the
 * current state by the margin; several steps may be taken at once.
 * thr[s] is the level below which state s is entered (thr[HIGH] is the
 * target, not an entry level).
 */
int
state_next(int previous, const uint64_t thr[4], uint64_t margin, uint64_t free_bytes)
{
	int raw = state_raw(thr, free_bytes);
	int s;

	if (previous < RECLAIM_STATE_HIGH || previous > RECLAIM_STATE_LOW || raw >= previous)
		return raw;
	s = previous;
	/* free - threshold >= margin: a saturated threshold + margin would let
	 * any free amount through. */
	while (s > raw && free_bytes >= thr[s] && free_bytes - thr[s] >= margin)
		s--;
	return s;
}

/*
 * Which kind of step the state asks for. Below the high threshold every
 * state reclaims toward it, each with its own techniques; above it the
 * host holds inside the hysteresis band, and deflates balloons beyond it.
 */
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

void
tick_begin(struct tick *t, const struct reclaim_config *cfg, const struct reclaim_host *host,
	   int previous, bool admission, uint64_t new_vm_bytes)
{
	memset(t, 0, sizeof(*t));
	t->admission = admission;
	t->usable = host->total_bytes - host->reserved_bytes;
	t->free = min_u64(host->free_bytes, t->usable);
	t->now = host->now_ns;
	config_threshold_bytes(cfg, t->usable, t->thr, &t->margin);
	t->previous = previous;
	t->no_swap = (host->flags & RECLAIM_HOST_SWAP_BOUNDED) && host->swap_free_bytes < cfg->page_size;
	if (admission) {
		/* Plan as if the new VM had taken its memory already. */
		uint64_t shortage = sat_sub(new_vm_bytes, t->free);

		t->free = sat_sub(t->free, new_vm_bytes);
		t->state = state_raw(t->thr, t->free);
		t->need = sat_add(sat_sub(t->thr[RECLAIM_STATE_HIGH], t->free), shortage);
	} else {
		t->state = state_next(previous, t->thr, t->margin, t->free);
		t->need = sat_sub(t->thr[RECLAIM_STATE_HIGH], t->free);
	}
	t->mode = choose_mode(cfg, t);
	t->deliver_default = balloon_deliverable_at((double)cfg->balloon_default_rate, cfg);
	if (t->mode == MODE_BALLOON && t->state == RECLAIM_STATE_HIGH && !admission)
		t->reasons |= RECLAIM_REASON_EARLY;
	if (t->mode == MODE_HOLD)
		t->reasons |= RECLAIM_REASON_HOLD;
}
