/* SPDX-License-Identifier: MIT */
/*
 * Loads the derived Bitbrains trace written by bench/data/derive.py:
 * used.tsv (t_s, then one column of KiB per VM) and provisioned.tsv (t_s, vm,
 * kib: every VM at t = 0, then each change). Every field is read whole and
 * checked; an error names the file, the line and, where there is one, the VM.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define STEP_S 300
/* 1 PiB: more than any VM has, and far from overflowing bytes or sums. */
#define KIB_MAX (1ull << 40)
/* Tab-separated fields of one line, at most one per VM and the time. */
#define FIELDS_MAX (SIM_VMS_MAX + 1)

struct reader {
	FILE *f;
	const char *path;
	size_t line;
	char buf[16384];
	char *err;
	size_t errlen;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(struct reader *r, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->line)
		snprintf(r->err, r->errlen, "%s:%zu: %s", r->path, r->line, what);
	else
		snprintf(r->err, r->errlen, "%s: %s", r->path, what);
	return -1;
}

/*
 * The next line that is neither a comment nor blank, without its line end;
 * NULL at the end of the file (*rc 0) or on an error (*rc -1).
 */
static char *
next_line(struct reader *r, int *rc)
{
	*rc = 0;
	while (fgets(r->buf, (int)sizeof(r->buf), r->f)) {
		size_t n = strlen(r->buf);

		r->line++;
		if (n && r->buf[n - 1] == '\n')
			r->buf[--n] = '\0';
		else if (!feof(r->f)) {
			*rc = fail(r, "line longer than %zu bytes", sizeof(r->buf) - 2);
			return NULL;
		}
		if (n && r->buf[n - 1] == '\r')
			r->buf[--n] = '\0';
		if (r->buf[0] == '#' || strspn(r->buf, " \t") == n)
			continue;
		return r->buf;
	}
	if (ferror(r->f))
		*rc = fail(r, "%s", strerror(errno));
	return NULL;
}

/* Splits @p line at its tabs; returns how many fields (FIELDS_MAX + 1: too many). */
static size_t
split(char *line, char *field[FIELDS_MAX])
{
	size_t n = 0;

	for (char *p = line;; p++) {
		if (n == FIELDS_MAX)
			return n + 1;
		field[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			return n;
		*p = '\0';
	}
}

/* A field of decimal digits only, at most @p max. */
static bool
number(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static int
grow(struct sim_trace *t, size_t *cap)
{
	size_t more = *cap ? 2 * *cap : 9000;
	uint64_t *bigger = realloc(t->used, more * t->n_vms * sizeof(*t->used));

	if (!bigger)
		return -1;
	t->used = bigger;
	*cap = more;
	return 0;
}

static int
load_used(struct sim_trace *t, struct reader *r)
{
	char *field[FIELDS_MAX], *line;
	size_t n, cap = 0;
	int rc;

	line = next_line(r, &rc);
	if (!line)
		return rc ? rc : fail(r, "no header");
	n = split(line, field);
	if (strcmp(field[0], "t_s") != 0)
		return fail(r, "the header must start with t_s");
	if (n < 2 || n > FIELDS_MAX)
		return fail(r, "the header must name 1 to %d VMs", SIM_VMS_MAX);
	t->ids = calloc(n - 1, sizeof(*t->ids));
	if (!t->ids)
		return fail(r, "out of memory");
	for (size_t c = 1; c < n; c++) {
		uint64_t id;

		if (!number(field[c], UINT64_MAX, &id))
			return fail(r, "bad VM id \"%s\"", field[c]);
		for (size_t d = 0; d < t->n_vms; d++)
			if (t->ids[d] == id)
				return fail(r, "VM %llu named twice", (unsigned long long)id);
		t->ids[t->n_vms++] = id;
	}
	while ((line = next_line(r, &rc))) {
		uint64_t ts;

		if (t->n_rows == cap && grow(t, &cap) < 0)
			return fail(r, "out of memory");
		n = split(line, field);
		if (!number(field[0], UINT64_MAX, &ts) || ts != (uint64_t)t->n_rows * STEP_S)
			return fail(r, "t_s must be %llu: rows are on a %d s grid from 0",
				    (unsigned long long)t->n_rows * STEP_S, STEP_S);
		if (n != t->n_vms + 1)
			return fail(r, "%zu values for %zu VMs", n - 1, t->n_vms);
		for (size_t c = 0; c < t->n_vms; c++) {
			uint64_t kib;

			if (!number(field[c + 1], KIB_MAX, &kib))
				return fail(r, "VM %llu: \"%s\" is not a size in KiB up to %llu",
					    (unsigned long long)t->ids[c], field[c + 1],
					    (unsigned long long)KIB_MAX);
			t->used[t->n_rows * t->n_vms + c] = kib * 1024;
		}
		t->n_rows++;
	}
	if (rc)
		return rc;
	r->line = 0;
	if (t->n_rows == 0)
		return fail(r, "no rows");
	t->step_ns = STEP_S * SIM_NS;
	return 0;
}

static int
load_provisioned(struct sim_trace *t, struct reader *r)
{
	char *field[FIELDS_MAX], *line;
	uint64_t *val, prev = 0;
	size_t row = 0;
	int rc;

	t->provisioned = calloc(t->n_rows * t->n_vms, sizeof(*t->provisioned));
	t->max_provisioned = calloc(t->n_vms, sizeof(*t->max_provisioned));
	if (!t->provisioned || !t->max_provisioned)
		return fail(r, "out of memory");
	line = next_line(r, &rc);
	if (!line)
		return rc ? rc : fail(r, "no header");
	if (strcmp(line, "t_s\tvm\tkib") != 0)
		return fail(r, "the header must be t_s, vm, kib");
	val = t->max_provisioned; /* the running values; the maxima come after */
	while ((line = next_line(r, &rc))) {
		uint64_t ts, id, kib;
		size_t c = 0;

		if (split(line, field) != 3 || !number(field[0], UINT64_MAX, &ts) ||
		    !number(field[1], UINT64_MAX, &id))
			return fail(r, "a row is t_s, vm, kib");
		if (ts % STEP_S || ts < prev)
			return fail(r, "t_s %llu: rows go up in time on the %d s grid",
				    (unsigned long long)ts, STEP_S);
		while (c < t->n_vms && t->ids[c] != id)
			c++;
		if (c == t->n_vms)
			return fail(r, "VM %llu is not in used.tsv", (unsigned long long)id);
		if (!number(field[2], KIB_MAX, &kib) || kib == 0)
			return fail(r, "VM %llu at %llu s: \"%s\" is not a size in KiB from 1 to %llu",
				    (unsigned long long)id, (unsigned long long)ts, field[2],
				    (unsigned long long)KIB_MAX);
		if (ts > 0 && !val[c])
			return fail(r, "VM %llu has no provisioned size at t = 0",
				    (unsigned long long)id);
		for (; row < ts / STEP_S && row < t->n_rows; row++)
			memcpy(&t->provisioned[row * t->n_vms], val, t->n_vms * sizeof(*val));
		val[c] = kib * 1024;
		prev = ts;
	}
	if (rc)
		return rc;
	r->line = 0;
	for (size_t c = 0; c < t->n_vms; c++)
		if (!val[c])
			return fail(r, "VM %llu has no provisioned size at t = 0",
				    (unsigned long long)t->ids[c]);
	for (; row < t->n_rows; row++)
		memcpy(&t->provisioned[row * t->n_vms], val, t->n_vms * sizeof(*val));
	for (size_t c = 0; c < t->n_vms; c++) {
		val[c] = 0;
		for (size_t i = 0; i < t->n_rows; i++)
			if (t->provisioned[i * t->n_vms + c] > val[c])
				val[c] = t->provisioned[i * t->n_vms + c];
	}
	return 0;
}

static int
load_file(struct sim_trace *t, const char *dir, const char *name,
	  int (*load)(struct sim_trace *, struct reader *), struct reader *r)
{
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r->path = path;
	r->line = 0;
	r->f = fopen(path, "r");
	if (!r->f)
		return fail(r, "%s", strerror(errno));
	rc = load(t, r);
	fclose(r->f);
	return rc;
}

int
sim_trace_load(struct sim_trace *t, const char *dir, char *err, size_t errlen)
{
	struct reader *r = malloc(sizeof(*r));
	int rc;

	memset(t, 0, sizeof(*t));
	if (!r) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return -1;
	}
	r->err = err;
	r->errlen = errlen;
	rc = load_file(t, dir, "used.tsv", load_used, r);
	if (!rc)
		rc = load_file(t, dir, "provisioned.tsv", load_provisioned, r);
	free(r);
	if (rc)
		sim_trace_free(t);
	return rc;
}

void
sim_trace_free(struct sim_trace *t)
{
	free(t->ids);
	free(t->used);
	free(t->provisioned);
	free(t->max_provisioned);
	memset(t, 0, sizeof(*t));
}
