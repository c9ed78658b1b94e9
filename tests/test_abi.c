/* SPDX-License-Identifier: MIT */
/*
 * Structs only grow at the end, and the library keeps that promise: it
 * accepts every size it has shipped (lib/abi.c's table, read here), reads an
 * older struct as if its missing members held their documented defaults,
 * writes output structs only up to the caller's size, and rejects every
 * size it never shipped, at every entry point.
 *
 * Whoever appends a member appends its struct's new size to the table;
 * older_* below then run with the previous size and must see the default
 * the header documents for the new member (add it to the checks there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reclaim-private.h"
#include "testutil.h"

static const struct {
	enum abi_struct kind;
	size_t current;
} current[] = {
	{ABI_CONFIG, sizeof(struct reclaim_config)},
	{ABI_HOST, sizeof(struct reclaim_host)},
	{ABI_VM_STATS, sizeof(struct reclaim_vm_stats)},
	{ABI_DECISION, sizeof(struct reclaim_decision)},
	{ABI_SUMMARY, sizeof(struct reclaim_summary)},
	{ABI_APPLY_RESULT, sizeof(struct reclaim_apply_result)},
	{ABI_ESTIMATOR, sizeof(struct reclaim_estimator)},
	{ABI_ERROR, sizeof(struct reclaim_error)},
	{ABI_ADAPTER, sizeof(struct reclaim_adapter)},
};

/* Every row ends with the struct this library is built with, grows
 * strictly, and is all the library knows. */
static void
table_is_consistent(void **state)
{
	(void)state;
	assert_int_equal(sizeof(current) / sizeof(current[0]), ABI_STRUCTS);
	for (size_t i = 0; i < ABI_STRUCTS; i++) {
		const struct abi_sizes *t = &abi_table[current[i].kind];

		print_message("# %s: %zu shipped size(s), current %zu\n", t->name, t->n,
			      current[i].current);
		assert_true(t->n >= 1);
		assert_int_equal(t->sizes[t->n - 1], current[i].current);
		for (size_t k = 0; k < t->n; k++) {
			if (k)
				assert_true(t->sizes[k] > t->sizes[k - 1]);
			if (current[i].kind != ABI_ADAPTER)
				assert_true(abi_known(current[i].kind, t->sizes[k]));
		}
		if (current[i].kind == ABI_ADAPTER) {
			assert_int_equal(abi_adapter_size(RECLAIM_ADAPTER_VERSION),
					 sizeof(struct reclaim_adapter));
			assert_int_equal(abi_adapter_size(0), 0);
			assert_int_equal(abi_adapter_size(RECLAIM_ADAPTER_VERSION + 1), 0);
			continue;
		}
		assert_false(abi_known(current[i].kind, 0));
		assert_false(abi_known(current[i].kind, current[i].current + 8));
		assert_false(abi_known(current[i].kind, t->sizes[0] - 4));
	}
}

static struct reclaim_summary
summary_of(uint32_t size, uint32_t dsize)
{
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;

	s.struct_size = size;
	s.decision_size = dsize;
	return s;
}

/* A size from a newer header (or garbage) is refused at every entry point,
 * with every output untouched. */
static void
newer_sizes_are_refused(void **state)
{
	struct reclaim_config cfg, big;
	struct reclaim_policy *p = tu_policy(NULL, 4);
	struct reclaim_host host = tu_host(64 * GiB, GiB, 8 * GiB, SEC);
	struct reclaim_vm_stats vms[2] = {tu_vm(1, 4 * GiB, 4 * GiB, 100),
					  tu_vm(2, 4 * GiB, 4 * GiB, 100)};
	struct reclaim_decision d[2];
	struct reclaim_summary s;
	struct reclaim_apply_result r[2];
	struct reclaim_estimator est;
	struct reclaim_error err = RECLAIM_ERROR_INIT;
	struct reclaim_adapter ad = {.version = RECLAIM_ADAPTER_VERSION};
	uint64_t thr[4] = {0};

	(void)state;
	memset(&big, 0x5A, sizeof(big));
	assert_int_equal(reclaim_config_init(&big, sizeof(big) + 8), RECLAIM_E_VERSION);
	assert_int_equal(((unsigned char *)&big)[0], 0x5A);
	reclaim_config_init(&cfg, sizeof(cfg));
	big = cfg;
	big.struct_size = sizeof(big) + 8;
	assert_int_equal(reclaim_config_check(&big, NULL), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_config_thresholds(&big, GiB, 0, thr), RECLAIM_E_VERSION);
	assert_int_equal(thr[0], 0);
	assert_int_equal(reclaim_policy_set_config(p, &big), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_policy_get_config(p, &big), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est), &big), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_estimator_init(&est, sizeof(est) + 8, NULL), RECLAIM_E_VERSION);

	s = summary_of(sizeof(s) + 8, sizeof(d[0]));
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_E_VERSION);
	s = summary_of(sizeof(s), sizeof(d[0]) + 8);
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_E_VERSION);
	s = summary_of(sizeof(s), sizeof(d[0]));
	host.struct_size += 8;
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_E_VERSION);
	host.struct_size -= 8;
	vms[0].struct_size += 8;
	vms[1].struct_size += 8;
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_E_VERSION);
	vms[0].struct_size -= 8;
	vms[1].struct_size -= 8;
	err.struct_size += 8;
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_E_VERSION);

	/* the good call, then apply's own sizes */
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_OK);
	assert_int_equal(s.struct_size, sizeof(s));
	assert_int_equal(d[1].struct_size, sizeof(d[1]));
	assert_int_equal(reclaim_apply(p, &ad, NULL, d, 2, r, sizeof(r[0]) + 8), RECLAIM_E_VERSION);
	d[0].struct_size += 8;
	assert_int_equal(reclaim_apply(p, &ad, NULL, d, 2, r, sizeof(r[0])), RECLAIM_E_VERSION);
	char line[256];
	assert_int_equal(reclaim_decision_format(line, sizeof(line), &d[0]), RECLAIM_E_VERSION);
	reclaim_policy_destroy(p);
}

/*
 * Every older config size reads as the documented defaults of what it
 * lacks: init writes only its size, and a policy made from it reports the
 * defaults for the later members.
 */
static void
older_configs_get_defaults(void **state)
{
	const struct abi_sizes *t = &abi_table[ABI_CONFIG];
	struct reclaim_config def;

	(void)state;
	reclaim_config_init(&def, sizeof(def));
	for (size_t k = 0; k + 1 < t->n; k++) {
		size_t size = t->sizes[k];
		unsigned char *old = malloc(sizeof(def) + 8);
		struct reclaim_config got = {.struct_size = sizeof(got)};
		struct reclaim_policy *p = NULL;

		assert_non_null(old);
		memset(old, 0x5A, sizeof(def) + 8);
		assert_int_equal(reclaim_config_init((struct reclaim_config *)(void *)old, size),
				 RECLAIM_OK);
		assert_int_equal(((struct reclaim_config *)(void *)old)->struct_size, size);
		assert_int_equal(old[size], 0x5A); /* nothing past the caller's size */
		assert_int_equal(reclaim_policy_new(&p, (struct reclaim_config *)(void *)old, 4),
				 RECLAIM_OK);
		assert_int_equal(reclaim_policy_get_config(p, &got), RECLAIM_OK);
		got.struct_size = def.struct_size;
		assert_memory_equal(&got, &def, sizeof(def));
		/* and an old caller reading the config back gets its own size */
		memset(old, 0x5A, sizeof(def) + 8);
		((struct reclaim_config *)(void *)old)->struct_size = (uint32_t)size;
		assert_int_equal(reclaim_policy_get_config(p, (struct reclaim_config *)(void *)old),
				 RECLAIM_OK);
		assert_int_equal(old[size], 0x5A);
		reclaim_policy_destroy(p);
		free(old);
	}
}

/* What 0.2 shipped is accepted for good: a 200-byte config (0.2's) is a
 * config, through the public calls. */
static void
config_of_0_2_accepted(void **state)
{
	unsigned char old[256];
	struct reclaim_policy *p = NULL;
	const char *field = "unset";

	(void)state;
	memset(old, 0, sizeof(old));
	assert_int_equal(reclaim_config_init((struct reclaim_config *)(void *)old, 200), RECLAIM_OK);
	assert_int_equal(((struct reclaim_config *)(void *)old)->struct_size, 200);
	assert_int_equal(reclaim_config_check((struct reclaim_config *)(void *)old, &field),
			 RECLAIM_OK);
	assert_null(field);
	assert_int_equal(reclaim_policy_new(&p, (struct reclaim_config *)(void *)old, 4), RECLAIM_OK);
	reclaim_policy_destroy(p);
}

/*
 * Every older size of the snapshot structs decides exactly as the current
 * structs holding the documented defaults, and older output structs are
 * written only up to their size.
 */
static void
older_snapshots_decide_alike(void **state)
{
	const struct abi_sizes *vt = &abi_table[ABI_VM_STATS], *ht = &abi_table[ABI_HOST];
	const struct abi_sizes *dt = &abi_table[ABI_DECISION], *st = &abi_table[ABI_SUMMARY];
	size_t combos = 0;

	(void)state;
	for (size_t a = 0; a < vt->n; a++)
		for (size_t b = 0; b < ht->n; b++)
			for (size_t c = 0; c < dt->n; c++)
				for (size_t e = 0; e < st->n; e++) {
					size_t vsize = vt->sizes[a], hsize = ht->sizes[b];
					size_t dsize = dt->sizes[c], ssize = st->sizes[e];
					struct reclaim_policy *p = tu_policy(NULL, 4), *q = tu_policy(NULL, 4);
					struct reclaim_host host = tu_host(16 * GiB, GiB, GiB / 2, SEC);
					struct reclaim_vm_stats vms[2] = {tu_vm(1, 8 * GiB, 7 * GiB, 100),
									  tu_vm(2, 8 * GiB, 7 * GiB, 300)};
					unsigned char ov[2 * sizeof(vms[0])], oh[sizeof(host)];
					unsigned char od[3 * sizeof(struct reclaim_decision)];
					unsigned char os[sizeof(struct reclaim_summary) + 8];
					struct reclaim_decision d[2];
					struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
					struct reclaim_summary *old_s = (void *)os;

					for (int i = 0; i < 2; i++) {
						vms[i].struct_size = (uint32_t)vsize;
						memcpy(ov + (size_t)i * vsize, &vms[i], vsize);
						vms[i].struct_size = sizeof(vms[i]);
					}
					host.struct_size = (uint32_t)hsize;
					memcpy(oh, &host, hsize);
					host.struct_size = sizeof(host);
					memset(od, 0x5A, sizeof(od));
					memset(os, 0x5A, sizeof(os));
					old_s->struct_size = (uint32_t)ssize;
					old_s->decision_size = (uint32_t)dsize;
					assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_OK);
					assert_int_equal(reclaim_decide(q, (void *)oh, (void *)ov, 2, 0, old_s,
									(void *)od),
							 RECLAIM_OK);
					for (int i = 0; i < 2; i++) {
						struct reclaim_decision x = d[i];

						x.struct_size = (uint32_t)dsize;
						assert_memory_equal(od + (size_t)i * dsize, &x, dsize);
					}
					assert_int_equal(od[2 * dsize], 0x5A);
					assert_int_equal(os[ssize], 0x5A);
					assert_memory_equal((char *)os + 8, (char *)&s + 8, ssize - 8);
					reclaim_policy_destroy(p);
					reclaim_policy_destroy(q);
					combos++;
				}
	print_message("# %zu combinations of shipped sizes\n", combos);
	assert_true(combos >= 1);
}

/* A VM array whose elements disagree on their size is refused. */
static void
mixed_vm_sizes_are_refused(void **state)
{
	struct reclaim_policy *p = tu_policy(NULL, 4);
	struct reclaim_host host = tu_host(16 * GiB, GiB, GiB / 2, SEC);
	struct reclaim_vm_stats vms[2] = {tu_vm(1, 8 * GiB, 7 * GiB, 100),
					  tu_vm(2, 8 * GiB, 7 * GiB, 300)};
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
	struct reclaim_decision d[2];
	struct reclaim_error err = RECLAIM_ERROR_INIT;

	(void)state;
	vms[1].struct_size = 8;
	assert_int_equal(reclaim_decide(p, &host, vms, 2, 0, &s, d), RECLAIM_E_VERSION);
	assert_int_equal(reclaim_policy_last_error(p, &err), RECLAIM_OK);
	assert_int_equal(err.where, RECLAIM_WHERE_VM);
	assert_int_equal(err.index, 1);
	assert_string_equal(err.field, "struct_size");
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_is_consistent),
		cmocka_unit_test(newer_sizes_are_refused),
		cmocka_unit_test(older_configs_get_defaults),
		cmocka_unit_test(config_of_0_2_accepted),
		cmocka_unit_test(older_snapshots_decide_alike),
		cmocka_unit_test(mixed_vm_sizes_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
