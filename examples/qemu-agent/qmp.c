/* SPDX-License-Identifier: MIT */
/*
 * A small synchronous QMP client. QMP is one JSON object per line over a
 * socket; replies carry the "id" of their command, and asynchronous events
 * ({"event": ...}) may arrive in between and are skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

/* A line longer than this is not QMP talking: drop the connection. */
#define QMP_MAX_LINE (1u << 20)
/* With a cancel flag, a wait looks at it at least this often: a signal
 * that lands just before poll() does not wait out the command's timeout. */
#define QMP_CANCEL_POLL_MS 100

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
qmp_fail(struct qmp *q, int err, const char *what)
{
	char text[128];

	/* (GNU strerror_r: leaving resumes guests in threads of their own) */
	snprintf(q->error, sizeof(q->error), "%s: %s", what, strerror_r(err, text, sizeof(text)));
	if (err != ETIMEDOUT && err != EIO && err != ECANCELED)
		qmp_close(q);
	return -err;
}

/* Receives until a full line is buffered or @p deadline (ms) passes; then
 * parses that line into *msg. */
static int
qmp_read_message(struct qmp *q, json_t **msg, int64_t deadline)
{
	for (;;) {
		/* Nothing received yet: buf may still be NULL. */
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl != NULL) {
			size_t line = (size_t)(nl - q->buf) + 1;
			json_error_t jerr;
			/* Integers as reals: QEMU prints UINT64_MAX for missing
			 * guest stats, which jansson's integers cannot hold. */
			*msg = json_loadb(q->buf, line - 1, JSON_DECODE_INT_AS_REAL, &jerr);
			memmove(q->buf, q->buf + line, q->len - line);
			q->len -= line;
			if (*msg == NULL || !json_is_object(*msg)) {
				json_decref(*msg);
				return qmp_fail(q, EPROTO, "bad QMP message");
			}
			return 0;
		}
		if (q->len >= QMP_MAX_LINE)
			return qmp_fail(q, EPROTO, "QMP line too long");
		if (q->cap - q->len < 4096) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *buf = realloc(q->buf, cap);
			if (buf == NULL)
				return qmp_fail(q, ENOMEM, "QMP buffer");
			q->buf = buf;
			q->cap = cap;
		}
		int64_t left = deadline - monotonic_ms();
		if (q->cancel != NULL && *q->cancel)
			return qmp_fail(q, ECANCELED, "QMP reply");
		if (left <= 0)
			return qmp_fail(q, ETIMEDOUT, "QMP reply");
		if (q->cancel != NULL && left > QMP_CANCEL_POLL_MS)
			left = QMP_CANCEL_POLL_MS;
		struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return qmp_fail(q, errno, "poll");
		if (r == 0)
			continue;
		ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return qmp_fail(q, errno, "recv");
		if (n == 0)
			return qmp_fail(q, ECONNRESET, "QMP connection closed");
		q->len += (size_t)n;
	}
}

static int
qmp_send(struct qmp *q, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (text == NULL)
		return qmp_fail(q, ENOMEM, "QMP command");
	size_t len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; not a string any more */
	size_t off = 0;
	int err = 0;
	while (off < len + 1) {
		ssize_t n = send(q->fd, text + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		off += (size_t)n;
	}
	free(text);
	return err ? qmp_fail(q, err, "send") : 0;
}

int
qmp_execute(struct qmp *q, json_t **ret, const char *command, json_t *args)
{
	if (q->fd < 0)
		return -ENOTCONN;
	if (q->cancel != NULL && *q->cancel)
		return qmp_fail(q, ECANCELED, command);
	uint64_t id = q->next_id++;
	json_t *cmd = json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)id);
	if (cmd == NULL)
		return qmp_fail(q, ENOMEM, "QMP command");
	if (args != NULL)
		json_object_set(cmd, "arguments", args);
	int err = qmp_send(q, cmd);
	json_decref(cmd);
	if (err)
		return err;

	int64_t deadline = monotonic_ms() + q->timeout_ms;
	for (;;) {
		json_t *msg;
		err = qmp_read_message(q, &msg, deadline);
		if (err)
			return err;
		uint64_t got;
		if (json_get_u64(&got, json_object_get(msg, "id")) != 0 || got != id) {
			const char *event = json_string_value(json_object_get(msg, "event"));

			if (event != NULL && !strcmp(event, "RESUME"))
				q->resumes++;
			json_decref(msg); /* an event, or a reply we gave up on */
			continue;
		}
		json_t *error = json_object_get(msg, "error");
		if (error != NULL) {
			const char *desc = json_string_value(json_object_get(error, "desc"));
			snprintf(q->error, sizeof(q->error), "%s: %s", command,
				 desc ? desc : "error");
			/* QEMU's text goes to the log: no line or escape of its own. */
			for (char *c = q->error; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			json_decref(msg);
			return -EIO;
		}
		if (ret != NULL) {
			*ret = json_incref(json_object_get(msg, "return"));
			if (*ret == NULL)
				*ret = json_object();
		}
		json_decref(msg);
		return 0;
	}
}

int
qmp_open(struct qmp *q, const char *path, int timeout_ms, const volatile sig_atomic_t *cancel)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->next_id = 1;
	q->timeout_ms = timeout_ms;
	q->cancel = cancel;

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path))
		return qmp_fail(q, ENAMETOOLONG, path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* Not blocking: a QEMU that stopped accepting (its monitor busy with
	 * another client, a full backlog) would hold a blocking connect()
	 * forever. A unix socket says EAGAIN then: retried until the timeout. */
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return qmp_fail(q, errno, "socket");
	int64_t deadline = monotonic_ms() + timeout_ms;
	while (connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (errno != EAGAIN && errno != EINTR)
			return qmp_fail(q, errno, path);
		if (cancel != NULL && *cancel) {
			int err = qmp_fail(q, ECANCELED, path);
			qmp_close(q);
			return err;
		}
		if (monotonic_ms() >= deadline) {
			int err = qmp_fail(q, ETIMEDOUT, path);
			qmp_close(q);
			return err;
		}
		poll(NULL, 0, 20);
	}
	int flags = fcntl(q->fd, F_GETFL);
	if (flags < 0 || fcntl(q->fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		return qmp_fail(q, errno, "fcntl");

	json_t *greeting;
	int err = qmp_read_message(q, &greeting, monotonic_ms() + timeout_ms);
	if (err == 0) {
		if (json_object_get(greeting, "QMP") == NULL)
			err = qmp_fail(q, EPROTO, "no QMP greeting");
		json_decref(greeting);
	}
	if (err == 0)
		err = qmp_execute(q, NULL, "qmp_capabilities", NULL);
	if (err)
		qmp_close(q);
	return err;
}

void
qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	q->len = 0;
	q->cap = 0;
}

int
qmp_closed(const struct qmp *q)
{
	return q->fd < 0;
}

pid_t
qmp_peer_pid(const struct qmp *q)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	return cred.pid;
}

int
qmp_run_state(struct qmp *q, char *state, size_t len)
{
	json_t *ret = NULL;
	int err = qmp_execute(q, &ret, "query-status", NULL);

	if (err)
		return err;
	const char *s = json_string_value(json_object_get(ret, "status"));
	if (s == NULL || *s == '\0' || strlen(s) >= len ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz-") != strlen(s)) {
		json_decref(ret);
		snprintf(q->error, sizeof(q->error), "query-status: no run state in the reply");
		return -EPROTO;
	}
	snprintf(state, len, "%s", s);
	json_decref(ret);
	return 0;
}

uint64_t
proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name, which may hold anything, ")" last: the
	 * start time is field 22, the 20th after it. */
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
				 "%*d %*d %*d %*d %*d %llu", &start) != 1)
		return 0;
	return start;
}

int
json_get_u64(uint64_t *out, const json_t *value)
{
	double v;

	if (json_is_integer(value)) {
		json_int_t i = json_integer_value(value);
		if (i < 0)
			return -1;
		*out = (uint64_t)i;
		return 0;
	}
	if (!json_is_real(value))
		return -1;
	v = json_real_value(value);
	/* UINT64_MAX rounds to 2^64 as a double; anything that close to it is
	 * QEMU's "not available". */
	if (!(v >= 0.0) || v >= 18446744073709549568.0 || v != floor(v))
		return -1;
	*out = (uint64_t)v;
	return 0;
}
