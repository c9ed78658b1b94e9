/* SPDX-License-Identifier: MIT */
/*
 * The policy object: its memory (one block, sized at creation, copied to a
 * larger block to grow), its configuration, and the record of the last
 * failed call. Nothing here decides.
 */
#define _DEFAULT_SOURCE 1 /* madvise() and MADV_HUGEPAGE, where there are */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "reclaim-private.h"

#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~(size_t)((a) - 1))
#define MAX_CAPACITY ((size_t)1 << 28)
#define WORK_ALIGN 64 /* a cache line */

/* At most 2^28 VMs, and fewer where size_t is 32 bits: the memory a
 * capacity needs (two histories, the working lines, the index and the
 * solver's scratch, a few hundred bytes a VM) must not wrap around. */
static bool
capacity_ok(size_t capacity)
{
	size_t per_vm = 2 * sizeof(struct vm_hist) + sizeof(struct vm_work) +
			sizeof(uint32_t) * (1 + 2 * 4); /* scratch, and two indexes of <= 4 slots a VM */

	return capacity > 0 && capacity <= MAX_CAPACITY && capacity <= SIZE_MAX / 2 / per_vm;
}

struct layout {
	size_t hist[2], slots[2], work, active, total;
};

static void
policy_layout(struct layout *l, size_t capacity)
{
	size_t off = ALIGN_UP(sizeof(struct reclaim_policy), 16);
	size_t slots = hist_slots(capacity);
	int i;

	for (i = 0; i < 2; i++) {
		l->hist[i] = off;
		off = ALIGN_UP(off + capacity * sizeof(struct vm_hist), 16);
	}
	for (i = 0; i < 2; i++) {
		l->slots[i] = off;
		off = ALIGN_UP(off + slots * sizeof(uint32_t), 16);
	}
	/* (the working lines start on a cache line wherever the block lies:
	 * room to move them up to one) */
	l->work = off;
	off = ALIGN_UP(off + capacity * sizeof(struct vm_work) + (WORK_ALIGN - 16), 16);
	l->active = off;
	off = ALIGN_UP(off + capacity * sizeof(uint32_t), 16);
	l->total = off;
}

size_t
reclaim_policy_memory_size(size_t capacity)
{
	struct layout l;

	if (!capacity_ok(capacity))
		return 0;
	policy_layout(&l, capacity);
	return l.total;
}

static struct reclaim_policy *
policy_place(void *memory, const struct reclaim_config *cfg, size_t capacity, bool owned)
{
	struct reclaim_policy *p = memory;
	char *base = memory;
	struct layout l;
	int i;

	policy_layout(&l, capacity);
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->capacity = capacity;
	p->mask = (uint32_t)(hist_slots(capacity) - 1);
	p->state = -1;
	p->owned = owned;
	for (i = 0; i < 2; i++) {
		p->hist[i].entries = (struct vm_hist *)(void *)(base + l.hist[i]);
		p->hist[i].slots = (uint32_t *)(void *)(base + l.slots[i]);
		hist_clear_index(&p->hist[i], p->mask);
	}
	p->work = (struct vm_work *)(void *)(base + l.work +
					     (-(uintptr_t)(base + l.work) & (WORK_ALIGN - 1)));
	p->active = (uint32_t *)(void *)(base + l.active);
	p->in_use = &p->in_use_word;
	atomic_init(p->in_use, 0);
	return p;
}

static int
check_new(struct reclaim_config *full, const struct reclaim_config *cfg, size_t capacity)
{
	const char *field;

	if (!cfg)
		return RECLAIM_E_NULL;
	if (!capacity_ok(capacity))
		return RECLAIM_E_INVAL;
	return config_read(full, cfg, &field);
}

/*
 * A block of the library's own. A large one is asked to be backed by huge
 * pages where the system offers them on request (Linux's transparent huge
 * pages in "madvise" mode): with a hundred thousand VMs and more, looking
 * up histories out of order otherwise misses the TLB on nearly every VM.
 * Only advice: where it is refused, or where there is no such thing, the
 * block works as it is.
 */
static void *
block_alloc(size_t bytes)
{
	void *mem = malloc(bytes);

#if defined(__linux__) && defined(MADV_HUGEPAGE)
	if (mem) {
		const uintptr_t huge = (uintptr_t)1 << 21;
		uintptr_t from = ((uintptr_t)mem + huge - 1) & ~(huge - 1);
		uintptr_t to = ((uintptr_t)mem + bytes) & ~(huge - 1);

		if (to > from)
			(void)madvise((void *)from, to - from, MADV_HUGEPAGE);
	}
#endif
	return mem;
}

int
reclaim_policy_new(struct reclaim_policy **out, const struct reclaim_config *cfg, size_t capacity)
{
	struct reclaim_config full;
	void *mem;
	int rc;

	if (!out)
		return RECLAIM_E_NULL;
	rc = check_new(&full, cfg, capacity);
	if (rc)
		return rc;
	mem = block_alloc(reclaim_policy_memory_size(capacity));
	if (!mem)
		return RECLAIM_E_NOMEM;
	*out = policy_place(mem, &full, capacity, true);
	return RECLAIM_OK;
}

static int
check_memory(const void *memory, size_t bytes, size_t capacity)
{
	if ((uintptr_t)memory % 16 != 0)
		return RECLAIM_E_INVAL;
	if (bytes < reclaim_policy_memory_size(capacity))
		return RECLAIM_E_NOSPACE;
	return RECLAIM_OK;
}

int
reclaim_policy_init(struct reclaim_policy **out, void *memory, size_t bytes,
		    const struct reclaim_config *cfg, size_t capacity)
{
	struct reclaim_config full;
	int rc;

	if (!out || !memory)
		return RECLAIM_E_NULL;
	rc = check_new(&full, cfg, capacity);
	if (rc)
		return rc;
	rc = check_memory(memory, bytes, capacity);
	if (rc)
		return rc;
	*out = policy_place(memory, &full, capacity, false);
	return RECLAIM_OK;
}

static size_t
policy_bytes(const struct reclaim_policy *p)
{
	return reclaim_policy_memory_size(p->capacity);
}

/* Everything @p from knows, in a new block; the absent VMs that do not fit
 * are the ones absent longest, and are dropped. */
static struct reclaim_policy *
policy_copy(void *memory, const struct reclaim_policy *from, size_t capacity, bool owned)
{
	struct reclaim_policy *p = policy_place(memory, &from->cfg, capacity, owned);
	const struct hist_table *src = &from->hist[from->cur];
	struct hist_table *dst = &p->hist[0];
	size_t i;

	p->state = from->state;
	p->lambda = from->lambda;
	p->error = from->error;
	dst->n = min_u64(src->n, capacity);
	dst->present = src->present;
	memcpy(dst->entries, src->entries, dst->n * sizeof(*dst->entries));
	for (i = 0; i < dst->n; i++)
		hist_insert(dst, p->mask, dst->entries[i].id, (uint32_t)i, &dst->entries[0].id,
			    sizeof(dst->entries[0]));
	return p;
}

static int
check_copy(const struct reclaim_policy *from, size_t capacity)
{
	if (!capacity_ok(capacity))
		return RECLAIM_E_INVAL;
	if (capacity < from->hist[from->cur].present)
		return RECLAIM_E_CAPACITY;
	return RECLAIM_OK;
}

int
reclaim_policy_copy(struct reclaim_policy **out, void *memory, size_t bytes,
		    const struct reclaim_policy *from, size_t capacity)
{
	int rc;

	if (!out || !memory || !from)
		return RECLAIM_E_NULL;
	if (!policy_enter(from))
		return RECLAIM_E_BUSY;
	rc = check_copy(from, capacity);
	if (!rc)
		rc = check_memory(memory, bytes, capacity);
	/* (the memory the copy writes, not @p bytes: a caller may pass more
	 * than it has, and memory + bytes could wrap) */
	if (!rc && mem_overlap(memory, reclaim_policy_memory_size(capacity), from, policy_bytes(from)))
		rc = RECLAIM_E_INVAL;
	if (!rc)
		*out = policy_copy(memory, from, capacity, false);
	policy_leave(from);
	return rc;
}

int
reclaim_policy_resize(struct reclaim_policy **policy, size_t capacity)
{
	struct reclaim_policy *from;
	void *mem;
	int rc;

	if (!policy || !*policy)
		return RECLAIM_E_NULL;
	from = *policy;
	if (!policy_enter(from))
		return RECLAIM_E_BUSY;
	rc = from->owned ? check_copy(from, capacity) : RECLAIM_E_INVAL;
	mem = rc ? NULL : block_alloc(reclaim_policy_memory_size(capacity));
	if (!rc && !mem)
		rc = RECLAIM_E_NOMEM;
	if (rc) {
		policy_leave(from);
		return rc;
	}
	*policy = policy_copy(mem, from, capacity, true);
	free(from);
	return RECLAIM_OK;
}

size_t
reclaim_policy_capacity(const struct reclaim_policy *policy)
{
	return policy ? policy->capacity : 0;
}

void
reclaim_policy_destroy(struct reclaim_policy *policy)
{
	/* Not while a call has it (an adapter callback of its own apply):
	 * that call would go on in freed memory. */
	if (policy && policy->owned && policy_enter(policy))
		free(policy);
}

int
policy_fail(struct reclaim_policy *p, const struct fault *f)
{
	p->error = *f;
	return f->status;
}

int
reclaim_policy_set_config(struct reclaim_policy *policy, const struct reclaim_config *cfg)
{
	struct reclaim_config full;
	struct fault f = {0};

	if (!policy)
		return RECLAIM_E_NULL;
	if (!policy_enter(policy))
		return RECLAIM_E_BUSY;
	if (!cfg) {
		f = (struct fault){.status = RECLAIM_E_NULL, .where = RECLAIM_WHERE_ARGUMENT,
				   .field = "cfg"};
		policy_fail(policy, &f);
	} else if ((f.status = config_read(&full, cfg, &f.field))) {
		f.where = RECLAIM_WHERE_CONFIG;
		policy_fail(policy, &f);
	} else {
		policy->cfg = full;
	}
	policy_leave(policy);
	return f.status;
}

int
reclaim_policy_get_config(const struct reclaim_policy *policy, struct reclaim_config *cfg)
{
	struct reclaim_config c;

	if (!cfg || !policy)
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_CONFIG, cfg->struct_size))
		return RECLAIM_E_VERSION;
	if (!policy_enter(policy))
		return RECLAIM_E_BUSY;
	c = policy->cfg;
	policy_leave(policy);
	c.struct_size = cfg->struct_size;
	memcpy(cfg, &c, cfg->struct_size);
	return RECLAIM_OK;
}

int
reclaim_policy_last_error(const struct reclaim_policy *policy, struct reclaim_error *error)
{
	const struct fault *f;
	struct reclaim_error e;

	if (!policy || !error)
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_ERROR, error->struct_size))
		return RECLAIM_E_VERSION;
	if (!policy_enter(policy))
		return RECLAIM_E_BUSY;
	f = &policy->error;
	memset(&e, 0, sizeof(e));
	e.struct_size = error->struct_size;
	e.status = f->status;
	e.where = f->where;
	e.index = f->index;
	e.other_index = f->other_index;
	e.id = f->id;
	e.field = f->field;
	policy_leave(policy);
	memcpy(error, &e, error->struct_size);
	return RECLAIM_OK;
}
