/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a byte-decoded host, config and VM array driven through
 * up to 8 ticks of decide (dry runs and a twin policy included), apply with
 * failing adapter ops, admission plans and config changes, every step checked
 * by the invariant oracle (tests/oracle.c). A violation aborts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a run executed, for a campaign's report (printed at exit). */
static struct oracle_stats totals;

static void
print_totals(void)
{
	fprintf(stderr,
		"oracle totals: %llu scenarios, %llu decides (%llu errors), %llu applies, "
		"%llu admission plans\n",
		(unsigned long long)totals.scenarios, (unsigned long long)totals.decides,
		(unsigned long long)totals.decide_errors, (unsigned long long)totals.applies,
		(unsigned long long)totals.plans);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oracle_stats st = {0};
	char why[512];

	static bool registered;

	if (!registered) {
		registered = true;
		if (atexit(print_totals) != 0)
			abort();
	}
	if (oracle_run_bytes(why, sizeof(why), &st, data, size)) {
		fprintf(stderr, "oracle violation: %s\n", why);
		abort();
	}
	totals.scenarios += st.scenarios;
	totals.decides += st.decides;
	totals.decide_errors += st.decide_errors;
	totals.applies += st.applies;
	totals.plans += st.plans;
	return 0;
}
