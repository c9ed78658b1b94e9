/* SPDX-License-Identifier: MIT */
/*
 * Input validation: everything that can be wrong with a call is found here,
 * before anything is written, so that an error leaves every output and the
 * policy untouched. Each fault is recorded with where it was found (the
 * argument, or the VM's index and member), which reclaim_policy_last_error()
 * hands to the caller.
 */
#include "reclaim-private.h"

int
validate_host(struct reclaim_host *full, const struct reclaim_host *host, struct fault *f)
{
	if (!abi_known(ABI_HOST, host->struct_size))
		return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_HOST, "struct_size");
	memset(full, 0, sizeof(*full));
	abi_read(full, host, host->struct_size);
	if (full->flags & ~(uint32_t)RECLAIM_HOST_SWAP_BOUNDED)
		return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_HOST, "flags");
	if (full->reserved_bytes > full->total_bytes)
		return fault_at(f, RECLAIM_E_HOST_RESERVED, RECLAIM_WHERE_HOST, "reserved_bytes");
	if (full->free_bytes > full->total_bytes)
		return fault_at(f, RECLAIM_E_HOST_FREE, RECLAIM_WHERE_HOST, "free_bytes");
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
		return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_VM, "flags");
	if (vm->configured_bytes == 0)
		return fault_at(f, RECLAIM_E_VM_SIZE, RECLAIM_WHERE_VM, "configured_bytes");
	if (vm->reservation_bytes > vm_max(vm))
		return fault_at(f, RECLAIM_E_VM_BOUNDS, RECLAIM_WHERE_VM, "reservation_bytes");
	if ((vm->flags & RECLAIM_VM_IDLE_TAX) && !(vm->idle_tax >= 0.0 && vm->idle_tax < 1.0))
		return fault_at(f, RECLAIM_E_INVAL, RECLAIM_WHERE_VM, "idle_tax");
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

/* The array itself: a struct size the library knows. */
int
validate_array(struct vm_array *out, const struct reclaim_vm_stats *vms, size_t n,
	       struct fault *f)
{
	struct vm_array a = {vms, n ? vms->struct_size : sizeof(*vms), n};

	if (n && !abi_known(ABI_VM_STATS, a.stride)) {
		f->index = 0;
		f->id = 0;
		return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_VM, "struct_size");
	}
	*out = a;
	return RECLAIM_OK;
}

void
vm_check_begin(struct vm_check *k, struct hist_table *next, const struct hist_table *cur,
	       uint32_t mask, size_t n, uint64_t free_bytes)
{
	memset(k, 0, sizeof(*k));
	k->consumed = free_bytes;
	k->same_order = cur->present == n;
	k->guess = cur->entries;
	if (!k->same_order)
		hist_clear_index(next, mask);
}

/* Ids in an order other than the last tick's: next's index, from VM 0. */
static void
index_from_start(struct vm_check *k, struct hist_table *next, uint32_t mask,
		 const struct vm_array *a, size_t i)
{
	size_t j;

	k->same_order = false;
	hist_clear_index(next, mask);
	for (j = 0; j < i; j++) /* ids of the last tick, so unique */
		hist_insert(next, mask, vm_at(a, j)->id, (uint32_t)j, &a->base->id, a->stride);
}

/*
 * VM i's old entry, and its id in @p next's index, once the ids have left
 * the last tick's order (from VM i on, when it is the first to).
 */
static const struct vm_hist *
out_of_order(struct vm_check *k, struct hist_table *next, const struct hist_table *cur,
	     uint32_t mask, const struct vm_array *a, size_t i, uint64_t id)
{
	const struct vm_hist *old;
	size_t other;

	if (k->same_order) {
		index_from_start(k, next, mask, a, i);
		k->guess = &cur->entries[i];
	}
	other = hist_insert(next, mask, id, (uint32_t)i, &a->base->id, a->stride);
	if (other && !k->dup.status) {
		k->dup.index = i;
		k->dup.other_index = other - 1;
		k->dup.id = id;
		fault_at(&k->dup, RECLAIM_E_VM_DUPLICATE, RECLAIM_WHERE_VM, "id");
	}
	/* Ids are unique in @p cur: an entry with this id is the one the
	 * index would find. Where the guess keeps missing (VMs in a new
	 * order), it is tried only now and then, to see order come back. */
	if ((k->misses < 2 || (i & 15) == 0) && k->guess < cur->entries + cur->n &&
	    k->guess->id == id) {
		k->streak++;
		k->misses = 0;
		return k->guess++;
	}
	old = hist_find(cur, mask, id);
	k->streak = 0;
	k->misses++;
	if (old)
		k->guess = old + 1;
	return old;
}

/*
 * VM i: its struct, its members, the running sums (consumed and configured
 * bytes must fit in 64 bits, as must consumed and host free memory; the
 * reservations then fit too, each being at most its VM's configured size),
 * and its id. Hypervisors usually pass their VMs in the same order
 * every tick: while the ids are those of @p cur's present VMs in its order,
 * they are known to be unique and each one's old entry is at its index.
 * Otherwise @p next's index is built as they come, which finds duplicates;
 * the first is kept in @p k and reported by vm_check_end(), once every VM
 * has passed its own checks. Each old entry is looked for first after the
 * last one found (VMs started or stopped since leave the others in their
 * order), then by the index.
 */
int
vm_check(struct vm_check *k, struct fault *f, struct hist_table *next,
	 const struct hist_table *cur, uint32_t mask, const struct vm_array *a, size_t i,
	 const struct reclaim_vm_stats *vm, const struct vm_hist **old)
{
	f->index = i;
	if (vm_at(a, i)->struct_size != a->stride) {
		f->id = 0; /* its id may not even be where we would read it */
		return fault_at(f, RECLAIM_E_VERSION, RECLAIM_WHERE_VM, "struct_size");
	}
	f->id = vm->id;
	if (validate_vm(vm, f))
		return f->status;
	if (add_overflows(&k->consumed, vm->consumed_bytes))
		return fault_at(f, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, "consumed_bytes");
	if (add_overflows(&k->configured, vm->configured_bytes))
		return fault_at(f, RECLAIM_E_OVERFLOW, RECLAIM_WHERE_VM, "configured_bytes");

	if (k->same_order && cur->entries[i].id == vm->id) {
		*old = &cur->entries[i];
		return RECLAIM_OK;
	}
	*old = out_of_order(k, next, cur, mask, a, i, vm->id);
	return RECLAIM_OK;
}

int
vm_check_end(struct vm_check *k, struct fault *f, struct hist_table *next, size_t n)
{
	if (k->dup.status) {
		*f = k->dup;
		return f->status;
	}
	next->n = n;
	next->present = n;
	return RECLAIM_OK;
}
