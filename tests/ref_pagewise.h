/* SPDX-License-Identifier: MIT */
/*
 * The paper's literal rule, for tests and benchmarks only: revoke one page
 * at a time from the VM with the lowest price rho = S / (A + k (P - A)).
 */
#ifndef RECLAIM_REF_PAGEWISE_H
#define RECLAIM_REF_PAGEWISE_H

#include <stddef.h>
#include <stdint.h>

struct ref_vm {
	uint64_t shares;
	uint64_t lo;       /* never revoked below this */
	uint64_t alloc;    /* allocation now (the upper bound) */
	uint64_t active;   /* active bytes, held fixed as the allocation shrinks */
	double tau;        /* idle tax rate */
};

/*
 * Revokes @p need bytes, page by page, from the lowest-priced VM (ties: the
 * lowest index). VMs with zero shares are revoked first, down to lo (their
 * price is zero). Writes the final allocations to @p out and returns the
 * bytes revoked (less than need only when every VM reached lo). Allocates
 * a heap; returns UINT64_MAX if that fails.
 */
uint64_t ref_pagewise(uint64_t *out, const struct ref_vm *vms, size_t n, uint64_t need,
		      uint64_t page);

#endif
