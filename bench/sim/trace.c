/* SPDX-License-Identifier: MIT */
/* Loads the derived Bitbrains trace written by bench/data/derive.py. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static char *
next_line(char *buf, size_t len, FILE *f)
{
	while (fgets(buf, (int)len, f)) {
		if (buf[0] != '#')
			return buf;
	}
	return NULL;
}

static int
fail(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s", path, what);
	return -1;
}

int
sim_trace_load(struct sim_trace *t, const char *dir, char *err, size_t errlen)
{
	char path[1024], line[4096];
	FILE *f;
	int r = -1;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/used.tsv", dir);
	f = fopen(path, "r");
	if (!f)
		return fail(err, errlen, path, strerror(errno));
	if (!next_line(line, sizeof(line), f)) {
		fail(err, errlen, path, "no header");
		goto out;
	}
	/* header: t_s id id ... */
	t->ids = calloc(SIM_VMS_MAX, sizeof(*t->ids));
	if (!t->ids)
		goto oom;
	strtok(line, "\t\n");
	for (char *tok = strtok(NULL, "\t\n"); tok; tok = strtok(NULL, "\t\n")) {
		if (t->n_vms == SIM_VMS_MAX) {
			fail(err, errlen, path, "too many columns");
			goto out;
		}
		t->ids[t->n_vms++] = strtoull(tok, NULL, 10);
	}
	size_t cap = 9000;
	t->used = malloc(cap * t->n_vms * sizeof(*t->used));
	if (!t->used)
		goto oom;
	while (next_line(line, sizeof(line), f)) {
		if (t->n_rows == cap) {
			cap *= 2;
			uint64_t *bigger = realloc(t->used, cap * t->n_vms * sizeof(*t->used));
			if (!bigger)
				goto oom;
			t->used = bigger;
		}
		char *p = line, *end;
		uint64_t ts = strtoull(p, &end, 10);
		if (end == p || ts != t->n_rows * 300) {
			fail(err, errlen, path, "rows must be on a 300 s grid from 0");
			goto out;
		}
		for (size_t c = 0; c < t->n_vms; c++) {
			p = end;
			uint64_t kib = strtoull(p, &end, 10);
			if (end == p) {
				fail(err, errlen, path, "short row");
				goto out;
			}
			t->used[t->n_rows * t->n_vms + c] = kib * 1024;
		}
		t->n_rows++;
	}
	fclose(f);
	f = NULL;
	if (t->n_rows == 0) {
		fail(err, errlen, path, "no rows");
		goto out;
	}
	t->step_ns = 300 * SIM_NS;

	snprintf(path, sizeof(path), "%s/provisioned.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		fail(err, errlen, path, strerror(errno));
		goto out;
	}
	t->provisioned = calloc(t->n_rows * t->n_vms, sizeof(*t->provisioned));
	t->max_provisioned = calloc(t->n_vms, sizeof(*t->max_provisioned));
	if (!t->provisioned || !t->max_provisioned)
		goto oom;
	next_line(line, sizeof(line), f); /* header */
	uint64_t *cur = t->max_provisioned; /* reused below as the running value */
	size_t row = 0;
	uint64_t *val = calloc(t->n_vms, sizeof(*val));
	if (!val)
		goto oom;
	while (next_line(line, sizeof(line), f)) {
		unsigned long long ts, id, kib;
		if (sscanf(line, "%llu %llu %llu", &ts, &id, &kib) != 3 || ts % 300) {
			free(val);
			fail(err, errlen, path, "bad row");
			goto out;
		}
		size_t c = 0;
		while (c < t->n_vms && t->ids[c] != id)
			c++;
		if (c == t->n_vms) {
			free(val);
			fail(err, errlen, path, "unknown VM id");
			goto out;
		}
		for (; row < ts / 300 && row < t->n_rows; row++)
			memcpy(&t->provisioned[row * t->n_vms], val, t->n_vms * sizeof(*val));
		val[c] = kib * 1024;
	}
	for (; row < t->n_rows; row++)
		memcpy(&t->provisioned[row * t->n_vms], val, t->n_vms * sizeof(*val));
	free(val);
	for (size_t c = 0; c < t->n_vms; c++) {
		cur[c] = 0;
		for (size_t i = 0; i < t->n_rows; i++) {
			uint64_t p = t->provisioned[i * t->n_vms + c];
			if (p == 0) {
				fail(err, errlen, path, "a VM has no provisioned size at t = 0");
				goto out;
			}
			if (p > cur[c])
				cur[c] = p;
		}
	}
	r = 0;
	goto out;
oom:
	fail(err, errlen, path, "out of memory");
out:
	if (f)
		fclose(f);
	if (r < 0)
		sim_trace_free(t);
	return r;
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
