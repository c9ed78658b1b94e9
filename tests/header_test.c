/* The public header must compile alone, as C99 -pedantic. */
#include <reclaim.h>

int
main(void)
{
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;

	return (int)(host.struct_size + vm.struct_size + sum.struct_size) == 0;
}
