/* SPDX-License-Identifier: MIT */
/*
 * qemu-agent: manages running QEMU guests with reclaim. Each tick it reads
 * every guest's memory from the host and from QMP, asks the policy for
 * decisions and carries them out: balloon through QMP "balloon", host swap
 * by the kernel's LRU through QEMU's memory cgroup or by
 * process_madvise(MADV_PAGEOUT) on randomly picked guest pages
 * (agent-common's hostswap.c), blocking through QMP "stop"/"cont". See
 * README.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define QMP_TIMEOUT_MS 5000
/* A guest we stopped whose connection is gone: tried again every tick, this
 * long each time. */
#define RESUME_RETRY_MS 1000
/* Commands in a row that get no answer before the guest is given up: one
 * hung monitor must not hold every tick for a timeout per command. */
#define QMP_TIMEOUTS_MAX 3
#define DEFAULT_STATE_DIR "/run/reclaim-qemu-agent"

struct guest {
	char name[48];
	char qmp_path[108];
	uint64_t id;
	uint64_t shares;
	uint64_t reservation;
	uint64_t limit;
	uint64_t balloon_cap;
	uint64_t guest_swap; /* swap the VMM gave the guest (it reports no size) */

	int alive;
	struct qmp qmp;
	struct guest_mem mem;
	uint64_t configured;
	char balloon_path[160]; /* QOM path of the virtio-balloon device */
	int has_balloon;
	int blocked;     /* stopped by us, or maybe (a stop that got no answer) */
	int block_warned; /* told once that it cannot be blocked */
	int resume_warned; /* told once that it cannot be resumed yet */
	int record_fd;   /* its pause record, locked while we hold it; -1 none */
	pid_t pid;       /* its QEMU, and when that process started: */
	uint64_t start;  /* a record names the QEMU it stopped */
	uint64_t resumes_at_stop; /* qmp.resumes when we stopped it: one more is theirs */
	unsigned timeouts; /* commands in a row without an answer */
	/* Leaving (leave_guest(), which may run in a thread of its own): kept
	 * here, so that the way out allocates nothing it could be refused. */
	int leave_resumed;
	char leave_why[300];
	/* Guest stats and the balloon size are read at different moments:
	 * agent-common's guest_view aligns them. */
	struct guest_view view;
	struct reclaim_estimator est;
	uint64_t period_start_ns;
	int refs_due;    /* the period ended: clear the accessed bits after acting */
	struct reclaim_rng rng;
	struct host_swap swap; /* lru or random, and why */

	/* This tick's view. */
	struct guest_mem_usage usage;
	uint64_t balloon_bytes;
	int has_stats;
	uint64_t guest_free;
	uint64_t guest_swap_free;
	uint64_t stats_time_ns;
	uint64_t active;
	/* This tick's actions. */
	uint64_t paged_out;
	char swap_note[400]; /* what host swap did this tick */
	int op_error;
};

struct agent {
	struct guest *guests;
	size_t n_guests;
	struct reclaim_config cfg;
	struct reclaim_policy *policy;
	uint64_t budget;
	uint64_t reserved;
	uint64_t tick_ns;
	uint64_t duration_ns;
	uint64_t warmup_ns;
	uint64_t max_ticks;
	uint64_t seed;
	unsigned stats_interval_s;
	enum host_swap_method swap_method;
	int cgroup_move;
	const char *state_dir;
	char journal[4200]; /* cgroup v1: where the limit to restore is kept, "" none */
	int state_ok;       /* state_dir is ours: journals and pause records */
	int state_fd;       /* state_dir, opened once: records go through it */
	int explain;
	FILE *trace;
	uint64_t start_ns;
	double t; /* seconds since start, for messages */
	/* Guests an earlier agent stopped that are not ours to manage (no
	 * --vm names them), not resumed yet: tried again every tick. */
	struct leftover *leftovers;
	size_t n_leftovers;
};

struct leftover {
	char qmp_path[108];
	char name[256]; /* its record in the state directory */
	int fd;         /* the record, locked */
	pid_t pid;      /* the QEMU it stopped, if the record says */
	uint64_t start;
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t
clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int resume_at(const char *qmp_path, pid_t pid, uint64_t start, int timeout_ms, char *why,
		     size_t why_len);

/* Whether connection @p q read a RESUME since it stopped the guest
 * (@p resumes_at_stop: its count then; UINT64_MAX when not known): someone
 * else ran the guest since, and whatever pause it is in now is theirs. */
static int
resumed_since_stop(const struct qmp *q, uint64_t resumes_at_stop)
{
	return resumes_at_stop != UINT64_MAX && q->resumes != resumes_at_stop;
}
#define THEIRS_SINCE "resumed by someone else since we stopped it"
static void paused_forget(const struct agent *a, struct guest *g);

/*
 * Runs @p fn on each of the @p n items of @p size bytes at @p items at
 * once, each in a thread of its own where @p own_thread says so (all when
 * it is NULL) and a thread can be had, else here: one QEMU that does not
 * answer holds up no other.
 */
static void
run_at_once(void *(*fn)(void *), void *items, size_t n, size_t size,
	    int (*own_thread)(const void *item))
{
	pthread_t *threads = n > 1 ? calloc(n, sizeof(*threads)) : NULL;
	unsigned char *started = n > 1 ? calloc(n, 1) : NULL;

	for (size_t i = 0; i < n; i++) {
		void *item = (char *)items + i * size;
		if (threads == NULL || started == NULL || (own_thread && !own_thread(item)) ||
		    pthread_create(&threads[i], NULL, fn, item) != 0)
			fn(item);
		else
			started[i] = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (started != NULL && started[i])
			pthread_join(threads[i], NULL);
	free(threads);
	free(started);
}

/* A "cont" through a connection of its own (resume_at()), to run with
 * others at once. */
struct resume_job {
	const char *qmp_path;
	pid_t pid;
	uint64_t start;
	int timeout_ms;
	int err;
	char why[300];
	struct guest *guest; /* whose it is: a guest's, or (NULL) a leftover's */
};

static void *
resume_job_run(void *arg)
{
	struct resume_job *j = arg;
	j->err = resume_at(j->qmp_path, j->pid, j->start, j->timeout_ms, j->why, sizeof(j->why));
	return NULL;
}

/*
 * A guest we stopped whose connection is gone (QEMU may still be there) is
 * resumed through a new one. Until that works it is tried every tick, and
 * the agent does not leave while it is stopped. gone_to_resume() says
 * whether it still needs it (one someone else resumed since is let go
 * here); gone_resumed() takes the outcome.
 */
static int
gone_to_resume(struct agent *a, struct guest *g)
{
	if (!resumed_since_stop(&g->qmp, g->resumes_at_stop))
		return 1;
	/* (read by its old connection, before it broke) */
	g->blocked = 0;
	g->resume_warned = 0;
	paused_forget(a, g);
	printf("t=%.2f %s: " THEIRS_SINCE ": not ours to resume\n", a->t, g->name);
	return 0;
}

static void
gone_resumed(struct agent *a, struct guest *g, const struct resume_job *j)
{
	if (j->err == 0) {
		g->blocked = 0;
		g->resume_warned = 0;
		paused_forget(a, g);
		printf("t=%.2f %s: %s\n", a->t, g->name, j->why);
	} else if (!g->resume_warned) {
		fprintf(stderr, "t=%.2f %s: stopped by us and not resumed yet (%s); trying again "
			"every tick\n", a->t, g->name, j->why);
		g->resume_warned = 1;
	}
}

static struct resume_job
job_for(const char *qmp_path, pid_t pid, uint64_t start, int timeout_ms, struct guest *g)
{
	struct resume_job j = {.qmp_path = qmp_path, .pid = pid, .start = start,
			       .timeout_ms = timeout_ms, .guest = g};
	return j;
}

static void
guest_gone(struct agent *a, struct guest *g, const char *why)
{
	if (!g->alive)
		return;
	g->alive = 0;
	qmp_close(&g->qmp);
	guest_mem_close(&g->mem);
	size_t left = 0;
	for (size_t i = 0; i < a->n_guests; i++)
		left += a->guests[i].alive;
	printf("t=%.2f %s: gone (%s); %zu guest(s) left\n", a->t, g->name, why, left);
	if (g->blocked && gone_to_resume(a, g)) {
		struct resume_job j = job_for(g->qmp_path, g->pid, g->start, QMP_TIMEOUT_MS, g);
		resume_job_run(&j);
		gone_resumed(a, g, &j);
	}
}

/* After a command on @p g's connection: a lost connection, or one that
 * stopped answering, retires the guest. */
static int
guest_result(struct agent *a, struct guest *g, int err)
{
	if (err == -ETIMEDOUT && ++g->timeouts >= QMP_TIMEOUTS_MAX) {
		guest_gone(a, g, "QMP stopped answering");
	} else if (err && qmp_closed(&g->qmp)) {
		guest_gone(a, g, g->qmp.error);
	} else if (err && err != -ECANCELED) { /* (cut short by a signal: leaving) */
		fprintf(stderr, "t=%.2f %s: %s\n", a->t, g->name, g->qmp.error);
	}
	if (err != -ETIMEDOUT)
		g->timeouts = 0;
	return err;
}

/* Runs a QMP command for @p g. */
static int
guest_qmp(struct agent *a, struct guest *g, json_t **ret, const char *cmd, json_t *args)
{
	return guest_result(a, g, qmp_execute(&g->qmp, ret, cmd, args));
}

/*
 * "cont" for a guest we stopped, if it is still as we left it: 0 when
 * nothing of ours is left stopped. A guest someone else resumed, or that
 * is now in another state (migrated away, being migrated in, never
 * started), is not ours to resume: running a migration's source again
 * would run the VM twice. Nor is one that someone else resumed and paused
 * again since we stopped it (for a snapshot, say): the connection that
 * stopped it counted QEMU's RESUME events, and @p resumes_at_stop is that
 * count when it stopped the guest (UINT64_MAX on a new connection, which
 * cannot tell).
 */
static int
resume_checked(struct qmp *q, uint64_t resumes_at_stop, char *why, size_t why_len)
{
	char state[32];
	int err = qmp_run_state(q, state, sizeof(state));

	if (!err && !strcmp(state, "running")) {
		snprintf(why, why_len, "resumed by someone else");
		return 0;
	}
	if (!err && resumed_since_stop(q, resumes_at_stop)) {
		snprintf(why, why_len, THEIRS_SINCE ", and %s again: not ours to resume", state);
		return 0;
	}
	if (!err && strcmp(state, "paused") != 0) {
		snprintf(why, why_len, "QEMU says it is %s: not ours to resume", state);
		return 0;
	}
	if (!err)
		err = qmp_execute(q, NULL, "cont", NULL);
	snprintf(why, why_len, "%s", err ? q->error : "resumed");
	return err;
}

/* ---- state: what a restarted agent must put back ---- */

/*
 * The state directory holds what an agent killed at the wrong moment
 * leaves for the next one: the journal of a cgroup v1 limit being lowered
 * (host swap by lru), and a record of each guest it stopped, written
 * before "stop" and removed after "cont". It is the agent's alone: made
 * 0700, and nothing in it is read (nor any guest blocked) unless it is a
 * directory of ours that only we can write.
 */
static void
prepare_state(struct agent *a)
{
	struct stat st;

	if (mkdir(a->state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s: no blocking, and no lru host swap on cgroup v1\n",
			a->state_dir, strerror(errno));
		return;
	}
	/* Checked, and used from then on, as the directory opened here: a
	 * path swapped for a link later (by whoever can write a parent) does
	 * not move the records. */
	int fd = open(a->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		fprintf(stderr, "%s: not a directory of ours that only we can write: no blocking, "
			"and no lru host swap on cgroup v1\n", a->state_dir);
		if (fd >= 0)
			close(fd);
		return;
	}
	a->state_fd = fd;
	a->state_ok = 1;
	if (a->swap_method != HOST_SWAP_RANDOM)
		snprintf(a->journal, sizeof(a->journal), "%s", a->state_dir);
}

/* A limit an agent killed between lowering and restoring left lowered,
 * put back. */
static void
recover_state(struct agent *a)
{
	if (!a->state_ok || a->swap_method == HOST_SWAP_RANDOM)
		return;
	char msg[600];
	int r = memcg_recover(a->state_dir, NULL, msg, sizeof(msg));
	if (r > 0)
		printf("%s\n", msg);
	else if (r < 0)
		fprintf(stderr, "%s\n", msg);
}

#define PAUSED_PREFIX "paused-"

/* The record of a stopped guest: named by a hash of its QMP path, holding
 * the path itself. */
static void
paused_name(char *out, size_t len, const char *qmp_path)
{
	snprintf(out, len, PAUSED_PREFIX "%016" PRIx64, fnv1a(FNV1A_BASIS, qmp_path));
}

/* Writes the record, before "stop": the QMP path, then the pid and start
 * time of the QEMU behind it, so that the next agent resumes that QEMU and
 * no later one that listens on the path. It is emptied first: an agent
 * killed before it is written leaves it empty, and nothing stopped. Held
 * locked while the guest is ours: an agent sharing the directory leaves a
 * locked record alone. A record held already (taken over from an earlier
 * agent) is written again: it names the QEMU now behind the path. */
static int
paused_record(const struct agent *a, struct guest *g)
{
	char name[64];
	int err = 0, fd = g->record_fd;
	paused_name(name, sizeof(name), g->qmp_path);
	for (int tries = 0; fd < 0 && tries < 3; tries++) {
		fd = openat(a->state_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			close(fd);
			return err;
		}
		if (!file_still_named(a->state_fd, name, fd)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		return -EAGAIN;
	char text[sizeof(g->qmp_path) + 48];
	int len = snprintf(text, sizeof(text), "%s\n%d %" PRIu64 "\n", g->qmp_path, (int)g->pid,
			   g->start);
	errno = 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len || fsync(fd) != 0)
		err = errno ? -errno : -EIO;
	if (err) {
		if (fd != g->record_fd)
			close(fd);
		return err;
	}
	g->record_fd = fd;
	return 0;
}

static void
paused_forget(const struct agent *a, struct guest *g)
{
	char name[64];
	paused_name(name, sizeof(name), g->qmp_path);
	if (a->state_fd >= 0)
		unlinkat(a->state_fd, name, 0);
	if (g->record_fd >= 0)
		close(g->record_fd);
	g->record_fd = -1;
}

/* "cont" through a connection of its own: for a guest whose connection
 * is gone, and for guests an earlier agent left stopped. 0 when nothing of
 * ours is left stopped: resumed, its QEMU gone, another QEMU in its place
 * (@p pid and @p start, when known, name the one that was stopped), or
 * not in the state it was left in. */
static int
resume_at(const char *qmp_path, pid_t pid, uint64_t start, int timeout_ms, char *why,
	  size_t why_len)
{
	struct qmp q;
	int err = qmp_open(&q, qmp_path, timeout_ms, NULL);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		snprintf(why, why_len, "its QEMU is gone");
		return 0;
	}
	if (err) {
		snprintf(why, why_len, "%s", q.error);
		return err;
	}
	pid_t now = qmp_peer_pid(&q);
	if (pid > 0 && start && (now != pid || proc_start_time(now) != start)) {
		snprintf(why, why_len, "its QEMU is gone; another listens there now, not ours");
		qmp_close(&q);
		return 0;
	}
	err = resume_checked(&q, UINT64_MAX, why, why_len);
	qmp_close(&q);
	return err;
}

/* No control characters (and so no line ends). */
static int
plain_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/*
 * A record's @p n bytes in @p text (room for one more): its QMP path, or
 * NULL unless it is what paused_record() writes (an absolute path without
 * control characters on a line, then the QEMU's pid and start time, which
 * an older agent did not write).
 */
static const char *
record_parse(char *text, size_t n, pid_t *pid, uint64_t *start)
{
	unsigned long long p, t;
	int used = 0;

	text[n] = '\0';
	char *nl = strchr(text, '\n');
	if (nl != NULL) {
		*nl = '\0';
		if (nl[1] < '0' || nl[1] > '9' || sscanf(nl + 1, "%llu %llu\n%n", &p, &t, &used) != 2 ||
		    (size_t)used != strlen(nl + 1) || p == 0 || p > INT32_MAX)
			return NULL;
		*pid = (pid_t)p;
		*start = t;
	}
	if (text[0] != '/' || !plain_text(text) ||
	    strlen(text) >= sizeof(((struct guest *)0)->qmp_path))
		return NULL;
	return text;
}

/* Appends a record (its guest's QMP path, its file's name and descriptor,
 * the QEMU it names) to *@p list of *@p n. 0 or -ENOMEM (nothing changed). */
static int
leftover_push(struct leftover **list, size_t *n, const char *qmp_path, const char *name, int fd,
	      pid_t pid, uint64_t start)
{
	struct leftover *more = realloc(*list, (*n + 1) * sizeof(*more));
	if (more == NULL)
		return -ENOMEM;
	*list = more;
	struct leftover *l = &more[(*n)++];
	snprintf(l->qmp_path, sizeof(l->qmp_path), "%s", qmp_path);
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->fd = fd;
	l->pid = pid;
	l->start = start;
	return 0;
}

/* Resumes every guest an earlier agent stopped and did not resume (it was
 * killed, or lost the guest's connection): the records read one by one,
 * the guests resumed at once. */
static void
resume_left_paused(struct agent *a)
{
	if (!a->state_ok)
		return;
	int dfd = dup(a->state_fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	struct leftover *found = NULL; /* the records, to resume */
	size_t n_found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, PAUSED_PREFIX, strlen(PAUSED_PREFIX)) != 0)
			continue;
		char path[4200], text[sizeof(((struct guest *)0)->qmp_path) + 48];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", a->state_dir, e->d_name);
		/* Not blocking: a FIFO in its place must not hang start-up. */
		int fd = openat(a->state_fd, e->d_name,
				O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 || !file_still_named(a->state_fd, e->d_name, fd)) {
			close(fd); /* its agent is alive and has the guest stopped */
			continue;
		}
		int ours = file_is_ours(fd, &st);
		if (ours && st.st_size == 0) {
			/* Its agent died before writing it, so before "stop". */
			unlinkat(a->state_fd, e->d_name, 0);
			close(fd);
			continue;
		}
		ssize_t n = ours && (size_t)st.st_size < sizeof(text)
				    ? read(fd, text, sizeof(text) - 1)
				    : -1;
		pid_t pid = 0;
		uint64_t start = 0;
		const char *qmp_path = n == st.st_size ? record_parse(text, (size_t)n, &pid, &start)
						       : NULL;
		if (qmp_path == NULL) {
			close(fd);
			fprintf(stderr, "%s: not a record of ours; left alone\n", path);
			continue;
		}
		if (leftover_push(&found, &n_found, qmp_path, e->d_name, fd, pid, start) != 0)
			close(fd); /* (the record stays, for the next agent) */
	}
	closedir(d);

	/* All at once: one QEMU that does not answer holds up no other. */
	struct resume_job *jobs = calloc(n_found ? n_found : 1, sizeof(*jobs));
	for (size_t i = 0; i < n_found && jobs != NULL; i++)
		jobs[i] = job_for(found[i].qmp_path, found[i].pid, found[i].start, QMP_TIMEOUT_MS,
				  NULL);
	if (jobs != NULL)
		run_at_once(resume_job_run, jobs, n_found, sizeof(*jobs), NULL);
	for (size_t i = 0; i < n_found; i++) {
		const struct leftover *l = &found[i];
		int err = jobs != NULL ? jobs[i].err : -ENOMEM;
		const char *why = jobs != NULL ? jobs[i].why : strerror(ENOMEM);
		if (err == 0) {
			printf("%s: stopped by an earlier agent: %s\n", l->qmp_path, why);
			unlinkat(a->state_fd, l->name, 0);
			close(l->fd);
			continue;
		}
		fprintf(stderr, "%s: stopped by an earlier agent, still stopped: %s\n", l->qmp_path,
			why);
		/* A guest of ours: it counts as blocked, and is resumed as soon
		 * as a decision does not block it (or on exit), if the QEMU it
		 * attaches to is the one the record names. */
		struct guest *g = NULL;
		for (size_t k = 0; k < a->n_guests && g == NULL; k++)
			if (!strcmp(a->guests[k].qmp_path, l->qmp_path))
				g = &a->guests[k];
		if (g != NULL && g->record_fd < 0) {
			g->blocked = 1;
			g->record_fd = l->fd;
			g->pid = l->pid;
			g->start = l->start;
		} else if (g == NULL && leftover_push(&a->leftovers, &a->n_leftovers, l->qmp_path,
						      l->name, l->fd, l->pid, l->start) == 0) {
			/* (kept, and no --vm names it: for retry_stopped()) */
			fprintf(stderr, "%s: trying again every tick\n", l->qmp_path);
		} else {
			close(l->fd);
		}
	}
	free(jobs);
	free(found);
}

/*
 * Another try, all at once, at every guest we stopped whose connection is
 * gone and at every leftover of an earlier agent (@p final: the last try,
 * before exit, at the leftovers alone). True when a leftover is still
 * stopped.
 */
static int
retry_stopped(struct agent *a, int final)
{
	size_t n = 0, cap = a->n_guests + a->n_leftovers;
	struct resume_job *jobs = calloc(cap ? cap : 1, sizeof(*jobs));
	if (jobs == NULL)
		return a->n_leftovers > 0; /* (tried again at the next tick) */
	for (size_t i = 0; i < a->n_guests && !final; i++) {
		struct guest *g = &a->guests[i];
		if (!g->alive && g->blocked && gone_to_resume(a, g))
			jobs[n++] = job_for(g->qmp_path, g->pid, g->start, RESUME_RETRY_MS, g);
	}
	size_t guests = n;
	for (size_t i = 0; i < a->n_leftovers; i++) {
		const struct leftover *l = &a->leftovers[i];
		jobs[n++] = job_for(l->qmp_path, l->pid, l->start, RESUME_RETRY_MS, NULL);
	}
	run_at_once(resume_job_run, jobs, n, sizeof(*jobs), NULL);
	for (size_t k = 0; k < guests; k++)
		gone_resumed(a, jobs[k].guest, &jobs[k]);
	/* From the last: one resumed gives its place to the last, whose job
	 * is done with. */
	for (size_t i = a->n_leftovers; i-- > 0;) {
		struct leftover *l = &a->leftovers[i];
		const struct resume_job *j = &jobs[guests + i];
		if (j->err != 0) {
			if (final)
				fprintf(stderr, "%s: stopped by an earlier agent, still stopped (%s); "
					"the next agent resumes it\n", l->qmp_path, j->why);
			continue;
		}
		printf("t=%.2f %s: stopped by an earlier agent: %s\n", a->t, l->qmp_path, j->why);
		if (file_still_named(a->state_fd, l->name, l->fd))
			unlinkat(a->state_fd, l->name, 0);
		close(l->fd);
		*l = a->leftovers[--a->n_leftovers];
	}
	free(jobs);
	return a->n_leftovers > 0;
}

/* ---- attaching ---- */

static int
find_balloon(struct guest *g)
{
	static const char *const parents[] = {"/machine/peripheral", "/machine/peripheral-anon"};

	for (size_t p = 0; p < 2; p++) {
		json_t *list = NULL;
		json_t *args = json_pack("{s:s}", "path", parents[p]);
		int err = qmp_execute(&g->qmp, &list, "qom-list", args);
		json_decref(args);
		if (err)
			return err;
		size_t i;
		json_t *item;
		json_array_foreach(list, i, item) {
			const char *type = json_string_value(json_object_get(item, "type"));
			const char *name = json_string_value(json_object_get(item, "name"));
			/* The name makes a QOM path and goes to the log: only
			 * what QEMU's own names hold ("balloon0", "device[3]"). */
			if (type && name && strstr(type, "virtio-balloon") != NULL && *name &&
			    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789_.-[]") == strlen(name)) {
				snprintf(g->balloon_path, sizeof(g->balloon_path), "%s/%s",
					 parents[p], name);
				g->has_balloon = 1;
				json_decref(list);
				return 0;
			}
		}
		json_decref(list);
	}
	return 0;
}

static int
guest_attach(struct agent *a, struct guest *g)
{
	int err = qmp_open(&g->qmp, g->qmp_path, QMP_TIMEOUT_MS, &stop_requested);
	if (err) {
		if (err != -ECANCELED) /* (cut short by a signal: leaving, nothing wrong) */
			fprintf(stderr, "%s: %s\n", g->name, g->qmp.error);
		return -1;
	}
	pid_t pid = qmp_peer_pid(&g->qmp);
	if (pid <= 0) {
		fprintf(stderr, "%s: cannot tell QEMU's pid: %s\n", g->name, strerror(-pid));
		return -1;
	}
	uint64_t start = proc_start_time(pid);
	int named = g->pid == pid && g->start == start; /* by a record taken over */
	if (g->blocked && g->pid > 0 && g->start && !named) {
		/* A record taken over from an earlier agent names another
		 * QEMU: this one's pause, if any, is not ours. */
		printf("%s: stopped by an earlier agent: its QEMU is gone; another listens there "
		       "now, not ours\n", g->qmp_path);
		g->blocked = 0;
		paused_forget(a, g);
	}
	g->pid = pid;
	g->start = start;
	g->resumes_at_stop = g->qmp.resumes;
	/* Taken over from a record that did not say which QEMU (an older
	 * agent's): it names this one from now on. */
	int rec = g->blocked && !named && a->state_ok ? paused_record(a, g) : 0;
	if (rec)
		fprintf(stderr, "%s: cannot write its record again: %s\n", g->name,
			strerror(-rec));

	/* Guest RAM must be one memfd backend so that it is one mapping. */
	json_t *memdevs = NULL, *summary = NULL;
	uint64_t base = 0;
	err = qmp_execute(&g->qmp, &memdevs, "query-memdev", NULL);
	if (!err)
		err = qmp_execute(&g->qmp, &summary, "query-memory-size-summary", NULL);
	if (!err && json_get_u64(&base, json_object_get(summary, "base-memory")) != 0) {
		err = -EPROTO;
		snprintf(g->qmp.error, sizeof(g->qmp.error),
			 "query-memory-size-summary: no base-memory size in the reply");
	}
	json_decref(summary);
	if (err) {
		json_decref(memdevs);
		fprintf(stderr, "%s: %s\n", g->name, g->qmp.error);
		return -1;
	}
	int mapped = -ENOENT;
	size_t i;
	json_t *dev;
	json_array_foreach(memdevs, i, dev) {
		uint64_t size;
		if (json_get_u64(&size, json_object_get(dev, "size")) == 0 && size == base &&
		    (mapped = guest_mem_open_memfd(&g->mem, pid, size)) == 0)
			break;
	}
	json_decref(memdevs);
	if (mapped == -ENOENT) {
		fprintf(stderr,
			"%s: no memfd mapping holding all %" PRIu64 " bytes of guest RAM in "
			"QEMU pid %d; start QEMU with -object memory-backend-memfd,"
			"id=mem,size=...,share=on -machine memory-backend=mem\n",
			g->name, base, (int)pid);
		return -1;
	}
	if (mapped != 0) {
		fprintf(stderr, "%s: guest RAM of QEMU pid %d: %s\n", g->name, (int)pid,
			strerror(-mapped));
		return -1;
	}
	if (g->mem.pidfd < 0)
		fprintf(stderr, "%s: no pidfd_open here: host swap is unavailable\n", g->name);
	g->configured = base;

	if (find_balloon(g) != 0) {
		fprintf(stderr, "%s: %s\n", g->name, g->qmp.error);
		return -1;
	}
	if (g->has_balloon) {
		json_t *args = json_pack("{s:s, s:s, s:i}", "path", g->balloon_path, "property",
					 "guest-stats-polling-interval", "value",
					 (int)a->stats_interval_s);
		err = qmp_execute(&g->qmp, NULL, "qom-set", args);
		json_decref(args);
		if (err) {
			fprintf(stderr, "%s: %s\n", g->name, g->qmp.error);
			return -1;
		}
		json_t *ret = NULL;
		int deflate_on_oom = 0;
		args = json_pack("{s:s, s:s}", "path", g->balloon_path, "property",
				 "deflate-on-oom");
		if (qmp_execute(&g->qmp, &ret, "qom-get", args) == 0)
			deflate_on_oom = json_is_true(ret);
		json_decref(args);
		json_decref(ret);
		guest_view_init(&g->view, g->guest_swap, deflate_on_oom,
				(double)clock_ns(CLOCK_REALTIME) / 1e9);
	}

	err = reclaim_estimator_init(&g->est, sizeof(g->est), &a->cfg);
	if (err != RECLAIM_OK) {
		fprintf(stderr, "%s: estimator: %s\n", g->name, reclaim_strerror(err));
		return -1;
	}
	guest_mem_clear_refs(&g->mem);
	g->period_start_ns = clock_ns(CLOCK_MONOTONIC);
	reclaim_rng_seed(&g->rng, a->seed ^ (g->id * 0x9e3779b97f4a7c15ull));
	g->alive = 1;

	struct guest_mem_usage u = {0};
	guest_mem_usage(&u, &g->mem);
	struct host_swap_opts so = {
		.method = a->swap_method,
		.move = a->cgroup_move,
		.name = g->name,
		.journal = a->journal[0] ? a->journal : NULL,
		/* Only against a kernel reclaim loop that never ends (a guest
		 * faulting pages back as fast as they go): a slow disk, a busy
		 * host may need seconds. */
		.deadline_ns = a->tick_ns > 5 * NS_PER_S ? a->tick_ns : 5 * NS_PER_S,
		.guest_rss = u.rss_bytes,
	};
	host_swap_setup(&g->swap, pid, &so);

	char size[32];
	printf("%s: QEMU pid %d, %s of guest RAM at 0x%" PRIx64 ", balloon %s\n", g->name,
	       (int)pid, format_size(size, sizeof(size), g->configured), g->mem.region[0].start,
	       g->has_balloon ? g->balloon_path : "none");
	printf("%s: host swap by %s: %s\n", g->name, host_swap_method_name(g->swap.method),
	       g->swap.why);
	return 0;
}

/* ---- sampling ---- */

/* The guest's view through the balloon's guest-stats, aligned with the
 * balloon size of now (agent-common's guestview.c explains why). */
static void
read_guest_stats(struct agent *a, struct guest *g, uint64_t now_ns)
{
	g->has_stats = 0;
	if (!g->has_balloon)
		return;
	json_t *ret = NULL;
	json_t *args = json_pack("{s:s, s:s}", "path", g->balloon_path, "property",
				 "guest-stats");
	int err = guest_qmp(a, g, &ret, "qom-get", args);
	json_decref(args);
	if (err)
		return;

	/* last-update is the host's wall clock in seconds when QEMU got the
	 * stats; 0 until the driver has ever reported. */
	struct guest_stats_raw raw = {0};
	json_t *stats = json_object_get(ret, "stats");
	json_get_u64(&raw.last_update_s, json_object_get(ret, "last-update"));
	raw.has_available =
		json_get_u64(&raw.available, json_object_get(stats, "stat-available-memory")) == 0;
	raw.has_free = json_get_u64(&raw.free, json_object_get(stats, "stat-free-memory")) == 0;
	raw.has_total = json_get_u64(&raw.total, json_object_get(stats, "stat-total-memory")) == 0;
	json_get_u64(&raw.swap_in, json_object_get(stats, "stat-swap-in"));
	json_get_u64(&raw.swap_out, json_object_get(stats, "stat-swap-out"));
	json_decref(ret);

	struct guest_view_out out;
	if (guest_view_stats(&out, &g->view, &raw, g->balloon_bytes, now_ns,
			     clock_ns(CLOCK_REALTIME))) {
		g->guest_free = out.free_bytes;
		g->guest_swap_free = out.swap_free_bytes;
		g->stats_time_ns = out.stats_time_ns;
		g->has_stats = 1;
	}
}

static void
sample_guest(struct agent *a, struct guest *g, uint64_t now_ns)
{
	int err = guest_mem_usage(&g->usage, &g->mem);
	if (err) {
		/* A zombie QEMU still has /proc/<pid>, with no mappings. */
		guest_gone(a, g, err == -ESRCH || err == -ENOENT ? "QEMU process exited"
								 : strerror(-err));
		return;
	}

	if (g->has_balloon) {
		json_t *ret = NULL;
		uint64_t actual;
		if (guest_qmp(a, g, &ret, "query-balloon", NULL) != 0) {
			/* No answer: the last size stands (an empty balloon would
			 * read as one the guest deflated), and the guest's stats
			 * of an earlier tick are not taken as fresh beside it. */
			g->has_stats = 0;
			return;
		}
		/* actual is the guest's size: configured minus the balloon. */
		g->balloon_bytes = 0;
		if (json_get_u64(&actual, json_object_get(ret, "actual")) == 0 &&
		    actual < g->configured)
			g->balloon_bytes = g->configured - actual;
		json_decref(ret);
		guest_view_balloon(&g->view, g->balloon_bytes,
				   (double)clock_ns(CLOCK_REALTIME) / 1e9);
	}
	read_guest_stats(a, g, now_ns);
	if (!g->alive)
		return;

	/* Active memory: the share of resident guest pages whose accessed
	 * bit was set since the period began (cleared through clear_refs),
	 * smoothed by the library's estimator. */
	uint64_t page = g->mem.page_size;
	uint64_t resident = g->usage.rss_bytes / page;
	uint64_t touched = g->usage.referenced_bytes / page;
	if (resident > UINT32_MAX) {
		touched = touched / (resident / UINT32_MAX + 1);
		resident = resident / (resident / UINT32_MAX + 1);
	}
	if (touched > resident)
		touched = resident;
	if (now_ns - g->period_start_ns >= a->cfg.sample_period_ns) {
		reclaim_estimator_period(&g->est, (uint32_t)resident, (uint32_t)touched);
		g->refs_due = 1; /* (see tick()) */
		g->period_start_ns = now_ns;
	} else {
		reclaim_estimator_progress(&g->est, (uint32_t)resident, (uint32_t)touched);
	}
	g->active = reclaim_estimator_active_bytes(&g->est, g->usage.rss_bytes);
}

/* ---- adapter ---- */

static struct guest *
guest_by_id(struct agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->n_guests; i++)
		if (a->guests[i].id == id && a->guests[i].alive)
			return &a->guests[i];
	return NULL;
}

static int
op_set_balloon(void *user_data, uint64_t vm_id, uint64_t balloon_bytes)
{
	struct agent *a = user_data;
	struct guest *g = guest_by_id(a, vm_id);
	if (g == NULL)
		return -ENODEV;
	if (!g->has_balloon || balloon_bytes >= g->configured)
		return -EINVAL;
	/* QMP's balloon value is the guest size to aim for. */
	json_t *args = json_pack("{s:I}", "value", (json_int_t)(g->configured - balloon_bytes));
	int err = guest_qmp(a, g, NULL, "balloon", args);
	json_decref(args);
	g->op_error = g->op_error ? g->op_error : err;
	return err;
}

static int
op_swap_out(void *user_data, uint64_t vm_id, uint64_t bytes)
{
	struct agent *a = user_data;
	struct guest *g = guest_by_id(a, vm_id);
	if (g == NULL)
		return -ENODEV;
	uint64_t advised = 0;
	/* No per-page reference data here: clear_refs gives one count per
	 * mapping, so random picking has no pages to put last. */
	int err = host_swap_out(&g->swap, &advised, &g->mem, bytes, &g->rng, NULL);
	g->paged_out += advised;
	snprintf(g->swap_note, sizeof(g->swap_note), "%s", g->swap.last);
	if (err) {
		fprintf(stderr, "t=%.2f %s: host swap (%s): %s: %s\n", a->t, g->name,
			host_swap_method_name(g->swap.method), strerror(-err), g->swap.last);
		g->op_error = g->op_error ? g->op_error : err;
	}
	return err;
}

/*
 * Blocking is recorded before "stop" and forgotten after "cont", so that
 * an agent killed in between leaves the record for the next one, which
 * resumes the guest. A stop that got no answer may still take effect: the
 * guest counts as blocked until a "cont" succeeds. Only a running guest is
 * stopped: one that is paused already (by an operator, before its start,
 * for a migration) is blocked as it is, and is not ours to resume.
 */
static int
op_block(void *user_data, uint64_t vm_id)
{
	struct agent *a = user_data;
	struct guest *g = guest_by_id(a, vm_id);
	if (g == NULL || !g->alive)
		return -ENODEV;
	char state[32];
	int err = guest_result(a, g, qmp_run_state(&g->qmp, state, sizeof(state)));
	if (err)
		return err;
	if (strcmp(state, "running") != 0) {
		printf("t=%.2f %s: to be blocked, and QEMU says it is %s already: left as it is\n",
		       a->t, g->name, state);
		return 0;
	}
	err = a->state_ok ? paused_record(a, g) : -EPERM;
	if (err) {
		if (!g->block_warned)
			fprintf(stderr, "t=%.2f %s: not blocked: no record of it in %s (%s)\n",
				a->t, g->name, a->state_dir, strerror(-err));
		g->block_warned = 1;
		return err;
	}
	g->blocked = 1;
	err = guest_qmp(a, g, NULL, "stop", NULL);
	/* (a RESUME read from now on is someone else's) */
	g->resumes_at_stop = g->qmp.resumes;
	if (err == -EIO) { /* QEMU answered, and refused: not stopped */
		g->blocked = 0;
		paused_forget(a, g);
	}
	return err;
}

static int
op_unblock(void *user_data, uint64_t vm_id)
{
	struct agent *a = user_data;
	struct guest *g = guest_by_id(a, vm_id);
	if (g == NULL)
		return -ENODEV;
	if (!g->blocked)
		return 0; /* not stopped by us */
	if (!g->alive)
		return -ENOTCONN; /* resumed by retry_stopped() */
	char why[300];
	int err = resume_checked(&g->qmp, g->resumes_at_stop, why, sizeof(why));
	if (!err) {
		if (strcmp(why, "resumed") != 0)
			printf("t=%.2f %s: %s\n", a->t, g->name, why);
		g->blocked = 0;
		paused_forget(a, g);
	}
	return guest_result(a, g, err);
}

static const struct reclaim_adapter adapter = {
	.version = RECLAIM_ADAPTER_VERSION,
	.set_balloon = op_set_balloon,
	.swap_out = op_swap_out,
	.block = op_block,
	.unblock = op_unblock,
	.compress = NULL, /* no compression cache: the library swaps instead */
};

/* ---- one tick ---- */

/* A flag word as the array of its names (the library's spelling). */
static json_t *
flag_names(const char *(*name)(uint32_t), uint32_t bits)
{
	json_t *list = json_array();

	for (unsigned bit = 0; bit < 32; bit++) {
		const char *n = (bits >> bit) & 1u ? name(1u << bit) : NULL;

		if ((bits >> bit) & 1u)
			json_array_append_new(list, n ? json_string(n) : json_sprintf("bit%u", bit));
	}
	return list;
}

static const char *
or_unknown(const char *name)
{
	return name ? name : "unknown";
}

static void
explain_tick(const struct agent *a, const struct reclaim_summary *sum,
	     const struct reclaim_decision *dec, const struct reclaim_vm_stats *vms, size_t n)
{
	char f[32], u[32], h[32], nd[32];

	printf("t=%.2f host %s (was %s): free %s of %s, high %s, need %s\n", a->t,
	       or_unknown(reclaim_state_name(sum->state)),
	       or_unknown(reclaim_state_name(sum->previous_state)),
	       format_size(f, sizeof(f), sum->free_bytes),
	       format_size(u, sizeof(u), sum->usable_bytes),
	       format_size(h, sizeof(h), sum->threshold_bytes[0]),
	       format_size(nd, sizeof(nd), sum->need_bytes));
	for (size_t i = 0; i < n; i++) {
		char line[512];
		if (reclaim_decision_format(line, sizeof(line), &dec[i]) < 0)
			snprintf(line, sizeof(line), "(unformattable decision)");
		const struct guest *g = NULL;
		for (size_t j = 0; j < a->n_guests; j++)
			if (a->guests[j].id == vms[i].id)
				g = &a->guests[j];
		char c[32], act[32];
		printf("t=%.2f   [%s] %s [consumed %s active %s]\n", a->t, g ? g->name : "?", line,
		       format_size(c, sizeof(c), vms[i].consumed_bytes),
		       format_size(act, sizeof(act), vms[i].active_bytes));
	}
}

static void
trace_tick(struct agent *a, const struct reclaim_summary *sum,
	   const struct reclaim_decision *dec, const struct reclaim_vm_stats *vms, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		struct guest *g = guest_by_id(a, vms[i].id);
		char line[512];
		if (reclaim_decision_format(line, sizeof(line), &dec[i]) < 0)
			line[0] = '\0';
		json_t *vm = json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I,"
			" s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:i, s:I, s:i, s:b, s:s}",
			"name", g ? g->name : "?", "id", (json_int_t)vms[i].id,
			"consumed", (json_int_t)vms[i].consumed_bytes,
			"swapped", (json_int_t)vms[i].swapped_bytes,
			"balloon", (json_int_t)vms[i].balloon_bytes,
			"active", (json_int_t)vms[i].active_bytes,
			"guest_free", (json_int_t)vms[i].guest_free_bytes,
			"stats", (vms[i].flags & RECLAIM_VM_GUEST_STATS) != 0,
			"target", (json_int_t)dec[i].target_bytes,
			"balloon_target", (json_int_t)dec[i].balloon_target_bytes,
			"balloon_cap", (json_int_t)dec[i].balloon_cap_bytes,
			"swap", (json_int_t)dec[i].swap_bytes,
			"excess", (json_int_t)dec[i].excess_bytes,
			"paged_out", (json_int_t)(g ? g->paged_out : 0),
			"swap_method", g ? host_swap_method_name(g->swap.method) : "?",
			"swap_why", g ? g->swap.why : "",
			"swap_note", g ? g->swap_note : "",
			"actions", flag_names(reclaim_action_name, dec[i].actions),
			"reasons", flag_names(reclaim_reason_name, dec[i].reasons),
			"bound", or_unknown(reclaim_bound_name(dec[i].bound)),
			"balloon_limit", or_unknown(reclaim_balloon_limit_name(dec[i].balloon_limit)),
			"block", (int)dec[i].block,
			"guest_swap_free", (json_int_t)vms[i].guest_swap_free_bytes,
			"op_error", g ? g->op_error : 0, "blocked", g ? g->blocked : 0,
			"explain", line);
		json_array_append_new(list, vm);
	}
	json_t *tick = json_pack(
		"{s:f, s:s, s:s, s:I, s:I, s:[I,I,I,I], s:I, s:I, s:I, s:o, s:o}", "t", a->t,
		"state", or_unknown(reclaim_state_name(sum->state)), "previous",
		or_unknown(reclaim_state_name(sum->previous_state)), "free", (json_int_t)sum->free_bytes,
		"usable", (json_int_t)sum->usable_bytes, "thresholds",
		(json_int_t)sum->threshold_bytes[0], (json_int_t)sum->threshold_bytes[1],
		(json_int_t)sum->threshold_bytes[2], (json_int_t)sum->threshold_bytes[3], "need",
		(json_int_t)sum->need_bytes, "balloon_planned", (json_int_t)sum->balloon_bytes,
		"swap_planned", (json_int_t)sum->swap_bytes, "summary_flags",
		flag_names(reclaim_summary_flag_name, sum->flags), "vms", list);
	if (tick != NULL) {
		json_dumpf(tick, a->trace, JSON_COMPACT);
		fputc('\n', a->trace);
		fflush(a->trace);
	}
	json_decref(tick);
}

static uint64_t
host_swap_free(void)
{
	struct meminfo mi;

	return meminfo_read(&mi, NULL) == 0 ? mi.swap_free : 0;
}

static int decide_and_act(struct agent *a, struct reclaim_vm_stats *vms,
			  struct reclaim_decision *dec, uint64_t now);

/* Samples every guest; then, unless only @p observing, decides and acts.
 * Returns 0, or -1 when the policy rejected its inputs. */
static int
tick(struct agent *a, struct reclaim_vm_stats *vms, struct reclaim_decision *dec, int observing)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	a->t = (double)(int64_t)(now - a->start_ns) / 1e9; /* < 0 while warming up */
	for (size_t i = 0; i < a->n_guests && !stop_requested; i++)
		if (a->guests[i].alive)
			sample_guest(a, &a->guests[i], now);
	/* Asked to leave: no decision on a sample the signal cut short (and
	 * what is still stopped is resumed on the way out). */
	if (stop_requested)
		return 0;
	retry_stopped(a, 0);
	int rc = observing ? 0 : decide_and_act(a, vms, dec, now);
	/* A sampling period that ended at this tick's sample starts the next
	 * only now, after the actions. Cleared before them, the accessed bits
	 * would leave the kernel's LRU (host swap by lru) unable to tell the
	 * guest's hot pages from its cold ones: it would page out the working
	 * set as blindly as random picking. */
	for (size_t i = 0; i < a->n_guests; i++) {
		struct guest *g = &a->guests[i];
		if (g->alive && g->refs_due)
			guest_mem_clear_refs(&g->mem);
		g->refs_due = 0;
	}
	return rc;
}

/* One decision on this tick's samples, carried out. */
static int
decide_and_act(struct agent *a, struct reclaim_vm_stats *vms, struct reclaim_decision *dec,
	       uint64_t now)
{
	/* The budget is this agent's host: a few small guests can put it
	 * under real pressure on a large machine. */
	struct reclaim_host host = RECLAIM_HOST_INIT;
	host.total_bytes = a->budget;
	host.reserved_bytes = a->reserved;
	host.now_ns = now;
	host.flags = RECLAIM_HOST_SWAP_BOUNDED;
	host.swap_free_bytes = host_swap_free();
	uint64_t used = a->reserved;
	size_t n = 0;
	for (size_t i = 0; i < a->n_guests; i++) {
		struct guest *g = &a->guests[i];
		if (!g->alive)
			continue;
		g->paged_out = 0;
		g->swap_note[0] = '\0';
		g->op_error = 0;
		used += g->usage.rss_bytes;
		struct reclaim_vm_stats v = RECLAIM_VM_STATS_INIT;
		v.id = g->id;
		v.configured_bytes = g->configured;
		v.consumed_bytes = g->usage.rss_bytes;
		v.reservation_bytes = g->reservation;
		v.limit_bytes = g->limit;
		v.shares = g->shares;
		v.active_bytes = g->active;
		v.balloon_bytes = g->balloon_bytes;
		v.balloon_cap_bytes = g->balloon_cap;
		v.swapped_bytes = g->usage.swap_bytes;
		if (g->has_balloon)
			v.flags |= RECLAIM_VM_BALLOON;
		if (g->has_stats) {
			v.flags |= RECLAIM_VM_GUEST_STATS;
			v.guest_free_bytes = g->guest_free;
			v.guest_swap_free_bytes = g->guest_swap_free;
			v.stats_time_ns = g->stats_time_ns;
		}
		vms[n++] = v;
	}
	if (n == 0)
		return 0;
	host.free_bytes = a->budget > used ? a->budget - used : 0;

	struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
	int status = reclaim_decide(a->policy, &host, vms, n, 0, &sum, dec);
	if (status != RECLAIM_OK) {
		fprintf(stderr, "t=%.2f reclaim_decide: %s\n", a->t, reclaim_strerror(status));
		return -1;
	}
	if (a->explain)
		explain_tick(a, &sum, dec, vms, n);
	reclaim_apply(a->policy, &adapter, a, dec, n, NULL, 0);
	/* A stop that got no answer counts as done; the policy may not know
	 * it took effect. A guest we may have stopped that the decision does
	 * not block is resumed. */
	for (size_t k = 0; k < n; k++) {
		struct guest *g = guest_by_id(a, dec[k].id);
		if (g != NULL && g->blocked && !dec[k].block)
			op_unblock(a, g->id);
	}
	if (a->explain) {
		for (size_t i = 0; i < a->n_guests; i++) {
			struct guest *g = &a->guests[i];
			char s[32];
			if (g->alive && g->swap_note[0] != '\0')
				printf("t=%.2f   %s: paged out %s by %s (%s)\n", a->t, g->name,
				       format_size(s, sizeof(s), g->paged_out),
				       host_swap_method_name(g->swap.method), g->swap_note);
		}
	}
	if (a->trace != NULL)
		trace_tick(a, &sum, dec, vms, n);
	fflush(stdout);
	return 0;
}

/* ---- command line ---- */

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: qemu-agent --budget SIZE --vm SPEC [--vm SPEC...] [options]\n"
		"  --vm name=NAME,qmp=PATH[,shares=N][,min=SIZE][,limit=SIZE]\n"
		"       [,balloon-cap=SIZE][,guest-swap=SIZE][,id=N]\n"
		"                        a running QEMU guest and its QMP socket\n"
		"  --budget SIZE         host memory the guests share (free = budget - used)\n"
		"  --reserved SIZE       of which held by the hypervisor itself (0)\n"
		"  --config FILE         policy file (key = value, see README.md)\n"
		"  --tick DURATION       decision interval, at most 1d (1s)\n"
		"  --ticks N             stop after N ticks\n"
		"  --duration DURATION   stop after this long\n"
		"  --warmup DURATION     only measure (active memory) this long before the\n"
		"                        first decision, at most 1d (0)\n"
		"  --stats-interval SEC  guest stats polling interval (1)\n"
		"  --seed N              seed of the random page picker (1)\n"
		"  --swap-method M       host swap by the kernel's LRU (lru), by random\n"
		"                        page-out (random), or lru where available (auto)\n"
		"  --cgroup MODE         lru needs QEMU alone in a memory cgroup: use its own\n"
		"                        only when it is (own), or move it into a new child\n"
		"                        cgroup reclaim-NAME when it is not (move) (own)\n"
		"  --state-dir DIR       where each guest it stops is recorded until resumed,\n"
		"                        and a cgroup v1 limit being lowered until restored;\n"
		"                        without a directory of its own it blocks nothing\n"
		"                        (" DEFAULT_STATE_DIR ")\n"
		"  --explain             print every decision\n"
		"  --print-config        print the policy config in force and exit\n"
		"  --trace FILE          write one JSON object per tick to FILE (- for stdout)\n");
}

static int
parse_vm(struct guest *g, char *spec, uint64_t index)
{
	memset(g, 0, sizeof(*g));
	g->id = index + 1;
	g->shares = 1000;
	g->limit = RECLAIM_UNLIMITED;
	g->balloon_cap = RECLAIM_UNLIMITED;
	snprintf(g->name, sizeof(g->name), "vm%" PRIu64, index);
	g->qmp.fd = -1;
	g->record_fd = -1;
	guest_mem_init(&g->mem);

	char *save = NULL;
	for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (eq == NULL)
			goto bad;
		*eq = '\0';
		const char *k = item, *v = eq + 1;
		char *end;
		int ok = 1;
		if (!strcmp(k, "name")) {
			ok = strlen(v) < sizeof(g->name) && strpbrk(v, "\"\\ ") == NULL;
			if (ok)
				snprintf(g->name, sizeof(g->name), "%s", v);
		} else if (!strcmp(k, "qmp")) {
			ok = strlen(v) < sizeof(g->qmp_path);
			if (ok)
				snprintf(g->qmp_path, sizeof(g->qmp_path), "%s", v);
		} else if (!strcmp(k, "shares")) {
			g->shares = strtoull(v, &end, 10);
			ok = *v != '\0' && *end == '\0';
		} else if (!strcmp(k, "id")) {
			g->id = strtoull(v, &end, 10);
			ok = *v != '\0' && *end == '\0';
		} else if (!strcmp(k, "min")) {
			ok = parse_size(&g->reservation, v) == 0;
		} else if (!strcmp(k, "limit")) {
			ok = parse_size(&g->limit, v) == 0;
		} else if (!strcmp(k, "balloon-cap")) {
			ok = parse_size(&g->balloon_cap, v) == 0;
		} else if (!strcmp(k, "guest-swap")) {
			ok = parse_size(&g->guest_swap, v) == 0;
		} else {
			ok = 0;
		}
		if (!ok) {
			fprintf(stderr, "--vm: bad %s=%s\n", k, v);
			return -1;
		}
	}
	if (g->qmp_path[0] == '\0') {
		fprintf(stderr, "--vm: qmp=PATH is required\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "--vm: expected key=value, got '%s'\n", spec);
	return -1;
}

/* The longest tick and warm-up: a day. */
#define DURATION_MAX_NS (86400 * NS_PER_S)

/*
 * The trace file, "-" for stdout. One it creates is readable by others but
 * never writable, whatever the umask. One that exists keeps its mode, and
 * is written only if it is a regular file of ours or a device: root must
 * not truncate a file a link planted by someone else points to, nor wait
 * for ever on their FIFO.
 */
static int
open_trace(struct agent *a, const char *path)
{
	struct stat st;
	int fd;

	if (!strcmp(path, "-")) {
		a->trace = stdout;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0 && fchmod(fd, 0644) != 0) {
		close(fd);
		fd = -1;
	} else if (fd < 0 && errno == EEXIST) {
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) != 0 ||
				!((S_ISREG(st.st_mode) && st.st_uid == geteuid()) ||
				  S_ISCHR(st.st_mode)))) {
			close(fd);
			fprintf(stderr, "%s: not a file of ours, nor a device\n", path);
			return -1;
		}
		if (fd >= 0 && ((S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) ||
				fcntl(fd, F_SETFL, 0) != 0)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		a->trace = fdopen(fd, "w");
	if (a->trace == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

static int
parse_args(struct agent *a, int argc, char **argv)
{
	enum { O_BUDGET = 256, O_RESERVED, O_CONFIG, O_TICK, O_TICKS, O_DURATION, O_WARMUP,
	       O_STATS, O_SEED, O_EXPLAIN, O_TRACE, O_VM, O_PRINT_CONFIG, O_HELP, O_SWAP,
	       O_CGROUP, O_STATE };
	static const struct option opts[] = {
		{"budget", required_argument, NULL, O_BUDGET},
		{"reserved", required_argument, NULL, O_RESERVED},
		{"config", required_argument, NULL, O_CONFIG},
		{"tick", required_argument, NULL, O_TICK},
		{"ticks", required_argument, NULL, O_TICKS},
		{"duration", required_argument, NULL, O_DURATION},
		{"warmup", required_argument, NULL, O_WARMUP},
		{"stats-interval", required_argument, NULL, O_STATS},
		{"seed", required_argument, NULL, O_SEED},
		{"explain", no_argument, NULL, O_EXPLAIN},
		{"trace", required_argument, NULL, O_TRACE},
		{"vm", required_argument, NULL, O_VM},
		{"print-config", no_argument, NULL, O_PRINT_CONFIG},
		{"help", no_argument, NULL, O_HELP},
		{"swap-method", required_argument, NULL, O_SWAP},
		{"cgroup", required_argument, NULL, O_CGROUP},
		{"state-dir", required_argument, NULL, O_STATE},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int print_config = 0;
	int opt;
	char *end;

	a->tick_ns = NS_PER_S;
	a->seed = 1;
	a->state_dir = DEFAULT_STATE_DIR;
	a->state_fd = -1;
	a->stats_interval_s = 1;
	a->guests = calloc((size_t)argc, sizeof(*a->guests));
	if (a->guests == NULL)
		return -1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int ok = 1;
		switch (opt) {
		case O_BUDGET:
			ok = parse_size(&a->budget, optarg) == 0 && a->budget > 0;
			break;
		case O_RESERVED:
			ok = parse_size(&a->reserved, optarg) == 0;
			break;
		case O_CONFIG:
			config = optarg;
			break;
		case O_TICK: /* bounded: tick times must not wrap */
			ok = parse_duration(&a->tick_ns, optarg) == 0 && a->tick_ns > 0 &&
			     a->tick_ns <= DURATION_MAX_NS;
			break;
		case O_TICKS:
			a->max_ticks = strtoull(optarg, &end, 10);
			ok = *optarg != '\0' && *end == '\0';
			break;
		case O_DURATION:
			ok = parse_duration(&a->duration_ns, optarg) == 0;
			break;
		case O_WARMUP:
			ok = parse_duration(&a->warmup_ns, optarg) == 0 &&
			     a->warmup_ns <= DURATION_MAX_NS;
			break;
		case O_STATS: {
			unsigned long v = strtoul(optarg, &end, 10);
			ok = *optarg != '\0' && *end == '\0' && v > 0 && v < 3600;
			a->stats_interval_s = (unsigned)v;
			break;
		}
		case O_SEED:
			a->seed = strtoull(optarg, &end, 0);
			ok = *optarg != '\0' && *end == '\0';
			break;
		case O_EXPLAIN:
			a->explain = 1;
			break;
		case O_TRACE:
			if (open_trace(a, optarg) != 0)
				return -1;
			break;
		case O_VM:
			if (parse_vm(&a->guests[a->n_guests], optarg, a->n_guests) != 0)
				return -1;
			a->n_guests++;
			break;
		case O_PRINT_CONFIG:
			print_config = 1;
			break;
		case O_SWAP:
			ok = host_swap_method_parse(&a->swap_method, optarg) == 0;
			break;
		case O_CGROUP:
			ok = !strcmp(optarg, "own") || !strcmp(optarg, "move");
			a->cgroup_move = !strcmp(optarg, "move");
			break;
		case O_STATE:
			ok = *optarg == '/' && strlen(optarg) < 4000;
			a->state_dir = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (!ok) {
			fprintf(stderr, "bad value for --%s: %s\n", opts[opt - O_BUDGET].name, optarg);
			return -1;
		}
	}
	if (config != NULL) {
		if (policy_config_load(&a->cfg, config, stderr) != 0)
			return -1;
	} else {
		int status = RECLAIM_CONFIG_INIT_DEFAULT(&a->cfg);
		if (status != RECLAIM_OK) {
			fprintf(stderr, "reclaim_config_init: %s\n", reclaim_strerror(status));
			return -1;
		}
	}
	if (print_config) {
		policy_config_print(stdout, &a->cfg);
		exit(0);
	}
	if (optind != argc || a->budget == 0 || a->n_guests == 0) {
		usage(stderr);
		return -1;
	}
	for (size_t i = 0; i < a->n_guests; i++)
		for (size_t j = 0; j < i; j++)
			if (a->guests[i].id == a->guests[j].id) {
				fprintf(stderr, "--vm: %s and %s share id %" PRIu64 "\n",
					a->guests[j].name, a->guests[i].name, a->guests[i].id);
				return -1;
			}
	return 0;
}

/* The tick loop. Returns 0, or 1 when the policy rejected its inputs. */
static int
run(struct agent *a, struct reclaim_vm_stats *vms, struct reclaim_decision *dec)
{
	/* Ticks k < warmup only measure; decisions start after them and the
	 * tick count and duration are counted from the first decision. */
	uint64_t warmup = (a->warmup_ns + a->tick_ns - 1) / a->tick_ns;
	uint64_t base = clock_ns(CLOCK_MONOTONIC);
	a->start_ns = base + warmup * a->tick_ns;
	for (uint64_t k = 0; !stop_requested; k++) {
		int observing = k < warmup;
		uint64_t decided = k - warmup;
		if (!observing && a->max_ticks && decided >= a->max_ticks)
			break;
		if (!observing && a->duration_ns &&
		    clock_ns(CLOCK_MONOTONIC) - a->start_ns >= a->duration_ns)
			break;
		/* A guest we stopped and have not resumed keeps the agent
		 * here, trying. */
		size_t alive = 0, held = a->n_leftovers;
		for (size_t i = 0; i < a->n_guests; i++) {
			alive += a->guests[i].alive;
			held += !a->guests[i].alive && a->guests[i].blocked;
		}
		if (alive == 0 && held == 0) {
			printf("no guests left\n");
			break;
		}
		if (tick(a, vms, dec, observing) != 0)
			return 1;
		uint64_t next = base + (k + 1) * a->tick_ns;
		struct timespec ts = {(time_t)(next / NS_PER_S), (long)(next % NS_PER_S)};
		while (!stop_requested &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return 0;
}

/*
 * Leaving, for one guest: a guest we stopped is resumed through its
 * connection, or a new one if that is gone; the outcome is left in
 * leave_resumed and leave_why (its record is the caller's to forget). The
 * wait is not cut short by the signal that asked us to leave.
 */
static void *
leave_guest(void *arg)
{
	struct guest *g = arg;
	int err = -ENOTCONN;

	g->qmp.cancel = NULL;
	if (g->blocked && !qmp_closed(&g->qmp)) {
		err = resume_checked(&g->qmp, g->resumes_at_stop, g->leave_why,
				     sizeof(g->leave_why));
		g->leave_resumed = err == 0;
	}
	qmp_close(&g->qmp);
	if (g->blocked && !g->leave_resumed && resumed_since_stop(&g->qmp, g->resumes_at_stop)) {
		snprintf(g->leave_why, sizeof(g->leave_why), THEIRS_SINCE ": not ours to resume");
		g->leave_resumed = 1;
	}
	if (g->blocked && !g->leave_resumed &&
	    resume_at(g->qmp_path, g->pid, g->start,
		      err == -ETIMEDOUT ? RESUME_RETRY_MS : QMP_TIMEOUT_MS, g->leave_why,
		      sizeof(g->leave_why)) == 0)
		g->leave_resumed = 1;
	return NULL;
}

static int
guest_blocked(const void *g)
{
	return ((const struct guest *)g)->blocked;
}

/* Every guest at once (a thread for each one we stopped). */
static void
leave_all(struct agent *a)
{
	for (size_t i = 0; i < a->n_guests; i++) {
		a->guests[i].leave_resumed = 0;
		a->guests[i].leave_why[0] = '\0';
	}
	run_at_once(leave_guest, a->guests, a->n_guests, sizeof(a->guests[0]), guest_blocked);
}

int
main(int argc, char **argv)
{
	struct agent a = {0};
	struct reclaim_vm_stats *vms = NULL;
	struct reclaim_decision *dec = NULL;
	int rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(&a, argc, argv) != 0) {
		rc = 2;
		goto out;
	}
	int status = reclaim_policy_new(&a.policy, &a.cfg, a.n_guests);
	if (status != RECLAIM_OK) {
		fprintf(stderr, "reclaim_policy_new: %s\n", reclaim_strerror(status));
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	prepare_state(&a);
	recover_state(&a);
	resume_left_paused(&a);
	/* (A signal here cuts an attach short: then no tick, and exit 0.) */
	for (size_t i = 0; i < a.n_guests && !stop_requested; i++)
		if (guest_attach(&a, &a.guests[i]) != 0 && !stop_requested)
			goto out;
	vms = calloc(a.n_guests, sizeof(*vms));
	dec = calloc(a.n_guests, sizeof(*dec));
	if (vms != NULL && dec != NULL)
		rc = run(&a, vms, dec);

out:
	/* Never leave a guest stopped behind us. One that cannot be resumed
	 * now keeps its record, for the next agent, and the exit status says
	 * so. */
	leave_all(&a);
	for (size_t i = 0; i < a.n_guests; i++) {
		struct guest *g = &a.guests[i];
		if (g->blocked && g->leave_resumed) {
			/* "resumed", or why there was nothing to resume */
			printf("%s: on exit: %s\n", g->name, g->leave_why);
			paused_forget(&a, g);
		} else if (g->blocked) {
			fprintf(stderr, "%s: still stopped (%s); the next agent resumes it\n",
				g->name, g->leave_why);
			if (rc == 0)
				rc = 3;
		}
		if (g->record_fd >= 0)
			close(g->record_fd); /* the record stays, unlocked, for the next agent */
		guest_mem_close(&g->mem);
	}
	if (retry_stopped(&a, 1) && rc == 0)
		rc = 3;
	for (size_t i = 0; i < a.n_leftovers; i++)
		close(a.leftovers[i].fd); /* the record stays, for the next agent */
	free(a.leftovers);
	if (a.state_fd >= 0)
		close(a.state_fd);
	reclaim_policy_destroy(a.policy);
	if (a.trace != NULL && a.trace != stdout)
		fclose(a.trace);
	free(vms);
	free(dec);
	free(a.guests);
	return rc;
}
