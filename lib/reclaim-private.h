/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/ (and white-box tests through reclaim_internal_dep).
 *
 * A snapshot walks: validate.c -> state.c -> history.c (balloon progress)
 * -> actions.c (caps, bounds, split) -> waterlevel.c (idle tax, level)
 * -> decide.c (orchestration, commit) -> apply.c (adapter calls).
 */
#ifndef RECLAIM_PRIVATE_H
#define RECLAIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- config.c ---- */
int config_validate(const struct reclaim_config *cfg, const char **field);
/* Thresholds in bytes (high, soft, hard, low) and the hysteresis margin. */
void config_threshold_bytes(const struct reclaim_config *cfg, uint64_t usable,
			    uint64_t thr[4], uint64_t *margin);
uint64_t minfree_bytes(uint64_t usable);

/* ---- validate.c ---- */
struct hist_table;
int validate_host(const struct reclaim_host *host);
int validate_vms(struct hist_table *next, const struct hist_table *cur, uint32_t mask,
		 const struct reclaim_vm_stats *vms, size_t n, uint64_t free_bytes,
		 bool *same_order);

/* ---- state.c ---- */
int state_raw(const uint64_t thr[4], uint64_t free_bytes);
int state_next(int previous, const uint64_t thr[4], uint64_t margin, uint64_t free_bytes);

/* ---- history.c: per-VM memory across ticks ---- */
enum hist_flag {
	HIST_BLOCKED = 1u << 0,        /* the VM was blocked (as far as we know) */
	HIST_RATE_KNOWN = 1u << 1,     /* rate holds an observed inflation rate */
	HIST_RESEND = 1u << 2,         /* the last balloon op failed: send again */
	HIST_FAILED = 1u << 3,         /* some op failed in the last apply */
	HIST_UNRESPONSIVE = 1u << 4    /* balloon declared unresponsive */
};

struct vm_hist {
	uint64_t id;
	uint64_t asked;              /* balloon size last asked for */
	uint64_t window_start_ns;    /* start of the current progress window */
	uint64_t window_balloon;     /* balloon size at window start */
	uint64_t retry_ns;           /* unresponsive until this time */
	uint64_t last_balloon;       /* balloon size at the last decide */
	uint64_t last_ns;            /* time of the last decide */
	float rate;                  /* observed inflation rate, bytes/s */
	uint16_t flags;              /* enum hist_flag */
	uint16_t failures;           /* consecutive apply failures (saturating) */
};

struct hist_table {
	struct vm_hist *entries; /* capacity entries, in the order of the last input */
	uint32_t *slots;         /* open addressing: entry index + 1, 0 = empty */
	size_t n;                /* entries in use */
};

void hist_clear_index(struct hist_table *t, uint32_t mask);
/* Inserts id -> idx; returns false if id is already present. */
bool hist_insert(struct hist_table *t, uint32_t mask, uint64_t id, uint32_t idx,
		 const uint64_t *ids, size_t id_stride);
struct vm_hist *hist_find(const struct hist_table *t, uint32_t mask, uint64_t id);

struct vm_view; /* actions.c */
/* Carries one VM's history to this tick and updates balloon progress. */
void hist_advance(struct vm_hist *out, const struct vm_hist *old,
		  const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm,
		  uint64_t balloon, uint64_t now_ns);

/* ---- actions.c: what each VM can give ---- */
enum view_flag {
	VIEW_DRIVER = 1u << 0,       /* a balloon driver is there */
	VIEW_RESPONSIVE = 1u << 1,   /* and answering */
	VIEW_STALE = 1u << 2,        /* guest stats unknown or too old */
	VIEW_FIXED = 1u << 3,        /* excluded from the water level */
	VIEW_BALLOON_BOUND = 1u << 4 /* lower bound set by balloon room */
};

struct vm_work {
	/* water level inputs, bytes */
	uint64_t lo, hi;   /* bounds on the target */
	double shares;
	double active;
	double inv_k;      /* 1/k = 1 - tau */
	/* integers for the action pass */
	uint64_t projected; /* consumption less balloon in flight */
	uint64_t base;      /* min(projected, max): the target before any move */
	uint64_t held;      /* balloon size held (actual or asked, within cap) */
	uint64_t cap;       /* balloon cap */
	uint32_t flags;     /* enum view_flag */
	uint16_t cap_kind;  /* enum reclaim_balloon_limit */
	uint16_t pad;
};

enum mode {
	MODE_HOLD,    /* between the high threshold and the band above it */
	MODE_DEFLATE, /* comfortably above: balloons deflate, budgeted */
	MODE_BALLOON, /* early ballooning and soft: balloon only */
	MODE_SPLIT,   /* hard (and admission): balloon what arrives in time, swap the rest */
	MODE_SWAP     /* low: swap the whole excess now, block */
};

void view_balloon(struct vm_work *w, const struct reclaim_config *cfg,
		  const struct reclaim_vm_stats *vm, const struct vm_hist *h, uint64_t now);
bool view_can_balloon(const struct vm_work *w);
bool stats_stale(const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, uint64_t now);
uint64_t balloon_deliverable(const struct vm_hist *h, const struct reclaim_config *cfg);
void view_horizon(struct vm_work *w, const struct vm_hist *h, const struct reclaim_config *cfg,
		  uint64_t balloon);
void split_excess(struct reclaim_decision *d, const struct vm_work *w, const struct vm_hist *h,
		  const struct reclaim_config *cfg, const struct reclaim_vm_stats *vm, int mode,
		  uint64_t excess, uint64_t limit_excess);

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

/* Finds lambda with sum clamp(inverse(lambda), lo, hi) == total; returns
 * lambda (0 if every VM sits at lo, INFINITY-like large if at hi). */
double wl_solve(const struct vm_work *w, size_t n, double total, double guess);
double wl_solve_scratch(const struct vm_work *w, size_t n, double total, double guess,
			uint32_t *scratch);
/* Sum of clamped allocations at lambda over the VMs on the level, and its slope. */
void wl_evaluate(const struct vm_work *w, size_t n, double lambda, double *sum, double *slope);

/* ---- pages.c: the level in whole pages ---- */
/* Targets (bytes) for the page-by-page rule; see pages.c. */
bool pages_revoke(const struct vm_work *w, size_t n, double lambda, uint64_t need,
		  uint64_t page, struct reclaim_decision *out, size_t dsize);
double wl_target(const struct vm_work *w, double lambda);

/* ---- policy ---- */
struct reclaim_policy {
	struct reclaim_config cfg;
	size_t capacity;
	uint32_t mask;          /* hash slots - 1 */
	int state;              /* enum reclaim_state, or -1 before the first decide */
	bool owned;             /* allocated by reclaim_policy_new */
	int cur;                /* which of hist[] holds the current history */
	double lambda;          /* level of the last decide: the solver's first guess */
	struct hist_table hist[2];
	struct vm_work *work;
	uint32_t *active;       /* solver scratch: VMs still changing piece */
};

size_t policy_slots(size_t capacity);

#endif /* RECLAIM_PRIVATE_H */
