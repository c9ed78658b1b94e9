/* SPDX-License-Identifier: MIT */
/*
 * Carrying decisions out: walk them and call the adapter. Nothing here
 * decides; failures are recorded (per VM in the results, and in the policy's
 * history so the next decide retries or escalates) and never stop the rest.
 */
#include <errno.h>

#include "reclaim-private.h"

#define NOT_ASKED 1
#define ACTIONS_KNOWN                                                                      \
	(RECLAIM_ACTION_BALLOON | RECLAIM_ACTION_SWAP | RECLAIM_ACTION_COMPRESS |           \
	 RECLAIM_ACTION_BLOCK | RECLAIM_ACTION_UNBLOCK)
#define BLOCK_BOTH (RECLAIM_ACTION_BLOCK | RECLAIM_ACTION_UNBLOCK)

static int32_t
call1(int (*op)(void *, uint64_t), void *user_data, uint64_t id, uint32_t *flags)
{
	int rc;

	if (!op) {
		*flags |= RECLAIM_APPLY_SKIPPED;
		return -ENOSYS;
	}
	rc = op(user_data, id);
	return rc < 0 ? rc : 0;
}

static int32_t
call2(int (*op)(void *, uint64_t, uint64_t), void *user_data, uint64_t id, uint64_t arg,
      uint32_t *flags)
{
	int rc;

	if (!op) {
		*flags |= RECLAIM_APPLY_SKIPPED;
		return -ENOSYS;
	}
	rc = op(user_data, id, arg);
	return rc < 0 ? rc : 0;
}

/*
 * Remember failures so that the next decide asks again. An op the adapter
 * does not have (NULL) is reported but not retried: asking again each tick
 * would change nothing.
 */
static bool
swap_missing(int32_t status)
{
	return status == -ENOSYS || status == -EOPNOTSUPP || status == -ENOSPC ||
	       status == -ENOMEM || status == -ENODEV;
}

/*
 * @p swap_rc is what swap_out returned (NOT_ASKED if it was not called),
 * whichever bytes it carried: compressed pages that fell back to swap
 * fail with host swap as much as the swap itself.
 */
static void
record(struct reclaim_policy *policy, const struct reclaim_adapter *adapter,
       const struct reclaim_decision *d, size_t index, const struct reclaim_apply_result *r,
       int32_t swap_rc)
{
	bool block_op = (d->actions & RECLAIM_ACTION_BLOCK) ? adapter->block != NULL
							    : adapter->unblock != NULL;
	struct vm_hist *h;

	if (!policy)
		return;
	/* Decisions usually come in the order decide wrote them. */
	h = index < policy->hist[policy->cur].present &&
			    policy->hist[policy->cur].entries[index].id == d->id
		    ? &policy->hist[policy->cur].entries[index]
		    : hist_find(&policy->hist[policy->cur], policy->mask, d->id);
	/* A VM it knows nothing of (the decisions of a dry run, for a VM new
	 * since the last decide) that it has just blocked: remembered, or the
	 * next decide would never unblock it. */
	if (!h && r->block_status == 0 && (d->actions & RECLAIM_ACTION_BLOCK))
		h = hist_remember_blocked(&policy->hist[policy->cur], policy->mask,
					  policy->capacity, d->id);
	if (!h)
		return;
	if (r->balloon_status < 0 && adapter->set_balloon)
		h->flags |= HIST_RESEND;
	/* Host swap that is not there (no op, no device, no room) or that
	 * failed twice in a row cannot be counted on: balloons and
	 * compression take the VM's share until swap_retry_ns has passed. A
	 * single other failure is planned again at the next decide. */
	if (swap_rc < 0) {
		if (swap_missing(swap_rc) || (h->flags & HIST_SWAP_FAILED)) {
			h->flags |= HIST_SWAP_DOWN;
			h->swap_retry_ns = sat_add(h->last_ns, policy->cfg.swap_retry_ns);
		}
		h->flags |= HIST_SWAP_FAILED;
	} else if (swap_rc == 0) {
		h->flags &= (uint16_t)~HIST_SWAP_FAILED;
	}
	if (r->block_status < 0 && block_op) {
		/* The VM is still in the state it was in before. */
		if (d->actions & RECLAIM_ACTION_BLOCK)
			h->flags &= (uint16_t)~HIST_BLOCKED;
		else
			h->flags |= HIST_BLOCKED;
	} else if (r->block_status == 0) {
		/* What the adapter did is what the VM is now, whichever decide
		 * asked for it (a dry run commits nothing): a VM blocked here is
		 * one the next decide unblocks, its blocking clock started
		 * afresh. */
		if (!(d->actions & RECLAIM_ACTION_BLOCK)) {
			h->flags &= (uint16_t)~HIST_BLOCKED;
		} else if (!(h->flags & HIST_BLOCKED)) {
			h->flags |= HIST_BLOCKED;
			h->block_consumed = UINT64_MAX;
		}
	}
	if (r->balloon_status < 0 || r->swap_status < 0 || r->compress_status < 0 ||
	    r->block_status < 0) {
		h->flags |= HIST_FAILED;
		if (h->failures < UINT16_MAX)
			h->failures++;
	} else {
		h->failures = 0;
	}
}

static int
check_apply(struct reclaim_adapter *ops, struct fault *f, const struct reclaim_adapter *adapter,
	    const struct reclaim_decision *decisions, size_t n,
	    const struct reclaim_apply_result *results, size_t result_size)
{
	size_t size, dsize, i;

	if (!adapter)
		return fault_at(f, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, "adapter");
	if (n && !decisions)
		return fault_at(f, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, "decisions");
	size = abi_adapter_size(adapter->version);
	if (!size)
		return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_ARGUMENT, "adapter.version");
	if (adapter->reserved0)
		return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_ARGUMENT, "adapter.reserved0");
	if (results && !abi_known(ABI_APPLY_RESULT, result_size))
		return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_ARGUMENT, "result_size");
	/* Decisions are read at the stride of their own struct_size: the
	 * first must be a known size, and every other the same. */
	dsize = n ? decisions->struct_size : sizeof(*decisions);
	for (i = 0; i < n; i++) {
		const struct reclaim_decision *d =
			(const void *)((const char *)decisions + i * dsize);

		f->index = i;
		if (i == 0 ? !abi_known(ABI_DECISION, dsize) : d->struct_size != dsize)
			return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_DECISION, "struct_size");
		/* Actions this library never writes: not its decisions. */
		if ((d->actions & ~(uint32_t)ACTIONS_KNOWN) ||
		    (d->actions & BLOCK_BOTH) == BLOCK_BOTH) {
			f->id = d->id;
			return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_DECISION, "actions");
		}
	}
	/* Results are written while later decisions are still read. */
	if (results && mem_overlap(results, n * result_size, decisions, n * dsize)) {
		f->index = 0;
		return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_ARGUMENT, "results");
	}
	/* An older adapter reads as if the slots it lacks were NULL. */
	memset(ops, 0, sizeof(*ops));
	abi_read(ops, adapter, size);
	return RECLAIM_OK;
}

int
reclaim_apply(struct reclaim_policy *policy, const struct reclaim_adapter *adapter,
	      void *user_data, const struct reclaim_decision *decisions, size_t n,
	      struct reclaim_apply_result *results, size_t result_size)
{
	struct reclaim_adapter ops;
	struct fault f = {0};
	size_t i, dsize;
	bool failed = false;

	if (policy && !policy_enter(policy))
		return RECLAIM_E_BUSY;
	if (check_apply(&ops, &f, adapter, decisions, n, results, result_size)) {
		if (policy) {
			policy_fail(policy, &f);
			policy_leave(policy);
		}
		return f.status;
	}
	adapter = &ops;
	dsize = n ? decisions->struct_size : 0;
	for (i = 0; i < n; i++) {
		const struct reclaim_decision *d =
			(const void *)((const char *)decisions + i * dsize);
		struct reclaim_apply_result r;
		/* Host swap only when asked: a caller may hold swap off for a
		 * tick by clearing the bit, compression still going ahead. */
		uint64_t swap = (d->actions & RECLAIM_ACTION_SWAP) ? d->swap_bytes : 0;
		int32_t swap_rc;

		memset(&r, 0, sizeof(r));
		r.struct_size = (uint32_t)result_size;
		r.id = d->id;
		r.balloon_status = r.swap_status = r.compress_status = r.block_status = NOT_ASKED;

		if (d->actions & RECLAIM_ACTION_BALLOON)
			r.balloon_status = call2(adapter->set_balloon, user_data, d->id,
						 d->balloon_target_bytes, &r.flags);
		if ((d->actions & RECLAIM_ACTION_COMPRESS) && d->compress_bytes) {
			if (adapter->compress) {
				r.compress_status = call2(adapter->compress, user_data, d->id,
							  d->compress_bytes, &r.flags);
			} else {
				/* No compression tier: those pages go to swap. */
				r.flags |= RECLAIM_APPLY_COMPRESS_FALLBACK;
				swap = sat_add(swap, d->compress_bytes);
			}
		}
		if (swap && (d->actions & (RECLAIM_ACTION_SWAP | RECLAIM_ACTION_COMPRESS)))
			r.swap_status = call2(adapter->swap_out, user_data, d->id, swap, &r.flags);
		swap_rc = r.swap_status;
		if (r.flags & RECLAIM_APPLY_COMPRESS_FALLBACK) {
			r.compress_status = r.swap_status; /* those bytes went to swap */
			if (!(d->actions & RECLAIM_ACTION_SWAP))
				r.swap_status = NOT_ASKED;
		}
		if (d->actions & RECLAIM_ACTION_BLOCK)
			r.block_status = call1(adapter->block, user_data, d->id, &r.flags);
		else if (d->actions & RECLAIM_ACTION_UNBLOCK)
			r.block_status = call1(adapter->unblock, user_data, d->id, &r.flags);

		record(policy, adapter, d, i, &r, swap_rc);
		if (r.balloon_status < 0 || r.swap_status < 0 || r.compress_status < 0 ||
		    r.block_status < 0)
			failed = true;
		if (results && result_size == sizeof(r))
			results[i] = r;
		else if (results)
			memcpy((char *)results + i * result_size, &r, result_size);
	}
	if (policy)
		policy_leave(policy);
	return failed ? RECLAIM_E_ADAPTER : RECLAIM_OK;
}
