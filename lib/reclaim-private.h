/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/ (and white-box tests through reclaim_internal_dep).
 *
 * One reclaim_decide() walks these files in order (DESIGN.md, "How a
 * decision is made"):
 *
 *   decide.c      the step itself: calls the stages below, then commits
 *   validate.c    every fault in the call, found before anything is written
 *   state.c       free-memory state, hysteresis, the mode it implies
 *   history.c     per-VM memory across ticks: id index, balloon progress
 *   view.c        per-VM view: balloon cap, what the VM holds and can give
 *   waterlevel.c  the idle tax, each VM's bounds, the common level
 *   pages.c       the level in whole pages
 *   actions.c     per-state actions: balloon / compress / swap split,
 *                 deflation, rebalancing, blocking
 *   decision.c    the decision record: reasons, action bits, bound, and
 *                 what the next tick remembers
 *   apply.c       carrying decisions out through the adapter
 *
 * beside policy.c (the object and its memory), config.c, abi.c (struct
 * sizes), names.c, format.c, estimator.c and pick.c.
 */
#ifndef RECLAIM_PRIVATE_H
#define RECLAIM_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reclaim.h"

#define NS_PER_S 1000000000ull

static inline uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static inline uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Whether [a, a + an) and [b, b + bn) share a byte. */
static inline bool
mem_overlap(const void *a, size_t an, const void *b, size_t bn)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return an && bn && x < y + bn && y < x + an;
}

/* Largest double <= UINT64_MAX that converts without overflow. */
#define U64_DOUBLE_MAX 18446744073709549568.0

static inline uint64_t
double_to_u64(double x)
{
	if (!(x > 0.0))
		return 0;
	if (x >= U64_DOUBLE_MAX)
		return UINT64_MAX;
	return (uint64_t)x;
}

/* Non-negative doubles order like their bit patterns: radix selection works
 * on the bits. */
static inline uint64_t
double_bits(double x)
{
	uint64_t b;

	memcpy(&b, &x, sizeof(b));
	return b;
}

/* ---- abi.c: every size of every public struct the library has shipped ---- */
enum abi_struct {
	ABI_CONFIG,
	ABI_HOST,
	ABI_VM_STATS,
	ABI_DECISION,
	ABI_SUMMARY,
	ABI_APPLY_RESULT,
	ABI_ESTIMATOR,
	ABI_ERROR,
	ABI_ADAPTER, /* by version, not size: see abi_adapter_size() */
	ABI_STRUCTS
};

struct abi_sizes {
	const char *name;     /* "struct reclaim_config" */
	const uint32_t *sizes; /* shipped sizes, oldest first; the last is the current one */
	size_t n;
};

extern const struct abi_sizes abi_table[ABI_STRUCTS];

/* True if @p size is one the library shipped for @p kind. */
bool abi_known(enum abi_struct kind, size_t size);
/*
 * Reads a caller's struct of @p size bytes (a shipped size) into @p full,
 * the library's current layout, whose later members already hold their
 * defaults: only the caller's prefix is copied over them.
 */
void abi_read(void *full, const void *in, size_t size);
/* Size of the adapter struct of a given version, 0 if unknown. */
size_t abi_adapter_size(uint32_t version);

/* ---- config.c ---- */
void config_defaults(struct reclaim_config *cfg);
/* Validates a full-size config; *field names the offending member. */
int config_validate(const struct reclaim_config *cfg, const char **field);
/* Reads a caller's config of any shipped size into @p full (defaults for
 * what it lacks) and validates it. */
int config_read(struct reclaim_config *full, const struct reclaim_config *cfg,
		const char **field);
/* Thresholds in bytes (high, soft, hard, low) and the hysteresis margin. */
void config_threshold_bytes(const struct reclaim_config *cfg, uint64_t usable,
			    uint64_t thr[4], uint64_t *margin);
uint64_t minfree_bytes(uint64_t usable);

/* ---- history.c: per-VM memory across ticks ---- */
enum hist_flag {
	HIST_BLOCKED = 1u << 0,        /* the VM was blocked (as far as we know) */
	HIST_RATE_KNOWN = 1u << 1,     /* rate holds an observed inflation rate */
	HIST_RESEND = 1u << 2,         /* the last balloon op failed: send again */
	HIST_SWAP_DOWN = 1u << 3,      /* swap_out failed: no host swap until swap_retry_ns */
	HIST_SELF_DEFLATED = 1u << 4,  /* the guest shrank its balloon: held until hold_ns */
	HIST_NO_BLOCK = 1u << 6,       /* blocked too long without progress: not until block_ns */
	HIST_AVAIL_KNOWN = 1u << 7,    /* win_*, avail_ns hold a fresh guest sample */
	HIST_SWAP_FAILED = 1u << 8,    /* the last swap_out failed */
	/* These two are their decision reasons' bits: a decision's reasons
	 * take them from the flags as they are. */
	HIST_UNRESPONSIVE = RECLAIM_REASON_UNRESPONSIVE, /* balloon declared unresponsive */
	HIST_FAILED = RECLAIM_REASON_ADAPTER_FAILED      /* some op failed in the last apply */
};
#define HIST_REASONS (HIST_UNRESPONSIVE | HIST_FAILED)
_Static_assert(HIST_REASONS <= UINT16_MAX, "history flags are 16 bits");

struct vm_hist {
	uint64_t id;
	uint64_t configured;         /* configured size: another size is another VM */
	uint64_t asked;              /* balloon size last asked for */
	uint64_t window_start_ns;    /* start of the current progress window */
	uint64_t window_balloon;     /* balloon size at window start */
	uint64_t retry_ns;           /* unresponsive until this time */
	uint64_t last_balloon;       /* balloon size at the last decide */
	uint64_t last_ns;            /* time of the last decide that saw the VM */
	/* Guest demand: balloon + free memory + free swap at the start of the
	 * current demand window (the most seen since), and when it began. */
	uint64_t win_avail;
	uint64_t win_ns;
	uint64_t avail_ns;           /* stats_time_ns of the last fresh sample */
	/* The least balloon + free + free swap lately (the guest's peak
	 * demand), relaxing toward the present over demand_memory_ns. */
	uint64_t avail_min;
	uint64_t hold_ns;            /* self-deflated: no inflation until then */
	/* Blocking: since when the VM has been blocked without its
	 * consumption falling below block_consumed (or, with HIST_NO_BLOCK,
	 * until when it may not be blocked). */
	uint64_t block_ns;
	uint64_t block_consumed;
	uint64_t swap_retry_ns;      /* with HIST_SWAP_DOWN */
	float rate;                  /* observed inflation rate, bytes/s */
	float demand;                /* guest demand growth, bytes/s (decaying max) */
	uint16_t flags;              /* enum hist_flag */
	uint16_t failures;           /* consecutive apply failures (saturating) */
};

/*
 * entries[0, present) are the VMs of the last decide, in its input order;
 * entries[present, n) are VMs absent from it and still within their grace
 * period, oldest absence last.
 */
struct hist_table {
	struct vm_hist *entries;
	uint32_t *slots;         /* open addressing: entry index + 1, 0 = empty */
	size_t n;                /* entries in use */
	size_t present;
};

size_t hist_slots(size_t capacity);
/* Ahead of a lookup of @p id: its index slots, then its old entry. */
void hist_prefetch_slots(const struct hist_table *cur, const struct hist_table *next,
			 uint32_t mask, uint64_t id);
void hist_prefetch_entry(const struct hist_table *cur, uint32_t mask, uint64_t id);
void hist_clear_index(struct hist_table *t, uint32_t mask);
/* Inserts id -> idx; returns the index + 1 of the entry already holding
 * the id, or 0 when it was inserted. */
size_t hist_insert(struct hist_table *t, uint32_t mask, uint64_t id, uint32_t idx,
		   const void *base, size_t stride);
struct vm_hist *hist_find(const struct hist_table *t, uint32_t mask, uint64_t id);
/* A VM blocked by an apply although @p t has no entry for it: a new absent
 * entry, blocked, its size unknown (configured 0, which no VM has); NULL
 * when the table is full. */
struct vm_hist *hist_remember_blocked(struct hist_table *t, uint32_t mask, size_t capacity,
				      uint64_t id);
/* Carries one VM's history to this tick (@p returning: after an absence)
 * and updates balloon progress. */
void hist_advance(struct vm_hist *out, const struct vm_hist *old, bool returning,
		  const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm,
		  uint64_t balloon, uint64_t now_ns);
/*
 * Appends to @p next the absent VMs of @p cur still within their grace
 * period, after the @p next->present VMs of this tick. Returns true when
 * @p next has its own complete index; false when (VMs in the same order,
 * nothing expired) @p cur's index is still right and must be handed over.
 */
bool hist_carry_absent(struct hist_table *next, const struct hist_table *cur, uint32_t mask,
		       size_t capacity, const struct reclaim_config *cfg, uint64_t now_ns,
		       bool same_order);

/* ---- validate.c ---- */
/* Where a fault was found; the policy keeps the last one (reclaim_policy_last_error). */
struct fault {
	int status;
	uint32_t where;      /* enum reclaim_where */
	size_t index, other_index;
	uint64_t id;
	const char *field;
};

/* Records a fault found at @p where, naming @p field; returns @p status. */
static inline int
fault_at(struct fault *f, int status, uint32_t where, const char *field)
{
	f->status = status;
	f->where = where;
	f->field = field;
	return status;
}

/* A view of the caller's VM array at its own stride. */
struct vm_array {
	const struct reclaim_vm_stats *base;
	size_t stride;
	size_t n;
};

static inline const struct reclaim_vm_stats *
vm_at(const struct vm_array *a, size_t i)
{
	return (const void *)((const char *)a->base + i * a->stride);
}

int validate_host(struct reclaim_host *full, const struct reclaim_host *host, struct fault *f);
/* Checks the array's struct size (the first VM's; older sizes are read
 * through vm_read()). */
int validate_array(struct vm_array *out, const struct reclaim_vm_stats *vms, size_t n,
		   struct fault *f);

/* The checks that run as the step reads each VM. */
struct vm_check {
	uint64_t consumed, configured; /* running sums */
	bool same_order;  /* the ids so far are the last tick's, in its order */
	/* Out of order: the old entry after the last one found, where the
	 * next VM's usually is (a VM started or stopped shifts the rest by
	 * one), how many VMs in a row were found there, and how many in a row
	 * were not. */
	const struct vm_hist *guess;
	unsigned streak, misses;
	struct fault dup; /* the first duplicate id */
};

void vm_check_begin(struct vm_check *k, struct hist_table *next, const struct hist_table *cur,
		    uint32_t mask, size_t n, uint64_t free_bytes);
/* Checks VM i (read into @p vm) and finds its entry of the last tick
 * (*old, NULL if none); a fault stops the step. */
int vm_check(struct vm_check *k, struct fault *f, struct hist_table *next,
	     const struct hist_table *cur, uint32_t mask, const struct vm_array *a, size_t i,
	     const struct reclaim_vm_stats *vm, const struct vm_hist **old);
/* After the last VM: a duplicate id, if any; else @p next holds n VMs. */
int vm_check_end(struct vm_check *k, struct fault *f, struct hist_table *next, size_t n);
/* An older VM struct copied to the library's layout, later members at their
 * defaults. */
const struct reclaim_vm_stats *vm_read_old(struct reclaim_vm_stats *tmp,
					   const struct vm_array *a, size_t i);

/* VM i at the library's layout: the caller's own struct, or (for an older
 * struct_size) a copy in @p tmp. */
static inline const struct reclaim_vm_stats *
vm_read(struct reclaim_vm_stats *tmp, const struct vm_array *a, size_t i)
{
	if (a->stride == sizeof(*tmp))
		return vm_at(a, i);
	return vm_read_old(tmp, a, i);
}

/* ---- state.c: host-wide facts of one step ---- */
enum mode {
	MODE_HOLD,    /* between the high threshold and the band above it */
	MODE_DEFLATE, /* comfortably above: balloons deflate, budgeted */
	MODE_BALLOON, /* early ballooning and soft: balloon only */
	MODE_SPLIT,   /* hard (and admission): balloon what arrives in time, swap the rest */
	MODE_SWAP     /* low: swap the whole excess now, block */
};

struct tick {
	uint64_t usable, free, now, thr[4], margin, need;
	int previous, state, mode;
	bool admission;
	bool same_order;       /* VMs in the order of the last decide: no lookups */
	bool no_swap;          /* bounded host swap with less than a page left */
	uint64_t deflate_left; /* deflation budget still to hand out */
	uint64_t deliver_default; /* balloon_deliverable() before a rate is seen */
	uint32_t reasons;         /* every VM's: early ballooning, hold */
};

int state_raw(const uint64_t thr[4], uint64_t free_bytes);
int state_next(int previous, const uint64_t thr[4], uint64_t margin, uint64_t free_bytes);
/* Fills @p t from the host snapshot, the previous state and the config. */
void tick_begin(struct tick *t, const struct reclaim_config *cfg, const struct reclaim_host *host,
		int previous, bool admission, uint64_t new_vm_bytes);

static inline bool
mode_reclaims(int mode)
{
	return mode == MODE_BALLOON || mode == MODE_SPLIT || mode == MODE_SWAP;
}

/* ---- view.c: what each VM holds and can give ---- */
enum view_flag {
	VIEW_DRIVER = 1u << 0,       /* a balloon driver is there */
	VIEW_RESPONSIVE = 1u << 1,   /* and answering */
	VIEW_FIXED = 1u << 3,        /* excluded from the water level */
	VIEW_BALLOON_BOUND = 1u << 7, /* lower bound set by balloon room */
	VIEW_NO_SWAP = 1u << 8,      /* host swap cannot deliver for this VM */
	VIEW_RESEND = 1u << 9,       /* its last balloon op failed: send it again */
	VIEW_ON = 1u << 10,          /* reclaiming, on the level with pages to give */
	/* These three are their decision reasons' bits: a decision's reasons
	 * take them from the flags as they are. */
	VIEW_NO_DRIVER = RECLAIM_REASON_NO_BALLOON, /* no balloon driver */
	VIEW_STALE = RECLAIM_REASON_STALE,          /* guest stats unknown or too old */
	VIEW_DISTRESS = RECLAIM_REASON_DISTRESS     /* the guest needs its balloon back (or deflated it) */
};
#define VIEW_REASONS (VIEW_NO_DRIVER | VIEW_STALE | VIEW_DISTRESS)

/*
 * One VM's working record for one step, laid out for the passes that sweep
 * it: the first 64 bytes are all that the level's solver and the page
 * placement read, so that those passes touch one cache line per VM.
 */
struct vm_work {
	/* line 1: the level and the page placement */
	uint64_t lo, hi;   /* bounds on the target */
	double shares;
	double active;
	double inv_k;      /* 1/k = 1 - tau */
	uint64_t base;     /* min(projected, max): the target before any move */
	uint64_t target;   /* placed in whole pages (pages_place) */
	uint32_t flags;    /* enum view_flag */
	uint16_t cap_kind; /* enum reclaim_balloon_limit */
	uint16_t pad;
	/* line 2: the actions */
	uint64_t projected; /* consumption less balloon in flight */
	uint64_t cap;       /* balloon cap */
	uint64_t compress_room; /* what its compression cache can still take */
	uint64_t limit_excess; /* projected above min(configured, limit) */
	uint64_t asked_before; /* balloon size asked last tick (the adapter's view) */
	uint64_t short_give;   /* short of memory: what it gets back from free memory */
	uint64_t held;      /* balloon size held (actual or asked, within cap) */
	uint64_t deliver;   /* hard state: balloon_deliverable(), else 0 */
};

/*
 * What only the step that computes a VM's bounds needs: the cap without
 * the terms the guest's own reports set (free memory, swap, demand, stale
 * stats): how much it owes is not the guest's to say, only how much its
 * balloon can deliver; and what can leave the VM this tick (held pages and
 * balloon room).
 */
struct vm_room {
	uint64_t fair_cap;
	uint64_t can;
	uint64_t untrue; /* of the balloon it reports, what it cannot hold */
	uint64_t margin; /* guest_margin() */
};

/* Over the VMs on the level: their bounds, the level at which the last of
 * them reaches its upper one, and, when @p guessed, the sum of their
 * allocations and its slope at the level @p guess (the solver's first
 * step), gathered as they are counted in so that the solver need not make
 * that pass itself. */
struct level_sums {
	double lo, hi, top;
	double guess, at_guess, slope_at_guess;
	bool guessed;
};

/* Sums over the VMs that the step needs. */
struct sums {
	struct level_sums level;
	uint64_t pending, limit, reclaimable, fixed_reclaim;
	uint64_t short_want; /* what VMs short of memory lack, above the high threshold */
	uint64_t release; /* balloons deflating to their cap */
	uint64_t u_free;  /* sum of min(projected, max) over VMs on the level */
	double lo_free;
	bool grows;       /* a VM on the level may grow (rebalancing) */
	size_t on;        /* VMs on the level with pages to give */
};

static inline uint64_t
vm_max(const struct reclaim_vm_stats *vm)
{
	return min_u64(vm->configured_bytes, vm->limit_bytes);
}

/* The balloon size the guest reports, within the configured size. */
static inline uint64_t
vm_balloon(const struct reclaim_vm_stats *vm)
{
	return min_u64(vm->balloon_bytes, vm->configured_bytes);
}

/*
 * Of balloon @p b, what it can really hold: a balloon holds guest memory
 * the host does not back, so no more than configured - consumed
 * (consumption is the host's measure, the balloon size the guest's). The
 * rest is the guest's tale, and nothing another VM must make up for.
 */
static inline uint64_t
balloon_backed_out(const struct reclaim_vm_stats *vm, uint64_t b)
{
	return min_u64(b, vm->configured_bytes - min_u64(vm->consumed_bytes, vm->configured_bytes));
}

/* Guest stats unknown, from the future, or older than stats_max_age_ns. */
static inline bool
stats_stale(const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, uint64_t now)
{
	if (!(vm->flags & RECLAIM_VM_GUEST_STATS))
		return true;
	if (vm->stats_time_ns > now) /* from the future: cannot be trusted */
		return true;
	return now - vm->stats_time_ns > cfg->stats_max_age_ns;
}

/* What the guest keeps free (free memory and free swap): guest_margin_bytes,
 * or guest_margin_fraction of its configured size where that is more. */
static inline uint64_t
guest_margin(const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm)
{
	return max_u64(cfg->guest_margin_bytes,
		       double_to_u64(cfg->guest_margin_fraction * (double)vm->configured_bytes));
}

/* A driver that answers, fresh stats, and room under the cap. */
static inline bool
view_can_balloon(const struct vm_work *w)
{
	return (w->flags & (VIEW_DRIVER | VIEW_RESPONSIVE | VIEW_STALE)) ==
		       (VIEW_DRIVER | VIEW_RESPONSIVE) &&
	       w->cap > 0;
}
uint64_t balloon_deliverable_at(double rate, const struct reclaim_config *cfg);
/* What the balloon can inflate within balloon_horizon_ns (see view.c). */
static inline uint64_t
balloon_deliverable(const struct vm_hist *h, const struct reclaim_config *cfg,
		    const struct tick *t)
{
	return (h->flags & HIST_RATE_KNOWN) && h->rate > 0.0f
		       ? balloon_deliverable_at((double)h->rate, cfg)
		       : t->deliver_default;
}
/* What the guest's rising demand will use within distress_horizon_ns. */
uint64_t demand_ahead(const struct vm_hist *h, const struct reclaim_config *cfg);
/* The VM's balloon cap, what it holds, and what it can give this tick;
 * @p b is its balloon as vm_balloon() reads it. */
void view_vm(struct vm_work *w, struct vm_room *room, struct sums *s,
	     const struct reclaim_config *cfg, const struct tick *t,
	     const struct reclaim_vm_stats *vm, const struct vm_hist *h, uint64_t b);

/* ---- waterlevel.c: the idle memory tax and the common level ---- */
/* Allocation at price level lambda (bytes per share), before clamping. */
static inline double
wl_inverse(double lambda, double shares, double active, double inv_k)
{
	double c = lambda * shares;
	return c <= active ? c : active + (c - active) * inv_k;
}

/* Cost in "active-equivalent bytes" of holding @p alloc bytes. */
static inline double
wl_cost(double alloc, double active, double inv_k)
{
	return alloc <= active ? alloc : active + (alloc - active) / inv_k;
}

/* The VM's price (shares per page, idle tax applied) at a target. */
static inline double
wl_rho(const struct vm_work *w, uint64_t target, uint64_t page)
{
	double cost = wl_cost((double)target, w->active, w->inv_k);

	return w->shares > 0.0 && cost > 0.0 ? w->shares * (double)page / cost : 0.0;
}
/* The VM's bounds on the level in this step's mode. */
void wl_bounds(struct vm_work *w, const struct vm_room *room, struct sums *s,
	       const struct reclaim_config *cfg, const struct tick *t,
	       const struct reclaim_vm_stats *vm);
/* Finds lambda with sum clamp(inverse(lambda), lo, hi) == total; returns
 * lambda (0 if every VM sits at lo, INFINITY-like large if at hi). */
double wl_solve(const struct vm_work *w, size_t n, double total, double guess);
double wl_solve_scratch(const struct vm_work *w, size_t n, double total, double guess,
			const struct level_sums *ls, uint32_t *scratch, double *slope);
/* Counts a VM on the level into @p ls (and its allocation at ls->guess). */
void wl_add(struct level_sums *ls, const struct vm_work *w);
/* Sum of clamped allocations at lambda over the VMs on the level, and its slope. */
void wl_evaluate(const struct vm_work *w, size_t n, double lambda, double *sum, double *slope);
double wl_target(const struct vm_work *w, double lambda);
/* Above the high threshold, hands VMs short of memory what they lack from
 * @p pool bytes of free memory, raising their bounds; returns what it gave. */
uint64_t wl_give_short(struct vm_work *w, size_t n, struct sums *s, uint64_t pool,
		       uint64_t page);

/* ---- pages.c: the level in whole pages ---- */
/* A radix selection over 64-bit keys: narrows [lo, hi] one histogram at a
 * time to the bucket holding a wanted rank. */
struct radix {
	uint64_t lo, hi;
	unsigned shift;
	size_t used; /* buckets in use this round */
};

/* Starts a round with at most @p buckets buckets; false when lo == hi. */
bool radix_round(struct radix *r, size_t buckets);
static inline size_t
radix_bucket(const struct radix *r, uint64_t key)
{
	return (size_t)((key - r->lo) >> r->shift);
}
/* Keeps the bucket where the running sum of @p hist, from the bottom
 * (@p from_top false) or the top, reaches @p want; returns the sum of the
 * buckets passed over. */
uint64_t radix_narrow(struct radix *r, const uint64_t *hist, uint64_t want, bool from_top);

/* One VM's lowest page above the level, for the selection of the cutoff. */
struct page_key {
	uint64_t key;  /* bits of its price */
	uint32_t idx;  /* the VM */
	uint32_t size; /* its bytes (a page, or less for the last); 1 when counted */
};

/* Places every VM's target on the level in whole pages (w->target);
 * @p slope is the level's slope at lambda, @p need what it must revoke,
 * @p on how many VMs it has; @p revoke_only when none of them may grow.
 * @p gather is scratch for n entries; the decisions (@p out, n of @p dsize
 * bytes) serve as scratch too: they are written afterwards. */
void pages_place(struct vm_work *w, size_t n, const struct tick *t, uint64_t page,
		 double lambda, double slope, uint64_t need, size_t on, bool revoke_only,
		 uint32_t *gather, struct reclaim_decision *out, size_t dsize);

/* ---- actions.c: from targets to actions ---- */
struct totals {
	uint64_t balloon, swap, compress, deflate;
	/* Of the deflation, what the host must back again: a balloon holds
	 * no more than balloon_backed_out() says, whatever it reports. */
	uint64_t deflate_backed;
	uint32_t flags; /* enum reclaim_summary_flag bits the VMs raise */
	bool rebalanced; /* some VM gets memory back by rebalancing */
	/* Rebalancing: what the rebalanced VMs get back from their balloons,
	 * and what the others give beyond what their limits take anyway;
	 * summed only where a VM may grow (@p may_grow, set by the caller). */
	uint64_t back, in;
	bool may_grow;
};

/* What a VM that is not rebalanced gives this tick beyond its limit. */
static inline uint64_t
gives_beyond_limit(const struct reclaim_decision *d, const struct vm_work *w)
{
	uint64_t gives = sat_add(sat_sub(d->balloon_target_bytes, w->held),
				 sat_add(d->swap_bytes, d->compress_bytes));

	return sat_sub(gives, w->limit_excess);
}

/* Fills the decision's balloon target, swap and compress amounts, block
 * and the reasons they carry; returns the excess over the target. @p current
 * is the VM's balloon as vm_balloon() reads it. */
uint64_t actions_vm(struct reclaim_decision *d, const struct vm_work *w,
		    struct vm_hist *h, const struct reclaim_config *cfg,
		    const struct reclaim_vm_stats *vm, struct tick *t, uint64_t current);
/* Host swap is finite: scales every VM's swap down to what the host has,
 * and moves what it cuts to balloons with room. */
void actions_bound_swap(const struct reclaim_config *cfg, const struct reclaim_host *host,
			struct reclaim_decision *out, size_t dsize, size_t n,
			const struct vm_work *work, struct vm_hist *next, struct totals *tot,
			uint32_t *flags);

/* Rebalancing gives back no more than others give. */
void actions_bound_rebalance(const struct reclaim_config *cfg, struct reclaim_decision *out,
			     size_t dsize, size_t n, const struct vm_work *work,
			     const struct vm_array *vms, struct vm_hist *next, struct totals *tot);

/* ---- decision.c: the decision record ---- */
/* Completes decision @p d (reasons, action bits, bound) and the history the
 * next tick keeps in @p h. */
void decision_write(struct reclaim_decision *d, size_t dsize, struct vm_hist *h,
		    const struct vm_work *w, const struct reclaim_config *cfg,
		    const struct reclaim_vm_stats *vm, struct tick *t, bool shortfall,
		    struct totals *tot);
/* The bound that fixed @p target in a state that reclaims or holds. */
uint32_t decision_bound(const struct vm_work *w, const struct reclaim_vm_stats *vm,
			uint64_t target);
void decision_summary(struct reclaim_summary *sum, const struct tick *t, const struct sums *s,
		      const struct totals *tot, const struct reclaim_config *cfg, double lambda,
		      bool shortfall, uint32_t flags);

/* ---- policy.c ---- */
struct reclaim_policy {
	struct reclaim_config cfg;
	size_t capacity;
	uint32_t mask;          /* hash slots - 1 */
	int state;              /* enum reclaim_state, or -1 before the first decide */
	bool owned;             /* allocated by reclaim_policy_new */
	int cur;                /* which of hist[] holds the current history */
	double lambda;          /* level of the last decide: the solver's first guess */
	struct fault error;     /* the last failed call (reclaim_policy_last_error) */
	struct hist_table hist[2];
	struct vm_work *work;
	uint32_t *active;       /* solver scratch: VMs still changing piece */
	/* In use by a call: the one member even readers write, so reached
	 * through a pointer that a const policy still lets them use. */
	atomic_int *in_use;
	atomic_int in_use_word;
};

/* Records a failed call's fault in the policy; returns its status. */
int policy_fail(struct reclaim_policy *p, const struct fault *f);

/* Takes the policy for one call; false when another call has it. */
static inline bool
policy_enter(const struct reclaim_policy *p)
{
	int idle = 0;

	return atomic_compare_exchange_strong_explicit(p->in_use, &idle, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static inline void
policy_leave(const struct reclaim_policy *p)
{
	atomic_store_explicit(p->in_use, 0, memory_order_release);
}

#endif /* RECLAIM_PRIVATE_H */
