/* SPDX-License-Identifier: MIT */
/*
 * Carrying decisions out through the fake world's
 * adapter: failures reported per VM without stopping the others and taken
 * into account by the next decide; NULL ops skipped with a clear status; no
 * compress op falls back to swap; bad arguments call nothing. Then 10,000
 * ticks of a realistic host with an adapter failing 10 % of its calls.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_world.h"

#define ID_A 1
#define ID_B 2
#define ID_C 3

/*
 * 16 GiB usable, three 4 GiB guests that touched nearly all their memory but
 * use 1.5 GiB, @p free bytes free and host swap at @p swap_bw bytes/s.
 */
static void
three_guests(struct fw_world *w, uint64_t free, uint64_t swap_bw)
{
	fw_init(w, 17 * FW_GIB, FW_GIB, FW_NS, 11);
	for (uint64_t id = ID_A; id <= ID_C; id++) {
		struct fw_vm *v = fw_add_vm(w, id, 4 * FW_GIB, 1536 * FW_MIB);

		v->touched = 4 * FW_GIB - 128 * FW_MIB;
	}
	w->swap_bw = swap_bw;
	fw_set_free(w, free);
}

static bool
failed_reason(const struct reclaim_decision *d)
{
	return (d->reasons & RECLAIM_REASON_ADAPTER_FAILED) != 0;
}

/* ---- per-VM failures ---- */

/*
 * In the hard state every VM gets balloon and swap actions. A's ops all
 * fail: its results say so op by op, B and C are still carried out in full,
 * and apply reports RECLAIM_E_ADAPTER.
 */
static void
failure_reported_others_carried_out(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	three_guests(&w, 250 * FW_MIB, 0);
	w.vm[0].fail_ops = 1u << FW_OP_BALLOON | 1u << FW_OP_SWAP;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
	assert_int_equal(t.apply_rc, RECLAIM_E_ADAPTER);
	for (size_t i = 0; i < 3; i++) {
		const struct reclaim_apply_result *r = &t.r[i];

		assert_int_equal(r->struct_size, sizeof(*r));
		assert_int_equal(r->id, t.d[i].id);
		assert_true(t.d[i].actions & RECLAIM_ACTION_BALLOON);
		assert_true(t.d[i].actions & RECLAIM_ACTION_SWAP);
		assert_int_equal(r->balloon_status, i == 0 ? -EIO : 0);
		assert_int_equal(r->swap_status, i == 0 ? -EIO : 0);
		assert_int_equal(r->compress_status, 1); /* not asked */
		assert_int_equal(r->block_status, 1);
		assert_int_equal(r->flags, 0);
		assert_int_equal(w.vm[i].calls[FW_OP_BALLOON], 1);
		assert_int_equal(w.vm[i].calls[FW_OP_SWAP], 1);
	}
	assert_int_equal(w.vm[0].balloon_target, 0);
	assert_int_equal(w.vm[0].swapped, 0);
	assert_true(w.vm[1].balloon_target > 0 && w.vm[1].swapped > 0);
	assert_true(w.vm[2].balloon_target > 0 && w.vm[2].swapped > 0);
	reclaim_policy_destroy(p);
}

/*
 * The next decide takes failures into account: a failed balloon is sent
 * again (even with an unchanged target) with RECLAIM_REASON_ADAPTER_FAILED,
 * and once it succeeds it is not sent again. A failed swap leaves the memory
 * in place and the next decide swaps it again.
 */
static void
failed_balloon_resent_failed_swap_replanned(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	/* Soft, balloons at a steady 2 MiB/s: targets settle, stay unmet.
	 * Every page a balloon takes is one the host gets back. */
	three_guests(&w, 500 * FW_MIB, 0);
	for (size_t i = 0; i < 3; i++) {
		w.vm[i].inflate_rate = 2.0 * FW_MIB;
		w.vm[i].touched = w.vm[i].configured;
	}
	fw_set_free(&w, 500 * FW_MIB);
	w.vm[0].fail_ops = 1u << FW_OP_BALLOON;
	for (unsigned i = 0; i < 6; i++) {
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_SOFT);
		/* resent every tick while failing */
		assert_true(t.d[0].actions & RECLAIM_ACTION_BALLOON);
		assert_int_equal(t.r[0].balloon_status, -EIO);
		assert_int_equal(failed_reason(&t.d[0]), i > 0);
		assert_false(failed_reason(&t.d[1]));
		assert_false(failed_reason(&t.d[2]));
	}
	/* B and C have settled: nothing to send them. */
	assert_false(t.d[1].actions & RECLAIM_ACTION_BALLOON);
	w.vm[0].fail_ops = 0;
	fw_tick(&w, p, &ad, &t);
	assert_true(t.d[0].actions & RECLAIM_ACTION_BALLOON);
	assert_true(failed_reason(&t.d[0]));
	assert_int_equal(t.r[0].balloon_status, 0);
	assert_int_equal(w.vm[0].balloon_target, t.d[0].balloon_target_bytes);
	fw_tick(&w, p, &ad, &t);
	assert_false(failed_reason(&t.d[0]));
	if (t.d[0].balloon_target_bytes == w.vm[0].last_arg[FW_OP_BALLOON])
		assert_false(t.d[0].actions & RECLAIM_ACTION_BALLOON);
	reclaim_policy_destroy(p);

	/* Swap: hard, only A can give (B and C are at their reservations) and
	 * A's balloon is stalled; A's swap fails once. */
	p = policy_with(&cfg, 4);
	three_guests(&w, 250 * FW_MIB, 0);
	w.swapin_per_s = 0.0;
	w.vm[0].inflate_rate = 0.0;
	w.vm[1].reservation = w.vm[2].reservation = fw_consumed(&w.vm[1]);
	w.vm[0].fail_ops = 1u << FW_OP_SWAP;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.r[0].swap_status, -EIO);
	{
		uint64_t first = t.d[0].swap_bytes;

		assert_true(first > 0);
		w.vm[0].fail_ops = 0;
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		assert_true(failed_reason(&t.d[0]));
		assert_true(t.d[0].actions & RECLAIM_ACTION_SWAP);
		assert_true(t.d[0].swap_bytes + FW_MIB >= first);
		assert_int_equal(t.r[0].swap_status, 0);
		assert_true(w.vm[0].swapped + FW_MIB >= first);
	}
	reclaim_policy_destroy(p);
}

/*
 * A balloon whose set_balloon keeps failing makes no progress: in the hard
 * state it is found unresponsive within the window and host swap takes its
 * share, like a stalled driver.
 */
static void
failing_balloon_counts_as_no_progress(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	uint64_t start, marked_at = 0;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	three_guests(&w, 180 * FW_MIB, 4 * FW_MIB);
	w.vm[1].inflate_rate = w.vm[2].inflate_rate = 8.0 * FW_MIB;
	w.vm[0].fail_ops = 1u << FW_OP_BALLOON;
	start = w.now;
	for (unsigned i = 0; i < 15 && !marked_at; i++) {
		uint64_t now = w.now;

		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_HARD);
		if (t.d[0].reasons & RECLAIM_REASON_UNRESPONSIVE)
			marked_at = now;
		assert_false(t.d[1].reasons & RECLAIM_REASON_UNRESPONSIVE);
	}
	assert_true(marked_at != 0);
	assert_true(marked_at - start <= cfg.balloon_window_ns + FW_NS);
	assert_int_equal(t.d[0].balloon_target_bytes, 0);
	assert_true(t.d[0].swap_bytes + FW_PAGE >= t.vms[0].consumed_bytes - t.d[0].target_bytes);
	reclaim_policy_destroy(p);
}

/*
 * Low state, slow disk: VMs stay blocked for several ticks. A failed block is
 * issued again at the next tick (the VM is still running), a failed unblock
 * too (it is still blocked); successful ones are never repeated.
 */
static void
failed_block_and_unblock_reissued(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	unsigned block_fails = 0, unblock_fails = 0;
	bool blocked_once = false;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	three_guests(&w, 100 * FW_MIB, 16 * FW_MIB);
	w.vm[0].fail_ops = 1u << FW_OP_BLOCK;
	for (unsigned i = 0; i < 60; i++) {
		const struct reclaim_decision *a;

		fw_tick(&w, p, &ad, &t);
		a = &t.d[0];
		if (a->block && !blocked_once) {
			/* asked to block every tick until it works */
			assert_true(a->actions & RECLAIM_ACTION_BLOCK);
			if (block_fails > 0)
				assert_true(failed_reason(a));
			if (t.r[0].block_status == -EIO) {
				if (++block_fails == 3)
					w.vm[0].fail_ops = 1u << FW_OP_UNBLOCK;
				continue;
			}
			assert_int_equal(t.r[0].block_status, 0);
			blocked_once = true;
			continue;
		}
		if (!blocked_once)
			continue;
		if (a->block) {
			assert_false(a->actions & RECLAIM_ACTION_BLOCK);
			continue;
		}
		/* unblock: sent until it works */
		if (w.vm[0].blocked || t.r[0].block_status == 0) {
			if (w.vm[0].calls[FW_OP_UNBLOCK] > (uint64_t)unblock_fails)
				assert_true(a->actions & RECLAIM_ACTION_UNBLOCK);
		}
		if (t.r[0].block_status == -EIO && ++unblock_fails == 2)
			w.vm[0].fail_ops = 0;
		if (!w.vm[0].blocked && t.r[0].block_status == 0)
			break;
	}
	assert_int_equal(block_fails, 3);
	assert_int_equal(unblock_fails, 2);
	assert_int_equal(w.vm[0].calls[FW_OP_BLOCK], 4);
	assert_int_equal(w.vm[0].calls[FW_OP_UNBLOCK], 3);
	assert_false(w.vm[0].blocked);
	assert_int_equal(w.vm[0].redundant_block + w.vm[0].redundant_unblock, 0);
	/* nobody else was disturbed */
	assert_int_equal(w.vm[1].redundant_block + w.vm[1].redundant_unblock, 0);
	assert_int_equal(w.vm[1].calls[FW_OP_BLOCK], w.vm[1].calls[FW_OP_UNBLOCK] + w.vm[1].blocked);
	reclaim_policy_destroy(p);
}

/* Without a policy, apply still reports failures but nobody remembers them. */
static void
apply_without_policy_remembers_nothing(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;
	struct reclaim_apply_result r[3];

	(void)state;
	three_guests(&w, 250 * FW_MIB, 0);
	fw_tick(&w, p, NULL, &t); /* decide only */
	w.vm[0].fail_ops = 1u << FW_OP_BALLOON;
	fw_begin_apply(&w);
	assert_int_equal(reclaim_apply(NULL, &ad, &w, t.d, t.n, r, sizeof(r[0])),
			 RECLAIM_E_ADAPTER);
	assert_int_equal(r[0].balloon_status, -EIO);
	fw_advance(&w);
	fw_tick(&w, p, NULL, &t);
	assert_false(failed_reason(&t.d[0]));
	reclaim_policy_destroy(p);
}

/* ---- NULL ops ---- */

/*
 * Ops left NULL are skipped, -ENOSYS with RECLAIM_APPLY_SKIPPED, and the
 * others still run.
 */
static void
null_ops_skipped(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	for (int which = 0; which < 3; which++) {
		struct reclaim_adapter ad = fw_adapter();
		struct reclaim_apply_result r[3];
		int rc;

		/* Low: balloon (existing balloons kept), swap and block. */
		three_guests(&w, 100 * FW_MIB, 0);
		w.vm[0].balloon = w.vm[0].balloon_target = 32 * FW_MIB;
		fw_set_free(&w, 100 * FW_MIB);
		if (which == 0)
			ad.swap_out = NULL;
		else if (which == 1)
			ad.block = NULL;
		else
			ad.set_balloon = NULL;
		fw_tick(&w, p, NULL, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
		fw_begin_apply(&w);
		rc = reclaim_apply(p, &ad, &w, t.d, t.n, r, sizeof(r[0]));
		assert_true(rc == RECLAIM_OK || rc == RECLAIM_E_ADAPTER);
		for (size_t i = 0; i < t.n; i++) {
			const struct reclaim_decision *d = &t.d[i];

			assert_true(d->actions & RECLAIM_ACTION_SWAP);
			assert_true(d->actions & RECLAIM_ACTION_BLOCK);
			assert_true(r[i].flags & RECLAIM_APPLY_SKIPPED || which == 2);
			assert_int_equal(r[i].swap_status, which == 0 ? -ENOSYS : 0);
			assert_int_equal(r[i].block_status, which == 1 ? -ENOSYS : 0);
			assert_int_equal(w.vm[i].calls[FW_OP_SWAP], which != 0);
			assert_int_equal(w.vm[i].calls[FW_OP_BLOCK], which != 1);
			if (d->actions & RECLAIM_ACTION_BALLOON) {
				assert_int_equal(r[i].balloon_status, which == 2 ? -ENOSYS : 0);
				if (which == 2)
					assert_true(r[i].flags & RECLAIM_APPLY_SKIPPED);
			}
		}
		fw_advance(&w);
		reclaim_policy_destroy(p);
		p = policy_with(&cfg, 4);
	}
	reclaim_policy_destroy(p);
}

/* Three guests in low, A with a compression cache, and an adapter without
 * a compression tier. */
static void
no_compress_tier(struct fw_world *w, struct reclaim_adapter *ad)
{
	ad->compress = NULL;
	three_guests(w, 100 * FW_MIB, 0);
	w->vm[0].compress = true;
}

/*
 * No compress op: the bytes meant for compression are host-swapped instead,
 * in the same swap_out call, flagged RECLAIM_APPLY_COMPRESS_FALLBACK.
 */
static void
no_compress_op_falls_back_to_swap(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;
	const struct reclaim_decision *a;

	(void)state;
	no_compress_tier(&w, &ad);
	fw_tick(&w, p, &ad, &t);
	a = &t.d[0];
	assert_true(a->compress_bytes > 0);
	assert_true(a->actions & RECLAIM_ACTION_COMPRESS);
	assert_true(t.r[0].flags & RECLAIM_APPLY_COMPRESS_FALLBACK);
	assert_false(t.r[0].flags & RECLAIM_APPLY_SKIPPED);
	/* The swap op carried the compress bytes: its result is the compress
	 * status; swap_status is 1 unless the decision also asked for swap. */
	assert_int_equal(t.r[0].compress_status, 0);
	assert_int_equal(t.r[0].swap_status, (a->actions & RECLAIM_ACTION_SWAP) ? 0 : 1);
	assert_int_equal(w.vm[0].calls[FW_OP_SWAP], 1);
	assert_int_equal(w.vm[0].last_arg[FW_OP_SWAP], a->swap_bytes + a->compress_bytes);
	assert_int_equal(w.vm[0].compressed, 0);
	assert_false(t.r[1].flags & RECLAIM_APPLY_COMPRESS_FALLBACK);
	assert_int_equal(t.apply_rc, RECLAIM_OK);
	reclaim_policy_destroy(p);
}

/*
 * Compressed pages without a compression tier go to swap_out: when it says
 * host swap is not there, host swap cannot serve the VM, just as when the
 * swap itself failed. The next decide counts on none for it and does not
 * keep it blocked for memory that goes nowhere.
 */
static void
failed_fallback_swap_marks_swap_down(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;
	const struct reclaim_decision *a;

	(void)state;
	no_compress_tier(&w, &ad);
	w.vm[0].driver = false;
	w.vm[0].compress_max = 4 * FW_GIB;
	w.swap_errno = ENOSPC;
	fw_tick(&w, p, &ad, &t);
	a = fw_decision(&t, ID_A);
	assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
	assert_true(a->actions & RECLAIM_ACTION_COMPRESS);
	assert_false(a->actions & RECLAIM_ACTION_SWAP);
	assert_true(a->block);
	assert_int_equal(fw_result(&t, ID_A)->compress_status, -ENOSPC);
	fw_tick(&w, p, &ad, &t);
	a = fw_decision(&t, ID_A);
	assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
	assert_true(a->reasons & RECLAIM_REASON_SWAP_UNAVAILABLE);
	assert_int_equal(a->block, 0);
	assert_true(a->actions & RECLAIM_ACTION_UNBLOCK);
	assert_false(w.vm[0].blocked);
	reclaim_policy_destroy(p);
}

/*
 * What the adapter did is what the VM is: a dry run commits nothing, and a
 * VM blocked by applying its decisions is unblocked by the next decide
 * that does not block it, as one blocked by a committed decide would be.
 */
static void
block_from_dry_run_undone(bool known, bool still_low)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[FW_MAX_VMS];
	struct fw_world w;
	struct fw_tick t;
	size_t i, blocked = 0;

	three_guests(&w, 8 * FW_GIB, 0);
	if (known)
		fw_tick(&w, p, &ad, &t); /* the VMs are known, none blocked */
	fw_set_free(&w, 100 * FW_MIB);
	t.n = fw_snapshot(&w, &t.host, t.vms);
	assert_int_equal(reclaim_decide(p, &t.host, t.vms, t.n, RECLAIM_DECIDE_DRY_RUN, &sum, d),
			 RECLAIM_OK);
	assert_int_equal(sum.state, RECLAIM_STATE_LOW);
	fw_begin_apply(&w);
	assert_int_equal(reclaim_apply(p, &ad, &w, d, t.n, NULL, 0), RECLAIM_OK);
	fw_advance(&w);
	for (i = 0; i < t.n; i++)
		blocked += w.vm[i].blocked;
	assert_true(blocked > 0);

	if (still_low) {
		/* Blocked as if a committed decide had blocked them: their
		 * blocking clock starts now, and they stay blocked. */
		fw_set_free(&w, 100 * FW_MIB);
		fw_tick(&w, p, &ad, &t);
		assert_int_equal(t.summary.state, RECLAIM_STATE_LOW);
		for (i = 0; i < t.n; i++) {
			if (!w.vm[i].blocked)
				continue;
			assert_int_equal(t.d[i].block, 1);
			assert_false(t.d[i].reasons & RECLAIM_REASON_BLOCK_TIMEOUT);
			blocked--;
		}
		assert_int_equal(blocked, 0);
	}
	fw_set_free(&w, 8 * FW_GIB);
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_HIGH);
	for (i = 0; i < t.n; i++) {
		assert_int_equal(t.d[i].block, 0);
		assert_false(w.vm[i].blocked);
	}
	reclaim_policy_destroy(p);
}

static void
block_applied_from_dry_run_is_undone(void **state)
{
	(void)state;
	block_from_dry_run_undone(true, false);
	block_from_dry_run_undone(true, true);
}

/* The same for VMs the policy has no history of: the dry run was its first
 * call (or they are new since its last decide). Their blocks are
 * remembered, or nothing would ever unblock them. */
static void
block_of_unknown_vms_from_dry_run_is_undone(void **state)
{
	(void)state;
	block_from_dry_run_undone(false, false);
	block_from_dry_run_undone(false, true);
}

/*
 * A VM blocked when it left the snapshot stays known past absent_grace_ns
 * (while the policy has room): when it comes back it is unblocked, not left
 * blocked for ever.
 */
static void
blocked_vm_absent_past_grace_is_unblocked(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;
	size_t k = FW_MAX_VMS, i;
	uint64_t left;

	(void)state;
	three_guests(&w, 100 * FW_MIB, 64 * FW_MIB);
	for (int tick = 0; tick < 5 && k == FW_MAX_VMS; tick++) {
		fw_tick(&w, p, &ad, &t);
		for (i = 0; i < w.n; i++)
			if (w.vm[i].blocked)
				k = i;
	}
	assert_true(k < FW_MAX_VMS);
	w.vm[k].present = false;
	fw_set_free(&w, 8 * FW_GIB);
	for (left = w.now; w.now <= left + cfg.absent_grace_ns + 10 * FW_NS;)
		fw_tick(&w, p, &ad, &t);
	assert_true(w.vm[k].blocked); /* gone from the snapshot, still paused */
	w.vm[k].present = true;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_HIGH);
	assert_true(fw_decision(&t, w.vm[k].id)->actions & RECLAIM_ACTION_UNBLOCK);
	assert_false(w.vm[k].blocked);
	reclaim_policy_destroy(p);
}

/* ---- an adapter that records what it is asked ---- */

struct rec {
	int balloon_rc;
	unsigned balloon_calls, swap_calls, compress_calls;
	uint64_t swap_bytes, compress_bytes;
};

static int
rec_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	struct rec *r = ud;

	(void)id;
	(void)bytes;
	r->balloon_calls++;
	return r->balloon_rc;
}

static int
rec_swap(void *ud, uint64_t id, uint64_t bytes)
{
	struct rec *r = ud;

	(void)id;
	r->swap_calls++;
	r->swap_bytes += bytes;
	return 0;
}

static int
rec_compress(void *ud, uint64_t id, uint64_t bytes)
{
	struct rec *r = ud;

	(void)id;
	r->compress_calls++;
	r->compress_bytes += bytes;
	return 0;
}

/*
 * swap_bytes are host-swapped only with RECLAIM_ACTION_SWAP: a caller that
 * clears the bit to hold host swap off for a tick still gets compression,
 * and without a compress op only the compressed bytes go to swap.
 */
static void
swap_only_when_asked(void **state)
{
	struct reclaim_adapter ad = {.version = RECLAIM_ADAPTER_VERSION,
				     .swap_out = rec_swap,
				     .compress = rec_compress};
	struct reclaim_decision d;
	struct reclaim_apply_result r;
	struct rec rec;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.struct_size = sizeof(d);
	d.id = ID_A;
	d.actions = RECLAIM_ACTION_COMPRESS;
	d.swap_bytes = 256 * FW_MIB;
	d.compress_bytes = 64 * FW_MIB;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(reclaim_apply(NULL, &ad, &rec, &d, 1, &r, sizeof(r)), RECLAIM_OK);
	assert_int_equal(rec.compress_calls, 1);
	assert_int_equal(rec.swap_calls, 0);
	assert_int_equal(r.swap_status, 1); /* not asked */
	assert_int_equal(r.compress_status, 0);

	ad.compress = NULL;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(reclaim_apply(NULL, &ad, &rec, &d, 1, &r, sizeof(r)), RECLAIM_OK);
	assert_int_equal(rec.swap_calls, 1);
	assert_true(rec.swap_bytes == 64 * FW_MIB);
	assert_true(r.flags & RECLAIM_APPLY_COMPRESS_FALLBACK);
	assert_int_equal(r.swap_status, 1);
	assert_int_equal(r.compress_status, 0);
}

/* Two guests in the soft state: A busy, holding a 2 GiB balloon, its guest
 * @p free_a free; B idle, but its guest reports nothing free and no swap,
 * so its balloon can give nothing. */
static void
soft_pair(struct reclaim_host *h, struct reclaim_vm_stats v[2], uint64_t now, uint64_t free_a,
	  uint32_t shares_a)
{
	for (int i = 0; i < 2; i++) {
		struct reclaim_vm_stats x = RECLAIM_VM_STATS_INIT;

		x.id = (uint64_t)i + 1;
		x.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		x.shares = 1000;
		x.stats_time_ns = now;
		v[i] = x;
	}
	v[0].shares = shares_a;
	v[0].configured_bytes = 8 * FW_GIB;
	v[0].balloon_bytes = 2 * FW_GIB;
	v[0].consumed_bytes = 6 * FW_GIB;
	v[0].active_bytes = 4 * FW_GIB;
	v[0].guest_free_bytes = free_a;
	v[0].guest_swap_free_bytes = 4 * FW_GIB;
	v[1].configured_bytes = 16 * FW_GIB;
	v[1].consumed_bytes = 15 * FW_GIB;
	v[1].active_bytes = FW_GIB;
	*h = (struct reclaim_host)RECLAIM_HOST_INIT;
	h->total_bytes = 24 * FW_GIB;
	h->free_bytes = 24 * FW_GIB * 3 / 100; /* soft */
	h->now_ns = now;
}

/*
 * A balloon op that failed is sent again by the next decide, also when that
 * decide rebalances the VM and finds its give-back must shrink (here to
 * nothing: the other VM cannot give): the target it keeps is the one that
 * failed, and the adapter never had it.
 */
static void
failed_balloon_resent_when_rebalanced(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 2);
	struct reclaim_adapter ad = {.version = RECLAIM_ADAPTER_VERSION,
				     .set_balloon = rec_balloon,
				     .swap_out = rec_swap};
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[2];
	struct reclaim_vm_stats v[2];
	struct reclaim_host h;
	struct rec rec;
	uint64_t now = 100 * FW_NS;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	soft_pair(&h, v, now, cfg.guest_margin_bytes + 1, 200);
	assert_int_equal(reclaim_decide(p, &h, v, 2, 0, &sum, d), RECLAIM_OK);
	assert_true(d[0].actions & RECLAIM_ACTION_BALLOON);
	rec.balloon_rc = -EIO;
	assert_int_equal(reclaim_apply(p, &ad, &rec, d, 2, NULL, 0), RECLAIM_E_ADAPTER);

	/* A is now short of memory and priced above the level. */
	soft_pair(&h, v, now + FW_NS, cfg.guest_margin_bytes, 1000);
	assert_int_equal(reclaim_decide(p, &h, v, 2, 0, &sum, d), RECLAIM_OK);
	assert_true(d[0].reasons & RECLAIM_REASON_REBALANCE);
	assert_true(d[0].reasons & RECLAIM_REASON_ADAPTER_FAILED);
	assert_true(d[0].balloon_target_bytes != v[0].balloon_bytes);
	assert_true(d[0].actions & RECLAIM_ACTION_BALLOON);
	reclaim_policy_destroy(p);
}

static struct reclaim_policy *destroyed_in_callback;

static int
destroy_policy_then_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	reclaim_policy_destroy(destroyed_in_callback);
	return fw_set_balloon(ud, id, bytes);
}

/*
 * A policy is not freed under the apply that is using it: destroyed from
 * an adapter callback, it is left alone (the apply goes on in its memory),
 * and its owner can still use it and destroy it afterwards.
 */
static void
destroy_from_callback_leaves_policy(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	ad.set_balloon = destroy_policy_then_balloon;
	three_guests(&w, 250 * FW_MIB, 0);
	destroyed_in_callback = p;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.decide_rc, RECLAIM_OK);
	assert_int_equal(t.apply_rc, RECLAIM_OK);
	assert_true(w.vm[0].calls[FW_OP_BALLOON] > 0);
	fw_tick(&w, p, NULL, &t);
	assert_int_equal(t.decide_rc, RECLAIM_OK);
	reclaim_policy_destroy(p);
}

/* Argument errors call nothing at all, even for the decisions before the
 * bad one. */
static void
bad_arguments_call_nothing(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter(), bad;
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_apply_result r[3];
	struct reclaim_decision d[3];
	struct reclaim_error err = RECLAIM_ERROR_INIT;
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	three_guests(&w, 250 * FW_MIB, 0);
	fw_tick(&w, p, NULL, &t);
	memcpy(d, t.d, sizeof(d));
	assert_int_equal(reclaim_apply(p, NULL, &w, d, 3, r, sizeof(r[0])),
			 RECLAIM_E_NULL);
	assert_int_equal(reclaim_apply(p, &ad, &w, NULL, 3, r, sizeof(r[0])),
			 RECLAIM_E_NULL);
	bad = ad;
	bad.version = 0;
	assert_int_equal(reclaim_apply(p, &bad, &w, d, 3, r, sizeof(r[0])),
			 RECLAIM_E_VERSION);
	bad.version = RECLAIM_ADAPTER_VERSION + 1;
	assert_int_equal(reclaim_apply(p, &bad, &w, d, 3, r, sizeof(r[0])),
			 RECLAIM_E_VERSION);
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, r, sizeof(r[0]) + 4),
			 RECLAIM_E_VERSION);
	d[0].struct_size = sizeof(d[0]) - 8;
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, r, sizeof(r[0])),
			 RECLAIM_E_VERSION);
	d[0].struct_size = sizeof(d[0]);
	d[2].struct_size = 0;
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, r, sizeof(r[0])),
			 RECLAIM_E_VERSION);
	d[2].struct_size = sizeof(d[2]);
	/* Actions this library never writes are not its decisions. */
	d[1].actions |= 1u << 7;
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, r, sizeof(r[0])), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_int_equal(err.where, RECLAIM_WHERE_DECISION);
	assert_int_equal(err.index, 1);
	assert_int_equal(err.id, d[1].id);
	assert_string_equal(err.field, "actions");
	d[1].actions = t.d[1].actions | RECLAIM_ACTION_BLOCK | RECLAIM_ACTION_UNBLOCK;
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, r, sizeof(r[0])), RECLAIM_E_INVAL);
	d[1].actions = t.d[1].actions;
	bad = ad;
	bad.reserved0 = 1;
	assert_int_equal(reclaim_apply(p, &bad, &w, d, 3, r, sizeof(r[0])), RECLAIM_E_INVAL);
	/* Results laid over the decisions would overwrite those not yet read. */
	assert_int_equal(reclaim_apply(p, &ad, &w, d, 3, (void *)&d[1], sizeof(r[0])),
			 RECLAIM_E_INVAL);
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_string_equal(err.field, "results");
	assert_memory_equal(d, t.d, sizeof(d));
	assert_int_equal(w.calls, 0);
	/* and zero decisions is fine */
	assert_int_equal(reclaim_apply(p, &ad, &w, NULL, 0, NULL, 0), RECLAIM_OK);
	assert_int_equal(w.calls, 0);
	reclaim_policy_destroy(p);
}

/* ---- decisions in any order ---- */

/*
 * Decisions may be applied in any order and any subset: a failure is
 * remembered for the VM whose decision failed, found by its id. Here the
 * decisions are applied backwards with C's ops failing, and then only B's,
 * failing: the next decides flag C, then B, and never the VM that sat at
 * that position in the decide's order.
 */
static void
failures_found_by_id_in_any_order(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_decision rev[3];
	struct reclaim_apply_result r[3];
	struct fw_world w;
	struct fw_tick t;

	(void)state;
	three_guests(&w, 250 * FW_MIB, 0);
	fw_tick(&w, p, NULL, &t);
	for (size_t i = 0; i < 3; i++)
		rev[i] = t.d[2 - i];
	w.vm[2].fail_ops = (1u << FW_OP_BALLOON) | (1u << FW_OP_SWAP);
	fw_begin_apply(&w);
	assert_int_equal(reclaim_apply(p, &ad, &w, rev, 3, r, sizeof(r[0])), RECLAIM_E_ADAPTER);
	assert_int_equal(r[0].id, ID_C);
	assert_true(r[0].balloon_status < 0);
	assert_int_equal(r[2].id, ID_A);
	assert_int_equal(r[2].balloon_status, 0);
	fw_advance(&w);
	w.vm[2].fail_ops = 0;
	fw_tick(&w, p, NULL, &t);
	assert_false(failed_reason(fw_decision(&t, ID_A)));
	assert_false(failed_reason(fw_decision(&t, ID_B)));
	assert_true(failed_reason(fw_decision(&t, ID_C)));

	/* B's decision alone, at position 0 where A's was decided */
	w.vm[1].fail_ops = 1u << FW_OP_BALLOON;
	fw_begin_apply(&w);
	assert_int_equal(reclaim_apply(p, &ad, &w, fw_decision(&t, ID_B), 1, r, sizeof(r[0])),
			 RECLAIM_E_ADAPTER);
	fw_advance(&w);
	w.vm[1].fail_ops = 0;
	fw_tick(&w, p, NULL, &t);
	assert_false(failed_reason(fw_decision(&t, ID_A)));
	assert_true(failed_reason(fw_decision(&t, ID_B)));
	assert_false(failed_reason(fw_decision(&t, ID_C)));

	/* Decisions applied late: C has left the snapshot meanwhile (its
	 * history is kept for absent_grace_ns), its decision sits past the
	 * VMs the last decide saw, and its ops fail (it is gone). Remembered
	 * for C, which comes back flagged. */
	memcpy(rev, t.d, sizeof(rev));
	rev[2].actions |= RECLAIM_ACTION_BALLOON;
	w.vm[2].present = false;
	fw_tick(&w, p, NULL, &t);
	assert_int_equal(t.n, 2);
	fw_begin_apply(&w);
	assert_int_equal(reclaim_apply(p, &ad, &w, rev, 3, r, sizeof(r[0])), RECLAIM_E_ADAPTER);
	assert_int_equal(r[2].id, ID_C);
	fw_advance(&w);
	w.vm[2].present = true;
	fw_tick(&w, p, NULL, &t);
	assert_false(failed_reason(fw_decision(&t, ID_A)));
	assert_true(failed_reason(fw_decision(&t, ID_C)));
	reclaim_policy_destroy(p);
}

/* ---- what an op returns ---- */

static int
ret_one2(void *ud, uint64_t id, uint64_t bytes)
{
	(void)ud;
	(void)id;
	(void)bytes;
	return 1;
}

static int
ret_one1(void *ud, uint64_t id)
{
	(void)ud;
	(void)id;
	return 1;
}

/* An op that returns a positive value (some hypervisor APIs return 1 for
 * done) has succeeded: its status is 0, not 1 ("not asked"). */
static void
positive_returns_are_success(void **state)
{
	const struct reclaim_adapter ad = {
		.version = RECLAIM_ADAPTER_VERSION,
		.set_balloon = ret_one2,
		.swap_out = ret_one2,
		.block = ret_one1,
		.unblock = ret_one1,
		.compress = ret_one2,
	};
	struct reclaim_decision d[2];
	struct reclaim_apply_result r[2];

	(void)state;
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 2; i++) {
		d[i].struct_size = sizeof(d[i]);
		d[i].id = (uint64_t)i + 1;
		d[i].balloon_target_bytes = FW_MIB;
		d[i].swap_bytes = d[i].compress_bytes = FW_PAGE;
	}
	d[0].actions = RECLAIM_ACTION_BALLOON | RECLAIM_ACTION_SWAP | RECLAIM_ACTION_COMPRESS |
		       RECLAIM_ACTION_BLOCK;
	d[1].actions = RECLAIM_ACTION_UNBLOCK;
	assert_int_equal(reclaim_apply(NULL, &ad, NULL, d, 2, r, sizeof(r[0])), RECLAIM_OK);
	assert_int_equal(r[0].balloon_status, 0);
	assert_int_equal(r[0].swap_status, 0);
	assert_int_equal(r[0].compress_status, 0);
	assert_int_equal(r[0].block_status, 0);
	assert_int_equal(r[1].block_status, 0);
	assert_int_equal(r[1].balloon_status, 1); /* not asked */
}

/*
 * An adapter without set_balloon: the balloon action is reported skipped,
 * and not asked again at the next decide (asking each tick would change
 * nothing); the target itself stands.
 */
static void
missing_set_balloon_not_asked_again(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct fw_world w;
	struct fw_tick t;
	uint64_t target;

	(void)state;
	ad.set_balloon = NULL;
	three_guests(&w, 500 * FW_MIB, 0);
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.summary.state, RECLAIM_STATE_SOFT);
	assert_true(t.d[0].actions & RECLAIM_ACTION_BALLOON);
	assert_int_equal(t.r[0].balloon_status, -ENOSYS);
	assert_true(t.r[0].flags & RECLAIM_APPLY_SKIPPED);
	target = t.d[0].balloon_target_bytes;
	fw_tick(&w, p, &ad, &t);
	assert_int_equal(t.d[0].balloon_target_bytes, target);
	assert_false(t.d[0].actions & RECLAIM_ACTION_BALLOON);
	reclaim_policy_destroy(p);
}

/* ---- 10,000 ticks, 10 % of adapter calls failing ---- */

#define SIM_VMS 8
#define SIM_TICKS 10000

struct sim {
	struct fw_world w;
	struct reclaim_rng demand_rng;
	uint64_t base[SIM_VMS];     /* each guest's usual working set */
	uint64_t burst[SIM_VMS];    /* extra demand of a burst under way */
	unsigned burst_left[SIM_VMS];
};

static double
uniform(struct reclaim_rng *rng)
{
	return (double)(reclaim_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Roughly normal, mean 0 and deviation 1 (Irwin-Hall). */
static double
gauss(struct reclaim_rng *rng)
{
	double s = 0.0;

	for (int i = 0; i < 12; i++)
		s += uniform(rng);
	return s - 6.0;
}

/*
 * 32 GiB usable, eight 8 GiB guests (2x overcommitted): working sets that
 * wander around 1.5-3.5 GiB with occasional 1 GiB bursts and page cache
 * that fills whatever memory is left to them, balloon drivers
 * from 8 to 128 MiB/s, one guest without a driver, one whose driver hangs
 * for two minutes every quarter of an hour, one whose stats go stale now
 * and then, one with a compression cache, and a guest that is replaced by
 * a new one under the same id every ~30 minutes. Host swap at 256 MiB/s.
 */
static void
sim_init(struct sim *s, uint64_t seed)
{
	fw_init(&s->w, 34 * FW_GIB, 2 * FW_GIB, FW_NS, seed);
	reclaim_rng_seed(&s->demand_rng, seed ^ 0x5eed);
	s->w.swap_bw = 256 * FW_MIB;
	for (uint64_t k = 0; k < SIM_VMS; k++) {
		uint64_t base = 1536 * FW_MIB + k * 256 * FW_MIB;
		struct fw_vm *v = fw_add_vm(&s->w, 100 + k, 8 * FW_GIB, base);

		s->base[k] = base;
		s->burst[k] = 0;
		s->burst_left[k] = 0;
		v->inflate_rate = (double)((8u << (k % 5)) * FW_MIB);
		v->gswap_total = 2 * FW_GIB;
		v->cache_rate = (double)(2 + k) * FW_MIB;
		v->active_fraction = 0.3 + 0.05 * (double)k;
	}
	s->w.vm[1].driver = false;
	s->w.vm[4].compress = true;
}

static void
sim_world_events(struct sim *s, unsigned tick)
{
	struct fw_world *w = &s->w;

	/* Guest 2's driver hangs for 120 s every 900 s. */
	w->vm[2].inflate_rate = tick % 900 < 120 ? 0.0 : 32.0 * FW_MIB;
	/* Guest 3's stats stall for 40 s every 500 s. */
	w->vm[3].stats_frozen = tick % 500 >= 460;
	/* Guest 7 stops every 1800 s, and a new guest reuses its id. */
	if (tick % 1800 == 1798)
		w->vm[7].present = false;
	if (tick % 1800 == 1799) {
		fw_vm_reset(w, &w->vm[7], w->vm[7].id, 8 * FW_GIB, 512 * FW_MIB);
		w->vm[7].inflate_rate = 64.0 * FW_MIB;
		w->vm[7].gswap_total = 2 * FW_GIB;
		w->vm[7].cache_rate = 9.0 * FW_MIB;
		s->burst[7] = 0;
		s->burst_left[7] = 0;
	}
	for (size_t k = 0; k < SIM_VMS; k++) {
		struct fw_vm *v = &w->vm[k];
		double d = (double)v->demand;

		if (v->blocked)
			continue;
		/* A 1 GiB burst ramps up over 10 s, holds 50 s, then ends. */
		if (s->burst_left[k] == 0 && uniform(&s->demand_rng) < 1.0 / 1200.0)
			s->burst_left[k] = 60;
		if (s->burst_left[k] > 0) {
			s->burst_left[k]--;
			if (s->burst_left[k] >= 50)
				s->burst[k] += 100 * FW_MIB;
			else if (s->burst_left[k] == 0)
				s->burst[k] = 0;
		}
		/* A random walk pulled back to the usual working set. */
		d += 4.0 * FW_MIB * gauss(&s->demand_rng);
		d += 0.02 * ((double)(s->base[k] + s->burst[k]) - d);
		if (d < 256.0 * FW_MIB)
			d = 256.0 * FW_MIB;
		if (d > 6.0 * FW_GIB)
			d = 6.0 * FW_GIB;
		v->demand = fw_pages(d);
	}
}

/* Checks one tick's results against what the adapter did. */
static void
sim_check_tick(const struct fw_world *w, const struct fw_tick *t)
{
	bool any = false;

	assert_int_equal(t->decide_rc, RECLAIM_OK);
	for (size_t i = 0; i < t->n; i++) {
		const struct reclaim_decision *d = &t->d[i];
		const struct reclaim_apply_result *r = &t->r[i];
		const struct fw_vm *v = &w->vm[i];
		const int32_t st[FW_OPS] = {r->balloon_status, r->swap_status, r->compress_status,
					    r->block_status, r->block_status};

		assert_int_equal(r->id, v->id);
		assert_int_equal(d->id, v->id);
		for (int op = 0; op < FW_OPS; op++) {
			if (!(v->called & (1u << op)))
				continue;
			/* a failure is reported exactly where it happened */
			assert_int_equal(st[op], (v->injected & (1u << op)) ? -EIO : 0);
		}
		if (!(v->called & (1u << FW_OP_BALLOON)))
			assert_int_equal(r->balloon_status, 1);
		if (!(v->called & (1u << FW_OP_SWAP)))
			assert_int_equal(r->swap_status, 1);
		if (!(v->called & (1u << FW_OP_BLOCK | 1u << FW_OP_UNBLOCK)))
			assert_int_equal(r->block_status, 1);
		any = any || v->injected;
	}
	assert_int_equal(t->apply_rc, any ? RECLAIM_E_ADAPTER : RECLAIM_OK);
}

/*
 * The next decide reflects the failures of the last apply: the reason, and
 * a failed balloon or block sent again.
 */
static void
sim_check_followup(const struct fw_world *w, const uint32_t *failed, const uint64_t *ids,
		   const struct fw_tick *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct reclaim_decision *d = &t->d[i];
		const struct fw_vm *v = &w->vm[i];

		if (ids[i] != d->id)
			continue; /* a new guest under this id: fresh history */
		assert_int_equal(!!(d->reasons & RECLAIM_REASON_ADAPTER_FAILED), failed[i] != 0);
		if ((failed[i] & (1u << FW_OP_BALLOON)) && v->driver)
			assert_true(d->actions & RECLAIM_ACTION_BALLOON);
		/* the policy knows whether the VM is blocked */
		if (d->block)
			assert_int_equal(!!(d->actions & RECLAIM_ACTION_BLOCK), !v->blocked);
		else
			assert_int_equal(!!(d->actions & RECLAIM_ACTION_UNBLOCK), v->blocked);
	}
}

static void
random_failures_over_10000_ticks(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_policy *p = policy_with(&cfg, SIM_VMS);
	static struct sim s, control;
	static struct fw_tick t;
	uint32_t failed[SIM_VMS] = {0};
	uint64_t ids[SIM_VMS] = {0};
	unsigned low_ticks = 0, below_soft = 0;
	uint64_t high;

	(void)state;
	sim_init(&s, 42);
	s.w.fail_prob = 0.10;
	/* The same guests with no policy: the host runs out of memory. */
	sim_init(&control, 42);
	for (unsigned i = 0; i < SIM_TICKS; i++) {
		sim_world_events(&control, i);
		fw_advance(&control.w);
	}
	assert_true(control.w.denied_bytes > 0);
	assert_true(fw_free(&control.w) < fw_usable(&control.w) / 100);

	for (unsigned i = 0; i < SIM_TICKS; i++) {
		uint64_t now = s.w.now;

		sim_world_events(&s, i);
		fw_tick(&s.w, p, &ad, &t);
		assert_int_equal(t.host.now_ns, now);
		sim_check_followup(&s.w, failed, ids, &t);
		sim_check_tick(&s.w, &t);
		for (size_t k = 0; k < SIM_VMS; k++) {
			failed[k] = k < t.n ? s.w.vm[k].injected : 0;
			ids[k] = k < t.n ? s.w.vm[k].id : 0;
		}
		if (t.summary.state == RECLAIM_STATE_LOW)
			low_ticks++;
		if (t.summary.free_bytes < fw_threshold(&t, RECLAIM_STATE_SOFT))
			below_soft++;
	}
	high = fw_threshold(&t, RECLAIM_STATE_HIGH);
	print_message("# calls %llu failed %llu low ticks %u below soft %u denied %llu MiB "
		      "free %llu MiB (high %llu MiB)\n",
		      (unsigned long long)s.w.calls, (unsigned long long)s.w.injected, low_ticks,
		      below_soft, (unsigned long long)(s.w.denied_bytes / FW_MIB),
		      (unsigned long long)(fw_free(&s.w) / FW_MIB), (unsigned long long)(high / FW_MIB));
	/* About 10 % of many calls failed... */
	assert_true(s.w.calls > 1000);
	assert_true(s.w.injected * 100 > s.w.calls * 8 && s.w.injected * 100 < s.w.calls * 12);
	/* ...and the host coped: it never ran out of memory nor stayed low
	 * for long, no call went to an unknown VM, no guest was killed,
	 * nothing was blocked twice, and the host ends in the high state
	 * above the soft threshold (guests short of memory get their balloons
	 * back from free memory, and early ballooning takes it back below
	 * the high threshold: it need not end above it). */
	assert_int_equal(s.w.denied_bytes, 0);
	assert_true(low_ticks <= SIM_TICKS / 100);
	assert_int_equal(s.w.unknown_calls, 0);
	for (size_t k = 0; k < SIM_VMS; k++) {
		assert_int_equal(s.w.vm[k].oom_events, 0);
		assert_int_equal(s.w.vm[k].redundant_block, 0);
		assert_int_equal(s.w.vm[k].redundant_unblock, 0);
	}
	assert_int_equal(t.summary.state, RECLAIM_STATE_HIGH);
	assert_true(fw_free(&s.w) >= fw_threshold(&t, RECLAIM_STATE_SOFT));
	assert_true(fw_free(&s.w) + high / 6 >= high); /* within early ballooning's first third */
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failure_reported_others_carried_out),
		cmocka_unit_test(failed_balloon_resent_failed_swap_replanned),
		cmocka_unit_test(failing_balloon_counts_as_no_progress),
		cmocka_unit_test(failed_block_and_unblock_reissued),
		cmocka_unit_test(apply_without_policy_remembers_nothing),
		cmocka_unit_test(null_ops_skipped),
		cmocka_unit_test(no_compress_op_falls_back_to_swap),
		cmocka_unit_test(failed_fallback_swap_marks_swap_down),
		cmocka_unit_test(block_applied_from_dry_run_is_undone),
		cmocka_unit_test(block_of_unknown_vms_from_dry_run_is_undone),
		cmocka_unit_test(blocked_vm_absent_past_grace_is_unblocked),
		cmocka_unit_test(swap_only_when_asked),
		cmocka_unit_test(failed_balloon_resent_when_rebalanced),
		cmocka_unit_test(destroy_from_callback_leaves_policy),
		cmocka_unit_test(bad_arguments_call_nothing),
		cmocka_unit_test(failures_found_by_id_in_any_order),
		cmocka_unit_test(positive_returns_are_success),
		cmocka_unit_test(missing_set_balloon_not_asked_again),
		cmocka_unit_test(random_failures_over_10000_ticks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
