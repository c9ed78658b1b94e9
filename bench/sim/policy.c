/* SPDX-License-Identifier: MIT */
/*
 * Policy drivers. reclaim (two profiles) is driven exactly as a hypervisor
 * would: snapshot, reclaim_decide(), reclaim_apply() through an adapter whose
 * callbacks change the world. The baselines are re-implemented here from
 * their published rules (bench/README.md cites them); they are not part of
 * the library.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static struct sim_vm *
vm_by_id(struct sim_world *w, uint64_t id)
{
	if (id == 0 || id > w->n_vms)
		return NULL;
	return &w->vms[id - 1];
}

/* ---- adapter ---------------------------------------------------------- */

static int
ad_set_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	struct sim_vm *vm = vm_by_id(ud, id);
	if (!vm)
		return -ENOENT;
	sim_vm_set_balloon(ud, vm, bytes / SIM_PAGE);
	return 0;
}

static int
ad_swap_out(void *ud, uint64_t id, uint64_t bytes)
{
	struct sim_vm *vm = vm_by_id(ud, id);
	if (!vm)
		return -ENOENT;
	struct sim_world *w = ud;
	vm->swapped_out += sim_vm_swap_out(w, vm, (bytes + SIM_PAGE - 1) / SIM_PAGE, w->sc->swap_pick);
	return 0;
}

static int
ad_block(void *ud, uint64_t id)
{
	struct sim_vm *vm = vm_by_id(ud, id);
	if (!vm)
		return -ENOENT;
	vm->blocked = 1;
	return 0;
}

static int
ad_unblock(void *ud, uint64_t id)
{
	struct sim_vm *vm = vm_by_id(ud, id);
	if (!vm)
		return -ENOENT;
	vm->blocked = 0;
	return 0;
}

static const struct reclaim_adapter sim_adapter = {
	.version = RECLAIM_ADAPTER_VERSION,
	.set_balloon = ad_set_balloon,
	.swap_out = ad_swap_out,
	.block = ad_block,
	.unblock = ad_unblock,
	.compress = NULL,
};

/* ---- driver -------------------------------------------------------------- */

static int
is_library(int policy)
{
	return policy == SIM_POLICY_RECLAIM || policy == SIM_POLICY_PAPER;
}

int
sim_driver_init(struct sim_driver *d, int policy, struct sim_world *w)
{
	const struct sim_scenario *sc = w->sc;
	struct reclaim_config esx;
	int r;

	memset(d, 0, sizeof(*d));
	d->policy = policy;
	d->decide_ns = sc->decide_ns;
	if (policy == SIM_POLICY_MOM) {
		uint64_t conf = 0;
		for (size_t i = 0; i < sc->n_vms; i++)
			conf += sc->vms[i].configured;
		d->decide_ns = SIM_MOM_POLICY_NS;
		d->sample_ns = SIM_MOM_SAMPLE_NS;
		d->mom_floor = sc->mom_guaranteed >= 0
				       ? sc->mom_guaranteed
				       : sim_mom_default_floor(conf, sc->total - sc->reserved);
	}
	d->summary = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	r = reclaim_config_init_profile(&d->cfg, sizeof(d->cfg),
					policy == SIM_POLICY_PAPER ? RECLAIM_PROFILE_PAPER
								   : RECLAIM_PROFILE_ESX);
	if (r)
		return r;
	if (sc->idle_tax >= 0)
		d->cfg.idle_tax = sc->idle_tax;
	if (sc->has_demand_memory)
		d->cfg.demand_memory_ns = sc->demand_memory_ns;
	r = reclaim_config_init_profile(&esx, sizeof(esx), RECLAIM_PROFILE_ESX);
	if (r)
		return r;
	r = reclaim_config_thresholds(&esx, sc->total, sc->reserved, d->thresholds);
	if (r)
		return r;
	d->stats = calloc(w->n_vms, sizeof(*d->stats));
	d->dec = calloc(w->n_vms, sizeof(*d->dec));
	d->est_active = calloc(w->n_vms, sizeof(*d->est_active));
	if (!d->stats || !d->dec || !d->est_active)
		return RECLAIM_E_NOMEM;
	if (is_library(policy))
		return reclaim_policy_new(&d->rp, &d->cfg, w->n_vms);
	return 0;
}

void
sim_driver_free(struct sim_driver *d)
{
	reclaim_policy_destroy(d->rp);
	free(d->stats);
	free(d->dec);
	free(d->est_active);
	memset(d, 0, sizeof(*d));
}

static uint64_t
free_bytes(const struct sim_world *w)
{
	return w->free > 0 ? (uint64_t)w->free * SIM_PAGE : 0;
}

/* The free-memory band by the ESX thresholds, without hysteresis: the same
 * ruler for every policy. */
static uint32_t
band(const struct sim_driver *d, const struct sim_world *w)
{
	uint64_t f = free_bytes(w);
	if (f < d->thresholds[3])
		return RECLAIM_STATE_LOW;
	if (f < d->thresholds[2])
		return RECLAIM_STATE_HARD;
	if (f < d->thresholds[1])
		return RECLAIM_STATE_SOFT;
	return RECLAIM_STATE_HIGH;
}

static int
tick_library(struct sim_driver *d, struct sim_world *w)
{
	const struct sim_scenario *sc = w->sc;
	struct reclaim_host host = RECLAIM_HOST_INIT;
	size_t n = 0;
	int r;

	while (d->tau_next < sc->n_tau_change && w->now_ns >= sc->tau_change[d->tau_next].t_ns) {
		d->cfg.idle_tax = sc->tau_change[d->tau_next++].tau;
		r = reclaim_policy_set_config(d->rp, &d->cfg);
		if (r)
			return r;
	}
	host.flags = RECLAIM_HOST_SWAP_BOUNDED;
	host.total_bytes = sc->total;
	host.reserved_bytes = sc->reserved;
	host.free_bytes = free_bytes(w);
	host.now_ns = w->now_ns;
	host.swap_free_bytes = (w->swap_size - w->swap_used) * SIM_PAGE;

	for (size_t i = 0; i < w->n_vms; i++) {
		const struct sim_vm *vm = &w->vms[i];
		const struct sim_vm_spec *s = vm->spec;
		if (!vm->running)
			continue;
		struct reclaim_vm_stats *st = &d->stats[n++];
		*st = (struct reclaim_vm_stats)RECLAIM_VM_STATS_INIT;
		/* Slot i is always the same VM: a new configured size is memory
		 * hot-plug or unplug, never another VM under a reused id. */
		st->flags = RECLAIM_VM_GUEST_STATS | RECLAIM_VM_RESIZED;
		if (sim_vm_has_balloon(w, vm))
			st->flags |= RECLAIM_VM_BALLOON;
		if (s->has_idle_tax) {
			st->flags |= RECLAIM_VM_IDLE_TAX;
			st->idle_tax = s->idle_tax;
		}
		st->id = i + 1;
		st->configured_bytes = vm->conf * SIM_PAGE;
		st->consumed_bytes = sim_vm_consumed(vm) * SIM_PAGE;
		st->reservation_bytes = s->reservation < st->configured_bytes ? s->reservation
									      : st->configured_bytes;
		st->limit_bytes = s->limit;
		if (st->limit_bytes != RECLAIM_UNLIMITED && st->limit_bytes < st->reservation_bytes)
			st->limit_bytes = st->reservation_bytes;
		st->shares = vm->shares;
		st->active_bytes = reclaim_estimator_active_bytes(&vm->est, st->consumed_bytes);
		d->est_active[i] = st->active_bytes;
		st->balloon_bytes = vm->balloon * SIM_PAGE;
		/* What the guest could give up: free memory plus page cache, as
		 * virtio-balloon's "available memory" statistic reports it. */
		st->guest_free_bytes = (sim_vm_guest_unused(vm) + sim_vm_cache(vm)) * SIM_PAGE;
		st->guest_swap_free_bytes = (vm->gswap_size - vm->gswap) * SIM_PAGE;
		st->swapped_bytes = sim_vm_swapped(vm) * SIM_PAGE;
		st->stats_time_ns = w->now_ns;
	}
	r = reclaim_decide(d->rp, &host, d->stats, n, 0, &d->summary, d->dec);
	if (r)
		return r;
	d->last_state = d->summary.state;
	r = reclaim_apply(d->rp, &sim_adapter, w, d->dec, n, NULL, 0);
	return r == RECLAIM_E_ADAPTER ? 0 : r;
}

/* Swap-only baseline: no balloons; below the soft threshold, host-swap back
 * to the high threshold from every VM in proportion to what it consumes
 * above its reservation. */
static int
tick_swap_only(struct sim_driver *d, struct sim_world *w)
{
	uint64_t f = free_bytes(w);
	if (f >= d->thresholds[1])
		return 0;
	uint64_t need = (d->thresholds[0] - f) / SIM_PAGE, total = 0;
	for (size_t i = 0; i < w->n_vms; i++) {
		const struct sim_vm *vm = &w->vms[i];
		uint64_t c = sim_vm_consumed(vm), resv = vm->spec->reservation / SIM_PAGE;
		total += c > resv ? c - resv : 0;
	}
	for (size_t i = 0; i < w->n_vms && total; i++) {
		struct sim_vm *vm = &w->vms[i];
		uint64_t c = sim_vm_consumed(vm), resv = vm->spec->reservation / SIM_PAGE;
		uint64_t above = c > resv ? c - resv : 0;
		uint64_t part = (uint64_t)ceil((double)need * (double)above / (double)total);
		vm->swapped_out += sim_vm_swap_out(w, vm, part < above ? part : above,
						   w->sc->swap_pick);
	}
	return 0;
}

/* ---- oVirt MOM (oVirt/mom: doc/balloon.rules, doc/mom-balloon.conf) ---- */

#define MOM_PRESSURE 0.20
#define MOM_CRITICAL 0.05
#define MOM_GUEST_FREE 0.20
#define MOM_MAX_CHANGE 0.05
#define MOM_MIN_CHANGE 0.0025

int
sim_mom_target(uint64_t *target, double host_free_pct, const struct sim_mom_guest *g)
{
	double cur = (double)g->cur;
	double used = (double)g->cur_avg - (double)g->unused_avg;
	double size;

	if (host_free_pct < MOM_PRESSURE) {
		double gfp = host_free_pct <= MOM_CRITICAL ? host_free_pct - 0.05
							    : MOM_GUEST_FREE * host_free_pct / MOM_PRESSURE;
		double floor = used + gfp * cur;
		if (floor < (double)g->min)
			floor = (double)g->min;
		size = cur * (1 - MOM_MAX_CHANGE);
		if (size < floor)
			size = floor;
		if (size > cur)
			return 0;
	} else {
		if (g->cur >= g->max)
			return 0;
		double floor = used + MOM_GUEST_FREE * cur;
		size = cur * (1 + MOM_MAX_CHANGE);
		if (size > (double)g->max)
			size = (double)g->max;
		if (size < floor)
			size = floor;
	}
	if (size < 0)
		size = 0;
	if (fabs(size - cur) <= MOM_MIN_CHANGE * cur)
		return 0;
	*target = (uint64_t)size;
	if (*target > g->max)
		*target = g->max;
	if (*target < g->min)
		*target = g->min; /* guest_qos: never below min_guarantee */
	return 1;
}

static uint64_t
avg10(const uint64_t *h, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)h[i];
	return n ? (uint64_t)(s / n) : 0;
}

double
sim_mom_default_floor(uint64_t configured, uint64_t usable)
{
	/* oVirt's VM dialog sets "Physical Memory Guaranteed" to memory size
	 * x 100 / the cluster's memory overcommit percent, and its scheduler
	 * only admits VMs while what they configure fits in that percent of
	 * the host: on a host at overcommit x the cluster is at least at
	 * 100 x percent. */
	if (configured <= usable || configured == 0)
		return 1.0;
	return (double)usable / (double)configured;
}

/* MOM's host and guest monitors: one sample into the 10-sample history. */
static void
sample_mom(struct sim_driver *d, struct sim_world *w)
{
	int slot = d->mom_n % 10;

	d->mom_free[slot] = free_bytes(w);
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		vm->mom_cur[slot] = (vm->conf - vm->balloon) * SIM_PAGE;
		vm->mom_unused[slot] = sim_vm_guest_unused(vm) * SIM_PAGE;
	}
	d->mom_n++;
}

static int
tick_mom(struct sim_driver *d, struct sim_world *w)
{
	if (d->mom_n == 0)
		sample_mom(d, w);
	int n = d->mom_n < 10 ? d->mom_n : 10;
	/* mem_available is MemTotal. */
	double host_free_pct = (double)avg10(d->mom_free, n) / (double)w->sc->total;
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		if (!sim_vm_has_balloon(w, vm))
			continue;
		struct sim_mom_guest g = {
			.cur = (vm->conf - vm->balloon) * SIM_PAGE,
			.cur_avg = avg10(vm->mom_cur, n),
			.unused_avg = avg10(vm->mom_unused, n),
			.max = vm->conf * SIM_PAGE,
			/* min_guarantee: oVirt's guaranteed memory, or the
			 * reservation when that is more. */
			.min = (uint64_t)(d->mom_floor * (double)(vm->conf * SIM_PAGE)),
		};
		if (g.min < vm->spec->reservation)
			g.min = vm->spec->reservation;
		if (g.min > g.max)
			g.min = g.max;
		uint64_t target;
		if (sim_mom_target(&target, host_free_pct, &g))
			sim_vm_set_balloon(w, vm, vm->conf - target / SIM_PAGE);
	}
	return 0;
}

/* ---- Xen squeezed (xapi-project/squeezed: lib/squeeze.ml) ------------- */

#define SQ_INACCURACY (4 * 1024ull)
#define SQ_HOST_TARGET (9 * SIM_MIB)
#define SQ_STUCK_NS (5 * SIM_NS)

double
sim_squeezed_targets(struct sim_sq_domain *d, size_t n, int64_t host_free,
		     uint64_t host_target)
{
	double surplus = (double)host_free - (double)host_target, range = 0;
	for (size_t i = 0; i < n; i++) {
		if (!d[i].active)
			continue;
		double freeable = (double)d[i].actual - (double)d[i].dyn_min - 2.0 * SQ_INACCURACY;
		surplus += freeable;
		range += (double)(d[i].dyn_max - d[i].dyn_min);
	}
	double gamma = range > 0 ? surplus / range : 1;
	if (gamma < 0)
		gamma = 0;
	if (gamma > 1)
		gamma = 1;
	for (size_t i = 0; i < n; i++) {
		if (!d[i].active) {
			d[i].target = d[i].actual;
			continue;
		}
		d[i].target = d[i].dyn_min + (uint64_t)(gamma * (double)(d[i].dyn_max - d[i].dyn_min));
	}
	return gamma;
}

static int
tick_squeezed(struct sim_driver *d, struct sim_world *w)
{
	const struct sim_scenario *sc = w->sc;
	struct sim_sq_domain dom[SIM_VMS_MAX];
	size_t n = 0, idx[SIM_VMS_MAX];
	int building[SIM_VMS_MAX];
	uint64_t xen_used = 0;

	/* Xen's accounting: a domain owns all of its non-balloon memory. A
	 * domain to be built before the next tick reserves its dynamic
	 * minimum now and is built at its target (reserve_memory_range). */
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		int build = !vm->running && w->host_model == SIM_HOST_XEN &&
			    vm->spec->start_ns <= w->now_ns + d->decide_ns;
		if (!vm->running && !build)
			continue;
		uint64_t conf = vm->conf * SIM_PAGE;
		uint64_t dyn_max = vm->spec->limit < conf ? vm->spec->limit : conf;
		uint64_t dyn_min = (uint64_t)(sc->squeezed_dyn_min * (double)conf);
		if (dyn_min < vm->spec->reservation)
			dyn_min = vm->spec->reservation;
		if (dyn_min > dyn_max)
			dyn_min = dyn_max;
		/* A domain without a balloon driver is built at its full size. */
		uint64_t actual = build ? (vm->spec->balloon ? dyn_min : conf)
					: (vm->conf - vm->balloon) * SIM_PAGE;
		xen_used += actual;
		if (!vm->spec->balloon || (!build && !sim_vm_has_balloon(w, vm)))
			continue;
		/* Stuck: a pending request without progress for 5 s. */
		int pending = vm->balloon != vm->balloon_target;
		if (pending && vm->balloon == vm->last_balloon && !build) {
			if (vm->stuck_since_ns == 0)
				vm->stuck_since_ns = w->now_ns;
		} else {
			vm->stuck_since_ns = 0;
		}
		vm->last_balloon = vm->balloon;
		vm->inactive = vm->stuck_since_ns && w->now_ns - vm->stuck_since_ns >= SQ_STUCK_NS;
		dom[n] = (struct sim_sq_domain){
			.dyn_min = dyn_min, .dyn_max = dyn_max, .actual = actual, .active = !vm->inactive,
		};
		building[n] = build;
		idx[n++] = i;
	}
	/* Negative while a domain was built before the others freed its
	 * memory (the world's shortcut for squeezed's reservation wait). */
	int64_t xen_free = (int64_t)(w->usable * SIM_PAGE) - (int64_t)xen_used;
	sim_squeezed_targets(dom, n, xen_free, SQ_HOST_TARGET);
	/* Two phases: while anyone must free memory, only freeing targets go out. */
	int freeing = 0;
	for (size_t j = 0; j < n; j++)
		freeing |= dom[j].active && !building[j] && dom[j].target < dom[j].actual;
	for (size_t j = 0; j < n; j++) {
		struct sim_vm *vm = &w->vms[idx[j]];
		if (!dom[j].active || (freeing && !building[j] && dom[j].target > dom[j].actual))
			continue;
		uint64_t t = dom[j].target / SIM_PAGE;
		sim_vm_set_balloon(w, vm, vm->conf > t ? vm->conf - t : 0);
	}
	return 0;
}

void
sim_driver_sample(struct sim_driver *d, struct sim_world *w)
{
	if (d->policy == SIM_POLICY_MOM)
		sample_mom(d, w);
}

/* ---- Senpai (facebookincubator/senpai, senpai.py's defaults) ----------- */

#define PSI_MAX_PROBE 0.01     /* --max-probe: at most 1 % per probe */
#define PSI_MAX_BACKOFF 1.0    /* --max-backoff: at most +100 % per backoff */
#define PSI_COEFF_PROBE 10.0   /* --coeff-probe */
#define PSI_COEFF_BACKOFF 20.0 /* --coeff-backoff */
#define PSI_MIN_SIZE (100 * SIM_MIB) /* --min-size */
#define PSI_MAX_SIZE (100 * SIM_GIB) /* --max-size */
#define PSI_TICK_NS SIM_NS     /* it reads memory.pressure every second */

double
sim_psi_factor(uint64_t stall_ns, uint64_t dt_ns, uint64_t pressure_ns, uint64_t interval_ns)
{
	if (dt_ns == 0)
		return 1;
	double rate = (double)stall_ns / (double)dt_ns, p = (double)pressure_ns;
	double iv = (double)interval_ns, tick = (double)PSI_TICK_NS, dt = (double)dt_ns;
	if (rate * iv > p) {
		/* Senpai integrates the stall every second since its last
		 * adjustment and backs off as soon as the integral passes the
		 * target: every max(1 s, P / rate), with err = integral / P. */
		double every = fmax(tick, p / rate);
		double err = fmax(1.0, rate * tick / p);
		double adj = fmin(pow(err / PSI_COEFF_BACKOFF, 2) * PSI_MAX_BACKOFF, PSI_MAX_BACKOFF);
		return pow(1 + adj, dt / every);
	}
	/* Below the target over a whole interval it probes: err = P / the
	 * integral over the interval (at least 1 us). */
	double err = p / fmax(rate * iv, 1000.0);
	double adj = fmin(pow(err / PSI_COEFF_PROBE, 2) * PSI_MAX_PROBE, PSI_MAX_PROBE);
	return pow(1 - adj, dt / iv);
}

/* One Senpai per VM (its cgroup): memory.high moves by Senpai's rule, and
 * the VM is reclaimed down to it through the kernel's LRU (cold pages
 * first). Pressure: every host swap-in the VM took in the window (faults
 * on its swapped working set, and pages it reused that were on host swap)
 * stalls it for psi_fault_cost. */
static int
tick_psi(struct sim_driver *d, struct sim_world *w)
{
	const struct sim_scenario *sc = w->sc;
	uint64_t dt = w->now_ns - d->psi_last_ns;

	d->psi_last_ns = w->now_ns;
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		if (!vm->running)
			continue;
		uint64_t faults = vm->ws_faults + vm->other_swapins;
		if (!vm->psi_init) {
			/* "Resetting limit to memory.current." */
			vm->psi_init = 1;
			vm->psi_limit = (double)sim_vm_consumed(vm);
			vm->psi_faults = faults;
			continue;
		}
		uint64_t stall = (faults - vm->psi_faults) * sc->psi_fault_ns;
		vm->psi_faults = faults;
		double l = vm->psi_limit * sim_psi_factor(stall, dt, sc->psi_pressure_ns,
							  sc->psi_interval_ns);
		l = fmax(l, (double)(PSI_MIN_SIZE / SIM_PAGE));
		l = fmin(l, (double)(PSI_MAX_SIZE / SIM_PAGE));
		vm->psi_limit = l;
		uint64_t c = sim_vm_consumed(vm);
		if ((double)c > l)
			vm->swapped_out += sim_vm_swap_out(w, vm, c - (uint64_t)l, SIM_SWAP_COLD);
	}
	return 0;
}

int
sim_driver_tick(struct sim_driver *d, struct sim_world *w)
{
	int r;
	switch (d->policy) {
	case SIM_POLICY_RECLAIM:
	case SIM_POLICY_PAPER: r = tick_library(d, w); break;
	case SIM_POLICY_SWAP: r = tick_swap_only(d, w); break;
	case SIM_POLICY_MOM: r = tick_mom(d, w); break;
	case SIM_POLICY_SQUEEZED: r = tick_squeezed(d, w); break;
	case SIM_POLICY_KERNEL: r = 0; break; /* the world's kernel reclaim is all */
	case SIM_POLICY_PSI: r = tick_psi(d, w); break;
	default: r = RECLAIM_E_INVAL;
	}
	if (!is_library(d->policy))
		d->last_state = band(d, w);
	if (r)
		d->error = r;
	return r;
}
