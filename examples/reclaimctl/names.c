/* SPDX-License-Identifier: MIT */
/* The JSON names of reclaim.h's enum values and flag bits: the enumerator
 * in lower case without its prefix. */
#include "ctl.h"

#include <string.h>

const struct ctl_name ctl_state_names[] = {
	{"high", RECLAIM_STATE_HIGH},
	{"soft", RECLAIM_STATE_SOFT},
	{"hard", RECLAIM_STATE_HARD},
	{"low", RECLAIM_STATE_LOW},
	{NULL, 0},
};

const struct ctl_name ctl_host_flag_names[] = {
	{"swap_bounded", RECLAIM_HOST_SWAP_BOUNDED},
	{NULL, 0},
};

const struct ctl_name ctl_vm_flag_names[] = {
	{"balloon", RECLAIM_VM_BALLOON},
	{"guest_stats", RECLAIM_VM_GUEST_STATS},
	{"idle_tax", RECLAIM_VM_IDLE_TAX},
	{"compress", RECLAIM_VM_COMPRESS},
	{NULL, 0},
};

const struct ctl_name ctl_config_flag_names[] = {
	{"no_early_balloon", RECLAIM_CONFIG_NO_EARLY_BALLOON},
	{"soft_swap", RECLAIM_CONFIG_SOFT_SWAP},
	{"hard_swap_only", RECLAIM_CONFIG_HARD_SWAP_ONLY},
	{"no_guest_cap", RECLAIM_CONFIG_NO_GUEST_CAP},
	{NULL, 0},
};

const struct ctl_name ctl_base_names[] = {
	{"usable", RECLAIM_BASE_USABLE},
	{"minfree", RECLAIM_BASE_MINFREE},
	{NULL, 0},
};

const struct ctl_name ctl_profile_names[] = {
	{"esx", RECLAIM_PROFILE_ESX},
	{"esxi5", RECLAIM_PROFILE_ESXI5},
	{"paper", RECLAIM_PROFILE_PAPER},
	{NULL, 0},
};

const struct ctl_name ctl_action_names[] = {
	{"balloon", RECLAIM_ACTION_BALLOON},
	{"swap", RECLAIM_ACTION_SWAP},
	{"compress", RECLAIM_ACTION_COMPRESS},
	{"block", RECLAIM_ACTION_BLOCK},
	{"unblock", RECLAIM_ACTION_UNBLOCK},
	{NULL, 0},
};

const struct ctl_name ctl_reason_names[] = {
	{"pressure", RECLAIM_REASON_PRESSURE},
	{"early", RECLAIM_REASON_EARLY},
	{"limit", RECLAIM_REASON_LIMIT},
	{"deflate", RECLAIM_REASON_DEFLATE},
	{"no_balloon", RECLAIM_REASON_NO_BALLOON},
	{"unresponsive", RECLAIM_REASON_UNRESPONSIVE},
	{"stale", RECLAIM_REASON_STALE},
	{"balloon_capped", RECLAIM_REASON_BALLOON_CAPPED},
	{"slow_balloon", RECLAIM_REASON_SLOW_BALLOON},
	{"blocked", RECLAIM_REASON_BLOCKED},
	{"zero_shares", RECLAIM_REASON_ZERO_SHARES},
	{"shortfall", RECLAIM_REASON_SHORTFALL},
	{"swap_bounded", RECLAIM_REASON_SWAP_BOUNDED},
	{"adapter_failed", RECLAIM_REASON_ADAPTER_FAILED},
	{"hold", RECLAIM_REASON_HOLD},
	{"rebalance", RECLAIM_REASON_REBALANCE},
	{NULL, 0},
};

const struct ctl_name ctl_bound_names[] = {
	{"none", RECLAIM_BOUND_NONE},
	{"reservation", RECLAIM_BOUND_RESERVATION},
	{"max", RECLAIM_BOUND_MAX},
	{"consumed", RECLAIM_BOUND_CONSUMED},
	{"balloon", RECLAIM_BOUND_BALLOON},
	{NULL, 0},
};

const struct ctl_name ctl_balloon_limit_names[] = {
	{"fraction", RECLAIM_BALLOON_LIMIT_FRACTION},
	{"vm_cap", RECLAIM_BALLOON_LIMIT_VM_CAP},
	{"guest", RECLAIM_BALLOON_LIMIT_GUEST},
	{"no_driver", RECLAIM_BALLOON_LIMIT_NO_DRIVER},
	{"unresponsive", RECLAIM_BALLOON_LIMIT_UNRESPONSIVE},
	{"stale", RECLAIM_BALLOON_LIMIT_STALE},
	{NULL, 0},
};

const struct ctl_name ctl_summary_flag_names[] = {
	{"shortfall", RECLAIM_SUMMARY_SHORTFALL},
	{"early", RECLAIM_SUMMARY_EARLY},
	{"deflate", RECLAIM_SUMMARY_DEFLATE},
	{"swap_bounded", RECLAIM_SUMMARY_SWAP_BOUNDED},
	{NULL, 0},
};

const char *
ctl_name_of(const struct ctl_name *names, uint32_t value)
{
	for (; names->name; names++)
		if (names->value == value)
			return names->name;
	return NULL;
}

int
ctl_value_of(uint32_t *value, const struct ctl_name *names, const char *name)
{
	for (; names->name; names++) {
		if (strcmp(names->name, name) == 0) {
			*value = names->value;
			return 0;
		}
	}
	return -1;
}

void
ctl_put_flags(struct ctl_buf *b, const struct ctl_name *names, uint32_t bits)
{
	int first = 1;
	ctl_putc(b, '[');
	for (unsigned bit = 0; bit < 32; bit++) {
		uint32_t mask = (uint32_t)1 << bit;
		if (!(bits & mask))
			continue;
		if (!first)
			ctl_putc(b, ',');
		first = 0;
		const char *name = ctl_name_of(names, mask);
		if (name) {
			ctl_putc(b, '"');
			ctl_puts(b, name);
			ctl_putc(b, '"');
		} else {
			/* A bit from a newer library than this tool. */
			ctl_puts(b, "\"bit");
			ctl_put_u64(b, bit);
			ctl_putc(b, '"');
		}
	}
	ctl_putc(b, ']');
}

void
ctl_put_enum(struct ctl_buf *b, const struct ctl_name *names, uint32_t value)
{
	const char *name = ctl_name_of(names, value);
	ctl_putc(b, '"');
	ctl_puts(b, name ? name : "unknown");
	ctl_putc(b, '"');
}

const char *
ctl_status_name(int status)
{
	static const char *const names[] = {
		"RECLAIM_OK",
		"RECLAIM_E_NULL",
		"RECLAIM_E_VERSION",
		"RECLAIM_E_CONFIG",
		"RECLAIM_E_THRESHOLDS",
		"RECLAIM_E_HOST_FREE",
		"RECLAIM_E_HOST_RESERVED",
		"RECLAIM_E_VM_SIZE",
		"RECLAIM_E_VM_BOUNDS",
		"RECLAIM_E_VM_DUPLICATE",
		"RECLAIM_E_OVERFLOW",
		"RECLAIM_E_CAPACITY",
		"RECLAIM_E_NOMEM",
		"RECLAIM_E_ADAPTER",
		"RECLAIM_E_INVAL",
		"RECLAIM_E_NOSPACE",
	};
	if (status > 0 || -status >= (int)(sizeof(names) / sizeof(names[0])))
		return "RECLAIM_E_UNKNOWN";
	return names[-status];
}
