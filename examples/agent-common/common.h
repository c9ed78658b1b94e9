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
#include <sys/stat.h>
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
 * Guest pages the host saw referenced since its last sample (say, the pages
 * of an idle-page-tracking sample found touched): addresses in increasing
 * order, any address within a page standing for the page.
 */
struct guest_refs {
	const uint64_t *addrs;
	size_t n;
};
/*
 * Draws @p k of the resident pages of the pageable regions and calls @p take
 * with each address, in increasing order, until take returns non-zero.
 * Cold first: the pages not in @p refs (NULL: none known) uniformly at
 * random with reclaim's picker; referenced pages only for what the cold ones
 * cannot give, uniformly among them. Two passes over /proc/<pid>/pagemap,
 * memory that does not grow with the guest. 0, -EINVAL for unsorted @p refs,
 * or -errno.
 */
int guest_mem_pick(const struct guest_mem *m, uint64_t k, struct reclaim_rng *rng,
		   const struct guest_refs *refs, int (*take)(void *ctx, uint64_t addr),
		   void *ctx);
/*
 * Pages out @p bytes of the guest's resident RAM, the pages drawn by
 * guest_mem_pick() (uniformly at random, pages in @p refs last), by
 * process_madvise(MADV_PAGEOUT). Hugetlb and locked regions are left alone.
 * *advised receives the bytes the kernel accepted. 0 or -errno.
 */
int guest_mem_page_out(uint64_t *advised, struct guest_mem *m, uint64_t bytes,
		       struct reclaim_rng *rng, const struct guest_refs *refs);
/*
 * Draws up to @p k resident pages uniformly at random; their addresses go to
 * @p addrs in increasing order and their count to *n. 0 or -errno.
 */
int guest_mem_sample(uint64_t *addrs, size_t *n, const struct guest_mem *m, size_t k,
		     struct reclaim_rng *rng);
/* The page frame numbers behind @p n addresses (0 for a page not present,
 * or when the kernel hides frame numbers: that needs CAP_SYS_ADMIN). */
int guest_mem_pfns(uint64_t *pfns, const struct guest_mem *m, const uint64_t *addrs, size_t n);

/* ---- memcg.c: the VM's memory cgroup, reclaim by the kernel's LRU ---- */

#define MEMCG_PATH_MAX 1024

enum memcg_version { MEMCG_NONE = 0, MEMCG_V1, MEMCG_V2 };

/* How the cgroup files are read and written: NULL in struct memcg means the
 * real files; tests stand a directory in for a cgroup. Both return 0 or
 * -errno (for a write, the kernel's answer). */
struct memcg_io {
	int (*read)(void *ctx, const char *path, char *buf, size_t len);
	int (*write)(void *ctx, const char *path, const char *value);
	void *ctx;
};

struct memcg {
	enum memcg_version version;
	char dir[MEMCG_PATH_MAX];  /* its directory, e.g. /sys/fs/cgroup/memory/machine/x */
	char name[MEMCG_PATH_MAX]; /* its path in the hierarchy, for messages */
	const struct memcg_io *io; /* NULL: the real files */
};

/* Where the cgroup hierarchies are mounted (from /proc/self/mountinfo). */
struct memcg_mounts {
	char v1_dir[512];  /* the v1 hierarchy with the memory controller, "" if none */
	char v1_root[512]; /* the part of it the mount shows ("/" normally) */
	char v2_dir[512];  /* cgroup2, "" if not mounted */
	char v2_root[512];
};

const char *memcg_version_name(enum memcg_version v);
/* Parses /proc/PID/cgroup text: the memory controller's path on v1 and the
 * unified path ("0::"), "" for those missing. Returns bit 0 for v1, bit 1
 * for v2. */
int memcg_parse_cgroup(char *v1, size_t v1_len, char *v2, size_t v2_len, FILE *f);
/* Parses /proc/self/mountinfo text. Returns bit 0 (v1 memory), bit 1 (v2). */
int memcg_parse_mountinfo(struct memcg_mounts *mnt, FILE *f);
/*
 * The memory cgroup of a process in cgroup @p v1 / @p v2 (as
 * memcg_parse_cgroup() found them): the v1 memory hierarchy where there is
 * one, else the nearest cgroup2 directory at or above @p v2 with
 * memory.reclaim. Never a root cgroup. Keeps cg->io. 0, or -errno with
 * @p why saying why not.
 */
int memcg_locate(struct memcg *cg, const struct memcg_mounts *mnt, const char *v1,
		 const char *v2, char *why, size_t why_len);
/* memcg_locate() for a live process (its /proc/PID/cgroup). */
int memcg_of_pid(struct memcg *cg, pid_t pid, char *why, size_t why_len);
/* 1 if @p pid (with its threads, and kernel threads) is the only task in the
 * cgroup and every cgroup below it; 0 with @p why naming another; -errno. */
int memcg_alone(const struct memcg *cg, pid_t pid, char *why, size_t why_len);
/*
 * Creates reclaim-NAME under the cgroup and moves @p pid into it; @p cg then
 * names the new one. @p note says when the kernel leaves the charges of the
 * memory the process already has behind (cgroup v2, and v1 without charge
 * moving). 0 or -errno.
 */
int memcg_move(struct memcg *cg, pid_t pid, const char *name, char *note, size_t note_len);
/* Memory charged to it now (v1 memory.usage_in_bytes, v2 memory.current). */
int memcg_usage(const struct memcg *cg, uint64_t *bytes);
/* The swappiness reclaim from it uses: v1 its memory.swappiness (*own = 1),
 * else the host's vm.swappiness; -1 if unknown. */
int memcg_swappiness(const struct memcg *cg, int *own);
/* 0 if the files reclaim needs can be written, else -errno and @p why. */
int memcg_writable(const struct memcg *cg, char *why, size_t why_len);

struct memcg_reclaim {
	uint64_t asked;
	uint64_t usage_before;
	uint64_t usage_after;
	int status;      /* the kernel's answer: 0, -EAGAIN (v2) or -EBUSY (v1) when it
			    fell short, -EINTR at the deadline */
	uint64_t limit;  /* v1: memory.limit_in_bytes before (and after) */
	uint64_t lowered;/* v1: what it was lowered to, 0 if it was not */
	int restored;    /* v1: the limit and oom_kill_disable are as they were */
	char note[256];  /* what happened, for the log */
};
/*
 * Asks the kernel to reclaim @p bytes from the cgroup by its LRU lists
 * (v2: memory.reclaim; v1: memory.limit_in_bytes lowered to usage - bytes
 * and restored at once, with oom_kill_disable set in between, every signal
 * blocked, and a journal in directory @p journal, if not NULL, naming what
 * to restore until it is; v1 refuses when it cannot write the journal).
 * The kernel's reclaim loop is interrupted after @p deadline_ns (0: none).
 * Returns 0 when the kernel was asked (r->status has its answer; compare
 * usage_before and usage_after), -EIO when a v1 limit could not be
 * restored (the journal keeps it), or another -errno when nothing was
 * done (-EPERM, -EACCES, -EROFS: not allowed to). One at a time per
 * process: it takes SIGALRM and ITIMER_REAL for the deadline (and gives
 * them back).
 */
int memcg_reclaim(struct memcg_reclaim *r, const struct memcg *cg, uint64_t bytes,
		  uint64_t deadline_ns, const char *journal);
/* The journal of @p cg in directory @p dir (memcg-restore-HASH). */
int memcg_journal_path(char *out, size_t len, const char *dir, const struct memcg *cg);
/*
 * Replays every v1 journal in directory @p dir that no live agent holds
 * locked (an agent killed between lowering and restoring): puts the limit
 * back if it is still the lowered one, and oom_kill_disable, and removes
 * the journal. Returns how many were restored (@p msg says what, a line
 * each), 0 for none, or -errno.
 */
int memcg_recover(const char *dir, const struct memcg_io *io, char *msg, size_t msg_len);

/* ---- hostswap.c: host swap for one VM, by the kernel's LRU or at random ---- */

enum host_swap_method {
	HOST_SWAP_AUTO = 0, /* lru where available, else random */
	HOST_SWAP_LRU,      /* the kernel's LRU lists, through the VM's own memory cgroup */
	HOST_SWAP_RANDOM,   /* uniformly random resident pages (ESX), referenced ones last */
};
const char *host_swap_method_name(enum host_swap_method m);
/* "auto", "lru", "random": 0, or -1 for anything else. */
int host_swap_method_parse(enum host_swap_method *m, const char *text);

struct host_swap_opts {
	enum host_swap_method method;
	int move;                 /* QEMU not alone in its cgroup: move it into a child */
	const char *name;         /* the VM, naming that child (reclaim-NAME) */
	const char *journal;      /* v1: the restore journal's directory (memcg_reclaim()) */
	uint64_t deadline_ns;     /* longest reclaim write (0: none) */
	uint64_t guest_rss;       /* resident guest RAM now, to see where it is charged; 0 unknown */
	const struct memcg_io *io;/* NULL: the real cgroup files */
};

struct host_swap {
	enum host_swap_method asked;
	enum host_swap_method method; /* what runs: lru or random */
	char why[512];                /* why, for the log and the metrics */
	pid_t pid;
	struct memcg cg;              /* lru's cgroup; version NONE without one */
	const char *journal;
	uint64_t deadline_ns;
	int swappiness;               /* the cgroup's (v1) or the host's; -1 unknown */
	int swappiness_own;
	uint64_t lru_bytes;           /* guest RAM each method took, in total */
	uint64_t random_bytes;
	char last[400];               /* what the last host_swap_out() did */
};

/* Chooses the method for the VM in QEMU process @p pid and says why (keeps
 * the totals of an earlier setup of @p hs). */
void host_swap_setup(struct host_swap *hs, pid_t pid, const struct host_swap_opts *o);
/*
 * Takes about @p bytes of the VM's RAM out to host swap. lru: the cgroup is
 * checked to still hold QEMU alone, then reclaimed from; *done gets the fall
 * in resident guest RAM (@p m; without its mappings, in the cgroup's
 * usage). random: guest_mem_page_out() with @p refs. An auto VM whose cgroup
 * turns out not to be writable switches to random for good. 0, -EAGAIN when
 * the kernel fell short and nothing was taken, -ENOTSUP when this VM cannot
 * be swapped this way, or -errno; hs->last says what happened.
 */
int host_swap_out(struct host_swap *hs, uint64_t *done, struct guest_mem *m, uint64_t bytes,
		  struct reclaim_rng *rng, const struct guest_refs *refs);

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

/* ---- files the agents keep for themselves ---- */

/*
 * Whether @p fd (its stat in *@p st) is a file an agent of ours wrote: a
 * regular file, ours, that no one else may write. A file another user
 * could have written would have root act on its contents.
 */
int file_is_ours(int fd, struct stat *st);
/*
 * Whether @p fd, just locked, is still the file at @p name in directory
 * @p dir (AT_FDCWD: @p name is a path): whoever held the lock before may
 * have removed it in between, and a new one may be there now.
 */
int file_still_named(int dir, const char *name, int fd);

/* ---- names to numbers ---- */

#define FNV1A_BASIS 0xcbf29ce484222325ull

/* FNV-1a of the bytes of @p s, going on from @p h (FNV1A_BASIS to start):
 * a stable name for a path or a text, not a defence against collisions. */
static inline uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* ---- units.c: sizes and durations on the command line and in files ---- */

/* "512M", "1.5G", "4096": binary suffixes K M G T. 0 or -1. */
int parse_size(uint64_t *out, const char *text);
/* "500ms", "2s", "1.5m", "100us", "10ns"; a bare number is seconds. 0 or -1. */
int parse_duration(uint64_t *out_ns, const char *text);
/* Bytes as "12.34 MiB" into @p buf. */
const char *format_size(char *buf, size_t len, uint64_t bytes);

#endif /* AGENT_COMMON_H */
