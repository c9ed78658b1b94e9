/* SPDX-License-Identifier: MIT */
/*
 * One policy step, stage by stage (reclaim-private.h lists the files in
 * order): validate the call; the host's state and the mode it asks for;
 * per VM, its history carried to this tick, its view and its bounds; the
 * common level; targets in whole pages; the decisions; the host-swap
 * bound; the summary; and, unless this is a dry run or admission planning,
 * the commit of the new state and history. Everything that can fail is
 * checked before the first write; nothing here allocates or reads a clock.
 */
#include "reclaim-private.h"

/* The call's inputs as the stages read them. */
struct call {
	struct reclaim_host host; /* at the library's layout */
	struct vm_array vms;
	size_t dsize;             /* the caller's decision size */
	size_t ssize;             /* the caller's summary size */
};

static int
arg_fault(struct fault *f, int status, const char *field)
{
	return fault_at(f, status, RECLAIM_WHERE_ARGUMENT, field);
}

/* The arguments and the host; each VM is checked as the step reads it. */
static int
check_call(struct call *c, struct fault *f, struct reclaim_policy *p,
	   const struct reclaim_host *host, const struct reclaim_vm_stats *vms, size_t n,
	   uint32_t flags, const struct reclaim_summary *summary,
	   const struct reclaim_decision *decisions)
{
	int rc;

	if (!host)
		return arg_fault(f, RECLAIM_E_NULL, "host");
	if (!summary)
		return arg_fault(f, RECLAIM_E_NULL, "summary");
	if (n && !vms)
		return arg_fault(f, RECLAIM_E_NULL, "vms");
	if (n && !decisions)
		return arg_fault(f, RECLAIM_E_NULL, "decisions");
	if (!abi_known(ABI_SUMMARY, summary->struct_size))
		return arg_fault(f, RECLAIM_E_VERSION, "summary.struct_size");
	if (!abi_known(ABI_DECISION, summary->decision_size))
		return arg_fault(f, RECLAIM_E_VERSION, "summary.decision_size");
	if (n > p->capacity)
		return arg_fault(f, RECLAIM_E_CAPACITY, "n_vms");
	if (flags & ~(uint32_t)RECLAIM_DECIDE_DRY_RUN)
		return arg_fault(f, RECLAIM_E_INVAL, "flags");
	c->dsize = summary->decision_size;
	c->ssize = summary->struct_size;
	rc = validate_host(&c->host, host, f);
	if (rc)
		return rc;
	rc = validate_array(&c->vms, vms, n, f);
	if (rc)
		return rc;
	/* The outputs are written while the VMs are still read (and the
	 * decisions serve as scratch before that): no two may share memory.
	 * (n is within the capacity: the products cannot overflow.) */
	if (mem_overlap(decisions, n * c->dsize, summary, c->ssize) ||
	    mem_overlap(decisions, n * c->dsize, vms, n * c->vms.stride))
		return arg_fault(f, RECLAIM_E_INVAL, "decisions");
	if (mem_overlap(summary, c->ssize, vms, n * c->vms.stride))
		return arg_fault(f, RECLAIM_E_INVAL, "summary");
	return RECLAIM_OK;
}

/*
 * The VM as the stages read it: consumption above the configured size is
 * the VMM's overhead counted in, which no balloon or limit can take back,
 * so it reads as the configured size.
 */
static const struct reclaim_vm_stats *
vm_clamped(struct reclaim_vm_stats *tmp, const struct reclaim_vm_stats *vm)
{
	if (vm->consumed_bytes <= vm->configured_bytes)
		return vm;
	if (vm != tmp)
		*tmp = *vm;
	tmp->consumed_bytes = tmp->configured_bytes;
	return tmp;
}

static const struct reclaim_vm_stats *
vm_get(struct reclaim_vm_stats *tmp, const struct vm_array *a, size_t i)
{
	return vm_clamped(tmp, vm_read(tmp, a, i));
}

/* How many VMs ahead the pass asks for history lines (VMs out of order). */
#define AHEAD 8

/*
 * Per VM, in one pass over the caller's array: its checks, then its history
 * carried to this tick, its view and its bounds. A fault stops the pass;
 * what it wrote by then (the next history table, the work array) is
 * scratch until the commit, so the policy is untouched.
 */
static int
prepare(struct reclaim_policy *p, const struct call *c, struct tick *t, struct sums *s,
	struct fault *f)
{
	const struct reclaim_config *cfg = &p->cfg;
	const struct hist_table *cur = &p->hist[p->cur];
	struct hist_table *next = &p->hist[!p->cur];
	struct reclaim_vm_stats tmp;
	struct vm_check k;
	size_t i, n = c->vms.n;
	int rc;

	vm_check_begin(&k, next, cur, p->mask, n, c->host.free_bytes);
	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *vm = vm_read(&tmp, &c->vms, i);
		const struct vm_hist *old = NULL;
		uint64_t b;
		struct vm_work *w = &p->work[i];
		struct vm_hist *h = &next->entries[i];
		struct vm_room room;
		uint16_t blocked = 0;

		if (!k.same_order) {
			/* (while the old entries come in their order, only the
			 * new index is looked up) */
			bool in_turn = k.streak >= 2;

			if (i + 2 * AHEAD < n)
				hist_prefetch_slots(in_turn ? NULL : cur, next, p->mask,
						    vm_at(&c->vms, i + 2 * AHEAD)->id);
			if (i + AHEAD < n && !in_turn)
				hist_prefetch_entry(cur, p->mask, vm_at(&c->vms, i + AHEAD)->id);
		}
		rc = vm_check(&k, f, next, cur, p->mask, &c->vms, i, vm, &old);
		if (rc)
			return rc;
		vm = vm_clamped(&tmp, vm);
		b = vm_balloon(vm);
		/* An id reused by a VM of another size is another VM, unless
		 * the caller says it was resized. It keeps one thing: a VM we
		 * blocked under this id is unblocked, should the caller have
		 * resized it without saying so. (Size 0: an entry an apply made
		 * for a VM it blocked, whose size it did not know.) */
		if (old && old->configured != vm->configured_bytes && old->configured != 0 &&
		    !(vm->flags & RECLAIM_VM_RESIZED)) {
			blocked = old->flags & HIST_BLOCKED;
			old = NULL;
		}
		h->id = vm->id;
		hist_advance(h, old, old && (size_t)(old - cur->entries) >= cur->present, cfg, vm, b,
			     t->now);
		h->configured = vm->configured_bytes;
		h->flags |= blocked;
		view_vm(w, &room, s, cfg, t, vm, h, b);
		w->asked_before = old ? old->asked : b;
		wl_bounds(w, &room, s, cfg, t, vm);
	}
	rc = vm_check_end(&k, f, next, n);
	t->same_order = k.same_order;
	return rc;
}

static struct reclaim_decision *
decision_at(struct reclaim_decision *out, size_t dsize, size_t i)
{
	return (void *)((char *)out + i * dsize);
}

static int
step(struct reclaim_policy *p, const struct reclaim_host *host,
     const struct reclaim_vm_stats *vms, size_t n, uint32_t flags, bool admission,
     uint64_t new_vm_bytes, struct reclaim_summary *summary, struct reclaim_decision *decisions)
{
	const struct reclaim_config *cfg;
	const struct hist_table *cur;
	struct hist_table *next;
	struct reclaim_vm_stats tmp;
	struct fault f = {0};
	struct reclaim_summary sum;
	struct call c;
	struct tick t;
	struct sums s;
	struct totals tot;
	uint64_t need_solver = 0;
	uint32_t sum_flags = 0;
	double lambda = 0.0, slope = 0.0;
	bool shortfall = false;
	size_t i;

	if (check_call(&c, &f, p, host, vms, n, flags, summary, decisions))
		return policy_fail(p, &f);
	cfg = &p->cfg;
	cur = &p->hist[p->cur];
	next = &p->hist[!p->cur];

	tick_begin(&t, cfg, &c.host, p->state, admission, new_vm_bytes);
	memset(&s, 0, sizeof(s));
	s.level.guess = p->lambda; /* where the solver starts */
	s.level.guessed = true;
	if (prepare(p, &c, &t, &s, &f))
		return policy_fail(p, &f);

	/* The common level. */
	if (mode_reclaims(t.mode)) {
		uint64_t need_rem = sat_sub(sat_sub(sat_add(t.need, s.release), s.pending), s.limit);

		need_solver = sat_sub(need_rem, s.fixed_reclaim);
		shortfall = sat_sub(sat_add(sat_add(s.reclaimable, s.limit), s.pending), s.release) <
			    t.need;
		lambda = wl_solve_scratch(p->work, n, (double)s.u_free - (double)need_solver,
					  p->lambda, &s.level, p->active, &slope);
	} else {
		/* Above the high threshold: VMs short of memory first get what
		 * they lack from free memory (within the deflation budget, and
		 * never into the soft state), then deflation spends what is left
		 * of the budget by the level. If that takes the host below the
		 * high threshold, early ballooning follows by the usual rules,
		 * and the level then decides who gives. */
		uint64_t budget = cfg->deflate_budget_bytes;

		if (s.short_want)
			budget -= wl_give_short(p->work, n, &s,
						min_u64(budget, sat_sub(t.free, t.thr[RECLAIM_STATE_SOFT])),
						cfg->page_size);
		if (t.mode == MODE_DEFLATE) {
			t.deflate_left = min_u64(
				sat_sub(t.free, sat_add(t.thr[RECLAIM_STATE_HIGH], t.margin)), budget);
			lambda = wl_solve_scratch(p->work, n, s.lo_free + (double)t.deflate_left,
						  p->lambda, &s.level, p->active, &slope);
		}
	}
	pages_place(p->work, n, &t, cfg->page_size, lambda, slope, need_solver, s.on, !s.grows,
		    p->active, decisions, c.dsize);

	/* The decisions, then what host swap allows. */
	memset(&tot, 0, sizeof(tot));
	tot.may_grow = s.grows; /* (no VM is rebalanced where none may grow) */
	for (i = 0; i < n; i++)
		decision_write(decision_at(decisions, c.dsize, i), c.dsize, &next->entries[i],
			       &p->work[i], cfg, vm_get(&tmp, &c.vms, i), &t, shortfall, &tot);
	actions_bound_swap(cfg, &c.host, decisions, c.dsize, n, p->work, next->entries, &tot,
			   &sum_flags);
	actions_bound_rebalance(cfg, decisions, c.dsize, n, p->work, &c.vms, next->entries, &tot);

	/* Short when the bounds leave too little to reclaim, or when what the
	 * plan delivers falls short: a VM whose balloon cannot take its share
	 * (its guest's reports) is not made up for by the others. Deflation
	 * counts against it as far as the host must back it again: a balloon
	 * that says it is fuller than it can be gives nothing back. */
	if (mode_reclaims(t.mode) && !shortfall &&
	    sat_sub(sat_add(sat_add(tot.balloon, tot.swap), sat_add(tot.compress, s.pending)),
		    tot.deflate_backed) < t.need) {
		shortfall = true;
		for (i = 0; i < n; i++)
			decision_at(decisions, c.dsize, i)->reasons |= RECLAIM_REASON_SHORTFALL;
	}
	decision_summary(&sum, &t, &s, &tot, cfg, lambda, shortfall, sum_flags);
	sum.struct_size = (uint32_t)c.ssize;
	sum.decision_size = (uint32_t)c.dsize;
	memcpy(summary, &sum, c.ssize);

	if (!admission && !(flags & RECLAIM_DECIDE_DRY_RUN)) {
		if (!hist_carry_absent(next, cur, p->mask, p->capacity, cfg, t.now,
				       t.same_order)) {
			/* The index did not change: hand it to the new table. */
			uint32_t *slots = p->hist[0].slots;

			p->hist[0].slots = p->hist[1].slots;
			p->hist[1].slots = slots;
		}
		p->cur = !p->cur;
		p->state = t.state;
		p->lambda = lambda;
	}
	return RECLAIM_OK;
}

/* One call at a time per policy: another thread, or an adapter callback of
 * an apply on this policy, finds it busy and changes nothing. */
static int
guarded_step(struct reclaim_policy *p, const struct reclaim_host *host,
	     const struct reclaim_vm_stats *vms, size_t n, uint32_t flags, bool admission,
	     uint64_t new_vm_bytes, struct reclaim_summary *summary,
	     struct reclaim_decision *decisions)
{
	int rc;

	if (!p)
		return RECLAIM_E_NULL;
	if (!policy_enter(p))
		return RECLAIM_E_BUSY;
	rc = step(p, host, vms, n, flags, admission, new_vm_bytes, summary, decisions);
	policy_leave(p);
	return rc;
}

int
reclaim_decide(struct reclaim_policy *policy, const struct reclaim_host *host,
	       const struct reclaim_vm_stats *vms, size_t n_vms, uint32_t flags,
	       struct reclaim_summary *summary, struct reclaim_decision *decisions)
{
	return guarded_step(policy, host, vms, n_vms, flags, false, 0, summary, decisions);
}

int
reclaim_plan_admission(struct reclaim_policy *policy, const struct reclaim_host *host,
		       const struct reclaim_vm_stats *vms, size_t n_vms, uint64_t new_vm_bytes,
		       struct reclaim_summary *summary, struct reclaim_decision *decisions)
{
	return guarded_step(policy, host, vms, n_vms, RECLAIM_DECIDE_DRY_RUN, true, new_vm_bytes,
			    summary, decisions);
}
