/* SPDX-License-Identifier: MIT */
/* One human-readable line per decision. Not on the decision path. */
#include <stdio.h>

#include "reclaim-private.h"

static void
human(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.2f %s", v, unit[u]);
}

static const char *
or_unknown(const char *name)
{
	return name ? name : "unknown";
}

int
reclaim_decision_format(char *buf, size_t len, const struct reclaim_decision *d)
{
	/* Every name at once takes under 256 bytes; bits without a name are
	 * shown together, as one mask, so the list always fits. */
	char target[32], balloon[32], cap[32], swap[32], comp[32], reasons[512];
	uint32_t unknown = 0;
	size_t used = 0, i;
	int n;

	if (!d || (!buf && len))
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_DECISION, d->struct_size))
		return RECLAIM_E_VERSION;
	human(target, sizeof(target), d->target_bytes);
	human(balloon, sizeof(balloon), d->balloon_target_bytes);
	human(cap, sizeof(cap), d->balloon_cap_bytes);
	human(swap, sizeof(swap), d->swap_bytes);
	human(comp, sizeof(comp), d->compress_bytes);
	reasons[0] = '\0';
	for (i = 0; i < 32; i++) {
		const char *name = reclaim_reason_name(1u << i);

		if (!(d->reasons & (1u << i)))
			continue;
		if (!name) {
			unknown |= 1u << i;
			continue;
		}
		n = snprintf(reasons + used, sizeof(reasons) - used, "%s%s", used ? "," : "", name);
		if (n < 0 || (size_t)n >= sizeof(reasons) - used)
			return RECLAIM_E_INVAL; /* cannot happen: see reasons[] */
		used += (size_t)n;
	}
	if (unknown) {
		n = snprintf(reasons + used, sizeof(reasons) - used, "%sunknown(0x%x)",
			     used ? "," : "", (unsigned)unknown);
		if (n < 0 || (size_t)n >= sizeof(reasons) - used)
			return RECLAIM_E_INVAL;
		used += (size_t)n;
	}
	n = snprintf(buf, len,
		     "vm %llu: %s target %s balloon %s (cap %s, %s) swap %s compress %s%s "
		     "rho %.4g bound %s reasons %s",
		     (unsigned long long)d->id, or_unknown(reclaim_state_name(d->state)), target,
		     balloon, cap, or_unknown(reclaim_balloon_limit_name(d->balloon_limit)), swap,
		     comp, d->block ? " BLOCK" : "", d->rho, or_unknown(reclaim_bound_name(d->bound)),
		     used ? reasons : "none");
	return n < 0 ? RECLAIM_E_INVAL : n;
}
