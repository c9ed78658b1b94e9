/* SPDX-License-Identifier: MIT */
/*
 * One tick: read every managed domain (host side and libvirt side), read the
 * host, call reclaim_decide(), log what changed, carry the decisions out with
 * reclaim_apply() (or, in a dry run, only count what would be done) and
 * render the metrics. The only file that calls reclaim_decide() and
 * reclaim_apply().
 *
 * Host free memory is MemAvailable, not MemFree: Linux fills idle RAM with
 * page cache that it drops on demand, so MemFree alone would call a healthy
 * host short of memory. MemAvailable is the kernel's estimate of what can be
 * allocated without swapping. With --budget SIZE the host is SIZE bytes and
 * only the managed guests use it (free = SIZE - reserved - their resident
 * RAM), so that small guests can load a "host" in tests and demos.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvagent.h"

#define MIB (1ull << 20)

/* ---- actions ---- */

int
lv_block(struct lv_agent *a, struct lv_domain *d)
{
	if (a->dry_run)
		return 0;
	if (d->dom == NULL || !a->connected)
		return -ENOTCONN;
	if (lv_call_busy(&d->call))
		return -EBUSY; /* a call of its still waits on its monitor */
	int state = 0, reason = 0;
	if (virDomainGetState(d->dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED) {
		/* Paused by someone else: blocked already, and not ours to resume. */
		lv_log(LV_INFO, "%s: to be blocked, and already paused by someone else", d->name);
		return 0;
	}
	/* Listed before it is suspended: an agent killed right after still
	 * leaves a record for the next one. */
	int err = blocked_add(&a->blocked, d->uuid, lv_run_of(d->dom, d->pid));
	if (err) {
		lv_log(LV_ERROR, "%s: not suspending it: cannot record that in %s: %s", d->name,
		       a->blocked.path, strerror(-err));
		return err;
	}
	int rc = lv_dom_suspend(&d->call, d->dom);
	if (rc == LV_CALL_HUNG) {
		/* It may be suspended when the call returns: it stays listed
		 * and counts as blocked until a resume succeeds. */
		d->blocked = 1;
		return -EBUSY;
	}
	if (rc != 0) {
		lv_log(LV_ERROR, "%s: cannot suspend it: %s", d->name, lv_call_err(rc));
		/* Refused, and it runs: forgotten. Otherwise (the connection
		 * went) it may be suspended all the same: it stays listed and
		 * counts as blocked until a resume succeeds. */
		if (virDomainGetState(d->dom, &state, &reason, 0) == 0 &&
		    state != VIR_DOMAIN_PAUSED)
			blocked_remove(&a->blocked, d->uuid);
		else
			d->blocked = 1;
		return -EIO;
	}
	d->own_suspends++;
	d->blocked = 1;
	lv_log(LV_INFO, "%s: suspended", d->name);
	return 0;
}

int
lv_unblock(struct lv_agent *a, struct lv_domain *d)
{
	if (a->dry_run || !d->blocked)
		return 0;
	if (d->dom == NULL || !a->connected)
		return -ENOTCONN;
	if (lv_call_busy(&d->call))
		return -EBUSY; /* a call of its still waits on its monitor */
	int state = 0, reason = 0, rc = 0;
	if (virDomainGetState(d->dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
	    reason != VIR_DOMAIN_PAUSED_USER) {
		/* Paused since for a reason of its own (an I/O error, a
		 * migration): not the agent's pause, and not its to undo. */
		lv_log(LV_INFO, "%s: paused for another reason (%d) than the agent's; not its to "
		       "resume", d->name, reason);
	} else if ((rc = lv_dom_resume(&d->call, d->dom)) == 0) {
		d->own_resumes++;
		lv_log(LV_INFO, "%s: resumed", d->name);
	} else if (rc == LV_CALL_HUNG) {
		return -EBUSY; /* still blocked: tried again when it answers */
	} else if (virDomainGetState(d->dom, &state, &reason, 0) != 0 ||
		   state == VIR_DOMAIN_PAUSED) {
		lv_log(LV_ERROR, "%s: cannot resume it: %s", d->name, lv_call_err(rc));
		return -EIO;
	} else {
		lv_log(LV_INFO, "%s: resumed by someone else meanwhile", d->name);
	}
	d->blocked = 0;
	blocked_remove(&a->blocked, d->uuid);
	return 0;
}

static int
op_set_balloon(void *user_data, uint64_t id, uint64_t balloon_bytes)
{
	struct lv_agent *a = user_data;
	struct lv_domain *d = lv_domain_by_id(a, id);
	if (d == NULL)
		return -ENODEV;
	if (balloon_bytes >= d->set.configured)
		return -EINVAL;
	if (a->dry_run)
		return 0;
	if (d->dom == NULL || !a->connected)
		return -ENOTCONN;
	/* libvirt's memory size is the guest's: configured - balloon, in KiB. */
	unsigned long kib = (unsigned long)((d->set.configured - balloon_bytes) >> 10);
	int rc = lv_dom_set_memory(&d->call, d->dom, kib);
	if (rc == LV_CALL_HUNG) {
		d->op_error = -EBUSY;
		return -EBUSY;
	}
	if (rc != 0) {
		lv_log(LV_ERROR, "%s: cannot set the balloon: %s", d->name, lv_call_err(rc));
		d->op_error = -EIO;
		return -EIO;
	}
	d->balloon_sets_total++;
	return 0;
}

static int
op_swap_out(void *user_data, uint64_t id, uint64_t bytes)
{
	struct lv_agent *a = user_data;
	struct lv_domain *d = lv_domain_by_id(a, id);
	if (d == NULL)
		return -ENODEV;
	if (a->dry_run)
		return 0;
	uint64_t done = 0;
	int err = lv_swap_out(a, d, bytes, &done);
	d->paged_out_total += done;
	if (err) {
		lv_log(LV_ERROR, "%s: host swap (%s): %s: %s", d->name,
		       host_swap_method_name(d->swap.method), strerror(-err), d->swap.last);
		d->op_error = err;
	} else {
		char s[32], t[32];
		lv_log(LV_DEBUG, "%s: paged out %s of %s by %s (%s)", d->name,
		       format_size(s, sizeof(s), done), format_size(t, sizeof(t), bytes),
		       host_swap_method_name(d->swap.method), d->swap.last);
	}
	return err;
}

static int
op_block(void *user_data, uint64_t id)
{
	struct lv_agent *a = user_data;
	struct lv_domain *d = lv_domain_by_id(a, id);
	int err = d ? lv_block(a, d) : -ENODEV;
	if (d && err)
		d->op_error = err;
	return err;
}

static int
op_unblock(void *user_data, uint64_t id)
{
	struct lv_agent *a = user_data;
	struct lv_domain *d = lv_domain_by_id(a, id);
	int err = d ? lv_unblock(a, d) : -ENODEV;
	if (d && err)
		d->op_error = err;
	return err;
}

static const struct reclaim_adapter adapter = {
	.version = RECLAIM_ADAPTER_VERSION,
	.set_balloon = op_set_balloon,
	.swap_out = op_swap_out,
	.block = op_block,
	.unblock = op_unblock,
	.compress = NULL, /* no compression cache: the library swaps instead */
};

static int
ensure_arrays(struct lv_agent *a)
{
	if (a->vms != NULL)
		return 0;
	a->vms = calloc(a->max_domains, sizeof(*a->vms));
	a->dec = calloc(a->max_domains, sizeof(*a->dec));
	a->res = calloc(a->max_domains, sizeof(*a->res));
	return a->vms && a->dec && a->res ? 0 : -1;
}

int
lv_apply(struct lv_agent *a, const struct reclaim_decision *dec, size_t n)
{
	if (ensure_arrays(a) != 0 || n > a->max_domains)
		return RECLAIM_E_NOMEM;
	/* In a dry run the adapter's ops only check and count; no policy is
	 * passed, so nothing is remembered either. */
	int status = reclaim_apply(a->dry_run ? NULL : a->policy, &adapter, a, dec, n, a->res,
				   sizeof(a->res[0]));
	for (size_t i = 0; i < n && status != RECLAIM_E_NULL; i++) {
		struct lv_domain *d = lv_domain_by_id(a, a->res[i].id);
		const struct reclaim_apply_result *r = &a->res[i];
		if (d != NULL && (r->balloon_status < 0 || r->swap_status < 0 ||
				  r->compress_status < 0 || r->block_status < 0))
			d->op_errors_total++;
	}
	return status;
}

/* ---- sampling ---- */

/*
 * A domain whose QEMU process vanished: libvirt usually says why within a
 * moment (the stop event is on its way while it cleans up). Until then the
 * domain sits out; if libvirt never says, it is dropped after a few seconds.
 * Returns -1 when dropped, 1 when sitting out.
 */
static int
qemu_gone(struct lv_agent *a, struct lv_domain *d, uint64_t now)
{
	static const char *const why[] = {"stopped", "shut down", "destroyed", "crashed",
					  "migrated away", "saved", "failed", "snapshot loaded"};
	int state = 0, reason = 0;
	if (d->dom != NULL && a->connected && virDomainGetState(d->dom, &state, &reason, 0) == 0) {
		if (state == VIR_DOMAIN_SHUTOFF) {
			lv_domain_drop(a, d, reason >= 0 && reason < 8 ? why[reason] : why[0],
				       reason == VIR_DOMAIN_SHUTOFF_SAVED ||
					       reason == VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT);
			return -1;
		}
	}
	if (d->gone_since_ns == 0)
		d->gone_since_ns = now;
	if (now - d->gone_since_ns >= 5 * NS_PER_S) {
		lv_domain_drop(a, d, "its QEMU process exited", 0);
		return -1;
	}
	d->sampled = 0;
	return 1;
}

/* Reads one domain; 0, -1 when it turned out to be gone (dropped), 1 when
 * it sits this tick out. */
static int
sample_domain(struct lv_agent *a, struct lv_domain *d, uint64_t now)
{
	d->op_error = 0;
	if (d->mem.n_regions > 0) {
		int err = guest_mem_usage(&d->usage, &d->mem);
		if (err == -ESRCH)
			return qemu_gone(a, d, now);
		if (err) {
			lv_log(LV_WARN, "%s: guest RAM mappings changed (%s); looking again",
			       d->name, strerror(-err));
			guest_mem_close(&d->mem);
			char why[200];
			if (guest_mem_open_ram(&d->mem, d->pid, d->set.ram, d->set.n_ram, why,
					       sizeof(why)) != 0 ||
			    guest_mem_usage(&d->usage, &d->mem) != 0) {
				lv_log(LV_WARN, "%s: guest RAM not found any more", d->name);
				guest_mem_close(&d->mem);
				memset(&d->usage, 0, sizeof(d->usage));
			}
		}
	}
	if (d->dom != NULL && a->connected) {
		virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
		int n = lv_dom_memory_stats(&d->call, d->dom, stats);
		if (n >= 0)
			memstats_map(&d->ms, stats, n);
		else
			lv_log(LV_DEBUG, "%s: no memory stats: %s", d->name, lv_call_err(n));
	}
	/* Otherwise the last stats stay, and age into staleness. */
	uint64_t wall = lv_wall_ns();
	d->balloon = d->ms.has_actual && d->ms.actual < d->set.configured
			     ? d->set.configured - d->ms.actual
			     : 0;
	guest_view_balloon(&d->view, d->balloon, (double)wall / 1e9);
	d->has_stats = d->set.has_balloon &&
		       guest_view_stats(&d->gstats, &d->view, &d->ms.raw, d->balloon, now, wall);
	d->consumed = d->mem.n_regions > 0 ? d->usage.rss_bytes : (d->ms.has_rss ? d->ms.rss : 0);
	active_sample(a, d, now);
	d->sampled = 1;
	return 0;
}

/* ---- the host ---- */

static int
read_host(struct lv_agent *a, uint64_t now, uint64_t guests)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;
	struct meminfo mi;
	int err = meminfo_read(&mi, NULL);
	if (err) {
		lv_log(LV_ERROR, "/proc/meminfo: %s", strerror(-err));
		return -1;
	}
	h.now_ns = now;
	h.flags = RECLAIM_HOST_SWAP_BOUNDED;
	h.swap_free_bytes = mi.swap_free;
	if (a->budget) {
		h.total_bytes = a->budget;
		uint64_t used = a->reserved + guests;
		h.free_bytes = a->budget > used ? a->budget - used : 0;
		a->free_source = "budget";
	} else {
		h.total_bytes = mi.total;
		/* MemAvailable (Linux >= 3.14): free plus what the kernel can
		 * drop without swapping. */
		h.free_bytes = mi.has_available ? mi.available : mi.free;
		a->free_source = mi.has_available ? "MemAvailable" : "MemFree";
	}
	h.reserved_bytes = a->reserved < h.total_bytes ? a->reserved : h.total_bytes;
	if (h.free_bytes > h.total_bytes)
		h.free_bytes = h.total_bytes;
	a->host = h;
	return 0;
}

/* ---- logging decisions ---- */

static uint64_t
absdiff(uint64_t x, uint64_t y)
{
	return x > y ? x - y : y - x;
}

/*
 * Worth a line: anything but a small drift of the targets, and, in a real
 * run, every suspension, resumption and sizeable page-out (a dry run decides
 * the same page-out every tick, since nothing happens).
 */
static int
decision_changed(const struct lv_agent *a, const struct lv_domain *d,
		 const struct reclaim_decision *x)
{
	const struct reclaim_decision *o = &d->logged;
	uint64_t grain = d->set.configured / 100 > 4 * MIB ? d->set.configured / 100 : 4 * MIB;

	if (!d->have_logged)
		return 1;
	if (x->state != o->state || x->reasons != o->reasons || x->block != o->block ||
	    x->bound != o->bound || x->balloon_limit != o->balloon_limit)
		return 1;
	if (!a->dry_run && ((x->actions & (RECLAIM_ACTION_BLOCK | RECLAIM_ACTION_UNBLOCK)) ||
			    x->swap_bytes + x->compress_bytes >= grain))
		return 1;
	return absdiff(x->balloon_target_bytes, o->balloon_target_bytes) >= grain ||
	       absdiff(x->target_bytes, o->target_bytes) >= grain ||
	       absdiff(x->swap_bytes, o->swap_bytes) >= grain;
}

static void
log_decision(const struct lv_agent *a, const struct lv_domain *d,
	     const struct reclaim_decision *x)
{
	char line[512], c[32], act[32], bal[32];
	if (reclaim_decision_format(line, sizeof(line), x) < 0)
		snprintf(line, sizeof(line), "vm ?: (unformattable decision)");
	/* "vm <id>: ..." names the domain instead. */
	const char *text = strstr(line, ": ");
	text = text ? text + 2 : line;
	lv_log(LV_INFO, "%s%s: %s [consumed %s, active %s by %s, balloon %s]",
	       a->dry_run ? "dry-run: " : "", d->name, text,
	       format_size(c, sizeof(c), d->consumed), format_size(act, sizeof(act), d->active),
	       lv_active_name(d->act.method), format_size(bal, sizeof(bal), d->balloon));
}

static const char *
state_name(uint32_t state)
{
	const char *name = reclaim_state_name(state);
	return name ? name : "unknown";
}

static void
log_host(struct lv_agent *a)
{
	const struct reclaim_summary *s = &a->sum;
	char f[32], u[32], h[32], n[32], sw[32];
	if (a->logged_state == (int)s->state)
		return;
	char was[24] = "";
	if (a->logged_state >= 0)
		snprintf(was, sizeof(was), " (was %s)", state_name((uint32_t)a->logged_state));
	lv_log(LV_INFO, "%shost %s%s: free %s (%s) of %s usable, high threshold %s, "
	       "need %s, host swap free %s",
	       a->dry_run ? "dry-run: " : "", state_name(s->state), was,
	       format_size(f, sizeof(f), s->free_bytes),
	       a->free_source, format_size(u, sizeof(u), s->usable_bytes),
	       format_size(h, sizeof(h), s->threshold_bytes[0]),
	       format_size(n, sizeof(n), s->need_bytes),
	       format_size(sw, sizeof(sw), a->host.swap_free_bytes));
	a->logged_state = (int)s->state;
}

/* ---- the tick ---- */

void
lv_tick(struct lv_agent *a)
{
	uint64_t now = lv_now_ns();
	a->ticks++;
	if (a->connected && now - a->last_resync_ns >= 30 * NS_PER_S) {
		lv_resync(a);
		lv_resume_leftovers(a); /* a listed domain it found started again */
	}

	uint64_t guests = 0;
	for (size_t i = 0; i < a->n_doms;) {
		struct lv_domain *d = a->doms[i];
		if (!d->managed) {
			i++;
			continue;
		}
		int r = sample_domain(a, d, now);
		if (r < 0)
			continue; /* dropped: the array moved */
		if (r == 0)
			guests += d->consumed;
		i++;
	}
	if (read_host(a, now, guests) != 0 || ensure_arrays(a) != 0)
		goto out;
	if (now - a->start_ns < a->warmup_ns)
		goto out; /* only measuring active memory */

	size_t n = 0;
	for (size_t i = 0; i < a->n_doms && n < a->max_domains; i++) {
		struct lv_domain *d = a->doms[i];
		if (!d->managed || !d->sampled)
			continue;
		struct reclaim_vm_stats v = RECLAIM_VM_STATS_INIT;
		v.id = d->id;
		v.configured_bytes = d->set.configured;
		v.consumed_bytes = d->consumed;
		v.reservation_bytes = d->set.reservation;
		v.limit_bytes = d->set.limit;
		v.shares = d->set.shares;
		v.active_bytes = d->active;
		v.balloon_bytes = d->balloon;
		v.balloon_cap_bytes = d->set.balloon_cap;
		v.swapped_bytes = d->usage.swap_bytes;
		/* The id comes from the UUID, so a domain restarted at another
		 * size keeps it: the same QEMU process says a new size is memory
		 * hot-plug, a new process says it is a new guest. */
		if (d->pid && d->pid == d->decided_pid)
			v.flags |= RECLAIM_VM_RESIZED;
		d->decided_pid = d->pid;
		if (d->set.has_balloon)
			v.flags |= RECLAIM_VM_BALLOON;
		if (d->has_stats) {
			v.flags |= RECLAIM_VM_GUEST_STATS;
			v.guest_free_bytes = d->gstats.free_bytes;
			v.guest_swap_free_bytes = d->gstats.swap_free_bytes;
			v.stats_time_ns = d->gstats.stats_time_ns;
		}
		a->vms[n++] = v;
	}

	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	/* A dry run keeps no history: nothing it decides happens, so balloon
	 * progress and hysteresis would only be fiction. */
	int status = reclaim_decide(a->policy, &a->host, a->vms, n,
				    a->dry_run ? RECLAIM_DECIDE_DRY_RUN : 0, &sum, a->dec);
	if (status != RECLAIM_OK) {
		struct reclaim_error e = RECLAIM_ERROR_INIT;
		struct lv_domain *bad = NULL;
		if (reclaim_policy_last_error(a->policy, &e) == RECLAIM_OK &&
		    e.where == RECLAIM_WHERE_VM && e.index < n)
			bad = lv_domain_by_id(a, a->vms[e.index].id);
		if (bad)
			lv_log(LV_ERROR, "reclaim_decide: %s (domain %s, %s)", reclaim_strerror(status),
			       bad->name, e.field ? e.field : "?");
		else
			lv_log(LV_ERROR, "reclaim_decide: %s", reclaim_strerror(status));
		a->have_sum = 0;
		/* No decision: nothing stays suspended on the strength of an
		 * old one, however long the fault lasts. */
		lv_resume_all(a);
		goto out;
	}
	a->sum = sum;
	a->have_sum = 1;
	log_host(a);
	for (size_t i = 0; i < n; i++) {
		struct lv_domain *d = lv_domain_by_id(a, a->dec[i].id);
		if (d == NULL)
			continue;
		d->last = a->dec[i];
		d->have_last = 1;
		d->swap_decided_total += a->dec[i].swap_bytes + a->dec[i].compress_bytes;
		if (a->verbose || decision_changed(a, d, &a->dec[i])) {
			log_decision(a, d, &a->dec[i]);
			d->logged = a->dec[i];
			d->have_logged = 1;
		}
	}
	lv_apply(a, a->dec, n);
	/* A suspend that failed without an answer counts as done, and the
	 * policy, told it failed, may never ask to resume: a domain we may
	 * have suspended that the decision does not block is resumed. */
	for (size_t i = 0; i < n; i++) {
		struct lv_domain *d = lv_domain_by_id(a, a->dec[i].id);
		if (d != NULL && d->blocked && !a->dec[i].block)
			lv_unblock(a, d);
	}
out:
	for (size_t i = 0; i < a->n_doms; i++)
		if (a->doms[i]->managed)
			active_restart(a, a->doms[i]);
	metrics_render(a);
	if (a->metrics_file != NULL) {
		int err = metrics_write_file(a, a->metrics_file);
		if (err)
			lv_log(LV_WARN, "%s: %s", a->metrics_file, strerror(-err));
	}
	if ((a->max_ticks && a->ticks >= a->max_ticks) ||
	    (a->duration_ns && lv_now_ns() - a->start_ns >= a->duration_ns))
		a->stop = 1;
}
