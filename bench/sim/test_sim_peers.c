/* SPDX-License-Identifier: MIT */
/* The baselines' published rules (MOM, squeezed), swap-only, and fairness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sim.h"

#define MB(x) ((uint64_t)(x) * SIM_MIB)
#define PAGES_OF(b) ((uint64_t)(b) / SIM_PAGE)

static uint64_t
mom(double host_free_pct, uint64_t cur, uint64_t unused, uint64_t max, uint64_t min, int *changed)
{
	struct sim_mom_guest g = {.cur = MB(cur), .cur_avg = MB(cur), .unused_avg = MB(unused),
				  .max = MB(max), .min = MB(min)};
	uint64_t t = 0;
	*changed = sim_mom_target(&t, host_free_pct, &g);
	return (t + SIM_MIB / 2) / SIM_MIB;
}

static void
mom_shrinks_at_most_five_percent(void **state)
{
	(void)state;
	int c;
	/* 10 % host free: guest_free_pct 0.1, floor = used + 0.1 cur = 500. */
	assert_int_equal(mom(0.10, 1000, 600, 1000, 0, &c), 950);
	assert_true(c);
	/* Floor wins near the end: used 410 + 48 = 458 > 0.95 * 480. */
	assert_int_equal(mom(0.10, 480, 70, 1000, 0, &c), 458);
	/* Page cache counts as used: a guest without MemFree is left alone. */
	mom(0.10, 1000, 100, 1000, 0, &c);
	assert_false(c);
	/* min_guarantee holds. */
	assert_int_equal(mom(0.10, 1000, 900, 1000, 980, &c), 980);
}

static void
mom_critical_forces_the_guest_to_swap(void **state)
{
	(void)state;
	int c;
	/* 3 % host free: guest_free_pct = 0.03 - 0.05 < 0: the floor drops
	 * below what the guest uses. */
	assert_int_equal(mom(0.03, 1000, 100, 1000, 0, &c), 950);
	assert_int_equal(mom(0.03, 900, 0, 1000, 0, &c), 882);
	assert_true(c);
}

static void
mom_grows_when_free(void **state)
{
	(void)state;
	int c;
	assert_int_equal(mom(0.30, 500, 100, 1000, 0, &c), 525);
	/* Grows at once to used + 20 % when that is more than 5 %. */
	assert_int_equal(mom(0.30, 500, 0, 1000, 0, &c), 600);
	assert_int_equal(mom(0.30, 990, 0, 1000, 0, &c), 1000);
	mom(0.30, 1000, 0, 1000, 0, &c);
	assert_false(c);
}

static void
mom_floor_is_ovirts_guaranteed_memory(void **state)
{
	(void)state;
	/* 150 GiB configured on 100 GiB: a 150 % cluster, 2/3 guaranteed. */
	assert_in_range((uint64_t)(sim_mom_default_floor(150 * SIM_GIB, 100 * SIM_GIB) * 1000), 666,
			667);
	assert_true(sim_mom_default_floor(250 * SIM_GIB, 100 * SIM_GIB) == 0.4);
	/* No overcommit: the whole VM is guaranteed, MOM never balloons. */
	assert_true(sim_mom_default_floor(50 * SIM_GIB, 100 * SIM_GIB) == 1.0);
}

struct mom_obs {
	uint64_t decisions, bad_samples, below_floor, floor_pages[2], ballooned;
};

static void
mom_observe(void *ctx, const struct sim_world *w, const struct sim_driver *d)
{
	struct mom_obs *o = ctx;
	/* Monitors every 5 s, one sample at t = 0: now / 5 s + 1 samples. */
	if ((uint64_t)d->mom_n != w->now_ns / (5 * SIM_NS) + 1)
		o->bad_samples++;
	if (w->now_ns % (10 * SIM_NS))
		o->bad_samples++; /* the policy runs every 10 s */
	o->decisions++;
	for (size_t i = 0; i < 2; i++) {
		const struct sim_vm *vm = &w->vms[i];
		if (vm->conf - vm->balloon_target < o->floor_pages[i])
			o->below_floor++;
		if (vm->balloon > o->ballooned)
			o->ballooned = vm->balloon;
	}
}

static void
mom_samples_every_5s_and_holds_the_floor(void **state)
{
	(void)state;
	static struct sim_scenario sc;
	char err[256];
	/* 8 GiB configured on 4 GiB usable: guaranteed 50 %; decide = 1 s in
	 * the scenario, but MOM keeps its own 10 s. */
	int r = sim_scenario_parse(&sc,
				   "[run]\nduration = 30m\ndecide = 1s\npolicies = mom\n"
				   "[host]\ntotal = 4G\nreserved = 0\n"
				   "[defaults]\ncache_rate = 16M\nguest_swap = 4G\n"
				   "[vm a]\nconfigured = 4G\nws = 0 1G; 10m 3G\n"
				   "[vm b]\nconfigured = 4G\nws = 0 3G\n",
				   ".", "t", err, sizeof(err));
	assert_int_equal(r, 0);
	struct mom_obs o = {.floor_pages = {PAGES_OF(2 * SIM_GIB), PAGES_OF(2 * SIM_GIB)}};
	struct sim_metrics m;
	struct sim_run_opts opt = {.policy = SIM_POLICY_MOM, .observe = mom_observe, .ctx = &o};
	assert_int_equal(sim_run(&m, &sc, &opt), 0);
	assert_int_equal(o.decisions, 180);
	assert_int_equal(o.bad_samples, 0);
	assert_int_equal(o.below_floor, 0);
	/* It did balloon, down to the floor (within MOM's 0.25 % dead band). */
	assert_in_range(o.ballooned, PAGES_OF(2 * SIM_GIB) * 99 / 100, PAGES_OF(2 * SIM_GIB));
	/* A floor of 0 (mom_guaranteed = 0) lets it go further. */
	sc.mom_guaranteed = 0;
	o = (struct mom_obs){.floor_pages = {0, 0}};
	assert_int_equal(sim_run(&m, &sc, &opt), 0);
	assert_true(o.ballooned > PAGES_OF(2 * SIM_GIB));
}

static void
squeezed_is_proportional_to_dynamic_range(void **state)
{
	(void)state;
	struct sim_sq_domain d[3] = {
		{.dyn_min = MB(100), .dyn_max = MB(300), .actual = MB(300), .active = 1},
		{.dyn_min = MB(100), .dyn_max = MB(500), .actual = MB(300), .active = 1},
		{.dyn_min = MB(200), .dyn_max = MB(400), .actual = MB(300), .active = 1},
	};
	/* Surplus = 0 + (200 + 200 + 100) - 200 (target) = 300 of a range 800. */
	double g = sim_squeezed_targets(d, 3, 0, MB(200));
	assert_in_range((uint64_t)(g * 1000), 374, 375);
	assert_in_range(d[0].target / SIM_MIB, 174, 175);
	assert_in_range(d[1].target / SIM_MIB, 249, 250);
	assert_in_range(d[2].target / SIM_MIB, 274, 275);
	/* Plenty of memory: everyone at dynamic max. */
	g = sim_squeezed_targets(d, 3, MB(10000), MB(9));
	assert_true(g == 1.0);
	assert_int_equal(d[1].target, MB(500));
	/* Scarce: everyone at dynamic min. */
	g = sim_squeezed_targets(d, 3, 0, MB(5000));
	assert_true(g == 0.0);
	assert_int_equal(d[2].target, MB(200));
}

static void
squeezed_stuck_domain_is_held(void **state)
{
	(void)state;
	struct sim_sq_domain d[2] = {
		{.dyn_min = MB(100), .dyn_max = MB(300), .actual = MB(300), .active = 0},
		{.dyn_min = MB(100), .dyn_max = MB(300), .actual = MB(300), .active = 1},
	};
	/* Only the active domain moves: surplus 200 - 100 over its range 200. */
	double g = sim_squeezed_targets(d, 2, 0, MB(100));
	assert_in_range((uint64_t)(g * 1000), 499, 500);
	assert_int_equal(d[0].target, MB(300));
	assert_in_range(d[1].target / SIM_MIB, 199, 200);
}

static void
squeezed_on_xen_keeps_its_slush_without_host_swap(void **state)
{
	(void)state;
	static struct sim_scenario sc;
	char err[256];
	int r = sim_scenario_parse(&sc,
				   "[run]\nduration = 2h\ndecide = 10s\nstep = 5s\npolicies = squeezed\n"
				   "[host]\novercommit = 1.5\nreserved = 0\n"
				   "[defaults]\ncache_rate = 4M\n"
				   "[vm a]\nconfigured = 4G\nws = 0 1G; 30m 2500M\n"
				   "[vm b]\nconfigured = 4G\nws = 0 2G\n"
				   "[vm c]\nconfigured = 4G\nws = 0 500M\n",
				   ".", "t", err, sizeof(err));
	assert_int_equal(r, 0);
	assert_int_equal(sc.squeezed_host, SIM_HOST_XEN);
	struct sim_metrics m;
	struct sim_run_opts o = {.policy = SIM_POLICY_SQUEEZED};
	assert_int_equal(sim_run(&m, &sc, &o), 0);
	/* Domains are built at their targets and free memory stays at the
	 * 9 MiB slush; nothing is ever host-swapped. */
	assert_in_range((uint64_t)m.min_free / SIM_MIB, 8, 9);
	assert_int_equal(m.host_oom_ns, 0);
	assert_int_equal(m.forced_out, 0);
	assert_int_equal(m.ws_faults, 0);
	assert_true(m.balloon_peak >= 4 * SIM_GIB - 64 * SIM_MIB);
	/* The same policy on a demand-paged Linux host trips the host
	 * kernel's reclaim (floor 0.5 % of usable, 41 MiB here). */
	r = sim_scenario_parse(&sc,
			       "[run]\nduration = 2h\ndecide = 10s\nstep = 5s\npolicies = squeezed\n"
			       "squeezed_host = linux\n"
			       "[host]\novercommit = 1.5\nreserved = 0\n"
			       "[defaults]\ncache_rate = 4M\n"
			       "[vm a]\nconfigured = 4G\nws = 0 1G; 30m 2500M\n"
			       "[vm b]\nconfigured = 4G\nws = 0 2G\n"
			       "[vm c]\nconfigured = 4G\nws = 0 500M\n",
			       ".", "t", err, sizeof(err));
	assert_int_equal(r, 0);
	assert_int_equal(sim_run(&m, &sc, &o), 0);
	assert_true(m.forced_out > 0);
}

static void
psi_follows_senpais_rule(void **state)
{
	(void)state;
	const uint64_t p = 10 * 1000 * 1000, iv = 6 * SIM_NS;
	/* No stall: the full 1 % probe every 6 s. */
	assert_true(fabs(sim_psi_factor(0, 6 * SIM_NS, p, iv) - 0.99) < 1e-12);
	assert_true(fabs(sim_psi_factor(0, 12 * SIM_NS, p, iv) - 0.99 * 0.99) < 1e-12);
	/* At the target (10 ms per 6 s): a probe of (1/10)^2 x 1 %. */
	assert_true(fabs(sim_psi_factor(p, iv, p, iv) - (1 - 1e-4)) < 1e-12);
	/* 1 ms per 6 s: err = 10, still the full probe. */
	assert_true(fabs(sim_psi_factor(p / 10, iv, p, iv) - 0.99) < 1e-12);
	/* 20 ms in 6 s: backs off every 3 s by (1/20)^2 = 0.25 %. */
	assert_true(fabs(sim_psi_factor(2 * p, iv, p, iv) - 1.0025 * 1.0025) < 1e-12);
	/* 200 ms a second (err 20 at the first second): doubles every second. */
	assert_true(fabs(sim_psi_factor(4 * SIM_NS / 10, 2 * SIM_NS, p, iv) - 4.0) < 1e-9);
	assert_true(sim_psi_factor(0, 0, p, iv) == 1.0);
}

static const char *psi_vm =
	"[run]\nduration = 3h\ndecide = 10s\nstep = 5s\npolicies = psi\n"
	"[host]\ntotal = 16G\nreserved = 0\n"
	"[vm a]\nconfigured = 4G\nguest_swap = 1G\ncache_rate = 16M\n";

struct psi_obs {
	uint64_t consumed, faults_late, late_ns;
	uint64_t faults_at_2h;
};

static void
psi_observe(void *ctx, const struct sim_world *w, const struct sim_driver *d)
{
	struct psi_obs *o = ctx;
	(void)d;
	const struct sim_vm *vm = &w->vms[0];
	o->consumed = sim_vm_consumed(vm);
	if (w->now_ns == 2 * 3600 * SIM_NS)
		o->faults_at_2h = vm->ws_faults + vm->other_swapins;
	if (w->now_ns > 2 * 3600 * SIM_NS)
		o->faults_late = vm->ws_faults + vm->other_swapins - o->faults_at_2h;
}

static void
psi_reclaims_cold_memory_and_holds_its_pressure(void **state)
{
	(void)state;
	static struct sim_scenario sc;
	static char text[1024];
	char err[256];
	snprintf(text, sizeof(text), "%sws = 0 1G\n", psi_vm);
	assert_int_equal(sim_scenario_parse(&sc, text, ".", "t", err, sizeof(err)), 0);
	struct psi_obs o = {0};
	struct sim_metrics m;
	struct sim_run_opts opt = {.policy = SIM_POLICY_PSI, .observe = psi_observe, .ctx = &o};
	assert_int_equal(sim_run(&m, &sc, &opt), 0);
	/* The guest fills its 4 GiB with page cache; psi swaps the cold 3 GiB
	 * out and sits just below the 1 GiB working set, */
	assert_true(m.swapped_out > 2 * SIM_GIB);
	assert_in_range(o.consumed * SIM_PAGE / SIM_MIB, 900, 1024);
	assert_int_equal(m.balloon_peak, 0);
	/* where its faults cost about the target: 10 ms per 6 s at 100 us a
	 * fault is 16.7 faults/s, 60,000 an hour. */
	print_message("# psi: %llu faults in the last hour\n", (unsigned long long)o.faults_late);
	assert_in_range(o.faults_late, 30000, 120000);
	/* A higher target lets it take more: fewer pages left, more faults. */
	sc.psi_pressure_ns *= 10;
	struct psi_obs hi = {0};
	opt.ctx = &hi;
	assert_int_equal(sim_run(&m, &sc, &opt), 0);
	assert_true(hi.consumed < o.consumed);
	assert_true(hi.faults_late > 5 * o.faults_late);
}

static void
kernel_only_swaps_cold_pages_at_the_floor(void **state)
{
	(void)state;
	static struct sim_scenario sc;
	char err[256];
	/* 8 GiB configured on 4 GiB; page cache fills the guests. */
	int r = sim_scenario_parse(&sc,
				   "[run]\nduration = 1h\ndecide = 10s\nstep = 5s\npolicies = kernel-only\n"
				   "[host]\ntotal = 4G\nreserved = 0\n"
				   "[defaults]\ncache_rate = 16M\n"
				   "[vm a]\nconfigured = 4G\nws = 0 1G\n"
				   "[vm b]\nconfigured = 4G\nws = 0 1500M\n",
				   ".", "t", err, sizeof(err));
	assert_int_equal(r, 0);
	struct sim_metrics m;
	struct sim_run_opts o = {.policy = SIM_POLICY_KERNEL};
	assert_int_equal(sim_run(&m, &sc, &o), 0);
	/* No balloon, no policy: the host kernel swaps, and only cold pages,
	 * holding free memory at its floor (0.5 %, 20 MiB). */
	assert_int_equal(m.balloon_peak, 0);
	assert_int_equal(m.swapped_out, 0);
	assert_true(m.forced_out > 2 * SIM_GIB);
	assert_int_equal(m.ws_faults, 0);
	assert_in_range((uint64_t)m.min_free / SIM_MIB, 19, 21);
	assert_true(m.band_ns[RECLAIM_STATE_LOW] > sc.duration_ns / 2);
}

static void
fairness_against_shares(void **state)
{
	(void)state;
	uint64_t shares[2] = {100, 100}, max[2] = {1000, 1000};
	uint64_t even[2] = {400, 400}, skew[2] = {800, 0}, capped_max[2] = {100, 1000};
	uint64_t capped[2] = {100, 300}, wshares[2] = {100, 300}, weighted[2] = {100, 300};
	assert_true(sim_fairness(even, shares, max, 2) > 0.999);
	assert_true(sim_fairness(skew, shares, max, 2) < 0.501);
	assert_true(sim_fairness(skew, shares, max, 2) > 0.499);
	/* A VM capped by its max leaves the rest to the other. */
	assert_true(sim_fairness(capped, shares, capped_max, 2) > 0.999);
	assert_true(sim_fairness(weighted, wshares, max, 2) > 0.999);
	assert_true(sim_fairness(even, wshares, max, 2) < 0.8);
}

static void
swap_only_restores_the_high_threshold(void **state)
{
	(void)state;
	static struct sim_scenario sc;
	char err[256];
	int r = sim_scenario_parse(&sc,
				   "[run]\nduration = 10m\ndecide = 1s\npolicies = swap-only\n"
				   "[host]\ntotal = 4G\nreserved = 0\n"
				   "[vm a]\nconfigured = 3G\ncache_rate = 64M\nws = 0 1G\n"
				   "[vm b]\nconfigured = 2G\ncache_rate = 0\nws = 0 1G\n",
				   ".", "t", err, sizeof(err));
	assert_int_equal(r, 0);
	struct sim_metrics m;
	struct sim_run_opts o = {.policy = SIM_POLICY_SWAP};
	assert_int_equal(sim_run(&m, &sc, &o), 0);
	assert_true(m.swapped_out > 0);
	assert_int_equal(m.balloon_peak, 0);
	/* It reacts below 4 % (163 MiB) and never lets the host's own
	 * emergency reclaim (0.5 %) run. */
	assert_int_equal(m.forced_out, 0);
	assert_true(m.min_free > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mom_shrinks_at_most_five_percent),
		cmocka_unit_test(mom_critical_forces_the_guest_to_swap),
		cmocka_unit_test(mom_grows_when_free),
		cmocka_unit_test(mom_floor_is_ovirts_guaranteed_memory),
		cmocka_unit_test(mom_samples_every_5s_and_holds_the_floor),
		cmocka_unit_test(squeezed_is_proportional_to_dynamic_range),
		cmocka_unit_test(squeezed_stuck_domain_is_held),
		cmocka_unit_test(squeezed_on_xen_keeps_its_slush_without_host_swap),
		cmocka_unit_test(psi_follows_senpais_rule),
		cmocka_unit_test(psi_reclaims_cold_memory_and_holds_its_pressure),
		cmocka_unit_test(kernel_only_swaps_cold_pages_at_the_floor),
		cmocka_unit_test(fairness_against_shares),
		cmocka_unit_test(swap_only_restores_the_high_threshold),
	};
	return cmocka_run_group_tests_name("sim_peers", tests, NULL, NULL);
}
