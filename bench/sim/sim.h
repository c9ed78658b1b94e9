/* SPDX-License-Identifier: MIT */
/*
 * reclaim-sim: a deterministic host simulator that drives reclaim (and peer
 * policies re-implemented here) the way a hypervisor would. Private to
 * bench/sim; uses only the public reclaim.h.
 *
 * Memory inside the world is counted in pages; the scenario and the reports
 * use bytes. Time is in nanoseconds, like the library.
 */
#ifndef RECLAIM_SIM_H
#define RECLAIM_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <reclaim.h>

#define SIM_PAGE 4096u
#define SIM_NS 1000000000ull
#define SIM_MIB (1024ull * 1024ull)
#define SIM_GIB (1024ull * SIM_MIB)
#define SIM_NEVER UINT64_MAX
#define SIM_SAMPLE_MAX 1024u
#define SIM_PICK_MAX 256u /* draws per sim_pick_count() call */

/* Policies compared side by side. */
enum sim_policy {
	SIM_POLICY_RECLAIM = 0,  /* reclaim, RECLAIM_PROFILE_ESX defaults */
	SIM_POLICY_PAPER = 1,    /* reclaim, RECLAIM_PROFILE_PAPER */
	SIM_POLICY_SWAP = 2,     /* swap-only baseline */
	SIM_POLICY_MOM = 3,      /* oVirt MOM default balloon policy */
	SIM_POLICY_SQUEEZED = 4, /* Xen squeezed proportional policy */
	SIM_POLICY_KERNEL = 5,   /* no policy: the host kernel's own LRU reclaim */
	SIM_POLICY_PSI = 6,      /* Senpai-style PSI-driven proactive reclaim */
	SIM_POLICY_COUNT = 7
};

/* The host squeezed runs on. */
enum sim_host_model {
	SIM_HOST_LINUX = 0, /* demand-paged, host swap, kernel reclaim below a floor */
	SIM_HOST_XEN = 1    /* a domain owns all its non-balloon memory; no host swap */
};

/* How host swap picks a VM's pages (bench/README.md). */
enum sim_swap_pick {
	SIM_SWAP_RANDOM = 0, /* uniformly among resident pages (ESX) */
	SIM_SWAP_COLD = 1    /* pages outside the working set first (Linux LRU) */
};

const char *sim_policy_name(int policy);
/* Index of a policy name, or -1. */
int sim_policy_parse(const char *name);
/* "random" or "cold" (enum sim_swap_pick), or -1. */
int sim_swap_pick_parse(const char *name);

/* A piecewise working-set schedule: bytes from t_ns on (steps, not ramps). */
struct sim_point {
	uint64_t t_ns;
	uint64_t bytes;
};

#define SIM_SCHEDULE_MAX 1024

/* Generated working-set patterns (holdout scenarios). */
enum sim_ws_pattern {
	SIM_WS_SCHEDULE = 0, /* the ws key, or a trace column */
	SIM_WS_SPIKES = 1,   /* at ws_low; at random, up within ws_rise, held, down */
	SIM_WS_RAMPS = 2     /* slow ramps from ws_low up, then a fast fall */
};

struct sim_vm_spec {
	char name[32];
	uint64_t id;
	uint64_t configured;   /* bytes (the trace overrides it over time) */
	uint64_t reservation;
	uint64_t limit;        /* RECLAIM_UNLIMITED for none */
	uint64_t shares;       /* 0 means "10 per MiB of configured" (ESX normal) */
	uint64_t guest_swap;   /* bytes of swap inside the guest */
	int balloon;           /* a balloon driver is installed */
	uint64_t balloon_rate; /* inflation, bytes/s */
	uint64_t deflate_rate; /* deflation, bytes/s */
	uint64_t balloon_delay_ns; /* driver loads this long after the VM starts */
	uint64_t balloon_stall_ns; /* driver stops making progress at this time */
	uint64_t cache_rate;   /* page cache growth into free guest memory, bytes/s */
	int deflate_on_oom;    /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	uint64_t start_ns;     /* the VM powers on at this time */
	int has_idle_tax;
	double idle_tax;
	/* Working set: a schedule, or a trace column (trace_col >= 0) plus a
	 * base of ws_base_fraction of configured, at most ws_base_max bytes. */
	struct sim_point ws[SIM_SCHEDULE_MAX];
	size_t n_ws;
	int ws_linear;         /* ramp linearly between points */
	int trace_col;
	double ws_base_fraction;
	uint64_t ws_base_max;
	/* Extra, non-working-set memory the guest allocates at boot (boot-time
	 * zeroing, Fig. 7's VM1): bytes, then it becomes free memory. */
	uint64_t boot_touch;
	uint64_t boot_ns;
	/* A generated working set (ws_pattern != SIM_WS_SCHEDULE), written
	 * into ws[] by sim_scenario_generate() from the scenario's seed. */
	int ws_pattern;
	uint64_t ws_low, ws_high;   /* bytes */
	uint64_t ws_every_ns;       /* spikes: mean gap; ramps: mean ramp length */
	uint64_t ws_rise_ns;        /* spikes: low to top in this long */
	uint64_t ws_hold_ns;        /* spikes: mean time at the top; ramps: mean pause */
	uint64_t ws_fall_ns;        /* top back to low in this long */
	double ws_amplitude;        /* an event's top: [this, 1] of high - low above low */
};

/* The derived Bitbrains trace (bench/data/bitbrains). */
struct sim_trace {
	size_t n_vms;
	size_t n_rows;
	uint64_t step_ns;   /* 300 s */
	uint64_t *ids;      /* n_vms dataset ids */
	uint64_t *used;     /* n_rows x n_vms, bytes */
	uint64_t *provisioned; /* n_rows x n_vms, bytes */
	uint64_t *max_provisioned; /* n_vms */
};

int sim_trace_load(struct sim_trace *trace, const char *dir, char *err, size_t errlen);
void sim_trace_free(struct sim_trace *trace);

#define SIM_TAU_CHANGES 8
#define SIM_VMS_MAX 256

struct sim_scenario {
	char name[64];
	char dir[512];          /* directory of the scenario file, for relative paths */
	/* host */
	uint64_t total;
	uint64_t reserved;
	uint64_t host_swap;
	int swap_pick;          /* enum sim_swap_pick: policy-driven host swap */
	double overcommit;      /* > 0: total = sum(max configured) / overcommit + reserved */
	/* run */
	uint64_t duration_ns;
	uint64_t step_ns;
	uint64_t decide_ns;
	uint64_t csv_ns;        /* timeline resolution */
	uint64_t touch_ns;      /* a working-set page is touched within this (faults) */
	uint64_t oom_clear_ns;  /* an OOM episode ends after this long without OOM */
	uint64_t seed;
	unsigned policies;      /* bit per enum sim_policy */
	double idle_tax;        /* reclaim policies' tau (<0: the profile's default) */
	int has_demand_memory;  /* else the profile's demand_memory_ns */
	uint64_t demand_memory_ns; /* reclaim policies' demand memory */
	struct {
		uint64_t t_ns;
		double tau;
	} tau_change[SIM_TAU_CHANGES];
	size_t n_tau_change;
	/* peers */
	double squeezed_dyn_min; /* squeezed: dynamic_min as a fraction of configured */
	int squeezed_host;       /* enum sim_host_model squeezed runs on */
	double mom_guaranteed;   /* MOM: balloon floor, fraction of configured; < 0: oVirt's */
	uint64_t psi_pressure_ns; /* psi: stall target per interval (Senpai --pressure) */
	uint64_t psi_interval_ns; /* psi: probe interval (Senpai --interval) */
	uint64_t psi_fault_ns;   /* psi: stall per host swap-in of the VM */
	/* trace */
	char trace_dir[512];
	struct sim_trace trace;
	int has_trace;
	/* VMs */
	struct sim_vm_spec vms[SIM_VMS_MAX];
	size_t n_vms;
};

/* Parses a scenario file (format in bench/README.md). Loads the trace it
 * names. Returns 0, or -1 with a message "file:line: what" in err. */
int sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen);
/* Same, from text; base_dir resolves relative paths. */
int sim_scenario_parse(struct sim_scenario *sc, const char *text, const char *base_dir,
		       const char *label, char *err, size_t errlen);
void sim_scenario_free(struct sim_scenario *sc);
/* Writes the working sets of VMs with a ws_pattern from sc->seed (and the
 * VM's name) over sc->duration_ns. The parser calls it; call it again after
 * changing either. Returns 0, or -1 with a message in err. */
int sim_scenario_generate(struct sim_scenario *sc, char *err, size_t errlen);
/* Byte and duration parsing ("1.5G", "256M", "30d", "90s", "500ms"). */
int sim_parse_bytes(uint64_t *out, const char *s);
int sim_parse_duration(uint64_t *out, const char *s);
/* A guest's swap: a size, or "rhel" (SIM_NEVER) for RHEL's recommendation
 * for its size. */
int sim_parse_guest_swap(uint64_t *out, const char *s);
/* Applies overcommit: sizes the host from the VMs. */
void sim_scenario_size_host(struct sim_scenario *sc);
/* Gives every VM @p bytes of swap inside its guest; SIM_NEVER: RHEL's
 * recommendation for its size, as guest_swap = rhel. */
void sim_scenario_set_guest_swap(struct sim_scenario *sc, uint64_t bytes);
uint64_t sim_vm_shares(const struct sim_vm_spec *spec);

/* ---- the world ---------------------------------------------------------- */

/*
 * One guest, in pages. Guest memory (configured) is split into:
 *   balloon | anon (working set: ws_res + ws_swp) | cache (cache_res + cache_swp)
 *   | free backed by the host (free_res + free_swp) | free never touched.
 * *_swp pages are backed by host swap, *_res by host RAM. anon that does not
 * fit in guest RAM lives in guest swap (gswap).
 */
struct sim_vm {
	const struct sim_vm_spec *spec;
	int running;
	int blocked;
	int oom;               /* in an OOM condition now */
	int in_episode;        /* an OOM episode is open */
	uint64_t oom_last_ns;  /* last time it was out of memory */
	uint64_t conf;
	uint64_t balloon;
	uint64_t balloon_target;
	uint64_t ws_res, ws_swp;
	uint64_t cache_res, cache_swp;
	uint64_t free_res, free_swp;
	uint64_t gswap;
	uint64_t gswap_size;
	uint64_t shares;

	/* estimator */
	struct reclaim_estimator est;
	uint64_t period_end_ns;
	uint32_t n_samples;
	uint32_t touched;
	uint64_t samples[SIM_SAMPLE_MAX];

	/* counters */
	uint64_t oom_events;       /* OOM conditions entered (raw; many per episode) */
	uint64_t oom_episodes;     /* episodes: OOM, until clear for oom_clear_ns */
	uint64_t oom_deflated;     /* pages the guest deflated on OOM by itself */
	uint64_t ws_faults;        /* host-swapped working-set pages touched */
	uint64_t other_swapins;    /* host-swapped non-working-set pages touched */
	uint64_t swapped_out;      /* pages host-swapped by the policy */
	uint64_t forced_out;       /* pages host-swapped by the host's emergency reclaim */
	uint64_t inflated;         /* pages the balloon took */
	uint64_t guest_swapped;    /* anon pages pushed to guest swap */
	uint64_t blocked_ns;
	uint64_t oom_ns;           /* time spent out of memory */

	/* peers' memory */
	uint64_t last_balloon;     /* squeezed: balloon at the last tick */
	uint64_t stuck_since_ns;   /* squeezed: no progress since */
	int inactive;              /* squeezed: excluded as stuck */
	uint64_t mom_cur[10];      /* MOM: balloon_cur history */
	uint64_t mom_unused[10];   /* MOM: mem_unused history */
	int psi_init;              /* psi: limit set */
	double psi_limit;          /* psi: memory.high, pages */
	uint64_t psi_faults;       /* psi: host swap-ins (ws_faults + other_swapins) so far */
};

struct sim_world {
	const struct sim_scenario *sc;
	int host_model;         /* enum sim_host_model */
	struct reclaim_rng rng;
	uint64_t now_ns;
	uint64_t usable;        /* pages */
	uint64_t swap_size;     /* pages of host swap */
	uint64_t swap_used;
	uint64_t emergency;     /* pages: the host reclaims on its own below this */
	size_t n_vms;
	struct sim_vm *vms;
	int64_t free;           /* pages; negative means the host ran out (Xen: over-allocated) */
	uint64_t host_oom_ns;   /* time spent with free < 0 */
	uint64_t sample_pages;
	uint64_t sample_period_ns;
};

int sim_world_init(struct sim_world *w, const struct sim_scenario *sc, uint64_t seed,
		   const struct reclaim_config *cfg);
/* Switches to a host model (enum sim_host_model) before the first step. */
void sim_world_set_host(struct sim_world *w, int host_model);
void sim_world_free(struct sim_world *w);
/* Advances the world by dt. */
void sim_world_step(struct sim_world *w, uint64_t dt_ns);
/* Working set the guest wants now, in pages (truth). */
uint64_t sim_vm_ws_want(const struct sim_world *w, const struct sim_vm *vm);
/* Recomputes w->free. */
void sim_world_account(struct sim_world *w);

/* Host-side views. */
static inline uint64_t sim_vm_anon(const struct sim_vm *vm) { return vm->ws_res + vm->ws_swp; }
static inline uint64_t sim_vm_cache(const struct sim_vm *vm) { return vm->cache_res + vm->cache_swp; }
static inline uint64_t sim_vm_mapped(const struct sim_vm *vm)
{
	return sim_vm_anon(vm) + sim_vm_cache(vm) + vm->free_res + vm->free_swp;
}
static inline uint64_t sim_vm_swapped(const struct sim_vm *vm)
{
	return vm->ws_swp + vm->cache_swp + vm->free_swp;
}
static inline uint64_t sim_vm_consumed(const struct sim_vm *vm)
{
	return vm->ws_res + vm->cache_res + vm->free_res;
}
/* Host memory the VM holds: what it consumes, or on Xen all of its
 * non-balloon memory. */
uint64_t sim_vm_held(const struct sim_world *w, const struct sim_vm *vm);
/* Guest view: memory not used by balloon, anon or cache (MemFree). */
static inline uint64_t sim_vm_guest_unused(const struct sim_vm *vm)
{
	uint64_t used = vm->balloon + sim_vm_anon(vm) + sim_vm_cache(vm);
	return vm->conf > used ? vm->conf - used : 0;
}
int sim_vm_has_balloon(const struct sim_world *w, const struct sim_vm *vm);
int sim_vm_balloon_moving(const struct sim_world *w, const struct sim_vm *vm);

/* Actions (the adapter's effects). */
void sim_vm_set_balloon(struct sim_world *w, struct sim_vm *vm, uint64_t pages);
/* Host-swaps up to pages resident pages, picked by pick (enum
 * sim_swap_pick); returns how many. */
uint64_t sim_vm_swap_out(struct sim_world *w, struct sim_vm *vm, uint64_t pages, int pick);
/* Balloon/unplug path: the guest gives up pages (free, then cache, then anon
 * to guest swap while it has room). Returns pages given. */
uint64_t sim_vm_guest_take(struct sim_world *w, struct sim_vm *vm, uint64_t pages);

/* Of k pages drawn at random from n, how many fall in the first m? Uses the
 * library's sampler (reclaim_pick_*). */
uint64_t sim_pick_count(struct reclaim_rng *rng, uint64_t n, uint64_t m, uint64_t k);

/* ---- policies ------------------------------------------------------------ */

struct sim_policy_state;

struct sim_tick {
	uint32_t state;          /* reclaim's state (library policies), else the band */
	uint64_t in_flight;
};

/* MOM's shipped cadence (doc/mom-balloon.conf): host and guest monitors
 * sample every 5 s, the policy engine runs every 10 s. */
#define SIM_MOM_SAMPLE_NS (5 * SIM_NS)
#define SIM_MOM_POLICY_NS (10 * SIM_NS)

struct sim_driver {
	int policy;
	uint64_t decide_ns;            /* decides this often */
	uint64_t sample_ns;            /* monitors sample this often (0: none) */
	struct reclaim_config cfg;
	struct reclaim_policy *rp;     /* library policies */
	struct reclaim_vm_stats *stats;
	struct reclaim_decision *dec;
	uint64_t *est_active;          /* bytes, per VM, last reported */
	uint64_t thresholds[4];        /* bytes, ESX profile, for bands and swap-only */
	uint32_t last_state;
	size_t tau_next;
	int mom_n;                     /* MOM: samples in its history */
	uint64_t mom_free[10];
	double mom_floor;              /* MOM: guaranteed memory, fraction of configured */
	uint64_t psi_last_ns;          /* psi: time of the last tick */
	int error;                     /* a library call failed (status) */
	struct reclaim_summary summary;
};

int sim_driver_init(struct sim_driver *d, int policy, struct sim_world *w);
void sim_driver_free(struct sim_driver *d);
/* One decision tick: observe the world, decide, act on it. */
int sim_driver_tick(struct sim_driver *d, struct sim_world *w);
/* A monitoring sample between decisions (every d->sample_ns). */
void sim_driver_sample(struct sim_driver *d, struct sim_world *w);

/* Peer rules, exposed for tests. Sizes in bytes. */
struct sim_mom_guest {
	uint64_t cur, cur_avg, unused_avg, max, min;
};
/* Returns 1 and sets *target (new guest memory size, bytes) when MOM would
 * change it, 0 to leave it. host_free_pct is StatAvg(mem_free)/mem_available. */
int sim_mom_target(uint64_t *target, double host_free_pct, const struct sim_mom_guest *g);

struct sim_sq_domain {
	uint64_t dyn_min, dyn_max, actual;
	int active;     /* 0: stuck, held at actual */
	uint64_t target; /* out */
};
/* oVirt's default guaranteed memory, MOM's balloon floor, as a fraction of
 * configured memory, on a host whose VMs configure `configured` bytes on
 * `usable` bytes: 100 / the cluster's memory overcommit percent, the
 * smallest that admits the VMs. */
double sim_mom_default_floor(uint64_t configured, uint64_t usable);

/* Senpai's rule (senpai.py's defaults) over a window of dt_ns in which a
 * VM stalled stall_ns: the factor its memory.high is multiplied by (> 1
 * backs off, < 1 probes). pressure_ns per interval_ns is the target. */
double sim_psi_factor(uint64_t stall_ns, uint64_t dt_ns, uint64_t pressure_ns,
		      uint64_t interval_ns);

/* Xen squeezed's proportional targets. Returns gamma. */
double sim_squeezed_targets(struct sim_sq_domain *d, size_t n, int64_t host_free,
			    uint64_t host_target);

/* ---- a run ------------------------------------------------------------------ */

struct sim_metrics {
	uint64_t band_ns[4];
	uint64_t state_ns[4];
	double balloon_avg;      /* bytes, time-average of total balloons */
	uint64_t balloon_peak;
	uint64_t inflated;       /* bytes */
	uint64_t swapped_out;    /* bytes, by the policy */
	uint64_t forced_out;     /* bytes, by the host's emergency reclaim */
	uint64_t swapped_peak;
	uint64_t ws_faults;
	uint64_t other_swapins;
	uint64_t guest_swapped;  /* bytes */
	uint64_t oom_events;     /* raw OOM conditions entered */
	uint64_t oom_episodes;
	uint64_t oom_vms;        /* VMs with at least one episode */
	uint64_t oom_ns;         /* VM-time out of memory */
	uint64_t oom_deflated;   /* bytes guests deflated on OOM by themselves */
	int64_t min_free;        /* bytes */
	double fairness;         /* time-average, 1 = shares-weighted ideal */
	uint64_t blocked_ns;
	uint64_t host_oom_ns;
	double seconds;          /* CPU time of this run (its thread) */
	int error;
};

struct sim_run_opts {
	const char *out_dir;     /* NULL: no CSV */
	int policy;
	/* optional per-tick observer (tests): called after each decide */
	void (*observe)(void *ctx, const struct sim_world *w, const struct sim_driver *d);
	void *ctx;
};

int sim_run(struct sim_metrics *m, const struct sim_scenario *sc, const struct sim_run_opts *o);
/* Runs every policy of sc->policies, in parallel up to jobs threads. */
int sim_run_all(struct sim_metrics m[SIM_POLICY_COUNT], const struct sim_scenario *sc,
		const char *out_dir, int jobs);

void sim_print_table(FILE *f, const struct sim_scenario *sc,
		     const struct sim_metrics m[SIM_POLICY_COUNT], int markdown);
/* Fairness of one allocation: 1 - total-variation distance between the
 * allocation's shares of the total and the shares-weighted ideal. */
double sim_fairness(const uint64_t *alloc, const uint64_t *shares, const uint64_t *max,
		    size_t n);

#endif
