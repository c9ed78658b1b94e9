/* SPDX-License-Identifier: MIT */
/*
 * Property tests:
 * - random scenarios, each a byte string decoded by the oracle's scenario
 *   runner (config, host, VMs, up to 8 ticks with apply, plans and config
 *   changes) and checked after every decide by the invariant oracle;
 * - monotonicity: on fresh policies (no history, so no hysteresis and no
 *   balloon in flight), less free memory never gives a better state, a
 *   smaller need, or less net planned reclamation, all else equal. Net:
 *   new balloon inflation + host swap + compression - balloon deflation,
 *   summed over the host (memory the plan takes from VMs, less what it gives
 *   back), compared within one page per VM.
 *
 * RECLAIM_PROPERTY_SCENARIOS, RECLAIM_PROPERTY_MONOTONIC and
 * RECLAIM_PROPERTY_SEED override the counts (100000, 20000) and the seed.
 * A failing scenario prints its bytes: save them with `xxd -r -p` and replay
 * them with tests/fuzz/fuzz_decide-replay FILE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oracle.h"

#define MIB (1024ull * 1024ull)

static unsigned long long
env_number(const char *name, unsigned long long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void
print_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
	fprintf(stderr, "\n");
}

static void
test_oracle_scenarios(void **state)
{
	unsigned long long count = env_number("RECLAIM_PROPERTY_SCENARIOS", 100000);
	unsigned long long seed = env_number("RECLAIM_PROPERTY_SEED", 0x7265636c61696dull);
	struct oracle_stats st = {0};
	struct reclaim_rng rng;
	uint8_t buf[512];
	char why[512];

	(void)state;
	reclaim_rng_seed(&rng, seed);
	for (unsigned long long i = 0; i < count; i++) {
		size_t len = 24 + reclaim_rng_next(&rng) % (sizeof(buf) - 24);

		for (size_t k = 0; k < len; k += 8) {
			uint64_t x = reclaim_rng_next(&rng);
			memcpy(buf + k, &x, len - k < 8 ? len - k : 8);
		}
		if (oracle_run_bytes(why, sizeof(why), &st, buf, len)) {
			fprintf(stderr, "scenario %llu (seed %#llx) violates: %s\nbytes: ", i, seed,
				why);
			print_bytes(buf, len);
			fail_msg("%s", why);
		}
	}
	fprintf(stderr, "# %llu scenarios: %llu decides (%llu rejected), %llu applies, %llu plans;"
		" states high %llu soft %llu hard %llu low %llu\n",
		(unsigned long long)st.scenarios, (unsigned long long)st.decides,
		(unsigned long long)st.decide_errors, (unsigned long long)st.applies,
		(unsigned long long)st.plans, (unsigned long long)st.state_count[0],
		(unsigned long long)st.state_count[1], (unsigned long long)st.state_count[2],
		(unsigned long long)st.state_count[3]);
	assert_int_equal(st.scenarios, count);
	/* The generator must reach every state, and mostly valid input. */
	if (count >= 1000) {
		for (int s = 0; s < 4; s++)
			assert_true(st.state_count[s] > 0);
		assert_true(st.decide_errors * 2 < st.decides);
		assert_true(st.applies > 0 && st.plans > 0);
	}
}

/* A random valid VM, sized against the host's usable memory. */
static void
random_vm(struct reclaim_vm_stats *v, struct reclaim_rng *rng, uint64_t id, uint64_t usable,
	  uint64_t now)
{
	uint64_t r = reclaim_rng_next(rng);
	uint64_t cfg = 64 * MIB + reclaim_rng_next(rng) % (usable / 4 + 1);

	*v = (struct reclaim_vm_stats)RECLAIM_VM_STATS_INIT;
	v->id = id;
	v->flags = (r & 3 ? RECLAIM_VM_BALLOON : 0) | (r & 12 ? RECLAIM_VM_GUEST_STATS : 0) |
		   (r & 16 ? RECLAIM_VM_COMPRESS : 0) | (r & 32 ? RECLAIM_VM_IDLE_TAX : 0);
	v->configured_bytes = cfg;
	v->consumed_bytes = reclaim_rng_next(rng) % (cfg + 1);
	v->reservation_bytes = r & 64 ? reclaim_rng_next(rng) % (cfg / 4 + 1) : 0;
	if (r & 128)
		v->limit_bytes = v->reservation_bytes +
				 reclaim_rng_next(rng) % (cfg - v->reservation_bytes + 1);
	v->shares = r & 256 ? 0 : 1 + reclaim_rng_next(rng) % 20000;
	v->active_bytes = reclaim_rng_next(rng) % (v->consumed_bytes + 1);
	v->balloon_bytes = r & 512 ? reclaim_rng_next(rng) % (cfg / 2 + 1) : 0;
	if (r & 1024)
		v->balloon_cap_bytes = reclaim_rng_next(rng) % (cfg + 1);
	v->guest_free_bytes = reclaim_rng_next(rng) % (cfg + 1);
	v->guest_swap_free_bytes = r & 2048 ? reclaim_rng_next(rng) % (cfg + 1) : 0;
	v->stats_time_ns = now - reclaim_rng_next(rng) % 15000000000ull;
	v->swapped_bytes = reclaim_rng_next(rng) % (cfg / 8 + 1);
	v->compress_used_bytes = reclaim_rng_next(rng) % (cfg / 16 + 1);
	v->idle_tax = (double)(reclaim_rng_next(rng) % 100) / 100.0;
}

/* RECLAIM_PROPERTY_CASE=N prints every decision of monotonicity case N,
 * to read a failing case. */
static int trace_case;

struct outcome {
	uint32_t state;
	uint64_t need, taken, given; /* net planned reclamation = taken - given */
};

static struct outcome
decide_fresh(struct reclaim_policy *p, struct reclaim_host *host, uint64_t free_bytes,
	     const struct reclaim_vm_stats *vms, size_t n)
{
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision dec[16];
	struct outcome o;

	host->free_bytes = free_bytes;
	/* A dry run leaves the policy fresh for the next call. */
	assert_int_equal(reclaim_decide(p, host, vms, n, RECLAIM_DECIDE_DRY_RUN, &sum, dec), RECLAIM_OK);
	if (trace_case) {
		fprintf(stderr, "free %llu: %s need %llu balloon %llu swap %llu deflate %llu\n",
			(unsigned long long)free_bytes, reclaim_state_name(sum.state),
			(unsigned long long)sum.need_bytes, (unsigned long long)sum.balloon_bytes,
			(unsigned long long)sum.swap_bytes, (unsigned long long)sum.deflate_bytes);
		for (size_t i = 0; i < n; i++) {
			char line[512];

			if (reclaim_decision_format(line, sizeof(line), &dec[i]) >= 0)
				fprintf(stderr, "  %s [cons %llu bal %llu gfree %llu act %llu]\n", line,
					(unsigned long long)vms[i].consumed_bytes,
					(unsigned long long)vms[i].balloon_bytes,
					(unsigned long long)vms[i].guest_free_bytes,
					(unsigned long long)vms[i].active_bytes);
		}
	}
	o.state = sum.state;
	o.need = sum.need_bytes;
	o.taken = sum.balloon_bytes + sum.swap_bytes + sum.compress_bytes;
	o.given = sum.deflate_bytes;
	return o;
}

static void
test_monotonic_free(void **state)
{
	unsigned long long count = env_number("RECLAIM_PROPERTY_MONOTONIC", 20000);
	unsigned long long seed = env_number("RECLAIM_PROPERTY_SEED", 0x7265636c61696dull) + 1;
	struct reclaim_rng rng;
	unsigned long long worse_seen = 0, more_seen = 0;

	(void)state;
	reclaim_rng_seed(&rng, seed);
	for (unsigned long long i = 0; i < count; i++) {
		/* RECLAIM_PROPERTY_CASE=N traces case N only. */
		const char *only = getenv("RECLAIM_PROPERTY_CASE");
		struct reclaim_config cfg;
		struct reclaim_policy *p;
		struct reclaim_host host = RECLAIM_HOST_INIT;
		struct reclaim_vm_stats vms[16];
		size_t n = 1 + reclaim_rng_next(&rng) % 16;
		uint64_t usable, tol, levels[6];
		struct outcome prev;

		assert_int_equal(reclaim_config_init_profile(&cfg, sizeof(cfg),
							     (int)(reclaim_rng_next(&rng) % 3)),
				 RECLAIM_OK);
		cfg.flags |= (uint32_t)(reclaim_rng_next(&rng) % 16);
		assert_int_equal(reclaim_policy_new(&p, &cfg, 16), RECLAIM_OK);
		host.total_bytes = (1 + reclaim_rng_next(&rng) % 1024) * 256 * MIB;
		host.reserved_bytes = host.total_bytes / 64;
		host.now_ns = 1000000000000ull;
		usable = host.total_bytes - host.reserved_bytes;
		for (size_t k = 0; k < n; k++)
			random_vm(&vms[k], &rng, 100 + k, usable, host.now_ns);
		/* Free levels from high to low, around the thresholds. */
		for (int k = 0; k < 6; k++)
			levels[k] = reclaim_rng_next(&rng) % (usable / 8 + 1);
		for (int a = 0; a < 6; a++)
			for (int b = a + 1; b < 6; b++)
				if (levels[b] > levels[a]) {
					uint64_t t = levels[a];
					levels[a] = levels[b];
					levels[b] = t;
				}
		tol = cfg.page_size * n;
		trace_case = only && strtoull(only, NULL, 10) == i;
		prev = decide_fresh(p, &host, levels[0], vms, n);
		for (int k = 1; k < 6; k++) {
			struct outcome o = decide_fresh(p, &host, levels[k], vms, n);

			/* net(o) >= net(prev), kept unsigned */
			if (o.state < prev.state || o.need < prev.need ||
			    o.taken + prev.given + tol < prev.taken + o.given) {
				fprintf(stderr, "monotonicity (seed %#llx, case %llu): free %llu -> "
					"%llu: state %u -> %u, need %llu -> %llu, taken - given "
					"%llu - %llu -> %llu - %llu\n", seed, i,
					(unsigned long long)levels[k - 1], (unsigned long long)levels[k],
					prev.state, o.state, (unsigned long long)prev.need,
					(unsigned long long)o.need, (unsigned long long)prev.taken,
					(unsigned long long)prev.given, (unsigned long long)o.taken,
					(unsigned long long)o.given);
				fail();
			}
			worse_seen += o.state > prev.state;
			more_seen += o.taken + prev.given > prev.taken + o.given;
			prev = o;
		}
		reclaim_policy_destroy(p);
	}
	fprintf(stderr, "# %llu monotonicity cases: %llu state changes, %llu plan increases\n",
		count, worse_seen, more_seen);
	/* the sweep must actually cross thresholds and change plans */
	if (count >= 1000)
		assert_true(worse_seen > count / 10 && more_seen > count / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle_scenarios),
		cmocka_unit_test(test_monotonic_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
