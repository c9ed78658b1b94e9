/* SPDX-License-Identifier: MIT */
/*
 * Input validation: everything that can be wrong with a call is found here,
 * before anything is written, so that an error leaves every output and the
 * policy untouched. Each fault is recorded with where it was found (the
 * argument, or the VM's index and member), which reclaim_policy_last_error()
 * hands to the caller.
 */
#include "reclaim-private.h"

static int
fault(struct fault *f, int status, uint32_t where, const char *field)
{
	f->status = status;
	f->where = where;
	f->field = field;
	return status;
}

int
validate_host(struct reclaim_host *full, const struct reclaim_host *host, struct fault *f)
{
	if (!abi_known(ABI_HOST, host->struct_size))
		return fault(f, RECLAIM_E_VERSION, RECLAIM_WHERE_HOST, "struct_size");
	memset(full, 0, sizeof(*full));
	abi_read(full, host, host->struct_size);
	if (full->flags & ~(uint32_t)RECLAIM_HOST_SWAP_BOUNDED)
		return fault(f, RECLAIM_E_INVAL, RECLAIM_WHERE_HOST, "flags");
	if (full->reserved_bytes > full->total_bytes)
		return fault(f, RECLAIM_E_HOST_RESERVED, RECLAIM_WHERE_HOST, "reserved_bytes");
	if (full->free_bytes > full->total_bytes)
		return fault(f, RECLAIM_E_HOST_FREE, RECLAIM_WHERE_HOST, "free_bytes");
	return RECLAIM_OK;
}

/* What a VM's members read as when the caller's struct predates them. */
static const struct reclaim_vm_stats vm_defaults = RECLAIM_VM_STATS_INIT;

const struct reclaim_vm_stats *
vm_read_old(struct reclaim_vm_stats *tmp, const struct vm_array *a, size_t i)
{
	*tmp = vm_defaults;
	abi_read(tmp, vm_at(a, i), a->stride);
	return tmp;
}

#define KNOWN_VM_FLAGS                                                        \
	(RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS | RECLAIM_VM_IDLE_TAX |  \
	 RECLAIM_VM_COMPRESS | RECLAIM_VM_RESIZED)

static int
validate_vm(const struct reclaim_vm_stats *vm, struct fault *f)
{
	if (vm->flags & ~(uint32_t)KNOWN_VM_FLAGS)
		return fault(f, RECLAIM_E_INVAL, RECLAIM_WHERE_VM, "flags");
	if (vm->configured_bytes == 0)
		return fault(f, RECLAIM_E_VM_SIZE, RECLAIM_WHERE_VM, "configured_bytes");
	if (vm->reservation_bytes > vm_max(vm))
		return fault(f, RECLAIM_E_VM_BOUNDS, RECLAIM_WHERE_VM, "reservation_bytes");
	if ((vm->flags & RECLAIM_VM_IDLE_TAX) && !(vm->idle_tax >= 0.0 && vm->idle_tax < 1.0))
		return fault(f, RECLAIM_E_INVAL, RECLAIM_WHERE_VM, "idle_tax");
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
 * Every VM, and the sums of consumed, configured and reserved bytes, which
 * must fit in 64 bits, as must the sum of consumed and host free memory.
 */
int
validate_vms(struct vm_array *out, const struct reclaim_vm_stats *vms, size_t n,
	     uint64_t free_bytes, struct fault *f)
{
	uint64_t consumed = free_bytes, configured = 0, reserved = 0;
	struct vm_array a = {vms, n ? vms->struct_size : sizeof(*vms), n};
	struct reclaim_vm_stats tmp;
	size_t i;

	if (n && !abi_known(ABI_VM_STATS, a.stride)) {
		f->index = 0;
		f->id = 0;
		return fault(f, RECLAIM_E_VERSION, RECLAIM_WHERE_VM, "struct_size");
	}
	for (i = 0; i < n; i++) {
		const struct reclaim_vm_stats *vm;

		f->index = i;
		if (vm_at(&a, i)->struct_size != a.stride) {
			f->id = 0; /* its id may not even be where we would read it */
			return fault(f, RECLAIM_E_VERSION, RECLAIM_WHERE_VM, "struct_size");
		}
		vm = vm_read(&tmp, &a, i);
		f->id = vm->id;
		if (validate_vm(vm, f))
			return f->status;
		if (add_overflows(&consumed, vm->consumed_bytes))
			return fault(f, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, "consumed_bytes");
		if (add_overflows(&configured, vm->configured_bytes))
			return fault(f, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, "configured_bytes");
		if (add_overflows(&reserved, vm->reservation_bytes))
			return fault(f, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, "reservation_bytes");
	}
	*out = a;
	return RECLAIM_OK;
}

/*
 * Hypervisors usually pass their VMs in the same order every tick: when the
 * ids are exactly those of @p cur's present VMs, in its order, they are
 * known to be unique and @p cur's index still holds.
 */
int
validate_ids(struct hist_table *next, const struct hist_table *cur, uint32_t mask,
	     const struct vm_array *vms, bool *same_order, struct fault *f)
{
	size_t i, n = vms->n;

	*same_order = cur->present == n;
	for (i = 0; i < n && *same_order; i++)
		*same_order = cur->entries[i].id == vm_at(vms, i)->id;
	if (!*same_order) {
		hist_clear_index(next, mask);
		for (i = 0; i < n; i++) {
			size_t other = hist_insert(next, mask, vm_at(vms, i)->id, (uint32_t)i,
						   &vms->base->id, vms->stride);

			if (other) {
				f->index = i;
				f->other_index = other - 1;
				f->id = vm_at(vms, i)->id;
				return fault(f, RECLAIM_E_VM_DUPLICATE, RECLAIM_WHERE_VM, "id");
			}
		}
	}
	next->n = n;
	next->present = n;
	return RECLAIM_OK;
}
