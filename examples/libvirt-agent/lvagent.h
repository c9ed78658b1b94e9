/* SPDX-License-Identifier: MIT */
/*
 * reclaim-libvirt-agent: reclaim managing every running libvirt domain with a
 * balloon on this host (see README.md). Declarations shared by its files.
 */
#ifndef LVAGENT_H
#define LVAGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "common.h" /* examples/agent-common */
#include "reclaim.h"

/* The agent's XML namespace for <metadata> (virsh metadata --uri). */
#define LV_METADATA_URI "urn:reclaim:libvirt-agent:1"
#define LV_METADATA_KEY "reclaim"

/* ---- log.c ---- */

enum lv_level { LV_ERROR, LV_WARN, LV_INFO, LV_DEBUG };

/* Log lines go to @p out (stderr when NULL); LV_DEBUG only when verbose.
 * With @p stamp, lines start with the local time. */
void lv_log_setup(FILE *out, int verbose, int stamp);
/* While on, lv_log() writes nothing (a domain XML read again unchanged:
 * what it has to say was said when it was new). */
void lv_log_quiet(int on);
void lv_log(enum lv_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* libvirt's last error message, never NULL. */
const char *lv_virerr(void);
uint64_t lv_now_ns(void);  /* CLOCK_MONOTONIC */
/* @p wait_ms from now on CLOCK_MONOTONIC, for pthread_cond_timedwait() on a
 * condition variable set to that clock. */
struct timespec lv_deadline(int wait_ms);
uint64_t lv_wall_ns(void); /* CLOCK_REALTIME */

/* ---- domxml.c: what the domain XML says ---- */

/* Where a policy input came from, for the log and the README's table. */
enum lv_source {
	LV_SRC_DEFAULT = 0,
	LV_SRC_METADATA,      /* <metadata><reclaim:vm .../> */
	LV_SRC_MEMTUNE,       /* <memtune> min_guarantee / hard_limit */
	LV_SRC_CURRENT,       /* persistent <currentMemory> */
};

struct lv_settings {
	char type[16];            /* <domain type=...>: kvm, qemu (TCG), ... */
	int kvm;                  /* type kvm: hardware virtualization */
	uint64_t configured;      /* <memory>: guest-visible maximum */
	int has_balloon;          /* a virtio <memballoon> */
	unsigned stats_period;    /* <memballoon><stats period>, seconds; 0: none */
	int deflate_on_oom;       /* <memballoon><driver deflate_on_oom='on'> */
	size_t n_ram;             /* guest RAM backends and their sizes */
	uint64_t ram[GUEST_MEM_MAX_REGIONS];

	int manage;               /* metadata manage='no' leaves the domain alone */
	uint64_t shares;
	uint64_t reservation;
	uint64_t limit;           /* RECLAIM_UNLIMITED for none */
	uint64_t balloon_cap;     /* RECLAIM_UNLIMITED for none */
	uint64_t guest_swap;
	enum lv_source src_shares, src_reservation, src_limit, src_balloon_cap, src_guest_swap;
};

/*
 * Reads @p xml (the live definition) and, when not NULL, @p inactive_xml (the
 * persistent one, for <currentMemory>). Bad metadata gets one log line naming
 * @p name and the default instead. Returns 0, or -1 (logged) when the XML
 * cannot be used at all.
 */
int domxml_parse(struct lv_settings *out, const char *name, const char *xml,
		 const char *inactive_xml);
/* "metadata", "memtune", ... */
const char *lv_source_name(enum lv_source src);

/* ---- call.c: libvirt calls that may wait on a QEMU monitor ---- */

/* How long a tick waits for one such call before it goes on without it. */
#define LV_CALL_WAIT_MS 2000
/* The call did not return in time, or one before it still has not. */
#define LV_CALL_HUNG (-2)

struct lv_call;

/*
 * Runs @p fn(@p dom, a copy of the @p size bytes at @p arg) in a thread of
 * its own, and waits for it at most @p wait_ms. In time, the copy is
 * copied back to @p arg and fn's result returned (libvirt's message, when
 * it failed, is lv_call_err()'s). Late, it returns LV_CALL_HUNG and the call
 * goes on alone: kept in *@p busy (unless @p busy is NULL), which makes
 * every later call with it return LV_CALL_HUNG at once until it returns.
 */
int lv_call(struct lv_call **busy, virDomainPtr dom, const char *what,
	    int (*fn)(virDomainPtr dom, void *arg), void *arg, size_t size, int wait_ms);
/* Whether the call kept in *@p busy is still running; one that returned
 * is let go (and logged). */
int lv_call_busy(struct lv_call **busy);
/* Lets go of the call kept in *@p busy, running or not. */
void lv_call_drop(struct lv_call **busy);
/* Why this thread's last call through lv_call() failed, given what it
 * returned: libvirt's message, or no answer in time. */
const char *lv_call_err(int rc);
/* libvirt's calls of the same names, through lv_call() with
 * LV_CALL_WAIT_MS (@p stats has room for VIR_DOMAIN_MEMORY_STAT_NR). */
int lv_dom_memory_stats(struct lv_call **busy, virDomainPtr dom, virDomainMemoryStatStruct *stats);
int lv_dom_set_memory(struct lv_call **busy, virDomainPtr dom, unsigned long kib);
int lv_dom_set_stats_period(struct lv_call **busy, virDomainPtr dom, int period_s);
int lv_dom_suspend(struct lv_call **busy, virDomainPtr dom);
int lv_dom_resume(struct lv_call **busy, virDomainPtr dom);

/* ---- memstats.c: virDomainMemoryStats as the policy needs it ---- */

struct lv_memstats {
	int has_actual;
	uint64_t actual;  /* the guest's current size (balloon = configured - actual) */
	int has_rss;
	uint64_t rss;     /* the VMM process's RSS */
	struct guest_stats_raw raw;
};

/* Maps @p n libvirt stats (KiB, seconds) to bytes, saturating. */
void memstats_map(struct lv_memstats *out, const virDomainMemoryStatStruct *stats, int n);

/* ---- blocked.c: the domains this agent suspended, on disk ---- */

/*
 * Which run of a domain the agent suspended: libvirt's domain id and its
 * QEMU process (0: not known). A domain destroyed and started again while
 * the agent was not looking has other ones, and its pause is not the
 * agent's. One restored from a saved image has other ones too: a run the
 * agent saw end saved is cleared, and any run then counts as its own.
 */
struct lv_run {
	unsigned int id;
	long pid;
};

/* What the domain behind @p dom runs as now (@p pid: its QEMU process if
 * known, else 0). */
struct lv_run lv_run_of(virDomainPtr dom, pid_t pid);
/* True when both say which run they are, and they are not the same one. */
int lv_run_differs(const struct lv_run *was, const struct lv_run *now);

struct lv_blocked_entry {
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct lv_run run;
};

struct lv_blocked {
	char path[4096];   /* for messages; "" when nothing is written */
	int dir_fd;        /* the state directory, opened once, when has_dir */
	int has_dir;
	struct lv_blocked_entry *entries;
	size_t n;
	size_t cap;
};

/*
 * Opens the state directory @p dir (created 0700 if missing; refused when
 * group- or world-writable or not ours) and reads its "blocked" file.
 * 0 or -errno (logged).
 */
int blocked_open(struct lv_blocked *b, const char *dir);
void blocked_close(struct lv_blocked *b);
int blocked_has(const struct lv_blocked *b, const char *uuid);
/* Adds @p uuid, suspended in run @p run, or removes it, and rewrites the
 * file atomically (mode 0600). 0 or -errno. */
int blocked_add(struct lv_blocked *b, const char *uuid, struct lv_run run);
int blocked_remove(struct lv_blocked *b, const char *uuid);
/* The run @p uuid was suspended in; NULL if it is not listed. */
const struct lv_run *blocked_run(const struct lv_blocked *b, const char *uuid);
/* Seen saved: the run it comes back in from the image is another one, and
 * still the agent's to resume. Rewrites the file when it changed. */
void blocked_saved(struct lv_blocked *b, const char *uuid);
/* blocked_remove() in two steps, for many at once: forgets @p uuid (1 if it
 * was listed), and writes the list out. */
int blocked_drop(struct lv_blocked *b, const char *uuid);
int blocked_sync(const struct lv_blocked *b);
/* Takes the state directory for this agent alone, for as long as it runs:
 * two agents sharing one would each rewrite the list from their own, and
 * one starting would resume the other's domains. 0, or -EBUSY (logged). */
int blocked_lock(struct lv_blocked *b);

/* ---- the agent ---- */

enum lv_active_method {
	LV_ACTIVE_AUTO = 0,
	LV_ACTIVE_PAGE_IDLE,  /* idle page tracking: sees KVM guests' accesses */
	LV_ACTIVE_CLEAR_REFS, /* accessed bits via clear_refs: right under TCG only */
	LV_ACTIVE_GUEST,      /* the guest's own statistics */
};
const char *lv_active_name(enum lv_active_method m);

struct lv_domain;
struct lv_agent;

/* ---- swap.c: host swap, by the kernel's LRU or at random (agent-common) ---- */

/* Chooses the domain's host swap method for its QEMU process (d->pid) and
 * logs which and why. */
void lv_swap_setup(struct lv_agent *a, struct lv_domain *d);
/* Takes about @p bytes of the domain's RAM out to host swap; *done gets what
 * left RAM. 0 or -errno (logged). */
int lv_swap_out(struct lv_agent *a, struct lv_domain *d, uint64_t bytes, uint64_t *done);

/* Active-memory sampling state of one domain (active.c). */
struct lv_active {
	enum lv_active_method method;
	char why[256];            /* why this method, for the log and metrics */
	struct reclaim_estimator est;
	uint64_t period_start_ns;
	/* page-idle: the pages sampled this period */
	uint64_t *addrs;
	uint64_t *pfns;
	size_t n;
	size_t cap;               /* room in addrs, pfns and hot (sample_pages may grow) */
	/* page-idle: those of the last finished period found touched, in
	 * address order (host swap's random picking takes them last) */
	uint64_t *hot;
	size_t n_hot;
	uint32_t last_sampled, last_touched;
	int restart_due;          /* this tick's sample ended a period */
};

/* --max-domains at most; a domain's <memory> at most (their product fits
 * the policy's 64-bit sums). */
#define LV_MAX_DOMAINS 65536
#define LV_MAX_DOMAIN_BYTES (1ull << 47)

struct lv_domain {
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *name;
	uint64_t id;              /* stable across polls and restarts: from the UUID */
	virDomainPtr dom;         /* NULL while disconnected */
	int managed;              /* 0: known but left alone (why in skip_why) */
	char skip_why[128];
	int persistent;
	uint64_t xml_hash;        /* of the XML last read, 0 before the first */

	struct lv_settings set;
	pid_t pid;                /* the QEMU process, 0 if not on this host */
	pid_t decided_pid;        /* the QEMU process of the last decide, 0 if none */
	struct guest_mem mem;     /* its guest RAM; no regions if not found */
	struct lv_active act;
	struct guest_view view;
	struct reclaim_rng rng;
	struct host_swap swap;    /* lru or random, and why */

	/* This tick's view. */
	int sampled;              /* 1 when this tick has read it */
	uint64_t gone_since_ns;   /* its QEMU process vanished; libvirt not told yet */
	struct guest_mem_usage usage;
	uint64_t consumed;
	uint64_t balloon;
	int has_stats;
	struct guest_view_out gstats;
	struct lv_memstats ms;
	uint64_t active;

	/* What the agent did. */
	struct lv_call *call;     /* a libvirt call of its that outlasted its wait */
	int blocked;              /* suspended by this agent */
	/* Suspends and resumes of ours whose events have not come yet. A
	 * RESUMED event that is not ours, read after our suspend's, is
	 * someone else's resume, whatever the state when it is read. */
	unsigned own_suspends, own_resumes;
	struct reclaim_decision last;   /* this tick's decision */
	int have_last;
	struct reclaim_decision logged; /* the last decision logged */
	int have_logged;
	uint64_t swap_decided_total;
	uint64_t paged_out_total;
	uint64_t balloon_sets_total;
	uint64_t op_errors_total;
	int op_error;             /* this tick */
};

struct lv_http;

struct lv_agent {
	/* options */
	char *uri;
	char *config_path;
	char *state_dir;
	char *metrics_file;
	char *metrics_listen;
	uint64_t budget;          /* 0: the real host */
	uint64_t reserved;
	uint64_t tick_ns;
	uint64_t max_ticks;
	uint64_t duration_ns;
	uint64_t warmup_ns;
	unsigned stats_interval_s;
	uint64_t seed;
	size_t max_domains;
	int dry_run;
	int verbose;
	enum lv_active_method active_method;
	enum host_swap_method swap_method;
	char journal[4200];       /* cgroup v1 lru: the journal's directory (STATE_DIR) */

	/* state */
	struct reclaim_config cfg;
	struct reclaim_policy *policy;
	virConnectPtr conn;
	int connected;
	/* A connection being opened in a thread of its own (NULL: none), and
	 * how long lv_connect() waits for a new one. */
	struct lv_opener *opener;
	int connect_wait_ms;
	int lifecycle_cb;
	int metadata_cb;
	int reconnect_timer;
	uint64_t reconnect_at_ns;
	uint64_t last_resync_ns;
	struct lv_domain **doms;
	size_t n_doms;
	struct lv_blocked blocked;
	int page_idle_fd;         /* /sys/kernel/mm/page_idle/bitmap, or -1 */
	char page_idle_why[128];
	int stop;
	int exit_code;
	uint64_t start_ns;
	uint64_t ticks;
	uint64_t reconnects;

	/* per tick */
	struct reclaim_vm_stats *vms;
	struct reclaim_decision *dec;
	struct reclaim_apply_result *res;
	struct reclaim_summary sum;
	struct reclaim_host host;
	int have_sum;
	int logged_state;         /* the host state last logged, -1 none */
	const char *free_source;  /* "MemAvailable", "budget", ... */

	/* metrics */
	char *metrics;            /* the last rendering */
	size_t metrics_len;
	struct lv_http *http;
};


/* ---- domains.c: libvirt connection, discovery, lifecycle ---- */

/* Connects (once); 0 or -1 (logged). Reconnection is scheduled on failure
 * when @p retry. virConnectOpen() waits for libvirtd without a deadline, so
 * it runs in a thread of its own: a new attempt is waited for
 * connect_wait_ms at most, one still under way is only looked at, and a
 * libvirtd that never answers holds neither the agent nor its exit.
 * Reconnections, from the event loop, do not wait at all. */
int lv_connect(struct lv_agent *a, int retry);
void lv_disconnect(struct lv_agent *a);
/* Lists the active domains: attaches new ones, drops those gone. */
void lv_resync(struct lv_agent *a);
/* Re-reads a domain's XML (settings). */
void lv_domain_refresh(struct lv_agent *a, struct lv_domain *d);
struct lv_domain *lv_domain_by_id(struct lv_agent *a, uint64_t id);
struct lv_domain *lv_domain_by_uuid(struct lv_agent *a, const char *uuid);
/* Forgets a domain (it stopped or left); resumes nothing. */
void lv_domain_drop(struct lv_agent *a, struct lv_domain *d, const char *why, int may_return);
void lv_domains_free(struct lv_agent *a);
/* Resumes the domains listed in the state file that are still paused
 * (left by an agent that was killed). */
void lv_resume_leftovers(struct lv_agent *a);
/* Resumes every domain this agent suspended (on exit). */
void lv_resume_all(struct lv_agent *a);
/* The QEMU process whose command line carries -uuid @p uuid; 0 if none,
 * -1 if more than one does (any user can start one that says so). */
pid_t lv_find_qemu(const char *uuid);
/* A stable policy id for a UUID string. */
uint64_t lv_uuid_id(const char *uuid);

/* ---- active.c ---- */

/* Probes /sys/kernel/mm/page_idle (sets a->page_idle_fd, a->page_idle_why). */
void active_probe(struct lv_agent *a);
/* Chooses the method for @p d and says why. */
void active_start(struct lv_agent *a, struct lv_domain *d);
void active_stop(struct lv_domain *d);
/* Updates d->active from this tick's sample. */
void active_sample(struct lv_agent *a, struct lv_domain *d, uint64_t now_ns);
/* Starts the next period (clears the accessed bits, or marks a new sample
 * idle) when this tick's sample ended one: after the tick's actions, since
 * cleared before them the bits would leave the kernel's LRU, which host
 * swap by lru relies on, unable to tell hot pages from cold. */
void active_restart(struct lv_agent *a, struct lv_domain *d);

/* ---- policy.c: the one place that decides and applies ---- */

/* Samples every managed domain, decides, logs, applies (or, in a dry run,
 * only says what it would do) and renders the metrics. */
void lv_tick(struct lv_agent *a);
/* Carries @p n decisions out (the adapter: balloon, swap mechanism,
 * suspend/resume; only counted in a dry run). Returns reclaim_apply()'s
 * status. */
int lv_apply(struct lv_agent *a, const struct reclaim_decision *dec, size_t n);
/* Suspends / resumes one domain as the policy's block and unblock do,
 * keeping the state file. 0 or -errno. */
int lv_block(struct lv_agent *a, struct lv_domain *d);
int lv_unblock(struct lv_agent *a, struct lv_domain *d);

/* ---- metrics.c ---- */

/* Renders the Prometheus text into a->metrics. */
void metrics_render(struct lv_agent *a);
/* Writes a->metrics to @p path atomically, mode 0644. 0 or -errno. */
int metrics_write_file(const struct lv_agent *a, const char *path);
/* Serves a->metrics over HTTP on @p listen ("PORT", "ADDR:PORT",
 * "[V6ADDR]:PORT"; ADDR defaults to 127.0.0.1) through libvirt's event
 * loop. 0 or -1 (logged). */
int metrics_http_start(struct lv_agent *a, const char *listen);
void metrics_http_stop(struct lv_agent *a);
/* The port it listens on (the one the kernel chose for port 0); -1 if none. */
int metrics_http_port(const struct lv_agent *a);
/* Escapes a Prometheus label value into @p buf. */
const char *metrics_label(char *buf, size_t len, const char *value);

#endif /* LVAGENT_H */
