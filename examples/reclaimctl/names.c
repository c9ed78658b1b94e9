/* SPDX-License-Identifier: MIT */
/*
 * The JSON names of reclaim.h's enum values and flag bits. reclaimctl keeps
 * no names of its own: every name comes from the library's name functions
 * (reclaim_state_name(), ...), which return the enumerator in lower case
 * without its prefix, or NULL for a value the library does not know. Input
 * names are looked up by asking the same functions about every value.
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

/* Enum values are asked about from 0 up to here: reclaim.h's enums count
 * from 0 and only ever append, so this leaves room for many more without
 * assuming they have no gaps. */
#define ENUM_SCAN 256

int
ctl_value_of(uint32_t *value, ctl_name_fn *names, int flags, const char *name)
{
	uint32_t n = flags ? 32 : ENUM_SCAN;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = flags ? (uint32_t)1 << i : i;
		const char *known = names(v);
		if (known && strcmp(known, name) == 0) {
			*value = v;
			return 0;
		}
	}
	return -1;
}

void
ctl_names_list(char *out, size_t size, ctl_name_fn *names, int flags)
{
	uint32_t n = flags ? 32 : ENUM_SCAN;
	size_t used = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		const char *name = names(flags ? (uint32_t)1 << i : i);
		if (!name)
			continue;
		int w = snprintf(out + used, size - used, "%s%s", used ? ", " : "", name);
		if (w < 0 || (size_t)w >= size - used) {
			/* Cut at the last whole name. */
			out[used] = '\0';
			return;
		}
		used += (size_t)w;
	}
}

void
ctl_put_flags(struct ctl_buf *b, ctl_name_fn *names, uint32_t bits)
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
		const char *name = names(mask);
		if (name) {
			ctl_putc(b, '"');
			ctl_puts(b, name);
			ctl_putc(b, '"');
		} else {
			/* A bit this library has no name for. */
			ctl_puts(b, "\"bit");
			ctl_put_u64(b, bit);
			ctl_putc(b, '"');
		}
	}
	ctl_putc(b, ']');
}

void
ctl_put_enum(struct ctl_buf *b, ctl_name_fn *names, uint32_t value)
{
	const char *name = names(value);
	ctl_putc(b, '"');
	ctl_puts(b, name ? name : "unknown");
	ctl_putc(b, '"');
}

const char *
ctl_status_name(int status)
{
	const char *name = reclaim_status_name(status);
	return name ? name : "RECLAIM_E_UNKNOWN";
}
