/* SPDX-License-Identifier: MIT */
/*
 * Input validation: everything that can be wrong with a call is found here,
 * before anything is written, so that an error leaves every output and the
 * policy untouched (design.md section 6).
 */
#include "reclaim-private.h"

int
validate_host(const struct reclaim_host *host)
{
	if (host->struct_size != sizeof(*host))
		return RECLAIM_E_VERSION;
	if (host->flags & ~(uint32_t)RECLAIM_HOST_SWAP_BOUNDED)
		return RECLAIM_E_INVAL;
	if (host->reserved_bytes > host->total_bytes)
		return RECLAIM_E_HOST_RESERVED;
	if (host->free_bytes > host->total_bytes)
		return RECLAIM_E_HOST_FREE;
	return RECLAIM_OK;
}

#define KNOWN_VM_FLAGS                                                        \
	(RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS | RECLAIM_VM_IDLE_TAX |  \
	 RECLAIM_VM_COMPRESS)

static int
validate_vm(const struct reclaim_vm_stats *vm)
{
	if (vm->struct_size != sizeof(*vm))
		return RECLAIM_E_VERSION;
	if (vm->flags & ~(uint32_t)KNOWN_VM_FLAGS)
		return RECLAIM_E_INVAL;
	if (vm->configured_bytes == 0)
		return RECLAIM_E_VM_SIZE;
	if (vm->reservation_bytes > min_u64(vm->configured_bytes, vm->limit_bytes))
		return RECLAIM_E_VM_BOUNDS;
	if ((vm->flags & RECLAIM_VM_IDLE_TAX) && !(vm->idle_tax >= 0.0 && vm->idle_tax < 1.0))
		return RECLAIM_E_INVAL;
	return RECLAIM_OK;
}

static bool
add_overflows(uint64_t *sum, uint64_t x)
{
	if (*sum > UINT64_MAX - x)
		return true;
	*sum += x;
	return false;
}

/*
 * Checks every VM and builds @p next's index of their ids (which finds
 * duplicates). Sums of consumed, configured and reserved bytes must fit in
 * 64 bits, as must the sum of consumed and host free memory.
 *
 * Hypervisors usually pass their VMs in the same order every tick: when the
 * ids are exactly those of @p cur, in its order, they are known to be unique
 * and @p cur's index still holds; *same_order says so and no index is built.
 */
int
validate_vms(struct hist_table *next, const struct hist_table *cur, uint32_t mask,
	     const struct reclaim_vm_stats *vms, size_t n, uint64_t free_bytes, bool *same_order)
{
	uint64_t consumed = free_bytes, configured = 0, reserved = 0;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = validate_vm(&vms[i]);
		if (rc)
			return rc;
		if (add_overflows(&consumed, vms[i].consumed_bytes) ||
		    add_overflows(&configured, vms[i].configured_bytes) ||
		    add_overflows(&reserved, vms[i].reservation_bytes))
			return RECLAIM_E_OVERFLOW;
	}
	*same_order = cur->n == n;
	for (i = 0; i < n && *same_order; i++)
		*same_order = cur->entries[i].id == vms[i].id;
	if (*same_order) {
		next->n = n;
		return RECLAIM_OK;
	}
	hist_clear_index(next, mask);
	for (i = 0; i < n; i++) {
		if (!hist_insert(next, mask, vms[i].id, (uint32_t)i, &vms[0].id, sizeof(vms[0])))
			return RECLAIM_E_VM_DUPLICATE;
	}
	next->n = n;
	return RECLAIM_OK;
}
