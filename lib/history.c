/* SPDX-License-Identifier: MIT */
/*
 * Per-VM history across ticks: an open-addressing index from the caller's
 * VM id to its entry, and balloon progress by rate.
 *
 * The policy keeps two tables. Each decide builds the next one in the order
 * of its input (which also detects duplicate ids), carrying over what the
 * current one knows about each id. Ids absent from the input follow, for
 * as long as their grace period lasts and the table has room: a missed
 * poll does not cost a VM its history. After that they are forgotten, and
 * their ids may be reused.
 */
#include <string.h>

#include "reclaim-private.h"

/* Every bit of the id moves every bit of the hash (MurmurHash3's 64-bit
 * finalizer): ids that differ only in their high bits, such as a host
 * number above an index, spread over the whole table. */
static inline uint64_t
hash64(uint64_t id)
{
	uint64_t h = id;

	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 33;
	return h;
}

static inline uint32_t
hash_id(uint64_t id, uint32_t mask)
{
	return (uint32_t)hash64(id) & mask;
}

/*
 * A slot holds an entry's index + 1 in its low SLOT_BITS bits (capacities
 * are at most 2^28) and, above them, a few bits of the id's hash: a slot
 * whose tag differs holds another id, known without reading that id (a
 * cache miss when the ids come in an order the table was not built in).
 */
#define SLOT_BITS 29
#define SLOT_INDEX ((1u << SLOT_BITS) - 1)

static inline uint32_t
slot_tag(uint64_t id)
{
	return (uint32_t)(hash64(id) >> (64 - (32 - SLOT_BITS))) << SLOT_BITS;
}

size_t
hist_slots(size_t capacity)
{
	size_t s = 8;

	/* Load factor at most 2/3: short probe runs, and a small table. */
	while (s < capacity + capacity / 2)
		s <<= 1;
	return s;
}

void
hist_clear_index(struct hist_table *t, uint32_t mask)
{
	memset(t->slots, 0, ((size_t)mask + 1) * sizeof(*t->slots));
	t->n = 0;
	t->present = 0;
}

size_t
hist_insert(struct hist_table *t, uint32_t mask, uint64_t id, uint32_t idx, const void *base,
	    size_t stride)
{
	uint32_t s = hash_id(id, mask), tag = slot_tag(id);

	for (;;) {
		uint32_t v = t->slots[s];
		uint64_t other;

		if (v == 0) {
			t->slots[s] = (idx + 1) | tag;
			return 0;
		}
		if ((v & ~SLOT_INDEX) == tag) {
			memcpy(&other, (const char *)base + (size_t)((v & SLOT_INDEX) - 1) * stride,
			       sizeof(other));
			if (other == id)
				return v & SLOT_INDEX;
		}
		s = (s + 1) & mask;
	}
}

/*
 * Lookups in an order the tables were not built in miss the cache at every
 * step once they outgrow it. The pass over the VMs asks for the lines it
 * will need a little ahead: first the index slots, then (once the slot is
 * likely cached) the old entry it points to.
 */
#if defined(__GNUC__)
#define PREFETCH(p, rw) __builtin_prefetch((p), (rw), 1)
#else
#define PREFETCH(p, rw) ((void)(p))
#endif

void
hist_prefetch_slots(const struct hist_table *cur, const struct hist_table *next, uint32_t mask,
		    uint64_t id)
{
	uint32_t s = hash_id(id, mask);

	if (cur)
		PREFETCH(&cur->slots[s], 0);
	PREFETCH(&next->slots[s], 1);
}

void
hist_prefetch_entry(const struct hist_table *cur, uint32_t mask, uint64_t id)
{
	uint32_t v = cur->slots[hash_id(id, mask)];

	if (v && (v & ~SLOT_INDEX) == slot_tag(id)) {
		/* Every line of the entry: it is copied whole. */
		const char *e = (const char *)&cur->entries[(v & SLOT_INDEX) - 1];

		for (size_t off = 0; off < sizeof(struct vm_hist); off += 64)
			PREFETCH(e + off, 0);
		PREFETCH(e + sizeof(struct vm_hist) - 1, 0);
	}
}

struct vm_hist *
hist_find(const struct hist_table *t, uint32_t mask, uint64_t id)
{
	uint32_t s, tag;

	if (t->n == 0)
		return NULL;
	s = hash_id(id, mask);
	tag = slot_tag(id);
	for (;;) {
		uint32_t v = t->slots[s];

		if (v == 0)
			return NULL;
		if ((v & ~SLOT_INDEX) == tag && t->entries[(v & SLOT_INDEX) - 1].id == id)
			return &t->entries[(v & SLOT_INDEX) - 1];
		s = (s + 1) & mask;
	}
}

struct vm_hist *
hist_remember_blocked(struct hist_table *t, uint32_t mask, size_t capacity, uint64_t id)
{
	struct vm_hist *h;

	if (t->n >= capacity)
		return NULL;
	h = &t->entries[t->n];
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->flags = HIST_BLOCKED;
	h->block_consumed = UINT64_MAX; /* its blocking clock starts when next seen */
	hist_insert(t, mask, id, (uint32_t)t->n, &t->entries[0].id, sizeof(*h));
	t->n++;
	return h;
}

/*
 * Balloon progress by rate: the progress window starts whenever the balloon
 * has kept pace (grown at balloon_min_rate or better since the window
 * started); a balloon whose target is unmet and which falls behind that pace
 * for a whole balloon_window_ns is unresponsive. Its target is then reset
 * to its actual size and it is left alone until balloon_backoff_ns has
 * passed. A rate, not "any progress": a driver creeping one page per window
 * is still unresponsive, and one that stalls half-way is caught one window
 * after it stalled.
 */
/*
 * The guest's demand: how fast balloon + free memory + free swap falls.
 * Ballooning moves bytes between the balloon and spare memory, so the sum
 * falls when, and only when, the guest uses more: a balloon that inflates
 * takes free memory byte for byte, and memory a deflating balloon gives back
 * counts as used once the guest uses it (page cache does not: guests report
 * it as available).
 *
 * A guest's free memory jitters by a few MiB between readings (its kernel
 * allocates, page cache comes and goes, and the balloon size and the stats
 * are rarely read at the same instant), and a jitter over a short tick,
 * projected over distress_horizon_ns, would look like a spike. So the fall
 * is measured from the start of a window of at least an eighth of the
 * horizon (the most the sum reached since), less a noise allowance of an
 * eighth of the guest margin, and divided by the window: a real spike shows
 * at the first reading, as the fall so far over the window, and a steady
 * rise at its true rate once a window has passed. The rate kept is the
 * larger of that and the earlier rate decaying linearly to nothing over
 * distress_horizon_ns: it follows a spike at once and lets it go slowly.
 * Stale stats leave it as it was; stats that go back in time restart it.
 */
static void
track_demand(struct vm_hist *out, const struct reclaim_config *cfg,
	     const struct reclaim_vm_stats *vm, uint64_t balloon, uint64_t now)
{
	uint64_t c = vm->configured_bytes, ts = vm->stats_time_ns;
	uint64_t spare = sat_add(min_u64(vm->guest_free_bytes, c),
				 min_u64(vm->guest_swap_free_bytes, c));
	uint64_t avail = sat_add(balloon, spare);
	uint64_t window = cfg->distress_horizon_ns / 8;

	if (stats_stale(cfg, vm, now))
		return;
	/* Ballooning moves bytes between balloon and spare memory: their sum
	 * falls only when the guest uses more. Its least value is the guest's
	 * peak demand, remembered for demand_memory_ns. */
	if ((out->flags & HIST_AVAIL_KNOWN) && ts > out->avail_ns && avail > out->avail_min &&
	    cfg->demand_memory_ns > 0) {
		double back = (double)(ts - out->avail_ns) / (double)cfg->demand_memory_ns;

		out->avail_min += back >= 1.0 ? avail - out->avail_min
					      : double_to_u64((double)(avail - out->avail_min) * back);
	} else if (!(out->flags & HIST_AVAIL_KNOWN) || avail < out->avail_min ||
		   cfg->demand_memory_ns == 0 || ts < out->avail_ns) {
		out->avail_min = avail;
	}
	if ((out->flags & HIST_AVAIL_KNOWN) && ts > out->avail_ns) {
		double dt = (double)(ts - out->avail_ns);
		uint64_t span = ts - out->win_ns;
		uint64_t fall = sat_sub(sat_sub(out->win_avail, avail), cfg->guest_margin_bytes / 8);
		/* Steady guests (no fall, no demand left to decay) skip the
		 * divisions: each term is then exactly zero. */
		double inst = fall ? (double)fall * (double)NS_PER_S / (double)max_u64(span, window)
				   : 0.0;
		double keep = out->demand > 0.0f && cfg->distress_horizon_ns > 0 &&
					      dt < (double)cfg->distress_horizon_ns
				      ? 1.0 - dt / (double)cfg->distress_horizon_ns
				      : 0.0;
		double rate = (double)out->demand * keep;
		bool roll = span >= window; /* (no branch: it follows the clock) */

		out->demand = (float)(inst > rate ? inst : rate);
		out->win_avail = roll ? avail : max_u64(out->win_avail, avail);
		out->win_ns = roll ? ts : out->win_ns;
	} else if (!(out->flags & HIST_AVAIL_KNOWN) || ts < out->avail_ns) {
		out->demand = 0.0f;
		out->win_avail = avail;
		out->win_ns = ts;
	} else {
		return; /* the same sample again */
	}
	out->avail_ns = ts;
	out->flags |= HIST_AVAIL_KNOWN;
}

/* Longer than this between two readings is a gap, not a tick. */
static uint64_t
time_gap_ns(const struct reclaim_config *cfg)
{
	uint64_t longest = max_u64(max_u64(cfg->balloon_window_ns, cfg->balloon_backoff_ns),
				   cfg->stats_max_age_ns);

	return longest > UINT64_MAX / 10 ? UINT64_MAX : 10 * longest;
}

static void
clamp_deadlines(struct vm_hist *h, const struct reclaim_config *cfg, uint64_t now)
{
	h->retry_ns = min_u64(h->retry_ns, sat_add(now, cfg->balloon_backoff_ns));
	h->hold_ns = min_u64(h->hold_ns, sat_add(now, cfg->balloon_backoff_ns));
	h->swap_retry_ns = min_u64(h->swap_retry_ns, sat_add(now, cfg->swap_retry_ns));
	if (h->flags & HIST_NO_BLOCK)
		h->block_ns = min_u64(h->block_ns, sat_add(now, cfg->max_block_ns));
	else
		h->block_ns = min_u64(h->block_ns, now);
	h->last_ns = min_u64(h->last_ns, now);
}

void
hist_advance(struct vm_hist *out, const struct vm_hist *old, bool returning,
	     const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, uint64_t balloon,
	     uint64_t now)
{
	uint64_t id = out->id;
	/* Progress is judged on what the balloon can really hold: its pages
	 * are guest memory the host does not back, so a balloon that grows
	 * while consumption does not fall is growing in the guest's tale
	 * only. (Consumption at the configured size may count the VMM's
	 * overhead in: the reported size is all there is to go by then.) */
	uint64_t shown = vm->consumed_bytes < vm->configured_bytes ? balloon_backed_out(vm, balloon)
								   : balloon;

	if (!old) {
		memset(out, 0, sizeof(*out));
		out->id = id;
		/* Without a driver nothing was asked: a driver that comes back
		 * later must not find an old request in flight. */
		out->asked = (vm->flags & RECLAIM_VM_BALLOON) ? balloon : 0;
		out->window_start_ns = now;
		out->window_balloon = shown;
		out->last_balloon = balloon;
		out->last_ns = now;
		track_demand(out, cfg, vm, balloon, now);
		return;
	}
	*out = *old;
	/* The caller's clock may jump: backwards (a different clock, a bad
	 * reading) or far ahead (a host suspended for days, a bad reading).
	 * Progress is judged only between readings a sane tick apart: after a
	 * jump the VM is taken as returning, and deadlines set by the other
	 * side of it are brought within one period of now. A single absurd
	 * reading thus costs nothing once sane time comes back. */
	if (now < old->last_ns || now - old->last_ns > time_gap_ns(cfg)) {
		returning = true;
		clamp_deadlines(out, cfg, now);
	}
	track_demand(out, cfg, vm, balloon, now);
	if ((out->flags & HIST_SWAP_DOWN) && now >= out->swap_retry_ns)
		out->flags &= (uint16_t)~HIST_SWAP_DOWN;
	if ((out->flags & HIST_SELF_DEFLATED) && now >= out->hold_ns)
		out->flags &= (uint16_t)~HIST_SELF_DEFLATED;
	if ((out->flags & HIST_NO_BLOCK) && now >= out->block_ns)
		out->flags &= (uint16_t)~HIST_NO_BLOCK;
	/* A balloon that shrank below both its size and what it was asked
	 * (virtio's deflate-on-oom does that) was given back by a guest
	 * running out of memory: take it as such, and do not inflate it
	 * again before balloon_backoff_ns. */
	if ((vm->flags & RECLAIM_VM_BALLOON) && !returning &&
	    sat_add(balloon, cfg->page_size) < min_u64(old->last_balloon, old->asked)) {
		out->flags |= HIST_SELF_DEFLATED;
		out->hold_ns = sat_add(now, cfg->balloon_backoff_ns);
		out->asked = balloon;
	}
	if (returning) {
		/* Back after an absence: what the balloon did while nobody
		 * watched says nothing about its pace. */
		out->window_start_ns = now;
		out->window_balloon = shown;
	}
	if (!(vm->flags & RECLAIM_VM_BALLOON)) {
		out->flags &= (uint16_t)~(HIST_UNRESPONSIVE | HIST_RATE_KNOWN);
		out->asked = 0;
		out->window_start_ns = now;
		out->window_balloon = shown;
		out->last_balloon = balloon;
		out->last_ns = now;
		return;
	}

	/* Observed inflation rate, smoothed; only inflation says anything,
	 * and only over a tick. */
	if (!returning && now > old->last_ns && balloon > old->last_balloon) {
		double dt = (double)(now - old->last_ns) / (double)NS_PER_S;
		double inst = (double)(balloon - old->last_balloon) / dt;

		out->rate = (out->flags & HIST_RATE_KNOWN) ? (float)(0.5 * out->rate + 0.5 * inst)
							    : (float)inst;
		out->flags |= HIST_RATE_KNOWN;
	}

	if ((out->flags & HIST_UNRESPONSIVE) && now >= out->retry_ns) {
		/* Back-off over: give it another chance with a fresh window. */
		out->flags &= (uint16_t)~HIST_UNRESPONSIVE;
		out->window_start_ns = now;
		out->window_balloon = shown;
	}

	if (!(out->flags & HIST_UNRESPONSIVE) && out->asked > sat_add(balloon, cfg->page_size)) {
		uint64_t span = sat_sub(now, out->window_start_ns);
		double grown = (double)sat_sub(shown, out->window_balloon);
		double pace = (double)cfg->balloon_min_rate * (double)span / (double)NS_PER_S;

		if (grown >= pace) {
			/* Keeping pace: the window starts again now. */
			out->window_start_ns = now;
			out->window_balloon = shown;
		} else if (span >= cfg->balloon_window_ns) {
			out->flags |= HIST_UNRESPONSIVE;
			out->retry_ns = sat_add(now, cfg->balloon_backoff_ns);
			out->asked = balloon;
			out->rate = (float)(grown * (double)NS_PER_S / (double)span);
			out->flags |= HIST_RATE_KNOWN;
			out->window_start_ns = now;
			out->window_balloon = shown;
		}
	} else if (!(out->flags & HIST_UNRESPONSIVE)) {
		/* Target met (or deflating): the next window starts now. */
		out->window_start_ns = now;
		out->window_balloon = shown;
	}
	out->last_balloon = balloon;
	out->last_ns = now;
}

bool
hist_carry_absent(struct hist_table *next, const struct hist_table *cur, uint32_t mask,
		  size_t capacity, const struct reclaim_config *cfg, uint64_t now, bool same_order)
{
	uint64_t grace_ns = cfg->absent_grace_ns;
	size_t i, n = next->present;
	bool moved = false;

	/* In input order, every VM of the last tick is present again: only
	 * the absent tail can carry over, and when all of it does, at the
	 * same indices, the index built for it still holds. */
	for (i = same_order ? cur->present : 0; i < cur->n && n < capacity; i++) {
		const struct vm_hist *h = &cur->entries[i];

		/* A VM blocked when it left stays known past its grace, while
		 * there is room: forgotten, it would never be unblocked. */
		if ((grace_ns == 0 || sat_sub(now, h->last_ns) > grace_ns) &&
		    !(h->flags & HIST_BLOCKED))
			continue;
		if (!same_order && hist_find(next, mask, h->id))
			continue; /* present this tick */
		if (n != i)
			moved = true;
		next->entries[n] = *h;
		/* Last seen after now (a clock that jumped ahead, then came
		 * back): what it set on the other side, its absence included,
		 * is brought within one period of now, as for a VM present. */
		if (h->last_ns > now)
			clamp_deadlines(&next->entries[n], cfg, now);
		n++;
	}
	if (same_order && !moved && n == cur->n) {
		next->n = n;
		return false; /* cur's index holds: the commit hands it over */
	}
	if (same_order) {
		/* Some expired: index the whole table again. */
		hist_clear_index(next, mask);
		next->present = cur->present;
		for (i = 0; i < cur->present; i++)
			hist_insert(next, mask, next->entries[i].id, (uint32_t)i, &next->entries[0].id,
				    sizeof(next->entries[0]));
	}
	for (i = next->present; i < n; i++)
		hist_insert(next, mask, next->entries[i].id, (uint32_t)i, &next->entries[0].id,
			    sizeof(next->entries[0]));
	next->n = n;
	return true;
}
