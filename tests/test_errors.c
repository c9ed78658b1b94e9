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
	return reclaim_decide(c->null_what == 3 ? NULL : p, c->null_what == 4 ? NULL : &c->host, c->null_what == 5 ? NULL : c->vm, c->n, c->flags, c->null_what == 1 ? NULL : sum, c->null_what == 2 ? NULL : d);
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
static void m_free_overflow(struct call *c)
{
	/* each size fits, but consumption plus host free memory does not */
	c->host.total_bytes = UINT64_MAX;
	c->host.free_bytes = UINT64_MAX - 10 * GiB;
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
	/* Each class of bad input: its status, and where the policy says the
	 * fault is (RECLAIM_WHERE_*, the VM's index, the member). */
	static const struct {
		const char *what;
		void (*mutate)(struct call *);
		int code;
		uint32_t where;
		size_t index, other_index;
		const char *field;
	} cases[] = {
		{"NULL summary", m_null_summary, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, 0, 0, "summary"},
		{"NULL decisions", m_null_decisions, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, 0, 0,
		 "decisions"},
		{"NULL policy", m_null_policy, RECLAIM_E_NULL, RECLAIM_WHERE_NONE, 0, 0, NULL},
		{"NULL host", m_null_host, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, 0, 0, "host"},
		{"NULL vms", m_null_vms, RECLAIM_E_NULL, RECLAIM_WHERE_ARGUMENT, 0, 0, "vms"},
		{"free > total", m_free, RECLAIM_E_HOST_FREE, RECLAIM_WHERE_HOST, 0, 0, "free_bytes"},
		{"reserved > total", m_reserved, RECLAIM_E_HOST_RESERVED, RECLAIM_WHERE_HOST, 0, 0,
		 "reserved_bytes"},
		{"reservation > limit", m_resv_limit, RECLAIM_E_VM_BOUNDS, RECLAIM_WHERE_VM, 1, 0,
		 "reservation_bytes"},
		{"reservation > configured", m_resv_cfg, RECLAIM_E_VM_BOUNDS, RECLAIM_WHERE_VM, 2, 0,
		 "reservation_bytes"},
		{"zero-size VM", m_zero, RECLAIM_E_VM_SIZE, RECLAIM_WHERE_VM, 0, 0, "configured_bytes"},
		{"duplicate id", m_dup, RECLAIM_E_VM_DUPLICATE, RECLAIM_WHERE_VM, 2, 0, "id"},
		{"consumed sum overflows", m_overflow, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, 1, 0,
		 "consumed_bytes"},
		{"consumed plus free overflows", m_free_overflow, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, 0,
		 0, "consumed_bytes"},
		{"configured sum overflows", m_cfg_overflow, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, 1, 0,
		 "configured_bytes"},
		{"newer host struct", m_host_size, RECLAIM_E_VERSION, RECLAIM_WHERE_HOST, 0, 0,
		 "struct_size"},
		{"newer vm struct", m_vm_size, RECLAIM_E_VERSION, RECLAIM_WHERE_VM, 1, 0, "struct_size"},
		{"newer decision struct", m_dsize, RECLAIM_E_VERSION, RECLAIM_WHERE_ARGUMENT, 0, 0,
		 "summary.decision_size"},
		{"more VMs than capacity", m_capacity, RECLAIM_E_CAPACITY, RECLAIM_WHERE_ARGUMENT, 0, 0,
		 "n_vms"},
		{"unknown decide flag", m_flags, RECLAIM_E_INVAL, RECLAIM_WHERE_ARGUMENT, 0, 0, "flags"},
		{"unknown vm flag", m_vm_flags, RECLAIM_E_INVAL, RECLAIM_WHERE_VM, 0, 0, "flags"},
		{"unknown host flag", m_host_flags, RECLAIM_E_INVAL, RECLAIM_WHERE_HOST, 0, 0, "flags"},
	};
	struct reclaim_policy *p = tu_policy(NULL, NVM), *twin = tu_policy(NULL, NVM);
	struct reclaim_error err = RECLAIM_ERROR_INIT;
	struct call good;

	(void)state;
	good_call(&good);
	/* nothing failed yet */
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_int_equal(err.status, RECLAIM_OK);
	assert_int_equal(err.where, RECLAIM_WHERE_NONE);
	assert_null(err.field);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c;
		struct reclaim_summary sum, canary_sum, s1 = RECLAIM_SUMMARY_INIT,
						       s2 = RECLAIM_SUMMARY_INIT;
		struct reclaim_decision d[NVM + 1], canary_d[NVM + 1], d1[NVM], d2[NVM];
		struct reclaim_error before = RECLAIM_ERROR_INIT;

		good_call(&c);
		cases[i].mutate(&c);
		memset(&sum, CANARY, sizeof(sum));
		sum.struct_size = sizeof(sum);
		sum.decision_size = (uint32_t)c.dsize;
		memcpy(&canary_sum, &sum, sizeof(sum));
		memset(d, CANARY, sizeof(d));
		memcpy(canary_d, d, sizeof(d));
		print_message("# %s\n", cases[i].what);
		assert_int_equal(reclaim_policy_last_error(p, &before), RECLAIM_OK);
		assert_int_equal(run(p, &c, &sum, d), cases[i].code);
		assert_string_not_equal(reclaim_strerror(cases[i].code), "unknown status");
		assert_memory_equal(&sum, &canary_sum, sizeof(sum));
		assert_memory_equal(d, canary_d, sizeof(d));

		/* where it was: the caller need not re-derive the culprit */
		memset(&err, 0xA5, sizeof(err));
		err.struct_size = sizeof(err);
		assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
		if (cases[i].where == RECLAIM_WHERE_NONE) {
			/* without a policy there is nowhere to record it */
			assert_memory_equal(&err, &before, sizeof(err));
		} else {
			assert_int_equal(err.status, cases[i].code);
			assert_int_equal(err.where, cases[i].where);
			assert_string_equal(err.field, cases[i].field);
			if (cases[i].where == RECLAIM_WHERE_VM) {
				assert_int_equal(err.index, cases[i].index);
				if (strcmp(cases[i].field, "struct_size") != 0)
					assert_int_equal(err.id, c.vm[cases[i].index].id);
			}
			if (cases[i].code == RECLAIM_E_VM_DUPLICATE)
				assert_int_equal(err.other_index, cases[i].other_index);
		}

		/* the policy did not move: it agrees with its twin */
		good.host.now_ns += SEC;
		assert_int_equal(run(p, &good, &s1, d1), RECLAIM_OK);
		assert_int_equal(run(twin, &good, &s2, d2), RECLAIM_OK);
		assert_memory_equal(&s1, &s2, sizeof(s1));
		assert_memory_equal(d1, d2, sizeof(d1));
		/* and a good call does not erase the record */
		assert_int_equal(reclaim_policy_last_error(p, &before), RECLAIM_OK);
		if (cases[i].where != RECLAIM_WHERE_NONE)
			assert_int_equal(before.status, cases[i].code);
	}
	reclaim_policy_destroy(p);
	reclaim_policy_destroy(twin);
}

/* A config rejected at run time names its member. */
static void
set_config_says_which_member(void **state)
{
	struct reclaim_policy *p = tu_policy(NULL, NVM);
	struct reclaim_error err = RECLAIM_ERROR_INIT;
	struct reclaim_config cfg, got;

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.threshold_hard = cfg.threshold_soft;
	assert_int_equal(reclaim_policy_set_config(p, &cfg), RECLAIM_E_THRESHOLDS);
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_int_equal(err.status, RECLAIM_E_THRESHOLDS);
	assert_int_equal(err.where, RECLAIM_WHERE_CONFIG);
	assert_string_equal(err.field, "threshold_hard");
	/* the old config stays in force */
	got.struct_size = sizeof(got);
	assert_int_equal(reclaim_policy_get_config(p, &got), RECLAIM_OK);
	assert_true(got.threshold_hard < got.threshold_soft);
	/* a NULL config is a fault of the call too: recorded, config kept */
	assert_int_equal(reclaim_policy_set_config(p, NULL), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_int_equal(err.status, RECLAIM_E_NULL);
	assert_int_equal(err.where, RECLAIM_WHERE_ARGUMENT);
	assert_string_equal(err.field, "cfg");
	assert_int_equal(reclaim_policy_get_config(p, &got), RECLAIM_OK);
	assert_true(got.threshold_hard < got.threshold_soft);
	/* a record too new for this library is refused, untouched */
	err.struct_size = sizeof(err) + 8;
	err.status = 77;
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_E_VERSION);
	assert_int_equal(err.status, 77);
	assert_int_equal(reclaim_policy_last_error(NULL, &err), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_last_error(p, NULL), RECLAIM_E_NULL);
	reclaim_policy_destroy(p);
}

/*
 * Outputs that share memory with each other or with the VMs: decide writes
 * the decisions while it still reads the VMs (and uses them as scratch
 * first), so each such call is refused, and nothing in the shared memory
 * is written. A summary laid over the decisions would otherwise have its
 * size overwritten before it is itself written.
 */
static void
shared_memory_is_refused(void **state)
{
	enum { DS = sizeof(struct reclaim_decision), VS = sizeof(struct reclaim_vm_stats) };
	static const struct {
		const char *what;
		size_t vms, summary, decisions; /* offsets in the buffer */
		const char *field;
	} cases[] = {
		{"summary on the last decision", 0, 4 * VS + 2 * DS + 16, 4 * VS, "decisions"},
		{"summary just inside the decisions", 0, 4 * VS + 3 * DS - 8, 4 * VS, "decisions"},
		{"decisions on the VMs", 0, 8 * VS, 2 * VS, "decisions"},
		{"decisions ending in the VMs", DS, 8 * VS, 0, "decisions"},
		{"summary on a VM", 0, VS + 8, 4 * VS, "summary"},
	};
	static _Alignas(16) unsigned char buf[16 * VS];
	static unsigned char canary[sizeof(buf)];
	struct reclaim_policy *p = tu_policy(NULL, NVM);
	struct reclaim_error err = RECLAIM_ERROR_INIT;
	struct call c;

	(void)state;
	good_call(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reclaim_vm_stats *vms = (void *)(buf + cases[i].vms);
		struct reclaim_summary *sum = (void *)(buf + cases[i].summary);
		struct reclaim_decision *d = (void *)(buf + cases[i].decisions);

		print_message("# %s\n", cases[i].what);
		memset(buf, CANARY, sizeof(buf));
		memcpy(vms, c.vm, NVM * VS);
		sum->struct_size = sizeof(*sum);
		sum->decision_size = DS;
		memcpy(canary, buf, sizeof(buf));
		assert_int_equal(reclaim_decide(p, &c.host, vms, NVM, 0, sum, d), RECLAIM_E_INVAL);
		assert_memory_equal(buf, canary, sizeof(buf));
		assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
		assert_int_equal(err.where, RECLAIM_WHERE_ARGUMENT);
		assert_string_equal(err.field, cases[i].field);
		assert_int_equal(reclaim_plan_admission(p, &c.host, vms, NVM, GiB, sum, d),
				 RECLAIM_E_INVAL);
		assert_memory_equal(buf, canary, sizeof(buf));
	}
	/* side by side, touching but not sharing a byte: fine */
	{
		struct reclaim_vm_stats *vms = (void *)buf;
		struct reclaim_decision *d = (void *)(buf + NVM * VS);
		struct reclaim_summary *sum = (void *)(buf + NVM * VS + NVM * DS);

		memcpy(vms, c.vm, NVM * VS);
		sum->struct_size = sizeof(*sum);
		sum->decision_size = DS;
		assert_int_equal(reclaim_decide(p, &c.host, vms, NVM, 0, sum, d), RECLAIM_OK);
		assert_int_equal(d[NVM - 1].id, c.vm[NVM - 1].id);
	}
	reclaim_policy_destroy(p);
}

/* Outputs of the other entry points stay untouched too. */
static void
other_entry_points(void **state)
{
	struct reclaim_config cfg;
	struct reclaim_policy *p = (struct reclaim_policy *)&cfg;
	uint64_t thr[4] = {7, 7, 7, 7};
	struct call c;
	struct reclaim_summary sum;
	struct reclaim_decision d[NVM];

	(void)state;
	reclaim_config_init(&cfg, sizeof(cfg));
	cfg.threshold_soft = cfg.threshold_high; /* not strictly ordered */
	assert_int_equal(reclaim_policy_new(&p, &cfg, 4), RECLAIM_E_THRESHOLDS);
	assert_ptr_equal(p, (struct reclaim_policy *)&cfg);
	assert_int_equal(reclaim_config_thresholds(&cfg, GiB, 0, thr), RECLAIM_E_THRESHOLDS);
	assert_int_equal(thr[0], 7);
	assert_int_equal(reclaim_policy_new(NULL, &cfg, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_new(&p, NULL, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_memory_size(0), 0);

	/* admission planning rejects the same inputs the same way */
	p = tu_policy(NULL, NVM);
	good_call(&c);
	m_dup(&c);
	memset(&sum, CANARY, sizeof(sum));
	sum.struct_size = sizeof(sum);
	sum.decision_size = sizeof(d[0]);
	memset(d, CANARY, sizeof(d));
	assert_int_equal(reclaim_plan_admission(p, &c.host, c.vm, NVM, GiB, &sum, d),
			 RECLAIM_E_VM_DUPLICATE);
	for (size_t i = 0; i < sizeof(d); i++)
		assert_int_equal(((unsigned char *)d)[i], CANARY);
	assert_int_equal(reclaim_policy_resize(NULL, 4), RECLAIM_E_NULL);
	assert_int_equal(reclaim_policy_copy(NULL, d, sizeof(d), p, 4), RECLAIM_E_NULL);
	assert_int_equal(((unsigned char *)d)[0], CANARY);
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_input_leaves_everything_untouched),
		cmocka_unit_test(other_entry_points),
		cmocka_unit_test(set_config_says_which_member),
		cmocka_unit_test(shared_memory_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
