/* SPDX-License-Identifier: MIT */
#include "ref_pagewise.h"

#include <stdlib.h>

struct node {
	double rho;
	size_t vm;
};

static double
price(const struct ref_vm *v, uint64_t alloc)
{
	double a = (double)v->active, p = (double)alloc, k = 1.0 / (1.0 - v->tau);
	double cost = p <= a ? p : a + k * (p - a);

	return cost > 0.0 ? (double)v->shares / cost : 0.0;
}

static int
before(const struct node *x, const struct node *y)
{
	return x->rho < y->rho || (x->rho == y->rho && x->vm < y->vm);
}

static void
sift_down(struct node *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct node t;

		if (l < n && before(&h[l], &h[m]))
			m = l;
		if (r < n && before(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

uint64_t
ref_pagewise(uint64_t *out, const struct ref_vm *vms, size_t n, uint64_t need, uint64_t page)
{
	struct node *heap = malloc((n ? n : 1) * sizeof(*heap));
	uint64_t got = 0;
	size_t i, m = 0;

	if (!heap)
		return UINT64_MAX;
	for (i = 0; i < n; i++) {
		out[i] = vms[i].alloc;
		if (vms[i].shares == 0 && vms[i].alloc > vms[i].lo) {
			got += vms[i].alloc - vms[i].lo;
			out[i] = vms[i].lo;
		}
	}
	for (i = 0; i < n; i++) {
		if (out[i] > vms[i].lo && vms[i].shares > 0) {
			heap[m].rho = price(&vms[i], out[i]);
			heap[m].vm = i;
			m++;
		}
	}
	for (i = m / 2; i-- > 0;)
		sift_down(heap, m, i);
	while (got < need && m > 0) {
		size_t v = heap[0].vm;
		uint64_t take = out[v] - vms[v].lo;

		if (take > page)
			take = page;
		out[v] -= take;
		got += take;
		if (out[v] > vms[v].lo) {
			heap[0].rho = price(&vms[v], out[v]);
		} else {
			heap[0] = heap[--m];
		}
		sift_down(heap, m, 0);
	}
	free(heap);
	return got;
}
