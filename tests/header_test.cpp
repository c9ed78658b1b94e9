// The public header must compile alone as C++.
#include <reclaim.h>

int
main()
{
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_vm_stats vm = RECLAIM_VM_STATS_INIT;
	return (host.struct_size + vm.struct_size) == 0;
}
