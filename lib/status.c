/* SPDX-License-Identifier: MIT */
/* Status texts, state names and the runtime version. */
#include "reclaim-private.h"

uint32_t
reclaim_version(void)
{
	return RECLAIM_VERSION_HEX;
}

const char *
reclaim_strerror(int status)
{
	switch (status) {
	case RECLAIM_OK:
		return "success";
	case RECLAIM_E_NULL:
		return "a required pointer is NULL";
	case RECLAIM_E_VERSION:
		return "struct size or version unknown to this library";
	case RECLAIM_E_CONFIG:
		return "configuration value out of range";
	case RECLAIM_E_THRESHOLDS:
		return "thresholds must be strictly ordered high > soft > hard > low and lie in (0, 1)";
	case RECLAIM_E_HOST_FREE:
		return "host free memory exceeds total memory";
	case RECLAIM_E_HOST_RESERVED:
		return "hypervisor-reserved memory exceeds total memory";
	case RECLAIM_E_VM_SIZE:
		return "a VM has a configured size of zero";
	case RECLAIM_E_VM_BOUNDS:
		return "a VM's reservation exceeds its limit or configured size";
	case RECLAIM_E_VM_DUPLICATE:
		return "two VMs have the same id";
	case RECLAIM_E_OVERFLOW:
		return "a sum of byte counts overflows 64 bits";
	case RECLAIM_E_CAPACITY:
		return "more VMs than the policy was sized for";
	case RECLAIM_E_NOMEM:
		return "out of memory";
	case RECLAIM_E_ADAPTER:
		return "an adapter callback failed";
	case RECLAIM_E_INVAL:
		return "invalid argument";
	case RECLAIM_E_NOSPACE:
		return "supplied memory is too small";
	default:
		return "unknown status";
	}
}

const char *
reclaim_state_name(int state)
{
	switch (state) {
	case RECLAIM_STATE_HIGH:
		return "high";
	case RECLAIM_STATE_SOFT:
		return "soft";
	case RECLAIM_STATE_HARD:
		return "hard";
	case RECLAIM_STATE_LOW:
		return "low";
	default:
		return "invalid";
	}
}
