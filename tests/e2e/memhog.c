/* SPDX-License-Identifier: MIT */
/*
 * Guest workload for the end-to-end tests, linked statically into the guest's
 * initramfs.
 *
 *   memhog [-t] [-w HOT_MIB] [-c CHURN_MIB] [-s SECONDS] MIB
 *
 * Allocates MIB MiB, writes a distinct word into every page (so no page is
 * zero-filled and the host really has to store it), prints
 * "MEMHOG-READY pid=N mib=M" and then either holds the memory (default) or,
 * with -t, keeps touching every page, which makes all of it active memory.
 * With -w it keeps touching only the first HOT_MIB MiB, a fixed working set,
 * and leaves the rest cold.
 * With -c it also allocates, touches and frees CHURN_MIB more every 100 ms,
 * as real programs keep allocating: a guest with no memory left then has to
 * reclaim or OOM-kill at once instead of sitting still.
 * With -s it frees everything and exits after SECONDS. It prints
 * "MEMHOG-ALIVE pid=N pass=P" every few seconds so the host can tell it is
 * still running, and "MEMHOG-EXIT pid=N" when it leaves normally.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
usage(void)
{
	fprintf(stderr, "usage: memhog [-t] [-w HOT_MIB] [-c CHURN_MIB] [-s SECONDS] MIB\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int touch = 0;
	unsigned long hot_mib = 0;
	unsigned long churn = 0;
	double seconds = -1.0;
	int opt;

	while ((opt = getopt(argc, argv, "tw:c:s:")) != -1) {
		switch (opt) {
		case 't':
			touch = 1;
			break;
		case 'w':
			touch = 1;
			hot_mib = strtoul(optarg, NULL, 10);
			if (hot_mib == 0)
				usage();
			break;
		case 'c':
			churn = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();

	char *end;
	unsigned long mib = strtoul(argv[optind], &end, 10);
	if (*end != '\0' || mib == 0 || mib > 65536)
		usage();

	size_t bytes = (size_t)mib << 20;
	size_t pages = bytes / PAGE;
	size_t hot_pages = hot_mib && hot_mib < mib ? ((size_t)hot_mib << 20) / PAGE : pages;
	void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		printf("MEMHOG-FAIL mmap: %s\n", strerror(errno));
		return 1;
	}
	/* volatile: the touching loop must really write every page. */
	volatile uint64_t *mem = base;
	pid_t pid = getpid();
	for (size_t i = 0; i < pages; i++)
		mem[i * (PAGE / sizeof(uint64_t))] = ((uint64_t)pid << 32) ^ i ^ 0x5a5a5a5aull;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("MEMHOG-READY pid=%d mib=%lu\n", (int)pid, mib);

	double start = now_s();
	double last_report = start;
	unsigned long pass = 0;
	while (seconds < 0 || now_s() - start < seconds) {
		if (touch) {
			for (size_t i = 0; i < hot_pages; i++)
				mem[i * (PAGE / sizeof(uint64_t))] += 1;
			pass++;
			nap_ms(50);
		} else {
			nap_ms(churn ? 100 : 200);
		}
		if (churn) {
			size_t cbytes = (size_t)churn << 20;
			char *c = mmap(NULL, cbytes, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (c != MAP_FAILED) {
				for (size_t off = 0; off < cbytes; off += PAGE)
					c[off] = 1;
				munmap(c, cbytes);
			}
		}
		if (now_s() - last_report >= 2.0) {
			printf("MEMHOG-ALIVE pid=%d pass=%lu\n", (int)pid, pass);
			last_report = now_s();
		}
	}
	munmap(base, bytes);
	printf("MEMHOG-EXIT pid=%d\n", (int)pid);
	return 0;
}
