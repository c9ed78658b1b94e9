/* SPDX-License-Identifier: MIT */
/* Small builders shared by the core unit tests (header-only). */
#ifndef RECLAIM_TESTUTIL_H
#define RECLAIM_TESTUTIL_H

#include <stdint.h>
#include <string.h>

#include <reclaim.h>

#define MiB ((uint64_t)1024 * 1024)
#define GiB (1024 * MiB)
#define SEC ((uint64_t)1000000000)

/*
 * A decimal constant rounded to a double. Where doubles are computed in a
 * wider format (FLT_EVAL_METHOD 2: i386's x87), the literal 0.06 keeps long
 * double precision in a comparison, and a double member that holds 0.06 is
 * not equal to it; a cast rounds it as the assignment did.
 */
#define DBL(x) ((double)(x))

/* splitmix64: a tiny deterministic generator, independent of the library. */
static inline uint64_t
tu_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A VM with a working balloon driver and fresh guest stats at time 0. */
static inline struct reclaim_vm_stats
tu_vm(uint64_t id, uint64_t configured, uint64_t consumed, uint64_t shares)
{
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;

	vm.id = id;
	vm.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
	vm.configured_bytes = configured;
	vm.consumed_bytes = consumed;
	vm.shares = shares;
	vm.active_bytes = consumed / 4;
	vm.guest_free_bytes = configured - consumed;
	vm.guest_swap_free_bytes = configured;
	return vm;
}

static inline struct reclaim_host
tu_host(uint64_t total, uint64_t reserved, uint64_t free_bytes, uint64_t now)
{
	struct reclaim_host h = RECLAIM_HOST_INIT;

	h.total_bytes = total;
	h.reserved_bytes = reserved;
	h.free_bytes = free_bytes;
	h.now_ns = now;
	return h;
}

static inline struct reclaim_policy *
tu_policy(const struct reclaim_config *cfg, size_t capacity)
{
	struct reclaim_config def;
	struct reclaim_policy *p = NULL;

	if (!cfg) {
		reclaim_config_init(&def, sizeof(def));
		cfg = &def;
	}
	if (reclaim_policy_new(&p, cfg, capacity) != RECLAIM_OK)
		return NULL;
	return p;
}

/* The margin a guest of @p configured bytes keeps free under @p cfg: the
 * larger of guest_margin_bytes and guest_margin_fraction of its size. */
static inline uint64_t
tu_guest_margin(const struct reclaim_config *cfg, uint64_t configured)
{
	uint64_t part = (uint64_t)(cfg->guest_margin_fraction * (double)configured);

	return part > cfg->guest_margin_bytes ? part : cfg->guest_margin_bytes;
}

/* Fraction of usable memory, in bytes. */
static inline uint64_t
tu_pct(uint64_t usable, double pct)
{
	return (uint64_t)((double)usable * pct / 100.0);
}

static inline uint64_t
tu_sum_balloon(const struct reclaim_decision *d, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += d[i].balloon_target_bytes;
	return s;
}

static inline uint64_t
tu_sum_swap(const struct reclaim_decision *d, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += d[i].swap_bytes + d[i].compress_bytes;
	return s;
}

#endif
