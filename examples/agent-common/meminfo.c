/* SPDX-License-Identifier: MIT */
/* The host's memory and swap from /proc/meminfo. */
#include <errno.h>
#include <string.h>

#include "common.h"

static uint64_t
kib(unsigned long long kb)
{
	return kb > UINT64_MAX >> 10 ? UINT64_MAX : (uint64_t)kb << 10;
}

int
meminfo_parse(struct meminfo *mi, FILE *f)
{
	struct meminfo got = {0};
	int has_total = 0;
	char line[256];
	unsigned long long kb;

	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			got.total = kib(kb);
			has_total = 1;
		} else if (sscanf(line, "MemFree: %llu kB", &kb) == 1) {
			got.free = kib(kb);
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			got.available = kib(kb);
			got.has_available = 1;
		} else if (sscanf(line, "SwapTotal: %llu kB", &kb) == 1) {
			got.swap_total = kib(kb);
		} else if (sscanf(line, "SwapFree: %llu kB", &kb) == 1) {
			got.swap_free = kib(kb);
		}
	}
	if (!has_total)
		return -1;
	*mi = got;
	return 0;
}

int
meminfo_read(struct meminfo *mi, const char *path)
{
	FILE *f = fopen(path ? path : "/proc/meminfo", "r");
	if (f == NULL)
		return -errno;
	int r = meminfo_parse(mi, f);
	fclose(f);
	return r == 0 ? 0 : -EPROTO;
}
