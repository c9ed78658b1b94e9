/* SPDX-License-Identifier: MIT */
/*
 * qemu-agent: a reference embedder of reclaim that manages running QEMU
 * guests (see README.md). Declarations shared by its files.
 */
#ifndef QEMU_AGENT_H
#define QEMU_AGENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "common.h" /* examples/agent-common */
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
	/* RESUME events read so far: QEMU tells every QMP client when the
	 * guest runs again, whoever asked it to. */
	uint64_t resumes;
	/* When set and nonzero (a signal's flag), a wait for a reply ends at
	 * once with -ECANCELED, the connection kept: the reply, should it
	 * come, is skipped like any given up on. */
	const volatile sig_atomic_t *cancel;
};

/* Connects, reads the greeting and negotiates capabilities, each wait cut
 * short by @p cancel (may be NULL; kept as q->cancel). 0 or -errno. */
int qmp_open(struct qmp *q, const char *path, int timeout_ms, const volatile sig_atomic_t *cancel);
void qmp_close(struct qmp *q);
/* The pid of the QEMU process at the other end (SO_PEERCRED), or -errno. */
pid_t qmp_peer_pid(const struct qmp *q);
/*
 * Runs one command; @p args may be NULL and is not consumed. On success
 * *ret (if not NULL) holds the "return" value, which the caller
 * json_decref()s. Returns 0, -EIO for a QMP error reply (text in q->error),
 * -ETIMEDOUT, -ECANCELED (q->cancel), or -EPIPE / -ECONNRESET / another
 * -errno when the connection is lost (the client is then closed).
 */
int qmp_execute(struct qmp *q, json_t **ret, const char *command, json_t *args);
/* True once the connection is closed (the guest is gone). */
int qmp_closed(const struct qmp *q);
/* QEMU's run state ("running", "paused", "prelaunch", "postmigrate", ...)
 * into @p state; 0 or a qmp_execute() error, -EPROTO for a reply without
 * one. */
int qmp_run_state(struct qmp *q, char *state, size_t len);
/* When process @p pid started (clock ticks after boot; /proc/PID/stat), 0
 * if unknown: with the pid, it tells one QEMU from a later one that got
 * the pid again. */
uint64_t proc_start_time(pid_t pid);

/* A JSON number as bytes or a count; 0 if not a non-negative number below
 * 2^64 - 2^11 (QEMU reports "not available" as UINT64_MAX). */
int json_get_u64(uint64_t *out, const json_t *value);

#endif /* QEMU_AGENT_H */
