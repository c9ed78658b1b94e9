/* SPDX-License-Identifier: MIT */
/* Config: ESX defaults, profiles, validation naming the field, thresholds. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static void
defaults_are_esx(void **state)
{
	struct reclaim_config c;

	(void)state;
	assert_int_equal(RECLAIM_CONFIG_INIT_DEFAULT(&c), RECLAIM_OK);
	assert_int_equal(c.struct_size, sizeof(c));
	assert_int_equal(c.threshold_base, RECLAIM_BASE_USABLE);
	assert_true(c.threshold_high == DBL(0.06) && c.threshold_soft == DBL(0.04));
	assert_true(c.threshold_hard == DBL(0.02) && c.threshold_low == DBL(0.01));
	assert_true(c.idle_tax == DBL(0.75));
	assert_true(c.balloon_max_fraction == DBL(0.65));
	assert_int_equal(c.guest_margin_bytes, 64 << 20);
	assert_true(c.guest_margin_fraction == 1.0 / 64.0);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.page_size, 4096);
	assert_int_equal(c.sample_pages, 100);
	assert_int_equal(c.sample_period_ns, 30 * SEC);
	assert_int_equal(reclaim_config_check(&c, NULL), RECLAIM_OK);
}

static void
profiles(void **state)
{
	struct reclaim_config c;
	const char *field = "x";

	(void)state;
	assert_int_equal(reclaim_config_init_profile(&c, sizeof(c), RECLAIM_PROFILE_PAPER), 0);
	assert_int_equal(c.flags, RECLAIM_CONFIG_NO_EARLY_BALLOON | RECLAIM_CONFIG_SOFT_SWAP |
					  RECLAIM_CONFIG_HARD_SWAP_ONLY |
					  RECLAIM_CONFIG_NO_GUEST_CAP);
	assert_int_equal(reclaim_config_check(&c, &field), RECLAIM_OK);
	assert_null(field);
	assert_int_equal(reclaim_config_init_profile(&c, sizeof(c), RECLAIM_PROFILE_ESXI5), 0);
	assert_int_equal(c.threshold_base, RECLAIM_BASE_MINFREE);
	assert_true(c.threshold_high == 1.0 && c.threshold_soft == DBL(0.64));
	assert_true(c.threshold_hard == DBL(0.32) && c.threshold_low == DBL(0.16));
	assert_int_equal(reclaim_config_check(&c, NULL), RECLAIM_OK);
	memset(&c, 0xA5, sizeof(c));
	assert_int_equal(reclaim_config_init_profile(&c, sizeof(c), 99), RECLAIM_E_INVAL);
	assert_int_equal(c.struct_size, 0xA5A5A5A5u); /* untouched */
	assert_int_equal(reclaim_config_init(&c, sizeof(c) + 8), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_config_init(&c, sizeof(c) - 8), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_config_init(NULL, sizeof(c)), RECLAIM_E_NULL);
}

struct bad {
	const char *field;
	int code;
	void (*mutate)(struct reclaim_config *c);
};

static void m_high(struct reclaim_config *c) { c->threshold_high = 1.0; }
static void m_order(struct reclaim_config *c) { c->threshold_soft = 0.07; }
static void m_hard(struct reclaim_config *c) { c->threshold_hard = 0.04; }
static void m_low0(struct reclaim_config *c) { c->threshold_low = 0.0; }
static void m_low_eq(struct reclaim_config *c) { c->threshold_low = c->threshold_hard; }
static void m_nan(struct reclaim_config *c) { c->threshold_hard = NAN; }
static void m_tax(struct reclaim_config *c) { c->idle_tax = 1.0; }
static void m_taxneg(struct reclaim_config *c) { c->idle_tax = -0.1; }
static void m_frac(struct reclaim_config *c) { c->balloon_max_fraction = 1.5; }
static void m_margin(struct reclaim_config *c) { c->guest_margin_fraction = -0.01; }
static void m_margin_nan(struct reclaim_config *c) { c->guest_margin_fraction = NAN; }
static void m_margin_big(struct reclaim_config *c) { c->guest_margin_fraction = 1.0 + 1e-9; }
static void m_page(struct reclaim_config *c) { c->page_size = 4000; }
static void m_flags(struct reclaim_config *c) { c->flags = 1u << 20; }
static void m_base(struct reclaim_config *c) { c->threshold_base = 7; }
static void m_hyst(struct reclaim_config *c) { c->hysteresis = 1.0; }
static void m_gain(struct reclaim_config *c) { c->estimator_fast_gain = 0.0; }
static void m_floor(struct reclaim_config *c) { c->active_floor = 1.0; }
static void m_size(struct reclaim_config *c) { c->struct_size = 12; }
static void m_window(struct reclaim_config *c) { c->balloon_window_ns = 0; }
static void m_pages(struct reclaim_config *c) { c->sample_pages = 0; }
static void m_res(struct reclaim_config *c) { c->reserved0 = 1; }

static void
invalid_values_name_their_field(void **state)
{
	static const struct bad cases[] = {
		{"threshold_high", RECLAIM_E_THRESHOLDS, m_high},
		{"threshold_soft", RECLAIM_E_THRESHOLDS, m_order},
		{"threshold_hard", RECLAIM_E_THRESHOLDS, m_hard},
		{"threshold_low", RECLAIM_E_THRESHOLDS, m_low0},
		{"threshold_low", RECLAIM_E_THRESHOLDS, m_low_eq},
		{"threshold_hard", RECLAIM_E_THRESHOLDS, m_nan},
		{"idle_tax", RECLAIM_E_CONFIG, m_tax},
		{"idle_tax", RECLAIM_E_CONFIG, m_taxneg},
		{"balloon_max_fraction", RECLAIM_E_CONFIG, m_frac},
		{"guest_margin_fraction", RECLAIM_E_CONFIG, m_margin},
		{"guest_margin_fraction", RECLAIM_E_CONFIG, m_margin_nan},
		{"guest_margin_fraction", RECLAIM_E_CONFIG, m_margin_big},
		{"page_size", RECLAIM_E_CONFIG, m_page},
		{"flags", RECLAIM_E_CONFIG, m_flags},
		{"threshold_base", RECLAIM_E_CONFIG, m_base},
		{"hysteresis", RECLAIM_E_CONFIG, m_hyst},
		{"estimator_fast_gain", RECLAIM_E_CONFIG, m_gain},
		{"active_floor", RECLAIM_E_CONFIG, m_floor},
		{"struct_size", RECLAIM_E_VERSION, m_size},
		{"balloon_window_ns", RECLAIM_E_CONFIG, m_window},
		{"sample_pages", RECLAIM_E_CONFIG, m_pages},
		{"reserved0", RECLAIM_E_CONFIG, m_res},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reclaim_config c;
		struct reclaim_policy *p = (struct reclaim_policy *)&c;
		const char *field = NULL;

		reclaim_config_init(&c, sizeof(c));
		cases[i].mutate(&c);
		assert_int_equal(reclaim_config_check(&c, &field), cases[i].code);
		assert_non_null(field);
		assert_string_equal(field, cases[i].field);
		assert_int_equal(reclaim_policy_new(&p, &c, 4), cases[i].code);
		assert_ptr_equal(p, (struct reclaim_policy *)&c); /* untouched */
	}
}

static void
flat_thresholds_in_bytes(void **state)
{
	struct reclaim_config c;
	uint64_t thr[4] = {1, 2, 3, 4};

	(void)state;
	reclaim_config_init(&c, sizeof(c));
	/* usable = total - reserved = 100 GiB */
	assert_int_equal(reclaim_config_thresholds(&c, 101 * GiB, 1 * GiB, thr), RECLAIM_OK);
	assert_int_equal(thr[0], (uint64_t)(0.06 * 100 * GiB));
	assert_int_equal(thr[1], (uint64_t)(0.04 * 100 * GiB));
	assert_int_equal(thr[2], (uint64_t)(0.02 * 100 * GiB));
	assert_int_equal(thr[3], (uint64_t)(0.01 * 100 * GiB));
	assert_int_equal(reclaim_config_thresholds(&c, 1 * GiB, 2 * GiB, thr),
			 RECLAIM_E_HOST_RESERVED);
	assert_int_equal(thr[3], (uint64_t)(0.01 * 100 * GiB));
}

/* The ESXi 5 sliding scale, against values worked out by hand (MiB):
 * minFree, then soft/hard/low at 64/32/16 % of it. */
static void
esxi5_minfree_scale(void **state)
{
	static const struct {
		unsigned gib;
		double minfree, soft, hard, low;
	} rows[] = {
		{4, 245.76, 157.29, 78.64, 39.32},
		{16, 655.36, 419.43, 209.72, 104.86},
		{28, 901.12, 576.72, 288.36, 144.18},
		{64, 1269.76, 812.65, 406.32, 203.16},
		{256, 3235.84, 2070.94, 1035.47, 517.73},
	};
	struct reclaim_config c;

	(void)state;
	reclaim_config_init_profile(&c, sizeof(c), RECLAIM_PROFILE_ESXI5);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t thr[4];
		double mib = (double)MiB;

		assert_int_equal(reclaim_config_thresholds(&c, rows[i].gib * GiB, 0, thr), 0);
		print_message("# %3u GiB: minFree %.2f soft %.2f hard %.2f low %.2f MiB\n",
			      rows[i].gib, (double)thr[0] / mib, (double)thr[1] / mib,
			      (double)thr[2] / mib, (double)thr[3] / mib);
		assert_true(fabs((double)thr[0] / mib - rows[i].minfree) < 0.006);
		assert_true(fabs((double)thr[1] / mib - rows[i].soft) < 0.006);
		assert_true(fabs((double)thr[2] / mib - rows[i].hard) < 0.006);
		assert_true(fabs((double)thr[3] / mib - rows[i].low) < 0.006);
	}
}

/* Runtime reconfiguration: a bad config is refused and the old one stays. */
static void
set_config_keeps_old_on_error(void **state)
{
	struct reclaim_config c, got;
	struct reclaim_policy *p = tu_policy(NULL, 2);

	(void)state;
	assert_non_null(p);
	reclaim_config_init(&c, sizeof(c));
	c.idle_tax = 0.5;
	assert_int_equal(reclaim_policy_set_config(p, &c), RECLAIM_OK);
	c.idle_tax = 2.0;
	assert_int_equal(reclaim_policy_set_config(p, &c), RECLAIM_E_CONFIG);
	got.struct_size = sizeof(got);
	assert_int_equal(reclaim_policy_get_config(p, &got), RECLAIM_OK);
	assert_true(got.idle_tax == 0.5);
	got.struct_size = 3;
	assert_int_equal(reclaim_policy_get_config(p, &got), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_policy_set_config(NULL, &c), RECLAIM_E_NULL);
	reclaim_policy_destroy(p);
}

/* Caller-supplied memory: sized by reclaim_policy_memory_size(). */
static void
policy_in_caller_memory(void **state)
{
	struct reclaim_config c;
	struct reclaim_policy *p = NULL;
	static _Alignas(16) unsigned char buf[64 * 1024];
	size_t need = 0;

	(void)state;
	reclaim_config_init(&c, sizeof(c));
	need = reclaim_policy_memory_size(100);
	assert_true(need > 100 && need <= sizeof(buf));
	assert_int_equal(reclaim_policy_init(&p, buf, need - 1, &c, 100), RECLAIM_E_NOSPACE);
	assert_null(p);
	assert_int_equal(reclaim_policy_init(&p, buf + 1, need, &c, 100), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_policy_init(&p, buf, need, &c, 100), RECLAIM_OK);
	assert_non_null(p);
	reclaim_policy_destroy(p); /* does not free caller memory */
	assert_int_equal(reclaim_policy_memory_size(0), 0);
	assert_int_equal(reclaim_policy_memory_size(SIZE_MAX), 0);
	assert_int_equal(reclaim_policy_new(&p, &c, 0), RECLAIM_E_INVAL);
	reclaim_policy_destroy(NULL);
}

/*
 * Caller memory need only be aligned to 16 bytes, so a policy may start
 * anywhere in a cache line; wherever it does, the policy fits in the
 * bytes reclaim_policy_memory_size() asks for, its parts do not overlap,
 * and it decides as one from reclaim_policy_new(). A busy host at full
 * capacity, so that every VM's working record and the solver's scratch
 * are in use.
 */
static void
policy_anywhere_in_a_cache_line(void **state)
{
	enum { N = 61 };
	const uint64_t gib = 1ull << 30;
	struct reclaim_config c;
	struct reclaim_vm_stats vms[N];
	struct reclaim_host host = tu_host(N * 4 * gib, 0, N * 4 * gib / 40, 1000000000ull);
	struct reclaim_summary want_sum = RECLAIM_SUMMARY_INIT, sum = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision want[N], got[N];
	struct reclaim_policy *ref, *p = NULL;
	size_t need, off, i;
	uint64_t seed = 11;

	(void)state;
	reclaim_config_init(&c, sizeof(c));
	for (i = 0; i < N; i++) {
		vms[i] = tu_vm(i + 1, 4 * gib, 2 * gib + tu_next(&seed) % (2 * gib), 500 + i * 37);
		vms[i].balloon_bytes = tu_next(&seed) % (gib / 2);
		vms[i].active_bytes = tu_next(&seed) % vms[i].consumed_bytes;
	}
	ref = tu_policy(&c, N);
	assert_non_null(ref);
	memset(want, 0xa5, sizeof(want));
	assert_int_equal(reclaim_decide(ref, &host, vms, N, 0, &want_sum, want), RECLAIM_OK);
	assert_true(want_sum.state >= RECLAIM_STATE_SOFT);
	assert_true(want_sum.balloon_bytes > 0);
	need = reclaim_policy_memory_size(N);
	for (off = 0; off < 64; off += 16) {
		unsigned char *mem = NULL;

		/* exactly the bytes asked for, from @off within a line */
		assert_int_equal(posix_memalign((void **)&mem, 64, off + need), 0);
		assert_int_equal(reclaim_policy_init(&p, mem + off, need, &c, N), RECLAIM_OK);
		memset(got, 0xa5, sizeof(got));
		assert_int_equal(reclaim_decide(p, &host, vms, N, 0, &sum, got), RECLAIM_OK);
		assert_memory_equal(&sum, &want_sum, sizeof(sum));
		assert_memory_equal(got, want, sizeof(got));
		reclaim_policy_destroy(p);
		free(mem);
	}
	reclaim_policy_destroy(ref);
}

/*
 * The largest capacity the library sizes: 2^28 VMs where size_t is 64 bits,
 * and, where it is 32 bits, as many as fit without the size wrapping (a few
 * million). Up to it every size is a real one, a few hundred bytes a VM;
 * one VM more is refused: a policy is neither sized, built, copied nor
 * grown for it.
 */
static void
capacity_bound(void **state)
{
	static _Alignas(16) unsigned char buf[4096];
	struct reclaim_config c;
	struct reclaim_policy *p = (void *)buf, *small = NULL, *grown;
	size_t lo = 1, hi = ((size_t)1 << 28) + 1, max, per_vm;

	(void)state;
	reclaim_config_init(&c, sizeof(c));
	per_vm = reclaim_policy_memory_size(1000) / 1000;
	assert_true(per_vm >= 256);
	assert_int_equal(reclaim_policy_memory_size(hi), 0);
	while (hi - lo > 1) { /* sized at lo, refused at hi */
		size_t mid = lo + (hi - lo) / 2;

		*(reclaim_policy_memory_size(mid) ? &lo : &hi) = mid;
	}
	max = lo;
	if (SIZE_MAX > UINT32_MAX) {
		assert_int_equal(max, (size_t)1 << 28);
	} else {
		assert_true(max < (size_t)1 << 28);
		assert_true(max > 3000000); /* about 4.8 million, by the per-VM size */
	}
	for (size_t n = max; n > 0; n /= 3) /* no wrap: the size grows with n */
		assert_true(reclaim_policy_memory_size(n) / n >= per_vm * 9 / 10);
	assert_int_equal(reclaim_policy_memory_size(max + 1), 0);
	assert_int_equal(reclaim_policy_init(&p, buf, sizeof(buf), &c, max), RECLAIM_E_NOSPACE);
	assert_int_equal(reclaim_policy_init(&p, buf, sizeof(buf), &c, max + 1), RECLAIM_E_INVAL);
	assert_int_equal(reclaim_policy_new(&p, &c, max + 1), RECLAIM_E_INVAL);
	assert_ptr_equal(p, (void *)buf); /* untouched */
	/* Nor is a policy copied or grown to it. */
	assert_int_equal(reclaim_policy_new(&small, &c, 4), RECLAIM_OK);
	grown = small;
	assert_int_equal(reclaim_policy_copy(&p, buf, sizeof(buf), small, max + 1),
			 RECLAIM_E_INVAL);
	assert_ptr_equal(p, (void *)buf);
	assert_int_equal(reclaim_policy_resize(&grown, max + 1), RECLAIM_E_INVAL);
	assert_ptr_equal(grown, small);
	reclaim_policy_destroy(small);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_esx),
		cmocka_unit_test(profiles),
		cmocka_unit_test(invalid_values_name_their_field),
		cmocka_unit_test(flat_thresholds_in_bytes),
		cmocka_unit_test(esxi5_minfree_scale),
		cmocka_unit_test(set_config_keeps_old_on_error),
		cmocka_unit_test(policy_in_caller_memory),
		cmocka_unit_test(policy_anywhere_in_a_cache_line),
		cmocka_unit_test(capacity_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
