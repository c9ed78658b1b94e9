/* SPDX-License-Identifier: MIT */
/* The simulated world's mechanics, the scenario parser and the trace. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"

#define PAGES(b) ((uint64_t)(b) / SIM_PAGE)

static const char *one_vm =
	"[run]\nduration = 10m\nstep = 1s\n"
	"[host]\ntotal = 8G\nreserved = 0\nswap = 768M\n"
	"[vm a]\nconfigured = 1G\nguest_swap = 256M\ncache_rate = 0\nws = 0 0\n";

static struct sim_scenario *
parse(const char *text)
{
	static struct sim_scenario sc;
	char err[256];
	int r = sim_scenario_parse(&sc, text, ".", "test", err, sizeof(err));
	if (r)
		fail_msg("%s", err);
	return &sc;
}

static void
world(struct sim_world *w, const struct sim_scenario *sc, uint64_t seed)
{
	struct reclaim_config cfg;
	assert_int_equal(reclaim_config_init(&cfg, sizeof(cfg)), RECLAIM_OK);
	assert_int_equal(sim_world_init(w, sc, seed, &cfg), 0);
}

static void
balloon_takes_free_then_cache_then_anon(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(one_vm);
	struct sim_world w;
	world(&w, sc, 1);
	struct sim_vm *vm = &w.vms[0];
	vm->running = 1;
	vm->ws_res = PAGES(400 * SIM_MIB);
	vm->cache_res = PAGES(300 * SIM_MIB);
	vm->free_res = PAGES(100 * SIM_MIB); /* 324 MiB unused, 100 of it backed */

	/* 200 MiB: all from unused memory; no cache, no anon touched. */
	assert_int_equal(sim_vm_guest_take(&w, vm, PAGES(200 * SIM_MIB)), PAGES(200 * SIM_MIB));
	assert_int_equal(sim_vm_cache(vm), PAGES(300 * SIM_MIB));
	assert_int_equal(sim_vm_anon(vm), PAGES(400 * SIM_MIB));
	assert_true(vm->free_res < PAGES(100 * SIM_MIB));
	vm->balloon += PAGES(200 * SIM_MIB);

	/* 424 MiB more: the last 124 MiB unused, then all 300 MiB of cache. */
	assert_int_equal(sim_vm_guest_take(&w, vm, PAGES(424 * SIM_MIB)), PAGES(424 * SIM_MIB));
	assert_int_equal(sim_vm_cache(vm), 0);
	assert_int_equal(vm->free_res + vm->free_swp, 0);
	assert_int_equal(sim_vm_anon(vm), PAGES(400 * SIM_MIB));
	vm->balloon += PAGES(424 * SIM_MIB);

	/* Then anon goes to guest swap, but never past it: 256 MiB of swap. */
	assert_int_equal(sim_vm_guest_take(&w, vm, PAGES(300 * SIM_MIB)), PAGES(256 * SIM_MIB));
	assert_int_equal(vm->gswap, PAGES(256 * SIM_MIB));
	assert_int_equal(vm->guest_swapped, PAGES(256 * SIM_MIB));
	vm->balloon += PAGES(256 * SIM_MIB);
	assert_int_equal(sim_vm_guest_take(&w, vm, 1), 0);
	sim_world_free(&w);
}

static void
oom_when_working_set_exceeds_ram_and_swap(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 10m\n[host]\ntotal = 8G\n"
		"[vm a]\nconfigured = 1G\nguest_swap = 256M\ncache_rate = 0\n"
		"ws = 0 500M; 60s 900M; 120s 500M; 180s 900M\n");
	struct sim_world w;
	world(&w, sc, 1);
	struct sim_vm *vm = &w.vms[0];
	sim_vm_set_balloon(&w, vm, PAGES(400 * SIM_MIB));
	for (int i = 0; i < 50; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->balloon, PAGES(400 * SIM_MIB));
	assert_int_equal(vm->oom_events, 0);
	/* 900 MiB of working set needs 624 MiB of RAM + 276 MiB of swap: OOM. */
	for (int i = 0; i < 30; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_events, 1);
	assert_true(vm->oom);
	/* One episode is one event, however long it lasts. */
	for (int i = 0; i < 30; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_events, 1);
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, SIM_NS);
	assert_false(vm->oom);
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_events, 2);
	/* Both within the 10 min clear time: one episode. */
	assert_int_equal(vm->oom_episodes, 1);
	/* With the balloon gone, 900 MiB fits in 1 GiB. */
	sim_vm_set_balloon(&w, vm, 0);
	for (int i = 0; i < 10; i++)
		sim_world_step(&w, SIM_NS);
	assert_false(vm->oom);
	assert_int_equal(vm->gswap, 0);
	sim_world_free(&w);
}

static void
deflate_on_oom_gives_the_balloon_back(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 10m\n[host]\ntotal = 8G\n"
		"[vm a]\nconfigured = 1G\nguest_swap = 256M\ncache_rate = 0\ndeflate_on_oom = yes\n"
		"balloon_stall = 150s\nws = 0 500M; 60s 900M; 120s 1000M; 180s 1G\n");
	assert_true(sc->vms[0].deflate_on_oom);
	struct sim_world w;
	world(&w, sc, 1);
	struct sim_vm *vm = &w.vms[0];
	sim_vm_set_balloon(&w, vm, PAGES(400 * SIM_MIB));
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, SIM_NS);
	/* 900 MiB needs 20 MiB more than 624 MiB of RAM + 256 MiB of swap:
	 * the guest takes them from its balloon instead of OOMing. */
	assert_int_equal(vm->oom_events, 0);
	assert_int_equal(vm->balloon, PAGES(380 * SIM_MIB));
	assert_int_equal(vm->oom_deflated, PAGES(20 * SIM_MIB));
	/* The host asks for 400 MiB again: the guest has nothing to give. */
	sim_vm_set_balloon(&w, vm, PAGES(400 * SIM_MIB));
	for (int i = 0; i < 30; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->balloon, PAGES(380 * SIM_MIB));
	assert_int_equal(vm->balloon_target, PAGES(400 * SIM_MIB));
	/* 1000 MiB: 100 MiB more from the balloon. */
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->balloon, PAGES(280 * SIM_MIB));
	assert_int_equal(vm->oom_deflated, PAGES(120 * SIM_MIB));
	assert_int_equal(vm->oom_events, 0);
	/* A driver that no longer responds (150 s) deflates nothing: OOM. */
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->balloon, PAGES(280 * SIM_MIB));
	assert_int_equal(vm->oom_events, 1);
	sim_world_free(&w);
	/* Off by default. */
	assert_false(parse(one_vm)->vms[0].deflate_on_oom);
}

/* 624 MiB of RAM (1 GiB, 400 MiB ballooned) + 256 MiB of swap: the OOM
 * boundary is at 880 MiB of working set. */
static const char *boundary_vm =
	"[run]\nduration = 3h\n[host]\ntotal = 8G\n"
	"[vm a]\nconfigured = 1G\nguest_swap = 256M\ncache_rate = 0\nws_shape = linear\n";

static struct sim_vm *
boundary_world(struct sim_world *w, const char *ws)
{
	static char text[4096];
	snprintf(text, sizeof(text), "%sws = %s\n", boundary_vm, ws);
	world(w, parse(text), 1);
	sim_vm_set_balloon(w, &w->vms[0], PAGES(400 * SIM_MIB));
	return &w->vms[0];
}

static void
oom_pinned_at_the_boundary_is_one_episode(void **state)
{
	(void)state;
	/* For an hour the working set swings 850 <-> 910 MiB every 2 min:
	 * across the boundary 30 times. */
	char ws[2048] = "0 850M";
	size_t n = strlen(ws);
	for (int i = 1; i <= 30; i++)
		n += (size_t)snprintf(ws + n, sizeof(ws) - n, "; %dm %s", 2 * i,
				      i % 2 ? "910M" : "850M");
	struct sim_world w;
	struct sim_vm *vm = boundary_world(&w, ws);
	for (int i = 0; i < 3 * 3600; i++)
		sim_world_step(&w, SIM_NS);
	assert_true(vm->oom_events >= 10);
	assert_int_equal(vm->oom_episodes, 1);
	assert_false(vm->in_episode); /* clear for more than 10 min at the end */
	/* Half of the hour above the boundary, give or take the ramps. */
	assert_in_range(vm->oom_ns / SIM_NS, 20 * 60, 40 * 60);
	sim_world_free(&w);
}

static void
oom_episodes_apart_by_more_than_the_clear_time(void **state)
{
	(void)state;
	struct sim_world w;
	/* OOM at 5 min for a minute, again at 20 min: 14 min apart. */
	struct sim_vm *vm = boundary_world(&w, "0 500M; 5m 950M; 6m 500M; 20m 950M; 21m 500M");
	for (int i = 0; i < 3600; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_events, 2);
	assert_int_equal(vm->oom_episodes, 2);
	sim_world_free(&w);
	/* 8 min apart: one episode; with oom_clear = 5m, two. */
	vm = boundary_world(&w, "0 500M; 5m 950M; 6m 500M; 14m 950M; 15m 500M");
	for (int i = 0; i < 3600; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_events, 2);
	assert_int_equal(vm->oom_episodes, 1);
	sim_world_free(&w);
	static char text[4096];
	snprintf(text, sizeof(text), "%sws = 0 500M; 5m 950M; 6m 500M; 14m 950M; 15m 500M\n"
		 "[run]\noom_clear = 5m\n", boundary_vm);
	world(&w, parse(text), 1);
	vm = &w.vms[0];
	sim_vm_set_balloon(&w, vm, PAGES(400 * SIM_MIB));
	for (int i = 0; i < 3600; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->oom_episodes, 2);
	sim_world_free(&w);
}

static void
host_swap_hits_working_set_and_faults(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(one_vm);
	struct sim_world w;
	world(&w, sc, 7);
	struct sim_vm *vm = &w.vms[0];
	vm->running = 1;
	vm->ws_res = PAGES(256 * SIM_MIB);
	vm->cache_res = PAGES(512 * SIM_MIB);
	vm->free_res = PAGES(256 * SIM_MIB);
	uint64_t k = PAGES(512 * SIM_MIB);
	assert_int_equal(sim_vm_swap_out(&w, vm, k, SIM_SWAP_RANDOM), k);
	/* Random pages: a quarter of them from the working set, within 5 %. */
	assert_in_range(vm->ws_swp, k / 4 - k / 20, k / 4 + k / 20);
	assert_int_equal(sim_vm_swapped(vm), k);
	assert_int_equal(w.swap_used, k);
	assert_int_equal(sim_vm_consumed(vm), PAGES(SIM_GIB) - k);
	/* Each working-set page is touched at rate 1/touch (30 s): after 30 s
	 * about 1 - 1/e of them have faulted back, after 10 min all. */
	vm->spec = &sc->vms[0];
	sc->vms[0].n_ws = 1;
	sc->vms[0].ws[0].bytes = 256 * SIM_MIB;
	uint64_t ws_swapped = vm->ws_swp;
	for (int i = 0; i < 30; i++)
		sim_world_step(&w, SIM_NS);
	assert_in_range(vm->ws_faults * 100 / ws_swapped, 60, 66);
	for (int i = 0; i < 600; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->ws_faults, ws_swapped);
	assert_int_equal(vm->ws_swp, 0);
	/* Swapped cache and free pages stay out until touched. */
	assert_int_equal(sim_vm_swapped(vm), k - ws_swapped);
	/* Host swap is bounded. */
	uint64_t room = w.swap_size - w.swap_used;
	assert_true(room < sim_vm_consumed(vm));
	assert_int_equal(sim_vm_swap_out(&w, vm, PAGES(8 * SIM_GIB), SIM_SWAP_RANDOM), room);
	assert_int_equal(w.swap_used, w.swap_size);
	assert_int_equal(sim_vm_swap_out(&w, vm, 1, SIM_SWAP_RANDOM), 0);
	sim_world_free(&w);
}

static void
cold_first_swap_spares_the_working_set(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 1h\n[host]\ntotal = 8G\nswap_pick = cold\n"
		"[vm a]\nconfigured = 1G\nguest_swap = 256M\ncache_rate = 0\nws = 0 256M\n");
	assert_int_equal(sc->swap_pick, SIM_SWAP_COLD);
	struct sim_world w;
	world(&w, sc, 7);
	struct sim_vm *vm = &w.vms[0];
	vm->running = 1;
	vm->ws_res = PAGES(256 * SIM_MIB);
	vm->cache_res = PAGES(512 * SIM_MIB);
	vm->free_res = PAGES(256 * SIM_MIB);
	/* 700 MiB of 768 MiB cold: free memory first, then page cache. */
	assert_int_equal(sim_vm_swap_out(&w, vm, PAGES(700 * SIM_MIB), SIM_SWAP_COLD),
			 PAGES(700 * SIM_MIB));
	assert_int_equal(vm->free_swp, PAGES(256 * SIM_MIB));
	assert_int_equal(vm->cache_swp, PAGES(444 * SIM_MIB));
	assert_int_equal(vm->ws_swp, 0);
	for (int i = 0; i < 600; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(vm->ws_faults, 0);
	/* 200 MiB more: 68 MiB of cache, then 132 MiB of working set, every
	 * page of which faults back within 10 min (touched every 30 s). */
	sim_vm_swap_out(&w, vm, PAGES(200 * SIM_MIB), SIM_SWAP_COLD);
	assert_int_equal(vm->cache_res, 0);
	assert_int_equal(vm->ws_swp, PAGES(132 * SIM_MIB));
	for (int i = 0; i < 60; i++)
		sim_world_step(&w, 5 * SIM_NS);
	assert_int_equal(vm->ws_faults, PAGES(132 * SIM_MIB));
	assert_int_equal(vm->ws_swp, 0);
	sim_world_free(&w);
}

static void
fault_rate_does_not_depend_on_the_step(void **state)
{
	(void)state;
	uint64_t faults[2];
	for (int k = 0; k < 2; k++) {
		struct sim_world w;
		world(&w, parse("[run]\nduration = 1h\n[host]\ntotal = 8G\n"
				"[vm a]\nconfigured = 1G\ncache_rate = 0\nws = 0 512M\n"), 7);
		struct sim_vm *vm = &w.vms[0];
		vm->running = 1;
		vm->ws_res = PAGES(512 * SIM_MIB);
		sim_vm_swap_out(&w, vm, PAGES(512 * SIM_MIB), SIM_SWAP_COLD);
		/* 30 s in 1 s steps or in one step: 1 - 1/e of the pages. */
		if (k == 0)
			for (int i = 0; i < 30; i++)
				sim_world_step(&w, SIM_NS);
		else
			sim_world_step(&w, 30 * SIM_NS);
		faults[k] = vm->ws_faults;
		sim_world_free(&w);
	}
	uint64_t e = (uint64_t)(PAGES(512 * SIM_MIB) * 0.632);
	assert_in_range(faults[0], e - e / 100, e + e / 100);
	assert_in_range(faults[1], e - e / 100, e + e / 100);
}

static void
host_kernel_reclaims_cold_pages_of_every_vm_first(void **state)
{
	(void)state;
	/* 2 GiB usable, emergency floor 0.5 % (about 10 MiB). */
	struct sim_scenario *sc = parse(
		"[run]\nduration = 1h\n[host]\ntotal = 2G\nswap = 2G\n"
		"[defaults]\ncache_rate = 0\n"
		"[vm hot]\nconfigured = 2G\nws = 0 1000M\n"
		"[vm cold]\nconfigured = 2G\nws = 0 500M\n");
	struct sim_world w;
	world(&w, sc, 7);
	struct sim_vm *hot = &w.vms[0], *cold = &w.vms[1];
	sim_world_step(&w, SIM_NS);
	assert_int_equal(sim_vm_anon(hot), PAGES(1000 * SIM_MIB));
	cold->cache_res = PAGES(540 * SIM_MIB); /* 8 MiB free now */
	sim_world_account(&w);
	assert_true(w.free < (int64_t)w.emergency);
	sim_world_step(&w, SIM_NS);
	assert_int_equal(w.free, (int64_t)w.emergency);
	assert_int_equal(hot->forced_out, 0);
	assert_int_equal(cold->forced_out, cold->cache_swp);
	assert_int_equal(cold->ws_swp, 0);
	/* No cold page left (the cache becomes working set) and the hot VM
	 * grows by 300 MiB: working sets go, in proportion to their size. */
	sc->vms[0].ws[0].bytes = 1300 * SIM_MIB;
	sc->vms[1].ws[0].bytes = 1040 * SIM_MIB;
	cold->ws_res += cold->cache_res;
	cold->cache_res = 0;
	uint64_t c0 = cold->forced_out;
	sim_world_step(&w, SIM_NS);
	assert_in_range((uint64_t)w.free, w.emergency, w.emergency + 2);
	uint64_t h = hot->forced_out, c = cold->forced_out - c0;
	assert_in_range(h + c, PAGES(290 * SIM_MIB), PAGES(310 * SIM_MIB));
	assert_in_range(h * 100 / (h + c), 54, 57); /* 1300 / (1300 + 1040) = 55.6 % */
	sim_world_free(&w);
}

static void
xen_domains_hold_all_their_memory(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 1h\n[host]\ntotal = 3G\n"
		"[defaults]\ncache_rate = 0\n"
		"[vm a]\nconfigured = 2G\nws = 0 256M\n"
		"[vm b]\nconfigured = 2G\nws = 0 256M\n");
	struct sim_world w;
	world(&w, sc, 1);
	sim_world_set_host(&w, SIM_HOST_XEN);
	assert_int_equal(w.swap_size, 0);
	struct sim_vm *a = &w.vms[0], *b = &w.vms[1];
	/* Built at their targets: 1.5 GiB each, the whole host. */
	sim_vm_set_balloon(&w, a, PAGES(512 * SIM_MIB));
	sim_vm_set_balloon(&w, b, PAGES(512 * SIM_MIB));
	sim_world_step(&w, SIM_NS);
	assert_int_equal(a->balloon, PAGES(512 * SIM_MIB));
	assert_int_equal(w.free, 0);
	/* Only 256 MiB touched, yet nothing is free: no deflation. */
	assert_int_equal(sim_vm_consumed(a), PAGES(256 * SIM_MIB));
	sim_vm_set_balloon(&w, a, 0);
	for (int i = 0; i < 10; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(a->balloon, PAGES(512 * SIM_MIB));
	/* b gives 300 MiB back: a gets exactly those. */
	sim_vm_set_balloon(&w, b, PAGES(812 * SIM_MIB));
	for (int i = 0; i < 10; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(b->balloon, PAGES(812 * SIM_MIB));
	assert_int_equal(a->balloon, PAGES(212 * SIM_MIB));
	assert_int_equal(w.free, 0);
	/* No host swap, and the host kernel does not reclaim. */
	assert_int_equal(sim_vm_swap_out(&w, a, 100, SIM_SWAP_COLD), 0);
	assert_int_equal(a->forced_out + b->forced_out, 0);
	sim_world_free(&w);
}

static void
xen_hot_plug_starts_ballooned(void **state)
{
	(void)state;
	/* A one-VM trace whose provisioned memory goes 2 -> 4 GiB at 600 s. */
	char dir[] = "/tmp/sim-trace-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/used.tsv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "t_s\t1\n");
	for (int t = 0; t <= 1200; t += 300)
		fprintf(f, "%d\t262144\n", t);
	fclose(f);
	snprintf(path, sizeof(path), "%s/provisioned.tsv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "t_s\tvm\tkib\n0\t1\t2097152\n600\t1\t4194304\n");
	fclose(f);
	static char text[512];
	snprintf(text, sizeof(text), "[run]\nduration = 20m\n[host]\ntotal = 8G\n"
		 "[defaults]\ncache_rate = 0\n[trace]\ndir = %s\nvms = all\n", dir);
	struct sim_scenario *sc = parse(text);
	struct sim_world w;
	world(&w, sc, 1);
	sim_world_set_host(&w, SIM_HOST_XEN);
	struct sim_vm *vm = &w.vms[0];
	sim_vm_set_balloon(&w, vm, PAGES(512 * SIM_MIB));
	for (int i = 0; i < 900; i++)
		sim_world_step(&w, SIM_NS);
	/* 4 GiB configured, 2.5 GiB of it ballooned: still 1.5 GiB held. */
	assert_int_equal(vm->conf, PAGES(4 * SIM_GIB));
	assert_int_equal(vm->balloon, PAGES(2560 * SIM_MIB));
	assert_int_equal(sim_vm_held(&w, vm), PAGES(1536 * SIM_MIB));
	sim_world_free(&w);
	sim_scenario_free(sc);
	snprintf(path, sizeof(path), "%s/used.tsv", dir);
	remove(path);
	snprintf(path, sizeof(path), "%s/provisioned.tsv", dir);
	remove(path);
	rmdir(dir);
}

static void
pick_count_is_hypergeometric(void **state)
{
	(void)state;
	struct reclaim_rng rng;
	reclaim_rng_seed(&rng, 42);
	assert_int_equal(sim_pick_count(&rng, 100, 0, 50), 0);
	assert_int_equal(sim_pick_count(&rng, 100, 100, 50), 50);
	assert_int_equal(sim_pick_count(&rng, 100, 30, 100), 30);
	assert_int_equal(sim_pick_count(&rng, 100, 30, 0), 0);
	/* Mean of many draws: k m / n. Small (exact) and large (chunked). */
	double sum = 0;
	for (int i = 0; i < 2000; i++) {
		uint64_t h = sim_pick_count(&rng, 1000, 300, 100);
		assert_true(h <= 100);
		sum += (double)h;
	}
	assert_in_range((uint64_t)(sum / 2000 * 10), 290, 310);
	sum = 0;
	for (int i = 0; i < 200; i++) {
		uint64_t h = sim_pick_count(&rng, 10000000, 2500000, 3000000);
		assert_true(h <= 2500000);
		sum += (double)h;
	}
	assert_in_range((uint64_t)(sum / 200), 740000, 760000);
	/* Never more hits than the complement allows. */
	for (int i = 0; i < 100; i++)
		assert_in_range(sim_pick_count(&rng, 1000, 900, 950), 850, 900);
}

static void
page_cache_fills_free_guest_memory(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 10m\n[host]\ntotal = 8G\n"
		"[vm a]\nconfigured = 1G\ncache_rate = 10M\nws = 0 100M\n");
	struct sim_world w;
	world(&w, sc, 1);
	struct sim_vm *vm = &w.vms[0];
	sim_world_step(&w, SIM_NS);
	assert_int_equal(sim_vm_anon(vm), PAGES(100 * SIM_MIB));
	for (int i = 0; i < 10; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(sim_vm_cache(vm), PAGES(100 * SIM_MIB) + PAGES(10 * SIM_MIB));
	assert_int_equal((int64_t)w.usable - w.free, (int64_t)sim_vm_consumed(vm));
	for (int i = 0; i < 200; i++)
		sim_world_step(&w, SIM_NS);
	assert_int_equal(sim_vm_cache(vm), PAGES(924 * SIM_MIB));
	assert_int_equal(sim_vm_guest_unused(vm), 0);
	sim_world_free(&w);
}

static void
estimator_tracks_the_working_set(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"[run]\nduration = 2h\n[host]\ntotal = 8G\n"
		"[vm a]\nconfigured = 1G\ncache_rate = 0\nws = 0 100M\n");
	struct sim_world w;
	world(&w, sc, 3);
	struct sim_vm *vm = &w.vms[0];
	for (int i = 0; i < 300; i++)
		sim_world_step(&w, SIM_NS);
	/* Every mapped page is in the working set. */
	assert_true(reclaim_estimator_fraction(&vm->est) > 0.9);
	/* 400 MiB of idle mapped memory: the truth is 0.2, reached slowly. */
	vm->free_res += PAGES(400 * SIM_MIB);
	sim_world_account(&w);
	for (int i = 0; i < 300; i++)
		sim_world_step(&w, SIM_NS);
	double f = reclaim_estimator_fraction(&vm->est);
	assert_true(f > 0.3 && f < 0.9);
	for (int i = 0; i < 1800; i++)
		sim_world_step(&w, SIM_NS);
	f = reclaim_estimator_fraction(&vm->est);
	assert_true(f > 0.1 && f < 0.3);
	sim_world_free(&w);
}

static void
runs_are_deterministic(void **state)
{
	(void)state;
	const char *text =
		"[run]\nduration = 20m\ndecide = 5s\n[host]\ntotal = 3G\nreserved = 256M\n"
		"[defaults]\ncache_rate = 8M\n"
		"[vm a]\nconfigured = 2G\nws = 0 500M; 10m 1500M\n"
		"[vm b]\nconfigured = 2G\nws = 0 1G\n";
	struct sim_scenario *sc = parse(text);
	struct sim_metrics m1, m2, m3;
	struct sim_run_opts o = {.policy = SIM_POLICY_SWAP};
	assert_int_equal(sim_run(&m1, sc, &o), 0);
	assert_int_equal(sim_run(&m2, sc, &o), 0);
	assert_true(m1.swapped_out > 0);
	assert_int_equal(m1.swapped_out, m2.swapped_out);
	assert_int_equal(m1.ws_faults, m2.ws_faults);
	assert_int_equal(m1.min_free, m2.min_free);
	sc->seed = 2;
	assert_int_equal(sim_run(&m3, sc, &o), 0);
	assert_true(m3.ws_faults != m1.ws_faults);
}

static void
scenario_parser_reads_and_rejects(void **state)
{
	(void)state;
	struct sim_scenario *sc = parse(
		"# host\n[host]\ntotal = 16G\nreserved = 512M # hypervisor\n"
		"[run]\nduration = 2h\nstep = 500ms\npolicies = reclaim, mom\ntau_change = 31m 0.75\n"
		"demand_memory = 2h\n"
		"[defaults]\nguest_swap = 0\n"
		"[vm web]\nconfigured = 1.5G\nlimit = 1G\nshares = 2000\nballoon = no\n"
		"ws = 0 10M; 1m 100M\nws_shape = linear\n"
		"[vm db]\nconfigured = 4G\nguest_swap = rhel\nidle_tax = 0.5\nstart = 5m\n");
	assert_int_equal(sc->total, 16 * SIM_GIB);
	assert_int_equal(sc->reserved, 512 * SIM_MIB);
	assert_int_equal(sc->duration_ns, 7200 * SIM_NS);
	assert_int_equal(sc->step_ns, SIM_NS / 2);
	assert_int_equal(sc->policies, (1u << SIM_POLICY_RECLAIM) | (1u << SIM_POLICY_MOM));
	assert_int_equal(sc->n_tau_change, 1);
	assert_int_equal(sc->tau_change[0].t_ns, 31 * 60 * SIM_NS);
	assert_true(sc->has_demand_memory);
	assert_int_equal(sc->demand_memory_ns, 7200 * SIM_NS);
	assert_int_equal(sc->n_vms, 2);
	assert_string_equal(sc->vms[0].name, "web");
	assert_int_equal(sc->vms[0].configured, 1536 * SIM_MIB);
	assert_int_equal(sc->vms[0].limit, SIM_GIB);
	assert_int_equal(sc->vms[0].guest_swap, 0);
	assert_false(sc->vms[0].balloon);
	assert_int_equal(sc->vms[0].n_ws, 2);
	assert_true(sc->vms[0].ws_linear);
	assert_int_equal(sc->vms[1].guest_swap, 4 * SIM_GIB); /* RHEL: = RAM up to 8 GiB */
	assert_true(sc->vms[1].has_idle_tax);
	assert_int_equal(sc->vms[1].start_ns, 300 * SIM_NS);
	assert_int_equal(sim_vm_shares(&sc->vms[1]), 40961);

	static struct sim_scenario bad;
	char err[256];
	assert_int_equal(sim_scenario_parse(&bad, "[host]\ntotal = 1G\n[vm a]\nconfigured = 1Q\n",
					    ".", "f.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "f.conf:4: bad value \"1Q\" for configured");
	assert_int_equal(sim_scenario_parse(&bad, "[host]\nram = 1G\n", ".", "f.conf", err,
					    sizeof(err)), -1);
	assert_string_equal(err, "f.conf:2: unknown [host] key \"ram\"");
	assert_int_equal(sim_scenario_parse(&bad, "[host]\ntotal = 1G\n[vm a]\nconfigured = 1G\n"
					    "ws = 5m 1G; 1m 2G\n", ".", "f.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "f.conf:5: ws: times must not decrease");
	assert_int_equal(sim_scenario_parse(&bad, "[host]\ntotal = 1G\n[vm a]\nreservation = 1G\n",
					    ".", "f.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "f.conf:0: VM a: configured size missing");
	assert_int_equal(sim_scenario_parse(&bad, "[host]\ntotal = 1G\n", ".", "f.conf", err,
					    sizeof(err)), -1);
	assert_int_equal(sim_scenario_parse(&bad, "[vm a]\nconfigured = 1G\n[vm a]\n", ".",
					    "f.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "f.conf:3: duplicate VM \"a\"");
}

static const char *spiky =
	"[run]\nduration = 2d\nseed = 5\n[host]\ntotal = 64G\n"
	"[vm s]\nconfigured = 24G\nws_pattern = spikes\nws_low = 2G\nws_high = 14G\n"
	"ws_amplitude = 0.7\nws_every = 10h\nws_rise = 3m\nws_hold = 40m\nws_fall = 15m\n"
	"[vm r]\nconfigured = 16G\nws_pattern = ramps\nws_low = 2G\nws_high = 12G\n"
	"ws_every = 10h\nws_hold = 2h\nws_fall = 5m\n";

static void
generated_working_sets_are_seeded_and_shaped(void **state)
{
	(void)state;
	static struct sim_point first[SIM_SCHEDULE_MAX];
	struct sim_scenario *sc = parse(spiky);
	const struct sim_vm_spec *s = &sc->vms[0], *r = &sc->vms[1];
	/* Spikes: 4 points each (up, top, down, low) after the first. */
	assert_true(s->ws_linear);
	assert_true(s->n_ws >= 1 + 2 * 4);
	assert_int_equal((s->n_ws - 1) % 4, 0);
	for (size_t k = 1; k < s->n_ws; k += 4) {
		const struct sim_point *p = &s->ws[k];
		assert_int_equal(p[0].bytes, 2 * SIM_GIB);
		/* +8.4 to +12 GiB within 3 min, held 20-60 min, down in 15. */
		assert_int_equal(p[1].t_ns - p[0].t_ns, 180 * SIM_NS);
		assert_in_range(p[1].bytes, 2 * SIM_GIB + 12 * SIM_GIB * 7 / 10, 14 * SIM_GIB);
		assert_int_equal(p[2].bytes, p[1].bytes);
		assert_in_range(p[2].t_ns - p[1].t_ns, 1200 * SIM_NS, 3600 * SIM_NS);
		assert_int_equal(p[3].t_ns - p[2].t_ns, 900 * SIM_NS);
		assert_int_equal(p[3].bytes, 2 * SIM_GIB);
		assert_true(p[3].t_ns <= 2 * 86400 * SIM_NS + 4 * 3600 * SIM_NS);
	}
	/* Ramps: up over 5-15 h, then down in 5 min. */
	assert_true(r->n_ws >= 1 + 4);
	for (size_t k = 1; k < r->n_ws; k += 4) {
		const struct sim_point *p = &r->ws[k];
		assert_in_range(p[1].t_ns - p[0].t_ns, 5 * 3600 * SIM_NS, 15 * 3600 * SIM_NS);
		assert_int_equal(p[3].t_ns - p[2].t_ns, 300 * SIM_NS);
		assert_in_range(p[1].bytes, 2 * SIM_GIB, 12 * SIM_GIB);
	}
	/* The world follows the ramp between points. */
	struct sim_world w;
	world(&w, sc, 1);
	w.vms[0].running = 1;
	w.now_ns = s->ws[1].t_ns + 90 * SIM_NS;
	uint64_t mid = (s->ws[1].bytes + s->ws[2].bytes) / 2 / SIM_PAGE;
	assert_in_range(sim_vm_ws_want(&w, &w.vms[0]), mid - 2, mid + 2);
	sim_world_free(&w);
	/* Same seed, same schedule; another seed, another one. */
	size_t n = s->n_ws;
	memcpy(first, s->ws, sizeof(first));
	char err[256];
	assert_int_equal(sim_scenario_generate(sc, err, sizeof(err)), 0);
	assert_int_equal(s->n_ws, n);
	assert_memory_equal(first, s->ws, n * sizeof(first[0]));
	sc->seed = 6;
	assert_int_equal(sim_scenario_generate(sc, err, sizeof(err)), 0);
	assert_true(s->n_ws != n || s->ws[1].t_ns != first[1].t_ns);
	/* A pattern that needs more points than a schedule holds. */
	static struct sim_scenario bad;
	assert_int_equal(sim_scenario_parse(&bad, "[run]\nduration = 30d\n[host]\ntotal = 8G\n"
					    "[vm a]\nconfigured = 1G\nws_pattern = spikes\n"
					    "ws_high = 512M\nws_every = 10m\n", ".", "f.conf", err,
					    sizeof(err)), -1);
	assert_string_equal(err, "f.conf: VM a: ws_pattern needs more than 1024 points over the run");
}

static void
bitbrains_trace_loads(void **state)
{
	(void)state;
	const char *dir = getenv("SIM_DATA");
	struct sim_trace t;
	char err[256];
	assert_non_null(dir);
	if (sim_trace_load(&t, dir, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(t.n_vms, 20);
	assert_int_equal(t.n_rows, 8640);
	assert_int_equal(t.ids[1], 77);
	/* VM 77 goes between 18.7 and 32 GiB provisioned. */
	assert_int_equal(t.max_provisioned[1], 32 * SIM_GIB);
	uint64_t lo = UINT64_MAX;
	for (size_t i = 0; i < t.n_rows; i++)
		if (t.provisioned[i * t.n_vms + 1] < lo)
			lo = t.provisioned[i * t.n_vms + 1];
	assert_in_range(lo / SIM_MIB, 19100, 19200);
	/* First row of VM 35: 2382362 KiB. */
	assert_int_equal(t.used[0], 2382362ull * 1024);
	sim_trace_free(&t);
}

/* Writes used.tsv and provisioned.tsv into a new directory @p dir. */
static void
write_trace(char *dir, const char *used, const char *provisioned)
{
	char path[64];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/used.tsv", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(used, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/provisioned.tsv", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(provisioned, f);
	fclose(f);
}

static void
remove_trace(const char *dir)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/used.tsv", dir);
	remove(path);
	snprintf(path, sizeof(path), "%s/provisioned.tsv", dir);
	remove(path);
	rmdir(dir);
}

#define USED_OK "t_s\t1\t2\n0\t1024\t2048\n300\t1024\t2048\n"
#define PROV_OK "t_s\tvm\tkib\n0\t1\t4194304\n0\t2\t4194304\n"

static void
trace_reads_line_ends_and_blank_lines(void **state)
{
	(void)state;
	char dir[] = "/tmp/sim-trace-XXXXXX", err[256];
	struct sim_trace t;

	write_trace(dir, "# comment\r\nt_s\t1\t2\r\n0\t1024\t2048\r\n\r\n300\t3072\t0\r\n\n",
		    "t_s\tvm\tkib\r\n0\t1\t4194304\r\n0\t2\t2097152\r\n600\t2\t4194304\n\n");
	if (sim_trace_load(&t, dir, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(t.n_vms, 2);
	assert_int_equal(t.n_rows, 2);
	assert_int_equal(t.used[2], 3072 * 1024);
	assert_int_equal(t.used[3], 0);
	assert_int_equal(t.provisioned[1], 2 * SIM_GIB);
	assert_int_equal(t.max_provisioned[1], 2 * SIM_GIB); /* 600 s is past the trace */
	sim_trace_free(&t);
	remove_trace(dir);
}

/* Every field is read whole: a value read by its prefix, wrapped or
 * shifted to another column would replay another host without a word. */
static void
trace_refuses_bad_fields(void **state)
{
	(void)state;
	static const struct {
		const char *used, *provisioned, *error;
	} cases[] = {
		{USED_OK, "t_s\tvm\tkib\n0\t1\t4194304\n0\t2\t4194304\n300\t2\t0\n",
		 "provisioned.tsv:4: VM 2 at 300 s: \"0\" is not a size"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t1.6703488E7\n0\t2\t4194304\n",
		 "provisioned.tsv:2: VM 1 at 0 s: \"1.6703488E7\" is not a size"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t-4194304\n0\t2\t4194304\n",
		 "provisioned.tsv:2: VM 1 at 0 s: \"-4194304\" is not a size"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t4194304\n0\t2\t4194304\n600\t1\t1\n300\t1\t2\n",
		 "provisioned.tsv:5: t_s 300: rows go up in time"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t4194304\n", "VM 2 has no provisioned size at t = 0"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t4194304\n300\t2\t4194304\n",
		 "provisioned.tsv:3: VM 2 has no provisioned size at t = 0"},
		{USED_OK, "t_s\tvm\tkib\n0\t1\t4194304\n0\t3\t4194304\n",
		 "provisioned.tsv:3: VM 3 is not in used.tsv"},
		{USED_OK, "0\t1\t4194304\n0\t2\t4194304\n", "provisioned.tsv:1: the header must be"},
		{"t_s\t1\t2\n0\t-1\t2048\n", PROV_OK, "used.tsv:2: VM 1: \"-1\" is not a size"},
		{"t_s\t1\t2\n0\t1024\t18014398509481984\n", PROV_OK,
		 "used.tsv:2: VM 2: \"18014398509481984\" is not a size"},
		{"t_s\t1\t2\n0\t1024\t\t2048\n", PROV_OK, "used.tsv:2: 3 values for 2 VMs"},
		{"t_s\t1\t2\n0\t1024\n", PROV_OK, "used.tsv:2: 1 values for 2 VMs"},
		{"t_s\t1\t2\n0\t1024\t2048\n600\t1024\t2048\n", PROV_OK,
		 "used.tsv:3: t_s must be 300"},
		{"t_s\t1\t1\n0\t1024\t2048\n", PROV_OK, "used.tsv:1: VM 1 named twice"},
		{"t_s\t1abc\t2\n0\t1024\t2048\n", PROV_OK, "used.tsv:1: bad VM id \"1abc\""},
		{"t_s\t1\t2\n", PROV_OK, "used.tsv: no rows"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[] = "/tmp/sim-trace-XXXXXX", err[256] = "";
		struct sim_trace t;

		write_trace(dir, cases[i].used, cases[i].provisioned);
		assert_int_equal(sim_trace_load(&t, dir, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].error))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].error);
		assert_null(t.used);
		remove_trace(dir);
	}
}

/* A VM asked for by id that the trace lacks stops the scenario. */
static void
scenario_refuses_trace_vm_it_lacks(void **state)
{
	(void)state;
	char dir[] = "/tmp/sim-trace-XXXXXX", text[256], err[256] = "";
	struct sim_scenario *sc = malloc(sizeof(*sc));

	assert_non_null(sc);
	write_trace(dir, USED_OK, PROV_OK);
	snprintf(text, sizeof(text), "[host]\novercommit = 1.5\n[trace]\ndir = %s\nvms = 1, 9\n",
		 dir);
	assert_int_equal(sim_scenario_parse(sc, text, ".", "t", err, sizeof(err)), -1);
	assert_string_equal(err, "t:0: vms: VM 9 is not in the trace");
	/* Refused after the trace loaded: nothing of it is left. */
	assert_int_equal(sc->has_trace, 0);
	assert_null(sc->trace.used);
	snprintf(text, sizeof(text), "[host]\novercommit = 1.5\n[trace]\ndir = %s\nvms = 2\n", dir);
	assert_int_equal(sim_scenario_parse(sc, text, ".", "t", err, sizeof(err)), 0);
	assert_int_equal(sc->n_vms, 1);
	assert_string_equal(sc->vms[0].name, "bb2");
	sim_scenario_free(sc);
	free(sc);
	remove_trace(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(balloon_takes_free_then_cache_then_anon),
		cmocka_unit_test(oom_when_working_set_exceeds_ram_and_swap),
		cmocka_unit_test(oom_pinned_at_the_boundary_is_one_episode),
		cmocka_unit_test(deflate_on_oom_gives_the_balloon_back),
		cmocka_unit_test(oom_episodes_apart_by_more_than_the_clear_time),
		cmocka_unit_test(host_swap_hits_working_set_and_faults),
		cmocka_unit_test(cold_first_swap_spares_the_working_set),
		cmocka_unit_test(fault_rate_does_not_depend_on_the_step),
		cmocka_unit_test(host_kernel_reclaims_cold_pages_of_every_vm_first),
		cmocka_unit_test(xen_domains_hold_all_their_memory),
		cmocka_unit_test(xen_hot_plug_starts_ballooned),
		cmocka_unit_test(pick_count_is_hypergeometric),
		cmocka_unit_test(page_cache_fills_free_guest_memory),
		cmocka_unit_test(estimator_tracks_the_working_set),
		cmocka_unit_test(runs_are_deterministic),
		cmocka_unit_test(scenario_parser_reads_and_rejects),
		cmocka_unit_test(generated_working_sets_are_seeded_and_shaped),
		cmocka_unit_test(bitbrains_trace_loads),
		cmocka_unit_test(trace_reads_line_ends_and_blank_lines),
		cmocka_unit_test(trace_refuses_bad_fields),
		cmocka_unit_test(scenario_refuses_trace_vm_it_lacks),
	};
	return cmocka_run_group_tests_name("sim_world", tests, NULL, NULL);
}
