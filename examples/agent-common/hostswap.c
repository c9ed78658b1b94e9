/* SPDX-License-Identifier: MIT */
/*
 * Host swap for one VM: how a decision's swap_bytes leave RAM.
 *
 * lru     the kernel's own LRU lists, through the VM's memory cgroup
 *         (memcg.c): it takes the pages the guest has not touched lately
 *         and leaves its working set. Only from a cgroup QEMU has to itself:
 *         reclaim from a shared one would take other processes' memory.
 * random  resident guest pages drawn uniformly at random by reclaim's page
 *         picker and pushed out with process_madvise(MADV_PAGEOUT), as ESX
 *         does (its hypervisor cannot tell hot pages from cold cheaply);
 *         pages the host saw referenced since its last sample go last.
 * auto    lru where the VM has such a cgroup and its files can be written,
 *         random otherwise.
 *
 * Why a VM runs what it runs is kept in plain words for the log and the
 * metrics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "common.h"

const char *
host_swap_method_name(enum host_swap_method m)
{
	switch (m) {
	case HOST_SWAP_LRU:
		return "lru";
	case HOST_SWAP_RANDOM:
		return "random";
	case HOST_SWAP_AUTO:
		break;
	}
	return "auto";
}

int
host_swap_method_parse(enum host_swap_method *m, const char *text)
{
	static const enum host_swap_method all[] = {HOST_SWAP_AUTO, HOST_SWAP_LRU,
						    HOST_SWAP_RANDOM};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(text, host_swap_method_name(all[i]))) {
			*m = all[i];
			return 0;
		}
	return -1;
}

/* lru cannot run for this VM: auto falls back to random, lru stays lru
 * and fails (the policy then treats host swap as unavailable for it). */
static void
unavailable(struct host_swap *hs, const char *reason)
{
	hs->cg.version = MEMCG_NONE;
	if (hs->asked == HOST_SWAP_AUTO) {
		hs->method = HOST_SWAP_RANDOM;
		snprintf(hs->why, sizeof(hs->why), "no cgroup LRU: %.240s", reason);
	} else {
		hs->method = HOST_SWAP_LRU;
		snprintf(hs->why, sizeof(hs->why), "lru asked but unavailable: %.220s; no host "
			 "swap for this VM", reason);
	}
}

void
host_swap_setup(struct host_swap *hs, pid_t pid, const struct host_swap_opts *o)
{
	char why[256] = "", note[160] = "";
	uint64_t lru_bytes = hs->lru_bytes, random_bytes = hs->random_bytes;

	memset(hs, 0, sizeof(*hs));
	hs->lru_bytes = lru_bytes; /* totals survive a new QEMU process */
	hs->random_bytes = random_bytes;
	hs->asked = o->method;
	hs->pid = pid;
	hs->journal = o->journal;
	hs->deadline_ns = o->deadline_ns;
	hs->swappiness = -1;
	hs->cg.io = o->io;
	if (o->method == HOST_SWAP_RANDOM) {
		hs->method = HOST_SWAP_RANDOM;
		snprintf(hs->why, sizeof(hs->why), "as asked (ESX's random replacement)");
		return;
	}
	if (pid <= 0) {
		unavailable(hs, "no QEMU process on this host");
		return;
	}
	int err = memcg_of_pid(&hs->cg, pid, why, sizeof(why));
	if (err) {
		char r[400];
		snprintf(r, sizeof(r), "QEMU pid %d: %s", (int)pid, why);
		unavailable(hs, r);
		return;
	}
	int alone = memcg_alone(&hs->cg, pid, why, sizeof(why));
	int moved = 0;
	if (alone != 1 && o->move) {
		char from[MEMCG_PATH_MAX];
		snprintf(from, sizeof(from), "%s", hs->cg.name);
		err = memcg_move(&hs->cg, pid, o->name ? o->name : "vm", note, sizeof(note));
		if (err) {
			char r[400];
			snprintf(r, sizeof(r), "cannot move QEMU pid %d out of shared cgroup %.100s "
				 "(%.60s): %s", (int)pid, from, why, strerror(-err));
			unavailable(hs, r);
			return;
		}
		moved = 1;
		alone = memcg_alone(&hs->cg, pid, why, sizeof(why));
	}
	if (alone != 1) {
		char r[400];
		snprintf(r, sizeof(r), "QEMU pid %d is not alone in memory cgroup %.100s: %.120s",
			 (int)pid, hs->cg.name, why);
		unavailable(hs, r);
		return;
	}
	if (memcg_writable(&hs->cg, why, sizeof(why)) != 0) {
		unavailable(hs, why);
		return;
	}
	/* v1 lowers a limit for an instant: what to put back must be on
	 * disk first, for whoever runs next if we are killed in between
	 * (memcg_reclaim() refuses to lower it when the journal cannot be
	 * written). */
	if (hs->cg.version == MEMCG_V1 && o->journal == NULL) {
		unavailable(hs, "cgroup v1 needs a restore journal (a state directory)");
		return;
	}
	/* Reclaim reaches what is charged to the cgroup: the memory QEMU
	 * touched while in it. A process moved in later keeps its charges where
	 * they were, unless the kernel moves them (v1 only, and only older
	 * kernels). */
	uint64_t usage = 0;
	char charged[200] = "";
	if (o->guest_rss > 0 && memcg_usage(&hs->cg, &usage) == 0 && usage < o->guest_rss / 2) {
		char u[32], g[32];
		snprintf(charged, sizeof(charged), "it holds %s of the guest's %s resident RAM%s%s",
			 format_size(u, sizeof(u), usage), format_size(g, sizeof(g), o->guest_rss),
			 note[0] ? ": " : "", note);
		if (hs->asked == HOST_SWAP_AUTO) {
			char r[400];
			snprintf(r, sizeof(r), "cgroup %.100s%s: %.180s", hs->cg.name,
				 moved ? " (QEMU moved into it)" : "", charged);
			unavailable(hs, r);
			return;
		}
	}
	hs->swappiness = memcg_swappiness(&hs->cg, &hs->swappiness_own);
	hs->method = HOST_SWAP_LRU;
	snprintf(hs->why, sizeof(hs->why), "cgroup %s %.150s%s, swappiness %d (%s)%s%s%.120s",
		 memcg_version_name(hs->cg.version), hs->cg.name,
		 moved ? " (QEMU moved into it)" : " (QEMU alone in it)", hs->swappiness,
		 hs->swappiness_own ? "the cgroup's" : "the host's",
		 hs->swappiness == 0 ? ": anonymous memory will not be swapped" : "",
		 charged[0] ? "; WARNING: " : "", charged);
}

/* Resident guest RAM, or 0 when it cannot be read. */
static uint64_t
guest_rss(const struct guest_mem *m, uint64_t *swap)
{
	struct guest_mem_usage u;
	*swap = 0;
	if (m == NULL || m->n_regions == 0 || guest_mem_usage(&u, m) != 0)
		return 0;
	*swap = u.swap_bytes;
	return u.rss_bytes;
}

/*
 * The kernel reclaims from everything charged to the cgroup: guest RAM, and
 * also QEMU's own memory and the page cache of files it read (its kernel and
 * initrd, disk images without cache=none), the coldest first. What the
 * policy counts is resident guest RAM, so while the kernel does what it is
 * asked but guest RAM fell by less, ask again for the rest: a few rounds at
 * most, and never after the kernel fell short or a round took no guest RAM.
 */
#define LRU_ROUNDS 4

static int
lru_out(struct host_swap *hs, uint64_t *done, struct guest_mem *m, uint64_t bytes)
{
	uint64_t swap0, swap1, swap_r, rss_r;
	uint64_t rss0 = guest_rss(m, &swap0);
	uint64_t cg_drop = 0, left = bytes, rss_prev = rss0;
	struct memcg_reclaim r;
	int err = 0, rounds = 0;
	struct timespec t0, t1;
	memset(&r, 0, sizeof(r));
	*done = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rounds < LRU_ROUNDS && left > 0) {
		rounds++;
		err = memcg_reclaim(&r, &hs->cg, left, hs->deadline_ns, hs->journal);
		if (err == -EPERM || err == -EACCES || err == -EROFS) {
			char why[300];
			snprintf(why, sizeof(why), "not allowed to write the cgroup's files (%s)",
				 strerror(-err));
			unavailable(hs, why);
			return err;
		}
		cg_drop += r.usage_before > r.usage_after ? r.usage_before - r.usage_after : 0;
		if (err || r.status != 0 || rss0 == 0)
			break;
		rss_r = guest_rss(m, &swap_r);
		uint64_t fell = rss0 > rss_r ? rss0 - rss_r : 0;
		if (rss_r >= rss_prev)
			break; /* no guest RAM this round */
		rss_prev = rss_r;
		left = fell >= bytes ? 0 : bytes - fell;
		/* What is left is within the noise of a running guest. */
		if (left < bytes / 32)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	uint64_t rss1 = guest_rss(m, &swap1);
	/* Without the guest RAM mappings, the cgroup's usage. */
	*done = rss0 > 0 ? (rss0 > rss1 ? rss0 - rss1 : 0) : cg_drop;
	hs->lru_bytes += *done;
	char a[32], c[32], g[32], s[32];
	snprintf(hs->last, sizeof(hs->last),
		 "lru: asked %s; %d round%s in %.2f s, cgroup usage -%s, guest RAM -%s, its "
		 "swap +%s; last: %.200s",
		 format_size(a, sizeof(a), bytes), rounds, rounds == 1 ? "" : "s", secs,
		 format_size(c, sizeof(c), cg_drop),
		 rss0 > 0 ? format_size(g, sizeof(g), *done) : "?",
		 format_size(s, sizeof(s), swap1 > swap0 ? swap1 - swap0 : 0), r.note);
	if (err)
		return err;
	if (r.status != 0 && *done == 0)
		return -EAGAIN; /* fell short with nothing to show */
	return 0;
}

int
host_swap_out(struct host_swap *hs, uint64_t *done, struct guest_mem *m, uint64_t bytes,
	      struct reclaim_rng *rng, const struct guest_refs *refs)
{
	*done = 0;
	hs->last[0] = '\0';
	if (hs->method == HOST_SWAP_LRU) {
		if (hs->cg.version == MEMCG_NONE) {
			snprintf(hs->last, sizeof(hs->last), "lru: %.300s", hs->why);
			return -ENOTSUP;
		}
		/* Someone may have joined the cgroup since: never reclaim
		 * their memory. */
		char why[200];
		if (memcg_alone(&hs->cg, hs->pid, why, sizeof(why)) != 1) {
			char r[400];
			snprintf(r, sizeof(r), "QEMU pid %d is no longer alone in %.100s: %.150s",
				 (int)hs->pid, hs->cg.name, why);
			unavailable(hs, r);
			if (hs->method != HOST_SWAP_RANDOM) {
				snprintf(hs->last, sizeof(hs->last), "lru: %.300s", r);
				return -ENOTSUP;
			}
		} else {
			int err = lru_out(hs, done, m, bytes);
			if (hs->method == HOST_SWAP_LRU || err == 0)
				return err;
			/* auto, and the kernel refused the write: random now. */
		}
	}
	if (m == NULL || m->n_regions == 0) {
		snprintf(hs->last, sizeof(hs->last), "random: the guest RAM mappings are unknown");
		return -ENOTSUP;
	}
	int err = guest_mem_page_out(done, m, bytes, rng, refs);
	hs->random_bytes += *done;
	char a[32], d[32];
	snprintf(hs->last, sizeof(hs->last), "random: asked %s, the kernel took %s%s%s",
		 format_size(a, sizeof(a), bytes), format_size(d, sizeof(d), *done),
		 refs != NULL && refs->n ? ", referenced pages last" : "",
		 err ? "; failed" : "");
	return err;
}
