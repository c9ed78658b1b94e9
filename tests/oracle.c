/* SPDX-License-Identifier: MIT */
/*
 * The invariant oracle (see oracle.h). Every rule below is a sentence of
 * include/reclaim.h or DESIGN.md turned into a check; the comment above each
 * check names the sentence. Amounts computed with doubles are compared with a
 * tolerance of one page (tol), because the library may round to pages.
 */
#include "oracle.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 0xA5
#define BIT(err) (1u << (unsigned)(-(err)))
#define GIB 1073741824.0

#define KNOWN_ACTIONS 0x1Fu
#define KNOWN_REASONS 0x7FFFFu
#define KNOWN_SUMMARY 0x1Fu
#define KNOWN_VM_FLAGS 0x1Fu
#define KNOWN_CONFIG_FLAGS 0x0Fu
#define SWAPLESS_REASONS                                                       \
	(RECLAIM_REASON_NO_BALLOON | RECLAIM_REASON_UNRESPONSIVE | RECLAIM_REASON_STALE)

#if defined(__GNUC__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

static int PRINTF_LIKE(3, 4)
fail_to(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

#define FAIL(o, ...) fail_to((o)->why, sizeof((o)->why), __VA_ARGS__)

/*
 * RECLAIM_ORACLE_KNOWN="tag,tag" skips the checks of library bugs that are
 * reported and not yet fixed, so that a long fuzz campaign can look past
 * them. Empty (the default, and always in CI): every check runs.
 */
static int
known(const char *tag)
{
	const char *list = getenv("RECLAIM_ORACLE_KNOWN");
	size_t len = strlen(tag);

	for (const char *p = list; p && (p = strstr(p, tag)); p += len)
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
			return 1;
	return 0;
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t
sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* a + b, remembering in *ovf whether it wrapped. */
static uint64_t
add_ovf(uint64_t a, uint64_t b, int *ovf)
{
	if (a > UINT64_MAX - b)
		*ovf = 1;
	return a + b;
}

/* x * num / den for den > 0, without overflowing for any x. */
static uint64_t
scale(uint64_t x, uint64_t num, uint64_t den)
{
	return (x / den) * num + (x % den) * num / den;
}

static uint64_t
round_up(uint64_t x, uint64_t page)
{
	uint64_t r = x & (page - 1);

	return r ? add_sat(x, page - r) : x;
}

/* A double byte amount as an integer bound, saturating. */
static uint64_t
dbytes(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)x;
}

static const char *
state_name(uint32_t s)
{
	return reclaim_state_name(s);
}

/* ------------------------------------------------------------------------ */
/* Thresholds and states                                                    */

/* Sliding-scale minFree of usable memory (reclaim.h, RECLAIM_PROFILE_ESXI5). */
static double
minfree(uint64_t usable)
{
	static const double seg[3] = {4 * GIB, 8 * GIB, 16 * GIB};
	static const double pct[3] = {0.06, 0.04, 0.02};
	double u = (double)usable, m = 0;

	for (int i = 0; i < 3; i++) {
		double take = u < seg[i] ? u : seg[i];
		m += take * pct[i];
		u -= take;
	}
	return m + u * 0.01;
}

static double
threshold_base(const struct reclaim_config *c, uint64_t usable)
{
	return c->threshold_base == RECLAIM_BASE_MINFREE ? minfree(usable) : (double)usable;
}

static void
own_thresholds(double t[4], const struct reclaim_config *c, uint64_t usable)
{
	double base = threshold_base(c, usable);

	t[0] = c->threshold_high * base;
	t[1] = c->threshold_soft * base;
	t[2] = c->threshold_hard * base;
	t[3] = c->threshold_low * base;
}

static uint64_t
tolerance(const struct reclaim_config *c, uint64_t usable)
{
	return c->page_size + (uint64_t)((double)usable * 1e-12);
}

static uint32_t
raw_state(uint64_t f, const uint64_t t[4])
{
	return f < t[3] ? 3u : f < t[2] ? 2u : f < t[1] ? 1u : 0u;
}

/*
 * "A better state is entered only once free memory exceeds its entry
 * threshold by this fraction of the base": the better state s - 1 is entered
 * from below where free memory crosses T[s], the threshold below which the
 * current state s was entered, so leaving s needs F >= T[s] + H; a worse
 * state is entered as soon as F falls below its threshold. Several steps may
 * be taken at once.
 */
static uint32_t
next_state(uint32_t prev, uint64_t f, const uint64_t t[4], double h)
{
	uint32_t raw = raw_state(f, t), s = prev;

	if (raw >= s)
		return raw;
	while (s > raw && (double)f >= (double)t[s] + h)
		s--;
	return s;
}

/* ------------------------------------------------------------------------ */
/* Per-VM memory                                                            */

static struct oracle_vm *
find_vm(struct oracle *o, uint64_t id)
{
	for (size_t i = 0; i < o->n_vms; i++)
		if (o->vms[i].id == id)
			return &o->vms[i];
	return NULL;
}

/* What the policy remembers of @p v: "an id whose configured size changes
 * is a new VM unless RECLAIM_VM_RESIZED says otherwise"; such a VM keeps
 * only our block (it is unblocked, in case it is the same VM after all). */
static const struct oracle_vm *
vm_memory(struct oracle *o, const struct reclaim_vm_stats *v, struct oracle_vm *fresh)
{
	const struct oracle_vm *m = find_vm(o, v->id);

	if (!m || m->configured == v->configured_bytes || (v->flags & RECLAIM_VM_RESIZED))
		return m;
	*fresh = (struct oracle_vm){.id = m->id, .blocked = m->blocked, .apply = 0};
	return fresh;
}

void
oracle_init(struct oracle *o, const struct reclaim_config *cfg, size_t capacity)
{
	memset(o, 0, sizeof(*o));
	o->cfg = *cfg;
	o->capacity = capacity;
}

static void
remember(struct oracle *o, const struct reclaim_host *host,
	 const struct reclaim_vm_stats *vms, size_t n,
	 const struct reclaim_summary *sum, const struct reclaim_decision *dec)
{
	struct oracle_vm next[ORACLE_MAX_VMS];

	for (size_t i = 0; i < n; i++) {
		struct oracle_vm fresh;
		const struct oracle_vm *m = vm_memory(o, &vms[i], &fresh);
		next[i] = m ? *m : (struct oracle_vm){0};
		next[i].id = vms[i].id;
		next[i].configured = vms[i].configured_bytes;
		next[i].balloon_target = dec[i].balloon_target_bytes;
		next[i].blocked = dec[i].block;
		next[i].apply = -1;
		next[i].block_failed = 0;
		next[i].seen = 1;
	}
	/* "VMs absent from vms are forgotten" */
	memcpy(o->vms, next, n * sizeof(next[0]));
	o->n_vms = n;
	o->have_prev = 1;
	o->prev_state = sum->state;
	o->prev_now = host->now_ns;
}

/* ------------------------------------------------------------------------ */
/* Which statuses the inputs explain                                        */

uint32_t
oracle_allowed_statuses(const struct oracle *o, const struct reclaim_host *host,
			const struct reclaim_vm_stats *vms, size_t n, uint32_t flags)
{
	uint32_t must = 0, may = 0;
	int ovf = 0;
	uint64_t sums[10] = {0};

	if (host->struct_size != sizeof(struct reclaim_host))
		must |= BIT(RECLAIM_E_VERSION);
	if (flags & ~(uint32_t)RECLAIM_DECIDE_DRY_RUN)
		must |= BIT(RECLAIM_E_INVAL);
	if (n > o->capacity)
		must |= BIT(RECLAIM_E_CAPACITY);
	if (host->reserved_bytes > host->total_bytes)
		must |= BIT(RECLAIM_E_HOST_RESERVED);
	if (host->free_bytes > host->total_bytes)
		must |= BIT(RECLAIM_E_HOST_FREE);
	if (host->flags & ~(uint32_t)RECLAIM_HOST_SWAP_BOUNDED)
		may |= BIT(RECLAIM_E_INVAL);

	for (size_t i = 0; i < n; i++) {
		const struct reclaim_vm_stats *v = &vms[i];
		uint64_t max = min64(v->configured_bytes, v->limit_bytes);

		if (v->struct_size != sizeof(struct reclaim_vm_stats))
			must |= BIT(RECLAIM_E_VERSION);
		if (v->configured_bytes == 0)
			must |= BIT(RECLAIM_E_VM_SIZE);
		if (v->reservation_bytes > max)
			must |= BIT(RECLAIM_E_VM_BOUNDS);
		for (size_t j = 0; j < i; j++)
			if (vms[j].id == v->id)
				must |= BIT(RECLAIM_E_VM_DUPLICATE);
		if (v->flags & ~KNOWN_VM_FLAGS)
			may |= BIT(RECLAIM_E_INVAL);
		if ((v->flags & RECLAIM_VM_IDLE_TAX) && !(v->idle_tax >= 0 && v->idle_tax < 1))
			must |= BIT(RECLAIM_E_INVAL) | BIT(RECLAIM_E_CONFIG);

		/* Sums a library may form. Guest-reported values count only
		 * clamped: a lying guest must not get its VM rejected. */
		sums[0] = add_ovf(sums[0], v->configured_bytes, &ovf);
		sums[1] = add_ovf(sums[1], v->consumed_bytes, &ovf);
		sums[2] = add_ovf(sums[2], v->reservation_bytes, &ovf);
		sums[3] = add_ovf(sums[3], max, &ovf);
		sums[4] = add_ovf(sums[4], v->swapped_bytes, &ovf);
		sums[5] = add_ovf(sums[5], v->shares, &ovf);
		sums[6] = add_ovf(sums[6], v->compress_used_bytes, &ovf);
		sums[7] = add_ovf(sums[7], v->compress_max_bytes, &ovf);
		sums[8] = add_ovf(sums[8], min64(v->balloon_bytes, v->configured_bytes), &ovf);
		sums[9] = add_ovf(sums[9], add_sat(v->consumed_bytes, v->swapped_bytes), &ovf);
		(void)add_ovf(sums[1], host->free_bytes, &ovf);
		(void)add_ovf(v->consumed_bytes, v->swapped_bytes, &ovf);
		(void)add_ovf(v->consumed_bytes,
			      add_sat(min64(v->balloon_bytes, v->configured_bytes),
				      v->swapped_bytes), &ovf);
		(void)add_ovf(v->configured_bytes, v->configured_bytes, &ovf);
		(void)add_ovf(v->compress_used_bytes, v->compress_max_bytes, &ovf);
	}
	if (ovf)
		may |= BIT(RECLAIM_E_OVERFLOW);
	if (must)
		return must | may;
	return 1u | may;
}

/* ------------------------------------------------------------------------ */
/* The invariants of one successful decide                                  */

static int
fresh_stats(const struct reclaim_config *c, const struct reclaim_host *h,
	    const struct reclaim_vm_stats *v, int *ambiguous)
{
	uint64_t age;

	if (!(v->flags & RECLAIM_VM_GUEST_STATS) || v->stats_time_ns > h->now_ns)
		return 0;
	age = h->now_ns - v->stats_time_ns;
	if (age == c->stats_max_age_ns)
		*ambiguous = 1;
	return age <= c->stats_max_age_ns;
}

/* The guest's margin: "the larger of guest_margin_bytes and this fraction
 * of its configured size". */
static uint64_t
margin_of(const struct reclaim_config *c, const struct reclaim_vm_stats *v)
{
	double m = c->guest_margin_fraction * (double)v->configured_bytes;
	uint64_t part = m >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)m;

	return part > c->guest_margin_bytes ? part : c->guest_margin_bytes;
}

/* The guest term of the balloon cap: guest free + free swap + balloon - margin. */
static uint64_t
guest_term(const struct reclaim_config *c, const struct reclaim_vm_stats *v)
{
	uint64_t cfg = v->configured_bytes;
	uint64_t g = add_sat(min64(v->guest_free_bytes, cfg), min64(v->guest_swap_free_bytes, cfg));

	g = add_sat(g, min64(v->balloon_bytes, cfg));
	return sub_sat(g, margin_of(c, v));
}

static int
check_vm(struct oracle *o, const struct reclaim_host *host, const struct reclaim_vm_stats *raw,
	 const struct reclaim_summary *sum, const struct reclaim_decision *d,
	 uint64_t f, const uint64_t t[4], double h, uint64_t tol, uint64_t *forced)
{
	/* reclaim.h: "consumption above configured_bytes is read as
	 * configured_bytes" (VMM overhead the policy cannot take back). */
	struct reclaim_vm_stats clamped = *raw;
	const struct reclaim_vm_stats *v = &clamped;
	const struct reclaim_config *c = &o->cfg;
	struct oracle_vm new_vm;
	const struct oracle_vm *m = vm_memory(o, raw, &new_vm);
	uint64_t cfg = v->configured_bytes;
	uint64_t max = min64(cfg, v->limit_bytes);
	uint64_t cur = min64(v->balloon_bytes, cfg);
	uint64_t base = m ? max64(cur, m->balloon_target) : cur;
	uint64_t bt = d->balloon_target_bytes;
	uint64_t hs = add_sat(d->swap_bytes, d->compress_bytes);
	uint64_t frac_cap = dbytes((double)cfg * c->balloon_max_fraction);
	uint32_t st = sum->state;
	int amb = 0;
	int fresh = fresh_stats(c, host, v, &amb);
	int guest_capped = !(c->flags & RECLAIM_CONFIG_NO_GUEST_CAP);
	uint64_t id = v->id;
	/* balloon memory that comes back: a balloon above its cap deflates */
	uint64_t back = sub_sat(cur, d->balloon_cap_bytes);
	uint64_t proj;

	clamped.consumed_bytes = min64(raw->consumed_bytes, raw->configured_bytes);
	proj = add_sat(v->consumed_bytes, back);

	/* decision header: "in the order of the input array" */
	if (d->struct_size != sizeof(*d) || d->id != v->id)
		return FAIL(o, "vm %" PRIu64 ": decision struct_size %u id %" PRIu64, id,
			    d->struct_size, d->id);
	if (d->state != st)
		return FAIL(o, "vm %" PRIu64 ": decision state %u != summary %u", id, d->state, st);
	if ((d->actions & ~KNOWN_ACTIONS) || (d->reasons & ~KNOWN_REASONS) ||
	    d->bound > RECLAIM_BOUND_BALLOON || d->balloon_limit > RECLAIM_BALLOON_LIMIT_DISTRESS ||
	    d->block > 1 || d->reserved0 != 0)
		return FAIL(o, "vm %" PRIu64 ": unknown bits: actions %#x reasons %#x bound %u "
			    "balloon_limit %u block %u", id, d->actions, d->reasons, d->bound,
			    d->balloon_limit, d->block);
	if (!isfinite(d->rho) || d->rho < 0)
		return FAIL(o, "vm %" PRIu64 ": rho %g", id, d->rho);

	/* "every target within [reservation, max]", max = min(configured, limit) */
	if ((d->target_bytes < v->reservation_bytes && !known("reservation")) ||
	    d->target_bytes > max)
		return FAIL(o, "vm %" PRIu64 ": target %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]",
			    id, d->target_bytes, v->reservation_bytes, max);
	if (d->bound == RECLAIM_BOUND_RESERVATION && d->target_bytes != v->reservation_bytes &&
	    !known("bound"))
		return FAIL(o, "vm %" PRIu64 ": bound reservation but target %" PRIu64, id,
			    d->target_bytes);
	if (d->bound == RECLAIM_BOUND_MAX && add_sat(d->target_bytes, tol) < max && !known("bound"))
		return FAIL(o, "vm %" PRIu64 ": bound max but target %" PRIu64 " != %" PRIu64, id,
			    d->target_bytes, max);

	/* Balloon cap: min(fraction of configured, VM cap, guest free + free
	 * swap + balloon - margin); the target never exceeds the cap applied. */
	if (bt > d->balloon_cap_bytes)
		return FAIL(o, "vm %" PRIu64 ": balloon target %" PRIu64 " > cap %" PRIu64, id, bt,
			    d->balloon_cap_bytes);
	if (d->balloon_cap_bytes > add_sat(frac_cap, tol))
		return FAIL(o, "vm %" PRIu64 ": balloon cap %" PRIu64 " > %g of %" PRIu64, id,
			    d->balloon_cap_bytes, c->balloon_max_fraction, cfg);
	if (d->balloon_cap_bytes > v->balloon_cap_bytes)
		return FAIL(o, "vm %" PRIu64 ": balloon cap %" PRIu64 " > VM cap %" PRIu64, id,
			    d->balloon_cap_bytes, v->balloon_cap_bytes);
	/* "never ballooned below what it is actively using" */
	if (guest_capped && d->balloon_cap_bytes > add_sat(sub_sat(cfg, min64(v->active_bytes,
									      v->consumed_bytes)),
						     tol))
		return FAIL(o, "vm %" PRIu64 ": balloon cap %" PRIu64 " > configured - active %" PRIu64,
			    id, d->balloon_cap_bytes,
			    sub_sat(cfg, min64(v->active_bytes, v->consumed_bytes)));
	if (guest_capped && fresh && !amb &&
	    d->balloon_cap_bytes > add_sat(guest_term(c, v), tol))
		return FAIL(o, "vm %" PRIu64 ": balloon cap %" PRIu64 " > guest free+swap+balloon-"
			    "margin %" PRIu64, id, d->balloon_cap_bytes, guest_term(c, v));
	if (!(v->flags & RECLAIM_VM_BALLOON) && d->balloon_limit != RECLAIM_BALLOON_LIMIT_NO_DRIVER)
		return FAIL(o, "vm %" PRIu64 ": no driver but balloon_limit %u", id, d->balloon_limit);
	if (d->balloon_limit == RECLAIM_BALLOON_LIMIT_VM_CAP && d->balloon_cap_bytes != v->balloon_cap_bytes &&
	    d->balloon_cap_bytes + tol < v->balloon_cap_bytes)
		return FAIL(o, "vm %" PRIu64 ": balloon_limit vm cap but cap %" PRIu64 " != %" PRIu64,
			    id, d->balloon_cap_bytes, v->balloon_cap_bytes);
	if (d->balloon_limit == RECLAIM_BALLOON_LIMIT_GUEST && (!guest_capped || !(fresh || amb)))
		return FAIL(o, "vm %" PRIu64 ": balloon_limit guest without fresh guest stats", id);
	if (d->balloon_limit == RECLAIM_BALLOON_LIMIT_STALE && fresh && !amb)
		return FAIL(o, "vm %" PRIu64 ": balloon_limit stale with fresh stats", id);
	*forced = add_sat(*forced, sub_sat(cur, d->balloon_cap_bytes));

	/* No new inflation without a driver or with stale stats. */
	if (!(v->flags & RECLAIM_VM_BALLOON) && bt > base)
		return FAIL(o, "vm %" PRIu64 ": no driver, balloon %" PRIu64 " -> %" PRIu64, id, base, bt);
	if (guest_capped && !fresh && !amb && bt > base)
		return FAIL(o, "vm %" PRIu64 ": stale stats, balloon %" PRIu64 " -> %" PRIu64, id, base,
			    bt);
	/* High state: no reclamation but early ballooning below the high
	 * threshold, and the limit rule: "High means no reclamation". */
	if (st == RECLAIM_STATE_HIGH && bt > base && !(d->reasons & RECLAIM_REASON_LIMIT) &&
	    !((d->reasons & RECLAIM_REASON_REBALANCE) && (double)f < (double)t[0]) &&
	    !known("hold")) {
		if (c->flags & RECLAIM_CONFIG_NO_EARLY_BALLOON)
			return FAIL(o, "vm %" PRIu64 ": inflates %" PRIu64 " -> %" PRIu64 " in high with "
				    "NO_EARLY_BALLOON", id, base, bt);
		if ((double)f >= (double)t[0])
			return FAIL(o, "vm %" PRIu64 ": inflates %" PRIu64 " -> %" PRIu64 " in high "
				    "with free %" PRIu64 " above the high threshold %" PRIu64, id, base,
				    bt, f, t[0]);
	}
	/* "the band above the high threshold inside which balloons neither
	 * inflate nor deflate" (the limit rule and the cap still apply, and a
	 * VM short of memory gets its balloon back, reason distress) */
	if (f >= t[0] && (double)f + (double)tol < (double)t[0] + h && !known("rebalance")) {
		if (bt > base && !(d->reasons & RECLAIM_REASON_LIMIT))
			return FAIL(o, "vm %" PRIu64 ": inflates %" PRIu64 " -> %" PRIu64 " inside the "
				    "hysteresis band", id, base, bt);
		if (bt < min64(cur, d->balloon_cap_bytes) &&
		    !(d->reasons & (RECLAIM_REASON_UNRESPONSIVE | RECLAIM_REASON_DISTRESS)))
			return FAIL(o, "vm %" PRIu64 ": deflates %" PRIu64 " -> %" PRIu64 " inside the "
				    "hysteresis band", id, cur, bt);
	}
	/* Deflation (below the current balloon, beyond what the cap forces)
	 * only when comfortably free: above the band. */
	if (bt < min64(cur, d->balloon_cap_bytes) &&
	    !(d->reasons & (RECLAIM_REASON_DEFLATE | RECLAIM_REASON_UNRESPONSIVE |
			    RECLAIM_REASON_REBALANCE | RECLAIM_REASON_DISTRESS)))
		return FAIL(o, "vm %" PRIu64 ": balloon %" PRIu64 " -> %" PRIu64 " without reason "
			    "deflate (reasons %#x)", id, cur, bt, d->reasons);
	if ((d->reasons & RECLAIM_REASON_DEFLATE) && (double)f + (double)tol < (double)t[0] + h &&
	    !known("rebalance"))
		return FAIL(o, "vm %" PRIu64 ": reason deflate with free %" PRIu64 " < high %" PRIu64
			    " + band %.0f", id, f, t[0], h);

	/* RECLAIM_REASON_REBALANCE: "Happens in the balloon states" (below
	 * the high threshold); the VM that grows back into its balloon is "a
	 * VM short of memory (fresh guest stats, free memory within
	 * guest_margin_bytes) and priced above the level", the margin grown
	 * with the guest by guest_margin_fraction. */
	if (d->reasons & RECLAIM_REASON_REBALANCE) {
		int balloon_state = st == RECLAIM_STATE_SOFT ||
				    (st == RECLAIM_STATE_HIGH && f < t[0] &&
				     !(c->flags & RECLAIM_CONFIG_NO_EARLY_BALLOON));

		if (!balloon_state && !known("rebalance"))
			return FAIL(o, "vm %" PRIu64 ": reason rebalance in %s with free %" PRIu64
				    " (high %" PRIu64 ", band %.0f)", id, state_name(st), f, t[0], h);
		if (bt < min64(cur, d->balloon_cap_bytes) && !known("rebalance") &&
		    (!fresh || min64(v->guest_free_bytes, cfg) > margin_of(c, v)))
			return FAIL(o, "vm %" PRIu64 ": rebalanced back into its balloon (%" PRIu64
				    " -> %" PRIu64 ") without fresh stats showing it short (free %"
				    PRIu64 ", margin %" PRIu64 ")", id, cur, bt, v->guest_free_bytes,
				    margin_of(c, v));
		if (bt < min64(cur, d->balloon_cap_bytes) && !known("rebalance") &&
		    d->rho < sum->level * (1 - 1e-9))
			return FAIL(o, "vm %" PRIu64 ": rebalanced back at rho %g below the level %g",
				    id, d->rho, sum->level);
	}

	/* Host swap: none in high or soft (by default) except the limit rule;
	 * with SOFT_SWAP, soft swaps only VMs that cannot balloon. */
	if (hs && (st == RECLAIM_STATE_HIGH || st == RECLAIM_STATE_SOFT)) {
		int ok = (d->reasons & RECLAIM_REASON_LIMIT) &&
			 hs <= round_up(sub_sat(proj, max), c->page_size);
		/* "where ballooning is impossible (no driver, unresponsive or
		 * stale balloon)", or a cap that leaves the balloon no room */
		if (st == RECLAIM_STATE_SOFT && (c->flags & RECLAIM_CONFIG_SOFT_SWAP) &&
		    ((d->reasons & SWAPLESS_REASONS) || d->balloon_cap_bytes <= cur))
			ok = 1;
		if (st == RECLAIM_STATE_HIGH && (c->flags & RECLAIM_CONFIG_SOFT_SWAP) &&
		    known("soft-swap"))
			ok = 1;
		if (!ok)
			return FAIL(o, "vm %" PRIu64 ": swap %" PRIu64 " + compress %" PRIu64 " in %s "
				    "(reasons %#x, consumed %" PRIu64 ", max %" PRIu64 ")", id,
				    d->swap_bytes, d->compress_bytes, state_name(st), d->reasons,
				    v->consumed_bytes, max);
	}
	/* Never reclaim below target: swap and compression come out of the
	 * excess, consumption (less balloon in flight) above target. */
	if (d->excess_bytes > sub_sat(proj, d->target_bytes) &&
	    !((d->reasons & RECLAIM_REASON_HOLD) && known("rebalance")))
		return FAIL(o, "vm %" PRIu64 ": excess %" PRIu64 " > consumed %" PRIu64 " + balloon "
			    "coming back %" PRIu64 " - target %" PRIu64, id, d->excess_bytes,
			    v->consumed_bytes, back, d->target_bytes);
	/* (swapping whole pages may round the excess up) */
	if (hs > round_up(d->excess_bytes, c->page_size))
		return FAIL(o, "vm %" PRIu64 ": swap %" PRIu64 " + compress %" PRIu64 " > excess %"
			    PRIu64, id, d->swap_bytes, d->compress_bytes, d->excess_bytes);
	/* Low: "host-swap the whole remaining excess now" (what is consumed
	 * now), where host swap can deliver */
	if (st == RECLAIM_STATE_LOW && f < t[0] && hs < min64(d->excess_bytes, v->consumed_bytes) &&
	    !(d->reasons & (RECLAIM_REASON_SWAP_BOUNDED | RECLAIM_REASON_SWAP_UNAVAILABLE)))
		return FAIL(o, "vm %" PRIu64 ": low swaps %" PRIu64 " of excess %" PRIu64, id, hs,
			    d->excess_bytes);
	/* Compression only with a cache, within its room. */
	if (d->compress_bytes) {
		uint64_t cmax = v->compress_max_bytes ? v->compress_max_bytes
			: dbytes((double)cfg * c->compress_max_fraction);
		if (!(v->flags & RECLAIM_VM_COMPRESS))
			return FAIL(o, "vm %" PRIu64 ": compresses without a cache", id);
		if (d->compress_bytes > add_sat(sub_sat(cmax, v->compress_used_bytes), tol))
			return FAIL(o, "vm %" PRIu64 ": compress %" PRIu64 " > room %" PRIu64, id,
				    d->compress_bytes, sub_sat(cmax, v->compress_used_bytes));
	}

	/* Block only in low, only above target, only while host swap or
	 * compression takes its memory ("never block every VM when blocking
	 * frees nothing"). */
	if (d->block && (st != RECLAIM_STATE_LOW || v->consumed_bytes <= d->target_bytes ||
			 !hs || (d->reasons & RECLAIM_REASON_SWAP_UNAVAILABLE)))
		return FAIL(o, "vm %" PRIu64 ": blocked in %s, consumed %" PRIu64 " target %" PRIu64,
			    id, state_name(st), v->consumed_bytes, d->target_bytes);
	if (!!d->block != !!(d->reasons & RECLAIM_REASON_BLOCKED))
		return FAIL(o, "vm %" PRIu64 ": block %u but reasons %#x", id, d->block, d->reasons);

	/* Actions agree with amounts. */
	if (!!(d->actions & RECLAIM_ACTION_SWAP) != !!d->swap_bytes ||
	    !!(d->actions & RECLAIM_ACTION_COMPRESS) != !!d->compress_bytes)
		return FAIL(o, "vm %" PRIu64 ": actions %#x swap %" PRIu64 " compress %" PRIu64, id,
			    d->actions, d->swap_bytes, d->compress_bytes);
	if (((d->actions & RECLAIM_ACTION_BLOCK) && !d->block) ||
	    ((d->actions & RECLAIM_ACTION_UNBLOCK) && d->block))
		return FAIL(o, "vm %" PRIu64 ": actions %#x with block %u", id, d->actions, d->block);
	/* BLOCK: "it was running"; UNBLOCK: "it was blocked"; a failed block is issued again. */
	{
		uint32_t was = m ? m->blocked : 0;
		if (was != 2) {
			if (d->block && !was && !(d->actions & RECLAIM_ACTION_BLOCK))
				return FAIL(o, "vm %" PRIu64 ": newly blocked without BLOCK action", id);
			if (d->block && was && (d->actions & RECLAIM_ACTION_BLOCK))
				return FAIL(o, "vm %" PRIu64 ": BLOCK for a blocked VM", id);
			if (!d->block && was && !(d->actions & RECLAIM_ACTION_UNBLOCK))
				return FAIL(o, "vm %" PRIu64 ": left blocked without UNBLOCK", id);
			if (!d->block && !was && (d->actions & RECLAIM_ACTION_UNBLOCK))
				return FAIL(o, "vm %" PRIu64 ": UNBLOCK for a running VM", id);
		}
	}
	if (m && m->apply == 1 && !(d->reasons & RECLAIM_REASON_ADAPTER_FAILED))
		return FAIL(o, "vm %" PRIu64 ": last apply failed but no reason adapter_failed", id);
	if (m && m->apply == 0 && (d->reasons & RECLAIM_REASON_ADAPTER_FAILED))
		return FAIL(o, "vm %" PRIu64 ": reason adapter_failed after a clean apply", id);
	if (!m && (d->reasons & RECLAIM_REASON_ADAPTER_FAILED) && !o->have_prev)
		return FAIL(o, "vm %" PRIu64 ": adapter_failed on a fresh policy", id);

	/* Reasons say true things. Limit: consumption (less balloon inflation
	 * in flight, plus a balloon above its cap that must come back) above
	 * max = min(configured, limit). */
	if ((d->reasons & RECLAIM_REASON_LIMIT) && proj <= max)
		return FAIL(o, "vm %" PRIu64 ": reason limit but consumed %" PRIu64 " + balloon coming "
			    "back %" PRIu64 " <= max %" PRIu64, id, v->consumed_bytes, back, max);
	if (!(d->reasons & RECLAIM_REASON_LIMIT) &&
	    sub_sat(v->consumed_bytes, sub_sat(min64(base, d->balloon_cap_bytes), cur)) > max)
		return FAIL(o, "vm %" PRIu64 ": no reason limit with consumed %" PRIu64 " > max %" PRIu64,
			    id, v->consumed_bytes, max);
	if ((d->reasons & RECLAIM_REASON_ZERO_SHARES) && v->shares)
		return FAIL(o, "vm %" PRIu64 ": reason zero shares with %" PRIu64 " shares", id,
			    v->shares);
	if ((d->reasons & RECLAIM_REASON_NO_BALLOON) && (v->flags & RECLAIM_VM_BALLOON))
		return FAIL(o, "vm %" PRIu64 ": reason no balloon with a driver", id);
	if ((d->reasons & RECLAIM_REASON_STALE) && fresh && !amb)
		return FAIL(o, "vm %" PRIu64 ": reason stale with fresh stats", id);
	if ((d->reasons & RECLAIM_REASON_SWAP_BOUNDED) && !(host->flags & RECLAIM_HOST_SWAP_BOUNDED))
		return FAIL(o, "vm %" PRIu64 ": reason swap bounded without a bounded host", id);
	if ((d->reasons & RECLAIM_REASON_SHORTFALL) && !(sum->flags & RECLAIM_SUMMARY_SHORTFALL))
		return FAIL(o, "vm %" PRIu64 ": reason shortfall without summary shortfall", id);
	if ((d->reasons & RECLAIM_REASON_EARLY) &&
	    (st != RECLAIM_STATE_HIGH || (c->flags & RECLAIM_CONFIG_NO_EARLY_BALLOON)))
		return FAIL(o, "vm %" PRIu64 ": reason early in %s", id, state_name(st));
	return 0;
}

/* Byte counts beyond 2^52, where a double no longer holds every byte. */
static int
huge_inputs(const struct reclaim_host *host, const struct reclaim_vm_stats *vms, size_t n)
{
	const uint64_t big = 1ull << 52;

	if (host->total_bytes >= big)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (vms[i].configured_bytes >= big || vms[i].consumed_bytes >= big ||
		    (vms[i].limit_bytes >= big && vms[i].limit_bytes != RECLAIM_UNLIMITED) ||
		    vms[i].shares >= big)
			return 1;
	return 0;
}

int
oracle_check(struct oracle *o, const struct reclaim_host *host,
	     const struct reclaim_vm_stats *vms, size_t n,
	     const struct reclaim_summary *sum, const struct reclaim_decision *dec)
{
	const struct reclaim_config *c = &o->cfg;
	uint64_t usable = host->total_bytes - host->reserved_bytes;
	uint64_t f = min64(host->free_bytes, usable);
	uint64_t tol = tolerance(c, usable), lt[4], forced = 0;
	uint64_t swap = 0, compress = 0, inflate = 0, deflate = 0, phantom = 0, planned;
	double own[4], h = c->hysteresis * threshold_base(c, usable);
	uint32_t prev, lo, hi;

	if (known("precision") && huge_inputs(host, vms, n))
		return 0;
	if (sum->struct_size != sizeof(*sum) || sum->state > 3 || sum->previous_state > 3 ||
	    (sum->flags & ~KNOWN_SUMMARY))
		return FAIL(o, "summary: struct_size %u state %u previous %u flags %#x",
			    sum->struct_size, sum->state, sum->previous_state, sum->flags);
	/* usable = total - reserved; free "clamped to usable" */
	if (sum->usable_bytes != usable || sum->free_bytes != f)
		return FAIL(o, "summary: usable %" PRIu64 " free %" PRIu64 ", expected %" PRIu64
			    " %" PRIu64, sum->usable_bytes, sum->free_bytes, usable, f);
	/* thresholds "as the policy computes them" and as the profile defines them */
	if (reclaim_config_thresholds(c, host->total_bytes, host->reserved_bytes, lt) != RECLAIM_OK)
		return FAIL(o, "reclaim_config_thresholds failed on a host decide accepted");
	own_thresholds(own, c, usable);
	for (int k = 0; k < 4; k++) {
		if (sum->threshold_bytes[k] != lt[k])
			return FAIL(o, "summary threshold %d: %" PRIu64 " != reclaim_config_thresholds %"
				    PRIu64, k, sum->threshold_bytes[k], lt[k]);
		if (fabs((double)lt[k] - own[k]) > (double)tol)
			return FAIL(o, "threshold %d: %" PRIu64 " but the profile says %.0f", k, lt[k],
				    own[k]);
		if (k && lt[k] > lt[k - 1])
			return FAIL(o, "thresholds out of order: %" PRIu64 " %" PRIu64 " %" PRIu64
				    " %" PRIu64, lt[0], lt[1], lt[2], lt[3]);
	}

	/* state consistent with thresholds and hysteresis */
	/* A fresh policy has no state before its first decide: it reports
	 * high or the state itself, and no hysteresis applies. */
	prev = o->have_prev ? o->prev_state : RECLAIM_STATE_HIGH;
	if (sum->previous_state != prev && (o->have_prev || sum->previous_state != sum->state))
		return FAIL(o, "summary: previous_state %s, expected %s",
			    state_name(sum->previous_state), state_name(prev));
	lo = next_state(prev, f, lt, h - (double)tol);
	hi = next_state(prev, f, lt, h + (double)tol);
	if ((sum->state < lo || sum->state > hi) &&
	    !(known("saturate") && (double)lt[3] + h >= 18446744073709551615.0))
		return FAIL(o, "state %s after %s with free %" PRIu64 ", thresholds %" PRIu64 " %"
			    PRIu64 " %" PRIu64 " %" PRIu64 ", hysteresis %.0f: expected %s",
			    state_name(sum->state), state_name(prev), f, lt[0], lt[1], lt[2], lt[3],
			    h, state_name(hi));
	if (!isfinite(sum->level) || sum->level < 0)
		return FAIL(o, "summary: level %g", sum->level);

	/* need: memory to reclaim to get back to the high threshold */
	if (sum->need_bytes > sub_sat(lt[0], f))
		return FAIL(o, "summary: need %" PRIu64 " > high %" PRIu64 " - free %" PRIu64,
			    sum->need_bytes, lt[0], f);
	if (sum->reclaimable_bytes < sum->need_bytes && !(sum->flags & RECLAIM_SUMMARY_SHORTFALL))
		return FAIL(o, "summary: no shortfall with reclaimable %" PRIu64 " < need %" PRIu64,
			    sum->reclaimable_bytes, sum->need_bytes);
	if ((sum->flags & RECLAIM_SUMMARY_EARLY) && sum->state != RECLAIM_STATE_HIGH)
		return FAIL(o, "summary: early ballooning in %s", state_name(sum->state));
	if ((sum->flags & RECLAIM_SUMMARY_SWAP_BOUNDED) && !(host->flags & RECLAIM_HOST_SWAP_BOUNDED))
		return FAIL(o, "summary: swap bounded without a bounded host");

	for (size_t i = 0; i < n; i++) {
		const struct reclaim_decision *d = &dec[i];
		uint64_t cur = min64(vms[i].balloon_bytes, vms[i].configured_bytes);
		struct oracle_vm fresh;
		const struct oracle_vm *m = vm_memory(o, &vms[i], &fresh);
		uint64_t base = m ? max64(cur, m->balloon_target) : cur;

		if (check_vm(o, host, &vms[i], sum, d, f, lt, h, tol, &forced))
			return -1;
		swap = add_sat(swap, d->swap_bytes);
		compress = add_sat(compress, d->compress_bytes);
		inflate = add_sat(inflate, sub_sat(d->balloon_target_bytes, cur));
		deflate = add_sat(deflate, sub_sat(base, d->balloon_target_bytes));
		/* A balloon holds no more than the guest memory the host does
		 * not back: deflating what it cannot hold costs the host nothing. */
		if (vms[i].flags & RECLAIM_VM_BALLOON) {
			uint64_t size = vms[i].configured_bytes;
			uint64_t holds = min64(cur, size - min64(vms[i].consumed_bytes, size));

			phantom = add_sat(phantom, sub_sat(cur, d->balloon_target_bytes) -
							   sub_sat(holds, d->balloon_target_bytes));
		}
	}
	if (sum->swap_bytes != swap || sum->compress_bytes != compress)
		return FAIL(o, "summary: swap %" PRIu64 " compress %" PRIu64 ", decisions sum to %"
			    PRIu64 " %" PRIu64, sum->swap_bytes, sum->compress_bytes, swap, compress);
	if (sum->balloon_bytes > inflate)
		return FAIL(o, "summary: balloon %" PRIu64 " > inflation in decisions %" PRIu64,
			    sum->balloon_bytes, inflate);
	if (sum->deflate_bytes > deflate)
		return FAIL(o, "summary: deflate %" PRIu64 " > deflation in decisions %" PRIu64,
			    sum->deflate_bytes, deflate);
	/* deflation within the host-wide budget, beyond what caps force (a
	 * VM short of memory above the high threshold gets its balloon back
	 * within it too) */
	{
		uint64_t real = 0;
		for (size_t i = 0; i < n; i++)
			if (!(dec[i].reasons & RECLAIM_REASON_REBALANCE)) /* not budgeted */
				real = add_sat(real, sub_sat(min64(vms[i].balloon_bytes,
								   vms[i].configured_bytes),
							     dec[i].balloon_target_bytes));
		if (real > add_sat(add_sat(c->deflate_budget_bytes, forced), tol) && !known("rebalance"))
			return FAIL(o, "deflation %" PRIu64 " > budget %" PRIu64 " + forced %" PRIu64,
				    real, c->deflate_budget_bytes, forced);
	}
	/* Rebalancing moves memory "at the same total": what rebalanced VMs get
	 * back, others give as much (by balloon, or by host swap where the
	 * state swaps); inside the band, where there is "no host-wide inflation
	 * or deflation", they balloon no more than that either. */
	{
		uint64_t back = 0, in = 0, in_free = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t cur = min64(vms[i].balloon_bytes, vms[i].configured_bytes);
			struct oracle_vm fresh;
			const struct oracle_vm *m = vm_memory(o, &vms[i], &fresh);
			uint64_t base = m ? max64(cur, m->balloon_target) : cur;
			uint64_t bt = dec[i].balloon_target_bytes;

			/* Measured from what was asked (base), as inflation is: a
			 * cancelled request in flight is memory given back too. */
			if (dec[i].reasons & RECLAIM_REASON_REBALANCE) {
				back = add_sat(back, sub_sat(min64(base, dec[i].balloon_cap_bytes), bt));
			} else {
				/* what others give beyond what their limits take anyway */
				uint64_t max = min64(vms[i].configured_bytes, vms[i].limit_bytes);
				/* (a driverless balloon stays as it is) */
				uint64_t comes_back = (vms[i].flags & RECLAIM_VM_BALLOON)
							      ? sub_sat(cur, dec[i].balloon_cap_bytes)
							      : 0;
				uint64_t over = sub_sat(add_sat(min64(vms[i].consumed_bytes,
								      vms[i].configured_bytes),
								comes_back),
							max);
				uint64_t gives = add_sat(sub_sat(bt, cur),
							 add_sat(dec[i].swap_bytes, dec[i].compress_bytes));

				in = add_sat(in, sub_sat(gives, over));
			}
			if (!(dec[i].reasons & RECLAIM_REASON_LIMIT))
				in_free = add_sat(in_free, sub_sat(bt, base));
		}
		if (back > add_sat(in, tol * (uint64_t)(n ? n : 1)) && !known("rebalance"))
			return FAIL(o, "rebalancing gives back %" PRIu64 " but others give only %" PRIu64
				    " beyond their limits", back, in);
		if (f >= lt[0] && (double)f + (double)tol < (double)lt[0] + h &&
		    in_free > add_sat(back, tol * (uint64_t)(n ? n : 1)) && !known("rebalance"))
			return FAIL(o, "inside the hysteresis band balloons inflate %" PRIu64 " but only %"
				    PRIu64 " was rebalanced back", in_free, back);
	}
	if ((host->flags & RECLAIM_HOST_SWAP_BOUNDED) && swap > host->swap_free_bytes)
		return FAIL(o, "swap %" PRIu64 " > host swap room %" PRIu64, swap,
			    host->swap_free_bytes);
	/* total planned reclamation >= need when there is enough reclaimable memory */
	/* net of balloon deflation (as far as the host backs it again):
	 * rebalancing must not eat into the need */
	planned = sub_sat(add_sat(add_sat(sum->balloon_bytes, swap),
				  add_sat(compress, sum->in_flight_bytes)),
			  sub_sat(sum->deflate_bytes, phantom));
	if (!(sum->flags & (RECLAIM_SUMMARY_SHORTFALL | RECLAIM_SUMMARY_SWAP_BOUNDED)) &&
	    add_sat(planned, tol * (uint64_t)(n ? n : 1)) < sum->need_bytes && !known("swap-cap"))
		return FAIL(o, "planned %" PRIu64 " (balloon %" PRIu64 " swap %" PRIu64 " compress %"
			    PRIu64 " in flight %" PRIu64 " deflate %" PRIu64 ") < need %" PRIu64
			    " without shortfall", planned, sum->balloon_bytes, swap, compress,
			    sum->in_flight_bytes, sum->deflate_bytes, sum->need_bytes);
	/* and a shortfall is one */
	if ((sum->flags & RECLAIM_SUMMARY_SHORTFALL) && sum->reclaimable_bytes >= sum->need_bytes &&
	    planned >= sum->need_bytes)
		return FAIL(o, "summary: shortfall with reclaimable %" PRIu64 " and planned %" PRIu64
			    " >= need %" PRIu64, sum->reclaimable_bytes, planned, sum->need_bytes);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The decide protocol                                                      */

static int
all_canary(const void *p, size_t len, size_t skip)
{
	const unsigned char *b = p;

	for (size_t i = skip; i < len; i++)
		if (b[i] != CANARY)
			return 0;
	return 1;
}

static void
canary_outputs(struct reclaim_summary *s, struct reclaim_decision *d, size_t n)
{
	memset(s, CANARY, sizeof(*s));
	s->struct_size = sizeof(*s);
	s->decision_size = sizeof(*d);
	memset(d, CANARY, (n + 1) * sizeof(*d));
}

static int
untouched(const struct reclaim_summary *s, const struct reclaim_decision *d, size_t n)
{
	return s->struct_size == sizeof(*s) && s->decision_size == sizeof(*d) &&
	       all_canary(s, sizeof(*s), offsetof(struct reclaim_summary, state)) &&
	       all_canary(d, (n + 1) * sizeof(*d), 0);
}

int
oracle_decide(struct oracle *o, int *status, struct reclaim_summary *sum,
	      struct reclaim_decision *dec, struct reclaim_policy *policy,
	      const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	      size_t n)
{
	struct reclaim_summary s[3];
	struct reclaim_decision d[3][ORACLE_MAX_VMS + 1];
	uint32_t allowed = oracle_allowed_statuses(o, host, vms, n, 0);
	int r[3];

	if (n > ORACLE_MAX_VMS)
		return FAIL(o, "oracle_decide: %zu VMs, the oracle follows at most %d", n,
			    ORACLE_MAX_VMS);
	/* (campaign only: look past B11, which hangs on such snapshots) */
	if (known("huge") && huge_inputs(host, vms, n)) {
		*status = RECLAIM_E_INVAL;
		return 0;
	}
	for (int k = 0; k < 3; k++) {
		canary_outputs(&s[k], d[k], n);
		r[k] = reclaim_decide(policy, host, vms, n, k < 2 ? RECLAIM_DECIDE_DRY_RUN : 0, &s[k], d[k]);
		o->decides++;
	}
	*status = r[2];
	/* RECLAIM_ORACLE_TRACE=1: what each decide saw and decided, to read a
	 * finding's reproducer. */
	if (getenv("RECLAIM_ORACLE_TRACE")) {
		fprintf(stderr, "decide %d: host total %" PRIu64 " reserved %" PRIu64 " free %" PRIu64
			" now %" PRIu64 " flags %#x swap_free %" PRIu64 "\n", r[2], host->total_bytes,
			host->reserved_bytes, host->free_bytes, host->now_ns, host->flags,
			host->swap_free_bytes);
		for (size_t i = 0; i < n; i++) {
			const struct reclaim_vm_stats *v = &vms[i];
			char line[512];

			fprintf(stderr, "  vm %" PRIu64 ": flags %#x conf %" PRIu64 " cons %" PRIu64
				" resv %" PRIu64 " lim %" PRIu64 " shares %" PRIu64 " act %" PRIu64
				" bal %" PRIu64 " cap %" PRIu64 " gfree %" PRIu64 " gswap %" PRIu64
				" st %" PRIu64 "\n", v->id, v->flags, v->configured_bytes,
				v->consumed_bytes, v->reservation_bytes, v->limit_bytes, v->shares,
				v->active_bytes, v->balloon_bytes, v->balloon_cap_bytes,
				v->guest_free_bytes, v->guest_swap_free_bytes, v->stats_time_ns);
			if (r[2] == RECLAIM_OK &&
			    reclaim_decision_format(line, sizeof(line), &d[2][i]) >= 0)
				fprintf(stderr, "    %s\n", line);
		}
		if (r[2] == RECLAIM_OK)
			fprintf(stderr, "  state %s need %" PRIu64 " reclaimable %" PRIu64 " flags %#x\n",
				state_name(s[2].state), s[2].need_bytes, s[2].reclaimable_bytes,
				s[2].flags);
	}
	/* RECLAIM_ORACLE_DIGEST=1: a hash of every output byte of each decide,
	 * to show that a change to the library changed no decision. */
	if (getenv("RECLAIM_ORACLE_DIGEST")) {
		uint64_t h = 14695981039346656037ull;
		const unsigned char *b = (const unsigned char *)&s[2];

		for (size_t k = 0; r[2] == RECLAIM_OK && k < sizeof(s[2]); k++)
			h = (h ^ b[k]) * 1099511628211ull;
		b = (const unsigned char *)d[2];
		for (size_t k = 0; r[2] == RECLAIM_OK && k < n * sizeof(d[2][0]); k++)
			h = (h ^ b[k]) * 1099511628211ull;
		fprintf(stderr, "decide %d %016" PRIx64 "\n", r[2], h);
	}
	if (r[0] > 0 || r[0] < -31 || !(allowed & (r[0] ? BIT(r[0]) : 1u)))
		return FAIL(o, "decide returned %d (%s); the inputs allow mask %#x", r[0],
			    reclaim_strerror(r[0]), allowed);
	if (r[1] != r[0] || r[2] != r[0])
		return FAIL(o, "decide returned %d, %d (dry runs) then %d", r[0], r[1], r[2]);
	if (r[0] != RECLAIM_OK) {
		o->errors++;
		for (int k = 0; k < 3; k++)
			if (!untouched(&s[k], d[k], n))
				return FAIL(o, "decide failed with %d but wrote its outputs", r[0]);
		return 0;
	}
	for (int k = 0; k < 3; k++)
		if (!all_canary(&d[k][n], sizeof(d[k][n]), 0))
			return FAIL(o, "decide wrote past decision %zu", n);
	if (memcmp(&s[0], &s[1], sizeof(s[0])) || memcmp(d[0], d[1], n * sizeof(d[0][0])))
		return FAIL(o, "two dry runs on the same inputs differ");
	if (memcmp(&s[0], &s[2], sizeof(s[0])) || memcmp(d[0], d[2], n * sizeof(d[0][0])))
		return FAIL(o, "the real decide differs from its dry run");
	if (oracle_check(o, host, vms, n, &s[2], d[2]))
		return -1;
	remember(o, host, vms, n, &s[2], d[2]);
	*sum = s[2];
	if (n)
		memcpy(dec, d[2], n * sizeof(*dec));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Admission plans                                                          */

int
oracle_plan(struct oracle *o, int *status, struct reclaim_policy *policy,
	    const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	    size_t n, uint64_t new_vm_bytes)
{
	struct reclaim_summary s, before, after;
	struct reclaim_decision d[ORACLE_MAX_VMS + 1], db[ORACLE_MAX_VMS + 1],
		da[ORACLE_MAX_VMS + 1];
	uint32_t allowed = oracle_allowed_statuses(o, host, vms, n, 0);
	const struct reclaim_config *c = &o->cfg;
	int rb, ra, r;

	if (n > ORACLE_MAX_VMS)
		return FAIL(o, "oracle_plan: too many VMs");
	if ((known("precision") || known("huge")) &&
	    (huge_inputs(host, vms, n) || new_vm_bytes >= (1ull << 52)))
		return 0;
	if (add_sat(new_vm_bytes, host->total_bytes) == UINT64_MAX)
		allowed |= BIT(RECLAIM_E_OVERFLOW);
	if (new_vm_bytes == 0)
		allowed |= BIT(RECLAIM_E_INVAL);
	canary_outputs(&before, db, n);
	rb = reclaim_decide(policy, host, vms, n, RECLAIM_DECIDE_DRY_RUN, &before, db);
	canary_outputs(&s, d, n);
	r = reclaim_plan_admission(policy, host, vms, n, new_vm_bytes, &s, d);
	*status = r;
	canary_outputs(&after, da, n);
	ra = reclaim_decide(policy, host, vms, n, RECLAIM_DECIDE_DRY_RUN, &after, da);
	if (ra != rb || memcmp(&before, &after, sizeof(before)) || memcmp(db, da, (n + 1) * sizeof(db[0])))
		return FAIL(o, "plan_admission changed the policy");
	if (r > 0 || r < -31 || !(allowed & (r ? BIT(r) : 1u)))
		return FAIL(o, "plan_admission returned %d (%s); inputs allow mask %#x", r,
			    reclaim_strerror(r), allowed);
	if (r != RECLAIM_OK) {
		if (!untouched(&s, d, n))
			return FAIL(o, "plan_admission failed with %d but wrote its outputs", r);
		return 0;
	}
	if (!all_canary(&d[n], sizeof(d[n]), 0))
		return FAIL(o, "plan_admission wrote past decision %zu", n);
	{
		uint64_t usable = host->total_bytes - host->reserved_bytes;
		uint64_t f = min64(host->free_bytes, usable), lt[4];
		uint64_t tol = tolerance(c, usable);
		uint64_t planned = add_sat(add_sat(s.balloon_bytes, s.swap_bytes),
					   add_sat(s.compress_bytes, s.in_flight_bytes));
		uint64_t want;

		if (reclaim_config_thresholds(c, host->total_bytes, host->reserved_bytes, lt))
			return FAIL(o, "thresholds failed on an admissible host");
		want = sub_sat(add_sat(lt[0], new_vm_bytes), f);
		if (s.struct_size != sizeof(s) || s.usable_bytes != usable)
			return FAIL(o, "plan summary: struct_size %u usable %" PRIu64, s.struct_size,
				    s.usable_bytes);
		if (s.reclaimable_bytes < s.need_bytes && !(s.flags & RECLAIM_SUMMARY_SHORTFALL))
			return FAIL(o, "plan: no shortfall with reclaimable %" PRIu64 " < need %" PRIu64,
				    s.reclaimable_bytes, s.need_bytes);
		if ((s.flags & RECLAIM_SUMMARY_SHORTFALL) && s.reclaimable_bytes >= s.need_bytes &&
		    sub_sat(planned, s.deflate_bytes) >= s.need_bytes)
			return FAIL(o, "plan: shortfall with reclaimable %" PRIu64 " and planned %" PRIu64
				    " >= need %" PRIu64, s.reclaimable_bytes,
				    sub_sat(planned, s.deflate_bytes), s.need_bytes);
		if (!(s.flags & (RECLAIM_SUMMARY_SHORTFALL | RECLAIM_SUMMARY_SWAP_BOUNDED)) &&
		    add_sat(planned, tol * (uint64_t)(n ? n : 1)) < want && !known("swap-cap"))
			return FAIL(o, "plan admits a %" PRIu64 "-byte VM with free %" PRIu64 " + "
				    "planned %" PRIu64 " < high %" PRIu64 " + the VM", new_vm_bytes, f,
				    planned, lt[0]);
		for (size_t i = 0; i < n; i++) {
			const struct reclaim_vm_stats *v = &vms[i];
			uint64_t max = min64(v->configured_bytes, v->limit_bytes);
			int amb = 0;

			if (d[i].struct_size != sizeof(d[i]) || d[i].id != v->id)
				return FAIL(o, "plan: decision %zu header", i);
			if ((d[i].target_bytes < v->reservation_bytes && !known("reservation")) ||
			    d[i].target_bytes > max)
				return FAIL(o, "plan: vm %" PRIu64 " target %" PRIu64 " outside bounds",
					    v->id, d[i].target_bytes);
			if (d[i].balloon_target_bytes > d[i].balloon_cap_bytes ||
			    d[i].balloon_cap_bytes > add_sat(dbytes((double)v->configured_bytes *
								    c->balloon_max_fraction), tol) ||
			    d[i].balloon_cap_bytes > v->balloon_cap_bytes)
				return FAIL(o, "plan: vm %" PRIu64 " balloon %" PRIu64 " cap %" PRIu64,
					    v->id, d[i].balloon_target_bytes, d[i].balloon_cap_bytes);
			if (!(c->flags & RECLAIM_CONFIG_NO_GUEST_CAP) && fresh_stats(c, host, v, &amb) &&
			    !amb && d[i].balloon_cap_bytes > add_sat(guest_term(c, v), tol))
				return FAIL(o, "plan: vm %" PRIu64 " cap above the guest's room", v->id);
			if (d[i].block || (d[i].actions & RECLAIM_ACTION_BLOCK))
				return FAIL(o, "plan: vm %" PRIu64 " blocked", v->id);
			if (add_sat(d[i].swap_bytes, d[i].compress_bytes) >
			    round_up(d[i].excess_bytes, c->page_size))
				return FAIL(o, "plan: vm %" PRIu64 " swaps beyond its excess", v->id);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Apply                                                                    */

static int
record(struct oracle_adapter *a, uint32_t op, uint64_t id, uint64_t value)
{
	size_t i = a->n_calls;
	int ret = 0;

	if (i < a->n_fail && a->fail[i] % 4 == 0)
		ret = -(1 + a->fail[i] / 4 % 100);
	if (i < sizeof(a->calls) / sizeof(a->calls[0])) {
		a->calls[i] = (struct oracle_call){op, ret, id, value};
		a->n_calls++;
	}
	return ret;
}

static int
op_balloon(void *u, uint64_t id, uint64_t bytes)
{
	return record(u, ORACLE_OP_BALLOON, id, bytes);
}

static int
op_swap(void *u, uint64_t id, uint64_t bytes)
{
	return record(u, ORACLE_OP_SWAP, id, bytes);
}

static int
op_block(void *u, uint64_t id)
{
	return record(u, ORACLE_OP_BLOCK, id, 0);
}

static int
op_unblock(void *u, uint64_t id)
{
	return record(u, ORACLE_OP_UNBLOCK, id, 0);
}

static int
op_compress(void *u, uint64_t id, uint64_t bytes)
{
	return record(u, ORACLE_OP_COMPRESS, id, bytes);
}

void
oracle_adapter_init(struct oracle_adapter *a, const uint8_t *fail, size_t n_fail)
{
	memset(a, 0, sizeof(*a));
	a->ops.version = RECLAIM_ADAPTER_VERSION;
	a->ops.set_balloon = op_balloon;
	a->ops.swap_out = op_swap;
	a->ops.block = op_block;
	a->ops.unblock = op_unblock;
	a->ops.compress = op_compress;
	a->fail = fail;
	a->n_fail = n_fail;
}

/* Status of a requested action carried out by the calls [k, e) of type op. */
static int
status_ok(int32_t status, const struct oracle_call *calls, size_t k, size_t e, uint32_t op)
{
	int any_fail = 0;

	for (size_t j = k; j < e; j++) {
		if (calls[j].op != op)
			continue;
		if (calls[j].ret < 0) {
			any_fail = 1;
			if (status == calls[j].ret)
				return 1;
		}
	}
	return !any_fail && status == 0;
}

int
oracle_apply(struct oracle *o, int *status, struct reclaim_policy *policy,
	     struct oracle_adapter *a, const struct reclaim_decision *dec, size_t n)
{
	struct reclaim_apply_result res[ORACLE_MAX_VMS + 1];
	const struct reclaim_adapter *ops = &a->ops;
	size_t k = 0;
	int any_fail = 0, any_skip = 0, r;

	if (n > ORACLE_MAX_VMS)
		return FAIL(o, "oracle_apply: too many VMs");
	a->n_calls = 0;
	memset(res, CANARY, sizeof(res));
	r = reclaim_apply(policy, ops, a, dec, n, res, sizeof(res[0]));
	*status = r;
	if (ops->version == 0) {
		if (r >= 0 || a->n_calls || !all_canary(res, sizeof(res), 0))
			return FAIL(o, "apply with adapter version 0: %d, %zu calls", r, a->n_calls);
		return 0;
	}
	if (!all_canary(&res[n], sizeof(res[n]), 0))
		return FAIL(o, "apply wrote past result %zu", n);

	for (size_t i = 0; i < n; i++) {
		const struct reclaim_decision *d = &dec[i];
		const struct reclaim_apply_result *rs = &res[i];
		struct oracle_vm *m = find_vm(o, d->id);
		uint32_t act = d->actions;
		size_t e = k, nb = 0, nbl = 0, nub = 0, nc = 0, ns = 0;
		uint64_t swapped = 0, want_swap = 0;
		int fallback = (act & RECLAIM_ACTION_COMPRESS) && !ops->compress;
		int skipped = 0, failed = 0, first_swap_seen = 0;

		size_t start = k;

		while (e < a->n_calls && a->calls[e].id == d->id)
			e++;
		for (size_t j = k; j < e; j++) {
			const struct oracle_call *cl = &a->calls[j];
			if (cl->ret < 0)
				failed = 1;
			switch (cl->op) {
			case ORACLE_OP_BALLOON:
				nb++;
				if (!(act & RECLAIM_ACTION_BALLOON) || cl->value != d->balloon_target_bytes)
					return FAIL(o, "apply: vm %" PRIu64 " set_balloon(%" PRIu64 ") "
						    "for actions %#x target %" PRIu64, d->id, cl->value,
						    act, d->balloon_target_bytes);
				break;
			case ORACLE_OP_SWAP:
				ns++;
				first_swap_seen = 1;
				swapped = add_sat(swapped, cl->value);
				if (cl->value == 0)
					return FAIL(o, "apply: vm %" PRIu64 " swap_out(0)", d->id);
				break;
			case ORACLE_OP_COMPRESS:
				nc++;
				/* "compress compress_bytes now (before swap_bytes)" */
				if (!(act & RECLAIM_ACTION_COMPRESS) || cl->value != d->compress_bytes ||
				    first_swap_seen)
					return FAIL(o, "apply: vm %" PRIu64 " compress(%" PRIu64 ") for "
						    "actions %#x compress %" PRIu64 "%s", d->id, cl->value,
						    act, d->compress_bytes,
						    first_swap_seen ? " after swap_out" : "");
				break;
			case ORACLE_OP_BLOCK:
				nbl++;
				if (!(act & RECLAIM_ACTION_BLOCK))
					return FAIL(o, "apply: vm %" PRIu64 " block() unasked", d->id);
				break;
			default:
				nub++;
				if (!(act & RECLAIM_ACTION_UNBLOCK))
					return FAIL(o, "apply: vm %" PRIu64 " unblock() unasked", d->id);
				break;
			}
		}
		k = e;
		if (act & RECLAIM_ACTION_SWAP)
			want_swap = d->swap_bytes;
		if (fallback)
			want_swap = add_sat(want_swap, d->compress_bytes);
		/* every requested action is carried out exactly once, or skipped */
		if ((act & RECLAIM_ACTION_BALLOON) && nb != (ops->set_balloon ? 1u : 0u))
			return FAIL(o, "apply: vm %" PRIu64 " set_balloon called %zu times", d->id, nb);
		if ((act & RECLAIM_ACTION_BLOCK) && nbl != (ops->block ? 1u : 0u))
			return FAIL(o, "apply: vm %" PRIu64 " block called %zu times", d->id, nbl);
		if ((act & RECLAIM_ACTION_UNBLOCK) && nub != (ops->unblock ? 1u : 0u))
			return FAIL(o, "apply: vm %" PRIu64 " unblock called %zu times", d->id, nub);
		if ((act & RECLAIM_ACTION_COMPRESS) && ops->compress && nc != 1)
			return FAIL(o, "apply: vm %" PRIu64 " compress called %zu times", d->id, nc);
		if (ops->swap_out ? swapped != want_swap : ns != 0)
			return FAIL(o, "apply: vm %" PRIu64 " swapped %" PRIu64 " of %" PRIu64 " (swap %"
				    PRIu64 ", compress %" PRIu64 " %s)", d->id, swapped, want_swap,
				    d->swap_bytes, d->compress_bytes, fallback ? "falling back" : "");
		if (((act & RECLAIM_ACTION_BALLOON) && !ops->set_balloon) ||
		    ((act & RECLAIM_ACTION_SWAP) && !ops->swap_out) ||
		    ((act & RECLAIM_ACTION_BLOCK) && !ops->block) ||
		    ((act & RECLAIM_ACTION_UNBLOCK) && !ops->unblock) ||
		    (fallback && !ops->swap_out))
			skipped = 1;

		/* the result for this VM */
		if (rs->struct_size != sizeof(*rs) || rs->id != d->id ||
		    (rs->flags & ~(uint32_t)(RECLAIM_APPLY_COMPRESS_FALLBACK | RECLAIM_APPLY_SKIPPED)))
			return FAIL(o, "apply: result %zu struct_size %u id %" PRIu64 " flags %#x", i,
				    rs->struct_size, rs->id, rs->flags);
		if (!!(rs->flags & RECLAIM_APPLY_SKIPPED) != skipped)
			return FAIL(o, "apply: vm %" PRIu64 " skipped flag %d, expected %d", d->id,
				    !!(rs->flags & RECLAIM_APPLY_SKIPPED), skipped);
		if (!!(rs->flags & RECLAIM_APPLY_COMPRESS_FALLBACK) != fallback)
			return FAIL(o, "apply: vm %" PRIu64 " fallback flag %d", d->id,
				    !!(rs->flags & RECLAIM_APPLY_COMPRESS_FALLBACK));
		if (!(act & RECLAIM_ACTION_BALLOON) ? rs->balloon_status != 1
		    : ops->set_balloon ? !status_ok(rs->balloon_status, a->calls, start, e,
						    ORACLE_OP_BALLOON)
				       : rs->balloon_status >= 0)
			return FAIL(o, "apply: vm %" PRIu64 " balloon_status %d", d->id,
				    rs->balloon_status);
		/* "Statuses are 0, the op's negative errno, or 1 when the action
		 * was not requested"; a compression that fell back to swap_out
		 * reports swap_out's status. */
		if (!(act & RECLAIM_ACTION_SWAP)
		    ? rs->swap_status != 1 && !(fallback && known("apply-status"))
		    : ops->swap_out ? !status_ok(rs->swap_status, a->calls, start, e, ORACLE_OP_SWAP)
				    : rs->swap_status >= 0)
			return FAIL(o, "apply: vm %" PRIu64 " swap_status %d", d->id, rs->swap_status);
		if (!(act & RECLAIM_ACTION_COMPRESS) ? rs->compress_status != 1
		    : ops->compress ? !status_ok(rs->compress_status, a->calls, start, e,
						 ORACLE_OP_COMPRESS)
		    : ops->swap_out ? !status_ok(rs->compress_status, a->calls, start, e,
						 ORACLE_OP_SWAP) && !known("apply-status")
				    : rs->compress_status >= 0 && !known("apply-status"))
			return FAIL(o, "apply: vm %" PRIu64 " compress_status %d", d->id,
				    rs->compress_status);
		if (!(act & (RECLAIM_ACTION_BLOCK | RECLAIM_ACTION_UNBLOCK))
		    ? rs->block_status != 1
		    : ((act & RECLAIM_ACTION_BLOCK) ? ops->block != NULL : ops->unblock != NULL)
		    ? !status_ok(rs->block_status, a->calls, start, e,
				 (act & RECLAIM_ACTION_BLOCK) ? ORACLE_OP_BLOCK : ORACLE_OP_UNBLOCK)
		    : rs->block_status >= 0)
			return FAIL(o, "apply: vm %" PRIu64 " block_status %d", d->id,
				    rs->block_status);
		any_fail |= failed;
		any_skip |= skipped;

		/* What the policy learns: an op that failed or was skipped is a
		 * failure (reason ADAPTER_FAILED next time); a block or unblock
		 * that failed leaves the VM as it was, so it is issued again; a
		 * skipped one (no op) is not retried. Without the policy, nothing. */
		if (!m)
			continue;
		if (!policy) {
			m->apply = -1;
			continue;
		}
		m->apply = failed || skipped;
		if ((act & RECLAIM_ACTION_BLOCK) && ops->block && rs->block_status < 0)
			m->blocked = 0;
		if ((act & RECLAIM_ACTION_UNBLOCK) && ops->unblock && rs->block_status < 0)
			m->blocked = 1;
	}
	if (k != a->n_calls)
		return FAIL(o, "apply: %zu calls, %zu accounted for (wrong order or ids)", a->n_calls,
			    k);
	if (any_fail ? r != RECLAIM_E_ADAPTER
		     : !(r == RECLAIM_OK || (any_skip && r == RECLAIM_E_ADAPTER)))
		return FAIL(o, "apply returned %d with failed ops %d, skipped %d", r, any_fail,
			    any_skip);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Config                                                                   */

struct rule {
	const char *name;
	int bad;        /* 1: invalid, 2: a library may reasonably refuse it */
	uint32_t codes; /* statuses allowed for it */
};

static void
add_rule(struct rule *rules, size_t *n, const char *name, int bad, uint32_t codes)
{
	if (bad)
		rules[(*n)++] = (struct rule){name, bad, codes};
}

static int
in01(double x, int open_low, int open_high)
{
	return (open_low ? x > 0 : x >= 0) && (open_high ? x < 1 : x <= 1);
}

/* The size of struct reclaim_config in 0.2 (CHANGELOG.md), which every
 * later release accepts. */
#define CONFIG_SIZE_0_2 200

/* @p c as the library reads it: an older caller's bytes, then the
 * documented defaults of the members it lacks. */
static void
config_as_read(struct reclaim_config *full, const struct reclaim_config *c)
{
	reclaim_config_init(full, sizeof(*full));
	memcpy(full, c, c->struct_size == CONFIG_SIZE_0_2 ? CONFIG_SIZE_0_2 : sizeof(*full));
	full->struct_size = sizeof(*full);
}

static size_t
config_rules(struct rule *rules, const struct reclaim_config *c)
{
	const uint32_t conf = BIT(RECLAIM_E_CONFIG) | BIT(RECLAIM_E_INVAL);
	const uint32_t thr = BIT(RECLAIM_E_THRESHOLDS);
	size_t n = 0;
	int ordered;

	if (c->struct_size == CONFIG_SIZE_0_2) { /* 0.2's config, still accepted */
		struct reclaim_config full;

		config_as_read(&full, c);
		return config_rules(rules, &full);
	}
	if (c->struct_size != sizeof(*c)) {
		add_rule(rules, &n, "struct_size", 1, BIT(RECLAIM_E_VERSION));
		return n;
	}
	add_rule(rules, &n, "flags", (c->flags & ~KNOWN_CONFIG_FLAGS) != 0, conf);
	add_rule(rules, &n, "threshold_base", c->threshold_base > RECLAIM_BASE_MINFREE, conf | thr);
	add_rule(rules, &n, "reserved0", c->reserved0 != 0, conf);
	add_rule(rules, &n, "reserved1", c->reserved1 != 0, conf);
	ordered = c->threshold_high > c->threshold_soft && c->threshold_soft > c->threshold_hard &&
		  c->threshold_hard > c->threshold_low;
	/* "each in (0, 1)", but RECLAIM_PROFILE_ESXI5 puts high at 100 % of minFree */
	add_rule(rules, &n, "threshold_high",
		 !ordered || !in01(c->threshold_high, 1, 0) ? 1
		 : c->threshold_high == 1 ? (c->threshold_base == RECLAIM_BASE_MINFREE ? 2 : 1)
		 : 0, thr);
	add_rule(rules, &n, "threshold_soft", !in01(c->threshold_soft, 1, 1) || !ordered, thr);
	add_rule(rules, &n, "threshold_hard", !in01(c->threshold_hard, 1, 1) || !ordered, thr);
	add_rule(rules, &n, "threshold_low", !in01(c->threshold_low, 1, 1) || !ordered, thr);
	add_rule(rules, &n, "hysteresis", !in01(c->hysteresis, 0, 1), conf | thr);
	add_rule(rules, &n, "idle_tax", !in01(c->idle_tax, 0, 1), conf);
	add_rule(rules, &n, "balloon_max_fraction", !in01(c->balloon_max_fraction, 0, 0), conf);
	add_rule(rules, &n, "page_size",
		 (c->page_size < 512 || (c->page_size & (c->page_size - 1))) ? 1
		 : c->page_size > (1ull << 30) ? 2 : 0, conf);
	add_rule(rules, &n, "estimator_fast_gain", !in01(c->estimator_fast_gain, 0, 0) ? 1
		 : c->estimator_fast_gain == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "estimator_slow_gain", !in01(c->estimator_slow_gain, 0, 0) ? 1
		 : c->estimator_slow_gain == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "active_floor", !in01(c->active_floor, 0, 0) ? 1
		 : c->active_floor == 1 ? 2 : 0, conf);
	add_rule(rules, &n, "compress_max_fraction", !in01(c->compress_max_fraction, 0, 0), conf);
	add_rule(rules, &n, "guest_margin_fraction", !in01(c->guest_margin_fraction, 0, 0), conf);
	/* zero periods, rates and windows: nonsense a library may refuse */
	add_rule(rules, &n, "balloon_min_rate", c->balloon_min_rate == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "balloon_window_ns", c->balloon_window_ns == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "balloon_backoff_ns", c->balloon_backoff_ns == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "balloon_horizon_ns", c->balloon_horizon_ns == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "balloon_default_rate", c->balloon_default_rate == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "stats_max_age_ns", c->stats_max_age_ns == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "sample_period_ns", c->sample_period_ns == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "sample_pages", c->sample_pages == 0 ? 2 : 0, conf);
	add_rule(rules, &n, "deflate_budget_bytes", c->deflate_budget_bytes == 0 ? 2 : 0, conf);
	return n;
}

int
oracle_config(char *why, size_t len, const struct reclaim_config *cfg,
	      struct reclaim_policy *existing, uint64_t total, uint64_t reserved)
{
	struct rule rules[32];
	size_t nr = config_rules(rules, cfg);
	int any_bad = 0, r, r2;
	const char *field = "canary";
	static const char canary_policy = 0;
	struct reclaim_policy *p = (struct reclaim_policy *)(uintptr_t)&canary_policy;

	for (size_t i = 0; i < nr; i++)
		any_bad |= rules[i].bad == 1;
	r = reclaim_config_check(cfg, &field);
	if (r == RECLAIM_OK) {
		if (any_bad)
			return fail_to(why, len, "config_check accepted an invalid config (%s)",
				       rules[0].name);
		if (field != NULL)
			return fail_to(why, len, "config_check OK but field is not NULL");
	} else {
		size_t i;
		if (!field)
			return fail_to(why, len, "config_check %d without a field", r);
		for (i = 0; i < nr; i++)
			if (!strcmp(field, rules[i].name) && (rules[i].codes & BIT(r)))
				break;
		if (i == nr)
			return fail_to(why, len, "config_check returned %d (%s) for field '%s', "
				       "which the header does not explain (first rule: %s)", r,
				       reclaim_strerror(r), field, nr ? rules[0].name : "none");
	}
	if ((r2 = reclaim_config_check(cfg, NULL)) != r)
		return fail_to(why, len, "config_check with NULL field: %d, with a field: %d", r2, r);

	/* "a required pointer is NULL": E_NULL, whatever the config */
	{
		uint64_t out[4];
		struct reclaim_policy *q = NULL;
		struct reclaim_config got;

		field = "canary";
		if (reclaim_config_check(NULL, &field) != RECLAIM_E_NULL || field != NULL ||
		    reclaim_config_thresholds(cfg, total, reserved, NULL) != RECLAIM_E_NULL ||
		    reclaim_config_thresholds(NULL, total, reserved, out) != RECLAIM_E_NULL ||
		    reclaim_policy_new(NULL, cfg, 4) != RECLAIM_E_NULL ||
		    reclaim_policy_new(&q, NULL, 4) != RECLAIM_E_NULL ||
		    reclaim_policy_init(NULL, out, sizeof(out), cfg, 4) != RECLAIM_E_NULL ||
		    reclaim_policy_init(&q, NULL, 4096, cfg, 4) != RECLAIM_E_NULL ||
		    reclaim_policy_memory_size(0) != 0 ||
		    reclaim_policy_set_config(NULL, cfg) != RECLAIM_E_NULL ||
		    reclaim_policy_get_config(NULL, &got) != RECLAIM_E_NULL ||
		    reclaim_estimator_init(NULL, sizeof(struct reclaim_estimator), cfg) !=
			    RECLAIM_E_NULL || q != NULL)
			return fail_to(why, len, "a NULL argument was not refused with E_NULL");
		if (existing && (reclaim_policy_set_config(existing, NULL) != RECLAIM_E_NULL ||
				 reclaim_policy_get_config(existing, NULL) != RECLAIM_E_NULL))
			return fail_to(why, len, "a NULL config was not refused with E_NULL");
	}

	/* policy_new validates "as reclaim_policy_new() would" */
	r2 = reclaim_policy_new(&p, cfg, 4);
	if (r2 != r)
		return fail_to(why, len, "policy_new %d but config_check %d", r2, r);
	if (r2 == RECLAIM_OK)
		reclaim_policy_destroy(p);
	else if (p != (struct reclaim_policy *)(uintptr_t)&canary_policy)
		return fail_to(why, len, "policy_new failed but wrote *out");
	p = (struct reclaim_policy *)(uintptr_t)&canary_policy;
	r2 = reclaim_policy_new(&p, cfg, 0);
	if (r2 == RECLAIM_OK || (r2 != RECLAIM_E_INVAL && r2 != r))
		return fail_to(why, len, "policy_new with capacity 0: %d", r2);

	{
		size_t bytes = 0;
		unsigned char *mem;
		if ((bytes = reclaim_policy_memory_size(4)) == 0)
			return fail_to(why, len, "policy_memory_size failed");
		mem = aligned_alloc(16, (bytes + 16 + 15) / 16 * 16);
		if (!mem)
			return fail_to(why, len, "out of memory in the oracle");
		r2 = reclaim_policy_init(&p, mem, bytes, cfg, 4);
		if (r2 != r) {
			free(mem);
			return fail_to(why, len, "policy_init %d but config_check %d", r2, r);
		}
		if (r2 == RECLAIM_OK)
			reclaim_policy_destroy(p);
		r2 = reclaim_policy_init(&p, mem, bytes - 1, cfg, 4);
		if (r2 != RECLAIM_E_NOSPACE && !(r != RECLAIM_OK && r2 == r)) {
			free(mem);
			return fail_to(why, len, "policy_init one byte short: %d", r2);
		}
		r2 = reclaim_policy_init(&p, mem + 8, bytes, cfg, 4);
		free(mem);
		if (r2 != RECLAIM_E_INVAL && !(r != RECLAIM_OK && r2 == r))
			return fail_to(why, len, "policy_init misaligned: %d", r2);
	}

	if (existing) {
		struct reclaim_config old, now, full;
		old.struct_size = now.struct_size = sizeof(old);
		if (reclaim_policy_get_config(existing, &old) != RECLAIM_OK)
			return fail_to(why, len, "policy_get_config failed");
		r2 = reclaim_policy_set_config(existing, cfg);
		if (r2 != r)
			return fail_to(why, len, "policy_set_config %d but config_check %d", r2, r);
		if (reclaim_policy_get_config(existing, &now) != RECLAIM_OK)
			return fail_to(why, len, "policy_get_config failed");
		/* (an older caller's config is in force as it reads) */
		config_as_read(&full, cfg);
		if (memcmp(&now, r == RECLAIM_OK ? &full : &old, sizeof(now)))
			return fail_to(why, len, "config in force after set_config(%d) is %s", r,
				       r == RECLAIM_OK ? "not the new one" : "not the old one");
		if (reclaim_policy_set_config(existing, &old) != RECLAIM_OK)
			return fail_to(why, len, "cannot restore the old config");
	}

	{
		uint64_t out[4], keep[4];
		memset(out, CANARY, sizeof(out));
		memcpy(keep, out, sizeof(out));
		r2 = reclaim_config_thresholds(cfg, total, reserved, out);
		if (r != RECLAIM_OK) {
			if (r2 == RECLAIM_OK)
				return fail_to(why, len, "config_thresholds accepted an invalid config");
		} else if (reserved > total) {
			if (r2 != RECLAIM_E_HOST_RESERVED)
				return fail_to(why, len, "config_thresholds with reserved > total: %d", r2);
		} else if (r2 != RECLAIM_OK) {
			return fail_to(why, len, "config_thresholds failed: %d", r2);
		}
		if (r2 != RECLAIM_OK) {
			if (memcmp(out, keep, sizeof(out)))
				return fail_to(why, len, "config_thresholds failed but wrote out[]");
		} else {
			uint64_t usable = total - reserved;
			double own[4];
			own_thresholds(own, cfg, usable);
			for (int k = 0; k < 4; k++) {
				if (out[k] > usable || (k && out[k] > out[k - 1]))
					return fail_to(why, len, "thresholds %" PRIu64 " %" PRIu64 " %"
						       PRIu64 " %" PRIu64 " for usable %" PRIu64, out[0],
						       out[1], out[2], out[3], usable);
				if (fabs((double)out[k] - own[k]) > (double)tolerance(cfg, usable))
					return fail_to(why, len, "threshold %d: %" PRIu64 ", profile "
						       "says %.0f", k, out[k], own[k]);
			}
		}
	}

	{
		struct reclaim_estimator est;
		memset(&est, CANARY, sizeof(est));
		/* estimator_init reads struct_size, the gains and the floor: it must
		 * refuse those when bad, and may refuse the config's other errors. */
		int own_bad = 0, own_amb = 0;
		r2 = reclaim_estimator_init(&est, sizeof(est), cfg);
		for (size_t i = 0; i < nr; i++) {
			if (strcmp(rules[i].name, "struct_size") &&
			    strcmp(rules[i].name, "estimator_fast_gain") &&
			    strcmp(rules[i].name, "estimator_slow_gain") &&
			    strcmp(rules[i].name, "active_floor"))
				continue;
			own_bad |= rules[i].bad == 1 && !(rules[i].codes & BIT(r2 ? r2 : -31));
			own_amb |= rules[i].codes & BIT(r2 ? r2 : -31) ? 1 : 0;
		}
		if (r2 != r && (own_bad || (r2 != RECLAIM_OK && !own_amb)))
			return fail_to(why, len, "estimator_init %d but config_check %d", r2, r);
		if (r2 == RECLAIM_OK) {
			static const uint32_t touched[6] = {0, 100, 3, 50, 0, 100};
			for (int k = 0; k < 6; k++) {
				double fr;
				if (reclaim_estimator_period(&est, 100, touched[k]) != RECLAIM_OK ||
				    reclaim_estimator_progress(&est, 100, touched[5 - k]) != RECLAIM_OK)
					return fail_to(why, len, "estimator rejected a valid sample");
				fr = reclaim_estimator_fraction(&est);
				if (!(fr >= cfg->active_floor && fr <= 1))
					return fail_to(why, len, "estimator fraction %g outside [%g, 1]",
						       fr, cfg->active_floor);
			}
		} else if (!all_canary(&est, sizeof(est), 0)) {
			return fail_to(why, len, "estimator_init failed but wrote the estimator");
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Byte-decoded scenarios                                                   */

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t
u8(struct rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

static uint64_t
u16(struct rd *r)
{
	uint64_t lo = u8(r);
	return lo | (uint64_t)u8(r) << 8;
}

static uint64_t
u64raw(struct rd *r)
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | u8(r);
	return x;
}

static double
hostile_double(struct rd *r)
{
	static const double v[8] = {0.0, 1.0, -0.5, 2.0, 0.999999, 1e-300, 1e300, -0.0};
	uint8_t b = u8(r);
	uint64_t bits;
	double x;

	switch (b % 4) {
	case 0:
		return NAN;
	case 1:
		return b & 4 ? INFINITY : -INFINITY;
	case 2:
		bits = u64raw(r);
		memcpy(&x, &bits, sizeof(x));
		return x;
	default:
		return v[(b >> 2) % 8];
	}
}

static uint64_t
hostile_u64(struct rd *r, uint64_t ref)
{
	uint8_t b = u8(r);

	switch (b % 8) {
	case 0:
		return UINT64_MAX;
	case 1:
		return UINT64_MAX - (b >> 3);
	case 2:
		return add_sat(ref, ref);
	case 3:
		return add_sat(ref, 1 + (b >> 3));
	case 4:
		return 0;
	case 5:
		return u64raw(r);
	case 6:
		return 1ull << 63;
	default:
		return ref;
	}
}

/* Overwrites config fields selected by a mask with mostly valid values. */
static void
decode_config(struct rd *r, struct reclaim_config *c, int hostile)
{
	uint8_t m1 = u8(r), m2 = u8(r);

	if (m1 & 0x01)
		c->flags = u8(r) & (m2 & 0x80 ? 0xFFu : KNOWN_CONFIG_FLAGS);
	if (m1 & 0x02) {
		double lo = (1 + u8(r)) / 4096.0;
		c->threshold_low = lo;
		c->threshold_hard = lo += (1 + u8(r)) / 4096.0;
		c->threshold_soft = lo += (1 + u8(r)) / 4096.0;
		c->threshold_high = lo + (1 + u8(r)) / 4096.0;
	}
	if (m1 & 0x04)
		c->hysteresis = u8(r) / 2048.0;
	if (m1 & 0x08)
		c->idle_tax = u8(r) / 256.0;
	if (m1 & 0x10)
		c->balloon_max_fraction = u8(r) / 255.0;
	if (m1 & 0x20) {
		c->guest_margin_bytes = u8(r) * 1048576ull;
		c->page_size = 512ull << (u8(r) % 8);
		c->guest_margin_fraction = u8(r) / 1024.0;
	}
	if (m1 & 0x40)
		c->deflate_budget_bytes = u8(r) * 4194304ull;
	if (m1 & 0x80) {
		c->balloon_min_rate = (1 + u8(r)) * 262144ull;
		c->balloon_window_ns = (1 + u8(r)) * 250000000ull;
		c->balloon_backoff_ns = (1 + u8(r)) * 1000000000ull;
		c->balloon_horizon_ns = (1 + u8(r)) * 100000000ull;
		c->balloon_default_rate = (1 + u8(r)) * 1048576ull;
		c->stats_max_age_ns = (1 + u8(r)) * 250000000ull;
	}
	if (m2 & 0x01)
		c->compress_max_fraction = u8(r) / 255.0;
	if (m2 & 0x02)
		c->threshold_base = u8(r) & 1;
	if (m2 & 0x08) { /* 0 switches each off */
		c->absent_grace_ns = u8(r) * 1000000000ull;
		c->max_block_ns = u8(r) * 250000000ull;
		c->distress_horizon_ns = u8(r) * 500000000ull;
		c->swap_retry_ns = u8(r) * 1000000000ull;
		c->demand_memory_ns = u8(r) * 30000000000ull;
	}
	/* hostile: one raw field */
	if (hostile && (m2 & 0x04)) {
		uint8_t which = u8(r);
		switch (which % 12) {
		case 0: c->threshold_high = hostile_double(r); break;
		case 1: c->threshold_soft = hostile_double(r); break;
		case 2: c->threshold_low = hostile_double(r); break;
		case 3: c->hysteresis = hostile_double(r); break;
		case 4: c->idle_tax = hostile_double(r); break;
		case 5: c->balloon_max_fraction = hostile_double(r); break;
		case 6: c->estimator_fast_gain = hostile_double(r); break;
		case 7: c->active_floor = hostile_double(r); break;
		case 8: c->page_size = hostile_u64(r, c->page_size); break;
		case 9: c->reserved0 = u8(r); break;
		case 10: c->threshold_base = u8(r); break;
		default:
			if (which < 192) {
				c->struct_size = (uint32_t)hostile_u64(r, c->struct_size);
				break;
			}
			switch (u8(r) % 12) {
			case 0: c->reserved1 = u8(r); break;
			case 1: c->balloon_default_rate = hostile_u64(r, 0); break;
			case 2: c->sample_period_ns = hostile_u64(r, 0); break;
			case 3: c->estimator_slow_gain = hostile_double(r); break;
			case 4: c->compress_max_fraction = hostile_double(r); break;
			case 5: c->absent_grace_ns = hostile_u64(r, 0); break;
			case 6: c->max_block_ns = hostile_u64(r, 0); break;
			case 7: c->distress_horizon_ns = hostile_u64(r, 0); break;
			case 8: c->swap_retry_ns = hostile_u64(r, 0); break;
			case 9: c->demand_memory_ns = hostile_u64(r, 0); break;
			case 10: c->guest_margin_fraction = hostile_double(r); break;
			default: c->sample_pages = (uint32_t)hostile_u64(r, 0); break;
			}
			break;
		}
	}
}

struct world {
	struct rd rd;
	struct reclaim_config cfg;
	struct oracle o;
	struct reclaim_policy *p, *twin;
	struct reclaim_host host;
	struct reclaim_vm_stats vms[ORACLE_MAX_VMS];
	struct reclaim_decision dec[ORACLE_MAX_VMS];
	struct reclaim_summary sum;
	size_t n, capacity;
	int have_dec, hostile;
	uint64_t next_id;
	uint8_t hdr;
};

static void
decode_vm(struct world *w, struct reclaim_vm_stats *v)
{
	static const uint64_t shares[8] = {0, 1, 500, 1000, 1000, 2000, 4000, 100000};
	struct rd *r = &w->rd;
	uint64_t usable = w->host.total_bytes - w->host.reserved_bytes;
	uint8_t fl = u8(r), b;

	*v = (struct reclaim_vm_stats)RECLAIM_VM_STATS_INIT;
	v->id = w->next_id++ * 7919u;
	v->flags = (fl & 1 ? 0 : RECLAIM_VM_BALLOON) | (fl & 2 ? 0 : RECLAIM_VM_GUEST_STATS) |
		   ((fl & 0x0C) == 0x0C ? RECLAIM_VM_IDLE_TAX : 0) |
		   (fl & 0x10 ? RECLAIM_VM_COMPRESS : 0);
	v->configured_bytes = 1 + scale(usable, 1 + u8(r), 1024);
	v->consumed_bytes = scale(v->configured_bytes, u8(r), 240);
	v->reservation_bytes = scale(v->configured_bytes, u8(r) & 0x7F, 512);
	b = u8(r);
	if (b & 1)
		v->limit_bytes = max64(v->reservation_bytes, scale(v->configured_bytes, b, 255));
	b = u8(r);
	v->shares = b & 0x80 ? u16(r) : shares[b % 8];
	v->active_bytes = scale(v->consumed_bytes, u8(r), 255);
	v->balloon_bytes = scale(v->configured_bytes, u8(r), 512);
	b = u8(r);
	if (b & 1)
		v->balloon_cap_bytes = scale(v->configured_bytes, b, 255);
	v->guest_free_bytes = scale(v->configured_bytes, u8(r), 255);
	v->guest_swap_free_bytes = scale(v->configured_bytes, u8(r), 255);
	v->swapped_bytes = scale(v->configured_bytes, u8(r), 512);
	v->stats_time_ns = sub_sat(w->host.now_ns, u8(r) * 100000000ull);
	v->idle_tax = u8(r) / 256.0;
	if (fl & 0x10) {
		v->compress_used_bytes = scale(v->configured_bytes, u8(r), 1024);
		b = u8(r);
		v->compress_max_bytes = b & 1 ? 0 : scale(v->configured_bytes, b, 512);
	}
	if (w->hostile && (fl & 0x20)) {
		int k = 1 + (fl >> 6);
		while (k--) {
			uint8_t f = u8(r);
			switch (f % 14) {
			case 0: v->guest_free_bytes = hostile_u64(r, v->configured_bytes); break;
			case 1: v->guest_swap_free_bytes = hostile_u64(r, v->configured_bytes); break;
			case 2: v->active_bytes = hostile_u64(r, v->consumed_bytes); break;
			case 3: v->balloon_bytes = hostile_u64(r, v->configured_bytes); break;
			case 4: v->stats_time_ns = add_sat(w->host.now_ns, 1 + u16(r) * 1000000ull); break;
			case 5: v->consumed_bytes = hostile_u64(r, v->configured_bytes); break;
			case 6: v->reservation_bytes = hostile_u64(r, v->reservation_bytes); break;
			case 7: v->limit_bytes = hostile_u64(r, v->reservation_bytes); break;
			case 8: v->configured_bytes = hostile_u64(r, 0); break;
			case 9: v->idle_tax = hostile_double(r); v->flags |= RECLAIM_VM_IDLE_TAX; break;
			case 10: v->flags = u8(r); break;
			case 11: v->swapped_bytes = hostile_u64(r, v->configured_bytes); break;
			case 12: v->shares = hostile_u64(r, v->shares); break;
			default: v->compress_used_bytes = hostile_u64(r, v->configured_bytes); break;
			}
		}
	}
}

static void
decode_free(struct world *w)
{
	struct reclaim_host *h = &w->host;
	uint64_t usable = h->total_bytes - h->reserved_bytes;
	uint8_t b = u8(&w->rd);

	switch (b >> 6) {
	case 0:
	case 1:
		h->free_bytes = scale(usable, b & 0x3F, 512);
		break;
	case 2:
		h->free_bytes = scale(usable, b & 0x3F, 63);
		break;
	default:
		h->free_bytes = scale(usable, b & 0x3F, 4096);
		if (w->hostile && (b & 0x3F) == 0x3F)
			h->free_bytes = hostile_u64(&w->rd, h->total_bytes);
		break;
	}
}

/* The guests and the host react to the last decisions, then time passes. */
static void
evolve(struct world *w)
{
	struct rd *r = &w->rd;
	uint8_t t = u8(r), churn;

	if (w->hostile && t == 255)
		w->host.now_ns = sub_sat(w->host.now_ns, 1000000000ull);
	else if (w->hostile && t == 254) /* a bad clock reading */
		w->host.now_ns = hostile_u64(r, w->host.now_ns);
	else
		w->host.now_ns += t * 250000000ull;
	decode_free(w);
	for (size_t i = 0; w->have_dec && i < w->n; i++) {
		struct reclaim_vm_stats *v = &w->vms[i];
		const struct reclaim_decision *d = &w->dec[i];
		uint8_t e = u8(r);
		uint64_t cur = v->balloon_bytes, bt = d->balloon_target_bytes;

		if (d->id != v->id)
			continue;
		if (bt > cur) {
			uint64_t got = scale(bt - cur, e, 255);
			v->balloon_bytes += got;
			v->consumed_bytes = sub_sat(v->consumed_bytes, got);
		} else {
			uint64_t back = scale(cur - bt, e, 255);
			v->balloon_bytes -= back;
			v->consumed_bytes = add_sat(v->consumed_bytes, back);
		}
		if (!(e & 1)) {
			uint64_t out = min64(v->consumed_bytes, add_sat(d->swap_bytes, d->compress_bytes));
			v->consumed_bytes -= out;
			v->swapped_bytes = add_sat(v->swapped_bytes, d->swap_bytes);
			v->compress_used_bytes = add_sat(v->compress_used_bytes, d->compress_bytes);
		}
		if (e & 2) {
			v->consumed_bytes = scale(v->configured_bytes, u8(r), 240);
			v->active_bytes = scale(v->consumed_bytes, u8(r), 255);
		}
		if (e & 4) {
			v->stats_time_ns = sub_sat(w->host.now_ns, u8(r) * 50000000ull);
			v->guest_free_bytes = scale(v->configured_bytes, u8(r), 255);
		}
		if ((e & 0x18) == 0x18) {
			/* memory hot-plug (said so, or not: then it is a new VM) */
			uint64_t usable = w->host.total_bytes - w->host.reserved_bytes;

			v->configured_bytes = 1 + scale(usable, 1 + u8(r), 1024);
			v->consumed_bytes = min64(v->consumed_bytes, v->configured_bytes);
			v->balloon_bytes = min64(v->balloon_bytes, v->configured_bytes);
			v->guest_free_bytes = min64(v->guest_free_bytes, v->configured_bytes);
			v->flags = (v->flags & ~(uint32_t)RECLAIM_VM_RESIZED) |
				   (e & 0x20 ? RECLAIM_VM_RESIZED : 0);
		}
	}
	churn = u8(r);
	if (churn % 8 == 0 && w->n > 0) {
		size_t k = (churn / 8) % w->n;
		memmove(&w->vms[k], &w->vms[k + 1], (w->n - k - 1) * sizeof(w->vms[0]));
		w->n--;
		w->have_dec = 0;
	} else if (churn % 8 == 1 && w->n < ORACLE_MAX_VMS && w->n <= w->capacity) {
		decode_vm(w, &w->vms[w->n++]);
		w->have_dec = 0;
	} else if (churn % 8 == 2 && w->hostile && w->n > 1) {
		w->vms[w->n - 1].id = w->vms[0].id; /* a duplicate id */
	}
}

/*
 * reclaim_decision_format(): "Like snprintf: writes at most len bytes
 * including the NUL and returns the length the full line needs", one line.
 */
static int
check_format(char *why, size_t len, const struct reclaim_decision *d, size_t k)
{
	char buf[1024];
	int need = reclaim_decision_format(NULL, 0, d), got;
	size_t end;

	if (d->struct_size != sizeof(*d))
		return need == RECLAIM_E_VERSION ? 0
			: fail_to(why, len, "format of a decision of size %u: %d", d->struct_size,
				  need);
	if (need < 0 || (size_t)need >= sizeof(buf) - 64)
		return fail_to(why, len, "format needs %d bytes", need);
	k %= (size_t)need + 2;
	memset(buf, CANARY, sizeof(buf));
	got = reclaim_decision_format(k ? buf : NULL, k, d);
	if (got != need)
		return fail_to(why, len, "format into %zu bytes returned %d, not %d", k, got, need);
	if (k == 0)
		return all_canary(buf, sizeof(buf), 0) ? 0
			: fail_to(why, len, "format with len 0 wrote");
	end = (size_t)need < k - 1 ? (size_t)need : k - 1;
	if (buf[end] != 0 || strlen(buf) != end || memchr(buf, '\n', end) ||
	    !all_canary(buf + k, sizeof(buf) - k, 0))
		return fail_to(why, len, "format into %zu bytes: not one NUL-terminated line of %zu",
			       k, end);
	return 0;
}

static int
twin_decide(struct world *w, char *why, size_t len)
{
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[ORACLE_MAX_VMS];
	int r = reclaim_decide(w->twin, &w->host, w->n ? w->vms : NULL, w->n, 0, &s, d);

	if (r != RECLAIM_OK)
		return fail_to(why, len, "twin policy: decide %d where the first said OK", r);
	if (memcmp(&s, &w->sum, sizeof(s)) || memcmp(d, w->dec, w->n * sizeof(d[0])))
		return fail_to(why, len, "twin policy fed the same calls decided differently");
	return 0;
}

static int
run_apply(struct world *w, char *why, size_t len, struct oracle_stats *st)
{
	struct rd *r = &w->rd;
	uint8_t mode = u8(r), fail[24], nf = u8(r) % 24;
	struct oracle_adapter *a, *b;
	int status, status2, rc = 0;

	for (size_t i = 0; i < nf; i++)
		fail[i] = u8(r);
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return fail_to(why, len, "out of memory in the oracle");
	}
	oracle_adapter_init(a, fail, nf);
	if (mode & 0x01) {
		if (mode & 0x02)
			a->ops.set_balloon = NULL;
		if (mode & 0x04)
			a->ops.swap_out = NULL;
		if (mode & 0x08)
			a->ops.block = NULL;
		if (mode & 0x10)
			a->ops.unblock = NULL;
	}
	if (mode & 0x20)
		a->ops.compress = NULL;
	if (w->hostile && mode == 0xFF)
		a->ops.version = 0;
	*b = *a;
	st->applies++;
	if (w->hostile && mode == 0x80) {
		/* decisions for VMs the policy never decided: carried out, not
		 * remembered (the oracle knows none of these ids either) */
		struct reclaim_decision foreign[ORACLE_MAX_VMS];
		memcpy(foreign, w->dec, w->n * sizeof(foreign[0]));
		for (size_t i = 0; i < w->n; i++)
			foreign[i].id = ~foreign[i].id;
		rc = oracle_apply(&w->o, &status, w->p, a, foreign, w->n)
			? fail_to(why, len, "%s", w->o.why) : 0;
		free(a);
		free(b);
		return rc;
	}
	if (oracle_apply(&w->o, &status, mode & 0x40 ? NULL : w->p, a, w->dec, w->n)) {
		rc = fail_to(why, len, "%s", w->o.why);
	} else {
		status2 = reclaim_apply(mode & 0x40 ? NULL : w->twin, &b->ops, b, w->dec, w->n, NULL, sizeof(struct reclaim_apply_result));
		if (status2 != status || b->n_calls != a->n_calls ||
		    memcmp(a->calls, b->calls, a->n_calls * sizeof(a->calls[0])))
			rc = fail_to(why, len, "apply with results NULL behaved differently");
	}
	free(a);
	free(b);
	return rc;
}

/* RECLAIM_ORACLE_TRACE: the config a scenario decoded, to write its test. */
static void
trace_config(const struct reclaim_config *c, unsigned profile)
{
	fprintf(stderr, "config: profile %u", profile);
	fprintf(stderr, " flags %" PRIu32, c->flags);
	fprintf(stderr, " threshold_base %" PRIu32, c->threshold_base);
	fprintf(stderr, " threshold_high %.17g", c->threshold_high);
	fprintf(stderr, " threshold_soft %.17g", c->threshold_soft);
	fprintf(stderr, " threshold_hard %.17g", c->threshold_hard);
	fprintf(stderr, " threshold_low %.17g", c->threshold_low);
	fprintf(stderr, " hysteresis %.17g", c->hysteresis);
	fprintf(stderr, " idle_tax %.17g", c->idle_tax);
	fprintf(stderr, " balloon_max_fraction %.17g", c->balloon_max_fraction);
	fprintf(stderr, " guest_margin_bytes %" PRIu64, c->guest_margin_bytes);
	fprintf(stderr, " page_size %" PRIu64, c->page_size);
	fprintf(stderr, " deflate_budget_bytes %" PRIu64, c->deflate_budget_bytes);
	fprintf(stderr, " balloon_min_rate %" PRIu64, c->balloon_min_rate);
	fprintf(stderr, " balloon_window_ns %" PRIu64, c->balloon_window_ns);
	fprintf(stderr, " balloon_backoff_ns %" PRIu64, c->balloon_backoff_ns);
	fprintf(stderr, " balloon_horizon_ns %" PRIu64, c->balloon_horizon_ns);
	fprintf(stderr, " balloon_default_rate %" PRIu64, c->balloon_default_rate);
	fprintf(stderr, " stats_max_age_ns %" PRIu64, c->stats_max_age_ns);
	fprintf(stderr, " sample_period_ns %" PRIu64, c->sample_period_ns);
	fprintf(stderr, " sample_pages %" PRIu32, c->sample_pages);
	fprintf(stderr, " estimator_fast_gain %.17g", c->estimator_fast_gain);
	fprintf(stderr, " estimator_slow_gain %.17g", c->estimator_slow_gain);
	fprintf(stderr, " active_floor %.17g", c->active_floor);
	fprintf(stderr, " compress_max_fraction %.17g", c->compress_max_fraction);
	fprintf(stderr, " absent_grace_ns %" PRIu64, c->absent_grace_ns);
	fprintf(stderr, " max_block_ns %" PRIu64, c->max_block_ns);
	fprintf(stderr, " distress_horizon_ns %" PRIu64, c->distress_horizon_ns);
	fprintf(stderr, " swap_retry_ns %" PRIu64, c->swap_retry_ns);
	fprintf(stderr, " demand_memory_ns %" PRIu64, c->demand_memory_ns);
	fprintf(stderr, " guest_margin_fraction %.17g", c->guest_margin_fraction);
	fprintf(stderr, "\n");
}

int
oracle_run_bytes(char *why, size_t len, struct oracle_stats *st, const uint8_t *data,
		 size_t size)
{
	struct world *w = calloc(1, sizeof(*w));
	struct rd *r;
	int status, rc = 0, ticks;

	if (!w)
		return fail_to(why, len, "out of memory in the oracle");
	r = &w->rd;
	*r = (struct rd){data, size, 0};
	w->hdr = u8(r);
	w->hostile = (w->hdr & 0x08) != 0;
	st->scenarios++;
	reclaim_config_init_profile(&w->cfg, sizeof(w->cfg), w->hdr % 3);
	if (w->hdr & 0x04)
		decode_config(r, &w->cfg, w->hostile);
	if (getenv("RECLAIM_ORACLE_TRACE"))
		trace_config(&w->cfg, w->hdr % 3);
	w->capacity = 1 + u8(r) % 16;
	status = reclaim_policy_new(&w->p, &w->cfg, w->capacity);
	if (status != reclaim_config_check(&w->cfg, NULL)) {
		rc = fail_to(why, len, "policy_new %d disagrees with config_check", status);
		goto out;
	}
	if (status != RECLAIM_OK) {
		rc = oracle_config(why, len, &w->cfg, NULL, 1ull << 34, 1ull << 30);
		goto out;
	}
	if (reclaim_policy_new(&w->twin, &w->cfg, w->capacity) != RECLAIM_OK) {
		rc = fail_to(why, len, "second policy_new failed");
		goto out;
	}
	oracle_init(&w->o, &w->cfg, w->capacity);

	w->host = (struct reclaim_host)RECLAIM_HOST_INIT;
	w->host.total_bytes = (1 + u16(r)) << 24;
	{
		uint8_t b = u8(r);
		w->host.reserved_bytes = b == 255 ? w->host.total_bytes
			: scale(w->host.total_bytes, b % 64, 256);
		if (b & 0x40) {
			w->host.flags |= RECLAIM_HOST_SWAP_BOUNDED;
			w->host.swap_free_bytes = scale(w->host.total_bytes, u8(r), 1024);
		}
	}
	w->host.now_ns = 1000000000000ull + u16(r) * 1000000ull;
	decode_free(w);
	w->n = u8(r) % (w->capacity + 2);
	if (w->n > ORACLE_MAX_VMS)
		w->n = ORACLE_MAX_VMS;
	for (size_t i = 0; i < w->n; i++)
		decode_vm(w, &w->vms[i]);
	if (w->hostile && (w->hdr & 0x10))
		w->host.total_bytes = hostile_u64(r, w->host.total_bytes);

	ticks = 1 + u8(r) % 8;
	for (int t = 0; t < ticks; t++) {
		if (t)
			evolve(w);
		st->decides++;
		if (oracle_decide(&w->o, &status, &w->sum, w->dec, w->p, &w->host,
				  w->n ? w->vms : NULL, w->n)) {
			rc = fail_to(why, len, "tick %d: %s", t, w->o.why);
			goto out;
		}
		w->have_dec = status == RECLAIM_OK;
		if (status != RECLAIM_OK) {
			st->decide_errors++;
			continue;
		}
		st->state_count[w->sum.state]++;
		if ((rc = twin_decide(w, why, len)))
			goto out;
		for (size_t i = 0; i < w->n; i++)
			if ((rc = check_format(why, len, &w->dec[i], u8(r))))
				goto out;
		if (w->hostile && (u8(r) & 3) == 0) {
			/* any bytes at all, with a valid size */
			struct reclaim_decision junk;
			for (size_t i = 0; i < sizeof(junk); i++)
				((unsigned char *)&junk)[i] = u8(r);
			junk.struct_size = u8(r) & 1 ? (uint32_t)sizeof(junk) : junk.struct_size;
			if ((rc = check_format(why, len, &junk, u8(r))))
				goto out;
		}
		if (w->hdr & 0x20) {
			if ((rc = run_apply(w, why, len, st)))
				goto out;
		}
		if ((w->hdr & 0x40) && (u8(r) & 1)) {
			uint64_t usable = w->host.total_bytes - w->host.reserved_bytes;
			st->plans++;
			if (oracle_plan(&w->o, &status, w->p, &w->host, w->n ? w->vms : NULL, w->n,
					scale(usable, u8(r), 128))) {
				rc = fail_to(why, len, "tick %d: %s", t, w->o.why);
				goto out;
			}
		}
		if ((w->hdr & 0x80) && u8(r) % 4 == 0) {
			struct reclaim_config nc;
			int r1, r2;
			reclaim_config_init_profile(&nc, sizeof(nc), u8(r) % 3);
			decode_config(r, &nc, w->hostile);
			r1 = reclaim_policy_set_config(w->p, &nc);
			r2 = reclaim_policy_set_config(w->twin, &nc);
			if (r1 != reclaim_config_check(&nc, NULL) || r2 != r1) {
				rc = fail_to(why, len, "set_config %d/%d, config_check %d", r1, r2,
					     reclaim_config_check(&nc, NULL));
				goto out;
			}
			if (r1 == RECLAIM_OK)
				w->o.cfg = nc;
		}
	}
out:
	reclaim_policy_destroy(w->p);
	reclaim_policy_destroy(w->twin);
	free(w);
	return rc;
}

int
oracle_run_config_bytes(char *why, size_t len, const uint8_t *data, size_t size)
{
	struct rd r = {data, size, 0};
	struct reclaim_config c;
	struct reclaim_policy *p = NULL;
	uint8_t hdr = u8(&r);
	uint64_t total, reserved;
	int rc;

	if (reclaim_config_init_profile(&c, sizeof(c), hdr % 4) != RECLAIM_OK) {
		if (hdr % 4 != 3)
			return fail_to(why, len, "config_init_profile(%d) failed", hdr % 4);
		reclaim_config_init(&c, sizeof(c));
	}
	decode_config(&r, &c, 1);
	for (int k = u8(&r) % 4; k > 0; k--)
		decode_config(&r, &c, 1);
	if (hdr & 0x10) {
		total = hostile_u64(&r, 1ull << 36);
		reserved = hostile_u64(&r, total / 2);
	} else {
		total = (1 + u16(&r)) << 24;
		reserved = scale(total, u8(&r), 255);
	}
	if (hdr & 0x20) {
		struct reclaim_config d;
		reclaim_config_init(&d, sizeof(d));
		if (reclaim_policy_new(&p, &d, 4) != RECLAIM_OK)
			return fail_to(why, len, "policy_new with defaults failed");
	}
	rc = oracle_config(why, len, &c, p, total, reserved);
	reclaim_policy_destroy(p);
	return rc;
}
