/* SPDX-License-Identifier: MIT */
/*
 * The guest's RAM seen from the host. QEMU backs it with a memfd
 * (-object memory-backend-memfd,share=on), so it is one shared mapping in the
 * QEMU process, named "/memfd:..." in /proc/<pid>/maps: its Rss is the VM's
 * machine memory, its Swap what the host has swapped out, and its pages can
 * be pushed to swap from outside with process_madvise(MADV_PAGEOUT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"

#if !defined(SYS_pidfd_open) || !defined(SYS_process_madvise) || !defined(MADV_PAGEOUT)
#error "qemu-agent needs Linux >= 5.10 headers (pidfd_open, process_madvise, MADV_PAGEOUT)"
#endif

#define PAGEMAP_PRESENT (1ull << 63)
#define IOV_BATCH 512 /* below every kernel's UIO_MAXIOV (1024) */

static FILE *
proc_open(pid_t pid, const char *file, const char *mode)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return fopen(path, mode);
}

int
guest_mem_open(struct guest_mem *m, pid_t pid, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->pidfd = -1;
	m->pid = pid;
	long ps = sysconf(_SC_PAGESIZE);
	m->page_size = ps > 0 ? (uint64_t)ps : 4096;

	FILE *f = proc_open(pid, "maps", "r");
	if (f == NULL)
		return -errno;
	char line[512];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		uint64_t start, end;
		char perms[8];
		int path_at = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n",
			   &start, &end, perms, &path_at) != 3 || path_at == 0)
			continue;
		if (strncmp(line + path_at, "/memfd:", 7) != 0 || perms[3] != 's' ||
		    end - start != size)
			continue;
		m->start = start;
		m->len = end - start;
		found = 1;
	}
	fclose(f);
	if (!found)
		return -ENOENT;

	m->resident = calloc(m->len / m->page_size, sizeof(*m->resident));
	if (m->resident == NULL)
		return -ENOMEM;
	/* Without pidfd_open (Linux < 5.3, or valgrind) the guest can still be
	 * ballooned; guest_mem_page_out() then fails. */
	m->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (m->pidfd < 0 && errno != ENOSYS) {
		int err = -errno;
		guest_mem_close(m);
		return err;
	}
	return 0;
}

void
guest_mem_close(struct guest_mem *m)
{
	if (m->pidfd >= 0)
		close(m->pidfd);
	m->pidfd = -1;
	free(m->resident);
	m->resident = NULL;
}

int
guest_mem_usage(struct guest_mem_usage *u, const struct guest_mem *m)
{
	FILE *f = proc_open(m->pid, "smaps", "r");
	if (f == NULL)
		return errno == ENOENT ? -ESRCH : -errno;

	char header[32];
	snprintf(header, sizeof(header), "%" PRIx64 "-", m->start);
	size_t header_len = strlen(header);
	char line[512];
	int in_mapping = 0, found = 0;
	struct guest_mem_usage got = {0};
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!in_mapping) {
			in_mapping = strncmp(line, header, header_len) == 0;
			continue;
		}
		unsigned long long kb;
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			got.rss_bytes = (uint64_t)kb << 10;
		else if (sscanf(line, "Swap: %llu kB", &kb) == 1)
			got.swap_bytes = (uint64_t)kb << 10;
		else if (sscanf(line, "Referenced: %llu kB", &kb) == 1)
			got.referenced_bytes = (uint64_t)kb << 10;
		else if (strncmp(line, "VmFlags:", 8) == 0) {
			found = 1; /* the last field of a mapping */
			break;
		}
	}
	fclose(f);
	if (!found)
		return -ENOENT;
	*u = got;
	return 0;
}

int
guest_mem_clear_refs(const struct guest_mem *m)
{
	FILE *f = proc_open(m->pid, "clear_refs", "w");
	if (f == NULL)
		return -errno;
	int ok = fputs("1\n", f) >= 0;
	ok = (fclose(f) == 0) && ok;
	return ok ? 0 : -EIO;
}

/* Indices of the mapping's resident pages into m->resident; their count. */
static int
read_resident(size_t *count, struct guest_mem *m)
{
	FILE *f = proc_open(m->pid, "pagemap", "r");
	if (f == NULL)
		return -errno;
	int fd = fileno(f);
	uint64_t pages = m->len / m->page_size;
	uint64_t first = m->start / m->page_size;
	uint64_t entries[1024];
	size_t n = 0;
	int err = 0;
	for (uint64_t done = 0; done < pages;) {
		uint64_t want = pages - done < 1024 ? pages - done : 1024;
		ssize_t got = pread(fd, entries, want * sizeof(entries[0]),
				    (off_t)((first + done) * sizeof(entries[0])));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		uint64_t read_entries = (uint64_t)got / sizeof(entries[0]);
		for (uint64_t i = 0; i < read_entries; i++)
			if (entries[i] & PAGEMAP_PRESENT)
				m->resident[n++] = done + i;
		done += read_entries;
	}
	fclose(f);
	if (err)
		return err;
	*count = n;
	return 0;
}

static int
advise(uint64_t *advised, const struct guest_mem *m, struct iovec *iov, size_t n)
{
	size_t off = 0;

	while (off < n) {
		long r = syscall(SYS_process_madvise, m->pidfd, iov + off, n - off,
				 MADV_PAGEOUT, 0u);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		*advised += (uint64_t)r;
		/* A short count means the kernel stopped early: skip what it did. */
		size_t left = (size_t)r;
		while (off < n && left >= iov[off].iov_len)
			left -= iov[off++].iov_len;
		if (off < n && left > 0) {
			iov[off].iov_base = (char *)iov[off].iov_base + left;
			iov[off].iov_len -= left;
		}
		if (r == 0)
			break; /* no progress: do not spin */
	}
	return 0;
}

int
guest_mem_page_out(uint64_t *advised, struct guest_mem *m, uint64_t bytes,
		   struct reclaim_rng *rng)
{
	*advised = 0;
	if (m->pidfd < 0)
		return -ENOSYS;
	size_t resident = 0;
	int err = read_resident(&resident, m);
	if (err)
		return err;
	uint64_t want = (bytes + m->page_size - 1) / m->page_size;
	uint64_t k = want < resident ? want : resident;
	if (k == 0)
		return 0;

	/* Random replacement: k distinct resident pages, uniformly, in
	 * increasing address order so neighbours merge into one iovec. */
	struct reclaim_pick pick;
	err = reclaim_pick_init(&pick, resident, k, rng);
	if (err)
		return -EINVAL;
	struct iovec iov[IOV_BATCH];
	size_t n = 0;
	uint64_t index;
	int r;
	while ((r = reclaim_pick_next(&pick, &index)) == 1) {
		uintptr_t addr = (uintptr_t)(m->start + m->resident[index] * m->page_size);
		if (n > 0 && (uintptr_t)iov[n - 1].iov_base + iov[n - 1].iov_len == addr) {
			iov[n - 1].iov_len += m->page_size;
			continue;
		}
		if (n == IOV_BATCH) {
			err = advise(advised, m, iov, n);
			if (err)
				return err;
			n = 0;
		}
		iov[n].iov_base = (void *)addr;
		iov[n].iov_len = m->page_size;
		n++;
	}
	if (r < 0)
		return -EINVAL;
	return n > 0 ? advise(advised, m, iov, n) : 0;
}
