/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for reclaimctl's --config parser. A config it accepts
 * must print as JSON that parses back to the same config (the round trip
 * `reclaimctl config` promises); a rejected one must say where and why in
 * valid UTF-8.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reclaim_config cfg, again;
	struct ctl_error err;
	struct ctl_buf first = {0}, second = {0};
	/* The profile a command line would give. */
	int profile = size ? data[0] % 3 : 0;

	memset(&err, 0, sizeof(err));
	if (ctl_config_parse(&cfg, &err, (const char *)data, size, profile) == 0) {
		ctl_config_print(&first, &cfg);
		CHECK(!first.oom);
		CHECK(ctl_config_parse(&again, &err, first.data, first.len, RECLAIM_PROFILE_ESX) ==
		      0);
		ctl_config_print(&second, &again);
		CHECK(!second.oom && first.len == second.len &&
		      memcmp(first.data, second.data, first.len) == 0);
	} else {
		CHECK(err.kind == CTL_ERR_JSON || err.kind == CTL_ERR_INPUT ||
		      err.kind == CTL_ERR_POLICY);
		CHECK(err.message[0] != '\0');
		CHECK(memchr(err.path, '\0', sizeof(err.path)) != NULL);
		ctl_put_text(&first, err.path, strlen(err.path));
		ctl_put_text(&first, err.message, strlen(err.message));
		json_t *text = json_stringn(first.data, first.len);
		CHECK(text);
		json_decref(text);
	}
	ctl_buf_free(&first);
	ctl_buf_free(&second);
	return 0;
}
