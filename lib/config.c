/* SPDX-License-Identifier: MIT */
/* Configuration: profiles, defaults, validation and thresholds in bytes. */
#include "reclaim-private.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

void
config_defaults(struct reclaim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->struct_size = sizeof(*c);
	c->threshold_base = RECLAIM_BASE_USABLE;
	c->threshold_high = 0.06;
	c->threshold_soft = 0.04;
	c->threshold_hard = 0.02;
	c->threshold_low = 0.01;
	c->hysteresis = 0.005;
	c->idle_tax = 0.75;
	c->balloon_max_fraction = 0.65;
	c->guest_margin_bytes = 64 * MiB;
	c->page_size = 4096;
	c->deflate_budget_bytes = 256 * MiB;
	c->balloon_min_rate = 1 * MiB;
	c->balloon_window_ns = 10 * NS_PER_S;
	c->balloon_backoff_ns = 60 * NS_PER_S;
	c->balloon_horizon_ns = 5 * NS_PER_S;
	c->balloon_default_rate = 16 * MiB;
	c->stats_max_age_ns = 10 * NS_PER_S;
	c->sample_period_ns = 30 * NS_PER_S;
	c->sample_pages = 100;
	c->estimator_fast_gain = 0.7;
	c->estimator_slow_gain = 0.1;
	c->active_floor = 0.01;
	c->compress_max_fraction = 0.10;
	c->absent_grace_ns = 60 * NS_PER_S;
	c->max_block_ns = 10 * NS_PER_S;
	c->distress_horizon_ns = 30 * NS_PER_S;
	c->swap_retry_ns = 30 * NS_PER_S;
	c->demand_memory_ns = 7200 * NS_PER_S;
	c->guest_margin_fraction = 1.0 / 64.0;
}

int
reclaim_config_init_profile(struct reclaim_config *cfg, size_t size, uint32_t profile)
{
	struct reclaim_config c;

	if (!cfg)
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_CONFIG, size))
		return RECLAIM_E_VERSION;
	config_defaults(&c);
	c.struct_size = (uint32_t)size;
	switch (profile) {
	case RECLAIM_PROFILE_ESX:
		break;
	case RECLAIM_PROFILE_ESXI5:
		c.threshold_base = RECLAIM_BASE_MINFREE;
		c.threshold_high = 1.0;
		c.threshold_soft = 0.64;
		c.threshold_hard = 0.32;
		c.threshold_low = 0.16;
		c.hysteresis = 0.08;
		break;
	case RECLAIM_PROFILE_PAPER:
		c.flags = RECLAIM_CONFIG_NO_EARLY_BALLOON | RECLAIM_CONFIG_SOFT_SWAP |
			  RECLAIM_CONFIG_HARD_SWAP_ONLY | RECLAIM_CONFIG_NO_GUEST_CAP;
		break;
	default:
		return RECLAIM_E_INVAL;
	}
	memcpy(cfg, &c, size);
	return RECLAIM_OK;
}

int
reclaim_config_init(struct reclaim_config *cfg, size_t size)
{
	return reclaim_config_init_profile(cfg, size, RECLAIM_PROFILE_ESX);
}

/* NaN fails every comparison, so each range test is written to reject it. */
static bool
in_closed(double x, double lo, double hi)
{
	return x >= lo && x <= hi;
}

static bool
in_open_closed(double x, double lo, double hi)
{
	return x > lo && x <= hi;
}

static bool
in_closed_open(double x, double lo, double hi)
{
	return x >= lo && x < hi;
}

#define KNOWN_FLAGS                                                           \
	(RECLAIM_CONFIG_NO_EARLY_BALLOON | RECLAIM_CONFIG_SOFT_SWAP |         \
	 RECLAIM_CONFIG_HARD_SWAP_ONLY | RECLAIM_CONFIG_NO_GUEST_CAP)

#define FAIL(code, name)                                                      \
	do {                                                                  \
		*field = (name);                                              \
		return (code);                                                \
	} while (0)

int
config_validate(const struct reclaim_config *c, const char **field)
{
	bool high_ok;

	*field = NULL;
	if (c->flags & ~(uint32_t)KNOWN_FLAGS)
		FAIL(RECLAIM_E_CONFIG, "flags");
	if (c->threshold_base > RECLAIM_BASE_MINFREE)
		FAIL(RECLAIM_E_CONFIG, "threshold_base");
	if (c->reserved0 != 0)
		FAIL(RECLAIM_E_CONFIG, "reserved0");
	if (c->reserved1 != 0)
		FAIL(RECLAIM_E_CONFIG, "reserved1");

	/* The high threshold may be the whole base only when the base is minFree. */
	high_ok = c->threshold_base == RECLAIM_BASE_MINFREE
			  ? in_open_closed(c->threshold_high, 0.0, 1.0)
			  : c->threshold_high > 0.0 && c->threshold_high < 1.0;
	if (!high_ok)
		FAIL(RECLAIM_E_THRESHOLDS, "threshold_high");
	if (!(c->threshold_soft > 0.0 && c->threshold_soft < c->threshold_high))
		FAIL(RECLAIM_E_THRESHOLDS, "threshold_soft");
	if (!(c->threshold_hard > 0.0 && c->threshold_hard < c->threshold_soft))
		FAIL(RECLAIM_E_THRESHOLDS, "threshold_hard");
	if (!(c->threshold_low > 0.0 && c->threshold_low < c->threshold_hard))
		FAIL(RECLAIM_E_THRESHOLDS, "threshold_low");
	if (!in_closed_open(c->hysteresis, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "hysteresis");

	if (!in_closed_open(c->idle_tax, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "idle_tax");
	if (!in_closed(c->balloon_max_fraction, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "balloon_max_fraction");
	if (c->page_size < 512 || c->page_size > GiB || (c->page_size & (c->page_size - 1)))
		FAIL(RECLAIM_E_CONFIG, "page_size");
	if (c->balloon_window_ns == 0)
		FAIL(RECLAIM_E_CONFIG, "balloon_window_ns");
	if (c->balloon_default_rate == 0)
		FAIL(RECLAIM_E_CONFIG, "balloon_default_rate");
	if (c->sample_period_ns == 0)
		FAIL(RECLAIM_E_CONFIG, "sample_period_ns");
	if (c->sample_pages == 0)
		FAIL(RECLAIM_E_CONFIG, "sample_pages");
	if (!in_open_closed(c->estimator_fast_gain, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "estimator_fast_gain");
	if (!in_open_closed(c->estimator_slow_gain, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "estimator_slow_gain");
	if (!in_closed_open(c->active_floor, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "active_floor");
	if (!in_closed(c->compress_max_fraction, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "compress_max_fraction");
	if (!in_closed(c->guest_margin_fraction, 0.0, 1.0))
		FAIL(RECLAIM_E_CONFIG, "guest_margin_fraction");
	return RECLAIM_OK;
}

int
config_read(struct reclaim_config *full, const struct reclaim_config *cfg, const char **field)
{
	if (!abi_known(ABI_CONFIG, cfg->struct_size)) {
		*field = "struct_size";
		return RECLAIM_E_VERSION;
	}
	config_defaults(full);
	abi_read(full, cfg, cfg->struct_size);
	full->struct_size = sizeof(*full);
	return config_validate(full, field);
}

int
reclaim_config_check(const struct reclaim_config *cfg, const char **field)
{
	struct reclaim_config full;
	const char *name = NULL;
	int rc;

	if (!cfg) {
		if (field)
			*field = NULL;
		return RECLAIM_E_NULL;
	}
	rc = config_read(&full, cfg, &name);
	if (field)
		*field = name;
	return rc;
}

/* ESXi 5 sliding scale: 6 % of the first 4 GiB, 4 % of the next 8 GiB,
 * 2 % of the next 16 GiB, 1 % of the rest. */
uint64_t
minfree_bytes(uint64_t usable)
{
	static const struct {
		uint64_t band;
		unsigned pct;
	} scale[] = {{4 * GiB, 6}, {8 * GiB, 4}, {16 * GiB, 2}, {UINT64_MAX, 1}};
	uint64_t left = usable, sum = 0;
	size_t i;

	for (i = 0; i < sizeof(scale) / sizeof(scale[0]) && left; i++) {
		uint64_t part = min_u64(left, scale[i].band);

		/* part / 100 * pct keeps 64 bits for any host size. */
		sum += part / 100 * scale[i].pct + part % 100 * scale[i].pct / 100;
		left -= part;
	}
	return sum;
}

void
config_threshold_bytes(const struct reclaim_config *cfg, uint64_t usable, uint64_t thr[4],
		       uint64_t *margin)
{
	double base = (double)(cfg->threshold_base == RECLAIM_BASE_MINFREE
				       ? minfree_bytes(usable)
				       : usable);

	thr[RECLAIM_STATE_HIGH] = double_to_u64(base * cfg->threshold_high);
	thr[RECLAIM_STATE_SOFT] = double_to_u64(base * cfg->threshold_soft);
	thr[RECLAIM_STATE_HARD] = double_to_u64(base * cfg->threshold_hard);
	thr[RECLAIM_STATE_LOW] = double_to_u64(base * cfg->threshold_low);
	*margin = double_to_u64(base * cfg->hysteresis);
}

int
reclaim_config_thresholds(const struct reclaim_config *cfg, uint64_t total_bytes,
			  uint64_t reserved_bytes, uint64_t out[4])
{
	struct reclaim_config full;
	const char *field;
	uint64_t thr[4], margin;
	int rc;

	if (!out || !cfg)
		return RECLAIM_E_NULL;
	rc = config_read(&full, cfg, &field);
	if (rc)
		return rc;
	if (reserved_bytes > total_bytes)
		return RECLAIM_E_HOST_RESERVED;
	config_threshold_bytes(&full, total_bytes - reserved_bytes, thr, &margin);
	memcpy(out, thr, sizeof(thr));
	return RECLAIM_OK;
}
