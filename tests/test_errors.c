/* SPDX-License-Identifier: MIT */
/*
 * Bad input: every class gets its own status, leaves the decision array and
 * summary byte-for-byte untouched (canary-filled), and leaves the policy as
 * it was (a twin policy that never saw the bad call decides identically).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define NVM 3
#define CANARY 0x5A

struct call {
	struct reclaim_host host;
	struct reclaim_vm_stats vm[NVM + 1];
	size_t n;
	size_t dsize;
	uint32_t flags;
	int null_what; /* 0 none, 1 summary, 2 decisions, 3 policy, 4 host, 5 vms */
};

static void
good_call(struct call *c)
{
	memset(c, 0, sizeof(*c));
	c->host = tu_host(64 * GiB, 1 * GiB, 1 * GiB, 5 * SEC);
	for (int i = 0; i < NVM + 1; i++) {
		c->vm[i] = tu_vm((uint64_t)i + 10, 24 * GiB, 20 * GiB, 1000);
		c->vm[i].stats_time_ns = 5 * SEC;
	}
	c->n = NVM;
	c->dsize = sizeof(struct reclaim_decision);
}

static int
run(struct reclaim_policy *p, const struct call *c, struct reclaim_summary *sum,
    struct reclaim_decision *d)
{
	return reclaim_decide(c->null_what == 1 ? NULL : sum, c->null_what == 2 ? NULL : d,
			      c->dsize, c->null_what == 3 ? NULL : p,
			      c->null_what == 4 ? NULL : &c->host, c->null_what == 5 ? NULL : c->vm,
			      c->n, c->flags);
}

static void m_null_summary(struct call *c) { c->null_what = 1; }
static void m_null_decisions(struct call *c) { c->null_what = 2; }
static void m_null_policy(struct call *c) { c->null_what = 3; }
static void m_null_host(struct call *c) { c->null_what = 4; }
static void m_null_vms(struct call *c) { c->null_what = 5; }
static void m_free(struct call *c) { c->host.free_bytes = c->host.total_bytes + 1; }
static void m_reserved(struct call *c) { c->host.reserved_bytes = c->host.total_bytes + 1; }
static void m_resv_limit(struct call *c) { c->vm[1].limit_bytes = 1 * GiB; c->vm[1].reservation_bytes = 2 * GiB; }
static void m_resv_cfg(struct call *c) { c->vm[2].reservation_bytes = 25 * GiB; }
static void m_zero(struct call *c) { c->vm[0].configured_bytes = 0; }
static void m_dup(struct call *c) { c->vm[2].id = c->vm[0].id; }
static void m_overflow(struct call *c)
{
	c->vm[0].consumed_bytes = UINT64_MAX / 2 + 1;
	c->vm[0].configured_bytes = UINT64_MAX;
	c->vm[1].consumed_bytes = UINT64_MAX / 2 + 1;
	c->vm[1].configured_bytes = UINT64_MAX;
}
static void m_cfg_overflow(struct call *c)
{
	c->vm[0].configured_bytes = UINT64_MAX;
	c->vm[1].configured_bytes = UINT64_MAX;
}
static void m_host_size(struct call *c) { c->host.struct_size += 8; }
static void m_vm_size(struct call *c) { c->vm[1].struct_size += 8; }
static void m_dsize(struct call *c) { c->dsize += 8; }
static void m_capacity(struct call *c) { c->n = NVM + 1; }
static void m_flags(struct call *c) { c->flags = 1u << 9; }
static void m_vm_flags(struct call *c) { c->vm[0].flags |= 1u << 30; }
static void m_host_flags(struct call *c) { c->host.flags |= 1u << 30; }

static void
bad_input_leaves_everything_untouched(void **state)
{
	static const struct {
		const char *what;
		void (*mutate)(struct call *);
		int code;
	} cases[] = {
		{"NULL summary", m_null_summary, RECLAIM_E_NULL},
		{"NULL decisions", m_null_decisions, RECLAIM_E_NULL},
		{"NULL policy", m_null_policy, RECLAIM_E_NULL},
		{"NULL host", m_null_host, RECLAIM_E_NULL},
		{"NULL vms", m_null_vms, RECLAIM_E_NULL},
		{"free > total", m_free, RECLAIM_E_HOST_FREE},
		{"reserved > total", m_reserved, RECLAIM_E_HOST_RESERVED},
		{"reservation > limit", m_resv_limit, RECLAIM_E_VM_BOUNDS},
		{"reservation > configured", m_resv_cfg, RECLAIM_E_VM_BOUNDS},
		{"zero-size VM", m_zero, RECLAIM_E_VM_SIZE},
		{"duplicate id", m_dup, RECLAIM_E_VM_DUPLICATE},
		{"consumed sum overflows", m_overflow, RECLAIM_E_OVERFLOW},
		{"configured sum overflows", m_cfg_overflow, RECLAIM_E_OVERFLOW},
		{"newer host struct", m_host_size, RECLAIM_E_VERSION},
		{"newer vm struct", m_vm_size, RECLAIM_E_VERSION},
		{"newer decision struct", m_dsize, RECLAIM_E_VERSION},
		{"more VMs than capacity", m_capacity, RECLAIM_E_CAPACITY},
		{"unknown decide flag", m_flags, RECLAIM_E_INVAL},
		{"unknown vm flag", m_vm_flags, RECLAIM_E_INVAL},
		{"unknown host flag", m_host_flags, RECLAIM_E_INVAL},
	};
	struct reclaim_policy *p = tu_policy(NULL, NVM), *twin = tu_policy(NULL, NVM);
	struct call good;

	(void)state;
	good_call(&good);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c;
		struct reclaim_summary sum, canary_sum, s1 = RECLAIM_SUMMARY_INIT,
						       s2 = RECLAIM_SUMMARY_INIT;
		struct reclaim_decision d[NVM + 1], canary_d[NVM + 1], d1[NVM], d2[NVM];

		good_call(&c);
		cases[i].mutate(&c);
		memset(&sum, CANARY, sizeof(sum));
		sum.struct_size = sizeof(sum);
		memcpy(&canary_sum, &sum, sizeof(sum));
		memset(d, CANARY, sizeof(d));
		memcpy(canary_d, d, sizeof(d));
		print_message("# %s\n", cases[i].what);
		assert_int_equal(run(p, &c, &sum, d), cases[i].code);
		assert_string_not_equal(reclaim_strerror(cases[i].code), "unknown status");
		assert_memory_equal(&sum, &canary_sum, sizeof(sum));
		assert_memory_equal(d, canary_d, sizeof(d));

		/* the policy did not move: it agrees with its twin */
		good.host.now_ns += SEC;
		assert_int_equal(run(p, &good, &s1, d1), RECLAIM_OK);
		assert_int_equal(run(twin, &good, &s2, d2), RECLAIM_OK);
		assert_memory_equal(&s1, &s2, sizeof(s1));
		assert_memory_equal(d1, d2, sizeof(d1));
	}
	reclaim_policy_destroy(p);
	reclaim_policy_destroy(twin);
}

/* Outputs of the other entry points stay untouched too. */
static void
other_entry_points(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_policy *p = (struct reclaim_policy *)&cfg;
	uint64_t thr[4] = {7, 7, 7, 7};
	size_t bytes = 7;
	struct call c;
	struct reclaim_summary sum;
	struct reclaim_decision d[NVM];

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.threshold_soft = cfg.threshold_high; /* not strictly ordered */
	assert_int_equal(reclaim_policy_new(&p, &cfg, 4), RECLAIM_E_THRESHOLDS);
	assert_ptr_equal(p, (struct reclaim_policy *)&cfg);
	assert_int_equal(reclaim_config_thresholds(thr, &cfg, GiB, 0), RECLAIM_E_THRESHOLDS);
	assert_int_equal(thr[0], 7);
	assert_int_equal(reclaim_policy_new(NULL, &cfg, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_new(&p, NULL, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_memory_size(NULL, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_memory_size(&bytes, 0), RECLAIM_E_INVAL);
	assert_int_equal(bytes, 7);

	/* admission planning rejects the same inputs the same way */
	p = tu_policy(NULL, NVM);
	good_call(&c);
	m_dup(&c);
	memset(&sum, CANARY, sizeof(sum));
	sum.struct_size = sizeof(sum);
	memset(d, CANARY, sizeof(d));
	assert_int_equal(reclaim_plan_admission(&sum, d, sizeof(d[0]), p, &c.host, c.vm, NVM, GiB),
			 RECLAIM_E_VM_DUPLICATE);
	for (size_t i = 0; i < sizeof(d); i++)
		assert_int_equal(((unsigned char *)d)[i], CANARY);
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_input_leaves_everything_untouched),
		cmocka_unit_test(other_entry_points),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
