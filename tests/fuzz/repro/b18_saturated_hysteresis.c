/* Reproducer for tests/fuzz/BUGS.md B18: cc -Iinclude THIS -Lbuild/lib -lreclaim */
#include <stdio.h>
#include <stdint.h>
#include "reclaim.h"
int main(void) {
	struct reclaim_config cfg; struct reclaim_policy *p;
	reclaim_config_init(&cfg, sizeof cfg); cfg.hysteresis = 0.999999;
	printf("new %d\n", reclaim_policy_new(&p, &cfg, 1));
	struct reclaim_host h = RECLAIM_HOST_INIT; h.total_bytes = UINT64_MAX; h.now_ns = 1;
	struct reclaim_summary s = RECLAIM_SUMMARY_INIT;
	h.free_bytes = 0; reclaim_decide(p, &h, NULL, 0, 0, &s, NULL);
	printf("free 0: state %u\n", s.state);
	h.free_bytes = UINT64_MAX; reclaim_decide(p, &h, NULL, 0, 0, &s, NULL);
	printf("free 2^64-1 (< low + margin = %.4g): state %u (expected 3, low)\n", 0.01 * 18446744073709551615.0 + 0.999999 * 18446744073709551615.0, s.state);
	return 0;
}
