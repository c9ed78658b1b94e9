/* SPDX-License-Identifier: MIT */
/*
 * Input lines straight from read(2): stdio's fread() would wait for a full
 * buffer and deadlock an orchestrator that writes one line and waits for
 * the answer. Lines longer than max_line are skipped, not buffered.
 */
#define _POSIX_C_SOURCE 200809L

#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK ((size_t)64 << 10)

void
ctl_reader_init(struct ctl_reader *r, int fd, size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->wake_fd = -1;
	r->max_line = max_line;
}

void
ctl_reader_free(struct ctl_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
}

/* Room for CHUNK more bytes after the buffered ones, moved to the front. */
static int
make_room(struct ctl_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end >= CHUNK)
		return 0;
	size_t cap = r->cap ? r->cap : CHUNK;
	while (cap - r->end < CHUNK)
		cap *= 2;
	char *buf = realloc(r->buf, cap);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	r->buf = buf;
	r->cap = cap;
	return 0;
}

int
ctl_reader_next(struct ctl_reader *r, const char **line, size_t *len)
{
	size_t scanned = r->start;

	for (;;) {
		char *nl = r->end > scanned ? memchr(r->buf + scanned, '\n', r->end - scanned)
					    : NULL;
		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->start));
			int skipping = r->skipping;
			*line = r->buf + r->start;
			*len = n;
			r->start += n + 1;
			r->skipping = 0;
			return (skipping || n > r->max_line) ? CTL_READ_LONG : CTL_READ_LINE;
		}
		scanned = r->end;
		if (r->end - r->start > r->max_line) {
			/* Drop what we have; the rest goes when its newline comes. */
			r->skipping = 1;
			r->start = r->end = scanned = 0;
		}
		if (r->eof) {
			int skipping = r->skipping;
			size_t n = r->end - r->start;
			r->skipping = 0;
			if (skipping)
				return CTL_READ_LONG;
			if (n == 0)
				return CTL_READ_EOF;
			/* A last line without its newline. */
			*line = r->buf + r->start;
			*len = n;
			r->start = r->end;
			return CTL_READ_LINE;
		}
		size_t offset = scanned - r->start;
		if (make_room(r) < 0)
			return CTL_READ_ERROR;
		scanned = r->start + offset;
		ssize_t got;
		if (r->wake_fd >= 0) {
			/* Input, or word that nobody wants it any more. */
			struct pollfd pf[2] = {{.fd = r->fd, .events = POLLIN},
					       {.fd = r->wake_fd, .events = POLLIN}};
			int n;
			do
				n = poll(pf, 2, -1);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return CTL_READ_ERROR;
			if (pf[1].revents)
				return CTL_READ_EOF;
		}
		do
			got = read(r->fd, r->buf + r->end, r->cap - r->end);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return CTL_READ_ERROR;
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}
