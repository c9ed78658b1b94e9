/* SPDX-License-Identifier: MIT */
/* One simulation run per policy: the loop, the metrics, the CSV timelines. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

struct fair_item {
	double ratio; /* max / shares */
	size_t i;
};

static int
cmp_ratio(const void *a, const void *b)
{
	double x = ((const struct fair_item *)a)->ratio, y = ((const struct fair_item *)b)->ratio;
	return (x > y) - (x < y);
}

double
sim_fairness(const uint64_t *alloc, const uint64_t *shares, const uint64_t *max, size_t n)
{
	struct fair_item items[SIM_VMS_MAX];
	double total = 0, wsum = 0;
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		total += (double)alloc[i];
		if (shares[i] == 0)
			continue;
		items[m].ratio = (double)max[i] / (double)shares[i];
		items[m++].i = i;
		wsum += (double)shares[i];
	}
	if (total <= 0 || m == 0)
		return 1;
	/* Water-fill total in proportion to shares, each capped at its max. */
	qsort(items, m, sizeof(items[0]), cmp_ratio);
	double ideal[SIM_VMS_MAX] = {0}, left = total;
	for (size_t k = 0; k < m; k++) {
		size_t i = items[k].i;
		double level = left / wsum;
		double e = level * (double)shares[i];
		if (e > (double)max[i])
			e = (double)max[i];
		ideal[i] = e;
		left -= e;
		wsum -= (double)shares[i];
	}
	double tv = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)alloc[i] / total - ideal[i] / total;
		tv += d < 0 ? -d : d;
	}
	return 1 - tv / 2;
}

/* CPU time of the calling thread: each policy runs in its own thread, and a
 * loaded machine does not inflate it. */
static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t
band_of(const uint64_t thr[4], int64_t free_pages)
{
	uint64_t f = free_pages > 0 ? (uint64_t)free_pages * SIM_PAGE : 0;
	if (f < thr[3])
		return RECLAIM_STATE_LOW;
	if (f < thr[2])
		return RECLAIM_STATE_HARD;
	if (f < thr[1])
		return RECLAIM_STATE_SOFT;
	return RECLAIM_STATE_HIGH;
}

static double
mib(uint64_t pages)
{
	return (double)pages * SIM_PAGE / (double)SIM_MIB;
}

static FILE *
open_csv(const char *dir, const char *policy, const char *what)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s-%s.csv", dir, policy, what);
	return fopen(path, "w");
}

static void
csv_headers(FILE *host, FILE *vms, const struct sim_world *w)
{
	fprintf(host, "t_s,free_mib,state,band,balloon_mib,swapped_mib,consumed_mib,ws_mib,"
		      "ws_faults,oom_episodes,high_mib,soft_mib,hard_mib,low_mib\n");
	fprintf(vms, "t_s");
	for (size_t i = 0; i < w->n_vms; i++) {
		const char *n = w->vms[i].spec->name;
		fprintf(vms, ",%s_consumed,%s_balloon,%s_swapped,%s_ws,%s_est,%s_slow,%s_fast", n,
			n, n, n, n, n, n);
	}
	fprintf(vms, "\n");
}

static void
csv_row(FILE *host, FILE *vms, const struct sim_world *w, const struct sim_driver *d,
	uint32_t band)
{
	uint64_t balloon = 0, swapped = 0, consumed = 0, ws = 0, faults = 0, ooms = 0;
	double t = (double)w->now_ns / 1e9;

	fprintf(vms, "%.0f", t);
	for (size_t i = 0; i < w->n_vms; i++) {
		const struct sim_vm *vm = &w->vms[i];
		uint64_t want = sim_vm_ws_want(w, vm), c = sim_vm_consumed(vm);
		balloon += vm->balloon;
		swapped += sim_vm_swapped(vm);
		consumed += c;
		ws += want;
		faults += vm->ws_faults;
		ooms += vm->oom_episodes;
		double cb = (double)c * SIM_PAGE;
		fprintf(vms, ",%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f", mib(c), mib(vm->balloon),
			mib(sim_vm_swapped(vm)), mib(want),
			(double)reclaim_estimator_active_bytes(&vm->est, (uint64_t)cb) / SIM_MIB,
			vm->est.slow * cb / SIM_MIB, vm->est.fast * cb / SIM_MIB);
	}
	fprintf(vms, "\n");
	fprintf(host, "%.0f,%.1f,%u,%u,%.1f,%.1f,%.1f,%.1f,%llu,%llu,%.1f,%.1f,%.1f,%.1f\n", t,
		w->free > 0 ? mib((uint64_t)w->free) : -mib((uint64_t)-w->free), d->last_state,
		band, mib(balloon), mib(swapped), mib(consumed), mib(ws),
		(unsigned long long)faults, (unsigned long long)ooms,
		(double)d->thresholds[0] / SIM_MIB, (double)d->thresholds[1] / SIM_MIB,
		(double)d->thresholds[2] / SIM_MIB, (double)d->thresholds[3] / SIM_MIB);
}

int
sim_run(struct sim_metrics *m, const struct sim_scenario *sc, const struct sim_run_opts *o)
{
	struct sim_world w;
	struct sim_driver d;
	struct reclaim_config cfg;
	FILE *host = NULL, *vms = NULL;
	double t0 = now_seconds(), balloon_sum = 0, fair_sum = 0;
	uint64_t fair_n = 0, alloc[SIM_VMS_MAX], shares[SIM_VMS_MAX], max[SIM_VMS_MAX];
	int r;

	memset(m, 0, sizeof(*m));
	r = reclaim_config_init_profile(&cfg, sizeof(cfg), RECLAIM_PROFILE_ESX);
	if (r)
		return m->error = r;
	/* Same seed for every policy: the same workload and the same samples
	 * until the policies diverge. */
	if (sim_world_init(&w, sc, sc->seed, &cfg) < 0)
		return m->error = RECLAIM_E_NOMEM;
	if (o->policy == SIM_POLICY_SQUEEZED)
		sim_world_set_host(&w, sc->squeezed_host);
	r = sim_driver_init(&d, o->policy, &w);
	if (r) {
		sim_driver_free(&d);
		sim_world_free(&w);
		return m->error = r;
	}
	if (o->out_dir) {
		host = open_csv(o->out_dir, sim_policy_name(o->policy), "host");
		vms = open_csv(o->out_dir, sim_policy_name(o->policy), "vms");
		if (!host || !vms) {
			r = m->error = RECLAIM_E_INVAL;
			goto out;
		}
		csv_headers(host, vms, &w);
	}
	m->min_free = w.free * (int64_t)SIM_PAGE;
	uint64_t next_decide = 0, next_csv = 0, next_sample = 0;
	while (w.now_ns < sc->duration_ns) {
		if (d.sample_ns && w.now_ns >= next_sample) {
			sim_driver_sample(&d, &w);
			while (next_sample <= w.now_ns)
				next_sample += d.sample_ns;
		}
		if (w.now_ns >= next_decide) {
			r = sim_driver_tick(&d, &w);
			if (r) {
				m->error = r;
				goto out;
			}
			next_decide += d.decide_ns;
			size_t n = 0;
			for (size_t i = 0; i < w.n_vms; i++) {
				const struct sim_vm *vm = &w.vms[i];
				if (!vm->running)
					continue;
				alloc[n] = sim_vm_held(&w, vm);
				shares[n] = vm->shares;
				uint64_t lim = vm->spec->limit / SIM_PAGE;
				max[n++] = lim < vm->conf ? lim : vm->conf;
			}
			fair_sum += sim_fairness(alloc, shares, max, n);
			fair_n++;
			if (o->observe)
				o->observe(o->ctx, &w, &d);
		}
		uint64_t dt = sc->step_ns;
		if (w.now_ns + dt > sc->duration_ns)
			dt = sc->duration_ns - w.now_ns;
		sim_world_step(&w, dt);

		uint32_t b = band_of(d.thresholds, w.free);
		m->band_ns[b] += dt;
		m->state_ns[d.last_state < 4 ? d.last_state : 0] += dt;
		uint64_t balloon = 0, swapped = 0;
		for (size_t i = 0; i < w.n_vms; i++) {
			balloon += w.vms[i].balloon;
			swapped += sim_vm_swapped(&w.vms[i]);
		}
		balloon_sum += (double)balloon * SIM_PAGE * (double)dt;
		if (balloon * SIM_PAGE > m->balloon_peak)
			m->balloon_peak = balloon * SIM_PAGE;
		if (swapped * SIM_PAGE > m->swapped_peak)
			m->swapped_peak = swapped * SIM_PAGE;
		if (w.free * (int64_t)SIM_PAGE < m->min_free)
			m->min_free = w.free * (int64_t)SIM_PAGE;
		if (host && w.now_ns >= next_csv) {
			csv_row(host, vms, &w, &d, b);
			next_csv += sc->csv_ns;
		}
	}
	m->balloon_avg = sc->duration_ns ? balloon_sum / (double)sc->duration_ns : 0;
	m->fairness = fair_n ? fair_sum / (double)fair_n : 1;
	m->host_oom_ns = w.host_oom_ns;
	for (size_t i = 0; i < w.n_vms; i++) {
		const struct sim_vm *vm = &w.vms[i];
		m->inflated += vm->inflated * SIM_PAGE;
		m->swapped_out += vm->swapped_out * SIM_PAGE;
		m->forced_out += vm->forced_out * SIM_PAGE;
		m->ws_faults += vm->ws_faults;
		m->other_swapins += vm->other_swapins;
		m->guest_swapped += vm->guest_swapped * SIM_PAGE;
		m->oom_events += vm->oom_events;
		m->oom_episodes += vm->oom_episodes;
		m->oom_vms += vm->oom_episodes > 0;
		m->oom_ns += vm->oom_ns;
		m->oom_deflated += vm->oom_deflated * SIM_PAGE;
		m->blocked_ns += vm->blocked_ns;
	}
out:
	if (host)
		fclose(host);
	if (vms)
		fclose(vms);
	sim_driver_free(&d);
	sim_world_free(&w);
	m->seconds = now_seconds() - t0;
	return r;
}

struct pool {
	pthread_mutex_t lock;
	int next;
	const struct sim_scenario *sc;
	const char *out_dir;
	struct sim_metrics *m;
	int status;
};

static void *
worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->next < SIM_POLICY_COUNT && !(p->sc->policies & (1u << p->next)))
			p->next++;
		int pol = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (pol >= SIM_POLICY_COUNT)
			return NULL;
		struct sim_run_opts o = {.out_dir = p->out_dir, .policy = pol};
		int r = sim_run(&p->m[pol], p->sc, &o);
		if (r) {
			pthread_mutex_lock(&p->lock);
			p->status = r;
			pthread_mutex_unlock(&p->lock);
		}
	}
}

int
sim_run_all(struct sim_metrics m[SIM_POLICY_COUNT], const struct sim_scenario *sc,
	    const char *out_dir, int jobs)
{
	struct pool p = {.next = 0, .sc = sc, .out_dir = out_dir, .m = m, .status = 0};
	pthread_t th[SIM_POLICY_COUNT];
	int started = 0;

	memset(m, 0, sizeof(*m) * SIM_POLICY_COUNT);
	pthread_mutex_init(&p.lock, NULL);
	if (jobs < 1)
		jobs = 1;
	for (int i = 0; i < jobs && i < SIM_POLICY_COUNT; i++)
		if (pthread_create(&th[i], NULL, worker, &p) == 0)
			started++;
	if (started == 0)
		worker(&p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	return p.status;
}

static double
gib(double bytes)
{
	return bytes / (double)SIM_GIB;
}

enum row {
	ROW_OOM_EPISODES,
	ROW_OOM_HOURS,
	ROW_OOM_VMS,
	ROW_SWAPPED,
	ROW_FORCED,
	ROW_FAULTS,
	ROW_OTHER_SWAPINS,
	ROW_GUEST_SWAP,
	ROW_STATES,
	ROW_BALLOON,
	ROW_INFLATED,
	ROW_OOM_DEFLATED,
	ROW_MIN_FREE,
	ROW_HOST_OOM,
	ROW_FAIRNESS,
	ROW_BLOCKED,
	ROW_SECONDS,
	ROW_COUNT
};

static const char *const row_names[ROW_COUNT] = {
	[ROW_OOM_EPISODES] = "guest OOM episodes",
	[ROW_OOM_HOURS] = "VM-hours out of memory",
	[ROW_OOM_VMS] = "VMs with OOM episodes",
	[ROW_SWAPPED] = "host-swapped by policy (GiB)",
	[ROW_FORCED] = "host-swapped by host kernel (GiB)",
	[ROW_FAULTS] = "faults on swapped working set (M pages)",
	[ROW_OTHER_SWAPINS] = "swap-ins of reused guest memory (M pages)",
	[ROW_GUEST_SWAP] = "guest swap-outs (GiB)",
	[ROW_STATES] = "time high / soft / hard / low (%)",
	[ROW_BALLOON] = "balloon avg / peak (GiB)",
	[ROW_INFLATED] = "ballooned (inflated, GiB)",
	[ROW_OOM_DEFLATED] = "deflated by guests on OOM (GiB)",
	[ROW_MIN_FREE] = "lowest free memory (MiB)",
	[ROW_HOST_OOM] = "host hours out of memory",
	[ROW_FAIRNESS] = "fairness vs shares (1 = ideal)",
	[ROW_BLOCKED] = "VM-hours blocked",
	[ROW_SECONDS] = "run time (CPU s)",
};

static void
cell_text(char *cell, size_t len, int row, const struct sim_metrics *x, double dur)
{
	switch (row) {
	case ROW_OOM_EPISODES:
		snprintf(cell, len, "%llu", (unsigned long long)x->oom_episodes);
		break;
	case ROW_OOM_HOURS: snprintf(cell, len, "%.2f", (double)x->oom_ns / 3.6e12); break;
	case ROW_OOM_VMS: snprintf(cell, len, "%llu", (unsigned long long)x->oom_vms); break;
	case ROW_SWAPPED: snprintf(cell, len, "%.2f", gib((double)x->swapped_out)); break;
	case ROW_FORCED: snprintf(cell, len, "%.2f", gib((double)x->forced_out)); break;
	case ROW_FAULTS: snprintf(cell, len, "%.3f", (double)x->ws_faults / 1e6); break;
	case ROW_OTHER_SWAPINS:
		snprintf(cell, len, "%.3f", (double)x->other_swapins / 1e6);
		break;
	case ROW_GUEST_SWAP: snprintf(cell, len, "%.2f", gib((double)x->guest_swapped)); break;
	case ROW_STATES:
		snprintf(cell, len, "%.2f / %.2f / %.2f / %.2f", 100.0 * (double)x->band_ns[0] / dur,
			 100.0 * (double)x->band_ns[1] / dur, 100.0 * (double)x->band_ns[2] / dur,
			 100.0 * (double)x->band_ns[3] / dur);
		break;
	case ROW_BALLOON:
		snprintf(cell, len, "%.2f / %.2f", gib(x->balloon_avg), gib((double)x->balloon_peak));
		break;
	case ROW_INFLATED: snprintf(cell, len, "%.1f", gib((double)x->inflated)); break;
	case ROW_OOM_DEFLATED: snprintf(cell, len, "%.2f", gib((double)x->oom_deflated)); break;
	case ROW_MIN_FREE: snprintf(cell, len, "%.0f", (double)x->min_free / SIM_MIB); break;
	case ROW_HOST_OOM: snprintf(cell, len, "%.2f", (double)x->host_oom_ns / 3.6e12); break;
	case ROW_FAIRNESS: snprintf(cell, len, "%.3f", x->fairness); break;
	case ROW_BLOCKED: snprintf(cell, len, "%.2f", (double)x->blocked_ns / 3.6e12); break;
	default: snprintf(cell, len, "%.1f", x->seconds); break;
	}
	if (x->error)
		snprintf(cell, len, "error %d", x->error);
}

void
sim_print_table(FILE *f, const struct sim_scenario *sc,
		const struct sim_metrics m[SIM_POLICY_COUNT], int md)
{
	const char *sep = md ? " | " : "  ";
	double dur = (double)sc->duration_ns;

	if (md)
		fprintf(f, "| metric");
	else
		fprintf(f, "%-42s", "metric");
	for (int p = 0; p < SIM_POLICY_COUNT; p++)
		if (sc->policies & (1u << p))
			fprintf(f, md ? " | %s" : "  %-26s", sim_policy_name(p));
	fprintf(f, md ? " |\n" : "\n");
	if (md) {
		fprintf(f, "|---");
		for (int p = 0; p < SIM_POLICY_COUNT; p++)
			if (sc->policies & (1u << p))
				fprintf(f, "|---");
		fprintf(f, "|\n");
	}
	for (int r = 0; r < ROW_COUNT; r++) {
		if (md)
			fprintf(f, "| %s", row_names[r]);
		else
			fprintf(f, "%-42s", row_names[r]);
		for (int p = 0; p < SIM_POLICY_COUNT; p++) {
			if (!(sc->policies & (1u << p)))
				continue;
			char cell[64];
			cell_text(cell, sizeof(cell), r, &m[p], dur);
			fprintf(f, md ? "%s%s" : "%s%-26s", sep, cell);
		}
		fprintf(f, md ? " |\n" : "\n");
	}
}
