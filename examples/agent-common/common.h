/* SPDX-License-Identifier: MIT */
/*
 * Code the reclaim agents share (examples/qemu-agent, examples/libvirt-agent):
 * a guest's RAM seen from the host (usage, page-out, page sampling), guest
 * statistics aligned with the balloon, host memory from /proc/meminfo, policy
 * files, and sizes and durations as people write them. Linux only; uses the
 * public reclaim.h and libc, nothing else.
 */
#ifndef AGENT_COMMON_H
#define AGENT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "reclaim.h"

#define NS_PER_S 1000000000ull

/* ---- guestmem.c: the guest's RAM as the host sees it ---- */

/* Guest RAM may be several mappings in the VMM process: one per memory
 * backend (NUMA node, DIMM). */
#define GUEST_MEM_MAX_REGIONS 32

enum guest_mem_region_flag {
	GUEST_MEM_HUGETLB = 1u << 0, /* hugetlbfs: cannot be paged out */
	GUEST_MEM_LOCKED = 1u << 1,  /* mlocked: cannot be paged out */
	GUEST_MEM_SHARED = 1u << 2,  /* a shared mapping (memfd or file) */
};

struct guest_mem_region {
	uint64_t start;
	uint64_t len;
	unsigned flags; /* enum guest_mem_region_flag */
};

struct guest_mem {
	pid_t pid;
	int pidfd;          /* for process_madvise; -1 without */
	uint64_t page_size; /* host page size */
	size_t n_regions;
	struct guest_mem_region region[GUEST_MEM_MAX_REGIONS];
};

struct guest_mem_usage {
	uint64_t rss_bytes;        /* resident: the VM's machine memory (hugetlb included) */
	uint64_t swap_bytes;       /* host-swapped */
	uint64_t referenced_bytes; /* touched since the last guest_mem_clear_refs() */
};

/* An empty guest_mem (no regions, no pidfd); safe to close. */
void guest_mem_init(struct guest_mem *m);
/* Guest RAM as one shared memfd mapping of @p size bytes ("/memfd:..."), as
 * qemu-agent requires. 0, -ENOENT when there is none, or -errno. */
int guest_mem_open_memfd(struct guest_mem *m, pid_t pid, uint64_t size);
/*
 * Guest RAM as QEMU allocates it for memory backends of any kind (anonymous
 * memory-backend-ram, memfd, file, hugetlbfs): for each of the @p n sizes,
 * a distinct readable, writable, non-executable mapping of exactly that size
 * that QEMU marked as guest RAM (MADV_DONTFORK, "dc" in VmFlags). On -ENOENT
 * @p why (if not NULL) says what was found instead.
 */
int guest_mem_open_ram(struct guest_mem *m, pid_t pid, const uint64_t *sizes, size_t n,
		       char *why, size_t why_len);
void guest_mem_close(struct guest_mem *m);
/* Total bytes of the regions. */
uint64_t guest_mem_size(const struct guest_mem *m);
/* Sums Rss, Swap and Referenced of the regions from /proc/<pid>/smaps.
 * -ESRCH when the process is gone, -ENOENT when a region is. */
int guest_mem_usage(struct guest_mem_usage *u, const struct guest_mem *m);
/* Clears the accessed bits of the whole process (/proc/<pid>/clear_refs). */
int guest_mem_clear_refs(const struct guest_mem *m);
/*
 * Pages out @p bytes of the guest's resident RAM, choosing the pages
 * uniformly at random with reclaim's picker, by process_madvise(MADV_PAGEOUT).
 * Hugetlb and locked regions are left alone. *advised receives the bytes the
 * kernel accepted. Memory used does not grow with the guest. 0 or -errno.
 */
int guest_mem_page_out(uint64_t *advised, struct guest_mem *m, uint64_t bytes,
		       struct reclaim_rng *rng);
/*
 * Draws up to @p k resident pages uniformly at random; their addresses go to
 * @p addrs in increasing order and their count to *n. 0 or -errno.
 */
int guest_mem_sample(uint64_t *addrs, size_t *n, const struct guest_mem *m, size_t k,
		     struct reclaim_rng *rng);
/* The page frame numbers behind @p n addresses (0 for a page not present,
 * or when the kernel hides frame numbers: that needs CAP_SYS_ADMIN). */
int guest_mem_pfns(uint64_t *pfns, const struct guest_mem *m, const uint64_t *addrs, size_t n);

/* ---- guestview.c: guest statistics aligned with the balloon ---- */

/* What a guest reported through its balloon driver, in bytes. */
struct guest_stats_raw {
	uint64_t last_update_s; /* host wall clock (s) when the VMM got them; 0: never */
	int has_available;      /* MemAvailable */
	uint64_t available;
	int has_free;           /* MemFree */
	uint64_t free;
	int has_total;          /* MemTotal: shrinks with the balloon */
	uint64_t total;
	uint64_t swap_in;       /* swap traffic since boot */
	uint64_t swap_out;
};

/* Per-guest memory of the alignment (see guestview.c). */
struct guest_view {
	int deflate_on_oom;       /* the guest deflates by itself: MemTotal stays put */
	uint64_t guest_swap;      /* swap the guest has (it reports traffic, not size) */
	uint64_t balloon_prev;    /* UINT64_MAX before the first reading */
	double balloon_changed_wall; /* wall seconds when the balloon last moved */
	uint64_t empty_total;     /* MemTotal with an empty balloon, or 0 */
};

struct guest_view_out {
	uint64_t free_bytes;      /* guest free memory at the balloon size of now */
	uint64_t swap_free_bytes; /* guest free swap */
	uint64_t stats_time_ns;   /* when they were taken, on the caller's monotonic clock */
};

/* Starts a view; the balloon counts as just moved. */
void guest_view_init(struct guest_view *v, uint64_t guest_swap, int deflate_on_oom,
		     double wall_now_s);
/* Records the balloon size read now. */
void guest_view_balloon(struct guest_view *v, uint64_t balloon_bytes, double wall_now_s);
/*
 * Turns raw stats into what the policy needs. Returns 1 with @p out filled,
 * or 0 when the stats cannot be used (never reported, no free figure, or the
 * balloon has not settled since the view started).
 */
int guest_view_stats(struct guest_view_out *out, struct guest_view *v,
		     const struct guest_stats_raw *s, uint64_t balloon_bytes,
		     uint64_t now_mono_ns, uint64_t now_wall_ns);

/* ---- meminfo.c: the host's memory ---- */

struct meminfo {
	uint64_t total;      /* MemTotal */
	uint64_t free;       /* MemFree */
	uint64_t available;  /* MemAvailable */
	int has_available;   /* Linux >= 3.14 */
	uint64_t swap_total; /* SwapTotal */
	uint64_t swap_free;  /* SwapFree */
};

/* Parses /proc/meminfo text from @p f. 0, or -1 without MemTotal. */
int meminfo_parse(struct meminfo *mi, FILE *f);
/* Reads @p path (NULL: /proc/meminfo). 0 or -errno. */
int meminfo_read(struct meminfo *mi, const char *path);

/* ---- policyconf.c: key = value policy files ---- */

/*
 * Fills @p cfg from the file at @p path (see examples/qemu-agent/README.md).
 * Returns 0, or -1 after printing "path:line: message" to @p err.
 */
int policy_config_load(struct reclaim_config *cfg, const char *path, FILE *err);
/* Writes @p cfg as a policy file that loads back to the same config. */
void policy_config_print(FILE *out, const struct reclaim_config *cfg);

/* ---- units.c: sizes and durations on the command line and in files ---- */

/* "512M", "1.5G", "4096": binary suffixes K M G T. 0 or -1. */
int parse_size(uint64_t *out, const char *text);
/* "500ms", "2s", "1.5m", "100us", "10ns"; a bare number is seconds. 0 or -1. */
int parse_duration(uint64_t *out_ns, const char *text);
/* Bytes as "12.34 MiB" into @p buf. */
const char *format_size(char *buf, size_t len, uint64_t bytes);

#endif /* AGENT_COMMON_H */
