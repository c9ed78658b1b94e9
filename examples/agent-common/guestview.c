/* SPDX-License-Identifier: MIT */
/*
 * Guest stats are a snapshot the guest took up to one polling interval ago,
 * while the balloon size is read now. The policy caps a balloon at
 * balloon + guest free + free swap - margin, which is only right when both
 * terms come from the same moment: mixing a balloon that just grew with free
 * memory from before it grew counts that memory twice, and the cap flaps.
 * Without deflate-on-oom the guest's total memory shrinks by exactly the
 * balloon, so the stats tell the balloon size they were taken with:
 * empty_total - MemTotal, where empty_total (MemTotal + balloon) is learnt
 * from stats taken after the balloon had settled. Free memory is then moved
 * to the balloon size of now. Until empty_total is known, the stats are
 * withheld (the policy treats them as stale and does not inflate).
 *
 * Everything here comes from the guest and may be a lie: the policy clamps
 * it, and nothing here can overflow on it.
 */
#include "common.h"

void
guest_view_init(struct guest_view *v, uint64_t guest_swap, int deflate_on_oom,
		double wall_now_s)
{
	v->deflate_on_oom = deflate_on_oom;
	v->guest_swap = guest_swap;
	v->balloon_prev = UINT64_MAX;
	/* Until seen otherwise, the balloon may have just moved. */
	v->balloon_changed_wall = wall_now_s;
	v->empty_total = 0;
}

void
guest_view_balloon(struct guest_view *v, uint64_t balloon_bytes, double wall_now_s)
{
	if (balloon_bytes != v->balloon_prev)
		v->balloon_changed_wall = wall_now_s;
	v->balloon_prev = balloon_bytes;
}

int
guest_view_stats(struct guest_view_out *out, struct guest_view *v,
		 const struct guest_stats_raw *s, uint64_t balloon_bytes, uint64_t now_mono_ns,
		 uint64_t now_wall_ns)
{
	/* Available, not free: page cache is memory the guest can give the
	 * balloon without running out. */
	uint64_t avail;
	if (s->last_update_s == 0)
		return 0;
	if (s->has_available)
		avail = s->available;
	else if (s->has_free)
		avail = s->free;
	else
		return 0;

	/* A stats time in the future (a lying guest cannot set it, but a
	 * clock step can) counts as now: the policy judges the age. */
	uint64_t updated_ns = s->last_update_s > UINT64_MAX / NS_PER_S
				      ? UINT64_MAX
				      : s->last_update_s * NS_PER_S;
	uint64_t age = now_wall_ns > updated_ns ? now_wall_ns - updated_ns : 0;
	uint64_t time_ns = now_mono_ns > age ? now_mono_ns - age : 0;

	uint64_t free_now;
	if (v->deflate_on_oom || !s->has_total) {
		free_now = avail;
	} else {
		if ((double)s->last_update_s > v->balloon_changed_wall) {
			/* Taken after the balloon settled. */
			uint64_t empty = s->total + balloon_bytes;
			v->empty_total = empty < s->total ? UINT64_MAX : empty;
		}
		if (v->empty_total == 0)
			return 0;
		uint64_t then = v->empty_total > s->total ? v->empty_total - s->total : 0;
		uint64_t free_then = avail + then < avail ? UINT64_MAX : avail + then;
		free_now = free_then > balloon_bytes ? free_then - balloon_bytes : 0;
	}

	/* The guest reports swap traffic, not swap use; out - in over-counts
	 * use (pages freed while swapped out), so the free swap derived from
	 * it errs on the safe side. */
	uint64_t used = s->swap_out > s->swap_in ? s->swap_out - s->swap_in : 0;
	out->free_bytes = free_now;
	out->swap_free_bytes = v->guest_swap > used ? v->guest_swap - used : 0;
	out->stats_time_ns = time_ns;
	return 1;
}
