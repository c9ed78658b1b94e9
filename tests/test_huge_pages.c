/* SPDX-License-Identifier: MIT */
/*
 * The policy's own memory asks for transparent huge pages. Seen only where
 * the kernel hands them out on request ("madvise" mode) and says which
 * mappings may have them; elsewhere the whole file reports a TAP skip
 * (cmocka's per-test skip reads as a failure to Meson's TAP parser).
 */
#define _DEFAULT_SOURCE 1 /* madvise() and MADV_HUGEPAGE */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <reclaim.h>

/* Transparent huge pages in "madvise" mode, where a mapping gets them only
 * on request: 1; another mode: 0; no such thing here: -1. */
static int
thp_on_request(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[madvise]") != NULL;
}

/* Whether the mapping holding @p addr may have transparent huge pages
 * (/proc/self/smaps); -1 when the kernel does not say. */
static int
thp_eligible(const void *addr)
{
	char line[512];
	uintptr_t a = (uintptr_t)addr;
	bool inside = false;
	int found = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		int eligible;

		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = a >= lo && a < hi;
		else if (inside && sscanf(line, "THPeligible: %d", &eligible) == 1)
			found = eligible;
	}
	fclose(f);
	return found;
}

/* Whether a mapping of our own that asks for huge pages is seen to get them:
 * not where the kernel does not say, where the request is refused (a
 * process that may not have them) or does not reach the kernel (qemu-user
 * does not pass it on). */
static int
thp_request_shows(void)
{
	const size_t len = (size_t)16 << 20;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int shows;

	if (m == MAP_FAILED)
		return 0;
	shows = madvise(m, len, MADV_HUGEPAGE) == 0 && thp_eligible((char *)m + len / 2) == 1;
	munmap(m, len);
	return shows;
}

/*
 * The memory reclaim_policy_new() and reclaim_policy_resize() allocate is
 * asked to be backed by huge pages: in "madvise" mode its mapping is then
 * eligible, which it is not without the request.
 */
static void
own_memory_asks_for_huge_pages(void **state)
{
	const size_t vms = 100000; /* tens of megabytes: huge pages fit inside */
	struct reclaim_config c;
	struct reclaim_policy *p = NULL;

	(void)state;
	reclaim_config_init(&c, sizeof(c));
	assert_int_equal(reclaim_policy_new(&p, &c, vms), RECLAIM_OK);
	assert_int_equal(thp_eligible((const char *)p + reclaim_policy_memory_size(vms) / 2), 1);
	assert_int_equal(reclaim_policy_resize(&p, 2 * vms), RECLAIM_OK);
	assert_int_equal(thp_eligible((const char *)p + reclaim_policy_memory_size(2 * vms) / 2), 1);
	reclaim_policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(own_memory_asks_for_huge_pages),
	};

	if (thp_on_request() != 1) {
		printf("1..0 # SKIP transparent huge pages are not in madvise mode here\n");
		return 0;
	}
	if (!thp_request_shows()) {
		printf("1..0 # SKIP a mapping that asks for huge pages is not seen to get them "
		       "here\n");
		return 0;
	}
	return cmocka_run_group_tests_name("huge pages", tests, NULL, NULL);
}
