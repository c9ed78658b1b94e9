/* SPDX-License-Identifier: MIT */
/*
 * Policy files: one "key = value" per line, '#' starts a comment. Keys are
 * the members of struct reclaim_config (sizes take K/M/G suffixes, times
 * ns/us/ms/s/m) plus:
 *   profile = esx | esxi5 | paper       (applied first, wherever it appears)
 *   threshold_base = usable | minfree
 *   no_early_balloon, soft_swap, hard_swap_only, no_guest_cap = yes | no
 *                                       (the RECLAIM_CONFIG_* flags)
 * The result is checked with reclaim_config_check().
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum kind { K_DOUBLE, K_SIZE, K_TIME, K_U32 };

struct key {
	const char *name;
	enum kind kind;
	size_t offset;
};

#define KEY(member, kind) {#member, kind, offsetof(struct reclaim_config, member)}
static const struct key keys[] = {
	KEY(threshold_high, K_DOUBLE),
	KEY(threshold_soft, K_DOUBLE),
	KEY(threshold_hard, K_DOUBLE),
	KEY(threshold_low, K_DOUBLE),
	KEY(hysteresis, K_DOUBLE),
	KEY(idle_tax, K_DOUBLE),
	KEY(balloon_max_fraction, K_DOUBLE),
	KEY(guest_margin_bytes, K_SIZE),
	KEY(page_size, K_SIZE),
	KEY(deflate_budget_bytes, K_SIZE),
	KEY(balloon_min_rate, K_SIZE),
	KEY(balloon_window_ns, K_TIME),
	KEY(balloon_backoff_ns, K_TIME),
	KEY(balloon_horizon_ns, K_TIME),
	KEY(balloon_default_rate, K_SIZE),
	KEY(stats_max_age_ns, K_TIME),
	KEY(sample_period_ns, K_TIME),
	KEY(sample_pages, K_U32),
	KEY(estimator_fast_gain, K_DOUBLE),
	KEY(estimator_slow_gain, K_DOUBLE),
	KEY(active_floor, K_DOUBLE),
	KEY(compress_max_fraction, K_DOUBLE),
	KEY(absent_grace_ns, K_TIME),
	KEY(max_block_ns, K_TIME),
	KEY(distress_horizon_ns, K_TIME),
	KEY(swap_retry_ns, K_TIME),
	KEY(demand_memory_ns, K_TIME),
	KEY(guest_margin_fraction, K_DOUBLE),
};
#undef KEY

static const struct {
	const char *name;
	uint32_t flag;
} flag_keys[] = {
	{"no_early_balloon", RECLAIM_CONFIG_NO_EARLY_BALLOON},
	{"soft_swap", RECLAIM_CONFIG_SOFT_SWAP},
	{"hard_swap_only", RECLAIM_CONFIG_HARD_SWAP_ONLY},
	{"no_guest_cap", RECLAIM_CONFIG_NO_GUEST_CAP},
};

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
parse_bool(int *out, const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Applies one key; NULL on success, else what is wrong. */
static const char *
apply_key(struct reclaim_config *cfg, const char *key, const char *value)
{
	if (!strcmp(key, "profile"))
		return NULL; /* handled in the first pass */
	if (!strcmp(key, "threshold_base")) {
		if (!strcmp(value, "usable"))
			cfg->threshold_base = RECLAIM_BASE_USABLE;
		else if (!strcmp(value, "minfree"))
			cfg->threshold_base = RECLAIM_BASE_MINFREE;
		else
			return "threshold_base must be usable or minfree";
		return NULL;
	}
	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (strcmp(key, flag_keys[i].name) != 0)
			continue;
		int on;
		if (parse_bool(&on, value) != 0)
			return "expected yes or no";
		if (on)
			cfg->flags |= flag_keys[i].flag;
		else
			cfg->flags &= ~flag_keys[i].flag;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].name) != 0)
			continue;
		char *field = (char *)cfg + keys[i].offset;
		uint64_t u;
		char *end;
		switch (keys[i].kind) {
		case K_DOUBLE: {
			errno = 0;
			double d = strtod(value, &end);
			if (errno != 0 || end == value || *end != '\0')
				return "expected a number";
			memcpy(field, &d, sizeof(d));
			return NULL;
		}
		case K_SIZE:
			if (parse_size(&u, value) != 0)
				return "expected a size (e.g. 64M)";
			memcpy(field, &u, sizeof(u));
			return NULL;
		case K_TIME:
			if (parse_duration(&u, value) != 0)
				return "expected a duration (e.g. 500ms, 10s)";
			memcpy(field, &u, sizeof(u));
			return NULL;
		case K_U32: {
			errno = 0;
			unsigned long v = strtoul(value, &end, 10);
			if (errno != 0 || end == value || *end != '\0' || v > UINT32_MAX)
				return "expected a 32-bit count";
			uint32_t v32 = (uint32_t)v;
			memcpy(field, &v32, sizeof(v32));
			return NULL;
		}
		}
	}
	return "unknown key";
}

/* Splits "key = value # comment" in place; 0 for a blank line, 1 for a pair,
 * -1 for a malformed line. */
static int
split_line(char **key, char **value, char *line)
{
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	char *s = trim(line);
	if (*s == '\0')
		return 0;
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return -1;
	*eq = '\0';
	*key = trim(s);
	*value = trim(eq + 1);
	return **key != '\0' && **value != '\0' ? 1 : -1;
}

int
policy_config_load(struct reclaim_config *cfg, const char *path, FILE *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(err, "%s: %s\n", path, strerror(errno));
		return -1;
	}

	int profile = RECLAIM_PROFILE_ESX;
	char line[512];
	unsigned lineno = 0;
	int failed = 0;
	while (!failed && fgets(line, sizeof(line), f) != NULL) {
		char *key, *value;
		lineno++;
		/* A longer line read in pieces would make its tail a line of
		 * its own: a comment's tail, or a value's, taken as a setting. */
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(err, "%s:%u: line longer than %zu bytes\n", path, lineno,
				sizeof(line) - 2);
			failed = 1;
			break;
		}
		int r = split_line(&key, &value, line);
		if (r < 0) {
			fprintf(err, "%s:%u: expected key = value\n", path, lineno);
			failed = 1;
		} else if (r > 0 && !strcmp(key, "profile")) {
			if (!strcmp(value, "esx"))
				profile = RECLAIM_PROFILE_ESX;
			else if (!strcmp(value, "esxi5"))
				profile = RECLAIM_PROFILE_ESXI5;
			else if (!strcmp(value, "paper"))
				profile = RECLAIM_PROFILE_PAPER;
			else {
				fprintf(err, "%s:%u: profile must be esx, esxi5 or paper\n",
					path, lineno);
				failed = 1;
			}
		}
	}
	struct reclaim_config c;
	int status = reclaim_config_init_profile(&c, sizeof(c), profile);
	if (!failed && status != RECLAIM_OK) {
		fprintf(err, "%s: %s\n", path, reclaim_strerror(status));
		failed = 1;
	}

	rewind(f);
	lineno = 0;
	while (!failed && fgets(line, sizeof(line), f) != NULL) {
		char *key, *value;
		lineno++;
		if (split_line(&key, &value, line) <= 0)
			continue;
		const char *why = apply_key(&c, key, value);
		if (why != NULL) {
			fprintf(err, "%s:%u: %s: %s\n", path, lineno, key, why);
			failed = 1;
		}
	}
	fclose(f);
	if (failed)
		return -1;

	const char *field = NULL;
	status = reclaim_config_check(&c, &field);
	if (status != RECLAIM_OK) {
		fprintf(err, "%s: %s (%s)\n", path, reclaim_strerror(status),
			field ? field : "?");
		return -1;
	}
	*cfg = c;
	return 0;
}

void
policy_config_print(FILE *out, const struct reclaim_config *cfg)
{
	fprintf(out, "threshold_base = %s\n",
		cfg->threshold_base == RECLAIM_BASE_MINFREE ? "minfree" : "usable");
	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
		fprintf(out, "%s = %s\n", flag_keys[i].name,
			(cfg->flags & flag_keys[i].flag) ? "yes" : "no");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *field = (const char *)cfg + keys[i].offset;
		double d;
		uint64_t u;
		uint32_t u32;
		switch (keys[i].kind) {
		case K_DOUBLE: {
			memcpy(&d, field, sizeof(d));
			/* The shortest text that reads back as the same double. */
			char text[40];
			for (int digits = 6; digits <= 17; digits++) {
				snprintf(text, sizeof(text), "%.*g", digits, d);
				if (strtod(text, NULL) == d)
					break;
			}
			fprintf(out, "%s = %s\n", keys[i].name, text);
			break;
		}
		case K_SIZE:
		case K_TIME:
			memcpy(&u, field, sizeof(u));
			fprintf(out, "%s = %llu%s\n", keys[i].name, (unsigned long long)u,
				keys[i].kind == K_TIME ? "ns" : "");
			break;
		case K_U32:
			memcpy(&u32, field, sizeof(u32));
			fprintf(out, "%s = %u\n", keys[i].name, (unsigned)u32);
			break;
		}
	}
}
