/* SPDX-License-Identifier: MIT */
/* Sizes and durations as people write them, for the command line and config. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Parses a non-negative number followed by a unit from @p units (matched
 * longest first by the caller's ordering); multiplies by its factor. */
struct unit {
	const char *name;
	double factor;
};

static int
parse_scaled(uint64_t *out, const char *text, const struct unit *units, size_t n_units)
{
	char *end;

	if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
		return -1;
	errno = 0;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || !(v >= 0.0))
		return -1;
	double factor = 0.0;
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(end, units[i].name) == 0) {
			factor = units[i].factor;
			break;
		}
	}
	if (factor == 0.0)
		return -1;
	/* Rounded to the byte in doubles: llround() is signed, and turned
	 * every size from 2^63 up into 2^63. */
	double scaled = floor(v * factor + 0.5);
	if (scaled >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)scaled;
	return 0;
}

int
parse_size(uint64_t *out, const char *text)
{
	static const struct unit units[] = {
		{"", 1.0}, {"B", 1.0},
		{"K", 1024.0}, {"KiB", 1024.0},
		{"M", 1048576.0}, {"MiB", 1048576.0},
		{"G", 1073741824.0}, {"GiB", 1073741824.0},
		{"T", 1099511627776.0}, {"TiB", 1099511627776.0},
	};
	return parse_scaled(out, text, units, sizeof(units) / sizeof(units[0]));
}

int
parse_duration(uint64_t *out_ns, const char *text)
{
	static const struct unit units[] = {
		{"", 1e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1.0}, {"m", 60e9},
	};
	return parse_scaled(out_ns, text, units, sizeof(units) / sizeof(units[0]));
}

const char *
format_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t i = 0;

	while (v >= 1024.0 && i + 1 < sizeof(names) / sizeof(names[0])) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.2f %s", v, names[i]);
	return buf;
}
