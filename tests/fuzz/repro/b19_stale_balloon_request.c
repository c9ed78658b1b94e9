/* Reproducer for tests/fuzz/BUGS.md B19: cc -Iinclude THIS -Lbuild/lib -lreclaim */
#include <stdio.h>
#include "reclaim.h"
#define GIB (1ull << 30)
static void tick(struct reclaim_policy *p, unsigned long long free_b, unsigned flags, unsigned long long balloon, const char *what) {
	struct reclaim_host h = RECLAIM_HOST_INIT; static unsigned long long now = 1000000000000ull;
	h.total_bytes = 64 * GIB; h.free_bytes = free_b; h.now_ns = now += 1000000000ull;
	struct reclaim_vm_stats v = RECLAIM_VM_STATS_INIT;
	v.id = 1; v.flags = flags | RECLAIM_VM_GUEST_STATS; v.configured_bytes = 16 * GIB; v.consumed_bytes = 12 * GIB;
	v.shares = 1000; v.guest_free_bytes = 4 * GIB; v.guest_swap_free_bytes = 4 * GIB; v.stats_time_ns = h.now_ns; v.balloon_bytes = balloon;
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT; struct reclaim_decision d;
	int rc = reclaim_decide(p, &h, &v, 1, 0, &s, &d);
	printf("%-34s rc %d state %u balloon %llu -> target %llu actions %#x reasons %#x\n", what, rc, s.state, balloon, (unsigned long long)d.balloon_target_bytes, d.actions, d.reasons);
}
int main(void) {
	struct reclaim_config cfg; struct reclaim_policy *p;
	reclaim_config_init(&cfg, sizeof cfg); reclaim_policy_new(&p, &cfg, 4);
	unsigned long long band = 64 * GIB * 62 / 1000;
	tick(p, band, 0, 2 * GIB, "in band, no driver, 2 GiB balloon");
	tick(p, band, RECLAIM_VM_BALLOON, 0, "in band, driver back, balloon 0");
	tick(p, band, RECLAIM_VM_BALLOON, 0, "in band, again");
	return 0;
}
