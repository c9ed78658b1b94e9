/* SPDX-License-Identifier: MIT */
/*
 * The stream of lines. Parsing JSON is nearly all of reclaimctl's work (a
 * 100-VM line takes jansson ~0.45 ms, the policy ~0.01 ms), and it needs no
 * policy, so worker threads parse lines ahead while one thread decides and
 * writes them in order. The main thread reads. Each line is still answered
 * as soon as it is parsed and decided, so an orchestrator can wait for each
 * answer before writing the next line.
 *
 * Each slot parses into VM arrays of its own, which grow to the most VMs a
 * line in that slot has had: as many lines as there are slots are held at
 * once, and each of them is bounded by --max-line-bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
long_line_error(struct ctl_error *err, size_t max_line)
{
	ctl_error_set(err, CTL_ERR_JSON, "", "line longer than %zu bytes (see --max-line-bytes)",
		      max_line);
}

/* Answers @p out; -1 on failure with *what set. */
static int
flush_answer(struct ctl_buf *out, int out_fd, const char **what)
{
	if (out->oom) {
		errno = ENOMEM;
		*what = "output";
		return -1;
	}
	if (write_all(out_fd, out->data, out->len) < 0) {
		*what = "write";
		return -1;
	}
	out->len = 0;
	return 0;
}

static int
run_serial(struct ctl_session *s, int in_fd, int out_fd, size_t max_line, const char **what)
{
	struct ctl_reader reader;
	struct ctl_buf out = {0};
	uint64_t lineno = 0;
	int rc = 0;

	ctl_reader_init(&reader, in_fd, max_line);
	for (;;) {
		const char *line;
		size_t len;
		int got = ctl_reader_next(&reader, &line, &len);
		if (got == CTL_READ_EOF)
			break;
		if (got == CTL_READ_ERROR) {
			*what = "read";
			rc = -1;
			break;
		}
		lineno++;
		if (got == CTL_READ_LONG) {
			struct ctl_error err;
			long_line_error(&err, max_line);
			ctl_session_error(s, &out, lineno, &err);
			rc = 1;
		} else if (ctl_session_line(s, &out, line, len, lineno) != 0) {
			rc = 1;
		}
		if (flush_answer(&out, out_fd, what) < 0) {
			rc = -1;
			break;
		}
	}
	ctl_reader_free(&reader);
	ctl_buf_free(&out);
	return rc;
}

enum slot_state { SLOT_FREE, SLOT_READ, SLOT_PARSED };

struct slot {
	int state;
	int long_line;
	char *line;
	size_t len;
	size_t cap;
	struct ctl_parsed parsed;
};

struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* any of the counters or flags below */
	struct slot *slots;
	size_t n_slots;
	uint64_t read_seq;   /* lines handed over by the reader */
	uint64_t parse_seq;  /* lines claimed by workers */
	uint64_t answer_seq; /* lines answered */
	int eof;             /* read_seq is final */
	int stop;            /* the decider failed: everyone leaves */
	struct ctl_session *session;
	size_t max_line;
	int out_fd;
	int failed_lines;
	int error;           /* errno of the decider's failure */
	const char *what;
	int wake[2];         /* the decider failed: the reader stops waiting for input */
};

static struct slot *
slot_of(struct pipeline *p, uint64_t seq)
{
	return &p->slots[seq % p->n_slots];
}

static void *
worker(void *arg)
{
	struct pipeline *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !p->eof && p->parse_seq == p->read_seq)
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->stop || p->parse_seq == p->read_seq)
			break;
		struct slot *slot = slot_of(p, p->parse_seq++);
		pthread_mutex_unlock(&p->lock);
		if (slot->long_line) {
			slot->parsed.failed = 1;
			long_line_error(&slot->parsed.err, p->max_line);
		} else {
			ctl_parse_line(&slot->parsed, slot->line, slot->len);
		}
		pthread_mutex_lock(&p->lock);
		slot->state = SLOT_PARSED;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *
decider(void *arg)
{
	struct pipeline *p = arg;
	struct ctl_buf out = {0};

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct slot *slot = slot_of(p, p->answer_seq);
		while (!p->stop && slot->state != SLOT_PARSED &&
		       !(p->eof && p->answer_seq == p->read_seq))
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->stop || slot->state != SLOT_PARSED)
			break;
		pthread_mutex_unlock(&p->lock);
		if (ctl_session_answer(p->session, &out, p->answer_seq + 1, &slot->parsed) != 0)
			p->failed_lines = 1;
		int failed = flush_answer(&out, p->out_fd, &p->what) < 0;
		int error = errno;
		pthread_mutex_lock(&p->lock);
		if (failed) {
			p->stop = 1;
			p->error = error;
			/* The reader may be waiting for input that never comes. */
			if (write(p->wake[1], "", 1) < 0)
				(void)0; /* the pipe is empty: cannot fail */
		}
		slot->state = SLOT_FREE;
		p->answer_seq++;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	ctl_buf_free(&out);
	return NULL;
}

/* Reads into free slots until the end of input; -1 on failure. */
static int
read_lines(struct pipeline *p, int in_fd, const char **what)
{
	struct ctl_reader reader;
	int rc = 0;

	ctl_reader_init(&reader, in_fd, p->max_line);
	reader.wake_fd = p->wake[0];
	for (;;) {
		const char *line = NULL;
		size_t len = 0;
		int got = ctl_reader_next(&reader, &line, &len);
		if (got == CTL_READ_EOF)
			break;
		if (got == CTL_READ_ERROR) {
			*what = "read";
			rc = -1;
			break;
		}
		pthread_mutex_lock(&p->lock);
		while (!p->stop && p->read_seq - p->answer_seq >= p->n_slots)
			pthread_cond_wait(&p->changed, &p->lock);
		int stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		/* The slot is free: nobody else touches it until it is handed over. */
		struct slot *slot = slot_of(p, p->read_seq);
		slot->long_line = got == CTL_READ_LONG;
		slot->len = 0;
		if (!slot->long_line) {
			if (len > slot->cap) {
				char *bigger = realloc(slot->line, len);
				if (!bigger) {
					errno = ENOMEM;
					*what = "input";
					rc = -1;
					break;
				}
				slot->line = bigger;
				slot->cap = len;
			}
			if (len)
				memcpy(slot->line, line, len);
			slot->len = len;
		}
		pthread_mutex_lock(&p->lock);
		slot->state = SLOT_READ;
		p->read_seq++;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	ctl_reader_free(&reader);
	return rc;
}

/*
 * The decider's wake-up pipe, never on 0, 1 or 2: with one of those closed,
 * pipe() would put it there, and the reader would read its own pipe as its
 * input (and wait for ever) instead of failing as the serial path does.
 */
static int
wake_pipe(int fds[2])
{
	if (pipe(fds) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		int err = errno;

		close(fds[i]);
		fds[i] = moved;
		if (moved < 0) {
			if (fds[!i] >= 0)
				close(fds[!i]);
			fds[0] = fds[1] = -1;
			errno = err;
			return -1;
		}
	}
	return 0;
}

static int
run_threads(struct ctl_session *s, int in_fd, int out_fd, size_t max_line, unsigned workers,
	    const char **what)
{
	struct pipeline p = {
		.session = s,
		.max_line = max_line,
		.out_fd = out_fd,
		.n_slots = 4 * ((size_t)workers + 1),
		.wake = {-1, -1},
	};
	pthread_t threads[1 + 64];
	unsigned started = 0;
	int rc = 0;

	if (workers > 64)
		workers = 64;
	p.slots = calloc(p.n_slots, sizeof(*p.slots));
	if (!p.slots)
		goto nomem;
	if (wake_pipe(p.wake) != 0) {
		*what = "setup";
		rc = -1;
		goto out;
	}
	/* jansson seeds its hash function on first use; do it before threads. */
	json_object_seed(0);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	if (pthread_create(&threads[started], NULL, decider, &p) != 0)
		goto no_threads;
	started++;
	for (unsigned i = 0; i < workers; i++) {
		if (pthread_create(&threads[started], NULL, worker, &p) != 0)
			break;
		started++;
	}
	if (started == 1) {
		/* Not one worker: the decider would wait forever. */
		pthread_mutex_lock(&p.lock);
		p.stop = 1;
		pthread_cond_broadcast(&p.changed);
		pthread_mutex_unlock(&p.lock);
		pthread_join(threads[0], NULL);
		goto no_threads;
	}

	if (read_lines(&p, in_fd, what) < 0) {
		rc = -1;
		pthread_mutex_lock(&p.lock);
		p.stop = 1;
	} else {
		pthread_mutex_lock(&p.lock);
		p.eof = 1;
	}
	pthread_cond_broadcast(&p.changed);
	pthread_mutex_unlock(&p.lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (rc == 0 && p.error) {
		errno = p.error;
		*what = p.what;
		rc = -1;
	}
	if (rc == 0)
		rc = p.failed_lines;
	pthread_cond_destroy(&p.changed);
	pthread_mutex_destroy(&p.lock);
	goto out;

no_threads:
	pthread_cond_destroy(&p.changed);
	pthread_mutex_destroy(&p.lock);
	rc = run_serial(s, in_fd, out_fd, max_line, what);
	goto out;
nomem:
	errno = ENOMEM;
	*what = "setup";
	rc = -1;
out:
	if (p.wake[0] >= 0) {
		close(p.wake[0]);
		close(p.wake[1]);
	}
	for (size_t i = 0; p.slots && i < p.n_slots; i++) {
		free(p.slots[i].line);
		ctl_request_free(&p.slots[i].parsed.req);
	}
	free(p.slots);
	return rc;
}

int
ctl_pipeline_run(struct ctl_session *s, int in_fd, int out_fd, size_t max_line,
		 unsigned workers, const char **what)
{
	*what = "";
	if (workers == 0)
		return run_serial(s, in_fd, out_fd, max_line, what);
	return run_threads(s, in_fd, out_fd, max_line, workers, what);
}
