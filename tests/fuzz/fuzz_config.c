/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a byte-decoded config (a profile, then fields overwritten
 * with valid, boundary and raw values: NaN, infinities, unknown flags, bad
 * struct sizes) checked by the oracle against the documented ranges through
 * config_check, policy_new/init, set_config, config_thresholds (hosts up to
 * 2^64 bytes) and estimator_init. A violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];

	if (oracle_run_config_bytes(why, sizeof(why), data, size)) {
		fprintf(stderr, "oracle violation: %s\n", why);
		abort();
	}
	return 0;
}
