/* SPDX-License-Identifier: MIT */
/*
 * A small simulated host for multi-tick tests of actuation: guests
 * with a working set (demand), balloon drivers that inflate at their own
 * rate (or stall), host swap and a compression cache, blocking, and an
 * adapter (struct reclaim_adapter) that can fail on demand or at random.
 *
 * Header-only so that each test links nothing else; every function is
 * static inline so that a test using part of it compiles warning-free.
 *
 * Model, per VM (all bytes, page-aligned):
 * - The guest has `configured` bytes of RAM; the balloon holds `balloon` of
 *   them, the rest (avail) is the guest's. It wants `demand` bytes: `used`
 *   = min(demand, avail) live in RAM, the rest in guest swap (gswap_total);
 *   a guest whose demand does not fit in RAM + swap is out of memory (the
 *   OOM killer would run): counted in oom_events.
 * - `touched` guest pages have host backing (resident, host-swapped or
 *   compressed). The guest touches a page when it first uses it and never
 *   gives it back by itself: a guest that frees memory still costs the host,
 *   which is what ballooning recovers. Inflating the balloon shrinks touched
 *   to what is left to the guest; the balloon takes random pages, so host-
 *   swapped and compressed pages go in proportion.
 * - Host-consumed memory = resident + compressed/2 (a 2:1 cache).
 * - Growth needs free host memory; what the host cannot give is counted in
 *   denied_bytes (a real host would stall or crash).
 * - Host-swapped and compressed pages that the guest uses actively fault
 *   back in (swapin_per_s of them per second, scaled by activity).
 * - Host swap writes at most swap_bw bytes/s (0: unbounded) host-wide: a
 *   swap_out beyond this tick's budget does what it can, and the policy sees
 *   the rest still resident at the next tick.
 * - Host swap may be bounded (swap_bounded: swap_room bytes left, used up
 *   by swap_out, reported in the host snapshot), or missing altogether
 *   (swap_errno: every swap_out fails with it).
 * - A blocked guest does not grow and faults nothing back in.
 * - A guest with cache_rate fills its free memory with page cache at that
 *   pace (bytes/s), as far as the host has memory free: over time it touches
 *   everything left to it, the usual reason ballooning is needed at all.
 */
#ifndef FAKE_WORLD_H
#define FAKE_WORLD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <reclaim.h>

#define FW_KIB 1024ull
#define FW_MIB (1024ull * FW_KIB)
#define FW_GIB (1024ull * FW_MIB)
#define FW_NS 1000000000ull
#define FW_PAGE 4096ull
#define FW_MAX_VMS 16

enum fw_op { FW_OP_BALLOON, FW_OP_SWAP, FW_OP_COMPRESS, FW_OP_BLOCK, FW_OP_UNBLOCK, FW_OPS };

struct fw_vm {
	/* what the hypervisor knows */
	uint64_t id;
	bool present;               /* in the snapshot */
	bool driver;                /* balloon driver present */
	bool stats;                 /* guest stats reported */
	bool stats_frozen;          /* stats_time stops at its current value */
	bool compress;              /* has a compression cache */
	uint64_t configured, reservation, limit, shares;
	uint64_t balloon_cap;       /* per-VM balloon cap */
	uint64_t compress_max;      /* 0: the config's fraction */
	uint64_t stats_time;

	/* guest behaviour */
	double inflate_rate;        /* bytes/s; 0 = stalled driver */
	double deflate_rate;        /* bytes/s */
	double active_fraction;     /* of used memory */
	double cache_rate;          /* bytes/s of page cache filling free memory */
	uint64_t gswap_total;       /* guest swap device */

	/* state */
	uint64_t demand, used, touched, balloon, balloon_target;
	uint64_t swapped, compressed; /* guest bytes host-swapped / compressed */
	double inflate_credit;
	bool blocked;

	/* adapter bookkeeping */
	uint32_t fail_ops;          /* 1 << enum fw_op: these ops fail */
	uint32_t injected;          /* ops failed in the current apply */
	uint32_t called;            /* ops called in the current apply */
	uint64_t calls[FW_OPS];     /* total calls per op */
	uint64_t last_arg[FW_OPS];  /* argument of the last call per op */
	uint64_t redundant_block;   /* block of a blocked VM */
	uint64_t redundant_unblock; /* unblock of a running VM */
	uint64_t oom_events;
	uint64_t blocked_ticks;
	uint64_t blocked_run, blocked_run_max; /* consecutive blocked ticks */
};

struct fw_world {
	uint64_t total, reserved, other; /* other: host memory used outside VMs */
	uint64_t now, tick_ns;
	double swapin_per_s;
	uint64_t swap_bw;                /* host swap bytes/s, 0: unbounded */
	uint64_t swap_budget;            /* left in this tick */
	bool swap_bounded;               /* the host reports swap_room */
	uint64_t swap_room;              /* host swap left, with swap_bounded */
	int swap_errno;                  /* nonzero: swap_out fails with -swap_errno */
	double fail_prob;                /* every adapter call fails with this */
	struct reclaim_rng rng;
	size_t n;
	struct fw_vm vm[FW_MAX_VMS];
	uint64_t unknown_calls;          /* adapter called with an unknown id */
	uint64_t denied_bytes;           /* growth the host could not back */
	uint64_t calls, injected;        /* all adapter calls, failed ones */
};

static inline uint64_t
fw_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t
fw_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t
fw_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static inline uint64_t
fw_pages(double bytes)
{
	if (!(bytes > 0.0))
		return 0;
	return (uint64_t)(bytes / (double)FW_PAGE) * FW_PAGE;
}

static inline void
fw_init(struct fw_world *w, uint64_t total, uint64_t reserved, uint64_t tick_ns, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->total = total;
	w->reserved = reserved;
	w->tick_ns = tick_ns;
	w->now = 1000 * FW_NS; /* not 0: times before the start stay representable */
	w->swapin_per_s = 0.02;
	reclaim_rng_seed(&w->rng, seed);
}

/* Resets a VM slot to a fresh guest that already uses @p used bytes. */
static inline void
fw_vm_reset(struct fw_world *w, struct fw_vm *v, uint64_t id, uint64_t configured, uint64_t used)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->present = true;
	v->driver = true;
	v->stats = true;
	v->configured = configured;
	v->limit = RECLAIM_UNLIMITED;
	v->balloon_cap = RECLAIM_UNLIMITED;
	v->shares = 1000;
	v->stats_time = w->now;
	v->inflate_rate = 64.0 * FW_MIB;
	v->deflate_rate = 256.0 * FW_MIB;
	v->active_fraction = 0.5;
	v->gswap_total = configured / 2;
	v->demand = v->used = v->touched = used;
}

static inline struct fw_vm *
fw_add_vm(struct fw_world *w, uint64_t id, uint64_t configured, uint64_t used)
{
	struct fw_vm *v = &w->vm[w->n++];

	fw_vm_reset(w, v, id, configured, used);
	return v;
}

static inline struct fw_vm *
fw_find(struct fw_world *w, uint64_t id)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->vm[i].present && w->vm[i].id == id)
			return &w->vm[i];
	return NULL;
}

static inline uint64_t
fw_resident(const struct fw_vm *v)
{
	return v->touched - v->swapped - v->compressed;
}

static inline uint64_t
fw_consumed(const struct fw_vm *v)
{
	return fw_resident(v) + v->compressed / 2;
}

static inline uint64_t
fw_usable(const struct fw_world *w)
{
	return w->total - w->reserved;
}

static inline uint64_t
fw_free(const struct fw_world *w)
{
	uint64_t used = w->other;

	for (size_t i = 0; i < w->n; i++)
		if (w->vm[i].present)
			used += fw_consumed(&w->vm[i]);
	return fw_sub(fw_usable(w), used);
}

/* Sets the memory used outside the VMs so that @p free bytes are free. */
static inline void
fw_set_free(struct fw_world *w, uint64_t free)
{
	w->other = 0;
	w->other = fw_sub(fw_free(w), free);
}

static inline void
fw_host(const struct fw_world *w, struct reclaim_host *h)
{
	struct reclaim_host init = RECLAIM_HOST_INIT;

	*h = init;
	h->total_bytes = w->total;
	h->reserved_bytes = w->reserved;
	h->free_bytes = fw_free(w);
	h->now_ns = w->now;
	if (w->swap_bounded) {
		h->flags |= RECLAIM_HOST_SWAP_BOUNDED;
		h->swap_free_bytes = w->swap_room;
	}
}

static inline void
fw_vm_stats(const struct fw_world *w, const struct fw_vm *v, struct reclaim_vm_stats *s)
{
	struct reclaim_vm_stats init = RECLAIM_VM_STATS_INIT;

	(void)w;
	*s = init;
	s->id = v->id;
	s->configured_bytes = v->configured;
	s->consumed_bytes = fw_consumed(v);
	s->reservation_bytes = v->reservation;
	s->limit_bytes = v->limit;
	s->shares = v->shares;
	s->active_bytes = fw_pages(v->active_fraction * (double)v->used);
	s->balloon_bytes = v->balloon;
	s->balloon_cap_bytes = v->balloon_cap;
	s->swapped_bytes = v->swapped;
	if (v->driver)
		s->flags |= RECLAIM_VM_BALLOON;
	if (v->stats) {
		s->flags |= RECLAIM_VM_GUEST_STATS;
		s->guest_free_bytes = v->configured - v->balloon - v->used;
		s->guest_swap_free_bytes = fw_sub(v->gswap_total, fw_sub(v->demand, v->used));
		s->stats_time_ns = v->stats_time;
	}
	if (v->compress) {
		s->flags |= RECLAIM_VM_COMPRESS;
		s->compress_used_bytes = v->compressed / 2;
		s->compress_max_bytes = v->compress_max;
	}
}

/* Fills @p out with the present VMs in slot order; returns how many. */
static inline size_t
fw_snapshot(const struct fw_world *w, struct reclaim_host *host, struct reclaim_vm_stats *out)
{
	size_t k = 0;

	fw_host(w, host);
	for (size_t i = 0; i < w->n; i++)
		if (w->vm[i].present)
			fw_vm_stats(w, &w->vm[i], &out[k++]);
	return k;
}

/* ---- the adapter ---- */

static inline int
fw_enter(struct fw_world *w, uint64_t id, enum fw_op op, struct fw_vm **out)
{
	struct fw_vm *v = fw_find(w, id);

	w->calls++;
	if (!v) {
		w->unknown_calls++;
		return -ENOENT;
	}
	v->calls[op]++;
	v->called |= 1u << op;
	if ((v->fail_ops & (1u << op)) ||
	    (w->fail_prob > 0.0 &&
	     (double)(reclaim_rng_next(&w->rng) >> 11) * 0x1.0p-53 < w->fail_prob)) {
		v->injected |= 1u << op;
		w->injected++;
		return -EIO;
	}
	*out = v;
	return 0;
}

static inline int
fw_set_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	struct fw_vm *v = NULL;
	int rc = fw_enter(ud, id, FW_OP_BALLOON, &v);

	if (rc)
		return rc;
	v->last_arg[FW_OP_BALLOON] = bytes;
	v->balloon_target = fw_min(bytes, v->configured) & ~(FW_PAGE - 1);
	return 0;
}

static inline int
fw_swap_out(void *ud, uint64_t id, uint64_t bytes)
{
	struct fw_world *w = ud;
	struct fw_vm *v = NULL;
	int rc = fw_enter(w, id, FW_OP_SWAP, &v);

	if (rc)
		return rc;
	if (w->swap_errno)
		return -w->swap_errno;
	v->last_arg[FW_OP_SWAP] = bytes;
	bytes = fw_min(bytes, fw_resident(v));
	if (w->swap_bw) {
		bytes = fw_min(bytes, w->swap_budget);
		w->swap_budget -= bytes;
	}
	if (w->swap_bounded) {
		bytes = fw_min(bytes, w->swap_room);
		w->swap_room -= bytes & ~(FW_PAGE - 1);
	}
	v->swapped += bytes & ~(FW_PAGE - 1);
	return 0;
}

static inline uint64_t
fw_cache_size(const struct fw_vm *v, double fraction)
{
	return v->compress_max ? v->compress_max : fw_pages(fraction * (double)v->configured);
}

static inline int
fw_compress(void *ud, uint64_t id, uint64_t bytes)
{
	struct fw_vm *v = NULL;
	int rc = fw_enter(ud, id, FW_OP_COMPRESS, &v);

	if (rc)
		return rc;
	v->last_arg[FW_OP_COMPRESS] = bytes;
	v->compressed += fw_min(bytes, fw_resident(v)) & ~(FW_PAGE - 1);
	return 0;
}

static inline int
fw_block(void *ud, uint64_t id)
{
	struct fw_vm *v = NULL;
	int rc = fw_enter(ud, id, FW_OP_BLOCK, &v);

	if (rc)
		return rc;
	if (v->blocked)
		v->redundant_block++;
	v->blocked = true;
	return 0;
}

static inline int
fw_unblock(void *ud, uint64_t id)
{
	struct fw_vm *v = NULL;
	int rc = fw_enter(ud, id, FW_OP_UNBLOCK, &v);

	if (rc)
		return rc;
	if (!v->blocked)
		v->redundant_unblock++;
	v->blocked = false;
	return 0;
}

static inline struct reclaim_adapter
fw_adapter(void)
{
	struct reclaim_adapter a;

	memset(&a, 0, sizeof(a));
	a.version = RECLAIM_ADAPTER_VERSION;
	a.set_balloon = fw_set_balloon;
	a.swap_out = fw_swap_out;
	a.block = fw_block;
	a.unblock = fw_unblock;
	a.compress = fw_compress;
	return a;
}

/* Clears the per-apply records (called, injected) before reclaim_apply. */
static inline void
fw_begin_apply(struct fw_world *w)
{
	w->swap_budget = fw_pages((double)w->swap_bw * (double)w->tick_ns / (double)FW_NS);
	for (size_t i = 0; i < w->n; i++)
		w->vm[i].called = w->vm[i].injected = 0;
}

/* ---- time passes ---- */

/* Shrinks touched to @p keep, taking host-swapped and compressed pages in
 * proportion (the balloon takes random guest pages). */
static inline void
fw_untouch(struct fw_vm *v, uint64_t keep)
{
	double scale;

	if (keep >= v->touched)
		return;
	scale = v->touched ? (double)keep / (double)v->touched : 0.0;
	v->swapped = fw_pages((double)v->swapped * scale);
	v->compressed = fw_pages((double)v->compressed * scale);
	v->touched = keep;
	if (v->swapped + v->compressed > v->touched)
		v->swapped = v->touched - v->compressed;
}

/*
 * The balloon takes @p step bytes of the guest's free pages, at random among
 * them: the touched ones are given back to the host. What free memory cannot
 * cover the guest first pushes out to its own swap (touched pages too).
 */
static inline void
fw_inflate(struct fw_vm *v, uint64_t step)
{
	uint64_t avail = v->configured - v->balloon;
	uint64_t free_pages = avail - v->used;
	uint64_t from_free = fw_min(step, free_pages);
	uint64_t from_used = step - from_free;
	uint64_t touched_free = fw_sub(v->touched, v->used);
	uint64_t released = 0;

	if (free_pages)
		released = fw_pages((double)from_free * (double)touched_free / (double)free_pages);
	v->used -= from_used; /* to guest swap; demand is unchanged */
	released += from_used;
	v->balloon += step;
	fw_untouch(v, fw_min(fw_sub(v->touched, released), avail - step));
}

static inline void
fw_vm_advance(struct fw_world *w, struct fw_vm *v, double dt)
{
	uint64_t avail, free_host, grow;

	/* The balloon moves toward its target at the driver's pace. */
	if (!v->driver)
		v->balloon_target = 0;
	if (v->balloon_target > v->balloon) {
		uint64_t step;

		v->inflate_credit += v->inflate_rate * dt;
		step = fw_min(fw_pages(v->inflate_credit), v->balloon_target - v->balloon);
		/* A driver does not push its guest out of memory: it stops
		 * where demand would no longer fit in RAM + swap. */
		step = fw_min(step, fw_sub(v->configured - v->balloon,
					   fw_sub(v->demand, v->gswap_total)));
		v->inflate_credit -= (double)step;
		fw_inflate(v, step);
		if (v->balloon == v->balloon_target)
			v->inflate_credit = 0.0;
	} else {
		v->inflate_credit = 0.0;
		if (v->balloon_target < v->balloon)
			v->balloon -= fw_min(v->balloon - v->balloon_target,
					     fw_pages(v->deflate_rate * dt));
	}
	avail = v->configured - v->balloon;

	/* The guest's demand: RAM first, then its own swap; past both it is
	 * out of memory. */
	if (fw_sub(v->demand, avail) > v->gswap_total) {
		v->oom_events++;
		v->demand = avail + v->gswap_total;
	}
	v->used = v->blocked ? fw_min(v->used, avail) : fw_min(v->demand, avail);
	if (v->used > v->touched) {
		free_host = fw_free(w);
		grow = v->used - v->touched;
		if (grow > free_host) {
			w->denied_bytes += grow - free_host;
			grow = free_host & ~(FW_PAGE - 1);
			v->used = v->touched + grow;
		}
		v->touched += grow;
	}

	/* Page cache fills what is left, as far as the host allows. */
	if (!v->blocked && v->cache_rate > 0.0 && v->touched < avail) {
		grow = fw_min(fw_pages(v->cache_rate * dt), avail - v->touched);
		v->touched += fw_min(grow, fw_free(w) & ~(FW_PAGE - 1));
	}

	/* Active pages that were swapped or compressed fault back in. */
	if (!v->blocked && v->touched) {
		double act = v->active_fraction * (double)v->used / (double)v->touched;
		uint64_t in = fw_pages((double)v->swapped * act * w->swapin_per_s * dt);
		uint64_t cin = fw_pages((double)v->compressed * act * w->swapin_per_s * dt);

		in = fw_min(in, fw_free(w) & ~(FW_PAGE - 1));
		v->swapped -= in;
		cin = fw_min(cin, (2 * fw_free(w)) & ~(FW_PAGE - 1));
		v->compressed -= cin;
	}
	if (v->blocked) {
		v->blocked_ticks++;
		v->blocked_run++;
		v->blocked_run_max = fw_max(v->blocked_run_max, v->blocked_run);
	} else {
		v->blocked_run = 0;
	}
	if (!v->stats_frozen)
		v->stats_time = w->now;
}

static inline void
fw_advance(struct fw_world *w)
{
	double dt = (double)w->tick_ns / (double)FW_NS;

	w->now += w->tick_ns;
	for (size_t i = 0; i < w->n; i++)
		if (w->vm[i].present)
			fw_vm_advance(w, &w->vm[i], dt);
}

/* ---- one tick: snapshot, decide, apply, time passes ---- */

struct fw_tick {
	struct reclaim_summary summary;
	struct reclaim_decision d[FW_MAX_VMS];
	struct reclaim_apply_result r[FW_MAX_VMS];
	struct reclaim_vm_stats vms[FW_MAX_VMS];
	struct reclaim_host host;
	size_t n;
	int decide_rc, apply_rc;
};

/* A tick's decision and its apply, on the world as it stands; the world
 * has not stepped yet (fw_advance()). @p adapter NULL decides without
 * acting. */
static inline void
fw_decide_apply(struct fw_world *w, struct reclaim_policy *p,
		const struct reclaim_adapter *adapter, struct fw_tick *t)
{
	struct reclaim_summary init = RECLAIM_SUMMARY_INIT;

	memset(t, 0, sizeof(*t));
	t->summary = init;
	t->n = fw_snapshot(w, &t->host, t->vms);
	t->decide_rc = reclaim_decide(p, &t->host, t->vms, t->n, 0, &t->summary, t->d);
	fw_begin_apply(w);
	if (adapter && t->decide_rc == RECLAIM_OK)
		t->apply_rc = reclaim_apply(p, adapter, w, t->d, t->n, t->r, sizeof(t->r[0]));
}

/* Runs one tick; @p adapter NULL decides without acting. */
static inline void
fw_tick(struct fw_world *w, struct reclaim_policy *p, const struct reclaim_adapter *adapter,
	struct fw_tick *t)
{
	fw_decide_apply(w, p, adapter, t);
	fw_advance(w);
}

/* The decision for @p id in the last tick, or NULL. */
static inline const struct reclaim_decision *
fw_decision(const struct fw_tick *t, uint64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].id == id)
			return &t->d[i];
	return NULL;
}

static inline const struct reclaim_apply_result *
fw_result(const struct fw_tick *t, uint64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->r[i].id == id)
			return &t->r[i];
	return NULL;
}

static inline uint64_t
fw_threshold(const struct fw_tick *t, int state)
{
	return t->summary.threshold_bytes[state];
}

/* The tests' usual config and policy (cmocka asserts: include cmocka.h first). */
static inline struct reclaim_config
default_config(void)
{
	struct reclaim_config cfg;

	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&cfg), RECLAIM_OK);
	return cfg;
}

static inline struct reclaim_policy *
policy_with(const struct reclaim_config *cfg, size_t capacity)
{
	struct reclaim_policy *p = NULL;

	assert_int_equal(reclaim_policy_new(&p, cfg, capacity), RECLAIM_OK);
	return p;
}

#endif /* FAKE_WORLD_H */
