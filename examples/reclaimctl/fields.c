/* SPDX-License-Identifier: MIT */
/* Struct members <-> JSON object members, driven by a table per struct. */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Copies at most size - 1 bytes, cutting before a partial UTF-8 sequence. */
static void
copy_truncated(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
ctl_error_set(struct ctl_error *err, int kind, const char *path, const char *fmt, ...)
{
	va_list ap;
	err->kind = kind;
	err->status = 0;
	err->column = 0;
	copy_truncated(err->path, sizeof(err->path), path ? path : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void
ctl_error_prefix(struct ctl_error *err, const char *prefix)
{
	char joined[2 * sizeof(err->path)];
	const char *sep = (err->path[0] && err->path[0] != '[') ? "." : "";
	/* A path cut short still names where the error starts. */
	if (snprintf(joined, sizeof(joined), "%s%s%s", prefix, sep, err->path) < 0)
		return;
	copy_truncated(err->path, sizeof(err->path), joined);
}

void
ctl_error_from_library(struct ctl_error *err, int status, const struct reclaim_error *where)
{
	char path[sizeof(err->path)] = "";
	const char *field = where->field;
	const char *dot = field ? "." : "";

	if (!field)
		field = "";
	/* A record of another call than the one that failed names nothing. */
	if (where->status != status) {
		ctl_error_set(err, CTL_ERR_POLICY, "", "%s", reclaim_strerror(status));
		err->status = status;
		return;
	}
	switch (where->where) {
	case RECLAIM_WHERE_HOST:
		snprintf(path, sizeof(path), "host%s%s", dot, field);
		break;
	case RECLAIM_WHERE_VM:
		snprintf(path, sizeof(path), "vms[%llu]%s%s", (unsigned long long)where->index, dot,
			 field);
		break;
	case RECLAIM_WHERE_CONFIG:
		snprintf(path, sizeof(path), "config%s%s", dot, field);
		break;
	case RECLAIM_WHERE_ARGUMENT:
		/* The VM array's length is the line's vms; the other arguments
		 * are reclaimctl's own. */
		if (strcmp(field, "n_vms") == 0 || strcmp(field, "vms") == 0)
			snprintf(path, sizeof(path), "vms");
		break;
	default:
		/* decisions[] (reclaim_apply) or nothing: no input value. */
		break;
	}
	if (status == RECLAIM_E_VM_DUPLICATE && where->where == RECLAIM_WHERE_VM)
		ctl_error_set(err, CTL_ERR_POLICY, path, "%s: vms[%llu] has id %llu too",
			      reclaim_strerror(status), (unsigned long long)where->other_index,
			      (unsigned long long)where->id);
	else
		ctl_error_set(err, CTL_ERR_POLICY, path, "%s", reclaim_strerror(status));
	err->status = status;
}

int
ctl_read_name(uint32_t *value, struct ctl_error *err, ctl_name_fn *names, json_t *j,
	      const char *path)
{
	char list[160];
	if (json_is_string(j) && ctl_value_of(value, names, 0, json_string_value(j)) == 0)
		return 0;
	ctl_names_list(list, sizeof(list), names, 0);
	ctl_error_set(err, CTL_ERR_INPUT, path, "expected one of %s", list);
	return -1;
}

static int
read_flags(uint32_t *bits, struct ctl_error *err, ctl_name_fn *names, json_t *j,
	   const char *key)
{
	size_t i;
	json_t *item;
	uint32_t out = 0;
	char list[160];

	if (!json_is_array(j)) {
		ctl_error_set(err, CTL_ERR_INPUT, key, "expected an array of flag names");
		return -1;
	}
	json_array_foreach(j, i, item) {
		uint32_t bit;
		char path[sizeof(err->path)];
		if (json_is_string(item) &&
		    ctl_value_of(&bit, names, 1, json_string_value(item)) == 0) {
			out |= bit;
			continue;
		}
		snprintf(path, sizeof(path), "[%zu]", i);
		ctl_names_list(list, sizeof(list), names, 1);
		ctl_error_set(err, CTL_ERR_INPUT, path, "expected one of %s", list);
		ctl_error_prefix(err, key);
		return -1;
	}
	*bits = out;
	return 0;
}

static int
read_one(void *base, struct ctl_error *err, const struct ctl_field *f, json_t *j)
{
	char *at = (char *)base + f->offset;
	uint64_t u64;
	uint32_t u32;
	double d;

	switch (f->type) {
	case CTL_LIMIT:
		if (json_is_string(j) && strcmp(json_string_value(j), "unlimited") == 0) {
			u64 = RECLAIM_UNLIMITED;
			memcpy(at, &u64, sizeof(u64));
			return 0;
		}
		if (!json_is_integer(j) || json_integer_value(j) < 0) {
			ctl_error_set(err, CTL_ERR_INPUT, f->name,
				      "expected a non-negative integer or \"unlimited\"");
			return -1;
		}
		u64 = (uint64_t)json_integer_value(j);
		memcpy(at, &u64, sizeof(u64));
		return 0;
	case CTL_U64:
		if (!json_is_integer(j) || json_integer_value(j) < 0) {
			ctl_error_set(err, CTL_ERR_INPUT, f->name, "expected a non-negative integer");
			return -1;
		}
		u64 = (uint64_t)json_integer_value(j);
		memcpy(at, &u64, sizeof(u64));
		return 0;
	case CTL_U32:
		if (!json_is_integer(j) || json_integer_value(j) < 0 ||
		    json_integer_value(j) > (json_int_t)UINT32_MAX) {
			ctl_error_set(err, CTL_ERR_INPUT, f->name,
				      "expected an integer from 0 to 4294967295");
			return -1;
		}
		u32 = (uint32_t)json_integer_value(j);
		memcpy(at, &u32, sizeof(u32));
		return 0;
	case CTL_DOUBLE:
		if (!json_is_number(j)) {
			ctl_error_set(err, CTL_ERR_INPUT, f->name, "expected a number");
			return -1;
		}
		d = json_number_value(j);
		memcpy(at, &d, sizeof(d));
		return 0;
	case CTL_FLAGS:
		if (read_flags(&u32, err, f->names, j, f->name) < 0)
			return -1;
		memcpy(at, &u32, sizeof(u32));
		return 0;
	case CTL_ENUM:
		if (ctl_read_name(&u32, err, f->names, j, f->name) < 0)
			return -1;
		memcpy(at, &u32, sizeof(u32));
		return 0;
	default:
		ctl_error_set(err, CTL_ERR_INPUT, f->name, "internal: unknown field type");
		return -1;
	}
}

static int
skipped(const char *key, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(key, *skip) == 0)
			return 1;
	return 0;
}

int
ctl_read_fields(void *base, struct ctl_error *err, const struct ctl_field *fields,
		json_t *obj, const char *const *skip, uint64_t *present)
{
	const char *key;
	json_t *value;
	uint64_t seen = 0;

	if (!json_is_object(obj)) {
		ctl_error_set(err, CTL_ERR_INPUT, "", "expected an object");
		return -1;
	}
	json_object_foreach(obj, key, value) {
		size_t i;
		for (i = 0; fields[i].name; i++)
			if (key[0] == fields[i].name[0] && strcmp(key, fields[i].name) == 0)
				break;
		if (!fields[i].name) {
			if (skipped(key, skip))
				continue;
			ctl_error_set(err, CTL_ERR_INPUT, key, "unknown key");
			return -1;
		}
		if (read_one(base, err, &fields[i], value) < 0)
			return -1;
		seen |= (uint64_t)1 << i;
	}
	for (size_t i = 0; fields[i].name; i++) {
		if (fields[i].required && !(seen & ((uint64_t)1 << i))) {
			ctl_error_set(err, CTL_ERR_INPUT, fields[i].name, "missing required key");
			return -1;
		}
	}
	if (present)
		*present = seen;
	return 0;
}

static size_t
field_size(const struct ctl_field *f)
{
	switch (f->type) {
	case CTL_U64:
	case CTL_LIMIT:
		return sizeof(uint64_t);
	case CTL_DOUBLE:
		return sizeof(double);
	default:
		return sizeof(uint32_t);
	}
}

void
ctl_copy_field(void *to, const void *from, const struct ctl_field *f)
{
	memcpy((char *)to + f->offset, (const char *)from + f->offset, field_size(f));
}

void
ctl_put_field(struct ctl_buf *b, const struct ctl_field *f, const void *base)
{
	const char *at = (const char *)base + f->offset;
	uint64_t u64;
	uint32_t u32;
	double d;

	switch (f->type) {
	case CTL_U64:
		memcpy(&u64, at, sizeof(u64));
		ctl_put_u64(b, u64);
		break;
	case CTL_LIMIT:
		memcpy(&u64, at, sizeof(u64));
		ctl_put_limit(b, u64);
		break;
	case CTL_U32:
		memcpy(&u32, at, sizeof(u32));
		ctl_put_u64(b, u32);
		break;
	case CTL_DOUBLE:
		memcpy(&d, at, sizeof(d));
		ctl_put_double_short(b, d);
		break;
	case CTL_FLAGS:
		memcpy(&u32, at, sizeof(u32));
		ctl_put_flags(b, f->names, u32);
		break;
	case CTL_ENUM:
		memcpy(&u32, at, sizeof(u32));
		ctl_put_enum(b, f->names, u32);
		break;
	default:
		ctl_puts(b, "null");
		break;
	}
}

void
ctl_put_fields(struct ctl_buf *b, const struct ctl_field *fields, const void *base)
{
	ctl_putc(b, '{');
	for (const struct ctl_field *f = fields; f->name; f++) {
		if (f != fields)
			ctl_putc(b, ',');
		ctl_putc(b, '"');
		ctl_puts(b, f->name);
		ctl_puts(b, "\":");
		ctl_put_field(b, f, base);
	}
	ctl_putc(b, '}');
}
