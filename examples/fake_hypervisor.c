/* SPDX-License-Identifier: MIT */
/*
 * The smallest complete embedding: a pretend host with three VMs, one
 * decision per tick for a few ticks, carried out by an adapter that prints
 * what a real hypervisor would do and updates the pretend world.
 */
#include <inttypes.h>
#include <stdio.h>

#include <reclaim.h>

#define MiB ((uint64_t)1024 * 1024)
#define GiB (1024ull * MiB)

struct world {
	struct reclaim_vm_stats vm[3];
	uint64_t total, reserved;
};

static struct reclaim_vm_stats *
find(struct world *w, uint64_t id)
{
	return &w->vm[id - 1];
}

static int
set_balloon(void *data, uint64_t id, uint64_t bytes)
{
	struct reclaim_vm_stats *vm = find(data, id);

	printf("  vm %" PRIu64 ": balloon -> %" PRIu64 " MiB\n", id, bytes / MiB);
	/* This pretend guest answers at once. */
	if (bytes > vm->balloon_bytes)
		vm->consumed_bytes -= bytes - vm->balloon_bytes;
	vm->balloon_bytes = bytes;
	return 0;
}

static int
swap_out(void *data, uint64_t id, uint64_t bytes)
{
	struct reclaim_vm_stats *vm = find(data, id);

	printf("  vm %" PRIu64 ": host-swap %" PRIu64 " MiB\n", id, bytes / MiB);
	vm->consumed_bytes -= bytes < vm->consumed_bytes ? bytes : vm->consumed_bytes;
	vm->swapped_bytes += bytes;
	return 0;
}

static int
block(void *data, uint64_t id)
{
	(void)data;
	printf("  vm %" PRIu64 ": block\n", id);
	return 0;
}

static int
unblock(void *data, uint64_t id)
{
	(void)data;
	printf("  vm %" PRIu64 ": unblock\n", id);
	return 0;
}

int
main(void)
{
	static const struct reclaim_adapter adapter = {
		.version = RECLAIM_ADAPTER_VERSION,
		.set_balloon = set_balloon,
		.swap_out = swap_out,
		.block = block,
		.unblock = unblock,
	};
	struct world w = {.total = 16 * GiB, .reserved = 1 * GiB};
	struct reclaim_config cfg;
	struct reclaim_policy *policy;
	struct reclaim_decision d[3];
	char line[512];
	int tick, i, rc;

	for (i = 0; i < 3; i++) {
		struct reclaim_vm_stats s = RECLAIM_VM_STATS_INIT;

		s.id = (uint64_t)i + 1;
		s.flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
		s.configured_bytes = 6 * GiB;
		s.consumed_bytes = 4 * GiB + (uint64_t)i * 512 * MiB;
		s.shares = 1000;
		s.active_bytes = (uint64_t)(i + 1) * GiB;
		s.guest_free_bytes = 2 * GiB;
		s.guest_swap_free_bytes = 1 * GiB;
		w.vm[i] = s;
	}
	if ((rc = RECLAIM_CONFIG_INIT_DEFAULT(&cfg)) ||
	    (rc = reclaim_policy_new(&policy, &cfg, 3))) {
		fprintf(stderr, "reclaim: %s\n", reclaim_strerror(rc));
		return 1;
	}
	for (tick = 0; tick < 4; tick++) {
		struct reclaim_host host = RECLAIM_HOST_INIT;
		struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
		uint64_t used = 0;

		for (i = 0; i < 3; i++) {
			used += w.vm[i].consumed_bytes;
			w.vm[i].stats_time_ns = (uint64_t)tick * 1000000000ull;
		}
		host.total_bytes = w.total;
		host.reserved_bytes = w.reserved;
		host.free_bytes = w.total - w.reserved - used;
		host.now_ns = (uint64_t)tick * 1000000000ull;
		rc = reclaim_decide(policy, &host, w.vm, 3, 0, &sum, d);
		if (rc) {
			fprintf(stderr, "decide: %s\n", reclaim_strerror(rc));
			break;
		}
		printf("tick %d: free %" PRIu64 " MiB, state %s, need %" PRIu64 " MiB\n", tick,
		       host.free_bytes / MiB, reclaim_state_name(sum.state),
		       sum.need_bytes / MiB);
		for (i = 0; i < 3; i++) {
			reclaim_decision_format(line, sizeof(line), &d[i]);
			printf("  %s\n", line);
		}
		reclaim_apply(policy, &adapter, &w, d, 3, NULL, 0);
	}
	reclaim_policy_destroy(policy);
	return rc ? 1 : 0;
}
