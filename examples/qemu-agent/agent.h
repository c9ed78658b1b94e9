/* SPDX-License-Identifier: MIT */
/*
 * qemu-agent: a reference embedder of reclaim that manages running QEMU
 * guests (see README.md). Declarations shared by its files.
 */
#ifndef QEMU_AGENT_H
#define QEMU_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "reclaim.h"

/* ---- qmp.c: a QMP client over a unix socket ---- */

struct qmp {
	int fd;            /* -1 when closed */
	char *buf;         /* bytes received, not yet parsed */
	size_t len;
	size_t cap;
	uint64_t next_id;
	int timeout_ms;    /* per command */
	char error[256];   /* last error: QMP's "desc" or a system error */
};

/* Connects, reads the greeting and negotiates capabilities. 0 or -errno. */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
void qmp_close(struct qmp *q);
/* The pid of the QEMU process at the other end (SO_PEERCRED), or -errno. */
pid_t qmp_peer_pid(const struct qmp *q);
/*
 * Runs one command; @p args may be NULL and is not consumed. On success
 * *ret (if not NULL) holds the "return" value, which the caller
 * json_decref()s. Returns 0, -EIO for a QMP error reply (text in q->error),
 * -ETIMEDOUT, or -EPIPE / -ECONNRESET / another -errno when the connection
 * is lost (the client is then closed).
 */
int qmp_execute(struct qmp *q, json_t **ret, const char *command, json_t *args);
/* True once the connection is closed (the guest is gone). */
int qmp_closed(const struct qmp *q);

/* A JSON number as bytes or a count; 0 if not a non-negative number below
 * 2^64 - 2^11 (QEMU reports "not available" as UINT64_MAX). */
int json_get_u64(uint64_t *out, const json_t *value);

/* ---- guestmem.c: the guest's RAM as the host sees it ---- */

struct guest_mem {
	pid_t pid;
	int pidfd;          /* for process_madvise */
	uint64_t start;     /* guest RAM mapping in the QEMU process */
	uint64_t len;
	uint64_t page_size; /* host page size */
	uint64_t *resident; /* scratch: resident page indices, len / page_size */
};

struct guest_mem_usage {
	uint64_t rss_bytes;        /* resident: the VM's machine memory */
	uint64_t swap_bytes;       /* host-swapped */
	uint64_t referenced_bytes; /* touched since the last guest_mem_clear_refs() */
};

/* Finds the memfd-backed mapping of @p size bytes in /proc/<pid>/maps. */
int guest_mem_open(struct guest_mem *m, pid_t pid, uint64_t size);
void guest_mem_close(struct guest_mem *m);
/* Reads Rss, Swap and Referenced of the mapping from /proc/<pid>/smaps. */
int guest_mem_usage(struct guest_mem_usage *u, const struct guest_mem *m);
/* Clears the accessed bits of the whole QEMU process (/proc/<pid>/clear_refs). */
int guest_mem_clear_refs(const struct guest_mem *m);
/*
 * Pages out @p bytes of the guest's resident RAM, choosing the pages
 * uniformly at random with reclaim's picker, by process_madvise(MADV_PAGEOUT).
 * *advised receives the bytes the kernel accepted. 0 or -errno.
 */
int guest_mem_page_out(uint64_t *advised, struct guest_mem *m, uint64_t bytes,
		       struct reclaim_rng *rng);

/* ---- policyconf.c: key = value policy files ---- */

/*
 * Fills @p cfg from the file at @p path (see README.md). Returns 0, or -1
 * after printing "path:line: message" to @p err.
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

#endif /* QEMU_AGENT_H */
