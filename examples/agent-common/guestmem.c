/* SPDX-License-Identifier: MIT */
/*
 * The guest's RAM seen from the host. QEMU maps each memory backend into its
 * own address space: anonymous memory (memory-backend-ram, libvirt's
 * default), a memfd, a file or hugetlbfs. Each is one mapping in
 * /proc/<pid>/smaps: its Rss is machine memory the VM holds, its Swap what
 * the host has swapped out, and its pages can be pushed to swap from outside
 * with process_madvise(MADV_PAGEOUT).
 *
 * Resident pages are found in /proc/<pid>/pagemap. Page-out and sampling
 * stream over it twice (count, then pick), so memory use does not grow with
 * the guest's size.
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

#include "common.h"

#if !defined(SYS_pidfd_open) || !defined(SYS_process_madvise) || !defined(MADV_PAGEOUT)
#error "the agents need Linux >= 5.10 headers (pidfd_open, process_madvise, MADV_PAGEOUT)"
#endif

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_PFN_MASK ((1ull << 55) - 1)
#define PAGEMAP_BATCH 1024
#define IOV_BATCH 512 /* below every kernel's UIO_MAXIOV (1024) */

static FILE *
proc_open(pid_t pid, const char *file, const char *mode)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return fopen(path, mode);
}

void
guest_mem_init(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->pidfd = -1;
	long ps = sysconf(_SC_PAGESIZE);
	m->page_size = ps > 0 ? (uint64_t)ps : 4096;
}

uint64_t
guest_mem_size(const struct guest_mem *m)
{
	uint64_t total = 0;

	for (size_t i = 0; i < m->n_regions; i++)
		total += m->region[i].len;
	return total;
}

/* One mapping of /proc/<pid>/smaps, as far as finding guest RAM needs. */
struct vma {
	uint64_t start;
	uint64_t end;
	char perms[8];
	char path[256];
	char vmflags[160];
};

/*
 * Calls @p fn for every mapping of @p pid (smaps gives VmFlags, which maps
 * lacks). Stops when fn returns non-zero and returns that value; 0 after
 * the last mapping, or -errno.
 */
static int
for_each_vma(pid_t pid, int (*fn)(void *ctx, const struct vma *v), void *ctx)
{
	FILE *f = proc_open(pid, "smaps", "r");
	if (f == NULL)
		return errno == ENOENT ? -ESRCH : -errno;
	char line[512];
	struct vma v;
	int have = 0, r = 0;
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		uint64_t start, end;
		char perms[8];
		int path_at = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n", &start, &end,
			   perms, &path_at) == 3 &&
		    path_at > 0) {
			memset(&v, 0, sizeof(v));
			v.start = start;
			v.end = end;
			memcpy(v.perms, perms, sizeof(v.perms));
			size_t plen = strcspn(line + path_at, "\n");
			if (plen >= sizeof(v.path))
				plen = sizeof(v.path) - 1;
			memcpy(v.path, line + path_at, plen);
			v.path[plen] = '\0';
			have = 1;
		} else if (have && strncmp(line, "VmFlags:", 8) == 0) {
			/* The last field of a mapping; kept with a blank at each
			 * end so that " dc " matches whole words. */
			size_t flen = strcspn(line + 8, "\n");
			if (flen > sizeof(v.vmflags) - 2)
				flen = sizeof(v.vmflags) - 2;
			memcpy(v.vmflags, line + 8, flen);
			v.vmflags[flen] = ' ';
			v.vmflags[flen + 1] = '\0';
			have = 0;
			r = fn(ctx, &v);
		}
	}
	fclose(f);
	return r;
}

static int
has_vmflag(const struct vma *v, const char *flag)
{
	char word[8];

	snprintf(word, sizeof(word), " %s ", flag);
	return strstr(v->vmflags, word) != NULL;
}

static int
add_region(struct guest_mem *m, const struct vma *v)
{
	if (m->n_regions == GUEST_MEM_MAX_REGIONS)
		return -E2BIG;
	struct guest_mem_region *r = &m->region[m->n_regions++];
	r->start = v->start;
	r->len = v->end - v->start;
	r->flags = 0;
	if (has_vmflag(v, "ht"))
		r->flags |= GUEST_MEM_HUGETLB;
	if (has_vmflag(v, "lo"))
		r->flags |= GUEST_MEM_LOCKED;
	if (v->perms[3] == 's')
		r->flags |= GUEST_MEM_SHARED;
	return 0;
}

static int
open_pidfd(struct guest_mem *m)
{
	/* Without pidfd_open (Linux < 5.3, or valgrind) the guest can still be
	 * ballooned; guest_mem_page_out() then fails. */
	m->pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
	if (m->pidfd < 0 && errno != ENOSYS)
		return -errno;
	return 0;
}

struct memfd_find {
	struct guest_mem *m;
	uint64_t size;
};

static int
memfd_match(void *ctx, const struct vma *v)
{
	struct memfd_find *f = ctx;

	if (strncmp(v->path, "/memfd:", 7) != 0 || v->perms[3] != 's' ||
	    v->end - v->start != f->size)
		return 0;
	int err = add_region(f->m, v);
	return err ? err : 1;
}

int
guest_mem_open_memfd(struct guest_mem *m, pid_t pid, uint64_t size)
{
	guest_mem_init(m);
	m->pid = pid;
	struct memfd_find f = {m, size};
	int r = for_each_vma(pid, memfd_match, &f);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	int err = open_pidfd(m);
	if (err)
		guest_mem_close(m);
	return err;
}

struct ram_find {
	struct guest_mem *m;
	const uint64_t *sizes;
	size_t n;
	uint8_t *taken;        /* which sizes found a mapping */
	char seen[160];        /* sizes of other RAM-like mappings, for the message */
	size_t seen_len;
	int err;
};

static int
ram_match(void *ctx, const struct vma *v)
{
	struct ram_find *f = ctx;
	uint64_t len = v->end - v->start;

	/* QEMU marks every RAM block MADV_DONTFORK ("dc"); guest RAM is
	 * read-write and never executable (TCG's code buffer is). */
	if (v->perms[0] != 'r' || v->perms[1] != 'w' || v->perms[2] == 'x' || !has_vmflag(v, "dc"))
		return 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->taken[i] || f->sizes[i] != len)
			continue;
		f->taken[i] = 1;
		int err = add_region(f->m, v);
		if (err) {
			f->err = err;
			return 1;
		}
		return 0;
	}
	if (len >= (1u << 20) && f->seen_len + 24 < sizeof(f->seen)) {
		int w = snprintf(f->seen + f->seen_len, sizeof(f->seen) - f->seen_len, "%s%" PRIu64 "M",
				 f->seen_len ? "," : "", len >> 20);
		if (w > 0)
			f->seen_len += (size_t)w;
	}
	return 0;
}

int
guest_mem_open_ram(struct guest_mem *m, pid_t pid, const uint64_t *sizes, size_t n, char *why,
		   size_t why_len)
{
	guest_mem_init(m);
	m->pid = pid;
	if (n == 0 || n > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	uint8_t taken[GUEST_MEM_MAX_REGIONS] = {0};
	struct ram_find f = {.m = m, .sizes = sizes, .n = n, .taken = taken};
	int r = for_each_vma(pid, ram_match, &f);
	if (r < 0 || f.err) {
		guest_mem_close(m);
		return r < 0 ? r : f.err;
	}
	for (size_t i = 0; i < n; i++) {
		if (taken[i])
			continue;
		if (why != NULL)
			snprintf(why, why_len,
				 "no guest RAM mapping of %" PRIu64 " MiB (other RAM blocks: %s)",
				 sizes[i] >> 20, f.seen_len ? f.seen : "none");
		guest_mem_close(m);
		return -ENOENT;
	}
	int err = open_pidfd(m);
	if (err)
		guest_mem_close(m);
	return err;
}

void
guest_mem_close(struct guest_mem *m)
{
	if (m->pidfd >= 0)
		close(m->pidfd);
	m->pidfd = -1;
	m->n_regions = 0;
}

int
guest_mem_usage(struct guest_mem_usage *u, const struct guest_mem *m)
{
	FILE *f = proc_open(m->pid, "smaps", "r");
	if (f == NULL)
		return errno == ENOENT ? -ESRCH : -errno;

	char line[512];
	int in_region = 0;
	size_t found = 0;
	struct guest_mem_usage got = {0};
	while (fgets(line, sizeof(line), f) != NULL) {
		uint64_t start, end;
		/* Field lines ("Rss:", "AnonHugePages:") never parse as a range. */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2) {
			in_region = 0;
			for (size_t i = 0; i < m->n_regions; i++)
				if (m->region[i].start == start &&
				    m->region[i].len == end - start) {
					in_region = 1;
					found++;
				}
			continue;
		}
		if (!in_region)
			continue;
		unsigned long long kb;
		if (sscanf(line, "Rss: %llu kB", &kb) == 1 ||
		    sscanf(line, "Private_Hugetlb: %llu kB", &kb) == 1 ||
		    sscanf(line, "Shared_Hugetlb: %llu kB", &kb) == 1)
			got.rss_bytes += (uint64_t)kb << 10;
		else if (sscanf(line, "Swap: %llu kB", &kb) == 1)
			got.swap_bytes += (uint64_t)kb << 10;
		else if (sscanf(line, "Referenced: %llu kB", &kb) == 1)
			got.referenced_bytes += (uint64_t)kb << 10;
	}
	fclose(f);
	/* A zombie still has /proc/<pid>, with no mappings. */
	if (found == 0 && m->n_regions > 0)
		return -ESRCH;
	if (found != m->n_regions)
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

/*
 * Streams the resident pages of the pageable regions (hugetlb and locked
 * ones only with @p all) in address order: calls @p fn with each one's
 * address until fn returns non-zero. *count gets how many were seen.
 * 0 or -errno (or fn's negative value).
 */
static int
scan_resident(uint64_t *count, const struct guest_mem *m, int all,
	      int (*fn)(void *ctx, uint64_t addr), void *ctx)
{
	int fd;
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)m->pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	uint64_t entries[PAGEMAP_BATCH];
	uint64_t n = 0;
	int r = 0;
	for (size_t ri = 0; r == 0 && ri < m->n_regions; ri++) {
		const struct guest_mem_region *reg = &m->region[ri];
		if (!all && (reg->flags & (GUEST_MEM_HUGETLB | GUEST_MEM_LOCKED)))
			continue;
		uint64_t pages = reg->len / m->page_size;
		uint64_t first = reg->start / m->page_size;
		for (uint64_t done = 0; r == 0 && done < pages;) {
			uint64_t want = pages - done < PAGEMAP_BATCH ? pages - done : PAGEMAP_BATCH;
			ssize_t got = pread(fd, entries, want * sizeof(entries[0]),
					    (off_t)((first + done) * sizeof(entries[0])));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				r = got < 0 ? -errno : -EIO;
				break;
			}
			uint64_t read_entries = (uint64_t)got / sizeof(entries[0]);
			for (uint64_t i = 0; r == 0 && i < read_entries; i++) {
				if (!(entries[i] & PAGEMAP_PRESENT))
					continue;
				if (fn != NULL)
					r = fn(ctx, reg->start + (done + i) * m->page_size);
				n++;
			}
			done += read_entries;
		}
	}
	close(fd);
	*count = n;
	return r < 0 ? r : 0;
}

/* 1 if the page at @p addr is among the referenced ones. */
static int
is_referenced(const struct guest_refs *refs, uint64_t page_size, uint64_t addr)
{
	if (refs == NULL || refs->n == 0)
		return 0;
	uint64_t key = addr & ~(page_size - 1);
	/* refs may hold any address within a page: compare page starts. */
	size_t lo = 0, hi = refs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v = refs->addrs[mid] & ~(page_size - 1);
		if (v < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < refs->n && (refs->addrs[lo] & ~(page_size - 1)) == key;
}

/* One population of resident pages (cold or referenced) and its draw. */
struct draw {
	struct reclaim_pick pick;
	uint64_t seen;  /* pages of this population seen so far in the pass */
	uint64_t next;  /* index of the next page to take */
	int more;       /* 1 while picks remain */
};

static int
draw_init(struct draw *d, uint64_t n, uint64_t k, struct reclaim_rng *rng)
{
	memset(d, 0, sizeof(*d));
	if (k == 0)
		return 0;
	if (reclaim_pick_init(&d->pick, n, k, rng) != RECLAIM_OK)
		return -EINVAL;
	int r = reclaim_pick_next(&d->pick, &d->next);
	if (r < 0)
		return -EINVAL;
	d->more = r == 1;
	return 0;
}

/* Counts a page of the population; 1 if it is drawn, 0 if not, or -errno. */
static int
draw_visit(struct draw *d)
{
	uint64_t index = d->seen++;

	if (!d->more || index != d->next)
		return 0;
	int r = reclaim_pick_next(&d->pick, &d->next);
	if (r < 0)
		return -EINVAL;
	d->more = r == 1;
	return 1;
}

/* Cold-first picking: first pass counts, second pass draws. */
struct picker {
	const struct guest_mem *m;
	const struct guest_refs *refs;
	uint64_t referenced; /* first pass: referenced resident pages */
	struct draw cold;
	struct draw hot;
	int (*take)(void *ctx, uint64_t addr);
	void *ctx;
};

static int
picker_count(void *ctx, uint64_t addr)
{
	struct picker *p = ctx;

	p->referenced += (uint64_t)is_referenced(p->refs, p->m->page_size, addr);
	return 0;
}

static int
picker_visit(void *ctx, uint64_t addr)
{
	struct picker *p = ctx;

	if (!p->cold.more && !p->hot.more)
		return 1; /* all drawn */
	int hot = is_referenced(p->refs, p->m->page_size, addr);
	int r = draw_visit(hot ? &p->hot : &p->cold);
	if (r <= 0)
		return r;
	return p->take(p->ctx, addr);
}

int
guest_mem_pick(const struct guest_mem *m, uint64_t k, struct reclaim_rng *rng,
	       const struct guest_refs *refs, int (*take)(void *ctx, uint64_t addr), void *ctx)
{
	struct picker p = {.m = m, .refs = refs, .take = take, .ctx = ctx};
	uint64_t resident = 0;
	int err;

	if (refs != NULL && refs->n > 1) {
		/* Sorted by page, as is_referenced() needs; the caller's array
		 * stays as it is. */
		for (size_t i = 1; i < refs->n; i++)
			if ((refs->addrs[i - 1] & ~(m->page_size - 1)) >
			    (refs->addrs[i] & ~(m->page_size - 1)))
				return -EINVAL;
	}
	err = scan_resident(&resident, m, 0, refs != NULL && refs->n ? picker_count : NULL, &p);
	if (err)
		return err;
	if (p.referenced > resident)
		p.referenced = resident;
	if (k > resident)
		k = resident;
	if (k == 0)
		return 0;
	/* Cold pages first, uniformly; the referenced ones only for what the
	 * cold ones cannot give, uniformly among them. */
	uint64_t cold = resident - p.referenced;
	uint64_t k_cold = k < cold ? k : cold;
	err = draw_init(&p.cold, cold, k_cold, rng);
	if (!err)
		err = draw_init(&p.hot, p.referenced, k - k_cold, rng);
	if (err)
		return err;
	uint64_t seen;
	return scan_resident(&seen, m, 0, picker_visit, &p);
}

struct pageout {
	const struct guest_mem *m;
	struct iovec iov[IOV_BATCH];
	size_t n;
	uint64_t advised;
};

static int
advise(struct pageout *po)
{
	size_t off = 0;
	struct iovec *iov = po->iov;
	size_t n = po->n;

	while (off < n) {
		long r = syscall(SYS_process_madvise, po->m->pidfd, iov + off, n - off,
				 MADV_PAGEOUT, 0u);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		po->advised += (uint64_t)r;
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
	po->n = 0;
	return 0;
}

static int
pageout_take(void *ctx, uint64_t addr)
{
	struct pageout *po = ctx;
	uint64_t ps = po->m->page_size;

	/* Neighbours merge into one iovec. */
	if (po->n > 0 &&
	    (uintptr_t)po->iov[po->n - 1].iov_base + po->iov[po->n - 1].iov_len == addr) {
		po->iov[po->n - 1].iov_len += ps;
		return 0;
	}
	if (po->n == IOV_BATCH) {
		int err = advise(po);
		if (err)
			return err;
	}
	po->iov[po->n].iov_base = (void *)(uintptr_t)addr;
	po->iov[po->n].iov_len = ps;
	po->n++;
	return 0;
}

int
guest_mem_page_out(uint64_t *advised, struct guest_mem *m, uint64_t bytes,
		   struct reclaim_rng *rng, const struct guest_refs *refs)
{
	*advised = 0;
	if (m->pidfd < 0)
		return -ENOSYS;
	/* Random replacement: distinct resident pages, uniformly, in
	 * increasing address order; pages known to be referenced last. */
	struct pageout *po = calloc(1, sizeof(*po));
	if (po == NULL)
		return -ENOMEM;
	po->m = m;
	int err = guest_mem_pick(m, (bytes + m->page_size - 1) / m->page_size, rng, refs,
				 pageout_take, po);
	if (!err && po->n > 0)
		err = advise(po);
	*advised = po->advised;
	free(po);
	return err;
}

struct sample {
	uint64_t *addrs;
	size_t n;
	size_t cap;
};

static int
sample_take(void *ctx, uint64_t addr)
{
	struct sample *s = ctx;

	if (s->n < s->cap)
		s->addrs[s->n++] = addr;
	return 0;
}

int
guest_mem_sample(uint64_t *addrs, size_t *n, const struct guest_mem *m, size_t k,
		 struct reclaim_rng *rng)
{
	struct sample s = {addrs, 0, k};
	int err = guest_mem_pick(m, k, rng, NULL, sample_take, &s);
	*n = s.n;
	return err;
}

int
guest_mem_pfns(uint64_t *pfns, const struct guest_mem *m, const uint64_t *addrs, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)m->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	int err = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t e = 0;
		ssize_t got = pread(fd, &e, sizeof(e), (off_t)(addrs[i] / m->page_size * sizeof(e)));
		if (got != (ssize_t)sizeof(e)) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		pfns[i] = (e & PAGEMAP_PRESENT) ? (e & PAGEMAP_PFN_MASK) : 0;
	}
	close(fd);
	return err;
}
