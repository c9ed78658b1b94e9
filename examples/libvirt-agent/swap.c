/* SPDX-License-Identifier: MIT */
/*
 * Host swap mechanisms: how a decision's swap_bytes leave RAM. One today,
 * "pick": resident guest pages drawn uniformly at random with reclaim's page
 * picker and pushed out with process_madvise(MADV_PAGEOUT), as ESX's random
 * replacement does. It needs the guest RAM mappings of the QEMU process and
 * works for every backend but hugetlbfs and locked memory. Another mechanism
 * (say, kernel LRU reclaim through the VM's memory cgroup) is one more entry
 * in methods[]; --swap-method chooses.
 */
#include <errno.h>
#include <string.h>

#include "lvagent.h"

static int
pick_swap_out(struct lv_domain *d, uint64_t bytes, uint64_t *done)
{
	*done = 0;
	if (d->mem.n_regions == 0)
		return -ENOTSUP; /* guest RAM not found on this host */
	return guest_mem_page_out(done, &d->mem, bytes, &d->rng);
}

static const struct lv_swap_method methods[] = {
	{"pick", pick_swap_out},
};

const struct lv_swap_method *
lv_swap_method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(methods[i].name, name))
			return &methods[i];
	return NULL;
}

const char *
lv_swap_method_names(void)
{
	return "pick";
}
