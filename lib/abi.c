/* SPDX-License-Identifier: MIT */
/*
 * The library's promise that structs only grow at the end, kept in one
 * place: every size of every public struct it has shipped, oldest first.
 * A caller compiled against an older header passes an older, smaller size;
 * the library reads such a struct as if its missing members held their
 * documented defaults, and writes output structs only up to the caller's
 * size. A size not listed here is RECLAIM_E_VERSION.
 *
 * Appending a member to a public struct means: append its new size here
 * (never change a listed one), give the member a documented default that
 * the reading code starts from, and add a test in which a caller passing
 * the previous size gets that default.
 */
#include "reclaim-private.h"

static const uint32_t config_sizes[] = {200 /* 0.2 */, 240 /* 0.3 */};
static const uint32_t host_sizes[] = {48 /* 0.2 */};
static const uint32_t vm_stats_sizes[] = {136 /* 0.2 */};
static const uint32_t decision_sizes[] = {96 /* 0.2 */};
static const uint32_t summary_sizes[] = {136 /* 0.2 */};
static const uint32_t apply_result_sizes[] = {32 /* 0.2 */};
static const uint32_t estimator_sizes[] = {56 /* 0.2 */};
/* Structs with pointers differ between 32- and 64-bit targets: their sizes
 * are written as sizeof of what shipped (48 and 48 bytes on LP64). */
static const uint32_t error_sizes[] = {sizeof(struct reclaim_error) /* 0.2 */};
/* The adapter is versioned: its version v has the size adapter_sizes[v - 1]. */
static const uint32_t adapter_sizes[] = {sizeof(struct reclaim_adapter) /* 1, in 0.2 */};

#define ENTRY(kind, type, array)                                                       \
	[kind] = {"struct " #type, array, sizeof(array) / sizeof(array[0])}

const struct abi_sizes abi_table[ABI_STRUCTS] = {
	ENTRY(ABI_CONFIG, reclaim_config, config_sizes),
	ENTRY(ABI_HOST, reclaim_host, host_sizes),
	ENTRY(ABI_VM_STATS, reclaim_vm_stats, vm_stats_sizes),
	ENTRY(ABI_DECISION, reclaim_decision, decision_sizes),
	ENTRY(ABI_SUMMARY, reclaim_summary, summary_sizes),
	ENTRY(ABI_APPLY_RESULT, reclaim_apply_result, apply_result_sizes),
	ENTRY(ABI_ESTIMATOR, reclaim_estimator, estimator_sizes),
	ENTRY(ABI_ERROR, reclaim_error, error_sizes),
	ENTRY(ABI_ADAPTER, reclaim_adapter, adapter_sizes),
};

/* tests/test_abi.c checks that the newest size of each row is the struct
 * this library is built with. */

bool
abi_known(enum abi_struct kind, size_t size)
{
	const struct abi_sizes *t = &abi_table[kind];
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->sizes[i] == size)
			return true;
	}
	return false;
}

void
abi_read(void *full, const void *in, size_t size)
{
	memcpy(full, in, size);
}

size_t
abi_adapter_size(uint32_t version)
{
	if (version < 1 || version > sizeof(adapter_sizes) / sizeof(adapter_sizes[0]))
		return 0;
	return adapter_sizes[version - 1];
}
