/* SPDX-License-Identifier: MIT */
/* One input line: {"host": {...}, "vms": [...]}, or {"config": {...}}, as
 * reclaim structs. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST(name, type, names, req) \
	{#name, type, offsetof(struct reclaim_host, name), names, req}
#define VM(name, type, names, req) \
	{#name, type, offsetof(struct reclaim_vm_stats, name), names, req}

/* Members of struct reclaim_host but struct_size, in struct order. */
static const struct ctl_field host_fields[] = {
	HOST(flags, CTL_FLAGS, reclaim_host_flag_name, 0),
	HOST(total_bytes, CTL_U64, NULL, 1),
	HOST(reserved_bytes, CTL_U64, NULL, 0),
	HOST(free_bytes, CTL_U64, NULL, 1),
	HOST(now_ns, CTL_U64, NULL, 1),
	HOST(swap_free_bytes, CTL_U64, NULL, 0),
	{NULL, 0, 0, NULL, 0},
};

/* Members of struct reclaim_vm_stats but struct_size. Required: those
 * without a default an orchestrator could mean by leaving them out. */
static const struct ctl_field vm_fields[] = {
	VM(flags, CTL_FLAGS, reclaim_vm_flag_name, 0),
	VM(id, CTL_U64, NULL, 1),
	VM(configured_bytes, CTL_U64, NULL, 1),
	VM(consumed_bytes, CTL_U64, NULL, 1),
	VM(reservation_bytes, CTL_U64, NULL, 0),
	VM(limit_bytes, CTL_LIMIT, NULL, 0),
	VM(shares, CTL_U64, NULL, 1),
	VM(active_bytes, CTL_U64, NULL, 1),
	VM(balloon_bytes, CTL_U64, NULL, 0),
	VM(balloon_cap_bytes, CTL_LIMIT, NULL, 0),
	VM(guest_free_bytes, CTL_U64, NULL, 0),
	VM(guest_swap_free_bytes, CTL_U64, NULL, 0),
	VM(swapped_bytes, CTL_U64, NULL, 0),
	VM(stats_time_ns, CTL_U64, NULL, 0),
	VM(compress_used_bytes, CTL_U64, NULL, 0),
	VM(compress_max_bytes, CTL_U64, NULL, 0),
	VM(idle_tax, CTL_DOUBLE, NULL, 0),
	{NULL, 0, 0, NULL, 0},
};

/* Room for VM @p i: the array doubles, but never past @p n, the array's
 * length, so it stays within twice the VMs read so far. */
static int
vm_room(struct ctl_request *req, struct ctl_error *err, size_t i, size_t n)
{
	if (i < req->vms_cap)
		return 0;
	size_t cap = req->vms_cap < 16 ? 16 : req->vms_cap * 2;
	if (cap > n)
		cap = n;
	struct reclaim_vm_stats *vms = cap <= SIZE_MAX / sizeof(*vms)
					       ? realloc(req->vms, cap * sizeof(*vms))
					       : NULL;
	if (!vms) {
		ctl_error_set(err, CTL_ERR_POLICY, "vms", "out of memory for %zu VMs", cap);
		err->status = RECLAIM_E_NOMEM;
		return -1;
	}
	req->vms = vms;
	req->vms_cap = cap;
	return 0;
}

static int
read_vms(struct ctl_request *req, struct ctl_error *err, json_t *vms)
{
	static const struct reclaim_vm_stats init = RECLAIM_VM_STATS_INIT;
	size_t n = json_array_size(vms);

	for (size_t i = 0; i < n; i++) {
		json_t *vm = json_array_get(vms, i);
		char at[32];
		snprintf(at, sizeof(at), "vms[%zu]", i);
		if (!json_is_object(vm)) {
			ctl_error_set(err, CTL_ERR_INPUT, at, "expected an object");
			return -1;
		}
		if (vm_room(req, err, i, n) < 0)
			return -1;
		req->vms[i] = init;
		if (ctl_read_fields(&req->vms[i], err, vm_fields, vm, NULL, NULL) < 0) {
			ctl_error_prefix(err, at);
			return -1;
		}
	}
	req->n_vms = n;
	return 0;
}

void
ctl_request_free(struct ctl_request *req)
{
	if (!req)
		return;
	free(req->vms);
	req->vms = NULL;
	req->vms_cap = 0;
	req->n_vms = 0;
}

/* A config line carries nothing else. */
static int
mixed(struct ctl_error *err, const char *key)
{
	ctl_error_set(err, CTL_ERR_INPUT, key,
		      "a line carries either \"config\" or a host snapshot, not both");
	return -1;
}

int
ctl_request_read(struct ctl_request *req, struct ctl_error *err, json_t *line)
{
	static const struct reclaim_host host_init = RECLAIM_HOST_INIT;
	const char *dry_run = reclaim_decide_flag_name(RECLAIM_DECIDE_DRY_RUN);
	json_t *host = NULL, *vms = NULL, *config = NULL, *value;
	const char *key;
	int snapshot_keys = 0;

	if (!json_is_object(line)) {
		ctl_error_set(err, CTL_ERR_INPUT, "", "expected an object");
		return -1;
	}
	req->is_config = 0;
	req->host = host_init;
	req->n_vms = 0;
	req->dry_run = 0;
	req->admit = 0;
	req->admit_bytes = 0;
	json_object_foreach(line, key, value) {
		if (strcmp(key, "config") == 0) {
			if (snapshot_keys)
				return mixed(err, key);
			config = value;
			continue;
		}
		if (config)
			return mixed(err, key);
		snapshot_keys++;
		if (strcmp(key, "host") == 0) {
			host = value;
		} else if (strcmp(key, "vms") == 0) {
			vms = value;
		} else if (dry_run && strcmp(key, dry_run) == 0) {
			if (!json_is_boolean(value)) {
				ctl_error_set(err, CTL_ERR_INPUT, key, "expected true or false");
				return -1;
			}
			req->dry_run = json_is_true(value);
		} else if (strcmp(key, "admit_bytes") == 0) {
			if (!json_is_integer(value) || json_integer_value(value) < 0) {
				ctl_error_set(err, CTL_ERR_INPUT, key,
					      "expected a non-negative integer");
				return -1;
			}
			req->admit = 1;
			req->admit_bytes = (uint64_t)json_integer_value(value);
		} else {
			ctl_error_set(err, CTL_ERR_INPUT, key, "unknown key");
			return -1;
		}
	}
	if (config) {
		if (ctl_config_read(&req->config, err, config) < 0) {
			ctl_error_prefix(err, "config");
			return -1;
		}
		req->is_config = 1;
		return 0;
	}
	if (!host || !vms) {
		ctl_error_set(err, CTL_ERR_INPUT, host ? "vms" : "host", "missing required key");
		return -1;
	}
	if (ctl_read_fields(&req->host, err, host_fields, host, NULL, NULL) < 0) {
		ctl_error_prefix(err, "host");
		return -1;
	}
	if (!json_is_array(vms)) {
		ctl_error_set(err, CTL_ERR_INPUT, "vms", "expected an array");
		return -1;
	}
	return read_vms(req, err, vms);
}
