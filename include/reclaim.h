/* SPDX-License-Identifier: MIT */
/**
 * @file reclaim.h
 * @brief reclaim: a memory-reclamation policy engine for hypervisors.
 *
 * The embedder hands the policy, every tick, a snapshot of the host
 * (struct reclaim_host) and of each VM (struct reclaim_vm_stats). The policy
 * answers with the host's free-memory state and one struct reclaim_decision
 * per VM: a target allocation, a balloon target, bytes to host-swap (and
 * optionally compress) now, whether to block the VM, and why. reclaim_apply()
 * then carries the decisions out through an adapter of callbacks
 * (struct reclaim_adapter) that the embedder implements. DESIGN.md, beside
 * this project's README, explains the policy and why it is so.
 *
 * Conventions, everywhere in this header:
 * - memory is in bytes and time in nanoseconds, as uint64_t; the library never
 *   reads a clock, the caller supplies monotonic time;
 * - functions return 0 (RECLAIM_OK) or a negative enum reclaim_status and
 *   leave every output untouched on error (except reports of the error
 *   itself: reclaim_apply()'s results when an op failed,
 *   reclaim_config_check()'s field); a failed call on a policy records
 *   where it found the fault (reclaim_policy_last_error());
 * - arguments: the object a function works on first (the policy, a config,
 *   an estimator, a generator), then inputs, then outputs; constructors
 *   (reclaim_policy_new(), _init(), _copy()) take the new handle's
 *   out-pointer first, and reclaim_decision_format() takes its buffer first
 *   like snprintf();
 * - structs start with their size (struct_size, set by the _INIT macro or
 *   the _init function) and only ever grow at the end. The library accepts
 *   every size it has shipped: an older, smaller struct reads as if its
 *   missing members held their documented defaults, and output structs are
 *   written only up to the caller's size. A size the library never shipped
 *   (from a newer header, or garbage) is RECLAIM_E_VERSION;
 * - every enum and flag set has a name function returning the enumerator in
 *   lower case without its prefix (RECLAIM_REASON_NO_BALLOON: "no_balloon"),
 *   or NULL for a value the library does not know; statuses keep their
 *   C names (reclaim_status_name()). Every tool of the project spells
 *   values so;
 * - nothing on the decision path allocates, blocks, prints or touches global
 *   state: distinct policies may be used from distinct threads at once, one
 *   policy from one thread at a time. A call that finds its policy in use
 *   (by another thread, or by the reclaim_apply() whose adapter callback is
 *   calling) does nothing and returns RECLAIM_E_BUSY.
 */
#ifndef RECLAIM_H
#define RECLAIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks an exported symbol. @since 0.2 */
#if defined(_WIN32) && defined(RECLAIM_BUILDING_DLL)
#define RECLAIM_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define RECLAIM_API __attribute__((visibility("default")))
#else
#define RECLAIM_API
#endif

/** Compile-time version of this header. @since 0.2 */
#define RECLAIM_VERSION_MAJOR 0
/** @since 0.2 */
#define RECLAIM_VERSION_MINOR 3
/** @since 0.2 */
#define RECLAIM_VERSION_PATCH 0
/** (major << 16) | (minor << 8) | patch. @since 0.2 */
#define RECLAIM_VERSION_HEX                                                    \
	((RECLAIM_VERSION_MAJOR << 16) | (RECLAIM_VERSION_MINOR << 8) |        \
	 RECLAIM_VERSION_PATCH)

/** "No limit" for byte-valued bounds (limit_bytes, balloon_cap_bytes). @since 0.2 */
#define RECLAIM_UNLIMITED UINT64_MAX

/**
 * Version of the loaded library, encoded as RECLAIM_VERSION_HEX.
 * @since 0.2
 */
RECLAIM_API uint32_t
reclaim_version(void);

/**
 * Status codes. Values are ABI: never renumbered, only appended.
 * Each class of bad input has its own code.
 * @since 0.2
 */
enum reclaim_status {
	RECLAIM_OK = 0,
	RECLAIM_E_NULL = -1,          /**< a required pointer is NULL */
	RECLAIM_E_VERSION = -2,       /**< struct_size or version unknown to this library */
	RECLAIM_E_CONFIG = -3,        /**< a config value is out of range (see reclaim_config_check) */
	RECLAIM_E_THRESHOLDS = -4,    /**< thresholds not strictly ordered or outside (0, 1) */
	RECLAIM_E_HOST_FREE = -5,     /**< host free memory > total memory */
	RECLAIM_E_HOST_RESERVED = -6, /**< hypervisor-reserved memory > total memory */
	RECLAIM_E_VM_SIZE = -7,       /**< a VM with a configured size of 0 */
	RECLAIM_E_VM_BOUNDS = -8,     /**< reservation > min(configured size, limit) */
	RECLAIM_E_VM_DUPLICATE = -9,  /**< two VMs with the same id */
	RECLAIM_E_OVERFLOW = -10,     /**< a sum of byte counts overflows 64 bits */
	RECLAIM_E_CAPACITY = -11,     /**< more VMs than the policy was sized for */
	RECLAIM_E_NOMEM = -12,        /**< allocation failed (reclaim_policy_new, _resize) */
	RECLAIM_E_ADAPTER = -13,      /**< an adapter callback returned an error */
	RECLAIM_E_INVAL = -14,        /**< another invalid argument (size, flag, ...) */
	RECLAIM_E_NOSPACE = -15,      /**< caller-supplied memory too small */
	/** The policy is in use by another call: another thread, or an
	 *  adapter callback calling back into the policy that reclaim_apply()
	 *  is applying. Nothing was done. @since 0.3 */
	RECLAIM_E_BUSY = -16
};

/**
 * Static, human-readable text for a status; never NULL (unknown codes get a
 * generic text).
 * @since 0.2
 */
RECLAIM_API const char *
reclaim_strerror(int status);

/**
 * The name of a status as in this header ("RECLAIM_E_VM_BOUNDS"), like
 * libuv's uv_err_name(): status names are what people search code for, so
 * they keep their prefix. NULL for an unknown code.
 * @since 0.2
 */
RECLAIM_API const char *
reclaim_status_name(int status);

/**
 * Host free-memory states, best to worst. Values are ABI.
 * @since 0.2
 */
enum reclaim_state {
	RECLAIM_STATE_HIGH = 0, /**< no reclamation (early ballooning below the high threshold) */
	RECLAIM_STATE_SOFT = 1, /**< ballooning */
	RECLAIM_STATE_HARD = 2, /**< ballooning and host swapping */
	RECLAIM_STATE_LOW = 3   /**< host swapping, and blocking VMs above target */
};

/** Name of an enum reclaim_state ("high", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_state_name(uint32_t state);

/**
 * Threshold profiles for reclaim_config_init_profile().
 * @since 0.2
 */
enum reclaim_profile {
	/** ESX up to 4.0: high/soft/hard/low at 6/4/2/1 % of usable memory,
	 *  early ballooning, balloons capped by what the guest can swap. */
	RECLAIM_PROFILE_ESX = 0,
	/** ESXi 5+: soft/hard/low at 64/32/16 % of a sliding-scale minFree
	 *  (6 % of the first 4 GiB of usable memory, 4 % of the next 8 GiB,
	 *  2 % of the next 16 GiB, 1 % of the rest); high at 100 %. */
	RECLAIM_PROFILE_ESXI5 = 1,
	/** The OSDI 2002 paper literally: flat 6/4/2/1 %, no early ballooning,
	 *  soft swaps VMs that cannot balloon, hard only swaps, and no cap from
	 *  the guest's free memory and swap. */
	RECLAIM_PROFILE_PAPER = 2
};

/** Name of an enum reclaim_profile ("esx", "esxi5", "paper"), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_profile_name(uint32_t profile);

/** Config flags (struct reclaim_config.flags). Values are ABI. @since 0.2 */
enum reclaim_config_flag {
	/** Do not balloon between the high and soft thresholds. */
	RECLAIM_CONFIG_NO_EARLY_BALLOON = 1u << 0,
	/** Soft state host-swaps a VM's share where ballooning is impossible
	 *  (no driver, unresponsive or stale balloon), as in the paper. */
	RECLAIM_CONFIG_SOFT_SWAP = 1u << 1,
	/** Hard state reclaims by host swap only (existing balloons are kept). */
	RECLAIM_CONFIG_HARD_SWAP_ONLY = 1u << 2,
	/** Do not cap balloons by the guest's free memory plus free swap, its
	 *  rising demand, or its active memory (the paper balloons guests
	 *  below their active memory, into their own swap). */
	RECLAIM_CONFIG_NO_GUEST_CAP = 1u << 3
};

/** Name of one enum reclaim_config_flag bit ("no_early_balloon", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_config_flag_name(uint32_t flag);

/** How thresholds are read. Values are ABI. @since 0.2 */
enum reclaim_threshold_base {
	/** Thresholds are fractions of usable memory (total - reserved). */
	RECLAIM_BASE_USABLE = 0,
	/** Thresholds are fractions of the sliding-scale minFree of usable memory. */
	RECLAIM_BASE_MINFREE = 1
};

/** Name of an enum reclaim_threshold_base ("usable", "minfree"), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_threshold_base_name(uint32_t base);

/**
 * Policy configuration. Fill it with reclaim_config_init() or
 * reclaim_config_init_profile(), then change what you need; the policy keeps a
 * copy. Fractions are doubles in [0, 1] unless said otherwise; the default of
 * each member, in parentheses, is the ESX profile's.
 * @since 0.2
 */
struct reclaim_config {
	uint32_t struct_size;  /**< sizeof(struct reclaim_config), set by _init */
	uint32_t flags;        /**< enum reclaim_config_flag bits (none) */
	uint32_t threshold_base; /**< enum reclaim_threshold_base (usable) */
	uint32_t reserved0;    /**< must be 0 */

	/* Free-memory thresholds as fractions of the base; strictly ordered
	 * high > soft > hard > low > 0, each in (0, 1) (the high threshold may
	 * be 1 with RECLAIM_BASE_MINFREE). */
	double threshold_high; /**< level every decision aims back to (0.06) */
	double threshold_soft; /**< soft entered below this (0.04) */
	double threshold_hard; /**< hard entered below this (0.02) */
	double threshold_low;  /**< low entered below this (0.01) */
	/** A better state is entered only once free memory exceeds, by this
	 *  fraction of the base, the threshold below which the current state
	 *  was entered (leaving soft for high needs soft + margin; 0.005 of
	 *  usable memory, 0.08 of minFree). Also the band above the high
	 *  threshold inside which there is no host-wide inflation or
	 *  deflation (RECLAIM_REASON_HOLD): only a VM short of memory gets
	 *  its balloon back (RECLAIM_REASON_DISTRESS). In [0, 1). */
	double hysteresis;

	double idle_tax;       /**< tau, 0 <= tau < 1 (0.75: an idle page costs 4 active) */
	double balloon_max_fraction; /**< balloon cap as a fraction of configured size (0.65) */
	uint64_t guest_margin_bytes; /**< kept free in the guest when capping by guest free + swap (64 MiB); see also guest_margin_fraction */
	uint64_t page_size;    /**< bytes per page, a power of two from 512 to 1 GiB (4096) */

	/** Host-wide bytes of balloon deflation allowed per decide call (256 MiB). */
	uint64_t deflate_budget_bytes;

	/* Balloon progress (per VM, across ticks). */
	uint64_t balloon_min_rate; /**< bytes/s below which an unmet balloon is slow (1 MiB/s) */
	uint64_t balloon_window_ns; /**< slow for this long -> unresponsive (10 s) */
	uint64_t balloon_backoff_ns; /**< unresponsive balloons are retried after this (60 s) */
	uint64_t balloon_horizon_ns; /**< hard state: balloon what it delivers within this (5 s) */
	uint64_t balloon_default_rate; /**< bytes/s assumed before a rate is observed (16 MiB/s) */
	uint64_t stats_max_age_ns; /**< guest stats older than this are stale (10 s) */

	/* Active-memory estimator defaults (struct reclaim_estimator). */
	uint64_t sample_period_ns; /**< sampling period of VM run time (30 s) */
	uint32_t sample_pages;     /**< pages sampled per period (100) */
	uint32_t reserved1;        /**< must be 0 */
	double estimator_fast_gain; /**< EWMA gain of the fast average per period (0.7) */
	double estimator_slow_gain; /**< EWMA gain of the slow average per period (0.1) */
	double active_floor;       /**< lowest reported active fraction, in [0, 1) (0.01) */

	/** Compression cache size as a fraction of configured size, for VMs that
	 *  report a cache without its size (0.10). */
	double compress_max_fraction;

	/** A VM missing from a snapshot keeps its history (balloon progress,
	 *  what it was asked, whether it is blocked) for this long, so that a
	 *  missed poll or a short outage of the embedder's view of one VM does
	 *  not restart it from nothing; 0 forgets it at once (60 s). A VM
	 *  blocked when it left is kept past this, so that it is unblocked
	 *  when it comes back. Absent VMs count against the policy's capacity
	 *  while they are kept; when it is full the longest absent go first. */
	uint64_t absent_grace_ns;

	/* -- 0.3 -- */
	/** A VM blocked in the low state is unblocked once it has been
	 *  blocked this long without its consumption falling, and is not
	 *  blocked again for as long: blocking is a brake while host swap
	 *  catches up, and freezing a VM whose memory is not being reclaimed
	 *  frees nothing. Below a guest kernel's soft-lockup watchdog (20 s).
	 *  0 never blocks. (10 s) @since 0.3 */
	uint64_t max_block_ns;
	/** How far ahead a guest's rising demand is projected: the balloon
	 *  cap keeps free for the guest what it would use within this
	 *  horizon at the rate its free memory and swap have been falling,
	 *  so that a spiking guest gets its balloon back before it runs out
	 *  (RECLAIM_REASON_DISTRESS). 0 projects nothing, as 0.2 did. (30 s)
	 *  @since 0.3 */
	uint64_t distress_horizon_ns;
	/** A VM whose swap_out says host swap is not there (NULL op, -ENOSYS,
	 *  -EOPNOTSUPP, -ENODEV, -ENOSPC, -ENOMEM) or fails twice in a row is
	 *  treated as unable to host-swap for this long (its share is
	 *  ballooned and compressed instead), then tried again. (30 s)
	 *  @since 0.3 */
	uint64_t swap_retry_ns;
	/** How long a guest's peak demand is remembered: the balloon cap
	 *  leaves room for the most the guest has used lately, and lets go of
	 *  a past peak gradually: each fresh sample closes the gap to the
	 *  present by the fraction of this time that passed since the last,
	 *  so that about 63 % of a peak is let go after this long and 95 %
	 *  after three times it. A guest whose demand comes back in spikes is
	 *  thus not ballooned into the next one, as long as the spikes come
	 *  closer together than this: the default keeps most of an hourly
	 *  job's peak (61 % after an hour), since a guest without swap meets
	 *  its OOM killer if a climb outruns one decision. Shorter settings
	 *  balloon more from guests that idle between spikes, and host-swap
	 *  less. 0 remembers only the present. (2 h) @since 0.3 */
	uint64_t demand_memory_ns;
	/** The guest margin grows with the guest: a VM keeps free (in free
	 *  memory and free swap) the larger of guest_margin_bytes and this
	 *  fraction of its configured size, wherever the margin applies (its
	 *  balloon cap, and whether it is short of memory). A large guest's
	 *  demand climbs by more within one decision than a small one's: a
	 *  32 GiB guest whose working set jumps by gigabytes after days idle
	 *  exhausts 64 MiB of swap within seconds, long before the next
	 *  decision can give its balloon back. The default leaves guests up
	 *  to 4 GiB at guest_margin_bytes and keeps 512 MiB in a 32 GiB one.
	 *  0 keeps guest_margin_bytes alone, as 0.2 did. In [0, 1].
	 *  (1/64 = 0.015625) @since 0.3 */
	double guest_margin_fraction;
	/* append only */
};

/**
 * Fills @p cfg with the RECLAIM_PROFILE_ESX defaults. @p size is
 * sizeof(*cfg) as the caller compiled it (use RECLAIM_CONFIG_INIT_DEFAULT);
 * only that many bytes are written.
 * @return RECLAIM_OK, RECLAIM_E_NULL, or RECLAIM_E_VERSION for a size this
 * library never shipped.
 * @since 0.2
 */
RECLAIM_API int
reclaim_config_init(struct reclaim_config *cfg, size_t size);

/**
 * Like reclaim_config_init() for a given enum reclaim_profile.
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_VERSION or RECLAIM_E_INVAL
 * (unknown profile).
 * @since 0.2
 */
RECLAIM_API int
reclaim_config_init_profile(struct reclaim_config *cfg, size_t size, uint32_t profile);

/** reclaim_config_init() with the caller's struct size. @since 0.2 */
#define RECLAIM_CONFIG_INIT_DEFAULT(cfg) reclaim_config_init((cfg), sizeof(*(cfg)))

/**
 * Validates @p cfg as reclaim_policy_new() would.
 * @param[out] field if not NULL, set on every return, errors included (it
 *             is how the error is told): the name of the offending member
 *             (e.g. "threshold_soft"), or NULL when the config is valid or
 *             @p cfg is NULL.
 * @return RECLAIM_OK or the error the policy would report.
 * @since 0.2
 */
RECLAIM_API int
reclaim_config_check(const struct reclaim_config *cfg, const char **field);

/**
 * Free-memory thresholds in bytes for a host, as the policy computes them:
 * out[0..3] = high, soft, hard, low.
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_HOST_RESERVED, or the
 * config's own error.
 * @since 0.2
 */
RECLAIM_API int
reclaim_config_thresholds(const struct reclaim_config *cfg, uint64_t total_bytes,
			  uint64_t reserved_bytes, uint64_t out[4]);

/** Host snapshot flags. @since 0.2 */
enum reclaim_host_flag {
	/** swap_free_bytes bounds the bytes host-swapped in one decision. */
	RECLAIM_HOST_SWAP_BOUNDED = 1u << 0
};

/** Name of one enum reclaim_host_flag bit ("swap_bounded"), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_host_flag_name(uint32_t flag);

/**
 * What the host looks like now. Initialise with RECLAIM_HOST_INIT.
 * @since 0.2
 */
struct reclaim_host {
	uint32_t struct_size;    /**< sizeof(struct reclaim_host) */
	uint32_t flags;          /**< enum reclaim_host_flag bits */
	uint64_t total_bytes;    /**< machine memory */
	uint64_t reserved_bytes; /**< held by the hypervisor itself; usable = total - reserved */
	uint64_t free_bytes;     /**< free machine memory now (<= total; clamped to usable) */
	/** Monotonic time of this snapshot. The clock may misbehave: a
	 *  reading before the last one, or more than ten times the longest of
	 *  balloon_window_ns, balloon_backoff_ns and stats_max_age_ns after
	 *  it, is a gap, not a tick. Across a gap no balloon progress is
	 *  judged, and back-offs, holds and block deadlines set on the other
	 *  side are brought within one period of now_ns, so one absurd
	 *  reading wedges nothing once sane time returns. @since 0.2 */
	uint64_t now_ns;
	uint64_t swap_free_bytes; /**< host swap room, read with RECLAIM_HOST_SWAP_BOUNDED */
	/* append only */
};

/** Zero-filled host snapshot of the right size. @since 0.2 */
#define RECLAIM_HOST_INIT {sizeof(struct reclaim_host), 0, 0, 0, 0, 0, 0}

/** Per-VM flags (struct reclaim_vm_stats.flags). Values are ABI. @since 0.2 */
enum reclaim_vm_flag {
	/** A balloon driver is present in the guest. */
	RECLAIM_VM_BALLOON = 1u << 0,
	/** guest_free_bytes, guest_swap_free_bytes and stats_time_ns are
	 *  filled; without it the guest's view is unknown (treated as stale). */
	RECLAIM_VM_GUEST_STATS = 1u << 1,
	/** idle_tax overrides the config's idle_tax for this VM. */
	RECLAIM_VM_IDLE_TAX = 1u << 2,
	/** The VM has a compression cache (compress_used_bytes, compress_max_bytes). */
	RECLAIM_VM_COMPRESS = 1u << 3,
	/** configured_bytes changed on purpose (memory hot-plug or unplug): the
	 *  VM keeps its history. Without it, an id whose configured size
	 *  changes is taken for a different VM that reuses the id, and starts
	 *  with no history. @since 0.3 */
	RECLAIM_VM_RESIZED = 1u << 4
};

/** Name of one enum reclaim_vm_flag bit ("balloon", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_vm_flag_name(uint32_t flag);

/**
 * One VM as the hypervisor sees it now. Initialise with RECLAIM_VM_STATS_INIT,
 * which sets limit and balloon cap to RECLAIM_UNLIMITED. In an array, every
 * element has the same struct_size.
 *
 * consumed_bytes is the guest's memory that host memory backs now: the
 * guest RAM resident on the host (on Linux, the resident size of the guest
 * RAM mappings of the VMM process), not the VMM process's whole resident
 * size, which adds the VMM's own heap, device buffers and code. The policy
 * cannot reclaim that overhead: consumption above configured_bytes is read
 * as configured_bytes, and only limit_bytes (not the configured size) makes
 * the limit rule reclaim a VM on a host with plenty of free memory.
 *
 * Values a guest reports (guest_*, balloon_bytes) are untrusted and
 * clamped: balloon, guest free memory and free swap to the configured size;
 * a stats time in the future makes the stats stale. Where a balloon would
 * make other VMs give more (memory it gives back, a balloon that looks
 * full), or would seem to make progress, it counts only up to configured -
 * consumed: balloon pages are guest memory the host does not back.
 * balloon_bytes and the guest stats should describe the same moment: free
 * memory read a second before the balloon grew makes the balloon cap
 * (balloon + free + free swap) swing.
 *
 * active_bytes (clamped to consumed) is the caller's estimate, and the
 * policy believes it: it sets the VM's price under the idle memory tax and
 * keeps its balloon above it. Estimate it on the host, as ESX does
 * (struct reclaim_estimator samples pages): a guest that reports its own
 * active memory sets its own price, and one that reports all its memory
 * active gives nothing while others give more.
 *
 * Without RECLAIM_VM_GUEST_STATS the guest's free memory is unknown and the
 * VM is treated like one with stale stats: its balloon keeps what it holds
 * but is not inflated further (set RECLAIM_CONFIG_NO_GUEST_CAP to balloon
 * such guests up to the other caps).
 * @since 0.2
 */
struct reclaim_vm_stats {
	uint32_t struct_size;      /**< sizeof(struct reclaim_vm_stats) */
	uint32_t flags;            /**< enum reclaim_vm_flag bits */
	uint64_t id;               /**< caller's id, unique within one call; an id whose
					configured_bytes changes is a new VM unless
					RECLAIM_VM_RESIZED says otherwise */
	uint64_t configured_bytes; /**< guest-visible memory size, > 0 */
	uint64_t consumed_bytes;   /**< guest memory backed by host memory now (see above) */
	uint64_t reservation_bytes; /**< min: never reclaimed below this */
	uint64_t limit_bytes;      /**< upper bound on consumption, or RECLAIM_UNLIMITED */
	uint64_t shares;           /**< relative entitlement; 0 holds the VM at its reservation */
	uint64_t active_bytes;     /**< actively used memory (e.g. from struct reclaim_estimator) */
	uint64_t balloon_bytes;    /**< current balloon size */
	uint64_t balloon_cap_bytes; /**< per-VM balloon cap, or RECLAIM_UNLIMITED */
	uint64_t guest_free_bytes; /**< guest's free memory (RECLAIM_VM_GUEST_STATS) */
	uint64_t guest_swap_free_bytes; /**< guest's free swap capacity (RECLAIM_VM_GUEST_STATS) */
	uint64_t swapped_bytes;    /**< already host-swapped */
	uint64_t stats_time_ns;    /**< when the guest stats were refreshed (same clock as now_ns) */
	uint64_t compress_used_bytes; /**< bytes in the compression cache (RECLAIM_VM_COMPRESS) */
	uint64_t compress_max_bytes; /**< cache size; 0: config compress_max_fraction */
	double idle_tax;           /**< per-VM tau, with RECLAIM_VM_IDLE_TAX */
	/* append only */
};

/** VM stats of the right size with no limit and no balloon cap. @since 0.2 */
#define RECLAIM_VM_STATS_INIT                                                   \
	{sizeof(struct reclaim_vm_stats), 0, 0, 0, 0, 0, RECLAIM_UNLIMITED, 0, 0, 0, \
	 RECLAIM_UNLIMITED, 0, 0, 0, 0, 0, 0, 0.0}

/** What reclaim_apply() must do for a VM (struct reclaim_decision.actions). @since 0.2 */
enum reclaim_action {
	RECLAIM_ACTION_BALLOON = 1u << 0,  /**< set the balloon to balloon_target_bytes */
	RECLAIM_ACTION_SWAP = 1u << 1,     /**< host-swap swap_bytes now */
	RECLAIM_ACTION_COMPRESS = 1u << 2, /**< compress compress_bytes now */
	RECLAIM_ACTION_BLOCK = 1u << 3,    /**< block the VM (it was running) */
	RECLAIM_ACTION_UNBLOCK = 1u << 4   /**< unblock the VM (it was blocked) */
};

/** Name of one enum reclaim_action bit ("balloon", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_action_name(uint32_t action);

/** Why a decision is what it is (struct reclaim_decision.reasons). @since 0.2 */
enum reclaim_reason {
	RECLAIM_REASON_PRESSURE = 1u << 0,     /**< host below the high threshold: water level */
	RECLAIM_REASON_EARLY = 1u << 1,        /**< early ballooning (high state, below high threshold) */
	RECLAIM_REASON_LIMIT = 1u << 2,        /**< consumption above the VM's limit */
	RECLAIM_REASON_DEFLATE = 1u << 3,      /**< host comfortably free: balloon deflates (budgeted) */
	RECLAIM_REASON_NO_BALLOON = 1u << 4,   /**< no balloon driver */
	RECLAIM_REASON_UNRESPONSIVE = 1u << 5, /**< balloon too slow: target reset, retried later */
	RECLAIM_REASON_STALE = 1u << 6,        /**< guest stats stale: no new inflation */
	RECLAIM_REASON_BALLOON_CAPPED = 1u << 7, /**< the balloon cap stopped ballooning */
	RECLAIM_REASON_SLOW_BALLOON = 1u << 8, /**< hard: balloon rate too low for the horizon */
	RECLAIM_REASON_BLOCKED = 1u << 9,      /**< low: consumption above target */
	RECLAIM_REASON_ZERO_SHARES = 1u << 10, /**< no shares: held at reservation */
	RECLAIM_REASON_SHORTFALL = 1u << 11,   /**< the host's plan falls short of the need */
	RECLAIM_REASON_SWAP_BOUNDED = 1u << 12, /**< host swap space cut the swap amount */
	RECLAIM_REASON_ADAPTER_FAILED = 1u << 13, /**< the last apply for this VM failed */
	RECLAIM_REASON_HOLD = 1u << 14,        /**< host within the hysteresis band: hold */
	/** Memory moved between VMs at the same total (ESX reallocation): a VM
	 *  short of memory (fresh guest stats, free memory within its guest
	 *  margin, see guest_margin_fraction) and priced above the level
	 *  grows back into its balloon while lower-priced VMs balloon as
	 *  much. Happens only in
	 *  the balloon states, below the high threshold; not counted against
	 *  deflate_budget_bytes, since it frees as much as it gives. */
	RECLAIM_REASON_REBALANCE = 1u << 15,
	/** The guest is short of memory: its free memory and swap are falling
	 *  toward what it needs, it is within its guest margin of free
	 *  memory while the host holds above the high threshold, or it
	 *  deflated its own balloon (deflate-on-oom). Its balloon is given
	 *  back at the rate it needs (from free memory above the high
	 *  threshold, within deflate_budget_bytes), and not inflated again
	 *  until that has passed. @since 0.3 */
	RECLAIM_REASON_DISTRESS = 1u << 16,
	/** Host swap cannot deliver for this VM (bounded at nothing left, or
	 *  its swap_out failed within swap_retry_ns): the balloon and
	 *  compression take its share in the hard and low states. @since 0.3 */
	RECLAIM_REASON_SWAP_UNAVAILABLE = 1u << 17,
	/** Unblocked (or not blocked) because it was blocked max_block_ns
	 *  without its consumption falling. @since 0.3 */
	RECLAIM_REASON_BLOCK_TIMEOUT = 1u << 18
};

/** Name of one enum reclaim_reason bit ("pressure", "no_balloon", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_reason_name(uint32_t reason);

/** Which bound fixed the target (struct reclaim_decision.bound). @since 0.2 */
enum reclaim_bound {
	RECLAIM_BOUND_NONE = 0,        /**< no bound: the target is on the common water level */
	RECLAIM_BOUND_RESERVATION = 1, /**< held at the reservation */
	RECLAIM_BOUND_MAX = 2,         /**< at min(configured size, limit) */
	RECLAIM_BOUND_CONSUMED = 3,    /**< not reclaimed: current consumption is below the level */
	RECLAIM_BOUND_BALLOON = 4      /**< limited by what its balloon can take (balloon-only states) */
};

/** Name of an enum reclaim_bound ("none", "reservation", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_bound_name(uint32_t bound);

/** Which term of the balloon cap was smallest (struct reclaim_decision.balloon_limit). @since 0.2 */
enum reclaim_balloon_limit {
	RECLAIM_BALLOON_LIMIT_FRACTION = 0, /**< balloon_max_fraction of configured size */
	RECLAIM_BALLOON_LIMIT_VM_CAP = 1,   /**< the VM's own balloon_cap_bytes */
	RECLAIM_BALLOON_LIMIT_GUEST = 2,    /**< guest free memory + free swap - margin */
	RECLAIM_BALLOON_LIMIT_NO_DRIVER = 3,
	RECLAIM_BALLOON_LIMIT_UNRESPONSIVE = 4,
	RECLAIM_BALLOON_LIMIT_STALE = 5,
	/** configured size less active memory: a VM is never ballooned below
	 *  what it actively uses (unless RECLAIM_CONFIG_NO_GUEST_CAP). @since 0.3 */
	RECLAIM_BALLOON_LIMIT_ACTIVE = 6,
	/** the guest deflated its balloon itself: held where it is for
	 *  balloon_backoff_ns. @since 0.3 */
	RECLAIM_BALLOON_LIMIT_DISTRESS = 7
};

/** Name of an enum reclaim_balloon_limit ("fraction", "vm_cap", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_balloon_limit_name(uint32_t limit);

/**
 * The policy's decision for one VM, in the order of the input array.
 * @since 0.2
 */
struct reclaim_decision {
	uint32_t struct_size;     /**< the caller's decision size (struct reclaim_summary.decision_size) */
	uint32_t actions;         /**< enum reclaim_action bits for reclaim_apply() */
	uint64_t id;              /**< the VM's id */
	uint64_t target_bytes;    /**< target allocation: memory the VM may consume */
	uint64_t balloon_target_bytes; /**< balloon size to ask for */
	uint64_t swap_bytes;      /**< bytes to host-swap now */
	uint64_t compress_bytes;  /**< bytes to compress now (before swap_bytes) */
	uint64_t excess_bytes;    /**< consumption (less balloon in flight, plus what a balloon
				       above its cap gives back) above target */
	uint64_t balloon_cap_bytes; /**< the balloon cap that applied */
	uint32_t block;           /**< 1 if the VM should be blocked now */
	uint32_t state;           /**< enum reclaim_state of the host */
	uint32_t reasons;         /**< enum reclaim_reason bits */
	uint32_t bound;           /**< enum reclaim_bound */
	uint32_t balloon_limit;   /**< enum reclaim_balloon_limit */
	uint32_t reserved0;       /**< 0 */
	double rho;               /**< shares per page at the target (idle tax applied) */
	/* append only */
};

/** Host-wide results of a decide (struct reclaim_summary.flags). @since 0.2 */
enum reclaim_summary_flag {
	RECLAIM_SUMMARY_SHORTFALL = 1u << 0, /**< reclaimable memory < need, or the plan
						   (balloon, swap, compression, in flight,
						   less deflation) falls short of it */
	RECLAIM_SUMMARY_EARLY = 1u << 1,     /**< early ballooning */
	RECLAIM_SUMMARY_DEFLATE = 1u << 2,   /**< balloons deflating */
	RECLAIM_SUMMARY_SWAP_BOUNDED = 1u << 3, /**< host swap space cut the plan */
	/** host swap could not deliver for some VM in a swap state: balloons
	 *  and compression took its share. @since 0.3 */
	RECLAIM_SUMMARY_SWAP_UNAVAILABLE = 1u << 4
};

/** Name of one enum reclaim_summary_flag bit ("shortfall", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_summary_flag_name(uint32_t flag);

/**
 * Host-wide outcome of reclaim_decide(), and the sizes of the caller's
 * outputs. The caller sets struct_size and decision_size
 * (RECLAIM_SUMMARY_INIT); the library fills the rest.
 * @since 0.2
 */
struct reclaim_summary {
	uint32_t struct_size;   /**< sizeof(struct reclaim_summary), set by the caller */
	uint32_t decision_size; /**< sizeof(struct reclaim_decision), set by the caller:
				     the stride of the decisions array */
	uint32_t state;         /**< enum reclaim_state after this decision */
	uint32_t previous_state; /**< state before it (the same on a policy's first decide) */
	uint32_t flags;         /**< enum reclaim_summary_flag bits */
	uint32_t reserved0;     /**< 0 */
	uint64_t usable_bytes;  /**< total - reserved */
	uint64_t free_bytes;    /**< free memory used for the decision */
	uint64_t threshold_bytes[4]; /**< high, soft, hard, low in bytes */
	uint64_t need_bytes;    /**< memory to reclaim to get back to the high threshold */
	uint64_t in_flight_bytes; /**< balloon inflation asked earlier and not yet delivered */
	uint64_t reclaimable_bytes; /**< what bounds allowed to reclaim in this state */
	uint64_t balloon_bytes; /**< new balloon inflation planned */
	uint64_t swap_bytes;    /**< host swap planned now */
	uint64_t compress_bytes; /**< compression planned now */
	uint64_t deflate_bytes; /**< balloon deflation planned */
	double level;           /**< common price level (shares per page), 0 if none */
	/* append only */
};

/** Summary with struct_size and decision_size set. @since 0.2 */
#define RECLAIM_SUMMARY_INIT                                                    \
	{sizeof(struct reclaim_summary), sizeof(struct reclaim_decision), 0, 0, 0, 0, 0, 0, \
	 {0, 0, 0, 0}, 0, 0, 0, 0, 0, 0, 0, 0.0}

/** Opaque policy: config, host state and per-VM history. @since 0.2 */
struct reclaim_policy;

/**
 * Creates a policy for at most @p capacity VMs (present in a decision, or
 * absent and still remembered). All memory is allocated here; nothing later
 * allocates but reclaim_policy_resize(). On Linux, both ask for the memory
 * to be backed by transparent huge pages (madvise(MADV_HUGEPAGE), which
 * the "madvise" and "always" modes honour): from about 100,000 VMs, decide
 * then spends less time on TLB misses. Memory given to reclaim_policy_init()
 * is the caller's to advise.
 * @param[out] out the new policy, untouched on error
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_VERSION, RECLAIM_E_CONFIG,
 *         RECLAIM_E_THRESHOLDS, RECLAIM_E_INVAL (capacity 0 or too large:
 *         above 2^28, or above what a size_t can size, about 4.8 million
 *         VMs where it is 32 bits), RECLAIM_E_NOMEM.
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_new(struct reclaim_policy **out, const struct reclaim_config *cfg,
		   size_t capacity);

/**
 * Bytes of memory reclaim_policy_init() and reclaim_policy_copy() need for
 * @p capacity VMs; 0 for a capacity of 0 or one too large.
 * @since 0.2
 */
RECLAIM_API size_t
reclaim_policy_memory_size(size_t capacity);

/**
 * Creates a policy inside caller-supplied memory (at least
 * reclaim_policy_memory_size() bytes, aligned to 16 bytes). The memory stays
 * the caller's; reclaim_policy_destroy() does not free it.
 * @return as reclaim_policy_new(), or RECLAIM_E_NOSPACE, RECLAIM_E_INVAL
 *         (misaligned memory).
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_init(struct reclaim_policy **out, void *memory, size_t bytes,
		    const struct reclaim_config *cfg, size_t capacity);

/**
 * Places, in caller-supplied memory (as for reclaim_policy_init()), a copy
 * of @p from with room for @p capacity VMs: same configuration, state and
 * history of every VM it remembers. @p from is not changed; the caller then
 * uses the copy and may reuse or free @p from's memory (reclaim_policy_destroy()
 * for one from reclaim_policy_new()). This is how a policy in caller memory
 * grows. Absent VMs that do not fit are forgotten, the longest absent first.
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_INVAL (capacity 0 or too
 *         large, misaligned memory, or memory overlapping @p from),
 *         RECLAIM_E_NOSPACE, RECLAIM_E_CAPACITY (@p capacity is less than the
 *         VMs of @p from's last decision).
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_copy(struct reclaim_policy **out, void *memory, size_t bytes,
		    const struct reclaim_policy *from, size_t capacity);

/**
 * Gives a policy from reclaim_policy_new() room for @p capacity VMs, keeping
 * its configuration, state and the history of every VM it remembers. The
 * policy may move: *@p policy is updated. On error *@p policy is unchanged
 * and still valid. Absent VMs that no longer fit are forgotten.
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_INVAL (capacity 0 or too
 *         large, or a policy in caller memory: use reclaim_policy_copy()),
 *         RECLAIM_E_CAPACITY (fewer than the VMs of its last decision),
 *         RECLAIM_E_NOMEM.
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_resize(struct reclaim_policy **policy, size_t capacity);

/** The number of VMs @p policy has room for; 0 for NULL. @since 0.2 */
RECLAIM_API size_t
reclaim_policy_capacity(const struct reclaim_policy *policy);

/**
 * Frees a policy from reclaim_policy_new(); NULL-safe. A policy in use by
 * another call (an adapter callback of its own reclaim_apply(), say) is
 * left alone: that call would go on in freed memory.
 * @since 0.2
 */
RECLAIM_API void
reclaim_policy_destroy(struct reclaim_policy *policy);

/**
 * Replaces the configuration, keeping the per-VM history and the host state.
 * An invalid config is rejected and the old one stays in force.
 * @return RECLAIM_OK, RECLAIM_E_NULL, or the config's error (the offending
 *         member in reclaim_policy_last_error()).
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_set_config(struct reclaim_policy *policy, const struct reclaim_config *cfg);

/**
 * Copies the configuration in force into @p cfg, whose struct_size the
 * caller sets (a caller with an older, smaller struct gets its members only).
 * @return RECLAIM_OK, RECLAIM_E_NULL (either pointer NULL) or
 *         RECLAIM_E_VERSION (a struct_size this library never shipped; @p cfg
 *         is then untouched).
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_get_config(const struct reclaim_policy *policy, struct reclaim_config *cfg);

/** Where a failed call found the fault (struct reclaim_error.where). Values are ABI. @since 0.2 */
enum reclaim_where {
	RECLAIM_WHERE_NONE = 0,     /**< no call on this policy has failed */
	RECLAIM_WHERE_ARGUMENT = 1, /**< an argument of the call; field names it ("n_vms", "summary") */
	RECLAIM_WHERE_CONFIG = 2,   /**< the member field of struct reclaim_config */
	RECLAIM_WHERE_HOST = 3,     /**< the member field of struct reclaim_host */
	RECLAIM_WHERE_VM = 4,       /**< the member field of vms[index] */
	RECLAIM_WHERE_DECISION = 5  /**< the member field of decisions[index] (reclaim_apply) */
};

/** Name of an enum reclaim_where ("none", "argument", ...), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_where_name(uint32_t where);

/**
 * What the last failed call on a policy rejected, and where, so that a
 * caller need not re-derive the culprit. Initialise with RECLAIM_ERROR_INIT.
 * @since 0.2
 */
struct reclaim_error {
	uint32_t struct_size; /**< sizeof(struct reclaim_error), set by the caller */
	int32_t status;       /**< what the call returned; RECLAIM_OK if none failed */
	uint32_t where;       /**< enum reclaim_where */
	uint32_t reserved0;   /**< 0 */
	uint64_t index;       /**< index into vms[] or decisions[] (RECLAIM_WHERE_VM, _DECISION) */
	uint64_t other_index; /**< RECLAIM_E_VM_DUPLICATE: the earlier VM with the same id */
	uint64_t id;          /**< the VM's id (RECLAIM_WHERE_VM, _DECISION) */
	const char *field;    /**< static name of the member or argument ("reservation_bytes"), or NULL */
	/* append only */
};

/** Error record of the right size. @since 0.2 */
#define RECLAIM_ERROR_INIT {sizeof(struct reclaim_error), 0, 0, 0, 0, 0, 0, NULL}

/**
 * Describes the most recent call on @p policy that failed with a fault in
 * its input (reclaim_decide(), reclaim_plan_admission(), reclaim_apply(),
 * reclaim_policy_set_config()); successful calls leave it as it is. A failed
 * call changes nothing else in the policy.
 * @return RECLAIM_OK, RECLAIM_E_NULL or RECLAIM_E_VERSION.
 * @since 0.2
 */
RECLAIM_API int
reclaim_policy_last_error(const struct reclaim_policy *policy, struct reclaim_error *error);

/** Flags for reclaim_decide(). @since 0.2 */
enum reclaim_decide_flag {
	/** Compute decisions without updating the policy's state or history. */
	RECLAIM_DECIDE_DRY_RUN = 1u << 0
};

/** Name of one enum reclaim_decide_flag bit ("dry_run"), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_decide_flag_name(uint32_t flag);

/**
 * One policy step: the host's state and one decision per VM.
 *
 * Pure over (config, history, inputs): allocates nothing, reads no clock,
 * does no I/O. Updates the host state and the per-VM history (unless
 * RECLAIM_DECIDE_DRY_RUN). A VM absent from @p vms keeps its history for
 * absent_grace_ns while the policy has room for it, and is then forgotten
 * (one blocked when it left, only when the room is needed).
 *
 * @param policy     the policy
 * @param host       host snapshot
 * @param vms        @p n_vms VM stats, all of one struct_size (NULL allowed
 *                   when n_vms is 0)
 * @param n_vms      at most the policy's capacity (reclaim_policy_resize())
 * @param flags      enum reclaim_decide_flag bits
 * @param[out] summary   host-wide outcome; the caller sets its struct_size
 *                       and decision_size (RECLAIM_SUMMARY_INIT)
 * @param[out] decisions @p n_vms elements of summary->decision_size bytes;
 *                       @p vms, @p summary and @p decisions must not share
 *                       memory (RECLAIM_E_INVAL)
 * @return RECLAIM_OK or an error; on error nothing is written, the policy
 *         is unchanged, and reclaim_policy_last_error() says where.
 * @since 0.2
 */
RECLAIM_API int
reclaim_decide(struct reclaim_policy *policy, const struct reclaim_host *host,
	       const struct reclaim_vm_stats *vms, size_t n_vms, uint32_t flags,
	       struct reclaim_summary *summary, struct reclaim_decision *decisions);

/**
 * Admission planning (like Xen squeezed's reserve_memory): what must be
 * reclaimed, and from whom, so that a new VM of @p new_vm_bytes can start
 * while free memory stays at or above the high threshold. Plans with
 * ballooning and host swap as the hard state would, acts on nothing and
 * changes nothing in the policy's state or history (it uses the policy's
 * scratch memory, so like reclaim_decide() it needs the policy to itself).
 * summary->flags has RECLAIM_SUMMARY_SHORTFALL when the VM cannot be
 * admitted.
 * @return as reclaim_decide().
 * @since 0.2
 */
RECLAIM_API int
reclaim_plan_admission(struct reclaim_policy *policy, const struct reclaim_host *host,
		       const struct reclaim_vm_stats *vms, size_t n_vms, uint64_t new_vm_bytes,
		       struct reclaim_summary *summary, struct reclaim_decision *decisions);

/**
 * Formats one decision as a single human-readable line (no newline), e.g.
 * "vm 7: soft target 1.50 GiB balloon 512.00 MiB (cap 1.20 GiB, guest) swap 0 B
 * compress 0 B rho 3.1e-05 bound none reasons pressure,balloon_capped".
 * Names are those of the name functions; reason bits without one are shown
 * together as "unknown(0x...)", the mask of them. Like snprintf: writes at most
 * @p len bytes including the NUL and returns the length the full line
 * needs, or a negative status.
 * @since 0.2
 */
RECLAIM_API int
reclaim_decision_format(char *buf, size_t len, const struct reclaim_decision *decision);

/**
 * Adapter: callbacks the embedder implements to carry decisions out. Each
 * receives the user_data given to reclaim_apply() first and returns 0 or a
 * negative errno. Slots marked optional may be NULL. Fill it with designated
 * initializers: { .version = RECLAIM_ADAPTER_VERSION, .set_balloon = ... }.
 * @since 0.2
 */
struct reclaim_adapter {
	uint32_t version; /**< RECLAIM_ADAPTER_VERSION as the caller compiled it */
	uint32_t reserved0; /**< 0 */
	/* -- version 1 -- */
	/** Ask the guest's balloon for @p balloon_bytes (absolute size). */
	int (*set_balloon)(void *user_data, uint64_t vm_id, uint64_t balloon_bytes);
	/** Host-swap @p bytes of the VM's memory now (pages picked at random). */
	int (*swap_out)(void *user_data, uint64_t vm_id, uint64_t bytes);
	/** Stop running the VM. */
	int (*block)(void *user_data, uint64_t vm_id);
	/** Resume the VM. */
	int (*unblock)(void *user_data, uint64_t vm_id);
	/** Optional: compress @p bytes of the VM's memory; when NULL, those bytes
	 *  are host-swapped instead. */
	int (*compress)(void *user_data, uint64_t vm_id, uint64_t bytes);
	/* later versions append here; an older adapter reads as if their
	 * slots were NULL */
};

/** Current adapter version. @since 0.2 */
#define RECLAIM_ADAPTER_VERSION 1

/** Per-VM outcome of reclaim_apply(). @since 0.2 */
enum reclaim_apply_flag {
	RECLAIM_APPLY_COMPRESS_FALLBACK = 1u << 0, /**< no compress op: swapped instead */
	RECLAIM_APPLY_SKIPPED = 1u << 1            /**< an action's op is NULL: not done */
};

/** Name of one enum reclaim_apply_flag bit ("compress_fallback", "skipped"), or NULL. @since 0.2 */
RECLAIM_API const char *
reclaim_apply_flag_name(uint32_t flag);

/**
 * What reclaim_apply() did for one VM. Each status is 0 (done), the op's
 * negative errno, -ENOSYS when the op is NULL (with RECLAIM_APPLY_SKIPPED),
 * or 1 when the decision did not ask for that action.
 * @since 0.2
 */
struct reclaim_apply_result {
	uint32_t struct_size;  /**< the result_size the caller passed */
	uint32_t flags;        /**< enum reclaim_apply_flag bits */
	uint64_t id;           /**< the VM's id */
	int32_t balloon_status;
	int32_t swap_status;
	int32_t compress_status;
	int32_t block_status;  /**< block or unblock */
	/* append only */
};

/**
 * Carries out @p n decisions through @p adapter, in order; decides nothing.
 * A failing op is recorded and the other ops and VMs still run. When
 * @p policy is given, failures are remembered so that the next decide
 * retries them (a failed balloon counts as no progress, a failed block is
 * issued again; a swap_out that says host swap is not there, or fails
 * twice in a row, marks host swap down for the VM for swap_retry_ns, also
 * when it carried compressed pages the adapter has no tier for), and so is
 * a block or unblock that succeeded, also from a dry run's decisions (a VM
 * blocked that the policy had no history for is remembered while it has
 * room). swap_bytes go to swap_out only with RECLAIM_ACTION_SWAP; without
 * a compress op, compress_bytes go there too (RECLAIM_APPLY_COMPRESS_FALLBACK).
 * Decisions are read at the stride of their struct_size (all the same, as
 * reclaim_decide() writes them), in any order, in one call or several.
 * Each should be applied once: decide counts a decision it wrote as
 * carried out, so one never applied looks to the next decide like an
 * adapter that did nothing (a balloon that did not move is, in time,
 * declared unresponsive).
 * @param policy       NULL, or the policy that made the decisions
 * @param[out] results NULL, or @p n elements of @p result_size bytes
 *                     (sizeof(struct reclaim_apply_result) as compiled),
 *                     sharing no memory with @p decisions; written also
 *                     when an op failed (they say which)
 * @return RECLAIM_OK, RECLAIM_E_ADAPTER if any op failed, or an argument
 *         error (nothing called, @p results untouched): RECLAIM_E_NULL,
 *         RECLAIM_E_VERSION, RECLAIM_E_INVAL (a decision with action bits
 *         the library never writes, or both block and unblock; an adapter
 *         whose reserved0 is not 0; @p results over @p decisions).
 * @since 0.2
 */
RECLAIM_API int
reclaim_apply(struct reclaim_policy *policy, const struct reclaim_adapter *adapter,
	      void *user_data, const struct reclaim_decision *decisions, size_t n,
	      struct reclaim_apply_result *results, size_t result_size);

/**
 * Active-memory estimator for one VM (ESX's sampling): each period the
 * embedder samples n pages and counts t touched. Keeps a slow and a fast
 * EWMA of t/n and a fast average that includes the current, unfinished
 * period; reports the largest, clamped to [active_floor, 1].
 * Plain data: copy it, store it anywhere. Fields are read-only to the caller.
 * @since 0.2
 */
struct reclaim_estimator {
	uint32_t struct_size; /**< set by reclaim_estimator_init */
	uint32_t periods;     /**< completed periods that had samples (0: no history) */
	double fast_gain;
	double slow_gain;
	double floor;
	double slow;          /**< slow EWMA of the active fraction */
	double fast;          /**< fast EWMA */
	double current;       /**< fast EWMA including the current period so far */
	/* append only */
};

/**
 * Initialises an estimator of @p size bytes (sizeof as compiled) with
 * @p cfg's gains and floor (NULL: defaults). Only estimator_fast_gain,
 * estimator_slow_gain and active_floor are read.
 * @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_VERSION, or RECLAIM_E_CONFIG
 * for a gain outside (0, 1] or a floor outside [0, 1).
 * @since 0.2
 */
RECLAIM_API int
reclaim_estimator_init(struct reclaim_estimator *est, size_t size,
		       const struct reclaim_config *cfg);

/**
 * Reports progress in the current period: @p touched of @p sampled pages
 * touched so far. @return RECLAIM_OK, RECLAIM_E_NULL, RECLAIM_E_VERSION,
 * RECLAIM_E_INVAL (touched > sampled).
 * @since 0.2
 */
RECLAIM_API int
reclaim_estimator_progress(struct reclaim_estimator *est, uint32_t sampled, uint32_t touched);

/**
 * Ends a period in which @p touched of @p sampled pages were touched.
 * sampled == 0 ends an empty period (no information; averages kept).
 * @return as reclaim_estimator_progress().
 * @since 0.2
 */
RECLAIM_API int
reclaim_estimator_period(struct reclaim_estimator *est, uint32_t sampled, uint32_t touched);

/** The estimate: max(slow, fast, current) in [floor, 1]; 0 for NULL. @since 0.2 */
RECLAIM_API double
reclaim_estimator_fraction(const struct reclaim_estimator *est);

/** Active bytes for a VM consuming @p consumed_bytes. @since 0.2 */
RECLAIM_API uint64_t
reclaim_estimator_active_bytes(const struct reclaim_estimator *est, uint64_t consumed_bytes);

/**
 * Small deterministic generator (xoshiro256**) owned by the caller. Plain
 * data, fixed layout. Seed it with reclaim_rng_seed(): the all-zero state
 * (zeroed memory) draws 0 forever, and the pickers refuse it.
 * @since 0.2
 */
struct reclaim_rng {
	uint64_t s[4];
};

/** Seeds @p rng (splitmix64 of @p seed); NULL-safe. @since 0.2 */
RECLAIM_API void
reclaim_rng_seed(struct reclaim_rng *rng, uint64_t seed);

/** Next 64 random bits; 0 for NULL. @since 0.2 */
RECLAIM_API uint64_t
reclaim_rng_next(struct reclaim_rng *rng);

/**
 * Sequential random sampling (Vitter's method D): draws k distinct indices
 * of [0, n) uniformly, in increasing order, in O(k) expected time and O(1)
 * memory. Plain data, fixed layout; fields are private.
 * @since 0.2
 */
struct reclaim_pick {
	uint64_t n;      /**< candidates left */
	uint64_t k;      /**< picks left */
	uint64_t next;   /**< index of the first candidate left */
	struct reclaim_rng *rng;
};

/**
 * Prepares to pick @p k of @p n indices using @p rng (kept by pointer; it must
 * outlive the picker).
 * @return RECLAIM_OK, RECLAIM_E_NULL or RECLAIM_E_INVAL (k > n, or @p rng
 *         in the all-zero state).
 * @since 0.2
 */
RECLAIM_API int
reclaim_pick_init(struct reclaim_pick *pick, uint64_t n, uint64_t k, struct reclaim_rng *rng);

/**
 * Next index, in increasing order.
 * @return 1 with *index set, 0 when all k were drawn, or a negative status
 *         (RECLAIM_E_INVAL for a picker whose indices would wrap or whose
 *         generator is in the all-zero state).
 * @since 0.2
 */
RECLAIM_API int
reclaim_pick_next(struct reclaim_pick *pick, uint64_t *index);

/**
 * Draws @p k distinct indices of [0, n) with @p rng into @p out (k
 * elements), increasing.
 * @return RECLAIM_OK, RECLAIM_E_NULL or RECLAIM_E_INVAL (k > n, or @p rng
 *         in the all-zero state; @p out untouched).
 * @since 0.2
 */
RECLAIM_API int
reclaim_pick_pages(struct reclaim_rng *rng, uint64_t n, uint64_t k, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* RECLAIM_H */
