/* SPDX-License-Identifier: MIT */
/*
 * reclaim-speed: what reclaim_decide() and reclaim_apply() cost, from 10 to
 * 1,000,000 VMs, against yardsticks measured in the same run on the same
 * arrays:
 *
 * - the bound: a loop that reads every byte of every VM's stats and writes
 *   every byte of a decision for it, with no policy in between. Whatever
 *   decide does, it reads those inputs and writes those outputs, so its
 *   time over the bound's is what the policy itself costs;
 * - the one-pass limit: a loop that reads the fields a price needs and
 *   computes it, rho = S / (A + k (P - A)), k = 1 / (1 - tau);
 * - the paper's page-by-page revocation (tests/ref_pagewise.c) at 1,000 VMs
 *   reclaiming 6 % of a 1 TiB host in 4 KiB pages.
 *
 * decide is timed on three input shapes at every N:
 *
 * - mix: VMs of every kind (sizes, reservations, limits, balloons, stale
 *   stats...) on a busy host (1.5 % free: hard state, water level and
 *   balloon/swap split computed), with the same VMs on an idle host
 *   (10 % free: high state, balloons deflating) alongside;
 * - reorder: the mix's VMs on the same busy host and policy, in a new
 *   random order every call, never the order the policy's history was
 *   built in, nor the previous call's;
 * - worst: the two costliest of a set of hostile inputs (equal prices, VMs
 *   at their bounds, stale stats, skewed shares, ids that collide, ...),
 *   chosen by timing them all at 10k VMs in the same run (or named with
 *   --worst).
 *
 * Each host has its own policy, warmed up by a committing decide + apply
 * of the tick before (the same VMs a second earlier, stats slightly
 * different), so that every VM has history and the policy its last level;
 * timed decides then use RECLAIM_DECIDE_DRY_RUN, which runs the whole step
 * but skips its final commit, so every repetition does the same work from
 * the same history.
 *
 * Allocations are counted by interposing malloc and friends in this
 * executable (glibc: forwarded to __libc_malloc); the count must be 0 during
 * decide and apply, and the counter proves itself by seeing the allocation of
 * reclaim_policy_new().
 *
 * --callgrind OP N runs exactly one OP on N VMs inside callgrind_measured(),
 * for valgrind --tool=callgrind --toggle-collect='callgrind_measured*'
 * (bench/speed/callgrind.sh); --profile OP N S repeats it for S seconds, for
 * perf record; --check runs every check of the inputs, and none of the
 * timing, in under a second.
 *
 * Usage and the tables' columns: bench/README.md, section "Speed".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reclaim.h>

#include "ref_pagewise.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)
#define NS_PER_S 1000000000ull
#define PAGE 4096ull

/* ---- allocation counter ---- */

/*
 * glibc exports its allocator under __libc_* names: a malloc defined here
 * takes precedence for every caller in the process, libreclaim.so included,
 * and hands the work to glibc's. Elsewhere the count is unavailable.
 */
#if defined(__GLIBC__)
#define COUNT_ALLOCS 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static volatile unsigned long long alloc_calls, alloc_bytes;

void *
malloc(size_t size)
{
	alloc_calls++;
	alloc_bytes += size;
	return __libc_malloc(size);
}

void *
calloc(size_t nmemb, size_t size)
{
	alloc_calls++;
	alloc_bytes += nmemb * size;
	return __libc_calloc(nmemb, size);
}

void *
realloc(void *ptr, size_t size)
{
	alloc_calls++;
	alloc_bytes += size;
	return __libc_realloc(ptr, size);
}

void *
aligned_alloc(size_t alignment, size_t size)
{
	alloc_calls++;
	alloc_bytes += size;
	return __libc_memalign(alignment, size);
}

int
posix_memalign(void **out, size_t alignment, size_t size)
{
	void *p;

	alloc_calls++;
	alloc_bytes += size;
	if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
		return EINVAL;
	p = __libc_memalign(alignment, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void
free(void *ptr)
{
	__libc_free(ptr);
}
#else
#define COUNT_ALLOCS 0
static unsigned long long alloc_calls, alloc_bytes;
#endif

/* ---- inputs ---- */

struct rng01 {
	struct reclaim_rng rng;
};

/* Uniform in [lo, hi). */
static double
uniform(struct rng01 *r, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(reclaim_rng_next(&r->rng) >> 11) * 0x1.0p-53);
}

static bool
chance(struct rng01 *r, double p)
{
	return uniform(r, 0.0, 1.0) < p;
}

static uint64_t
pages(double bytes)
{
	return (uint64_t)bytes & ~(PAGE - 1);
}

/* A bijection of 64-bit words (splitmix64's finaliser): distinct ids. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

#define NOW_NS (1000 * NS_PER_S)

/*
 * N VMs of (1..32) x unit configured, 50-100 % consumed, 5-90 % of that
 * active, shares 10 per MiB x {0.5, 1, 2} (2 % with none), 30 % with a
 * reservation. Unless @p plain: 10 % with a limit (some below consumption),
 * 90 % with a balloon driver, 95 % with guest stats (3 % of them stale), 10 %
 * with their own idle tax, 5 % with a compression cache, half with a balloon
 * already inflated. @p plain VMs (for the page-by-page comparison) have no
 * limit and no balloon, which the reference does not model.
 */
static uint64_t
make_vms(struct reclaim_vm_stats *vms, size_t n, uint64_t seed, uint64_t unit, bool plain)
{
	const struct reclaim_vm_stats init = RECLAIM_VM_STATS_INIT;
	struct rng01 r;
	uint64_t consumed = 0;
	size_t i;

	reclaim_rng_seed(&r.rng, seed);
	for (i = 0; i < n; i++) {
		struct reclaim_vm_stats *v = &vms[i];
		uint64_t c = (1 + reclaim_rng_next(&r.rng) % 32) * unit;
		double mult = uniform(&r, 0.0, 1.0);

		*v = init;
		v->id = mix64(seed + i);
		v->configured_bytes = c;
		v->consumed_bytes = pages((double)c * uniform(&r, 0.5, 1.0));
		v->active_bytes = pages((double)v->consumed_bytes * uniform(&r, 0.05, 0.9));
		v->shares = chance(&r, 0.02) ? 0
					     : (uint64_t)((double)(c / MiB) * 10.0 *
							  (mult < 0.2 ? 0.5 : mult < 0.8 ? 1.0 : 2.0));
		if (chance(&r, 0.3))
			v->reservation_bytes = pages((double)c * uniform(&r, 0.0, 0.3));
		if (chance(&r, 0.1)) {
			v->flags |= RECLAIM_VM_IDLE_TAX;
			v->idle_tax = uniform(&r, 0.0, 0.9);
		}
		consumed += v->consumed_bytes;
		if (plain)
			continue;
		if (chance(&r, 0.1)) {
			uint64_t limit = pages((double)c * uniform(&r, 0.6, 1.0));

			v->limit_bytes = limit > v->reservation_bytes ? limit : v->reservation_bytes;
		}
		if (chance(&r, 0.9))
			v->flags |= RECLAIM_VM_BALLOON;
		if (chance(&r, 0.95)) {
			v->flags |= RECLAIM_VM_GUEST_STATS;
			v->stats_time_ns = NOW_NS - (chance(&r, 0.03) ? 20 * NS_PER_S
								      : (uint64_t)uniform(&r, 0.0, 5e9));
			v->guest_free_bytes = pages((double)c * uniform(&r, 0.0, 0.3));
			v->guest_swap_free_bytes = pages((double)c * uniform(&r, 0.0, 0.5));
		}
		if (chance(&r, 0.05)) {
			v->flags |= RECLAIM_VM_COMPRESS;
			v->compress_used_bytes = pages((double)c * uniform(&r, 0.0, 0.05));
		}
		if (chance(&r, 0.5))
			v->balloon_bytes = pages((double)c * uniform(&r, 0.0, 0.1));
		v->swapped_bytes = chance(&r, 0.1) ? pages((double)c * uniform(&r, 0.0, 0.1)) : 0;
	}
	return consumed;
}

/* A host whose VMs consume @p consumed and which has @p free_frac of its
 * usable memory free, plus 4 GiB held by the hypervisor. */
static struct reclaim_host
make_host(uint64_t consumed, double free_frac)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;
	uint64_t usable = (uint64_t)((double)consumed / (1.0 - free_frac));

	h.reserved_bytes = 4 * GiB;
	h.total_bytes = usable + h.reserved_bytes;
	h.free_bytes = usable - consumed;
	h.now_ns = NOW_NS;
	return h;
}

/* ---- no-op adapter ---- */

static int
op2(void *user_data, uint64_t id, uint64_t bytes)
{
	(void)id;
	(void)bytes;
	++*(uint64_t *)user_data;
	return 0;
}

static int
op1(void *user_data, uint64_t id)
{
	(void)id;
	++*(uint64_t *)user_data;
	return 0;
}

static const struct reclaim_adapter noop_adapter = {
	.version = RECLAIM_ADAPTER_VERSION,
	.set_balloon = op2,
	.swap_out = op2,
	.block = op1,
	.unblock = op1,
	.compress = op2,
};

/* ---- hostile inputs: the candidates for "worst" ---- */

enum cand {
	C_MIX,
	C_EQUAL,
	C_AT_BOUNDS,
	C_STALE,
	C_SKEWED,
	C_SPREAD,
	C_NO_DRIVER,
	C_NO_SWAP,
	C_SWAP_CUT,
	C_LOW,
	C_STALLED,
	C_DISTRESS,
	C_REBALANCE,
	C_UNALIGNED,
	C_SUB_PAGE,
	C_CHURN,
	C_CLUSTERED,
	C_SEARCH, /* the candidates above are searched for the worst */
	C_IDLE = C_SEARCH, /* the mix on an idle host */
	C_COUNT
};

struct candidate {
	const char *name;
	const char *what;
	double free_frac; /* of usable memory */
	int state;        /* the state it must put the host in */
};

static const struct candidate cands[C_COUNT] = {
	[C_MIX] = {"mix", "the mix of the main table", 0.015, RECLAIM_STATE_HARD},
	[C_EQUAL] = {"equal", "every VM the same size, active memory and shares: equal prices",
		     0.015, RECLAIM_STATE_HARD},
	[C_AT_BOUNDS] = {"at-bounds",
			 "reservations 0-9 % below consumption (a quarter end at theirs), 20 % over"
			 " a limit",
			 0.015, RECLAIM_STATE_HARD},
	[C_STALE] = {"stale", "every VM's guest stats stale", 0.015, RECLAIM_STATE_HARD},
	[C_SKEWED] = {"skewed", "1 % of the VMs with 10,000x the shares", 0.015, RECLAIM_STATE_HARD},
	[C_SPREAD] = {"spread", "shares log-uniform over 9 decades", 0.015, RECLAIM_STATE_HARD},
	[C_NO_DRIVER] = {"no-driver", "no balloon drivers: host swap only", 0.015,
			 RECLAIM_STATE_HARD},
	[C_NO_SWAP] = {"no-swap", "host swap full: balloons and compression only", 0.015,
		       RECLAIM_STATE_HARD},
	[C_SWAP_CUT] = {"swap-cut", "host swap room a third of the need: every VM's swap cut", 0.015,
			RECLAIM_STATE_HARD},
	[C_LOW] = {"low", "0.5 % free: low state, host swap and blocking", 0.005, RECLAIM_STATE_LOW},
	[C_STALLED] = {"stalled", "no balloon moved since the last tick: all still in flight", 0.015,
		       RECLAIM_STATE_HARD},
	[C_DISTRESS] = {"distress",
			"every guest out of free memory and swap: balloons above their caps give"
			" back",
			0.015, RECLAIM_STATE_HARD},
	[C_REBALANCE] = {"rebalance",
			 "soft state (3 % free), half the guests short of memory: rebalancing",
			 0.03, RECLAIM_STATE_SOFT},
	[C_UNALIGNED] = {"unaligned",
			 "sizes and reservations not page-aligned, reservations near consumption",
			 0.015, RECLAIM_STATE_HARD},
	[C_SUB_PAGE] = {"sub-page",
			"soft state, one guest short of memory (targets rounded to whole pages, not"
			" placed page-exactly), 60 % of VMs with a reservation 1-64 bytes off a page",
			0.03, RECLAIM_STATE_SOFT},
	[C_CHURN] = {"churn",
		     "one VM started since the last tick: every VM's history found by its id, not"
		     " its place",
		     0.015, RECLAIM_STATE_HARD},
	[C_CLUSTERED] = {"clustered-ids",
			 "churn, with ids that differ only in their top 24 bits (low 40 bits equal)",
			 0.015, RECLAIM_STATE_HARD},
	[C_IDLE] = {"idle", "the mix on an idle host", 0.10, RECLAIM_STATE_HIGH},
};

static int
cand_by_name(const char *name)
{
	int c;

	for (c = 0; c < C_SEARCH; c++)
		if (!strcmp(name, cands[c].name))
			return c;
	return -1;
}

/* Fresh guest stats with @p free and @p swap_free bytes, and a driver. */
static void
guest(struct reclaim_vm_stats *v, uint64_t free, uint64_t swap_free)
{
	v->flags |= RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	v->stats_time_ns = NOW_NS - NS_PER_S / 2;
	v->guest_free_bytes = free;
	v->guest_swap_free_bytes = swap_free;
}

/* Turns the mix (make_vms) into candidate @p c's VMs. */
static void
shape_vms(int c, struct reclaim_vm_stats *vms, size_t n, uint64_t seed)
{
	const struct reclaim_vm_stats init = RECLAIM_VM_STATS_INIT;
	struct rng01 r;
	size_t i;

	reclaim_rng_seed(&r.rng, seed ^ (0x5348415045ull + (uint64_t)c));
	for (i = 0; i < n; i++) {
		struct reclaim_vm_stats *v = &vms[i];
		uint64_t cons = v->consumed_bytes;

		switch (c) {
		case C_EQUAL:
			*v = init;
			v->id = mix64(seed + i);
			v->configured_bytes = 8 * GiB;
			v->consumed_bytes = 6 * GiB;
			v->active_bytes = 2 * GiB;
			v->shares = 81920;
			guest(v, 1 * GiB, 1 * GiB);
			break;
		case C_AT_BOUNDS:
			if (chance(&r, 0.2)) {
				v->limit_bytes = pages((double)cons * uniform(&r, 0.95, 1.0));
				if (v->reservation_bytes > v->limit_bytes)
					v->reservation_bytes = v->limit_bytes;
			} else {
				v->reservation_bytes = pages((double)cons * uniform(&r, 0.91, 1.0));
				if (v->limit_bytes < v->reservation_bytes)
					v->limit_bytes = v->reservation_bytes;
			}
			break;
		case C_STALE:
			v->flags |= RECLAIM_VM_GUEST_STATS;
			v->stats_time_ns = NOW_NS - 20 * NS_PER_S;
			break;
		case C_SKEWED:
			if (i % 100 == 0)
				v->shares = (v->shares ? v->shares : v->configured_bytes / MiB * 10) *
					    10000;
			break;
		case C_SPREAD:
			v->shares = (uint64_t)pow(10.0, uniform(&r, 0.0, 9.0));
			break;
		case C_NO_DRIVER:
			v->flags &= ~(uint32_t)RECLAIM_VM_BALLOON;
			break;
		case C_DISTRESS:
			guest(v, 0, 0);
			v->balloon_bytes = pages((double)v->configured_bytes * uniform(&r, 0.05, 0.2));
			break;
		case C_REBALANCE:
			if (i % 2) {
				guest(v, 32 * MiB, 1 * GiB);
				v->balloon_bytes =
					pages((double)v->configured_bytes * uniform(&r, 0.05, 0.2));
			}
			break;
		case C_UNALIGNED:
			v->consumed_bytes = cons - (uint64_t)uniform(&r, 1.0, 4095.0);
			v->active_bytes = (uint64_t)((double)v->consumed_bytes * uniform(&r, 0.05, 0.9));
			v->reservation_bytes =
				(uint64_t)((double)v->consumed_bytes * uniform(&r, 0.91, 1.0));
			if (v->limit_bytes < v->reservation_bytes)
				v->limit_bytes = v->reservation_bytes;
			break;
		case C_SUB_PAGE:
			guest(v, pages((double)v->configured_bytes * 0.3), 1 * GiB);
			v->limit_bytes = RECLAIM_UNLIMITED;
			v->reservation_bytes = 0;
			if (i == 0) {
				guest(v, 32 * MiB, 1 * GiB);
				v->balloon_bytes = pages((double)v->configured_bytes * 0.1);
			} else if (chance(&r, 0.6)) {
				v->reservation_bytes = cons - pages((double)cons * uniform(&r, 0.0, 0.02)) -
						       (uint64_t)uniform(&r, 1.0, 64.0);
			}
			break;
		case C_CLUSTERED:
			v->id = (uint64_t)(i + 1) << 40;
			break;
		default:
			break;
		}
	}
}

/* A host whose VMs consume @p consumed, laid out for candidate @p c. */
static struct reclaim_host
cand_host(int c, uint64_t consumed)
{
	struct reclaim_host h = make_host(consumed, cands[c].free_frac);

	if (c == C_NO_SWAP || c == C_SWAP_CUT) {
		h.flags |= RECLAIM_HOST_SWAP_BOUNDED;
		/* The need is 6 % - 1.5 % of usable: a third of it. */
		h.swap_free_bytes = c == C_NO_SWAP ? 0
						   : (uint64_t)((double)(h.total_bytes - h.reserved_bytes) *
								0.015);
	}
	return h;
}

/* ---- one fleet of N VMs ---- */

/* One host: its VMs, its policy, and its last summary. */
struct vmset {
	int cand;
	struct reclaim_policy *policy;
	struct reclaim_vm_stats *vms;
	struct reclaim_host host;
	struct reclaim_summary sum;
};

struct fleet {
	size_t n;
	uint64_t seed;
	struct reclaim_config cfg;
	struct vmset busy, idle;          /* the mix on a busy and an idle host */
	struct vmset worst[2];            /* the two costliest candidates */
	struct reclaim_vm_stats *re_vms;  /* busy's VMs in another order */
	uint32_t *perm;                   /* re_vms[i] is busy.vms[perm[i]] */
	struct rng01 perm_rng;
	uint32_t last_first;              /* perm[0] of the previous order */
	struct reclaim_summary sum_re;
	struct reclaim_decision *dec;
	struct reclaim_apply_result *res;
	double *rho;
	uint64_t adapter_calls;
	size_t policy_bytes;            /* reclaim_policy_memory_size(n) */
	unsigned long long new_allocs;  /* allocations in reclaim_policy_new */
	unsigned long long new_bytes;
	size_t re_differ;               /* reordered decisions unlike in order */
};

enum op {
	OP_BOUND,
	OP_ONEPASS,
	OP_DECIDE,
	OP_APPLY,
	OP_DECIDE_IDLE,
	OP_APPLY_IDLE,
	OP_REORDER,
	OP_WORST,
	OP_WORST2,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"bound", "one-pass", "decide", "apply", "decide-idle", "apply-idle", "decide-reorder",
	"decide-worst", "decide-worst2",
};

/* Whatever the policy does, it must not be optimised away. */
static volatile uint64_t sink;

/*
 * The bound: read each VM's stats whole (every field, so every cache line
 * of its 136 bytes) and write a whole decision (all 96 bytes), every output
 * derived from the inputs, nothing else. decide cannot do with less.
 */
static __attribute__((noinline)) uint64_t
bound_pass(struct reclaim_decision *dec, const struct reclaim_vm_stats *vms, size_t n)
{
	uint64_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *v = &vms[i];
		uint64_t c = v->consumed_bytes, lim = v->limit_bytes, res = v->reservation_bytes;
		uint64_t t = c < lim ? c : lim;
		uint64_t b = v->balloon_bytes + ((v->guest_free_bytes + v->guest_swap_free_bytes) >> 4);
		uint64_t cap = v->balloon_cap_bytes;

		t = t > res ? t : res;
		b = b < cap ? b : cap;
		dec[i] = (struct reclaim_decision){
			.struct_size = (uint32_t)sizeof(struct reclaim_decision),
			.actions = v->flags & 3u,
			.id = v->id,
			.target_bytes = t,
			.balloon_target_bytes = b,
			.swap_bytes = (c - t) >> 1,
			.compress_bytes = (v->compress_max_bytes - v->compress_used_bytes) >> 3,
			.excess_bytes = c - t,
			.balloon_cap_bytes = cap,
			.block = v->stats_time_ns > NOW_NS,
			.state = v->struct_size & 3u,
			.reasons = (uint32_t)(v->swapped_bytes >> 12),
			.bound = (uint32_t)(v->configured_bytes >> 30),
			.balloon_limit = (uint32_t)(v->active_bytes >> 30),
			.reserved0 = 0,
			.rho = (double)v->shares * v->idle_tax,
		};
		acc += v->id ^ v->active_bytes;
	}
	return acc;
}

/*
 * The one-pass limit: read each VM's stats once and compute its price at
 * its consumption, as a policy must at the least.
 */
static __attribute__((noinline)) void
one_pass(double *rho, const struct reclaim_vm_stats *vms, size_t n, double tau)
{
	double k_default = 1.0 / (1.0 - tau);
	size_t i;

	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *v = &vms[i];
		double p = (double)v->consumed_bytes;
		double a = v->active_bytes < v->consumed_bytes ? (double)v->active_bytes : p;
		double k = (v->flags & RECLAIM_VM_IDLE_TAX) ? 1.0 / (1.0 - v->idle_tax) : k_default;
		double cost = a + k * (p - a);

		rho[i] = cost > 0.0 ? (double)v->shares / cost : 0.0;
	}
}

static int
vmset_decide(struct vmset *s, struct fleet *f)
{
	return reclaim_decide(s->policy, &s->host, s->vms, f->n, RECLAIM_DECIDE_DRY_RUN, &s->sum,
			      f->dec);
}

static int
run_op(struct fleet *f, int op)
{
	int rc = RECLAIM_OK;

	switch (op) {
	case OP_BOUND:
		sink = bound_pass(f->dec, f->busy.vms, f->n);
		break;
	case OP_ONEPASS:
		one_pass(f->rho, f->busy.vms, f->n, f->cfg.idle_tax);
		break;
	case OP_DECIDE:
		rc = vmset_decide(&f->busy, f);
		break;
	case OP_DECIDE_IDLE:
		rc = vmset_decide(&f->idle, f);
		break;
	case OP_REORDER:
		rc = reclaim_decide(f->busy.policy, &f->busy.host, f->re_vms, f->n,
				    RECLAIM_DECIDE_DRY_RUN, &f->sum_re, f->dec);
		break;
	case OP_WORST:
	case OP_WORST2:
		rc = vmset_decide(&f->worst[op - OP_WORST], f);
		break;
	case OP_APPLY:
	case OP_APPLY_IDLE:
		rc = reclaim_apply(op == OP_APPLY ? f->busy.policy : f->idle.policy, &noop_adapter,
				   &f->adapter_calls, f->dec, f->n, f->res, sizeof(*f->res));
		break;
	default:
		rc = RECLAIM_E_INVAL;
	}
	return rc;
}

/*
 * A new order for the reordered VMs: a fresh random permutation, never the
 * order the busy policy's history was built in (the identity: its VMs'
 * own) and never the previous call's (VM 0 of each differs), so that the
 * library can neither find its last order again nor remember this one.
 */
static void
new_order(struct fleet *f)
{
	size_t n = f->n, i, k;
	uint32_t *p = f->perm;

	for (i = n - 1; i > 0; i--) {
		size_t j = (size_t)(reclaim_rng_next(&f->perm_rng.rng) % (i + 1));
		uint32_t x = p[i];

		p[i] = p[j];
		p[j] = x;
	}
	if (n >= 3 && (p[0] == 0 || p[0] == f->last_first)) {
		for (k = 1; p[k] == 0 || p[k] == f->last_first; k++)
			;
		i = p[0];
		p[0] = p[k];
		p[k] = (uint32_t)i;
	}
	f->last_first = p[0];
	for (i = 0; i < n; i++)
		f->re_vms[i] = f->busy.vms[p[i]];
}

/*
 * Untimed, before each sample: what a hypervisor does before it calls.
 * Every decide's input has just been read or written, as a hypervisor's
 * freshly polled stats are (the mix's by the bound and one-pass loops that
 * run right before it); the reordered VMs come in a new order each time.
 */
static void
prepare_op(struct fleet *f, int op)
{
	switch (op) {
	case OP_REORDER:
		new_order(f);
		break;
	case OP_DECIDE_IDLE:
		sink = bound_pass(f->dec, f->idle.vms, f->n);
		break;
	case OP_WORST:
	case OP_WORST2:
		sink = bound_pass(f->dec, f->worst[op - OP_WORST].vms, f->n);
		break;
	default:
		break;
	}
}

static void
vmset_free(struct vmset *s)
{
	reclaim_policy_destroy(s->policy);
	free(s->vms);
	memset(s, 0, sizeof(*s));
}

static void
fleet_free(struct fleet *f)
{
	vmset_free(&f->busy);
	vmset_free(&f->idle);
	vmset_free(&f->worst[0]);
	vmset_free(&f->worst[1]);
	free(f->re_vms);
	free(f->perm);
	free(f->dec);
	free(f->res);
	free(f->rho);
	memset(f, 0, sizeof(*f));
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "reclaim-speed: %s: %s\n", what,
		rc < 0 ? reclaim_strerror(rc) : "check failed");
	return -1;
}

/*
 * The tick before: the same VMs one second earlier, consumption within 1 %
 * and active memory within 5 % of now (unless @p jitter is false: then
 * exactly as now), as a hypervisor polling every second sees them.
 */
static uint64_t
previous_tick(struct reclaim_vm_stats *prev, const struct reclaim_vm_stats *vms, size_t n,
	      uint64_t seed, bool jitter)
{
	struct rng01 r;
	uint64_t consumed = 0;
	size_t i;

	reclaim_rng_seed(&r.rng, ~seed);
	for (i = 0; i < n; i++) {
		struct reclaim_vm_stats *v = &prev[i];
		uint64_t c;

		*v = vms[i];
		if (jitter) {
			c = (uint64_t)((double)v->consumed_bytes * uniform(&r, 0.99, 1.01));
			if (!(v->consumed_bytes & (PAGE - 1)))
				c &= ~(PAGE - 1); /* whole pages stay whole pages */
			v->consumed_bytes = c < v->configured_bytes ? c : v->configured_bytes;
			v->active_bytes = pages((double)v->active_bytes * uniform(&r, 0.95, 1.05));
		}
		if (v->flags & RECLAIM_VM_GUEST_STATS)
			v->stats_time_ns -= NS_PER_S;
		consumed += v->consumed_bytes;
	}
	return consumed;
}

/*
 * Candidate @p c's VMs, host and policy, with its previous tick decided
 * (committed) and applied: timed decides then run the tick after, in the
 * steady state of a hypervisor that polls every second. In that second
 * each balloon moved by up to 16 MiB toward what was asked (none, for the
 * stalled candidate), and the host got those pages (or gave them back).
 * Then checks that the host is in the candidate's state.
 */
static int
vmset_init(struct vmset *s, struct fleet *f, int c)
{
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_vm_stats *prev;
	struct reclaim_host h;
	unsigned long long calls, bytes;
	uint64_t consumed = 0;
	size_t i, n = f->n;
	/* Churn: VM 0 was not there the tick before. */
	size_t skip = (c == C_CHURN || c == C_CLUSTERED) && n > 1;
	int rc;

	s->cand = c;
	s->vms = calloc(n, sizeof(*s->vms));
	prev = calloc(n, sizeof(*prev));
	if (!s->vms || !prev) {
		free(prev);
		return fail("out of memory", 1);
	}
	make_vms(s->vms, n, f->seed, 256 * MiB, false);
	shape_vms(c, s->vms, n, f->seed);
	h = cand_host(c, previous_tick(prev, s->vms, n, f->seed, c != C_EQUAL));
	h.now_ns -= NS_PER_S;

	calls = alloc_calls;
	bytes = alloc_bytes;
	rc = reclaim_policy_new(&s->policy, &f->cfg, n);
	if (!f->new_allocs) {
		f->new_allocs = alloc_calls - calls;
		f->new_bytes = alloc_bytes - bytes;
	}
	if (!rc && COUNT_ALLOCS && f->new_allocs == 0) {
		free(prev);
		return fail("allocation counter saw nothing in reclaim_policy_new: not interposed",
			    1);
	}
	if (!rc)
		rc = reclaim_decide(s->policy, &h, prev + skip, n - skip, 0, &sum, f->dec);
	if (!rc)
		rc = reclaim_apply(s->policy, &noop_adapter, &f->adapter_calls, f->dec, n - skip,
				   f->res, sizeof(*f->res));
	free(prev);
	if (rc)
		return fail("warm-up", rc);
	for (i = 0; i < n; i++) {
		struct reclaim_vm_stats *v = &s->vms[i];
		uint64_t ask = i >= skip ? f->dec[i - skip].balloon_target_bytes : v->balloon_bytes;
		uint64_t b = v->balloon_bytes, move;

		if (c == C_STALLED) {
			/* nothing moved */
		} else if (ask > b) {
			move = ask - b < 16 * MiB ? ask - b : 16 * MiB;
			move = move < v->consumed_bytes ? move : 0;
			v->balloon_bytes += move;
			v->consumed_bytes -= move;
		} else {
			move = b - ask < 16 * MiB ? b - ask : 16 * MiB;
			move = move < v->configured_bytes - v->consumed_bytes ? move : 0;
			v->balloon_bytes -= move;
			v->consumed_bytes += move;
		}
		if (v->active_bytes > v->consumed_bytes)
			v->active_bytes = v->consumed_bytes;
		consumed += v->consumed_bytes;
	}
	s->host = cand_host(c, consumed);
	s->sum = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	rc = vmset_decide(s, f);
	if (rc)
		return fail("decide", rc);
	if ((int)s->sum.state != cands[c].state) {
		fprintf(stderr, "reclaim-speed: N=%zu: %s host is %s, not %s\n", n, cands[c].name,
			reclaim_state_name(s->sum.state), reclaim_state_name(cands[c].state));
		return -1;
	}
	if (c == C_MIX && (!(s->sum.level > 0.0) || s->sum.need_bytes == 0 ||
			   s->sum.swap_bytes == 0 || s->sum.balloon_bytes == 0)) {
		fprintf(stderr,
			"reclaim-speed: N=%zu: busy host (need %llu, balloon %llu, swap %llu,"
			" level %g): not a balloon/swap split\n",
			n, (unsigned long long)s->sum.need_bytes,
			(unsigned long long)s->sum.balloon_bytes,
			(unsigned long long)s->sum.swap_bytes, s->sum.level);
		return -1;
	}
	return 0;
}

/*
 * The reordered VMs, and a check that they are the mix's VMs: the same
 * summary, and each VM's decision the same as in order (a VM whose page
 * is tied with another's at the cutoff may differ by it: counted).
 */
static int
reorder_init(struct fleet *f)
{
	struct reclaim_decision *in_order;
	size_t i, n = f->n;
	int rc;

	f->re_vms = calloc(n, sizeof(*f->re_vms));
	f->perm = calloc(n, sizeof(*f->perm));
	in_order = calloc(n, sizeof(*in_order));
	if (!f->re_vms || !f->perm || !in_order) {
		free(in_order);
		return fail("out of memory", 1);
	}
	for (i = 0; i < n; i++)
		f->perm[i] = (uint32_t)i;
	reclaim_rng_seed(&f->perm_rng.rng, f->seed ^ 0x4f52444552ull);
	rc = vmset_decide(&f->busy, f);
	memcpy(in_order, f->dec, n * sizeof(*in_order));
	new_order(f);
	f->sum_re = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	if (!rc)
		rc = run_op(f, OP_REORDER);
	if (rc) {
		free(in_order);
		return fail("reordered decide", rc);
	}
	f->re_differ = 0;
	for (i = 0; i < n; i++)
		f->re_differ += memcmp(&f->dec[i], &in_order[f->perm[i]], sizeof(*in_order)) != 0;
	free(in_order);
	if (f->sum_re.state != f->busy.sum.state || f->sum_re.need_bytes != f->busy.sum.need_bytes ||
	    f->sum_re.reclaimable_bytes != f->busy.sum.reclaimable_bytes)
		return fail("reordered VMs: not the same host as in order", 1);
	return 0;
}

enum {
	PART_BUSY = 1,
	PART_IDLE = 2,
	PART_WORST = 4,
	PART_WORST2 = 8,
	PART_REORDER = 16,
	PART_ALL = 31
};

/*
 * Builds N VMs and the parts of the fleet asked for (the worst ones as
 * candidates @p worst[0] and [1]), and checks them.
 */
static int
fleet_init(struct fleet *f, size_t n, uint64_t seed, const int worst[2], int parts)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	f->seed = seed;
	f->dec = calloc(n, sizeof(*f->dec));
	f->res = calloc(n, sizeof(*f->res));
	f->rho = calloc(n, sizeof(*f->rho));
	if (!f->dec || !f->res || !f->rho)
		return fail("out of memory", 1);
	RECLAIM_CONFIG_INIT_DEFAULT(&f->cfg);
	f->policy_bytes = reclaim_policy_memory_size(n);
	if (!f->policy_bytes)
		return fail("reclaim_policy_memory_size", RECLAIM_E_INVAL);
	if ((parts & (PART_BUSY | PART_REORDER)) && vmset_init(&f->busy, f, C_MIX))
		return -1;
	if ((parts & PART_IDLE) && vmset_init(&f->idle, f, C_IDLE))
		return -1;
	if ((parts & PART_WORST) && vmset_init(&f->worst[0], f, worst[0]))
		return -1;
	if ((parts & PART_WORST2) && vmset_init(&f->worst[1], f, worst[1]))
		return -1;
	if ((parts & PART_REORDER) && reorder_init(f))
		return -1;
	/* apply carries out the busy decisions: leave them in f->dec. */
	if ((parts & PART_BUSY) && vmset_decide(&f->busy, f))
		return fail("decide", 1);
	return 0;
}

/* ---- timing ---- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stats {
	double median, p99; /* ns per call */
	size_t samples, batch;
	unsigned long long allocs;
};

static void
summarise(struct stats *st, double *t, size_t m)
{
	qsort(t, m, sizeof(*t), cmp_double);
	st->median = m % 2 ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2]);
	st->p99 = t[(size_t)ceil(0.99 * (double)m) - 1]; /* nearest rank */
	st->samples = m;
}

struct plan {
	double budget_ms;   /* per N: keep sampling until this is spent ... */
	size_t min_samples; /* ... and at least this many rounds */
	size_t min_samples_1m; /* (at 1M VMs and more) */
	size_t max_samples;
};

/* What one measurement times: @p count items, in rounds of one sample each. */
struct timed {
	size_t count;
	int (*run)(void *ctx, size_t k);
	void (*prepare)(void *ctx, size_t k); /* untimed, before each sample */
	bool (*once)(void *ctx, size_t k);    /* one call per sample, never a batch */
	void *ctx;
};

/* Calls per sample so that one sample lasts at least 20 us. */
static size_t
batch_for(const struct timed *tm, size_t k)
{
	uint64_t t0, t;

	if (tm->once(tm->ctx, k))
		return 1;
	tm->prepare(tm->ctx, k);
	tm->run(tm->ctx, k);
	t0 = now_ns();
	tm->run(tm->ctx, k);
	t = now_ns() - t0;
	if (t >= 20000)
		return 1;
	return (size_t)(20000 / (t ? t : 1)) + 1;
}

/*
 * Rounds of one sample of every item, interleaved so that the machine's
 * drift hits them alike.
 */
static int
measure(struct stats *st, const struct timed *tm, size_t n, const struct plan *pl)
{
	size_t min_samples = n >= 1000000 ? pl->min_samples_1m : pl->min_samples;
	double **t = calloc(tm->count, sizeof(*t));
	uint64_t start;
	size_t r, b, k;
	int rc = 0;

	if (!t)
		return fail("out of memory", 1);
	memset(st, 0, tm->count * sizeof(*st));
	for (k = 0; k < tm->count; k++) {
		t[k] = calloc(pl->max_samples, sizeof(double));
		if (!t[k]) {
			while (k--)
				free(t[k]);
			free(t);
			return fail("out of memory", 1);
		}
		st[k].batch = batch_for(tm, k);
	}
	start = now_ns();
	for (r = 0; r < pl->max_samples; r++) {
		if (r >= min_samples && (double)(now_ns() - start) > pl->budget_ms * 1e6)
			break;
		for (k = 0; k < tm->count; k++) {
			unsigned long long a0;
			uint64_t t0;

			tm->prepare(tm->ctx, k);
			a0 = alloc_calls;
			t0 = now_ns();
			for (b = 0; b < st[k].batch; b++)
				rc |= tm->run(tm->ctx, k);
			t[k][r] = (double)(now_ns() - t0) / (double)st[k].batch;
			st[k].allocs += alloc_calls - a0;
		}
	}
	for (k = 0; k < tm->count; k++) {
		summarise(&st[k], t[k], r);
		free(t[k]);
	}
	free(t);
	return rc ? fail("decide/apply during timing", rc) : 0;
}

/* A fleet's ops, as measure() sees them. */
struct fleet_ops {
	struct fleet *f;
	const int *ops;
};

static int
fleet_run(void *ctx, size_t k)
{
	struct fleet_ops *fo = ctx;

	return run_op(fo->f, fo->ops[k]);
}

static void
fleet_prepare(void *ctx, size_t k)
{
	struct fleet_ops *fo = ctx;

	prepare_op(fo->f, fo->ops[k]);
}

/* A reordered decide is one call per order: a batch would repeat one. */
static bool
fleet_once(void *ctx, size_t k)
{
	struct fleet_ops *fo = ctx;

	return fo->ops[k] == OP_REORDER;
}

/* ---- the candidates for "worst", side by side ---- */

struct cand_set {
	struct fleet *f; /* n, seed, config and scratch */
	struct vmset sets[C_SEARCH];
};

static int
cand_run(void *ctx, size_t k)
{
	struct cand_set *cs = ctx;

	return vmset_decide(&cs->sets[k], cs->f);
}

static void
cand_prepare(void *ctx, size_t k)
{
	struct cand_set *cs = ctx;

	sink = bound_pass(cs->f->dec, cs->sets[k].vms, cs->f->n);
}

static bool
cand_once(void *ctx, size_t k)
{
	(void)ctx;
	(void)k;
	return false;
}

static void
flag_names(char *buf, size_t size, uint32_t flags)
{
	uint32_t bit;
	size_t len = 0;

	buf[0] = '\0';
	for (bit = 1; bit && len < size; bit <<= 1) {
		const char *name = (flags & bit) ? reclaim_summary_flag_name(bit) : NULL;

		if (name)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
	}
}

/*
 * Times every candidate at @p n VMs, interleaved, prints the sub-table and
 * leaves the two that cost most per VM in @p worst (the mix among them).
 */
static int
candidates_table(int worst[2], size_t n, uint64_t seed, const struct plan *pl,
		 unsigned long long *allocs)
{
	struct stats st[C_SEARCH];
	struct cand_set cs;
	struct fleet f;
	struct timed tm = {C_SEARCH, cand_run, cand_prepare, cand_once, &cs};
	int c, rc = -1;

	memset(&cs, 0, sizeof(cs));
	cs.f = &f;
	if (fleet_init(&f, n, seed, NULL, 0))
		goto done;
	for (c = 0; c < C_SEARCH; c++)
		if (vmset_init(&cs.sets[c], &f, c))
			goto done;
	if (measure(st, &tm, n, pl))
		goto done;
	printf("Candidates for the worst input, %zu VMs (decide, median of %zu interleaved"
	       " samples):\n\n",
	       n, st[0].samples);
	printf("| candidate | state | median ns/VM | p99 ns/VM | / mix | summary flags | what |\n");
	printf("|---|---|---:|---:|---:|---|---|\n");
	worst[0] = worst[1] = -1;
	for (c = 0; c < C_SEARCH; c++) {
		char flags[160];

		*allocs += st[c].allocs;
		vmset_decide(&cs.sets[c], &f);
		flag_names(flags, sizeof(flags), cs.sets[c].sum.flags);
		printf("| %s | %s | %.1f | %.1f | %.2f | %s | %s |\n", cands[c].name,
		       reclaim_state_name(cs.sets[c].sum.state), st[c].median / (double)n,
		       st[c].p99 / (double)n, st[c].median / st[C_MIX].median, flags, cands[c].what);
		if (worst[0] < 0 || st[c].median > st[worst[0]].median) {
			worst[1] = worst[0];
			worst[0] = c;
		} else if (worst[1] < 0 || st[c].median > st[worst[1]].median) {
			worst[1] = c;
		}
	}
	printf("\nworst: %s, then %s\n\n", cands[worst[0]].name, cands[worst[1]].name);
	rc = 0;
done:
	for (c = 0; c < C_SEARCH; c++)
		vmset_free(&cs.sets[c]);
	fleet_free(&f);
	return rc;
}

/* ---- page-by-page comparison ---- */

struct pagewise {
	double decide_ns, ref_ns;
	uint64_t need, decide_got, ref_got, max_diff;
	size_t ref_runs;
};

/*
 * 1,000 VMs on a 1 TiB host with no free memory (low state): both decide and
 * the reference must revoke 6 % of the host, by the same price rule, from
 * the same VMs (no limits, no balloons: the reference has neither).
 */
static int
bench_pagewise(struct pagewise *pw, uint64_t seed, size_t ref_runs)
{
	const size_t n = 1000;
	struct reclaim_config cfg;
	struct reclaim_policy *policy = NULL;
	struct reclaim_vm_stats *vms = calloc(n, sizeof(*vms));
	struct reclaim_decision *dec = calloc(n, sizeof(*dec));
	struct ref_vm *ref = calloc(n, sizeof(*ref));
	uint64_t *out = calloc(n, sizeof(*out));
	double t[201];
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
	uint64_t consumed, t0;
	size_t i, m, b, batch;
	int rc = -1;

	memset(pw, 0, sizeof(*pw));
	if (!vms || !dec || !ref || !out) {
		fail("out of memory", 1);
		goto done;
	}
	consumed = make_vms(vms, n, seed ^ 0x7061676577697365ull, 64 * MiB, true);
	host.total_bytes = TiB;
	host.free_bytes = 0;
	host.now_ns = NOW_NS;
	if (consumed > TiB) {
		fail("page-by-page host: VMs exceed 1 TiB", 1);
		goto done;
	}
	RECLAIM_CONFIG_INIT_DEFAULT(&cfg);
	if ((rc = reclaim_policy_new(&policy, &cfg, n)) ||
	    (rc = reclaim_decide(policy, &host, vms, n, 0, &s, dec))) {
		fail("page-by-page host: decide", rc);
		rc = -1;
		goto done;
	}
	rc = -1;
	if (s.state != RECLAIM_STATE_LOW) {
		fail("page-by-page host not in the low state", 1);
		goto done;
	}
	pw->need = s.need_bytes;

	batch = 1;
	for (m = 0; m < sizeof(t) / sizeof(t[0]); m++) {
		t0 = now_ns();
		for (b = 0; b < batch; b++)
			reclaim_decide(policy, &host, vms, n, RECLAIM_DECIDE_DRY_RUN, &s, dec);
		t[m] = (double)(now_ns() - t0) / (double)batch;
	}
	qsort(t, m, sizeof(t[0]), cmp_double);
	pw->decide_ns = t[m / 2];

	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *v = &vms[i];

		ref[i].shares = v->shares;
		ref[i].lo = v->reservation_bytes;
		ref[i].alloc = v->consumed_bytes;
		ref[i].active = v->active_bytes < v->consumed_bytes ? v->active_bytes
								    : v->consumed_bytes;
		ref[i].tau = (v->flags & RECLAIM_VM_IDLE_TAX) ? v->idle_tax : cfg.idle_tax;
	}
	for (m = 0; m < ref_runs && m < sizeof(t) / sizeof(t[0]); m++) {
		t0 = now_ns();
		pw->ref_got = ref_pagewise(out, ref, n, pw->need, cfg.page_size);
		t[m] = (double)(now_ns() - t0);
	}
	qsort(t, m, sizeof(t[0]), cmp_double);
	pw->ref_ns = t[m / 2];
	pw->ref_runs = m;

	for (i = 0; i < n; i++) {
		uint64_t d = dec[i].target_bytes, r = out[i];

		pw->decide_got += vms[i].consumed_bytes - d;
		if ((d > r ? d - r : r - d) > pw->max_diff)
			pw->max_diff = d > r ? d - r : r - d;
	}
	if (pw->ref_got == UINT64_MAX || pw->ref_got < pw->need || pw->decide_got < pw->need) {
		fail("page-by-page: decide or the reference did not reclaim the need", 1);
		goto done;
	}
	rc = 0;
done:
	reclaim_policy_destroy(policy);
	free(vms);
	free(dec);
	free(ref);
	free(out);
	return rc;
}

/* ---- callgrind and perf modes ---- */

/* The only code callgrind counts (--toggle-collect='callgrind_measured*'). */
static __attribute__((noinline)) int
callgrind_measured(struct fleet *f, int op)
{
	return run_op(f, op);
}

static int
op_parts(int op)
{
	switch (op) {
	case OP_DECIDE_IDLE:
		return PART_IDLE;
	case OP_WORST:
		return PART_WORST;
	case OP_REORDER:
		return PART_BUSY | PART_REORDER;
	default:
		return PART_BUSY;
	}
}

/*
 * One OP on N VMs: exactly once inside callgrind_measured() (@p seconds 0),
 * or in a loop for @p seconds (for perf record). decide-worst is candidate
 * @p worst.
 */
static int
single_main(const char *name, size_t n, double seconds, uint64_t seed, int worst)
{
	const int w[2] = {worst, -1};
	struct fleet f;
	uint64_t start, calls = 0;
	int op, rc;

	for (op = 0; op < OP_COUNT; op++)
		if (!strcmp(name, op_names[op]))
			break;
	if (op == OP_COUNT || op == OP_APPLY_IDLE || op == OP_WORST2 || n == 0 || seconds < 0.0) {
		fprintf(stderr, "reclaim-speed: OP is bound, one-pass, decide, decide-idle, apply,"
				" decide-reorder or decide-worst\n");
		return 2;
	}
	if (fleet_init(&f, n, seed, w, op_parts(op))) {
		fleet_free(&f);
		return 1;
	}
	if (seconds == 0.0) {
		prepare_op(&f, op);
		rc = callgrind_measured(&f, op);
		calls = 1;
	} else {
		start = now_ns();
		do {
			prepare_op(&f, op);
			rc = run_op(&f, op);
			calls++;
		} while (!rc && (double)(now_ns() - start) < seconds * 1e9);
		printf("%s%s%s N=%zu: %.1f ns/VM over %llu calls\n", op_names[op],
		       op == OP_WORST ? " " : "", op == OP_WORST ? cands[worst].name : "", n,
		       (double)(now_ns() - start) / (double)calls / (double)n,
		       (unsigned long long)calls);
	}
	if (rc)
		fail(op_names[op], rc);
	fleet_free(&f);
	return rc ? 1 : 0;
}

/* ---- --check: the inputs and yardsticks, without timing ---- */

/* Every byte of every decision the bound writes is its own: two arrays
 * filled with different bytes come out the same. */
static int
check_bound(struct fleet *f)
{
	struct reclaim_decision *other = malloc(f->n * sizeof(*other));
	int rc = 0;

	if (!other)
		return fail("out of memory", 1);
	memset(f->dec, 0xa5, f->n * sizeof(*f->dec));
	memset(other, 0x5a, f->n * sizeof(*other));
	bound_pass(f->dec, f->busy.vms, f->n);
	bound_pass(other, f->busy.vms, f->n);
	if (memcmp(f->dec, other, f->n * sizeof(*other)))
		rc = fail("the bound leaves part of a decision unwritten", 1);
	free(other);
	return rc;
}

/* Each new order is a permutation, unlike the history's and the last one. */
static int
check_orders(struct fleet *f)
{
	uint32_t *last = malloc(f->n * sizeof(*last));
	unsigned char *seen = malloc(f->n);
	size_t i, r;
	int rc = 0;

	if (!last || !seen) {
		free(last);
		free(seen);
		return fail("out of memory", 1);
	}
	memcpy(last, f->perm, f->n * sizeof(*last));
	for (r = 0; r < 100 && !rc; r++) {
		bool identity = true;

		new_order(f);
		memset(seen, 0, f->n);
		for (i = 0; i < f->n; i++) {
			if (f->perm[i] >= f->n || seen[f->perm[i]]++ ||
			    f->re_vms[i].id != f->busy.vms[f->perm[i]].id)
				rc = fail("new_order: not a permutation of the VMs", 1);
			identity = identity && f->perm[i] == i;
		}
		if (identity || !memcmp(last, f->perm, f->n * sizeof(*last)))
			rc = fail("new_order: the history's order or the last one again", 1);
		memcpy(last, f->perm, f->n * sizeof(*last));
	}
	free(last);
	free(seen);
	return rc;
}

/* One call of each of @p ops: none may allocate. */
static int
check_no_alloc(struct fleet *f, const int *ops, size_t n_ops)
{
	size_t k;

	for (k = 0; k < n_ops; k++) {
		unsigned long long a0;
		int rc;

		prepare_op(f, ops[k]);
		a0 = alloc_calls;
		rc = run_op(f, ops[k]);
		if (rc)
			return fail(op_names[ops[k]], rc);
		if (alloc_calls != a0) {
			fprintf(stderr, "reclaim-speed: %s allocated\n", op_names[ops[k]]);
			return -1;
		}
	}
	return 0;
}

/*
 * Builds every shape and candidate at 10 and 1,000 VMs and checks them
 * (each host's state, the reordered VMs, the bound's writes, the orders,
 * no allocation), as the timed run does, without the timing.
 */
static int
check_main(uint64_t seed)
{
	static const size_t sizes[] = {10, 1000};
	static const int ops[] = {OP_DECIDE,     OP_APPLY,   OP_DECIDE_IDLE,
				  OP_APPLY_IDLE, OP_REORDER, OP_WORST};
	size_t k;
	int c;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct fleet f;
		const int w[2] = {C_MIX, -1};
		int rc = fleet_init(&f, sizes[k], seed, w, PART_ALL & ~PART_WORST2);

		if (!rc)
			rc = check_no_alloc(&f, ops, sizeof(ops) / sizeof(ops[0]));
		if (!rc)
			rc = check_bound(&f);
		if (!rc)
			rc = check_orders(&f);
		if (!rc)
			printf("N=%zu: busy host %s, idle host %s; reordered: %zu of %zu decisions"
			       " differ from in order\n",
			       sizes[k], reclaim_state_name(f.busy.sum.state),
			       reclaim_state_name(f.idle.sum.state), f.re_differ, f.n);
		fleet_free(&f);
		for (c = 0; !rc && c < C_SEARCH; c++) {
			const int wc[2] = {c, -1};

			rc = fleet_init(&f, sizes[k], seed, wc, PART_WORST);
			if (!rc)
				rc = check_no_alloc(&f, &ops[5], 1);
			if (!rc)
				printf("N=%zu %s: %s\n", sizes[k], cands[c].name,
				       reclaim_state_name(f.worst[0].sum.state));
			fleet_free(&f);
			if (rc)
				fprintf(stderr, "reclaim-speed --check: candidate %s\n",
					cands[c].name);
		}
		if (rc) {
			fprintf(stderr, "reclaim-speed --check: N=%zu failed\n", sizes[k]);
			return 1;
		}
	}
	printf("reclaim-speed --check: ok\n");
	return 0;
}

/* ---- report ---- */

static void
print_row(size_t n, const char *shape, uint32_t state, const struct stats *s, double bound,
	  double in_order, bool bold_bound, bool bold_order)
{
	double dn = (double)n;

	printf("| %zu | %s | %s | %.2f | %.1f | %.1f | %.2f | %s%.1f%s | %s%.2f%s |\n", n, shape,
	       reclaim_state_name(state), s->median / 1e3, s->median / dn, s->p99 / dn, bound / dn,
	       bold_bound ? "**" : "", s->median / bound, bold_bound ? "**" : "",
	       bold_order ? "**" : "", s->median / in_order, bold_order ? "**" : "");
}

static void
usage(FILE *f)
{
	int c;

	fprintf(f,
		"usage: reclaim-speed [options]\n"
		"  --quick             smoke run: N up to 10k, candidates at 1k, short budget,\n"
		"                      1 page-by-page run\n"
		"  --max-n N           largest N (default 1000000)\n"
		"  --budget-ms MS      time per N (default 4000; at least 21 rounds, 7 at 1M\n"
		"                      or when a call takes over 0.25 s)\n"
		"  --seed S            input seed (default 1)\n"
		"  --worst A[,B]       time these candidates as the worst (default: the two\n"
		"                      costliest at --candidates-n VMs, timed in the same run)\n"
		"  --candidates-n N    VMs for the candidates' sub-table (default 10000)\n"
		"  --callgrind OP N    run one OP (bound, one-pass, decide, decide-idle, apply,\n"
		"                      decide-reorder, decide-worst) on N VMs; decide-worst\n"
		"                      is the first --worst candidate (default equal)\n"
		"  --profile OP N S    run OP on N VMs in a loop for S seconds (for perf record)\n"
		"  --check             check every input shape and candidate, no timing\n"
		"  --list-candidates   print the candidates' names\n"
		"candidates:");
	for (c = 0; c < C_SEARCH; c++)
		fprintf(f, " %s", cands[c].name);
	fprintf(f, "\nOutput and columns: bench/README.md, section \"Speed\".\n");
}

/* "A" or "A,B": candidates by name; false if one is unknown. */
static bool
parse_worst(int worst[2], const char *arg)
{
	char buf[64];
	char *comma;

	if (strlen(arg) >= sizeof(buf))
		return false;
	strcpy(buf, arg);
	comma = strchr(buf, ',');
	if (comma)
		*comma = '\0';
	worst[0] = cand_by_name(buf);
	worst[1] = comma ? cand_by_name(comma + 1) : -1;
	return worst[0] >= 0 && (!comma || worst[1] >= 0);
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = {10, 100, 1000, 10000, 100000, 1000000};
	static const int base_ops[] = {OP_BOUND,       OP_ONEPASS,    OP_DECIDE, OP_APPLY,
				       OP_DECIDE_IDLE, OP_APPLY_IDLE, OP_REORDER};
	const size_t n_base = sizeof(base_ops) / sizeof(base_ops[0]);
	struct plan pl = {4000.0, 21, 7, 20000};
	size_t max_n = 1000000, ref_runs = 3, cand_n = 10000, k, single_n = 0;
	const char *single = NULL;
	double single_s = 0.0, worst_mem[2] = {0.0, 0.0};
	double at_1k = 0.0, at_100k = 0.0, re_worst = 0.0, worst_worst[2] = {0.0, 0.0};
	double prev_ns[2] = {0.0, 0.0}, growth[2] = {1.0, 1.0};
	uint64_t seed = 1;
	unsigned long long allocs_decide = 0, allocs_apply = 0;
	static char notes[6][700], details[6][300];
	struct pagewise pw;
	int i, w, worst[2] = {-1, -1};

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--quick")) {
			max_n = 10000;
			cand_n = 1000;
			pl.budget_ms = 200.0;
			pl.min_samples = 5;
			pl.min_samples_1m = 3;
			ref_runs = 1;
		} else if (!strcmp(a, "--check")) {
			single = "check";
		} else if (!strcmp(a, "--list-candidates")) {
			for (w = 0; w < C_SEARCH; w++)
				printf("%s\n", cands[w].name);
			return 0;
		} else if (!strcmp(a, "--callgrind") && v && i + 2 < argc) {
			single = v;
			single_n = (size_t)strtoull(argv[i + 2], NULL, 10);
			i += 2;
		} else if (!strcmp(a, "--profile") && v && i + 3 < argc) {
			single = v;
			single_n = (size_t)strtoull(argv[i + 2], NULL, 10);
			single_s = strtod(argv[i + 3], NULL);
			if (!(single_s > 0.0)) {
				usage(stderr);
				return 2;
			}
			i += 3;
		} else if (!v) {
			usage(stderr);
			return 2;
		} else if (!strcmp(a, "--max-n")) {
			max_n = (size_t)strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--budget-ms")) {
			pl.budget_ms = strtod(v, NULL);
			i++;
		} else if (!strcmp(a, "--seed")) {
			seed = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--candidates-n")) {
			cand_n = (size_t)strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--worst")) {
			if (!parse_worst(worst, v)) {
				usage(stderr);
				return 2;
			}
			i++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (single && !strcmp(single, "check"))
		return check_main(seed);
	if (single)
		return single_main(single, single_n, single_s, seed,
				   worst[0] < 0 ? C_EQUAL : worst[0]);

	printf("reclaim-speed: library %#x, seed %llu, budget %.0f ms per N, allocation counting %s\n\n",
	       reclaim_version(), (unsigned long long)seed, pl.budget_ms,
	       COUNT_ALLOCS ? "on" : "unavailable (not glibc)");
	fflush(stdout);
	if (worst[0] < 0 && candidates_table(worst, cand_n < max_n ? cand_n : max_n, seed, &pl,
					     &allocs_decide))
		return 1;
	printf("| N | shape | state | median us | median ns/VM | p99 ns/VM | bound ns/VM |"
	       " decide / bound | / mix |\n");
	printf("|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && sizes[k] <= max_n; k++) {
		struct stats st[OP_COUNT], got[OP_COUNT];
		struct fleet f;
		int ops[OP_COUNT];
		struct fleet_ops fo = {&f, ops};
		struct timed tm = {n_base, fleet_run, fleet_prepare, fleet_once, &fo};
		struct plan plan = pl;
		size_t n = sizes[k];
		double dn = (double)n, bound, per_vm, est_s[2];
		bool skip[2];
		int parts = PART_BUSY | PART_IDLE | PART_REORDER;

		memcpy(ops, base_ops, sizeof(base_ops));
		for (w = 0; w < 2; w++) {
			/* A worst case whose cost per VM grows with N may take
			 * minutes a call at the next N: then it is left out
			 * there; one that takes seconds gets fewer samples. */
			est_s[w] = prev_ns[w] * growth[w] * dn / 1e9;
			skip[w] = worst[w] < 0 || est_s[w] > 10.0;
			if (skip[w])
				continue;
			ops[tm.count++] = OP_WORST + w;
			parts |= w ? PART_WORST2 : PART_WORST;
			if (est_s[w] > 0.25)
				plan.min_samples = pl.min_samples_1m;
		}
		if (fleet_init(&f, n, seed, worst, parts) || measure(got, &tm, n, &plan)) {
			fleet_free(&f);
			return 1;
		}
		memset(st, 0, sizeof(st));
		for (i = 0; i < (int)tm.count; i++)
			st[ops[i]] = got[i];
		bound = st[OP_BOUND].median;
		print_row(n, "mix", f.busy.sum.state, &st[OP_DECIDE], bound, st[OP_DECIDE].median,
			  true, false);
		print_row(n, "reorder", f.sum_re.state, &st[OP_REORDER], bound, st[OP_DECIDE].median,
			  false, true);
		for (w = 0; w < 2; w++) {
			char shape[64];

			if (worst[w] < 0)
				continue;
			snprintf(shape, sizeof(shape), "worst %s", cands[worst[w]].name);
			if (skip[w]) {
				printf("| %zu | %s | | skipped: about %.0f s a call | | | | | |\n", n,
				       shape, est_s[w]);
				continue;
			}
			print_row(n, shape, f.worst[w].sum.state, &st[OP_WORST + w], bound,
				  st[OP_DECIDE].median, false, true);
			per_vm = st[OP_WORST + w].median / dn;
			growth[w] = prev_ns[w] > 0.0 && per_vm > prev_ns[w] ? per_vm / prev_ns[w] : 1.0;
			prev_ns[w] = per_vm;
			if (st[OP_WORST + w].median / st[OP_DECIDE].median > worst_worst[w])
				worst_worst[w] = st[OP_WORST + w].median / st[OP_DECIDE].median;
		}
		print_row(n, "idle host", f.idle.sum.state, &st[OP_DECIDE_IDLE], bound,
			  st[OP_DECIDE].median, false, false);
		fflush(stdout);

		for (i = 0; i < OP_COUNT; i++) {
			if (i == OP_APPLY || i == OP_APPLY_IDLE)
				allocs_apply += st[i].allocs;
			else if (i != OP_BOUND && i != OP_ONEPASS)
				allocs_decide += st[i].allocs;
		}
		if (n == 1000)
			at_1k = st[OP_DECIDE].median / bound;
		if (n == 100000)
			at_100k = st[OP_DECIDE].median / bound;
		if (st[OP_REORDER].median / st[OP_DECIDE].median > re_worst)
			re_worst = st[OP_REORDER].median / st[OP_DECIDE].median;
		per_vm = (double)f.policy_bytes / dn;
		if (per_vm > worst_mem[n >= 100])
			worst_mem[n >= 100] = per_vm;
		snprintf(details[k], sizeof(details[k]),
			 "| %zu | %.2f | %.1f | %.2f | %.2f | %.2f | %.1f | %zu | %zu |", n,
			 st[OP_ONEPASS].median / dn, st[OP_DECIDE].median / st[OP_ONEPASS].median,
			 st[OP_APPLY].median / dn, st[OP_APPLY_IDLE].median / dn,
			 st[OP_REORDER].p99 / st[OP_DECIDE].p99, (double)f.policy_bytes / dn,
			 st[OP_DECIDE].samples, st[OP_DECIDE].batch);
		snprintf(notes[k], sizeof(notes[k]),
			 "N=%zu: busy host %s, need %.2f GiB, balloon %.2f GiB, swap %.2f GiB,"
			 " level %.3g; idle host %s, deflate %.2f GiB; reordered: %zu of %zu"
			 " decisions differ from in order; %zu rounds (batches: decide %zu, bound"
			 " %zu); reclaim_policy_new: %llu allocation of %llu B",
			 n, reclaim_state_name(f.busy.sum.state),
			 (double)f.busy.sum.need_bytes / GiB, (double)f.busy.sum.balloon_bytes / GiB,
			 (double)f.busy.sum.swap_bytes / GiB, f.busy.sum.level,
			 reclaim_state_name(f.idle.sum.state), (double)f.idle.sum.deflate_bytes / GiB,
			 f.re_differ, n, st[OP_DECIDE].samples, st[OP_DECIDE].batch,
			 st[OP_BOUND].batch, f.new_allocs, f.new_bytes);
		fleet_free(&f);
	}

	printf("\n| N | one-pass ns/VM | decide / one-pass | apply ns/VM | idle apply ns/VM |"
	       " reorder p99 / in-order p99 | policy B/VM | rounds | decide batch |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < (int)k; i++)
		printf("%s\n", details[i]);
	putchar('\n');
	for (i = 0; i < (int)k; i++)
		printf("%s\n", notes[i]);
	fflush(stdout);
	if (bench_pagewise(&pw, seed, ref_runs))
		return 1;
	printf("\npage-by-page, 1000 VMs, 1 TiB host, reclaim %.2f GiB in 4 KiB pages:"
	       " reference %.1f ms (median of %zu), decide %.1f us: **%.0fx**"
	       " (reclaimed: reference %.2f GiB, decide %.2f GiB; largest per-VM difference %llu KiB)\n",
	       (double)pw.need / GiB, pw.ref_ns / 1e6, pw.ref_runs, pw.decide_ns / 1e3,
	       pw.ref_ns / pw.decide_ns, (double)pw.ref_got / GiB, (double)pw.decide_got / GiB,
	       (unsigned long long)(pw.max_diff / KiB));
	printf("allocations during decide: %llu, during apply: %llu%s\n", allocs_decide,
	       allocs_apply, COUNT_ALLOCS ? "" : " (not counted)");
	printf("targets: decide / bound %.1fx at 1k (<= 10x) %s, %.1fx at 100k (<= 6x) %s;"
	       " reorder / in order at most %.2fx (<= 2x) %s;",
	       at_1k, at_1k > 0.0 ? (at_1k <= 10.0 ? "met" : "MISSED") : "not run", at_100k,
	       at_100k > 0.0 ? (at_100k <= 6.0 ? "met" : "MISSED") : "not run", re_worst,
	       re_worst <= 2.0 ? "met" : "MISSED");
	for (w = 0; w < 2; w++)
		if (worst[w] >= 0)
			printf(" worst %s / mix at most %.2fx (<= 1.5x) %s%s;", cands[worst[w]].name,
			       worst_worst[w], worst_worst[w] <= 1.5 ? "met" : "MISSED",
			       prev_ns[w] > 0.0 && growth[w] > 1.5 ? " (grows with N)" : "");
	printf(" page-by-page %.0fx (>= 100x) %s; allocations %s;"
	       " policy memory %.1f B/VM for N >= 100 (<= 256) %s, %.1f B/VM below\n",
	       pw.ref_ns / pw.decide_ns, pw.ref_ns / pw.decide_ns >= 100.0 ? "met" : "MISSED",
	       COUNT_ALLOCS ? (allocs_decide + allocs_apply == 0 ? "met" : "MISSED") : "not counted",
	       worst_mem[1], worst_mem[1] <= 256.0 ? "met" : "MISSED", worst_mem[0]);
	/* Timings vary with the machine: only allocations fail the run. */
	return allocs_decide + allocs_apply ? 1 : 0;
}
