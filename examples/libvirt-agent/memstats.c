/* SPDX-License-Identifier: MIT */
/*
 * virDomainMemoryStats as the policy needs it. libvirt reports sizes in KiB
 * and the time of the guest's last report in wall-clock seconds; every value
 * but rss comes from the guest and may be anything: converted saturating,
 * and judged by the policy (which clamps them).
 */
#include <string.h>

#include "lvagent.h"

static uint64_t
kib(unsigned long long v)
{
	return v > UINT64_MAX >> 10 ? UINT64_MAX : (uint64_t)v << 10;
}

void
memstats_map(struct lv_memstats *out, const virDomainMemoryStatStruct *stats, int n)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		unsigned long long v = stats[i].val;
		switch (stats[i].tag) {
		case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
			out->has_actual = 1;
			out->actual = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_RSS:
			out->has_rss = 1;
			out->rss = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_USABLE: /* MemAvailable */
			out->raw.has_available = 1;
			out->raw.available = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_UNUSED: /* MemFree */
			out->raw.has_free = 1;
			out->raw.free = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: /* MemTotal, despite the name */
			out->raw.has_total = 1;
			out->raw.total = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_SWAP_IN:
			out->raw.swap_in = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT:
			out->raw.swap_out = kib(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:
			out->raw.last_update_s = (uint64_t)v;
			break;
		default:
			break;
		}
	}
}
