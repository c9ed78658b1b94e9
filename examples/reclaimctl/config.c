/* SPDX-License-Identifier: MIT */
/* struct reclaim_config as a JSON object (FORMAT.md, "Configuration"). */
#include "ctl.h"

#include <stddef.h>
#include <string.h>

#define CFG(name, type, names) {#name, type, offsetof(struct reclaim_config, name), names, 0}

const struct ctl_field ctl_config_fields[] = {
	CFG(flags, CTL_FLAGS, reclaim_config_flag_name),
	CFG(threshold_base, CTL_ENUM, reclaim_threshold_base_name),
	CFG(threshold_high, CTL_DOUBLE, NULL),
	CFG(threshold_soft, CTL_DOUBLE, NULL),
	CFG(threshold_hard, CTL_DOUBLE, NULL),
	CFG(threshold_low, CTL_DOUBLE, NULL),
	CFG(hysteresis, CTL_DOUBLE, NULL),
	CFG(idle_tax, CTL_DOUBLE, NULL),
	CFG(balloon_max_fraction, CTL_DOUBLE, NULL),
	CFG(guest_margin_bytes, CTL_U64, NULL),
	CFG(page_size, CTL_U64, NULL),
	CFG(deflate_budget_bytes, CTL_U64, NULL),
	CFG(balloon_min_rate, CTL_U64, NULL),
	CFG(balloon_window_ns, CTL_U64, NULL),
	CFG(balloon_backoff_ns, CTL_U64, NULL),
	CFG(balloon_horizon_ns, CTL_U64, NULL),
	CFG(balloon_default_rate, CTL_U64, NULL),
	CFG(stats_max_age_ns, CTL_U64, NULL),
	CFG(sample_period_ns, CTL_U64, NULL),
	CFG(sample_pages, CTL_U32, NULL),
	CFG(estimator_fast_gain, CTL_DOUBLE, NULL),
	CFG(estimator_slow_gain, CTL_DOUBLE, NULL),
	CFG(active_floor, CTL_DOUBLE, NULL),
	CFG(compress_max_fraction, CTL_DOUBLE, NULL),
	CFG(absent_grace_ns, CTL_U64, NULL),
	CFG(max_block_ns, CTL_U64, NULL),
	CFG(distress_horizon_ns, CTL_U64, NULL),
	CFG(swap_retry_ns, CTL_U64, NULL),
	CFG(demand_memory_ns, CTL_U64, NULL),
	CFG(guest_margin_fraction, CTL_DOUBLE, NULL),
	{NULL, 0, 0, NULL, 0},
};

int
ctl_config_read(struct ctl_config_change *change, struct ctl_error *err, json_t *obj)
{
	static const char *const skip[] = {"profile", NULL};
	struct ctl_config_change tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.profile = -1;
	if (!json_is_object(obj)) {
		ctl_error_set(err, CTL_ERR_INPUT, "", "expected an object");
		return -1;
	}
	json_t *name = json_object_get(obj, "profile");
	if (name) {
		uint32_t value;
		if (ctl_read_name(&value, err, reclaim_profile_name, name, "profile") < 0)
			return -1;
		tmp.profile = (int)value;
	}
	if (ctl_read_fields(&tmp.values, err, ctl_config_fields, obj, skip, &tmp.present) < 0)
		return -1;
	*change = tmp;
	return 0;
}

void
ctl_config_apply(struct reclaim_config *cfg, const struct ctl_config_change *change)
{
	for (size_t i = 0; ctl_config_fields[i].name; i++)
		if (change->present & ((uint64_t)1 << i))
			ctl_copy_field(cfg, &change->values, &ctl_config_fields[i]);
}

int
ctl_config_parse(struct reclaim_config *cfg, struct ctl_error *err, const char *text,
		 size_t len, int profile)
{
	struct ctl_config_change change;
	struct reclaim_config tmp;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *field = NULL;
	int rc = -1;

	if (!root) {
		ctl_error_set(err, CTL_ERR_JSON, "", "line %d, column %d: %s", jerr.line,
			      jerr.column, jerr.text);
		err->column = jerr.column;
		return -1;
	}
	if (ctl_config_read(&change, err, root) < 0)
		goto out;
	if (change.profile >= 0)
		profile = change.profile;
	int status = reclaim_config_init_profile(&tmp, sizeof(tmp), (uint32_t)profile);
	if (status != RECLAIM_OK) {
		ctl_error_set(err, CTL_ERR_POLICY, "profile", "%s", reclaim_strerror(status));
		err->status = status;
		goto out;
	}
	ctl_config_apply(&tmp, &change);
	status = reclaim_config_check(&tmp, &field);
	if (status != RECLAIM_OK) {
		ctl_error_set(err, CTL_ERR_POLICY, field, "%s", reclaim_strerror(status));
		err->status = status;
		goto out;
	}
	*cfg = tmp;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void
ctl_config_print(struct ctl_buf *b, const struct reclaim_config *cfg)
{
	ctl_put_fields(b, ctl_config_fields, cfg);
	ctl_putc(b, '\n');
}
