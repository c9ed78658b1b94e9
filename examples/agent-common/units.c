/* SPDX-License-Identifier: MIT */
/* Sizes and durations as people write them, for the command line and config. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Parses a non-negative number followed by a unit from @p units (matched
 * longest first by the caller's ordering); multiplies by its factor. A
 * whole number is read and scaled in integers, exactly up to 2^64 - 1 (a
 * double would round everything above 2^53, and could not hold 2^64 - 1,
 * which the library accepts and policy_config_print() writes); a fraction
 * or an exponent is read as a double and rounded to the unit. */
struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit *
unit_named(const char *name, const struct unit *units, size_t n_units)
{
	for (size_t i = 0; i < n_units; i++)
		if (strcmp(name, units[i].name) == 0)
			return &units[i];
	return NULL;
}

static int
parse_scaled(uint64_t *out, const char *text, const struct unit *units, size_t n_units)
{
	char *end;

	if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
		return -1;
	/* A whole number: digits and a unit (only from a digit on: strtoull()
	 * would take " -5" as 2^64 - 5). */
	if (*text >= '0' && *text <= '9') {
		errno = 0;
		unsigned long long whole = strtoull(text, &end, 10);
		const struct unit *u = unit_named(end, units, n_units);
		if (u != NULL) {
			if (errno != 0 || whole > UINT64_MAX / u->factor)
				return -1;
			*out = (uint64_t)whole * u->factor;
			return 0;
		}
	}
	errno = 0;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || !(v >= 0.0))
		return -1;
	const struct unit *u = unit_named(end, units, n_units);
	if (u == NULL)
		return -1;
	/* Rounded to the byte in doubles: llround() is signed, and turned
	 * every size from 2^63 up into 2^63. */
	double scaled = floor(v * (double)u->factor + 0.5);
	if (scaled >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)scaled;
	return 0;
}

int
parse_size(uint64_t *out, const char *text)
{
	static const struct unit units[] = {
		{"", 1}, {"B", 1},
		{"K", 1ull << 10}, {"KiB", 1ull << 10},
		{"M", 1ull << 20}, {"MiB", 1ull << 20},
		{"G", 1ull << 30}, {"GiB", 1ull << 30},
		{"T", 1ull << 40}, {"TiB", 1ull << 40},
	};
	return parse_scaled(out, text, units, sizeof(units) / sizeof(units[0]));
}

int
parse_duration(uint64_t *out_ns, const char *text)
{
	static const struct unit units[] = {
		{"", 1000000000}, {"s", 1000000000}, {"ms", 1000000}, {"us", 1000}, {"ns", 1},
		{"m", 60000000000},
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
