/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a byte-decoded host, config and VM array driven through
 * up to 8 ticks of decide (dry runs and a twin policy included), apply with
 * failing adapter ops, admission plans and config changes, every step checked
 * by the invariant oracle (tests/oracle.c). A violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oracle_stats st = {0};
	char why[512];

	if (oracle_run_bytes(why, sizeof(why), &st, data, size)) {
		fprintf(stderr, "oracle violation: %s\n", why);
		abort();
	}
	return 0;
}
