/* SPDX-License-Identifier: MIT */
/* Free-memory states with hysteresis (design.md section 2). */
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
