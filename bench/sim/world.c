/* SPDX-License-Identifier: MIT */
/* The simulated host and guests (model in bench/README.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
pages_of(uint64_t bytes)
{
	return bytes / SIM_PAGE;
}

/* Pages moved at rate bytes/s over dt, at least one page when the rate is
 * not zero so that slow rates still progress at coarse steps. */
static uint64_t
pages_at_rate(uint64_t rate, uint64_t dt_ns)
{
	if (rate == 0)
		return 0;
	double p = (double)rate * ((double)dt_ns / 1e9) / SIM_PAGE;
	return p < 1 ? 1 : (uint64_t)p;
}

uint64_t
sim_pick_count(struct reclaim_rng *rng, uint64_t n, uint64_t m, uint64_t k)
{
	if (m > n)
		m = n;
	if (k > n)
		k = n;
	if (k == 0 || m == 0)
		return 0;
	if (m == n)
		return k;
	if (k == n)
		return m;
	/* Draw the smaller of the picked and the unpicked sets. */
	int complement = k > n / 2;
	uint64_t draw = complement ? n - k : k, hits = 0, idx;
	/* Large draws pick whole chunks of pages, so that one call costs at
	 * most SIM_PICK_MAX draws whatever its size. */
	uint64_t chunk = (draw + SIM_PICK_MAX - 1) / SIM_PICK_MAX;
	uint64_t cn = n / chunk, cm = m / chunk, cd = draw / chunk;
	struct reclaim_pick pick;
	if (cd > cn)
		cd = cn;
	if (reclaim_pick_init(&pick, cn, cd, rng) != RECLAIM_OK)
		abort();
	while (reclaim_pick_next(&pick, &idx) == 1) {
		if (idx >= cm)
			break; /* increasing order: no more hits */
		hits++;
	}
	hits *= chunk;
	/* Pages left over by the rounding go by the expected share. */
	hits += (uint64_t)((double)(draw - cd * chunk) * (double)m / (double)n + 0.5);
	if (hits > m)
		hits = m;
	if (hits > draw)
		hits = draw;
	if (draw - hits > n - m)
		hits = draw - (n - m);
	return complement ? m - hits : hits;
}

uint64_t
sim_vm_held(const struct sim_world *w, const struct sim_vm *vm)
{
	if (w->host_model != SIM_HOST_XEN)
		return sim_vm_consumed(vm);
	return vm->running ? vm->conf - vm->balloon : 0;
}

/* Pages a balloon may hand back to its guest: on Xen only what the
 * hypervisor has free (populate_physmap fails beyond it). */
static uint64_t
host_grant(const struct sim_world *w, uint64_t pages)
{
	if (w->host_model != SIM_HOST_XEN)
		return pages;
	int64_t f = (int64_t)w->usable;
	for (size_t i = 0; i < w->n_vms; i++)
		f -= (int64_t)sim_vm_held(w, &w->vms[i]);
	return f > 0 ? min_u64(pages, (uint64_t)f) : 0;
}

int
sim_vm_has_balloon(const struct sim_world *w, const struct sim_vm *vm)
{
	const struct sim_vm_spec *s = vm->spec;
	return s->balloon && vm->running && w->now_ns >= s->start_ns + s->balloon_delay_ns;
}

int
sim_vm_balloon_moving(const struct sim_world *w, const struct sim_vm *vm)
{
	return sim_vm_has_balloon(w, vm) && w->now_ns < vm->spec->balloon_stall_ns;
}

uint64_t
sim_vm_ws_want(const struct sim_world *w, const struct sim_vm *vm)
{
	const struct sim_vm_spec *s = vm->spec;
	uint64_t t = w->now_ns, bytes = 0;

	if (!vm->running)
		return 0;
	if (s->trace_col >= 0) {
		const struct sim_trace *tr = &w->sc->trace;
		uint64_t row = t / tr->step_ns;
		double frac = (double)(t % tr->step_ns) / (double)tr->step_ns;
		if (row + 1 >= tr->n_rows) {
			row = tr->n_rows - 1;
			frac = 0;
		}
		double a = (double)tr->used[row * tr->n_vms + (size_t)s->trace_col];
		double b = (double)tr->used[(row + (frac > 0)) * tr->n_vms + (size_t)s->trace_col];
		bytes = (uint64_t)(a + (b - a) * frac);
		uint64_t base = (uint64_t)(s->ws_base_fraction * (double)(vm->conf * SIM_PAGE));
		bytes += min_u64(base, s->ws_base_max);
	} else {
		/* i = the number of points at or before t. */
		size_t i = 0, hi = s->n_ws;
		while (i < hi) {
			size_t mid = (i + hi) / 2;
			if (s->ws[mid].t_ns <= t)
				i = mid + 1;
			else
				hi = mid;
		}
		if (i > 0) {
			bytes = s->ws[i - 1].bytes;
			if (s->ws_linear && i < s->n_ws) {
				const struct sim_point *a = &s->ws[i - 1], *b = &s->ws[i];
				double f = (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
				bytes = (uint64_t)((double)a->bytes + f * ((double)b->bytes - (double)a->bytes));
			}
		}
	}
	if (s->boot_touch && t < s->start_ns + s->boot_ns && bytes < s->boot_touch)
		bytes = s->boot_touch;
	return min_u64(pages_of(bytes), vm->conf);
}

/* Takes up to n pages of unused guest memory for new use; returns how many,
 * and how many of them were backed by host swap (*swapped). */
static uint64_t
take_unused(struct sim_world *w, struct sim_vm *vm, uint64_t n, uint64_t *swapped)
{
	uint64_t unused = sim_vm_guest_unused(vm);
	uint64_t a = min_u64(n, unused);
	uint64_t mapped_free = vm->free_res + vm->free_swp;
	uint64_t x = sim_pick_count(&w->rng, unused, mapped_free, a);
	uint64_t y = sim_pick_count(&w->rng, mapped_free, vm->free_swp, x);
	vm->free_res -= x - y;
	vm->free_swp -= y;
	w->swap_used -= y;
	*swapped = y;
	return a;
}

/* Drops up to n cache pages; returns how many (*swapped as above). */
static uint64_t
drop_cache(struct sim_world *w, struct sim_vm *vm, uint64_t n, uint64_t *swapped)
{
	uint64_t c = min_u64(n, sim_vm_cache(vm));
	uint64_t z = sim_pick_count(&w->rng, sim_vm_cache(vm), vm->cache_swp, c);
	vm->cache_res -= c - z;
	vm->cache_swp -= z;
	w->swap_used -= z;
	*swapped = z;
	return c;
}

/* New anonymous pages in guest RAM: free memory first, then page cache. */
static uint64_t
alloc_anon(struct sim_world *w, struct sim_vm *vm, uint64_t n)
{
	uint64_t sw1, sw2 = 0;
	uint64_t a = take_unused(w, vm, n, &sw1);
	uint64_t c = a < n ? drop_cache(w, vm, n - a, &sw2) : 0;
	/* Reused pages that were on host swap are faulted in when written. */
	vm->other_swapins += sw1 + sw2;
	vm->ws_res += a + c;
	return a + c;
}

uint64_t
sim_vm_guest_take(struct sim_world *w, struct sim_vm *vm, uint64_t n)
{
	uint64_t sw;
	uint64_t a = take_unused(w, vm, n, &sw);
	uint64_t c = a < n ? drop_cache(w, vm, n - a, &sw) : 0;
	uint64_t got = a + c;
	if (got < n && vm->gswap < vm->gswap_size) {
		/* Guest pages anon out to its own swap; a host-swapped page has
		 * to be read back first (double paging). */
		uint64_t e = min_u64(min_u64(n - got, sim_vm_anon(vm)), vm->gswap_size - vm->gswap);
		uint64_t y = sim_pick_count(&w->rng, sim_vm_anon(vm), vm->ws_swp, e);
		vm->ws_swp -= y;
		vm->ws_res -= e - y;
		w->swap_used -= y;
		vm->other_swapins += y;
		vm->gswap += e;
		vm->guest_swapped += e;
		got += e;
	}
	return got;
}

uint64_t
sim_vm_swap_out(struct sim_world *w, struct sim_vm *vm, uint64_t pages, int pick)
{
	uint64_t res = sim_vm_consumed(vm);
	uint64_t k = min_u64(min_u64(pages, res), w->swap_size - w->swap_used);
	uint64_t a, b;
	if (pick == SIM_SWAP_COLD) {
		/* The LRU's order: backed free memory and page cache (never
		 * touched again) before any working-set page. */
		uint64_t f = min_u64(k, vm->free_res);
		b = min_u64(k - f, vm->cache_res);
		a = k - f - b;
	} else {
		a = sim_pick_count(&w->rng, res, vm->ws_res, k);
		b = sim_pick_count(&w->rng, res - vm->ws_res, vm->cache_res, k - a);
	}
	vm->ws_res -= a;
	vm->ws_swp += a;
	vm->cache_res -= b;
	vm->cache_swp += b;
	vm->free_res -= k - a - b;
	vm->free_swp += k - a - b;
	w->swap_used += k;
	return k;
}

void
sim_vm_set_balloon(struct sim_world *w, struct sim_vm *vm, uint64_t pages)
{
	(void)w;
	vm->balloon_target = pages;
}

static void
estimator_start(struct sim_world *w, struct sim_vm *vm)
{
	uint64_t mapped = sim_vm_mapped(vm);
	uint32_t n = (uint32_t)min_u64(w->sample_pages, mapped);
	vm->n_samples = n;
	vm->touched = 0;
	vm->period_end_ns = w->now_ns + w->sample_period_ns;
	if (n)
		reclaim_pick_pages(&w->rng, mapped, n, vm->samples);
}

/* Sampled pages inside the working set (anon comes first in the layout). */
static uint32_t
estimator_touched(const struct sim_vm *vm)
{
	uint64_t anon = sim_vm_anon(vm);
	uint32_t lo = 0, hi = vm->n_samples;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (vm->samples[mid] < anon)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
estimator_step(struct sim_world *w, struct sim_vm *vm)
{
	uint32_t t = estimator_touched(vm);
	if (t > vm->touched)
		vm->touched = t;
	if (w->now_ns >= vm->period_end_ns) {
		reclaim_estimator_period(&vm->est, vm->n_samples, vm->touched);
		estimator_start(w, vm);
	} else if (vm->n_samples) {
		reclaim_estimator_progress(&vm->est, vm->n_samples, vm->touched);
	}
}

static uint64_t
trace_conf(const struct sim_world *w, const struct sim_vm *vm)
{
	const struct sim_trace *tr = &w->sc->trace;
	uint64_t row = min_u64(w->now_ns / tr->step_ns, tr->n_rows - 1);
	return pages_of(tr->provisioned[row * tr->n_vms + (size_t)vm->spec->trace_col]);
}

static void
vm_step(struct sim_world *w, struct sim_vm *vm, uint64_t dt_ns)
{
	const struct sim_vm_spec *s = vm->spec;

	if (!vm->running) {
		if (w->now_ns < s->start_ns)
			return;
		vm->running = 1;
		/* Xen builds the domain at its balloon target (squeezed
		 * reserved the memory for it). */
		if (w->host_model == SIM_HOST_XEN && s->balloon)
			vm->balloon = min_u64(vm->balloon_target, vm->conf);
		estimator_start(w, vm);
	}
	if (s->trace_col >= 0) {
		uint64_t want = trace_conf(w, vm);
		if (want > vm->conf && w->host_model == SIM_HOST_XEN && s->balloon) {
			/* Xen: raising a domain's maximum allocates nothing;
			 * the new memory starts out ballooned. */
			vm->balloon += want - vm->conf;
			vm->balloon_target += want - vm->conf;
			vm->conf = want;
		} else if (want > vm->conf)
			vm->conf = want;
		else if (want < vm->conf) {
			/* Unplugging takes what the balloon holds first: those
			 * pages are the host's already, and a guest that loses
			 * memory it does not use is not pushed toward its OOM
			 * killer. The rest the guest gives up as it would to a
			 * balloon. */
			uint64_t cut = vm->conf - want, held = min_u64(cut, vm->balloon);

			vm->balloon -= held;
			vm->balloon_target = vm->balloon_target > held ? vm->balloon_target - held : 0;
			vm->conf -= held;
			vm->conf -= sim_vm_guest_take(w, vm, cut - held);
		}
	}
	if (vm->blocked) {
		vm->blocked_ns += dt_ns;
		return;
	}
	if (sim_vm_balloon_moving(w, vm)) {
		uint64_t t = min_u64(vm->balloon_target, vm->conf);
		if (t > vm->balloon) {
			uint64_t want = min_u64(t - vm->balloon, pages_at_rate(s->balloon_rate, dt_ns));
			uint64_t got = sim_vm_guest_take(w, vm, want);
			vm->balloon += got;
			vm->inflated += got;
		} else if (t < vm->balloon) {
			vm->balloon -= host_grant(w, min_u64(vm->balloon - t,
							     pages_at_rate(s->deflate_rate, dt_ns)));
		}
	}

	/* Working set: grow into free memory and cache, overflow to guest
	 * swap; past guest swap the OOM killer runs. */
	uint64_t want = sim_vm_ws_want(w, vm);
	uint64_t have = sim_vm_anon(vm) + vm->gswap;
	if (want > have) {
		uint64_t g = want - have;
		uint64_t got = alloc_anon(w, vm, g);
		uint64_t room = vm->gswap < vm->gswap_size ? vm->gswap_size - vm->gswap : 0;
		vm->gswap += g - got;
		vm->guest_swapped += min_u64(g - got, room);
	} else if (want < have) {
		uint64_t d = have - want;
		uint64_t f = min_u64(d, vm->gswap);
		vm->gswap -= f;
		d -= f;
		uint64_t y = sim_pick_count(&w->rng, sim_vm_anon(vm), vm->ws_swp, d);
		vm->ws_swp -= y;
		vm->ws_res -= d - y;
		vm->free_swp += y;
		vm->free_res += d - y;
	}
	if (vm->gswap > 0 && sim_vm_guest_unused(vm) + sim_vm_cache(vm) > 0)
		vm->gswap -= alloc_anon(w, vm, vm->gswap);
	if (vm->gswap > vm->gswap_size && s->deflate_on_oom && vm->balloon &&
	    sim_vm_balloon_moving(w, vm)) {
		/* VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the driver's OOM notifier
		 * hands back balloon pages, 1 MiB (256 pages) per call, until
		 * the allocation fits or the balloon is empty. The driver
		 * does not inflate again until the host sets a target anew. */
		uint64_t need = vm->gswap - vm->gswap_size;
		uint64_t d = host_grant(w, min_u64((need + 255) / 256 * 256, vm->balloon));
		vm->balloon -= d;
		vm->balloon_target = vm->balloon;
		vm->oom_deflated += d;
		vm->gswap -= alloc_anon(w, vm, min_u64(d, vm->gswap));
	}
	if (vm->gswap > vm->gswap_size) {
		if (!vm->oom)
			vm->oom_events++;
		vm->oom = 1;
		vm->gswap = vm->gswap_size; /* the killed process's memory */
	} else if (want <= sim_vm_anon(vm) + vm->gswap_size) {
		vm->oom = 0;
	}

	/* Host-swapped working-set pages fault back in as they are touched:
	 * each at rate 1/touch, so a share 1 - e^(-dt/touch) of them within
	 * dt, whatever the step. */
	if (vm->ws_swp) {
		double p = -expm1(-(double)dt_ns / (double)w->sc->touch_ns);
		uint64_t n = (uint64_t)ceil((double)vm->ws_swp * p);
		n = min_u64(n, vm->ws_swp);
		vm->ws_swp -= n;
		vm->ws_res += n;
		w->swap_used -= n;
		vm->ws_faults += n;
	}

	/* Page cache grows into free guest memory. */
	uint64_t c = min_u64(pages_at_rate(s->cache_rate, dt_ns), sim_vm_guest_unused(vm));
	if (c) {
		uint64_t sw;
		uint64_t got = take_unused(w, vm, c, &sw);
		vm->other_swapins += sw;
		vm->cache_res += got;
	}
	estimator_step(w, vm);
}

void
sim_world_account(struct sim_world *w)
{
	uint64_t used = 0;
	for (size_t i = 0; i < w->n_vms; i++)
		used += sim_vm_held(w, &w->vms[i]);
	w->free = (int64_t)w->usable - (int64_t)used;
}

/* Below the emergency floor the host's own kernel swaps, as Linux would:
 * one LRU over all guests' memory, so cold pages (outside any working set)
 * of every VM go first, in proportion to what each holds of them; working
 * sets only once no cold page is left, in proportion to their size. */
static void
emergency_reclaim(struct sim_world *w)
{
	if (w->free >= (int64_t)w->emergency || w->host_model == SIM_HOST_XEN)
		return;
	uint64_t need = (uint64_t)((int64_t)w->emergency - w->free), cold = 0, hot = 0;
	for (size_t i = 0; i < w->n_vms; i++) {
		cold += w->vms[i].free_res + w->vms[i].cache_res;
		hot += w->vms[i].ws_res;
	}
	uint64_t from_cold = min_u64(need, cold), from_hot = min_u64(need - from_cold, hot);
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		uint64_t c = vm->free_res + vm->cache_res, part = 0;
		if (cold)
			part = min_u64(c, (uint64_t)ceil((double)from_cold * (double)c / (double)cold));
		if (hot)
			part += min_u64(vm->ws_res, (uint64_t)ceil((double)from_hot * (double)vm->ws_res /
								   (double)hot));
		vm->forced_out += sim_vm_swap_out(w, vm, part, SIM_SWAP_COLD);
	}
	sim_world_account(w);
}

void
sim_world_step(struct sim_world *w, uint64_t dt_ns)
{
	w->now_ns += dt_ns;
	for (size_t i = 0; i < w->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		vm_step(w, vm, dt_ns);
		/* Episodes: one starts when the guest runs out of memory and
		 * ends once it has been clear of OOM for oom_clear_ns. */
		if (vm->oom) {
			vm->oom_ns += dt_ns;
			if (!vm->in_episode)
				vm->oom_episodes++;
			vm->in_episode = 1;
			vm->oom_last_ns = w->now_ns;
		} else if (vm->in_episode && w->now_ns - vm->oom_last_ns >= w->sc->oom_clear_ns) {
			vm->in_episode = 0;
		}
	}
	sim_world_account(w);
	emergency_reclaim(w);
	if (w->free < 0)
		w->host_oom_ns += dt_ns;
}

int
sim_world_init(struct sim_world *w, const struct sim_scenario *sc, uint64_t seed,
	       const struct reclaim_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->sc = sc;
	reclaim_rng_seed(&w->rng, seed);
	w->usable = pages_of(sc->total - sc->reserved);
	w->swap_size = pages_of(sc->host_swap);
	w->emergency = w->usable / 200;
	w->sample_pages = cfg->sample_pages ? min_u64(cfg->sample_pages, SIM_SAMPLE_MAX) : 100;
	w->sample_period_ns = cfg->sample_period_ns ? cfg->sample_period_ns : 30 * SIM_NS;
	w->n_vms = sc->n_vms;
	w->vms = calloc(sc->n_vms, sizeof(*w->vms));
	if (!w->vms)
		return -1;
	for (size_t i = 0; i < sc->n_vms; i++) {
		struct sim_vm *vm = &w->vms[i];
		vm->spec = &sc->vms[i];
		vm->conf = pages_of(sc->vms[i].configured);
		if (sc->vms[i].trace_col >= 0)
			vm->conf = trace_conf(w, vm);
		vm->gswap_size = pages_of(sc->vms[i].guest_swap);
		vm->shares = sim_vm_shares(&sc->vms[i]);
		if (reclaim_estimator_init(&vm->est, sizeof(vm->est), cfg) != RECLAIM_OK) {
			free(w->vms);
			w->vms = NULL;
			return -1;
		}
	}
	sim_world_account(w);
	return 0;
}

void
sim_world_set_host(struct sim_world *w, int host_model)
{
	w->host_model = host_model;
	if (host_model == SIM_HOST_XEN)
		w->swap_size = 0; /* Xen does not demand-page guests */
	sim_world_account(w);
}

void
sim_world_free(struct sim_world *w)
{
	free(w->vms);
	w->vms = NULL;
}
