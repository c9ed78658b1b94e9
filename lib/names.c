/* SPDX-License-Identifier: MIT */
/*
 * Status texts, the runtime version, and the one spelling of every public
 * enum and flag: the enumerator in lower case without its prefix. Tools
 * (reclaim_decision_format, reclaimctl, the agents, the simulator) take
 * names from here only.
 */
#include "reclaim-private.h"

uint32_t
reclaim_version(void)
{
	return RECLAIM_VERSION_HEX;
}

static const struct {
	const char *name, *text;
} statuses[] = {
	{"RECLAIM_OK", "success"},
	{"RECLAIM_E_NULL", "a required pointer is NULL"},
	{"RECLAIM_E_VERSION", "struct size or version unknown to this library"},
	{"RECLAIM_E_CONFIG", "configuration value out of range"},
	{"RECLAIM_E_THRESHOLDS",
	 "thresholds must be strictly ordered high > soft > hard > low and lie in (0, 1)"},
	{"RECLAIM_E_HOST_FREE", "host free memory exceeds total memory"},
	{"RECLAIM_E_HOST_RESERVED", "hypervisor-reserved memory exceeds total memory"},
	{"RECLAIM_E_VM_SIZE", "a VM has a configured size of zero"},
	{"RECLAIM_E_VM_BOUNDS", "a VM's reservation exceeds its limit or configured size"},
	{"RECLAIM_E_VM_DUPLICATE", "two VMs have the same id"},
	{"RECLAIM_E_OVERFLOW", "a sum of byte counts overflows 64 bits"},
	{"RECLAIM_E_CAPACITY", "more VMs than the policy was sized for"},
	{"RECLAIM_E_NOMEM", "out of memory"},
	{"RECLAIM_E_ADAPTER", "an adapter callback failed"},
	{"RECLAIM_E_INVAL", "invalid argument"},
	{"RECLAIM_E_NOSPACE", "supplied memory is too small"},
	{"RECLAIM_E_BUSY", "the policy is in use by another call"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *
reclaim_strerror(int status)
{
	if (status > 0 || status <= -(int)COUNT(statuses))
		return "unknown status";
	return statuses[-status].text;
}

const char *
reclaim_status_name(int status)
{
	if (status > 0 || status <= -(int)COUNT(statuses))
		return NULL;
	return statuses[-status].name;
}

/* An enum whose values count from 0. */
static const char *
value_name(const char *const *names, size_t n, uint32_t value)
{
	return value < n ? names[value] : NULL;
}

/* A flag set: one bit, named by its position. */
static const char *
bit_name(const char *const *names, size_t n, uint32_t bit)
{
	size_t i;

	if (bit == 0 || (bit & (bit - 1)))
		return NULL;
	for (i = 0; !(bit & 1u); i++)
		bit >>= 1;
	return i < n ? names[i] : NULL;
}

#define VALUE_NAMES(fn, ...)                                                    \
	const char *fn(uint32_t value)                                           \
	{                                                                        \
		static const char *const names[] = {__VA_ARGS__};                \
		return value_name(names, COUNT(names), value);                   \
	}

#define BIT_NAMES(fn, ...)                                                      \
	const char *fn(uint32_t bit)                                             \
	{                                                                        \
		static const char *const names[] = {__VA_ARGS__};                \
		return bit_name(names, COUNT(names), bit);                       \
	}

VALUE_NAMES(reclaim_state_name, "high", "soft", "hard", "low")
VALUE_NAMES(reclaim_profile_name, "esx", "esxi5", "paper")
BIT_NAMES(reclaim_config_flag_name, "no_early_balloon", "soft_swap", "hard_swap_only",
	  "no_guest_cap")
VALUE_NAMES(reclaim_threshold_base_name, "usable", "minfree")
BIT_NAMES(reclaim_host_flag_name, "swap_bounded")
BIT_NAMES(reclaim_vm_flag_name, "balloon", "guest_stats", "idle_tax", "compress", "resized")
BIT_NAMES(reclaim_action_name, "balloon", "swap", "compress", "block", "unblock")
BIT_NAMES(reclaim_reason_name, "pressure", "early", "limit", "deflate", "no_balloon",
	  "unresponsive", "stale", "balloon_capped", "slow_balloon", "blocked", "zero_shares",
	  "shortfall", "swap_bounded", "adapter_failed", "hold", "rebalance", "distress",
	  "swap_unavailable", "block_timeout")
VALUE_NAMES(reclaim_bound_name, "none", "reservation", "max", "consumed", "balloon")
VALUE_NAMES(reclaim_balloon_limit_name, "fraction", "vm_cap", "guest", "no_driver",
	    "unresponsive", "stale", "active", "distress")
BIT_NAMES(reclaim_summary_flag_name, "shortfall", "early", "deflate", "swap_bounded",
	  "swap_unavailable")
VALUE_NAMES(reclaim_where_name, "none", "argument", "config", "host", "vm", "decision")
BIT_NAMES(reclaim_decide_flag_name, "dry_run")
BIT_NAMES(reclaim_apply_flag_name, "compress_fallback", "skipped")
