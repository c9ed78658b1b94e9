/* SPDX-License-Identifier: MIT */
/* reclaim-sim: replays a scenario under every policy and compares them. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: reclaim-sim [options] SCENARIO\n"
		"  -o, --out DIR         write CSV timelines and summary.{txt,md} to DIR\n"
		"  -x, --overcommit X    size the host so that configured memory is X times usable\n"
		"  -d, --duration T      override the run length (e.g. 2d, 90m)\n"
		"  -p, --policies LIST   comma-separated: reclaim,paper,swap-only,mom,squeezed,\n"
		"                        kernel-only,psi, or all\n"
		"  -s, --seed N          override the seed\n"
		"  -M, --demand-memory T the reclaim policies' demand_memory_ns (e.g. 2h)\n"
		"  -S, --swap-pick P     how policies' host swap picks pages: random or cold\n"
		"  --host-swap SIZE      the host's swap (e.g. 0, 64G), as [host] swap\n"
		"  --guest-swap SIZE     every guest's swap (e.g. 0, 1G, or rhel), as guest_swap\n"
		"  -j, --jobs N          policies run in parallel (default: online CPUs)\n"
		"  -m, --markdown        print the table as Markdown\n"
		"Scenario format: bench/README.md.\n");
}

static int
write_summary(const char *dir, const char *file, const struct sim_scenario *sc,
	      const struct sim_metrics *m, int md)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	sim_print_table(f, sc, m, md);
	return fclose(f);
}

int
main(int argc, char **argv)
{
	const char *out = NULL, *path = NULL, *policies = NULL;
	double overcommit = 0;
	uint64_t duration = 0, seed = 0, demand_memory = 0, host_swap = 0, guest_swap = 0;
	int have_seed = 0, have_demand_memory = 0, md = 0, swap_pick = -1;
	int have_host_swap = 0, have_guest_swap = 0;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	char err[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--markdown")) {
			md = 1;
		} else if (a[0] == '-' && !v) {
			fprintf(stderr, "reclaim-sim: %s needs a value\n", a);
			return 2;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
			out = v;
			i++;
		} else if (!strcmp(a, "-x") || !strcmp(a, "--overcommit")) {
			overcommit = strtod(v, NULL);
			if (overcommit <= 0) {
				fprintf(stderr, "reclaim-sim: bad overcommit %s\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
			if (sim_parse_duration(&duration, v) < 0 || duration == 0) {
				fprintf(stderr, "reclaim-sim: bad duration %s\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--policies")) {
			policies = v;
			i++;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
			seed = strtoull(v, NULL, 0);
			have_seed = 1;
			i++;
		} else if (!strcmp(a, "-M") || !strcmp(a, "--demand-memory")) {
			if (sim_parse_duration(&demand_memory, v) < 0) {
				fprintf(stderr, "reclaim-sim: bad demand memory %s\n", v);
				return 2;
			}
			have_demand_memory = 1;
			i++;
		} else if (!strcmp(a, "-S") || !strcmp(a, "--swap-pick")) {
			swap_pick = sim_swap_pick_parse(v);
			if (swap_pick < 0) {
				fprintf(stderr, "reclaim-sim: bad swap pick %s (random or cold)\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--host-swap")) {
			if (sim_parse_bytes(&host_swap, v) < 0) {
				fprintf(stderr, "reclaim-sim: bad host swap %s\n", v);
				return 2;
			}
			have_host_swap = 1;
			i++;
		} else if (!strcmp(a, "--guest-swap")) {
			if (sim_parse_guest_swap(&guest_swap, v) < 0) {
				fprintf(stderr, "reclaim-sim: bad guest swap %s\n", v);
				return 2;
			}
			have_guest_swap = 1;
			i++;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
			jobs = strtol(v, NULL, 10);
			i++;
		} else if (a[0] == '-') {
			usage(stderr);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	struct sim_scenario *sc = malloc(sizeof(*sc));
	if (!sc)
		return 1;
	if (sim_scenario_load(sc, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "reclaim-sim: %s\n", err);
		free(sc);
		return 1;
	}
	if (overcommit > 0) {
		sc->overcommit = overcommit;
		sim_scenario_size_host(sc);
	}
	if (duration)
		sc->duration_ns = duration;
	if (have_demand_memory) {
		sc->demand_memory_ns = demand_memory;
		sc->has_demand_memory = 1;
	}
	if (have_seed)
		sc->seed = seed;
	if ((have_seed || duration) && sim_scenario_generate(sc, err, sizeof(err)) < 0) {
		fprintf(stderr, "reclaim-sim: %s\n", err);
		sim_scenario_free(sc);
		free(sc);
		return 1;
	}
	if (sc->has_trace && sc->duration_ns > sc->trace.n_rows * sc->trace.step_ns)
		fprintf(stderr,
			"reclaim-sim: warning: the trace covers %.1f h of the %.1f h run; "
			"its last row holds after that\n",
			(double)(sc->trace.n_rows * sc->trace.step_ns) / 3600e9,
			(double)sc->duration_ns / 3600e9);
	if (swap_pick >= 0)
		sc->swap_pick = swap_pick;
	if (have_host_swap)
		sc->host_swap = host_swap;
	if (have_guest_swap)
		sim_scenario_set_guest_swap(sc, guest_swap);
	if (policies) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", policies);
		sc->policies = 0;
		for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
			int p = sim_policy_parse(t);
			if (!strcmp(t, "all")) {
				sc->policies = (1u << SIM_POLICY_COUNT) - 1;
				continue;
			}
			if (p < 0) {
				fprintf(stderr, "reclaim-sim: unknown policy %s\n", t);
				sim_scenario_free(sc);
				free(sc);
				return 2;
			}
			sc->policies |= 1u << p;
		}
	}
	if (out && mkdir(out, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "reclaim-sim: %s: %s\n", out, strerror(errno));
		sim_scenario_free(sc);
		free(sc);
		return 1;
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < sc->n_vms; i++)
		sum += sc->vms[i].configured;
	printf("scenario %s: %zu VMs, %.2f GiB configured, host %.2f GiB (%.2f GiB usable, "
	       "overcommit %.2fx), %.1f h simulated, step %.0f s, decide every %.0f s\n",
	       sc->name, sc->n_vms, (double)sum / SIM_GIB, (double)sc->total / SIM_GIB,
	       (double)(sc->total - sc->reserved) / SIM_GIB,
	       (double)sum / (double)(sc->total - sc->reserved), (double)sc->duration_ns / 3.6e12,
	       (double)sc->step_ns / 1e9, (double)sc->decide_ns / 1e9);
	fflush(stdout);

	struct sim_metrics m[SIM_POLICY_COUNT];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = sim_run_all(m, sc, out, (int)jobs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sim_print_table(stdout, sc, m, md);
	printf("wall time %.1f s (%ld jobs)\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, jobs);
	if (out && (write_summary(out, "summary.txt", sc, m, 0) < 0 ||
		    write_summary(out, "summary.md", sc, m, 1) < 0))
		fprintf(stderr, "reclaim-sim: cannot write the summary to %s\n", out);
	if (r)
		fprintf(stderr, "reclaim-sim: a policy failed: %s\n", reclaim_strerror(r));
	sim_scenario_free(sc);
	free(sc);
	return r ? 1 : 0;
}
